"""iamroles' own JSON API: ``POST /iamroles/v1/NAME``, SigV4-signed for the service name ``iamroles``.

* ``service-credentials``: a role's credentials for a workload, the caller
  passing the role to a service (:mod:`iamroles.sts.service`).
* ``authorize``: another service forwards a request it received; the answer
  is who signed it and the policy decision (:mod:`iamroles.server.authorizer`).

Errors use the shape of :func:`iamroles.protocol.error_document` with AWS's
codes and HTTP statuses. Every call is audited like an IAM or STS call: service-credentials answers
with a secret, so its answer waits for its event to be committed (ServiceUnavailable if it cannot be).
"""
from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from iamroles.auth import sigv4
from iamroles.errors import AwsError, InternalFailure, InvalidAction, ValidationError
from iamroles.protocol import HIDDEN, error_document
from iamroles.sts.limits import check_session_limits

from .audit import Reply, new_id, unaudited

if TYPE_CHECKING:
    from .app import Service

__all__ = ["MAX_DEPTH", "handle", "read_json", "to_json"]

log = logging.getLogger("iamroles.server")
SERVICE_NAME = "iamroles"
OPERATIONS = {"service-credentials": "GetServiceCredentials", "authorize": "AuthorizeRequest"}
# The API's own sensitive members (it has no botocore model to mark them): the forwarded request carries
# its signature and any session token.
SENSITIVE = {"service-credentials": frozenset(), "authorize": frozenset({"Request"})}
# Calls whose answer holds a secret: answered only once their event is committed.
DURABLE = frozenset({"service-credentials"})


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    raise TypeError(f"cannot encode {type(value).__name__}")


def to_json(doc: Any) -> bytes:
    return json.dumps(doc, default=_default, separators=(",", ":")).encode()


# The API's documents are shallow (Request.Headers is the deepest, at three levels): deeper is refused before
# anything walks it (json itself gives up near a thousand, with a RecursionError).
MAX_DEPTH = 32


def read_json(body: bytes) -> dict[str, Any]:
    """The request's JSON object, or ValidationError: not JSON, not an object, nested deeper than MAX_DEPTH, or a
    string holding NUL (no name, ARN or header has one, and PostgreSQL's text cannot hold it). The body is at most
    the server's cap (1 MiB); the walk is iterative and stops at the first problem."""
    try:
        doc = json.loads(body or b"{}")
    except RecursionError:
        raise ValidationError(f"The request body is nested deeper than {MAX_DEPTH} levels.") from None
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        raise ValidationError("The request body must be a JSON object.")
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ValidationError(f"The request body is nested deeper than {MAX_DEPTH} levels.")
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            for text in (key, item):
                if isinstance(text, str) and "\x00" in text:
                    raise ValidationError("The request body's strings must not contain NUL (\\u0000).")
            if isinstance(item, (dict, list)):
                stack.append((item, depth + 1))
    return doc


def handle(service: Service, name: str, http: sigv4.HttpRequest, source_ip: str, secure: bool,
           loop: asyncio.AbstractEventLoop | None = None) -> Reply:
    """The answer, and the audit event it waits for (``loop``: the caller waits in that event loop)."""
    request_id = new_id()
    status, body, trail, error = _handle(service, name, http, source_ip, secure, request_id)
    pending = service.audit_call(
        service=SERVICE_NAME, operation=OPERATIONS.get(name, name), region=trail["region"], source_ip=source_ip,
        user_agent=http.headers.get("user-agent", ""), request_id=request_id, caller=trail["caller"],
        access_key_id=trail["access_key_id"], params=trail["params"], error_code=error.code if error else None,
        error_message=error.message if error else None, read_only=name == "authorize", durable=name in DURABLE,
        loop=loop,
    )
    if pending is None:
        return Reply(status, body)

    def refuse(err: BaseException) -> tuple[int, bytes]:
        unavailable = unaudited(request_id, name, err)
        return unavailable.status, to_json(error_document(unavailable, request_id))

    return Reply(status, body, pending, refuse)


def _handle(service: Service, name: str, http: sigv4.HttpRequest, source_ip: str, secure: bool,
            request_id: str) -> tuple[int, bytes, dict[str, Any], AwsError | None]:
    trail: dict[str, Any] = {"caller": None, "access_key_id": None, "region": "us-east-1", "params": {}}
    try:
        if name not in OPERATIONS:
            raise InvalidAction(f"Could not find operation {name} in iamroles' API (have: {', '.join(sorted(OPERATIONS))})")
        signed = sigv4.parse(http, None, services=(SERVICE_NAME,), regions=service.regions.by_region)
        trail.update(access_key_id=signed.access_key_id, region=signed.region)
        now = service.clock()
        with service.store.read() as tx:
            caller = service.authenticate(tx, http, signed, now)
            trail["caller"] = caller
            check_session_limits(caller.session, SERVICE_NAME, OPERATIONS[name])
            inp = read_json(http.body)  # decoded once the caller is known (cheap before expensive)
            hidden = SENSITIVE[name]
            trail["params"] = {k: HIDDEN if k in hidden else v for k, v in inp.items()}
            ctx = service.context(caller, tx, now, signed.region, source_ip, secure, http.headers.get("user-agent", ""), request_id)
            if name == "service-credentials":
                from iamroles.sts.service import service_credentials

                out = service_credentials(ctx, inp)
            else:
                from .authorizer import authorize_api

                out = authorize_api(service, ctx, inp)
        if service.usage is not None and "role_used" in ctx.extra:
            service.usage.role_used(*ctx.extra["role_used"], now, signed.region)
        out["RequestId"] = request_id
        return 200, to_json(out), trail, None
    except AwsError as err:
        return err.status, to_json(error_document(err, request_id)), trail, err
    except Exception:
        log.exception("request %s failed", request_id)
        error = InternalFailure("We encountered an internal error. Please try again.")
        return error.status, to_json(error_document(error, request_id)), trail, error
