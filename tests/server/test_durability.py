"""Concurrent writers lose nothing and never break a limit; a killed server keeps every acknowledged write.

AWS reference for the limit raced here: https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreatePolicyVersion.html
("A managed policy can have up to five versions").
"""
from __future__ import annotations

import json
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from .conftest import Server, start_server, stop_server, unique
from .test_roles import READ, TRUST


def test_concurrent_policy_versions_respect_the_limit(server: Server) -> None:
    iam = server.client("iam")
    arn = iam.create_policy(PolicyName=unique("race"), PolicyDocument=json.dumps(READ))["Policy"]["Arn"]
    outcomes: list[str] = []
    lock = threading.Lock()

    def create(_: int) -> None:
        client = server.client("iam")
        try:
            client.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(READ))
            result = "ok"
        except ClientError as exc:
            result = exc.response["Error"]["Code"]
        with lock:
            outcomes.append(result)

    with ThreadPoolExecutor(12) as pool:
        list(pool.map(create, range(12)))
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert len(versions) == 5
    assert outcomes.count("ok") == 4 and outcomes.count("LimitExceeded") == 8
    assert sorted(v["VersionId"] for v in versions) == ["v1", "v2", "v3", "v4", "v5"]


def test_concurrent_writers_lose_nothing(server: Server) -> None:
    prefix = f"/{unique('burst')}/"
    names = [unique("r") for _ in range(40)]

    def create(name: str) -> None:
        server.client("iam").create_role(RoleName=name, Path=prefix, AssumeRolePolicyDocument=json.dumps(TRUST))

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(create, names))
    iam = server.client("iam")
    listed = [r["RoleName"] for p in iam.get_paginator("list_roles").paginate(PathPrefix=prefix) for r in p["Roles"]]
    assert sorted(listed) == sorted(names)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_sigkill_keeps_acknowledged_writes(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    db_url = None
    if backend == "postgresql":
        # skips without PostgreSQL; this test gets a database of its own
        import psycopg

        from .conftest import PG_ADMIN

        base = request.getfixturevalue("pg_database").rsplit("/", 1)[0]
        name = "iamroles_kill_" + unique("x").split("-")[1]
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        db_url = f"{base}/{name}"
    srv = start_server(tmp_path, db_url)
    acknowledged: list[str] = []
    stop = threading.Event()

    def writer() -> None:
        client = srv.client("iam")
        while not stop.is_set():
            name = unique("k")
            try:
                client.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
            except Exception:  # noqa: BLE001  (the server is being killed)
                return
            acknowledged.append(name)

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for t in threads:
        t.start()
    while len(acknowledged) < 30:
        threading.Event().wait(0.02)
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait()
    stop.set()
    for t in threads:
        t.join(30)
    again = start_server(tmp_path, db_url, access_key=srv.access_key, secret_key=srv.secret_key)
    try:
        iam = again.client("iam")
        present = {r["RoleName"] for p in iam.get_paginator("list_roles").paginate() for r in p["Roles"]}
        missing = [n for n in acknowledged if n not in present]
        assert not missing, f"{len(missing)} acknowledged writes lost"
    finally:
        stop_server(again)
        if db_url:
            import psycopg

            from .conftest import PG_ADMIN

            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{db_url.rsplit("/", 1)[1]}" WITH (FORCE)')
