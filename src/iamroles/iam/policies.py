"""Managed policies and their versions."""
from __future__ import annotations

from typing import Any

from iamroles.errors import DeleteConflict, InvalidInput, LimitExceeded, NoSuchEntity
from iamroles.policy import PolicyKind
from iamroles.store import ManagedPolicy, PolicyVersion
from iamroles.tokens import new_unique_id

from .common import (
    account_quota,
    already_exists,
    check_document,
    encode_document,
    lock_account,
    page,
    paged,
    policy_text,
    same_partition,
    tag_keys,
    tags_in,
    tags_out,
)
from .context import CallContext
from .registry import Input, Output, operation
from .shared import register_tagging

__all__ = ["policy_out"]

# IAM quotas page (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html)
POLICY_SIZE = 6144  # characters, white space excluded
MAX_VERSIONS = 5


def _arn_of(ctx: CallContext, inp: Input) -> str:
    if "PolicyArn" in inp:
        return str(inp["PolicyArn"])
    return ctx.arn(f"policy{inp.get('Path') or '/'}{inp['PolicyName']}")


def _get(ctx: CallContext, arn: str, for_update: bool = False) -> ManagedPolicy:
    same_partition(ctx, arn)
    policy = ctx.tx.policy(arn, for_update=for_update)
    if policy is None or policy.account_id not in (ctx.account_id, ctx.aws_owner):
        raise NoSuchEntity(f"Policy {arn} was not found.")
    return policy


def _owned(ctx: CallContext, arn: str, for_update: bool = False) -> ManagedPolicy:
    policy = _get(ctx, arn, for_update)
    if policy.account_id == ctx.aws_owner:
        raise InvalidInput(f"Policy {arn} is an AWS managed policy and cannot be modified.")
    return policy


def policy_out(ctx: CallContext, p: ManagedPolicy, count: int | None = None, tags: bool = False,
               boundaries: int | None = None) -> dict[str, Any]:
    """AttachmentCount and PermissionsBoundaryUsageCount count the caller's account only (AWS managed
    policies are shared by every account, their use in one is not another's business)."""
    if count is None:
        count = ctx.tx.attachment_counts([p.arn], ctx.account_id).get(p.arn, 0)
    if boundaries is None:
        boundaries = ctx.tx.boundary_counts([p.arn], ctx.account_id).get(p.arn, 0)
    out: dict[str, Any] = {
        "PolicyName": p.name,
        "PolicyId": p.policy_id,
        "Arn": p.arn,
        "Path": p.path,
        "DefaultVersionId": p.default_version,
        "AttachmentCount": count,
        "PermissionsBoundaryUsageCount": boundaries,
        "IsAttachable": True,
        "Description": p.description,
        "CreateDate": p.created_at,
        "UpdateDate": p.updated_at,
    }
    if tags:
        found = ctx.tx.tags(ctx.account_id, "policy", p.arn)
        out["Tags"] = tags_out(found) if found else None
    return out


def _check_size(document: str) -> None:
    if policy_text(document) > POLICY_SIZE:
        raise LimitExceeded(f"Cannot exceed quota for PolicySize: {POLICY_SIZE}")


@operation("CreatePolicy", resource=_arn_of, keys=lambda ctx, inp: tag_keys(inp), write=True)
def create_policy(ctx: CallContext, inp: Input) -> Output:
    document = inp["PolicyDocument"]
    check_document(document, PolicyKind.IDENTITY, managed=True, ctx=ctx)
    _check_size(document)
    tags = tags_in(inp, "TagsPerPolicy")
    arn = _arn_of(ctx, inp)
    lock_account(ctx)
    if ctx.tx.policy_by_name(ctx.account_id, inp["PolicyName"]) is not None:
        raise already_exists("policy", inp["PolicyName"])
    account_quota(ctx, "PoliciesPerAccount")
    policy = ManagedPolicy(
        arn=arn,
        account_id=ctx.account_id,
        name=inp["PolicyName"],
        policy_id=new_unique_id("ANPA"),
        path=inp.get("Path") or "/",
        description=inp.get("Description"),
        default_version="v1",
        next_version=2,
        created_at=ctx.now,
        updated_at=ctx.now,
    )
    ctx.tx.insert_policy(policy)
    ctx.tx.insert_policy_version(PolicyVersion(arn, "v1", document, ctx.now))
    if tags:
        ctx.tx.set_tags(ctx.account_id, "policy", arn, tags)
    out = policy_out(ctx, policy, 0, tags=True)
    out.pop("Description")
    return {"Policy": out}


