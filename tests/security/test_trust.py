"""Attacks on role trust policies within one account: a trust policy must grant, an identity policy cannot stand in.

AWS rules (IAM User Guide unless said otherwise):

* https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html#policy-eval-denyallow
  "For most resources, you only need an explicit allow for the principal in either an identity-based policy or a
  resource-based policy to grant access. IAM role trust policies and KMS key policies are exceptions to this logic,
  because they must explicitly allow access for principals"; "resource-based policies that grant permissions to an
  IAM user ARN ... are not limited by an implicit deny in an identity-based policy or permissions boundary".
* https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html
  an account principal "delegates authority to the account" (its identity policies must then allow); "In a
  Principal element, the user name part of the ARN is case sensitive"; a trust policy naming a user stores the
  user's unique id, so "if you delete the user, then you break the relationship ... even if you recreate the user".
* https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html (the trust policy is the resource policy;
  AccessDenied "User: ... is not authorized to perform: sts:AssumeRole on resource: ...").
* https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html#id_session-tags_permissions-required
  (passing session tags needs sts:TagSession; aws:RequestTag conditions).
* https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_monitor.html#id_credentials_temp_control-access_monitor-perms
  (setting a source identity needs sts:SetSourceIdentity; sts:SourceIdentity conditions).
* https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html
  (sts:ExternalId, sts:RoleSessionName, sts:SourceIdentity).
* https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html
  (aws:PrincipalTag, aws:RequestTag, aws:MultiFactorAuthPresent, aws:PrincipalArn).
* https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_ARN
  (ArnEquals: "Case-sensitive matching of the ARN").
"""
from __future__ import annotations

import json
from typing import Any

import pytest

from .conftest import (
    ASSUME_ANY,
    ECS,
    World,
    allow,
    denied,
    deny,
    no_identity_allows,
    policy,
    refused,
    statement,
    trust,
    unique,
)

ALL_THREE = ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"]


# The outside review's escalation: a user whose only policy allows sts:AssumeRole on "*" assumed any role in the
# account whatever its trust policy said. Each case is a trust policy that does not grant the attacker.
def _names_another_user(w: World, attacker: Any) -> tuple[str, dict[str, Any]]:
    return trust(w.user().arn), {}


def _trusts_only_a_service(w: World, attacker: Any) -> tuple[str, dict[str, Any]]:
    return trust(service=ECS), {}


def _external_id_missing(w: World, attacker: Any) -> tuple[str, dict[str, Any]]:
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_create_for-user_externalid.html
    return trust(f"arn:aws:iam::{w.account}:root", condition={"StringEquals": {"sts:ExternalId": "tenant-42"}}), {}


def _external_id_wrong(w: World, attacker: Any) -> tuple[str, dict[str, Any]]:
    return trust(attacker.arn, condition={"StringEquals": {"sts:ExternalId": "tenant-42"}}), {"ExternalId": "tenant-43"}


def _external_id_other_case(w: World, attacker: Any) -> tuple[str, dict[str, Any]]:
    # StringEquals is case-sensitive (reference_policies_elements_condition_operators.html#Conditions_String)
    return trust(attacker.arn, condition={"StringEquals": {"sts:ExternalId": "tenant-42"}}), {"ExternalId": "Tenant-42"}


def _mfa_required(w: World, attacker: Any) -> tuple[str, dict[str, Any]]:
    # names the attacker himself: a failed condition means no grant, and no identity policy stands in for it
    return trust(attacker.arn, condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}}), {}


def _principal_tag_fails(w: World, attacker: Any) -> tuple[str, dict[str, Any]]:
    return trust(f"arn:aws:iam::{w.account}:root", condition={"StringEquals": {"aws:PrincipalTag/team": "blue"}}), {}


def _grants_only_tag_session(w: World, attacker: Any) -> tuple[str, dict[str, Any]]:
    return trust(attacker.arn, actions="sts:TagSession"), {}


def _names_a_role(w: World, attacker: Any) -> tuple[str, dict[str, Any]]:
    _, other = w.role(trust(service=ECS))
    return trust(other), {}


