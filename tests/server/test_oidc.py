"""OIDC federation: AssumeRoleWithWebIdentity with a real RS256-signed JWT.

AWS references: https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html
(unsigned request; InvalidIdentityToken, IDPRejectedClaim, ExpiredTokenException; an audience none of the
provider's client ids is InvalidIdentityToken "Incorrect token audience" as STS answers it: awslabs/amazon-eks-irsa-cfn#18,
aws-actions/configure-aws-credentials#775; no aud at all, "Missing a required claim: aud": aws/aws-sdk-ruby#2698),
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_create_oidc.html (trust policy on
<provider>:aud and <provider>:sub), https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateOpenIDConnectProvider.html.
"""
from __future__ import annotations

import base64
import json
import subprocess
import sys
import time

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .conftest import Server, unique
from .test_roles import error

ISSUER_HOST = "token.ci.example.com"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def int_b64(n: int) -> str:
    return b64(n.to_bytes((n.bit_length() + 7) // 8, "big"))


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwks_of(key: rsa.RSAPrivateKey, kid: str = "k1") -> dict:
    pub = key.public_key().public_numbers()
    return {"keys": [{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": int_b64(pub.n), "e": int_b64(pub.e)}]}


def jwt(key: rsa.RSAPrivateKey, claims: dict, kid: str = "k1") -> str:
    header = b64(json.dumps({"alg": "RS256", "typ": "JWT", "kid": kid}).encode())
    payload = b64(json.dumps(claims).encode())
    sig = key.sign(f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{header}.{payload}.{b64(sig)}"


def claims(**over: object) -> dict:
    now = int(time.time())
    base = {"iss": f"https://{ISSUER_HOST}", "aud": "sts.amazonaws.com", "sub": "repo:acme/app:ref:refs/heads/main",
            "iat": now, "nbf": now - 5, "exp": now + 600}
    base.update(over)
    return base


def test_web_identity_federation(server: Server, signing_key: rsa.RSAPrivateKey, tmp_path) -> None:  # type: ignore[no-untyped-def]
    iam = server.client("iam")
    arn = iam.create_open_id_connect_provider(Url=f"https://{ISSUER_HOST}", ClientIDList=["sts.amazonaws.com"],
                                              ThumbprintList=["a" * 40])["OpenIDConnectProviderArn"]
    assert arn == f"arn:aws:iam::{server.account}:oidc-provider/{ISSUER_HOST}"
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert got["Url"] == ISSUER_HOST and got["ClientIDList"] == ["sts.amazonaws.com"]
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps(jwks_of(signing_key)))
    subprocess.run([sys.executable, "-m", "iamroles", "oidc", "jwks", arn, str(jwks_file), "--data-dir", str(server.data_dir),
                    *(["--db", server.db_url] if server.db_url else [])], check=True, capture_output=True)

    role = unique("ci-deploy")
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Federated": arn}, "Action": "sts:AssumeRoleWithWebIdentity",
                       "Condition": {"StringEquals": {f"{ISSUER_HOST}:aud": "sts.amazonaws.com"},
                                     "StringLike": {f"{ISSUER_HOST}:sub": "repo:acme/app:*"}}}],
    }))["Role"]["Arn"]
    # unsigned, as the SDKs send it
    sts = boto3.client("sts", endpoint_url=server.url, region_name="us-east-1", config=Config(signature_version=UNSIGNED))

    out = sts.assume_role_with_web_identity(RoleArn=role_arn, RoleSessionName="gha-run", WebIdentityToken=jwt(signing_key, claims()))
    assert out["SubjectFromWebIdentityToken"] == "repo:acme/app:ref:refs/heads/main"
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{server.account}:assumed-role/{role}/gha-run"
    creds = out["Credentials"]
    me = server.client("sts", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]).get_caller_identity()
    assert me["Arn"] == out["AssumedRoleUser"]["Arn"]

    def refused(token: str, code: str, message: str | None = None, status: int = 400) -> None:
        with pytest.raises(ClientError) as exc:
            sts.assume_role_with_web_identity(RoleArn=role_arn, RoleSessionName="gha-run", WebIdentityToken=token)
        assert error(exc)[0] == code, error(exc)
        if message is not None:
            assert error(exc)[1:] == (status, message), error(exc)

    refused(jwt(signing_key, claims(sub="repo:evil/app:ref:refs/heads/main")), "AccessDenied")  # trust condition on sub
    refused(jwt(signing_key, claims(aud="someone-else")), "InvalidIdentityToken", "Incorrect token audience")
    refused(jwt(signing_key, claims(aud=["someone-else", "another"])), "InvalidIdentityToken", "Incorrect token audience")
    refused(jwt(signing_key, claims(aud=[])), "InvalidIdentityToken", "Missing a required claim: aud")
    no_aud = claims()
    del no_aud["aud"]
    refused(jwt(signing_key, no_aud), "InvalidIdentityToken", "Missing a required claim: aud")
    refused(jwt(signing_key, claims(aud=7)), "InvalidIdentityToken", "Missing a required claim: aud")
    # one of several audiences matching is enough
    assert sts.assume_role_with_web_identity(RoleArn=role_arn, RoleSessionName="gha-run", WebIdentityToken=jwt(
        signing_key, claims(aud=["someone-else", "sts.amazonaws.com"])))["Audience"] == "sts.amazonaws.com"
    refused(jwt(signing_key, claims(exp=int(time.time()) - 10)), "ExpiredTokenException")
    refused(jwt(signing_key, claims(iss="https://unknown.example.com")), "InvalidIdentityToken")
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    refused(jwt(other_key, claims()), "InvalidIdentityToken")  # not signed by the provider's key
    good = jwt(signing_key, claims())
    head, payload, sig = good.split(".")
    forged = b64(json.dumps(claims(sub="repo:acme/app:ref:refs/heads/evil")).encode())
    refused(f"{head}.{forged}.{sig}", "InvalidIdentityToken")  # claims changed after signing
    none_alg = b64(json.dumps({"alg": "none", "kid": "k1"}).encode())
    refused(f"{none_alg}.{payload}.", "InvalidIdentityToken")
    refused("not-a-jwt", "InvalidIdentityToken")


def test_identity_center_settings_are_refused_not_ignored(iam) -> None:  # type: ignore[no-untyped-def]
    """Trusted identity propagation (ContextProvider, IdentityCenterInstanceArn; API_CreateOpenIDConnectProvider.html)
    configures IAM Identity Center, which iamroles does not have: refused, as CreateSAMLProvider refuses them, and
    nothing is created."""
    url = f"https://{unique('tip')}.example.com"
    for extra in ({"ContextProvider": {"SubjectSourceKey": "sub"}},
                  {"IdentityCenterInstanceArn": "arn:aws:sso:::instance/ssoins-1234567890abcdef"}):
        with pytest.raises(ClientError) as exc:
            iam.create_open_id_connect_provider(Url=url, ClientIDList=["x"], ThumbprintList=["a" * 40], **extra)
        code, status, message = error(exc)
        assert (code, status) == ("InvalidInput", 400) and "IAM Identity Center" in message
    arns = [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
    assert not any(a.endswith(url[len("https://"):]) for a in arns)
