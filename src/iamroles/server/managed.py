"""AWS's managed policies, so that AttachRolePolicy with their ARNs works as on AWS (the catalogue is
``iamroles.store.aws_managed``; scripts/aws_managed_policies.py regenerates it)."""
from __future__ import annotations

from iamroles.store import Store
from iamroles.store.aws_managed import CATALOGUE

__all__ = ["seed_aws_managed", "ADMINISTRATOR_ACCESS"]

ADMINISTRATOR_ACCESS = "arn:aws:iam::aws:policy/AdministratorAccess"


def seed_aws_managed(store: Store) -> None:
    """Account ``aws``'s policy rows brought in line with the catalogue this iamroles ships (a no-op write when
    they already are, as at every start but the first and the first after an upgrade)."""
    records = CATALOGUE.records()
    with store.write() as tx:
        tx.sync_aws_managed(records)
