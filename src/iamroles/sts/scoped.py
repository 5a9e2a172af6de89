"""GetScopedCredentials: the caller's own session again, with less.

AWS reference: https://docs.aws.amazon.com/STS/latest/APIReference/API_GetScopedCredentials.html. The new credentials
keep the calling session's identity (its ARN, session name, source identity, tags, MFA), add the request's ``Policy``
as a scope-down policy that must allow as well ("the intersection of the calling session's existing permissions and
this scope down policy"; at most three layers: a fourth is AccessDenied), and end no later than the calling session
(``DurationSeconds`` past its remaining lifetime is InsufficientSessionLifetime; without it the expiration is
inherited). Only temporary credentials can be scoped (InvalidSubjectCredentials for an IAM user's or the root's
long-term keys). It needs no permission: it can only take permissions away, as GetSessionToken needs none.

Where AWS says nothing: ``MinimumSessionTokenSize`` pads the token to at least that many characters (for clients
that must be ready for long tokens); ``SessionTokenSize`` is the token's length; ``SessionTokenUtilization`` is the
share, in percent, of the packed-policy budget the session's policies use (the measure PackedPolicySize reports
for AssumeRole here). The STS global endpoint, where AWS refuses the call, is not a distinction iamroles has.
"""
from __future__ import annotations

import dataclasses
import math
import secrets
from typing import Any

from iamroles.errors import AccessDenied, InsufficientSessionLifetime, InvalidSubjectCredentials, PackedPolicyTooLarge, ValidationError
from iamroles.iam.common import check_document
from iamroles.iam.context import CallContext
from iamroles.iam.registry import Input, Output, operation
from iamroles.policy import PolicyKind
from iamroles.tokens import new_access_key_id, new_secret_access_key, seal

from .sessions import _packed

__all__ = ["MAX_SCOPES"]

MAX_SCOPES = 3  # "A maximum of 3 scope down policy layers are allowed per session"


@operation("GetScopedCredentials", resource=None, service="sts")
def get_scoped_credentials(ctx: CallContext, inp: Input) -> Output:
    session = ctx.caller.session
    if session is None:
        raise InvalidSubjectCredentials("GetScopedCredentials must be called with temporary security credentials, "
                                        "not with an IAM user's or the root user's access keys.")
    policy, duration = inp.get("Policy"), inp.get("DurationSeconds")
    if policy is None and duration is None:
        raise ValidationError("A request must provide at least one of Policy or DurationSeconds.")
    now = int(ctx.now.timestamp())
    remaining = session.expires - now
    if duration is not None and duration > remaining:
        raise InsufficientSessionLifetime(f"The requested DurationSeconds ({duration}) is greater than the remaining "
                                          f"lifetime of the calling session ({remaining} seconds).")
    scopes = tuple(session.scopes)
    if policy is not None:
        check_document(policy, PolicyKind.SESSION)
        if len(scopes) >= MAX_SCOPES:
            raise AccessDenied(f"The calling session already has {MAX_SCOPES} scope-down policies; "
                               "GetScopedCredentials cannot add another.")
        scopes += (policy,)
    packed = _packed("\n".join(filter(None, (session.policy, *scopes))) or None, list(session.policy_arns), dict(session.tags))
    if packed > 100:
        raise PackedPolicyTooLarge(f"Packed policy consumes {packed}% of allotted space, please use smaller policy.")
    claims = dataclasses.replace(
        session, access_key_id=new_access_key_id("ASIA", session.account), secret=new_secret_access_key(), issued=now,
        expires=now + duration if duration is not None else session.expires, scopes=scopes, padding="")
    token = seal(claims, ctx.keyring.current)
    wanted = inp.get("MinimumSessionTokenSize") or 0
    while len(token) < wanted:  # (random filler: the sealed claims are compressed, and a run of one letter is not)
        claims = dataclasses.replace(claims, padding=claims.padding + secrets.token_urlsafe(math.ceil((wanted - len(token)) * 3 / 4) + 1))
        token = seal(claims, ctx.keyring.current)
    from datetime import UTC, datetime

    out: dict[str, Any] = {
        "Credentials": {"AccessKeyId": claims.access_key_id, "SecretAccessKey": claims.secret, "SessionToken": token,
                        "Expiration": datetime.fromtimestamp(claims.expires, UTC)},
        "SessionInfo": {"ScopedSessionId": session.user_id, "Arn": session.arn},
        "SessionTokenUtilization": packed,
        "SessionTokenSize": len(token),
        "ScopedPoliciesCount": len(scopes),
    }
    if session.source_identity:
        out["SourceIdentity"] = session.source_identity
    return out
