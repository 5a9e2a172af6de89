"""Hostile input must not stall other clients (issue 11): work is bounded and done after authentication,
nothing that waits on the network runs on the event loop, and slow clients are cut off.

Each test measures a concurrent GetCallerIdentity (a signed read, answered on the event loop) while the
hostile requests run: its latency must stay under 100 ms. AWS references: the STS AssumeRole page ("You can
provide up to 10 managed policy ARNs", https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html);
AssumeRoleWithWebIdentity's InvalidIdentityToken when the IdP's keys cannot be retrieved
(https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html).
"""
from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from botocore import UNSIGNED
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from .conftest import Server, fresh_pg_database, start_server, stop_server, unique
from .test_oidc import claims, jwt, signing_key  # noqa: F401  (fixture)
from .test_sts import make_user

STALL_LIMIT = 0.100  # what a hostile request may add to another client's call, at the 99th percentile
SPIKE_LIMIT = 0.300  # and at worst (a busy CI machine's scheduler, not the server, makes the rare spikes; the stalls
                     # these tests guard against lasted 3.6 s and 15 s)


def assert_not_stalled(seen: list[float], during: str) -> None:
    assert len(seen) >= 5, seen
    ordered = sorted(seen)

    def at(q: float) -> float:
        return ordered[int(q * (len(ordered) - 1))]

    p95, p99 = at(0.95), at(0.99)
    # (printed with -s: the figures the README and the issue quote)
    print(f"\nGetCallerIdentity {during}: n={len(ordered)} p50 {at(0.5) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms, "
          f"p99 {at(0.99) * 1000:.1f} ms, max {ordered[-1] * 1000:.1f} ms")
    assert p99 < STALL_LIMIT and ordered[-1] < SPIKE_LIMIT, (
        f"GetCallerIdentity p99 {p99 * 1000:.0f} ms, max {ordered[-1] * 1000:.0f} ms {during}")


@contextmanager
def latency_probe(server: Server) -> Iterator[list[float]]:
    """GetCallerIdentity in a loop on its own connection while the block runs; yields the latencies."""
    sts = server.client("sts")
    sts.get_caller_identity()  # warm: connection, caches
    seen: list[float] = []
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            t0 = time.perf_counter()
            sts.get_caller_identity()
            seen.append(time.perf_counter() - t0)
            time.sleep(0.01)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join(10)


