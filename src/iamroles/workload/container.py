"""The container-credentials endpoint (as ECS serves task roles), on loopback.

An SDK finds it through ``AWS_CONTAINER_CREDENTIALS_FULL_URI`` and sends
``AWS_CONTAINER_AUTHORIZATION_TOKEN`` as its ``Authorization`` header
(botocore: ``ContainerProvider``/``ContainerMetadataFetcher``, which accept a
loopback address over plain HTTP). The answer::

    {"AccessKeyId": ..., "SecretAccessKey": ..., "Token": ..., "Expiration": "2026-11-28T21:00:00Z",
     "RoleArn": "arn:aws:iam::111122223333:role/app", "AccountId": "111122223333"}

``Expiration`` is on the local clock (the server's, less the skew): the SDK
compares it with its own clock to decide when to ask again. The endpoint
listens on 127.0.0.1, a random port and a random path, and compares the token
in constant time.
"""
from __future__ import annotations

import hmac
import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from .client import RoleCredentials, WorkloadError, iso

__all__ = ["ContainerCredentialsEndpoint", "CredentialSource", "container_document"]


class CredentialSource(Protocol):
    def current(self) -> RoleCredentials: ...


def container_document(creds: RoleCredentials) -> dict[str, str]:
    return {
        "AccessKeyId": creds.access_key_id,
        "SecretAccessKey": creds.secret_access_key,
        "Token": creds.session_token,
        "Expiration": iso(creds.local_expiration),
        "RoleArn": creds.role_arn,
        "AccountId": creds.account_id,
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False

    def __init__(self, address: tuple[str, int], source: CredentialSource, path: str, token: str) -> None:
        super().__init__(address, _Handler)
        self.source, self.credentials_path, self.token = source, path, token


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "iamroles"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        pass  # nothing about credentials requests goes to the child's terminal

    def _answer(self, status: int, doc: dict[str, Any]) -> None:
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] != self.server.credentials_path:
            self._answer(404, {"code": "NotFound", "message": "no such path"})
            return
        given = self.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode("utf-8", "replace"), self.server.token.encode()):
            self._answer(401, {"code": "Unauthorized", "message": "missing or wrong Authorization token"})
            return
        try:
            creds = self.server.source.current()
        except WorkloadError as err:
            self._answer(500, {"code": err.code or "CredentialsUnavailable", "message": err.message})
            return
        self._answer(200, container_document(creds))

    def _refuse(self) -> None:
        self._answer(405, {"code": "MethodNotAllowed", "message": "GET only"})

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _refuse


class ContainerCredentialsEndpoint:
    """Serves ``source``'s credentials on ``http://127.0.0.1:PORT/RANDOM`` to holders of :attr:`token`."""

    def __init__(self, source: CredentialSource, host: str = "127.0.0.1", port: int = 0) -> None:
        self.token = secrets.token_urlsafe(32)
        self._host = host
        self._server = _Server((host, port), source, "/" + secrets.token_urlsafe(16), self.token)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._host, self._server.server_port
        return f"http://{host}:{port}{self._server.credentials_path}"

    def start(self) -> ContainerCredentialsEndpoint:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="iamroles-container-credentials", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> ContainerCredentialsEndpoint:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
