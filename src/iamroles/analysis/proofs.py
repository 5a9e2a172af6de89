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
from ..policy.wildcard import Pieces, compile_patterns, pattern_segments, plain

__all__ = ["Counterexample", "ProofResult", "check_access_not_granted", "check_no_new_access"]

PASS, FAIL, UNKNOWN = "PASS", "FAIL", "UNKNOWN"
_RETRIES = 4
_VAR_TEXT = re.compile(r"\$\{[^}]*\}")
_NICE_MS = 500  # time given to finding a readable counterexample once there is one
_MAX_CHAR = 0x2FFFF  # z3's largest character; a policy literal beyond it is not encoded
_CALLER = Principal.from_arn("arn:aws:iam::111122223333:user/analyzer")

# characters whose lower case is each ASCII letter (str.lower, as the evaluator folds): the letter, its capital,
# and KELVIN SIGN for k; a test enumerates Unicode to hold this table to Python's
_FOLDS: dict[str, str] = {c: c + c.upper() for c in "abcdefghijklmnopqrstuvwxyz"}
_FOLDS["k"] += "\u212a"

_STRING_FAMILIES = frozenset({"string", "string_ic", "string_like", "arn", "bool", "binary"})
_KIND = {"string": "str", "string_ic": "str", "string_like": "str", "arn": "str", "bool": "str", "binary": "str",
         "ip": "ip", "null": "any"}


class _Unsupported(Exception):
    """A construct the encoding does not model exactly (it becomes a free boolean)."""


@dataclass(frozen=True)
class Counterexample:
    """A request one policy allows and the other does not (or that is granted), confirmed by the evaluator."""

    action: str
    resource: str
    context: dict[str, str | tuple[str, ...]]

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "resource": self.resource,
                "context": {k: list(v) if isinstance(v, tuple) else v for k, v in sorted(self.context.items())}}

    def request(self) -> Request:
        """The request as the evaluator takes it: exactly these context keys (the caller adds none)."""
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


# -- regular expressions for wildcard patterns, as iamroles.policy.wildcard builds them -------------------------

def _re_sort() -> z3.ReSortRef:
    return z3.ReSort(z3.StringSort())


def _any_char() -> z3.ReRef:
    return z3.AllChar(_re_sort())


def _not_colon() -> z3.ReRef:
    return z3.Union(z3.Range("\x00", "9"), z3.Range(";", chr(_MAX_CHAR)))


def _literal(text: str) -> z3.ReRef:
    if any(ord(c) > _MAX_CHAR for c in text):
        raise _Unsupported(f"a character beyond U+{_MAX_CHAR:X} in {text!r}")
    return z3.Re(z3.StringVal(text))


def _chars_re(chars: Sequence[tuple[str, bool]], star: z3.ReRef, qmark: z3.ReRef) -> z3.ReRef:
    parts: list[z3.ReRef] = []
    buf: list[str] = []
    for ch, lit in chars:
        if not lit and ch in "*?":
            if buf:
                parts.append(_literal("".join(buf)))
                buf = []
            parts.append(star if ch == "*" else qmark)
        else:
            buf.append(ch)
    if buf or not parts:
        parts.append(_literal("".join(buf)))
    return parts[0] if len(parts) == 1 else z3.Concat(*parts)


