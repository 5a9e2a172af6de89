"""One call through an endpoint: its typed audit record, its errors on the wire, and the answer it waits to send.

The Query endpoint and the JSON API run every call through :meth:`Call.run`, which is where any exception
becomes an answer (an :class:`~iamroles.errors.AwsError` as it is; an event the trail could not take as
ServiceUnavailable; anything else logged and answered as InternalFailure) and where the call's one
:class:`CallRecord` goes to the audit trail. The bytes of each error envelope are
:mod:`iamroles.protocol.envelope`'s; a :class:`Wire` picks the endpoint's.

The audit guarantee (Vault's rule: what cannot be audited is not answered): a mutating call that succeeded has
written its record with its change (:meth:`Call.audit_in`); any other call that must be durable (a refused
mutating call, and every call answering with a secret) waits for its record's commit before its answer is sent,
and answers ServiceUnavailable if it cannot be committed; read-only calls' records are written soon after.
"""
from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

from botocore.model import ServiceModel

from iamroles.errors import AwsError, InternalFailure
from iamroles.protocol import api_error_document, query_envelope, s3_envelope, short_json_envelope
from iamroles.store import Tx

from .service import Service
from .trail import AuditUnavailable, CallRecord, Settling, unaudited

__all__ = ["ApiJson", "Call", "QueryXml", "Reply", "S3Xml", "ShortJson", "Wire", "INTERNAL_MESSAGE", "answer", "to_json"]

log = logging.getLogger("iamroles.server")
INTERNAL_MESSAGE = "We encountered an internal error. Please try again."


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    raise TypeError(f"cannot encode {type(value).__name__}")


def to_json(doc: Any) -> bytes:
    """A JSON API document as bytes (times as AWS writes them)."""
    return json.dumps(doc, default=_default, separators=(",", ":")).encode()


# --- the wire ---------------------------------------------------------------------------------------


class Wire(Protocol):
    """An endpoint's error envelope and media type."""

    media_type: ClassVar[bytes]

    def error(self, status: int, code: str, message: str, fault: str, request_id: str) -> bytes: ...

    # a wire whose errors carry the error's ``Reason`` (Organizations' JSON protocol) writes it with
    # ``error_with_reason(status, code, message, fault, request_id, reason)``; others leave it out


@dataclass(frozen=True, slots=True)
class QueryXml:
    """The AWS Query protocol's ``<ErrorResponse>``, in ``model``'s namespace (IAM's until the service is known)."""

    model: ServiceModel | None = None
    media_type: ClassVar[bytes] = b"text/xml"

    def error(self, status: int, code: str, message: str, fault: str, request_id: str) -> bytes:
        return query_envelope(code, message, fault, request_id, self.model)


@dataclass(frozen=True, slots=True)
class ApiJson:
    """iamroles' JSON API: ``{"Error": {Code, Message, Type, HttpStatus}, "RequestId"}``."""

    media_type: ClassVar[bytes] = b"application/json"

    def error(self, status: int, code: str, message: str, fault: str, request_id: str) -> bytes:
        return to_json(api_error_document(status, code, message, fault, request_id))


@dataclass(frozen=True, slots=True)
class S3Xml:
    """S3's ``<Error>`` document: the middleware's default."""

    media_type: ClassVar[bytes] = b"application/xml"

    def error(self, status: int, code: str, message: str, fault: str, request_id: str) -> bytes:
        return s3_envelope(code, message, request_id)


@dataclass(frozen=True, slots=True)
class ShortJson:
    """``{"Error": {"Code", "Message"}, "RequestId"}``: the middleware's ``error_format="json"``."""

    media_type: ClassVar[bytes] = b"application/json"

    def error(self, status: int, code: str, message: str, fault: str, request_id: str) -> bytes:
        return short_json_envelope(code, message, request_id)


def answer(wire: Wire, err: AwsError, request_id: str) -> tuple[int, bytes]:
    """``err`` as ``wire`` writes it, with its HTTP status (and the ``Reason`` some AWS errors carry, on a wire
    that writes it)."""
    reason = getattr(err, "reason", None)
    with_reason = getattr(wire, "error_with_reason", None)
    if reason is not None and with_reason is not None:
        return err.status, bytes(with_reason(err.status, err.code, err.message, err.fault, request_id, reason))
    return err.status, wire.error(err.status, err.code, err.message, err.fault, request_id)


