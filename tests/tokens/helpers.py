"""What the token tests share: claims as ``sts.sessions.issue`` makes them, a pool of sealed tokens, and
the ways a token can be mutated (as hypothesis strategies and as exhaustive lists).

A "valid session token" is what ``iamroles.sts.sessions.issue`` hands out: ``seal(claims, keyring.current)``
of a :class:`SessionClaims` whose ``access_key_id`` is a fresh ``ASIA…`` id and whose ``secret`` is the
temporary secret. On a request ``iamroles.auth.principal.KeyResolver.resolve_session`` opens it with
``unseal(token, keyring.keys)`` and maps every :class:`TokenError` to ``InvalidClientTokenId``.
"""
from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from iamroles.auth.principal import EXPIRED_TOKEN, INVALID_TOKEN
from iamroles.errors import ExpiredToken, InvalidClientTokenId
from iamroles.tokens import SessionClaims, SigningKey, new_access_key_id, new_secret_access_key, seal

ACCOUNT = "111122223333"
ROLE_NAME = "token-tests"
ROLE_ID = "AROAEXAMPLEROLEID0001"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{ROLE_NAME}"
ISSUED = 1_700_000_000
DURING = datetime.fromtimestamp(ISSUED + 60, UTC)  # the helpers' sessions run ISSUED .. ISSUED + 3600

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# what a mutation may put into a token: its own alphabet, padding, the standard alphabet, separators, whitespace,
# control characters, non-ASCII (which base64 decoders treat in different ways)
NOISE = B64 + "=+/.: \t\n\r\x00\x7f~%é€\u200b"


def claims(session: str = "s", *, expires: int = ISSUED + 3600, akid: str | None = None, **extra: object) -> SessionClaims:
    """Assumed-role claims for the test role, with a fresh ASIA id and secret (as ``sts.sessions.issue`` makes them)."""
    return SessionClaims(
        kind="assumed-role", account=ACCOUNT, partition="aws", access_key_id=akid or new_access_key_id("ASIA"),
        secret=new_secret_access_key(), issued=ISSUED, expires=expires,
        arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE_NAME}/{session}", user_id=f"{ROLE_ID}:{session}",
        principal_key=ROLE_NAME.lower(), role_arn=ROLE_ARN, session_name=session,
        source_arn=f"arn:aws:iam::{ACCOUNT}:user/alice", **extra,  # type: ignore[arg-type]
    )


