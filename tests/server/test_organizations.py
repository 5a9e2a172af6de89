"""AWS Organizations against a real server on both backends (issue 17), driven by boto3's ``organizations`` client:
an organization of iamroles accounts, an OU, service control policies attached and enforced on IAM and STS calls.

AWS's pages: API_CreateOrganization.html (the caller's account becomes the management account);
orgs_manage_policies_scps.html ("SCPs don't affect users or roles in the management account. They affect only the
member accounts in your organization"; an SCP at the root or an OU applies to every account below it; each level
must allow, "If a statement in an SCP denies ... it is denied"); API_EnablePolicyType.html and
API_AttachPolicy.html (PolicyTypeNotEnabledException, DuplicatePolicyAttachmentException); API_DetachPolicy.html
("Every root, OU, and account must have at least one SCP attached": ConstraintViolationException,
PolicyNotAttachedException); API_CreatePolicy.html and the common errors ("This operation can be called only from
the organization's management account": AccessDeniedException; AWSOrganizationsNotInUseException for an account in
no organization); API_InviteAccountToOrganization.html / API_AcceptHandshake.html (an account joins by invitation);
IAM's reference_policies_evaluation-logic.html for the denial's words.
"""
from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import Server, unique
from .test_partitions import Account, create_account

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
SCP = "SERVICE_CONTROL_POLICY"


