"""GetWebIdentityToken: a JWT that says who the caller is, signed by its account's issuer, for other systems.

The account must have enabled outbound identity federation (``iam/outbound.py``). The token's claims are AWS's
(https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_outbound_token_claims.html): ``iss`` the
account's issuer URL, ``sub`` the caller's ARN (a role session's role: "For a role session, this is the ARN of the
role", STS's model), ``aud`` the audiences asked for (a string for one, a list for several), ``iat``, ``exp``,
``jti``, and under the ``https://sts.amazonaws.com/`` namespace ``aws_account``, ``source_region``,
``principal_id``, ``org_id`` and ``ou_path`` when the account is in an organization, ``principal_tags`` (the
caller's tags, a session's own over its role's) and ``request_tags`` (the request's Tags).

Authorised as ``sts:GetWebIdentityToken`` on ``*`` with ``sts:IdentityTokenAudience`` (every audience),
``sts:DurationSeconds`` (the token's lifetime, 300 when not asked for, so that a limit on it holds for requests that
do not name one) and ``sts:SigningAlgorithm``; with Tags, also ``sts:TagGetWebIdentityToken`` with
``aws:RequestTag/*`` and ``aws:TagKeys`` (the Service Authorization Reference for STS, through ``iamroles.catalog``).

AWS references: https://docs.aws.amazon.com/STS/latest/APIReference/API_GetWebIdentityToken.html (DurationSeconds
60..3600, default 300; RS256 or ES384; up to 10 audiences and 50 tags; SessionDurationEscalationException,
OutboundWebIdentityFederationDisabledException, JWTPayloadSizeExceededException),
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_outbound_getting_started.html.

Choices where AWS is silent: a session's token may not outlive the session (SessionDurationEscalationException);
the payload's JSON may hold :data:`MAX_PAYLOAD` bytes (a token travels in HTTP headers, which servers commonly cap
at 8 KiB); SubjectMode ``OriginIdentity`` needs a trusted identity propagation context, which no iamroles session
has, so it and Scope (allowed only with it) are refused with ValidationError, as AWS refuses a session without one.
The token is a secret: the model marks it sensitive, so the audit trail records the call but never the token.
"""
from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from iamroles.errors import (
    InvalidParameterValue,
    JWTPayloadSizeExceeded,
    OutboundWebIdentityFederationDisabled,
    SessionDurationEscalation,
    ValidationError,
)
from iamroles.iam.authorize import account_standing, authorize
from iamroles.iam.context import CallContext
from iamroles.iam.outbound import signing_key
from iamroles.iam.registry import Input, Output, operation
from iamroles.policy import PrincipalType
from iamroles.tokens.jwt import SIGNING_ALGORITHMS, encode_claims, sign_jwt

__all__ = ["AWS_NAMESPACE", "DEFAULT_DURATION", "MAX_PAYLOAD"]

AWS_NAMESPACE = "https://sts.amazonaws.com/"
DEFAULT_DURATION = 300
MAX_PAYLOAD = 8192


def _duration(inp: Input) -> int:
    return int(inp.get("DurationSeconds") or DEFAULT_DURATION)


def _tags(inp: Input) -> dict[str, str]:
    tags = {t["Key"]: t["Value"] for t in inp.get("Tags") or []}
    if len({k.lower() for k in tags}) != len(inp.get("Tags") or []):
        # as AssumeRole answers it (tag keys are case-insensitive: id_session-tags.html)
        raise InvalidParameterValue("Duplicate tag keys found. Please note that Tag keys are case insensitive.")
    return tags


