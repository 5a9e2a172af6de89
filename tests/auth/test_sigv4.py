"""SigV4 verification against requests signed by botocore, AWS's published suite, and mutations.

Requests are signed by botocore (``SigV4Auth`` / ``SigV4QueryAuth`` on an
``AWSRequest``, or a real boto3 client whose send is intercepted) at a frozen
signing time, then seen as a server sees them: raw path, raw query, lower-cased
headers (repeats joined with ","), body bytes. Each signing also records
botocore's own canonical request, which ours must equal.

AWS wording checked against observed AWS responses: the Authorization-header
messages, "Date must be in ISO-8601 'basic format'", the credential-scope
messages and "Signature expired" / "Signature not yet current" (see the
module docstring of ``iamroles.auth.sigv4`` and the report that came with it).
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import botocore.auth
import botocore.session
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.utils import percent_encode_sequence
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iamroles.auth import sigv4
from iamroles.auth.sigv4 import (
    HttpRequest,
    SignedRequest,
    canonical_request,
    parse,
    signing_key,
    string_to_sign,
    verify,
)
from iamroles.errors import (
    AccessDenied,
    AwsError,
    IncompleteSignature,
    MissingAuthenticationToken,
    SignatureDoesNotMatch,
)

AK = "AKIAIOSFODNN7EXAMPLE"
SK = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE+session/token=="
T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
IAM = "https://iam.example.test/"
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)
SUITE = json.loads((Path(__file__).parent / "sigv4_suite" / "aws4_testsuite.json").read_text("utf-8"))


# --- signing with botocore, seen as a server sees it -----------------------------------------------


@contextmanager
def signing_time(when: datetime) -> Iterator[None]:
    """Freeze botocore's signing clock (``botocore.auth.get_current_datetime``) at ``when``."""
    naive = when.astimezone(UTC).replace(tzinfo=None)

    def now(remove_tzinfo: bool = True) -> datetime:
        return naive if remove_tzinfo else naive.replace(tzinfo=UTC)

    with mock.patch.object(botocore.auth, "get_current_datetime", now):
        yield


class _Recording(botocore.auth.SigV4Auth):
    canonical = ""

    def canonical_request(self, request: AWSRequest) -> str:
        self.canonical = super().canonical_request(request)
        return self.canonical


class _RecordingQuery(botocore.auth.SigV4QueryAuth):
    canonical = ""

    def canonical_request(self, request: AWSRequest) -> str:
        self.canonical = super().canonical_request(request)
        return self.canonical


def server_view(request: AWSRequest) -> HttpRequest:
    """The request as the server receives it (headers as sent, repeats joined with ',')."""
    prepared = request.prepare()
    parts = urlsplit(prepared.url)
    headers: dict[str, str] = {}
    items = list(request.headers.items()) + [(k, v) for k, v in prepared.headers.items() if k not in request.headers]
    for name, value in items:
        text = value.decode() if isinstance(value, bytes) else str(value)
        key = name.lower()
        headers[key] = f"{headers[key]},{text}" if key in headers else text
    headers.setdefault("host", parts.netloc)
    body = prepared.body or b""
    return HttpRequest(prepared.method, parts.path or "/", parts.query, headers,
                       body.encode() if isinstance(body, str) else bytes(body))


