"""The loopback endpoints and the refresh rules, against botocore's own fetchers and providers (no iamroles server).

What the SDK side expects is botocore's code: credentials.py ``ContainerProvider``
(AWS_CONTAINER_CREDENTIALS_FULL_URI + AWS_CONTAINER_AUTHORIZATION_TOKEN),
``InstanceMetadataProvider``, ``RefreshableCredentials`` (advisory refresh 15
minutes before Expiration), and utils.py ``ContainerMetadataFetcher`` and
``InstanceMetadataFetcher`` (IMDSv2 token PUT, role listing, credentials
document). IMDSv2's rules: https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-service.html
"""
from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from botocore.credentials import ContainerProvider, InstanceMetadataProvider
from botocore.exceptions import CredentialRetrievalError
from botocore.utils import ContainerMetadataFetcher, InstanceMetadataFetcher

from iamroles.workload import (
    ContainerCredentialsEndpoint,
    CredentialCache,
    InstanceMetadataEndpoint,
    RoleCredentials,
    ServiceCredentialsRequest,
    WorkloadError,
    child_environment,
    refresh_margin,
)
from iamroles.workload.imds import TokenIssuer
from iamroles.workload.run import config_without_credentials

ROLE_ARN = "arn:aws:iam::111122223333:role/app"
T0 = datetime(2026, 11, 28, 20, 0, 0, tzinfo=UTC)


def creds(n: int = 1, *, server_time: datetime = T0, lifetime: int = 3600, requested_at: datetime | None = None) -> RoleCredentials:
    return RoleCredentials(
        access_key_id=f"ASIA{n:016d}", secret_access_key=f"secret-{n}", session_token=f"token-{n}",
        expiration=server_time + timedelta(seconds=lifetime), server_time=server_time,
        requested_at=requested_at or server_time, role_arn=ROLE_ARN, role_name="app",
        assumed_role_arn="arn:aws:sts::111122223333:assumed-role/app/s1",
    )


class Source:
    """A credential source handing out fixed credentials, or failing."""

    def __init__(self, value: RoleCredentials | WorkloadError) -> None:
        self.value = value
        self.calls = 0

    def current(self) -> RoleCredentials:
        self.calls += 1
        if isinstance(self.value, WorkloadError):
            raise self.value
        return self.value


def live(lifetime: int = 3600) -> RoleCredentials:
    now = datetime.now(UTC).replace(microsecond=0)
    return creds(server_time=now, lifetime=lifetime)


# --- the container-credentials endpoint ---------------------------------------------------------


def test_container_endpoint_feeds_botocores_container_provider() -> None:
    c = live()
    with ContainerCredentialsEndpoint(Source(c)) as ep:
        assert ep.url.startswith("http://127.0.0.1:") and len(ep.url.rsplit("/", 1)[1]) >= 16
        env = {"AWS_CONTAINER_CREDENTIALS_FULL_URI": ep.url, "AWS_CONTAINER_AUTHORIZATION_TOKEN": ep.token}
        got = ContainerProvider(environ=env).load()
        frozen = got.get_frozen_credentials()
        assert (frozen.access_key, frozen.secret_key, frozen.token) == (c.access_key_id, c.secret_access_key, c.session_token)
        assert got.method == "container-role" and got._expiry_time == c.expiration  # no skew: the server's own time
        doc = httpx.get(ep.url, headers={"Authorization": ep.token}).json()
        assert doc == {"AccessKeyId": c.access_key_id, "SecretAccessKey": c.secret_access_key, "Token": c.session_token,
                       "Expiration": c.expiration.strftime("%Y-%m-%dT%H:%M:%SZ"), "RoleArn": ROLE_ARN, "AccountId": "111122223333"}

        # the token is required, and so is the path
        fast = ContainerMetadataFetcher(sleep=lambda s: None)
        for headers in ({}, {"Authorization": ep.token + "x"}, {"Authorization": ""}):
            assert httpx.get(ep.url, headers=headers).status_code == 401
        with pytest.raises(CredentialRetrievalError):
            ContainerProvider(environ={"AWS_CONTAINER_CREDENTIALS_FULL_URI": ep.url,
                                       "AWS_CONTAINER_AUTHORIZATION_TOKEN": "wrong"}, fetcher=fast).load()
        base = ep.url.rsplit("/", 1)[0]
        assert httpx.get(base + "/other", headers={"Authorization": ep.token}).status_code == 404
        assert httpx.post(ep.url, headers={"Authorization": ep.token}).status_code == 405
    with pytest.raises(httpx.ConnectError):  # closed with the child
        httpx.get(ep.url, headers={"Authorization": ep.token})


