"""Helpers for the protocol round-trip tests: values generated from botocore's shapes, botocore's own
Query serializer and XML parser, and the normalisations that say what each side of the wire keeps.

The generator is deterministic. It walks a shape and builds a value that satisfies the model's
constraints (required members, min/max length, patterns, enums, integer ranges, list sizes), in one
of several variants:

``full``     every member, strings of moderate length drawn from a pool of awkward characters
             (``& = + % ? # < >``, spaces, tabs, non-ASCII letters) where the pattern allows them;
``minimal``  required members only, strings of their minimum length, lists of their minimum size;
``max``      every member, strings of their maximum length, integers at their maximum;
``empty``    every member, but every list and map that may be empty is empty.

Strings whose pattern is a single repeated character class (most of IAM's and STS's) are built
from the pool characters the class admits; other patterns start from a seed that matches
(``/path/``, ``123456789012``, ``https://...``, ``v1``, ``o-...``) and are stretched to length by
repeating a character where the pattern allows it.

``violations(op)`` breaks an operation's ``full`` input at one node at a time (a required member
left out, a string or list one too long or too short, a pattern or enum mismatch, an integer just
out of range) and says which failures AWS's ValidationError names for it.
"""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from typing import Any
from urllib.parse import parse_qsl

from botocore.awsrequest import AWSRequest
from botocore.model import OperationModel, Shape
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from botocore.validate import ParamValidator

from iamroles.protocol import service_model
from iamroles.protocol.query import XML_CHARS, string_pattern

VARIANTS = ("full", "minimal", "max", "empty")

# ``max`` strings stop here (a SAML metadata document may have 10,000,000 characters; IAM's
# policy documents 131,072, which fits).
MAX_STRING = 131072

# Characters worth sending through the Query encoding and the XML escaping: the form delimiters
# (& = + % ?), XML's specials (< > & " '), whitespace (CR included: XML parsers read a bare CR as
# LF unless it is sent as a reference), non-ASCII letters, and characters of the Unicode classes
# the tag patterns admit beyond any ASCII or Latin-1 shortcut: \u00df \u03a9 \u4e2d and a
# supplementary-plane letter U+20000 (\p{L}), an Arabic-Indic digit \u0663 (\p{N}), no-break and
# ideographic spaces \u00a0 \u3000 (\p{Z}).
POOL = (
    "aZ09_+=,.@-/: &%?#<>\"'\u00e9\u00ff\u4e2d~!*()[]{}$;|^`\\\t\n\r"
    "\u00df\u03a9\U00020000\u0663\u00a0\u3000"
)

# Seeds for the patterns that are not one repeated character class.
SEEDS = (
    "a", "1", "/", "/path/", "123456789012", "https://example.com/callback", "v1", "v1.2",
    "o-abcdefghij", "o-abcdefghij/r-abcd/", "p-abcdefgh", "abc",
)

# The models' patterns are Java regexes: \w, \d, \s are ASCII. Here the \p{L} \p{Z} \p{N} classes
# are spelled out for ASCII, the pool's characters and the characters ``BAD_CHARS`` tries, which is
# all this oracle is asked about (the parser's own translation covers all of Unicode, and
# test_unicode_classes checks it against unicodedata).
_JAVA_CLASSES = {
    r"\p{L}": "a-zA-Z\u00e9\u00ff\u00df\u03a9\u4e2d\U00020000",
    r"\p{Z}": " \u00a0\u3000",
    r"\p{N}": "0-9\u0663",
    # (\p{M}, \p{S}, \p{P}: only in SERVER_PATTERNS' policy descriptions; the pool has no mark)
    r"\p{M}": "\u0301",
    r"\p{S}": re.escape("+<=>^`|~$") + "\u00d7\U0001F600",
    r"\p{P}": re.escape("!\"#%&'()*,-./:;?@[\\]_{}"),
}


@cache
def java_regex(pattern: str) -> re.Pattern[str]:
    text = pattern
    for java, py in _JAVA_CLASSES.items():
        text = text.replace(java, py)
    return re.compile(text, re.ASCII)


_CLASS_ONLY = re.compile(r"\^?(\[(?:\\.|[^\]\\])+\])([+*])\$?")


def all_operations() -> list[tuple[str, str]]:
    return [(svc, name) for svc in ("iam", "sts") for name in service_model(svc).operation_names]


