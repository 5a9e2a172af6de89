"""The store on SQLAlchemy 2 Core: SQLite (default) or PostgreSQL.

``Store.write()`` and ``Store.read()`` open a transaction and yield a
:class:`Tx` whose methods are the only queries there are. Either way a
request's writes commit together or not at all.

Concurrent writers: a write transaction on SQLite begins IMMEDIATE (one
writer at a time, no upgrade deadlocks). On PostgreSQL (READ COMMITTED)
writers run side by side, so a check and the write it guards (a quota, a
name not yet taken, a row still there) hold only if the transaction first
locks the row that owns what it counts: the operation reads its owner with
``for_update=True`` (``SELECT ... FOR UPDATE``) before counting, and every
statement after the lock sees what the previous holder committed. The owner
of an entity's policies, tags and keys is the entity's row; of per-account
counts (and of the root user's keys) the account's row. A name that is not
taken yet has no row to lock: its unique key decides, and the loser gets
:class:`Duplicate`. Locks are taken in one order, so writers never deadlock
on them: account, group, user, instance profile, role, then a managed
policy, OIDC provider or MFA device; the generation counter (``bump``) last.
"""
from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, overload

from sqlalchemy import Engine, Select, Table, and_, bindparam, create_engine, delete, event, exists, func, insert, literal, or_, select, tuple_, union_all, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.exc import DBAPIError, IntegrityError

from . import schema as t
from .aws_managed import CATALOGUE
from .records import (
    Account,
    AccessKey,
    Entity,
    Group,
    InlinePolicy,
    InstanceProfile,
    ManagedPolicy,
    LoginProfile,
    MfaDevice,
    OidcProvider,
    PasswordPolicy,
    PolicyVersion,
    Role,
    ServerCertificate,
    ServiceCredential,
    SigningCertificate,
    SigningKeyRecord,
    SshPublicKey,
    Tag,
    User,
)

__all__ = ["Store", "Shared", "Tx", "Writer", "ENTITY_TABLES", "Conflict", "Duplicate"]

ENTITY_TABLES: dict[str, tuple[Table, type[Entity], str]] = {
    "user": (t.users, User, "user_id"),
    "group": (t.groups, Group, "group_id"),
    "role": (t.roles, Role, "role_id"),
    "instance_profile": (t.instance_profiles, InstanceProfile, "instance_profile_id"),
}


# What ``Tx.count`` counts per account, and the kind a unique key belongs to.
COUNTED: dict[str, Table] = {
    "user": t.users, "group": t.groups, "role": t.roles, "instance_profile": t.instance_profiles,
    "policy": t.policies, "oidc": t.oidc_providers, "mfa": t.mfa_devices, "server_certificate": t.server_certificates,
    "saml": t.saml_providers,
}
_KIND_OF_TABLE = {table.name: kind for kind, table in COUNTED.items()}

UserCredential = SshPublicKey | ServiceCredential | SigningCertificate

# Users' credentials other than access keys and login profiles: kind -> (table, record, id column).
USER_CREDENTIALS: dict[str, tuple[Table, type, str]] = {
    "ssh": (t.ssh_public_keys, SshPublicKey, "key_id"),
    "service": (t.service_credentials, ServiceCredential, "credential_id"),
    "signing": (t.signing_certificates, SigningCertificate, "certificate_id"),
}


class Conflict(Exception):
    """A write collided with another transaction's: a deadlock, a serialisation
    failure, a row referred to that is gone, or (:class:`Duplicate`) a unique key."""


class Duplicate(Conflict):
    """A name (``kind``: user, group, role, instance_profile, policy, oidc, mfa, or
    a table's name) that another transaction took first; ``name`` as this one gave it."""

    def __init__(self, kind: str, name: str | None) -> None:
        super().__init__(f"{kind} {name!r} already exists")
        self.kind = kind
        self.name = name


_UNIQUE_VIOLATION = "23505"
_RETRYABLE = {"40001", "40P01"}  # serialization_failure, deadlock_detected


def _conflict(statement: Any, err: DBAPIError) -> Exception:
    """What a failed statement means to the caller (the error itself when it is no conflict)."""
    orig = err.orig
    state = getattr(orig, "sqlstate", None)  # psycopg; None on SQLite
    if isinstance(err, IntegrityError):
        unique = state == _UNIQUE_VIOLATION if state is not None else "UNIQUE constraint failed" in str(orig)
        table = getattr(statement, "table", None)
        if unique and table is not None:
            try:
                params = statement.compile().params
            except Exception:  # noqa: BLE001 - a name for the message only
                params = {}
            return Duplicate(_KIND_OF_TABLE.get(table.name, table.name), params.get("name") or params.get("url"))
        return Conflict(str(orig))
    if state in _RETRYABLE:
        return Conflict(str(orig))
    return err


def _record(cls: type, row: Any, renames: dict[str, str] | None = None) -> Any:
    data = dict(row._mapping)
    for src, dst in (renames or {}).items():
        data[dst] = data.pop(src)
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; every time we store is UTC.
    if value is not None and value.tzinfo is None:
        from datetime import timezone

        return value.replace(tzinfo=timezone.utc)
    return value


Key = tuple[str, ...]


def _from(cols: Sequence[Any], key: Key) -> ColumnElement[bool]:
    """Rows at or after ``key`` in the order of ``cols`` (lexicographic, as ``ORDER BY cols`` sorts them)."""
    if len(cols) == 1:
        return cols[0] >= key[0]  # type: ignore[no-any-return]
    # a row-value comparison, which both databases read as a range of an index on ``cols`` (an OR of
    # equalities would be a filter over every row before the page)
    return tuple_(*cols) >= tuple_(*key)


def _keyset(q: Select[Any], cols: Sequence[Any], after: Key | None, limit: int | None) -> Select[Any]:
    """``q`` in the order of ``cols``, from ``after`` on, at most ``limit`` rows: a page of a listing costs what
    the page holds, read along an index on ``cols`` (never the rows before it, however many there are)."""
    if after is not None:
        q = q.where(_from(cols, after))
    q = q.order_by(*cols)
    return q.limit(limit) if limit is not None else q


def _path_under(path: Any, prefix: str | None) -> ColumnElement[bool] | None:
    return path.startswith(prefix, autoescape=True) if prefix and prefix != "/" else None


# The hot read queries, built once: constructing Core expressions per call
# costs more than running them (profiled), and prebuilt statements hit
# SQLAlchemy's compiled cache directly.
_Q_GENERATION = select(t.generations.c.value).where(t.generations.c.account_id == bindparam("a"))
_Q_ACCOUNT = select(t.accounts).where(t.accounts.c.account_id == bindparam("a"))
_Q_ACCOUNT_LOCK = _Q_ACCOUNT.with_for_update()
_Q_ACCESS_KEY = select(t.access_keys).where(t.access_keys.c.access_key_id == bindparam("k"))
_Q_ENTITY = {
    kind: select(table).where(table.c.account_id == bindparam("a"), table.c.name_key == bindparam("n"))
    for kind, (table, _cls, _id) in ENTITY_TABLES.items()
}
_Q_ENTITY_LOCK = {kind: q.with_for_update() for kind, q in _Q_ENTITY.items()}
_Q_TAGS = (
    select(t.tags.c.key, t.tags.c.value)
    .where(t.tags.c.account_id == bindparam("a"), t.tags.c.resource_type == bindparam("rt"), t.tags.c.resource_key == bindparam("rk"))
    .order_by(t.tags.c.position, t.tags.c.key_fold)
)
_Q_INLINES = (
    select(t.inline_policies.c.name, t.inline_policies.c.document)
    .where(t.inline_policies.c.account_id == bindparam("a"), t.inline_policies.c.entity_type == bindparam("et"),
           t.inline_policies.c.entity_key == bindparam("ek"))
    .order_by(t.inline_policies.c.name_key)
)
_Q_ATTACHED = (
    select(t.attachments.c.policy_arn)
    .where(t.attachments.c.account_id == bindparam("a"), t.attachments.c.entity_type == bindparam("et"),
           t.attachments.c.entity_key == bindparam("ek"))
    .order_by(t.attachments.c.policy_arn)
)
_Q_GROUPS_OF = (
    select(t.group_members.c.group_key)
    .where(t.group_members.c.account_id == bindparam("a"), t.group_members.c.user_key == bindparam("u"))
    .order_by(t.group_members.c.group_key)
)


