"""IAM roles in front of any ASGI app: SigV4 on every request, decided by IAM policy.

::

    from iamroles.middleware import IamAuthMiddleware, LocalAuthorizer, RemoteAuthorizer, Target

    def mapping(request):                       # RequestInfo -> what the request means
        bucket, _, key = request.path.lstrip("/").partition("/")
        if request.method == "GET":
            return Target("s3:GetObject", f"arn:aws:s3:::{bucket}/{key}")
        return None                             # anything unmapped is refused

    app = IamAuthMiddleware(app, mapping=mapping, services=["s3"],
                            authorizer=LocalAuthorizer.open("~/.iamroles"))      # in process
    #                       authorizer=RemoteAuthorizer("http://127.0.0.1:4566"))  # or over HTTP

Per request the middleware reads the body (up to ``max_body_size``), computes
its SHA-256, asks ``mapping`` what the request means (an action, a resource
ARN and optional condition keys), then has the authorizer verify the SigV4
signature and decide with the signer's policies and the service's resource
policy. Allowed: the wrapped app runs with the authenticated principal in
``scope["iamroles"]`` (an :class:`IamIdentity`) and the body replayed to it.
Otherwise the app never runs and the client gets the authorizer's status (403
for a denial or a bad signature) and an S3-style XML error document::

    <?xml version="1.0" encoding="UTF-8"?>
    <Error><Code>AccessDenied</Code><Message>User: arn:... is not authorized ...</Message><RequestId>...</RequestId></Error>

(``error_format="json"`` answers ``{"Error": {"Code", "Message"}, "RequestId"}``
instead, iamroles' own API shape). The request id is also in the
``x-amz-request-id`` header (and in ``IamIdentity.request_id`` for the app's
logs); for the remote authorizer it is the id of the authorisation call, so a
denial can be found in ``iamroles audit``.

The mapping: ``mapping(request: RequestInfo)`` (plain or async) returns a
:class:`Target`, an ``(action, resource)`` or ``(action, resource, context)``
tuple, ``None`` (refused: 403 AccessDenied, the default for anything the
service did not think of), or :data:`PUBLIC` (no authentication at all, for
health checks and the like; ``scope["iamroles"]`` is then ``None``).

aws:SourceIp is the ASGI scope's ``client`` address. Run the ASGI server so
that a client cannot choose it: uvicorn believes X-Forwarded-For from
127.0.0.1 by default, so pass ``proxy_headers=False``, or name only your real
proxies in ``forwarded_allow_ips`` (as ``iamroles serve --trusted-proxy`` does).

Resource policies: ``resource_policy`` is a policy document (JSON text, a dict,
or a compiled :class:`iamroles.policy.Policy` for the in-process backend), or
a callable ``(request, target) -> document | None`` (plain or async), for
per-resource policies such as an S3 bucket policy. As on AWS, a principal of
another account is allowed only if both its identity policies and the
resource policy allow. Resources belong to the service's account (see the
backends), and only to it: a target whose ``resource_account``, or the account
(or partition) in its ARN, is another's is refused as the service's mistake
(500 InternalError, the reason in the log), as the authorisation API answers
only about its caller's own account.
``resource_policy_must_grant=True`` makes the resource policy decide as a KMS
key policy or a role trust policy does: it must allow the principal itself
(by its ARN, its role, or its account, which then delegates to the
principal's identity policies); an identity policy's Allow alone no longer
suffices within the account, and a resource with no policy allows no one.

Two backends behind one small protocol (:class:`Backend`: ``async decide(Check)
-> Verdict`` and ``async aclose()``):

* :class:`LocalAuthorizer`: in process, over an :class:`iamroles.runtime.Service` (``iamroles.server.Service``)
  or opened on the server's data directory / database URL (sharing its store
  and master key: session tokens verify without a database read, and policy
  changes made through the server apply within ``cache_ttl``). Decisions take
  microseconds and run on the event loop (``in_thread=True`` moves them to a
  thread, e.g. on a remote PostgreSQL where a cache miss is a network read).
* :class:`RemoteAuthorizer`: ``POST /iamroles/v1/authorize`` on an ``iamroles
  serve`` endpoint with :mod:`httpx` (async), signed with botocore's SigV4 for
  the service name ``iamroles``; the service's own credentials must be allowed
  ``iamroles:AuthorizeRequest``. If the endpoint cannot be reached the request
  is refused (503 ServiceUnavailable): the middleware fails closed.

Signing details: ``services`` limits the SigV4 service names accepted in the
credential scope (``["s3"]`` for an S3-like service: strongly recommended).
For S3-scoped signatures the path is canonicalised as S3 does (not
double-encoded), and presigned URLs use ``UNSIGNED-PAYLOAD`` as S3's do.
``UNSIGNED-PAYLOAD`` with a body is refused unless ``allow_unsigned_payload``;
``STREAMING-*`` (aws-chunked) payloads are not supported (501). Paths with
empty, ``.`` or ``..`` segments are refused (400 InvalidURI): SigV4 for
non-S3 services signs them normalised, so the app would see a different
path from the one signed.
"""
from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import logging
import os
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qs, quote, unquote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from iamroles.auth import sigv4
from iamroles.errors import AwsError
from iamroles.policy import Policy
from iamroles.runtime import Authorization, Authorizer, Service
from iamroles.runtime.call import S3Xml, ShortJson, Wire

