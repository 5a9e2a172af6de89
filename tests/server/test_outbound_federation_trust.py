"""One iamroles trusts another's web identity tokens: server A (TLS, its issuer at https://localhost:PORT/oidc/ID)
issues them with GetWebIdentityToken, server B registers A's issuer as an OpenID Connect provider and exchanges them
for role credentials with AssumeRoleWithWebIdentity, fetching A's discovery document and JWKS over HTTPS as any
verifier does. Both servers real processes, per backend; the attacks a verifier must stop are tried at B.

AWS references: https://docs.aws.amazon.com/STS/latest/APIReference/API_GetWebIdentityToken.html,
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_outbound_token_claims.html,
https://docs.aws.amazon.com/IAM/latest/APIReference/API_DisableOutboundWebIdentityFederation.html ("does not affect
tokens that were issued before the feature was disabled"),
https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateOpenIDConnectProvider.html,
https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html (InvalidIdentityToken,
ExpiredTokenException), https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_create_oidc.html (trust
conditions on <provider>:aud and <provider>:sub); RFC 8725 (JSON Web Token Best Current Practices) section 2.1 and
3.1 (alg "none", and an HMAC keyed with the public key, must be refused).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from .conftest import Server, free_port, fresh_pg_database, start_server, stop_server, unique
from .test_operations import launch, make_ca_and_cert, stop, wait_for
from .test_partitions import Account, create_account

ACCOUNT_A = "111122223333"
ACCOUNT_B = "444455556666"
AUDIENCE = "iamroles-b"
GET_TOKEN = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:GetWebIdentityToken", "Resource": "*"}]}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


@dataclass
class Issuing:
    """Server A, over TLS: its URL, the CA that signed its certificate, its root key, where its data lives."""

    url: str
    ca: Path
    key: str
    secret: str
    data_dir: Path
    db_url: str | None
    proc: subprocess.Popen[bytes]
    log: Path

    def client(self, service: str, key: str | None = None, secret: str | None = None) -> Any:
        return boto3.client(service, endpoint_url=self.url, region_name="us-east-1", verify=str(self.ca),
                            aws_access_key_id=key or self.key, aws_secret_access_key=secret or self.secret,
                            config=Config(retries={"max_attempts": 1}))

    def tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))

    def advance(self, seconds: float) -> None:
        """Test mode: move the server's clock forward."""
        httpx.post(f"{self.url}/iamroles/test/clock", json={"advance": seconds}, verify=self.tls(), timeout=10).raise_for_status()


@dataclass
class World:
    a: Issuing
    b: Server
    issuer: str  # A's issuer for its account ACCOUNT_A
    provider_arn: str  # B's provider for that issuer

    @property
    def host(self) -> str:
        return self.issuer[len("https://"):]


@contextmanager
def _env(**values: str) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp(f"wif-{request.param}")
    ca, cert, key = make_ca_and_cert(tmp)
    with ExitStack() as stack:
        db_a = db_b = None
        if request.param == "postgresql":
            db_a = stack.enter_context(fresh_pg_database("iamroles_wif_a_"))
            db_b = stack.enter_context(fresh_pg_database("iamroles_wif_b_"))
        port = free_port()
        root_key, root_secret = "AKIA" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30)
        args = ["--port", str(port), "--data-dir", str(tmp / "a"), "--account-id", ACCOUNT_A, "--root-access-key", root_key,
                "--root-secret-key", root_secret, "--tls-cert", str(cert), "--tls-key", str(key), "--test-mode",
                "--public-url", f"https://localhost:{port}"] + (["--db", db_a] if db_a else [])
        proc, log = launch(tmp, *args)
        a = Issuing(f"https://localhost:{port}", ca, root_key, root_secret, tmp / "a", db_a, proc, log)
        stack.callback(lambda: stop(proc))
        wait_for(proc, log, a.url, verify=ssl.create_default_context(cafile=str(ca)))
        with _env(SSL_CERT_FILE=str(ca)):  # B trusts A's CA, as a verifier trusts a public CA
            b = start_server(tmp / "b", db_b, "--test-mode", account=ACCOUNT_B)
        stack.callback(lambda: stop_server(b))
        issuer = a.client("iam").enable_outbound_web_identity_federation()["IssuerIdentifier"]
        assert issuer.startswith(f"https://localhost:{port}/oidc/"), issuer
        provider = b.client("iam").create_open_id_connect_provider(Url=issuer, ClientIDList=[AUDIENCE, "other-aud"],
                                                                   ThumbprintList=["0" * 40])["OpenIDConnectProviderArn"]
        yield World(a, b, issuer, provider)


