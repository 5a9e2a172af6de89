"""Soak: a million distinct session tokens presented to one node; does its memory stay flat? (issue 13)

Drives ``auth.principal.KeyResolver.resolve_session`` in process, as ``server.app`` calls it for every request
signed with temporary credentials: one account and role in a SQLite store, one signing key, and a fresh
assumed-role session (new ASIA id, secret, session name, a session tag) sealed and resolved per iteration --
each a distinct token, the worst case for the per-session cache. Prints the process's resident memory (RSS)
every ``--every`` sessions: with the cache a bounded LRU it rises until the cache is full and then stays flat.

    python bench/soak_sessions.py [--sessions 1000000] [--every 100000] [--limit N]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from iamroles.auth.principal import KeyResolver
from iamroles.store import Account, Role, Store
from iamroles.tokens import MasterKey, SessionClaims, SigningKey, new_access_key_id, new_secret_access_key, seal

ACCOUNT = "111122223333"
ROLE = "soak"
ROLE_ID = "AROASOAKSOAKSOAKSOAK1"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{ROLE}"


class OneKey:
    """The signing keys (``auth.principal.Keys``): one, never refreshed."""

    def __init__(self, key: SigningKey) -> None:
        self._keys = {key.key_id: key}

    @property
    def keys(self) -> Mapping[bytes, SigningKey]:
        return self._keys

    def refresh_for(self, key_id: bytes) -> bool:
        return False


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def session(n: int, issued: int) -> SessionClaims:
    name = f"soak-session-{n}"
    return SessionClaims(
        kind="assumed-role", account=ACCOUNT, partition="aws", access_key_id=new_access_key_id("ASIA"),
        secret=new_secret_access_key(), issued=issued, expires=issued + 3600,
        arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/{name}", user_id=f"{ROLE_ID}:{name}",
        principal_key=ROLE, role_arn=ROLE_ARN, session_name=name,
        source_arn=f"arn:aws:iam::{ACCOUNT}:user/alice", tags={"team": "blue", "run": str(n % 97)},
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=1_000_000)
    ap.add_argument("--every", type=int, default=100_000)
    ap.add_argument("--limit", type=int, default=None, help="the resolver's cache size (default: KeyResolver's)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    store = Store.sqlite_file(tmp / "iamroles.sqlite")
    store.migrate()
    now = datetime.now(UTC)
    with store.write() as tx:
        tx.insert_account(Account(ACCOUNT, "aws", now))
        tx.insert_entity("role", Role(ACCOUNT, ROLE, ROLE_ID, "/", ROLE_ARN, now, trust_policy="{}"))
    master = MasterKey(os.urandom(32))
    resolver = KeyResolver(master) if args.limit is None else KeyResolver(master, args.limit)
    keys = OneKey(SigningKey.generate())
    issued = int(now.timestamp())
    print(f"{'sessions':>10} {'RSS MB':>8} {'cached':>8} {'sessions/s':>11}")
    print(f"{0:>10} {rss_mb():8.1f} {0:>8} {'':>11}")
    started = time.perf_counter()
    last = started
    for n in range(1, args.sessions + 1):
        claims = session(n, issued)
        token = seal(claims, keys.keys[next(iter(keys.keys))])
        with store.read() as tx:
            resolved = resolver.resolve_session(tx, claims.access_key_id, token, now, keys)
        assert resolved.secret == claims.secret
        if n % args.every == 0:
            t = time.perf_counter()
            print(f"{n:>10} {rss_mb():8.1f} {len(resolver._cache):>8} {args.every / (t - last):11.0f}", flush=True)
            last = t
    print(f"{args.sessions} distinct sessions in {time.perf_counter() - started:.0f} s")
    store.close()


if __name__ == "__main__":
    main()
