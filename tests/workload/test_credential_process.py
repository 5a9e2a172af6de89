"""``iamroles credential-process``: an AWS config profile's ``credential_process`` feeding an unmodified SDK.

The output format and the SDK's re-running of the command near Expiration:
https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-sourcing-external.html,
https://docs.aws.amazon.com/sdkref/latest/guide/feature-process-credentials.html.
"""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from .conftest import IAMROLES, LOOP, WHOAMI, World, finish, run


def trust(arn: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": arn}, "Action": "sts:AssumeRole"}]})


def setup(world: World, tmp_path: Path, *role_args: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """A role the user may assume; their keys as profile ``base``; profile ``app`` runs the command."""
    key = world.user()
    user_arn = world.iam.get_user(UserName=key["UserName"])["User"]["Arn"]
    role = world.role("unused.amazonaws.com", "app")[0]
    world.iam.update_assume_role_policy(RoleName=role, PolicyDocument=trust(user_arn))
    (tmp_path / "credentials").write_text(
        f"[base]\naws_access_key_id = {key['AccessKeyId']}\naws_secret_access_key = {key['SecretAccessKey']}\n")
    command = " ".join([*IAMROLES, "credential-process", "--role", role, "--profile", "base", "--endpoint-url", world.srv.url,
                        *role_args])
    (tmp_path / "config").write_text(f"[profile app]\ncredential_process = {command}\nregion = us-east-1\n")
    env = world.bare_env(AWS_CONFIG_FILE=str(tmp_path / "config"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"),
                         AWS_ENDPOINT_URL=world.srv.url)
    return role, key, env


def test_profile_with_credential_process_feeds_boto3_and_the_aws_cli(world: World, tmp_path: Path) -> None:
    role, _, env = setup(world, tmp_path, "--session-name", "from-process")
    arn = f"arn:aws:sts::{world.srv.account}:assumed-role/{role}/from-process"
    r = run([sys.executable, "-c", WHOAMI], {**env, "AWS_PROFILE": "app"})
    assert r.returncode == 0 and r.stdout.strip() == arn, r.stderr
    r = run([sys.executable, "-m", "awscli", "sts", "get-caller-identity", "--profile", "app", "--output", "json"], env)
    assert r.returncode == 0 and json.loads(r.stdout)["Arn"] == arn, r.stderr


def test_output_is_version_1_on_the_local_clock(world: World, tmp_path: Path) -> None:
    role, _, env = setup(world, tmp_path)
    before = datetime.now(UTC).replace(microsecond=0)
    r = run([*IAMROLES, "credential-process", "--role", f"arn:aws:iam::{world.srv.account}:role/{role}", "--profile", "base",
             "--duration", "900"], env)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert list(doc) == ["Version", "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"]
    assert doc["Version"] == 1 and doc["AccessKeyId"].startswith("ASIA") and doc["Expiration"].endswith("Z")
    expires = datetime.fromisoformat(doc["Expiration"].replace("Z", "+00:00"))
    assert before + timedelta(seconds=899) <= expires <= datetime.now(UTC) + timedelta(seconds=900)


def test_refresh_runs_the_command_again(world: World, tmp_path: Path) -> None:
    """Fifteen-minute credentials are always inside botocore's refresh window: each call gets new ones."""
    role, _, env = setup(world, tmp_path, "--duration", "900", "--session-name", "refreshed")
    proc = subprocess.Popen([sys.executable, "-c", LOOP], env={**env, "AWS_PROFILE": "app"}, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write("go\ngo\n")
        proc.stdin.close()
        first, second = json.loads(proc.stdout.readline()), json.loads(proc.stdout.readline())
        assert proc.wait(20) == 0
    finally:
        finish(proc)
    assert first["Arn"] == second["Arn"] == f"arn:aws:sts::{world.srv.account}:assumed-role/{role}/refreshed"
    assert first["AccessKeyId"] != second["AccessKeyId"]


def test_errors_go_to_stderr_with_a_nonzero_exit(world: World, tmp_path: Path) -> None:
    _, _, env = setup(world, tmp_path)
    other = world.role("unused.amazonaws.com", "other")[0]  # trusts a service, not this user
    r = run([*IAMROLES, "credential-process", "--role", other, "--profile", "base"], env)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.startswith("iamroles credential-process: AccessDenied: ") and "sts:AssumeRole" in r.stderr
    # the SDK shows the command's message
    (tmp_path / "config").write_text(f"[profile bad]\ncredential_process = {' '.join(IAMROLES)} credential-process "
                                     f"--role {other} --profile base\nregion = us-east-1\n")
    r = run([sys.executable, "-c", WHOAMI], {**env, "AWS_PROFILE": "bad"})
    assert r.returncode != 0 and "AccessDenied" in r.stderr
    r = run([*IAMROLES, "credential-process", "--role", other, "--profile", "missing"], env)
    assert r.returncode == 1 and "missing" in r.stderr

    # a profile whose command uses the same profile for its own credentials stops instead of forking forever
    (tmp_path / "config").write_text(f"[profile loop]\ncredential_process = {' '.join(IAMROLES)} credential-process "
                                     f"--role {other}\nregion = us-east-1\n")
    r = run([*IAMROLES, "credential-process", "--role", other], {**env, "AWS_PROFILE": "loop"})
    assert r.returncode == 1 and "credential_process calls itself" in r.stderr
