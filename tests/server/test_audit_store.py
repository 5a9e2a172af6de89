"""The audit trail's batch writer on both backends: every event recorded is stored once, in order,
with its columns and record intact, and the filters of ``iamroles audit`` find it."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from iamroles.server.audit import AuditLog
from iamroles.store import Store


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    url = request.getfixturevalue("pg_database") if request.param == "postgresql" else f"sqlite:///{tmp_path}/audit.db"
    s = Store(url)
    s.migrate()
    yield s  # type: ignore[misc]
    s.close()


def test_batches_of_events_are_all_written_with_their_columns(store: Store) -> None:
    log = AuditLog(store, batch=200, interval=3600)  # only explicit flushes
    start = datetime(2026, 11, 29, 12, 0, 0, 123000, tzinfo=timezone.utc)
    with store.read() as tx:
        before = len(tx.audit(limit=100_000))
    n = 1234  # more than one batch
    for i in range(n):
        event = {"eventSource": "sts.amazonaws.com" if i % 2 else "iam.amazonaws.com", "eventName": f"Op{i % 7}",
                 "errorCode": "AccessDenied" if i % 5 == 0 else None, "requestID": f"req-{i}",
                 "note": "quotes ' \" and unicode é 中 and a ? and %s"}
        log.record(event, "111122223333" if i % 3 else "444455556666", f"arn:aws:iam::111122223333:user/u{i % 4}",
                   start + timedelta(seconds=i))
    log.close()
    with store.read() as tx:
        everything = [json.loads(r) for r in tx.audit(limit=100_000)]
        denied = tx.audit(errors_only=True, limit=100_000)
        other_account = tx.audit(account_id="444455556666", limit=100_000)
        op3 = tx.audit(event_name="Op3", limit=100_000)
        by_user = tx.audit(principal_arn="arn:aws:iam::111122223333:user/u1", limit=100_000)
        late = tx.audit(since=start + timedelta(seconds=n - 10), limit=100_000)
    mine = [e for e in everything if e["requestID"].startswith("req-")]
    assert len(everything) - before == n == len(mine)
    assert [e["requestID"] for e in mine] == [f"req-{i}" for i in reversed(range(n))]  # newest first, none twice
    assert mine[0]["note"] == "quotes ' \" and unicode é 中 and a ? and %s"
    assert len(denied) == len([i for i in range(n) if i % 5 == 0])
    assert len(other_account) == len([i for i in range(n) if i % 3 == 0])
    assert len(op3) == len([i for i in range(n) if i % 7 == 3])
    assert len(by_user) == len([i for i in range(n) if i % 4 == 1])
    assert len(late) == 10  # event_time stored as a comparable time on both backends


def test_request_and_event_ids_are_uuid4_as_aws_writes_them() -> None:
    import uuid

    from iamroles.server.audit import new_id

    ids = [new_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    for text in ids[:2000]:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122
    assert {t[19] for t in ids} == set("89ab")  # every variant nibble occurs
