"""The ASGI middleware: per request, the body read once, the mapping asked what it means, the backend asked to
verify and decide, and the app run with the principal, or the refusal answered in the service's envelope."""
from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from iamroles.auth import sigv4
from iamroles.errors import AccessDenied, AwsError, EntityTooLarge, InternalError
from iamroles.policy import Policy
from iamroles.runtime.asgi import Disconnected, peer, raw_path, read_body, send_answer
from iamroles.runtime.call import S3Xml, ShortJson, Wire, answer

from .local import INTERNAL
from .s3 import path_refusal, payload_hash
from .types import PUBLIC, Backend, Check, MappingResult, PolicySource, RequestInfo, Target, Verdict, _Public, new_request_id

__all__ = ["IamAuthMiddleware"]

log = logging.getLogger("iamroles.middleware")
_TOO_LARGE = "Your proposed upload exceeds the maximum allowed size"


def _target(value: Any) -> Target | None:
    if value is None:
        return None
    if isinstance(value, Target):
        if value.context and any(not isinstance(v, str) for v in value.context.values()):
            return replace(value, context=_context(value.context))
        return value
    if isinstance(value, tuple) and len(value) in (2, 3):
        return Target(value[0], value[1], _context(value[2]) if len(value) == 3 and value[2] else None)
    raise TypeError(f"the mapping returned {value!r}: expected a Target, (action, resource[, context]), None or PUBLIC")


def _context(context: Mapping[str, Any]) -> dict[str, str | tuple[str, ...]]:
    return {k: v if isinstance(v, str) else tuple(v) for k, v in context.items()}


def _policy_text(policy: PolicySource) -> str | Policy | None:
    if policy is None or isinstance(policy, (str, Policy)):
        return policy
    if isinstance(policy, Mapping):
        return json.dumps(policy)
    raise TypeError(f"a resource policy is a JSON string, a dict or a compiled Policy, not {type(policy).__name__}")


def _is_async(fn: Any) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(fn, "__call__", None))  # noqa: B004  (an instance whose __call__ is async)


