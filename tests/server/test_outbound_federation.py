"""Outbound identity federation against a real server on both backends: the account's setting, GetWebIdentityToken's
tokens verified against the issuer's published JWKS with joserfc, validation, authorisation, rotation and audit.

AWS references:
https://docs.aws.amazon.com/IAM/latest/APIReference/API_EnableOutboundWebIdentityFederation.html (IssuerIdentifier;
FeatureEnabled, 409), https://docs.aws.amazon.com/IAM/latest/APIReference/API_DisableOutboundWebIdentityFederation.html
(FeatureDisabled, 404; tokens issued before are not affected),
https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetOutboundWebIdentityFederationInfo.html (IssuerIdentifier,
JwtVendingEnabled; FeatureDisabled),
https://docs.aws.amazon.com/STS/latest/APIReference/API_GetWebIdentityToken.html (Audience 1..10 of 1..1000
characters, DurationSeconds 60..3600 default 300, SigningAlgorithm RS256 | ES384, up to 50 Tags;
OutboundWebIdentityFederationDisabledException 403, SessionDurationEscalationException 403,
JWTPayloadSizeExceededException 400),
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_outbound_token_claims.html (the claims: iss, aud,
sub, iat, exp, jti, and aws_account, source_region, principal_tags, request_tags, org_id, ou_path under
https://sts.amazonaws.com/), https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_outbound_getting_started.html
(disabled by default; the policy on sts:IdentityTokenAudience and sts:DurationSeconds),
https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssecuritytokenservice.html
(sts:GetWebIdentityToken with sts:IdentityTokenAudience, sts:DurationSeconds, sts:SigningAlgorithm, aws:RequestTag,
aws:TagKeys; sts:TagGetWebIdentityToken), https://openid.net/specs/openid-connect-discovery-1_0.html.
"""
from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from .conftest import Server, unique
from .test_audit import read_trail, request_id
from .test_partitions import Account, create_account
from .test_sts import make_user

NAMESPACE = "https://sts.amazonaws.com/"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def refused(call: Any, code: str, status: int) -> str:
    with pytest.raises(ClientError) as exc:
        call()
    err = exc.value.response
    assert (err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]) == (code, status), err
    return str(err["Error"]["Message"])


def clients(server: Server, account: Account, validate: bool = True) -> tuple[Any, Any]:
    return (server.client("iam", account.key, account.secret, validate=validate),
            server.client("sts", account.key, account.secret, validate=validate))


def published(issuer: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The issuer's discovery document and the JWKS it points to, fetched as a verifier does (no credentials)."""
    discovery = httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=10)
    assert discovery.status_code == 200, discovery.text
    config = discovery.json()
    keys = httpx.get(config["jwks_uri"], timeout=10)
    assert keys.status_code == 200, keys.text
    return config, keys.json()


def verify(token: str, jwks: dict[str, Any], algorithm: str) -> jwt.Token:
    """The token, its signature verified by joserfc against the published key set (by the header's kid)."""
    return jwt.decode(token, KeySet.import_key_set(jwks), algorithms=[algorithm])


def rotate(server: Server, account: str, *extra: str) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "iamroles", "keys", "rotate-web-identity", "--account-id", account, "--data-dir",
           str(server.data_dir), "--json", *extra]
    cmd += ["--db", server.db_url] if server.db_url else []
    return json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)  # type: ignore[no-any-return]


@pytest.fixture
def account(server: Server) -> Account:
    """A fresh account of the server's store (so that its federation starts disabled, as AWS's does)."""
    return create_account(server)


@pytest.fixture
def enabled(server: Server, account: Account) -> tuple[Account, str]:
    iam, _ = clients(server, account)
    return account, iam.enable_outbound_web_identity_federation()["IssuerIdentifier"]


