"""Server throughput and latency: iamroles beside moto's server, same run, same requests.

Starts `iamroles serve` (SQLite) and `moto_server` on loopback, sets up a role
and an IAM user allowed iam:GetRole and sts:AssumeRole, signs requests in
advance with botocore, and drives both servers with the same load generator:
wrk (C, one thread, one keep-alive connection per concurrent client; Debian's
``wrk`` package) when it is on PATH, else an asyncio client holding one
keep-alive connection per worker and sending pre-built HTTP/1.1 bytes. On a
2-core machine the generator shares the CPU with the server under test; the
two generators give figures within run-to-run noise of each other at
concurrency 16 (wrk's are higher at concurrency 1). Prints requests/s and
p50/p99 latency per operation at concurrency 1 and 16, and which generator
measured them.

With ``--workers 1,2`` iamroles is measured with one worker process, then with two (``serve --workers``), each
on a fresh database, beside moto in the same run; the last column is the speed-up.

    python bench/server.py [--duration 4] [--client wrk|python] [--only NAME] [--workers 1,2] [--roles N] [--accounts N] [--json]

``--roles N`` adds a row where GetRole's target cycles over N roles of one
account (each request a different role), beside moto; ``--accounts N`` one
where the caller cycles over N accounts, each with its own user, key and role
(iamroles alone: moto has one account per key prefix only). Both show how the
read caches hold up when traffic is spread (issue 13); both use the asyncio
client.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import boto3
import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "sts:AssumeRole"}]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait(url: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {url}")
        try:
            httpx.get(url, timeout=0.5)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"server did not start: {url}")


def signed_request(url: str, service: str, params: dict[str, str], key: str, secret: str,
                   token: str | None = None) -> tuple[str, dict[str, str]]:
    """The form body and the headers (Host and Content-Length aside) of a botocore-signed POST."""
    body = urlencode(params)
    req = AWSRequest("POST", url + "/", data=body, headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(Credentials(key, secret, token), service, "us-east-1").add_auth(req)
    p = req.prepare()
    return body, {k: v for k, v in p.headers.items() if k.lower() not in ("host", "content-length")}


def raw_request(url: str, service: str, params: dict[str, str], key: str, secret: str, token: str | None = None) -> bytes:
    body, headers = signed_request(url, service, params, key, secret, token)
    host = url.split("//", 1)[1]
    lines = ["POST / HTTP/1.1", f"Host: {host}"] + [f"{k}: {v}" for k, v in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body.encode()


_WRK_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.connect + e.read + e.write + e.status + e.timeout))
end
"""


def _lua(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def drive_wrk(url: str, request: tuple[str, dict[str, str]], concurrency: int, duration: float, workdir: Path) -> dict[str, float]:
    """wrk with one thread and ``concurrency`` keep-alive connections, replaying one signed request."""
    body, headers = request
    script = workdir / f"req-{os.getpid()}-{time.monotonic_ns()}.lua"
    lines = ['wrk.method = "POST"', f"wrk.body = {_lua(body)}"]
    lines += [f"wrk.headers[{_lua(k)}] = {_lua(v)}" for k, v in headers.items()]
    script.write_text("\n".join(lines) + _WRK_DONE)
    out = subprocess.run(["wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(duration))}s", "--timeout", "5s", "-s", str(script), url + "/"],
                         capture_output=True, text=True, check=True).stdout
    fields = next(line for line in out.splitlines() if line.startswith("WRK ")).split()[1:]
    requests, duration_us, p50_us, p99_us, errors = (int(x) for x in fields)
    return {"rps": requests / (duration_us / 1e6), "p50_ms": p50_us / 1000, "p99_ms": p99_us / 1000,
            "errors": errors, "requests": requests}


async def drive(url: str, payload: bytes | list[bytes], concurrency: int, duration: float) -> dict[str, float]:
    """``payload``: one request, or several that each worker sends in turn (from its own starting point)."""
    host, port = url.split("//", 1)[1].split(":")
    payloads = payload if isinstance(payload, list) else [payload]
    turn = 0
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + duration

    async def worker() -> None:
        nonlocal errors, turn
        i, turn = turn * 7919, turn + 1
        reader, writer = await asyncio.open_connection(host, int(port))
        while time.perf_counter() < stop:
            i += 1
            payload = payloads[i % len(payloads)]
            t0 = time.perf_counter()
            if writer.is_closing():  # the server closed the connection (moto's werkzeug does after each response)
                reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(payload)
            status = await reader.readline()
            length, close = 0, False
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name = line.split(b":", 1)[0].strip().lower()
                if name == b"content-length":
                    length = int(line.split(b":", 1)[1])
                elif name == b"connection" and b"close" in line.lower():
                    close = True
            await reader.readexactly(length)
            if close:
                writer.close()
                await writer.wait_closed()
            latencies.append(time.perf_counter() - t0)
            if b" 200 " not in status:
                errors += 1
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    n = len(latencies)
    return {"rps": n / elapsed, "p50_ms": 1000 * latencies[n // 2] if n else 0.0,
            "p99_ms": 1000 * latencies[min(n - 1, int(n * 0.99))] if n else 0.0, "errors": errors, "requests": n}


def setup(url: str, root_key: str, root_secret: str) -> tuple[str, str, str]:
    iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1", aws_access_key_id=root_key, aws_secret_access_key=root_secret)
    account = boto3.client("sts", endpoint_url=url, region_name="us-east-1", aws_access_key_id=root_key,
                           aws_secret_access_key=root_secret).get_caller_identity()["Account"]
    trust = json.loads(json.dumps(TRUST).replace("123456789012", account))
    role_arn = iam.create_role(RoleName="bench", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.create_user(UserName="bench")
    iam.put_user_policy(UserName="bench", PolicyName="p", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["iam:GetRole", "sts:AssumeRole"], "Resource": "*"}]}))
    key = iam.create_access_key(UserName="bench")["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"], role_arn


