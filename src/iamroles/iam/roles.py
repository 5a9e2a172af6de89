"""Roles: CreateRole ... DeleteRole, and the trust policy."""
from __future__ import annotations

import json
from typing import Any

from iamroles.errors import DeleteConflict, InvalidInput, LimitExceeded, MalformedPolicyDocument
from iamroles.policy import Arn, PolicyKind
from iamroles.store import Role
from iamroles.tokens import new_unique_id

from .common import (
    SERVICE_ROLE_PATH,
    account_quota,
    already_exists,
    check_document,
    encode_document,
    entity_arn,
    entity_resource,
    first,
    get_entity,
    listing,
    lock_account,
    paged,
    policy_text,
    refuse_service_linked,
    tag_keys,
    tags_in,
    tags_out,
)
from .context import CallContext
from .registry import Input, Output, operation
from .shared import boundary_out, delete_checks, register_shared

__all__ = ["role_out", "check_trust_policy"]

TRUST_POLICY_LIMIT = 2048  # ACLSizePerRole, default quota

register_shared("role", "Role", boundary=True, tags=True)
_res = entity_resource("role", "RoleName")


def _shown_trust(ctx: CallContext, role: Role) -> str:
    """The trust policy as IAM shows it: a named user renamed or moved since the policy was saved appears under its
    ARN now ("automatically updated to use the new name or path", id_users_rename.html); one that no longer exists
    appears as the unique id the policy kept, since it names no one of that name now."""
    if not role.trust_pins:
        return role.trust_policy
    gone: dict[str, str] = {}
    for arn, unique_id in json.loads(role.trust_pins).items():
        named = Arn.parse(arn)
        found = ctx.tx.entity(named.resource_type, named.account, named.name)
        if found is None or found.id != unique_id:
            moved = ctx.tx.entity_by_id(named.resource_type, unique_id) if named.resource_type == "user" else None
            gone[arn] = moved.arn if moved is not None else unique_id
    if not gone:
        return role.trust_policy
    doc = json.loads(role.trust_policy)
    statements = doc["Statement"] if isinstance(doc["Statement"], list) else [doc["Statement"]]
    for st in statements:
        principal = st.get("Principal")
        if isinstance(principal, dict) and "AWS" in principal:
            aws = principal["AWS"]
            principal["AWS"] = [gone.get(a, a) for a in aws] if isinstance(aws, list) else gone.get(aws, aws)
    return json.dumps(doc)


def role_out(ctx: CallContext, role: Role, *, full: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Path": role.path,
        "RoleName": role.name,
        "RoleId": role.id,
        "Arn": role.arn,
        "CreateDate": role.created_at,
        "AssumeRolePolicyDocument": encode_document(_shown_trust(ctx, role)),
        "Description": role.description,
        "MaxSessionDuration": role.max_session_duration,
    }
    if full:
        out["PermissionsBoundary"] = boundary_out(role.permissions_boundary)
        tags = ctx.tx.tags(ctx.account_id, "role", role.key)
        out["Tags"] = tags_out(tags) if tags else None
        last: dict[str, Any] = {}
        if role.last_used_at:
            last = {"LastUsedDate": role.last_used_at, "Region": role.last_used_region}
        out["RoleLastUsed"] = last
    return out


def check_trust_policy(ctx: CallContext, document: str) -> str | None:
    """Validate a trust policy as IAM does on save; returns the unique ids of the users and roles it names
    (JSON ``{arn: id}``, None if it names none). IAM keeps a named principal's unique id, so that a user or
    role deleted and made again under the same name is not trusted by the old policy
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-users:
    "If you delete the user, then you break the relationship ... even if you create a new user with the same name").
    """
    pins: dict[str, str] = {}
    if policy_text(document) > TRUST_POLICY_LIMIT:
        raise LimitExceeded(f"Cannot exceed quota for ACLSizePerRole: {TRUST_POLICY_LIMIT}")
    parsed = check_document(document, PolicyKind.TRUST, ctx=ctx)
    # Principals must be of the role's partition, and those in accounts this server holds must exist, as IAM checks
    # on save: "You can't create a role to delegate access between an AWS GovCloud (US) account and a standard AWS
    # account" ("Invalid principal in policy", https://repost.aws/knowledge-center/iam-trust-policy-error).
    for st in parsed.statements:
        for value in st.principal.aws if st.principal else ():
            if value == "*":
                continue
            named = Arn.maybe(value)
            account_id = value if named is None else named.account
            holder = ctx.tx.account(account_id)
            if (named is not None and named.partition != ctx.partition) or (holder is not None and holder.partition != ctx.partition):
                raise MalformedPolicyDocument(f'Invalid principal in policy: "AWS":{json.dumps(value)}')
            if named is None or named.resource == "root" or named.service != "iam" or holder is None:
                continue
            kind = named.resource_type
            if kind in ("user", "role"):
                found = ctx.tx.entity(kind, account_id, named.name)
                if found is None or found.arn != value:
                    raise MalformedPolicyDocument(f'Invalid principal in policy: "AWS":{json.dumps(value)}')
                pins[value] = found.id
    return json.dumps(pins, sort_keys=True, separators=(",", ":")) if pins else None


