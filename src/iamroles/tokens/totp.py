"""TOTP (RFC 6238: HMAC-SHA1, 6 digits, 30-second steps), as virtual MFA devices use."""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct

__all__ = ["new_seed", "code_at", "verify"]

STEP = 30


def new_seed() -> bytes:
    return secrets.token_bytes(20)


def code_at(seed: bytes, step: int) -> str:
    digest = hmac.new(seed, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def verify(seed: bytes, code: str, epoch: float, window: int = 1) -> int | None:
    """The time step ``code`` is valid for (within ``window`` steps of now), or None."""
    if len(code) != 6 or not (code.isascii() and code.isdigit()):  # str.isdigit also takes "١٢٣٤٥٦" and "²"
        return None
    now = int(epoch // STEP)
    for step in range(now - window, now + window + 1):
        if hmac.compare_digest(code_at(seed, step), code):
            return step
    return None


def base32(seed: bytes) -> str:
    return base64.b32encode(seed).decode()
