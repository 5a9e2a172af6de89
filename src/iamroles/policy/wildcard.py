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

__all__ = ["Pieces", "compile_patterns", "has_wildcard", "pattern_regex", "pattern_segments"]

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


Chars = list[tuple[str, bool]]


def _is_arn(chars: Sequence[tuple[str, bool]]) -> bool:
    return [c for c, _ in chars[:4]] == ["a", "r", "n", ":"]


def pattern_segments(pieces: Pieces, mode: str) -> list[Chars] | None:
    """How :func:`pattern_regex` reads a pattern in ``mode``: None when it matches nothing (``"arn"`` mode and not
    six components), one list of characters when it matches as a whole (``"glob"``, or not an ARN), else the ARN's
    segments (up to six; the sixth, the resource part, keeps its colons). The z3 encoding of the analysis layer
    reads patterns through this too, so both match alike."""
    chars = [(c, lit) for text, lit in pieces for c in text]
    if mode == "glob" or not _is_arn(chars):
        return None if mode == "arn" else [chars]
    segments: list[Chars] = [[]]
    for ch, lit in chars:
        if ch == ":" and len(segments) < 6:
            segments.append([])
        else:
            segments[-1].append((ch, lit))
    if mode == "arn" and len(segments) < 6:
        return None
    return segments


def pattern_regex(pieces: Pieces, mode: str) -> str:
    """The (unanchored) regex source for a pattern.

    ``mode``:

    * ``"glob"``: the whole string; ``*`` any run, ``?`` any one character.
    * ``"resource"`` (the Resource element, reference_policies_elements_resource):
      an ARN is matched segment by segment, a wildcard staying within its
      segment, except that a ``*`` that ends one of the first five segments
      "can expand to match beyond the colon boundaries"; in the resource part
      (after the fifth colon) wildcards cross colons. No segment is invented:
      ``arn:aws:s3`` matches only itself.
    * ``"arn"`` (the ArnEquals/ArnLike family): "each of the six
      colon-delimited components of the ARN is checked separately", so a
      pattern with fewer than six components matches nothing.
    """
    segments = pattern_segments(pieces, mode)
    if segments is None:
        return "(?!)"
    if len(segments) == 1:  # a glob, or not an ARN: the whole string
        return _chars_regex(segments[0], ".*", ".")
    head: list[str] = []
    for seg in segments[:5]:
        if mode == "resource" and seg and seg[-1] == ("*", False):
            head.append(_chars_regex(seg[:-1], "[^:]*", "[^:]") + ".*")
        else:
            head.append(_chars_regex(seg, "[^:]*", "[^:]"))
    if len(segments) == 6:
        head.append(_chars_regex(segments[5], ".*", "."))
    return ":".join(head)


@lru_cache(maxsize=8192)
def compile_patterns(patterns: tuple[Pieces, ...], ignore_case: bool, mode: str) -> re.Pattern[str]:
    """One anchored regex that matches any of ``patterns`` (see :func:`pattern_regex`)."""
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    body = "|".join(pattern_regex(p, mode) for p in patterns)
    return re.compile(f"(?:{body})\\Z", flags)


def plain(text: str) -> Pieces:
    """A pattern with no literal pieces."""
    return ((text, False),)
