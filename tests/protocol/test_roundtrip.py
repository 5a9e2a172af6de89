"""iamroles' Query protocol against botocore's own, for every IAM and STS operation in botocore's models.

* requests: params botocore's ParamValidator accepts, serialised by botocore's Query serializer and
  form-encoded as its client sends them, are parsed by ``parse_request`` into exactly those params
  (modulo ``shapes.sent``);
* responses: a value generated for the output shape, rendered by ``render_response``, is parsed by
  botocore's Query response parser into the same value (modulo ``shapes.received``);
* errors: ``render_error`` parsed by botocore gives back the code, message, type, request id and
  HTTP status, whatever the message holds;
* rejections: a request breaking the model at one place (a required member left out, a string or
  list too long or too short, a pattern or enum mismatch, an integer out of range) is refused with
  a ValidationError that names the parameter AWS's way and the constraint, and that error reaches
  a botocore client intact.

Values come from ``shapes.Generator`` in four variants (full, minimal, max, empty).
"""
from __future__ import annotations

import re
import sys
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

import iamroles.errors as errors
from iamroles.protocol import parse_request, render_error, render_response, service_model
from iamroles.protocol.query import _pattern

from .shapes import (
    KINDS,
    MAX_STRING,
    VARIANTS,
    Generator,
    all_operations,
    botocore_form,
    botocore_parse,
    botocore_validates,
    nodes,
    operation,
    received,
    request_expected,
    violations,
    xml_kept,
)

OPS = all_operations()
OUTPUT_OPS = [(svc, name) for svc, name in OPS if operation(svc, name).output_shape is not None]


def _ids(cases: list[tuple[str, ...]]) -> list[str]:
    return [".".join(case[:2]) + "".join(f"-{c}" for c in case[2:]) for case in cases]


# -- requests -------------------------------------------------------------------------------------

REQUEST_CASES = [(svc, name, v) for svc, name in OPS for v in VARIANTS]


@pytest.mark.parametrize("svc,name,variant", REQUEST_CASES, ids=_ids(REQUEST_CASES))
def test_request_roundtrip(svc: str, name: str, variant: str) -> None:
    op = operation(svc, name)
    params = Generator(variant).value(op.input_shape) if op.input_shape is not None else {}
    botocore_validates(params, op)
    form = botocore_form(params, op)
    parsed_op, parsed = parse_request(form, service_model(svc))
    assert parsed_op.name == name
    assert parsed == request_expected(params, op)


def test_unknown_parameters_are_ignored() -> None:
    op = operation("iam", "GetRole")
    form = botocore_form({"RoleName": "r"}, op) | {"Unknown": "x", "RoleName.member.1": "y", "AWSAccessKeyId": "AKIA"}
    assert parse_request(form, service_model("iam"))[1] == {"RoleName": "r"}


@pytest.mark.parametrize("form,error,message", [
    ({"Version": "2010-05-08"}, errors.MissingAction, "Missing Action"),
    ({"Action": "", "Version": "2010-05-08"}, errors.MissingAction, "Missing Action"),
    ({"Action": "GetRolez", "Version": "2010-05-08"}, errors.InvalidAction,
     "Could not find operation GetRolez for version 2010-05-08"),
])
def test_action_errors(form: dict[str, str], error: type[errors.AwsError], message: str) -> None:
    with pytest.raises(error) as info:
        parse_request(form, service_model("iam"))
    assert info.value.message == message


# -- responses ------------------------------------------------------------------------------------

RESPONSE_CASES = [(svc, name, v) for svc, name in OUTPUT_OPS for v in VARIANTS]


@pytest.mark.parametrize("svc,name,variant", RESPONSE_CASES, ids=_ids(RESPONSE_CASES))
def test_response_roundtrip(svc: str, name: str, variant: str) -> None:
    op = operation(svc, name)
    output = Generator(variant, salt=7).value(op.output_shape)
    parsed = botocore_parse(render_response(op, output, "req-\u00e9&<1>"), op)
    assert parsed.pop("ResponseMetadata") == {"RequestId": "req-\u00e9&<1>", "HTTPStatusCode": 200, "HTTPHeaders": {}}
    assert parsed == received(output, op.output_shape)


