"""The IAM + STS endpoint: a bare ASGI callable for the AWS Query protocol and iamroles' JSON API, Starlette
for the few other routes.

Per request, in one pass: read the body once (capped) -> parse the SigV4 signature -> in one transaction:
resolve the access key, verify the signature, check what the caller's kind of credentials may call, decode the
parameters by the botocore model, authorise the call with the policy core, run the operation, write its audit
event, commit -> render XML. Any AwsError becomes AWS's error envelope in ``protocol.envelope``; anything else
is logged and answered as InternalFailure.
"""
from __future__ import annotations

import asyncio
import hmac
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from iamroles import iam, sts  # noqa: F401  (register operations)
from iamroles.auth import sigv4
from iamroles.auth.caller import Caller
from iamroles.auth.principal import INVALID_TOKEN, KeyResolver
from iamroles.auth.regions import Regions, known_regions
from iamroles.errors import (AwsError, IncompleteSignature, InternalFailure, InvalidAction, InvalidClientTokenId,
                             RequestEntityTooLarge)
from iamroles.iam import OPERATIONS, CallContext, PolicyCache, authorize
from iamroles.protocol import (error_document, holds_secret, parse_request, read_form, redact, render_error, render_response,
                               service_model)
from iamroles.store import Store
from iamroles.sts.limits import check_session_limits
from iamroles.sts.web_identity import UNSIGNED_OPERATIONS
from iamroles.tokens import MasterKey

from .audit import AuditLog, AuditUnavailable, Pending, Reply, event_record, new_id, unaudited
from .usage import Usage

__all__ = ["Service", "create_app"]

log = logging.getLogger("iamroles.server")
SERVICES = ("iam", "sts")
# IAM and STS accept requests signed up to 15 minutes off (aws-cli#6676 quotes "- 15 min.")
MAX_SKEW = timedelta(minutes=15)


