"""Policy variables: ``${aws:username}``, ``${aws:PrincipalTag/team, 'none'}``,
``${*}``, ``${?}``, ``${$}``.

Only Version 2012-10-17 documents have variables; elsewhere ``${...}`` is
literal text. A template is split once into parts: pattern text, literal
text and variables. At evaluation a variable takes the request's single
value for its key (key names are case-insensitive) or its default; with
neither the template has no value, and the element holding it matches
nothing. A multivalued key has no single value and counts as missing.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from .request import TIME_KEYS, context_time_value
from .wildcard import Pieces

__all__ = ["Var", "Template", "split_template", "resolve", "Context"]

Context = Mapping[str, "str | tuple[str, ...]"]

_VAR = re.compile(r"\$\{([^}]*)\}")
_DEFAULT = re.compile(r"\s*([^,\s]+)\s*,\s*'((?:[^']|'')*)'\s*\Z")
_ESCAPES = {"*": "*", "?": "?", "$": "$"}


@dataclass(frozen=True, slots=True)
class Var:
    key: str  # lower-cased context key
    default: str | None


# A part is (text, literal) or a Var.
Template = tuple["tuple[str, bool] | Var", ...]


def split_template(text: str) -> Template | None:
    """The parts of ``text`` if it holds ``${...}``, else ``None``."""
    if "${" not in text or _VAR.search(text) is None:
        return None
    parts: list[tuple[str, bool] | Var] = []
    pos = 0
    for m in _VAR.finditer(text):
        if m.start() > pos:
            parts.append((text[pos : m.start()], False))
        body = m.group(1)
        if body.strip() in _ESCAPES:
            parts.append((_ESCAPES[body.strip()], True))
        else:
            d = _DEFAULT.match(body)
            if d:
                parts.append(Var(d.group(1).lower(), d.group(2).replace("''", "'")))
            else:
                parts.append(Var(body.strip().lower(), None))
        pos = m.end()
    if pos < len(text):
        parts.append((text[pos:], False))
    return tuple(parts)


def resolve(template: Template, ctx: Context) -> Pieces | None:
    """The template as pattern pieces, or ``None`` when a variable has no value."""
    out: list[tuple[str, bool]] = []
    for part in template:
        if isinstance(part, Var):
            value = context_time_value(ctx, part.key) if part.key in TIME_KEYS else ctx.get(part.key)
            if isinstance(value, str):
                out.append((value, True))
            elif part.default is not None:
                out.append((part.default, True))
            else:
                return None
        else:
            out.append(part)
    return tuple(out)


def render(pieces: Pieces) -> str:
    """The plain text of resolved pieces (for exact comparisons)."""
    return "".join(text for text, _ in pieces)