def operation(svc: str, name: str) -> OperationModel:
    return service_model(svc).operation_model(name)


# -- the generator ------------------------------------------------------------------------------


class Generator:
    def __init__(self, variant: str, salt: int = 0) -> None:
        assert variant in VARIANTS
        self.variant = variant
        self.salt = salt

    def _next(self) -> int:
        self.salt += 1
        return self.salt

    def value(self, shape: Shape, stack: tuple[str, ...] = ()) -> Any:
        return getattr(self, f"_{shape.type_name}")(shape, stack)

    # structures, lists, maps

    def _structure(self, shape: Shape, stack: tuple[str, ...]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        required = set(shape.required_members)
        if shape.metadata.get("union"):
            # a tagged union: exactly one member is set (which one turns with the salt)
            names = list(shape.members)
            name = names[self._next() % len(names)]
            return {name: self.value(shape.members[name], stack + (shape.name,))}
        for name, member in shape.members.items():
            if self.variant == "minimal" and name not in required:
                continue
            if member.name in stack and name not in required:
                continue  # a recursive shape: stop here
            if member.type_name == "map" and name in required:
                # the Query protocol sends an empty map as nothing at all: a required one needs an entry
                out[name] = self._map(member, stack + (shape.name,), minimum=1)
                continue
            out[name] = self.value(member, stack + (shape.name,))
        if not out and shape.members and self.variant == "minimal":
            # The Query protocol cannot carry an empty structure: give it its first member.
            name, member = next(iter(shape.members.items()))
            out[name] = self.value(member, stack + (shape.name,))
        return out

    def _size(self, shape: Shape) -> int:
        lo = shape.metadata.get("min", 0)
        hi = shape.metadata.get("max", 1 << 30)
        want = {"full": 2, "minimal": lo, "max": 3, "empty": 0}[self.variant]
        return max(lo, min(hi, want))

    def _list(self, shape: Shape, stack: tuple[str, ...]) -> list[Any]:
        return [self.value(shape.member, stack) for _ in range(self._size(shape))]

    def _map(self, shape: Shape, stack: tuple[str, ...], minimum: int = 0) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        n = max(minimum, self._size(shape))
        for _ in range(n * 8):
            if len(out) == n:
                break
            out[self.value(shape.key, stack)] = self.value(shape.value, stack)
        return out

    # scalars

    def _string(self, shape: Shape, stack: tuple[str, ...]) -> str:
        salt = self._next()
        enum = shape.enum
        if enum:
            return {"minimal": enum[0], "max": enum[-1]}.get(self.variant, enum[salt % len(enum)])
        lo = shape.metadata.get("min", 0)
        hi = shape.metadata.get("max")
        pattern = string_pattern(shape)
        if self.variant == "minimal":
            n = lo
        elif self.variant == "max":
            n = min(hi, MAX_STRING) if hi is not None else 300
        else:
            n = 12 if hi is None else max(lo, min(hi, 12))
        if pattern is None:
            return _cycle(POOL, n, salt)
        m = _CLASS_ONLY.fullmatch(pattern)
        if m:
            rx = java_regex(m.group(1))
            chars = "".join(c for c in POOL if rx.fullmatch(c))
            assert chars, pattern
            n = max(n, 1 if m.group(2) == "+" else 0)
            return _cycle(chars, n, salt)
        return _from_seed(pattern, lo, n, hi)

    def _integer(self, shape: Shape, stack: tuple[str, ...]) -> int:
        lo = shape.metadata.get("min")
        hi = shape.metadata.get("max")
        if self.variant == "minimal":
            return lo if lo is not None else 0
        if self.variant == "max":
            return hi if hi is not None else (2**63 - 1 if shape.type_name == "long" else 2**31 - 1)
        lo = 0 if lo is None else lo
        hi = lo + 1000 if hi is None else hi
        return lo + (self._next() * 7919) % (hi - lo + 1)

    _long = _integer

    def _boolean(self, shape: Shape, stack: tuple[str, ...]) -> bool:
        return {"minimal": False, "max": True}.get(self.variant, self._next() % 2 == 0)

    def _timestamp(self, shape: Shape, stack: tuple[str, ...]) -> datetime:
        base = datetime(2024, 2, 29, 23, 59, 58, tzinfo=UTC)
        if self.variant == "minimal":
            return base  # whole seconds
        if self.variant == "max":
            # another zone, and microseconds the wire's milliseconds cut off
            india = timezone(timedelta(hours=5, minutes=30))
            return (base + timedelta(days=self._next(), microseconds=999999)).astimezone(india)
        return base + timedelta(days=self._next(), milliseconds=123)

    def _blob(self, shape: Shape, stack: tuple[str, ...]) -> bytes:
        return bytes(range(256)) if self.variant == "max" else b"\x00binary\xff" + bytes([self._next() % 256])

    def _double(self, shape: Shape, stack: tuple[str, ...]) -> float:
        return 0.0 if self.variant == "minimal" else 1.5 + self._next()

    _float = _double


def _cycle(chars: str, n: int, salt: int) -> str:
    if not chars or n <= 0:
        return ""
    start = salt % len(chars)
    rotated = chars[start:] + chars[:start]
    return (rotated * (n // len(rotated) + 1))[:n]


@cache
def _from_seed(pattern: str, lo: int, n: int, hi: int | None) -> str:
    rx = java_regex(pattern)
    for seed in SEEDS:
        if rx.fullmatch(seed) and len(seed) <= (hi if hi is not None else len(seed)):
            target = max(n, lo, len(seed))
            if hi is not None:
                target = min(target, hi)
            if target == len(seed):
                return seed
            for pos in range(len(seed), -1, -1):
                for c in "a0":
                    s = seed[:pos] + c * (target - len(seed)) + seed[pos:]
                    if rx.fullmatch(s):
                        return s
            if len(seed) >= lo:
                return seed
    raise AssertionError(f"no value for pattern {pattern!r} of length {lo}..{hi}")


# -- botocore's side ----------------------------------------------------------------------------

_VALIDATOR = ParamValidator()


def botocore_validates(params: dict[str, Any], op: OperationModel) -> None:
    """botocore's own client-side validation (types, required, min length/size, ranges)."""
    if op.input_shape is None:
        return
    report = _VALIDATOR.validate(params, op.input_shape)
    assert not report.has_errors(), report.generate_report()


def botocore_form(params: dict[str, Any], op: OperationModel, validate: bool = True) -> dict[str, str]:
    """The request as botocore puts it on the wire (QuerySerializer, then AWSRequest's form
    encoding), read back the way the server reads a body: ``parse_qsl(keep_blank_values=True)``.
    ``validate=False`` serialises what botocore's client would refuse to send (the negative tests:
    another SDK, or a hand-made request, may send it)."""
    serialized = create_serializer("query", include_validation=validate).serialize_to_request(params, op)
    prepared = AWSRequest(method="POST", url="https://iam.example.test/", data=serialized["body"],
                          headers=serialized["headers"]).prepare()
    body = prepared.body
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    return dict(parse_qsl(text, keep_blank_values=True))


def botocore_parse(body: bytes, op: OperationModel, status: int = 200) -> dict[str, Any]:
    return create_parser("query").parse({"body": body, "headers": {}, "status_code": status}, op.output_shape)


# -- what each side of the wire keeps -----------------------------------------------------------

ABSENT = object()


def sent(value: Any, shape: Shape) -> Any:
    """What a Query request carries of ``value``: botocore writes nothing for None, empty maps and
    structures with nothing in them; an empty list is written as ``Name=``."""
    if value is None:
        return ABSENT
    t = shape.type_name
    if t == "structure":
        out = {}
        for name, v in value.items():
            s = sent(v, shape.members[name])
            if s is not ABSENT:
                out[name] = s
        return out or ABSENT
    if t == "list":
        items = [sent(v, shape.member) for v in value]
        if items and all(i is ABSENT for i in items):
            return ABSENT
        return items
    if t == "map":
        entries = {sent(k, shape.key): sent(v, shape.value) for k, v in value.items()}
        return entries or ABSENT
    if t == "timestamp":
        return value.astimezone(UTC)
    if t == "blob" and isinstance(value, str):
        return value.encode()
    return value


def request_expected(params: dict[str, Any], op: OperationModel) -> dict[str, Any]:
    if op.input_shape is None:
        return {}
    out = sent(params, op.input_shape)
    return {} if out is ABSENT else out


# XML 1.0 can carry neither these characters nor character references to them (botocore's parser
# refuses the whole document): iamroles sends U+FFFD in their place.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_kept(text: str) -> str:
    return NOT_XML.sub("\ufffd", text)


def received(value: Any, shape: Shape) -> Any:
    """What botocore's XML parser gives back for ``value`` rendered by iamroles: None members are
    left out, empty lists, maps and structures stay (as empty elements), timestamps come back
    timezone-aware with millisecond precision (truncated), characters XML cannot carry as U+FFFD."""
    t = shape.type_name
    if t == "structure":
        return {name: received(v, shape.members[name]) for name, v in value.items() if v is not None}
    if t == "list":
        return [received(v, shape.member) for v in value]
    if t == "map":
        return {received(k, shape.key): received(v, shape.value) for k, v in value.items()}
    if t == "timestamp":
        if isinstance(value, str):
            return value
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(microsecond=value.microsecond // 1000 * 1000)
    if t == "blob" and isinstance(value, str):
        return value.encode()
    if t == "string":
        return xml_kept(value)
    return value


# -- walking a value along its shape ------------------------------------------------------------


def camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def nodes(value: Any, shape: Shape, where: str = "", path: tuple[Any, ...] = ()) -> Any:
    """Every ``(path, where, shape, value)`` in a generated value, depth first. ``path`` indexes
    into the value (member names, list positions, ``("key"|"value", map key)``); ``where`` is the
    name AWS's validation messages give it: members in camelCase joined by dots, list items as
    ``tags.1.member``, map entries as ``name.1.key`` / ``name.1.value``."""
    yield path, where, shape, value
    t = shape.type_name
    if t == "structure":
        for name, v in value.items():
            yield from nodes(v, shape.members[name], f"{where}.{camel(name)}" if where else camel(name), path + (name,))
    elif t == "list":
        for i, v in enumerate(value):
            yield from nodes(v, shape.member, f"{where}.{i + 1}.member", path + (i,))
    elif t == "map":
        for i, (k, v) in enumerate(value.items()):
            yield from nodes(k, shape.key, f"{where}.{i + 1}.key", path + (("key", k),))
            yield from nodes(v, shape.value, f"{where}.{i + 1}.value", path + (("value", k),))


def replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    """``value`` with the node at ``path`` replaced by ``new`` (``ABSENT``: removed); copies only
    along the path."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict) and isinstance(head, tuple):  # a map entry
        which, key = head
        out = {}
        for k, v in value.items():
            if k != key:
                out[k] = v
            elif which == "key":
                out[replaced(k, rest, new)] = v
            else:
                out[k] = replaced(v, rest, new)
        return out
    if isinstance(value, dict):
        out = dict(value)
        inner = replaced(value[head], rest, new)
        if inner is ABSENT:
            del out[head]
        else:
            out[head] = inner
        return out
    out_list = list(value)
    out_list[head] = replaced(value[head], rest, new)
    return out_list


# -- values that break the model ----------------------------------------------------------------

# What a pattern mismatch is tried with: form delimiters and XML specials, non-ASCII letters (Java's
# \w is ASCII), characters outside \p{L}\p{Z}\p{N} that a loose translation admits (a tab is \s but
# not \p{Z}; U+00D7 is above U+00C0 but a symbol), C0 controls XML cannot carry, and a
# supplementary-plane symbol.
BAD_CHARS = ("!", "&", "<", "\u00e9", "\u00d7", "\t", "\x00", "\x01", "\U0001F600", " ", "a", "/")

KINDS = ("required", "too_long", "too_short", "pattern", "enum", "range")


def string_failures(value: str, shape: Shape, where: str) -> list[str]:
    """What AWS's validation says of ``value`` for a string member, by the model (the oracle:
    lengths, ``java_regex``, the enum)."""
    meta, out = shape.metadata, []
    # a member the model marks sensitive (or an MFA one-time code, protocol/redact.py) is named, never quoted
    # (protocol/query.py cites AWS's answer)
    shown = "" if meta.get("sensitive") or shape.name in ("tokenCodeType", "authenticationCodeType") else f" '{value}'"
    head = f"Value{shown} at '{where}' failed to satisfy constraint: Member must "
    if len(value) < meta.get("min", 0):
        out.append(head + f"have length greater than or equal to {meta['min']}")
    if "max" in meta and len(value) > meta["max"]:
        out.append(head + f"have length less than or equal to {meta['max']}")
    pattern = string_pattern(shape)
    if pattern is not None and not java_regex(pattern).fullmatch(value):
        out.append(head + f"satisfy regular expression pattern: {pattern}")
    elif not shape.enum and NOT_XML.search(value):
        out.append(head + f"satisfy regular expression pattern: {XML_CHARS}")
    if shape.enum and value not in shape.enum:
        out.append(head + f"satisfy enum value set: [{', '.join(shape.enum)}]")
    return out


def string_of_length(shape: Shape, n: int, salt: int = 0) -> str:
    """A string of ``n`` characters that satisfies the shape's pattern (ignoring its length
    limits) where one exists (``\\d{12}`` has none of 13), else any string of ``n`` characters."""
    pattern = string_pattern(shape)
    if pattern is None:
        return _cycle("aZ09_+=,.@-", n, salt)
    m = _CLASS_ONLY.fullmatch(pattern)
    if m:
        rx = java_regex(m.group(1))
        return _cycle("".join(c for c in POOL if rx.fullmatch(c)), n, salt)
    try:
        text = _from_seed(pattern, 0, n, n)
    except AssertionError:
        text = ""
    return text if len(text) == n else _cycle("a0", n, salt)


class Violation:
    """A request valid but for one thing, and the failures AWS's validation names for it."""

    def __init__(self, kind: str, where: str, params: dict[str, Any], failures: list[str]) -> None:
        self.kind, self.where, self.params, self.failures = kind, where, params, failures

    def __repr__(self) -> str:
        return f"<{self.kind} at {self.where}>"


def violations(op: OperationModel) -> list[Violation]:
    """Every way to break the operation's ``full`` input at one node: each required member
    removed, each bounded string and list one too long and one too short, each patterned string
    with one character of ``BAD_CHARS`` its pattern refuses, each enum given a value outside it,
    each bounded integer just outside its range."""
    if op.input_shape is None:
        return []
    params = Generator("full").value(op.input_shape)
    out: list[Violation] = []

    def add(kind: str, path: tuple[Any, ...], where: str, new: Any, failures: list[str]) -> None:
        out.append(Violation(kind, where, replaced(params, path, new), failures))

    for path, where, shape, value in nodes(params, op.input_shape):
        t, meta = shape.type_name, shape.metadata
        if t == "structure":
            for name in shape.required_members:
                if name in value and (len(value) > 1 or not path):  # (an emptied structure is not sent)
                    here = f"{where}.{camel(name)}" if where else camel(name)
                    add("required", path + (name,), here, ABSENT,
                        [f"Value null at '{here}' failed to satisfy constraint: Member must not be null"])
        elif t == "string" and shape.enum:
            bad = "NotAnEnumValue"
            add("enum", path, where, bad, string_failures(bad, shape, where))
        elif t == "string":
            if "max" in meta and meta["max"] < MAX_STRING:
                bad = string_of_length(shape, meta["max"] + 1)
                add("too_long", path, where, bad, string_failures(bad, shape, where))
            if meta.get("min", 0) > 0:
                bad = string_of_length(shape, meta["min"] - 1) if meta["min"] > 1 else ""
                add("too_short", path, where, bad, string_failures(bad, shape, where))
            if value:
                # (a string without a pattern still may not hold what XML cannot carry: BAD_CHARS' NUL and U+0001)
                for c in BAD_CHARS:
                    bad = value[:-1] + c
                    failures = string_failures(bad, shape, where)
                    if failures:
                        add("pattern", path, where, bad, failures)
        elif t in ("integer", "long"):
            for bound, n, words in (("min", -1, "greater"), ("max", 1, "less")):
                if bound in meta:
                    bad = meta[bound] + n
                    add("range", path, where, bad, [f"Value '{bad}' at '{where}' failed to satisfy constraint: "
                                                     f"Member must have value {words} than or equal to {meta[bound]}"])
        elif t == "list" and value:
            # (the parser shows a list's value its own way: the failures here are what follows it)
            if "max" in meta and meta["max"] < 1000:
                add("too_long", path, where, [value[0]] * (meta["max"] + 1),
                    [f" at '{where}' failed to satisfy constraint: Member must have length less than or equal to {meta['max']}"])
            if meta.get("min", 0) > 0:
                add("too_short", path, where, value[: meta["min"] - 1],
                    [f" at '{where}' failed to satisfy constraint: Member must have length greater than or equal to {meta['min']}"])
    return out
