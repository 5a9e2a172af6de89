"""Outbound identity federation: an account's principals get signed JWTs (STS GetWebIdentityToken,
``sts/outbound.py``) that other systems verify against the account's issuer, which ``iamroles serve`` publishes
(an OIDC discovery document and a JWKS) at ``<public URL>/oidc/<issuer id>``.

Here: the account's setting (EnableOutboundWebIdentityFederation, DisableOutboundWebIdentityFederation,
GetOutboundWebIdentityFederationInfo), and the issuer: its URL, which key signs its tokens now, which keys its
JWKS publishes, and the rotation of those keys.

AWS references: https://docs.aws.amazon.com/IAM/latest/APIReference/API_EnableOutboundWebIdentityFederation.html
(FeatureEnabled, 409; "generates a unique issuer URL for your account"), API_DisableOutboundWebIdentityFederation.html
(FeatureDisabled, 404; "does not affect tokens that were issued before the feature was disabled"),
API_GetOutboundWebIdentityFederationInfo.html (IssuerIdentifier, JwtVendingEnabled; FeatureDisabled),
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_outbound_getting_started.html (disabled by
default). The three actions have no resource type in the Service Authorization Reference: authorised against ``*``.

Choices where AWS is silent:

* The issuer URL ends with a random id made at the first enable and kept (AWS's is a random host per account), so
  the URL does not name the account, nobody can probe which accounts have enabled it, and disabling and enabling
  again keeps the trust that other systems have configured. GetOutboundWebIdentityFederationInfo answers
  FeatureDisabled for an account that never enabled it, and its issuer with ``JwtVendingEnabled`` false for one that
  enabled it and then disabled it.
* Each account has keys of its own, one sequence per algorithm (RS256 with RSA 2048, ES384 with P-384), the
  private keys sealed under the master key. A key rotated in is published :data:`PUBLISH_AHEAD` before it signs
  (verifiers that cache the JWKS for its ``max-age`` know it before they meet it; every node switches at the same
  moment) and stays published until every token it signed has expired (:data:`MAX_TOKEN_LIFETIME` after the next key
  took over, plus :data:`CLOCK_SKEW`).
* ``iamroles serve`` gives an account new keys when its newest are :data:`ROTATE_EVERY` old (checked hourly; one
  set however many servers share the database); ``iamroles keys rotate-web-identity`` does it at will.
* Disabling stops new tokens at once; the JWKS stays published while tokens issued before it may still be valid
  (as AWS says it does not affect them), then the issuer's documents answer 404, as they do for an account that never
  enabled it.
"""
from __future__ import annotations

import json
import re
import secrets
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from iamroles.errors import FeatureDisabled, FeatureEnabled, ServiceFailure
from iamroles.store import LRU, JwtKeyRecord, OutboundFederation, Store
from iamroles.tokens import MasterKey
from iamroles.tokens.jwt import SIGNING_ALGORITHMS, NewSigningKey, new_signing_key, open_signing_key

from .common import lock_account
from .context import CallContext
from .registry import Input, Output, operation

__all__ = ["CLOCK_SKEW", "ISSUER_PATH", "Issuer", "JWKS_MAX_AGE", "MAX_TOKEN_LIFETIME", "PUBLISH_AHEAD", "documents",
           "published_keys", "publishes", "ROTATE_EVERY", "rotate", "seal_key", "signing_key", "spent_keys"]

ISSUER_PATH = "/oidc/"  # under the server's public URL: <public URL>/oidc/<issuer id>
_ISSUER_ID = re.compile(r"[0-9a-f]{32}")
MAX_TOKEN_LIFETIME = timedelta(seconds=3600)  # GetWebIdentityToken's largest DurationSeconds (STS's model)
CLOCK_SKEW = timedelta(seconds=300)  # how far verifiers' clocks may lag ours
JWKS_MAX_AGE = 300  # seconds a verifier may cache the issuer's documents (their Cache-Control)
PUBLISH_AHEAD = timedelta(seconds=2 * JWKS_MAX_AGE)  # a rotated-in key is published this long before it signs


def _any(ctx: CallContext, inp: Input) -> str:
    return "*"


