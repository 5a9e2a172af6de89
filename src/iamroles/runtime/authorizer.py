"""Deciding requests that other services received: who signed it, and may they do this?

A service in front of which iamroles puts IAM roles hands over the parts of
an HTTP request it received (method, path, query, headers, and the body or
its SHA-256), names the action and resource the request means, optionally
its own resource policy and service-specific condition keys, and gets back
the authenticated principal and the policy decision, or the AWS error the
signature check produced. Two ways in, one implementation:

* in process, :class:`Authorizer` over a :class:`~iamroles.runtime.Service`
  (sharing its store, keys and caches): what :mod:`iamroles.middleware` uses;
* over HTTP, ``POST /iamroles/v1/authorize`` (:func:`authorize_api`), for
  services in other processes or languages; the calling service must itself
  be allowed ``iamroles:AuthorizeRequest``.

Cross-account requests follow AWS's rule: when the resource's account is not
the signer's, both the signer's identity policies and the resource policy
must allow (reference_policies_evaluation-logic-cross-account.html). The
resources are the service's own account's, and only those: a question about
another account's resource (or one of another partition) is refused with
AccessDenied, so that no account learns what another's policies allow. The
signer must be of the service's partition (a key of another partition does not
exist there: InvalidClientTokenId).
"""
from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from iamroles.auth import sigv4
from iamroles.auth.caller import Caller
from iamroles.errors import AccessDenied, AwsError, ValidationError
from iamroles.iam.authorize import bounded_session, decide
from iamroles.iam.common import malformed_policy
from iamroles.iam.context import CallContext
from iamroles.policy import Arn, Decision, Policy, PolicyKind
from iamroles.protocol import error_document
from iamroles.sts.decode import encode_decision

from .service import Service

__all__ = ["Authorization", "Authorizer", "authorize_api", "derived_key", "foreign_resource", "AUTHORIZE_ACTION"]

AUTHORIZE_ACTION = "iamroles:AuthorizeRequest"
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True, slots=True)
class Authorization:
    """The answer: ``error`` when the request is not authentic, else the caller and the decision."""

    caller: Caller | None
    decision: Decision | None
    error: AwsError | None = None
    encoded_message: str | None = None  # for a denial: the details, for sts:DecodeAuthorizationMessage
    access_key_id: str | None = None  # what the signature claimed, once it was read (for the audit record)
    region: str | None = None

    @property
    def allowed(self) -> bool:
        return self.error is None and self.decision is not None and self.decision.allowed

    @property
    def status(self) -> int:
        """The HTTP status a service answers with: 200 allowed, 403 denied, the error's otherwise."""
        if self.error is not None:
            return self.error.status
        return 200 if self.allowed else 403

    def denial(self) -> AwsError | None:
        """What to answer when not allowed: the authentication error, or AccessDenied with AWS's message."""
        if self.error is not None:
            return self.error
        if self.decision is not None and not self.decision.allowed:
            message = self.decision.message()
            if self.encoded_message:
                message += f" Encoded authorization failure message: {self.encoded_message}"
            return AccessDenied(message)
        return None

    def principal(self) -> dict[str, Any] | None:
        if self.caller is None:
            return None
        p = self.caller.principal
        session = self.caller.session
        doc: dict[str, Any] = {"Arn": p.arn, "Account": self.caller.account_id, "UserId": p.user_id or self.caller.account_id,
                               "Type": p.type.value, "AccessKeyId": self.caller.access_key_id}
        if p.role_arn:
            doc["RoleArn"] = p.role_arn
        if p.name:
            doc["Name"] = p.name
        if p.tags:
            doc["PrincipalTags"] = dict(p.tags)
        if session is not None:
            if session.tags:
                doc["SessionTags"] = dict(session.tags)
            if session.source_identity:
                doc["SourceIdentity"] = session.source_identity
            doc["TokenIssueTime"] = session.issued
            doc["Expiration"] = session.expires
        return doc

    def to_document(self) -> dict[str, Any]:
        if self.error is not None:
            return {"Authenticated": False, "Allowed": False, **error_document(self.error)}
        assert self.decision is not None
        d = self.decision
        return {
            "Authenticated": True,
            "Allowed": d.allowed,
            "Decision": d.effect.value,
            "DeniedBy": d.denied_by.value if d.denied_by is not None else None,
            "Message": d.message(),
            "Reasons": [str(m) for m in d.matches],
            "Principal": self.principal(),
            "EncodedAuthorizationMessage": self.encoded_message,
        }


