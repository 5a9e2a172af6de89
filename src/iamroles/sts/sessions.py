"""AssumeRole, GetSessionToken, GetFederationToken, GetAccessKeyInfo.

AWS references (STS API Reference and the IAM User Guide):
https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html,
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_terms-and-concepts.html#iam-term-role-chaining
(chained sessions last at most one hour), id_session-tags.html (session tags,
transitive tags, limits), id_credentials_temp_control-access_monitor.html
(source identity is set once and kept through chaining).
"""
from __future__ import annotations

import json
import math
import zlib
from datetime import UTC
from typing import Any

from iamroles.errors import AccessDenied, InvalidParameterValue, PackedPolicyTooLarge, ValidationError
from iamroles.iam.authorize import decide
from iamroles.iam.common import check_document, same_partition
from iamroles.iam.context import CallContext
from iamroles.iam.mfa import verify_mfa
from iamroles.iam.registry import Input, Output, operation
from iamroles.policy import Arn, PolicyKind, PrincipalType
from iamroles.store import Role
from iamroles.tokens import SessionClaims, account_of_access_key_id, new_access_key_id, new_secret_access_key, seal

__all__ = ["issue"]

CHAINED_MAX = 3600
MAX_POLICY_ARNS = 10
MAX_SESSION_TAGS = 50
# PackedPolicySize: the session's policies and tags, compressed, as a share of
# a fixed budget (AWS does not publish its packing; this keeps its shape:
# a percentage, and PackedPolicyTooLarge above 100).
PACKED_BUDGET = 2048


def _role_from_arn(ctx: CallContext, arn: str) -> Any:
    named = Arn.maybe(arn)
    if named is None or not named.is_iam("role"):
        raise ValidationError(f"{arn} is invalid")
    if named.partition != ctx.partition:
        # a credential of one partition is not valid in another: no role of another partition can be assumed
        # (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_outbound_cross_partition.html)
        return None
    role = ctx.tx.entity("role", named.account, named.name)
    return role if role is not None and role.arn == arn else None


def _packed(policy: str | None, arns: list[str], tags: dict[str, str]) -> int:
    blob = json.dumps([policy or "", arns, sorted(tags.items())], separators=(",", ":")).encode()
    size = len(zlib.compress(blob, 9)) if (policy or arns or tags) else 0
    return math.ceil(100 * size / PACKED_BUDGET)


def _session_policies(ctx: CallContext, inp: Input) -> tuple[str | None, list[str]]:
    policy = inp.get("Policy")
    if policy is not None:
        check_document(policy, PolicyKind.SESSION)
    arns = [p["arn"] for p in inp.get("PolicyArns") or []]
    if len(arns) > MAX_POLICY_ARNS:  # "You can provide up to 10 managed policy ARNs" (API_AssumeRole), before any lookup
        raise ValidationError("1 validation error detected: Value at 'policyArns' failed to satisfy constraint: "
                              f"Member must have length less than or equal to {MAX_POLICY_ARNS}")
    for arn in arns:
        same_partition(ctx, arn)
        found = ctx.tx.policy(arn)
        if found is None or found.account_id not in (ctx.account_id, ctx.aws_owner):
            raise InvalidParameterValue(f"Policy {arn} does not exist or is not attachable.")
    return policy, arns


