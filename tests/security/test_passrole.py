"""Attacks on workload credentials (``POST /iamroles/v1/service-credentials``): launching a workload with a role.

AWS rules:

* https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html passing a role to a service needs
  iam:PassRole on the role; iam:PassedToService narrows it to one service
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#ck_PassedToService);
  a role can be passed only within its own account.
* The launch itself is authorised first on AWS (ecs:RunTask, ec2:RunInstances); iamroles' own action for it is
  iamroles:LaunchWorkload on the role's ARN with the key iamroles:ServicePrincipal (README, "iamroles' own API").
* https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-services
  (a role trusting a service principal is assumed by that service only) and
  https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html (aws:SourceAccount in a service trust).
* https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html (a boundary limits every action
  its user's identity policies allow).
"""
from __future__ import annotations

import json
from typing import Any

import httpx

from .conftest import ASSUME_ANY, EC2, ECS, LAUNCH, Creds, World, allow, deny, not_authorized, policy, statement, trust


def launch_policy(role: str = "*", service: str | None = ECS, pass_service: str | None = ECS) -> dict[str, Any]:
    """iamroles:LaunchWorkload and iam:PassRole on ``role``, each narrowed to a service (None: any)."""
    return policy(
        allow(LAUNCH, role, {"StringEquals": {"iamroles:ServicePrincipal": service}} if service else None),
        allow("iam:PassRole", role, {"StringEquals": {"iam:PassedToService": pass_service}} if pass_service else None),
    )


def launch(who: Creds, body: dict[str, Any]) -> httpx.Response:
    return who.api("service-credentials", body)


def api_refused(r: httpx.Response, code: str, status: int) -> str:
    """The API's refusal: AWS's code and status in its JSON envelope, and no credentials."""
    doc = r.json()
    assert (r.status_code, doc["Error"]["Code"], doc["Error"]["HttpStatus"]) == (status, code, status), r.text
    assert "Credentials" not in doc and "AccessKeyId" not in r.text
    return str(doc["Error"]["Message"])


def service_trust(service: str, condition: dict[str, Any] | None = None) -> str:
    return trust(service=service, condition=condition)


def test_pass_role_alone_launches_nothing(world: World) -> None:
    _, role_arn = world.role(service_trust(ECS), policy(allow("*")))
    user = world.user(policy(allow("iam:PassRole", role_arn, {"StringEquals": {"iam:PassedToService": ECS}})))
    message = api_refused(launch(user, {"RoleArn": role_arn, "ServicePrincipal": ECS}), "AccessDenied", 403)
    assert message == (f"{not_authorized(user.arn, LAUNCH, role_arn)} "
                       f"because no identity-based policy allows the {LAUNCH} action")


def test_launch_workload_for_another_service_does_not_launch_this_one(world: World) -> None:
    _, role_arn = world.role(service_trust(ECS))
    user = world.user(launch_policy(role_arn, service=EC2, pass_service=None))
    message = api_refused(launch(user, {"RoleArn": role_arn, "ServicePrincipal": ECS}), "AccessDenied", 403)
    assert message.startswith(not_authorized(user.arn, LAUNCH, role_arn) + " ")


def test_pass_role_for_another_service_does_not_pass_it_to_this_one(world: World) -> None:
    _, role_arn = world.role(service_trust(ECS))
    user = world.user(launch_policy(role_arn, service=None, pass_service=EC2))
    message = api_refused(launch(user, {"RoleArn": role_arn, "ServicePrincipal": ECS}), "AccessDenied", 403)
    assert message == f"{not_authorized(user.arn, 'iam:PassRole', role_arn)} because no identity-based policy allows the iam:PassRole action"


def test_explicit_deny_on_pass_role_beats_allow_everything(world: World) -> None:
    role, role_arn = world.role(service_trust(ECS))
    user = world.user(policy(allow("*"), deny("iam:PassRole", role_arn)))
    message = api_refused(launch(user, {"RoleName": role, "ServicePrincipal": ECS}), "AccessDenied", 403)
    assert message == f"{not_authorized(user.arn, 'iam:PassRole', role_arn)} with an explicit deny in an identity-based policy"


def test_assume_anything_cannot_launch(world: World) -> None:
    _, role_arn = world.role(service_trust(ECS))
    user = world.user(ASSUME_ANY)
    api_refused(launch(user, {"RoleArn": role_arn, "ServicePrincipal": ECS}), "AccessDenied", 403)


def test_boundary_blocks_launching(world: World) -> None:
    _, role_arn = world.role(service_trust(ECS))
    boundary = world.managed(policy(allow("iam:GetUser")))
    user = world.user(launch_policy(role_arn), boundary=boundary)
    message = api_refused(launch(user, {"RoleArn": role_arn, "ServicePrincipal": ECS}), "AccessDenied", 403)
    assert message == f"{not_authorized(user.arn, LAUNCH, role_arn)} because no permissions boundary allows the {LAUNCH} action"


def test_role_that_does_not_trust_the_service_is_not_launched(world: World) -> None:
    user = world.user(launch_policy(service=None, pass_service=None))
    other = world.user()
    cases = {
        "trusts-another-service": service_trust(EC2),
        "trusts-a-user": trust(other.arn),
        "trusts-the-account": trust(f"arn:aws:iam::{world.account}:root"),
        # the confused-deputy guard: the service acts for another account only
        "source-account-is-another": service_trust(ECS, {"StringEquals": {"aws:SourceAccount": "999999999999"}}),
    }
    for case, document in cases.items():
        _, role_arn = world.role(document, policy(allow("*")))
        message = api_refused(launch(user, {"RoleArn": role_arn, "ServicePrincipal": ECS}), "AccessDenied", 403)
        assert f"{ECS} is not authorized to perform: sts:AssumeRole on resource: {role_arn}" in message, case


def test_instance_profile_role_must_trust_ec2(world: World) -> None:
    role, role_arn = world.role(service_trust(ECS))
    profile = f"ip-{role}"
    world.admin_iam().create_instance_profile(InstanceProfileName=profile)
    world.admin_iam().add_role_to_instance_profile(InstanceProfileName=profile, RoleName=role)
    user = world.user(launch_policy(service=EC2, pass_service=EC2))
    message = api_refused(launch(user, {"InstanceProfileName": profile, "ServicePrincipal": EC2}), "AccessDenied", 403)
    assert f"{EC2} is not authorized to perform: sts:AssumeRole on resource: {role_arn}" in message


def test_role_of_another_account_cannot_be_passed(world: World) -> None:
    b = world.other_account()
    _, b_role_arn = world.role(json.dumps(policy(statement("Allow", "sts:AssumeRole", None, None, {"Service": ECS}))), account=b)
    user = world.user(launch_policy(service=None, pass_service=None))
    message = api_refused(launch(user, {"RoleArn": b_role_arn, "ServicePrincipal": ECS}), "AccessDenied", 403)
    assert message.startswith(not_authorized(user.arn, "iam:PassRole", b_role_arn))


def test_the_control_launch_with_every_permission(world: World) -> None:
    role, role_arn = world.role(service_trust(ECS))
    user = world.user(launch_policy(role_arn))
    r = launch(user, {"RoleArn": role_arn, "ServicePrincipal": ECS, "RoleSessionName": "task-1"})
    assert r.status_code == 200, r.text
    assert r.json()["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{world.account}:assumed-role/{role}/task-1"
