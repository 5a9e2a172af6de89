"""AWS Organizations over the wire (issue 17): an organization of iamroles accounts, its root and OUs, the service control and
resource control policies attached to them, and who may manage it.

The operations follow botocore's ``organizations`` model (the JSON protocol, served by ``server.orgs``); this module
holds the organization, its root and policies and their attachments, and what the other operations share (who may
call, the ARNs calls are authorised on, paging, tags); ``org_tree`` the OUs, accounts and invitations,
``org_admin`` changing and deleting policies, tags, delegated administrators and the delegation policy. The account
that calls CreateOrganization becomes its management account
(https://docs.aws.amazon.com/organizations/latest/APIReference/API_CreateOrganization.html); an account in no
organization gets AWSOrganizationsNotInUseException.

Who may call (each operation's page: "You can only call this operation from the management account [or a member
account that is a delegated administrator]"): the management account; for the operations AWS lets a delegated
administrator call, a member account that the organization's resource-based delegation policy allows
(https://docs.aws.amazon.com/organizations/latest/userguide/orgs_delegate_policies.html), and for the read-only ones
a member account registered as a delegated administrator of any service ("It grants read-only access to
Organizations service data", API_RegisterDelegatedAdministrator.html). Any other member's call is
AccessDeniedException. A delegated call is authorised as AWS authorises a cross-account one: the caller's own
policies (and SCPs) and the delegation policy must both allow it. Every call is authorised on the resources AWS's
service authorization reference gives its action (the root, OU, account, policy, handshake ARNs:
``arn:aws:organizations::MANAGEMENT:ou/o-ID/ou-ID``, ...), each of them, with ``organizations:PolicyType``,
``organizations:ServicePrincipal``, ``aws:RequestTag/*``, ``aws:TagKeys`` and the resource's ``aws:ResourceTag/*``
where the reference lists them (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsorganizations.html).

Service control policies
(https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html): the type is enabled
at the root (EnablePolicyType); enabling it attaches AWS's ``FullAWSAccess`` to the root, every OU and every
account, and each OU created or account joining afterwards gets it too. Every root, OU and account keeps at least
one SCP (DetachPolicy of the last one is ConstraintViolationException,
https://docs.aws.amazon.com/organizations/latest/APIReference/API_DetachPolicy.html); at most five are attached to
one target, a policy is at most 5,120 characters and an organization has at most 1,000 of a type
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

Every List operation pages (MaxResults, at most 20, and NextToken): a NextToken is sealed under the master key
with the listing and the caller it was issued for, so it is opaque and cannot be forged or replayed on another
listing (InvalidInputException, INVALID_NEXT_TOKEN).

:func:`org_standing` gives the decision an account's organization, path, SCPs and RCPs, root first
(``iam.authorize``); :func:`rcp_applies` says whether a request is one RCPs bound.
"""
from __future__ import annotations

import base64
import json
import re
import secrets
import string
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar, TypeVar

from iamroles.catalog.organizations import RCP_SERVICES, rcp_applies, service_linked
from iamroles.errors import AwsError
from iamroles.policy import Policy, PolicyError, PolicyKind, parse_document, parse_policy
from iamroles.store import Duplicate, Scope, Tx, org_member_scope, org_scope

from .common import tag_keys
from .context import CallContext
from .registry import Input, On, Output, ResourceOf, operation
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
# orgs_reference_limits: policies of one type attached to a root, OU or account; an SCP's or an RCP's size; policies
# of a type in an organization
MAX_ATTACHED = 5
MAX_POLICY_SIZE = {SCP: 5120, RCP: 5120}
MAX_POLICIES = 1000
MAX_OU_DEPTH = 5
MAX_TAGS = 50  # tags on one resource (ConstraintViolationException MAX_TAG_LIMIT_EXCEEDED)
ACCOUNTS_QUOTA = "AccountsPerOrganization"  # iam.common.ACCOUNT_QUOTAS: 10 by default, an operator raises it
HANDSHAKE_DAYS = 15  # an invitation to join expires after 15 days (API_InviteAccountToOrganization)
_LOWER = string.ascii_lowercase + string.digits
SUPPORTED_TYPES = frozenset({SCP, RCP})
PAGE = 20  # MaxResults' maximum in the model, and the page size when it is not given

# Who may call an operation (see the module's docstring)
MANAGEMENT = "management"  # the management account only
DELEGATED_READ = "delegated-read"  # also a delegated administrator, or a member the delegation policy allows
DELEGATED = "delegated"  # also a member the delegation policy allows
# The read-only operations a registered delegated administrator may call: those whose page says "from the management
# account or a member account that is a delegated administrator" and change nothing
READ_ACTIONS = (
    "DescribeAccount", "DescribeCreateAccountStatus", "DescribeOrganizationalUnit", "DescribePolicy",
    "DescribeResourcePolicy", "ListAccounts", "ListAccountsForParent", "ListChildren", "ListCreateAccountStatus",
    "ListAWSServiceAccessForOrganization", "ListDelegatedAdministrators", "ListDelegatedServicesForAccount",
    "ListHandshakesForOrganization",
    "ListOrganizationalUnitsForParent", "ListParents", "ListPolicies", "ListPoliciesForTarget", "ListRoots",
    "ListTagsForResource", "ListTargetsForPolicy",
)
# ... and the ones that change something, which only the delegation policy can delegate
WRITE_ACTIONS = ("AttachPolicy", "CreatePolicy", "DeletePolicy", "DetachPolicy", "DisablePolicyType",
                 "EnablePolicyType", "TagResource", "UntagResource", "UpdatePolicy")

