"""The store's shared cache on both backends (issue 13): a write invalidates only what it touched, in this
process at once and in another process (a second ``Store`` on the same database) within the TTL;
bookkeeping (last used) invalidates nothing; the caches are LRUs that evict one entry at a time.

SQL statements are counted on the engine: a read served from the cache runs none."""
from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from iamroles.store import LRU, Account, Role, Store, Tag

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return request.getfixturevalue("own_pg_database") if request.param == "postgresql" else f"sqlite:///{tmp_path}/store.db"


@pytest.fixture
def store(url: str) -> Iterator[Store]:
    s = Store(url, cache_ttl=60)  # no polls of the change log inside a test: counts are of the reads themselves
    s.migrate()
    yield s
    s.close()


@pytest.fixture
def other(url: str, store: Store) -> Iterator[Store]:
    """Another process's store on the same database, with a short TTL."""
    s = Store(url, cache_ttl=0.3)
    yield s
    s.close()


class Statements:
    def __init__(self, store: Store) -> None:
        self.count = 0
        event.listen(store.engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args: Any) -> None:
        self.count += 1

    def during(self, fn: Any) -> int:
        before = self.count
        fn()
        return self.count - before


@pytest.fixture
def account(store: Store) -> str:
    account_id = str(uuid.uuid4().int)[:12]
    with store.write() as tx:
        tx.insert_account(Account(account_id, "aws", NOW))
    return account_id


def _role(store: Store, account: str, name: str) -> Role:
    role = Role(account, name, "AROA" + uuid.uuid4().hex[:17].upper(), "/", f"arn:aws:iam::{account}:role/{name}", NOW, "{}")
    with store.write() as tx:
        tx.insert_entity("role", role)
    return role


def _read_role(store: Store, account: str, name: str) -> Any:
    with store.read() as tx:
        return tx.entity("role", account, name)


def test_last_used_invalidates_nothing_and_shows_at_once(store: Store, account: str) -> None:
    _role(store, account, "busy")
    with store.read() as tx:
        tx.entity("role", account, "busy")
        tx.tags(account, "role", "busy")
    sql = Statements(store)
    assert sql.during(lambda: _read_role(store, account, "busy")) == 0  # cached
    used = NOW + timedelta(hours=1)
    with store.write() as tx:
        tx.record_role_use(account, "busy", used, "eu-west-1")
        tx.record_key_use("AKIANOSUCHKEY0000000", used, "iam", "eu-west-1")

    def read() -> None:
        with store.read() as tx:
            role = tx.entity("role", account, "busy")
            tx.tags(account, "role", "busy")
        assert role.last_used_at == used and role.last_used_region == "eu-west-1"  # this process's row was patched

    assert sql.during(read) == 0


def test_a_write_invalidates_only_the_entity_it_touched(store: Store, account: str) -> None:
    _role(store, account, "kept")
    _role(store, account, "changed")
    _read_role(store, account, "kept")
    _read_role(store, account, "changed")
    sql = Statements(store)
    with store.write() as tx:
        tx.update_entity("role", account, "changed", description="new")
        tx.set_tags(account, "role", "changed", [Tag("k", "v")])
    assert sql.during(lambda: _read_role(store, account, "kept")) == 0
    assert _read_role(store, account, "changed").description == "new"  # at once, in this process
    with store.read() as tx:
        assert tx.tags(account, "role", "changed") == [Tag("k", "v")]


def test_another_process_sees_a_change_within_its_ttl_and_keeps_the_rest(store: Store, other: Store, account: str) -> None:
    _role(store, account, "kept")
    _role(store, account, "changed")
    assert _read_role(other, account, "kept") is not None
    assert _read_role(other, account, "changed").description is None
    assert _read_role(other, account, "gone-and-back") is None  # a miss is remembered too
    with store.write() as tx:
        tx.update_entity("role", account, "changed", description="new")
    _role(store, account, "gone-and-back")
    deadline = time.monotonic() + other.shared.ttl + 1.0
    while _read_role(other, account, "changed").description != "new":
        assert time.monotonic() < deadline, "another process's write not seen within the TTL"
        time.sleep(0.02)
    assert _read_role(other, account, "gone-and-back") is not None
    sql = Statements(other)
    assert sql.during(lambda: _read_role(other, account, "kept")) == 0  # untouched: still cached


def test_a_reader_behind_a_pruned_log_forgets_everything(store: Store, other: Store, account: str) -> None:
    _role(store, account, "r")
    assert _read_role(other, account, "r").description is None
    with store.write() as tx:
        tx.update_entity("role", account, "r", description="new")
    other.shared.seen = -5  # as if the log had been pruned past this reader: the first entry it reads is not seen + 1
    time.sleep(other.shared.ttl)
    assert _read_role(other, account, "r").description == "new"
    assert other.shared.stamp(("entity", "role", account, "unrelated")) == other.shared.clock


def test_a_read_begun_before_a_write_does_not_cache_what_it_read(store: Store, account: str) -> None:
    """A reader that read the old row before a write committed, and stores it after the write's
    invalidation, must not leave the old row in the cache."""
    _role(store, account, "raced")
    reader = store.read()
    with reader:
        since = reader.since
        assert since is not None
        with store.write() as tx:
            tx.update_entity("role", account, "raced", description="new")
        store.shared.keep_row(("entity", "role", account, "raced"), ("entity", "role", account, "raced"), "old row", since)
    assert _read_role(store, account, "raced").description == "new"


def test_generation_moves_only_with_the_accounts_principals(store: Store, account: str) -> None:
    with store.read() as tx:
        before = tx.generation(account)
    with store.write() as tx:
        tx.put_inline(account, "group", "g", "p", "{}")  # not a principal: keys stay resolved
    with store.read() as tx:
        assert tx.generation(account) == before
    _role(store, account, "new")
    with store.read() as tx:
        assert tx.generation(account) != before


def test_lru_evicts_one_at_a_time() -> None:
    lru: LRU[int, int] = LRU(3)
    for i in range(3):
        lru[i] = i
    assert lru.get(0) == 0  # used: now the most recent
    lru[3] = 3
    assert len(lru) == 3
    assert lru.get(1) is None  # the least recently used went, alone
    assert [lru.get(k) for k in (0, 2, 3)] == [0, 2, 3]


def test_lru_stays_bounded_under_threads() -> None:
    evicted: list[int] = []
    lru: LRU[int, int] = LRU(100, lambda k, _v: evicted.append(k))

    def fill(start: int) -> None:
        for i in range(start, start + 5000):
            lru[i] = i
            lru.get(i - 50)

    threads = [threading.Thread(target=fill, args=(n * 10_000,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(lru) == 100
    assert len(evicted) == 4 * 5000 - 100


def test_lru_refuses_no_room() -> None:
    with pytest.raises(ValueError):
        LRU(0)


def test_every_write_names_what_it_changes() -> None:
    """Each ``Tx._w`` call states its scopes (an empty tuple only for bookkeeping and the audit trail): a write
    that forgot would leave other processes' caches stale, so the rule is checked on the source, not left to a
    TypeError on a path no test happens to take."""
    import ast
    import inspect

    from iamroles.store import sql

    missing = [
        node.lineno
        for node in ast.walk(ast.parse(inspect.getsource(sql)))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "_w"
        and not any(k.arg == "scopes" for k in node.keywords)
    ]
    assert missing == []