def sign(
    method: str = "POST",
    url: str = IAM,
    body: bytes = b"",
    headers: list[tuple[str, str]] | None = None,
    *,
    token: str | None = None,
    when: datetime = T0,
    service: str = "iam",
    region: str = "us-east-1",
    secret: str = SK,
) -> tuple[HttpRequest, str]:
    """Sign with SigV4Auth; return the server's view and botocore's canonical request."""
    request = AWSRequest(method=method, url=url, data=body)
    for name, value in headers or [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")]:
        request.headers[name] = value  # HTTPHeaders: a repeated name is a repeated header
    signer = _Recording(Credentials(AK, secret, token), service, region)
    with signing_time(when):
        signer.add_auth(request)
    return server_view(request), signer.canonical


def presign(
    method: str = "GET",
    url: str = "https://sts.example.test/?Action=GetCallerIdentity&Version=2011-06-15",
    body: dict[str, str] | None = None,
    *,
    token: str | None = None,
    when: datetime = T0,
    expires: int = 300,
    service: str = "sts",
) -> tuple[HttpRequest, str]:
    """Presign with SigV4QueryAuth (a query service's form parameters, as a dict, move to the query)."""
    request = AWSRequest(method=method, url=url, data=body or b"")
    if body:
        request.headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
    signer = _RecordingQuery(Credentials(AK, SK, token), service, "us-east-1", expires=expires)
    with signing_time(when):
        signer.add_auth(request)
    return server_view(request), signer.canonical


class _Sent(Exception):
    def __init__(self, request: Any) -> None:
        self.request = request


@cache
def _client(service: str, token: str | None) -> Any:
    client = botocore.session.get_session().create_client(
        service, region_name="us-east-1", endpoint_url=f"https://{service}.example.test",
        aws_access_key_id=AK, aws_secret_access_key=SK, aws_session_token=token,
    )

    def intercept(request: Any, **_: Any) -> None:
        raise _Sent(request)

    client.meta.events.register("before-send", intercept)
    return client


def boto3_request(service: str, operation: str, params: dict[str, Any], *, token: str | None = None,
                  when: datetime = T0) -> HttpRequest:
    """The exact request a botocore/boto3 client sends for ``operation``, as the server receives it."""
    with signing_time(when), pytest.raises(_Sent) as sent:
        getattr(_client(service, token), operation)(**params)
    prepared = sent.value.request
    parts = urlsplit(prepared.url)
    headers = {k.lower(): (v.decode() if isinstance(v, bytes) else v) for k, v in prepared.headers.items()}
    headers.setdefault("host", parts.netloc)
    body = prepared.body or b""
    return HttpRequest(prepared.method, parts.path or "/", parts.query, headers,
                       body.encode() if isinstance(body, str) else bytes(body))


TRUST = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole",
                   "Condition": {"StringLike": {"aws:PrincipalTag/team": "a&b=c+d %/ü"}}}],
})


def create_role(**kw: Any) -> HttpRequest:
    return boto3_request("iam", "create_role", {"RoleName": "app-role", "AssumeRolePolicyDocument": TRUST,
                                                "Description": "rôle with spaces & symbols +/="}, **kw)


def ok(req: HttpRequest, now: datetime = T0, **kw: Any) -> SignedRequest:
    signed = parse(req)
    verify(req, signed, SK, now, **kw)
    return signed


def fails(exc: type[AwsError], req: HttpRequest, now: datetime = T0, **kw: Any) -> AwsError:
    with pytest.raises(exc) as err:
        verify(req, parse(req), SK, now, **kw)
    return err.value


def with_header(req: HttpRequest, name: str, value: str | None) -> HttpRequest:
    headers = dict(req.headers)
    if value is None:
        headers.pop(name, None)
    else:
        headers[name] = value
    return replace(req, headers=headers)


# --- real clients -------------------------------------------------------------------------------


def test_boto3_iam_post_verifies() -> None:
    req = create_role()
    assert req.method == "POST" and req.path == "/" and req.query == ""
    assert req.body.startswith(b"Action=CreateRole&Version=2010-05-08")
    signed = ok(req)
    assert (signed.access_key_id, signed.date, signed.region, signed.service) == (AK, "20260101", "us-east-1", "iam")
    assert signed.timestamp == T0 and not signed.presigned and signed.security_token is None
    assert "host" in signed.signed_headers and "x-amz-date" in signed.signed_headers
    assert signed.scope == "20260101/us-east-1/iam/aws4_request"


def test_boto3_sts_with_session_token() -> None:
    req = boto3_request("sts", "get_caller_identity", {}, token=TOKEN)
    signed = ok(req)
    assert signed.service == "sts" and signed.security_token == TOKEN
    assert "x-amz-security-token" in signed.signed_headers
    fails(SignatureDoesNotMatch, with_header(req, "x-amz-security-token", TOKEN + "x"))


