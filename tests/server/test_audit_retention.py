"""Audit retention (issue 13 item 4): events older than the retention period are exported, then deleted.

CloudTrail's event history keeps 90 days
(https://docs.aws.amazon.com/awscloudtrail/latest/userguide/view-cloudtrail-events.html); the export is one
CloudTrail record a line
(https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html).
"""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from iamroles.runtime.audit import audit_row, event_record, new_id
from iamroles.server.retention import parse_retention, prune
from iamroles.store import Store

from .conftest import fresh_pg_database, start_server, stop_server, unique
from .test_audit import read_trail

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
RETENTION = timedelta(days=90)
# the fields every exported line has, as CloudTrail's record contents name them
FIELDS = {"eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion", "sourceIPAddress",
          "userAgent", "requestParameters", "responseElements", "requestID", "eventID", "readOnly", "eventType",
          "managementEvent", "recipientAccountId"}


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "postgresql":
        with fresh_pg_database("iamroles_retention_") as url:
            s = Store(url)
            s.migrate()
            yield s
            s.close()
        return
    s = Store(f"sqlite:///{tmp_path}/audit.db")
    s.migrate()
    yield s
    s.close()


def put_events(store: Store, times: list[datetime], name: str = "GetRole") -> list[str]:
    """Events recorded at ``times`` (written straight to the store, as the trail writes them); their eventIDs."""
    rows, ids = [], []
    for when in times:
        event = event_record(when=when, service="iam", operation=name, region="us-east-1", source_ip="127.0.0.1",
                             user_agent="test", request_id=new_id(), caller=None, access_key_id="AKIAEXAMPLE",
                             params={"RoleName": "r"}, error_code=None, error_message=None, read_only=True)
        rows.append(audit_row(event, "111122223333", None, when))
        ids.append(event["eventID"])
    with store.write() as tx:
        tx.insert_audit(rows)
    return ids


def stored_ids(store: Store) -> set[str]:
    with store.read() as tx:
        return {json.loads(r)["eventID"] for r in tx.audit(limit=1_000_000)}


def exported(directory: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for p in sorted(directory.glob("*.jsonl")) for line in p.read_text().splitlines() if line]


