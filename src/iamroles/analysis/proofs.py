"""Proofs about policies, as Access Analyzer's CheckNoNewAccess and CheckAccessNotGranted: answered for every
request at once by encoding the policies as SMT constraints (z3), not by trying requests.

``check_no_new_access(old, new)``: does ``new`` allow any request ``old`` does not? ``check_access_not_granted(
policies, actions, resources)``: does any request for one of ``actions`` on one of ``resources`` get allowed?

A request is an action, a resource and a context (each key missing, one string, or a list of strings), and
"allowed" is what :func:`iamroles.policy.evaluate` decides for the identity-based policies of a caller in the
resource's account: some Allow statement applies and no Deny statement does.

Soundness. The encoding over-approximates: every request the evaluator can see maps to an assignment of the
constraints that decides as the evaluator does, so "no such request" (unsat) is a proof. What the encoding cannot
express exactly (a condition operator or a policy-variable shape it does not model, a key compared both as text
and as a number) becomes a free boolean, shared by identical clauses, so the proof stays sound and only its
counterexamples may be spurious. Every counterexample is therefore replayed through the real evaluator before it
is reported; one the evaluator does not confirm is blocked and the solver asked again, and after a few the answer
is UNKNOWN, never a wrong PASS or FAIL. Modelling assumptions, each a restriction to requests that exist: an
action is ASCII text (every AWS action name is; the evaluator lower-cases it), and a key the catalogue of AWS
actions documents as single-valued (not ``ArrayOf...``) carries one value, as AWS sends it.

The values of a multivalued key: a set that satisfies a formula keeps satisfying it when cut down to one witness
per clause that mentions the key, so a list of at most that many values stands for every list.
"""
from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

import z3

from ..catalog import CATALOG
from ..policy import Policy, PolicyKind, PolicySet, Principal, Request, evaluate
from ..policy.compile import CompiledStatement
from ..policy.conditions import OPERATORS, parse_date, parse_number, parse_operator
from ..policy.document import ConditionClause, Statement
from ..policy.request import RequestContext
from ..policy.variables import Var, split_template
from ..policy.wildcard import compile_patterns, plain
from . import principals as _principals
from .patterns import Unsupported as _Unsupported
from .patterns import any_char as _any_char
from .patterns import chars_re as _chars_re
from .patterns import folded
from .patterns import literal as _literal
from .patterns import pattern_re as _pattern_re
from .principals import Caller, Facts, Setting

__all__ = ["Counterexample", "ProofResult", "check_access_not_granted", "check_no_new_access"]

PASS, FAIL, UNKNOWN = "PASS", "FAIL", "UNKNOWN"
_RETRIES = 4
_VAR_TEXT = re.compile(r"\$\{[^}]*\}")
_NICE_MS = 500  # time given to finding a readable counterexample once there is one
_NICE_STEP_MS = 120  # and to each of its preferences (one the solver finds hard is dropped)
_CALLER = Principal.from_arn("arn:aws:iam::111122223333:user/analyzer")

_STRING_FAMILIES = frozenset({"string", "string_ic", "string_like", "arn", "bool", "binary"})
_KIND = {"string": "str", "string_ic": "str", "string_like": "str", "arn": "str", "bool": "str", "binary": "str",
         "ip": "ip", "null": "any"}


@dataclass(frozen=True)
class Counterexample:
    """A request one policy allows and the other does not (or that is granted), confirmed by the evaluator.

    For policies with a Principal it names the caller (``principal``, as :meth:`Principal.from_dict` reads it),
    the resource's account, whether the caller has a permissions boundary, and the setting the evaluator confirmed
    it in (:class:`iamroles.analysis.principals.Setting`); ``context`` then holds the keys the caller does not
    determine (the evaluator derives aws:PrincipalArn and the like from ``principal``)."""

    action: str
    resource: str
    context: dict[str, str | tuple[str, ...]]
    principal: dict[str, Any] | None = None
    resource_account: str | None = None
    bounded: bool = False
    setting: Setting | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"action": self.action, "resource": self.resource,
                               "context": {k: list(v) if isinstance(v, tuple) else v for k, v in sorted(self.context.items())}}
        if self.principal is not None:
            out.update(principal=self.principal, resource_account=self.resource_account, has_permissions_boundary=self.bounded,
                       setting=self.setting.to_dict() if self.setting is not None else None)
        return out

    def request(self) -> Request:
        """The request as the evaluator takes it: for identity-based policies, exactly these context keys (the
        caller adds none); for a policy with a Principal, the caller's own keys and these."""
        if self.principal is not None:
            return Request(Principal.from_dict(self.principal), self.action, self.resource, self.resource_account,
                           context=self.context)
        req = Request(_CALLER, self.action, self.resource)
        ctx = RequestContext(self.context)
        ctx.when = None
        req.ctx = ctx
        return req


@dataclass
class ProofResult:
    result: str  # PASS, FAIL or UNKNOWN
    message: str
    counterexample: Counterexample | None = None
    approximated: list[str] = field(default_factory=list)  # constructs encoded as free booleans
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"result": self.result, "message": self.message,
                "counterexample": self.counterexample.to_dict() if self.counterexample else None,
                "approximated": self.approximated, "seconds": round(self.seconds, 4)}


# -- the request's unknowns ------------------------------------------------------------------------------------

class _Key:
    """One context key: how many values it has (0: missing), whether it is one string (not a list), and per
    value slot its value in the type the policies compare it as."""

    def __init__(self, name: str, kind: str, slots: int, single_valued: bool = False) -> None:
        self.name, self.kind, self.slots = name, kind, max(slots, 1)
        self.single_valued = single_valued
        tag = f"{name}"
        self.n = z3.Int(f"n[{tag}]")
        self.single = z3.Bool(f"single[{tag}]")
        self.text = [z3.String(f"s[{tag}]{i}") for i in range(self.slots)]
        self.ok = [z3.Bool(f"ok[{tag}]{i}") for i in range(self.slots)]
        self.num = [z3.Real(f"x[{tag}]{i}") for i in range(self.slots)]
        self.v6 = [z3.Bool(f"v6[{tag}]{i}") for i in range(self.slots)]
        self.addr = [z3.BitVec(f"ip[{tag}]{i}", 128) for i in range(self.slots)]

    def domain(self) -> list[z3.BoolRef]:
        out = [self.n >= 0, self.n <= self.slots, z3.Implies(self.single, self.n == 1)]
        if self.single_valued:
            out.append(z3.Implies(self.n == 1, self.single))
        if self.kind == "ip":
            out += [z3.Implies(z3.Not(v6), z3.ULT(a, 2**32)) for v6, a in zip(self.v6, self.addr)]
        return out

    def render(self, model: z3.ModelRef) -> str | tuple[str, ...] | None:
        n = model.eval(self.n, model_completion=True).as_long()
        if n == 0:
            return None
        values = tuple(self._value(model, i) for i in range(n))
        single = z3.is_true(model.eval(self.single, model_completion=True))
        return values[0] if single and n == 1 else values

    def _value(self, model: z3.ModelRef, i: int) -> str:
        if self.kind in ("str", "any"):
            return str(model.eval(self.text[i], model_completion=True).as_string())
        if not z3.is_true(model.eval(self.ok[i], model_completion=True)):
            return "not-a-value"
        if self.kind == "ip":
            import ipaddress

            addr = model.eval(self.addr[i], model_completion=True).as_long()
            v6 = z3.is_true(model.eval(self.v6[i], model_completion=True))
            return str(ipaddress.IPv6Address(addr) if v6 else ipaddress.IPv4Address(addr & 0xFFFFFFFF))
        return _decimal(model.eval(self.num[i], model_completion=True).as_fraction())


