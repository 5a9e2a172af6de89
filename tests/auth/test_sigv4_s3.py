"""SigV4's S3 mode against botocore's S3 signers (``S3SigV4Auth``, ``S3SigV4QueryAuth``) and the requests a boto3 S3
client really sends: the canonical URI, the x-amz-content-sha256 rules, presigned URLs, and tampering.

AWS behaviour reproduced:

* S3 signs the path URI-encoded once and not normalised: "Each path segment must be URI-encoded twice (except
  for Amazon S3 which only gets URI-encoded once)"
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html); keys with ``//``,
  ``.`` and ``..`` segments are keys (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html);
* x-amz-content-sha256 is required on header-signed S3 requests and is the body's SHA-256 or UNSIGNED-PAYLOAD
  (https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html), or a STREAMING-* keyword
  for aws-chunked uploads (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html), not
  implemented here: S3's NotImplemented, "A header you provided implies functionality that is not implemented"
  (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html); a body other than the declared one is
  S3's XAmzContentSHA256Mismatch (400), found once the signature holds;
* presigned URLs sign UNSIGNED-PAYLOAD (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html).
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import replace
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import botocore.auth
import botocore.session
import pytest
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from iamroles.auth import sigv4
from iamroles.auth.sigv4 import HttpRequest, canonical_request, parse, verify
from iamroles.errors import (
    AwsError,
    FunctionalityNotImplemented,
    InvalidArgument,
    InvalidRequest,
    SignatureDoesNotMatch,
    XAmzContentSHA256Mismatch,
)

from .test_sigv4 import AK, MISMATCH, SK, T0, TOKEN, server_view, signing_time

HOST = "objects.test"
KEYS = [
    "a//b",  # an empty segment
    "./x", "../x", "a/./b/../c", ".", "..", "trail/", "//lead",  # dot segments, kept as they are
    "100%", "%41%2F",  # a percent sign, and text that looks like escapes
    "a b+c", "q?x#y&z=1",  # a space, a plus, query and fragment characters
    "é/ü/ሴ/😀",  # UTF-8
    "~user/-._", "(1)!*'@$,;=:[]",  # unreserved, and reserved characters S3 has encoded
]


class _S3Recording(botocore.auth.S3SigV4Auth):
    canonical = ""

    def canonical_request(self, request: AWSRequest) -> str:
        self.canonical = super().canonical_request(request)
        return self.canonical


class _S3QueryRecording(botocore.auth.S3SigV4QueryAuth):
    canonical = ""

    def canonical_request(self, request: AWSRequest) -> str:
        self.canonical = super().canonical_request(request)
        return self.canonical


def s3_sign(method: str, path: str, body: bytes = b"", *, query: str = "", headers: dict[str, str] | None = None,
            unsigned: bool = False, token: str | None = None, secret: str = SK) -> tuple[HttpRequest, str]:
    """Signed by botocore's S3 signer (``unsigned``: payload signing off, as over HTTPS); the server's view and
    botocore's canonical request."""
    request = AWSRequest(method, f"http://{HOST}{path}" + (f"?{query}" if query else ""), data=body, headers=headers or {})
    if unsigned:
        request.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    signer = _S3Recording(Credentials(AK, secret, token), "s3", "us-east-1")
    with signing_time(T0):
        signer.add_auth(request)
    return server_view(request), signer.canonical


def declaring(method: str, path: str, declared: str, body: bytes = b"") -> HttpRequest:
    """Signed with ``declared`` as x-amz-content-sha256 and as the canonical request's payload line, whatever the
    body (botocore's generic signer signs the header's value; its S3 signer would put the body's hash there)."""
    request = AWSRequest(method, f"http://{HOST}{path}", data=body, headers={"X-Amz-Content-SHA256": declared})
    with signing_time(T0):
        botocore.auth.SigV4Auth(Credentials(AK, SK), "s3", "us-east-1").add_auth(request)
    return server_view(request)


