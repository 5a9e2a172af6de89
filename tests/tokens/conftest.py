"""A node as the server builds one (``server.app``): a SQLite store, a master key, the key ring of signing keys
(``sts.keys.KeyRing``) on a clock the test moves, and the ``KeyResolver`` that opens session tokens on requests.
The store holds one account and the role the test claims are for (``helpers.claims``)."""
from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from iamroles.auth.principal import KeyResolver
from iamroles.store import Account, Role, Store
from iamroles.sts.keys import KeyRing
from iamroles.tokens import MasterKey

from .helpers import ACCOUNT, DURING, ROLE_ARN, ROLE_ID, ROLE_NAME


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: DURING)  # helpers' sessions are live

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Node:
    store: Store
    master_key: MasterKey
    clock: Clock
    ring: KeyRing
    resolver: KeyResolver

    def resolve(self, access_key_id: str, token: str, now: datetime | None = None) -> object:
        with self.store.read() as tx:
            return self.resolver.resolve_session(tx, access_key_id, token, now or self.clock(), self.ring)


def make_store(path: Path) -> Store:
    store = Store.sqlite_file(path / "iamroles.sqlite")
    store.migrate()
    when = datetime(2024, 1, 1, tzinfo=UTC)
    with store.write() as tx:
        tx.insert_account(Account(ACCOUNT, "aws", when))
        tx.insert_entity("role", Role(ACCOUNT, ROLE_NAME, ROLE_ID, "/", ROLE_ARN, when, trust_policy="{}"))
    return store


def make_node(store: Store, master_key: MasterKey, clock: Clock | None = None) -> Node:
    clock = clock or Clock()
    return Node(store, master_key, clock, KeyRing(store, master_key, clock), KeyResolver(master_key))


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    """A fresh node on a store of its own (its key ring starts with one key)."""
    n = make_node(make_store(tmp_path), MasterKey(secrets.token_bytes(32)))
    yield n
    n.store.engine.dispose()


@pytest.fixture(scope="module")
def shared_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """One node for a module's property tests (hypothesis runs many examples against it)."""
    n = make_node(make_store(tmp_path_factory.mktemp("tokens")), MasterKey(secrets.token_bytes(32)))
    yield n
    n.store.engine.dispose()
