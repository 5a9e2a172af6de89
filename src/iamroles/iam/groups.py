"""Groups and their members."""
from __future__ import annotations

from typing import Any

from iamroles.errors import DeleteConflict, LimitExceeded
from iamroles.store import Group
from iamroles.tokens import new_unique_id

from .common import account_quota, already_exists, entity_arn, entity_resource, first, get_entity, listing, lock_account, paged
from .context import CallContext
from .registry import Input, Output, operation
from .shared import delete_checks, register_shared, rename
from .users import user_out

__all__: list[str] = []

register_shared("group", "Group", boundary=False, tags=False)
_res = entity_resource("group", "GroupName")

# IAM quotas page (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html)
GROUPS_PER_USER = 10


def group_out(g: Group) -> dict[str, Any]:
    return {"Path": g.path, "GroupName": g.name, "GroupId": g.id, "Arn": g.arn, "CreateDate": g.created_at}


@operation("CreateGroup", resource=_res, write=True)
def create_group(ctx: CallContext, inp: Input) -> Output:
    name, path = inp["GroupName"], inp.get("Path") or "/"
    lock_account(ctx)
    if ctx.tx.entity("group", ctx.account_id, name) is not None:
        raise already_exists("group", name)
    account_quota(ctx, "GroupsPerAccount")
    group = Group(ctx.account_id, name, new_unique_id("AGPA"), path, entity_arn(ctx, "group", name, path), ctx.now)
    ctx.tx.insert_entity("group", group)
    return {"Group": group_out(group)}


@operation("GetGroup", resource=_res)
def get_group(ctx: CallContext, inp: Input) -> Output:
    group = get_entity(ctx, "group", inp["GroupName"])
    chunk, meta = paged("GetGroup", inp, lambda after, limit: ctx.tx.member_users(ctx.account_id, group.key, first(after), limit),
                        key=lambda u: [u.key])
    return {"Group": group_out(group), "Users": [user_out(ctx, u, tags=False) for u in chunk], **meta}


@operation("ListGroups", resource=listing("group"))
def list_groups(ctx: CallContext, inp: Input) -> Output:
    prefix = inp.get("PathPrefix") or "/"
    chunk, meta = paged("ListGroups", inp, lambda after, limit: ctx.tx.entities("group", ctx.account_id, prefix, first(after), limit),
                        key=lambda g: [g.key])
    return {"Groups": [group_out(g) for g in chunk], **meta}


@operation("UpdateGroup", resource=_res, write=True)
def update_group(ctx: CallContext, inp: Input) -> Output:
    rename(ctx, "group", "Group", inp)
    return None


@operation("DeleteGroup", resource=_res, write=True)
def delete_group(ctx: CallContext, inp: Input) -> Output:
    group = get_entity(ctx, "group", inp["GroupName"], for_update=True)
    if ctx.tx.members(ctx.account_id, group.key):
        raise DeleteConflict("Cannot delete entity, must remove users from group first.")
    delete_checks(ctx, "group", group.key)
    ctx.tx.delete_entity("group", ctx.account_id, group.key)
    return None


@operation("AddUserToGroup", resource=_res, write=True)
def add_user_to_group(ctx: CallContext, inp: Input) -> Output:
    # the group (not deleted meanwhile), then the user (the owner of the quota), locked before counting
    group = get_entity(ctx, "group", inp["GroupName"], for_update=True)
    user = get_entity(ctx, "user", inp["UserName"], for_update=True)
    groups = ctx.tx.groups_of(ctx.account_id, user.key)
    if group.key in groups:
        return None
    if len(groups) >= GROUPS_PER_USER:
        raise LimitExceeded(f"Cannot exceed quota for GroupsPerUser: {GROUPS_PER_USER}")
    ctx.tx.add_member(ctx.account_id, group.key, user.key)
    return None


@operation("RemoveUserFromGroup", resource=_res, write=True)
def remove_user_from_group(ctx: CallContext, inp: Input) -> Output:
    group = get_entity(ctx, "group", inp["GroupName"])
    user = get_entity(ctx, "user", inp["UserName"])
    ctx.tx.remove_member(ctx.account_id, group.key, user.key)
    return None


@operation("ListGroupsForUser", resource=entity_resource("user", "UserName"))
def list_groups_for_user(ctx: CallContext, inp: Input) -> Output:
    user = get_entity(ctx, "user", inp["UserName"])
    chunk, meta = paged("ListGroupsForUser", inp,
                        lambda after, limit: ctx.tx.user_groups(ctx.account_id, user.key, first(after), limit), key=lambda g: [g.key])
    return {"Groups": [group_out(g) for g in chunk], **meta}
