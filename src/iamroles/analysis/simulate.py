"""IAM's policy simulator (SimulatePrincipalPolicy, SimulateCustomPolicy), decided by the policy core.

A :class:`Simulation` holds the policies (identity, a permissions boundary, a
resource-based policy, organization levels), the simulated caller and the
context; :func:`simulate` asks, for each action, for each resource, the
evaluator's decision (``iamroles.policy.evaluate``: the one every request
gets) and describes it as API_SimulatePrincipalPolicy /
API_SimulateCustomPolicy describe their results:

* one result per action; with resources named, ``EvalResourceName`` is the
  ARN format of the action's resource type (from the catalogue of AWS
  actions) or ``*``, the top-level decision is the most restrictive of the
  resources' (explicitDeny, implicitDeny, allowed), and each resource has
  its own result;
* MatchedStatements: the statements the evaluator's decision rests on (an
  explicit deny names its Deny statement only), with their positions in the
  document's text; statements of SCPs are not listed (EvaluationResult's
  MatchedStatements: "This field doesn't include statements from service
  control policies");
* MissingContextValues: keys read by the statements that could take part
  (action and resource match) that the context does not hold, SCPs aside;
* EvalDecisionDetails: for a cross-account request only, each policy type's
  own answer (absent within the account for ``*``, present and empty with
  resources named; absent when the SCPs deny); PermissionsBoundaryDecisionDetail
  with a boundary; OrganizationsDecisionDetail with organization levels.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from iamroles.catalog import CATALOG
from iamroles.policy import Effect, Match, Policy, PolicySet, PolicyType, Principal, Request, evaluate
from iamroles.policy.explain import missing_context_keys, type_effects
from iamroles.policy.positions import Position, Span, statement_spans
from iamroles.policy.request import ContextValue

__all__ = ["Source", "Simulation", "MatchedStatement", "ResourceResult", "ActionResult", "simulate",
           "IDENTITY", "RESOURCE", "BOUNDARY"]

# the SourcePolicyType and EvalDecisionDetails names IAM's simulator answers with
IDENTITY = "IAM Policy"
RESOURCE = "Resource Policy"
BOUNDARY = "Permissions Boundary Policy"

_DECISION = {Effect.ALLOW: "allowed", Effect.EXPLICIT_DENY: "explicitDeny", Effect.IMPLICIT_DENY: "implicitDeny"}
_RANK = {"allowed": 0, "implicitDeny": 1, "explicitDeny": 2}
_DETAIL_TYPES = ((PolicyType.IDENTITY, IDENTITY), (PolicyType.RESOURCE, RESOURCE), (PolicyType.BOUNDARY, BOUNDARY))


@dataclass(frozen=True, slots=True)
class Source:
    """A policy taking part in a simulation: the id and type the simulator names it by, its compiled form (whose
    ``name`` must be ``id``) and its text (for the statements' positions)."""

    id: str
    type: str
    policy: Policy
    text: str | None = None
    spans: tuple[Span, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "spans", statement_spans(self.text) if self.text else ())


@dataclass(frozen=True, slots=True)
class Simulation:
    principal: Principal
    identity: Sequence[Source] = ()
    boundary: Source | None = None
    resource_policy: Source | None = None
    organization: Sequence[Sequence[Source]] = ()  # SCP levels, root first
    context: Mapping[str, ContextValue] = field(default_factory=dict)
    resource_owner: str | None = None  # the account owning resources whose ARN names none


@dataclass(frozen=True, slots=True)
class MatchedStatement:
    source_id: str
    source_type: str
    start: Position | None
    end: Position | None


@dataclass(frozen=True, slots=True)
class ResourceResult:
    resource: str
    decision: str
    matched: tuple[MatchedStatement, ...]
    missing: tuple[str, ...]
    details: dict[str, str] | None  # EvalDecisionDetails (None: not answered)
    boundary_allowed: bool | None  # None: no boundary
    organizations_allowed: bool | None  # None: no organization levels


@dataclass(frozen=True, slots=True)
class ActionResult:
    action: str
    resource_name: str
    decision: str
    matched: tuple[MatchedStatement, ...]
    missing: tuple[str, ...]
    details: dict[str, str] | None
    boundary_allowed: bool | None
    organizations_allowed: bool | None
    resources: tuple[ResourceResult, ...] | None  # None: no resources were named ("*")


def _account_of(arn: str) -> str | None:
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 and parts[4] else None


class _Run:
    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        sources = list(sim.identity)
        if sim.boundary is not None:
            sources.append(sim.boundary)
        if sim.resource_policy is not None:
            sources.append(sim.resource_policy)
        self.by_name = {s.policy.name: s for s in sources}
        self.policies = PolicySet(
            identity=[s.policy for s in sim.identity],
            boundary=sim.boundary.policy if sim.boundary is not None else None,
            resource=sim.resource_policy.policy if sim.resource_policy is not None else None,
            scp=[[s.policy for s in level] for level in sim.organization],
        )
        # the policies whose keys count as missing (not the SCPs')
        self.readers = [s.policy for s in sources]

    def matched(self, matches: Sequence[Match]) -> tuple[MatchedStatement, ...]:
        out = []
        for m in matches:
            if m.policy_type in (PolicyType.SCP, PolicyType.RCP):
                continue
            source = self.by_name.get(m.policy)
            if source is None:
                continue
            span = source.spans[m.index] if m.index < len(source.spans) else None
            out.append(MatchedStatement(source.id, source.type, span.start if span else None, span.end if span else None))
        return tuple(out)

    def one(self, action: str, resource: str, named: bool) -> ResourceResult:
        sim = self.sim
        owner = _account_of(resource) or sim.resource_owner or sim.principal.account
        request = Request(sim.principal, action, resource, owner, sim.context)
        decision = evaluate(request, self.policies)
        effects = type_effects(request, self.policies)
        orgs = None
        if sim.organization:
            orgs = effects.get(PolicyType.SCP) is Effect.ALLOW
        details: dict[str, str] | None = None
        if not request.same_account:
            if orgs is not False:
                details = {}
                for t, name in _DETAIL_TYPES:
                    if t is PolicyType.BOUNDARY and self.policies.boundary is None:
                        continue
                    details[name] = _DECISION[effects.get(t, Effect.IMPLICIT_DENY)]
        elif named:
            details = {}
        boundary = None
        if self.policies.boundary is not None:
            boundary = effects.get(PolicyType.BOUNDARY) is Effect.ALLOW
        return ResourceResult(
            resource=resource,
            decision=_DECISION[decision.effect],
            matched=self.matched(decision.matches),
            missing=missing_context_keys(request, self.readers),
            details=details,
            boundary_allowed=boundary,
            organizations_allowed=orgs,
        )


def _template(action: str, resource: str) -> str:
    found = CATALOG.resource_types_of(action, resource)
    return found[0][1].arn_format if found else "*"


def _merge_details(parts: Sequence[dict[str, str] | None]) -> dict[str, str] | None:
    if any(p is None for p in parts):
        return None
    out: dict[str, str] = {}
    for p in parts:
        assert p is not None
        for k, v in p.items():
            if k not in out or _RANK[v] > _RANK[out[k]]:
                out[k] = v
    return out


def _all(values: Sequence[bool | None]) -> bool | None:
    if not values or values[0] is None:
        return None
    return all(bool(v) for v in values)


def simulate(sim: Simulation, actions: Sequence[str], resources: Sequence[str] | None = None) -> list[ActionResult]:
    """The simulator's results for each action (in order) on each resource (None: ``*``, no resources named)."""
    run = _Run(sim)
    out: list[ActionResult] = []
    for action in actions:
        if not resources:
            r = run.one(action, "*", False)
            out.append(ActionResult(action, "*", r.decision, r.matched, r.missing, r.details, r.boundary_allowed,
                                    r.organizations_allowed, None))
            continue
        each = tuple(run.one(action, resource, True) for resource in resources)
        matched: dict[MatchedStatement, None] = {}
        missing: dict[str, str] = {}
        for r in each:
            matched.update(dict.fromkeys(r.matched))
            for key in r.missing:
                missing.setdefault(key.lower(), key)
        out.append(ActionResult(
            action=action,
            resource_name=_template(action, resources[0]),
            decision=max((r.decision for r in each), key=_RANK.__getitem__),
            matched=tuple(matched),
            missing=tuple(missing.values()),
            details=_merge_details([r.details for r in each]),
            boundary_allowed=_all([r.boundary_allowed for r in each]),
            organizations_allowed=_all([r.organizations_allowed for r in each]),
            resources=each,
        ))
    return out
