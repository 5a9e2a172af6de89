"""The other operations botocore's newer models added, on a real server (SQLite and PostgreSQL): account properties,
UpdateOpenIDConnectProvider, role templates, GetScopedCredentials; and AWS managed policies in other partitions.

AWS pages: https://docs.aws.amazon.com/IAM/latest/APIReference/API_PutAccountProperties.html,
API_GetAccountProperties.html, API_UpdateOpenIDConnectProvider.html, API_GetRoleTemplateVersion.html,
API_AcquireRole.html, https://docs.aws.amazon.com/STS/latest/APIReference/API_GetScopedCredentials.html; a policy ARN
of another partition: IAM's "Invalid ARN partition" (https://github.com/pulumi/pulumi-aws-apigateway/issues/347);
partitions: https://docs.aws.amazon.com/whitepapers/latest/aws-fault-isolation-boundaries/partitions.html.
"""
from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import Server, unique
from .test_partitions import Account, create_account

TRUST = lambda account: json.dumps({"Version": "2012-10-17", "Statement": [  # noqa: E731
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}]})
ADMIN = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


@pytest.fixture(scope="module")
def acct(server: Server) -> Account:
    return create_account(server)


@pytest.fixture(scope="module")
def other(server: Server) -> Account:
    return create_account(server)


def iam_of(server: Server, a: Account, service: str = "iam") -> Any:
    return server.client(service, a.key, a.secret)


def test_account_properties(server: Server, acct: Account, other: Account) -> None:
    """Namespace/PropertyName keys, one namespace per request; kept per account; authorised with
    iam:AccountPropertyNamespaces (the Service Authorization Reference's condition key)."""
    iam = iam_of(server, acct)
    assert iam.get_account_properties()["Properties"] == {}
    iam.put_account_properties(Properties={"RoleManager/Enabled": "true", "RoleManager/Mode": "strict"})
    assert iam.get_account_properties()["Properties"] == {"RoleManager/Enabled": "true", "RoleManager/Mode": "strict"}
    assert iam_of(server, other).get_account_properties()["Properties"] == {}  # another account's are its own
    for bad in ({"RoleManager/Enabled": "true", "Other/X": "1"}, {"NoSlash": "1"}, {"A/B/C": "1"}):
        with pytest.raises(ClientError) as e:
            iam.put_account_properties(Properties=bad)
        assert code(e) == "InvalidInput", bad
    assert len(iam.get_account_properties()["Properties"]) == 2  # nothing of the refused requests was kept
    user = unique("ap")
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iam:PutAccountProperties", "iam:GetAccountProperties"], "Resource": "*",
         "Condition": {"ForAllValues:StringEquals": {"iam:AccountPropertyNamespaces": ["Sandbox"]}}}]}))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    limited = server.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError) as e:
        limited.put_account_properties(Properties={"RoleManager/Enabled": "false"})
    assert code(e) == "AccessDenied"
    limited.put_account_properties(Properties={"Sandbox/On": "yes"})
    assert iam.get_account_properties()["Properties"]["RoleManager/Enabled"] == "true"


def test_update_open_id_connect_provider(server: Server, acct: Account, other: Account) -> None:
    """A value and its Remove flag together, or both configurations in one request, are InvalidInput; an unknown or
    another account's provider NoSuchEntity; Identity Center and trusted identity propagation, which iamroles does not
    have, are refused with InvalidInput rather than ignored."""
    iam = iam_of(server, acct)
    arn = iam.create_open_id_connect_provider(Url=f"https://{unique('idp')}.example.com", ClientIDList=["a"],
                                              ThumbprintList=["0" * 40])["OpenIDConnectProviderArn"]
    cp = {"SubjectSourceKey": "sub", "KeyDefinitionList": [{"SourceKey": "email", "TargetKey": "mail"}]}
    cases = [
        ({"ContextProvider": cp, "RemoveContextProvider": True}, "InvalidInput"),
        ({"IdentityCenterInstanceArn": "arn:aws:sso:::instance/ssoins-1", "RemoveIdentityCenterInstance": True}, "InvalidInput"),
        ({"ContextProvider": cp, "RemoveIdentityCenterInstance": True}, "InvalidInput"),
        ({"ContextProvider": {**cp, "SubjectSourceKey": " sub"}}, "InvalidInput"),
        ({"ContextProvider": {**cp, "SubjectTypeValue": "user", "SubjectTypeSourceKey": "typ"}}, "InvalidInput"),
        ({"ContextProvider": cp}, "InvalidInput"),
        ({"IdentityCenterInstanceArn": "arn:aws:sso:::instance/ssoins-1"}, "InvalidInput"),
    ]
    for params, expected in cases:
        with pytest.raises(ClientError) as e:
            iam.update_open_id_connect_provider(OpenIDConnectProviderArn=arn, **params)
        assert code(e) == expected, params
    iam.update_open_id_connect_provider(OpenIDConnectProviderArn=arn, RemoveContextProvider=True)
    iam.update_open_id_connect_provider(OpenIDConnectProviderArn=arn, RemoveIdentityCenterInstance=True)
    with pytest.raises(ClientError) as e:
        iam_of(server, other).update_open_id_connect_provider(OpenIDConnectProviderArn=arn, RemoveContextProvider=True)
    assert code(e) == "NoSuchEntity"
    assert iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)["ClientIDList"] == ["a"]