def issue(ctx: CallContext, *, kind: str, duration: int, arn: str, user_id: str, principal_key: str, account: str,
          role_arn: str | None = None, session_name: str | None = None, policy: str | None = None,
          policy_arns: list[str] | None = None, tags: dict[str, str] | None = None, transitive: tuple[str, ...] = (),
          source_identity: str | None = None, chain_depth: int = 0, mfa_time: int | None = None,
          external_id: str | None = None, issuer_id: str | None = None,
          standing: int | None = None) -> tuple[dict[str, Any], SessionClaims]:
    """Temporary credentials sealed into a session token."""
    issued = int(ctx.now.timestamp())
    claims = SessionClaims(
        kind=kind, account=account, partition=ctx.partition, access_key_id=new_access_key_id("ASIA", account),
        secret=new_secret_access_key(), issued=issued, expires=issued + duration, arn=arn, user_id=user_id,
        principal_key=principal_key, role_arn=role_arn, session_name=session_name, source_identity=source_identity,
        chain_depth=chain_depth, tags=tags or {}, transitive_tag_keys=transitive, policy=policy,
        policy_arns=tuple(policy_arns or ()), mfa_time=mfa_time, source_arn=ctx.caller.principal.arn, external_id=external_id,
        issuer_id=issuer_id, standing=standing,
    )
    token = seal(claims, ctx.keyring.current)
    from datetime import datetime

    credentials = {
        "AccessKeyId": claims.access_key_id,
        "SecretAccessKey": claims.secret,
        "SessionToken": token,
        "Expiration": datetime.fromtimestamp(claims.expires, UTC),
    }
    return credentials, claims


def role_session(ctx: CallContext, inp: Input, role: Role, session_name: str, duration: int, *,
                 tags: dict[str, str] | None = None, **claims: Any) -> dict[str, Any]:
    """A session of ``role``, as AssumeRole, AssumeRoleWithSAML and AssumeRoleWithWebIdentity issue it: the request's
    session policies (PackedPolicyTooLarge past the budget), then the answer's Credentials, AssumedRoleUser and,
    when the session has policies or tags, PackedPolicySize. ``claims``: what else the session carries."""
    tags = tags or {}
    policy, arns = _session_policies(ctx, inp)
    packed = _packed(policy, arns, tags)
    if packed > 100:
        raise PackedPolicyTooLarge(f"Packed policy consumes {packed}% of allotted space, please use smaller policy.")
    credentials, issued = issue(
        ctx, kind="assumed-role", duration=duration, account=role.account_id,
        arn=f"arn:{ctx.partition}:sts::{role.account_id}:assumed-role/{role.name}/{session_name}",
        user_id=f"{role.id}:{session_name}", principal_key=role.key, role_arn=role.arn, session_name=session_name,
        policy=policy, policy_arns=arns, tags=tags, **claims,
    )
    out: dict[str, Any] = {
        "Credentials": credentials,
        "AssumedRoleUser": {"AssumedRoleId": issued.user_id, "Arn": issued.arn},
    }
    if policy or arns or tags:
        out["PackedPolicySize"] = packed
    return out