Org = dict[str, Any]
T = TypeVar("T")


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


def _membership(ctx: CallContext) -> Org:
    org = ctx.tx.organization_of(ctx.account_id)
    if org is None:
        raise org_error("AWSOrganizationsNotInUseException", "Your account is not a member of an organization.")
    return org


def _managed(ctx: CallContext) -> Org:
    """The caller's organization, if the caller is its management account (else AccessDeniedException)."""
    org = _membership(ctx)
    if org["management_account_id"] != ctx.account_id:
        raise _denied()
    ctx.tx.lock_organization(org["org_id"])
    return org


def _administered(ctx: CallContext, who: str) -> Org:
    """The caller's organization for an operation a delegated administrator may call (``who``): its management
    account, or a member that may be delegated it; the delegation policy itself was evaluated when the call was
    authorised (:func:`_access`). Writes take the organization's lock."""
    org, _policy = _access(ctx, who)
    if who != DELEGATED_READ:
        ctx.tx.lock_organization(org["org_id"])
    return org


def _access(ctx: CallContext, who: str) -> tuple[Org, Policy | None]:
    """The caller's organization and, for a member, the resource-based policy that must allow its call on the
    organization's resources (the delegation policy, with a read-only grant to registered delegated administrators
    for reads); AccessDeniedException for a member that nothing delegates to."""
    org = _membership(ctx)
    if org["management_account_id"] == ctx.account_id:
        return org, None
    if who == MANAGEMENT:
        raise _denied()
    policy = _delegation_policy(ctx, org, who == DELEGATED_READ)
    if policy is None:
        raise _denied()
    return org, policy


def _delegation_policy(ctx: CallContext, org: Org, read: bool) -> Policy | None:
    """The organization's delegation policy as a resource-based policy, and for reads a statement allowing its
    registered delegated administrators the read-only operations; None when there is neither."""
    stored = ctx.tx.org_resource_policy(org["org_id"])
    version, statements = "2012-10-17", []
    if stored is not None:
        doc = json.loads(stored["content"])
        version = doc.get("Version", version)
        found = doc.get("Statement", [])
        statements = list(found) if isinstance(found, list) else [found]
    if read:
        admins = sorted({d["account_id"] for d in ctx.tx.org_delegations(org["org_id"])})
        if admins:
            statements.append({"Sid": "DelegatedAdministratorsRead", "Effect": "Allow",
                               "Principal": {"AWS": [f"arn:{ctx.partition}:iam::{a}:root" for a in admins]},
                               "Action": [f"organizations:{a}" for a in READ_ACTIONS], "Resource": "*"})
    if not statements:
        return None
    text = json.dumps({"Version": version, "Statement": statements}, separators=(",", ":"), sort_keys=True)
    name = f"organization {org['org_id']}'s delegation policy"
    if ctx.cache is None:
        return parse_policy(text, PolicyKind.RESOURCE, name=name)
    compiled: Policy = ctx.cache.compiled(text, PolicyKind.RESOURCE, name)
    return compiled


# --- ARNs, and the resources a call is authorised on -----------------------------------------------


def _partition(ctx: CallContext) -> str:
    return ctx.partition


def _org_arn(ctx: CallContext, org: Org) -> str:
    return f"arn:{_partition(ctx)}:organizations::{org['management_account_id']}:organization/{org['org_id']}"


def _node_arn(ctx: CallContext, org: Org, kind: str, node: str) -> str:
    return f"arn:{_partition(ctx)}:organizations::{org['management_account_id']}:{kind}/{org['org_id']}/{node}"


def _policy_arn(ctx: CallContext, org: Org, policy: dict[str, Any]) -> str:
    kind = policy["type"].lower()
    if policy["aws_managed"]:
        return f"arn:{_partition(ctx)}:organizations::aws:policy/{kind}/{policy['policy_id']}"
    return f"arn:{_partition(ctx)}:organizations::{org['management_account_id']}:policy/{org['org_id']}/{kind}/{policy['policy_id']}"


def _target_arn(ctx: CallContext, org: Org, target: str) -> str:
    """The ARN of a root (r-), OU (ou-) or account (12 digits) id of ``org``, whether or not it exists."""
    if target.startswith("r-"):
        return _node_arn(ctx, org, "root", target)
    if target.startswith("ou-"):
        return _node_arn(ctx, org, "ou", target)
    return _node_arn(ctx, org, "account", target)


def _id_policy_arn(ctx: CallContext, org: Org, policy_id: str) -> str:
    """A policy's ARN by its id; for an id the organization has no policy of, an ARN that only a statement naming
    every policy (``*``) matches."""
    p = ctx.tx.org_policy(org["org_id"], policy_id)
    if p is None:
        return _node_arn(ctx, org, "policy", f"*/{policy_id}")
    return _policy_arn(ctx, org, p)


def _resource_tags(ctx: CallContext, org: Org, resource_id: str | None) -> dict[str, Any]:
    if not resource_id:
        return {}
    return {f"aws:ResourceTag/{k}": v for k, v in ctx.tx.org_tags(org["org_id"], resource_id)}


