"""Bad input gets the error AWS would give and changes nothing: no 5xx, no traceback (issue 11).

Each test here but the last was a 500 (or, on SQLite, an entity that could never be read back) before its fix,
on the backend named; each runs on SQLite and PostgreSQL. The fuzzer (``test_fuzz.py``) looks for more of the kind.

AWS references:
* strings XML cannot carry: AWS's models state the characters a free-text member may hold as
  ``[\\u0009\\u000A\\u000D\\u0020-\\uD7FF\\uE000-\\uFFFD\\u10000-\\u10FFFF]`` (XML 1.0's Char production); IAM answers
  a pattern mismatch with ValidationError "Member must satisfy regular expression pattern"
  (https://docs.aws.amazon.com/IAM/latest/APIReference/CommonErrors.html);
* CreatePolicy's Description: IAM refuses a newline with "'description' failed to satisfy constraint: Member must
  satisfy regular expression pattern: [\\p{L}\\p{M}\\p{Z}\\p{S}\\p{N}\\p{P}]*"
  (https://github.com/aws-cloudformation/cfn-lint/issues/345);
* a key id that is no key: InvalidClientTokenId
  (https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html);
* request dates: "Signature not yet current" / "Date must be in ISO-8601 'basic format'"
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-troubleshooting.html);
* DeactivateMFADevice's UserName "is optional. If no user name is included, it defaults to the principal making
  the request" (https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeactivateMFADevice.html); a caller that
  is not a user gets IAM's "Must specify userName when calling with non-User credentials" (ValidationError, as
  for ListAccessKeys: https://github.com/hashicorp/terraform-provider-aws, resource_aws_iam_access_key.go); the
  account root asks about its own devices (id_root-user-privileged-task.html: a root session deactivates the root's
  MFA device this way), and has none here: NoSuchEntity.
"""
from __future__ import annotations

import base64
import json
import time
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from .conftest import Server, unique
from .test_sts import make_user, session_client, trust

XML_CHARS = r"[\u0009\u000A\u000D\u0020-\uD7FF\uE000-\uFFFD\u10000-\u10FFFF]*"
DESCRIPTION = r"[\p{L}\p{M}\p{Z}\p{S}\p{N}\p{P}]*"
POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})


def refused(call: Any, **params: Any) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as exc:
        call(**params)
    err = exc.value.response
    return err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Code"], err["Error"]["Message"]


def no_traceback(server: Server) -> None:
    assert "Traceback" not in server.log.read_text(errors="replace")


@pytest.fixture
def raw_iam(server: Server) -> Any:
    """An IAM client that sends what botocore's own validation would stop (another SDK, or a hand-made request)."""
    return server.client("iam", validate=False)


def test_nul_in_a_policy_arn(raw_iam: Any, server: Server) -> None:
    """PostgreSQL: 500 (text cannot hold NUL)."""
    role = unique("r")
    raw_iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust(f"arn:aws:iam::{server.account}:root"))
    for call in (raw_iam.attach_role_policy, raw_iam.detach_role_policy):
        status, code, message = refused(call, RoleName=role, PolicyArn="arn:aws:iam::aws:policy/Read\x00OnlyAccess")
        assert (status, code) == (400, "ValidationError")
        assert message == ("1 validation error detected: Value 'arn:aws:iam::aws:policy/Read\ufffdOnlyAccess' at 'policyArn' "
                           f"failed to satisfy constraint: Member must satisfy regular expression pattern: {XML_CHARS}")
    assert raw_iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    for bad in ("\x01", "\x1f", "\ufffe", "\uffff", "\x0b"):
        status, code, _ = refused(raw_iam.get_policy, PolicyArn=f"arn:aws:iam::aws:policy/X{bad}")
        assert (status, code) == (400, "ValidationError"), ascii(bad)
    # tab, newline and carriage return are XML's: not refused for that (the ARN is simply not found)
    status, code, _ = refused(raw_iam.get_policy, PolicyArn="arn:aws:iam::aws:policy/X\t\n\r")
    assert (status, code) == (404, "NoSuchEntity")
    no_traceback(server)


