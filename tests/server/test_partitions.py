"""One partition per account, real regions only, and an authorisation API that answers only about its caller's account.

AWS rules checked:

* "Partitions have independent instances of AWS Identity and Access Management (IAM) ... You cannot use IAM
  credentials from one partition to interact with resources in a different partition"
  (https://docs.aws.amazon.com/whitepapers/latest/aws-fault-isolation-boundaries/partitions.html); "a credential
  issued in one partition isn't valid in another. As a result, direct role assumption with the AssumeRole API doesn't
  work across partition boundaries"
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_outbound_cross_partition.html).
* What AWS answers a key of another partition: it does not exist there, so HTTP 403 InvalidClientTokenId, "The
  security token included in the request is invalid" (commercial keys used with China regions:
  https://github.com/rebuy-de/aws-nuke/issues/411 (GetCallerIdentity),
  https://github.com/prometheus-community/yet-another-cloudwatch-exporter/issues/501 (STS's 403 XML envelope),
  https://github.com/apex/up/pull/490 (IAM GetRole)).
* A credential scope naming a region that does not exist: HTTP 403 SignatureDoesNotMatch, "Credential should be scoped
  to a valid region, not 'REGION'." (https://docs.aws.amazon.com/IAM/latest/UserGuide/signature-v4-troubleshooting.html,
  "Credential scope errors"; IAM's own wording in https://github.com/aws/aws-sdk-php/issues/493, and for botocore's
  aws-global pseudo-region in https://github.com/aws/aws-sdk-java-v2/issues/988).
"""
from __future__ import annotations

import configparser
import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from iamroles.auth.sigv4 import HttpRequest
from iamroles.middleware import Check, LocalAuthorizer

from .conftest import Server, start_server, stop_server, unique
from .test_sts import make_user

INVALID_TOKEN = "The security token included in the request is invalid."
AUTHORIZER = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iamroles:AuthorizeRequest", "Resource": "*"}]}
READ_ANY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}


@dataclass
class Account:
    account_id: str
    partition: str
    key: str
    secret: str


def create_account(server: Server, partition: str | None = None) -> Account:
    """``iamroles accounts create [--partition P]`` on the server's store; its root key from the credentials file."""
    cmd = [sys.executable, "-m", "iamroles", "accounts", "create", "--data-dir", str(server.data_dir), "--json"]
    cmd += ["--db", server.db_url] if server.db_url else []
    cmd += ["--partition", partition] if partition else []
    info = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    cfg = configparser.ConfigParser()
    cfg.read(info["credentials_file"])
    section = cfg[info["profile"]]
    return Account(info["account_id"], info["partition"], section["aws_access_key_id"], section["aws_secret_access_key"])


@pytest.fixture(scope="module")
def china(server: Server) -> Account:
    account = create_account(server, "aws-cn")
    assert account.partition == "aws-cn"
    return account


@pytest.fixture(scope="module")
def other(server: Server) -> Account:
    return create_account(server)


def refused(call: Any, code: str = "InvalidClientTokenId", status: int = 403) -> str:
    with pytest.raises(ClientError) as exc:
        call()
    err = exc.value.response
    assert (err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]) == (code, status), err
    return str(err["Error"]["Message"])


def api(server: Server, name: str, body: dict[str, Any], creds: tuple[str, str] | tuple[str, str, str | None],
        region: str = "us-east-1") -> httpx.Response:
    raw = json.dumps(body)
    req = AWSRequest("POST", f"{server.url}/iamroles/v1/{name}", data=raw, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(*creds), "iamroles", region).add_auth(req)
    p = req.prepare()
    return httpx.post(p.url, content=raw, headers=dict(p.headers))


