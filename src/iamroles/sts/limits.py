"""What each kind of temporary credentials may call, whatever its policies allow: one table, checked before any
operation runs.

AWS documents these limits per STS operation (IAM User Guide, "Compare AWS STS credentials":
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_sts-comparison.html, and
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_request.html):

* GetFederationToken: no IAM operation, no STS operation but GetCallerIdentity
  (https://docs.aws.amazon.com/STS/latest/APIReference/API_GetFederationToken.html,
  https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_getfederationtoken.html);
* GetSessionToken: IAM operations only when MFA was given to GetSessionToken; STS only AssumeRole and
  GetCallerIdentity (https://docs.aws.amazon.com/STS/latest/APIReference/API_GetSessionToken.html,
  https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_getsessiontoken.html);
* AssumeRole, AssumeRoleWithWebIdentity, AssumeRoleWithSAML: not GetFederationToken or GetSessionToken
  (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html);
* every kind of session but a privileged root session (below) may call GetScopedCredentials ("You can only call GetScopedCredentials with temporary
  security credentials, for example, credentials from an assumed role or a federated session",
  https://docs.aws.amazon.com/STS/latest/APIReference/API_GetScopedCredentials.html); a scoped session keeps its kind
  and so these limits.
* AssumeRoot: a privileged root session does only its task (id_root-user-privileged-task.html; its task policy
  bounds every authorised call): of STS only GetCallerIdentity, which needs no permission and so is all that no
  task policy could refuse; the STS calls that issue credentials or are not authorised would step outside the task
  (GetScopedCredentials too: a root session is scoped by its task already).

How AWS refuses them: IAM does not accept such a token at all, InvalidClientTokenId "The security token included
in the request is invalid" (HTTP 403; GetSessionToken without MFA: 99designs/aws-vault#15, cloudyr/aws.iam#15;
GetFederationToken: jantman/awslimitchecker#139); STS answers AccessDenied "Cannot call GetSessionToken with
session credentials" (aws/aws-sdk-net#1704, aws/aws-sdk-js#3670) and "Cannot call GetFederationToken with session
credentials" (hashicorp/vault#4108, fwdcloudsec/granted#151), the wording used here for every refused STS call.

iamroles' own API (service ``iamroles``) follows IAM's rule for launching workloads with a role: passing a role is
an IAM permission that federation-token credentials, and session-token credentials without MFA, cannot use.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from iamroles.errors import AccessDenied, AwsError, InvalidClientTokenId

__all__ = ["Allowance", "LIMITS", "check_session_limits"]


@dataclass(frozen=True, slots=True)
class Allowance:
    """The operations of one service that one kind of session may call."""

    only: frozenset[str] | None = None  # only these (None: any not refused)
    refused: frozenset[str] = frozenset()  # never these
    mfa_lifts: bool = False  # a session authenticated with MFA is not limited here

    def allows(self, operation: str, mfa: bool) -> bool:
        if self.mfa_lifts and mfa:
            return True
        if self.only is not None and operation not in self.only:
            return False
        return operation not in self.refused


_NONE = Allowance(only=frozenset())
_LAUNCH = frozenset({"GetServiceCredentials"})

# session kind (SessionClaims.kind) -> service -> what it may call; a service not listed is not limited
LIMITS: dict[str, dict[str, Allowance]] = {
    "federated-user": {
        "iam": _NONE,
        "sts": Allowance(only=frozenset({"GetCallerIdentity", "GetScopedCredentials"})),
        "iamroles": Allowance(refused=_LAUNCH),
    },
    "session-token": {
        "iam": Allowance(only=frozenset(), mfa_lifts=True),
        "sts": Allowance(only=frozenset({"AssumeRole", "GetCallerIdentity", "GetScopedCredentials"})),
        "iamroles": Allowance(refused=_LAUNCH, mfa_lifts=True),
    },
    "assumed-role": {
        "sts": Allowance(refused=frozenset({"GetFederationToken", "GetSessionToken"})),
    },
    # a delegation's credentials (sts.delegation): they mint no other kind of session and take no part in delegation
    # themselves, whatever the permission policy says (a partner must not pass the customer's trust on)
    "delegated": {
        "sts": Allowance(refused=frozenset({"GetFederationToken", "GetSessionToken", "GetDelegatedAccessToken"})),
        "iam": Allowance(refused=frozenset({"AcceptDelegationRequest", "AssociateDelegationRequest", "CreateDelegationRequest",
                                            "SendDelegationToken", "UpdateDelegationRequest"})),
        "iamroles": Allowance(refused=_LAUNCH | {"ReceiveDelegationToken"}),
    },
    "root": {
        "sts": Allowance(only=frozenset({"GetCallerIdentity"})),
        "iamroles": Allowance(refused=_LAUNCH | {"ReceiveDelegationToken"}),
    },
}

_ISSUER = {"federated-user": "GetFederationToken", "session-token": "GetSessionToken", "delegated": "GetDelegatedAccessToken",
           "root": "AssumeRoot"}


def _refusal(service: str, operation: str, kind: str) -> AwsError:
    if service == "iam":
        return InvalidClientTokenId("The security token included in the request is invalid")
    if service == "sts":
        return AccessDenied(f"Cannot call {operation} with session credentials")
    condition = " without MFA" if kind == "session-token" else ""
    return AccessDenied(f"Cannot call {operation} with credentials from {_ISSUER.get(kind, kind)}{condition}")


def check_session_limits(session: Any, service: str, operation: str) -> None:
    """Raise AWS's error if temporary credentials of this kind may not call ``service``'s ``operation``
    (``session``: the caller's SessionClaims, None for long-term credentials, which are not limited here)."""
    if session is None:
        return
    allowance = LIMITS.get(session.kind, {}).get(service)
    if allowance is not None and not allowance.allows(operation, session.mfa_time is not None):
        raise _refusal(service, operation, session.kind)