def s3_presign(method: str, path: str, *, token: str | None = None, expires: int = 300) -> tuple[HttpRequest, str]:
    request = AWSRequest(method, f"http://{HOST}{path}")
    signer = _S3QueryRecording(Credentials(AK, SK, token), "s3", "us-east-1", expires=expires)
    with signing_time(T0):
        signer.add_auth(request)
    return server_view(request), signer.canonical


class _Sent(Exception):
    def __init__(self, request: Any) -> None:
        self.request = request


@cache
def _s3_client() -> Any:
    """A real boto3 S3 client (path-style, plain HTTP: it signs the body's SHA-256) whose send is intercepted."""
    client = botocore.session.get_session().create_client(
        "s3", region_name="us-east-1", endpoint_url=f"http://{HOST}", aws_access_key_id=AK, aws_secret_access_key=SK,
        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"))

    def intercept(request: Any, **_: Any) -> None:
        raise _Sent(request)

    client.meta.events.register("before-send", intercept)
    return client


def boto3_s3(operation: str, **params: Any) -> HttpRequest:
    """The exact request a boto3 S3 client sends, as the server receives it."""
    with signing_time(T0), pytest.raises(_Sent) as sent:
        getattr(_s3_client(), operation)(**params)
    prepared = sent.value.request
    parts = urlsplit(prepared.url)
    headers = {k.lower(): (v.decode() if isinstance(v, bytes) else v) for k, v in prepared.headers.items()}
    headers.setdefault("host", parts.netloc)
    body = prepared.body or b""
    if hasattr(body, "read"):  # an object's body is a stream
        body = body.read()
    return HttpRequest(prepared.method, parts.path, parts.query, headers, body.encode() if isinstance(body, str) else bytes(body))


def ok(req: HttpRequest, **kw: Any) -> sigv4.SignedRequest:
    signed = parse(req, services=("s3",))
    verify(req, signed, SK, T0, **kw)
    return signed


def fails(exc: type[AwsError], req: HttpRequest) -> AwsError:
    with pytest.raises(exc) as err:
        verify(req, parse(req), SK, T0)
    assert type(err.value) is exc  # not a subclass standing in for it
    return err.value


def with_header(req: HttpRequest, name: str, value: str | None) -> HttpRequest:
    headers = {k: v for k, v in req.headers.items() if k != name}
    if value is not None:
        headers[name] = value
    return replace(req, headers=headers)


# --- the canonical URI ---------------------------------------------------------------------------


@pytest.mark.parametrize("key", KEYS)
def test_boto3_s3_requests_verify_with_the_key_as_sent(key: str) -> None:
    for req in (boto3_s3("put_object", Bucket="bkt", Key=key, Body=b"data"), boto3_s3("get_object", Bucket="bkt", Key=key),
                boto3_s3("head_object", Bucket="bkt", Key=key), boto3_s3("delete_object", Bucket="bkt", Key=key)):
        assert req.path.startswith("/bkt/") and req.path != "/bkt/"
        signed = ok(req)
        assert signed.service == "s3" and not signed.presigned


@pytest.mark.parametrize("key", KEYS)
def test_canonical_request_equals_botocores_s3_signer(key: str) -> None:
    path = "/bkt/" + botocore.utils.percent_encode(key, safe="/~")
    req, expected = s3_sign("PUT", path, b"body")
    signed = ok(req)
    assert canonical_request(req, signed) == expected
    assert expected.split("\n")[1] == path  # the path as sent, never normalised
    presigned, expected = s3_presign("GET", path)
    signed = ok(presigned)
    assert signed.presigned and canonical_request(presigned, signed) == expected


@pytest.mark.parametrize(("signed_path", "sent_path"), [
    ("/bkt/a//b", "/bkt/a/b"),  # S3 does not collapse slashes: another key
    ("/bkt/a/./b", "/bkt/a/b"),
    ("/bkt/a/../b", "/bkt/b"),
    ("/bkt/a/b", "/bkt/a//b"),
    ("/bkt/a/b", "/bkt/a/b/"),
    ("/bkt/a%20b", "/bkt/a+b"),  # a plus in a path is a plus
    ("/bkt/%C3%A9", "/bkt/%C3%A8"),
    ("/bkt/k", "/BKT/k"),
    ("/bkt/a/b", "/bkt/a%2Fb"),  # an encoded slash is not a segment's end
    ("/bkt/a%2Fb", "/bkt/a/b"),
])
def test_a_path_rewritten_after_signing_is_refused(signed_path: str, sent_path: str) -> None:
    req, _ = s3_sign("GET", signed_path)
    ok(req)
    assert fails(SignatureDoesNotMatch, replace(req, path=sent_path)).message == MISMATCH


def test_another_escape_of_the_same_path_is_the_same_request() -> None:
    """The canonical URI is the path decoded once and encoded again (upper-case hex, S3's encoding), so an escape
    the SDK would not have written (``%7E`` for ``~``, lower-case hex, a raw ``!``) names the same key the app
    routes on; it is not another resource."""
    req, _ = s3_sign("GET", "/bkt/~a/%C3%A9/%21")
    for same in ("/bkt/%7Ea/%C3%A9/%21", "/bkt/~a/%c3%a9/%21", "/bkt/~a/%C3%A9/!"):
        ok(replace(req, path=same))


def test_non_s3_signatures_keep_normalising() -> None:
    """Only a signature scoped to S3 is checked with S3's rules: one for another service over a path with dot
    segments is checked against the normalised, twice-encoded path (what SigV4Auth signs)."""
    request = AWSRequest("GET", f"http://{HOST}/a//b/./c/../d%20e")
    signer = botocore.auth.SigV4Auth(Credentials(AK, SK), "execute-api", "us-east-1")
    with signing_time(T0):
        signer.add_auth(request)
    req = server_view(request)
    signed = parse(req)
    verify(req, signed, SK, T0)
    assert canonical_request(req, signed).split("\n")[1] == "/a/b/d%2520e"
    # the same path signed by the S3 signer for another service name is not an S3 signature
    s3_style = botocore.auth.S3SigV4Auth(Credentials(AK, SK), "execute-api", "us-east-1")
    request = AWSRequest("GET", f"http://{HOST}/a//b", headers={"x-amz-content-sha256": hashlib.sha256(b"").hexdigest()})
    with signing_time(T0):
        s3_style.add_auth(request)
    fails(SignatureDoesNotMatch, server_view(request))


# --- x-amz-content-sha256 ------------------------------------------------------------------------


def test_the_body_must_be_the_declared_one() -> None:
    req, _ = s3_sign("PUT", "/bkt/k", b"original")
    ok(req)
    # another body under the same signature: the signature holds (it covers the declared hash), the body does not
    err = fails(XAmzContentSHA256Mismatch, replace(req, body=b"changed!"))
    assert (err.status, err.message) == (400, "The provided 'x-amz-content-sha256' header does not match what was computed.")
    # the declared hash swapped for the new body's: the signature no longer holds
    swapped = with_header(replace(req, body=b"changed!"), "x-amz-content-sha256", hashlib.sha256(b"changed!").hexdigest())
    assert fails(SignatureDoesNotMatch, swapped).message == MISMATCH
    # a forwarded request (the middleware, the authorisation API) carries the body's hash instead of the body
    ok(replace(req, body=b"", payload_hash=hashlib.sha256(b"original").hexdigest()))
    fails(XAmzContentSHA256Mismatch, replace(req, body=b"", payload_hash=hashlib.sha256(b"changed!").hexdigest()))
    # the wrong secret is a signature failure first, whatever the body
    forged, _ = s3_sign("PUT", "/bkt/k", b"original", secret=SK[:-1] + "x")
    assert fails(SignatureDoesNotMatch, replace(forged, body=b"changed!")).message == MISMATCH


def test_the_header_is_required_on_header_signed_requests() -> None:
    request = AWSRequest("GET", f"http://{HOST}/bkt/k")
    signer = botocore.auth.SigV4Auth(Credentials(AK, SK), "s3", "us-east-1")  # the generic signer sends no hash
    with signing_time(T0):
        signer.add_auth(request)
    req = server_view(request)
    assert "x-amz-content-sha256" not in req.headers
    err = fails(InvalidRequest, req)
    assert (err.status, err.message) == (400, "Missing required header for this request: x-amz-content-sha256")


@pytest.mark.parametrize("value", ["", "abc", "UNSIGNED", "unsigned-payload", "STREAMING-NOPE", "e3b0" * 15 + "zzzz",
                                   hashlib.sha256(b"").hexdigest() + "00"])
def test_neither_a_hash_nor_a_keyword(value: str) -> None:
    req = declaring("GET", "/bkt/k", value)
    assert req.headers["x-amz-content-sha256"] == value
    err = fails(InvalidArgument, req)
    assert err.status == 400 and err.message.startswith("x-amz-content-sha256 must be UNSIGNED-PAYLOAD")


@pytest.mark.parametrize("value", sorted(sigv4.STREAMING_PAYLOADS))
def test_streaming_payloads_are_not_implemented(value: str) -> None:
    req = declaring("PUT", "/bkt/k", value, b"5;chunk-signature=x\r\nhello\r\n0\r\n")
    err = fails(FunctionalityNotImplemented, req)
    assert (err.code, err.status) == ("NotImplemented", 501) and value in err.message


def test_unsigned_payload() -> None:
    empty, expected = s3_sign("GET", "/bkt/k", unsigned=True)
    assert empty.headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
    assert canonical_request(empty, ok(empty)) == expected
    with_body, _ = s3_sign("PUT", "/bkt/k", b"streamed", unsigned=True)
    # the body is not covered by the signature: only where the service accepts that
    assert fails(SignatureDoesNotMatch, with_body).message == sigv4.UNSIGNED_WITH_BODY
    ok(replace(with_body, unsigned_payload_ok=True))
    ok(replace(with_body, body=b"anything else", unsigned_payload_ok=True))
    # the keyword swapped in for a signed hash: the signature no longer holds
    signed_body, _ = s3_sign("PUT", "/bkt/k", b"streamed")
    unsigned_now = replace(with_header(signed_body, "x-amz-content-sha256", "UNSIGNED-PAYLOAD"), unsigned_payload_ok=True)
    assert fails(SignatureDoesNotMatch, unsigned_now).message == MISMATCH


def test_presigned_urls_sign_unsigned_payload() -> None:
    req, expected = s3_presign("GET", "/bkt/a//b/../c", token=TOKEN)
    assert "x-amz-content-sha256" not in req.headers and expected.endswith("\nUNSIGNED-PAYLOAD")
    signed = ok(req)
    assert signed.presigned and signed.security_token == TOKEN
    # a header the URL's user adds does not change what was signed
    ok(with_header(req, "x-amz-content-sha256", hashlib.sha256(b"x").hexdigest()))
    put, _ = s3_presign("PUT", "/bkt/k")
    with_body = replace(put, body=b"uploaded")
    assert fails(SignatureDoesNotMatch, with_body).message == sigv4.UNSIGNED_WITH_BODY
    ok(replace(with_body, unsigned_payload_ok=True))
    assert fails(SignatureDoesNotMatch, replace(put, path="/bkt/other")).message == MISMATCH
    assert fails(SignatureDoesNotMatch, replace(put, query=put.query.replace("X-Amz-Expires=300", "X-Amz-Expires=301"))).message == MISMATCH


def _mutations(req: HttpRequest) -> Iterator[HttpRequest]:
    for i in range(1, len(req.path)):
        yield replace(req, path=req.path[:i] + req.path[i + 1:])  # a character dropped
        yield replace(req, path=req.path[:i] + "/" + req.path[i:])  # a slash added


def test_every_small_change_to_an_s3_path_is_refused() -> None:
    req, _ = s3_sign("GET", "/bkt/a//b/./c/../d%20e")
    ok(req)
    for changed in _mutations(req):
        with pytest.raises(SignatureDoesNotMatch):
            verify(changed, parse(changed), SK, T0)
