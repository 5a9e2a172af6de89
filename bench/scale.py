"""Scale: how iamroles' per-request figures hold as an account's roles grow, and as traffic spreads over accounts.

For each backend (SQLite, PostgreSQL) one database and one `iamroles serve` process are used for every size:
roles are bulk-loaded through the store (``Tx.insert_entities``, as an import would: no API call per role,
no quota) into one account up to each size in turn (100, 10,000, 100,000 by default), and 1,000 more accounts
are set up once through the API, each with a user, a role it may assume and a policy allowing what is measured.
At each size it prints requests/s, p50 and p99 for

* GetRole (of roles spread over the whole account), AssumeRole (likewise), GetCallerIdentity,
  ListRoles' first page, and CreateRole, with 1 account receiving traffic and with 1,000 (each request signed
  by the next account's user, about its own role); in the 1-account case CreateRole writes into an account of
  its own, because the big account is past IAM's default quota of 1,000 roles
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html), which CreateRole enforces;
* the full listing of the big account (every page of ListRoles, one client, one page after the other),
  stopped after ``--list-timeout`` seconds (then the roles listed so far are printed);
* GetRole's latency at concurrency 1 alone and beside a ListRoles loop (first pages, one client).

Then the targets of issue 13 are checked against what was measured: each per-request figure at the largest
size within 1.2x of the smallest (requests/s at least 1/1.2 of it, p99 at most 1.2 times it), the full listing
of the largest size under 10 s, traffic over 1,000 accounts at least 0.8x of one account's, and GetRole's p99
beside the ListRoles loop under 20 ms. A benchmark, not a test: on a 2-core machine the load generator shares
the CPUs with the server.

    python bench/scale.py [--sizes 100,10000,100000] [--backends sqlite,postgresql] [--accounts 1000]
                          [--duration 3] [--concurrency 16] [--workers 1] [--json]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server import free_port, raw_request, wait

PG_ADMIN = os.environ.get("IAMROLES_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
IAM_VERSION, STS_VERSION = "2010-05-08", "2011-06-15"
ALLOW = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["iam:GetRole", "iam:ListRoles", "iam:CreateRole",
                                                                               "sts:AssumeRole"], "Resource": "*"}]}
Row = dict[str, float]


async def drive(url: str, payloads: Sequence[bytes], concurrency: int, duration: float, once: bool = False,
                patience: float = 30.0) -> Row:
    """``concurrency`` keep-alive connections sending ``payloads`` in turn for ``duration`` seconds (``once``:
    each payload at most once, for calls that may not repeat); rps, p50, p99, errors (answers other than 200,
    and requests still unanswered ``patience`` seconds after the end, which count with the time they waited)."""
    host, port = url.split("//", 1)[1].split(":")
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + duration
    turn = 0
    waiting: dict[int, float] = {}

    async def worker(me: int) -> None:
        nonlocal errors, turn
        reader, writer = await asyncio.open_connection(host, int(port))
        while time.perf_counter() < stop and not (once and turn >= len(payloads)):
            payload = payloads[turn % len(payloads)]
            turn += 1
            t0 = waiting[me] = time.perf_counter()
            writer.write(payload)
            status = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            del waiting[me]
            latencies.append(time.perf_counter() - t0)
            if b" 200 " not in status:
                errors += 1
        writer.close()

    started = time.perf_counter()
    try:
        await asyncio.wait_for(asyncio.gather(*(worker(i) for i in range(concurrency))), duration + patience)
    except TimeoutError:  # the server is far behind: what it has not answered counts against it
        now = time.perf_counter()
        latencies.extend(now - t0 for t0 in waiting.values())
        errors += len(waiting)
    elapsed = time.perf_counter() - started
    latencies.sort()
    n = len(latencies)
    return {"rps": n / elapsed if elapsed else 0.0, "p50_ms": 1000 * latencies[n // 2] if n else 0.0,
            "p99_ms": 1000 * latencies[min(n - 1, int(n * 0.99))] if n else 0.0, "errors": float(errors), "requests": float(n)}


class Principal:
    """An account's user that the measured requests are signed by, and the roles they are about."""

    def __init__(self, account: str, key: str, secret: str, roles: list[str]) -> None:
        self.account, self.key, self.secret, self.roles = account, key, secret, roles


