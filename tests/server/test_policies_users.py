"""Managed policies, users, access keys and groups over the wire.

AWS references: https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreatePolicyVersion.html
(at most five versions), API_DeletePolicy.html, API_CreateAccessKey.html (the secret is
returned only at creation; two keys per user), API_GetUser.html (no name: the caller),
reference_iam-quotas.html (PolicySize 6144).
"""
from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from .conftest import Server, unique
from .test_roles import READ, error

WRITE = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}]}


def test_policy_versions(iam, server: Server) -> None:
    name = unique("pol")
    policy = iam.create_policy(PolicyName=name, Path="/team/", PolicyDocument=json.dumps(READ), Description="d")["Policy"]
    arn = policy["Arn"]
    assert arn == f"arn:aws:iam::{server.account}:policy/team/{name}"
    assert policy["DefaultVersionId"] == "v1" and policy["AttachmentCount"] == 0
    for i in range(4):
        v = iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(WRITE), SetAsDefault=(i == 1))["PolicyVersion"]
        assert v["VersionId"] == f"v{i + 2}"
    with pytest.raises(ClientError) as exc:
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(WRITE))
    assert error(exc)[:2] == ("LimitExceeded", 409)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v3"
    assert iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]["Document"] == READ
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert [v["VersionId"] for v in versions] == ["v5", "v4", "v3", "v2", "v1"]
    assert [v["IsDefaultVersion"] for v in versions] == [False, False, True, False, False]
    with pytest.raises(ClientError) as exc:
        iam.delete_policy_version(PolicyArn=arn, VersionId="v3")
    assert error(exc)[0] == "DeleteConflict"
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v1")
    # a policy with non-default versions cannot be deleted
    with pytest.raises(ClientError) as exc:
        iam.delete_policy(PolicyArn=arn)
    assert error(exc)[0] == "DeleteConflict"
    for v in ("v2", "v3", "v4", "v5"):
        iam.delete_policy_version(PolicyArn=arn, VersionId=v)
    role = unique("r")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
    iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1
    assert arn in [p["Arn"] for p in iam.list_policies(Scope="Local", OnlyAttached=True)["Policies"]]
    assert iam.list_entities_for_policy(PolicyArn=arn)["PolicyRoles"][0]["RoleName"] == role
    with pytest.raises(ClientError) as exc:
        iam.delete_policy(PolicyArn=arn)
    assert error(exc)[0] == "DeleteConflict"
    iam.detach_role_policy(RoleName=role, PolicyArn=arn)
    iam.delete_policy(PolicyArn=arn)
    with pytest.raises(ClientError) as exc:
        iam.get_policy(PolicyArn=arn)
    assert error(exc)[:2] == ("NoSuchEntity", 404)


def test_policy_document_rules(iam) -> None:
    with pytest.raises(ClientError) as exc:
        iam.create_policy(PolicyName=unique("p"), PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "GetObject", "Resource": "*"}]}))
    assert error(exc) == ("MalformedPolicyDocument", 400, "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")
    with pytest.raises(ClientError) as exc:
        iam.create_policy(PolicyName=unique("p"), PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}]}))
    assert error(exc) == ("MalformedPolicyDocument", 400, "Policy document should not specify a principal.")
    huge = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": [f"s3:Get{i:05d}" for i in range(600)], "Resource": "*"}]}
    with pytest.raises(ClientError) as exc:
        iam.create_policy(PolicyName=unique("p"), PolicyDocument=json.dumps(huge))
    assert error(exc)[:2] == ("LimitExceeded", 409)
    name = unique("p")
    iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(READ))
    with pytest.raises(ClientError) as exc:
        iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(READ))
    assert error(exc)[:2] == ("EntityAlreadyExists", 409)
    # the AWS managed policies exist and cannot be changed
    admin = iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")["Policy"]
    assert admin["PolicyName"] == "AdministratorAccess"


def test_users_and_access_keys(iam, server: Server) -> None:
    name = unique("alice")
    user = iam.create_user(UserName=name, Path="/staff/", Tags=[{"Key": "team", "Value": "blue"}])["User"]
    assert user["Arn"] == f"arn:aws:iam::{server.account}:user/staff/{name}" and user["UserId"].startswith("AIDA")
    key = iam.create_access_key(UserName=name)["AccessKey"]
    assert key["AccessKeyId"].startswith("AKIA") and len(key["SecretAccessKey"]) == 40 and key["Status"] == "Active"
    listed = iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in listed] == [key["AccessKeyId"]]
    assert "SecretAccessKey" not in listed[0]  # the secret is shown once
    iam.create_access_key(UserName=name)
    with pytest.raises(ClientError) as exc:
        iam.create_access_key(UserName=name)
    assert error(exc)[:2] == ("LimitExceeded", 409)

    # the new key works, and GetUser with no name answers for the caller
    mine = server.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError) as exc:
        mine.get_user()
    assert error(exc)[0] == "AccessDenied"
    iam.put_user_policy(UserName=name, PolicyName="self", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:GetUser", "Resource": "arn:aws:iam::*:user/staff/${aws:username}"}]}))
    assert mine.get_user()["User"]["UserName"] == name

    # an Inactive key stops working at once
    iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    with pytest.raises(ClientError) as exc:
        mine.get_user()
    assert error(exc)[:2] == ("InvalidClientTokenId", 403)
    iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Active")
    assert mine.get_user()["User"]["UserName"] == name
    last = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])
    assert last["UserName"] == name

    with pytest.raises(ClientError) as exc:
        iam.delete_user(UserName=name)
    assert error(exc)[0] == "DeleteConflict"
    for k in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
        iam.delete_access_key(UserName=name, AccessKeyId=k["AccessKeyId"])
    with pytest.raises(ClientError) as exc:
        mine.get_user()
    assert error(exc)[:2] == ("InvalidClientTokenId", 403)
    iam.delete_user_policy(UserName=name, PolicyName="self")
    iam.delete_user(UserName=name)


