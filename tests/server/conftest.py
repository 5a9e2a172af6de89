"""A real ``iamroles serve`` process per database backend, driven with boto3.

The same tests run on SQLite and on PostgreSQL (127.0.0.1:5432, trust auth;
each run gets a database of its own, dropped afterwards). Without a reachable
PostgreSQL the PostgreSQL half is skipped with a message saying so.
"""
from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3
import httpx
import pytest
from botocore.config import Config

PG_ADMIN = os.environ.get("IAMROLES_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
ACCOUNT = "111122223333"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    account: str
    access_key: str
    secret_key: str
    data_dir: Path
    db_url: str | None
    proc: subprocess.Popen[bytes]
    log: Path

    def client(self, service: str = "iam", key: str | None = None, secret: str | None = None, token: str | None = None,
               region: str = "us-east-1", retries: int = 0, validate: bool = True) -> object:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=region,
            aws_access_key_id=key or self.access_key,
            aws_secret_access_key=secret or self.secret_key,
            aws_session_token=token,
            config=Config(retries={"max_attempts": retries + 1, "mode": "standard"}, parameter_validation=validate),
        )


def start_server(tmp: Path, db_url: str | None, *extra: str, account: str = ACCOUNT,
                 access_key: str | None = None, secret_key: str | None = None) -> Server:
    tmp.mkdir(parents=True, exist_ok=True)
    port = free_port()
    access_key = access_key or "AKIA" + secrets.token_hex(8).upper()
    secret_key = secret_key or secrets.token_urlsafe(30)
    log = tmp / f"server-{port}.log"
    cmd = [sys.executable, "-m", "iamroles", "serve", "--port", str(port), "--data-dir", str(tmp / "data"),
           "--account-id", account, "--root-access-key", access_key, "--root-secret-key", secret_key, *extra]
    if db_url:
        cmd += ["--db", db_url]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    with log.open("wb") as out:  # the child keeps its own descriptor
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"iamroles serve exited: {log.read_text()}")
        try:
            if httpx.get(url + "/iamroles/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        proc.kill()
        raise RuntimeError(f"iamroles serve did not start: {log.read_text()}")
    return Server(url, account, access_key, secret_key, tmp / "data", db_url, proc, log)


def stop_server(server: Server) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(10)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()


@contextmanager
def fresh_pg_database(prefix: str = "iamroles_test_") -> Iterator[str]:
    """A new PostgreSQL database, dropped afterwards (skips the test without PostgreSQL)."""
    try:
        import psycopg

        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN} ({exc}); PostgreSQL tests skipped")
    name = prefix + uuid.uuid4().hex[:10]
    admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    try:
        yield f"{base}/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope="module")
def own_pg_database() -> Iterator[str]:
    """A PostgreSQL database for one module's store-level tests, apart from the one the session's servers
    bootstrap (an account written there directly would not be the servers' own)."""
    with fresh_pg_database("iamroles_module_") as url:
        yield url


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run (skips without PostgreSQL)."""
    with fresh_pg_database() as url:
        yield url


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    db_url = request.getfixturevalue("pg_database") if request.param == "postgresql" else None
    srv = start_server(tmp_path_factory.mktemp(f"iamroles-{request.param}"), db_url)
    try:
        yield srv
    finally:
        stop_server(srv)


@pytest.fixture
def iam(server: Server) -> object:
    return server.client("iam")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
