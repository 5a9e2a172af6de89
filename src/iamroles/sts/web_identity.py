"""AssumeRoleWithWebIdentity: OIDC federation (CI systems, Kubernetes, other clouds).

The request is unsigned, as on AWS: the ID token is the credential. It must be
signed by a key of the provider's JWKS (configured with ``iamroles oidc jwks``
or fetched from the issuer's discovery document), issued by a provider
registered in the role's account, for one of its client ids, and unexpired.
The role's trust policy then decides, with the token's claims as condition
keys (``<provider>:aud``, ``:sub``, ``:amr``).

AWS references: https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html,
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#condition-keys-wif
"""
from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any

from iamroles.errors import AccessDenied, ExpiredTokenException, InvalidIdentityToken, ValidationError
from iamroles.iam.authorize import decide_trust
from iamroles.iam.context import CallContext
from iamroles.iam.registry import Input, Output, operation
from iamroles.policy import Arn, PolicyKind, Principal, PrincipalType

from .sessions import _role_from_arn, role_session

__all__ = ["UNSIGNED_OPERATIONS", "JwksCache"]

# the identity token or SAML response is the credential: these calls are not signed (as on AWS)
UNSIGNED_OPERATIONS = frozenset({("sts", "AssumeRoleWithWebIdentity"), ("sts", "AssumeRoleWithSAML")})
_SKEW = 300


class JwksCache:
    """OIDC issuers' key sets for providers with no keys of their own (``iamroles oidc jwks``).

    A key set is fetched from the issuer's discovery document at most once at a time per issuer (concurrent
    calls wait for that fetch), within ``timeout`` seconds for both requests together and ``max_bytes`` each,
    and kept ``ttl`` seconds. A failure is remembered: calls naming that issuer fail at once until a retry time
    that doubles with each failure (``backoff`` up to ``max_backoff``), so an issuer that does not answer costs
    one wait, not one per request. Thread-safe; callers run it off the event loop.
    """

    def __init__(self, ttl: float = 300.0, timeout: float = 3.0, max_bytes: int = 1 << 20, backoff: float = 5.0,
                 max_backoff: float = 300.0, clock: Callable[[], float] = time.monotonic, min_refresh: float = 5.0) -> None:
        self.ttl, self.timeout, self.max_bytes, self.min_refresh = ttl, timeout, max_bytes, min_refresh
        self.backoff, self.max_backoff, self.clock = backoff, max_backoff, clock
        self._lock = threading.Lock()
        self._keys: dict[str, tuple[float, Any]] = {}  # issuer -> (fetched at, key set)
        self._failed: dict[str, tuple[float, float]] = {}  # issuer -> (retry at, last backoff)
        self._inflight: dict[str, threading.Event] = {}

    def get(self, issuer: str) -> Any:
        while True:
            with self._lock:
                now = self.clock()
                hit = self._keys.get(issuer)
                if hit is not None and now - hit[0] < self.ttl:
                    return hit[1]
                failed = self._failed.get(issuer)
                if failed is not None and now < failed[0]:
                    raise _unreachable()
                waiting = self._inflight.get(issuer)
                if waiting is None:
                    done = self._inflight[issuer] = threading.Event()
                    break
            if not waiting.wait(self.timeout + 1):
                raise _unreachable()
        try:
            jwks = self._fetch(issuer)
        except Exception:  # noqa: BLE001  (any failure to reach the issuer or read its answer)
            with self._lock:
                last = self._failed.get(issuer, (0.0, 0.0))[1]
                wait = min(self.max_backoff, last * 2 if last else self.backoff)
                self._failed[issuer] = (self.clock() + wait, wait)
                self._keys.pop(issuer, None)
            raise _unreachable() from None
        else:
            with self._lock:
                self._keys[issuer] = (self.clock(), jwks)
                self._failed.pop(issuer, None)
            return jwks
        finally:
            with self._lock:
                self._inflight.pop(issuer, None)
            done.set()

    def refresh(self, issuer: str) -> Any:
        """The issuer's key set fetched again, unless it was fetched less than ``min_refresh`` seconds ago (a token
        named a key the kept set lacks: the issuer may have rotated its keys)."""
        with self._lock:
            hit = self._keys.get(issuer)
            if hit is not None:
                if self.clock() - hit[0] < self.min_refresh:
                    return hit[1]
                self._keys[issuer] = (float("-inf"), hit[1])  # stale: the next get fetches
        return self.get(issuer)

    def _fetch(self, issuer: str) -> Any:
        deadline = self.clock() + self.timeout
        config = self._read(issuer.rstrip("/") + "/.well-known/openid-configuration", deadline)
        jwks_uri = config["jwks_uri"]
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith("https://"):
            raise ValueError("jwks_uri is not an https URL")
        return self._read(jwks_uri, deadline)

    def _read(self, url: str, deadline: float) -> Any:
        remaining = deadline - self.clock()
        if remaining <= 0:
            raise TimeoutError(url)
        with urllib.request.urlopen(url, timeout=remaining) as r:
            body = r.read(self.max_bytes + 1)
        if len(body) > self.max_bytes:
            raise ValueError("answer too large")
        return json.loads(body)


