"""``iamroles metadata``: an IMDSv2-compatible endpoint serving an instance profile's role to an unmodified SDK.

On AWS, launching an instance with a profile needs ec2:RunInstances (here
iamroles:LaunchWorkload) and iam:PassRole on its role for ec2.amazonaws.com, and
the role must trust ec2.amazonaws.com
(https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_switch-role-ec2.html);
SDKs find it through the instance metadata provider
(https://docs.aws.amazon.com/sdkref/latest/guide/feature-imds-credentials.html).
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from botocore.exceptions import ClientError

from .conftest import EC2, ECS, IAMROLES, LOOP, WHOAMI, World, caller_identity, finish, launch, launch_only, pass_role, run


@contextmanager
def metadata(world: World, key: dict[str, str], profile: str, *args: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    proc = subprocess.Popen([*IAMROLES, "metadata", "--instance-profile", profile, *args], env=world.launcher_env(key),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:"), (line, finish(proc))
        yield line.split("=", 1)[1], proc
    finally:
        finish(proc)


def sdk_env(world: World, url: str) -> dict[str, str]:
    return world.bare_env(AWS_EC2_METADATA_SERVICE_ENDPOINT=url, AWS_ENDPOINT_URL=world.srv.url, AWS_DEFAULT_REGION="us-east-1")


def test_boto3_finds_the_instance_profiles_role(world: World) -> None:
    role, role_arn = world.role(EC2, "web")
    profile = world.instance_profile(role)
    key = world.user(launch(role_arn, EC2))
    with metadata(world, key, profile, "--session-name", "i-0123456789") as (url, proc):
        r = run([sys.executable, "-c", WHOAMI], sdk_env(world, url))
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == f"arn:aws:sts::{world.srv.account}:assumed-role/{role}/i-0123456789"

        # the IMDSv2 exchange, by hand
        token = httpx.put(url + "latest/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": "300"}).text
        listing = httpx.get(url + "latest/meta-data/iam/security-credentials/", headers={"X-aws-ec2-metadata-token": token})
        assert listing.text == role
        doc = httpx.get(url + f"latest/meta-data/iam/security-credentials/{role}", headers={"X-aws-ec2-metadata-token": token}).json()
        assert doc["Code"] == "Success" and doc["Type"] == "AWS-HMAC" and doc["AccessKeyId"].startswith("ASIA")
        assert httpx.get(url + "latest/meta-data/iam/security-credentials/").status_code == 401

        proc.terminate()  # stops cleanly on SIGTERM
        assert proc.wait(10) == 0
    with pytest.raises(httpx.ConnectError):
        httpx.put(url + "latest/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": "300"})


def test_launch_pass_role_and_trust_for_ec2(world: World) -> None:
    role, role_arn = world.role(EC2, "web")
    profile = world.instance_profile(role)
    refusals = ((world.user(), "iamroles:LaunchWorkload"), (world.user(launch(role_arn, ECS)), "iamroles:LaunchWorkload"),
                (world.user(pass_role(role_arn, EC2)), "iamroles:LaunchWorkload"),
                (world.user(launch_only(role_arn, EC2)), "iam:PassRole"))
    for key, action in refusals:
        r = run([*IAMROLES, "metadata", "--instance-profile", profile], world.launcher_env(key), timeout=20)
        assert r.returncode == 1 and r.stdout == ""
        assert "AccessDenied" in r.stderr and f"is not authorized to perform: {action} on resource: {role_arn}" in r.stderr
    task, _ = world.role(ECS, "task")  # trusts ECS, not EC2
    r = run([*IAMROLES, "metadata", "--instance-profile", world.instance_profile(task)], world.launcher_env(world.user(launch("*", EC2))))
    assert r.returncode == 1 and f"{EC2} is not authorized to perform: sts:AssumeRole" in r.stderr
    r = run([*IAMROLES, "metadata", "--instance-profile", "no-such-profile"], world.launcher_env(world.user(launch("*", EC2))))
    assert r.returncode == 1 and "NoSuchEntity" in r.stderr


def test_refresh_across_an_expiry(own_world: World) -> None:
    """The server's clock passes the first credentials' expiry; the still-running child's next session gets new ones.

    (botocore's instance-metadata provider pushes a near Expiration 17-25 minutes out, for IMDS outages, so
    with fifteen-minute credentials its next request comes from a new session, not from its own refresh.)
    """
    w = own_world
    role, role_arn = w.role(EC2, "web")
    profile = w.instance_profile(role)
    key = w.user(launch(role_arn, EC2))
    with metadata(w, key, profile, "--duration", "900") as (url, _):
        child = subprocess.Popen([sys.executable, "-c", LOOP], env=sdk_env(w, url), stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert child.stdin is not None and child.stdout is not None
        try:
            child.stdin.write("new\n")
            child.stdin.flush()
            first = json.loads(child.stdout.readline())
            assert first["Arn"].startswith(f"arn:aws:sts::{w.srv.account}:assumed-role/{role}/")

            time.sleep(3)
            w.advance(898)  # now past the first credentials' 900 s, by the server's clock
            with pytest.raises(ClientError) as exc:
                caller_identity(w, first)
            assert exc.value.response["Error"]["Code"] == "ExpiredToken"

            child.stdin.write("new\n")
            child.stdin.flush()
            second = json.loads(child.stdout.readline())
            assert second["Arn"] == first["Arn"] and second["AccessKeyId"] != first["AccessKeyId"]
            child.stdin.close()
            assert child.wait(10) == 0
        finally:
            err = finish(child)
        assert "Traceback" not in err, err
