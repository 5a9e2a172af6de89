"""An audit trail one can rely on, on a real server over SQLite and PostgreSQL.

DESIGN.md "Audit before answer", after Vault: "If Vault cannot properly audit a request, or the response
to a request, the original request will fail"
(https://developer.hashicorp.com/vault/docs/internals/telemetry/metrics/audit):

* every mutating or credential-issuing call's event is committed before its answer is sent: it is in
  the trail the moment the answer arrives, and a SIGKILL right after loses none;
* if the trail cannot take the event the call answers ServiceUnavailable (AWS's common error for "a
  temporary failure of the server", https://docs.aws.amazon.com/IAM/latest/APIReference/CommonErrors.html)
  and nothing was done;
* one bad event (a 100-character or NUL-bearing Action, a huge parameter, a huge header) never loses
  another caller's event;
* no sensitive value (the model's ``sensitive`` trait) reaches an error message, the server log or the
  trail: AWS names a sensitive member without quoting it (tests/protocol/test_redact.py cites it) and
  CloudTrail writes HIDDEN_DUE_TO_SECURITY_REASONS in its place.
"""
from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore import UNSIGNED, xform_name
from botocore.exceptions import ClientError

from ..protocol.shapes import Generator, operation, replaced
from ..protocol.test_redact import SENSITIVE, _shape_at, bad_values
from .conftest import Server, fresh_pg_database, start_server, stop_server, unique
from .test_integration_api import ECS, call_api, forwarded, service_trust
from .test_roles import TRUST

HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"


