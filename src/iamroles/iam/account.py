"""The account as a whole: GetAccountAuthorizationDetails (every user, group, role and policy with their policies),
the account alias, GetAccountSummary and the STS global endpoint token version.

AWS references: https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateAccountAlias.html,
API_DeleteAccountAlias.html, API_ListAccountAliases.html; one alias per account, a new one replaces the old, unique
within the partition (https://docs.aws.amazon.com/IAM/latest/UserGuide/console-account-alias.html);
API_GetAccountSummary.html (the SummaryMap's keys), the quotas of
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html; API_SetSecurityTokenServicePreferences.html.
Actions with no
resource type (the Service Authorization Reference for IAM lists none for these) are authorised against ``*``.
"""
from __future__ import annotations

import re
from typing import Any

from iamroles.errors import EntityAlreadyExists, InvalidInput, NoSuchEntity

from .certificates import SIGNING_CERTIFICATES_PER_USER
from .common import encode_document, lock_account, page, quota_limit
from .context import CallContext
from .groups import GROUPS_PER_USER
from .policies import MAX_VERSIONS, POLICY_SIZE, policy_out
from .registry import Input, Output, operation
from .roles import TRUST_POLICY_LIMIT, role_out
from .shared import ATTACHED_LIMIT, INLINE_LIMITS, boundary_out
from .users import ACCESS_KEYS_PER_USER, user_out

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
    owners = ([ctx.account_id] if "LocalManagedPolicy" in wanted else []) + ([ctx.aws_owner] if "AWSManagedPolicy" in wanted else [])
    if owners:
        policies = tx.policies(owners)
        counts = tx.attachment_counts([p.arn for p in policies], ctx.account_id)
        boundaries = tx.boundary_counts([p.arn for p in policies], ctx.account_id)
        for p in policies:
            if p.account_id == ctx.aws_owner and not counts.get(p.arn) and not boundaries.get(p.arn):
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


# -- GetAccountSummary -------------------------------------------------------------------------------
# The account setting SetSecurityTokenServicePreferences keeps, and the version GetAccountSummary reports for it.
TOKEN_VERSION = "GlobalEndpointTokenVersion"
_TOKEN_VERSIONS = {"v1Token": 1, "v2Token": 2}
DEFAULT_TOKEN_VERSION = "v1Token"  # AWS's default for an account that never set it
POLICY_VERSIONS_IN_USE = 10_000  # PolicyVersionsInUseQuota, as AWS reports it (API_GetAccountSummary.html's example)


@operation("GetAccountSummary", resource=_any)
def get_account_summary(ctx: CallContext, inp: Input) -> Output:
    """Every key of the model's summaryKeyType: the account's counts (SQL COUNTs), its per-account quotas (an
    operator's override, else AWS's default), the fixed quotas iamroles enforces, and the root user's credentials
    (the root has access keys here; no password, MFA device or signing certificate: those are 0)."""
    tx, account = ctx.tx, ctx.account_id
    count = tx.count
    version = tx.account_setting(account, TOKEN_VERSION) or DEFAULT_TOKEN_VERSION
    summary = {
        "Users": count("user", account),
        "UsersQuota": quota_limit(ctx, "UsersPerAccount"),
        "Groups": count("group", account),
        "GroupsQuota": quota_limit(ctx, "GroupsPerAccount"),
        "Roles": count("role", account),
        "RolesQuota": quota_limit(ctx, "RolesPerAccount"),
        "InstanceProfiles": count("instance_profile", account),
        "InstanceProfilesQuota": quota_limit(ctx, "InstanceProfilesPerAccount"),
        "Policies": count("policy", account),
        "PoliciesQuota": quota_limit(ctx, "PoliciesPerAccount"),
        "ServerCertificates": count("server_certificate", account),
        "ServerCertificatesQuota": quota_limit(ctx, "ServerCertificatesPerAccount"),
        "MFADevices": count("mfa", account),
        "MFADevicesInUse": tx.assigned_mfa_devices(account),
        "Providers": count("oidc", account) + count("saml", account),
        "PolicyVersionsInUse": tx.attachment_total(account),
        "PolicyVersionsInUseQuota": POLICY_VERSIONS_IN_USE,
        "VersionsPerPolicyQuota": MAX_VERSIONS,
        "PolicySizeQuota": POLICY_SIZE,
        "UserPolicySizeQuota": INLINE_LIMITS["user"],
        "GroupPolicySizeQuota": INLINE_LIMITS["group"],
        "RolePolicySizeQuota": INLINE_LIMITS["role"],
        "AssumeRolePolicySizeQuota": TRUST_POLICY_LIMIT,
        "GroupsPerUserQuota": GROUPS_PER_USER,
        "SigningCertificatesPerUserQuota": SIGNING_CERTIFICATES_PER_USER,
        "AccessKeysPerUserQuota": ACCESS_KEYS_PER_USER,
        "AttachedPoliciesPerGroupQuota": ATTACHED_LIMIT,
        "AttachedPoliciesPerRoleQuota": ATTACHED_LIMIT,
        "AttachedPoliciesPerUserQuota": ATTACHED_LIMIT,
        "AccountMFAEnabled": 0,
        "AccountAccessKeysPresent": 1 if tx.access_keys(account, None) else 0,
        "AccountPasswordPresent": 0,
        "AccountSigningCertificatesPresent": 0,
        "GlobalEndpointTokenVersion": _TOKEN_VERSIONS.get(version, 1),
    }
    return {"SummaryMap": summary}


