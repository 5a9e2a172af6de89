#!/usr/bin/env python3
"""The README's worked example of ``iamroles analyze``, made for real: a server started in a scratch directory, an
account built through its IAM API with boto3, the analyses run by the ``iamroles`` command, their output printed
as the README shows it, and the pictures written to ``docs/`` (``analyze-trust.svg``, ``analyze-escalation.svg``).

Usage: ``python scripts/analyze_example.py [--write]`` (without ``--write``, the pictures go to the scratch
directory). Needs boto3 (the test extra).
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import httpx

ROOT = Path(__file__).resolve().parents[1]
ACCOUNT = "111122223333"
PARTNER = "444455556666"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
KEY, SECRET = "AKIAEXAMPLEROOTKEY01", "example-root-secret-for-the-readme-only"


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str | list[str], resource: str = "*") -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def trust(principal: dict[str, Any], **extra: Any) -> str:
    return doc({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole", **extra})


def arn(what: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:{what}"


def build(iam: Any) -> None:
    """The example account: an administrator, a developer three hops from becoming one, a key maker one hop away,
    a partner's roles (one guarded by an external id, one leading to another role), a CI provider, an auditor
    whose boundary stops it, and a reader whose s3 and most of whose IAM permissions go unused."""
    iam.create_user(UserName="admin")
    iam.attach_user_policy(UserName="admin", PolicyArn=ADMIN)
    iam.create_role(RoleName="admin-role", AssumeRolePolicyDocument=trust({"AWS": arn("root")}))
    iam.attach_role_policy(RoleName="admin-role", PolicyArn=ADMIN)
    # dev -> build (assume) -> ops-lambda (passed to Lambda) -> ops (a key made for it) -> AdministratorAccess
    iam.create_user(UserName="dev")
    iam.put_user_policy(UserName="dev", PolicyName="p", PolicyDocument=doc(allow("sts:AssumeRole", arn("role/build"))))
    iam.create_role(RoleName="build", AssumeRolePolicyDocument=trust({"AWS": arn("root")}))
    iam.put_role_policy(RoleName="build", PolicyName="p", PolicyDocument=doc(
        allow("iam:PassRole", arn("role/ops-lambda")), allow(["lambda:CreateFunction", "lambda:InvokeFunction"])))
    iam.create_role(RoleName="ops-lambda", AssumeRolePolicyDocument=trust({"Service": "lambda.amazonaws.com"}))
    iam.put_role_policy(RoleName="ops-lambda", PolicyName="p", PolicyDocument=doc(allow("iam:CreateAccessKey", arn("user/ops"))))
    iam.create_user(UserName="ops")
    iam.put_user_policy(UserName="ops", PolicyName="p", PolicyDocument=doc(allow("iam:AttachUserPolicy", arn("user/ops"))))
    # one hop: access keys for anyone
    iam.create_user(UserName="key-maker")
    iam.put_user_policy(UserName="key-maker", PolicyName="p", PolicyDocument=doc(allow("iam:CreateAccessKey", arn("user/*"))))
    # stopped by its permissions boundary: it may write itself any policy, the boundary keeps it to reading
    boundary = iam.create_policy(PolicyName="read-only-boundary", PolicyDocument=doc(allow(["s3:Get*", "s3:List*", "iam:PutUserPolicy"])))
    iam.create_user(UserName="auditor", PermissionsBoundary=boundary["Policy"]["Arn"])
    iam.put_user_policy(UserName="auditor", PolicyName="p", PolicyDocument=doc(allow("iam:PutUserPolicy", arn("user/auditor"))))
    # outsiders: a partner with and without an external id, and a role it reaches through another
    iam.create_role(RoleName="partner", AssumeRolePolicyDocument=trust({"AWS": f"arn:aws:iam::{PARTNER}:root"}))
    iam.create_role(RoleName="partner-safe", AssumeRolePolicyDocument=trust(
        {"AWS": f"arn:aws:iam::{PARTNER}:root"}, Condition={"StringEquals": {"sts:ExternalId": "x-123"}}))
    iam.put_role_policy(RoleName="partner", PolicyName="p", PolicyDocument=doc(allow("sts:AssumeRole", arn("role/reports"))))
    iam.create_role(RoleName="reports", AssumeRolePolicyDocument=trust({"AWS": arn("role/partner")}))
    provider = iam.create_open_id_connect_provider(Url="https://token.actions.example.com", ClientIDList=["sts.amazonaws.com"],
                                                   ThumbprintList=["a" * 40])["OpenIDConnectProviderArn"]
    iam.create_role(RoleName="ci", AssumeRolePolicyDocument=doc({
        "Effect": "Allow", "Principal": {"Federated": provider}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {"token.actions.example.com:aud": "sts.amazonaws.com"}}}))
    # a reader that uses little of what it may
    iam.create_user(UserName="reader")
    iam.put_user_policy(UserName="reader", PolicyName="p", PolicyDocument=doc(allow(["iam:GetUser", "iam:ListRoles", "s3:GetObject"])))


def serve(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    proc = subprocess.Popen([sys.executable, "-m", "iamroles", "serve", "--port", str(port), "--data-dir", str(tmp), "--account-id", ACCOUNT,
                             "--root-access-key", KEY, "--root-secret-key", SECRET], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                            env=env)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(url + "/iamroles/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("iamroles serve did not start")


def analyze(tmp: Path, *args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "iamroles", "analyze", *args, "--data-dir", str(tmp)], capture_output=True, text=True)
    if out.returncode not in (0, 5):
        raise SystemExit(out.stderr)
    return out.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="Write the pictures to docs/.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        proc, url = serve(tmp)
        try:
            iam: Any = boto3.client("iam", endpoint_url=url, region_name="us-east-1", aws_access_key_id=KEY, aws_secret_access_key=SECRET)
            build(iam)
            key = iam.create_access_key(UserName="reader")["AccessKey"]
            reader: Any = boto3.client("iam", endpoint_url=url, region_name="us-east-1", aws_access_key_id=key["AccessKeyId"],
                                       aws_secret_access_key=key["SecretAccessKey"])
            time.sleep(1.1)
            start = datetime.now(UTC)  # the period of the unused-access run starts after the account was built
            time.sleep(1.1)
            reader.get_user()
            time.sleep(1.5)  # the trail takes read-only calls within half a second
            docs = ROOT / "docs" if args.write else Path(os.environ.get("IAMROLES_EXAMPLE_DIR", tmp))
            tomorrow = (start + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
            runs = [
                ("escalation", "--svg", str(docs / "analyze-escalation.svg")),
                ("escalation", "--to", "s3:GetObject:arn:aws:s3:::reports/q1.csv"),
                ("external-access", "--zone", ACCOUNT),
                ("trust-graph", "--svg", str(docs / "analyze-trust.svg")),
                ("unused", "--days", "1", "--as-of", tomorrow),
            ]
            for run in runs:
                shown = [a for a in run if not a.startswith(str(docs))]
                if "--svg" in shown:
                    shown[shown.index("--svg") + 1:shown.index("--svg") + 1] = [f"docs/{Path(run[run.index('--svg') + 1]).name}"]
                print(f"$ iamroles analyze {' '.join(shown)}")
                print(analyze(tmp, *run), end="")
        finally:
            proc.terminate()
            proc.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
