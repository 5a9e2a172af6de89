"""Authorising a caller for an operation with the policy core, exactly as AWS.

A caller's policies (inline and attached, their groups', the boundary) are
parsed and compiled once and cached per principal, with the scopes they were
read from: the principal, its groups and every managed policy in the set. The
entry is good while none of those has changed (``store.sql.Shared``: at once
for writes through this process, within the cache TTL for another's), so a
write elsewhere in the account, or bookkeeping, leaves it alone.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from iamroles.errors import AccessDenied
from iamroles.policy import Decision, Effect, Policy, PolicyKind, PolicySet, Request, evaluate, parse_policy
from iamroles.policy.request import format_epoch, format_time
from iamroles.store import LRU, Scope, Tx, entity_scope, policy_scope

from .context import CallContext, Caller
from .organizations import Levels, Standing, org_standing

__all__ = ["PolicyCache", "authorize", "bounded_session", "caller_standing", "decide", "identity_policies", "request_keys", "caller_policies"]


class PolicyCache:
    """Compiled policies by document text, and PolicySets by principal with what they were read from.

    Three bounded LRUs of ``limit`` entries each (a document's compiled form never goes stale: it is
    keyed by the text itself)."""

    def __init__(self, limit: int = 10_000) -> None:
        self._docs: LRU[tuple[str, str, str], Policy] = LRU(limit)
        self._sets: LRU[tuple[Any, ...], tuple[int, tuple[Scope, ...], PolicySet]] = LRU(limit)
        self._combined: LRU[tuple[int, int, bool, str | None], tuple[PolicySet, Policy | None, PolicySet]] = LRU(limit)
        # a caller's standing in its organization (None: in none), with what it was read from; and sets with SCPs
        self.standings: LRU[tuple[str, str | None], tuple[int, tuple[Scope, ...], Standing | None]] = LRU(limit)
        self._bounded: LRU[tuple[int, int], tuple[PolicySet, Levels, PolicySet]] = LRU(limit)
        self.decisions: dict[Effect, int] = dict.fromkeys(Effect, 0)  # what decide() answered, by effect (for metrics)

    def compiled(self, document: str, kind: PolicyKind, name: str) -> Policy:
        key = (document, kind.value, name)
        hit = self._docs.get(key)
        if hit is None:
            hit = parse_policy(document, kind, name=name)
            self._docs[key] = hit
        return hit

    def policy_set(self, tx: Tx, key: tuple[Any, ...]) -> PolicySet | None:
        """The set kept for ``key`` if nothing it was read from has changed since, as ``tx`` sees it."""
        hit = self._sets.get(key)
        return hit[2] if hit is not None and tx.unchanged(hit[1], hit[0]) else None

    def store(self, key: tuple[Any, ...], since: int, depends: tuple[Scope, ...], policies: PolicySet) -> None:
        """Keep a set read by a transaction begun at ``since`` (``Tx.since``) from the scopes ``depends``."""
        self._sets[key] = (since, depends, policies)

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
                             resource_pins=json.loads(pins) if pins else None, scope=base.scope)
        self._combined[key] = (base, resource, combined)
        return combined

    def with_scps(self, base: PolicySet, levels: Levels) -> PolicySet:
        """``base`` bounded by the SCP ``levels`` (kept, as :meth:`with_resource` keeps its sets)."""
        key = (id(base), id(levels))
        hit = self._bounded.get(key)
        if hit is not None and hit[0] is base and hit[1] is levels:
            return hit[2]
        bounded = PolicySet(identity=base.identity, resource=base.resource, boundary=base.boundary, session=base.session,
                            scp=levels, rcp=base.rcp, resource_must_grant=base.resource_must_grant,
                            resource_pins=base.resource_pins, scope=base.scope)
        self._bounded[key] = (base, levels, bounded)
        return bounded

    def clear(self) -> None:
        self._docs.clear()
        self._sets.clear()
        self._combined.clear()
        self.standings.clear()
        self._bounded.clear()


def _managed(tx: Tx, cache: PolicyCache, arns: list[str], kind: PolicyKind = PolicyKind.IDENTITY) -> list[Policy]:
    docs = tx.default_documents(arns)
    return [cache.compiled(docs[a][1], kind, a) for a in arns if a in docs]


def identity_policies(tx: Tx, cache: PolicyCache, account_id: str, entity_type: str, entity_key: str,
                      depends: list[Scope] | None = None) -> PolicySet:
    """The identity policies and boundary of a user or role (with a user's groups); ``depends`` gets the
    scopes they were read from (the entity, its groups, the managed policies)."""
    owners = [(entity_type, entity_key)]
    if entity_type == "user":
        owners += [("group", g) for g in tx.groups_of(account_id, entity_key)]
    identity: list[Policy] = []
    scopes = depends if depends is not None else []
    for etype, ekey in owners:
        scopes.append(entity_scope(etype, account_id, ekey))
        for inline in tx.inlines(account_id, etype, ekey):
            identity.append(cache.compiled(inline.document, PolicyKind.IDENTITY, f"{etype}/{ekey}/{inline.name}"))
        arns = tx.attached(account_id, etype, ekey)
        scopes.extend(policy_scope(a) for a in arns)
        identity.extend(_managed(tx, cache, arns))
    entity = tx.entity(entity_type, account_id, entity_key)
    boundary = None
    boundary_arn = getattr(entity, "permissions_boundary", None)  # users' and roles' (groups have none)
    if boundary_arn:
        scopes.append(policy_scope(boundary_arn))
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


def bounded_session(caller: Caller) -> bool:
    """Whether the caller's session carries policies of its own (session policies, scope-down policies): they bind
    even the account root's sessions."""
    session = caller.session
    return session is not None and bool(session.policy or session.policy_arns or session.scopes)


def caller_policies(ctx: CallContext) -> PolicySet:
    """The caller's policies: identity (with groups), boundary, and a session's policies (for the root's session,
    its session's policies only: the root has no identity policies)."""
    caller = ctx.caller
    session = caller.session
    etype, ekey = ("user", caller.user_key) if caller.user_key else ("role", caller.role_key) if caller.role_key else ("root", "")
    key: tuple[Any, ...] = (caller.account_id, etype, ekey)
    if session is not None:
        key += (session.kind, session.policy, session.policy_arns, session.scopes)
    cache: PolicyCache = ctx.cache  # CallContext holds it as Any (this module imports iam.context)
    cached = cache.policy_set(ctx.tx, key)
    if cached is None:
        since = ctx.tx.since  # before the reads
        depends: list[Scope] = []
        cached = _NONE if etype == "root" else identity_policies(ctx.tx, cache, caller.account_id, etype, ekey, depends)
        # a federated user with no session policy has no permissions of its own: the policy core denies
        # it (only a resource-based policy naming the session can allow it)
        if session is not None and (session.policy or session.policy_arns or session.scopes):
            depends.extend(policy_scope(a) for a in session.policy_arns)
            policies = list(_managed(ctx.tx, cache, list(session.policy_arns), PolicyKind.SESSION))
            if session.policy:
                policies.append(cache.compiled(session.policy, PolicyKind.SESSION, "session-policy"))
            scope = [cache.compiled(p, PolicyKind.SESSION, f"scope-down-policy-{i}") for i, p in enumerate(session.scopes, 1)]
            cached = PolicySet(identity=cached.identity, boundary=cached.boundary, session=policies, scope=scope)
        if since is not None:
            cache.store(key, since, tuple(depends), cached)
    return cached


def caller_standing(ctx: CallContext) -> Standing | None:
    """The caller's account's standing in its organization (None: in none), with no SCP levels for a
    service-linked role ("SCPs don't affect service-linked roles", orgs_manage_policies_scps). Cached per account
    and role with the scopes read (any change to the organization, or to the account's membership)."""
    caller = ctx.caller
    cache: PolicyCache = ctx.cache
    key = (caller.account_id, caller.role_key)
    hit = cache.standings.get(key)
    if hit is not None and ctx.tx.unchanged(hit[1], hit[0]):
        return hit[2]
    since = ctx.tx.since
    depends: list[Scope] = []
    standing = org_standing(ctx.tx, cache.compiled, caller.account_id, depends)
    if standing is not None and standing.levels is not None and caller.role_key is not None:
        depends.append(entity_scope("role", caller.account_id, caller.role_key))
        role = ctx.tx.entity("role", caller.account_id, caller.role_key)
        if role is not None and getattr(role, "path", "").startswith("/aws-service-role/"):
            standing = Standing(standing.org_id, standing.org_path, None)
    if since is not None:
        cache.standings[key] = (since, tuple(depends), standing)
    return standing


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
    standing = caller_standing(ctx) if ctx.cache is not None else None
    if standing is not None:
        context["aws:PrincipalOrgID"] = standing.org_id
        context["aws:PrincipalOrgPaths"] = [standing.org_path]
    if keys:
        context.update(keys)
    request = Request(caller.principal, action, resource, resource_account or caller.account_id, context, ctx.now)
    # the root bypasses identity policies (not its session's own policies)
    policies = _NONE if caller.is_root and not bounded_session(caller) else caller_policies(ctx)
    if standing is not None and standing.levels is not None:  # but not SCPs
        policies = ctx.cache.with_scps(policies, standing.levels)
    if resource_policy is not None or must_grant:
        policies = ctx.cache.with_resource(policies, resource_policy, must_grant, pins)
    decision = evaluate(request, policies)
    if ctx.cache is not None:
        ctx.cache.decisions[decision.effect] += 1
    return decision


def authorize(ctx: CallContext, action: str, resource: str, keys: Mapping[str, Any] | None = None) -> None:
    """Raise AccessDenied unless the caller may perform ``action`` on ``resource``."""
    if ctx.caller.is_root and not bounded_session(ctx.caller) and (
            ctx.cache is None or getattr(caller_standing(ctx), "levels", None) is None):
        return  # the account root bypasses identity policies, not SCPs (nor its session's policies)
    decision = decide(ctx, action, resource, keys)
    if not decision.allowed:
        raise AccessDenied(decision.message())
