"""Operations that users, groups and roles share, registered once per kind:
inline policies, attached managed policies, tags and permissions boundaries."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from iamroles.errors import DeleteConflict, LimitExceeded, NoSuchEntity
from iamroles.policy import PolicyKind

from .authorize import authorize
from .common import (
    already_exists,
    check_document,
    check_tag_total,
    encode_document,
    entity_arn,
    entity_resource,
    first,
    get_entity,
    page,
    paged,
    policy_text,
    refuse_service_linked,
    resource_tag_keys,
    same_partition,
    tag_keys,
    tags_in,
    tags_out,
)
from .context import CallContext
from .credentials import user_credential_checks
from .registry import Input, Output, operation

__all__ = ["register_shared", "register_tagging", "delete_checks", "require_policy", "INLINE_LIMITS", "rename"]

# Aggregate inline policy size per entity (IAM quotas page, "IAM and AWS STS quotas").
INLINE_LIMITS = {"user": 2048, "group": 5120, "role": 10240}
ATTACHED_LIMIT = 10


def require_policy(ctx: CallContext, arn: str, for_share: bool = False) -> Any:
    """The managed policy ``arn`` names; ``for_share``: kept from being deleted until the transaction ends."""
    same_partition(ctx, arn)
    policy = ctx.tx.policy(arn, for_share=for_share)
    if policy is None or (policy.account_id not in (ctx.account_id, ctx.aws_owner)):
        raise NoSuchEntity(f"Policy {arn} does not exist or is not attachable.")
    return policy


def delete_checks(ctx: CallContext, kind: str, key: str) -> None:
    tx = ctx.tx
    if kind == "user":
        user_credential_checks(ctx, get_entity(ctx, "user", key))
    if tx.inlines(ctx.account_id, kind, key):
        raise DeleteConflict("Cannot delete entity, must delete policies first.")
    if tx.attached(ctx.account_id, kind, key):
        raise DeleteConflict("Cannot delete entity, must detach all policies first.")


def register_shared(kind: str, word: str, *, boundary: bool, tags: bool) -> None:
    """Register the per-kind operations; ``word`` is Role, User or Group."""
    param = f"{word}Name"
    res = entity_resource(kind, param)

    # -- inline policies --------------------------------------------------------------
    @operation(f"Put{word}Policy", resource=res, write=True)
    def put_inline(ctx: CallContext, inp: Input) -> Output:
        entity = get_entity(ctx, kind, inp[param], for_update=True)  # the owner of the size quota, locked before counting
        refuse_service_linked(entity)
        document = inp["PolicyDocument"]
        check_document(document, PolicyKind.IDENTITY, ctx=ctx)
        others = sum(
            policy_text(p.document)
            for p in ctx.tx.inlines(ctx.account_id, kind, entity.key)
            if p.name.lower() != inp["PolicyName"].lower()
        )
        limit = INLINE_LIMITS[kind]
        if others + policy_text(document) > limit:
            raise LimitExceeded(f"Maximum policy size of {limit} bytes exceeded for {kind} {entity.name}")
        ctx.tx.put_inline(ctx.account_id, kind, entity.key, inp["PolicyName"], document)
        return None

    @operation(f"Get{word}Policy", resource=res)
    def get_inline(ctx: CallContext, inp: Input) -> Output:
        entity = get_entity(ctx, kind, inp[param])
        found = ctx.tx.inline(ctx.account_id, kind, entity.key, inp["PolicyName"])
        if found is None:
            raise NoSuchEntity(f"The {kind} policy with name {inp['PolicyName']} cannot be found.")
        return {param: entity.name, "PolicyName": found.name, "PolicyDocument": encode_document(found.document)}

    @operation(f"List{word}Policies", resource=res)
    def list_inline(ctx: CallContext, inp: Input) -> Output:
        entity = get_entity(ctx, kind, inp[param])
        chunk, meta = paged(f"List{word}Policies", inp,
                            lambda after, limit: ctx.tx.inline_names(ctx.account_id, kind, entity.key, first(after), limit),
                            key=lambda name: [name.lower()])
        return {"PolicyNames": chunk, **meta}

    @operation(f"Delete{word}Policy", resource=res, write=True)
    def delete_inline(ctx: CallContext, inp: Input) -> Output:
        entity = get_entity(ctx, kind, inp[param])
        refuse_service_linked(entity)
        if not ctx.tx.delete_inline(ctx.account_id, kind, entity.key, inp["PolicyName"]):
            raise NoSuchEntity(f"The {kind} policy with name {inp['PolicyName']} cannot be found.")
        return None

    # -- attached managed policies -------------------------------------------------------
    def arn_keys(ctx: CallContext, inp: Input) -> dict[str, Any]:
        return {"iam:PolicyARN": inp.get("PolicyArn", "")}

    @operation(f"Attach{word}Policy", resource=res, keys=arn_keys, write=True)
    def attach(ctx: CallContext, inp: Input) -> Output:
        entity = get_entity(ctx, kind, inp[param], for_update=True)  # the owner of the quota, locked before counting
        refuse_service_linked(entity)
        require_policy(ctx, inp["PolicyArn"], for_share=True)  # not deleted under the attachment
        attached = ctx.tx.attached(ctx.account_id, kind, entity.key)
        if inp["PolicyArn"] not in attached and len(attached) >= ATTACHED_LIMIT:
            raise LimitExceeded(f"Cannot exceed quota for PoliciesPer{word}: {ATTACHED_LIMIT}.")
        ctx.tx.attach(ctx.account_id, kind, entity.key, inp["PolicyArn"])
        return None

    @operation(f"Detach{word}Policy", resource=res, keys=arn_keys, write=True)
    def detach(ctx: CallContext, inp: Input) -> Output:
        entity = get_entity(ctx, kind, inp[param])
        refuse_service_linked(entity)
        if not ctx.tx.detach(ctx.account_id, kind, entity.key, inp["PolicyArn"]):
            raise NoSuchEntity(f"Policy {inp['PolicyArn']} was not found.")
        return None

    @operation(f"ListAttached{word}Policies", resource=res)
    def list_attached(ctx: CallContext, inp: Input) -> Output:
        entity = get_entity(ctx, kind, inp[param])
        arns = ctx.tx.attached(ctx.account_id, kind, entity.key)
        docs = ctx.tx.default_documents(arns)
        prefix = inp.get("PathPrefix") or "/"
        found = sorted((docs[a][0] for a in arns if a in docs and docs[a][0].path.startswith(prefix)),
                       key=lambda p: (p.name.lower(), p.account_id))
        # at most PoliciesPer{word} (10, or 20 raised): read whole; by name, then owner (yours before AWS's)
        chunk, meta = page(f"ListAttached{word}Policies", found, inp, key=lambda p: f"{p.name.lower()} {p.account_id}")
        return {"AttachedPolicies": [{"PolicyName": p.name, "PolicyArn": p.arn} for p in chunk], **meta}

    # -- permissions boundary ---------------------------------------------------------------
    if boundary:

        def boundary_keys(ctx: CallContext, inp: Input) -> dict[str, Any]:
            return {"iam:PermissionsBoundary": inp.get("PermissionsBoundary", "")}

        @operation(f"Put{word}PermissionsBoundary", resource=res, keys=boundary_keys, write=True)
        def put_boundary(ctx: CallContext, inp: Input) -> Output:
            entity = get_entity(ctx, kind, inp[param])
            refuse_service_linked(entity)
            arn = inp["PermissionsBoundary"]
            if ctx.tx.policy(arn) is None:
                raise NoSuchEntity(f"Scope ARN: {arn} does not exist or is not attachable.")
            ctx.tx.update_entity(kind, ctx.account_id, entity.key, permissions_boundary=arn)
            return None

        @operation(f"Delete{word}PermissionsBoundary", resource=res, write=True)
        def delete_boundary(ctx: CallContext, inp: Input) -> Output:
            entity = get_entity(ctx, kind, inp[param])
            refuse_service_linked(entity)
            ctx.tx.update_entity(kind, ctx.account_id, entity.key, permissions_boundary=None)
            return None

    if tags:
        register_tagging(word, kind, res, lambda ctx, inp, lock: get_entity(ctx, kind, inp[param], for_update=lock).key,
                         lambda ctx, inp: resource_tag_keys(ctx, kind, inp.get(param)))


def register_tagging(
    word: str,
    kind: str,
    resource: Callable[[CallContext, Input], str],
    target: Callable[[CallContext, Input, bool], str],
    resource_keys: Callable[[CallContext, Input], dict[str, Any]],
) -> None:
    """Tag{word}, Untag{word}, List{word}Tags for a taggable resource.

    ``target(ctx, inp, for_update)`` finds the resource (raising its
    NoSuchEntity) and returns its tag key; the two writes ask for it with
    ``for_update=True``: it must then lock the resource's row (the owner of
    the tag quota) and refuse what may not be tagged (AWS managed policies).
    ``resource_keys`` gives aws:ResourceTag/*.
    """
    quota = f"TagsPer{word}"

    def tagging_keys(ctx: CallContext, inp: Input) -> dict[str, Any]:
        return {**tag_keys(inp), **resource_keys(ctx, inp)}

    @operation(f"Tag{word}", resource=resource, keys=tagging_keys, write=True)
    def tag(ctx: CallContext, inp: Input) -> Output:
        key = target(ctx, inp, True)
        new = tags_in(inp, quota)
        check_tag_total(ctx.tx.tags(ctx.account_id, kind, key), new, quota)
        ctx.tx.set_tags(ctx.account_id, kind, key, new)
        return None

    @operation(f"Untag{word}", resource=resource, keys=tagging_keys, write=True)
    def untag(ctx: CallContext, inp: Input) -> Output:
        ctx.tx.remove_tags(ctx.account_id, kind, target(ctx, inp, True), inp["TagKeys"])
        return None

    @operation(f"List{word}Tags", resource=resource)
    def list_tags(ctx: CallContext, inp: Input) -> Output:
        found = sorted(ctx.tx.tags(ctx.account_id, kind, target(ctx, inp, False)), key=lambda t: t.key.lower())
        chunk, meta = page(f"List{word}Tags", found, inp, key=lambda t: t.key.lower())  # at most 50 (TagsPer{word})
        return {"Tags": tags_out(chunk), **meta}


def boundary_out(arn: str | None) -> dict[str, Any] | None:
    return {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": arn} if arn else None



def rename(ctx: CallContext, kind: str, word: str, inp: Input) -> None:
    """Update{word}: a new name and/or path for a user or group. The caller must be allowed the action on the new
    ARN too: "the requester must have appropriate permissions on both the source object and the target object"
    (API_UpdateUser.html, API_UpdateGroup.html)."""
    entity = get_entity(ctx, kind, inp[f"{word}Name"], for_update=True)
    new_name = inp.get(f"New{word}Name") or entity.name
    new_path = inp.get("NewPath") or entity.path
    new_arn = entity_arn(ctx, kind, new_name, new_path)
    if new_arn != entity.arn:
        authorize(ctx, f"iam:Update{word}", new_arn)
    if new_name.lower() != entity.key and ctx.tx.entity(kind, ctx.account_id, new_name) is not None:
        raise already_exists(kind, new_name)  # (or, when another request takes the name meanwhile, the store's Duplicate)
    ctx.tx.rename_entity(kind, ctx.account_id, entity.key, new_name, new_path, new_arn)
