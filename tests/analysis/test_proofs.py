"""Proofs about policies (iamroles.analysis.proofs), as IAM Access Analyzer's CheckNoNewAccess and
CheckAccessNotGranted (https://docs.aws.amazon.com/access-analyzer/latest/APIReference/API_CheckNoNewAccess.html,
API_CheckAccessNotGranted.html): answers on planted changes, and property tests holding the solver to the
evaluator (iamroles.policy.evaluate), the one that decides every request:

* a FAIL's counterexample is allowed by NEW and not by OLD when the evaluator decides it;
* after a PASS, no request drawn at random (from the policies' own vocabulary, so that they match) is allowed by
  NEW and not by OLD.
"""
from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from iamroles.analysis.patterns import _FOLDS
from iamroles.analysis.proofs import Counterexample, check_access_not_granted, check_no_new_access
from iamroles.cli import main
from iamroles.policy import Policy, PolicySet, evaluate, parse_policy

_NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)


def pol(*statements: dict[str, Any]) -> Policy:
    return parse_policy(json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def allowed(p: Policy, cex: Counterexample) -> bool:
    return evaluate(cex.request(), PolicySet(identity=[p])).allowed


def assert_fail(old: Policy, new: Policy) -> Counterexample:
    r = check_no_new_access(old, new)
    assert r.result == "FAIL", r.to_dict()
    assert r.counterexample is not None
    assert allowed(new, r.counterexample) and not allowed(old, r.counterexample)
    return r.counterexample


# -- planted changes ----------------------------------------------------------------------------------------------

def test_identical_and_narrower_policies_pass() -> None:
    p = pol(allow(["s3:Get*", "s3:List*"], ["arn:aws:s3:::b", "arn:aws:s3:::b/*"]))
    assert check_no_new_access(p, p).result == "PASS"
    narrower = pol(allow("s3:GetObject", "arn:aws:s3:::b/reports/*"))
    assert check_no_new_access(p, narrower).result == "PASS"
    assert_fail(narrower, p)


def test_action_wildcard_widening_fails_with_a_real_request() -> None:
    old = pol(allow("s3:GetObject", "arn:aws:s3:::b/*"))
    cex = assert_fail(old, pol(allow("s3:Get*", "arn:aws:s3:::b/*")))
    assert cex.action.startswith("s3:get") and cex.action != "s3:getobject"


def test_resource_segments_are_kept_apart() -> None:
    # a * inside an ARN's region segment does not cross the colon (reference_policies_elements_resource)
    old = pol(allow("ec2:StartInstances", "arn:aws:ec2:*:111122223333:instance/*"))
    new = pol(allow("ec2:StartInstances", "arn:aws:ec2:us-*:111122223333:instance/*"))
    assert check_no_new_access(old, new).result == "PASS"
    cex = assert_fail(new, old)
    assert not cex.resource.startswith("arn:aws:ec2:us-")


def test_a_removed_deny_is_new_access() -> None:
    old = pol(allow("s3:*"), deny("s3:DeleteBucket"))
    cex = assert_fail(old, pol(allow("s3:*")))
    assert cex.action == "s3:deletebucket"


def test_a_deny_added_keeps_the_proof() -> None:
    assert check_no_new_access(pol(allow("s3:*")), pol(allow("s3:*"), deny("s3:Delete*"))).result == "PASS"


def test_dropping_an_ip_condition_is_new_access_and_the_address_is_outside() -> None:
    old = pol(allow("kms:Decrypt", Condition={"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32"]}}))
    cex = assert_fail(old, pol(allow("kms:Decrypt")))
    assert cex.action == "kms:decrypt"
    # narrowing the network is not new access; widening it is
    assert check_no_new_access(old, pol(allow("kms:Decrypt", Condition={"IpAddress": {"aws:SourceIp": "10.1.0.0/16"}}))).result == "PASS"
    wider = pol(allow("kms:Decrypt", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/7"}}))
    cex = assert_fail(old, wider)
    assert str(cex.context["aws:sourceip"]).startswith("11.")


def test_numeric_and_date_bounds() -> None:
    old = pol(allow("s3:ListBucket", Condition={"NumericLessThanEquals": {"s3:max-keys": "10"}}))
    assert check_no_new_access(old, pol(allow("s3:ListBucket", Condition={"NumericLessThan": {"s3:max-keys": "10"}}))).result == "PASS"
    cex = assert_fail(old, pol(allow("s3:ListBucket", Condition={"NumericLessThan": {"s3:max-keys": "10.5"}})))
    assert float(str(cex.context["s3:max-keys"])) > 10
    early = pol(allow("logs:StartQuery", Condition={"DateGreaterThan": {"aws:CurrentTime": "2026-01-01T00:00:00Z"}}))
    earlier = pol(allow("logs:StartQuery", Condition={"DateGreaterThan": {"aws:CurrentTime": "2025-01-01T00:00:00Z"}}))
    assert check_no_new_access(earlier, early).result == "PASS"
    assert_fail(early, earlier)


def test_bool_null_and_case_insensitive_strings() -> None:
    secure = pol(allow("s3:GetObject", Condition={"Bool": {"aws:SecureTransport": "true"}}))
    cex = assert_fail(secure, pol(allow("s3:GetObject")))
    assert cex.context.get("aws:securetransport", "false").lower() != "true"
    tagged = pol(allow("ec2:RunInstances", Condition={"Null": {"aws:RequestTag/team": "false"}}))
    cex = assert_fail(tagged, pol(allow("ec2:RunInstances")))
    assert "aws:requesttag/team" not in cex.context
    ic = pol(allow("sts:TagSession", Condition={"StringEqualsIgnoreCase": {"aws:RequestTag/env": "prod"}}))
    exact = pol(allow("sts:TagSession", Condition={"StringEquals": {"aws:RequestTag/env": "prod"}}))
    assert check_no_new_access(ic, exact).result == "PASS"
    cex = assert_fail(exact, ic)
    assert str(cex.context["aws:requesttag/env"]).lower() == "prod" and cex.context["aws:requesttag/env"] != "prod"


def test_set_operators_on_a_multivalued_key() -> None:
    only_known = pol(allow("ec2:CreateTags", Condition={"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "env"]}}))
    fewer = pol(allow("ec2:CreateTags", Condition={"ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}}))
    assert check_no_new_access(only_known, fewer).result == "PASS"
    cex = assert_fail(fewer, only_known)
    assert "env" in cex.context["aws:tagkeys"]
    guard = pol(allow("ec2:CreateTags"), deny("ec2:CreateTags", Condition={"ForAnyValue:StringEquals": {"aws:TagKeys": ["security"]}}))
    cex = assert_fail(guard, pol(allow("ec2:CreateTags")))
    assert "security" in cex.context["aws:tagkeys"]


def test_policy_variables() -> None:
    own = pol(allow("s3:GetObject", "arn:aws:s3:::home/${aws:username}/*"))
    assert check_no_new_access(pol(allow("s3:GetObject", "arn:aws:s3:::home/*")), own).result == "PASS"
    cex = assert_fail(own, pol(allow("s3:GetObject", "arn:aws:s3:::home/*")))
    user = cex.context.get("aws:username")
    assert not (isinstance(user, str) and cex.resource.startswith(f"arn:aws:s3:::home/{user}/"))
    team = pol(allow("ec2:StopInstances", Condition={"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}))
    cex = assert_fail(team, pol(allow("ec2:StopInstances")))
    assert cex.context.get("aws:resourcetag/team") != cex.context.get("aws:principaltag/team") or "aws:resourcetag/team" not in cex.context


def test_not_action_and_not_resource() -> None:
    everything_but_iam = pol({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
    cex = assert_fail(pol(allow("s3:*")), everything_but_iam)
    assert not cex.action.startswith("iam:")
    assert check_access_not_granted(everything_but_iam, ["iam:PassRole"]).result == "PASS"
    not_secret = pol({"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::b/secret/*"})
    assert check_access_not_granted(not_secret, ["s3:GetObject"], ["arn:aws:s3:::b/secret/key"]).result == "PASS"
    r = check_access_not_granted(not_secret, ["s3:GetObject"], ["arn:aws:s3:::b/*"])
    assert r.result == "FAIL" and r.counterexample is not None and not r.counterexample.resource.startswith("arn:aws:s3:::b/secret/")


def test_access_not_granted_answers_as_the_evaluator() -> None:
    p = pol(allow("iam:PassRole", "arn:aws:iam::111122223333:role/app-*",
                  Condition={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}))
    assert check_access_not_granted(p, ["iam:PassRole"], ["arn:aws:iam::111122223333:role/admin"]).result == "PASS"
    r = check_access_not_granted(p, ["iam:PassRole"], ["arn:aws:iam::111122223333:role/*"])
    assert r.result == "FAIL" and r.counterexample is not None
    assert allowed(p, r.counterexample)
    assert r.counterexample.context["iam:passedtoservice"] == "ecs-tasks.amazonaws.com"
    with pytest.raises(ValueError):
        check_access_not_granted(p)


def test_policies_of_different_kinds_are_refused_not_misjudged() -> None:
    # a trust policy is compared with a trust policy (tests/analysis/test_proofs_principals.py), never with an
    # identity-based policy: their requests are not the same requests
    trust = parse_policy(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}), "trust")
    with pytest.raises(ValueError):
        check_no_new_access(trust, pol(allow("sts:AssumeRole")))
    with pytest.raises(ValueError):
        check_access_not_granted(pol(allow("s3:*")), ["s3:GetObject"], principals=["111122223333"])


def test_unmodelled_conditions_never_give_a_wrong_answer() -> None:
    # BinaryEquals on one side, a key compared both as text and as a number: approximated, still sound
    mixed = pol(allow("s3:GetObject", Condition={"StringEquals": {"s3:max-keys": "ten"}, "NumericEquals": {"s3:max-keys": "10"}}))
    r = check_no_new_access(pol(allow("s3:GetObject")), mixed)
    assert r.result == "PASS"
    r = check_no_new_access(mixed, pol(allow("s3:GetObject")))
    assert r.result in ("FAIL", "UNKNOWN")
    if r.result == "FAIL":
        assert r.counterexample is not None and not allowed(mixed, r.counterexample)


def test_the_case_fold_table_is_pythons() -> None:
    # every character whose str.lower() is one ASCII letter, from all of Unicode
    found: dict[str, set[str]] = {}
    for code in range(0x110000):
        ch = chr(code)
        low = ch.lower()
        if len(low) == 1 and low in _FOLDS:
            found.setdefault(low, set()).add(ch)
    assert {k: set(v) for k, v in _FOLDS.items()} == found


# -- property tests: the solver against the evaluator -------------------------------------------------------------

ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:Get*", "s3:*", "ec2:StartInstances", "ec2:*Instances", "*", "s3:?etObject"]
RESOURCES = ["*", "arn:aws:s3:::b/*", "arn:aws:s3:::b/a*", "arn:aws:s3:::c/x", "arn:aws:ec2:*:111122223333:instance/*",
             "arn:aws:ec2:us-east-1:*:instance/i-1", "arn:aws:s3:::b/${aws:username}/*"]
CONDITIONS: list[dict[str, Any]] = [
    {"StringEquals": {"aws:username": "alice"}},
    {"StringLike": {"aws:username": "a*"}},
    {"StringNotEquals": {"aws:ResourceTag/env": "prod"}},
    {"Bool": {"aws:SecureTransport": "true"}},
    {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
    {"NotIpAddress": {"aws:SourceIp": "10.1.0.0/16"}},
    {"NumericLessThan": {"s3:max-keys": "10"}},
    {"Null": {"aws:ResourceTag/env": "true"}},
    {"ForAnyValue:StringEquals": {"aws:TagKeys": ["a", "b"]}},
    {"ForAllValues:StringLike": {"aws:TagKeys": ["a*"]}},
    {"StringEqualsIfExists": {"aws:ResourceTag/env": "dev"}},
]

statements = st.builds(
    lambda effect, actions, resources, conds: {
        "Effect": effect, "Action": actions, "Resource": resources,
        **({"Condition": {k: v for c in conds for k, v in c.items()}} if conds else {}),
    },
    st.sampled_from(["Allow", "Allow", "Deny"]),
    st.lists(st.sampled_from(ACTIONS), min_size=1, max_size=2, unique=True),
    st.lists(st.sampled_from(RESOURCES), min_size=1, max_size=2, unique=True),
    st.lists(st.sampled_from(CONDITIONS), max_size=2, unique_by=lambda c: next(iter(c))),
)
policies = st.lists(statements, min_size=1, max_size=3).map(lambda sts: pol(*sts))

requests = st.builds(
    Counterexample,
    st.sampled_from(["s3:getobject", "s3:putobject", "s3:getbucket", "ec2:startinstances", "ec2:stopinstances", "iam:passrole"]),
    st.sampled_from(["arn:aws:s3:::b/x", "arn:aws:s3:::b/alice/k", "arn:aws:s3:::b/a", "arn:aws:s3:::c/x",
                     "arn:aws:ec2:us-east-1:111122223333:instance/i-1", "arn:aws:ec2:eu-west-1:444455556666:instance/i-1"]),
    st.dictionaries(
        st.sampled_from(["aws:username", "aws:resourcetag/env", "aws:securetransport", "aws:sourceip", "s3:max-keys", "aws:tagkeys"]),
        st.one_of(st.sampled_from(["alice", "bob", "prod", "dev", "true", "false", "10.0.0.1", "10.1.2.3", "8.8.8.8", "5", "12", "a"]),
                  st.lists(st.sampled_from(["a", "ab", "b", "c"]), min_size=1, max_size=3).map(tuple)),
        max_size=4,
    ),
)


# no shrinking: a failure is reported as found, not replayed through minutes of solver calls
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], phases=_NO_SHRINK)
@given(old=policies, new=policies, probes=st.lists(requests, max_size=25))
def test_no_new_access_agrees_with_the_evaluator(old: Policy, new: Policy, probes: list[Counterexample]) -> None:
    r = check_no_new_access(old, new, timeout_ms=20_000)
    if r.result == "FAIL":
        assert r.counterexample is not None
        assert allowed(new, r.counterexample) and not allowed(old, r.counterexample)
    elif r.result == "PASS":
        for probe in probes:
            assert not (allowed(new, probe) and not allowed(old, probe)), probe
    # the same policy never gains access over itself: never FAIL, and PASS unless the solver ran out of time
    same = check_no_new_access(new, new, timeout_ms=20_000)
    assert same.result == "PASS" or (same.result == "UNKNOWN" and "gave up" in same.message), same


# no shrinking: a failure is reported as found, not replayed through minutes of solver calls
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], phases=_NO_SHRINK)
@given(p=policies, action=st.sampled_from(ACTIONS[:6]), resource=st.sampled_from(RESOURCES[1:6]), probes=st.lists(requests, max_size=25))
def test_access_not_granted_agrees_with_the_evaluator(p: Policy, action: str, resource: str, probes: list[Counterexample]) -> None:
    import re

    from iamroles.policy.wildcard import compile_patterns, plain

    r = check_access_not_granted(p, [action], [resource], timeout_ms=20_000)
    if r.result == "FAIL":
        assert r.counterexample is not None and allowed(p, r.counterexample)
    elif r.result == "PASS":
        act = compile_patterns((plain(action),), True, "glob")
        res = compile_patterns((plain(resource),), False, "resource")
        for probe in probes:
            if act.match(probe.action) and res.match(probe.resource):
                assert not allowed(p, probe), probe
    del re


# -- the command line ---------------------------------------------------------------------------------------------

def test_cli_exit_codes_and_json(tmp_path: Any) -> None:
    old = tmp_path / "old.json"
    new = tmp_path / "new.json"
    old.write_text(json.dumps({"Version": "2012-10-17", "Statement": [allow("s3:GetObject", "arn:aws:s3:::b/*")]}))
    new.write_text(json.dumps({"Version": "2012-10-17", "Statement": [allow("s3:*", "arn:aws:s3:::b/*")]}))
    runner = CliRunner()
    out = runner.invoke(main, ["analyze", "check-no-new-access", str(new), str(old)])
    assert out.exit_code == 0 and out.output.startswith("PASS"), out.output
    out = runner.invoke(main, ["analyze", "check-no-new-access", str(old), str(new), "--json"])
    assert out.exit_code == 5, out.output
    body = json.loads(out.output)
    assert body["result"] == "FAIL" and body["counterexample"]["action"].startswith("s3:")
    out = runner.invoke(main, ["analyze", "check-access-not-granted", str(new), "--actions", "s3:PutObject",
                               "--resources", "arn:aws:s3:::other/*"])
    assert out.exit_code == 0 and out.output.startswith("PASS"), out.output
    out = runner.invoke(main, ["analyze", "check-access-not-granted", str(new)])
    assert out.exit_code == 2
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    out = runner.invoke(main, ["analyze", "check-no-new-access", str(bad), str(new)])
    assert out.exit_code == 1 and "Traceback" not in out.output