def org_resources(who: str, targets: Callable[[CallContext, Org, Input], Sequence[tuple[str, str | None]]],
                  tagged: Callable[[CallContext, Org, Input], str] | None = None) -> ResourceOf:
    """The resources of an operation ``who`` may call: ``targets(ctx, org, inp)`` gives (ARN, id whose tags are its
    aws:ResourceTag/*, or None) for each; for a member, each is the management account's, governed by the
    delegation policy. ``tagged``: for a create that may tag what it creates, that resource's ARN, on which a call
    with Tags is authorised for organizations:TagResource too ("If the request includes tags, then the requester must
    have the organizations:TagResource permission", API_CreatePolicy.html, API_CreateOrganizationalUnit.html,
    API_CreateAccount.html, API_InviteAccountToOrganization.html)."""

    def resource(ctx: CallContext, inp: Input) -> tuple[On, ...]:
        org, policy = _access(ctx, who)
        account = org["management_account_id"] if policy is not None else None
        found = [On(arn, _resource_tags(ctx, org, rid), account, policy) for arn, rid in targets(ctx, org, inp)]
        if tagged is not None and inp.get("Tags"):
            found.append(On(tagged(ctx, org, inp), {}, account, policy, "organizations:TagResource"))
        return tuple(found)

    return resource


def _anything(ctx: CallContext, org: Org, inp: Input) -> list[tuple[str, str | None]]:
    return [("*", None)]


def _root(ctx: CallContext, org: Org, inp: Input) -> list[tuple[str, str | None]]:
    return [(_target_arn(ctx, org, inp["RootId"]), inp["RootId"])]


def _parent(ctx: CallContext, org: Org, inp: Input) -> list[tuple[str, str | None]]:
    return [(_target_arn(ctx, org, inp["ParentId"]), inp["ParentId"])]


def _account_id(ctx: CallContext, org: Org, inp: Input) -> list[tuple[str, str | None]]:
    return [(_target_arn(ctx, org, inp["AccountId"]), inp["AccountId"])]


def _policy_id(ctx: CallContext, org: Org, inp: Input) -> list[tuple[str, str | None]]:
    return [(_id_policy_arn(ctx, org, inp["PolicyId"]), inp["PolicyId"])]


def _policy_and_target(ctx: CallContext, org: Org, inp: Input) -> list[tuple[str, str | None]]:
    return [*_policy_id(ctx, org, inp), (_target_arn(ctx, org, inp["TargetId"]), inp["TargetId"])]


def policy_type_of(ctx: CallContext, policy_id: str) -> dict[str, Any]:
    """organizations:PolicyType of the policy a call names (none for a policy there is not)."""
    org = ctx.tx.organization_of(ctx.account_id)
    p = ctx.tx.org_policy(org["org_id"], policy_id) if org is not None else None
    return {"organizations:PolicyType": p["type"]} if p is not None else {}


def _policy_keys(ctx: CallContext, inp: Input) -> dict[str, Any]:
    return policy_type_of(ctx, inp["PolicyId"])


def _type_keys(name: str) -> Callable[[CallContext, Input], dict[str, Any]]:
    def keys(ctx: CallContext, inp: Input) -> dict[str, Any]:
        return {"organizations:PolicyType": inp[name]} if inp.get(name) else {}

    return keys


def _tagging_keys(ctx: CallContext, inp: Input) -> dict[str, Any]:
    return tag_keys(inp)


# --- paging --------------------------------------------------------------------------------------


def _bound(ctx: CallContext, op: str, bind: Sequence[str]) -> bytes:
    """What a NextToken is sealed to: the listing (operation and its parameters) and the caller's account."""
    return "\0".join(["organizations-next-token", op, ctx.account_id, *bind]).encode()


def _after(ctx: CallContext, op: str, inp: Input, bind: Sequence[str]) -> str | None:
    token = inp.get("NextToken")
    if not token:
        return None
    try:
        sealed = base64.urlsafe_b64decode(token.encode("ascii"))
        return ctx.master_key.open(sealed, _bound(ctx, op, bind)).decode()
    except Exception:  # noqa: BLE001 - not base64, not sealed by us, for another listing or caller: all one answer
        raise org_error("InvalidInputException", "The specified NextToken is not valid.", "INVALID_NEXT_TOKEN") from None


def paged(ctx: CallContext, op: str, inp: Input, fetch: Callable[[str | None, int], Sequence[T]],
          key: Callable[[T], str], *bind: str) -> tuple[list[T], dict[str, Any]]:
    """A page of a listing: ``fetch(after, n)`` reads at most ``n`` items past the key ``after`` in key order (one more
    than MaxResults is read to know whether there is a next page); the page and its NextToken (if any). ``bind``: the
    listing's parameters, which the token is sealed to."""
    limit = int(inp.get("MaxResults") or PAGE)
    rows = list(fetch(_after(ctx, op, inp, bind), limit + 1))
    meta: dict[str, Any] = {}
    if len(rows) > limit:
        sealed = ctx.master_key.seal(key(rows[limit - 1]).encode(), _bound(ctx, op, bind))
        meta["NextToken"] = base64.urlsafe_b64encode(sealed).decode()
    return rows[:limit], meta


def in_order(items: Sequence[T], key: Callable[[T], str]) -> Callable[[str | None, int], list[T]]:
    """``fetch`` for :func:`paged` over a list read whole (bounded by a quota)."""
    ordered = sorted(items, key=key)

    def fetch(after: str | None, n: int) -> list[T]:
        return [i for i in ordered if after is None or key(i) > after][:n]

    return fetch


# --- tags ----------------------------------------------------------------------------------------

_TAG_PUNCTUATION = frozenset("_.:/=+-@")


def _tag_text(text: str) -> bool:
    r"""The model's tag pattern ``^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$`` (letters, separators, numbers, _.:/=+-@)."""
    return all(ch in _TAG_PUNCTUATION or unicodedata.category(ch)[0] in "LZN" for ch in text)