def test_policy_description_characters(raw_iam: Any, server: Server) -> None:
    """PostgreSQL: 500 for NUL. IAM's pattern for the description refuses control characters (newline included)."""
    for description in ("a\x00b", "line\nbreak", "tab\there"):
        name = unique("p")
        status, code, message = refused(raw_iam.create_policy, PolicyName=name, PolicyDocument=POLICY, Description=description)
        assert (status, code) == (400, "ValidationError")
        assert message.endswith(f"at 'description' failed to satisfy constraint: Member must satisfy regular expression pattern: {DESCRIPTION}")
        arn = f"arn:aws:iam::{server.account}:policy/{name}"
        assert refused(raw_iam.get_policy, PolicyArn=arn)[1] == "NoSuchEntity"  # nothing created
    # letters, marks, spaces, symbols, numbers and punctuation of any script are fine
    name = unique("p")
    text = "Lecture seule — S3 (ß, Ω, 中, é, e\u0301, \u0663, \u00a0, ×, 😀)."
    arn = raw_iam.create_policy(PolicyName=name, PolicyDocument=POLICY, Description=text)["Policy"]["Arn"]
    assert raw_iam.get_policy(PolicyArn=arn)["Policy"]["Description"] == text
    raw_iam.delete_policy(PolicyArn=arn)
    no_traceback(server)


def test_nul_in_an_oidc_url(raw_iam: Any, server: Server) -> None:
    """PostgreSQL: 500. SQLite: created, and then neither readable nor deletable (its ARN came back with U+FFFD)."""
    before = raw_iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    status, code, message = refused(raw_iam.create_open_id_connect_provider, Url="https://example.com/a\x00b", ClientIDList=["x"])
    assert (status, code) == (400, "ValidationError")
    assert f"at 'url' failed to satisfy constraint: Member must satisfy regular expression pattern: {XML_CHARS}" in message
    assert raw_iam.list_open_id_connect_providers()["OpenIDConnectProviderList"] == before
    # and the client id, the thumbprint and a tag value in the same request: every failure is named
    status, code, message = refused(raw_iam.create_open_id_connect_provider, Url="https://example.com/ok",
                                    ClientIDList=["a\x00"], ThumbprintList=["\x00" * 40])
    assert (status, code) == (400, "ValidationError") and message.startswith("2 validation errors detected: ")
    assert "'clientIDList.1.member'" in message and "'thumbprintList.1.member'" in message
    assert raw_iam.list_open_id_connect_providers()["OpenIDConnectProviderList"] == before
    no_traceback(server)


def test_nul_in_a_presigned_credential(server: Server) -> None:
    """PostgreSQL: 500 (the key id, with its NUL, was looked up)."""
    query = ("Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256"
             f"&X-Amz-Credential={server.access_key[:8]}%00{server.access_key[8:]}%2F{time.strftime('%Y%m%d', time.gmtime())}"
             f"%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Date={time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
             "&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=" + "0" * 64)
    r = httpx.get(f"{server.url}/?{query}")
    assert r.status_code == 403 and "<Code>InvalidClientTokenId</Code>" in r.text, r.text
    assert "The security token included in the request is invalid." in r.text
    no_traceback(server)


def _signed_headers(server: Server, date_header: str, value: str, scope_day: str) -> dict[str, str]:
    return {date_header: value, "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": f"AWS4-HMAC-SHA256 Credential={server.access_key}/{scope_day}/us-east-1/sts/aws4_request, "
                             f"SignedHeaders=content-type;host;{date_header.lower()}, Signature={'0' * 64}"}


def test_request_dates_in_year_9999(server: Server) -> None:
    """Both backends: a Date header whose UTC time is past year 9999 was a 500."""
    body = "Action=GetCallerIdentity&Version=2011-06-15"
    r = httpx.post(server.url + "/", content=body, headers=_signed_headers(server, "X-Amz-Date", "99991231T235959Z", "99991231"))
    assert r.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in r.text
    assert "Signature not yet current: 99991231T235959Z is still later than" in r.text
    for date in ("Fri, 31 Dec 9999 23:59:59 -1400", "Fri, 31 Dec 9999 23:59:59 GMT"):
        r = httpx.post(server.url + "/", content=body, headers=_signed_headers(server, "Date", date, "99991231"))
        assert r.status_code in (400, 403) and "<Code>" in r.text, r.text
        if "-1400" in date:  # no UTC time: unreadable
            assert r.status_code == 400 and "<Code>IncompleteSignature</Code>" in r.text
            assert f"Date must be in ISO-8601 &apos;basic format&apos;. Got &apos;{date}&apos;" in r.text or \
                f"Date must be in ISO-8601 'basic format'. Got '{date}'" in r.text
        else:
            assert "Signature not yet current" in r.text
    no_traceback(server)


