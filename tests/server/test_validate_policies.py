"""``iamroles serve --validate-policies=off|warn|deny`` on a real server over SQLite and PostgreSQL: Access Analyzer's
policy checks (https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-reference-policy-checks.html) on every
policy document stored.

AWS stores a document whatever its findings (ValidatePolicy is a call of its own,
https://docs.aws.amazon.com/access-analyzer/latest/APIReference/API_ValidatePolicy.html): ``off`` and ``warn`` do the
same; ``warn`` logs and audits the findings (CloudTrail's additionalEventData,
https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html). ``deny``
refuses an ERROR or SECURITY_WARNING finding as IAM refuses a bad document: MalformedPolicyDocument (400), or for
Organizations MalformedPolicyDocumentException (API_CreatePolicy.html, API_UpdatePolicy.html of Organizations);
nothing is stored.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import Server, fresh_pg_database, start_server, stop_server, unique
from .test_audit import read_trail, request_id
from .test_partitions import create_account

OTHER = "444455556666"


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


CLEAN = doc(allow("s3:GetObject", "arn:aws:s3:::reports/*"))
ERROR = doc(allow(["s3:GetObject", "s3:GetObjekt"], "arn:aws:s3:::reports/*"))  # INVALID_ACTION at Statement[0].Action[1]
SECURITY = doc(allow("iam:PassRole"))  # PASS_ROLE_WITH_STAR_IN_RESOURCE
WARNING = doc({"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::secret/*"})  # IAMROLES_ALLOW_WITH_NOT_RESOURCE
OPEN_TRUST = doc({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"})  # IAMROLES_TRUST_ANY_PRINCIPAL
PARTNER_TRUST = doc({"Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": "sts:AssumeRole"})  # ..._WITHOUT_EXTERNAL_ID
GUARDED_TRUST = doc({"Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": "sts:AssumeRole",
                     "Condition": {"StringEquals": {"sts:ExternalId": "partner-7"}}})


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def servers(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    """A warn and a deny server on the backend, each with a database of its own."""
    with ExitStack() as stack:
        out: dict[str, Server] = {}
        for mode in ("warn", "deny"):
            db_url = stack.enter_context(fresh_pg_database(f"iamroles_validate_{mode}_")) if request.param == "postgresql" else None
            srv = start_server(tmp_path_factory.mktemp(f"validate-{mode}-{request.param}"), db_url, "--validate-policies", mode)
            stack.callback(stop_server, srv)
            out[mode] = srv
        yield out


STATUS = {"MalformedPolicyDocument": 400, "AccessDenied": 403, "NoSuchEntity": 404}


def refused(call: Any, code: str = "MalformedPolicyDocument") -> str:
    with pytest.raises(ClientError) as exc:
        call()
    err = exc.value.response
    assert err["Error"]["Code"] == code, err
    assert err["ResponseMetadata"]["HTTPStatusCode"] == STATUS[code], err
    return str(err["Error"]["Message"])


def event(srv: Server, rid: str) -> dict[str, Any]:
    events, _ = read_trail(srv)
    return next(e for e in events if e["requestID"] == rid)


def test_deny_refuses_errors_and_security_warnings_on_every_write(servers: dict[str, Server]) -> None:
    iam: Any = servers["deny"].client("iam")
    name = unique("p")
    message = refused(lambda: iam.create_policy(PolicyName=name, PolicyDocument=ERROR))
    assert message.startswith("Policy validation failed: INVALID_ACTION at Statement[0].Action[1]: ")
    assert "s3:GetObjekt" in message
    refused(lambda: iam.get_policy(PolicyArn=f"arn:aws:iam::{servers['deny'].account}:policy/{name}"), "NoSuchEntity")
    assert "PASS_ROLE_WITH_STAR_IN_RESOURCE" in refused(lambda: iam.create_policy(PolicyName=name, PolicyDocument=SECURITY))
    arn = iam.create_policy(PolicyName=name, PolicyDocument=CLEAN)["Policy"]["Arn"]
    refused(lambda: iam.create_policy_version(PolicyArn=arn, PolicyDocument=SECURITY, SetAsDefault=True))
    assert [v["VersionId"] for v in iam.list_policy_versions(PolicyArn=arn)["Versions"]] == ["v1"]
    user, group, role = unique("u"), unique("g"), unique("r")
    iam.create_user(UserName=user)
    iam.create_group(GroupName=group)
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=GUARDED_TRUST)
    refused(lambda: iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=ERROR))
    refused(lambda: iam.put_group_policy(GroupName=group, PolicyName="p", PolicyDocument=SECURITY))
    refused(lambda: iam.put_role_policy(RoleName=role, PolicyName="p", PolicyDocument=ERROR))
    assert iam.list_user_policies(UserName=user)["PolicyNames"] == []
    assert iam.list_group_policies(GroupName=group)["PolicyNames"] == []
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == []
    # trust policies: open to every AWS principal, or to another account without sts:ExternalId
    assert "IAMROLES_TRUST_ANY_PRINCIPAL" in refused(lambda: iam.create_role(RoleName=unique("r"), AssumeRolePolicyDocument=OPEN_TRUST))
    message = refused(lambda: iam.update_assume_role_policy(RoleName=role, PolicyDocument=PARTNER_TRUST))
    assert "IAMROLES_TRUST_OTHER_ACCOUNT_WITHOUT_EXTERNAL_ID" in message and OTHER in message
    assert "partner-7" in json.dumps(iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"])


def test_deny_accepts_warnings_and_audits_them(servers: dict[str, Server]) -> None:
    srv = servers["deny"]
    iam: Any = srv.client("iam")
    user = unique("u")
    iam.create_user(UserName=user)
    out = iam.put_user_policy(UserName=user, PolicyName="read", PolicyDocument=WARNING)
    recorded = event(srv, request_id(out))
    assert recorded["errorCode"] is None
    found = recorded["additionalEventData"]["policyValidationFindings"]
    assert [(f["findingType"], f["issueCode"], f["location"]) for f in found] == [
        ("WARNING", "IAMROLES_ALLOW_WITH_NOT_RESOURCE", "Statement[0].NotResource")]
    clean = iam.put_user_policy(UserName=user, PolicyName="clean", PolicyDocument=CLEAN)
    assert "additionalEventData" not in event(srv, request_id(clean))


def test_deny_keeps_every_other_answer(servers: dict[str, Server]) -> None:
    """A syntax error is still the parser's message; a caller not allowed to write is still AccessDenied (the checks
    run after authorisation, on what would be stored); a refusal is audited with its code."""
    srv = servers["deny"]
    iam: Any = srv.client("iam")
    message = refused(lambda: iam.create_policy(PolicyName=unique("p"), PolicyDocument='{"Version": "2012-10-17", "Statement": []}'))
    assert "Policy validation" not in message
    user = unique("u")
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    theirs: Any = srv.client("iam", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    refused(lambda: theirs.create_policy(PolicyName=unique("p"), PolicyDocument=ERROR), "AccessDenied")
    with pytest.raises(ClientError) as exc:
        iam.create_policy(PolicyName=unique("p"), PolicyDocument=ERROR)
    recorded = event(srv, request_id(exc.value))
    assert recorded["errorCode"] == "MalformedPolicyDocument" and "INVALID_ACTION" in recorded["errorMessage"]
    assert srv.secret_key not in srv.log.read_text() and key["SecretAccessKey"] not in srv.log.read_text()


def test_deny_covers_organizations_policies(servers: dict[str, Server]) -> None:
    srv = servers["deny"]
    management = create_account(srv)
    orgs: Any = srv.client("organizations", key=management.key, secret=management.secret)
    orgs.create_organization(FeatureSet="ALL")
    bad = doc({"Effect": "Deny", "Action": "iam:CreateUserr", "Resource": "*"})
    with pytest.raises(ClientError) as exc:
        orgs.create_policy(Name=unique("scp"), Description="d", Type="SERVICE_CONTROL_POLICY", Content=bad)
    assert exc.value.response["Error"]["Code"] == "MalformedPolicyDocumentException"
    assert "INVALID_ACTION" in exc.value.response["Error"]["Message"]
    assert [p["Name"] for p in orgs.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]] == ["FullAWSAccess"]
    good = doc({"Effect": "Deny", "Action": "iam:CreateUser", "Resource": "*"})
    pid = orgs.create_policy(Name=unique("scp"), Description="d", Type="SERVICE_CONTROL_POLICY", Content=good)["Policy"]["PolicySummary"]["Id"]
    # UpdatePolicy (API_UpdatePolicy.html) is checked as CreatePolicy: refused, the content kept
    with pytest.raises(ClientError) as exc:
        orgs.update_policy(PolicyId=pid, Content=bad)
    assert exc.value.response["Error"]["Code"] == "MalformedPolicyDocumentException"
    assert json.loads(orgs.describe_policy(PolicyId=pid)["Policy"]["Content"]) == json.loads(good)


def test_warn_accepts_logs_and_audits(servers: dict[str, Server]) -> None:
    srv = servers["warn"]
    iam: Any = srv.client("iam")
    marker = unique("marker")
    document = doc(allow(["s3:GetObject", "s3:GetObjekt"], f"arn:aws:s3:::{marker}/*"), allow("iam:PassRole"))
    out = iam.create_policy(PolicyName=unique("p"), PolicyDocument=document)
    assert out["Policy"]["DefaultVersionId"] == "v1"
    rid = request_id(out)
    found = event(srv, rid)["additionalEventData"]["policyValidationFindings"]
    assert [(f["findingType"], f["issueCode"]) for f in found] == [("ERROR", "INVALID_ACTION"),
                                                                   ("SECURITY_WARNING", "PASS_ROLE_WITH_STAR_IN_RESOURCE")]
    role = unique("r")
    created = iam.create_role(RoleName=role, AssumeRolePolicyDocument=OPEN_TRUST)
    assert event(srv, request_id(created))["additionalEventData"]["policyValidationFindings"][0]["issueCode"] == \
        "IAMROLES_TRUST_ANY_PRINCIPAL"
    log = srv.log.read_text()
    lines = [line for line in log.splitlines() if rid in line]
    assert any("INVALID_ACTION" in line for line in lines) and any("PASS_ROLE_WITH_STAR_IN_RESOURCE" in line for line in lines)
    assert marker not in "\n".join(line for line in lines if "INVALID_ACTION" not in line)  # the document is not logged
    assert srv.secret_key not in log


def test_off_is_aws_and_the_default(server: Server) -> None:
    iam: Any = server.client("iam")
    out = iam.create_policy(PolicyName=unique("p"), PolicyDocument=ERROR)
    assert "additionalEventData" not in event(server, request_id(out))


def test_the_option_refuses_other_modes(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError) as exc:
        start_server(tmp_path, None, "--validate-policies", "strict")
    assert "Invalid value for '--validate-policies'" in str(exc.value)
