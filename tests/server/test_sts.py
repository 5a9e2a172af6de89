"""STS over the wire: AssumeRole and friends, temporary credentials, sealed tokens.

AWS references:
https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html (DurationSeconds 900..MaxSessionDuration; response shape),
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html
(cross-account: trust policy and the caller's identity policy must both allow),
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_terms-and-concepts.html#iam-term-role-chaining (one hour cap),
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html (session tags become aws:PrincipalTag),
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_revoke-sessions.html (AWSRevokeOlderSessions),
https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies.html#policies_session (session policies intersect).
"""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import httpx
import pytest
from botocore.exceptions import ClientError

from .conftest import Server, start_server, stop_server, unique
from .test_roles import error

ANY_S3 = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["iam:ListRoles", "iam:GetRole"], "Resource": "*"}]}


def trust(*principals: str, condition: dict | None = None) -> str:
    st: dict = {"Effect": "Allow", "Principal": {"AWS": list(principals)}, "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"]}
    if condition:
        st["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [st]})


def make_user(iam, server: Server, policy: dict | None = None):  # type: ignore[no-untyped-def]
    name = unique("u")
    user = iam.create_user(UserName=name)["User"]
    if policy:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return user, key


def session_client(server: Server, service: str, creds: dict) -> object:
    return server.client(service, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])


def test_assume_role_same_account(iam, server: Server) -> None:
    user, key = make_user(iam, server)
    sts = server.client("sts", key["AccessKeyId"], key["SecretAccessKey"])
    role = unique("reader")
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust(user["Arn"]))["Role"]["Arn"]
    iam.put_role_policy(RoleName=role, PolicyName="read", PolicyDocument=json.dumps(ANY_S3))

    out = sts.assume_role(RoleArn=role_arn, RoleSessionName="s1")
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and len(creds["SecretAccessKey"]) == 40
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{server.account}:assumed-role/{role}/s1"
    assert out["AssumedRoleUser"]["AssumedRoleId"].startswith("AROA") and out["AssumedRoleUser"]["AssumedRoleId"].endswith(":s1")
    assert timedelta(minutes=59) < creds["Expiration"] - datetime.now(UTC) <= timedelta(hours=1)

    me = session_client(server, "sts", creds).get_caller_identity()
    assert me["Arn"] == out["AssumedRoleUser"]["Arn"] and me["UserId"] == out["AssumedRoleUser"]["AssumedRoleId"]
    as_role = session_client(server, "iam", creds)
    as_role.list_roles()  # allowed by the role's policy
    with pytest.raises(ClientError) as exc:
        as_role.create_user(UserName=unique("x"))
    code, status, message = error(exc)
    assert (code, status) == ("AccessDenied", 403)
    assert message.startswith(f"User: arn:aws:sts::{server.account}:assumed-role/{role}/s1 is not authorized to perform: iam:CreateUser")

    # a role's changed policies apply to its live sessions at once
    iam.delete_role_policy(RoleName=role, PolicyName="read")
    with pytest.raises(ClientError) as exc:
        as_role.list_roles()
    assert error(exc)[0] == "AccessDenied"


