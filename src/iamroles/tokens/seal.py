"""Sealed, self-contained session tokens.

A session token carries its whole session (account, role, session name,
the temporary key id and secret, issue and expiry times, chaining depth,
source identity, tags, session policies) as a JSON claim set (compressed when large)
sealed with AES-256-GCM under a signing key:

    token = base64url( format | key id (8 bytes) | nonce (12) | ciphertext+tag )

The format is b"IR1" when the plaintext is zlib-compressed (claims with a
session policy or many tags) and b"IR2" when it is the claims' JSON as is
(small claims gain little and compressing cost more than sealing). The key
id and format prefix are bound in as associated data. Any node that
holds the signing keys opens a token with no database read; a token sealed
under an unknown key, altered in any byte, truncated or extended does not
open. Keys are passed in; time is passed in.
"""
from __future__ import annotations

import base64
import binascii
import json
import secrets
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .secrets import random_bytes

__all__ = ["SessionClaims", "SigningKey", "key_id", "seal", "unseal", "TokenError"]

_PREFIX = b"IR1"  # compressed claims
_PLAIN = b"IR2"  # claims as they are
_KEY_ID_LEN = 8
_COMPRESS_FROM = 600  # bytes of claims JSON


class TokenError(ValueError):
    """The token is not one of ours, or was altered."""


@dataclass(frozen=True, slots=True)
class SigningKey:
    key_id: bytes  # 8 bytes
    key: bytes  # 32 bytes

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(secrets.token_bytes(_KEY_ID_LEN), secrets.token_bytes(32))


@dataclass(frozen=True, slots=True)
class SessionClaims:
    kind: str  # "assumed-role" | "federated-user" | "session-token" | "root" (AssumeRoot: policy_arns holds its task)
    account: str
    partition: str
    access_key_id: str
    secret: str
    issued: int  # epoch seconds
    expires: int
    arn: str  # the session's ARN (assumed-role/..., federated-user/..., the user's ARN, or a root session's account root)
    user_id: str  # AROA...:session, account:name, or the user's id
    principal_key: str  # the role's or user's name key in its account
    role_arn: str | None = None
    session_name: str | None = None
    source_identity: str | None = None
    chain_depth: int = 0
    tags: Mapping[str, str] = field(default_factory=dict)
    transitive_tag_keys: tuple[str, ...] = ()
    policy: str | None = None  # inline session policy text
    policy_arns: tuple[str, ...] = ()
    mfa_time: int | None = None  # when MFA was presented
    source_arn: str | None = None  # who created the session
    external_id: str | None = None
    # the unique id of the IAM user whose long-term key asked for a federated user's session: the session ends with
    # that user, not with whoever holds its name later (a session-token's user_id is that id already)
    issuer_id: str | None = None
    # GetScopedCredentials' scope-down policies, oldest first: each must allow (iamroles.policy.PolicySet.scope)
    scopes: tuple[str, ...] = ()
    # filler that makes the token at least as long as GetScopedCredentials' MinimumSessionTokenSize asked
    padding: str = ""
    # a privileged root session's standing when issued (iam.root_access: epoch microseconds of the latest change to
    # what it rests on); a later change ends the session
    standing: int | None = None

    def to_json(self) -> bytes:
        data = {}
        for name in _FIELDS:
            v = getattr(self, name)
            if v is None or v == () or v == {}:
                continue
            data[name] = dict(v) if name == "tags" else list(v) if isinstance(v, tuple) else v
        return json.dumps(data, separators=(",", ":"), sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> SessionClaims:
        data: dict[str, Any] = json.loads(raw)
        for key in ("transitive_tag_keys", "policy_arns", "scopes"):
            if key in data:
                data[key] = tuple(data[key])
        return cls(**data)


_FIELDS = tuple(f.name for f in fields(SessionClaims))


@lru_cache(maxsize=64)
def _aead(key: bytes) -> AESGCM:
    """A signing key's AES-GCM cipher, made once (a handful of keys live at a time)."""
    return AESGCM(key)


def _compress(raw: bytes) -> bytes:
    """A zlib stream with a 1 KiB window: claims are a few hundred bytes, and setting up zlib's default
    32 KiB window cost more than the compression (profiled). Any zlib decoder reads it."""
    c = zlib.compressobj(6, zlib.DEFLATED, 10, 2)
    return c.compress(raw) + c.flush()


def seal(claims: SessionClaims, key: SigningKey) -> str:
    nonce = random_bytes(12)
    raw = claims.to_json()
    if len(raw) >= _COMPRESS_FROM:
        header, raw = _PREFIX + key.key_id, _compress(raw)
    else:
        header = _PLAIN + key.key_id
    body = _aead(key.key).encrypt(nonce, raw, header)
    return base64.urlsafe_b64encode(header + nonce + body).decode().rstrip("=")


def key_id(token: str) -> bytes | None:
    """The id of the signing key ``token`` says it is sealed under, without opening it (None: not a token's
    shape): what a node that does not hold that key yet asks its key ring for. Only the first 20 characters
    are decoded, so a long token costs nothing here."""
    head = token[:20]
    try:
        raw = base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))
    except (binascii.Error, ValueError):
        return None
    found = raw[len(_PREFIX) : len(_PREFIX) + _KEY_ID_LEN]
    return found if len(found) == _KEY_ID_LEN else None


def unseal(token: str, keys: Mapping[bytes, SigningKey]) -> SessionClaims:
    """The claims of a token sealed under one of ``keys``; TokenError otherwise."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise TokenError("not a session token") from None
    if base64.urlsafe_b64encode(raw).decode().rstrip("=") != token:
        raise TokenError("not a session token")  # non-canonical encodings are other tokens
    header_len = len(_PREFIX) + _KEY_ID_LEN
    compressed = raw.startswith(_PREFIX)
    if len(raw) < header_len + 12 + 16 or not (compressed or raw.startswith(_PLAIN)):
        raise TokenError("not a session token")
    key = keys.get(raw[len(_PREFIX) : header_len])
    if key is None:
        raise TokenError("sealed under an unknown key")
    try:
        plain = _aead(key.key).decrypt(raw[header_len : header_len + 12], raw[header_len + 12 :], raw[:header_len])
        return SessionClaims.from_json(zlib.decompress(plain) if compressed else plain)
    except (InvalidTag, zlib.error, ValueError, TypeError):
        raise TokenError("the token does not open") from None