def _decimal(x: Fraction) -> str:
    if x.denominator == 1:
        return str(x.numerator)
    sign = "-" if x < 0 else ""
    x = abs(x)
    whole, rest = divmod(x.numerator, x.denominator)
    digits = []
    for _ in range(40):
        rest *= 10
        d, rest = divmod(rest, x.denominator)
        digits.append(str(d))
        if not rest:
            break
    return f"{sign}{whole}.{''.join(digits)}"


def _family(operator: str) -> tuple[str, str | None, bool, bool] | None:
    parsed = parse_operator(operator)
    if parsed is None:
        return None
    base, qualifier, if_exists = parsed
    family, negated = OPERATORS[base]
    return family, qualifier, if_exists, negated


def _value_kind(family: str) -> str:
    if family in _KIND:
        return _KIND[family]
    return "num" if family.startswith("numeric") else "date"


class _Encoder:
    def __init__(self, policies: Iterable[Policy]) -> None:
        self.action = z3.String("action")
        self.resource = z3.String("resource")
        self.free: dict[Any, z3.BoolRef] = {}
        self._bodies: dict[int, z3.BoolRef] = {}
        self.approximated: list[str] = []
        kinds: dict[str, set[str]] = {}
        atoms: dict[str, int] = {}
        for p in policies:
            variables = p.document.has_variables
            for st in p.document.statements:
                for c in st.conditions:
                    f = _family(c.operator)
                    if f is None:
                        continue
                    key = c.key.lower()
                    kinds.setdefault(key, set()).add(_value_kind(f[0]))
                    atoms[key] = atoms.get(key, 0) + 1
                    if variables:
                        for v in c.values:
                            self._note_vars(split_template(v), kinds, atoms)
                if variables:
                    for r in st.resources or ():
                        self._note_vars(split_template(r), kinds, atoms)
        self.keys: dict[str, _Key] = {}
        for key, ks in kinds.items():
            typed = sorted(ks - {"any"})
            kind = "str" if "str" in typed or not typed else typed[0]
            known = CATALOG.condition_key(key)
            single = known is not None and not known.multivalued
            self.keys[key] = _Key(key, kind, 1 if single else atoms.get(key, 1), single)

    @staticmethod
    def _note_vars(template: Any, kinds: dict[str, set[str]], atoms: dict[str, int]) -> None:
        for part in template or ():
            if isinstance(part, Var):
                kinds.setdefault(part.key, set()).add("str")
                atoms.setdefault(part.key, 1)

    def domain(self) -> list[z3.BoolRef]:
        printable_lower = z3.Union(z3.Range(" ", "@"), z3.Range("[", "~"))
        out = [z3.InRe(self.action, z3.Star(printable_lower))]
        for key in self.keys.values():
            out += key.domain()
        return out

    def _free(self, token: Any, what: str) -> z3.BoolRef:
        b = self.free.get(token)
        if b is None:
            b = self.free[token] = z3.Bool(f"free{len(self.free)}")
            self.approximated.append(what)
        return b

    # -- policies --------------------------------------------------------------------------------------------
    def can_meet(self, cs: CompiledStatement, within: z3.BoolRef) -> bool:
        """Can the statement's Resource match a resource ``within`` allows? (A small query on the resource alone;
        a policy variable stands for any text, matched as a glob: a superset of what the pattern matches.)"""
        st = cs.statement
        if st.resources is None or st.not_resource or "*" in st.resources:
            return True
        variables = cs.policy.document.has_variables
        loose = [(_VAR_TEXT.sub("*", r), "glob") if variables and "${" in r else (r, "resource") for r in st.resources]
        probe = z3.Solver()
        probe.set("timeout", 2000)
        try:
            probe.add(within, z3.Or(*(z3.InRe(self.resource, _pattern_re(plain(r), mode)) for r, mode in loose)))
        except _Unsupported:
            return True
        return bool(probe.check() != z3.unsat)

    def body(self, cs: CompiledStatement) -> z3.BoolRef:
        """All of a statement but its Action: its Resource and its conditions."""
        hit = self._bodies.get(id(cs))
        if hit is None:
            st, variables = cs.statement, cs.policy.document.has_variables
            hit = self._bodies[id(cs)] = z3.And(self.resource_test(st.resources, st.not_resource, variables),
                                                *(self.clause(c, variables) for c in st.conditions))
        return hit

    def statement(self, st: Statement, variables: bool) -> z3.BoolRef:
        return z3.And(self.action_test(st.actions, st.not_action), self.resource_test(st.resources, st.not_resource, variables),
                      *(self.clause(c, variables) for c in st.conditions))

    def action_matches(self, patterns: Iterable[str]) -> z3.BoolRef:
        tests: list[z3.BoolRef] = []
        for a in patterns:
            low = a.lower()
            if "*" in low or "?" in low:
                tests.append(z3.InRe(self.action, _pattern_re(plain(low), "glob")))
            else:
                tests.append(self.action == z3.StringVal(low))
        return z3.Or(*tests) if tests else z3.BoolVal(False)

    def action_test(self, actions: tuple[str, ...], negated: bool) -> z3.BoolRef:
        hit = self.action_matches(actions)
        return z3.Not(hit) if negated else hit

    def resource_matches(self, patterns: Iterable[str], variables: bool = False) -> z3.BoolRef:
        tests: list[z3.BoolRef] = []
        for r in patterns:
            if r == "*":
                return z3.BoolVal(True)
            template = split_template(r) if variables else None
            try:
                if template is None:
                    tests.append(z3.InRe(self.resource, _pattern_re(plain(r), "resource")))
                else:
                    tests.append(self._template_match(self.resource, template, "resource"))
            except _Unsupported as exc:
                tests.append(self._free(("resource", r, variables), f"resource {r!r}: {exc}"))
        return z3.Or(*tests) if tests else z3.BoolVal(False)

    def resource_test(self, resources: tuple[str, ...] | None, negated: bool, variables: bool) -> z3.BoolRef:
        if resources is None:
            return z3.BoolVal(True)
        hit = self.resource_matches(resources, variables)
        return z3.Not(hit) if negated else hit

    # -- policy variables ------------------------------------------------------------------------------------
    def _var_value(self, var: Var) -> tuple[z3.BoolRef, z3.SeqRef]:
        """(has a value, the value) of ``${key}`` / ``${key, 'default'}``: a single-valued key's string."""
        key = self.keys[var.key]
        if key.kind != "str":
            raise _Unsupported(f"${{{var.key}}} is compared as a {key.kind} elsewhere")
        if var.default is None:
            return key.single, key.text[0]
        return z3.BoolVal(True), z3.If(key.single, key.text[0], z3.StringVal(var.default))

    def _template_match(self, value: z3.SeqRef, template: Any, mode: str) -> z3.BoolRef:
        """``value`` matches a pattern holding variables: supported when no wildcard comes before the last
        variable (a fixed prefix, then a wildcard suffix), and, for an ARN, the variables sit in its resource
        part (after the fifth colon), where a variable's colons do not shift the segments."""
        last = max(i for i, part in enumerate(template) if isinstance(part, Var))
        has: list[z3.BoolRef] = []
        prefix: list[z3.SeqRef] = []
        head_text = ""
        seen_var = False
        for part in template[: last + 1]:
            if isinstance(part, Var):
                ok, val = self._var_value(part)
                has.append(ok)
                prefix.append(val)
                seen_var = True
            else:
                text, literal = part
                if not literal and ("*" in text or "?" in text):
                    raise _Unsupported("a wildcard before a policy variable")
                if not seen_var:
                    head_text += text
                prefix.append(z3.StringVal(text))
        if mode == "resource":
            if len(head_text) < 4 or (head_text.startswith("arn:") and head_text.count(":") < 5):
                raise _Unsupported("a policy variable within an ARN's first five segments")
        elif mode != "glob":
            raise _Unsupported(f"a policy variable in an {mode} pattern")
        rest = [(c, lit) for part in template[last + 1 :] for c, lit in [part] if not isinstance(part, Var)]
        p = z3.Concat(*prefix) if len(prefix) > 1 else prefix[0]
        tail = z3.SubString(value, z3.Length(p), z3.Length(value) - z3.Length(p))
        suffix = _chars_re([(c, lit) for text, lit in rest for c in text], z3.Star(_any_char()), _any_char())
        return z3.And(*has, z3.PrefixOf(p, value), z3.InRe(tail, suffix))

    def _template_text(self, template: Any) -> tuple[z3.BoolRef, z3.SeqRef]:
        has: list[z3.BoolRef] = []
        parts: list[z3.SeqRef] = []
        for part in template:
            if isinstance(part, Var):
                ok, val = self._var_value(part)
                has.append(ok)
                parts.append(val)
            else:
                parts.append(z3.StringVal(part[0]))
        return z3.And(*has) if has else z3.BoolVal(True), (z3.Concat(*parts) if len(parts) > 1 else parts[0])

    # -- conditions ------------------------------------------------------------------------------------------
    def clause(self, c: ConditionClause, variables: bool) -> z3.BoolRef:
        try:
            return self._clause(c, variables)
        except _Unsupported as exc:
            return self._free(("clause", c.operator, c.key.lower(), c.values, variables),
                              f"condition {c.operator} {c.key}: {exc}")

    def _clause(self, c: ConditionClause, variables: bool) -> z3.BoolRef:
        f = _family(c.operator)
        if f is None:
            return z3.BoolVal(False)  # the evaluator's unknown operator never matches
        family, qualifier, if_exists, negated = f
        key = self.keys[c.key.lower()]
        present = key.n > 0
        if family == "null":
            wants = {v.lower() == "true" for v in c.values if v.lower() in ("true", "false")}
            return z3.Or(*(z3.Not(present) if w else present for w in wants)) if wants else z3.BoolVal(False)
        kind = _value_kind(family)
        if kind != key.kind:
            raise _Unsupported(f"the key is compared as a {key.kind} elsewhere")
        templates = [split_template(v) for v in c.values] if variables and family in ("string", "string_ic", "string_like",
                                                                                      "bool", "arn") else []
        matcher = self._matcher(family, c.values, templates, key)
        if qualifier == "all" or if_exists:
            missing: z3.BoolRef = z3.BoolVal(True)
        elif qualifier == "any":
            missing = z3.BoolVal(False)
        else:
            missing = z3.BoolVal(negated)
        per: list[tuple[z3.BoolRef, z3.BoolRef]] = [matcher(i) for i in range(key.slots)]
        used = [key.n > i for i in range(key.slots)]
        if qualifier == "all":
            body = z3.And(*(z3.Implies(u, z3.And(d, m != negated)) for u, (d, m) in zip(used, per)))
        elif qualifier == "any" or not negated:
            body = z3.Or(*(z3.And(u, d, m != negated) for u, (d, m) in zip(used, per)))
        else:
            body = z3.And(*(z3.Implies(u, z3.And(d, z3.Not(m))) for u, (d, m) in zip(used, per)))
        return z3.If(present, body, missing)

    def _matcher(self, family: str, values: tuple[str, ...], templates: list[Any], key: _Key) -> Any:
        """slot -> (the value is of the operator's type, it matches one of ``values``)."""
        true = z3.BoolVal(True)
        if any(t is not None for t in templates):
            if family not in ("string", "string_like"):
                raise _Unsupported(f"policy variables in a {family} comparison")

            def templated(i: int) -> tuple[z3.BoolRef, z3.BoolRef]:
                v = key.text[i]
                tests: list[z3.BoolRef] = []
                for text, t in zip(values, templates):
                    if t is None:
                        tests.append(v == z3.StringVal(text) if family == "string" else z3.InRe(v, _pattern_re(plain(text), "glob")))
                    elif family == "string":
                        ok, whole = self._template_text(t)
                        tests.append(z3.And(ok, v == whole))
                    else:
                        tests.append(self._template_match(v, t, "glob"))
                return true, z3.Or(*tests) if tests else z3.BoolVal(False)

            return templated
        if family in ("string", "binary"):
            for text in values:
                _literal(text)
            return lambda i: (true, z3.Or(*(key.text[i] == z3.StringVal(t) for t in values)) if values else z3.BoolVal(False))
        if family == "string_ic":
            res = [self._folded(t) for t in values]
            return lambda i: (true, z3.Or(*(z3.InRe(key.text[i], r) for r in res)) if res else z3.BoolVal(False))
        if family in ("string_like", "arn"):
            mode = "arn" if family == "arn" else "glob"
            res = [_pattern_re(plain(t), mode) for t in values]

            def like(i: int) -> tuple[z3.BoolRef, z3.BoolRef]:
                hit = z3.Or(*(z3.InRe(key.text[i], r) for r in res)) if res else z3.BoolVal(False)
                if family == "arn":
                    hit = z3.And(z3.PrefixOf(z3.StringVal("arn:"), key.text[i]), hit)
                return true, hit

            return like
        if family == "bool":
            t_re, f_re = self._folded("true"), self._folded("false")
            wanted = {v.lower() == "true" for v in values if v.lower() in ("true", "false")}

            def boolean(i: int) -> tuple[z3.BoolRef, z3.BoolRef]:
                is_t, is_f = z3.InRe(key.text[i], t_re), z3.InRe(key.text[i], f_re)
                hit = z3.Or(*((is_t if w else is_f) for w in wanted)) if wanted else z3.BoolVal(False)
                return z3.Or(is_t, is_f), hit

            return boolean
        if family == "ip":
            import ipaddress

            nets: list[tuple[bool, int, int]] = []
            for text in values:
                try:
                    net = ipaddress.ip_network(text.strip(), strict=False)
                except ValueError:
                    continue
                nets.append((net.version == 6, int(net.network_address), int(net.netmask)))

            def ip(i: int) -> tuple[z3.BoolRef, z3.BoolRef]:
                a = key.addr[i]
                hit = [z3.And(key.v6[i] == v6, a & z3.BitVecVal(mask, 128) == z3.BitVecVal(network, 128)) for v6, network, mask in nets]
                return key.ok[i], z3.Or(*hit) if hit else z3.BoolVal(False)

            return ip
        kind, cmp = family.split("_")
        parse = parse_number if kind == "numeric" else parse_date
        bounds = [Fraction(b) for b in map(parse, values) if b is not None]

        def compare(i: int) -> tuple[z3.BoolRef, z3.BoolRef]:
            x = key.num[i]
            tests = []
            for b in bounds:
                bv = z3.RealVal(f"{b.numerator}/{b.denominator}")
                tests.append({"eq": x == bv, "lt": x < bv, "le": x <= bv, "gt": x > bv, "ge": x >= bv}[cmp])
            return key.ok[i], z3.Or(*tests) if tests else z3.BoolVal(False)

        return compare

    @staticmethod
    def _folded(text: str) -> z3.ReRef:
        return folded(text)

    # -- the answer ------------------------------------------------------------------------------------------
    def counterexample(self, model: z3.ModelRef, action: str | None = None) -> Counterexample:
        context: dict[str, str | tuple[str, ...]] = {}
        for name, key in self.keys.items():
            v = key.render(model)
            if v is not None:
                context[name] = v
        return Counterexample(
            action=action if action is not None else str(model.eval(self.action, model_completion=True).as_string()),
            resource=str(model.eval(self.resource, model_completion=True).as_string()),
            context=context,
        )

    def nice(self) -> list[z3.BoolRef]:
        """Preferences for a readable counterexample (tried once there is an answer, dropped when they leave none):
        printable ASCII, one value per key."""
        printable = z3.Star(z3.Range(" ", "~"))
        out = [z3.InRe(self.resource, printable)]
        for key in self.keys.values():
            out.append(z3.Or(key.n == 0, key.single))
            if key.kind in ("str", "any"):
                out.append(z3.InRe(key.text[0], z3.Plus(z3.Range("!", "~"))))
        return out

    def polish(self, cex: Counterexample, confirm: Callable[[Counterexample], bool]) -> Counterexample:
        """A confirmed counterexample made plainer where the evaluator still confirms it: each context key the
        request does not need left out."""
        for key in sorted(cex.context):
            fewer = replace(cex, context={k: v for k, v in cex.context.items() if k != key})
            if confirm(fewer):
                cex = fewer
        return cex

    def cases(self) -> list[list[z3.BoolRef]]:
        """The cases each query is split into (each its own query; one case here)."""
        return [[]]

    def block(self, cex: Counterexample) -> z3.BoolRef:
        return z3.Not(z3.And(self.resource == z3.StringVal(cex.resource),
                             *(self._pin(name, value) for name, value in cex.context.items())))

    def _pin(self, name: str, value: str | tuple[str, ...]) -> z3.BoolRef:
        key = self.keys[name]
        if key.kind not in ("str", "any"):
            return z3.BoolVal(True)
        values = (value,) if isinstance(value, str) else value
        return z3.And(key.n == len(values), *(t == z3.StringVal(v) for t, v in zip(key.text, values)))