def raw(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def enc(data: bytes) -> str:
    """The canonical spelling of ``data`` as a token (unpadded base64url), as ``seal`` writes it."""
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def examples(n: int) -> settings:
    """Hypothesis settings for ``n`` examples, with no per-example deadline (the machine may be busy)."""
    return settings(max_examples=n, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- a pool of valid tokens -------------------------------------------------------------------------------

KEY = SigningKey.generate()  # the key the "server" holds
OLD_KEY = SigningKey.generate()  # a retired key it still holds
FOREIGN = SigningKey.generate()  # another deployment's key
IMPOSTOR = SigningKey(KEY.key_id, SigningKey.generate().key)  # KEY's id, someone else's key material
KEYS = {KEY.key_id: KEY, OLD_KEY.key_id: OLD_KEY}


def _pool() -> list[tuple[str, SessionClaims]]:
    """A dozen tokens or more, until every unpadded length class (len % 4 in 0, 2, 3) is there under the current
    key and one under the old key (lengths vary with how well the random ids compress)."""
    out: list[tuple[str, SessionClaims]] = []
    n = 0
    while len(out) < 12 or {len(t) % 4 for t, _ in out[:-1]} != {0, 2, 3}:
        c = claims("s" + "x" * n, tags={"team": "blue"} if n % 3 == 0 else {},
                   policy_arns=("arn:aws:iam::aws:policy/ReadOnlyAccess",) if n % 4 == 1 else ())
        out.append((seal(c, KEY), c))
        n += 1
        assert n < 500
    old = claims("old-key")
    out.append((seal(old, OLD_KEY), old))
    return out


VALID: list[tuple[str, SessionClaims]] = _pool()
VALID_BY_TOKEN = dict(VALID)


def valid_token(case: str) -> str:
    """A valid token of the pool: "len%4=0" / "len%4=2" / "len%4=3" (under the current key) or "old key"."""
    if case == "old key":
        return VALID[-1][0]
    return next(t for t, _ in VALID[:-1] if len(t) % 4 == int(case[-1]))


# tokens a node holding KEYS must refuse (well-formed, sealed by the real code, under keys it does not hold)
FOREIGN_TOKENS = [seal(claims("foreign"), FOREIGN), seal(claims("impostor"), IMPOSTOR)]


# -- mutations ----------------------------------------------------------------------------------------------

Mutation = tuple[str, str]  # (how, mutated token)


@st.composite
def text_mutation(draw: st.DrawFn, token: str) -> Mutation:
    """One edit of the token's text: substitute, insert, delete a run, truncate, append, re-pad."""
    n = len(token)
    kind = draw(st.sampled_from(["substitute", "insert", "delete", "truncate", "append", "pad", "pad-inside", "alphabet", "case"]))
    chars = st.text(st.sampled_from(NOISE), min_size=1, max_size=6)
    if kind == "substitute":
        i = draw(st.integers(0, n - 1))
        return kind, token[:i] + draw(st.sampled_from(NOISE).filter(lambda c: c != token[i])) + token[i + 1 :]
    if kind == "insert":
        i = draw(st.integers(0, n))
        return kind, token[:i] + draw(chars) + token[i:]
    if kind == "delete":
        i = draw(st.integers(0, n - 1))
        j = draw(st.integers(i + 1, n))
        return kind, token[:i] + token[j:]
    if kind == "truncate":
        return kind, token[: draw(st.integers(0, n - 1))]
    if kind == "append":
        return kind, token + draw(chars)
    if kind == "pad":
        return kind, token + "=" * draw(st.integers(1, 4))
    if kind == "pad-inside":
        i = draw(st.integers(0, n))
        return kind, token[:i] + "=" * draw(st.integers(1, 3)) + token[i:]
    if kind == "alphabet":  # the same bytes in the standard alphabet (+/ for -_), padded or not
        std = token.replace("-", "+").replace("_", "/")
        return kind, std + ("=" * (-len(std) % 4) if draw(st.booleans()) else "")
    i = draw(st.integers(0, n - 1))
    return kind, token[:i] + token[i].swapcase() + token[i + 1 :]


@st.composite
def byte_mutation(draw: st.DrawFn, token: str) -> Mutation:
    """One edit of the sealed bytes, spelled canonically, so that only the AEAD and the framing can refuse it."""
    data = raw(token)
    n = len(data)
    kind = draw(st.sampled_from(["xor", "insert", "delete", "truncate", "append", "swap-key-id", "zero-tail", "prefix"]))
    if kind == "xor":
        i = draw(st.integers(0, n - 1))
        return kind, enc(data[:i] + bytes([data[i] ^ draw(st.integers(1, 255))]) + data[i + 1 :])
    if kind == "insert":
        i = draw(st.integers(0, n))
        return kind, enc(data[:i] + draw(st.binary(min_size=1, max_size=8)) + data[i:])
    if kind == "delete":
        i = draw(st.integers(0, n - 1))
        j = draw(st.integers(i + 1, n))
        return kind, enc(data[:i] + data[j:])
    if kind == "truncate":
        return kind, enc(data[: draw(st.integers(0, n - 1))])
    if kind == "append":
        return kind, enc(data + draw(st.binary(min_size=1, max_size=32)))
    if kind == "swap-key-id":  # the same sealed body presented as another (known or unknown) key's
        other = draw(st.sampled_from([KEY.key_id, OLD_KEY.key_id, FOREIGN.key_id]).filter(lambda k: k != data[3:11]))
        return kind, enc(data[:3] + other + data[11:])
    if kind == "zero-tail":  # the tag (or part of it) zeroed
        k = draw(st.integers(1, 16))
        return kind, enc(data[:-k] + bytes(k))
    return kind, enc(draw(st.sampled_from([b"IR0", b"IR2", b"ir1", b"", b"IR1IR1"])) + data[3:])


@st.composite
def splice(draw: st.DrawFn) -> Mutation:
    """The head of one valid token and the tail of another (text or bytes, any cut points)."""
    (a, _), (b, _) = draw(st.sampled_from(VALID)), draw(st.sampled_from(VALID))
    if draw(st.booleans()):
        i, j = draw(st.integers(0, len(a))), draw(st.integers(0, len(b)))
        return "splice-text", a[:i] + b[j:]
    ra, rb = raw(a), raw(b)
    i, j = draw(st.integers(0, len(ra))), draw(st.integers(0, len(rb)))
    return "splice-bytes", enc(ra[:i] + rb[j:])


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, SessionClaims, Mutation]:
    """A valid token, its claims, and one mutation of it (or a splice, or a token under a key the node lacks)."""
    token, c = draw(st.sampled_from(VALID))
    how = draw(st.sampled_from(["text", "bytes", "twice", "splice", "foreign"]))
    if how == "text":
        return token, c, draw(text_mutation(token))
    if how == "bytes":
        return token, c, draw(byte_mutation(token))
    if how == "twice":  # a byte edit, then a text edit of the result
        first, once = draw(byte_mutation(token))
        second, twice = draw(text_mutation(once)) if once else ("none", "")
        return token, c, (f"{first}+{second}", twice)
    if how == "splice":
        return token, c, draw(splice())
    foreign = draw(st.sampled_from(FOREIGN_TOKENS))
    kind, edited = draw(st.one_of(st.just(("as is", foreign)), text_mutation(foreign), byte_mutation(foreign)))
    return token, c, (f"foreign {kind}", edited)


def single_edits(token: str) -> list[str]:
    """Every single-character substitution (by every character of NOISE), deletion and truncation of ``token``,
    and every single-bit flip and truncation of its bytes: exhaustively, not sampled."""
    out = []
    for i, ch in enumerate(token):
        out.extend(token[:i] + c + token[i + 1 :] for c in NOISE if c != ch)
        out.append(token[:i] + token[i + 1 :])
        out.append(token[:i])
    data = raw(token)
    for i in range(len(data)):
        out.extend(enc(data[:i] + bytes([data[i] ^ (1 << bit)]) + data[i + 1 :]) for bit in range(8))
        out.append(enc(data[:i]))
    return out


def opens_only_itself(unseal: Callable[[str], SessionClaims], candidate: str) -> SessionClaims | None:
    """The oracle: ``candidate`` opens only if it *is* one of the valid tokens (a splice at a point where both
    tokens agree, say), and then to exactly that token's claims; anything else is refused with TokenError."""
    from iamroles.tokens import TokenError

    try:
        got = unseal(candidate)
    except TokenError:
        assert candidate not in VALID_BY_TOKEN, f"a valid token was refused: {candidate!r}"
        return None
    assert candidate in VALID_BY_TOKEN, f"a mutated token was accepted: {candidate!r} -> {got!r}"
    assert got == VALID_BY_TOKEN[candidate]
    return got


# -- what a node answers (``conftest.Node``) -----------------------------------------------------------------------


def at(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def refused(node: Any, akid: str, token: str, now: datetime = DURING) -> InvalidClientTokenId:
    with pytest.raises(InvalidClientTokenId) as exc:
        node.resolve(akid, token, now)
    assert type(exc.value) is InvalidClientTokenId
    assert exc.value.code == "InvalidClientTokenId" and exc.value.status == 403 and exc.value.message == INVALID_TOKEN
    return exc.value


def expired(node: Any, akid: str, token: str, now: datetime) -> None:
    with pytest.raises(ExpiredToken) as exc:
        node.resolve(akid, token, now)
    assert exc.value.code == "ExpiredToken" and exc.value.status == 400 and exc.value.message == EXPIRED_TOKEN