class Issuer:
    """One process's issuer: the public URL the issuers' documents are served under, and the signing keys it has
    opened (by key id, at most ``limit``: opening an RSA key costs milliseconds, and a key's id names its content)."""

    def __init__(self, public_url: str | None, master_key: MasterKey, limit: int = 1024) -> None:
        self.public_url = public_url.rstrip("/") if public_url else None
        self.master_key = master_key
        self._opened: LRU[str, Any] = LRU(limit)
        self._lock = threading.Lock()

    def url(self, issuer_id: str) -> str:
        if self.public_url is None:
            raise ServiceFailure("This server has no public URL for its web identity token issuers (iamroles serve --public-url).")
        return f"{self.public_url}{ISSUER_PATH}{issuer_id}"

    def private_key(self, record: JwtKeyRecord) -> Any:
        """The key that signs with ``record`` (opened once per process)."""
        found = self._opened.get(record.key_id)
        if found is None:
            pem = self.master_key.open(record.sealed, _aad(record.account_id, record.key_id, record.algorithm))
            found = open_signing_key(pem, record.algorithm)
            self._opened[record.key_id] = found
        return found


def _aad(account_id: str, key_id: str, algorithm: str) -> bytes:
    """What a sealed key is bound to: a sealed key copied to another account's (or algorithm's) row does not open."""
    return f"iamroles-jwt-key:{account_id}:{algorithm}:{key_id}".encode()


def seal_key(master_key: MasterKey, new: NewSigningKey, account_id: str, created: datetime, active_from: datetime) -> JwtKeyRecord:
    return JwtKeyRecord(new.key_id, account_id, new.algorithm, master_key.seal(new.private_pem, _aad(account_id, new.key_id, new.algorithm)),
                        json.dumps(new.public_jwk, separators=(",", ":")), created, active_from)


# -- which key signs, which are published ------------------------------------------------------------------------
def _by_algorithm(keys: Iterable[JwtKeyRecord]) -> dict[str, list[JwtKeyRecord]]:
    found: dict[str, list[JwtKeyRecord]] = {}
    for key in sorted(keys, key=lambda k: (k.active_from, k.key_id)):
        found.setdefault(key.algorithm, []).append(key)
    return found


def signing_key(keys: Sequence[JwtKeyRecord], algorithm: str, now: datetime) -> JwtKeyRecord | None:
    """The key that signs ``algorithm``'s tokens at ``now``: the last of that algorithm active by then (the first,
    should none be yet: another node's clock ran ahead when it made them)."""
    line = _by_algorithm(keys).get(algorithm, [])
    active = [k for k in line if k.active_from <= now]
    return active[-1] if active else (line[0] if line else None)


def _window_over(line: list[JwtKeyRecord], i: int, now: datetime) -> bool:
    """Whether every token the ``i``-th key of ``line`` signed has expired: it stopped signing when the next took over."""
    return i + 1 < len(line) and line[i + 1].active_from + MAX_TOKEN_LIFETIME + CLOCK_SKEW <= now


def published_keys(keys: Sequence[JwtKeyRecord], now: datetime) -> list[JwtKeyRecord]:
    """The keys the issuer's JWKS lists at ``now``: those to come, the current one, and those whose tokens may live."""
    return [k for line in _by_algorithm(keys).values() for i, k in enumerate(line) if not _window_over(line, i, now)]


def spent_keys(keys: Sequence[JwtKeyRecord], now: datetime) -> list[JwtKeyRecord]:
    return [k for line in _by_algorithm(keys).values() for i, k in enumerate(line) if _window_over(line, i, now)]


def publishes(setting: OutboundFederation | None, now: datetime) -> bool:
    """Whether the account's issuer answers: enabled, or disabled so recently that tokens issued before may live."""
    if setting is None:
        return False
    return setting.enabled or now < setting.changed_at + MAX_TOKEN_LIFETIME + CLOCK_SKEW


def documents(tx: Any, issuer: Issuer, issuer_id: str, now: datetime) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The issuer's OpenID Connect discovery document and JWKS, or None (no such issuer, or not published now)."""
    if not _ISSUER_ID.fullmatch(issuer_id):
        return None
    setting = tx.outbound_federation_of_issuer(issuer_id)
    if not publishes(setting, now):
        return None
    url = issuer.url(issuer_id)
    keys = published_keys(tx.jwt_signing_keys(setting.account_id), now)
    discovery = {
        "issuer": url,
        "jwks_uri": f"{url}/.well-known/jwks.json",
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": list(SIGNING_ALGORITHMS),
        "claims_supported": ["iss", "sub", "aud", "iat", "exp", "jti", "https://sts.amazonaws.com/"],
    }
    return discovery, {"keys": [json.loads(k.public_jwk) for k in keys]}


# -- the operations ----------------------------------------------------------------------------------------------
def _missing(keys: Iterable[JwtKeyRecord]) -> list[str]:
    have = {k.algorithm for k in keys}
    return [a for a in SIGNING_ALGORITHMS if a not in have]