def _web_identity_only(w: World, attacker: Any) -> tuple[str, dict[str, Any]]:
    return json.dumps(policy(statement("Allow", "sts:AssumeRoleWithWebIdentity", None, None,
                                       {"Federated": "cognito-identity.amazonaws.com"}))), {}


REVIEW_CASES = {
    "trust-names-another-user": _names_another_user,
    "trust-names-only-ecs-tasks": _trusts_only_a_service,
    "external-id-missing": _external_id_missing,
    "external-id-wrong": _external_id_wrong,
    "external-id-other-case": _external_id_other_case,
    "mfa-condition-fails": _mfa_required,
    "principal-tag-condition-fails": _principal_tag_fails,
    "trust-grants-only-tag-session": _grants_only_tag_session,
    "trust-names-a-role": _names_a_role,
    "trust-names-a-web-identity-provider": _web_identity_only,
}


@pytest.mark.parametrize("case", list(REVIEW_CASES), ids=list(REVIEW_CASES))
def test_assume_anything_policy_does_not_override_a_trust_policy(world: World, case: str) -> None:
    attacker = world.user(ASSUME_ANY, tags={"team": "red"})
    document, extra = REVIEW_CASES[case](world, attacker)
    _, role_arn = world.role(document, policy(allow("*")))
    denied(lambda: attacker.sts.assume_role(RoleArn=role_arn, RoleSessionName="x-session", **extra),
           attacker.arn, "sts:AssumeRole", role_arn)


def test_trust_naming_the_user_needs_no_identity_policy(world: World) -> None:
    user = world.user()  # no policy at all
    _, role_arn = world.role(trust(user.arn))
    session = user.assume(role_arn)
    assert session.sts.get_caller_identity()["Arn"] == session.arn


@pytest.mark.parametrize("form", ["arn", "account-id"])
def test_trust_naming_the_account_delegates_to_identity_policies(world: World, form: str) -> None:
    principal = f"arn:aws:iam::{world.account}:root" if form == "arn" else world.account
    user = world.user()
    role, role_arn = world.role(trust(principal))
    denied(lambda: user.sts.assume_role(RoleArn=role_arn, RoleSessionName="s1"), user.arn, "sts:AssumeRole", role_arn)
    # an Allow for another role does not count either
    world.admin_iam().put_user_policy(UserName=user.name, PolicyName="p", PolicyDocument=json.dumps(
        policy(allow("sts:AssumeRole", f"arn:aws:iam::{world.account}:role/{role}-other"))))
    denied(lambda: user.sts.assume_role(RoleArn=role_arn, RoleSessionName="s1"), user.arn, "sts:AssumeRole", role_arn)
    world.admin_iam().put_user_policy(UserName=user.name, PolicyName="p", PolicyDocument=json.dumps(
        policy(allow("sts:AssumeRole", role_arn))))
    user.assume(role_arn)


def test_identity_deny_beats_a_trust_policy_naming_the_user(world: World) -> None:
    user = world.user()
    _, role_arn = world.role(trust(user.arn))
    world.admin_iam().put_user_policy(UserName=user.name, PolicyName="no", PolicyDocument=json.dumps(
        policy(deny("sts:AssumeRole", role_arn))))
    denied(lambda: user.sts.assume_role(RoleArn=role_arn, RoleSessionName="s1"), user.arn, "sts:AssumeRole", role_arn)
    # through a group as well
    other = world.user()
    group = unique("g")
    iam = world.admin_iam()
    iam.create_group(GroupName=group)
    iam.put_group_policy(GroupName=group, PolicyName="no", PolicyDocument=json.dumps(policy(deny("sts:*"))))
    iam.add_user_to_group(GroupName=group, UserName=other.name)
    _, other_role = world.role(trust(other.arn))
    denied(lambda: other.sts.assume_role(RoleArn=other_role, RoleSessionName="s1"), other.arn, "sts:AssumeRole", other_role)


def test_trust_policy_deny_beats_its_own_allow(world: World) -> None:
    user = world.user(ASSUME_ANY)
    document = trust(f"arn:aws:iam::{world.account}:root", extra=[
        statement("Deny", "sts:AssumeRole", None, None, {"AWS": user.arn})])
    _, role_arn = world.role(document)
    denied(lambda: user.sts.assume_role(RoleArn=role_arn, RoleSessionName="s1"), user.arn, "sts:AssumeRole", role_arn)