class IamAuthMiddleware:
    """SigV4 + IAM authorisation in front of an ASGI app (see :mod:`iamroles.middleware`).

    ``authorizer``: a :class:`~iamroles.middleware.Backend` (:class:`~iamroles.middleware.LocalAuthorizer` or
    :class:`~iamroles.middleware.RemoteAuthorizer`). ``mapping``: request -> :class:`Target` /
    ``(action, resource[, context])`` / ``None`` (refused) / :data:`PUBLIC`.
    ``resource_policy``: a document or ``(request, target) -> document``;
    ``resource_policy_must_grant``: it must allow the principal itself, as a key policy must.
    ``services``: SigV4 service names accepted (None: any).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        authorizer: Backend,
        mapping: Callable[[RequestInfo], MappingResult | Awaitable[MappingResult]],
        resource_policy: PolicySource | Callable[[RequestInfo, Target], PolicySource | Awaitable[PolicySource]] = None,
        resource_policy_must_grant: bool = False,
        services: Sequence[str] | None = None,
        allow_unsigned_payload: bool = False,
        max_body_size: int = 64 * 1024 * 1024,
        error_format: str = "xml",
    ) -> None:
        if error_format not in ("xml", "json"):
            raise ValueError("error_format is 'xml' or 'json'")
        self.app = app
        self.authorizer = authorizer
        self.mapping = mapping
        self._mapping_async = _is_async(mapping)
        self._policy_fn = resource_policy if callable(resource_policy) else None
        self._policy_async = _is_async(resource_policy)
        self._policy = None if callable(resource_policy) else _policy_text(resource_policy)
        self.resource_policy_must_grant = resource_policy_must_grant
        self.services = tuple(services) if services is not None else None
        self.allow_unsigned_payload = allow_unsigned_payload
        self.max_body_size = max_body_size
        self.error_format = error_format
        self._wire: Wire = ShortJson() if error_format == "json" else S3Xml()

    async def aclose(self) -> None:
        await self.authorizer.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http" or kind == "websocket":
            await self._handle(scope, receive, send, kind == "http")
        elif kind == "lifespan":
            await self.app(scope, self._lifespan_receive(receive), send)
        else:
            await self.app(scope, receive, send)

    def _lifespan_receive(self, receive: Receive) -> Receive:
        async def wrapped() -> Message:
            message = await receive()
            if message.get("type") == "lifespan.shutdown":
                try:
                    await self.aclose()
                except Exception:
                    log.exception("closing the authorizer failed")
            return message
        return wrapped

    async def _handle(self, scope: Scope, receive: Receive, send: Send, is_http: bool) -> None:
        request_id = new_request_id()
        headers = sigv4.asgi_headers(scope["headers"])

        # the body, bounded, read once
        body = b""
        if is_http:
            try:
                found_body = await read_body(receive, self.max_body_size, headers.get("content-length"))
            except Disconnected:
                return
            if found_body is None:
                await self._refuse(scope, receive, send, EntityTooLarge(_TOO_LARGE), request_id)
                return
            body = found_body

        source_ip, secure = peer(scope)
        query = scope.get("query_string", b"").decode("latin-1")
        info = RequestInfo(scope, scope.get("method", "GET"), scope["path"], query, headers, body, source_ip, secure)

        try:
            mapped: Any = self.mapping(info)
            if self._mapping_async or (mapped is not None and not isinstance(mapped, (Target, tuple, _Public)) and inspect.isawaitable(mapped)):
                mapped = await mapped
            if mapped is PUBLIC:
                scope["iamroles"] = None
                await self.app(scope, _replay(body, receive) if is_http else receive, send)
                return
            target = _target(mapped)
            if target is None:
                await self._refuse(scope, receive, send, AccessDenied("Access Denied"), request_id)
                return
            policy = self._policy
            if self._policy_fn is not None:
                found: Any = self._policy_fn(info, target)
                if self._policy_async or (found is not None and not isinstance(found, (str, Policy)) and inspect.isawaitable(found)):
                    found = await found
                policy = _policy_text(found)
        except Exception:
            log.exception("request %s: the mapping or the resource-policy callable failed", request_id)
            await self._refuse(scope, receive, send, InternalError(INTERNAL), request_id)
            return

        # what the signature covers: the path as sent, the body's hash
        path = raw_path(scope)
        refusal = path_refusal(path, headers, query)
        if refusal is not None:
            await self._refuse(scope, receive, send, refusal, request_id)
            return
        unsigned_ok = self.allow_unsigned_payload
        http = sigv4.HttpRequest(info.method, path, query, headers, b"", payload_hash(headers, body, unsigned_ok), unsigned_ok)
        check = Check(http, target.action, target.resource, target.context, target.resource_account, policy, self.services,
                      source_ip, secure, request_id, self.resource_policy_must_grant, self._wire)
        try:
            verdict = await self.authorizer.decide(check)
        except Exception:
            log.exception("request %s: the authorizer failed", request_id)
            await self._refuse(scope, receive, send, InternalError(INTERNAL), request_id)
            return
        if not verdict.allowed:
            await self._refuse_verdict(scope, receive, send, verdict, request_id)
            return
        scope["iamroles"] = verdict.identity
        await self.app(scope, _replay(body, receive) if is_http else receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, err: AwsError, request_id: str) -> None:
        """``err`` in the service's envelope, as the runtime writes every error (:func:`iamroles.runtime.call.answer`)."""
        status, payload = answer(self._wire, err, request_id)
        await self._send_refusal(scope, receive, send, status, err.code, payload, request_id)

    async def _refuse_verdict(self, scope: Scope, receive: Receive, send: Send, verdict: Verdict, request_id: str) -> None:
        """A backend's refusal: as it wrote it (the in-process one), or written here from its code and message."""
        code = verdict.code or "AccessDenied"
        request_id = verdict.request_id or request_id
        payload = verdict.body
        if payload is None:
            payload = self._wire.error(verdict.status, code, verdict.message or "Access Denied",
                                       "Sender" if verdict.status < 500 else "Receiver", request_id)
        await self._send_refusal(scope, receive, send, verdict.status, code, payload, request_id)

    async def _send_refusal(self, scope: Scope, receive: Receive, send: Send, status: int, code: str, payload: bytes,
                            request_id: str) -> None:
        if scope["type"] == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1008, "reason": code})
            return
        await send_answer(send, status, payload, self._wire.media_type, ((b"x-amz-request-id", request_id.encode()),),
                          head=scope.get("method") == "HEAD")


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body, read already, handed to the app as one message; then the connection's own (http.disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
