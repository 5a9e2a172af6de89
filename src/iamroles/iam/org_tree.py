"""AWS Organizations (issue 17): the tree of OUs and accounts, accounts created in it or leaving it, invitations, and
the organization's end.

- OUs: DescribeOrganizationalUnit, UpdateOrganizationalUnit (a name unique among its siblings), DeleteOrganizationalUnit
  (only an empty one: OrganizationalUnitNotEmptyException), and the tree's navigation: ListParents, ListChildren,
  ListAccountsForParent (API_<Op>.html of each).
- CreateAccount (https://docs.aws.amazon.com/organizations/latest/APIReference/API_CreateAccount.html) makes an
  iamroles account in the management account's partition, a member of the root that joined by being CREATED, with
  the role AWS makes in it ("Organizations preconfigures the new member account with a role (named
  OrganizationAccountAccessRole by default) that grants users in the management account administrator permissions in
  the new member account": trusting the management account, with AdministratorAccess,
  orgs_manage_accounts_create-cross-account-role.html). It has no root credentials: the management account reaches it
  through that role. AWS creates accounts asynchronously; here the request is done when CreateAccount answers, and
  its status (DescribeCreateAccountStatus, ListCreateAccountStatus) says SUCCEEDED, or FAILED with AWS's reason (an
  e-mail address another account has: EMAIL_ALREADY_EXISTS; the organization's quota of accounts:
  ACCOUNT_LIMIT_EXCEEDED).
- RemoveAccountFromOrganization and LeaveOrganization: the account becomes standalone, its tags in the organization
  are deleted; the management account cannot leave (MasterCannotLeaveOrganizationException), a delegated
  administrator must be deregistered first (CANNOT_REMOVE_DELEGATED_ADMINISTRATOR_FROM_ORG), and an account the
  organization created waits four days before it may leave by itself (WAIT_PERIOD_ACTIVE, API_LeaveOrganization.html).
  SCPs apply to LeaveOrganization like to anything else a member's principal does.
- DeleteOrganization: only the management account, only with no member left (OrganizationNotEmptyException).
- Handshakes: DescribeHandshake (to the account invited and the organization that sent it), DeclineHandshake (by the
  account invited), CancelHandshake (by the sender), ListHandshakesForAccount (what the caller's account received),
  ListHandshakesForOrganization (what the organization sent); answered ones are shown for 30 days
  (API_ListHandshakesForAccount.html).
"""
from __future__ import annotations

import json
import secrets
from datetime import timedelta
from typing import Any

from iamroles.store import Account, Duplicate, Role
from iamroles.tokens import new_unique_id

from .context import CallContext
from .organizations import (
    DELEGATED_READ,
    MANAGEMENT,
    Org,
    _account,
    _account_id,
    _administered,
    _anything,
    _give_full_access,
    _handshake,
    _id,
    _is_parent,
    _managed,
    _member,
    _membership,
    _no_handshake,
    _no_parent,
    _node_arn,
    _ou,
    _parent,
    _target_arn,
    accounts_limit,
    answerable,
    check_transition,
    handshake_resource,
    handshake_state,
    in_order,
    org_error,
    org_resources,
    paged,
    tag_new,
    tags_in,
)
from .registry import Input, Output, operation

__all__ = ["ACCESS_ROLE", "ADMINISTRATOR_ACCESS", "LEAVE_WAIT"]

ACCESS_ROLE = "OrganizationAccountAccessRole"
ADMINISTRATOR_ACCESS = "arn:aws:iam::aws:policy/AdministratorAccess"
LEAVE_WAIT = timedelta(days=4)  # a created account's waiting period before it may leave (API_LeaveOrganization)
SHOWN_AFTER = timedelta(days=30)  # answered handshakes are shown for 30 days


# --- organizational units ------------------------------------------------------------------------


def _ou_id(ctx: CallContext, org: Org, inp: Input) -> list[tuple[str, str | None]]:
    return [(_target_arn(ctx, org, inp["OrganizationalUnitId"]), inp["OrganizationalUnitId"])]


def _unit(ctx: CallContext, org: Org, ou_id: str) -> dict[str, Any]:
    unit = ctx.tx.org_unit(org["org_id"], ou_id)
    if unit is None:
        raise org_error("OrganizationalUnitNotFoundException", "We can't find an OU with the OrganizationalUnitId that you specified.")
    return unit


