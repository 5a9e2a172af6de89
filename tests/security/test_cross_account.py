"""Attacks across accounts: a principal of account B assuming a role of account A (both accounts on one server).

AWS rules:

* https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html
  "For cross-account requests, the requester in the trusted AccountA must have an identity-based policy ... the
  resource-based policy in AccountB must allow the requester"; "The request is allowed only if both evaluations
  return a decision of Allow"; in the trusted account AWS "checks the identity-based policy and any policies that
  can limit an identity-based policy" (permissions boundaries, session policies).
* https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-accounts
  (an account principal delegates to that account's identity policies; a user principal names one account's user).
* https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalaccount
  (aws:PrincipalAccount).
* https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html (AccessDenied wording).
"""
from __future__ import annotations

import json

from .conftest import (
    ASSUME_ANY,
    World,
    allow,
    denied,
    deny,
    policy,
    refused,
    statement,
    trust,
    unique,
)


def test_assume_anything_in_b_does_not_open_a_role_trusting_only_a(world: World) -> None:
    b = world.other_account()
    attacker = world.user(ASSUME_ANY, account=b)
    _, role_arn = world.role(trust(f"arn:aws:iam::{world.account}:root"), policy(allow("*")))
    denied(lambda: attacker.sts.assume_role(RoleArn=role_arn, RoleSessionName="xs"), attacker.arn, "sts:AssumeRole", role_arn)


def test_trust_naming_account_b_needs_b_identity_policy(world: World) -> None:
    b = world.other_account()
    user = world.user(account=b)
    _, role_arn = world.role(trust(f"arn:aws:iam::{b.account_id}:root"))
    denied(lambda: user.sts.assume_role(RoleArn=role_arn, RoleSessionName="xs"), user.arn, "sts:AssumeRole", role_arn)
    world.admin_iam(b).put_user_policy(UserName=user.name, PolicyName="p", PolicyDocument=json.dumps(policy(allow("sts:AssumeRole", role_arn))))
    session = user.assume(role_arn, "xs")
    assert session.sts.get_caller_identity()["Account"] == world.account


def test_trust_naming_b_user_still_needs_b_identity_policy(world: World) -> None:
    """Across accounts naming the user is not enough: both evaluations must allow."""
    b = world.other_account()
    user = world.user(account=b)
    _, role_arn = world.role(trust(user.arn))
    denied(lambda: user.sts.assume_role(RoleArn=role_arn, RoleSessionName="xs"), user.arn, "sts:AssumeRole", role_arn)
    world.admin_iam(b).put_user_policy(UserName=user.name, PolicyName="p", PolicyDocument=json.dumps(policy(allow("sts:AssumeRole", role_arn))))
    user.assume(role_arn, "xs")


def test_user_of_the_same_name_in_another_account_is_not_trusted(world: World) -> None:
    b = world.other_account()
    name = unique("twin")
    in_b = world.user(ASSUME_ANY, account=b, name=name)
    in_a = world.user(ASSUME_ANY, name=name)
    _, trusts_b_user = world.role(trust(in_b.arn))
    _, trusts_a_user = world.role(trust(in_a.arn))
    denied(lambda: in_a.sts.assume_role(RoleArn=trusts_b_user, RoleSessionName="xs"), in_a.arn, "sts:AssumeRole", trusts_b_user)
    denied(lambda: in_b.sts.assume_role(RoleArn=trusts_a_user, RoleSessionName="xs"), in_b.arn, "sts:AssumeRole", trusts_a_user)
    in_a.assume(trusts_a_user)  # the controls
    in_b.assume(trusts_b_user)


def test_identity_deny_in_b_beats_a_trust_naming_the_user(world: World) -> None:
    b = world.other_account()
    user = world.user(policy(allow("sts:AssumeRole"), deny("sts:AssumeRole", f"arn:aws:iam::{world.account}:role/*")), account=b)
    _, role_arn = world.role(trust(user.arn))
    denied(lambda: user.sts.assume_role(RoleArn=role_arn, RoleSessionName="xs"), user.arn, "sts:AssumeRole", role_arn)


