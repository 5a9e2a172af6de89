"""Every IAM and STS operation, sent to a real ``iamroles serve`` (SQLite and PostgreSQL) with parameters built from
botocore's shapes and then broken, at the model's level and on the wire (issue 11).

What is sent, per operation (``tests/protocol/shapes.py`` builds the model-valid values):

* the four model-valid variants of the input (every member; required members only; every string, list and integer
  at its maximum; every list empty), naming the entities that exist (``seeds``): required members only reaches
  the code that reads an optional member without asking whether it was given (DeactivateMFADevice's UserName
  was a KeyError);
* then hypothesis examples: a variant, with up to three values replaced by hostile ones of the same type (NUL and
  the other characters XML cannot carry, lone BOMs, right-to-left overrides, combining marks, astral characters,
  strings at and past their maximum length, lists far past theirs, integers past their range, policy documents
  that are not JSON or nested 5,000 deep, the names of entities that exist), then up to three changes on the wire
  (a parameter given a wrong-typed or hostile value, removed, or sent under a list index that is not one) and
  possibly bytes that are no percent-encoding or no UTF-8; signed by the account's root, an administrator user or
  a role session (both decided through a boundary or session policy with conditions), now and then for the other
  service.

And beside them: ``test_signatures`` changes one or two parts of a header-signed or presigned request's signature
(key ids, dates at the calendar's ends, scopes, signed headers, tokens, payload hashes); ``test_json_api`` sends
iamroles' own API (``/iamroles/v1/authorize``, ``service-credentials``) hostile and near-valid JSON.

What must hold, for every request: no 5xx and no "Traceback", in the answer or in the server's log; an error is a
well-formed AWS error envelope that botocore parses, with a code iamroles declares; an answer botocore's parser for
the operation reads; each within ``SLOW`` seconds. And the server stays consistent: an entity it says it created
(role, user, group, policy and policy version, instance profile, OIDC provider, virtual MFA device, access key,
inline policy, SAML provider, login profile, SSH key, signing and server certificate, service-specific credential) is
read back by the name or ARN it answered with, equal to the one sent, and deleted; credentials it issued (AssumeRole,
GetSessionToken, GetFederationToken) work for GetCallerIdentity as the principal it named. The newer kinds' members
are given values that exist or that their operations accept (``seed_newer``: SAML metadata, SSH keys, certificates
with their private keys, passwords, a device's current TOTP codes), so that hostile requests reach past their first
check.

CI runs a bounded, deterministic sample (``derandomize``: the same requests every run): ``EXAMPLES`` hypothesis
examples for each implemented operation and ``EXAMPLES_UNIMPLEMENTED`` for the others (they are parsed and
validated all the same), 20x ``EXAMPLES`` signatures and 10x JSON documents: about 2,350 requests per backend,
both backends in about a minute. A larger run (60 examples: about 9,000 requests per backend, 3 to 4 minutes each)::

    IAMROLES_FUZZ_EXAMPLES=60 IAMROLES_FUZZ_SEED=1 .venv/bin/python -m pytest -q tests/server/test_fuzz.py -s

(``IAMROLES_FUZZ_SEED=N`` draws other examples: derandomisation is off when it is set; ``-s`` prints the counts,
the slowest request and the implemented operations no example got a 200 from.) What it found is pinned in
``test_bad_input.py`` or as ``@example``s.
"""
from __future__ import annotations

import base64
import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.model import OperationModel, Shape
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from hypothesis import HealthCheck, example, given, seed, settings
from hypothesis import strategies as st

import iamroles.errors as errors
from iamroles import iam as _iam  # noqa: F401  (register operations)
from iamroles.iam import OPERATIONS

from ..protocol.shapes import ABSENT, VARIANTS, Generator, all_operations, nodes, operation, replaced, string_of_length
from .conftest import Server

EXAMPLES = int(os.environ.get("IAMROLES_FUZZ_EXAMPLES", "6"))
EXAMPLES_UNIMPLEMENTED = max(1, EXAMPLES // 5)
SEED = os.environ.get("IAMROLES_FUZZ_SEED")
SLOW = 10.0  # seconds: no request may take longer (a stall)

OPS = all_operations()
IMPLEMENTED = {(svc, name) for svc, name in OPS if (svc, name) in OPERATIONS}
CODES = {cls.code for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, errors.AwsError)}
_SERIALIZER = create_serializer("query", include_validation=False)
_PARSER = create_parser("query")


# -- what is sent -----------------------------------------------------------------------------------

# Strings that have broken servers: what XML cannot carry, what confuses a form or a parser, what a careless
# normalisation changes, and the edges of lengths.
HOSTILE_TEXT = (
    "\x00", "a\x00b", "\x01", "\x08", "\x0b", "\x0c", "\x1b[31m", "\x1f", "\x7f", "\x85", "\ufeff", "\ufffe", "\uffff",
    "\u202e", "e\u0301", "\u00a0", "\u2028", "\U0001f600", "\U00020000", "", " ", "\t\n\r", "&", "=", "+", "%", "%00",
    "%2", "a b", "<![CDATA[", "]]>", "<a>", "&amp;", "&#0;", "'\"", "\\", "../..", "*", "?", "${aws:username}",
    "arn:aws:iam::*:role/*", "arn:aws-cn:iam::111122223333:role/x", "arn:aws:iam::111122223333:role/../../x",
    "arn:aws:iam::aws:policy/", "arn:aws:iam::111122223333:oidc-provider/127.0.0.1", "null", "{", "[]", "-1", "0",
    "1e309", "NaN", "99999999999999999999999999",
)
HOSTILE_DOCUMENTS = (
    "{", "[]", "null", "{}", '{"Version":"2012-10-17","Statement":[]}', "[" * 5000 + "]" * 5000,
    '{"Version":"2012-10-17","Statement":' + '{"a":' * 2000 + "1" + "}" * 2000 + "}",
    '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"a":"\\u0000"}}}}',
    '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"' + "a" * 100 + '*","Resource":"arn:aws:s3:::' + "*?" * 300 + '"}}',
    '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"' + "1" * 12 + '"},"Action":"sts:AssumeRole"}}',
    '{"Version":"2012-10-17","Statement":[' + ",".join(['{"Effect":"Deny","Action":"s3:*","Resource":"*"}'] * 500) + "]}",
)
WIRE_VALUES = ("abc", "1.5", "-0", " 1", "0x10", "1e3", "true", "TRUE", "maybe", "2024-13-45T99:99:99Z", "9999-12-31T23:59:59Z",
               "-99999999999", "1" * 40, "!!!", "====", "", "\x00", "%", "\ufffd")
