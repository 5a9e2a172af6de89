"""The regions a credential scope may name, and the partition each belongs to.

AWS groups regions into partitions (aws, aws-cn, aws-us-gov, ...); each
partition has its own IAM, so an account, its keys and its temporary
credentials exist in one partition only ("You cannot use IAM credentials from
one partition to interact with resources in a different partition",
https://docs.aws.amazon.com/whitepapers/latest/aws-fault-isolation-boundaries/partitions.html).

The regions are botocore's (``data/partitions.json`` and ``data/endpoints.json``,
read once per process, the first time they are needed), without the
``*-global`` pseudo-regions botocore uses for endpoint resolution: no request
is signed for those. An operator may declare private region names
(``iamroles serve --region NAME=PARTITION``) with :meth:`Regions.declare`.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType

__all__ = ["Regions", "known_regions", "parse_declaration"]

# A region name as it can appear in a SigV4 credential scope (lower-case words joined by hyphens).
_REGION_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?")


@dataclass(frozen=True, slots=True)
class Regions:
    """Region name -> partition (``by_region``: what SigV4 parsing is given, one hash lookup a request)."""

    partitions: frozenset[str]
    by_region: Mapping[str, str]

    def __contains__(self, region: object) -> bool:
        return region in self.by_region

    def partition(self, region: str) -> str | None:
        """The partition ``region`` belongs to; None for a region this server does not know."""
        return self.by_region.get(region)

    def declare(self, declared: Iterable[tuple[str, str]]) -> Regions:
        """These regions plus private ones, each ``(name, partition)``; ValueError for a bad name, an unknown
        partition, or a known region given another partition (a region is in exactly one partition)."""
        by_region = dict(self.by_region)
        for name, partition in declared:
            if not _REGION_NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not a region name (lower-case letters, digits and hyphens)")
            if partition not in self.partitions:
                raise ValueError(f"{partition!r} is not a partition (one of {', '.join(sorted(self.partitions))})")
            if by_region.get(name, partition) != partition:
                raise ValueError(f"{name} is a region of partition {by_region[name]}, not {partition}")
            by_region[name] = partition
        return Regions(self.partitions, MappingProxyType(by_region))


def parse_declaration(text: str) -> tuple[str, str]:
    """``NAME=PARTITION`` (``--region``) -> (name, partition); ValueError if it is not of that form."""
    name, eq, partition = text.partition("=")
    if not eq or not name.strip() or not partition.strip():
        raise ValueError(f"{text!r} is not NAME=PARTITION (e.g. on-prem-1=aws)")
    return name.strip(), partition.strip()


@lru_cache(maxsize=1)
def known_regions() -> Regions:
    """botocore's regions and partitions, loaded once."""
    from botocore.exceptions import DataNotFoundError
    from botocore.loaders import create_loader

    loader = create_loader()
    by_region: dict[str, str] = {}
    partitions: set[str] = set()
    for data_name, id_key in (("partitions", "id"), ("endpoints", "partition")):
        try:
            data = loader.load_data(data_name)
        except DataNotFoundError:  # partitions.json is missing from old botocore releases
            continue
        for part in data.get("partitions", ()):
            partition = part[id_key]
            partitions.add(partition)
            pattern = re.compile(part["regionRegex"])
            for region in part.get("regions", {}):
                if pattern.match(region):  # not aws-global and the like: endpoint aliases, never signed for
                    by_region.setdefault(region, partition)
    if not by_region:
        raise RuntimeError("botocore's endpoint data lists no region")
    return Regions(frozenset(partitions), MappingProxyType(by_region))
