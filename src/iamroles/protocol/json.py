"""The AWS JSON 1.1 protocol (AWS Organizations), driven by botocore's service models.

A request is ``POST /`` with ``X-Amz-Target: <targetPrefix>.<Operation>`` and a JSON object of the input's members;
the answer is a JSON object of the output's members (times as epoch seconds, the protocol's default), and an
error is ``{"__type": code, "Message": message}``. :func:`check_input` walks the input's shape as botocore's own
validator would (required members, types, lengths, list sizes, enums, patterns), so a bad parameter is refused
with the first problem before the operation sees it.
"""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from functools import cache
from typing import Any

from botocore.model import OperationModel, Shape

__all__ = ["check_input", "json_envelope", "render_json", "target_operation"]


def target_operation(target: str, prefix: str) -> str | None:
    """The operation an ``X-Amz-Target`` names for a service whose target prefix is ``prefix``."""
    head, dot, name = target.partition(".")
    return name if dot and head == prefix and name else None


def json_envelope(code: str, message: str, reason: str | None = None) -> bytes:
    """The protocol's error document (with the ``Reason`` member some errors' shapes have)."""
    doc = {"__type": code, "Message": message}
    if reason is not None:
        doc["Reason"] = reason
    return json.dumps(doc, separators=(",", ":")).encode()


@cache
def _pattern(text: str) -> re.Pattern[str] | None:
    try:
        return re.compile(text)
    except re.error:  # a Java-only construct: the pattern is not checked
        return None


# A problem: (Organizations' InvalidInputException reason, message)
Problem = tuple[str, str]


def check_input(doc: Any, op: OperationModel) -> Problem | None:
    """The first problem of ``doc`` as ``op``'s input, or None."""
    shape = op.input_shape
    if shape is None:
        return None
    return _check(doc, shape, shape.name)


def _check(value: Any, shape: Shape, where: str) -> Problem | None:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return "INVALID_INPUT", f"{where} must be an object."
        members = shape.members
        for name in shape.required_members:
            if value.get(name) is None:
                return "INPUT_REQUIRED", f"You must specify {name}."
        for name, item in value.items():
            member = members.get(name)
            if member is None:
                return "INVALID_INPUT", f"{name} is not a parameter of {where}."
            if item is not None and (p := _check(item, member, name)) is not None:
                return p
        return None
    if kind == "list":
        if not isinstance(value, list):
            return "INVALID_INPUT", f"{where} must be a list."
        found = _limits(len(value), shape, where, "MIN_VALUE_EXCEEDED", "MAX_VALUE_EXCEEDED")
        if found is not None:
            return found
        member = shape.member
        for item in value:
            if (p := _check(item, member, where)) is not None:
                return p
        return None
    if kind == "map":
        if not isinstance(value, dict):
            return "INVALID_INPUT", f"{where} must be an object."
        for key, item in value.items():
            if (p := _check(key, shape.key, where)) is not None or (p := _check(item, shape.value, where)) is not None:
                return p
        return None
    if kind == "string":
        if not isinstance(value, str):
            return "INVALID_INPUT", f"{where} must be a string."
        found = _limits(len(value), shape, where, "MIN_LENGTH_EXCEEDED", "MAX_LENGTH_EXCEEDED")
        if found is not None:
            return found
        enum = shape.enum
        if enum and value not in enum:
            return "INVALID_ENUM", f"{where} must be one of {', '.join(enum)}."
        pattern = shape.metadata.get("pattern")
        if pattern and (compiled := _pattern(pattern)) is not None and compiled.fullmatch(value) is None:
            return "INVALID_PATTERN", f"{where} does not match the pattern {pattern}."
        return None
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            return "INVALID_INPUT", f"{where} must be an integer."
        return _limits(value, shape, where, "MIN_VALUE_EXCEEDED", "MAX_VALUE_EXCEEDED")
    if kind == "boolean":
        return None if isinstance(value, bool) else ("INVALID_INPUT", f"{where} must be true or false.")
    if kind == "timestamp":
        return None if isinstance(value, (int, float)) and not isinstance(value, bool) else ("INVALID_INPUT", f"{where} must be a time.")
    return None


def _limits(n: int, shape: Shape, where: str, low: str, high: str) -> Problem | None:
    meta = shape.metadata
    if "min" in meta and n < meta["min"]:
        return low, f"{where} must be at least {meta['min']}."
    if "max" in meta and n > meta["max"]:
        return high, f"{where} must be at most {meta['max']}."
    return None


def _out(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).timestamp()
    raise TypeError(f"cannot encode {type(value).__name__}")


def render_json(output: dict[str, Any] | None) -> bytes:
    """An operation's output as the protocol writes it (members with no value left out)."""
    doc = {k: v for k, v in (output or {}).items() if v is not None}
    return json.dumps(doc, default=_out, separators=(",", ":")).encode()
