"""Attacks on the authorisation API (``POST /iamroles/v1/authorize``), which other services ask about requests they
received: a service asking about another account's resources, and a question whose context claims what IAM itself
derives from the signed request.

AWS rules:

* https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html (the
  resource's owner decides with its resource policy; the signer's account with its identity policies): a service
  answers for its own account's resources only (README, "iamroles' own API").
* https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html: the properties of the
  principal (aws:PrincipalArn, aws:PrincipalTag/..., aws:PrincipalOrgID, aws:userid...), of the resource's account
  (aws:ResourceAccount, aws:ResourceOrgID, aws:ResourceOrgPaths), of its session (aws:MultiFactorAuthPresent,
  aws:TokenIssueTime, aws:SourceIdentity...) and of the request (aws:SourceIp, aws:SecureTransport, aws:CurrentTime...)
  are AWS's to say; services supply their own keys (s3:prefix, aws:ResourceTag/..., aws:RequestTag/...).
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from .conftest import Creds, World, allow, policy

AUTHORIZER = policy(allow("iamroles:AuthorizeRequest"))


def forwarded(who: Creds, path: str = "/bucket/key.txt") -> dict[str, Any]:
    """A request an S3-like service received from ``who``, as the service forwards it."""
    url = "http://objects.internal:9000"
    req = AWSRequest("GET", url + path, data=b"", headers={"x-amz-content-sha256": hashlib.sha256(b"").hexdigest()})
    SigV4Auth(Credentials(who.key, who.secret, who.token), "s3", "us-east-1").add_auth(req)
    headers = dict(req.prepare().headers.items())
    headers["host"] = "objects.internal:9000"
    return {"Method": "GET", "Path": path, "Query": "", "Headers": headers, "PayloadHash": hashlib.sha256(b"").hexdigest()}


def ask(service: Creds, who: Creds, **body: Any) -> httpx.Response:
    body.setdefault("Action", "s3:GetObject")
    body.setdefault("Resource", "arn:aws:s3:::bucket/key.txt")
    return service.api("authorize", {"Request": forwarded(who), **body})


CLAIMS = {
    "principal-tag": {"aws:PrincipalTag/team": "blue"},
    "principal-tag-other-case": {"AWS:principaltag/TEAM": "blue"},
    "principal-arn": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/Admin"},
    "principal-account": {"aws:PrincipalAccount": "444455556666"},
    "userid": {"aws:userid": "AIDAADMINISTRATOR0001"},
    "username": {"aws:username": "admin"},
    "mfa": {"aws:MultiFactorAuthPresent": "true"},
    "source-ip": {"aws:SourceIp": "10.0.0.1"},
    "secure-transport": {"aws:SecureTransport": "true"},
    "current-time": {"aws:CurrentTime": "2020-01-01T00:00:00Z"},
    "source-identity": {"aws:SourceIdentity": "admin"},
    "resource-account": {"aws:ResourceAccount": "444455556666"},
    # the resource's organization, which RCPs and "only our organization's resources" conditions test
    "resource-org-id": {"aws:ResourceOrgID": "o-a1b2c3d4e5"},
    "resource-org-paths": {"aws:ResourceOrgPaths": "o-a1b2c3d4e5/r-ab12/"},
    "principal-org-id": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"},
}


@pytest.mark.parametrize("claim", list(CLAIMS), ids=list(CLAIMS))
def test_a_context_cannot_claim_what_iam_derives(world: World, claim: str) -> None:
    """Each claim would turn the reader's Deny-unless into an Allow were it believed; the API refuses the question
    (ValidationError, 400: the calling service's mistake) and decides nothing."""
    service = world.user(AUTHORIZER)
    guarded = {"StringEquals": {"aws:PrincipalTag/team": "blue", "aws:username": "admin",
                                "aws:MultiFactorAuthPresent": "true", "aws:SourceIdentity": "admin"}}
    reader = world.user(policy(allow("s3:GetObject", "*", {"StringEquals": dict(CLAIMS[claim])})))
    r = ask(service, reader, Context=CLAIMS[claim])
    doc = r.json()
    assert (r.status_code, doc["Error"]["Code"]) == (400, "ValidationError"), r.text
    assert doc["Error"]["Message"].startswith(f"Context may not set {next(iter(CLAIMS[claim]))}"), r.text
    assert "Allowed" not in doc
    # the control: the service's own keys are taken, and the reader's real properties decide
    ok = ask(service, reader, Context={"s3:prefix": "key.txt"}, ResourcePolicy=json.dumps(policy(
        {"Effect": "Allow", "Principal": {"AWS": reader.arn}, "Action": "s3:GetObject", "Resource": "*", "Condition": guarded})))
    assert ok.status_code == 200 and ok.json()["Authenticated"] and not ok.json()["Allowed"], ok.text


def test_the_api_answers_only_about_the_callers_account(world: World) -> None:
    """A service of account A cannot learn what B's policies allow B's principals on B's resources."""
    b = world.other_account()
    service = world.user(AUTHORIZER)
    b_reader = world.user(policy(allow("s3:GetObject")), account=b)
    for body in ({"ResourceAccount": b.account_id},
                 {"Resource": f"arn:aws:sqs:us-east-1:{b.account_id}:queue", "Action": "sqs:SendMessage"},
                 {"Resource": "arn:aws-cn:s3:::bucket/key.txt"}):
        r = ask(service, b_reader, **body)
        assert (r.status_code, r.json()["Error"]["Code"]) == (403, "AccessDenied"), r.text
        assert "Allowed" not in r.json()
    # about its own resource, B's principal is decided as across accounts: the resource policy must allow too
    r = ask(service, b_reader)
    assert r.status_code == 200 and not r.json()["Allowed"] and r.json()["DeniedBy"] == "resource", r.text
