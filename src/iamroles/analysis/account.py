"""Analyses of a server's accounts, read from its store: who can assume what (the trust graph), external access
(Access Analyzer's findings), and unused access. Privilege-escalation paths are a graph search over the same
snapshot (``analysis.escalation``).

Every edge is decided by :func:`iamroles.policy.evaluate`, the evaluator that authorises requests: a trust edge is
an ``sts:AssumeRole`` (``...WithWebIdentity``, ``...WithSAML``) request that the role's trust policy and the
caller's own policies allow, bounded by the caller's service control policies and the role's resource control
policies (``analysis.orgs``), with the condition keys the analysis knows set: the caller's (``aws:PrincipalArn``,
``aws:PrincipalAccount``, ``aws:PrincipalTag/...``, ``aws:PrincipalOrgID``, ...) and the role's
(``aws:ResourceAccount``, ``aws:ResourceOrgID``, ``aws:ResourceTag/...``).

A trust statement's conditions on keys the analysis cannot know (``sts:ExternalId``, a token's audience, a source
IP, ``aws:SourceAccount``) are taken as met, and the edge is reported with them, as Access Analyzer reports the
conditions under which access is granted; conditions on keys it knows are evaluated, so a trust that requires a
tag the caller lacks is no edge. An edge the evaluator allows with no unknown condition is ``unconditional``.
"""
from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from ..catalog import CATALOG
from ..policy import Effect, Policy, PolicyError, PolicyKind, PolicySet, Principal, PrincipalType, Request, evaluate, parse_policy
from ..policy.compile import CompiledStatement, Grant
from ..policy.document import ConditionClause
from ..store import Store, Tx
from .orgs import Standing, rcp_applies, standings

__all__ = ["Edge", "Finding", "Node", "Snapshot", "Unused", "external_access", "resource_policy_access", "trust_graph", "unused_access",
           "to_dot", "to_svg", "EXTERNAL_ACCOUNT"]

EXTERNAL_ACCOUNT = "000000000000"  # stands for any account outside the zone (no real account has this id)
ALLOW_ALL = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
_DENY_ALL = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]})
_ASSUME = {"aws": "sts:AssumeRole", "oidc": "sts:AssumeRoleWithWebIdentity", "saml": "sts:AssumeRoleWithSAML"}
SERVICE_ROLE_PATH = "/aws-service-role/"  # service-linked roles live here, and only they
_SOMEONE = "user/someone"  # a stand-in for any user of another account, whose own policies allow everything

# Condition keys whose values the analysis knows for a principal it holds (the rest, a request would bring)
_KNOWN_PRINCIPAL_KEYS = frozenset({
    "aws:principalarn", "aws:principalaccount", "aws:principaltype", "aws:userid", "aws:username",
    "aws:principalisawsservice", "aws:principalservicename", "aws:principalorgid", "aws:principalorgpaths",
    "aws:principaltagkeys",
})
_KNOWN_RESOURCE_KEYS = frozenset({"aws:resourceaccount", "aws:resourceorgid", "aws:resourceorgpaths"})


@dataclass
class Node:
    """A principal: a user, a role (its sessions), an account root, a service, an identity provider, or a
    stand-in for a principal outside the store (``external:...``)."""

    id: str  # an ARN, a service name, a provider ARN, or ``external:...``
    kind: str  # user, role, account, service, oidc, saml, external
    account: str | None
    principal: Principal | None = None
    policies: PolicySet = field(default_factory=PolicySet)  # identity, boundary and SCP levels
    tags: dict[str, str] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)  # the keys it brings to every request (its organization's)
    # its identity policies with where each comes from: a managed policy's ARN, "inline:<type>/<name>/<policy>"
    sources: tuple[tuple[str, Policy], ...] = ()
    boundary_arn: str | None = None
    service_linked: bool = False
    # a stand-in's tags are its own to choose: a condition on them is unknown, not failed
    tags_known: bool = True

    @property
    def partition(self) -> str:
        parts = self.id.removeprefix("external:").split(":")
        return parts[1] if len(parts) > 2 and parts[0] == "arn" else "aws"

    @property
    def name(self) -> str:
        return self.id.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Edge:
    source: str
    target: str  # a role's ARN
    action: str
    conditions: tuple[str, ...]  # the trust statement's conditions the analysis cannot know, as "Operator key values"
    statement: int
    clauses: tuple[ConditionClause, ...] = ()  # the same conditions, as the policy has them

    def to_dict(self) -> dict[str, Any]:
        return {"from": self.source, "to": self.target, "action": self.action, "conditions": list(self.conditions),
                "unconditional": not self.conditions, "statement": self.statement}


@dataclass
class _Role:
    node: Node
    arn: str
    name: str
    key: str
    account: str
    trust: Policy | None
    pins: dict[str, str] | None
    created_at: datetime
    last_used_at: datetime | None
    rcp: tuple[tuple[Policy, ...], ...] = ()  # the RCP levels of its account (a role is the resource of AssumeRole)
    resource_keys: dict[str, Any] = field(default_factory=dict)
    profiles: tuple[str, ...] = ()  # the instance profiles it is in


@dataclass
class Group:
    arn: str
    name: str
    key: str
    account: str
    sources: tuple[tuple[str, Policy], ...]
    members: set[str]  # user ARNs


