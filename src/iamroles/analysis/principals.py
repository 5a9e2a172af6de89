"""The caller of a policy that names principals (a resource-based policy, a role's trust policy), for the proofs
of :mod:`iamroles.analysis.proofs`: the caller as unknowns of the solver, and the settings a request is replayed in.

**The caller as unknowns.** Every principal :class:`iamroles.policy.Principal` can be: an account's root user, an
IAM user (with a path), a role session (of a role with a path), a federated user, an AWS service, a web identity
(an OIDC or SAML provider's), a canonical user, or an anonymous caller; its partition, account, names and the
keys AWS derives from it (aws:PrincipalArn, aws:PrincipalAccount, aws:PrincipalType, aws:userid, aws:username,
aws:PrincipalIsAWSService, aws:PrincipalServiceName) are tied to one another as the evaluator derives them, so a
condition on aws:PrincipalAccount and a Principal naming the account speak of the same caller. A Principal
element is encoded exactly as :class:`iamroles.policy.compile.CompiledStatement.grant` reads it (exact ARNs, no
partial wildcards: "You cannot use a wildcard to match part of a principal name or ARN",
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html). Modelling
restrictions, each to callers that exist: names and paths are in IAM's character sets, an account is 12 digits,
a partition is lower-case letters and hyphens.

**How strongly a policy names the caller.** The evaluator reads a resource-based policy, for one request, as one
of: explicitly denied, not named, named through its account (the caller's identity policies must allow too),
named through its role (a role session: the identity policies are skipped in the role's account, the boundary
and session policies still apply), named itself (in its own account nothing else is asked). Everything else the
decision consults (identity policies, permissions boundary, session policies, service control policies, whether
the resource policy must grant by itself as trust and key policies must) is the caller's *setting*, the same for
both policies compared; the decision is monotone in that strength. So "NEW allows no request OLD does not, in any
setting" is a comparison of strengths, which the solver decides; a counterexample is replayed through
:func:`iamroles.policy.evaluate` in each of a few extreme settings (:func:`settings`) and confirmed by one.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import z3

from ..policy import Arn, Policy, PolicyKind, PolicySet, Principal, PrincipalType, Request, evaluate, parse_policy
from ..policy.compile import CompiledStatement
from .patterns import MAX_CHAR, folded

__all__ = ["CASE_ORDER", "DERIVED_KEYS", "IAM_TYPES", "TAG_PREFIX", "Caller", "Facts", "Setting", "describe", "distinguishing", "granting",
           "is_derived", "named_accounts", "polish", "settings", "spec_names"]

_TYPES: tuple[PrincipalType, ...] = tuple(PrincipalType)
_IAM = (PrincipalType.ACCOUNT, PrincipalType.USER, PrincipalType.ASSUMED_ROLE, PrincipalType.FEDERATED_USER)
IAM_TYPES = _IAM
# the order in which the proofs look at the types of caller (the likeliest counterexamples first)
CASE_ORDER = (PrincipalType.USER, PrincipalType.ASSUMED_ROLE, PrincipalType.ACCOUNT, PrincipalType.FEDERATED_USER,
              PrincipalType.SERVICE, PrincipalType.WEB_IDENTITY, PrincipalType.CANONICAL_USER, PrincipalType.ANONYMOUS)
_BOUNDED = (PrincipalType.USER, PrincipalType.ASSUMED_ROLE)  # who can have a permissions boundary
_SESSIONS = (PrincipalType.ASSUMED_ROLE, PrincipalType.FEDERATED_USER)  # who can have session policies

# the global condition keys the evaluator derives from the caller and the request's resource account
# (iamroles.policy.request.Principal._global_keys); a proof over a policy with a Principal ties them to the caller
DERIVED_KEYS = frozenset({"aws:principalarn", "aws:principalaccount", "aws:principaltype", "aws:userid", "aws:username",
                          "aws:principalisawsservice", "aws:principalservicename", "aws:principaltagkeys",
                          "aws:resourceaccount"})
TAG_PREFIX = "aws:principaltag/"


# keys whose values hold the caller's or the resource's account, delimited by non-digits (an ARN's colons)
_ACCOUNT_KEYS = frozenset({"aws:principalaccount", "aws:principalarn", "aws:userid", "aws:resourceaccount"})
_RUN_12 = re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])")
_DIGITS = re.compile(r"[0-9]+")
_FRESH = ("123456789012", "210987654321", "100000000001", "200000000002", "300000000003")


def named_accounts(policies: Iterable[Policy], patterns: Iterable[str] = (), constants: Iterable[str] = ()) -> list[str] | None:
    """The account ids the policies name (every run of exactly 12 digits in their strings), when no policy can
    tell one account it does not name from another (else None): then a caller of an unnamed account decides as a
    caller of one fresh account, and the proof may take the accounts to be among these and two fresh ones, which
    z3 decides far faster than a string unequal to others.

    Why that holds: an account stands in every value the caller derives (aws:PrincipalArn, aws:PrincipalAccount,
    aws:userid, aws:ResourceAccount) between non-digits, so an equality can only meet it whole, and a pattern
    only through a run of literal digits: one of 12 is a named account, a longer one never fits. It fails for a
    pattern with a shorter run of digits (``arn:aws:iam::1111*``) or a policy variable (its value may hold any
    digits) on those keys, or a policy variable reading them (their value then flows into other strings); ``patterns``: more patterns read against the caller,
    ``constants``: more strings compared with it (check_access_not_granted's principals)."""
    from ..policy.variables import Var, split_template

    named: set[str] = set()
    for p in policies:
        variables = p.document.has_variables
        for st in p.document.statements:
            element = st.principal
            texts = [*(element.aws if element else ()), *(st.resources or ()), *(v for c in st.conditions for v in c.values)]
            for text in texts:
                named.update(_RUN_12.findall(text))
                if variables and "${" in text:
                    for part in split_template(text) or ():
                        if isinstance(part, Var) and part.key in _ACCOUNT_KEYS:
                            return None
            for c in st.conditions:
                op = c.operator.lower()
                if c.key.lower() in _ACCOUNT_KEYS and ("like" in op or "arn" in op):
                    if any(len(run) < 12 for v in c.values for run in _DIGITS.findall(v)):
                        return None
                    if variables and any("${" in v for v in c.values):
                        return None  # a variable's value may hold any digits
    for pattern in patterns:
        if any(len(run) < 12 for run in _DIGITS.findall(pattern)):
            return None
        named.update(_RUN_12.findall(pattern))
    for text in constants:
        named.update(_RUN_12.findall(text))
    return sorted(named)


def is_derived(key: str) -> bool:
    return key in DERIVED_KEYS or key.startswith(TAG_PREFIX)


def _chars(extra: str) -> z3.ReRef:
    """IAM's name characters ([\\w+=,.@-], ASCII)."""
    return z3.Union(z3.Range("A", "Z"), z3.Range("a", "z"), z3.Range("0", "9"), *(z3.Re(c) for c in "_" + extra))


def _s(text: str) -> z3.SeqRef:
    return z3.StringVal(text)


def _one_of(var: z3.SeqRef, values: Iterable[str]) -> z3.BoolRef:
    tests = [var == _s(v) for v in values if all(ord(c) <= MAX_CHAR for c in v)]
    return z3.Or(*tests) if tests else z3.BoolVal(False)


class Caller:
    """The caller and the request's resource account, as unknowns (see the module's docstring)."""

    def __init__(self) -> None:
        self.type = z3.Int("caller.type")
        self.partition = z3.String("caller.partition")
        self.account = z3.String("caller.account")
        self.path = z3.String("caller.path")  # a user's or a session's role's path
        self.role = z3.String("caller.role")  # a session's role name
        self.name = z3.String("caller.name")  # user name, session name, federated user name
        self.arn = z3.String("caller.arn")
        self.role_arn = z3.String("caller.role_arn")
        self.user_id = z3.String("caller.userid")
        self.service = z3.String("caller.service")
        self.federated = z3.String("caller.federated")
        self.canonical = z3.String("caller.canonical")
        self.bounded = z3.Bool("caller.bounded")  # has a permissions boundary (a setting the policies can tell)
        # the resource's account: whether it is the caller's, and (only when a policy reads aws:ResourceAccount:
        # :meth:`tie_resource_account`) which it is
        self.same_account = z3.Bool("request.same_account")
        self.resource_account = z3.String("request.resource_account")
        self.resource_account_tied = False
        self.is_iam = self.is_(*_IAM)
        # the caller's ARNs and unique id as strings of their own, only where a policy reads them as text
        # (aws:PrincipalArn, aws:userid, a pattern): elsewhere a named ARN is compared by its parts, which the solver
        # decides far faster than the concatenations
        self.arn_tied = False
        self.user_id_tied = False

    def is_(self, *types: PrincipalType) -> z3.BoolRef:
        return z3.Or(*(self.type == _TYPES.index(t) for t in types))

    def domain(self) -> list[z3.BoolRef]:
        T = PrincipalType
        name = z3.Plus(_chars("+=,.@-"))
        path = z3.Union(z3.Re("/"), z3.Concat(z3.Re("/"), z3.Plus(z3.Range("!", "~")), z3.Re("/")))
        return [
            self.type >= 0, self.type < len(_TYPES),
            z3.Implies(self.same_account, self.is_iam),
            z3.Implies(self.bounded, self.is_(*_BOUNDED)),
            z3.Implies(self.is_iam, z3.And(
                z3.InRe(self.partition, z3.Plus(z3.Union(z3.Range("a", "z"), z3.Re("-")))),
                z3.InRe(self.account, z3.Loop(z3.Range("0", "9"), 12, 12)),
            )),
            z3.Implies(self.is_(T.USER, T.ASSUMED_ROLE, T.FEDERATED_USER), z3.InRe(self.name, name)),
            z3.Implies(self.is_(T.USER, T.ASSUMED_ROLE), z3.InRe(self.path, path)),
            z3.Implies(self.is_(T.ASSUMED_ROLE), z3.InRe(self.role, name)),
            z3.Implies(self.is_(T.SERVICE), z3.Length(self.service) > 0),
            z3.Implies(self.is_(T.WEB_IDENTITY), z3.Length(self.federated) > 0),
            z3.Implies(self.is_(T.CANONICAL_USER), z3.Length(self.canonical) > 0),
        ]

    def ties(self) -> list[z3.BoolRef]:
        """The constraints making the caller's ARN, role ARN and unique id the strings its parts spell, for
        those read as text (after the keys and patterns that read them have been encoded)."""
        T = PrincipalType
        out: list[z3.BoolRef] = []
        if self.arn_tied:
            def head(svc: str) -> z3.SeqRef:
                return z3.Concat(_s("arn:"), self.partition, _s(f":{svc}::"), self.account, _s(":"))

            out += [
                z3.Implies(self.is_(T.ACCOUNT), self.arn == z3.Concat(head("iam"), _s("root"))),
                z3.Implies(self.is_(T.USER), self.arn == z3.Concat(head("iam"), _s("user"), self.path, self.name)),
                z3.Implies(self.is_(T.ASSUMED_ROLE), z3.And(
                    self.arn == z3.Concat(head("sts"), _s("assumed-role/"), self.role, _s("/"), self.name),
                    self.role_arn == z3.Concat(head("iam"), _s("role"), self.path, self.role))),
                z3.Implies(self.is_(T.FEDERATED_USER), self.arn == z3.Concat(head("sts"), _s("federated-user/"), self.name)),
            ]
        if self.user_id_tied:
            out += [
                z3.Implies(self.is_(T.ACCOUNT), self.user_id == self.account),
                z3.Implies(self.is_(T.USER), z3.Length(self.user_id) > 0),
                z3.Implies(self.is_(T.ASSUMED_ROLE), z3.And(z3.SuffixOf(z3.Concat(_s(":"), self.name), self.user_id),
                                                            z3.Length(self.user_id) > z3.Length(self.name) + 1)),
                z3.Implies(self.is_(T.FEDERATED_USER), self.user_id == z3.Concat(self.account, _s(":"), self.name)),
            ]
        return out

    def arn_is(self, literal: str) -> z3.BoolRef:
        """The caller's ARN is ``literal`` (the evaluator compares the exact string), said of its parts."""
        T = PrincipalType
        arn = Arn.maybe(literal)
        false = z3.BoolVal(False)
        if arn is None or arn.region or not literal.isascii():
            return false
        common = [self.partition == _s(arn.partition), self.account == _s(arn.account)]
        r = arn.resource
        if arn.service == "iam" and r == "root":
            return z3.And(self.is_(T.ACCOUNT), *common)
        if arn.service == "iam" and r.startswith("user/"):
            rest = r[len("user"):]
            cut = rest.rindex("/") + 1
            return z3.And(self.is_(T.USER), *common, self.path == _s(rest[:cut]), self.name == _s(rest[cut:]))
        if arn.service == "sts" and r.startswith("assumed-role/"):
            parts = r.split("/")
            if len(parts) != 3:
                return false
            return z3.And(self.is_(T.ASSUMED_ROLE), *common, self.role == _s(parts[1]), self.name == _s(parts[2]))
        if arn.service == "sts" and r.startswith("federated-user/"):
            return z3.And(self.is_(T.FEDERATED_USER), *common, self.name == _s(r[len("federated-user/"):]))
        return false  # no caller has such an ARN (a role's, a group's; IAM's form of a federated user's)

    def role_arn_is(self, literal: str) -> z3.BoolRef:
        """The caller is a session of the role ``literal``."""
        arn = Arn.maybe(literal)
        if arn is None or arn.region or arn.service != "iam" or not arn.resource.startswith("role/") or not literal.isascii():
            return z3.BoolVal(False)
        rest = arn.resource[len("role"):]
        cut = rest.rindex("/") + 1
        return z3.And(self.is_(PrincipalType.ASSUMED_ROLE), self.partition == _s(arn.partition), self.account == _s(arn.account),
                      self.path == _s(rest[:cut]), self.role == _s(rest[cut:]))

    def accounts_among(self, named: Sequence[str]) -> list[z3.BoolRef]:
        """The caller's account one of ``named`` or a fresh one, the resource's one of those or another fresh one
        (sound where :func:`named_accounts` says so)."""
        fresh = [a for a in _FRESH if a not in named][:2]
        out = [z3.Implies(self.is_iam, z3.Or(*(self.account == _s(a) for a in [*named, fresh[0]])))]
        if self.resource_account_tied:
            out.append(z3.Or(*(self.resource_account == _s(a) for a in [*named, *fresh])))
        return out

    def tie_resource_account(self) -> list[z3.BoolRef]:
        """The resource's account as a string of its own (a policy reads aws:ResourceAccount)."""
        self.resource_account_tied = True
        return [z3.InRe(self.resource_account, z3.Loop(z3.Range("0", "9"), 12, 12)),
                self.same_account == z3.And(self.is_iam, self.resource_account == self.account)]

    def render_resource_account(self, model: z3.ModelRef) -> str:
        """The resource's account: the model's when it is tied, else the caller's own or another, as the model
        has it."""
        if self.resource_account_tied:
            return str(model.eval(self.resource_account, model_completion=True).as_string())
        if z3.is_true(model.eval(self.same_account, model_completion=True)):
            return str(model.eval(self.account, model_completion=True).as_string())
        mine = str(model.eval(self.account, model_completion=True).as_string())
        return "999999999999" if mine != "999999999999" else "888888888888"

    # -- the keys the evaluator derives from the caller ---------------------------------------------------------
    def derived(self, key: str) -> tuple[z3.BoolRef, z3.SeqRef | None] | None:
        """(present, value) of a key derived from the caller (value None: a free value, as a principal tag's), or
        None for a key the caller does not determine."""
        T = PrincipalType
        anon = self.is_(T.ANONYMOUS)
        if key == "aws:principalarn":
            self.arn_tied = True
            return self.is_iam, z3.If(self.is_(T.ASSUMED_ROLE), self.role_arn, self.arn)
        if key == "aws:principalaccount":
            return z3.Or(self.is_iam, anon), z3.If(anon, _s("anonymous"), self.account)
        if key == "aws:userid":
            self.user_id_tied = True
            return z3.Or(self.is_iam, anon), z3.If(anon, _s("anonymous"), self.user_id)
        if key == "aws:principaltype":
            value: z3.SeqRef = _s("Anonymous")
            for t in _IAM:
                value = z3.If(self.is_(t), _s(t.value), value)
            return z3.Or(self.is_iam, anon), value
        if key == "aws:username":
            return self.is_(T.USER), self.name
        if key == "aws:principalisawsservice":
            return z3.Not(anon), z3.If(self.is_(T.SERVICE), _s("true"), _s("false"))
        if key == "aws:principalservicename":
            return self.is_(T.SERVICE), self.service
        if key == "aws:resourceaccount":
            return z3.BoolVal(True), self.resource_account  # with tie_resource_account
        if key.startswith(TAG_PREFIX) or key == "aws:principaltagkeys":
            return self.is_iam, None  # only IAM principals carry tags; their values are the caller's to choose
        return None

    # -- what a statement's Principal / NotPrincipal says of the caller ----------------------------------------
    def _names_account(self, cs: CompiledStatement) -> z3.BoolRef:
        sets = cs.principals
        assert sets is not None
        tests = [_one_of(self.account, sets.accounts)]
        tests += [z3.And(self.partition == _s(p), self.account == _s(a)) for p, a in sorted(sets.account_arns)]
        return z3.And(self.is_iam, z3.Or(*tests))

    def _service_in(self, services: Iterable[str]) -> z3.BoolRef:
        tests: list[z3.BoolRef] = []
        for s in sorted(services):
            tests.append(z3.InRe(self.service, folded(s)))  # the evaluator compares service names lower-cased
        return z3.Or(*tests) if tests else z3.BoolVal(False)

    def _itself(self, cs: CompiledStatement) -> z3.BoolRef:
        """The element names the caller itself (the evaluator's Grant.DIRECT without the wildcard)."""
        T = PrincipalType
        sets = cs.principals
        assert sets is not None
        return z3.Or(
            z3.And(self.is_(T.SERVICE), self._service_in(sets.services)),
            z3.And(self.is_(T.WEB_IDENTITY), _one_of(self.federated, sets.federated)),
            z3.And(self.is_(T.CANONICAL_USER), _one_of(self.canonical, sets.canonical)),
            z3.Or(*(self.arn_is(a) for a in sorted(sets.direct))),
        )

    def levels(self, cs: CompiledStatement) -> tuple[z3.BoolRef, z3.BoolRef, z3.BoolRef]:
        """(names the caller itself, names its role, names its account) for an Allow statement: each of the
        evaluator's Grant levels at least DIRECT, ROLE, ACCOUNT (the first true one is the grant)."""
        sets = cs.principals
        false = z3.BoolVal(False)
        if sets is None:
            return z3.BoolVal(True), false, false
        if sets.wildcard and not cs.not_principal:
            return z3.BoolVal(True), false, false
        if cs.not_principal:
            return z3.Not(self.exempt(cs)), false, false
        role = z3.Or(*(self.role_arn_is(a) for a in sorted(sets.roles)))
        return self._itself(cs), role, self._names_account(cs)

    def exempt(self, cs: CompiledStatement) -> z3.BoolRef:
        """NotPrincipal leaves the caller out (:meth:`iamroles.policy.compile._PrincipalSets.exempts`)."""
        T = PrincipalType
        sets = cs.principals
        assert sets is not None
        if sets.wildcard:
            return z3.BoolVal(True)
        account = self._names_account(cs)
        direct = z3.Or(*(self.arn_is(a) for a in sorted(sets.direct)))
        return z3.Or(
            z3.And(self.is_(T.SERVICE), self._service_in(sets.services)),
            z3.And(self.is_(T.WEB_IDENTITY), _one_of(self.federated, sets.federated)),
            z3.And(self.is_(T.CANONICAL_USER), _one_of(self.canonical, sets.canonical)),
            z3.And(self.is_(T.ACCOUNT), account),
            z3.And(self.is_(T.ASSUMED_ROLE), account, direct, z3.Or(*(self.role_arn_is(a) for a in sorted(sets.roles)))),
            z3.And(self.is_(T.USER, T.FEDERATED_USER), account, direct),
        )

    def denied_by(self, cs: CompiledStatement) -> z3.BoolRef:
        """A Deny statement that applies covers the caller (evaluate's step 1, with its NotPrincipal and
        permissions-boundary rule: access_policies_boundaries)."""
        if cs.principals is None:
            return z3.BoolVal(True)
        d, r, a = self.levels(cs)
        out = z3.Or(d, r, a)
        if cs.not_principal:
            out = z3.Or(out, z3.And(self.bounded, self.is_(*_BOUNDED)))
        return out

    def strength(self, denied: z3.BoolRef, itself: z3.BoolRef, role: z3.BoolRef, account: z3.BoolRef) -> z3.ArithRef:
        """How strongly a policy names the caller, as an order the evaluator respects in every setting where the
        policy must grant by itself, in the caller's own account: 0 denied or not named, 1 its account, 2 its role,
        3 itself; collapsed where the caller's type cannot tell them apart (an account root passes on any naming,
        services and other non-IAM callers only on being named themselves)."""
        T = PrincipalType
        iam_user = z3.If(itself, 3, z3.If(role, 2, z3.If(account, 1, 0)))
        root = z3.If(z3.Or(itself, role, account), 1, 0)
        other = z3.If(itself, 1, 0)
        return z3.If(denied, 0, z3.If(self.is_(T.ACCOUNT), root, z3.If(self.is_iam, iam_user, other)))

    # -- --principals of check-access-not-granted ------------------------------------------------------------------
    def matches(self, spec: str) -> z3.BoolRef:
        """The caller is one ``spec`` names: ``*``; an account id or account ARN (any principal of it); a role ARN
        (its sessions); a user, role session or federated user ARN; an OIDC/SAML provider ARN or ``federated:NAME``
        (its web identities); ``service:NAME`` or a bare DNS name (that service); ``canonical:ID``; ``anonymous``.
        A ``*`` or ``?`` in an ARN is a wildcard."""
        from ..policy.wildcard import plain
        from .patterns import pattern_re

        T = PrincipalType
        spec = spec.strip()
        if spec == "*":
            return z3.BoolVal(True)
        if spec == "anonymous":
            return self.is_(T.ANONYMOUS)
        for prefix, t, var in (("service:", T.SERVICE, self.service), ("federated:", T.WEB_IDENTITY, self.federated),
                               ("canonical:", T.CANONICAL_USER, self.canonical)):
            if spec.startswith(prefix):
                return z3.And(self.is_(t), var == _s(spec[len(prefix):]))
        if spec.isdigit() and len(spec) == 12:
            return z3.And(self.is_iam, self.account == _s(spec))
        arn = Arn.maybe(spec)
        if arn is None:
            if "." in spec and ":" not in spec and "/" not in spec:
                return z3.And(self.is_(T.SERVICE), self.service == _s(spec))
            raise ValueError(f"not a principal: {spec!r} (an account id, an ARN, service:NAME, federated:NAME, "
                             "canonical:ID, anonymous or *)")

        wild = "*" in spec or "?" in spec
        if wild:
            self.arn_tied = True

        def like(var: z3.SeqRef) -> z3.BoolRef:
            return z3.InRe(var, pattern_re(plain(spec), "glob")) if wild else var == _s(spec)

        if arn.resource == "root":
            if wild:
                return z3.And(self.is_iam, z3.InRe(z3.Concat(_s("arn:"), self.partition, _s(":iam::"), self.account, _s(":root")),
                                                   pattern_re(plain(spec), "glob")))
            return z3.And(self.is_iam, self.partition == _s(arn.partition), self.account == _s(arn.account))
        if arn.service == "iam" and arn.resource.startswith(("oidc-provider/", "saml-provider/")):
            return z3.And(self.is_(T.WEB_IDENTITY), like(self.federated))
        if arn.service == "iam" and arn.resource.startswith("role/"):
            return z3.And(self.is_(T.ASSUMED_ROLE), like(self.role_arn)) if wild else self.role_arn_is(spec)
        return z3.And(self.is_iam, like(self.arn)) if wild else self.arn_is(spec)

    # -- the model's caller ---------------------------------------------------------------------------------------
    def render(self, model: z3.ModelRef, tags: Mapping[str, str], tag_keys: Sequence[str]) -> dict[str, Any]:
        """The caller as :meth:`iamroles.policy.Principal.from_dict` reads it (``tags``: principal tags by
        lower-cased key; ``tag_keys``: aws:PrincipalTagKeys' values, each made a tag if it is not one)."""
        def text(v: z3.SeqRef) -> str:
            return str(model.eval(v, model_completion=True).as_string())

        all_tags = dict(tags)
        for k in tag_keys:
            if k.lower() not in {t.lower() for t in all_tags}:
                all_tags[k] = ""
        facts = Facts(_TYPES[model.eval(self.type, model_completion=True).as_long()], text(self.partition), text(self.account),
                      text(self.path), text(self.role), text(self.name), text(self.user_id) if self.user_id_tied else "",
                      text(self.service),
                      text(self.federated), text(self.canonical), tuple(all_tags.items()))
        return facts.spec()

    def pin(self, spec: Mapping[str, Any], bounded: bool, resource_account: str) -> z3.BoolRef:
        """This caller exactly (to block a candidate the evaluator did not confirm)."""
        T = PrincipalType
        if "service" in spec:
            who = z3.And(self.is_(T.SERVICE), self.service == _s(spec["service"]))
        elif "federated" in spec:
            who = z3.And(self.is_(T.WEB_IDENTITY), self.federated == _s(spec["federated"]))
        elif "canonical_user" in spec:
            who = z3.And(self.is_(T.CANONICAL_USER), self.canonical == _s(spec["canonical_user"]))
        elif "anonymous" in spec:
            who = self.is_(T.ANONYMOUS)
        else:
            who = self.arn_is(spec["arn"])
            if "role_arn" in spec:
                who = z3.And(who, self.role_arn_is(spec["role_arn"]))
            if self.user_id_tied:
                who = z3.And(who, self.user_id == _s(spec["user_id"]))
        where = self.resource_account == _s(resource_account) if self.resource_account_tied else z3.BoolVal(True)
        return z3.And(who, self.bounded == z3.BoolVal(bounded), where)


@dataclass(frozen=True, slots=True)
class Facts:
    """A caller by its parts (what :class:`Caller`'s unknowns hold), made into the principal spec the evaluator's
    :meth:`iamroles.policy.Principal.from_dict` reads, and back."""

    type: PrincipalType
    partition: str = "aws"
    account: str = ""
    path: str = "/"
    role: str = ""
    name: str = ""
    user_id: str = ""
    service: str = ""
    federated: str = ""
    canonical: str = ""
    tags: tuple[tuple[str, str], ...] = ()

    def spec(self) -> dict[str, Any]:
        T = PrincipalType
        if self.type is T.SERVICE:
            return {"service": self.service}
        if self.type is T.WEB_IDENTITY:
            return {"federated": self.federated}
        if self.type is T.CANONICAL_USER:
            return {"canonical_user": self.canonical}
        if self.type is T.ANONYMOUS:
            return {"anonymous": True}
        head = f"arn:{self.partition}:{{}}::{self.account}:"
        out: dict[str, Any] = {}
        if self.type is T.ACCOUNT:
            out["arn"] = head.format("iam") + "root"
        elif self.type is T.USER:
            out["arn"] = head.format("iam") + f"user{self.path}{self.name}"
        elif self.type is T.ASSUMED_ROLE:
            out["arn"] = head.format("sts") + f"assumed-role/{self.role}/{self.name}"
            out["role_arn"] = head.format("iam") + f"role{self.path}{self.role}"
        else:
            out["arn"] = head.format("sts") + f"federated-user/{self.name}"
        out["user_id"] = self.user_id or {
            T.ACCOUNT: self.account, T.USER: f"AIDA{_EXAMPLE_ID}", T.ASSUMED_ROLE: f"AROA{_EXAMPLE_ID}:{self.name}",
            T.FEDERATED_USER: f"{self.account}:{self.name}"}[self.type]
        if self.tags:
            out["tags"] = dict(self.tags)
        return out

    @classmethod
    def of(cls, spec: Mapping[str, Any]) -> Facts:
        T = PrincipalType
        tags = tuple((spec.get("tags") or {}).items())
        if "service" in spec:
            return cls(T.SERVICE, service=spec["service"])
        if "federated" in spec:
            return cls(T.WEB_IDENTITY, federated=spec["federated"])
        if "canonical_user" in spec:
            return cls(T.CANONICAL_USER, canonical=spec["canonical_user"])
        if "arn" not in spec:
            return cls(T.ANONYMOUS)
        arn = Arn.parse(spec["arn"])
        base = {"partition": arn.partition, "account": arn.account, "user_id": spec.get("user_id", ""), "tags": tags}
        if arn.resource == "root":
            return cls(T.ACCOUNT, **base)
        if arn.resource.startswith("user/"):
            rest = arn.resource[len("user"):]
            cut = rest.rindex("/") + 1
            return cls(T.USER, path=rest[:cut], name=rest[cut:], **base)
        if arn.resource.startswith("assumed-role/"):
            _, role, name = arn.resource.split("/")
            role_arn = Arn.parse(spec["role_arn"]).resource
            return cls(T.ASSUMED_ROLE, path=role_arn[len("role"):len(role_arn) - len(role)], role=role, name=name, **base)
        return cls(T.FEDERATED_USER, name=arn.resource.split("/", 1)[1], **base)


_EXAMPLE_ID = "EXAMPLE0000000001"  # unique ids are a four-letter prefix and 17 more characters


def polish(spec: Mapping[str, Any], bounded: bool, confirmed: Any) -> tuple[dict[str, Any], bool]:
    """A caller as plain as the evaluator still confirms it (``confirmed(spec, bounded)``): no permissions boundary,
    the aws partition, the root path, names like alice, unique ids of AWS's shape, each kept only if the request
    stays a counterexample (the solver finds such preferences slow; the evaluator checks them in microseconds)."""
    T = PrincipalType
    facts = Facts.of(spec)
    best: tuple[Facts, bool] = (facts, bounded)

    def attempt(f: Facts, b: bool) -> None:
        nonlocal best
        if (f, b) != best and confirmed(f.spec(), b):
            best = (f, b)

    attempt(best[0], False)
    f = best[0]
    if f.type in _IAM:
        attempt(Facts(**{**_fields(f), "partition": "aws"}), best[1])
        attempt(Facts(**{**_fields(best[0]), "path": "/"}), best[1])
        named = {T.USER: "alice", T.ASSUMED_ROLE: "session", T.FEDERATED_USER: "alice", T.ACCOUNT: best[0].name}
        f = best[0]
        name = named[f.type]
        ids = {T.USER: f"AIDA{_EXAMPLE_ID}", T.ASSUMED_ROLE: f"AROA{_EXAMPLE_ID}:{name}",
               T.FEDERATED_USER: f"{f.account}:{name}", T.ACCOUNT: f.account}
        attempt(Facts(**{**_fields(f), "name": name, "user_id": ids[f.type]}), best[1])
        f = best[0]
        if f.type is T.ASSUMED_ROLE:
            attempt(Facts(**{**_fields(f), "role": "app"}), best[1])
            attempt(Facts(**{**_fields(best[0]), "user_id": f"AROA{_EXAMPLE_ID}:{best[0].name}"}), best[1])
        elif f.type is T.USER:
            attempt(Facts(**{**_fields(f), "user_id": f"AIDA{_EXAMPLE_ID}"}), best[1])
    elif f.type is T.SERVICE:
        attempt(Facts(T.SERVICE, service=f.service.lower()), best[1])
        if not best[0].service.endswith(".amazonaws.com"):
            attempt(Facts(T.SERVICE, service="ec2.amazonaws.com"), best[1])
    return best[0].spec(), best[1]


def _fields(f: Facts) -> dict[str, Any]:
    return {name: getattr(f, name) for name in Facts.__slots__}


def spec_names(spec: str, p: Principal) -> bool:
    """Whether the caller ``p`` is one ``spec`` names, as :meth:`Caller.matches` encodes it (the replay's check that
    a counterexample stays within check_access_not_granted's principals)."""
    from ..policy.wildcard import compile_patterns, plain

    T = PrincipalType
    spec = spec.strip()
    iam = p.type in _IAM
    wild = "*" in spec or "?" in spec

    def like(value: str | None) -> bool:
        if value is None:
            return False
        return compile_patterns((plain(spec),), False, "glob").match(value) is not None if wild else value == spec

    if spec == "*":
        return True
    if spec == "anonymous":
        return p.type is T.ANONYMOUS
    for prefix, t, value in (("service:", T.SERVICE, p.service), ("federated:", T.WEB_IDENTITY, p.federated),
                             ("canonical:", T.CANONICAL_USER, p.canonical_user)):
        if spec.startswith(prefix):
            return p.type is t and value == spec[len(prefix):]
    if spec.isdigit() and len(spec) == 12:
        return iam and p.account == spec
    arn = Arn.maybe(spec)
    if arn is None:
        return p.type is T.SERVICE and p.service == spec
    if arn.resource == "root":
        if wild:
            return iam and like(f"arn:{p.partition}:iam::{p.account}:root")
        return iam and p.partition == arn.partition and p.account == arn.account
    if arn.service == "iam" and arn.resource.startswith(("oidc-provider/", "saml-provider/")):
        return p.type is T.WEB_IDENTITY and like(p.federated)
    if arn.service == "iam" and arn.resource.startswith("role/"):
        return p.type is T.ASSUMED_ROLE and like(p.role_arn)
    return iam and like(p.arn)


def describe(spec: Mapping[str, Any]) -> str:
    """A caller as people read it."""
    if "service" in spec:
        return f"the service {spec['service']}"
    if "federated" in spec:
        return f"a web identity of {spec['federated']}"
    if "canonical_user" in spec:
        return f"the canonical user {spec['canonical_user']}"
    if "anonymous" in spec:
        return "an anonymous caller"
    out = str(spec["arn"])
    if "role_arn" in spec:
        out += f" (a session of {spec['role_arn']})"
    return out


# -- settings ---------------------------------------------------------------------------------------------------------

_EVERYTHING = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
_NOTHING = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "NotAction": "*", "Resource": "*"}]}


