"""Attacks through role chaining: a role session assuming another role (or itself).

AWS rules:

* https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html#policy-eval-denyallow
  trust policies must grant; "Resource-based policies that grant permissions to an IAM role ARN are limited by an
  implicit deny in a permissions boundary or session policy"; a role session ARN is granted "directly to the
  assumed role session ... not limited by an implicit deny in an identity-based policy, a permissions boundary, or
  session policy".
* https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_update-role-trust-policy.html "To allow users to assume
  the current role again within a role session, specify the role ARN or AWS account ARN as a principal in the role
  trust policy" (and https://aws.amazon.com/blogs/security/announcing-an-update-to-iam-role-trust-policy-behavior/:
  roles no longer trust themselves implicitly).
* https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html "if you assume a role using role chaining
  and provide a DurationSeconds parameter value greater than one hour, the operation fails"; "the new session
  inherits any transitive session tags from the calling session. If you pass a session tag with the same key as an
  inherited tag, the operation fails" (Tags).
* https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html#id_session-tags_role-chaining
  ("If you try to pass the Heart = 3 session tag, the operation will fail"; tag keys are case-insensitive:
  id_tags.html#id_tags_rules_creating).
* https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_monitor.html#id_credentials_temp_control-access_monitor-chain
  "If the user attempts to set a source identity that is different from the value set when CriticalRole was
  assumed, the assume role request will be denied"; the inherited value is sts:SourceIdentity in the request.
* https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-roles
  (a trust policy naming a role stores its unique id: deleting and recreating the role breaks the relationship).
"""
from __future__ import annotations

import json

import pytest

from .conftest import (
    ASSUME_ANY,
    ECS,
    Creds,
    World,
    allow,
    denied,
    policy,
    refused,
    trust,
)

ALL_THREE = ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"]


def first_hop(world: World, identity: dict | None = None, boundary: str | None = None, **assume: object) -> tuple[str, str, Creds]:
    """A user assumes role A (trusting the user); A's name, ARN and the session."""
    user = world.user()
    name, arn = world.role(trust(user.arn, actions=ALL_THREE), identity, boundary=boundary)
    return name, arn, user.assume(arn, "hop1", **assume)  # type: ignore[arg-type]


@pytest.mark.parametrize("case", ["names-another-role", "names-the-user-behind-the-session", "names-only-a-service",
                                  "names-a-session-of-another-name"])
def test_session_cannot_chain_into_a_role_that_does_not_trust_it(world: World, case: str) -> None:
    user = world.user()
    _, a_arn = world.role(trust(user.arn), ASSUME_ANY)
    session = user.assume(a_arn, "hop1")
    if case == "names-another-role":
        _, other = world.role(trust(service=ECS))
        document = trust(other)
    elif case == "names-the-user-behind-the-session":
        document = trust(user.arn)  # the user may assume B, his session of A may not
    elif case == "names-only-a-service":
        document = trust(service=ECS)
    else:
        document = trust(session.arn.rsplit("/", 1)[0] + "/hop2")
    _, b_arn = world.role(document, policy(allow("*")))
    denied(lambda: session.sts.assume_role(RoleArn=b_arn, RoleSessionName="hop2"), session.arn, "sts:AssumeRole", b_arn)


def test_role_does_not_trust_itself(world: World) -> None:
    """A session of A re-assuming A (to refresh itself, change its session name or tags) needs A's trust policy to
    name A or the account (id_roles_update-role-trust-policy.html)."""
    user = world.user()
    name, a_arn = world.role(trust(user.arn, actions=ALL_THREE), ASSUME_ANY)
    session = user.assume(a_arn, "hop1")
    denied(lambda: session.sts.assume_role(RoleArn=a_arn, RoleSessionName="renamed"), session.arn, "sts:AssumeRole", a_arn)
    world.admin_iam().update_assume_role_policy(RoleName=name, PolicyDocument=trust(user.arn, a_arn))
    assert session.assume(a_arn, "renamed").arn.endswith(f"/{name}/renamed")


def test_trust_naming_the_role_needs_no_identity_policy(world: World) -> None:
    _, a_arn, session = first_hop(world)  # A has no identity policy at all
    _, b_arn = world.role(trust(a_arn))
    assert session.assume(b_arn, "hop2").sts.get_caller_identity()["Arn"].endswith("/hop2")


def test_trust_naming_the_account_needs_the_roles_identity_allow(world: World) -> None:
    a_name, a_arn, session = first_hop(world)
    _, b_arn = world.role(trust(f"arn:aws:iam::{world.account}:root"))
    denied(lambda: session.sts.assume_role(RoleArn=b_arn, RoleSessionName="hop2"), session.arn, "sts:AssumeRole", b_arn)
    world.admin_iam().put_role_policy(RoleName=a_name, PolicyName="p", PolicyDocument=json.dumps(policy(allow("sts:AssumeRole", b_arn))))
    session.assume(b_arn, "hop2")


