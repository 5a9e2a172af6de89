"""The policy core's reasons beyond an effect: statement positions (policy/positions.py), the context keys a document
reads and those a request misses, and each policy type's own answer (policy/explain.py).

Positions: the CLI reference's simulate-custom-policy example (a one-line document whose Statement is an object:
Line 1, Columns 38 to 167) and answers IAM gave for documents whose Statement is an array.
"""
from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from iamroles.policy import Effect, PolicyKind, PolicySet, PolicyType, Principal, Request, evaluate, parse_policy
from iamroles.policy.explain import context_keys, missing_context_keys, type_effects
from iamroles.policy.positions import Position, Span, statement_spans

CLI_SIMULATE = "https://docs.aws.amazon.com/cli/latest/reference/iam/simulate-custom-policy.html"
CLI_KEYS = "https://docs.aws.amazon.com/cli/latest/reference/iam/get-context-keys-for-custom-policy.html"
ALICE = Principal.from_arn("arn:aws:iam::111122223333:user/alice", tags={"team": "blue"})


def span(a: int, b: int, c: int, d: int) -> Span:
    return Span(Position(a, b), Position(c, d))


def test_positions_of_the_cli_references_example() -> None:  # CLI_SIMULATE
    text = ('{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":"*",'
            '"Condition":{"DateGreaterThan":{"aws:CurrentTime":"2018-08-16T12:00:00Z"}}}}')
    assert statement_spans(text) == (span(1, 38, 1, 167),)


def test_positions_in_an_array_of_statements() -> None:
    """Answers seen from IAM: a bucket policy as S3 returns it (compact) gave 1:38-1:248 and 1:248-1:470; an identity
    policy as json.dumps writes it 1:41-1:180; AdministratorAccess as IAM stores it 3:17-8:6."""
    bucket = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "*",
         "Resource": ["arn:aws:s3:::tims-fancy-bucket/*", "arn:aws:s3:::tims-fancy-bucket"],
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {"Sid": "DenyTimDelete", "Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject",
         "Resource": "arn:aws:s3:::tims-fancy-bucket/*",
         "Condition": {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::112233445566:role/tims-test-role"}}}]},
        separators=(",", ":"))
    assert statement_spans(bucket) == (span(1, 38, 1, 248), span(1, 248, 1, 470))
    role = json.dumps({"Version": "2012-10-17", "Statement": [{"Sid": "s3", "Effect": "Allow", "Action": [
        "s3:GetObject", "s3:DeleteObject"], "Resource": ["arn:aws:s3:::tims-fancy-bucket/only-here/*"]}]})
    assert statement_spans(role) == (span(1, 41, 1, 180),)
    admin = '{\n  "Version": "2012-10-17",\n  "Statement": [\n    {\n      "Effect": "Allow",\n      "Action": "*",\n      "Resource": "*"\n    }\n  ]\n}'
    assert statement_spans(admin) == (span(3, 17, 8, 6),)
    assert statement_spans(admin.replace("\n", "\r\n")) == (span(3, 17, 8, 6),)  # CRLF is one break


def test_positions_read_json_not_text() -> None:
    """Braces and brackets inside strings, escaped quotes, an escaped key, Statement after other keys, nested values."""
    text = ('{"Id":"a{b}[c]\\"}","Version":"2012-10-17","St\\u0061tement":[{"Sid":"A","Effect":"Allow","Action":"s3:*",'
            '"Resource":"arn:aws:s3:::x/{}","Condition":{"StringLike":{"s3:prefix":["}","]"]}}}, {"Effect":"Deny",'
            '"Action":"s3:*","Resource":"*"}]}')
    spans = statement_spans(text)
    assert len(spans) == 2
    first, second = spans
    end = text.index("}}}") + 3
    assert first.end == Position(1, end + 1)
    assert second.start == first.end and second.end == Position(1, len(text) - 1)
    assert statement_spans('{"Version":"2012-10-17"}') == ()
    assert statement_spans("not json") == ()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(["Sid", "Effect", "Action", "Resource", "X"]),
                                st.one_of(st.text(max_size=8), st.lists(st.text(max_size=5), max_size=3)), min_size=1),
                min_size=1, max_size=4),
       st.sampled_from([None, 0, 1, 2, 4, "\t"]), st.booleans(), st.booleans())
def test_each_span_holds_its_statement(statements: list[dict[str, Any]], indent: Any, compact: bool, single: bool) -> None:
    """Whatever the layout, the text from just before each statement's '{' to its span's end is that statement."""
    value: Any = statements[0] if single else statements
    text = json.dumps({"Version": "2012-10-17", "Statement": value}, indent=indent,
                      separators=(",", ":") if compact else None, ensure_ascii=False)
    spans = statement_spans(text)
    assert len(spans) == (1 if single else len(statements))
    lines = text.split("\n")
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    for s, want in zip(spans, [value] if single else statements):
        end = starts[s.end.line - 1] + s.end.column - 1
        begin = starts[s.start.line - 1] + s.start.column - 1
        chunk = text[begin:end]
        brace = chunk.index("{") if not single else -1
        assert json.loads(chunk[brace:] if not single else "{" + chunk) == want


