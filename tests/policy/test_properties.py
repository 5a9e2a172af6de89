"""Property tests: the policy parser never crashes.

Whatever text it is given, for every policy kind, ``parse_policy`` either
returns a policy or raises :class:`PolicyError` (the one error the policy core
raises, which the service layer turns into MalformedPolicyDocument), and
``validate_policy`` returns a list of problems that is empty exactly when
``parse_policy`` succeeds.
"""
from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iamroles.policy import PolicyError, PolicyKind, parse_policy, validate_policy

KINDS = list(PolicyKind)

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- strategies ---------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)

json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)

TOP_KEYS = ["Version", "Id", "Statement"]
STATEMENT_KEYS = [
    "Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction",
    "Resource", "NotResource", "Condition",
]
OPERATORS = [
    "StringEquals", "StringLike", "StringNotEqualsIgnoreCase", "NumericLessThan", "DateGreaterThan",
    "Bool", "BinaryEquals", "IpAddress", "NotIpAddress", "ArnLike", "Null", "BoolIfExists",
    "ForAllValues:StringEquals", "ForAnyValue:StringLike", "ForAnyValue:StringEqualsIfExists",
    "StringEqual", "ForAllValues:", "IfExists", "x", "",
]

# Strings that look like the parts of a policy, so that generated documents
# get past the first checks and reach the deeper ones.
policy_strings = st.sampled_from([
    "2012-10-17", "2008-10-17", "2013-10-17", "Allow", "Deny", "allow", "*", "", " ",
    "s3:GetObject", "s3:*", "iam: x ", "s3:Get:Object", "a a:b", "sts:AssumeRole",
    "arn:aws:s3:::bucket/*", "arn:aws:iam::123456789012:root", "arn:aws:iam::123456789012:role/*",
    "arn:aws:iam:us-east-1::x", "arn:aws:s3::bucket", "arn:aws", "arn:aws::::x", "a:b", "arn:error:s3:::b",
    "arn:aws:sts::123456789012:assumed-role/R/s", "123456789012", "ec2.amazonaws.com",
    "aws:SourceIp", "aws:CurrentTime", "203.0.113.0/24", "2019-07-01T13:20:15Z", "9223372036854775808",
    "${aws:username}", "${", "Stmt1", "Sid-1", "\u0000", "\ud7ff\U0001f600",
]) | st.text(max_size=12)

policy_scalars = policy_strings | scalars
string_or_list = policy_strings | st.lists(policy_scalars, max_size=4) | json_values

principal_values = (
    st.just("*")
    | st.dictionaries(
        st.sampled_from(["AWS", "Service", "Federated", "CanonicalUser", "STAR", "aws"]) | st.text(max_size=5),
        string_or_list,
        max_size=3,
    )
    | json_values
)

condition_values = (
    st.dictionaries(
        st.sampled_from(OPERATORS) | st.text(max_size=8),
        st.dictionaries(st.sampled_from(["aws:SourceIp", "s3:prefix", "a", "aws:TagKeys"]) | st.text(max_size=6),
                        string_or_list, max_size=3)
        | json_values,
        max_size=3,
    )
    | json_values
)

statement_values = {
    "Sid": policy_strings | json_values,
    "Effect": policy_strings | json_values,
    "Principal": principal_values,
    "NotPrincipal": principal_values,
    "Action": string_or_list,
    "NotAction": string_or_list,
    "Resource": string_or_list,
    "NotResource": string_or_list,
    "Condition": condition_values,
}


@st.composite
def statements(draw: st.DrawFn) -> dict[str, Any]:
    keys = draw(st.lists(st.sampled_from(STATEMENT_KEYS), unique=True, max_size=len(STATEMENT_KEYS)))
    out = {key: draw(statement_values[key]) for key in keys}
    if draw(st.booleans()):
        out.update(draw(st.dictionaries(st.text(max_size=8), json_values, max_size=2)))
    return out


actions = st.sampled_from(["s3:GetObject", "s3:*", "*", "sts:AssumeRole", "sts:TagSession", "ec2:Describe*", "iam:?et*"])
resources = st.sampled_from(["*", "arn:aws:s3:::bucket/*", "arn:aws:iam::123456789012:user/${aws:username}",
                             "arn:aws:ec2:*:*:instance/*", "arn:aws:sqs:us-east-1:123456789012:queue"])
principals = st.sampled_from([
    "*", {"AWS": "*"}, {"AWS": "123456789012"}, {"AWS": ["arn:aws:iam::123456789012:root"]},
    {"Service": "ec2.amazonaws.com"}, {"Federated": "arn:aws:iam::123456789012:saml-provider/idp"},
    {"CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"},
])
conditions = st.dictionaries(
    st.sampled_from(OPERATORS[:15]),
    st.dictionaries(st.sampled_from(["aws:SourceIp", "s3:prefix", "aws:TagKeys", "aws:CurrentTime", "aws:SecureTransport"]),
                    st.sampled_from(["203.0.113.0/24", "home/*", "true", "2019-07-01T13:20:15Z", "x"])
                    | st.lists(st.sampled_from(["a", "b", "1"]), max_size=3),
                    min_size=1, max_size=2),
    max_size=2,
)


