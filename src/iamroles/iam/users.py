"""Users and their access keys."""
from __future__ import annotations

from typing import Any

from iamroles.errors import DeleteConflict, LimitExceeded, NoSuchEntity
from iamroles.store import AccessKey, User
from iamroles.tokens import new_access_key_id, new_secret_access_key, new_unique_id

from .common import (
    account_quota,
    already_exists,
    entity_arn,
    entity_resource,
    first,
    get_entity,
    listing,
    lock_account,
    page,
    paged,
    tag_keys,
    tags_in,
    tags_out,
)
from .context import CallContext
from .registry import Input, Output, operation
from .shared import boundary_out, delete_checks, register_shared, rename, require_policy

__all__ = ["user_out", "seal_secret", "create_access_key_record"]

ACCESS_KEYS_PER_USER = 2

register_shared("user", "User", boundary=True, tags=True)
_named = entity_resource("user", "UserName")


def _self_or_named(ctx: CallContext, inp: Input) -> str:
    """Calls whose UserName defaults to the caller's own user."""
    if inp.get("UserName"):
        return _named(ctx, inp)
    return ctx.caller.principal.arn or ctx.arn("user/")


def user_out(ctx: CallContext, user: User, *, tags: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Path": user.path,
        "UserName": user.name,
        "UserId": user.id,
        "Arn": user.arn,
        "CreateDate": user.created_at,
    }
    if tags:
        out["PermissionsBoundary"] = boundary_out(user.permissions_boundary)
        found = ctx.tx.tags(ctx.account_id, "user", user.key)
        out["Tags"] = tags_out(found) if found else None
    return out


def _target(ctx: CallContext, inp: Input, for_update: bool = False) -> User | None:
    """The user named, or the calling user; None for the account root.
    ``for_update``: lock the user's row, or for the root the account's."""
    if inp.get("UserName"):
        return get_entity(ctx, "user", inp["UserName"], for_update=for_update)  # type: ignore[no-any-return]
    if ctx.caller.user_key:
        return get_entity(ctx, "user", ctx.caller.user_key, for_update=for_update)  # type: ignore[no-any-return]
    if for_update:
        lock_account(ctx)
    return None


def _create_keys(ctx: CallContext, inp: Input) -> dict[str, Any]:
    keys = tag_keys(inp)
    if inp.get("PermissionsBoundary"):
        keys["iam:PermissionsBoundary"] = inp["PermissionsBoundary"]
    return keys


@operation("CreateUser", resource=_named, keys=_create_keys, write=True)
def create_user(ctx: CallContext, inp: Input) -> Output:
    name, path = inp["UserName"], inp.get("Path") or "/"
    tags = tags_in(inp, "TagsPerUser")
    if inp.get("PermissionsBoundary"):
        require_policy(ctx, inp["PermissionsBoundary"])
    lock_account(ctx)
    if ctx.tx.entity("user", ctx.account_id, name) is not None:
        raise already_exists("user", name)
    account_quota(ctx, "UsersPerAccount")
    user = User(ctx.account_id, name, new_unique_id("AIDA"), path, entity_arn(ctx, "user", name, path), ctx.now,
                permissions_boundary=inp.get("PermissionsBoundary"))
    ctx.tx.insert_entity("user", user)
    if tags:
        ctx.tx.set_tags(ctx.account_id, "user", user.key, tags)
    return {"User": user_out(ctx, user)}


@operation("GetUser", resource=_self_or_named)
def get_user(ctx: CallContext, inp: Input) -> Output:
    user = _target(ctx, inp)
    if user is None:
        account = ctx.tx.account(ctx.account_id)
        return {"User": {"UserId": ctx.account_id, "Arn": ctx.arn("root"), "CreateDate": account.created_at if account else ctx.now}}
    return {"User": user_out(ctx, user)}


@operation("ListUsers", resource=listing("user"))
def list_users(ctx: CallContext, inp: Input) -> Output:
    prefix = inp.get("PathPrefix") or "/"
    chunk, meta = paged("ListUsers", inp, lambda after, limit: ctx.tx.entities("user", ctx.account_id, prefix, first(after), limit),
                        key=lambda u: [u.key])
    return {"Users": [user_out(ctx, u, tags=False) for u in chunk], **meta}


@operation("UpdateUser", resource=_named, write=True)
def update_user(ctx: CallContext, inp: Input) -> Output:
    rename(ctx, "user", "User", inp)
    return None


@operation("DeleteUser", resource=_named, write=True)
def delete_user(ctx: CallContext, inp: Input) -> Output:
    user = get_entity(ctx, "user", inp["UserName"], for_update=True)
    if ctx.tx.access_keys(ctx.account_id, user.key):
        raise DeleteConflict("Cannot delete entity, must delete access keys first.")
    delete_checks(ctx, "user", user.key)
    if ctx.tx.groups_of(ctx.account_id, user.key):
        raise DeleteConflict("Cannot delete entity, must remove users from group first.")
    ctx.tx.delete_entity("user", ctx.account_id, user.key)
    return None