@dataclass
class Snapshot:
    """What the analyses read: every account's users, groups, roles, providers, policies and organization
    standing, compiled once."""

    nodes: dict[str, Node]
    roles: dict[str, _Role]
    accounts: list[str]
    keys: list[dict[str, Any]]
    users: dict[str, dict[str, Any]]
    managed: dict[str, dict[str, Any]]  # customer managed policy ARN -> {account, name, default_version, versions: {id: text}}
    groups: dict[str, Group] = field(default_factory=dict)
    orgs: dict[str, Standing] = field(default_factory=dict)
    admin_policy: dict[str, tuple[str, Policy]] = field(default_factory=dict)  # partition -> AdministratorAccess
    _compiled: dict[tuple[str, str], Policy] = field(default_factory=dict, repr=False)

    def compile(self, text: str, kind: PolicyKind, name: str) -> Policy:
        """A stored document compiled (once per text and kind); one the parser no longer takes allows nothing."""
        key = (text, kind.value)
        hit = self._compiled.get(key)
        if hit is None:
            try:
                hit = parse_policy(text, kind, name)
            except PolicyError:
                hit = parse_policy(_DENY_ALL, kind, name)
            self._compiled[key] = hit
        return hit

    @classmethod
    def load(cls, store: Store, accounts: Sequence[str] | None = None) -> Snapshot:
        with store.read() as tx:
            return cls._load(tx, accounts)

    @classmethod
    def _load(cls, tx: Tx, only: Sequence[str] | None) -> Snapshot:
        snap = cls({}, {}, [], [], {}, {})
        compile_ = snap.compile
        documents: dict[str, str | None] = {}

        def default_documents(arns: Iterable[str]) -> dict[str, str]:
            wanted = list(dict.fromkeys(arns))
            missing = [a for a in wanted if a not in documents]
            for i in range(0, len(missing), 500):
                chunk = missing[i:i + 500]
                found = tx.default_documents(chunk)
                for a in chunk:
                    documents[a] = found[a][1] if a in found else None
            return {a: d for a in wanted if (d := documents[a]) is not None}

        def boundary(arn: str | None) -> Policy | None:
            if not arn:
                return None
            doc = default_documents([arn]).get(arn)
            return compile_(doc if doc is not None else _DENY_ALL, PolicyKind.BOUNDARY, arn)

        snap.accounts = [a.account_id for a in tx.accounts() if only is None or a.account_id in only]
        snap.orgs = standings(tx, snap.accounts, compile_)
        for account in snap.accounts:
            partition = (tx.account(account) or tx.accounts()[0]).partition
            standing = snap.orgs.get(account)
            principal_keys: dict[str, Any] = standing.principal_keys() if standing else {}
            scp = standing.scp if standing else ()
            admin = f"arn:{partition}:iam::aws:policy/AdministratorAccess"
            if partition not in snap.admin_policy and (doc := default_documents([admin]).get(admin)) is not None:
                snap.admin_policy[partition] = (admin, compile_(doc, PolicyKind.IDENTITY, admin))
            root = f"arn:{partition}:iam::{account}:root"
            snap.nodes[root] = Node(root, "account", account, Principal.from_arn(root), PolicySet(scp=scp), context=principal_keys)

            # every policy of the account's users, groups and roles, read a table at a time
            inline: dict[tuple[str, str], list[Any]] = {}
            for etype, ekey, ip in tx.account_inlines(account):
                inline.setdefault((etype, ekey), []).append(ip)
            attached: dict[tuple[str, str], list[str]] = {}
            for etype, ekey, arn in tx.account_attachments(account):
                attached.setdefault((etype, ekey), []).append(arn)
            docs = default_documents(arn for arns in attached.values() for arn in arns)

            def own(etype: str, ekey: str, ename: str, inline: dict[tuple[str, str], list[Any]] = inline,
                    attached: dict[tuple[str, str], list[str]] = attached, docs: dict[str, str] = docs) -> list[tuple[str, Policy]]:
                out = [(f"inline:{etype}/{ename}/{i.name}", compile_(i.document, PolicyKind.IDENTITY, f"{etype}/{ename}/{i.name}"))
                       for i in inline.get((etype, ekey), ())]
                out += [(arn, compile_(docs[arn], PolicyKind.IDENTITY, arn)) for arn in attached.get((etype, ekey), ()) if arn in docs]
                return out

            members: dict[str, set[str]] = {}  # group key -> user keys
            in_groups: dict[str, list[str]] = {}  # user key -> group keys
            for gk, uk in tx.account_memberships(account):
                members.setdefault(gk, set()).add(uk)
                in_groups.setdefault(uk, []).append(gk)
            users = tx.entities("user", account)
            user_arns = {u.key: u.arn for u in users}
            groups: dict[str, Group] = {}
            for group in tx.entities("group", account):
                groups[group.key] = snap.groups[group.arn] = Group(
                    group.arn, group.name, group.key, account, tuple(own("group", group.key, group.name)),
                    {user_arns[k] for k in members.get(group.key, ()) if k in user_arns})
            user_tags = tx.account_tags(account, "user")
            passwords = tx.account_login_profiles(account)
            keys: dict[str, list[Any]] = {}
            for k in tx.account_access_keys(account):
                keys.setdefault(k.user_key or "", []).append(k)
            latest = tx.audit_latest(account)
            for user in users:
                tags = {t.key: t.value for t in user_tags.get(user.key, ())}
                sources = own("user", user.key, user.name)
                for gk in in_groups.get(user.key, ()):
                    if gk in groups:
                        sources += list(groups[gk].sources)
                ps = PolicySet(identity=[p for _, p in sources], boundary=boundary(user.permissions_boundary), scp=scp)
                snap.nodes[user.arn] = Node(user.arn, "user", account, Principal.from_arn(user.arn, user_id=user.id, tags=tags), ps, tags,
                                            dict(principal_keys), tuple(sources), user.permissions_boundary)
                profile = passwords.get(user.id)
                user_keys = keys.get(user.key, [])
                snap.users[user.arn] = {"name": user.name, "key": user.key, "id": user.id, "account": account, "created_at": user.created_at,
                                        "groups": set(in_groups.get(user.key, ())), "last_event": latest.get(user.arn),
                                        "password_set_at": profile.password_set_at if profile else None,
                                        "key_count": len(user_keys)}
                for k in user_keys:
                    snap.keys.append({"access_key_id": k.access_key_id, "user": user.arn, "status": k.status, "created_at": k.created_at,
                                      "last_used_at": k.last_used_at, "last_used_service": k.last_used_service})
            profiles: dict[str, list[str]] = {}
            profile_names = {ip.key: ip.name for ip in tx.entities("instance_profile", account)}
            for pk, rk in tx.account_profile_roles(account):
                profiles.setdefault(rk, []).append(profile_names.get(pk, pk))
            role_tags = tx.account_tags(account, "role")
            for role in tx.entities("role", account):
                tags = {t.key: t.value for t in role_tags.get(role.key, ())}
                linked = role.path.startswith(SERVICE_ROLE_PATH)
                sources = own("role", role.key, role.name)
                # "SCPs don't affect service-linked roles" (orgs_manage_policies_scps)
                ps = PolicySet(identity=[p for _, p in sources], boundary=boundary(role.permissions_boundary), scp=() if linked else scp)
                session = f"arn:{partition}:sts::{account}:assumed-role/{role.name}/analysis"
                principal = Principal.from_arn(session, role_arn=role.arn, user_id=f"{role.id}:analysis", tags=tags)
                node = Node(role.arn, "role", account, principal, ps, tags, dict(principal_keys), tuple(sources), role.permissions_boundary,
                            linked)
                snap.nodes[role.arn] = node
                trust = compile_(role.trust_policy, PolicyKind.TRUST, f"trust:{role.arn}") if role.trust_policy else None
                resource_keys: dict[str, Any] = standing.resource_keys() if standing else {}
                resource_keys.update({f"aws:ResourceTag/{k}": v for k, v in tags.items()})
                snap.roles[role.arn] = _Role(node, role.arn, role.name, role.key, account, trust,
                                             json.loads(role.trust_pins) if role.trust_pins else None, role.created_at, role.last_used_at,
                                             standing.rcp if standing else (), resource_keys, tuple(profiles.get(role.key, ())))
            for p in tx.oidc_providers(account):
                snap.nodes[p.arn] = Node(p.arn, "oidc", account, Principal(PrincipalType.WEB_IDENTITY, federated=p.arn, account=account))
            for s in tx.saml_providers(account):
                arn = s["arn"]
                snap.nodes[arn] = Node(arn, "saml", account, Principal(PrincipalType.WEB_IDENTITY, federated=arn, account=account))
            versions: dict[str, dict[str, str]] = {}
            for v in tx.account_policy_versions(account):
                versions.setdefault(v.policy_arn, {})[v.version_id] = v.document
            for mp in tx.policies([account]):
                snap.managed[mp.arn] = {"account": account, "name": mp.name, "default_version": mp.default_version,
                                        "versions": versions.get(mp.arn, {})}
        return snap


