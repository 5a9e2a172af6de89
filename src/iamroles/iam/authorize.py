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
from iamroles.policy import Arn, Decision, Effect, Policy, PolicyKind, PolicySet, Principal, Request, evaluate, parse_policy
from iamroles.policy.request import format_epoch, format_time
from iamroles.store import LRU, Scope, Tx, entity_scope, policy_scope

from .context import CallContext, Caller
from .organizations import Levels, Standing, org_standing, rcp_applies, service_linked
from .registry import On
from .root_access import root_session_refusal, task_policy

__all__ = ["PolicyCache", "account_standing", "authorize", "authorize_on", "bounded_session", "decide", "decide_trust",
           "identity_policies", "request_keys", "caller_policies"]


class PolicyCache:
    """Compiled policies by document text, and PolicySets by principal with what they were read from.

    Three bounded LRUs of ``limit`` entries each (a document's compiled form never goes stale: it is
    keyed by the text itself)."""

    def __init__(self, limit: int = 10_000) -> None:
        self._docs: LRU[tuple[str, str, str], Policy] = LRU(limit)
        self._sets: LRU[tuple[Any, ...], tuple[int, tuple[Scope, ...], PolicySet]] = LRU(limit)
        self._combined: LRU[tuple[int, int, bool, str | None], tuple[PolicySet, Policy | None, PolicySet]] = LRU(limit)
        # an account's standing in its organization (None: in none), with what it was read from; and sets bounded
        # by SCP and RCP levels
        self.standings: LRU[str, tuple[int, tuple[Scope, ...], Standing | None]] = LRU(limit)
        self._bounded: LRU[tuple[int, int, int], tuple[PolicySet, Levels | None, Levels | None, PolicySet]] = LRU(limit)
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

    def with_org(self, base: PolicySet, scp: Levels | None, rcp: Levels | None) -> PolicySet:
        """``base`` bounded by the SCP levels of the caller's account and the RCP levels of the resource's (kept, as
        :meth:`with_resource` keeps its sets)."""
        key = (id(base), id(scp), id(rcp))
        hit = self._bounded.get(key)
        if hit is not None and hit[0] is base and hit[1] is scp and hit[2] is rcp:
            return hit[3]
        bounded = PolicySet(identity=base.identity, resource=base.resource, boundary=base.boundary, session=base.session,
                            scp=scp or base.scp, rcp=rcp or base.rcp, resource_must_grant=base.resource_must_grant,
                            resource_pins=base.resource_pins, scope=base.scope)
        self._bounded[key] = (base, scp, rcp, bounded)
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
        if session.kind == "root":  # a privileged root session (reference_policies_condition-keys, aws:AssumedRoot)
            keys["aws:AssumedRoot"] = "true"
    return keys


def bounded_session(caller: Caller) -> bool:
    """Whether the caller's session carries policies of its own (session policies, scope-down policies, a privileged
    root session's task policy): they bind even the account root's sessions."""
    session = caller.session
    return session is not None and (session.kind == "root" or bool(session.policy or session.policy_arns or session.scopes))


