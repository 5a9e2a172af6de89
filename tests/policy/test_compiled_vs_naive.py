"""Property: the compiled iamroles evaluator decides exactly as a naive reading.

``naive.py`` is a deliberately simple, uncompiled evaluator written straight
from the AWS IAM User Guide.  Hypothesis generates small identity policies,
permissions boundaries and session policies over a small alphabet of actions,
ARNs, wildcard patterns, policy variables and condition operators, plus
requests with some context keys missing, and checks that
``iamroles.policy.evaluate`` and ``naive.evaluate`` return the same
Allow / ExplicitDeny / ImplicitDeny for every request.
"""
from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iamroles.policy import PolicyKind, PolicySet, Principal, Request, evaluate, parse_policy

from . import naive

ACCOUNT = "111122223333"
USER_ARN = f"arn:aws:iam::{ACCOUNT}:user/alice"

# --------------------------------------------------------------------------- alphabets

ACTION_PATTERNS = [
    "*",
    "s3:*",
    "s3:Get*",
    "S3:get*",
    "s3:?etObject",
    "s3:GetObject",
    "s3:PutObject",
    "s3:List*",
    "s3:*Object",
    "s3:Get?ucket*",
    "ec2:*",
    "ec2:Describe*",
    "EC2:describeinstances",
    "iam:*User*",
]

REQUEST_ACTIONS = [
    "s3:GetObject",
    "s3:PutObject",
    "s3:ListBucket",
    "s3:GetBucketPolicy",
    "S3:getobject",
    "ec2:DescribeInstances",
    "ec2:RunInstances",
    "iam:GetUser",
    "iam:CreateUser",
    "sts:GetCallerIdentity",
]

RESOURCE_PATTERNS = [
    "*",
    "arn:aws:s3:::*",
    "arn:aws:s3:::b",
    "arn:aws:s3:::b/*",
    "arn:aws:s3:::B/*",
    "arn:aws:s3:::b?/k*",
    "arn:aws:s3:::b/${aws:username}/*",
    "arn:aws:s3:::b/${aws:PrincipalTag/team}/*",
    "arn:aws:s3:::b/${aws:PrincipalTag/team, 'shared'}/*",
    "arn:aws:s3:::b/home/${aws:username}",
    "arn:aws:s3:::b/${*}",
    "arn:aws:ec2:*:111122223333:instance/*",
    "arn:aws:ec2:us-*:111122223333:instance/i-?",
    "arn:aws:ec2:us-east-1:*:*",
    "arn:aws:iam::111122223333:user/${aws:username}",
    "arn:aws:iam::111122223333:user/*",
    "arn:aws:iam::*:user/Alice",
    # fewer than six segments: a trailing * of the pattern runs past the colons
    # ("arn:aws:iam::*" is not here: with "::" and under five colons IAM's
    # legacy parser rejects it, see cases/parse/grammar.json)
    "arn:aws:ec2:*",
    "arn:aws:ec2:*:instance/*",
]

REQUEST_RESOURCES = [
    "arn:aws:s3:::b",
    "arn:aws:s3:::b/alice/k",
    "arn:aws:s3:::b/blue/k",
    "arn:aws:s3:::b/shared/k",
    "arn:aws:s3:::b/home/alice",
    "arn:aws:s3:::B/alice/k",
    "arn:aws:s3:::b2/k1",
    "arn:aws:s3:::b/*",
    "arn:aws:s3:::b/${aws:username}/k",
    "arn:aws:ec2:us-east-1:111122223333:instance/i-1",
    "arn:aws:ec2:eu-west-1:111122223333:instance/i-12",
    "arn:aws:ec2:us-east-1:111122223333:volume/v-1",
    "arn:aws:iam::111122223333:user/alice",
    "arn:aws:iam::111122223333:user/Alice",
]

TIMES = [
    datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC),
    datetime(2026, 1, 1, tzinfo=UTC),
    datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
]

PRINCIPAL_TAGS = [{}, {"team": "blue"}, {"team": "Blue"}, {"team": "green"}, {"team": "alice"}]

