"""AWS Organizations (issue 17): changing and deleting policies, disabling a policy type, tags, delegated
administrators and the resource-based delegation policy.

- UpdatePolicy (https://docs.aws.amazon.com/organizations/latest/APIReference/API_UpdatePolicy.html): a new name,
  description or content, checked as CreatePolicy checks them (the type's grammar and size, a name unique in the
  type); the new content bounds every account below where the policy is attached from the next decision on (the
  organization's scope in the change log, as AttachPolicy's). DeletePolicy only of a policy attached nowhere
  (PolicyInUseException). AWS's own policies (FullAWSAccess) can be neither (InvalidInputException,
  IMMUTABLE_POLICY). ListTargetsForPolicy. DisablePolicyType detaches every policy of the type from the root, OUs and
  accounts (API_DisablePolicyType.html); a type not enabled is PolicyTypeNotEnabledException.
- TagResource, UntagResource, ListTagsForResource on the root, OUs, accounts, policies and the delegation policy
  (API_TagResource.html): keys as given (case-sensitive), never ``aws:`` (INVALID_SYSTEM_TAGS_PARAMETER), each once
  in a request (DUPLICATE_TAG_KEY), at most 50 on a resource (ConstraintViolationException MAX_TAG_LIMIT_EXCEEDED).
- RegisterDelegatedAdministrator, DeregisterDelegatedAdministrator, ListDelegatedAdministrators,
  ListDelegatedServicesForAccount: a member account administers a service's Organizations features, which "grants
  read-only access to Organizations service data" (API_RegisterDelegatedAdministrator.html); never the management
  account (CANNOT_REGISTER_MASTER_AS_DELEGATED_ADMINISTRATOR); a service AWS lets have one delegated administrator
  has one (DELEGATED_ADMINISTRATOR_EXISTS_FOR_THIS_SERVICE).
- PutResourcePolicy, DescribeResourcePolicy, DeleteResourcePolicy: the delegation policy
  (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_delegate_policies.html): a resource-based policy
  whose statements name member accounts (AWS principals) and Organizations actions a delegated administrator may be
  given; what it allows, a member's principal may do when its own policies allow it too (iam.organizations).
"""
from __future__ import annotations

from typing import Any

from iamroles.catalog import CATALOG
from iamroles.policy import PolicyError, PolicyKind, parse_document

from .common import tag_keys
from .context import CallContext
from .organizations import (
    DELEGATED,
    DELEGATED_READ,
    MANAGEMENT,
    WRITE_ACTIONS,
    Org,
    _account,
    _account_id,
    _administered,
    _anything,
    _check_content,
    _id,
    _id_policy_arn,
    _managed,
    _member,
    _node_arn,
    _policy,
    _policy_id,
    _policy_keys,
    _root,
    _root_out,
    _summary,
    _target_arn,
    _target_kind,
    _type_keys,
    add_tags,
    check_tag_keys,
    in_order,
    org_error,
    org_resources,
    paged,
    policy_type_of,
    tag_new,
    tags_in,
)
from .registry import Input, Output, operation

__all__ = ["DELEGABLE_SERVICES"]

# The services that can have delegated administrators
# (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_integrate_services_list.html, "Supports
# Delegated Administrator"), with how many each may have (one unless said otherwise)
DELEGABLE_SERVICES: dict[str, int] = {
    "access-analyzer.amazonaws.com": 1, "account.amazonaws.com": 1, "auditmanager.amazonaws.com": 1,
    "backup.amazonaws.com": 1, "cloudtrail.amazonaws.com": 1, "compute-optimizer.amazonaws.com": 1,
    "config.amazonaws.com": 1, "config-multiaccountsetup.amazonaws.com": 1, "detective.amazonaws.com": 1,
    "devops-guru.amazonaws.com": 1, "fms.amazonaws.com": 1, "guardduty.amazonaws.com": 1, "health.amazonaws.com": 1,
    "iam.amazonaws.com": 1,  # centralized root access (id_root-enable-root-access.html: "a delegated administrator")
    "inspector2.amazonaws.com": 1, "ipam.amazonaws.com": 1, "license-manager.amazonaws.com": 1,
    "macie.amazonaws.com": 1, "member.org.stacksets.cloudformation.amazonaws.com": 5, "securityhub.amazonaws.com": 1,
    "securitylake.amazonaws.com": 1, "servicecatalog.amazonaws.com": 1, "ssm.amazonaws.com": 1,
    "sso.amazonaws.com": 1, "storage-lens.s3.amazonaws.com": 1,
}
MAX_RESOURCE_POLICY = 40_000  # the model's ResourcePolicyContent


