"""The IAM + STS endpoint: a bare ASGI callable for the AWS Query protocol (:mod:`.query`) and iamroles' JSON API
(:mod:`.api`), Starlette for the few other routes.

Per request: read the body once (capped), place the call (inline on the event loop, or in a worker thread),
hand it to its protocol's handler over the :class:`~iamroles.runtime.Service`, and send the answer once its
audit record is committed where that is required.
"""
from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from iamroles.auth import sigv4
from iamroles.errors import RequestEntityTooLarge
from iamroles.iam.outbound import ISSUER_PATH, JWKS_MAX_AGE, documents
from iamroles.protocol import read_form
from iamroles.runtime import Service, new_id
from iamroles.runtime.asgi import Disconnected, content_length, peer, raw_path, read_body, send_answer
from iamroles.runtime.call import ApiJson, QueryXml, answer

from . import api, orgs, query

__all__ = ["create_app"]


class _QueryEndpoint:
    """The AWS Query endpoint as a bare ASGI app: every IAM and STS call comes through here, so it skips the
    framework (routing, Request and Response objects); iamroles' other routes go to the Starlette app."""

    def __init__(self, service: Service, other: Starlette) -> None:
        self.service = service
        self.other = other
        # unsigned calls (web identity tokens) may wait on an OIDC issuer: threads of their own, so that however
        # many of them wait, signed calls keep theirs
        self.unsigned = ThreadPoolExecutor(max_workers=8, thread_name_prefix="iamroles-unsigned")
        # reads inline on SQLite, in threads on PostgreSQL (IAMROLES_INLINE_READS=1/0 overrides, for measuring)
        choice = os.environ.get("IAMROLES_INLINE_READS")
        self.inline_reads = (choice == "1") if choice in ("0", "1") else not service.store.postgres

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope["path"] if scope["type"] == "http" else ""
        if path.startswith(_API_PREFIX) and "/" not in path[len(_API_PREFIX):]:
            if scope["method"] != "POST":
                await send_answer(send, 405, b"Method Not Allowed", b"text/plain")
                return
            await self._api(scope, receive, send, path[len(_API_PREFIX):])
            return
        if scope["type"] != "http" or path.startswith(("/iamroles/", "/moto-api/", ISSUER_PATH)) or path in _PROBES:
            await self.other(scope, receive, send)
            return
        if scope["method"] not in ("GET", "POST"):
            await send_answer(send, 405, b"Method Not Allowed", b"text/plain")
            return
        target = orgs.operation_of(scope["headers"])
        if target is not None:
            await self._orgs(scope, receive, send, target)
            return
        try:
            body = await _body(scope, receive)
        except Disconnected:  # nobody to answer
            return
        if body is None:
            await send_answer(send, *answer(_QUERY_XML, _TOO_LARGE, new_id()), QueryXml.media_type)
            return
        http = _http_request(scope, body)
        client, secure = peer(scope)
        if len(body) + len(http.query) > INLINE_MAX:
            # decoding a large request takes milliseconds: not on the event loop
            status, payload = await run_in_threadpool(self._handle_large, scope, http, client, secure)
        else:
            params = _form(http)
            scope["iamroles.operation"] = params.get("Action")  # for the latency metric (server/observe.py)
            if params.get("Action") in query.UNSIGNED_ACTIONS and not query.is_signed(http, params):
                status, payload = await asyncio.get_running_loop().run_in_executor(
                    self.unsigned, query.handle, self.service, http, params, client, secure)
            elif query.may_write(params):
                # writes may wait for SQLite's writer lock: keep them off the event loop
                status, payload = await run_in_threadpool(query.handle, self.service, http, params, client, secure)
            elif self.inline_reads:
                # reads never wait on a lock (WAL / MVCC) and SQLite is a local file: inline, saving the thread hop;
                # a call that issues credentials then awaits its event's commit without holding the loop
                reply = query.respond(self.service, http, params, client, secure, asyncio.get_running_loop())
                status, payload = await reply.settled()
            else:
                # on PostgreSQL a read that misses the cache waits on the network: never on the event loop
                status, payload = await run_in_threadpool(query.handle, self.service, http, params, client, secure)
        await send_answer(send, status, payload, QueryXml.media_type)

    def _handle_large(self, scope: dict[str, Any], http: sigv4.HttpRequest, client: str, secure: bool) -> tuple[int, bytes]:
        params = _form(http)
        scope["iamroles.operation"] = params.get("Action")
        return query.handle(self.service, http, params, client, secure)

    async def _orgs(self, scope: dict[str, Any], receive: Any, send: Any, name: str) -> None:
        """An AWS Organizations call (JSON 1.1): writes and PostgreSQL's reads in a worker thread."""
        try:
            body = await _body(scope, receive)
        except Disconnected:
            return
        if body is None:
            await send_answer(send, *answer(_ORGS_JSON, _TOO_LARGE, new_id()), orgs.JsonWire.media_type)
            return
        http = _http_request(scope, body)
        client, secure = peer(scope)
        scope["iamroles.operation"] = name
        if self.inline_reads and not orgs.may_write(name) and len(body) <= INLINE_MAX:
            reply = orgs.respond(self.service, name, http, client, secure, asyncio.get_running_loop())
            status, payload = await reply.settled()
        else:
            status, payload = await run_in_threadpool(orgs.handle, self.service, name, http, client, secure)
        await send_answer(send, status, payload, orgs.JsonWire.media_type)

    async def _api(self, scope: dict[str, Any], receive: Any, send: Any, name: str) -> None:
        """``POST /iamroles/v1/NAME``: a call that reads (authorise, issue sealed credentials) is placed as the Query
        endpoint's reads are: inline on SQLite, in a worker thread on PostgreSQL or for a large body; one that writes
        (``api.WRITES``), always in a worker thread."""
        try:
            body = await _body(scope, receive)
        except Disconnected:
            return
        if body is None:
            await send_answer(send, *answer(_API_JSON, _TOO_LARGE, new_id()), ApiJson.media_type)
            return
        http = _http_request(scope, body)
        client, secure = peer(scope)
        scope["iamroles.operation"] = name
        if self.inline_reads and name not in api.WRITES and len(body) + len(http.query) <= INLINE_MAX:
            reply = api.respond(self.service, name, http, client, secure, asyncio.get_running_loop())
            status, payload = await reply.settled()
        else:
            status, payload = await run_in_threadpool(api.handle, self.service, name, http, client, secure)
        await send_answer(send, status, payload, ApiJson.media_type)


