"""Sealed session tokens (``iamroles.tokens.seal``): what seals opens, and nothing else does.

Issue 4: no mutation of a valid session token is ever accepted. Every token here is sealed by the real
``seal``; every refusal must be :class:`TokenError` (what ``auth.principal`` turns into
InvalidClientTokenId) — an accepted mutation or any other exception fails the test.
"""
from __future__ import annotations

import base64
import json
import zlib

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import event, given
from hypothesis import strategies as st

from iamroles.tokens import SessionClaims, SigningKey, TokenError, seal, unseal

from .helpers import (
    FOREIGN,
    FOREIGN_TOKENS,
    IMPOSTOR,
    KEY,
    KEYS,
    NOISE,
    OLD_KEY,
    VALID,
    claims,
    enc,
    examples,
    mutated,
    opens_only_itself,
    raw,
    single_edits,
    valid_token,
)


def open_(token: str) -> SessionClaims:
    return unseal(token, KEYS)


# -- what seals, opens -----------------------------------------------------------------------------------------

printable = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@examples(150)
@given(session=printable, tags=st.dictionaries(printable, printable, max_size=5), policy=st.none() | printable,
       arns=st.lists(printable, max_size=3).map(tuple), transitive=st.lists(printable, max_size=3).map(tuple),
       depth=st.integers(0, 5), mfa=st.none() | st.integers(0, 2**40), source=st.none() | printable,
       external=st.none() | printable)
def test_every_claim_set_round_trips(session: str, tags: dict[str, str], policy: str | None, arns: tuple[str, ...],
                                     transitive: tuple[str, ...], depth: int, mfa: int | None, source: str | None,
                                     external: str | None) -> None:
    c = claims(session, tags=tags, policy=policy, policy_arns=arns, transitive_tag_keys=transitive, chain_depth=depth,
               mfa_time=mfa, source_identity=source, external_id=external)
    token = seal(c, KEY)
    assert unseal(token, KEYS) == c
    assert unseal(token, {KEY.key_id: KEY}) == c  # only its own key is needed


def test_token_format() -> None:
    """base64url, unpadded: format | key id | 12-byte nonce | ciphertext + 16-byte tag, fresh nonce per seal.
    The format is b"IR2" for claims sealed as they are, b"IR1" for claims large enough to be worth zlib."""
    small = claims()
    large = claims(policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": f"s3:Get{n}", "Resource": "*"} for n in range(12)]}), tags={f"k{n}": "v" * 20 for n in range(8)})
    for c, prefix, unpack in ((small, b"IR2", lambda b: b), (large, b"IR1", zlib.decompress)):
        t1, t2 = seal(c, KEY), seal(c, KEY)
        assert t1 != t2  # a fresh nonce each time
        for t in (t1, t2):
            assert set(t) <= set(NOISE[:64]) and "=" not in t
            data = raw(t)
            assert data[:3] == prefix and data[3:11] == KEY.key_id
            assert enc(data) == t
            assert unseal(t, KEYS) == c
        assert raw(t1)[11:23] != raw(t2)[11:23]
        # the body really is AES-256-GCM under the key, with the header as associated data, over the JSON claims
        data = raw(t1)
        plain = AESGCM(KEY.key).decrypt(data[11:23], data[23:], data[:11])
        assert json.loads(unpack(plain))["access_key_id"] == c.access_key_id
        assert c.secret.encode() not in data and c.access_key_id.encode() not in data  # sealed, not just encoded
        # the format is bound in: the other format's prefix on the same body does not open
        other = (b"IR1" if prefix == b"IR2" else b"IR2") + data[3:]
        with pytest.raises(TokenError):
            unseal(enc(other), KEYS)
    assert len(seal(large, KEY)) < len(enc(b"IR1" + bytes(20) + large.to_json() + bytes(16)))  # zlib did shrink it


def test_the_pool_is_valid() -> None:
    for token, c in VALID:
        assert open_(token) == c
    for token in FOREIGN_TOKENS:
        with pytest.raises(TokenError):
            open_(token)


# -- exhaustive single edits -----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["len%4=0", "len%4=2", "len%4=3", "old key"])
def test_every_single_edit_is_refused(case: str) -> None:
    """Every one-character substitution (by any of the base64url characters, padding, the standard alphabet,
    whitespace, controls, non-ASCII), deletion and truncation, and every one-bit flip and truncation of the
    sealed bytes: all refused with TokenError."""
    token = valid_token(case)
    edits = single_edits(token)
    assert len(edits) > 60 * len(token)
    for edited in edits:
        assert edited != token
        with pytest.raises(TokenError):
            open_(edited)


def test_non_canonical_spellings_are_refused() -> None:
    """The same bytes spelled another way are another (invalid) token: padding, the standard alphabet,
    whitespace, and unused low bits in the last character that a lenient decoder would ignore."""
    for token, _ in VALID:
        data = raw(token)
        spellings = [token + "=" * k for k in range(1, 5)]
        spellings += [base64.urlsafe_b64encode(data).decode() + "=", base64.b64encode(data).decode(), " " + token,
                      token + "\n", token[:10] + "\n" + token[10:], token[:10] + "=" + token[10:]]
        if len(token) % 4:  # the last character carries unused bits: set them
            alphabet = NOISE[:64]
            last = alphabet.index(token[-1])
            spare = (1 << (2 if len(token) % 4 == 3 else 4)) - 1
            assert last & spare == 0
            spellings += [token[:-1] + alphabet[last | bit] for bit in range(1, spare + 1)]
            for s in spellings[-spare:]:  # they do decode to the very same bytes
                assert base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)) == data
        for s in spellings:
            if s == token:
                continue
            with pytest.raises(TokenError):
                open_(s)


