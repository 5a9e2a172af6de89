"""Analyses of a server's accounts, read from its store: who can assume what (the trust graph), external access
(Access Analyzer's findings for roles), privilege-escalation paths, and unused access.

Every edge and step is decided by :func:`iamroles.policy.evaluate`, the evaluator that authorises requests: a
trust edge is an ``sts:AssumeRole`` (``...WithWebIdentity``, ``...WithSAML``) request the role's trust policy and
the caller's own policies allow; an escalation step is an IAM request the principal's policies allow.

An edge whose trust statement has conditions the analysis cannot know (``sts:ExternalId``, a tag, a source IP)
is checked with those conditions taken as met, and reported with them, as Access Analyzer reports the
conditions under which access is granted; an edge that the evaluator allows with no context at all is
``unconditional``.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from ..policy import Policy, PolicyDocument, PolicyError, PolicyKind, PolicySet, Principal, PrincipalType, Request, evaluate, parse_policy
from ..policy.compile import Grant
from ..store import Store, Tx

__all__ = ["Edge", "Escalation", "Node", "Snapshot", "Unused", "escalations", "external_access", "trust_graph", "unused_access",
           "to_dot", "to_svg"]

EXTERNAL_ACCOUNT = "000000000000"  # stands for any account outside the zone (no real account has this id)
_ALLOW_ALL = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
_DENY_ALL = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]})
_ASSUME = {"aws": "sts:AssumeRole", "oidc": "sts:AssumeRoleWithWebIdentity", "saml": "sts:AssumeRoleWithSAML"}


@dataclass
class Node:
    """A principal: a user, a role (its sessions), an account root, a service, an identity provider."""

    id: str  # an ARN, a service name, a provider ARN, or ``external:...``
    kind: str  # user, role, account, service, oidc, saml, external
    account: str | None
    principal: Principal | None = None
    policies: PolicySet = field(default_factory=PolicySet)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Edge:
    source: str
    target: str  # a role's ARN
    action: str
    conditions: tuple[str, ...]  # the trust statement's conditions, as "Operator key values"
    statement: int

    def to_dict(self) -> dict[str, Any]:
        return {"from": self.source, "to": self.target, "action": self.action, "conditions": list(self.conditions),
                "unconditional": not self.conditions, "statement": self.statement}


@dataclass
class _Role:
    node: Node
    arn: str
    name: str
    account: str
    trust: Policy | None
    pins: dict[str, str] | None
    created_at: datetime
    last_used_at: datetime | None


@dataclass
class Snapshot:
    """What the analyses read: every account's users, roles, providers and policies, compiled once."""

    nodes: dict[str, Node]
    roles: dict[str, _Role]
    accounts: list[str]
    keys: list[dict[str, Any]]
    users: dict[str, dict[str, Any]]
    managed: dict[str, dict[str, Any]]  # managed policy ARN -> {account, attached: [(type, key)], versions}

    @classmethod
    def load(cls, store: Store, accounts: Sequence[str] | None = None) -> Snapshot:
        with store.read() as tx:
            return cls._load(tx, accounts)

    @classmethod
    def _load(cls, tx: Tx, only: Sequence[str] | None) -> Snapshot:
        nodes: dict[str, Node] = {}
        roles: dict[str, _Role] = {}
        keys: list[dict[str, Any]] = []
        users: dict[str, dict[str, Any]] = {}
        managed: dict[str, dict[str, Any]] = {}
        compiled: dict[tuple[str, str], Policy] = {}

        def compile_(text: str, kind: PolicyKind, name: str) -> Policy:
            key = (text, kind.value)
            hit = compiled.get(key)
            if hit is None:
                try:
                    hit = parse_policy(text, kind, name)
                except PolicyError:  # a stored document the parser no longer takes: it allows nothing
                    hit = parse_policy(_DENY_ALL, kind, name)
                compiled[key] = hit
            return hit

        def policy_set(account: str, etype: str, ekey: str, boundary_arn: str | None) -> PolicySet:
            owners = [(etype, ekey)] + ([("group", g) for g in tx.groups_of(account, ekey)] if etype == "user" else [])
            identity: list[Policy] = []
            for ot, ok in owners:
                identity += [compile_(i.document, PolicyKind.IDENTITY, f"{ot}/{ok}/{i.name}") for i in tx.inlines(account, ot, ok)]
                arns = tx.attached(account, ot, ok)
                for arn, (_, doc) in tx.default_documents(arns).items():
                    identity.append(compile_(doc, PolicyKind.IDENTITY, arn))
            boundary = None
            if boundary_arn:
                docs = tx.default_documents([boundary_arn])
                boundary = compile_(docs[boundary_arn][1] if boundary_arn in docs else _DENY_ALL, PolicyKind.BOUNDARY, boundary_arn)
            return PolicySet(identity=identity, boundary=boundary)

        account_ids = [a.account_id for a in tx.accounts() if only is None or a.account_id in only]
        for account in account_ids:
            partition = (tx.account(account) or tx.accounts()[0]).partition
            root = f"arn:{partition}:iam::{account}:root"
            nodes[root] = Node(root, "account", account, Principal.from_arn(root))
            for user in tx.entities("user", account):
                tags = {t.key: t.value for t in tx.tags(account, "user", user.key)}
                ps = policy_set(account, "user", user.key, user.permissions_boundary)
                nodes[user.arn] = Node(user.arn, "user", account, Principal.from_arn(user.arn, user_id=user.id, tags=tags), ps, tags)
                events = tx.audit(account_id=account, principal_arn=user.arn, limit=1)
                last_event = _event_time(events[0]) if events else None
                users[user.arn] = {"name": user.name, "key": user.key, "account": account, "created_at": user.created_at,
                                   "groups": set(tx.groups_of(account, user.key)), "last_event": last_event}
                for k in tx.access_keys(account, user.key):
                    keys.append({"access_key_id": k.access_key_id, "user": user.arn, "status": k.status, "created_at": k.created_at,
                                 "last_used_at": k.last_used_at, "last_used_service": k.last_used_service})
            for role in tx.entities("role", account):
                tags = {t.key: t.value for t in tx.tags(account, "role", role.key)}
                ps = policy_set(account, "role", role.key, role.permissions_boundary)
                session = f"arn:{partition}:sts::{account}:assumed-role/{role.name}/analysis"
                principal = Principal.from_arn(session, role_arn=role.arn, user_id=f"{role.id}:analysis", tags=tags)
                node = Node(role.arn, "role", account, principal, ps, tags)
                nodes[role.arn] = node
                trust = compile_(role.trust_policy, PolicyKind.TRUST, f"trust:{role.arn}") if role.trust_policy else None
                roles[role.arn] = _Role(node, role.arn, role.name, account, trust, json.loads(role.trust_pins) if role.trust_pins else None,
                                        role.created_at, role.last_used_at)
            for p in tx.oidc_providers(account):
                nodes[p.arn] = Node(p.arn, "oidc", account, Principal(PrincipalType.WEB_IDENTITY, federated=p.arn, account=account))
            for s in tx.saml_providers(account):
                arn = s["arn"]
                nodes[arn] = Node(arn, "saml", account, Principal(PrincipalType.WEB_IDENTITY, federated=arn, account=account))
            for mp in tx.policies([account]):
                managed[mp.arn] = {"account": account, "name": mp.name, "attached": tx.attachments_of(mp.arn),
                                   "default_version": mp.default_version,
                                   "versions": [v.version_id for v in tx.policy_versions(mp.arn)]}
        return cls(nodes, roles, account_ids, keys, users, managed)


