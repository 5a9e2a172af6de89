"""Which key signs an account's web identity tokens and which its JWKS publishes (``iam.outbound``), as data.

AWS does not say how its issuers rotate keys; the rules are iamroles' (``iam/outbound.py``'s docstring): a key
signs from its ``active_from`` until the next key of its algorithm does; it is published from its creation until
every token it signed may have expired (the longest GetWebIdentityToken, 3600 s, after it stopped signing, plus the
clock skew verifiers allow, 300 s: https://docs.aws.amazon.com/STS/latest/APIReference/API_GetWebIdentityToken.html);
a disabled account's issuer stays up as long (API_DisableOutboundWebIdentityFederation.html: disabling "does not
affect tokens that were issued before").
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from iamroles.iam.outbound import published_keys, publishes, signing_key, spent_keys
from iamroles.store import JwtKeyRecord, OutboundFederation

T0 = datetime(2026, 1, 1, tzinfo=UTC)
KEEP = timedelta(seconds=3600 + 300)


def key(key_id: str, active: timedelta, algorithm: str = "RS256") -> JwtKeyRecord:
    return JwtKeyRecord(key_id, "111122223333", algorithm, b"", "{}", T0, T0 + active)


KEYS = [key("a", timedelta(0)), key("b", timedelta(hours=1)), key("c", timedelta(hours=3)), key("e", timedelta(0), "ES384")]


@pytest.mark.parametrize("at,signs,published", [
    (timedelta(0), "a", "abce"),  # b and c are published before they sign
    (timedelta(minutes=59), "a", "abce"),
    (timedelta(hours=1), "b", "abce"),  # a's last tokens live on
    (timedelta(hours=1) + KEEP - timedelta(seconds=1), "b", "abce"),
    (timedelta(hours=1) + KEEP, "b", "bce"),  # every token a signed has expired
    (timedelta(hours=3) + KEEP, "c", "ce"),
    (timedelta(days=400), "c", "ce"),  # the last key of a line is never spent
])
def test_signing_and_publishing(at: timedelta, signs: str, published: str) -> None:
    now = T0 + at
    found = signing_key(KEYS, "RS256", now)
    assert found is not None and found.key_id == signs
    assert "".join(sorted(k.key_id for k in published_keys(KEYS, now))) == published
    assert {k.key_id for k in spent_keys(KEYS, now)} == set("abce") - set(published)
    es = signing_key(KEYS, "ES384", now)
    assert es is not None and es.key_id == "e"  # each algorithm has its own line


def test_no_key_of_an_algorithm_and_keys_made_ahead_of_this_clock() -> None:
    assert signing_key(KEYS, "PS256", T0) is None
    early = [key("x", timedelta(minutes=5)), key("y", timedelta(minutes=10))]
    found = signing_key(early, "RS256", T0)  # another node's clock ran ahead: the first key signs
    assert found is not None and found.key_id == "x"


def test_a_disabled_issuer_stays_up_while_its_tokens_may_live() -> None:
    assert not publishes(None, T0)
    assert publishes(OutboundFederation("111122223333", "0" * 32, True, T0), T0 + timedelta(days=900))
    off = OutboundFederation("111122223333", "0" * 32, False, T0)
    assert publishes(off, T0 + KEEP - timedelta(seconds=1))
    assert not publishes(off, T0 + KEEP)
