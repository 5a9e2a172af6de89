"""Clean failures at start-up (issue 11): one line naming the problem and what to do, a non-zero exit, no
traceback, and no "serving on" line before the failure; every file the server creates is private; secrets need
not be on the command line."""
from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import Server, free_port, fresh_pg_database, start_server, stop_server


def serve(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "IAMROLES_"))}
    return subprocess.run([sys.executable, "-m", "iamroles", "serve", *args], capture_output=True, text=True,
                          timeout=timeout, env={**base, **(env or {})})


def assert_one_line_failure(out: subprocess.CompletedProcess[str], *words: str) -> None:
    assert out.returncode == 1, (out.returncode, out.stderr)
    assert "Traceback" not in out.stderr and "serving" not in out.stderr, out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, out.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_pg_database("iamroles_start_") as url:
        yield url


def test_a_second_node_with_another_master_key(tmp_path: Path, pg_url: str) -> None:
    first = start_server(tmp_path / "a", pg_url)
    try:
        out = serve("--data-dir", str(tmp_path / "b"), "--db", pg_url, "--port", str(free_port()))
        assert_one_line_failure(out, "master key")
    finally:
        stop_server(first)


def test_an_unreachable_or_wrong_database(tmp_path: Path) -> None:
    out = serve("--data-dir", str(tmp_path / "d"), "--db", "postgresql+psycopg://postgres@127.0.0.1:1/none",
                "--port", str(free_port()))
    assert_one_line_failure(out, "cannot use the database", "Connection refused")
    out = serve("--data-dir", str(tmp_path / "d"), "--db", "nosuchdb://x/y", "--port", str(free_port()))
    assert_one_line_failure(out, "--db is not a database URL")
    out = serve("--data-dir", str(tmp_path / "d"), "--db", f"sqlite:///{tmp_path}/missing/dir/x.db", "--port", str(free_port()))
    assert_one_line_failure(out, "SQLite database file")


@pytest.mark.parametrize("db,words", [
    ("postgresql+psycopg://postgres@127.0.0.1:5432/iamroles_no_such_database", ("cannot use the database", "does not exist")),
    ("postgresql+psycopg://iamroles_no_such_role@127.0.0.1:5432/test", ("cannot use the database", "does not exist")),
    ("postgresql+psycopg://postgres@127.0.0.1:5432/test?sslmode=bogus", ("cannot use the database", "sslmode")),
    ("mysql://x@127.0.0.1/x", ("--db is not a database URL", "not installed")),
    ("postgresql+asyncpg://x@127.0.0.1/x", ("--db is not a database URL", "not installed")),
    ("sqlite+pysqlite:///:memory:", ("in-memory SQLite",)),
    ("sqlite://", ("in-memory SQLite",)),
    ("NOT_A_DATABASE", ("cannot use the database", "file is not a database")),
])
def test_a_misconfigured_database(tmp_path: Path, db: str, words: tuple[str, ...]) -> None:
    """A database that is not there, a user it does not know, a bad connection option, a driver not installed, a
    database no other process could share, a file that is not a database: one line each, no traceback."""
    if db.startswith("postgresql+psycopg"):
        with fresh_pg_database("iamroles_probe_"):  # (skips without PostgreSQL)
            pass
    if db == "NOT_A_DATABASE":
        garbage = tmp_path / "garbage.db"
        garbage.write_text("this is not a database\n" * 100)
        db = f"sqlite:///{garbage}"
    out = serve("--data-dir", str(tmp_path / "d"), "--db", db, "--port", str(free_port()))
    assert_one_line_failure(out, *words)


def test_a_bad_master_key(tmp_path: Path) -> None:
    out = serve("--data-dir", str(tmp_path / "d"), "--port", str(free_port()), env={"IAMROLES_MASTER_KEY": "not base64!"})
    assert_one_line_failure(out, "IAMROLES_MASTER_KEY")


def test_a_port_in_use_fails_first_and_creates_nothing(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        out = serve("--data-dir", str(tmp_path / "d"), "--port", str(taken.getsockname()[1]))
    assert_one_line_failure(out, "cannot listen", "in use")
    assert not (tmp_path / "d").exists()


def test_every_file_is_private_wherever_it_lives(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    os.chmod(tmp_path, 0o755)
    srv = start_server(tmp_path / "run", f"sqlite+pysqlite:///{outside}/iamroles.db")
    try:
        srv.client("iam").create_user(UserName="writer")  # the WAL and shared-memory files exist once written
        made = [*outside.iterdir(), *srv.data_dir.iterdir()]
        names = {p.name for p in made}
        assert {"iamroles.db", "iamroles.db-wal", "iamroles.db-shm", "master.key", "credentials"} <= names, names
        for p in made:
            assert stat.S_IMODE(p.stat().st_mode) == (0o700 if p.is_dir() else 0o600), p
        assert stat.S_IMODE(srv.data_dir.stat().st_mode) == 0o700
    finally:
        stop_server(srv)


def test_the_root_secret_from_a_file_is_not_in_the_process_list(tmp_path: Path) -> None:
    secret = "Sec" + uuid.uuid4().hex + "Ret"
    key_file = tmp_path / "root.secret"
    key_file.write_text(secret + "\n")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "IAMROLES_"))}
    proc = subprocess.Popen([sys.executable, "-m", "iamroles", "serve", "--data-dir", str(tmp_path / "d"), "--port", str(port),
                             "--root-access-key", "AKIAROOTFROMFILE0001", "--root-secret-key-file", str(key_file)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(url + "/iamroles/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert secret not in Path(f"/proc/{proc.pid}/cmdline").read_bytes().decode()
        srv = Server(url, "", "AKIAROOTFROMFILE0001", secret, tmp_path / "d", None, proc, tmp_path / "unused.log")
        assert srv.client("sts").get_caller_identity()["Arn"].endswith(":root")
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert secret not in err.decode()