def _create_keys(ctx: CallContext, inp: Input) -> dict[str, Any]:
    keys = tag_keys(inp)
    if inp.get("PermissionsBoundary"):
        keys["iam:PermissionsBoundary"] = inp["PermissionsBoundary"]
    return keys


@operation("CreateRole", resource=_res, keys=_create_keys, write=True)
def create_role(ctx: CallContext, inp: Input) -> Output:
    name = inp["RoleName"]
    path = inp.get("Path") or "/"
    if path.startswith(SERVICE_ROLE_PATH):  # only CreateServiceLinkedRole makes roles there, as IAM answers
        raise InvalidInput(f"Path prefix '{SERVICE_ROLE_PATH}' can only be used for AWS Service linked Roles")
    document = inp["AssumeRolePolicyDocument"]
    tags = tags_in(inp, "TagsPerRole")
    pins = check_trust_policy(ctx, document)
    boundary = inp.get("PermissionsBoundary")
    if boundary:
        from .shared import require_policy

        require_policy(ctx, boundary)
    lock_account(ctx)
    if ctx.tx.entity("role", ctx.account_id, name) is not None:
        raise already_exists("role", name)
    account_quota(ctx, "RolesPerAccount")
    role = Role(
        account_id=ctx.account_id,
        name=name,
        id=new_unique_id("AROA"),
        path=path,
        arn=entity_arn(ctx, "role", name, path),
        created_at=ctx.now,
        trust_policy=document,
        description=inp.get("Description"),
        max_session_duration=inp.get("MaxSessionDuration") or 3600,
        permissions_boundary=boundary,
        trust_pins=pins,
    )
    ctx.tx.insert_entity("role", role)
    if tags:
        ctx.tx.set_tags(ctx.account_id, "role", role.key, tags)
    out = role_out(ctx, role)
    out.pop("RoleLastUsed")
    return {"Role": out}


@operation("GetRole", resource=_res)
def get_role(ctx: CallContext, inp: Input) -> Output:
    return {"Role": role_out(ctx, get_entity(ctx, "role", inp["RoleName"]))}


@operation("ListRoles", resource=listing("role"))
def list_roles(ctx: CallContext, inp: Input) -> Output:
    prefix = inp.get("PathPrefix") or "/"
    chunk, meta = paged("ListRoles", inp, lambda after, limit: ctx.tx.entities("role", ctx.account_id, prefix, first(after), limit),
                        key=lambda r: [r.key])
    return {"Roles": [role_out(ctx, r, full=False) for r in chunk], **meta}


@operation("UpdateRole", resource=_res, write=True)
def update_role(ctx: CallContext, inp: Input) -> Output:
    role = get_entity(ctx, "role", inp["RoleName"])
    values: dict[str, Any] = {}
    if inp.get("Description") is not None:
        values["description"] = inp["Description"]  # (a service-linked role's too: "You can edit the description")
    if inp.get("MaxSessionDuration") is not None:
        refuse_service_linked(role)
        values["max_session_duration"] = inp["MaxSessionDuration"]
    if values:
        ctx.tx.update_entity("role", ctx.account_id, role.key, **values)
    return {}


@operation("UpdateRoleDescription", resource=_res, write=True)
def update_role_description(ctx: CallContext, inp: Input) -> Output:
    role = get_entity(ctx, "role", inp["RoleName"])
    ctx.tx.update_entity("role", ctx.account_id, role.key, description=inp["Description"])
    return {"Role": role_out(ctx, get_entity(ctx, "role", role.name))}


@operation("UpdateAssumeRolePolicy", resource=_res, write=True)
def update_assume_role_policy(ctx: CallContext, inp: Input) -> Output:
    role = get_entity(ctx, "role", inp["RoleName"])
    refuse_service_linked(role)
    pins = check_trust_policy(ctx, inp["PolicyDocument"])
    ctx.tx.update_entity("role", ctx.account_id, role.key, trust_policy=inp["PolicyDocument"], trust_pins=pins)
    return None


@operation("DeleteRole", resource=_res, write=True)
def delete_role(ctx: CallContext, inp: Input) -> Output:
    role = get_entity(ctx, "role", inp["RoleName"], for_update=True)
    refuse_service_linked(role)  # (DeleteServiceLinkedRole deletes it)
    if ctx.tx.profiles_of_role(ctx.account_id, role.key):
        raise DeleteConflict("Cannot delete entity, must remove roles from instance profile first.")
    delete_checks(ctx, "role", role.key)
    ctx.tx.delete_entity("role", ctx.account_id, role.key)
    return None
