"""IAM temporary delegation on a real server (SQLite and PostgreSQL): a partner account asks, a customer account
associates, accepts and sends the token, the partner picks it up and trades it for credentials bounded by the
request's permission policy; and every way around it is refused.

AWS pages: https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies-temporary-delegation.html,
https://docs.aws.amazon.com/IAM/latest/UserGuide/temporary-delegation-building-integration.html (the lifecycle),
https://docs.aws.amazon.com/IAM/latest/UserGuide/temporary-delegation-policy-templates.html (templates, @{param}),
https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateDelegationRequest.html and its siblings,
https://docs.aws.amazon.com/STS/latest/APIReference/API_GetDelegatedAccessToken.html,
https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetHumanReadableSummary.html.
"""
from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import Server, unique
from .test_audit import read_trail
from .test_integration_api import call_api
from .test_partitions import Account, create_account

TEMPLATE = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["iam:ListRoles", "iam:GetRole"], "Resource": "*"},
    {"Effect": "Allow", "Action": "iam:CreateRole", "Resource": "arn:aws:iam::*:role/@{rolePrefix}*",
     "Condition": {"StringEquals": {"iam:PermissionsBoundary": "@{boundaries}"}}}]}
ADMIN = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def register(server: Server, account: str, name: str, tmp: Path, document: dict[str, Any] = TEMPLATE) -> str:
    path = tmp / f"{name}.json"
    path.write_text(json.dumps(document))
    cmd = [sys.executable, "-m", "iamroles", "accounts", "delegation-template", "--data-dir", str(server.data_dir),
           account, name, str(path), "--json"]
    cmd += ["--db", server.db_url] if server.db_url else []
    rows = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    return str(next(r["arn"] for r in rows if r["name"] == name))


def client(server: Server, account: Account, service: str = "iam") -> Any:
    return server.client(service, account.key, account.secret)


