"""IAM temporary delegation: a partner asks for temporary, limited access to a customer's account; the customer
associates, reviews, accepts (or rejects) the request and releases an exchange token; the partner trades the token
for credentials (``sts.delegation``, GetDelegatedAccessToken).

AWS references: https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies-temporary-delegation.html (the
feature; "root users can only approve delegation requests with a duration of 4 hours or less"),
https://docs.aws.amazon.com/IAM/latest/UserGuide/temporary-delegation-building-integration.html (the request
lifecycle: its states, transitions and expirations), https://docs.aws.amazon.com/IAM/latest/UserGuide/temporary-delegation-policy-templates.html
(policy templates, ``@{parameter}`` substitution, "The final rendered policy has a maximum size limit of 2048
characters"), and the API reference of each operation (API_CreateDelegationRequest.html and siblings).

The lifecycle, as that page draws it::

    UNASSIGNED --Associate--> ASSIGNED --Update--> PENDING_APPROVAL
                                  |                     |
                                  +------Accept---------+--> ACCEPTED --SendDelegationToken--> FINALIZED
                                  |                     |        |
                                  +------Reject---------+--------+--> REJECTED

    every state expires: UNASSIGNED after 1 day, the others 7 days after they were entered (EXPIRED, terminal).

Where AWS's documentation is thin, iamroles decides as follows (and says so here):

* Policy templates are registered by the operator for a partner account (``iamroles accounts delegation-template``),
  as AWS registers them at partner onboarding; an account with none cannot create requests (InvalidInput). Their
  ARNs are ``arn:PARTITION:iam::PARTNER:policy-template/NAME``. A ``String`` parameter is substituted as text
  wherever ``@{Name}`` appears in a string of the template; a ``StringList`` parameter only where a whole string
  is ``@{Name}`` (the list takes its place). The substitution works on the parsed JSON, so a value cannot change
  the document's structure. Every placeholder must be given a value and every value must have a placeholder.
  Conditional statements (the template syntax's second feature) are not supported: a template is refused at
  registration if it is not a policy once substituted.
* Who sees a request: its partner's account; anyone while it has no owner account; afterwards only the owner
  account. Others get NoSuchEntity, as if it did not exist. Every call is authorised by IAM policy against the
  request's ARN in the caller's own account (``arn:PARTITION:iam::ACCOUNT:delegation-request/ID``), with
  ``iam:DelegationRequestOwner`` set once the request has an owner; the owner itself needs no policy to get,
  update or summarise its request ("default permission"). Accepting, rejecting and sending always need one.
* The credentials act as the identity that accepted (the API says IAM "records the details and the state of the
  identity that called this API"): its user, its role (a new session of it, named after the request) or the root,
  bounded by the rendered permission policy as a session policy, and by nothing more than that identity may do.
  A federated user (no identity of its own) and a session carrying an inline session policy (which the delegated
  session could not also carry) cannot accept.
* There is no SNS here: the exchange token is handed to the partner's account through iamroles' own API
  (``POST /iamroles/v1/delegation-token``, ``sts.delegation.pick_up``), once; it is stored only as its SHA-256
  and, until picked up, sealed under the master key.
* There is no console: CreateDelegationRequest answers no ConsoleDeepLink.
* A partner account may create at most :data:`REQUESTS_PER_DAY` requests in 24 hours (LimitExceeded): AWS states
  no quota, and an unbounded one would let any onboarded account fill the store.
"""
from __future__ import annotations

import hashlib
import json
import re
import secrets
from datetime import datetime, timedelta
from typing import Any

from iamroles.errors import EntityAlreadyExists, InvalidInput, LimitExceeded, NoSuchEntity
from iamroles.policy import Arn, PolicyError, PolicyKind, PrincipalType, parse_document
from iamroles.store import Duplicate

from .authorize import authorize, decide
from .common import decode_marker, encode_marker, lock_account, max_items
from .context import CallContext
from .registry import Input, Output, operation

__all__ = ["STATES", "LIFETIMES", "render", "template_arn", "request_arn", "visible_request", "state_of",
           "REQUESTS_PER_DAY", "ROOT_MAX_DURATION", "approver_of", "request_out", "token_digest", "is_owner",
           "permission_check", "placeholders"]