@operation("SetSecurityTokenServicePreferences", resource=_any, write=True)
def set_security_token_service_preferences(ctx: CallContext, inp: Input) -> Output:
    """The account's global endpoint token version, as GetAccountSummary reports it. iamroles has no opt-in regions:
    its session tokens are valid in every region of the account's partition whichever version is set (as v2 tokens
    are), so the setting changes what is reported, not which regions accept a token."""
    ctx.tx.set_account_setting(ctx.account_id, TOKEN_VERSION, inp["GlobalEndpointTokenVersion"])
    return None


# -- account properties --------------------------------------------------------------------------------
# GetAccountProperties / PutAccountProperties (API_GetAccountProperties.html, API_PutAccountProperties.html): keys are
# Namespace/PropertyName, "exactly one / separating the namespace from the property name", all of one request in one
# namespace. AWS names no namespace or property beyond "such as Role Manager", and types them ("boolean properties
# expect true or false") without saying which are which, so iamroles keeps any well-formed property as given, gives it
# no meaning, and bounds how many an account keeps (AWS states no quota; an unbounded map could fill the store).
PROPERTIES_PER_ACCOUNT = 100
_PROPERTY_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*/[A-Za-z0-9_-]+$")


def _properties(ctx: CallContext) -> dict[str, str]:
    return {k: v for k, v in ctx.tx.account_settings(ctx.account_id).items() if "/" in k}


def _namespaces_read(ctx: CallContext, inp: Input) -> dict[str, Any]:
    return {"iam:AccountPropertyNamespaces": sorted({k.split("/", 1)[0] for k in _properties(ctx)})}


def _namespaces_written(ctx: CallContext, inp: Input) -> dict[str, Any]:
    return {"iam:AccountPropertyNamespaces": sorted({k.split("/", 1)[0] for k in inp.get("Properties") or {} if isinstance(k, str)})}


@operation("GetAccountProperties", resource=_any, keys=_namespaces_read)
def get_account_properties(ctx: CallContext, inp: Input) -> Output:
    return {"Properties": _properties(ctx)}


@operation("PutAccountProperties", resource=_any, keys=_namespaces_written, write=True)
def put_account_properties(ctx: CallContext, inp: Input) -> Output:
    props: dict[str, str] = dict(inp["Properties"])
    if not props:
        raise InvalidInput("Properties must name at least one property.")
    for key, value in props.items():
        if not isinstance(key, str) or not isinstance(value, str) or not value:
            raise InvalidInput("Each property needs a key and a value.")
        if not _PROPERTY_KEY.match(key):
            raise InvalidInput(f"Property key {key} must be Namespace/PropertyName, with exactly one '/'.")
    namespaces = {k.split("/", 1)[0] for k in props}
    if len(namespaces) > 1:
        raise InvalidInput(f"All properties of one request must belong to one namespace (given: {', '.join(sorted(namespaces))}).")
    lock_account(ctx)  # the count below sees every property set before
    existing = _properties(ctx)
    if len(set(existing) | set(props)) > PROPERTIES_PER_ACCOUNT:
        raise InvalidInput(f"An account keeps at most {PROPERTIES_PER_ACCOUNT} properties.")
    for key, value in props.items():
        ctx.tx.set_account_setting(ctx.account_id, key, value)
    return {}