def check_tag_keys(keys: Sequence[str]) -> None:
    """Tag keys as Organizations takes them: the model's characters, not AWS's reserved ``aws:``."""
    for key in keys:
        if not _tag_text(key):
            raise org_error("InvalidInputException", "You provided a value that does not match the required pattern.",
                            "INVALID_PATTERN")
        if key.lower().startswith("aws:"):
            raise org_error("InvalidInputException",
                            "You specified a tag key that is a system tag. You can't add, edit, or delete system tag keys "
                            "because they're reserved for AWS use.", "INVALID_SYSTEM_TAGS_PARAMETER")


def tags_in(inp: Input) -> list[tuple[str, str]]:
    """A call's Tags, checked (each key once, the model's characters, no ``aws:`` key, at most 50)."""
    tags = [(t["Key"], t.get("Value", "")) for t in inp.get("Tags") or []]
    keys = [k for k, _ in tags]
    if len(set(keys)) != len(keys):
        raise org_error("InvalidInputException", "Tag keys must be unique among the tags attached to the same entity.",
                        "DUPLICATE_TAG_KEY")
    check_tag_keys(keys)
    for _, value in tags:
        if not _tag_text(value):
            raise org_error("InvalidInputException", "You provided a value that does not match the required pattern.",
                            "INVALID_PATTERN")
    if len(tags) > MAX_TAGS:
        raise _too_many_tags()
    return tags


def _too_many_tags() -> OrganizationsError:
    return org_error("ConstraintViolationException", "You have exceeded the number of tags allowed on this resource.",
                     "MAX_TAG_LIMIT_EXCEEDED")


def add_tags(ctx: CallContext, org: Org, resource_id: str, tags: Sequence[tuple[str, str]]) -> None:
    """Tags added to (or overwriting those of) a resource, at most 50 on it."""
    if not tags:
        return
    existing = {k for k, _ in ctx.tx.org_tags(org["org_id"], resource_id)}
    if len(existing | {k for k, _ in tags}) > MAX_TAGS:
        raise _too_many_tags()
    ctx.tx.set_org_tags(org["org_id"], resource_id, tags)


def tag_new(ctx: CallContext, org: Org, resource_id: str, tags: Sequence[tuple[str, str]]) -> None:
    """Tags given to a resource as it is created (the caller's organizations:TagResource on it was authorised with
    the call: :func:`org_resources`' ``tagged``)."""
    add_tags(ctx, org, resource_id, tags)


# --- what calls answer ---------------------------------------------------------------------------


def _organization(ctx: CallContext, org: Org) -> dict[str, Any]:
    types = ctx.tx.org_policy_types(org["org_id"])
    return {
        "Id": org["org_id"], "Arn": _org_arn(ctx, org), "FeatureSet": org["feature_set"],
        "MasterAccountArn": _node_arn(ctx, org, "account", org["management_account_id"]),
        "MasterAccountId": org["management_account_id"], "MasterAccountEmail": f"{org['management_account_id']}@iamroles.invalid",
        "AvailablePolicyTypes": [{"Type": t, "Status": "ENABLED"} for t in sorted(types)],
    }


def _ancestry(tx: Tx, org: Org, parent: str) -> list[str]:
    """The ids from the root down to ``parent`` (a root or OU of ``org``)."""
    chain = [parent]
    node = parent
    for _ in range(MAX_OU_DEPTH + 1):
        if node == org["root_id"]:
            break
        unit = tx.org_unit(org["org_id"], node)
        if unit is None:
            break
        node = unit["parent_id"]
        chain.append(node)
    return list(reversed(chain))


def _path(tx: Tx, org: Org, parent: str, node: str) -> str:
    """A node's path as AWS writes it: ``o-ID/r-ID/ou-ID/.../NODE/``."""
    return "/".join([org["org_id"], *_ancestry(tx, org, parent), node]) + "/"


def _account(ctx: CallContext, org: Org, row: dict[str, Any]) -> dict[str, Any]:
    aid = row["account_id"]
    return {"Id": aid, "Arn": _node_arn(ctx, org, "account", aid), "Email": row.get("email") or f"{aid}@iamroles.invalid",
            "Name": row.get("name") or aid, "Status": "ACTIVE", "State": "ACTIVE", "JoinedMethod": row["joined_method"],
            "JoinedTimestamp": row["joined_at"], "Paths": [_path(ctx.tx, org, row["parent_id"], aid)]}


def _ou(ctx: CallContext, org: Org, unit: dict[str, Any]) -> dict[str, Any]:
    return {"Id": unit["ou_id"], "Arn": _node_arn(ctx, org, "ou", unit["ou_id"]), "Name": unit["name"],
            "Path": _path(ctx.tx, org, unit["parent_id"], unit["ou_id"])}


def _target_kind(tx: Tx, org: Org, target: str) -> str | None:
    """ROOT, ORGANIZATIONAL_UNIT or ACCOUNT for a target of ``org``; None if it is none of them."""
    if target == org["root_id"]:
        return "ROOT"
    if target.startswith("ou-"):
        return "ORGANIZATIONAL_UNIT" if tx.org_unit(org["org_id"], target) is not None else None
    member = tx.org_account(org["org_id"], target) if target.isdigit() and len(target) == 12 else None
    return "ACCOUNT" if member is not None else None


def _is_parent(tx: Tx, org: Org, parent: str) -> bool:
    return parent == org["root_id"] or (parent.startswith("ou-") and tx.org_unit(org["org_id"], parent) is not None)


def _no_parent() -> OrganizationsError:
    return org_error("ParentNotFoundException", "We can't find a root or OU with the ParentId that you specified.")