if TYPE_CHECKING:
    import httpx

    from iamroles.store import Account as StoreAccount

__all__ = [
    "PUBLIC",
    "Backend",
    "Check",
    "IamAuthMiddleware",
    "IamIdentity",
    "LocalAuthorizer",
    "RemoteAuthorizer",
    "RequestInfo",
    "Target",
    "Verdict",
    "identity_of",
]

log = logging.getLogger("iamroles.middleware")


_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_INTERNAL = "We encountered an internal error. Please try again."


class _Public:
    __slots__ = ()

    def __repr__(self) -> str:
        return "PUBLIC"


PUBLIC: Any = _Public()
"""What a mapping returns for a request that needs no authentication (it reaches the app unchecked)."""


# --- what the service sees and says -----------------------------------------------------------------


@dataclass(slots=True)
class RequestInfo:
    """The request, as the mapping and a resource-policy callable see it."""

    scope: Mapping[str, Any]
    method: str
    path: str  # percent-decoded, as routed (scope["path"])
    query_string: str  # raw, without "?"
    headers: Mapping[str, str]  # lower-case names; repeated headers joined with ","
    body: bytes
    source_ip: str
    secure: bool

    @property
    def query(self) -> dict[str, list[str]]:
        """The query parameters, decoded (a parameter without a value, like S3's ``?policy``, is ``[""]``)."""
        return parse_qs(self.query_string, keep_blank_values=True)


@dataclass(frozen=True, slots=True)
class Target:
    """What a request means to IAM: the action, the resource ARN, and service-specific condition keys."""

    action: str
    resource: str
    context: Mapping[str, str | Sequence[str]] | None = None
    resource_account: str | None = None  # the resource's account, when neither the ARN nor the backend's default says


