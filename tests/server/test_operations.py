"""What a platform team runs the server by (issue 16), each against a real ``iamroles serve``: liveness and
readiness probes, Prometheus metrics on a listener of their own (with a token, with several workers), TLS that
boto3 verifies against a CA, an access log and JSON logs that hold no secret, a graceful shutdown that finishes
the request in flight and writes its audit event, CloudTrail's responseElements, ``serve --json`` and the
start-up hint run as printed.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError, SSLError
from prometheus_client.parser import text_string_to_metric_families

from .conftest import Server, free_port, fresh_pg_database, start_server, stop_server, unique
from .test_audit import read_trail, request_id

HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"
BIN = Path(sys.executable).parent


def _trust(account: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}]})


def user_with_key(srv: Server, policy: dict[str, Any] | None = None) -> tuple[str, str, str]:
    iam: Any = srv.client("iam")
    name = unique("ops")
    iam.create_user(UserName=name)
    if policy is not None:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return name, key["AccessKeyId"], key["SecretAccessKey"]


# --- health and readiness ----------------------------------------------------------------------------


def test_health_and_ready_answer_without_credentials_and_say_nothing_secret(server: Server) -> None:
    health = httpx.get(server.url + "/health", timeout=5)
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    ready = httpx.get(server.url + "/ready", timeout=5)
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "signing_keys": "ok", "audit_trail": "ok"}}
    for text in (health.text, ready.text):
        assert str(server.data_dir) not in text and "postgresql" not in text and server.access_key not in text
    # not AWS API calls: a probe writes no audit event and a POST is not taken for one
    agent = {"User-Agent": f"probe-{uuid.uuid4().hex}"}
    assert httpx.post(server.url + "/health", headers=agent, timeout=5).status_code == 405
    assert httpx.get(server.url + "/ready?Action=CreateUser&UserName=x", headers=agent, timeout=5).status_code == 200
    assert httpx.get(server.url + "/health", headers=agent, timeout=5).status_code == 200
    httpx.post(server.url + "/", data={"Action": "GetCallerIdentity"}, headers=agent, timeout=5)  # an API call: audited
    time.sleep(1.0)
    _, text = read_trail(server, 5000)
    assert text.count(agent["User-Agent"]) == 1


def test_ready_says_unavailable_while_the_database_refuses_connections(tmp_path: Path) -> None:
    import psycopg

    from .conftest import PG_ADMIN

    with fresh_pg_database("iamroles_ready_") as url:
        srv = start_server(tmp_path, url)
        name = url.rsplit("/", 1)[1]
        try:
            assert httpx.get(srv.url + "/ready", timeout=10).status_code == 200
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
                admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
                try:
                    ready = httpx.get(srv.url + "/ready", timeout=15)
                    assert ready.status_code == 503
                    assert ready.json()["status"] == "unavailable"
                    assert ready.json()["checks"]["database"] == "unavailable"
                    assert name not in ready.text and "127.0.0.1" not in ready.text  # no reason that names the database
                    assert httpx.get(srv.url + "/health", timeout=5).status_code == 200  # alive, not ready
                finally:
                    admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            deadline = time.monotonic() + 15
            while httpx.get(srv.url + "/ready", timeout=15).status_code != 200:
                assert time.monotonic() < deadline, "not ready again once the database came back"
                time.sleep(0.2)
        finally:
            stop_server(srv)


# --- metrics -------------------------------------------------------------------------------------------


def scrape(port: int, token: str | None) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    answer = httpx.get(f"http://127.0.0.1:{port}/metrics", headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(answer.text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in samples.items() if n == name and all((k, labels[k]) in ls for k in labels))


@pytest.fixture
def metered(tmp_path: Path) -> Iterator[tuple[Server, int, str]]:
    token = uuid.uuid4().hex
    (tmp_path / "token").write_text(token + "\n")
    port = free_port()
    srv = start_server(tmp_path, None, "--metrics-port", str(port), "--metrics-token-file", str(tmp_path / "token"), "--workers", "1")
    try:
        yield srv, port, token
    finally:
        stop_server(srv)


def test_metrics_are_on_their_own_port_behind_the_token(metered: tuple[Server, int, str]) -> None:
    srv, port, token = metered
    # the API port never serves them (the path is the Query endpoint's, which wants a signature)
    main = httpx.get(srv.url + "/metrics", timeout=5)
    assert "iamroles_requests_total" not in main.text and main.status_code >= 400
    base = f"http://127.0.0.1:{port}"
    assert httpx.get(base + "/metrics", timeout=5).status_code == 401
    assert httpx.get(base + "/metrics", headers={"Authorization": "Bearer " + token[:-1]}, timeout=5).status_code == 401
    assert httpx.get(base + "/metrics", headers={"Authorization": token}, timeout=5).status_code == 401
    assert httpx.post(base + "/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=5).status_code == 405
    # nothing else is served there: no IAM call, no test hook
    assert httpx.post(base + "/", data={"Action": "GetCallerIdentity"}, timeout=5).status_code == 404
    assert httpx.post(base + "/moto-api/reset", timeout=5).status_code == 404
    assert httpx.get(base + "/health", timeout=5).json() == {"status": "ok"}
    assert httpx.get(base + "/ready", timeout=5).status_code == 200
    assert scrape(port, token)


def test_metrics_count_calls_outcomes_decisions_sessions_and_caches(metered: tuple[Server, int, str]) -> None:
    srv, port, token = metered
    sts: Any = srv.client("sts")
    for _ in range(5):
        sts.get_caller_identity()
    name, key, secret = user_with_key(srv)  # no policy: everything it asks for is implicitly denied
    with pytest.raises(ClientError) as denied:
        srv.client("iam", key=key, secret=secret).list_users()
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    iam: Any = srv.client("iam")
    iam.put_user_policy(UserName=name, PolicyName="deny", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"},
                                                {"Effect": "Deny", "Action": "iam:ListRoles", "Resource": "*"}]}))
    role = iam.create_role(RoleName=unique("ops-role"), AssumeRolePolicyDocument=_trust(srv.account))["Role"]
    time.sleep(0.3)
    with pytest.raises(ClientError):
        srv.client("iam", key=key, secret=secret).list_roles()
    srv.client("sts", key=key, secret=secret).assume_role(RoleArn=role["Arn"], RoleSessionName="sess")
    # a client choosing Action names cannot grow the label set
    made_up = [f"Made{uuid.uuid4().hex}" for _ in range(20)]
    for action in made_up:
        httpx.post(srv.url, data={"Action": action, "Version": "2010-05-08"}, timeout=5)
    samples = scrape(port, token)
    assert value(samples, "iamroles_requests_total", operation="GetCallerIdentity", outcome="Success") == 5
    assert value(samples, "iamroles_requests_total", operation="ListUsers", outcome="AccessDenied") == 1
    assert value(samples, "iamroles_requests_total", operation="AssumeRole", outcome="Success") == 1
    assert value(samples, "iamroles_sessions_issued_total", operation="AssumeRole") == 1
    assert value(samples, "iamroles_requests_total", operation="unknown") == 20
    assert value(samples, "iamroles_request_duration_seconds_count", operation="GetCallerIdentity") == 5
    assert value(samples, "iamroles_request_duration_seconds_count", operation="unknown") == 20
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=5).text
    assert not [a for a in made_up if a in text]
    assert value(samples, "iamroles_authorization_decisions_total", effect="ImplicitDeny") >= 1
    assert value(samples, "iamroles_authorization_decisions_total", effect="ExplicitDeny") >= 1
    assert value(samples, "iamroles_authorization_decisions_total", effect="Allow") >= 1
    assert value(samples, "iamroles_cache_lookups_total", cache="keys", result="hit") >= 4
    assert ("iamroles_audit_queue_depth", ()) in samples
    # no secret, no key id, no ARN is a label
    assert srv.access_key not in text and key not in text and secret not in text and role["Arn"] not in text


def test_metrics_with_workers_sum_every_worker(tmp_path: Path) -> None:
    port = free_port()
    srv = start_server(tmp_path, None, "--metrics-port", str(port), "--workers", "2")
    try:
        calls = 40
        for _ in range(calls):  # a new connection each: the kernel spreads them over both workers
            with httpx.Client(base_url=srv.url) as c:
                c.get("/", params={"Action": "GetCallerIdentity", "Version": "2011-06-15"})
        seen = set()
        for _ in range(10):  # whichever worker answers the scrape, it counts all of them
            with httpx.Client() as c:
                answer = c.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
            samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                       for f in text_string_to_metric_families(answer.text) for s in f.samples}
            seen.add(value(samples, "iamroles_requests_total", operation="GetCallerIdentity"))
            assert value(samples, "iamroles_request_duration_seconds_count", operation="GetCallerIdentity") == calls
        assert seen == {calls}
        pids = {int(v) for (n, ls), v in samples.items() if n == "iamroles_requests_total" for k, v in ls if k == "pid"}
        assert not pids  # summed, not one series per process
    finally:
        stop_server(srv)
    assert srv.proc.returncode == 0


# --- TLS -----------------------------------------------------------------------------------------------


def make_ca_and_cert(tmp: Path) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate for 127.0.0.1 and localhost that it signed (cryptography)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "iamroles test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
          .not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = tmp / "ca.pem", tmp / "server.pem", tmp / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


def launch(tmp: Path, *args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], Path]:
    log = tmp / f"serve-{uuid.uuid4().hex[:6]}.log"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "IAMROLES_"))}
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "iamroles", "serve", *args], stdout=out, stderr=subprocess.STDOUT,
                                env={**base, **(env or {})})
    return proc, log


def wait_for(proc: subprocess.Popen[bytes], log: Path, url: str, verify: Any = True) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            if httpx.get(url + "/health", timeout=1, verify=verify).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError(f"did not start: {log.read_text()}")


def stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def test_tls_is_verified_by_boto3_against_the_ca(tmp_path: Path) -> None:
    ca, cert, key = make_ca_and_cert(tmp_path)
    port = free_port()
    access, secret = "AKIA" + uuid.uuid4().hex[:16].upper(), uuid.uuid4().hex
    proc, log = launch(tmp_path, "--port", str(port), "--data-dir", str(tmp_path / "data"), "--tls-cert", str(cert),
                       "--tls-key", str(key), "--root-access-key", access, "--root-secret-key", secret, "--workers", "1")
    url = f"https://127.0.0.1:{port}"
    try:
        wait_for(proc, log, url, verify=ssl.create_default_context(cafile=str(ca)))
        assert f"serving IAM and STS on {url}" in log.read_text()

        def sts(verify: Any) -> Any:
            return boto3.client("sts", endpoint_url=url, region_name="us-east-1", aws_access_key_id=access,
                                aws_secret_access_key=secret, verify=verify, config=Config(retries={"max_attempts": 1}))

        assert sts(str(ca)).get_caller_identity()["Arn"].endswith(":root")
        with pytest.raises(SSLError):  # the system's CAs do not vouch for it
            sts(None).get_caller_identity()
        (tmp_path / "other").mkdir()
        other_ca, _, _ = make_ca_and_cert(tmp_path / "other")
        with pytest.raises(SSLError):
            sts(str(other_ca)).get_caller_identity()
        # plain HTTP on the TLS port gets no answer from the API
        with pytest.raises(httpx.HTTPError):
            httpx.post(f"http://127.0.0.1:{port}/", data={"Action": "GetCallerIdentity"}, timeout=3)
        # aws:SecureTransport is true over TLS
        iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1", aws_access_key_id=access,
                           aws_secret_access_key=secret, verify=str(ca))
        iam.create_user(UserName="tls")
        iam.put_user_policy(UserName="tls", PolicyName="tls-only", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "true"}}}]}))
        k = iam.create_access_key(UserName="tls")["AccessKey"]
        user = boto3.client("iam", endpoint_url=url, region_name="us-east-1", aws_access_key_id=k["AccessKeyId"],
                            aws_secret_access_key=k["SecretAccessKey"], verify=str(ca))
        assert user.get_user()["User"]["UserName"] == "tls"
    finally:
        assert stop(proc) == 0, log.read_text()


def test_a_certificate_and_key_that_do_not_match_fail_in_one_line(tmp_path: Path) -> None:
    _, cert, _ = make_ca_and_cert(tmp_path)
    (tmp_path / "o").mkdir()
    _, _, other_key = make_ca_and_cert(tmp_path / "o")
    out = subprocess.run([sys.executable, "-m", "iamroles", "serve", "--port", str(free_port()), "--data-dir", str(tmp_path / "d"),
                          "--tls-cert", str(cert), "--tls-key", str(other_key)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "Traceback" not in out.stderr and "--tls-cert" in out.stderr, out.stderr
    assert not (tmp_path / "d").exists()  # refused before anything was made
    out = subprocess.run([sys.executable, "-m", "iamroles", "serve", "--port", str(free_port()), "--data-dir", str(tmp_path / "d"),
                          "--tls-cert", str(cert)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "--tls-key" in out.stderr


# --- logs ----------------------------------------------------------------------------------------------


def test_access_log_and_json_logs_hold_no_secret(tmp_path: Path) -> None:
    port = free_port()
    access, secret = "AKIA" + uuid.uuid4().hex[:16].upper(), "root-" + uuid.uuid4().hex
    proc, log = launch(tmp_path, "--port", str(port), "--data-dir", str(tmp_path / "data"), "--root-access-key", access,
                       "--root-secret-key", secret, "--access-log", "--log-format", "json", "--log-level", "info", "--workers", "1")
    url = f"http://127.0.0.1:{port}"
    secrets = [secret]
    try:
        wait_for(proc, log, url)
        srv = Server(url, "", access, secret, tmp_path / "data", None, proc, log)  # type: ignore[arg-type]
        iam: Any = srv.client("iam")
        account = srv.client("sts").get_caller_identity()["Account"]  # type: ignore[attr-defined]
        iam.create_user(UserName="logged")
        password = "Pw-" + uuid.uuid4().hex + "!aA1"
        iam.create_login_profile(UserName="logged", Password=password)
        secrets.append(password)
        key = iam.create_access_key(UserName="logged")["AccessKey"]
        secrets.append(key["SecretAccessKey"])
        iam.put_user_policy(UserName="logged", PolicyName="a", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}))
        role = iam.create_role(RoleName="logged-role", AssumeRolePolicyDocument=_trust(account))["Role"]
        time.sleep(0.3)
        creds = srv.client("sts", key=key["AccessKeyId"], secret=key["SecretAccessKey"]).assume_role(  # type: ignore[attr-defined]
            RoleArn=role["Arn"], RoleSessionName="sess")["Credentials"]
        secrets += [creds["SecretAccessKey"], creds["SessionToken"]]
        # a presigned URL carries its signature and session token in the query string
        session = boto3.session.Session(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                                        aws_session_token=creds["SessionToken"], region_name="us-east-1")
        presigned = session.client("sts", endpoint_url=url).generate_presigned_url("get_caller_identity", ExpiresIn=60)
        assert httpx.post(presigned, timeout=5).status_code == 200  # botocore presigns Query calls as a POST
        signature = presigned.split("X-Amz-Signature=")[1].split("&")[0]
        secrets.append(signature)
        with pytest.raises(ClientError):  # a refusal carrying a password: logged as refused, the value never
            srv.client("iam", validate=False).create_login_profile(UserName="nobody", Password="Refused-" + uuid.uuid4().hex)  # type: ignore[attr-defined]
    finally:
        assert stop(proc) == 0
    text = log.read_text()
    for s in secrets:
        assert s not in text, f"a secret reached the log: {s[:6]}..."
    assert "Refused-" not in text
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    access_lines = [line for line in lines if line["logger"] == "iamroles.access"]
    assert {"CreateUser", "AssumeRole", "GetCallerIdentity", "CreateLoginProfile"} <= {line["operation"] for line in access_lines}
    assert all(line["path"] == "/" and "?" not in line["message"] for line in access_lines)
    assert any(line["status"] == 200 and line["operation"] == "GetCallerIdentity" for line in access_lines)
    # only the lines before logging was configured (the start-up facts) are plain text
    assert all(line.startswith(("{", "iamroles: ")) for line in text.splitlines() if line.strip()), text


# --- graceful shutdown -----------------------------------------------------------------------------------


def signed_raw(url: str, access: str, secret: str, params: dict[str, str]) -> tuple[bytes, bytes]:
    """A SigV4-signed Query request as its header bytes and its body bytes."""
    body = "&".join(f"{k}={v}" for k, v in params.items())
    request = AWSRequest("POST", url + "/", data=body, headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(Credentials(access, secret), "sts" if params["Action"] == "GetCallerIdentity" else "iam", "us-east-1").add_auth(request)
    host = url.split("//")[1]
    head = f"POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n"
    for name, val in request.headers.items():
        if name.lower() not in ("host", "content-length"):
            head += f"{name}: {val}\r\n"
    return (head + "\r\n").encode(), body.encode()


def late_answer(port: int) -> bytes:
    """What a request made now gets: nothing while the server drains (refused, or left in the backlog of a
    socket that nobody accepts on any more)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as c:
            c.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return c.recv(100)
    except OSError:  # refused, reset or timed out
        return b""


