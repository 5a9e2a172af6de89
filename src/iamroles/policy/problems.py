"""The one error the policy core raises: :class:`PolicyError`, carrying every
:class:`Problem` found, each with where it is. ``str(err)`` is the first
problem's message, in the words AWS uses in its MalformedPolicyDocument
errors; the service layer turns a PolicyError into MalformedPolicyDocument
at one call."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Problem", "PolicyError"]


@dataclass(frozen=True, slots=True)
class Problem:
    message: str
    path: str = ""  # e.g. "Statement[1].Condition.StringEquals"

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class PolicyError(ValueError):
    """A policy document was rejected; ``problems`` lists every reason."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        if not self.problems:
            raise ValueError("PolicyError needs at least one problem")
        super().__init__(self.problems[0].message)

    def __str__(self) -> str:
        return self.problems[0].message