def test_assume_role_refused(iam, server: Server) -> None:
    user, key = make_user(iam, server)
    other, _ = make_user(iam, server)
    sts = server.client("sts", key["AccessKeyId"], key["SecretAccessKey"])
    role_arn = iam.create_role(RoleName=unique("r"), AssumeRolePolicyDocument=trust(other["Arn"]))["Role"]["Arn"]
    with pytest.raises(ClientError) as exc:
        sts.assume_role(RoleArn=role_arn, RoleSessionName="s-session")
    code, status, message = error(exc)
    assert (code, status) == ("AccessDenied", 403)
    assert f"is not authorized to perform: sts:AssumeRole on resource: {role_arn}" in message

    # trust naming the account delegates to identity policies: refused without one, allowed with one
    by_account = iam.create_role(RoleName=unique("r"), AssumeRolePolicyDocument=trust(f"arn:aws:iam::{server.account}:root"))["Role"]["Arn"]
    with pytest.raises(ClientError) as exc:
        sts.assume_role(RoleArn=by_account, RoleSessionName="s-session")
    # worded as every AssumeRole refusal, with no reason: the caller learns nothing of the trust policy (sts/sessions.py)
    assert error(exc)[:3] == ("AccessDenied", 403, f"User: {user['Arn']} is not authorized to perform: sts:AssumeRole on resource: {by_account}")
    iam.put_user_policy(UserName=user["UserName"], PolicyName="assume", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": by_account}]}))
    sts.assume_role(RoleArn=by_account, RoleSessionName="s-session")

    # a role that does not exist is refused the same way (no existence oracle)
    with pytest.raises(ClientError) as exc:
        sts.assume_role(RoleArn=f"arn:aws:iam::{server.account}:role/no-such-{unique('r')}", RoleSessionName="s-session")
    assert error(exc)[0] == "AccessDenied"
    # the root cannot assume roles
    with pytest.raises(ClientError) as exc:
        server.client("sts").assume_role(RoleArn=by_account, RoleSessionName="s-session")
    assert error(exc)[0] == "AccessDenied"


def test_duration_bounds_and_chaining(iam, server: Server) -> None:
    user, key = make_user(iam, server)
    sts = server.client("sts", key["AccessKeyId"], key["SecretAccessKey"])
    first = unique("first")
    first_arn = iam.create_role(RoleName=first, AssumeRolePolicyDocument=trust(user["Arn"]), MaxSessionDuration=7200)["Role"]["Arn"]
    second_arn = iam.create_role(RoleName=unique("second"), AssumeRolePolicyDocument=trust(first_arn), MaxSessionDuration=7200)["Role"]["Arn"]
    with pytest.raises(ClientError) as exc:
        server.client("sts", key["AccessKeyId"], key["SecretAccessKey"], validate=False).assume_role(
            RoleArn=first_arn, RoleSessionName="s-session", DurationSeconds=899)
    assert error(exc)[:2] == ("ValidationError", 400)
    with pytest.raises(ClientError) as exc:
        sts.assume_role(RoleArn=first_arn, RoleSessionName="s-session", DurationSeconds=7201)
    assert error(exc)[0] == "ValidationError" and "MaxSessionDuration" in error(exc)[2]
    creds = sts.assume_role(RoleArn=first_arn, RoleSessionName="s-session", DurationSeconds=7200, SourceIdentity="alice")["Credentials"]
    chained_sts = session_client(server, "sts", creds)
    iam.put_role_policy(RoleName=first, PolicyName="chain", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": second_arn}]}))
    with pytest.raises(ClientError) as exc:
        chained_sts.assume_role(RoleArn=second_arn, RoleSessionName="c-session", DurationSeconds=3601)
    assert error(exc)[0] == "ValidationError" and "1 hour" in error(exc)[2]
    out = chained_sts.assume_role(RoleArn=second_arn, RoleSessionName="c-session")
    assert out["SourceIdentity"] == "alice"  # kept through the chain
    with pytest.raises(ClientError) as exc:
        chained_sts.assume_role(RoleArn=second_arn, RoleSessionName="c-session", SourceIdentity="mallory")
    assert error(exc)[0] == "AccessDenied"


def test_session_policy_and_tags(iam, server: Server) -> None:
    user, key = make_user(iam, server)
    sts = server.client("sts", key["AccessKeyId"], key["SecretAccessKey"])
    role = unique("tagged")
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust(user["Arn"]))["Role"]["Arn"]
    iam.put_role_policy(RoleName=role, PolicyName="p", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:ListRoles", "Resource": "*"},
        {"Effect": "Allow", "Action": "iam:GetRole", "Resource": "*", "Condition": {"StringEquals": {"aws:PrincipalTag/team": "blue"}}},
    ]}))
    narrow = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:GetRole", "Resource": "*"}]})
    out = sts.assume_role(RoleArn=role_arn, RoleSessionName="s-session", Policy=narrow, Tags=[{"Key": "team", "Value": "blue"}])
    assert 0 < out["PackedPolicySize"] <= 100
    client = session_client(server, "iam", out["Credentials"])
    client.get_role(RoleName=role)  # role policy (tag condition) and session policy both allow
    with pytest.raises(ClientError) as exc:
        client.list_roles()  # the role allows it, the session policy does not
    assert "because no session policy allows the iam:ListRoles action" in error(exc)[2]
    red = session_client(server, "iam", sts.assume_role(RoleArn=role_arn, RoleSessionName="r-session", Tags=[{"Key": "team", "Value": "red"}])["Credentials"])
    with pytest.raises(ClientError) as exc:
        red.get_role(RoleName=role)
    assert error(exc)[0] == "AccessDenied"
    with pytest.raises(ClientError) as exc:
        sts.assume_role(RoleArn=role_arn, RoleSessionName="s-session", Policy='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"GetRole","Resource":"*"}]}')
    assert error(exc)[0] == "MalformedPolicyDocument"