def _unreachable() -> InvalidIdentityToken:
    return InvalidIdentityToken("Couldn't retrieve verification key from your identity provider, please reference "
                                "AssumeRoleWithWebIdentity documentation for requirements")


@operation("AssumeRoleWithWebIdentity", resource=None, service="sts")
def assume_role_with_web_identity(ctx: CallContext, inp: Input) -> Output:
    from iamroles.tokens.jwt import JwtError, UnknownKey, decode_unverified, verify_jwt

    token = inp["WebIdentityToken"]
    role_arn = inp["RoleArn"]
    session_name = inp["RoleSessionName"]
    try:
        _, unverified, _, _ = decode_unverified(token)
    except JwtError:
        raise InvalidIdentityToken("The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)") from None
    issuer = unverified.get("iss")
    if not isinstance(issuer, str) or not issuer.startswith("https://"):
        raise InvalidIdentityToken("The ID Token provided is not a valid JWT: it has no https issuer.")
    host = issuer[len("https://") :].rstrip("/")
    named = Arn.maybe(role_arn)
    account = named.account if named is not None else ""
    provider_arn = f"arn:{ctx.partition}:iam::{account}:oidc-provider/{host}"
    provider = ctx.tx.oidc_provider(provider_arn)
    if provider is None:
        raise InvalidIdentityToken(f"No OpenIDConnect provider found in your account for {issuer}")
    if provider.jwks:
        jwks = json.loads(provider.jwks)
    else:
        assert ctx.jwks is not None, "an endpoint that takes web identity tokens gives its calls a JWKS cache"
        jwks = ctx.jwks.get(issuer)
    try:
        try:
            claims = verify_jwt(token, jwks)
        except UnknownKey:
            if provider.jwks or ctx.jwks is None:
                raise
            # a key the issuer's set did not have when fetched: it may have rotated since (fetched again, at most
            # once per JwksCache.min_refresh per issuer, so that tokens naming made-up keys cannot make us fetch)
            claims = verify_jwt(token, ctx.jwks.refresh(issuer))
    except JwtError as err:
        raise InvalidIdentityToken(f"The ID Token could not be verified: {err}") from None
    now = ctx.now.timestamp()
    exp = claims.get("exp")
    if not isinstance(exp, (int, float)) or exp <= now:
        raise ExpiredTokenException("Token is expired")
    nbf = claims.get("nbf")
    if isinstance(nbf, (int, float)) and nbf > now + _SKEW:
        raise InvalidIdentityToken("The ID Token is not yet valid (nbf).")
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else [a for a in aud if isinstance(a, str)] if isinstance(aud, list) else []
    if not audiences:
        raise InvalidIdentityToken("Missing a required claim: aud")  # aws/aws-sdk-ruby#2698
    allowed = provider.client_ids
    matched = next((a for a in audiences if a in allowed), None)
    if matched is None:
        # STS's answer for an audience none of the provider's client ids: awslabs/amazon-eks-irsa-cfn#18,
        # aws-actions/configure-aws-credentials#775
        raise InvalidIdentityToken("Incorrect token audience")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise InvalidIdentityToken("The ID Token has no subject (sub).")

    role = _role_from_arn(ctx, role_arn)
    principal = Principal(PrincipalType.WEB_IDENTITY, federated=provider_arn)
    context: dict[str, Any] = {
        f"{host}:aud": claims.get("azp") if isinstance(claims.get("azp"), str) else matched,
        f"{host}:oaud": matched,
        f"{host}:sub": sub,
        "aws:FederatedProvider": provider_arn,
        "sts:RoleSessionName": session_name,
        "aws:SourceIp": ctx.source_ip,
        "aws:SecureTransport": "true" if ctx.secure_transport else "false",
    }
    amr = claims.get("amr")
    if isinstance(amr, list):
        context[f"{host}:amr"] = [a for a in amr if isinstance(a, str)]
    elif isinstance(amr, str):
        context[f"{host}:amr"] = [amr]
    denied = AccessDenied("Not authorized to perform sts:AssumeRoleWithWebIdentity")
    if role is None:
        raise denied
    trust = ctx.cache.compiled(role.trust_policy, PolicyKind.TRUST, f"trust:{role.arn}")
    decision = decide_trust(ctx, principal, "sts:AssumeRoleWithWebIdentity", role_arn, role.account_id, trust, context)
    if not decision.allowed:
        raise denied
    duration = inp.get("DurationSeconds") or 3600
    if duration > role.max_session_duration:
        raise ValidationError("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
    out = role_session(ctx, inp, role, session_name, duration)
    out.update({"SubjectFromWebIdentityToken": sub, "Provider": host, "Audience": matched})
    ctx.role_used = (role.account_id, role.key)
    return out