def test_boundary_limits_a_trust_naming_the_role_not_one_naming_the_session(world: World) -> None:
    boundary = world.managed(policy(allow("iam:GetRole")))
    _, a_arn, session = first_hop(world, ASSUME_ANY, boundary=boundary)
    _, by_role = world.role(trust(a_arn))
    denied(lambda: session.sts.assume_role(RoleArn=by_role, RoleSessionName="hop2"), session.arn, "sts:AssumeRole", by_role)
    _, by_session = world.role(trust(session.arn))
    session.assume(by_session, "hop2")


def test_session_policy_limits_a_trust_naming_the_role_not_one_naming_the_session(world: World) -> None:
    _, a_arn, session = first_hop(world, ASSUME_ANY, Policy=json.dumps(policy(allow("iam:GetRole"))))
    _, by_role = world.role(trust(a_arn))
    denied(lambda: session.sts.assume_role(RoleArn=by_role, RoleSessionName="hop2"), session.arn, "sts:AssumeRole", by_role)
    _, by_session = world.role(trust(session.arn))
    session.assume(by_session, "hop2")


@pytest.mark.parametrize("where", ["role-policy", "session-policy"])
def test_explicit_deny_beats_a_trust_naming_the_session(world: World, where: str) -> None:
    """A trust naming the session itself lifts implicit denies, never an explicit one: a Deny put on the role
    (as AWSRevokeOlderSessions does, id_roles_use_revoke-sessions.html) or in the session policy still wins."""
    if where == "role-policy":
        a_name, a_arn, session = first_hop(world, ASSUME_ANY)
        world.admin_iam().put_role_policy(RoleName=a_name, PolicyName="revoke", PolicyDocument=json.dumps(policy(
            {"Effect": "Deny", "Action": "*", "Resource": "*"})))
    else:
        _, a_arn, session = first_hop(world, ASSUME_ANY, Policy=json.dumps(policy(
            allow("*"), {"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": "*"})))
    for principal in (session.arn, a_arn):
        _, b_arn = world.role(trust(principal))
        denied(lambda: session.sts.assume_role(RoleArn=b_arn, RoleSessionName="hop2"), session.arn, "sts:AssumeRole", b_arn)


def test_transitive_tags_cannot_be_changed(world: World) -> None:
    _, a_arn, session = first_hop(world, ASSUME_ANY, Tags=[{"Key": "team", "Value": "blue"}], TransitiveTagKeys=["team"])
    # B lets a caller tagged team=blue read roles: what an attacker would like to get with another team
    b_name, b_arn = world.role(trust(a_arn, actions=ALL_THREE), policy(
        allow("iam:GetRole", "*", {"StringEquals": {"aws:PrincipalTag/team": "blue"}})))
    refused(lambda: session.sts.assume_role(RoleArn=b_arn, RoleSessionName="hop2", Tags=[{"Key": "team", "Value": "red"}]),
            "InvalidParameterValue", 400)
    chained = session.assume(b_arn, "hop2")
    chained.iam.get_role(RoleName=b_name)  # still team=blue
    # and a third hop keeps it too
    _, c_arn = world.role(trust(b_arn, actions=ALL_THREE))
    refused(lambda: chained.sts.assume_role(RoleArn=c_arn, RoleSessionName="hop3", Tags=[{"Key": "team", "Value": "red"}]),
            "InvalidParameterValue", 400)


def test_inherited_tag_key_cannot_be_passed_again_in_another_case(world: World) -> None:
    _, a_arn, session = first_hop(world, ASSUME_ANY, Tags=[{"Key": "team", "Value": "blue"}], TransitiveTagKeys=["team"])
    _, b_arn = world.role(trust(a_arn, actions=ALL_THREE))
    for key in ("TEAM", "Team"):
        refused(lambda: session.sts.assume_role(RoleArn=b_arn, RoleSessionName="hop2", Tags=[{"Key": key, "Value": "red"}]),
                "InvalidParameterValue", 400)


def test_inherited_tag_key_cannot_be_passed_again_even_with_its_value(world: World) -> None:
    _, a_arn, session = first_hop(world, ASSUME_ANY, Tags=[{"Key": "team", "Value": "blue"}], TransitiveTagKeys=["team"])
    _, b_arn = world.role(trust(a_arn, actions=ALL_THREE))
    refused(lambda: session.sts.assume_role(RoleArn=b_arn, RoleSessionName="hop2", Tags=[{"Key": "team", "Value": "blue"}]),
            "InvalidParameterValue", 400)