class _CallerEncoder(_Encoder):
    """The encoding of policies that name principals: the request's unknowns and the caller's
    (:class:`iamroles.analysis.principals.Caller`), with the keys the evaluator derives from the caller tied to it."""

    def __init__(self, policies: Iterable[Policy]) -> None:
        policies = list(policies)
        super().__init__(policies)
        self.trust = all(p.kind is PolicyKind.TRUST for p in policies)
        self.caller = Caller()
        self._policies = policies
        self._levels: dict[int, tuple[z3.BoolRef, z3.BoolRef, z3.BoolRef]] = {}
        self._denies: dict[int, z3.BoolRef] = {}
        # what check_access_not_granted's principals compare the caller with: patterns (with wildcards), and strings
        self.patterns: list[str] = []
        self.constants: list[str] = []

    def domain(self) -> list[z3.BoolRef]:
        out = super().domain() + self.caller.domain()
        if "aws:resourceaccount" in self.keys:
            out += self.caller.tie_resource_account()
        out += self._key_ties()
        accounts = _principals.named_accounts(self._policies, self.patterns, self.constants)
        if accounts is not None:
            out += self.caller.accounts_among(accounts)
        return out + self.caller.ties()

    def cases(self) -> list[list[z3.BoolRef]]:
        """One query per type of caller, and for an IAM caller whose resource account a policy reads, one per
        whether the resource is in the caller's account: z3 decides each in a fraction of the time it takes over
        them all (measured: 8 s for one query, 0.1 s for its case of role sessions; a query undecided in 20 s,
        0.3 s for each of its cases once the accounts are also among those named, :func:`named_accounts`)."""
        c = self.caller
        out: list[list[z3.BoolRef]] = []
        for t in _principals.CASE_ORDER:
            if c.resource_account_tied and t in _principals.IAM_TYPES:
                out += [[c.is_(t), c.same_account], [c.is_(t), z3.Not(c.same_account)]]
            else:
                out.append([c.is_(t)])
        return out

    def _key_ties(self) -> list[z3.BoolRef]:
        out: list[z3.BoolRef] = []
        for name, key in self.keys.items():
            tie = self.caller.derived(name)
            if tie is None:
                continue
            present, value = tie
            if name == "aws:principaltagkeys":  # a list (the tags' keys), never one string
                out += [z3.Implies(key.n > 0, present), z3.Implies(key.n > 0, z3.Not(key.single))]
                continue
            out += [key.n <= 1, z3.Implies(key.n == 1, key.single)]
            if value is None:  # a principal tag: any value, of IAM principals only
                out.append(z3.Implies(key.n > 0, present))
                continue
            out.append(key.n == z3.If(present, 1, 0))
            if key.kind in ("str", "any"):
                out.append(z3.Implies(present, key.text[0] == value))
            elif ("tie", name) not in self.free:
                self._free(("tie", name), f"{name} is compared as a {key.kind}: its value is not tied to the caller")
        return out

    def levels(self, cs: CompiledStatement) -> tuple[z3.BoolRef, z3.BoolRef, z3.BoolRef]:
        hit = self._levels.get(id(cs))
        if hit is None:
            try:
                hit = self.caller.levels(cs)
            except _Unsupported as exc:
                b = self._free(("principal", id(cs)), f"the Principal of statement {cs.index} of {cs.policy.name}: {exc}")
                hit = (b, z3.BoolVal(False), z3.BoolVal(False))
            self._levels[id(cs)] = hit
        return hit

    def denies(self, cs: CompiledStatement) -> z3.BoolRef:
        hit = self._denies.get(id(cs))
        if hit is None:
            try:
                hit = self.caller.denied_by(cs)
            except _Unsupported as exc:
                hit = self._free(("denies", id(cs)), f"the Principal of statement {cs.index} of {cs.policy.name}: {exc}")
            self._denies[id(cs)] = hit
        return hit

    def standing(self, active: Sequence[CompiledStatement], policy: Policy,
                 use: Callable[[CompiledStatement], z3.BoolRef]) -> tuple[z3.BoolRef, z3.ArithRef]:
        """(explicitly denied, :meth:`Caller.strength`) of ``policy`` for the request, from its ``active``
        statements (``use``: a statement applies, all but its Principal)."""
        mine = [cs for cs in active if cs.policy is policy]
        denied = _either([z3.And(use(cs), self.denies(cs)) for cs in mine if cs.deny])
        grants = [(use(cs), self.levels(cs)) for cs in mine if not cs.deny]
        itself = _either([z3.And(u, d) for u, (d, _r, _a) in grants])
        role = _either([z3.And(u, r) for u, (_d, r, _a) in grants])
        account = _either([z3.And(u, a) for u, (_d, _r, a) in grants])
        return denied, self.caller.strength(denied, itself, role, account)

    def counterexample(self, model: z3.ModelRef, action: str | None = None) -> Counterexample:
        free: dict[str, str | tuple[str, ...]] = {}
        tags: dict[str, str] = {}
        tag_keys: list[str] = []
        for name, key in self.keys.items():
            v = key.render(model)
            if v is None:
                continue
            if name.startswith(_principals.TAG_PREFIX):
                tags[name[len(_principals.TAG_PREFIX):]] = v if isinstance(v, str) else ",".join(v)
            elif name == "aws:principaltagkeys":
                tag_keys = [v] if isinstance(v, str) else list(v)
            elif not _principals.is_derived(name):
                free[name] = v
        c = self.caller
        return Counterexample(
            action=action if action is not None else str(model.eval(self.action, model_completion=True).as_string()),
            resource=str(model.eval(self.resource, model_completion=True).as_string()),
            context=free,
            principal=c.render(model, tags, tag_keys),
            resource_account=c.render_resource_account(model),
            bounded=z3.is_true(model.eval(c.bounded, model_completion=True)),
        )

    def nice(self) -> list[z3.BoolRef]:
        # the caller is made plain by polish, through the evaluator, which is faster than asking the solver
        return super().nice()

    def polish(self, cex: Counterexample, confirm: Callable[[Counterexample], bool]) -> Counterexample:
        """The caller made plain (:func:`iamroles.analysis.principals.polish`), the resource's account kept the
        caller's when it was (a caller's account changes nothing else, unless aws:ResourceAccount is read)."""
        assert cex.principal is not None
        same = cex.resource_account == Facts.of(cex.principal).account

        def confirmed(spec: dict[str, Any], bounded: bool) -> bool:
            account = Facts.of(spec).account if same and not self.caller.resource_account_tied else cex.resource_account
            return bool(confirm(replace(cex, principal=spec, bounded=bounded, resource_account=account)))

        spec, bounded = _principals.polish(cex.principal, cex.bounded, confirmed)
        account = Facts.of(spec).account if same and not self.caller.resource_account_tied else cex.resource_account
        out = replace(cex, principal=spec, bounded=bounded, resource_account=account)
        if self.trust:  # a trust policy's resource is its role (the policy has no Resource element to read it)
            role = replace(out, resource=f"arn:{Facts.of(spec).partition or 'aws'}:iam::{account}:role/example")
            if confirm(role):
                out = role
        return super().polish(out, confirm)

    def block(self, cex: Counterexample) -> z3.BoolRef:
        assert cex.principal is not None and cex.resource_account is not None
        return z3.Not(z3.And(self.resource == z3.StringVal(cex.resource),
                             *(self._pin(name, value) for name, value in cex.context.items()),
                             self.caller.pin(cex.principal, cex.bounded, cex.resource_account)))