@dataclass(slots=True)
class IamIdentity:
    """The authenticated principal of an allowed request: ``scope["iamroles"]`` (read it, do not change it)."""

    arn: str
    account: str
    user_id: str
    type: str  # "AssumedRole", "User", "Root", "FederatedUser"
    access_key_id: str
    role_arn: str | None = None  # for role sessions: the role's ARN
    name: str | None = None  # user name or role session name
    tags: Mapping[str, str] = field(default_factory=dict)  # principal tags (aws:PrincipalTag), session tags included
    session_tags: Mapping[str, str] = field(default_factory=dict)
    source_identity: str | None = None
    issued: int | None = None  # temporary credentials: issue and expiry time, epoch seconds
    expires: int | None = None
    action: str = ""
    resource: str = ""
    decision: str = ""  # "Allow" for a request that reached the app
    request_id: str = ""
    # the statements that decided it: the policy core's matches (in process) or their text (remote)
    matches: tuple[Any, ...] = field(default=(), repr=False, compare=False)

    @property
    def reasons(self) -> tuple[str, ...]:
        """The statements that decided it, as text ("Allow by statement 0 of inline policy ...")."""
        return tuple(m if isinstance(m, str) else str(m) for m in self.matches)

    @classmethod
    def from_document(cls, doc: Mapping[str, Any], **decision: Any) -> IamIdentity:
        """From the authorisation API's ``Principal`` document."""
        return cls(
            arn=doc["Arn"], account=doc["Account"], user_id=doc.get("UserId") or doc["Account"], type=doc.get("Type", ""),
            access_key_id=doc.get("AccessKeyId", ""), role_arn=doc.get("RoleArn"), name=doc.get("Name"),
            tags=dict(doc.get("PrincipalTags") or {}), session_tags=dict(doc.get("SessionTags") or {}),
            source_identity=doc.get("SourceIdentity"), issued=doc.get("TokenIssueTime"), expires=doc.get("Expiration"),
            **decision,
        )


def identity_of(request_or_scope: Any) -> IamIdentity | None:
    """The authenticated principal of a request (a Starlette/FastAPI Request or an ASGI scope)."""
    scope = getattr(request_or_scope, "scope", request_or_scope)
    return scope.get("iamroles")  # type: ignore[no-any-return]


@dataclass(slots=True)
class Check:
    """What a backend decides: the received request, what it means, and what the service adds."""

    http: sigv4.HttpRequest
    action: str
    resource: str
    context: Mapping[str, str | Sequence[str]] | None = None
    resource_account: str | None = None
    resource_policy: str | Policy | None = None
    services: tuple[str, ...] | None = None  # SigV4 service names accepted (None: any)
    source_ip: str = "127.0.0.1"
    secure: bool = False
    request_id: str = ""
    resource_policy_must_grant: bool = False  # the resource policy must allow the principal itself (a key policy)


@dataclass(slots=True)
class Verdict:
    """A backend's answer. Not allowed: ``status``, ``code`` and ``message`` are what the client gets."""

    allowed: bool
    status: int
    code: str | None = None
    message: str | None = None
    identity: IamIdentity | None = None  # the signer, when the signature was good
    decision: str | None = None  # Allow / ImplicitDeny / ExplicitDeny (None: not authenticated)
    denied_by: str | None = None  # the policy type that denied
    encoded_message: str | None = None  # a denial's details, for sts:DecodeAuthorizationMessage
    request_id: str = ""


class Backend(Protocol):
    """Verifies a request's signature and decides it."""

    async def decide(self, check: Check) -> Verdict: ...

    async def aclose(self) -> None: ...


def new_request_id() -> str:
    """A request id as S3 writes them (16 upper-case hex digits). An identifier, not a secret."""
    return "%016X" % random.getrandbits(64)


def _failure(status: int, code: str, message: str, request_id: str) -> Verdict:
    return Verdict(False, status, code, message, request_id=request_id)


# --- in process --------------------------------------------------------------------------------------