@operation("DescribeOrganizationalUnit", resource=org_resources(DELEGATED_READ, _ou_id), service="organizations")
def describe_organizational_unit(ctx: CallContext, inp: Input) -> Output:
    org = _administered(ctx, DELEGATED_READ)
    return {"OrganizationalUnit": _ou(ctx, org, _unit(ctx, org, inp["OrganizationalUnitId"]))}


@operation("UpdateOrganizationalUnit", resource=org_resources(MANAGEMENT, _ou_id), write=True, service="organizations")
def update_organizational_unit(ctx: CallContext, inp: Input) -> Output:
    """Renames an OU ("The ID and ARN don't change"); a name another OU of the same parent has is
    DuplicateOrganizationalUnitException (API_UpdateOrganizationalUnit.html)."""
    org = _managed(ctx)
    unit = _unit(ctx, org, inp["OrganizationalUnitId"])
    name = inp.get("Name")
    if name is not None and name != unit["name"]:
        if any(u["name"] == name for u in ctx.tx.org_units(org["org_id"], unit["parent_id"])):
            raise org_error("DuplicateOrganizationalUnitException", "An OU with the same name already exists.")
        ctx.tx.rename_org_unit(org["org_id"], unit["ou_id"], name)
        unit = {**unit, "name": name}
    return {"OrganizationalUnit": _ou(ctx, org, unit)}


@operation("DeleteOrganizationalUnit", resource=org_resources(MANAGEMENT, _ou_id), write=True, service="organizations")
def delete_organizational_unit(ctx: CallContext, inp: Input) -> Output:
    """"You must first remove all accounts and child OUs from the OU that you want to delete"
    (API_DeleteOrganizationalUnit.html): OrganizationalUnitNotEmptyException otherwise."""
    org = _managed(ctx)
    unit = _unit(ctx, org, inp["OrganizationalUnitId"])
    oid, ou_id = org["org_id"], unit["ou_id"]
    if ctx.tx.org_units(oid, ou_id, limit=1) or ctx.tx.org_accounts(oid, ou_id, limit=1):
        raise org_error("OrganizationalUnitNotEmptyException",
                        "The specified OU is not empty. Move all accounts to another root or to other OUs, remove all "
                        "child OUs, and try the operation again.")
    ctx.tx.delete_org_unit(oid, ou_id)
    return None


def _child(ctx: CallContext, org: Org, inp: Input) -> list[tuple[str, str | None]]:
    return [(_target_arn(ctx, org, inp["ChildId"]), inp["ChildId"])]


@operation("ListParents", resource=org_resources(DELEGATED_READ, _child), service="organizations")
def list_parents(ctx: CallContext, inp: Input) -> Output:
    """The root or OU an account or OU is directly in ("a child can have only a single parent")."""
    org = _administered(ctx, DELEGATED_READ)
    child = inp["ChildId"]
    row = ctx.tx.org_unit(org["org_id"], child) if child.startswith("ou-") else ctx.tx.org_account(org["org_id"], child)
    if row is None:
        raise org_error("ChildNotFoundException", "We can't find an organizational unit (OU) or AWS account with the ChildId that you specified.")
    parent = row["parent_id"]
    item = {"Id": parent, "Type": "ROOT" if parent == org["root_id"] else "ORGANIZATIONAL_UNIT"}
    parents, meta = paged(ctx, "ListParents", inp, in_order([item], lambda p: str(p["Id"])), lambda p: str(p["Id"]), child)
    return {"Parents": parents, **meta}


@operation("ListChildren", resource=org_resources(DELEGATED_READ, _parent), service="organizations")
def list_children(ctx: CallContext, inp: Input) -> Output:
    """The OUs or the accounts (ChildType) directly in a root or OU."""
    org = _administered(ctx, DELEGATED_READ)
    parent, kind = inp["ParentId"], inp["ChildType"]
    if not _is_parent(ctx.tx, org, parent):
        raise _no_parent()
    oid = org["org_id"]
    if kind == "ACCOUNT":
        rows, meta = paged(ctx, "ListChildren", inp, lambda after, n: ctx.tx.org_accounts(oid, parent, after, n),
                           lambda a: str(a["account_id"]), parent, kind)
        children = [{"Id": a["account_id"], "Type": kind} for a in rows]
    else:
        rows, meta = paged(ctx, "ListChildren", inp, lambda after, n: ctx.tx.org_units(oid, parent, after, n),
                           lambda u: str(u["ou_id"]), parent, kind)
        children = [{"Id": u["ou_id"], "Type": kind} for u in rows]
    return {"Children": children, **meta}