def setup_user(url: str, root_key: str, root_secret: str, name: str) -> tuple[str, str]:
    """A user allowed iam:GetRole, and its key."""
    iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1", aws_access_key_id=root_key, aws_secret_access_key=root_secret)
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["iam:GetRole"], "Resource": "*"}]}))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def measure(name: str, url: str, root_key: str, root_secret: str, duration: float, only: str | None = None,
            client: str = "python", workdir: Path | None = None) -> dict[str, dict[str, float]]:
    key, secret, role_arn = setup(url, root_key, root_secret)
    sts = boto3.client("sts", endpoint_url=url, region_name="us-east-1", aws_access_key_id=key, aws_secret_access_key=secret)
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="bench")["Credentials"]
    ops = [
        ("sts:GetCallerIdentity", "sts", {"Action": "GetCallerIdentity", "Version": "2011-06-15"}, None),
        ("sts:GetCallerIdentity (temporary)", "sts", {"Action": "GetCallerIdentity", "Version": "2011-06-15"}, creds),
        ("iam:GetRole (user, authorised)", "iam", {"Action": "GetRole", "Version": "2010-05-08", "RoleName": "bench"}, None),
        ("sts:AssumeRole", "sts", {"Action": "AssumeRole", "Version": "2011-06-15", "RoleArn": role_arn, "RoleSessionName": "bench"}, None),
        # the same call again once every AssumeRole above has issued a session: does it slow as sessions pile up?
        ("sts:GetCallerIdentity (temporary, after)", "sts", {"Action": "GetCallerIdentity", "Version": "2011-06-15"}, creds),
    ]
    out: dict[str, dict[str, float]] = {}
    sessions = 0
    for op, service, params, temp in ops:
        if only and only.lower() not in op.lower():
            continue
        k, s, t = (temp["AccessKeyId"], temp["SecretAccessKey"], temp["SessionToken"]) if temp else (key, secret, None)
        payload = raw_request(url, service, params, k, s, t)
        request = signed_request(url, service, params, k, s, t)
        for c in (1, 16):
            if client == "wrk":
                assert workdir is not None
                warm = drive_wrk(url, request, c, 1, workdir)
                row = drive_wrk(url, request, c, duration, workdir)
            else:
                warm = asyncio.run(drive(url, payload, c, 0.5))
                row = asyncio.run(drive(url, payload, c, duration))
            if op == "sts:AssumeRole":
                sessions += int(warm["requests"] + row["requests"])
            out[f"{op} c={c}"] = row
            print(f"  {name:<9} {op:<42} c={c:<3} {row['rps']:8.0f} rps", file=sys.stderr)
    out["sessions issued"] = {"rps": float(sessions), "p50_ms": 0.0, "p99_ms": 0.0, "errors": 0, "requests": sessions}
    return out


