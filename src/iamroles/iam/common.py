"""Helpers shared by the IAM operations: names, paths, ARNs, paging, tags, documents."""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, TypeVar
from urllib.parse import quote

from iamroles.errors import InvalidInput, LimitExceeded, MalformedPolicyDocument, NoSuchEntity, UnmodifiableEntity, ValidationError
from iamroles.policy import PolicyDocument, PolicyError, PolicyKind, parse_document
from iamroles.store import Role, Tag

from .conflicts import already_exists
from .context import CallContext
from .registry import Input
from .review import review_policy

__all__ = [
    "already_exists",
    "same_partition",
    "lock_account",
    "account_quota",
    "ACCOUNT_QUOTAS",
    "quota_limit",
    "entity_arn",
    "entity_resource",
    "page",
    "paged",
    "first",
    "encode_marker",
    "decode_marker",
    "policy_text",
    "check_document",
    "malformed_policy",
    "tags_in",
    "tags_out",
    "tag_keys",
    "not_found",
    "encode_document",
    "SERVICE_ROLE_PATH",
    "is_service_linked",
    "refuse_service_linked",
]

T = TypeVar("T")

KIND_PREFIX = {"user": "user", "group": "group", "role": "role", "instance_profile": "instance-profile"}
KIND_WORD = {"user": "user", "group": "group", "role": "role", "instance_profile": "Instance Profile"}
MAX_TAGS = 50


def entity_arn(ctx: CallContext, kind: str, name: str, path: str = "/") -> str:
    return ctx.arn(f"{KIND_PREFIX[kind]}{path}{name}")


def not_found(kind: str, name: str) -> NoSuchEntity:
    if kind == "instance_profile":
        return NoSuchEntity(f"Instance Profile {name} cannot be found.")
    return NoSuchEntity(f"The {KIND_WORD[kind]} with name {name} cannot be found.")


def entity_resource(kind: str, param: str) -> Callable[[CallContext, Input], str]:
    """The ARN a call on an entity is authorised against: its real ARN when it
    exists, else the ARN it would have (with the request's Path, if any)."""

    def resource(ctx: CallContext, inp: Input) -> str:
        name = inp.get(param)
        if name is None:
            return ctx.arn(f"{KIND_PREFIX[kind]}/")
        found = ctx.tx.entity(kind, ctx.account_id, name)
        if found is not None:
            return str(found.arn)
        return entity_arn(ctx, kind, name, inp.get("Path") or "/")

    return resource


def listing(kind: str) -> Callable[[CallContext, Input], str]:
    return lambda ctx, inp: ctx.arn(f"{KIND_PREFIX[kind]}{inp.get('PathPrefix') or '/'}")


def get_entity(ctx: CallContext, kind: str, name: str, for_update: bool = False) -> Any:
    """The entity, or its NoSuchEntity. ``for_update``: locked (it owns what a quota counts) until the
    transaction ends; take it before counting, and before any other lock but the account's (iamroles.store.sql)."""
    found = ctx.tx.entity(kind, ctx.account_id, name, for_update=for_update)
    if found is None:
        raise not_found(kind, name)
    return found


# Service-linked roles live under this path, and only they: CreateRole refuses it ("Path prefix '/aws-service-role/'
# can only be used for AWS Service linked Roles", as IAM answers), so the path tells one apart.
SERVICE_ROLE_PATH = "/aws-service-role/"


def is_service_linked(entity: Any) -> bool:
    """Whether ``entity`` is a service-linked role (a user or group under that path is not one)."""
    return isinstance(entity, Role) and entity.path.startswith(SERVICE_ROLE_PATH)


def refuse_service_linked(entity: Any) -> None:
    """UnmodifiableEntity for a service-linked role: "Only the service that depends on the service-linked role can
    modify or delete the role" (the model's UnmodifiableEntityException), worded as IAM answers it."""
    if is_service_linked(entity):
        raise UnmodifiableEntity(f"Cannot perform the operation on the protected role '{entity.name}' - "
                                 "this role is only modifiable by AWS")


def same_partition(ctx: CallContext, arn: str) -> None:
    """ValidationError "Invalid ARN partition" for an ARN of another partition than the caller's account (a policy
    ARN of aws in an aws-cn account: IAM's answer to AttachRolePolicy, pulumi/pulumi-aws-apigateway#347)."""
    parts = arn.split(":", 2)
    if len(parts) == 3 and parts[0] == "arn" and parts[1] != ctx.partition:
        raise ValidationError("Invalid ARN partition")