def _immutable() -> Any:
    return org_error("InvalidInputException", "You specified a policy that is managed by AWS and can't be modified.",
                     "IMMUTABLE_POLICY")


# --- policies ------------------------------------------------------------------------------------


@operation("UpdatePolicy", resource=org_resources(DELEGATED, _policy_id), keys=_policy_keys, write=True,
           service="organizations")
def update_policy(ctx: CallContext, inp: Input) -> Output:
    org = _administered(ctx, DELEGATED)
    p = _policy(ctx, org, inp["PolicyId"])
    if p["aws_managed"]:
        raise _immutable()
    name = inp.get("Name", p["name"])
    description = inp.get("Description", p["description"])
    content = inp.get("Content", p["content"])
    if "Content" in inp:
        _check_content(ctx, p["type"], content)
    if name != p["name"] and any(q["name"] == name for q in ctx.tx.org_policies(org["org_id"], p["type"])):
        raise org_error("DuplicatePolicyException", "A policy with the same name already exists.")
    ctx.tx.update_org_policy(org["org_id"], p["policy_id"], name, description, content)
    p = _policy(ctx, org, p["policy_id"])
    return {"Policy": {"PolicySummary": _summary(ctx, org, p), "Content": p["content"]}}


@operation("DeletePolicy", resource=org_resources(DELEGATED, _policy_id), keys=_policy_keys, write=True,
           service="organizations")
def delete_policy(ctx: CallContext, inp: Input) -> Output:
    org = _administered(ctx, DELEGATED)
    p = _policy(ctx, org, inp["PolicyId"])
    if p["aws_managed"]:
        raise _immutable()
    if ctx.tx.org_targets(org["org_id"], p["policy_id"], limit=1):
        raise org_error("PolicyInUseException",
                        "The policy is attached to one or more entities. You must detach it from all roots, OUs, and "
                        "accounts before performing this operation.")
    ctx.tx.delete_org_policy(org["org_id"], p["policy_id"])
    return None


def _target_out(ctx: CallContext, org: Org, target: str) -> dict[str, Any]:
    kind = _target_kind(ctx.tx, org, target) or "ACCOUNT"
    if kind == "ROOT":
        name = "Root"
    elif kind == "ORGANIZATIONAL_UNIT":
        unit = ctx.tx.org_unit(org["org_id"], target)
        name = unit["name"] if unit is not None else target
    else:
        row = ctx.tx.org_account(org["org_id"], target)
        name = (row or {}).get("name") or target
    return {"TargetId": target, "Arn": _target_arn(ctx, org, target), "Name": name, "Type": kind}


@operation("ListTargetsForPolicy", resource=org_resources(DELEGATED_READ, _policy_id), keys=_policy_keys,
           service="organizations")
def list_targets_for_policy(ctx: CallContext, inp: Input) -> Output:
    org = _administered(ctx, DELEGATED_READ)
    p = _policy(ctx, org, inp["PolicyId"])
    rows, meta = paged(ctx, "ListTargetsForPolicy", inp,
                       lambda after, n: ctx.tx.org_targets(org["org_id"], p["policy_id"], after, n), str, p["policy_id"])
    return {"Targets": [_target_out(ctx, org, t) for t in rows], **meta}


@operation("DisablePolicyType", resource=org_resources(DELEGATED, _root), keys=_type_keys("PolicyType"), write=True,
           service="organizations")
def disable_policy_type(ctx: CallContext, inp: Input) -> Output:
    org = _administered(ctx, DELEGATED)
    if inp["RootId"] != org["root_id"]:
        raise org_error("RootNotFoundException", "We can't find a root with the RootId that you specified.")
    kind = inp["PolicyType"]
    if kind not in ctx.tx.org_policy_types(org["org_id"]):
        raise org_error("PolicyTypeNotEnabledException", "This operation can be performed only for enabled policy types.")
    ctx.tx.disable_org_policy_type(org["org_id"], kind)
    return {"Root": _root_out(ctx, org)}


# --- tags ----------------------------------------------------------------------------------------


