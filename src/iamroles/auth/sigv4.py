"""AWS Signature Version 4 verification, as named steps. Pure: no I/O, no store.

::

    parse(request)                          -> SignedRequest   what the signature claims
    canonical_request(request, signed)      -> str             step 1
    string_to_sign(signed, canonical)       -> str             step 2
    signing_key(secret, date, region, svc)  -> bytes           step 3 (pure: cache it by its arguments)
    signature(key, string_to_sign)          -> str             step 4 (lower-case hex)
    verify(request, signed, secret, now)    -> None            all of the above, the time, constant-time compare

The request, the secret and the time are arguments; nothing here reads a clock
or a global. Errors are ``iamroles.errors`` classes with AWS's messages, in the
order AWS checks (parameters present, date format, time, host signed,
algorithm, credential shape, credential scope, key, signature).

Canonical URI (non-S3 services): the path *as received* — already percent-
encoded once by the client — has its dot segments and duplicate slashes
removed and is then URI-encoded once more. Relative to the path's characters
that is the double encoding SigV4 specifies for non-S3 services, and it is
exactly what the SDKs sign (botocore: ``quote(normalize_url_path(path),
safe='/~')`` over the URL it sends), whatever their choice of escapes.

S3 mode (a credential scope of a service in :data:`S3_SERVICES`): S3 signs the
path as sent, URI-encoded once and never normalised, so ``a//b``, ``./`` and
``../`` in a key are signed as they are and reach the service as they were
signed (botocore's ``S3SigV4Auth`` leaves the path alone); the canonical URI is
each of the path's segments percent-decoded once and encoded again with S3's
URI-encoding (an encoded slash stays in its segment). The
payload line is what ``x-amz-content-sha256`` declares, which S3 requires on
every header-signed request: the body's hex SHA-256 (checked against the body
once the signature holds: XAmzContentSHA256Mismatch), ``UNSIGNED-PAYLOAD``, or
one of the ``STREAMING-*`` (aws-chunked) keywords, which are not supported
here (NotImplemented); presigned URLs sign ``UNSIGNED-PAYLOAD``.

AWS references: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html,
reference_sigv-query-string-auth.html and reference_sigv-troubleshooting.html; S3's:
https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html (the canonical URI encoded once,
x-amz-content-sha256), sigv4-query-string-auth.html (UNSIGNED-PAYLOAD in presigned URLs) and
sigv4-streaming.html (the STREAMING-* payloads).
"""
from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import lru_cache
from urllib.parse import quote, quote_from_bytes, unquote_to_bytes

from iamroles.errors import (
    AccessDenied,
    FunctionalityNotImplemented,
    IncompleteSignature,
    InvalidArgument,
    InvalidRequest,
    MissingAuthenticationToken,
    SignatureDoesNotMatch,
    XAmzContentSHA256Mismatch,
)

__all__ = [
    "ALGORITHM",
    "S3_SERVICES",
    "STREAMING_PAYLOADS",
    "UNSIGNED_PAYLOAD",
    "HttpRequest",
    "SignedRequest",
    "asgi_headers",
    "canonical_request",
    "join_headers",
    "parse",
    "signature",
    "signing_hmac",
    "signing_key",
    "string_to_sign",
    "verify",
]

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
MAX_EXPIRES = 604800  # seconds: a signing key is valid for seven days

MISSING_TOKEN = "Request is missing Authentication Token"
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)
HOST_NOT_SIGNED = "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
REQUEST_EXPIRED = "Request has expired"
PAYLOAD_MISMATCH = "The provided 'x-amz-content-sha256' header does not match what was computed."
UNSIGNED_WITH_BODY = "UNSIGNED-PAYLOAD is not accepted for a request with a body: its parameters must be signed."

# The services whose signatures follow S3's rules (the canonical URI and x-amz-content-sha256).
S3_SERVICES = frozenset({"s3"})
# x-amz-content-sha256 for aws-chunked uploads (sigv4-streaming.html, sigv4-streaming-trailers.html): S3 knows
# these; verifying their chunk signatures is not implemented here.
STREAMING_PAYLOADS = frozenset({
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
    "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD", "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER",
})
S3_MISSING_PAYLOAD_HASH = "Missing required header for this request: x-amz-content-sha256"
S3_BAD_PAYLOAD_HASH = (
    "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, "
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, "
    "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER or a valid sha256 value."
)
S3_STREAMING = "A header you provided implies functionality that is not implemented: x-amz-content-sha256 {} (aws-chunked)."