def forwarded(creds: dict[str, str], region: str = "us-east-1", path: str = "/bucket/key.txt") -> dict[str, Any]:
    """A request an S3-like service received from a boto3-signed client, as it forwards it to the API."""
    url = "http://objects.internal:9000"
    req = AWSRequest("GET", url + path, data=b"", headers={"x-amz-content-sha256": hashlib.sha256(b"").hexdigest()})
    SigV4Auth(Credentials(creds["AccessKeyId"], creds["SecretAccessKey"], creds.get("SessionToken")), "s3", region).add_auth(req)
    headers = dict(req.prepare().headers.items())
    headers["host"] = "objects.internal:9000"
    return {"Method": "GET", "Path": path, "Query": "", "Headers": headers, "PayloadHash": hashlib.sha256(b"").hexdigest()}


def keys(key: dict[str, str]) -> tuple[str, str]:
    return key["AccessKeyId"], key["SecretAccessKey"]


# --- one partition per account -------------------------------------------------------------------------------------


@pytest.mark.parametrize("region", ["cn-north-1", "us-gov-west-1"])
def test_a_deny_is_not_bypassed_through_another_partition(iam, server: Server, region: str) -> None:
    """The bypass of issue 10: a Deny on arn:aws:iam::ACCT:user/admin-* was dodged by signing for a region of another
    partition, which made the new user's ARN arn:aws-cn:... . A key of the aws partition does not exist there."""
    user, key = make_user(iam, server, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "iam:CreateUser", "Resource": f"arn:aws:iam::{server.account}:user/admin-*"}]})
    name = unique("admin")
    home = server.client("iam", *keys(key))
    assert "explicit deny" in refused(lambda: home.create_user(UserName=name), "AccessDenied")
    away = server.client("iam", *keys(key), region=region)
    assert refused(lambda: away.create_user(UserName=name)) == INVALID_TOKEN
    refused(lambda: iam.get_user(UserName=name), "NoSuchEntity", 404)  # nothing created, in any partition
    assert name not in {u["UserName"] for u in iam.list_users()["Users"]}
    # the account root too: its key is of the aws partition only
    root_away = server.client("sts", region=region)
    assert refused(lambda: root_away.get_caller_identity()) == INVALID_TOKEN
    assert server.client("sts").get_caller_identity()["Arn"] == f"arn:aws:iam::{server.account}:root"
    # and the user's ARNs stay the account's partition's
    assert server.client("sts", *keys(key), region="eu-west-1").get_caller_identity()["Arn"] == user["Arn"]


def test_an_account_of_another_partition(server: Server, china: Account) -> None:
    """`iamroles accounts create --partition aws-cn`: its ARNs are aws-cn's, its keys work for China's regions only."""
    sts = server.client("sts", china.key, china.secret, region="cn-north-1")
    assert sts.get_caller_identity()["Arn"] == f"arn:aws-cn:iam::{china.account_id}:root"
    cn_iam = server.client("iam", china.key, china.secret, region="cn-northwest-1")
    role = unique("cn")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws-cn:iam::{china.account_id}:root"}, "Action": "sts:AssumeRole"}]})
    assert cn_iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)["Role"]["Arn"] == f"arn:aws-cn:iam::{china.account_id}:role/{role}"
    user = cn_iam.create_user(UserName=unique("cn-user"))["User"]
    assert user["Arn"].startswith(f"arn:aws-cn:iam::{china.account_id}:user/")

    for region in ("us-east-1", "us-gov-west-1", "eu-west-1"):
        away = server.client("iam", china.key, china.secret, region=region)
        assert refused(lambda: away.get_role(RoleName=role)) == INVALID_TOKEN
        name = unique("not-created")
        refused(lambda: away.create_role(RoleName=name, AssumeRolePolicyDocument=trust))
        refused(lambda: cn_iam.get_role(RoleName=name), "NoSuchEntity", 404)