def user_of_a(world: World, account: Account | None = None) -> tuple[str, Any]:
    """A user of server A (of ``account``, else ACCOUNT_A) allowed GetWebIdentityToken: its ARN and STS client."""
    iam = world.a.client("iam", account.key if account else None, account.secret if account else None)
    name = unique("wl")
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    iam.put_user_policy(UserName=name, PolicyName="wif", PolicyDocument=json.dumps(GET_TOKEN))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return arn, world.a.client("sts", key["AccessKeyId"], key["SecretAccessKey"])


def role_of_b(world: World, condition: dict[str, Any]) -> str:
    """A role of server B that trusts A's issuer on ``condition``."""
    return str(world.b.client("iam").create_role(RoleName=unique("from-a"), AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Federated": world.provider_arn},
                       "Action": "sts:AssumeRoleWithWebIdentity", "Condition": condition}]}))["Role"]["Arn"])


def assume(world: World, role_arn: str, token: str) -> dict[str, Any]:
    sts = boto3.client("sts", endpoint_url=world.b.url, region_name="us-east-1", config=Config(signature_version=UNSIGNED, parameter_validation=False))
    return sts.assume_role_with_web_identity(RoleArn=role_arn, RoleSessionName="from-a", WebIdentityToken=token)  # type: ignore[no-any-return]


def refused(world: World, role_arn: str, token: str, code: str) -> str:
    with pytest.raises(ClientError) as exc:
        assume(world, role_arn, token)
    assert exc.value.response["Error"]["Code"] == code, exc.value.response
    return str(exc.value.response["Error"]["Message"])


def token_of(sts: Any, algorithm: str = "RS256", audience: str = AUDIENCE, **params: Any) -> str:
    return str(sts.get_web_identity_token(Audience=[audience], SigningAlgorithm=algorithm, **params)["WebIdentityToken"])


def jwks_of(world: World) -> dict[str, Any]:
    found = httpx.get(f"{world.issuer}/.well-known/jwks.json", verify=world.a.tls(), timeout=10)
    assert found.status_code == 200, found.text
    return found.json()  # type: ignore[no-any-return]


def kid(token: str) -> str:
    return str(json.loads(unb64(token.split(".")[0]))["kid"])


def test_another_iamroles_exchanges_the_token_for_a_role(world: World) -> None:
    """B registers A's issuer URL as an OIDC provider; a role trusting it on aud and sub gives A's workload credentials
    at B (both algorithms), SubjectFromWebIdentityToken its ARN; another principal of A (sub), a token for another
    audience, and a role whose trust wants another aud are refused."""
    alice, alice_sts = user_of_a(world)
    bob, bob_sts = user_of_a(world)
    role = role_of_b(world, {"StringEquals": {f"{world.host}:aud": AUDIENCE, f"{world.host}:sub": alice}})
    for algorithm in ("RS256", "ES384"):
        out = assume(world, role, token_of(alice_sts, algorithm))
        assert out["SubjectFromWebIdentityToken"] == alice and out["Provider"] == world.host and out["Audience"] == AUDIENCE
        creds = out["Credentials"]
        me = world.b.client("sts", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]).get_caller_identity()
        assert me["Arn"] == out["AssumedRoleUser"]["Arn"] and me["Account"] == ACCOUNT_B
    refused(world, role, token_of(bob_sts), "AccessDenied")  # the trust policy's sub
    assert refused(world, role, token_of(alice_sts, audience="someone-else"), "InvalidIdentityToken") == "Incorrect token audience"
    other_aud = role_of_b(world, {"StringEquals": {f"{world.host}:aud": "other-aud"}})
    refused(world, other_aud, token_of(alice_sts), "AccessDenied")  # a client id of the provider, not the one trusted
    assert assume(world, other_aud, token_of(alice_sts, audience="other-aud"))["Audience"] == "other-aud"