NO_OUTPUT_OPS = [(svc, name) for svc, name in OPS if operation(svc, name).output_shape is None]


@pytest.mark.parametrize("svc,name", NO_OUTPUT_OPS, ids=_ids(NO_OUTPUT_OPS))
def test_response_without_output(svc: str, name: str) -> None:
    op = operation(svc, name)
    parsed = botocore_parse(render_response(op, None, "rid"), op)
    assert parsed == {"ResponseMetadata": {"RequestId": "rid", "HTTPStatusCode": 200, "HTTPHeaders": {}}}


TEXTS = [
    "", " ", "  padded  ", "a & b < c > d", "&amp; &lt; &#13;", "]]>", "<![CDATA[x]]>", "\"'",
    "cr\ronly", "crlf\r\nline", "\r", "\r\n", "\n", "\t", "trailing\r", "\u2028\u0085\u00a0",
    "\U0001F600 \U00020000", "\x7f\x80\x9f",
    # characters XML 1.0 cannot carry at all: U+FFFD in their place
    "nul\x00", "bell\x07", "\x0b\x0c", "\x1f", "\ufffe\uffff",
]


@pytest.mark.parametrize("text", TEXTS, ids=[ascii(t) for t in TEXTS])
def test_response_strings(text: str) -> None:
    op = operation("iam", "GetPolicy")
    output = {"Policy": {"PolicyName": text, "Description": text, "Tags": [{"Key": text, "Value": text}]}}
    parsed = botocore_parse(render_response(op, output, "rid"), op)
    kept = xml_kept(text)
    assert parsed["Policy"] == {"PolicyName": kept, "Description": kept, "Tags": [{"Key": kept, "Value": kept}]}


def test_response_scalars() -> None:
    """Timestamps in any zone or none (UTC assumed), sub-millisecond parts cut; blobs of every
    byte and none; integers at their extremes; booleans both ways; maps and lists empty and not;
    None members left out."""
    ist = timezone(timedelta(hours=5, minutes=30))
    cases = [
        ("GetCredentialReport", {"Content": bytes(range(256)) * 3, "ReportFormat": "text/csv",
                                 "GeneratedTime": datetime(2024, 1, 1, 5, 29, 59, 999999, tzinfo=ist)}),
        ("GetCredentialReport", {"Content": b"", "GeneratedTime": datetime(1970, 1, 1)}),
        ("GetCredentialReport", {"Content": b"\x00", "GeneratedTime": datetime(2038, 1, 19, 3, 14, 8, 1000)}),
        ("GetAccountSummary", {"SummaryMap": {"Users": 2**31 - 1, "Roles": 0, "Groups": -1}}),
        ("GetAccountSummary", {"SummaryMap": {}}),
        ("ListRoles", {"Roles": [], "IsTruncated": False, "Marker": None}),
        ("ListRoles", {"Roles": [{"Path": "/", "RoleName": "r", "RoleId": "AROA", "Arn": "arn", "CreateDate":
                                  datetime(2024, 2, 29, tzinfo=UTC), "Description": None, "Tags": []}],
                       "IsTruncated": True, "Marker": "m"}),
    ]
    for name, output in cases:
        op = operation("iam", name)
        parsed = botocore_parse(render_response(op, output, "rid"), op)
        parsed.pop("ResponseMetadata")
        assert parsed == received(output, op.output_shape), name
    # the cases above say what they claim
    parsed = botocore_parse(render_response(operation("iam", "GetCredentialReport"), cases[0][1], "r"),
                            operation("iam", "GetCredentialReport"))
    assert parsed["GeneratedTime"] == datetime(2023, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)


# -- errors ---------------------------------------------------------------------------------------