def _allowed(policies: Sequence[Policy], cex: Counterexample) -> bool:
    return evaluate(cex.request(), PolicySet(identity=policies)).allowed


_WITH_PRINCIPAL = (PolicyKind.RESOURCE, PolicyKind.TRUST)


def _statements(policies: Sequence[Policy], principals: bool = False) -> list[CompiledStatement]:
    out: list[CompiledStatement] = []
    for p in dict.fromkeys(policies):  # a policy on both sides is one set of statements
        if principals:
            if p.kind not in _WITH_PRINCIPAL:
                raise ValueError(f"{p.name}: a {p.kind.value} policy; resource-based and trust policies are compared here")
            out.extend(p.statements)
            continue
        if p.kind not in (PolicyKind.IDENTITY, PolicyKind.BOUNDARY, PolicyKind.SESSION):
            raise ValueError(f"{p.name}: only identity-based policies are compared (this one is {p.kind.value})")
        for cs in p.statements:
            if cs.statement.principal is not None:
                raise ValueError(f"{p.name}: a statement names a Principal; only identity-based policies are compared")
            out.append(cs)
    return out


_ACTION_CHARS = re.compile(r"[ -@\[-~]*\Z")


def _candidate_actions(statements: Sequence[CompiledStatement], asked: Sequence[str]) -> list[str]:
    """One action from each class of actions (as every statement's Action/NotAction and ``asked`` treat them)
    that the patterns themselves suggest: each pattern with its wildcards filled in two ways, and an action of no
    named service. Not every class (the full proof afterwards covers every action); a quick first look, where
    a concrete action leaves the solver only the resource and the context."""
    asked_re = compile_patterns(tuple(plain(a.lower()) for a in asked), True, "glob") if asked else None

    def signature(action: str) -> tuple[bool, ...]:
        return tuple(cs.matches_action(action) for cs in statements) + ((asked_re.match(action) is not None,) if asked_re else ())

    found: dict[tuple[bool, ...], str] = {}
    patterns = {a.lower() for cs in statements for a in cs.statement.actions} | {a.lower() for a in asked}
    for pattern in sorted(patterns):  # a real action of the catalogue first, for a readable counterexample
        service = pattern.split(":", 1)[0]
        if ":" in pattern and "*" not in service and "?" not in service:
            for known in CATALOG.matching_actions(pattern)[:3]:
                found.setdefault(signature(known.full_name.lower()), known.full_name.lower())
    for pattern in sorted(patterns):
        for star, one in (("", "a"), ("zq", "q")):
            candidate = pattern.replace("*", star).replace("?", one)
            if _ACTION_CHARS.match(candidate):
                found.setdefault(signature(candidate), candidate)
    found.setdefault(signature("zzq:zzq"), "zzq:zzq")
    return list(found.values())


