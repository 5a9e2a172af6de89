"""iamroles.policy: the AWS IAM policy language, pure and fast.

Parse and validate documents of every kind as AWS does, compile them once,
and decide requests with AWS's evaluation logic::

    from iamroles.policy import PolicyKind, PolicySet, Principal, Request, evaluate, parse_policy

    read = parse_policy(open("read.json").read(), PolicyKind.IDENTITY, name="ReadOnly")
    alice = Principal.from_arn("arn:aws:iam::111122223333:user/alice", tags={"team": "blue"})
    decision = evaluate(
        Request(alice, "s3:GetObject", "arn:aws:s3:::reports/q1.csv", context={"aws:SourceIp": "10.0.0.7"}),
        PolicySet(identity=[read]),
    )
    decision.allowed, decision.effect, decision.denied_by, decision.explain()

This package imports nothing else of iamroles and does no I/O.
"""
from __future__ import annotations

from .arn import Arn
from .compile import Policy
from .document import PolicyDocument, PolicyKind, PolicyType, Statement
from .evaluate import Decision, Effect, Match, PolicySet, evaluate
from .parse import Source, check, parse
from .problems import PolicyError, Problem
from .request import Principal, PrincipalType, Request

__all__ = [
    "Arn",
    "Decision",
    "Effect",
    "Match",
    "Policy",
    "PolicyDocument",
    "PolicyError",
    "PolicyKind",
    "PolicySet",
    "PolicyType",
    "Principal",
    "PrincipalType",
    "Problem",
    "Request",
    "Statement",
    "evaluate",
    "parse_document",
    "parse_policy",
    "validate_policy",
]


def parse_document(source: Source, kind: PolicyKind | str = PolicyKind.IDENTITY, managed: bool = False) -> PolicyDocument:
    """Parse and validate a document of ``kind``; raises :class:`PolicyError`.

    ``managed``: a managed policy (must be Version 2012-10-17).
    """
    return parse(source, PolicyKind(kind), managed)


def parse_policy(source: Source, kind: PolicyKind | str = PolicyKind.IDENTITY, name: str | None = None) -> Policy:
    """Parse, validate and compile a document of ``kind``; raises :class:`PolicyError`.

    ``name`` identifies the policy in a decision's reasons.
    """
    kind = PolicyKind(kind)
    return Policy(parse(source, kind), kind, name)


def validate_policy(source: Source, kind: PolicyKind | str = PolicyKind.IDENTITY, managed: bool = False) -> list[Problem]:
    """Every problem with a document of ``kind`` (empty when it is valid), first the one AWS would report."""
    _, problems = check(source, PolicyKind(kind), managed)
    return problems