def test_disabled_by_default_then_enabled_and_disabled(server: Server, account: Account) -> None:
    """Disabled until enabled (getting started): Get and Disable answer FeatureDisabled (404), GetWebIdentityToken
    OutboundWebIdentityFederationDisabledException (403), and the account has no issuer to fetch. Enable answers the
    issuer URL (a random id under the server's public URL, not the account id) and FeatureEnabled (409) the second
    time; disabling keeps the issuer (JwtVendingEnabled false), and enabling again gives the same one."""
    iam, sts = clients(server, account)
    refused(iam.get_outbound_web_identity_federation_info, "FeatureDisabled", 404)
    refused(iam.disable_outbound_web_identity_federation, "FeatureDisabled", 404)
    refused(lambda: sts.get_web_identity_token(Audience=["https://api.example.com"], SigningAlgorithm="RS256"),
            "OutboundWebIdentityFederationDisabledException", 403)

    issuer = iam.enable_outbound_web_identity_federation()["IssuerIdentifier"]
    assert re.fullmatch(re.escape(server.url) + r"/oidc/[0-9a-f]{32}", issuer), issuer
    assert account.account_id not in issuer
    refused(iam.enable_outbound_web_identity_federation, "FeatureEnabled", 409)
    info = iam.get_outbound_web_identity_federation_info()
    assert (info["IssuerIdentifier"], info["JwtVendingEnabled"]) == (issuer, True)
    config, jwks = published(issuer)
    assert config["issuer"] == issuer and config["jwks_uri"] == f"{issuer}/.well-known/jwks.json"
    assert set(config["id_token_signing_alg_values_supported"]) == {"RS256", "ES384"}
    assert sorted(k["alg"] for k in jwks["keys"]) == ["ES384", "RS256"]
    assert all(set(k) >= {"kid", "kty", "use", "alg"} and k["use"] == "sig" for k in jwks["keys"])
    assert not any(private in k for k in jwks["keys"] for private in ("d", "p", "q", "dp", "dq", "qi"))

    iam.disable_outbound_web_identity_federation()
    refused(iam.disable_outbound_web_identity_federation, "FeatureDisabled", 404)
    info = iam.get_outbound_web_identity_federation_info()
    assert (info["IssuerIdentifier"], info["JwtVendingEnabled"]) == (issuer, False)
    refused(lambda: sts.get_web_identity_token(Audience=["a"], SigningAlgorithm="ES384"),
            "OutboundWebIdentityFederationDisabledException", 403)
    assert iam.enable_outbound_web_identity_federation()["IssuerIdentifier"] == issuer


