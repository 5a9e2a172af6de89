"""Signing-key rotation (``sts.keys.KeyRing``, the keys ``tokens.seal`` works with).

DESIGN.md: signing keys are stored encrypted under the master key; rotation keeps old keys valid until the
longest credential they issued has expired. A token under a retired key opens after rotation (on this node
and on others sharing the store); once the key is dropped, or for a key the ring never held, it does not.
"""
from __future__ import annotations

import secrets
import time
import types
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from iamroles.store import Store
from iamroles.sts import keys as keys_module
from iamroles.sts.keys import LONGEST_SESSION, RETIRED_KEY_LIFETIME, KeyRing
from iamroles.tokens import MasterKey, SigningKey, TokenError, seal, unseal

from .conftest import Node, make_node, make_store
from .helpers import claims, raw, refused


def sealed_now(node: Node, name: str = "s") -> tuple[str, object, bytes]:
    c = claims(name, expires=int(node.clock().timestamp()) + 36 * 3600)  # live as long as any session can be
    key = node.ring.current
    return seal(c, key), c, key.key_id


def test_new_tokens_use_the_new_key_and_old_tokens_still_open(node: Node) -> None:
    t0, c0, k0 = sealed_now(node, "before")
    node.resolve(c0.access_key_id, t0)  # type: ignore[attr-defined]
    new_id = node.ring.rotate()
    assert node.ring.current.key_id.hex() == new_id and bytes.fromhex(new_id) != k0
    t1, c1, k1 = sealed_now(node, "after")
    assert raw(t1)[3:11] == k1 == bytes.fromhex(new_id) and raw(t0)[3:11] == k0
    assert unseal(t0, node.ring.keys) == c0 and unseal(t1, node.ring.keys) == c1
    fresh = make_node(node.store, node.master_key, node.clock)  # a cold resolver: the old token is opened again
    assert fresh.resolve(c0.access_key_id, t0).caller.session == c0  # type: ignore[attr-defined]
    assert fresh.resolve(c1.access_key_id, t1).caller.session == c1  # type: ignore[attr-defined]
    # rotate twice more: tokens under all three earlier keys still open, the newest key seals
    node.ring.rotate()
    t2, c2, k2 = sealed_now(node, "later")
    node.ring.rotate()
    assert len({k0, k1, k2, node.ring.current.key_id}) == 4
    for token, c in ((t0, c0), (t1, c1), (t2, c2)):
        assert unseal(token, node.ring.keys) == c
    # what rotation never does: make a retired key seal again
    assert node.ring.current.key_id not in (k0, k1, k2)


def test_a_retired_key_opens_its_tokens_for_the_longest_session_then_is_dropped(node: Node) -> None:
    t0, c0, k0 = sealed_now(node, "old")
    node.ring.rotate()  # k0 retired now
    t1, c1, _ = sealed_now(node, "new")
    # another node may seal with k0 until it re-reads the ring (30 s): its tokens live the longest session after that
    assert LONGEST_SESSION + timedelta(seconds=30) == RETIRED_KEY_LIFETIME
    node.clock.advance((RETIRED_KEY_LIFETIME - timedelta(seconds=1)).total_seconds())
    assert node.ring.purge() == []  # not yet: a token k0 sealed just before rotating may still be live
    assert unseal(t0, node.ring.keys) == c0
    assert make_node(node.store, node.master_key, node.clock).ring.keys.keys() == node.ring.keys.keys()
    node.clock.advance(2)
    assert node.ring.purge() == [k0.hex()]
    assert k0 not in node.ring.keys
    with pytest.raises(TokenError):
        unseal(t0, node.ring.keys)
    refused(node, c0.access_key_id, t0, node.clock())  # type: ignore[attr-defined]
    assert unseal(t1, node.ring.keys) == c1  # the current key is never dropped, however old
    node.clock.advance(400 * 86400)
    node.ring.purge()
    assert unseal(t1, node.ring.keys) == c1
    with node.store.read() as tx:
        assert [r.key_id for r in tx.signing_keys()] == [node.ring.current.key_id.hex()]


def test_a_restarted_node_skips_keys_retired_too_long_ago_even_before_purge(node: Node) -> None:
    t0, c0, k0 = sealed_now(node, "old")
    node.ring.rotate()
    node.clock.advance(RETIRED_KEY_LIFETIME.total_seconds() + 1)
    restarted = make_node(node.store, node.master_key, node.clock)  # the row is still in the store
    with node.store.read() as tx:
        assert k0.hex() in [r.key_id for r in tx.signing_keys()]
    assert k0 not in restarted.ring.keys
    refused(restarted, c0.access_key_id, t0, node.clock())  # type: ignore[attr-defined]


