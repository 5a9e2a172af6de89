"""Resolving an access key to the principal behind it, and its secret.

Long-term keys are looked up in the store and their secrets opened with the
master key; the result is cached per key while the account's generation
has not moved (every write to its users, roles, tags or access keys moves
it, so an Inactive or deleted key stops working on the next request, on
every node within the store's cache TTL). Keys and session tokens share one
bounded LRU (``limit`` entries, a few KB each).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from iamroles.errors import ExpiredToken, InvalidClientTokenId
from iamroles.policy import Principal
from iamroles.store import LRU, Tx
from iamroles.tokens import MasterKey, SigningKey, TokenError, key_id, unseal

from .caller import Caller

__all__ = ["KeyResolver", "Resolved", "INVALID_TOKEN", "EXPIRED_TOKEN", "Keys"]

INVALID_TOKEN = "The security token included in the request is invalid."
EXPIRED_TOKEN = "The security token included in the request is expired"


class Keys(Protocol):
    """The signing keys that open session tokens (``sts.keys.KeyRing``)."""

    @property
    def keys(self) -> Mapping[bytes, SigningKey]: ...

    def refresh_for(self, key_id: bytes) -> bool: ...


@dataclass(frozen=True, slots=True)
class Resolved:
    caller: Caller
    secret: str
    generation: int


class KeyResolver:
    def __init__(self, master_key: MasterKey, limit: int = 10_000) -> None:
        self.master_key = master_key
        self._cache: LRU[str, Resolved] = LRU(limit)

    def resolve_session(self, tx: Tx, access_key_id: str, token: str, now: datetime, keys: Keys) -> Resolved:
        """Temporary credentials: the sealed token carries the session; no key lookup."""
        hit = self._cache.get(token)
        if hit is not None and hit.caller.access_key_id == access_key_id:
            cached = hit.caller.session
            assert cached is not None  # what this cache holds by token are sessions
            if now.timestamp() >= cached.expires:
                raise ExpiredToken(EXPIRED_TOKEN)
            if tx.generation(hit.caller.account_id) == hit.generation:
                return hit
        try:
            claims = unseal(token, keys.keys)
        except TokenError:
            sealed_under = key_id(token)  # a key this node has not loaded yet (another node rotated): look once
            if sealed_under is None or not keys.refresh_for(sealed_under):
                raise InvalidClientTokenId(INVALID_TOKEN) from None
            try:
                claims = unseal(token, keys.keys)
            except TokenError:
                raise InvalidClientTokenId(INVALID_TOKEN) from None
        if claims.access_key_id != access_key_id:
            raise InvalidClientTokenId(INVALID_TOKEN)
        if now.timestamp() >= claims.expires:
            raise ExpiredToken(EXPIRED_TOKEN)
        generation = tx.generation(claims.account)
        if claims.kind == "assumed-role" or (claims.kind == "delegated" and claims.role_arn):
            role = tx.entity("role", claims.account, claims.principal_key)
            if role is None or role.id != claims.user_id.split(":", 1)[0]:
                raise InvalidClientTokenId(INVALID_TOKEN)  # the role is gone: its sessions end
            tags = {t.key: t.value for t in tx.tags(claims.account, "role", role.key)}
            tags.update(claims.tags)
            principal = Principal.from_arn(claims.arn, role_arn=role.arn, user_id=claims.user_id, tags=tags)
            caller = Caller(principal, claims.account, claims.partition, access_key_id, role_key=role.key, session=claims)
        elif claims.kind == "root" or (claims.kind in ("session-token", "delegated") and not claims.principal_key):
            # the root's own session (or its delegation), or a privileged root session (AssumeRoot; iam.authorize
            # holds it to its task policy and checks its standing on each request)
            principal = Principal.from_arn(claims.arn)
            caller = Caller(principal, claims.account, claims.partition, access_key_id, session=claims)
        else:
            user = tx.entity("user", claims.account, claims.principal_key)
            # the session's user by its unique id: a user deleted and made again under its name is another user
            # ("unique IDs are never reused", reference_identifiers.html#identifiers-unique-ids), whose permissions
            # the old user's sessions must not take; the user is gone: its sessions end
            issuer = claims.user_id if claims.kind == "session-token" else claims.issuer_id
            if user is None or (issuer is not None and user.id != issuer):
                raise InvalidClientTokenId(INVALID_TOKEN)
            tags = {t.key: t.value for t in tx.tags(claims.account, "user", user.key)}
            tags.update(claims.tags)
            principal = Principal.from_arn(claims.arn, user_id=claims.user_id, tags=tags)
            caller = Caller(principal, claims.account, claims.partition, access_key_id, user_key=user.key, session=claims)
        resolved = Resolved(caller, claims.secret, generation)
        self._cache[token] = resolved
        return resolved

    def resolve(self, tx: Tx, access_key_id: str) -> Resolved:
        hit = self._cache.get(access_key_id)
        if hit is not None and tx.generation(hit.caller.account_id) == hit.generation:
            return hit
        if "\x00" in access_key_id:  # no key has one (a presigned X-Amz-Credential may: %00), nor can PostgreSQL's text
            raise InvalidClientTokenId(INVALID_TOKEN)
        key = tx.access_key(access_key_id)
        if key is None or key.status != "Active":
            raise InvalidClientTokenId(INVALID_TOKEN)
        account = tx.account(key.account_id)
        if account is None:
            raise InvalidClientTokenId(INVALID_TOKEN)
        generation = tx.generation(key.account_id)
        secret = self.master_key.open(key.secret_sealed, access_key_id.encode()).decode()
        if key.user_key is None:
            principal = Principal.from_arn(f"arn:{account.partition}:iam::{account.account_id}:root")
            caller = Caller(principal, account.account_id, account.partition, access_key_id)
        else:
            user = tx.entity("user", key.account_id, key.user_key)
            if user is None:
                raise InvalidClientTokenId(INVALID_TOKEN)
            tags = {t.key: t.value for t in tx.tags(key.account_id, "user", user.key)}
            principal = Principal.from_arn(user.arn, user_id=user.id, tags=tags)
            caller = Caller(principal, account.account_id, account.partition, access_key_id, user_key=user.key)
        resolved = Resolved(caller, secret, generation)
        self._cache[access_key_id] = resolved
        return resolved
