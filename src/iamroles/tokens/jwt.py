"""OpenID Connect ID tokens (JWS compact form), with joserfc: verifying them against a JWKS, and signing our own.

Pure: the token, the key set and the keys are arguments. RS256/384/512 and
ES256/384 are accepted; ``none`` and HMAC algorithms never are (a public
JWKS cannot verify them safely). ``decode_unverified`` reads the issuer
before the provider's keys are known (the form only, bounded: no deep JSON).

Signing (web identity tokens, GetWebIdentityToken): :func:`new_signing_key`
makes an RS256 (RSA 2048) or ES384 (P-384) key, its ``kid`` the RFC 7638
thumbprint of its public half; :func:`sign_jwt` signs a payload with it,
the header naming the algorithm and the key.
"""
from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey

__all__ = ["SIGNING_ALGORITHMS", "JwtError", "NewSigningKey", "UnknownKey", "decode_unverified", "encode_claims", "new_signing_key",
           "open_signing_key", "sign_jwt", "verify_jwt"]

# What GetWebIdentityToken signs with (its SigningAlgorithm: "RS256 (RSA with SHA-256) and ES384 (ECDSA using
# P-384 curve with SHA-384)", STS's model), each with the key type and size it takes here
SIGNING_ALGORITHMS = ("RS256", "ES384")
_RSA_BITS = 2048


class JwtError(ValueError):
    pass


class UnknownKey(JwtError):
    """The token names a key (``kid``) the key set does not have: the issuer may have rotated since it was fetched."""


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
        raise UnknownKey("no key in the provider's key set matches the token")
    for jwk in keys:
        if jwk.get("use", "sig") != "sig" or jwk.get("alg") not in (None, alg):
            continue
        try:
            jws.deserialize_compact(token, _public_key(jwk), algorithms=[alg])
        except (JoseError, JwtError, ValueError, TypeError, KeyError):
            continue
        return claims
    raise JwtError("the token's signature does not verify")


@dataclass(frozen=True, slots=True)
class NewSigningKey:
    """A key made to sign JWTs: the private key (PKCS#8 PEM: to be sealed, never shown) and its public JWK."""

    key_id: str
    algorithm: str
    private_pem: bytes
    public_jwk: dict[str, Any]


def new_signing_key(algorithm: str) -> NewSigningKey:
    """A new key for ``algorithm`` (one of :data:`SIGNING_ALGORITHMS`); its kid is its public key's thumbprint."""
    if algorithm == "RS256":
        key: RSAKey | ECKey = RSAKey.generate_key(_RSA_BITS, private=True)
    elif algorithm == "ES384":
        key = ECKey.generate_key("P-384", private=True)
    else:
        raise ValueError(f"not a signing algorithm: {algorithm!r}")
    kid = key.thumbprint()
    public = {**key.as_dict(private=False), "kid": kid, "use": "sig", "alg": algorithm}
    return NewSigningKey(kid, algorithm, key.as_pem(private=True), public)


def open_signing_key(private_pem: bytes, algorithm: str) -> RSAKey | ECKey:
    """The key :func:`new_signing_key` made, from its PEM (slow for RSA: callers keep it)."""
    key: RSAKey | ECKey = RSAKey.import_key(private_pem) if algorithm == "RS256" else ECKey.import_key(private_pem)
    return key


def encode_claims(claims: Mapping[str, Any]) -> bytes:
    """A JWT's payload: the claims as compact JSON (what its size is measured on)."""
    return json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode()


def sign_jwt(payload: bytes, key: RSAKey | ECKey, algorithm: str, key_id: str) -> str:
    """The JWS compact serialisation of ``payload`` signed with ``key`` by ``algorithm``; the header names the key."""
    if algorithm not in SIGNING_ALGORITHMS:
        raise ValueError(f"not a signing algorithm: {algorithm!r}")
    return jws.serialize_compact({"alg": algorithm, "kid": key_id, "typ": "JWT"}, payload, key, algorithms=[algorithm])