@st.composite
def plausible_statement(draw: st.DrawFn) -> dict[str, Any]:
    """Mostly well-formed statements, so generated policies reach the kind rules."""
    out: dict[str, Any] = {"Effect": draw(st.sampled_from(["Allow", "Deny"]))}
    out["NotAction" if draw(st.integers(0, 4)) == 0 else "Action"] = draw(actions | st.lists(actions, min_size=1, max_size=3))
    if draw(st.booleans()):
        out["NotResource" if draw(st.integers(0, 4)) == 0 else "Resource"] = draw(resources | st.lists(resources, min_size=1, max_size=2))
    if draw(st.booleans()):
        out["NotPrincipal" if draw(st.integers(0, 4)) == 0 else "Principal"] = draw(principals)
    if draw(st.booleans()):
        out["Condition"] = draw(conditions)
    if draw(st.booleans()):
        out["Sid"] = draw(st.sampled_from(["S1", "S2", "Stmt 1", ""]))
    return out


@st.composite
def policy_like(draw: st.DrawFn) -> Any:
    keys = draw(st.lists(st.sampled_from(TOP_KEYS), unique=True, max_size=3))
    if draw(st.booleans()):
        keys = ["Version", "Statement"] + [k for k in keys if k not in ("Version", "Statement")]
    out: dict[str, Any] = {}
    for key in keys:
        if key == "Version" and draw(st.booleans()):
            out[key] = "2012-10-17"
        elif key == "Statement":
            one = plausible_statement() | statements()
            out[key] = draw(one | st.lists(one | json_values, max_size=4) | json_values)
        else:
            out[key] = draw(policy_strings | json_values)
    if draw(st.integers(min_value=0, max_value=4)) == 0:
        out.update(draw(st.dictionaries(st.text(max_size=8), json_values, max_size=2)))
    return out


VALID_BASE = {
    "Version": "2012-10-17",
    "Statement": [{
        "Sid": "Base",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
        "Action": ["s3:GetObject", "sts:AssumeRole"],
        "Resource": "arn:aws:s3:::bucket/*",
        "Condition": {"StringEquals": {"aws:PrincipalTag/team": "blue"}},
    }],
}


@st.composite
def mutated_valid(draw: st.DrawFn) -> Any:
    """A valid-looking document with one element replaced or removed."""
    doc = json.loads(json.dumps(VALID_BASE))
    stmt = doc["Statement"][0]
    where = draw(st.sampled_from(["top", "statement", "condition"]))
    target: dict[str, Any]
    if where == "top":
        target = doc
    elif where == "statement":
        target = stmt
    else:
        target = stmt["Condition"]
    key = draw(st.sampled_from(sorted(target)) | st.text(max_size=6))
    if draw(st.booleans()) and key in target:
        del target[key]
    else:
        target[key] = draw(json_values | policy_strings)
    return doc


def _texts_of(value: Any) -> str:
    return json.dumps(value)  # may contain NaN/Infinity, which are not JSON


# -- the property -------------------------------------------------------------

def _check(text: str) -> None:
    for kind in KINDS:
        problems = validate_policy(text, kind)
        assert isinstance(problems, list)
        for problem in problems:
            assert isinstance(problem.message, str) and problem.message
        try:
            policy = parse_policy(text, kind)
        except PolicyError as err:
            assert problems, f"parse_policy rejected ({err}) what validate_policy accepted, kind={kind.value}"
            assert str(err)
        else:
            assert policy is not None
            assert problems == [], (kind.value, [p.message for p in problems])


@SETTINGS
@given(st.text())
def test_arbitrary_text(text: str) -> None:
    _check(text)


@SETTINGS
@given(json_values)
def test_arbitrary_json(value: Any) -> None:
    _check(_texts_of(value))


@SETTINGS
@given(policy_like())
def test_policy_like_documents(value: Any) -> None:
    _check(_texts_of(value))


@SETTINGS
@given(mutated_valid())
def test_mutated_valid_documents(value: Any) -> None:
    _check(_texts_of(value))


@SETTINGS
@given(st.sampled_from([json.dumps(VALID_BASE)]), st.integers(min_value=0, max_value=200), st.text(max_size=3))
def test_corrupted_text(text: str, at: int, insert: str) -> None:
    at = min(at, len(text))
    _check(text[:at] + insert + text[at + 1:])


def test_deeply_nested_json() -> None:
    _check("[" * 100_000 + "]" * 100_000)
    _check('{"Statement":' * 5_000 + "1" + "}" * 5_000)
