"""Role credentials for a service acting on someone's behalf (iamroles' own API, not an AWS operation).

On AWS a person launching a workload with a role (an ECS task, an EC2
instance profile, a Lambda function) must be allowed ``iam:PassRole`` on the
role, with ``iam:PassedToService`` naming the service, and the service then
assumes the role as its service principal, so the role's trust policy must
trust that service:
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html,
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#ck_PassedToService.

``iamroles exec`` and ``iamroles metadata`` play the service: they call
:func:`service_credentials` with the launching person's credentials.

On AWS ``iam:PassRole`` alone launches nothing: the launch itself (``ecs:RunTask``,
``ec2:RunInstances``, ``lambda:CreateFunction``) is authorised first. Here the launch is iamroles'
own action :data:`LAUNCH_ACTION` (``iamroles:LaunchWorkload``), on the role's ARN, with the
condition key ``iamroles:ServicePrincipal`` naming the service launched; both it and
``iam:PassRole`` must be allowed.
"""
from __future__ import annotations

import re
import secrets
from typing import Any

from iamroles.errors import AccessDenied, NoSuchEntity, ValidationError
from iamroles.iam.authorize import decide, decide_trust
from iamroles.iam.context import CallContext
from iamroles.policy import Arn, PolicyKind, PolicyType, Principal, PrincipalType

from .sessions import issue

__all__ = ["service_credentials", "SERVICE_PRINCIPAL", "LAUNCH_ACTION", "SERVICE_PRINCIPAL_KEY"]

LAUNCH_ACTION = "iamroles:LaunchWorkload"
SERVICE_PRINCIPAL_KEY = "iamroles:ServicePrincipal"
# A service principal as trust policies name them: "ecs-tasks.amazonaws.com", or a platform's own name.
SERVICE_PRINCIPAL = re.compile(r"^[a-z0-9][a-z0-9-]*(\.[a-z0-9][a-z0-9-]*)+$")
SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,64}$")
MIN_DURATION, MAX_DURATION = 900, 43200


def _string(inp: dict[str, Any], name: str) -> str | None:
    value = inp.get(name)
    if value is not None and not isinstance(value, str):
        raise ValidationError(f"1 validation error detected: Value at '{name}' failed to satisfy constraint: Member must be a string")
    return value


def _role(ctx: CallContext, inp: dict[str, Any]) -> Any:
    given = [n for n in ("RoleArn", "RoleName", "InstanceProfileName") if inp.get(n) is not None]
    if len(given) != 1:
        raise ValidationError("Give exactly one of RoleArn, RoleName or InstanceProfileName.")
    if inp.get("RoleArn") is not None:
        arn = _string(inp, "RoleArn") or ""
        named = Arn.maybe(arn)
        if named is None or not named.is_iam("role"):
            raise ValidationError(f"{arn} is invalid")
        if named.account != ctx.account_id:
            # a role is passed only within its own account
            raise AccessDenied(f"User: {ctx.caller.principal.arn} is not authorized to perform: iam:PassRole on resource: {arn}")
        name = named.name
        role = ctx.tx.entity("role", ctx.account_id, name)
        if role is None or role.arn != arn:
            raise NoSuchEntity(f"The role with name {name} cannot be found.")
        return role
    if inp.get("RoleName") is not None:
        name = _string(inp, "RoleName") or ""
        role = ctx.tx.entity("role", ctx.account_id, name)
        if role is None:
            raise NoSuchEntity(f"The role with name {name} cannot be found.")
        return role
    name = _string(inp, "InstanceProfileName") or ""
    profile = ctx.tx.entity("instance_profile", ctx.account_id, name)
    if profile is None:
        raise NoSuchEntity(f"Instance Profile {name} cannot be found.")
    role_keys = ctx.tx.profile_roles(ctx.account_id, profile.key)
    role = ctx.tx.entity("role", ctx.account_id, role_keys[0]) if role_keys else None
    if role is None:
        raise NoSuchEntity(f"Instance Profile {name} has no role.")
    return role


def service_credentials(ctx: CallContext, inp: dict[str, Any]) -> dict[str, Any]:
    """PassRole by the caller, then AssumeRole by the service principal: the role's session credentials."""
    service = _string(inp, "ServicePrincipal")
    if not service or not SERVICE_PRINCIPAL.match(service) or len(service) > 128:
        raise ValidationError(f"ServicePrincipal {service!r} is not a service principal such as 'ecs-tasks.amazonaws.com'.")
    duration = inp.get("DurationSeconds", 3600)
    if not isinstance(duration, int) or isinstance(duration, bool) or not MIN_DURATION <= duration <= MAX_DURATION:
        raise ValidationError(f"1 validation error detected: Value '{duration}' at 'durationSeconds' failed to satisfy constraint: "
                              f"Member must have value between {MIN_DURATION} and {MAX_DURATION}")
    session_name = _string(inp, "RoleSessionName") or f"{service.split('.')[0]}-{secrets.token_hex(8)}"
    if not SESSION_NAME.match(session_name):
        raise ValidationError(f"1 validation error detected: Value '{session_name}' at 'roleSessionName' failed to satisfy constraint: "
                              r"Member must satisfy regular expression pattern: [\w+=,.@-]*")
    role = _role(ctx, inp)

    # 1. the person launches a workload with the role (as ecs:RunTask / ec2:RunInstances, checked first on AWS),
    #    passing the role to the service
    if not ctx.caller.is_root or ctx.caller.task_scoped:  # (a root session is bounded by its task policy)
        for action, keys in ((LAUNCH_ACTION, {SERVICE_PRINCIPAL_KEY: service}), ("iam:PassRole", {"iam:PassedToService": service})):
            decision = decide(ctx, action, role.arn, keys)
            if not decision.allowed:
                raise AccessDenied(decision.message())
    # 2. the service assumes it: the trust policy must trust the service principal
    trust = ctx.cache.compiled(role.trust_policy, PolicyKind.TRUST, f"trust:{role.arn}")
    context = {"aws:SourceAccount": ctx.account_id, "sts:RoleSessionName": session_name,
               "aws:SourceIp": ctx.source_ip, "aws:SecureTransport": "true" if ctx.secure_transport else "false"}
    trusted = decide_trust(ctx, Principal(PrincipalType.SERVICE, service=service), "sts:AssumeRole", role.arn,
                           role.account_id, trust, context)
    if not trusted.allowed:
        if trusted.denied_by is PolicyType.RCP:  # the organization's guardrail, not the role, refused the service
            raise AccessDenied(trusted.message())
        raise AccessDenied(f"{service} is not authorized to perform: sts:AssumeRole on resource: {role.arn}: "
                           "the role's trust policy does not trust this service")
    if duration > role.max_session_duration:
        raise ValidationError("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
    credentials, claims = issue(
        ctx, kind="assumed-role", duration=duration, account=role.account_id,
        arn=f"arn:{ctx.partition}:sts::{role.account_id}:assumed-role/{role.name}/{session_name}",
        user_id=f"{role.id}:{session_name}", principal_key=role.key, role_arn=role.arn, session_name=session_name,
    )
    ctx.role_used = (role.account_id, role.key)
    return {
        "Credentials": credentials,
        "AssumedRoleUser": {"AssumedRoleId": claims.user_id, "Arn": claims.arn},
        "RoleArn": role.arn,
        "RoleName": role.name,
        "ServerTime": ctx.now,
    }
