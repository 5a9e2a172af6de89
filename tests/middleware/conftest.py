"""The object-store example behind the middleware, end to end: a real ``iamroles serve --test-mode`` and the
example app as real uvicorn processes, one deciding in process on the server's store, one through its
authorisation API; boto3 clients with role credentials (sts:AssumeRole, or ``iamroles exec``)."""
from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config

from ..server.conftest import Server, free_port, start_server, stop_server, unique

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "objectstore"
ECS = "ecs-tasks.amazonaws.com"
BUCKET = "demo"


def policy_file(name: str) -> str:
    return (EXAMPLE / name).read_text()


@dataclass
class ObjectStore:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path


def start_objectstore(tmp: Path, args: list[str], env: dict[str, str]) -> ObjectStore:
    port = free_port()
    log = tmp / f"objectstore-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, str(EXAMPLE / "app.py"), "--port", str(port), *args],
                                stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the object store exited: {log.read_text()}")
        try:
            if httpx.get(url + "/_health", timeout=1).status_code == 200:
                return ObjectStore(url, proc, log)
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"the object store did not start: {log.read_text()}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "IAMROLES_"))}
    env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    env.update(extra)
    return env


@dataclass
class World:
    srv: Server
    tmp: Path
    stores: dict[str, ObjectStore] = field(default_factory=dict)
    keys: dict[str, dict[str, str]] = field(default_factory=dict)  # user name -> access key
    roles: dict[str, str] = field(default_factory=dict)  # "reader"/"writer" -> role name

    @property
    def iam(self) -> Any:
        return self.srv.client("iam")

    def user(self, policy: dict[str, Any] | str | None, iam: Any = None) -> dict[str, str]:
        iam = iam or self.iam
        name = unique("u")
        arn = iam.create_user(UserName=name)["User"]["Arn"]
        if policy:
            iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy if isinstance(policy, str) else json.dumps(policy))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return {"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"], "UserName": name, "Arn": arn}

    def assume(self, role: str, session: str = "tests", **extra: Any) -> dict[str, str]:
        launcher = self.keys["launcher"]
        sts: Any = self.srv.client("sts", launcher["AccessKeyId"], launcher["SecretAccessKey"])
        out = sts.assume_role(RoleArn=f"arn:aws:iam::{self.srv.account}:role/{self.roles[role]}", RoleSessionName=session, **extra)
        creds = out["Credentials"]
        return {"AccessKeyId": creds["AccessKeyId"], "SecretAccessKey": creds["SecretAccessKey"], "SessionToken": creds["SessionToken"],
                "Arn": out["AssumedRoleUser"]["Arn"]}

    def s3(self, backend: str, creds: dict[str, str], **s3_config: Any) -> Any:
        return boto3.client("s3", endpoint_url=self.stores[backend].url, region_name="us-east-1",
                            aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                            aws_session_token=creds.get("SessionToken"),
                            config=Config(s3={"addressing_style": "path", **s3_config}, signature_version="s3v4",
                                          retries={"max_attempts": 1}))

    def other_account(self) -> tuple[str, Any]:
        """A second account on the server (``iamroles accounts create``) and an IAM client as its root."""
        out = subprocess.run([sys.executable, "-m", "iamroles", "accounts", "create", "--data-dir", str(self.srv.data_dir), "--json"],
                             capture_output=True, text=True, check=True, env=clean_env())
        other = json.loads(out.stdout)
        cp = configparser.ConfigParser()
        cp.read(self.srv.data_dir / "credentials")
        section = cp[other["profile"]]
        return other["account_id"], self.srv.client("iam", section["aws_access_key_id"], section["aws_secret_access_key"])


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("middleware")
    srv = start_server(tmp / "srv", None, "--test-mode")
    w = World(srv, tmp)
    started: list[subprocess.Popen[bytes]] = []
    try:
        account = srv.account
        # the two roles of the example: trusted to the ECS service principal (iamroles exec) and to this account
        trust = json.loads(policy_file("trust-ecs.json"))
        trust["Statement"].append({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"})
        for role, doc in (("reader", "read-only.json"), ("writer", "read-write.json")):
            name = unique(f"objects-{role}")
            w.iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
            w.iam.put_role_policy(RoleName=name, PolicyName=role, PolicyDocument=policy_file(doc))
            w.roles[role] = name
        # a person who may assume them and launch workloads with them on ECS (iamroles exec)
        w.keys["launcher"] = w.user({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["sts:AssumeRole", "iam:PassRole", "iamroles:LaunchWorkload"],
             "Resource": f"arn:aws:iam::{account}:role/objects-*"}]})
        # the object store's own identity, for the authorisation API
        w.keys["service"] = w.user(policy_file("authorizer.json"))
        service = w.keys["service"]
        local = start_objectstore(tmp, ["--data-dir", str(srv.data_dir)], clean_env())
        started.append(local.proc)
        remote = start_objectstore(tmp, ["--endpoint-url", srv.url], clean_env(
            AWS_ACCESS_KEY_ID=service["AccessKeyId"], AWS_SECRET_ACCESS_KEY=service["SecretAccessKey"], AWS_DEFAULT_REGION="us-east-1"))
        started.append(remote.proc)
        w.stores = {"local": local, "remote": remote}
        writer = w.assume("writer")
        for backend in w.stores:
            w.s3(backend, writer).create_bucket(Bucket=BUCKET)
        yield w
    finally:
        for proc in started:
            stop(proc)
        stop_server(srv)


@pytest.fixture(params=["local", "remote"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)
