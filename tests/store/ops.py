"""Calling IAM operations on a store directly (as the account root: no authorisation), for store-level tests."""
from __future__ import annotations

import uuid
from typing import Any

import iamroles.iam  # noqa: F401  (registers the operations)
from iamroles.auth.caller import Caller
from iamroles.iam.context import CallContext
from iamroles.iam.registry import OPERATIONS
from iamroles.policy.request import Principal, PrincipalType
from iamroles.store import Role, Store, User
from iamroles.tokens import MasterKey

from .conftest import NOW

TRUST = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
_KEY = MasterKey(bytes(range(32)))


def call(store: Store, account: str, operation: str, **inp: Any) -> dict[str, Any]:
    op = OPERATIONS[("iam", operation)]
    caller = Caller(Principal(PrincipalType.ACCOUNT, arn=f"arn:aws:iam::{account}:root", account=account), account, "aws", "AKIA")
    with store.write() if op.write else store.read() as tx:
        return op.func(CallContext(caller, tx, NOW, "us-east-1", _KEY), inp) or {}


def role(account: str, name: str, path: str = "/") -> Role:
    return Role(account, name, "AROA" + uuid.uuid4().hex[:17].upper(), path, f"arn:aws:iam::{account}:role{path}{name}", NOW,
                trust_policy=TRUST)


def user(account: str, name: str, path: str = "/") -> User:
    return User(account, name, "AIDA" + uuid.uuid4().hex[:17].upper(), path, f"arn:aws:iam::{account}:user{path}{name}", NOW)


def insert_roles(store: Store, account: str, names: list[str], path: str = "/") -> None:
    with store.write() as tx:
        for name in names:
            tx.insert_entity("role", role(account, name, path))


def list_all(store: Store, account: str, operation: str, field: str, name: str, between: Any = None, **inp: Any) -> list[str]:
    """Every item a listing gives, following its Markers; ``between(page)`` runs after each page."""
    seen: list[str] = []
    marker: str | None = None
    while True:
        out = call(store, account, operation, **inp, **({"Marker": marker} if marker else {}))
        seen += [item[name] if isinstance(item, dict) else item for item in out[field]]
        if between is not None:
            between(len(seen))
        if not out["IsTruncated"]:
            assert "Marker" not in out
            return seen
        marker = out["Marker"]