def test_canonical_request_equals_botocores() -> None:
    req, expected = sign(body=b"Action=ListRoles&Version=2010-05-08&PathPrefix=%2Fa%20b%2F")
    signed = ok(req)
    assert canonical_request(req, signed) == expected


def test_cached_signing_key() -> None:
    req = create_role()
    signed = parse(req)
    key = signing_key(SK, signed.date, signed.region, signed.service)
    verify(req, signed, "not the secret", T0, key=key)
    with pytest.raises(SignatureDoesNotMatch):
        verify(req, signed, SK, T0, key=signing_key(SK, "20251231", signed.region, signed.service))
    # the same key as a reusable HMAC (what the server caches): it verifies any number of times, from any thread,
    # and is never changed by a verification
    from concurrent.futures import ThreadPoolExecutor

    from iamroles.auth.sigv4 import signing_hmac

    prepared = signing_hmac(key)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: verify(req, signed, "not the secret", T0, key=prepared), range(200)))
    assert prepared.copy().hexdigest() == signing_hmac(key).hexdigest()  # still fed nothing
    with pytest.raises(SignatureDoesNotMatch):
        verify(req, signed, SK, T0, key=signing_hmac(signing_key(SK, "20251231", signed.region, signed.service)))
    with pytest.raises(SignatureDoesNotMatch):
        verify(with_header(req, "x-amz-date", "20260101T120001Z"), signed, SK, T0, key=prepared)


def test_signing_key_aws_example() -> None:
    """AWS General Reference, 'Examples of how to derive a signing key for Signature Version 4'."""
    key = signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam")
    assert key.hex() == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"


# --- what is signed cannot change ----------------------------------------------------------------


def test_wrong_secret() -> None:
    req, _ = sign(body=b"Action=ListRoles&Version=2010-05-08", secret="another secret")
    err = fails(SignatureDoesNotMatch, req)
    assert err.message == MISMATCH and (err.code, err.status) == ("SignatureDoesNotMatch", 403)


TAMPER: dict[str, Callable[[HttpRequest], HttpRequest]] = {
    "body": lambda r: replace(r, body=r.body.replace(b"app-role", b"app-rolf")),
    "body appended": lambda r: replace(r, body=r.body + b"&Path=%2Fadmin%2F"),
    "signed header": lambda r: with_header(r, "content-type", "application/x-www-form-urlencoded"),
    "host": lambda r: with_header(r, "host", "evil.example.test"),
    "x-amz-date header": lambda r: with_header(r, "x-amz-date", "20260101T120001Z"),
    "query added": lambda r: replace(r, query="Action=DeleteRole"),
    "path": lambda r: replace(r, path="/admin"),
    "method": lambda r: replace(r, method="PUT"),
    "signed header removed": lambda r: with_header(r, "content-type", None),
}


@pytest.mark.parametrize("change", sorted(TAMPER))
def test_tampering_is_refused(change: str) -> None:
    req = create_role()
    signed = parse(req)
    with pytest.raises(SignatureDoesNotMatch) as err:
        verify(TAMPER[change](req), signed, SK, T0)
    assert err.value.message == MISMATCH


def test_unsigned_header_may_change() -> None:
    req = create_role()
    assert "user-agent" not in parse(req).signed_headers  # botocore does not sign it
    ok(with_header(req, "user-agent", "curl/8"))


def test_tampered_query_and_path() -> None:
    url = "https://api.example.test/v1/items?" + percent_encode_sequence({"limit": "10", "q": "a b"})
    req, _ = sign("GET", url, headers=[], service="execute-api")
    ok(req)
    fails(SignatureDoesNotMatch, replace(req, query=req.query.replace("limit=10", "limit=11")))
    fails(SignatureDoesNotMatch, replace(req, query=req.query + "&extra=1"))
    fails(SignatureDoesNotMatch, replace(req, path="/v1/items/"))
    fails(SignatureDoesNotMatch, replace(req, path="/v1/Items"))