def test_external_id(iam, server: Server) -> None:
    user, key = make_user(iam, server)
    sts = server.client("sts", key["AccessKeyId"], key["SecretAccessKey"])
    role_arn = iam.create_role(RoleName=unique("vendor"), AssumeRolePolicyDocument=trust(
        user["Arn"], condition={"StringEquals": {"sts:ExternalId": "tenant-42"}}))["Role"]["Arn"]
    for extra in ({}, {"ExternalId": "tenant-43"}):  # none, or a wrong one: the trust policy grants nothing
        with pytest.raises(ClientError) as exc:
            sts.assume_role(RoleArn=role_arn, RoleSessionName="s-session", **extra)
        assert error(exc)[:2] == ("AccessDenied", 403)
    sts.assume_role(RoleArn=role_arn, RoleSessionName="s-session", ExternalId="tenant-42")


def test_tampered_and_misused_tokens(iam, server: Server) -> None:
    user, key = make_user(iam, server)
    sts = server.client("sts", key["AccessKeyId"], key["SecretAccessKey"])
    role = unique("r")
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust(user["Arn"]))["Role"]["Arn"]
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="s-session")["Credentials"]
    token = creds["SessionToken"]
    flipped = token[:40] + ("A" if token[40] != "A" else "B") + token[41:]
    for bad in (flipped, token[:-4], token + "AAAA", "x" + token):
        c = server.client("sts", creds["AccessKeyId"], creds["SecretAccessKey"], bad)
        with pytest.raises(ClientError) as exc:
            c.get_caller_identity()
        assert error(exc)[:2] == ("InvalidClientTokenId", 403)
    # the temporary key without its token
    with pytest.raises(ClientError) as exc:
        server.client("sts", creds["AccessKeyId"], creds["SecretAccessKey"]).get_caller_identity()
    assert error(exc)[0] == "InvalidClientTokenId"
    # someone else's key id with this token
    other = sts.assume_role(RoleArn=role_arn, RoleSessionName="t-session")["Credentials"]
    with pytest.raises(ClientError) as exc:
        server.client("sts", other["AccessKeyId"], creds["SecretAccessKey"], token).get_caller_identity()
    assert error(exc)[0] == "InvalidClientTokenId"
    # a deleted role's sessions stop working
    session_client(server, "sts", creds).get_caller_identity()
    iam.delete_role(RoleName=role)
    with pytest.raises(ClientError) as exc:
        session_client(server, "sts", creds).get_caller_identity()
    assert error(exc)[0] == "InvalidClientTokenId"