RAW_BYTES = (b"%", b"%G1", b"%zz", b"%C3", b"\xff\xfe", b"\xc3", b"%ED%A0%80", b"%F4%90%80%80", b"%00", b"+", b"&&", b"=",
             b"%%", b"%u0041", b"\x00")
LIST_INDICES = ("0", "-1", "01", "999999", "1.member.1", "x", "")

# Entities that exist (see ``seeds``): hostile requests reach past the lookups into the operations.
SEED_ROLE, SEED_USER, SEED_GROUP, SEED_PROFILE, SEED_POLICY = "fz-role", "fz-user", "fz-group", "fz-profile", "fz-policy"


def _text(shape: Shape) -> st.SearchStrategy[str]:
    meta = shape.metadata
    lengths = [n for n in (meta.get("max"), meta.get("min")) if n is not None and n <= 131072]
    choices: list[st.SearchStrategy[str]] = [
        st.sampled_from(HOSTILE_TEXT),
        st.text(alphabet=st.sampled_from("a\x00\x01\ufffe\u202e\U0001f600&=+% <>\t\n\r\\\"'/:*"), max_size=12),
    ]
    if lengths:
        choices.append(st.sampled_from([n + d for n in lengths for d in (-1, 0, 1) if n + d >= 0]).map(
            lambda n: string_of_length(shape, n)))
    choices.append(st.just("a" * 100_000))
    if "Document" in shape.name or "policy" in shape.name.lower():
        choices.append(st.sampled_from(HOSTILE_DOCUMENTS))
    return st.one_of(choices)