# -- who can assume what ---------------------------------------------------------------------------------------

def _conditions(doc: PolicyDocument, index: int) -> tuple[str, ...]:
    st = doc.statements[index]
    return tuple(f"{c.operator} {c.key} {', '.join(c.values)}" for c in st.conditions)


def _without_conditions(trust: Policy, index: int) -> Policy:
    doc = trust.document
    statements = list(doc.statements)
    statements[index] = replace(statements[index], conditions=())
    return Policy(replace(doc, statements=tuple(statements)), trust.kind, trust.name)


def _candidates(role: _Role, snap: Snapshot, extra: Iterable[Node]) -> list[tuple[Node, str]]:
    """The principals the trust policy could name (by ARN, role, account, wildcard, service, provider), each with
    the action it would assume the role by."""
    assert role.trust is not None
    out: dict[str, tuple[Node, str]] = {}
    everyone = list(snap.nodes.values()) + list(extra)
    for cs in role.trust.statements:
        if cs.deny or cs.principals is None:
            continue
        p = cs.principals
        for node in everyone:
            if node.principal is None or node.id == role.arn:  # a role is not drawn assuming itself
                continue
            if node.kind in ("oidc", "saml"):
                if p.wildcard or node.id in p.federated:
                    out[node.id] = (node, _ASSUME[node.kind])
            elif p.wildcard or cs.not_principal or (grant := p.grant(node.principal)) != Grant.NONE:
                # a grant to the caller's account only: its own policies must allow sts:AssumeRole (cheap to rule out)
                if not (p.wildcard or cs.not_principal) and grant == Grant.ACCOUNT and node.kind in ("user", "role") \
                        and not _may(node, _ASSUME["aws"]):
                    continue
                out.setdefault(node.id, (node, _ASSUME["aws"]))
    return list(out.values())


