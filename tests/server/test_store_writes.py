"""The store's write path on both backends: every write forgets what the transaction remembered,
and a unique key taken by another transaction is a ``Duplicate`` naming what was taken."""
from __future__ import annotations

import ast
import inspect
import textwrap
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from iamroles.store import Account, Conflict, Duplicate, ManagedPolicy, OidcProvider, PolicyVersion, Role, Store, Tx, User

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    url = request.getfixturevalue("own_pg_database") if request.param == "postgresql" else f"sqlite:///{tmp_path}/store.db"
    s = Store(url)
    s.migrate()
    yield s
    s.close()


@pytest.fixture
def account(store: Store) -> str:
    account_id = str(uuid.uuid4().int)[:12]
    with store.write() as tx:
        tx.insert_account(Account(account_id, "aws", NOW))
    return account_id


def _user(account: str, name: str, path: str = "/") -> User:
    return User(account, name, "AIDA" + uuid.uuid4().hex[:17].upper(), path, f"arn:aws:iam::{account}:user{path}{name}", NOW)


# -- every write goes through Tx._w, which forgets the transaction's memo ------------------------------
_DML = {"insert", "update", "delete"}


def _builds_dml(node: ast.AST, assigned: dict[str, list[ast.AST]]) -> bool:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) and sub.func.id in _DML:
            return True
        if isinstance(sub, ast.Name) and any(_builds_dml(v, {}) for v in assigned.get(sub.id, [])):
            return True
    return False


def test_every_write_goes_through_w() -> None:
    """No Tx method hands an INSERT, UPDATE or DELETE to the connection but ``_w``."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(Tx)))
    offenders = []
    for fn in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name != "_w"):
        assigned: dict[str, list[ast.AST]] = {}
        for a in (n for n in ast.walk(fn) if isinstance(n, ast.Assign)):
            for target in a.targets:
                if isinstance(target, ast.Name):
                    assigned.setdefault(target.id, []).append(a.value)
        for call in (n for n in ast.walk(fn) if isinstance(n, ast.Call)):
            f = call.func
            is_execute = (isinstance(f, ast.Attribute) and f.attr in ("execute", "exec_driver_sql")
                          and isinstance(f.value, ast.Attribute) and f.value.attr in ("c", "_c"))
            if is_execute and call.args and _builds_dml(call.args[0], assigned):
                offenders.append(fn.name)
    assert offenders == []


def test_a_write_moves_the_generation_for_the_same_transaction(store: Store, account: str) -> None:
    with store.write() as tx:
        before = tx.generation(account)
        tx.insert_entity("user", _user(account, "generation"))
        after = tx.generation(account)
        assert after != before
        assert tx.generation(account) != after  # nothing derived after a write is ever reused
    with store.read() as tx:
        assert tx.generation(account) not in (before, after)


def test_a_move_is_seen_by_the_same_transaction(store: Store, account: str) -> None:
    with store.write() as tx:
        tx.insert_entity("user", _user(account, "mover"))
    with store.write() as tx:
        assert tx.entity("user", account, "mover").path == "/"  # remembered
        tx.rename_entity("user", account, "mover", "mover", "/moved/", f"arn:aws:iam::{account}:user/moved/mover")
        assert tx.entity("user", account, "mover").path == "/moved/"


def test_a_rename_is_seen_by_the_same_transaction(store: Store, account: str) -> None:
    with store.write() as tx:
        tx.insert_entity("user", _user(account, "before"))
    with store.write() as tx:
        assert tx.entity("user", account, "after") is None  # remembered: not there
        tx.rename_entity("user", account, "before", "After", "/", f"arn:aws:iam::{account}:user/After")
        assert tx.entity("user", account, "after").name == "After"
        assert tx.entity("user", account, "before") is None


# -- unique keys -------------------------------------------------------------------------------------
def test_a_taken_name_is_a_duplicate_naming_it(store: Store, account: str) -> None:
    with store.write() as tx:
        tx.insert_entity("role", Role(account, "Admin", "AROA1" + uuid.uuid4().hex[:16], "/", f"arn:aws:iam::{account}:role/Admin", NOW))
    with pytest.raises(Duplicate) as exc, store.write() as tx:
        tx.insert_entity("role", Role(account, "ADMIN", "AROA2" + uuid.uuid4().hex[:16], "/x/", f"arn:aws:iam::{account}:role/x/ADMIN", NOW))
    assert (exc.value.kind, exc.value.name) == ("role", "ADMIN")
    with store.read() as tx:  # nothing of the refused transaction was kept
        assert tx.entity("role", account, "admin").name == "Admin"


def test_a_rename_onto_a_taken_name_is_a_duplicate(store: Store, account: str) -> None:
    with store.write() as tx:
        tx.insert_entity("user", _user(account, "alice"))
        tx.insert_entity("user", _user(account, "bob"))
    with pytest.raises(Duplicate) as exc, store.write() as tx:
        tx.rename_entity("user", account, "bob", "Alice", "/", f"arn:aws:iam::{account}:user/Alice")
    assert (exc.value.kind, exc.value.name) == ("user", "Alice")


def test_duplicate_policies_and_providers(store: Store, account: str) -> None:
    arn = f"arn:aws:iam::{account}:policy/p"
    policy = ManagedPolicy(arn, account, "p", "ANPA" + uuid.uuid4().hex[:17], "/", None, "v1", 2, NOW, NOW)
    provider = OidcProvider(f"arn:aws:iam::{account}:oidc-provider/idp.example.com", account, "idp.example.com", (), (), None, NOW)
    with store.write() as tx:
        tx.insert_policy(policy)
        tx.insert_oidc_provider(provider)
    with pytest.raises(Duplicate) as exc, store.write() as tx:
        tx.insert_policy(ManagedPolicy(f"arn:aws:iam::{account}:policy/other/P", account, "P", "ANPA" + uuid.uuid4().hex[:17],
                                       "/other/", None, "v1", 2, NOW, NOW))
    assert (exc.value.kind, exc.value.name) == ("policy", "P")
    with pytest.raises(Duplicate) as exc, store.write() as tx:
        tx.insert_oidc_provider(provider)
    assert (exc.value.kind, exc.value.name) == ("oidc", "idp.example.com")


def test_a_row_gone_is_a_conflict_not_a_duplicate(store: Store, account: str) -> None:
    with pytest.raises(Conflict) as exc, store.write() as tx:
        tx.insert_policy_version(PolicyVersion(f"arn:aws:iam::{account}:policy/gone", "v2", "{}", NOW))
    assert not isinstance(exc.value, Duplicate)
