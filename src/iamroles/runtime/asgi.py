"""What the ASGI entry points share (the server's endpoint, :mod:`iamroles.middleware`): the peer, the path as
sent, the body read once under a cap, and an answer sent.

Headers are :func:`iamroles.auth.sigv4.asgi_headers`' (lower-case names, repeats joined as SigV4 joins them).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from starlette.types import Receive, Send

__all__ = ["Disconnected", "content_length", "peer", "raw_path", "read_body", "send_answer"]


class Disconnected(Exception):
    """The client went away before its request's body had arrived."""


def peer(scope: Mapping[str, Any]) -> tuple[str, bool]:
    """The client's address (aws:SourceIp) and whether the connection is TLS (aws:SecureTransport)."""
    client = scope.get("client")
    return (client[0] if client else "127.0.0.1"), scope.get("scheme") in ("https", "wss")


def content_length(scope: Mapping[str, Any]) -> bytes | None:
    """The Content-Length header's value as sent (for :func:`read_body`), from the scope's raw headers."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return value  # type: ignore[no-any-return]
    return None


def raw_path(scope: Mapping[str, Any]) -> str:
    """The path as the client sent it (percent-encoded, what SigV4 signed): the scope's ``raw_path``, or its
    decoded ``path`` encoded again where the server gives none."""
    raw = scope.get("raw_path")
    return raw.decode("latin-1") if raw else quote(scope["path"], safe="/~")


async def read_body(receive: Receive, limit: int, declared: str | bytes | None = None) -> bytes | None:
    """The request's body, read once; None when it is over ``limit``: refused by its declared length (the
    Content-Length header's value, ``declared``) before any of it is read, else as soon as what arrived passes
    the cap. :class:`Disconnected` if the client goes away first."""
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        return None
    message = await receive()
    if message["type"] == "http.disconnect":
        raise Disconnected
    body: bytes = message.get("body", b"")
    if len(body) > limit:
        return None
    if not message.get("more_body", False):  # nearly always: the whole body in one message
        return body
    chunks = [body]
    size = len(body)
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def send_answer(send: Send, status: int, payload: bytes, media_type: bytes,
                      headers: Sequence[tuple[bytes, bytes]] = (), *, head: bool = False) -> None:
    """One whole answer (``head``: its status and headers only, for a HEAD request)."""
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", media_type), (b"content-length", str(len(payload)).encode()), *headers]})
    await send({"type": "http.response.body", "body": b"" if head else payload})