def test_permissions_boundary_does_not_limit_a_trust_naming_the_user(world: World) -> None:
    """Same account: a resource policy naming the user ARN is not limited by the boundary; one naming only the
    account is (reference_policies_evaluation-logic.html#policy-eval-denyallow, "IAM user")."""
    boundary = world.managed(policy(allow("iam:GetUser")))
    user = world.user(ASSUME_ANY, boundary=boundary)
    _, direct = world.role(trust(user.arn))
    user.assume(direct)
    _, by_account = world.role(trust(f"arn:aws:iam::{world.account}:root"))
    denied(lambda: user.sts.assume_role(RoleArn=by_account, RoleSessionName="s1"), user.arn, "sts:AssumeRole", by_account)


def test_explicit_deny_anywhere_beats_a_trust_naming_the_user(world: World) -> None:
    """Naming the user lifts implicit denies only: an explicit Deny in the boundary still wins ("An explicit deny
    in any of these policies overrides the allow", reference_policies_evaluation-logic.html)."""
    boundary = world.managed(policy(allow("*"), deny("sts:AssumeRole")))
    user = world.user(boundary=boundary)
    _, role_arn = world.role(trust(user.arn))
    denied(lambda: user.sts.assume_role(RoleArn=role_arn, RoleSessionName="s1"), user.arn, "sts:AssumeRole", role_arn)


def test_trust_policy_changes_apply_at_once(world: World) -> None:
    user = world.user(ASSUME_ANY)
    role, role_arn = world.role(trust(user.arn))
    user.assume(role_arn)
    world.admin_iam().update_assume_role_policy(RoleName=role, PolicyDocument=trust(world.user().arn))
    denied(lambda: user.sts.assume_role(RoleArn=role_arn, RoleSessionName="s2"), user.arn, "sts:AssumeRole", role_arn)


def test_arn_conditions_are_case_sensitive(world: World) -> None:
    """ArnEquals on aws:PrincipalArn: "Case-sensitive matching of the ARN" (Conditions_ARN)."""
    user = world.user(ASSUME_ANY, name=unique("casey"))
    upper = user.arn.rsplit("/", 1)[0] + "/" + user.name.upper()
    _, role_arn = world.role(trust(f"arn:aws:iam::{world.account}:root", condition={"ArnEquals": {"aws:PrincipalArn": upper}}))
    denied(lambda: user.sts.assume_role(RoleArn=role_arn, RoleSessionName="s1"), user.arn, "sts:AssumeRole", role_arn)
    _, exact = world.role(trust(f"arn:aws:iam::{world.account}:root", condition={"ArnEquals": {"aws:PrincipalArn": user.arn}}))
    user.assume(exact)  # the control: the same condition with the ARN as it is


def test_principal_user_names_are_case_sensitive(world: World) -> None:
    """"In a Principal element, the user name part of the ARN is case sensitive" (principal-users): a trust policy
    naming the user in another case names a user that does not exist, which IAM refuses on save ("Invalid principal
    in policy", MalformedPolicyDocument), so it can never grant the user."""
    user = world.user(ASSUME_ANY, name=unique("casey"))
    upper = user.arn.rsplit("/", 1)[0] + "/" + user.name.upper()
    name = unique("r")
    message = refused(lambda: world.admin_iam().create_role(RoleName=name, AssumeRolePolicyDocument=trust(upper)),
                      "MalformedPolicyDocument", 400)
    assert message == f'Invalid principal in policy: "AWS":"{upper}"'
    refused(lambda: world.admin_iam().get_role(RoleName=name), "NoSuchEntity", 404)


def test_trust_naming_a_deleted_user_does_not_match_a_new_user_of_another_case(world: World) -> None:
    iam = world.admin_iam()
    old = world.user(name=unique("Mixed"))
    _, role_arn = world.role(trust(old.arn))
    iam.delete_access_key(UserName=old.name, AccessKeyId=old.key)
    iam.delete_user(UserName=old.name)
    new = world.user(ASSUME_ANY, name=old.name.lower())
    denied(lambda: new.sts.assume_role(RoleArn=role_arn, RoleSessionName="s1"), new.arn, "sts:AssumeRole", role_arn)


