"""The account as a whole: GetAccountAuthorizationDetails (every user, group, role and policy with their policies)
and the account alias.

AWS references: https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateAccountAlias.html,
API_DeleteAccountAlias.html, API_ListAccountAliases.html; one alias per account, a new one replaces the old, unique
within the partition (https://docs.aws.amazon.com/IAM/latest/UserGuide/console-account-alias.html). Actions with no
resource type (the Service Authorization Reference for IAM lists none for these) are authorised against ``*``.
"""
from __future__ import annotations

from typing import Any

from iamroles.errors import EntityAlreadyExists, NoSuchEntity

from .common import encode_document, lock_account, page
from .context import CallContext
from .policies import policy_out
from .registry import Input, Output, operation
from .roles import role_out
from .shared import boundary_out
from .users import user_out

__all__: list[str] = []


def _inline(ctx: CallContext, kind: str, key: str) -> list[dict[str, str]]:
    return [{"PolicyName": p.name, "PolicyDocument": encode_document(p.document)} for p in ctx.tx.inlines(ctx.account_id, kind, key)]


def _attached(ctx: CallContext, kind: str, key: str) -> list[dict[str, str]]:
    arns = ctx.tx.attached(ctx.account_id, kind, key)
    docs = ctx.tx.default_documents(arns)
    return [{"PolicyName": docs[a][0].name, "PolicyArn": a} for a in arns if a in docs]


def _any(ctx: CallContext, inp: Input) -> str:
    return "*"


@operation("GetAccountAuthorizationDetails", resource=_any)
def get_account_authorization_details(ctx: CallContext, inp: Input) -> Output:
    wanted = set(inp.get("Filter") or ["User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy"])
    items: list[tuple[str, str, dict[str, Any]]] = []
    tx = ctx.tx
    if "User" in wanted:
        for u in tx.entities("user", ctx.account_id):
            d = user_out(ctx, u)
            d.update(
                UserPolicyList=_inline(ctx, "user", u.key),
                AttachedManagedPolicies=_attached(ctx, "user", u.key),
                GroupList=[g.name for g in (tx.entity("group", ctx.account_id, k) for k in tx.groups_of(ctx.account_id, u.key)) if g],
            )
            items.append(("1", u.key, {"UserDetailList": d}))
    if "Group" in wanted:
        for g in tx.entities("group", ctx.account_id):
            d = {"Path": g.path, "GroupName": g.name, "GroupId": g.id, "Arn": g.arn, "CreateDate": g.created_at,
                 "GroupPolicyList": _inline(ctx, "group", g.key), "AttachedManagedPolicies": _attached(ctx, "group", g.key)}
            items.append(("2", g.key, {"GroupDetailList": d}))
    if "Role" in wanted:
        for r in tx.entities("role", ctx.account_id):
            d = role_out(ctx, r)
            profiles = []
            for k in tx.profiles_of_role(ctx.account_id, r.key):
                profile = tx.entity("instance_profile", ctx.account_id, k)
                if profile:
                    profiles.append({"Path": profile.path, "InstanceProfileName": profile.name, "InstanceProfileId": profile.id,
                                     "Arn": profile.arn, "CreateDate": profile.created_at, "Roles": [role_out(ctx, r, full=False)]})
            d.update(RolePolicyList=_inline(ctx, "role", r.key), AttachedManagedPolicies=_attached(ctx, "role", r.key),
                     InstanceProfileList=profiles, PermissionsBoundary=boundary_out(r.permissions_boundary))
            items.append(("3", r.key, {"RoleDetailList": d}))
    owners = ([ctx.account_id] if "LocalManagedPolicy" in wanted else []) + (["aws"] if "AWSManagedPolicy" in wanted else [])
    if owners:
        policies = tx.policies(owners)
        counts = tx.attachment_counts([p.arn for p in policies], ctx.account_id)
        boundaries = tx.boundary_counts([p.arn for p in policies], ctx.account_id)
        for p in policies:
            if p.account_id == "aws" and not counts.get(p.arn) and not boundaries.get(p.arn):
                continue  # AWS managed policies are listed when in use
            d = policy_out(ctx, p, counts.get(p.arn, 0), boundaries=boundaries.get(p.arn, 0))
            d["PolicyVersionList"] = [
                {"Document": encode_document(v.document), "VersionId": v.version_id, "IsDefaultVersion": v.version_id == p.default_version, "CreateDate": v.created_at}
                for v in tx.policy_versions(p.arn)
            ]
            items.append(("4", p.arn, {"Policies": d}))
    chunk, meta = page("GetAccountAuthorizationDetails", items, inp, key=lambda i: i[0] + i[1])
    out: dict[str, Any] = {"UserDetailList": [], "GroupDetailList": [], "RoleDetailList": [], "Policies": [], **meta}
    for _, _, entry in chunk:
        for k, v in entry.items():
            out[k].append(v)
    return out


# -- the account alias ---------------------------------------------------------------------------------
@operation("CreateAccountAlias", resource=_any, write=True)
def create_account_alias(ctx: CallContext, inp: Input) -> Output:
    """The account's alias: it replaces the one the account had; one another account of the partition holds (or
    this one already) is EntityAlreadyExists, as AWS words it ("The account alias prod already exists.")."""
    alias = inp["AccountAlias"]
    lock_account(ctx)  # the account's alias is replaced once at a time
    if ctx.tx.alias_holder(ctx.partition, alias) is not None:
        raise EntityAlreadyExists(f"The account alias {alias} already exists.")
    # (an alias another account takes meanwhile: its unique key decides, and the store's Duplicate is the same error)
    ctx.tx.set_account_alias(ctx.account_id, ctx.partition, alias, ctx.now)
    return None


@operation("DeleteAccountAlias", resource=_any, write=True)
def delete_account_alias(ctx: CallContext, inp: Input) -> Output:
    alias = inp["AccountAlias"]
    if not ctx.tx.delete_account_alias(ctx.account_id, alias):
        raise NoSuchEntity(f"The account alias {alias} cannot be found.")
    return None


@operation("ListAccountAliases", resource=_any)
def list_account_aliases(ctx: CallContext, inp: Input) -> Output:
    alias = ctx.tx.account_alias(ctx.account_id)
    chunk, meta = page("ListAccountAliases", [alias] if alias else [], inp, key=lambda a: a)  # one at most
    return {"AccountAliases": chunk, **meta}
