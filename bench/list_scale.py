"""ListRoles at scale, through the operation with a real store: the first page and the whole listing.

    python bench/list_scale.py [--db URL] 10000 100000

Roles are inserted through the store API (one transaction); the listing follows Markers as a client does.
Prints, per size: the first page of 100 (median of 5) and the full listing (pages of 100, then of 1,000).
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime

import iamroles.iam  # noqa: F401  (registers the operations)
from iamroles.auth.caller import Caller
from iamroles.iam.context import CallContext
from iamroles.iam.registry import OPERATIONS
from iamroles.policy.request import Principal, PrincipalType
from iamroles.store import Account, Role, Store
from iamroles.tokens import MasterKey

NOW = datetime(2026, 1, 1, tzinfo=UTC)
TRUST = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}'


def fill(store: Store, account: str, n: int) -> None:
    with store.write() as tx:
        tx.insert_account(Account(account, "aws", NOW))
        for _ in range(n):
            name = f"role-{uuid.uuid4().hex[:12]}"
            tx.insert_entity("role", Role(account, name, "AROA" + uuid.uuid4().hex[:17].upper(), "/", f"arn:aws:iam::{account}:role/{name}",
                                          NOW, trust_policy=TRUST))


def list_roles(store: Store, account: str, inp: dict[str, object]) -> dict[str, object]:
    caller = Caller(Principal(PrincipalType.ACCOUNT, arn=f"arn:aws:iam::{account}:root", account=account), account, "aws", "AKIA")
    with store.read() as tx:
        ctx = CallContext(caller, tx, NOW, "us-east-1", MasterKey(b"k" * 32))
        return OPERATIONS[("iam", "ListRoles")].func(ctx, inp) or {}


def full(store: Store, account: str, page: int) -> tuple[float, int]:
    start, seen, marker = time.perf_counter(), 0, None
    while True:
        out = list_roles(store, account, {"MaxItems": page, **({"Marker": marker} if marker else {})})
        seen += len(out["Roles"])  # type: ignore[arg-type]
        if not out["IsTruncated"]:
            return time.perf_counter() - start, seen
        marker = out["Marker"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default=None, help="a database URL (default: a SQLite file in a temporary directory)")
    parser.add_argument("--first-only", action="store_true", help="time the first page only (a quadratic listing takes hours)")
    parser.add_argument("sizes", nargs="+", type=int)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            store = Store(args.db or f"sqlite:///{tmp}/bench-{n}.db")
            store.migrate()
            account = str(uuid.uuid4().int)[:12]
            fill(store, account, n)
            if not store.postgres:  # fold the bulk insert's WAL into the database, as SQLite's next checkpoint would
                with store.engine.connect() as conn:
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            first = []
            for _ in range(5):
                t0 = time.perf_counter()
                list_roles(store, account, {"MaxItems": 100})
                first.append(time.perf_counter() - t0)
            if args.first_only:
                print(f"{n:>7} roles: first page {statistics.median(first) * 1000:8.1f} ms", flush=True)
                store.close()
                continue
            all100, seen = full(store, account, 100)
            all1000, seen2 = full(store, account, 1000)
            assert seen == seen2 == n, (seen, seen2, n)
            print(f"{n:>7} roles: first page {statistics.median(first) * 1000:8.1f} ms; "
                  f"full listing {all100:7.2f} s (pages of 100), {all1000:7.2f} s (pages of 1000)", flush=True)
            store.close()


if __name__ == "__main__":
    main()
