"""The in-process backend's decisions are calls of the runtime's one wrapper: refused as the server refuses, and
recorded in the server's audit trail as CloudTrail records data events (the signer, the action as event source and
name, the resource, the outcome), with no secret in any record.

AWS behaviour reproduced: CloudTrail's record fields (userIdentity, eventSource, eventName, sourceIPAddress,
errorCode, requestID; https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html);
data events (object-level S3 calls) are logged only where asked
(https://docs.aws.amazon.com/awscloudtrail/latest/userguide/logging-data-events-with-cloudtrail.html), so allowed
decisions are recorded with ``audit="all"`` and refusals always.
"""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from iamroles.errors import AccessDenied, InternalError
from iamroles.middleware import IamAuthMiddleware, LocalAuthorizer, RequestInfo, Target
from iamroles.runtime import database_url
from iamroles.runtime.call import S3Xml, answer
from iamroles.store import Store

from .conftest import World, unique
from .test_mechanics import Echo, call, objects, sign


def trail(world: World, request_ids: set[str]) -> dict[str, dict[str, Any]]:
    """The audit records of these requests, by request id (the trail is the server's store)."""
    store = Store(database_url(world.srv.data_dir, world.srv.db_url))
    try:
        with store.read() as tx:
            found = [json.loads(r) for r in tx.audit(limit=10_000)]
    finally:
        store.close()
    return {r["requestID"]: r for r in found if r["requestID"] in request_ids}


def test_every_decision_is_in_the_audit_trail_with_audit_all(world: World) -> None:
    reader = world.assume("reader", unique("audited"))
    key = unique("k")
    # signed requests: allowed, denied (the reader role may not PutObject), not authentic (another secret)
    allowed = sign(reader, "GET", f"/demo/{key}")
    body = b"do not record me"
    denied = sign(reader, "PUT", f"/demo/{key}", body)
    forged = sign({**reader, "SecretAccessKey": reader["SecretAccessKey"][::-1]}, "GET", f"/demo/{key}")
    seen: dict[str, tuple[int, bytes]] = {}

    async def scenario() -> None:
        backend = LocalAuthorizer.open(world.srv.data_dir, cache_ttl=0, audit="all")
        echo = Echo()
        app = IamAuthMiddleware(echo, authorizer=backend, mapping=objects, services=["s3"])
        try:
            for name, method, headers, chunks in (("allowed", "GET", allowed, None), ("denied", "PUT", denied, [body]),
                                                  ("forged", "GET", forged, None)):
                status, response_headers, payload = await call(app, method, f"/demo/{key}", {**headers, "user-agent": "tests/1.0"}, chunks)
                seen[name] = (status, payload)
                # a refusal's request id is in its header; an allowed request's is the app's to log (IamIdentity)
                request_id = response_headers[b"x-amz-request-id"] if status != 200 else echo.calls[-1]["identity"].request_id.encode()
                seen[name + "-id"] = (status, request_id)
        finally:
            await app.aclose()  # writes what is left of the trail

    asyncio.run(scenario())
    assert [seen[n][0] for n in ("allowed", "denied", "forged")] == [200, 403, 403]
    ids = {seen[n + "-id"][1].decode(): n for n in ("allowed", "denied", "forged")}
    records = trail(world, set(ids))
    assert sorted(ids[r] for r in records) == ["allowed", "denied", "forged"]  # one record each
    by = {ids[rid]: r for rid, r in records.items()}

    ok = by["allowed"]
    assert ok["userIdentity"]["arn"] == reader["Arn"] and ok["userIdentity"]["type"] == "AssumedRole"
    assert ok["userIdentity"]["accessKeyId"] == reader["AccessKeyId"] and ok["recipientAccountId"] == world.srv.account
    assert (ok["eventSource"], ok["eventName"], ok["awsRegion"]) == ("s3.amazonaws.com", "GetObject", "us-east-1")
    assert ok["requestParameters"] == {"resource": f"arn:aws:s3:::demo/{key}", "decision": "Allow"}
    assert ok["errorCode"] is None and ok["sourceIPAddress"] == "10.1.2.3" and ok["userAgent"] == "tests/1.0"

    no = by["denied"]
    assert (no["eventName"], no["errorCode"], no["userIdentity"]["arn"]) == ("PutObject", "AccessDenied", reader["Arn"])
    assert no["requestParameters"] == {"resource": f"arn:aws:s3:::demo/{key}", "decision": "ImplicitDeny"}
    assert no["errorMessage"].startswith(f"User: {reader['Arn']} is not authorized to perform: s3:PutObject")
    # the refusal is the one the runtime writes for every call: the same code, the same bytes
    assert answer(S3Xml(), AccessDenied(no["errorMessage"]), no["requestID"]) == seen["denied"]

    bad = by["forged"]
    assert bad["errorCode"] == "SignatureDoesNotMatch"
    assert bad["userIdentity"] == {"type": "Unknown", "accessKeyId": reader["AccessKeyId"]}  # not authentic: the key only
    assert bad["requestParameters"] == {"resource": f"arn:aws:s3:::demo/{key}"}

    # never a secret: the signatures, the secret key, the session token, the body
    text = json.dumps(records)
    for secret in (reader["SecretAccessKey"], reader["SessionToken"], allowed["authorization"].rsplit("=", 1)[1],
                   denied["authorization"].rsplit("=", 1)[1], forged["authorization"].rsplit("=", 1)[1], body.decode()):
        assert secret not in text


