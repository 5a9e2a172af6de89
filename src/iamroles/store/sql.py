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
policy, OIDC provider or MFA device; the change log's counter (at commit, see ``Shared``) last.
"""
from __future__ import annotations

import itertools
import json
import os
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, overload

from sqlalchemy import (
    Engine,
    Select,
    Table,
    and_,
    bindparam,
    create_engine,
    delete,
    event,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from . import schema as t
from .aws_managed import AWS_OWNERS, CATALOGUE
from .lru import LRU
from .records import (
    AccessKey,
    Account,
    Entity,
    Group,
    InlinePolicy,
    InstanceProfile,
    JwtKeyRecord,
    LoginProfile,
    ManagedPolicy,
    MfaDevice,
    OidcProvider,
    OutboundFederation,
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

__all__ = ["Store", "Shared", "Tx", "Writer", "ENTITY_TABLES", "Conflict", "Duplicate", "Scope", "EVERYTHING", "org_scope", "org_member_scope",
           "entity_scope", "policy_scope", "principals_scope"]

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
            return Duplicate(_KIND_OF_TABLE.get(table.name, table.name), params.get("name") or params.get("url") or params.get("alias"))
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

        return value.replace(tzinfo=UTC)
    return value


Key = tuple[str, ...]


def _from(cols: Sequence[Any], key: Key, strict: bool = False) -> ColumnElement[bool]:
    """Rows at or after ``key`` (``strict``: after it only) in the order of ``cols`` (lexicographic, as
    ``ORDER BY cols`` sorts them)."""
    if len(cols) == 1:
        return (cols[0] > key[0]) if strict else (cols[0] >= key[0])  # type: ignore[no-any-return]
    # a row-value comparison, which both databases read as a range of an index on ``cols`` (an OR of
    # equalities would be a filter over every row before the page)
    return (tuple_(*cols) > tuple_(*key)) if strict else (tuple_(*cols) >= tuple_(*key))


def _keyset(q: Select[Any], cols: Sequence[Any], after: Key | None, limit: int | None,
            strict: bool = False) -> Select[Any]:
    """``q`` in the order of ``cols``, from ``after`` on (``strict``: the rows past it), at most ``limit`` rows: a
    page of a listing costs what the page holds, read along an index on ``cols`` (never the rows before it,
    however many there are)."""
    if after is not None:
        q = q.where(_from(cols, after, strict))
    q = q.order_by(*cols)
    return q.limit(limit) if limit is not None else q


def _path_under(path: Any, prefix: str | None) -> ColumnElement[bool] | None:
    return path.startswith(prefix, autoescape=True) if prefix and prefix != "/" else None


# The hot read queries, built once: constructing Core expressions per call
# costs more than running them (profiled), and prebuilt statements hit
# SQLAlchemy's compiled cache directly.
_Q_SEQ = select(t.change_seq.c.value).where(t.change_seq.c.id == 1)
_Q_NEXT_SEQ = update(t.change_seq).where(t.change_seq.c.id == 1).values(value=t.change_seq.c.value + 1).returning(t.change_seq.c.value)
_Q_CHANGES = select(t.change_log.c.seq, t.change_log.c.scope).where(t.change_log.c.seq > bindparam("s")).order_by(t.change_log.c.seq)
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


Scope = tuple[str, ...]
"""What a write changed and a cached value depends on: one entity (with its inline policies, attachments,
tags and memberships), one managed policy (with its versions), an account's principals (the users, roles
and access keys a request can be signed by), or :data:`EVERYTHING`."""

EVERYTHING: Scope = ("*",)


def entity_scope(kind: str, account_id: str, key: str) -> Scope:
    """A user, group, role or instance profile (``key``: its lower-cased name)."""
    return ("entity", kind, account_id, key)


def policy_scope(arn: str) -> Scope:
    return ("policy", arn)


def quotas_scope(account_id: str) -> Scope:
    """The account's quota overrides (an operator's settings; read afresh by each write that counts)."""
    return ("quotas", account_id)


def principals_scope(account_id: str) -> Scope:
    """The account's users, roles and access keys as callers: what :meth:`Tx.generation` follows."""
    return ("principals", account_id)


def org_scope(org_id: str) -> Scope:
    """An organization: its tree, policies, attachments and enabled policy types."""
    return ("org", org_id)


def org_member_scope(account_id: str) -> Scope:
    """Which organization an account belongs to (none, or one)."""
    return ("org-account", account_id)


def _entity_scopes(kind: str, account_id: str, key: str) -> tuple[Scope, ...]:
    scope = entity_scope(kind, account_id, key)
    return (scope, principals_scope(account_id)) if kind in ("user", "role") else (scope,)


def _credentials_scope(account_id: str, user_id: str) -> Scope:
    """A user's other credentials (login profile, SSH keys, signing certificates, service credentials), by the
    user's unique id: nothing cached depends on them yet, but every write names what it changes."""
    return ("credentials", account_id, user_id)


def _tag_scopes(account_id: str, resource_type: str, resource_key: str) -> tuple[Scope, ...]:
    if resource_type in ENTITY_TABLES:
        return _entity_scopes(resource_type, account_id, resource_key)
    if resource_type == "policy":
        return (policy_scope(resource_key),)
    return (("tags", resource_type, account_id, resource_key),)


_SIGNING_KEYS: Scope = ("signing-keys",)


def _wif_scope(account_id: str) -> Scope:
    """An account's outbound identity federation: its setting and the keys that sign its web identity tokens."""
    return ("wif", account_id)

_SEP = "\x1f"  # joins a scope's parts in the change log (no name, ARN or key id can hold it)
_KEEP_CHANGES = 10_000  # transactions the change log keeps; a reader further behind forgets everything


class Shared:
    """What transactions share across requests, so a hot read touches no SQL, and how it is invalidated.

    Invalidation is by scope (:data:`Scope`): every write method of :class:`Tx` names the scopes it
    changes, and a committed write transaction (a) appends them to the change log, one sequence number
    per transaction, and (b) stamps them in this process at once, so the process sees its own writes
    with the next request. Other processes (another ``iamroles serve`` on the same database, the CLI)
    read the change log past the last sequence they applied at most once per ``ttl`` seconds, when a
    transaction starts, and stamp what they find: another process's write reaches this one within
    ``ttl``. The sequence is one counter row, incremented as the last statement of a write
    transaction, so its row lock orders commits: a reader that sees sequence n has seen every n' < n,
    and a gap means the log was pruned past this reader, which then forgets everything.

    Why a change log and not per-entity version rows: a reader checks one query per ``ttl`` for the
    whole process, however many accounts and entities it has cached (version rows would need one
    read per cached entity per ``ttl``, the cost issue 13 measured), and a write names precisely
    what it touched.

    A stamp is this process's logical clock at the invalidation. A cached value records the clock
    when its transaction began to read (``since``) and the scopes it depends on; it is good while
    none of them is stamped later. So a value read before a write committed but stored after the
    write's stamp is never served. Stamps live in an LRU too: one evicted raises the floor every
    scope's stamp is at least (forgetting is always on the safe side).

    Rows (entities and their tags) are kept up to ``row_ttl`` seconds at most: the one thing not
    invalidated is bookkeeping (last used), which this process patches into its own rows and other
    processes see within ``row_ttl``, as AWS's last-used data too is eventually consistent.


    ``siblings``: a counter shared with the other worker processes of one server (``.value``,
    ``.advance()``; see ``iamroles.server.workers``). A commit that changed anything advances it, and
    a moved counter makes this process read the change log at its next transaction, TTL or not: a
    write through any worker applies at once in all of them.
    """

    def __init__(self, ttl: float = 1.0, size: int = 100_000, row_ttl: float = 60.0, siblings: Any = None) -> None:
        self.ttl = ttl
        self.row_ttl = row_ttl
        self._lock = threading.Lock()
        self._clock = 0
        self._floor = 0
        self._stamps: LRU[Scope, int] = LRU(size, self._forgot)
        self._rows: LRU[tuple[Any, ...], tuple[Any, Scope, int, float]] = LRU(size)
        self.seen: int | None = None  # the last change-log sequence applied
        self._polled = float("-inf")
        self.siblings = siblings
        self._siblings_seen = siblings.value if siblings is not None else 0

    def _forgot(self, _scope: Scope, stamp: int) -> None:
        self._floor = max(self._floor, stamp)

    @property
    def clock(self) -> int:
        return self._clock

    def stamp(self, scope: Scope) -> int:
        return max(self._stamps.get(scope) or 0, self._floor)

    def unchanged(self, scopes: Iterable[Scope], since: int) -> bool:
        """Whether none of ``scopes`` was invalidated after the clock read ``since``."""
        return all(self.stamp(s) <= since for s in scopes)

    def invalidate(self, scopes: Iterable[Scope]) -> None:
        with self._lock:
            self._clock += 1
            for scope in scopes:
                if scope == EVERYTHING:
                    self._floor = self._clock
                else:
                    self._stamps[scope] = self._clock

    def row(self, key: tuple[Any, ...]) -> Any:
        """A remembered row (or None for one known missing), or :data:`_MISS`."""
        hit = self._rows.get(key)
        if hit is None:
            return _MISS
        value, scope, since, fetched = hit
        if time.monotonic() - fetched >= self.row_ttl or self.stamp(scope) > since:
            return _MISS
        return value

    def keep_row(self, key: tuple[Any, ...], scope: Scope, value: Any, since: int) -> None:
        if self.stamp(scope) <= since:
            self._rows[key] = (value, scope, since, time.monotonic())

    def patch_row(self, key: tuple[Any, ...], changes: dict[str, Any]) -> None:
        """Bookkeeping this process wrote, into the row it remembers (no invalidation)."""
        hit = self._rows.get(key)
        if hit is not None and hit[0] is not None:
            self._rows[key] = (replace(hit[0], **changes), *hit[1:])

    def due(self) -> bool:
        siblings = self.siblings
        return time.monotonic() - self._polled >= self.ttl or (siblings is not None and siblings.value != self._siblings_seen)

    def siblings_mark(self) -> int:
        """The siblings' counter, read before a look at the change log (what that look will have covered)."""
        return self.siblings.value if self.siblings is not None else 0

    def wake_siblings(self) -> None:
        if self.siblings is not None:
            self.siblings.advance()

    def begin(self, seq: int, started: float, mark: int = 0) -> None:
        """The change log's sequence when this process first looked (nothing cached yet to invalidate)."""
        with self._lock:
            if self.seen is None:
                self.seen = seq
            self._polled = max(self._polled, started)
            self._siblings_seen = max(self._siblings_seen, mark)

    def apply(self, after: int, changes: Sequence[tuple[int, str]], started: float, mark: int = 0) -> None:
        """The change log's entries past ``after`` (ordered by sequence), read from a query begun at ``started``."""
        scopes: set[Scope] = set()
        if changes and changes[0][0] > after + 1:
            scopes.add(EVERYTHING)  # pruned past us: what changed is not known
        with self._lock:
            seen = self.seen if self.seen is not None else after
            for seq, scope in changes:
                if seq > seen:
                    scopes.add(tuple(scope.split(_SEP)))
            if changes:
                self.seen = max(seen, changes[-1][0])
            self._polled = max(self._polled, started)
            self._siblings_seen = max(self._siblings_seen, mark)
        if scopes:
            self.invalidate(scopes)


