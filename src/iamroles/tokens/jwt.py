"""Verifying OpenID Connect ID tokens (JWS compact form) against a JWKS, with joserfc.

Pure: the token and the key set are arguments. RS256/384/512 and ES256/384
are accepted; ``none`` and HMAC algorithms never are (a public JWKS cannot
verify them safely). ``decode_unverified`` reads the issuer before the
provider's keys are known (the form only, bounded: no deep JSON).
"""
from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey

__all__ = ["JwtError", "decode_unverified", "verify_jwt"]


class JwtError(ValueError):
    pass


def _b64(part: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (ValueError, TypeError):
        raise JwtError("malformed token") from None


def decode_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """(header, claims, signing input, signature), checking only the form."""
    parts = token.split(".")
    if len(parts) != 3:
        raise JwtError("malformed token")
    try:
        header = json.loads(_b64(parts[0]))
        claims = json.loads(_b64(parts[1]))
    except (ValueError, RecursionError):  # RecursionError: "[[[[…" nested deeper than json's limit
        raise JwtError("malformed token") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise JwtError("malformed token")
    return header, claims, f"{parts[0]}.{parts[1]}".encode(), _b64(parts[2])


_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "ES256", "ES384"})


def _public_key(jwk: Mapping[str, Any]) -> RSAKey | ECKey:
    kty = jwk.get("kty")
    if kty == "RSA":
        return RSAKey.import_key(dict(jwk))
    if kty == "EC" and jwk.get("crv") in ("P-256", "P-384"):
        return ECKey.import_key(dict(jwk))
    raise JwtError("unsupported key type")


def verify_jwt(token: str, jwks: Mapping[str, Any]) -> dict[str, Any]:
    """The claims of ``token`` if a key of ``jwks`` signed it; JwtError otherwise.

    The signature is verified by joserfc (RFC 7515), with exactly the token's own algorithm allowed, and only
    against the provider's keys meant for signing (``use``) with that algorithm (``alg``), by ``kid`` when the
    token names one.
    """
    header, claims, _, _ = decode_unverified(token)
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in _ALGORITHMS:
        raise JwtError(f"unsupported algorithm {alg!r}")
    kid = header.get("kid")
    keys = [k for k in jwks.get("keys", []) if isinstance(k, dict) and (kid is None or k.get("kid") == kid)]
    if not keys:
        raise JwtError("no key in the provider's key set matches the token")
    for jwk in keys:
        if jwk.get("use", "sig") != "sig" or jwk.get("alg") not in (None, alg):
            continue
        try:
            jws.deserialize_compact(token, _public_key(jwk), algorithms=[alg])
        except (JoseError, JwtError, ValueError, TypeError, KeyError):
            continue
        return claims
    raise JwtError("the token's signature does not verify")
