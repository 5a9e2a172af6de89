"""Runs the table-driven policy cases in tests/policy/cases/.

Each case cites (``doc``) the AWS documentation page whose rule it checks.

* ``cases/parse/*.json``: a document of a given kind is accepted, or rejected
  with a message in AWS's MalformedPolicyDocument wording.
* ``cases/eval/*.json``: a request under policies of every type yields AWS's
  decision (Allow, ExplicitDeny, ImplicitDeny) and, for denials, the policy
  type AWS names in its AccessDenied message.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from iamroles.policy import (
    PolicyError,
    PolicyKind,
    PolicySet,
    Principal,
    Request,
    evaluate,
    parse_policy,
    validate_policy,
)

from .conftest import load_cases

PARSE = load_cases("parse")
EVAL = load_cases("eval")


def _source(case: dict[str, Any]) -> str:
    return case["text"] if "text" in case else json.dumps(case["policy"])


@pytest.mark.parametrize("case", [c for _, c in PARSE], ids=[i for i, _ in PARSE])
def test_parse_case(case: dict[str, Any]) -> None:
    assert case["doc"].startswith("https://docs.aws.amazon.com/"), "every case cites AWS"
    kind = PolicyKind(case.get("kind", "identity"))
    problems = validate_policy(_source(case), kind)
    if case["valid"]:
        assert problems == [], [p.message for p in problems]
        parse_policy(_source(case), kind)
    else:
        assert problems, "expected the document to be rejected"
        with pytest.raises(PolicyError) as err:
            parse_policy(_source(case), kind)
        assert case["error"] in str(err.value), (str(err.value), [p.message for p in problems])


def _principal(spec: dict[str, Any]) -> Principal:
    return Principal.from_dict(spec)


def _policies(spec: dict[str, Any]) -> PolicySet:
    def one(doc: Any, kind: PolicyKind) -> Any:
        return parse_policy(json.dumps(doc), kind)

    if spec.get("trust") is not None:
        resource = one(spec["trust"], PolicyKind.TRUST)  # a role's trust policy: must grant by itself
    else:
        resource = one(spec["resource"], PolicyKind.RESOURCE) if spec.get("resource") else None
    return PolicySet(
        identity=tuple(one(d, PolicyKind.IDENTITY) for d in spec.get("identity", [])),
        resource=resource,
        resource_must_grant=bool(spec.get("resource_must_grant")),
        resource_pins=spec.get("resource_pins"),
        boundary=one(spec["boundary"], PolicyKind.BOUNDARY) if spec.get("boundary") else None,
        session=tuple(one(d, PolicyKind.SESSION) for d in spec.get("session", [])),
        scp=tuple(tuple(one(d, PolicyKind.SCP) for d in level) for level in spec.get("scp", [])),
        rcp=tuple(tuple(one(d, PolicyKind.RCP) for d in level) for level in spec.get("rcp", [])),
    )


@pytest.mark.parametrize("case", [c for _, c in EVAL], ids=[i for i, _ in EVAL])
def test_eval_case(case: dict[str, Any]) -> None:
    assert case["doc"].startswith("https://docs.aws.amazon.com/"), "every case cites AWS"
    request = Request(
        principal=_principal(case["principal"]),
        action=case["action"],
        resource=case["resource"],
        resource_account=case.get("resource_account"),
        context=case.get("context", {}),
        time=datetime.fromisoformat(case["time"].replace("Z", "+00:00")) if "time" in case else None,
    )
    decision = evaluate(request, _policies(case["policies"]))
    assert decision.effect.value == case["expect"], decision.explain()
    if "denied_by" in case:
        assert decision.denied_by is not None and decision.denied_by.value == case["denied_by"], decision.explain()
    if "message" in case:
        assert decision.message() == case["message"]


def test_case_count() -> None:
    """The issue asks for at least 300 cited cases across the areas."""
    assert len(PARSE) + len(EVAL) >= 300