def _root_session_policies(ctx: CallContext) -> PolicySet:
    """A privileged root session's policies: its task policy as a session policy beside the root's own
    permissions (AWS's task policies are Deny statements only: the root's permissions, less all the task does not
    need; a root session's session policies must allow, so the root's allow-everything is one of them), while the
    session's standing holds (the member still in the organization the issuer's account manages, with the features
    its task needs, iam/root_access.py); once it does not, a session policy that denies everything. Kept with the
    organization's scopes."""
    caller = ctx.caller
    session = caller.session
    assert session is not None
    cache: PolicyCache = ctx.cache
    key: tuple[Any, ...] = (caller.account_id, "root", session.source_arn, session.policy_arns, session.standing,
                            session.scopes)
    cached = cache.policy_set(ctx.tx, key)
    if cached is None:
        since = ctx.tx.since
        depends: list[Scope] = []
        issuer = Arn.maybe(session.source_arn or "")
        task = task_policy(session.policy_arns[0], caller.partition) if len(session.policy_arns) == 1 else None
        refused = issuer is None or task is None or session.standing is None or root_session_refusal(
            ctx.tx, issuer.account, caller.account_id, task, session.standing, depends)[0] is not None
        docs = ctx.tx.default_documents([task]) if task is not None and not refused else {}
        if task is not None and task in docs:
            policies = [cache.compiled(docs[task][1], PolicyKind.SESSION, session.policy_arns[0]),
                        cache.compiled(_ALLOW_ALL, PolicyKind.SESSION, "root-user")]
        else:
            policies = [cache.compiled(_DENY_ALL, PolicyKind.SESSION, "root-session-ended")]
        # (STS limits keep a root session from GetScopedCredentials; were it scoped down, its scopes would bind it)
        scope = [cache.compiled(p, PolicyKind.SESSION, f"scope-down-policy-{i}") for i, p in enumerate(session.scopes, 1)]
        cached = PolicySet(session=policies, scope=scope)
        if since is not None:
            cache.store(key, since, tuple(depends), cached)
    return cached


def caller_policies(ctx: CallContext) -> PolicySet:
    """The caller's policies: identity (with groups), boundary, and a session's policies (for the root's session,
    its session's policies only: the root has no identity policies)."""
    caller = ctx.caller
    session = caller.session
    if caller.task_scoped:
        return _root_session_policies(ctx)
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


def account_standing(ctx: CallContext, account_id: str) -> Standing | None:
    """``account_id``'s standing in its organization (None: in none): its path, its SCP and RCP levels. Cached per
    account with the scopes read (any change to the organization, or to the account's membership): one lookup a
    decision, whatever the number of accounts and policies stored."""
    cache: PolicyCache = ctx.cache
    hit = cache.standings.get(account_id)
    if hit is not None and ctx.tx.unchanged(hit[1], hit[0]):
        return hit[2]
    since = ctx.tx.since
    depends: list[Scope] = []
    standing = org_standing(ctx.tx, cache.compiled, account_id, depends)
    if since is not None:
        cache.standings[account_id] = (since, tuple(depends), standing)
    return standing


def _org_keys(context: dict[str, Any], standing: Standing | None, side: str) -> None:
    """aws:PrincipalOrgID / aws:PrincipalOrgPaths (``side`` "Principal") or aws:ResourceOrgID / aws:ResourceOrgPaths
    ("Resource") of an account's ``standing`` (reference_policies_condition-keys.html), set after the operation's keys:
    IAM derives them, nobody supplies them."""
    if standing is not None:
        context[f"aws:{side}OrgID"] = standing.org_id
        context[f"aws:{side}OrgPaths"] = [standing.org_path]


_NONE = PolicySet()
_DENY_ALL = '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}'
_ALLOW_ALL = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'