@lru_cache(maxsize=8)
def _fixed(kind: PolicyKind, everything: bool) -> Policy:
    name = f"{kind.value}-allows-{'everything' if everything else 'nothing'}"
    return parse_policy(json.dumps(_EVERYTHING if everything else _NOTHING), kind, name=name)


@dataclass(frozen=True, slots=True)
class Setting:
    """What a decision consults besides the resource-based policy: the caller's identity policies, its permissions
    boundary and session policies (each allowing everything, nothing, or absent), and whether the resource policy
    must grant by itself (as a role's trust policy and a KMS key policy must)."""

    identity: bool  # an identity policy allowing everything (else none)
    boundary: bool | None  # None: no boundary
    session: bool | None  # None: no session policy
    must_grant: bool

    def policies(self, resource: Policy) -> PolicySet:
        return PolicySet(
            identity=[_fixed(PolicyKind.IDENTITY, True)] if self.identity else [],
            resource=resource,
            boundary=_fixed(PolicyKind.BOUNDARY, self.boundary) if self.boundary is not None else None,
            session=[_fixed(PolicyKind.SESSION, self.session)] if self.session is not None else [],
            resource_must_grant=self.must_grant,
        )

    def to_dict(self) -> dict[str, Any]:
        def word(v: bool | None) -> str | None:
            return None if v is None else ("allows everything" if v else "allows nothing")

        return {"identity_policies": "allow everything" if self.identity else "none", "permissions_boundary": word(self.boundary),
                "session_policy": word(self.session), "resource_policy_must_grant": self.must_grant}

    def __str__(self) -> str:
        parts = ["an identity policy allowing everything" if self.identity else "no identity policy"]
        if self.boundary is not None:
            parts.append(f"a permissions boundary allowing {'everything' if self.boundary else 'nothing'}")
        if self.session is not None:
            parts.append(f"a session policy allowing {'everything' if self.session else 'nothing'}")
        if self.must_grant:
            parts.append("the resource policy must grant by itself")
        return ", ".join(parts)