def _taggable(ctx: CallContext, org: Org, resource_id: str) -> tuple[str, str | None]:
    """A taggable resource of ``org``: its ARN and, for a policy, its type; TargetNotFoundException for anything else
    (an AWS managed policy: InvalidInputException IMMUTABLE_POLICY)."""
    oid = org["org_id"]
    if resource_id.startswith("p-"):
        p = ctx.tx.org_policy(oid, resource_id)
        if p is None:
            raise _no_target()
        return _id_policy_arn(ctx, org, resource_id), str(p["type"])
    if resource_id.startswith("rp-"):
        rp = ctx.tx.org_resource_policy(oid)
        if rp is None or rp["policy_id"] != resource_id:
            raise _no_target()
        return _node_arn(ctx, org, "resourcepolicy", resource_id), None
    if resource_id.startswith(("r-", "ou-")) or (resource_id.isdigit() and len(resource_id) == 12):
        if _target_kind(ctx.tx, org, resource_id) is None:
            raise _no_target()
        return _target_arn(ctx, org, resource_id), None
    raise _no_target()


def _no_target() -> Any:
    return org_error("TargetNotFoundException", "We can't find a root, OU, account, or policy with the TargetId that you specified.")


def _tag_target(ctx: CallContext, org: Org, inp: Input) -> list[tuple[str, str | None]]:
    rid = inp["ResourceId"]
    if rid.startswith("p-"):
        return [(_id_policy_arn(ctx, org, rid), rid)]
    if rid.startswith("rp-"):
        return [(_node_arn(ctx, org, "resourcepolicy", rid), rid)]
    return [(_target_arn(ctx, org, rid), rid)]


def _tag_resource_keys(ctx: CallContext, inp: Input) -> dict[str, Any]:
    keys = tag_keys(inp)
    if inp["ResourceId"].startswith("p-"):
        keys.update(policy_type_of(ctx, inp["ResourceId"]))
    return keys


@operation("TagResource", resource=org_resources(DELEGATED, _tag_target), keys=_tag_resource_keys, write=True,
           service="organizations")
def tag_resource(ctx: CallContext, inp: Input) -> Output:
    org = _administered(ctx, DELEGATED)
    tags = tags_in(inp)
    rid = inp["ResourceId"]
    _taggable(ctx, org, rid)
    if rid.startswith("p-") and (ctx.tx.org_policy(org["org_id"], rid) or {}).get("aws_managed"):
        raise _immutable()
    add_tags(ctx, org, rid, tags)
    return None


@operation("UntagResource", resource=org_resources(DELEGATED, _tag_target), keys=_tag_resource_keys, write=True,
           service="organizations")
def untag_resource(ctx: CallContext, inp: Input) -> Output:
    org = _administered(ctx, DELEGATED)
    rid = inp["ResourceId"]
    check_tag_keys(inp["TagKeys"])
    _taggable(ctx, org, rid)
    ctx.tx.remove_org_tags(org["org_id"], rid, inp["TagKeys"])
    return None


@operation("ListTagsForResource", resource=org_resources(DELEGATED_READ, _tag_target), keys=_tag_resource_keys,
           service="organizations")
def list_tags_for_resource(ctx: CallContext, inp: Input) -> Output:
    org = _administered(ctx, DELEGATED_READ)
    rid = inp["ResourceId"]
    _taggable(ctx, org, rid)
    tags = ctx.tx.org_tags(org["org_id"], rid)
    # at most 50 tags: one page (a NextToken is still checked)
    rows, meta = paged(ctx, "ListTagsForResource", {"NextToken": inp.get("NextToken"), "MaxResults": 50},
                       in_order(tags, lambda t: t[0]), lambda t: t[0], rid)
    return {"Tags": [{"Key": k, "Value": v} for k, v in rows], **meta}


# --- delegated administrators --------------------------------------------------------------------


def _service_keys(ctx: CallContext, inp: Input) -> dict[str, Any]:
    return {"organizations:ServicePrincipal": inp["ServicePrincipal"]} if inp.get("ServicePrincipal") else {}


def _service(inp: Input) -> str:
    service = str(inp["ServicePrincipal"])
    if service not in DELEGABLE_SERVICES:
        raise org_error("InvalidInputException", "You specified a service principal that isn't recognized.",
                        "UNRECOGNIZED_SERVICE_PRINCIPAL")
    return service


@operation("RegisterDelegatedAdministrator", resource=org_resources(MANAGEMENT, _account_id), keys=_service_keys,
           write=True, service="organizations")
