"""The credential report against a real server (test mode, to move its clock past four hours) on both backends.

AWS references: https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_getting-report.html (the columns,
TRUE/FALSE as the report writes them in lower case, N/A, no_information, not_supported for the root user's
password; "You can generate a credential report as often as once every four hours"),
https://docs.aws.amazon.com/IAM/latest/APIReference/API_GenerateCredentialReport.html (State STARTED | INPROGRESS |
COMPLETE), API_GetCredentialReport.html (ReportNotPresent 410, ReportExpired 410; ReportFormat text/csv). IAM's
first answer to GenerateCredentialReport is STARTED, "No report exists. Starting a new report generation task", the
next COMPLETE (prowler-cloud/prowler#272); ReportNotPresent has no message (turbot/steampipe-plugin-aws#509).
"""
from __future__ import annotations

import base64
import csv
import io
import time
from collections.abc import Iterator
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from iamroles.tokens.totp import code_at

from .conftest import Server, fresh_pg_database, start_server, stop_server, unique
from .test_account_level import error
from .test_audit import read_trail, request_id
from .test_credentials import certificate, ec_key, pem
from .test_partitions import create_account
from .test_sts import _shifted, make_user

# the report's columns, in the order of the user guide's list
COLUMNS = [
    "user", "arn", "user_creation_time", "password_enabled", "password_last_used", "password_last_changed",
    "password_next_rotation", "mfa_active", "access_key_1_active", "access_key_1_last_rotated",
    "access_key_1_last_used_date", "access_key_1_last_used_region", "access_key_1_last_used_service",
    "access_key_2_active", "access_key_2_last_rotated", "access_key_2_last_used_date", "access_key_2_last_used_region",
    "access_key_2_last_used_service", "cert_1_active", "cert_1_last_rotated", "cert_2_active", "cert_2_last_rotated",
]
FOUR_HOURS = 4 * 3600


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def srv(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with fresh_pg_database("iamroles_report_") if request.param == "postgresql" else nullcontext() as db:
        server = start_server(tmp_path_factory.mktemp(f"report-{request.param}"), db, "--test-mode")
        try:
            yield server
        finally:
            stop_server(server)


def advance(server: Server, seconds: float) -> None:
    assert httpx.post(server.url + "/iamroles/test/clock", json={"advance": seconds}).status_code == 200


def rows(report: dict[str, Any]) -> dict[str, dict[str, str]]:
    assert report["ReportFormat"] == "text/csv"
    table = list(csv.reader(io.StringIO(report["Content"].decode())))
    assert table[0] == COLUMNS
    assert all(len(r) == len(COLUMNS) for r in table)
    return {r[0]: dict(zip(COLUMNS, r, strict=True)) for r in table[1:]}


def iso(text: str) -> datetime:
    assert text.endswith("+00:00") and "." not in text, text
    return datetime.fromisoformat(text)


def wait_for_use(iam: Any, key_id: str) -> None:
    deadline = time.monotonic() + 10
    while "LastUsedDate" not in iam.get_access_key_last_used(AccessKeyId=key_id)["AccessKeyLastUsed"]:
        assert time.monotonic() < deadline, "the key's use was not recorded"
        time.sleep(0.2)


def test_the_report_shows_every_users_credentials(srv: Server) -> None:
    account = create_account(srv)  # an account of its own: no report yet
    iam = srv.client("iam", account.key, account.secret)
    assert error(lambda: iam.get_credential_report())[:2] == ("ReportNotPresent", 410)
    # alice: a password, an MFA device, two keys (the second inactive, the first used), a signing certificate
    alice = iam.create_user(UserName=unique("alice"))["User"]
    name = alice["UserName"]
    iam.create_login_profile(UserName=name, Password="Report-pw1!")
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName=unique("mfa"))["VirtualMFADevice"]
    seed = base64.b32decode(device["Base32StringSeed"])
    step = int(time.time() // 30)
    iam.enable_mfa_device(UserName=name, SerialNumber=device["SerialNumber"], AuthenticationCode1=code_at(seed, step - 1),
                          AuthenticationCode2=code_at(seed, step))
    first = iam.create_access_key(UserName=name)["AccessKey"]
    second = iam.create_access_key(UserName=name)["AccessKey"]
    iam.update_access_key(UserName=name, AccessKeyId=second["AccessKeyId"], Status="Inactive")
    srv.client("sts", first["AccessKeyId"], first["SecretAccessKey"], region="eu-west-1").get_caller_identity()
    wait_for_use(iam, first["AccessKeyId"])
    cert = iam.upload_signing_certificate(UserName=name, CertificateBody=pem(certificate(ec_key(), "report")))["Certificate"]
    # bob: nothing at all; and a password policy with a maximum age
    bob = iam.create_user(UserName=unique("bob"))["User"]
    iam.update_account_password_policy(MinimumPasswordLength=8, MaxPasswordAge=90)

    started = iam.generate_credential_report()
    assert (started["State"], started["Description"]) == ("STARTED", "No report exists. Starting a new report generation task")
    complete = iam.generate_credential_report()
    assert complete["State"] == "COMPLETE" and "Description" not in complete
    report = iam.get_credential_report()
    generated = report["GeneratedTime"]
    assert abs((generated - datetime.now(UTC)).total_seconds()) < 60
    table = rows(report)
    assert list(table) == ["<root_account>", *sorted((name, bob["UserName"]), key=str.lower)]

    root = table["<root_account>"]
    assert root["arn"] == f"arn:aws:iam::{account.account_id}:root"
    assert (root["password_enabled"], root["password_last_changed"], root["password_next_rotation"]) == ("not_supported",) * 3
    assert (root["mfa_active"], root["access_key_1_active"], root["access_key_2_active"]) == ("false", "true", "false")
    iso(root["user_creation_time"])
    iso(root["access_key_1_last_rotated"])
    assert (root["cert_1_active"], root["cert_1_last_rotated"], root["cert_2_active"], root["cert_2_last_rotated"]) == (
        "false", "N/A", "false", "N/A")

    a = table[name]
    assert a["arn"] == alice["Arn"] and iso(a["user_creation_time"]) == alice["CreateDate"].replace(microsecond=0)
    assert (a["password_enabled"], a["password_last_used"], a["mfa_active"]) == ("true", "no_information", "true")
    changed = iso(a["password_last_changed"])
    assert iso(a["password_next_rotation"]) == changed + timedelta(days=90)
    assert a["access_key_1_active"] == "true"
    assert iso(a["access_key_1_last_rotated"]) == first["CreateDate"].replace(microsecond=0)
    iso(a["access_key_1_last_used_date"])
    assert (a["access_key_1_last_used_region"], a["access_key_1_last_used_service"]) == ("eu-west-1", "sts")
    assert a["access_key_2_active"] == "false"
    assert iso(a["access_key_2_last_rotated"]) == second["CreateDate"].replace(microsecond=0)
    assert (a["access_key_2_last_used_date"], a["access_key_2_last_used_region"], a["access_key_2_last_used_service"]) == ("N/A",) * 3
    assert a["cert_1_active"] == "true" and iso(a["cert_1_last_rotated"]) == cert["UploadDate"].replace(microsecond=0)
    assert (a["cert_2_active"], a["cert_2_last_rotated"]) == ("false", "N/A")

    b = table[bob["UserName"]]
    assert [b[c] for c in COLUMNS[3:]] == [
        "false", "N/A", "N/A", "N/A", "false",
        "false", "N/A", "N/A", "N/A", "N/A", "false", "N/A", "N/A", "N/A", "N/A", "false", "N/A", "false", "N/A"]

    # no secret of any kind is in it
    text = report["Content"].decode()
    for secret in (first["SecretAccessKey"], second["SecretAccessKey"], "Report-pw1!", device["Base32StringSeed"].decode()):
        assert secret not in text

    # four hours on, the report has expired; a new one sees what changed meanwhile
    iam.delete_user(UserName=bob["UserName"])
    assert rows(iam.get_credential_report()).keys() == table.keys()  # (the report is what was, until made again)
    advance(srv, FOUR_HOURS + 1)
    try:
        with _shifted(FOUR_HOURS + 1):
            assert error(lambda: iam.get_credential_report())[:2] == ("ReportExpired", 410)
            again = iam.generate_credential_report()
            assert (again["State"], again["Description"]) == ("STARTED", "No report exists. Starting a new report generation task")
            fresh = iam.get_credential_report()
            assert fresh["GeneratedTime"] >= generated + timedelta(hours=4)
            assert list(rows(fresh)) == ["<root_account>", name]
    finally:
        advance(srv, -(FOUR_HOURS + 1))  # (the module's other tests sign with the real time)


def test_generate_then_complete(srv: Server) -> None:
    account = create_account(srv)
    iam = srv.client("iam", account.key, account.secret)
    out = iam.generate_credential_report()
    assert (out["State"], out["Description"]) == ("STARTED", "No report exists. Starting a new report generation task")
    assert iam.generate_credential_report()["State"] == "COMPLETE"
    assert list(rows(iam.get_credential_report())) == ["<root_account>"]


def test_a_report_is_its_accounts_only(srv: Server) -> None:
    a_account, b_account = create_account(srv), create_account(srv)
    a = srv.client("iam", a_account.key, a_account.secret)
    b = srv.client("iam", b_account.key, b_account.secret)
    mine = a.create_user(UserName=unique("mine"))["User"]["UserName"]
    a.generate_credential_report()
    assert error(lambda: b.get_credential_report())[:2] == ("ReportNotPresent", 410)  # A's report is not B's
    theirs = b.create_user(UserName=unique("theirs"))["User"]["UserName"]
    b.generate_credential_report()
    assert list(rows(a.get_credential_report())) == ["<root_account>", mine]
    b_rows = rows(b.get_credential_report())
    assert list(b_rows) == ["<root_account>", theirs]
    assert b_rows["<root_account>"]["arn"] == f"arn:aws:iam::{b_account.account_id}:root"


def test_report_calls_need_their_permission(srv: Server) -> None:
    account = create_account(srv)
    iam = srv.client("iam", account.key, account.secret)
    _, key = make_user(iam, srv, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "iam:GenerateCredentialReport", "Resource": "*"}]})
    reader = srv.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    assert "explicit deny" in error(lambda: reader.generate_credential_report())[2]
    assert error(lambda: iam.get_credential_report())[:2] == ("ReportNotPresent", 410)  # nothing was generated
    _, key = make_user(iam, srv, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:GenerateCredentialReport", "Resource": "*"}]})
    generator = srv.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    generated = request_id(generator.generate_credential_report())
    assert error(lambda: generator.get_credential_report())[:2] == ("AccessDenied", 403)
    fetched = request_id(reader.get_credential_report())
    deadline = time.monotonic() + 10
    while True:  # (a read's event is written within the trail's interval)
        events = {e["requestID"]: e for e in read_trail(srv)[0]}
        if fetched in events or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert events[generated]["eventName"] == "GenerateCredentialReport" and events[generated]["readOnly"] is False
    assert events[fetched]["eventName"] == "GetCredentialReport" and events[fetched]["responseElements"] is None
