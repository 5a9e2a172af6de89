"""Authentication end to end: a request's SigV4 signature to the :class:`~iamroles.auth.caller.Caller` behind it.

Two steps, because an endpoint learns what it needs (the service and region a request is signed for) before it
opens the transaction the second needs:

1. :meth:`Authenticator.parse`: the signature's shape (cheap, no I/O), and the partition rule for an endpoint
   that serves one partition only;
2. :meth:`Authenticator.verify`: the access key or session token resolved (:mod:`iamroles.auth.principal`, through
   :mod:`iamroles.tokens`), the partition rule, the signature checked with the day's derived signing key, cached.

Every failure is AWS's error for it (IncompleteSignature, SignatureDoesNotMatch, InvalidClientTokenId,
ExpiredToken, AccessDenied for an expired presigned URL).
"""
from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from iamroles.errors import InvalidClientTokenId
from iamroles.store import Tx
from iamroles.tokens import MasterKey

from . import sigv4
from .caller import Caller
from .principal import INVALID_TOKEN, KeyResolver, Keys
from .regions import Regions

__all__ = ["MAX_SKEW", "Authenticator"]

# IAM and STS accept requests signed up to 15 minutes off (aws-cli#6676 quotes "- 15 min.")
MAX_SKEW = timedelta(minutes=15)
_SIGNING_KEYS = 50_000  # derived keys kept (one per key, day, region and service): a few MB at most


class Authenticator:
    """Resolves and verifies signed requests with one server's keys: its master key (long-term secrets),
    its key ring (session tokens) and the regions it knows (each in one partition)."""

    def __init__(self, master_key: MasterKey, keys: Keys, regions: Regions, max_skew: timedelta = MAX_SKEW) -> None:
        self.resolver = KeyResolver(master_key)
        self.keys = keys
        self.regions = regions
        self.max_skew = max_skew
        self._signing_keys: dict[tuple[str, str, str, str], tuple[str, hmac.HMAC]] = {}

    def parse(self, http: sigv4.HttpRequest, params: Mapping[str, str] | None = None, *,
              services: Sequence[str] | None = None, partition: str | None = None) -> sigv4.SignedRequest:
        """The signature's parts, for a region this server knows (and a service of ``services``).

        ``partition``: the endpoint serves that partition's accounts only; a request signed for a region of
        another is refused as AWS refuses a key that does not exist there (InvalidClientTokenId), before any
        key is looked up."""
        by_region = self.regions.by_region
        signed = sigv4.parse(http, params, services=services, regions=by_region)
        if partition is not None and by_region.get(signed.region) != partition:
            raise InvalidClientTokenId(INVALID_TOKEN)
        return signed

    def verify(self, tx: Tx, http: sigv4.HttpRequest, signed: sigv4.SignedRequest, now: datetime) -> Caller:
        """The caller whose key signed ``http``: the key or session token resolved, the signature verified.

        An account lives in one partition, and so do its keys and its temporary credentials: signed for a
        region of another partition, they do not exist there, and the answer is AWS's InvalidClientTokenId,
        before the signature is checked. The caller's ARNs are always its account's partition, whatever the
        region."""
        if signed.security_token:
            resolved = self.resolver.resolve_session(tx, signed.access_key_id, signed.security_token, now, self.keys)
        else:
            resolved = self.resolver.resolve(tx, signed.access_key_id)
        caller = resolved.caller
        if self.regions.by_region.get(signed.region) != caller.partition:
            raise InvalidClientTokenId(INVALID_TOKEN)
        sigv4.verify(http, signed, resolved.secret, now, max_skew=self.max_skew, key=self._signing_key(signed, resolved.secret))
        return caller

    def _signing_key(self, signed: sigv4.SignedRequest, secret: str) -> hmac.HMAC:
        """The day's derived signing key for this secret and scope, derived once (four HMACs saved per request),
        as an HMAC to copy per request. Keyed by the access key id, and used only for the same secret."""
        key = (signed.access_key_id, signed.date, signed.region, signed.service)
        hit = self._signing_keys.get(key)
        if hit is not None and hmac.compare_digest(hit[0], secret):
            return hit[1]
        derived = sigv4.signing_hmac(sigv4.signing_key(secret, signed.date, signed.region, signed.service))
        if len(self._signing_keys) >= _SIGNING_KEYS:
            self._signing_keys.clear()
        self._signing_keys[key] = (secret, derived)
        return derived