def test_tokens_verify_against_the_published_keys(server: Server, enabled: tuple[Account, str]) -> None:
    """Each algorithm's token verifies with joserfc against the JWKS the discovery document names, its header naming
    the key (kid) and the algorithm asked for; the claims are AWS's: iss the account's issuer, sub the caller's ARN,
    aud as asked (a list for several), iat/exp DurationSeconds apart (300 by default) and Expiration = exp, a jti of its
    own per token, and the account, region, principal id and tags under https://sts.amazonaws.com/."""
    account, issuer = enabled
    iam, sts = clients(server, account)
    _, jwks = published(issuer)
    seen = set()
    for algorithm in ("RS256", "ES384"):
        before = int(time.time())
        out = sts.get_web_identity_token(Audience=["https://api.example.com"], SigningAlgorithm=algorithm)
        token = verify(out["WebIdentityToken"], jwks, algorithm)
        assert token.header["alg"] == algorithm and token.header["typ"] == "JWT"
        assert token.header["kid"] in {k["kid"] for k in jwks["keys"] if k["alg"] == algorithm}
        claims = token.claims
        root = f"arn:aws:iam::{account.account_id}:root"
        assert (claims["iss"], claims["sub"], claims["aud"]) == (issuer, root, "https://api.example.com")
        assert before - 2 <= claims["iat"] <= int(time.time()) + 2 and claims["exp"] - claims["iat"] == 300
        assert out["Expiration"] == datetime.fromtimestamp(claims["exp"], UTC)
        assert claims[NAMESPACE] == {"aws_account": account.account_id, "source_region": "us-east-1", "principal_id": root}
        jwt.JWTClaimsRegistry(iss={"essential": True, "value": issuer}, aud={"essential": True, "value": "https://api.example.com"},
                              sub={"essential": True, "value": root}).validate(claims)
        seen.add(claims["jti"])
    assert len(seen) == 2

    several = sts.get_web_identity_token(Audience=["https://a.example.com", "https://b.example.com"], SigningAlgorithm="ES384",
                                         DurationSeconds=3600)
    claims = verify(several["WebIdentityToken"], jwks, "ES384").claims
    assert claims["aud"] == ["https://a.example.com", "https://b.example.com"] and claims["exp"] - claims["iat"] == 3600
    shortest = verify(sts.get_web_identity_token(Audience=["x"], SigningAlgorithm="RS256", DurationSeconds=60)["WebIdentityToken"],
                      jwks, "RS256").claims
    assert shortest["exp"] - shortest["iat"] == 60

    # a user's ARN and tags, the request's tags apart from them (a request tag cannot pose as a principal tag)
    user, key = make_user(iam, server, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["sts:GetWebIdentityToken", "sts:TagGetWebIdentityToken"], "Resource": "*"}]})
    iam.tag_user(UserName=user["UserName"], Tags=[{"Key": "team", "Value": "data"}])
    time.sleep(1.2)  # the tag reaches the key's cached principal within the cache TTL
    alice = server.client("sts", key["AccessKeyId"], key["SecretAccessKey"])
    out = alice.get_web_identity_token(Audience=["svc"], SigningAlgorithm="RS256", Tags=[{"Key": "team", "Value": "forged"},
                                                                                         {"Key": "job", "Value": "42"}])
    claims = verify(out["WebIdentityToken"], jwks, "RS256").claims
    assert claims["sub"] == user["Arn"] and claims[NAMESPACE]["principal_id"] == user["Arn"]
    assert claims[NAMESPACE]["principal_tags"] == {"team": "data"}
    assert claims[NAMESPACE]["request_tags"] == {"team": "forged", "job": "42"}


