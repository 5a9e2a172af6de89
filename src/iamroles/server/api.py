"""iamroles' own JSON API: ``POST /iamroles/v1/NAME``, SigV4-signed for the service name ``iamroles``.

* ``service-credentials``: a role's credentials for a workload, the caller
  passing the role to a service (:mod:`iamroles.sts.service`).
* ``authorize``: another service forwards a request it received; the answer
  is who signed it and the policy decision (:mod:`iamroles.runtime.authorizer`).
* ``delegation-token``: a delegation partner picks up the exchange token of one
  of its finalized requests, once (:func:`iamroles.sts.delegation.pick_up`: iamroles
  has no SNS to publish it to).

Errors use the shape of :func:`iamroles.protocol.error_document` with AWS's
codes and HTTP statuses. Every call runs in :class:`iamroles.runtime.Call` and is audited like an IAM or
STS call: service-credentials answers with a secret, so its answer waits for its event to be committed
(ServiceUnavailable if it cannot be).
"""
from __future__ import annotations

import asyncio
import json
from typing import Any

from iamroles.auth import sigv4
from iamroles.errors import InvalidAction, ValidationError
from iamroles.protocol import HIDDEN
from iamroles.runtime import Call, CallRecord, Reply, Service, authorize_api, new_id
from iamroles.runtime.call import ApiJson, to_json
from iamroles.sts.delegation import pick_up
from iamroles.sts.limits import check_session_limits
from iamroles.sts.service import service_credentials

__all__ = ["MAX_DEPTH", "handle", "read_json", "respond"]

SERVICE_NAME = "iamroles"
OPERATIONS = {"service-credentials": "GetServiceCredentials", "authorize": "AuthorizeRequest",
              "delegation-token": "ReceiveDelegationToken"}
# The API's own sensitive members (it has no botocore model to mark them): the forwarded request carries
# its signature and any session token.
SENSITIVE = {"service-credentials": frozenset(), "authorize": frozenset({"Request"}), "delegation-token": frozenset()}
# Calls whose answer holds a secret: answered only once their event is committed.
DURABLE = frozenset({"service-credentials", "delegation-token"})
# Calls that change what is stored: run in a write transaction, their event committed with the change.
WRITES = frozenset({"delegation-token"})
_WIRE = ApiJson()


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


def handle(service: Service, name: str, http: sigv4.HttpRequest, source_ip: str, secure: bool) -> tuple[int, bytes]:
    """In a worker thread: the answer, once the call's record is committed where that is required."""
    return respond(service, name, http, source_ip, secure).wait()


def respond(service: Service, name: str, http: sigv4.HttpRequest, source_ip: str, secure: bool,
            loop: asyncio.AbstractEventLoop | None = None) -> Reply:
    """The answer, and the audit record it waits for (``loop``: the caller waits in that event loop)."""
    record = CallRecord(SERVICE_NAME, OPERATIONS.get(name, name), "us-east-1", source_ip, http.headers.get("user-agent", ""),
                        new_id(), read_only=name == "authorize", durable=name in DURABLE)
    return Call(service, record, _WIRE).run(lambda call: _call(call, name, http, secure), loop)


def _call(call: Call, name: str, http: sigv4.HttpRequest, secure: bool) -> bytes:
    service, record = call.service, call.record
    if name not in OPERATIONS:
        raise InvalidAction(f"Could not find operation {name} in iamroles' API (have: {', '.join(sorted(OPERATIONS))})")
    authenticator = service.authenticator
    signed = authenticator.parse(http, services=(SERVICE_NAME,))
    record.access_key_id, record.region = signed.access_key_id, signed.region
    now = service.clock()
    write = name in WRITES
    record.read_only = not write
    with service.store.write() if write else service.store.read() as tx:
        caller = authenticator.verify(tx, http, signed, now)
        record.caller = caller
        check_session_limits(caller.session, SERVICE_NAME, OPERATIONS[name])
        inp = read_json(http.body)  # decoded once the caller is known (cheap before expensive)
        hidden = SENSITIVE[name]
        record.params = {k: HIDDEN if k in hidden else v for k, v in inp.items()}
        ctx = service.context(caller, tx, now, signed.region, record.source_ip, secure, record.user_agent, record.request_id)
        if name == "service-credentials":
            out = service_credentials(ctx, inp)
        elif name == "delegation-token":
            request_id = inp.get("DelegationRequestId")
            if not isinstance(request_id, str) or not request_id:
                raise ValidationError("DelegationRequestId (a string) is required.")
            out = pick_up(ctx, request_id)
        else:
            out = authorize_api(service, ctx, inp)
        if write:
            call.audit_in(tx)
    call.audited = write
    service.note_role_used(ctx, signed.region)
    out["RequestId"] = record.request_id
    return to_json(out)