def _check(constraints: Sequence[z3.BoolRef], timeout_ms: int) -> tuple[Any, z3.Solver]:
    """One query in a solver of its own: z3 answers a query on strings much faster (measured: 0.03 s vs 0.6 s for
    a caller of a resource policy) in a fresh solver than in an incremental one (after push or a first check)."""
    solver = z3.Solver()
    solver.set("timeout", max(1, timeout_ms))
    solver.add(*constraints)
    return solver.check(), solver


def _solve_one(enc: _Encoder, base: Sequence[z3.BoolRef], action: str | None, confirm: Any,
               deadline: float) -> tuple[str, Counterexample | None, str]:
    """PASS when no case of the encoder has a request, FAIL with the first confirmed, else UNKNOWN."""
    unknown = None
    for case in enc.cases():
        result, cex, why = _solve_case(enc, [*base, *case], action, confirm, deadline)
        if result == FAIL:
            return result, cex, why
        if result == UNKNOWN:
            unknown = unknown or why  # another case may still have a counterexample
    return (UNKNOWN, None, unknown) if unknown is not None else (PASS, None, "")


def _solve_case(enc: _Encoder, base: Sequence[z3.BoolRef], action: str | None, confirm: Any,
                deadline: float) -> tuple[str, Counterexample | None, str]:
    def left() -> int:
        return max(1, int((deadline - time.perf_counter()) * 1000))

    blocks: list[z3.BoolRef] = []
    for attempt in range(_RETRIES):
        began = time.perf_counter()
        answer, solver = _check([*base, *blocks], left())
        took_ms = (time.perf_counter() - began) * 1000
        if answer == z3.unsat:
            return PASS, None, ""
        if answer != z3.sat:
            return UNKNOWN, None, f"the solver gave up ({solver.reason_unknown()})"
        cex = enc.counterexample(solver.model(), action)
        if attempt == 0:  # there is an answer: look for a readable one first, one preference at a time, each given
            # a few times what the answer took (z3 can stall on a preference however easy; polish does the rest)
            step_ms = int(min(_NICE_STEP_MS, max(20.0, 3 * took_ms)))
            nice_until = min(deadline, time.perf_counter() + min(_NICE_MS, max(60.0, 10 * took_ms)) / 1000)
            model, kept = None, list[z3.BoolRef]()
            for preference in enc.nice():
                budget = int((nice_until - time.perf_counter()) * 1000)
                if budget <= 0:
                    break
                answer, tried = _check([*base, *kept, preference], min(budget, step_ms))
                if answer == z3.sat:
                    model = tried.model()
                    kept.append(preference)
            if model is not None:
                nice = enc.counterexample(model, action)
                if confirm(nice):
                    return FAIL, enc.polish(nice, confirm), ""
        if confirm(cex):
            return FAIL, enc.polish(cex, confirm), ""
        blocks.append(enc.block(cex))
    return UNKNOWN, None, "the solver's candidate requests were not confirmed by the evaluator (approximated: " + \
        "; ".join(enc.approximated) + ")"


