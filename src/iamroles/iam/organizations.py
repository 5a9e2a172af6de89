"""AWS Organizations over the wire (issue 17): an organization of iamroles accounts, its root and OUs, and service
control policies attached to them.

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

:func:`org_standing` gives the decision an account's organization, path and SCPs, root first (``iam.authorize``).
"""
from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

from iamroles.errors import AwsError
from iamroles.policy import Policy, PolicyError, PolicyKind, parse_policy
from iamroles.store import Duplicate, Scope, Tx, org_member_scope, org_scope

from .context import CallContext
from .registry import Input, Output, operation

__all__ = ["FULL_AWS_ACCESS", "OrganizationsError", "SCP", "Levels", "Standing", "org_error", "org_standing"]

SCP = "SERVICE_CONTROL_POLICY"
FULL_AWS_ACCESS = "p-FullAWSAccess"
_FULL_CONTENT = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'
# orgs_reference_limits: policies of one type attached to a root, OU or account; an SCP's size
MAX_ATTACHED = 5
MAX_SCP_SIZE = 5120
MAX_OU_DEPTH = 5
HANDSHAKE_DAYS = 15  # an invitation to join expires after 15 days (API_InviteAccountToOrganization)
_LOWER = string.ascii_lowercase + string.digits
SUPPORTED_TYPES = frozenset({SCP})


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
    """A new OU or member gets FullAWSAccess while SCPs are enabled (orgs_manage_policies_scps)."""
    if SCP in tx.org_policy_types(org["org_id"]):
        tx.org_attach(org["org_id"], FULL_AWS_ACCESS, target)


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
    ctx.tx.insert_org_policy(org_id, FULL_AWS_ACCESS, SCP, "FullAWSAccess", "Allows access to every operation",
                             _FULL_CONTENT, True)
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
    # enabling SCPs attaches FullAWSAccess to the root, every OU and every account
    targets = [org["root_id"], *(u["ou_id"] for u in ctx.tx.org_units(oid)), *(a["account_id"] for a in ctx.tx.org_accounts(oid))]
    for target in targets:
        if FULL_AWS_ACCESS not in ctx.tx.org_attached(oid, target):
            ctx.tx.org_attach(oid, FULL_AWS_ACCESS, target)
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


def _check_content(kind: str, content: str) -> None:
    if len(content) > MAX_SCP_SIZE:
        raise org_error("ConstraintViolationException",
                                 f"The provided policy document exceeds the maximum size of {MAX_SCP_SIZE} characters.",
                                 "POLICY_CONTENT_LIMIT_EXCEEDED")
    try:
        parse_policy(content, PolicyKind.SCP, name="new")
    except PolicyError as err:
        raise org_error("MalformedPolicyDocumentException", f"The provided policy document does not meet the "
                                 f"requirements of the specified policy type. {err.problems[0].message}") from None


@operation("CreatePolicy", resource=lambda ctx, inp: "*", write=True, service="organizations")
def create_policy(ctx: CallContext, inp: Input) -> Output:
    org = _managed(ctx)
    kind = inp["Type"]
    if kind not in SUPPORTED_TYPES:
        raise org_error("PolicyTypeNotAvailableForOrganizationException",
                                 "You can't use the specified policy type with the feature set currently enabled for this organization.")
    _check_content(kind, inp["Content"])
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
    """Where an account stands in its organization, for the decisions of its principals: the organization's id
    and the account's path (``aws:PrincipalOrgID``, ``aws:PrincipalOrgPaths``: "o-id/r-id/ou-id/.../"), and the SCP
    levels that bound it (None: it is the management account, or SCPs are not enabled)."""

    org_id: str
    org_path: str
    levels: Levels | None


def org_standing(tx: Tx, compiled: Any, account_id: str, depends: list[Scope]) -> Standing | None:
    """``account_id``'s :class:`Standing`, or None if it is in no organization. The SCP levels run from the root
    down to the account itself, one per node, each of which must allow; SCPs do not affect the management account
    (orgs_manage_policies_scps). ``compiled(document, kind, name)`` compiles a policy (the decision cache's);
    ``depends`` gets the scopes read."""
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
    if org["management_account_id"] == account_id or SCP not in tx.org_policy_types(oid):
        return Standing(oid, org_path, None)
    levels = []
    for target in nodes:
        level = []
        for pid in tx.org_attached(oid, target):
            p = tx.org_policy(oid, pid)
            if p is not None and p["type"] == SCP:
                level.append(compiled(p["content"], PolicyKind.SCP, f"{p['name']} ({pid})"))
        levels.append(tuple(level))
    return Standing(oid, org_path, tuple(levels))