def test_cross_account(server: Server) -> None:
    other_account, other_iam = _new_account(server)
    iam = server.client("iam")
    user, key = make_user(iam, server)
    sts = server.client("sts", key["AccessKeyId"], key["SecretAccessKey"])
    role = unique("xacct")
    role_arn = other_iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust(server.account))["Role"]["Arn"]
    # the trust policy allows the account, but the caller's own account must allow it too
    with pytest.raises(ClientError) as exc:
        sts.assume_role(RoleArn=role_arn, RoleSessionName="x-session")
    assert error(exc)[0] == "AccessDenied"
    iam.put_user_policy(UserName=user["UserName"], PolicyName="x", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}]}))
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="x-session")["Credentials"]
    assert session_client(server, "sts", creds).get_caller_identity()["Account"] == other_account


def test_get_session_token_and_federation(iam, server: Server) -> None:
    user, key = make_user(iam, server, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iam:ListRoles", "iam:ListUsers", "sts:GetFederationToken"], "Resource": "*"}]})
    sts = server.client("sts", key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError) as exc:
        server.client("sts", key["AccessKeyId"], key["SecretAccessKey"], validate=False).get_session_token(DurationSeconds=899)
    assert error(exc)[0] == "ValidationError"
    creds = sts.get_session_token(DurationSeconds=900)["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    assert session_client(server, "sts", creds).get_caller_identity()["Arn"] == user["Arn"]
    fed = sts.get_federation_token(Name="bob", Policy=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:ListRoles", "Resource": "*"}]}))
    assert fed["FederatedUser"]["Arn"] == f"arn:aws:sts::{server.account}:federated-user/bob"
    assert fed["FederatedUser"]["FederatedUserId"] == f"{server.account}:bob"
    me = session_client(server, "sts", fed["Credentials"]).get_caller_identity()
    assert me["Arn"] == fed["FederatedUser"]["Arn"] and me["Account"] == server.account
    # what these credentials may call is in test_session_limits.py (no IAM for federated users, nor for session
    # tokens without MFA); a federated session's policies are decided in test_integration_api.py
    assert sts.get_access_key_info(AccessKeyId=key["AccessKeyId"])["Account"] == server.account


def _new_account(server: Server) -> tuple[str, object]:
    """A second account (``iamroles accounts create``) and an IAM client as its root."""
    import configparser

    out = subprocess.run([sys.executable, "-m", "iamroles", "accounts", "create", "--data-dir", str(server.data_dir), "--json",
                          *(["--db", server.db_url] if server.db_url else [])], capture_output=True, text=True, check=True)
    info = json.loads(out.stdout)
    cfg = configparser.ConfigParser()
    cfg.read(info["credentials_file"])
    section = cfg[info["profile"]]
    return info["account_id"], server.client("iam", section["aws_access_key_id"], section["aws_secret_access_key"])


def test_get_access_key_info_answers_any_keys_account(iam, server: Server) -> None:
    """https://docs.aws.amazon.com/STS/latest/APIReference/API_GetAccessKeyInfo.html: the account of any access key
    id, long-term (AKIA) or temporary (ASIA), whoever asks and whatever the key's state; temporary ids are never
    stored, so ids carry their account as AWS's do (tests/tokens/test_secrets.py has the layout)."""
    from iamroles.tokens import account_of_access_key_id, new_access_key_id

    other_account, other_iam = _new_account(server)
    issued: dict[str, str] = {}  # key id -> its account
    for account, client in ((server.account, iam), (other_account, other_iam)):
        user, key = make_user(client, server, {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "sts:GetFederationToken", "Resource": "*"}]})
        issued[key["AccessKeyId"]] = account
        root_key = client.create_access_key()["AccessKey"]["AccessKeyId"]  # the account root's, deleted at once:
        client.delete_access_key(AccessKeyId=root_key)  # a deleted key still answers (its state is not said)
        issued[root_key] = account
        sts = server.client("sts", key["AccessKeyId"], key["SecretAccessKey"])
        role_arn = client.create_role(RoleName=unique("r"), AssumeRolePolicyDocument=trust(user["Arn"]))["Role"]["Arn"]
        issued[sts.assume_role(RoleArn=role_arn, RoleSessionName="s-session")["Credentials"]["AccessKeyId"]] = account
        issued[sts.get_session_token()["Credentials"]["AccessKeyId"]] = account
        issued[sts.get_federation_token(Name="bob")["Credentials"]["AccessKeyId"]] = account
    assert sum(k.startswith("ASIA") for k in issued) == 6 and sum(k.startswith("AKIA") for k in issued) == 4
    # every id issued encodes its account, and anyone (here a user of the first account with no policy) learns it
    _, asker = make_user(iam, server)
    asking = server.client("sts", asker["AccessKeyId"], asker["SecretAccessKey"])
    for key_id, account in issued.items():
        assert account_of_access_key_id(key_id) == account, key_id
        assert asking.get_access_key_info(AccessKeyId=key_id)["Account"] == account, key_id
    # an id never issued here answers the account it encodes, as on AWS for any well-formed id
    for account in ("123456789012", other_account):
        for prefix in ("AKIA", "ASIA"):
            assert asking.get_access_key_info(AccessKeyId=new_access_key_id(prefix, account))["Account"] == account
    # the bootstrap's root key (given on the command line, not of the encoding) is found in the table
    assert asking.get_access_key_info(AccessKeyId=server.access_key)["Account"] == server.account
    # an id that encodes no account, and is not ours: refused, 400
    for bad in ("AKIAIOSFODNN7EXAMPLE", "ASIA7777777777777777", "ABIAY34FZKBOKMUTVV7A"):
        with pytest.raises(ClientError) as exc:
            asking.get_access_key_info(AccessKeyId=bad)
        assert error(exc)[:2] == ("InvalidParameterValue", 400), bad
    # malformed by the model (pattern [\w]*, length 16..128): a validation error
    with pytest.raises(ClientError) as exc:
        server.client("sts", asker["AccessKeyId"], asker["SecretAccessKey"], validate=False).get_access_key_info(AccessKeyId="AKIA-not-an-id!!")
    assert error(exc)[:2] == ("ValidationError", 400)


def _shifted(seconds: float):  # type: ignore[no-untyped-def]
    import botocore.auth

    shifted = datetime.now(UTC) + timedelta(seconds=seconds)

    class Shifted(datetime):
        @classmethod
        def utcnow(cls):  # type: ignore[override]
            return (datetime.now(UTC) + timedelta(seconds=seconds)).replace(tzinfo=None)

        @classmethod
        def now(cls, tz=None):  # type: ignore[override]
            t = datetime.now(UTC) + timedelta(seconds=seconds)
            return t if tz else t.replace(tzinfo=None)

    _ = shifted
    return mock.patch.object(botocore.auth.datetime, "datetime", Shifted)


def test_expiry_rotation_and_revocation(tmp_path: Path) -> None:
    srv = start_server(tmp_path, None, "--test-mode")
    try:
        iam = srv.client("iam")
        user, key = make_user(iam, srv)
        sts = srv.client("sts", key["AccessKeyId"], key["SecretAccessKey"])
        role = unique("r")
        role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust(user["Arn"]))["Role"]["Arn"]
        iam.put_role_policy(RoleName=role, PolicyName="p", PolicyDocument=json.dumps(ANY_S3))
        short = sts.assume_role(RoleArn=role_arn, RoleSessionName="short", DurationSeconds=900)["Credentials"]

        # key rotation: old tokens keep working, new ones are sealed under the new key
        rotate = subprocess.run([sys.executable, "-m", "iamroles", "keys", "rotate", "--data-dir", str(srv.data_dir)],
                                capture_output=True, text=True, check=True)
        assert "new signing key" in rotate.stdout
        session_client(srv, "iam", short).list_roles()

        # revocation: sessions issued before now fail, new ones work
        old = sts.assume_role(RoleArn=role_arn, RoleSessionName="old")["Credentials"]
        import time

        time.sleep(1.1)  # aws:TokenIssueTime has one-second resolution
        subprocess.run([sys.executable, "-m", "iamroles", "roles", "revoke-sessions", role, "--data-dir", str(srv.data_dir)],
                       capture_output=True, text=True, check=True)
        time.sleep(1.0)  # another process's write reaches a running server within its --cache-ttl (1 s)
        with pytest.raises(ClientError) as exc:
            session_client(srv, "iam", old).list_roles()
        assert error(exc)[0] == "AccessDenied" and "explicit deny" in error(exc)[2]
        time.sleep(1.1)
        fresh = sts.assume_role(RoleArn=role_arn, RoleSessionName="new")["Credentials"]
        session_client(srv, "iam", fresh).list_roles()

        # expiry: move the server's clock (and the signer's) past 15 minutes
        r = httpx.post(srv.url + "/iamroles/test/clock", json={"advance": 901})
        assert r.status_code == 200
        with _shifted(901):
            with pytest.raises(ClientError) as exc:
                session_client(srv, "sts", short).get_caller_identity()
            assert error(exc)[:2] == ("ExpiredToken", 400)
            session_client(srv, "sts", fresh).get_caller_identity()  # an hour-long session is still fine
    finally:
        stop_server(srv)