@operation("AssumeRole", resource=None, service="sts")
def assume_role(ctx: CallContext, inp: Input) -> Output:
    caller = ctx.caller
    principal = caller.principal
    if caller.is_root:
        raise AccessDenied("Roles may not be assumed by root accounts.")
    role_arn = inp["RoleArn"]
    session_name = inp["RoleSessionName"]
    tags = {t["Key"]: t["Value"] for t in inp.get("Tags") or []}
    if len({k.lower() for k in tags}) != len(inp.get("Tags") or []):
        raise InvalidParameterValue("Duplicate tag keys found. Please note that Tag keys are case insensitive.")
    transitive = tuple(inp.get("TransitiveTagKeys") or ())
    for key in transitive:
        if key not in tags:
            raise InvalidParameterValue(f"The specified transitive tag key {key} must be included in the requested tags.")
    parent = caller.session if principal.type is PrincipalType.ASSUMED_ROLE else None
    if parent is not None:  # role chaining: transitive tags carry over and cannot be changed
        # "If you pass a session tag with the same key as an inherited tag, the operation fails" (API_AssumeRole),
        # whatever its value, and tag keys are case-insensitive (id_tags.html)
        inherited = {k.lower(): k for k in parent.transitive_tag_keys}
        for key in tags:
            if key.lower() in inherited:
                raise InvalidParameterValue(f"Cannot override transitive tag key {inherited[key.lower()]}.")
        for key in parent.transitive_tag_keys:
            tags[key] = parent.tags[key]
        transitive = tuple(dict.fromkeys(parent.transitive_tag_keys + transitive))
    if len(tags) > MAX_SESSION_TAGS:
        raise ValidationError(f"1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to {MAX_SESSION_TAGS}")
    source_identity = inp.get("SourceIdentity")
    kept_identity = parent.source_identity if parent is not None else None
    if kept_identity and source_identity and source_identity != kept_identity:
        raise AccessDenied("SourceIdentity cannot be changed once set: it is kept through role chaining.")
    source_identity = source_identity or kept_identity

    mfa_time = caller.session.mfa_time if caller.session is not None else None
    if inp.get("SerialNumber") or inp.get("TokenCode"):
        if not (inp.get("SerialNumber") and inp.get("TokenCode")):
            raise ValidationError("SerialNumber and TokenCode must be given together.")
        mfa_time = verify_mfa(ctx, inp["SerialNumber"], inp["TokenCode"])
    role = _role_from_arn(ctx, role_arn)
    keys: dict[str, Any] = {"sts:RoleSessionName": session_name}
    if mfa_time is not None:
        keys["aws:MultiFactorAuthPresent"] = "true"
        keys["aws:MultiFactorAuthAge"] = str(max(0, int(ctx.now.timestamp()) - mfa_time))
    if inp.get("ExternalId") is not None:
        keys["sts:ExternalId"] = inp["ExternalId"]
    if source_identity:
        keys["sts:SourceIdentity"] = source_identity
    for k, v in tags.items():
        keys[f"aws:RequestTag/{k}"] = v
    if tags:
        keys["aws:TagKeys"] = list(tags)
    if transitive:
        keys["sts:TransitiveTagKeys"] = list(transitive)
    role_account = Arn.parse(role_arn).account
    actions = ["sts:AssumeRole"]
    if tags:
        # the new session is tagged, by the request or by the transitive tags it inherits: either way the role must
        # allow sts:TagSession (id_session-tags.html#id_session-tags_permissions-required). AWS refuses a chained
        # AssumeRole that carries inherited transitive tags into a role whose trust policy does not allow it
        # (aws/eks-pod-identity-agent#80, "We might not be able to add sts:TagSession to trust policy of a role that
        # we don't own"; mattrobinsonsre/terrapod#1546: "is not authorized to perform: sts:TagSession")
        actions.append("sts:TagSession")
    if inp.get("SourceIdentity"):
        actions.append("sts:SetSourceIdentity")
    trust = None
    if role is not None:
        trust = ctx.cache.compiled(role.trust_policy, PolicyKind.TRUST, f"trust:{role.arn}")
    for action in actions:
        # STS words every refusal alike, whichever policy refused and whether the role exists at all: a reason would
        # tell a caller of another account that the role exists and that its trust policy names the caller's account
        # (e.g. "because no identity-based policy allows"), the role enumeration STS does not allow
        # (API_AssumeRole.html errors; observed messages: kubeflow/testing#961, HackTricks' "aws-iam-and-sts-
        # unauthenticated-enum": "if the role exists or not you always get this error")
        if trust is None:
            raise AccessDenied(f"User: {principal.arn} is not authorized to perform: {action} on resource: {role_arn}")
        decision = decide(ctx, action, role_arn, keys, resource_policy=trust, resource_account=role_account,
                          pins=role.trust_pins if role is not None else None)
        if not decision.allowed:
            raise AccessDenied(decision.head())

    assert role is not None
    duration = inp.get("DurationSeconds") or 3600
    if parent is not None and duration > CHAINED_MAX:
        raise ValidationError("The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
    if duration > role.max_session_duration:
        raise ValidationError("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
    out = role_session(ctx, inp, role, session_name, duration, tags=tags, transitive=transitive, source_identity=source_identity,
                       chain_depth=(parent.chain_depth + 1) if parent is not None else 0, mfa_time=mfa_time,
                       external_id=inp.get("ExternalId"))
    if source_identity:
        out["SourceIdentity"] = source_identity
    ctx.role_used = (role.account_id, role.key)
    return out


@operation("GetSessionToken", resource=None, service="sts")
def get_session_token(ctx: CallContext, inp: Input) -> Output:
    caller = ctx.caller  # long-term credentials only: sts.limits refuses every kind of session
    duration = inp.get("DurationSeconds") or 43200
    mfa_time = None
    if inp.get("SerialNumber") or inp.get("TokenCode"):
        if not (inp.get("SerialNumber") and inp.get("TokenCode")):
            raise ValidationError("SerialNumber and TokenCode must be given together.")
        mfa_time = verify_mfa(ctx, inp["SerialNumber"], inp["TokenCode"])
    if caller.is_root:
        # the root's sessions last at most an hour (API_GetSessionToken.html)
        credentials, _ = issue(ctx, kind="session-token", duration=min(duration, 3600), account=ctx.account_id,
                               arn=str(caller.principal.arn), user_id=ctx.account_id, principal_key="")
        return {"Credentials": credentials}
    user = ctx.tx.entity("user", ctx.account_id, caller.user_key or "")
    assert user is not None, "a caller that is neither root nor a role session is a user whose key resolved"
    credentials, _ = issue(ctx, kind="session-token", duration=duration, account=ctx.account_id, arn=user.arn,
                           user_id=user.id, principal_key=user.key, mfa_time=mfa_time)
    return {"Credentials": credentials}


@operation("GetFederationToken", resource=None, service="sts")
def get_federation_token(ctx: CallContext, inp: Input) -> Output:
    caller = ctx.caller
    if caller.is_root or caller.user_key is None:  # sessions never get here (sts.limits)
        raise AccessDenied("GetFederationToken can only be called with the long-term credentials of an IAM user.")
    name = inp["Name"]
    decision = decide(ctx, "sts:GetFederationToken", ctx.arn(f"federated-user/{name}").replace(":iam:", ":sts:"))
    if not decision.allowed:
        raise AccessDenied(decision.message())
    policy, arns = _session_policies(ctx, inp)
    tags = {t["Key"]: t["Value"] for t in inp.get("Tags") or []}
    packed = _packed(policy, arns, tags)
    if packed > 100:
        raise PackedPolicyTooLarge(f"Packed policy consumes {packed}% of allotted space, please use smaller policy.")
    duration = inp.get("DurationSeconds") or 43200
    arn = f"arn:{ctx.partition}:sts::{ctx.account_id}:federated-user/{name}"
    credentials, claims = issue(ctx, kind="federated-user", duration=duration, account=ctx.account_id, arn=arn,
                                user_id=f"{ctx.account_id}:{name}", principal_key=caller.user_key, policy=policy,
                                policy_arns=arns, tags=tags, issuer_id=caller.principal.user_id)
    out: dict[str, Any] = {"Credentials": credentials, "FederatedUser": {"FederatedUserId": claims.user_id, "Arn": arn}}
    if policy or arns or tags:
        out["PackedPolicySize"] = packed
    return out


@operation("GetAccessKeyInfo", resource=None, service="sts")
def get_access_key_info(ctx: CallContext, inp: Input) -> Output:
    """The account of any access key id, whoever asks and whatever the key's state
    (https://docs.aws.amazon.com/STS/latest/APIReference/API_GetAccessKeyInfo.html): a stored key's account, else
    the account the id encodes (temporary ids are never stored; see tokens.account_of_access_key_id)."""
    key_id = inp["AccessKeyId"]
    key = ctx.tx.access_key(key_id)
    if key is not None:
        return {"Account": key.account_id}
    account = account_of_access_key_id(key_id)
    if account is None:
        raise InvalidParameterValue(f"The access key ID {key_id} is not valid.")
    return {"Account": account}
