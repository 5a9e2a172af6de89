"""A session token on a request (``auth.principal.KeyResolver.resolve_session``, as ``server.app`` calls it):
it opens only with its own temporary access key id, only before its expiry, and every mutation of it is
InvalidClientTokenId (403) — never ExpiredToken, never another error, never a session.

The node is real: a SQLite store, the key ring of signing keys under a master key, the resolver and its cache.
"""
from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iamroles.auth.principal import KeyResolver
from iamroles.tokens import SessionClaims, SigningKey, seal

from .conftest import Node
from .helpers import DURING, ISSUED, ROLE_ARN, at, byte_mutation, claims, enc, examples, expired, raw, refused, text_mutation

B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


@pytest.fixture(scope="module")
def pool(shared_node: Node) -> list[tuple[str, SessionClaims]]:
    """Valid tokens sealed by the node's current key, as ``sts.sessions.issue`` seals them."""
    out = []
    for n in range(6):
        c = claims("p" + "q" * n, tags={"k": "v"} if n % 2 else {})
        out.append((seal(c, shared_node.ring.current), c))
    return out


# -- what a valid token resolves to ----------------------------------------------------------------------------


def test_a_valid_token_resolves_to_its_session(node: Node) -> None:
    c = claims("alice-session", tags={"project": "x"})
    token = seal(c, node.ring.current)
    for _ in range(2):  # opened, then from the resolver's cache
        resolved = node.resolve(c.access_key_id, token, DURING)
        assert resolved.secret == c.secret  # the temporary secret SigV4 is verified with
        caller = resolved.caller
        assert caller.access_key_id == c.access_key_id and caller.account_id == c.account
        assert caller.session == c and caller.role_key == "token-tests"
        assert caller.principal.arn == c.arn
    # a second session of the same role has its own secret; neither token yields the other's
    other = claims("bob-session")
    other_token = seal(other, node.ring.current)
    assert node.resolve(other.access_key_id, other_token, DURING).secret == other.secret != c.secret


# -- bound to its access key id --------------------------------------------------------------------------------


@examples(300)
@given(data=st.data())
def test_a_token_opens_only_with_its_own_access_key_id(shared_node: Node, pool: list[tuple[str, SessionClaims]], data: st.DataObject) -> None:
    token, c = data.draw(st.sampled_from(pool))
    real = c.access_key_id
    other_session = data.draw(st.sampled_from([o.access_key_id for _, o in pool if o is not c]))
    akid = data.draw(st.one_of(
        st.text(st.sampled_from(B32), min_size=16, max_size=16).map(lambda s: "ASIA" + s),  # any other temporary id
        st.just(other_session),
        st.sampled_from([real.lower(), " " + real, real + " ", "AKIA" + real[4:], real[:-1], real + "A", "", real[::-1]]),
        st.tuples(st.integers(4, 19), st.sampled_from(B32)).map(lambda ic: real[: ic[0]] + ic[1] + real[ic[0] + 1 :]),
    ).filter(lambda k: k != real))
    warm = data.draw(st.booleans())
    if warm:  # the resolver's cache holds this token: the id is checked on a cache hit too
        shared_node.resolve(real, token)
    refused(shared_node, akid, token)
    assert shared_node.resolve(real, token).secret == c.secret  # the refusal did not spoil the real session


def test_two_sessions_ids_swapped_are_refused(node: Node) -> None:
    a, b = claims("a"), claims("b")
    ta, tb = seal(a, node.ring.current), seal(b, node.ring.current)
    for _ in range(2):  # cold, then with both tokens cached
        refused(node, b.access_key_id, ta)
        refused(node, a.access_key_id, tb)
        assert node.resolve(a.access_key_id, ta).secret == a.secret
        assert node.resolve(b.access_key_id, tb).secret == b.secret


def test_the_right_claims_sealed_elsewhere_are_refused(node: Node) -> None:
    """A session (id, claims, a secret of the forger's choosing) sealed by anyone but this node does not resolve."""
    victim = claims("victim")
    copy = replace(victim, secret="attacker-chosen-secret-00000000000000000")
    token = seal(copy, SigningKey.generate())  # same id and claims, but not sealed by this node
    refused(node, victim.access_key_id, token)


