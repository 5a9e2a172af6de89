"""Authorisation decisions per second, SigV4 verification included, for services in front of which iamroles puts roles.

Four paths, each at concurrency 1 and 16, each decision timed alone (p50/p99):

* ``Authorizer.authorize``: in process, on pre-signed ``sigv4.HttpRequest``s (16 threads at c=16);
* the ASGI middleware with ``LocalAuthorizer`` and a trivial app, called directly with an ASGI
  scope/receive/send (no HTTP; 16 asyncio tasks at c=16): as configured by default (refusals audited: none
  here), then with ``audit="all"`` (every decision a record in the audit trail, as CloudTrail's data events);
* the authorisation API, ``POST /iamroles/v1/authorize`` on a real ``iamroles serve``, driven like
  ``bench/server.py`` (an asyncio client, one keep-alive connection per worker, pre-built requests);
* the ASGI middleware with ``RemoteAuthorizer`` calling that server (the middleware's own overhead plus
  one API round trip, signing included).

The caller is a role session (temporary credentials, a sealed session token) with one identity policy;
requests are botocore-signed S3 GETs, 256 of them, replayed in turn (signatures stay valid 15 minutes).

    python bench/authorizer.py [--duration 3] [--warmup 0.3] [--json] [--profile]

``--profile`` prints a cProfile of the in-process path (Authorizer.authorize) and exits.
Target (issue 5): in-process verification plus decision under 50 microseconds median.
"""
from __future__ import annotations

import argparse
import asyncio
import cProfile
import hashlib
import json
import os
import pstats
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from iamroles.auth import sigv4
from iamroles.middleware import IamAuthMiddleware, LocalAuthorizer, RemoteAuthorizer, RequestInfo, Target
from iamroles.runtime import Authorizer