# -- evaluation with what the analysis knows --------------------------------------------------------------------

def may(policies: PolicySet, action: str) -> bool:
    """Can any Allow of these identity policies name ``action`` at all? (If not, no request for it is allowed, and
    the evaluator need not be asked resource by resource.)"""
    return bool(policies.plan(action).identity)  # (the plan is kept per action by the policy set)


def allowed(node: Node, action: str, resource: str, account: str | None, context: dict[str, Any] | None = None,
            policies: PolicySet | None = None) -> bool:
    """Does the evaluator allow ``node`` (with ``policies`` in place of its own) ``action`` on ``resource``?"""
    assert node.principal is not None
    ps = node.policies if policies is None else policies
    # no resource policy takes part: an Allow of its identity policies naming the resource is needed (asked first,
    # as most resources are not named)
    if node.kind != "account" and not names(ps.plan(action).identity, resource, node.principal.keys):
        return False
    request = Request(node.principal, action, resource, account, {**node.context, **context} if context else node.context)
    return evaluate(request, ps).allowed


def exact_resources(statements: Iterable[CompiledStatement]) -> set[str] | None:
    """The resources these statements name, when each names them by exact ARN (no wildcard, policy variable or
    NotResource); None otherwise. (A shortcut to the resources worth asking the evaluator about.)"""
    out: set[str] = set()
    for st in statements:
        resources = st.statement.resources
        if resources is None or st.statement.not_resource or any("*" in r or "?" in r or "${" in r for r in resources):
            return None
        out.update(resources)
    return out


def names(statements: Iterable[CompiledStatement], resource: str, keys: Mapping[str, Any]) -> bool:
    """Can one of these statements name ``resource`` (its Resource element, conditions not weighed)? A statement
    whose resources hold policy variables says yes (they need the whole request to resolve): a quick test that
    never rules out what the evaluator would allow."""
    for st in statements:
        resources = st.statement.resources
        if resources is None or any("${" in r for r in resources) or st.match_resource(resource, keys):
            return True
    return False


def _known(key: str, node: Node) -> bool:
    k = key.lower()
    if k in _KNOWN_PRINCIPAL_KEYS or k in _KNOWN_RESOURCE_KEYS or k.startswith("aws:resourcetag/"):
        return True
    return k.startswith("aws:principaltag/") and node.tags_known and node.kind in ("user", "role", "account")


def _text(c: ConditionClause) -> str:
    return f"{c.operator} {c.key} {', '.join(c.values)}"


def _relaxed(trust: Policy, index: int, node: Node) -> tuple[Policy, tuple[ConditionClause, ...]]:
    """The trust policy with statement ``index``'s conditions on keys the analysis cannot know dropped (taken as
    met), and those conditions."""
    doc = trust.document
    st = doc.statements[index]
    unknown = tuple(c for c in st.conditions if not _known(c.key, node))
    kept = tuple(c for c in st.conditions if _known(c.key, node))
    statements = list(doc.statements)
    statements[index] = replace(st, conditions=kept)
    return Policy(replace(doc, statements=tuple(statements)), trust.kind, trust.name), unknown


# -- who can assume what ---------------------------------------------------------------------------------------

class _Index:
    """The principals an element can name, found by what it names rather than by trying everyone."""

    def __init__(self, nodes: Iterable[Node]) -> None:
        self.all = [n for n in nodes if n.principal is not None]
        self.by_id = {n.id: n for n in self.all}
        # the principals of each account that a grant to the account can let in: its root, stand-ins, and the users
        # and roles whose own policies name sts:AssumeRole at all (a grant to the account delegates to them)
        # (the users and roles whose statements name roles by exact ARN are kept by those ARNs: the rest are tried)
        self.by_account: dict[tuple[str, str], list[Node]] = {}
        self.exact: dict[tuple[str, str], dict[str, list[Node]]] = {}
        for n in self.all:
            if n.kind in ("user", "role", "account", "external") and n.account and n.principal is not None and n.principal.arn:
                where = (n.partition, n.account)
                if n.kind in ("user", "role"):
                    allows = n.policies.plan(_ASSUME["aws"]).identity
                    if not allows:
                        continue
                    named = exact_resources(allows)
                    if named is not None:
                        for arn in named:
                            self.exact.setdefault(where, {}).setdefault(arn, []).append(n)
                        continue
                self.by_account.setdefault(where, []).append(n)

    def named(self, cs: CompiledStatement, own_partition: str, role_arn: str) -> Iterable[tuple[Node, bool]]:
        """(node, named only by its account) for each node the statement's Principal can name (and, for a grant to
        an account, whose own policies may name ``role_arn``)."""
        p = cs.principals
        if p is None:
            return
        if p.wildcard or cs.not_principal:
            for n in self.all:
                yield n, False
            return
        for name in (*p.direct, *p.roles, *p.services, *p.federated):
            found = self.by_id.get(name) or self.by_id.get(f"external:{name}")
            if found is not None:
                yield found, False
        for partition, account in {*((own_partition, a) for a in p.accounts), *p.account_arns}:
            for n in (*self.by_account.get((partition, account), ()), *self.exact.get((partition, account), {}).get(role_arn, ())):
                yield n, True


