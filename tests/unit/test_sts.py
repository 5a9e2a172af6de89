"""STS: AssumeRole, GetSessionToken, GetFederationToken and GetCallerIdentity, called directly on the runtime's
service; the credentials they issue are used as a signed request's would be (resolved by the authenticator's
resolver from the key id and session token).

AWS behaviour: the trust policy must allow the caller, and naming the account delegates to the caller's identity
policies (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html,
id_roles_use_permissions-to-switch.html); the root user cannot assume a role; DurationSeconds is at most the role's
MaxSessionDuration, and one hour for a role chain (API_AssumeRole.html, id_roles_terms-and-concepts.html#iam-term-role-chaining);
session tags need sts:TagSession (id_session-tags.html); a session policy limits the session to what both allow
(access_policies.html#policies_session); what each kind of temporary credentials may call
(id_credentials_sts-comparison.html); GetCallerIdentity needs no permission (API_GetCallerIdentity.html).
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from .conftest import Account, Client
from .helpers import allow, deny, doc, refused, trust


def _user(account: Account, name: str, *statements: dict[str, Any]) -> Client:
    account.root("CreateUser", UserName=name)
    if statements:
        account.root("PutUserPolicy", UserName=name, PolicyName="p", PolicyDocument=doc(*statements))
    return account.root.key(name)


def test_assume_role_needs_the_trust_policy_and_when_it_names_the_account_an_identity_policy(account: Account) -> None:
    root = account.root
    role_arn = root("CreateRole", RoleName="r", AssumeRolePolicyDocument=trust({"AWS": account.arn("root")}))["Role"]["Arn"]
    root("PutRolePolicy", RoleName="r", PolicyName="p", PolicyDocument=doc(allow("iam:ListRoles")))
    bare = _user(account, "bare")
    err = refused("AccessDenied", lambda: bare.assume(role_arn), 403)
    assert f"is not authorized to perform: sts:AssumeRole on resource: {role_arn}" in err.message
    allowed = _user(account, "allowed", allow("sts:AssumeRole", role_arn))
    session = allowed.assume(role_arn, "s1")
    me = session("GetCallerIdentity")
    assert me["Arn"] == f"arn:aws:sts::{account.id}:assumed-role/r/s1" and me["Account"] == account.id
    assert me["UserId"].startswith("AROA") and me["UserId"].endswith(":s1")
    assert session("ListRoles")["Roles"][0]["RoleName"] == "r"  # the role's permissions, not the user's
    refused("AccessDenied", lambda: session("ListUsers"))
    # a trust policy naming the user is enough by itself, within the account
    root("UpdateAssumeRolePolicy", RoleName="r", PolicyDocument=trust({"AWS": account.arn("user/bare")}))
    assert bare.assume(role_arn)("GetCallerIdentity")["Arn"].endswith(":assumed-role/r/unit")
    refused("AccessDenied", lambda: allowed.assume(role_arn))  # no longer trusted, whatever its identity policy says
    err = refused("AccessDenied", lambda: root.assume(role_arn))
    assert err.message == "Roles may not be assumed by root accounts."
    refused("AccessDenied", lambda: bare.assume(account.arn("role/missing")))


def test_cross_account_needs_both_sides(account: Account, other_account: Account) -> None:
    role_arn = account.root("CreateRole", RoleName="shared", AssumeRolePolicyDocument=trust({"AWS": other_account.arn("root")}))["Role"]["Arn"]
    outsider = _user(other_account, "outsider")
    refused("AccessDenied", lambda: outsider.assume(role_arn))  # the trust policy delegates to its account's policies
    other_account.root("PutUserPolicy", UserName="outsider", PolicyName="p", PolicyDocument=doc(allow("sts:AssumeRole", role_arn)))
    assert outsider.assume(role_arn)("GetCallerIdentity")["Account"] == account.id
    stranger = _user(account, "stranger", allow("sts:AssumeRole", "*"))  # trusted by nobody
    refused("AccessDenied", lambda: stranger.assume(role_arn))


def test_durations_and_role_chaining(account: Account) -> None:
    root = account.root
    user = _user(account, "u")  # a principal a trust policy names must exist (Invalid principal otherwise)
    first = root("CreateRole", RoleName="first", AssumeRolePolicyDocument=trust({"AWS": account.arn("user/u")}),
                 MaxSessionDuration=7200)["Role"]["Arn"]
    second = root("CreateRole", RoleName="second", AssumeRolePolicyDocument=trust({"AWS": first}), MaxSessionDuration=43200)["Role"]["Arn"]
    root("PutRolePolicy", RoleName="first", PolicyName="p", PolicyDocument=doc(allow("sts:AssumeRole", second)))
    err = refused("ValidationError", lambda: user.assume(first, DurationSeconds=7201), 400)
    assert "MaxSessionDuration" in err.message
    refused("ValidationError", lambda: user.assume(first, DurationSeconds=899))
    out = user("AssumeRole", RoleArn=first, RoleSessionName="long", DurationSeconds=7200)
    assert out["Credentials"]["Expiration"] - datetime.now(UTC) > timedelta(seconds=7100)
    session = user.assume(first, DurationSeconds=7200)
    # a role chain: at most an hour, whatever the second role's maximum
    err = refused("ValidationError", lambda: session.assume(second, DurationSeconds=3601))
    assert "role chaining" in err.message
    chained = session("AssumeRole", RoleArn=second, RoleSessionName="chain")
    assert chained["Credentials"]["Expiration"] - datetime.now(UTC) <= timedelta(hours=1)
    assert chained["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{account.id}:assumed-role/second/chain"


def test_session_tags_need_tag_session_and_session_policies_narrow(account: Account) -> None:
    root = account.root
    user = _user(account, "u")
    role_arn = root("CreateRole", RoleName="r", AssumeRolePolicyDocument=trust({"AWS": account.arn("user/u")}))["Role"]["Arn"]
    root("PutRolePolicy", RoleName="r", PolicyName="p", PolicyDocument=doc(allow(["iam:ListRoles", "iam:ListUsers"])))
    refused("AccessDenied", lambda: user.assume(role_arn, Tags=[{"Key": "project", "Value": "x"}]))
    root("UpdateAssumeRolePolicy", RoleName="r", PolicyDocument=trust({"AWS": account.arn("user/u")}, ["sts:AssumeRole", "sts:TagSession"]))
    tagged = user.assume(role_arn, Tags=[{"Key": "project", "Value": "x"}])
    assert tagged.caller.session is not None and tagged.caller.session.tags == {"project": "x"}
    narrowed = user.assume(role_arn, Policy=doc(allow("iam:ListRoles")))
    assert narrowed("ListRoles")["Roles"]
    err = refused("AccessDenied", lambda: narrowed("ListUsers"))
    assert "because no session policy allows the iam:ListUsers action" in err.message
    refused("MalformedPolicyDocument", lambda: user.assume(role_arn, Policy='{"Statement": "x"}'))


def test_get_session_token(account: Account) -> None:
    root = account.root
    user = _user(account, "u", allow(["iam:ListUsers", "sts:AssumeRole"]))
    creds = user("GetSessionToken", DurationSeconds=900)["Credentials"]
    session = Client(user.service, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert session("GetCallerIdentity")["Arn"] == account.arn("user/u")  # the user itself
    # without MFA, IAM does not take the token at all; STS only AssumeRole and GetCallerIdentity
    refused("InvalidClientTokenId", lambda: session("ListUsers"), 403)
    err = refused("AccessDenied", lambda: session("GetSessionToken"))
    assert err.message == "Cannot call GetSessionToken with session credentials"
    role_arn = root("CreateRole", RoleName="r", AssumeRolePolicyDocument=trust({"AWS": account.arn("user/u")}))["Role"]["Arn"]
    assert session.assume(role_arn)("GetCallerIdentity")["Arn"].endswith(":assumed-role/r/unit")
    refused("ValidationError", lambda: user("GetSessionToken", DurationSeconds=129601))
    # a role session may not call it either
    refused("AccessDenied", lambda: user.assume(role_arn)("GetSessionToken"))


def test_get_federation_token(account: Account) -> None:
    user = _user(account, "u", allow(["iam:ListUsers", "iam:ListRoles", "sts:GetFederationToken"]))
    out = user("GetFederationToken", Name="fed", Policy=doc(allow("iam:ListUsers")))
    assert out["FederatedUser"]["Arn"] == f"arn:aws:sts::{account.id}:federated-user/fed"
    creds = out["Credentials"]
    fed = Client(user.service, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert fed("GetCallerIdentity")["Arn"] == f"arn:aws:sts::{account.id}:federated-user/fed"
    # its credentials call no IAM operation, and no STS operation but GetCallerIdentity
    refused("InvalidClientTokenId", lambda: fed("ListUsers"))
    assert refused("AccessDenied", lambda: fed("GetFederationToken", Name="again")).message == (
        "Cannot call GetFederationToken with session credentials")
    refused("AccessDenied", lambda: fed("AssumeRole", RoleArn=account.arn("role/r"), RoleSessionName="ss"))
    # the user's own policies must allow it; an explicit deny refuses it
    account.root("PutUserPolicy", UserName="u", PolicyName="no", PolicyDocument=doc(deny("sts:GetFederationToken")))
    refused("AccessDenied", lambda: user("GetFederationToken", Name="fed"))


def test_get_caller_identity_needs_no_permission(account: Account) -> None:
    nobody = _user(account, "nobody", deny("*"))
    me = nobody("GetCallerIdentity")
    assert me == {"UserId": nobody.caller.principal.user_id, "Account": account.id, "Arn": account.arn("user/nobody")}
    assert account.root("GetCallerIdentity")["Arn"] == account.arn("root")
