"""The audit trail's batch writer on both backends: every event recorded is stored once, in order,
with its columns and record intact, and the filters of ``iamroles audit`` find it."""
from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from iamroles.runtime.audit import AuditLog
from iamroles.store import Store


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    url = request.getfixturevalue("own_pg_database") if request.param == "postgresql" else f"sqlite:///{tmp_path}/audit.db"
    s = Store(url)
    s.migrate()
    yield s  # type: ignore[misc]
    s.close()


def test_batches_of_events_are_all_written_with_their_columns(store: Store) -> None:
    log = AuditLog(store, batch=200, interval=3600)  # only explicit flushes
    start = datetime(2026, 11, 29, 12, 0, 0, 123000, tzinfo=UTC)
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
    # (on PostgreSQL the database is shared with the session's server: count this test's events only)
    denied, other_account, op3, by_user, late = (
        [r for r in rows if '"requestID":"req-' in r] for rows in (denied, other_account, op3, by_user, late))
    mine = [e for e in everything if e["requestID"].startswith("req-")]
    assert len(everything) - before >= n == len(mine)
    assert [e["requestID"] for e in mine] == [f"req-{i}" for i in reversed(range(n))]  # newest first, none twice
    assert mine[0]["note"] == "quotes ' \" and unicode é 中 and a ? and %s"
    assert len(denied) == len([i for i in range(n) if i % 5 == 0])
    assert len(other_account) == len([i for i in range(n) if i % 3 == 0])
    assert len(op3) == len([i for i in range(n) if i % 7 == 3])
    assert len(by_user) == len([i for i in range(n) if i % 4 == 1])
    assert len(late) == 10  # event_time stored as a comparable time on both backends


def test_request_and_event_ids_are_uuid4_as_aws_writes_them() -> None:
    import uuid

    from iamroles.runtime import new_id

    ids = [new_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    for text in ids[:2000]:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122
    assert {t[19] for t in ids} == set("89ab")  # every variant nibble occurs


def _event(name: str, request_id: str, **extra: object) -> dict[str, object]:
    return {"eventSource": "iam.amazonaws.com", "eventName": name, "errorCode": None, "requestID": request_id, **extra}


def test_every_value_fits_its_column(store: Store) -> None:
    """What a request can put in a column (an Action of any length, a NUL, a lone surrogate from JSON) is cut
    to fit, with a marker; the JSON record keeps the whole of it."""
    log = AuditLog(store, interval=3600)
    when = datetime(2026, 11, 29, tzinfo=UTC)
    log.record(_event("A" * 100, "fit-1"), "1" * 40, "arn:aws:iam::1:user/" + "u" * 3000, when)
    log.record(_event("Get\x00User\ud800", "fit-2", errorCode="E" * 100), None, None, when)
    log.close()
    with store.read() as tx:
        long_name = tx.audit(event_name="A" * 63 + "\u2026")
        nul = tx.audit(event_name="Get\ufffdUser?")
    assert [json.loads(r)["requestID"] for r in long_name] == ["fit-1"]
    assert json.loads(long_name[0])["eventName"] == "A" * 100
    assert [json.loads(r)["requestID"] for r in nul] == ["fit-2"]


def test_a_batch_that_fails_is_written_one_event_at_a_time(store: Store) -> None:
    """An event the store refuses (here by a trigger, as a constraint would) loses no other event of its batch;
    the requests waiting for them learn which was written."""
    poison = "Poison" + uuid.uuid4().hex[:6]
    with store.engine.begin() as conn:
        if store.postgres:
            conn.exec_driver_sql(f"CREATE FUNCTION refuse_{poison}() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'no'; END $$ LANGUAGE plpgsql")
            conn.exec_driver_sql(f"CREATE TRIGGER t_{poison} BEFORE INSERT ON audit_events FOR EACH ROW "
                                 f"WHEN (NEW.event_name = '{poison}') EXECUTE FUNCTION refuse_{poison}()")
        else:
            conn.exec_driver_sql(f"CREATE TRIGGER t_{poison} BEFORE INSERT ON audit_events WHEN NEW.event_name = '{poison}' "
                                 "BEGIN SELECT RAISE(ABORT, 'no'); END")
    log = AuditLog(store, interval=3600)
    when = datetime(2026, 11, 29, tzinfo=UTC)
    try:
        for i in range(50):
            log.record(_event(poison if i % 10 == 3 else "Fine", f"batch-{poison}-{i}"), None, None, when)
        waiting = [log.commit(_event(poison if i == 1 else "Fine", f"wait-{poison}-{i}"), None, None, when) for i in range(3)]
        outcomes = [w.wait(10) for w in waiting]
    finally:
        log.close()
        with store.engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TRIGGER t_{poison}" + (" ON audit_events" if store.postgres else ""))
    assert outcomes[0] is None and outcomes[2] is None and outcomes[1] is not None
    with store.read() as tx:
        ids = {json.loads(r)["requestID"] for r in tx.audit(limit=100_000)}
    assert {f"batch-{poison}-{i}" for i in range(50) if i % 10 != 3} <= ids
    assert {f"wait-{poison}-0", f"wait-{poison}-2"} <= ids
    assert not {f"batch-{poison}-{i}" for i in range(50) if i % 10 == 3} & ids and f"wait-{poison}-1" not in ids


def test_commit_releases_a_waiting_event_loop_without_blocking_it(store: Store) -> None:
    """A credential issuer's answer waits in the event loop: the loop keeps running while the writer commits."""
    import asyncio

    log = AuditLog(store, interval=3600)
    when = datetime(2026, 11, 29, tzinfo=UTC)

    async def main() -> tuple[list[object], int]:
        loop = asyncio.get_running_loop()
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        t = asyncio.create_task(ticker())
        waiting = [log.commit(_event("Async", f"async-{i}"), None, None, when, loop) for i in range(20)]
        results = [await w.wait_async(10) for w in waiting]
        t.cancel()
        return results, ticks

    try:
        results, ticks = asyncio.run(main())
    finally:
        log.close()
    assert results == [None] * 20 and ticks > 0
    with store.read() as tx:
        assert {f"async-{i}" for i in range(20)} <= {json.loads(r)["requestID"] for r in tx.audit(event_name="Async", limit=1000)}


def test_a_record_stays_within_cloudtrails_event_size(store: Store) -> None:
    """CloudTrail omits request parameters over 100 KB
    (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html)
    and keeps an event within 256 KB: anything else sent long is cut."""
    log = AuditLog(store, interval=3600)
    when = datetime(2026, 11, 29, tzinfo=UTC)
    log.record(_event("X" * 500_000, "size-1", requestParameters={"k": "v" * 300_000},
                      userIdentity={"type": "Unknown", "accessKeyId": "A" * 400_000}), None, None, when)
    log.record(_event("Fine", "size-2", requestParameters={"k": "v" * 90_000}), None, None, when)
    log.close()
    with store.read() as tx:
        [raw] = [r for r in tx.audit(limit=100_000) if '"size-1"' in r]
    event = json.loads(raw)
    assert len(raw) <= 256 * 1024
    assert set(event["requestParameters"]) == {"omitted"}
    assert event["eventName"].startswith("XXXX") and event["eventName"].endswith("\u2026")
    assert len(event["userIdentity"]["accessKeyId"]) <= 1024
    with store.read() as tx:
        [kept] = [json.loads(r) for r in tx.audit(limit=100_000) if '"size-2"' in r]
    assert kept["requestParameters"] == {"k": "v" * 90_000}