def _candidates(role: _Role, index: _Index) -> list[tuple[Node, str]]:
    """The principals the trust policy could name (by ARN, role, account, wildcard, service, provider), each with
    the action it would assume the role by."""
    assert role.trust is not None
    out: dict[str, tuple[Node, str]] = {}
    own_partition = role.arn.split(":")[1]
    for cs in role.trust.statements:
        if cs.deny:
            continue
        for node, by_account in index.named(cs, own_partition, role.arn):
            if node.id == role.arn or node.id in out:  # a role is not drawn assuming itself
                continue
            if node.kind in ("oidc", "saml"):
                out[node.id] = (node, _ASSUME[node.kind])
                continue
            assert node.principal is not None
            if node.principal.type is PrincipalType.WEB_IDENTITY:
                continue
            # a grant to the caller's account only: its own policies must allow sts:AssumeRole on the role (asked
            # of its own policies first: their plans are kept, a policy set with the trust policy is made anew)
            if by_account and node.kind in ("user", "role") and not allowed(node, _ASSUME["aws"], role.arn, role.account):
                continue
            out[node.id] = (node, _ASSUME["aws"])
    return list(out.values())


def role_policies(role: _Role, node: Node, trust: Policy | None, action: str, policies: PolicySet | None = None) -> PolicySet:
    """What decides ``node`` assuming ``role``: its own policies (or ``policies``) and SCPs, the trust policy, and
    the role's account's RCPs (when they bound the request: ``catalog.organizations.rcp_applies``)."""
    ps = node.policies if policies is None else policies
    rcp = role.rcp if rcp_applies(action, role.arn, node.principal.role_arn if node.principal else None) else ()
    return PolicySet(identity=ps.identity, boundary=ps.boundary, session=ps.session, scp=ps.scp, rcp=rcp, resource=trust,
                     resource_pins=role.pins)


def assume_edge(role: _Role, node: Node, action: str, policies: PolicySet | None = None) -> Edge | None:
    """The trust edge from ``node`` to ``role`` when the evaluator allows it: first with the keys the analysis
    knows only (unconditional), then with each granting statement's unknown conditions taken as met."""
    assert role.trust is not None and node.principal is not None
    request = Request(node.principal, action, role.arn, role.account, {**node.context, **role.resource_keys})
    return granted_edge(node, request, role.trust, lambda p: role_policies(role, node, p, action, policies))


def granted_edge(node: Node, request: Request, policy: Policy, decide: Callable[[Policy], PolicySet]) -> Edge | None:
    """The edge from ``node`` to ``request``'s resource when the evaluator allows the request under
    ``decide(policy)`` (``policy``: the resource's policy), first as it is, then with each granting statement's
    conditions on keys the analysis cannot know taken as met (and reported on the edge)."""
    decision = evaluate(request, decide(policy))
    if decision.allowed:
        index = next((m.index for m in decision.matches if m.policy_type.value == "resource"), 0)
        return Edge(node.id, request.resource, request.action, (), index)
    if decision.effect is Effect.EXPLICIT_DENY:
        return None  # an explicit deny: no Allow's conditions taken as met can lift it
    for cs in policy.statements:
        if cs.deny or not cs.statement.conditions or not cs.matches_action(request.action.lower()):
            continue
        relaxed, unknown = _relaxed(policy, cs.index, node)
        if not unknown:
            continue
        if evaluate(request, decide(relaxed)).allowed:
            return Edge(node.id, request.resource, request.action, tuple(_text(c) for c in unknown), cs.index, unknown)
    return None


def _external_nodes() -> list[Node]:
    """Stand-ins for principals outside the zone and outside every organization the store holds: another
    account's root and a user there whose own policies allow everything (the other account's policies are not
    ours to know; its tags are its own to choose), an anonymous caller."""
    allow_all = parse_policy(ALLOW_ALL, PolicyKind.IDENTITY, "external-identity")
    root = f"arn:aws:iam::{EXTERNAL_ACCOUNT}:root"
    user = f"arn:aws:iam::{EXTERNAL_ACCOUNT}:{_SOMEONE}"
    return [
        Node(f"external:{root}", "external", EXTERNAL_ACCOUNT, Principal.from_arn(root), tags_known=False),
        Node(f"external:{user}", "external", EXTERNAL_ACCOUNT, Principal.from_arn(user), PolicySet(identity=[allow_all]), tags_known=False),
        Node("external:anonymous", "external", None, Principal(PrincipalType.ANONYMOUS), tags_known=False),
    ]


def _condition_principals(cs: CompiledStatement) -> tuple[set[str], set[str]]:
    """Accounts and principal ARNs a statement's conditions name (``aws:PrincipalAccount``, ``aws:PrincipalArn``
    with no wildcard): outsiders a ``"Principal": "*"`` statement may let in."""
    accounts: set[str] = set()
    arns: set[str] = set()
    for c in cs.statement.conditions:
        key = c.key.lower()
        if key == "aws:principalaccount":
            accounts.update(v for v in c.values if v.isdigit() and len(v) == 12)
        elif key == "aws:principalarn":
            arns.update(v for v in c.values if "*" not in v and "?" not in v)
    return accounts, arns