def read_trail(srv: Server, limit: int = 200_000) -> tuple[list[dict[str, Any]], str]:
    """The trail as ``iamroles audit --json`` prints it (events, and the raw text)."""
    cmd = [sys.executable, "-m", "iamroles", "audit", "--data-dir", str(srv.data_dir), "--json", "--limit", str(limit)]
    if srv.db_url:
        cmd += ["--db", srv.db_url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [json.loads(line) for line in out.splitlines()], out


def request_id(outcome: Any) -> str:
    response = outcome.response if isinstance(outcome, ClientError) else outcome
    return str(response["ResponseMetadata"]["RequestId"])


def call(method: Any, **params: Any) -> tuple[str | None, str, int, str]:
    """(error code or None, message, HTTP status, request id) of one boto3 call."""
    try:
        out = method(**params)
    except ClientError as exc:
        err = exc.response["Error"]
        return err.get("Code"), err.get("Message") or "", exc.response["ResponseMetadata"]["HTTPStatusCode"], request_id(exc)
    return None, "", out["ResponseMetadata"]["HTTPStatusCode"], request_id(out)


@contextmanager
def own_server(backend: str, tmp_path: Path) -> Iterator[Server]:
    """A server with a database of its own (the test changes or kills it)."""
    with ExitStack() as stack:
        db_url = stack.enter_context(fresh_pg_database("iamroles_audit_")) if backend == "postgresql" else None
        srv = start_server(tmp_path, db_url)
        try:
            yield srv
        finally:
            if srv.proc.poll() is None:
                stop_server(srv)


def execute(srv: Server, *statements: str) -> None:
    """SQL on the server's own database, from outside the server."""
    if srv.db_url:
        import psycopg

        with psycopg.connect(srv.db_url.replace("+psycopg", ""), autocommit=True) as conn:
            for s in statements:
                conn.execute(s)  # type: ignore[arg-type]
        return
    conn = sqlite3.connect(srv.data_dir / "iamroles.db", timeout=30)
    try:
        for s in statements:
            conn.execute(s)
        conn.commit()
    finally:
        conn.close()


def break_trail(srv: Server) -> None:
    """Make every insert into the audit table fail, as a full disk or a lost table would."""
    if srv.db_url:
        execute(srv, "CREATE FUNCTION refuse_audit() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'audit store down'; END $$ "
                     "LANGUAGE plpgsql",
                "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION refuse_audit()")
    else:
        execute(srv, "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'audit store down'); END")


def mend_trail(srv: Server) -> None:
    if srv.db_url:
        execute(srv, "DROP TRIGGER refuse_audit ON audit_events", "DROP FUNCTION refuse_audit()")
    else:
        execute(srv, "DROP TRIGGER refuse_audit")


def user_with_key(iam: Any, policy: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    name = unique("u")
    user = iam.create_user(UserName=name)["User"]
    if policy:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    return user, iam.create_access_key(UserName=name)["AccessKey"]


def role_for(iam: Any, principal_arn: str) -> str:
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": principal_arn}, "Action": "sts:AssumeRole"}]}
    return str(iam.create_role(RoleName=unique("r"), AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"])


# -- committed before the answer --------------------------------------------------------------------

def test_acknowledged_calls_are_in_the_trail_when_their_answer_arrives(server: Server) -> None:
    """No waiting, no flush: the answer is sent only once the event is committed."""
    iam = server.client("iam")
    user, key = user_with_key(iam)
    role = role_for(iam, user["Arn"])
    sts = server.client("sts", key["AccessKeyId"], key["SecretAccessKey"])
    outcomes = {
        "created": call(iam.create_user, UserName=unique("new")),
        "assumed": call(sts.assume_role, RoleArn=role, RoleSessionName="s1"),
        "session": call(sts.get_session_token),
        "key": call(iam.create_access_key, UserName=user["UserName"]),
        "refused": call(server.client("iam", key["AccessKeyId"], key["SecretAccessKey"]).create_user, UserName=unique("no")),
        "invalid": call(server.client("iam", validate=False).create_user, UserName="bad name!"),
    }
    assert outcomes["created"][0] is None and outcomes["assumed"][0] is None and outcomes["session"][0] is None
    assert outcomes["refused"][:1] == ("AccessDenied",) and outcomes["invalid"][:1] == ("ValidationError",)
    events, _ = read_trail(server)
    by_id = {e["requestID"]: e for e in events}
    for what, (code, _, _, rid) in outcomes.items():
        assert rid in by_id, f"the {what} call's event is not in the trail when its answer arrived"
        assert by_id[rid]["errorCode"] == code
    assert by_id[outcomes["assumed"][3]]["eventName"] == "AssumeRole"
    assert by_id[outcomes["refused"][3]]["userIdentity"]["arn"] == user["Arn"]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_sigkill_keeps_every_acknowledged_event(backend: str, tmp_path: Path) -> None:
    with own_server(backend, tmp_path) as srv:
        iam = srv.client("iam")
        user, key = user_with_key(iam)
        role = role_for(iam, user["Arn"])
        acknowledged: list[tuple[str, str]] = []
        lock = threading.Lock()
        stop = threading.Event()

        def run(kind: str) -> None:
            client = srv.client("sts", key["AccessKeyId"], key["SecretAccessKey"]) if kind == "AssumeRole" else (
                srv.client("iam", key["AccessKeyId"], key["SecretAccessKey"]) if kind == "refused" else srv.client("iam"))
            while not stop.is_set():
                try:
                    if kind == "AssumeRole":
                        outcome: Any = client.assume_role(RoleArn=role, RoleSessionName="k1")
                    elif kind == "refused":
                        client.create_user(UserName=unique("no"))
                        outcome = None
                    else:
                        outcome = client.create_role(RoleName=unique("k"), AssumeRolePolicyDocument=json.dumps(TRUST))
                except ClientError as exc:
                    outcome = exc
                except Exception:  # noqa: BLE001  (the server is being killed)
                    return
                with lock:
                    acknowledged.append((kind, request_id(outcome)))

        threads = [threading.Thread(target=run, args=(k,)) for k in ("CreateRole", "CreateRole", "AssumeRole", "AssumeRole", "refused")]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while len(acknowledged) < 80 and time.monotonic() < deadline:
            time.sleep(0.02)
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait()
        stop.set()
        for t in threads:
            t.join(30)
        kinds = {k for k, _ in acknowledged}
        assert kinds == {"CreateRole", "AssumeRole", "refused"}, kinds
        events, _ = read_trail(srv)
        present = {e["requestID"] for e in events}
        missing = [(k, rid) for k, rid in acknowledged if rid not in present]
        assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged calls have no event: {missing[:5]}"


# -- one bad event never loses another ----------------------------------------------------------------

def _unsigned(srv: Server, form: dict[str, str], headers: dict[str, str] | None = None) -> str:
    r = httpx.post(srv.url + "/", data=form, headers=headers or {})
    m = re.search(r"<RequestId>([^<]+)</RequestId>", r.text)
    assert m, r.text
    return m.group(1)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_bad_events_never_lose_other_callers_events(backend: str, tmp_path: Path) -> None:
    """An attacker's events with a 100-character Action (the column holds 64), a NUL in it, a huge parameter
    quoted by the ValidationError, a huge JSON body and a huge User-Agent, interleaved with other users'
    calls of every kind of audit path: none of theirs is lost, and the attacker's are there, cut to fit."""
    with own_server(backend, tmp_path) as srv:
        iam = srv.client("iam")
        users = [user_with_key(iam, {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["iam:CreateUser", "iam:GetUser", "sts:AssumeRole"], "Resource": "*"}]}) for _ in range(3)]
        role = role_for(iam, f"arn:aws:iam::{srv.account}:root")
        theirs: list[tuple[str, str]] = []
        attacker: list[str] = []
        lock = threading.Lock()

        def victim(i: int) -> None:
            _, key = users[i]
            ui = srv.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
            sts = srv.client("sts", key["AccessKeyId"], key["SecretAccessKey"])
            for _ in range(15):
                name = unique("v")
                for kind, outcome in (("CreateUser", call(ui.create_user, UserName=name)),
                                      ("GetUser", call(ui.get_user, UserName=name)),
                                      ("AssumeRole", call(sts.assume_role, RoleArn=role, RoleSessionName="v1")),
                                      ("DeleteUser", call(ui.delete_user, UserName=name))):  # refused: not allowed
                    with lock:
                        theirs.append((kind, outcome[3]))

        def attack() -> None:
            long_client = srv.client("iam", validate=False)
            for _ in range(15):
                rids = [
                    _unsigned(srv, {"Action": "A" * 100, "Version": "2010-05-08"}),
                    _unsigned(srv, {"Action": "Create\x00User" + "\x00" * 80, "Version": "2010-05-08"}),
                    _unsigned(srv, {"Action": "GetUser", "Version": "2010-05-08"}, {"User-Agent": "x" * 12_000}),
                    call(long_client.create_user, UserName="h" * 300_000)[3],
                    call(long_client.get_user, UserName="\x00" * 5000)[3],
                ]
                r = call_api(srv, "authorize", {"Action": "s3:GetObject", "Resource": "*", "Context": {"k": "y" * 400_000},
                                                "Request": {"Method": "GET"}}, srv.access_key, srv.secret_key)
                rids.append(r.json()["RequestId"])
                with lock:
                    attacker.extend(rids)

        threads = [threading.Thread(target=victim, args=(i,)) for i in range(3)] + [threading.Thread(target=attack)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert {k for k, _ in theirs} == {"CreateUser", "GetUser", "AssumeRole", "DeleteUser"}
        stop_server(srv)  # the read-only events are written within half a second, and on shutdown
        events, _ = read_trail(srv)
        by_id = {e["requestID"]: e for e in events}
        missing = [(k, rid) for k, rid in theirs if rid not in by_id]
        assert not missing, f"{len(missing)} of {len(theirs)} other callers' events lost: {missing[:5]}"
        assert [rid for rid in attacker if rid not in by_id] == []
        names = {e["eventName"] for e in events}
        assert "A" * 100 in names  # the record keeps what was sent; only the column is cut
        huge = [e for e in events if e["requestID"] in attacker and e["errorCode"] == "ValidationError" and e["eventName"] == "CreateUser"]
        assert huge and all(len(e["errorMessage"]) <= 4096 and e["errorMessage"].endswith("\u2026") for e in huge)
        omitted = [e for e in events if e["eventName"] == "AuthorizeRequest" and e["requestID"] in attacker]
        assert omitted and all(set(e["requestParameters"]) == {"omitted"} for e in omitted)


# -- no answer without its event ------------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_calls_fail_rather_than_answer_unaudited(backend: str, tmp_path: Path) -> None:
    with own_server(backend, tmp_path) as srv:
        iam = srv.client("iam")
        user, key = user_with_key(iam)
        role = role_for(iam, user["Arn"])
        service_role = iam.create_role(RoleName=unique("svc"), AssumeRolePolicyDocument=service_trust(ECS))["Role"]["RoleName"]
        sts = srv.client("sts", key["AccessKeyId"], key["SecretAccessKey"])
        name = unique("while-down")
        break_trail(srv)
        try:
            # a mutating call: refused, and its change rolled back
            assert call(iam.create_user, UserName=name)[:3] == ("ServiceUnavailable",
                                                                "The request has failed due to a temporary failure of the server.", 503)
            assert call(iam.get_user, UserName=name)[0] == "NoSuchEntity"
            assert call(iam.create_access_key, UserName=user["UserName"])[0] == "ServiceUnavailable"
            assert len(iam.list_access_keys(UserName=user["UserName"])["AccessKeyMetadata"]) == 1
            # credentials are not handed out
            assert call(sts.assume_role, RoleArn=role, RoleSessionName="s1")[0] == "ServiceUnavailable"
            assert call(sts.get_session_token)[0] == "ServiceUnavailable"
            r = call_api(srv, "service-credentials", {"RoleName": service_role, "ServicePrincipal": ECS}, srv.access_key, srv.secret_key)
            assert r.status_code == 503 and r.json()["Error"]["Code"] == "ServiceUnavailable" and "Credentials" not in r.json()
            # a refusal is not answered unaudited either
            mine = srv.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
            assert call(mine.create_user, UserName=unique("no"))[0] == "ServiceUnavailable"
            # read-only calls are audited asynchronously (README): still answered
            assert call(srv.client("sts").get_caller_identity)[0] is None
        finally:
            mend_trail(srv)
        created = call(iam.create_user, UserName=name)
        assert created[0] is None
        events, _ = read_trail(srv)
        assert any(e["requestID"] == created[3] and e["eventName"] == "CreateUser" for e in events)
        log = srv.log.read_text()
        assert "audit event not" in log and "ServiceUnavailable" in log


# -- no secret in an error, a log line or the trail ------------------------------------------------------

def test_no_sensitive_value_reaches_an_error_the_log_or_the_trail(server: Server) -> None:
    """Every sensitive input member of every IAM and STS operation, with values too long, off their pattern
    and good; and the JSON API's forwarded request (its signature and session token)."""
    sent: list[tuple[str, str, str, str]] = []  # (secret, where, kind or "unread", request id)
    for svc, name, path, where in SENSITIVE:
        op = operation(svc, name)
        params = Generator("full").value(op.input_shape)
        shape = _shape_at(svc, name, path)
        if shape.name in ("tokenCodeType", "authenticationCodeType"):  # an MFA one-time code: six digits, looked
            secret = "470913"  # for in its own event's parameters only (six digits may stand anywhere in a trail)
        else:
            secret = "Zq" + uuid.uuid4().hex[:12] + "Sx"
        values = {k: v for k, v in bad_values(shape, secret).items() if k != "too_short"}
        values["good"] = secret
        client = server.client(svc, validate=False)
        for kind, value in values.items():
            code, message, status, rid = call(getattr(client, xform_name(name)), **replaced(params, path, value))
            assert secret not in message and secret[:8] not in message, (name, kind, message)
            if kind != "good" and (code, status) == ("MissingAuthenticationToken", 403):
                # botocore sends it unsigned and this server does not take it unsigned (AssumeRoleWithSAML)
                assert op.auth_type == "none" and (svc, name) != ("sts", "AssumeRoleWithWebIdentity"), name
            elif kind != "good":
                assert (code, status) == ("ValidationError", 400), (name, kind, code, message)
                assert f"Value at '{where}' failed to satisfy constraint" in message, (name, kind, message)
            sent.append((secret, where, "unread" if code == "MissingAuthenticationToken" else kind, rid))
    # a session's credentials forwarded to the authorisation API
    iam = server.client("iam")
    user, key = user_with_key(iam)
    creds = server.client("sts", key["AccessKeyId"], key["SecretAccessKey"]).assume_role(
        RoleArn=role_for(iam, user["Arn"]), RoleSessionName="fwd")["Credentials"]
    r = call_api(server, "authorize", {"Request": forwarded("http://objects.internal", creds), "Action": "s3:GetObject",
                                       "Resource": "arn:aws:s3:::b/k"}, server.access_key, server.secret_key)
    assert r.status_code == 200, r.text
    forwarded_id = r.json()["RequestId"]
    secrets = [s for s, *_ in sent if s != "470913"] + [creds["SessionToken"], creds["SecretAccessKey"], key["SecretAccessKey"]]

    deadline = time.monotonic() + 15  # read-only calls' events are written within half a second
    while True:
        events, text = read_trail(server)
        by_id = {e["requestID"]: e for e in events}
        if (all(rid in by_id for *_, rid in sent) and forwarded_id in by_id) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert [rid for *_, rid in sent if rid not in by_id] == [] and forwarded_id in by_id
    for secret in secrets:
        assert secret not in text
    for secret, where, kind, rid in sent:
        assert secret not in json.dumps(by_id[rid]["requestParameters"]), (where, by_id[rid])
        if kind == "good":
            assert HIDDEN in json.dumps(by_id[rid]["requestParameters"]), (where, by_id[rid])
    assert by_id[forwarded_id]["requestParameters"]["request"] == HIDDEN
    log = server.log.read_text(errors="replace")
    for secret in secrets:
        assert secret not in log


# -- every mutating call and every credential issuance, the newer ones included ---------------------------------

def test_every_mutating_or_secret_answering_operation_waits_for_its_event() -> None:
    """Held against the registry and botocore's models: an operation that writes (every name but the Get, List,
    Generate, Simulate and Decode reads) or whose answer holds a member the model marks sensitive is durable, so
    its answer waits for its event; the credential issuers are among them."""
    from iamroles.iam import OPERATIONS
    from iamroles.protocol import holds_secret
    from iamroles.server.query import route

    reads = ("Get", "List", "Generate", "Simulate", "Decode")
    for (svc, name), op in OPERATIONS.items():
        if svc == "organizations":
            continue  # the JSON endpoint's (server.orgs): held in test_organizations
        found = route(svc, name)
        assert found is not None and found.op is op, name
        secret = found.model.output_shape is not None and holds_secret(found.model.output_shape)
        if not name.startswith(reads) and svc == "iam":
            assert op.write, f"{name} changes something but is not a write"
        assert found.durable == (op.write or secret), name
    issuers = {("sts", n) for n in ("AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity", "GetSessionToken",
                                    "GetFederationToken")} | {("iam", n) for n in (
        "CreateAccessKey", "CreateServiceSpecificCredential", "ResetServiceSpecificCredential", "CreateVirtualMFADevice",
        "CreateLoginProfile", "UpdateLoginProfile", "ChangePassword", "UploadSigningCertificate", "UploadSSHPublicKey",
        "UploadServerCertificate", "EnableMFADevice", "ResyncMFADevice")}
    assert all(route(svc, name).durable for svc, name in issuers)  # type: ignore[union-attr]


def test_the_newer_credential_calls_are_in_the_trail_when_answered(server: Server) -> None:
    """Login profiles and passwords (whose hashing is prepared outside the transaction), service-specific
    credentials, SSH keys, signing and server certificates, virtual MFA devices, GetFederationToken and
    AssumeRoleWithSAML (unsigned): each answered call's event is in the trail when its answer arrives, no secret
    they answer with (a service password, an MFA seed) or were given is in the trail or the server's log."""
    from .test_credentials import certificate, ec_key, pem, pem_private, rsa_key, ssh_line
    from .test_saml import IdP, saml_trust

    iam = server.client("iam")
    iam.update_account_password_policy(AllowUsersToChangePassword=True, MinimumPasswordLength=8)
    try:
        user, key = user_with_key(iam, {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "sts:GetFederationToken", "Resource": "*"}]})
        name = user["UserName"]
        me = server.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
        password, new_password = "Pw1!" + uuid.uuid4().hex[:10], "Pw2!" + uuid.uuid4().hex[:10]
        cert_key = ec_key()
        idp = IdP()
        provider = iam.create_saml_provider(Name=unique("audit"), SAMLMetadataDocument=idp.metadata())["SAMLProviderArn"]
        saml_role = iam.create_role(RoleName=unique("saml"), AssumeRolePolicyDocument=saml_trust(provider))["Role"]["Arn"]
        outcomes: dict[str, tuple[str | None, str, int, str]] = {}
        answered: dict[str, Any] = {}

        def keep(what: str, method: Any, **params: Any) -> None:
            try:
                answered[what] = out = method(**params)
            except ClientError as exc:
                outcomes[what] = (exc.response["Error"]["Code"], exc.response["Error"]["Message"], 0, request_id(exc))
                return
            outcomes[what] = (None, "", 200, request_id(out))

        keep("CreateLoginProfile", iam.create_login_profile, UserName=name, Password=password)
        keep("ChangePassword", me.change_password, OldPassword=password, NewPassword=new_password)
        keep("UpdateLoginProfile", iam.update_login_profile, UserName=name, Password=password + "x")
        keep("CreateServiceSpecificCredential", iam.create_service_specific_credential, UserName=name,
             ServiceName="codecommit.amazonaws.com")
        cred_id = answered["CreateServiceSpecificCredential"]["ServiceSpecificCredential"]["ServiceSpecificCredentialId"]
        keep("ResetServiceSpecificCredential", iam.reset_service_specific_credential, UserName=name,
             ServiceSpecificCredentialId=cred_id)
        keep("UploadSSHPublicKey", iam.upload_ssh_public_key, UserName=name, SSHPublicKeyBody=ssh_line(rsa_key()))
        keep("UploadSigningCertificate", iam.upload_signing_certificate, UserName=name,
             CertificateBody=pem(certificate(ec_key(), "audit-signing")))
        keep("UploadServerCertificate", iam.upload_server_certificate, ServerCertificateName=unique("audit"),
             CertificateBody=pem(certificate(cert_key, "audit.example.com")), PrivateKey=pem_private(cert_key))
        keep("CreateVirtualMFADevice", iam.create_virtual_mfa_device, VirtualMFADeviceName=unique("audit"))
        keep("GetFederationToken", server.client("sts", key["AccessKeyId"], key["SecretAccessKey"]).get_federation_token,
             Name="fed")
        sts = server.client("sts")
        sts.meta.events.register("choose-signer", lambda **kw: UNSIGNED)
        keep("AssumeRoleWithSAML", sts.assume_role_with_saml, RoleArn=saml_role, PrincipalArn=provider,
             SAMLAssertion=idp.signed(roles=[f"{saml_role},{provider}"]))
        failed = {k: v for k, v in outcomes.items() if v[0] is not None}
        assert not failed, failed
        events, text = read_trail(server)
        by_id = {e["requestID"]: e for e in events}
        for what, (_, _, _, rid) in outcomes.items():
            assert rid in by_id and by_id[rid]["eventName"] == what, f"the {what} call's event is not in the trail"
        secrets = [password, new_password, password + "x",
                   answered["CreateServiceSpecificCredential"]["ServiceSpecificCredential"]["ServicePassword"],
                   answered["ResetServiceSpecificCredential"]["ServiceSpecificCredential"]["ServicePassword"],
                   answered["CreateVirtualMFADevice"]["VirtualMFADevice"]["Base32StringSeed"].decode(),
                   answered["GetFederationToken"]["Credentials"]["SecretAccessKey"],
                   answered["AssumeRoleWithSAML"]["Credentials"]["SecretAccessKey"],
                   answered["AssumeRoleWithSAML"]["Credentials"]["SessionToken"]]
        log = server.log.read_text(errors="replace")
        for secret in secrets:
            assert secret not in text and secret not in log
    finally:
        iam.delete_account_password_policy()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_prepared_calls_fail_rather_than_answer_unaudited(backend: str, tmp_path: Path) -> None:
    """A call whose slow work is done before its transaction (a new password's hash) is still refused when its
    event cannot be committed, and its change rolled back."""
    with own_server(backend, tmp_path) as srv:
        iam = srv.client("iam")
        user, key = user_with_key(iam)
        name = user["UserName"]
        break_trail(srv)
        try:
            assert call(iam.create_login_profile, UserName=name, Password="Pw1!first-one")[:3] == (
                "ServiceUnavailable", "The request has failed due to a temporary failure of the server.", 503)
        finally:
            mend_trail(srv)
        assert call(iam.get_login_profile, UserName=name)[0] == "NoSuchEntity"
        iam.update_account_password_policy(AllowUsersToChangePassword=True, MinimumPasswordLength=8)
        iam.create_login_profile(UserName=name, Password="Pw1!first-one")
        me = srv.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
        break_trail(srv)
        try:
            assert call(me.change_password, OldPassword="Pw1!first-one", NewPassword="Pw2!second-one")[0] == "ServiceUnavailable"
        finally:
            mend_trail(srv)
        # the change was rolled back: the first password is still the one
        assert call(me.change_password, OldPassword="Pw2!second-one", NewPassword="Pw3!third-one")[0] == "AccessDenied"
        assert call(me.change_password, OldPassword="Pw1!first-one", NewPassword="Pw3!third-one")[0] is None


def test_a_database_failure_logs_no_statement_parameters(tmp_path: Path) -> None:
    """An unexpected database error is logged (InternalFailure) without the statement's parameters, which hold what
    the call was writing (a password's hash here; the request's values in general)."""
    with own_server("postgresql", tmp_path) as srv:
        iam = srv.client("iam")
        user, _ = user_with_key(iam)
        execute(srv, "CREATE FUNCTION refuse_profiles() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'profiles down'; END $$ "
                     "LANGUAGE plpgsql",
                "CREATE TRIGGER refuse_profiles BEFORE INSERT ON login_profiles FOR EACH ROW EXECUTE FUNCTION refuse_profiles()")
        code, message, status, _ = call(iam.create_login_profile, UserName=user["UserName"], Password="Pw1!never-logged")
        assert (code, status) == ("InternalFailure", 500) and "profiles down" not in message
        log = srv.log.read_text(errors="replace")
        assert "profiles down" in log  # the failure is logged
        assert "$argon2id$" not in log and user["UserId"] not in log, log[-3000:]
