"""Policy patterns as z3 regular expressions, for the proofs (:mod:`iamroles.analysis.proofs`): wildcards in actions,
resources and condition values read as :func:`iamroles.policy.wildcard.pattern_regex` reads them (same modes, same
segment rules, through :func:`iamroles.policy.wildcard.pattern_segments`), and case-insensitive text as ``str.lower``
folds it."""
from __future__ import annotations

from collections.abc import Sequence

import z3

from ..policy.wildcard import Pieces, pattern_segments

__all__ = ["Unsupported", "any_char", "chars_re", "folded", "literal", "pattern_re"]

MAX_CHAR = 0x2FFFF  # z3's largest character; a policy literal beyond it is not encoded

# characters whose lower case is each ASCII letter (str.lower, as the evaluator folds): the letter, its capital,
# and KELVIN SIGN for k; a test enumerates Unicode to hold this table to Python's
_FOLDS: dict[str, str] = {c: c + c.upper() for c in "abcdefghijklmnopqrstuvwxyz"}
_FOLDS["k"] += "\u212a"


class Unsupported(Exception):
    """A construct the encoding does not model exactly (it becomes a free boolean)."""


def folded(text: str) -> z3.ReRef:
    """Strings whose ``str.lower()`` is ``text.lower()`` (ASCII text only; others are not encoded)."""
    low = text.lower()
    if not low.isascii():
        raise Unsupported("case-insensitive comparison with non-ASCII text")
    parts = [z3.Union(*(z3.Re(z3.StringVal(x)) for x in _FOLDS[c])) if c in _FOLDS else z3.Re(z3.StringVal(c)) for c in low]
    if not parts:
        return z3.Re(z3.StringVal(""))
    return parts[0] if len(parts) == 1 else z3.Concat(*parts)


def _re_sort() -> z3.ReSortRef:
    return z3.ReSort(z3.StringSort())


def any_char() -> z3.ReRef:
    return z3.AllChar(_re_sort())


def _not_colon() -> z3.ReRef:
    return z3.Union(z3.Range("\x00", "9"), z3.Range(";", chr(MAX_CHAR)))


def literal(text: str) -> z3.ReRef:
    if any(ord(c) > MAX_CHAR for c in text):
        raise Unsupported(f"a character beyond U+{MAX_CHAR:X} in {text!r}")
    return z3.Re(z3.StringVal(text))


def chars_re(chars: Sequence[tuple[str, bool]], star: z3.ReRef, qmark: z3.ReRef) -> z3.ReRef:
    parts: list[z3.ReRef] = []
    buf: list[str] = []
    for ch, lit in chars:
        if not lit and ch in "*?":
            if buf:
                parts.append(literal("".join(buf)))
                buf = []
            parts.append(star if ch == "*" else qmark)
        else:
            buf.append(ch)
    if buf or not parts:
        parts.append(literal("".join(buf)))
    return parts[0] if len(parts) == 1 else z3.Concat(*parts)


def pattern_re(pieces: Pieces, mode: str) -> z3.ReRef:
    """The z3 regex of :func:`iamroles.policy.wildcard.pattern_regex` (same modes, same segment rules)."""
    anything = z3.Star(any_char())
    segments = pattern_segments(pieces, mode)
    if segments is None:
        return z3.Empty(_re_sort())
    if len(segments) == 1:  # a glob, or not an ARN: the whole string
        return chars_re(segments[0], anything, any_char())
    seg_star, seg_q = z3.Star(_not_colon()), _not_colon()
    parts: list[z3.ReRef] = []
    for i, seg in enumerate(segments[:5]):
        if i:
            parts.append(literal(":"))
        if mode == "resource" and seg and seg[-1] == ("*", False):
            parts.append(z3.Concat(chars_re(seg[:-1], seg_star, seg_q), anything))
        else:
            parts.append(chars_re(seg, seg_star, seg_q))
    if len(segments) == 6:
        parts.append(literal(":"))
        parts.append(chars_re(segments[5], anything, any_char()))
    return parts[0] if len(parts) == 1 else z3.Concat(*parts)