def test_container_endpoint_shifts_expiration_to_the_local_clock_and_reports_failures() -> None:
    # the server's clock runs 600 s ahead: the SDK, comparing with its own clock, must see the same time left
    now = datetime.now(UTC).replace(microsecond=0)
    c = creds(server_time=now + timedelta(seconds=600), requested_at=now, lifetime=900)
    assert c.skew == timedelta(seconds=600) and c.local_expiration == now + timedelta(seconds=900)
    with ContainerCredentialsEndpoint(Source(c)) as ep:
        doc = httpx.get(ep.url, headers={"Authorization": ep.token}).json()
        assert doc["Expiration"] == (now + timedelta(seconds=900)).strftime("%Y-%m-%dT%H:%M:%SZ")
    failing = Source(WorkloadError("User: x is not authorized to perform: iam:PassRole", code="AccessDenied", status=403))
    with ContainerCredentialsEndpoint(failing) as ep:
        r = httpx.get(ep.url, headers={"Authorization": ep.token})
        assert r.status_code == 500 and r.json()["code"] == "AccessDenied" and "iam:PassRole" in r.json()["message"]
        with pytest.raises(CredentialRetrievalError):
            ContainerProvider(environ={"AWS_CONTAINER_CREDENTIALS_FULL_URI": ep.url, "AWS_CONTAINER_AUTHORIZATION_TOKEN": ep.token},
                              fetcher=ContainerMetadataFetcher(sleep=lambda s: None)).load()


# --- the IMDSv2 endpoint -----------------------------------------------------------------------------


def test_imds_feeds_botocores_instance_metadata_provider() -> None:
    c = live()
    with InstanceMetadataEndpoint(Source(c), "eu-west-1") as ep:
        fetcher = InstanceMetadataFetcher(base_url=ep.url, num_attempts=1, timeout=2)
        got = fetcher.retrieve_iam_role_credentials()
        assert got == {"role_name": "app", "access_key": c.access_key_id, "secret_key": c.secret_access_key,
                       "token": c.session_token, "expiry_time": c.expiration.strftime("%Y-%m-%dT%H:%M:%SZ")}
        provided = InstanceMetadataProvider(iam_role_fetcher=fetcher).load()
        assert provided.method == "iam-role" and provided.get_frozen_credentials().access_key == c.access_key_id


def test_imds_protocol() -> None:
    c = live()
    now = [time.time()]
    with InstanceMetadataEndpoint(Source(c), "eu-west-1", clock=lambda: now[0]) as ep:
        url = ep.url.rstrip("/")

        def token(ttl: str | None, **headers: str) -> httpx.Response:
            if ttl is not None:
                headers["X-aws-ec2-metadata-token-ttl-seconds"] = ttl
            return httpx.put(url + "/latest/api/token", headers=headers)

        for bad in (None, "0", "21601", "abc", "-5", ""):
            assert token(bad).status_code == 400, bad
        assert token("60", **{"X-Forwarded-For": "10.0.0.1"}).status_code == 403  # relayed: refused, as IMDS does
        r = token("21600")
        assert r.status_code == 200 and r.headers["X-aws-ec2-metadata-token-ttl-seconds"] == "21600"
        tok = r.text

        def get(path: str, t: str | None = tok) -> httpx.Response:
            return httpx.get(url + path, headers={"X-aws-ec2-metadata-token": t} if t is not None else {})

        creds_path = "/latest/meta-data/iam/security-credentials/"
        assert get(creds_path, None).status_code == 401  # IMDSv2 only
        assert get(creds_path, tok[:-2] + "AA").status_code == 401
        assert get(creds_path, "not-a-token").status_code == 401
        assert get(creds_path).text == "app"
        assert get(creds_path.rstrip("/")).text == "app"
        doc = get(creds_path + "app").json()
        assert doc == {"Code": "Success", "LastUpdated": c.requested_at.strftime("%Y-%m-%dT%H:%M:%SZ"), "Type": "AWS-HMAC",
                       "AccessKeyId": c.access_key_id, "SecretAccessKey": c.secret_access_key, "Token": c.session_token,
                       "Expiration": c.expiration.strftime("%Y-%m-%dT%H:%M:%SZ")}
        assert get(creds_path + "other-role").status_code == 404
        assert get("/latest/meta-data/iam/security-credentials-extended/app").status_code == 404
        assert get("/latest/meta-data/placement/region").text == "eu-west-1"
        assert get("/latest/meta-data/placement/availability-zone").text == "eu-west-1a"
        assert get("/latest/meta-data/ami-id").status_code == 404
        assert httpx.post(url + "/latest/api/token").status_code == 405

        short = token("1").text
        assert get(creds_path, short).status_code == 200
        now[0] += 1
        assert get(creds_path, short).status_code == 401  # expired