def test_temporary_credentials_stay_in_their_partition(iam, server: Server, china: Account) -> None:
    # aws: a session token and a role session, used with a China or GovCloud region
    _, key = make_user(iam, server, {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:*", "Resource": "*"}]})
    session = server.client("sts", *keys(key)).get_session_token()["Credentials"]
    creds = (session["AccessKeyId"], session["SecretAccessKey"], session["SessionToken"])
    for region in ("cn-north-1", "us-gov-east-1"):
        assert refused(server.client("sts", *creds, region=region).get_caller_identity) == INVALID_TOKEN
    assert server.client("sts", *creds).get_caller_identity()["Account"] == server.account

    # aws-cn: a role session issued in cn-north-1 is aws-cn's, and refused with us-east-1
    cn_iam = server.client("iam", china.key, china.secret, region="cn-north-1")
    cn_user = cn_iam.create_user(UserName=unique("cn-u"))["User"]
    cn_key = cn_iam.create_access_key(UserName=cn_user["UserName"])["AccessKey"]
    role = unique("cn-role")
    cn_iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": cn_user["Arn"]}, "Action": "sts:AssumeRole"}]}))
    out = server.client("sts", *keys(cn_key), region="cn-north-1").assume_role(
        RoleArn=f"arn:aws-cn:iam::{china.account_id}:role/{role}", RoleSessionName="cn-session")
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws-cn:sts::{china.account_id}:assumed-role/{role}/cn-session"
    c = out["Credentials"]
    temp = (c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    assert server.client("sts", *temp, region="cn-northwest-1").get_caller_identity()["Arn"] == out["AssumedRoleUser"]["Arn"]
    for region in ("us-east-1", "us-gov-west-1"):
        assert refused(server.client("sts", *temp, region=region).get_caller_identity) == INVALID_TOKEN
        assert refused(server.client("sts", *keys(cn_key), region=region).get_session_token) == INVALID_TOKEN


def test_roles_of_another_partition_cannot_be_assumed(iam, server: Server, china: Account) -> None:
    """A trust policy cannot name a principal of another partition ("You can't create a role to delegate access between
    an AWS GovCloud (US) account and a standard AWS account": Invalid principal in policy,
    https://repost.aws/knowledge-center/iam-trust-policy-error), and AssumeRole does not cross partitions whatever the
    trust policy says: the aws principal is refused even by a role that trusts "*"."""
    user, key = make_user(iam, server, {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]})
    cn_iam = server.client("iam", china.key, china.secret, region="cn-north-1")
    role = unique("cn-open")
    for principal in (user["Arn"], f"arn:aws:iam::{server.account}:root", server.account, f"arn:aws-cn:iam::{server.account}:root"):
        message = refused(lambda: cn_iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}]})),
            "MalformedPolicyDocument", 400)
        assert message == f'Invalid principal in policy: "AWS":"{principal}"'
        refused(lambda: cn_iam.get_role(RoleName=role), "NoSuchEntity", 404)
    cn_iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}))
    sts = server.client("sts", *keys(key))
    for arn in (f"arn:aws-cn:iam::{china.account_id}:role/{role}", f"arn:aws:iam::{china.account_id}:role/{role}"):
        message = refused(lambda: sts.assume_role(RoleArn=arn, RoleSessionName="cross"), "AccessDenied")
        assert f"is not authorized to perform: sts:AssumeRole on resource: {arn}" in message
    assert refused(lambda: server.client("sts", *keys(key), region="cn-north-1").assume_role(
        RoleArn=f"arn:aws-cn:iam::{china.account_id}:role/{role}", RoleSessionName="cross")) == INVALID_TOKEN


# --- real regions only ---------------------------------------------------------------------------------------------


def test_unknown_regions_are_refused_before_any_work(iam, server: Server) -> None:
    for region in ("mars-north-9", "aws-global"):
        expected = f"Credential should be scoped to a valid region, not '{region}'. "
        assert refused(server.client("sts", region=region).get_caller_identity, "SignatureDoesNotMatch") == expected
        name = unique("mars")
        away = server.client("iam", region=region)
        assert refused(lambda: away.create_user(UserName=name), "SignatureDoesNotMatch") == expected
        refused(lambda: iam.get_user(UserName=name), "NoSuchEntity", 404)
        # an unknown key gets the same answer: the scope is checked before any key is looked up
        stranger = server.client("sts", "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", region=region)
        assert refused(stranger.get_caller_identity, "SignatureDoesNotMatch") == expected
        r = api(server, "service-credentials", {"RoleName": "any", "ServicePrincipal": "ecs-tasks.amazonaws.com"},
                (server.access_key, server.secret_key), region=region)
        assert (r.status_code, r.json()["Error"]["Code"], r.json()["Error"]["Message"]) == (403, "SignatureDoesNotMatch", expected)