def _checked(inp: Input) -> dict[str, str]:
    """What the model's constraints leave to the service, refused before anything is decided: the algorithm, the
    subject mode and scope, duplicate tag keys. The request's tags."""
    algorithm = inp["SigningAlgorithm"]
    if algorithm not in SIGNING_ALGORITHMS:
        raise ValidationError(f"1 validation error detected: Value '{algorithm}' at 'signingAlgorithm' failed to satisfy "
                              f"constraint: Member must satisfy enum value set: [{', '.join(SIGNING_ALGORITHMS)}]")
    if inp.get("SubjectMode") == "OriginIdentity":
        raise ValidationError("SubjectMode OriginIdentity needs the aws:OriginIdentity/Subject key in the calling session's "
                              "trusted identity propagation context, and this session has none.")
    if inp.get("Scope") is not None:
        raise ValidationError("Scope can be specified only when SubjectMode is OriginIdentity and exactly one Audience is requested.")
    return _tags(inp)


def _keys(ctx: CallContext, inp: Input) -> dict[str, Any]:
    _checked(inp)
    return {
        "sts:IdentityTokenAudience": list(dict.fromkeys(inp["Audience"])),
        "sts:DurationSeconds": str(_duration(inp)),
        "sts:SigningAlgorithm": inp["SigningAlgorithm"],
    }


@operation("GetWebIdentityToken", resource=lambda ctx, inp: "*", keys=_keys, service="sts")
def get_web_identity_token(ctx: CallContext, inp: Input) -> Output:
    tags = _checked(inp)
    if tags:
        # adding tags to the token is an action of its own (the Service Authorization Reference's TagGetWebIdentityToken)
        authorize(ctx, "sts:TagGetWebIdentityToken", "*",
                  {**{f"aws:RequestTag/{k}": v for k, v in tags.items()}, "aws:TagKeys": list(tags)})
    setting = ctx.tx.outbound_federation(ctx.account_id)
    if setting is None or not setting.enabled:
        raise OutboundWebIdentityFederationDisabled("Outbound identity federation is not enabled for this account. "
                                                    "Enable it with EnableOutboundWebIdentityFederation.")
    duration = _duration(inp)
    issued = int(ctx.now.timestamp())
    expires = issued + duration
    session = ctx.caller.session
    if session is not None and expires > session.expires:
        raise SessionDurationEscalation("The requested token duration would extend the session beyond its original "
                                        f"expiration time ({datetime.fromtimestamp(session.expires, UTC).isoformat()}).")
    algorithm = inp["SigningAlgorithm"]
    key = signing_key(ctx.tx.jwt_signing_keys(ctx.account_id), algorithm, ctx.now)
    if key is None:  # enabling made them; only a database edited by hand lacks them
        raise OutboundWebIdentityFederationDisabled("Outbound identity federation has no signing key for this account: "
                                                    "disable and enable it again.")
    principal = ctx.caller.principal
    subject = principal.role_arn if principal.type is PrincipalType.ASSUMED_ROLE and principal.role_arn else principal.arn
    audiences = list(dict.fromkeys(inp["Audience"]))
    aws: dict[str, Any] = {"aws_account": ctx.account_id, "source_region": ctx.region, "principal_id": subject}
    standing = account_standing(ctx, ctx.caller.account_id) if ctx.cache is not None else None
    if standing is not None:
        aws["org_id"] = standing.org_id
        aws["ou_path"] = standing.org_path
    if principal.tags:
        aws["principal_tags"] = dict(principal.tags)
    if tags:
        aws["request_tags"] = tags
    claims = {
        "iss": ctx.issuer.url(setting.issuer_id),
        "aud": audiences[0] if len(audiences) == 1 else audiences,
        "sub": subject,
        "iat": issued,
        "exp": expires,
        "jti": str(uuid.uuid4()),
        AWS_NAMESPACE: aws,
    }
    payload = encode_claims(claims)
    if len(payload) > MAX_PAYLOAD:
        raise JWTPayloadSizeExceeded(f"The requested token payload size ({len(payload)} bytes) exceeds the maximum allowed "
                                     f"size ({MAX_PAYLOAD} bytes). Reduce the number of request tags.")
    token = sign_jwt(payload, ctx.issuer.private_key(key), algorithm, key.key_id)
    return {"WebIdentityToken": token, "Expiration": datetime.fromtimestamp(expires, UTC)}
