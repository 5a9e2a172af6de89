"""AWS Query protocol requests -> typed input, driven by the botocore model.

The inverse of botocore's QuerySerializer: it walks the operation's input
shape, reading ``Name``, ``Name.member.N``, ``Name.entry.N.key`` and
``Name.entry.N.value`` from the flat form, converting scalars to the shape's
type and checking the model's constraints (required, min/max length or
value, pattern, enum). Every failure is collected; AWS answers with them all
in one ValidationError. Unknown parameters are ignored, as AWS does.

Two constraints AWS enforces that botocore's model does not state are checked
here too, for every operation alike: a string holding a character XML 1.0
cannot carry (NUL and the other C0 controls but tab, LF and CR; U+FFFE,
U+FFFF) is refused as AWS's own XML-character patterns refuse it (stored, it
could never be read back as sent, and PostgreSQL's text cannot hold a NUL);
and the patterns AWS is seen to apply to members the model leaves unpatterned
(``SERVER_PATTERNS``).
"""
from __future__ import annotations

import base64
import re
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import unquote, unquote_plus

from botocore.model import OperationModel, ServiceModel, Shape

from iamroles.errors import InvalidAction, MissingAction, ValidationError

from .redact import is_sensitive

__all__ = ["SERVER_PATTERNS", "XML_CHARS", "parse_request", "read_form", "repeated_query_name", "string_pattern"]

# The characters XML 1.0 can carry (its Char production), in the words of the patterns AWS's models use for
# free text (botocore's models of other services carry it, e.g. [\u0009\u000a\u000d\u0020-\uD7FF\uE000-\uFFFD]*).
XML_CHARS = r"[\u0009\u000A\u000D\u0020-\uD7FF\uE000-\uFFFD\u10000-\u10FFFF]*"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

# Patterns IAM applies to members that botocore's model leaves without one, by shape name, with where AWS's
# answer was seen. CreatePolicy's Description: a newline is refused with "'description' failed to satisfy
# constraint: Member must satisfy regular expression pattern: [\p{L}\p{M}\p{Z}\p{S}\p{N}\p{P}]*"
# (https://github.com/aws-cloudformation/cfn-lint/issues/345).
SERVER_PATTERNS: dict[str, str] = {
    "policyDescriptionType": r"[\p{L}\p{M}\p{Z}\p{S}\p{N}\p{P}]*",
}


class _Failures:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, value: Any, where: str, constraint: str, hidden: bool = False) -> None:
        """``hidden``: the member is sensitive in the model, and AWS names where it failed without quoting
        it: "Value at 'password' failed to satisfy constraint: ..." (as Directory Service answered in
        https://github.com/neillturner/terraform-aws-simplead/issues/1)."""
        if value is None:
            self.items.append(f"Value null at '{where}' failed to satisfy constraint: {constraint}")
        elif hidden:
            self.items.append(f"Value at '{where}' failed to satisfy constraint: {constraint}")
        else:
            self.items.append(f"Value '{value}' at '{where}' failed to satisfy constraint: {constraint}")


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


# The models' patterns are Java regexes. Java's \w, \d and \s are ASCII-only
# (no UNICODE_CHARACTER_CLASS), hence re.ASCII; the Unicode classes IAM and STS
# use (\p{L}, \p{Z}, \p{N}; \p{M}, \p{S}, \p{P} in SERVER_PATTERNS) appear
# inside character classes and are expanded to the code-point ranges of those
# Unicode categories.
_CATEGORIES = "LMNPSZ"
# Above U+3FFFF only plane 14's variation selectors (U+E0100-U+E01EF, Mn) are in any of those categories.
_CODE_POINTS = (range(0x40000), range(0xE0000, 0xE0200))


@lru_cache(maxsize=1)
def _unicode_classes() -> dict[str, str]:
    """``{"L": ranges, "M": ranges, ...}`` for use inside ``[...]``."""
    ranges: dict[str, list[str]] = {cat: [] for cat in _CATEGORIES}
    for span in _CODE_POINTS:
        run, run_start = "", span.start
        for cp in (*span, span.stop):
            major = unicodedata.category(chr(cp))[0] if cp < span.stop else ""
            if major != run:
                if run in ranges:
                    end = cp - 1
                    ranges[run].append(f"\\U{run_start:08x}" if run_start == end else f"\\U{run_start:08x}-\\U{end:08x}")
                run, run_start = major, cp
    return {cat: "".join(parts) for cat, parts in ranges.items()}