@pytest.fixture(scope="module")
def private_region_server(server: Server) -> Iterator[Server]:
    """A second server on the same store, declaring private regions (``iamroles serve --region NAME=PARTITION``)."""
    srv = start_server(server.data_dir.parent, server.db_url, "--region", "on-prem-1=aws", "--region", "on-prem-cn=aws-cn",
                       account=server.account, access_key=server.access_key, secret_key=server.secret_key)
    try:
        yield srv
    finally:
        stop_server(srv)


def test_a_declared_private_region_is_served(server: Server, private_region_server: Server, china: Account) -> None:
    srv = private_region_server
    assert srv.client("sts", region="on-prem-1").get_caller_identity()["Arn"] == f"arn:aws:iam::{server.account}:root"
    assert srv.client("sts", china.key, china.secret, region="on-prem-cn").get_caller_identity()["Arn"] == \
        f"arn:aws-cn:iam::{china.account_id}:root"
    # a private region is in one partition too
    assert refused(srv.client("sts", region="on-prem-cn").get_caller_identity) == INVALID_TOKEN
    assert refused(srv.client("sts", china.key, china.secret, region="on-prem-1").get_caller_identity) == INVALID_TOKEN
    # the botocore regions are still served; a server that did not declare it refuses it
    assert srv.client("sts").get_caller_identity()["Account"] == server.account
    refused(server.client("sts", region="on-prem-1").get_caller_identity, "SignatureDoesNotMatch")


@pytest.mark.parametrize("args, message", [
    (["--region", "us-east-1=aws-cn"], "us-east-1 is a region of partition aws, not aws-cn"),
    (["--region", "on-prem-1=aws-mars"], "'aws-mars' is not a partition"),
    (["--region", "on-prem-1"], "is not NAME=PARTITION"),
    (["--region", "On Prem=aws"], "is not a region name"),
    (["--partition", "aws-mars"], "'aws-mars' is not a partition"),
])
def test_bad_region_and_partition_options_are_refused(tmp_path, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    out = subprocess.run([sys.executable, "-m", "iamroles", "serve", "--data-dir", str(tmp_path / "data"), *args],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and message in out.stderr, out.stderr
    assert not (tmp_path / "data").exists()  # refused before anything was created
    out = subprocess.run([sys.executable, "-m", "iamroles", "accounts", "create", "--data-dir", str(tmp_path / "data"),
                          "--partition", "aws-mars"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "'aws-mars' is not a partition" in out.stderr


# --- the JSON API and the authorisers --------------------------------------------------------------------------------


def test_the_json_api_keeps_partitions(iam, server: Server, china: Account) -> None:
    _, service_key = make_user(iam, server, AUTHORIZER)
    _, reader_key = make_user(iam, server, READ_ANY)
    cn_iam = server.client("iam", china.key, china.secret, region="cn-north-1")
    cn_user = cn_iam.create_user(UserName=unique("cn-reader"))["User"]
    cn_iam.put_user_policy(UserName=cn_user["UserName"], PolicyName="read", PolicyDocument=json.dumps(READ_ANY))
    cn_key = cn_iam.create_access_key(UserName=cn_user["UserName"])["AccessKey"]
    body = {"Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/key.txt",
            "ResourcePolicy": json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}]})}

    # the API call itself, signed for another partition's region
    r = api(server, "authorize", {**body, "Request": forwarded(reader_key)}, keys(service_key), region="cn-north-1")
    assert (r.status_code, r.json()["Error"]["Code"], r.json()["Error"]["Message"]) == (403, "InvalidClientTokenId", INVALID_TOKEN)
    r = api(server, "service-credentials", {"RoleName": "any", "ServicePrincipal": "ecs-tasks.amazonaws.com"},
            keys(service_key), region="us-gov-west-1")
    assert (r.status_code, r.json()["Error"]["Code"]) == (403, "InvalidClientTokenId")

    def verdict(creds: dict[str, str], region: str) -> dict[str, Any]:
        r = api(server, "authorize", {**body, "Request": forwarded(creds, region)}, keys(service_key))
        assert r.status_code == 200, r.text
        return r.json()

    assert verdict(reader_key, "eu-west-1")["Allowed"]
    # forwarded requests: an aws key signed for China, an aws-cn key signed for an aws region or for China (the
    # service's resources are in the aws partition, where aws-cn keys do not exist, resource policy or not)
    for creds, region in ((reader_key, "cn-north-1"), (cn_key, "us-east-1"), (cn_key, "cn-north-1")):
        doc = verdict(creds, region)
        assert doc["Authenticated"] is False and doc["Allowed"] is False, doc
        assert (doc["Error"]["Code"], doc["Error"]["Message"]) == ("InvalidClientTokenId", INVALID_TOKEN)
    doc = verdict(reader_key, "mars-north-9")
    assert doc["Authenticated"] is False and doc["Error"]["Code"] == "SignatureDoesNotMatch"


