"""Authorising a caller for an operation with the policy core, exactly as AWS.

A caller's policies (inline and attached, their groups', the boundary) are
parsed and compiled once and cached per principal; the cache entry is good
while the account's generation counter (bumped by every write that can
change a decision, on any node sharing the database) has not moved.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any

from iamroles.errors import AccessDenied
from iamroles.policy import Decision, Policy, PolicyKind, PolicySet, Request, evaluate, parse_policy
from iamroles.policy.request import format_epoch, format_time
from iamroles.store import Tx

from .context import CallContext

__all__ = ["PolicyCache", "authorize", "decide", "identity_policies", "request_keys", "caller_policies"]


class PolicyCache:
    """Compiled policies by document text, and PolicySets by principal and generation."""

    def __init__(self, limit: int = 10_000) -> None:
        self._docs: dict[tuple[str, str, str], Policy] = {}
        self._sets: dict[tuple[Any, ...], tuple[int, PolicySet]] = {}
        self._combined: dict[tuple[int, int, bool, str | None], tuple[PolicySet, Policy | None, PolicySet]] = {}
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

    def with_resource(self, base: PolicySet, resource: Policy | None, must_grant: bool = False,
                      pins: str | None = None) -> PolicySet:
        """``base`` with ``resource`` as its resource policy (``must_grant``: it must allow the caller by itself,
        as a key policy must; always so for a trust policy; ``pins``: a role's ``trust_pins``), kept so that its
        per-action plans are reused (a PolicySet remembers which statements can match each action; a new one
        starts over)."""
        key = (id(base), id(resource), must_grant, pins)
        hit = self._combined.get(key)
        if hit is not None and hit[0] is base and hit[1] is resource:
            return hit[2]
        combined = PolicySet(identity=base.identity, resource=resource, boundary=base.boundary, session=base.session,
                             scp=base.scp, rcp=base.rcp, resource_must_grant=must_grant,
                             resource_pins=json.loads(pins) if pins else None)
        with self._lock:
            if len(self._combined) >= self._limit:
                self._combined.clear()
            self._combined[key] = (base, resource, combined)
        return combined

    def clear(self) -> None:
        with self._lock:
            self._docs.clear()
            self._sets.clear()
            self._combined.clear()


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
    boundary_arn = getattr(entity, "permissions_boundary", None)  # users' and roles' (groups have none)
    if boundary_arn:
        found = _managed(tx, cache, [boundary_arn], PolicyKind.BOUNDARY)
        # a boundary whose policy is gone allows nothing
        boundary = found[0] if found else cache.compiled(_DENY_ALL, PolicyKind.BOUNDARY, "missing-boundary")
    return PolicySet(identity=identity, boundary=boundary)


def request_keys(ctx: CallContext) -> dict[str, Any]:
    """The global condition keys of the HTTP request and the caller's session."""
    keys: dict[str, Any] = {
        "aws:SourceIp": ctx.source_ip,
        "aws:SecureTransport": "true" if ctx.secure_transport else "false",
        "aws:RequestedRegion": ctx.region,
        "aws:CurrentTime": format_time(ctx.now),
        "aws:UserAgent": ctx.user_agent,
    }
    session = ctx.caller.session
    if session is not None:
        keys["aws:TokenIssueTime"] = format_epoch(session.issued)
        keys["aws:MultiFactorAuthPresent"] = "true" if session.mfa_time is not None else "false"
        if session.mfa_time is not None:
            keys["aws:MultiFactorAuthAge"] = str(max(0, int(ctx.now.timestamp()) - session.mfa_time))
        if session.source_identity:
            keys["aws:SourceIdentity"] = session.source_identity
    return keys


def caller_policies(ctx: CallContext) -> PolicySet:
    """The caller's policies: identity (with groups), boundary, and a session's policies."""
    caller = ctx.caller
    session = caller.session
    etype, ekey = ("user", caller.user_key) if caller.user_key else ("role", caller.role_key)
    assert ekey is not None
    generation = ctx.tx.generation(caller.account_id)
    key: tuple[Any, ...] = (caller.account_id, etype, ekey)
    if session is not None:
        key += (session.kind, session.policy, session.policy_arns)
    cached = ctx.cache.policy_set(key, generation)
    if cached is None:
        cached = identity_policies(ctx.tx, ctx.cache, caller.account_id, etype, ekey)
        # a federated user with no session policy has no permissions of its own: the policy core denies
        # it (only a resource-based policy naming the session can allow it)
        if session is not None and (session.policy or session.policy_arns):
            policies = list(_managed(ctx.tx, ctx.cache, list(session.policy_arns), PolicyKind.SESSION))
            if session.policy:
                policies.append(ctx.cache.compiled(session.policy, PolicyKind.SESSION, "session-policy"))
            cached = PolicySet(identity=cached.identity, boundary=cached.boundary, session=policies)
        ctx.cache.store(key, generation, cached)
    return cached


_NONE = PolicySet()
_DENY_ALL = '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}'


def decide(ctx: CallContext, action: str, resource: str, keys: Mapping[str, Any] | None = None,
           resource_policy: Policy | None = None, resource_account: str | None = None,
           must_grant: bool = False, pins: str | None = None) -> Decision:
    """The policy core's decision for the caller (with a resource's policy, if it has one).

    ``must_grant``: the resource policy must allow the caller by itself (a key policy; a trust policy always must).
    ``pins``: a role's ``trust_pins`` (the unique ids of the principals its trust policy named when saved).
    """
    caller = ctx.caller
    context = request_keys(ctx)
    if keys:
        context.update(keys)
    request = Request(caller.principal, action, resource, resource_account or caller.account_id, context, ctx.now)
    policies = _NONE if caller.is_root else caller_policies(ctx)  # the root bypasses identity policies
    if resource_policy is not None or must_grant:
        policies = ctx.cache.with_resource(policies, resource_policy, must_grant, pins)
    return evaluate(request, policies)


def authorize(ctx: CallContext, action: str, resource: str, keys: Mapping[str, Any] | None = None) -> None:
    """Raise AccessDenied unless the caller may perform ``action`` on ``resource``."""
    if ctx.caller.is_root:
        return  # the account root bypasses identity policies (there are no SCPs here yet)
    decision = decide(ctx, action, resource, keys)
    if not decision.allowed:
        raise AccessDenied(decision.message())