# -- random mutations (hypothesis) -----------------------------------------------------------------------------


@examples(1500)
@given(case=mutated())
def test_no_mutation_is_accepted(case: tuple[str, SessionClaims, tuple[str, str]]) -> None:
    """Text and byte edits, two edits in a row, splices of two valid tokens, tokens under keys the node
    lacks and edits of those: refused with TokenError unless the result *is* a valid token (a splice where
    the two agree), which then opens to exactly its own claims."""
    token, _claims, (how, candidate) = case
    event(how if candidate != token else "no-op")
    opens_only_itself(open_, candidate)


@examples(300)
@given(text=st.text(max_size=400) | st.text(NOISE, max_size=400))
def test_arbitrary_text_is_refused(text: str) -> None:
    with pytest.raises(TokenError):
        open_(text)


@examples(300)
@given(key_id=st.sampled_from([KEY.key_id, OLD_KEY.key_id]), body=st.binary(max_size=300), prefix=st.sampled_from([b"IR1", b"IR1", b"IR0", b""]))
def test_forged_bytes_under_a_known_key_id_are_refused(key_id: bytes, body: bytes, prefix: bytes) -> None:
    """Without the key nobody makes a token that opens, whatever bytes follow a real key id."""
    with pytest.raises(TokenError):
        open_(enc(prefix + key_id + body))


# -- splices and swaps, deliberately ---------------------------------------------------------------------------


def test_splicing_two_tokens_at_every_cut_is_refused() -> None:
    """Head of one token, tail of another (same key, same length class): every byte cut and every text cut."""
    (a, ca), (b, cb) = VALID[0], VALID[1]
    ra, rb = raw(a), raw(b)
    for i in range(len(ra) + 1):
        spliced = enc(ra[:i] + rb[i:])
        if spliced in (a, b):  # a cut inside the shared header (or at the ends) gives back a whole token
            assert open_(spliced) == (ca if spliced == a else cb)
            continue
        with pytest.raises(TokenError):
            open_(spliced)
    for i in range(len(a) + 1):
        opens_only_itself(open_, a[:i] + b[i:])
        opens_only_itself(open_, b[:i] + a[i:])