def test_b_boundary_limits_a_trust_naming_the_user_across_accounts(world: World) -> None:
    """Unlike within one account, a boundary in the trusted account limits the request even when the trust policy
    names the user (the trusted account's evaluation includes "any policies that can limit an identity-based policy")."""
    b = world.other_account()
    boundary = world.managed(policy(allow("iam:GetUser")), account=b)
    user = world.user(ASSUME_ANY, account=b, boundary=boundary)
    _, role_arn = world.role(trust(user.arn))
    denied(lambda: user.sts.assume_role(RoleArn=role_arn, RoleSessionName="xs"), user.arn, "sts:AssumeRole", role_arn)


def test_principal_account_condition_keeps_other_accounts_out(world: World) -> None:
    b = world.other_account()
    attacker = world.user(ASSUME_ANY, account=b)
    _, role_arn = world.role(trust(f"arn:aws:iam::{world.account}:root", f"arn:aws:iam::{b.account_id}:root",
                                   condition={"StringEquals": {"aws:PrincipalAccount": world.account}}))
    denied(lambda: attacker.sts.assume_role(RoleArn=role_arn, RoleSessionName="xs"), attacker.arn, "sts:AssumeRole", role_arn)
    world.user(ASSUME_ANY).assume(role_arn)  # the control: a principal of the account named


def test_b_role_session_needs_its_roles_identity_policy(world: World) -> None:
    """A session of B's role chaining into A's role that trusts B's role: the role's identity policy in B must allow."""
    b = world.other_account()
    b_user = world.user(account=b)
    b_role, b_role_arn = world.role(trust(b_user.arn), account=b)
    session = b_user.assume(b_role_arn, "hop1")
    _, a_role_arn = world.role(trust(b_role_arn))
    denied(lambda: session.sts.assume_role(RoleArn=a_role_arn, RoleSessionName="hop2"), session.arn, "sts:AssumeRole", a_role_arn)
    world.admin_iam(b).put_role_policy(RoleName=b_role, PolicyName="p", PolicyDocument=json.dumps(policy(allow("sts:AssumeRole", a_role_arn))))
    session.assume(a_role_arn, "hop2")


def test_a_root_cannot_manage_b_roles(world: World) -> None:
    """Account isolation: A's root key names nothing in B (a role ARN of B is refused, B's roles are not listed)."""
    b = world.other_account()
    b_role, b_role_arn = world.role(trust(f"arn:aws:iam::{b.account_id}:root"), account=b)
    iam = world.admin_iam()
    assert b_role not in [r["RoleName"] for r in iam.list_roles()["Roles"]]
    refused(lambda: iam.get_role(RoleName=b_role), "NoSuchEntity", 404)
    refused(lambda: iam.delete_role(RoleName=b_role), "NoSuchEntity", 404)
    assert world.admin_iam(b).get_role(RoleName=b_role)["Role"]["Arn"] == b_role_arn


def test_refusals_do_not_tell_whether_a_role_exists_or_whom_it_trusts(world: World) -> None:
    """Role enumeration: an outsider probing A's role names gets one answer for a role that does not exist, one that
    trusts someone else, one whose trust names the outsider's account (where a reason such as "because no
    identity-based policy allows" would confirm both the role and the trust), and one whose trust denies him: STS's
    bare AccessDenied, "if the role exists or not you always get this error" (HackTricks, aws-iam-and-sts-
    unauthenticated-enum; API_AssumeRole.html)."""
    b = world.other_account()
    # no identity policy at all, and one whose own Deny covers the names probed
    for identity in (None, policy(allow("sts:AssumeRole"), deny("sts:AssumeRole", f"arn:aws:iam::{world.account}:role/x-*"))):
        outsider = world.user(identity, account=b)
        roles = {
            "missing": f"arn:aws:iam::{world.account}:role/x-{unique('missing')}",
            "trusts-another-account": world.role(trust(f"arn:aws:iam::{world.account}:root"), name=unique("x-a"))[1],
            "trusts-the-outsiders-account": world.role(trust(f"arn:aws:iam::{b.account_id}:root"), name=unique("x-b"))[1],
            "denies-the-outsider": world.role(trust(f"arn:aws:iam::{b.account_id}:root", extra=[
                statement("Deny", "sts:AssumeRole", None, None, {"AWS": outsider.arn})]), name=unique("x-c"))[1],
        }
        for case, role_arn in roles.items():
            message = denied(lambda: outsider.sts.assume_role(RoleArn=role_arn, RoleSessionName="probe"), outsider.arn,
                             "sts:AssumeRole", role_arn)
            assert message == f"User: {outsider.arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}", case