class LocalAuthorizer:
    """Decides in process with an :class:`iamroles.runtime.Service`'s store, keys and caches.

    ``account``: the account owning the service's resources (default: the
    store's first account, the one ``iamroles serve`` bootstrapped).
    Principals of other accounts need the resource policy too; a target
    naming another account's resource (``resource_account``, or the account
    or partition in its ARN) is the service's mistake and is refused (500).
    Requests signed for a region of another partition than the account's are
    refused with InvalidClientTokenId, as AWS refuses a key of another partition.
    """

    def __init__(self, service: Service, *, account: str | None = None, in_thread: bool = False) -> None:
        self.service = service
        with service.store.read() as tx:
            found: StoreAccount | None
            if account is None:
                accounts = tx.accounts()
                if not accounts:
                    raise ValueError("the iamroles store has no account yet: start `iamroles serve` on it first")
                found = accounts[0]
            else:
                found = tx.account(account)
                if found is None:
                    raise ValueError(f"the iamroles store has no account {account}")
        self.account = found.account_id
        self.partition = found.partition
        self.in_thread = in_thread
        self._authorizers: dict[tuple[str, ...] | None, Authorizer] = {}
        self._owns_store = False

    @classmethod
    def open(cls, data_dir: str | os.PathLike[str] | None = None, db_url: str | None = None, *, account: str | None = None,
             cache_ttl: float = 1.0, in_thread: bool = False, regions: Mapping[str, str] | None = None) -> LocalAuthorizer:
        """On an ``iamroles serve`` data directory (its master key; its SQLite database unless ``db_url``).

        ``data_dir`` defaults to ``$IAMROLES_DATA_DIR`` or ``~/.iamroles``; the
        master key may come from ``$IAMROLES_MASTER_KEY`` instead. Changes made
        through the server (policies, deleted keys) apply here within
        ``cache_ttl`` seconds. Nothing is created: the server must have
        bootstrapped the store. ``regions``: private region names and their
        partitions, as the server's ``--region NAME=PARTITION`` declares them.
        """
        from iamroles.auth.regions import known_regions
        from iamroles.runtime import database_url, default_data_dir
        from iamroles.store import Store
        from iamroles.tokens import MasterKey

        known = known_regions().declare((regions or {}).items())
        directory = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
        key_path = directory / "master.key"
        if not os.environ.get("IAMROLES_MASTER_KEY") and not key_path.exists():
            raise FileNotFoundError(f"no iamroles master key at {key_path} (start `iamroles serve --data-dir {directory}` first)")
        master_key, _ = MasterKey.load_or_create(key_path)
        store = Store(database_url(directory, db_url), cache_ttl=cache_ttl)
        try:
            opened = cls(Service(store, master_key, regions=known), account=account, in_thread=in_thread)
        except Exception:
            store.close()
            raise
        opened._owns_store = True
        return opened

    def _authorizer(self, services: tuple[str, ...] | None) -> Authorizer:
        auth = self._authorizers.get(services)
        if auth is None:
            auth = self._authorizers[services] = Authorizer(self.service, services, self.account, self.partition)
        return auth

    def decide_now(self, check: Check) -> Verdict:
        """The decision, synchronously (what :meth:`decide` runs)."""
        try:
            result = self._authorizer(check.services).authorize(
                check.http, check.action, check.resource, resource_policy=check.resource_policy,
                resource_policy_must_grant=check.resource_policy_must_grant, resource_account=check.resource_account, context=check.context, source_ip=check.source_ip,
                secure=check.secure, request_id=check.request_id,
            )
        except AwsError as err:  # an invalid resource policy, another account's resource: the service's fault, not the client's
            log.error("request %s: cannot decide %s on %s: %s: %s", check.request_id, check.action, check.resource, err.code, err.message)
            return _failure(500, "InternalError", _INTERNAL, check.request_id)
        return _verdict(result, check)

    async def decide(self, check: Check) -> Verdict:
        if self.in_thread:
            return await asyncio.to_thread(self.decide_now, check)
        return self.decide_now(check)

    async def aclose(self) -> None:
        self.close()

    def close(self) -> None:
        """Close the store if :meth:`open` opened it."""
        if self._owns_store:
            self._owns_store = False
            self.service.store.close()