def _hostile(shape: Shape, value: Any, known: dict[str, list[str]], member: str) -> st.SearchStrategy[Any]:
    """A value of ``shape``'s type that may break it."""
    t, meta = shape.type_name, shape.metadata
    if t == "string":
        strategies = [_text(shape)]
        if known.get(member):
            strategies.append(st.sampled_from(known[member]))
            strategies.append(st.sampled_from(known[member]).map(lambda v: v + "\x00"))
            strategies.append(st.sampled_from(known[member]).map(lambda v: v.upper()))
        return st.one_of(strategies)
    if t in ("integer", "long"):
        edges = [0, -1, 1, 2**31, 2**63, -(2**63), 10**30]
        edges += [meta[k] + d for k in ("min", "max") if k in meta for d in (-1, 0, 1)]
        return st.sampled_from(edges)
    if t == "list":
        if not value:
            return st.just([])
        # past the model's maximum, and long: up to 2,000 members, about 2 MB at most (past the 1 MiB cap)
        most = max(meta.get("max", 30) + 1, min(2000, 2_000_000 // (len(repr(value[0])) + 1)))
        return st.sampled_from([0, meta.get("max", 30) + 1, most]).map(lambda k: [value[0]] * k)
    if t == "boolean":
        return st.booleans()
    return st.just(value)


def _known(member: str, shape: Shape, account: str, operation: str = "") -> list[str]:
    arn = f"arn:aws:iam::{account}:"
    if shape.name == "policyDocumentType":
        trust = member == "AssumeRolePolicyDocument" or operation == "UpdateAssumeRolePolicy"
        return [_trust(account)] if trust else [ADMIN, READ]
    return {
        "RoleName": [SEED_ROLE], "UserName": [SEED_USER], "GroupName": [SEED_GROUP], "InstanceProfileName": [SEED_PROFILE],
        "PolicyArn": [f"{arn}policy/{SEED_POLICY}"], "PermissionsBoundary": [f"{arn}policy/{SEED_POLICY}"],
        "RoleArn": [f"{arn}role/{SEED_ROLE}"], "PolicyName": ["fz-inline"], "VersionId": ["v1", "v2"],
        "SerialNumber": [f"{arn}mfa/fz-mfa"], "OpenIDConnectProviderArn": [f"{arn}oidc-provider/127.0.0.1/fz"],
        "PolicySourceArn": [f"{arn}role/{SEED_ROLE}", f"{arn}user/{SEED_USER}"], "AccessKeyId": SEED_KEYS[-1:],
        "Url": ["https://127.0.0.1/fz-new", "https://localhost:1/fz-new"], "ClientIDList": ["fz"],
        **KNOWN,
    }.get(member, [])


@dataclass
class Request:
    svc: str  # the SigV4 service the request is signed for
    op: OperationModel
    form: dict[str, str]
    raw: list[tuple[int, bytes]] = field(default_factory=list)  # bytes put into the body after the pair at index
    caller: str = "root"

    def body(self) -> bytes:
        pairs = [quote(k, safe="").encode() + b"=" + quote(v, safe="", errors="surrogatepass").encode() for k, v in self.form.items()]
        for index, junk in self.raw:  # (index 0 and 1: the action and the version, as botocore orders them)
            if pairs:
                pairs[index % len(pairs)] += junk
        return b"&".join(pairs)


def with_known(params: dict[str, Any], op: OperationModel, account: str, pick: Any) -> dict[str, Any]:
    """``params`` naming existing entities (``pick`` chooses among them) where the model names one."""
    for path, _, shape, _ in list(nodes(params, op.input_shape))[1:]:
        member = next((p for p in reversed(path) if isinstance(p, str)), "")
        if member == _NAMED_BY.get(op.name):
            continue  # (a new entity's own name: a known one already exists)
        if member == "Marker" and path[-1] == member:
            params = replaced(params, path, ABSENT)  # (a marker no listing gave is ValidationError)
        elif shape.type_name == "string" and _known(member, shape, account, op.name):
            params = replaced(params, path, pick(_known(member, shape, account, op.name)))
    return params


_NAMED_BY = {"CreateRole": "RoleName", "CreateUser": "UserName", "CreateGroup": "GroupName", "CreatePolicy": "PolicyName",
             "CreateInstanceProfile": "InstanceProfileName", "UploadServerCertificate": "ServerCertificateName"}


@st.composite
def requests(draw: Any, svc: str, name: str, account: str) -> Request:
    """Mostly a valid call naming existing entities with one or two things broken (so that it gets past the first
    check), now and then a wreck."""
    op = operation(svc, name)
    params: dict[str, Any] = {}
    if op.input_shape is not None:
        params = Generator(draw(st.sampled_from(VARIANTS)), draw(st.integers(0, 500))).value(op.input_shape)
        if draw(st.sampled_from((True, True, False))):  # name entities that exist, so that the call gets past its lookups
            params = with_known(params, op, account, lambda values: draw(st.sampled_from(values)))
        for _ in range(draw(st.sampled_from((0, 1, 1, 1, 2, 3)))):
            where = list(nodes(params, op.input_shape))[1:]
            if not where:
                break
            path, _, shape, value = draw(st.sampled_from(where))
            member = next((p for p in reversed(path) if isinstance(p, str)), "")
            params = replaced(params, path, draw(_hostile(shape, value, {member: _known(member, shape, account)}, member)))
    form = {k: str(v) for k, v in _SERIALIZER.serialize_to_request(params, op)["body"].items()}
    for _ in range(draw(st.sampled_from((0, 0, 0, 1, 1, 2, 3)))):
        keys = sorted(k for k in form if k not in ("Action", "Version")) or ["Version"]
        kind = draw(st.sampled_from(("set", "set", "drop", "index", "add")))
        key = draw(st.sampled_from(keys))
        if kind == "set":
            form[key] = draw(st.one_of(st.sampled_from(WIRE_VALUES), st.sampled_from(HOSTILE_TEXT)))
        elif kind == "drop":
            form.pop(key, None)
        elif kind == "index" and ".member." in key and key in form:
            head, _, tail = key.partition(".member.")
            rest = tail.partition(".")[2]
            form[f"{head}.member.{draw(st.sampled_from(LIST_INDICES))}" + (f".{rest}" if rest else "")] = form.pop(key)
        else:
            form[key + draw(st.sampled_from((".member.1", ".1", ".entry.1.key", ".Key", "")))] = draw(st.sampled_from(WIRE_VALUES))
    if draw(st.sampled_from((False,) * 19 + (True,))):  # the action itself
        form["Action"] = draw(st.sampled_from(("", name.lower(), name + "\x00", name + " ", "a" * 300, "\ufffd")))
    raw = [(draw(st.integers(2, 50)), draw(st.sampled_from(RAW_BYTES))) for _ in range(draw(st.sampled_from((0, 0, 0, 1))))]
    other = "sts" if svc == "iam" else "iam"
    callers = ("root", "root", "root", "user", "role") if svc == "iam" else ("user", "user", "root", "role")  # (roots assume no roles)
    return Request(draw(st.sampled_from((svc,) * 19 + (other,))), op, form, raw, draw(st.sampled_from(callers)))


# -- sending and checking -----------------------------------------------------------------------------


@dataclass
class Fuzzer:
    server: Server
    http: httpx.Client
    creds: dict[str, Credentials]
    log_seen: int = 0
    sent: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    succeeded: Counter[str] = field(default_factory=Counter)  # operations answered 200, by name
    slowest: float = 0.0
    slowest_body: bytes = b""

    def send(self, svc: str, body: bytes, caller: str = "root", region: str = "us-east-1") -> httpx.Response:
        req = AWSRequest("POST", self.server.url + "/", data=body,
                         headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
        SigV4Auth(self.creds[caller], svc, region).add_auth(req)
        prepared = req.prepare()
        t0 = time.perf_counter()
        r = self.http.post(prepared.url, content=body, headers=dict(prepared.headers))
        took = time.perf_counter() - t0
        self.sent += 1
        self.statuses[r.status_code] += 1
        if took > self.slowest:
            self.slowest, self.slowest_body = took, body[:300]
        assert took < SLOW, f"{took:.1f} s for {body[:200]!r}"
        return r

    def check(self, r: httpx.Response, op: OperationModel, what: Any) -> dict[str, Any]:
        """The answer parsed by botocore, after the checks every answer must pass."""
        assert r.status_code < 500, (what, r.status_code, r.text[:2000])
        assert "Traceback" not in r.text, (what, r.text[:2000])
        with self.server.log.open("rb") as f:
            f.seek(self.log_seen)
            new = f.read()
        self.log_seen += len(new)
        assert b"Traceback" not in new, (what, new.decode(errors="replace")[-4000:])
        parsed = _PARSER.parse({"body": r.content, "headers": dict(r.headers), "status_code": r.status_code}, op.output_shape)
        if r.status_code >= 300:
            assert r.text.startswith("<ErrorResponse"), (what, r.text[:500])
            error = parsed["Error"]
            assert error["Code"] in CODES and error.get("Message") is not None, (what, r.text[:500])
            assert parsed["ResponseMetadata"].get("RequestId"), (what, r.text[:500])
            self.codes[error["Code"]] += 1
        return parsed

    def call(self, svc: str, name: str, params: dict[str, Any], caller: str = "root") -> tuple[int, dict[str, Any]]:
        """A follow-up call made as a client would (botocore's serializer, no validation)."""
        op = operation(svc, name)
        form = {k: str(v) for k, v in _SERIALIZER.serialize_to_request(params, op)["body"].items()}
        r = self.send(svc, Request(svc, op, form).body(), caller)
        return r.status_code, self.check(r, op, (name, params))

    def run(self, request: Request) -> None:
        r = self.send(request.svc, request.body(), request.caller)
        parsed = self.check(r, request.op, request)
        if r.status_code == 200:
            self.succeeded[request.op.name] += 1
            self.consistent(request, parsed)

    # the server stays consistent: what it says it created can be read back, equal to what was sent, and deleted
    def consistent(self, request: Request, out: dict[str, Any]) -> None:
        name, form = request.op.name, request.form
        sent = (lambda key: form.get(key)) if not request.raw else (lambda key: None)
        ok = 200

        def same(answered: str, key: str) -> None:
            if sent(key) is not None:
                assert answered == sent(key), (name, key, answered, sent(key))

        def read_delete(svc: str, read: str | None, delete: str | None, params: dict[str, Any]) -> None:
            if read is not None:
                status, got = self.call(svc, read, params)
                assert status == ok, (name, read, params, got)
            if delete is not None:
                status, got = self.call(svc, delete, params)
                assert status == ok, (name, delete, params, got)

        entities = {"CreateRole": ("Role", "RoleName"), "CreateUser": ("User", "UserName"), "CreateGroup": ("Group", "GroupName"),
                    "CreateInstanceProfile": ("InstanceProfile", "InstanceProfileName")}
        if name in entities:
            shape, key = entities[name]
            same(out[shape][key], key)
            read_delete("iam", name.replace("Create", "Get"), name.replace("Create", "Delete"), {key: out[shape][key]})
        elif name == "CreatePolicy":
            same(out["Policy"]["PolicyName"], "PolicyName")
            read_delete("iam", "GetPolicy", "DeletePolicy", {"PolicyArn": out["Policy"]["Arn"]})
        elif name == "CreatePolicyVersion":
            version = out["PolicyVersion"]
            params = {"PolicyArn": form["PolicyArn"], "VersionId": version["VersionId"]}
            read_delete("iam", "GetPolicyVersion", None if version.get("IsDefaultVersion") else "DeletePolicyVersion", params)
        elif name == "CreateOpenIDConnectProvider":
            read_delete("iam", "GetOpenIDConnectProvider", "DeleteOpenIDConnectProvider",
                        {"OpenIDConnectProviderArn": out["OpenIDConnectProviderArn"]})
        elif name == "CreateVirtualMFADevice":
            serial = out["VirtualMFADevice"]["SerialNumber"]
            listed = self.call("iam", "ListVirtualMFADevices", {"MaxItems": 1000})[1]["VirtualMFADevices"]
            assert serial in [d["SerialNumber"] for d in listed], (name, serial)
            read_delete("iam", None, "DeleteVirtualMFADevice", {"SerialNumber": serial})
        elif name == "CreateAccessKey":
            key = out["AccessKey"]
            read_delete("iam", "GetAccessKeyLastUsed", None, {"AccessKeyId": key["AccessKeyId"]})
            owner = {} if key["UserName"] == self.server.account else {"UserName": key["UserName"]}  # (the root's: no user)
            read_delete("iam", None, "DeleteAccessKey", {"AccessKeyId": key["AccessKeyId"], **owner})
        elif name in ("PutRolePolicy", "PutUserPolicy", "PutGroupPolicy") and sent("PolicyName") is not None:
            key = {"PutRolePolicy": "RoleName", "PutUserPolicy": "UserName", "PutGroupPolicy": "GroupName"}[name]
            if sent(key) is not None:
                read_delete("iam", name.replace("Put", "Get"), name.replace("Put", "Delete"),
                            {key: sent(key), "PolicyName": sent("PolicyName")})
        elif name == "CreateSAMLProvider":
            read_delete("iam", "GetSAMLProvider", "DeleteSAMLProvider", {"SAMLProviderArn": out["SAMLProviderArn"]})
        elif name == "CreateLoginProfile":
            same(out["LoginProfile"]["UserName"], "UserName")
            read_delete("iam", "GetLoginProfile", None, {"UserName": out["LoginProfile"]["UserName"]})
        elif name == "UploadSSHPublicKey":
            key = out["SSHPublicKey"]
            read_delete("iam", "GetSSHPublicKey", "DeleteSSHPublicKey",
                        {"UserName": key["UserName"], "SSHPublicKeyId": key["SSHPublicKeyId"], "Encoding": "SSH"})
        elif name == "UploadSigningCertificate":
            cert = out["Certificate"]
            owner = {} if cert["UserName"] == self.server.account else {"UserName": cert["UserName"]}
            listed = self.call("iam", "ListSigningCertificates", owner)[1]["Certificates"]
            assert cert["CertificateId"] in [c["CertificateId"] for c in listed], (name, cert)
            read_delete("iam", None, "DeleteSigningCertificate", {**owner, "CertificateId": cert["CertificateId"]})
        elif name == "UploadServerCertificate":
            meta = out["ServerCertificateMetadata"]
            same(meta["ServerCertificateName"], "ServerCertificateName")
            read_delete("iam", "GetServerCertificate", "DeleteServerCertificate",
                        {"ServerCertificateName": meta["ServerCertificateName"]})
        elif name == "CreateServiceSpecificCredential":
            cred = out["ServiceSpecificCredential"]
            listed = self.call("iam", "ListServiceSpecificCredentials", {"UserName": cred["UserName"]})[1]
            assert cred["ServiceSpecificCredentialId"] in [c["ServiceSpecificCredentialId"]
                                                           for c in listed["ServiceSpecificCredentials"]], (name, cred)
            read_delete("iam", None, "DeleteServiceSpecificCredential",
                        {"UserName": cred["UserName"], "ServiceSpecificCredentialId": cred["ServiceSpecificCredentialId"]})
        elif name in ("AssumeRole", "GetSessionToken", "GetFederationToken"):
            creds = out["Credentials"]
            self.creds["issued"] = Credentials(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
            status, who = self.call("sts", "GetCallerIdentity", {}, "issued")
            assert status == ok, (name, who)
            if name == "AssumeRole":
                assert who["Arn"] == out["AssumedRoleUser"]["Arn"], (who, out)
            elif name == "GetFederationToken":
                assert who["Arn"] == out["FederatedUser"]["Arn"], (who, out)


def _trust(account: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": ["sts:AssumeRole", "sts:TagSession"]}]})


ADMIN = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
# The user's and the role session's callers are decided by the policy core, with conditions that read what the
# hostile request carries (tags, names in resource ARNs): every operator family, variables, set operators.
BOUNDARY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "*", "Resource": "*"},
    {"Effect": "Deny", "Action": "iam:*", "Resource": "arn:aws:iam::*:role/fz-never-${aws:username}-*"},
    {"Effect": "Deny", "NotAction": ["iam:*", "sts:*"], "NotResource": "*"},
    {"Effect": "Deny", "Action": "iam:Tag*", "Resource": "*", "Condition": {
        "ForAnyValue:StringLike": {"aws:TagKeys": ["fz-forbidden-*", "*\u00e9?"]},
        "StringNotEqualsIgnoreCase": {"aws:PrincipalTag/team": "${aws:PrincipalTag/team}"}}},
    {"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {
        "NumericGreaterThan": {"aws:MultiFactorAuthAge": "99999999"}, "DateLessThan": {"aws:CurrentTime": "2000-01-01T00:00:00Z"},
        "IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:db8::/32"]}, "Bool": {"aws:SecureTransport": "true"},
        "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/fz-*"}, "StringEqualsIfExists": {"aws:RequestTag/${aws:username}": "x"},
        "Null": {"aws:TokenIssueTime": "false"}, "ForAllValues:StringEquals": {"aws:TagKeys": ["a"]}}},
]})
READ = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:Get*", "iam:List*"], "Resource": "*",
                                                           "Condition": {"StringLike": {"aws:PrincipalTag/team": "${aws:username}-*"}}}]})