ERROR_CLASSES = sorted(
    (c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.AwsError) and not c.__name__.startswith("_")),
    key=lambda c: c.__name__,
)
MESSAGES = [
    "Role with name r cannot be found.",
    "a & b < c > d \"quoted\" 'single'",
    "Value 'x\ry' at 'description' failed: CR kept",
    "line one\r\nline two\rline three\n",
    "\r",
    "non-ASCII \u00e9\u4e2d\U0001F600",
    "&amp; is not decoded twice; nor is &#13;",
    "]]> and <![CDATA[",
    "  leading and trailing spaces  ",
    "Value 'a\x00b\x01' at 'roleName' failed to satisfy constraint",  # U+FFFD in their place
    "",  # (botocore reads an empty element as None)
]


def _parse_error(status: int, body: bytes, svc: str) -> dict[str, Any]:
    op = operation(svc, "GetCallerIdentity" if svc == "sts" else "GetRole")
    return botocore_parse(body, op, status)


@pytest.mark.parametrize("svc", ["iam", "sts", None])
@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=[c.__name__ for c in ERROR_CLASSES])
def test_error_envelope(cls: type[errors.AwsError], svc: str | None) -> None:
    message = f"{cls.__name__}: a & b < c > d\r\ne"
    status, body = render_error(cls(message), "rid-&<>", service_model(svc) if svc else None)
    assert status == cls.status
    parsed = _parse_error(status, body, svc or "iam")
    assert parsed["Error"] == {"Code": cls.code, "Message": message, "Type": cls.fault}
    assert parsed["ResponseMetadata"] == {"RequestId": "rid-&<>", "HTTPStatusCode": cls.status, "HTTPHeaders": {}}


@pytest.mark.parametrize("message", MESSAGES, ids=[ascii(m) for m in MESSAGES])
def test_error_messages(message: str) -> None:
    status, body = render_error(errors.ValidationError(message), "rid", service_model("sts"))
    parsed = _parse_error(status, body, "sts")
    assert (status, parsed["Error"]["Message"], parsed["Error"]["Code"]) == (400, xml_kept(message) or None, "ValidationError")


def test_error_codes_match_the_models() -> None:
    """Every iamroles error whose code the models declare answers with the models' HTTP status
    and fault (botocore's client turns the code into the modelled exception class)."""
    by_code = {c.code: c for c in ERROR_CLASSES}
    checked = 0
    for svc in ("iam", "sts"):
        for shape in service_model(svc).error_shapes:
            declared = shape.metadata.get("error") or {}
            cls = by_code.get(declared.get("code"))
            if cls is None:
                continue
            checked += 1
            assert cls.status == declared["httpStatusCode"], (svc, shape.name)
            assert cls.fault == ("Sender" if declared.get("senderFault") else "Receiver"), (svc, shape.name)
    assert checked >= 15


# -- rejections -----------------------------------------------------------------------------------

VIOLATIONS = {(svc, name): violations(operation(svc, name)) for svc, name in OPS}
REJECT_CASES = sorted({(svc, name, v.kind) for (svc, name), vs in VIOLATIONS.items() for v in vs},
                      key=lambda c: (c[0], c[1], KINDS.index(c[2])))
_HEAD = re.compile(r"(\d+) validation errors? detected: ")


@pytest.mark.parametrize("svc,name,kind", REJECT_CASES, ids=_ids(REJECT_CASES))
def test_rejected(svc: str, name: str, kind: str) -> None:
    op = operation(svc, name)
    model = service_model(svc)
    for v in (v for v in VIOLATIONS[(svc, name)] if v.kind == kind):
        form = botocore_form(v.params, op, validate=False)
        with pytest.raises(errors.ValidationError) as info:
            parse_request(form, model)
        message = info.value.message
        head = _HEAD.match(message)
        assert head is not None, message
        assert int(head.group(1)) == len(v.failures), (v, message)
        for failure in v.failures:
            assert failure in message, (v, message)
        # and a botocore client reads it as sent
        status, body = render_error(info.value, "rid", model)
        assert _parse_error(status, body, svc)["Error"] == {"Code": "ValidationError", "Message": xml_kept(message),
                                                            "Type": "Sender"}


