"""Attacks on one's own permissions: policy versions, attachments, boundaries, session policies, trust policies, tags.

AWS rules:

* https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_managed-versioning.html#policy-version-permissions
  "To allow someone to set the default policy version of an existing policy, you can allow access to either the
  iam:CreatePolicyVersion action or the iam:SetDefaultPolicyVersion action. The iam:CreatePolicyVersion action
  allows them to create a new version of the policy and to set that version as the default"; the page's guard is a
  Deny of both. (https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreatePolicyVersion.html, SetAsDefault.)
* https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html a boundary "allows it to perform
  only the actions that are allowed by both its identity-based policies and its permissions boundaries";
  delegating with iam:PermissionsBoundary
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#ck_PermissionsBoundary).
* https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies.html#policies_session "Session policies limit
  permissions for the created session, but do not grant permissions".
* https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-resourcetag
  (aws:ResourceTag is the tag the resource has when the request is made).
* https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html (AccessDenied wording).
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .conftest import (
    ADMIN,
    ASSUME_ANY,
    Creds,
    World,
    allow,
    denied,
    deny,
    no_boundary_allows,
    no_identity_allows,
    no_session_policy_allows,
    policy,
    refused,
    trust,
    unique,
)


def iam_denied(call: Callable[[], Any], who: Creds, action: str, reason: str) -> str:
    """AccessDenied (403) for ``who`` doing ``action``, for ``reason`` (the resource as IAM names it)."""
    message = refused(call, "AccessDenied", 403)
    assert message.startswith(f"User: {who.arn} is not authorized to perform: {action} on resource: "), message
    assert message.endswith(reason), message
    return message


def versions(world: World, arn: str) -> list[tuple[str, bool]]:
    out = world.admin_iam().list_policy_versions(PolicyArn=arn)["Versions"]
    return sorted((v["VersionId"], v["IsDefaultVersion"]) for v in out)


def test_create_policy_version_does_not_give_set_default_policy_version(world: World) -> None:
    iam = world.admin_iam()
    attached = world.managed(policy(allow("iam:GetUser")))
    user = world.user(policy(allow("iam:CreatePolicyVersion", attached)))
    iam.attach_user_policy(UserName=user.name, PolicyArn=attached)
    iam.create_policy_version(PolicyArn=attached, PolicyDocument=json.dumps(ADMIN), SetAsDefault=False)  # v2, dormant
    iam_denied(lambda: user.iam.set_default_policy_version(PolicyArn=attached, VersionId="v2"), user,
               "iam:SetDefaultPolicyVersion", no_identity_allows("iam:SetDefaultPolicyVersion"))
    assert versions(world, attached) == [("v1", True), ("v2", False)]
    iam_denied(lambda: user.iam.create_user(UserName=unique("x")), user, "iam:CreateUser", no_identity_allows("iam:CreateUser"))


def test_create_policy_version_set_as_default_is_iam_create_policy_version_alone(world: World) -> None:
    """As AWS documents (the page above), iam:CreatePolicyVersion alone makes a new default version, which is why
    it is an administrator's permission; the page's guard, a Deny of both actions, holds."""
    iam = world.admin_iam()
    attached = world.managed(policy(allow("iam:GetUser")))
    user = world.user(policy(allow("iam:CreatePolicyVersion", attached)))
    iam.attach_user_policy(UserName=user.name, PolicyArn=attached)
    # CreatePolicyVersion on one policy is not CreatePolicyVersion on another
    other_policy = world.managed(policy(allow("iam:GetUser")))
    iam.attach_user_policy(UserName=user.name, PolicyArn=other_policy)
    denied(lambda: user.iam.create_policy_version(PolicyArn=other_policy, PolicyDocument=json.dumps(ADMIN), SetAsDefault=True),
           user.arn, "iam:CreatePolicyVersion", other_policy, no_identity_allows("iam:CreatePolicyVersion"))
    assert versions(world, other_policy) == [("v1", True)]
    out = user.iam.create_policy_version(PolicyArn=attached, PolicyDocument=json.dumps(ADMIN), SetAsDefault=True)
    assert out["PolicyVersion"]["IsDefaultVersion"] is True
    assert versions(world, attached) == [("v1", False), ("v2", True)]

    guarded = world.managed(policy(allow("iam:GetUser")))
    other = world.user(policy(allow("iam:CreatePolicyVersion", "*"),
                              deny(["iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion"], guarded)))
    iam.attach_user_policy(UserName=other.name, PolicyArn=guarded)
    denied(lambda: other.iam.create_policy_version(PolicyArn=guarded, PolicyDocument=json.dumps(ADMIN), SetAsDefault=True),
           other.arn, "iam:CreatePolicyVersion", guarded, "with an explicit deny in an identity-based policy")
    assert versions(world, guarded) == [("v1", True)]


def test_user_cannot_grant_himself_more(world: World) -> None:
    iam = world.admin_iam()
    admin_policy = world.managed(ADMIN)
    user = world.user(policy(allow(["iam:GetUser", "iam:ListAttachedUserPolicies", "iam:ListUserPolicies"])))
    admins = unique("admins")
    iam.create_group(GroupName=admins)
    iam.attach_group_policy(GroupName=admins, PolicyArn=admin_policy)
    admin_user = world.user(ADMIN)

    iam_denied(lambda: user.iam.attach_user_policy(UserName=user.name, PolicyArn=admin_policy), user,
               "iam:AttachUserPolicy", no_identity_allows("iam:AttachUserPolicy"))
    iam_denied(lambda: user.iam.put_user_policy(UserName=user.name, PolicyName="mine", PolicyDocument=json.dumps(ADMIN)),
               user, "iam:PutUserPolicy", no_identity_allows("iam:PutUserPolicy"))
    iam_denied(lambda: user.iam.add_user_to_group(GroupName=admins, UserName=user.name), user,
               "iam:AddUserToGroup", no_identity_allows("iam:AddUserToGroup"))
    iam_denied(lambda: user.iam.create_access_key(UserName=admin_user.name), user,
               "iam:CreateAccessKey", no_identity_allows("iam:CreateAccessKey"))

    assert iam.list_attached_user_policies(UserName=user.name)["AttachedPolicies"] == []
    assert iam.list_user_policies(UserName=user.name)["PolicyNames"] == ["p"]
    assert iam.list_groups_for_user(UserName=user.name)["Groups"] == []
    assert [k["AccessKeyId"] for k in iam.list_access_keys(UserName=admin_user.name)["AccessKeyMetadata"]] == [admin_user.key]


def test_boundary_binds_an_administrator_and_cannot_be_lifted_by_him(world: World) -> None:
    iam = world.admin_iam()
    low = world.managed(policy(allow(["iam:Get*", "iam:List*"])))
    admin_boundary = world.managed(ADMIN)
    user = world.user(ADMIN, boundary=low)
    user.iam.get_user(UserName=user.name)  # what the boundary allows
    name = unique("x")
    iam_denied(lambda: user.iam.create_user(UserName=name), user, "iam:CreateUser", no_boundary_allows("iam:CreateUser"))
    refused(lambda: iam.get_user(UserName=name), "NoSuchEntity", 404)
    iam_denied(lambda: user.iam.delete_user_permissions_boundary(UserName=user.name), user,
               "iam:DeleteUserPermissionsBoundary", no_boundary_allows("iam:DeleteUserPermissionsBoundary"))
    iam_denied(lambda: user.iam.put_user_permissions_boundary(UserName=user.name, PermissionsBoundary=admin_boundary), user,
               "iam:PutUserPermissionsBoundary", no_boundary_allows("iam:PutUserPermissionsBoundary"))
    iam_denied(lambda: user.iam.delete_user_policy(UserName=user.name, PolicyName="p"), user,
               "iam:DeleteUserPolicy", no_boundary_allows("iam:DeleteUserPolicy"))
    assert iam.get_user(UserName=user.name)["User"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == low
    # the boundary's policy cannot be rewritten by him either
    denied(lambda: user.iam.create_policy_version(PolicyArn=low, PolicyDocument=json.dumps(ADMIN), SetAsDefault=True),
           user.arn, "iam:CreatePolicyVersion", low, no_boundary_allows("iam:CreatePolicyVersion"))
    assert versions(world, low) == [("v1", True)]


def test_delegated_administrator_must_keep_the_boundary(world: World) -> None:
    """The delegation pattern: iam:PutUserPermissionsBoundary and iam:CreateUser allowed only with
    iam:PermissionsBoundary naming the low boundary; he can neither raise, drop, nor skip it."""
    iam = world.admin_iam()
    low = world.managed(policy(allow("iam:GetUser")))
    high = world.managed(ADMIN)
    keep = {"StringEquals": {"iam:PermissionsBoundary": low}}
    user = world.user(boundary=low)  # a user the delegate manages
    delegate = world.user(policy(allow(["iam:PutUserPermissionsBoundary", "iam:CreateUser"], "*", keep)))
    iam_denied(lambda: delegate.iam.put_user_permissions_boundary(UserName=user.name, PermissionsBoundary=high), delegate,
               "iam:PutUserPermissionsBoundary", no_identity_allows("iam:PutUserPermissionsBoundary"))
    iam_denied(lambda: delegate.iam.delete_user_permissions_boundary(UserName=user.name), delegate,
               "iam:DeleteUserPermissionsBoundary", no_identity_allows("iam:DeleteUserPermissionsBoundary"))
    assert iam.get_user(UserName=user.name)["User"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == low
    for kw in ({}, {"PermissionsBoundary": high}):
        name = unique("x")
        iam_denied(lambda: delegate.iam.create_user(UserName=name, **kw), delegate, "iam:CreateUser", no_identity_allows("iam:CreateUser"))
        refused(lambda: iam.get_user(UserName=name), "NoSuchEntity", 404)
    name = unique("x")
    delegate.iam.create_user(UserName=name, PermissionsBoundary=low)  # the control
    assert iam.get_user(UserName=name)["User"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == low


def test_session_policy_narrows_and_never_widens(world: World) -> None:
    user = world.user()
    role, role_arn = world.role(trust(user.arn), policy(allow(["iam:ListRoles", "iam:GetRole"])))
    narrow = user.assume(role_arn, Policy=json.dumps(policy(allow("iam:GetRole"))))
    narrow.iam.get_role(RoleName=role)
    denied(lambda: narrow.iam.list_roles(), narrow.arn, "iam:ListRoles", f"arn:aws:iam::{world.account}:role/",
           no_session_policy_allows("iam:ListRoles"))
    admin_policy = world.managed(ADMIN)
    for kw in ({"Policy": json.dumps(ADMIN)}, {"PolicyArns": [{"arn": admin_policy}]}):
        wide = user.assume(role_arn, **kw)
        wide.iam.list_roles()
        name = unique("x")
        iam_denied(lambda: wide.iam.create_user(UserName=name), wide, "iam:CreateUser", no_identity_allows("iam:CreateUser"))
        refused(lambda: world.admin_iam().get_user(UserName=name), "NoSuchEntity", 404)


def test_trust_policy_cannot_be_rewritten_by_who_it_keeps_out(world: World) -> None:
    iam = world.admin_iam()
    user = world.user(policy(allow(["sts:AssumeRole", "iam:GetRole"])))
    owner = world.user()
    role, role_arn = world.role(trust(owner.arn), policy(allow(["iam:GetRole", "sts:AssumeRole"])))
    before = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    iam_denied(lambda: user.iam.update_assume_role_policy(RoleName=role, PolicyDocument=trust(user.arn)), user,
               "iam:UpdateAssumeRolePolicy", no_identity_allows("iam:UpdateAssumeRolePolicy"))
    assert iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"] == before
    denied(lambda: user.sts.assume_role(RoleArn=role_arn, RoleSessionName="s1"), user.arn, "sts:AssumeRole", role_arn)
    # nor by the role's own sessions
    session = owner.assume(role_arn)
    iam_denied(lambda: session.iam.update_assume_role_policy(RoleName=role, PolicyDocument=trust(user.arn)), session,
               "iam:UpdateAssumeRolePolicy", no_identity_allows("iam:UpdateAssumeRolePolicy"))
    iam_denied(lambda: session.iam.put_role_policy(RoleName=role, PolicyName="more", PolicyDocument=json.dumps(ADMIN)), session,
               "iam:PutRolePolicy", no_identity_allows("iam:PutRolePolicy"))
    assert iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"] == before
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == ["p"]


def test_resource_tag_condition_cannot_be_met_by_retagging(world: World) -> None:
    """ABAC: a user may manage roles tagged team=blue; he cannot tag a red role blue to bring it in."""
    iam = world.admin_iam()
    blue = {"StringEquals": {"aws:ResourceTag/team": "blue"}}
    user = world.user(policy(allow(["iam:TagRole", "iam:UntagRole", "iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy"],
                                   f"arn:aws:iam::{world.account}:role/*", blue), ASSUME_ANY["Statement"][0]))
    red, red_arn = world.role(trust(world.user().arn))
    iam.tag_role(RoleName=red, Tags=[{"Key": "team", "Value": "red"}])
    denied(lambda: user.iam.tag_role(RoleName=red, Tags=[{"Key": "team", "Value": "blue"}]), user.arn, "iam:TagRole", red_arn,
           no_identity_allows("iam:TagRole"))
    denied(lambda: user.iam.untag_role(RoleName=red, TagKeys=["team"]), user.arn, "iam:UntagRole", red_arn,
           no_identity_allows("iam:UntagRole"))
    denied(lambda: user.iam.update_assume_role_policy(RoleName=red, PolicyDocument=trust(user.arn)), user.arn,
           "iam:UpdateAssumeRolePolicy", red_arn, no_identity_allows("iam:UpdateAssumeRolePolicy"))
    assert iam.list_role_tags(RoleName=red)["Tags"] == [{"Key": "team", "Value": "red"}]
    denied(lambda: user.sts.assume_role(RoleArn=red_arn, RoleSessionName="s1"), user.arn, "sts:AssumeRole", red_arn)
    blue_role, blue_arn = world.role(trust(world.user().arn))
    iam.tag_role(RoleName=blue_role, Tags=[{"Key": "team", "Value": "blue"}])
    user.iam.tag_role(RoleName=blue_role, Tags=[{"Key": "env", "Value": "dev"}])  # the control