def start_iamroles(tmp: Path, root_key: str, root_secret: str, db: str | None, workers: int,
                   env: dict[str, str], metrics: bool = False) -> tuple[str, subprocess.Popen[bytes]]:
    """An `iamroles serve --workers N` on a fresh data directory (and, on PostgreSQL, the database as it is);
    ``metrics``: with its Prometheus listener on (``--metrics-port``)."""
    port = free_port()
    data = tmp / (f"data-{workers}-metrics" if metrics else f"data-{workers}")
    proc = subprocess.Popen([sys.executable, "-m", "iamroles", "serve", "--port", str(port), "--data-dir", str(data),
                             "--root-access-key", root_key, "--root-secret-key", root_secret, "--workers", str(workers),
                             *(["--db", db] if db else []), *(["--metrics-port", str(free_port())] if metrics else [])],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}"
    wait(f"{url}/iamroles/health", proc)
    return url, proc


def spread_roles(url: str, root_key: str, root_secret: str, user: tuple[str, str], n: int) -> list[bytes]:
    """N roles in the caller's account, and a GetRole of each signed by the benchmark's user."""
    iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1", aws_access_key_id=root_key, aws_secret_access_key=root_secret)
    payloads = []
    for i in range(n):
        iam.create_role(RoleName=f"spread-{i}", AssumeRolePolicyDocument=json.dumps(TRUST))
        payloads.append(raw_request(url, "iam", {"Action": "GetRole", "Version": "2010-05-08", "RoleName": f"spread-{i}"}, *user))
    return payloads


def spread_accounts(url: str, data_dir: Path, db: str | None, n: int) -> list[bytes]:
    """N new accounts, each with a role and a user allowed iam:GetRole, and each user's GetRole of its account's role."""
    from iamroles.server import Settings, bootstrap, create_account

    store, master_key, _ = bootstrap(Settings(data_dir, db))
    payloads = []
    try:
        for _ in range(n):
            _account, root_key, root_secret = create_account(store, master_key)
            key, secret, _role = setup(url, root_key, root_secret)
            payloads.append(raw_request(url, "iam", {"Action": "GetRole", "Version": "2010-05-08", "RoleName": "bench"}, key, secret))
    finally:
        store.close()
    return payloads