SEED_KEYS: list[str] = []  # the seed user's access key id, once made
SEED_SAML, SEED_CERT_NAME, SEED_SERVICE, GOOD = "fz-saml", "fz-cert", "codecommit.amazonaws.com", "Aa1!fuzz-pw"
# Values of the newer kinds' members that name what exists or that their operations accept (SAML metadata, SSH
# keys, certificates with their private key, passwords): without them, hostile requests never got past the first
# check of SAML providers, login profiles, SSH keys, certificates, service-specific credentials and MFA devices.
KNOWN: dict[str, list[str]] = {}
MFA_SEED: list[bytes] = []  # the seed MFA device's TOTP seed (codes are made when a request is sent)


def _materials(account: str) -> None:
    """The keys, certificates and metadata the newer kinds' members are given (made once per run)."""
    if KNOWN:
        return
    from .test_credentials import certificate, ec_key, pem, pem_private, rsa_key, ssh_line
    from .test_saml import IdP

    keys = [ec_key() for _ in range(3)]
    KNOWN.update({
        "SAMLProviderArn": [f"arn:aws:iam::{account}:saml-provider/{SEED_SAML}"],
        "SAMLMetadataDocument": [IdP().metadata()],
        "SSHPublicKeyBody": [ssh_line(rsa_key()) for _ in range(3)],
        "CertificateBody": [pem(certificate(k, f"fz{i}.example.com")) for i, k in enumerate(keys)],
        "PrivateKey": [pem_private(k) for k in keys],
        "ServerCertificateName": [SEED_CERT_NAME], "ServiceName": [SEED_SERVICE],
        "Password": [GOOD], "OldPassword": [GOOD], "NewPassword": [GOOD + "2"], "AddPrivateKey": [pem_private(rsa_key())],
        "SSHPublicKeyId": [], "CertificateId": [], "ServiceSpecificCredentialId": [],
    })


