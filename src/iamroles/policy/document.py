"""The policy language as values: a parsed document and its statements.

These are what ``parse`` produces and ``compile`` consumes; they keep the
document's meaning (lists normalised to tuples, values as strings) and
nothing of its JSON layout.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = [
    "PolicyKind",
    "PolicyType",
    "PrincipalElement",
    "ConditionClause",
    "Statement",
    "PolicyDocument",
    "VERSION_2012",
    "VERSION_2008",
]

VERSION_2012 = "2012-10-17"
VERSION_2008 = "2008-10-17"


class PolicyKind(str, Enum):
    """What a document is for; each kind has AWS's own validation rules."""

    IDENTITY = "identity"  # user/group/role inline and managed policies
    RESOURCE = "resource"  # resource-based policies (bucket, queue, key policies)
    TRUST = "trust"  # a role's trust policy (AssumeRolePolicyDocument)
    BOUNDARY = "boundary"  # a permissions boundary (a managed identity policy)
    SESSION = "session"  # a session policy passed to AssumeRole/GetFederationToken
    SCP = "scp"  # an AWS Organizations service control policy
    RCP = "rcp"  # an AWS Organizations resource control policy


class PolicyType(str, Enum):
    """The policy types of the decision, named as AWS's AccessDenied messages name them."""

    SCP = "scp"
    RCP = "rcp"
    RESOURCE = "resource"
    IDENTITY = "identity"
    BOUNDARY = "boundary"
    SESSION = "session"

    @property
    def phrase(self) -> str:
        return _PHRASES[self]

    @property
    def article(self) -> str:
        return "an" if self is PolicyType.IDENTITY else "a"


_PHRASES = {
    PolicyType.SCP: "service control policy",
    PolicyType.RCP: "resource control policy",
    PolicyType.RESOURCE: "resource-based policy",
    PolicyType.IDENTITY: "identity-based policy",
    PolicyType.BOUNDARY: "permissions boundary",
    PolicyType.SESSION: "session policy",
}


@dataclass(frozen=True, slots=True)
class PrincipalElement:
    """A Principal or NotPrincipal element: ``"*"`` or typed values."""

    wildcard: bool  # "Principal": "*"
    aws: tuple[str, ...] = ()
    service: tuple[str, ...] = ()
    federated: tuple[str, ...] = ()
    canonical_user: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ConditionClause:
    """One operator/key pair of a Condition block, with its values (ORed)."""

    operator: str  # as written, e.g. "ForAnyValue:StringLikeIfExists"
    key: str  # as written, e.g. "aws:PrincipalTag/team"
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Statement:
    effect: str  # "Allow" or "Deny"
    sid: str | None = None
    actions: tuple[str, ...] = ()
    not_action: bool = False
    resources: tuple[str, ...] | None = None  # None: no Resource element (trust policies)
    not_resource: bool = False
    principal: PrincipalElement | None = None
    not_principal: bool = False
    conditions: tuple[ConditionClause, ...] = ()

    @property
    def is_deny(self) -> bool:
        return self.effect == "Deny"


@dataclass(frozen=True, slots=True)
class PolicyDocument:
    version: str | None
    statements: tuple[Statement, ...]
    id: str | None = None

    @property
    def has_variables(self) -> bool:
        """Policy variables exist only in Version 2012-10-17 documents."""
        return self.version == VERSION_2012