def test_a_role_session_is_its_role(server: Server, enabled: tuple[Account, str]) -> None:
    """For a role session, sub and principal_id are the role's ARN (STS's model: "For a role session, this is the ARN
    of the role"), and principal_tags are the session's (its session tags over the role's tags); a token may not
    outlive the session it was asked with (SessionDurationEscalationException, 403)."""
    account, issuer = enabled
    iam, sts = clients(server, account)
    role = unique("wif")
    arn = iam.create_role(RoleName=role, Path="/apps/", Tags=[{"Key": "env", "Value": "prod"}], AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account.account_id}:root"},
                                                "Action": ["sts:AssumeRole", "sts:TagSession"]}]}))["Role"]["Arn"]
    iam.put_role_policy(RoleName=role, PolicyName="wif", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:GetWebIdentityToken", "Resource": "*"}]}))
    user, key = make_user(iam, server, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:TagSession"], "Resource": arn}]})
    creds = server.client("sts", key["AccessKeyId"], key["SecretAccessKey"]).assume_role(
        RoleArn=arn, RoleSessionName="job-7", DurationSeconds=900, Tags=[{"Key": "env", "Value": "staging"}])["Credentials"]
    session = server.client("sts", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    out = session.get_web_identity_token(Audience=["svc"], SigningAlgorithm="ES384", DurationSeconds=600)
    claims = verify(out["WebIdentityToken"], published(issuer)[1], "ES384").claims
    assert claims["sub"] == arn == claims[NAMESPACE]["principal_id"]
    assert claims[NAMESPACE]["principal_tags"] == {"env": "staging"}
    refused(lambda: session.get_web_identity_token(Audience=["svc"], SigningAlgorithm="ES384", DurationSeconds=3600),
            "SessionDurationEscalationException", 403)


def test_bad_input_is_refused_and_nothing_is_issued(server: Server, enabled: tuple[Account, str]) -> None:
    """The model's bounds (ValidationError, 400: audiences 1..10 of 1..1000 characters, DurationSeconds 60..3600, at
    most 50 tags of AWS's lengths), the two algorithms (HS256 and none among those refused), duplicate tag keys in any
    case (InvalidParameterValue, as AssumeRole), SubjectMode OriginIdentity and Scope without a trusted identity
    propagation context (ValidationError), and claims over the payload cap (JWTPayloadSizeExceededException)."""
    account, _ = enabled
    _, sts = clients(server, account, validate=False)

    def bad(code: str, **params: Any) -> str:
        request = {"Audience": ["https://api.example.com"], "SigningAlgorithm": "RS256", **params}
        return refused(lambda: sts.get_web_identity_token(**request), code, 400)

    bad("ValidationError", Audience=[])
    bad("ValidationError", Audience=[f"https://{i}.example.com" for i in range(11)])
    bad("ValidationError", Audience=["a" * 1001])
    bad("ValidationError", Audience=[""])
    for duration in (59, 3601, 0, -1):
        bad("ValidationError", DurationSeconds=duration)
    for algorithm in ("HS256", "RS512", "none", "ES256", "rs256", "RS256 "):
        bad("ValidationError", SigningAlgorithm=algorithm)
    bad("ValidationError", Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)])
    bad("ValidationError", Tags=[{"Key": "k" * 129, "Value": "v"}])
    bad("ValidationError", Tags=[{"Key": "k", "Value": "v" * 257}])
    bad("InvalidParameterValue", Tags=[{"Key": "Team", "Value": "a"}, {"Key": "team", "Value": "b"}])
    bad("ValidationError", SubjectMode="OriginIdentity")
    bad("ValidationError", SubjectMode="Someone")
    bad("ValidationError", Scope="read")
    bad("ValidationError", SubjectMode="OriginIdentity", Scope="read")
    big = [{"Key": f"{i:02d}" + "k" * 126, "Value": "v" * 256} for i in range(50)]
    bad("JWTPayloadSizeExceededException", Tags=big)
    # what is within the bounds works
    assert sts.get_web_identity_token(Audience=["a" * 1000] * 10, SigningAlgorithm="RS256", SubjectMode="AWSIdentity",
                                      Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])["WebIdentityToken"]