def _make_keys(ctx: CallContext, inp: Input) -> Any:
    """Enable's slow work, outside any transaction: the account's first keys if it has none (an RSA key takes a
    good part of a second to make); made only for a caller already authorised to enable."""
    missing = _missing(ctx.tx.jwt_signing_keys(ctx.account_id))
    return lambda: {a: new_signing_key(a) for a in missing}


@operation("EnableOutboundWebIdentityFederation", resource=_any, write=True, prepare=_make_keys)
def enable_outbound_web_identity_federation(ctx: CallContext, inp: Input) -> Output:
    lock_account(ctx)  # one enable at a time per account
    setting = ctx.tx.outbound_federation(ctx.account_id)
    if setting is not None and setting.enabled:
        raise FeatureEnabled("Outbound identity federation is already enabled for this account.")
    issuer_id = setting.issuer_id if setting is not None else secrets.token_hex(16)
    url = ctx.issuer.url(issuer_id)
    ctx.tx.put_outbound_federation(OutboundFederation(ctx.account_id, issuer_id, True, ctx.now))
    made: Mapping[str, NewSigningKey] = ctx.prepared or {}
    for algorithm in _missing(ctx.tx.jwt_signing_keys(ctx.account_id)):
        new = made.get(algorithm) or new_signing_key(algorithm)
        ctx.tx.insert_jwt_signing_key(seal_key(ctx.master_key, new, ctx.account_id, ctx.now, ctx.now))
    return {"IssuerIdentifier": url}


@operation("DisableOutboundWebIdentityFederation", resource=_any, write=True)
def disable_outbound_web_identity_federation(ctx: CallContext, inp: Input) -> Output:
    lock_account(ctx)
    setting = ctx.tx.outbound_federation(ctx.account_id)
    if setting is None or not setting.enabled:
        raise FeatureDisabled("Outbound identity federation is already disabled for this account.")
    ctx.tx.put_outbound_federation(replace(setting, enabled=False, changed_at=ctx.now))
    return None


@operation("GetOutboundWebIdentityFederationInfo", resource=_any)
def get_outbound_web_identity_federation_info(ctx: CallContext, inp: Input) -> Output:
    setting = ctx.tx.outbound_federation(ctx.account_id)
    if setting is None:
        raise FeatureDisabled("Outbound identity federation is not enabled for this account.")
    return {"IssuerIdentifier": ctx.issuer.url(setting.issuer_id), "JwtVendingEnabled": setting.enabled}


# -- rotation (iamroles keys rotate-web-identity) ------------------------------------------------------------------
ROTATE_EVERY = timedelta(days=30)  # serve makes new keys for an account whose newest are this old (iamroles' choice)


def _due(keys: Sequence[JwtKeyRecord], now: datetime, older_than: timedelta | None) -> bool:
    """Whether an account with ``keys`` is to get new ones: always, or when its newest key is ``older_than``."""
    return older_than is None or max((k.created_at for k in keys), default=now - older_than) <= now - older_than


def rotate(store: Store, master_key: MasterKey, now: datetime, account_ids: Sequence[str] | None = None,
           immediately: bool = False, older_than: timedelta | None = None) -> dict[str, tuple[list[str], list[str]]]:
    """New keys (one per algorithm) for each account that has keys (or those named), signing from
    :data:`PUBLISH_AHEAD` after ``now`` (``immediately``: from ``now``, for a key thought compromised; the old keys
    stay published until their tokens expire), and the keys whose tokens have all expired dropped:
    {account: (new key ids, dropped key ids)}. ``older_than``: only accounts whose newest key is that old (asked again
    under the account's lock, so that servers rotating side by side make one set). The keys are made before the
    transaction that stores them."""
    with store.read() as tx:
        accounts = list(account_ids) if account_ids is not None else tx.accounts_with_jwt_keys()
        accounts = [a for a in accounts if _due(tx.jwt_signing_keys(a), now, older_than)]
    made = {a: [new_signing_key(alg) for alg in SIGNING_ALGORITHMS] for a in accounts}
    active_from = now if immediately else now + PUBLISH_AHEAD
    done: dict[str, tuple[list[str], list[str]]] = {}
    with store.write() as tx:
        for account in accounts:
            tx.account(account, for_update=True)
            keys = tx.jwt_signing_keys(account)
            if not _due(keys, now, older_than):
                continue  # another server did it meanwhile
            dropped = [k.key_id for k in spent_keys(keys, now)]
            for key_id in dropped:
                tx.delete_jwt_signing_key(account, key_id)
            for new in made[account]:
                tx.insert_jwt_signing_key(seal_key(master_key, new, account, now, active_from))
            done[account] = ([n.key_id for n in made[account]], dropped)
    return done
