"""Privilege-escalation paths: a graph search over principals, each step a request the evaluator allows.

The graph's nodes are principal *states*: a user or role as stored, or as it would be after gaining something
(a policy written to it, a group joined, its permissions boundary removed, another version of a policy made
default). Its edges are the known ways to become another principal or to gain permissions (Rhino Security Labs'
"AWS IAM privilege escalation methods", and the edges of NCC Group's PMapper), each checked with
:func:`iamroles.policy.evaluate` under the principal's identity policies, permissions boundary and service control
policies, with the keys the analysis knows (``analysis.account``):

become another principal
    ``sts:AssumeRole`` that the role's trust policy and the caller's policies allow (and the role's resource
    control policies: a trust edge of ``account.trust_graph``, with its unknown conditions on the step);
    ``iam:UpdateAssumeRolePolicy`` on a role, then ``sts:AssumeRole`` under a trust policy naming the caller;
    ``iam:PassRole`` of a role to a service that trusts it, with what that service needs to run a workload with
    it (``iamroles:LaunchWorkload``; ``ec2:RunInstances`` and an instance profile; ``lambda:CreateFunction`` and
    a way to invoke it; ``ecs:RunTask``; ``cloudformation:CreateStack``; ...);
    ``iam:CreateAccessKey`` (and ``iam:DeleteAccessKey`` when the user has two), ``iam:CreateLoginProfile`` (no
    password yet) or ``iam:UpdateLoginProfile`` (one set) on another user;
gain permissions (on itself, or on a principal it then becomes)
    ``iam:Put{User,Role,Group}Policy`` or ``iam:Attach{User,Role,Group}Policy`` (AdministratorAccess, with
    ``iam:PolicyARN``) on itself or a group it is in; ``iam:AddUserToGroup`` of itself to a group;
    ``iam:CreatePolicyVersion`` (and ``iam:DeletePolicyVersion`` when there are five) or
    ``iam:SetDefaultPolicyVersion`` on a customer managed policy attached to it; ``iam:Delete*PermissionsBoundary``
    or ``iam:Put*PermissionsBoundary`` (AdministratorAccess, with ``iam:PermissionsBoundary``) on itself.

A path ends at an administrator (a state the evaluator allows every probe of :data:`ADMIN_PROBES`) or at a named
permission (``Target.permission``). Each principal's shortest path is reported (fewest steps; an unconditional
step before a conditional one). A gain is bounded by what still applies: a policy written to a principal with a
permissions boundary gains only what the boundary allows, and nothing an SCP denies.

What the search does not follow: gains made on a principal other than the one acting or the one it becomes next
(a policy written to C by A, who reaches C only two hops later), workloads of services not listed, and the
resources of other services (an S3 object holding keys).
"""
from __future__ import annotations

import heapq
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import count
from typing import Any, NamedTuple

from ..policy import Policy, PolicyKind, PolicySet, Request, evaluate, parse_policy
from ..policy.compile import Grant
from .account import (
    ALLOW_ALL,
    Edge,
    Node,
    Snapshot,
    assume_edge,
    exact_resources,
    may,
    names,
    node_decls,
    quote,
    role_policies,
    trust_graph,
)

__all__ = ["ADMIN_PROBES", "Escalation", "Gain", "Graph", "State", "Step", "Target", "escalations", "paths_to_dot", "paths_to_svg", "short"]