# --- canonical forms: paths, queries, headers ----------------------------------------------------


@pytest.mark.parametrize("path", [
    "/my%20dir/file%20name.txt",  # spaces
    "/%E1%88%B4/%C3%BC%C3%A9",  # unicode
    "/a%2Fb/c%3Ad/x:y@z/(1)!*'",  # reserved characters, encoded and raw
    "/a/./b/../c//d/",  # dot segments and duplicate slashes
    "/~user/-._/",
    "/.well-known/.../a.b/",  # dot-led segments that are not dot segments stay
    "/a/b/..",  # a trailing dot segment
    "/a/.",
])
def test_paths(path: str) -> None:
    req, expected = sign("GET", "https://api.example.test" + path, headers=[], service="execute-api")
    assert req.path == path
    signed = ok(req)
    assert canonical_request(req, signed) == expected


@pytest.mark.parametrize("params", [
    {"a b": "c&d=e/f+g~h", "ሴ": "ü", "empty": ""},
    {"Action": "ListRoles", "PathPrefix": "/a b/", "Marker": "x+y/z==", "Z": "1", "a": "2"},
    {"!'()*": "@#$%^&[]{}|\\\"<>`;:,?"},
])
def test_query_reserved_characters(params: dict[str, str]) -> None:
    url = "https://api.example.test/?" + percent_encode_sequence(params)
    req, expected = sign("GET", url, headers=[], service="execute-api")
    signed = ok(req)
    assert canonical_request(req, signed) == expected


def test_repeated_headers() -> None:
    req, expected = sign(headers=[("X-Multi", "first"), ("X-Multi", "second   value"), ("Content-Type", "text/plain")],
                         body=b"payload")
    assert req.headers["x-multi"] == "first,second   value"
    signed = ok(req)
    assert "x-multi" in signed.signed_headers
    assert "x-multi:first,second value\n" in canonical_request(req, signed) == expected
    fails(SignatureDoesNotMatch, with_header(req, "x-multi", "second   value,first"))


def test_authorization_header_spacing_and_order() -> None:
    """The header as the SDKs write it and the same fields spaced or ordered otherwise mean the same."""
    req, _ = sign("GET", "https://api.example.test/v1/items", headers=[], service="execute-api")
    signed = ok(req)
    algorithm, rest = req.headers["authorization"].split(" ", 1)
    fields = dict(item.strip().split("=", 1) for item in rest.split(","))
    for auth in (
        f"{algorithm}  Credential={fields['Credential']},SignedHeaders={fields['SignedHeaders']},Signature={fields['Signature']}",
        f"{algorithm} Signature={fields['Signature']}, Credential={fields['Credential']}, SignedHeaders={fields['SignedHeaders']}",
    ):
        assert ok(with_header(req, "authorization", auth)) == signed
    bad = fields["Signature"][:-1] + ("0" if fields["Signature"][-1] != "0" else "1")
    fails(SignatureDoesNotMatch, with_header(req, "authorization", req.headers["authorization"].replace(fields["Signature"], bad)))


def test_date_header_instead_of_x_amz_date() -> None:
    req, expected = sign(headers=[("Date", "Thu, 01 Jan 2026 12:00:00 GMT"), ("Content-Type", "text/plain")])
    assert "x-amz-date" not in req.headers
    signed = ok(req)
    assert signed.timestamp == T0 and "date" in signed.signed_headers
    assert canonical_request(req, signed) == expected


# --- payload hash --------------------------------------------------------------------------------


def test_declared_payload_hash() -> None:
    import hashlib

    body = b"Action=ListRoles&Version=2010-05-08"
    digest = hashlib.sha256(body).hexdigest()
    req, _ = sign(body=body, headers=[("Content-Type", "application/x-www-form-urlencoded"), ("X-Amz-Content-SHA256", digest)])
    ok(req)
    # a client that signs a hash the body does not have
    lie, _ = sign(body=body, headers=[("X-Amz-Content-SHA256", hashlib.sha256(b"other").hexdigest())])
    err = fails(SignatureDoesNotMatch, lie)
    assert err.message == "The provided 'x-amz-content-sha256' header does not match what was computed."


