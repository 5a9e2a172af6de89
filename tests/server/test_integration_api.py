"""iamroles' own JSON API on a real server: role credentials for services (PassRole) and the authorisation API.

AWS rules checked:
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html (passing a role to a service
needs iam:PassRole; iam:PassedToService narrows it, reference_policies_iam-condition-keys.html#ck_PassedToService),
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-services
(a role trusted to a service principal is assumed by that service only; PassRole alone launches nothing: the
launch, ecs:RunTask or ec2:RunInstances on AWS, is iamroles:LaunchWorkload here, with iamroles:ServicePrincipal),
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html
(across accounts, identity and resource policy must both allow).
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from .conftest import Server, unique
from .test_sts import make_user

ECS = "ecs-tasks.amazonaws.com"


def service_trust(service: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]})


def call_api(server: Server, name: str, body: dict[str, Any], key: str, secret: str, token: str | None = None,
             service: str = "iamroles") -> httpx.Response:
    raw = json.dumps(body)
    req = AWSRequest("POST", f"{server.url}/iamroles/v1/{name}", data=raw, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(key, secret, token), service, "us-east-1").add_auth(req)
    p = req.prepare()
    return httpx.post(p.url, content=raw, headers=dict(p.headers))


def pass_role_policy(role_arn: str, service: str) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:PassRole", "Resource": role_arn,
                                                   "Condition": {"StringEquals": {"iam:PassedToService": service}}}]}


def launch_statement(role_arn: str, service: str | None) -> dict[str, Any]:
    st: dict[str, Any] = {"Effect": "Allow", "Action": "iamroles:LaunchWorkload", "Resource": role_arn}
    if service:
        st["Condition"] = {"StringEquals": {"iamroles:ServicePrincipal": service}}
    return st


def launch_policy(role_arn: str, service: str) -> dict[str, Any]:
    """What launching a workload with the role needs: iamroles:LaunchWorkload and iam:PassRole, both for ``service``."""
    doc = pass_role_policy(role_arn, service)
    doc["Statement"].append(launch_statement(role_arn, service))
    return doc


def test_service_credentials_need_launch_and_pass_role_and_a_trusting_role(iam, server: Server) -> None:
    role = unique("task")
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=service_trust(ECS))["Role"]["Arn"]

    def refused(key: dict[str, str], message: str) -> None:
        r = call_api(server, "service-credentials", {"RoleArn": role_arn, "ServicePrincipal": ECS}, key["AccessKeyId"], key["SecretAccessKey"])
        assert r.status_code == 403, r.text
        assert r.json()["Error"]["Code"] == "AccessDenied" and r.json()["Error"]["Message"] == message
        assert "Credentials" not in r.json()  # nothing issued

    # with nothing: the launch is refused first (as ecs:RunTask is before PassRole), in AWS's words
    user, key = make_user(iam, server)
    refused(key, f"User: {user['Arn']} is not authorized to perform: iamroles:LaunchWorkload on resource: {role_arn} "
                 "because no identity-based policy allows the iamroles:LaunchWorkload action")
    # iam:PassRole alone launches nothing (on AWS it runs no task by itself)
    user, key = make_user(iam, server, pass_role_policy(role_arn, ECS))
    refused(key, f"User: {user['Arn']} is not authorized to perform: iamroles:LaunchWorkload on resource: {role_arn} "
                 "because no identity-based policy allows the iamroles:LaunchWorkload action")
    # the launch allowed for another service principal, or another role, does not launch this one
    for other_launch in (launch_statement(role_arn, "ec2.amazonaws.com"), launch_statement(role_arn + "-other", ECS)):
        doc = pass_role_policy(role_arn, ECS)
        doc["Statement"].append(other_launch)
        user, key = make_user(iam, server, doc)
        refused(key, f"User: {user['Arn']} is not authorized to perform: iamroles:LaunchWorkload on resource: {role_arn} "
                     "because no identity-based policy allows the iamroles:LaunchWorkload action")
    # the launch without iam:PassRole, or with PassRole for another service (iam:PassedToService): refused by PassRole
    user, key = make_user(iam, server, {"Version": "2012-10-17", "Statement": [launch_statement(role_arn, ECS)]})
    refused(key, f"User: {user['Arn']} is not authorized to perform: iam:PassRole on resource: {role_arn} "
                 "because no identity-based policy allows the iam:PassRole action")
    doc = pass_role_policy(role_arn, "ec2.amazonaws.com")
    doc["Statement"].append(launch_statement(role_arn, ECS))
    user, key = make_user(iam, server, doc)
    refused(key, f"User: {user['Arn']} is not authorized to perform: iam:PassRole on resource: {role_arn} "
                 "because no identity-based policy allows the iam:PassRole action")
    # an explicit deny of the launch wins over an allow
    doc = launch_policy(role_arn, ECS)
    doc["Statement"].append({"Effect": "Deny", "Action": "iamroles:LaunchWorkload", "Resource": "*",
                             "Condition": {"StringEquals": {"iamroles:ServicePrincipal": ECS}}})
    user, key = make_user(iam, server, doc)
    refused(key, f"User: {user['Arn']} is not authorized to perform: iamroles:LaunchWorkload on resource: {role_arn} "
                 "with an explicit deny in an identity-based policy")

    # allowed: credentials for the role's session, which work with boto3
    _, key = make_user(iam, server, launch_policy(role_arn, ECS))
    r = call_api(server, "service-credentials", {"RoleName": role, "ServicePrincipal": ECS, "RoleSessionName": "task-1", "DurationSeconds": 900},
                 key["AccessKeyId"], key["SecretAccessKey"])
    assert r.status_code == 200, r.text
    doc = r.json()
    creds = doc["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and doc["RoleArn"] == role_arn and doc["ServerTime"].endswith("Z")
    arn = f"arn:aws:sts::{server.account}:assumed-role/{role}/task-1"
    assert doc["AssumedRoleUser"]["Arn"] == arn
    sts = server.client("sts", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert sts.get_caller_identity()["Arn"] == arn

    # the same user passing it to a service the trust policy does not name: the trust policy refuses
    _, key2 = make_user(iam, server, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iam:PassRole", "iamroles:LaunchWorkload"], "Resource": "*"}]})
    r = call_api(server, "service-credentials", {"RoleArn": role_arn, "ServicePrincipal": "lambda.amazonaws.com"}, key2["AccessKeyId"], key2["SecretAccessKey"])
    assert r.status_code == 403 and "lambda.amazonaws.com is not authorized to perform: sts:AssumeRole" in r.json()["Error"]["Message"]


def test_service_credentials_for_an_instance_profile_and_bad_input(iam, server: Server) -> None:
    role = unique("ec2")
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=service_trust("ec2.amazonaws.com"))["Role"]["Arn"]
    profile = unique("ip")
    iam.create_instance_profile(InstanceProfileName=profile)
    iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=role)
    _, key = make_user(iam, server, launch_policy(role_arn, "ec2.amazonaws.com"))
    k, s = key["AccessKeyId"], key["SecretAccessKey"]
    r = call_api(server, "service-credentials", {"InstanceProfileName": profile, "ServicePrincipal": "ec2.amazonaws.com"}, k, s)
    assert r.status_code == 200, r.text
    assert r.json()["AssumedRoleUser"]["Arn"].startswith(f"arn:aws:sts::{server.account}:assumed-role/{role}/ec2-")

    cases = [
        ({"InstanceProfileName": "missing-profile", "ServicePrincipal": "ec2.amazonaws.com"}, 404, "NoSuchEntity"),
        ({"RoleName": "missing-role", "ServicePrincipal": "ec2.amazonaws.com"}, 404, "NoSuchEntity"),
        ({"RoleArn": role_arn, "RoleName": role, "ServicePrincipal": "ec2.amazonaws.com"}, 400, "ValidationError"),
        ({"RoleArn": role_arn, "ServicePrincipal": "not a service"}, 400, "ValidationError"),
        ({"RoleArn": role_arn, "ServicePrincipal": "ec2.amazonaws.com", "DurationSeconds": 60}, 400, "ValidationError"),
        ({"RoleArn": role_arn, "ServicePrincipal": "ec2.amazonaws.com", "RoleSessionName": "bad name!"}, 400, "ValidationError"),
    ]
    for body, status, code in cases:
        r = call_api(server, "service-credentials", body, k, s)
        assert (r.status_code, r.json()["Error"]["Code"]) == (status, code), (body, r.text)
    # signed for another service, or badly: AWS's authentication errors
    r = call_api(server, "service-credentials", {"RoleName": role, "ServicePrincipal": "ec2.amazonaws.com"}, k, s, service="iam")
    assert r.status_code == 403 and r.json()["Error"]["Code"] == "SignatureDoesNotMatch"
    r = call_api(server, "service-credentials", {"RoleName": role, "ServicePrincipal": "ec2.amazonaws.com"}, k, s[:-1] + ("y" if s.endswith("x") else "x"))
    assert r.status_code == 403 and r.json()["Error"]["Code"] == "SignatureDoesNotMatch"
    r = httpx.post(f"{server.url}/iamroles/v1/service-credentials", json={"RoleName": role})
    assert r.status_code == 403 and r.json()["Error"]["Code"] == "MissingAuthenticationToken"
    assert httpx.get(f"{server.url}/iamroles/v1/service-credentials").status_code == 405
    r = call_api(server, "no-such-call", {}, server.access_key, server.secret_key)
    assert r.status_code == 400 and r.json()["Error"]["Code"] == "InvalidAction"


def forwarded(url: str, creds: dict[str, str], method: str = "GET", path: str = "/bucket/key.txt", body: bytes = b"",
              service: str = "s3") -> dict[str, Any]:
    """A request a service received from a boto3-signed client, as the service forwards it."""
    req = AWSRequest(method, url + path, data=body, headers={"x-amz-content-sha256": hashlib.sha256(body).hexdigest()})
    SigV4Auth(Credentials(creds["AccessKeyId"], creds["SecretAccessKey"], creds.get("SessionToken")), service, "us-east-1").add_auth(req)
    p = req.prepare()
    host = url.split("//", 1)[1]
    headers = {k: v for k, v in p.headers.items()}
    headers["host"] = host
    return {"Method": method, "Path": path, "Query": "", "Headers": headers, "PayloadHash": hashlib.sha256(body).hexdigest()}


def test_authorization_api_decides_forwarded_requests(iam, server: Server) -> None:
    service_user, service_key = make_user(iam, server, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iamroles:AuthorizeRequest", "Resource": "*"}]})
    sk, ss = service_key["AccessKeyId"], service_key["SecretAccessKey"]
    reader, reader_key = make_user(iam, server, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/*"}]})
    iam.tag_user(UserName=reader["UserName"], Tags=[{"Key": "team", "Value": "blue"}])
    url = "http://objects.internal:9000"

    def ask(creds: dict[str, str], action: str, **extra: Any) -> dict[str, Any]:
        body = {"Request": forwarded(url, creds), "Action": action, "Resource": "arn:aws:s3:::bucket/key.txt", **extra}
        r = call_api(server, "authorize", body, sk, ss)
        assert r.status_code == 200, r.text
        return r.json()

    allowed = ask(reader_key, "s3:GetObject")
    assert allowed["Authenticated"] and allowed["Allowed"] and allowed["Decision"] == "Allow"
    assert allowed["Principal"]["Arn"] == reader["Arn"] and allowed["Principal"]["PrincipalTags"] == {"team": "blue"}
    denied = ask(reader_key, "s3:PutObject")
    assert denied["Authenticated"] and not denied["Allowed"] and denied["Decision"] == "ImplicitDeny"
    assert denied["Message"] == f"User: {reader['Arn']} is not authorized to perform: s3:PutObject on resource: arn:aws:s3:::bucket/key.txt because no identity-based policy allows the s3:PutObject action"

    # a resource policy supplied by the service grants what the identity policy does not (same account)
    bucket_policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": reader["Arn"]}, "Action": "s3:PutObject", "Resource": "arn:aws:s3:::bucket/*"}]})
    assert ask(reader_key, "s3:PutObject", ResourcePolicy=bucket_policy)["Allowed"]
    # service-specific condition keys from the service take part
    conditional = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "*", "Condition": {"StringEquals": {"s3:ExistingObjectTag/secret": "yes"}}}]})
    assert ask(reader_key, "s3:GetObject", ResourcePolicy=conditional, Context={"s3:ExistingObjectTag/secret": "no"})["Allowed"]
    verdict = ask(reader_key, "s3:GetObject", ResourcePolicy=conditional, Context={"s3:ExistingObjectTag/secret": "yes"})
    assert verdict["Decision"] == "ExplicitDeny" and verdict["DeniedBy"] == "resource"

    # a federated user session with no session policy has no permissions of its own, but a resource-based
    # policy naming the session allows it (reference_policies_evaluation-logic_policies.html#policy-eval-denyallow)
    iam.put_user_policy(UserName=reader["UserName"], PolicyName="federate", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:GetFederationToken", "Resource": "*"}]}))
    fed = server.client("sts", reader_key["AccessKeyId"], reader_key["SecretAccessKey"]).get_federation_token(Name="carol")
    fed_creds = fed["Credentials"]
    bare = ask(fed_creds, "s3:GetObject")
    assert not bare["Allowed"] and bare["DeniedBy"] == "session" and "no session policy allows" in bare["Message"]
    names_session = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": fed["FederatedUser"]["Arn"]}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/*"}]})
    assert ask(fed_creds, "s3:GetObject", ResourcePolicy=names_session)["Allowed"]
    # a session policy intersects with the user's own policies (the user may GetObject only): federation-token
    # credentials call no IAM operation (tests/server/test_session_limits.py), so this is where it shows
    fed_sts = server.client("sts", reader_key["AccessKeyId"], reader_key["SecretAccessKey"])
    wide = fed_sts.get_federation_token(Name="dave", Policy=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))["Credentials"]
    assert ask(wide, "s3:GetObject")["Allowed"]
    beyond = ask(wide, "s3:PutObject")  # the session policy allows it, the user's policies do not
    assert not beyond["Allowed"] and beyond["DeniedBy"] == "identity", beyond
    narrow = fed_sts.get_federation_token(Name="erin", Policy=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]}))["Credentials"]
    outside = ask(narrow, "s3:GetObject")  # the user may, the session policy does not
    assert not outside["Allowed"] and outside["DeniedBy"] == "session", outside

    # a tampered or replayed-with-changes request is not authentic
    tampered = forwarded(url, reader_key)
    tampered["Path"] = "/bucket/other.txt"
    r = call_api(server, "authorize", {"Request": tampered, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/other.txt"}, sk, ss)
    assert r.status_code == 200 and r.json()["Authenticated"] is False and r.json()["Error"]["Code"] == "SignatureDoesNotMatch"
    # another body than the signed x-amz-content-sha256 declares: S3's XAmzContentSHA256Mismatch (400), once the
    # signature holds (sig-v4-header-based-auth.html); the declared hash swapped too, the signature breaks
    changed_body = forwarded(url, reader_key)
    changed_body["PayloadHash"] = hashlib.sha256(b"other").hexdigest()
    r = call_api(server, "authorize", {"Request": changed_body, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/key.txt"}, sk, ss)
    assert r.json()["Authenticated"] is False and r.json()["Error"]["Code"] == "XAmzContentSHA256Mismatch"
    assert r.json()["Error"]["HttpStatus"] == 400
    declared = next(name for name in changed_body["Headers"] if name.lower() == "x-amz-content-sha256")
    changed_body["Headers"][declared] = changed_body["PayloadHash"]
    r = call_api(server, "authorize", {"Request": changed_body, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/key.txt"}, sk, ss)
    assert r.json()["Error"]["Code"] == "SignatureDoesNotMatch"

    # the API itself is authorised: a principal without iamroles:AuthorizeRequest is refused
    body = {"Request": forwarded(url, reader_key), "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/key.txt"}
    r = call_api(server, "authorize", body, reader_key["AccessKeyId"], reader_key["SecretAccessKey"])
    assert r.status_code == 403 and "iamroles:AuthorizeRequest" in r.json()["Error"]["Message"]
    r = call_api(server, "authorize", {"Request": {"Method": "GET"}, "Action": "s3:GetObject", "Resource": "*"}, sk, ss)
    assert r.status_code == 400 and r.json()["Error"]["Code"] == "ValidationError"


def test_authorization_api_across_accounts(iam, server: Server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "iamroles", "accounts", "create", "--data-dir", str(server.data_dir), "--json",
                          *(["--db", server.db_url] if server.db_url else [])], capture_output=True, text=True, check=True)
    other = json.loads(out.stdout)
    creds_file = server.data_dir / "credentials"
    import configparser

    cp = configparser.ConfigParser()
    cp.read(creds_file)
    section = cp[other["profile"]]
    other_iam = server.client("iam", section["aws_access_key_id"], section["aws_secret_access_key"])
    outsider, outsider_key = make_user(other_iam, server, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})
    _, service_key = make_user(iam, server, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iamroles:AuthorizeRequest", "Resource": "*"}]})
    url = "http://objects.internal:9000"
    body = {"Request": forwarded(url, outsider_key), "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/key.txt"}
    # the resource is in the service's account: an identity policy in another account is not enough
    r = call_api(server, "authorize", body, service_key["AccessKeyId"], service_key["SecretAccessKey"]).json()
    assert r["Authenticated"] and not r["Allowed"] and r["Principal"]["Account"] == other["account_id"]
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{other['account_id']}:root"}, "Action": "s3:GetObject", "Resource": "*"}]})
    body["Request"] = forwarded(url, outsider_key)
    r = call_api(server, "authorize", {**body, "ResourcePolicy": policy}, service_key["AccessKeyId"], service_key["SecretAccessKey"]).json()
    assert r["Allowed"], r


def test_denials_carry_a_message_only_an_allowed_caller_can_decode(iam, server: Server) -> None:
    """https://docs.aws.amazon.com/STS/latest/APIReference/API_DecodeAuthorizationMessage.html: the decoded message says
    whether an explicit deny or the absence of an allow denied the request, the principal, action, resource and the
    condition keys' values; decoding needs sts:DecodeAuthorizationMessage."""
    import pytest
    from botocore.exceptions import ClientError

    _, service_key = make_user(iam, server, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iamroles:AuthorizeRequest", "Resource": "*"}]})
    caller, caller_key = make_user(iam, server, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}]})
    body = {"Request": forwarded("http://objects.internal:9000", caller_key), "Action": "s3:DeleteObject",
            "Resource": "arn:aws:s3:::bucket/key.txt", "Context": {"s3:versionid": "v1"}}
    verdict = call_api(server, "authorize", body, service_key["AccessKeyId"], service_key["SecretAccessKey"]).json()
    assert verdict["Decision"] == "ExplicitDeny"
    encoded = verdict["EncodedAuthorizationMessage"]
    assert encoded and "s3:DeleteObject" not in encoded  # sealed, not merely encoded

    # the caller itself may not decode it
    sts = server.client("sts", caller_key["AccessKeyId"], caller_key["SecretAccessKey"])
    with pytest.raises(ClientError) as exc:
        sts.decode_authorization_message(EncodedMessage=encoded)
    assert exc.value.response["Error"]["Code"] == "AccessDenied"
    assert "sts:DecodeAuthorizationMessage" in exc.value.response["Error"]["Message"]

    _, admin_key = make_user(iam, server, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sts:DecodeAuthorizationMessage", "Resource": "*"}]})
    decoder = server.client("sts", admin_key["AccessKeyId"], admin_key["SecretAccessKey"])
    decoded = json.loads(decoder.decode_authorization_message(EncodedMessage=encoded)["DecodedMessage"])
    assert decoded["allowed"] is False and decoded["explicitDeny"] is True
    assert decoded["context"]["principal"]["arn"] == caller["Arn"]
    assert decoded["context"]["action"] == "s3:DeleteObject" and decoded["context"]["resource"] == "arn:aws:s3:::bucket/key.txt"
    values = {c["key"]: [v["value"] for v in c["values"]["items"]] for c in decoded["context"]["conditions"]["items"]}
    assert values["s3:versionid"] == ["v1"] and values["aws:username"] == [caller["UserName"]]
    assert decoded["matchedStatements"]["items"][0]["effect"] == "Deny"

    # a changed message is not one of ours
    for bad in (encoded[:-4] + ("AAAA" if not encoded.endswith("AAAA") else "BBBB"), "not-a-message"):
        with pytest.raises(ClientError) as exc:
            decoder.decode_authorization_message(EncodedMessage=bad)
        assert exc.value.response["Error"]["Code"] == "InvalidAuthorizationMessageException"
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_authorization_api_key_policy_must_grant(iam, server: Server) -> None:
    """ResourcePolicyMustGrant: the service's resource policy decides as a KMS key policy does. "Unless the key
    policy explicitly allows it, you cannot use IAM policies to allow access to a KMS key"
    (https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html)."""
    _, service_key = make_user(iam, server, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iamroles:AuthorizeRequest", "Resource": "*"}]})
    user, user_key = make_user(iam, server, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]})
    key_arn = f"arn:aws:kms:us-east-1:{server.account}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    url = "http://kms.internal:9000"

    def ask(policy_principal: str | None, **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"Request": forwarded(url, user_key, service="kms"), "Action": "kms:Decrypt", "Resource": key_arn, **extra}
        if policy_principal is not None:
            body["ResourcePolicy"] = json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": policy_principal}, "Action": "kms:*", "Resource": "*"}]})
        r = call_api(server, "authorize", body, service_key["AccessKeyId"], service_key["SecretAccessKey"])
        assert r.status_code == 200, r.text
        return r.json()

    other_user = f"arn:aws:iam::{server.account}:user/someone-else"
    assert ask(other_user)["Allowed"]  # an ordinary resource policy: the identity Allow suffices in the account
    strict = ask(other_user, ResourcePolicyMustGrant=True)
    assert (strict["Allowed"], strict["Decision"], strict["DeniedBy"]) == (False, "ImplicitDeny", "resource")
    assert strict["Message"].endswith("because no resource-based policy allows the kms:Decrypt action")
    assert not ask(None, ResourcePolicyMustGrant=True)["Allowed"]  # no key policy: nobody
    assert ask(f"arn:aws:iam::{server.account}:root", ResourcePolicyMustGrant=True)["Allowed"]  # enables IAM policies
    assert ask(user["Arn"], ResourcePolicyMustGrant=True)["Allowed"]
    r = call_api(server, "authorize", {"Request": forwarded(url, user_key, service="kms"), "Action": "kms:Decrypt",
                                       "Resource": key_arn, "ResourcePolicyMustGrant": "yes"},
                 service_key["AccessKeyId"], service_key["SecretAccessKey"])
    assert (r.status_code, r.json()["Error"]["Code"]) == (400, "ValidationError")
