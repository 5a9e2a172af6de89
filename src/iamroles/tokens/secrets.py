"""The master key, and the random identifiers and secrets AWS's formats call for.

Secrets at rest (secret access keys, signing keys) are sealed with AES-256-GCM
under the master key; the record's identity is bound in as associated data,
so a sealed secret copied onto another record does not open.
"""
from __future__ import annotations

import base64
import os
import re
import threading
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["MasterKey", "MasterKeyError", "account_of_access_key_id", "new_access_key_id", "new_secret_access_key", "new_unique_id", "random_bytes"]

_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_FORMAT = b"\x01"
ENV = "IAMROLES_MASTER_KEY"


class _Pool:
    """Bytes from the OS's CSPRNG, drawn 4 KiB at a time and handed out once each.

    A token, its key id, secret and nonce took three getrandom calls per AssumeRole, and a system call
    costs more than the rest of the draw in a VM (profiled). Every byte is used once; a forked child
    starts with an empty pool, so parent and child never share a byte.
    """

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._buf = b""
        self._pos = 0

    def take(self, n: int) -> bytes:
        if n > self._size:
            return os.urandom(n)
        with self._lock:
            if self._pos + n > len(self._buf):
                self._buf, self._pos = os.urandom(self._size), 0
            out = self._buf[self._pos : self._pos + n]
            self._pos += n
        return out

    def _forget(self) -> None:
        self._lock = threading.Lock()
        self._buf, self._pos = b"", 0


_pool = _Pool()
os.register_at_fork(after_in_child=_pool._forget)


def random_bytes(n: int) -> bytes:
    """``n`` bytes from the OS's CSPRNG (buffered: see :class:`_Pool`)."""
    return _pool.take(n)


class MasterKeyError(ValueError):
    """The master key given (file or environment) is not a base64 32-byte key."""


class MasterKey:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise MasterKeyError("the master key must be 32 bytes, base64-encoded")
        self._aead = AESGCM(key)

    @classmethod
    def load_or_create(cls, path: Path) -> tuple[MasterKey, bool]:
        """From $IAMROLES_MASTER_KEY (base64), else ``path``, created 0600 if missing.

        Returns the key and whether it was created now.
        """
        env = os.environ.get(ENV)
        if env:
            return cls(_b64(env.encode(), f"${ENV}")), False
        if path.exists():
            return cls(_b64(path.read_bytes().strip(), str(path))), False
        path.parent.mkdir(parents=True, exist_ok=True)
        key = os.urandom(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(base64.b64encode(key) + b"\n")
        return cls(key), True

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        nonce = random_bytes(12)
        return _FORMAT + nonce + self._aead.encrypt(nonce, plaintext, aad)

    def open(self, sealed: bytes, aad: bytes) -> bytes:
        if sealed[:1] != _FORMAT or len(sealed) < 29:
            raise ValueError("not a sealed secret")
        return self._aead.decrypt(sealed[1:13], sealed[13:], aad)


def _b64(text: bytes, where: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        raise MasterKeyError(f"{where} is not a base64 master key") from None


def _pick(alphabet: str, n: int) -> str:
    """``n`` uniformly random characters of ``alphabet`` (32 or 64 of them), from the OS's CSPRNG."""
    mask = len(alphabet) - 1
    assert len(alphabet) in (32, 64)
    return "".join([alphabet[b & mask] for b in random_bytes(n)])


def _b32(n: int) -> str:
    return _pick(_B32, n)


def new_unique_id(prefix: str) -> str:
    """An IAM unique id: AIDA/AROA/AGPA/ANPA/AIPA + 17 characters."""
    return prefix + _b32(17)


# Access key ids carry their account, as AWS's do (GetAccessKeyInfo answers any id's account, temporary ones
# included, with no record of it: https://docs.aws.amazon.com/STS/latest/APIReference/API_GetAccessKeyInfo.html).
# The layout is AWS's as found by decoding its ids (not documented by AWS:
# https://awsteele.com/blog/2020/09/26/aws-access-key-format.html, corrected in
# https://medium.com/@TalBeerySec/a-short-note-on-aws-key-id-f88cc4317489): the 16 characters after the prefix are
# the base32 of 10 bytes; of the first 6 bytes read big-endian, bits 46..7 hold the account id and bit 47 is set
# (AWS's ids whose account is not encoded, the old AKIAI.../AKIAJ... ones, have it clear); the other 39 bits are
# random.
KEY_ID_PREFIXES = ("AKIA", "ASIA")
_ACCOUNT_SHIFT = 7
_ACCOUNT_MASK = 0x7FFFFFFFFF80  # bits 46..7 of the first 48
_ENCODED = 1 << 47
_MAX_ACCOUNT = 999_999_999_999
_KEY_ID = re.compile(r"(AKIA|ASIA)[A-Z2-7]{16}")


def new_access_key_id(prefix: str = "AKIA", account_id: str | None = None) -> str:
    """An access key id: ``prefix`` and 16 base32 characters that encode ``account_id`` as AWS's do
    (:func:`account_of_access_key_id` reads it back). Without an account, 80 random bits."""
    if account_id is None:
        return prefix + _b32(16)
    account = int(account_id)
    if not (len(account_id) == 12 and account_id.isdigit() and account <= _MAX_ACCOUNT):
        raise ValueError(f"not an account id: {account_id!r}")
    rand = int.from_bytes(random_bytes(5), "big")  # 39 bits used: 7 beside the account, 32 after it
    head = _ENCODED | (account << _ACCOUNT_SHIFT) | (rand >> 32 & 0x7F)
    raw = head.to_bytes(6, "big") + (rand & 0xFFFFFFFF).to_bytes(4, "big")
    return prefix + base64.b32encode(raw).decode()


def account_of_access_key_id(access_key_id: str) -> str | None:
    """The 12-digit account an access key id encodes, or None when it encodes none: not AKIA/ASIA and 16
    base32 characters, or not of the encoding format (:func:`new_access_key_id`)."""
    if not _KEY_ID.fullmatch(access_key_id):
        return None
    head = int.from_bytes(base64.b32decode(access_key_id[4:])[:6], "big")
    account = (head & _ACCOUNT_MASK) >> _ACCOUNT_SHIFT
    if not head & _ENCODED or account > _MAX_ACCOUNT:
        return None
    return f"{account:012d}"


def new_secret_access_key() -> str:
    return _pick("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 40)