@pytest.mark.parametrize("workers", ["1", "2"])
def test_sigterm_finishes_the_request_in_flight_and_stores_its_audit_event(tmp_path: Path, workers: str) -> None:
    port = free_port()
    access, secret = "AKIA" + uuid.uuid4().hex[:16].upper(), uuid.uuid4().hex
    data = tmp_path / "data"
    proc, log = launch(tmp_path, "--port", str(port), "--data-dir", str(data), "--root-access-key", access,
                       "--root-secret-key", secret, "--workers", workers)
    url = f"http://127.0.0.1:{port}"
    wait_for(proc, log, url)
    conns = []
    for params in ({"Action": "GetCallerIdentity", "Version": "2011-06-15"},  # read-only: its event is written after the answer
                   {"Action": "CreateUser", "Version": "2010-05-08", "UserName": "in-flight"}):  # a change, with its event
        head, body = signed_raw(url, access, secret, params)
        c = socket.create_connection(("127.0.0.1", port))
        c.sendall(head + body[:5])  # the request has begun: its body is still arriving
        conns.append((c, body[5:]))
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    time.sleep(1.0)
    assert proc.poll() is None, "the server did not wait for the requests in flight"
    assert late_answer(port) == b"", "a new request was answered after SIGTERM"
    answers = []
    for c, rest in conns:
        c.sendall(rest)
        answer = b""
        while chunk := c.recv(65536):
            answer += chunk
        c.close()
        answers.append(answer.decode())
    assert all(a.startswith("HTTP/1.1 200") for a in answers), answers
    assert proc.wait(30) == 0, log.read_text()
    ids = [a.split("<RequestId>")[1].split("</RequestId>")[0] for a in answers]
    out = subprocess.run([sys.executable, "-m", "iamroles", "audit", "--json", "--data-dir", str(data)],
                         capture_output=True, text=True, check=True).stdout
    stored = {json.loads(line)["requestID"]: json.loads(line) for line in out.splitlines()}
    assert set(ids) <= set(stored), (ids, list(stored))
    assert stored[ids[1]]["eventName"] == "CreateUser" and stored[ids[0]]["eventName"] == "GetCallerIdentity"


