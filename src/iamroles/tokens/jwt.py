"""Verifying OpenID Connect ID tokens (JWS compact form) against a JWKS.

Pure: the token, the key set and the time are arguments. RS256/384/512 and
ES256/384 are accepted; ``none`` and HMAC algorithms never are (a public
JWKS cannot verify them safely).
"""
from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

__all__ = ["JwtError", "decode_unverified", "verify_jwt"]

_HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}


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


def _int(value: str) -> int:
    return int.from_bytes(_b64(value), "big")


def _public_key(jwk: Mapping[str, Any]) -> Any:
    kty = jwk.get("kty")
    if kty == "RSA":
        return rsa.RSAPublicNumbers(_int(jwk["e"]), _int(jwk["n"])).public_key()
    if kty == "EC":
        curve = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1()}.get(jwk.get("crv", ""))
        if curve is None:
            raise JwtError("unsupported curve")
        return ec.EllipticCurvePublicNumbers(_int(jwk["x"]), _int(jwk["y"]), curve).public_key()
    raise JwtError("unsupported key type")


def verify_jwt(token: str, jwks: Mapping[str, Any]) -> dict[str, Any]:
    """The claims of ``token`` if a key of ``jwks`` signed it; JwtError otherwise."""
    header, claims, signing_input, sig = decode_unverified(token)
    alg = header.get("alg")
    if not isinstance(alg, str) or alg[:2] not in ("RS", "ES") or alg[2:] not in _HASHES:
        raise JwtError(f"unsupported algorithm {alg!r}")
    kid = header.get("kid")
    keys = [k for k in jwks.get("keys", []) if isinstance(k, dict) and (kid is None or k.get("kid") == kid)]
    if not keys:
        raise JwtError("no key in the provider's key set matches the token")
    digest = _HASHES[alg[2:]]()
    for jwk in keys:
        if jwk.get("use", "sig") != "sig" or (jwk.get("alg") not in (None, alg)):
            continue
        try:
            key = _public_key(jwk)
            if alg.startswith("RS") and isinstance(key, rsa.RSAPublicKey):
                key.verify(sig, signing_input, padding.PKCS1v15(), digest)
                return claims
            if alg.startswith("ES") and isinstance(key, ec.EllipticCurvePublicKey):
                half = len(sig) // 2
                der = encode_dss_signature(int.from_bytes(sig[:half], "big"), int.from_bytes(sig[half:], "big"))
                key.verify(der, signing_input, ec.ECDSA(digest))
                return claims
        except (InvalidSignature, KeyError, ValueError, TypeError):
            continue
    raise JwtError("the token's signature does not verify")
