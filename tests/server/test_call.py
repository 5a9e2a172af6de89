"""The call wrapper (iamroles.runtime.Call), in process over a real SQLite store and audit trail: every error reaches
the wire with the same code and status in every envelope, each call leaves exactly one audit record, and no secret
is in it.

The envelopes: the Query protocol's <ErrorResponse> (https://docs.aws.amazon.com/IAM/latest/APIReference/CommonErrors.html
lists the codes and statuses), iamroles' JSON API document, and the middleware's S3 <Error> document
(https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#RESTErrorResponses).
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any
from xml.etree import ElementTree

import pytest

from iamroles import errors
from iamroles.auth.sigv4 import HttpRequest
from iamroles.errors import AwsError
from iamroles.protocol import service_model
from iamroles.runtime import AuditUnavailable, Call, CallRecord, Service, new_id
from iamroles.runtime.audit import AuditLog
from iamroles.runtime.call import INTERNAL_MESSAGE, ApiJson, QueryXml, S3Xml, ShortJson, Wire
from iamroles.server.bootstrap import Settings, bootstrap
from iamroles.server.query import respond

from ..auth.test_authenticate import ROOT_KEY, ROOT_SECRET, signed


def _concrete(cls: type[AwsError]) -> Iterator[type[AwsError]]:
    for sub in cls.__subclasses__():
        if not sub.__name__.startswith("_"):
            yield sub
        yield from _concrete(sub)


ERRORS = sorted(set(_concrete(AwsError)), key=lambda c: c.__name__)
WIRES: list[Wire] = [QueryXml(service_model("iam")), QueryXml(service_model("sts")), ApiJson(), S3Xml(), ShortJson()]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    settings = Settings(tmp_path_factory.mktemp("call"), root_access_key=ROOT_KEY, root_secret_key=ROOT_SECRET)
    store, master_key, _ = bootstrap(settings)
    trail = AuditLog(store, interval=0.05)
    yield Service(store, master_key, audit=trail)
    trail.close()
    store.close()


def record(operation: str = "GetRole", durable: bool = False) -> CallRecord:
    return CallRecord("iam", operation, "us-east-1", "192.0.2.1", "test-agent", new_id(), durable=durable)


def raising(exc: BaseException) -> Callable[[Call], bytes]:
    def body(call: Call) -> bytes:
        raise exc
    return body


def read(wire: Wire, payload: bytes) -> tuple[str, str]:
    """The code and message an envelope carries, read as a client would."""
    if isinstance(wire, (ApiJson, ShortJson)):
        doc = json.loads(payload)
        return doc["Error"]["Code"], doc["Error"]["Message"]
    root = ElementTree.fromstring(payload)
    code = root.find(".//{*}Code")
    message = root.find(".//{*}Message")
    assert code is not None and message is not None
    return code.text or "", message.text or ""


def records(service: Service, request_id: str) -> list[dict[str, Any]]:
    assert service.audit is not None
    service.audit.flush()  # type: ignore[attr-defined]
    with service.store.read() as tx:
        found = [json.loads(r) for r in tx.audit(limit=100_000)]
    return [r for r in found if r["requestID"] == request_id]


@pytest.mark.parametrize("cls", ERRORS, ids=lambda c: c.__name__)
def test_every_error_has_its_code_and_status_in_every_envelope(service: Service, cls: type[AwsError]) -> None:
    message = "it failed: <tag> & 'quote'"
    for wire in WIRES:
        rec = record()
        status, payload = Call(service, rec, wire).run(raising(cls(message))).wait()
        assert status == cls.status
        assert read(wire, payload) == (cls.code, message)
        assert (rec.error_code, rec.error_message) == (cls.code, message)
    assert cls.code and 400 <= cls.status < 600


@pytest.mark.parametrize("wire", WIRES, ids=lambda w: type(w).__name__)
def test_an_unexpected_failure_is_internal_failure_with_no_detail(service: Service, wire: Wire, caplog: pytest.LogCaptureFixture) -> None:
    rec = record()
    status, payload = Call(service, rec, wire).run(raising(RuntimeError("db password is hunter2"))).wait()
    assert status == 500
    assert read(wire, payload) == ("InternalFailure", INTERNAL_MESSAGE)
    assert b"hunter2" not in payload
    assert (rec.error_code, rec.error_message) == ("InternalFailure", "internal error")
    [event] = records(service, rec.request_id)
    assert event["errorCode"] == "InternalFailure" and "hunter2" not in json.dumps(event)
    assert "request %s failed" % rec.request_id in caplog.text  # the details are in the log only


@pytest.mark.parametrize("wire", WIRES, ids=lambda w: type(w).__name__)
def test_a_record_refused_with_the_change_is_service_unavailable(service: Service, wire: Wire) -> None:
    status, payload = Call(service, record(), wire).run(raising(AuditUnavailable("disk full"))).wait()
    assert status == 503
    assert read(wire, payload)[0] == "ServiceUnavailable"


def test_each_call_leaves_one_record(service: Service) -> None:
    """A success, an error, a durable success, and a write whose record went in with its change."""
    def ok(call: Call) -> bytes:
        return b"<ok/>"

    def write(call: Call) -> bytes:
        with service.store.write() as tx:
            call.audit_in(tx)
        call.audited = True
        return b"<ok/>"

    def write_then_fail(call: Call) -> bytes:
        with service.store.write() as tx:
            call.audit_in(tx)
            raise errors.LimitExceeded("too many")  # rolled back with its record: the error's record is written instead

    wire = QueryXml()
    calls = [(record(), ok), (record(), raising(errors.NoSuchEntity("no"))), (record("AssumeRole", durable=True), ok),
             (record("CreateRole"), write), (record("CreateRole"), write_then_fail)]
    for rec, body in calls:
        Call(service, rec, wire).run(body).wait()
    for rec, _ in calls:
        [event] = records(service, rec.request_id)
        assert event["eventName"] == rec.operation and event["errorCode"] == rec.error_code
    assert records(service, calls[-1][0].request_id)[0]["errorCode"] == "LimitExceeded"


class _Failing:
    """A trail that cannot take records: it raises, or its commit fails."""

    def __init__(self, raises: bool) -> None:
        self.raises = raises

    def write(self, call: CallRecord, when: datetime, *, tx: Any = None, loop: Any = None) -> Any:
        if self.raises:
            raise ValueError("bug in making the record")
        return self if call.durable else None

    def wait(self) -> BaseException | None:
        return AuditUnavailable("not committed")

    async def wait_async(self) -> BaseException | None:
        return self.wait()

    def close(self) -> None:
        pass


@pytest.mark.parametrize("raises", [True, False], ids=["record-not-made", "record-not-committed"])
@pytest.mark.parametrize("wire", [QueryXml(), ApiJson()], ids=lambda w: type(w).__name__)
def test_a_durable_answer_is_not_sent_unaudited(service: Service, raises: bool, wire: Wire) -> None:
    failing = Service(service.store, service.master_key, audit=_Failing(raises), keyring=service.keyring)
    status, payload = Call(failing, record("AssumeRole", durable=True), wire).run(lambda call: b"credentials").wait()
    assert status == 503 and read(wire, payload)[0] == "ServiceUnavailable" and b"credentials" not in payload
    # a read-only call's answer does not wait for its record
    assert Call(failing, record(), wire).run(lambda call: b"<ok/>").wait() == (200, b"<ok/>")


def test_no_secret_in_the_record_of_a_real_call(service: Service) -> None:
    """Through the Query handler: a signed call's record holds neither the signature nor the secret key that made
    it; AssumeRoleWithWebIdentity's token (sensitive in STS's model) is hidden, though the call fails."""
    http, params = signed({"Action": "CreateUser", "Version": "2010-05-08", "UserName": "call-user"}, service="iam")
    status, body = respond(service, http, params, "127.0.0.1", False).wait()
    assert status == 200, body
    [event] = records(service, _request_id(body))
    assert event["eventName"] == "CreateUser" and event["userIdentity"]["accessKeyId"] == ROOT_KEY
    signature = http.headers["authorization"].rsplit("Signature=", 1)[1]
    assert signature not in json.dumps(event) and ROOT_SECRET not in json.dumps(event)

    token = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIn0.c2lnbmF0dXJlLXNlY3JldA"
    params = {"Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15", "RoleArn": "arn:aws:iam::123456789012:role/r",
              "RoleSessionName": "session", "WebIdentityToken": token}
    unsigned = HttpRequest("POST", "/", "", {"host": "127.0.0.1"}, b"")
    status, body = respond(service, unsigned, params, "127.0.0.1", False).wait()
    assert status == 400, body
    [event] = records(service, _request_id(body))
    assert event["errorCode"] == "InvalidIdentityToken"
    assert event["requestParameters"]["webIdentityToken"] == "HIDDEN_DUE_TO_SECURITY_REASONS"
    assert token not in json.dumps(event) and "c2lnbmF0dXJlLXNlY3JldA" not in json.dumps(event)


def _request_id(body: bytes) -> str:
    found = ElementTree.fromstring(body).findtext(".//{*}RequestId")
    assert found
    return found


@pytest.mark.parametrize(("records_", "kept"), [("all", {"ok", "refused"}), ("refusals", {"refused"}), ("none", set())])
def test_which_calls_are_recorded(service: Service, records_: str, kept: set[str]) -> None:
    """``records=``: every call (the endpoints), only refusals (the middleware's default), or none; the answer is the
    same whatever is recorded."""
    found = set()
    for name, body in (("ok", lambda call: b"fine"), ("refused", raising(errors.AccessDenied("no")))):
        rec = record()
        reply = Call(service, rec, S3Xml(), records=records_).run(body)
        assert reply.status == (200 if name == "ok" else 403)
        if records(service, rec.request_id):
            found.add(name)
    assert found == kept
