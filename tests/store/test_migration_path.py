"""Upgrading keeps the data: a database made by the first release's schema (migration 0001), with an account, a
user and a role in it, migrated to head on SQLite and PostgreSQL, reads back the same, has exactly the head schema,
and takes writes (what `iamroles serve` or `iamroles init` do at start on an older database)."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from iamroles.store import Store
from iamroles.store.migrate import upgrade
from tests.server.conftest import fresh_pg_database
from tests.store.ops import TRUST, call
from tests.store.test_migrations import _differences

ACCOUNT = "123456789012"
WHEN = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def old_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        store = Store(f"sqlite:///{tmp_path}/old.db")
        yield store
        store.close()
        return
    with fresh_pg_database("iamroles_upgrade_") as url:
        store = Store(url)
        yield store
        store.close()


def test_a_0001_database_with_data_migrates_to_head(old_store: Store) -> None:
    upgrade(old_store.engine, "0001")
    with old_store.engine.begin() as conn:
        conn.execute(text("INSERT INTO accounts (account_id, partition, created_at) VALUES (:a, 'aws', :t)"), {"a": ACCOUNT, "t": WHEN})
        conn.execute(text("INSERT INTO users (account_id, name_key, name, user_id, path, arn, created_at) "
                          "VALUES (:a, 'alice', 'Alice', 'AIDAOLDRELEASE000001', '/team/', :arn, :t)"),
                     {"a": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:user/team/Alice", "t": WHEN})
        conn.execute(text("INSERT INTO roles (account_id, name_key, name, role_id, path, arn, created_at, trust_policy, description, "
                          "max_session_duration) VALUES (:a, 'deploy', 'Deploy', 'AROAOLDRELEASE000001', '/', :arn, :t, :trust, "
                          "'from 0.0', 7200)"),
                     {"a": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:role/Deploy", "t": WHEN, "trust": TRUST})
    old_store.migrate()  # to head, as a start does
    assert _differences(old_store) == []
    with old_store.read() as tx:
        assert [a.account_id for a in tx.accounts()] == [ACCOUNT]
        user = tx.entity("user", ACCOUNT, "alice")
        role = tx.entity("role", ACCOUNT, "DEPLOY")
    assert user is not None and (user.name, user.path, user.id) == ("Alice", "/team/", "AIDAOLDRELEASE000001")
    assert role is not None and role.trust_policy == TRUST and role.max_session_duration == 7200
    assert role.created_at.replace(tzinfo=UTC) == WHEN
    # the migrated database works: through the operations, reads and writes
    got = call(old_store, ACCOUNT, "GetRole", RoleName="Deploy")["Role"]
    assert got["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/Deploy" and got["Description"] == "from 0.0"
    call(old_store, ACCOUNT, "CreateRole", RoleName="after-upgrade", AssumeRolePolicyDocument=TRUST)
    names = [r["RoleName"] for r in call(old_store, ACCOUNT, "ListRoles")["Roles"]]
    assert names == ["after-upgrade", "Deploy"]  # listed by name, case-insensitively
    assert [u["UserName"] for u in call(old_store, ACCOUNT, "ListUsers")["Users"]] == ["Alice"]
