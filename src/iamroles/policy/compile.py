"""PolicyDocument -> :class:`Policy`: statements compiled into matchers.

Each statement gets: an exact-action set plus one case-insensitive regex for
its wildcard actions; one anchored regex for its static resources (ARN
segment by segment) and per-request templates for resources with policy
variables; its conditions as pre-typed tests; its Principal as sets by kind.
A policy indexes its statements by action, so a decision visits only the
statements whose Action (or NotAction) can match.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .arn import Arn
from .conditions import ConditionTest, compile_clause
from .document import PolicyDocument, PolicyKind, PrincipalElement, Statement
from .request import Principal, PrincipalType
from .variables import Context, Template, resolve, split_template
from .wildcard import compile_patterns, has_wildcard, plain

__all__ = ["Policy", "CompiledStatement", "compile_policy", "Grant"]

_MEMO_LIMIT = 4096


class Grant:
    """How a resource policy's Principal names the caller (strongest first)."""

    NONE = 0
    ACCOUNT = 1  # the caller's account (root ARN or account id)
    ROLE = 2  # the role whose session is calling
    DIRECT = 3  # the caller itself: user, role session, federated user, "*", service


@dataclass(frozen=True, slots=True)
class _PrincipalSets:
    wildcard: bool
    accounts: frozenset[str]  # account ids as given bare ("111122223333"): the policy's own partition
    account_arns: frozenset[tuple[str, str]]  # (partition, account) of account ARNs ("arn:aws-cn:iam::...:root")
    direct: frozenset[str]
    roles: frozenset[str]
    services: frozenset[str]
    federated: frozenset[str]
    canonical: frozenset[str]

    @classmethod
    def build(cls, element: PrincipalElement) -> _PrincipalSets:
        accounts, direct, roles = set(), set(), set()
        account_arns: set[tuple[str, str]] = set()
        wildcard = element.wildcard or "*" in element.aws
        for value in element.aws:
            if value == "*":
                continue
            if value.isdigit():
                accounts.add(value)
                continue
            arn = Arn.maybe(value)
            if arn is None:
                continue
            if arn.resource == "root":
                # an account ARN names the account in its partition only: "arn:aws-cn:iam::A:root" does not name
                # A's principals of the aws partition (each account lives in one partition, and "you cannot use IAM
                # credentials from one partition to interact with resources in a different partition",
                # https://docs.aws.amazon.com/whitepapers/latest/aws-fault-isolation-boundaries/partitions.html)
                account_arns.add((arn.partition, arn.account))
            elif arn.is_iam("role"):
                roles.add(value)
            else:
                direct.add(value)
        return cls(
            wildcard=wildcard,
            accounts=frozenset(accounts),
            account_arns=frozenset(account_arns),
            direct=frozenset(direct),
            roles=frozenset(roles),
            services=frozenset(s.lower() for s in element.service),
            federated=frozenset(element.federated),
            canonical=frozenset(element.canonical_user),
        )

    def grant(self, p: Principal, pins: Mapping[str, str] | None = None) -> int:
        """How strongly the element names ``p`` (a :class:`Grant` level).

        ``pins``: unique ids of the users and roles the element named when its policy was saved (ARN -> id);
        a named ARN whose holder now has another id (deleted and made again) names nobody, and the user who held
        it then is still named under a new name or path.
        """
        if self.wildcard:
            return Grant.DIRECT
        t = p.type
        if t is PrincipalType.SERVICE:
            return Grant.DIRECT if p.service and p.service.lower() in self.services else Grant.NONE
        if t is PrincipalType.WEB_IDENTITY:
            return Grant.DIRECT if p.federated in self.federated else Grant.NONE
        if t is PrincipalType.CANONICAL_USER:
            return Grant.DIRECT if p.canonical_user in self.canonical else Grant.NONE
        if t is PrincipalType.ANONYMOUS:
            return Grant.NONE
        if p.arn in self.direct and (not pins or _pinned(pins, p.arn, p.user_id)):
            return Grant.DIRECT
        if pins and t is PrincipalType.USER and p.user_id and any(pins.get(a) == p.user_id for a in self.direct):
            # the user the policy named, renamed or moved since: IAM keeps the unique id, and "resource or role
            # policies that refer to the user as the principal ... are automatically updated to use the new name or
            # path" (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_users_rename.html)
            return Grant.DIRECT
        if p.role_arn is not None and p.role_arn in self.roles and (
            not pins or _pinned(pins, p.role_arn, p.user_id.split(":", 1)[0] if p.user_id else None)
        ):
            return Grant.ROLE
        if self.names_account(p):
            return Grant.ACCOUNT
        return Grant.NONE

    def names_account(self, p: Principal) -> bool:
        """Does the element name ``p``'s account (its id, or its account ARN in ``p``'s partition)?"""
        return p.account in self.accounts or (bool(self.account_arns) and (p.partition, p.account) in self.account_arns)

    def exempts(self, p: Principal) -> bool:
        """NotPrincipal: is ``p`` left out of the statement?

        AWS evaluates a caller as each identity it acts as (its account, its
        role, itself), so a Deny with NotPrincipal spares a user only when the
        element names both it and its account, and a role session only when it
        names the session itself, its role and its account: naming the role
        does not spare the role's other sessions ("Principals must always name
        a specific session", reference_policies_elements_notprincipal).
        """
        if self.wildcard:
            return True
        t = p.type
        if t is PrincipalType.SERVICE:
            return bool(p.service and p.service.lower() in self.services)
        if t is PrincipalType.WEB_IDENTITY:
            return p.federated in self.federated
        if t is PrincipalType.CANONICAL_USER:
            return p.canonical_user in self.canonical
        if t is PrincipalType.ANONYMOUS:
            return False
        account = self.names_account(p)
        if t is PrincipalType.ACCOUNT:
            return account
        if t is PrincipalType.ASSUMED_ROLE:
            return account and p.arn in self.direct and p.role_arn is not None and p.role_arn in self.roles
        return account and p.arn in self.direct