_PRESIGN_PARAMS = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature")
_QUERY_REQUIRED = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Date")
_AUTH_SEPARATORS = re.compile(r"[\s,]+")
# The Authorization header as every SDK writes it; anything else takes the general path.
_SDK_AUTH = re.compile(r"AWS4-HMAC-SHA256 Credential=([^\s,=]+), ?SignedHeaders=([^\s,=]+), ?Signature=([^\s,=]+)")
# A path whose canonical form is itself: segments of unreserved characters, none "." or "..".
_PLAIN_PATH = re.compile(r"(?:/(?!\.\.?(?:/|$))[A-Za-z0-9._~-]+)*/?")
# An S3 path whose canonical form is itself: nothing to decode, nothing to encode.
_S3_PLAIN_PATH = re.compile(r"/[A-Za-z0-9._~/-]*")
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """What the server received."""

    method: str
    path: str  # raw path as received (percent-encoded form), without the query
    query: str  # raw query string, without "?"
    headers: Mapping[str, str]  # lower-cased names; repeated headers joined with ","
    body: bytes
    # For a service that forwards a request it received (the authorisation API, the
    # middleware): the hex SHA-256 of the body it received, instead of the body itself.
    payload_hash: str | None = None
    # Whether "UNSIGNED-PAYLOAD" may stand for a body (S3-style services; never IAM/STS).
    unsigned_payload_ok: bool = False