def _named_outsiders(snap: Snapshot) -> list[Node]:
    """Principals the trust policies name (in Principal, or in the conditions of a statement open to ``*``) that
    the store does not hold (another account, its users and roles), as stand-ins whose own policies allow
    everything."""
    allow_all = PolicySet(identity=[parse_policy(ALLOW_ALL, PolicyKind.IDENTITY, "external-identity")])
    out: dict[str, Node] = {}
    known = set(snap.accounts)

    def account_nodes(partition: str, account: str) -> None:
        if account in known:
            return
        root = f"arn:{partition}:iam::{account}:root"
        out.setdefault(root, Node(f"external:{root}", "external", account, Principal.from_arn(root), tags_known=False))
        user = f"arn:{partition}:iam::{account}:{_SOMEONE}"
        out.setdefault(user, Node(f"external:{user}", "external", account, Principal.from_arn(user), allow_all, tags_known=False))

    def principal_node(arn: str) -> None:
        parts = arn.split(":")
        if arn in snap.nodes or (len(parts) > 4 and parts[4] in known):
            return  # a principal of an account the store holds (or held: a deleted one names nobody)
        try:
            if ":role/" in arn:
                acct, name = arn.split(":")[4], arn.rsplit("/", 1)[1]
                principal = Principal.from_arn(f"arn:{arn.split(':')[1]}:sts::{acct}:assumed-role/{name}/someone", role_arn=arn)
            else:
                principal = Principal.from_arn(arn)
        except (ValueError, IndexError):
            return
        out.setdefault(arn, Node(f"external:{arn}", "external", principal.account, principal, allow_all, tags_known=False))

    for role in snap.roles.values():
        own = role.arn.split(":")[1]
        for cs in role.trust.statements if role.trust else ():
            p = cs.principals
            if p is None or cs.deny:
                continue
            # bare account ids name accounts of the role's own partition; account ARNs keep theirs
            for partition, account in {*((own, a) for a in p.accounts), *p.account_arns}:
                account_nodes(partition, account)
            for arn in p.direct | p.roles:
                principal_node(arn)
            if p.wildcard:
                accounts, arns = _condition_principals(cs)
                for account in accounts:
                    account_nodes(own, account)
                for arn in arns:
                    principal_node(arn)
    return list(out.values())


def trust_graph(snap: Snapshot, *, external: bool = False, sources: Callable[[Node], bool] | None = None) -> list[Edge]:
    """Every principal -> role edge the evaluator allows (services and providers included; with ``external``,
    stand-ins for principals outside the store too; with ``sources``, only the edges from the principals it
    keeps)."""
    edges: list[Edge] = []
    services: dict[str, Node] = {}
    for role in snap.roles.values():
        for cs in role.trust.statements if role.trust else ():
            for s in cs.principals.services if cs.principals else ():
                services.setdefault(s, Node(s, "service", None, Principal(PrincipalType.SERVICE, service=s)))
    extra = [*_external_nodes(), *_named_outsiders(snap)] if external else []
    index = _Index([*snap.nodes.values(), *extra, *services.values()])
    for role in snap.roles.values():
        if role.trust is None:
            continue
        for node, action in _candidates(role, index):
            if sources is not None and not sources(node):
                continue
            edge = assume_edge(role, node, action)
            if edge is not None:
                edges.append(edge)
    return edges


# -- external access -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Finding:
    """An Access Analyzer finding (ExternalAccess): a role in the zone of trust that a principal outside it can
    assume, directly or through roles of the zone it can assume first (``via``)."""

    resource: str
    principal: str
    action: str
    conditions: tuple[str, ...]
    is_public: bool
    clauses: tuple[ConditionClause, ...] = ()
    via: tuple[str, ...] = ()  # roles assumed on the way, first to last
    rcp: bool = False  # resource control policies took part in the decision
    principal_type: str = "AWS"  # AWS or Federated
    resource_type: str = "AWS::IAM::Role"
    owner: str | None = None  # the resource's account, when its ARN does not say (an S3 bucket's)

    @property
    def id(self) -> str:
        """A stable finding id (the same access, the same id, run after run), as Access Analyzer's are UUIDs."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, "|".join([self.resource, self.principal, self.action, *self.conditions, "via", *self.via])))

    @property
    def account(self) -> str:
        return self.owner or self.resource.split(":")[4]

    def to_dict(self) -> dict[str, Any]:
        condition: dict[str, str] = {}
        for c in self.clauses:
            condition[c.key] = ",".join(c.values) if c.key not in condition else condition[c.key] + "," + ",".join(c.values)
        return {"id": self.id, "findingType": "ExternalAccess", "resource": self.resource, "resourceType": self.resource_type,
                "resourceOwnerAccount": self.account, "principal": {self.principal_type: self.principal}, "action": [self.action],
                "condition": condition, "conditions": list(self.conditions), "isPublic": self.is_public, "via": list(self.via),
                "resourceControlPolicyRestriction": "APPLIED" if self.rcp else "NOT_APPLICABLE", "status": "ACTIVE"}

    def __str__(self) -> str:
        cond = f" if {'; '.join(self.conditions)}" if self.conditions else ""
        via = f" via {' -> '.join(self.via)}" if self.via else ""
        return f"{'PUBLIC ' if self.is_public else ''}{self.resource}: {self.principal} can {self.action}{via}{cond}"


def _outsider(edge: Edge, snap: Snapshot, zone: set[str]) -> tuple[str, str, bool] | None:
    """(principal, principal type, public) when the edge's source is outside the zone, else None."""
    node = snap.nodes.get(edge.source)
    if node is None:  # a stand-in or a service
        if not edge.source.startswith("external:"):
            return None  # an AWS service principal: not external access (Access Analyzer reports none)
        if _stand_in_account(edge.source) in zone:
            return None
        principal = edge.source.removeprefix("external:")
        if principal.endswith(_SOMEONE):  # the stand-in for any principal of an account: the account, as a policy names it
            principal = principal.removesuffix(_SOMEONE) + "root"
        # public: anyone at all, or any account's principals with no condition
        public = principal == "anonymous" or (principal == f"arn:aws:iam::{EXTERNAL_ACCOUNT}:root" and not edge.conditions)
        return principal, "AWS", public
    if node.kind in ("oidc", "saml"):
        # whoever holds the provider's token or assertion: outside every zone (Access Analyzer's Federated findings)
        return node.id, "Federated", False
    if node.account is not None and node.account not in zone:
        return node.id, "AWS", False
    return None


