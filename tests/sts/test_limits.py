"""The table of what each kind of temporary credentials may call (``sts.limits``), against AWS's own sentences for every
STS and IAM operation in botocore's models.

- GetFederationToken: "You cannot call any IAM operations using the AWS CLI or the AWS API. ... You cannot call any STS
  operations except GetCallerIdentity." (https://docs.aws.amazon.com/STS/latest/APIReference/API_GetFederationToken.html)
- GetSessionToken: "You cannot call any IAM API operations unless MFA authentication information is included in the
  request. You cannot call any STS API except AssumeRole or GetCallerIdentity."
  (https://docs.aws.amazon.com/STS/latest/APIReference/API_GetSessionToken.html)
- AssumeRole (and AssumeRoleWithWebIdentity, AssumeRoleWithSAML): "You cannot call the STS GetFederationToken or
  GetSessionToken API operations." (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html)
- GetScopedCredentials, newer than those sentences, is for every kind of temporary credentials: "You can only call
  GetScopedCredentials with temporary credentials" (https://docs.aws.amazon.com/STS/latest/APIReference/API_GetScopedCredentials.html)

The server tests (tests/server/test_session_limits.py) drive the same rules over the wire.
"""
from __future__ import annotations

from types import SimpleNamespace

import botocore.session
import pytest

from iamroles.errors import AccessDenied, InvalidClientTokenId
from iamroles.sts.limits import check_session_limits

_SESSION = botocore.session.get_session()
STS_OPERATIONS = _SESSION.get_service_model("sts").operation_names
IAM_OPERATIONS = _SESSION.get_service_model("iam").operation_names


def allowed(kind: str, mfa: bool, service: str, operation: str) -> bool:
    """AWS's sentences above, as a predicate."""
    if service == "sts" and operation == "GetScopedCredentials":
        return True
    if kind == "federated-user":
        return service == "sts" and operation == "GetCallerIdentity"
    if kind == "session-token":
        return (service == "iam" and mfa) or (service == "sts" and operation in ("AssumeRole", "GetCallerIdentity"))
    return not (service == "sts" and operation in ("GetFederationToken", "GetSessionToken"))


CASES = [(kind, mfa, service, op) for kind in ("federated-user", "session-token", "assumed-role") for mfa in (False, True)
         for service, ops in (("sts", STS_OPERATIONS), ("iam", IAM_OPERATIONS)) for op in ops]


@pytest.mark.parametrize("kind, mfa, service, operation", CASES)
def test_every_operation_against_awss_sentences(kind: str, mfa: bool, service: str, operation: str) -> None:
    session = SimpleNamespace(kind=kind, mfa_time=1_700_000_000 if mfa else None)
    if allowed(kind, mfa, service, operation):
        check_session_limits(session, service, operation)
        return
    expected = InvalidClientTokenId if service == "iam" else AccessDenied
    with pytest.raises(expected) as exc:
        check_session_limits(session, service, operation)
    assert exc.value.status == 403
    if service == "sts":
        assert exc.value.message == f"Cannot call {operation} with session credentials"
    else:
        assert exc.value.message == "The security token included in the request is invalid"


def test_long_term_credentials_are_not_limited() -> None:
    for service, ops in (("sts", STS_OPERATIONS), ("iam", IAM_OPERATIONS)):
        for op in ops:
            check_session_limits(None, service, op)


@pytest.mark.parametrize("kind, mfa, refused", [
    ("federated-user", False, True), ("federated-user", True, True),
    ("session-token", False, True), ("session-token", True, False), ("assumed-role", False, False),
])
def test_launching_workloads_follows_iams_rule(kind: str, mfa: bool, refused: bool) -> None:
    session = SimpleNamespace(kind=kind, mfa_time=1 if mfa else None)
    if refused:
        with pytest.raises(AccessDenied):
            check_session_limits(session, "iamroles", "GetServiceCredentials")
    else:
        check_session_limits(session, "iamroles", "GetServiceCredentials")
    check_session_limits(session, "iamroles", "AuthorizeRequest")  # a service authorising requests is not limited


@pytest.mark.parametrize("service, operation", [("sts", op) for op in STS_OPERATIONS] + [("iam", op) for op in IAM_OPERATIONS])
def test_a_root_session_calls_no_sts_operation_but_get_caller_identity(service: str, operation: str) -> None:
    """AssumeRoot: a privileged root session is "scoped to specific privileged actions"
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_root-user-privileged-task.html): its task policy bounds every
    authorised call, and of STS it calls only GetCallerIdentity (the one call no permission governs); IAM is left to
    its task policy."""
    session = SimpleNamespace(kind="root", mfa_time=None)
    if service == "iam" or operation == "GetCallerIdentity":
        check_session_limits(session, service, operation)
        return
    with pytest.raises(AccessDenied) as exc:
        check_session_limits(session, service, operation)
    assert exc.value.message == f"Cannot call {operation} with session credentials"
    with pytest.raises(AccessDenied):
        check_session_limits(session, "iamroles", "GetServiceCredentials")