def test_groups_grant_permissions(iam, server: Server) -> None:
    user, group = unique("bob"), unique("devs")
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    bob = server.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    iam.create_group(GroupName=group)
    iam.put_group_policy(GroupName=group, PolicyName="list", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:ListRoles", "Resource": "*"}]}))
    with pytest.raises(ClientError) as exc:
        bob.list_roles()
    assert error(exc)[0] == "AccessDenied"
    iam.add_user_to_group(GroupName=group, UserName=user)
    bob.list_roles()
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName=user)["Groups"]] == [group]
    assert [u["UserName"] for u in iam.get_group(GroupName=group)["Users"]] == [user]
    with pytest.raises(ClientError) as exc:
        iam.delete_group(GroupName=group)
    assert error(exc)[0] == "DeleteConflict"
    iam.remove_user_from_group(GroupName=group, UserName=user)
    with pytest.raises(ClientError) as exc:
        bob.list_roles()
    assert error(exc)[0] == "AccessDenied"


def test_account_authorization_details(iam) -> None:
    role = unique("r")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
    iam.put_role_policy(RoleName=role, PolicyName="read", PolicyDocument=json.dumps(READ))
    details = iam.get_account_authorization_details(Filter=["Role"])
    mine = [r for r in details["RoleDetailList"] if r["RoleName"] == role]
    assert mine and mine[0]["RolePolicyList"] == [{"PolicyName": "read", "PolicyDocument": READ}]


def test_policy_usage_counts_and_filters(iam, server: Server) -> None:
    """https://docs.aws.amazon.com/IAM/latest/APIReference/API_ListPolicies.html: OnlyAttached lists policies attached to
    a user, group or role; PolicyUsageFilter PermissionsPolicy / PermissionsBoundary lists those in use as permissions
    policies / as permissions boundaries. API_Policy.html: AttachmentCount and PermissionsBoundaryUsageCount."""
    prefix = f"/{unique('usage')}/"
    doc = json.dumps(READ)
    perm = iam.create_policy(PolicyName=unique("perm"), Path=prefix, PolicyDocument=doc)["Policy"]["Arn"]
    bound = iam.create_policy(PolicyName=unique("bound"), Path=prefix, PolicyDocument=doc)["Policy"]["Arn"]
    idle = iam.create_policy(PolicyName=unique("idle"), Path=prefix, PolicyDocument=doc)["Policy"]["Arn"]
    user, role = unique("u"), unique("r")
    iam.create_user(UserName=user, PermissionsBoundary=bound)
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{server.account}:root"}, "Action": "sts:AssumeRole"}]}))
    iam.put_role_permissions_boundary(RoleName=role, PermissionsBoundary=bound)
    iam.attach_user_policy(UserName=user, PolicyArn=perm)

    got = {p["Arn"]: p for p in iam.list_policies(Scope="Local", PathPrefix=prefix)["Policies"]}
    assert (got[perm]["AttachmentCount"], got[perm]["PermissionsBoundaryUsageCount"]) == (1, 0)
    assert (got[bound]["AttachmentCount"], got[bound]["PermissionsBoundaryUsageCount"]) == (0, 2)
    assert (got[idle]["AttachmentCount"], got[idle]["PermissionsBoundaryUsageCount"]) == (0, 0)
    assert iam.get_policy(PolicyArn=bound)["Policy"]["PermissionsBoundaryUsageCount"] == 2

    def names(**kw: str | bool) -> set[str]:
        return {p["Arn"] for p in iam.list_policies(Scope="Local", PathPrefix=prefix, **kw)["Policies"]}

    assert names(OnlyAttached=True) == {perm}
    assert names(PolicyUsageFilter="PermissionsPolicy") == {perm}
    assert names(PolicyUsageFilter="PermissionsBoundary") == {bound}
    iam.delete_role_permissions_boundary(RoleName=role)
    assert iam.get_policy(PolicyArn=bound)["Policy"]["PermissionsBoundaryUsageCount"] == 1
