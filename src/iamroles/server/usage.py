"""Last-used tracking (RoleLastUsed, GetAccessKeyLastUsed), written in batches.

Like AWS's, this information is eventually consistent: handlers note uses in
memory and one background thread writes the latest per key and role every
``interval`` seconds, so reads stay off the write path. Its writes are
bookkeeping: they invalidate no cached authorisation data (issue 13).
"""
from __future__ import annotations

import threading
from datetime import datetime

from iamroles.store import Store

__all__ = ["Usage"]


class Usage:
    def __init__(self, store: Store, interval: float = 1.0) -> None:
        self.store = store
        self._keys: dict[str, tuple[datetime, str, str]] = {}
        self._roles: dict[tuple[str, str], tuple[datetime, str]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._interval = interval
        self._thread = threading.Thread(target=self._run, name="iamroles-usage", daemon=True)
        self._thread.start()

    def key_used(self, access_key_id: str, when: datetime, service: str, region: str) -> None:
        with self._lock:
            self._keys[access_key_id] = (when, service, region)

    def role_used(self, account_id: str, role_key: str, when: datetime, region: str) -> None:
        with self._lock:
            self._roles[(account_id, role_key)] = (when, region)

    def flush(self) -> None:
        with self._lock:
            keys, self._keys = self._keys, {}
            roles, self._roles = self._roles, {}
        if not keys and not roles:
            return
        with self.store.write() as tx:
            for key_id, (when, service, region) in keys.items():
                tx.record_key_use(key_id, when, service, region)
            for (account, role_key), (when, region) in roles.items():
                tx.record_role_use(account, role_key, when, region)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.flush()
            except Exception:  # pragma: no cover - usage data must not take the service down
                import logging

                logging.getLogger("iamroles.usage").exception("could not record usage")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self.flush()