REGION = "us-east-1"  # the region of the resources the probes name (a policy bound to other regions is not admin's)
# an administrator may do all of these (the resources: made-up names in the principal's own account)
ADMIN_PROBES: tuple[tuple[str, str], ...] = (
    ("iam:CreateUser", "arn:{p}:iam::{a}:user/iamroles-analysis-probe"),
    ("iam:PutUserPolicy", "arn:{p}:iam::{a}:user/iamroles-analysis-probe"),
    ("iam:AttachRolePolicy", "arn:{p}:iam::{a}:role/iamroles-analysis-probe"),
    ("sts:AssumeRole", "arn:{p}:iam::{a}:role/iamroles-analysis-probe"),
    ("s3:GetObject", "arn:{p}:s3:::iamroles-analysis-probe/object"),
    ("ec2:RunInstances", "arn:{p}:ec2:{r}:{a}:instance/*"),
    ("kms:Decrypt", "arn:{p}:kms:{r}:{a}:key/iamroles-analysis-probe"),
    ("lambda:InvokeFunction", "arn:{p}:lambda:{r}:{a}:function:iamroles-analysis-probe"),
    ("dynamodb:GetItem", "arn:{p}:dynamodb:{r}:{a}:table/iamroles-analysis-probe"),
    ("secretsmanager:GetSecretValue", "arn:{p}:secretsmanager:{r}:{a}:secret:iamroles-analysis-probe"),
)

# what a service needs, besides iam:PassRole of the role to it, to run a workload with the role: alternatives,
# each a set of (action, resource) requests (Rhino Security Labs' methods 3, 15, 16, 17, 18 and PMapper's
# edges; iamroles' own iamroles:LaunchWorkload serves every service and is added to each)
_WORKLOAD = "iamroles-analysis"
LAUNCHERS: dict[str, tuple[tuple[tuple[str, str], ...], ...]] = {
    "ec2.amazonaws.com": ((("ec2:RunInstances", "arn:{p}:ec2:{r}:{a}:instance/*"),),),
    "lambda.amazonaws.com": (
        (("lambda:CreateFunction", "arn:{p}:lambda:{r}:{a}:function:" + _WORKLOAD),
         ("lambda:InvokeFunction", "arn:{p}:lambda:{r}:{a}:function:" + _WORKLOAD)),
        (("lambda:CreateFunction", "arn:{p}:lambda:{r}:{a}:function:" + _WORKLOAD), ("lambda:CreateEventSourceMapping", "*")),
    ),
    "ecs-tasks.amazonaws.com": ((("ecs:RegisterTaskDefinition", "*"), ("ecs:RunTask", "arn:{p}:ecs:{r}:{a}:task-definition/" + _WORKLOAD + ":1")),),
    "cloudformation.amazonaws.com": ((("cloudformation:CreateStack", "arn:{p}:cloudformation:{r}:{a}:stack/" + _WORKLOAD + "/*"),),),
    "codebuild.amazonaws.com": ((("codebuild:CreateProject", "arn:{p}:codebuild:{r}:{a}:project/" + _WORKLOAD),
                                 ("codebuild:StartBuild", "arn:{p}:codebuild:{r}:{a}:project/" + _WORKLOAD)),),
    "glue.amazonaws.com": ((("glue:CreateDevEndpoint", "arn:{p}:glue:{r}:{a}:devEndpoint/" + _WORKLOAD),),),
    "sagemaker.amazonaws.com": ((("sagemaker:CreateNotebookInstance", "arn:{p}:sagemaker:{r}:{a}:notebook-instance/" + _WORKLOAD),
                                 ("sagemaker:CreatePresignedNotebookInstanceUrl",
                                  "arn:{p}:sagemaker:{r}:{a}:notebook-instance/" + _WORKLOAD)),),
}
MAX_VERSIONS = 5  # a managed policy keeps at most five versions (reference_iam-quotas)
MAX_KEYS = 2  # a user has at most two access keys (reference_iam-quotas)
_BECOME = frozenset({"sts:AssumeRole", "sts:AssumeRoleWithWebIdentity", "sts:AssumeRoleWithSAML", "iam:UpdateAssumeRolePolicy",
                     "iam:PassRole", "iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:UpdateLoginProfile"})
_STATE_LIMIT = 20_000  # states one search may settle (a bound on a pathological account, never met in practice)


@dataclass(frozen=True)
class Gain:
    """What a principal gains: policies added (``add``, with ``drop`` a managed policy they replace), or its
    permissions boundary gone (``unbound``). ``key`` makes two ways to the same gain one state."""

    key: str
    label: str
    add: tuple[Policy, ...] = field(default=(), compare=False)
    drop: str | None = field(default=None, compare=False)
    unbound: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class State:
    principal: str
    gains: frozenset[Gain] = frozenset()

    def label(self) -> str:
        if not self.gains:
            return self.principal
        return f"{self.principal} (with {', '.join(sorted(g.label for g in self.gains))})"


