"""The middleware's mechanics at the ASGI level (no HTTP server in front), with both backends against the real
``iamroles serve`` of this package's conftest: the in-process one opened on its data directory, the remote one
calling its authorisation API.

AWS behaviour reproduced: a signature scoped to another service fails with SignatureDoesNotMatch's
"Credential should be scoped to correct service"; session tags and source identity belong to the session
(https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html,
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_monitor.html); an explicit
deny in a resource policy wins (reference_policies_evaluation-logic.html).
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote

import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from iamroles.middleware import PUBLIC, IamAuthMiddleware, LocalAuthorizer, RemoteAuthorizer, RequestInfo, Target

from ..server.conftest import free_port
from .conftest import World, unique

HOST = "objects.test"


class Echo:
    """The wrapped app: reads the body the middleware replays and reports what it saw."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            assert (await receive())["type"] == "websocket.connect"
            self.calls.append({"identity": scope.get("iamroles")})
            await send({"type": "websocket.accept"})
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        self.calls.append({"identity": scope.get("iamroles"), "body": body})
        payload = json.dumps({"sha256": hashlib.sha256(body).hexdigest()}).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": payload})


def sign(creds: dict[str, str], method: str, path: str, body: bytes = b"", query: str = "", service: str = "s3",
         payload: str | None = None) -> dict[str, str]:
    """Signed by botocore (its S3 signer for s3); ``payload``: "UNSIGNED-PAYLOAD" signs that, anything else is
    put in x-amz-content-sha256 after signing."""
    url = f"http://{HOST}{path}" + (f"?{query}" if query else "")
    req = AWSRequest(method, url, data=body, headers={"x-amz-content-sha256": hashlib.sha256(body).hexdigest()})
    if payload == "UNSIGNED-PAYLOAD":
        req.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    signer = S3SigV4Auth if service == "s3" else SigV4Auth
    signer(Credentials(creds["AccessKeyId"], creds["SecretAccessKey"], creds.get("SessionToken")), service, "us-east-1").add_auth(req)
    headers = {k.lower(): v for k, v in req.headers.items()}
    if payload == "UNSIGNED-PAYLOAD":
        assert headers["x-amz-content-sha256"] == payload
    elif payload is not None:
        headers["x-amz-content-sha256"] = payload
    headers["host"] = HOST
    return headers