def _api(server: Server, name: str, body: bytes) -> httpx.Response:
    req = AWSRequest("POST", f"{server.url}/iamroles/v1/{name}", data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(server.access_key, server.secret_key), "iamroles", "us-east-1").add_auth(req)
    prepared = req.prepare()
    return httpx.post(prepared.url, content=body, headers=dict(prepared.headers), timeout=30)


def test_deeply_nested_json_to_the_authorisation_api(server: Server) -> None:
    """Both backends: 10,000 levels of JSON were a 500 (RecursionError); 33 levels are refused before any walk."""
    nested: Any = "x"
    for _ in range(33):
        nested = [nested]
    deep_context = json.dumps({"Action": "s3:GetObject", "Resource": "*", "Context": {"k": nested}}).encode()
    for body in (b'{"a":' * 10_000 + b"1" + b"}" * 10_000, b"[" * 100_000 + b"]" * 100_000, deep_context):
        for name in ("authorize", "service-credentials"):
            r = _api(server, name, body)
            assert r.status_code == 400, r.text
            error = r.json()["Error"]
            assert error["Code"] == "ValidationError", error
            assert error["Message"] in ("The request body is nested deeper than 32 levels.", "The request body must be a JSON object.")
    # what a service really sends is as before
    r = _api(server, "authorize", json.dumps({"Action": "s3:GetObject", "Resource": "*", "Request": []}).encode())
    assert r.status_code == 400 and r.json()["Error"]["Message"].startswith("Request must be an object")
    no_traceback(server)


def test_nul_in_the_json_api(iam: Any, server: Server) -> None:
    """PostgreSQL: a RoleName with NUL was looked up (500)."""
    for doc in ({"RoleName": "a\x00b", "Service": "ecs-tasks.amazonaws.com"},
                {"Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/\x00", "Request": {}},
                {"Context": {"k\x00": "v"}}):
        for name in ("service-credentials", "authorize"):
            r = _api(server, name, json.dumps(doc).encode())
            assert r.status_code == 400 and r.json()["Error"] == {
                "Code": "ValidationError", "Message": "The request body's strings must not contain NUL (\\u0000).",
                "Type": "Sender", "HttpStatus": 400}, r.text
    no_traceback(server)