def test_imds_tokens_expire_and_are_bound_to_their_issuer() -> None:
    now = [1000.0]
    issuer = TokenIssuer(lambda: now[0])
    t = issuer.issue(60)
    assert issuer.valid(t) and not TokenIssuer(lambda: now[0]).valid(t)
    now[0] += 60
    assert not issuer.valid(t)
    assert not issuer.valid("") and not issuer.valid("é") and not issuer.valid("AAAA")


def test_imds_answers_an_error_document_when_no_credentials_can_be_had() -> None:
    source = Source(live())
    with InstanceMetadataEndpoint(source, "us-east-1") as ep:
        fetcher = InstanceMetadataFetcher(base_url=ep.url, num_attempts=1, timeout=2)
        assert fetcher.retrieve_iam_role_credentials()["role_name"] == "app"
        source.value = WorkloadError("User: u is not authorized to perform: iam:PassRole", code="AccessDenied")
        tok = httpx.put(ep.url + "latest/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"}).text
        doc = httpx.get(ep.url + "latest/meta-data/iam/security-credentials/app", headers={"X-aws-ec2-metadata-token": tok}).json()
        assert doc["Code"] == "AccessDenied" and "iam:PassRole" in doc["Message"]
        assert fetcher.retrieve_iam_role_credentials() == {}  # botocore: no credentials here, try the next provider


# --- refresh rules ------------------------------------------------------------------------------------


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def test_refresh_margin() -> None:
    assert refresh_margin(timedelta(seconds=900)) == timedelta(minutes=5)
    assert refresh_margin(timedelta(hours=1)) == timedelta(minutes=15)
    assert refresh_margin(timedelta(hours=12)) == timedelta(hours=3)


def test_cache_serves_until_the_sdk_refresh_window_then_fetches_on_the_servers_clock() -> None:
    clock = Clock(T0)
    issued: list[RoleCredentials] = []

    def fetch() -> RoleCredentials:
        # the server's clock is 100 s ahead of ours
        issued.append(creds(len(issued) + 1, server_time=clock.now + timedelta(seconds=100), requested_at=clock.now))
        return issued[-1]

    cache = CredentialCache(fetch, clock=clock)
    first = cache.current()
    assert first is issued[0] and cache.remaining(first) == timedelta(hours=1)
    # the background refresh is due when a quarter of the lifetime is left, on the server's clock
    assert cache.seconds_until_due() == 2700
    clock.now += timedelta(minutes=44)
    assert cache.current() is first and len(issued) == 1  # 16 minutes left: cached
    clock.now += timedelta(minutes=2)
    second = cache.current()  # 14 minutes left: an SDK asking now is refreshing
    assert second is issued[1] and cache.seconds_until_due() == 2700
    clock.now += timedelta(hours=1)  # past expiry
    assert cache.current() is issued[2]


def test_cache_notices_a_jump_of_the_servers_clock_when_an_sdk_asks() -> None:
    clock = Clock(T0)
    server_ahead = [0]
    issued: list[RoleCredentials] = []

    def fetch() -> RoleCredentials:
        issued.append(creds(len(issued) + 1, server_time=clock.now + timedelta(seconds=server_ahead[0]),
                            requested_at=clock.now, lifetime=900))
        return issued[-1]

    cache = CredentialCache(fetch, clock=clock, reuse=timedelta(seconds=2))
    cache.refresh()
    clock.now += timedelta(seconds=1)
    assert cache.current() is issued[0]  # a burst of new clients shares one fetch
    clock.now += timedelta(seconds=2)
    server_ahead[0] = 898  # our estimate does not know yet; short credentials are always inside the SDK's window
    again = cache.current()
    assert again is issued[1] and again.skew == timedelta(seconds=898)
    assert again.local_expiration == clock.now + timedelta(seconds=900)


