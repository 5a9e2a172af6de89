"""The partner's side of IAM temporary delegation: picking up the exchange token, and GetDelegatedAccessToken.

AWS references: https://docs.aws.amazon.com/STS/latest/APIReference/API_GetDelegatedAccessToken.html ("Exchanges a
trade-in token for temporary AWS credentials with the permissions associated with the assumed principal";
ExpiredTradeInTokenException), https://docs.aws.amazon.com/IAM/latest/UserGuide/temporary-delegation-building-integration.html
("The delegation period (exchange token validity) begins when the request reaches Finalized state") and
iam.delegation (the lifecycle, and what iamroles decides where AWS does not say).

* The token is good for the request's SessionDuration from the moment it was sent, is exchanged once (a second
  exchange, or one after the period, is ExpiredTradeInTokenException), and only by the partner's own account (a
  token presented by another account is as invalid as an unknown one: InvalidParameterValue). A request rejected or
  expired has no usable token.
* The credentials last until the end of the delegation period, whenever they are asked for, and act as the
  identity that accepted the request (``AssumedPrincipal``: that user's, role's or root's ARN), bounded by the
  request's permission policy as a session policy: never more than that identity may do, never more than the
  customer approved. They are a session of kind ``delegated`` (``sts.limits``: they cannot mint further sessions
  or take part in delegation themselves).
"""
from __future__ import annotations

import json
from typing import Any

from iamroles.errors import ExpiredTradeInToken, InvalidParameterValue, NoSuchEntity
from iamroles.iam.context import CallContext
from iamroles.iam.delegation import FINALIZED, state_of, token_digest
from iamroles.iam.registry import Input, Output, operation

from .sessions import issue

__all__ = ["pick_up"]


def pick_up(ctx: CallContext, request_id: str) -> dict[str, Any]:
    """The exchange token of one of the caller's account's finalized requests, once (iamroles' API stands in for the
    SNS topic AWS publishes it to): authorised as ``iamroles:ReceiveDelegationToken`` on the request's notification
    channel. NoSuchEntity for a request of another account, or whose token was picked up already."""
    from iamroles.iam.authorize import authorize

    req = ctx.tx.delegation_request(request_id, for_update=True)
    if req is None or req["requestor_account"] != ctx.account_id or req["partition"] != ctx.partition:
        raise NoSuchEntity(f"The delegation request with id {request_id} cannot be found.")
    authorize(ctx, "iamroles:ReceiveDelegationToken", req["notification_channel"])
    if req["token_sealed"] is None or state_of(req, ctx.now) != FINALIZED:
        raise NoSuchEntity(f"Delegation request {request_id} has no exchange token waiting.")
    token = ctx.master_key.open(req["token_sealed"], request_id.encode()).decode()
    ctx.tx.update_delegation_request(request_id, FINALIZED, token_sealed=None, updated_at=ctx.now)
    return {"DelegationRequestId": request_id, "TradeInToken": token,
            "NotificationChannel": req["notification_channel"]}


@operation("GetDelegatedAccessToken", resource=lambda ctx, inp: "*", service="sts", write=True)
def get_delegated_access_token(ctx: CallContext, inp: Input) -> Output:
    req = ctx.tx.delegation_request_by_token(token_digest(inp["TradeInToken"]))
    if req is None or req["requestor_account"] != ctx.account_id or req["partition"] != ctx.partition:
        raise InvalidParameterValue("The trade-in token is not valid.")
    end = req["finalized_at"].timestamp() + req["session_duration"] if req["finalized_at"] is not None else 0
    if state_of(req, ctx.now) != FINALIZED or ctx.now.timestamp() >= end:
        raise ExpiredTradeInToken("The trade-in token has expired.")
    if req["exchanged_at"] is not None:
        raise ExpiredTradeInToken("The trade-in token has already been exchanged.")
    approver: dict[str, Any] = json.loads(req["approver"])
    account = req["owner_account"]
    claims: dict[str, Any] = {"policy": req["permission_policy"], "policy_arns": approver.get("policy_arns") or [],
                              "source_identity": approver.get("source_identity")}
    if approver["type"] == "role":
        role = ctx.tx.entity_by_id("role", approver["id"])
        if role is None or role.account_id != account:
            raise InvalidParameterValue("The identity that accepted the delegation request no longer exists.")
        session = req["request_id"][:64]
        claims.update(arn=f"arn:{ctx.partition}:sts::{account}:assumed-role/{role.name}/{session}", user_id=f"{role.id}:{session}",
                      principal_key=role.key, role_arn=role.arn, session_name=session)
        assumed = role.arn
    elif approver["type"] == "user":
        user = ctx.tx.entity_by_id("user", approver["id"])
        if user is None or user.account_id != account:
            raise InvalidParameterValue("The identity that accepted the delegation request no longer exists.")
        claims.update(arn=user.arn, user_id=user.id, principal_key=user.key, issuer_id=user.id)
        assumed = user.arn
    else:
        assumed = f"arn:{ctx.partition}:iam::{account}:root"
        claims.update(arn=assumed, user_id=account, principal_key="")
    credentials, _ = issue(ctx, kind="delegated", duration=int(end - ctx.now.timestamp()), account=account, **claims)
    ctx.tx.update_delegation_request(req["request_id"], FINALIZED, exchanged_at=ctx.now, updated_at=ctx.now)
    return {"Credentials": credentials, "AssumedPrincipal": assumed}