@operation("ListAccountsForParent", resource=org_resources(DELEGATED_READ, _parent), service="organizations")
def list_accounts_for_parent(ctx: CallContext, inp: Input) -> Output:
    """The accounts directly in a root or OU ("not in any child OUs")."""
    org = _administered(ctx, DELEGATED_READ)
    parent = inp["ParentId"]
    if not _is_parent(ctx.tx, org, parent):
        raise _no_parent()
    rows, meta = paged(ctx, "ListAccountsForParent", inp,
                       lambda after, n: ctx.tx.org_accounts(org["org_id"], parent, after, n), lambda a: str(a["account_id"]), parent)
    return {"Accounts": [_account(ctx, org, a) for a in rows], **meta}


# --- accounts made by the organization -----------------------------------------------------------


def _status(row: dict[str, Any]) -> dict[str, Any]:
    return {"Id": row["request_id"], "AccountName": row["account_name"], "State": row["state"],
            "RequestedTimestamp": row["requested_at"], "CompletedTimestamp": row["completed_at"],
            "AccountId": row["account_id"], "FailureReason": row["failure_reason"]}


def _access_trust(ctx: CallContext, management: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:{ctx.partition}:iam::{management}:root"}, "Action": "sts:AssumeRole"}]},
        separators=(",", ":"))


def _new_account_id(ctx: CallContext) -> str:
    while True:
        account_id = "".join(secrets.choice("0123456789") for _ in range(12))
        if ctx.tx.account(account_id) is None:
            return account_id


@operation("CreateAccount", resource=org_resources(MANAGEMENT, _anything, lambda ctx, org, inp: _node_arn(ctx, org, "account", "*")),
           keys=lambda ctx, inp: _create_keys(inp),
           write=True, service="organizations")
def create_account(ctx: CallContext, inp: Input) -> Output:
    org = _managed(ctx)
    oid = org["org_id"]
    role_name = inp.get("RoleName") or ACCESS_ROLE
    if role_name.startswith("AWSServiceRoleFor"):
        raise org_error("InvalidInputException", "You provided a role name that isn't valid. A role name can't begin "
                        "with the reserved prefix 'AWSServiceRoleFor'.", "INVALID_ROLE_NAME")
    tags = tags_in(inp)
    request_id = _id("car-", 16)
    name, email = inp["AccountName"], inp["Email"]
    failure = None
    if ctx.tx.org_email_taken(email):
        failure = "EMAIL_ALREADY_EXISTS"
    elif accounts_limit(ctx, org):
        failure = "ACCOUNT_LIMIT_EXCEEDED"
    if failure is not None:
        ctx.tx.insert_org_create_request(request_id, oid, name, "FAILED", None, failure, ctx.now, ctx.now)
    else:
        account_id = _new_account_id(ctx)
        try:
            ctx.tx.insert_account(Account(account_id, ctx.partition, ctx.now))
            ctx.tx.insert_org_account(oid, account_id, org["root_id"], "CREATED", ctx.now, name, email)
        except Duplicate:  # the e-mail address (or the id) taken meanwhile by another organization's request
            raise org_error("ConcurrentModificationException", "AWS Organizations can't complete your request because "
                            "it conflicts with another attempt to modify the same entity. Try again later.") from None
        role = Role(account_id=account_id, name=role_name, id=new_unique_id("AROA"), path="/",
                    arn=f"arn:{ctx.partition}:iam::{account_id}:role/{role_name}", created_at=ctx.now,
                    trust_policy=_access_trust(ctx, org["management_account_id"]), max_session_duration=3600)
        ctx.tx.insert_entity("role", role)
        if ctx.tx.policy(ADMINISTRATOR_ACCESS, for_share=True) is not None:
            ctx.tx.attach(account_id, "role", role.key, ADMINISTRATOR_ACCESS)
        _give_full_access(ctx.tx, org, account_id)
        tag_new(ctx, org, account_id, tags)
        ctx.tx.insert_org_create_request(request_id, oid, name, "SUCCEEDED", account_id, None, ctx.now, ctx.now)
    found = ctx.tx.org_create_requests(oid, request_id)
    return {"CreateAccountStatus": _status(found[0])}