def join_headers(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Headers as :class:`HttpRequest` holds them: lower-case names, a repeated header's values joined with ","
    in the order received (as SigV4 canonicalises them)."""
    headers: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower()
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    return headers


def asgi_headers(raw: Sequence[tuple[bytes, bytes]]) -> dict[str, str]:
    """An ASGI scope's headers (latin-1 bytes) as :func:`join_headers` gives them; one dict built when no
    header repeats (nearly always)."""
    headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in raw}
    if len(headers) == len(raw):
        return headers
    return join_headers((name.decode("latin-1"), value.decode("latin-1")) for name, value in raw)


@dataclass(slots=True)
class SignedRequest:
    """What the signature claims (not frozen: one is built per request on the hot path, and freezing
    costs a microsecond of its construction; nothing changes it after parse)."""

    access_key_id: str
    date: str  # yyyymmdd of the credential scope
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    timestamp: datetime  # X-Amz-Date (or the Date header), aware, UTC
    security_token: str | None  # X-Amz-Security-Token (header or query)
    presigned: bool
    expires: int | None  # X-Amz-Expires, for presigned requests

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/{TERMINATOR}"


# Requests come many a second: the texts and times of recent request times are remembered (bounded).
@lru_cache(maxsize=1024)
def _stamp(t: datetime) -> str:
    """ISO-8601 basic format, as in X-Amz-Date."""
    return "%04d%02d%02dT%02d%02d%02dZ" % (t.year, t.month, t.day, t.hour, t.minute, t.second)


@lru_cache(maxsize=1024)
def _day(t: datetime) -> str:
    return "%04d%02d%02d" % (t.year, t.month, t.day)


# --- parse ----------------------------------------------------------------------------------------


def parse(
    req: HttpRequest,
    form: Mapping[str, str] | None = None,
    *,
    services: Sequence[str] | None = None,
    regions: Collection[str] | None = None,
) -> SignedRequest:
    """What the request's signature claims: its Authorization header, or presigned query parameters.

    ``form`` is the request's parameters as the protocol layer decoded them
    (query string and form body); it is consulted only to tell a signature
    put in the body, where SigV4 cannot cover it, from no signature at all.
    ``services`` and ``regions``, when given, are the credential scopes this
    endpoint answers for (the first service is the one named in the error).
    """
    auth = req.headers.get("authorization")
    if auth is not None and auth.lstrip().startswith("AWS4-"):
        return _parse_header(req, auth, services, regions)
    if req.query:
        query = _query_dict(req.query)
        if any(name in query for name in _PRESIGN_PARAMS):
            return _parse_query(req, query, services, regions)
    if form is not None and any(name in form for name in _PRESIGN_PARAMS):
        raise IncompleteSignature(
            "AWS query-string parameters must be in the query string, not the request body. "
            "Re-examine the query-string parameters."
        )
    raise MissingAuthenticationToken(MISSING_TOKEN)


def _parse_header(
    req: HttpRequest, auth: str, services: Sequence[str] | None, regions: Collection[str] | None
) -> SignedRequest:
    sdk = _SDK_AUTH.fullmatch(auth)
    if sdk is not None:
        algorithm = ALGORITHM
        fields = {"Credential": sdk[1], "SignedHeaders": sdk[2], "Signature": sdk[3]}
    else:
        algorithm, fields = _auth_fields(auth)
    stamp = req.headers.get("x-amz-date") or req.headers.get("date")
    if sdk is None or not stamp:
        problems = [
            f"Authorization header requires '{name}' parameter. "
            for name in ("Credential", "Signature", "SignedHeaders")
            if not fields.get(name) and (name != "SignedHeaders" or name not in fields)
        ]
        if not stamp:
            problems.append("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ")
        if problems:
            raise IncompleteSignature("".join(problems) + f"Authorization={auth}")
    assert stamp is not None
    timestamp = _parse_time(stamp, http_date_allowed="x-amz-date" not in req.headers)
    signed_headers = tuple(fields["SignedHeaders"].split(";"))
    _require_host(signed_headers)
    _require_algorithm(algorithm)
    key, date, region, service = _parse_credential(fields["Credential"], timestamp, services, regions)
    return SignedRequest(
        access_key_id=key,
        date=date,
        region=region,
        service=service,
        signed_headers=signed_headers,
        signature=fields["Signature"],
        timestamp=timestamp,
        security_token=req.headers.get("x-amz-security-token"),
        presigned=False,
        expires=None,
    )


def _auth_fields(auth: str) -> tuple[str, dict[str, str]]:
    algorithm, _, rest = auth.strip().partition(" ")
    fields: dict[str, str] = {}
    for token in _AUTH_SEPARATORS.split(rest):
        if not token:
            continue
        name, eq, value = token.partition("=")
        if not eq:
            raise IncompleteSignature(
                f"'{token}' not a valid key=value pair (missing equal-sign) in Authorization header: '{auth}'."
            )
        fields[name] = value
    return algorithm, fields


def _parse_query(
    req: HttpRequest, query: Mapping[str, str], services: Sequence[str] | None, regions: Collection[str] | None
) -> SignedRequest:
    missing = [name for name in _QUERY_REQUIRED if not query.get(name)]
    if missing:
        names = ", ".join(f"'{name}'" for name in missing)
        raise IncompleteSignature(f"AWS query-string parameters must include {names}. Re-examine the query-string parameters.")
    timestamp = _parse_time(query["X-Amz-Date"], http_date_allowed=False)
    signed_headers = tuple(query["X-Amz-SignedHeaders"].split(";"))
    _require_host(signed_headers)
    _require_algorithm(query["X-Amz-Algorithm"])
    expires = _parse_expires(query.get("X-Amz-Expires"))
    key, date, region, service = _parse_credential(query["X-Amz-Credential"], timestamp, services, regions)
    return SignedRequest(
        access_key_id=key,
        date=date,
        region=region,
        service=service,
        signed_headers=signed_headers,
        signature=query["X-Amz-Signature"],
        timestamp=timestamp,
        security_token=query.get("X-Amz-Security-Token") or req.headers.get("x-amz-security-token"),
        presigned=True,
        expires=expires,
    )


def _parse_time(value: str, http_date_allowed: bool) -> datetime:
    """X-Amz-Date in ISO-8601 basic format (20150830T123600Z); a Date header may also be an HTTP date."""
    parsed = _basic_time(value)
    if parsed is not None:
        return parsed
    if http_date_allowed and not _basic_shape(value):
        try:
            parsed = parsedate_to_datetime(value)
            # (a date at either end of the calendar may have no UTC time: "31 Dec 9999 23:59:59 -1400")
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
        except (TypeError, ValueError, IndexError, OverflowError):
            pass
    raise IncompleteSignature(f"Date must be in ISO-8601 'basic format'. Got '{value}'. See http://en.wikipedia.org/wiki/ISO_8601")


def _basic_shape(value: str) -> bool:
    return (
        len(value) == 16
        and value.isascii()
        and value[8] == "T"
        and value[15] == "Z"
        and value[:8].isdigit()
        and value[9:15].isdigit()
    )


@lru_cache(maxsize=1024)
def _basic_time(value: str) -> datetime | None:
    """The time an ISO-8601 basic-format text names, or None (not that shape, or no such date)."""
    if not _basic_shape(value):
        return None
    try:
        return datetime(
            int(value[0:4]), int(value[4:6]), int(value[6:8]),
            int(value[9:11]), int(value[11:13]), int(value[13:15]), tzinfo=UTC,
        )
    except ValueError:
        return None


def _require_host(signed_headers: tuple[str, ...]) -> None:
    if "host" not in signed_headers and not any(name.lower() in ("host", ":authority") for name in signed_headers):
        raise SignatureDoesNotMatch(HOST_NOT_SIGNED)


def _require_algorithm(algorithm: str) -> None:
    if algorithm != ALGORITHM:
        raise IncompleteSignature(f"Unsupported AWS 'algorithm': '{algorithm}' (only {ALGORITHM} for now). ")


def _parse_expires(value: str | None) -> int | None:
    if value is None:
        return None
    if not (value.isascii() and value.lstrip("-").isdigit()):
        raise IncompleteSignature("X-Amz-Expires should be a number")
    expires = int(value)
    if expires < 0:
        raise IncompleteSignature("X-Amz-Expires must be non-negative")
    if expires > MAX_EXPIRES:
        raise IncompleteSignature(f"X-Amz-Expires must be less than a week (in seconds) that is {MAX_EXPIRES}")
    return expires


def _parse_credential(
    credential: str, timestamp: datetime, services: Sequence[str] | None, regions: Collection[str] | None
) -> tuple[str, str, str, str]:
    parts = credential.rstrip("/").split("/")
    if len(parts) != 5:
        raise IncompleteSignature(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, "
            f"got '{credential.rstrip('/')}'"
        )
    key, date, region, service, terminator = parts
    problems = []
    if not region or (regions is not None and region not in regions):
        problems.append(f"Credential should be scoped to a valid region, not '{region}'. ")
    if not service or (services is not None and service not in services):
        problems.append(f"Credential should be scoped to correct service: '{services[0] if services else service}'. ")
    if terminator != TERMINATOR:
        problems.append(f"Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{terminator}'. ")
    day = _day(timestamp)
    if date != day:
        problems.append(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{date}' != '{day}', from '{_stamp(timestamp)}'."
        )
    if problems:
        raise SignatureDoesNotMatch("".join(problems))
    return key, date, region, service


# --- step 1: the canonical request ----------------------------------------------------------------


def canonical_request(req: HttpRequest, signed: SignedRequest) -> str:
    """Method, canonical URI, canonical query, canonical headers, signed headers, payload hash (S3's rules for
    the URI and the payload when the signature is scoped to S3)."""
    s3 = signed.service in S3_SERVICES
    return "\n".join((
        req.method.upper(),
        _s3_canonical_uri(req.path) if s3 else _canonical_uri(req.path),
        _canonical_query(req.query, signed.presigned),
        _canonical_headers(req.headers, signed.signed_headers),
        ";".join(signed.signed_headers),
        _s3_payload(req, signed) if s3 else _payload_hash(req),
    ))


def _canonical_uri(path: str) -> str:
    if path == "/" or not path:
        return "/"
    if _PLAIN_PATH.fullmatch(path):
        return path
    segments = [s for s in path.split("/") if s and s != "."]
    out: list[str] = []
    for segment in segments:
        if segment == "..":
            if out:
                out.pop()
        else:
            out.append(segment)
    normalized = "/" + "/".join(out)
    if path.endswith("/") and out:
        normalized += "/"
    return quote(normalized, safe="/~", errors="surrogateescape")


def _s3_canonical_uri(path: str) -> str:
    """S3's canonical URI: the path as sent, not normalised (empty, ``.`` and ``..`` segments stay), each segment
    decoded once and URI-encoded once (every byte but the unreserved characters; upper-case hex). The segments are
    the path's own: an encoded slash (``%2F``) stays one, so that a signature for ``a/b`` is not one for ``a%2Fb``
    (the same key to S3, perhaps not to an app that routes on the raw path)."""
    if not path:
        return "/"
    if _S3_PLAIN_PATH.fullmatch(path):
        return path
    return "/".join(quote_from_bytes(unquote_to_bytes(segment), safe="~") for segment in path.split("/"))


def _canonical_query(query: str, presigned: bool) -> str:
    if not query:
        return ""
    pairs = []
    for item in query.split("&"):
        if not item:
            continue
        name, _, value = item.partition("=")
        key = _reencode(name)
        if presigned and key == "X-Amz-Signature":
            continue
        pairs.append((key, _reencode(value)))
    pairs.sort()
    return "&".join(f"{k}={v}" for k, v in pairs)


def _reencode(component: str) -> str:
    """One query component as received -> its canonical form: percent-decoded, then every byte but the
    unreserved characters percent-encoded (upper-case hex). A '+' is a plus sign (RFC 3986, and AWS's
    suite case post-vanilla-query-nonunreserved), so a space must arrive as %20, as the SDKs send it."""
    return quote_from_bytes(unquote_to_bytes(component), safe="-_.~")


def _query_dict(query: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in query.split("&"):
        if item:
            name, _, value = item.partition("=")
            key = unquote_to_bytes(name).decode("utf-8", "replace")
            params.setdefault(key, unquote_to_bytes(value).decode("utf-8", "replace"))
    return params


def _canonical_headers(headers: Mapping[str, str], signed_headers: tuple[str, ...]) -> str:
    lines = []
    for name in signed_headers:
        lower = name.lower()
        value = headers.get(lower)
        if value is None:
            raise SignatureDoesNotMatch(MISMATCH)  # a signed header the request does not carry
        lines.append(f"{lower}:{' '.join(value.split())}\n")
    return "".join(lines)


def _payload_hash(req: HttpRequest) -> str:
    """x-amz-content-sha256 when the request declares it (and it is true), else SHA-256 of the body."""
    declared = req.headers.get("x-amz-content-sha256")
    actual = _actual_hash(req)
    if declared is None:
        return actual
    if declared == UNSIGNED_PAYLOAD:
        # IAM and STS carry their parameters in the body: a body must be signed
        if actual != _EMPTY_SHA256 and not req.unsigned_payload_ok:
            raise SignatureDoesNotMatch(UNSIGNED_WITH_BODY)
        return declared
    if not hmac.compare_digest(declared.encode("utf-8", "replace"), actual.encode()):
        raise SignatureDoesNotMatch(PAYLOAD_MISMATCH)
    return actual


def _actual_hash(req: HttpRequest) -> str:
    if req.payload_hash is not None:
        return req.payload_hash.lower()
    return hashlib.sha256(req.body).hexdigest() if req.body else _EMPTY_SHA256


def _s3_payload(req: HttpRequest, signed: SignedRequest) -> str:
    """S3's payload line: UNSIGNED-PAYLOAD for a presigned URL, else the x-amz-content-sha256 header, which S3
    requires. A declared hash is signed as declared; :func:`verify` compares it with the body once the signature
    holds (S3 checks the body as it streams in, after the signature)."""
    if signed.presigned:
        declared = UNSIGNED_PAYLOAD
    else:
        found = req.headers.get("x-amz-content-sha256")
        if found is None:
            raise InvalidRequest(S3_MISSING_PAYLOAD_HASH)
        declared = found
    if declared == UNSIGNED_PAYLOAD:
        if not req.unsigned_payload_ok and _actual_hash(req) != _EMPTY_SHA256:
            raise SignatureDoesNotMatch(UNSIGNED_WITH_BODY)
        return declared
    if declared in STREAMING_PAYLOADS:
        raise FunctionalityNotImplemented(S3_STREAMING.format(declared))
    if not _HEX64.fullmatch(declared):
        raise InvalidArgument(S3_BAD_PAYLOAD_HASH)
    return declared


def _s3_check_body(req: HttpRequest, signed: SignedRequest) -> None:
    """After an S3 signature held: the body is the one its signed x-amz-content-sha256 declared."""
    if signed.presigned:
        return
    declared = req.headers.get("x-amz-content-sha256", UNSIGNED_PAYLOAD)
    if declared != UNSIGNED_PAYLOAD and not hmac.compare_digest(declared.lower().encode(), _actual_hash(req).encode()):
        raise XAmzContentSHA256Mismatch(PAYLOAD_MISMATCH)


# --- steps 2 to 4 ---------------------------------------------------------------------------------


def string_to_sign(signed: SignedRequest, canonical: str) -> str:
    """Algorithm, request time, credential scope, SHA-256 of the canonical request."""
    digest = hashlib.sha256(canonical.encode("utf-8", "surrogateescape")).hexdigest()
    return f"{ALGORITHM}\n{_stamp(signed.timestamp)}\n{signed.scope}\n{digest}"


def signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    """kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").

    Pure, so a caller may cache it by its arguments (it changes daily per key).
    """
    key = hmac.digest(("AWS4" + secret_key).encode(), date.encode(), "sha256")
    key = hmac.digest(key, region.encode(), "sha256")
    key = hmac.digest(key, service.encode(), "sha256")
    return hmac.digest(key, TERMINATOR.encode(), "sha256")


def signature(key: bytes | hmac.HMAC, string_to_sign: str) -> str:
    """Lower-case hex HMAC-SHA256 of the string to sign under the signing key.

    ``key`` may be an ``hmac.HMAC`` keyed with the signing key and fed nothing (see :func:`signing_hmac`):
    copying one costs less than keying a new HMAC.
    """
    if isinstance(key, bytes):
        return hmac.digest(key, string_to_sign.encode(), "sha256").hex()
    h = key.copy()
    h.update(string_to_sign.encode())
    return h.hexdigest()


def signing_hmac(key: bytes) -> hmac.HMAC:
    """An HMAC-SHA256 keyed with a signing key, to be copied per request (:func:`signature`)."""
    return hmac.new(key, digestmod=hashlib.sha256)


# --- verify ---------------------------------------------------------------------------------------


def verify(
    req: HttpRequest,
    signed: SignedRequest,
    secret_key: str,
    now: datetime,
    max_skew: timedelta = timedelta(minutes=5),
    *,
    key: bytes | hmac.HMAC | None = None,
) -> None:
    """Raise unless ``req`` carries ``signed``'s signature under ``secret_key`` and is timely at ``now``.

    ``key``, if given, is ``signing_key(secret_key, signed.date, signed.region,
    signed.service)`` from the caller's cache (or :func:`signing_hmac` of it). Header-signed requests must be
    within ``max_skew`` of ``now``; presigned ones from ``max_skew`` before
    their X-Amz-Date until X-Amz-Expires after it.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    _check_time(signed, now, max_skew)
    _require_host(signed.signed_headers)
    day = _day(signed.timestamp)
    if signed.date != day:
        raise SignatureDoesNotMatch(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{signed.date}' != '{day}', from '{_stamp(signed.timestamp)}'."
        )
    if key is None:
        key = signing_key(secret_key, signed.date, signed.region, signed.service)
    expected = signature(key, string_to_sign(signed, canonical_request(req, signed)))
    if not hmac.compare_digest(expected.encode(), signed.signature.encode("utf-8", "replace")):
        raise SignatureDoesNotMatch(MISMATCH)
    if signed.service in S3_SERVICES:
        _s3_check_body(req, signed)


def _check_time(signed: SignedRequest, now: datetime, max_skew: timedelta) -> None:
    when = signed.timestamp
    # (differences, not sums: a time at the end of the calendar has no later time to compare with)
    if when - now > max_skew:
        raise SignatureDoesNotMatch(
            f"Signature not yet current: {_stamp(when)} is still later than "
            f"{_stamp(now + max_skew)} ({_stamp(now)} + {_span(max_skew)}.)"
        )
    if signed.presigned and signed.expires is not None:
        if now - when > timedelta(seconds=signed.expires):
            raise AccessDenied(REQUEST_EXPIRED)
    elif now - when > max_skew:
        raise SignatureDoesNotMatch(
            f"Signature expired: {_stamp(when)} is now earlier than "
            f"{_stamp(now - max_skew)} ({_stamp(now)} - {_span(max_skew)}.)"
        )


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} sec"
