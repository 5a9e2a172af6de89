"""Who is asking for what: :class:`Principal` and :class:`Request`.

A principal carries the facts AWS derives global condition keys from
(IAM User Guide, reference_policies_condition-keys): aws:PrincipalArn,
aws:PrincipalAccount, aws:PrincipalType, aws:userid, aws:username,
aws:PrincipalTag/*, aws:PrincipalIsAWSService, aws:PrincipalServiceName.
A request adds the action, the resource, its account, the time
(aws:CurrentTime, aws:EpochTime) and caller-supplied keys. Keys are stored
lower-cased: condition key names are case-insensitive.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from functools import lru_cache
from typing import Any

__all__ = ["PrincipalType", "Principal", "Request", "RequestContext", "ContextValue", "TIME_KEYS", "context_time_value"]

ContextValue = str | bool | int | float | Sequence[str]

_IAM_ARN = re.compile(r"arn:(?P<p>[^:]+):(?P<svc>iam|sts)::(?P<acct>\d{12}):(?P<rest>.+)\Z")


class PrincipalType(str, Enum):
    """Values of aws:PrincipalType, plus the non-IAM callers."""

    ACCOUNT = "Account"  # the account root user
    USER = "User"
    ASSUMED_ROLE = "AssumedRole"
    FEDERATED_USER = "FederatedUser"
    SERVICE = "Service"  # an AWS service principal, e.g. ecs-tasks.amazonaws.com
    WEB_IDENTITY = "WebIdentity"  # a federated (OIDC/SAML) identity, before it has a role
    ANONYMOUS = "Anonymous"
    CANONICAL_USER = "CanonicalUser"


# principals whose own identity-based policies take part in a decision
_WITH_IDENTITY_POLICIES = frozenset({PrincipalType.USER, PrincipalType.ASSUMED_ROLE, PrincipalType.FEDERATED_USER, PrincipalType.ACCOUNT})


@dataclass(frozen=True, slots=True)
class Principal:
    type: PrincipalType
    arn: str | None = None
    account: str | None = None
    role_arn: str | None = None  # for assumed-role sessions: the role's ARN, with its path
    user_id: str | None = None  # AIDA... for users, AROA...:session for sessions
    name: str | None = None  # user name, role session name, federated user name
    tags: Mapping[str, str] = field(default_factory=dict)
    service: str | None = None
    federated: str | None = None  # an identity provider name or ARN
    canonical_user: str | None = None
    keys: Mapping[str, str | tuple[str, ...]] = field(init=False, repr=False, compare=False)
    # the partition of the principal's ARN (None for services, web identities, anonymous callers)
    partition: str | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "keys", self._global_keys())
        parts = self.arn.split(":", 2) if self.arn else ()
        object.__setattr__(self, "partition", parts[1] if len(parts) == 3 and parts[0] == "arn" else None)

    # -- construction ---------------------------------------------------------
    @classmethod
    def from_arn(
        cls,
        arn: str,
        *,
        role_arn: str | None = None,
        user_id: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Principal:
        """A principal from its ARN: root, user, role session or federated user."""
        m = _IAM_ARN.match(arn)
        if m is None:
            raise ValueError(f"not an IAM or STS principal ARN: {arn}")
        partition, svc, account, rest = m.group("p", "svc", "acct", "rest")
        tags = dict(tags or {})
        if svc == "iam" and rest == "root":
            return cls(PrincipalType.ACCOUNT, arn, account, user_id=user_id or account, tags=tags)
        if svc == "iam" and rest.startswith("user/"):
            return cls(PrincipalType.USER, arn, account, user_id=user_id, name=rest.rsplit("/", 1)[1], tags=tags)
        if rest.startswith("federated-user/"):
            name = rest[len("federated-user/") :]
            sts_arn = f"arn:{partition}:sts::{account}:federated-user/{name}"
            return cls(PrincipalType.FEDERATED_USER, sts_arn, account, user_id=user_id or f"{account}:{name}", name=name, tags=tags)
        if svc == "sts" and rest.startswith("assumed-role/"):
            parts = rest.split("/")
            if len(parts) != 3:
                raise ValueError(f"not an assumed-role ARN: {arn}")
            role = role_arn or f"arn:{partition}:iam::{account}:role/{parts[1]}"
            return cls(PrincipalType.ASSUMED_ROLE, arn, account, role_arn=role, user_id=user_id, name=parts[2], tags=tags)
        raise ValueError(f"not a principal ARN (a role is assumed, not a caller): {arn}")

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> Principal:
        """A principal from a plain mapping (the CLI's and the case files' form).

        ``{"arn": ..., "role_arn"?, "user_id"?, "tags"?}``, ``{"service": ...}``,
        ``{"federated": ...}``, ``{"canonical_user": ...}`` or ``{"anonymous": true}``.
        """
        if "arn" in spec:
            return cls.from_arn(spec["arn"], role_arn=spec.get("role_arn"), user_id=spec.get("user_id"), tags=spec.get("tags"))
        if "service" in spec:
            return cls(PrincipalType.SERVICE, service=spec["service"])
        if "federated" in spec:
            provider = spec["federated"]
            m = _IAM_ARN.match(provider)
            return cls(PrincipalType.WEB_IDENTITY, federated=provider, account=m.group("acct") if m else spec.get("account"))
        if "canonical_user" in spec:
            return cls(PrincipalType.CANONICAL_USER, canonical_user=spec["canonical_user"])
        if spec.get("anonymous"):
            return cls(PrincipalType.ANONYMOUS)
        raise ValueError(f"cannot tell the principal from {dict(spec)!r}")

    # -- derived facts ------------------------------------------------------
    @property
    def principal_arn(self) -> str | None:
        """aws:PrincipalArn: for a role session, the role's ARN."""
        return self.role_arn if self.type is PrincipalType.ASSUMED_ROLE else self.arn

    @property
    def has_identity_policies(self) -> bool:
        return self.type in _WITH_IDENTITY_POLICIES

    def _global_keys(self) -> dict[str, str | tuple[str, ...]]:
        keys: dict[str, str | tuple[str, ...]] = {}
        if self.type is PrincipalType.SERVICE:
            keys["aws:principalisawsservice"] = "true"
            if self.service:
                keys["aws:principalservicename"] = self.service
            return keys
        if self.type is PrincipalType.ANONYMOUS:
            # reference_policies_condition-keys: anonymous requests carry
            # aws:PrincipalAccount and aws:userid "anonymous", and no
            # aws:PrincipalIsAWSService (that key needs AWS credentials).
            keys["aws:principaltype"] = "Anonymous"
            keys["aws:principalaccount"] = "anonymous"
            keys["aws:userid"] = "anonymous"
            return keys
        keys["aws:principalisawsservice"] = "false"
        if self.type in (PrincipalType.CANONICAL_USER, PrincipalType.WEB_IDENTITY):
            return keys
        keys["aws:principaltype"] = self.type.value
        if self.principal_arn:
            keys["aws:principalarn"] = self.principal_arn
        if self.account:
            keys["aws:principalaccount"] = self.account
        if self.user_id:
            keys["aws:userid"] = self.user_id
        if self.type is PrincipalType.USER and self.name:
            keys["aws:username"] = self.name
        for k, v in self.tags.items():
            keys[f"aws:principaltag/{k.lower()}"] = v
        if self.tags:
            keys["aws:principaltagkeys"] = tuple(self.tags)
        return keys


