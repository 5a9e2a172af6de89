"""Renaming a user or group needs the permission on the new name as well as the old one: "the requester must have
appropriate permissions on both the source object and the target object. For example, to change Bob to Robert,
the entity making the request must have permission on Bob and Robert, or must have permission on all (*)"
(https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateUser.html, API_UpdateGroup.html)."""
from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from .conftest import World, allow, policy, unique


@pytest.mark.parametrize("kind", ["user", "group"])
def test_a_rename_needs_the_permission_on_the_target_too(world: World, kind: str) -> None:
    admin = world.admin_iam()
    old, new, other = unique("bob"), unique("robert"), unique("mallory")
    word = kind.capitalize()
    getattr(admin, f"create_{kind}")(**{f"{word}Name": old})
    arn = f"arn:aws:iam::{world.account}:{kind}/"
    caller = world.user(policy(allow(f"iam:Update{word}", [arn + old, arn + new])))
    update = getattr(caller.iam, f"update_{kind}")
    # a name the caller has no permission on: refused, nothing renamed
    with pytest.raises(ClientError) as err:
        update(**{f"{word}Name": old, f"New{word}Name": other})
    assert err.value.response["Error"]["Code"] == "AccessDenied"
    assert f"{kind}/{other}" in err.value.response["Error"]["Message"]
    getattr(admin, f"get_{kind}")(**{f"{word}Name": old})
    # a path change is a new ARN as well
    with pytest.raises(ClientError) as err:
        update(**{f"{word}Name": old, "NewPath": "/elsewhere/"})
    assert err.value.response["Error"]["Code"] == "AccessDenied"
    # allowed on both: renamed
    update(**{f"{word}Name": old, f"New{word}Name": new})
    getattr(admin, f"get_{kind}")(**{f"{word}Name": new})