async def call(app: Callable[..., Awaitable[None]], method: str, path: str, headers: dict[str, str] | None = None,
               chunks: list[bytes] | None = None, query: str = "") -> tuple[int, dict[bytes, bytes], bytes]:
    """One HTTP request through the ASGI app; the body arrives in ``chunks``."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": unquote(path), "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
             "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
             "client": ("10.1.2.3", 50000), "server": (HOST, 80)}
    parts = chunks or [b""]
    inbox = [{"type": "http.request", "body": c, "more_body": i < len(parts) - 1} for i, c in enumerate(parts)]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return inbox.pop(0) if inbox else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = sent[0]
    return start["status"], dict(start["headers"]), b"".join(m.get("body", b"") for m in sent[1:])


def objects(request: RequestInfo) -> Any:
    if request.path == "/health":
        return PUBLIC
    bucket, _, key = request.path.lstrip("/").partition("/")
    if bucket != "demo":
        return None
    action = {"GET": "s3:GetObject", "HEAD": "s3:GetObject", "PUT": "s3:PutObject"}.get(request.method)
    return Target(action, f"arn:aws:s3:::demo/{key}", {"s3:ExistingObjectTag/secret": request.headers.get("x-secret", "no")}) if action else None


@pytest.fixture(params=["local", "remote"])
def make_backend(request: pytest.FixtureRequest, world: World) -> Callable[[], Any]:
    if request.param == "local":
        return lambda: LocalAuthorizer.open(world.srv.data_dir, cache_ttl=0)
    service = world.keys["service"]
    return lambda: RemoteAuthorizer(world.srv.url, (service["AccessKeyId"], service["SecretAccessKey"]))


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(scenario())


def test_the_app_gets_the_body_and_the_principal(world: World, make_backend: Callable[[], Any]) -> None:
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{world.srv.account}:root"},
                                                     "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"]}]}
    role = unique("tagged")
    world.iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust), Tags=[{"Key": "team", "Value": "blue"}])
    world.iam.put_role_policy(RoleName=role, PolicyName="p", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::demo/${aws:PrincipalTag/project}/*"}]}))
    user = world.user({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"], "Resource": "*"}]})
    sts: Any = world.srv.client("sts", user["AccessKeyId"], user["SecretAccessKey"])
    out = sts.assume_role(RoleArn=f"arn:aws:iam::{world.srv.account}:role/{role}", RoleSessionName="carol",
                          Tags=[{"Key": "project", "Value": "apollo"}], SourceIdentity="carol@example.com")
    creds = {k: out["Credentials"][k] for k in ("AccessKeyId", "SecretAccessKey", "SessionToken")}
    body = bytes(range(256)) * 4096  # 1 MiB in 16 chunks
    chunks = [body[i:i + 65536] for i in range(0, len(body), 65536)]

    async def scenario() -> None:
        echo = Echo()
        app = IamAuthMiddleware(echo, authorizer=make_backend(), mapping=objects, services=["s3"])
        try:
            status, headers, payload = await call(app, "PUT", "/demo/apollo/data.bin", sign(creds, "PUT", "/demo/apollo/data.bin", body), chunks)
            assert status == 200, payload
            assert json.loads(payload)["sha256"] == hashlib.sha256(body).hexdigest()
            me = echo.calls[0]["identity"]
            assert me.arn == f"arn:aws:sts::{world.srv.account}:assumed-role/{role}/carol" and me.account == world.srv.account
            assert me.type == "AssumedRole" and me.role_arn == f"arn:aws:iam::{world.srv.account}:role/{role}" and me.name == "carol"
            assert me.access_key_id == creds["AccessKeyId"] and me.user_id.endswith(":carol")
            assert me.session_tags == {"project": "apollo"} and me.tags == {"team": "blue", "project": "apollo"}
            assert me.source_identity == "carol@example.com" and me.expires > me.issued
            assert (me.action, me.resource, me.decision) == ("s3:PutObject", "arn:aws:s3:::demo/apollo/data.bin", "Allow")
            assert me.reasons and me.request_id

            # the session tag decides: another project's prefix is refused, and the app never runs
            status, headers, payload = await call(app, "PUT", "/demo/gemini/data.bin", sign(creds, "PUT", "/demo/gemini/data.bin", b"x"), [b"x"])
            assert status == 403 and b"<Code>AccessDenied</Code>" in payload and b"s3:PutObject" in payload
            assert b"Encoded authorization failure message: " in payload
            assert headers[b"content-type"] == b"application/xml" and headers[b"x-amz-request-id"] in payload
            assert len(echo.calls) == 1
        finally:
            await app.aclose()

    run(scenario)


def test_refusals_before_and_after_the_signature(world: World, make_backend: Callable[[], Any], caplog: pytest.LogCaptureFixture) -> None:
    writer = world.assume("writer")

    async def scenario() -> None:
        echo = Echo()
        backend = make_backend()
        app = IamAuthMiddleware(echo, authorizer=backend, mapping=objects, services=["s3"], max_body_size=1000)
        json_app = IamAuthMiddleware(echo, authorizer=backend, mapping=objects, services=["s3"], error_format="json")
        any_service = IamAuthMiddleware(echo, authorizer=backend, mapping=objects)
        try:
            # unmapped: refused without looking further; PUBLIC: through with no principal and no signature
            status, _, payload = await call(app, "GET", "/elsewhere/x", sign(writer, "GET", "/elsewhere/x"))
            assert (status, b"<Code>AccessDenied</Code><Message>Access Denied</Message>" in payload) == (403, True)
            status, _, _ = await call(app, "GET", "/health")
            assert status == 200 and echo.calls[-1]["identity"] is None
            # too large, by Content-Length or as it streams in
            status, _, payload = await call(app, "PUT", "/demo/big", {**sign(writer, "PUT", "/demo/big", b"x" * 1001), "content-length": "1001"},
                                            [b"x" * 1001])
            assert status == 413 and b"EntityTooLarge" in payload
            status, _, payload = await call(app, "PUT", "/demo/big", sign(writer, "PUT", "/demo/big", b"x" * 1200), [b"x" * 600, b"x" * 600])
            assert status == 413
            # aws-chunked streaming payloads are not supported
            streaming = sign(writer, "PUT", "/demo/s", b"x", payload="STREAMING-UNSIGNED-PAYLOAD-TRAILER")
            status, _, payload = await call(app, "PUT", "/demo/s", streaming, [b"x"])
            assert status == 501 and b"NotImplemented" in payload
            # UNSIGNED-PAYLOAD with a body, where the service did not allow it
            status, _, payload = await call(app, "PUT", "/demo/u", sign(writer, "PUT", "/demo/u", b"x", payload="UNSIGNED-PAYLOAD"), [b"x"])
            assert status == 403 and b"UNSIGNED-PAYLOAD is not accepted" in payload
            # a signature for another service
            status, _, payload = await call(app, "GET", "/demo/k", sign(writer, "GET", "/demo/k", service="execute-api"))
            assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in payload
            assert b"Credential should be scoped to correct service: 's3'" in payload
            # a path SigV4 would normalise before checking (any service but S3): the app would see another path
            status, _, payload = await call(any_service, "GET", "/demo//k", sign(writer, "GET", "/demo//k", service="execute-api"))
            assert status == 400 and b"<Code>InvalidURI</Code>" in payload
            # S3 signs it as it is: the key is "/k", as on S3
            status, _, payload = await call(app, "GET", "/demo//k", sign(writer, "GET", "/demo//k"))
            assert status == 200 and echo.calls[-1]["identity"].resource == "arn:aws:s3:::demo//k"
            echo.calls.pop()
            # HEAD: the status and headers, no body
            status, headers, payload = await call(app, "HEAD", "/demo/k")
            assert status == 403 and payload == b"" and int(headers[b"content-length"]) > 0
            # the JSON error format
            status, headers, payload = await call(json_app, "GET", "/demo/k")
            doc = json.loads(payload)
            assert status == 403 and doc["Error"]["Code"] == "MissingAuthenticationToken" and doc["RequestId"]
            assert headers[b"content-type"] == b"application/json"
            assert all(c["identity"] is None for c in echo.calls)  # only /health reached the app
        finally:
            await backend.aclose()

    run(scenario)


def test_resource_policies_callable_and_malformed(world: World, make_backend: Callable[[], Any], caplog: pytest.LogCaptureFixture) -> None:
    reader = world.assume("reader")
    deny_secret = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "*",
         "Condition": {"StringEquals": {"s3:ExistingObjectTag/secret": "yes"}}}]})
    seen: list[tuple[str, str]] = []

    async def policy(request: RequestInfo, target: Target) -> str:
        seen.append((request.path, target.resource))
        return deny_secret

    async def scenario() -> None:
        echo = Echo()
        backend = make_backend()
        app = IamAuthMiddleware(echo, authorizer=backend, mapping=objects, resource_policy=policy, services=["s3"])
        broken = IamAuthMiddleware(echo, authorizer=backend, mapping=objects, resource_policy='{"Statement": "nope"}')

        async def failing(request: RequestInfo) -> Any:
            raise RuntimeError("bug in the service's mapping")

        crashing = IamAuthMiddleware(echo, authorizer=backend, mapping=failing)
        try:
            status, _, _ = await call(app, "GET", "/demo/k", sign(reader, "GET", "/demo/k"))
            assert status == 200 and seen == [("/demo/k", "arn:aws:s3:::demo/k")]
            status, _, payload = await call(app, "GET", "/demo/k", {**sign(reader, "GET", "/demo/k"), "x-secret": "yes"})
            assert status == 403 and b"with an explicit deny in a resource-based policy" in payload
            # the service's own mistakes: an internal error for the client (fail closed), the detail in the log
            with caplog.at_level(logging.ERROR, logger="iamroles.middleware"):
                status, _, payload = await call(broken, "GET", "/demo/k", sign(reader, "GET", "/demo/k"))
                assert status == 500 and b"<Code>InternalError</Code>" in payload and b"nope" not in payload
                status, _, payload = await call(crashing, "GET", "/demo/k", sign(reader, "GET", "/demo/k"))
                assert status == 500 and b"<Code>InternalError</Code>" in payload
            assert "MalformedPolicyDocument" in caplog.text and "bug in the service's mapping" in caplog.text
            assert len(echo.calls) == 1
        finally:
            await backend.aclose()

    run(scenario)


def test_websocket_handshakes_are_signed_too(world: World) -> None:
    reader = world.assume("reader")

    async def handshake(app: Any, headers: dict[str, str]) -> list[dict[str, Any]]:
        scope = {"type": "websocket", "asgi": {"version": "3.0"}, "scheme": "ws", "path": "/demo/feed", "raw_path": b"/demo/feed",
                 "query_string": b"", "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
                 "client": ("10.1.2.3", 50000), "server": (HOST, 80)}
        inbox = [{"type": "websocket.connect"}]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return inbox.pop(0) if inbox else {"type": "websocket.disconnect", "code": 1000}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(scope, receive, send)
        return sent

    async def scenario() -> None:
        echo = Echo()
        backend = LocalAuthorizer.open(world.srv.data_dir, cache_ttl=0)
        app = IamAuthMiddleware(echo, authorizer=backend, mapping=objects, services=["s3"])
        try:
            assert (await handshake(app, {"host": HOST}))[0] == {"type": "websocket.close", "code": 1008, "reason": "MissingAuthenticationToken"}
            assert (await handshake(app, sign(reader, "GET", "/demo/feed")))[0] == {"type": "websocket.accept"}
            assert echo.calls[-1]["identity"].arn == reader["Arn"]
        finally:
            await backend.aclose()

    run(scenario)


def test_remote_backend_fails_closed(world: World, caplog: pytest.LogCaptureFixture) -> None:
    reader = world.assume("reader")
    nobody = world.user(None)  # may not call iamroles:AuthorizeRequest

    async def scenario() -> None:
        echo = Echo()
        unreachable = RemoteAuthorizer(f"http://127.0.0.1:{free_port()}", ("AKIAEXAMPLE", "secret"), timeout=2)
        not_allowed = RemoteAuthorizer(world.srv.url, (nobody["AccessKeyId"], nobody["SecretAccessKey"]))
        try:
            with caplog.at_level(logging.ERROR, logger="iamroles.middleware"):
                app = IamAuthMiddleware(echo, authorizer=unreachable, mapping=objects)
                status, _, payload = await call(app, "GET", "/demo/k", sign(reader, "GET", "/demo/k"))
                assert status == 503 and b"<Code>ServiceUnavailable</Code>" in payload
                app = IamAuthMiddleware(echo, authorizer=not_allowed, mapping=objects)
                status, _, payload = await call(app, "GET", "/demo/k", sign(reader, "GET", "/demo/k"))
                assert status == 500 and b"<Code>InternalError</Code>" in payload and b"AuthorizeRequest" not in payload
            assert "unreachable" in caplog.text and "iamroles:AuthorizeRequest" in caplog.text
            assert echo.calls == []
        finally:
            await unreachable.aclose()
            await not_allowed.aclose()

    run(scenario)


def test_lifespan_shutdown_closes_the_backend(world: World) -> None:
    service = world.keys["service"]

    async def scenario() -> None:
        backend = RemoteAuthorizer(world.srv.url, (service["AccessKeyId"], service["SecretAccessKey"]))
        reader = world.assume("reader")

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] == "lifespan":
                while True:
                    message = await receive()
                    await send({"type": message["type"] + ".complete"})
                    if message["type"] == "lifespan.shutdown":
                        return
            else:
                await Echo()(scope, receive, send)

        wrapped = IamAuthMiddleware(app, authorizer=backend, mapping=objects)
        assert (await call(wrapped, "GET", "/demo/k", sign(reader, "GET", "/demo/k")))[0] == 200
        assert backend._client is not None
        inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return inbox.pop(0)

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await wrapped({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
        assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
        assert backend._client is None

    run(scenario)


def test_a_resource_policy_that_must_grant(world: World, make_backend: Callable[[], Any]) -> None:
    """``resource_policy_must_grant=True``: the service's policy decides as a KMS key policy does; the reader role's
    identity policy allows s3:GetObject, which no longer suffices unless the policy names the session, its role or
    its account (https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html,
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html)."""
    reader = world.assume("reader")
    role_arn = f"arn:aws:iam::{world.srv.account}:role/{world.roles['reader']}"

    def naming(principal: str) -> str:
        return json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "s3:GetObject", "Resource": "*"}]})

    async def scenario() -> None:
        echo = Echo()
        backend = make_backend()
        try:
            for principal, must_grant, expected in (
                (f"arn:aws:iam::{world.srv.account}:user/nobody", False, 200),  # ordinary: the identity Allow suffices
                (f"arn:aws:iam::{world.srv.account}:user/nobody", True, 403),
                (role_arn, True, 200),
                (f"arn:aws:iam::{world.srv.account}:root", True, 200),  # delegates to the role's identity policy
            ):
                app = IamAuthMiddleware(echo, authorizer=backend, mapping=objects, resource_policy=naming(principal),
                                        resource_policy_must_grant=must_grant, services=["s3"])
                status, _, payload = await call(app, "GET", "/demo/k", sign(reader, "GET", "/demo/k"))
                assert status == expected, (principal, must_grant, payload)
                if expected == 403:
                    assert b"because no resource-based policy allows the s3:GetObject action" in payload
            # no policy at all: nobody
            app = IamAuthMiddleware(echo, authorizer=backend, mapping=objects, resource_policy_must_grant=True, services=["s3"])
            assert (await call(app, "GET", "/demo/k", sign(reader, "GET", "/demo/k")))[0] == 403
            assert len(echo.calls) == 3
        finally:
            await backend.aclose()

    run(scenario)