def lock_account(ctx: CallContext) -> None:
    """Lock the caller's account row, the owner of per-account counts and of the root user's keys
    (first of all locks); the checks after it see every create committed before."""
    ctx.tx.account(ctx.account_id, for_update=True)


# The per-account quotas iamroles counts: AWS's quota name -> (what the store counts, AWS's default), from
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html (virtual MFA devices: the user quota).
# An operator raises one for an account with Tx.set_quota (a row of account_quotas); AWS's default applies otherwise.
ACCOUNT_QUOTAS: dict[str, tuple[str, int]] = {
    "UsersPerAccount": ("user", 5000),
    "GroupsPerAccount": ("group", 300),
    "RolesPerAccount": ("role", 1000),
    "InstanceProfilesPerAccount": ("instance_profile", 1000),
    "PoliciesPerAccount": ("policy", 1500),
    "OpenIdConnectProvidersPerAccount": ("oidc", 100),
    "VirtualMFADevicesPerAccount": ("mfa", 5000),
    "ServerCertificatesPerAccount": ("server_certificate", 20),
    "SAMLProvidersPerAccount": ("saml", 100),
    # AWS Organizations' accounts in an organization (of its management account; open invitations count too):
    # https://docs.aws.amazon.com/organizations/latest/userguide/orgs_reference_limits.html; iam.organizations counts them
    "AccountsPerOrganization": ("org_account", 10),
}


def quota_limit(ctx: CallContext, quota: str) -> int:
    """The account's limit for ``quota``: its override if an operator set one, else AWS's default."""
    return ctx.tx.quotas(ctx.account_id).get(quota, ACCOUNT_QUOTAS[quota][1])


def account_quota(ctx: CallContext, quota: str) -> None:
    """LimitExceeded when the account already has its limit of what ``quota`` counts (an SQL COUNT); call
    :func:`lock_account` first, so that two creates cannot both see room for one."""
    kind, _default = ACCOUNT_QUOTAS[quota]
    limit = quota_limit(ctx, quota)
    if ctx.tx.count(kind, ctx.account_id) >= limit:
        raise LimitExceeded(f"Cannot exceed quota for {quota}: {limit}")


# -- paging -----------------------------------------------------------------------------------------
# A Marker is opaque to the caller: base64 of a tag of the listing that issued it and the sort key of the first item
# of the next page (its parts joined by NUL, which no name holds); at most 320 characters, as the model's markerType
# allows. The store reads a page from that key on (keyset pagination): a page costs the same however many items come
# before it, and an item inserted or deleted between pages neither repeats nor hides any other.
DEFAULT_MAX_ITEMS = 100
_TAG = 4  # bytes of SHA-256 of the operation's name


def invalid_marker() -> ValidationError:
    # IAM's answer to a Marker it did not issue
    return ValidationError("Invalid Marker.")


def _tag(op: str) -> bytes:
    return hashlib.sha256(op.encode()).digest()[:_TAG]


def encode_marker(op: str, key: Sequence[str]) -> str:
    return base64.urlsafe_b64encode(_tag(op) + "\0".join(key).encode()).decode()


def decode_marker(op: str, marker: str | None, width: int = 1) -> tuple[str, ...] | None:
    """The sort key (``width`` strings) a Marker of ``op`` names; a Marker that is not one (garbage, forged, of
    another listing) is ValidationError."""
    if not marker:
        return None
    try:
        raw = base64.urlsafe_b64decode(marker.encode("ascii"))
        key = tuple(raw[_TAG:].decode().split("\0"))
    except (ValueError, UnicodeError):
        raise invalid_marker() from None
    if not hmac.compare_digest(raw[:_TAG], _tag(op)) or len(key) != width:
        raise invalid_marker()
    return key


def first(after: tuple[str, ...] | None) -> str | None:
    """The one part of a one-part sort key (or None: from the start)."""
    return after[0] if after is not None else None


def max_items(inp: Input) -> int:
    return int(inp.get("MaxItems") or DEFAULT_MAX_ITEMS)