def test_who_may_get_a_token(server: Server, enabled: tuple[Account, str]) -> None:
    """sts:GetWebIdentityToken is authorised with its condition keys (the getting-started guide's policy: every
    audience one allowed, NumericLessThanEquals on sts:DurationSeconds, which holds the 300-second default when the
    request names none; sts:SigningAlgorithm), Tags need sts:TagGetWebIdentityToken with aws:TagKeys, and the IAM
    operations their own actions; a refusal is AccessDenied (403) and changes nothing. Credentials from
    GetSessionToken may call only AssumeRole and GetCallerIdentity in STS."""
    account, issuer = enabled
    iam, _ = clients(server, account)
    _, nothing = make_user(iam, server)
    none = server.client("sts", nothing["AccessKeyId"], nothing["SecretAccessKey"])
    refused(lambda: none.get_web_identity_token(Audience=["https://api.example.com"], SigningAlgorithm="RS256"), "AccessDenied", 403)
    no_iam = server.client("iam", nothing["AccessKeyId"], nothing["SecretAccessKey"])
    refused(no_iam.get_outbound_web_identity_federation_info, "AccessDenied", 403)
    refused(no_iam.disable_outbound_web_identity_federation, "AccessDenied", 403)
    assert iam.get_outbound_web_identity_federation_info()["JwtVendingEnabled"] is True  # not disabled by the refusal

    _, key = make_user(iam, server, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sts:GetWebIdentityToken", "Resource": "*", "Condition": {
            "ForAllValues:StringEquals": {"sts:IdentityTokenAudience": ["https://api.example.com", "https://other.example.com"]},
            "NumericLessThanEquals": {"sts:DurationSeconds": "300"},
            "StringEquals": {"sts:SigningAlgorithm": "ES384"}}},
        {"Effect": "Allow", "Action": "sts:TagGetWebIdentityToken", "Resource": "*",
         "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["job"]}}}]})
    sts = server.client("sts", key["AccessKeyId"], key["SecretAccessKey"])

    def ok(**params: Any) -> None:
        assert sts.get_web_identity_token(**{"Audience": ["https://api.example.com"], "SigningAlgorithm": "ES384", **params})["WebIdentityToken"]

    def denied(**params: Any) -> None:
        request = {"Audience": ["https://api.example.com"], "SigningAlgorithm": "ES384", **params}
        refused(lambda: sts.get_web_identity_token(**request), "AccessDenied", 403)

    ok()
    ok(Audience=["https://api.example.com", "https://other.example.com"], DurationSeconds=300)
    ok(Tags=[{"Key": "job", "Value": "1"}])
    denied(Audience=["https://api.example.com", "https://evil.example.com"])
    denied(Audience=["https://evil.example.com"])
    denied(DurationSeconds=301)
    denied(SigningAlgorithm="RS256")
    denied(Tags=[{"Key": "job", "Value": "1"}, {"Key": "admin", "Value": "true"}])

    session = server.client("sts", key["AccessKeyId"], key["SecretAccessKey"]).get_session_token()["Credentials"]
    limited = server.client("sts", session["AccessKeyId"], session["SecretAccessKey"], session["SessionToken"])
    message = refused(lambda: limited.get_web_identity_token(Audience=["https://api.example.com"], SigningAlgorithm="ES384"),
                      "AccessDenied", 403)
    assert message == "Cannot call GetWebIdentityToken with session credentials"


def test_the_token_never_reaches_the_trail_or_the_log(server: Server, enabled: tuple[Account, str]) -> None:
    """The call is audited like every credential issuance (its event committed before the answer), with the request's
    parameters, but the token (sensitive in STS's model) is never written: not in the trail, not in the server's log."""
    account, _ = enabled
    _, sts = clients(server, account)
    out = sts.get_web_identity_token(Audience=["https://audited.example.com"], SigningAlgorithm="RS256")
    token = out["WebIdentityToken"]
    events, raw = read_trail(server)
    event = next(e for e in events if e.get("requestID") == request_id(out))
    assert event["eventName"] == "GetWebIdentityToken" and event["eventSource"] == "sts.amazonaws.com"
    assert event["requestParameters"]["audience"] == ["https://audited.example.com"]
    signature = token.rsplit(".", 1)[1]
    for secret in (token, signature, token.split(".")[1]):
        assert secret not in raw
        assert secret not in server.log.read_text()


def test_rotation_keeps_old_tokens_verifying(server: Server, enabled: tuple[Account, str]) -> None:
    """``iamroles keys rotate-web-identity``: the new keys are published at once; without --now the old key goes on
    signing (the new one signs 10 minutes later, once verifiers caching the JWKS know it); with --now new tokens name
    the new key at once. A rotated-out key stays published while tokens it signed may live, so they still verify."""
    account, issuer = enabled
    _, sts = clients(server, account)

    def token(algorithm: str) -> str:
        return sts.get_web_identity_token(Audience=["svc"], SigningAlgorithm=algorithm)["WebIdentityToken"]  # type: ignore[no-any-return]

    old = {a: token(a) for a in ("RS256", "ES384")}
    old_kids = {a: verify(t, published(issuer)[1], a).header["kid"] for a, t in old.items()}

    ahead = rotate(server, account.account_id)[account.account_id]["new"]
    time.sleep(1.5)  # another process's write reaches the server within its cache TTL (1 s)
    jwks = published(issuer)[1]
    assert set(ahead) <= {k["kid"] for k in jwks["keys"]}  # published before it signs
    for algorithm in ("RS256", "ES384"):
        assert verify(token(algorithm), jwks, algorithm).header["kid"] == old_kids[algorithm]

    now = rotate(server, account.account_id, "--now")[account.account_id]["new"]
    time.sleep(1.5)
    jwks = published(issuer)[1]
    for algorithm, t in old.items():
        assert verify(t, jwks, algorithm).header["kid"] == old_kids[algorithm]  # old tokens still verify
        fresh = verify(token(algorithm), jwks, algorithm).header["kid"]
        assert fresh in now and fresh != old_kids[algorithm]
    assert len({k["kid"] for k in jwks["keys"]}) == 6


def test_issuers_are_apart(server: Server, enabled: tuple[Account, str]) -> None:
    """Every account has its own keys: another account's token does not verify against this issuer's JWKS, whatever
    its claims say; an issuer id that is not one, or is malformed, is 404 (no credentials needed to ask, nothing said),
    and the documents answer GET only."""
    account, issuer = enabled
    other = create_account(server)
    other_iam, other_sts = clients(server, other)
    other_issuer = other_iam.enable_outbound_web_identity_federation()["IssuerIdentifier"]
    assert other_issuer != issuer
    _, jwks = published(issuer)
    _, other_jwks = published(other_issuer)
    assert not {k["kid"] for k in jwks["keys"]} & {k["kid"] for k in other_jwks["keys"]}
    for algorithm in ("RS256", "ES384"):
        foreign = other_sts.get_web_identity_token(Audience=["svc"], SigningAlgorithm=algorithm)["WebIdentityToken"]
        with pytest.raises((JoseError, ValueError)):
            verify(foreign, jwks, algorithm)
        # the same token made to name this issuer's key of that algorithm: its signature is still the other key's
        mine = next(k["kid"] for k in jwks["keys"] if k["alg"] == algorithm)
        _, payload, signature = foreign.split(".")
        header = b64(json.dumps({"alg": algorithm, "kid": mine, "typ": "JWT"}).encode())
        with pytest.raises((JoseError, ValueError)):
            verify(f"{header}.{payload}.{signature}", jwks, algorithm)
    base = issuer.rsplit("/", 1)[0]
    for path in ("0" * 32, "f" * 32, "not-an-id", issuer.rsplit("/", 1)[1] + "0", issuer.rsplit("/", 1)[1].upper()):
        for doc in ("openid-configuration", "jwks.json"):
            assert httpx.get(f"{base}/{path}/.well-known/{doc}", timeout=10).status_code == 404
    assert httpx.post(f"{issuer}/.well-known/jwks.json", timeout=10).status_code == 405
    never = create_account(server)
    refused(clients(server, never)[0].get_outbound_web_identity_federation_info, "FeatureDisabled", 404)


def test_concurrent_enables_make_one_issuer(server: Server, account: Account) -> None:
    """Racing EnableOutboundWebIdentityFederation calls on one account: one succeeds, the others answer FeatureEnabled
    (409), and the account has one issuer and one key per algorithm (the account's row lock on PostgreSQL, the one
    writer on SQLite)."""
    from concurrent.futures import ThreadPoolExecutor

    iams = [clients(server, account)[0] for _ in range(6)]

    def enable(iam: Any) -> str:
        try:
            return str(iam.enable_outbound_web_identity_federation()["IssuerIdentifier"])
        except ClientError as exc:
            return str(exc.response["Error"]["Code"])

    with ThreadPoolExecutor(len(iams)) as pool:
        answers = list(pool.map(enable, iams))
    issuers = [a for a in answers if a.startswith("http")]
    assert len(issuers) == 1 and answers.count("FeatureEnabled") == len(iams) - 1, answers
    assert iams[0].get_outbound_web_identity_federation_info()["IssuerIdentifier"] == issuers[0]
    assert sorted(k["alg"] for k in published(issuers[0])[1]["keys"]) == ["ES384", "RS256"]
