"""What the audit trail records of a call (:class:`CallRecord`), typed, and the trail's writer as the runtime sees it.

The writer is ``runtime.audit.AuditLog``; the runtime holds it as a :class:`Trail`.
"""
from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from iamroles.auth.caller import Caller
from iamroles.errors import ServiceUnavailable
from iamroles.store import Tx

__all__ = ["AuditUnavailable", "CallRecord", "Settling", "Trail", "new_id", "unaudited"]


class AuditUnavailable(Exception):
    """The trail could not take an event (the store refused it, or did not answer in time)."""


def unaudited(request_id: str, operation: str, why: BaseException) -> ServiceUnavailable:
    """What a call whose event could not be committed answers (its change, if any, rolled back or never made),
    logged once here for every endpoint."""
    logging.getLogger("iamroles.audit").error(
        "request %s (%r): audit event not committed (%s); answered ServiceUnavailable", request_id, operation[:64], why)
    return ServiceUnavailable("The request has failed due to a temporary failure of the server.")


def new_id() -> str:
    """A request or event id (a UUID 4 as AWS's are). Identifiers, not secrets: no OS entropy per request,
    and formatted directly (the uuid module's object costs twice as much)."""
    h = "%032x" % random.getrandbits(128)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


@dataclass(slots=True)
class CallRecord:
    """What the audit trail records of one call, filled in as the call learns it. ``params`` must already be
    redacted (:func:`iamroles.protocol.redact`): no secret is ever put here."""

    service: str
    operation: str
    region: str
    source_ip: str
    user_agent: str
    request_id: str
    caller: Caller | None = None
    access_key_id: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    read_only: bool = True
    durable: bool = False  # the answer waits for the record's commit
    error_code: str | None = None
    error_message: str | None = None
    response: Mapping[str, Any] | None = None  # a change's or a credential issuance's output, redacted as ``params``
    additional: Mapping[str, Any] | None = None  # CloudTrail's additionalEventData (no secret either)


class Settling(Protocol):
    """A record on its way to the trail (``runtime.audit.Pending``): None once committed, else why not."""

    def wait(self) -> BaseException | None: ...

    async def wait_async(self) -> BaseException | None: ...


class Trail(Protocol):
    """The audit trail's writer (``runtime.audit.AuditLog``)."""

    def write(self, call: CallRecord, when: datetime, *, tx: Tx | None = None,
              loop: asyncio.AbstractEventLoop | None = None) -> Settling | None:
        """Record ``call``: in ``tx`` (with its change, raising :class:`AuditUnavailable` if refused), or committed
        soon; for a durable record the :class:`Settling` says when (``loop``: waited for in that event loop)."""
        ...

    def close(self) -> None: ...