@dataclass
class Service:
    store: Store
    master_key: MasterKey
    test_mode: bool = False
    on_reset: Callable[[], None] | None = None
    audit: AuditLog | None = None
    usage: Usage | None = None
    pruner: Any = None  # server.retention.Pruner: deletes (exports first) events past the retention period
    keyring: Any = None  # sts.keys.KeyRing
    regions: Regions = field(default_factory=known_regions)  # what requests may be signed for: botocore's, or more

    def __post_init__(self) -> None:
        self.clock_offset = timedelta(0)  # only test mode moves it
        self.resolver = KeyResolver(self.master_key)
        self.cache = PolicyCache()
        from iamroles.iam.mfa import MfaReplay

        self.mfa_replay = MfaReplay()
        from iamroles.sts.web_identity import JwksCache

        self.jwks_cache = JwksCache()
        self._signing_keys: dict[tuple[str, str, str, str], tuple[str, hmac.HMAC]] = {}
        if self.keyring is None:
            from iamroles.sts.keys import KeyRing

            self.keyring = KeyRing(self.store, self.master_key, self.clock)

    def _signing_key(self, signed: sigv4.SignedRequest, secret: str) -> hmac.HMAC:
        """The day's derived signing key for this secret and scope, derived once (four HMACs saved per request),
        as an HMAC to copy per request."""
        key = (signed.access_key_id, signed.date, signed.region, signed.service)
        hit = self._signing_keys.get(key)
        if hit is not None and hmac.compare_digest(hit[0], secret):
            return hit[1]
        derived = sigv4.signing_hmac(sigv4.signing_key(secret, signed.date, signed.region, signed.service))
        if len(self._signing_keys) >= 50_000:
            self._signing_keys.clear()
        self._signing_keys[key] = (secret, derived)
        return derived

    def authenticate(self, tx: Any, http: sigv4.HttpRequest, signed: sigv4.SignedRequest, now: datetime) -> Caller:
        """The caller whose key signed ``http``: the key or session token resolved, the signature verified.

        An account lives in one partition, and so do its keys and its temporary credentials: signed for a
        region of another partition (or one this server does not know), they do not exist there, and the
        answer is AWS's InvalidClientTokenId, before the signature is checked. The caller's ARNs are always
        its account's partition, whatever the region.
        """
        if signed.security_token:
            resolved = self.resolver.resolve_session(tx, signed.access_key_id, signed.security_token, now, self.keyring)
        else:
            resolved = self.resolver.resolve(tx, signed.access_key_id)
        caller = resolved.caller
        if self.regions.by_region.get(signed.region) != caller.partition:
            raise InvalidClientTokenId(INVALID_TOKEN)
        sigv4.verify(http, signed, resolved.secret, now, max_skew=MAX_SKEW, key=self._signing_key(signed, resolved.secret))
        return caller

    def context(self, caller: Caller, tx: Any, now: datetime, region: str, source_ip: str, secure: bool,
                user_agent: str, request_id: str) -> CallContext:
        return CallContext(
            caller=caller, tx=tx, now=now, region=region, master_key=self.master_key,
            source_ip=source_ip, secure_transport=secure, user_agent=user_agent,
            request_id=request_id, cache=self.cache, keyring=self.keyring,
            extra={"mfa_replay": self.mfa_replay},
        )

    def handle_api(self, name: str, http: sigv4.HttpRequest, source_ip: str, secure: bool) -> tuple[int, bytes]:
        """iamroles' own JSON API (``POST /iamroles/v1/NAME``), SigV4-signed for service ``iamroles``; in a
        worker thread."""
        return self.respond_api(name, http, source_ip, secure).wait()

    def respond_api(self, name: str, http: sigv4.HttpRequest, source_ip: str, secure: bool,
                    loop: asyncio.AbstractEventLoop | None = None) -> Reply:
        from .api import handle

        return handle(self, name, http, source_ip, secure, loop)

    def audit_call(self, *, service: str, operation: str, region: str, source_ip: str, user_agent: str, request_id: str,
                   caller: Caller | None, access_key_id: str | None, params: dict[str, Any], error_code: str | None,
                   error_message: str | None, read_only: bool, durable: bool = False,
                   loop: asyncio.AbstractEventLoop | None = None, tx: Any = None) -> Pending | None:
        """Record the call's event (``params`` already redacted). ``tx``: written in that transaction,
        committed with the call's change or not at all. ``durable``: the answer must wait for it, and the
        :class:`Pending` returned says when it is committed (``loop``: waited for in that event loop)."""
        if self.audit is None:
            return None
        when = self.clock()
        event = event_record(
            when=when, service=service, operation=operation, region=region, source_ip=source_ip, user_agent=user_agent,
            request_id=request_id, caller=caller, access_key_id=access_key_id, params=params, error_code=error_code,
            error_message=error_message, read_only=read_only,
        )
        account, arn = (caller.account_id, caller.principal.arn) if caller else (None, None)
        if tx is not None:
            self.audit.write_in(tx, event, account, arn, when)
            return None
        if durable:
            return self.audit.commit(event, account, arn, when, loop)
        self.audit.record(event, account, arn, when)
        return None

    def _audit_trail(self, trail: dict[str, Any], source_ip: str, user_agent: str, request_id: str,
                     loop: asyncio.AbstractEventLoop | None = None, tx: Any = None) -> Pending | None:
        return self.audit_call(
            service=trail["service"], operation=trail["operation"], region=trail["region"], source_ip=source_ip,
            user_agent=user_agent, request_id=request_id, caller=trail["caller"], access_key_id=trail["access_key_id"],
            params=trail["params"], error_code=trail.get("error_code"), error_message=trail.get("error_message"),
            read_only=trail["read_only"], durable=trail["durable"], loop=loop, tx=tx,
        )

    def clock(self) -> datetime:
        offset = self.clock_offset
        return datetime.now(timezone.utc) + offset if offset else datetime.now(timezone.utc)

    def handle(self, http: sigv4.HttpRequest, params: dict[str, str], source_ip: str, secure: bool) -> tuple[int, bytes]:
        """In a worker thread: the answer, once the call's event is committed where that is required."""
        return self.respond(http, params, source_ip, secure).wait()

    def respond(self, http: sigv4.HttpRequest, params: dict[str, str], source_ip: str, secure: bool,
                loop: asyncio.AbstractEventLoop | None = None) -> Reply:
        """The answer, and the audit event it must wait for (``loop``: the caller waits in that event loop).

        A mutating call that succeeded wrote its event with its change; any other mutating or
        credential-issuing call's event is committed before the answer is sent (else the answer is
        ServiceUnavailable); read-only calls' events are written soon after."""
        request_id = new_id()
        user_agent = http.headers.get("user-agent", "")
        trail: dict[str, Any] = {"service": "iam", "operation": params.get("Action", ""), "region": "us-east-1",
                                 "caller": None, "access_key_id": None, "params": {}, "read_only": True,
                                 "durable": False, "audited": False, "model": None}
        status, body = self._handle(http, params, source_ip, secure, request_id, trail)
        if trail["audited"]:
            return Reply(status, body)
        try:
            pending = self._audit_trail(trail, source_ip, user_agent, request_id, loop)
        except Exception as exc:  # noqa: BLE001  (a bug in making the event: never answer unaudited what must be audited)
            log.exception("request %s: could not make its audit event", request_id)
            if not trail["durable"]:
                return Reply(status, body)
            return Reply(*self._refuse(exc, request_id, trail))
        if pending is None:
            return Reply(status, body)
        return Reply(status, body, pending, lambda err: self._refuse(err, request_id, trail))

    def _refuse(self, error: BaseException, request_id: str, trail: dict[str, Any]) -> tuple[int, bytes]:
        return render_error(unaudited(request_id, trail["operation"], error), request_id, trail["model"])

    def _handle(self, http: sigv4.HttpRequest, params: dict[str, str], source_ip: str, secure: bool,
                request_id: str, trail: dict[str, Any]) -> tuple[int, bytes]:
        model = None
        try:
            if params.get("Action") in _UNSIGNED_ACTIONS and not _is_signed(http, params):
                return self._handle_unsigned(http, params, source_ip, secure, request_id, trail)
            signed = sigv4.parse(http, params, regions=self.regions.by_region)
            if signed.service not in SERVICES:
                raise IncompleteSignature(f"Credential should be scoped to correct service: '{SERVICES[0]}'. ")
            trail.update(service=signed.service, region=signed.region, access_key_id=signed.access_key_id)
            model = service_model(signed.service)
            trail["model"] = model
            # the operation is known from its name alone: the parameters are decoded only once the caller is
            # authenticated (cheap before expensive; AWS, too, reports a bad parameter after authentication)
            action = params.get("Action")
            op_model = model.operation_model(action) if action in model.operation_names else None
            op = OPERATIONS.get((signed.service, op_model.name)) if op_model is not None else None
            trail.update(read_only=not (op is not None and op.write), durable=_durable(signed.service, action))
            write = op is not None and op.write
            now = self.clock()
            with self.store.write() if write else self.store.read() as tx:
                caller = self.authenticate(tx, http, signed, now)
                trail["caller"] = caller
                # what temporary credentials of the caller's kind may call at all, before anything runs
                check_session_limits(caller.session, signed.service,
                                     op_model.name if op_model is not None else params.get("Action", ""))
                op_model, inp = parse_request(params, model)
                trail["params"] = redact(inp, op_model.input_shape) if op_model.input_shape is not None else inp
                if op is None:
                    raise InvalidAction(f"Could not find operation {op_model.name} for version {model.api_version}")
                ctx = self.context(caller, tx, now, signed.region, source_ip, secure, http.headers.get("user-agent", ""), request_id)
                if op.resource is not None:
                    authorize(ctx, op.action, op.resource(ctx, inp), op.keys(ctx, inp) if op.keys else None)
                output = op.func(ctx, inp)
                if write:
                    tx.bump(caller.account_id)
                    self._audit_trail(trail, source_ip, http.headers.get("user-agent", ""), request_id, tx=tx)
            trail["audited"] = write and self.audit is not None
            if self.usage is not None:
                if not signed.security_token:
                    self.usage.key_used(signed.access_key_id, now, signed.service, signed.region)
                if "role_used" in ctx.extra:
                    account, role_key = ctx.extra["role_used"]
                    self.usage.role_used(account, role_key, now, signed.region)
            return 200, render_response(op_model, output, request_id)
        except AwsError as err:
            trail.update(error_code=err.code, error_message=err.message)
            return render_error(err, request_id, model)
        except AuditUnavailable as exc:  # the event was to be written with the change: both are rolled back
            unavailable = unaudited(request_id, trail["operation"], exc)
            trail.update(error_code=unavailable.code, error_message=unavailable.message)
            return render_error(unavailable, request_id, model)
        except Exception:
            log.exception("request %s failed", request_id)
            trail.update(error_code=InternalFailure.code, error_message="internal error")
            return render_error(InternalFailure("We encountered an internal error. Please try again."), request_id, model)

    def _handle_unsigned(self, http: sigv4.HttpRequest, params: dict[str, str], source_ip: str, secure: bool,
                         request_id: str, trail: dict[str, Any]) -> tuple[int, bytes]:
        """AssumeRoleWithWebIdentity: unsigned, the web identity token is the credential."""
        model = service_model("sts")
        trail.update(service="sts", model=model, durable=_durable("sts", params.get("Action")))
        op_model, inp = parse_request(params, model)
        op = OPERATIONS[("sts", op_model.name)]
        trail.update(params=redact(inp, op_model.input_shape))
        role_arn = str(inp.get("RoleArn", ""))
        parts = role_arn.split(":")
        account = parts[4] if len(parts) > 4 else ""
        partition = parts[1] if len(parts) > 1 and parts[1] else "aws"
        from iamroles.iam.context import Caller
        from iamroles.policy import Principal, PrincipalType

        caller = Caller(Principal(PrincipalType.WEB_IDENTITY), account, partition, "")
        now = self.clock()
        with self.store.read() as tx:
            ctx = CallContext(caller=caller, tx=tx, now=now, region="us-east-1", master_key=self.master_key,
                              source_ip=source_ip, secure_transport=secure, user_agent=http.headers.get("user-agent", ""),
                              request_id=request_id, cache=self.cache, keyring=self.keyring,
                              extra={"jwks_cache": self.jwks_cache})
            output = op.func(ctx, inp)
        if self.usage is not None and "role_used" in ctx.extra:
            self.usage.role_used(*ctx.extra["role_used"], now, "us-east-1")
        return 200, render_response(op_model, output, request_id)

    def reset(self) -> None:
        if self.on_reset is not None:
            self.on_reset()
        self.cache.clear()


