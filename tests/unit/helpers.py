"""Documents and assertions the unit tests share."""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from iamroles.errors import AwsError


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def trust(principal: dict[str, Any], action: str | list[str] = "sts:AssumeRole", **extra: Any) -> str:
    return doc({"Effect": "Allow", "Principal": principal, "Action": action, **extra})


def refused(code: str, call: Callable[[], Any], status: int | None = None) -> AwsError:
    """``call`` raises the AWS error ``code`` (its HTTP status too, when given)."""
    with pytest.raises(AwsError) as err:
        call()
    assert err.value.code == code, (err.value.code, err.value.message)
    if status is not None:
        assert err.value.status == status
    return err.value