@lru_cache(maxsize=1024)
def _pattern(java: str) -> re.Pattern[str] | None:
    text = java
    if r"\p{" in text:
        classes = _unicode_classes()
        for cat in _CATEGORIES:
            text = text.replace(rf"\p{{{cat}}}", classes[cat])
    try:
        return re.compile(text, re.ASCII)
    except re.error:
        return None


def string_pattern(shape: Shape) -> str | None:
    """The pattern a string member must match: the model's, else the one AWS applies (``SERVER_PATTERNS``)."""
    return shape.metadata.get("pattern") or SERVER_PATTERNS.get(shape.name)


def _check_string(value: str, shape: Shape, where: str, fail: _Failures, hidden: bool) -> None:
    meta = shape.metadata
    if "min" in meta and len(value) < meta["min"]:
        fail.add(value, where, f"Member must have length greater than or equal to {meta['min']}", hidden)
    if "max" in meta and len(value) > meta["max"]:
        fail.add(value, where, f"Member must have length less than or equal to {meta['max']}", hidden)
    pattern = string_pattern(shape)
    rx = _pattern(pattern) if pattern is not None else None
    enum = getattr(shape, "enum", None)
    if rx is not None and rx.fullmatch(value) is None:
        fail.add(value, where, f"Member must satisfy regular expression pattern: {pattern}", hidden)
    elif not enum and _NOT_XML.search(value) is not None:  # (an enum's failure says it all)
        fail.add(value, where, f"Member must satisfy regular expression pattern: {XML_CHARS}", hidden)
    if enum and value not in enum:
        fail.add(value, where, f"Member must satisfy enum value set: [{', '.join(enum)}]", hidden)


def _scalar(raw: str, shape: Shape, where: str, fail: _Failures, hidden: bool) -> Any:
    t = shape.type_name
    if t == "string":
        _check_string(raw, shape, where, fail, hidden)
        return raw
    if t in ("integer", "long"):
        try:
            value = int(raw)
        except ValueError:
            fail.add(raw, where, "Member must be a number", hidden)
            return None
        meta = shape.metadata
        if "min" in meta and value < meta["min"]:
            fail.add(raw, where, f"Member must have value greater than or equal to {meta['min']}", hidden)
        if "max" in meta and value > meta["max"]:
            fail.add(raw, where, f"Member must have value less than or equal to {meta['max']}", hidden)
        return value
    if t == "boolean":
        low = raw.lower()
        if low not in ("true", "false"):
            fail.add(raw, where, "Member must be a boolean", hidden)
            return None
        return low == "true"
    if t in ("double", "float"):
        try:
            return float(raw)
        except ValueError:
            fail.add(raw, where, "Member must be a number", hidden)
            return None
    if t == "timestamp":
        try:
            if raw.replace(".", "", 1).isdigit():
                return datetime.fromtimestamp(float(raw), UTC)
            when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            return when if when.tzinfo else when.replace(tzinfo=UTC)
        except ValueError:
            fail.add(raw, where, "Member must be a timestamp", hidden)
            return None
    if t == "blob":
        try:
            return base64.b64decode(raw, validate=True)
        except ValueError:
            fail.add(raw, where, "Member must be base64", hidden)
            return None
    return raw


class _Form(dict[str, str]):
    """The flat parameters, with every dotted prefix of their names (``A.member.1.Key`` gives ``A``,
    ``A.member``, ``A.member.1``) indexed once, so that finding list members costs the same for the
    ten-thousandth as for the first (a scan of every name per member made long lists quadratic)."""

    __slots__ = ("prefixes",)

    def __init__(self, params: Mapping[str, str]) -> None:
        super().__init__(params)
        prefixes: set[str] = set()
        for name in params:
            dot = name.find(".")
            while dot != -1:
                prefixes.add(name[:dot])
                dot = name.find(".", dot + 1)
        self.prefixes = prefixes


def _has_prefix(params: _Form, prefix: str) -> bool:
    return prefix in params or prefix in params.prefixes


