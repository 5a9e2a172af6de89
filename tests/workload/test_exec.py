"""``iamroles exec``: an unmodified boto3 or AWS CLI child runs with a role's credentials, passed to a service.

AWS behaviour reproduced: a task role reaches the SDK through the container
credentials provider (https://docs.aws.amazon.com/sdkref/latest/guide/feature-container-credentials.html);
launching with a role needs iam:PassRole on it, narrowed by iam:PassedToService
(https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html), and, as ecs:RunTask on AWS,
the launch itself: iamroles:LaunchWorkload on the role, narrowed by iamroles:ServicePrincipal; a role
trusted to a service is assumed by that service only
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-services).
"""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from botocore.exceptions import ClientError

from .conftest import ECS, IAMROLES, LOOP, WHOAMI, World, caller_identity, finish, launch, launch_only, pass_role, run

SHOW = ("import boto3, json, os; print(json.dumps({'Arn': boto3.client('sts').get_caller_identity()['Arn'], "
        "'env': sorted(k for k in os.environ if k.startswith('AWS_')), 'url': os.environ['AWS_CONTAINER_CREDENTIALS_FULL_URI'], "
        "'token': os.environ['AWS_CONTAINER_AUTHORIZATION_TOKEN']})); raise SystemExit(7)")


def test_child_gets_the_roles_credentials_and_its_exit_code_passes_through(world: World, tmp_path: Path) -> None:
    role, role_arn = world.role(ECS)
    key = world.user(launch(role_arn, ECS))
    # the launcher's keys in a named profile, and more keys in the config's default profile: none reach the child
    (tmp_path / "credentials").write_text(f"[me]\naws_access_key_id = {key['AccessKeyId']}\n"
                                          f"aws_secret_access_key = {key['SecretAccessKey']}\n")
    (tmp_path / "config").write_text(f"[default]\nregion = eu-west-1\naws_access_key_id = {key['AccessKeyId']}\n"
                                     f"aws_secret_access_key = {key['SecretAccessKey']}\n")
    env = world.bare_env(AWS_PROFILE="me", AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"),
                         AWS_CONFIG_FILE=str(tmp_path / "config"), AWS_ENDPOINT_URL=world.srv.url)
    r = run([*IAMROLES, "exec", "--role", role, "--session-name", "job-1", "--", sys.executable, "-c", SHOW], env)
    assert r.returncode == 7, r.stderr
    out = json.loads(r.stdout)
    assert out["Arn"] == f"arn:aws:sts::{world.srv.account}:assumed-role/{role}/job-1"
    assert "AWS_ACCESS_KEY_ID" not in out["env"] and "AWS_PROFILE" not in out["env"]
    assert "aws_access_key_id" in (tmp_path / "config").read_text()  # the user's file is left alone
    assert {"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_ENDPOINT_URL",
            "AWS_DEFAULT_REGION"} <= set(out["env"])
    assert out["url"].startswith("http://127.0.0.1:")
    with pytest.raises(httpx.ConnectError):  # the endpoint ended with the child
        httpx.get(out["url"], headers={"Authorization": out["token"]})

    # the role by ARN, the launcher's endpoint from --endpoint-url, and a plain exit code 0
    env = world.launcher_env(key)
    del env["AWS_ENDPOINT_URL"]
    r = run([*IAMROLES, "exec", "--role", role_arn, "--endpoint-url", world.srv.url, sys.executable, "-c", WHOAMI], env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"arn:aws:sts::{world.srv.account}:assumed-role/{role}/")


def test_aws_cli_as_the_child(world: World) -> None:
    role, role_arn = world.role(ECS)
    key = world.user(launch(role_arn, ECS))
    r = run([*IAMROLES, "exec", "--role", role, "--session-name", "cli", "--",
             sys.executable, "-m", "awscli", "sts", "get-caller-identity", "--output", "json"], world.launcher_env(key))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["Arn"] == f"arn:aws:sts::{world.srv.account}:assumed-role/{role}/cli"
    # the CLI's own failure code passes through too
    r = run([*IAMROLES, "exec", "--role", role, "--", sys.executable, "-m", "awscli", "iam", "create-user", "--user-name", "x"],
            world.launcher_env(key))
    assert r.returncode == 255 and "AccessDenied" in r.stderr and f"assumed-role/{role}/" in r.stderr