STRING_OPS = ["StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "StringLike", "StringNotLike"]
NUMERIC_OPS = ["NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals"]
DATE_OPS = ["DateEquals", "DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan", "DateGreaterThanEquals"]
IP_OPS = ["IpAddress", "NotIpAddress"]
ARN_OPS = ["ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"]
BOOL_OPS = ["Bool"]

# key spellings (condition key names are case-insensitive), operator family,
# policy values, whether a set qualifier is the normal use (multivalued key)
KEYS: dict[str, tuple[list[str], list[str], list[Any], bool]] = {
    "ip": (["aws:SourceIp", "aws:sourceip", "AWS:SourceIP"], IP_OPS,
           ["10.0.0.0/8", "10.1.2.0/24", "192.0.2.1/32", "192.0.2.1", "203.0.113.0/24", "2001:db8::/32", "0.0.0.0/0"], False),
    "team": (["aws:PrincipalTag/team", "AWS:principaltag/team"], STRING_OPS,
             ["blue", "Blue", "b*", "gr?en", "red", "*", "${aws:username}", "${aws:PrincipalTag/team}"], False),
    "time": (["aws:CurrentTime", "aws:currenttime"], DATE_OPS,
             ["2025-06-01T00:00:00Z", "2026-01-01T00:00:00Z", "2026-01-01T01:00:00+01:00", "2026-06-30T23:59:59Z", "2026-01-01T00:00:00.000Z", "2026-01-01", "1767225600"], False),
    "epoch": (["aws:EpochTime"], NUMERIC_OPS, ["1767225600", "1767225599", "1767225600.0", 1767225601], False),
    "maxkeys": (["s3:max-keys"], NUMERIC_OPS, ["10", "10.0", "100", 5], False),
    "secure": (["aws:SecureTransport", "aws:securetransport"], BOOL_OPS, ["true", "false", True, False], False),
    "prefix": (["s3:prefix", "S3:Prefix"], STRING_OPS,
               ["home/", "home/${aws:username}/*", "home/${aws:username}", "home/*", "home/${*}", "", "HOME/*", "home/?ob/"], False),
    "tagkeys": (["aws:TagKeys", "aws:tagkeys"], STRING_OPS, ["a", "b", "c*", "A"], True),
    "parn": (["aws:PrincipalArn"], ARN_OPS,
             [USER_ARN, "arn:aws:iam::*:user/*", "arn:aws:iam::111122223333:user/${aws:username}",
              "arn:aws:iam::111122223333:user/A*", "arn:aws:iam::111122223333:role/*", "arn:aws:iam::111122223333:*"], False),
}

CONTEXT_VALUES: dict[str, list[Any]] = {
    "aws:SourceIp": ["10.1.2.3", "192.0.2.1", "203.0.113.5", "2001:db8::1", "172.16.0.1"],
    "aws:SecureTransport": ["true", "false", True, False],
    "s3:prefix": ["home/alice/x", "home/bob/", "home/", "HOME/x", "home/*", "", "home/alice"],
    "aws:TagKeys": [[], ["a"], ["a", "b"], ["A"], ["d"], ["a", "cx"], ["b", "d"]],
    "s3:max-keys": ["10", "50", "1000", "5"],
}

# --------------------------------------------------------------------------- strategies


def one_or_list(elements: st.SearchStrategy[Any], max_size: int = 3) -> st.SearchStrategy[Any]:
    return st.one_of(elements, st.lists(elements, min_size=1, max_size=max_size, unique_by=json.dumps))


@st.composite
def condition_entry(draw: st.DrawFn) -> tuple[str, str, Any]:
    family = draw(st.sampled_from(sorted(KEYS)))
    spellings, ops, values, multivalued = KEYS[family]
    key = draw(st.sampled_from(spellings))
    if draw(st.integers(0, 9)) == 0:
        return "Null", key, draw(st.sampled_from(["true", "false", True, False]))
    op = draw(st.sampled_from(ops))
    if draw(st.booleans()):
        op += "IfExists"
    if multivalued or draw(st.integers(0, 4)) == 0:  # set qualifiers on single-valued keys too, sometimes
        op = draw(st.sampled_from(["ForAllValues:", "ForAnyValue:"])) + op
    return op, key, draw(one_or_list(st.sampled_from(values)))


@st.composite
def condition_block(draw: st.DrawFn) -> dict[str, dict[str, Any]]:
    block: dict[str, dict[str, Any]] = {}
    for op, key, value in draw(st.lists(condition_entry(), min_size=1, max_size=3)):
        block.setdefault(op, {})[key] = value
    return block


@st.composite
def statement(draw: st.DrawFn) -> dict[str, Any]:
    stmt: dict[str, Any] = {"Effect": draw(st.sampled_from(["Allow", "Allow", "Deny"]))}
    action_key = draw(st.sampled_from(["Action", "Action", "NotAction"]))
    stmt[action_key] = draw(one_or_list(st.sampled_from(ACTION_PATTERNS)))
    resource_key = draw(st.sampled_from(["Resource", "Resource", "NotResource"]))
    stmt[resource_key] = draw(one_or_list(st.sampled_from(RESOURCE_PATTERNS)))
    if draw(st.booleans()):
        stmt["Condition"] = draw(condition_block())
    return stmt


@st.composite
def policy(draw: st.DrawFn) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    version = draw(st.sampled_from(["2012-10-17"] * 6 + ["2008-10-17", None]))
    if version is not None:
        doc["Version"] = version
    statements = draw(st.lists(statement(), min_size=1, max_size=4))
    doc["Statement"] = statements[0] if len(statements) == 1 and draw(st.booleans()) else statements
    return doc


@st.composite
def request(draw: st.DrawFn) -> dict[str, Any]:
    context = {}
    for key, values in CONTEXT_VALUES.items():
        if draw(st.booleans()):
            context[key] = draw(st.sampled_from(values))
    return {
        "action": draw(st.sampled_from(REQUEST_ACTIONS)),
        "resource": draw(st.sampled_from(REQUEST_RESOURCES)),
        "context": context,
    }


@st.composite
def scenario(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "principal": {"arn": USER_ARN, "user_id": "AIDAALICEEXAMPLE", "tags": draw(st.sampled_from(PRINCIPAL_TAGS))},
        "time": draw(st.sampled_from(TIMES)),
        "identity": draw(st.lists(policy(), min_size=1, max_size=2)),
        # a boundary is a managed policy, and managed policies are Version 2012-10-17
        "boundary": draw(st.one_of(st.none(), st.none(), policy().map(lambda d: {**d, "Version": "2012-10-17"}))),
        "session": draw(st.one_of(st.just([]), st.just([]), st.lists(policy(), min_size=1, max_size=2))),
        "requests": draw(st.lists(request(), min_size=1, max_size=6)),
    }


# --------------------------------------------------------------------------- the property


def _compiled(s: dict[str, Any]) -> PolicySet:
    def one(doc: dict[str, Any], kind: PolicyKind) -> Any:
        return parse_policy(json.dumps(doc), kind)

    return PolicySet(
        identity=tuple(one(d, PolicyKind.IDENTITY) for d in s["identity"]),
        boundary=one(s["boundary"], PolicyKind.BOUNDARY) if s["boundary"] is not None else None,
        session=tuple(one(d, PolicyKind.SESSION) for d in s["session"]),
    )


def _reproducer(s: dict[str, Any], r: dict[str, Any]) -> str:
    return json.dumps(
        {
            "principal": s["principal"],
            "time": s["time"].strftime("%Y-%m-%dT%H:%M:%SZ"),
            "policies": {"identity": s["identity"], "boundary": s["boundary"], "session": s["session"]},
            **r,
        },
        indent=1,
    )


# IAMROLES_NAIVE_EXAMPLES=5000 for a longer hunt.
@settings(max_examples=int(os.environ.get("IAMROLES_NAIVE_EXAMPLES", "400")), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(scenario())
def test_compiled_matches_naive(s: dict[str, Any]) -> None:
    policies = _compiled(s)
    principal = Principal.from_dict(s["principal"])
    for r in s["requests"]:
        expected = naive.evaluate(
            principal=s["principal"],
            action=r["action"],
            resource=r["resource"],
            context=r["context"],
            time=s["time"],
            identity=s["identity"],
            boundary=s["boundary"],
            session=s["session"],
        )
        decision = evaluate(
            Request(
                principal=principal,
                action=r["action"],
                resource=r["resource"],
                resource_account=ACCOUNT,
                context=r["context"],
                time=s["time"],
            ),
            policies,
        )
        assert decision.effect.value == expected, (
            f"iamroles={decision.effect.value} naive={expected}\n{_reproducer(s, r)}\n{decision.explain()}"
        )


# --------------------------------------------------------------------------- doc edges
# Single requests where iamroles and naive.py disagreed, each with the sentence of
# the User Guide that decides it.  They are kept out of the generated alphabet
# above so that the property keeps guarding everything else while these are open.

EDGE_CASES = [
    pytest.param(
        {"Effect": "Allow", "Action": "*", "Resource": "arn:aws:ec2:*:instance/*"},
        "arn:aws:ec2:us-east-1:111122223333:instance/i-1",
        "Allow",
        # reference_policies_elements_resource.html#reference_policies_elements_resource_wildcards
        id="resource-star-ending-a-middle-segment-spans-colons",
    ),
    pytest.param(
        # no wildcard at all: nothing lets the missing segments match anything
        {"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3"},
        "arn:aws:s3:::b",
        "ImplicitDeny",
        id="resource-truncated-arn-without-wildcard",
    ),
    pytest.param(
        {"Effect": "Deny", "Action": "*", "NotResource": "arn:aws:s3"},
        "arn:aws:s3:::b",
        "ExplicitDeny",
        id="notresource-truncated-arn-without-wildcard",
    ),
    pytest.param(
        {"Effect": "Allow", "Action": "*", "Resource": "*",
         "Condition": {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*"}}},
        "arn:aws:s3:::b",
        "ImplicitDeny",
        # reference_policies_elements_condition_operators.html#Conditions_ARN
        id="arnlike-five-component-pattern",
    ),
    pytest.param(
        {"Effect": "Allow", "Action": "*", "Resource": "*",
         "Condition": {"ArnLike": {"aws:PrincipalArn": "*"}}},
        "arn:aws:s3:::b",
        "ImplicitDeny",
        id="arnlike-bare-star",
    ),
    pytest.param(
        {"Effect": "Allow", "Action": "*", "Resource": "*",
         "Condition": {"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::111122223333"}}},
        "arn:aws:s3:::b",
        "ImplicitDeny",
        id="arnequals-truncated-arn",
    ),
    pytest.param(
        {"Effect": "Allow", "Action": "*", "Resource": "*",
         "Condition": {"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*"}}},
        "arn:aws:s3:::b",
        "Allow",
        id="arnnotlike-five-component-pattern",
    ),
]


@pytest.mark.parametrize(("stmt", "resource", "expect"), EDGE_CASES)
def test_doc_edge_case(stmt: dict[str, Any], resource: str, expect: str) -> None:
    """Resource: "If the * wildcard is the last character of a resource ARN segment,
    it can expand to match beyond the colon boundaries."  ArnLike/ArnEquals: "Each of
    the six colon-delimited components of the ARN is checked separately"."""
    s = {
        "principal": {"arn": USER_ARN, "user_id": "AIDAALICEEXAMPLE", "tags": {}},
        "time": TIMES[1],
        "identity": [{"Version": "2012-10-17", "Statement": [stmt]}],
        "boundary": None,
        "session": [],
    }
    r = {"action": "s3:GetObject", "resource": resource, "context": {}}
    assert naive.evaluate(principal=s["principal"], time=s["time"], identity=s["identity"], **r) == expect
    decision = evaluate(
        Request(principal=Principal.from_dict(s["principal"]), resource_account=ACCOUNT, time=s["time"], **r),
        _compiled(s),
    )
    assert decision.effect.value == expect, f"iamroles={decision.effect.value}\n{_reproducer(s, r)}"