def _value(params: _Form, prefix: str, shape: Shape, where: str, fail: _Failures, hidden: bool = False) -> Any:
    """``hidden``: the value is, or is within, a member the model marks sensitive: never quoted."""
    hidden = hidden or is_sensitive(shape)
    t = shape.type_name
    if t == "structure":
        return _structure(params, prefix + ".", shape, where + ".", fail, hidden)
    if t == "list":
        member = shape.member
        if shape.serialization.get("flattened"):
            base = prefix
        else:
            base = f"{prefix}.{member.serialization.get('name', 'member')}"
        items: list[Any] = []
        i = 1
        limit = shape.metadata.get("max")
        while _has_prefix(params, f"{base}.{i}"):
            # members past the list's maximum are counted, not decoded (the answer is the length error)
            items.append(_value(params, f"{base}.{i}", member, f"{where}.{i}.member", fail, hidden)
                         if limit is None or i <= limit else None)
            i += 1
        if prefix in params and params[prefix] == "" and not items:
            items = []
        meta = shape.metadata
        if "min" in meta and len(items) < meta["min"]:
            fail.add(None if not items else items, where, f"Member must have length greater than or equal to {meta['min']}", hidden)
        if "max" in meta and len(items) > meta["max"]:
            # the list is not quoted: it may be long, and its members may be secrets
            fail.items.append(f"Value at '{where}' failed to satisfy constraint: Member must have length less than or equal to {meta['max']}")
        return items
    if t == "map":
        base = prefix if shape.serialization.get("flattened") else f"{prefix}.entry"
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        out: dict[Any, Any] = {}
        i = 1
        while _has_prefix(params, f"{base}.{i}"):
            k = _value(params, f"{base}.{i}.{key_name}", shape.key, f"{where}.{i}.key", fail, hidden)
            out[k] = _value(params, f"{base}.{i}.{value_name}", shape.value, f"{where}.{i}.value", fail, hidden)
            i += 1
        return out
    raw = params.get(prefix)
    if raw is None:
        return None
    return _scalar(raw, shape, where, fail, hidden)


def _structure(params: _Form, prefix: str, shape: Shape, where: str, fail: _Failures,
               hidden: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    required = set(shape.required_members)
    for name, member in shape.members.items():
        key = prefix + member.serialization.get("name", name)
        here = where + _camel(name)
        if member.type_name in ("structure", "list", "map"):
            if _has_prefix(params, key):
                out[name] = _value(params, key, member, here, fail, hidden)
            elif name in required:
                fail.add(None, here, "Member must not be null")
        elif key in params:
            value = _value(params, key, member, here, fail, hidden)
            if value is not None:
                out[name] = value
        elif name in required:
            fail.add(None, here, "Member must not be null")
    return out


def read_form(query: str, body: bytes, content_type: str = "") -> dict[str, str]:
    """The flat parameters of a Query request: the query string's, then a form body's (which win).

    The query string is decoded exactly as SigV4 canonicalises it (``auth.sigv4``): ``%XY`` escapes only, a
    ``+`` is a plus sign (RFC 3986), so the value read is the value signed: a presigned URL whose ``%2B`` is
    rewritten to ``+`` in transit still reads ``+``. A form body (covered by the signed payload hash) is
    decoded as HTML forms are: ``+`` is a space. Linear in the size of the request.
    """
    params: dict[str, str] = {}
    _pairs(query, unquote, params)
    if body and (not content_type or content_type.startswith("application/x-www-form-urlencoded")):
        _pairs(body.decode("utf-8", "replace"), unquote_plus, params)
    return params


def repeated_query_name(query: str) -> str | None:
    """A parameter name the query string gives more than once (decoded as :func:`read_form` decodes it), else None.

    SigV4 sorts a query's pairs (names, then values: its suite's get-vanilla-query-order-value), so for a name
    given twice the order of its values is not signed, and :func:`read_form` keeps the last: a presigned URL's two
    values could be swapped in transit. No Query operation has a use for it."""
    seen: set[str] = set()
    for item in query.split("&"):
        if item:
            name = unquote(item.partition("=")[0], errors="replace")
            if name in seen:
                return name
            seen.add(name)
    return None


def _pairs(text: str, decode: Any, into: dict[str, str]) -> None:
    for item in text.split("&"):
        if item:
            name, _, value = item.partition("=")
            into[decode(name, errors="replace")] = decode(value, errors="replace")


def parse_request(params: Mapping[str, str], model: ServiceModel) -> tuple[OperationModel, dict[str, Any]]:
    """The operation and its input, or the AWS error for the request."""
    action = params.get("Action")
    if not action:
        raise MissingAction("Missing Action")
    if action not in model.operation_names:
        raise InvalidAction(f"Could not find operation {action} for version {model.api_version}")
    op = model.operation_model(action)
    if op.input_shape is None:
        return op, {}
    fail = _Failures()
    result = _structure(params if isinstance(params, _Form) else _Form(params), "", op.input_shape, "", fail)
    if fail.items:
        n = len(fail.items)
        raise ValidationError(f"{n} validation error{'s' if n > 1 else ''} detected: " + "; ".join(fail.items))
    return op, result
