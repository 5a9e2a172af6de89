"""AWS Organizations over the wire (issue 17): an organization of iamroles accounts, its root and OUs, and service
control and resource control policies attached to them.

The operations follow botocore's ``organizations`` model (the JSON protocol, served by ``server.orgs``). The
account that calls CreateOrganization becomes its management account
(https://docs.aws.amazon.com/organizations/latest/APIReference/API_CreateOrganization.html); only it may manage
the organization: any other account's call is AccessDeniedException, an account in no organization gets
AWSOrganizationsNotInUseException. Accounts join by invitation: InviteAccountToOrganization by the management
account, AcceptHandshake by the invited account.

Service control policies
(https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html): the type is enabled
at the root (EnablePolicyType); enabling it attaches AWS's ``FullAWSAccess`` to the root, every OU and every
account, and each OU created or account joining afterwards gets it too. Every root, OU and account keeps at least
one SCP (DetachPolicy of the last one is ConstraintViolationException,
https://docs.aws.amazon.com/organizations/latest/APIReference/API_DetachPolicy.html); at most five are attached to
one target and a policy is at most 5,120 characters
(https://docs.aws.amazon.com/organizations/latest/userguide/orgs_reference_limits.html).

Resource control policies
(https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps.html): enabled the same way;
enabling them attaches AWS's ``RCPFullAWSAccess`` to the root, every OU and every account, and it cannot be
detached. An RCP the management account writes follows the RCP grammar
(https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps_syntax.html, checked by
:func:`check_rcp`): Version 2012-10-17, every statement a Deny ("For RCPs that you create, the value must be Deny")
with ``"Principal": "*"`` ("You can only specify * in the Principal element"), no NotPrincipal or NotAction, and
actions of the services RCPs support only, never ``"*"`` alone. At most five RCPs on a target (RCPFullAWSAccess among
them), 5,120 characters each (orgs_reference_limits).

:func:`org_standing` gives the decision an account's organization, path, SCPs and RCPs, root first
(``iam.authorize``); :func:`rcp_applies` says whether a request is one RCPs bound.
"""
from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

from iamroles.catalog.organizations import RCP_SERVICES, rcp_applies, service_linked
from iamroles.errors import AwsError
from iamroles.policy import Policy, PolicyError, PolicyKind, parse_document, parse_policy
from iamroles.store import Duplicate, Scope, Tx, org_member_scope, org_scope

from .context import CallContext
from .registry import Input, Output, operation
from .review import review_policy

__all__ = ["FULL_AWS_ACCESS", "RCP", "RCP_FULL_AWS_ACCESS", "RCP_SERVICES", "OrganizationsError", "SCP", "Levels",
           "Standing", "check_rcp", "org_error", "org_standing", "rcp_applies", "service_linked"]

SCP = "SERVICE_CONTROL_POLICY"
RCP = "RESOURCE_CONTROL_POLICY"
FULL_AWS_ACCESS = "p-FullAWSAccess"
RCP_FULL_AWS_ACCESS = "p-RCPFullAWSAccess"
_FULL_CONTENT = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'
# orgs_manage_policies_rcps_examples.html: RCPFullAWSAccess, "automatically attached to the organization root, every
# OU, and every account in your organization, when you enable resource control policies"
_RCP_FULL_CONTENT = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*",'
                     '"Resource":"*"}]}')
# each type's AWS managed policy, attached everywhere while the type is enabled: (id, name, description, content)
_FULL = {
    SCP: (FULL_AWS_ACCESS, "FullAWSAccess", "Allows access to every operation", _FULL_CONTENT),
    RCP: (RCP_FULL_AWS_ACCESS, "RCPFullAWSAccess", "Allows access to every operation", _RCP_FULL_CONTENT),
}
_KINDS = {SCP: PolicyKind.SCP, RCP: PolicyKind.RCP}
# orgs_reference_limits: policies of one type attached to a root, OU or account; an SCP's or an RCP's size
MAX_ATTACHED = 5
MAX_POLICY_SIZE = {SCP: 5120, RCP: 5120}
MAX_OU_DEPTH = 5
HANDSHAKE_DAYS = 15  # an invitation to join expires after 15 days (API_InviteAccountToOrganization)
_LOWER = string.ascii_lowercase + string.digits
SUPPORTED_TYPES = frozenset({SCP, RCP})