def test_by_default_refusals_are_recorded_and_allowed_requests_are_not(world: World, caplog: pytest.LogCaptureFixture) -> None:
    reader = world.assume("reader", unique("default"))
    key = unique("k")
    ids: dict[str, str] = {}

    async def broken_policy(request: RequestInfo, target: Target) -> str:
        return '{"Statement": "not a policy"}'

    async def scenario() -> None:
        backend = LocalAuthorizer.open(world.srv.data_dir, cache_ttl=0)
        assert backend.audit == "refusals"
        echo = Echo()
        app = IamAuthMiddleware(echo, authorizer=backend, mapping=objects, services=["s3"])
        broken = IamAuthMiddleware(echo, authorizer=backend, mapping=objects, services=["s3"], resource_policy=broken_policy)
        try:
            for name, target, method, chunks in (("allowed", app, "GET", None), ("denied", app, "PUT", [b"x"]),
                                                 ("internal", broken, "GET", None)):
                status, headers, payload = await call(target, method, f"/demo/{key}",
                                                      sign(reader, method, f"/demo/{key}", b"".join(chunks or [])), chunks)
                ids[headers[b"x-amz-request-id"].decode() if status != 200 else echo.calls[-1]["identity"].request_id] = name
                if name == "internal":
                    # the service's own mistake: S3's InternalError, written by the runtime's answer, no detail
                    assert (status, payload) == answer(S3Xml(), InternalError("We encountered an internal error. Please try again."),
                                                       headers[b"x-amz-request-id"].decode())
        finally:
            await app.aclose()

    with caplog.at_level(logging.ERROR, logger="iamroles.middleware"):
        asyncio.run(scenario())
    assert "MalformedPolicyDocument" in caplog.text  # the detail is in the service's log
    records = trail(world, set(ids))
    assert sorted(ids[r] for r in records) == ["denied", "internal"]
    assert {ids[rid]: r["errorCode"] for rid, r in records.items()} == {"denied": "AccessDenied", "internal": "InternalError"}


def test_audit_none_and_bad_values(world: World) -> None:
    reader = world.assume("reader", unique("none"))

    async def scenario() -> str:
        backend = LocalAuthorizer.open(world.srv.data_dir, cache_ttl=0, audit="none")
        assert backend.service.audit is None  # no writer thread at all
        app = IamAuthMiddleware(Echo(), authorizer=backend, mapping=objects, services=["s3"])
        try:
            status, headers, _ = await call(app, "PUT", "/demo/x", sign(reader, "PUT", "/demo/x", b"x"), [b"x"])
            assert status == 403
            return str(headers[b"x-amz-request-id"].decode())
        finally:
            await app.aclose()

    request_id = asyncio.run(scenario())
    assert trail(world, {request_id}) == {}
    with pytest.raises(ValueError, match="audit is one of"):
        LocalAuthorizer.open(world.srv.data_dir, audit="everything")
