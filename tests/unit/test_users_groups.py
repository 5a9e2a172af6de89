"""Users, their access keys, and groups, called directly on the runtime's service.

AWS behaviour: two access keys per user, the secret given once (API_CreateAccessKey.html, reference_iam-quotas.html);
an Inactive or deleted key no longer signs anything (id_credentials_access-keys.html); a user with keys, policies
or groups cannot be deleted (API_DeleteUser.html); a user is in at most 10 groups (reference_iam-quotas.html); a
group with members cannot be deleted (API_DeleteGroup.html); a group's policies apply to its members
(id_groups.html).
"""
from __future__ import annotations

import json

from iamroles.errors import InvalidClientTokenId
from iamroles.runtime import Service

from .conftest import Account, Client
from .helpers import allow, doc, refused


def test_access_keys(account: Account) -> None:
    root = account.root
    root("CreateUser", UserName="u")
    first = root("CreateAccessKey", UserName="u")["AccessKey"]
    assert first["AccessKeyId"].startswith("AKIA") and len(first["SecretAccessKey"]) == 40 and first["Status"] == "Active"
    root("CreateAccessKey", UserName="u")
    refused("LimitExceeded", lambda: root("CreateAccessKey", UserName="u"), 409)
    listed = root("ListAccessKeys", UserName="u")["AccessKeyMetadata"]
    assert len(listed) == 2 and first["SecretAccessKey"] not in json.dumps(listed, default=str)  # the secret, once
    refused("NoSuchEntity", lambda: root("CreateAccessKey", UserName="nobody"))


def test_an_inactive_or_deleted_key_signs_nothing(account: Account) -> None:
    root = account.root
    root("CreateUser", UserName="u")
    root("PutUserPolicy", UserName="u", PolicyName="p", PolicyDocument=doc(allow("iam:GetUser")))
    key = root.key("u")
    assert key("GetUser", UserName="u")["User"]["UserName"] == "u"
    root("UpdateAccessKey", UserName="u", AccessKeyId=key.access_key_id, Status="Inactive")
    refused("InvalidClientTokenId", lambda: key("GetUser", UserName="u"), 403)
    root("UpdateAccessKey", UserName="u", AccessKeyId=key.access_key_id, Status="Active")
    assert key("GetUser", UserName="u")
    root("DeleteAccessKey", UserName="u", AccessKeyId=key.access_key_id)
    assert isinstance(refused("InvalidClientTokenId", lambda: key("GetUser", UserName="u")), InvalidClientTokenId)
    refused("NoSuchEntity", lambda: root("DeleteAccessKey", UserName="u", AccessKeyId=key.access_key_id))


def test_a_user_with_keys_policies_or_groups_cannot_be_deleted(account: Account) -> None:
    root = account.root
    root("CreateUser", UserName="u")
    key = root.key("u")
    refused("DeleteConflict", lambda: root("DeleteUser", UserName="u"), 409)
    root("DeleteAccessKey", UserName="u", AccessKeyId=key.access_key_id)
    root("CreateGroup", GroupName="g")
    root("AddUserToGroup", GroupName="g", UserName="u")
    refused("DeleteConflict", lambda: root("DeleteUser", UserName="u"))
    refused("DeleteConflict", lambda: root("DeleteGroup", GroupName="g"))  # nor a group with members
    root("RemoveUserFromGroup", GroupName="g", UserName="u")
    root("PutUserPolicy", UserName="u", PolicyName="p", PolicyDocument=doc(allow("s3:GetObject")))
    refused("DeleteConflict", lambda: root("DeleteUser", UserName="u"))
    root("DeleteUserPolicy", UserName="u", PolicyName="p")
    root("DeleteUser", UserName="u")
    root("DeleteGroup", GroupName="g")
    refused("NoSuchEntity", lambda: root("GetUser", UserName="u"))


def test_groups_per_user_and_what_members_get(account: Account) -> None:
    root = account.root
    root("CreateUser", UserName="u")
    member = root.key("u")
    for i in range(11):
        root("CreateGroup", GroupName=f"g{i}")
    root("PutGroupPolicy", GroupName="g0", PolicyName="list", PolicyDocument=doc(allow("iam:ListGroups")))
    refused("AccessDenied", lambda: member("ListGroups"))
    for i in range(10):
        root("AddUserToGroup", GroupName=f"g{i}", UserName="u")
    root("AddUserToGroup", GroupName="g0", UserName="u")  # again: nothing changes
    err = refused("LimitExceeded", lambda: root("AddUserToGroup", GroupName="g10", UserName="u"))
    assert err.message == "Cannot exceed quota for GroupsPerUser: 10"
    assert len(member("ListGroups")["Groups"]) == 11  # the group's policy is the member's
    assert len(root("ListGroupsForUser", UserName="u")["Groups"]) == 10
    assert [u["UserName"] for u in root("GetGroup", GroupName="g0")["Users"]] == ["u"]
    root("RemoveUserFromGroup", GroupName="g0", UserName="u")
    refused("AccessDenied", lambda: member("ListGroups"))
    refused("NoSuchEntity", lambda: root("RemoveUserFromGroup", GroupName="nope", UserName="u"))


def test_inline_policy_size_of_a_user(account: Account) -> None:
    root = account.root
    root("CreateUser", UserName="u")
    document = doc(allow([f"s3:Action{i:03d}" for i in range(140)]))
    assert len(document.replace(" ", "")) > 2048  # over the quota without its white space
    refused("LimitExceeded", lambda: root("PutUserPolicy", UserName="u", PolicyName="p", PolicyDocument=document))
    refused("NoSuchEntity", lambda: root("GetUserPolicy", UserName="u", PolicyName="p"))


def test_a_user_is_renamed_with_its_keys(account: Account, service: Service) -> None:
    root = account.root
    root("CreateUser", UserName="before")
    root("PutUserPolicy", UserName="before", PolicyName="p", PolicyDocument=doc(allow("iam:GetUser")))
    key = root.key("before")
    root("UpdateUser", UserName="before", NewUserName="after", NewPath="/moved/")
    me = key("GetUser")["User"]  # no UserName: the caller itself
    assert (me["UserName"], me["Arn"]) == ("after", account.arn("user/moved/after"))
    assert Client(service, key.access_key_id).caller.principal.arn == account.arn("user/moved/after")
    refused("NoSuchEntity", lambda: root("GetUser", UserName="before"))