class Authorizer:
    """Verifies SigV4 with the server's keys and decides with its policies, in process.

    ``services``: the SigV4 service names accepted in the credential scope
    (None: any). ``account``: the account owning the service's resources
    (None: the signer's own, i.e. same-account semantics). With an account,
    the authoriser answers only about that account's resources: a resource
    account or resource ARN of another account, or an ARN of another
    partition, is refused with AccessDenied (raised: it is the service's
    question that is wrong, not the client's request); and a request signed
    for a region outside the account's partition is not authentic there
    (InvalidClientTokenId, as AWS answers a key of another partition).
    ``partition``: the account's partition (None: read from the store once).
    """

    def __init__(self, service: Service, services: Sequence[str] | None = None, account: str | None = None,
                 partition: str | None = None) -> None:
        self.service = service
        self.services = tuple(services) if services is not None else None
        self.account = account
        if account is not None and partition is None:
            with service.store.read() as tx:
                found = tx.account(account)
            if found is None:
                raise ValueError(f"the iamroles store has no account {account}")
            partition = found.partition
        self.partition = partition

    def resource_policy(self, document: str | Policy | None) -> Policy | None:
        """A service's resource policy, compiled once (cached by its text); MalformedPolicyDocument if it is not one."""
        if document is None or isinstance(document, Policy):
            return document
        with malformed_policy():
            return self.service.cache.compiled(document, PolicyKind.RESOURCE, "resource-policy")

    def authorize(
        self,
        http: sigv4.HttpRequest,
        action: str,
        resource: str,
        *,
        resource_policy: str | Policy | None = None,
        resource_policy_must_grant: bool = False,
        resource_account: str | None = None,
        context: Mapping[str, Any] | None = None,
        source_ip: str = "127.0.0.1",
        secure: bool = False,
        request_id: str = "",
    ) -> Authorization:
        if self.account is not None:
            foreign = foreign_resource(resource, resource_account, self.account, self.partition)
            if foreign is not None:
                raise AccessDenied(f"This authoriser decides only about resources of account {self.account} ({foreign}).")
        claimed = sorted(k for k in context or () if derived_key(k))
        if claimed:  # the service's question is wrong (raised, as above): IAM, not the service, says what these are
            raise ValidationError(f"Context may not set {', '.join(claimed)}: IAM derives it from the signed request "
                                  "(give SourceIp, SecureTransport, ResourceAccount as their own parameters).")
        policy = self.resource_policy(resource_policy)
        service = self.service
        authenticator = service.authenticator
        signed: sigv4.SignedRequest | None = None
        try:
            # keys of the account's partition exist only there
            signed = authenticator.parse(http, services=self.services, partition=self.partition)
            now = service.clock()
            with service.store.read() as tx:
                caller = authenticator.verify(tx, http, signed, now)
                ctx = service.context(caller, tx, now, signed.region, source_ip, secure, http.headers.get("user-agent", ""), request_id)
                account = resource_account or _arn_account(resource) or self.account or caller.account_id
                decision = decide(ctx, action, resource, context, resource_policy=policy, resource_account=account,
                                  must_grant=resource_policy_must_grant)
        except AwsError as err:
            if signed is None:
                return Authorization(None, None, err)
            return Authorization(None, None, err, None, signed.access_key_id, signed.region)
        if decision.allowed:
            return Authorization(caller, decision, None, None, signed.access_key_id, signed.region)
        return Authorization(caller, decision, None, encode_decision(service.master_key, decision, int(now.timestamp())),
                             signed.access_key_id, signed.region)


# Global condition keys IAM derives from the signed request and its signer: a service's Context supplies its own keys
# (s3:prefix, aws:ResourceTag/..., aws:RequestTag/...), never these, which AWS sets itself
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html: properties of the principal,
# of the role session, of the network and of the request). A service that let a client's input name a context key must
# not thereby let it claim another principal, tag, account, MFA or source address.
_DERIVED_KEYS = frozenset({
    "aws:userid", "aws:username", "aws:sourceip", "aws:securetransport", "aws:requestedregion", "aws:currenttime",
    "aws:epochtime", "aws:useragent", "aws:tokenissuetime", "aws:multifactorauthpresent", "aws:multifactorauthage",
    "aws:sourceidentity", "aws:federatedprovider", "aws:resourceaccount", "aws:assumedroot",
    # the resource's account's organization (aws:PrincipalOrgID and aws:PrincipalOrgPaths are aws:Principal*): a
    # claimed one would pass an RCP or a resource policy's "only our organization's resources" condition
    "aws:resourceorgid", "aws:resourceorgpaths",
})


def derived_key(key: str) -> bool:
    """Is ``key`` a condition key IAM derives itself (the principal's, its session's, the request's)?"""
    lower = key.lower()
    return lower.startswith("aws:principal") or lower in _DERIVED_KEYS


def _arn_account(resource: str) -> str | None:
    named = Arn.maybe(resource)
    return named.account if named is not None and named.account else None