def register_delegated_administrator(ctx: CallContext, inp: Input) -> Output:
    org = _managed(ctx)
    account_id, service = inp["AccountId"], _service(inp)
    if account_id == org["management_account_id"]:
        raise org_error("ConstraintViolationException",
                        "You attempted to register the management account of the organization as a delegated "
                        "administrator for an AWS service integrated with Organizations.",
                        "CANNOT_REGISTER_MASTER_AS_DELEGATED_ADMINISTRATOR")
    _member(ctx, org, account_id)
    current = ctx.tx.org_delegations(org["org_id"], service=service)
    if any(d["account_id"] == account_id for d in current):
        raise org_error("AccountAlreadyRegisteredException",
                        "The provided account is already a delegated administrator for your organization.")
    limit = DELEGABLE_SERVICES[service]
    if len(current) >= limit:
        if limit == 1:
            raise org_error("ConstraintViolationException",
                            "You attempted to register an AWS account as a delegated administrator for an AWS service "
                            "that already has a delegated administrator.", "DELEGATED_ADMINISTRATOR_EXISTS_FOR_THIS_SERVICE")
        raise org_error("ConstraintViolationException",
                        "You attempted to register more delegated administrators than allowed for the service principal.",
                        "MAX_DELEGATED_ADMINISTRATORS_FOR_SERVICE_LIMIT_EXCEEDED")
    ctx.tx.insert_org_delegation(org["org_id"], account_id, service, ctx.now)
    return None


def _not_registered() -> Any:
    return org_error("AccountNotRegisteredException",
                     "The provided account is not a registered delegated administrator for your organization.")


@operation("DeregisterDelegatedAdministrator", resource=org_resources(MANAGEMENT, _account_id), keys=_service_keys,
           write=True, service="organizations")
def deregister_delegated_administrator(ctx: CallContext, inp: Input) -> Output:
    org = _managed(ctx)
    account_id, service = inp["AccountId"], _service(inp)
    _member(ctx, org, account_id)
    if not ctx.tx.org_delegations(org["org_id"], account_id, service):
        raise _not_registered()
    ctx.tx.delete_org_delegation(org["org_id"], account_id, service)
    return None


@operation("ListDelegatedAdministrators", resource=org_resources(DELEGATED_READ, _anything), keys=_service_keys,
           service="organizations")
def list_delegated_administrators(ctx: CallContext, inp: Input) -> Output:
    org = _administered(ctx, DELEGATED_READ)
    service = inp.get("ServicePrincipal")
    if service:
        _service(inp)
    since: dict[str, Any] = {}
    for d in ctx.tx.org_delegations(org["org_id"], service=service or None):
        since[d["account_id"]] = min(since.get(d["account_id"], d["enabled_at"]), d["enabled_at"])
    rows, meta = paged(ctx, "ListDelegatedAdministrators", inp, in_order(sorted(since), str), str, service or "")
    out = []
    for account_id in rows:
        row = ctx.tx.org_account(org["org_id"], account_id)
        if row is not None:
            account = _account(ctx, org, row)
            account.pop("Paths")
            out.append({**account, "DelegationEnabledDate": since[account_id]})
    return {"DelegatedAdministrators": out, **meta}


@operation("ListDelegatedServicesForAccount", resource=org_resources(DELEGATED_READ, _account_id),
           service="organizations")
def list_delegated_services_for_account(ctx: CallContext, inp: Input) -> Output:
    org = _administered(ctx, DELEGATED_READ)
    account_id = inp["AccountId"]
    _member(ctx, org, account_id)
    found = ctx.tx.org_delegations(org["org_id"], account_id)
    if not found:
        raise _not_registered()
    rows, meta = paged(ctx, "ListDelegatedServicesForAccount", inp,
                       in_order(found, lambda d: str(d["service_principal"])), lambda d: str(d["service_principal"]), account_id)
    return {"DelegatedServices": [{"ServicePrincipal": d["service_principal"], "DelegationEnabledDate": d["enabled_at"]}
                                  for d in rows], **meta}


# --- the delegation policy -----------------------------------------------------------------------


def _invalid_policy(message: str, reason: str) -> Any:
    return org_error("InvalidInputException", message, reason)


_POLICY_MANAGEMENT = frozenset(a.lower() for a in WRITE_ACTIONS)


def _delegable(action: str) -> bool:
    """Whether an Action of a delegation policy names only Organizations actions a member may be delegated: "any
    Organizations read-only action" (AWS's reference: access level List or Read) and the management of policies
    (security_iam_resource-based-policy-examples.html); a wildcard only if every action it matches is one."""
    service, _, name = action.partition(":")
    if service.lower() != "organizations" or not name:
        return False
    found = CATALOG.matching_actions(f"organizations:{name}")
    return bool(found) and all(a.access_level in ("List", "Read") or a.name.lower() in _POLICY_MANAGEMENT for a in found)