def error(call: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as exc:
        call()
    err = exc.value.response
    return err["Error"]["Code"], err["Error"]["Message"]


def doc(effect: str, action: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": effect, "Action": action, "Resource": "*"}]})


def admin_key(server: Server, account: Account) -> tuple[str, str]:
    """An IAM user with AdministratorAccess in ``account``: its access key."""
    iam = server.client("iam", key=account.key, secret=account.secret)
    name = unique("admin")
    iam.create_user(UserName=name)
    iam.attach_user_policy(UserName=name, PolicyArn=ADMIN)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def admin_of(server: Server, account: Account) -> Any:
    """An IAM user with AdministratorAccess in ``account``: its IAM client."""
    key, secret = admin_key(server, account)
    return server.client("iam", key=key, secret=secret)


class Org:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.management = create_account(server)
        self.orgs = server.client("organizations", key=self.management.key, secret=self.management.secret)
        self.org = self.orgs.create_organization(FeatureSet="ALL")["Organization"]
        self.root = self.orgs.list_roots()["Roots"][0]["Id"]

    def join(self) -> Account:
        account = create_account(self.server)
        shake = self.orgs.invite_account_to_organization(Target={"Type": "ACCOUNT", "Id": account.account_id})["Handshake"]
        theirs = self.server.client("organizations", key=account.key, secret=account.secret)
        assert theirs.accept_handshake(HandshakeId=shake["Id"])["Handshake"]["State"] == "ACCEPTED"
        return account


@pytest.fixture
def org(server: Server) -> Org:
    return Org(server)


def test_create_organization_makes_the_caller_the_management_account(server: Server, org: Org) -> None:
    o = org.org
    assert o["MasterAccountId"] == org.management.account_id and o["FeatureSet"] == "ALL"
    assert o["Id"].startswith("o-") and org.root.startswith("r-")
    assert org.orgs.describe_organization()["Organization"]["Id"] == o["Id"]
    assert error(lambda: org.orgs.create_organization())[0] == "AlreadyInOrganizationException"
    member = org.join()
    ids = {a["Id"]: a["JoinedMethod"] for a in org.orgs.list_accounts()["Accounts"]}
    assert ids == {org.management.account_id: "CREATED", member.account_id: "INVITED"}
    assert org.orgs.describe_account(AccountId=member.account_id)["Account"]["Id"] == member.account_id
    # a member sees its organization but may not manage it
    theirs = server.client("organizations", key=member.key, secret=member.secret)
    assert theirs.describe_organization()["Organization"]["Id"] == o["Id"]
    assert error(lambda: theirs.list_accounts())[0] == "AccessDeniedException"
    assert error(lambda: theirs.create_organization())[0] == "AlreadyInOrganizationException"


def test_accounts_outside_cannot_reach_an_organization(server: Server, org: Org) -> None:
    outsider = create_account(server)
    theirs = server.client("organizations", key=outsider.key, secret=outsider.secret)
    for call in (theirs.describe_organization, theirs.list_roots, theirs.list_accounts):
        assert error(call) == ("AWSOrganizationsNotInUseException", "Your account is not a member of an organization.")
    # an invitation is accepted by the account invited, nobody else
    invited = create_account(server)
    shake = org.orgs.invite_account_to_organization(Target={"Type": "ACCOUNT", "Id": invited.account_id})["Handshake"]
    assert error(lambda: theirs.accept_handshake(HandshakeId=shake["Id"]))[0] == "HandshakeNotFoundException"
    assert outsider.account_id not in {a["Id"] for a in org.orgs.list_accounts()["Accounts"]}
    # nor can the management account accept it for the invited account
    assert error(lambda: org.orgs.accept_handshake(HandshakeId=shake["Id"]))[0] == "HandshakeNotFoundException"


def test_policy_errors_in_aws_words(server: Server, org: Org) -> None:
    orgs = org.orgs
    member = org.join()
    deny = orgs.create_policy(Name=unique("deny"), Description="d", Type=SCP, Content=doc("Deny", "iam:CreateUser"))
    pid = deny["Policy"]["PolicySummary"]["Id"]
    assert pid.startswith("p-") and deny["Policy"]["PolicySummary"]["AwsManaged"] is False
    # API_AttachPolicy: the type must be enabled at the root first
    assert error(lambda: orgs.attach_policy(PolicyId=pid, TargetId=member.account_id))[0] == "PolicyTypeNotEnabledException"
    root = orgs.enable_policy_type(RootId=org.root, PolicyType=SCP)["Root"]
    assert root["PolicyTypes"] == [{"Type": SCP, "Status": "ENABLED"}]
    assert error(lambda: orgs.enable_policy_type(RootId=org.root, PolicyType=SCP))[0] == "PolicyTypeAlreadyEnabledException"
    # enabling attached FullAWSAccess to the root and every account (orgs_manage_policies_scps)
    for target in (org.root, member.account_id, org.management.account_id):
        attached = orgs.list_policies_for_target(TargetId=target, Filter=SCP)["Policies"]
        assert [p["Id"] for p in attached] == ["p-FullAWSAccess"] and attached[0]["AwsManaged"] is True
    orgs.attach_policy(PolicyId=pid, TargetId=member.account_id)
    assert error(lambda: orgs.attach_policy(PolicyId=pid, TargetId=member.account_id))[0] == "DuplicatePolicyAttachmentException"
    assert error(lambda: orgs.attach_policy(PolicyId="p-nosuchpolicy", TargetId=member.account_id))[0] == "PolicyNotFoundException"
    assert error(lambda: orgs.attach_policy(PolicyId=pid, TargetId="999999999999"))[0] == "TargetNotFoundException"
    # API_DetachPolicy: every target keeps at least one SCP
    assert error(lambda: orgs.detach_policy(PolicyId="p-FullAWSAccess", TargetId=org.root))[0] == "ConstraintViolationException"
    assert error(lambda: orgs.detach_policy(PolicyId=pid, TargetId=org.root))[0] == "PolicyNotAttachedException"
    # at most five SCPs on one target (orgs_reference_limits)
    for _ in range(3):
        more = orgs.create_policy(Name=unique("allow"), Description="", Type=SCP, Content=doc("Allow", "*"))
        orgs.attach_policy(PolicyId=more["Policy"]["PolicySummary"]["Id"], TargetId=member.account_id)
    sixth = orgs.create_policy(Name=unique("allow"), Description="", Type=SCP, Content=doc("Allow", "*"))["Policy"]["PolicySummary"]["Id"]
    assert error(lambda: orgs.attach_policy(PolicyId=sixth, TargetId=member.account_id))[0] == "ConstraintViolationException"
    # names are unique, content is a policy, and at most 5,120 characters
    name = deny["Policy"]["PolicySummary"]["Name"]
    assert error(lambda: orgs.create_policy(Name=name, Description="", Type=SCP, Content=doc("Allow", "*")))[0] == "DuplicatePolicyException"
    assert error(lambda: orgs.create_policy(Name=unique("bad"), Description="", Type=SCP, Content="{not json"))[0] == "MalformedPolicyDocumentException"
    big = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": [f"iam:Get{i:05d}" for i in range(400)], "Resource": "*"}]})
    assert len(big) > 5120
    assert error(lambda: orgs.create_policy(Name=unique("big"), Description="", Type=SCP, Content=big))[0] == "ConstraintViolationException"
    assert orgs.describe_policy(PolicyId=pid)["Policy"]["Content"] == doc("Deny", "iam:CreateUser")
    assert pid in {p["Id"] for p in orgs.list_policies(Filter=SCP)["Policies"]}
    # the model's constraints: InvalidInputException
    assert error(lambda: orgs.describe_policy(PolicyId="not-a-policy-id"))[0] == "InvalidInputException"


def test_only_the_management_account_manages_policies(server: Server, org: Org) -> None:
    member = org.join()
    orgs = org.orgs
    orgs.enable_policy_type(RootId=org.root, PolicyType=SCP)
    pid = orgs.create_policy(Name=unique("p"), Description="", Type=SCP, Content=doc("Deny", "*"))["Policy"]["PolicySummary"]["Id"]
    # the member's root and its administrator: AccessDeniedException, nothing attached
    theirs = server.client("organizations", key=member.key, secret=member.secret)
    assert error(lambda: theirs.create_policy(Name=unique("p"), Description="", Type=SCP, Content=doc("Allow", "*")))[0] == "AccessDeniedException"
    assert error(lambda: theirs.attach_policy(PolicyId=pid, TargetId=member.account_id))[0] == "AccessDeniedException"
    assert error(lambda: theirs.detach_policy(PolicyId="p-FullAWSAccess", TargetId=member.account_id))[0] == "AccessDeniedException"
    assert error(lambda: theirs.enable_policy_type(RootId=org.root, PolicyType=SCP))[0] == "AccessDeniedException"
    assert [p["Id"] for p in orgs.list_policies_for_target(TargetId=member.account_id, Filter=SCP)["Policies"]] == ["p-FullAWSAccess"]
    # a user of the management account needs organizations permissions of its own (IAM decides first)
    iam = server.client("iam", key=org.management.key, secret=org.management.secret)
    name = unique("reader")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    user_orgs = server.client("organizations", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    code, message = error(lambda: user_orgs.attach_policy(PolicyId=pid, TargetId=member.account_id))
    assert code == "AccessDeniedException" and "organizations:AttachPolicy" in message


def test_scps_bound_member_accounts_not_the_management_account(server: Server, org: Org) -> None:
    orgs = org.orgs
    member = org.join()
    admin = admin_of(server, member)
    manager = admin_of(server, org.management)
    admin.create_user(UserName=unique("before"))  # no SCPs yet
    orgs.enable_policy_type(RootId=org.root, PolicyType=SCP)
    ou = orgs.create_organizational_unit(ParentId=org.root, Name="guarded")["OrganizationalUnit"]["Id"]
    assert [u["Id"] for u in orgs.list_organizational_units_for_parent(ParentId=org.root)["OrganizationalUnits"]] == [ou]
    assert error(lambda: orgs.create_organizational_unit(ParentId=org.root, Name="guarded"))[0] == "DuplicateOrganizationalUnitException"
    assert [p["Id"] for p in orgs.list_policies_for_target(TargetId=ou, Filter=SCP)["Policies"]] == ["p-FullAWSAccess"]
    orgs.move_account(AccountId=member.account_id, SourceParentId=org.root, DestinationParentId=ou)
    assert error(lambda: orgs.move_account(AccountId=member.account_id, SourceParentId=org.root, DestinationParentId=ou))[0] == "AccountNotFoundException"
    admin.create_user(UserName=unique("inou"))  # FullAWSAccess at every level: allowed

    # an explicit deny at the OU: the member's administrator (and its root) cannot, whatever IAM allows
    deny = orgs.create_policy(Name=unique("no-users"), Description="", Type=SCP, Content=doc("Deny", "iam:CreateUser"))
    pid = deny["Policy"]["PolicySummary"]["Id"]
    orgs.attach_policy(PolicyId=pid, TargetId=ou)
    code, message = error(lambda: admin.create_user(UserName=unique("denied")))
    assert code == "AccessDenied" and message.endswith("with an explicit deny in a service control policy")
    member_root = server.client("iam", key=member.key, secret=member.secret)
    assert error(lambda: member_root.create_user(UserName=unique("rootdenied")))[0] == "AccessDenied"
    admin.list_users()  # what the SCP does not deny is still allowed
    # the same deny at the root leaves the management account alone
    orgs.attach_policy(PolicyId=pid, TargetId=org.root)
    manager.create_user(UserName=unique("mgmt"))
    server.client("iam", key=org.management.key, secret=org.management.secret).create_user(UserName=unique("mgmtroot"))
    orgs.detach_policy(PolicyId=pid, TargetId=org.root)
    # detached from the OU: allowed again at once (the decision cache follows the change)
    orgs.detach_policy(PolicyId=pid, TargetId=ou)
    admin.create_user(UserName=unique("after"))

    # no allow at one level: FullAWSAccess replaced at the account by an SCP allowing only STS
    sts_only = orgs.create_policy(Name=unique("sts-only"), Description="", Type=SCP, Content=doc("Allow", "sts:*"))
    orgs.attach_policy(PolicyId=sts_only["Policy"]["PolicySummary"]["Id"], TargetId=member.account_id)
    orgs.detach_policy(PolicyId="p-FullAWSAccess", TargetId=member.account_id)
    code, message = error(admin.list_users)
    assert code == "AccessDenied" and message.endswith("because no service control policy allows the iam:ListUsers action")
    manager.list_users()


def test_every_organizations_change_is_a_durable_write() -> None:
    """Held against the registry and botocore's model: every Organizations operation iamroles serves is in the model,
    and each that changes something (all but Describe and List) is a write, so its event commits with its change and a
    refused one's event is committed before the answer (server.orgs.respond)."""
    from iamroles.iam import OPERATIONS
    from iamroles.protocol import service_model

    model = service_model("organizations")
    served = {name: op for (svc, name), op in OPERATIONS.items() if svc == "organizations"}
    assert len(served) >= 17
    for name, op in served.items():
        assert name in model.operation_names, name
        assert op.write == (not name.startswith(("Describe", "List"))), name
        assert op.action == f"organizations:{name}"


def _raw(server: Server, account: Account, target: str, body: bytes, service: str = "organizations") -> tuple[int, dict[str, Any]]:
    """A SigV4-signed JSON 1.1 request as boto3 would send it, with any body."""
    import httpx
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest("POST", server.url + "/", data=body,
                         headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"})
    SigV4Auth(Credentials(account.key, account.secret), service, "us-east-1").add_auth(request)
    answer = httpx.post(server.url + "/", content=body, headers=dict(request.headers.items()), timeout=10)
    return answer.status_code, answer.json()


def test_malformed_requests_get_errors_not_failures(server: Server, org: Org) -> None:
    """Bad input is refused with the protocol's error and changes nothing; never a 5xx."""
    prefix = "AWSOrganizationsV20161128."
    m = org.management
    cases = [
        (prefix + "CreatePolicy", b"{not json", "InvalidInputException"),
        (prefix + "CreatePolicy", b"[1, 2]", "InvalidInputException"),
        (prefix + "CreatePolicy", b"[" * 5000 + b"]" * 5000, "InvalidInputException"),
        (prefix + "CreatePolicy", json.dumps({"Name": "a\u0000b", "Description": "", "Type": SCP,
                                              "Content": doc("Allow", "*")}).encode(), "InvalidInputException"),
        (prefix + "CreatePolicy", json.dumps({"Name": "x", "Description": "", "Type": SCP}).encode(), "InvalidInputException"),
        (prefix + "CreatePolicy", json.dumps({"Name": 5, "Description": "", "Type": SCP, "Content": "{}"}).encode(), "InvalidInputException"),
        (prefix + "CreatePolicy", json.dumps({"Name": "x", "Description": "", "Type": "NOPE", "Content": "{}"}).encode(), "InvalidInputException"),
        (prefix + "NoSuchOperation", b"{}", "InvalidAction"),
    ]
    for target, body, code in cases:
        status, answer = _raw(server, m, target, body)
        assert (status, answer["__type"]) == (400, code), (target, body[:40], answer)
    assert [p["Id"] for p in org.orgs.list_policies(Filter=SCP)["Policies"]] == ["p-FullAWSAccess"]
    # signed for IAM, sent to Organizations: refused by its credential scope
    status, answer = _raw(server, m, prefix + "ListRoots", b"{}", service="iam")
    assert status in (400, 403) and answer["__type"] in ("IncompleteSignature", "SignatureDoesNotMatch", "InvalidSignatureException")


def test_an_scp_change_reaches_every_node_within_the_cache_bound(server: Server, org: Org) -> None:
    """Two ``iamroles serve`` processes on one PostgreSQL: an SCP attached through one bounds the member's calls
    through the other within its --cache-ttl (1 s by default; DetachPolicy: "the changes to permissions ... are
    immediate" on AWS), and its new content (UpdatePolicy) and its detachment likewise; the other node had the
    member's SCPs cached before."""
    import time

    from .conftest import start_server, stop_server

    if server.db_url is None:
        pytest.skip("several nodes share a PostgreSQL database")
    member = org.join()
    orgs = org.orgs
    orgs.enable_policy_type(RootId=org.root, PolicyType=SCP)
    admin, secret = admin_key(server, member)
    other = start_server(server.data_dir.parent, server.db_url, account=server.account, access_key=server.access_key,
                         secret_key=server.secret_key)
    try:
        there = other.client("iam", key=admin, secret=secret)
        there.create_user(UserName=unique("warm"))  # the member's SCP levels are now cached there
        pid = orgs.create_policy(Name=unique("no-users"), Description="", Type=SCP,
                                 Content=doc("Deny", "iam:CreateUser"))["Policy"]["PolicySummary"]["Id"]
        orgs.attach_policy(PolicyId=pid, TargetId=member.account_id)
        attached = time.monotonic()

        def refused() -> bool:
            try:
                there.create_user(UserName=unique("probe"))
            except ClientError as err:
                assert err.response["Error"]["Code"] == "AccessDenied"
                return True
            return False

        while not refused():
            assert time.monotonic() - attached < 5, "the other node still allows what the SCP denies"
            time.sleep(0.1)
        # UpdatePolicy's new content reaches it the same way (API_UpdatePolicy)
        orgs.update_policy(PolicyId=pid, Content=doc("Deny", "iam:ListGroups"))
        updated = time.monotonic()
        while refused():
            assert time.monotonic() - updated < 5, "the other node still enforces the policy's old content"
            time.sleep(0.1)
        orgs.update_policy(PolicyId=pid, Content=doc("Deny", "iam:CreateUser"))
        updated = time.monotonic()
        while not refused():
            assert time.monotonic() - updated < 5, "the other node does not enforce the policy's new content"
            time.sleep(0.1)
        orgs.detach_policy(PolicyId=pid, TargetId=member.account_id)
        detached = time.monotonic()
        while refused():
            assert time.monotonic() - detached < 5, "the other node still denies after the SCP was detached"
            time.sleep(0.1)
    finally:
        stop_server(other)


def test_principal_org_keys_are_set_on_every_request(server: Server, org: Org) -> None:
    """aws:PrincipalOrgID is the caller's organization; aws:PrincipalOrgPaths its path "o-id/r-id/ou-id/"
    (reference_policies_condition-keys.html): a policy that allows only the organization's principals, or only one
    OU's, allows them and no one else (an account outside, or the same account before it joined)."""
    member = org.join()
    ou = org.orgs.create_organizational_unit(ParentId=org.root, Name="team")["OrganizationalUnit"]["Id"]
    oid = org.org["Id"]
    by_org = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*",
        "Condition": {"StringEquals": {"aws:PrincipalOrgID": oid}}}]})
    by_ou = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "iam:ListGroups", "Resource": "*",
        "Condition": {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": f"{oid}/{org.root}/{ou}/*"}}}]})

    def user_in(account: Account) -> Any:
        iam = server.client("iam", key=account.key, secret=account.secret)
        name = unique("u")
        iam.create_user(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName="org", PolicyDocument=by_org)
        iam.put_user_policy(UserName=name, PolicyName="ou", PolicyDocument=by_ou)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return server.client("iam", key=key["AccessKeyId"], secret=key["SecretAccessKey"])

    inside, outside = user_in(member), user_in(create_account(server))
    inside.list_users()
    assert error(outside.list_users)[0] == "AccessDenied"
    assert error(inside.list_groups)[0] == "AccessDenied"  # not in the OU yet
    org.orgs.move_account(AccountId=member.account_id, SourceParentId=org.root, DestinationParentId=ou)
    inside.list_groups()
    assert error(outside.list_groups)[0] == "AccessDenied"


def test_racing_detachments_leave_a_target_its_last_scp(server: Server, org: Org) -> None:
    """Five DetachPolicy calls at once, one for each SCP a target holds: the rule that every target keeps one SCP
    (API_DetachPolicy) holds however they interleave; the refused ones answer an AWS error, never a 5xx."""
    from concurrent.futures import ThreadPoolExecutor

    member = org.join()
    orgs = org.orgs
    orgs.enable_policy_type(RootId=org.root, PolicyType=SCP)
    pids = ["p-FullAWSAccess"]
    for _ in range(4):
        pid = orgs.create_policy(Name=unique("allow"), Description="", Type=SCP, Content=doc("Allow", "*"))["Policy"]["PolicySummary"]["Id"]
        orgs.attach_policy(PolicyId=pid, TargetId=member.account_id)
        pids.append(pid)

    def detach(pid: str) -> str:
        client = server.client("organizations", key=org.management.key, secret=org.management.secret)
        try:
            client.detach_policy(PolicyId=pid, TargetId=member.account_id)
        except ClientError as err:
            assert err.response["ResponseMetadata"]["HTTPStatusCode"] < 500, err.response
            return str(err.response["Error"]["Code"])
        return "ok"

    with ThreadPoolExecutor(5) as pool:
        results = list(pool.map(detach, pids))
    left = orgs.list_policies_for_target(TargetId=member.account_id, Filter=SCP)["Policies"]
    assert len(left) >= 1, results
    assert results.count("ok") == len(pids) - len(left)
    assert set(results) - {"ok"} <= {"ConstraintViolationException", "ConcurrentModificationException"}, results