class Step(NamedTuple):
    """One request of a path (with the others it needs, each allowed too)."""

    who: str
    action: str
    resource: str
    gains: str
    conditions: tuple[str, ...] = ()
    also: tuple[str, ...] = ()

    @property
    def becomes(self) -> bool:
        """Does the step make its actor another principal (rather than gain permissions where it is)?"""
        return self.action in _BECOME

    def to_dict(self) -> dict[str, Any]:
        return {"as": self.who, "action": self.action, "resource": self.resource, "gains": self.gains,
                "conditions": list(self.conditions), "also": list(self.also)}

    def text(self, start: str) -> str:
        """The step for people: ``as WHO: ACTION on RESOURCE (with ...) if ...``, names of the starting principal's
        account without their ARN's head."""
        also = f" (with {', '.join(self.also)})" if self.also else ""
        who = f"as {short(self.who, start)}: " if self.who != start else ""
        cond = f" if {'; '.join(self.conditions)}" if self.conditions else ""
        return f"{who}{self.action} on {short(self.resource, start)}{also}{cond}"


def short(arn: str, start: str) -> str:
    """``arn`` without ``arn:PARTITION:iam::ACCOUNT:`` when it is of ``start``'s account (``user/ops``)."""
    head = start.rsplit(":", 1)[0] + ":"
    return arn[len(head):] if arn.startswith(head) and head.startswith("arn:") else arn


@dataclass(frozen=True)
class Target:
    """Where a path ends: an administrator, or a principal allowed ``action`` on ``resource``."""

    action: str | None = None
    resource: str = "*"

    @classmethod
    def parse(cls, text: str | None) -> Target:
        """``ACTION`` or ``ACTION:RESOURCE`` (``s3:GetObject:arn:aws:s3:::b/k``); None: an administrator."""
        if not text:
            return cls()
        service, _, rest = text.partition(":")
        name, colon, resource = rest.partition(":")
        if not service or not name:
            raise ValueError(f"not an action: {text!r} (ACTION or ACTION:RESOURCE, e.g. s3:GetObject:arn:aws:s3:::bucket/key)")
        return cls(f"{service}:{name}", resource if colon and resource else "*")

    def __str__(self) -> str:
        return "administrator" if self.action is None else f"{self.action} on {self.resource}"


@dataclass(frozen=True)
class Escalation:
    """A path from a principal to the target (an administrator, or a permission) it does not hold."""

    principal: str
    steps: tuple[Step, ...]
    gains: str  # the target reached
    reaches: str  # the state at the end of the path

    @property
    def conditional(self) -> bool:
        return any(s.conditions for s in self.steps)

    def to_dict(self) -> dict[str, Any]:
        return {"principal": self.principal, "target": self.gains, "reaches": self.reaches, "conditional": self.conditional,
                "path": [s.to_dict() for s in self.steps]}

    def __str__(self) -> str:
        n = len(self.steps)
        head = f"{self.principal}: {self.gains} in {n} step{'s' if n > 1 else ''}{' (conditional)' if self.conditional else ''}"
        lines = [head, *(f"  {i}. {s.text(self.principal)}" for i, s in enumerate(self.steps, 1))]
        return "\n".join(lines)


Move = tuple[tuple[Step, ...], State]