def seeds(fz: Fuzzer) -> None:
    """The entities hostile requests name (recreated when a fuzzed call deleted them)."""
    account = fz.server.account
    policy = f"arn:aws:iam::{account}:policy/{SEED_POLICY}"
    for svc, name, params in (
        ("iam", "CreatePolicy", {"PolicyName": SEED_POLICY, "PolicyDocument": ADMIN}),
        ("iam", "CreateRole", {"RoleName": SEED_ROLE, "AssumeRolePolicyDocument": _trust(account)}),
        ("iam", "PutRolePolicy", {"RoleName": SEED_ROLE, "PolicyName": "fz-inline", "PolicyDocument": ADMIN}),
        ("iam", "AttachRolePolicy", {"RoleName": SEED_ROLE, "PolicyArn": policy}),
        ("iam", "CreateUser", {"UserName": SEED_USER}),
        ("iam", "CreateGroup", {"GroupName": SEED_GROUP}),
        ("iam", "AddUserToGroup", {"GroupName": SEED_GROUP, "UserName": SEED_USER}),
        ("iam", "PutUserPolicy", {"UserName": SEED_USER, "PolicyName": "fz-inline", "PolicyDocument": READ}),
        ("iam", "PutGroupPolicy", {"GroupName": SEED_GROUP, "PolicyName": "fz-inline", "PolicyDocument": READ}),
        ("iam", "AttachUserPolicy", {"UserName": SEED_USER, "PolicyArn": policy}),
        ("iam", "AttachGroupPolicy", {"GroupName": SEED_GROUP, "PolicyArn": policy}),
        ("iam", "TagRole", {"RoleName": SEED_ROLE, "Tags": [{"Key": "team", "Value": "fz"}]}),
        ("iam", "TagUser", {"UserName": SEED_USER, "Tags": [{"Key": "team", "Value": "fz"}]}),
        ("iam", "CreateInstanceProfile", {"InstanceProfileName": SEED_PROFILE}),
        ("iam", "AddRoleToInstanceProfile", {"InstanceProfileName": SEED_PROFILE, "RoleName": SEED_ROLE}),
        ("iam", "CreateVirtualMFADevice", {"VirtualMFADeviceName": "fz-mfa"}),
        ("iam", "CreateOpenIDConnectProvider", {"Url": "https://127.0.0.1/fz", "ClientIDList": ["fz"]}),
    ):
        status, _ = fz.call(svc, name, params)
        assert status in (200, 409), (name, status)
    keys = fz.call("iam", "ListAccessKeys", {"UserName": SEED_USER})[1]["AccessKeyMetadata"]
    if not keys:
        keys = [fz.call("iam", "CreateAccessKey", {"UserName": SEED_USER})[1]["AccessKey"]]
    SEED_KEYS[:] = [keys[0]["AccessKeyId"]]
    seed_newer(fz)


