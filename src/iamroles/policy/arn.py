"""Amazon Resource Names, taken apart in one place.

An ARN is ``arn:partition:service:region:account-id:resource``; the resource
is everything after the fifth colon and may itself hold colons and slashes
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html). IAM's
own resources read ``type/path/name``: the type before the first slash, the
name after the last (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-arns).
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Arn"]


@dataclass(frozen=True, slots=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str

    @classmethod
    def parse(cls, text: str) -> Arn:
        """The six fields of ``text``; ValueError when it is not ``arn:`` and five more colon-separated fields."""
        found = cls.maybe(text)
        if found is None:
            raise ValueError(f"not an ARN: {text!r}")
        return found

    @classmethod
    def maybe(cls, text: str) -> Arn | None:
        """The six fields of ``text``, or None when it is not ``arn:`` and five more colon-separated fields."""
        parts = text.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn":
            return None
        return cls(parts[1], parts[2], parts[3], parts[4], parts[5])

    @property
    def resource_type(self) -> str:
        """The resource's type: ``role`` of ``role/path/name`` (the whole resource when it has no slash)."""
        return self.resource.partition("/")[0]

    @property
    def name(self) -> str:
        """The resource's last segment: ``name`` of ``role/path/name``."""
        return self.resource.rsplit("/", 1)[-1]

    def is_iam(self, resource_type: str) -> bool:
        """An IAM resource of ``resource_type`` (``role``, ``user``, ...): service ``iam``, type before a slash."""
        return self.service == "iam" and self.resource.startswith(resource_type + "/")

    def __str__(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:{self.resource}"
