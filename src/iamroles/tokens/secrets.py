"""The master key, and the random identifiers and secrets AWS's formats call for.

Secrets at rest (secret access keys, signing keys) are sealed with AES-256-GCM
under the master key; the record's identity is bound in as associated data,
so a sealed secret copied onto another record does not open.
"""
from __future__ import annotations

import base64
import os
import threading
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["MasterKey", "new_access_key_id", "new_secret_access_key", "new_unique_id", "random_bytes"]

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


class MasterKey:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the master key is 32 bytes")
        self._aead = AESGCM(key)

    @classmethod
    def load_or_create(cls, path: Path) -> tuple[MasterKey, bool]:
        """From $IAMROLES_MASTER_KEY (base64), else ``path``, created 0600 if missing.

        Returns the key and whether it was created now.
        """
        env = os.environ.get(ENV)
        if env:
            return cls(base64.b64decode(env)), False
        if path.exists():
            return cls(base64.b64decode(path.read_bytes().strip())), False
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


def new_access_key_id(prefix: str = "AKIA") -> str:
    return prefix + _b32(16)


def new_secret_access_key() -> str:
    return _pick("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 40)