def _pattern_re(pieces: Pieces, mode: str) -> z3.ReRef:
    """The z3 regex of :func:`iamroles.policy.wildcard.pattern_regex` (same modes, same segment rules)."""
    anything = z3.Star(_any_char())
    segments = pattern_segments(pieces, mode)
    if segments is None:
        return z3.Empty(_re_sort())
    if len(segments) == 1:  # a glob, or not an ARN: the whole string
        return _chars_re(segments[0], anything, _any_char())
    seg_star, seg_q = z3.Star(_not_colon()), _not_colon()
    parts: list[z3.ReRef] = []
    for i, seg in enumerate(segments[:5]):
        if i:
            parts.append(_literal(":"))
        if mode == "resource" and seg and seg[-1] == ("*", False):
            parts.append(z3.Concat(_chars_re(seg[:-1], seg_star, seg_q), anything))
        else:
            parts.append(_chars_re(seg, seg_star, seg_q))
    if len(segments) == 6:
        parts.append(_literal(":"))
        parts.append(_chars_re(segments[5], anything, _any_char()))
    return parts[0] if len(parts) == 1 else z3.Concat(*parts)


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
        """Strings whose ``str.lower()`` is ``text.lower()`` (ASCII text only; others are not encoded)."""
        low = text.lower()
        if not low.isascii():
            raise _Unsupported("case-insensitive comparison with non-ASCII text")
        parts = [z3.Union(*(z3.Re(z3.StringVal(x)) for x in _FOLDS[c])) if c in _FOLDS else z3.Re(z3.StringVal(c)) for c in low]
        if not parts:
            return z3.Re(z3.StringVal(""))
        return parts[0] if len(parts) == 1 else z3.Concat(*parts)

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
        word = None
        printable = z3.Star(z3.Range(" ", "~"))
        del word
        out = [z3.InRe(self.resource, printable)]
        for key in self.keys.values():
            out.append(z3.Or(key.n == 0, key.single))
            if key.kind in ("str", "any"):
                out.append(z3.InRe(key.text[0], z3.Plus(z3.Range("!", "~"))))
        return out

    def block(self, cex: Counterexample) -> z3.BoolRef:
        return z3.Not(z3.And(self.resource == z3.StringVal(cex.resource),
                             *(self._pin(name, value) for name, value in cex.context.items())))

    def _pin(self, name: str, value: str | tuple[str, ...]) -> z3.BoolRef:
        key = self.keys[name]
        if key.kind not in ("str", "any"):
            return z3.BoolVal(True)
        values = (value,) if isinstance(value, str) else value
        return z3.And(key.n == len(values), *(t == z3.StringVal(v) for t, v in zip(key.text, values)))


def _allowed(policies: Sequence[Policy], cex: Counterexample) -> bool:
    return evaluate(cex.request(), PolicySet(identity=policies)).allowed


def _statements(policies: Sequence[Policy]) -> list[CompiledStatement]:
    out: list[CompiledStatement] = []
    for p in dict.fromkeys(policies):  # a policy on both sides is one set of statements
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


def _solve_one(enc: _Encoder, solver: z3.Solver, action: str | None, confirm: Any, deadline: float) -> tuple[str, Counterexample | None, str]:
    def left() -> int:
        return max(1, int((deadline - time.perf_counter()) * 1000))

    for attempt in range(_RETRIES):
        solver.set("timeout", left())
        answer = solver.check()
        if answer == z3.unsat:
            return PASS, None, ""
        if answer != z3.sat:
            return UNKNOWN, None, f"the solver gave up ({solver.reason_unknown()})"
        cex = enc.counterexample(solver.model(), action)
        if attempt == 0:  # there is an answer: look for a readable one first
            solver.push()
            solver.set("timeout", min(left(), _NICE_MS))
            solver.add(*enc.nice())
            if solver.check() == z3.sat:
                nice = enc.counterexample(solver.model(), action)
                if confirm(nice):
                    return FAIL, nice, ""
            solver.pop()
        if confirm(cex):
            return FAIL, cex, ""
        solver.add(enc.block(cex))
    return UNKNOWN, None, "the solver's candidate requests were not confirmed by the evaluator (approximated: " + \
        "; ".join(enc.approximated) + ")"


def _either(bodies: list[z3.BoolRef]) -> z3.BoolRef:
    return z3.Or(*bodies) if bodies else z3.BoolVal(False)


GoalFor = Callable[[_Encoder, Sequence[CompiledStatement], Callable[[CompiledStatement], z3.BoolRef]], "z3.BoolRef | None"]


