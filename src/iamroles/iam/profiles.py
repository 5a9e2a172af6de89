"""Instance profiles: a container for one role, as EC2 uses them."""
from __future__ import annotations

from typing import Any

from iamroles.errors import DeleteConflict, LimitExceeded
from iamroles.store import InstanceProfile
from iamroles.tokens import new_unique_id

from .common import (
    account_quota,
    already_exists,
    entity_arn,
    entity_resource,
    first,
    get_entity,
    listing,
    lock_account,
    paged,
    resource_tag_keys,
    tag_keys,
    tags_in,
    tags_out,
)
from .context import CallContext
from .registry import Input, Output, operation
from .roles import role_out
from .shared import register_tagging

__all__: list[str] = []

_res = entity_resource("instance_profile", "InstanceProfileName")

ROLES_PER_PROFILE = 1


def profile_out(ctx: CallContext, p: InstanceProfile) -> dict[str, Any]:
    roles = [ctx.tx.entity("role", ctx.account_id, k) for k in ctx.tx.profile_roles(ctx.account_id, p.key)]
    out: dict[str, Any] = {
        "Path": p.path,
        "InstanceProfileName": p.name,
        "InstanceProfileId": p.id,
        "Arn": p.arn,
        "CreateDate": p.created_at,
        "Roles": [role_out(ctx, r, full=False) for r in roles if r is not None],
    }
    found = ctx.tx.tags(ctx.account_id, "instance_profile", p.key)
    out["Tags"] = tags_out(found) if found else None
    return out


@operation("CreateInstanceProfile", resource=_res, keys=lambda ctx, inp: tag_keys(inp), write=True)
def create_instance_profile(ctx: CallContext, inp: Input) -> Output:
    name, path = inp["InstanceProfileName"], inp.get("Path") or "/"
    tags = tags_in(inp, "TagsPerInstanceProfile")
    lock_account(ctx)
    if ctx.tx.entity("instance_profile", ctx.account_id, name) is not None:
        raise already_exists("instance_profile", name)
    account_quota(ctx, "InstanceProfilesPerAccount")
    profile = InstanceProfile(ctx.account_id, name, new_unique_id("AIPA"), path, entity_arn(ctx, "instance_profile", name, path), ctx.now)
    ctx.tx.insert_entity("instance_profile", profile)
    if tags:
        ctx.tx.set_tags(ctx.account_id, "instance_profile", profile.key, tags)
    return {"InstanceProfile": profile_out(ctx, profile)}


@operation("GetInstanceProfile", resource=_res)
def get_instance_profile(ctx: CallContext, inp: Input) -> Output:
    return {"InstanceProfile": profile_out(ctx, get_entity(ctx, "instance_profile", inp["InstanceProfileName"]))}


@operation("ListInstanceProfiles", resource=listing("instance_profile"))
def list_instance_profiles(ctx: CallContext, inp: Input) -> Output:
    prefix = inp.get("PathPrefix") or "/"
    chunk, meta = paged("ListInstanceProfiles", inp,
                        lambda after, limit: ctx.tx.entities("instance_profile", ctx.account_id, prefix, first(after), limit),
                        key=lambda p: [p.key])
    return {"InstanceProfiles": [profile_out(ctx, p) for p in chunk], **meta}


@operation("ListInstanceProfilesForRole", resource=entity_resource("role", "RoleName"))
def list_instance_profiles_for_role(ctx: CallContext, inp: Input) -> Output:
    role = get_entity(ctx, "role", inp["RoleName"])
    chunk, meta = paged("ListInstanceProfilesForRole", inp,
                        lambda after, limit: ctx.tx.role_profiles(ctx.account_id, role.key, first(after), limit), key=lambda p: [p.key])
    return {"InstanceProfiles": [profile_out(ctx, p) for p in chunk], **meta}


@operation("AddRoleToInstanceProfile", resource=_res, write=True)
def add_role_to_instance_profile(ctx: CallContext, inp: Input) -> Output:
    # the profile (the owner of the quota), then the role (not deleted meanwhile), locked before counting
    profile = get_entity(ctx, "instance_profile", inp["InstanceProfileName"], for_update=True)
    role = get_entity(ctx, "role", inp["RoleName"], for_update=True)
    if len(ctx.tx.profile_roles(ctx.account_id, profile.key)) >= ROLES_PER_PROFILE:
        raise LimitExceeded(f"Cannot exceed quota for InstanceSessionsPerInstanceProfile: {ROLES_PER_PROFILE}")
    ctx.tx.add_profile_role(ctx.account_id, profile.key, role.key)
    return None


@operation("RemoveRoleFromInstanceProfile", resource=_res, write=True)
def remove_role_from_instance_profile(ctx: CallContext, inp: Input) -> Output:
    profile = get_entity(ctx, "instance_profile", inp["InstanceProfileName"])
    role = get_entity(ctx, "role", inp["RoleName"])
    if not ctx.tx.remove_profile_role(ctx.account_id, profile.key, role.key):
        from iamroles.errors import NoSuchEntity

        raise NoSuchEntity(f"The role with name {role.name} cannot be found in instance profile {profile.name}.")
    return None


@operation("DeleteInstanceProfile", resource=_res, write=True)
def delete_instance_profile(ctx: CallContext, inp: Input) -> Output:
    profile = get_entity(ctx, "instance_profile", inp["InstanceProfileName"], for_update=True)
    if ctx.tx.profile_roles(ctx.account_id, profile.key):
        raise DeleteConflict("Cannot delete entity, must remove roles from instance profile first.")
    ctx.tx.delete_entity("instance_profile", ctx.account_id, profile.key)
    return None


register_tagging(
    "InstanceProfile", "instance_profile", _res,
    target=lambda ctx, inp, lock: get_entity(ctx, "instance_profile", inp["InstanceProfileName"], for_update=lock).key,
    resource_keys=lambda ctx, inp: resource_tag_keys(ctx, "instance_profile", inp.get("InstanceProfileName")),
)
