"""What the middleware, its mapping and its backends exchange: the request as the service sees it
(:class:`RequestInfo`), what it means to IAM (:class:`Target`), what a backend decides (:class:`Check`) and
answers (:class:`Verdict`), and the principal an allowed request carries to the app (:class:`IamIdentity`)."""
from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qs

from iamroles.auth import sigv4
from iamroles.policy import Policy
from iamroles.runtime.call import Wire

__all__ = [
    "PUBLIC",
    "Backend",
    "Check",
    "IamIdentity",
    "MappingResult",
    "PolicySource",
    "RequestInfo",
    "Target",
    "Verdict",
    "identity_of",
    "new_request_id",
]


class _Public:
    __slots__ = ()

    def __repr__(self) -> str:
        return "PUBLIC"


PUBLIC: Any = _Public()
"""What a mapping returns for a request that needs no authentication (it reaches the app unchecked)."""


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


MappingResult = Target | tuple[str, str] | tuple[str, str, "Mapping[str, Any] | None"] | None | _Public
PolicySource = str | Mapping[str, Any] | Policy | None


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
    wire: Wire | None = None  # the middleware's error envelope, for a backend that writes the refusal itself


@dataclass(slots=True)
class Verdict:
    """A backend's answer. Not allowed: ``status``, ``code`` and ``message`` are what the client gets (``body``:
    the refusal as the backend already wrote it in the check's wire)."""

    allowed: bool
    status: int
    code: str | None = None
    message: str | None = None
    identity: IamIdentity | None = None  # the signer, when the signature was good
    decision: str | None = None  # Allow / ImplicitDeny / ExplicitDeny (None: not authenticated)
    denied_by: str | None = None  # the policy type that denied
    encoded_message: str | None = None  # a denial's details, for sts:DecodeAuthorizationMessage
    request_id: str = ""
    body: bytes | None = field(default=None, repr=False)


class Backend(Protocol):
    """Verifies a request's signature and decides it."""

    async def decide(self, check: Check) -> Verdict: ...

    async def aclose(self) -> None: ...


def new_request_id() -> str:
    """A request id as S3 writes them (16 upper-case hex digits). An identifier, not a secret."""
    return "%016X" % random.getrandbits(64)