class Reply:
    """An answer, and the audit record that must be committed before it is sent.

    ``refuse`` makes the answer given instead when the record cannot be committed (ServiceUnavailable in
    the endpoint's own envelope)."""

    __slots__ = ("body", "pending", "refuse", "status")

    def __init__(self, status: int, body: bytes, pending: Settling | None = None,
                 refuse: Callable[[BaseException], tuple[int, bytes]] | None = None) -> None:
        self.status, self.body, self.pending, self.refuse = status, body, pending, refuse

    def wait(self) -> tuple[int, bytes]:
        """In a worker thread: the answer to send once its record is committed."""
        if self.pending is None:
            return self.status, self.body
        return self._settled(self.pending.wait())

    async def settled(self) -> tuple[int, bytes]:
        """In the event loop: the answer to send once its record is committed."""
        if self.pending is None:
            return self.status, self.body
        return self._settled(await self.pending.wait_async())

    def _settled(self, error: BaseException | None) -> tuple[int, bytes]:
        if error is None:
            return self.status, self.body
        assert self.refuse is not None
        return self.refuse(error)


# --- the call ---------------------------------------------------------------------------------------


class Call:
    """One call: its record, its wire (a body may change it once it knows the service), and whether its record
    went in with its change already (``audited``, set by the body once that transaction committed).

    ``records``: which calls go to the trail: ``"all"`` (every endpoint's calls), ``"refusals"`` (only those
    refused) or ``"none"``: the middleware's decisions, as CloudTrail records data events only where asked (see
    :class:`iamroles.middleware.LocalAuthorizer`)."""

    __slots__ = ("audited", "record", "records", "service", "wire")

    def __init__(self, service: Service, record: CallRecord, wire: Wire, *, records: str = "all") -> None:
        self.service = service
        self.record = record
        self.wire = wire
        self.audited = False
        self.records = records

    def run(self, body: Callable[[Call], bytes], loop: asyncio.AbstractEventLoop | None = None) -> Reply:
        """``body``'s answer (200), or its error's; then the record, and what the answer waits for (``loop``: the
        caller waits in that event loop)."""
        record = self.record
        try:
            status, payload = 200, body(self)
        except Exception as exc:  # noqa: BLE001  (every failure is answered, here and only here)
            err = self._failure(exc)
            status, payload = answer(self.wire, err, record.request_id)
        if self.audited or (self.records != "all" and (status == 200 or self.records == "none")):
            return Reply(status, payload)
        trail = self.service.audit
        if trail is None:
            return Reply(status, payload)
        try:
            pending = trail.write(record, self.service.clock(), loop=loop)
        except Exception as exc:
            log.exception("request %s: could not make its audit event", record.request_id)
            return Reply(*self._refuse(exc)) if record.durable else Reply(status, payload)
        if pending is None:
            return Reply(status, payload)
        return Reply(status, payload, pending, self._refuse)

    def audit_in(self, tx: Tx) -> None:
        """Write the record in ``tx``, to commit with the call's change (a mutating call that succeeded; the body
        sets ``audited`` once the transaction committed). AuditUnavailable if the store refuses it."""
        trail = self.service.audit
        if trail is not None:
            trail.write(self.record, self.service.clock(), tx=tx)

    def _failure(self, exc: Exception) -> AwsError:
        """The AWS error ``exc`` is answered with, noted in the record (an internal failure's details only in the log)."""
        record = self.record
        if isinstance(exc, AwsError):
            err: AwsError = exc
            record.error_code, record.error_message = err.code, err.message
        elif isinstance(exc, AuditUnavailable):  # the record was to be written with the change: both rolled back
            err = unaudited(record.request_id, record.operation, exc)
            record.error_code, record.error_message = err.code, err.message
        else:
            log.exception("request %s failed", record.request_id)
            err = InternalFailure(INTERNAL_MESSAGE)
            record.error_code, record.error_message = err.code, "internal error"
        return err

    def _refuse(self, why: BaseException) -> tuple[int, bytes]:
        return answer(self.wire, unaudited(self.record.request_id, self.record.operation, why), self.record.request_id)