def _client(url: str, service: str, key: str, secret: str) -> Any:
    return boto3.client(service, endpoint_url=url, region_name="us-east-1", aws_access_key_id=key, aws_secret_access_key=secret,
                        config=Config(retries={"max_attempts": 5, "mode": "standard"}))


def _user_in(url: str, account: str, root_key: str, root_secret: str, role: str | None) -> Principal:
    """A user ``bench`` allowed what is measured, and (``role``) a role trusting it."""
    iam = _client(url, "iam", root_key, root_secret)
    iam.create_user(UserName="bench")
    iam.put_user_policy(UserName="bench", PolicyName="bench", PolicyDocument=json.dumps(ALLOW))
    key = iam.create_access_key(UserName="bench")["AccessKey"]
    roles = []
    if role is not None:
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                                                         "Action": "sts:AssumeRole"}]}
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
        roles.append(role)
    return Principal(account, key["AccessKeyId"], key["SecretAccessKey"], roles)


class Bench:
    """One backend's database and server, grown size by size."""

    def __init__(self, backend: str, db_url: str | None, tmp: Path, workers: int) -> None:
        from iamroles.server import Settings, prepare

        self.backend = backend
        self.data_dir = tmp / f"data-{backend}"
        self.root_key, self.root_secret = "AKIA" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30)
        self.settings = Settings(self.data_dir, db_url, root_access_key=self.root_key, root_secret_key=self.root_secret)
        prepared = prepare(self.settings)
        self.store, self.master_key, self.account = prepared.store, prepared.master_key, prepared.default_account
        self.loaded = 0
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "IAMROLES_"))}
        self.proc = subprocess.Popen([sys.executable, "-m", "iamroles", "serve", "--port", str(port), "--data-dir", str(self.data_dir),
                                      "--workers", str(workers), "--audit-retention", "forever", *(["--db", db_url] if db_url else [])],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        self.url = f"http://127.0.0.1:{port}"
        wait(f"{self.url}/iamroles/health", self.proc)
        self.big = _user_in(self.url, self.account, self.root_key, self.root_secret, None)
        self.names: list[str] = []

    def set_up_accounts(self, count: int) -> list[Principal]:
        """``count`` accounts with a user and a role each."""
        from iamroles.server import create_account

        made = [create_account(self.store, self.master_key) for _ in range(count)]
        with ThreadPoolExecutor(8) as pool:
            return list(pool.map(lambda a: _user_in(self.url, a[0], a[1], a[2], "bench"), made))

    def load_roles(self, size: int) -> float:
        """Bulk-load the big account's roles up to ``size``; seconds taken."""
        from iamroles.store import Role
        from iamroles.tokens import new_unique_id

        started = time.perf_counter()
        trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{self.account}:root"},
                                                                     "Action": "sts:AssumeRole"}]})
        now = datetime.now(UTC)
        while self.loaded < size:
            chunk = []
            for i in range(self.loaded, min(size, self.loaded + 5000)):
                name = f"role-{i:07d}"
                chunk.append(Role(account_id=self.account, name=name, id=new_unique_id("AROA"),
                                  path="/", arn=f"arn:aws:iam::{self.account}:role/{name}", created_at=now, trust_policy=trust))
                self.names.append(name)
            with self.store.write() as tx:
                tx.insert_entities("role", chunk)
            self.loaded += len(chunk)
        return time.perf_counter() - started

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)
        self.store.close()


def _sign(url: str, who: Principal, service: str, params: dict[str, str]) -> bytes:
    return raw_request(url, service, params, who.key, who.secret)


def _payloads(url: str, op: str, people: Sequence[Principal], names: Sequence[str] | None, count: int) -> list[bytes]:
    """``count`` signed requests for ``op``, signed by ``people`` in turn, each about a role of its signer's
    (``names``: the big account's roles, drawn at random)."""
    out = []
    for i in range(count):
        who = people[i % len(people)]
        role = random.choice(names) if names else (who.roles[0] if who.roles else "")
        if op == "GetRole":
            out.append(_sign(url, who, "iam", {"Action": "GetRole", "Version": IAM_VERSION, "RoleName": role}))
        elif op == "AssumeRole":
            out.append(_sign(url, who, "sts", {"Action": "AssumeRole", "Version": STS_VERSION, "RoleSessionName": "bench",
                                                "RoleArn": f"arn:aws:iam::{who.account}:role/{role}"}))
        elif op == "GetCallerIdentity":
            out.append(_sign(url, who, "sts", {"Action": "GetCallerIdentity", "Version": STS_VERSION}))
        elif op == "ListRoles (first page)":
            out.append(_sign(url, who, "iam", {"Action": "ListRoles", "Version": IAM_VERSION}))
        elif op == "CreateRole":
            trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{who.account}:root"},
                                                                          "Action": "sts:AssumeRole"}]})
            out.append(_sign(url, who, "iam", {"Action": "CreateRole", "Version": IAM_VERSION, "RoleName": f"c-{uuid.uuid4().hex[:20]}",
                                                "AssumeRolePolicyDocument": trust}))
    return out


