"""What a signature covers, as the middleware hands a request to its backend: S3's rules and everyone else's.

* The path is the scope's raw path, as the client sent it. A signature scoped to S3 covers it as it is
  (:mod:`iamroles.auth.sigv4`'s S3 mode: never normalised, so keys with ``//``, ``.`` and ``..`` segments are
  signed and routed alike). Any other service's SigV4 signs the path normalised (duplicate slashes and dot
  segments removed), so the app would route on a path other than the one signed: such a path is refused
  (400 InvalidURI) unless the signature is S3's.
* The payload is the body's SHA-256, computed here once and forwarded (a backend never needs the body): not
  computed when x-amz-content-sha256 is ``UNSIGNED-PAYLOAD`` and the service accepts unsigned payloads, as it
  is not signed then. What x-amz-content-sha256 may say (a hash, ``UNSIGNED-PAYLOAD``, ``STREAMING-*``) is
  SigV4's S3 mode's to check, so that both backends apply the same rules.
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping
from urllib.parse import unquote

from iamroles.auth import sigv4
from iamroles.errors import InvalidURI

__all__ = ["EMPTY_SHA256", "credential_service", "path_refusal", "payload_hash"]

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
INVALID_URI = "Couldn't parse the specified URI."


def credential_service(headers: Mapping[str, str], query: str) -> str | None:
    """The service named in the request's credential scope (Authorization header or X-Amz-Credential), read
    without parsing the rest: the backend parses (and refuses) the signature."""
    auth = headers.get("authorization")
    if auth is not None:
        at = auth.find("Credential=")
        if at < 0:
            return None
        parts = auth[at + 11:].split(",", 1)[0].split("/")
    else:
        at = query.find("X-Amz-Credential=")
        if at < 0:
            return None
        parts = unquote(query[at + 17:].split("&", 1)[0]).split("/")
    return parts[3].strip() if len(parts) >= 5 else None


def _not_normal(path: str) -> bool:
    """Whether SigV4's path normalisation (every service but S3) would change ``path``."""
    return "//" in path or "/./" in path or "/../" in path or path.endswith(("/.", "/.."))


def path_refusal(path: str, headers: Mapping[str, str], query: str) -> InvalidURI | None:
    """Why the signature cannot cover ``path`` (the raw path) as the app will see it: None if it can."""
    if not _not_normal(path) or credential_service(headers, query) in sigv4.S3_SERVICES:
        return None
    return InvalidURI(INVALID_URI)


def payload_hash(headers: Mapping[str, str], body: bytes, allow_unsigned: bool) -> str:
    """The hex SHA-256 a backend checks the request against (the empty body's where it is not signed)."""
    if allow_unsigned and headers.get("x-amz-content-sha256") == sigv4.UNSIGNED_PAYLOAD:
        return EMPTY_SHA256
    return hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256