_API_PREFIX = "/iamroles/v1/"
# Liveness and readiness, outside the AWS API's path ("/"): no client of IAM or STS sends a request anywhere else
_PROBES = frozenset({"/health", "/ready"})
READY_TIMEOUT = 5.0  # seconds /ready waits for the database before it answers 503


def _http_request(scope: dict[str, Any], body: bytes) -> sigv4.HttpRequest:
    """What SigV4 verifies: the method, the path as sent, the raw query, the headers and the body."""
    return sigv4.HttpRequest(scope["method"], raw_path(scope), scope.get("query_string", b"").decode("latin-1"),
                             sigv4.asgi_headers(scope["headers"]), body)


def _form(http: sigv4.HttpRequest) -> dict[str, str]:
    """The Query parameters of ``http``: its query string's and its form body's."""
    return read_form(http.query, http.body, http.headers.get("content-type", ""))


# The largest IAM or STS request is a policy document of 131,072 characters or a SAML assertion of 100,000,
# URL-encoded (at most three bytes a character): 1 MiB holds either with room; the query string likewise.
MAX_BODY = 1 << 20
MAX_QUERY = 1 << 20
INLINE_MAX = 64 << 10  # larger requests are decoded in a worker thread
_TOO_LARGE = RequestEntityTooLarge(f"The request is larger than {MAX_BODY} bytes.")
_QUERY_XML = QueryXml()
_API_JSON = ApiJson()
_ORGS_JSON = orgs.JsonWire()


async def _body(scope: dict[str, Any], receive: Any) -> bytes | None:
    """The request body, or None when it (or the query string) is over the cap; :class:`Disconnected` if the
    client went away first."""
    if len(scope.get("query_string", b"")) > MAX_QUERY:
        return None
    return await read_body(receive, MAX_BODY, content_length(scope))


