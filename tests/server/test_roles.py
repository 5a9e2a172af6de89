"""Roles over the wire: boto3 signing real requests against a real server.

AWS references: IAM API Reference (CreateRole, GetRole, ListRoles, UpdateRole,
UpdateAssumeRolePolicy, DeleteRole, Tag/UntagRole, Put/Get/List/DeleteRolePolicy,
Attach/DetachRolePolicy, Put/DeleteRolePermissionsBoundary):
https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html and siblings;
quotas: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
"""
from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from .conftest import Server, unique

TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
READ = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    r = exc.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Message"]


def test_role_lifecycle(iam, server: Server) -> None:
    name = unique("app")
    created = iam.create_role(RoleName=name, Path="/service/", AssumeRolePolicyDocument=json.dumps(TRUST),
                              Description="web tier", MaxSessionDuration=7200, Tags=[{"Key": "team", "Value": "blue"}])["Role"]
    assert created["Arn"] == f"arn:aws:iam::{server.account}:role/service/{name}"
    assert created["RoleId"].startswith("AROA") and len(created["RoleId"]) == 21
    assert created["AssumeRolePolicyDocument"] == TRUST  # boto3 URL-decodes and parses the document, as from AWS

    got = iam.get_role(RoleName=name.upper())["Role"]  # names are case-insensitive
    assert got["RoleName"] == name and got["MaxSessionDuration"] == 7200 and got["Description"] == "web tier"
    assert got["Tags"] == [{"Key": "team", "Value": "blue"}]

    assert name in [r["RoleName"] for r in iam.list_roles(PathPrefix="/service/")["Roles"]]
    assert name not in [r["RoleName"] for r in iam.list_roles(PathPrefix="/other/")["Roles"]]

    iam.update_role(RoleName=name, MaxSessionDuration=3600)
    assert iam.update_role_description(RoleName=name, Description="new")["Role"]["Description"] == "new"
    trust2 = {**TRUST, "Statement": [{**TRUST["Statement"][0], "Principal": {"Service": "lambda.amazonaws.com"}}]}
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust2))
    assert iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"] == trust2

    iam.tag_role(RoleName=name, Tags=[{"Key": "env", "Value": "prod"}, {"Key": "TEAM", "Value": "red"}])
    assert iam.list_role_tags(RoleName=name)["Tags"] == [{"Key": "env", "Value": "prod"}, {"Key": "TEAM", "Value": "red"}]
    iam.untag_role(RoleName=name, TagKeys=["env"])
    assert iam.list_role_tags(RoleName=name)["Tags"] == [{"Key": "TEAM", "Value": "red"}]

    iam.put_role_policy(RoleName=name, PolicyName="read", PolicyDocument=json.dumps(READ))
    assert iam.get_role_policy(RoleName=name, PolicyName="read")["PolicyDocument"] == READ
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == ["read"]

    arn = iam.create_policy(PolicyName=unique("p"), PolicyDocument=json.dumps(READ))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=name, PolicyArn=arn)
    assert [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]] == [arn]
    iam.put_role_permissions_boundary(RoleName=name, PermissionsBoundary=arn)
    assert iam.get_role(RoleName=name)["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == arn

    # DeleteConflict while policies are attached or inline (API_DeleteRole.html)
    with pytest.raises(ClientError) as exc:
        iam.delete_role(RoleName=name)
    assert error(exc)[:2] == ("DeleteConflict", 409)
    iam.delete_role_policy(RoleName=name, PolicyName="read")
    with pytest.raises(ClientError) as exc:
        iam.delete_role(RoleName=name)
    assert error(exc)[0] == "DeleteConflict"
    iam.detach_role_policy(RoleName=name, PolicyArn=arn)
    iam.delete_role_permissions_boundary(RoleName=name)
    iam.delete_role(RoleName=name)
    with pytest.raises(ClientError) as exc:
        iam.get_role(RoleName=name)
    assert error(exc) == ("NoSuchEntity", 404, f"The role with name {name} cannot be found.")


def test_create_role_errors(iam, server: Server) -> None:
    name = unique("dup")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName=name.upper(), AssumeRolePolicyDocument=json.dumps(TRUST))
    assert error(exc) == ("EntityAlreadyExists", 409, f"Role with name {name.upper()} already exists.")

    # roleNameType pattern [\w+=,.@-]+ (API_CreateRole.html#API_CreateRole_RequestParameters)
    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName="bad name!", AssumeRolePolicyDocument=json.dumps(TRUST))
    code, status, message = error(exc)
    assert (code, status) == ("ValidationError", 400)
    assert "roleName" in message and "regular expression pattern" in message

    # MaxSessionDuration 3600..43200 (boto3 checks it too; the server must as well)
    with pytest.raises(ClientError) as exc:
        server.client("iam", validate=False).create_role(RoleName=unique("r"), AssumeRolePolicyDocument=json.dumps(TRUST), MaxSessionDuration=100)
    code, status, message = error(exc)
    assert (code, status) == ("ValidationError", 400) and "maxSessionDuration" in message

    # a trust policy is validated as one: no Resource, a Principal required
    bad = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                                    "Action": "sts:AssumeRole", "Resource": "*"}]}
    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName=unique("r"), AssumeRolePolicyDocument=json.dumps(bad))
    assert error(exc) == ("MalformedPolicyDocument", 400, "Has prohibited field Resource")
    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName=unique("r"), AssumeRolePolicyDocument="{not json")
    assert error(exc)[:2] == ("MalformedPolicyDocument", 400)

    # the trust policy size quota (ACLSizePerRole 2048, reference_iam-quotas.html)
    big = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": f"s{i}.amazonaws.com"},
                                                    "Action": "sts:AssumeRole"} for i in range(40)]}
    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName=unique("r"), AssumeRolePolicyDocument=json.dumps(big))
    assert error(exc)[:2] == ("LimitExceeded", 409)

    # a principal ARN in one of this server's accounts must exist
    ghost = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:user/nobody-here"},
                                                      "Action": "sts:AssumeRole"}]}
    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName=unique("r"), AssumeRolePolicyDocument=json.dumps(ghost))
    assert error(exc)[0] == "MalformedPolicyDocument" and "Invalid principal in policy" in error(exc)[2]