def _give_full_access(tx: Tx, org: Org, target: str) -> None:
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
    org = _membership(ctx)  # "You can call this operation from any account in a organization"
    return {"Organization": _organization(ctx, org)}


def _root_out(ctx: CallContext, org: Org) -> dict[str, Any]:
    types = ctx.tx.org_policy_types(org["org_id"])
    return {"Id": org["root_id"], "Arn": _node_arn(ctx, org, "root", org["root_id"]), "Name": "Root",
            "PolicyTypes": [{"Type": t, "Status": "ENABLED"} for t in sorted(types)]}


@operation("ListRoots", resource=org_resources(DELEGATED_READ, _anything), service="organizations")
def list_roots(ctx: CallContext, inp: Input) -> Output:
    org = _administered(ctx, DELEGATED_READ)
    roots, meta = paged(ctx, "ListRoots", inp, in_order([_root_out(ctx, org)], lambda r: str(r["Id"])), lambda r: str(r["Id"]))
    return {"Roots": roots, **meta}


@operation("EnablePolicyType", resource=org_resources(DELEGATED, _root), keys=_type_keys("PolicyType"), write=True,
           service="organizations")
def enable_policy_type(ctx: CallContext, inp: Input) -> Output:
    org = _administered(ctx, DELEGATED)
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
    return {"Root": _root_out(ctx, org)}


# --- organizational units ------------------------------------------------------------------------


def _depth(tx: Tx, org: Org, node: str) -> int:
    return len(_ancestry(tx, org, node)) - 1


@operation("CreateOrganizationalUnit", resource=org_resources(MANAGEMENT, _parent, lambda ctx, org, inp: _node_arn(
    ctx, org, "ou", f"ou-{org['root_id'][2:]}-*")), keys=_tagging_keys, write=True,
           service="organizations")
def create_organizational_unit(ctx: CallContext, inp: Input) -> Output:
    org = _managed(ctx)
    oid, parent, name = org["org_id"], inp["ParentId"], inp["Name"]
    tags = tags_in(inp)
    if not _is_parent(ctx.tx, org, parent):
        raise _no_parent()
    if any(u["name"] == name for u in ctx.tx.org_units(oid, parent)):
        raise org_error("DuplicateOrganizationalUnitException", "An OU with the same name already exists.")
    if _depth(ctx.tx, org, parent) >= MAX_OU_DEPTH:
        raise org_error("ConstraintViolationException",
                                 "You attempted to create an OU tree that is too many levels deep.", "OU_DEPTH_LIMIT_EXCEEDED")
    ou_id = f"ou-{org['root_id'][2:]}-{_id('', 8)}"
    ctx.tx.insert_org_unit(oid, ou_id, parent, name, ctx.now)
    _give_full_access(ctx.tx, org, ou_id)
    tag_new(ctx, org, ou_id, tags)
    return {"OrganizationalUnit": _ou(ctx, org, {"ou_id": ou_id, "name": name, "parent_id": parent})}


@operation("ListOrganizationalUnitsForParent", resource=org_resources(DELEGATED_READ, _parent), service="organizations")
def list_organizational_units_for_parent(ctx: CallContext, inp: Input) -> Output:
    org = _administered(ctx, DELEGATED_READ)
    parent = inp["ParentId"]
    if not _is_parent(ctx.tx, org, parent):
        raise _no_parent()
    units, meta = paged(ctx, "ListOrganizationalUnitsForParent", inp,
                        lambda after, n: ctx.tx.org_units(org["org_id"], parent, after, n), lambda u: str(u["ou_id"]), parent)
    return {"OrganizationalUnits": [_ou(ctx, org, u) for u in units], **meta}


# --- accounts ------------------------------------------------------------------------------------


def _no_account() -> OrganizationsError:
    return org_error("AccountNotFoundException",
                     "We can't find an AWS account with the AccountId that you specified, or the account whose "
                     "credentials you used to make this request isn't a member of an organization.")


def _member(ctx: CallContext, org: Org, account_id: str) -> dict[str, Any]:
    row = ctx.tx.org_account(org["org_id"], account_id)
    if row is None:
        raise _no_account()
    return row


@operation("ListAccounts", resource=org_resources(DELEGATED_READ, _anything), service="organizations")
def list_accounts(ctx: CallContext, inp: Input) -> Output:
    org = _administered(ctx, DELEGATED_READ)
    rows, meta = paged(ctx, "ListAccounts", inp, lambda after, n: ctx.tx.org_accounts(org["org_id"], None, after, n),
                       lambda a: str(a["account_id"]))
    return {"Accounts": [_account(ctx, org, a) for a in rows], **meta}


@operation("DescribeAccount", resource=org_resources(DELEGATED_READ, _account_id), service="organizations")
def describe_account(ctx: CallContext, inp: Input) -> Output:
    org = _administered(ctx, DELEGATED_READ)
    return {"Account": _account(ctx, org, _member(ctx, org, inp["AccountId"]))}


def _move_targets(ctx: CallContext, org: Org, inp: Input) -> list[tuple[str, str | None]]:
    return [*_account_id(ctx, org, inp), (_target_arn(ctx, org, inp["SourceParentId"]), inp["SourceParentId"]),
            (_target_arn(ctx, org, inp["DestinationParentId"]), inp["DestinationParentId"])]


@operation("MoveAccount", resource=org_resources(MANAGEMENT, _move_targets), write=True, service="organizations")
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