# --- the audit trail as CloudTrail shows it ---------------------------------------------------------------


def test_response_elements_of_changes_and_credentials_never_their_secrets(server: Server) -> None:
    """CloudTrail: responseElements "is present in events for actions that make changes (create, update, or
    delete actions)" (cloudtrail-event-reference-record-contents.html); reads have none."""
    iam: Any = server.client("iam")
    name = unique("re")
    created = iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)
    listed = iam.list_users(MaxItems=1)
    role = iam.create_role(RoleName=unique("re-role"), AssumeRolePolicyDocument=_trust(server.account))["Role"]
    iam.put_user_policy(UserName=name, PolicyName="a", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}))
    time.sleep(1.2)
    k = key["AccessKey"]
    assumed = server.client("sts", key=k["AccessKeyId"], secret=k["SecretAccessKey"]).assume_role(  # type: ignore[attr-defined]
        RoleArn=role["Arn"], RoleSessionName="audited")
    failed = None
    try:
        iam.create_user(UserName=name)
    except ClientError as exc:
        failed = exc
    time.sleep(1.0)
    events, text = read_trail(server, 5000)
    by_id = {e["requestID"]: e for e in events}
    user = by_id[request_id(created)]["responseElements"]["user"]
    assert user["userName"] == name and user["arn"] == created["User"]["Arn"] and user["createDate"].endswith("Z")
    access_key = by_id[request_id(key)]["responseElements"]["accessKey"]
    assert access_key["accessKeyId"] == k["AccessKeyId"] and access_key["secretAccessKey"] == HIDDEN
    credentials = by_id[request_id(assumed)]["responseElements"]["credentials"]
    assert credentials["accessKeyId"] == assumed["Credentials"]["AccessKeyId"]
    assert credentials["secretAccessKey"] == HIDDEN and credentials["sessionToken"] == HIDDEN
    assert by_id[request_id(assumed)]["responseElements"]["assumedRoleUser"]["arn"].endswith("/audited")
    assert by_id[request_id(listed)]["responseElements"] is None
    assert failed is not None and by_id[request_id(failed)]["responseElements"] is None
    for s in (k["SecretAccessKey"], assumed["Credentials"]["SecretAccessKey"], assumed["Credentials"]["SessionToken"]):
        assert s not in text