def test_failed_request_changes_nothing(iam) -> None:
    name = unique("atomic")
    with pytest.raises(ClientError):
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST),
                        Tags=[{"Key": "a", "Value": "1"}, {"Key": "A", "Value": "2"}])
    with pytest.raises(ClientError) as exc:
        iam.get_role(RoleName=name)
    assert error(exc)[0] == "NoSuchEntity"


def test_pagination(iam) -> None:
    prefix = f"/{unique('page')}/"
    names = sorted(unique("r") for _ in range(7))
    for n in names:
        iam.create_role(RoleName=n, Path=prefix, AssumeRolePolicyDocument=json.dumps(TRUST))
    first = iam.list_roles(PathPrefix=prefix, MaxItems=3)
    assert first["IsTruncated"] is True and len(first["Roles"]) == 3
    second = iam.list_roles(PathPrefix=prefix, MaxItems=3, Marker=first["Marker"])
    third = iam.list_roles(PathPrefix=prefix, MaxItems=3, Marker=second["Marker"])
    assert third["IsTruncated"] is False and len(third["Roles"]) == 1
    seen = [r["RoleName"] for page in (first, second, third) for r in page["Roles"]]
    assert seen == names
    paged = [r["RoleName"] for p in iam.get_paginator("list_roles").paginate(PathPrefix=prefix, PaginationConfig={"PageSize": 2}) for r in p["Roles"]]
    assert paged == names


def test_a_marker_no_listing_gave_is_refused(iam) -> None:
    """A Marker is opaque and IAM's own (API_ListRoles.html: "the value of the Marker element in the response that
    you received"); one it did not issue is ValidationError "Invalid Marker.", and nothing is listed."""
    prefix = f"/{unique('marker')}/"
    for n in range(3):
        iam.create_role(RoleName=unique(f"m{n}"), Path=prefix, AssumeRolePolicyDocument=json.dumps(TRUST))
    users_marker = iam.list_users(MaxItems=1)
    for marker in ("garbage", "QUFBQUFBQUFBQQ==", users_marker.get("Marker") or "x"):
        with pytest.raises(ClientError) as exc:
            iam.list_roles(PathPrefix=prefix, Marker=marker)
        assert error(exc)[:2] == ("ValidationError", 400) and error(exc)[2] == "Invalid Marker."


def test_instance_profiles(iam) -> None:
    role, profile = unique("r"), unique("ip")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.create_instance_profile(InstanceProfileName=profile)
    iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=role)
    got = iam.get_instance_profile(InstanceProfileName=profile)["InstanceProfile"]
    assert [r["RoleName"] for r in got["Roles"]] == [role]
    assert [p["InstanceProfileName"] for p in iam.list_instance_profiles_for_role(RoleName=role)["InstanceProfiles"]] == [profile]
    # one role per instance profile (reference_iam-quotas.html)
    other = unique("r")
    iam.create_role(RoleName=other, AssumeRolePolicyDocument=json.dumps(TRUST))
    with pytest.raises(ClientError) as exc:
        iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=other)
    assert error(exc)[:2] == ("LimitExceeded", 409)
    with pytest.raises(ClientError) as exc:
        iam.delete_role(RoleName=role)
    assert error(exc)[0] == "DeleteConflict"
    with pytest.raises(ClientError) as exc:
        iam.delete_instance_profile(InstanceProfileName=profile)
    assert error(exc)[0] == "DeleteConflict"
    iam.remove_role_from_instance_profile(InstanceProfileName=profile, RoleName=role)
    iam.delete_instance_profile(InstanceProfileName=profile)
    iam.delete_role(RoleName=role)
