"""Differential tests: iamroles' decisions against an independent evaluator.

Hypothesis generates authorisation questions (``cases.py``: every policy
type, same- and cross-account, conditions, variables, principals with tags)
and each is decided by ``iamroles.policy.evaluate`` and by
@cloud-copilot/iam-simulate (an open-source TypeScript evaluator, pinned in
``package-lock.json`` and run by ``simulate.cjs`` in one node process per
session). The decisions (Allow / ExplicitDeny / ImplicitDeny) must agree,
except where ``known_differences.json`` records a cause, with the AWS
documentation page showing which side is right; each cause has a predicate
in ``known.py`` that must hold for the case and the pair of decisions, so a
new kind of disagreement fails the test.

Derandomized, so CI runs the same cases every time; the node package is
installed by ``install.py`` (``.ci/run``, or the first test session) and the
tests skip with the reason when node or the package cannot be had.
"""
from __future__ import annotations

import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, note, settings

from iamroles.policy import evaluate

from . import known
from .cases import ORACLE_EFFECTS, cases, to_iamroles, to_simulation
from .conftest import STATS, Oracle

# IAMROLES_ORACLE_EXPLORE=FILE: append unexplained disagreements to FILE instead of failing (to study them)
EXPLORE = os.environ.get("IAMROLES_ORACLE_EXPLORE")

SETTINGS = settings(
    max_examples=1000,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

FAMILIES = {
    "identity": ("ec2", "iam", "s3"),  # identity, boundary, session, SCP and RCP policies; bucket policies too
    "resource": ("s3", "sqs"),  # resource-based policies, same and cross account, services and anonymous callers
    "trust": ("sts",),  # role trust policies (sts:AssumeRole)
    "key": ("kms",),  # KMS key policies
}
EXAMPLES = {"identity": 1000, "resource": 1000, "trust": 600, "key": 400}


def decide(oracle: Oracle, case: dict[str, Any]) -> tuple[str, str, list[str]]:
    """(iamroles' effect, iam-simulate's effect, context keys iam-simulate dropped)."""
    (answer,) = oracle.run([to_simulation(case)])
    if "error" in answer:
        raise AssertionError(f"iam-simulate refused the case: {answer['error']}: {json.dumps(answer.get('details'))[:2000]}")
    dropped = answer.get("ignored") or []
    # a key that does not apply to the action is not in AWS's request either: leave it out for both
    request, policies = to_iamroles(case, frozenset(k.lower() for k in dropped))
    ours = evaluate(request, policies).effect.value
    return ours, ORACLE_EFFECTS[answer["result"]], dropped


def check(oracle: Oracle, case: dict[str, Any]) -> None:
    note(json.dumps(case, indent=1))
    ours, theirs, dropped = decide(oracle, case)
    for key in dropped:
        STATS["dropped_keys"][key] += 1
    STATS["decisions"][ours] += 1
    if ours == theirs:
        return
    cause = known.explain(case, ours, theirs)
    if cause is None and EXPLORE:
        with open(EXPLORE, "a") as out:
            out.write(json.dumps({"ours": ours, "theirs": theirs, "case": case}) + "\n")
        STATS["causes"]["unexplained"] += 1
        return
    if cause is None:
        raise AssertionError(
            f"iamroles says {ours}, iam-simulate says {theirs}, and no recorded cause explains it "
            f"(tests/oracle/known_differences.json):\n{json.dumps(case, indent=1)}"
        )
    STATS["causes"][cause] += 1


def _test(family: str) -> Any:
    @settings(SETTINGS, max_examples=EXAMPLES[family])
    @given(case=cases(FAMILIES[family]))
    def test(oracle: Oracle, case: dict[str, Any]) -> None:
        check(oracle, case)

    return test


test_identity_side = _test("identity")
test_resource_policies = _test("resource")
test_trust_policies = _test("trust")
test_key_policies = _test("key")


def test_generated_cases_spread_over_decisions(oracle: Oracle) -> None:
    """The generator is only useful if statements match: a good share of Allow and of ExplicitDeny."""
    seen = STATS["decisions"]
    total = sum(seen.values())
    if total < 1000:
        pytest.skip("run with the generated tests to check their spread")
    for effect in ("Allow", "ExplicitDeny", "ImplicitDeny"):
        assert seen[effect] >= total * 0.15, f"only {seen[effect]} of {total} cases were {effect}: {dict(seen)}"
