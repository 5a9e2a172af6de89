"""Condition operators, compiled to tests over a request context.

A context maps lower-cased key names to a string (single-valued key) or a
tuple of strings (multivalued key). Each clause compiles once into a
function ``ctx -> bool``; policy values are parsed to the operator's type at
compile time, and a value that does not parse (in the policy or in the
request) never matches.

Semantics (IAM User Guide, reference_policies_elements_condition_operators
and reference_policies_condition-single-vs-multi-valued-context-keys):

* several values for one key are ORed; keys and operators are ANDed;
* a key missing from the request: positive operators are false, negated
  ones (StringNotEquals, NotIpAddress, ArnNotLike, ...) true;
* ``...IfExists``: true when the key is missing, else the operator;
* ``Null``: "true" matches a missing key, "false" a present one;
* ``ForAnyValue:``: some request value matches (false when missing/empty);
* ``ForAllValues:``: every request value matches (true when missing/empty).
"""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from .request import TIME_KEYS, context_time_value
from .variables import Context, Template, render, resolve, split_template
from .wildcard import Pieces, compile_patterns

__all__ = ["OPERATORS", "parse_operator", "compile_clause", "ConditionTest", "parse_date", "parse_number"]

ConditionTest = Callable[[Context], bool]
Matcher = Callable[[str], "bool | None"]  # True/False, None: value of the wrong type

# base operator -> (family, negated)
OPERATORS: dict[str, tuple[str, bool]] = {
    "StringEquals": ("string", False),
    "StringNotEquals": ("string", True),
    "StringEqualsIgnoreCase": ("string_ic", False),
    "StringNotEqualsIgnoreCase": ("string_ic", True),
    "StringLike": ("string_like", False),
    "StringNotLike": ("string_like", True),
    "NumericEquals": ("numeric_eq", False),
    "NumericNotEquals": ("numeric_eq", True),
    "NumericLessThan": ("numeric_lt", False),
    "NumericLessThanEquals": ("numeric_le", False),
    "NumericGreaterThan": ("numeric_gt", False),
    "NumericGreaterThanEquals": ("numeric_ge", False),
    "DateEquals": ("date_eq", False),
    "DateNotEquals": ("date_eq", True),
    "DateLessThan": ("date_lt", False),
    "DateLessThanEquals": ("date_le", False),
    "DateGreaterThan": ("date_gt", False),
    "DateGreaterThanEquals": ("date_ge", False),
    "Bool": ("bool", False),
    "BinaryEquals": ("binary", False),
    "IpAddress": ("ip", False),
    "NotIpAddress": ("ip", True),
    "ArnEquals": ("arn", False),
    "ArnLike": ("arn", False),
    "ArnNotEquals": ("arn", True),
    "ArnNotLike": ("arn", True),
    "Null": ("null", False),
}

# Families whose values may hold policy variables (the operators page marks
# String, Boolean and ARN operators as supporting them).
_VARIABLE_FAMILIES = frozenset({"string", "string_ic", "string_like", "bool", "arn"})

_QUALIFIERS = {"ForAnyValue:": "any", "ForAllValues:": "all"}


def parse_operator(operator: str) -> tuple[str, str | None, bool] | None:
    """``(base, qualifier, if_exists)`` for an operator name, or ``None`` if unknown."""
    qualifier = None
    for prefix, q in _QUALIFIERS.items():
        if operator.startswith(prefix):
            qualifier, operator = q, operator[len(prefix) :]
            break
    if_exists = False
    if operator.endswith("IfExists") and operator != "IfExists":
        operator, if_exists = operator[: -len("IfExists")], True
        if operator == "Null":
            return None
    if operator not in OPERATORS:
        return None
    return operator, qualifier, if_exists


_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\Z")


@lru_cache(maxsize=8192)
def parse_number(text: str) -> float | int | None:
    if not _NUMBER.match(text):
        return None
    try:
        return int(text)
    except ValueError:
        return float(text)


_EPOCH = re.compile(r"[+-]?\d+(?:\.\d+)?\Z")


@lru_cache(maxsize=8192)
def parse_date(text: str) -> float | None:
    """An ISO 8601 date/time or epoch seconds, as epoch seconds."""
    text = text.strip()
    if not text:
        return None
    if _EPOCH.match(text) and not re.match(r"\d{4}-", text):
        return float(text)
    try:
        value = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def _bool(text: str) -> bool | None:
    low = text.lower()
    return True if low == "true" else False if low == "false" else None


@lru_cache(maxsize=8192)
def _ip(text: str) -> tuple[int, int] | None:
    """(version, integer) of an IP address; request addresses repeat, so cached."""
    try:
        addr = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    return addr.version, int(addr)