def test_launch_and_pass_role_are_required_for_that_service(world: World, tmp_path: Path) -> None:
    role, role_arn = world.role(ECS)
    marker = tmp_path / "ran"
    child = [sys.executable, "-c", f"open({str(marker)!r}, 'w').close()"]

    # no permission: the launch is refused in AWS's words, and the command never runs
    nobody = world.user()
    r = run([*IAMROLES, "exec", "--role", role, "--", *child], world.launcher_env(nobody))
    assert r.returncode == 125 and not marker.exists()
    assert "AccessDenied" in r.stderr and f"is not authorized to perform: iamroles:LaunchWorkload on resource: {role_arn}" in r.stderr

    # iam:PassRole alone launches nothing
    pass_only = world.user(pass_role(role_arn, ECS))
    r = run([*IAMROLES, "exec", "--role", role, "--", *child], world.launcher_env(pass_only))
    assert r.returncode == 125 and "iamroles:LaunchWorkload" in r.stderr and not marker.exists()
    # the launch alone passes no role
    launch_alone = world.user(launch_only(role_arn, ECS))
    r = run([*IAMROLES, "exec", "--role", role, "--", *child], world.launcher_env(launch_alone))
    assert r.returncode == 125 and f"is not authorized to perform: iam:PassRole on resource: {role_arn}" in r.stderr and not marker.exists()

    # both, for another service (iamroles:ServicePrincipal, iam:PassedToService), do not launch it on ECS
    ec2_only = world.user(launch(role_arn, "ec2.amazonaws.com"))
    r = run([*IAMROLES, "exec", "--role", role, "--", *child], world.launcher_env(ec2_only))
    assert r.returncode == 125 and "iamroles:LaunchWorkload" in r.stderr and not marker.exists()

    # allowed for ECS: runs
    ecs = world.user(launch(role_arn, ECS))
    r = run([*IAMROLES, "exec", "--role", role, "--", *child], world.launcher_env(ecs))
    assert r.returncode == 0 and marker.exists(), r.stderr

    # a role whose trust policy names another service: the service cannot assume it, whoever passes it
    lam, lam_arn = world.role("lambda.amazonaws.com", "fn")
    anyone = world.user(launch("*", None))
    r = run([*IAMROLES, "exec", "--role", lam, "--", sys.executable, "-c", WHOAMI], world.launcher_env(anyone))
    assert r.returncode == 125 and f"{ECS} is not authorized to perform: sts:AssumeRole on resource: {lam_arn}" in r.stderr
    # ...but passed to the service it trusts, it is
    r = run([*IAMROLES, "exec", "--role", lam, "--service", "lambda.amazonaws.com", "--", sys.executable, "-c", WHOAMI],
            world.launcher_env(anyone))
    assert r.returncode == 0 and f"assumed-role/{lam}/" in r.stdout, r.stderr


def test_failures_before_the_command_runs(world: World) -> None:
    role, role_arn = world.role(ECS)
    key = world.user(launch(role_arn, ECS))
    r = run([*IAMROLES, "exec", "--role", "no-such-role", "--", "true"], world.launcher_env(key))
    assert r.returncode == 125 and "NoSuchEntity" in r.stderr
    r = run([*IAMROLES, "exec", "--role", role, "--", "true"], world.bare_env(AWS_ENDPOINT_URL=world.srv.url))
    assert r.returncode == 125 and "no credentials" in r.stderr
    r = run([*IAMROLES, "exec", "--role", role, "--", "true"], world.launcher_env(key, AWS_ENDPOINT_URL=""))
    assert r.returncode == 125 and "no iamroles endpoint" in r.stderr
    r = run([*IAMROLES, "exec", "--role", role, "--", "no-such-command-here"], world.launcher_env(key))
    assert r.returncode == 127 and "command not found" in r.stderr
    r = run([*IAMROLES, "exec", "--role", role, "--duration", "60", "--", "true"], world.launcher_env(key))
    assert r.returncode == 2


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 42), (signal.SIGINT, 43)])
def test_signals_reach_the_child(world: World, sig: signal.Signals, code: int) -> None:
    role, role_arn = world.role(ECS)
    key = world.user(launch(role_arn, ECS))
    child = ("import signal, sys, time\n"
             "signal.signal(signal.SIGTERM, lambda *a: sys.exit(42))\n"
             "signal.signal(signal.SIGINT, lambda *a: sys.exit(43))\n"
             "print('ready', flush=True)\n"
             "time.sleep(30)\n")
    proc = subprocess.Popen([*IAMROLES, "exec", "--role", role, "--", sys.executable, "-c", child],
                            env=world.launcher_env(key), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        proc.send_signal(sig)
        assert proc.wait(10) == code
    finally:
        finish(proc)


def test_refresh_across_an_expiry(own_world: World) -> None:
    """The child keeps one boto3 client; the server's clock passes its first credentials' expiry; its next call works."""
    w = own_world
    role, role_arn = w.role(ECS)
    key = w.user(launch(role_arn, ECS))
    proc = subprocess.Popen([*IAMROLES, "exec", "--role", role, "--duration", "900", "--session-name", "long",
                             "--", sys.executable, "-c", LOOP],
                            env=w.launcher_env(key), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write("go\n")
        proc.stdin.flush()
        first = json.loads(proc.stdout.readline())
        assert first["Arn"] == f"arn:aws:sts::{w.srv.account}:assumed-role/{role}/long"

        # 900 s after they were issued, by the server's clock (a jump under the 15-minute signature skew AWS allows)
        time.sleep(3)
        w.advance(898)
        with pytest.raises(ClientError) as exc:
            caller_identity(w, first)
        assert exc.value.response["Error"]["Code"] == "ExpiredToken"

        proc.stdin.write("go\n")  # the same client: botocore refreshes from the endpoint, which fetches anew
        proc.stdin.flush()
        second = json.loads(proc.stdout.readline())
        assert second["Arn"] == first["Arn"] and second["AccessKeyId"] != first["AccessKeyId"]
        proc.stdin.close()
        assert proc.wait(10) == 0
    finally:
        err = finish(proc)
    assert "Traceback" not in err, err