def test_swapping_parts_between_tokens_is_refused() -> None:
    (a, _), (b, _) = VALID[2], VALID[-1]  # under KEY and OLD_KEY: both keys are held
    ra, rb = raw(a), raw(b)
    assert ra[3:11] == KEY.key_id and rb[3:11] == OLD_KEY.key_id
    head_a, nonce_a, body_a = ra[:11], ra[11:23], ra[23:]
    head_b, nonce_b, body_b = rb[:11], rb[11:23], rb[23:]
    for data in (head_a + nonce_b + body_a, head_a + nonce_a + body_b, head_a + nonce_b + body_b[:-16] + body_a[-16:],
                 head_a + nonce_a + body_a[:-16] + body_b[-16:], head_a + nonce_a + body_a + body_b, head_b + nonce_a + body_a):
        assert data not in (ra, rb)
        with pytest.raises(TokenError):
            open_(enc(data))


def test_a_token_under_another_key_is_refused() -> None:
    c = claims("elsewhere")
    foreign, impostor = seal(c, FOREIGN), seal(c, IMPOSTOR)
    assert raw(impostor)[3:11] == KEY.key_id  # it names the node's key, but was not sealed with it
    for token in (foreign, impostor):
        with pytest.raises(TokenError):
            open_(token)
    # relabelled as sealed under a key the node holds: the key id is associated data, so still refused
    body = raw(foreign)
    for kid in (KEY.key_id, OLD_KEY.key_id):
        with pytest.raises(TokenError):
            open_(enc(body[:3] + kid + body[11:]))
    # a token of ours relabelled as the old key's
    data = raw(VALID[0][0])
    with pytest.raises(TokenError):
        open_(enc(data[:3] + OLD_KEY.key_id + data[11:]))
    # and the owner of each key opens exactly its own
    assert unseal(foreign, {FOREIGN.key_id: FOREIGN}) == c
    with pytest.raises(TokenError):
        unseal(VALID[0][0], {FOREIGN.key_id: FOREIGN})
    with pytest.raises(TokenError):
        unseal(VALID[0][0], {})


def test_only_the_key_a_token_names_is_tried() -> None:
    """A key ring holding the right key material under another id does not open the token."""
    token, _ = VALID[0]
    with pytest.raises(TokenError):
        unseal(token, {OLD_KEY.key_id: SigningKey(OLD_KEY.key_id, KEY.key)})


# -- sealed with the right key but not claims ------------------------------------------------------------------


def _seal_plain(plain: bytes, key: SigningKey = KEY, prefix: bytes = b"IR1") -> str:
    nonce = b"\x00" * 12
    header = prefix + key.key_id
    return enc(header + nonce + AESGCM(key.key).encrypt(nonce, plain, header))


@pytest.mark.parametrize("plain", [
    b"", b"not zlib", zlib.compress(b"not json"), zlib.compress(b"\xff\xfe"), zlib.compress(b"[]"), zlib.compress(b"null"),
    zlib.compress(b'"text"'), zlib.compress(b"{}"), zlib.compress(b'{"kind": "assumed-role"}'),
    zlib.compress(b'{"unknown": 1}'), zlib.compress(json.dumps({**json.loads(claims().to_json()), "extra": 1}).encode()),
    zlib.compress(json.dumps({**json.loads(claims().to_json()), "policy_arns": 5}).encode()),
    zlib.compress(claims().to_json())[:-3],
])
def test_a_well_sealed_body_that_is_not_a_claim_set_is_refused(plain: bytes) -> None:
    """Defence in depth: the AEAD passes but the content is not claims — still TokenError, never another error."""
    with pytest.raises(TokenError):
        open_(_seal_plain(plain))
    with pytest.raises(TokenError):  # and the same bytes as an uncompressed body
        open_(_seal_plain(plain, prefix=b"IR2"))
    assert open_(_seal_plain(zlib.compress(claims().to_json()))).account == "111122223333"  # the helper seals rightly
    assert open_(_seal_plain(claims().to_json(), prefix=b"IR2")).account == "111122223333"