def test_unsigned_payload_only_without_a_body() -> None:
    empty, _ = sign("GET", headers=[("X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD")])
    ok(empty)
    with_body, _ = sign(body=b"Action=DeleteRole&RoleName=x", headers=[("X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD")])
    fails(SignatureDoesNotMatch, with_body)


# --- the request's time --------------------------------------------------------------------------


def test_skew_window_edges() -> None:
    req = create_role()
    ok(req, now=T0 + timedelta(minutes=5))
    ok(req, now=T0 - timedelta(minutes=5))
    ok(req, now=T0 + timedelta(minutes=14), max_skew=timedelta(minutes=15))


def test_signature_expired() -> None:
    err = fails(SignatureDoesNotMatch, create_role(), now=T0 + timedelta(minutes=10))
    assert err.message == "Signature expired: 20260101T120000Z is now earlier than 20260101T120500Z (20260101T121000Z - 5 min.)"
    err = fails(SignatureDoesNotMatch, create_role(), now=T0 + timedelta(minutes=20), max_skew=timedelta(minutes=15))
    assert err.message == "Signature expired: 20260101T120000Z is now earlier than 20260101T120500Z (20260101T122000Z - 15 min.)"


def test_signature_not_yet_current() -> None:
    err = fails(SignatureDoesNotMatch, create_role(), now=T0 - timedelta(minutes=5, seconds=1))
    assert err.message == ("Signature not yet current: 20260101T120000Z is still later than 20260101T115959Z "
                           "(20260101T115459Z + 5 min.)")
    err = fails(SignatureDoesNotMatch, create_role(), now=T0 - timedelta(minutes=2), max_skew=timedelta(seconds=90))
    assert err.message.endswith("(20260101T115800Z + 90 sec.)")


def test_dates_at_the_ends_of_the_calendar() -> None:
    """Year 9999 is a date like any other (too late: "Signature not yet current"); a Date header with no UTC time
    (the last second of 9999 fourteen hours west of UTC) is one AWS cannot read: "Date must be in ISO-8601 'basic
    format'" (issue 11: both were a 500)."""
    late = _GOOD.replace("20260101", "99991231")
    err = fails(SignatureDoesNotMatch, _auth(late, **{"x-amz-date": "99991231T235959Z"}))
    assert err.message.startswith("Signature not yet current: 99991231T235959Z is still later than 20260101T120500Z")
    for date in ("Fri, 31 Dec 9999 23:59:59 -1400", "Fri, 31 Dec 9999 23:59:59 -0001"):
        headers = {k: v for k, v in _BASE.items() if k != "x-amz-date"} | {"date": date}
        req = HttpRequest("POST", "/", "", headers | {"authorization": late.replace("x-amz-date", "date")}, b"")
        with pytest.raises(IncompleteSignature) as info:
            parse(req)
        assert info.value.message == f"Date must be in ISO-8601 'basic format'. Got '{date}'. See http://en.wikipedia.org/wiki/ISO_8601"
    early = _GOOD.replace("20260101", "00010101")
    err = fails(SignatureDoesNotMatch, _auth(early, **{"x-amz-date": "00010101T000000Z"}))
    assert err.message.startswith("Signature expired: 00010101T000000Z is now earlier than")


def test_presigned_from_the_last_day_of_the_calendar() -> None:
    """X-Amz-Date 9999-12-31 with a week's X-Amz-Expires: its end is past year 9999, and it is not yet current."""
    req, _ = presign(expires=604800)
    req = replace(req, query=req.query.replace("20260101T120000Z", "99991231T235959Z").replace("%2F20260101%2F", "%2F99991231%2F"))
    err = fails(SignatureDoesNotMatch, req, now=T0)
    assert err.message.startswith("Signature not yet current: 99991231T235959Z")
    signed = parse(req)
    with pytest.raises(SignatureDoesNotMatch):  # (checked only after the time: the signature no longer matches)
        verify(req, signed, SK, datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC))