@pytest.fixture(scope="module")
def parties(server: Server, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    partner, customer, stranger = create_account(server), create_account(server), create_account(server)
    arn = register(server, partner.account_id, "onboard", tmp_path_factory.mktemp("templates"))
    return {"partner": partner, "customer": customer, "stranger": stranger, "template": arn}


def new_request(server: Server, parties: dict[str, Any], owner: str | None = "customer", duration: int = 3600,
                **extra: Any) -> str:
    partner: Account = parties["partner"]
    params: dict[str, Any] = {
        "Description": "Set up the product", "RequestorWorkflowId": unique("wf"), "SessionDuration": duration,
        "NotificationChannel": f"arn:aws:sns:us-east-1:{partner.account_id}:onboarding",
        "Permissions": {"PolicyTemplateArn": parties["template"], "Parameters": [
            {"Name": "rolePrefix", "Values": ["partner-"], "Type": "string"},
            {"Name": "boundaries", "Values": [f"arn:aws:iam::{parties['customer'].account_id}:policy/b1"], "Type": "stringList"}]},
        **extra}
    if owner:
        params["OwnerAccountId"] = parties[owner].account_id
    return str(client(server, partner).create_delegation_request(**params)["DelegationRequestId"])


def customer_user(server: Server, parties: dict[str, Any], policy: dict[str, Any] | None = ADMIN) -> tuple[Any, dict[str, Any]]:
    iam = client(server, parties["customer"])
    name = unique("cu")
    iam.create_user(UserName=name)
    if policy:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return server.client("iam", key["AccessKeyId"], key["SecretAccessKey"]), key


def pick_up(server: Server, account: Account, request_id: str) -> Any:
    return call_api(server, "delegation-token", {"DelegationRequestId": request_id}, account.key, account.secret)


def test_the_whole_lifecycle_gives_credentials_bounded_by_the_request(server: Server, parties: dict[str, Any]) -> None:
    """UNASSIGNED -> ASSIGNED -> PENDING_APPROVAL -> ACCEPTED -> FINALIZED (building-integration's "Normal Flow"); the
    credentials act as the identity that accepted (API_AcceptDelegationRequest) and can do only what the permission
    policy and that identity both allow; the token is traded once (API_GetDelegatedAccessToken)."""
    rid = new_request(server, parties)
    owner, _ = customer_user(server, parties, policy=None)  # no policy: the owner's default permissions only
    approver, _ = customer_user(server, parties)
    iam_admin = client(server, parties["customer"])
    iam_admin.associate_delegation_request(DelegationRequestId=rid)  # (the root associates: it becomes the owner)
    got = iam_admin.get_delegation_request(DelegationRequestId=rid, DelegationPermissionCheck=True)
    req = got["DelegationRequest"]
    assert req["State"] == "ASSIGNED" and req["OwnerAccountId"] == parties["customer"].account_id
    assert req["OwnerId"] == f"arn:aws:iam::{parties['customer'].account_id}:root"
    assert json.loads(req["PermissionPolicy"])["Statement"][1]["Resource"] == "arn:aws:iam::*:role/partner-*"
    assert req["RolePermissionRestrictionArns"] == [f"arn:aws:iam::{parties['customer'].account_id}:policy/b1"]
    assert got["PermissionCheckStatus"] == "COMPLETE" and got["PermissionCheckResult"] in ("ALLOWED", "UNSURE")
    # a user with no policy is not the owner: it is refused
    with pytest.raises(ClientError) as e:
        owner.get_delegation_request(DelegationRequestId=rid)
    assert code(e) == "AccessDenied"
    iam_admin.update_delegation_request(DelegationRequestId=rid, Notes="please approve")
    assert iam_admin.get_delegation_request(DelegationRequestId=rid)["DelegationRequest"]["State"] == "PENDING_APPROVAL"
    approver.accept_delegation_request(DelegationRequestId=rid)
    req = iam_admin.get_delegation_request(DelegationRequestId=rid)["DelegationRequest"]
    assert req["State"] == "ACCEPTED" and req["ApproverId"].startswith(f"arn:aws:iam::{parties['customer'].account_id}:user/cu-")
    # nothing to pick up before the token is sent
    assert pick_up(server, parties["partner"], rid).status_code == 404
    iam_admin.send_delegation_token(DelegationRequestId=rid)
    assert iam_admin.get_delegation_request(DelegationRequestId=rid)["DelegationRequest"]["State"] == "FINALIZED"
    # only the partner picks the token up, once
    assert pick_up(server, parties["stranger"], rid).status_code == 404
    answer = pick_up(server, parties["partner"], rid)
    assert answer.status_code == 200, answer.text
    token = answer.json()["TradeInToken"]
    assert pick_up(server, parties["partner"], rid).status_code == 404
    # another account holding the token cannot trade it
    with pytest.raises(ClientError) as e:
        client(server, parties["stranger"], "sts").get_delegated_access_token(TradeInToken=token)
    assert code(e) == "InvalidParameterValue"
    out = client(server, parties["partner"], "sts").get_delegated_access_token(TradeInToken=token)
    approver_arn = req["ApproverId"]
    assert out["AssumedPrincipal"] == approver_arn
    creds = out["Credentials"]
    delegated = server.client("iam", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    sts = server.client("sts", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert sts.get_caller_identity()["Arn"] == approver_arn
    delegated.list_roles()  # allowed by the permission policy and by the approver
    with pytest.raises(ClientError) as e:
        delegated.create_user(UserName=unique("no"))  # the approver may; the request did not ask for it
    assert code(e) == "AccessDenied"
    with pytest.raises(ClientError) as e:
        delegated.create_role(RoleName=unique("other"), AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))
    assert code(e) in ("AccessDenied", "MalformedPolicyDocument")
    # the delegated session takes no part in delegation and mints no other session (sts.limits)
    with pytest.raises(ClientError) as e:
        delegated.accept_delegation_request(DelegationRequestId=new_request(server, parties))
    assert code(e) == "InvalidClientTokenId"
    with pytest.raises(ClientError) as e:
        sts.get_session_token()
    assert code(e) == "AccessDenied"
    # the token is traded once
    with pytest.raises(ClientError) as e:
        client(server, parties["partner"], "sts").get_delegated_access_token(TradeInToken=token)
    assert code(e) == "ExpiredTradeInTokenException"
    # FINALIZED cannot be rolled back (API_SendDelegationToken)
    with pytest.raises(ClientError) as e:
        iam_admin.reject_delegation_request(DelegationRequestId=rid)
    assert code(e) == "InvalidInput"
    # every step is in the trail, and no token or secret is
    events, raw = read_trail(server, 2000)
    names = {e["eventName"] for e in events if rid in json.dumps(e.get("requestParameters") or {})}
    assert {"AssociateDelegationRequest", "UpdateDelegationRequest", "AcceptDelegationRequest", "SendDelegationToken",
            "GetDelegationRequest"} <= names
    assert token not in raw and creds["SecretAccessKey"] not in raw


def test_who_sees_a_request(server: Server, parties: dict[str, Any]) -> None:
    """GetDelegationRequest: "If the owner account is assigned ... only identities within that owner account can call"
    it; AssociateDelegationRequest: "only an identity from that owner account can call" it. Others: NoSuchEntity."""
    rid = new_request(server, parties)
    stranger = client(server, parties["stranger"])
    for call in (stranger.get_delegation_request, stranger.associate_delegation_request, stranger.accept_delegation_request,
                 stranger.reject_delegation_request, stranger.send_delegation_token):
        with pytest.raises(ClientError) as e:
            call(DelegationRequestId=rid)
        assert code(e) == "NoSuchEntity"
    # the partner sees its own request, but cannot act for the customer
    partner = client(server, parties["partner"])
    assert partner.get_delegation_request(DelegationRequestId=rid)["DelegationRequest"]["State"] == "UNASSIGNED"
    with pytest.raises(ClientError) as e:
        partner.accept_delegation_request(DelegationRequestId=rid)
    assert code(e) == "NoSuchEntity"
    # a request naming no account is any account's to associate; then only the owner account's
    open_rid = new_request(server, parties, owner=None)
    assert stranger.get_delegation_request(DelegationRequestId=open_rid)["DelegationRequest"]["State"] == "UNASSIGNED"
    stranger.associate_delegation_request(DelegationRequestId=open_rid)
    with pytest.raises(ClientError) as e:
        client(server, parties["customer"]).get_delegation_request(DelegationRequestId=open_rid)
    assert code(e) == "NoSuchEntity"
    listed = [r["DelegationRequestId"] for r in stranger.list_delegation_requests(MaxItems=1000)["DelegationRequests"]]
    assert open_rid in listed and rid not in listed
    # an unassigned request is not listed, even for the account it names (API_ListDelegationRequests)
    assert rid not in [r["DelegationRequestId"] for r in client(server, parties["customer"]).list_delegation_requests()["DelegationRequests"]]


def test_states_out_of_order_are_refused(server: Server, parties: dict[str, Any]) -> None:
    """Only the lifecycle's transitions: no accept or send before association, no send before acceptance, nothing
    after a rejection ("Once a request is rejected, it cannot be accepted or updated later")."""
    iam = client(server, parties["customer"])
    rid = new_request(server, parties)
    for call in (iam.accept_delegation_request, iam.send_delegation_token, iam.update_delegation_request,
                 iam.reject_delegation_request):
        with pytest.raises(ClientError) as e:
            call(DelegationRequestId=rid)
        assert code(e) == "InvalidInput", call
    iam.associate_delegation_request(DelegationRequestId=rid)
    with pytest.raises(ClientError) as e:
        iam.associate_delegation_request(DelegationRequestId=rid)
    assert code(e) == "InvalidInput"
    with pytest.raises(ClientError) as e:
        iam.send_delegation_token(DelegationRequestId=rid)
    assert code(e) == "InvalidInput"
    iam.reject_delegation_request(DelegationRequestId=rid, Notes="no thanks")
    got = iam.get_delegation_request(DelegationRequestId=rid)["DelegationRequest"]
    assert got["State"] == "REJECTED" and got["RejectionReason"] == "no thanks"
    for call in (iam.accept_delegation_request, iam.update_delegation_request, iam.send_delegation_token):
        with pytest.raises(ClientError) as e:
            call(DelegationRequestId=rid)
        assert code(e) == "InvalidInput"


def test_concurrent_accept_and_reject_leave_one_answer(server: Server, parties: dict[str, Any]) -> None:
    """Accept and reject of one request at once: one of them wins, the other is refused, and the state is the winner's."""
    iam = client(server, parties["customer"])
    approver, _ = customer_user(server, parties)
    for _ in range(3):
        rid = new_request(server, parties)
        iam.associate_delegation_request(DelegationRequestId=rid)
        results: dict[str, str] = {}

        def run(name: str, call: Any) -> None:
            try:
                call(DelegationRequestId=rid)
                results[name] = "ok"
            except ClientError as exc:
                results[name] = str(exc.response["Error"]["Code"])

        threads = [threading.Thread(target=run, args=("accept", approver.accept_delegation_request)),
                   threading.Thread(target=run, args=("reject", client(server, parties["customer"]).reject_delegation_request))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        state = iam.get_delegation_request(DelegationRequestId=rid)["DelegationRequest"]["State"]
        wins = [k for k, v in results.items() if v == "ok"]
        assert len(wins) >= 1, results
        assert all(v in ("ok", "InvalidInput", "ConcurrentModification") for v in results.values()), results
        # (accept then reject is a legal sequence: "An accepted request may be rejected before the exchange token is sent")
        assert state == ("REJECTED" if "reject" in wins else "ACCEPTED"), (results, state)


def test_create_is_validated(server: Server, parties: dict[str, Any], tmp_path: Path) -> None:
    """The template must be the partner's own registered one, its parameters exactly its placeholders; the workflow id
    is unique per partner ("IAM maintains a uniqueness check on this workflow id"); the channel is an SNS topic."""
    partner = client(server, parties["partner"])
    base = {"Description": "d", "SessionDuration": 900, "NotificationChannel": f"arn:aws:sns:us-east-1:{parties['partner'].account_id}:t"}
    good = [{"Name": "rolePrefix", "Values": ["p-"], "Type": "string"}, {"Name": "boundaries", "Values": ["arn:aws:iam::1:policy/b"], "Type": "stringList"}]
    cases = [
        ({"PolicyTemplateArn": parties["template"], "Parameters": good[:1]}, "InvalidInput"),  # a placeholder unfilled
        ({"PolicyTemplateArn": parties["template"], "Parameters": good + [{"Name": "extra", "Values": ["x"], "Type": "string"}]}, "InvalidInput"),
        ({"PolicyTemplateArn": parties["template"], "Parameters": [{**good[0], "Values": ["a", "b"]}, good[1]]}, "InvalidInput"),
        ({"PolicyTemplateArn": parties["template"].replace(parties["partner"].account_id, parties["customer"].account_id),
          "Parameters": good}, "InvalidInput"),
        ({"Parameters": good}, "InvalidInput"),
    ]
    for permissions, expected in cases:
        with pytest.raises(ClientError) as e:
            partner.create_delegation_request(RequestorWorkflowId=unique("wf"), Permissions=permissions, **base)
        assert code(e) == expected, permissions
    # an account with no template (not onboarded) cannot ask; nor name another account's topic
    with pytest.raises(ClientError) as e:
        client(server, parties["stranger"]).create_delegation_request(
            RequestorWorkflowId=unique("wf"), Permissions={"PolicyTemplateArn": parties["template"], "Parameters": good}, **base)
    assert code(e) == "InvalidInput"
    with pytest.raises(ClientError) as e:
        partner.create_delegation_request(RequestorWorkflowId=unique("wf"), Permissions={"PolicyTemplateArn": parties["template"], "Parameters": good},
                                          **{**base, "NotificationChannel": f"arn:aws:sns:us-east-1:{parties['customer'].account_id}:t"})
    assert code(e) == "InvalidInput"
    # a value cannot break out of its string: the rendered policy is still the template's shape
    wf = unique("wf")
    rid = partner.create_delegation_request(RequestorWorkflowId=wf, Permissions={"PolicyTemplateArn": parties["template"], "Parameters": [
        {"Name": "rolePrefix", "Values": ['x","Action":"*","Resource":"*'], "Type": "string"}, good[1]]}, **base)["DelegationRequestId"]
    policy = json.loads(partner.get_delegation_request(DelegationRequestId=rid)["DelegationRequest"]["PermissionPolicy"])
    assert policy["Statement"][1]["Action"] == "iam:CreateRole"
    with pytest.raises(ClientError) as e:
        partner.create_delegation_request(RequestorWorkflowId=wf, Permissions={"PolicyTemplateArn": parties["template"], "Parameters": good}, **base)
    assert code(e) == "EntityAlreadyExists"
    # malformed ids are the model's ValidationError; an unknown one NoSuchEntity
    with pytest.raises(ClientError) as e:
        partner.get_delegation_request(DelegationRequestId="dr-" + "0" * 32)
    assert code(e) == "NoSuchEntity"
    with pytest.raises(ClientError) as e:
        server.client("iam", parties["partner"].key, parties["partner"].secret, validate=False).get_delegation_request(DelegationRequestId="../x")
    assert code(e) == "ValidationError"


def test_permissions_are_checked(server: Server, parties: dict[str, Any]) -> None:
    """Every operation is authorised: a user allowed to associate but not to accept is refused the accept; a Deny on
    the request's owner (iam:DelegationRequestOwner) holds; the root may accept only up to 4 hours
    (access_policies-temporary-delegation.html)."""
    customer = parties["customer"]
    limited, _ = customer_user(server, parties, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iam:AssociateDelegationRequest", "iam:GetDelegationRequest"], "Resource": "*"}]})
    rid = new_request(server, parties)
    limited.associate_delegation_request(DelegationRequestId=rid)
    with pytest.raises(ClientError) as e:
        limited.accept_delegation_request(DelegationRequestId=rid)
    assert code(e) == "AccessDenied"
    denied, _ = customer_user(server, parties, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "iam:AcceptDelegationRequest", "Resource": "*",
         "Condition": {"ArnLike": {"iam:DelegationRequestOwner": "arn:aws:iam::*:user/*"}}}]})
    with pytest.raises(ClientError) as e:
        denied.accept_delegation_request(DelegationRequestId=rid)
    assert code(e) == "AccessDenied"
    long_rid = new_request(server, parties, duration=5 * 3600)
    root = client(server, customer)
    root.associate_delegation_request(DelegationRequestId=long_rid)
    with pytest.raises(ClientError) as e:
        root.accept_delegation_request(DelegationRequestId=long_rid)
    assert code(e) == "InvalidInput"


def test_root_approved_credentials_are_bounded_too(server: Server, parties: dict[str, Any]) -> None:
    """The root bypasses identity policies, not its session's: the credentials of a request the root accepted can do
    what the request asked and nothing else."""
    root = client(server, parties["customer"])
    rid = new_request(server, parties)
    root.associate_delegation_request(DelegationRequestId=rid)
    root.accept_delegation_request(DelegationRequestId=rid)
    root.send_delegation_token(DelegationRequestId=rid)
    token = pick_up(server, parties["partner"], rid).json()["TradeInToken"]
    out = client(server, parties["partner"], "sts").get_delegated_access_token(TradeInToken=token)
    assert out["AssumedPrincipal"] == f"arn:aws:iam::{parties['customer'].account_id}:root"
    c = out["Credentials"]
    delegated = server.client("iam", c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    delegated.list_roles()
    with pytest.raises(ClientError) as e:
        delegated.create_user(UserName=unique("no"))
    assert code(e) == "AccessDenied"


def test_human_readable_summary(server: Server, parties: dict[str, Any]) -> None:
    """A delegation request's permission policy in words, from the catalogue's names and access levels; other locales
    of the console NOT_SUPPORTED, unknown ones InvalidInput; entities other than delegation requests (and, here, managed
    policies) NOT_SUPPORTED; the same callers as GetDelegationRequest (API_GetHumanReadableSummary)."""
    rid = new_request(server, parties)
    customer = parties["customer"]
    arn = f"arn:aws:iam::{customer.account_id}:delegation-request/{rid}"
    iam = client(server, customer)
    out = iam.get_human_readable_summary(EntityArn=arn)
    assert out["SummaryState"] == "AVAILABLE"
    text = out["SummaryContent"]
    assert "Identity and Access Management" in text and "ListRoles" in text and "CreateRole" in text
    assert "iam:PermissionsBoundary" in text and "access level: List" in text
    assert iam.get_human_readable_summary(EntityArn=arn, Locale="de_DE")["SummaryState"] == "NOT_SUPPORTED"
    with pytest.raises(ClientError) as e:
        iam.get_human_readable_summary(EntityArn=arn, Locale="xx_YY")
    assert code(e) == "InvalidInput"
    role_arn = f"arn:aws:iam::{customer.account_id}:role/whatever"
    assert iam.get_human_readable_summary(EntityArn=role_arn)["SummaryState"] == "NOT_SUPPORTED"
    policy = iam.get_human_readable_summary(EntityArn="arn:aws:iam::aws:policy/IAMUserChangePassword")
    assert "ChangePassword" in policy["SummaryContent"]
    iam.associate_delegation_request(DelegationRequestId=rid)
    with pytest.raises(ClientError) as e:
        client(server, parties["stranger"]).get_human_readable_summary(
            EntityArn=f"arn:aws:iam::{parties['stranger'].account_id}:delegation-request/{rid}")
    assert code(e) == "NoSuchEntity"
