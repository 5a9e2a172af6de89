"""GetAccountAuthorizationDetails: every user, group, role and policy with their policies."""
from __future__ import annotations

from typing import Any

from .common import encode_document, page
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


@operation("GetAccountAuthorizationDetails", resource=lambda ctx, inp: "*")
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