class Shared:
    """What read transactions share across requests, so a hot read touches no SQL.

    * Account generations: the counter every write bumps. A value read from
      the database is trusted for ``ttl`` seconds; a write through this
      process forgets every remembered value when it commits, so its own
      changes apply at once. Writes by another process (the CLI, another
      node on PostgreSQL) apply within ``ttl``.
    * Per account and generation, the entities and tags read under it.
      A new generation starts an empty snapshot.

    Values only move forward: a reader that read an older generation than
    one already known cannot bring the old one back.

    ``siblings``: a counter shared with the other worker processes of one
    server (``.value``, ``.advance()``; see ``iamroles.server.workers``).
    A commit here advances it, and a moved counter makes this process
    forget the generations it remembered: a write through any worker
    applies at once in all of them.
    """

    def __init__(self, ttl: float = 1.0, siblings: Any = None) -> None:
        self.ttl = ttl
        self._generations: dict[str, tuple[int, float]] = {}
        self._snapshots: dict[str, tuple[int, dict[tuple[Any, ...], Any]]] = {}
        self._lock = threading.Lock()
        self.siblings = siblings
        self._siblings_seen = siblings.value if siblings is not None else 0

    def generation(self, account_id: str) -> int | None:
        siblings = self.siblings
        if siblings is not None and siblings.value != self._siblings_seen:
            seen = siblings.value
            with self._lock:
                self._generations = {}
                self._siblings_seen = seen
            return None
        hit = self._generations.get(account_id)
        if hit is None or time.monotonic() - hit[1] >= self.ttl:
            return None
        return hit[0]

    def set_generation(self, account_id: str, value: int) -> None:
        with self._lock:
            hit = self._generations.get(account_id)
            if hit is None or value >= hit[0]:
                self._generations[account_id] = (value, time.monotonic())

    def snapshot(self, account_id: str, generation: int) -> dict[tuple[Any, ...], Any]:
        hit = self._snapshots.get(account_id)
        if hit is not None and hit[0] == generation:
            return hit[1]
        with self._lock:
            hit = self._snapshots.get(account_id)
            if hit is None or hit[0] < generation:
                hit = (generation, {})
                self._snapshots[account_id] = hit
            elif hit[0] != generation:
                return {}  # an older generation than the one already known: do not remember
            return hit[1]

    def clear(self) -> None:
        with self._lock:
            self._generations = {}
            self._snapshots = {}
        if self.siblings is not None:
            self.siblings.advance()  # seen here too at the next read: one generation read again, nothing missed