def _edge(role: _Role, node: Node, action: str) -> Edge | None:
    """The trust edge from ``node`` to ``role`` when the evaluator allows it: first with no context (unconditional),
    then with each granting statement's conditions taken as met."""
    assert role.trust is not None and node.principal is not None
    request = Request(node.principal, action, role.arn, role.account)

    def allowed(trust: Policy) -> bool:
        ps = node.policies
        return evaluate(request, PolicySet(identity=ps.identity, boundary=ps.boundary, resource=trust,
                                           resource_pins=role.pins)).allowed

    if allowed(role.trust):
        hit = evaluate(request, PolicySet(identity=node.policies.identity, boundary=node.policies.boundary, resource=role.trust,
                                          resource_pins=role.pins)).matches
        index = next((m.index for m in hit if m.policy_type.value == "resource"), 0)
        return Edge(node.id, role.arn, action, (), index)
    for cs in role.trust.statements:
        if cs.deny or not cs.statement.conditions or not cs.matches_action(action.lower()):
            continue
        if allowed(_without_conditions(role.trust, cs.index)):
            return Edge(node.id, role.arn, action, _conditions(role.trust.document, cs.index), cs.index)
    return None


def _external_nodes(zone: Sequence[str] | None) -> list[Node]:
    """Stand-ins for principals outside the zone: another account's root and a user there whose own policies
    allow everything (the other account's policies are not ours to know), an anonymous caller."""
    allow_all = parse_policy(_ALLOW_ALL, PolicyKind.IDENTITY, "external-identity")
    root = f"arn:aws:iam::{EXTERNAL_ACCOUNT}:root"
    user = f"arn:aws:iam::{EXTERNAL_ACCOUNT}:user/someone"
    return [
        Node(f"external:{root}", "external", EXTERNAL_ACCOUNT, Principal.from_arn(root)),
        Node(f"external:{user}", "external", EXTERNAL_ACCOUNT, Principal.from_arn(user), PolicySet(identity=[allow_all])),
        Node("external:anonymous", "external", None, Principal(PrincipalType.ANONYMOUS)),
    ]


def _named_outsiders(snap: Snapshot) -> list[Node]:
    """Principals the trust policies name that the store does not hold (another account, its users and roles),
    as stand-ins whose own policies allow everything."""
    allow_all = PolicySet(identity=[parse_policy(_ALLOW_ALL, PolicyKind.IDENTITY, "external-identity")])
    out: dict[str, Node] = {}
    known = set(snap.accounts)
    for role in snap.roles.values():
        for cs in role.trust.statements if role.trust else ():
            p = cs.principals
            if p is None:
                continue
            # bare account ids name accounts of the role's own partition; account ARNs keep theirs
            own = role.arn.split(":")[1]
            for partition, account in {*((own, a) for a in p.accounts), *p.account_arns}:
                if account in known:
                    continue
                root = f"arn:{partition}:iam::{account}:root"
                out.setdefault(root, Node(f"external:{root}", "external", account, Principal.from_arn(root)))
                user = f"arn:{partition}:iam::{account}:user/someone"
                out.setdefault(user, Node(f"external:{user}", "external", account, Principal.from_arn(user), allow_all))
            for arn in p.direct | p.roles:
                if arn in snap.nodes:
                    continue
                try:
                    if ":role/" in arn:
                        acct, name = arn.split(":")[4], arn.rsplit("/", 1)[1]
                        principal = Principal.from_arn(f"arn:aws:sts::{acct}:assumed-role/{name}/someone", role_arn=arn)
                    else:
                        principal = Principal.from_arn(arn)
                except ValueError:
                    continue
                out.setdefault(arn, Node(f"external:{arn}", "external", principal.account, principal, allow_all))
    return list(out.values())


