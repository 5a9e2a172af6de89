"""Store-level fixtures: every test here runs on SQLite and on PostgreSQL (a database of this package's own)."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from iamroles.store import Account, Store
from tests.server.conftest import fresh_pg_database

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture(scope="package")
def store_pg_database() -> Iterator[str]:
    with fresh_pg_database("iamroles_store_") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    url = request.getfixturevalue("store_pg_database") if request.param == "postgresql" else f"sqlite:///{tmp_path}/store.db"
    s = Store(url)
    s.migrate()
    yield s
    s.close()


def new_account(store: Store) -> str:
    account_id = str(uuid.uuid4().int)[:12]
    with store.write() as tx:
        tx.insert_account(Account(account_id, "aws", NOW))
    return account_id


@pytest.fixture
def account(store: Store) -> str:
    return new_account(store)
