"""IAM's policy simulator and context keys: SimulatePrincipalPolicy, SimulateCustomPolicy,
GetContextKeysForPrincipalPolicy, GetContextKeysForCustomPolicy.

Decisions are the policy core's (``iamroles.analysis.simulate`` asks
``policy.evaluate``, as every request is authorised); this module reads the
inputs as the API pages say (API_SimulatePrincipalPolicy.html,
API_SimulateCustomPolicy.html, API_GetContextKeysForPrincipalPolicy.html,
API_GetContextKeysForCustomPolicy.html) and a principal's policies from the store.

* SimulatePrincipalPolicy is authorised as ``iam:SimulatePrincipalPolicy`` on
  the principal's ARN (PolicySourceArn: a user, with its groups' policies, a
  group or a role of the caller's account); the custom operations on ``*``.
* The simulated caller (CallerArn, else a PolicySourceArn user or role) may be
  an IAM user or role; a role calls as a session of itself named after it
  (``aws:PrincipalArn`` is the role's ARN). Groups, sessions, federated users
  and services cannot be callers (InvalidInput). Without a caller there is
  no principal ARN: keys derived from one are missing, and a ResourcePolicy
  needs a caller (InvalidInput). The keys derived from the caller's ARN
  (aws:username, aws:PrincipalArn, aws:PrincipalAccount, aws:PrincipalType)
  and, for the PolicySourceArn's own user or role, its unique id
  (aws:userid) and tags (aws:PrincipalTag/*) are in the context; ContextEntries
  win over them. No other key is: aws:CurrentTime is missing unless given.
* ContextEntries are typed by ContextKeyType; a value that is not of its
  type, a single-valued type with other than one value, a duplicate key or a
  key with no service prefix is InvalidInput.
* ResourceHandlingOption: the EC2 scenarios (EC2-VPC-InstanceStore,
  EC2-VPC-InstanceStore-Subnet, EC2-VPC-EBS, EC2-VPC-EBS-Subnet) require
  ResourceArns of each resource type they name (instance, image, security
  group, network interface, and subnet / volume), told apart by the ARN
  formats of the catalogue of AWS actions; a missing one, or another option,
  is InvalidInput. Every action is then decided on every resource, the
  result being the most restrictive (there are no EC2 resources here to
  take the relations between them from).
* Results page over the actions (MaxItems, Marker); a page also stops before
  its actions times the resources would exceed 10,000 decisions ("IAM might
  return fewer results, even when there are more results available"). More
  than 1,000 ResourceArns is InvalidInput (the model sets no bound; each page
  answers for every resource, so this one keeps a page's cost bounded).
* A policy given as input that does not parse is InvalidInput with the
  parser's message; a stored policy that does not parse any more is
  PolicyEvaluation.
"""
from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from typing import Any

from iamroles.analysis import ActionResult, MatchedStatement, ResourceResult, Simulation, Source, simulate
from iamroles.analysis.simulate import BOUNDARY, IDENTITY, RESOURCE
from iamroles.catalog import CATALOG
from iamroles.errors import InvalidInput, PolicyEvaluation
from iamroles.policy import Policy, PolicyError, PolicyKind, Principal, PrincipalType, parse_policy
from iamroles.policy.conditions import parse_date, parse_number
from iamroles.policy.explain import context_keys
from iamroles.policy.positions import Position
from iamroles.store import Entity

from .common import decode_marker, encode_marker, invalid_marker, max_items, not_found
from .context import CallContext
from .registry import Input, Output, operation

__all__: list[str] = []

