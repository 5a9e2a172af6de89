"""Restricted temporary credentials stay restricted, whatever their policies allow (``sts.limits``).

AWS references, per kind of temporary credentials (IAM User Guide, "Compare AWS STS credentials":
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_sts-comparison.html, and
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_request.html):

* GetFederationToken: "You cannot call any IAM operations ... You cannot call any STS operations except
  GetCallerIdentity" (https://docs.aws.amazon.com/STS/latest/APIReference/API_GetFederationToken.html,
  https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_getfederationtoken.html);
* GetSessionToken: "You cannot call any IAM API operations unless MFA authentication information is included in the
  request. You cannot call any STS API except AssumeRole or GetCallerIdentity"
  (https://docs.aws.amazon.com/STS/latest/APIReference/API_GetSessionToken.html,
  https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_getsessiontoken.html);
* AssumeRole: "You cannot call the STS GetFederationToken or GetSessionToken API operations"
  (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html).

The errors are the ones AWS answers: IAM refuses such a token as InvalidClientTokenId "The security token included
in the request is invalid", HTTP 403 (99designs/aws-vault#15 and cloudyr/aws.iam#15 for GetSessionToken without MFA,
jantman/awslimitchecker#139 for GetFederationToken); STS answers AccessDenied "Cannot call GetSessionToken with
session credentials" (aws/aws-sdk-net#1704, aws/aws-sdk-js#3670) and "Cannot call GetFederationToken with session
credentials" (hashicorp/vault#4108, fwdcloudsec/granted#151).
"""
from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import Server, unique
from .test_integration_api import call_api, service_trust
from .test_roles import error
from .test_sts import make_user, session_client, trust

ECS = "ecs-tasks.amazonaws.com"
INVALID = ("InvalidClientTokenId", 403, "The security token included in the request is invalid")
EVERYTHING = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": [
    "iam:*", "sts:*", "iamroles:LaunchWorkload"], "Resource": "*"}]}


def refused(call: Callable[[], Any]) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as exc:
        call()
    return error(exc)


def sts_refusal(operation: str) -> tuple[str, int, str]:
    return "AccessDenied", 403, f"Cannot call {operation} with session credentials"


def no_such_user(server: Server, name: str) -> bool:
    with pytest.raises(ClientError) as exc:
        server.client("iam").get_user(UserName=name)
    return error(exc)[:2] == ("NoSuchEntity", 404)


