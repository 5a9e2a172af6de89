"""The decision: AWS's policy evaluation logic over every policy type.

``evaluate(request, policies)`` follows the IAM User Guide's flow
(reference_policies_evaluation-logic and its cross-account page):

1. an explicit Deny in any applicable policy -> ExplicitDeny;
2. resource control policies, then service control policies: every level
   (root, OUs, account) must allow, else ImplicitDeny;
3. a resource-based policy that names the caller itself (user, role
   session, federated user, ``*``, service) allows, in the same account,
   whatever the identity side says; one that names the caller's role still
   has to pass the permissions boundary and session policies; one that
   names only the caller's account delegates to identity policies; a
   resource policy that must grant by itself (a role trust policy, a KMS
   key policy: ``PolicySet.resource_must_grant``) and names neither the
   caller, its role nor its account denies, whatever the identity side says
   ("Role trust policies and KMS key policies are exceptions to this logic,
   because they must explicitly allow access for principals",
   reference_policies_evaluation-logic);
4. across accounts both the resource side and the identity side must allow;
5. identity-based policies, then the permissions boundary, then session
   policies must each allow (the account root bypasses identity policies);
   a federated user session with no session policy has no permissions of its
   own (only a resource-based policy naming the session can allow it).

A Deny with NotPrincipal in a resource-based policy denies every IAM user or
role session that has a permissions boundary, whatever NotPrincipal names
(access_policies_boundaries).

The result names the statements that decided it and, for a denial, the
policy type AWS names in its AccessDenied message.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from .compile import CompiledStatement, Grant, Policy
from .document import PolicyKind, PolicyType
from .request import PrincipalType, Request

__all__ = ["Effect", "Decision", "Match", "PolicySet", "evaluate"]

_MEMO_LIMIT = 4096

# principals a permissions boundary can be attached to (through their user or role)
_BOUNDED = frozenset({PrincipalType.USER, PrincipalType.ASSUMED_ROLE})


class Effect(str, Enum):
    ALLOW = "Allow"
    EXPLICIT_DENY = "ExplicitDeny"
    IMPLICIT_DENY = "ImplicitDeny"


@dataclass(frozen=True, slots=True)
class Match:
    """A statement that took part in a decision."""

    policy_type: PolicyType
    policy: str
    index: int
    sid: str | None
    effect: str

    def __str__(self) -> str:
        sid = f" ({self.sid})" if self.sid else ""
        return f"{self.effect} statement {self.index}{sid} of {self.policy_type.phrase} {self.policy}"


@dataclass(slots=True, unsafe_hash=True)
class Decision:
    """The answer to a :class:`Request` (a value: do not change it; not ``frozen`` only because a frozen
    dataclass's ``__init__`` costs three times a plain one's, on the path of every decision)."""

    effect: Effect
    denied_by: PolicyType | None
    matches: tuple[Match, ...]
    request: Request = field(repr=False, compare=False)
    # a denial because the resource policy had to grant by itself and did not: its kind (TRUST for a role's
    # trust policy, RESOURCE for a key policy or a service's own)
    not_granted: PolicyKind | None = None

    @property
    def allowed(self) -> bool:
        return self.effect is Effect.ALLOW

    def head(self) -> str:
        """The AccessDenied message with no reason: ``User: ARN is not authorized to perform: ACTION on resource:
        RESOURCE``, as services that do not say which policy type denied word every refusal (STS's AssumeRole: a
        refusal says nothing of the role's trust policy or of whether the role exists; troubleshoot_access-denied.html:
        "Some AWS services do not support this access denied error message format")."""
        r = self.request
        who = r.principal.arn or r.principal.service or r.principal.federated or "anonymous"
        verb = "is allowed to perform" if self.effect is Effect.ALLOW else "is not authorized to perform"
        return f"User: {who} {verb}: {r.action} on resource: {r.resource}"

    def message(self) -> str:
        """The AccessDenied message AWS would give (or a one-line allow)."""
        r = self.request
        head = self.head()
        if self.effect is Effect.ALLOW:
            return head
        assert self.denied_by is not None
        if self.effect is Effect.EXPLICIT_DENY:
            return f"{head} with an explicit deny in {self.denied_by.article} {self.denied_by.phrase}"
        if self.not_granted is PolicyKind.TRUST:
            return head  # STS words a trust refusal with no reason (API_AssumeRole errors)
        return f"{head} because no {self.denied_by.phrase} allows the {r.action} action"

    def explain(self) -> str:
        lines = [f"{self.effect.value}: {self.message()}"]
        if self.not_granted is not None:
            what = "trust policy" if self.not_granted is PolicyKind.TRUST else "resource-based policy"
            lines.append(f"  the {what} must allow this principal itself and names neither it, its role nor its account")
        lines.extend(f"  {m}" for m in self.matches)
        return "\n".join(lines)


Level = tuple[Policy, ...]


def _tuple(value: Iterable[Policy] | None) -> tuple[Policy, ...]:
    return tuple(value) if value else ()


@dataclass(frozen=True, slots=True)
class _Plan:
    """For one action: the statements that can take part, by role."""

    denies: tuple[tuple[PolicyType, CompiledStatement], ...]
    rcp: tuple[tuple[CompiledStatement, ...], ...]
    scp: tuple[tuple[CompiledStatement, ...], ...]
    resource: tuple[CompiledStatement, ...]
    identity: tuple[CompiledStatement, ...]
    boundary: tuple[CompiledStatement, ...]
    session: tuple[CompiledStatement, ...]
    scope: tuple[tuple[CompiledStatement, ...], ...]


def _allows(policies: Iterable[Policy], action: str) -> tuple[CompiledStatement, ...]:
    return tuple(st for p in policies for st in p.candidates(action) if not st.deny)


@dataclass(frozen=True, slots=True)
class PolicySet:
    """The policies that apply to one request, by type.

    ``scp`` and ``rcp`` are levels (root, each OU, the account), each a tuple
    of the policies attached there; every level must allow. Empty means the
    type does not apply (no organization, no boundary, no session policy).

    ``resource_must_grant``: the resource policy must allow the caller by
    itself, as a role trust policy or a KMS key policy must: an identity
    policy's Allow does not stand in for it within the account. Always on
    for a resource policy of kind ``PolicyKind.TRUST``.

    ``resource_pins``: the unique ids (``aws:userid``, a role's ``AROA...``) of
    the users and roles the resource policy named when it was saved, by ARN:
    IAM keeps those ids, so a principal deleted and made again under the same
    name is not the one the policy names (reference_policies_elements_principal).

    ``scope``: scope-down policies (GetScopedCredentials), each of which must
    allow, after the session policies ("The resulting session's permissions
    are the intersection of the calling session's existing permissions and
    this scope down policy", API_GetScopedCredentials); their denies are the
    session's. Session policies (and scopes) bind the account root's sessions
    too: the root bypasses identity policies, not the policies of its session.
    """

    identity: Sequence[Policy] = ()
    resource: Policy | None = None
    boundary: Policy | None = None
    session: Sequence[Policy] = ()
    scp: Sequence[Sequence[Policy]] = ()
    rcp: Sequence[Sequence[Policy]] = ()
    resource_must_grant: bool = False
    resource_pins: Mapping[str, str] | None = None
    scope: Sequence[Policy] = ()
    _plans: dict[str, _Plan] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.resource is not None and self.resource.kind is PolicyKind.TRUST:
            object.__setattr__(self, "resource_must_grant", True)
        object.__setattr__(self, "identity", _tuple(self.identity))
        object.__setattr__(self, "session", _tuple(self.session))
        object.__setattr__(self, "scope", _tuple(self.scope))
        object.__setattr__(self, "scp", tuple(_tuple(level) for level in self.scp))
        object.__setattr__(self, "rcp", tuple(_tuple(level) for level in self.rcp))

    def plan(self, action: str) -> _Plan:
        plan = self._plans.get(action)  # as the request spells it (the usual hit: no lower-casing)
        if plan is None:
            key = action.lower()
            plan = self._plans.get(key)
            if plan is None:
                plan = self._make_plan(key)
            if len(self._plans) >= _MEMO_LIMIT:
                self._plans.clear()
            self._plans[key] = self._plans[action] = plan
        return plan

    def _make_plan(self, action: str) -> _Plan:
        typed: list[tuple[PolicyType, Iterable[Policy]]] = [
            (PolicyType.RCP, (p for level in self.rcp for p in level)),
            (PolicyType.SCP, (p for level in self.scp for p in level)),
            (PolicyType.RESOURCE, (self.resource,) if self.resource else ()),
            (PolicyType.IDENTITY, self.identity),
            (PolicyType.BOUNDARY, (self.boundary,) if self.boundary else ()),
            (PolicyType.SESSION, self.session),
            (PolicyType.SESSION, self.scope),
        ]
        denies = tuple((t, st) for t, ps in typed for p in ps for st in p.candidates(action) if st.deny)
        return _Plan(
            denies=denies,
            rcp=tuple(_allows(level, action) for level in self.rcp),
            scp=tuple(_allows(level, action) for level in self.scp),
            resource=_allows((self.resource,) if self.resource else (), action),
            identity=_allows(self.identity, action),
            boundary=_allows((self.boundary,) if self.boundary else (), action),
            session=_allows(self.session, action),
            scope=tuple(_allows((p,), action) for p in self.scope),
        )


def _match(t: PolicyType, st: CompiledStatement) -> Match:
    m: Match | None = st.labels.get(t)
    if m is None:  # made once per statement and type: a decision names its statements without building them
        m = st.labels[t] = Match(t, st.policy.name, st.index, st.sid, "Deny" if st.deny else "Allow")
    return m


def _first(statements: tuple[CompiledStatement, ...], resource: str, ctx: object) -> CompiledStatement | None:
    for st in statements:
        if st.applies(resource, ctx):  # type: ignore[arg-type]
            return st
    return None


def _not_granted(policies: PolicySet) -> PolicyKind:
    """The kind of the resource policy that had to grant by itself and did not (RESOURCE when there is none)."""
    return policies.resource.kind if policies.resource is not None else PolicyKind.RESOURCE


def evaluate(request: Request, policies: PolicySet) -> Decision:
    """Decide ``request`` under ``policies`` as AWS does."""
    action = request.action
    plan = policies._plans.get(action) or policies.plan(action)
    resource = request.resource
    ctx = request.ctx
    principal = request.principal

    # 1. explicit deny anywhere
    pins = policies.resource_pins
    for t, st in plan.denies:
        if st.applies(resource, ctx) and (
            st.principals is None
            or st.grant(principal, pins if t is PolicyType.RESOURCE else None) != Grant.NONE
            # access_policies_boundaries: a Deny with NotPrincipal "will always deny any
            # IAM principal that has a permissions boundary policy attached, regardless
            # of the values specified in the NotPrincipal element"
            or (st.not_principal and policies.boundary is not None and principal.type in _BOUNDED)
        ):
            return Decision(Effect.EXPLICIT_DENY, t, (_match(t, st),), request)

    matches: list[Match] = []
    # 2. organization policies: each level must allow
    if plan.rcp or plan.scp:
        for t, levels in ((PolicyType.RCP, plan.rcp), (PolicyType.SCP, plan.scp)):
            for level in levels:
                hit = _first(level, resource, ctx)
                if hit is None:
                    return Decision(Effect.IMPLICIT_DENY, t, tuple(matches), request)
                matches.append(_match(t, hit))

    # 3. resource-based policy
    grant = Grant.NONE
    granting: CompiledStatement | None = None
    for st in plan.resource:
        if st.applies(resource, ctx):
            g = st.grant(principal, pins)
            if g > grant:
                grant = g
                granting = st
                if g == Grant.DIRECT:
                    break
    if granting is not None:
        matches.append(_match(PolicyType.RESOURCE, granting))

    if not principal.has_identity_policies:
        # services, web identities, anonymous callers: only the resource side speaks
        if grant == Grant.DIRECT:
            return Decision(Effect.ALLOW, None, tuple(matches), request)
        return Decision(Effect.IMPLICIT_DENY, PolicyType.RESOURCE, tuple(matches), request,
                        _not_granted(policies) if policies.resource_must_grant else None)
    if grant == Grant.NONE and policies.resource_must_grant:
        # a trust or key policy that names neither the caller, its role nor its account: no identity
        # policy can stand in for it, in the account or across accounts
        return Decision(Effect.IMPLICIT_DENY, PolicyType.RESOURCE, tuple(matches), request, _not_granted(policies))

    same_account = request.same_account
    if same_account:
        if grant == Grant.DIRECT:
            return Decision(Effect.ALLOW, None, tuple(matches), request)
    elif grant == Grant.NONE:
        return Decision(Effect.IMPLICIT_DENY, PolicyType.RESOURCE, tuple(matches), request)

    # 4/5. identity side
    if principal.type is PrincipalType.ACCOUNT:
        if not policies.session and not policies.scope:
            return Decision(Effect.ALLOW, None, tuple(matches), request)
    elif not (same_account and grant == Grant.ROLE):
        hit = _first(plan.identity, resource, ctx)
        if hit is None:
            return Decision(Effect.IMPLICIT_DENY, PolicyType.IDENTITY, tuple(matches), request)
        matches.append(_match(PolicyType.IDENTITY, hit))
    if policies.boundary is not None:
        hit = _first(plan.boundary, resource, ctx)
        if hit is None:
            return Decision(Effect.IMPLICIT_DENY, PolicyType.BOUNDARY, tuple(matches), request)
        matches.append(_match(PolicyType.BOUNDARY, hit))
    if policies.session:
        hit = _first(plan.session, resource, ctx)
        if hit is None:
            return Decision(Effect.IMPLICIT_DENY, PolicyType.SESSION, tuple(matches), request)
        matches.append(_match(PolicyType.SESSION, hit))
    elif principal.type is PrincipalType.FEDERATED_USER:
        # a federated user session (GetFederationToken) passed no session policy: "If
        # there is no session policy, the code checks whether the principal is a role
        # session. If the principal is a role session, then the request is Allowed.
        # Otherwise, the request is implicitly denied" (policy-eval-denyallow)
        return Decision(Effect.IMPLICIT_DENY, PolicyType.SESSION, tuple(matches), request)
    for level in plan.scope:
        hit = _first(level, resource, ctx)
        if hit is None:
            return Decision(Effect.IMPLICIT_DENY, PolicyType.SESSION, tuple(matches), request)
        matches.append(_match(PolicyType.SESSION, hit))
    return Decision(Effect.ALLOW, None, tuple(matches), request)
