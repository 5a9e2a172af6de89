"""What an operator watches a server by: the metrics listener, the access log and the log format.

:class:`Observed` wraps the ASGI app. On the metrics listener (``serve --metrics-port``, a socket of its own,
127.0.0.1 by default) it answers ``GET /metrics`` (with ``--metrics-token-file``, only to
``Authorization: Bearer TOKEN``), ``/health`` and ``/ready`` and nothing else; the API port never serves
``/metrics``. Every other request goes to the app, timed for the latency histogram and, with
``--access-log``, written to the ``iamroles.access`` log: the client's address, the method, the path without
its query string (a presigned URL's query holds its signature and session token), the operation, the status,
the bytes sent and the time taken; never a header or a parameter.

:func:`configure_logging` sets every logger (iamroles', uvicorn's) to one format: text, or one JSON object a
line (``--log-format json``) with ``time``, ``level``, ``logger``, ``message`` and the record's extra fields.
"""
from __future__ import annotations

import hmac
import json
import logging
import sys
import time
from datetime import UTC, datetime
from typing import Any

from iamroles.runtime.asgi import send_answer

from .metrics import Metrics

__all__ = ["JsonFormatter", "Observed", "configure_logging"]

access_log = logging.getLogger("iamroles.access")
_PROBES = frozenset({"/health", "/ready", "/iamroles/health"})

# the attributes every LogRecord has: what is left are the fields a call passed with ``extra=``
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``, the record's extra
    fields, and ``exception`` when it carries one."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                doc[key] = value
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str)


def configure_logging(level: str, fmt: str, access: bool = False) -> None:
    """Every logger of the process to stderr in ``fmt`` ("text" or "json") at ``level``; uvicorn's loggers
    too (they are given no configuration of their own); ``access``: the access log's lines whatever the level."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        logger.setLevel(level.upper())
    access_log.setLevel(logging.INFO if access else logging.WARNING)


class Observed:
    """The app, with the metrics listener's routes, the latency histogram and the access log."""

    def __init__(self, app: Any, metrics: Metrics | None, metrics_port: int | None, metrics_token: str | None,
                 access: bool, probes: Any) -> None:
        self.app = app
        self.metrics = metrics
        self.metrics_port = metrics_port
        self._token = f"Bearer {metrics_token}".encode() if metrics_token else None
        self.access = access
        self.probes = probes  # the app's /health and /ready (the Starlette app behind the Query endpoint)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        server = scope.get("server")
        if self.metrics_port is not None and server is not None and server[1] == self.metrics_port:
            await self._metrics_listener(scope, receive, send)
            return
        if scope["path"] in _PROBES:  # load balancers ask every few seconds: neither timed nor logged
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        if not self.access:  # metrics alone need no look at the answer: the app sends it straight
            try:
                await self.app(scope, receive, send)
            finally:
                if self.metrics is not None:
                    self.metrics.observe(scope.get("iamroles.operation"), time.perf_counter() - started)
            return
        status = 500
        sent = 0

        async def watch(message: dict[str, Any]) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            elapsed = time.perf_counter() - started
            operation = scope.get("iamroles.operation")
            if self.metrics is not None:
                self.metrics.observe(operation, elapsed)
            if self.access:
                client = scope.get("client")
                path = scope["path"]
                if len(path) > 256:
                    path = path[:256] + "..."
                access_log.info(
                    '%s "%s %s" %d %s %d %.1fms', client[0] if client else "-", scope["method"], path, status,
                    operation if isinstance(operation, str) else "-", sent, elapsed * 1000,
                    extra={"client": client[0] if client else None, "method": scope["method"], "path": path,
                           "status": status, "operation": operation if isinstance(operation, str) else None,
                           "bytes": sent, "duration_ms": round(elapsed * 1000, 3)})

    async def _metrics_listener(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path, method = scope["path"], scope["method"]
        if path in ("/health", "/ready"):
            await self.probes(scope, receive, send)
            return
        if path != "/metrics":
            await _plain(send, 404, b"Not Found\n")
            return
        if method not in ("GET", "HEAD"):
            await _plain(send, 405, b"Method Not Allowed\n")
            return
        if self._token is not None:
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, self._token):
                await _plain(send, 401, b"Unauthorized\n", [(b"www-authenticate", b'Bearer realm="iamroles metrics"')])
                return
        assert self.metrics is not None
        from starlette.concurrency import run_in_threadpool

        body, content_type = await run_in_threadpool(self.metrics.render)
        await _plain(send, 200, body if method == "GET" else b"", content_type=content_type.encode())


async def _plain(send: Any, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None,
                 content_type: bytes = b"text/plain; charset=utf-8") -> None:
    await send_answer(send, status, body, content_type, headers or ())
