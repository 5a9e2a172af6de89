"""The Authenticator, in process over a real SQLite store: requests signed by botocore, AWS's error codes for each
way a request fails to authenticate.

AWS's codes: a key that does not exist (or of another partition) InvalidClientTokenId, "The security token included
in the request is invalid." (https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html); a wrong
signature SignatureDoesNotMatch; an expired session token ExpiredToken
(https://docs.aws.amazon.com/IAM/latest/APIReference/CommonErrors.html).
"""
from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlencode
from xml.etree import ElementTree

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from iamroles.auth import sigv4
from iamroles.auth.caller import Caller
from iamroles.errors import AwsError, ExpiredToken, InvalidClientTokenId, SignatureDoesNotMatch
from iamroles.runtime import Service
from iamroles.server.bootstrap import Settings, bootstrap
from iamroles.server.query import handle
from iamroles.tokens import key_id

ROOT_KEY = "AKIAAUTHNTEST0000001"
ROOT_SECRET = "authn-test-root-secret-000000000000000000"
INVALID_TOKEN = "The security token included in the request is invalid."


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    settings = Settings(tmp_path_factory.mktemp("authn"), root_access_key=ROOT_KEY, root_secret_key=ROOT_SECRET)
    store, master_key, _ = bootstrap(settings)
    yield Service(store, master_key)
    store.close()