_MISS = object()
_UNIQUE = itertools.count(1)


class Tx:
    """One transaction's queries.

    Reads of an entity and its tags are remembered for the transaction (a
    request asks for its target more than once); any write through this Tx
    forgets them. A read transaction also consults the store's
    :class:`Shared` rows and opens its connection only when a read misses
    them. Each write names the scopes (:data:`Scope`) it changes; they are
    logged and invalidated when the transaction commits.
    """

    def __init__(self, store: Store, conn: Connection | None, write: bool) -> None:
        self._store = store
        self._c = conn
        self._begun: Any = None
        self.write = write
        self.postgres = store.postgres
        self.shared = store.shared
        self._memo: dict[tuple[Any, ...], Any] = {}
        self._since: int | None = None
        self._changed: set[Scope] = set()
        self._patches: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    @property
    def c(self) -> Connection:
        if self._c is None:
            self._c = self._store.engine.connect()
            self._begun = self._c.begin()
        if self._since is None:
            self._start()
        return self._c

    def _start(self) -> None:
        """Catch up with the change log if ``ttl`` has passed, then note the clock (before any read of this transaction)."""
        shared = self.shared
        conn = self._c
        assert conn is not None
        if shared.due():
            started, mark = time.monotonic(), shared.siblings_mark()
            seen = shared.seen
            if seen is None:
                shared.begin(int(conn.execute(_Q_SEQ).scalar_one()), started, mark)
            else:
                shared.apply(seen, [(r[0], r[1]) for r in conn.execute(_Q_CHANGES, {"s": seen})], started, mark)
        self._since = shared.clock

    @property
    def since(self) -> int | None:
        """The shared clock when this transaction began to read: a value it computes may be shared with the
        scopes it depends on if none changes after this (see :class:`Shared`). None once it has written:
        what it reads then is its own uncommitted state, not for others."""
        if self._changed:
            return None
        if self._since is None:
            if self.shared.due():
                self.c  # noqa: B018 - connects, catches up with the change log, notes the clock
            else:
                self._since = self.shared.clock
        return self._since

    def unchanged(self, scopes: Iterable[Scope], since: int) -> bool:
        """Whether a value computed from ``scopes`` in a transaction begun at ``since`` is still good (this
        one has caught up with the change log first; one that has written uses nothing shared)."""
        return self.since is not None and self.shared.unchanged(scopes, since)

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

    def _w(self, statement: Any, params: Any = None, *, scopes: Iterable[Scope]) -> Any:
        """Run a write (every INSERT, UPDATE and DELETE comes here): what this transaction remembered may
        be stale now, and ``scopes`` (what it changes; none for bookkeeping) are invalidated on commit.
        A unique key taken by another transaction raises :class:`Duplicate`, another collision :class:`Conflict`."""
        self._memo.clear()
        self._changed.update(scopes)
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

    def _log_changes(self) -> None:
        """Append what this transaction changed to the change log, as its last statements (before commit).

        The counter's row lock is the last lock taken and is held until commit, so sequence numbers commit in order."""
        if not self._changed:
            return
        seq = int(self._run(_Q_NEXT_SEQ, None).scalar_one())
        self._run(insert(t.change_log), [{"seq": seq, "scope": _SEP.join(s)} for s in sorted(self._changed)])
        if seq % 256 == 0:
            self._run(delete(t.change_log).where(t.change_log.c.seq <= seq - _KEEP_CHANGES), None)

    def _publish(self) -> None:
        """After commit: this process sees the changes at once."""
        if self._changed:
            self.shared.invalidate(self._changed)
            self.shared.wake_siblings()
        for key, changes in self._patches:
            self.shared.patch_row(key, changes)

    def _recall(self, key: tuple[Any, ...]) -> Any:
        """What this transaction, or (reading) the shared rows, remember for ``key``; :data:`_MISS` if nothing."""
        if key in self._memo:
            return self._memo[key]
        if self.write or self.since is None:
            return _MISS
        found = self.shared.row(key)
        if found is not _MISS:
            self._memo[key] = found
        return found

    def _remember(self, key: tuple[Any, ...], scope: Scope, value: Any, since: int | None) -> None:
        self._memo[key] = value
        if not self.write and since is not None:
            self.shared.keep_row(key, scope, value, since)

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
        self._w(insert(t.accounts).values(account_id=account.account_id, partition=account.partition, created_at=account.created_at),
                scopes=(principals_scope(account.account_id),))

    def quotas(self, account_id: str) -> dict[str, int]:
        """The account's quota overrides by AWS quota name (a quota not here has its default)."""
        c = t.account_quotas.c
        return {r.name: int(r.value) for r in self.c.execute(select(c.name, c.value).where(c.account_id == account_id))}

    def set_quota(self, account_id: str, name: str, value: int | None) -> None:
        """Override one of the account's quotas; None: back to the default."""
        c = t.account_quotas.c
        self._w(delete(t.account_quotas).where(c.account_id == account_id, c.name == name), scopes=(quotas_scope(account_id),))
        if value is not None:
            self._w(insert(t.account_quotas).values(account_id=account_id, name=name, value=value), scopes=(quotas_scope(account_id),))

    # -- account-level state: alias, settings, credential report, service-linked role deletions --------------
    def account_alias(self, account_id: str) -> str | None:
        c = t.account_aliases.c
        return self.c.execute(select(c.alias).where(c.account_id == account_id)).scalar()

    def alias_holder(self, partition: str, alias: str) -> str | None:
        """The account of ``partition`` whose alias ``alias`` is, if any."""
        c = t.account_aliases.c
        return self.c.execute(select(c.account_id).where(c.partition == partition, c.alias == alias)).scalar()

    def set_account_alias(self, account_id: str, partition: str, alias: str, when: datetime) -> None:
        """The account's alias from now on (it replaces the one it had). An alias another account took first is
        :class:`Duplicate` (its unique key decides)."""
        c = t.account_aliases.c
        scopes = (("alias", account_id),)
        self._w(delete(t.account_aliases).where(c.account_id == account_id), scopes=scopes)
        self._w(insert(t.account_aliases).values(account_id=account_id, partition=partition, alias=alias, created_at=when),
                scopes=scopes)

    def delete_account_alias(self, account_id: str, alias: str) -> bool:
        c = t.account_aliases.c
        res = self._w(delete(t.account_aliases).where(c.account_id == account_id, c.alias == alias), scopes=(("alias", account_id),))
        return bool(res.rowcount)

    def account_setting(self, account_id: str, name: str) -> str | None:
        c = t.account_settings.c
        return self.c.execute(select(c.value).where(c.account_id == account_id, c.name == name)).scalar()

    def set_account_setting(self, account_id: str, name: str, value: str) -> None:
        c = t.account_settings.c
        scopes = (("settings", account_id),)
        self._w(delete(t.account_settings).where(c.account_id == account_id, c.name == name), scopes=scopes)
        self._w(insert(t.account_settings).values(account_id=account_id, name=name, value=value), scopes=scopes)

    def credential_report(self, account_id: str) -> tuple[datetime, str] | None:
        """The account's latest credential report: (when generated, CSV)."""
        c = t.credential_reports.c
        row = self.c.execute(select(c.generated_at, c.content).where(c.account_id == account_id)).first()
        return (_utc(row.generated_at), row.content) if row else None  # type: ignore[return-value]

    def put_credential_report(self, account_id: str, when: datetime, content: str) -> None:
        """Replace the account's credential report (bookkeeping: nothing cached depends on it)."""
        c = t.credential_reports.c
        scopes = (("credential-report", account_id),)
        self._w(delete(t.credential_reports).where(c.account_id == account_id), scopes=scopes)
        self._w(insert(t.credential_reports).values(account_id=account_id, generated_at=when, content=content), scopes=scopes)

    def insert_role_deletion(self, task_id: str, account_id: str, role_arn: str, status: str, when: datetime) -> None:
        self._w(insert(t.service_linked_role_deletions).values(task_id=task_id, account_id=account_id, role_arn=role_arn,
                                                              status=status, created_at=when),
                scopes=(("role-deletion", task_id),))

    def role_deletion(self, task_id: str) -> dict[str, Any] | None:
        """A service-linked role's deletion task: task_id, account_id, role_arn, status, created_at."""
        c = t.service_linked_role_deletions.c
        row = self.c.execute(select(t.service_linked_role_deletions).where(c.task_id == task_id)).first()
        return _row_dict(row) if row else None

    def account_settings(self, account_id: str) -> dict[str, str]:
        """Every setting the account has, by name."""
        c = t.account_settings.c
        return {r.name: r.value for r in self.c.execute(select(c.name, c.value).where(c.account_id == account_id).order_by(c.name))}

    # -- temporary delegation (iam.delegation) -----------------------------------------------------
    # A request's changes are bookkeeping for caches (no cached value is read from them): their scope names the request.
    def delegation_request(self, request_id: str, for_update: bool = False) -> dict[str, Any] | None:
        """The request (a dict of its columns); ``for_update``: its row locked until the transaction ends (on
        PostgreSQL; SQLite's write transactions are serial)."""
        c = t.delegation_requests.c
        q = select(t.delegation_requests).where(c.request_id == request_id)
        row: Any = self._lock(q.with_for_update()).first() if for_update and self.postgres else self.c.execute(q).first()
        return _row_dict(row) if row is not None else None

    def delegation_request_by_token(self, token_hash: str) -> dict[str, Any] | None:
        c = t.delegation_requests.c
        q = select(t.delegation_requests).where(c.token_hash == token_hash)
        row: Any = self._lock(q.with_for_update()).first() if self.postgres else self.c.execute(q).first()
        return _row_dict(row) if row is not None else None

    def delegation_requests(self, *, owner_account: str | None = None, requestor_account: str | None = None,
                            owner_id: str | None = None, after: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """The requests an account owns (or made, ``requestor_account``), by id, from after ``after``, at most ``limit``."""
        c = t.delegation_requests.c
        q = select(t.delegation_requests)
        if owner_account is not None:
            q = q.where(c.owner_account == owner_account, c.owner_id.is_not(None))
        if requestor_account is not None:
            q = q.where(c.requestor_account == requestor_account)
        if owner_id is not None:
            q = q.where(c.owner_id == owner_id)
        q = _keyset(q, [c.request_id], None if after is None else (after,), limit)
        return [_row_dict(r) for r in self.c.execute(q)]

    def count_delegation_requests(self, requestor_account: str, since: datetime) -> int:
        """How many requests the account made since ``since`` (the partner's rate, for LimitExceeded)."""
        c = t.delegation_requests.c
        q = select(func.count()).select_from(t.delegation_requests).where(c.requestor_account == requestor_account,
                                                                            c.created_at >= since)
        return int(self.c.execute(q).scalar_one())

    def insert_delegation_request(self, **values: Any) -> None:
        self._w(insert(t.delegation_requests).values(**values), scopes=(("delegation", values["request_id"]),))

    def update_delegation_request(self, request_id: str, from_state: str, **values: Any) -> bool:
        """Move the request on from ``from_state``, with ``values``: False if it is no longer in ``from_state``
        (another transaction moved it first)."""
        c = t.delegation_requests.c
        res = self._w(update(t.delegation_requests).where(c.request_id == request_id, c.state == from_state).values(**values),
                      scopes=(("delegation", request_id),))
        return bool(res.rowcount)

    def delegation_template(self, arn: str) -> dict[str, Any] | None:
        c = t.delegation_templates.c
        row = self.c.execute(select(t.delegation_templates).where(c.arn == arn)).first()
        return _row_dict(row) if row is not None else None

    def delegation_templates(self, account_id: str) -> list[dict[str, Any]]:
        c = t.delegation_templates.c
        return [_row_dict(r) for r in self.c.execute(select(t.delegation_templates).where(c.account_id == account_id)
                                                     .order_by(c.arn))]

    def put_delegation_template(self, arn: str, account_id: str, name: str, document: str, when: datetime) -> None:
        c = t.delegation_templates.c
        scopes = (("delegation-template", arn),)
        self._w(delete(t.delegation_templates).where(c.arn == arn), scopes=scopes)
        self._w(insert(t.delegation_templates).values(arn=arn, account_id=account_id, name=name, document=document,
                                                      created_at=when), scopes=scopes)

    def delete_delegation_template(self, arn: str) -> bool:
        c = t.delegation_templates.c
        return bool(self._w(delete(t.delegation_templates).where(c.arn == arn), scopes=(("delegation-template", arn),)).rowcount)

    def generation(self, account_id: str) -> int:
        """A number that changes whenever the account's principals do (users, roles, their tags, access
        keys): a value derived from them under one generation is good while :meth:`generation` returns
        it. A transaction that has written, or that began before the latest change, gets a number never
        returned before, so nothing it derives is reused."""
        since = self.since
        stamp = self.shared.stamp(principals_scope(account_id))
        if since is None or stamp > since:
            return -next(_UNIQUE)
        return stamp

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
        self._w(insert(t.access_keys).values(**{f.name: getattr(key, f.name) for f in fields(AccessKey)}),
                scopes=(principals_scope(key.account_id),))

    def _key_scopes(self, access_key_id: str) -> tuple[Scope, ...]:
        account_id = self.c.execute(select(t.access_keys.c.account_id).where(t.access_keys.c.access_key_id == access_key_id)).scalar()
        return (principals_scope(account_id),) if account_id is not None else ()

    def update_access_key(self, access_key_id: str, **values: Any) -> None:
        self._w(update(t.access_keys).where(t.access_keys.c.access_key_id == access_key_id).values(**values),
                scopes=self._key_scopes(access_key_id))

    def record_key_use(self, access_key_id: str, when: datetime, service: str, region: str) -> None:
        """Bookkeeping (GetAccessKeyLastUsed): invalidates nothing, as nothing authorised depends on it."""
        self._w(update(t.access_keys).where(t.access_keys.c.access_key_id == access_key_id)
                .values(last_used_at=when, last_used_service=service, last_used_region=region), scopes=())

    def delete_access_key(self, access_key_id: str) -> None:
        self._w(delete(t.access_keys).where(t.access_keys.c.access_key_id == access_key_id), scopes=self._key_scopes(access_key_id))

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
        key = entity_scope(kind, account_id, name.lower())  # the row's key is its scope
        if not for_update:
            recalled = self._recall(key)
            if recalled is not _MISS:
                remembered: Entity | None = recalled
                return remembered
        since = self.since  # before the read
        if for_update and self.postgres:
            row = self._lock(_Q_ENTITY_LOCK[kind], {"a": account_id, "n": name.lower()}).first()
        else:
            row = self.c.execute(_Q_ENTITY[kind], {"a": account_id, "n": name.lower()}).first()
        found: Entity | None = _fix_times(_record(cls, row, {id_col: "id"})) if row else None
        self._remember(key, key, found, since)
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

    def assigned_mfa_devices(self, account_id: str) -> int:
        """How many of the account's virtual MFA devices are assigned to a user (GetAccountSummary's MFADevicesInUse)."""
        c = t.mfa_devices.c
        return int(self.c.execute(select(func.count()).select_from(t.mfa_devices)
                                  .where(c.account_id == account_id, c.user_key.is_not(None))).scalar() or 0)

    def attachment_total(self, account_id: str) -> int:
        """How many managed policy attachments the account's users, groups and roles have."""
        c = t.attachments.c
        return int(self.c.execute(select(func.count()).select_from(t.attachments).where(c.account_id == account_id)).scalar() or 0)

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
        self._w(insert(table).values(**values), scopes=_entity_scopes(kind, record.account_id, record.name.lower()))

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
            self._w(insert(table), rows, scopes=[s for r in rows for s in _entity_scopes(kind, r["account_id"], r["name_key"])])

    def update_entity(self, kind: str, account_id: str, name: str, **values: Any) -> None:
        table = ENTITY_TABLES[kind][0]
        self._w(update(table).where(table.c.account_id == account_id, table.c.name_key == name.lower()).values(**values),
                scopes=_entity_scopes(kind, account_id, name.lower()))

    def record_role_use(self, account_id: str, role_key: str, when: datetime, region: str) -> None:
        """Bookkeeping (RoleLastUsed): invalidates nothing, as nothing authorised depends on it; this process's
        remembered row gets the new values on commit, other processes' within ``row_ttl``."""
        self._w(update(t.roles).where(t.roles.c.account_id == account_id, t.roles.c.name_key == role_key)
                .values(last_used_at=when, last_used_region=region), scopes=())
        self._patches.append((entity_scope("role", account_id, role_key), {"last_used_at": when, "last_used_region": region}))

    def rename_entity(self, kind: str, account_id: str, old_key: str, new_name: str, new_path: str, new_arn: str) -> None:
        """Rename or move a user or group, with everything that refers to it."""
        table = ENTITY_TABLES[kind][0]
        new_key = new_name.lower()
        scopes = _entity_scopes(kind, account_id, old_key) + _entity_scopes(kind, account_id, new_key)
        self._w(
            update(table).where(table.c.account_id == account_id, table.c.name_key == old_key)
            .values(name=new_name, name_key=new_key, path=new_path, arn=new_arn),
            scopes=scopes,
        )
        if new_key == old_key:
            return
        for ref, col, extra in (
            (t.attachments, "entity_key", (t.attachments.c.entity_type == kind,)),
            (t.inline_policies, "entity_key", (t.inline_policies.c.entity_type == kind,)),
            (t.tags, "resource_key", (t.tags.c.resource_type == kind,)),
        ):
            self._w(update(ref).where(ref.c.account_id == account_id, ref.c[col] == old_key, *extra).values({col: new_key}), scopes=scopes)
        if kind == "user":
            gm = t.group_members
            self._w(update(gm).where(gm.c.account_id == account_id, gm.c.user_key == old_key).values(user_key=new_key), scopes=scopes)
            ak = t.access_keys
            self._w(update(ak).where(ak.c.account_id == account_id, ak.c.user_key == old_key).values(user_key=new_key), scopes=scopes)
        if kind == "group":
            gm = t.group_members
            self._w(update(gm).where(gm.c.account_id == account_id, gm.c.group_key == old_key).values(group_key=new_key), scopes=scopes)

    def delete_entity(self, kind: str, account_id: str, name: str) -> None:
        table = ENTITY_TABLES[kind][0]
        key = name.lower()
        scopes = _entity_scopes(kind, account_id, key)
        self._w(delete(table).where(table.c.account_id == account_id, table.c.name_key == key), scopes=scopes)
        self._w(delete(t.tags).where(t.tags.c.account_id == account_id, t.tags.c.resource_type == kind, t.tags.c.resource_key == key),
                scopes=scopes)

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
        self._w(insert(t.policies).values(**values), scopes=(policy_scope(policy.arn),))

    def update_policy(self, arn: str, **values: Any) -> None:
        self._w(update(t.policies).where(t.policies.c.arn == arn).values(**values), scopes=(policy_scope(arn),))

    def delete_policy(self, arn: str) -> None:
        scopes = (policy_scope(arn),)
        self._w(delete(t.policy_versions).where(t.policy_versions.c.policy_arn == arn), scopes=scopes)
        self._w(delete(t.policies).where(t.policies.c.arn == arn), scopes=scopes)
        self._w(delete(t.tags).where(t.tags.c.resource_type == "policy", t.tags.c.resource_key == arn), scopes=scopes)

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
        self._w(insert(t.policy_versions).values(**{f.name: getattr(version, f.name) for f in fields(PolicyVersion)}),
                scopes=(policy_scope(version.policy_arn),))

    def delete_policy_version(self, arn: str, version_id: str) -> None:
        c = t.policy_versions.c
        self._w(delete(t.policy_versions).where(c.policy_arn == arn, c.version_id == version_id), scopes=(policy_scope(arn),))

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

    def sync_aws_managed(self, catalogue: Sequence[ManagedPolicy], owner: str = "aws") -> int:
        """Make account ``aws``'s policy rows those of ``catalogue`` (new ones added, changed default versions and
        dates taken); their documents are read from the catalogue, so rows of versions an older iamroles stored
        for them go. A row the catalogue no longer has stays (entities may have it attached). Returns how many
        rows changed."""
        c = t.policies.c
        stored = {r.arn: r for r in self.c.execute(select(c.arn, c.default_version, c.updated_at).where(c.account_id == owner))}
        new = [p for p in catalogue if p.arn not in stored]
        changed = [p for p in catalogue if p.arn in stored and (stored[p.arn].default_version != p.default_version
                                                                or _utc(stored[p.arn].updated_at) != p.updated_at)]
        if new:
            self._w(insert(t.policies), [{**{f.name: getattr(p, f.name) for f in fields(ManagedPolicy)}, "name_key": p.name.lower()}
                                         for p in new], scopes=[policy_scope(p.arn) for p in new])
        for p in changed:
            self._w(update(t.policies).where(c.arn == p.arn).values(default_version=p.default_version, updated_at=p.updated_at),
                    scopes=(policy_scope(p.arn),))
        known = [p.arn for p in catalogue if p.arn in stored]
        v = t.policy_versions.c
        stale = [r[0] for r in self.c.execute(select(v.policy_arn).distinct().where(v.policy_arn.in_(known)))] if known else []
        if stale:  # their documents are the catalogue's from now on
            self._w(delete(t.policy_versions).where(v.policy_arn.in_(stale)), scopes=[policy_scope(a) for a in stale])
        return len(new) + len(changed)

    # -- attachments ----------------------------------------------------------------------
    def attach(self, account_id: str, entity_type: str, entity_key: str, arn: str) -> bool:
        """Attach; False when it already was."""
        if arn in self.attached(account_id, entity_type, entity_key):
            return False
        self._w(insert(t.attachments).values(account_id=account_id, entity_type=entity_type, entity_key=entity_key, policy_arn=arn),
                scopes=(entity_scope(entity_type, account_id, entity_key),))
        return True

    def detach(self, account_id: str, entity_type: str, entity_key: str, arn: str) -> bool:
        c = t.attachments.c
        res = self._w(
            delete(t.attachments).where(c.account_id == account_id, c.entity_type == entity_type, c.entity_key == entity_key, c.policy_arn == arn),
            scopes=(entity_scope(entity_type, account_id, entity_key),),
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
        self._w(delete(t.attachments).where(c.account_id == account_id, c.entity_type == entity_type, c.entity_key == entity_key),
                scopes=(entity_scope(entity_type, account_id, entity_key),))

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
            ),
            scopes=(entity_scope(entity_type, account_id, entity_key),),
        )

    def delete_inline(self, account_id: str, entity_type: str, entity_key: str, name: str) -> bool:
        c = t.inline_policies.c
        res = self._w(
            delete(t.inline_policies).where(c.account_id == account_id, c.entity_type == entity_type, c.entity_key == entity_key, c.name_key == name.lower()),
            scopes=(entity_scope(entity_type, account_id, entity_key),),
        )
        return bool(res.rowcount)

    def delete_inlines(self, account_id: str, entity_type: str, entity_key: str) -> None:
        c = t.inline_policies.c
        self._w(delete(t.inline_policies).where(c.account_id == account_id, c.entity_type == entity_type, c.entity_key == entity_key),
                scopes=(entity_scope(entity_type, account_id, entity_key),))

    # -- tags -----------------------------------------------------------------------------
    def tags(self, account_id: str, resource_type: str, resource_key: str) -> list[Tag]:
        if self.write:  # a write may have just changed them
            rows = self.c.execute(_Q_TAGS, {"a": account_id, "rt": resource_type, "rk": resource_key})
            return [Tag(r.key, r.value) for r in rows]
        key = ("tags", resource_type, account_id, resource_key)
        found = self._recall(key)
        if found is _MISS:
            since = self.since  # before the read
            rows = self.c.execute(_Q_TAGS, {"a": account_id, "rt": resource_type, "rk": resource_key})
            found = tuple(Tag(r.key, r.value) for r in rows)
            self._remember(key, _tag_scopes(account_id, resource_type, resource_key)[0], found, since)
        return list(found)

    def set_tags(self, account_id: str, resource_type: str, resource_key: str, new: Sequence[Tag]) -> None:
        """Add or overwrite tags (keys compare case-insensitively, as IAM's do)."""
        c = t.tags.c
        where = (c.account_id == account_id, c.resource_type == resource_type, c.resource_key == resource_key)
        position = int(self.c.execute(select(func.coalesce(func.max(c.position), 0)).where(*where)).scalar() or 0)
        scopes = _tag_scopes(account_id, resource_type, resource_key)
        for tag in new:
            fold = tag.key.lower()
            res = self._w(update(t.tags).where(*where, c.key_fold == fold).values(key=tag.key, value=tag.value), scopes=scopes)
            if not res.rowcount:
                position += 1
                self._w(
                    insert(t.tags).values(
                        account_id=account_id, resource_type=resource_type, resource_key=resource_key,
                        key_fold=fold, key=tag.key, value=tag.value, position=position,
                    ),
                    scopes=scopes,
                )

    def remove_tags(self, account_id: str, resource_type: str, resource_key: str, keys: Sequence[str]) -> None:
        c = t.tags.c
        folds = [k.lower() for k in keys]
        self._w(
            delete(t.tags).where(c.account_id == account_id, c.resource_type == resource_type, c.resource_key == resource_key, c.key_fold.in_(folds)),
            scopes=_tag_scopes(account_id, resource_type, resource_key),
        )

    # -- groups and instance profiles -----------------------------------------------------------
    def add_member(self, account_id: str, group_key: str, user_key: str) -> None:
        if user_key not in self.members(account_id, group_key):
            self._w(insert(t.group_members).values(account_id=account_id, group_key=group_key, user_key=user_key),
                    scopes=(entity_scope("group", account_id, group_key), entity_scope("user", account_id, user_key)))

    def remove_member(self, account_id: str, group_key: str, user_key: str) -> bool:
        c = t.group_members.c
        res = self._w(delete(t.group_members).where(c.account_id == account_id, c.group_key == group_key, c.user_key == user_key),
                      scopes=(entity_scope("group", account_id, group_key), entity_scope("user", account_id, user_key)))
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
        kind, key = ("user", user_key) if user_key is not None else ("group", group_key)
        assert key is not None
        self._w(q, scopes=(entity_scope(kind, account_id, key),))

    def profile_roles(self, account_id: str, profile_key: str) -> list[str]:
        c = t.instance_profile_roles.c
        return [r[0] for r in self.c.execute(select(c.role_key).where(c.account_id == account_id, c.profile_key == profile_key))]

    def profiles_of_role(self, account_id: str, role_key: str) -> list[str]:
        c = t.instance_profile_roles.c
        return [r[0] for r in self.c.execute(select(c.profile_key).where(c.account_id == account_id, c.role_key == role_key).order_by(c.profile_key))]

    def add_profile_role(self, account_id: str, profile_key: str, role_key: str) -> None:
        self._w(insert(t.instance_profile_roles).values(account_id=account_id, profile_key=profile_key, role_key=role_key),
                scopes=(entity_scope("instance_profile", account_id, profile_key), entity_scope("role", account_id, role_key)))

    def remove_profile_role(self, account_id: str, profile_key: str, role_key: str) -> bool:
        c = t.instance_profile_roles.c
        res = self._w(delete(t.instance_profile_roles).where(c.account_id == account_id, c.profile_key == profile_key, c.role_key == role_key),
                      scopes=(entity_scope("instance_profile", account_id, profile_key), entity_scope("role", account_id, role_key)))
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
        ), scopes=(("oidc", provider.arn),))

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
            self._w(update(t.oidc_providers).where(t.oidc_providers.c.arn == arn).values(**values), scopes=(("oidc", arn),))

    def delete_oidc_provider(self, arn: str) -> None:
        self._w(delete(t.oidc_providers).where(t.oidc_providers.c.arn == arn), scopes=(("oidc", arn),))

    # -- SAML providers ------------------------------------------------------------------------------
    def saml_provider(self, arn: str, for_update: bool = False) -> dict[str, Any] | None:
        q = select(t.saml_providers).where(t.saml_providers.c.arn == arn)
        row = self._lock(q.with_for_update()).first() if for_update and self.postgres else self.c.execute(q).first()
        return _row_dict(row) if row else None

    def saml_providers(self, account_id: str) -> list[dict[str, Any]]:
        c = t.saml_providers.c
        return [_row_dict(r) for r in self.c.execute(select(t.saml_providers).where(c.account_id == account_id).order_by(c.arn))]

    def insert_saml_provider(self, **values: Any) -> None:
        self._w(insert(t.saml_providers).values(**values), scopes=(("saml", str(values.get("arn"))),))

    def update_saml_provider(self, arn: str, **values: Any) -> None:
        self._w(update(t.saml_providers).where(t.saml_providers.c.arn == arn).values(**values), scopes=(("saml", arn),))

    def delete_saml_provider(self, arn: str) -> None:
        self._w(delete(t.saml_providers).where(t.saml_providers.c.arn == arn), scopes=(("saml", arn),))

    # -- MFA devices --------------------------------------------------------------------------------
    def mfa_device(self, serial: str, for_update: bool = False) -> MfaDevice | None:
        """``for_update``: lock the device's row (assigned once) until the transaction ends."""
        q = select(t.mfa_devices).where(t.mfa_devices.c.serial == serial)
        row = self._lock(q.with_for_update()).first() if for_update and self.postgres else self.c.execute(q).first()
        return _fix_times(_record(MfaDevice, row)) if row else None

    def claim_mfa_step(self, serial: str, step: int) -> bool:
        """Take TOTP ``step`` of the device: False when a code of that step or a later one was accepted already
        (by any process). One conditional UPDATE, so two transactions cannot both take it. Bookkeeping: no
        cached authorisation data depends on it."""
        c = t.mfa_devices.c
        res = self._w(update(t.mfa_devices).where(c.serial == serial, or_(c.last_step.is_(None), c.last_step < step))
                      .values(last_step=step), scopes=())
        return bool(res.rowcount)

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
        self._w(insert(t.mfa_devices).values(**{f.name: getattr(device, f.name) for f in fields(MfaDevice)}), scopes=(("mfa", device.serial),))

    def assign_mfa_device(self, serial: str, user_key: str | None, enabled_at: datetime | None) -> None:
        """Assign a device to a user (enabled then), or (None, None) take it back."""
        self._w(update(t.mfa_devices).where(t.mfa_devices.c.serial == serial).values(user_key=user_key, enabled_at=enabled_at),
                scopes=(("mfa", serial),))

    def set_mfa_drift(self, serial: str, drift: int) -> None:
        """Remember how many 30-second steps the device's clock runs ahead of ours (ResyncMFADevice)."""
        self._w(update(t.mfa_devices).where(t.mfa_devices.c.serial == serial).values(drift=drift), scopes=(("mfa", serial),))

    def delete_mfa_device(self, serial: str) -> None:
        self._w(delete(t.mfa_devices).where(t.mfa_devices.c.serial == serial), scopes=(("mfa", serial),))

    # -- signing keys -------------------------------------------------------------------------------
    def signing_keys(self) -> list[SigningKeyRecord]:
        """Every signing key, oldest first."""
        c = t.signing_keys.c
        rows = self.c.execute(select(c.key_id, c.sealed, c.created_at, c.retired_at).order_by(c.created_at, c.key_id))
        return [_fix_times(_record(SigningKeyRecord, r)) for r in rows]

    def insert_signing_key(self, key_id: str, sealed: bytes, created_at: datetime) -> None:
        self._w(insert(t.signing_keys).values(key_id=key_id, sealed=sealed, created_at=created_at), scopes=(_SIGNING_KEYS,))

    def retire_signing_keys(self, except_key: str, when: datetime) -> None:
        c = t.signing_keys.c
        self._w(update(t.signing_keys).where(c.key_id != except_key, c.retired_at.is_(None)).values(retired_at=when), scopes=(_SIGNING_KEYS,))

    def delete_signing_key(self, key_id: str) -> None:
        self._w(delete(t.signing_keys).where(t.signing_keys.c.key_id == key_id), scopes=(_SIGNING_KEYS,))

    # -- outbound identity federation: the account's setting and the keys that sign its tokens ------------------
    # Read on every GetWebIdentityToken and every fetch of an issuer's JWKS: kept in the shared rows, invalidated by
    # the account's scope (the setting's row by its issuer too, for the fetch that knows only the issuer).
    def outbound_federation(self, account_id: str) -> OutboundFederation | None:
        key = _wif_scope(account_id)
        found = self._recall(key)
        if found is _MISS:
            since = self.since  # before the read
            row = self.c.execute(select(t.outbound_federation).where(t.outbound_federation.c.account_id == account_id)).first()
            found = _fix_times(_record(OutboundFederation, row)) if row else None
            self._remember(key, key, found, since)
        return found  # type: ignore[no-any-return]

    def outbound_federation_of_issuer(self, issuer_id: str) -> OutboundFederation | None:
        """The setting whose issuer this is. Asked by anyone, unauthenticated: an issuer that is not one is not
        remembered, so that made-up ids cannot push what the shared rows hold for signed requests out of them."""
        key = ("wif-issuer", issuer_id)
        found = self._recall(key)
        if found is _MISS:
            since = self.since
            row = self.c.execute(select(t.outbound_federation).where(t.outbound_federation.c.issuer_id == issuer_id)).first()
            found = _fix_times(_record(OutboundFederation, row)) if row else None
            if found is not None:
                self._remember(key, key, found, since)
        return found  # type: ignore[no-any-return]

    def put_outbound_federation(self, setting: OutboundFederation) -> None:
        """Insert or replace the account's setting (its issuer id never changes once made)."""
        c = t.outbound_federation.c
        scopes = (_wif_scope(setting.account_id), ("wif-issuer", setting.issuer_id))
        values = {f.name: getattr(setting, f.name) for f in fields(OutboundFederation)}
        done = self._w(update(t.outbound_federation).where(c.account_id == setting.account_id).values(**values), scopes=scopes)
        if not done.rowcount:
            self._w(insert(t.outbound_federation).values(**values), scopes=scopes)

    def jwt_signing_keys(self, account_id: str) -> list[JwtKeyRecord]:
        """The account's web identity token keys, by algorithm, in the order they sign."""
        key = ("wif-keys", account_id)
        found = self._recall(key)
        if found is _MISS:
            since = self.since
            c = t.jwt_signing_keys.c
            rows = self.c.execute(select(t.jwt_signing_keys).where(c.account_id == account_id)
                                  .order_by(c.algorithm, c.active_from, c.key_id))
            found = tuple(_fix_times(_record(JwtKeyRecord, r)) for r in rows)
            self._remember(key, _wif_scope(account_id), found, since)
        return list(found)

    def accounts_with_jwt_keys(self) -> list[str]:
        c = t.jwt_signing_keys.c
        return [r[0] for r in self.c.execute(select(c.account_id).distinct().order_by(c.account_id))]

    def insert_jwt_signing_key(self, record: JwtKeyRecord) -> None:
        self._w(insert(t.jwt_signing_keys).values(**{f.name: getattr(record, f.name) for f in fields(JwtKeyRecord)}),
                scopes=(_wif_scope(record.account_id),))

    def delete_jwt_signing_key(self, account_id: str, key_id: str) -> None:
        c = t.jwt_signing_keys.c
        self._w(delete(t.jwt_signing_keys).where(c.account_id == account_id, c.key_id == key_id), scopes=(_wif_scope(account_id),))

    # -- a whole account at once (the analyses read every entity: a query per table, not per entity) -------
    def account_inlines(self, account_id: str) -> list[tuple[str, str, InlinePolicy]]:
        """Every inline policy of the account's users, groups and roles: (entity type, entity key, policy)."""
        c = t.inline_policies.c
        q = select(c.entity_type, c.entity_key, c.name, c.document).where(c.account_id == account_id)
        rows = self.c.execute(q.order_by(c.entity_type, c.entity_key, c.name_key))
        return [(r.entity_type, r.entity_key, InlinePolicy(r.name, r.document)) for r in rows]

    def account_attachments(self, account_id: str) -> list[tuple[str, str, str]]:
        """Every managed policy attachment in the account: (entity type, entity key, policy ARN)."""
        c = t.attachments.c
        q = select(c.entity_type, c.entity_key, c.policy_arn).where(c.account_id == account_id)
        return [(r.entity_type, r.entity_key, r.policy_arn) for r in self.c.execute(q.order_by(c.entity_type, c.entity_key, c.policy_arn))]

    def account_tags(self, account_id: str, resource_type: str) -> dict[str, list[Tag]]:
        """The tags of every resource of ``resource_type`` in the account, by resource key."""
        c = t.tags.c
        q = select(c.resource_key, c.key, c.value).where(c.account_id == account_id, c.resource_type == resource_type)
        found: dict[str, list[Tag]] = {}
        for r in self.c.execute(q.order_by(c.resource_key, c.position)):
            found.setdefault(r.resource_key, []).append(Tag(r.key, r.value))
        return found

    def account_memberships(self, account_id: str) -> list[tuple[str, str]]:
        """Every group membership in the account: (group key, user key)."""
        c = t.group_members.c
        q = select(c.group_key, c.user_key).where(c.account_id == account_id).order_by(c.group_key, c.user_key)
        return [(r.group_key, r.user_key) for r in self.c.execute(q)]

    def account_profile_roles(self, account_id: str) -> list[tuple[str, str]]:
        """Every role in an instance profile of the account: (profile key, role key)."""
        c = t.instance_profile_roles.c
        q = select(c.profile_key, c.role_key).where(c.account_id == account_id).order_by(c.profile_key, c.role_key)
        return [(r.profile_key, r.role_key) for r in self.c.execute(q)]

    def account_policy_versions(self, account_id: str) -> list[PolicyVersion]:
        """Every version of the account's customer managed policies."""
        p, v = t.policies.c, t.policy_versions
        q = select(v).join(t.policies, p.arn == v.c.policy_arn).where(p.account_id == account_id)
        return [_fix_times(_record(PolicyVersion, r)) for r in self.c.execute(q.order_by(v.c.policy_arn, v.c.version_id))]

    def account_access_keys(self, account_id: str) -> list[AccessKey]:
        """Every access key of the account's users (not the root's), oldest first."""
        c = t.access_keys.c
        q = select(t.access_keys).where(c.account_id == account_id, c.user_key.is_not(None)).order_by(c.created_at, c.access_key_id)
        return [_fix_times(_record(AccessKey, r)) for r in self.c.execute(q)]

    def account_login_profiles(self, account_id: str) -> dict[str, LoginProfile]:
        """Every user's password (its hash and dates) in the account, by user id."""
        c = t.login_profiles.c
        rows = self.c.execute(select(t.login_profiles).where(c.account_id == account_id))
        return {r.user_id: _fix_times(_record(LoginProfile, r)) for r in rows}

    def audit_usage(self, account_id: str, since: datetime) -> list[tuple[str, str, str]]:
        """What the account's principals asked for at or after ``since`` (allowed or not): each (service, operation,
        principal ARN) once."""
        c = t.audit_events.c
        q = (select(c.event_source, c.event_name, c.principal_arn)
             .where(c.account_id == account_id, c.event_time >= since, c.principal_arn.is_not(None))
             .group_by(c.event_source, c.event_name, c.principal_arn))
        return [(r.event_source, r.event_name, r.principal_arn) for r in self.c.execute(q)]

    def audit_latest(self, account_id: str) -> dict[str, datetime]:
        """The time of each principal's newest event in the account's audit trail, by principal ARN."""
        c = t.audit_events.c
        q = select(c.principal_arn, func.max(c.event_time).label("latest")).where(c.account_id == account_id,
                                                                                  c.principal_arn.is_not(None))
        return {r.principal_arn: r.latest if r.latest.tzinfo else r.latest.replace(tzinfo=UTC) for r in self.c.execute(q.group_by(c.principal_arn))}

    # -- audit ----------------------------------------------------------------------------------
    def insert_audit(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            self._w(insert(t.audit_events), list(rows), scopes=())  # nothing cached reads the trail

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

    def audit_access(self, account_id: str, principals: Sequence[str], prefixes: Sequence[str],
                     since: datetime) -> list[tuple[str, str, str, datetime, str | None]]:
        """Service last accessed: the latest event (at or after ``since``) of each service, operation and principal
        among the account's events of the principals named (``principals``: exact ARNs; ``prefixes``: ARNs they
        start with): (service, operation, principal ARN, time, region)."""
        c = t.audit_events.c
        named: list[ColumnElement[bool]] = [c.principal_arn.in_(list(principals))] if principals else []
        named += [c.principal_arn.startswith(p, autoescape=True) for p in prefixes]
        if not named:
            return []
        latest = (select(func.max(c.id)).where(c.account_id == account_id, c.event_time >= since, or_(*named))
                  .group_by(c.event_source, c.event_name, c.principal_arn))
        rows = self.c.execute(select(c.event_source, c.event_name, c.principal_arn, c.event_time, c.record).where(c.id.in_(latest)))
        found = []
        for r in rows:
            try:
                region = json.loads(r.record).get("awsRegion")
            except ValueError:
                region = None
            found.append((r.event_source, r.event_name, r.principal_arn, _utc(r.event_time), region))
        return found  # type: ignore[return-value]

    def insert_access_report(self, **values: Any) -> None:
        self._w(insert(t.service_access_reports).values(**values), scopes=(("access-report", str(values.get("job_id"))),))

    def access_report(self, job_id: str) -> dict[str, Any] | None:
        c = t.service_access_reports.c
        row = self.c.execute(select(t.service_access_reports).where(c.job_id == job_id)).first()
        return _row_dict(row) if row else None

    def audit_before(self, cutoff: datetime, limit: int) -> list[tuple[int, datetime, str]]:
        """The oldest events recorded before ``cutoff`` (at most ``limit``): (row id, time, JSON record), oldest first."""
        c = t.audit_events.c
        q = select(c.id, c.event_time, c.record).where(c.event_time < cutoff).order_by(c.event_time, c.id).limit(limit)
        return [(int(r.id), _utc(r.event_time), r.record) for r in self.c.execute(q)]  # type: ignore[misc]

    def delete_audit(self, ids: Sequence[int]) -> int:
        """Delete these events (by row id); how many there were."""
        if not ids:
            return 0
        return int(self._w(delete(t.audit_events).where(t.audit_events.c.id.in_(list(ids))), scopes=()).rowcount or 0)  # nothing cached reads the trail

    # -- test mode ------------------------------------------------------------------------------
    def wipe(self, keep_access_keys: Sequence[str], keep_users: Sequence[tuple[str, str]]) -> None:
        """Delete all IAM state but the accounts, the named keys and users (with their attached policies) and AWS's
        managed policies: every table of the schema but those in ``RESET_KEEPS`` and the five kept in part here."""
        in_part = {t.users, t.access_keys, t.attachments, t.policies, t.policy_versions}
        for table in reversed(t.metadata.sorted_tables):
            if table.name not in t.RESET_KEEPS and table not in in_part:
                self._w(delete(table), scopes=(EVERYTHING,))
        self._w(delete(t.attachments).where(t.attachments.c.entity_type != "user"), scopes=(EVERYTHING,))
        aws = list(AWS_OWNERS)
        self._w(delete(t.policy_versions).where(t.policy_versions.c.policy_arn.in_(select(t.policies.c.arn).where(t.policies.c.account_id.not_in(aws)))),
                scopes=(EVERYTHING,))
        self._w(delete(t.policies).where(t.policies.c.account_id.not_in(aws)), scopes=(EVERYTHING,))
        self._w(delete(t.access_keys).where(t.access_keys.c.access_key_id.not_in(list(keep_access_keys))), scopes=(EVERYTHING,))
        keep = {(a, u) for a, u in keep_users}
        for u in self.c.execute(select(t.users.c.account_id, t.users.c.name_key)).all():
            if (u[0], u[1]) not in keep:
                self._w(delete(t.users).where(t.users.c.account_id == u[0], t.users.c.name_key == u[1]), scopes=(EVERYTHING,))
                self.delete_attachments(u[0], "user", u[1])

    # -- users' other credentials and server certificates ------------------------------------------
    # A user's credentials are keyed by the user's unique id: the owner (the user's row) is locked by the
    # operation before it counts them (see the module's docstring).
    def login_profile(self, account_id: str, user_id: str) -> LoginProfile | None:
        c = t.login_profiles.c
        row = self.c.execute(select(t.login_profiles).where(c.account_id == account_id, c.user_id == user_id)).first()
        return _fix_times(_record(LoginProfile, row)) if row else None

    def insert_login_profile(self, profile: LoginProfile) -> None:
        self._w(insert(t.login_profiles).values(**{f.name: getattr(profile, f.name) for f in fields(LoginProfile)}),
                scopes=(_credentials_scope(profile.account_id, profile.user_id),))

    def update_login_profile(self, account_id: str, user_id: str, **values: Any) -> None:
        c = t.login_profiles.c
        self._w(update(t.login_profiles).where(c.account_id == account_id, c.user_id == user_id).values(**values),
                scopes=(_credentials_scope(account_id, user_id),))

    def delete_login_profile(self, account_id: str, user_id: str) -> bool:
        c = t.login_profiles.c
        return bool(self._w(delete(t.login_profiles).where(c.account_id == account_id, c.user_id == user_id),
                            scopes=(_credentials_scope(account_id, user_id),)).rowcount)

    def password_policy(self, account_id: str) -> PasswordPolicy | None:
        row = self.c.execute(select(t.password_policies).where(t.password_policies.c.account_id == account_id)).first()
        return _record(PasswordPolicy, row) if row else None

    def set_password_policy(self, policy: PasswordPolicy) -> None:
        """Replace the account's policy (UpdateAccountPasswordPolicy sets every setting; the caller locked the account)."""
        self.delete_password_policy(policy.account_id)
        self._w(insert(t.password_policies).values(**{f.name: getattr(policy, f.name) for f in fields(PasswordPolicy)}),
                scopes=(("password-policy", policy.account_id),))

    def delete_password_policy(self, account_id: str) -> bool:
        return bool(self._w(delete(t.password_policies).where(t.password_policies.c.account_id == account_id),
                            scopes=(("password-policy", account_id),)).rowcount)

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
        self._w(insert(table).values(**{f.name: getattr(record, f.name) for f in fields(cls)}),
                scopes=(_credentials_scope(record.account_id, record.user_id),))

    def update_user_credential(self, kind: str, credential_id: str, **values: Any) -> None:
        table, _cls, id_col = USER_CREDENTIALS[kind]
        self._w(update(table).where(table.c[id_col] == credential_id).values(**values), scopes=(("credential", kind, credential_id),))

    def delete_user_credential(self, kind: str, credential_id: str) -> None:
        table, _cls, id_col = USER_CREDENTIALS[kind]
        self._w(delete(table).where(table.c[id_col] == credential_id), scopes=(("credential", kind, credential_id),))

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
        self._w(insert(t.server_certificates).values(**values), scopes=_tag_scopes(cert.account_id, "server_certificate", cert.name.lower()))

    def move_server_certificate(self, account_id: str, old_key: str, name: str, path: str, arn: str) -> None:
        """A new name and/or path (UpdateServerCertificate), its tags following the name."""
        c = t.server_certificates.c
        scopes = _tag_scopes(account_id, "server_certificate", old_key) + _tag_scopes(account_id, "server_certificate", name.lower())
        self._w(update(t.server_certificates).where(c.account_id == account_id, c.name_key == old_key)
                .values(name=name, name_key=name.lower(), path=path, arn=arn), scopes=scopes)
        if name.lower() != old_key:
            tc = t.tags.c
            self._w(update(t.tags).where(tc.account_id == account_id, tc.resource_type == "server_certificate",
                                         tc.resource_key == old_key).values(resource_key=name.lower()), scopes=scopes)

    def delete_server_certificate(self, account_id: str, key: str) -> None:
        c, tc = t.server_certificates.c, t.tags.c
        scopes = _tag_scopes(account_id, "server_certificate", key)
        self._w(delete(t.server_certificates).where(c.account_id == account_id, c.name_key == key), scopes=scopes)
        self._w(delete(t.tags).where(tc.account_id == account_id, tc.resource_type == "server_certificate", tc.resource_key == key),
                scopes=scopes)


    # -- AWS Organizations (issue 17) ---------------------------------------------
    def organization(self, org_id: str) -> dict[str, Any] | None:
        c = t.org_organizations.c
        row = self.c.execute(select(t.org_organizations).where(c.org_id == org_id)).first()
        return _row_dict(row) if row is not None else None

    def organizations(self) -> list[dict[str, Any]]:
        """Every organization, by id (``iamroles org``)."""
        c = t.org_organizations.c
        return [_row_dict(r) for r in self.c.execute(select(t.org_organizations).order_by(c.org_id))]

    def org_attachments(self, org_id: str) -> list[tuple[str, str]]:
        """Every (policy id, target id) attachment of the organization."""
        c = t.org_attachments.c
        q = select(c.policy_id, c.target_id).where(c.org_id == org_id).order_by(c.target_id, c.policy_id)
        return [(r.policy_id, r.target_id) for r in self.c.execute(q)]

    def organization_of(self, account_id: str) -> dict[str, Any] | None:
        """The organization ``account_id`` belongs to (the management account's too), with the account's
        ``parent_id`` and ``joined_at``; None if it is in none."""
        o, a = t.org_organizations.c, t.org_accounts.c
        row = self.c.execute(select(t.org_organizations, a.parent_id, a.joined_at).join(t.org_accounts, a.org_id == o.org_id)
                             .where(a.account_id == account_id)).first()
        return _row_dict(row) if row is not None else None

    def insert_organization(self, org_id: str, management_account_id: str, root_id: str, feature_set: str,
                            when: datetime) -> None:
        """The organization, with its management account as its first member (the account's membership
        is its primary key: an account already in an organization is :class:`Duplicate`)."""
        scopes = (org_scope(org_id), org_member_scope(management_account_id))
        self._w(insert(t.org_accounts).values(account_id=management_account_id, org_id=org_id, parent_id=root_id,
                                              joined_method="CREATED", joined_at=when), scopes=scopes)
        self._w(insert(t.org_organizations).values(org_id=org_id, management_account_id=management_account_id,
                                                   root_id=root_id, feature_set=feature_set, created_at=when),
                scopes=scopes)

    def org_accounts(self, org_id: str, parent_id: str | None = None, after: str | None = None,
                     limit: int | None = None) -> list[dict[str, Any]]:
        """The organization's accounts (those under ``parent_id`` only, if given) in id order: all, or at most
        ``limit`` of those after the id ``after`` (a page, read from the index)."""
        c = t.org_accounts.c
        q = select(t.org_accounts).where(c.org_id == org_id)
        if parent_id is not None:
            q = q.where(c.parent_id == parent_id)
        q = _keyset(q, [c.account_id], None if after is None else (after,), limit, strict=True)
        return [_row_dict(r) for r in self.c.execute(q)]

    def org_account(self, org_id: str, account_id: str) -> dict[str, Any] | None:
        """A member of the organization (its row), or None."""
        c = t.org_accounts.c
        row = self.c.execute(select(t.org_accounts).where(c.org_id == org_id, c.account_id == account_id)).first()
        return _row_dict(row) if row is not None else None

    def count_org_accounts(self, org_id: str) -> int:
        c = t.org_accounts.c
        return int(self.c.execute(select(func.count()).select_from(t.org_accounts).where(c.org_id == org_id)).scalar() or 0)

    def insert_org_account(self, org_id: str, account_id: str, parent_id: str, method: str, when: datetime,
                           name: str | None = None, email: str | None = None) -> None:
        """A member (an e-mail address another account has is :class:`Duplicate`, as is an account that is a member
        already)."""
        self._w(insert(t.org_accounts).values(account_id=account_id, org_id=org_id, parent_id=parent_id,
                                              joined_method=method, joined_at=when, name=name, email=email),
                scopes=(org_scope(org_id), org_member_scope(account_id)))

    def org_email_taken(self, email: str) -> bool:
        c = t.org_accounts.c
        return self.c.execute(select(c.account_id).where(c.email == email)).first() is not None

    def remove_org_account(self, org_id: str, account_id: str) -> None:
        """The account out of the organization, with what the organization kept of it: its attachments, tags and
        delegations."""
        scopes = (org_scope(org_id), org_member_scope(account_id))
        a, at, tg, d = t.org_accounts.c, t.org_attachments.c, t.org_tags.c, t.org_delegated_admins.c
        self._w(delete(t.org_attachments).where(at.org_id == org_id, at.target_id == account_id), scopes=scopes)
        self._w(delete(t.org_tags).where(tg.org_id == org_id, tg.resource_id == account_id), scopes=scopes)
        self._w(delete(t.org_delegated_admins).where(d.org_id == org_id, d.account_id == account_id), scopes=scopes)
        self._w(delete(t.org_accounts).where(a.org_id == org_id, a.account_id == account_id), scopes=scopes)

    def move_org_account(self, org_id: str, account_id: str, parent_id: str) -> None:
        c = t.org_accounts.c
        self._w(update(t.org_accounts).where(c.org_id == org_id, c.account_id == account_id).values(parent_id=parent_id),
                scopes=(org_scope(org_id), org_member_scope(account_id)))

    def org_unit(self, org_id: str, ou_id: str) -> dict[str, Any] | None:
        c = t.org_units.c
        row = self.c.execute(select(t.org_units).where(c.org_id == org_id, c.ou_id == ou_id)).first()
        return _row_dict(row) if row is not None else None

    def org_units(self, org_id: str, parent_id: str | None = None, after: str | None = None,
                  limit: int | None = None) -> list[dict[str, Any]]:
        """The organization's OUs (the children of ``parent_id`` only, if given) in id order, paged as
        :meth:`org_accounts`."""
        c = t.org_units.c
        q = select(t.org_units).where(c.org_id == org_id)
        if parent_id is not None:
            q = q.where(c.parent_id == parent_id)
        q = _keyset(q, [c.ou_id], None if after is None else (after,), limit, strict=True)
        return [_row_dict(r) for r in self.c.execute(q)]

    def count_org_units(self, org_id: str) -> int:
        c = t.org_units.c
        return int(self.c.execute(select(func.count()).select_from(t.org_units).where(c.org_id == org_id)).scalar() or 0)

    def insert_org_unit(self, org_id: str, ou_id: str, parent_id: str, name: str, when: datetime) -> None:
        self._w(insert(t.org_units).values(ou_id=ou_id, org_id=org_id, parent_id=parent_id, name=name, created_at=when),
                scopes=(org_scope(org_id),))

    def rename_org_unit(self, org_id: str, ou_id: str, name: str) -> None:
        c = t.org_units.c
        self._w(update(t.org_units).where(c.org_id == org_id, c.ou_id == ou_id).values(name=name), scopes=(org_scope(org_id),))

    def delete_org_unit(self, org_id: str, ou_id: str) -> None:
        """An (empty) OU, with its attachments and tags."""
        c, at, tg = t.org_units.c, t.org_attachments.c, t.org_tags.c
        scopes = (org_scope(org_id),)
        self._w(delete(t.org_attachments).where(at.org_id == org_id, at.target_id == ou_id), scopes=scopes)
        self._w(delete(t.org_tags).where(tg.org_id == org_id, tg.resource_id == ou_id), scopes=scopes)
        self._w(delete(t.org_units).where(c.org_id == org_id, c.ou_id == ou_id), scopes=scopes)

    def org_policy(self, org_id: str, policy_id: str) -> dict[str, Any] | None:
        c = t.org_policies.c
        row = self.c.execute(select(t.org_policies).where(c.org_id == org_id, c.policy_id == policy_id)).first()
        return _row_dict(row) if row is not None else None

    def org_policies(self, org_id: str, policy_type: str | None = None, after: str | None = None,
                     limit: int | None = None) -> list[dict[str, Any]]:
        """The organization's policies (of ``policy_type`` only, if given) in id order, paged as :meth:`org_accounts`."""
        c = t.org_policies.c
        q = select(t.org_policies).where(c.org_id == org_id)
        if policy_type is not None:
            q = q.where(c.type == policy_type)
        q = _keyset(q, [c.policy_id], None if after is None else (after,), limit, strict=True)
        return [_row_dict(r) for r in self.c.execute(q)]

    def count_org_policies(self, org_id: str, policy_type: str) -> int:
        c = t.org_policies.c
        q = select(func.count()).select_from(t.org_policies).where(c.org_id == org_id, c.type == policy_type, c.aws_managed.is_(False))
        return int(self.c.execute(q).scalar() or 0)

    def update_org_policy(self, org_id: str, policy_id: str, name: str, description: str, content: str) -> None:
        """New name, description or content: the decisions of every account below where it is attached follow
        (the organization's scope)."""
        c = t.org_policies.c
        self._w(update(t.org_policies).where(c.org_id == org_id, c.policy_id == policy_id)
                .values(name=name, description=description, content=content), scopes=(org_scope(org_id),))

    def delete_org_policy(self, org_id: str, policy_id: str) -> None:
        """A policy attached nowhere, with its tags."""
        c, tg = t.org_policies.c, t.org_tags.c
        scopes = (org_scope(org_id),)
        self._w(delete(t.org_tags).where(tg.org_id == org_id, tg.resource_id == policy_id), scopes=scopes)
        self._w(delete(t.org_policies).where(c.org_id == org_id, c.policy_id == policy_id), scopes=scopes)

    def org_targets(self, org_id: str, policy_id: str, after: str | None = None, limit: int | None = None) -> list[str]:
        """The roots, OUs and accounts a policy is attached to, in id order (paged as :meth:`org_accounts`)."""
        c = t.org_attachments.c
        q = select(c.target_id).where(c.org_id == org_id, c.policy_id == policy_id)
        q = _keyset(q, [c.target_id], None if after is None else (after,), limit, strict=True)
        return list(self.c.execute(q).scalars())

    def insert_org_policy(self, org_id: str, policy_id: str, policy_type: str, name: str, description: str,
                          content: str, aws_managed: bool) -> None:
        self._w(insert(t.org_policies).values(org_id=org_id, policy_id=policy_id, type=policy_type, name=name,
                                              description=description, content=content, aws_managed=aws_managed),
                scopes=(org_scope(org_id),))

    def org_attached(self, org_id: str, target_id: str) -> list[str]:
        """The ids of the policies attached to ``target_id`` (the root, an OU or an account), of any type."""
        c = t.org_attachments.c
        q = select(c.policy_id).where(c.org_id == org_id, c.target_id == target_id).order_by(c.policy_id)
        return list(self.c.execute(q).scalars())

    def org_attach(self, org_id: str, policy_id: str, target_id: str) -> None:
        """Attached (an attachment there already is :class:`Duplicate`)."""
        self._w(insert(t.org_attachments).values(org_id=org_id, policy_id=policy_id, target_id=target_id),
                scopes=(org_scope(org_id),))

    def org_detach(self, org_id: str, policy_id: str, target_id: str) -> bool:
        c = t.org_attachments.c
        res = self._w(delete(t.org_attachments).where(c.org_id == org_id, c.policy_id == policy_id, c.target_id == target_id),
                      scopes=(org_scope(org_id),))
        return bool(res.rowcount)

    def org_policy_types(self, org_id: str) -> set[str]:
        c = t.org_policy_types.c
        return set(self.c.execute(select(c.type).where(c.org_id == org_id)).scalars())

    def enable_org_policy_type(self, org_id: str, policy_type: str) -> None:
        self._w(insert(t.org_policy_types).values(org_id=org_id, type=policy_type), scopes=(org_scope(org_id),))

    def disable_org_policy_type(self, org_id: str, policy_type: str) -> None:
        """The type disabled at the root, and every policy of that type detached from everything."""
        c, at, p = t.org_policy_types.c, t.org_attachments.c, t.org_policies.c
        scopes = (org_scope(org_id),)
        of_type = select(p.policy_id).where(p.org_id == org_id, p.type == policy_type)
        self._w(delete(t.org_attachments).where(at.org_id == org_id, at.policy_id.in_(of_type)), scopes=scopes)
        self._w(delete(t.org_policy_types).where(c.org_id == org_id, c.type == policy_type), scopes=scopes)

    def lock_organization(self, org_id: str) -> None:
        """On PostgreSQL, the organization's row locked until the transaction ends: its writes take turns (the
        rule that a target keeps one policy is read, then written). SQLite has one writer at a time anyway."""
        if self.postgres:
            c = t.org_organizations.c
            self._lock(select(c.org_id).where(c.org_id == org_id).with_for_update())

    def org_handshake(self, handshake_id: str) -> dict[str, Any] | None:
        c = t.org_handshakes.c
        row = self.c.execute(select(t.org_handshakes).where(c.handshake_id == handshake_id)).first()
        return _row_dict(row) if row is not None else None

    def insert_org_handshake(self, handshake_id: str, org_id: str, account_id: str, when: datetime, expires: datetime) -> None:
        self._w(insert(t.org_handshakes).values(handshake_id=handshake_id, org_id=org_id, account_id=account_id,
                                                state="OPEN", created_at=when, expires_at=expires),
                scopes=(org_scope(org_id),))

    def set_org_handshake_state(self, handshake_id: str, org_id: str, state: str, when: datetime | None = None) -> None:
        c = t.org_handshakes.c
        self._w(update(t.org_handshakes).where(c.handshake_id == handshake_id).values(state=state, updated_at=when),
                scopes=(org_scope(org_id),))

    def org_handshakes(self, org_id: str | None = None, account_id: str | None = None, after: str | None = None,
                       limit: int | None = None) -> list[dict[str, Any]]:
        """Handshakes an organization sent (``org_id``) or an account received (``account_id``), in id order, paged
        as :meth:`org_accounts`."""
        c = t.org_handshakes.c
        q = select(t.org_handshakes)
        if org_id is not None:
            q = q.where(c.org_id == org_id)
        if account_id is not None:
            q = q.where(c.account_id == account_id)
        q = _keyset(q, [c.handshake_id], None if after is None else (after,), limit, strict=True)
        return [_row_dict(r) for r in self.c.execute(q)]

    def count_open_org_handshakes(self, org_id: str, now: datetime) -> int:
        """Invitations still open (each counts against the organization's accounts until answered or expired)."""
        c = t.org_handshakes.c
        q = select(func.count()).select_from(t.org_handshakes).where(c.org_id == org_id, c.state == "OPEN", c.expires_at > now)
        return int(self.c.execute(q).scalar() or 0)

    # tags (case-sensitive keys)
    def org_tags(self, org_id: str, resource_id: str) -> list[tuple[str, str]]:
        c = t.org_tags.c
        q = select(c.key, c.value).where(c.org_id == org_id, c.resource_id == resource_id).order_by(c.key)
        return [(r.key, r.value) for r in self.c.execute(q)]

    def set_org_tags(self, org_id: str, resource_id: str, tags: Sequence[tuple[str, str]]) -> None:
        """Add or overwrite tags."""
        c = t.org_tags.c
        scopes = (org_scope(org_id),)
        for key, value in tags:
            res = self._w(update(t.org_tags).where(c.org_id == org_id, c.resource_id == resource_id, c.key == key)
                          .values(value=value), scopes=scopes)
            if not res.rowcount:
                self._w(insert(t.org_tags).values(org_id=org_id, resource_id=resource_id, key=key, value=value), scopes=scopes)

    def remove_org_tags(self, org_id: str, resource_id: str, keys: Sequence[str]) -> None:
        c = t.org_tags.c
        self._w(delete(t.org_tags).where(c.org_id == org_id, c.resource_id == resource_id, c.key.in_(list(keys))),
                scopes=(org_scope(org_id),))

    # CreateAccount's requests
    def insert_org_create_request(self, request_id: str, org_id: str, name: str, state: str, account_id: str | None,
                                  failure: str | None, requested: datetime, completed: datetime | None) -> None:
        self._w(insert(t.org_create_account_requests).values(
            request_id=request_id, org_id=org_id, account_name=name, state=state, account_id=account_id,
            failure_reason=failure, requested_at=requested, completed_at=completed), scopes=(org_scope(org_id),))

    def org_create_requests(self, org_id: str, request_id: str | None = None, states: Sequence[str] | None = None,
                            after: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        c = t.org_create_account_requests.c
        q = select(t.org_create_account_requests).where(c.org_id == org_id)
        if request_id is not None:
            q = q.where(c.request_id == request_id)
        if states:
            q = q.where(c.state.in_(list(states)))
        q = _keyset(q, [c.request_id], None if after is None else (after,), limit, strict=True)
        return [_row_dict(r) for r in self.c.execute(q)]

    # delegated administrators
    def org_delegations(self, org_id: str, account_id: str | None = None, service: str | None = None) -> list[dict[str, Any]]:
        """Delegated administrators and their services, by account then service."""
        c = t.org_delegated_admins.c
        q = select(t.org_delegated_admins).where(c.org_id == org_id)
        if account_id is not None:
            q = q.where(c.account_id == account_id)
        if service is not None:
            q = q.where(c.service_principal == service)
        return [_row_dict(r) for r in self.c.execute(q.order_by(c.account_id, c.service_principal))]

    def insert_org_delegation(self, org_id: str, account_id: str, service: str, when: datetime) -> None:
        """A delegation (one there already is :class:`Duplicate`)."""
        self._w(insert(t.org_delegated_admins).values(org_id=org_id, account_id=account_id, service_principal=service,
                                                      enabled_at=when), scopes=(org_scope(org_id),))

    def delete_org_delegation(self, org_id: str, account_id: str, service: str) -> None:
        c = t.org_delegated_admins.c
        self._w(delete(t.org_delegated_admins).where(c.org_id == org_id, c.account_id == account_id,
                                                     c.service_principal == service), scopes=(org_scope(org_id),))

    # the delegation policy
    def org_resource_policy(self, org_id: str) -> dict[str, Any] | None:
        c = t.org_resource_policies.c
        row = self.c.execute(select(t.org_resource_policies).where(c.org_id == org_id)).first()
        return _row_dict(row) if row is not None else None

    def put_org_resource_policy(self, org_id: str, policy_id: str, content: str) -> None:
        c = t.org_resource_policies.c
        scopes = (org_scope(org_id),)
        res = self._w(update(t.org_resource_policies).where(c.org_id == org_id).values(content=content), scopes=scopes)
        if not res.rowcount:
            self._w(insert(t.org_resource_policies).values(org_id=org_id, policy_id=policy_id, content=content), scopes=scopes)

    def delete_org_resource_policy(self, org_id: str) -> None:
        self._w(delete(t.org_resource_policies).where(t.org_resource_policies.c.org_id == org_id), scopes=(org_scope(org_id),))

    def delete_organization(self, org_id: str, management_account_id: str) -> None:
        """The organization and all it holds (it has no member but its management account by now)."""
        scopes = (org_scope(org_id), org_member_scope(management_account_id))
        for table in (t.org_tags, t.org_create_account_requests, t.org_delegated_admins, t.org_resource_policies,
                      t.org_service_access, t.org_root_features, t.org_handshakes, t.org_attachments, t.org_policy_types, t.org_policies, t.org_units,
                      t.org_accounts, t.org_organizations):
            self._w(delete(table).where(table.c.org_id == org_id), scopes=scopes)
    # -- centralized root access: trusted access and IAM's Organizations features (issue 14) ------------
    def org_service_access(self, org_id: str) -> list[dict[str, Any]]:
        """The services given trusted access to the organization (EnableAWSServiceAccess), by principal."""
        c = t.org_service_access.c
        q = select(t.org_service_access).where(c.org_id == org_id).order_by(c.service_principal)
        return [_row_dict(r) for r in self.c.execute(q)]

    def enable_org_service_access(self, org_id: str, service_principal: str, when: datetime) -> None:
        """Trusted access for ``service_principal`` (already given: :class:`Duplicate`)."""
        self._w(insert(t.org_service_access).values(org_id=org_id, service_principal=service_principal, enabled_at=when),
                scopes=(org_scope(org_id),))

    def disable_org_service_access(self, org_id: str, service_principal: str) -> bool:
        c = t.org_service_access.c
        res = self._w(delete(t.org_service_access).where(c.org_id == org_id, c.service_principal == service_principal),
                      scopes=(org_scope(org_id),))
        return bool(res.rowcount)

    def org_root_features(self, org_id: str) -> dict[str, datetime]:
        """The centralized root access features enabled for the organization, each with when it was."""
        c = t.org_root_features.c
        rows = self.c.execute(select(c.feature, c.enabled_at).where(c.org_id == org_id))
        return {r.feature: _utc(r.enabled_at) for r in rows}  # type: ignore[misc]

    def set_org_root_feature(self, org_id: str, feature: str, enabled: bool, when: datetime | None = None) -> None:
        """Enable (at ``when``; a no-op if it is) or disable ``feature``; every root session of the organization's
        accounts depends on the organization's scope, so each node sees the change at its next read of the change
        log."""
        c = t.org_root_features.c
        if enabled:
            if feature not in self.org_root_features(org_id):
                self._w(insert(t.org_root_features).values(org_id=org_id, feature=feature, enabled_at=when),
                        scopes=(org_scope(org_id),))
        else:
            self._w(delete(t.org_root_features).where(c.org_id == org_id, c.feature == feature), scopes=(org_scope(org_id),))

    def audit_access_by_account(self, accounts: Sequence[str],
                                since: datetime) -> list[tuple[str, str, str, datetime, str | None]]:
        """The Organizations access report: the latest event (at or after ``since``) of each service and account
        among the events of ``accounts``' principals: (service, account id, principal ARN, time, region)."""
        if not accounts:
            return []
        c = t.audit_events.c
        latest = (select(func.max(c.id)).where(c.account_id.in_(list(accounts)), c.event_time >= since,
                                               c.principal_arn.is_not(None))
                  .group_by(c.event_source, c.account_id))
        rows = self.c.execute(select(c.event_source, c.account_id, c.principal_arn, c.event_time, c.record)
                              .where(c.id.in_(latest)))
        found = []
        for r in rows:
            try:
                region = json.loads(r.record).get("awsRegion")
            except ValueError:
                region = None
            found.append((r.event_source, r.account_id, r.principal_arn, _utc(r.event_time), region))
        return found  # type: ignore[return-value]

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

    def __init__(self, url: str, cache_ttl: float = 1.0, cache_size: int = 100_000, siblings: Any = None) -> None:
        """``cache_ttl``: how soon another process's writes reach this one's caches; ``cache_size``: how many
        rows (and change stamps) the shared cache holds at most; ``siblings``: the counter shared with the
        server's other worker processes (see :class:`Shared`)."""
        self.url = url
        self.postgres = url.startswith("postgresql")
        # hide_parameters: a database error's text (logged when a call fails unexpectedly) never carries what a
        # statement was writing (password hashes, sealed secrets, the request's values)
        try:
            if url.startswith("sqlite"):
                self.engine: Engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                                                    hide_parameters=True)
                _sqlite_setup(self.engine)
            else:
                self.engine = create_engine(url, pool_size=16, max_overflow=16, pool_pre_ping=True, hide_parameters=True)
        except ModuleNotFoundError as exc:  # a dialect whose driver is not installed (mysql://, postgresql+asyncpg://)
            raise ArgumentError(f"the database driver {exc.name!r} this URL names is not installed") from None
        self.shared = Shared(cache_ttl, cache_size, siblings=siblings)

    @classmethod
    def sqlite_file(cls, path: Path) -> Store:
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(f"sqlite+pysqlite:///{path}")

    def migrate(self) -> None:
        from .migrate import upgrade

        upgrade(self.engine)

    @contextmanager
    def write(self) -> Iterator[Tx]:
        """A write transaction; what it changed is logged with it and invalidated here on commit (see :class:`Shared`)."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(iamroles_write=True)
            with conn.begin():
                tx = Tx(self, conn, True)
                yield tx
                tx._log_changes()
        tx._publish()

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
        """A write transaction, as :meth:`Store.write`'s (the audit trail's change nothing cached: they log nothing)."""
        if self._conn is None:
            conn = self._store.engine.connect()
            if not self._synced and not self._store.postgres:
                # outside any transaction (SQLite refuses to change it inside one); this connection only
                conn.connection.dbapi_connection.execute("PRAGMA synchronous=NORMAL")  # type: ignore[union-attr]
            self._conn = conn.execution_options(iamroles_write=True)
        try:
            with self._conn.begin():
                tx = Tx(self._store, self._conn, True)
                yield tx
                tx._log_changes()
        except BaseException:
            self.close()  # the connection may be what failed
            raise
        tx._publish()

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with suppress(Exception):  # a broken connection is dropped either way
                conn.close()


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
