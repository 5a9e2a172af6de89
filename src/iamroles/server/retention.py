"""Audit retention: events older than the retention period are exported, then deleted.

AWS CloudTrail's event history keeps 90 days of events
(https://docs.aws.amazon.com/awscloudtrail/latest/userguide/view-cloudtrail-events.html); so does
``iamroles serve`` by default (``--audit-retention 90d``; ``forever`` or ``0`` keeps everything).

With ``--audit-export DIR`` every event is appended, before it is deleted, to ``DIR/iamroles-audit-YYYY-MM-DD.jsonl``
(the UTC day of its eventTime): one JSON event per line in CloudTrail's record format, exactly the record
``iamroles audit --json`` prints (no secret is ever in one: see ``runtime.audit``). Files are created 0600.

What is guaranteed:

* Nothing is deleted that was not exported first: a batch's lines are written and fsynced (and the directory,
  when a file is new) before the transaction that deletes the batch begins; if the export fails, nothing is
  deleted and the next round tries again.
* At least once, not exactly once: a crash (or a failed delete) after a batch's export and before its delete
  commits leaves its events in the database, and the next round exports them again. Such duplicates are the
  same line twice, with the same ``eventID`` (unique per event): ``sort -u`` or a reader keyed by eventID
  drops them. A line cut short by a crash in the middle of a write is closed with a newline before the next
  append, so it never corrupts the line after it.
* One pruner at a time across every process and node on the database (``Store.audit_prune_lock``): the
  others skip their round. A round works in batches of ``batch`` events, each deleted in a short
  transaction of its own with a pause after it, so requests never wait long behind it.
"""
from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from iamroles.store import Store

__all__ = ["DEFAULT_RETENTION", "Pruned", "Pruner", "export_events", "parse_retention", "prune"]

log = logging.getLogger("iamroles.audit")
DEFAULT_RETENTION = "90d"
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_retention(text: str) -> timedelta | None:
    """``90d``, ``12h``, ``30m``, ``45s`` (a whole number and a unit; a bare number is days); ``forever`` or
    ``0``: None, keep everything. ValueError for anything else."""
    value = text.strip().lower()
    if value in ("forever", "0"):
        return None
    match = re.fullmatch(r"([0-9]{1,7})([dhms]?)", value)
    if match is None or int(match.group(1)) == 0:
        raise ValueError(f"{text!r} is not a retention period: a whole number and a unit (90d, 12h, 30m, 45s), or forever")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2) or "d"])


def _day_file(directory: Path, when: datetime) -> Path:
    return directory / f"iamroles-audit-{when.astimezone(UTC):%Y-%m-%d}.jsonl"


def export_events(directory: Path, events: Sequence[tuple[datetime, str]]) -> None:
    """Append each (time, JSON record) to its day's file, one line each, and fsync every file written (and the
    directory when a file was created); returns once all of it is on disk."""
    by_file: dict[Path, list[str]] = {}
    for when, record in events:
        by_file.setdefault(_day_file(directory, when), []).append(record)
    created = False
    for path, records in by_file.items():
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            size = os.fstat(fd).st_size
            created = created or size == 0
            text = "".join(r.replace("\n", " ") + "\n" for r in records)  # records are one-line JSON; a line apiece regardless
            if size and os.pread(fd, 1, size - 1) != b"\n":
                text = "\n" + text  # a line cut short by a crash: end it, do not run into it
            data = text.encode()
            while data:
                data = data[os.write(fd, data):]
            os.fsync(fd)
        finally:
            os.close(fd)
    if created:
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


@dataclass(frozen=True, slots=True)
class Pruned:
    exported: int
    deleted: int
    skipped: bool = False  # another process held the pruning lock


def prune(store: Store, now: datetime, retention: timedelta, export_dir: Path | None, *, batch: int = 500,
          pause: Callable[[], bool] | None = None) -> Pruned:
    """Export (when ``export_dir`` is given) and delete every event older than ``now - retention``, batch by
    batch. ``pause``: called between batches; it returns True to stop the round early (the server's pruner
    sleeps there, and stops when the server does)."""
    cutoff = now - retention
    exported = deleted = 0
    with store.audit_prune_lock() as held:
        if not held:
            return Pruned(0, 0, skipped=True)
        while True:
            with store.read() as tx:
                rows = tx.audit_before(cutoff, batch)
            if not rows:
                break
            if export_dir is not None:
                export_events(export_dir, [(when, record) for _, when, record in rows])
                exported += len(rows)
            with store.write() as tx:  # delete_audit names no scope: the trail is no cached read
                deleted += tx.delete_audit([row_id for row_id, _, _ in rows])
            if len(rows) < batch or (pause is not None and pause()):
                break
    return Pruned(exported, deleted)


class Pruner:
    """One thread per serving process that prunes the trail every ``interval`` seconds (the first round a few
    seconds after start); at most one process prunes at a time (the others' rounds are skipped)."""

    def __init__(self, store: Store, retention: timedelta, export_dir: Path | None, clock: Callable[[], datetime],
                 interval: float = 600.0, batch: int = 500, breather: float = 0.05) -> None:
        self.store, self.retention, self.export_dir, self.clock = store, retention, export_dir, clock
        self.interval, self.batch, self.breather = interval, batch, breather
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="iamroles-audit-prune", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        delay = min(self.interval, 2.0)
        while not self._stop.wait(delay):
            delay = self.interval
            try:
                done = prune(self.store, self.clock(), self.retention, self.export_dir, batch=self.batch,
                             pause=lambda: self._stop.wait(self.breather))
            except Exception as exc:  # noqa: BLE001  (a failed round deletes nothing unexported; the next one retries)
                log.error("audit retention: this round stopped (%s: %s); events stay until the next one",
                          type(exc).__name__, str(exc).splitlines()[0][:200] if str(exc) else "")
                continue
            if done.deleted:
                log.info("audit retention: exported %d and deleted %d events older than %s", done.exported, done.deleted,
                         self.retention)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(30)