def test_cache_keeps_serving_unexpired_credentials_when_a_fetch_fails() -> None:
    clock = Clock(T0)
    results: list[RoleCredentials | WorkloadError] = [creds(1, lifetime=900)]
    errors: list[WorkloadError] = []

    def fetch() -> RoleCredentials:
        r = results[-1]
        if isinstance(r, WorkloadError):
            raise r
        return r

    cache = CredentialCache(fetch, clock=clock, on_error=errors.append)
    cache.refresh()
    results.append(WorkloadError("refused", code="AccessDenied"))
    clock.now += timedelta(seconds=600)
    assert cache.current().access_key_id == creds(1).access_key_id and [e.code for e in errors] == ["AccessDenied"]
    clock.now += timedelta(seconds=300)  # expired now: the error reaches the SDK
    with pytest.raises(WorkloadError):
        cache.current()


def test_background_refresh_runs_when_due() -> None:
    fetched = threading.Event()
    count = [0]

    def fetch() -> RoleCredentials:
        count[0] += 1
        now = datetime.now(UTC)
        if count[0] == 1:  # issued 700 s ago: 200 s left, less than the five-minute margin
            return creds(1, server_time=now - timedelta(seconds=700), requested_at=now - timedelta(seconds=700), lifetime=900)
        fetched.set()
        return creds(count[0], server_time=now, lifetime=900)

    cache = CredentialCache(fetch)
    cache.refresh()
    cache.start()
    try:
        assert fetched.wait(5)
    finally:
        cache.close()
    assert cache.latest is not None and cache.latest.access_key_id == creds(2).access_key_id


def test_service_credentials_request_body() -> None:
    assert ServiceCredentialsRequest("ecs-tasks.amazonaws.com", role="app", duration=900).body() == {
        "ServicePrincipal": "ecs-tasks.amazonaws.com", "RoleName": "app", "DurationSeconds": 900}
    assert ServiceCredentialsRequest("ecs-tasks.amazonaws.com", role=ROLE_ARN, session_name="s").body() == {
        "ServicePrincipal": "ecs-tasks.amazonaws.com", "RoleArn": ROLE_ARN, "RoleSessionName": "s"}
    assert ServiceCredentialsRequest("ec2.amazonaws.com", instance_profile="web").body() == {
        "ServicePrincipal": "ec2.amazonaws.com", "InstanceProfileName": "web"}
    with pytest.raises(ValueError):
        ServiceCredentialsRequest("ec2.amazonaws.com").body()


# --- the child's environment ----------------------------------------------------------------------------


def test_child_environment_leaves_only_the_container_provider() -> None:
    parent = {"PATH": "/bin", "AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "t",
              "AWS_PROFILE": "me", "AWS_DEFAULT_PROFILE": "me", "AWS_WEB_IDENTITY_TOKEN_FILE": "/t", "AWS_ROLE_ARN": "arn",
              "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/x", "AWS_ENDPOINT_URL": "http://elsewhere",
              "AWS_ENDPOINT_URL_S3": "http://s3.local"}
    env = child_environment(parent, credentials_url="http://127.0.0.1:1/x", token="tok",
                            endpoint_url="http://127.0.0.1:4566", region="eu-west-1")
    assert env == {"PATH": "/bin", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:1/x",
                   "AWS_CONTAINER_AUTHORIZATION_TOKEN": "tok", "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
                   "AWS_ENDPOINT_URL_S3": "http://s3.local", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
                   "AWS_DEFAULT_REGION": "eu-west-1"}
    assert child_environment({"AWS_REGION": "ap-south-1"}, credentials_url="u", token="t", endpoint_url="e",
                             region="eu-west-1").get("AWS_DEFAULT_REGION") is None


def test_config_default_profile_loses_its_credential_settings(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("[default]\nregion = eu-west-1\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = base\n"
                    "s3 =\n  addressing_style = path\n\n[profile base]\naws_access_key_id = AKIA\n")
    cleaned = config_without_credentials(path)
    assert cleaned is not None and "role_arn" not in cleaned and "source_profile" not in cleaned
    assert "region = eu-west-1" in cleaned and "addressing_style = path" in cleaned and "[profile base]" in cleaned
    path.write_text("[default]\nregion = eu-west-1\n")
    assert config_without_credentials(path) is None
    assert config_without_credentials(tmp_path / "missing") is None


def test_the_package_is_a_client_importing_nothing_else_of_iamroles() -> None:
    from ..test_layers import SRC, _imported, _layer

    for path in sorted((SRC / "workload").rglob("*.py")):
        assert {_layer(m) for m in _imported(path)} <= {"workload"}, path