_ENTITY_ARN = re.compile(
    r"arn:(?P<partition>[\w-]+):iam::(?P<account>\d{12}):(?P<kind>user|group|role)(?P<path>/(?:[!-~]*/)?)(?P<name>[\w+=,.@-]+)\Z"
)
_POLICY_ARN = re.compile(r"arn:[\w-]+:iam::(?:\d{12}|aws):policy/(?P<rest>.+)\Z")
_ACCOUNT = re.compile(r"\d{12}\Z")
_ROOT = re.compile(r"arn:[\w-]+:iam::(?P<account>\d{12}):root\Z")
_MAX_DECISIONS_PER_PAGE = 10_000
MAX_RESOURCES = 1000  # each page answers for every resource: the bound keeps a page's cost and size bounded

# ResourceHandlingOption: the resource types each EC2 scenario requires (API_SimulateCustomPolicy.html)
_BASE = ("instance", "image", "security-group", "network-interface")
SCENARIOS: dict[str, tuple[str, ...]] = {
    "EC2-VPC-InstanceStore": _BASE,
    "EC2-VPC-InstanceStore-Subnet": _BASE + ("subnet",),
    "EC2-VPC-EBS": _BASE + ("volume",),
    "EC2-VPC-EBS-Subnet": _BASE + ("subnet", "volume"),
}


# -- inputs ------------------------------------------------------------------------------------------------------------
def _parse(text: str, kind: PolicyKind, name: str, what: str) -> Policy:
    try:
        return parse_policy(text, kind, name=name)
    except PolicyError as err:
        raise InvalidInput(f"{what}: {err}") from None


def _inputs(inp: Input, member: str, kind: PolicyKind, stype: str) -> list[Source]:
    out = []
    for i, text in enumerate(inp.get(member) or (), start=1):
        sid = f"{member}.{i}"
        out.append(Source(sid, stype, _parse(text, kind, sid, sid), text))
    return out


def _boundary_input(inp: Input) -> Source | None:
    given = _inputs(inp, "PermissionsBoundaryPolicyInputList", PolicyKind.BOUNDARY, BOUNDARY)
    if len(given) > 1:
        raise InvalidInput("The list of Permissions Boundary policies cannot exceed 1 items.")
    return given[0] if given else None


def _actions(inp: Input) -> list[str]:
    actions = list(inp["ActionNames"])
    for action in actions:
        prefix, sep, name = action.partition(":")
        if not sep or not prefix or not name or ":" in name:
            raise InvalidInput(f"Action {action} must be of the form service:Action, e.g. iam:CreateUser.")
        if "*" in action or "?" in action:
            raise InvalidInput(f"Action {action} contains a wildcard; the simulator takes action names only.")
    return actions


def _resources(inp: Input) -> list[str] | None:
    given = inp.get("ResourceArns")
    if not given:
        return None
    if len(given) > MAX_RESOURCES:
        raise InvalidInput(f"ResourceArns holds {len(given)} resources; a simulation takes at most {MAX_RESOURCES}.")
    for arn in given:
        if arn != "*" and (not arn.startswith("arn:") or arn.count(":") < 5):
            raise InvalidInput(f"Resource {arn} must be an ARN or *.")
    return list(given)


def _owner(inp: Input) -> str | None:
    owner = inp.get("ResourceOwner")
    if owner is None:
        return None
    m = _ROOT.match(owner)
    if m:
        return m.group("account")
    if _ACCOUNT.match(owner):
        return str(owner)
    raise InvalidInput(f"ResourceOwner {owner} must be an account's ARN (arn:aws:iam::123456789012:root) or its id.")


def _checked(kind: str, name: str, value: str) -> str:
    ok: bool
    if kind == "string":
        ok = True
    elif kind == "numeric":
        ok = parse_number(value) is not None
    elif kind == "boolean":
        ok = value.lower() in ("true", "false")
        value = value.lower()
    elif kind == "ip":
        try:
            ipaddress.ip_network(value, strict=False)
            ok = True
        except ValueError:
            ok = False
    elif kind == "binary":
        try:
            base64.b64decode(value, validate=True)
            ok = True
        except (binascii.Error, ValueError):
            ok = False
    else:  # date
        ok = parse_date(value) is not None
    if not ok:
        raise InvalidInput(f"The value {value} of context key {name} is not of type {kind}.")
    return value


