"""``iamroles serve --workers N`` (issue 13): N processes on one port and one database.

Each request goes over a keep-alive connection whose server end is found in /proc, so the test knows which
worker answered it: both workers serve, a write answered by one is read at once through the other, a stop
signal ends them all cleanly, and the death of one stops the server.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import urlencode

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from .conftest import Server, free_port, fresh_pg_database, start_server, stop_server, unique
from .test_audit import read_trail
from .test_startup import assert_one_line_failure, serve

pytestmark = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="finds each connection's worker in Linux's /proc")


def children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _socket_inode(server_port: int, client_port: int) -> int | None:
    """The inode of the server's end of the TCP connection from ``client_port`` (IPv4 loopback)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        cols = line.split()
        local, remote = cols[1], cols[2]
        if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == client_port:
            return int(cols[9])
    return None


def owner(worker_pids: list[int], inode: int) -> int | None:
    target = f"socket:[{inode}]"
    for pid in worker_pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) == target:
                    return pid
            except OSError:
                continue
    return None


class Pinned:
    """A keep-alive connection to one worker, sending botocore-signed Query requests."""

    def __init__(self, srv: Server, workers: list[int]) -> None:
        self.srv = srv
        self.port = int(srv.url.rsplit(":", 1)[1])
        self.sock = socket.create_connection(("127.0.0.1", self.port))
        self.file = self.sock.makefile("rb")
        client_port = self.sock.getsockname()[1]
        self.worker: int | None = None
        deadline = time.monotonic() + 5
        while self.worker is None and time.monotonic() < deadline:  # the worker that accepted it holds it
            inode = _socket_inode(self.port, client_port)
            self.worker = owner(workers, inode) if inode else None
            if self.worker is None:
                self.call("sts", {"Action": "GetCallerIdentity", "Version": "2011-06-15"})
        assert self.worker is not None

    def call(self, service: str, params: dict[str, str], key: str | None = None, secret: str | None = None) -> tuple[int, str]:
        body = urlencode(params)
        req = AWSRequest("POST", self.srv.url + "/", data=body,
                         headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
        SigV4Auth(Credentials(key or self.srv.access_key, secret or self.srv.secret_key), service, "us-east-1").add_auth(req)
        headers = {k: v for k, v in req.prepare().headers.items() if k.lower() not in ("host", "content-length")}
        head = ["POST / HTTP/1.1", f"Host: 127.0.0.1:{self.port}", *(f"{k}: {v}" for k, v in headers.items()),
                f"Content-Length: {len(body)}"]
        self.sock.sendall(("\r\n".join(head) + "\r\n\r\n" + body).encode())
        status = int(self.file.readline().split()[1])
        length = 0
        while (line := self.file.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return status, self.file.read(length).decode()

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def pinned_to_each(srv: Server, workers: list[int], tries: int = 200) -> dict[int, Pinned]:
    """A connection held by each worker (connections are opened until every worker has accepted one)."""
    found: dict[int, Pinned] = {}
    spare: list[Pinned] = []
    for _ in range(tries):
        conn = Pinned(srv, workers)
        if conn.worker in found:
            spare.append(conn)
        else:
            found[conn.worker] = conn  # type: ignore[index]
        if len(found) == len(workers):
            break
    for conn in spare:
        conn.close()
    assert sorted(found) == sorted(workers), (found, workers)
    return found


@contextmanager
def two_workers(backend: str, tmp_path: Path, *extra: str) -> Iterator[tuple[Server, list[int]]]:
    with ExitStack() as stack:
        db_url = stack.enter_context(fresh_pg_database("iamroles_workers_")) if backend == "postgresql" else None
        srv = start_server(tmp_path, db_url, "--workers", "2", *extra)
        try:
            deadline = time.monotonic() + 10
            while len(children(srv.proc.pid)) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            workers = children(srv.proc.pid)
            assert len(workers) == 2, workers
            yield srv, workers
        finally:
            if srv.proc.poll() is None:
                stop_server(srv)


GCI = {"Action": "GetCallerIdentity", "Version": "2011-06-15"}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_both_workers_answer_and_see_each_others_writes_at_once(backend: str, tmp_path: Path) -> None:
    with two_workers(backend, tmp_path) as (srv, workers):
        conns = pinned_to_each(srv, workers)
        a, b = (conns[w] for w in workers)
        for _ in range(50):  # every request answered, by both processes
            for conn in (a, b):
                status, body = conn.call("sts", GCI)
                assert status == 200 and f"<Account>{srv.account}</Account>" in body

        # a role created through one worker is read through the other at once (not after --cache-ttl):
        # first make the other remember the role as missing, then create it
        role = unique("r")
        get = {"Action": "GetRole", "Version": "2010-05-08", "RoleName": role}
        status, body = b.call("iam", get)
        assert status == 404 and "<Code>NoSuchEntity</Code>" in body
        trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{srv.account}:root"},
                                                                      "Action": "sts:AssumeRole"}]})
        status, _ = a.call("iam", {"Action": "CreateRole", "Version": "2010-05-08", "RoleName": role, "AssumeRolePolicyDocument": trust})
        assert status == 200
        status, body = b.call("iam", get)
        assert status == 200 and f"<RoleName>{role}</RoleName>" in body, body

        # a user deleted through one worker: its key is refused through the other at once
        user = unique("u")
        assert a.call("iam", {"Action": "CreateUser", "Version": "2010-05-08", "UserName": user})[0] == 200
        status, body = a.call("iam", {"Action": "CreateAccessKey", "Version": "2010-05-08", "UserName": user})
        key = body.split("<AccessKeyId>")[1].split("<")[0]
        secret = body.split("<SecretAccessKey>")[1].split("<")[0]
        status, body = b.call("sts", GCI, key, secret)
        assert status == 200 and f":user/{user}" in body
        assert a.call("iam", {"Action": "DeleteAccessKey", "Version": "2010-05-08", "UserName": user, "AccessKeyId": key})[0] == 200
        assert a.call("iam", {"Action": "DeleteUser", "Version": "2010-05-08", "UserName": user})[0] == 200
        status, body = b.call("sts", GCI, key, secret)
        assert status == 403 and "<Code>InvalidClientTokenId</Code>" in body, body
        for conn in conns.values():
            conn.close()

        # SIGTERM: every worker finishes, writes its events (read-only ones are written after the answer)
        srv.proc.send_signal(signal.SIGTERM)
        assert srv.proc.wait(20) == 0, srv.log.read_text()
        assert not any(alive(w) for w in workers)
        events, _ = read_trail(srv)
        calls = [e for e in events if e["eventName"] == "GetCallerIdentity" and e["errorCode"] is None]
        assert len(calls) >= 101  # 100 above, and the ones that found each connection's worker
        assert "Traceback" not in srv.log.read_text()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_write_by_another_process_applies_within_the_cache_ttl(backend: str, tmp_path: Path) -> None:
    """The CLI is another process, as another node is: what it writes reaches every worker within --cache-ttl."""
    with two_workers(backend, tmp_path, "--cache-ttl", "0.5") as (srv, workers):
        conns = pinned_to_each(srv, workers)
        role = unique("r")
        for conn in conns.values():
            assert conn.call("iam", {"Action": "GetRole", "Version": "2010-05-08", "RoleName": role})[0] == 404
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{srv.account}:root"},
                                                         "Action": "sts:AssumeRole"}]}
        srv.client("iam").create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))  # through some worker
        cmd = [sys.executable, "-m", "iamroles", "roles", "revoke-sessions", role, "--data-dir", str(srv.data_dir)]
        subprocess.run(cmd + (["--db", srv.db_url] if srv.db_url else []), check=True, capture_output=True)
        time.sleep(0.6)
        for conn in conns.values():
            status, body = conn.call("iam", {"Action": "GetRolePolicy", "Version": "2010-05-08", "RoleName": role,
                                             "PolicyName": "AWSRevokeOlderSessions"})
            assert status == 200, body
            conn.close()