def paged(op: str, inp: Input, fetch: Callable[[tuple[str, ...] | None, int], Sequence[T]],
          key: Callable[[T], Sequence[str]], width: int = 1) -> tuple[list[T], dict[str, Any]]:
    """AWS paging done by the store: ``fetch(after, limit)`` reads at most ``limit`` items from sort key ``after``
    on; one more than MaxItems is read to know whether the listing is truncated, and names the next page."""
    limit = max_items(inp)
    rows = fetch(decode_marker(op, inp.get("Marker"), width), limit + 1)
    meta: dict[str, Any] = {"IsTruncated": len(rows) > limit}
    if meta["IsTruncated"]:
        meta["Marker"] = encode_marker(op, key(rows[limit]))
    return list(rows[:limit]), meta


def page(op: str, items: Sequence[T], inp: Input, key: Callable[[T], str]) -> tuple[list[T], dict[str, Any]]:
    """AWS paging of a list already read whole, in ``key`` order: for the lists an AWS quota keeps small
    (a user's access keys and MFA devices, an entity's tags and attached policies, a policy's versions)."""
    after = decode_marker(op, inp.get("Marker"))
    start = 0 if after is None else next((i for i, item in enumerate(items) if key(item) >= after[0]), len(items))
    limit = max_items(inp)
    chunk = list(items[start : start + limit])
    meta: dict[str, Any] = {"IsTruncated": start + limit < len(items)}
    if meta["IsTruncated"]:
        meta["Marker"] = encode_marker(op, [key(items[start + limit])])
    return chunk, meta


_WS = re.compile(r"\s")


def policy_text(document: str) -> int:
    """Size as AWS counts it for quotas: characters, white space excluded."""
    return len(_WS.sub("", document))


@contextmanager
def malformed_policy() -> Iterator[None]:
    """The one place a PolicyError becomes MalformedPolicyDocument."""
    try:
        yield
    except PolicyError as err:
        raise MalformedPolicyDocument(str(err)) from None


def check_document(document: str, kind: PolicyKind, managed: bool = False, ctx: CallContext | None = None) -> PolicyDocument:
    """The parsed document, or MalformedPolicyDocument; with ``ctx``, a document about to be stored, also checked as
    ``serve --validate-policies`` says (iam.review)."""
    with malformed_policy():
        parsed = parse_document(document, kind, managed)
    if ctx is not None:
        review_policy(ctx, document, kind)
    return parsed


@lru_cache(maxsize=4096)
def encode_document(document: str) -> str:
    """IAM returns policy documents URL-encoded (RFC 3986); the same few documents are returned again and again."""
    return quote(document, safe="-_.!~*'()")


def tags_in(inp: Input, limit_name: str = "") -> list[Tag]:
    raw = inp.get("Tags") or []
    tags = [Tag(t["Key"], t.get("Value", "")) for t in raw]
    folds = [t.key.lower() for t in tags]
    if len(set(folds)) != len(folds):
        raise InvalidInput("Duplicate tag keys found. Please note that Tag keys are case insensitive.")
    for t in tags:
        if t.key.lower().startswith("aws:"):
            raise InvalidInput("User-defined tag keys can't start with 'aws:'. This prefix is reserved for AWS tags.")
    if len(tags) > MAX_TAGS:
        raise LimitExceeded(f"Cannot exceed quota for {limit_name or 'TagsPerResource'}: {MAX_TAGS}.")
    return tags


def check_tag_total(existing: Sequence[Tag], new: Sequence[Tag], limit_name: str) -> None:
    keys = {t.key.lower() for t in existing} | {t.key.lower() for t in new}
    if len(keys) > MAX_TAGS:
        raise LimitExceeded(f"Cannot exceed quota for {limit_name}: {MAX_TAGS}.")


def tags_out(tags: Sequence[Tag]) -> list[dict[str, str]]:
    return [{"Key": t.key, "Value": t.value} for t in tags]


def tag_keys(inp: Input) -> dict[str, Any]:
    """aws:RequestTag/* and aws:TagKeys for calls that carry tags."""
    keys: dict[str, Any] = {}
    tags = inp.get("Tags") or []
    for t in tags:
        keys[f"aws:RequestTag/{t['Key']}"] = t.get("Value", "")
    names = [t["Key"] for t in tags] or list(inp.get("TagKeys") or [])
    if names:
        keys["aws:TagKeys"] = names
    return keys


def resource_tag_keys(ctx: CallContext, kind: str, name: str | None) -> dict[str, Any]:
    if not name:
        return {}
    return {f"aws:ResourceTag/{t.key}": t.value for t in ctx.tx.tags(ctx.account_id, kind, name.lower())}
