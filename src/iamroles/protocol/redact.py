"""Secrets, as the model marks them: botocore's shapes carry a ``sensitive`` trait (passwords, private
keys, web identity tokens and SAML assertions in requests; secret access keys and MFA seeds in
responses). A sensitive value is never quoted in an error and never recorded: where it stood, the
audit trail writes ``HIDDEN_DUE_TO_SECURITY_REASONS``, the marker CloudTrail writes for sensitive
request parameters (e.g. ``adminUserPassword`` in
https://docs.aws.amazon.com/redshift/latest/mgmt/logging-with-cloudtrail.html).
"""
from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from botocore.model import Shape

__all__ = ["HIDDEN", "holds_secret", "is_sensitive", "redact"]

HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"

# Held secret beyond the model's trait: MFA one-time codes (a code seen in the trail or an error within its
# 30-second window is a second factor given away), and STS session tokens (a bearer half of temporary
# credentials: the trail's readers need not hold them, though CloudTrail records them in responseElements).
_ALSO_SENSITIVE = frozenset({"tokenCodeType", "authenticationCodeType", "tokenType"})


def is_sensitive(shape: Shape) -> bool:
    """The shape itself (or the member reference to it) is marked sensitive, or is an MFA one-time code."""
    return bool(shape.metadata.get("sensitive")) or shape.name in _ALSO_SENSITIVE


def _children(shape: Shape) -> list[Shape]:
    t = shape.type_name
    if t == "structure":
        return list(shape.members.values())
    if t == "list":
        return [shape.member]
    if t == "map":
        return [shape.key, shape.value]
    return []


@cache
def holds_secret(shape: Shape) -> bool:
    """Whether a value of this shape can carry a sensitive value (itself or anything within)."""
    # by name: botocore makes a new Shape for a member each time it is asked, so a recursive model
    # (Organizations' HandshakeResource holds HandshakeResources) never repeats an object; a member's own traits
    # (sensitive) are read above, before the name decides whether its children were walked
    seen: set[str] = set()
    todo = [shape]
    while todo:
        s = todo.pop()
        if is_sensitive(s):
            return True
        if s.name not in seen:
            seen.add(s.name)
            todo.extend(_children(s))
    return False


def redact(value: Any, shape: Shape) -> Any:
    """``value`` (an input or output parsed by ``shape``) with every sensitive value replaced by
    :data:`HIDDEN`; ``value`` itself when its shape holds no secret."""
    if value is None or not holds_secret(shape):
        return value
    if is_sensitive(shape):
        return HIDDEN
    t = shape.type_name
    if t == "structure" and isinstance(value, Mapping):
        members = shape.members
        return {k: redact(v, members[k]) if k in members else v for k, v in value.items()}
    if t == "list" and isinstance(value, (list, tuple)):
        return [redact(v, shape.member) for v in value]
    if t == "map" and isinstance(value, Mapping):
        if is_sensitive(shape.key) or holds_secret(shape.key):
            return HIDDEN
        return {k: redact(v, shape.value) for k, v in value.items()}
    return HIDDEN  # a value not of its shape's form: nothing of it is shown
