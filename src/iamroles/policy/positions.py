"""Where each statement of a policy's JSON text is: the line and column IAM's simulator reports.

IAM's policy simulator names each statement it matched by a start and an end
position in the document (``MatchedStatements[].StartPosition`` /
``EndPosition``: a 1-based ``Line`` and ``Column``). AWS's own example
(the CLI reference's ``simulate-custom-policy``, a one-line document whose
``Statement`` is an object) gives Column 38 for the statement whose ``{`` is
the 37th character and Column 167 for the end of the one whose ``}`` is the
166th: positions are those a streaming JSON reader is at, after a token
(the brace itself). Responses seen for documents whose ``Statement`` is an
array put the start of the first statement just after the ``[`` and that of
each next statement just after the previous statement's ``}`` (the reader
has not yet read the comma): a statement runs from where the reader stood
before reading it to just after its closing brace. Lines count LF, CR and
CRLF as one break each.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

__all__ = ["Position", "Span", "statement_spans", "value_offsets", "position_of", "line_starts"]

Path = tuple["str | int", ...]


@dataclass(frozen=True, slots=True)
class Position:
    line: int  # 1-based
    column: int  # 1-based


@dataclass(frozen=True, slots=True)
class Span:
    start: Position
    end: Position


_WS = frozenset(" \t\n\r")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)


class _Scanner:
    """Just enough of a JSON reader to find the offsets of one key's value and of its elements (the text is known
    to be valid JSON: the parser read it first)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def skip_ws(self) -> None:
        text, pos = self.text, self.pos
        while pos < len(text) and text[pos] in _WS:
            pos += 1
        self.pos = pos

    def string(self) -> str:
        m = _STRING.match(self.text, self.pos)
        if m is None:
            raise ValueError("string expected")
        self.pos = m.end()
        value: str = json.loads(m.group(0))
        return value

    def value(self) -> None:
        """Skip one value."""
        self.skip_ws()
        c = self.text[self.pos]
        if c == '"':
            self.string()
        elif c in "{[":
            close = "}" if c == "{" else "]"
            self.pos += 1
            self.skip_ws()
            if self.text[self.pos] == close:
                self.pos += 1
                return
            while True:
                if c == "{":
                    self.skip_ws()
                    self.string()
                    self.skip_ws()
                    self.pos += 1  # ':'
                self.value()
                self.skip_ws()
                sep = self.text[self.pos]
                self.pos += 1
                if sep == close:
                    return
        else:
            while self.pos < len(self.text) and self.text[self.pos] not in ",}] \t\r\n":
                self.pos += 1


def _position(text: str, offset: int, lines: list[int]) -> Position:
    """The position just before character ``offset`` (``lines``: the offset each line starts at)."""
    lo, hi = 0, len(lines) - 1
    while lo < hi:  # the last line starting at or before offset
        mid = (lo + hi + 1) // 2
        if lines[mid] <= offset:
            lo = mid
        else:
            hi = mid - 1
    return Position(lo + 1, offset - lines[lo] + 1)


def _line_starts(text: str) -> list[int]:
    starts = [0]
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\r":
            if i + 1 < n and text[i + 1] == "\n":
                i += 1
            starts.append(i + 1)
        elif c == "\n":
            starts.append(i + 1)
        i += 1
    return starts


def statement_spans(text: str | bytes) -> tuple[Span, ...]:
    """The span of each statement of a policy document's text, in order (empty if the text has no Statement
    object or array of objects: a document given as a mapping has no positions)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    scan = _Scanner(text)
    try:
        scan.skip_ws()
        if not text.startswith("{", scan.pos):
            return ()
        scan.pos += 1
        while True:
            scan.skip_ws()
            if text[scan.pos] == "}":
                return ()
            key = scan.string()
            scan.skip_ws()
            scan.pos += 1  # ':'
            scan.skip_ws()
            if key == "Statement":
                return _spans(scan, text)
            scan.value()
            scan.skip_ws()
            if text[scan.pos] == ",":
                scan.pos += 1
    except (IndexError, ValueError):
        return ()


def _spans(scan: _Scanner, text: str) -> tuple[Span, ...]:
    lines = _line_starts(text)
    if text[scan.pos] == "{":  # one statement: the reader took the brace with the key
        start = scan.pos + 1
        scan.value()
        return (Span(_position(text, start, lines), _position(text, scan.pos, lines)),)
    if text[scan.pos] != "[":
        return ()
    scan.pos += 1
    before = scan.pos  # where the reader stands before the first element: just after '['
    out: list[Span] = []
    while True:
        scan.skip_ws()
        c = text[scan.pos]
        if c == "]":
            return tuple(out)
        if c == ",":
            scan.pos += 1
            continue
        if c != "{":
            return ()
        scan.value()
        out.append(Span(_position(text, before, lines), _position(text, scan.pos, lines)))
        before = scan.pos


def _values(scan: _Scanner, path: Path, out: dict[Path, tuple[int, int]]) -> None:
    scan.skip_ws()
    start = scan.pos
    c = scan.text[start]
    if c == "{":
        scan.pos += 1
        scan.skip_ws()
        if scan.text[scan.pos] == "}":
            scan.pos += 1
        else:
            while True:
                scan.skip_ws()
                key = scan.string()
                scan.skip_ws()
                scan.pos += 1  # ':'
                _values(scan, path + (key,), out)
                scan.skip_ws()
                sep = scan.text[scan.pos]
                scan.pos += 1
                if sep == "}":
                    break
    elif c == "[":
        scan.pos += 1
        scan.skip_ws()
        if scan.text[scan.pos] == "]":
            scan.pos += 1
        else:
            i = 0
            while True:
                _values(scan, path + (i,), out)
                i += 1
                scan.skip_ws()
                sep = scan.text[scan.pos]
                scan.pos += 1
                if sep == "]":
                    break
    else:
        scan.value()
    out[path] = (start, scan.pos)


def value_offsets(text: str) -> dict[Path, tuple[int, int]]:
    """Every value of a JSON text by its path (keys and list indexes from the top), as the offsets of its first
    character and just past its last (empty if the text is not JSON)."""
    out: dict[Path, tuple[int, int]] = {}
    try:
        json.loads(text)
        _values(_Scanner(text), (), out)
    except (ValueError, IndexError, RecursionError):
        return {}
    return out


def position_of(text: str, offset: int, lines: list[int] | None = None) -> Position:
    """The 1-based line and column of character ``offset`` of ``text``."""
    return _position(text, offset, lines if lines is not None else _line_starts(text))


def line_starts(text: str) -> list[int]:
    """The offset each line of ``text`` starts at (for :func:`position_of`)."""
    return _line_starts(text)