def external_access(snap: Snapshot, zone: Sequence[str], *, chains: bool = True) -> list[Finding]:
    """Roles of ``zone`` (account ids) that a principal outside it can assume: a real principal of an account
    outside the zone, an identity provider's federated users, or a stand-in for any other account (public when
    the stand-in of any account, or anyone, gets in with no condition). With ``chains``, also the roles such a
    principal reaches by assuming roles of the zone one after another (shortest chain each), with every
    condition met on the way.

    Role trust policies are the only resource-based policies iamroles stores (a service's resource policies,
    such as the key policies the authoriser takes, come with each request and are not stored), so they are what
    this reports, as Access Analyzer reports ``AWS::IAM::Role``."""
    zone_set = set(zone)
    out: list[Finding] = []
    graph = trust_graph(snap, external=True)
    inward: dict[str, list[Edge]] = {}  # role -> edges from roles of the zone
    entries: dict[str, list[tuple[Edge, tuple[str, str, bool]]]] = {}
    for edge in graph:
        role = snap.roles[edge.target]
        if role.account not in zone_set:
            continue
        who = _outsider(edge, snap, zone_set)
        if who is not None:
            entries.setdefault(edge.target, []).append((edge, who))
            out.append(Finding(role.arn, who[0], edge.action, edge.conditions, who[2], edge.clauses, (), bool(role.rcp), who[1]))
        elif edge.source in snap.roles and snap.roles[edge.source].account in zone_set:
            inward.setdefault(edge.source, []).append(edge)
    out = list(dict.fromkeys(out))  # an account's root and its stand-in user make one finding
    if not chains:
        return out
    # breadth first from each outsider's entry roles, through role -> role edges of the zone
    direct = {(f.resource, f.principal) for f in out}
    starts: dict[str, list[tuple[str, Edge, tuple[str, str, bool]]]] = {}
    for target, found in entries.items():
        for edge, who in found:
            starts.setdefault(who[0], []).append((target, edge, who))
    for principal, first in sorted(starts.items()):
        seen: dict[str, tuple[tuple[str, ...], tuple[Edge, ...]]] = {t: ((), (e,)) for t, e, _ in first}
        frontier = [t for t, _, _ in first]
        who = first[0][2]
        while frontier:
            nxt = []
            for at in frontier:
                via, path = seen[at]
                for e in inward.get(at, ()):
                    if e.target in seen:
                        continue
                    seen[e.target] = ((*via, at), (*path, e))
                    nxt.append(e.target)
                    if (e.target, principal) not in direct:
                        conds = tuple(dict.fromkeys(c for step in (*path, e) for c in step.conditions))
                        clauses = tuple(dict.fromkeys(c for step in (*path, e) for c in step.clauses))
                        role = snap.roles[e.target]
                        out.append(Finding(e.target, principal, e.action, conds, who[2] and not conds, clauses, (*via, at),
                                           bool(role.rcp), who[1]))
            frontier = nxt
    return list(dict.fromkeys(out))


_RESOURCE_TYPES = {"s3": "AWS::S3::Bucket", "kms": "AWS::KMS::Key", "sqs": "AWS::SQS::Queue", "sns": "AWS::SNS::Topic",
                   "secretsmanager": "AWS::SecretsManager::Secret", "lambda": "AWS::Lambda::Function", "iam": "AWS::IAM::Role"}


def resource_type_of(arn: str) -> str:
    """Access Analyzer's resource type for an ARN (``Custom::<service>`` for a service AWS does not have there)."""
    parts = arn.split(":")
    service = parts[2] if len(parts) > 2 and parts[0] == "arn" else "unknown"
    return _RESOURCE_TYPES.get(service, f"Custom::{service}")


def resource_policy_access(snap: Snapshot, zone: Sequence[str], resource: str, policy: Policy, *, owner: str | None = None,
                           must_grant: bool = False) -> list[Finding]:
    """External access through a resource-based policy iamroles does not store: one a service declares to the
    authoriser or the middleware (a bucket policy, a key policy: ``must_grant``), given with the resource's ARN and
    its account (``owner``, when the ARN has none, as an S3 bucket's). For each Allow statement and each action it
    names, each principal outside ``zone`` the evaluator lets act (the statement's unknown conditions taken as met
    and reported), bounded by the owner's RCPs; AWS service principals are not external access."""
    zone_set = set(zone)
    parts = resource.split(":")
    account = owner or (parts[4] if len(parts) > 4 else "")
    standing = snap.orgs.get(account)
    rcp = standing.rcp if standing else ()
    resource_keys = standing.resource_keys() if standing else {}
    outsiders = [n for n in [*snap.nodes.values(), *_external_nodes(), *_policy_outsiders(snap, policy, resource)]
                 if n.principal is not None and n.kind in ("user", "role", "account", "external")
                 and (n.account is None or n.account not in zone_set) and _stand_in_account(n.id) not in zone_set]
    out: list[Finding] = []
    for cs in policy.statements:
        if cs.deny or cs.principals is None:
            continue
        for pattern in _representatives(cs, resource):
            action, shown = pattern
            for node in outsiders:
                assert node.principal is not None
                if not cs.not_principal and not cs.principals.wildcard and cs.grant(node.principal) == Grant.NONE:
                    continue
                request = Request(node.principal, action, resource, account or None, {**node.context, **resource_keys})
                applies = rcp if rcp_applies(action, resource, node.principal.role_arn) else ()

                def decide(p: Policy, node: Node = node, applies: Any = applies) -> PolicySet:
                    return PolicySet(identity=node.policies.identity, boundary=node.policies.boundary, scp=node.policies.scp,
                                     rcp=applies, resource=p, resource_must_grant=must_grant)

                edge = granted_edge(node, request, policy, decide)
                if edge is None:
                    continue
                who = _outsider(edge, snap, zone_set)
                if who is None:
                    continue
                out.append(Finding(resource, who[0], shown, edge.conditions, who[2], edge.clauses, (), bool(applies), who[1],
                                   resource_type_of(resource), owner))
    return list(dict.fromkeys(out))


def _policy_outsiders(snap: Snapshot, policy: Policy, resource: str) -> list[Node]:
    """Stand-ins for the principals of accounts the store does not hold that a resource policy names."""
    own = resource.split(":")[1] if resource.startswith("arn:") else "aws"
    allow_all = PolicySet(identity=[parse_policy(ALLOW_ALL, PolicyKind.IDENTITY, "external-identity")])
    out: dict[str, Node] = {}
    for cs in policy.statements:
        p = cs.principals
        if p is None or cs.deny:
            continue
        accounts = {*((own, a) for a in p.accounts), *p.account_arns}
        for arn in p.direct | p.roles:
            parts = arn.split(":")
            if len(parts) > 4 and parts[4].isdigit():
                accounts.add((parts[1], parts[4]))
        for partition, account in accounts:
            if account in snap.accounts:
                continue
            root = f"arn:{partition}:iam::{account}:root"
            out.setdefault(root, Node(f"external:{root}", "external", account, Principal.from_arn(root), tags_known=False))
            user = f"arn:{partition}:iam::{account}:{_SOMEONE}"
            out.setdefault(user, Node(f"external:{user}", "external", account, Principal.from_arn(user), allow_all, tags_known=False))
        for arn in p.direct:
            if arn not in snap.nodes and ":user/" in arn:
                try:
                    out.setdefault(arn, Node(f"external:{arn}", "external", arn.split(":")[4], Principal.from_arn(arn), allow_all,
                                             tags_known=False))
                except ValueError:
                    continue
    return list(out.values())