_UNSIGNED_ACTIONS = frozenset(name for service, name in UNSIGNED_OPERATIONS)
_DURABLE: dict[tuple[str, str | None], bool] = {}


def _durable(service: str, action: str | None) -> bool:
    """Whether the call's answer waits for its event: it changes state (the registry's ``write``), or it
    answers with a secret (its output holds a member the model marks sensitive: credentials, an access
    key, an MFA seed). Known by the Action alone, so a request refused before parsing counts too."""
    key = (service, action)
    hit = _DURABLE.get(key)
    if hit is None:
        op = OPERATIONS.get(key)  # type: ignore[arg-type]
        if op is None:
            hit = False
        else:
            out = service_model(service).operation_model(op.name).output_shape
            hit = op.write or (out is not None and holds_secret(out))
        if len(_DURABLE) < 4096:
            _DURABLE[key] = hit
    return hit


def _may_write(params: dict[str, str]) -> bool:
    action = params.get("Action", "")
    op = OPERATIONS.get(("iam", action)) or OPERATIONS.get(("sts", action))
    return op is None or op.write


def _is_signed(http: sigv4.HttpRequest, params: dict[str, str]) -> bool:
    return "authorization" in http.headers or "X-Amz-Signature" in params


def _headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in raw:
        key = name.decode("latin-1").lower()
        v = value.decode("latin-1")
        headers[key] = f"{headers[key]},{v}" if key in headers else v
    return headers


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
                await _send(send, 405, b"Method Not Allowed", b"text/plain")
                return
            await self._api(scope, receive, send, path[len(_API_PREFIX):])
            return
        if scope["type"] != "http" or path.startswith(("/iamroles/", "/moto-api/")):
            await self.other(scope, receive, send)
            return
        if scope["method"] not in ("GET", "POST"):
            await _send(send, 405, b"Method Not Allowed", b"text/plain")
            return
        body = await _body(scope, receive)
        if body is None:
            await _send(send, *render_error(_TOO_LARGE, new_id(), None), b"text/xml")
            return
        http = _http_request(scope, body)
        client, secure = _peer(scope)
        if len(body) + len(http.query) > INLINE_MAX:
            # decoding a large request takes milliseconds: not on the event loop
            status, payload = await run_in_threadpool(self._handle_large, http, client, secure)
        else:
            params = _form(http)
            if params.get("Action") in _UNSIGNED_ACTIONS and not _is_signed(http, params):
                status, payload = await asyncio.get_running_loop().run_in_executor(
                    self.unsigned, self.service.handle, http, params, client, secure)
            elif _may_write(params):
                # writes may wait for SQLite's writer lock: keep them off the event loop
                status, payload = await run_in_threadpool(self.service.handle, http, params, client, secure)
            elif self.inline_reads:
                # reads never wait on a lock (WAL / MVCC) and SQLite is a local file: inline, saving the thread hop;
                # a call that issues credentials then awaits its event's commit without holding the loop
                reply = self.service.respond(http, params, client, secure, asyncio.get_running_loop())
                status, payload = await reply.settled()
            else:
                # on PostgreSQL a read that misses the cache waits on the network: never on the event loop
                status, payload = await run_in_threadpool(self.service.handle, http, params, client, secure)
        await _send(send, status, payload, b"text/xml")

    def _handle_large(self, http: sigv4.HttpRequest, client: str, secure: bool) -> tuple[int, bytes]:
        return self.service.handle(http, _form(http), client, secure)

    async def _api(self, scope: dict[str, Any], receive: Any, send: Any, name: str) -> None:
        """``POST /iamroles/v1/NAME``: every call reads (authorise, issue sealed credentials), so it is placed as
        the Query endpoint's reads are: inline on SQLite, in a worker thread on PostgreSQL or for a large body."""
        body = await _body(scope, receive)
        if body is None:
            from .api import to_json

            await _send(send, _TOO_LARGE.status, to_json(error_document(_TOO_LARGE, new_id())), b"application/json")
            return
        http = _http_request(scope, body)
        client, secure = _peer(scope)
        if self.inline_reads and len(body) + len(http.query) <= INLINE_MAX:
            reply = self.service.respond_api(name, http, client, secure, asyncio.get_running_loop())
            status, payload = await reply.settled()
        else:
            status, payload = await run_in_threadpool(self.service.handle_api, name, http, client, secure)
        await _send(send, status, payload, b"application/json")