class Tx:
    """One transaction's queries.

    Reads of an entity and of the generation counter are remembered for the
    transaction (a request asks for its target more than once); any write
    through this Tx forgets them. A read transaction also consults the
    store's :class:`Shared` cache and opens its connection only when a read
    misses it.
    """

    def __init__(self, store: Store, conn: Connection | None, write: bool) -> None:
        self._store = store
        self._c = conn
        self._begun: Any = None
        self.write = write
        self.postgres = store.postgres
        self.shared = store.shared
        self._memo: dict[tuple[Any, ...], Any] = {}

    @property
    def c(self) -> Connection:
        if self._c is None:
            self._c = self._store.engine.connect()
            self._begun = self._c.begin()
        return self._c

    def __enter__(self) -> Tx:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._end(exc_type is None)

    def _end(self, ok: bool) -> None:
        """Finish a read transaction that opened a connection."""
        if self._c is None:
            return
        try:
            if self._begun is not None and self._begun.is_active:
                self._begun.commit() if ok else self._begun.rollback()
        finally:
            self._c.close()
            self._c = None

    def _w(self, statement: Any, params: Any = None) -> Any:
        """Run a write (every INSERT, UPDATE and DELETE comes here): what this
        transaction remembered may be stale now. A unique key taken by another
        transaction raises :class:`Duplicate`, another collision :class:`Conflict`."""
        self._memo.clear()
        return self._run(statement, params)

    def _lock(self, statement: Any, params: Any = None) -> Any:
        """Run a ``SELECT ... FOR UPDATE/SHARE`` (PostgreSQL only); a deadlock raises :class:`Conflict`.
        A lock may have waited for another transaction's commit: what this one remembered may be stale."""
        self._memo.clear()
        return self._run(statement, params)

    def _run(self, statement: Any, params: Any) -> Any:
        try:
            return self.c.execute(statement, params) if params is not None else self.c.execute(statement)
        except DBAPIError as err:
            mapped = _conflict(statement, err)
            if mapped is err:
                raise
            raise mapped from err

    # -- accounts and generations ------------------------------------------------
    def account(self, account_id: str, for_update: bool = False) -> Account | None:
        """``for_update``: lock the account's row (the owner of per-account counts) until the transaction ends."""
        if for_update and self.postgres:
            row = self._lock(_Q_ACCOUNT_LOCK, {"a": account_id}).first()
        else:
            row = self.c.execute(_Q_ACCOUNT, {"a": account_id}).first()
        return Account(row.account_id, row.partition, _utc(row.created_at)) if row else None  # type: ignore[arg-type]

    def accounts(self) -> list[Account]:
        rows = self.c.execute(select(t.accounts).order_by(t.accounts.c.created_at, t.accounts.c.account_id))
        return [Account(r.account_id, r.partition, _utc(r.created_at)) for r in rows]  # type: ignore[arg-type]

    def insert_account(self, account: Account) -> None:
        self._w(insert(t.accounts).values(account_id=account.account_id, partition=account.partition, created_at=account.created_at))
        self._w(insert(t.generations).values(account_id=account.account_id, value=0))

    def quotas(self, account_id: str) -> dict[str, int]:
        """The account's quota overrides by AWS quota name (a quota not here has its default)."""
        c = t.account_quotas.c
        return {r.name: int(r.value) for r in self.c.execute(select(c.name, c.value).where(c.account_id == account_id))}

    def set_quota(self, account_id: str, name: str, value: int | None) -> None:
        """Override one of the account's quotas; None: back to the default."""
        c = t.account_quotas.c
        self._w(delete(t.account_quotas).where(c.account_id == account_id, c.name == name))
        if value is not None:
            self._w(insert(t.account_quotas).values(account_id=account_id, name=name, value=value))

    def generation(self, account_id: str) -> int:
        key = ("generation", account_id)
        value = self._memo.get(key)
        if value is None:
            value = None if self.write else self.shared.generation(account_id)
            if value is None:
                value = int(self.c.execute(_Q_GENERATION, {"a": account_id}).scalar() or 0)
                if not self.write:
                    self.shared.set_generation(account_id, value)
            self._memo[key] = value
        return int(value)

    def _snapshot(self, account_id: str) -> dict[tuple[Any, ...], Any]:
        """What read transactions remember for the account's current generation (this Tx's memo when writing)."""
        if self.write:
            return self._memo
        return self.shared.snapshot(account_id, self.generation(account_id))

    def bump(self, account_id: str) -> None:
        """Mark the account's policies changed (invalidates compiled caches)."""
        self._w(update(t.generations).where(t.generations.c.account_id == account_id).values(value=t.generations.c.value + 1))

    # -- access keys ---------------------------------------------------------------
    def access_key(self, access_key_id: str) -> AccessKey | None:
        row = self.c.execute(_Q_ACCESS_KEY, {"k": access_key_id}).first()
        if row is None:
            return None
        key: AccessKey = _fix_times(_record(AccessKey, row))
        return key

    def access_keys(self, account_id: str, user_key: str | None) -> list[AccessKey]:
        c = t.access_keys.c
        cond = c.user_key.is_(None) if user_key is None else c.user_key == user_key
        rows = self.c.execute(select(t.access_keys).where(c.account_id == account_id, cond).order_by(c.created_at, c.access_key_id))
        return [_fix_times(_record(AccessKey, r)) for r in rows]

    def insert_access_key(self, key: AccessKey) -> None:
        self._w(insert(t.access_keys).values(**{f.name: getattr(key, f.name) for f in fields(AccessKey)}))

    def update_access_key(self, access_key_id: str, **values: Any) -> None:
        self._w(update(t.access_keys).where(t.access_keys.c.access_key_id == access_key_id).values(**values))

    def delete_access_key(self, access_key_id: str) -> None:
        self._w(delete(t.access_keys).where(t.access_keys.c.access_key_id == access_key_id))

    # -- users, groups, roles, instance profiles --------------------------------------
    @overload
    def entity(self, kind: Literal["user"], account_id: str, name: str, for_update: bool = False) -> User | None: ...
    @overload
    def entity(self, kind: Literal["group"], account_id: str, name: str, for_update: bool = False) -> Group | None: ...
    @overload
    def entity(self, kind: Literal["role"], account_id: str, name: str, for_update: bool = False) -> Role | None: ...
    @overload
    def entity(self, kind: Literal["instance_profile"], account_id: str, name: str, for_update: bool = False) -> InstanceProfile | None: ...
    @overload
    def entity(self, kind: str, account_id: str, name: str, for_update: bool = False) -> Entity | None: ...

    def entity(self, kind: str, account_id: str, name: str, for_update: bool = False) -> Entity | None:
        """The user, group, role or instance profile (``kind``) of that name (any case); its record's class is the
        kind's. ``for_update``: read the row afresh and lock it until the transaction ends."""
        _table, cls, id_col = ENTITY_TABLES[kind]
        key = ("entity", kind, account_id, name.lower())
        memo = self._snapshot(account_id)
        if not for_update and key in memo:
            remembered: Entity | None = memo[key]
            return remembered
        if for_update and self.postgres:
            row = self._lock(_Q_ENTITY_LOCK[kind], {"a": account_id, "n": name.lower()}).first()
        else:
            row = self.c.execute(_Q_ENTITY[kind], {"a": account_id, "n": name.lower()}).first()
        found: Entity | None = _fix_times(_record(cls, row, {id_col: "id"})) if row else None
        memo[key] = found
        return found

    @overload
    def entity_by_id(self, kind: Literal["user"], entity_id: str) -> User | None: ...
    @overload
    def entity_by_id(self, kind: Literal["role"], entity_id: str) -> Role | None: ...
    @overload
    def entity_by_id(self, kind: str, entity_id: str) -> Entity | None: ...

    def entity_by_id(self, kind: str, entity_id: str) -> Entity | None:
        table, cls, id_col = ENTITY_TABLES[kind]
        row = self.c.execute(select(table).where(table.c[id_col] == entity_id)).first()
        return _fix_times(_record(cls, row, {id_col: "id"})) if row else None

    def count(self, kind: str, account_id: str) -> int:
        """How many users, groups, roles, instance profiles, managed policies, OIDC providers, MFA devices or server
        certificates the account has."""
        table = COUNTED[kind]
        return int(self.c.execute(select(func.count()).select_from(table).where(table.c.account_id == account_id)).scalar() or 0)

    @overload
    def entities(self, kind: Literal["user"], account_id: str, path_prefix: str = "/", after: str | None = None,
                 limit: int | None = None) -> list[User]: ...
    @overload
    def entities(self, kind: Literal["group"], account_id: str, path_prefix: str = "/", after: str | None = None,
                 limit: int | None = None) -> list[Group]: ...
    @overload
    def entities(self, kind: Literal["role"], account_id: str, path_prefix: str = "/", after: str | None = None,
                 limit: int | None = None) -> list[Role]: ...
    @overload
    def entities(self, kind: Literal["instance_profile"], account_id: str, path_prefix: str = "/", after: str | None = None,
                 limit: int | None = None) -> list[InstanceProfile]: ...
    @overload
    def entities(self, kind: str, account_id: str, path_prefix: str = "/", after: str | None = None,
                 limit: int | None = None) -> list[Any]: ...

    def entities(self, kind: str, account_id: str, path_prefix: str = "/", after: str | None = None,
                 limit: int | None = None) -> list[Any]:
        """The account's entities of ``kind`` by name key (case-insensitive name), from ``after`` on, at most ``limit``."""
        table, cls, id_col = ENTITY_TABLES[kind]
        q = select(table).where(table.c.account_id == account_id)
        under = _path_under(table.c.path, path_prefix)
        if under is not None:
            q = q.where(under)
        rows = self.c.execute(_keyset(q, [table.c.name_key], None if after is None else (after,), limit))
        return [_fix_times(_record(cls, r, {id_col: "id"})) for r in rows]

    def _joined(self, kind: str, link: Table, link_col: str, where: Sequence[Any], after: str | None,
                limit: int | None) -> list[Any]:
        """The entities of ``kind`` a link table names (``link_col``: their key there), by name key."""
        table, cls, id_col = ENTITY_TABLES[kind]
        q = (select(table).join(link, and_(link.c.account_id == table.c.account_id, link.c[link_col] == table.c.name_key))
             .where(*where))
        rows = self.c.execute(_keyset(q, [link.c[link_col]], None if after is None else (after,), limit))
        return [_fix_times(_record(cls, r, {id_col: "id"})) for r in rows]

    def member_users(self, account_id: str, group_key: str, after: str | None = None, limit: int | None = None) -> list[User]:
        """A group's users by name key, from ``after`` on, at most ``limit``."""
        gm = t.group_members
        return self._joined("user", gm, "user_key", (gm.c.account_id == account_id, gm.c.group_key == group_key), after, limit)

    def user_groups(self, account_id: str, user_key: str, after: str | None = None, limit: int | None = None) -> list[Group]:
        """The groups a user is in, by name key, from ``after`` on, at most ``limit``."""
        gm = t.group_members
        return self._joined("group", gm, "group_key", (gm.c.account_id == account_id, gm.c.user_key == user_key), after, limit)

    def role_profiles(self, account_id: str, role_key: str, after: str | None = None,
                      limit: int | None = None) -> list[InstanceProfile]:
        """The instance profiles a role is in, by name key, from ``after`` on, at most ``limit``."""
        ipr = t.instance_profile_roles
        return self._joined("instance_profile", ipr, "profile_key", (ipr.c.account_id == account_id, ipr.c.role_key == role_key),
                            after, limit)

    def insert_entity(self, kind: str, record: Entity) -> None:
        table, _cls, id_col = ENTITY_TABLES[kind]
        values = {f.name: getattr(record, f.name) for f in fields(record)}
        values[id_col] = values.pop("id")
        values["name_key"] = record.name.lower()
        self._w(insert(table).values(**values))

    def insert_entities(self, kind: str, records: Sequence[Entity]) -> None:
        """Insert many entities of one kind in one statement (a bulk import: no quota, no validation)."""
        table, _cls, id_col = ENTITY_TABLES[kind]
        rows = []
        for record in records:
            values = {f.name: getattr(record, f.name) for f in fields(record)}
            values[id_col] = values.pop("id")
            values["name_key"] = record.name.lower()
            rows.append(values)
        if rows:
            self._w(insert(table), rows)

    def update_entity(self, kind: str, account_id: str, name: str, **values: Any) -> None:
        table = ENTITY_TABLES[kind][0]
        self._w(update(table).where(table.c.account_id == account_id, table.c.name_key == name.lower()).values(**values))

    def rename_entity(self, kind: str, account_id: str, old_key: str, new_name: str, new_path: str, new_arn: str) -> None:
        """Rename or move a user or group, with everything that refers to it."""
        table = ENTITY_TABLES[kind][0]
        new_key = new_name.lower()
        self._w(
            update(table).where(table.c.account_id == account_id, table.c.name_key == old_key)
            .values(name=new_name, name_key=new_key, path=new_path, arn=new_arn)
        )
        if new_key == old_key:
            return
        for ref, col, extra in (
            (t.attachments, "entity_key", (t.attachments.c.entity_type == kind,)),
            (t.inline_policies, "entity_key", (t.inline_policies.c.entity_type == kind,)),
            (t.tags, "resource_key", (t.tags.c.resource_type == kind,)),
        ):
            self._w(update(ref).where(ref.c.account_id == account_id, ref.c[col] == old_key, *extra).values({col: new_key}))
        if kind == "user":
            gm = t.group_members
            self._w(update(gm).where(gm.c.account_id == account_id, gm.c.user_key == old_key).values(user_key=new_key))
            ak = t.access_keys
            self._w(update(ak).where(ak.c.account_id == account_id, ak.c.user_key == old_key).values(user_key=new_key))
        if kind == "group":
            gm = t.group_members
            self._w(update(gm).where(gm.c.account_id == account_id, gm.c.group_key == old_key).values(group_key=new_key))

    def delete_entity(self, kind: str, account_id: str, name: str) -> None:
        table = ENTITY_TABLES[kind][0]
        key = name.lower()
        self._w(delete(table).where(table.c.account_id == account_id, table.c.name_key == key))
        self._w(delete(t.tags).where(t.tags.c.account_id == account_id, t.tags.c.resource_type == kind, t.tags.c.resource_key == key))

    # -- managed policies ----------------------------------------------------------------
    def policy(self, arn: str, for_update: bool = False, for_share: bool = False) -> ManagedPolicy | None:
        """``for_update``: lock the policy's row (the owner of its versions and tags); ``for_share``: only keep
        it from being deleted or changed (attaching it) until the transaction ends."""
        q = select(t.policies).where(t.policies.c.arn == arn)
        if (for_update or for_share) and self.postgres:
            row = self._lock(q.with_for_update(read=not for_update)).first()
        else:
            row = self.c.execute(q).first()
        return _fix_times(_record(ManagedPolicy, row)) if row else None

    def policy_by_name(self, account_id: str, name: str) -> ManagedPolicy | None:
        row = self.c.execute(select(t.policies).where(t.policies.c.account_id == account_id, t.policies.c.name_key == name.lower())).first()
        return _fix_times(_record(ManagedPolicy, row)) if row else None

    def policies(self, account_ids: Sequence[str], path_prefix: str = "/", *, after: Key | None = None,
                 limit: int | None = None, attached_in: str | None = None, boundary_in: str | None = None) -> list[ManagedPolicy]:
        """The managed policies of ``account_ids`` by (name key, owner), from ``after`` on, at most ``limit``;
        ``attached_in``: only those attached to a user, group or role of that account; ``boundary_in``: only those
        that are a permissions boundary of a user or role of that account.

        One ordered, limited query per owner, merged by the database: each reads at most ``limit`` rows along the
        owner's (account, name key) index, so a page costs the same whatever the owners hold."""
        p = t.policies
        parts = []
        for owner in account_ids:
            q = select(p).where(p.c.account_id == owner)
            under = _path_under(p.c.path, path_prefix)
            if under is not None:
                q = q.where(under)
            if attached_in is not None:
                a = t.attachments.c
                q = q.where(exists().where(a.policy_arn == p.c.arn, a.account_id == attached_in))
            if boundary_in is not None:
                q = q.where(or_(*(exists().where(e.c.account_id == boundary_in, e.c.permissions_boundary == p.c.arn)
                                  for e in (t.users, t.roles))))
            parts.append(_keyset(q, [p.c.name_key, p.c.account_id], after, limit).subquery())
        if not parts:
            return []
        merged = union_all(*(select(part) for part in parts)).subquery()
        q = select(merged).order_by(merged.c.name_key, merged.c.account_id)
        rows = self.c.execute(q.limit(limit) if limit is not None else q)
        return [_fix_times(_record(ManagedPolicy, r)) for r in rows]

    def insert_policy(self, policy: ManagedPolicy) -> None:
        values = {f.name: getattr(policy, f.name) for f in fields(ManagedPolicy)}
        values["name_key"] = policy.name.lower()
        self._w(insert(t.policies).values(**values))

    def update_policy(self, arn: str, **values: Any) -> None:
        self._w(update(t.policies).where(t.policies.c.arn == arn).values(**values))

    def delete_policy(self, arn: str) -> None:
        self._w(delete(t.policy_versions).where(t.policy_versions.c.policy_arn == arn))
        self._w(delete(t.policies).where(t.policies.c.arn == arn))
        self._w(delete(t.tags).where(t.tags.c.resource_type == "policy", t.tags.c.resource_key == arn))

    def policy_versions(self, arn: str) -> list[PolicyVersion]:
        if CATALOGUE.holds(arn):
            return CATALOGUE.versions(arn)
        c = t.policy_versions.c
        rows = self.c.execute(select(t.policy_versions).where(c.policy_arn == arn).order_by(c.created_at.desc(), c.version_id.desc()))
        return [_fix_times(_record(PolicyVersion, r)) for r in rows]

    def policy_version(self, arn: str, version_id: str) -> PolicyVersion | None:
        if CATALOGUE.holds(arn):
            return CATALOGUE.version(arn, version_id)
        c = t.policy_versions.c
        row = self.c.execute(select(t.policy_versions).where(c.policy_arn == arn, c.version_id == version_id)).first()
        return _fix_times(_record(PolicyVersion, row)) if row else None

    def insert_policy_version(self, version: PolicyVersion) -> None:
        self._w(insert(t.policy_versions).values(**{f.name: getattr(version, f.name) for f in fields(PolicyVersion)}))

    def delete_policy_version(self, arn: str, version_id: str) -> None:
        c = t.policy_versions.c
        self._w(delete(t.policy_versions).where(c.policy_arn == arn, c.version_id == version_id))

    def default_documents(self, arns: Sequence[str]) -> dict[str, tuple[ManagedPolicy, str]]:
        """Each policy with its default version's document, in one query (AWS's documents come from the catalogue)."""
        if not arns:
            return {}
        p, v = t.policies, t.policy_versions
        q = (
            select(p, v.c.document)
            .outerjoin(v, and_(v.c.policy_arn == p.c.arn, v.c.version_id == p.c.default_version))
            .where(p.c.arn.in_(list(arns)))
        )
        found = {}
        for r in self.c.execute(q):
            document = r.document if r.document is not None or not CATALOGUE.holds(r.arn) else CATALOGUE.document(r.arn, r.default_version)
            if document is not None:
                found[r.arn] = (_fix_times(_record(ManagedPolicy, r)), document)
        return found

    def sync_aws_managed(self, catalogue: Sequence[ManagedPolicy]) -> int:
        """Make account ``aws``'s policy rows those of ``catalogue`` (new ones added, changed default versions and
        dates taken); their documents are read from the catalogue, so rows of versions an older iamroles stored
        for them go. A row the catalogue no longer has stays (entities may have it attached). Returns how many
        rows changed."""
        c = t.policies.c
        stored = {r.arn: r for r in self.c.execute(select(c.arn, c.default_version, c.updated_at).where(c.account_id == "aws"))}
        new = [p for p in catalogue if p.arn not in stored]
        changed = [p for p in catalogue if p.arn in stored and (stored[p.arn].default_version != p.default_version
                                                                or _utc(stored[p.arn].updated_at) != p.updated_at)]
        if new:
            self._w(insert(t.policies), [{**{f.name: getattr(p, f.name) for f in fields(ManagedPolicy)}, "name_key": p.name.lower()}
                                         for p in new])
        for p in changed:
            self._w(update(t.policies).where(c.arn == p.arn).values(default_version=p.default_version, updated_at=p.updated_at))
        known = [p.arn for p in catalogue if p.arn in stored]
        if known:
            v = t.policy_versions.c
            self._w(delete(t.policy_versions).where(v.policy_arn.in_(known)))
        return len(new) + len(changed)

    # -- attachments ----------------------------------------------------------------------
    def attach(self, account_id: str, entity_type: str, entity_key: str, arn: str) -> bool:
        """Attach; False when it already was."""
        if arn in self.attached(account_id, entity_type, entity_key):
            return False
        self._w(insert(t.attachments).values(account_id=account_id, entity_type=entity_type, entity_key=entity_key, policy_arn=arn))
        return True

    def detach(self, account_id: str, entity_type: str, entity_key: str, arn: str) -> bool:
        c = t.attachments.c
        res = self._w(
            delete(t.attachments).where(c.account_id == account_id, c.entity_type == entity_type, c.entity_key == entity_key, c.policy_arn == arn)
        )
        return bool(res.rowcount)

    def attached(self, account_id: str, entity_type: str, entity_key: str) -> list[str]:
        return [r[0] for r in self.c.execute(_Q_ATTACHED, {"a": account_id, "et": entity_type, "ek": entity_key})]

    def attachments_of(self, arn: str) -> list[tuple[str, str, str]]:
        """(account, entity type, entity key) for every attachment of a policy."""
        c = t.attachments.c
        rows = self.c.execute(select(c.account_id, c.entity_type, c.entity_key).where(c.policy_arn == arn).order_by(c.entity_type, c.entity_key))
        return [(r.account_id, r.entity_type, r.entity_key) for r in rows]

    def attached_entities(self, arn: str, account_id: str, kinds: Sequence[str], path_prefix: str = "/",
                          after: Key | None = None, limit: int | None = None) -> list[tuple[str, Entity]]:
        """(kind, entity) for the users, groups and roles (of ``kinds``) of the account a policy is attached to, by
        (kind, name key), from ``after`` on, at most ``limit``: one limited query per kind, merged by the database."""
        a = t.attachments
        parts = []
        for kind in kinds:
            table, _cls, _id = ENTITY_TABLES[kind]
            q = (select(literal(kind).label("kind"), table.c.name_key)
                 .join(a, and_(a.c.account_id == table.c.account_id, a.c.entity_key == table.c.name_key))
                 .where(a.c.policy_arn == arn, a.c.account_id == account_id, a.c.entity_type == kind))
            under = _path_under(table.c.path, path_prefix)
            if under is not None:
                q = q.where(under)
            if after is not None:
                if kind < after[0]:
                    continue
                if kind == after[0]:
                    q = q.where(table.c.name_key >= after[1])
            parts.append(_keyset(q, [table.c.name_key], None, limit).subquery())
        if not parts:
            return []
        merged = union_all(*(select(part) for part in parts)).subquery()
        q = select(merged).order_by(merged.c.kind, merged.c.name_key)
        found = []
        for kind, key in self.c.execute(q.limit(limit) if limit is not None else q):
            entity = self.entity(kind, account_id, key)
            if entity is not None:
                found.append((kind, entity))
        return found

    def attachment_counts(self, arns: Sequence[str], account_id: str | None = None) -> dict[str, int]:
        """How many users, groups and roles (of ``account_id``, if given) have each policy attached."""
        c = t.attachments.c
        q = select(c.policy_arn, func.count()).where(c.policy_arn.in_(list(arns)))
        if account_id is not None:
            q = q.where(c.account_id == account_id)
        rows = self.c.execute(q.group_by(c.policy_arn))
        return {r[0]: int(r[1]) for r in rows}

    def boundary_counts(self, arns: Sequence[str], account_id: str) -> dict[str, int]:
        """How many users and roles of ``account_id`` have each policy as their permissions boundary."""
        counts: dict[str, int] = {}
        for table in (t.users, t.roles):
            c = table.c
            rows = self.c.execute(
                select(c.permissions_boundary, func.count())
                .where(c.account_id == account_id, c.permissions_boundary.in_(list(arns)))
                .group_by(c.permissions_boundary)
            )
            for arn, n in rows:
                counts[arn] = counts.get(arn, 0) + int(n)
        return counts

    def delete_attachments(self, account_id: str, entity_type: str, entity_key: str) -> None:
        c = t.attachments.c
        self._w(delete(t.attachments).where(c.account_id == account_id, c.entity_type == entity_type, c.entity_key == entity_key))

    # -- inline policies ------------------------------------------------------------------
    def inline(self, account_id: str, entity_type: str, entity_key: str, name: str) -> InlinePolicy | None:
        c = t.inline_policies.c
        row = self.c.execute(
            select(c.name, c.document).where(c.account_id == account_id, c.entity_type == entity_type, c.entity_key == entity_key, c.name_key == name.lower())
        ).first()
        return InlinePolicy(row.name, row.document) if row else None

    def inlines(self, account_id: str, entity_type: str, entity_key: str) -> list[InlinePolicy]:
        rows = self.c.execute(_Q_INLINES, {"a": account_id, "et": entity_type, "ek": entity_key})
        return [InlinePolicy(r.name, r.document) for r in rows]

    def inline_names(self, account_id: str, entity_type: str, entity_key: str, after: str | None = None,
                     limit: int | None = None) -> list[str]:
        """An entity's inline policy names by name key, from ``after`` on, at most ``limit`` (no documents read)."""
        c = t.inline_policies.c
        q = select(c.name).where(c.account_id == account_id, c.entity_type == entity_type, c.entity_key == entity_key)
        return [r[0] for r in self.c.execute(_keyset(q, [c.name_key], None if after is None else (after,), limit))]

    def put_inline(self, account_id: str, entity_type: str, entity_key: str, name: str, document: str) -> None:
        self.delete_inline(account_id, entity_type, entity_key, name)
        self._w(
            insert(t.inline_policies).values(
                account_id=account_id, entity_type=entity_type, entity_key=entity_key, name_key=name.lower(), name=name, document=document
            )
        )

    def delete_inline(self, account_id: str, entity_type: str, entity_key: str, name: str) -> bool:
        c = t.inline_policies.c
        res = self._w(
            delete(t.inline_policies).where(c.account_id == account_id, c.entity_type == entity_type, c.entity_key == entity_key, c.name_key == name.lower())
        )
        return bool(res.rowcount)

    def delete_inlines(self, account_id: str, entity_type: str, entity_key: str) -> None:
        c = t.inline_policies.c
        self._w(delete(t.inline_policies).where(c.account_id == account_id, c.entity_type == entity_type, c.entity_key == entity_key))

    # -- tags -----------------------------------------------------------------------------
    def tags(self, account_id: str, resource_type: str, resource_key: str) -> list[Tag]:
        key = ("tags", resource_type, resource_key)
        memo = {} if self.write else self._snapshot(account_id)  # a write may have just changed them
        found = memo.get(key)
        if found is None:
            rows = self.c.execute(_Q_TAGS, {"a": account_id, "rt": resource_type, "rk": resource_key})
            found = tuple(Tag(r.key, r.value) for r in rows)
            memo[key] = found
        return list(found)

    def set_tags(self, account_id: str, resource_type: str, resource_key: str, new: Sequence[Tag]) -> None:
        """Add or overwrite tags (keys compare case-insensitively, as IAM's do)."""
        c = t.tags.c
        where = (c.account_id == account_id, c.resource_type == resource_type, c.resource_key == resource_key)
        position = int(self.c.execute(select(func.coalesce(func.max(c.position), 0)).where(*where)).scalar() or 0)
        for tag in new:
            fold = tag.key.lower()
            res = self._w(update(t.tags).where(*where, c.key_fold == fold).values(key=tag.key, value=tag.value))
            if not res.rowcount:
                position += 1
                self._w(
                    insert(t.tags).values(
                        account_id=account_id, resource_type=resource_type, resource_key=resource_key,
                        key_fold=fold, key=tag.key, value=tag.value, position=position,
                    )
                )

    def remove_tags(self, account_id: str, resource_type: str, resource_key: str, keys: Sequence[str]) -> None:
        c = t.tags.c
        folds = [k.lower() for k in keys]
        self._w(
            delete(t.tags).where(c.account_id == account_id, c.resource_type == resource_type, c.resource_key == resource_key, c.key_fold.in_(folds))
        )

    # -- groups and instance profiles -----------------------------------------------------------
    def add_member(self, account_id: str, group_key: str, user_key: str) -> None:
        if user_key not in self.members(account_id, group_key):
            self._w(insert(t.group_members).values(account_id=account_id, group_key=group_key, user_key=user_key))

    def remove_member(self, account_id: str, group_key: str, user_key: str) -> bool:
        c = t.group_members.c
        res = self._w(delete(t.group_members).where(c.account_id == account_id, c.group_key == group_key, c.user_key == user_key))
        return bool(res.rowcount)

    def members(self, account_id: str, group_key: str) -> list[str]:
        c = t.group_members.c
        return [r[0] for r in self.c.execute(select(c.user_key).where(c.account_id == account_id, c.group_key == group_key).order_by(c.user_key))]

    def groups_of(self, account_id: str, user_key: str) -> list[str]:
        return [r[0] for r in self.c.execute(_Q_GROUPS_OF, {"a": account_id, "u": user_key})]

    def delete_memberships(self, account_id: str, *, user_key: str | None = None, group_key: str | None = None) -> None:
        c = t.group_members.c
        q = delete(t.group_members).where(c.account_id == account_id)
        q = q.where(c.user_key == user_key) if user_key is not None else q.where(c.group_key == group_key)
        self._w(q)

    def profile_roles(self, account_id: str, profile_key: str) -> list[str]:
        c = t.instance_profile_roles.c
        return [r[0] for r in self.c.execute(select(c.role_key).where(c.account_id == account_id, c.profile_key == profile_key))]

    def profiles_of_role(self, account_id: str, role_key: str) -> list[str]:
        c = t.instance_profile_roles.c
        return [r[0] for r in self.c.execute(select(c.profile_key).where(c.account_id == account_id, c.role_key == role_key).order_by(c.profile_key))]

    def add_profile_role(self, account_id: str, profile_key: str, role_key: str) -> None:
        self._w(insert(t.instance_profile_roles).values(account_id=account_id, profile_key=profile_key, role_key=role_key))

    def remove_profile_role(self, account_id: str, profile_key: str, role_key: str) -> bool:
        c = t.instance_profile_roles.c
        res = self._w(delete(t.instance_profile_roles).where(c.account_id == account_id, c.profile_key == profile_key, c.role_key == role_key))
        return bool(res.rowcount)

    # -- OIDC providers ------------------------------------------------------------------------------
    def oidc_provider(self, arn: str, for_update: bool = False) -> OidcProvider | None:
        """``for_update``: lock the provider's row (the owner of its client IDs and thumbprints) until the transaction ends."""
        q = select(t.oidc_providers).where(t.oidc_providers.c.arn == arn)
        row = self._lock(q.with_for_update()).first() if for_update and self.postgres else self.c.execute(q).first()
        return _oidc(row) if row else None

    def oidc_providers(self, account_id: str) -> list[OidcProvider]:
        c = t.oidc_providers.c
        return [_oidc(r) for r in self.c.execute(select(t.oidc_providers).where(c.account_id == account_id).order_by(c.arn))]

    def insert_oidc_provider(self, provider: OidcProvider) -> None:
        self._w(insert(t.oidc_providers).values(
            arn=provider.arn, account_id=provider.account_id, url=provider.url, client_ids=json.dumps(list(provider.client_ids)),
            thumbprints=json.dumps(list(provider.thumbprints)), jwks=provider.jwks, created_at=provider.created_at,
        ))

    def update_oidc_provider(self, arn: str, *, client_ids: Sequence[str] | None = None, thumbprints: Sequence[str] | None = None,
                             jwks: str | None = None) -> None:
        """Replace what is given of a provider's client IDs, thumbprints and JWKS document."""
        values: dict[str, Any] = {}
        if client_ids is not None:
            values["client_ids"] = json.dumps(list(client_ids))
        if thumbprints is not None:
            values["thumbprints"] = json.dumps(list(thumbprints))
        if jwks is not None:
            values["jwks"] = jwks
        if values:
            self._w(update(t.oidc_providers).where(t.oidc_providers.c.arn == arn).values(**values))

    def delete_oidc_provider(self, arn: str) -> None:
        self._w(delete(t.oidc_providers).where(t.oidc_providers.c.arn == arn))

    # -- SAML providers ------------------------------------------------------------------------------
    def saml_provider(self, arn: str, for_update: bool = False) -> dict[str, Any] | None:
        q = select(t.saml_providers).where(t.saml_providers.c.arn == arn)
        row = self._lock(q.with_for_update()).first() if for_update and self.postgres else self.c.execute(q).first()
        return _row_dict(row) if row else None

    def saml_providers(self, account_id: str) -> list[dict[str, Any]]:
        c = t.saml_providers.c
        return [_row_dict(r) for r in self.c.execute(select(t.saml_providers).where(c.account_id == account_id).order_by(c.arn))]

    def insert_saml_provider(self, **values: Any) -> None:
        self._w(insert(t.saml_providers).values(**values))

    def update_saml_provider(self, arn: str, **values: Any) -> None:
        self._w(update(t.saml_providers).where(t.saml_providers.c.arn == arn).values(**values))

    def delete_saml_provider(self, arn: str) -> None:
        self._w(delete(t.saml_providers).where(t.saml_providers.c.arn == arn))

    # -- MFA devices --------------------------------------------------------------------------------
    def mfa_device(self, serial: str, for_update: bool = False) -> MfaDevice | None:
        """``for_update``: lock the device's row (assigned once) until the transaction ends."""
        q = select(t.mfa_devices).where(t.mfa_devices.c.serial == serial)
        row = self._lock(q.with_for_update()).first() if for_update and self.postgres else self.c.execute(q).first()
        return _fix_times(_record(MfaDevice, row)) if row else None

    def mfa_devices(self, account_id: str, user_key: str | None = None, assigned: bool | None = None,
                    after: str | None = None, limit: int | None = None) -> list[MfaDevice]:
        """The account's (or a user's) virtual MFA devices by serial number, from ``after`` on, at most ``limit``."""
        c = t.mfa_devices.c
        q = select(t.mfa_devices).where(c.account_id == account_id)
        if user_key is not None:
            q = q.where(c.user_key == user_key)
        if assigned is True:
            q = q.where(c.user_key.is_not(None))
        elif assigned is False:
            q = q.where(c.user_key.is_(None))
        rows = self.c.execute(_keyset(q, [c.serial], None if after is None else (after,), limit))
        return [_fix_times(_record(MfaDevice, r)) for r in rows]

    def insert_mfa_device(self, device: MfaDevice) -> None:
        self._w(insert(t.mfa_devices).values(**{f.name: getattr(device, f.name) for f in fields(MfaDevice)}))

    def assign_mfa_device(self, serial: str, user_key: str | None, enabled_at: datetime | None) -> None:
        """Assign a device to a user (enabled then), or (None, None) take it back."""
        self._w(update(t.mfa_devices).where(t.mfa_devices.c.serial == serial).values(user_key=user_key, enabled_at=enabled_at))

    def set_mfa_drift(self, serial: str, drift: int) -> None:
        """Remember how many 30-second steps the device's clock runs ahead of ours (ResyncMFADevice)."""
        self._w(update(t.mfa_devices).where(t.mfa_devices.c.serial == serial).values(drift=drift))

    def delete_mfa_device(self, serial: str) -> None:
        self._w(delete(t.mfa_devices).where(t.mfa_devices.c.serial == serial))

    # -- signing keys -------------------------------------------------------------------------------
    def signing_keys(self) -> list[SigningKeyRecord]:
        """Every signing key, oldest first."""
        c = t.signing_keys.c
        rows = self.c.execute(select(c.key_id, c.sealed, c.created_at, c.retired_at).order_by(c.created_at, c.key_id))
        return [_fix_times(_record(SigningKeyRecord, r)) for r in rows]

    def insert_signing_key(self, key_id: str, sealed: bytes, created_at: datetime) -> None:
        self._w(insert(t.signing_keys).values(key_id=key_id, sealed=sealed, created_at=created_at))

    def retire_signing_keys(self, except_key: str, when: datetime) -> None:
        c = t.signing_keys.c
        self._w(update(t.signing_keys).where(c.key_id != except_key, c.retired_at.is_(None)).values(retired_at=when))

    def delete_signing_key(self, key_id: str) -> None:
        self._w(delete(t.signing_keys).where(t.signing_keys.c.key_id == key_id))

    # -- audit ----------------------------------------------------------------------------------
    def insert_audit(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            self._w(insert(t.audit_events), list(rows))

    def audit(self, *, account_id: str | None = None, event_name: str | None = None, principal_arn: str | None = None,
              errors_only: bool = False, since: datetime | None = None, limit: int = 100) -> list[str]:
        """Matching events' JSON records, newest first."""
        c = t.audit_events.c
        q = select(c.record)
        if account_id:
            q = q.where(c.account_id == account_id)
        if event_name:
            q = q.where(c.event_name == event_name)
        if principal_arn:
            q = q.where(c.principal_arn == principal_arn)
        if errors_only:
            q = q.where(c.error_code.is_not(None))
        if since:
            q = q.where(c.event_time >= since)
        return [r[0] for r in self.c.execute(q.order_by(c.id.desc()).limit(limit))]

    def audit_before(self, cutoff: datetime, limit: int) -> list[tuple[int, datetime, str]]:
        """The oldest events recorded before ``cutoff`` (at most ``limit``): (row id, time, JSON record), oldest first."""
        c = t.audit_events.c
        q = select(c.id, c.event_time, c.record).where(c.event_time < cutoff).order_by(c.event_time, c.id).limit(limit)
        return [(int(r.id), _utc(r.event_time), r.record) for r in self.c.execute(q)]  # type: ignore[misc]

    def delete_audit(self, ids: Sequence[int]) -> int:
        """Delete these events (by row id); how many there were."""
        if not ids:
            return 0
        return int(self._w(delete(t.audit_events).where(t.audit_events.c.id.in_(list(ids)))).rowcount or 0)

    # -- test mode ------------------------------------------------------------------------------
    def wipe(self, keep_access_keys: Sequence[str], keep_users: Sequence[tuple[str, str]]) -> None:
        """Delete all IAM state but the accounts, the named keys and users (with their attached policies) and AWS's
        managed policies: every table of the schema but those in ``RESET_KEEPS`` and the five kept in part here."""
        in_part = {t.users, t.access_keys, t.attachments, t.policies, t.policy_versions}
        for table in reversed(t.metadata.sorted_tables):
            if table.name not in t.RESET_KEEPS and table not in in_part:
                self._w(delete(table))
        self._w(delete(t.attachments).where(t.attachments.c.entity_type != "user"))
        self._w(delete(t.policy_versions).where(t.policy_versions.c.policy_arn.in_(select(t.policies.c.arn).where(t.policies.c.account_id != "aws"))))
        self._w(delete(t.policies).where(t.policies.c.account_id != "aws"))
        self._w(delete(t.access_keys).where(t.access_keys.c.access_key_id.not_in(list(keep_access_keys))))
        keep = {(a, u) for a, u in keep_users}
        for u in self.c.execute(select(t.users.c.account_id, t.users.c.name_key)).all():
            if (u[0], u[1]) not in keep:
                self._w(delete(t.users).where(t.users.c.account_id == u[0], t.users.c.name_key == u[1]))
                self.delete_attachments(u[0], "user", u[1])
        self._w(update(t.generations).values(value=t.generations.c.value + 1))

    # -- users' other credentials and server certificates ------------------------------------------
    # A user's credentials are keyed by the user's unique id: the owner (the user's row) is locked by the
    # operation before it counts them (see the module's docstring).
    def login_profile(self, account_id: str, user_id: str) -> LoginProfile | None:
        c = t.login_profiles.c
        row = self.c.execute(select(t.login_profiles).where(c.account_id == account_id, c.user_id == user_id)).first()
        return _fix_times(_record(LoginProfile, row)) if row else None

    def insert_login_profile(self, profile: LoginProfile) -> None:
        self._w(insert(t.login_profiles).values(**{f.name: getattr(profile, f.name) for f in fields(LoginProfile)}))

    def update_login_profile(self, account_id: str, user_id: str, **values: Any) -> None:
        c = t.login_profiles.c
        self._w(update(t.login_profiles).where(c.account_id == account_id, c.user_id == user_id).values(**values))

    def delete_login_profile(self, account_id: str, user_id: str) -> bool:
        c = t.login_profiles.c
        return bool(self._w(delete(t.login_profiles).where(c.account_id == account_id, c.user_id == user_id)).rowcount)

    def password_policy(self, account_id: str) -> PasswordPolicy | None:
        row = self.c.execute(select(t.password_policies).where(t.password_policies.c.account_id == account_id)).first()
        return _record(PasswordPolicy, row) if row else None

    def set_password_policy(self, policy: PasswordPolicy) -> None:
        """Replace the account's policy (UpdateAccountPasswordPolicy sets every setting; the caller locked the account)."""
        self.delete_password_policy(policy.account_id)
        self._w(insert(t.password_policies).values(**{f.name: getattr(policy, f.name) for f in fields(PasswordPolicy)}))

    def delete_password_policy(self, account_id: str) -> bool:
        return bool(self._w(delete(t.password_policies).where(t.password_policies.c.account_id == account_id)).rowcount)

    @overload
    def user_credential(self, kind: Literal["ssh"], credential_id: str) -> SshPublicKey | None: ...
    @overload
    def user_credential(self, kind: Literal["service"], credential_id: str) -> ServiceCredential | None: ...
    @overload
    def user_credential(self, kind: Literal["signing"], credential_id: str) -> SigningCertificate | None: ...
    @overload
    def user_credential(self, kind: str, credential_id: str) -> UserCredential | None: ...

    def user_credential(self, kind: str, credential_id: str) -> UserCredential | None:
        """An SSH public key (``ssh``), service-specific credential (``service``) or signing certificate (``signing``)."""
        table, cls, id_col = USER_CREDENTIALS[kind]
        row = self.c.execute(select(table).where(table.c[id_col] == credential_id)).first()
        return _fix_times(_record(cls, row)) if row else None

    @overload
    def user_credentials(self, kind: Literal["ssh"], account_id: str, user_id: str | None = None) -> list[SshPublicKey]: ...
    @overload
    def user_credentials(self, kind: Literal["service"], account_id: str, user_id: str | None = None) -> list[ServiceCredential]: ...
    @overload
    def user_credentials(self, kind: Literal["signing"], account_id: str, user_id: str | None = None) -> list[SigningCertificate]: ...
    @overload
    def user_credentials(self, kind: str, account_id: str, user_id: str | None = None) -> list[Any]: ...

    def user_credentials(self, kind: str, account_id: str, user_id: str | None = None) -> list[Any]:
        """Of one user, or (``user_id`` None) of the account's users; oldest first."""
        table, cls, id_col = USER_CREDENTIALS[kind]
        q = select(table).where(table.c.account_id == account_id)
        if user_id is not None:
            q = q.where(table.c.user_id == user_id)
        when = table.c.uploaded_at if "uploaded_at" in table.c else table.c.created_at
        return [_fix_times(_record(cls, r)) for r in self.c.execute(q.order_by(when, table.c[id_col]))]

    def insert_user_credential(self, kind: str, record: Any) -> None:
        table, cls, _id = USER_CREDENTIALS[kind]
        self._w(insert(table).values(**{f.name: getattr(record, f.name) for f in fields(cls)}))

    def update_user_credential(self, kind: str, credential_id: str, **values: Any) -> None:
        table, _cls, id_col = USER_CREDENTIALS[kind]
        self._w(update(table).where(table.c[id_col] == credential_id).values(**values))

    def delete_user_credential(self, kind: str, credential_id: str) -> None:
        table, _cls, id_col = USER_CREDENTIALS[kind]
        self._w(delete(table).where(table.c[id_col] == credential_id))

    def server_certificate(self, account_id: str, name: str, for_update: bool = False) -> ServerCertificate | None:
        """``for_update``: lock its row (the owner of its tags) until the transaction ends."""
        c = t.server_certificates.c
        q = select(t.server_certificates).where(c.account_id == account_id, c.name_key == name.lower())
        row = self._lock(q.with_for_update()).first() if for_update and self.postgres else self.c.execute(q).first()
        return _fix_times(_record(ServerCertificate, row, {"server_certificate_id": "id"})) if row else None

    def server_certificates(self, account_id: str, path_prefix: str = "/") -> list[ServerCertificate]:
        c = t.server_certificates.c
        q = select(t.server_certificates).where(c.account_id == account_id)
        if path_prefix and path_prefix != "/":
            q = q.where(c.path.startswith(path_prefix, autoescape=True))
        rows = self.c.execute(q.order_by(c.name_key))
        return [_fix_times(_record(ServerCertificate, r, {"server_certificate_id": "id"})) for r in rows]

    def insert_server_certificate(self, cert: ServerCertificate) -> None:
        values = {f.name: getattr(cert, f.name) for f in fields(ServerCertificate)}
        values["server_certificate_id"] = values.pop("id")
        values["name_key"] = cert.name.lower()
        self._w(insert(t.server_certificates).values(**values))

    def move_server_certificate(self, account_id: str, old_key: str, name: str, path: str, arn: str) -> None:
        """A new name and/or path (UpdateServerCertificate), its tags following the name."""
        c = t.server_certificates.c
        self._w(update(t.server_certificates).where(c.account_id == account_id, c.name_key == old_key)
                .values(name=name, name_key=name.lower(), path=path, arn=arn))
        if name.lower() != old_key:
            tc = t.tags.c
            self._w(update(t.tags).where(tc.account_id == account_id, tc.resource_type == "server_certificate",
                                         tc.resource_key == old_key).values(resource_key=name.lower()))

    def delete_server_certificate(self, account_id: str, key: str) -> None:
        c, tc = t.server_certificates.c, t.tags.c
        self._w(delete(t.server_certificates).where(c.account_id == account_id, c.name_key == key))
        self._w(delete(t.tags).where(tc.account_id == account_id, tc.resource_type == "server_certificate", tc.resource_key == key))


def _row_dict(row: Any) -> dict[str, Any]:
    """A row as a dict, times in UTC (SAML providers' rows: not typed yet)."""
    return {k: (_utc(v) if isinstance(v, datetime) else v) for k, v in row._mapping.items()}


def _oidc(row: Any) -> OidcProvider:
    return OidcProvider(row.arn, row.account_id, row.url, tuple(json.loads(row.client_ids)), tuple(json.loads(row.thumbprints)),
                        row.jwks, _utc(row.created_at))  # type: ignore[arg-type]


def _fix_times(record: Any) -> Any:
    changes = {}
    for f in fields(record):
        v = getattr(record, f.name)
        if isinstance(v, datetime) and v.tzinfo is None:
            changes[f.name] = _utc(v)
    if not changes:
        return record
    from dataclasses import replace

    return replace(record, **changes)


class Store:
    """A database: open it, migrate it, run transactions on it."""

    def __init__(self, url: str, cache_ttl: float = 1.0, siblings: Any = None) -> None:
        """``cache_ttl``: how long a generation read from the database is trusted; ``siblings``: the counter
        shared with the server's other worker processes (see :class:`Shared`)."""
        self.url = url
        self.postgres = url.startswith("postgresql")
        if url.startswith("sqlite"):
            self.engine: Engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
            _sqlite_setup(self.engine)
        else:
            self.engine = create_engine(url, pool_size=16, max_overflow=16, pool_pre_ping=True)
        self.shared = Shared(cache_ttl, siblings)

    @classmethod
    def sqlite_file(cls, path: Path) -> Store:
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(f"sqlite+pysqlite:///{path}")

    def migrate(self) -> None:
        from .migrate import upgrade

        upgrade(self.engine)

    @contextmanager
    def write(self, invalidate: bool = True) -> Iterator[Tx]:
        """A write transaction. ``invalidate``: it may change what reads see (all but the audit trail's)."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(iamroles_write=True)
            with conn.begin():
                yield Tx(self, conn, True)
        if invalidate:
            self.shared.clear()

    def read(self) -> Tx:
        """A read transaction (``with store.read() as tx``); it connects only if a read misses the shared cache."""
        return Tx(self, None, False)

    @contextmanager
    def audit_prune_lock(self) -> Iterator[bool]:
        """Whether this process may prune the audit trail now: True for one holder at a time across every
        process on the database (PostgreSQL: a session advisory lock on a connection of its own; SQLite, whose
        processes share one machine: an exclusive ``flock`` on ``DATABASE-FILE.prune-lock``), False at once
        while another holds it. It locks no table: requests go on meanwhile."""
        if self.postgres:
            with self.engine.connect() as conn:
                held = bool(conn.execute(select(func.pg_try_advisory_lock(_PRUNE_LOCK_KEY))).scalar())
                conn.commit()
                try:
                    yield held
                finally:
                    if held:
                        conn.execute(select(func.pg_advisory_unlock(_PRUNE_LOCK_KEY)))
                        conn.commit()
            return
        import fcntl

        database = self.engine.url.database
        if not database or database == ":memory:":  # one process has it: nobody else can prune
            yield True
            return
        fd = os.open(f"{database}.prune-lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)  # closing releases the lock

    def writer(self, synced: bool = True) -> Writer:
        """Write transactions on a connection of their own, for one thread that writes often (the audit
        trail's): no pool checkout per transaction, half the cost of :meth:`write` (measured).

        ``synced=False`` (SQLite): its commits are not fsynced one by one (``synchronous=NORMAL`` in WAL
        mode): they survive any crash of this process, and reach the disk with the next synced commit or
        checkpoint; an OS crash or power cut before that can lose them. PostgreSQL commits as configured."""
        return Writer(self, synced)

    def close(self) -> None:
        self.engine.dispose()


# The advisory lock that one audit pruner holds at a time on PostgreSQL (an arbitrary 64-bit key: "iamrprun").
_PRUNE_LOCK_KEY = 0x69616D7270_72756E


class Writer:
    """A connection kept for one thread's write transactions; after a failed one it is replaced."""

    def __init__(self, store: Store, synced: bool = True) -> None:
        self._store = store
        self._synced = synced
        self._conn: Connection | None = None

    @contextmanager
    def write(self) -> Iterator[Tx]:
        """A write transaction that changes nothing reads cache (it invalidates nothing)."""
        if self._conn is None:
            conn = self._store.engine.connect()
            if not self._synced and not self._store.postgres:
                # outside any transaction (SQLite refuses to change it inside one); this connection only
                conn.connection.dbapi_connection.execute("PRAGMA synchronous=NORMAL")  # type: ignore[union-attr]
            self._conn = conn.execution_options(iamroles_write=True)
        try:
            with self._conn.begin():
                yield Tx(self._store, self._conn, True)
        except BaseException:
            self.close()  # the connection may be what failed
            raise

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001  (a broken connection is dropped either way)
                pass


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        if conn.get_execution_options().get("iamroles_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")
