"""First start, accounts, cross-account isolation and test mode."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from botocore.exceptions import ClientError

from .conftest import start_server, stop_server, unique
from .test_roles import TRUST


def test_first_start_writes_credentials_once(tmp_path: Path) -> None:
    """No keys given: an account and root key are made, the secret goes to a 0600 file and never to the output."""
    from .conftest import free_port

    port = free_port()
    data = tmp_path / "data"
    proc = subprocess.Popen([sys.executable, "-m", "iamroles", "serve", "--port", str(port), "--data-dir", str(data)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "IAMROLES_"))})
    lines = []
    try:
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.append(line)
            if "serving IAM and STS" in line:
                break
        creds = data / "credentials"
        assert stat.S_IMODE(creds.stat().st_mode) == 0o600
        assert stat.S_IMODE((data / "master.key").stat().st_mode) == 0o600
        text = creds.read_text()
        secret = next(line.split("=", 1)[1].strip() for line in text.splitlines() if line.startswith("aws_secret_access_key"))
        output = "".join(lines)
        assert str(creds) in output and secret not in output
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
               "AWS_SHARED_CREDENTIALS_FILE": str(creds), "AWS_PROFILE": "iamroles", "AWS_DEFAULT_REGION": "us-east-1"}
        who = subprocess.run([sys.executable, "-m", "awscli", "--endpoint-url", f"http://127.0.0.1:{port}", "sts", "get-caller-identity"],
                             env=env, capture_output=True, text=True, timeout=120)
        assert who.returncode == 0, who.stderr
        assert json.loads(who.stdout)["Arn"].endswith(":root")
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()  # type: ignore[union-attr]
    # a restart does not make a new account or print secrets again
    proc = subprocess.Popen([sys.executable, "-m", "iamroles", "serve", "--port", str(port), "--data-dir", str(data)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        first = proc.stdout.readline()  # type: ignore[union-attr]
        assert "serving IAM and STS" in first and "created account" not in first
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()  # type: ignore[union-attr]


def test_accounts_are_isolated(tmp_path: Path) -> None:
    srv = start_server(tmp_path, None)
    try:
        out = subprocess.run([sys.executable, "-m", "iamroles", "accounts", "create", "--data-dir", str(srv.data_dir),
                              "--account-id", "444455556666", "--json"], capture_output=True, text=True, check=True)
        info = json.loads(out.stdout)
        assert info["account_id"] == "444455556666" and "secret" not in out.stdout.lower()
        import configparser

        cfg = configparser.ConfigParser()
        cfg.read(info["credentials_file"])
        section = cfg[info["profile"]]
        other = srv.client("iam", section["aws_access_key_id"], section["aws_secret_access_key"])
        name = unique("shared-name")
        srv.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
        with pytest.raises(ClientError) as exc:
            other.get_role(RoleName=name)
        assert exc.value.response["Error"]["Code"] == "NoSuchEntity"
        created = other.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]
        assert created["Arn"] == f"arn:aws:iam::444455556666:role/{name}"
        listed = subprocess.run([sys.executable, "-m", "iamroles", "accounts", "list", "--data-dir", str(srv.data_dir), "--json"],
                                capture_output=True, text=True, check=True)
        assert {a["account_id"] for a in json.loads(listed.stdout)} == {srv.account, "444455556666"}
    finally:
        stop_server(srv)


def test_the_default_account_partition_is_chosen_at_first_start(tmp_path: Path) -> None:
    """`iamroles serve --partition aws-cn`: the default account is aws-cn's, for good. An account's keys work only for
    its partition's regions (https://docs.aws.amazon.com/whitepapers/latest/aws-fault-isolation-boundaries/partitions.html);
    elsewhere AWS answers InvalidClientTokenId (tests/server/test_partitions.py has the sources)."""
    srv = start_server(tmp_path, None, "--partition", "aws-cn")
    try:
        cn = srv.client("iam", region="cn-north-1")
        role = cn.create_role(RoleName=unique("cn"), AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]
        assert role["Arn"].startswith(f"arn:aws-cn:iam::{srv.account}:role/")
        with pytest.raises(ClientError) as exc:
            srv.client("iam").get_role(RoleName=role["RoleName"])
        assert (exc.value.response["Error"]["Code"], exc.value.response["ResponseMetadata"]["HTTPStatusCode"]) == ("InvalidClientTokenId", 403)
        listed = subprocess.run([sys.executable, "-m", "iamroles", "accounts", "list", "--data-dir", str(srv.data_dir), "--json"],
                                capture_output=True, text=True, check=True)
        assert json.loads(listed.stdout)[0]["partition"] == "aws-cn"
    finally:
        stop_server(srv)
    # a later start may not change it
    out = subprocess.run([sys.executable, "-m", "iamroles", "serve", "--data-dir", str(srv.data_dir), "--partition", "aws"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "does not match the default account's partition aws-cn" in out.stderr


def test_test_mode_reset_and_admin(tmp_path: Path) -> None:
    srv = start_server(tmp_path, None, "--test-mode", "--admin-access-key", "admin", "--admin-secret-key", "admin-secret")
    try:
        admin = srv.client("iam", "admin", "admin-secret")
        name = unique("r")
        admin.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
        assert httpx.post(srv.url + "/moto-api/reset").status_code == 200
        with pytest.raises(ClientError) as exc:
            admin.get_role(RoleName=name)
        assert exc.value.response["Error"]["Code"] == "NoSuchEntity"
        assert srv.client("sts", "admin", "admin-secret").get_caller_identity()["Arn"].endswith(":user/iamroles-admin")
        srv.client("iam").list_roles()  # the root key survives too
    finally:
        stop_server(srv)
    plain = start_server(tmp_path / "plain", None)
    try:
        r = httpx.post(plain.url + "/moto-api/reset")
        assert r.status_code == 403 and "--test-mode" in r.text
    finally:
        stop_server(plain)


def test_audit_trail(tmp_path: Path) -> None:
    """Every call, allowed or refused, is recorded CloudTrail-style, with no secrets."""
    srv = start_server(tmp_path, None)
    try:
        iam = srv.client("iam")
        name = unique("audited")
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
        key = iam.create_access_key()["AccessKey"]
        with pytest.raises(ClientError):
            iam.get_role(RoleName=name + "-missing")
    finally:
        stop_server(srv)  # flushes the trail
    out = subprocess.run([sys.executable, "-m", "iamroles", "audit", "--data-dir", str(srv.data_dir), "--json", "--limit", "10"],
                         capture_output=True, text=True, check=True)
    events = [json.loads(line) for line in out.stdout.splitlines()]
    by_name = {e["eventName"]: e for e in events}
    created = by_name["CreateRole"]
    assert created["eventSource"] == "iam.amazonaws.com" and created["requestParameters"]["roleName"] == name
    assert created["userIdentity"]["arn"] == f"arn:aws:iam::{srv.account}:root" and created["errorCode"] is None
    assert by_name["GetRole"]["errorCode"] == "NoSuchEntity" and by_name["GetRole"]["readOnly"] is True
    assert key["SecretAccessKey"] not in out.stdout and srv.secret_key not in out.stdout
    errors = subprocess.run([sys.executable, "-m", "iamroles", "audit", "--data-dir", str(srv.data_dir), "--errors"],
                            capture_output=True, text=True, check=True)
    assert "GetRole" in errors.stdout and "CreateRole" not in errors.stdout