UNASSIGNED, ASSIGNED, PENDING, ACCEPTED, REJECTED, FINALIZED, EXPIRED = (
    "UNASSIGNED", "ASSIGNED", "PENDING_APPROVAL", "ACCEPTED", "REJECTED", "FINALIZED", "EXPIRED")
STATES = (UNASSIGNED, ASSIGNED, PENDING, ACCEPTED, REJECTED, FINALIZED, EXPIRED)
# how long a request stays in a state before it expires (temporary-delegation-building-integration.html)
LIFETIMES = {UNASSIGNED: timedelta(days=1), ASSIGNED: timedelta(days=7), PENDING: timedelta(days=7),
             ACCEPTED: timedelta(days=7), REJECTED: timedelta(days=7), FINALIZED: timedelta(days=7)}
ROOT_MAX_DURATION = 4 * 3600  # "root users can only approve delegation requests with a duration of 4 hours or less"
MAX_RENDERED = 2048  # "The final rendered policy has a maximum size limit of 2048 characters"
REQUESTS_PER_DAY = 1000
TEMPLATE_NAME = re.compile(r"^[\w+=,.@-]{1,128}$")
_PLACEHOLDER = re.compile(r"@\{([^{}]*)\}")
_SNS_TOPIC = re.compile(r"^arn:(?P<partition>[a-z-]+):sns:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):(?P<name>[\w-]{1,256})$")


def token_digest(token: str) -> str:
    """What is kept of a trade-in token to find its request by: its SHA-256 (a bearer secret is never stored)."""
    return hashlib.sha256(token.encode()).hexdigest()


def template_arn(partition: str, account_id: str, name: str) -> str:
    return f"arn:{partition}:iam::{account_id}:policy-template/{name}"


def request_arn(ctx: CallContext, request_id: str) -> str:
    """The request's ARN as the caller's account sees it (each party authorises it in its own account)."""
    return ctx.arn(f"delegation-request/{request_id}")


def state_of(req: dict[str, Any], now: datetime) -> str:
    """The request's state now: any state but EXPIRED ends at its expiration time."""
    return EXPIRED if req["state"] != EXPIRED and now >= req["expires_at"] else str(req["state"])


