"""Rotation of web identity token keys on the store, both backends (``iam.outbound.rotate``: what ``iamroles keys
rotate-web-identity`` and ``serve``'s hourly rotation run): an account's keys sealed under the master key and bound
to the account; new keys published ahead; ``older_than`` rotates only old keys, and servers racing to rotate one
account make one set; keys whose tokens have all expired are dropped.

AWS does not document its issuers' rotation; the rules are iamroles' (``iam/outbound.py``). The longest token is
GetWebIdentityToken's 3600 s (https://docs.aws.amazon.com/STS/latest/APIReference/API_GetWebIdentityToken.html).
"""
from __future__ import annotations

import os
import threading
from dataclasses import replace
from datetime import timedelta

import pytest
from cryptography.exceptions import InvalidTag

from iamroles.iam.outbound import PUBLISH_AHEAD, Issuer, published_keys, rotate, seal_key, signing_key
from iamroles.store import Store
from iamroles.tokens import MasterKey
from iamroles.tokens.jwt import new_signing_key

from .conftest import NOW, new_account


@pytest.fixture(scope="module")
def master() -> MasterKey:
    return MasterKey(os.urandom(32))


def first_keys(store: Store, master: MasterKey, account: str, age: timedelta) -> list[str]:
    made = [seal_key(master, new_signing_key(a), account, NOW - age, NOW - age) for a in ("RS256", "ES384")]
    with store.write() as tx:
        for record in made:
            tx.insert_jwt_signing_key(record)
    return [r.key_id for r in made]


def test_old_keys_are_rotated_once(store: Store, master: MasterKey, account: str) -> None:
    first = first_keys(store, master, account, timedelta(days=31))
    young = new_account(store)
    first_keys(store, master, young, timedelta(days=1))
    done = rotate(store, master, NOW, older_than=timedelta(days=30))
    assert set(done) == {account}
    new, dropped = done[account]
    assert len(new) == 2 and dropped == []
    assert rotate(store, master, NOW, older_than=timedelta(days=30)) == {}  # the newest are new now
    with store.read() as tx:
        keys = tx.jwt_signing_keys(account)
    assert {k.key_id for k in keys} == set(first) | set(new)
    assert {k.key_id for k in published_keys(keys, NOW)} == set(first) | set(new)  # published ahead
    for algorithm in ("RS256", "ES384"):
        assert signing_key(keys, algorithm, NOW).key_id in first  # type: ignore[union-attr]
        assert signing_key(keys, algorithm, NOW + PUBLISH_AHEAD).key_id in new  # type: ignore[union-attr]
    # an hour and the skew after the new keys took over, every token of the first ones has expired
    later = NOW + PUBLISH_AHEAD + timedelta(seconds=3900)
    _, dropped = rotate(store, master, later)[account]
    assert set(dropped) == set(first)


def test_racing_rotations_make_one_set(store: Store, master: MasterKey, account: str) -> None:
    first_keys(store, master, account, timedelta(days=31))
    results: list[dict[str, tuple[list[str], list[str]]]] = []
    threads = [threading.Thread(target=lambda: results.append(rotate(store, master, NOW, older_than=timedelta(days=30))))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(1 for r in results if account in r) == 1, results
    with store.read() as tx:
        assert len(tx.jwt_signing_keys(account)) == 4


def test_a_sealed_key_opens_for_its_own_account_only(store: Store, master: MasterKey, account: str) -> None:
    first_keys(store, master, account, timedelta(0))
    with store.read() as tx:
        record = tx.jwt_signing_keys(account)[0]
    issuer = Issuer("https://iam.example.com", master)
    assert issuer.private_key(record) is not None
    assert b"PRIVATE KEY" not in record.sealed and record.public_jwk.count('"d"') == 0
    for moved in (replace(record, account_id="999999999999"), replace(record, algorithm="ES384" if record.algorithm == "RS256" else "RS256")):
        with pytest.raises(InvalidTag):  # the sealed key is bound to its account and algorithm
            Issuer("https://iam.example.com", master).private_key(moved)
    with pytest.raises(InvalidTag):  # another master key
        Issuer("https://iam.example.com", MasterKey(os.urandom(32))).private_key(record)