def test_mfa_with_a_real_totp_code(iam, server: Server) -> None:
    """https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_mfa_configure-api-require.html"""
    import base64
    import time

    from iamroles.tokens.totp import code_at

    user, key = make_user(iam, server)
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName=unique("phone"))["VirtualMFADevice"]
    seed = base64.b32decode(device["Base32StringSeed"])
    step = int(time.time() // 30)
    with pytest.raises(ClientError) as exc:
        iam.enable_mfa_device(UserName=user["UserName"], SerialNumber=device["SerialNumber"],
                              AuthenticationCode1="000000", AuthenticationCode2="000001")
    assert error(exc)[0] == "InvalidAuthenticationCode"
    iam.enable_mfa_device(UserName=user["UserName"], SerialNumber=device["SerialNumber"],
                          AuthenticationCode1=code_at(seed, step - 1), AuthenticationCode2=code_at(seed, step))
    assert iam.list_mfa_devices(UserName=user["UserName"])["MFADevices"][0]["SerialNumber"] == device["SerialNumber"]

    role_arn = iam.create_role(RoleName=unique("mfa"), AssumeRolePolicyDocument=trust(
        user["Arn"], condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}}))["Role"]["Arn"]
    sts = server.client("sts", key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError) as exc:
        sts.assume_role(RoleArn=role_arn, RoleSessionName="s-session")
    assert error(exc)[0] == "AccessDenied"
    with pytest.raises(ClientError) as exc:
        sts.assume_role(RoleArn=role_arn, RoleSessionName="s-session", SerialNumber=device["SerialNumber"], TokenCode="123456")
    assert error(exc)[0] == "AccessDenied"
    code = code_at(seed, int(time.time() // 30) + 1)  # a code not used for enabling
    sts.assume_role(RoleArn=role_arn, RoleSessionName="s-session", SerialNumber=device["SerialNumber"], TokenCode=code)
    with pytest.raises(ClientError):  # a one-time code works once
        sts.assume_role(RoleArn=role_arn, RoleSessionName="s-session", SerialNumber=device["SerialNumber"], TokenCode=code)
    with pytest.raises(ClientError) as exc:
        iam.delete_virtual_mfa_device(SerialNumber=device["SerialNumber"])
    assert error(exc)[0] == "DeleteConflict"
    iam.deactivate_mfa_device(UserName=user["UserName"], SerialNumber=device["SerialNumber"])
    iam.delete_virtual_mfa_device(SerialNumber=device["SerialNumber"])