def test_context_keys_in_document_order_once_each() -> None:  # CLI_KEYS
    cli = parse_policy('{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":'
                       '"arn:aws:dynamodb:us-west-2:123456789012:table/${aws:username}","Condition":{"DateGreaterThan":'
                       '{"aws:CurrentTime":"2015-08-16T12:00:00Z"}}}}')
    assert context_keys([cli.document]) == ("aws:username", "aws:CurrentTime")
    other = parse_policy(json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/${aws:PrincipalTag/team, 'x'}/${*}/${$}",
        "Condition": {"StringEquals": {"AWS:UserName": "${aws:userid}"}, "Null": {"s3:prefix": "false"}}}]}))
    assert context_keys([cli.document, other.document]) == (
        "aws:username", "aws:CurrentTime", "aws:PrincipalTag/team", "aws:userid", "s3:prefix")


def test_missing_context_keys_are_those_of_the_statements_that_could_take_part() -> None:
    policy = parse_policy(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::a/*",
         "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}, "StringEquals": {"aws:PrincipalTag/team": "blue"}}},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/${aws:username}/${s3:x}",
         "Condition": {"Bool": {"aws:SecureTransport": "true"}}},
        {"Effect": "Deny", "Action": "s3:PutObject", "Resource": "*", "Condition": {"Bool": {"aws:ViaAWSService": "true"}}},
    ]}), name="p")
    a = Request(ALICE, "s3:GetObject", "arn:aws:s3:::a/k")
    assert missing_context_keys(a, [policy]) == ("aws:SourceIp",)  # the tag and the user name come from the principal
    b = Request(ALICE, "s3:GetObject", "arn:aws:s3:::b/alice/k")  # ${s3:x} is unresolved: the statement could apply
    assert missing_context_keys(b, [policy]) == ("s3:x", "aws:SecureTransport")
    every = Request(Principal(ALICE.type, account="111122223333"), "s3:GetObject", "*")
    assert missing_context_keys(every, [policy]) == ("aws:SourceIp", "aws:PrincipalTag/team", "aws:username", "s3:x",
                                                     "aws:SecureTransport")
    timed = Request(ALICE, "s3:PutObject", "x", context={"aws:viaawsservice": "false"})
    assert missing_context_keys(timed, [policy]) == ()


def test_each_policy_types_own_answer_agrees_with_the_decision() -> None:
    def p(kind: PolicyKind, *statements: dict[str, Any]) -> Any:
        return parse_policy(json.dumps({"Version": "2012-10-17", "Statement": list(statements)}), kind)

    identity = p(PolicyKind.IDENTITY, {"Effect": "Allow", "Action": "s3:*", "Resource": "*"})
    boundary = p(PolicyKind.BOUNDARY, {"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"},
                 {"Effect": "Deny", "Action": "s3:GetBucketPolicy", "Resource": "*"})
    resource = p(PolicyKind.RESOURCE, {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                                       "Action": "s3:GetObject", "Resource": "*"})
    scp = p(PolicyKind.SCP, {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "*"})
    policies = PolicySet(identity=[identity], boundary=boundary, resource=resource, scp=[[scp]])
    for action, want in (
        ("s3:GetObject", {PolicyType.IDENTITY: Effect.ALLOW, PolicyType.BOUNDARY: Effect.ALLOW, PolicyType.RESOURCE: Effect.ALLOW,
                          PolicyType.SCP: Effect.ALLOW}),
        ("s3:PutObject", {PolicyType.IDENTITY: Effect.ALLOW, PolicyType.BOUNDARY: Effect.IMPLICIT_DENY,
                          PolicyType.RESOURCE: Effect.IMPLICIT_DENY, PolicyType.SCP: Effect.ALLOW}),
        ("s3:GetBucketPolicy", {PolicyType.IDENTITY: Effect.ALLOW, PolicyType.BOUNDARY: Effect.EXPLICIT_DENY,
                                PolicyType.RESOURCE: Effect.IMPLICIT_DENY, PolicyType.SCP: Effect.IMPLICIT_DENY}),
    ):
        request = Request(ALICE, action, "arn:aws:s3:::b/k", "444455556666")
        effects = type_effects(request, policies)
        assert effects == want
        decision = evaluate(request, policies)
        # the decision is allowed only if every type allows, explicitly denied if any type does
        assert decision.allowed == all(e is Effect.ALLOW for e in effects.values())
        assert (decision.effect is Effect.EXPLICIT_DENY) == (Effect.EXPLICIT_DENY in effects.values())