def _pinned(pins: Mapping[str, str], arn: str, unique_id: str | None) -> bool:
    """Is ``arn`` still the principal the policy named (no pin, or the pin is this holder's unique id)?"""
    pin = pins.get(arn)
    return pin is None or pin == unique_id


ResourceTest = Callable[[str, Context], bool]


def _resource_test(resources: tuple[str, ...] | None, not_resource: bool, variables: bool) -> ResourceTest:
    if resources is None:  # trust policies: the role itself
        return lambda resource, ctx: True
    if "*" in resources:
        return (lambda resource, ctx: False) if not_resource else (lambda resource, ctx: True)
    templates: list[Template] = []
    static: list[str] = []
    for r in resources:
        t = split_template(r) if variables else None
        if t is None:
            static.append(r)
        else:
            templates.append(t)
    static_match = compile_patterns(tuple(plain(s) for s in static), False, "resource").match if static else None

    if not templates:
        assert static_match is not None
        if not_resource:
            return lambda resource, ctx: static_match(resource) is None
        return lambda resource, ctx: static_match(resource) is not None

    def matches(resource: str, ctx: Context) -> bool:
        if static_match is not None and static_match(resource) is not None:
            return True
        for t in templates:
            pieces = resolve(t, ctx)
            if pieces is not None and compile_patterns((pieces,), False, "resource").match(resource) is not None:
                return True
        return False

    if not_resource:
        return lambda resource, ctx: not matches(resource, ctx)
    return matches


class CompiledStatement:
    """A statement ready for decisions; ``applies`` tests all but the action."""

    __slots__ = (
        "conditions",
        "deny",
        "exact_actions",
        "index",
        "labels",
        "match_resource",
        "not_action",
        "not_principal",
        "policy",
        "principals",
        "sid",
        "statement",
        "wild_actions",
    )

    def __init__(self, st: Statement, index: int, variables: bool, policy: Policy) -> None:
        self.index = index
        self.sid = st.sid
        self.deny = st.is_deny
        self.statement = st
        self.policy = policy
        self.not_action = st.not_action
        exact = {a.lower() for a in st.actions if not has_wildcard(a)}
        wild = tuple(plain(a) for a in st.actions if has_wildcard(a))
        self.exact_actions = frozenset(exact)
        self.wild_actions: re.Pattern[str] | None = compile_patterns(wild, True, "glob") if wild else None
        self.match_resource = _resource_test(st.resources, st.not_resource, variables)
        self.conditions: tuple[ConditionTest, ...] = tuple(
            compile_clause(c.operator, c.key, c.values, variables) for c in st.conditions
        )
        self.principals = _PrincipalSets.build(st.principal) if st.principal is not None else None
        self.not_principal = st.not_principal
        self.labels: dict[Any, Any] = {}  # evaluate's Match for this statement, per policy type

    def matches_action(self, action_lower: str) -> bool:
        hit = action_lower in self.exact_actions or (
            self.wild_actions is not None and self.wild_actions.match(action_lower) is not None
        )
        return hit != self.not_action

    def applies(self, resource: str, ctx: Context) -> bool:
        if not self.match_resource(resource, ctx):
            return False
        for test in self.conditions:
            if not test(ctx):
                return False
        return True

    def grant(self, principal: Principal, pins: Mapping[str, str] | None = None) -> int:
        """For statements with Principal/NotPrincipal: how they name the caller (``pins``: see _PrincipalSets)."""
        if self.principals is None:
            return Grant.DIRECT
        if self.not_principal:
            return Grant.NONE if self.principals.exempts(principal) else Grant.DIRECT
        return self.principals.grant(principal, pins)

    def __repr__(self) -> str:
        return f"<statement {self.index}{' ' + self.sid if self.sid else ''} of {self.policy.name}>"


class Policy:
    """A parsed, validated and compiled policy document."""

    __slots__ = ("_exact", "_memo", "_wild", "document", "kind", "name", "statements")

    def __init__(self, document: PolicyDocument, kind: PolicyKind, name: str | None = None) -> None:
        self.kind = kind
        self.document = document
        self.name = name or document.id or kind.value
        variables = document.has_variables
        self.statements = tuple(CompiledStatement(st, i, variables, self) for i, st in enumerate(document.statements))
        # exact action -> statements naming it; everything else is checked per action once
        exact: dict[str, list[CompiledStatement]] = {}
        wild: list[CompiledStatement] = []
        for st in self.statements:
            if st.not_action or st.wild_actions is not None:
                wild.append(st)
            for a in st.exact_actions:
                if not st.not_action:
                    exact.setdefault(a, []).append(st)
        self._exact = {a: tuple(v) for a, v in exact.items()}
        self._wild = tuple(wild)
        self._memo: dict[str, tuple[CompiledStatement, ...]] = {}

    def candidates(self, action: str) -> tuple[CompiledStatement, ...]:
        """The statements whose Action/NotAction matches ``action``, in document order."""
        key = action.lower()
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        found = set(self._exact.get(key, ()))
        found.update(st for st in self._wild if st.matches_action(key))
        result = tuple(st for st in self.statements if st in found)
        if len(self._memo) >= _MEMO_LIMIT:
            self._memo.clear()
        self._memo[key] = result
        return result

    def __repr__(self) -> str:
        return f"<Policy {self.name} ({self.kind.value}, {len(self.statements)} statements)>"


def compile_policy(document: PolicyDocument, kind: PolicyKind, name: str | None = None) -> Policy:
    return Policy(document, kind, name)