def _verdict(result: Authorization, check: Check) -> Verdict:
    err = result.error
    if err is not None:
        return Verdict(False, err.status, err.code, err.message, request_id=check.request_id)
    caller, decision = result.caller, result.decision
    assert caller is not None and decision is not None
    p = caller.principal
    session = caller.session
    allowed = decision.allowed
    identity = IamIdentity(
        arn=p.arn or "", account=caller.account_id, user_id=p.user_id or caller.account_id, type=p.type.value,
        access_key_id=caller.access_key_id, role_arn=p.role_arn, name=p.name, tags=p.tags,
        session_tags=(session.tags or {}) if session is not None else {},
        source_identity=session.source_identity if session is not None else None,
        issued=session.issued if session is not None else None, expires=session.expires if session is not None else None,
        action=check.action, resource=check.resource, decision=decision.effect.value,
        matches=decision.matches, request_id=check.request_id,
    )
    if allowed:
        return Verdict(True, 200, identity=identity, decision=identity.decision, request_id=check.request_id)
    denial = result.denial()
    assert denial is not None
    return Verdict(False, denial.status, denial.code, denial.message, identity, decision.effect.value,
                   decision.denied_by.value if decision.denied_by is not None else None, result.encoded_message, check.request_id)


# --- over HTTP ---------------------------------------------------------------------------------------


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
        payload_hash = http.payload_hash or (hashlib.sha256(http.body).hexdigest() if http.body else _EMPTY_SHA256)
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


# --- the middleware ----------------------------------------------------------------------------------

MappingResult = Target | tuple[str, str] | tuple[str, str, "Mapping[str, Any] | None"] | None | _Public
PolicySource = str | Mapping[str, Any] | Policy | None


def _target(value: Any) -> Target | None:
    if value is None:
        return None
    if isinstance(value, Target):
        if value.context and any(not isinstance(v, str) for v in value.context.values()):
            return replace(value, context=_context(value.context))
        return value
    if isinstance(value, tuple) and len(value) in (2, 3):
        return Target(value[0], value[1], _context(value[2]) if len(value) == 3 and value[2] else None)
    raise TypeError(f"the mapping returned {value!r}: expected a Target, (action, resource[, context]), None or PUBLIC")


def _context(context: Mapping[str, Any]) -> dict[str, str | tuple[str, ...]]:
    return {k: v if isinstance(v, str) else tuple(v) for k, v in context.items()}


def _policy_text(policy: PolicySource) -> str | Policy | None:
    if policy is None or isinstance(policy, (str, Policy)):
        return policy
    if isinstance(policy, Mapping):
        return json.dumps(policy)
    raise TypeError(f"a resource policy is a JSON string, a dict or a compiled Policy, not {type(policy).__name__}")


def _probe_s3_canonical_uri() -> bool:
    """Whether iamroles.auth.sigv4 already canonicalises S3-scoped paths as S3 does (the path as sent)."""
    try:
        signed = sigv4.SignedRequest("AKID", "20240101", "us-east-1", "s3", ("host",), "", datetime(2024, 1, 1, tzinfo=UTC),
                                     None, False, None)
        canonical = sigv4.canonical_request(sigv4.HttpRequest("GET", "/b/a%20b", "", {"host": "h"}, b""), signed)
    except Exception:  # noqa: BLE001
        return False
    return canonical.split("\n")[1] == "/b/a%20b"


_SIGV4_KNOWS_S3 = _probe_s3_canonical_uri()


def _credential_service(headers: Mapping[str, str], query: str) -> str | None:
    """The service named in the request's credential scope (Authorization header or X-Amz-Credential)."""
    auth = headers.get("authorization")
    if auth is not None:
        at = auth.find("Credential=")
        if at < 0:
            return None
        parts = auth[at + 11:].split(",", 1)[0].split("/")
    else:
        at = query.find("X-Amz-Credential=")
        if at < 0:
            return None
        parts = unquote(query[at + 17:].split("&", 1)[0]).split("/")
    return parts[3].strip() if len(parts) >= 5 else None


def _is_async(fn: Any) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(fn, "__call__", None))  # noqa: B004  (an instance whose __call__ is async)


def _not_normal(path: str) -> bool:
    """Whether SigV4's path normalisation (non-S3 services) would change ``path``."""
    return "//" in path or "/./" in path or "/../" in path or path.endswith(("/.", "/.."))


