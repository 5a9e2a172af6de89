"""The audit trail: a CloudTrail-shaped event for every call, written in batches.

Events are queued by request handlers and written by one background thread
(so a read-only call costs no database write on its path); ``close`` flushes
what is queued. Secrets never enter an event: parameters whose names mark
them as secret are dropped, and responses are not recorded.
"""
from __future__ import annotations

import json
import logging
import random
import threading
from collections import deque
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from iamroles.iam.context import Caller
from iamroles.policy import PrincipalType
from iamroles.store import Store

__all__ = ["AuditLog", "event_record"]

log = logging.getLogger("iamroles.audit")
_SECRET_WORDS = ("secret", "password", "tokencode", "webidentitytoken", "samlassertion", "sessiontoken", "privatekey")
_TYPES = {
    PrincipalType.ACCOUNT: "Root",
    PrincipalType.USER: "IAMUser",
    PrincipalType.ASSUMED_ROLE: "AssumedRole",
    PrincipalType.FEDERATED_USER: "FederatedUser",
    PrincipalType.WEB_IDENTITY: "WebIdentityUser",
    PrincipalType.SERVICE: "AWSService",
}


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _clean(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {_camel(k): _clean(v) for k, v in value.items() if not any(w in k.lower() for w in _SECRET_WORDS)}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, bytes):
        return None
    return value


def new_id() -> str:
    """A request or event id (a UUID 4 as AWS's are). Identifiers, not secrets: no OS entropy per request,
    and formatted directly (the uuid module's object costs twice as much)."""
    h = "%032x" % random.getrandbits(128)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


_dumps = json.JSONEncoder(separators=(",", ":")).encode


def event_record(*, when: datetime, service: str, operation: str, region: str, source_ip: str, user_agent: str,
                 request_id: str, caller: Caller | None, access_key_id: str | None, params: Mapping[str, Any],
                 error_code: str | None, error_message: str | None, read_only: bool) -> dict[str, Any]:
    identity: dict[str, Any] | None = None
    if caller is not None:
        p = caller.principal
        identity = {"type": _TYPES.get(p.type, p.type.value), "principalId": p.user_id or caller.account_id, "arn": p.arn,
                    "accountId": caller.account_id, "accessKeyId": access_key_id}
        if p.type is PrincipalType.USER:
            identity["userName"] = p.name
    elif access_key_id:
        identity = {"type": "Unknown", "accessKeyId": access_key_id}
    return {
        "eventVersion": "1.08",
        "userIdentity": identity,
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": f"{service}.amazonaws.com",
        "eventName": operation,
        "awsRegion": region,
        "sourceIPAddress": source_ip,
        "userAgent": user_agent,
        "requestParameters": _clean(params) or None,
        "responseElements": None,
        "errorCode": error_code,
        "errorMessage": error_message,
        "requestID": request_id,
        "eventID": new_id(),
        "readOnly": read_only,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": caller.account_id if caller else None,
    }


class AuditLog:
    """Handlers append rows to a deque (no lock, no wake-up: waking a writer thread per event cost more than
    the request, profiled); one thread writes what has gathered every ``interval`` seconds, in batches.

    An event becomes its row (its JSON text included) on the request's path, a few microseconds spread
    evenly: serialising a whole batch in the writer held the GIL long enough to show in the p99 of
    the requests waiting for it (profiled)."""

    def __init__(self, store: Store, batch: int = 1000, interval: float = 0.5) -> None:
        self.store = store
        self._pending: deque[dict[str, Any]] = deque()
        self._batch = batch
        self._interval = interval
        self._stop = threading.Event()
        self._lock = threading.Lock()  # one drain at a time (the thread's, or close()'s last one)
        self._thread = threading.Thread(target=self._run, name="iamroles-audit", daemon=True)
        self._thread.start()

    def record(self, event: dict[str, Any], account_id: str | None, principal_arn: str | None, when: datetime) -> None:
        self._pending.append({
            "event_time": when,
            "account_id": account_id,
            "event_source": event["eventSource"].split(".")[0],
            "event_name": event["eventName"],
            "principal_arn": principal_arn,
            "error_code": event["errorCode"],
            "request_id": event["requestID"],
            "record": _dumps(event),
        })

    def flush(self) -> None:
        """Write every event recorded so far."""
        with self._lock:
            pending = self._pending
            while pending:
                rows = []
                while pending and len(rows) < self._batch:
                    rows.append(pending.popleft())
                self._write(rows)

    def _write(self, rows: list[dict[str, Any]]) -> None:
        try:
            with self.store.write(invalidate=False) as tx:
                tx.insert_audit(rows)
        except Exception:  # pragma: no cover - the trail must not take the service down
            log.exception("could not write %d audit events", len(rows))

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.flush()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self.flush()