def _context(inp: Input) -> dict[str, str | tuple[str, ...]]:
    out: dict[str, str | tuple[str, ...]] = {}
    seen: set[str] = set()
    for entry in inp.get("ContextEntries") or ():
        name = entry.get("ContextKeyName")
        if not name or ":" not in name.strip(":"):
            raise InvalidInput(f"Context key {name} must include its service prefix, e.g. aws:SourceIp.")
        if name.lower() in seen:
            raise InvalidInput(f"Context key {name} is given more than once.")
        seen.add(name.lower())
        values = list(entry.get("ContextKeyValues") or ())
        kind = entry.get("ContextKeyType") or ("string" if len(values) == 1 else "stringList")
        base = kind[:-4] if kind.endswith("List") else kind
        checked = [_checked(base, name, v) for v in values]
        if kind.endswith("List"):
            out[name] = tuple(checked)
        elif len(checked) != 1:
            raise InvalidInput(f"Context key {name} of type {kind} takes one value; {len(checked)} given.")
        else:
            out[name] = checked[0]
    return out


def _caller(ctx: CallContext, arn: str, entity: Entity | None = None, tags: dict[str, str] | None = None) -> Principal:
    """The simulated caller: an IAM user, or a role calling as a session of itself (``entity``/``tags``: the store's
    record for it, giving aws:userid and aws:PrincipalTag)."""
    m = _ENTITY_ARN.match(arn)
    if m is None or m.group("kind") == "group":
        raise InvalidInput(f"CallerArn {arn} must be the ARN of an IAM user or role.")
    user_id = entity.id if entity is not None else None
    if m.group("kind") == "user":
        return Principal.from_arn(arn, user_id=user_id, tags=tags)
    name, account, partition = m.group("name"), m.group("account"), m.group("partition")
    session = f"arn:{partition}:sts::{account}:assumed-role/{name}/{name}"
    return Principal.from_arn(session, role_arn=arn, user_id=f"{user_id}:{name}" if user_id else None, tags=tags)


def _anonymous(ctx: CallContext) -> Principal:
    """No simulated caller: a user of the caller's account with no name, id or tags."""
    return Principal(PrincipalType.USER, account=ctx.account_id)


# -- outputs -------------------------------------------------------------------------------------------------------------
def _position(p: Position | None) -> dict[str, int] | None:
    return {"Line": p.line, "Column": p.column} if p is not None else None


def _statement(m: MatchedStatement) -> dict[str, Any]:
    out: dict[str, Any] = {"SourcePolicyId": m.source_id, "SourcePolicyType": m.source_type}
    if m.start is not None:
        out["StartPosition"] = _position(m.start)
        out["EndPosition"] = _position(m.end)
    return out


def _details(out: dict[str, Any], r: ActionResult | ResourceResult) -> None:
    if r.details is not None:
        out["EvalDecisionDetails"] = r.details
    if r.boundary_allowed is not None:
        out["PermissionsBoundaryDecisionDetail"] = {"AllowedByPermissionsBoundary": r.boundary_allowed}


def _resource_out(r: ResourceResult) -> dict[str, Any]:
    out: dict[str, Any] = {
        "EvalResourceName": r.resource,
        "EvalResourceDecision": r.decision,
        "MatchedStatements": [_statement(m) for m in r.matched],
        "MissingContextValues": list(r.missing),
    }
    _details(out, r)
    return out


def _result_out(r: ActionResult) -> dict[str, Any]:
    out: dict[str, Any] = {
        "EvalActionName": r.action,
        "EvalResourceName": r.resource_name,
        "EvalDecision": r.decision,
        "MatchedStatements": [_statement(m) for m in r.matched],
        "MissingContextValues": list(r.missing),
    }
    if r.organizations_allowed is not None:
        out["OrganizationsDecisionDetail"] = {"AllowedByOrganizations": r.organizations_allowed}
    _details(out, r)
    if r.resources is not None:
        out["ResourceSpecificResults"] = [_resource_out(x) for x in r.resources]
    return out