# -- access keys ----------------------------------------------------------------------------------
def seal_secret(ctx: CallContext, access_key_id: str, secret: str) -> bytes:
    return ctx.master_key.seal(secret.encode(), access_key_id.encode())


def create_access_key_record(ctx: CallContext, user_key: str | None, access_key_id: str | None = None, secret: str | None = None) -> tuple[AccessKey, str]:
    if access_key_id is None:
        access_key_id = new_access_key_id("AKIA", ctx.account_id)
        while ctx.tx.access_key(access_key_id) is not None:  # 39 random bits per account: draw again on a repeat
            access_key_id = new_access_key_id("AKIA", ctx.account_id)
    secret = secret or new_secret_access_key()
    key = AccessKey(access_key_id, ctx.account_id, user_key, seal_secret(ctx, access_key_id, secret), "Active", ctx.now)
    ctx.tx.insert_access_key(key)
    return key, secret


@operation("CreateAccessKey", resource=_self_or_named, write=True)
def create_access_key(ctx: CallContext, inp: Input) -> Output:
    user = _target(ctx, inp, for_update=True)  # the keys' owner, locked before counting
    user_key = user.key if user else None
    if len(ctx.tx.access_keys(ctx.account_id, user_key)) >= ACCESS_KEYS_PER_USER:
        raise LimitExceeded(f"Cannot exceed quota for AccessKeysPerUser: {ACCESS_KEYS_PER_USER}")
    key, secret = create_access_key_record(ctx, user_key)
    out = {"AccessKeyId": key.access_key_id, "Status": key.status, "SecretAccessKey": secret, "CreateDate": key.created_at}
    out["UserName"] = user.name if user else ctx.account_id
    return {"AccessKey": out}


def _key_of(ctx: CallContext, inp: Input) -> AccessKey:
    user = _target(ctx, inp)
    key = ctx.tx.access_key(inp["AccessKeyId"])
    if key is None or key.account_id != ctx.account_id or key.user_key != (user.key if user else None):
        owner = user.name if user else "root"
        raise NoSuchEntity(f"The Access Key with id {inp['AccessKeyId']} cannot be found.") if user is None else NoSuchEntity(
            f"The Access Key with id {inp['AccessKeyId']} cannot be found for user {owner}."
        )
    return key


@operation("ListAccessKeys", resource=_self_or_named)
def list_access_keys(ctx: CallContext, inp: Input) -> Output:
    user = _target(ctx, inp)
    keys = ctx.tx.access_keys(ctx.account_id, user.key if user else None)
    chunk, meta = page("ListAccessKeys", keys, inp, key=lambda k: k.access_key_id)
    name = user.name if user else ctx.account_id
    items = [{"UserName": name, "AccessKeyId": k.access_key_id, "Status": k.status, "CreateDate": k.created_at} for k in chunk]
    return {"AccessKeyMetadata": items, **meta}


@operation("UpdateAccessKey", resource=_self_or_named, write=True)
def update_access_key(ctx: CallContext, inp: Input) -> Output:
    key = _key_of(ctx, inp)
    ctx.tx.update_access_key(key.access_key_id, status=inp["Status"])
    return None


@operation("DeleteAccessKey", resource=_self_or_named, write=True)
def delete_access_key(ctx: CallContext, inp: Input) -> Output:
    key = _key_of(ctx, inp)
    ctx.tx.delete_access_key(key.access_key_id)
    return None


def _key_owner(ctx: CallContext, inp: Input) -> str:
    key = ctx.tx.access_key(inp["AccessKeyId"])
    if key is None or key.account_id != ctx.account_id or key.user_key is None:
        return ctx.arn("user/")
    user = ctx.tx.entity("user", ctx.account_id, key.user_key)
    return str(user.arn) if user else ctx.arn("user/")


@operation("GetAccessKeyLastUsed", resource=_key_owner)
def get_access_key_last_used(ctx: CallContext, inp: Input) -> Output:
    key = ctx.tx.access_key(inp["AccessKeyId"])
    if key is None or key.account_id != ctx.account_id:
        raise NoSuchEntity(f"The Access Key with id {inp['AccessKeyId']} cannot be found.")
    user = ctx.tx.entity("user", ctx.account_id, key.user_key) if key.user_key else None
    last: dict[str, Any] = {"ServiceName": key.last_used_service or "N/A", "Region": key.last_used_region or "N/A"}
    if key.last_used_at:
        last["LastUsedDate"] = key.last_used_at
    return {"UserName": user.name if user else ctx.account_id, "AccessKeyLastUsed": last}
