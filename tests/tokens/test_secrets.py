"""The master key (secrets at rest) and the identifiers and secrets AWS's formats call for (``tokens.secrets``).

Temporary credentials have no derived secret: ``sts.sessions.issue`` draws a fresh ``ASIA…`` id and a fresh
40-character secret and seals both into the token (``test_session_resolution`` checks that the resolver
hands back exactly that secret for SigV4); here, that the draws have AWS's shapes and are uniform.
"""
from __future__ import annotations

import base64
import math
import re
import secrets
import stat
from collections import Counter
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from hypothesis import given
from hypothesis import strategies as st

from iamroles.tokens import MasterKey, account_of_access_key_id, new_access_key_id, new_secret_access_key, new_unique_id
from iamroles.tokens.secrets import ENV

B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


# -- the master key ---------------------------------------------------------------------------------------------


def test_sealed_secrets_open_only_with_their_key_and_record() -> None:
    mk = MasterKey(secrets.token_bytes(32))
    sealed = mk.seal(b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", b"AKIAIOSFODNN7EXAMPLE")
    assert b"wJalrXUtnFEMI" not in sealed and sealed[:1] == b"\x01"
    assert mk.open(sealed, b"AKIAIOSFODNN7EXAMPLE") == b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    assert mk.seal(b"x", b"a") != mk.seal(b"x", b"a")  # fresh nonce
    with pytest.raises(InvalidTag):  # copied onto another record
        mk.open(sealed, b"AKIAOTHERKEY00000000")
    with pytest.raises(InvalidTag):  # under another master key
        MasterKey(secrets.token_bytes(32)).open(sealed, b"AKIAIOSFODNN7EXAMPLE")
    for i in range(len(sealed)):  # any altered byte
        for bit in (0, 7):
            altered = sealed[:i] + bytes([sealed[i] ^ (1 << bit)]) + sealed[i + 1 :]
            with pytest.raises((InvalidTag, ValueError)):
                mk.open(altered, b"AKIAIOSFODNN7EXAMPLE")
    for n in range(len(sealed)):  # any truncation
        with pytest.raises((InvalidTag, ValueError)):
            mk.open(sealed[:n], b"AKIAIOSFODNN7EXAMPLE")


@pytest.mark.parametrize("size", [0, 16, 31, 33, 64])
def test_a_master_key_is_32_bytes(size: int) -> None:
    with pytest.raises(ValueError):
        MasterKey(bytes(size))


def test_load_or_create_makes_a_0600_file_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    path = tmp_path / "data" / "master.key"
    first, created = MasterKey.load_or_create(path)
    assert created and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(base64.b64decode(path.read_bytes().strip())) == 32
    sealed = first.seal(b"secret", b"aad")
    again, created_again = MasterKey.load_or_create(path)
    assert not created_again and again.open(sealed, b"aad") == b"secret"  # the same key, read back


def test_the_environment_variable_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = secrets.token_bytes(32)
    monkeypatch.setenv(ENV, base64.b64encode(key).decode())
    path = tmp_path / "master.key"
    mk, created = MasterKey.load_or_create(path)
    assert not created and not path.exists()
    assert MasterKey(key).open(mk.seal(b"s", b"a"), b"a") == b"s"


# -- ids and secrets --------------------------------------------------------------------------------------------


def test_access_key_ids_and_unique_ids_have_aws_shapes() -> None:
    assert re.fullmatch(r"AKIA[A-Z2-7]{16}", new_access_key_id())
    assert re.fullmatch(r"ASIA[A-Z2-7]{16}", new_access_key_id("ASIA"))
    for prefix in ("AIDA", "AROA", "AGPA", "ANPA", "AIPA"):
        assert re.fullmatch(prefix + r"[A-Z2-7]{17}", new_unique_id(prefix))
    assert re.fullmatch(r"[A-Za-z0-9+/]{40}", new_secret_access_key())


def test_draws_are_distinct_and_uniform() -> None:
    """2000 temporary ids and secrets: no repeats, and every character of each alphabet about equally often
    (a biased or truncated alphabet would show: each count is far outside these bounds only by error). An id that
    encodes its account is random in its last 7 characters (35 of its 39 random bits)."""
    ids = [new_access_key_id("ASIA") for _ in range(2000)]
    with_account = [new_access_key_id("ASIA", "111122223333") for _ in range(2000)]
    keys = [new_secret_access_key() for _ in range(2000)]
    assert len(set(ids)) == len(ids) and len(set(keys)) == len(keys) and len(set(with_account)) == len(with_account)
    for values, alphabet, skip in ((ids, B32, 4), (with_account, B32, 13), (keys, B64, 0)):
        counts = Counter("".join(v[skip:] for v in values))
        assert set(counts) == set(alphabet)
        expected = sum(counts.values()) / len(alphabet)
        # six standard deviations either side: a fair draw leaves them about once in 10^8 runs (the old 20% bound
        # was 4.3 of them for the 14,000 characters of the account-encoding ids and failed CI once), while one
        # character drawn twice as often as it should, or half as often, is 20 or more away
        bound = 6 * math.sqrt(expected * (1 - 1 / len(alphabet)))
        assert all(abs(c - expected) < bound for c in counts.values()), counts



# -- access key ids carry their account ---------------------------------------------------------------------------
# GetAccessKeyInfo answers the account of any access key id, temporary ones included
# (https://docs.aws.amazon.com/STS/latest/APIReference/API_GetAccessKeyInfo.html); AWS's ids encode it, in the
# layout decoded in https://awsteele.com/blog/2020/09/26/aws-access-key-format.html and
# https://medium.com/@TalBeerySec/a-short-note-on-aws-key-id-f88cc4317489 (whose example ids are used here).
AWS_EXAMPLES = [("ASIAY34FZKBOKMUTVV7A", "609629065308")]


@pytest.mark.parametrize("key_id, account", AWS_EXAMPLES)
def test_aws_issued_ids_decode_to_their_account(key_id: str, account: str) -> None:
    assert account_of_access_key_id(key_id) == account


@pytest.mark.parametrize("account", ["000000000000", "000000000001", "111122223333", "609629065308", "999999999999"])
@pytest.mark.parametrize("prefix", ["AKIA", "ASIA"])
def test_new_ids_encode_their_account(prefix: str, account: str) -> None:
    for _ in range(50):
        key_id = new_access_key_id(prefix, account)
        assert re.fullmatch(prefix + r"[A-Z2-7]{16}", key_id)
        assert account_of_access_key_id(key_id) == account
    # the account's part is AWS's: the same 8 characters as AWS's own ids of that account
    assert new_access_key_id(prefix, "609629065308")[4:12] == "Y34FZKBO"


@given(st.integers(min_value=0, max_value=999_999_999_999), st.sampled_from(["AKIA", "ASIA"]))
def test_every_account_round_trips(account: int, prefix: str) -> None:
    assert account_of_access_key_id(new_access_key_id(prefix, f"{account:012d}")) == f"{account:012d}"


@pytest.mark.parametrize("key_id", [
    "AKIAIOSFODNN7EXAMPLE",  # AWS's documentation example: an old-format id (bit 47 clear) encodes no account
    "ASIAY34FZKBOKMUTVV7",  # 19 characters
    "ASIAY34FZKBOKMUTVV7AA",  # 21
    "asiay34fzkbokmutvv7a",  # lowercase
    "ASIAY34FZKBOKMUTVV70",  # 0, 1, 8, 9 are not base32
    "ASIAY34FZKBOKMUTVV71",
    "ABIAY34FZKBOKMUTVV7A",  # not AKIA/ASIA
    "AROAY34FZKBOKMUTVV7A",
    "ASIA7777777777777777",  # encodes 1099511627775 > 999999999999
    "",
])
def test_malformed_ids_encode_no_account(key_id: str) -> None:
    assert account_of_access_key_id(key_id) is None


@pytest.mark.parametrize("account", ["11112222333", "1111222233334", "11112222333x", "-11122223333"])
def test_only_12_digit_accounts_are_encoded(account: str) -> None:
    with pytest.raises(ValueError):
        new_access_key_id("ASIA", account)


def test_random_bytes_are_never_handed_out_twice_across_refills_and_threads() -> None:
    """The buffered CSPRNG draw: every byte is used once, across pool refills and concurrent callers."""
    import threading

    from iamroles.tokens.secrets import random_bytes

    chunks: list[bytes] = []
    lock = threading.Lock()

    def draw() -> None:
        mine = [random_bytes(24) for _ in range(800)]  # several 4 KiB refills per thread
        with lock:
            chunks.extend(mine)

    threads = [threading.Thread(target=draw) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(chunks) == 6400 and all(len(c) == 24 for c in chunks)
    assert len(set(chunks)) == len(chunks)  # 192-bit draws: a repeat means a byte range was handed out twice
    assert len(random_bytes(10_000)) == 10_000  # larger than the pool: straight from the OS


def test_a_forked_child_does_not_reuse_the_parents_random_bytes() -> None:
    """After fork, parent and child draw different bytes (the child's pool starts empty)."""
    import os

    from iamroles.tokens.secrets import random_bytes

    random_bytes(16)  # the parent's pool holds bytes not yet handed out
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read)
        os.write(write, random_bytes(32))
        os._exit(0)
    os.close(write)
    child = os.read(read, 64)
    os.close(read)
    os.waitpid(pid, 0)
    assert len(child) == 32 and child != random_bytes(32)