def test_tokens_under_keys_the_ring_never_held_do_not_open(node: Node, tmp_path: Path) -> None:
    elsewhere = make_node(make_store(tmp_path / "other"), MasterKey(secrets.token_bytes(32)), node.clock)
    tf, cf, kf = sealed_now(elsewhere, "foreign")
    assert elsewhere.resolve(cf.access_key_id, tf).caller.session == cf  # type: ignore[attr-defined]  # valid where it was made
    impostor = SigningKey(node.ring.current.key_id, secrets.token_bytes(32))  # our key id, not our key
    ti = seal(cf, impostor)  # type: ignore[arg-type]
    for token in (tf, ti):
        with pytest.raises(TokenError):
            unseal(token, node.ring.keys)
        refused(node, cf.access_key_id, token, node.clock())  # type: ignore[attr-defined]
    assert kf not in node.ring.keys  # asking the store again (another node may have rotated) did not invent it


def test_a_key_rotated_on_another_node_is_picked_up(node: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two processes on one store: B rotates and seals under its new key; A, which has not reloaded, opens
    B's token by reloading the ring for the unknown key id (rate-limited to once a second: we move A's
    monotonic clock past that instead of sleeping)."""
    other = make_node(node.store, node.master_key, node.clock)
    assert other.ring.current == node.ring.current  # one key ring in the store, not one per process
    other.ring.rotate()
    tb, cb, kb = sealed_now(other, "from-b")
    assert kb not in node.ring.keys
    later = time.monotonic() + 5
    monkeypatch.setattr(keys_module, "time", types.SimpleNamespace(monotonic=lambda: later))
    assert node.resolve(cb.access_key_id, tb).caller.session == cb  # type: ignore[attr-defined]
    assert kb in node.ring.keys and node.ring.current.key_id == kb


def test_an_unknown_key_reloads_the_ring_even_just_after_a_periodic_load(node: Node) -> None:
    """The once-a-second limit on reloads for unknown key ids counts from the last such reload, not from
    the node's own periodic re-read: a node that just re-read its ring still picks up another's rotation."""
    other = make_node(node.store, node.master_key, node.clock)
    other.ring.rotate()
    tb, cb, kb = sealed_now(other, "from-b")
    node.ring.load()  # this node re-read its ring a moment ago
    assert node.resolve(cb.access_key_id, tb).caller.session == cb  # type: ignore[attr-defined]
    assert kb in node.ring.keys
    # a forged key id right after is not worth another read of the store (rate-limited), and is refused
    forged = SigningKey(secrets.token_bytes(8), secrets.token_bytes(32))
    assert node.ring.refresh_for(forged.key_id) is False


def test_signing_keys_are_stored_sealed_under_the_master_key(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    mk = MasterKey(secrets.token_bytes(32))
    n = make_node(store, mk)
    n.ring.rotate()
    with store.read() as tx:
        rows = tx.signing_keys()
    assert len(rows) == 2
    for row in rows:
        key = n.ring.keys[bytes.fromhex(row.key_id)].key
        assert key not in row.sealed and len(row.sealed) == 1 + 12 + 32 + 16
        assert mk.open(row.sealed, b"iamroles-signing-key:" + row.key_id.encode()) == key
    # the record's id is bound in: one key's sealed bytes do not open as another's
    sealed_a, id_b = rows[0].sealed, rows[1].key_id
    with pytest.raises(InvalidTag):
        mk.open(sealed_a, b"iamroles-signing-key:" + id_b.encode())
    # a node with another master key cannot read the ring at all
    with pytest.raises(InvalidTag):
        KeyRing(store, MasterKey(secrets.token_bytes(32)), n.clock)
    store.engine.dispose()


def test_an_empty_store_gets_one_key_and_a_second_start_reuses_it(tmp_path: Path) -> None:
    store = Store.sqlite_file(tmp_path / "db.sqlite")
    store.migrate()
    mk = MasterKey(secrets.token_bytes(32))
    a = KeyRing(store, mk)
    b = KeyRing(store, mk)
    assert a.current == b.current and len(a.keys) == 1
    store.engine.dispose()