def _either(bodies: list[z3.BoolRef]) -> z3.BoolRef:
    return z3.Or(*bodies) if bodies else z3.BoolVal(False)


GoalFor = Callable[[_Encoder, Sequence[CompiledStatement], Callable[[CompiledStatement], z3.BoolRef]], "z3.BoolRef | None"]


def _prove(goal_for: GoalFor, policies: Sequence[Policy], asked: Sequence[str], confirm: Any, timeout_ms: int,
           within: z3.BoolRef | None = None, enc: _Encoder | None = None,
           suspicion: Callable[[Sequence[CompiledStatement]], int] | None = None,
           restrict: Sequence[z3.BoolRef] = ()) -> tuple[str, Counterexample | None, str, list[str]]:
    """First each candidate action on its own (quick counterexamples; ``suspicion`` orders them and skips those
    scored 0), then every action at once (the proof). ``restrict``: more constraints on the request."""
    deadline = time.perf_counter() + timeout_ms / 1000
    enc = enc or _Encoder(policies)
    statements = _statements(policies, isinstance(enc, _CallerEncoder))
    if within is not None:
        statements = [cs for cs in statements if enc.can_meet(cs, within)]
    asked_re = compile_patterns(tuple(plain(a.lower()) for a in asked), True, "glob") if asked else None
    base = [*enc.domain(), *restrict, *([within] if within is not None else [])]
    quick_until = time.perf_counter() + (deadline - time.perf_counter()) / 4
    quick: list[tuple[int, str, list[CompiledStatement]]] = []
    for action in _candidate_actions(statements, asked):
        if asked_re is not None and asked_re.match(action) is None:
            continue
        active = [cs for cs in statements if cs.matches_action(action)]
        score = suspicion(active) if suspicion is not None else 1
        if score:
            quick.append((-score, action, active))
    quick.sort(key=lambda q: (q[0], len(q[2])))  # the most suspicious first, the smallest queries first among them
    for _, action, active in quick:
        if time.perf_counter() > quick_until:
            break
        goal = goal_for(enc, active, enc.body)
        if goal is None:
            continue
        result, cex, _ = _solve_one(enc, [*base, goal], action, confirm, min(deadline, quick_until))
        if result == FAIL:
            return result, cex, "", enc.approximated
    goal = goal_for(enc, statements, lambda cs: z3.And(enc.action_test(cs.statement.actions, cs.statement.not_action), enc.body(cs)))
    if goal is None:
        return PASS, None, "", enc.approximated
    result, cex, why = _solve_one(enc, [*base, goal, *([enc.action_matches(asked)] if asked else [])], None, confirm, deadline)
    return result, cex, why, enc.approximated


