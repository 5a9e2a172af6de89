"""Attacks through the shape of a trust policy and through the federated flows: wildcards, principals that name no one,
NotPrincipal, paths, the account root as caller, MFA through GetSessionToken, AssumeRoleWithWebIdentity and
AssumeRoleWithSAML.

AWS rules:

* https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-anonymous
  ("For IAM users and role principals within your account, no other permissions are required"; for principals in other
  accounts their identity policies must allow too). IAM refuses ``"Principal": "*"`` in a trust policy:
  MalformedPolicyDocument 'AssumeRolepolicy contained an invalid principal: "STAR":"*".' (quoted by aws/aws-cdk's
  AnyPrincipal, which writes ``{"AWS": "*"}`` for that reason).
* https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html "You cannot use the
  NotPrincipal element in an IAM identity-based policy nor in an IAM role trust policy."
* https://repost.aws/knowledge-center/iam-trust-policy-error "Invalid principal in policy": a trust policy names
  12-digit account ids, account root ARNs, "the entire ARN" of users, roles and sessions, and users or roles that exist.
* https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-arns (a role's ARN carries its
  path; an assumed-role session's ARN does not).
* https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_request.html#stsapi_comparison and
  https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_mfa_configure-api-require.html (MFA given to
  GetSessionToken stays with its credentials: aws:MultiFactorAuthPresent, aws:MultiFactorAuthAge).
* The account root cannot assume a role: AccessDenied "Roles may not be assumed by root accounts." (STS's words, in
  kubeflow/testing#961).
* https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html and
  https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithSAML.html: the trust policy must allow the
  provider (``Federated``) the action of that flow; STS's refusal is AccessDenied "Not authorized to perform
  sts:AssumeRoleWithWebIdentity" (aws/aws-sdk-js-v3#6225) / "... sts:AssumeRoleWithSAML"; a role whose account has no
  such provider: InvalidIdentityToken "No OpenIDConnect provider found in your account for ISSUER".
"""
from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from cryptography.hazmat.primitives.asymmetric import rsa

from iamroles.tokens.totp import code_at

from ..server.test_oidc import claims, jwks_of, jwt
from ..server.test_saml import IdP
from .conftest import ASSUME_ANY, ECS, Creds, World, denied, policy, refused, statement, trust, unique

_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _saved_or_refused(world: World, document: str) -> None:
    """``document`` is refused as a trust policy on CreateRole and on UpdateAssumeRolePolicy, and nothing changes."""
    iam = world.admin_iam()
    name = unique("r")
    refused(lambda: iam.create_role(RoleName=name, AssumeRolePolicyDocument=document), "MalformedPolicyDocument", 400)
    refused(lambda: iam.get_role(RoleName=name), "NoSuchEntity", 404)
    role, _ = world.role(trust(f"arn:aws:iam::{world.account}:root"))
    before = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    refused(lambda: iam.update_assume_role_policy(RoleName=role, PolicyDocument=document), "MalformedPolicyDocument", 400)
    assert iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"] == before


# --- wildcards ------------------------------------------------------------------------------------------------------