def test_now_must_be_aware() -> None:
    req = create_role()
    with pytest.raises(ValueError):
        verify(req, parse(req), SK, T0.replace(tzinfo=None))


# --- presigned URLs ------------------------------------------------------------------------------


def test_presigned_get() -> None:
    req, expected = presign()
    assert "X-Amz-Signature=" in req.query and "authorization" not in req.headers
    signed = ok(req)
    assert signed.presigned and signed.expires == 300 and signed.service == "sts"
    assert canonical_request(req, signed) == expected
    assert "X-Amz-Signature" not in expected


def test_presigned_with_session_token() -> None:
    req, _ = presign(token=TOKEN)
    signed = ok(req)
    assert signed.security_token == TOKEN
    fails(SignatureDoesNotMatch, replace(req, query=req.query.replace("X-Amz-Security-Token=", "X-Amz-Security-Token=x")))


def test_presigned_post_form_moves_to_query() -> None:
    req, _ = presign("POST", "https://sts.example.test/", body={"Action": "GetCallerIdentity", "Version": "2011-06-15"})
    assert req.body == b"" and "Action=GetCallerIdentity" in req.query
    ok(req)


def test_presigned_expiry() -> None:
    req, _ = presign(expires=60)
    ok(req, now=T0 + timedelta(seconds=60))
    err = fails(AccessDenied, req, now=T0 + timedelta(seconds=61))
    assert (err.message, err.code, err.status) == ("Request has expired", "AccessDenied", 403)
    err = fails(SignatureDoesNotMatch, req, now=T0 - timedelta(minutes=6))
    assert err.message.startswith("Signature not yet current: 20260101T120000Z is still later than")


def test_presigned_tampered() -> None:
    req, _ = presign()
    fails(SignatureDoesNotMatch, replace(req, query=req.query.replace("GetCallerIdentity", "GetSessionToken")))
    fails(SignatureDoesNotMatch, replace(req, query=req.query.replace("X-Amz-Expires=300", "X-Amz-Expires=600")))
    fails(SignatureDoesNotMatch, replace(req, body=b"Action=AssumeRole"))


def test_presigned_malformed() -> None:
    req, _ = presign()
    without = "&".join(p for p in req.query.split("&") if not p.startswith(("X-Amz-Date=", "X-Amz-SignedHeaders=")))
    with pytest.raises(IncompleteSignature) as err:
        parse(replace(req, query=without))
    assert err.value.message == ("AWS query-string parameters must include 'X-Amz-SignedHeaders', 'X-Amz-Date'. "
                                 "Re-examine the query-string parameters.")
    for bad, message in [("abc", "X-Amz-Expires should be a number"), ("-1", "X-Amz-Expires must be non-negative"),
                         ("604801", "X-Amz-Expires must be less than a week (in seconds) that is 604800")]:
        with pytest.raises(IncompleteSignature) as err:
            parse(replace(req, query=req.query.replace("X-Amz-Expires=300", f"X-Amz-Expires={bad}")))
        assert err.value.message == message
    with pytest.raises(SignatureDoesNotMatch) as mismatch:
        parse(replace(req, query=req.query.replace("X-Amz-SignedHeaders=host", "X-Amz-SignedHeaders=x-amz-date")))
    assert mismatch.value.message == "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."


# --- malformed and missing signatures ------------------------------------------------------------

_BASE = {"host": "iam.example.test", "x-amz-date": "20260101T120000Z"}
_CRED = f"{AK}/20260101/us-east-1/iam/aws4_request"
_GOOD = f"AWS4-HMAC-SHA256 Credential={_CRED}, SignedHeaders=host;x-amz-date, Signature={'0' * 64}"


def _auth(value: str | None, **headers: str) -> HttpRequest:
    h = dict(_BASE, **headers)
    if value is not None:
        h["authorization"] = value
    return HttpRequest("POST", "/", "", h, b"")