def seed_newer(fz: Fuzzer) -> None:
    """A SAML provider, a server certificate, and the seed user's login profile, SSH key, signing certificate and
    service-specific credential (each made again when a fuzzed call deleted it); the callers' passwords reset."""
    _materials(fz.server.account)
    for name, params in (
        ("CreateSAMLProvider", {"Name": SEED_SAML, "SAMLMetadataDocument": KNOWN["SAMLMetadataDocument"][0]}),
        ("UploadServerCertificate", {"ServerCertificateName": SEED_CERT_NAME, "CertificateBody": KNOWN["CertificateBody"][0],
                                     "PrivateKey": KNOWN["PrivateKey"][0]}),
    ):
        status, _ = fz.call("iam", name, params)
        assert status in (200, 409), (name, status)
    for user in (SEED_USER, "fz-admin"):
        if fz.call("iam", "UpdateLoginProfile", {"UserName": user, "Password": GOOD})[0] != 200:
            fz.call("iam", "CreateLoginProfile", {"UserName": user, "Password": GOOD})
    found = fz.call("iam", "ListSSHPublicKeys", {"UserName": SEED_USER})[1]["SSHPublicKeys"]
    if not found:
        found = [fz.call("iam", "UploadSSHPublicKey", {"UserName": SEED_USER, "SSHPublicKeyBody": KNOWN["SSHPublicKeyBody"][-1]})[1]
                 ["SSHPublicKey"]]
    KNOWN["SSHPublicKeyId"][:] = [found[0]["SSHPublicKeyId"]]
    certs = fz.call("iam", "ListSigningCertificates", {"UserName": SEED_USER})[1]["Certificates"]
    if not certs:
        certs = [fz.call("iam", "UploadSigningCertificate", {"UserName": SEED_USER, "CertificateBody": KNOWN["CertificateBody"][1]})[1]
                 ["Certificate"]]
    KNOWN["CertificateId"][:] = [certs[0]["CertificateId"]]
    creds = fz.call("iam", "ListServiceSpecificCredentials", {"UserName": SEED_USER})[1]["ServiceSpecificCredentials"]
    if not creds:
        creds = [fz.call("iam", "CreateServiceSpecificCredential", {"UserName": SEED_USER, "ServiceName": SEED_SERVICE})[1]
                 ["ServiceSpecificCredential"]]
    KNOWN["ServiceSpecificCredentialId"][:] = [creds[0]["ServiceSpecificCredentialId"]]
    if not MFA_SEED:  # the seed device, made here so that its seed is known (codes for Enable/Resync)
        status, out = fz.call("iam", "CreateVirtualMFADevice", {"VirtualMFADeviceName": "fz-mfa-codes"})
        assert status == 200, out
        MFA_SEED.append(base64.b32decode(out["VirtualMFADevice"]["Base32StringSeed"]))
        KNOWN["SerialNumber"] = [out["VirtualMFADevice"]["SerialNumber"]]
    elif not any(d["SerialNumber"] == KNOWN["SerialNumber"][0]
                 for d in fz.call("iam", "ListVirtualMFADevices", {"MaxItems": 1000})[1]["VirtualMFADevices"]):
        MFA_SEED.clear()  # a fuzzed call deleted it: another
        seed_newer(fz)


_CODE_STEP = [0]  # the last TOTP step given out (each code is accepted once)