@operation("GetPolicy", resource=_arn_of)
def get_policy(ctx: CallContext, inp: Input) -> Output:
    return {"Policy": policy_out(ctx, _get(ctx, inp["PolicyArn"]), tags=True)}


@operation("ListPolicies", resource=lambda ctx, inp: ctx.arn("policy/"))
def list_policies(ctx: CallContext, inp: Input) -> Output:
    scope = inp.get("Scope") or "All"
    owners = {"All": [ctx.account_id, ctx.aws_owner], "AWS": [ctx.aws_owner], "Local": [ctx.account_id]}[scope]
    # OnlyAttached: attached to a user, group or role. PolicyUsageFilter: PermissionsPolicy lists the policies
    # in use as permissions policies, PermissionsBoundary those in use as permissions boundaries (API_ListPolicies).
    usage = inp.get("PolicyUsageFilter")
    attached_in = ctx.account_id if inp.get("OnlyAttached") or usage == "PermissionsPolicy" else None
    boundary_in = ctx.account_id if usage == "PermissionsBoundary" else None
    prefix = inp.get("PathPrefix") or "/"
    chunk, meta = paged(
        "ListPolicies", inp,
        lambda after, limit: ctx.tx.policies(owners, prefix, after=after, limit=limit, attached_in=attached_in, boundary_in=boundary_in),
        key=lambda p: [p.name.lower(), p.account_id], width=2,
    )
    arns = [p.arn for p in chunk]
    counts = ctx.tx.attachment_counts(arns, ctx.account_id)
    boundaries = ctx.tx.boundary_counts(arns, ctx.account_id)
    items = []
    for p in chunk:
        item = policy_out(ctx, p, counts.get(p.arn, 0), boundaries=boundaries.get(p.arn, 0))
        item.pop("Description")
        items.append(item)
    return {"Policies": items, **meta}


@operation("DeletePolicy", resource=_arn_of, write=True)
def delete_policy(ctx: CallContext, inp: Input) -> Output:
    policy = _owned(ctx, inp["PolicyArn"], for_update=True)
    if ctx.tx.attachments_of(policy.arn):
        raise DeleteConflict("Cannot delete a policy attached to entities.")
    if len(ctx.tx.policy_versions(policy.arn)) > 1:
        raise DeleteConflict("This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.")
    ctx.tx.delete_policy(policy.arn)
    return None


def _version_out(v: PolicyVersion, default: str, document: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"VersionId": v.version_id, "IsDefaultVersion": v.version_id == default, "CreateDate": v.created_at}
    if document:
        out["Document"] = encode_document(v.document)
    return out


@operation("CreatePolicyVersion", resource=_arn_of, write=True)
def create_policy_version(ctx: CallContext, inp: Input) -> Output:
    policy = _owned(ctx, inp["PolicyArn"], for_update=True)
    document = inp["PolicyDocument"]
    check_document(document, PolicyKind.IDENTITY, managed=True, ctx=ctx)
    _check_size(document)
    if len(ctx.tx.policy_versions(policy.arn)) >= MAX_VERSIONS:
        raise LimitExceeded(
            f"A managed policy can have up to {MAX_VERSIONS} versions. Before you create a new version, you must delete an existing version."
        )
    version = PolicyVersion(policy.arn, f"v{policy.next_version}", document, ctx.now)
    ctx.tx.insert_policy_version(version)
    values: dict[str, Any] = {"next_version": policy.next_version + 1, "updated_at": ctx.now}
    default = policy.default_version
    if inp.get("SetAsDefault"):
        default = values["default_version"] = version.version_id
    ctx.tx.update_policy(policy.arn, **values)
    return {"PolicyVersion": _version_out(version, default, document=False)}