def _context_value(value: ContextValue) -> str | tuple[str, ...]:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return tuple(_context_value(v) for v in value)  # type: ignore[misc]


def _time_keys(when: datetime) -> tuple[str, str]:
    """aws:CurrentTime and aws:EpochTime of ``when``."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return _second_keys(math.floor(when.timestamp()))


@lru_cache(maxsize=4096)
def _second_keys(second: int) -> tuple[str, str]:
    # remembered: a request formats its own time and its session's issue time, many requests a second
    day, rest = divmod(second, 86400)
    hour, rest = divmod(rest, 3600)
    minute, sec = divmod(rest, 60)
    return f"{_day_text(day)}{hour:02d}:{minute:02d}:{sec:02d}Z", str(second)


@lru_cache(maxsize=1024)
def _day_text(day: int) -> str:
    """``YYYY-MM-DDT`` of a day since the epoch (strftime costs twice the arithmetic)."""
    return datetime.fromtimestamp(day * 86400, UTC).strftime("%Y-%m-%dT")


def format_time(when: datetime) -> str:
    """ISO 8601 UTC to the second."""
    return _time_keys(when)[0]


def format_epoch(seconds: int) -> str:
    """ISO 8601 UTC of an epoch second (a session's issue time)."""
    return _second_keys(seconds)[0]


TIME_KEYS = frozenset({"aws:currenttime", "aws:epochtime"})


class RequestContext(dict[str, "str | tuple[str, ...]"]):
    """A request's context keys (lower-cased) and the request's time, from which aws:CurrentTime and
    aws:EpochTime are made the first time a policy reads one (:func:`context_time_value`)."""

    __slots__ = ("when",)

    when: datetime | None


def context_time_value(ctx: Mapping[str, str | tuple[str, ...]], key: str) -> str | tuple[str, ...] | None:
    """``ctx[key]`` for aws:CurrentTime / aws:EpochTime (lower-cased ``key``), made from the request's time on
    first use; keys given in the request's context win."""
    value = ctx.get(key)
    if value is None:
        when = getattr(ctx, "when", None)
        if when is not None:
            current, epoch = _time_keys(when)
            ctx.setdefault("aws:currenttime", current)  # type: ignore[attr-defined]
            ctx.setdefault("aws:epochtime", epoch)  # type: ignore[attr-defined]
            value = ctx.get(key)
    return value


@dataclass(slots=True)
class Request:
    """One authorisation question (a value: do not change it once made; not ``frozen`` only because a frozen
    dataclass's ``__init__`` costs three times a plain one's, on the path of every decision). ``context`` values: a string, or a list of
    strings for a multivalued key; booleans and numbers become their text.

    ``ctx`` is the request context by lower-cased key. aws:CurrentTime and
    aws:EpochTime (from ``time``) join it when a policy first reads one
    (formatting a time costs more than most decisions) or when
    :meth:`full_context` is asked for; keys given in ``context`` win.
    """

    principal: Principal
    action: str
    resource: str
    resource_account: str | None = None
    context: Mapping[str, ContextValue] = field(default_factory=dict)
    time: datetime | None = None
    ctx: RequestContext = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ctx = RequestContext(self.principal.keys)
        ctx.when = self.time
        if self.resource_account:
            ctx["aws:resourceaccount"] = self.resource_account
        for key, value in self.context.items():
            ctx[key.lower()] = value if type(value) is str else _context_value(value)
        self.ctx = ctx

    def full_context(self) -> dict[str, str | tuple[str, ...]]:
        """Every context key of the request, the time keys included."""
        context_time_value(self.ctx, "aws:currenttime")
        return dict(self.ctx)

    @property
    def same_account(self) -> bool:
        return self.resource_account is None or self.resource_account == self.principal.account