def _representatives(cs: CompiledStatement, resource: str) -> list[tuple[str, str]]:
    """(an action to ask the evaluator about, the action as the finding shows it) for each action a statement
    names: the action itself, or for a pattern one of AWS's actions it matches (the pattern shown)."""
    out: list[tuple[str, str]] = []
    if cs.not_action:
        service = resource.split(":")[2] if resource.startswith("arn:") and len(resource.split(":")) > 2 else ""
        found = next((a for a in CATALOG.actions(service) if cs.matches_action(f"{service}:{a.name}".lower())), None)
        if found is not None:
            out.append((f"{service}:{found.name}", "NotAction " + ", ".join(cs.statement.actions)))
        return out
    for pattern in cs.statement.actions:
        if "*" not in pattern and "?" not in pattern:
            out.append((pattern, pattern))
            continue
        matched = CATALOG.matching_actions(pattern)
        concrete = f"{pattern.partition(':')[0]}:{matched[0].name}" if matched else pattern.replace("*", "x").replace("?", "x")
        out.append((concrete, pattern))
    return out


def _stand_in_account(node_id: str) -> str | None:
    """The account of a stand-in principal (``external:arn:...``)."""
    parts = node_id.removeprefix("external:").split(":")
    return parts[4] if len(parts) > 5 and parts[4] else None


# -- unused access -----------------------------------------------------------------------------------------------

# Access Analyzer's unused-access finding types (API_FindingSummaryV2.html); a user with no activity at all is
# iamroles' own (AWS reports its password and keys instead)
FINDING_TYPES = {"role": "UnusedIAMRole", "access-key": "UnusedIAMUserAccessKey", "password": "UnusedIAMUserPassword",
                 "user": "UnusedIAMUser", "permission": "UnusedPermission"}


@dataclass(frozen=True)
class Unused:
    """An Access Analyzer unused-access finding: a role, an access key, a password or a user not used in the
    period, or permissions a role or user holds and has not used (``services``: namespace -> the actions unused
    there, empty when the whole service is)."""

    kind: str  # role, access-key, password, user, permission
    id: str
    owner: str
    last_used: datetime | None
    services: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"findingType": FINDING_TYPES[self.kind], "kind": self.kind, "id": self.id, "owner": self.owner,
                               "lastUsed": self.last_used.isoformat() if self.last_used else None}
        if self.kind == "permission":
            out["unusedServices"] = sorted(ns for ns, acts in self.services.items() if not acts)
            out["unusedActions"] = {ns: list(acts) for ns, acts in sorted(self.services.items()) if acts}
        return out

    def __str__(self) -> str:
        when = f"last used {self.last_used:%Y-%m-%d}" if self.last_used else "never used"
        if self.kind == "permission":
            whole = sorted(ns for ns, acts in self.services.items() if not acts)
            some = {ns: acts for ns, acts in sorted(self.services.items()) if acts}
            parts = []
            if whole:
                listed = ", ".join(whole[:6]) + (f" and {len(whole) - 6} more" if len(whole) > 6 else "")
                parts.append(f"services unused: {listed}")
            for ns, acts in some.items():
                shown = ", ".join(acts[:4]) + (f" and {len(acts) - 4} more" if len(acts) > 4 else "")
                parts.append(f"{ns} actions unused: {shown}")
            return f"permissions of {self.id}: {'; '.join(parts)}"
        return f"{self.kind} {self.id} ({self.owner}): {when}"


def unused_access(snap: Snapshot, days: int, now: datetime | None = None, *, store: Store | None = None,
                  permissions: bool = True) -> list[Unused]:
    """Access Analyzer's unused access over ``days`` days (https://docs.aws.amazon.com/IAM/latest/UserGuide/
    access-analyzer-findings.html#access-analyzer-unused-access): roles not used (RoleLastUsed), active access
    keys not used (AccessKeyLastUsed), passwords not used (iamroles has no console to sign in to, so a password
    set before the period was never used in it), users with no activity at all (their newest event in the audit
    trail, or their keys' use), each older than the period itself; and with ``store`` (the audit trail), the
    permissions of each role and user its policies allow and it has not used: whole services it made no request
    of, and within the services it used, the actions it did not call."""
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(days=days)

    def stale(last: datetime | None, created: datetime) -> bool:
        return (last is None or _utc(last) < cutoff) and _utc(created) < cutoff

    out = [Unused("role", r.arn, r.account, r.last_used_at) for r in snap.roles.values() if stale(r.last_used_at, r.created_at)]
    out += [Unused("access-key", k["access_key_id"], k["user"], k["last_used_at"]) for k in snap.keys
            if k["status"] == "Active" and stale(k["last_used_at"], k["created_at"])]
    for arn, user in snap.users.items():
        if user["password_set_at"] is not None and _utc(user["password_set_at"]) < cutoff:
            out.append(Unused("password", arn, user["account"], None))
        # a user's last activity: its newest event in the audit trail, or its keys' last use
        seen = [t for t in [user["last_event"], *(k["last_used_at"] for k in snap.keys if k["user"] == arn)] if t is not None]
        last = max((_utc(t) for t in seen), default=None)
        if stale(last, user["created_at"]):
            out.append(Unused("user", arn, user["account"], last))
    if permissions and store is not None:
        out += unused_permissions(snap, store, cutoff)
    return out


