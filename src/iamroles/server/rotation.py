"""New keys for web identity tokens when an account's are old: one thread per serving process, hourly.

An account whose newest signing keys are ``iam.outbound.ROTATE_EVERY`` old gets a new set, published ahead of
signing (``iam.outbound.rotate``: asked again under the account's lock, so servers sharing the database make one
set); keys whose tokens have all expired are dropped then.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from iamroles.iam.outbound import ROTATE_EVERY, rotate
from iamroles.store import Store
from iamroles.tokens import MasterKey

__all__ = ["Rotator"]

log = logging.getLogger("iamroles.rotation")


class Rotator:
    def __init__(self, store: Store, master_key: MasterKey, clock: Callable[[], datetime], interval: float = 3600.0,
                 every: timedelta = ROTATE_EVERY, first: float = 60.0) -> None:
        self.store, self.master_key, self.clock, self.interval, self.every = store, master_key, clock, interval, every
        self._stop = threading.Event()
        self._first = min(first, interval)
        self._thread = threading.Thread(target=self._run, name="iamroles-key-rotation", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        delay = self._first
        while not self._stop.wait(delay):
            delay = self.interval
            try:
                done = rotate(self.store, self.master_key, self.clock(), older_than=self.every)
            except Exception as exc:  # noqa: BLE001  (the keys in use go on signing; the next round tries again)
                log.error("web identity keys: this rotation round stopped (%s)", type(exc).__name__)
                continue
            for account, (new, dropped) in done.items():
                log.info("web identity keys of account %s rotated: new %s, %d spent dropped", account, ", ".join(new), len(dropped))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(30)