def test_role_templates(server: Server, acct: Account) -> None:
    """iamroles ships no AWS role templates: a template ARN of the catalogue's format is NoSuchEntity, anything else
    (or another partition's) InvalidInput; nothing is created."""
    iam = iam_of(server, acct)
    good = "arn:aws:iam::aws:role-template/lambda.amazonaws.com/Basic:1"
    for call, params in ((iam.get_role_template_version, {"TemplateArn": good}), (iam.acquire_role, {"TemplateArn": good})):
        with pytest.raises(ClientError) as e:
            call(**params)
        assert code(e) == "NoSuchEntity"
    for bad in ("arn:aws:iam::111122223333:role/not-a-template", "arn:aws-cn:iam::aws:role-template/lambda.amazonaws.com/Basic:1"):
        with pytest.raises(ClientError) as e:
            iam.acquire_role(TemplateArn=bad)
        assert code(e) == "InvalidInput"
    with pytest.raises(ClientError) as e:
        iam.get_role_template_version(TemplateArn=good, MinorVersion=-1)
    assert code(e) == "InvalidInput"


def test_get_scoped_credentials(server: Server, acct: Account) -> None:
    """The same identity with less: the scope-down policy must allow as well, three layers at most, never past the
    calling session's expiry; long-term keys cannot be scoped."""
    iam = iam_of(server, acct)
    with pytest.raises(ClientError) as e:
        iam_of(server, acct, "sts").get_scoped_credentials(DurationSeconds=60)
    assert code(e) == "InvalidSubjectCredentials"
    role = unique("sc")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST(acct.account_id))
    iam.put_role_policy(RoleName=role, PolicyName="admin", PolicyDocument=json.dumps(ADMIN))
    user = unique("scu")
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="admin", PolicyDocument=json.dumps(ADMIN))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    sts_user = server.client("sts", key["AccessKeyId"], key["SecretAccessKey"])
    out = sts_user.assume_role(RoleArn=f"arn:aws:iam::{acct.account_id}:role/{role}", RoleSessionName="s1", DurationSeconds=900)
    c = out["Credentials"]
    sts = server.client("sts", c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    with pytest.raises(ClientError) as e:
        sts.get_scoped_credentials(DurationSeconds=3600)
    assert code(e) == "InsufficientSessionLifetime"
    with pytest.raises(ClientError) as e:
        sts.get_scoped_credentials(Policy="{not json")
    assert code(e) == "MalformedPolicyDocument"
    read_roles = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:List*", "Resource": "*"}]})
    scoped = sts.get_scoped_credentials(Policy=read_roles, ScopedSessionDescription="read only", MinimumSessionTokenSize=3000)
    assert scoped["ScopedPoliciesCount"] == 1 and scoped["SessionInfo"]["Arn"] == out["AssumedRoleUser"]["Arn"]
    assert scoped["SessionTokenSize"] == len(scoped["Credentials"]["SessionToken"]) >= 3000
    s = scoped["Credentials"]
    assert s["Expiration"] <= c["Expiration"]
    s_iam = server.client("iam", s["AccessKeyId"], s["SecretAccessKey"], s["SessionToken"])
    s_sts = server.client("sts", s["AccessKeyId"], s["SecretAccessKey"], s["SessionToken"])
    assert s_sts.get_caller_identity()["Arn"] == out["AssumedRoleUser"]["Arn"]
    s_iam.list_roles()
    with pytest.raises(ClientError) as e:
        s_iam.create_user(UserName=unique("no"))
    assert code(e) == "AccessDenied"
    # layers narrow further, and a wider layer does not widen
    layer = s_sts.get_scoped_credentials(Policy=json.dumps(ADMIN))["Credentials"]
    wide = server.client("iam", layer["AccessKeyId"], layer["SecretAccessKey"], layer["SessionToken"])
    with pytest.raises(ClientError) as e:
        wide.create_user(UserName=unique("no"))
    assert code(e) == "AccessDenied"
    sts3 = server.client("sts", layer["AccessKeyId"], layer["SecretAccessKey"], layer["SessionToken"])
    third = sts3.get_scoped_credentials(Policy=read_roles)
    assert third["ScopedPoliciesCount"] == 3
    t = third["Credentials"]
    with pytest.raises(ClientError) as e:
        server.client("sts", t["AccessKeyId"], t["SecretAccessKey"], t["SessionToken"]).get_scoped_credentials(Policy=read_roles)
    assert code(e) == "AccessDenied"
    # the root's session can be scoped too, keeping its identity (that a root session's policies bind it is held by
    # test_delegation's root-approved credentials: a GetSessionToken session without MFA calls no IAM at all)
    root_session = iam_of(server, acct, "sts").get_session_token()["Credentials"]
    root_sts = server.client("sts", root_session["AccessKeyId"], root_session["SecretAccessKey"], root_session["SessionToken"])
    r = root_sts.get_scoped_credentials(Policy=read_roles)
    assert r["SessionInfo"]["Arn"] == f"arn:aws:iam::{acct.account_id}:root" and r["ScopedPoliciesCount"] == 1
    c2 = r["Credentials"]
    who = server.client("sts", c2["AccessKeyId"], c2["SecretAccessKey"], c2["SessionToken"]).get_caller_identity()
    assert who["Arn"] == f"arn:aws:iam::{acct.account_id}:root"


@pytest.fixture(scope="module")
def china(server: Server) -> Account:
    return create_account(server, "aws-cn")


def test_managed_policies_in_another_partition(server: Server, china: Account, acct: Account) -> None:
    """An aws-cn account attaches arn:aws-cn:iam::aws:policy/..., sees its partition's ARNs in its documents and
    listings, and is refused the aws partition's ARN ("Invalid ARN partition"), as an aws account is refused aws-cn's."""
    cn = server.client("iam", china.key, china.secret, region="cn-north-1")
    role = unique("cnr")
    cn.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws-cn:iam::{china.account_id}:root"}, "Action": "sts:AssumeRole"}]}))
    cn.attach_role_policy(RoleName=role, PolicyArn="arn:aws-cn:iam::aws:policy/IAMReadOnlyAccess")
    attached = cn.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    assert attached == [{"PolicyName": "IAMReadOnlyAccess", "PolicyArn": "arn:aws-cn:iam::aws:policy/IAMReadOnlyAccess"}]
    policy = cn.get_policy(PolicyArn="arn:aws-cn:iam::aws:policy/IAMUserChangePassword")["Policy"]
    version = cn.get_policy_version(PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"])["PolicyVersion"]
    text = json.dumps(version["Document"])
    assert "arn:aws-cn:iam::*:user/" in text and "arn:aws:" not in text
    listed = cn.list_policies(Scope="AWS", MaxItems=5)["Policies"]
    assert listed and all(p["Arn"].startswith("arn:aws-cn:iam::aws:policy/") for p in listed)
    with pytest.raises(ClientError) as e:
        cn.attach_role_policy(RoleName=role, PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    assert code(e) == "ValidationError"
    with pytest.raises(ClientError) as e:
        iam_of(server, acct).get_policy(PolicyArn="arn:aws-cn:iam::aws:policy/ReadOnlyAccess")
    assert code(e) == "ValidationError"
    # and the attachment grants in that partition
    sts = server.client("sts", china.key, china.secret, region="cn-north-1")
    user = unique("cnu")
    cn.create_user(UserName=user)
    cn.attach_user_policy(UserName=user, PolicyArn="arn:aws-cn:iam::aws:policy/IAMReadOnlyAccess")
    key = cn.create_access_key(UserName=user)["AccessKey"]
    reader = server.client("iam", key["AccessKeyId"], key["SecretAccessKey"], region="cn-north-1")
    assert any(r["RoleName"] == role for r in reader.list_roles(MaxItems=1000)["Roles"])
    with pytest.raises(ClientError) as e:
        reader.create_user(UserName=unique("no"))
    assert code(e) == "AccessDenied"
    del sts