def trust_graph(snap: Snapshot, *, external: bool = False) -> list[Edge]:
    """Every principal -> role edge the evaluator allows (services and providers included)."""
    edges: list[Edge] = []
    extra = _external_nodes(None) if external else []
    services: dict[str, Node] = {}
    for role in snap.roles.values():
        if role.trust is None:
            continue
        for cs in role.trust.statements:
            for s in cs.principals.services if cs.principals else ():
                services.setdefault(s, Node(s, "service", None, Principal(PrincipalType.SERVICE, service=s)))
    named = _named_outsiders(snap) if external else []
    for role in snap.roles.values():
        if role.trust is None:
            continue
        for node, action in _candidates(role, snap, [*extra, *named, *services.values()]):
            edge = _edge(role, node, action)
            if edge is not None:
                edges.append(edge)
    return edges


# -- external access -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Finding:
    """An Access Analyzer finding: a role reachable from outside the zone of trust."""

    resource: str
    principal: str
    action: str
    conditions: tuple[str, ...]
    is_public: bool

    def to_dict(self) -> dict[str, Any]:
        return {"resource": self.resource, "resourceType": "AWS::IAM::Role", "principal": {"AWS": self.principal},
                "action": [self.action], "condition": list(self.conditions), "isPublic": self.is_public, "status": "ACTIVE"}


def external_access(snap: Snapshot, zone: Sequence[str]) -> list[Finding]:
    """Roles that a principal outside ``zone`` (account ids) can assume: a real principal of an account outside
    the zone, an identity provider of one, or a stand-in for any other account (public when the stand-in of any
    account, or anyone, gets in with no condition)."""
    zone_set = set(zone)
    out: list[Finding] = []
    for edge in trust_graph(snap, external=True):
        role = snap.roles[edge.target]
        if role.account not in zone_set:
            continue
        node = snap.nodes.get(edge.source)
        if node is None:  # a stand-in or a service
            if not edge.source.startswith("external:"):
                continue
            if _stand_in_account(edge.source) in zone_set:
                continue
            # public: anyone at all, or any account's root with no condition
            public = edge.source == "external:anonymous" or (edge.source == f"external:arn:aws:iam::{EXTERNAL_ACCOUNT}:root"
                                                             and not edge.conditions)
            out.append(Finding(role.arn, edge.source.removeprefix("external:"), edge.action, edge.conditions, public))
        elif node.account is not None and node.account not in zone_set:
            out.append(Finding(role.arn, node.id, edge.action, edge.conditions, False))
    return out


def _stand_in_account(node_id: str) -> str | None:
    """The account of a stand-in principal (``external:arn:...``)."""
    parts = node_id.removeprefix("external:").split(":")
    return parts[4] if len(parts) > 5 and parts[4] else None


# -- privilege escalation ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Escalation:
    """A path from a principal to permissions it does not hold: each step a request the evaluator allows."""

    principal: str
    steps: tuple[tuple[str, str, str], ...]  # (who, action, on what)
    gains: str

    def to_dict(self) -> dict[str, Any]:
        return {"principal": self.principal, "gains": self.gains,
                "path": [{"as": who, "action": action, "resource": what} for who, action, what in self.steps]}

    def __str__(self) -> str:
        path = " -> ".join(f"{action} on {what}" + (f" (as {who})" if who != self.principal else "") for who, action, what in self.steps)
        return f"{self.principal}: {path} => {self.gains}"


