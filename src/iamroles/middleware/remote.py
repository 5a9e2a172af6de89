"""The remote backend: decisions by ``POST /iamroles/v1/authorize`` on an ``iamroles serve`` endpoint, signed with
the service's own credentials (the server audits each one as an ``AuthorizeRequest`` call of the service)."""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from iamroles.policy import Policy

from .s3 import EMPTY_SHA256
from .types import Check, IamIdentity, Verdict

if TYPE_CHECKING:
    import httpx

__all__ = ["RemoteAuthorizer"]

log = logging.getLogger("iamroles.middleware")
_INTERNAL = "We encountered an internal error. Please try again."


def _failure(status: int, code: str, message: str, request_id: str) -> Verdict:
    return Verdict(False, status, code, message, request_id=request_id)


class RemoteAuthorizer:
    """Decides with ``POST /iamroles/v1/authorize`` on an ``iamroles serve`` endpoint (async, httpx).

    ``credentials``: the service's own, allowed ``iamroles:AuthorizeRequest``:
    botocore credentials (refreshable ones are refreshed in a thread), a
    ``(key, secret[, token])`` tuple, or None for botocore's default chain
    (environment, profile, ``iamroles exec``'s container endpoint...).
    ``account``: the account owning the service's resources: the service
    credentials' own (the default), as the API answers only about that one.
    ``region``: what the API calls are signed for, a region of the credentials'
    partition (``cn-north-1`` for an aws-cn account).
    """

    def __init__(self, endpoint_url: str, credentials: Any = None, *, region: str = "us-east-1", account: str | None = None,
                 timeout: float = 10.0, max_connections: int = 64, verify: bool | str = True) -> None:
        from botocore.credentials import Credentials

        self.url = endpoint_url.rstrip("/") + "/iamroles/v1/authorize"
        self.region = region
        self.account = account
        self.timeout = timeout
        self.max_connections = max_connections
        self.verify = verify
        if credentials is None:
            import botocore.session

            credentials = botocore.session.get_session().get_credentials()
            if credentials is None:
                raise ValueError("RemoteAuthorizer: no credentials given and none in botocore's default chain")
        elif isinstance(credentials, (tuple, list)):
            credentials = Credentials(*credentials)
        self.credentials = credentials
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _http(self) -> httpx.AsyncClient:
        import httpx

        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:  # a client's connections belong to one event loop
            limits = httpx.Limits(max_connections=self.max_connections, max_keepalive_connections=self.max_connections)
            self._client = httpx.AsyncClient(timeout=self.timeout, limits=limits, verify=self.verify)
            self._loop = loop
        return self._client

    async def _frozen(self) -> Any:
        refresh_needed = getattr(self.credentials, "refresh_needed", None)
        if refresh_needed is not None and refresh_needed():
            return await asyncio.to_thread(self.credentials.get_frozen_credentials)
        return self.credentials.get_frozen_credentials()

    def body(self, check: Check) -> bytes:
        """The authorisation API's request for ``check``."""
        http = check.http
        payload_hash = http.payload_hash or (hashlib.sha256(http.body).hexdigest() if http.body else EMPTY_SHA256)
        doc: dict[str, Any] = {
            "Request": {"Method": http.method, "Path": http.path, "Query": http.query, "Headers": dict(http.headers),
                        "PayloadHash": payload_hash, "UnsignedPayload": http.unsigned_payload_ok},
            "Action": check.action, "Resource": check.resource, "SourceIp": check.source_ip, "SecureTransport": check.secure,
        }
        account = check.resource_account or self.account
        if account:
            doc["ResourceAccount"] = account
        if check.resource_policy is not None:
            if isinstance(check.resource_policy, Policy):
                raise TypeError("RemoteAuthorizer sends the resource policy's text: give a JSON string or a dict, not a compiled Policy")
            doc["ResourcePolicy"] = check.resource_policy
        if check.resource_policy_must_grant:
            doc["ResourcePolicyMustGrant"] = True
        if check.context:
            doc["Context"] = {k: v if isinstance(v, str) else list(v) for k, v in check.context.items()}
        if check.services is not None:
            doc["Services"] = list(check.services)
        return json.dumps(doc, separators=(",", ":")).encode()

    async def decide(self, check: Check) -> Verdict:
        import httpx
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        raw = self.body(check)
        request = AWSRequest("POST", self.url, data=raw, headers={"Content-Type": "application/json"})
        SigV4Auth(await self._frozen(), "iamroles", self.region).add_auth(request)
        try:
            r = await self._http().post(self.url, content=raw, headers=dict(request.headers.items()))
        except httpx.HTTPError as exc:
            log.error("request %s: the authorisation API at %s is unreachable: %s", check.request_id, self.url, exc)
            return _failure(503, "ServiceUnavailable", "Service is unable to handle request.", check.request_id)
        try:
            doc = r.json()
        except ValueError:
            doc = None
        if r.status_code != 200 or not isinstance(doc, dict):
            error = (doc or {}).get("Error", {}) if isinstance(doc, dict) else {}
            log.error("request %s: the authorisation API answered %s %s: %s", check.request_id, r.status_code,
                      error.get("Code", ""), error.get("Message", r.text[:200]))
            if r.status_code >= 500 or r.status_code == 429:
                return _failure(503, "ServiceUnavailable", "Service is unable to handle request.", check.request_id)
            return _failure(500, "InternalError", _INTERNAL, check.request_id)
        return _remote_verdict(doc, check)

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                await client.aclose()
            except RuntimeError:  # its event loop is gone
                pass


def _remote_verdict(doc: Mapping[str, Any], check: Check) -> Verdict:
    request_id = str(doc.get("RequestId") or check.request_id)
    if not doc.get("Authenticated"):
        error = doc.get("Error") or {}
        return Verdict(False, int(error.get("HttpStatus", 403)), error.get("Code", "AccessDenied"), error.get("Message", "Access Denied"),
                       request_id=request_id)
    identity = IamIdentity.from_document(doc["Principal"], action=check.action, resource=check.resource, decision=doc.get("Decision", ""),
                                         matches=tuple(doc.get("Reasons") or ()), request_id=request_id)
    if doc.get("Allowed"):
        return Verdict(True, 200, identity=identity, decision=identity.decision, request_id=request_id)
    message = str(doc.get("Message", "Access Denied"))
    encoded = doc.get("EncodedAuthorizationMessage")
    if encoded:
        message += f" Encoded authorization failure message: {encoded}"
    return Verdict(False, 403, "AccessDenied", message, identity, doc.get("Decision"), doc.get("DeniedBy"), encoded, request_id)

