"""Centralized root access for the member accounts of an organization: IAM's Organizations features
(Enable/DisableOrganizationsRootCredentialsManagement, Enable/DisableOrganizationsRootSessions,
ListOrganizationsFeatures) and the rule that decides whether a privileged root session (STS AssumeRoot,
``sts/root.py``) may be issued, and may still be used, in a member account.

AWS's pages: https://docs.aws.amazon.com/IAM/latest/UserGuide/id_root-user.html#id_root-user-access-management
and id_root-enable-root-access.html (the features, enabled by the management account once the organization has all
features and trusted access for IAM, ``iam.amazonaws.com``, is enabled in Organizations); the API pages
API_EnableOrganizationsRootCredentialsManagement.html, API_EnableOrganizationsRootSessions.html and their Disable and
List siblings (OrganizationNotFoundException, OrganizationNotInAllFeaturesModeException,
AccountNotManagementOrDelegatedAdministratorException, ServiceAccessNotEnabledException; "When you disable this
feature, the management account and the delegated administrator for IAM can no longer manage root user credentials"
/ "can no longer perform privileged tasks on member accounts"); id_root-user-privileged-task.html (AssumeRoot: the
management account's IAM users and roles, never root user credentials; the five task policies).

What needs which feature: every root session needs RootSessions; one scoped to a root-credentials task
(IAMAuditRootUserCredentials, IAMCreateRootUserPassword, IAMDeleteRootUserCredentials) also needs
RootCredentialsManagement, the feature that lets the management account "manage root user credentials for member
accounts". A session's standing is checked when it is issued and on every request it signs (``iam.authorize``,
cached with the organization's scope): disabling a feature, trusted access, or the account's membership ends what it
allowed at once on this node and within the cache bound on the others, for good. The session carries its standing
(when what it rests on last changed, to the microsecond): enabling a feature again serves new sessions only.

The delegated administrator for IAM (Organizations' RegisterDelegatedAdministrator for ``iam.amazonaws.com``) lists
and disables the features and holds root sessions in the other member accounts, as the management account does;
only the management account enables them (the Enable pages' CallerIsNotManagementAccountException). A root session
in the management account itself is no member's: refused.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from iamroles.errors import (
    AccountNotManagementOrDelegatedAdministrator,
    CallerIsNotManagementAccount,
    OrganizationNotFound,
    OrganizationNotInAllFeaturesMode,
    ServiceAccessNotEnabled,
)
from iamroles.policy import Arn
from iamroles.store import Scope, Tx, org_member_scope, org_scope

from .context import CallContext
from .registry import Input, Output, operation

__all__ = ["IAM_SERVICE_PRINCIPAL", "ROOT_CREDENTIALS_MANAGEMENT", "ROOT_SESSIONS", "TASK_POLICIES", "root_session_refusal",
           "task_policy"]

ROOT_CREDENTIALS_MANAGEMENT = "RootCredentialsManagement"
ROOT_SESSIONS = "RootSessions"
IAM_SERVICE_PRINCIPAL = "iam.amazonaws.com"
# AWS's task policies (arn:aws:iam::aws:policy/root-task/NAME, API_AssumeRoot.html), by name: the features each needs
_CREDENTIALS = frozenset({ROOT_SESSIONS, ROOT_CREDENTIALS_MANAGEMENT})
TASK_POLICIES: dict[str, frozenset[str]] = {
    "IAMAuditRootUserCredentials": _CREDENTIALS,
    "IAMCreateRootUserPassword": _CREDENTIALS,
    "IAMDeleteRootUserCredentials": _CREDENTIALS,
    "S3UnlockBucketPolicy": frozenset({ROOT_SESSIONS}),
    "SQSUnlockQueuePolicy": frozenset({ROOT_SESSIONS}),
}
_TASK_PATH = "policy/root-task/"


def task_policy(arn: str, partition: str) -> str | None:
    """The ARN of the task policy ``arn`` names in ``partition`` (``arn:PARTITION:iam::aws:policy/root-task/NAME``),
    None if it names none."""
    named = Arn.maybe(arn)
    if named is None or named.partition != partition or named.service != "iam" or named.account != "aws" \
            or named.region or not named.resource.startswith(_TASK_PATH):
        return None
    name = named.resource[len(_TASK_PATH):]
    return f"arn:{partition}:iam::aws:{_TASK_PATH}{name}" if name in TASK_POLICIES else None


def _micros(when: datetime) -> int:
    return int(when.timestamp()) * 1_000_000 + when.microsecond


def root_session_refusal(tx: Tx, issuer_account: str, member: str, task_arn: str, standing: int | None = None,
                         depends: list[Scope] | None = None) -> tuple[str | None, int]:
    """Why ``issuer_account`` may not hold a root session of ``task_arn`` in ``member`` (None: it may), and the
    standing it rests on (epoch microseconds of the latest of the member's joining, IAM's trusted access and the
    features the task needs). The member must be an account of the organization ``issuer_account`` manages, other
    than itself, with trusted access for IAM and the features the task needs enabled; for a session issued with
    ``standing``, none of them changed since. ``depends`` gets the scopes read."""
    if depends is not None:
        depends += [org_member_scope(member), org_member_scope(issuer_account)]
    org = tx.organization_of(member)
    admin = [] if org is None or org["management_account_id"] == issuer_account else \
        tx.org_delegations(org["org_id"], issuer_account, IAM_SERVICE_PRINCIPAL)
    if org is None or (org["management_account_id"] != issuer_account and not admin):
        return f"account {member} is not a member account of an organization that your account manages", 0
    if depends is not None:
        depends.append(org_scope(org["org_id"]))
    if member in (issuer_account, org["management_account_id"]):
        return "a root session is for a member account other than the management account and your own", 0
    trusted = {r["service_principal"]: r["enabled_at"] for r in tx.org_service_access(org["org_id"])}
    if IAM_SERVICE_PRINCIPAL not in trusted:
        return "trusted access for IAM (iam.amazonaws.com) is not enabled in the organization", 0
    features = tx.org_root_features(org["org_id"])
    needed = TASK_POLICIES.get(task_arn.rsplit("/", 1)[-1], frozenset({ROOT_SESSIONS}))
    missing = sorted(needed - set(features))
    if missing:
        return f"the organization has not enabled {' and '.join(missing)} for centralized root access", 0
    stamp = max(_micros(when) for when in [org["joined_at"], trusted[IAM_SERVICE_PRINCIPAL], *(features[f] for f in needed),
                                           *(d["enabled_at"] for d in admin)])
    if standing is not None and stamp > standing:
        return "what the session rested on changed since it was issued", stamp
    return None, stamp


# -- the features ------------------------------------------------------------------------------------------------
def _organization(ctx: CallContext, enabling: bool = False) -> dict[str, Any]:
    """The caller's organization, if the caller's account manages it (or is its delegated administrator for IAM,
    but to enable a feature), has all features and has trusted access for IAM: each refused with its error, in that
    order (another member account learns nothing of its organization's state)."""
    org = ctx.tx.organization_of(ctx.account_id)
    if org is None:
        raise OrganizationNotFound("The request was rejected because no organization is associated with your account.")
    if org["management_account_id"] != ctx.account_id:
        if not ctx.tx.org_delegations(org["org_id"], ctx.account_id, IAM_SERVICE_PRINCIPAL):
            raise AccountNotManagementOrDelegatedAdministrator(
                "The request was rejected because the account making the request is not the management account or "
                "delegated administrator account for centralized root access.")
        if enabling:
            raise CallerIsNotManagementAccount("The request was rejected because the account making the request is "
                                               "not the management account for the organization.")
    if org["feature_set"] != "ALL":
        raise OrganizationNotInAllFeaturesMode(
            "The request was rejected because your organization does not have All features enabled.")
    if IAM_SERVICE_PRINCIPAL not in {r["service_principal"] for r in ctx.tx.org_service_access(org["org_id"])}:
        raise ServiceAccessNotEnabled(
            "The request was rejected because trusted access is not enabled for IAM in Organizations.")
    return org


def _features(ctx: CallContext, org: dict[str, Any]) -> Output:
    return {"OrganizationId": org["org_id"], "EnabledFeatures": sorted(ctx.tx.org_root_features(org["org_id"]))}


def _set(ctx: CallContext, feature: str, enabled: bool) -> Output:
    org = _organization(ctx, enabling=enabled)
    ctx.tx.lock_organization(org["org_id"])  # (PostgreSQL: concurrent enables of one feature take turns)
    ctx.tx.set_org_root_feature(org["org_id"], feature, enabled, ctx.now)
    return _features(ctx, org)


def _anything(ctx: CallContext, inp: Input) -> str:
    return "*"  # these actions have no resource type (the Service Authorization Reference's IAM table)


@operation("EnableOrganizationsRootCredentialsManagement", resource=_anything, write=True)
def enable_organizations_root_credentials_management(ctx: CallContext, inp: Input) -> Output:
    return _set(ctx, ROOT_CREDENTIALS_MANAGEMENT, True)


@operation("DisableOrganizationsRootCredentialsManagement", resource=_anything, write=True)
def disable_organizations_root_credentials_management(ctx: CallContext, inp: Input) -> Output:
    return _set(ctx, ROOT_CREDENTIALS_MANAGEMENT, False)


@operation("EnableOrganizationsRootSessions", resource=_anything, write=True)
def enable_organizations_root_sessions(ctx: CallContext, inp: Input) -> Output:
    return _set(ctx, ROOT_SESSIONS, True)


@operation("DisableOrganizationsRootSessions", resource=_anything, write=True)
def disable_organizations_root_sessions(ctx: CallContext, inp: Input) -> Output:
    return _set(ctx, ROOT_SESSIONS, False)


@operation("ListOrganizationsFeatures", resource=_anything)
def list_organizations_features(ctx: CallContext, inp: Input) -> Output:
    return _features(ctx, _organization(ctx))