def _may(node: Node, action: str) -> bool:
    """Can any Allow of the node's own policies name ``action`` at all? (If not, no request for it is allowed, and
    the evaluator need not be asked resource by resource.)"""
    memo = node.__dict__.setdefault("_may", {})
    hit = memo.get(action)
    if hit is None:
        hit = memo[action] = any(not st.deny for p in node.policies.identity for st in p.candidates(action))
    return bool(hit)


def _can(node: Node, action: str, resource: str, account: str | None, context: dict[str, Any] | None = None) -> bool:
    assert node.principal is not None
    if not _may(node, action):
        return False
    return evaluate(Request(node.principal, action, resource, account, context or {}), node.policies).allowed


def _is_admin(node: Node) -> bool:
    return _can(node, "iam:CreateUser", f"arn:aws:iam::{node.account}:user/x", node.account) and \
        _can(node, "iam:AttachRolePolicy", f"arn:aws:iam::{node.account}:role/x", node.account)


def _techniques(node: Node, snap: Snapshot) -> list[tuple[str, str, str]]:
    """(action, resource, what it gains) for each known technique the evaluator lets ``node`` use."""
    acct = node.account
    found: list[tuple[str, str, str]] = []
    own_kind = "user" if node.kind == "user" else "role"
    own_name = node.id.rsplit("/", 1)[-1]
    # policies of its own: write them, attach to them, or rewrite a managed policy attached to it
    for action in (f"iam:Put{own_kind.title()}Policy", f"iam:Attach{own_kind.title()}Policy"):
        if _can(node, action, node.id, acct):
            found.append((action, node.id, "any permission (a policy of its own)"))
    bounded = node.policies.boundary is not None  # removing a boundary gains only where there is one
    if bounded and node.kind == "role" and _can(node, "iam:DeleteRolePermissionsBoundary", node.id, acct):
        found.append(("iam:DeleteRolePermissionsBoundary", node.id, "what its boundary held back"))
    if bounded and node.kind == "user" and _can(node, "iam:DeleteUserPermissionsBoundary", node.id, acct):
        found.append(("iam:DeleteUserPermissionsBoundary", node.id, "what its boundary held back"))
    versions = _may(node, "iam:CreatePolicyVersion") or _may(node, "iam:SetDefaultPolicyVersion")
    for arn, info in snap.managed.items() if versions else ():
        if info["account"] != acct:
            continue
        groups = snap.users[node.id]["groups"] if node.kind == "user" else set()
        mine = any((t == own_kind and k == own_name.lower()) or (t == "group" and k in groups) for _, t, k in info["attached"])
        if mine:
            if _can(node, "iam:CreatePolicyVersion", arn, acct):
                found.append(("iam:CreatePolicyVersion", arn, "any permission (a new default version of a policy attached to it)"))
            elif len(info["versions"]) > 1 and _can(node, "iam:SetDefaultPolicyVersion", arn, acct):
                found.append(("iam:SetDefaultPolicyVersion", arn, "the permissions of another version of a policy attached to it"))
    # other users: their credentials
    credentials = any(_may(node, a) for a in ("iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:UpdateLoginProfile"))
    for uarn, user in snap.users.items() if credentials else ():
        if uarn == node.id or user["account"] != acct:
            continue
        for action in ("iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:UpdateLoginProfile"):
            if _can(node, action, uarn, acct):
                found.append((action, uarn, f"the permissions of {uarn}"))
                break
    # groups: join one
    if node.kind == "user" and _may(node, "iam:AddUserToGroup"):
        mine_groups = snap.users[node.id]["groups"]
        for info in snap.managed.values():
            for _, t, k in info["attached"]:
                if t == "group" and info["account"] == acct and k not in mine_groups:
                    group_arn = f"arn:aws:iam::{acct}:group/{k}"
                    if _can(node, "iam:AddUserToGroup", group_arn, acct):
                        found.append(("iam:AddUserToGroup", group_arn, f"the permissions of group {k}"))
    # roles: rewrite a trust policy and assume it; pass it to a service that runs a workload
    roles = _may(node, "iam:UpdateAssumeRolePolicy") or _may(node, "iam:PassRole")
    for rarn, role in snap.roles.items() if roles else ():
        if rarn == node.id or role.account != acct:
            continue
        if _can(node, "iam:UpdateAssumeRolePolicy", rarn, acct) and _can(node, "sts:AssumeRole", rarn, acct):
            found.append(("iam:UpdateAssumeRolePolicy", rarn, f"the permissions of {rarn} (trust rewritten, then sts:AssumeRole)"))
        if role.trust is not None:
            for cs in role.trust.statements:
                for service in cs.principals.services if cs.principals else ():
                    if _can(node, "iamroles:LaunchWorkload", rarn, acct, {"iamroles:ServicePrincipal": service}) and \
                            _can(node, "iam:PassRole", rarn, acct, {"iam:PassedToService": service}):
                        found.append(("iam:PassRole", rarn, f"the permissions of {rarn} (passed to {service}, which runs a workload)"))
    return found