def signed(params: dict[str, str], key: str = ROOT_KEY, secret: str = ROOT_SECRET, token: str | None = None,
           region: str = "us-east-1", service: str = "sts") -> tuple[sigv4.HttpRequest, dict[str, str]]:
    body = urlencode(params)
    req = AWSRequest("POST", "http://127.0.0.1:4566/", data=body,
                     headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(Credentials(key, secret, token), service, region).add_auth(req)
    headers = {k.lower(): v for k, v in req.headers.items()}
    headers["host"] = "127.0.0.1:4566"
    return sigv4.HttpRequest("POST", "/", "", headers, body.encode()), dict(parse_qsl(body))


def authenticate(service: Service, http: sigv4.HttpRequest, params: dict[str, str], now: datetime | None = None,
                 partition: str | None = None) -> Caller:
    authn = service.authenticator
    request = authn.parse(http, params, partition=partition)
    with service.store.read() as tx:
        return authn.verify(tx, http, request, now or service.clock())


def fails(code: type[AwsError], message: str | None, call: object, *args: object, **kwargs: object) -> None:
    with pytest.raises(code) as caught:
        call(*args, **kwargs)  # type: ignore[operator]
    assert caught.value.code == code.code
    if message is not None:
        assert caught.value.message == message


@pytest.fixture(scope="module")
def session(service: Service) -> tuple[str, str, str]:
    """Temporary credentials of an IAM user (GetSessionToken through the Query handler): key, secret, token."""
    create = {"Action": "CreateUser", "Version": "2010-05-08", "UserName": "authn-user"}
    http, params = signed(create, service="iam")
    assert handle(service, http, params, "127.0.0.1", False)[0] == 200
    http, params = signed({"Action": "CreateAccessKey", "Version": "2010-05-08", "UserName": "authn-user"}, service="iam")
    status, body = handle(service, http, params, "127.0.0.1", False)
    assert status == 200, body
    ns = {"i": "https://iam.amazonaws.com/doc/2010-05-08/"}
    doc = ElementTree.fromstring(body)
    user_key = doc.findtext(".//i:AccessKeyId", namespaces=ns)
    user_secret = doc.findtext(".//i:SecretAccessKey", namespaces=ns)
    assert user_key and user_secret
    http, params = signed({"Action": "GetSessionToken", "Version": "2011-06-15"}, user_key, user_secret)
    status, body = handle(service, http, params, "127.0.0.1", False)
    assert status == 200, body
    ns = {"s": "https://sts.amazonaws.com/doc/2011-06-15/"}
    doc = ElementTree.fromstring(body)
    found = [doc.findtext(f".//s:Credentials/s:{n}", namespaces=ns) for n in ("AccessKeyId", "SecretAccessKey", "SessionToken")]
    assert all(found)
    return found[0], found[1], found[2]  # type: ignore[return-value]


def test_a_long_term_key_authenticates_as_its_principal(service: Service) -> None:
    caller = authenticate(service, *signed({"Action": "GetCallerIdentity", "Version": "2011-06-15"}))
    assert caller.is_root and caller.access_key_id == ROOT_KEY and caller.partition == "aws"
    assert caller.principal.arn == f"arn:aws:iam::{caller.account_id}:root"


def test_session_credentials_authenticate_as_their_session(service: Service, session: tuple[str, str, str]) -> None:
    key, secret, token = session
    caller = authenticate(service, *signed({"Action": "GetCallerIdentity", "Version": "2011-06-15"}, key, secret, token))
    assert caller.session is not None and caller.access_key_id == key
    assert caller.principal.arn.endswith(":user/authn-user")


def test_an_unknown_key_is_invalid_client_token_id(service: Service) -> None:
    fails(InvalidClientTokenId, INVALID_TOKEN, authenticate, service,
          *signed({"Action": "GetCallerIdentity"}, "AKIAUNKNOWN000000000", ROOT_SECRET))


def test_a_wrong_secret_is_signature_does_not_match(service: Service) -> None:
    fails(SignatureDoesNotMatch, sigv4.MISMATCH, authenticate, service,
          *signed({"Action": "GetCallerIdentity"}, ROOT_KEY, ROOT_SECRET[:-1] + "x"))


def test_a_request_altered_after_signing_is_signature_does_not_match(service: Service) -> None:
    http, params = signed({"Action": "GetCallerIdentity", "Version": "2011-06-15"})
    altered = sigv4.HttpRequest(http.method, http.path, http.query, http.headers, http.body + b"&Extra=1")
    fails(SignatureDoesNotMatch, None, authenticate, service, altered, params)


def test_a_region_of_another_partition_is_invalid_client_token_id(service: Service) -> None:
    """The account is in partition aws: its key does not exist in aws-cn (DESIGN: one partition per account). The
    same refusal comes before any key lookup when the endpoint serves one partition (the authoriser's)."""
    http, params = signed({"Action": "GetCallerIdentity", "Version": "2011-06-15"}, region="cn-north-1")
    fails(InvalidClientTokenId, INVALID_TOKEN, authenticate, service, http, params)
    unknown, unknown_params = signed({"Action": "GetCallerIdentity"}, "AKIAUNKNOWN000000000", region="cn-north-1")
    fails(InvalidClientTokenId, INVALID_TOKEN, authenticate, service, unknown, unknown_params, partition="aws")


def test_a_region_the_server_does_not_know_is_refused_by_its_shape(service: Service) -> None:
    http, params = signed({"Action": "GetCallerIdentity"}, region="xx-nowhere-1")
    fails(SignatureDoesNotMatch, "Credential should be scoped to a valid region, not 'xx-nowhere-1'. ", authenticate, service,
          http, params)


def test_an_expired_session_token_is_expired_token(service: Service, session: tuple[str, str, str]) -> None:
    key, secret, token = session
    http, params = signed({"Action": "GetCallerIdentity", "Version": "2011-06-15"}, key, secret, token)
    fails(ExpiredToken, "The security token included in the request is expired", authenticate, service, http, params,
          now=service.clock() + timedelta(hours=13))  # GetSessionToken's default: 12 hours


@pytest.mark.parametrize("change", ["flip", "truncate", "extend", "other-key-id"])
def test_a_tampered_session_token_is_invalid_client_token_id(service: Service, session: tuple[str, str, str], change: str) -> None:
    key, secret, token = session
    if change == "flip":
        at = len(token) // 2
        bad = token[:at] + ("A" if token[at] != "A" else "B") + token[at + 1:]
    elif change == "truncate":
        bad = token[:-4]
    elif change == "extend":
        bad = token + "AAAA"
    else:  # the same token claiming a signing key this node does not have (the key ring is asked once, and fails)
        bad = token[:4] + ("A" if token[4] != "A" else "B") + token[5:]
    fails(InvalidClientTokenId, INVALID_TOKEN, authenticate, service,
          *signed({"Action": "GetCallerIdentity", "Version": "2011-06-15"}, key, secret, bad))


def test_a_session_token_with_another_key_id_is_invalid_client_token_id(service: Service, session: tuple[str, str, str]) -> None:
    _, secret, token = session
    fails(InvalidClientTokenId, INVALID_TOKEN, authenticate, service,
          *signed({"Action": "GetCallerIdentity", "Version": "2011-06-15"}, "ASIAOTHERKEY00000000", secret, token))


def test_key_id_names_the_signing_key_a_token_is_sealed_under(service: Service, session: tuple[str, str, str]) -> None:
    assert key_id(session[2]) in service.keyring.keys
    assert key_id("") is None and key_id("!!!!") is None and key_id("SVIx") is None  # "IR1" and no key id


def test_the_derived_signing_key_is_used_only_with_its_secret(service: Service) -> None:
    """The cache of derived keys is keyed by access key id: a different secret under the same id (a key recreated
    with that id) never reuses the old derivation."""
    authenticate(service, *signed({"Action": "GetCallerIdentity", "Version": "2011-06-15"}))
    request = service.authenticator.parse(*signed({"Action": "GetCallerIdentity"}))
    cached = service.authenticator._signing_key(request, ROOT_SECRET)
    assert service.authenticator._signing_key(request, ROOT_SECRET) is cached
    assert service.authenticator._signing_key(request, secrets.token_hex(20)) is not cached


def test_the_settings_database_is_the_data_directory_sqlite_unless_given(tmp_path: Path) -> None:
    """(The URL rule moved to iamroles.runtime, for LocalAuthorizer.open; the server keeps using it.)"""
    assert Settings(tmp_path).url == f"sqlite+pysqlite:///{tmp_path / 'iamroles.db'}"