def _check_delegation(ctx: CallContext, content: str) -> None:
    """A delegation policy as AWS takes one: a resource-based policy (INVALID_RESOURCE_POLICY_JSON otherwise) whose
    principals are AWS accounts or their principals (INVALID_PRINCIPAL: never ``*``, a service or a federation) and
    whose actions are Organizations actions a delegated administrator may be given
    (UNSUPPORTED_ACTION_IN_RESOURCE_POLICY)."""
    try:
        doc = parse_document(content, PolicyKind.RESOURCE, False)
    except PolicyError as err:
        raise _invalid_policy(f"The provided policy document isn't valid. {err.problems[0].message}",
                              "INVALID_RESOURCE_POLICY_JSON") from None
    for st in doc.statements:
        who = st.principal
        if (who is None or st.not_principal or who.wildcard or who.service or who.federated or who.canonical_user
                or not who.aws or "*" in who.aws):
            raise _invalid_policy("You specified an invalid principal element in the policy.", "INVALID_PRINCIPAL")
        if st.not_action or not st.actions or not all(_delegable(a) for a in st.actions):
            raise _invalid_policy("You specified an action that isn't supported in a resource-based delegation policy.",
                                  "UNSUPPORTED_ACTION_IN_RESOURCE_POLICY")


def _resource_policy_out(ctx: CallContext, org: Org, row: dict[str, Any]) -> dict[str, Any]:
    return {"ResourcePolicySummary": {"Id": row["policy_id"], "Arn": _node_arn(ctx, org, "resourcepolicy", row["policy_id"])},
            "Content": row["content"]}


def _resource_policy_arn(ctx: CallContext, org: Org, inp: Input) -> list[tuple[str, str | None]]:
    row = ctx.tx.org_resource_policy(org["org_id"])
    rid = row["policy_id"] if row is not None else "rp-*"
    return [(_node_arn(ctx, org, "resourcepolicy", rid), row["policy_id"] if row is not None else None)]


def _no_resource_policy() -> Any:
    return org_error("ResourcePolicyNotFoundException", "We can't find a resource policy request with the parameter "
                     "that you specified.")


@operation("PutResourcePolicy", resource=org_resources(MANAGEMENT, _resource_policy_arn,
                                                      lambda ctx, org, inp: _resource_policy_arn(ctx, org, inp)[0][0]),
           keys=lambda ctx, inp: tag_keys(inp), write=True, service="organizations")
def put_resource_policy(ctx: CallContext, inp: Input) -> Output:
    org = _managed(ctx)
    content = inp["Content"]
    tags = tags_in(inp)
    if len(content) > MAX_RESOURCE_POLICY:
        raise org_error("ConstraintViolationException", "The provided policy document exceeds the maximum size.",
                        "POLICY_CONTENT_LIMIT_EXCEEDED")
    _check_delegation(ctx, content)
    existing = ctx.tx.org_resource_policy(org["org_id"])
    rid = existing["policy_id"] if existing is not None else _id("rp-", 10)
    ctx.tx.put_org_resource_policy(org["org_id"], rid, content)
    tag_new(ctx, org, rid, tags)
    row = ctx.tx.org_resource_policy(org["org_id"])
    assert row is not None
    return {"ResourcePolicy": _resource_policy_out(ctx, org, row)}


@operation("DescribeResourcePolicy", resource=org_resources(DELEGATED_READ, _anything), service="organizations")
def describe_resource_policy(ctx: CallContext, inp: Input) -> Output:
    org = _administered(ctx, DELEGATED_READ)
    row = ctx.tx.org_resource_policy(org["org_id"])
    if row is None:
        raise _no_resource_policy()
    return {"ResourcePolicy": _resource_policy_out(ctx, org, row)}


@operation("DeleteResourcePolicy", resource=org_resources(MANAGEMENT, _anything), write=True, service="organizations")
def delete_resource_policy(ctx: CallContext, inp: Input) -> Output:
    org = _managed(ctx)
    row = ctx.tx.org_resource_policy(org["org_id"])
    if row is None:
        raise _no_resource_policy()
    ctx.tx.remove_org_tags(org["org_id"], row["policy_id"], [k for k, _ in ctx.tx.org_tags(org["org_id"], row["policy_id"])])
    ctx.tx.delete_org_resource_policy(org["org_id"])
    return None
