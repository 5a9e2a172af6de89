"""`iamroles accounts quota`: an operator raises (or lowers) one account's IAM quota, and creates obey it.

AWS's defaults and which quotas an account can have raised:
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from iamroles.errors import LimitExceeded
from iamroles.store import Store
from tests.store.ops import TRUST, call


def run(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    if not (data_dir / "master.key").exists():  # the store is made by `iamroles init` (the CLI refuses to make one)
        subprocess.run([sys.executable, "-m", "iamroles", "init", "--data-dir", str(data_dir)], check=True, capture_output=True)
    return subprocess.run([sys.executable, "-m", "iamroles", "accounts", *args, "--data-dir", str(data_dir)],
                          capture_output=True, text=True, timeout=120)


def test_set_show_and_reset(tmp_path: Path) -> None:
    account = json.loads(run(tmp_path, "list", "--json").stdout)[0]["account_id"]
    shown = {r["name"]: r for r in json.loads(run(tmp_path, "quota", account, "--json").stdout)}
    assert shown["RolesPerAccount"] == {"name": "RolesPerAccount", "value": 1000, "default": 1000, "set": False}
    assert shown["UsersPerAccount"]["value"] == 5000 and shown["GroupsPerAccount"]["value"] == 300
    assert run(tmp_path, "quota", account, "RolesPerAccount", "2").returncode == 0
    store = Store(f"sqlite:///{tmp_path}/iamroles.db")
    try:
        for name in ("one", "two"):
            call(store, account, "CreateRole", RoleName=name, AssumeRolePolicyDocument=TRUST)
        with pytest.raises(LimitExceeded) as exc:
            call(store, account, "CreateRole", RoleName="three", AssumeRolePolicyDocument=TRUST)
        assert str(exc.value) == "Cannot exceed quota for RolesPerAccount: 2"
        assert run(tmp_path, "quota", account, "RolesPerAccount", "default").returncode == 0
        call(store, account, "CreateRole", RoleName="three", AssumeRolePolicyDocument=TRUST)
    finally:
        store.close()
    assert json.loads(run(tmp_path, "quota", account, "--json").stdout)[0]["set"] is False


@pytest.mark.parametrize("args", [("RolesPerAccount", "-1"), ("RolesPerAccount", "many"), ("NoSuchQuota", "5"), ("RolesPerAccount",)])
def test_bad_input_changes_nothing(tmp_path: Path, args: tuple[str, ...]) -> None:
    account = json.loads(run(tmp_path, "list", "--json").stdout)[0]["account_id"]
    out = run(tmp_path, "quota", account, *args)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert not any(r["set"] for r in json.loads(run(tmp_path, "quota", account, "--json").stdout))


def test_unknown_account(tmp_path: Path) -> None:
    out = run(tmp_path, "quota", "000000000000", "RolesPerAccount", "5")
    assert out.returncode == 1 and "no account 000000000000" in out.stderr