def _allowed_by(active: Sequence[CompiledStatement], policies: Sequence[Policy],
                use: Callable[[CompiledStatement], z3.BoolRef]) -> tuple[list[z3.BoolRef], list[z3.BoolRef]]:
    ids = {id(cs) for p in policies for cs in p.statements}
    mine = [cs for cs in active if id(cs) in ids]
    return [use(cs) for cs in mine if not cs.deny], [use(cs) for cs in mine if cs.deny]


def _twin(cs: CompiledStatement) -> tuple[Any, ...]:
    """A statement's meaning (its Sid and the order of its lists aside), to find it unchanged on the other side."""
    st = cs.statement
    element = st.principal
    principal = None if element is None else (element.wildcard, frozenset(element.aws), frozenset(s.lower() for s in element.service),
                                             frozenset(element.federated), frozenset(element.canonical_user))
    return (st.effect, frozenset(a.lower() for a in st.actions), st.not_action,
            None if st.resources is None else frozenset(st.resources), st.not_resource, principal, st.not_principal,
            frozenset((c.operator, c.key.lower(), frozenset(c.values)) for c in st.conditions), cs.policy.document.has_variables)


def _as_list(policies: Policy | Sequence[Policy]) -> list[Policy]:
    return [policies] if isinstance(policies, Policy) else list(policies)


def _suspicion(olds: Sequence[Policy], news: Sequence[Policy]) -> Callable[[Sequence[CompiledStatement]], int]:
    old_ids = {id(cs) for p in olds for cs in p.statements}
    new_ids = {id(cs) for p in news for cs in p.statements}

    def suspicion(active: Sequence[CompiledStatement]) -> int:
        """How many of the new side's allows (and the old side's denies) have no twin on the other side."""
        def twins(side: Iterable[CompiledStatement]) -> set[Any]:
            return {_twin(cs) for cs in side}

        new_side = [cs for cs in active if id(cs) in new_ids]
        old_side = [cs for cs in active if id(cs) in old_ids]
        old_allows, new_denies = twins(cs for cs in old_side if not cs.deny), twins(cs for cs in new_side if cs.deny)
        return sum(1 for cs in new_side if not cs.deny and _twin(cs) not in old_allows) + \
            sum(1 for cs in old_side if cs.deny and _twin(cs) not in new_denies)

    return suspicion


def _named(policies: Sequence[Policy]) -> bool:
    """Whether the policies name principals (resource-based or trust policies), refusing a mix."""
    kinds = {p.kind in _WITH_PRINCIPAL for p in policies}
    if len(kinds) > 1:
        raise ValueError("identity-based policies are compared with identity-based policies, resource-based or trust "
                         "policies with their own kind")
    return kinds == {True}


def check_no_new_access(old: Policy | Sequence[Policy], new: Policy | Sequence[Policy], timeout_ms: int = 60_000) -> ProofResult:
    """PASS when no request is allowed by ``new`` and not by ``old`` (a proof over every request); FAIL with a
    request the evaluator allows under ``new`` and not under ``old``; UNKNOWN when neither could be shown.

    Identity-based policies (identity, boundary, session; one or several a side) are compared as the caller's
    policies. A resource-based policy or a role's trust policy (one a side, of one kind) is compared for every
    caller (account roots, users, role sessions, federated users, services, web identities, canonical users,
    anonymous callers) and in every setting of the caller's other policies (:mod:`iamroles.analysis.principals`):
    as Access Analyzer's CheckNoNewAccess with policyType RESOURCE_POLICY
    (https://docs.aws.amazon.com/access-analyzer/latest/APIReference/API_CheckNoNewAccess.html), naming a caller
    more strongly is new access too (naming a user of the account, where the old policy named only the account,
    lets the user in without an identity policy)."""
    started = time.perf_counter()
    olds, news = _as_list(old), _as_list(new)
    if _named(olds + news):
        return _no_new_access_named(olds, news, timeout_ms, started)

    def goal(enc: _Encoder, active: Sequence[CompiledStatement], use: Callable[[CompiledStatement], z3.BoolRef]) -> z3.BoolRef | None:
        new_allow, new_deny = _allowed_by(active, news, use)
        if not new_allow:
            return None
        old_allow, old_deny = _allowed_by(active, olds, use)
        return z3.And(_either(new_allow), z3.Not(_either(new_deny)), z3.Not(z3.And(_either(old_allow), z3.Not(_either(old_deny)))))

    result, cex, why, approximated = _prove(goal, olds + news, (), lambda c: _allowed(news, c) and not _allowed(olds, c), timeout_ms,
                                            suspicion=_suspicion(olds, news))
    message = {
        PASS: "the new policy allows no request the old one does not",
        FAIL: "the new policy allows a request the old one does not",
        UNKNOWN: why,
    }[result]
    return ProofResult(result, message, cex, list(approximated), time.perf_counter() - started)


def _one(policies: Sequence[Policy], side: str) -> Policy:
    if len(policies) != 1:
        raise ValueError(f"{side}: one resource-based or trust policy (a request meets one), not {len(policies)}")
    return policies[0]


def _replayed(cex: Counterexample) -> Request | None:
    try:
        return cex.request()
    except ValueError:  # a caller the evaluator would not make (not an encoding the replay accepts)
        return None