def accounts_limit(ctx: CallContext, org: Org) -> bool:
    """Whether the organization has its quota of accounts, an open invitation counting as one
    (orgs_reference_limits: "An invitation sent to an account counts against this quota")."""
    from .common import quota_limit  # (common imports nothing of Organizations)

    limit = quota_limit(ctx, ACCOUNTS_QUOTA)
    oid = org["org_id"]
    return ctx.tx.count_org_accounts(oid) + ctx.tx.count_open_org_handshakes(oid, ctx.now) >= limit


def _invited(ctx: CallContext, org: Org, inp: Input) -> list[tuple[str, str | None]]:
    target = inp["Target"]
    if target.get("Type") == "ACCOUNT" and str(target.get("Id", "")).isdigit():
        return [(_target_arn(ctx, org, str(target["Id"])), None)]
    return [("*", None)]


INVITATIONS_PER_DAY = 20  # orgs_reference_limits: invitations sent per day per organization


@operation("InviteAccountToOrganization", resource=org_resources(MANAGEMENT, _invited, lambda ctx, org, inp: _invited(
    ctx, org, inp)[0][0]), keys=_tagging_keys, write=True,
           service="organizations")
def invite_account(ctx: CallContext, inp: Input) -> Output:
    org = _managed(ctx)
    target = inp["Target"]
    account_id = str(target.get("Id", ""))
    tags = tags_in(inp)
    if target.get("Type") != "ACCOUNT" or ctx.tx.account(account_id) is None:
        # iamroles invites iamroles accounts by their id (there are no e-mail addresses here)
        raise org_error("InvalidInputException", "You provided a value that does not match the required pattern.",
                                 "INVALID_PARTY_TYPE_TARGET")
    if ctx.tx.organization_of(account_id) is not None:
        raise org_error("HandshakeConstraintViolationException",
                                 "The account is already a member of an organization.", "ALREADY_IN_AN_ORGANIZATION")
    oid = org["org_id"]
    sent = ctx.tx.org_handshakes(org_id=oid)
    if any(h["account_id"] == account_id and h["state"] == "OPEN" and h["expires_at"] > ctx.now for h in sent):
        raise org_error("DuplicateHandshakeException",
                        "A handshake with the same action and target already exists.")
    if sum(1 for h in sent if h["created_at"] > ctx.now - timedelta(days=1)) >= INVITATIONS_PER_DAY:
        raise org_error("HandshakeConstraintViolationException",
                        "You attempted to exceed the number of handshakes that you can send in one day.",
                        "HANDSHAKE_RATE_LIMIT_EXCEEDED")
    if accounts_limit(ctx, org):
        raise org_error("HandshakeConstraintViolationException",
                        "You attempted to exceed the limit on the number of accounts in an organization.",
                        "ACCOUNT_NUMBER_LIMIT_EXCEEDED")
    hid = _id("h-", 10)
    expires = ctx.now + timedelta(days=HANDSHAKE_DAYS)
    ctx.tx.insert_org_handshake(hid, oid, account_id, ctx.now, expires)
    # the tags the account gets when it joins, kept with the invitation until then (the caller's TagResource
    # permission is checked now, on the account's ARN)
    tag_new(ctx, org, hid, tags)
    found = ctx.tx.org_handshake(hid)
    assert found is not None
    return {"Handshake": _handshake(ctx, org, found)}


def handshake_state(ctx: CallContext, row: dict[str, Any]) -> str:
    """OPEN until answered or expired (an open invitation past its 15 days is EXPIRED)."""
    if row["state"] == "OPEN" and row["expires_at"] <= ctx.now:
        return "EXPIRED"
    return str(row["state"])


def _handshake(ctx: CallContext, org: Org, row: dict[str, Any]) -> dict[str, Any]:
    return {
        "Id": row["handshake_id"], "Arn": _node_arn(ctx, org, "handshake", f"invite/{row['handshake_id']}"),
        "Parties": [{"Id": org["org_id"][2:], "Type": "ORGANIZATION"}, {"Id": row["account_id"], "Type": "ACCOUNT"}],
        "State": handshake_state(ctx, row), "RequestedTimestamp": row["created_at"], "ExpirationTimestamp": row["expires_at"],
        "Action": "INVITE",
        "Resources": [{"Value": org["org_id"], "Type": "ORGANIZATION"}, {"Value": row["account_id"], "Type": "ACCOUNT"}],
    }


def handshake_resource(ctx: CallContext, inp: Input) -> str:
    """A handshake's ARN (in its organization's management account): the caller acts on its own side of it."""
    row = ctx.tx.org_handshake(inp["HandshakeId"])
    org = ctx.tx.organization(row["org_id"]) if row is not None else None
    if row is None or org is None:
        return "*"
    return _node_arn(ctx, org, "handshake", f"invite/{row['handshake_id']}")


def _no_handshake() -> OrganizationsError:
    return org_error("HandshakeNotFoundException", "We can't find a handshake with the HandshakeId that you specified.")


def answerable(ctx: CallContext, handshake_id: str, by_recipient: bool) -> tuple[Org, dict[str, Any]]:
    """A handshake the caller may answer (as the account invited, or as the organization that sent it), with its
    organization locked; HandshakeNotFoundException for anyone else (a handshake is not shown to others)."""
    row = ctx.tx.org_handshake(handshake_id)
    org = ctx.tx.organization(row["org_id"]) if row is not None else None
    if row is None or org is None:
        raise _no_handshake()
    party = row["account_id"] if by_recipient else org["management_account_id"]
    if party != ctx.account_id:
        raise _no_handshake()
    ctx.tx.lock_organization(org["org_id"])
    row = ctx.tx.org_handshake(handshake_id)  # as it is now the lock is held
    if row is None:
        raise _no_handshake()
    return org, row


