"""The role credentials a loopback endpoint serves, fetched again before they expire.

Every decision is made on the server's clock, estimated as our clock plus the
skew seen at the last fetch (``ServerTime`` against our time of asking):

* in the background, credentials are fetched again once fewer than
  :func:`refresh_margin` (a quarter of their lifetime, at least five minutes)
  remain;
* an SDK asks its endpoint again once fewer than fifteen minutes remain
  (botocore's and the AWS CLI's advisory window for container and instance
  credentials): such a request is a refresh, so it is answered with newly
  fetched credentials rather than the ones being replaced. Requests within
  ``reuse`` of the last fetch share it, so a burst of new clients costs one
  call. A fetch also brings the skew estimate up to date.

If a fetch fails, credentials that have not expired are served still (and the
background retries); only when none are left does the error reach the SDK.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from .client import RoleCredentials, WorkloadError, utcnow

__all__ = ["CredentialCache", "SDK_REFRESH_WINDOW", "refresh_margin"]

MIN_MARGIN = timedelta(minutes=5)
SDK_REFRESH_WINDOW = timedelta(minutes=15)
RETRY_SECONDS = 10.0
MAX_SLEEP_SECONDS = 60.0  # wake at least this often: the wall clock may jump (suspend, NTP)


def refresh_margin(lifetime: timedelta) -> timedelta:
    """How long before expiry credentials are replaced: a quarter of their lifetime, at least five minutes."""
    return max(MIN_MARGIN, lifetime / 4)


class CredentialCache:
    """Holds the latest credentials from ``fetch``; ``current()`` is what an endpoint hands an SDK."""

    def __init__(self, fetch: Callable[[], RoleCredentials], *, clock: Callable[[], datetime] = utcnow,
                 reuse: timedelta = timedelta(seconds=2),
                 on_error: Callable[[WorkloadError], None] | None = None) -> None:
        self._fetch = fetch
        self._clock = clock
        self._reuse = reuse
        self._on_error = on_error
        self._lock = threading.Lock()
        self._creds: RoleCredentials | None = None
        self._fetched_at: datetime | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def latest(self) -> RoleCredentials | None:
        return self._creds

    def _fetch_locked(self) -> RoleCredentials:
        creds = self._fetch()
        self._creds, self._fetched_at = creds, self._clock()
        return creds

    def refresh(self) -> RoleCredentials:
        """Fetch now (raises :class:`WorkloadError`)."""
        with self._lock:
            return self._fetch_locked()

    def remaining(self, creds: RoleCredentials) -> timedelta:
        """Their time left on the server's clock (estimated)."""
        return creds.local_expiration - self._clock()

    def current(self) -> RoleCredentials:
        """Credentials for an SDK asking now: cached while comfortably valid, else fetched (see the module's notes)."""
        with self._lock:
            creds = self._creds
            if creds is None:
                return self._fetch_locked()
            left = self.remaining(creds)
            if left > max(refresh_margin(creds.lifetime), SDK_REFRESH_WINDOW):
                return creds
            if self._fetched_at is not None and self._clock() - self._fetched_at < self._reuse and left > timedelta(0):
                return creds
            try:
                return self._fetch_locked()
            except WorkloadError as err:
                if left <= timedelta(0):
                    raise
                self._report(err)
                return creds

    def _report(self, err: WorkloadError) -> None:
        if self._on_error is not None:
            self._on_error(err)

    def seconds_until_due(self) -> float:
        """Until the background refresh is due (0: now)."""
        creds = self._creds
        if creds is None:
            return 0.0
        due = creds.local_expiration - refresh_margin(creds.lifetime)
        return max(0.0, (due - self._clock()).total_seconds())

    # --- background refresh -------------------------------------------------------------------

    def start(self) -> None:
        """Refresh in a daemon thread until :meth:`close`."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="iamroles-refresh", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        wait = min(self.seconds_until_due(), MAX_SLEEP_SECONDS)
        while not self._stop.wait(wait):
            if self.seconds_until_due() > 0:
                wait = min(self.seconds_until_due(), MAX_SLEEP_SECONDS)
                continue
            try:
                self.refresh()
                wait = min(self.seconds_until_due(), MAX_SLEEP_SECONDS)
            except WorkloadError as err:
                self._report(err)
                wait = RETRY_SECONDS
            except Exception as exc:  # noqa: BLE001  the thread must outlive surprises; they are reported
                self._report(WorkloadError(f"refreshing failed: {exc!r}"))
                wait = RETRY_SECONDS

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