OPS = ("GetRole", "AssumeRole", "GetCallerIdentity", "ListRoles (first page)", "CreateRole")


def full_listing(url: str, who: Principal, timeout: float) -> Row:
    """Every page of ListRoles, one after the other; seconds and roles listed (stopped after ``timeout``)."""
    iam = _client(url, "iam", who.key, who.secret)
    started = time.perf_counter()
    listed, marker, done = 0, None, False
    while time.perf_counter() - started < timeout:
        page = iam.list_roles(**({"Marker": marker} if marker else {}))
        listed += len(page["Roles"])
        marker = page.get("Marker")
        if not page.get("IsTruncated"):
            done = True
            break
    return {"seconds": time.perf_counter() - started, "roles": float(listed), "finished": float(done)}


def beside_listing(url: str, get_role: list[bytes], list_first: list[bytes], duration: float) -> tuple[Row, Row]:
    """GetRole at concurrency 1, alone, then beside a loop of ListRoles first pages (one client)."""
    alone = asyncio.run(drive(url, get_role, 1, duration))

    async def both() -> Row:
        lister = asyncio.create_task(drive(url, list_first, 1, duration))
        row = await drive(url, get_role, 1, duration)
        await lister
        return row

    return alone, asyncio.run(both())


def measure_size(bench: Bench, size: int, many: list[Principal], args: argparse.Namespace) -> dict[str, Any]:
    load_s = bench.load_roles(size)
    print(f"  {bench.backend}: {size} roles loaded ({load_s:.1f} s)", file=sys.stderr)
    url, out = bench.url, {"load_seconds": load_s}
    one = Principal(bench.account, bench.big.key, bench.big.secret, [])
    for traffic, people, names in (("1 account", [one], bench.names), (f"{len(many)} accounts", many, None)):
        for op in OPS:
            for c in args.concurrency:
                if op == "CreateRole":
                    # each role once; one account takes 1,000 (IAM's quota): a fresh one per measurement
                    signers = bench.set_up_accounts(1) if traffic == "1 account" else people
                    payloads = _payloads(url, op, signers, None, 990 if traffic == "1 account" else 50 * len(people))
                    asyncio.run(drive(url, payloads[:40], c, 5, once=True))
                    row = asyncio.run(drive(url, payloads[40:], c, args.duration, once=True))
                else:
                    payloads = _payloads(url, op, people, names if op in ("GetRole", "AssumeRole") else None, max(1000, len(people)))
                    asyncio.run(drive(url, payloads, c, min(0.5, args.duration)))  # warm: connections, caches
                    row = asyncio.run(drive(url, payloads, c, args.duration))
                out[f"{op} | {traffic} | c={c}"] = row
                print(f"  {bench.backend} {size:>7} {op:<24} {traffic:<13} c={c:<3} {row['rps']:7.0f} rps  p99 {row['p99_ms']:6.1f} ms"
                      + (f"  errors {int(row['errors'])}" if row["errors"] else ""), file=sys.stderr)
    out["full listing"] = full_listing(url, one, args.list_timeout)
    get_role = _payloads(url, "GetRole", [one], bench.names, 1000)
    alone, beside = beside_listing(url, get_role, _payloads(url, "ListRoles (first page)", [one], None, 10), args.duration)
    out["GetRole c=1 alone"], out["GetRole c=1 beside a ListRoles loop"] = alone, beside
    return out


def _pg_database(tag: str) -> tuple[str, Any]:
    import psycopg

    admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    name = f"iamroles_scale_{tag}_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    return f"{base}/{name}", (admin, name)