@pytest.mark.parametrize("req", [
    _auth(None),
    _auth("Bearer eyJhbGciOiJIUzI1NiJ9.e30.x"),
    HttpRequest("GET", "/", "Action=ListRoles&Version=2010-05-08", dict(_BASE), b""),
])
def test_missing_authentication_token(req: HttpRequest) -> None:
    with pytest.raises(MissingAuthenticationToken) as err:
        parse(req)
    assert (err.value.message, err.value.status) == ("Request is missing Authentication Token", 403)


def test_signature_in_the_body_is_not_a_signature() -> None:
    with pytest.raises(IncompleteSignature):
        parse(_auth(None), {"Action": "ListRoles", "X-Amz-Signature": "00", "X-Amz-Credential": _CRED})


@pytest.mark.parametrize(("auth", "headers", "message"), [
    ("AWS4-HMAC-SHA256", {"x-amz-date": ""},
     ("Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. "
      "Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either "
      "a 'X-Amz-Date' or a 'Date' header. Authorization=AWS4-HMAC-SHA256")),
    (f"AWS4-HMAC-SHA256 Credential={_CRED}, SignedHeaders=host", {},
     ("Authorization header requires 'Signature' parameter. "
      f"Authorization=AWS4-HMAC-SHA256 Credential={_CRED}, SignedHeaders=host")),
    ("AWS4-HMAC-SHA256 Signature=b,    Credential,    SignedHeaders", {},
     ("'Credential' not a valid key=value pair (missing equal-sign) in Authorization header: "
      "'AWS4-HMAC-SHA256 Signature=b,    Credential,    SignedHeaders'.")),
    (_GOOD, {"x-amz-date": "2026-01-01T12:00:00Z"},
     "Date must be in ISO-8601 'basic format'. Got '2026-01-01T12:00:00Z'. See http://en.wikipedia.org/wiki/ISO_8601"),
    (_GOOD, {"x-amz-date": "20261301T120000Z"},
     "Date must be in ISO-8601 'basic format'. Got '20261301T120000Z'. See http://en.wikipedia.org/wiki/ISO_8601"),
    (_GOOD.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512"), {},
     "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512' (only AWS4-HMAC-SHA256 for now). "),
    (_GOOD.replace(_CRED, f"{AK}/20260101/us-east-1/iam"), {},
     ("Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, "
      f"got '{AK}/20260101/us-east-1/iam'")),
])
def test_incomplete_signature(auth: str, headers: dict[str, str], message: str) -> None:
    with pytest.raises(IncompleteSignature) as err:
        parse(_auth(auth, **headers))
    assert (err.value.message, err.value.code, err.value.status) == (message, "IncompleteSignature", 400)


@pytest.mark.parametrize(("credential", "kw", "message"), [
    (f"{AK}/20260101//iam/aws4_request", {}, "Credential should be scoped to a valid region, not ''. "),
    (f"{AK}/20260101/mars-1/iam/aws4_request", {"regions": {"us-east-1"}},
     "Credential should be scoped to a valid region, not 'mars-1'. "),
    (f"{AK}/20260101/us-east-1/s3/aws4_request", {"services": ("iam", "sts")},
     "Credential should be scoped to correct service: 'iam'. "),
    (f"{AK}/20260101/us-east-1/iam/aws5_request", {},
     "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. "),
    (f"{AK}/20251231/us-east-1/iam/aws4_request", {},
     ("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
      "'20251231' != '20260101', from '20260101T120000Z'.")),
    (f"{AK}/foobar/wrong-region/s3/aws5_request", {"services": ("iam",), "regions": {"us-east-1"}},
     ("Credential should be scoped to a valid region, not 'wrong-region'. Credential should be scoped to correct "
      "service: 'iam'. Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. "
      "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
      "'foobar' != '20260101', from '20260101T120000Z'.")),
])
def test_credential_scope(credential: str, kw: dict[str, Any], message: str) -> None:
    with pytest.raises(SignatureDoesNotMatch) as err:
        parse(_auth(_GOOD.replace(_CRED, credential)), **kw)
    assert (err.value.message, err.value.status) == (message, 403)