# -- policy templates ----------------------------------------------------------------------------
def _substitute(value: Any, params: dict[str, tuple[str, list[str]]], used: set[str]) -> Any:
    if isinstance(value, dict):
        return {k: _substitute(v, params, used) for k, v in value.items()}
    if isinstance(value, list):
        out: list[Any] = []
        for item in value:
            whole = _PLACEHOLDER.fullmatch(item) if isinstance(item, str) else None
            if whole is not None and whole.group(1) in params and params[whole.group(1)][0] == "stringList":
                used.add(whole.group(1))
                out.extend(params[whole.group(1)][1])
            else:
                out.append(_substitute(item, params, used))
        return out
    if isinstance(value, str):
        whole = _PLACEHOLDER.fullmatch(value)
        if whole is not None and whole.group(1) in params and params[whole.group(1)][0] == "stringList":
            used.add(whole.group(1))
            return list(params[whole.group(1)][1])

        def one(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in params:
                raise InvalidInput(f"The policy template needs a value for parameter {name[:256]}.")
            kind, values = params[name]
            if kind == "stringList":
                raise InvalidInput(f"The stringList parameter {name} can only stand for a whole value of the policy template.")
            used.add(name)
            return values[0]

        return _PLACEHOLDER.sub(one, value)
    return value


def placeholders(document: str) -> set[str]:
    return set(_PLACEHOLDER.findall(document))


def render(template: str, parameters: list[dict[str, Any]]) -> str:
    """The permission policy: the template with the request's parameters substituted (InvalidInput for a parameter
    missing, unused, given twice or of the wrong shape, or a result that is no identity policy or is longer than
    :data:`MAX_RENDERED`)."""
    params: dict[str, tuple[str, list[str]]] = {}
    for p in parameters:
        name, values, kind = p.get("Name"), list(p.get("Values") or []), p.get("Type") or "string"
        if not name:
            raise InvalidInput("Each policy parameter needs a Name.")
        if name in params:
            raise InvalidInput(f"The policy parameter {name} is given more than once.")
        if kind == "string" and len(values) != 1:
            raise InvalidInput(f"The string policy parameter {name} takes exactly one value.")
        if kind == "stringList" and not values:
            raise InvalidInput(f"The stringList policy parameter {name} takes at least one value.")
        params[name] = (kind, values)
    try:
        doc = json.loads(template)
    except ValueError:
        raise InvalidInput("The policy template is not JSON.") from None
    used: set[str] = set()
    rendered = json.dumps(_substitute(doc, params, used), separators=(",", ":"))
    unused = sorted(set(params) - used)
    if unused:
        raise InvalidInput(f"The policy template has no parameter {unused[0]}.")
    if len(rendered) > MAX_RENDERED:
        raise InvalidInput(f"The rendered permission policy has {len(rendered)} characters; at most {MAX_RENDERED} are allowed.")
    try:
        parse_document(rendered, PolicyKind.IDENTITY)
    except PolicyError as err:
        raise InvalidInput(f"The rendered permission policy is not a valid policy: {err}") from None
    return rendered


def _boundaries(permission_policy: str) -> list[str]:
    """RolePermissionRestrictionArns: the permissions boundaries the policy requires of the roles it lets the
    partner create (the values of ``iam:PermissionsBoundary`` in statements that allow iam:CreateRole)."""
    found: list[str] = []
    doc = parse_document(permission_policy, PolicyKind.IDENTITY)
    for st in doc.statements:
        if st.effect != "Allow" or st.not_action:
            continue
        if not any(re.fullmatch(re.escape(a).replace(r"\*", ".*").replace(r"\?", "."), "iam:CreateRole", re.IGNORECASE)
                   for a in st.actions):
            continue
        for clause in st.conditions:
            if clause.key.lower() == "iam:permissionsboundary":
                found.extend(v for v in clause.values if v not in found)
    return found


# -- who sees a request, who may do what ------------------------------------------------------------
def visible_request(ctx: CallContext, request_id: str, for_update: bool = False) -> dict[str, Any]:
    """The request, if the caller's account may see it at all; else NoSuchEntity (whether it exists is not said)."""
    req = ctx.tx.delegation_request(request_id, for_update=for_update)
    if req is None or req["partition"] != ctx.partition or not (
            ctx.account_id == req["requestor_account"] or req["owner_account"] in (None, ctx.account_id)):
        raise NoSuchEntity(f"The delegation request with id {request_id} cannot be found.")
    return req


def _owned_by_caller_account(ctx: CallContext, req: dict[str, Any]) -> None:
    """The customer's operations: only an identity of the request's owner account (others: NoSuchEntity)."""
    if req["owner_account"] != ctx.account_id:
        raise NoSuchEntity(f"The delegation request with id {req['request_id']} cannot be found.")


def is_owner(ctx: CallContext, req: dict[str, Any]) -> bool:
    return req["owner_id"] is not None and req["owner_id"] == str(ctx.caller.principal.arn) \
        and req["owner_account"] == ctx.account_id


def _authorize(ctx: CallContext, action: str, req: dict[str, Any], owner_default: bool = False) -> None:
    if owner_default and is_owner(ctx, req):
        return  # the owner's default permission
    keys = {"iam:DelegationRequestOwner": req["owner_id"]} if req["owner_id"] else None
    authorize(ctx, action, request_arn(ctx, req["request_id"]), keys)


def _in_state(ctx: CallContext, req: dict[str, Any], allowed: tuple[str, ...], action: str) -> str:
    state = state_of(req, ctx.now)
    if state not in allowed:
        raise InvalidInput(f"The delegation request {req['request_id']} is {state}: it cannot be {action}.")
    return state


def _move(ctx: CallContext, req: dict[str, Any], state: str, **values: Any) -> None:
    """Write the request's next state; ConcurrentModification (through the registry's conflict answer) if
    another request moved it first."""
    from iamroles.store import Conflict

    if not ctx.tx.update_delegation_request(req["request_id"], req["state"], state=state, updated_at=ctx.now, **values):
        raise Conflict(f"delegation request {req['request_id']} changed meanwhile")


def request_out(req: dict[str, Any], now: datetime) -> dict[str, Any]:
    out: dict[str, Any] = {
        "DelegationRequestId": req["request_id"],
        "OwnerAccountId": req["owner_account"],
        "Description": req["description"],
        "RequestMessage": req["request_message"],
        "Permissions": {"PolicyTemplateArn": req["template_arn"], "Parameters": json.loads(req["parameters"])},
        "PermissionPolicy": req["permission_policy"],
        "RolePermissionRestrictionArns": _boundaries(req["permission_policy"]),
        "OwnerId": req["owner_id"],
        "ApproverId": req["approver_id"],
        "State": state_of(req, now),
        "ExpirationTime": req["expires_at"],
        "RequestorId": req["requestor_account"],
        "RequestorName": req["requestor_account"],
        "CreateDate": req["created_at"],
        "SessionDuration": req["session_duration"],
        "RedirectUrl": req["redirect_url"],
        "Notes": req["notes"],
        "RejectionReason": req["rejection_reason"],
        "OnlySendByOwner": req["only_send_by_owner"],
        "UpdatedTime": req["updated_at"],
    }
    return {k: v for k, v in out.items() if v is not None}


# -- the operations ---------------------------------------------------------------------------------
@operation("CreateDelegationRequest", resource=None, write=True)
def create_delegation_request(ctx: CallContext, inp: Input) -> Output:
    permissions = inp["Permissions"]
    arn = permissions.get("PolicyTemplateArn")
    if not arn:
        raise InvalidInput("Permissions.PolicyTemplateArn is required.")
    topic = _SNS_TOPIC.match(inp["NotificationChannel"])
    if topic is None or topic["partition"] != ctx.partition or topic["account"] != ctx.account_id:
        raise InvalidInput("NotificationChannel must be an Amazon SNS topic ARN of the requesting account.")
    owner_account = inp.get("OwnerAccountId")
    request_id = "dr-" + secrets.token_hex(16)
    keys = {"iam:TemplateArn": arn, "iam:DelegationDuration": str(inp["SessionDuration"]),
            "iam:NotificationChannel": inp["NotificationChannel"]}
    authorize(ctx, "iam:CreateDelegationRequest", request_arn(ctx, request_id), keys)
    template = ctx.tx.delegation_template(arn)
    if template is None or template["account_id"] != ctx.account_id or not arn.startswith(f"arn:{ctx.partition}:"):
        raise InvalidInput(f"The policy template {arn} is not registered for account {ctx.account_id}.")
    parameters = list(permissions.get("Parameters") or [])
    policy = render(template["document"], parameters)
    lock_account(ctx)  # one create at a time per partner: the count below sees every earlier one
    if ctx.tx.count_delegation_requests(ctx.account_id, ctx.now - timedelta(days=1)) >= REQUESTS_PER_DAY:
        raise LimitExceeded(f"Cannot exceed quota for DelegationRequestsPerDay: {REQUESTS_PER_DAY}")
    workflow = inp["RequestorWorkflowId"]
    try:
        ctx.tx.insert_delegation_request(
            request_id=request_id, partition=ctx.partition, requestor_account=ctx.account_id,
            requestor_arn=str(ctx.caller.principal.arn), workflow_id=workflow, owner_account=owner_account, owner_id=None,
            state=UNASSIGNED, description=inp["Description"], request_message=inp.get("RequestMessage"), template_arn=arn,
            parameters=json.dumps([{k: v for k, v in p.items()} for p in parameters]), permission_policy=policy,
            redirect_url=inp.get("RedirectUrl"), notification_channel=inp["NotificationChannel"],
            session_duration=inp["SessionDuration"], only_send_by_owner=bool(inp.get("OnlySendByOwner")),
            created_at=ctx.now, updated_at=ctx.now, expires_at=ctx.now + LIFETIMES[UNASSIGNED])
    except Duplicate:
        raise EntityAlreadyExists(f"A delegation request with RequestorWorkflowId {workflow} already exists.") from None
    return {"DelegationRequestId": request_id}


@operation("GetDelegationRequest", resource=None)
def get_delegation_request(ctx: CallContext, inp: Input) -> Output:
    req = visible_request(ctx, inp["DelegationRequestId"])
    _authorize(ctx, "iam:GetDelegationRequest", req, owner_default=True)
    out: dict[str, Any] = {"DelegationRequest": request_out(req, ctx.now)}
    if inp.get("DelegationPermissionCheck"):
        out["PermissionCheckStatus"] = "COMPLETE"
        out["PermissionCheckResult"] = permission_check(ctx, req["permission_policy"])
    return out


def permission_check(ctx: CallContext, permission_policy: str) -> str:
    """Whether the caller's own policies allow what the permission policy asks for: DENIED if some action on some
    resource it names is denied; UNSURE where that cannot be told from the names alone (wildcard actions, NotAction,
    NotResource, conditions); else ALLOWED. Approximate, as AWS says its own check is."""
    doc = parse_document(permission_policy, PolicyKind.IDENTITY)
    unsure = False
    for st in doc.statements:
        if st.effect != "Allow":
            continue
        if st.not_action or st.not_resource or st.conditions:
            unsure = True
        for action in st.actions:
            if "*" in action or "?" in action:
                unsure = True
                continue
            for resource in st.resources or ("*",):
                if not decide(ctx, action, resource).allowed:
                    return "DENIED"
    return "UNSURE" if unsure else "ALLOWED"


@operation("ListDelegationRequests", resource=None)
def list_delegation_requests(ctx: CallContext, inp: Input) -> Output:
    """The requests the caller's account owns (a request with no owner is not listed, even when it names the
    account: API_ListDelegationRequests), by id; ``OwnerId``: only that owner's."""
    owner = inp.get("OwnerId")
    if owner is not None and Arn.maybe(owner) is None:
        raise InvalidInput(f"OwnerId {owner} is not an ARN.")
    authorize(ctx, "iam:ListDelegationRequests", "*", {"iam:DelegationRequestOwner": owner} if owner else None)
    after = decode_marker("ListDelegationRequests", inp.get("Marker"))
    limit = max_items(inp)
    rows = [r for r in ctx.tx.delegation_requests(owner_account=ctx.account_id, owner_id=owner,
                                                  after=after[0] if after else None, limit=limit + 1)
            if r["partition"] == ctx.partition]
    out: dict[str, Any] = {"DelegationRequests": [request_out(r, ctx.now) for r in rows[:limit]],
                           "isTruncated": len(rows) > limit}
    if len(rows) > limit:
        out["Marker"] = encode_marker("ListDelegationRequests", [rows[limit]["request_id"]])
    return out


@operation("AssociateDelegationRequest", resource=None, write=True)
def associate_delegation_request(ctx: CallContext, inp: Input) -> Output:
    req = visible_request(ctx, inp["DelegationRequestId"], for_update=True)
    if req["owner_account"] not in (None, ctx.account_id):  # the partner itself, for a request naming another account
        raise NoSuchEntity(f"The delegation request with id {req['request_id']} cannot be found.")
    _authorize(ctx, "iam:AssociateDelegationRequest", req)
    _in_state(ctx, req, (UNASSIGNED,), "associated")
    _move(ctx, req, ASSIGNED, owner_account=ctx.account_id, owner_id=str(ctx.caller.principal.arn),
          expires_at=ctx.now + LIFETIMES[ASSIGNED])
    return None


@operation("UpdateDelegationRequest", resource=None, write=True)
def update_delegation_request(ctx: CallContext, inp: Input) -> Output:
    req = visible_request(ctx, inp["DelegationRequestId"], for_update=True)
    _owned_by_caller_account(ctx, req)
    _authorize(ctx, "iam:UpdateDelegationRequest", req, owner_default=True)
    state = _in_state(ctx, req, (ASSIGNED, PENDING), "updated")
    values: dict[str, Any] = {}
    if inp.get("Notes") is not None:
        values["notes"] = inp["Notes"]
    if state == ASSIGNED:  # forwarded for approval: the pending state's 7 days start now
        values["expires_at"] = ctx.now + LIFETIMES[PENDING]
    _move(ctx, req, PENDING, **values)
    return None


def approver_of(ctx: CallContext, req: dict[str, Any]) -> dict[str, Any]:
    """The identity the delegated credentials will act as (see the module's docstring)."""
    caller = ctx.caller
    session = caller.session
    principal = caller.principal
    if principal.type is PrincipalType.FEDERATED_USER:
        raise InvalidInput("A federated user has no identity of its own to delegate: accept as an IAM user or role.")
    if session is not None and session.policy:
        raise InvalidInput("Credentials that carry an inline session policy cannot accept a delegation request.")
    if caller.is_root and req["session_duration"] > ROOT_MAX_DURATION:
        raise InvalidInput(f"The root user can only accept delegation requests of {ROOT_MAX_DURATION} seconds or less.")
    approver: dict[str, Any] = {"arn": str(principal.arn)}
    if caller.role_key is not None:
        role = ctx.tx.entity("role", ctx.account_id, caller.role_key)
        assert role is not None  # a role session's role exists (its sessions end with it)
        approver.update(type="role", key=role.key, id=role.id, name=role.name, role_arn=role.arn)
    elif caller.user_key is not None:
        user = ctx.tx.entity("user", ctx.account_id, caller.user_key)
        assert user is not None
        approver.update(type="user", key=user.key, id=user.id, arn=user.arn)
    else:
        approver.update(type="root", key="", id=ctx.account_id)
    if session is not None:
        if session.source_identity:
            approver["source_identity"] = session.source_identity
        if session.policy_arns:
            approver["policy_arns"] = list(session.policy_arns)
    return approver


@operation("AcceptDelegationRequest", resource=None, write=True)
def accept_delegation_request(ctx: CallContext, inp: Input) -> Output:
    req = visible_request(ctx, inp["DelegationRequestId"], for_update=True)
    _owned_by_caller_account(ctx, req)
    _authorize(ctx, "iam:AcceptDelegationRequest", req)
    _in_state(ctx, req, (ASSIGNED, PENDING), "accepted")
    approver = approver_of(ctx, req)
    _move(ctx, req, ACCEPTED, approver_id=approver["arn"], approver=json.dumps(approver),
          expires_at=ctx.now + LIFETIMES[ACCEPTED])
    return None


@operation("RejectDelegationRequest", resource=None, write=True)
def reject_delegation_request(ctx: CallContext, inp: Input) -> Output:
    """ "Once a request is rejected, it cannot be accepted or updated later. Rejected requests expire after 7 days";
    an accepted request may be rejected until its token is sent (API_RejectDelegationRequest)."""
    req = visible_request(ctx, inp["DelegationRequestId"], for_update=True)
    _owned_by_caller_account(ctx, req)
    _authorize(ctx, "iam:RejectDelegationRequest", req)
    _in_state(ctx, req, (ASSIGNED, PENDING, ACCEPTED), "rejected")
    _move(ctx, req, REJECTED, rejection_reason=inp.get("Notes"), expires_at=ctx.now + LIFETIMES[REJECTED])
    return None


@operation("SendDelegationToken", resource=None, write=True)
def send_delegation_token(ctx: CallContext, inp: Input) -> Output:
    """ACCEPTED -> FINALIZED: the trade-in token is made (kept as its SHA-256, and sealed for the partner's pick-up),
    and the delegation period (``SessionDuration``) starts now."""
    req = visible_request(ctx, inp["DelegationRequestId"], for_update=True)
    _owned_by_caller_account(ctx, req)
    if req["only_send_by_owner"] and not is_owner(ctx, req):
        raise InvalidInput(f"Only the owner of delegation request {req['request_id']} may send its token.")
    _authorize(ctx, "iam:SendDelegationToken", req)
    _in_state(ctx, req, (ACCEPTED,), "finalized")
    token = secrets.token_urlsafe(48)  # (only the partner ever sees it, when it picks it up)
    digest, sealed = token_digest(token), ctx.master_key.seal(token.encode(), req["request_id"].encode())
    _move(ctx, req, FINALIZED, token_hash=digest, token_sealed=sealed, finalized_at=ctx.now,
          expires_at=ctx.now + LIFETIMES[FINALIZED])
    return None