def audit_events(server: Server, principal: str, done: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
    """The audit trail's events for ``principal`` once ``done`` holds of them (the trail is written every 0.5 s)."""
    deadline = time.monotonic() + 15
    while True:
        out = subprocess.run([sys.executable, "-m", "iamroles", "audit", "--data-dir", str(server.data_dir), "--json",
                              "--principal", principal, "--limit", "200", *(["--db", server.db_url] if server.db_url else [])],
                             capture_output=True, text=True, check=True)
        events = [json.loads(line) for line in out.stdout.splitlines()]
        if done(events) or time.monotonic() > deadline:
            return events
        time.sleep(0.5)


def refusal_recorded(events: list[dict[str, Any]], operation: str, code: str, key_id: str) -> bool:
    return any(e["eventName"] == operation and e["errorCode"] == code and e["userIdentity"]["accessKeyId"] == key_id
               for e in events)


def launch(server: Server, role_arn: str, creds: dict[str, str]) -> Any:
    return call_api(server, "service-credentials", {"RoleArn": role_arn, "ServicePrincipal": ECS},
                    creds["AccessKeyId"], creds["SecretAccessKey"], creds.get("SessionToken"))


def test_federation_token_credentials_call_no_iam_and_only_get_caller_identity(iam, server: Server) -> None:
    user, key = make_user(iam, server, EVERYTHING)
    sts = server.client("sts", key["AccessKeyId"], key["SecretAccessKey"])
    role_arn = iam.create_role(RoleName=unique("task"), AssumeRolePolicyDocument=service_trust(ECS))["Role"]["Arn"]
    # the session policy allows everything the user may: the limits are the credentials' kind, not a policy
    fed = sts.get_federation_token(Name="bob", Policy=json.dumps(EVERYTHING))["Credentials"]
    fed_iam, fed_sts = session_client(server, "iam", fed), session_client(server, "sts", fed)

    # no IAM operation, read or write; nothing is created
    name = unique("made-by-fed")
    assert refused(lambda: fed_iam.create_user(UserName=name)) == INVALID
    assert no_such_user(server, name)
    assert refused(lambda: fed_iam.list_roles()) == INVALID
    # no STS operation but GetCallerIdentity; no credentials issued
    other = iam.create_role(RoleName=unique("r"), AssumeRolePolicyDocument=trust(f"arn:aws:sts::{server.account}:federated-user/bob"))["Role"]["Arn"]
    assert refused(lambda: fed_sts.assume_role(RoleArn=other, RoleSessionName="s-session")) == sts_refusal("AssumeRole")
    assert refused(lambda: fed_sts.get_session_token()) == sts_refusal("GetSessionToken")
    assert refused(lambda: fed_sts.get_federation_token(Name="carol")) == sts_refusal("GetFederationToken")
    assert refused(lambda: fed_sts.get_access_key_info(AccessKeyId=key["AccessKeyId"])) == sts_refusal("GetAccessKeyInfo")
    assert fed_sts.get_caller_identity()["Arn"] == f"arn:aws:sts::{server.account}:federated-user/bob"
    # nor launch a workload with a role (PassRole is IAM's): refused, nothing issued
    r = launch(server, role_arn, fed)
    assert r.status_code == 403 and r.json()["Error"]["Code"] == "AccessDenied" and "Credentials" not in r.json()
    assert launch(server, role_arn, key).status_code == 200  # the user itself may

    # the refusals are audited with their codes
    events = audit_events(server, f"arn:aws:sts::{server.account}:federated-user/bob",
                          lambda ev: refusal_recorded(ev, "GetServiceCredentials", "AccessDenied", fed["AccessKeyId"]))
    assert refusal_recorded(events, "CreateUser", "InvalidClientTokenId", fed["AccessKeyId"])
    assert refusal_recorded(events, "AssumeRole", "AccessDenied", fed["AccessKeyId"])
    assert refusal_recorded(events, "GetServiceCredentials", "AccessDenied", fed["AccessKeyId"])
    assert fed["SecretAccessKey"] not in json.dumps(events) and fed["SessionToken"] not in json.dumps(events)


def test_session_token_credentials_without_mfa_call_no_iam(iam, server: Server) -> None:
    user, key = make_user(iam, server, EVERYTHING)
    sts = server.client("sts", key["AccessKeyId"], key["SecretAccessKey"])
    creds = sts.get_session_token()["Credentials"]
    s_iam, s_sts = session_client(server, "iam", creds), session_client(server, "sts", creds)

    name = unique("made-by-session")
    assert refused(lambda: s_iam.create_user(UserName=name)) == INVALID
    assert no_such_user(server, name)
    assert refused(lambda: s_iam.get_user()) == INVALID
    # STS: AssumeRole and GetCallerIdentity only
    role = unique("r")
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust(user["Arn"]))["Role"]["Arn"]
    assumed = s_sts.assume_role(RoleArn=role_arn, RoleSessionName="s-session")["AssumedRoleUser"]["Arn"]
    assert assumed == f"arn:aws:sts::{server.account}:assumed-role/{role}/s-session"
    assert s_sts.get_caller_identity()["Arn"] == user["Arn"]
    assert refused(lambda: s_sts.get_session_token()) == sts_refusal("GetSessionToken")
    assert refused(lambda: s_sts.get_federation_token(Name="bob")) == sts_refusal("GetFederationToken")
    assert refused(lambda: s_sts.get_access_key_info(AccessKeyId=key["AccessKeyId"])) == sts_refusal("GetAccessKeyInfo")
    # nor launch a workload
    task = iam.create_role(RoleName=unique("task"), AssumeRolePolicyDocument=service_trust(ECS))["Role"]["Arn"]
    r = launch(server, task, creds)
    assert r.status_code == 403 and r.json()["Error"]["Code"] == "AccessDenied" and "Credentials" not in r.json()

    events = audit_events(server, user["Arn"], lambda ev: refusal_recorded(ev, "GetServiceCredentials", "AccessDenied", creds["AccessKeyId"]))
    assert refusal_recorded(events, "CreateUser", "InvalidClientTokenId", creds["AccessKeyId"])
    assert refusal_recorded(events, "GetSessionToken", "AccessDenied", creds["AccessKeyId"])


