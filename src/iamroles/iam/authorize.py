"""Authorising a caller for an operation with the policy core, exactly as AWS.

A caller's policies (inline and attached, their groups', the boundary) are
parsed and compiled once and cached per principal; the cache entry is good
while the account's generation counter (bumped by every write that can
change a decision, on any node sharing the database) has not moved.
"""
from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from iamroles.errors import AccessDenied
from iamroles.policy import Policy, PolicyKind, PolicySet, Request, evaluate, parse_policy
from iamroles.policy.request import format_time
from iamroles.store import Tx

from .context import CallContext

__all__ = ["PolicyCache", "authorize", "identity_policies", "request_keys"]


class PolicyCache:
    """Compiled policies by document text, and PolicySets by principal and generation."""

    def __init__(self, limit: int = 10_000) -> None:
        self._docs: dict[tuple[str, str, str], Policy] = {}
        self._sets: dict[tuple[Any, ...], tuple[int, PolicySet]] = {}
        self._lock = threading.Lock()
        self._limit = limit

    def compiled(self, document: str, kind: PolicyKind, name: str) -> Policy:
        key = (document, kind.value, name)
        hit = self._docs.get(key)
        if hit is None:
            hit = parse_policy(document, kind, name=name)
            with self._lock:
                if len(self._docs) >= self._limit:
                    self._docs.clear()
                self._docs[key] = hit
        return hit

    def policy_set(self, key: tuple[Any, ...], generation: int) -> PolicySet | None:
        hit = self._sets.get(key)
        return hit[1] if hit is not None and hit[0] == generation else None

    def store(self, key: tuple[Any, ...], generation: int, policies: PolicySet) -> None:
        with self._lock:
            if len(self._sets) >= self._limit:
                self._sets.clear()
            self._sets[key] = (generation, policies)

    def clear(self) -> None:
        with self._lock:
            self._docs.clear()
            self._sets.clear()


def _managed(tx: Tx, cache: PolicyCache, arns: list[str], kind: PolicyKind = PolicyKind.IDENTITY) -> list[Policy]:
    docs = tx.default_documents(arns)
    return [cache.compiled(docs[a][1], kind, a) for a in arns if a in docs]


def identity_policies(tx: Tx, cache: PolicyCache, account_id: str, entity_type: str, entity_key: str) -> PolicySet:
    """The identity policies and boundary of a user or role (with a user's groups)."""
    owners = [(entity_type, entity_key)]
    if entity_type == "user":
        owners += [("group", g) for g in tx.groups_of(account_id, entity_key)]
    identity: list[Policy] = []
    for etype, ekey in owners:
        for inline in tx.inlines(account_id, etype, ekey):
            identity.append(cache.compiled(inline.document, PolicyKind.IDENTITY, f"{etype}/{ekey}/{inline.name}"))
        identity.extend(_managed(tx, cache, tx.attached(account_id, etype, ekey)))
    entity = tx.entity(entity_type, account_id, entity_key)
    boundary = None
    if entity is not None and getattr(entity, "permissions_boundary", None):
        found = _managed(tx, cache, [entity.permissions_boundary], PolicyKind.BOUNDARY)
        # a boundary whose policy is gone allows nothing
        boundary = found[0] if found else cache.compiled(
            '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}',
            PolicyKind.BOUNDARY, "missing-boundary",
        )
    return PolicySet(identity=identity, boundary=boundary)


def request_keys(ctx: CallContext) -> dict[str, Any]:
    """The global condition keys of the HTTP request itself."""
    return {
        "aws:SourceIp": ctx.source_ip,
        "aws:SecureTransport": "true" if ctx.secure_transport else "false",
        "aws:RequestedRegion": ctx.region,
        "aws:CurrentTime": format_time(ctx.now),
        "aws:UserAgent": ctx.user_agent,
    }


def caller_policies(ctx: CallContext) -> PolicySet:
    caller = ctx.caller
    if caller.session is not None and hasattr(caller.session, "policy_set"):
        return caller.session.policy_set(ctx)  # type: ignore[no-any-return]
    etype, ekey = ("user", caller.user_key) if caller.user_key else ("role", caller.role_key)
    assert ekey is not None
    generation = ctx.tx.generation(caller.account_id)
    key = (caller.account_id, etype, ekey)
    cached = ctx.cache.policy_set(key, generation)
    if cached is None:
        cached = identity_policies(ctx.tx, ctx.cache, caller.account_id, etype, ekey)
        ctx.cache.store(key, generation, cached)
    return cached


def authorize(ctx: CallContext, action: str, resource: str, keys: Mapping[str, Any] | None = None) -> None:
    """Raise AccessDenied unless the caller may perform ``action`` on ``resource``."""
    caller = ctx.caller
    if caller.is_root:
        return  # the account root bypasses identity policies (there are no SCPs here yet)
    context = request_keys(ctx)
    if keys:
        context.update(keys)
    request = Request(caller.principal, action, resource, caller.account_id, context, ctx.now)
    decision = evaluate(request, caller_policies(ctx))
    if not decision.allowed:
        raise AccessDenied(decision.message())
