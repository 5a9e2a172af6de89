"""Secrets by the model's ``sensitive`` trait: never quoted in a ValidationError, hidden by ``redact``.

Every sensitive input member of every IAM and STS operation is tried with a value too long, too short
and off its pattern (as far as its shape constrains it), and with a good one. AWS names a sensitive
member without its value ("Value at 'password' failed to satisfy constraint: ...",
https://github.com/neillturner/terraform-aws-simplead/issues/1); CloudTrail writes
``HIDDEN_DUE_TO_SECURITY_REASONS`` in its place
(https://docs.aws.amazon.com/redshift/latest/mgmt/logging-with-cloudtrail.html).
"""
from __future__ import annotations

import json
from typing import Any

import pytest

from iamroles import errors
from iamroles.protocol import HIDDEN, holds_secret, parse_request, redact, service_model
from iamroles.protocol.redact import is_sensitive

from .shapes import Generator, all_operations, botocore_form, nodes, operation, replaced


def sensitive_inputs() -> list[tuple[str, str, tuple[Any, ...], str]]:
    """(service, operation, path in the full input, where AWS names it) for every sensitive input member."""
    out = []
    for svc, name in all_operations():
        op = operation(svc, name)
        if op.input_shape is None:
            continue
        params = Generator("full").value(op.input_shape)
        for path, where, shape, _ in nodes(params, op.input_shape):
            if is_sensitive(shape):
                out.append((svc, name, path, where))
    return out


SENSITIVE = sensitive_inputs()


def test_the_models_sensitive_inputs_are_all_found() -> None:
    found = {(svc, name, where) for svc, name, _, where in SENSITIVE}
    assert {("iam", "ChangePassword", "oldPassword"), ("iam", "ChangePassword", "newPassword"),
            ("iam", "CreateLoginProfile", "password"), ("iam", "UpdateLoginProfile", "password"),
            ("iam", "UploadServerCertificate", "privateKey"), ("sts", "AssumeRoleWithWebIdentity", "webIdentityToken"),
            ("sts", "AssumeRoleWithSAML", "sAMLAssertion"),
            # MFA one-time codes, held secret beyond the model's trait
            ("sts", "AssumeRole", "tokenCode"), ("sts", "GetSessionToken", "tokenCode"),
            ("iam", "EnableMFADevice", "authenticationCode1"), ("iam", "ResyncMFADevice", "authenticationCode2")} <= found


def _shape_at(svc: str, name: str, path: tuple[Any, ...]) -> Any:
    shape = operation(svc, name).input_shape
    for step in path:
        shape = shape.members[step] if shape.type_name == "structure" else shape.member
    return shape


def bad_values(shape: Any, secret: str) -> dict[str, str]:
    meta, out = shape.metadata, {}
    if "max" in meta:
        out["too_long"] = (secret * (meta["max"] // len(secret) + 2))[: meta["max"] + 1]
    if meta.get("min", 0) > 3:
        out["too_short"] = secret[: meta["min"] - 1]
    if "pattern" in meta:
        out["pattern"] = secret + "\u0100"  # outside [\u0009\u000A\u000D\u0020-\u00FF]
    return out


@pytest.mark.parametrize("svc,name,path,where", SENSITIVE, ids=[f"{s}.{n}.{w}" for s, n, _, w in SENSITIVE])
def test_a_sensitive_value_is_never_quoted_and_always_hidden(svc: str, name: str, path: tuple[Any, ...], where: str) -> None:
    op = operation(svc, name)
    model = service_model(svc)
    params = Generator("full").value(op.input_shape)
    shape = _shape_at(svc, name, path)
    secret = "493817" if shape.name in ("tokenCodeType", "authenticationCodeType") else "Zq7-Secret-Vx9w"  # an MFA code: 6 digits
    tried = 0
    for kind, bad in bad_values(shape, secret).items():
        form = botocore_form(replaced(params, path, bad), op, validate=False)
        with pytest.raises(errors.ValidationError) as info:
            parse_request(form, model)
        message = info.value.message
        assert bad[:3] not in message and secret[:5] not in message, (kind, message)
        assert f"Value at '{where}' failed to satisfy constraint: Member must " in message, (kind, message)
        tried += 1
    assert tried >= 1 or not {"max", "pattern"} & shape.metadata.keys()  # (TradeInToken has no constraint)
    good = botocore_form(replaced(params, path, secret), op)
    _, inp = parse_request(good, model)
    shown = json.dumps(redact(inp, op.input_shape))
    assert secret not in shown and HIDDEN in shown


def test_other_values_are_quoted_as_before() -> None:
    model = service_model("iam")
    with pytest.raises(errors.ValidationError) as info:
        parse_request({"Action": "CreateUser", "UserName": "bad name!"}, model)
    assert "Value 'bad name!' at 'userName' failed to satisfy constraint" in info.value.message


def test_redact_leaves_inputs_without_secrets_alone_and_hides_outputs_secrets() -> None:
    op = service_model("iam").operation_model("CreateRole")
    inp = {"RoleName": "r", "AssumeRolePolicyDocument": "{}", "Tags": [{"Key": "k", "Value": "v"}]}
    assert redact(inp, op.input_shape) is inp
    out_shape = service_model("iam").operation_model("CreateAccessKey").output_shape
    out = {"AccessKey": {"UserName": "u", "AccessKeyId": "AKIA", "SecretAccessKey": "s3cr3t", "Status": "Active"}}
    assert redact(out, out_shape) == {"AccessKey": {"UserName": "u", "AccessKeyId": "AKIA", "SecretAccessKey": HIDDEN,
                                                    "Status": "Active"}}


def test_operations_that_answer_with_a_secret() -> None:
    """What the server treats as credential issuance: the output holds a sensitive member."""
    issuing = {(svc, name) for svc, name in all_operations()
               if operation(svc, name).output_shape is not None and holds_secret(operation(svc, name).output_shape)}
    assert {("sts", "AssumeRole"), ("sts", "AssumeRoleWithWebIdentity"), ("sts", "AssumeRoleWithSAML"),
            ("sts", "GetSessionToken"), ("sts", "GetFederationToken"), ("iam", "CreateAccessKey"),
            ("iam", "CreateVirtualMFADevice")} <= issuing
    assert not {("sts", "GetCallerIdentity"), ("iam", "GetRole"), ("iam", "ListAccessKeys"), ("sts", "GetAccessKeyInfo")} & issuing
