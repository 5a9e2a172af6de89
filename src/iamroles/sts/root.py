"""AssumeRoot: a short privileged root session in a member account of the caller's organization.

AWS's pages: https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoot.html (TargetPrincipal: "The member
account principal ARN or account ID"; TaskPolicyArn one of AWS's five root-task policies; DurationSeconds at most
900, 900 by default; "You cannot use root user credentials to make this call"),
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_root-user-privileged-task.html (the management account's IAM
users and roles with ``sts:AssumeRoot`` "explicitly granted"; the sessions are "scoped to specific privileged
actions"), https://docs.aws.amazon.com/IAM/latest/UserGuide/id_root-user.html#id_root-user-access-management, the
Service Authorization Reference (``sts:AssumeRoot`` on the ``root-user`` resource ``arn:${Partition}:iam::${Account}:root``,
condition key ``sts:TaskPolicyArn``) and reference_policies_condition-keys.html (``aws:AssumedRoot``).

The caller's account is the organization's management account or its delegated administrator for IAM. The session
is the member account's root (GetCallerIdentity: ``arn:aws:iam::MEMBER:root``) with the task policy as
its session policy; SCPs of the member account still apply, as they do to its root. Whether the caller's account may
hold it (it manages the member's organization, which has trusted access for IAM and the features the task needs) is
``iam.root_access.root_session_refusal``, asked here and again on every request the session signs.
"""
from __future__ import annotations

import re
from typing import Any

from iamroles.errors import AccessDenied, InvalidParameterValue, ValidationError
from iamroles.iam.context import CallContext
from iamroles.iam.registry import Input, Output, operation
from iamroles.iam.root_access import root_session_refusal, task_policy

from .sessions import issue

__all__: list[str] = []

MAX_DURATION = 900  # seconds (API_AssumeRoot.html: "up to the maximum session duration of 900 seconds")
_ACCOUNT = re.compile(r"\d{12}\Z")


def _member(ctx: CallContext, inp: Input) -> str:
    """The member account TargetPrincipal names: its id, or its root's ARN in the caller's partition."""
    target = str(inp["TargetPrincipal"])
    if _ACCOUNT.match(target):
        return target
    prefix, suffix = f"arn:{ctx.partition}:iam::", ":root"
    if target.startswith(prefix) and target.endswith(suffix) and _ACCOUNT.match(target[len(prefix):-len(suffix)]):
        return target[len(prefix):-len(suffix)]
    raise ValidationError("TargetPrincipal must be a 12-digit account ID or the ARN of an account's root user "
                          f"(arn:{ctx.partition}:iam::ACCOUNT:root).")


def _root_of(ctx: CallContext, inp: Input) -> str:
    return f"arn:{ctx.partition}:iam::{_member(ctx, inp)}:root"


def _task_arn(inp: Input) -> str:
    return str((inp.get("TaskPolicyArn") or {}).get("arn") or "")


@operation("AssumeRoot", resource=_root_of, keys=lambda ctx, inp: {"sts:TaskPolicyArn": _task_arn(inp)}, service="sts")
def assume_root(ctx: CallContext, inp: Input) -> Output:
    caller = ctx.caller
    if caller.is_root:
        raise AccessDenied("AssumeRoot cannot be called with root user credentials: call it as an IAM user or role "
                           "of the management account.")
    member = _member(ctx, inp)
    given = _task_arn(inp)
    task = task_policy(given, ctx.partition)
    if task is None:
        raise InvalidParameterValue(f"TaskPolicyArn {given[:2048]} is not one of AWS's root-task policies "
                                    f"(arn:{ctx.partition}:iam::aws:policy/root-task/...).")
    refusal, standing = root_session_refusal(ctx.tx, ctx.account_id, member, task)
    if refusal is not None:
        raise AccessDenied(f"User: {caller.principal.arn} is not authorized to perform: sts:AssumeRoot on resource: "
                           f"arn:{ctx.partition}:iam::{member}:root: {refusal}")
    duration = inp["DurationSeconds"] if inp.get("DurationSeconds") is not None else MAX_DURATION
    if not 0 <= duration <= MAX_DURATION:  # (the model's range, which the protocol layer checks first)
        raise ValidationError(f"1 validation error detected: Value '{duration}' at 'durationSeconds' failed to satisfy "
                              f"constraint: Member must have value less than or equal to {MAX_DURATION}")
    source_identity = caller.session.source_identity if caller.session is not None else None
    credentials, _ = issue(ctx, kind="root", duration=duration, account=member, arn=f"arn:{ctx.partition}:iam::{member}:root",
                           user_id=member, principal_key="", policy_arns=[given], source_identity=source_identity,
                           standing=standing)
    out: dict[str, Any] = {"Credentials": credentials}
    if source_identity:
        out["SourceIdentity"] = source_identity
    return out