HOST = "objects.internal:9000"
READ = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": ["arn:aws:s3:::bench", "arn:aws:s3:::bench/*"]}]}
N_REQUESTS = 256


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def setup_principals(iam: Any, sts_for: Any, account: str) -> tuple[dict[str, str], dict[str, str]]:
    """A role allowed to read bucket ``bench``, a session of it, and a service user allowed iamroles:AuthorizeRequest."""
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                                                     "Action": "sts:AssumeRole"}]}
    iam.create_role(RoleName="reader", AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(RoleName="reader", PolicyName="read", PolicyDocument=json.dumps(READ))
    iam.create_user(UserName="launcher")
    iam.put_user_policy(UserName="launcher", PolicyName="p", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}))
    launcher = iam.create_access_key(UserName="launcher")["AccessKey"]
    creds = sts_for(launcher["AccessKeyId"], launcher["SecretAccessKey"]).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/reader", RoleSessionName="bench")["Credentials"]
    iam.create_user(UserName="objectstore")
    iam.put_user_policy(UserName="objectstore", PolicyName="authorize", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iamroles:AuthorizeRequest", "Resource": "*"}]}))
    service = iam.create_access_key(UserName="objectstore")["AccessKey"]
    return ({k: creds[k] for k in ("AccessKeyId", "SecretAccessKey", "SessionToken")},
            {k: service[k] for k in ("AccessKeyId", "SecretAccessKey")})


def signed_gets(creds: dict[str, str], n: int = N_REQUESTS) -> list[tuple[str, dict[str, str]]]:
    """``n`` botocore-signed S3 GETs of distinct objects: (path, lower-cased headers with host)."""
    out = []
    for i in range(n):
        path = f"/bench/reports/{i:04d}.csv"
        req = AWSRequest("GET", f"http://{HOST}{path}", headers={"x-amz-content-sha256": hashlib.sha256(b"").hexdigest()})
        S3SigV4Auth(Credentials(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]), "s3", "us-east-1").add_auth(req)
        headers = {k.lower(): v for k, v in req.headers.items()}
        headers["host"] = HOST
        out.append((path, headers))
    return out


def summary(latencies: list[float], elapsed: float, errors: int = 0) -> dict[str, float]:
    latencies.sort()
    n = len(latencies)
    return {"rps": n / elapsed if elapsed else 0.0, "p50_us": 1e6 * latencies[n // 2] if n else 0.0,
            "p99_us": 1e6 * latencies[min(n - 1, int(n * 0.99))] if n else 0.0, "decisions": n, "errors": errors}


# --- in process: Authorizer.authorize ----------------------------------------------------------------


def bench_authorizer(authorizer: Authorizer, requests: list[sigv4.HttpRequest], concurrency: int, duration: float) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop = time.perf_counter() + duration

    def worker(offset: int) -> None:
        nonlocal errors
        mine: list[float] = []
        bad = 0
        clock = time.perf_counter
        i = offset
        n = len(requests)
        while clock() < stop:
            for _ in range(64):
                http = requests[i % n]
                i += 1
                t0 = clock()
                result = authorizer.authorize(http, "s3:GetObject", "arn:aws:s3:::bench" + http.path[6:])
                mine.append(clock() - t0)
                if not result.allowed:
                    bad += 1
        with lock:
            latencies.extend(mine)
            errors += bad

    started = time.perf_counter()
    if concurrency == 1:
        worker(0)  # in this thread (and under --profile's profiler)
    else:
        threads = [threading.Thread(target=worker, args=(k * 17,)) for k in range(concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return summary(latencies, time.perf_counter() - started, errors)


# --- the ASGI middleware, called directly ------------------------------------------------------------


def mapping(request: RequestInfo) -> Target:
    return Target("s3:GetObject", "arn:aws:s3:::" + request.path[1:])


async def trivial_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


def scopes(gets: list[tuple[str, dict[str, str]]]) -> list[dict[str, Any]]:
    return [{"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http", "path": path,
             "raw_path": path.encode(), "query_string": b"", "root_path": "", "client": ("10.0.0.7", 50000), "server": ("objects.internal", 9000),
             "headers": [(k.encode(), v.encode()) for k, v in headers.items()]} for path, headers in gets]


async def bench_middleware(app: Any, templates: list[dict[str, Any]], concurrency: int, duration: float) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + duration
    request_message = {"type": "http.request", "body": b"", "more_body": False}

    async def receive() -> dict[str, Any]:
        return request_message

    async def worker(offset: int) -> None:
        nonlocal errors
        clock = time.perf_counter
        status = [0]

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]

        i = offset
        n = len(templates)
        while clock() < stop:
            scope = dict(templates[i % n])  # the middleware adds "iamroles" to the scope
            i += 1
            t0 = clock()
            await app(scope, receive, send)
            latencies.append(clock() - t0)
            if status[0] != 200:
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(k * 17) for k in range(concurrency)))
    return summary(latencies, time.perf_counter() - started, errors)


# --- over HTTP: the authorisation API ------------------------------------------------------------------


def api_requests(url: str, service: dict[str, str], gets: list[tuple[str, dict[str, str]]]) -> list[bytes]:
    """Pre-built HTTP/1.1 requests to POST /iamroles/v1/authorize, each signed by the service."""
    out = []
    host = url.split("//", 1)[1]
    for path, headers in gets:
        body = json.dumps({"Request": {"Method": "GET", "Path": path, "Query": "", "Headers": headers,
                                       "PayloadHash": hashlib.sha256(b"").hexdigest()},
                           "Action": "s3:GetObject", "Resource": "arn:aws:s3:::" + path[1:], "SourceIp": "10.0.0.7"})
        req = AWSRequest("POST", url + "/iamroles/v1/authorize", data=body, headers={"Content-Type": "application/json"})
        SigV4Auth(Credentials(service["AccessKeyId"], service["SecretAccessKey"]), "iamroles", "us-east-1").add_auth(req)
        lines = ["POST /iamroles/v1/authorize HTTP/1.1", f"Host: {host}"]
        lines += [f"{k}: {v}" for k, v in req.headers.items() if k.lower() not in ("host", "content-length")]
        lines.append(f"Content-Length: {len(body)}")
        out.append(("\r\n".join(lines) + "\r\n\r\n").encode() + body.encode())
    return out


async def bench_api(url: str, payloads: list[bytes], concurrency: int, duration: float) -> dict[str, float]:
    host, port = url.split("//", 1)[1].split(":")
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + duration

    async def worker(offset: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, int(port))
        i = offset
        while time.perf_counter() < stop:
            payload = payloads[i % len(payloads)]
            i += 1
            t0 = time.perf_counter()
            writer.write(payload)
            status = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            body = await reader.readexactly(length)
            latencies.append(time.perf_counter() - t0)
            if b" 200 " not in status or b'"Allowed":true' not in body:
                errors += 1
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(k * 17) for k in range(concurrency)))
    return summary(latencies, time.perf_counter() - started, errors)


# --- the run ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=3.0, help="seconds per measurement")
    ap.add_argument("--warmup", type=float, default=0.3, help="seconds of warm-up before each measurement")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--profile", action="store_true", help="cProfile the in-process path and exit")
    args = ap.parse_args(argv)

    tmp = Path(tempfile.mkdtemp())
    root_key, root_secret = "AKIA" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "IAMROLES_"))}
    proc = subprocess.Popen([sys.executable, "-m", "iamroles", "serve", "--port", str(port), "--data-dir", str(tmp / "data"),
                             "--root-access-key", root_key, "--root-secret-key", root_secret],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    results: dict[str, dict[str, float]] = {}
    try:
        for _ in range(300):
            try:
                if httpx.get(url + "/iamroles/health", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise SystemExit("iamroles serve did not start")

        def client(service: str, key: str = root_key, secret: str = root_secret) -> Any:
            return boto3.client(service, endpoint_url=url, region_name="us-east-1", aws_access_key_id=key, aws_secret_access_key=secret)

        account = client("sts").get_caller_identity()["Account"]
        creds, service_key = setup_principals(client("iam"), lambda k, s: client("sts", k, s), account)
        gets = signed_gets(creds)

        # the in-process backends share the server's store (its data directory), as the example does
        local = LocalAuthorizer.open(tmp / "data")
        authorizer = Authorizer(local.service, ("s3",), account)
        https = [sigv4.HttpRequest("GET", path, "", headers, b"", hashlib.sha256(b"").hexdigest()) for path, headers in gets]
        for http in https:  # warm: signing keys, the session, the policy set
            assert authorizer.authorize(http, "s3:GetObject", "arn:aws:s3:::bench" + http.path[6:]).allowed
        if args.profile:
            prof = cProfile.Profile()
            prof.enable()
            bench_authorizer(authorizer, https, 1, args.duration)
            prof.disable()
            pstats.Stats(prof).sort_stats("tottime").print_stats(30)
            return 0

        def row(name: str, c: int, r: dict[str, float]) -> None:
            results[f"{name} c={c}"] = r
            print(f"  {name:<52} c={c:<3} {r['rps']:9.0f}/s  p50 {r['p50_us']:8.1f} us  p99 {r['p99_us']:8.1f} us", file=sys.stderr)

        for c in (1, 16):
            bench_authorizer(authorizer, https, c, args.warmup)
            row("Authorizer.authorize (in process)", c, bench_authorizer(authorizer, https, c, args.duration))
        app = IamAuthMiddleware(trivial_app, authorizer=local, mapping=mapping, services=["s3"])
        templates = scopes(gets)
        for c in (1, 16):
            asyncio.run(bench_middleware(app, templates, c, args.warmup))
            row("IamAuthMiddleware + LocalAuthorizer (ASGI, no HTTP)", c, asyncio.run(bench_middleware(app, templates, c, args.duration)))
        payloads = api_requests(url, service_key, gets)
        for c in (1, 16):
            asyncio.run(bench_api(url, payloads, c, args.warmup))
            row("POST /iamroles/v1/authorize (HTTP, iamroles serve)", c, asyncio.run(bench_api(url, payloads, c, args.duration)))
        for c in (1, 16):
            async def remote_run(seconds: float) -> dict[str, float]:
                remote = RemoteAuthorizer(url, (service_key["AccessKeyId"], service_key["SecretAccessKey"]))
                app = IamAuthMiddleware(trivial_app, authorizer=remote, mapping=mapping, services=["s3"])
                try:
                    return await bench_middleware(app, templates, c, seconds)  # noqa: B023  (run within the iteration)
                finally:
                    await remote.aclose()
            asyncio.run(remote_run(args.warmup))
            row("IamAuthMiddleware + RemoteAuthorizer (ASGI -> HTTP API)", c, asyncio.run(remote_run(args.duration)))
        # last: its records (tens of thousands) go to the server's database, which the rows above use too
        audited = LocalAuthorizer.open(tmp / "data", audit="all")
        app = IamAuthMiddleware(trivial_app, authorizer=audited, mapping=mapping, services=["s3"])
        for c in (1, 16):
            asyncio.run(bench_middleware(app, templates, c, args.warmup))
            row("IamAuthMiddleware + LocalAuthorizer, audit='all'", c, asyncio.run(bench_middleware(app, templates, c, args.duration)))
        audited.close()
        local.close()
    finally:
        proc.terminate()
        proc.wait(10)

    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"{'path':<60} {'decisions/s':>11} {'p50':>11} {'p99':>11}  errors")
    for name, r in results.items():
        print(f"{name:<60} {r['rps']:11.0f} {r['p50_us']:8.1f} us {r['p99_us']:8.1f} us  {r['errors']:.0f}")
    p50 = results["Authorizer.authorize (in process) c=1"]["p50_us"]
    print(f"target: in-process verification plus decision under 50 us median: {p50:.1f} us ({'met' if p50 < 50 else 'NOT met'})")
    print(f"each decision verifies a SigV4 signature (role-session credentials) and evaluates the role's identity policy; "
          f"{N_REQUESTS} distinct pre-signed requests replayed in turn.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