def test_trust_naming_a_deleted_and_recreated_user_no_longer_matches(world: World) -> None:
    iam = world.admin_iam()
    old = world.user()
    role, role_arn = world.role(trust(old.arn))
    old.assume(role_arn)
    old_id = iam.get_user(UserName=old.name)["User"]["UserId"]
    iam.delete_access_key(UserName=old.name, AccessKeyId=old.key)
    iam.delete_user(UserName=old.name)
    new = world.user(ASSUME_ANY, name=old.name)
    denied(lambda: new.sts.assume_role(RoleArn=role_arn, RoleSessionName="s1"), new.arn, "sts:AssumeRole", role_arn)
    # AWS shows the stale unique id, as it can no longer map it back to an ARN
    assert iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"AWS": old_id}


def test_session_tags_need_sts_tag_session(world: World) -> None:
    user = world.user()
    _, role_arn = world.role(trust(user.arn))  # sts:AssumeRole only
    denied(lambda: user.sts.assume_role(RoleArn=role_arn, RoleSessionName="s1", Tags=[{"Key": "team", "Value": "blue"}]),
           user.arn, "sts:TagSession", role_arn)
    denied(lambda: user.sts.assume_role(RoleArn=role_arn, RoleSessionName="s1", Tags=[{"Key": "team", "Value": "blue"}],
                                        TransitiveTagKeys=["team"]), user.arn, "sts:TagSession", role_arn)
    user.assume(role_arn)  # without tags: allowed
    # an identity Deny on sts:TagSession beats a trust policy allowing it
    tagger = world.user(policy(deny("sts:TagSession")))
    _, tag_role = world.role(trust(tagger.arn, actions=ALL_THREE))
    denied(lambda: tagger.sts.assume_role(RoleArn=tag_role, RoleSessionName="s1", Tags=[{"Key": "team", "Value": "blue"}]),
           tagger.arn, "sts:TagSession", tag_role)


def test_source_identity_needs_sts_set_source_identity(world: World) -> None:
    user = world.user()
    _, role_arn = world.role(trust(user.arn, actions=["sts:AssumeRole", "sts:TagSession"]))
    denied(lambda: user.sts.assume_role(RoleArn=role_arn, RoleSessionName="s1", SourceIdentity="alice"),
           user.arn, "sts:SetSourceIdentity", role_arn)
    assert "SourceIdentity" not in user.assume(role_arn).raw


def test_request_tag_condition(world: World) -> None:
    """The trust policy requires a session tag value (id_session-tags.html, "aws:RequestTag")."""
    user = world.user()
    _, role_arn = world.role(trust(user.arn, actions=ALL_THREE, condition={"StringEquals": {"aws:RequestTag/project": "blue"}}))
    for tags in ({}, {"Tags": [{"Key": "project", "Value": "red"}]}, {"Tags": [{"Key": "other", "Value": "blue"}]}):
        denied(lambda: user.sts.assume_role(RoleArn=role_arn, RoleSessionName="s1", **tags),
               user.arn, "sts:AssumeRole", role_arn)
    user.assume(role_arn, Tags=[{"Key": "project", "Value": "blue"}])


def test_role_session_name_condition(world: World) -> None:
    """sts:RoleSessionName in a trust policy: the session must be named after the user (ck_rolesessionname)."""
    user = world.user()
    _, role_arn = world.role(trust(user.arn, condition={"StringEquals": {"sts:RoleSessionName": "${aws:username}"}}))
    for name in ("admin", user.name.upper(), user.name + "x"):
        denied(lambda: user.sts.assume_role(RoleArn=role_arn, RoleSessionName=name), user.arn, "sts:AssumeRole", role_arn)
    user.assume(role_arn, user.name)