def test_deactivate_mfa_device_without_user_name(iam: Any, server: Server) -> None:
    """Both backends: a KeyError (500). The caller's own device is deactivated; a role must name the user."""
    from iamroles.tokens.totp import code_at

    user, key = make_user(iam, server, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iam:DeactivateMFADevice", "iam:ListMFADevices"], "Resource": "*"}]})
    name = user["UserName"]
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName=unique("phone"))["VirtualMFADevice"]
    serial = device["SerialNumber"]
    seed = base64.b32decode(device["Base32StringSeed"])
    step = int(time.time() // 30)
    iam.enable_mfa_device(UserName=name, SerialNumber=serial, AuthenticationCode1=code_at(seed, step - 1),
                          AuthenticationCode2=code_at(seed, step))

    # a role session must name the user; the root's own devices (it has none) do not hold the user's: nothing changes
    role = unique("mfa-admin")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust(user["Arn"]))
    iam.put_role_policy(RoleName=role, PolicyName="p", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:DeactivateMFADevice", "Resource": "*"}]}))
    as_user_sts = server.client("sts", key["AccessKeyId"], key["SecretAccessKey"])
    creds = as_user_sts.assume_role(RoleArn=f"arn:aws:iam::{server.account}:role/{role}", RoleSessionName="s1")["Credentials"]
    assert refused(session_client(server, "iam", creds).deactivate_mfa_device, SerialNumber=serial) == (
        400, "ValidationError", "Must specify userName when calling with non-User credentials")
    assert refused(iam.deactivate_mfa_device, SerialNumber=serial) == (
        404, "NoSuchEntity", f"MFA Device with serial number {serial} does not exist.")
    assert [d["SerialNumber"] for d in iam.list_mfa_devices(UserName=name)["MFADevices"]] == [serial]

    # another user's device, from a user without naming anyone: not theirs, so not found
    other, other_key = make_user(iam, server, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:DeactivateMFADevice", "Resource": "*"}]})
    as_other = server.client("iam", other_key["AccessKeyId"], other_key["SecretAccessKey"])
    assert refused(as_other.deactivate_mfa_device, SerialNumber=serial)[:2] == (404, "NoSuchEntity")
    assert [d["SerialNumber"] for d in iam.list_mfa_devices(UserName=name)["MFADevices"]] == [serial]

    # the user's own, without naming itself
    as_user = server.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    as_user.deactivate_mfa_device(SerialNumber=serial)
    assert iam.list_mfa_devices(UserName=name)["MFADevices"] == []
    no_traceback(server)


def test_percent_encoding_and_utf8_that_do_not_decode(server: Server) -> None:
    """A signed form body whose escapes are malformed or whose bytes are not UTF-8 reads as U+FFFD (refused by
    the patterns), never a 500 (a guard: this one held before issue 11's fixes)."""
    for body in (b"Action=GetRole&Version=2010-05-08&RoleName=%", b"Action=GetRole&Version=2010-05-08&RoleName=%G1",
                 b"Action=GetRole&Version=2010-05-08&RoleName=%FF%FE", b"Action=GetRole&Version=2010-05-08&RoleName=\xc3",
                 b"Action=GetRole&Version=2010-05-08&RoleName=%ED%A0%80", b"Action=Get%00Role&Version=2010-05-08&RoleName=x",
                 b"Action=GetRole&Version=2010-05-08&RoleName=" + quote("\x00").encode()):
        req = AWSRequest("POST", server.url + "/", data=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
        SigV4Auth(Credentials(server.access_key, server.secret_key), "iam", "us-east-1").add_auth(req)
        prepared = req.prepare()
        r = httpx.post(prepared.url, content=body, headers=dict(prepared.headers))
        assert r.status_code in (400, 404) and "<ErrorResponse" in r.text, (body, r.status_code, r.text)
    no_traceback(server)


def test_virtual_mfa_device_that_no_call_could_name(iam: Any, server: Server) -> None:
    """Found by the fuzzer, both backends: the model bounds neither VirtualMFADeviceName's length nor Path's characters
    by SerialNumber's (9 to 256 characters of [\\w+=/:,.@-]), so a device could be created that no Enable-, Deactivate-
    or DeleteVirtualMFADevice could name: it is refused with InvalidInput (an error CreateVirtualMFADevice documents,
    https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateVirtualMFADevice.html), and nothing is created."""
    def serials() -> list[str]:
        return [d["SerialNumber"] for d in iam.list_virtual_mfa_devices()["VirtualMFADevices"]]

    before = serials()
    for params in ({"VirtualMFADeviceName": "a" * 300}, {"VirtualMFADeviceName": "a", "Path": "/" + "p" * 250 + "/"},
                   {"VirtualMFADeviceName": "phone", "Path": "/a!b/"}, {"VirtualMFADeviceName": "phone", "Path": "/~/"}):
        status, code, message = refused(iam.create_virtual_mfa_device, **params)
        assert (status, code) == (400, "InvalidInput") and "would not be a valid SerialNumber" in message, params
    assert serials() == before
    # at the limit: 256 characters
    name = "m" * (256 - len(f"arn:aws:iam::{server.account}:mfa/"))
    serial = iam.create_virtual_mfa_device(VirtualMFADeviceName=name)["VirtualMFADevice"]["SerialNumber"]
    assert len(serial) == 256 and serial in serials()
    iam.delete_virtual_mfa_device(SerialNumber=serial)
    assert serials() == before
    no_traceback(server)