def _network(text: str) -> tuple[int, int, int] | None:
    """(version, network integer, netmask integer) of a CIDR or a single address."""
    try:
        net = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None
    return net.version, int(net.network_address), int(net.netmask)


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
}


def _matcher(family: str, values: tuple[str, ...], pieces: tuple[Pieces, ...] | None = None) -> Matcher:
    """A function telling whether one request value matches any policy value.

    ``pieces`` carries wildcard/literal structure for ``string_like`` and
    ``arn`` when the values came from templates.
    """
    if family == "string":
        exact = frozenset(values)
        return lambda v: v in exact
    if family == "string_ic":
        folded = frozenset(x.lower() for x in values)
        return lambda v: v.lower() in folded
    if family in ("string_like", "arn"):
        if not values:
            return lambda v: False
        pats = pieces if pieces is not None else tuple(((x, False),) for x in values)
        fullmatch = compile_patterns(pats, False, "arn" if family == "arn" else "glob").match
        if family == "arn":
            return lambda v: fullmatch(v) is not None if v.startswith("arn:") else False
        return lambda v: fullmatch(v) is not None
    if family == "binary":
        exact = frozenset(values)
        return lambda v: v in exact
    if family == "bool":
        wanted = frozenset(b for b in map(_bool, values) if b is not None)

        def match_bool(v: str) -> bool | None:
            b = _bool(v)
            return None if b is None else b in wanted

        return match_bool
    if family == "ip":
        nets = [n for n in map(_network, values) if n is not None]

        def match_ip(v: str) -> bool | None:
            addr = _ip(v)
            if addr is None:
                return None
            version, value = addr
            return any(version == nv and value & mask == network for nv, network, mask in nets)

        return match_ip
    kind, cmp_name = family.split("_")
    parse = parse_number if kind == "numeric" else parse_date
    cmp = _COMPARE[cmp_name]
    bounds = [b for b in map(parse, values) if b is not None]
    if cmp_name == "eq":
        eq = frozenset(bounds)

        def match_eq(v: str) -> bool | None:
            x = parse(v)
            return None if x is None else x in eq

        return match_eq

    def match_cmp(v: str) -> bool | None:
        x = parse(v)
        if x is None:
            return None
        return any(cmp(x, b) for b in bounds)

    return match_cmp


def compile_clause(clause_operator: str, key: str, values: tuple[str, ...], variables: bool) -> ConditionTest:
    """Compile one operator/key/values clause into ``ctx -> bool``.

    ``variables``: the document is Version 2012-10-17, so ``${...}`` in the
    values of String, Bool and ARN operators are policy variables.
    """
    parsed = parse_operator(clause_operator)
    if parsed is None:  # parse rejects these; never match if one slips through
        return lambda ctx: False
    base, qualifier, if_exists = parsed
    family, negated = OPERATORS[base]
    lkey = key.lower()

    if family == "null":
        wants = frozenset(b for b in map(_bool, values) if b is not None)

        def null_test(ctx: Context) -> bool:
            raw = context_time_value(ctx, lkey) if lkey in TIME_KEYS else ctx.get(lkey)
            return (raw is None or raw == ()) in wants

        return null_test

    templates: list[Template | None] = (
        [split_template(v) for v in values] if variables and family in _VARIABLE_FAMILIES else []
    )
    if any(t is not None for t in templates):
        static: Matcher | None = None

        def matcher_for(ctx: Context) -> Matcher:
            resolved: list[Pieces] = []
            for v, t in zip(values, templates):
                if t is None:
                    resolved.append(((v, False),))
                else:
                    r = resolve(t, ctx)
                    if r is not None:  # a variable with no value matches nothing
                        resolved.append(r)
            texts = tuple(render(p) for p in resolved)
            return _matcher(family, texts, tuple(resolved))

    else:
        static = _matcher(family, values)

        def matcher_for(ctx: Context) -> Matcher:
            assert static is not None
            return static

    timed = lkey in TIME_KEYS

    def test(ctx: Context) -> bool:
        raw = context_time_value(ctx, lkey) if timed else ctx.get(lkey)
        if raw is None or raw == ():
            if if_exists:
                return True
            if qualifier == "all":
                return True
            if qualifier == "any":
                return False
            return negated
        match = static if static is not None else matcher_for(ctx)
        if isinstance(raw, str):
            r = match(raw)
            if r is None:
                return False
            return r != negated
        if qualifier == "all":
            for v in raw:
                r = match(v)
                if r is None or r == negated:
                    return False
            return True
        if qualifier == "any" or not negated:
            for v in raw:
                r = match(v)
                if r is not None and r != negated:
                    return True
            return False
        # negated operator on a multivalued key with no set operator: no value may match
        for v in raw:
            r = match(v)
            if r is None or r:
                return False
        return True

    return test