def test_audit_prints_a_table_with_a_header(server: Server) -> None:
    server.client("sts").get_caller_identity()  # type: ignore[attr-defined]
    time.sleep(1.0)
    cmd = [sys.executable, "-m", "iamroles", "audit", "--data-dir", str(server.data_dir), "--limit", "5", "--event", "GetCallerIdentity"]
    if server.db_url:
        cmd += ["--db", server.db_url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env={**os.environ, "COLUMNS": "160"}).stdout
    lines = out.splitlines()
    assert lines[0].split() == ["TIME", "(UTC)", "CALL", "RESULT", "PRINCIPAL", "SOURCE", "IP"]
    assert "sts:GetCallerIdentity" in lines[1] and "ok" in lines[1] and f"arn:aws:iam::{server.account}:root" in lines[1]
    # each column starts where its header does
    assert lines[1].index("sts:GetCallerIdentity") == lines[0].index("CALL")
    assert lines[1].index("127.0.0.1") == lines[0].index("SOURCE IP")


# --- serve --json and the start-up hint -------------------------------------------------------------------


def test_serve_json_facts_and_the_printed_hint_work_as_printed(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "my data"  # a space: the hint quotes the path
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "IAMROLES_"))}
    with subprocess.Popen([sys.executable, "-m", "iamroles", "serve", "--port", str(port), "--data-dir", str(data), "--json",
                           "--workers", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**base, **env}, text=True) as proc:
        facts, hint = _first_start(proc, data, env, base)
    # a second start made nothing: its facts say so
    with subprocess.Popen([sys.executable, "-m", "iamroles", "serve", "--port", str(port), "--data-dir", str(data), "--json",
                           "--workers", "1"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env={**base, **env}, text=True) as proc:
        try:
            assert proc.stdout is not None
            again = json.loads(proc.stdout.readline())
            assert again["account_created"] is False and again["master_key_created"] is False
            assert again["account_id"] == facts["account_id"] and "root_access_key_id" not in again
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(20) == 0


def _first_start(proc: subprocess.Popen[str], data: Path, env: dict[str, str], base: dict[str, str]) -> tuple[dict[str, Any], str]:
    try:
        assert proc.stdout is not None and proc.stderr is not None
        facts = json.loads(proc.stdout.readline())
        assert facts["endpoint"].startswith("http://127.0.0.1:") and facts["account_created"] is True
        assert facts["credentials_file"] == str(data / "credentials") and facts["profile"] == "iamroles"
        assert facts["region"] == "us-east-1" and facts["backend"] == "sqlite" and facts["root_access_key_id"].startswith("AKIA")
        hint = ""
        while "serving IAM and STS" not in (line := proc.stderr.readline()):
            if "use it: " in line:
                hint = line.split("use it: ", 1)[1].strip()
        secret = (data / "credentials").read_text().split("aws_secret_access_key = ")[1].split()[0]
        assert secret not in json.dumps(facts) and secret not in hint
        assert shutil.which("aws", path=str(BIN)), "the AWS CLI (awscli, in the test extra) is not installed beside python"
        wait_for(proc, Path(os.devnull), facts["endpoint"])  # type: ignore[arg-type]  (a text-mode Popen)
        ran = subprocess.run(["bash", "-c", hint], capture_output=True, text=True, timeout=120, env={**base, **env}, cwd=env["HOME"])
        assert ran.returncode == 0, (hint, ran.stderr)
        assert json.loads(ran.stdout)["Account"] == facts["account_id"]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    return facts, hint
