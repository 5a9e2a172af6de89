"""Calls iamroles' own API as the person launching a workload: ``POST /iamroles/v1/service-credentials``.

The launcher's credentials come from botocore's default chain (or a named
profile), exactly as the AWS CLI would find them; the request is SigV4-signed
for the service name ``iamroles``. The server checks that the caller may
launch a workload with the role (``iamroles:LaunchWorkload``, with
``iamroles:ServicePrincipal``) and ``iam:PassRole`` it to the service
(``iam:PassedToService``), and that the role trusts that service, then answers with the role session's credentials
and its own clock (``ServerTime``), from which :class:`RoleCredentials` knows
the skew between the two clocks.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import BotoCoreError, HTTPClientError
from botocore.httpsession import URLLib3Session

__all__ = [
    "Caller",
    "RoleCredentials",
    "ServiceCredentialsClient",
    "ServiceCredentialsRequest",
    "WorkloadError",
    "caller",
    "iso",
    "utcnow",
]

API_PATH = "/iamroles/v1/service-credentials"
SIGNING_NAME = "iamroles"


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(when: datetime) -> str:
    """AWS's credential timestamps: ``2026-11-28T21:00:00Z``."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(value: Any, name: str) -> datetime:
    if not isinstance(value, str):
        raise WorkloadError(f"the iamroles endpoint answered without {name}")
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise WorkloadError(f"the iamroles endpoint answered an unreadable {name}: {value!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


class WorkloadError(Exception):
    """The iamroles endpoint refused (``code`` and ``message`` in AWS's words), or could not be reached or used."""

    def __init__(self, message: str, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status

    def __str__(self) -> str:
        return f"{self.code}: {self.message}" if self.code else self.message


@dataclass(frozen=True, slots=True)
class RoleCredentials:
    """A role session's credentials, with the server's clock at issue and ours when we asked."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: datetime  # the server's clock
    server_time: datetime  # the server's clock when it issued them
    requested_at: datetime  # our clock when we sent the request
    role_arn: str
    role_name: str
    assumed_role_arn: str

    @property
    def skew(self) -> timedelta:
        """How far the server's clock is ahead of ours (negative: behind)."""
        return self.server_time - self.requested_at

    @property
    def lifetime(self) -> timedelta:
        return self.expiration - self.server_time

    @property
    def local_expiration(self) -> datetime:
        """When they expire by our clock (what SDKs, comparing with their own clock, must be told)."""
        return self.expiration - self.skew

    @property
    def session_name(self) -> str:
        return self.assumed_role_arn.rsplit("/", 1)[-1]

    @property
    def account_id(self) -> str:
        return self.role_arn.split(":")[4]

    @classmethod
    def from_response(cls, doc: dict[str, Any], requested_at: datetime) -> RoleCredentials:
        creds = doc.get("Credentials")
        user = doc.get("AssumedRoleUser")
        if not isinstance(creds, dict) or not isinstance(user, dict):
            raise WorkloadError("the iamroles endpoint answered without Credentials")
        try:
            return cls(
                access_key_id=creds["AccessKeyId"], secret_access_key=creds["SecretAccessKey"],
                session_token=creds["SessionToken"], expiration=_parse_time(creds.get("Expiration"), "Expiration"),
                server_time=_parse_time(doc.get("ServerTime"), "ServerTime"), requested_at=requested_at,
                role_arn=doc["RoleArn"], role_name=doc["RoleName"], assumed_role_arn=user["Arn"],
            )
        except KeyError as missing:
            raise WorkloadError(f"the iamroles endpoint answered without {missing.args[0]}") from None


@dataclass(frozen=True, slots=True)
class ServiceCredentialsRequest:
    """What to ask for: a role (name in the caller's account, or ARN) or an instance profile, for a service."""

    service: str
    role: str | None = None
    instance_profile: str | None = None
    session_name: str | None = None
    duration: int | None = None

    def body(self) -> dict[str, Any]:
        if (self.role is None) == (self.instance_profile is None):
            raise ValueError("give a role or an instance profile")
        body: dict[str, Any] = {"ServicePrincipal": self.service}
        if self.instance_profile is not None:
            body["InstanceProfileName"] = self.instance_profile
        elif self.role is not None and self.role.startswith("arn:"):
            body["RoleArn"] = self.role
        else:
            body["RoleName"] = self.role
        if self.session_name:
            body["RoleSessionName"] = self.session_name
        if self.duration is not None:
            body["DurationSeconds"] = self.duration
        return body


@dataclass(frozen=True, slots=True)
class Caller:
    """The person launching a workload: their botocore session, region and the iamroles endpoint."""

    session: botocore.session.Session
    region: str
    endpoint: str


def _configured_endpoint(session: botocore.session.Session) -> str | None:
    """AWS_ENDPOINT_URL, or the profile's ``endpoint_url`` (botocore's own sources for a global endpoint)."""
    if str(session.get_config_variable("ignore_configured_endpoint_urls") or "").lower() == "true":
        return None
    if os.environ.get("AWS_ENDPOINT_URL"):
        return os.environ["AWS_ENDPOINT_URL"]
    value = session.get_scoped_config().get("endpoint_url")
    return value if isinstance(value, str) and value else None


def caller(profile: str | None = None, endpoint_url: str | None = None) -> Caller:
    """The launcher as botocore sees them (``profile``, else the default chain); the endpoint as given or configured."""
    try:
        session = botocore.session.Session(profile=profile)
        region = session.get_config_variable("region") or "us-east-1"
        endpoint = endpoint_url or os.environ.get("IAMROLES_ENDPOINT") or _configured_endpoint(session)
    except BotoCoreError as exc:
        raise WorkloadError(str(exc)) from None
    if not endpoint:
        raise WorkloadError("no iamroles endpoint: give --endpoint-url, or set IAMROLES_ENDPOINT or AWS_ENDPOINT_URL")
    return Caller(session, region, endpoint.rstrip("/"))


class ServiceCredentialsClient:
    """Signs and sends ``service-credentials`` requests with the caller's (possibly refreshing) credentials."""

    def __init__(self, who: Caller, *, timeout: float = 10.0, clock: Callable[[], datetime] = utcnow) -> None:
        self.caller = who
        self._clock = clock
        self._http = URLLib3Session(timeout=timeout)

    def _credentials(self) -> Any:
        try:
            creds = self.caller.session.get_credentials()
        except BotoCoreError as exc:
            raise WorkloadError(f"cannot load your credentials: {exc}") from None
        if creds is None:
            raise WorkloadError("no credentials to call iamroles with: configure a profile (--profile) or AWS_ACCESS_KEY_ID")
        return creds.get_frozen_credentials()

    def fetch(self, request: ServiceCredentialsRequest) -> RoleCredentials:
        url = self.caller.endpoint + API_PATH
        body = json.dumps(request.body())
        http = AWSRequest("POST", url, data=body, headers={"Content-Type": "application/json"})
        SigV4Auth(self._credentials(), SIGNING_NAME, self.caller.region).add_auth(http)
        requested_at = self._clock()
        try:
            response = self._http.send(http.prepare())
        except (BotoCoreError, HTTPClientError) as exc:
            raise WorkloadError(f"cannot reach iamroles at {self.caller.endpoint}: {exc}") from None
        try:
            doc = json.loads(response.content)
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            snippet = response.content[:200].decode("utf-8", "replace")
            raise WorkloadError(f"{url} is not an iamroles endpoint (HTTP {response.status_code}: {snippet!r})",
                                status=response.status_code)
        if response.status_code != 200:
            error = doc.get("Error")
            if not isinstance(error, dict):
                error = {}
            raise WorkloadError(str(error.get("Message") or f"HTTP {response.status_code}"),
                                code=error.get("Code"), status=response.status_code)
        return RoleCredentials.from_response(doc, requested_at)

    def close(self) -> None:
        self._http.close()
