"""Trust policies must grant: the escalation the outside review found, over the wire on both backends.

A user whose only policy allows ``sts:AssumeRole`` on ``*`` assumed any role of the account whatever its trust
policy said. AWS: "Role trust policies and KMS key policies are exceptions to this logic, because they must
explicitly allow access for principals"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html); a role is
assumed only by those its trust policy names, directly or through an account that delegates to identity
policies. Each refusal is AccessDenied (403) worded as STS words it
(https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html), is audited as a refusal, and
issues nothing.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import Server, unique
from .test_sts import make_user, session_client

ASSUME_ANY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}


def _trust(principal: dict[str, Any], condition: dict[str, Any] | None = None) -> str:
    st: dict[str, Any] = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    if condition:
        st["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [st]})


def _refused(call: Any, caller_arn: str, role_arn: str, **kwargs: Any) -> None:
    with pytest.raises(ClientError) as exc:
        call(RoleArn=role_arn, RoleSessionName="escalate", **kwargs)
    r = exc.value.response
    assert (r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]) == ("AccessDenied", 403)
    assert r["Error"]["Message"] == f"User: {caller_arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"


def _audit(server: Server, principal: str) -> list[dict[str, Any]]:
    cmd = [sys.executable, "-m", "iamroles", "audit", "--data-dir", str(server.data_dir), "--principal", principal, "--json"]
    if server.db_url:
        cmd += ["--db", server.db_url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60)
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_assume_any_role_is_refused_unless_the_trust_policy_grants(iam: Any, server: Server) -> None:
    attacker, key = make_user(iam, server, ASSUME_ANY)
    victim, _ = make_user(iam, server)
    sts = server.client("sts", key["AccessKeyId"], key["SecretAccessKey"])
    roles = {
        "names-another-user": _trust({"AWS": victim["Arn"]}),
        "trusts-a-service": _trust({"Service": "ecs-tasks.amazonaws.com"}),
        "external-id": _trust({"AWS": attacker["Arn"]}, {"StringEquals": {"sts:ExternalId": "tenant-42"}}),
        "same-name-other-account": _trust({"AWS": f"arn:aws:iam::444455556666:user/{attacker['UserName']}"}),
    }
    arns = {k: iam.create_role(RoleName=unique(k[:20]), AssumeRolePolicyDocument=doc)["Role"]["Arn"] for k, doc in roles.items()}
    _refused(sts.assume_role, attacker["Arn"], arns["names-another-user"])
    _refused(sts.assume_role, attacker["Arn"], arns["trusts-a-service"])
    _refused(sts.assume_role, attacker["Arn"], arns["external-id"])  # no ExternalId
    _refused(sts.assume_role, attacker["Arn"], arns["external-id"], ExternalId="tenant-43")  # a wrong one
    _refused(sts.assume_role, attacker["Arn"], arns["same-name-other-account"])
    # the right ExternalId: the trust policy names the attacker, so it grants
    assert sts.assume_role(RoleArn=arns["external-id"], RoleSessionName="ok", ExternalId="tenant-42")["Credentials"]["AccessKeyId"]

    # the audit trail records the refusals as refusals (the writer flushes every half second)
    deadline = time.monotonic() + 10
    while True:
        events = [e for e in _audit(server, attacker["Arn"]) if e["eventName"] == "AssumeRole"]
        if len(events) >= 6 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    codes = sorted(str(e["errorCode"]) for e in events)
    assert codes == ["AccessDenied"] * 5 + ["None"], codes


def test_the_named_user_needs_no_identity_policy_and_the_account_delegates(iam: Any, server: Server) -> None:
    user, key = make_user(iam, server)  # no policy at all
    sts = server.client("sts", key["AccessKeyId"], key["SecretAccessKey"])
    named = iam.create_role(RoleName=unique("named"), AssumeRolePolicyDocument=_trust({"AWS": user["Arn"]}))["Role"]["Arn"]
    assert sts.assume_role(RoleArn=named, RoleSessionName="s1")["AssumedRoleUser"]["Arn"].endswith("/s1")
    by_account = iam.create_role(RoleName=unique("acct"), AssumeRolePolicyDocument=_trust({"AWS": server.account}))["Role"]["Arn"]
    with pytest.raises(ClientError) as exc:
        sts.assume_role(RoleArn=by_account, RoleSessionName="s1")
    assert exc.value.response["Error"]["Code"] == "AccessDenied"
    assert exc.value.response["Error"]["Message"] == f"User: {user['Arn']} is not authorized to perform: sts:AssumeRole on resource: {by_account}"
    iam.put_user_policy(UserName=user["UserName"], PolicyName="assume", PolicyDocument=json.dumps(ASSUME_ANY))
    assert sts.assume_role(RoleArn=by_account, RoleSessionName="s2")["Credentials"]["SessionToken"]


def test_chaining_needs_the_next_role_to_trust_the_first(iam: Any, server: Server) -> None:
    user, key = make_user(iam, server)
    first = unique("first")
    first_arn = iam.create_role(RoleName=first, AssumeRolePolicyDocument=_trust({"AWS": user["Arn"]}))["Role"]["Arn"]
    iam.put_role_policy(RoleName=first, PolicyName="assume", PolicyDocument=json.dumps(ASSUME_ANY))
    creds = server.client("sts", key["AccessKeyId"], key["SecretAccessKey"]).assume_role(
        RoleArn=first_arn, RoleSessionName="hop")["Credentials"]
    session = session_client(server, "sts", creds)
    session_arn = f"arn:aws:sts::{server.account}:assumed-role/{first}/hop"

    stranger = iam.create_role(RoleName=unique("stranger"), AssumeRolePolicyDocument=_trust({"AWS": user["Arn"]}))["Role"]["Arn"]
    _refused(session.assume_role, session_arn, stranger)  # trusts the user, not the role's sessions
    trusting = iam.create_role(RoleName=unique("next"), AssumeRolePolicyDocument=_trust({"AWS": first_arn}))["Role"]["Arn"]
    out = session.assume_role(RoleArn=trusting, RoleSessionName="hop2")
    assert out["AssumedRoleUser"]["Arn"].endswith("/hop2")