def settings(kind: PolicyKind, principal: PrincipalType, bounded: bool, must_grant: bool | None = None) -> list[Setting]:
    """The extreme settings for a caller of ``principal``'s type (``bounded``: it has a permissions boundary), the
    simplest first; ``must_grant`` None: both, for a resource policy (a trust policy always must grant)."""
    musts = [True] if kind is PolicyKind.TRUST else ([must_grant] if must_grant is not None else [False, True])
    boundaries: list[bool | None] = [True, False] if bounded else [None]
    sessions: list[bool | None] = [None, True, False] if principal in _SESSIONS else [None]
    return [Setting(identity, boundary, session, must) for must in musts for identity in (False, True)
            for boundary in boundaries for session in sessions]


def distinguishing(old: Policy, new: Policy, request: Request, bounded: bool) -> Setting | None:
    """A setting in which the evaluator allows ``request`` under ``new`` and not under ``old``, if there is one."""
    for s in settings(new.kind, request.principal.type, bounded):
        if evaluate(request, s.policies(new)).allowed and not evaluate(request, s.policies(old)).allowed:
            return s
    return None


def granting(policy: Policy, request: Request, bounded: bool) -> Setting | None:
    """A setting in which ``policy``, which must grant by itself there, has the evaluator allow ``request``."""
    for s in settings(policy.kind, request.principal.type, bounded, must_grant=True):
        if evaluate(request, s.policies(policy)).allowed:
            return s
    return None
