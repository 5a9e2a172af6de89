"""Helpers shared by the IAM operations: names, paths, ARNs, paging, tags, documents."""
from __future__ import annotations

import base64
import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any, TypeVar
from urllib.parse import quote

from iamroles.errors import InvalidInput, LimitExceeded, MalformedPolicyDocument, NoSuchEntity
from iamroles.policy import PolicyDocument, PolicyError, PolicyKind, parse_document
from iamroles.store import Tag

from .conflicts import already_exists
from .context import CallContext
from .registry import Input

__all__ = [
    "already_exists",
    "lock_account",
    "account_quota",
    "entity_arn",
    "entity_resource",
    "page",
    "policy_text",
    "check_document",
    "tags_in",
    "tags_out",
    "tag_keys",
    "not_found",
    "encode_document",
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


def lock_account(ctx: CallContext) -> None:
    """Lock the caller's account row, the owner of per-account counts and of the root user's keys
    (first of all locks); the checks after it see every create committed before."""
    ctx.tx.account(ctx.account_id, for_update=True)


def account_quota(ctx: CallContext, kind: str, limit: int, quota: str) -> None:
    """LimitExceeded when the account already has ``limit`` of ``kind``; call :func:`lock_account` first."""
    if ctx.tx.count(kind, ctx.account_id) >= limit:
        raise LimitExceeded(f"Cannot exceed quota for {quota}: {limit}")


def page(items: Sequence[T], inp: Input, key: Callable[[T], str]) -> tuple[list[T], dict[str, Any]]:
    """AWS paging: Marker (opaque: the next item's sort key) and MaxItems (default 100)."""
    max_items = inp.get("MaxItems") or 100
    start = 0
    marker = inp.get("Marker")
    if marker:
        try:
            after = base64.urlsafe_b64decode(marker.encode()).decode()
        except (ValueError, UnicodeDecodeError):
            raise InvalidInput("Invalid Marker.") from None
        start = next((i for i, item in enumerate(items) if key(item) >= after), len(items))
    chunk = list(items[start : start + max_items])
    meta: dict[str, Any] = {"IsTruncated": start + max_items < len(items)}
    if meta["IsTruncated"]:
        meta["Marker"] = base64.urlsafe_b64encode(key(items[start + max_items]).encode()).decode()
    return chunk, meta


_WS = re.compile(r"\s")


def policy_text(document: str) -> int:
    """Size as AWS counts it for quotas: characters, white space excluded."""
    return len(_WS.sub("", document))


def check_document(document: str, kind: PolicyKind, managed: bool = False) -> PolicyDocument:
    """The one place a PolicyError becomes MalformedPolicyDocument."""
    try:
        return parse_document(document, kind, managed)
    except PolicyError as err:
        raise MalformedPolicyDocument(str(err)) from None


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