def _create_keys(inp: Input) -> dict[str, Any]:
    from .common import tag_keys

    return tag_keys(inp)


@operation("DescribeCreateAccountStatus", resource=org_resources(DELEGATED_READ, _anything), service="organizations")
def describe_create_account_status(ctx: CallContext, inp: Input) -> Output:
    org = _administered(ctx, DELEGATED_READ)
    found = ctx.tx.org_create_requests(org["org_id"], inp["CreateAccountRequestId"])
    if not found:
        raise org_error("CreateAccountStatusNotFoundException",
                        "We can't find an create account request with the CreateAccountRequestId that you specified.")
    return {"CreateAccountStatus": _status(found[0])}


@operation("ListCreateAccountStatus", resource=org_resources(DELEGATED_READ, _anything), service="organizations")
def list_create_account_status(ctx: CallContext, inp: Input) -> Output:
    org = _administered(ctx, DELEGATED_READ)
    states = sorted(set(inp.get("States") or []))
    rows, meta = paged(ctx, "ListCreateAccountStatus", inp,
                       lambda after, n: ctx.tx.org_create_requests(org["org_id"], None, states, after, n),
                       lambda r: str(r["request_id"]), *states)
    return {"CreateAccountStatuses": [_status(r) for r in rows], **meta}


# --- leaving -------------------------------------------------------------------------------------


def _remove(ctx: CallContext, org: Org, account_id: str) -> None:
    if account_id == org["management_account_id"]:
        raise org_error("MasterCannotLeaveOrganizationException",
                        "You can't remove a management account from an organization. If you want the management account "
                        "to become a member account in another organization, you must first delete the current "
                        "organization of the management account.")
    _member(ctx, org, account_id)
    if ctx.tx.org_delegations(org["org_id"], account_id):
        raise org_error("ConstraintViolationException",
                        "You attempted to remove an account that is registered as a delegated administrator for a service "
                        "integrated with your organization.", "CANNOT_REMOVE_DELEGATED_ADMINISTRATOR_FROM_ORG")
    ctx.tx.remove_org_account(org["org_id"], account_id)


@operation("RemoveAccountFromOrganization", resource=org_resources(MANAGEMENT, _account_id), write=True,
           service="organizations")
def remove_account_from_organization(ctx: CallContext, inp: Input) -> Output:
    org = _managed(ctx)
    _remove(ctx, org, inp["AccountId"])
    return None


@operation("LeaveOrganization", resource=lambda ctx, inp: "*", write=True, service="organizations")
def leave_organization(ctx: CallContext, inp: Input) -> Output:
    """The caller's account leaves ("You can only call from operation from a member account"); an account the
    organization created only four days after it was (WAIT_PERIOD_ACTIVE)."""
    org = _membership(ctx)
    ctx.tx.lock_organization(org["org_id"])
    row = ctx.tx.org_account(org["org_id"], ctx.account_id)
    if (row is not None and ctx.account_id != org["management_account_id"] and row["joined_method"] == "CREATED"
            and ctx.now - row["joined_at"] < LEAVE_WAIT):
        raise org_error("ConstraintViolationException",
                        "After you create an AWS account, you must wait until at least four days after the account was "
                        "created. Invited accounts aren't subject to this waiting period.", "WAIT_PERIOD_ACTIVE")
    _remove(ctx, org, ctx.account_id)
    return None


@operation("DeleteOrganization", resource=lambda ctx, inp: "*", write=True, service="organizations")
def delete_organization(ctx: CallContext, inp: Input) -> Output:
    """"You can delete an organization only by using credentials from the management account. The organization must
    be empty of member accounts" (API_DeleteOrganization.html)."""
    org = _managed(ctx)
    if ctx.tx.count_org_accounts(org["org_id"]) > 1:
        raise org_error("OrganizationNotEmptyException",
                        "The organization isn't empty. To delete an organization, you must first remove all accounts "
                        "except the management account.")
    ctx.tx.delete_organization(org["org_id"], org["management_account_id"])
    return None


# --- handshakes ----------------------------------------------------------------------------------


def _shown(ctx: CallContext, row: dict[str, Any]) -> bool:
    """Open and expired ones, and those answered in the last 30 days (then AWS deletes them)."""
    state = handshake_state(ctx, row)
    if state == "OPEN":
        return True
    since = row["expires_at"] if state == "EXPIRED" else row["updated_at"] or row["created_at"]
    return bool(ctx.now - since < SHOWN_AFTER)


