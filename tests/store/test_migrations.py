"""The Alembic migrations build exactly the schema of iamroles.store.schema, on SQLite and PostgreSQL: any table,
column, type, nullability, index or constraint that one has and the other lacks fails here."""
from __future__ import annotations

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from iamroles.store import Store
from iamroles.store.migrate import alembic_config
from iamroles.store.schema import metadata


def _differences(store: Store) -> list[Any]:
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        return [d for d in compare_metadata(context, metadata) if not _alembic_own(d)]


def _alembic_own(diff: Any) -> bool:
    """Alembic's version table is the migrations' bookkeeping, not the schema."""
    return isinstance(diff, tuple) and diff[0] == "remove_table" and diff[1].name == "alembic_version"


def test_migrations_build_the_schema(store: Store) -> None:
    assert _differences(store) == []


def test_downgrade_to_nothing_and_back(store: Store) -> None:
    """Every migration's downgrade undoes it: down to the empty database, and up again to the same schema."""
    cfg = alembic_config()
    with store.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
        conn.commit()
        leftover = [t for t in MigrationContext.configure(conn).impl.connection.dialect.get_table_names(conn)  # type: ignore[union-attr]
                    if t != "alembic_version"]
    assert leftover == []
    store.migrate()
    assert _differences(store) == []
