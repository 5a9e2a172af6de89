"""iamroles.iam: the IAM operations, one plain function each, authorised by the policy core."""
from . import (  # noqa: F401  (register operations)
    access_advisor,
    account,
    certificates,
    credentials,
    delegation,
    groups,
    mfa,
    oidc,
    org_admin,
    org_tree,
    organizations,
    outbound,
    passwords,
    policies,
    profiles,
    reports,
    roles,
    root_access,
    saml,
    service_linked,
    simulate,
    summary,
    templates,
    users,
)
from .authorize import PolicyCache, authorize, authorize_on
from .context import CallContext, Caller
from .registry import OPERATIONS, Operation, Stale

__all__ = ["OPERATIONS", "Operation", "CallContext", "Caller", "PolicyCache", "Stale", "authorize", "authorize_on"]