def _prove(goal_for: GoalFor, policies: Sequence[Policy], asked: Sequence[str], confirm: Any, timeout_ms: int,
           within: z3.BoolRef | None = None, enc: _Encoder | None = None,
           suspicion: Callable[[Sequence[CompiledStatement]], int] | None = None) -> tuple[str, Counterexample | None, str, list[str]]:
    """First each candidate action on its own (quick counterexamples; ``suspicion`` orders them and skips those
    scored 0), then every action at once (the proof)."""
    deadline = time.perf_counter() + timeout_ms / 1000
    enc = enc or _Encoder(policies)
    statements = _statements(policies)
    if within is not None:
        statements = [cs for cs in statements if enc.can_meet(cs, within)]
    asked_re = compile_patterns(tuple(plain(a.lower()) for a in asked), True, "glob") if asked else None
    solver = z3.Solver()
    solver.add(*enc.domain())
    if within is not None:
        solver.add(within)
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
        solver.push()
        solver.add(goal)
        result, cex, _ = _solve_one(enc, solver, action, confirm, min(deadline, quick_until))
        solver.pop()
        if result == FAIL:
            return result, cex, "", enc.approximated
    goal = goal_for(enc, statements, lambda cs: z3.And(enc.action_test(cs.statement.actions, cs.statement.not_action), enc.body(cs)))
    if goal is None:
        return PASS, None, "", enc.approximated
    solver.add(goal)
    if asked:
        solver.add(enc.action_matches(asked))
    result, cex, why = _solve_one(enc, solver, None, confirm, deadline)
    return result, cex, why, enc.approximated


def _allowed_by(active: Sequence[CompiledStatement], policies: Sequence[Policy],
                use: Callable[[CompiledStatement], z3.BoolRef]) -> tuple[list[z3.BoolRef], list[z3.BoolRef]]:
    ids = {id(cs) for p in policies for cs in p.statements}
    mine = [cs for cs in active if id(cs) in ids]
    return [use(cs) for cs in mine if not cs.deny], [use(cs) for cs in mine if cs.deny]


def _twin(cs: CompiledStatement) -> tuple[Statement, bool]:
    """A statement's meaning (its Sid aside), to find it unchanged on the other side."""
    return replace(cs.statement, sid=None), cs.policy.document.has_variables


def _as_list(policies: Policy | Sequence[Policy]) -> list[Policy]:
    return [policies] if isinstance(policies, Policy) else list(policies)


def check_no_new_access(old: Policy | Sequence[Policy], new: Policy | Sequence[Policy], timeout_ms: int = 60_000) -> ProofResult:
    """PASS when no request is allowed by ``new`` and not by ``old`` (a proof over every request); FAIL with a
    request the evaluator allows under ``new`` and not under ``old``; UNKNOWN when neither could be shown."""
    started = time.perf_counter()
    olds, news = _as_list(old), _as_list(new)

    def goal(enc: _Encoder, active: Sequence[CompiledStatement], use: Callable[[CompiledStatement], z3.BoolRef]) -> z3.BoolRef | None:
        new_allow, new_deny = _allowed_by(active, news, use)
        if not new_allow:
            return None
        old_allow, old_deny = _allowed_by(active, olds, use)
        return z3.And(_either(new_allow), z3.Not(_either(new_deny)), z3.Not(z3.And(_either(old_allow), z3.Not(_either(old_deny)))))

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

    result, cex, why, approximated = _prove(goal, olds + news, (), lambda c: _allowed(news, c) and not _allowed(olds, c), timeout_ms,
                                            suspicion=suspicion)
    message = {
        PASS: "the new policy allows no request the old one does not",
        FAIL: "the new policy allows a request the old one does not",
        UNKNOWN: why,
    }[result]
    return ProofResult(result, message, cex, list(approximated), time.perf_counter() - started)


def check_access_not_granted(policies: Policy | Sequence[Policy], actions: Sequence[str] = (), resources: Sequence[str] = (),
                             timeout_ms: int = 60_000) -> ProofResult:
    """PASS when no request for one of ``actions`` (wildcards allowed; none: any action) on one of ``resources``
    (ARN patterns; none: any resource) is allowed, whatever its context; FAIL with one that is."""
    if not actions and not resources:
        raise ValueError("name at least one action or resource")
    started = time.perf_counter()
    ps = _as_list(policies)
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