def test_the_authorization_api_answers_only_about_its_callers_account(iam, server: Server, other: Account) -> None:
    """A service learns decisions about its own account's resources only; principals of other accounts are still decided
    (cross-account access through the resource policy, reference_policies_evaluation-logic-cross-account.html)."""
    _, service_key = make_user(iam, server, AUTHORIZER)
    _, reader_key = make_user(iam, server, READ_ANY)
    other_iam = server.client("iam", other.key, other.secret)
    outsider = other_iam.create_user(UserName=unique("outsider"))["User"]
    other_iam.put_user_policy(UserName=outsider["UserName"], PolicyName="read", PolicyDocument=json.dumps(READ_ANY))
    outsider_key = other_iam.create_access_key(UserName=outsider["UserName"])["AccessKey"]
    trusting = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{other.account_id}:root"}, "Action": "s3:GetObject", "Resource": "*"}]})

    def ask(creds: dict[str, str], resource: str, **extra: Any) -> httpx.Response:
        return api(server, "authorize", {"Request": forwarded(creds), "Action": "s3:GetObject", "Resource": resource, **extra},
                   keys(service_key))

    b_queue = f"arn:aws:sqs:us-east-1:{other.account_id}:queue"
    refusals = [
        (outsider_key, "arn:aws:s3:::bucket/key.txt", {"ResourceAccount": other.account_id}),
        (outsider_key, b_queue, {}),
        (outsider_key, b_queue, {"ResourceAccount": server.account}),  # the ARN's account counts too
        (reader_key, "arn:aws:s3:::bucket/key.txt", {"ResourceAccount": other.account_id, "ResourcePolicy": trusting}),
        (reader_key, "arn:aws-cn:s3:::bucket/key.txt", {}),  # another partition's resource
    ]
    for creds, resource, extra in refusals:
        r = ask(creds, resource, **extra)
        doc = r.json()
        assert (r.status_code, doc["Error"]["Code"]) == (403, "AccessDenied"), (resource, extra, r.text)
        assert "answers only about resources of the caller's account" in doc["Error"]["Message"]
        assert "Allowed" not in doc and "Principal" not in doc  # nothing about the decision
    r = api(server, "authorize", {"Request": forwarded(reader_key), "Action": "s3:GetObject", "Resource": "*",
                                  "ResourceAccount": 123}, keys(service_key))
    assert (r.status_code, r.json()["Error"]["Code"]) == (400, "ValidationError")

    # its own account's resources: answered, for its own principals and, through the resource policy, for others'
    own_queue = f"arn:aws:sqs:us-east-1:{server.account}:queue"
    for resource, extra in (("arn:aws:s3:::bucket/key.txt", {}), (own_queue, {}),
                            ("arn:aws:s3:::bucket/key.txt", {"ResourceAccount": server.account})):
        assert ask(reader_key, resource, **extra).json()["Allowed"]
        denied = ask(outsider_key, resource, **extra).json()
        assert denied["Authenticated"] and not denied["Allowed"] and denied["Principal"]["Account"] == other.account_id
        assert ask(outsider_key, resource, ResourcePolicy=trusting, **extra).json()["Allowed"]


