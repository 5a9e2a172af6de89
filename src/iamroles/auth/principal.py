"""Resolving an access key to the principal behind it, and its secret.

Long-term keys are looked up in the store and their secrets opened with the
master key; the result is cached per key while the account's generation
counter has not moved (every IAM write bumps it, so an Inactive or deleted
key stops working on the next request, on every node).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

from iamroles.errors import InvalidClientTokenId
from iamroles.iam.context import Caller
from iamroles.policy import Principal
from iamroles.store import Tx
from iamroles.tokens import MasterKey

__all__ = ["KeyResolver", "Resolved", "INVALID_TOKEN"]

INVALID_TOKEN = "The security token included in the request is invalid."


@dataclass(frozen=True, slots=True)
class Resolved:
    caller: Caller
    secret: str
    generation: int


class KeyResolver:
    def __init__(self, master_key: MasterKey, limit: int = 100_000) -> None:
        self.master_key = master_key
        self._cache: dict[str, Resolved] = {}
        self._lock = threading.Lock()
        self._limit = limit

    def resolve(self, tx: Tx, access_key_id: str) -> Resolved:
        hit = self._cache.get(access_key_id)
        if hit is not None and tx.generation(hit.caller.account_id) == hit.generation:
            return hit
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
        with self._lock:
            if len(self._cache) >= self._limit:
                self._cache.clear()
            self._cache[access_key_id] = resolved
        return resolved
