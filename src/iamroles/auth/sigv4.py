"""SigV4 verification, as named steps (canonical request, string to sign,
signing key, signature). Pure: the request, the secret and the time are
arguments; signatures are compared in constant time.

AWS references: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
and reference_sigv-troubleshooting.html (the errors below).
"""
from __future__ import annotations

import hashlib
import hmac
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from urllib.parse import parse_qsl, quote, unquote

from iamroles.errors import IncompleteSignature, MissingAuthenticationToken, SignatureDoesNotMatch

__all__ = ["HttpRequest", "SignedRequest", "parse", "canonical_request", "string_to_sign", "signing_key", "signature", "verify"]

ALGORITHM = "AWS4-HMAC-SHA256"
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    path: str  # raw, as received
    query: str  # raw, without "?"
    headers: Mapping[str, str]  # lower-cased names, repeated headers joined with ","
    body: bytes


@dataclass(frozen=True, slots=True)
class SignedRequest:
    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    timestamp: datetime
    security_token: str | None
    presigned: bool
    expires: int | None


def _parse_time(value: str) -> datetime:
    try:
        if len(value) != 16 or value[8] != "T" or value[15] != "Z":
            raise ValueError(value)
        return datetime(int(value[0:4]), int(value[4:6]), int(value[6:8]), int(value[9:11]), int(value[11:13]),
                        int(value[13:15]), tzinfo=timezone.utc)
    except ValueError:
        raise IncompleteSignature(f"Date must be in ISO-8601 'basic format'. Got '{value}'. See http://en.wikipedia.org/wiki/ISO_8601") from None


def _credential(value: str) -> tuple[str, str, str, str]:
    parts = value.split("/")
    if len(parts) != 5:
        raise IncompleteSignature(f"Credential should be scoped to a valid region, not '{parts[2] if len(parts) > 2 else ''}'. ")
    key, date, region, service, terminator = parts
    if terminator != "aws4_request":
        raise IncompleteSignature(f"Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'. ")
    if not region:
        raise IncompleteSignature("Credential should be scoped to a valid region. ")
    return key, date, region, service


