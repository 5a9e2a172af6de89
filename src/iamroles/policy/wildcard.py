"""Wildcard patterns (``*`` and ``?``) as AWS uses them, compiled to regexes.

Actions match case-insensitively; resources and ARN condition values match
case-sensitively, each of an ARN's first five segments on its own, the last
(the resource part) across colons and slashes.

A pattern is given as pieces ``(text, literal)``: in a literal piece (a
policy variable's value, or ``${*}``) a star is only a star.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

__all__ = ["Pieces", "has_wildcard", "pattern_regex", "compile_patterns"]

Pieces = tuple[tuple[str, bool], ...]


def has_wildcard(text: str) -> bool:
    return "*" in text or "?" in text


def _chars_regex(chars: Sequence[tuple[str, bool]], star: str, qmark: str) -> str:
    out: list[str] = []
    for ch, literal in chars:
        if literal:
            out.append(re.escape(ch))
        elif ch == "*":
            out.append(star)
        elif ch == "?":
            out.append(qmark)
        else:
            out.append(re.escape(ch))
    return "".join(out)


def pattern_regex(pieces: Pieces, arn: bool) -> str:
    """The (unanchored) regex source for a pattern.

    With ``arn``: ``arn:partition:service:region:account:resource`` is matched
    segment by segment; a pattern with fewer segments has the missing ones
    filled with ``*`` as AWS does, so ``arn:aws:s3`` reads as
    ``arn:aws:s3:*:*:*``. A pattern that is not an ARN is matched whole.
    """
    chars = [(c, lit) for text, lit in pieces for c in text]
    if not arn or [c for c, _ in chars[:4]] != ["a", "r", "n", ":"]:
        return _chars_regex(chars, ".*", ".")
    segments: list[list[tuple[str, bool]]] = [[]]
    for ch, lit in chars:
        if ch == ":" and len(segments) < 6:
            segments.append([])
        else:
            segments[-1].append((ch, lit))
    while len(segments) < 6:
        segments.append([("*", False)])
    head = [_chars_regex(s, "[^:]*", "[^:]") for s in segments[:5]]
    return ":".join(head) + ":" + _chars_regex(segments[5], ".*", ".")


@lru_cache(maxsize=8192)
def compile_patterns(patterns: tuple[Pieces, ...], ignore_case: bool, arn: bool) -> re.Pattern[str]:
    """One anchored regex that matches any of ``patterns``."""
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    body = "|".join(pattern_regex(p, arn) for p in patterns)
    return re.compile(f"(?:{body})\\Z", flags)


def plain(text: str) -> Pieces:
    """A pattern with no literal pieces."""
    return ((text, False),)
