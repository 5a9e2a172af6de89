"""uvicorn's HTTP protocol with a deadline for reading each request.

uvicorn closes idle keep-alive connections, but a client that opens a
connection and sends its headers (or body) a byte at a time holds it open for
as long as it likes, and enough such clients exhaust the server's sockets
(slowloris). Here every request must arrive whole within ``read_timeout``
seconds of the connection opening or of the previous response; otherwise the
connection is closed. A request being processed has no deadline.
"""
from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["timed_protocol"]


class _TimedProtocol(HttpToolsProtocol):
    read_timeout = 10.0
    _read_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()

    def shutdown(self) -> None:
        """The server is stopping: an idle TLS connection is dropped at once (closing it would wait for the
        client's close_notify, which an idle keep-alive client never sends, for asyncio's 30 s SSL shutdown
        timeout); anything else as uvicorn does (idle: closed; in flight: closed once answered)."""
        if (self.cycle is None or self.cycle.response_complete) and self.transport.get_extra_info("ssl_object") is not None:
            self.transport.abort()
            return
        super().shutdown()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._read_deadline = self.loop.call_later(self.read_timeout, self._expire)

    def _disarm(self) -> None:
        if self._read_deadline is not None:
            self._read_deadline.cancel()
            self._read_deadline = None

    def _expire(self) -> None:
        self._read_deadline = None
        if not self.transport.is_closing():
            self.transport.close()


def timed_protocol(read_timeout: float) -> type[Any]:
    """An ``http=`` protocol class for uvicorn whose requests must arrive within ``read_timeout`` seconds."""
    return type("TimedHttpProtocol", (_TimedProtocol,), {"read_timeout": float(read_timeout)})