def parse(req: HttpRequest, form: Mapping[str, str] | None = None) -> SignedRequest:
    """What the request's signature claims (Authorization header or presigned query)."""
    auth = req.headers.get("authorization")
    token = req.headers.get("x-amz-security-token")
    if auth:
        algorithm, _, rest = auth.strip().partition(" ")
        if algorithm != ALGORITHM:
            raise IncompleteSignature(f"Unsupported AWS 'algorithm': '{algorithm}'")
        fields: dict[str, str] = {}
        for part in rest.split(","):
            k, sep, v = part.strip().partition("=")
            if sep:
                fields[k.strip()] = v.strip()
        missing = [f"Authorization header requires '{k}' parameter." for k in ("Credential", "Signature", "SignedHeaders") if k not in fields]
        amz_date = req.headers.get("x-amz-date") or req.headers.get("date")
        if not amz_date:
            missing.append("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
        if missing:
            raise IncompleteSignature(" ".join(missing) + f" Authorization={auth}")
        key, date, region, service = _credential(fields["Credential"])
        signed_headers = tuple(fields["SignedHeaders"].split(";"))
        assert amz_date is not None
        return SignedRequest(key, date, region, service, signed_headers, fields["Signature"], _parse_time(amz_date),
                             token, False, None)
    query = dict(parse_qsl(req.query, keep_blank_values=True))
    if "X-Amz-Signature" in query or "X-Amz-Credential" in query:
        if query.get("X-Amz-Algorithm") != ALGORITHM:
            raise IncompleteSignature(f"Unsupported AWS 'algorithm': '{query.get('X-Amz-Algorithm', '')}'")
        need = ("X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Date")
        missing = [k for k in need if k not in query]
        if missing:
            raise IncompleteSignature(f"AWS query-string parameters must include {', '.join(repr(m) for m in missing)}. Re-examine the query-string parameters.")
        key, date, region, service = _credential(query["X-Amz-Credential"])
        try:
            expires = int(query["X-Amz-Expires"]) if "X-Amz-Expires" in query else None
        except ValueError:
            raise IncompleteSignature("X-Amz-Expires should be a number") from None
        return SignedRequest(key, date, region, service, tuple(query["X-Amz-SignedHeaders"].split(";")), query["X-Amz-Signature"],
                             _parse_time(query["X-Amz-Date"]), query.get("X-Amz-Security-Token") or token, True, expires)
    raise MissingAuthenticationToken("Request is missing Authentication Token")


def _uri_encode(text: str, safe: str = "-_.~") -> str:
    return quote(text, safe=safe)


def _canonical_path(path: str) -> str:
    raw = path.split("?", 1)[0] or "/"
    normalized = posixpath.normpath(unquote(raw))
    if raw.endswith("/") and normalized != "/":
        normalized += "/"
    if normalized.startswith("//"):
        normalized = "/" + normalized.lstrip("/")
    # non-S3 services: each segment URI-encoded twice
    return "/".join(_uri_encode(_uri_encode(seg)) for seg in normalized.split("/"))


def _canonical_query(query: str, presigned: bool) -> str:
    pairs = []
    for k, v in parse_qsl(query, keep_blank_values=True):
        if presigned and k == "X-Amz-Signature":
            continue
        pairs.append((_uri_encode(k), _uri_encode(v)))
    pairs.sort()
    return "&".join(f"{k}={v}" for k, v in pairs)


def _payload_hash(req: HttpRequest, signed: SignedRequest) -> str:
    declared = req.headers.get("x-amz-content-sha256")
    if declared == "UNSIGNED-PAYLOAD":
        # IAM and STS carry their parameters in the body: it must be signed
        if req.body:
            raise SignatureDoesNotMatch("UNSIGNED-PAYLOAD is not accepted for a request with a body.")
        return declared
    actual = hashlib.sha256(req.body).hexdigest()
    if declared is not None and declared != "UNSIGNED-PAYLOAD" and not hmac.compare_digest(declared, actual):
        raise SignatureDoesNotMatch("The provided 'x-amz-content-sha256' header does not match what was computed.")
    return actual


def canonical_request(req: HttpRequest, signed: SignedRequest) -> str:
    headers = []
    for name in signed.signed_headers:
        value = req.headers.get(name)
        if value is None:
            raise SignatureDoesNotMatch(MISMATCH)
        headers.append(f"{name}:{' '.join(value.split())}\n")
    return "\n".join([
        req.method.upper(),
        _canonical_path(req.path),
        _canonical_query(req.query, signed.presigned),
        "".join(headers),
        ";".join(signed.signed_headers),
        _payload_hash(req, signed),
    ])


def string_to_sign(signed: SignedRequest, canonical: str) -> str:
    scope = f"{signed.date}/{signed.region}/{signed.service}/aws4_request"
    stamp = signed.timestamp.strftime("%Y%m%dT%H%M%SZ")
    return f"{ALGORITHM}\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"


@lru_cache(maxsize=4096)
def signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    k = hmac.new(("AWS4" + secret_key).encode(), date.encode(), hashlib.sha256).digest()
    k = hmac.new(k, region.encode(), hashlib.sha256).digest()
    k = hmac.new(k, service.encode(), hashlib.sha256).digest()
    return hmac.new(k, b"aws4_request", hashlib.sha256).digest()


def signature(key: bytes, to_sign: str) -> str:
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def verify(req: HttpRequest, signed: SignedRequest, secret_key: str, now: datetime, max_skew: timedelta = timedelta(minutes=5)) -> None:
    """Raise unless the request is signed with ``secret_key`` and timely at ``now``."""
    if "host" not in signed.signed_headers:
        raise SignatureDoesNotMatch("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
    if signed.timestamp.strftime("%Y%m%d") != signed.date:
        raise SignatureDoesNotMatch(
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{signed.date}' != '{signed.timestamp.strftime('%Y%m%d')}', from '{signed.timestamp.strftime('%Y%m%dT%H%M%SZ')}'."
        )
    stamp = signed.timestamp.strftime("%Y%m%dT%H%M%SZ")
    fmt = "%Y%m%dT%H%M%SZ"
    if signed.presigned:
        if signed.timestamp - max_skew > now:
            raise SignatureDoesNotMatch(f"Signature not yet current: {stamp} is still later than {(now + max_skew).strftime(fmt)} ({now.strftime(fmt)} + 5 min.)")
        if signed.expires is not None and now > signed.timestamp + timedelta(seconds=signed.expires):
            raise SignatureDoesNotMatch(f"Signature expired: {stamp} is now earlier than {(now - timedelta(seconds=signed.expires)).strftime(fmt)} ({now.strftime(fmt)} - {signed.expires} sec.)")
    else:
        if signed.timestamp < now - max_skew:
            raise SignatureDoesNotMatch(f"Signature expired: {stamp} is now earlier than {(now - max_skew).strftime(fmt)} ({now.strftime(fmt)} - 5 min.)")
        if signed.timestamp > now + max_skew:
            raise SignatureDoesNotMatch(f"Signature not yet current: {stamp} is still later than {(now + max_skew).strftime(fmt)} ({now.strftime(fmt)} + 5 min.)")
    expected = signature(signing_key(secret_key, signed.date, signed.region, signed.service), string_to_sign(signed, canonical_request(req, signed)))
    if not hmac.compare_digest(expected, signed.signature):
        raise SignatureDoesNotMatch(MISMATCH)