def _local_check(creds: dict[str, str], resource: str, region: str = "us-east-1", **extra: Any) -> Check:
    doc = forwarded(creds, region)
    http = HttpRequest("GET", doc["Path"], "", {k.lower(): v for k, v in doc["Headers"].items()}, b"")
    return Check(http, "s3:GetObject", resource, services=("s3",), **extra)


def test_the_local_authorizer_keeps_to_its_account_and_partition(iam, server: Server, other: Account, china: Account) -> None:
    """The in-process authoriser (the middleware's LocalAuthorizer): its configured account's resources only (another's
    is the service's mistake: 500, fail closed), and requests signed for its partition's regions only."""
    _, reader_key = make_user(iam, server, READ_ANY)
    local = LocalAuthorizer.open(server.data_dir, server.db_url, cache_ttl=0)
    try:
        assert local.account == server.account and local.partition == "aws"
        assert local.decide_now(_local_check(reader_key, "arn:aws:s3:::bucket/k")).allowed
        assert local.decide_now(_local_check(reader_key, f"arn:aws:sqs:us-east-1:{server.account}:q")).allowed
        for resource, extra in (("arn:aws:s3:::bucket/k", {"resource_account": other.account_id}),
                                (f"arn:aws:sqs:us-east-1:{other.account_id}:q", {}),
                                ("arn:aws-cn:s3:::bucket/k", {})):
            v = local.decide_now(_local_check(reader_key, resource, **extra))
            assert (v.allowed, v.status, v.code, v.identity) == (False, 500, "InternalError", None), (resource, v)
        for region, code in (("cn-north-1", "InvalidClientTokenId"), ("us-gov-west-1", "InvalidClientTokenId"),
                             ("mars-north-9", "SignatureDoesNotMatch")):
            v = local.decide_now(_local_check(reader_key, "arn:aws:s3:::bucket/k", region))
            assert (v.allowed, v.status, v.code) == (False, 403, code), (region, v)
    finally:
        local.close()

    # configured for the aws-cn account: China's regions only, and its own ARNs
    cn_iam = server.client("iam", china.key, china.secret, region="cn-north-1")
    cn_user = cn_iam.create_user(UserName=unique("cn-local"))["User"]
    cn_iam.put_user_policy(UserName=cn_user["UserName"], PolicyName="read", PolicyDocument=json.dumps(READ_ANY))
    cn_key = cn_iam.create_access_key(UserName=cn_user["UserName"])["AccessKey"]
    local = LocalAuthorizer.open(server.data_dir, server.db_url, account=china.account_id, cache_ttl=0)
    try:
        v = local.decide_now(_local_check(cn_key, "arn:aws-cn:s3:::bucket/k", "cn-north-1"))
        assert v.allowed and v.identity is not None and v.identity.arn == cn_user["Arn"]
        v = local.decide_now(_local_check(cn_key, "arn:aws-cn:s3:::bucket/k", "us-east-1"))
        assert (v.allowed, v.status, v.code) == (False, 403, "InvalidClientTokenId")
        v = local.decide_now(_local_check(cn_key, "arn:aws:s3:::bucket/k", "cn-north-1"))
        assert (v.status, v.code) == (500, "InternalError")
    finally:
        local.close()
    with pytest.raises(ValueError, match="no account 999999999999"):
        LocalAuthorizer.open(server.data_dir, server.db_url, account="999999999999")
