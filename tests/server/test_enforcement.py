"""Authentication and authorisation of every call, as AWS does them.

AWS references: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
(explicit deny wins; boundaries intersect), https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html
(the AccessDenied message names the caller, action, resource and the policy type),
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-troubleshooting.html (signature errors),
https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html (no permission needed).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from unittest import mock

import httpx
import pytest
from botocore.exceptions import ClientError

from .conftest import Server, unique
from .test_roles import TRUST, error


def _user(iam, server: Server, policy: dict | None = None):  # type: ignore[no-untyped-def]
    name = unique("u")
    iam.create_user(UserName=name)
    if policy:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return name, server.client("iam", key["AccessKeyId"], key["SecretAccessKey"]), key


def test_unprivileged_user_refused_then_allowed(iam, server: Server) -> None:
    name, client, _ = _user(iam, server)
    role = unique("r")
    with pytest.raises(ClientError) as exc:
        client.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(TRUST))
    code, status, message = error(exc)
    assert (code, status) == ("AccessDenied", 403)
    assert message == (
        f"User: arn:aws:iam::{server.account}:user/{name} is not authorized to perform: iam:CreateRole "
        f"on resource: arn:aws:iam::{server.account}:role/{role} because no identity-based policy allows the iam:CreateRole action"
    )
    with pytest.raises(ClientError):
        iam.get_role(RoleName=role)  # nothing was created
    iam.put_user_policy(UserName=name, PolicyName="roles", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["iam:CreateRole", "iam:GetRole"], "Resource": "*"}]}))
    client.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(TRUST))
    assert client.get_role(RoleName=role)["Role"]["RoleName"] == role


def test_explicit_deny_and_conditions(iam, server: Server) -> None:
    name, client, _ = _user(iam, server, {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "iam:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "iam:DeleteRole", "Resource": "arn:aws:iam::*:role/protected/*"},
            {"Effect": "Deny", "Action": "iam:CreateRole", "Resource": "*",
             "Condition": {"StringNotEquals": {"aws:RequestTag/owner": "${aws:username}"}}},
        ],
    })
    role = unique("r")
    with pytest.raises(ClientError) as exc:
        client.create_role(RoleName=role, Path="/protected/", AssumeRolePolicyDocument=json.dumps(TRUST))
    assert error(exc)[0] == "AccessDenied" and "with an explicit deny in an identity-based policy" in error(exc)[2]
    client.create_role(RoleName=role, Path="/protected/", AssumeRolePolicyDocument=json.dumps(TRUST),
                       Tags=[{"Key": "owner", "Value": name}])
    with pytest.raises(ClientError) as exc:
        client.delete_role(RoleName=role)
    assert error(exc)[0] == "AccessDenied" and f"role/protected/{role}" in error(exc)[2]
    iam.delete_role(RoleName=role)  # the root is not bound by the user's policies


def test_permissions_boundary_limits_user(iam, server: Server) -> None:
    boundary = iam.create_policy(PolicyName=unique("b"), PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:List*", "Resource": "*"}]}))["Policy"]["Arn"]
    name, client, _ = _user(iam, server, {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]})
    client.list_roles()
    iam.put_user_permissions_boundary(UserName=name, PermissionsBoundary=boundary)
    client.list_roles()
    with pytest.raises(ClientError) as exc:
        client.create_role(RoleName=unique("r"), AssumeRolePolicyDocument=json.dumps(TRUST))
    assert "because no permissions boundary allows the iam:CreateRole action" in error(exc)[2]


def test_get_caller_identity_needs_no_permission(iam, server: Server) -> None:
    name, _, key = _user(iam, server)
    sts = server.client("sts", key["AccessKeyId"], key["SecretAccessKey"])
    me = sts.get_caller_identity()
    assert me["Arn"] == f"arn:aws:iam::{server.account}:user/{name}" and me["Account"] == server.account
    assert me["UserId"].startswith("AIDA")
    root = server.client("sts").get_caller_identity()
    assert root["Arn"] == f"arn:aws:iam::{server.account}:root"


def test_signature_failures(iam, server: Server) -> None:
    bad = server.client("iam", server.access_key, "x" * 40)
    with pytest.raises(ClientError) as exc:
        bad.list_roles()
    assert error(exc)[:2] == ("SignatureDoesNotMatch", 403)
    unknown = server.client("iam", "AKIAAAAAAAAAAAAAAAAA", "x" * 40)
    with pytest.raises(ClientError) as exc:
        unknown.list_roles()
    assert error(exc) == ("InvalidClientTokenId", 403, "The security token included in the request is invalid.")
    # no signature at all
    r = httpx.post(server.url, data={"Action": "ListRoles", "Version": "2010-05-08"})
    assert r.status_code == 403 and "<Code>MissingAuthenticationToken</Code>" in r.text and "<RequestId>" in r.text


def test_skewed_clock_refused(server: Server) -> None:
    """A request signed 20 minutes in the past is refused (5 minutes of skew are allowed)."""
    import botocore.auth

    client = server.client("iam")
    skewed = datetime.now(UTC) - timedelta(minutes=20)

    class Frozen(datetime):
        @classmethod
        def utcnow(cls):  # type: ignore[override]
            return skewed.replace(tzinfo=None)

        @classmethod
        def now(cls, tz=None):  # type: ignore[override]
            return skewed if tz else skewed.replace(tzinfo=None)

    with mock.patch.object(botocore.auth.datetime, "datetime", Frozen), pytest.raises(ClientError) as exc:
        client.list_roles()
    assert error(exc)[:2] == ("SignatureDoesNotMatch", 403)
    assert "Signature expired" in error(exc)[2]


def test_unknown_action(server: Server) -> None:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    req = AWSRequest("POST", server.url + "/", data="Action=MakeCoffee&Version=2010-05-08",
                     headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(Credentials(server.access_key, server.secret_key), "iam", "us-east-1").add_auth(req)
    r = httpx.post(server.url + "/", content=req.body, headers=dict(req.headers.items()))
    assert r.status_code == 400 and "<Code>InvalidAction</Code>" in r.text


def test_aws_cli(server: Server) -> None:
    """The AWS CLI works unchanged against the endpoint."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=server.access_key, AWS_SECRET_ACCESS_KEY=server.secret_key, AWS_DEFAULT_REGION="us-east-1")
    name = unique("cli")

    def aws(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "awscli", "--endpoint-url", server.url, "--output", "json", *args],
                              env=env, capture_output=True, text=True, timeout=120)

    created = aws("iam", "create-role", "--role-name", name, "--assume-role-policy-document", json.dumps(TRUST))
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["Role"]["RoleName"] == name
    got = aws("iam", "get-role", "--role-name", name)
    assert json.loads(got.stdout)["Role"]["AssumeRolePolicyDocument"] == TRUST
    missing = aws("iam", "get-role", "--role-name", name + "-missing")
    assert missing.returncode != 0 and "NoSuchEntity" in missing.stderr
    who = aws("sts", "get-caller-identity")
    assert json.loads(who.stdout)["Account"] == server.account


def test_presigned_query_string(server: Server) -> None:
    """SigV4 in the query string (X-Amz-Signature & co.), as presigned URLs carry it.

    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html#create-signature-presign
    """
    from botocore.auth import SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    def presign(secret: str, expires: int = 60) -> str:
        req = AWSRequest("GET", server.url + "/?Action=GetCallerIdentity&Version=2011-06-15")
        SigV4QueryAuth(Credentials(server.access_key, secret), "sts", "us-east-1", expires=expires).add_auth(req)
        return req.prepare().url

    ok = httpx.get(presign(server.secret_key))
    assert ok.status_code == 200 and f"arn:aws:iam::{server.account}:root" in ok.text
    bad = httpx.get(presign("y" * 40))
    assert bad.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in bad.text
    url = presign(server.secret_key)
    tampered = httpx.get(url.replace("GetCallerIdentity", "GetSessionToken"))
    assert tampered.status_code == 403