class IamAuthMiddleware:
    """SigV4 + IAM authorisation in front of an ASGI app (see the module's documentation).

    ``authorizer``: a :class:`Backend` (:class:`LocalAuthorizer` or
    :class:`RemoteAuthorizer`). ``mapping``: request -> :class:`Target` /
    ``(action, resource[, context])`` / ``None`` (refused) / :data:`PUBLIC`.
    ``resource_policy``: a document or ``(request, target) -> document``;
    ``resource_policy_must_grant``: it must allow the principal itself, as a key policy must.
    ``services``: SigV4 service names accepted (None: any).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        authorizer: Backend,
        mapping: Callable[[RequestInfo], MappingResult | Awaitable[MappingResult]],
        resource_policy: PolicySource | Callable[[RequestInfo, Target], PolicySource | Awaitable[PolicySource]] = None,
        resource_policy_must_grant: bool = False,
        services: Sequence[str] | None = None,
        allow_unsigned_payload: bool = False,
        max_body_size: int = 64 * 1024 * 1024,
        error_format: str = "xml",
    ) -> None:
        if error_format not in ("xml", "json"):
            raise ValueError("error_format is 'xml' or 'json'")
        self.app = app
        self.authorizer = authorizer
        self.mapping = mapping
        self._mapping_async = _is_async(mapping)
        self._policy_fn = resource_policy if callable(resource_policy) else None
        self._policy_async = _is_async(resource_policy)
        self._policy = None if callable(resource_policy) else _policy_text(resource_policy)
        self.resource_policy_must_grant = resource_policy_must_grant
        self.services = tuple(services) if services is not None else None
        self.allow_unsigned_payload = allow_unsigned_payload
        self.max_body_size = max_body_size
        self.error_format = error_format
        self._wire: Wire = ShortJson() if error_format == "json" else S3Xml()

    async def aclose(self) -> None:
        await self.authorizer.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http" or kind == "websocket":
            await self._handle(scope, receive, send, kind == "http")
        elif kind == "lifespan":
            await self.app(scope, self._lifespan_receive(receive), send)
        else:
            await self.app(scope, receive, send)

    def _lifespan_receive(self, receive: Receive) -> Receive:
        async def wrapped() -> Message:
            message = await receive()
            if message.get("type") == "lifespan.shutdown":
                try:
                    await self.aclose()
                except Exception:
                    log.exception("closing the authorizer failed")
            return message
        return wrapped

    async def _handle(self, scope: Scope, receive: Receive, send: Send, is_http: bool) -> None:
        request_id = new_request_id()
        headers = sigv4.asgi_headers(scope["headers"])

        # the body, bounded, hashed once
        body = b""
        if is_http:
            length = headers.get("content-length")
            if length is not None and length.isdigit() and int(length) > self.max_body_size:
                await self._refuse(scope, receive, send, 413, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size", request_id)
                return
            chunks: list[bytes] = []
            size = 0
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                if chunk:
                    size += len(chunk)
                    if size > self.max_body_size:
                        await self._refuse(scope, receive, send, 413, "EntityTooLarge",
                                           "Your proposed upload exceeds the maximum allowed size", request_id)
                        return
                    chunks.append(chunk)
                if not message.get("more_body", False):
                    break
            body = chunks[0] if len(chunks) == 1 else b"".join(chunks)

        client = scope.get("client")
        source_ip = client[0] if client else "127.0.0.1"
        secure = scope.get("scheme") in ("https", "wss")
        query = scope.get("query_string", b"").decode("latin-1")
        info = RequestInfo(scope, scope.get("method", "GET"), scope["path"], query, headers, body, source_ip, secure)

        try:
            mapped: Any = self.mapping(info)
            if self._mapping_async or (mapped is not None and not isinstance(mapped, (Target, tuple, _Public)) and inspect.isawaitable(mapped)):
                mapped = await mapped
            if mapped is PUBLIC:
                scope["iamroles"] = None
                await self.app(scope, _replay(body, receive) if is_http else receive, send)
                return
            target = _target(mapped)
            if target is None:
                await self._refuse(scope, receive, send, 403, "AccessDenied", "Access Denied", request_id)
                return
            policy = self._policy
            if self._policy_fn is not None:
                found: Any = self._policy_fn(info, target)
                if self._policy_async or (found is not None and not isinstance(found, (str, Policy)) and inspect.isawaitable(found)):
                    found = await found
                policy = _policy_text(found)
        except Exception:
            log.exception("request %s: the mapping or the resource-policy callable failed", request_id)
            await self._refuse(scope, receive, send, 500, "InternalError", _INTERNAL, request_id)
            return

        # what the signature covers
        payload_hash: str | None = None
        unsigned_ok = self.allow_unsigned_payload
        declared = headers.get("x-amz-content-sha256")
        service = _credential_service(headers, query)
        if declared is not None and declared.startswith("STREAMING-"):
            await self._refuse(scope, receive, send, 501, "NotImplemented",
                               f"x-amz-content-sha256 {declared} (aws-chunked) is not supported: sign the payload or send UNSIGNED-PAYLOAD.",
                               request_id)
            return
        if declared is None and service == "s3" and "authorization" not in headers and "X-Amz-Signature=" in query:
            # S3 presigned URLs sign UNSIGNED-PAYLOAD in place of the payload's hash
            headers = {**headers, "x-amz-content-sha256": sigv4.UNSIGNED_PAYLOAD}
            declared = sigv4.UNSIGNED_PAYLOAD
        if declared == sigv4.UNSIGNED_PAYLOAD and unsigned_ok:
            payload_hash = _EMPTY_SHA256  # not part of the signature: no need to hash the body
        else:
            payload_hash = hashlib.sha256(body).hexdigest() if body else _EMPTY_SHA256
        raw_path = scope.get("raw_path")
        path = raw_path.decode("latin-1") if raw_path else quote(scope["path"], safe="/~")
        if service == "s3" and not _SIGV4_KNOWS_S3:
            # S3 signs the path as sent; iamroles.auth.sigv4 encodes once more (as for every other service),
            # which gives the same canonical path when handed the decoded one
            path = unquote(path, errors="surrogateescape")
        if _not_normal(path) and not (service == "s3" and _SIGV4_KNOWS_S3):
            await self._refuse(scope, receive, send, 400, "InvalidURI", "Couldn't parse the specified URI.", request_id)
            return
        http = sigv4.HttpRequest(info.method, path, query, headers, b"", payload_hash, unsigned_ok)
        check = Check(http, target.action, target.resource, target.context, target.resource_account, policy, self.services,
                      source_ip, secure, request_id, self.resource_policy_must_grant)
        try:
            verdict = await self.authorizer.decide(check)
        except Exception:
            log.exception("request %s: the authorizer failed", request_id)
            verdict = _failure(500, "InternalError", _INTERNAL, request_id)
        if not verdict.allowed:
            await self._refuse(scope, receive, send, verdict.status, verdict.code or "AccessDenied", verdict.message or "Access Denied",
                               verdict.request_id or request_id)
            return
        scope["iamroles"] = verdict.identity
        await self.app(scope, _replay(body, receive) if is_http else receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, status: int, code: str, message: str, request_id: str) -> None:
        if scope["type"] == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1008, "reason": code})
            return
        wire = self._wire
        payload = wire.error(status, code, message, "Sender" if status < 500 else "Receiver", request_id)
        media = wire.media_type
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", media), (b"content-length", str(len(payload)).encode()),
                                (b"x-amz-request-id", request_id.encode())]})
        await send({"type": "http.response.body", "body": b"" if scope.get("method") == "HEAD" else payload})


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body, read already, handed to the app as one message; then the connection's own (http.disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