def _filtered(inp: Input) -> bool:
    """Whether the listing's Filter leaves nothing: iamroles' handshakes are all invitations (INVITE) with no parent."""
    f = inp.get("Filter") or {}
    if "ActionType" in f and "ParentHandshakeId" in f:
        raise org_error("InvalidInputException", "You can specify only one filter parameter for the operation.",
                        "MAX_LIMIT_EXCEEDED_FILTER")
    return f.get("ActionType", "INVITE") != "INVITE" or "ParentHandshakeId" in f


def _filter_bind(inp: Input) -> list[str]:
    f = inp.get("Filter") or {}
    return [str(f.get("ActionType", "")), str(f.get("ParentHandshakeId", ""))]


@operation("DescribeHandshake", resource=handshake_resource, service="organizations")
def describe_handshake(ctx: CallContext, inp: Input) -> Output:
    """Shown to the account invited and to the management account of the organization that sent it."""
    row = ctx.tx.org_handshake(inp["HandshakeId"])
    org = ctx.tx.organization(row["org_id"]) if row is not None else None
    if row is None or org is None or ctx.account_id not in (row["account_id"], org["management_account_id"]):
        raise _no_handshake()
    return {"Handshake": _handshake(ctx, org, row)}


@operation("DeclineHandshake", resource=handshake_resource, write=True, service="organizations")
def decline_handshake(ctx: CallContext, inp: Input) -> Output:
    """"Only the account that receives a handshake can call this operation" (API_DeclineHandshake.html)."""
    org, row = answerable(ctx, inp["HandshakeId"], by_recipient=True)
    check_transition(ctx, row, "DECLINED")
    ctx.tx.set_org_handshake_state(row["handshake_id"], org["org_id"], "DECLINED", ctx.now)
    found = ctx.tx.org_handshake(row["handshake_id"])
    assert found is not None
    return {"Handshake": _handshake(ctx, org, found)}


@operation("CancelHandshake", resource=handshake_resource, write=True, service="organizations")
def cancel_handshake(ctx: CallContext, inp: Input) -> Output:
    """"Only the account that sent a handshake can call this operation" (API_CancelHandshake.html): the management
    account of the organization that sent it."""
    org, row = answerable(ctx, inp["HandshakeId"], by_recipient=False)
    check_transition(ctx, row, "CANCELED")
    ctx.tx.set_org_handshake_state(row["handshake_id"], org["org_id"], "CANCELED", ctx.now)
    found = ctx.tx.org_handshake(row["handshake_id"])
    assert found is not None
    return {"Handshake": _handshake(ctx, org, found)}


@operation("ListHandshakesForAccount", resource=lambda ctx, inp: "*", service="organizations")
def list_handshakes_for_account(ctx: CallContext, inp: Input) -> Output:
    """What the caller's account received (an account in no organization too: that is how it sees its invitations)."""
    nothing = _filtered(inp)
    rows = [] if nothing else [r for r in ctx.tx.org_handshakes(account_id=ctx.account_id) if _shown(ctx, r)]
    orgs: dict[str, Org | None] = {}
    for r in rows:
        if r["org_id"] not in orgs:
            orgs[r["org_id"]] = ctx.tx.organization(r["org_id"])
    rows = [r for r in rows if orgs[r["org_id"]] is not None]
    page, meta = paged(ctx, "ListHandshakesForAccount", inp, in_order(rows, lambda r: str(r["handshake_id"])),
                       lambda r: str(r["handshake_id"]), *_filter_bind(inp))
    return {"Handshakes": [_handshake(ctx, orgs[r["org_id"]] or {}, r) for r in page], **meta}


@operation("ListHandshakesForOrganization", resource=org_resources(DELEGATED_READ, _anything), service="organizations")
def list_handshakes_for_organization(ctx: CallContext, inp: Input) -> Output:
    org = _administered(ctx, DELEGATED_READ)
    nothing = _filtered(inp)
    rows = [] if nothing else [r for r in ctx.tx.org_handshakes(org_id=org["org_id"]) if _shown(ctx, r)]
    page, meta = paged(ctx, "ListHandshakesForOrganization", inp, in_order(rows, lambda r: str(r["handshake_id"])),
                       lambda r: str(r["handshake_id"]), *_filter_bind(inp))
    return {"Handshakes": [_handshake(ctx, org, r) for r in page], **meta}