def readiness(service: Service) -> dict[str, str]:
    """What ``GET /ready`` checks, each "ok" or "unavailable" (never why: a reason could name a host or a user):
    the database answers a query, the signing keys are loaded (a current key, opened with the master key), and
    the audit trail's writer runs (nothing is answered that cannot be audited)."""
    from sqlalchemy import text

    checks = {}
    try:
        with service.store.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception:  # noqa: BLE001  (any failure means not ready; the reason stays in the server)
        checks["database"] = "unavailable"
    ring = service.keyring
    checks["signing_keys"] = "ok" if ring is not None and getattr(ring, "_current", None) is not None and ring.keys else "unavailable"
    thread = getattr(service.audit, "_thread", None)
    checks["audit_trail"] = "ok" if service.audit is None or thread is None or thread.is_alive() else "unavailable"
    return checks


def create_app(service: Service, *, metrics: Any = None, metrics_port: int | None = None, metrics_token: str | None = None,
               access_log: bool = False) -> Any:
    """The ASGI app: the Query endpoint on every path but /iamroles/*, /moto-api/*, /health and /ready; with
    ``metrics`` (:class:`.metrics.Metrics`) or ``access_log``, observed (:class:`.observe.Observed`)."""
    async def reset(request: Request) -> Response:
        if not service.test_mode:
            return JSONResponse({"error": "test mode is off: POST /moto-api/reset needs `iamroles serve --test-mode`"}, status_code=403)
        await run_in_threadpool(service.reset)
        return JSONResponse({"status": "ok"})

    async def clock(request: Request) -> Response:
        """Test mode: move the server's clock forward (expiry tests without sleeping)."""
        if not service.test_mode:
            return JSONResponse({"error": "test mode is off"}, status_code=403)
        body = await request.json()
        service.clock_offset += timedelta(seconds=float(body.get("advance", 0)))
        return JSONResponse({"now": service.clock().isoformat()})

    async def health(request: Request) -> Response:
        """Liveness: the process answers (its event loop runs). Unauthenticated, and says nothing more."""
        return JSONResponse({"status": "ok"})

    async def ready(request: Request) -> Response:
        """Readiness: it can answer calls now (see :func:`readiness`). Unauthenticated; 503 when it cannot."""
        try:
            checks = await asyncio.wait_for(run_in_threadpool(readiness, service), READY_TIMEOUT)
        except TimeoutError:
            checks = {"database": "unavailable"}
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse({"status": "ready" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503)

    def issuer_document(which: int) -> Any:
        """An issuer's OpenID Connect discovery document (0) or JWKS (1), to anyone, unauthenticated (verifiers fetch
        them so): 404 for an issuer that is not, or no longer, published (``iam.outbound.documents``)."""
        async def serve(request: Request) -> Response:
            issuer_id = request.path_params["issuer_id"]

            def read() -> Any:
                with service.store.read() as tx:
                    return documents(tx, service.issuer, issuer_id, service.clock())

            found = await run_in_threadpool(read)
            if found is None:
                return Response(b"Not Found", status_code=404, media_type="text/plain")
            return JSONResponse(found[which], headers={"Cache-Control": f"public, max-age={JWKS_MAX_AGE}"})

        return serve

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app: Starlette):  # type: ignore[no-untyped-def]
        yield
        if service.pruner is not None:
            service.pruner.close()
        if service.rotator is not None:
            service.rotator.close()
        if service.audit is not None:
            service.audit.close()
        if service.usage is not None:
            service.usage.close()
        if metrics is not None:
            metrics.close()

    other = Starlette(
        lifespan=lifespan,
        routes=[
            Route("/moto-api/reset", reset, methods=["POST"]),
            Route("/iamroles/health", health, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
            Route("/ready", ready, methods=["GET"]),
            Route("/iamroles/test/clock", clock, methods=["POST"]),
            Route(ISSUER_PATH + "{issuer_id}/.well-known/openid-configuration", issuer_document(0), methods=["GET"]),
            Route(ISSUER_PATH + "{issuer_id}/.well-known/jwks.json", issuer_document(1), methods=["GET"]),
        ]
    )
    app = _QueryEndpoint(service, other)
    if metrics is None and not access_log:
        return app
    from .observe import Observed

    return Observed(app, metrics, metrics_port, metrics_token, access_log, other)