def with_codes(params: dict[str, Any]) -> dict[str, Any]:
    """Valid consecutive TOTP codes of the seed MFA device where the request asks for them (EnableMFADevice,
    ResyncMFADevice), each step given once."""
    if MFA_SEED and "AuthenticationCode1" in params:
        from iamroles.tokens import totp

        step = max(int(time.time() // 30) - 1, _CODE_STEP[0] + 1)
        _CODE_STEP[0] = step + 1
        params = {**params, "AuthenticationCode1": totp.code_at(MFA_SEED[0], step),
                  "AuthenticationCode2": totp.code_at(MFA_SEED[0], step + 1)}
    return params


@pytest.fixture(scope="module")
def fuzzer(server: Server) -> Iterator[Fuzzer]:
    root = Credentials(server.access_key, server.secret_key)
    with httpx.Client(timeout=SLOW + 5) as http:
        fz = Fuzzer(server, http, {"root": root}, log_seen=len(server.log.read_bytes()))
        seeds(fz)
        # an administrator user, and a role session: callers that are not the root
        fz.call("iam", "CreateUser", {"UserName": "fz-admin"})
        fz.call("iam", "PutUserPolicy", {"UserName": "fz-admin", "PolicyName": "admin", "PolicyDocument": ADMIN})
        fz.call("iam", "CreatePolicy", {"PolicyName": "fz-boundary", "PolicyDocument": BOUNDARY})
        boundary = f"arn:aws:iam::{server.account}:policy/fz-boundary"
        status, _ = fz.call("iam", "PutUserPermissionsBoundary", {"UserName": "fz-admin", "PermissionsBoundary": boundary})
        assert status == 200
        _, key = fz.call("iam", "CreateAccessKey", {"UserName": "fz-admin"})
        fz.creds["user"] = Credentials(key["AccessKey"]["AccessKeyId"], key["AccessKey"]["SecretAccessKey"])
        _, out = fz.call("sts", "AssumeRole", {"RoleArn": f"arn:aws:iam::{server.account}:role/{SEED_ROLE}", "RoleSessionName": "fz",
                                               "Policy": BOUNDARY, "Tags": [{"Key": "team", "Value": "fz"}]}, "user")
        creds = out["Credentials"]
        fz.creds["role"] = Credentials(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
        seed_newer(fz)  # (fz-admin's login profile: ChangePassword as that user)
        yield fz
        print(f"\nfuzz [{(server.db_url and 'postgresql') or 'sqlite'}]: {fz.sent} requests, statuses {dict(sorted(fz.statuses.items()))}, "
              f"slowest {fz.slowest * 1000:.0f} ms ({fz.slowest_body!r}), codes {dict(fz.codes.most_common())}")
        never = sorted(name for svc, name in IMPLEMENTED if not fz.succeeded[name])
        print(f"implemented operations never answered 200: {len(never)} {never}")


def _settings(n: int) -> Any:
    return settings(max_examples=n, derandomize=SEED is None, database=None, deadline=None, print_blob=True,
                    suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize(("svc", "name"), OPS, ids=[f"{s}.{n}" for s, n in OPS])
def test_operation(fuzzer: Fuzzer, svc: str, name: str) -> None:
    op = operation(svc, name)
    # the model-valid variants naming existing entities (required members only reaches every optional member's
    # absence), as the root and as a user
    for variant in VARIANTS:
        params = Generator(variant).value(op.input_shape) if op.input_shape is not None else {}
        if params:
            params = with_codes(with_known(params, op, fuzzer.server.account, lambda values: values[0]))
        form = {k: str(v) for k, v in _SERIALIZER.serialize_to_request(params, op)["body"].items()}
        fuzzer.run(Request(svc, op, form, caller="root" if svc == "iam" and variant != "minimal" else "user"))

    @_settings(EXAMPLES if (svc, name) in IMPLEMENTED else EXAMPLES_UNIMPLEMENTED)
    @given(request=requests(svc, name, fuzzer.server.account))
    def fuzz(request: Request) -> None:
        fuzzer.run(request)

    if SEED is not None:
        fuzz = seed(int(SEED))(fuzz)
    fuzz()
    if name.startswith(("Delete", "Remove", "Detach", "Deactivate")):
        seeds(fuzzer)


# -- iamroles' own JSON API ------------------------------------------------------------------------------

_JSON_TEXT = st.one_of(st.sampled_from(HOSTILE_TEXT), st.text(max_size=20))
_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), _JSON_TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_JSON_TEXT, inner, max_size=4)),
    max_leaves=12,
)
_HTTP = st.fixed_dictionaries({}, optional={
    "Method": st.one_of(st.sampled_from(("GET", "POST", "get", "")), _JSON), "Path": st.one_of(st.just("/"), _JSON),
    "Query": st.one_of(st.just("a=1&X-Amz-Credential=%00"), _JSON),
    "Headers": st.one_of(st.dictionaries(_JSON_TEXT, _JSON_TEXT, max_size=3), st.lists(st.lists(_JSON_TEXT, max_size=3), max_size=3), _JSON),
    "Body": st.one_of(st.just("aGVsbG8="), _JSON), "PayloadHash": st.one_of(st.just("0" * 64), _JSON),
    "UnsignedPayload": _JSON,
})
_API_DOCS = st.one_of(
    _JSON,
    st.fixed_dictionaries({}, optional={  # close to what a service sends
        "Action": st.one_of(st.just("s3:GetObject"), _JSON), "Resource": st.one_of(st.just("*"), _JSON), "Request": _HTTP,
        "Context": st.one_of(st.dictionaries(_JSON_TEXT, st.one_of(_JSON_TEXT, st.lists(_JSON_TEXT, max_size=3))), _JSON),
        "Services": _JSON, "ResourcePolicy": st.one_of(st.sampled_from(HOSTILE_DOCUMENTS + (ADMIN,)), _JSON),
        "ResourcePolicyMustGrant": _JSON, "ResourceAccount": _JSON, "SourceIp": _JSON, "SecureTransport": _JSON,
        "RoleName": st.one_of(st.sampled_from((SEED_ROLE, SEED_ROLE + "\x00")), _JSON), "RoleArn": _JSON,
        "InstanceProfileName": st.one_of(st.just(SEED_PROFILE), _JSON), "Service": st.one_of(st.just("ecs-tasks.amazonaws.com"), _JSON),
        "SessionName": _JSON, "DurationSeconds": _JSON,
        "DelegationRequestId": st.one_of(st.sampled_from(("dr-" + "0" * 32, "", "\x00", "a" * 5000)), _JSON),
    }),
)


