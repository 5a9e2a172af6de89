"""An IMDSv2-compatible instance metadata endpoint serving an instance profile's role credentials.

SDKs reach it through ``AWS_EC2_METADATA_SERVICE_ENDPOINT`` (botocore:
``InstanceMetadataFetcher``). As EC2's IMDS with ``HttpTokens=required``
(https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-service.html):

* ``PUT /latest/api/token`` with ``X-aws-ec2-metadata-token-ttl-seconds``
  (1..21600; missing or invalid: 400; a request carrying
  ``X-Forwarded-For`` was relayed, so it is refused: 403) returns a session
  token;
* every ``GET`` needs ``X-aws-ec2-metadata-token`` (missing, invalid or
  expired: 401);
* ``/latest/meta-data/iam/security-credentials/`` lists the role's name,
  ``.../security-credentials/ROLE`` is its credentials document (or, when
  none can be had, IMDS's ``{"Code": ..., "Message": ...}``), and
  ``/latest/meta-data/placement/region`` and ``.../availability-zone`` say
  the region. Anything else (``security-credentials-extended`` among it) is
  404, which SDKs that try it treat as "not offered".

Tokens are self-contained (expiry and an HMAC under a per-process key), so
nothing is kept per token. ``Expiration`` is on the local clock.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import struct
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .client import RoleCredentials, WorkloadError, iso, utcnow
from .container import CredentialSource

__all__ = ["InstanceMetadataEndpoint", "TokenIssuer", "imds_document"]

MAX_TTL = 21600
TOKEN_PATH = "/latest/api/token"
TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HEADER = "X-aws-ec2-metadata-token"
CREDENTIALS = "/latest/meta-data/iam/security-credentials"


class TokenIssuer:
    """IMDSv2 session tokens: ``base64url(expiry || HMAC(key, expiry))``."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._key = secrets.token_bytes(32)
        self._clock = clock

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:24]

    def issue(self, ttl: int) -> str:
        payload = struct.pack(">d", self._clock() + ttl)
        return base64.urlsafe_b64encode(payload + self._mac(payload)).decode()

    def valid(self, token: str) -> bool:
        try:
            raw = base64.urlsafe_b64decode(token.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            return False
        if len(raw) != 32:
            return False
        payload, mac = raw[:8], raw[8:]
        return hmac.compare_digest(mac, self._mac(payload)) and struct.unpack(">d", payload)[0] > self._clock()


def imds_document(creds: RoleCredentials) -> dict[str, str]:
    return {
        "Code": "Success",
        "LastUpdated": iso(creds.requested_at),
        "Type": "AWS-HMAC",
        "AccessKeyId": creds.access_key_id,
        "SecretAccessKey": creds.secret_access_key,
        "Token": creds.session_token,
        "Expiration": iso(creds.local_expiration),
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], endpoint: InstanceMetadataEndpoint) -> None:
        super().__init__(address, _Handler)
        self.endpoint = endpoint


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "EC2ws"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, status: int, text: str, extra: dict[str, str] | None = None) -> None:
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_PUT(self) -> None:
        if self.path.split("?", 1)[0] != TOKEN_PATH:
            self._answer(404, "Not Found")
            return
        if self.headers.get("X-Forwarded-For") is not None:
            self._answer(403, "Forbidden")
            return
        raw = self.headers.get(TTL_HEADER, "")
        ttl = int(raw) if raw.strip().isdigit() else 0
        if not 1 <= ttl <= MAX_TTL:
            self._answer(400, "Bad Request")
            return
        token = self.server.endpoint.tokens.issue(ttl)
        self._answer(200, token, {TTL_HEADER: str(ttl)})

    def do_GET(self) -> None:
        token = self.headers.get(TOKEN_HEADER)
        if not token or not self.server.endpoint.tokens.valid(token):
            self._answer(401, "Unauthorized")
            return
        path = self.path.split("?", 1)[0].rstrip("/")
        found = self.server.endpoint.lookup(path)
        if found is None:
            self._answer(404, "Not Found")
        else:
            self._answer(200, found)

    do_HEAD = do_GET

    def _refuse(self) -> None:
        self._answer(405, "Method Not Allowed")

    do_POST = do_DELETE = do_PATCH = _refuse


class InstanceMetadataEndpoint:
    """Serves ``source``'s credentials as the instance profile's role, IMDSv2-style."""

    def __init__(self, source: CredentialSource, region: str, host: str = "127.0.0.1", port: int = 0,
                 *, clock: Callable[[], float] = time.time) -> None:
        self.source = source
        self.region = region
        self.tokens = TokenIssuer(clock)
        self._role_name: str | None = None
        self._host = host
        self._server = _Server((host, port), self)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._host, self._server.server_port
        return f"http://{host}:{port}/"

    def role_name(self) -> str | None:
        try:
            self._role_name = self.source.current().role_name
        except WorkloadError:
            pass  # keep naming the role we last had credentials for
        return self._role_name

    def credentials(self, role: str) -> str | None:
        if role != self.role_name():
            return None
        try:
            doc: dict[str, str] = imds_document(self.source.current())
        except WorkloadError as err:
            # what IMDS answers when the role cannot be assumed: 200 with a Code other than Success
            doc = {"Code": err.code or "AssumeRoleUnauthorizedAccess", "Message": err.message, "LastUpdated": iso(utcnow())}
        return json.dumps(doc, indent=2)

    def lookup(self, path: str) -> str | None:
        """The text at ``path`` (no trailing slash), or None for 404."""
        if path == CREDENTIALS:
            return self.role_name()
        if path.startswith(CREDENTIALS + "/") and "/" not in path[len(CREDENTIALS) + 1:]:
            return self.credentials(path[len(CREDENTIALS) + 1:])
        static = {
            "/latest": "api/\nmeta-data/",
            "/latest/meta-data": "iam/\nplacement/",
            "/latest/meta-data/iam": "security-credentials/",
            "/latest/meta-data/placement": "availability-zone\nregion",
            "/latest/meta-data/placement/region": self.region,
            "/latest/meta-data/placement/availability-zone": self.region + "a",
        }
        return static.get(path)

    def start(self) -> InstanceMetadataEndpoint:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="iamroles-imds", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> InstanceMetadataEndpoint:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