def test_host_must_be_signed() -> None:
    with pytest.raises(SignatureDoesNotMatch) as err:
        parse(_auth(_GOOD.replace("SignedHeaders=host;x-amz-date", "SignedHeaders=x-amz-date")))
    assert err.value.message == "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
    # a request built by hand that skips parse is refused by verify too
    req = create_role()
    signed = parse(req)
    with pytest.raises(SignatureDoesNotMatch):
        verify(req, replace(signed, signed_headers=tuple(h for h in signed.signed_headers if h != "host")), SK, T0)


def test_scope_date_checked_by_verify() -> None:
    req = create_role()
    with pytest.raises(SignatureDoesNotMatch) as err:
        verify(req, replace(parse(req), date="20251231"), SK, T0)
    assert err.value.message.startswith("Date in Credential scope does not match")


# --- AWS's published test suite ------------------------------------------------------------------


def _suite_request(case: dict[str, Any]) -> HttpRequest:
    headers: dict[str, str] = {}
    for name, value in case["headers"]:
        key = name.lower()
        headers[key] = f"{headers[key]},{value.strip()}" if key in headers else value.strip()
    return HttpRequest(case["method"], case["path"], case["query"], headers, case["body"].encode())


@pytest.mark.parametrize("case", SUITE["cases"], ids=[c["name"] for c in SUITE["cases"]])
def test_aws_suite(case: dict[str, Any]) -> None:
    req = _suite_request(case)
    signed = parse(req)
    now = datetime.strptime(SUITE["now"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    if "creq" in case:
        assert canonical_request(req, signed) == case["creq"]
        assert string_to_sign(signed, case["creq"]) == case["sts"]
    verify(req, signed, SUITE["secretAccessKey"], now)
    with pytest.raises(SignatureDoesNotMatch):
        verify(req, signed, SUITE["secretAccessKey"][:-1] + "Z", now)


# --- property: one byte changed anywhere that is signed is refused ---------------------------------

_REQ = create_role(token=TOKEN)
_SIGNED = parse(_REQ)
_HEADERS = sorted(h for h in _SIGNED.signed_headers)


@st.composite
def _mutation(draw: st.DrawFn) -> tuple[HttpRequest, SignedRequest]:
    target = draw(st.sampled_from(["signature", "body", "header"]))
    if target == "signature":
        old = _SIGNED.signature
        i = draw(st.integers(0, len(old) - 1))
        new = draw(st.characters(min_codepoint=0, max_codepoint=255).filter(lambda c: c != old[i]))
        return _REQ, replace(_SIGNED, signature=old[:i] + new + old[i + 1:])
    if target == "body":
        body = _REQ.body
        i = draw(st.integers(0, len(body) - 1))
        new_byte = draw(st.integers(0, 255).filter(lambda b: b != body[i]))
        return replace(_REQ, body=body[:i] + bytes([new_byte]) + body[i + 1:]), _SIGNED
    name = draw(st.sampled_from(_HEADERS))
    value = _REQ.headers[name]
    i = draw(st.integers(0, len(value) - 1))
    # SigV4 folds runs of whitespace, so whitespace for whitespace is no change at all
    new = draw(st.characters(min_codepoint=0, max_codepoint=255).filter(
        lambda c: c != value[i] and not (c.isspace() and value[i].isspace())))
    return with_header(_REQ, name, value[:i] + new + value[i + 1:]), _SIGNED


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutation())
def test_any_single_byte_mutation_is_refused(mutated: tuple[HttpRequest, SignedRequest]) -> None:
    req, signed = mutated
    with pytest.raises(SignatureDoesNotMatch):
        verify(req, signed, SK, T0)


def test_unmutated_property_request_verifies() -> None:
    verify(_REQ, _SIGNED, SK, T0)
    assert sigv4.ALGORITHM == "AWS4-HMAC-SHA256"
