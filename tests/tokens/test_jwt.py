"""OIDC ID-token signatures (``tokens.jwt.verify_jwt``): a JWS verifies only under a key of the provider's JWKS,
with an asymmetric algorithm, and every other input is a :class:`JwtError` (what ``sts.web_identity`` turns
into InvalidIdentityToken) — never another exception.

The claim checks (exp, aud, iss, nbf) are not here: ``sts.web_identity`` makes them after ``verify_jwt`` and
``tests/server/test_oidc.py`` drives them over the wire (expired -> ExpiredTokenException; wrong aud,
unknown iss, other key, alg none -> InvalidIdentityToken).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hypothesis import given
from hypothesis import strategies as st

from iamroles.tokens.jwt import JwtError, decode_unverified, verify_jwt

from .helpers import NOISE, examples

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC256 = ec.generate_private_key(ec.SECP256R1())
EC384 = ec.generate_private_key(ec.SECP384R1())
CLAIMS = {"iss": "https://token.example.com", "sub": "repo:org/app:ref:refs/heads/main", "aud": "sts.amazonaws.com",
          "exp": 2_000_000_000, "iat": 1_700_000_000}
_HASH = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _uint(n: int) -> str:
    return b64(n.to_bytes((n.bit_length() + 7) // 8, "big"))


def jwk(key: Any, kid: str, **extra: str) -> dict[str, str]:
    pub = key.public_key().public_numbers()
    if isinstance(key, rsa.RSAPrivateKey):
        return {"kty": "RSA", "kid": kid, "n": _uint(pub.n), "e": _uint(pub.e), **extra}
    size = (key.curve.key_size + 7) // 8
    crv = {256: "P-256", 384: "P-384"}[key.curve.key_size]
    return {"kty": "EC", "kid": kid, "crv": crv, "x": b64(pub.x.to_bytes(size, "big")), "y": b64(pub.y.to_bytes(size, "big")), **extra}


def sign(key: Any, alg: str, claims: dict[str, Any] | None = None, **header: Any) -> str:
    head = b64(json.dumps({"alg": alg, "typ": "JWT", **header}).encode())
    body = b64(json.dumps(CLAIMS if claims is None else claims).encode())
    signing_input = f"{head}.{body}".encode()
    digest = _HASH[alg[2:]]
    if alg.startswith("RS"):
        sig = key.sign(signing_input, padding.PKCS1v15(), digest)
    else:  # JWS ECDSA: r || s, each the curve's size (RFC 7518 section 3.4)
        r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(digest)))
        size = (key.curve.key_size + 7) // 8
        sig = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    return f"{head}.{body}.{b64(sig)}"


JWKS = {"keys": [jwk(RSA_KEY, "rsa-1", use="sig", alg="RS256"), jwk(EC256, "ec-1"), jwk(EC384, "ec-2")]}
GOOD = sign(RSA_KEY, "RS256", kid="rsa-1")


# -- what verifies ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "alg", "kid"), [
    (RSA_KEY, "RS256", "rsa-1"), (RSA_KEY, "RS384", "rsa-any"), (RSA_KEY, "RS512", "rsa-any"),
    (EC256, "ES256", "ec-1"), (EC384, "ES384", "ec-2"),
])
def test_good_signatures_verify(key: Any, alg: str, kid: str) -> None:
    jwks = {"keys": [*JWKS["keys"], jwk(RSA_KEY, "rsa-any")]}  # no "alg" on this one: any RS* may use it
    assert verify_jwt(sign(key, alg, kid=kid), jwks) == CLAIMS


def test_without_a_kid_every_key_is_tried() -> None:
    jwks = {"keys": [jwk(OTHER_RSA, "a"), jwk(EC256, "b"), jwk(RSA_KEY, "c")]}
    assert verify_jwt(sign(RSA_KEY, "RS256"), jwks) == CLAIMS
    assert verify_jwt(sign(EC256, "ES256"), jwks) == CLAIMS


def test_decode_unverified_reads_without_checking() -> None:
    header, claims, signing_input, sig = decode_unverified(sign(OTHER_RSA, "RS256", kid="rsa-1"))
    assert header["kid"] == "rsa-1" and claims == CLAIMS and signing_input.count(b".") == 1 and len(sig) == 256


# -- what does not ----------------------------------------------------------------------------------------------


def _refused(token: str, jwks: dict[str, Any] = JWKS) -> JwtError:
    with pytest.raises(JwtError) as exc:
        verify_jwt(token, jwks)
    return exc.value


def test_another_keys_signature_is_refused() -> None:
    assert "does not verify" in str(_refused(sign(OTHER_RSA, "RS256", kid="rsa-1")))
    _refused(sign(OTHER_RSA, "RS256"))  # no kid: tried against every key, none verifies
    _refused(sign(ec.generate_private_key(ec.SECP256R1()), "ES256", kid="ec-1"))


def test_an_unknown_kid_is_refused() -> None:
    assert "no key" in str(_refused(sign(RSA_KEY, "RS256", kid="rsa-2")))
    _refused(GOOD, {"keys": []})
    _refused(GOOD, {})


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "", None, 256, ["RS256"], "HS256", "HS512", "RS", "RS1", "ES512x", "PS256", "EdDSA"])
def test_unsupported_algorithms_are_refused(alg: Any) -> None:
    """alg none and the HMAC algorithms (the public key used as a MAC secret) never verify, whatever follows."""
    head, body, sig = GOOD.split(".")
    header = b64(json.dumps({"alg": alg, "kid": "rsa-1"}).encode())
    for signature in ("", sig):
        _refused(f"{header}.{body}.{signature}")


def test_hmac_with_the_public_key_as_secret_is_refused() -> None:
    """The classic algorithm confusion: HS256 keyed with the provider's public key (PEM or the JWK's n)."""
    pem = RSA_KEY.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    for secret in (pem, JWKS["keys"][0]["n"].encode()):
        head = b64(json.dumps({"alg": "HS256", "kid": "rsa-1"}).encode())
        body = b64(json.dumps(CLAIMS).encode())
        mac = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
        _refused(f"{head}.{body}.{b64(mac)}")


def test_a_key_is_used_only_for_its_algorithm_and_for_signing() -> None:
    _refused(sign(RSA_KEY, "RS512", kid="rsa-1"))  # the key says alg RS256
    _refused(GOOD, {"keys": [jwk(RSA_KEY, "rsa-1", use="enc")]})
    _refused(sign(RSA_KEY, "RS256", kid="ec-1"))  # an RSA signature against an EC key
    _refused(sign(EC256, "ES256", kid="rsa-1"))  # and the other way round


def test_a_signature_over_other_claims_is_refused() -> None:
    head, _body, sig = GOOD.split(".")
    for claims in ({**CLAIMS, "sub": "repo:evil/app"}, {**CLAIMS, "exp": 2_100_000_000}, {**CLAIMS, "aud": ["sts.amazonaws.com", "x"]}):
        _refused(f"{head}.{b64(json.dumps(claims).encode())}.{sig}")
    other_head = b64(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "rsa-1", "x": 1}).encode())
    _refused(f"{other_head}.{GOOD.split('.')[1]}.{sig}")


@pytest.mark.parametrize("token", [
    "", ".", "..", "...", "a.b", "a.b.c.d", "not-a-jwt", "e30.e30", "e30.e30.e30.e30",
    "W10.e30.", "e30.W10.", "bnVsbA.e30.", "e30.IjEi.", "e30.MQ.",  # header/claims not objects: [] null "1" 1
    "!!!.e30.", "e30.!!!.", "e30.e30.!!!", "e30.e30.", "/w.e30.", "e30./w.",  # not base64, \xff
    b64(b"[" * 5000) + ".e30.", "e30." + b64(b"{\"a\":" * 3000) + ".",  # deeper than the json module recurses
], ids=lambda t: t if len(t) < 30 else f"{t[:8]}...({len(t)} chars)")
def test_malformed_tokens_are_jwt_errors(token: str) -> None:
    _refused(token)
    if token.split(".")[:2] != ["e30", "e30"]:  # the form alone is wrong: reading it unverified fails the same way
        with pytest.raises(JwtError):
            decode_unverified(token)


@pytest.mark.parametrize("jwks", [
    {"keys": [{"kty": "RSA", "kid": "rsa-1"}]}, {"keys": [{"kty": "RSA", "kid": "rsa-1", "n": 5, "e": None}]},
    {"keys": [{"kty": "RSA", "kid": "rsa-1", "n": "!!", "e": "AQAB"}]}, {"keys": [{"kty": "RSA", "kid": "rsa-1", "n": "AA", "e": "AA"}]},
    {"keys": [{"kty": "EC", "kid": "rsa-1", "crv": "P-521", "x": "AA", "y": "AA"}]}, {"keys": [{"kty": "oct", "kid": "rsa-1", "k": "c2VjcmV0"}]},
    {"keys": ["rsa-1", None, 5, []]}, {"keys": [{"kty": "EC", "kid": "rsa-1", "crv": "P-256", "x": "AA", "y": "AA"}]},
])
def test_broken_key_sets_are_jwt_errors(jwks: dict[str, Any]) -> None:
    _refused(GOOD, jwks)


# -- properties -------------------------------------------------------------------------------------------------


@examples(600)
@given(data=st.data())
def test_no_mutation_of_a_signed_token_verifies_other_claims(data: st.DataObject) -> None:
    """Any edit of a good token (RS256 or ES256): JwtError, or — only for an edit that leaves the signed
    header.payload as it was and the signature's bytes the same (base64 spellings of the signature part
    that the lenient decoder reads alike) — the original claims."""
    token = data.draw(st.sampled_from([GOOD, sign(EC256, "ES256", kid="ec-1")]))
    n = len(token)
    kind = data.draw(st.sampled_from(["substitute", "insert", "delete", "truncate", "append"]))
    if kind == "substitute":
        i = data.draw(st.integers(0, n - 1))
        edited = token[:i] + data.draw(st.sampled_from(NOISE).filter(lambda c: c != token[i])) + token[i + 1 :]
    elif kind == "insert":
        i = data.draw(st.integers(0, n))
        edited = token[:i] + data.draw(st.text(st.sampled_from(NOISE), min_size=1, max_size=4)) + token[i:]
    elif kind == "delete":
        i = data.draw(st.integers(0, n - 1))
        edited = token[:i] + token[data.draw(st.integers(i + 1, n)) :]
    elif kind == "truncate":
        edited = token[: data.draw(st.integers(0, n - 1))]
    else:
        edited = token + data.draw(st.text(st.sampled_from(NOISE), min_size=1, max_size=4))
    try:
        claims = verify_jwt(edited, JWKS)
    except JwtError:
        return
    head, body, sig = token.split(".")
    assert edited.split(".")[:2] == [head, body] and claims == CLAIMS
    assert decode_unverified(edited)[3] == decode_unverified(token)[3]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=6), kids, max_size=3),
    max_leaves=10,
)


@examples(250)
@given(header=st.dictionaries(st.sampled_from(["alg", "kid", "typ", "jku", "x5u", "crit"]), json_values | st.sampled_from(["RS256", "ES256", "ES384", "rsa-1", "ec-1"])),
       claims=json_values, sig=st.binary(max_size=300))
def test_any_token_built_from_json_is_refused_cleanly(header: dict[str, Any], claims: Any, sig: bytes) -> None:
    token = ".".join([b64(json.dumps(header).encode()), b64(json.dumps(claims).encode()), b64(sig)])
    _refused(token)


@examples(300)
@given(text=st.text(max_size=300) | st.text(st.sampled_from(NOISE), max_size=300))
def test_any_text_is_refused_cleanly(text: str) -> None:
    _refused(text)
