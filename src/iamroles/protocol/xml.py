"""Typed output -> the AWS Query protocol's XML, walking the botocore output shape."""
from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

from botocore.model import OperationModel, Shape

__all__ = ["render_response", "text", "xmlns"]


# An XML parser reads a literal CR (or CR LF) in text as LF; AWS's text keeps it, so it is sent as a
# character reference.
_ENTITIES = {"\r": "&#13;"}
# XML 1.0 has no way to carry these, not even as character references: a document holding one is
# refused whole by the client's parser (botocore: "invalid XML received"). A value (a stored
# description, an error message quoting the parameter that broke a pattern) may hold them, so
# they are sent as U+FFFD.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SPECIAL = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def text(value: str) -> str:
    """``value`` as XML character data: escaped, CR kept, what XML cannot carry replaced."""
    if _SPECIAL.search(value) is None:
        return value  # most values: one scan, no copies
    return _NOT_XML.sub("\ufffd", escape(value, _ENTITIES))


def xmlns(op: OperationModel) -> str:
    return str(op.service_model.metadata.get("xmlNamespace") or "")


def _scalar(value: Any, shape: Shape) -> str:
    t = shape.type_name
    if t == "boolean":
        return "true" if value else "false"
    if t == "timestamp":
        if isinstance(value, datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=UTC)
            value = value.astimezone(UTC)
            ms = value.microsecond // 1000
            return str(value.strftime("%Y-%m-%dT%H:%M:%S")) + (f".{ms:03d}Z" if ms else "Z")
        return text(str(value))
    if t == "blob":
        raw = value if isinstance(value, bytes) else str(value).encode()
        return base64.b64encode(raw).decode()
    return text(str(value))


def _write(out: list[str], name: str, value: Any, shape: Shape) -> None:
    t = shape.type_name
    if t == "structure":
        out.append(f"<{name}>")
        _members(out, value, shape)
        out.append(f"</{name}>")
    elif t == "list":
        member = shape.member
        member_name = member.serialization.get("name", "member")
        if shape.serialization.get("flattened"):
            for item in value:
                _write(out, name, item, member)
        else:
            out.append(f"<{name}>")
            for item in value:
                _write(out, member_name, item, member)
            out.append(f"</{name}>")
    elif t == "map":
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        out.append(f"<{name}>")
        for k, v in value.items():
            out.append("<entry>")
            _write(out, key_name, k, shape.key)
            _write(out, value_name, v, shape.value)
            out.append("</entry>")
        out.append(f"</{name}>")
    else:
        out.append(f"<{name}>{_scalar(value, shape)}</{name}>")


def _members(out: list[str], value: Mapping[str, Any], shape: Shape) -> None:
    for name, member in shape.members.items():
        v = value.get(name)
        if v is None:
            continue
        _write(out, member.serialization.get("name", name), v, member)


def render_response(op: OperationModel, output: Mapping[str, Any] | None, request_id: str) -> bytes:
    """``<OpResponse xmlns=..><OpResult>..</OpResult><ResponseMetadata>..</ResponseMetadata></OpResponse>``."""
    name = op.name
    out = [f'<{name}Response xmlns="{xmlns(op)}">']
    shape = op.output_shape
    if shape is not None:
        wrapper = op.output_shape.serialization.get("resultWrapper") or f"{name}Result"
        out.append(f"<{wrapper}>")
        _members(out, output or {}, shape)
        out.append(f"</{wrapper}>")
    out.append(f"<ResponseMetadata><RequestId>{text(request_id)}</RequestId></ResponseMetadata></{name}Response>")
    return "".join(out).encode()