def test_session_token_credentials_with_mfa_call_iam(iam, server: Server) -> None:
    """MFA given to GetSessionToken lifts the IAM limit (and the launch one); STS's limits stay."""
    from iamroles.tokens.totp import code_at

    user, key = make_user(iam, server, EVERYTHING)
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName=unique("phone"))["VirtualMFADevice"]
    seed = base64.b32decode(device["Base32StringSeed"])
    step = int(time.time() // 30)
    iam.enable_mfa_device(UserName=user["UserName"], SerialNumber=device["SerialNumber"],
                          AuthenticationCode1=code_at(seed, step - 1), AuthenticationCode2=code_at(seed, step))
    sts = server.client("sts", key["AccessKeyId"], key["SecretAccessKey"])
    creds = sts.get_session_token(SerialNumber=device["SerialNumber"], TokenCode=code_at(seed, int(time.time() // 30) + 1))["Credentials"]
    s_iam, s_sts = session_client(server, "iam", creds), session_client(server, "sts", creds)

    name = unique("made-with-mfa")
    s_iam.create_user(UserName=name)
    assert iam.get_user(UserName=name)["User"]["UserName"] == name
    assert refused(lambda: s_sts.get_federation_token(Name="bob")) == sts_refusal("GetFederationToken")
    task = iam.create_role(RoleName=unique("task"), AssumeRolePolicyDocument=service_trust(ECS))["Role"]["Arn"]
    r = launch(server, task, creds)
    assert r.status_code == 200, r.text


def test_assumed_role_credentials_cannot_get_session_or_federation_tokens(iam, server: Server) -> None:
    user, key = make_user(iam, server)
    sts = server.client("sts", key["AccessKeyId"], key["SecretAccessKey"])
    role = unique("admin")
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust(user["Arn"]))["Role"]["Arn"]
    iam.put_role_policy(RoleName=role, PolicyName="all", PolicyDocument=json.dumps(EVERYTHING))
    iam.update_assume_role_policy(RoleName=role, PolicyDocument=trust(user["Arn"], role_arn))  # for chaining
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="s-session")["Credentials"]
    r_sts = session_client(server, "sts", creds)

    assert refused(lambda: r_sts.get_session_token()) == sts_refusal("GetSessionToken")
    assert refused(lambda: r_sts.get_federation_token(Name="bob")) == sts_refusal("GetFederationToken")
    # everything else its policies allow: IAM, STS (role chaining), GetAccessKeyInfo
    session_client(server, "iam", creds).list_roles()
    assert r_sts.get_access_key_info(AccessKeyId=creds["AccessKeyId"])["Account"] == server.account
    chained = r_sts.assume_role(RoleArn=role_arn, RoleSessionName="again")["Credentials"]
    assert refused(lambda: session_client(server, "sts", chained).get_session_token()) == sts_refusal("GetSessionToken")

    arn = f"arn:aws:sts::{server.account}:assumed-role/{role}/s-session"
    events = audit_events(server, arn, lambda ev: refusal_recorded(ev, "GetFederationToken", "AccessDenied", creds["AccessKeyId"]))
    assert refusal_recorded(events, "GetSessionToken", "AccessDenied", creds["AccessKeyId"])