def test_what_a_verifier_must_refuse(world: World) -> None:
    """At B: a token of another account of A (another issuer, which B does not trust) whether its iss is left or
    rewritten to the trusted issuer; claims changed after signing; alg "none"; HS256 keyed with A's public key (the
    RS256 key's JWK or PEM); an ES384 signature relabelled RS256; garbage. Each is InvalidIdentityToken and gives
    nothing."""
    alice, alice_sts = user_of_a(world)
    role = role_of_b(world, {"StringEquals": {f"{world.host}:aud": AUDIENCE}})
    good = token_of(alice_sts)
    assert assume(world, role, good)["SubjectFromWebIdentityToken"] == alice
    head, payload, signature = good.split(".")
    claims = json.loads(unb64(payload))

    other = create_account(Server(world.a.url, ACCOUNT_A, world.a.key, world.a.secret, world.a.data_dir, world.a.db_url,
                                  world.a.proc, world.a.log))
    world.a.client("iam", other.key, other.secret).enable_outbound_web_identity_federation()
    _, mallory_sts = user_of_a(world, other)
    foreign = token_of(mallory_sts)
    assert "No OpenIDConnect provider found" in refused(world, role, foreign, "InvalidIdentityToken")
    f_head, f_payload, f_signature = foreign.split(".")
    posing = {**json.loads(unb64(f_payload)), "iss": world.issuer}
    refused(world, role, f"{f_head}.{b64(json.dumps(posing).encode())}.{f_signature}", "InvalidIdentityToken")
    # the foreign signature relabelled with the trusted issuer's kid
    relabelled = b64(json.dumps({"alg": "RS256", "kid": kid(good), "typ": "JWT"}).encode())
    refused(world, role, f"{relabelled}.{b64(json.dumps(posing).encode())}.{f_signature}", "InvalidIdentityToken")

    tampered = b64(json.dumps({**claims, "sub": f"arn:aws:iam::{ACCOUNT_A}:root"}).encode())
    refused(world, role, f"{head}.{tampered}.{signature}", "InvalidIdentityToken")
    later = b64(json.dumps({**claims, "exp": claims["exp"] + 86400}).encode())
    refused(world, role, f"{head}.{later}.{signature}", "InvalidIdentityToken")
    none = b64(json.dumps({"alg": "none", "kid": kid(good), "typ": "JWT"}).encode())
    refused(world, role, f"{none}.{payload}.", "InvalidIdentityToken")
    refused(world, role, f"{none}.{payload}.{signature}", "InvalidIdentityToken")
    public = next(k for k in jwks_of(world)["keys"] if k["kid"] == kid(good))
    for secret in (json.dumps(public).encode(), RSAKey.import_key(public).as_pem(private=False), unb64(public["n"])):
        hs = b64(json.dumps({"alg": "HS256", "kid": kid(good), "typ": "JWT"}).encode())
        mac = hmac.new(secret, f"{hs}.{payload}".encode(), hashlib.sha256).digest()
        refused(world, role, f"{hs}.{payload}.{b64(mac)}", "InvalidIdentityToken")
    es = token_of(alice_sts, "ES384")
    es_head, es_payload, es_signature = es.split(".")
    swapped = b64(json.dumps({**json.loads(unb64(es_head)), "alg": "RS256"}).encode())
    refused(world, role, f"{swapped}.{es_payload}.{es_signature}", "InvalidIdentityToken")
    for junk in ("", "a.b.c", good + "x", ".".join([head, payload]), good.replace(".", "..", 1)):
        with pytest.raises(ClientError) as exc:
            assume(world, role, junk)
        assert exc.value.response["Error"]["Code"] in ("InvalidIdentityToken", "ValidationError"), exc.value.response
    # verified with joserfc as well: the published keys take the good token, none of the forgeries
    assert jwt.decode(good, KeySet.import_key_set(jwks_of(world)), algorithms=["RS256"]).claims["sub"] == alice