def check_transition(ctx: CallContext, row: dict[str, Any], to: str) -> None:
    """An OPEN handshake may be answered; one already in ``to`` is HandshakeAlreadyInStateException, any other
    (answered otherwise, or expired) InvalidHandshakeTransitionException."""
    state = handshake_state(ctx, row)
    if state == to:
        raise org_error("HandshakeAlreadyInStateException", f"The specified handshake is already in the requested state, {to}.")
    if state != "OPEN":
        raise org_error("InvalidHandshakeTransitionException",
                        "You can't perform the operation on the handshake in its current state.")


@operation("AcceptHandshake", resource=handshake_resource, write=True, service="organizations")
def accept_handshake(ctx: CallContext, inp: Input) -> Output:
    org, row = answerable(ctx, inp["HandshakeId"], by_recipient=True)  # only the invited account sees its invitation
    check_transition(ctx, row, "ACCEPTED")
    if ctx.tx.organization_of(ctx.account_id) is not None:
        raise org_error("HandshakeConstraintViolationException",
                                 "The account is already a member of an organization.", "ALREADY_IN_AN_ORGANIZATION")
    try:
        ctx.tx.insert_org_account(org["org_id"], ctx.account_id, org["root_id"], "INVITED", ctx.now)
    except Duplicate:
        raise org_error("HandshakeConstraintViolationException",
                                 "The account is already a member of an organization.", "ALREADY_IN_AN_ORGANIZATION") from None
    _give_full_access(ctx.tx, org, ctx.account_id)
    hid = row["handshake_id"]
    pending = ctx.tx.org_tags(org["org_id"], hid)  # the tags the invitation gave the account
    if pending:
        ctx.tx.set_org_tags(org["org_id"], ctx.account_id, pending)
        ctx.tx.remove_org_tags(org["org_id"], hid, [k for k, _ in pending])
    ctx.tx.set_org_handshake_state(hid, org["org_id"], "ACCEPTED", ctx.now)
    found = ctx.tx.org_handshake(hid)
    assert found is not None
    return {"Handshake": _handshake(ctx, org, found)}


# --- policies ------------------------------------------------------------------------------------


def _summary(ctx: CallContext, org: Org, p: dict[str, Any]) -> dict[str, Any]:
    return {"Id": p["policy_id"], "Arn": _policy_arn(ctx, org, p), "Name": p["name"], "Description": p["description"],
            "Type": p["type"], "AwsManaged": bool(p["aws_managed"])}


def _policy(ctx: CallContext, org: Org, policy_id: str) -> dict[str, Any]:
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


def _new_policy(ctx: CallContext, org: Org, inp: Input) -> list[tuple[str, str | None]]:
    # a policy that does not exist yet: authorised on its type's policies in the organization
    kind = str(inp.get("Type", "")).lower()
    return [(_node_arn(ctx, org, "policy", f"{kind}/*"), None)]


def _create_policy_keys(ctx: CallContext, inp: Input) -> dict[str, Any]:
    return {**_type_keys("Type")(ctx, inp), **tag_keys(inp)}


@operation("CreatePolicy", resource=org_resources(DELEGATED, _new_policy, lambda ctx, org, inp: _new_policy(
    ctx, org, inp)[0][0]), keys=_create_policy_keys, write=True,
           service="organizations")
def create_policy(ctx: CallContext, inp: Input) -> Output:
    org = _administered(ctx, DELEGATED)
    kind = inp["Type"]
    tags = tags_in(inp)
    if kind not in SUPPORTED_TYPES:
        raise org_error("PolicyTypeNotAvailableForOrganizationException",
                                 "You can't use the specified policy type with the feature set currently enabled for this organization.")
    _check_content(ctx, kind, inp["Content"])
    oid = org["org_id"]
    if any(p["name"] == inp["Name"] for p in ctx.tx.org_policies(oid, kind)):
        raise org_error("DuplicatePolicyException", "A policy with the same name already exists.")
    if ctx.tx.count_org_policies(oid, kind) >= MAX_POLICIES:
        raise org_error("ConstraintViolationException",
                        "You attempted to exceed the number of policies that you can have in an organization.",
                        "POLICY_NUMBER_LIMIT_EXCEEDED")
    pid = _id("p-", 8)
    ctx.tx.insert_org_policy(oid, pid, kind, inp["Name"], inp.get("Description", ""), inp["Content"], False)
    p = _policy(ctx, org, pid)
    tag_new(ctx, org, pid, tags)
    return {"Policy": {"PolicySummary": _summary(ctx, org, p), "Content": p["content"]}}


@operation("DescribePolicy", resource=org_resources(DELEGATED_READ, _policy_id), keys=_policy_keys, service="organizations")
def describe_policy(ctx: CallContext, inp: Input) -> Output:
    org = _administered(ctx, DELEGATED_READ)
    p = _policy(ctx, org, inp["PolicyId"])
    return {"Policy": {"PolicySummary": _summary(ctx, org, p), "Content": p["content"]}}


@operation("ListPolicies", resource=org_resources(DELEGATED_READ, _anything), keys=_type_keys("Filter"), service="organizations")
def list_policies(ctx: CallContext, inp: Input) -> Output:
    org = _administered(ctx, DELEGATED_READ)
    kind = inp["Filter"]
    rows, meta = paged(ctx, "ListPolicies", inp, lambda after, n: ctx.tx.org_policies(org["org_id"], kind, after, n),
                       lambda p: str(p["policy_id"]), kind)
    return {"Policies": [_summary(ctx, org, p) for p in rows], **meta}