def escalations(snap: Snapshot, edges: Sequence[Edge] | None = None) -> list[Escalation]:
    """For every user and role that is not already an administrator: the techniques it can use itself, and
    those it can use after assuming a role it can reach (one hop)."""
    edges = trust_graph(snap) if edges is None else edges
    reach: dict[str, list[str]] = {}
    for e in edges:
        if not e.conditions:
            reach.setdefault(e.source, []).append(e.target)
    out: list[Escalation] = []
    cache: dict[str, list[tuple[str, str, str]]] = {}
    admins = {n.id for n in snap.nodes.values() if n.kind in ("user", "role") and _is_admin(n)}
    for node in snap.nodes.values():
        if node.kind not in ("user", "role") or node.id in admins:
            continue
        for action, resource, gains in cache.setdefault(node.id, _techniques(node, snap)):
            out.append(Escalation(node.id, ((node.id, action, resource),), gains))
        for target in reach.get(node.id, ()):
            hop = snap.nodes[target]
            if target in admins:
                continue
            for action, resource, gains in cache.setdefault(target, _techniques(hop, snap)):
                out.append(Escalation(node.id, ((node.id, "sts:AssumeRole", target), (target, action, resource)), gains))
    return out


# -- unused access -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Unused:
    kind: str  # role, access-key, user
    id: str
    owner: str
    last_used: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "owner": self.owner,
                "lastUsed": self.last_used.isoformat() if self.last_used else None}

    def __str__(self) -> str:
        when = f"last used {self.last_used:%Y-%m-%d}" if self.last_used else "never used"
        return f"{self.kind} {self.id} ({self.owner}): {when}"


def unused_access(snap: Snapshot, days: int, now: datetime | None = None) -> list[Unused]:
    """Roles, active access keys and users not used in ``days`` days, older than that themselves: a role by its
    RoleLastUsed, a key by its AccessKeyLastUsed, a user by its newest event in the audit trail or its keys' use."""
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(days=days)

    def stale(last: datetime | None, created: datetime) -> bool:
        return (last is None or _utc(last) < cutoff) and _utc(created) < cutoff

    out = [Unused("role", r.arn, r.account, r.last_used_at) for r in snap.roles.values() if stale(r.last_used_at, r.created_at)]
    out += [Unused("access-key", k["access_key_id"], k["user"], k["last_used_at"]) for k in snap.keys
            if k["status"] == "Active" and stale(k["last_used_at"], k["created_at"])]
    for arn, user in snap.users.items():
        # a user's last activity: its newest event in the audit trail, or its keys' last use
        seen = [t for t in [user["last_event"], *(k["last_used_at"] for k in snap.keys if k["user"] == arn)] if t is not None]
        last = max((_utc(t) for t in seen), default=None)
        if stale(last, user["created_at"]):
            out.append(Unused("user", arn, user["account"], last))
    return out


def _event_time(record: str) -> datetime | None:
    try:
        return datetime.fromisoformat(json.loads(record)["eventTime"].replace("Z", "+00:00"))
    except (ValueError, KeyError, TypeError):
        return None


def _utc(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)


# -- a picture ---------------------------------------------------------------------------------------------------

_SHAPES = {"user": "ellipse", "role": "box", "account": "house", "service": "hexagon", "oidc": "component", "saml": "component",
           "external": "octagon"}