def test_principal_star_is_refused_in_a_trust_policy(world: World) -> None:
    document = json.dumps(policy({"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}))
    _saved_or_refused(world, document)
    message = refused(lambda: world.admin_iam().create_role(RoleName=unique("r"), AssumeRolePolicyDocument=document),
                      "MalformedPolicyDocument", 400)
    assert message == 'AssumeRolepolicy contained an invalid principal: "STAR":"*".'


def test_aws_star_is_everyone_and_its_conditions_still_bind(world: World) -> None:
    """{"AWS": "*"} names every principal: in the account one with no policy at all gets in, from another account only
    with its own identity policy; and the statement's condition must hold for either."""
    b = world.other_account()
    mine = world.user()  # no identity policy
    theirs = world.user(account=b)  # no identity policy either
    _, open_role = world.role(trust("*"))
    mine.assume(open_role)
    denied(lambda: theirs.sts.assume_role(RoleArn=open_role, RoleSessionName="s1"), theirs.arn, "sts:AssumeRole", open_role)
    attacker = world.user(ASSUME_ANY, account=b)
    attacker.assume(open_role)  # the other account's own policy allows: both sides allow
    _, own_account = world.role(trust("*", condition={"StringEquals": {"aws:PrincipalAccount": world.account}}))
    denied(lambda: attacker.sts.assume_role(RoleArn=own_account, RoleSessionName="s1"), attacker.arn, "sts:AssumeRole", own_account)
    mine.assume(own_account)
    _, external = world.role(trust("*", condition={"StringEquals": {"sts:ExternalId": "tenant-42"}}))
    for extra in ({}, {"ExternalId": "tenant-43"}, {"ExternalId": "TENANT-42"}):
        denied(lambda: attacker.sts.assume_role(RoleArn=external, RoleSessionName="s1", **extra), attacker.arn,
               "sts:AssumeRole", external)
        denied(lambda: mine.sts.assume_role(RoleArn=external, RoleSessionName="s1", **extra), mine.arn, "sts:AssumeRole", external)
    attacker.assume(external, ExternalId="tenant-42")


def test_not_principal_is_refused_in_a_trust_policy(world: World) -> None:
    user = world.user(ASSUME_ANY)
    _saved_or_refused(world, json.dumps(policy(
        {"Effect": "Deny", "NotPrincipal": {"AWS": user.arn}, "Action": "sts:AssumeRole"},
        {"Effect": "Allow", "Principal": {"AWS": world.account}, "Action": "sts:AssumeRole"})))


# --- principals that name no one ------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["user-unique-id", "role-unique-id", "service-arn-case", "partition-case", "root-case",
                                  "root-trailing-slash", "user-trailing-slash", "user-name-case", "role-without-its-path",
                                  "user-wildcard", "group"])
def test_a_principal_that_names_no_one_is_refused(world: World, form: str) -> None:
    """Each of these, once saved, would match no caller (or, for a unique id, a caller iamroles does not name by id):
    IAM refuses them on save ('Invalid principal in policy'), so no policy can seem to grant what it does not."""
    iam = world.admin_iam()
    user = world.user(ASSUME_ANY, name=unique("Casey"))
    group = unique("g")
    iam.create_group(GroupName=group)
    role = iam.create_role(RoleName=unique("rp"), Path="/team/x/", AssumeRolePolicyDocument=trust(user.arn))["Role"]
    a = world.account
    principal = {
        "user-unique-id": iam.get_user(UserName=user.name)["User"]["UserId"],
        "role-unique-id": role["RoleId"],
        "service-arn-case": f"arn:aws:IAM::{a}:user/{user.name}",
        "partition-case": f"arn:AWS:iam::{a}:user/{user.name}",
        "root-case": f"arn:aws:iam::{a}:ROOT",
        "root-trailing-slash": f"arn:aws:iam::{a}:root/",
        "user-trailing-slash": user.arn + "/",
        "user-name-case": user.arn.rsplit("/", 1)[0] + "/" + user.name.lower(),
        "role-without-its-path": f"arn:aws:iam::{a}:role/{role['RoleName']}",
        "user-wildcard": f"arn:aws:iam::{a}:user/*",
        "group": f"arn:aws:iam::{a}:group/{group}",
    }[form]
    message = refused(lambda: iam.create_role(RoleName=unique("r"), AssumeRolePolicyDocument=trust(principal)),
                      "MalformedPolicyDocument", 400)
    assert message == f'Invalid principal in policy: "AWS":"{principal}"'
    _saved_or_refused(world, trust(principal))


# --- paths ----------------------------------------------------------------------------------------------------------


def test_a_role_with_a_path_is_trusted_by_its_full_arn_and_its_session_by_the_session_arn(world: World) -> None:
    iam = world.admin_iam()
    user = world.user()
    first = iam.create_role(RoleName=unique("ra"), Path="/team/x/", AssumeRolePolicyDocument=trust(user.arn))["Role"]
    session = user.assume(first["Arn"], "hop1")
    assert session.arn == f"arn:aws:sts::{world.account}:assumed-role/{first['RoleName']}/hop1"  # no path in it
    _, by_role = world.role(trust(first["Arn"]))
    session.assume(by_role, "hop2")
    _, by_session = world.role(trust(session.arn))
    session.assume(by_session, "hop2")
    # another role of the same name elsewhere in the path tree is another role
    other = iam.create_role(RoleName=unique("ra"), Path="/team/y/", AssumeRolePolicyDocument=trust(user.arn))["Role"]
    denied(lambda: user.assume(other["Arn"], "hop1").sts.assume_role(RoleArn=by_role, RoleSessionName="hop2"),
           f"arn:aws:sts::{world.account}:assumed-role/{other['RoleName']}/hop1", "sts:AssumeRole", by_role)


# --- who may not assume at all ----------------------------------------------------------------------------------------


def test_the_account_root_cannot_assume_a_role(world: World) -> None:
    _, role_arn = world.role(trust(f"arn:aws:iam::{world.account}:root", "*"))
    assert refused(lambda: world.root().sts.assume_role(RoleArn=role_arn, RoleSessionName="s1"), "AccessDenied", 403) == \
        "Roles may not be assumed by root accounts."


def test_a_deny_naming_the_account_denies_the_user_the_allow_names(world: World) -> None:
    """A Deny naming the account applies to every principal of it, the user named by the Allow included."""
    user = world.user(ASSUME_ANY)
    for who in (world.account, f"arn:aws:iam::{world.account}:root"):
        _, role_arn = world.role(trust(user.arn, extra=[statement("Deny", "sts:AssumeRole", None, None, {"AWS": who})]))
        denied(lambda: user.sts.assume_role(RoleArn=role_arn, RoleSessionName="s1"), user.arn, "sts:AssumeRole", role_arn)


# --- MFA through GetSessionToken --------------------------------------------------------------------------------------


def test_mfa_in_a_trust_policy_needs_mfa_given_to_get_session_token(world: World) -> None:
    user = world.user(ASSUME_ANY)
    _, role_arn = world.role(trust(user.arn, condition={"Bool": {"aws:MultiFactorAuthPresent": "true"},
                                                        "NumericLessThan": {"aws:MultiFactorAuthAge": "600"}}))
    plain = user.sts.get_session_token(DurationSeconds=900)["Credentials"]
    no_mfa = Creds(world.srv, user.arn, plain["AccessKeyId"], plain["SecretAccessKey"], plain["SessionToken"])
    denied(lambda: no_mfa.sts.assume_role(RoleArn=role_arn, RoleSessionName="s1"), user.arn, "sts:AssumeRole", role_arn)
    denied(lambda: user.sts.assume_role(RoleArn=role_arn, RoleSessionName="s1"), user.arn, "sts:AssumeRole", role_arn)
    iam = world.admin_iam()
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName=unique("phone"))["VirtualMFADevice"]
    seed = base64.b32decode(device["Base32StringSeed"])
    step = int(time.time() // 30)
    iam.enable_mfa_device(UserName=user.name, SerialNumber=device["SerialNumber"],
                          AuthenticationCode1=code_at(seed, step - 1), AuthenticationCode2=code_at(seed, step))
    out = user.sts.get_session_token(DurationSeconds=900, SerialNumber=device["SerialNumber"],
                                     TokenCode=code_at(seed, int(time.time() // 30) + 1))["Credentials"]
    with_mfa = Creds(world.srv, user.arn, out["AccessKeyId"], out["SecretAccessKey"], out["SessionToken"])
    with_mfa.assume(role_arn)


# --- AssumeRoleWithWebIdentity ----------------------------------------------------------------------------------------


def _unsigned_sts(world: World) -> Any:
    return boto3.client("sts", endpoint_url=world.srv.url, region_name="us-east-1",
                        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))


_PROVIDERS: dict[tuple[int, int], tuple[str, str]] = {}


def _oidc_provider(world: World, tmp_path: Path, n: int = 0) -> tuple[str, str]:
    """OIDC provider ``n`` of the world's account with its key set, made once per server: (issuer host, ARN)."""
    hit = _PROVIDERS.get((id(world), n))
    if hit is None:
        hit = _PROVIDERS[(id(world), n)] = _new_oidc_provider(world, tmp_path)
    return hit


def _new_oidc_provider(world: World, tmp_path: Path) -> tuple[str, str]:
    host = f"{unique('oidc')}.example.com"
    arn = world.admin_iam().create_open_id_connect_provider(Url=f"https://{host}", ClientIDList=["sts.amazonaws.com"],
                                                           ThumbprintList=["a" * 40])["OpenIDConnectProviderArn"]
    keys = tmp_path / f"{host}.json"
    keys.write_text(json.dumps(jwks_of(_KEY)))
    subprocess.run([sys.executable, "-m", "iamroles", "oidc", "jwks", arn, str(keys), "--data-dir", str(world.srv.data_dir),
                    *(["--db", world.srv.db_url] if world.srv.db_url else [])], check=True, capture_output=True, timeout=60)
    return host, arn


def _federated(provider: str, action: str, condition: dict[str, Any] | None = None, effect: str = "Allow") -> dict[str, Any]:
    return statement(effect, action, None, condition, {"Federated": provider})


@pytest.mark.parametrize("case", ["action-assume-role-only", "another-provider", "account-root", "a-service", "deny-on-sub",
                                  "audience-condition-fails", "subject-condition-fails"])
def test_web_identity_trust_must_allow_the_provider_this_flow(world: World, tmp_path: Path, case: str) -> None:
    host, provider = _oidc_provider(world, tmp_path)
    _, other = _oidc_provider(world, tmp_path, 1)
    web = "sts:AssumeRoleWithWebIdentity"
    statements = {
        "action-assume-role-only": [_federated(provider, "sts:AssumeRole")],
        "another-provider": [_federated(other, web)],
        "account-root": [statement("Allow", web, None, None, {"AWS": f"arn:aws:iam::{world.account}:root"})],
        "a-service": [statement("Allow", web, None, None, {"Service": ECS})],
        "deny-on-sub": [_federated(provider, web),
                        _federated(provider, web, {"StringLike": {f"{host}:sub": "repo:acme/*"}}, "Deny")],
        "audience-condition-fails": [_federated(provider, web, {"StringEquals": {f"{host}:aud": "another-client"}})],
        "subject-condition-fails": [_federated(provider, web, {"StringEquals": {f"{host}:sub": "repo:acme/other:ref:x"}})],
    }[case]
    _, role_arn = world.role(json.dumps(policy(*statements)), policy({"Effect": "Allow", "Action": "*", "Resource": "*"}))
    sts = _unsigned_sts(world)
    token = jwt(_KEY, claims(iss=f"https://{host}"))
    assert refused(lambda: sts.assume_role_with_web_identity(RoleArn=role_arn, RoleSessionName="s1", WebIdentityToken=token),
                   "AccessDenied", 403) == "Not authorized to perform sts:AssumeRoleWithWebIdentity"
    _, good = world.role(json.dumps(policy(_federated(provider, web))))  # the control
    assert sts.assume_role_with_web_identity(RoleArn=good, RoleSessionName="s1", WebIdentityToken=token)["Provider"] == host


def test_a_role_of_another_account_cannot_use_this_accounts_provider(world: World, tmp_path: Path) -> None:
    host, provider = _oidc_provider(world, tmp_path)
    b = world.other_account()
    _, role_arn = world.role(json.dumps(policy(_federated(provider, "sts:AssumeRoleWithWebIdentity"))), account=b)
    token = jwt(_KEY, claims(iss=f"https://{host}"))
    message = refused(lambda: _unsigned_sts(world).assume_role_with_web_identity(
        RoleArn=role_arn, RoleSessionName="s1", WebIdentityToken=token), "InvalidIdentityToken", 400)
    assert message == f"No OpenIDConnect provider found in your account for https://{host}"


# --- AssumeRoleWithSAML -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def idp() -> IdP:
    return IdP()


@pytest.mark.parametrize("case", ["action-assume-role-only", "another-provider", "account-root", "web-identity-action"])
def test_saml_trust_must_allow_the_provider_this_flow(world: World, idp: IdP, case: str) -> None:
    iam = world.admin_iam()
    provider, other = (iam.create_saml_provider(Name=unique("idp"), SAMLMetadataDocument=idp.metadata())["SAMLProviderArn"]
                       for _ in range(2))
    saml = "sts:AssumeRoleWithSAML"
    statements = {
        "action-assume-role-only": [_federated(provider, "sts:AssumeRole")],
        "another-provider": [_federated(other, saml)],
        "account-root": [statement("Allow", saml, None, None, {"AWS": world.account})],
        "web-identity-action": [_federated(provider, "sts:AssumeRoleWithWebIdentity")],
    }[case]
    _, role_arn = world.role(json.dumps(policy(*statements)), policy({"Effect": "Allow", "Action": "*", "Resource": "*"}))
    sts = _unsigned_sts(world)
    assert refused(lambda: sts.assume_role_with_saml(RoleArn=role_arn, PrincipalArn=provider,
                                                     SAMLAssertion=idp.signed(roles=[f"{role_arn},{provider}"])),
                   "AccessDenied", 403) == "Not authorized to perform sts:AssumeRoleWithSAML"
    _, good = world.role(json.dumps(policy(_federated(provider, saml))))  # the control
    out = sts.assume_role_with_saml(RoleArn=good, PrincipalArn=provider, SAMLAssertion=idp.signed(roles=[f"{good},{provider}"]))
    assert out["AssumedRoleUser"]["Arn"].endswith("/alice")
