"""What a collision with another request becomes, in one place for every operation.

The store raises :class:`~iamroles.store.Duplicate` when a name it inserts (or
renames to) was taken by a transaction that committed first, and
:class:`~iamroles.store.Conflict` for any other collision. A duplicate name is
EntityAlreadyExists with the message AWS gives for that kind of entity, as the
check before the insert would have said had it run a moment later. Any other
collision is ConcurrentModification where AWS's error list for the operation
has it (botocore's model, ``iam/2010-05-08/service-2.json``; held by
tests/server/test_concurrency.py), else ServiceFailure: operations serialise on
their owner's row (see iamroles.store.sql), so that is a failure, not a race.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from iamroles.errors import AwsError, ConcurrentModification, DuplicateCertificate, EntityAlreadyExists, ServiceFailure
from iamroles.store import Conflict, Duplicate

from .context import CallContext

__all__ = ["already_exists", "answering_conflicts", "CONCURRENT_MODIFICATION", "DUPLICATE_CERTIFICATE"]

DUPLICATE_CERTIFICATE = "The same certificate is already associated with an IAM user in the account."

# Operations (of those iamroles implements) whose AWS error list includes ConcurrentModification.
CONCURRENT_MODIFICATION = frozenset({
    "AddClientIDToOpenIDConnectProvider", "CreateAccountAlias", "CreateInstanceProfile", "CreateOpenIDConnectProvider", "CreatePolicy",
    "CreateRole", "CreateUser", "CreateVirtualMFADevice", "DeactivateMFADevice", "DeleteAccountAlias", "DeleteOpenIDConnectProvider",
    "DeleteRole", "DeleteSigningCertificate", "DeleteUser", "DeleteVirtualMFADevice", "EnableMFADevice", "RemoveClientIDFromOpenIDConnectProvider",
    "ResyncMFADevice", "TagInstanceProfile", "TagMFADevice", "TagOpenIDConnectProvider", "TagPolicy", "TagRole", "TagServerCertificate", "TagUser",
    "UntagInstanceProfile", "UntagMFADevice", "UntagOpenIDConnectProvider", "UntagPolicy", "UntagRole", "UntagServerCertificate", "UntagUser",
    "UpdateOpenIDConnectProvider", "UpdateOpenIDConnectProviderThumbprint", "UpdateUser",
    "UploadServerCertificate", "UploadSigningCertificate",
    "CreateSAMLProvider", "DeleteSAMLProvider", "TagSAMLProvider", "UntagSAMLProvider", "UpdateSAMLProvider",
    "AcceptDelegationRequest", "AssociateDelegationRequest", "CreateDelegationRequest", "RejectDelegationRequest",
    "SendDelegationToken", "UpdateDelegationRequest", "PutAccountProperties", "AcquireRole",
})

_EXISTS = {
    "user": "User with name {} already exists.",
    "group": "Group with name {} already exists.",
    "role": "Role with name {} already exists.",
    "instance_profile": "Instance Profile {} already exists.",
    "policy": "A policy called {} already exists. Duplicate names are not allowed.",
    "oidc": "Provider with url https://{} already exists.",
    "mfa": "MFADevice entity at the same path and name already exists.",
    "server_certificate": "The Server Certificate with name {} already exists.",
    "saml": "SAMLProvider {} already exists.",
    "account_aliases": "The account alias {} already exists.",
}


def already_exists(kind: str, name: str) -> EntityAlreadyExists:
    """EntityAlreadyExists as AWS words it for a user, group, role, instance profile, managed policy,
    OIDC provider (``name``: its URL without https://), virtual MFA device or SAML provider."""
    return EntityAlreadyExists(_EXISTS[kind].format(name))


def _answer(operation: str, conflict: Conflict) -> AwsError:
    if isinstance(conflict, Duplicate) and conflict.kind in _EXISTS and conflict.name is not None:
        return already_exists(conflict.kind, conflict.name)
    if isinstance(conflict, Duplicate) and conflict.kind == "signing_certificates":  # uploaded for two users at once
        return DuplicateCertificate(DUPLICATE_CERTIFICATE)
    if operation in CONCURRENT_MODIFICATION:
        return ConcurrentModification(
            "The request was rejected because multiple requests to change this object were submitted simultaneously. "
            "Wait a few minutes and submit your request again."
        )
    return ServiceFailure("The request processing has failed because of an unknown error, exception or failure.")


def answering_conflicts(operation: str, func: Callable[[CallContext, Any], Any]) -> Callable[[CallContext, Any], Any]:
    """``func``, with the store's conflicts answered as AWS answers them."""

    def run(ctx: CallContext, inp: Any) -> Any:
        try:
            return func(ctx, inp)
        except Conflict as conflict:
            raise _answer(operation, conflict) from conflict

    run.__name__ = getattr(func, "__name__", operation)
    run.__doc__ = func.__doc__
    run.__wrapped__ = func  # type: ignore[attr-defined]
    return run
