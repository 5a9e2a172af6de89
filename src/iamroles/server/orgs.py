"""AWS Organizations calls in the AWS JSON 1.1 protocol (``X-Amz-Target: AWSOrganizationsV20161128.<Op>``), on the
same endpoint as IAM and STS, over a :class:`~iamroles.runtime.Service` (issue 17).

Per call, as the Query endpoint does: parse the SigV4 signature (scoped to ``organizations``) -> in one transaction:
authenticate the caller, check what its kind of credentials may call, decode and check the JSON input by the
botocore model, authorise the call with the policy core (``organizations:<Op>``, the caller's SCPs included), run
the operation, write its audit record with its change, commit -> render JSON. Errors are the protocol's
``{"__type", "Message"}``; an IAM denial is Organizations' AccessDeniedException.
"""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any, ClassVar

from iamroles import iam  # noqa: F401  (register operations)
from iamroles.auth import sigv4
from iamroles.errors import AccessDenied, AwsError, InvalidAction
from iamroles.iam import OPERATIONS, authorize_on
from iamroles.iam.organizations import org_error
from iamroles.protocol import check_input, json_envelope, redact, render_json, service_model, target_operation
from iamroles.runtime import Call, CallRecord, Reply, Service, new_id
from iamroles.store import Conflict
from iamroles.sts.limits import check_session_limits

__all__ = ["SERVICE", "TARGET_PREFIX", "JsonWire", "handle", "operation_of", "respond"]

SERVICE = "organizations"
_MODEL = service_model(SERVICE)
TARGET_PREFIX: str = _MODEL.metadata["targetPrefix"]
# AWS's Organizations endpoint is in us-east-1 (the region its requests are signed for)
_REGION = "us-east-1"


@dataclass(frozen=True, slots=True)
class JsonWire:
    """The JSON 1.1 protocol's error document."""

    media_type: ClassVar[bytes] = b"application/x-amz-json-1.1"

    def error(self, status: int, code: str, message: str, fault: str, request_id: str) -> bytes:
        return json_envelope(code, message)

    def error_with_reason(self, status: int, code: str, message: str, fault: str, request_id: str, reason: str) -> bytes:
        return json_envelope(code, message, reason)


_WIRE = JsonWire()


def operation_of(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The Organizations operation a request's ``X-Amz-Target`` names ("" for a target of the service that names
    nothing known), or None when the request is not for Organizations."""
    for name, value in headers:
        if name == b"x-amz-target":
            text = value.decode("latin-1")
            if not text.startswith(TARGET_PREFIX + "."):
                return None
            return target_operation(text, TARGET_PREFIX) or ""
    return None


_IAM_CONFLICTS = frozenset({"ConcurrentModification", "ServiceFailure", "EntityAlreadyExists"})


def _concurrent() -> AwsError:
    return org_error("ConcurrentModificationException", "AWS Organizations can't complete your request because it "
                     "conflicts with another attempt to modify the same entity. Try again later.")


def may_write(name: str) -> bool:
    op = OPERATIONS.get((SERVICE, name))
    return op is None or op.write


def handle(service: Service, name: str, http: sigv4.HttpRequest, source_ip: str, secure: bool) -> tuple[int, bytes]:
    """In a worker thread: the answer, once the call's record is committed where that is required."""
    return respond(service, name, http, source_ip, secure).wait()


def respond(service: Service, name: str, http: sigv4.HttpRequest, source_ip: str, secure: bool,
            loop: asyncio.AbstractEventLoop | None = None) -> Reply:
    op = OPERATIONS.get((SERVICE, name))
    write = op is None or op.write
    record = CallRecord(SERVICE, name, _REGION, source_ip, http.headers.get("user-agent", ""), new_id(),
                        read_only=not write, durable=write)
    return Call(service, record, _WIRE).run(lambda call: _call(call, name, http, secure), loop)


def _call(call: Call, name: str, http: sigv4.HttpRequest, secure: bool) -> bytes:
    service, record = call.service, call.record
    authenticator = service.authenticator
    signed = authenticator.parse(http, services=(SERVICE,))
    record.access_key_id, record.region = signed.access_key_id, signed.region
    op = OPERATIONS.get((SERVICE, name))
    write = op is not None and op.write
    now = service.clock()
    with service.store.write() if write else service.store.read() as tx:
        caller = authenticator.verify(tx, http, signed, now)
        record.caller = caller
        check_session_limits(caller.session, SERVICE, name)
        if name not in _MODEL.operation_names or op is None:
            raise InvalidAction(f"Could not find operation {name} for version {_MODEL.api_version}")
        op_model = _MODEL.operation_model(name)
        if b"\\u0000" in http.body:  # no name, id or policy holds NUL (and PostgreSQL's text cannot)
            raise org_error("InvalidInputException", "The request must not contain NUL characters (\\u0000).",
                                     "INVALID_CHARACTERS")
        try:
            doc = json.loads(http.body or b"{}")
        except (ValueError, RecursionError):
            raise org_error("InvalidInputException", "The request body is not valid JSON.", "INVALID_INPUT") from None
        problem = check_input(doc, op_model)
        if problem is not None:
            raise org_error("InvalidInputException", problem[1], problem[0])
        inp: dict[str, Any] = doc
        if op_model.input_shape is not None:
            record.params = redact(inp, op_model.input_shape)
        ctx = service.context(caller, tx, now, signed.region, record.source_ip, secure, record.user_agent, record.request_id)
        try:
            if op.resource is not None:
                authorize_on(ctx, op.action, op.resource(ctx, inp), op.keys(ctx, inp) if op.keys else None)
            output = op.func(ctx, inp)
        except AccessDenied as err:
            raise org_error("AccessDeniedException", err.message) from None
        except AwsError as err:
            if err.code in _IAM_CONFLICTS:  # a collision with another request (iam.conflicts answers in IAM's words)
                raise _concurrent() from None
            raise
        except Conflict:
            raise _concurrent() from None
        service.note_findings(ctx, record)
        if write:
            if op_model.output_shape is not None and output is not None:
                record.response = redact(output, op_model.output_shape)
            call.audit_in(tx)
    call.audited = write
    return render_json(output)
