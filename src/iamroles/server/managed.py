"""AWS's managed policies, so that AttachRolePolicy with their ARNs works as on AWS (the catalogue is
``iamroles.store.aws_managed``; scripts/aws_managed_policies.py regenerates it)."""
from __future__ import annotations

from iamroles.store import Store, Tx
from iamroles.store.aws_managed import CATALOGUE, aws_owner

__all__ = ["seed_aws_managed", "seed_partition", "ADMINISTRATOR_ACCESS"]

ADMINISTRATOR_ACCESS = "arn:aws:iam::aws:policy/AdministratorAccess"


def seed_aws_managed(store: Store) -> None:
    """The AWS managed policy rows of the ``aws`` partition and of every partition that has an account brought in
    line with the catalogue this iamroles ships (a no-op write when they already are, as at every start but the
    first and the first after an upgrade)."""
    with store.write() as tx:
        partitions = {"aws"} | {a.partition for a in tx.accounts()}
        for partition in sorted(partitions):
            tx.sync_aws_managed(CATALOGUE.records(partition), aws_owner(partition))


def seed_partition(tx: Tx, partition: str) -> None:
    """``partition``'s copies of AWS's managed policies, if it has none yet (its first account is being made)."""
    owner = aws_owner(partition)
    if not tx.policies([owner], limit=1):
        tx.sync_aws_managed(CATALOGUE.records(partition), owner)
