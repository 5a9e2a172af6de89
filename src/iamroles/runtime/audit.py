"""The audit trail: a CloudTrail-shaped event for every call, and the guarantee behind it.

What is guaranteed (Vault's rule: a request that cannot be audited is not answered):

* A mutating call (an operation the registry marks ``write``) that succeeds writes its event in the
  same transaction as its change: nothing is acknowledged without its event, and no event is
  recorded without its change.
* Any other event that must be durable (a refused or failed mutating call, and every call that
  answers with a secret: AssumeRole and the other STS credential issuers, the JSON API's
  service-credentials) is handed to the writer thread with :meth:`AuditLog.commit`; the answer
  waits for its batch to commit (group commit: the events of concurrent requests share one
  transaction). If the event cannot be written the caller answers ServiceUnavailable instead.
* Committed means that no crash of iamroles can lose it. On SQLite the trail's own commits (the
  group commits above) are not fsynced one by one: an OS crash or power cut can lose the last of them
  (a change's event always has its change's durability). PostgreSQL commits as it is configured to.
* Read-only calls are recorded asynchronously (:meth:`AuditLog.record`), written within
  ``interval`` seconds; a crash can lose the last of them.
* One bad event never loses another: every column value fits its column (cut, with a marker, where
  it would not), and a batch that fails is written again one event at a time.
* Secrets never enter an event: request parameters and response elements the model marks sensitive (and
  session tokens) are written as ``HIDDEN_DUE_TO_SECURITY_REASONS`` (:func:`iamroles.protocol.redact`);
  only the responses of changes and credential issuance are recorded.
"""
from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections import deque
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from iamroles.iam.context import Caller
from iamroles.policy import PrincipalType
from iamroles.store import Store, Tx
from iamroles.store.schema import audit_events

from .trail import AuditUnavailable, CallRecord, new_id

__all__ = ["AuditLog", "Pending", "event_record"]

log = logging.getLogger("iamroles.audit")
_TYPES = {
    PrincipalType.ACCOUNT: "Root",
    PrincipalType.USER: "IAMUser",
    PrincipalType.ASSUMED_ROLE: "AssumedRole",
    PrincipalType.FEDERATED_USER: "FederatedUser",
    PrincipalType.WEB_IDENTITY: "WebIdentityUser",
    PrincipalType.SERVICE: "AWSService",
}
# How long an answer waits for its event before it is refused (the store is hung, not failing).
WAIT_SECONDS = 30.0
# CloudTrail omits request parameters larger than 100 KB
# (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html),
# and its standard event is at most 256 KB (an event data store's MaxEventSize "Standard"); free text is cut
# shorter than that.
MAX_PARAMETERS = 100 * 1024
MAX_RECORD = 256 * 1024
MAX_ERROR_MESSAGE = 4096
MAX_USER_AGENT = 1024
CUT = "\u2026"  # what ends a value that was cut to fit


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _clean(value: Any) -> Any:
    """Request parameters as CloudTrail shows them: camelCase names, ISO times, no raw bytes."""
    if isinstance(value, Mapping):
        return {_camel(k) if isinstance(k, str) else k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, bytes):
        return None
    return value


_dumps = json.JSONEncoder(separators=(",", ":")).encode


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - len(CUT)] + CUT


def _fit(value: str | None, width: int) -> str | None:
    """``value`` as its column can hold it: text PostgreSQL stores (no NUL, no lone surrogate), at most
    ``width`` characters (cut, ending in the marker)."""
    if value is None:
        return None
    if not value.isascii():
        value = value.encode("utf-8", "replace").decode("utf-8")
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    return _cut(value, width)


def _shorten(value: Any, limit: int = 1024) -> Any:
    if isinstance(value, str):
        return _cut(value, limit)
    if isinstance(value, dict):
        return {k: _shorten(v, limit) for k, v in value.items()}
    return value