def test_a_dead_worker_stops_the_server_and_says_so(tmp_path: Path) -> None:
    with two_workers("sqlite", tmp_path) as (srv, workers):
        os.kill(workers[0], signal.SIGKILL)
        assert srv.proc.wait(20) == 1
        deadline = time.monotonic() + 5
        while alive(workers[1]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(workers[1])
        assert f"worker {workers[0]} was killed by SIGKILL; stopping the server" in srv.log.read_text()


def test_workers_do_not_outlive_a_killed_parent(tmp_path: Path) -> None:
    with two_workers("sqlite", tmp_path) as (srv, workers):
        srv.proc.kill()
        srv.proc.wait(10)
        deadline = time.monotonic() + 20
        while any(alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(alive(w) for w in workers)


def test_sigint_stops_every_worker_with_exit_0(tmp_path: Path) -> None:
    with two_workers("sqlite", tmp_path) as (srv, workers):
        srv.proc.send_signal(signal.SIGINT)
        assert srv.proc.wait(20) == 0
        assert not any(alive(w) for w in workers)


def test_a_port_in_use_fails_first_with_workers(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        out = serve("--data-dir", str(tmp_path / "d"), "--port", str(taken.getsockname()[1]), "--workers", "2")
    assert_one_line_failure(out, "cannot listen", "in use")
    assert not (tmp_path / "d").exists()


def test_test_mode_runs_one_process(tmp_path: Path) -> None:
    """A reset and the test clock are one process's state: test mode refuses more workers, and runs one by default."""
    out = serve("--data-dir", str(tmp_path / "d"), "--port", str(free_port()), "--test-mode", "--workers", "2")
    assert out.returncode == 2 and "test mode runs one worker" in out.stderr, out.stderr
    srv = start_server(tmp_path / "t", None, "--test-mode")
    try:
        assert children(srv.proc.pid) == []
        assert srv.client("sts").get_caller_identity()["Account"] == srv.account
    finally:
        stop_server(srv)


def test_the_default_is_the_cpus_this_process_may_use(tmp_path: Path) -> None:
    cpus = len(os.sched_getaffinity(0))
    srv = start_server(tmp_path, None)
    try:
        time.sleep(0.5)
        assert len(children(srv.proc.pid)) == (cpus if cpus > 1 else 0)
        assert srv.client("sts").get_caller_identity()["Account"] == srv.account
    finally:
        stop_server(srv)