def signed_form(server: Server, form: dict[str, str], key: str | None = None, secret: str | None = None) -> tuple[bytes, dict[str, str]]:
    body = urlencode(form).encode()
    req = AWSRequest("POST", server.url + "/", data=body, headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(Credentials(key or server.access_key, secret or server.secret_key), "sts", "us-east-1").add_auth(req)
    return body, dict(req.prepare().headers)


def policy_arns(n: int, role: str) -> dict[str, str]:
    form = {"Action": "AssumeRole", "Version": "2011-06-15", "RoleArn": role, "RoleSessionName": "s1"}
    for i in range(1, n + 1):
        form[f"PolicyArns.member.{i}.arn"] = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    return form


def test_huge_lists_and_bodies_do_not_stall_others(iam: Any, server: Server) -> None:
    user, key = make_user(iam, server)
    role = iam.create_role(RoleName=unique("target"), AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": user["Arn"]}, "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    form = policy_arns(12_000, role)  # about 760 KiB, under the body cap
    with latency_probe(server) as seen, httpx.Client(timeout=30) as http:
        t0 = time.perf_counter()
        unsigned = http.post(server.url + "/", content=urlencode(form).encode(),
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
        unsigned_s = time.perf_counter() - t0
        body, headers = signed_form(server, form, key["AccessKeyId"], key["SecretAccessKey"])
        t0 = time.perf_counter()
        signed = http.post(server.url + "/", content=body, headers=headers)
        signed_s = time.perf_counter() - t0
        too_big = http.post(server.url + "/", content=b"Action=GetCallerIdentity&Junk=" + b"x" * (2 << 20),
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
        # a declared length over the cap is refused before the body is read
        with socket.create_connection(("127.0.0.1", int(server.url.rsplit(":", 1)[1]))) as raw:
            raw.sendall(f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {5 << 20}\r\n\r\nAction=Get".encode())
            raw.settimeout(5)
            declared = b""
            while b"</ErrorResponse>" not in declared:  # the head and the body may come in two reads
                chunk = raw.recv(4096)
                if not chunk:
                    break
                declared += chunk
        time.sleep(0.3)
    print(f"\n12,000 PolicyArns ({len(body) // 1024} KiB): unsigned answered in {unsigned_s * 1000:.0f} ms, "
          f"signed in {signed_s * 1000:.0f} ms")
    # refused for what it is, quickly: no signature at all, or too many managed policy ARNs (checked before any lookup)
    assert unsigned.status_code in (400, 403) and "<Code>" in unsigned.text and unsigned_s < 2, (unsigned.text[:300], unsigned_s)
    assert signed.status_code == 400 and "<Code>ValidationError</Code>" in signed.text, signed.text[:300]
    assert "Member must have length less than or equal to 10" in signed.text and signed_s < 2, signed_s
    assert "ReadOnlyAccess" not in signed.text  # the list is not quoted back
    assert too_big.status_code == 413 and "<Code>RequestEntityTooLarge</Code>" in too_big.text
    assert declared.startswith(b"HTTP/1.1 413") and b"RequestEntityTooLarge" in declared
    assert_not_stalled(seen, "during hostile requests")


class Tarpit:
    """A TCP listener that accepts connections and never answers: an OIDC issuer that hangs."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        self.sock.close()
        for c in self.accepted:
            c.close()


def test_an_issuer_that_hangs_does_not_stall_others(iam: Any, server: Server, signing_key: Any) -> None:  # noqa: F811
    tarpit = Tarpit()
    try:
        issuer = f"https://127.0.0.1:{tarpit.port}"
        arn = iam.create_open_id_connect_provider(Url=issuer, ClientIDList=["sts.amazonaws.com"])["OpenIDConnectProviderArn"]
        role = iam.create_role(RoleName=unique("hang"), AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Federated": arn}, "Action": "sts:AssumeRoleWithWebIdentity"}]}))["Role"]["Arn"]
        token = jwt(signing_key, claims(iss=issuer))
        anonymous = server.client("sts")
        anonymous.meta.events.register("choose-signer", lambda **kw: UNSIGNED)

        def call() -> tuple[str, float]:
            t0 = time.perf_counter()
            with pytest.raises(ClientError) as exc:
                anonymous.assume_role_with_web_identity(RoleArn=role, RoleSessionName="s1", WebIdentityToken=token)
            return exc.value.response["Error"]["Code"], time.perf_counter() - t0

        with latency_probe(server) as seen, ThreadPoolExecutor(3) as pool:
            results = list(pool.map(lambda _: call(), range(3)))
        print(f"\nthree unsigned AssumeRoleWithWebIdentity naming a hanging issuer: {[round(t, 2) for _, t in results]} s")
        assert [code for code, _ in results] == ["InvalidIdentityToken"] * 3
        assert max(s for _, s in results) < 8, results  # one bounded wait, shared by the three
        assert_not_stalled(seen, "while the issuer hung")
        # the failure is remembered: the next call does not wait again
        code, seconds = call()
        print(f"the next one (failure remembered): {seconds * 1000:.0f} ms; connections the issuer saw: {len(tarpit.accepted)}")
        assert code == "InvalidIdentityToken" and seconds < 1, seconds
        assert len(tarpit.accepted) <= 2  # one fetch (and no retry storm)
    finally:
        tarpit.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_slow_clients_are_cut_off(backend: str, tmp_path: Path) -> None:
    with ExitStack() as stack:
        db_url = stack.enter_context(fresh_pg_database("iamroles_slow_")) if backend == "postgresql" else None
        _slow_clients(start_server(tmp_path, db_url, "--read-timeout", "1"))


def _slow_clients(srv: Server) -> None:
    socks: list[socket.socket] = []
    try:
        for _ in range(50):
            s = socket.create_connection(("127.0.0.1", int(srv.url.rsplit(":", 1)[1])))
            s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n")  # never finished
            socks.append(s)
        slow_body = socket.create_connection(("127.0.0.1", int(srv.url.rsplit(":", 1)[1])))
        slow_body.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nAction=")  # body never finished
        socks.append(slow_body)
        with latency_probe(srv) as seen:
            time.sleep(2.5)
        still_open = 0
        for s in socks:
            s.settimeout(2)
            try:
                still_open += s.recv(1024) != b""  # b"": the server closed it
            except ConnectionResetError:
                pass
            except TimeoutError:
                still_open += 1
        assert still_open == 0
        assert_not_stalled(seen, "with 51 slow clients connected")
        # a prompt client on a kept-alive connection is unaffected
        sts = srv.client("sts")
        assert sts.get_caller_identity()["Account"] == srv.account
    finally:
        for s in socks:
            s.close()
        stop_server(srv)


def test_large_saml_assertions_do_not_stall_others(server: Server) -> None:
    """Unsigned AssumeRoleWithSAML calls, each with an assertion near the model's 100,000 characters (a signed one
    padded with a long attribute, and the same with its signature broken), 24 at a time: each is parsed and its
    signature checked (XML canonicalisation, RSA) off the event loop, and a concurrent GetCallerIdentity is not held
    up. (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithSAML.html: SAMLAssertion up to
    100,000 characters.)"""
    from .test_saml import IdP, setup

    idp = IdP()
    provider, role_arn, _ = setup(server, idp)
    pad = {"https://example.com/pad": ["x" * 64_000]}
    good = idp.signed(roles=[f"{role_arn},{provider}"], attributes=pad)
    assert 60_000 < len(good) <= 100_000, len(good)
    broken = good[:1000] + ("A" if good[1000] != "A" else "B") + good[1001:]
    anonymous = server.client("sts")
    anonymous.meta.events.register("choose-signer", lambda **kw: UNSIGNED)

    def one(i: int) -> str:
        try:
            anonymous.assume_role_with_saml(RoleArn=role_arn, PrincipalArn=provider, SAMLAssertion=good if i % 2 else broken)
            return "ok"
        except ClientError as exc:
            return str(exc.response["Error"]["Code"])

    t0 = time.perf_counter()
    with latency_probe(server) as seen, ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(one, range(160)))
    took = time.perf_counter() - t0
    print(f"\n160 unsigned AssumeRoleWithSAML of {len(good) // 1000} KB, 4 at a time: {took:.1f} s, {sorted(set(outcomes))}")
    assert outcomes.count("ok") == 80 and set(outcomes) - {"ok"} <= {"InvalidIdentityToken"}, outcomes
    assert_not_stalled(seen, "during 160 large SAML assertions, 4 at a time")