def decide(ctx: CallContext, action: str, resource: str, keys: Mapping[str, Any] | None = None,
           resource_policy: Policy | None = None, resource_account: str | None = None,
           must_grant: bool = False, pins: str | None = None) -> Decision:
    """The policy core's decision for the caller (with a resource's policy, if it has one), bounded by the SCPs of
    the caller's account and the RCPs of the resource's (``resource_account``, the caller's own by default).

    ``must_grant``: the resource policy must allow the caller by itself (a key policy; a trust policy always must).
    ``pins``: a role's ``trust_pins`` (the unique ids of the principals its trust policy named when saved).
    """
    caller = ctx.caller
    account = resource_account or caller.account_id
    context = request_keys(ctx)
    if keys:
        context.update(keys)
    # the root bypasses identity policies (not its session's own policies)
    policies = _NONE if caller.is_root and not bounded_session(caller) else caller_policies(ctx)
    cache: PolicyCache | None = ctx.cache
    if cache is not None:
        mine = account_standing(ctx, caller.account_id)
        theirs = mine if account == caller.account_id else account_standing(ctx, account)
        _org_keys(context, mine, "Principal")
        _org_keys(context, theirs, "Resource")
        role_arn = caller.principal.role_arn
        # but not SCPs (the root included); RCPs bound every principal's requests to a member's resources
        scp = mine.scp if mine is not None and not service_linked(role_arn) else None
        rcp = theirs.rcp if theirs is not None and theirs.rcp is not None and rcp_applies(action, resource, role_arn) else None
        if scp is not None or rcp is not None:
            policies = cache.with_org(policies, scp, rcp)
        if resource_policy is not None or must_grant:
            policies = cache.with_resource(policies, resource_policy, must_grant, pins)
    elif resource_policy is not None or must_grant:
        policies = PolicySet(identity=policies.identity, resource=resource_policy, boundary=policies.boundary,
                             session=policies.session, resource_must_grant=must_grant,
                             resource_pins=json.loads(pins) if pins else None, scope=policies.scope)
    decision = evaluate(Request(caller.principal, action, resource, account, context, ctx.now), policies)
    if cache is not None:
        cache.decisions[decision.effect] += 1
    return decision


def decide_trust(ctx: CallContext, principal: Principal, action: str, role_arn: str, role_account: str, trust: Policy,
                 context: dict[str, Any]) -> Decision:
    """A role's trust policy deciding for a principal with no identity policies here (a service principal, a web
    identity, a SAML session), bounded by the RCPs of the role's account as every request to a member's resource is
    (RCPs apply to AssumeRoleWithWebIdentity and AssumeRoleWithSAML as to AssumeRole; AWS service principals are
    not exempt: the data perimeter's RCPs exempt them with aws:PrincipalIsAWSService themselves)."""
    cache: PolicyCache = ctx.cache
    policies = cache.with_resource(_NONE, trust, True)
    theirs = account_standing(ctx, role_account)
    _org_keys(context, theirs, "Resource")
    if theirs is not None and theirs.rcp is not None and rcp_applies(action, role_arn, None):
        policies = cache.with_org(policies, None, theirs.rcp)
    return evaluate(Request(principal, action, role_arn, role_account, context, ctx.now), policies)


def authorize(ctx: CallContext, action: str, resource: str, keys: Mapping[str, Any] | None = None,
              resource_policy: Policy | None = None, resource_account: str | None = None) -> None:
    """Raise AccessDenied unless the caller may perform ``action`` on ``resource`` (of ``resource_account``, governed
    by ``resource_policy``, if given: across accounts both it and the caller's policies must allow)."""
    own = resource_policy is None and resource_account in (None, ctx.caller.account_id)
    if (own and ctx.caller.is_root and not bounded_session(ctx.caller)
            and (ctx.cache is None or not _bounded(ctx, action, resource))):
        # the account root bypasses identity policies, not SCPs or RCPs (nor its session's policies, nor another
        # account's resource policy)
        return
    decision = decide(ctx, action, resource, keys, resource_policy=resource_policy, resource_account=resource_account)
    if not decision.allowed:
        raise AccessDenied(decision.message())


def _bounded(ctx: CallContext, action: str, resource: str) -> bool:
    """Do organization policies bound the caller's ``action`` on ``resource`` of its own account?"""
    standing = account_standing(ctx, ctx.caller.account_id)
    return standing is not None and (standing.scp is not None or (standing.rcp is not None and rcp_applies(action, resource, None)))


def authorize_on(ctx: CallContext, action: str, resource: str | tuple[On, ...], keys: Mapping[str, Any] | None = None) -> None:
    """:func:`authorize` on an operation's resource, or on each of the resources it acts on (with the condition keys
    each brings): AccessDenied unless every one is allowed."""
    if isinstance(resource, str):
        authorize(ctx, action, resource, keys)
        return
    for on in resource:
        authorize(ctx, on.action or action, on.arn, {**keys, **on.keys} if keys else on.keys, on.policy, on.account)