def unused_permissions(snap: Snapshot, store: Store, cutoff: datetime) -> list[Unused]:
    """For each role and user created before ``cutoff``: what its policies allow (identity policies within its
    permissions boundary, by the catalogue of AWS's actions) that the audit trail shows no request for since
    ``cutoff`` (a request counts whether it was allowed or not, as service last accessed counts attempts)."""
    used: dict[str, dict[str, set[str]]] = {}  # principal ARN -> namespace -> actions (lower-cased)
    # a role's requests are its sessions': arn:...:sts::ACCOUNT:assumed-role/NAME/SESSION
    sessions = {f"arn:{snap.nodes[r.arn].partition}:sts::{r.account}:assumed-role/{r.name}": r.arn for r in snap.roles.values()}
    with store.read() as tx:
        for account in snap.accounts:
            for service, action, principal in tx.audit_usage(account, cutoff):
                owner = principal if principal in snap.users else sessions.get(principal.rsplit("/", 1)[0])
                if owner is not None:
                    used.setdefault(owner, {}).setdefault(service.lower(), set()).add(action.lower())
    out: list[Unused] = []
    created = {**{a: u["created_at"] for a, u in snap.users.items()}, **{r.arn: r.created_at for r in snap.roles.values()}}
    for arn, when in created.items():
        if _utc(when) >= cutoff:
            continue
        node = snap.nodes[arn]
        if node.service_linked:
            continue  # its permissions are the service's, not the account's to trim
        granted = _granted(node.policies.identity)
        if node.policies.boundary is not None:
            granted = _within(granted, _granted([node.policies.boundary]))
        mine = used.get(arn, {})
        unused: dict[str, tuple[str, ...]] = {}
        for ns, acts in sorted(granted.items()):
            if ns not in mine:
                unused[ns] = ()
                continue
            names = acts if acts is not None else frozenset(a.name for a in CATALOG.actions(ns))
            rest = sorted(a for a in names if a.lower() not in mine[ns])
            if rest:
                unused[ns] = tuple(f"{ns}:{a}" for a in rest)
        if unused:
            out.append(Unused("permission", arn, node.account or "", None, unused))
    return out


Granted = dict[str, frozenset[str] | None]  # namespace -> the action names granted (None: all of the service's)
_GRANTED: dict[tuple[tuple[bool, tuple[str, ...]], ...], Granted] = {}


def _wild_service(pattern: str) -> bool:
    """Does an action pattern other than ``*`` leave its service open (``*:Get*``, ``s?s:Send*``)?"""
    service, colon, _ = pattern.partition(":")
    return pattern != "*" and (not colon or "*" in service or "?" in service)


def _granted(policies: Sequence[Policy]) -> Granted:
    """The catalogue's services and actions that an Allow statement of ``policies`` names, with resources and
    conditions not weighed (as service last accessed lists what policies could reach). A service named whole
    (``*``, ``logs:*``) is not read: its actions are needed only if it was used."""
    statements = [st for p in policies for st in p.statements if not st.deny]
    shapes = tuple(sorted({(st.not_action, st.statement.actions) for st in statements}))
    hit = _GRANTED.get(shapes)
    if hit is not None:
        return hit
    whole: set[str] = set()
    some: dict[str, set[str]] = {}
    for st in statements:
        patterns = st.statement.actions
        if st.not_action or any(_wild_service(a) for a in patterns):
            # NotAction, or a wildcard in the service's part: every service's actions, tried one by one
            for ns in CATALOG.services():
                some.setdefault(ns, set()).update(a.name for a in CATALOG.actions(ns) if st.matches_action(f"{ns}:{a.name}".lower()))
            continue
        for pattern in patterns:
            service, _, name = pattern.partition(":")
            if pattern == "*":
                whole.update(CATALOG.services())
            elif name == "*":
                whole.add(service.lower())
            else:
                some.setdefault(service.lower(), set()).update(a.name for a in CATALOG.matching_actions(pattern))
    result: Granted = {ns: None for ns in whole if CATALOG.has_service(ns)}
    result.update({ns: frozenset(acts) for ns, acts in some.items() if acts and ns not in whole})
    if len(_GRANTED) > 4096:
        _GRANTED.clear()
    _GRANTED[shapes] = result
    return result


def _within(granted: Granted, boundary: Granted) -> Granted:
    """What ``granted`` keeps within a permissions boundary's grants."""
    out: Granted = {}
    for ns, acts in granted.items():
        if ns not in boundary:
            continue
        bound = boundary[ns]
        kept = bound if acts is None else acts if bound is None else acts & bound
        if kept is None or kept:
            out[ns] = kept
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


def quote(text: str) -> str:
    """A DOT string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def node_decls(ids: Iterable[str], snap: Snapshot, highlight: Iterable[str] = ()) -> list[str]:
    """DOT declarations of ``ids``, grouped in a cluster per account."""
    marked = set(highlight)
    by_account: dict[str, list[str]] = {}
    for i in sorted(ids):
        node = snap.nodes.get(i)
        kind = node.kind if node else ("external" if i.startswith("external:") else "service")
        label = i.rsplit(":", 1)[-1] if kind in ("user", "role", "account") else i
        extra = ', style=filled, fillcolor="#f4cccc"' if i in marked else ""
        decl = f"  {quote(i)} [label={quote(label)}, shape={_SHAPES.get(kind, 'ellipse')}{extra}];"
        by_account.setdefault(node.account if node and node.account else "", []).append(decl)
    lines: list[str] = []
    for account, decls in sorted(by_account.items()):
        if account:
            lines.append(f"  subgraph {quote('cluster_' + account)} {{ label={quote('account ' + account)};")
            lines.extend("  " + d for d in decls)
            lines.append("  }")
        else:
            lines.extend(decls)
    return lines


def to_dot(edges: Sequence[Edge], snap: Snapshot) -> str:
    """The trust graph in Graphviz's language: principals -> roles, conditional edges dashed with their conditions."""
    lines = ["digraph trust {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];', '  edge [fontname="Helvetica", fontsize=8];']
    lines += node_decls({e.source for e in edges} | {e.target for e in edges}, snap)
    for e in edges:
        style = f", style=dashed, label={quote('; '.join(e.conditions))}" if e.conditions else ""
        lines.append(f"  {quote(e.source)} -> {quote(e.target)} [tooltip={quote(e.action)}{style}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _label(i: str) -> str:
    parts = i.removeprefix("external:").split(":", 5)
    return f"{parts[4]}:{parts[5]}" if len(parts) == 6 and parts[0] == "arn" else i.removeprefix("external:")


def to_svg(edges: Sequence[Edge], snap: Snapshot) -> str:
    """The trust graph as a plain SVG (no Graphviz needed): who assumes on the left, roles on the right, an arrow
    per edge, dashed when it has conditions (shown on hover and beside the arrow)."""
    from xml.sax.saxutils import escape

    roles = sorted({e.target for e in edges})
    sources = sorted({e.source for e in edges} - set(roles))
    row, top, left_x, right_x, width = 26, 30, 20, 560, 900
    height = top + row * max(len(roles), len(sources), 1) + 20

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
        out.append(f'<text x="{left_x}" y="{ys[i]}" fill="{colours.get(kind, "#d62728")}">{escape(_label(i))} ({kind})</text>')
    for r in roles:
        out.append(f'<text x="{right_x}" y="{ys[r]}" fill="{colours["role"]}">{escape(_label(r))}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