def measure_spread(name: str, url: str, payloads: list[bytes], duration: float) -> dict[str, float]:
    # warm: every target once at least (the 16 workers start spread over the list), so that the row measures the
    # steady state, not first reads
    asyncio.run(drive(url, payloads, 16, 1.0 + len(payloads) / 200))
    row = asyncio.run(drive(url, payloads, 16, duration))
    print(f"  {name:<9} {'spread over ' + str(len(payloads)):<42} c=16  {row['rps']:8.0f} rps", file=sys.stderr)
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=4.0)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--only", help="run only the operations whose name contains this (e.g. AssumeRole)")
    ap.add_argument("--no-moto", action="store_true", help="iamroles alone (for profiling; the comparison needs moto)")
    ap.add_argument("--db", help="iamroles' database URL (default: SQLite in a temporary directory), e.g. "
                                 "postgresql+psycopg://postgres@127.0.0.1/bench; with several --workers counts, give "
                                 "a fresh database for each run: a comma-separated list, one URL per count")
    ap.add_argument("--workers", default="1",
                    help="iamroles' worker processes; a comma-separated list (e.g. 1,2) measures each count in turn, "
                         "each on a fresh database, beside moto in the same run")
    ap.add_argument("--client", choices=["wrk", "python"], default="wrk" if shutil.which("wrk") else "python",
                    help="the load generator (default: wrk when it is installed)")
    ap.add_argument("--roles", type=int, default=0, help="also: GetRole spread over this many roles of one account")
    ap.add_argument("--accounts", type=int, default=0, help="also: GetRole spread over this many accounts (iamroles alone)")
    ap.add_argument("--metrics", action="store_true",
                    help="each configuration twice, without and with the Prometheus listener (serve --metrics-port)")
    args = ap.parse_args()
    counts = [int(c) for c in args.workers.split(",")]
    dbs = args.db.split(",") if args.db else [None] * len(counts)
    if len(dbs) != len(counts):
        raise SystemExit("--db: give one database URL per --workers count")
    tmp = Path(tempfile.mkdtemp())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "IAMROLES_"))}
    root_key, root_secret = "AKIA" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30)
    results: dict[str, dict[str, dict[str, float]]] = {}
    runs = [(count, db, metrics) for count, db in zip(counts, dbs) for metrics in ((False, True) if args.metrics else (False,))]
    for count, db, metrics in runs:
        url, proc = start_iamroles(tmp, root_key, root_secret, db, count, env, metrics)
        try:
            column = _column(count, counts) + (" +metrics" if metrics else "")
            results[column] = measure(column, url, root_key, root_secret, args.duration, args.only, args.client, tmp)
            if args.roles:
                user = setup_user(url, root_key, root_secret, f"spreader{secrets.token_hex(3)}")
                results[column][f"iam:GetRole over {args.roles} roles c=16"] = measure_spread(
                    column, url, spread_roles(url, root_key, root_secret, user, args.roles), args.duration)
            if args.accounts:
                results[column][f"iam:GetRole over {args.accounts} accounts c=16"] = measure_spread(
                    column, url, spread_accounts(url, tmp / (f"data-{count}-metrics" if metrics else f"data-{count}"), db, args.accounts), args.duration)
        finally:
            proc.terminate()
            proc.wait(30)
    first = next(iter(results.values()))
    if args.no_moto:
        results["moto"] = {row: {"rps": 0.0, "p50_ms": 0.0, "p99_ms": 0.0, "errors": 0, "requests": 0} for row in first}
    else:
        mp = free_port()
        moto_proc = subprocess.Popen(["moto_server", "-p", str(mp)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        try:
            wait(f"http://127.0.0.1:{mp}/moto-api/", moto_proc)
            results["moto"] = measure("moto", f"http://127.0.0.1:{mp}", "testing", "testing", args.duration, args.only,
                                      args.client, tmp)
            if args.roles:
                moto_url = f"http://127.0.0.1:{mp}"
                user = setup_user(moto_url, "testing", "testing", f"spreader{secrets.token_hex(3)}")
                results["moto"][f"iam:GetRole over {args.roles} roles c=16"] = measure_spread(
                    "moto", moto_url, spread_roles(moto_url, "testing", "testing", user, args.roles), args.duration)
        finally:
            moto_proc.terminate()
            moto_proc.wait(10)
    none = {"rps": 0.0, "p50_ms": 0.0, "p99_ms": 0.0, "errors": 0, "requests": 0}
    for row in first:
        results["moto"].setdefault(row, none)  # moto has one account: no row over many accounts
    if args.json:
        print(json.dumps(results, indent=2))
        return
    _table(results)
    if args.roles or args.accounts:
        print("the 'over N roles/accounts' rows: asyncio, Python (one pre-signed request per target)")
    print(f"load generator: {args.client} ({'wrk -t1, C' if args.client == 'wrk' else 'asyncio, Python'}) on the same machine as the servers, "
          f"{os.cpu_count()} CPUs")
    print("iamroles verifies SigV4 and evaluates identity, trust and boundary policies on every request; moto checks nothing.")


def _column(count: int, counts: list[int]) -> str:
    return "iamroles" if len(counts) == 1 else f"iamroles w={count}"


def _table(results: dict[str, dict[str, dict[str, float]]]) -> None:
    """One row per operation: each iamroles run's and moto's rps, p50 and p99; then iamroles' best over moto,
    and (several worker counts) the last count's rps over the first's."""
    names = list(results)
    ours = [n for n in names if n != "moto"]
    header = f"{'operation':<44}" + "".join(f" {n + ' rps':>16} {'p50':>7} {'p99':>7}" for n in names) + "  vs moto"
    if len(ours) > 1:
        header += f"  {ours[-1].split()[-1]}/{ours[0].split()[-1]}"
    print(header)
    for row in results[ours[0]]:
        if row == "sessions issued":
            print("sessions issued by AssumeRole before the '(temporary, after)' rows: "
                  + ", ".join(f"{n} {int(results[n][row]['requests'])}" for n in names))
            continue
        line = f"{row:<44}"
        for n in names:
            c = results[n][row]
            line += f" {c['rps']:16.0f} {c['p50_ms']:6.1f}ms {c['p99_ms']:6.1f}ms"
        m = results["moto"][row]["rps"]
        best = max(results[n][row]["rps"] for n in ours)
        line += f"  {best / m:6.1f}x" if m else "       -"
        if len(ours) > 1:
            base = results[ours[0]][row]["rps"]
            line += f"  {results[ours[-1]][row]['rps'] / base:6.2f}x" if base else ""
        errors = {n: int(results[n][row]["errors"]) for n in names if results[n][row]["errors"]}
        if errors:
            line += f"  errors: {errors}"
        print(line)


if __name__ == "__main__":
    main()