def _no_new_access_named(olds: Sequence[Policy], news: Sequence[Policy], timeout_ms: int, started: float) -> ProofResult:
    o, n = _one(olds, "old"), _one(news, "new")
    if o.kind is not n.kind:
        raise ValueError(f"a {o.kind.value} policy is compared with a policy of its kind, not a {n.kind.value} policy")
    enc = _CallerEncoder([o, n])
    caller = enc.caller
    # a resource policy need not grant by itself (a bucket policy): in the caller's account, its identity policies
    # may allow what the resource policy neither allows nor denies, so a Deny taken away is new access too
    bucket_like = n.kind is PolicyKind.RESOURCE

    def goal(enc: _Encoder, active: Sequence[CompiledStatement], use: Callable[[CompiledStatement], z3.BoolRef]) -> z3.BoolRef | None:
        assert isinstance(enc, _CallerEncoder)
        if not any(cs.policy is n and not cs.deny for cs in active) and not (
                bucket_like and any(cs.policy is o and cs.deny for cs in active)):
            return None
        new_denied, new_strength = enc.standing(active, n, use)
        old_denied, old_strength = enc.standing(active, o, use)
        same = caller.same_account
        cases = [z3.And(same, new_strength > old_strength),
                 z3.And(z3.Not(same), new_strength >= 1, old_strength == 0)]
        if bucket_like:
            cases.append(z3.And(same, old_denied, z3.Not(new_denied)))
        return z3.Or(*cases)

    def confirm(cex: Counterexample) -> bool:
        req = _replayed(cex)
        return req is not None and _principals.distinguishing(o, n, req, cex.bounded) is not None

    result, cex, why, approximated = _prove(goal, [o, n], (), confirm, timeout_ms, enc=enc, suspicion=_suspicion([o], [n]))
    if cex is not None:
        req = _replayed(cex)
        assert req is not None
        cex = replace(cex, setting=_principals.distinguishing(o, n, req, cex.bounded))
    message = {
        PASS: "the new policy allows no request the old one does not, for any caller in any setting",
        FAIL: "the new policy allows a request the old one does not",
        UNKNOWN: why,
    }[result]
    return ProofResult(result, message, cex, list(approximated), time.perf_counter() - started)


def check_access_not_granted(policies: Policy | Sequence[Policy], actions: Sequence[str] = (), resources: Sequence[str] = (),
                             timeout_ms: int = 60_000, principals: Sequence[str] = ()) -> ProofResult:
    """PASS when no request for one of ``actions`` (wildcards allowed; none: any action) on one of ``resources``
    (ARN patterns; none: any resource) is allowed, whatever its context; FAIL with one that is.

    For a resource-based or trust policy, also by one of ``principals`` (none: any caller; the forms of
    :meth:`iamroles.analysis.principals.Caller.matches`), and "allowed" is granted by the policy itself: allowed
    where the policy must grant by itself, as a trust or key policy must (a caller of the resource's own account
    may be let in by its identity policies under a bucket-like policy that names it nowhere; only a Deny keeps it
    out). As Access Analyzer's CheckAccessNotGranted
    (https://docs.aws.amazon.com/access-analyzer/latest/APIReference/API_CheckAccessNotGranted.html)."""
    if not actions and not resources and not principals:
        raise ValueError("name at least one action, resource or principal")
    started = time.perf_counter()
    ps = _as_list(policies)
    if _named(ps):
        return _access_named(_one(ps, "policy"), actions, resources, principals, timeout_ms, started)
    if principals:
        raise ValueError("principals are named for resource-based and trust policies (identity-based policies are the caller's own)")
    enc = _Encoder(ps)
    within = enc.resource_matches(resources) if resources else None

    def goal(enc: _Encoder, active: Sequence[CompiledStatement], use: Callable[[CompiledStatement], z3.BoolRef]) -> z3.BoolRef | None:
        allow, deny = _allowed_by(active, ps, use)
        if not allow:
            return None
        return z3.And(_either(allow), z3.Not(_either(deny)))

    result, cex, why, approximated = _prove(goal, ps, actions, lambda c: _allowed(ps, c), timeout_ms, within, enc)
    message = {
        PASS: "no request for the named access is allowed",
        FAIL: "the policy grants some of the named access",
        UNKNOWN: why,
    }[result]
    return ProofResult(result, message, cex, list(approximated), time.perf_counter() - started)


def _access_named(p: Policy, actions: Sequence[str], resources: Sequence[str], principals: Sequence[str], timeout_ms: int,
                  started: float) -> ProofResult:
    enc = _CallerEncoder([p])
    within = enc.resource_matches(resources) if resources else None
    restrict = [z3.Or(*(enc.caller.matches(spec) for spec in principals))] if principals else []
    enc.patterns = [spec for spec in principals if "*" in spec or "?" in spec]
    enc.constants = [spec for spec in principals if "*" not in spec and "?" not in spec]

    def goal(enc: _Encoder, active: Sequence[CompiledStatement], use: Callable[[CompiledStatement], z3.BoolRef]) -> z3.BoolRef | None:
        assert isinstance(enc, _CallerEncoder)
        if not any(not cs.deny for cs in active):
            return None
        return enc.standing(active, p, use)[1] >= 1

    asked_actions = compile_patterns(tuple(plain(a.lower()) for a in actions), True, "glob") if actions else None
    asked_resources = compile_patterns(tuple(plain(r) for r in resources), False, "resource") if resources and "*" not in resources else None

    def confirm(cex: Counterexample) -> bool:
        """Granted by the evaluator, and still a request for the access asked about (polish must not leave it)."""
        req = _replayed(cex)
        if req is None or (asked_actions is not None and asked_actions.match(cex.action.lower()) is None):
            return False
        if asked_resources is not None and asked_resources.match(cex.resource) is None:
            return False
        if principals and not any(_principals.spec_names(spec, req.principal) for spec in principals):
            return False
        return _principals.granting(p, req, cex.bounded) is not None

    result, cex, why, approximated = _prove(goal, [p], actions, confirm, timeout_ms, within, enc, restrict=restrict)
    if cex is not None:
        req = _replayed(cex)
        assert req is not None
        cex = replace(cex, setting=_principals.granting(p, req, cex.bounded))
    message = {
        PASS: "no request for the named access is granted by the policy" + (", to any of the named principals" if principals else ""),
        FAIL: "the policy grants some of the named access",
        UNKNOWN: why,
    }[result]
    return ProofResult(result, message, cex, list(approximated), time.perf_counter() - started)