def to_dot(edges: Sequence[Edge], snap: Snapshot) -> str:
    """The trust graph in Graphviz's language: principals -> roles, conditional edges dashed with their conditions."""
    def q(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = ["digraph trust {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];', '  edge [fontname="Helvetica", fontsize=8];']
    ids = {e.source for e in edges} | {e.target for e in edges}
    by_account: dict[str, list[str]] = {}
    for i in sorted(ids):
        node = snap.nodes.get(i)
        kind = node.kind if node else ("external" if i.startswith("external:") else "service")
        label = i.rsplit(":", 1)[-1] if kind in ("user", "role", "account") else i
        decl = f"  {q(i)} [label={q(label)}, shape={_SHAPES.get(kind, 'ellipse')}];"
        by_account.setdefault(node.account if node and node.account else "", []).append(decl)
    for account, decls in sorted(by_account.items()):
        if account:
            lines.append(f"  subgraph {q('cluster_' + account)} {{ label={q('account ' + account)};")
            lines.extend("  " + d for d in decls)
            lines.append("  }")
        else:
            lines.extend(decls)
    for e in edges:
        style = f", style=dashed, label={q('; '.join(e.conditions))}" if e.conditions else ""
        lines.append(f"  {q(e.source)} -> {q(e.target)} [tooltip={q(e.action)}{style}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_svg(edges: Sequence[Edge], snap: Snapshot) -> str:
    """The trust graph as a plain SVG (no Graphviz needed): who assumes on the left, roles on the right, an arrow
    per edge, dashed when it has conditions (shown on hover and beside the arrow)."""
    from xml.sax.saxutils import escape

    roles = sorted({e.target for e in edges})
    sources = sorted({e.source for e in edges} - set(roles))
    row, top, left_x, right_x, width = 26, 30, 20, 560, 900
    height = top + row * max(len(roles), len(sources), 1) + 20

    def label(i: str) -> str:
        parts = i.removeprefix("external:").split(":", 5)
        return f"{parts[4]}:{parts[5]}" if len(parts) == 6 and parts[0] == "arn" else i.removeprefix("external:")

    ys = {s: top + row * n for n, s in enumerate(sources)}
    ys.update({r: top + row * n for n, r in enumerate(roles)})
    colours = {"user": "#1f77b4", "role": "#2ca02c", "account": "#7f7f7f", "service": "#9467bd", "oidc": "#ff7f0e", "saml": "#ff7f0e"}
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="Helvetica, Arial, sans-serif" '
           'font-size="11">',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto">'
           '<path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>',
           f'<text x="{left_x}" y="16" font-weight="bold">who</text><text x="{right_x}" y="16" font-weight="bold">can assume</text>']
    for e in edges:
        y1, y2 = ys[e.source] - 4, ys[e.target] - 4
        x1 = left_x + 300 if e.source in sources else right_x + 200
        dash = ' stroke-dasharray="5,3"' if e.conditions else ""
        title = escape(f"{e.action}" + (f" if {'; '.join(e.conditions)}" if e.conditions else ""))
        if e.source in sources:
            path = f"M{x1},{y1} C{x1 + 120},{y1} {right_x - 130},{y2} {right_x - 6},{y2}"
        else:  # role to role: a loop on the right
            path = f"M{x1},{y1} C{x1 + 80},{y1} {x1 + 80},{y2} {x1},{y2}"
        out.append(f'<path d="{path}" fill="none" stroke="#555"{dash} marker-end="url(#arrow)"><title>{title}</title></path>')
        if e.conditions:
            out.append(f'<text x="{(x1 + right_x) // 2 - 40}" y="{(y1 + y2) // 2 - 3}" fill="#a33" font-size="9">'
                       f'{escape("; ".join(e.conditions))}</text>')
    for i in sources:
        node = snap.nodes.get(i)
        kind = node.kind if node else ("external" if i.startswith("external:") else "service")
        out.append(f'<text x="{left_x}" y="{ys[i]}" fill="{colours.get(kind, "#d62728")}">{escape(label(i))} ({kind})</text>')
    for r in roles:
        out.append(f'<text x="{right_x}" y="{ys[r]}" fill="{colours["role"]}">{escape(label(r))}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