class OrganizationsError(AwsError):
    """An AWS Organizations error: its code is given per raise (the model has many), with the ``Reason`` some carry."""

    code: ClassVar[str] = "InvalidInputException"
    status: ClassVar[int] = 400
    fault: ClassVar[str] = "Sender"

    def __init__(self, message: str, code: str | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code  # type: ignore[misc]
        self.reason = reason


def org_error(code: str, message: str, reason: str | None = None) -> OrganizationsError:
    """Organizations' error ``code`` with AWS's ``message`` (and the ``Reason`` some codes carry)."""
    return OrganizationsError(message, code, reason)


def _denied() -> OrganizationsError:
    return org_error("AccessDeniedException", "You don't have permissions to access this resource.")


def _id(prefix: str, n: int) -> str:
    return prefix + "".join(secrets.choice(_LOWER) for _ in range(n))


# --- where the caller stands ---------------------------------------------------------------------


def _membership(ctx: CallContext) -> dict[str, Any]:
    org = ctx.tx.organization_of(ctx.account_id)
    if org is None:
        raise org_error("AWSOrganizationsNotInUseException", "Your account is not a member of an organization.")
    return org


def _managed(ctx: CallContext) -> dict[str, Any]:
    """The caller's organization, if the caller is its management account (else AccessDeniedException)."""
    org = _membership(ctx)
    if org["management_account_id"] != ctx.account_id:
        raise _denied()
    ctx.tx.lock_organization(org["org_id"])
    return org


def _partition(ctx: CallContext) -> str:
    return ctx.partition


def _org_arn(ctx: CallContext, org: dict[str, Any]) -> str:
    return f"arn:{_partition(ctx)}:organizations::{org['management_account_id']}:organization/{org['org_id']}"


def _node_arn(ctx: CallContext, org: dict[str, Any], kind: str, node: str) -> str:
    return f"arn:{_partition(ctx)}:organizations::{org['management_account_id']}:{kind}/{org['org_id']}/{node}"


def _policy_arn(ctx: CallContext, org: dict[str, Any], policy: dict[str, Any]) -> str:
    kind = policy["type"].lower()
    if policy["aws_managed"]:
        return f"arn:{_partition(ctx)}:organizations::aws:policy/{kind}/{policy['policy_id']}"
    return f"arn:{_partition(ctx)}:organizations::{org['management_account_id']}:policy/{org['org_id']}/{kind}/{policy['policy_id']}"


def _organization(ctx: CallContext, org: dict[str, Any]) -> dict[str, Any]:
    types = ctx.tx.org_policy_types(org["org_id"])
    return {
        "Id": org["org_id"], "Arn": _org_arn(ctx, org), "FeatureSet": org["feature_set"],
        "MasterAccountArn": _node_arn(ctx, org, "account", org["management_account_id"]),
        "MasterAccountId": org["management_account_id"], "MasterAccountEmail": f"{org['management_account_id']}@iamroles.invalid",
        "AvailablePolicyTypes": [{"Type": t, "Status": "ENABLED"} for t in sorted(types)],
    }


def _account(ctx: CallContext, org: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    aid = row["account_id"]
    return {"Id": aid, "Arn": _node_arn(ctx, org, "account", aid), "Email": f"{aid}@iamroles.invalid", "Name": aid,
            "Status": "ACTIVE", "State": "ACTIVE", "JoinedMethod": row["joined_method"], "JoinedTimestamp": row["joined_at"]}


def _target_kind(tx: Tx, org: dict[str, Any], target: str) -> str | None:
    """ROOT, ORGANIZATIONAL_UNIT or ACCOUNT for a target of ``org``; None if it is none of them."""
    if target == org["root_id"]:
        return "ROOT"
    if target.startswith("ou-"):
        return "ORGANIZATIONAL_UNIT" if tx.org_unit(org["org_id"], target) is not None else None
    member = tx.organization_of(target) if target.isdigit() and len(target) == 12 else None
    return "ACCOUNT" if member is not None and member["org_id"] == org["org_id"] else None


def _is_parent(tx: Tx, org: dict[str, Any], parent: str) -> bool:
    return parent == org["root_id"] or (parent.startswith("ou-") and tx.org_unit(org["org_id"], parent) is not None)


def _give_full_access(tx: Tx, org: dict[str, Any], target: str) -> None:
    """A new OU or member gets FullAWSAccess while SCPs are enabled (orgs_manage_policies_scps), and RCPFullAWSAccess
    while RCPs are (orgs_manage_policies_rcps_syntax: attached to "every OU, and every account")."""
    for kind in sorted(tx.org_policy_types(org["org_id"])):
        if kind in _FULL:
            tx.org_attach(org["org_id"], _FULL[kind][0], target)


def _ensure_full_policy(tx: Tx, org_id: str, kind: str) -> str:
    """The id of ``kind``'s AWS managed policy in the organization, stored if it is not yet (an organization made
    before RCPs were served has FullAWSAccess only)."""
    pid, name, description, content = _FULL[kind]
    if tx.org_policy(org_id, pid) is None:
        tx.insert_org_policy(org_id, pid, kind, name, description, content, True)
    return pid


# --- the organization ----------------------------------------------------------------------------


@operation("CreateOrganization", resource=lambda ctx, inp: "*", write=True, service="organizations")
def create_organization(ctx: CallContext, inp: Input) -> Output:
    if ctx.tx.organization_of(ctx.account_id) is not None:
        raise org_error("AlreadyInOrganizationException", "The AWS account is already a member of an organization.")
    feature_set = inp.get("FeatureSet", "ALL")
    org_id, root_id = _id("o-", 10), _id("r-", 4)
    try:
        ctx.tx.insert_organization(org_id, ctx.account_id, root_id, feature_set, ctx.now)
    except Duplicate:  # another CreateOrganization of this account committed first
        raise org_error("AlreadyInOrganizationException",
                                 "The AWS account is already a member of an organization.") from None
    for kind in (SCP, RCP):
        _ensure_full_policy(ctx.tx, org_id, kind)
    org = ctx.tx.organization(org_id)
    assert org is not None
    return {"Organization": _organization(ctx, org)}


@operation("DescribeOrganization", resource=lambda ctx, inp: "*", service="organizations")
def describe_organization(ctx: CallContext, inp: Input) -> Output:
    org = _membership(ctx)
    return {"Organization": _organization(ctx, org)}


@operation("ListRoots", resource=lambda ctx, inp: "*", service="organizations")
def list_roots(ctx: CallContext, inp: Input) -> Output:
    org = _managed(ctx)
    types = ctx.tx.org_policy_types(org["org_id"])
    root = {"Id": org["root_id"], "Arn": _node_arn(ctx, org, "root", org["root_id"]), "Name": "Root",
            "PolicyTypes": [{"Type": t, "Status": "ENABLED"} for t in sorted(types)]}
    return {"Roots": [root]}


@operation("EnablePolicyType", resource=lambda ctx, inp: "*", write=True, service="organizations")
def enable_policy_type(ctx: CallContext, inp: Input) -> Output:
    org = _managed(ctx)
    if inp["RootId"] != org["root_id"]:
        raise org_error("RootNotFoundException", "We can't find a root with the RootId that you specified.")
    kind = inp["PolicyType"]
    if kind not in SUPPORTED_TYPES:
        raise org_error("PolicyTypeNotAvailableForOrganizationException",
                                 "You can't use the specified policy type with the feature set currently enabled "
                                 "for this organization.")
    oid = org["org_id"]
    if kind in ctx.tx.org_policy_types(oid):
        raise org_error("PolicyTypeAlreadyEnabledException", "The specified policy type is already enabled.")
    ctx.tx.enable_org_policy_type(oid, kind)
    # enabling SCPs attaches FullAWSAccess (RCPs: RCPFullAWSAccess) to the root, every OU and every account
    full = _ensure_full_policy(ctx.tx, oid, kind)
    targets = [org["root_id"], *(u["ou_id"] for u in ctx.tx.org_units(oid)), *(a["account_id"] for a in ctx.tx.org_accounts(oid))]
    for target in targets:
        if full not in ctx.tx.org_attached(oid, target):
            ctx.tx.org_attach(oid, full, target)
    roots = list_roots(ctx, {})
    assert roots is not None
    return {"Root": roots["Roots"][0]}


# --- organizational units ------------------------------------------------------------------------


def _depth(tx: Tx, org: dict[str, Any], node: str) -> int:
    depth = 0
    while node != org["root_id"]:
        unit = tx.org_unit(org["org_id"], node)
        if unit is None:
            break
        depth += 1
        node = unit["parent_id"]
    return depth


def _ou(ctx: CallContext, org: dict[str, Any], unit: dict[str, Any]) -> dict[str, Any]:
    return {"Id": unit["ou_id"], "Arn": _node_arn(ctx, org, "ou", unit["ou_id"]), "Name": unit["name"]}


@operation("CreateOrganizationalUnit", resource=lambda ctx, inp: "*", write=True, service="organizations")
def create_organizational_unit(ctx: CallContext, inp: Input) -> Output:
    org = _managed(ctx)
    oid, parent, name = org["org_id"], inp["ParentId"], inp["Name"]
    if not _is_parent(ctx.tx, org, parent):
        raise org_error("ParentNotFoundException", "We can't find a root or OU with the ParentId that you specified.")
    if any(u["name"] == name for u in ctx.tx.org_units(oid, parent)):
        raise org_error("DuplicateOrganizationalUnitException", "An OU with the same name already exists.")
    if _depth(ctx.tx, org, parent) >= MAX_OU_DEPTH:
        raise org_error("ConstraintViolationException",
                                 "You attempted to create an OU tree that is too many levels deep.", "OU_DEPTH_LIMIT_EXCEEDED")
    ou_id = f"ou-{org['root_id'][2:]}-{_id('', 8)}"
    ctx.tx.insert_org_unit(oid, ou_id, parent, name, ctx.now)
    _give_full_access(ctx.tx, org, ou_id)
    return {"OrganizationalUnit": _ou(ctx, org, {"ou_id": ou_id, "name": name})}


@operation("ListOrganizationalUnitsForParent", resource=lambda ctx, inp: "*", service="organizations")
def list_organizational_units_for_parent(ctx: CallContext, inp: Input) -> Output:
    org = _managed(ctx)
    if not _is_parent(ctx.tx, org, inp["ParentId"]):
        raise org_error("ParentNotFoundException", "We can't find a root or OU with the ParentId that you specified.")
    return {"OrganizationalUnits": [_ou(ctx, org, u) for u in ctx.tx.org_units(org["org_id"], inp["ParentId"])]}


# --- accounts ------------------------------------------------------------------------------------


def _member(ctx: CallContext, org: dict[str, Any], account_id: str) -> dict[str, Any]:
    rows = [a for a in ctx.tx.org_accounts(org["org_id"]) if a["account_id"] == account_id]
    if not rows:
        raise org_error("AccountNotFoundException",
                                 "We can't find an AWS account with the AccountId that you specified, or the account "
                                 "whose credentials you used to make this request isn't a member of an organization.")
    return rows[0]


@operation("ListAccounts", resource=lambda ctx, inp: "*", service="organizations")
def list_accounts(ctx: CallContext, inp: Input) -> Output:
    org = _managed(ctx)
    return {"Accounts": [_account(ctx, org, a) for a in ctx.tx.org_accounts(org["org_id"])]}


@operation("DescribeAccount", resource=lambda ctx, inp: "*", service="organizations")
def describe_account(ctx: CallContext, inp: Input) -> Output:
    org = _managed(ctx)
    return {"Account": _account(ctx, org, _member(ctx, org, inp["AccountId"]))}


@operation("MoveAccount", resource=lambda ctx, inp: "*", write=True, service="organizations")
def move_account(ctx: CallContext, inp: Input) -> Output:
    org = _managed(ctx)
    row = _member(ctx, org, inp["AccountId"])
    source, dest = inp["SourceParentId"], inp["DestinationParentId"]
    if not _is_parent(ctx.tx, org, source):
        raise org_error("SourceParentNotFoundException", "We can't find a source root or OU with the ParentId that you specified.")
    if not _is_parent(ctx.tx, org, dest):
        raise org_error("DestinationParentNotFoundException",
                                 "We can't find the destination container (a root or OU) with the ParentId that you specified.")
    if row["parent_id"] != source:
        raise org_error("AccountNotFoundException",
                                 "We can't find an AWS account with the AccountId that you specified in the source parent.")
    if source == dest:
        raise org_error("DuplicateAccountException", "That account is already present in the specified destination.")
    ctx.tx.move_org_account(org["org_id"], inp["AccountId"], dest)
    return None


@operation("InviteAccountToOrganization", resource=lambda ctx, inp: "*", write=True, service="organizations")
def invite_account(ctx: CallContext, inp: Input) -> Output:
    org = _managed(ctx)
    target = inp["Target"]
    account_id = str(target.get("Id", ""))
    if target.get("Type") != "ACCOUNT" or ctx.tx.account(account_id) is None:
        # iamroles invites iamroles accounts by their id (there are no e-mail addresses here)
        raise org_error("InvalidInputException", "You provided a value that does not match the required pattern.",
                                 "INVALID_PARTY_TYPE_TARGET")
    if ctx.tx.organization_of(account_id) is not None:
        raise org_error("HandshakeConstraintViolationException",
                                 "The account is already a member of an organization.", "ALREADY_IN_AN_ORGANIZATION")
    hid = _id("h-", 10)
    expires = ctx.now + timedelta(days=HANDSHAKE_DAYS)
    ctx.tx.insert_org_handshake(hid, org["org_id"], account_id, ctx.now, expires)
    found = ctx.tx.org_handshake(hid)
    assert found is not None
    return {"Handshake": _handshake(ctx, org, found)}


def _handshake(ctx: CallContext, org: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    return {
        "Id": row["handshake_id"], "Arn": _node_arn(ctx, org, "handshake", f"invite/{row['handshake_id']}"),
        "Parties": [{"Id": org["org_id"][2:], "Type": "ORGANIZATION"}, {"Id": row["account_id"], "Type": "ACCOUNT"}],
        "State": row["state"], "RequestedTimestamp": row["created_at"], "ExpirationTimestamp": row["expires_at"],
        "Action": "INVITE",
        "Resources": [{"Value": org["org_id"], "Type": "ORGANIZATION"}],
    }


@operation("AcceptHandshake", resource=lambda ctx, inp: "*", write=True, service="organizations")
def accept_handshake(ctx: CallContext, inp: Input) -> Output:
    row = ctx.tx.org_handshake(inp["HandshakeId"])
    # only the invited account sees its invitation
    if row is None or row["account_id"] != ctx.account_id:
        raise org_error("HandshakeNotFoundException", "We can't find a handshake with the HandshakeId that you specified.")
    org = ctx.tx.organization(row["org_id"])
    if org is None:
        raise org_error("HandshakeNotFoundException", "We can't find a handshake with the HandshakeId that you specified.")
    ctx.tx.lock_organization(org["org_id"])
    if row["state"] != "OPEN" or row["expires_at"] <= ctx.now:
        raise org_error("InvalidHandshakeTransitionException",
                                 "You can't perform the operation on the handshake in its current state.")
    if ctx.tx.organization_of(ctx.account_id) is not None:
        raise org_error("HandshakeConstraintViolationException",
                                 "The account is already a member of an organization.", "ALREADY_IN_AN_ORGANIZATION")
    try:
        ctx.tx.insert_org_account(org["org_id"], ctx.account_id, org["root_id"], "INVITED", ctx.now)
    except Duplicate:
        raise org_error("HandshakeConstraintViolationException",
                                 "The account is already a member of an organization.", "ALREADY_IN_AN_ORGANIZATION") from None
    _give_full_access(ctx.tx, org, ctx.account_id)
    ctx.tx.set_org_handshake_state(row["handshake_id"], org["org_id"], "ACCEPTED")
    found = ctx.tx.org_handshake(row["handshake_id"])
    assert found is not None
    return {"Handshake": _handshake(ctx, org, found)}


# --- policies ------------------------------------------------------------------------------------


def _summary(ctx: CallContext, org: dict[str, Any], p: dict[str, Any]) -> dict[str, Any]:
    return {"Id": p["policy_id"], "Arn": _policy_arn(ctx, org, p), "Name": p["name"], "Description": p["description"],
            "Type": p["type"], "AwsManaged": bool(p["aws_managed"])}


def _policy(ctx: CallContext, org: dict[str, Any], policy_id: str) -> dict[str, Any]:
    p = ctx.tx.org_policy(org["org_id"], policy_id)
    if p is None:
        raise org_error("PolicyNotFoundException", "We can't find a policy with the PolicyId that you specified.")
    return p


def check_rcp(content: str) -> str | None:
    """What keeps ``content`` from being a resource control policy the management account may write (None: nothing).

    orgs_manage_policies_rcps_syntax.html: "Every RCP must include a Version element with the value 2012-10-17";
    Effect: "For RCPs that you create, the value must be Deny" ("The effect of Allow is only supported for the
    RCPFullAWSAccess policy"); Principal: "Each statement must contain the Principal element. You can only specify
    * in the Principal element of an RCP"; NotPrincipal and NotAction "are not supported in RCPs"; Action: "You
    cannot use * in the Action element of a customer managed RCP and have to specify the abbreviation for the
    service", one of the services RCPs support (orgs_manage_policies_rcps.html#rcp-supported-services)."""
    try:
        document = parse_document(content, PolicyKind.RCP, managed=True)
    except PolicyError as err:
        return err.problems[0].message
    for i, st in enumerate(document.statements):
        where = f"Statement {st.sid or i}"
        if not st.is_deny:
            return f"{where}: the effect of Allow is only supported for the RCPFullAWSAccess policy; an RCP you create denies."
        if st.principal is None or not st.principal.wildcard:
            return f'{where}: you can only specify "*" in the Principal element of an RCP; use a Condition to restrict principals.'
        for action in st.actions:
            vendor = action.split(":", 1)[0].lower()
            if action == "*" or ":" not in action:
                return f'{where}: you cannot use "*" in the Action element of a customer managed RCP; name the service.'
            if vendor not in RCP_SERVICES:
                return f"{where}: the service {vendor} does not support RCPs (action {action})."
    return None


def _check_content(ctx: CallContext, kind: str, content: str) -> None:
    """A policy of ``kind`` the management account writes: within its size (ConstraintViolationException), and a
    document of its type (MalformedPolicyDocumentException), each in AWS's words; then as ``serve
    --validate-policies`` says (iam.review)."""
    size = MAX_POLICY_SIZE[kind]
    if len(content) > size:
        raise org_error("ConstraintViolationException",
                        f"The provided policy document exceeds the maximum size of {size} characters.",
                        "POLICY_CONTENT_LIMIT_EXCEEDED")
    problem: str | None = None
    if kind == RCP:
        problem = check_rcp(content)
    else:
        try:
            parse_policy(content, _KINDS[kind], name="new")
        except PolicyError as err:
            problem = err.problems[0].message
    if problem is not None:
        raise org_error("MalformedPolicyDocumentException", "The provided policy document does not meet the "
                        f"requirements of the specified policy type. {problem}")
    review_policy(ctx, content, _KINDS[kind], lambda message: org_error("MalformedPolicyDocumentException", message))


@operation("CreatePolicy", resource=lambda ctx, inp: "*", write=True, service="organizations")
def create_policy(ctx: CallContext, inp: Input) -> Output:
    org = _managed(ctx)
    kind = inp["Type"]
    if kind not in SUPPORTED_TYPES:
        raise org_error("PolicyTypeNotAvailableForOrganizationException",
                                 "You can't use the specified policy type with the feature set currently enabled for this organization.")
    _check_content(ctx, kind, inp["Content"])
    oid = org["org_id"]
    if any(p["name"] == inp["Name"] for p in ctx.tx.org_policies(oid, kind)):
        raise org_error("DuplicatePolicyException", "A policy with the same name already exists.")
    pid = _id("p-", 8)
    ctx.tx.insert_org_policy(oid, pid, kind, inp["Name"], inp["Description"], inp["Content"], False)
    p = _policy(ctx, org, pid)
    return {"Policy": {"PolicySummary": _summary(ctx, org, p), "Content": p["content"]}}


@operation("DescribePolicy", resource=lambda ctx, inp: "*", service="organizations")
def describe_policy(ctx: CallContext, inp: Input) -> Output:
    org = _managed(ctx)
    p = _policy(ctx, org, inp["PolicyId"])
    return {"Policy": {"PolicySummary": _summary(ctx, org, p), "Content": p["content"]}}


@operation("ListPolicies", resource=lambda ctx, inp: "*", service="organizations")
def list_policies(ctx: CallContext, inp: Input) -> Output:
    org = _managed(ctx)
    return {"Policies": [_summary(ctx, org, p) for p in ctx.tx.org_policies(org["org_id"], inp["Filter"])]}


@operation("ListPoliciesForTarget", resource=lambda ctx, inp: "*", service="organizations")
def list_policies_for_target(ctx: CallContext, inp: Input) -> Output:
    org = _managed(ctx)
    if _target_kind(ctx.tx, org, inp["TargetId"]) is None:
        raise org_error("TargetNotFoundException", "We can't find a root, OU, account, or policy with the TargetId that you specified.")
    found = [ctx.tx.org_policy(org["org_id"], pid) for pid in ctx.tx.org_attached(org["org_id"], inp["TargetId"])]
    return {"Policies": [_summary(ctx, org, p) for p in found if p is not None and p["type"] == inp["Filter"]]}


def _attachment(ctx: CallContext, inp: Input) -> tuple[dict[str, Any], dict[str, Any], str]:
    org = _managed(ctx)
    p = _policy(ctx, org, inp["PolicyId"])
    target = inp["TargetId"]
    if _target_kind(ctx.tx, org, target) is None:
        raise org_error("TargetNotFoundException", "We can't find a root, OU, account, or policy with the TargetId that you specified.")
    return org, p, target


def _of_type(tx: Tx, org: dict[str, Any], target: str, kind: str) -> list[str]:
    out = []
    for pid in tx.org_attached(org["org_id"], target):
        p = tx.org_policy(org["org_id"], pid)
        if p is not None and p["type"] == kind:
            out.append(pid)
    return out


@operation("AttachPolicy", resource=lambda ctx, inp: "*", write=True, service="organizations")
def attach_policy(ctx: CallContext, inp: Input) -> Output:
    org, p, target = _attachment(ctx, inp)
    if p["type"] not in ctx.tx.org_policy_types(org["org_id"]):
        raise org_error("PolicyTypeNotEnabledException", "This operation can be performed only for enabled policy types.")
    attached = _of_type(ctx.tx, org, target, p["type"])
    if p["policy_id"] in attached:
        raise org_error("DuplicatePolicyAttachmentException", "The selected policy is already attached to the specified target.")
    if len(attached) >= MAX_ATTACHED:
        raise org_error("ConstraintViolationException",
                                 "You attempted to attach a policy to an entity that would cause the entity to exceed "
                                 "the limit of policies of that type that can be attached to it.",
                                 "MAX_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED")
    try:
        ctx.tx.org_attach(org["org_id"], p["policy_id"], target)
    except Duplicate:
        raise org_error("DuplicatePolicyAttachmentException",
                                 "The selected policy is already attached to the specified target.") from None
    return None


@operation("DetachPolicy", resource=lambda ctx, inp: "*", write=True, service="organizations")
def detach_policy(ctx: CallContext, inp: Input) -> Output:
    org, p, target = _attachment(ctx, inp)
    attached = _of_type(ctx.tx, org, target, p["type"])
    if p["policy_id"] not in attached:
        raise org_error("PolicyNotAttachedException", "The policy isn't attached to the specified target in the specified root.")
    if p["policy_id"] == RCP_FULL_AWS_ACCESS and p["type"] in ctx.tx.org_policy_types(org["org_id"]):
        # orgs_manage_policies_rcps_syntax.html: RCPFullAWSAccess "is automatically attached to the organization root,
        # every OU, and every account ... You cannot detach this policy."
        raise org_error("ConstraintViolationException",
                        "You attempted to detach RCPFullAWSAccess, which stays attached to every root, OU and account "
                        "while resource control policies are enabled.", "MIN_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED")
    if len(attached) == 1 and p["type"] in ctx.tx.org_policy_types(org["org_id"]):
        raise org_error("ConstraintViolationException",
                                 "You attempted to detach a policy from an entity that would cause the entity to have "
                                 "fewer than the minimum number of policies of that type required.",
                                 "MIN_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED")
    ctx.tx.org_detach(org["org_id"], p["policy_id"], target)
    return None


# --- enforcement ---------------------------------------------------------------------------------


Levels = tuple[tuple[Policy, ...], ...]


@dataclass(frozen=True, slots=True)
class Standing:
    """Where an account stands in its organization: the organization's id and the account's path
    ("o-id/r-id/ou-id/.../": ``aws:PrincipalOrgID`` / ``aws:PrincipalOrgPaths`` for its principals,
    ``aws:ResourceOrgID`` / ``aws:ResourceOrgPaths`` for its resources), the SCP levels that bound its principals
    and the RCP levels that bound its resources (None: it is the management account, or the type is not enabled)."""

    org_id: str
    org_path: str
    scp: Levels | None
    rcp: Levels | None = None


def org_standing(tx: Tx, compiled: Any, account_id: str, depends: list[Scope]) -> Standing | None:
    """``account_id``'s :class:`Standing`, or None if it is in no organization. The levels run from the root down
    to the account itself, one per node, each of which must allow; SCPs do not affect the management account
    (orgs_manage_policies_scps) and RCPs do not affect its resources ("RCPs don't affect resources in the management
    account", orgs_manage_policies_rcps). ``compiled(document, kind, name)`` compiles a policy (the decision cache's);
    ``depends`` gets the scopes read. What it reads is bounded by the tree's depth and the policies per target,
    whatever the organization's size."""
    depends.append(org_member_scope(account_id))
    org = tx.organization_of(account_id)
    if org is None:
        return None
    oid = org["org_id"]
    depends.append(org_scope(oid))
    path = [account_id]
    node = org["parent_id"]
    for _ in range(MAX_OU_DEPTH + 1):
        path.append(node)
        if node == org["root_id"]:
            break
        unit = tx.org_unit(oid, node)
        if unit is None:
            break
        node = unit["parent_id"]
    nodes = list(reversed(path))
    org_path = "/".join([oid, *nodes[:-1]]) + "/"
    kinds = {SCP, RCP} & tx.org_policy_types(oid)
    if org["management_account_id"] == account_id or not kinds:
        return Standing(oid, org_path, None, None)
    levels: dict[str, list[tuple[Policy, ...]]] = {kind: [] for kind in kinds}
    for target in nodes:
        level: dict[str, list[Policy]] = {kind: [] for kind in kinds}
        for pid in tx.org_attached(oid, target):
            p = tx.org_policy(oid, pid)
            if p is not None and p["type"] in level:
                level[p["type"]].append(compiled(p["content"], _KINDS[p["type"]], f"{p['name']} ({pid})"))
        for kind in kinds:
            levels[kind].append(tuple(level[kind]))
    scp, rcp = levels.get(SCP), levels.get(RCP)
    return Standing(oid, org_path, tuple(scp) if scp is not None else None, tuple(rcp) if rcp is not None else None)