_API_PREFIX = "/iamroles/v1/"


def _http_request(scope: dict[str, Any], body: bytes) -> sigv4.HttpRequest:
    """What SigV4 verifies: the method, the path as sent, the raw query, the headers and the body."""
    raw_path = scope.get("raw_path") or scope["path"].encode()
    return sigv4.HttpRequest(scope["method"], raw_path.decode("latin-1"), scope.get("query_string", b"").decode("latin-1"),
                             _headers(scope["headers"]), body)


def _form(http: sigv4.HttpRequest) -> dict[str, str]:
    """The Query parameters of ``http``: its query string's and its form body's."""
    return read_form(http.query, http.body, http.headers.get("content-type", ""))


def _peer(scope: dict[str, Any]) -> tuple[str, bool]:
    """The client's address (aws:SourceIp) and whether the connection is TLS (aws:SecureTransport)."""
    client = scope.get("client")
    return (client[0] if client else "127.0.0.1"), scope.get("scheme") == "https"


# The largest IAM or STS request is a policy document of 131,072 characters or a SAML assertion of 100,000,
# URL-encoded (at most three bytes a character): 1 MiB holds either with room; the query string likewise.
MAX_BODY = 1 << 20
MAX_QUERY = 1 << 20
INLINE_MAX = 64 << 10  # larger requests are decoded in a worker thread
_TOO_LARGE = RequestEntityTooLarge(f"The request is larger than {MAX_BODY} bytes.")


async def _body(scope: dict[str, Any], receive: Any) -> bytes | None:
    """The request body, or None when it (or the query string) is over the cap: refused by its declared
    length before any of it is read, else as soon as what arrived passes the cap."""
    if len(scope.get("query_string", b"")) > MAX_QUERY:
        return None
    for name, value in scope["headers"]:
        if name == b"content-length":
            if not value.isdigit() or int(value) > MAX_BODY:
                return None
    chunks = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def _send(send: Any, status: int, payload: bytes, media_type: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", media_type), (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})


def create_app(service: Service) -> Any:
    """The ASGI app: the Query endpoint on every path but /iamroles/* and /moto-api/*."""
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
        return JSONResponse({"status": "ok"})

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app: Starlette):  # type: ignore[no-untyped-def]
        yield
        if service.pruner is not None:
            service.pruner.close()
        if service.audit is not None:
            service.audit.close()
        if service.usage is not None:
            service.usage.close()

    return _QueryEndpoint(service, Starlette(
        lifespan=lifespan,
        routes=[
            Route("/moto-api/reset", reset, methods=["POST"]),
            Route("/iamroles/health", health, methods=["GET"]),
            Route("/iamroles/test/clock", clock, methods=["POST"]),
        ]
    ))


