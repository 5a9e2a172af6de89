"""What the ASGI entry points share (the server's endpoint, :mod:`iamroles.middleware`): the peer, the path as
sent, the body read once under a cap, and an answer sent.

Headers are :func:`iamroles.auth.sigv4.asgi_headers`' (lower-case names, repeats joined as SigV4 joins them).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from starlette.types import Receive, Send

__all__ = ["Disconnected", "peer", "raw_path", "read_body", "send_answer"]


class Disconnected(Exception):
    """The client went away before its request's body had arrived."""


def peer(scope: Mapping[str, Any]) -> tuple[str, bool]:
    """The client's address (aws:SourceIp) and whether the connection is TLS (aws:SecureTransport)."""
    client = scope.get("client")
    return (client[0] if client else "127.0.0.1"), scope.get("scheme") in ("https", "wss")


def raw_path(scope: Mapping[str, Any]) -> str:
    """The path as the client sent it (percent-encoded, what SigV4 signed): the scope's ``raw_path``, or its
    decoded ``path`` encoded again where the server gives none."""
    raw = scope.get("raw_path")
    return raw.decode("latin-1") if raw else quote(scope["path"], safe="/~")


async def read_body(scope: Mapping[str, Any], receive: Receive, limit: int, query_limit: int | None = None) -> bytes | None:
    """The request's body, read once; None when it (or the query string, past ``query_limit``) is over its cap:
    refused by its declared length before any of it is read, else as soon as what arrived passes the cap.
    :class:`Disconnected` if the client goes away first."""
    if query_limit is not None and len(scope.get("query_string", b"")) > query_limit:
        return None
    for name, value in scope["headers"]:
        if name == b"content-length" and (not value.isdigit() or int(value) > limit):
            return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Disconnected
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    if len(chunks) == 1:
        return chunks[0]
    return b"".join(chunks)


async def send_answer(send: Send, status: int, payload: bytes, media_type: bytes,
                      headers: Sequence[tuple[bytes, bytes]] = (), *, head: bool = False) -> None:
    """One whole answer (``head``: its status and headers only, for a HEAD request)."""
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", media_type), (b"content-length", str(len(payload)).encode()), *headers]})
    await send({"type": "http.response.body", "body": b"" if head else payload})