def run(args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp())
    results: dict[str, Any] = {}
    for backend in args.backends:
        db_url, cleanup = (None, None) if backend == "sqlite" else _pg_database(backend)
        bench = Bench(backend, db_url, tmp, args.workers)
        try:
            started = time.perf_counter()
            many = bench.set_up_accounts(args.accounts)
            print(f"  {backend}: {args.accounts} accounts set up ({time.perf_counter() - started:.1f} s)", file=sys.stderr)
            results[backend] = {str(size): measure_size(bench, size, many, args) for size in args.sizes}
        finally:
            bench.close()
            if cleanup is not None:
                admin, name = cleanup
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                admin.close()
    return results


def targets(results: dict[str, Any], sizes: list[int], accounts: int) -> list[tuple[str, bool, str]]:
    """Issue 13's targets: (what, met, the figures)."""
    out = []
    small, large = str(min(sizes)), str(max(sizes))
    for backend, by_size in results.items():
        at_small, at_large = by_size[small], by_size[large]
        for row in at_small:
            if " | " not in row:
                continue
            a, b = at_small[row], at_large[row]
            ok = b["rps"] >= a["rps"] / 1.2 and b["p99_ms"] <= a["p99_ms"] * 1.2
            out.append((f"{backend}: {row} at {large} roles within 1.2x of {small}", ok,
                        f"{a['rps']:.0f} -> {b['rps']:.0f} rps, p99 {a['p99_ms']:.1f} -> {b['p99_ms']:.1f} ms"))
        listing = at_large["full listing"]
        out.append((f"{backend}: full listing of {large} roles under 10 s", bool(listing["finished"]) and listing["seconds"] < 10,
                    f"{int(listing['roles'])} roles in {listing['seconds']:.1f} s" + ("" if listing["finished"] else " (stopped)")))
        for size, figures in by_size.items():
            for row in figures:
                if " | 1 account | " in row:
                    other = row.replace(" | 1 account | ", f" | {accounts} accounts | ")
                    a, b = figures[row], figures[other]
                    out.append((f"{backend} {size}: {other} at least 0.8x of one account", b["rps"] >= 0.8 * a["rps"],
                                f"{a['rps']:.0f} vs {b['rps']:.0f} rps"))
            beside = figures["GetRole c=1 beside a ListRoles loop"]
            out.append((f"{backend} {size}: GetRole p99 beside a ListRoles loop under 20 ms", beside["p99_ms"] < 20,
                        f"{figures['GetRole c=1 alone']['p99_ms']:.1f} ms alone, {beside['p99_ms']:.1f} ms beside"))
    return out


def print_table(results: dict[str, Any], sizes: list[int], accounts: int) -> None:
    cols = [str(s) for s in sizes]
    print(f"{'backend':<10} {'measure':<52}" + "".join(f" {c + ' roles':>30}" for c in cols))
    for backend, by_size in results.items():
        first = by_size[cols[0]]
        for row in first:
            if row == "load_seconds":
                line = "".join(f" {by_size[c][row]:>28.1f} s" for c in cols)
            elif row == "full listing":
                line = "".join(f" {int(by_size[c][row]['roles']):>9} in {by_size[c][row]['seconds']:6.1f} s{'' if by_size[c][row]['finished'] else ' (stop)':>7}"
                               for c in cols)
            else:
                line = "".join(f" {by_size[c][row]['rps']:7.0f}/s {by_size[c][row]['p50_ms']:6.1f} {by_size[c][row]['p99_ms']:6.1f} ms"
                               + ("!" if by_size[c][row]["errors"] else " ") for c in cols)
            print(f"{backend:<10} {row:<52}{line}")
    print("(requests/s, p50, p99; '!': some answers were not 200)")
    for what, ok, figures in targets(results, sizes, accounts):
        print(f"  {'met ' if ok else 'MISS'}  {what}: {figures}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100,10000,100000", help="the big account's roles, in increasing order")
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--accounts", type=int, default=1000, help="the accounts of the many-accounts traffic")
    ap.add_argument("--duration", type=float, default=3.0, help="seconds per measurement")
    ap.add_argument("--concurrency", default="16", help="concurrent connections (a comma-separated list)")
    ap.add_argument("--workers", type=int, default=1, help="iamroles serve --workers")
    ap.add_argument("--list-timeout", type=float, default=60.0, help="seconds before the full listing is stopped")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    args.sizes = [int(s) for s in args.sizes.split(",")]
    args.backends = args.backends.split(",")
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    results = run(args)
    if args.json:
        print(json.dumps({"results": results, "targets": targets(results, args.sizes, args.accounts)}, indent=1))
    else:
        print_table(results, args.sizes, args.accounts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
