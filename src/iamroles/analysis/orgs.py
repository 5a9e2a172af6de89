"""Where each account stands in its organization, for the analyses: the service control policies that bound its
principals and the resource control policies that bound its resources, read from the store's organization tables
(migration 0014) as the enforcement reads them.

The rules are AWS's, as ``iam.organizations.org_standing`` applies them to requests (the analyses sit beside the
operations, not on them, so they read the same rows themselves):

- the levels run from the root through each OU down to the account, one per node, and every level must allow
  (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps_evaluation.html);
- "SCPs don't affect users or roles in the management account", nor service-linked roles
  (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html);
- "RCPs don't affect resources in the management account", nor requests by or on service-linked roles, and they
  apply to a subset of services only, STS among them (so a role's trust is bounded by them, for AWS service
  principals too) and IAM not (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps.html;
  which requests, :func:`iamroles.catalog.organizations.rcp_applies`, as the enforcement decides);
- a principal in an organization carries ``aws:PrincipalOrgID`` and ``aws:PrincipalOrgPaths``, a resource in one
  ``aws:ResourceOrgID`` and ``aws:ResourceOrgPaths``
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..catalog.organizations import RCP_SERVICES, rcp_applies
from ..policy import Policy, PolicyKind
from ..store import Tx

__all__ = ["RCP", "RCP_SERVICES", "SCP", "Levels", "Standing", "rcp_applies", "standings"]

SCP = "SERVICE_CONTROL_POLICY"
RCP = "RESOURCE_CONTROL_POLICY"
_MAX_DEPTH = 6  # the root, five levels of OUs (orgs_reference_limits)

Levels = tuple[tuple[Policy, ...], ...]
Compile = Callable[[str, PolicyKind, str], Policy]


@dataclass(frozen=True)
class Standing:
    """An account in an organization: its id and path, and the levels of each policy type that bound it (empty:
    that type does not bound it, because it is the management account or the type is not enabled)."""

    org_id: str
    org_path: str  # "o-id/r-id/ou-id/.../"
    management: bool
    scp: Levels
    rcp: Levels

    def principal_keys(self) -> dict[str, str | list[str]]:
        return {"aws:PrincipalOrgID": self.org_id, "aws:PrincipalOrgPaths": [self.org_path]}

    def resource_keys(self) -> dict[str, str | list[str]]:
        return {"aws:ResourceOrgID": self.org_id, "aws:ResourceOrgPaths": [self.org_path]}


def _levels(tx: Tx, org_id: str, nodes: Sequence[str], policy_type: str, kind: PolicyKind, compile_: Compile) -> Levels:
    levels = []
    for target in nodes:
        level = []
        for pid in tx.org_attached(org_id, target):
            p = tx.org_policy(org_id, pid)
            if p is not None and p["type"] == policy_type:
                level.append(compile_(p["content"], kind, f"{p['name']} ({pid})"))
        levels.append(tuple(level))
    return tuple(levels)


def standings(tx: Tx, accounts: Sequence[str], compile_: Compile) -> dict[str, Standing]:
    """The :class:`Standing` of each of ``accounts`` that is in an organization."""
    out: dict[str, Standing] = {}
    for account in accounts:
        org = tx.organization_of(account)
        if org is None:
            continue
        oid = org["org_id"]
        path = [account]
        node = org["parent_id"]
        for _ in range(_MAX_DEPTH):
            path.append(node)
            if node == org["root_id"]:
                break
            unit = tx.org_unit(oid, node)
            if unit is None:
                break
            node = unit["parent_id"]
        nodes = list(reversed(path))
        org_path = "/".join([oid, *nodes[:-1]]) + "/"
        management = org["management_account_id"] == account
        types = tx.org_policy_types(oid)
        scp = _levels(tx, oid, nodes, SCP, PolicyKind.SCP, compile_) if SCP in types and not management else ()
        rcp = _levels(tx, oid, nodes, RCP, PolicyKind.RCP, compile_) if RCP in types and not management else ()
        out[account] = Standing(oid, org_path, management, scp, rcp)
    return out