def test_inherited_transitive_tags_need_sts_tag_session_on_the_next_role(world: World) -> None:
    """Inherited transitive tags tag the new session as passed ones do, so the next role must allow sts:TagSession
    (id_session-tags.html#id_session-tags_permissions-required); AWS refuses the chained call naming sts:TagSession
    (aws/eks-pod-identity-agent#80; mattrobinsonsre/terrapod#1546, which also notes that a trust policy naming only the
    account leaves the grant to the caller's identity policy). Without it the session would carry team=blue into a
    role whose policies trust that tag."""
    a_name, a_arn, session = first_hop(world, ASSUME_ANY, Tags=[{"Key": "team", "Value": "blue"}], TransitiveTagKeys=["team"])
    _, b_arn = world.role(trust(a_arn), policy(allow("*", "*", {"StringEquals": {"aws:PrincipalTag/team": "blue"}})))
    denied(lambda: session.sts.assume_role(RoleArn=b_arn, RoleSessionName="hop2"), session.arn, "sts:TagSession", b_arn)
    # a trust policy naming only the account delegates sts:TagSession to the session's own role, which lacks it
    _, by_account = world.role(trust(f"arn:aws:iam::{world.account}:root", actions=ALL_THREE))
    denied(lambda: session.sts.assume_role(RoleArn=by_account, RoleSessionName="hop2"), session.arn, "sts:TagSession",
           by_account)
    world.admin_iam().put_role_policy(RoleName=a_name, PolicyName="tag", PolicyDocument=json.dumps(
        policy(allow("sts:TagSession", by_account))))
    assert session.assume(by_account, "hop2").sts.get_caller_identity()["Arn"].endswith("/hop2")
    # the control: a role that allows sts:TagSession to the first role takes the session and its tag
    c_name, c_arn = world.role(trust(a_arn, actions=["sts:AssumeRole", "sts:TagSession"]),
                               policy(allow("iam:GetRole", "*", {"StringEquals": {"aws:PrincipalTag/team": "blue"}})))
    session.assume(c_arn, "hop2").iam.get_role(RoleName=c_name)


def test_chained_session_lasts_at_most_one_hour(world: World) -> None:
    _, a_arn, session = first_hop(world, ASSUME_ANY)
    _, b_arn = world.role(trust(a_arn), max_session=43200)
    for seconds in (3601, 7200, 43200):
        message = refused(lambda: session.sts.assume_role(RoleArn=b_arn, RoleSessionName="hop2", DurationSeconds=seconds),
                          "ValidationError", 400)
        assert message == "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
    session.assume(b_arn, "hop2", DurationSeconds=3600)


def test_source_identity_cannot_be_changed_or_dropped(world: World) -> None:
    _, a_arn, session = first_hop(world, ASSUME_ANY, SourceIdentity="alice")
    _, b_arn = world.role(trust(a_arn, actions=ALL_THREE))
    refused(lambda: session.sts.assume_role(RoleArn=b_arn, RoleSessionName="hop2", SourceIdentity="mallory"), "AccessDenied", 403)
    chained = session.assume(b_arn, "hop2")
    assert chained.raw["SourceIdentity"] == "alice"
    _, c_arn = world.role(trust(b_arn, actions=ALL_THREE))
    refused(lambda: chained.sts.assume_role(RoleArn=c_arn, RoleSessionName="hop3", SourceIdentity="Alice"), "AccessDenied", 403)
    assert chained.assume(c_arn, "hop3").raw["SourceIdentity"] == "alice"


def test_inherited_source_identity_is_checked_by_the_next_trust_policy(world: World) -> None:
    _, a_arn, session = first_hop(world, ASSUME_ANY, SourceIdentity="bob")
    _, b_arn = world.role(trust(a_arn, actions=ALL_THREE, condition={"StringEquals": {"sts:SourceIdentity": "alice"}}))
    denied(lambda: session.sts.assume_role(RoleArn=b_arn, RoleSessionName="hop2"), session.arn, "sts:AssumeRole", b_arn)
    _, c_arn = world.role(trust(a_arn, actions=ALL_THREE, condition={"StringEquals": {"aws:SourceIdentity": "alice"}}))
    denied(lambda: session.sts.assume_role(RoleArn=c_arn, RoleSessionName="hop2"), session.arn, "sts:AssumeRole", c_arn)


def test_trust_naming_a_deleted_and_recreated_role_no_longer_matches(world: World) -> None:
    user = world.user()
    a_name, a_arn = world.role(trust(user.arn))
    _, b_arn = world.role(trust(a_arn))
    user.assume(a_arn).assume(b_arn)
    iam = world.admin_iam()
    iam.delete_role(RoleName=a_name)
    world.role(trust(user.arn), name=a_name)
    session = user.assume(a_arn, "hop1")
    denied(lambda: session.sts.assume_role(RoleArn=b_arn, RoleSessionName="hop2"), session.arn, "sts:AssumeRole", b_arn)