@example(name="authorize", doc=None, raw=b'{"a":' * 10_000 + b"1" + b"}" * 10_000)  # RecursionError: a 500 (issue 11)
@example(name="service-credentials", doc={"RoleName": "a\x00b", "Service": "ecs-tasks.amazonaws.com"}, raw=None)  # PostgreSQL: a 500
@settings(max_examples=EXAMPLES * 10, derandomize=SEED is None, database=None, deadline=None, suppress_health_check=list(HealthCheck))
@given(name=st.sampled_from(("authorize", "service-credentials", "delegation-token", "nothing")), doc=_API_DOCS,
       raw=st.one_of(st.none(), st.sampled_from((b"", b"{", b"[" * 3000, b"\xff", b'{"a":1e999999}', b"1" * 5000, b'"\\ud800"'))))
def test_json_api(fuzzer: Fuzzer, name: str, doc: Any, raw: bytes | None) -> None:
    body = raw if raw is not None else json.dumps(doc).encode()
    req = AWSRequest("POST", f"{fuzzer.server.url}/iamroles/v1/{name}", data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(fuzzer.creds["root"], "iamroles", "us-east-1").add_auth(req)
    prepared = req.prepare()
    r = fuzzer.http.post(prepared.url, content=body, headers=dict(prepared.headers))
    fuzzer.sent += 1
    fuzzer.statuses[r.status_code] += 1
    assert r.status_code < 500 and "Traceback" not in r.text, (name, body[:300], r.text[:500])
    with fuzzer.server.log.open("rb") as f:
        f.seek(fuzzer.log_seen)
        new = f.read()
    fuzzer.log_seen += len(new)
    assert b"Traceback" not in new, (name, body[:300], new.decode(errors="replace")[-3000:])
    answer = r.json()
    if r.status_code != 200:
        error = answer["Error"]
        assert error["Code"] in CODES and error["HttpStatus"] == r.status_code and isinstance(error["Message"], str), answer
        assert answer["RequestId"]
        fuzzer.codes[error["Code"]] += 1


# -- the signature ---------------------------------------------------------------------------------------

_HEADER_TEXT = st.one_of(
    st.sampled_from(("", " ", "AKIA", "/", "//////", "aws4_request", "us-east-1", "iam", "sts", "iamroles", "99991231",
                     "00000101", "99991231T235959Z", "00010101T000000Z", "20240230T000000Z", "Fri, 31 Dec 9999 23:59:59 -1400",
                     "Mon, 01 Jan 0001 00:00:00 +1400", "host;host", ";", "host;x-amz-date;" * 50, "=", ",", "é", "ÿ" * 100,
                     "a" * 10_000, "0" * 64, "g" * 64, "UNSIGNED-PAYLOAD", "AWS4-HMAC-SHA512", "AWS4-HMAC-SHA256")),
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=30),
)


@st.composite
def signed_requests(draw: Any, server: Server, creds: Credentials) -> tuple[str, str, dict[str, str], bytes]:
    """A request signed with the root's key, then one or two parts of its signature changed."""
    svc, body = draw(st.sampled_from((("sts", b"Action=GetCallerIdentity&Version=2011-06-15"),
                                      ("iam", b"Action=ListRoles&Version=2010-05-08"))))
    presign = draw(st.booleans())
    if presign:
        from botocore.auth import SigV4QueryAuth

        req = AWSRequest("GET", f"{server.url}/?{body.decode()}")
        SigV4QueryAuth(creds, svc, "us-east-1", expires=draw(st.sampled_from((60, 604800)))).add_auth(req)
        prepared = req.prepare()
        url, headers, body = prepared.url, dict(prepared.headers), b""
        base, _, query = url.partition("?")
        params = [p.partition("=") for p in query.split("&")]
        for _ in range(draw(st.integers(1, 2))):
            i = draw(st.integers(0, len(params) - 1))
            name, _, _ = params[i]
            params[i] = (name, "=", quote(draw(_HEADER_TEXT), safe="") if draw(st.booleans()) else draw(
                st.sampled_from(("%00", "%", "%G1", "%ED%A0%80", "AKIA%00X%2F99991231%2Fus-east-1%2Fsts%2Faws4_request", "-1", "1e9"))))
        return "GET", base + "?" + "&".join(n + e + v for n, e, v in params), headers, body
    req = AWSRequest("POST", server.url + "/", data=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    SigV4Auth(creds, svc, "us-east-1").add_auth(req)
    headers = dict(req.prepare().headers)
    for _ in range(draw(st.integers(1, 2))):
        target = draw(st.sampled_from(("Authorization", "X-Amz-Date", "Date", "X-Amz-Security-Token", "X-Amz-Content-SHA256",
                                       "Content-Type", "Authorization-part")))
        if target == "Authorization-part":
            parts = headers.get("Authorization", "").replace(",", " , ").replace("/", " / ").replace("=", " = ").split()
            if parts:
                parts[draw(st.integers(0, len(parts) - 1))] = draw(_HEADER_TEXT)
            headers["Authorization"] = " ".join(parts).replace(" / ", "/").replace(" = ", "=").replace(" , ", ", ")
        elif draw(st.sampled_from((True, True, False))):
            headers[target] = draw(_HEADER_TEXT)
        else:
            headers.pop(target, None)
    return "POST", server.url + "/", headers, body


@settings(max_examples=EXAMPLES * 20, derandomize=SEED is None, database=None, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_signatures(fuzzer: Fuzzer, data: st.DataObject) -> None:
    method, url, headers, body = data.draw(signed_requests(fuzzer.server, fuzzer.creds["root"]))
    headers = {k: v.strip().encode("latin-1") for k, v in headers.items() if k.lower() not in ("content-length", "host")}
    r = fuzzer.http.request(method, url, headers=headers, content=body)
    fuzzer.sent += 1
    fuzzer.statuses[r.status_code] += 1
    op = operation("sts" if "GetCallerIdentity" in url + body.decode() else "iam",
                   "GetCallerIdentity" if "GetCallerIdentity" in url + body.decode() else "ListRoles")
    fuzzer.check(r, op, (method, url[:300], headers))