_WIDTH: dict[str, int] = {c.name: int(getattr(c.type, "length", 0)) for c in audit_events.columns if getattr(c.type, "length", None)}


def event_record(*, when: datetime, service: str, operation: str, region: str, source_ip: str, user_agent: str,
                 request_id: str, caller: Caller | None, access_key_id: str | None, params: Mapping[str, Any],
                 error_code: str | None, error_message: str | None, read_only: bool,
                 response: Mapping[str, Any] | None = None, additional: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The event; ``params`` and ``response`` must already be redacted (:func:`iamroles.protocol.redact`).

    ``responseElements`` is the answer of a call that changed something or issued credentials, as CloudTrail
    records it for "actions that make changes (create, update, or delete actions)"
    (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html),
    null for reads, failures and answers with nothing in them. ``additional`` is CloudTrail's
    ``additionalEventData`` ("Additional data about the event that was not part of the request or response"): the
    policy validation findings of a stored document (serve --validate-policies)."""
    identity: dict[str, Any] | None = None
    if caller is not None:
        p = caller.principal
        identity = {"type": _TYPES.get(p.type, p.type.value), "principalId": p.user_id or caller.account_id, "arn": p.arn,
                    "accountId": caller.account_id, "accessKeyId": access_key_id}
        if p.type is PrincipalType.USER:
            identity["userName"] = p.name
        session = caller.session
        if session is not None and session.kind == "root":
            # a privileged root session (AssumeRoot): CloudTrail marks its calls "assumedRoot" (id_root-user-privileged-
            # task.html, "Track privileged tasks in CloudTrail"); the AssumeRoot event that issued it names its issuer
            identity["sessionContext"] = {
                "attributes": {"creationDate": datetime.fromtimestamp(session.issued, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                               "mfaAuthenticated": "false"},
                "assumedRoot": "true",
            }
    elif access_key_id:
        identity = {"type": "Unknown", "accessKeyId": access_key_id}
    if error_message is not None and len(error_message) > MAX_ERROR_MESSAGE:
        error_message = _cut(error_message, MAX_ERROR_MESSAGE)
    return {
        "eventVersion": "1.08",
        "userIdentity": identity,
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": f"{service}.amazonaws.com",
        "eventName": operation,
        "awsRegion": region,
        "sourceIPAddress": source_ip,
        "userAgent": _cut(user_agent, MAX_USER_AGENT),
        "requestParameters": _clean(params) or None,
        "responseElements": (_clean(response) or None) if response is not None and error_code is None else None,
        "errorCode": error_code,
        "errorMessage": error_message,
        **({"additionalEventData": dict(additional)} if additional else {}),
        "requestID": request_id,
        "eventID": new_id(),
        "readOnly": read_only,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": caller.account_id if caller else None,
    }


def audit_row(event: dict[str, Any], account_id: str | None, principal_arn: str | None, when: datetime) -> dict[str, Any]:
    """The event as a row of ``audit_events``, every value fitting its column.

    Made on the request's path (its JSON text included), a few microseconds spread evenly: serialising
    a whole batch in the writer held the GIL long enough to show in the p99 of the requests waiting for
    it (profiled)."""
    record = _dumps(event)
    if len(record) > MAX_PARAMETERS:
        size = len(_dumps(event.get("requestParameters")))
        if size > MAX_PARAMETERS:
            event = {**event, "requestParameters": {"omitted": f"{size} characters of request parameters"}}
            record = _dumps(event)
        if len(record) > MAX_RECORD:  # whatever else was sent long (an Action, a presigned URL's key id) is cut
            event = _shorten(event)
            record = _dumps(event)
    w = _WIDTH
    return {
        "event_time": when,
        "account_id": _fit(account_id, w["account_id"]),
        "event_source": _fit(str(event["eventSource"]).split(".")[0], w["event_source"]),
        "event_name": _fit(str(event["eventName"]), w["event_name"]),
        "principal_arn": _fit(principal_arn, w["principal_arn"]),
        "error_code": _fit(event["errorCode"], w["error_code"]),
        "request_id": _fit(str(event["requestID"]), w["request_id"]),
        "record": record,  # JSON with ensure_ascii: NUL and lone surrogates are escapes, not characters
    }


class Pending:
    """An event on its way to the trail. The writer thread settles it when its batch commits or fails;
    the request waits for that in its thread (:meth:`wait`) or in the event loop (:meth:`wait_async`)."""

    __slots__ = ("_event", "_future", "error")

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.error: BaseException | None = None
        self._future: asyncio.Future[BaseException | None] | None = loop.create_future() if loop is not None else None
        self._event = threading.Event() if loop is None else None

    def wait(self, timeout: float = WAIT_SECONDS) -> BaseException | None:
        """In a thread: None once the event is committed, else why it was not."""
        assert self._event is not None
        if not self._event.wait(timeout):
            return AuditUnavailable(f"the audit trail did not commit within {timeout:g} s")
        return self.error

    async def wait_async(self, timeout: float = WAIT_SECONDS) -> BaseException | None:
        """In the event loop it was made for: None once the event is committed, else why it was not."""
        future = self._future
        assert future is not None
        if future.done():
            return future.result()
        timer = future.get_loop().call_later(timeout, _expire, future, timeout)
        try:
            return await future
        finally:
            timer.cancel()


def _expire(future: asyncio.Future[BaseException | None], timeout: float) -> None:
    if not future.done():
        future.set_result(AuditUnavailable(f"the audit trail did not commit within {timeout:g} s"))


def _settle(items: list[tuple[dict[str, Any], Pending | None]], error: BaseException | None) -> None:
    """Release the requests waiting for these events (one wake-up per event loop, not per event)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[BaseException | None]]] = {}
    for _, pending in items:
        if pending is None:
            continue
        if pending._event is not None:
            pending.error = error
            pending._event.set()
        elif pending._future is not None:
            by_loop.setdefault(pending._future.get_loop(), []).append(pending._future)
    for loop, futures in by_loop.items():
        try:
            loop.call_soon_threadsafe(_resolve, futures, error)
        except RuntimeError:  # the loop has closed: nobody is waiting any more
            pass