@operation("GetPolicyVersion", resource=_arn_of)
def get_policy_version(ctx: CallContext, inp: Input) -> Output:
    policy = _get(ctx, inp["PolicyArn"])
    version = ctx.tx.policy_version(policy.arn, inp["VersionId"])
    if version is None:
        raise NoSuchEntity(f"Policy {policy.arn} version {inp['VersionId']} does not exist or is not attachable.")
    return {"PolicyVersion": _version_out(version, policy.default_version)}


@operation("ListPolicyVersions", resource=_arn_of)
def list_policy_versions(ctx: CallContext, inp: Input) -> Output:
    policy = _get(ctx, inp["PolicyArn"])
    versions = ctx.tx.policy_versions(policy.arn)
    # at most 5 (MAX_VERSIONS), newest first
    chunk, meta = page("ListPolicyVersions", versions, inp, key=lambda v: f"{10**9 - int(v.version_id[1:]):010d}")
    return {"Versions": [_version_out(v, policy.default_version, document=False) for v in chunk], **meta}


@operation("DeletePolicyVersion", resource=_arn_of, write=True)
def delete_policy_version(ctx: CallContext, inp: Input) -> Output:
    policy = _owned(ctx, inp["PolicyArn"], for_update=True)
    if ctx.tx.policy_version(policy.arn, inp["VersionId"]) is None:
        raise NoSuchEntity(f"Policy {policy.arn} version {inp['VersionId']} does not exist or is not attachable.")
    if inp["VersionId"] == policy.default_version:
        raise DeleteConflict("Cannot delete the default version of a policy.")
    ctx.tx.delete_policy_version(policy.arn, inp["VersionId"])
    ctx.tx.update_policy(policy.arn, updated_at=ctx.now)
    return None


@operation("SetDefaultPolicyVersion", resource=_arn_of, write=True)
def set_default_policy_version(ctx: CallContext, inp: Input) -> Output:
    policy = _owned(ctx, inp["PolicyArn"], for_update=True)
    if ctx.tx.policy_version(policy.arn, inp["VersionId"]) is None:
        raise NoSuchEntity(f"Policy {policy.arn} version {inp['VersionId']} does not exist or is not attachable.")
    ctx.tx.update_policy(policy.arn, default_version=inp["VersionId"], updated_at=ctx.now)
    return None


@operation("ListEntitiesForPolicy", resource=_arn_of)
def list_entities_for_policy(ctx: CallContext, inp: Input) -> Output:
    policy = _get(ctx, inp["PolicyArn"])
    wanted = inp.get("EntityFilter")
    prefix = inp.get("PathPrefix") or "/"
    out: dict[str, list[dict[str, str]]] = {"PolicyGroups": [], "PolicyUsers": [], "PolicyRoles": []}
    field = {"group": ("PolicyGroups", "Group"), "user": ("PolicyUsers", "User"), "role": ("PolicyRoles", "Role")}
    kinds = [k for k in ("group", "role", "user") if not wanted or wanted in (field[k][1], "LocalManagedPolicy", "AWSManagedPolicy")]
    chunk, meta = paged(
        "ListEntitiesForPolicy", inp,
        lambda after, limit: ctx.tx.attached_entities(policy.arn, ctx.account_id, kinds, prefix, after, limit),
        key=lambda found: [found[0], found[1].key], width=2,
    )
    for etype, entity in chunk:
        key, word = field[etype]
        out[key].append({f"{word}Name": entity.name, f"{word}Id": entity.id})
    return {**out, **meta}


register_tagging(
    "Policy", "policy", _arn_of,
    target=lambda ctx, inp, lock: (_owned(ctx, inp["PolicyArn"], for_update=True) if lock else _get(ctx, inp["PolicyArn"])).arn,
    resource_keys=lambda ctx, inp: {f"aws:ResourceTag/{t.key}": t.value for t in ctx.tx.tags(ctx.account_id, "policy", inp["PolicyArn"])},
)