def _scenario(inp: Input, resources: list[str] | None) -> None:
    option = inp.get("ResourceHandlingOption")
    if option is None:
        return
    required = SCENARIOS.get(option)
    if required is None:
        raise InvalidInput(f"ResourceHandlingOption {option} is not one of {', '.join(SCENARIOS)}.")
    have = set()
    for arn in resources or ():
        for name in required:
            rtype = CATALOG.resource_type("ec2", name)
            if rtype is not None and rtype.matches(arn):
                have.add(name)
    missing = [name for name in required if name not in have]
    if missing:
        raise InvalidInput(f"The scenario {option} requires resources of type {', '.join(missing)}.")


def _run(op: str, inp: Input, sim: Simulation) -> Output:
    actions = _actions(inp)
    resources = _resources(inp)
    _scenario(inp, resources)
    if sim.resource_policy is not None and sim.principal.arn is None:
        raise InvalidInput("CallerArn is required when a ResourcePolicy is given.")
    start = 0
    after = decode_marker(op, inp.get("Marker"))
    if after is not None:
        if not after[0].isdigit() or not 0 < int(after[0]) < len(actions):
            raise invalid_marker()
        start = int(after[0])
    per_action = max(1, len(resources or ()))
    limit = min(max_items(inp), max(1, _MAX_DECISIONS_PER_PAGE // per_action))
    page = actions[start : start + limit]
    out: dict[str, Any] = {"EvaluationResults": [_result_out(r) for r in simulate(sim, page, resources)]}
    end = start + len(page)
    out["IsTruncated"] = end < len(actions)
    if out["IsTruncated"]:
        out["Marker"] = encode_marker(op, [str(end)])
    return out


# -- the principal's policies --------------------------------------------------------------------------------------------
def _source_entity(ctx: CallContext, arn: str) -> tuple[str, Entity]:
    m = _ENTITY_ARN.match(arn)
    if m is None:
        raise InvalidInput(f"PolicySourceArn {arn} must be the ARN of an IAM user, group or role.")
    kind, name = m.group("kind"), m.group("name")
    entity = ctx.tx.entity(kind, ctx.account_id, name) if m.group("account") == ctx.account_id else None
    if entity is None or entity.arn != arn:
        raise not_found(kind, name)
    return kind, entity


def _stored(ctx: CallContext, text: str, kind: PolicyKind, sid: str) -> Policy:
    try:
        return parse_policy(text, kind, name=sid)
    except PolicyError as err:
        raise PolicyEvaluation(f"The policy {sid} could not be evaluated: {err}") from None


def _like(pattern: str) -> re.Pattern[str]:
    return re.compile(re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".") + r"\Z", re.IGNORECASE | re.DOTALL)


class _Exclusions:
    """PolicyExclusionList (API_SimulatePrincipalPolicy.html): policies left out by type, ARN or inline name."""

    def __init__(self, inp: Input) -> None:
        self.types: set[str] = set()
        self.arns: list[re.Pattern[str]] = []
        self.inlines: list[tuple[str, str, re.Pattern[str]]] = []
        for entry in inp.get("PolicyExclusionList") or ():
            given = [k for k in ("PolicyType", "PolicyArn", "InlinePolicyIdentifier") if entry.get(k) is not None]
            if len(given) != 1:
                raise InvalidInput("Each PolicyExclusionList entry must give exactly one of PolicyType, PolicyArn and "
                                   "InlinePolicyIdentifier.")
            if "PolicyType" in given:
                self.types.add(entry["PolicyType"])
            elif "PolicyArn" in given:
                arn = entry["PolicyArn"]
                m = _POLICY_ARN.match(arn)
                if m is None or "*" in arn[: m.start("rest")] or "?" in arn[: m.start("rest")] or arn.count("*") > 1:
                    raise InvalidInput(f"PolicyArn {arn} is not a policy ARN (wildcards: at most one * and any ? in "
                                       "the policy's name).")
                self.arns.append(_like(arn))
            else:
                ident = entry["InlinePolicyIdentifier"]
                name = ident["AttachmentName"]
                if name.count("*") > 1:
                    raise InvalidInput(f"AttachmentName {name} may hold at most one *.")
                self.inlines.append((ident["PolicyName"].lower(), ident["AttachmentType"], _like(name)))

    def inline(self, etype: str, entity: str, policy: str) -> bool:
        return "inline" in self.types or any(
            p == policy.lower() and t == etype and rx.match(entity) for p, t, rx in self.inlines)

    def managed(self, arn: str) -> bool:
        aws = arn.split(":")[4] == "aws"
        return ("aws-managed" if aws else "user-managed") in self.types or any(rx.match(arn) for rx in self.arns)


def _principal_sources(ctx: CallContext, kind: str, entity: Entity, exclude: _Exclusions | None,
                       boundary: bool) -> tuple[list[Source], Source | None]:
    """The entity's identity policies (a user's with its groups') as the simulator names them (an inline policy
    ``<type>_<entity>_<policy>``, a managed one by its name), and its permissions boundary."""
    tx, account = ctx.tx, ctx.account_id
    owners: list[tuple[str, str, str]] = [(kind, entity.key, entity.name)]
    if kind == "user":
        for gkey in tx.groups_of(account, entity.key):
            group = tx.entity("group", account, gkey)
            owners.append(("group", gkey, group.name if group is not None else gkey))
    out: list[Source] = []
    for etype, ekey, ename in owners:
        for inline in tx.inlines(account, etype, ekey):
            if exclude is not None and exclude.inline(etype, ename, inline.name):
                continue
            sid = f"{etype}_{ename}_{inline.name}"
            out.append(Source(sid, IDENTITY, _stored(ctx, inline.document, PolicyKind.IDENTITY, sid), inline.document))
        arns = [a for a in tx.attached(account, etype, ekey) if exclude is None or not exclude.managed(a)]
        docs = tx.default_documents(arns)
        for arn in arns:
            if arn in docs:
                record, text = docs[arn]
                out.append(Source(record.name, IDENTITY, _stored(ctx, text, PolicyKind.IDENTITY, record.name), text))
    found: Source | None = None
    boundary_arn = getattr(entity, "permissions_boundary", None)
    if boundary and boundary_arn and (exclude is None or "permission-boundary" not in exclude.types):
        docs = tx.default_documents([boundary_arn])
        if boundary_arn in docs:
            record, text = docs[boundary_arn]
            found = Source(record.name, BOUNDARY, _stored(ctx, text, PolicyKind.BOUNDARY, record.name), text)
        else:  # a boundary whose policy is gone allows nothing (as the authoriser decides)
            text = '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}'
            found = Source(boundary_arn, BOUNDARY, _stored(ctx, text, PolicyKind.BOUNDARY, boundary_arn), text)
    return out, found


def _source_arn(ctx: CallContext, inp: Input) -> str:
    return str(inp["PolicySourceArn"])


def _any(ctx: CallContext, inp: Input) -> str:
    return "*"


# -- the operations ------------------------------------------------------------------------------------------------------
@operation("SimulatePrincipalPolicy", resource=_source_arn)
def simulate_principal_policy(ctx: CallContext, inp: Input) -> Output:
    kind, entity = _source_entity(ctx, inp["PolicySourceArn"])
    exclude = _Exclusions(inp)
    identity, boundary = _principal_sources(ctx, kind, entity, exclude, boundary=True)
    identity += _inputs(inp, "PolicyInputList", PolicyKind.IDENTITY, IDENTITY)
    given = _boundary_input(inp)
    if given is not None:  # "the new permissions boundary policy is used for the simulation"
        boundary = given
    caller_arn = inp.get("CallerArn")
    if caller_arn is not None:
        principal = _caller(ctx, caller_arn)
    elif kind == "group":
        principal = _anonymous(ctx)
    else:
        tags = {t.key: t.value for t in ctx.tx.tags(ctx.account_id, kind, entity.key)}
        principal = _caller(ctx, entity.arn, entity, tags)
    resource_policy = None
    if inp.get("ResourcePolicy") is not None:
        text = inp["ResourcePolicy"]
        resource_policy = Source("ResourcePolicy", RESOURCE, _parse(text, PolicyKind.RESOURCE, "ResourcePolicy", "ResourcePolicy"), text)
    sim = Simulation(principal, identity, boundary, resource_policy, (), _context(inp), _owner(inp))
    return _run("SimulatePrincipalPolicy", inp, sim)


@operation("SimulateCustomPolicy", resource=_any)
def simulate_custom_policy(ctx: CallContext, inp: Input) -> Output:
    identity = _inputs(inp, "PolicyInputList", PolicyKind.IDENTITY, IDENTITY)
    boundary = _boundary_input(inp)
    levels = []
    for i, level in enumerate(inp.get("OrderedOrganizationPolicyInputList") or (), start=1):
        texts = level.get("ServiceControlPolicyInputList") or ()
        if not texts:
            raise InvalidInput(f"Organization level {i} must contain at least one service control policy.")
        sid = f"OrderedOrganizationPolicyInputList.{i}"
        levels.append([Source(f"{sid}.{j}", "Service Control Policy",
                              _parse(t, PolicyKind.SCP, f"{sid}.{j}", f"{sid}.{j}"), t) for j, t in enumerate(texts, 1)])
    caller_arn = inp.get("CallerArn")
    principal = _caller(ctx, caller_arn) if caller_arn is not None else _anonymous(ctx)
    resource_policy = None
    if inp.get("ResourcePolicy") is not None:
        text = inp["ResourcePolicy"]
        resource_policy = Source("ResourcePolicy", RESOURCE, _parse(text, PolicyKind.RESOURCE, "ResourcePolicy", "ResourcePolicy"), text)
    sim = Simulation(principal, identity, boundary, resource_policy, levels, _context(inp), _owner(inp))
    return _run("SimulateCustomPolicy", inp, sim)


def _any_kind(text: str, what: str) -> Policy:
    """A document of any kind whose keys are asked for: identity, else resource-based (it names a Principal)."""
    try:
        return parse_policy(text, PolicyKind.IDENTITY, name=what)
    except PolicyError as first:
        try:
            return parse_policy(text, PolicyKind.RESOURCE, name=what)
        except PolicyError:
            raise InvalidInput(f"{what}: {first}") from None


@operation("GetContextKeysForCustomPolicy", resource=_any)
def get_context_keys_for_custom_policy(ctx: CallContext, inp: Input) -> Output:
    docs = [_any_kind(t, f"PolicyInputList.{i}").document for i, t in enumerate(inp["PolicyInputList"], start=1)]
    return {"ContextKeyNames": list(context_keys(docs))}


@operation("GetContextKeysForPrincipalPolicy", resource=_source_arn)
def get_context_keys_for_principal_policy(ctx: CallContext, inp: Input) -> Output:
    kind, entity = _source_entity(ctx, inp["PolicySourceArn"])
    identity, boundary = _principal_sources(ctx, kind, entity, None, boundary=True)
    docs = [s.policy.document for s in identity]
    if boundary is not None:
        docs.append(boundary.policy.document)
    docs += [_any_kind(t, f"PolicyInputList.{i}").document for i, t in enumerate(inp.get("PolicyInputList") or (), start=1)]
    return {"ContextKeyNames": list(context_keys(docs))}