# -- expiry -----------------------------------------------------------------------------------------------------


def test_expiry_is_exact_and_reported_as_expired_token(node: Node) -> None:
    c = claims("short", expires=ISSUED + 900)
    token = seal(c, node.ring.current)
    assert node.resolve(c.access_key_id, token, at(c.expires - 1)).secret == c.secret  # cached now
    expired(node, c.access_key_id, token, at(c.expires))  # the cache path
    expired(node, c.access_key_id, token, at(c.expires + 10**6))
    cold = Node(node.store, node.master_key, node.clock, node.ring, KeyResolver(node.master_key))
    expired(cold, c.access_key_id, token, at(c.expires))  # the opening path
    assert cold.resolve(c.access_key_id, token, at(c.expires - 1)).caller.session == c
    # an expired token is only "expired" to its own key id; to any other it is invalid
    refused(node, claims().access_key_id, token, at(c.expires + 1))
    refused(cold, claims().access_key_id, token, at(c.expires + 1))


def test_an_expired_token_that_does_not_open_is_invalid_not_expired(node: Node) -> None:
    """ExpiredToken says the token is genuine; a forged or altered one must not learn that."""
    c = claims("gone", expires=ISSUED + 900)
    late = at(c.expires + 60)
    for token in (seal(c, SigningKey.generate()), seal(c, SigningKey(node.ring.current.key_id, SigningKey.generate().key))):
        refused(node, c.access_key_id, token, late)
    genuine = seal(c, node.ring.current)
    data = raw(genuine)
    refused(node, c.access_key_id, enc(data[:-1] + bytes([data[-1] ^ 1])), late)
    refused(node, c.access_key_id, genuine[:-2], late)
    expired(node, c.access_key_id, genuine, late)


# -- every mutation is InvalidClientTokenId ----------------------------------------------------------------------


@examples(800)
@given(data=st.data())
def test_no_mutation_resolves(shared_node: Node, pool: list[tuple[str, SessionClaims]], data: st.DataObject) -> None:
    """Mutations of a cached valid token, presented with its real access key id, during its life or after it:
    InvalidClientTokenId, unless the mutation gives back a valid token (which resolves to exactly itself)."""
    token, c = data.draw(st.sampled_from(pool))
    shared_node.resolve(c.access_key_id, token)  # cached, as after the session's first request
    (b, _) = data.draw(st.sampled_from(pool))
    candidate = data.draw(st.one_of(
        text_mutation(token).map(lambda m: m[1]),
        byte_mutation(token).map(lambda m: m[1]),
        st.tuples(st.integers(0, len(token)), st.integers(0, len(b))).map(lambda ij: token[: ij[0]] + b[ij[1] :]),
    ))
    now = data.draw(st.sampled_from([DURING, at(c.expires), at(c.expires + 86400)]))
    by_token = dict(pool)
    if candidate in by_token:
        owner = by_token[candidate]
        if candidate == token and now >= at(c.expires):
            expired(shared_node, c.access_key_id, candidate, now)
        elif owner is c:
            assert shared_node.resolve(c.access_key_id, candidate, now).caller.session == c
        else:
            refused(shared_node, c.access_key_id, candidate, now)  # another session's token with this id
        return
    refused(shared_node, c.access_key_id, candidate, now)


def test_a_role_arn_in_the_claims_is_not_trusted_for_a_missing_role(node: Node) -> None:
    """The session's role must still exist with the id sealed in the token (deleting a role ends its sessions)."""
    c = claims("x")
    good = seal(c, node.ring.current)
    assert node.resolve(c.access_key_id, good).caller.principal.arn.endswith("/token-tests/x")
    assert c.role_arn == ROLE_ARN
    stale = replace(c, user_id="AROAOLDROLEID00000001:x", access_key_id=claims().access_key_id)  # a deleted namesake's
    refused(node, stale.access_key_id, seal(stale, node.ring.current))
