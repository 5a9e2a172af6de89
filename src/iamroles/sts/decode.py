"""Encoded authorization failure messages and DecodeAuthorizationMessage.

https://docs.aws.amazon.com/STS/latest/APIReference/API_DecodeAuthorizationMessage.html:
a denial's details can be privileged, so services hand the caller an
encoded message; a principal allowed ``sts:DecodeAuthorizationMessage``
decodes it into: whether an explicit deny or the absence of an allow denied
the request, the principal, the action, the resource, and the values of the
condition keys in the request's context.

Here the message is the decision sealed (AES-GCM) under the master key, so
no one can read or forge one without the server; it names the accounts
that may decode it (the principal's and the resource's) and expires after
:data:`LIFETIME`. iamroles' own authorisation API and middleware return one
with every denial, as AWS services such as EC2 do; IAM's and STS's own
AccessDenied messages keep AWS's exact wording.
"""
from __future__ import annotations

import base64
import json
import zlib
from typing import Any

from iamroles.errors import InvalidAuthorizationMessage
from iamroles.iam.authorize import authorize
from iamroles.iam.context import CallContext
from iamroles.iam.registry import Input, Output, operation
from iamroles.policy import Decision, Effect
from iamroles.tokens import MasterKey

__all__ = ["decoded_document", "encode_decision", "open_message", "LIFETIME"]

LIFETIME = 24 * 3600  # seconds an encoded message can be decoded
MAX_ENCODED = 10240  # encodedMessageType's length limit in the STS model
_AAD = b"iamroles/authorization-message/v1"


def decoded_document(decision: Decision) -> dict[str, Any]:
    """The decision as the decoded message describes it (the shape AWS's decoded messages have)."""
    r = decision.request
    p = r.principal
    conditions = [
        {"key": key, "values": {"items": [{"value": v} for v in (value if isinstance(value, tuple) else (value,))]}}
        for key, value in sorted(r.full_context().items())
    ]
    return {
        "allowed": decision.allowed,
        "explicitDeny": decision.effect is Effect.EXPLICIT_DENY,
        "deniedBy": decision.denied_by.value if decision.denied_by is not None else None,
        "matchedStatements": {"items": [
            {"statementId": m.sid or "", "effect": m.effect, "policy": m.policy, "policyType": m.policy_type.value, "index": m.index}
            for m in decision.matches
        ]},
        "failures": {"items": []},
        "context": {
            "principal": {"id": p.user_id or p.account or "", "arn": p.arn or p.service or p.federated or "anonymous"},
            "action": r.action,
            "resource": r.resource,
            "conditions": {"items": conditions},
        },
    }


def encode_decision(master_key: MasterKey, decision: Decision, now: int) -> str:
    """The decision sealed for DecodeAuthorizationMessage (at most 10240 characters, as the model allows)."""
    doc = decoded_document(decision)
    accounts = sorted({a for a in (decision.request.principal.account, decision.request.resource_account) if a})
    while True:
        payload = json.dumps({"m": doc, "a": accounts, "e": now + LIFETIME}, separators=(",", ":")).encode()
        sealed = master_key.seal(zlib.compress(payload, 6), _AAD)
        encoded = base64.urlsafe_b64encode(sealed).decode().rstrip("=")
        items = doc["context"]["conditions"]["items"]
        if len(encoded) <= MAX_ENCODED or not items:
            return encoded
        del items[len(items) // 2 :]  # too many context values: keep the first half


def open_message(master_key: MasterKey, encoded: str, account_id: str, now: int) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        data = json.loads(zlib.decompress(master_key.open(raw, _AAD)))
    except Exception:  # noqa: BLE001  (bad base64, InvalidTag, bad zlib or JSON: not one of ours)
        raise InvalidAuthorizationMessage("The message is not a valid encoded authorization message.") from None
    if now >= int(data["e"]):
        raise InvalidAuthorizationMessage("The encoded authorization message has expired.")
    if account_id not in data["a"]:
        # the message belongs to the accounts of the principal and the resource
        raise InvalidAuthorizationMessage("The message is not a valid encoded authorization message.")
    return dict(data["m"])


@operation("DecodeAuthorizationMessage", resource=None, service="sts")
def decode_authorization_message(ctx: CallContext, inp: Input) -> Output:
    authorize(ctx, "sts:DecodeAuthorizationMessage", "*")
    doc = open_message(ctx.master_key, inp["EncodedMessage"], ctx.account_id, int(ctx.now.timestamp()))
    return {"DecodedMessage": json.dumps(doc, separators=(",", ":"))}