def _target(ctx: CallContext, org: Org, inp: Input) -> list[tuple[str, str | None]]:
    return [(_target_arn(ctx, org, inp["TargetId"]), inp["TargetId"])]


def _no_target() -> OrganizationsError:
    return org_error("TargetNotFoundException", "We can't find a root, OU, account, or policy with the TargetId that you specified.")


@operation("ListPoliciesForTarget", resource=org_resources(DELEGATED_READ, _target), keys=_type_keys("Filter"),
           service="organizations")
def list_policies_for_target(ctx: CallContext, inp: Input) -> Output:
    org = _administered(ctx, DELEGATED_READ)
    target, kind = inp["TargetId"], inp["Filter"]
    if _target_kind(ctx.tx, org, target) is None:
        raise _no_target()
    found = [ctx.tx.org_policy(org["org_id"], pid) for pid in ctx.tx.org_attached(org["org_id"], target)]
    of_kind = [p for p in found if p is not None and p["type"] == kind]
    rows, meta = paged(ctx, "ListPoliciesForTarget", inp, in_order(of_kind, lambda p: str(p["policy_id"])),
                       lambda p: str(p["policy_id"]), target, kind)
    return {"Policies": [_summary(ctx, org, p) for p in rows], **meta}


def _attachment(ctx: CallContext, inp: Input) -> tuple[Org, dict[str, Any], str]:
    org = _administered(ctx, DELEGATED)
    p = _policy(ctx, org, inp["PolicyId"])
    target = inp["TargetId"]
    if _target_kind(ctx.tx, org, target) is None:
        raise _no_target()
    return org, p, target


def _of_type(tx: Tx, org: Org, target: str, kind: str) -> list[str]:
    out = []
    for pid in tx.org_attached(org["org_id"], target):
        p = tx.org_policy(org["org_id"], pid)
        if p is not None and p["type"] == kind:
            out.append(pid)
    return out


@operation("AttachPolicy", resource=org_resources(DELEGATED, _policy_and_target), keys=_policy_keys, write=True,
           service="organizations")
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


@operation("DetachPolicy", resource=org_resources(DELEGATED, _policy_and_target), keys=_policy_keys, write=True,
           service="organizations")
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


# --- trusted access (issue 14: IAM's centralized root access needs it for iam.amazonaws.com) ----------------------
# API_EnableAWSServiceAccess.html, API_DisableAWSServiceAccess.html ("You can only call this operation from the
# management account"), API_ListAWSServiceAccessForOrganization.html (the management account or a delegated
# administrator); trusted access needs all features (orgs_integrate_services.html). Enabling it again, or disabling
# a service that has none, changes nothing.

_SERVICE_PRINCIPAL = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*\.amazonaws\.com\Z")


def _service_principal(inp: Input) -> str:
    principal = str(inp["ServicePrincipal"])
    if not _SERVICE_PRINCIPAL.match(principal):
        raise org_error("InvalidInputException", "You specified a service principal that isn't recognized.",
                        "UNRECOGNIZED_SERVICE_PRINCIPAL")
    return principal


def _principal_keys(ctx: CallContext, inp: Input) -> dict[str, Any]:
    return {"organizations:ServicePrincipal": inp["ServicePrincipal"]}


@operation("EnableAWSServiceAccess", resource=org_resources(MANAGEMENT, _anything), keys=_principal_keys, write=True,
           service="organizations")
def enable_aws_service_access(ctx: CallContext, inp: Input) -> Output:
    org = _managed(ctx)
    principal = _service_principal(inp)
    if org["feature_set"] != "ALL":
        raise org_error("ConstraintViolationException", "Trusted access requires an organization with all features "
                        "enabled.", "ORGANIZATION_NOT_IN_ALL_FEATURES_MODE")
    if principal not in {r["service_principal"] for r in ctx.tx.org_service_access(org["org_id"])}:
        try:
            ctx.tx.enable_org_service_access(org["org_id"], principal, ctx.now)
        except Duplicate:
            pass  # enabled by another request meanwhile: enabled, as asked
    return None


@operation("DisableAWSServiceAccess", resource=org_resources(MANAGEMENT, _anything), keys=_principal_keys, write=True,
           service="organizations")
def disable_aws_service_access(ctx: CallContext, inp: Input) -> Output:
    org = _managed(ctx)
    principal = _service_principal(inp)
    ctx.tx.disable_org_service_access(org["org_id"], principal)
    if principal == "iam.amazonaws.com":
        # IAM's centralized root access rests on this trusted access (iam/root_access.py): it ends with it, and
        # does not come back by itself when trusted access is enabled again
        for feature in list(ctx.tx.org_root_features(org["org_id"])):
            ctx.tx.set_org_root_feature(org["org_id"], feature, False)
    return None


@operation("ListAWSServiceAccessForOrganization", resource=org_resources(DELEGATED_READ, _anything),
           service="organizations")
def list_aws_service_access_for_organization(ctx: CallContext, inp: Input) -> Output:
    org = _administered(ctx, DELEGATED_READ)
    rows, meta = paged(ctx, "ListAWSServiceAccessForOrganization", inp,
                       in_order(ctx.tx.org_service_access(org["org_id"]), lambda r: str(r["service_principal"])),
                       lambda r: str(r["service_principal"]))
    return {"EnabledServicePrincipals": [{"ServicePrincipal": r["service_principal"], "DateEnabled": r["enabled_at"]}
                                         for r in rows], **meta}


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


