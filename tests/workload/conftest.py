"""Workload credentials end to end: a real ``iamroles serve --test-mode`` and real ``iamroles`` and SDK processes.

The launcher (``iamroles exec`` / ``metadata`` / ``credential-process``) gets
an IAM user's keys in its environment; the child it runs, or points at an
endpoint, gets nothing of its own: no keys, no profile, no config files.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ..server.conftest import Server, start_server, stop_server, unique

ECS = "ecs-tasks.amazonaws.com"
EC2 = "ec2.amazonaws.com"
IAMROLES = [sys.executable, "-m", "iamroles"]
# the unmodified-SDK child: no credentials of its own, only what the default chain finds
WHOAMI = "import boto3; print(boto3.client('sts').get_caller_identity()['Arn'])"
# a child that stays up: each stdin line makes a call ("new": through a new boto3 session) and prints what it used
LOOP = r"""
import json, sys, boto3
session = boto3.session.Session()
for line in sys.stdin:
    if line.strip() == "new":
        session = boto3.session.Session()
    arn = session.client("sts").get_caller_identity()["Arn"]
    c = session.get_credentials().get_frozen_credentials()
    print(json.dumps({"Arn": arn, "AccessKeyId": c.access_key, "SecretAccessKey": c.secret_key, "SessionToken": c.token}), flush=True)
"""


def service_trust(service: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]})


def pass_role(resource: str, service: str | None) -> dict[str, Any]:
    """iam:PassRole alone (launches nothing by itself)."""
    st: dict[str, Any] = {"Effect": "Allow", "Action": "iam:PassRole", "Resource": resource}
    if service:
        st["Condition"] = {"StringEquals": {"iam:PassedToService": service}}
    return {"Version": "2012-10-17", "Statement": [st]}


def launch_only(resource: str, service: str | None) -> dict[str, Any]:
    """iamroles:LaunchWorkload alone (iamroles:ServicePrincipal narrows it as iam:PassedToService does PassRole)."""
    st: dict[str, Any] = {"Effect": "Allow", "Action": "iamroles:LaunchWorkload", "Resource": resource}
    if service:
        st["Condition"] = {"StringEquals": {"iamroles:ServicePrincipal": service}}
    return {"Version": "2012-10-17", "Statement": [st]}


def launch(resource: str, service: str | None) -> dict[str, Any]:
    """What launching a workload with a role needs: iamroles:LaunchWorkload and iam:PassRole, for ``service``."""
    return {"Version": "2012-10-17", "Statement": launch_only(resource, service)["Statement"] + pass_role(resource, service)["Statement"]}


@dataclass
class World:
    """A server and helpers to set up users, roles and environments on it."""

    srv: Server
    tmp: Path

    @property
    def iam(self) -> Any:
        return self.srv.client("iam")

    def user(self, policy: dict[str, Any] | None = None) -> dict[str, str]:
        name = unique("u")
        self.iam.create_user(UserName=name)
        if policy:
            self.iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
        key = self.iam.create_access_key(UserName=name)["AccessKey"]
        return {"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"], "UserName": name}

    def role(self, service: str, prefix: str = "task") -> tuple[str, str]:
        name = unique(prefix)
        return name, self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=service_trust(service))["Role"]["Arn"]

    def instance_profile(self, role: str) -> str:
        name = unique("ip")
        self.iam.create_instance_profile(InstanceProfileName=name)
        self.iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=role)
        return name

    def bare_env(self, **extra: str) -> dict[str, str]:
        """No AWS settings at all, and config files that do not exist."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and not k.startswith("IAMROLES_")}
        env["AWS_CONFIG_FILE"] = str(self.tmp / "no-config")
        env["AWS_SHARED_CREDENTIALS_FILE"] = str(self.tmp / "no-credentials")
        env.update(extra)
        return env

    def launcher_env(self, key: dict[str, str], **extra: str) -> dict[str, str]:
        """A person with their own keys and the iamroles endpoint in their environment."""
        return self.bare_env(**{"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
                                "AWS_ENDPOINT_URL": self.srv.url, **extra})

    def advance(self, seconds: float) -> None:
        r = httpx.post(self.srv.url + "/iamroles/test/clock", json={"advance": seconds})
        assert r.status_code == 200, r.text


def caller_identity(world: World, creds: dict[str, str]) -> Any:
    """sts:GetCallerIdentity signed with ``creds``."""
    sts: Any = world.srv.client("sts", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    return sts.get_caller_identity()


def run(args: list[str], env: dict[str, str], timeout: float = 30, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout, **kw)


def finish(proc: subprocess.Popen[str]) -> str:
    """Stop ``proc`` if it still runs; its stderr."""
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)
    err = proc.stderr.read() if proc.stderr else ""
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
    return err


def start(srv_tmp: Path) -> Server:
    return start_server(srv_tmp, None, "--test-mode")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One server for a module's tests (which must not move its clock)."""
    tmp = tmp_path_factory.mktemp("workload")
    srv = start(tmp)
    try:
        yield World(srv, tmp)
    finally:
        stop_server(srv)


@pytest.fixture
def own_world(tmp_path: Path) -> Iterator[World]:
    """A server of the test's own, whose clock it may move."""
    srv = start(tmp_path / "srv")
    try:
        yield World(srv, tmp_path)
    finally:
        stop_server(srv)