def foreign_resource(resource: str, resource_account: str | None, account: str, partition: str | None) -> str | None:
    """Why ``resource`` (with ``resource_account``) is not a resource of ``account`` in ``partition``; None if it is
    (an ARN with no account segment, like an S3 bucket's, is the account's; so is ``*``)."""
    if resource_account and resource_account != account:
        return f"ResourceAccount {resource_account} is another account"
    named = Arn.maybe(resource)
    if named is not None:
        if named.account and named.account != account:
            return f"{resource} is in account {named.account}"
        if partition is not None and named.partition != partition:
            return f"{resource} is in partition {named.partition}, not {partition}"
    return None


def _http_from(doc: Any) -> sigv4.HttpRequest:
    if not isinstance(doc, Mapping):
        raise ValidationError("Request must be an object with Method, Path, Query, Headers and Body or PayloadHash.")
    method, path, query = doc.get("Method"), doc.get("Path", "/"), doc.get("Query", "")
    raw_headers = doc.get("Headers")
    if not isinstance(method, str) or not isinstance(path, str) or not isinstance(query, str):
        raise ValidationError("Request.Method, Request.Path and Request.Query must be strings.")
    pairs: list[Any]
    if isinstance(raw_headers, Mapping):
        pairs = list(raw_headers.items())
    elif isinstance(raw_headers, list):
        pairs = raw_headers
    else:
        raise ValidationError("Request.Headers must be an object or a list of [name, value] pairs.")
    for pair in pairs:
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2 and isinstance(pair[0], str) and isinstance(pair[1], str)):
            raise ValidationError("Request.Headers must hold string names and values.")
    headers = sigv4.join_headers(pairs)
    body = b""
    if doc.get("Body") is not None:
        try:
            body = base64.b64decode(doc["Body"], validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise ValidationError("Request.Body must be base64.") from None
    payload_hash = doc.get("PayloadHash")
    if payload_hash is not None and not (isinstance(payload_hash, str) and _HEX64.fullmatch(payload_hash)):
        raise ValidationError("Request.PayloadHash must be the hex SHA-256 of the body.")
    return sigv4.HttpRequest(method.upper(), path, query, headers, body, payload_hash, bool(doc.get("UnsignedPayload", False)))


def authorize_api(service: Service, ctx: CallContext, inp: Mapping[str, Any]) -> dict[str, Any]:
    """``POST /iamroles/v1/authorize``: the calling service must be allowed iamroles:AuthorizeRequest."""
    if not ctx.caller.is_root or bounded_session(ctx.caller):
        decision = decide(ctx, AUTHORIZE_ACTION, "*")
        if not decision.allowed:
            raise AccessDenied(decision.message())
    http = _http_from(inp.get("Request"))
    action, resource = inp.get("Action"), inp.get("Resource")
    if not isinstance(action, str) or ":" not in action or not isinstance(resource, str) or not resource:
        raise ValidationError("Action (service:Name) and Resource (an ARN or *) are required strings.")
    context = inp.get("Context") or {}
    if not isinstance(context, Mapping) or not all(
        isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v)) for v in context.values()
    ):
        raise ValidationError("Context must map condition keys to strings or lists of strings.")
    services = inp.get("Services")
    if services is not None and not (isinstance(services, list) and all(isinstance(x, str) for x in services)):
        raise ValidationError("Services must be a list of SigV4 service names.")
    policy = inp.get("ResourcePolicy")
    if policy is not None and not isinstance(policy, str):
        raise ValidationError("ResourcePolicy must be a policy document as a string.")
    must_grant = inp.get("ResourcePolicyMustGrant", False)
    if not isinstance(must_grant, bool):
        raise ValidationError("ResourcePolicyMustGrant must be true or false.")
    # the API answers only about the calling service's own resources (cross-account principals are still decided,
    # through the resource policy); asking about another account's would tell one account what another's allow
    resource_account = inp.get("ResourceAccount")
    if resource_account is not None and not isinstance(resource_account, str):
        raise ValidationError("ResourceAccount must be an account id as a string.")
    foreign = foreign_resource(resource, resource_account, ctx.account_id, ctx.partition)
    if foreign is not None:
        raise AccessDenied(f"User: {ctx.caller.principal.arn} is not authorized to perform: {AUTHORIZE_ACTION} on resource: "
                           f"{resource} because the authorisation API answers only about resources of the caller's account "
                           f"{ctx.account_id} ({foreign}).")
    authorizer = Authorizer(service, services, account=ctx.account_id, partition=ctx.partition)
    result = authorizer.authorize(
        http, action, resource, resource_policy=policy, resource_policy_must_grant=must_grant,
        resource_account=resource_account,
        context={k: tuple(v) if isinstance(v, list) else v for k, v in context.items()},
        source_ip=inp.get("SourceIp") or ctx.source_ip, secure=bool(inp.get("SecureTransport", False)), request_id=ctx.request_id,
    )
    return result.to_document()