def test_principal_tag_condition_and_the_user_cannot_retag_himself(world: World) -> None:
    user = world.user(policy(allow(["sts:AssumeRole", "iam:GetUser"])), tags={"team": "red"})
    _, role_arn = world.role(trust(user.arn, condition={"StringEquals": {"aws:PrincipalTag/team": "blue"}}))
    denied(lambda: user.sts.assume_role(RoleArn=role_arn, RoleSessionName="s1"), user.arn, "sts:AssumeRole", role_arn)
    # the attacker tries to give himself the tag the trust policy wants
    denied(lambda: user.iam.tag_user(UserName=user.name, Tags=[{"Key": "team", "Value": "blue"}]),
           user.arn, "iam:TagUser", user.arn, no_identity_allows("iam:TagUser"))
    assert world.admin_iam().list_user_tags(UserName=user.name)["Tags"] == [{"Key": "team", "Value": "red"}]
    # or passes it as a session tag (a session tag is aws:RequestTag when assuming, not aws:PrincipalTag)
    _, tagging = world.role(trust(user.arn, actions=ALL_THREE, condition={"StringEquals": {"aws:PrincipalTag/team": "blue"}}))
    denied(lambda: user.sts.assume_role(RoleArn=tagging, RoleSessionName="s1", Tags=[{"Key": "team", "Value": "blue"}]),
           user.arn, "sts:AssumeRole", tagging)
    world.admin_iam().tag_user(UserName=user.name, Tags=[{"Key": "team", "Value": "blue"}])
    user.assume(role_arn)  # the control: tagged by the administrator


def test_source_identity_condition(world: World) -> None:
    user = world.user()
    _, role_arn = world.role(trust(user.arn, actions=ALL_THREE, condition={"StringEquals": {"sts:SourceIdentity": "alice"}}))
    for extra in ({}, {"SourceIdentity": "mallory"}, {"SourceIdentity": "Alice"}):
        denied(lambda: user.sts.assume_role(RoleArn=role_arn, RoleSessionName="s1", **extra), user.arn, "sts:AssumeRole", role_arn)
    assert user.assume(role_arn, SourceIdentity="alice").raw["SourceIdentity"] == "alice"


def test_trust_naming_a_renamed_user_follows_the_user_not_the_name(world: World) -> None:
    """IAM keeps the named user's unique id: after UpdateUser changes its name and path, "resource or role policies
    that refer to the user as the principal ... are automatically updated to use the new name or path"
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_users_rename.html). So the renamed user keeps its grant (and
    its deny), the trust policy shows the new ARN, and a newcomer under the old name gets neither."""
    iam = world.admin_iam()
    user = world.user()
    denied_user = world.user(ASSUME_ANY)
    role, role_arn = world.role(trust(user.arn, extra=[statement("Deny", "sts:AssumeRole", None, None, {"AWS": denied_user.arn})]))
    _, account_role = world.role(trust(f"arn:aws:iam::{world.account}:root",
                                       extra=[statement("Deny", "sts:AssumeRole", None, None, {"AWS": denied_user.arn})]))
    new_name, denied_name = unique("robert"), unique("mallory")
    iam.update_user(UserName=user.name, NewUserName=new_name, NewPath="/moved/")
    iam.update_user(UserName=denied_user.name, NewUserName=denied_name)
    new_arn = f"arn:aws:iam::{world.account}:user/moved/{new_name}"
    denied_arn = f"arn:aws:iam::{world.account}:user/{denied_name}"
    shown = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"]["AWS"] for s in shown] == [new_arn, denied_arn]
    out = user.sts.assume_role(RoleArn=role_arn, RoleSessionName="s1")  # the same keys, the user's new ARN
    assert out["AssumedRoleUser"]["Arn"].endswith(f"/{role}/s1")
    assert user.sts.get_caller_identity()["Arn"] == new_arn
    denied(lambda: denied_user.sts.assume_role(RoleArn=account_role, RoleSessionName="s1"), denied_arn, "sts:AssumeRole",
           account_role)
    # newcomers under the old names are other users: no grant, no deny
    newcomer = world.user(ASSUME_ANY, name=user.name)
    denied(lambda: newcomer.sts.assume_role(RoleArn=role_arn, RoleSessionName="s1"), newcomer.arn, "sts:AssumeRole", role_arn)
    world.user(ASSUME_ANY, name=denied_user.name).assume(account_role)