def _resolve(futures: list[asyncio.Future[BaseException | None]], error: BaseException | None) -> None:
    for f in futures:
        if not f.done():
            f.set_result(error)


def _why(exc: BaseException) -> str:
    """The database's reason in one short line (SQLAlchemy's own text would add the statement's parameters)."""
    orig = getattr(exc, "orig", None) or exc
    first = (str(orig).strip().splitlines() or [""])[0]
    return f"{type(orig).__name__}: {first[:200]}"


class AuditLog:
    """The trail's writer: one thread writes what handlers hand it, in batches.

    :meth:`record` appends to a deque and returns (no lock, no wake-up: waking a writer thread per event
    cost more than the request, profiled); those events are written every ``interval`` seconds.
    :meth:`commit` also wakes the writer, which writes everything gathered so far in one transaction and
    settles the waiting requests; while it commits, the next group gathers."""

    def __init__(self, store: Store, batch: int = 1000, interval: float = 0.5) -> None:
        self.store = store
        self._pending: deque[tuple[dict[str, Any], Pending | None]] = deque()
        self._batch = batch
        self._interval = interval
        self._wake = threading.Condition(threading.Lock())
        self._urgent = False
        self._stopping = False
        self._lock = threading.Lock()  # one drain at a time (the thread's, or close()'s last one)
        # used under _lock only. Not fsynced commit by commit on SQLite (see Store.writer): an event is
        # committed once a crash of this process cannot lose it; the disk sync would cost every credential
        # issuance a millisecond or more of latency (measured: AssumeRole at one client 1100 -> 250-500/s)
        self._writer = store.writer(synced=False)
        self._thread = threading.Thread(target=self._run, name="iamroles-audit", daemon=True)
        self._thread.start()

    def write(self, call: CallRecord, when: datetime, *, tx: Tx | None = None,
              loop: asyncio.AbstractEventLoop | None = None) -> Pending | None:
        """Record a call: in ``tx`` (committed with the call's change or not at all), else committed now with a
        :class:`Pending` to wait for when ``call.durable`` (``loop``: waited for in that event loop), else soon."""
        event = event_record(
            when=when, service=call.service, operation=call.operation, region=call.region, source_ip=call.source_ip,
            user_agent=call.user_agent, request_id=call.request_id, caller=call.caller, access_key_id=call.access_key_id,
            params=call.params, error_code=call.error_code, error_message=call.error_message, read_only=call.read_only,
            response=call.response, additional=call.additional,
        )
        caller = call.caller
        account, arn = (caller.account_id, caller.principal.arn) if caller is not None else (None, None)
        if tx is not None:
            self.write_in(tx, event, account, arn, when)
            return None
        if call.durable:
            return self.commit(event, account, arn, when, loop)
        self.record(event, account, arn, when)
        return None

    def record(self, event: dict[str, Any], account_id: str | None, principal_arn: str | None, when: datetime) -> None:
        """Write the event soon (read-only calls)."""
        self._pending.append((audit_row(event, account_id, principal_arn, when), None))

    def commit(self, event: dict[str, Any], account_id: str | None, principal_arn: str | None, when: datetime,
               loop: asyncio.AbstractEventLoop | None = None) -> Pending:
        """Write the event now, with whatever else is waiting; the :class:`Pending` says when it is committed
        (``loop``: the request waits in that event loop, else in its thread)."""
        pending = Pending(loop)
        self._pending.append((audit_row(event, account_id, principal_arn, when), pending))
        with self._wake:
            stopped = self._stopping
            self._urgent = True
            self._wake.notify()
        if stopped:  # shutting down: the writer may be gone, write it here
            self.flush()
        return pending

    def write_in(self, tx: Any, event: dict[str, Any], account_id: str | None, principal_arn: str | None,
                 when: datetime) -> None:
        """Write the event in the caller's transaction (a mutating call's, with its change); raises
        :class:`AuditUnavailable` if the store refuses it, so that the change is rolled back with it."""
        row = audit_row(event, account_id, principal_arn, when)
        try:
            tx.insert_audit([row])
        except Exception as exc:  # noqa: BLE001
            raise AuditUnavailable(_why(exc)) from None

    def flush(self) -> None:
        """Write every event handed over so far."""
        with self._lock:
            pending = self._pending
            while pending:
                items: list[tuple[dict[str, Any], Pending | None]] = []
                while pending and len(items) < self._batch:
                    items.append(pending.popleft())
                self._write(items)

    def _write(self, items: list[tuple[dict[str, Any], Pending | None]]) -> None:
        try:
            with self._writer.write() as tx:
                tx.insert_audit([row for row, _ in items])
        except Exception as exc:  # noqa: BLE001  (the trail must not take the writer down)
            if len(items) == 1:
                row = items[0][0]
                log.error("audit event of request %s (%s) could not be written: %s", row["request_id"], row["event_name"], _why(exc))
                _settle(items, AuditUnavailable(_why(exc)))
                return
            log.warning("a batch of %d audit events could not be written (%s); writing them one by one", len(items), _why(exc))
            for item in items:
                self._write([item])
            return
        _settle(items, None)

    def _run(self) -> None:
        while True:
            with self._wake:
                if not self._urgent and not self._stopping:
                    self._wake.wait(self._interval)
                self._urgent = False
                stopping = self._stopping
            self.flush()
            if stopping:
                return

    def close(self) -> None:
        """Write what is left and stop the writer."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self._thread.join(10)
        self.flush()
        with self._lock:
            self._writer.close()

