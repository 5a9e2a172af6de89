"""A TOTP code is accepted once, across processes: ``serve --workers`` runs several, and nodes share a database.
AWS: "each code can be used only once" for a virtual MFA device
(https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_mfa_enable_virtual.html, RFC 6238 section 5.2:
"the verifier MUST NOT accept the second attempt of the OTP after the successful validation")."""
from __future__ import annotations

import threading
from datetime import UTC, datetime

from iamroles.iam.mfa import MfaReplay
from iamroles.store import MfaDevice, Store

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _device(store: Store, account: str) -> str:
    d = MfaDevice(f"arn:aws:iam::{account}:mfa/phone", account, "phone", "/", b"sealed-seed", "alice", NOW, NOW)
    with store.write() as tx:
        tx.insert_mfa_device(d)
    return d.serial


def test_a_code_taken_by_one_process_is_refused_by_another(store: Store, account: str) -> None:
    serial = _device(store, account)
    first, second = MfaReplay(store), MfaReplay(store)  # two workers: their memories are apart, the database not
    with store.read() as tx:
        assert first.claim(serial, 1000, tx)
    with store.read() as tx:
        assert not second.claim(serial, 1000, tx)  # the same code through the other worker
        assert not second.claim(serial, 999, tx)  # nor an earlier one
        assert second.claim(serial, 1001, tx)  # the next code is fresh
    with store.read() as tx:
        assert not first.claim(serial, 1001, tx)
    with store.read() as tx:
        device = tx.mfa_device(serial)
    assert device is not None and device.last_step == 1001


def test_in_a_write_transaction_the_claim_is_part_of_it(store: Store, account: str) -> None:
    """ResyncMFADevice claims in its own transaction: if that transaction fails, the step was not taken."""
    serial = _device(store, account)
    try:
        with store.write() as tx:
            assert MfaReplay(store).claim(serial, 2000, tx)
            raise RuntimeError("the operation failed after the claim")
    except RuntimeError:
        pass
    with store.read() as tx:
        assert MfaReplay(store).claim(serial, 2000, tx)


def test_racing_processes_accept_a_code_once(store: Store, account: str) -> None:
    serial = _device(store, account)
    replays = [MfaReplay(store) for _ in range(8)]
    results: list[bool] = []
    barrier = threading.Barrier(len(replays))

    def attempt(replay: MfaReplay) -> None:
        barrier.wait()
        with store.read() as tx:
            results.append(replay.claim(serial, 3000, tx))

    threads = [threading.Thread(target=attempt, args=(r,)) for r in replays]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]