class Graph:
    """The search graph over ``snap``'s users and roles; moves and tests are computed once per state."""

    def __init__(self, snap: Snapshot, edges: Sequence[Edge] | None = None, target: Target | None = None) -> None:
        self.snap = snap
        self._policies: dict[State, PolicySet] = {}
        self._holds: dict[tuple[State, Target], bool] = {}
        self._filled: dict[tuple[str, str, str | None], str] = {}
        if edges is None:
            # the edges a search can take: from services (to pass roles to them) and from the users and roles that
            # do not hold the target already (a search starts at those, and stops at the others)
            aim = target or Target()
            edges = trust_graph(snap, sources=lambda n: n.kind == "service" or (
                n.kind in ("user", "role") and not self.holds(State(n.id), aim)))
        self.assume: dict[str, list[Edge]] = {}
        self.by_service: dict[str, list[Edge]] = {}  # service -> its edges to roles
        for e in edges:
            if e.source in snap.nodes:
                self.assume.setdefault(e.source, []).append(e)
            elif "." in e.source and not e.source.startswith(("arn:", "external:")):
                self.by_service.setdefault(e.source, []).append(e)
        self.allow_all = parse_policy(ALLOW_ALL, PolicyKind.IDENTITY, "written-by-analysis")
        self.users: dict[str, list[str]] = {}
        for arn, u in snap.users.items():
            self.users.setdefault(u["account"], []).append(arn)
        self.roles: dict[str, list[str]] = {}
        for arn, r in snap.roles.items():
            self.roles.setdefault(r.account, []).append(arn)
        self._moves: dict[State, list[Move]] = {}
        self._trusts: dict[str, Policy] = {}

    # -- a state's permissions ------------------------------------------------------------------------------
    def policies(self, state: State) -> PolicySet:
        hit = self._policies.get(state)
        if hit is None:
            node = self.snap.nodes[state.principal]
            if not state.gains:
                hit = node.policies
            else:
                drops = {g.drop for g in state.gains if g.drop}
                identity = [p for origin, p in node.sources if origin not in drops] + [p for g in state.gains for p in g.add]
                unbound = any(g.unbound for g in state.gains)
                hit = PolicySet(identity=identity, boundary=None if unbound else node.policies.boundary, scp=node.policies.scp)
            self._policies[state] = hit
        return hit

    def _allowed(self, node: Node, ps: PolicySet, action: str, resource: str, context: dict[str, Any] | None = None) -> bool:
        """Does the evaluator allow ``node`` (under ``ps``) ``action`` on ``resource`` of its own account? (No
        resource policy takes part, so an Allow of its identity policies naming the resource is needed: asked
        first, as most resources are not named.)"""
        assert node.principal is not None
        allows = ps.plan(action).identity
        if not allows:
            return False
        if not names(allows, resource, node.principal.keys):
            return False
        request = Request(node.principal, action, resource, node.account, {**node.context, **context} if context else node.context)
        return evaluate(request, ps).allowed

    def _fill(self, template: str, node: Node) -> str:
        key = (template, node.partition, node.account)
        hit = self._filled.get(key)
        if hit is None:
            hit = self._filled[key] = template.format(p=node.partition, a=node.account, r=REGION)
        return hit

    def holds(self, state: State, target: Target) -> bool:
        key = (state, target)
        hit = self._holds.get(key)
        if hit is None:
            node = self.snap.nodes[state.principal]
            ps = self.policies(state)
            if target.action is None:
                hit = all(self._allowed(node, ps, action, self._fill(resource, node)) for action, resource in ADMIN_PROBES)
            else:
                hit = self._allowed(node, ps, target.action, target.resource)
            self._holds[key] = hit
        return hit

    # -- moves --------------------------------------------------------------------------------------------
    def moves(self, state: State) -> list[Move]:
        hit = self._moves.get(state)
        if hit is None:
            hit = self._moves[state] = list(self._make_moves(state))
        return hit

    def _make_moves(self, state: State) -> Iterable[Move]:
        node = self.snap.nodes[state.principal]
        ps = self.policies(state)
        for steps, target in self._become(state, node, ps):
            yield steps, State(target)
            subject = self.snap.nodes[target]
            if subject.account == node.account:
                for step, gain in self._gains(node, ps, subject):
                    yield (step, *steps), State(target, frozenset({gain}))
        for step, gain in self._gains(node, ps, node):
            if gain not in state.gains:
                # a policy has one default version: another one made default replaces the one chosen before
                kept = frozenset(g for g in state.gains if not (gain.drop and g.drop == gain.drop))
                yield (step,), State(state.principal, kept | {gain})

    def _become(self, state: State, node: Node, ps: PolicySet) -> Iterable[tuple[tuple[Step, ...], str]]:
        snap, me = self.snap, node.id
        assumable: set[str] = set()
        for e in self._assume_edges(state, node, ps):
            assumable.add(e.target)
            yield (Step(me, e.action, e.target, f"the permissions of {e.target}", e.conditions),), e.target
        if node.account is None:
            return
        # rewrite a role's trust policy to name itself, then assume the role
        if may(ps, "iam:UpdateAssumeRolePolicy"):
            for arn in self.roles.get(node.account, ()):
                role = snap.roles[arn]
                if arn == me or arn in assumable or role.node.service_linked:
                    continue
                if self._allowed(node, ps, "iam:UpdateAssumeRolePolicy", arn) and self._assume_rewritten(node, ps, arn):
                    yield (Step(me, "iam:UpdateAssumeRolePolicy", arn, f"the permissions of {arn} (its trust rewritten to name "
                                f"{me}, then assumed)", (), ("sts:AssumeRole",)),), arn
        # pass a role to a service that runs a workload with it
        if may(ps, "iam:PassRole"):
            own_launch = may(ps, "iamroles:LaunchWorkload")
            exact = exact_resources(ps.plan("iam:PassRole").identity)  # the roles it may pass, when named exactly
            for service, edges in self.by_service.items():
                generic = self._launcher(node, ps, service)
                if generic is None and not own_launch:
                    continue  # nothing it may do has this service run a workload
                for e in edges:
                    if exact is not None and e.target not in exact:
                        continue
                    role = snap.roles[e.target]
                    if role.account != node.account or e.target == me or role.node.service_linked:
                        continue
                    if not self._allowed(node, ps, "iam:PassRole", e.target, {"iam:PassedToService": service}):
                        continue
                    launch = self._launch(node, ps, service, e.target, generic)
                    if launch is not None:
                        yield (Step(me, "iam:PassRole", e.target, f"the permissions of {e.target} (passed to {service}, which runs a "
                                    "workload with it)", e.conditions, launch),), e.target
        # other users' credentials
        if any(may(ps, a) for a in ("iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:UpdateLoginProfile")):
            for arn in self.users.get(node.account, ()):
                if arn == me:
                    continue
                user = snap.users[arn]
                gains = f"the permissions of {arn}"
                if self._allowed(node, ps, "iam:CreateAccessKey", arn):
                    if user["key_count"] < MAX_KEYS:
                        yield (Step(me, "iam:CreateAccessKey", arn, gains),), arn
                        continue
                    if self._allowed(node, ps, "iam:DeleteAccessKey", arn):
                        yield (Step(me, "iam:CreateAccessKey", arn, gains, (), ("iam:DeleteAccessKey",)),), arn
                        continue
                action = "iam:UpdateLoginProfile" if user["password_set_at"] is not None else "iam:CreateLoginProfile"
                if self._allowed(node, ps, action, arn):
                    yield (Step(me, action, arn, gains + " (signing in with a password it sets)"),), arn

    def _assume_edges(self, state: State, node: Node, ps: PolicySet) -> Iterable[Edge]:
        if not state.gains:
            yield from self.assume.get(node.id, ())
            return
        assert node.principal is not None
        if not may(ps, "sts:AssumeRole") and node.kind != "role":
            # only a trust policy naming the principal itself could still let it in; those are among its edges
            yield from self.assume.get(node.id, ())
            return
        for role in self.snap.roles.values():
            if role.trust is None or role.arn == node.id:
                continue
            if any(not cs.deny and cs.grant(node.principal, role.pins) != Grant.NONE for cs in role.trust.statements):
                edge = assume_edge(role, node, "sts:AssumeRole", ps)
                if edge is not None:
                    yield edge

    def _assume_rewritten(self, node: Node, ps: PolicySet, arn: str) -> bool:
        """Would ``node`` be allowed sts:AssumeRole on ``arn`` once the role's trust policy names it?"""
        assert node.principal is not None
        named = node.principal.principal_arn or node.id
        trust = self._trusts.get(named)
        if trust is None:
            trust = self._trusts[named] = parse_policy(json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": named}, "Action": "sts:AssumeRole"}]}), PolicyKind.TRUST, f"rewritten trust of {arn}")
        role = self.snap.roles[arn]
        request = Request(node.principal, "sts:AssumeRole", arn, role.account, {**node.context, **role.resource_keys})
        return evaluate(request, role_policies(role, node, trust, "sts:AssumeRole", ps)).allowed

    def _launcher(self, node: Node, ps: PolicySet, service: str) -> tuple[tuple[str, str], ...] | None:
        """The first of the service's ways to run a workload (:data:`LAUNCHERS`) that ``node`` may use."""
        for alternative in LAUNCHERS.get(service, ()):
            if all(self._allowed(node, ps, action, self._fill(resource, node)) for action, resource in alternative):
                return alternative
        return None

    def _launch(self, node: Node, ps: PolicySet, service: str, role_arn: str,
                generic: tuple[tuple[str, str], ...] | None) -> tuple[str, ...] | None:
        """The requests (besides iam:PassRole) with which ``node`` has ``service`` run a workload as the role
        (``generic``: the service's own way it may use), or None if it cannot."""
        if self._allowed(node, ps, "iamroles:LaunchWorkload", role_arn, {"iamroles:ServicePrincipal": service}):
            return ("iamroles:LaunchWorkload",)
        if generic is None:
            return None
        needs = tuple(a for a, _ in generic)
        if service == "ec2.amazonaws.com" and not self.snap.roles[role_arn].profiles:
            # an instance takes a role through an instance profile: make one and put the role in it
            profile = self._fill("arn:{p}:iam::{a}:instance-profile/" + _WORKLOAD, node)
            if not all(self._allowed(node, ps, a, profile) for a in ("iam:CreateInstanceProfile", "iam:AddRoleToInstanceProfile")):
                return None
            needs += ("iam:CreateInstanceProfile", "iam:AddRoleToInstanceProfile")
        return needs

    def _gains(self, node: Node, ps: PolicySet, subject: Node) -> Iterable[tuple[Step, Gain]]:
        """What ``node`` can have ``subject`` (itself, or a principal of its account it becomes) gain."""
        if subject.kind not in ("user", "role") or subject.service_linked or node.account is None:
            return
        me, arn, snap = node.id, subject.id, self.snap
        kind = "User" if subject.kind == "user" else "Role"
        anything = Gain("any", "any permission", (self.allow_all,))
        admin = snap.admin_policy.get(subject.partition)
        whose = "itself" if subject is node else arn
        if self._allowed(node, ps, f"iam:Put{kind}Policy", arn):
            yield Step(me, f"iam:Put{kind}Policy", arn, f"any permission (a policy written to {whose})"), anything
        elif admin is not None and self._allowed(node, ps, f"iam:Attach{kind}Policy", arn, {"iam:PolicyARN": admin[0]}):
            yield Step(me, f"iam:Attach{kind}Policy", arn, f"any permission ({admin[0]} attached to {whose})"), anything
        if subject.kind == "user":
            user = snap.users[arn]
            for garn, group in snap.groups.items():
                if group.account != subject.account:
                    continue
                if group.key in user["groups"]:
                    if self._allowed(node, ps, "iam:PutGroupPolicy", garn):
                        yield Step(me, "iam:PutGroupPolicy", garn, f"any permission (a policy written to {group.name}, a group of "
                                   f"{whose})"), anything
                    elif admin is not None and self._allowed(node, ps, "iam:AttachGroupPolicy", garn, {"iam:PolicyARN": admin[0]}):
                        yield Step(me, "iam:AttachGroupPolicy", garn, f"any permission ({admin[0]} attached to {group.name}, a group "
                                   f"of {whose})"), anything
                elif group.sources and self._allowed(node, ps, "iam:AddUserToGroup", garn):
                    yield (Step(me, "iam:AddUserToGroup", garn, f"the permissions of group {group.name} ({whose} added to it)"),
                           Gain(f"group:{garn}", f"group {group.name}", tuple(p for _, p in group.sources)))
        for origin, _ in subject.sources:
            info = snap.managed.get(origin)
            if info is None:
                continue  # inline, or AWS managed (AWS's policies take no versions of ours)
            versions: dict[str, str] = info["versions"]
            if self._allowed(node, ps, "iam:CreatePolicyVersion", origin):
                full = len(versions) >= MAX_VERSIONS
                if not full or self._allowed(node, ps, "iam:DeletePolicyVersion", origin):
                    yield (Step(me, "iam:CreatePolicyVersion", origin, f"any permission (a new default version of {info['name']}, "
                                f"attached to {whose})", (), ("iam:DeletePolicyVersion",) if full else ()), anything)
                    continue
            if len(versions) > 1 and self._allowed(node, ps, "iam:SetDefaultPolicyVersion", origin):
                for vid, text in sorted(versions.items()):
                    if vid == info["default_version"]:
                        continue
                    policy = snap.compile(text, PolicyKind.IDENTITY, f"{origin} {vid}")
                    yield (Step(me, "iam:SetDefaultPolicyVersion", origin, f"the permissions of version {vid} of {info['name']}"),
                           Gain(f"version:{origin}:{vid}", f"{info['name']} {vid}", (policy,), drop=origin))
        if subject.boundary_arn:
            unbound = Gain("unbound", "no permissions boundary", unbound=True)
            if self._allowed(node, ps, f"iam:Delete{kind}PermissionsBoundary", arn):
                yield Step(me, f"iam:Delete{kind}PermissionsBoundary", arn, f"what the permissions boundary of {whose} held back"), unbound
            elif admin is not None and self._allowed(node, ps, f"iam:Put{kind}PermissionsBoundary", arn,
                                                     {"iam:PermissionsBoundary": admin[0]}):
                yield Step(me, f"iam:Put{kind}PermissionsBoundary", arn, f"what the permissions boundary of {whose} held back "
                           f"({admin[0]} made its boundary)"), unbound

    # -- the search ---------------------------------------------------------------------------------------
    def search(self, start: str, target: Target) -> Escalation | None:
        """The shortest path from ``start`` (as stored) to a state that holds ``target``; None if there is none
        (or ``start`` holds it already)."""
        origin = State(start)
        if self.holds(origin, target):
            return None
        tie = count()
        best: dict[State, float] = {origin: 0.0}
        back: dict[State, tuple[State, tuple[Step, ...]]] = {}
        heap: list[tuple[float, int, State]] = [(0.0, next(tie), origin)]
        settled: set[State] = set()
        while heap and len(settled) < _STATE_LIMIT:
            cost, _, state = heapq.heappop(heap)
            if state in settled:
                continue
            settled.add(state)
            if state is not origin and self.holds(state, target):
                steps: list[Step] = []
                at = state
                while at in back:
                    at, more = back[at][0], back[at][1]
                    steps[:0] = more
                return Escalation(start, tuple(steps), str(target), state.label())
            for more, nxt in self.moves(state):
                if nxt in settled:
                    continue
                c = cost + len(more) + 0.01 * sum(1 for s in more if s.conditions)
                if c < best.get(nxt, float("inf")):
                    best[nxt] = c
                    back[nxt] = (state, more)
                    heapq.heappush(heap, (c, next(tie), nxt))
        return None


def escalations(snap: Snapshot, edges: Sequence[Edge] | None = None, target: Target | None = None,
                sources: Sequence[str] | None = None) -> list[Escalation]:
    """For every user and role (or those of ``sources``) that does not hold ``target`` (an administrator by
    default): its shortest path to it, if it has one."""
    aim = target or Target()
    graph = Graph(snap, edges, aim)
    starts = [n.id for n in snap.nodes.values() if n.kind in ("user", "role")]
    if sources is not None:
        wanted = set(sources)
        starts = [s for s in starts if s in wanted]
    out = []
    for start in starts:
        found = graph.search(start, aim)
        if found is not None:
            out.append(found)
    return out


# -- pictures ------------------------------------------------------------------------------------------------------

def paths_to_dot(paths: Sequence[Escalation], snap: Snapshot) -> str:
    """The paths in Graphviz's language: each step an arrow from who acts to what it becomes or changes, labelled
    with its action; the principals the paths start from filled."""
    lines = ["digraph escalation {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=8];']
    ids: set[str] = set()
    arrows: dict[tuple[str, str, str], tuple[str, ...]] = {}
    goal = "target: " + (paths[0].gains if paths else "administrator")
    for p in paths:
        ids.add(p.principal)
        for i, s in enumerate(p.steps):
            ids.update((s.who, s.resource))
            arrows.setdefault((s.who, s.resource, s.action), s.conditions)
            if i == len(p.steps) - 1:
                last = p.steps[-1]
                becomes = last.resource if last.resource in snap.nodes and snap.nodes[last.resource].kind in ("user", "role") else last.who
                arrows.setdefault((becomes, goal, "holds"), ())
    lines += node_decls(ids, snap, highlight={p.principal for p in paths})
    lines.append(f"  {quote(goal)} [shape=doubleoctagon, style=filled, fillcolor=\"#cc0000\", fontcolor=white];")
    for (a, b, action), conditions in arrows.items():
        style = f", style=dashed, label={quote(action + ' if ' + '; '.join(conditions))}" if conditions else f", label={quote(action)}"
        lines.append(f"  {quote(a)} -> {quote(b)} [tooltip={quote(action)}{style}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def paths_to_svg(paths: Sequence[Escalation]) -> str:
    """The paths as a plain SVG (no Graphviz needed): a row per path, from the principal through each step to the
    target, conditional steps dashed."""
    from xml.sax.saxutils import escape

    def box(p: Escalation, s: Step) -> str:
        """What the principal is after the step: the one it became, or itself with what it gained."""
        if s.becomes:
            return short(s.resource, p.principal)
        return f"{short(s.who, p.principal)}: {s.gains.split(' (')[0]}"

    box_w, gap, row, top = 190, 60, 54, 30
    longest = max((len(p.steps) for p in paths), default=0)
    width = 20 + (longest + 2) * (box_w + gap)
    height = top + row * max(len(paths), 1) + 10
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="Helvetica, Arial, sans-serif" '
           'font-size="10">',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto">'
           '<path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>',
           f'<text x="20" y="16" font-weight="bold" font-size="11">escalation paths to {escape(paths[0].gains if paths else "administrator")}'
           '</text>']
    for n, p in enumerate(paths):
        y = top + row * n
        boxes = [short(p.principal, p.principal)] + [box(p, s) for s in p.steps] + [p.gains]
        for i, text in enumerate(boxes):
            x = 20 + i * (box_w + gap)
            fill = "#f4cccc" if i == 0 else "#cc0000" if i == len(boxes) - 1 else "#eeeeee"
            colour = "white" if i == len(boxes) - 1 else "black"
            out.append(f'<rect x="{x}" y="{y}" width="{box_w}" height="22" rx="4" fill="{fill}" stroke="#555"/>')
            out.append(f'<text x="{x + 6}" y="{y + 15}" fill="{colour}">{escape(text[:34])}<title>{escape(text)}</title></text>')
            if i < len(p.steps):
                s = p.steps[i]
                dash = ' stroke-dasharray="5,3"' if s.conditions else ""
                title = escape(s.text(p.principal))
                x1, x2 = x + box_w, x + box_w + gap
                out.append(f'<path d="M{x1},{y + 11} L{x2 - 2},{y + 11}" stroke="#555"{dash} marker-end="url(#arrow)"><title>{title}</title></path>')
                out.append(f'<text x="{x1 + 2}" y="{y + 36}" font-size="8" fill="#a33">{escape(s.action)}</text>')
            elif i == len(p.steps):
                x1, x2 = x + box_w, x + box_w + gap
                out.append(f'<path d="M{x1},{y + 11} L{x2 - 2},{y + 11}" stroke="#555" marker-end="url(#arrow)"/>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