def test_old_events_are_exported_by_day_then_deleted_and_newer_kept(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "export"
    out.mkdir()
    old_times = [NOW - RETENTION - timedelta(days=d, seconds=s) for d in (1, 2) for s in range(700)]  # two days, 1,400 events
    old = put_events(store, old_times)
    new = put_events(store, [NOW - RETENTION + timedelta(seconds=5), NOW - timedelta(days=1)])
    done = prune(store, NOW, RETENTION, out, batch=300)  # several batches
    assert (done.exported, done.deleted, done.skipped) == (1400, 1400, False)
    assert stored_ids(store) == set(new)
    lines = exported(out)
    assert [e["eventID"] for e in lines] == old[::-1]  # oldest first, each once
    files = sorted(p.name for p in out.iterdir())
    days = sorted({f"iamroles-audit-{t:%Y-%m-%d}.jsonl" for t in old_times})
    assert files == days
    for p in out.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o600
        for line in p.read_text().splitlines():  # each event in the file of its own day
            assert p.name == f"iamroles-audit-{json.loads(line)['eventTime'][:10]}.jsonl"
    for event in lines:
        assert set(event) >= FIELDS, FIELDS - set(event)
        assert event["eventSource"] == "iam.amazonaws.com" and event["eventName"] == "GetRole"
    # a second round finds nothing more to do
    assert prune(store, NOW, RETENTION, out) == type(done)(0, 0)
    assert len(exported(out)) == 1400


def test_without_an_export_directory_old_events_are_only_deleted(store: Store) -> None:
    put_events(store, [NOW - RETENTION - timedelta(hours=1)] * 3)
    new = put_events(store, [NOW])
    assert prune(store, NOW, RETENTION, None).deleted == 3
    assert stored_ids(store) == set(new)


def _refuse_deletes(store: Store) -> None:
    with store.engine.begin() as conn:
        if store.postgres:
            conn.exec_driver_sql("CREATE FUNCTION refuse_delete() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'disk gone'; END $$ "
                                 "LANGUAGE plpgsql")
            conn.exec_driver_sql("CREATE TRIGGER refuse_delete BEFORE DELETE ON audit_events FOR EACH ROW EXECUTE FUNCTION refuse_delete()")
        else:
            conn.exec_driver_sql("CREATE TRIGGER refuse_delete BEFORE DELETE ON audit_events BEGIN SELECT RAISE(ABORT, 'disk gone'); END")


def test_a_delete_that_fails_after_the_export_loses_nothing(store: Store, tmp_path: Path) -> None:
    """As a crash between the export and the delete's commit: the events stay in the database, are exported
    again by the next round (at least once), and the duplicates carry the same eventID."""
    out = tmp_path / "export"
    out.mkdir()
    old = put_events(store, [NOW - RETENTION - timedelta(minutes=m) for m in range(1, 51)])
    _refuse_deletes(store)
    with pytest.raises(Exception, match="disk gone"):
        prune(store, NOW, RETENTION, out, batch=20)
    assert stored_ids(store) == set(old)  # nothing deleted
    first = exported(out)
    assert len(first) == 20  # the batch was on disk before its delete began
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER refuse_delete" + (" ON audit_events" if store.postgres else ""))
    done = prune(store, NOW, RETENTION, out, batch=20)
    assert done.deleted == 50
    assert stored_ids(store) == set()
    lines = exported(out)
    ids = [e["eventID"] for e in lines]
    assert set(ids) == set(old)  # nothing lost
    assert len(ids) == 70 and len(set(ids)) == 50  # the failed batch twice: the same records, same eventIDs
    assert {json.dumps(e, sort_keys=True) for e in lines} == {json.dumps(e, sort_keys=True) for e in lines[20:]}


def test_an_export_that_fails_deletes_nothing(store: Store, tmp_path: Path) -> None:
    old = put_events(store, [NOW - RETENTION - timedelta(days=1)] * 5)
    with pytest.raises(OSError):
        prune(store, NOW, RETENTION, tmp_path / "no" / "such" / "dir")
    assert stored_ids(store) == set(old)


def test_a_line_cut_short_by_a_crash_does_not_swallow_the_next(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "export"
    out.mkdir()
    when = NOW - RETENTION - timedelta(days=1)
    (out / f"iamroles-audit-{when:%Y-%m-%d}.jsonl").write_text('{"eventVersion":"1.08","eventID":"cut')
    old = put_events(store, [when] * 3)
    prune(store, NOW, RETENTION, out)
    lines = (out / f"iamroles-audit-{when:%Y-%m-%d}.jsonl").read_text().splitlines()
    assert lines[0] == '{"eventVersion":"1.08","eventID":"cut'
    assert {json.loads(line)["eventID"] for line in lines[1:]} == set(old)


def test_one_pruner_at_a_time(store: Store, tmp_path: Path) -> None:
    """Another process (here another Store on the same database) holding the lock: this round is skipped."""
    put_events(store, [NOW - RETENTION - timedelta(days=1)] * 5)
    other = Store(store.url)
    try:
        with other.audit_prune_lock() as held:
            assert held
            done = prune(store, NOW, RETENTION, None)
            assert done.skipped and done.deleted == 0
        assert prune(store, NOW, RETENTION, None).deleted == 5  # released
    finally:
        other.close()


def test_concurrent_pruners_export_each_event_once(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "export"
    out.mkdir()
    old = put_events(store, [NOW - RETENTION - timedelta(seconds=s) for s in range(1, 2001)])
    stores = [Store(store.url) for _ in range(3)]
    results: list[Any] = []

    def run(s: Store) -> None:
        while True:
            done = prune(s, NOW, RETENTION, out, batch=100)
            results.append(done)
            if not done.skipped:
                return

    threads = [threading.Thread(target=run, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for s in stores:
        s.close()
    ids = [e["eventID"] for e in exported(out)]
    assert sorted(ids) == sorted(old)  # each exactly once
    assert stored_ids(store) == set()


@pytest.mark.parametrize("text,period", [("90d", timedelta(days=90)), ("12h", timedelta(hours=12)), ("30m", timedelta(minutes=30)),
                                         ("45s", timedelta(seconds=45)), ("7", timedelta(days=7)), ("forever", None), ("0", None)])
def test_retention_periods(text: str, period: timedelta | None) -> None:
    assert parse_retention(text) == period


@pytest.mark.parametrize("text", ["", "d", "-1d", "1.5d", "1w", "0d", "90 days", "1e9d", "99999999d"])
def test_bad_retention_periods(text: str) -> None:
    with pytest.raises(ValueError):
        parse_retention(text)


# -- a running server ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_server_exports_then_deletes_what_its_retention_no_longer_keeps(backend: str, tmp_path: Path) -> None:
    out = tmp_path / "export"
    with fresh_pg_database("iamroles_retention_") if backend == "postgresql" else nullcontext() as db_url:
        srv = start_server(tmp_path, db_url, "--test-mode", "--audit-retention", "1d", "--audit-export", str(out),
                           "--audit-prune-interval", "0.2")
        try:
            iam = srv.client("iam")
            user = unique("u")
            iam.create_user(UserName=user)
            secret = iam.create_access_key(UserName=user)["AccessKey"]["SecretAccessKey"]
            token = "Zq" + uuid.uuid4().hex + "Sx"  # a sensitive input: recorded as HIDDEN_DUE_TO_SECURITY_REASONS
            with pytest.raises(ClientError):
                srv.client("sts").assume_role_with_web_identity(RoleArn=f"arn:aws:iam::{srv.account}:role/none",
                                                                RoleSessionName="bench", WebIdentityToken=token)
            before, _ = read_trail(srv)
            assert {"CreateUser", "CreateAccessKey"} <= {e["eventName"] for e in before}
            assert not out.exists() or not list(out.iterdir())  # nothing is older than a day yet
            httpx.post(srv.url + "/iamroles/test/clock", json={"advance": 2 * 86400}).raise_for_status()
            # a call two days later (refused: signed by a client whose clock did not move) is recorded then: kept
            with pytest.raises(ClientError) as late:
                iam.get_user(UserName=user)
            assert late.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and len(exported(out) if out.exists() else []) < len(before):
                time.sleep(0.1)
            lines = exported(out)
            assert {e["eventID"] for e in lines} == {e["eventID"] for e in before}
            after, _ = read_trail(srv)
            assert [(e["eventName"], e["errorCode"]) for e in after] == [("GetUser", "SignatureDoesNotMatch")]
            for p in out.iterdir():
                assert stat.S_IMODE(p.stat().st_mode) == 0o600
                text = p.read_text()
                assert secret not in text and token not in text  # an answer's secret, a sensitive input: never in an event
            assert stat.S_IMODE(out.stat().st_mode) == 0o700
            assert next(e for e in lines if e["eventName"] == "CreateUser")["requestParameters"] == {"userName": user}
            [web] = [e for e in lines if e["eventName"] == "AssumeRoleWithWebIdentity"]
            assert web["requestParameters"]["webIdentityToken"] == "HIDDEN_DUE_TO_SECURITY_REASONS"
        finally:
            stop_server(srv)


def test_audit_prune_on_demand(tmp_path: Path) -> None:
    srv = start_server(tmp_path, None, "--audit-retention", "forever")
    try:
        srv.client("iam").list_roles()
        srv.client("sts").get_caller_identity()
        time.sleep(1.2)  # the read-only events are written within half a second; both are now over a second old
    finally:
        stop_server(srv)
    before, _ = read_trail(srv)
    assert {"ListRoles", "GetCallerIdentity"} <= {e["eventName"] for e in before}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "IAMROLES_"))}
    cmd = [sys.executable, "-m", "iamroles", "audit-prune", "--data-dir", str(srv.data_dir)]
    run = subprocess.run(cmd + ["--retention", "1s", "--export", str(tmp_path / "out")], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == f"exported {len(before)} event(s) to {tmp_path / 'out'} and deleted {len(before)}"
    assert {e["eventID"] for e in exported(tmp_path / "out")} == {e["eventID"] for e in before}
    assert read_trail(srv)[0] == []
    refused = subprocess.run(cmd + ["--retention", "forever"], capture_output=True, text=True, env=env)
    assert refused.returncode == 2 and "nothing to prune" in refused.stderr
