"""TOTP for virtual MFA devices (``tokens.totp``), against the RFCs' own test vectors.

RFC 4226 appendix D (HOTP, secret "12345678901234567890", counters 0-9, 6 digits) and RFC 6238 appendix B
(TOTP, SHA-1, T0 = 0, X = 30 s; the RFC prints 8 digits, a 6-digit code is their last six).
"""
from __future__ import annotations

import base64

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from iamroles.tokens import totp

from .helpers import examples

SEED = b"12345678901234567890"

RFC4226 = ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"]
RFC6238_SHA1 = [  # (Unix time, 8-digit TOTP)
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]


@pytest.mark.parametrize("counter", range(10))
def test_rfc4226_hotp_vectors(counter: int) -> None:
    assert totp.code_at(SEED, counter) == RFC4226[counter]


@pytest.mark.parametrize(("epoch", "code8"), RFC6238_SHA1)
def test_rfc6238_sha1_vectors(epoch: int, code8: str) -> None:
    assert totp.STEP == 30
    code = code8[-6:]
    assert totp.code_at(SEED, epoch // 30) == code
    assert totp.verify(SEED, code, epoch) == epoch // 30
    assert totp.verify(SEED, code, epoch, window=0) == epoch // 30
    # half a minute either way is within the default window of one step; further is not
    assert totp.verify(SEED, code, epoch + 30) == epoch // 30
    if epoch >= 60:  # (steps before the Unix epoch do not exist)
        assert totp.verify(SEED, code, epoch - 30) == epoch // 30
    for far in (f for f in (epoch + 90, epoch - 90) if f >= 60):
        if totp.code_at(SEED, far // 30 - 1) != code and totp.code_at(SEED, far // 30) != code and totp.code_at(SEED, far // 30 + 1) != code:
            assert totp.verify(SEED, code, far) is None


@examples(300)
@given(seed=st.binary(min_size=10, max_size=32), epoch=st.integers(10**9, 4 * 10**9), offset=st.integers(-4, 4),
       window=st.integers(0, 2))
def test_a_code_verifies_exactly_within_its_window(seed: bytes, epoch: int, offset: int, window: int) -> None:
    now = epoch // 30
    code = totp.code_at(seed, now + offset)
    assert len(code) == 6 and code.isascii() and code.isdigit()
    nearby = [s for s in range(now - window, now + window + 1) if s != now + offset]
    assume(code not in {totp.code_at(seed, s) for s in nearby})  # a one-in-a-million coincidence of two codes
    assert totp.verify(seed, code, epoch, window=window) == (now + offset if abs(offset) <= window else None)


@pytest.mark.parametrize("code", [
    "", "28708", "2870820", "28708a", " 87082", "287082 ", "+87082", "-87082", "2870.2", "0x1234",
    "２８７０８２",  # fullwidth digits
    "٢٨٧٠٨٢",  # Arabic-Indic digits: str.isdigit() is true for them
    "²⁸⁷⁰⁸²",  # superscripts: isdigit() too
])
def test_malformed_codes_are_refused_not_errors(code: str) -> None:
    """Never raise on what a client sends (the caller maps None to InvalidAuthenticationCode/AccessDenied)."""
    assert totp.verify(SEED, code, 59) is None
    assert totp.verify(SEED, code, 1111111109) is None


@examples(300)
@given(code=st.text(max_size=8))
def test_any_text_is_a_code_or_none(code: str) -> None:
    step = totp.verify(SEED, code, 1234567890)
    assert step is None or totp.code_at(SEED, step) == code


def test_seeds_and_their_base32() -> None:
    seeds = {totp.new_seed() for _ in range(100)}
    assert len(seeds) == 100 and all(len(s) == 20 for s in seeds)  # 160 bits, as RFC 4226 recommends
    assert totp.base32(SEED) == "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # what an authenticator app is given
    for s in seeds:
        assert base64.b32decode(totp.base32(s)) == s