def test_rejections_cover_every_kind() -> None:
    kinds = {kind for _, _, kind in REJECT_CASES}
    assert kinds == set(KINDS)
    counts = {k: sum(1 for vs in VIOLATIONS.values() for v in vs if v.kind == k) for k in KINDS}
    assert all(n >= 20 for n in counts.values()), counts
    nested = [v for vs in VIOLATIONS.values() for v in vs if ".member." in v.where]
    assert len(nested) >= 100


# -- the parser's Java patterns -------------------------------------------------------------------


def test_unicode_classes() -> None:
    """\\p{L}, \\p{M}, \\p{N}, \\p{P}, \\p{S}, \\p{Z} match exactly the code points of those Unicode categories (Python's
    Unicode database), all planes; \\w and \\d are ASCII, as in Java."""
    every = "".join(map(chr, range(sys.maxunicode + 1)))
    for cat in "LMNPSZ":
        rx = _pattern(rf"[\p{{{cat}}}]")
        assert rx is not None
        matched = "".join(rx.findall(every))
        assert matched == "".join(c for c in every if unicodedata.category(c)[0] == cat), cat
    tag = _pattern(r"[\p{L}\p{Z}\p{N}_.:/=+\-@]+")
    assert tag is not None
    assert tag.fullmatch("Stra\u00dfe \u03a9\u4e2d\U00020000 \u0663\u00a0\u3000_.:/=+-@")
    for c in "\t\n\u00d7!&\U0001F600\x00":
        assert not tag.fullmatch("a" + c), ascii(c)
    word = _pattern(r"[\w+=,.@-]+")
    assert word is not None and word.fullmatch("Az09_+=,.@-") and not word.fullmatch("\u00e9") and not word.fullmatch("\u0663")
    assert _pattern(r"\d{12}").fullmatch("123456789012") and not _pattern(r"\d{12}").fullmatch("12345678901\u0663")


# -- the generator reaches what it claims ---------------------------------------------------------


def _walk_all(side: str) -> dict[str, int]:
    seen: dict[str, int] = {}

    def note(key: str) -> None:
        seen[key] = seen.get(key, 0) + 1

    for svc, name in OPS:
        op = operation(svc, name)
        shape = op.input_shape if side == "input" else op.output_shape
        if shape is None:
            continue
        for variant in VARIANTS:
            value = Generator(variant, salt=7 if side == "output" else 0).value(shape)
            for _, where, s, v in nodes(value, shape):
                t = s.type_name
                note(t)
                note(f"depth{min(where.count('.') - 2 * where.count('.member'), 3)}")
                if t in ("list", "map") and not v:
                    note(f"empty {t}")
                if t == "boolean":
                    note(f"boolean {v}")
                if t == "string":
                    for c, label in (("&", "&"), ("<", "<"), ("\r", "CR"), ("%", "%"), ("+", "+"), ("=", "="),
                                     ("\u00e9", "non-ASCII"), ("\U00020000", "supplementary"), ("\u3000", "\\p{Z}")):
                        if c in v:
                            note(f"string {label}")
                    if len(v) == MAX_STRING:
                        note("string at MAX_STRING")
    return seen


def test_generated_values_cover_the_wire() -> None:
    inputs, outputs = _walk_all("input"), _walk_all("output")
    for key in ("structure", "list", "empty list", "integer", "boolean True", "boolean False", "depth2",
                "string &", "string %", "string +", "string =", "string CR", "string non-ASCII",
                "string supplementary", "string \\p{Z}", "string at MAX_STRING"):
        assert inputs.get(key), (key, inputs)
    for key in ("structure", "list", "empty list", "map", "empty map", "timestamp", "blob", "integer",
                "boolean True", "boolean False", "depth3", "string &", "string <", "string CR",
                "string non-ASCII", "string supplementary"):
        assert outputs.get(key), (key, outputs)