def test_rotated_keys_reach_the_verifier(world: World) -> None:
    """``rotate-web-identity --now`` on A's store: the next token names the new key; B, whose cached JWKS lacks it,
    fetches the issuer's keys again and accepts it; a token signed before the rotation still verifies at B."""
    alice, alice_sts = user_of_a(world)
    role = role_of_b(world, {"StringEquals": {f"{world.host}:sub": alice}})
    before = token_of(alice_sts)
    assume(world, role, before)
    cmd = [sys.executable, "-m", "iamroles", "keys", "rotate-web-identity", "--now", "--account-id", ACCOUNT_A,
           "--data-dir", str(world.a.data_dir), "--json"] + (["--db", world.a.db_url] if world.a.db_url else [])
    new = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)[ACCOUNT_A]["new"]
    time.sleep(5.5)  # A's cache TTL (1 s); B fetches an issuer's keys again at most every 5 s
    after = token_of(alice_sts)
    assert kid(after) in new and kid(after) != kid(before)
    assert assume(world, role, after)["SubjectFromWebIdentityToken"] == alice
    assert assume(world, role, before)["SubjectFromWebIdentityToken"] == alice


def test_a_rotated_key_is_published_before_it_signs(world: World) -> None:
    """Without --now the new keys are in the JWKS at once and sign ten minutes later (A's clock moved on, in test
    mode): verifiers that cache the JWKS for its max-age have seen them before they meet a token they signed."""
    alice, alice_sts = user_of_a(world)
    current = kid(token_of(alice_sts, "ES384"))
    cmd = [sys.executable, "-m", "iamroles", "keys", "rotate-web-identity", "--account-id", ACCOUNT_A,
           "--data-dir", str(world.a.data_dir), "--json"] + (["--db", world.a.db_url] if world.a.db_url else [])
    new = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)[ACCOUNT_A]["new"]
    time.sleep(1.5)
    assert set(new) <= {k["kid"] for k in jwks_of(world)["keys"]}
    assert kid(token_of(alice_sts, "ES384")) == current
    cache = httpx.get(f"{world.issuer}/.well-known/jwks.json", verify=world.a.tls(), timeout=10).headers["cache-control"]
    assert cache == "public, max-age=300"
    world.a.advance(601)  # within SigV4's 15 minutes: A still takes our signed calls
    later = token_of(alice_sts, "ES384")
    assert kid(later) in new
    role = role_of_b(world, {"StringEquals": {f"{world.host}:sub": alice}})
    time.sleep(5)
    assert assume(world, role, later)["SubjectFromWebIdentityToken"] == alice


def test_disabling_stops_new_tokens_and_then_the_issuer(world: World) -> None:
    """Disabled, A issues no token (OutboundWebIdentityFederationDisabledException) but what it issued before still
    verifies, at B too (AWS: disabling "does not affect tokens that were issued before"); B refuses it once expired
    (ExpiredTokenException, B's clock moved on); once every token A issued may have expired, A's issuer documents
    answer 404 (A's clock moved on). Last: it moves the servers' clocks past what signed calls allow."""
    alice, alice_sts = user_of_a(world)
    role = role_of_b(world, {"StringEquals": {f"{world.host}:sub": alice}})
    issued = token_of(alice_sts, "RS256", DurationSeconds=300)
    world.a.client("iam").disable_outbound_web_identity_federation()
    with pytest.raises(ClientError) as exc:
        token_of(alice_sts)
    assert exc.value.response["Error"]["Code"] == "OutboundWebIdentityFederationDisabledException"
    assert jwt.decode(issued, KeySet.import_key_set(jwks_of(world)), algorithms=["RS256"]).claims["sub"] == alice
    assert assume(world, role, issued)["SubjectFromWebIdentityToken"] == alice

    left = json.loads(unb64(issued.split(".")[1]))["exp"] - time.time()  # (A's clock may run ahead: test mode)
    httpx.post(f"{world.b.url}/iamroles/test/clock", json={"advance": left + 5}, timeout=10).raise_for_status()
    refused(world, role, issued, "ExpiredTokenException")

    world.a.advance(3600 + 300)
    for doc in ("openid-configuration", "jwks.json"):
        assert httpx.get(f"{world.issuer}/.well-known/{doc}", verify=world.a.tls(), timeout=10).status_code == 404
