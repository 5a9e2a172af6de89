"""The key ring for session tokens: signing keys stored sealed under the master key.

The newest key seals new tokens. ``rotate`` makes a new key and retires the
others; a retired key keeps opening tokens for as long as any credential it
sealed can live (the longest STS session, 36 hours, plus the 30 s another
node may go on sealing with it before it re-reads the ring), then ``purge``
drops it.
A token under a key this node has not seen reloads the ring from the store
(another node rotated), at most once a second.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from iamroles.store import Store
from iamroles.tokens import MasterKey, SigningKey

__all__ = ["KeyRing", "LONGEST_SESSION", "RETIRED_KEY_LIFETIME"]

LONGEST_SESSION = timedelta(seconds=129600)  # GetSessionToken's maximum DurationSeconds
_RELOAD_EVERY = 30.0  # seconds a node seals with the key it knows as current before re-reading the ring
# a retired key opens tokens for the longest session after the last moment any node may still have sealed with it
RETIRED_KEY_LIFETIME = LONGEST_SESSION + timedelta(seconds=_RELOAD_EVERY)


def _aad(key_id: str) -> bytes:
    return b"iamroles-signing-key:" + key_id.encode()


class KeyRing:
    def __init__(self, store: Store, master_key: MasterKey, clock: Callable[[], datetime] | None = None) -> None:
        self.store = store
        self.master_key = master_key
        self.clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._keys: dict[bytes, SigningKey] = {}
        self._current: SigningKey | None = None
        self._loaded_at = 0.0
        self._missed_at = -1.0  # when an unknown key id last made this node reload
        self.load(create=True)

    @property
    def current(self) -> SigningKey:
        """The key new tokens are sealed with (re-read every 30 s: another process may have rotated)."""
        if time.monotonic() - self._loaded_at > _RELOAD_EVERY:
            self.load()
        assert self._current is not None
        return self._current

    @property
    def keys(self) -> dict[bytes, SigningKey]:
        return self._keys

    def load(self, create: bool = False) -> None:
        now = self.clock()
        with self.store.write() if create else self.store.read() as tx:
            rows = tx.signing_keys()
            if create and not any(r.retired_at is None for r in rows):
                key = SigningKey.generate()
                hex_id = key.key_id.hex()
                tx.insert_signing_key(hex_id, self.master_key.seal(key.key, _aad(hex_id)), now)
                rows = tx.signing_keys()
        keys: dict[bytes, SigningKey] = {}
        current = None
        for row in rows:
            if row.retired_at is not None and row.retired_at + RETIRED_KEY_LIFETIME < now:
                continue
            key = SigningKey(bytes.fromhex(row.key_id), self.master_key.open(row.sealed, _aad(row.key_id)))
            keys[key.key_id] = key
            if row.retired_at is None:
                current = key
        with self._lock:
            self._keys, self._current, self._loaded_at = keys, current, time.monotonic()

    def refresh_for(self, key_id: bytes) -> bool:
        """Reload if ``key_id`` is unknown here (rate-limited); whether it is known now."""
        if key_id in self._keys:
            return True
        # at most once a second for unknown ids (forged tokens must not make every request read the store);
        # counted from the last such reload, not from the periodic one
        now = time.monotonic()
        if now - self._missed_at < 1.0:
            return False
        self._missed_at = now
        self.load()
        return key_id in self._keys

    def rotate(self) -> str:
        """A new current key; the others retire (and keep opening their tokens)."""
        key = SigningKey.generate()
        hex_id = key.key_id.hex()
        now = self.clock()
        with self.store.write() as tx:
            tx.insert_signing_key(hex_id, self.master_key.seal(key.key, _aad(hex_id)), now)
            tx.retire_signing_keys(hex_id, now)
        self.load()
        return hex_id

    def purge(self) -> list[str]:
        """Drop keys retired longer ago than the longest session; their ids."""
        now = self.clock()
        dropped = []
        with self.store.write() as tx:
            for row in tx.signing_keys():
                if row.retired_at is not None and row.retired_at + RETIRED_KEY_LIFETIME < now:
                    tx.delete_signing_key(row.key_id)
                    dropped.append(row.key_id)
        self.load()
        return dropped
