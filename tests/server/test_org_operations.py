"""The rest of AWS Organizations (issue 17) against a real server on both backends, driven by boto3's
``organizations`` client: OUs, policies changed and deleted, policy types disabled, accounts created, removed and
leaving, the organization deleted, handshakes, tags, delegated administrators and the delegation policy, paging,
authorisation on AWS's resource ARNs, and ``iamroles org``.

One organization per backend serves most tests (its management account is made once, with ``iamroles accounts
create``); members are made with CreateAccount and reached through the role it makes in them; a test that changes
the whole organization (disabling a policy type, deleting it, its account quota) gets an organization of its own,
whose management account is a CreateAccount account removed from the shared organization (it is then standalone,
and its OrganizationAccountAccessRole is how the test acts as it).

AWS's pages each rule comes from are cited per test (https://docs.aws.amazon.com/organizations/latest/APIReference/
API_<Op>.html and the user guide's pages).
"""
from __future__ import annotations

import json
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import Server, unique
from .test_organizations import _raw, admin_key, doc
from .test_partitions import Account, create_account

SCP = "SERVICE_CONTROL_POLICY"
ROLE = "OrganizationAccountAccessRole"
API = "https://docs.aws.amazon.com/organizations/latest/APIReference/"


def refused(call: Any) -> tuple[str, str | None, str]:
    """The error code, Reason and message of a call that must fail (never a 5xx)."""
    with pytest.raises(ClientError) as exc:
        call()
    response = exc.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] < 500, response
    return response["Error"]["Code"], response.get("Reason"), response["Error"]["Message"]


def code(call: Any) -> str:
    return refused(call)[0]


@dataclass
class Session:
    """Credentials of a principal, and clients for them."""

    server: Server
    key: str
    secret: str
    token: str | None = None

    def client(self, service: str) -> Any:
        return self.server.client(service, key=self.key, secret=self.secret, token=self.token)


class Management:
    """An organization's management account: its root's and an administrator's sessions (an administrator assumes
    the role CreateAccount makes in members)."""

    def __init__(self, server: Server, root: Session) -> None:
        self.server, self.root = server, root
        self.orgs = root.client("organizations")
        iam = root.client("iam")
        name = unique("org-admin")
        iam.create_user(UserName=name)
        iam.attach_user_policy(UserName=name, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
        key = iam.create_access_key(UserName=name)["AccessKey"]
        self.admin = Session(server, key["AccessKeyId"], key["SecretAccessKey"])
        self.account_id = root.client("sts").get_caller_identity()["Account"]
        found = self._organization()
        self.org = found or self.orgs.create_organization(FeatureSet="ALL")["Organization"]
        self.root_id = self.orgs.list_roots()["Roots"][0]["Id"]

    def _organization(self) -> dict[str, Any] | None:
        try:
            org: dict[str, Any] = self.orgs.describe_organization()["Organization"]
        except ClientError:
            return None
        return org

    def create(self, name: str = "member", parent: str | None = None, **extra: Any) -> str:
        """A new member account (CreateAccount), moved under ``parent`` if given: its id."""
        status = self.orgs.create_account(Email=f"{uuid.uuid4().hex[:12]}@example.com", AccountName=name, **extra)
        account_id: str = status["CreateAccountStatus"]["AccountId"]
        if parent is not None:
            self.orgs.move_account(AccountId=account_id, SourceParentId=self.root_id, DestinationParentId=parent)
        return account_id

    def enter(self, account_id: str, role: str = ROLE) -> Session:
        """The management account's administrator in ``account_id`` through its OrganizationAccountAccessRole."""
        creds = self.admin.client("sts").assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/{role}",
                                                     RoleSessionName="org-test")["Credentials"]
        return Session(self.server, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])

    def spare(self) -> Management:
        """A new organization of its own: an account created here, removed (now standalone), which creates one."""
        account_id = self.create("spare")
        inside = self.enter(account_id)
        self.orgs.remove_account_from_organization(AccountId=account_id)
        return Management(self.server, inside)


@pytest.fixture(scope="module")
def mgmt(server: Server) -> Management:
    account: Account = create_account(server)
    # the shared organization holds more than AWS's default of 10 accounts at times (an operator raises it)
    cmd = [sys.executable, "-m", "iamroles", "accounts", "quota", account.account_id, "AccountsPerOrganization", "100",
           "--data-dir", str(server.data_dir)] + (["--db", server.db_url] if server.db_url else [])
    subprocess.run(cmd, capture_output=True, check=True)
    m = Management(server, Session(server, account.key, account.secret))
    m.orgs.enable_policy_type(RootId=m.root_id, PolicyType=SCP)
    return m


def every(orgs: Any, operation: str, key: str, **args: Any) -> list[Any]:
    """Every item of a listing, following its NextTokens."""
    return [item for page in orgs.get_paginator(operation).paginate(**args) for item in page[key]]


def ou_names(orgs: Any, parent: str) -> set[str]:
    return {u["Name"] for u in every(orgs, "list_organizational_units_for_parent", "OrganizationalUnits", ParentId=parent)}


def new_policy(orgs: Any, effect: str = "Deny", action: str = "iam:CreateUser", **extra: Any) -> str:
    pid: str = orgs.create_policy(Name=unique("scp"), Description="", Type=SCP, Content=doc(effect, action),
                                  **extra)["Policy"]["PolicySummary"]["Id"]
    return pid


def user_with(session: Session, policy: dict[str, Any] | None) -> Session:
    """A new IAM user of ``session``'s account with ``policy`` inline (none: no permission at all)."""
    iam = session.client("iam")
    name = unique("u")
    iam.create_user(UserName=name)
    if policy is not None:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return Session(session.server, key["AccessKeyId"], key["SecretAccessKey"])


def allow(action: str | list[str], resource: str | list[str] = "*", condition: dict[str, Any] | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": action, "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


# --- organizational units --------------------------------------------------------------------------


def test_ous_are_described_renamed_navigated_and_deleted_only_when_empty(mgmt: Management) -> None:
    """API_DescribeOrganizationalUnit, API_UpdateOrganizationalUnit ("The ID and ARN don't change";
    DuplicateOrganizationalUnitException), API_DeleteOrganizationalUnit ("You must first remove all accounts and child
    OUs": OrganizationalUnitNotEmptyException), API_ListParents, API_ListChildren (ChildType), API_ListAccountsForParent
    ("only that OU and not in any child OUs")."""
    orgs, root = mgmt.orgs, mgmt.root_id
    top = orgs.create_organizational_unit(ParentId=root, Name=unique("top"))["OrganizationalUnit"]
    sibling = orgs.create_organizational_unit(ParentId=root, Name=unique("sib"))["OrganizationalUnit"]
    inner = orgs.create_organizational_unit(ParentId=top["Id"], Name="inner")["OrganizationalUnit"]
    assert inner["Path"] == f"{mgmt.org['Id']}/{root}/{top['Id']}/{inner['Id']}/"
    member = mgmt.create("ou-member", parent=inner["Id"])
    described = orgs.describe_organizational_unit(OrganizationalUnitId=inner["Id"])["OrganizationalUnit"]
    assert described == inner
    renamed = orgs.update_organizational_unit(OrganizationalUnitId=inner["Id"], Name="renamed")["OrganizationalUnit"]
    assert (renamed["Id"], renamed["Arn"], renamed["Name"]) == (inner["Id"], inner["Arn"], "renamed")
    # a name its sibling has: refused, nothing renamed; the same name under another parent is fine
    assert code(lambda: orgs.update_organizational_unit(OrganizationalUnitId=sibling["Id"], Name=top["Name"])) == \
        "DuplicateOrganizationalUnitException"
    assert orgs.describe_organizational_unit(OrganizationalUnitId=sibling["Id"])["OrganizationalUnit"]["Name"] == sibling["Name"]
    orgs.update_organizational_unit(OrganizationalUnitId=sibling["Id"], Name="renamed")
    # the tree's navigation
    assert orgs.list_parents(ChildId=member)["Parents"] == [{"Id": inner["Id"], "Type": "ORGANIZATIONAL_UNIT"}]
    assert orgs.list_parents(ChildId=top["Id"])["Parents"] == [{"Id": root, "Type": "ROOT"}]
    assert orgs.list_children(ParentId=top["Id"], ChildType="ORGANIZATIONAL_UNIT")["Children"] == \
        [{"Id": inner["Id"], "Type": "ORGANIZATIONAL_UNIT"}]
    assert orgs.list_children(ParentId=top["Id"], ChildType="ACCOUNT")["Children"] == []
    assert orgs.list_children(ParentId=inner["Id"], ChildType="ACCOUNT")["Children"] == [{"Id": member, "Type": "ACCOUNT"}]
    assert [a["Id"] for a in orgs.list_accounts_for_parent(ParentId=inner["Id"])["Accounts"]] == [member]
    assert orgs.list_accounts_for_parent(ParentId=top["Id"])["Accounts"] == []
    assert member not in {a["Id"] for a in orgs.list_accounts_for_parent(ParentId=root)["Accounts"]}
    # ids of nothing: AWS's not-found errors (and ids of another organization's OUs are nothing here)
    missing = f"ou-{root[2:]}-zzzzzzzz"
    assert code(lambda: orgs.describe_organizational_unit(OrganizationalUnitId=missing)) == "OrganizationalUnitNotFoundException"
    assert code(lambda: orgs.list_parents(ChildId=missing)) == "ChildNotFoundException"
    assert code(lambda: orgs.list_parents(ChildId="000000000000")) == "ChildNotFoundException"
    assert code(lambda: orgs.list_children(ParentId=missing, ChildType="ACCOUNT")) == "ParentNotFoundException"
    assert code(lambda: orgs.list_accounts_for_parent(ParentId=missing)) == "ParentNotFoundException"
    # not empty: a child OU, then an account
    assert code(lambda: orgs.delete_organizational_unit(OrganizationalUnitId=top["Id"])) == "OrganizationalUnitNotEmptyException"
    assert code(lambda: orgs.delete_organizational_unit(OrganizationalUnitId=inner["Id"])) == "OrganizationalUnitNotEmptyException"
    orgs.move_account(AccountId=member, SourceParentId=inner["Id"], DestinationParentId=root)
    orgs.tag_resource(ResourceId=inner["Id"], Tags=[{"Key": "team", "Value": "blue"}])
    orgs.delete_organizational_unit(OrganizationalUnitId=inner["Id"])
    assert code(lambda: orgs.describe_organizational_unit(OrganizationalUnitId=inner["Id"])) == "OrganizationalUnitNotFoundException"
    assert code(lambda: orgs.list_tags_for_resource(ResourceId=inner["Id"])) == "TargetNotFoundException"
    orgs.delete_organizational_unit(OrganizationalUnitId=top["Id"])
    # only the management account manages OUs: a member's administrator gets AccessDeniedException
    theirs = mgmt.enter(member).client("organizations")
    assert code(lambda: theirs.update_organizational_unit(OrganizationalUnitId=sibling["Id"], Name="x")) == "AccessDeniedException"
    assert code(lambda: theirs.delete_organizational_unit(OrganizationalUnitId=sibling["Id"])) == "AccessDeniedException"
    assert code(lambda: theirs.describe_organizational_unit(OrganizationalUnitId=sibling["Id"])) == "AccessDeniedException"
    assert code(lambda: theirs.list_children(ParentId=root, ChildType="ACCOUNT")) == "AccessDeniedException"
    assert orgs.describe_organizational_unit(OrganizationalUnitId=sibling["Id"])["OrganizationalUnit"]["Name"] == "renamed"
    orgs.remove_account_from_organization(AccountId=member)


def test_racing_deletes_and_moves_leave_no_account_in_a_deleted_ou(mgmt: Management) -> None:
    """An OU is deleted only when empty (API_DeleteOrganizationalUnit) however a delete and moves into it and a child
    OU's creation interleave: the organization's writes take turns, the losers answer AWS errors, never a 5xx."""
    orgs, root = mgmt.orgs, mgmt.root_id
    ou = orgs.create_organizational_unit(ParentId=root, Name=unique("race"))["OrganizationalUnit"]["Id"]
    members = [mgmt.create("racer") for _ in range(3)]

    def run(job: str) -> str:
        client = mgmt.root.client("organizations")
        try:
            if job == "delete":
                client.delete_organizational_unit(OrganizationalUnitId=ou)
            elif job == "child":
                client.create_organizational_unit(ParentId=ou, Name="child")
            else:
                client.move_account(AccountId=job, SourceParentId=root, DestinationParentId=ou)
        except ClientError as err:
            assert err.response["ResponseMetadata"]["HTTPStatusCode"] < 500, err.response
            return str(err.response["Error"]["Code"])
        return "ok"

    with ThreadPoolExecutor(5) as pool:
        results = dict(zip(["delete", "child", *members], pool.map(run, ["delete", "child", *members]), strict=True))
    if results["delete"] == "ok":
        assert code(lambda: orgs.describe_organizational_unit(OrganizationalUnitId=ou)) == "OrganizationalUnitNotFoundException"
        for m in members:  # none was moved into it after all
            assert orgs.list_parents(ChildId=m)["Parents"][0]["Id"] == root
        assert results["child"] != "ok"
    else:
        assert results["delete"] in ("OrganizationalUnitNotEmptyException", "ConcurrentModificationException"), results
    for m in members:
        mgmt.orgs.remove_account_from_organization(AccountId=m)


# --- policies --------------------------------------------------------------------------------------


def test_update_policy_takes_effect_and_is_checked_like_create_policy(mgmt: Management) -> None:
    """API_UpdatePolicy: a new name, description or content ("If you don't supply any parameter, that value remains
    unchanged"), checked as API_CreatePolicy checks it (MalformedPolicyDocumentException, the 5,120-character SCP
    quota of orgs_reference_limits: ConstraintViolationException, DuplicatePolicyException), in force on the next
    request of every account below (as a policy attached, orgs_manage_policies_scps). API_DeletePolicy ("you must
    first detach the policy from all organizational units (OUs), roots, and accounts": PolicyInUseException). AWS's
    FullAWSAccess can be neither (InvalidInputException IMMUTABLE_POLICY). API_ListTargetsForPolicy."""
    orgs, root = mgmt.orgs, mgmt.root_id
    ou = orgs.create_organizational_unit(ParentId=root, Name=unique("upd"))["OrganizationalUnit"]["Id"]
    member = mgmt.create("upd-member", parent=ou)
    admin = mgmt.enter(member).client("iam")
    pid = new_policy(orgs, "Deny", "iam:CreateUser")
    orgs.attach_policy(PolicyId=pid, TargetId=ou)
    assert code(lambda: admin.create_user(UserName=unique("no"))) == "AccessDenied"
    admin.list_users()
    before = orgs.describe_policy(PolicyId=pid)["Policy"]
    updated = orgs.update_policy(PolicyId=pid, Content=doc("Deny", "iam:ListUsers"))["Policy"]
    assert updated["PolicySummary"]["Name"] == before["PolicySummary"]["Name"] and updated["Content"] == doc("Deny", "iam:ListUsers")
    # the change bounds the member at once: what was denied is allowed, and the other way round
    admin.create_user(UserName=unique("yes"))
    code_, _, message = refused(admin.list_users)
    assert code_ == "AccessDenied" and message.endswith("with an explicit deny in a service control policy")
    # bad updates: refused, nothing changed
    big = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": [f"iam:Get{i:05d}" for i in range(400)], "Resource": "*"}]})
    assert refused(lambda: orgs.update_policy(PolicyId=pid, Content=big))[:2] == ("ConstraintViolationException", "POLICY_CONTENT_LIMIT_EXCEEDED")
    assert code(lambda: orgs.update_policy(PolicyId=pid, Content="{not json")) == "MalformedPolicyDocumentException"
    assert code(lambda: orgs.update_policy(PolicyId=pid, Content=json.dumps({"Statement": [{"Effect": "Allow"}]}))) == \
        "MalformedPolicyDocumentException"
    other = new_policy(orgs, "Allow", "*")
    taken = orgs.describe_policy(PolicyId=other)["Policy"]["PolicySummary"]["Name"]
    assert code(lambda: orgs.update_policy(PolicyId=pid, Name=taken)) == "DuplicatePolicyException"
    assert orgs.describe_policy(PolicyId=pid)["Policy"]["Content"] == doc("Deny", "iam:ListUsers")
    orgs.update_policy(PolicyId=pid, Name=unique("renamed"), Description="what it denies")
    assert orgs.describe_policy(PolicyId=pid)["Policy"]["PolicySummary"]["Description"] == "what it denies"
    # AWS's own policy is immutable
    for call in (lambda: orgs.update_policy(PolicyId="p-FullAWSAccess", Name="mine"),
                 lambda: orgs.update_policy(PolicyId="p-FullAWSAccess", Content=doc("Deny", "*")),
                 lambda: orgs.delete_policy(PolicyId="p-FullAWSAccess")):
        assert refused(call)[:2] == ("InvalidInputException", "IMMUTABLE_POLICY")
    # where it is attached; deleted only once detached everywhere
    orgs.attach_policy(PolicyId=pid, TargetId=member)
    targets = orgs.list_targets_for_policy(PolicyId=pid)["Targets"]
    assert {(t["TargetId"], t["Type"]) for t in targets} == {(ou, "ORGANIZATIONAL_UNIT"), (member, "ACCOUNT")}
    assert all(t["Arn"].startswith(f"arn:aws:organizations::{mgmt.account_id}:") for t in targets)
    assert code(lambda: orgs.delete_policy(PolicyId=pid)) == "PolicyInUseException"
    orgs.detach_policy(PolicyId=pid, TargetId=ou)
    assert code(lambda: orgs.delete_policy(PolicyId=pid)) == "PolicyInUseException"
    orgs.detach_policy(PolicyId=pid, TargetId=member)
    orgs.delete_policy(PolicyId=pid)
    assert code(lambda: orgs.describe_policy(PolicyId=pid)) == "PolicyNotFoundException"
    assert code(lambda: orgs.update_policy(PolicyId=pid, Name="x")) == "PolicyNotFoundException"
    assert code(lambda: orgs.list_targets_for_policy(PolicyId=pid)) == "PolicyNotFoundException"
    admin.list_users()
    # a member cannot change the organization's policies
    theirs = mgmt.enter(member).client("organizations")
    assert code(lambda: theirs.update_policy(PolicyId=other, Content=doc("Allow", "*"))) == "AccessDeniedException"
    assert code(lambda: theirs.delete_policy(PolicyId=other)) == "AccessDeniedException"
    orgs.delete_policy(PolicyId=other)
    orgs.remove_account_from_organization(AccountId=member)


def test_disabling_a_policy_type_detaches_its_policies_everywhere(mgmt: Management) -> None:
    """API_DisablePolicyType: "you no longer can attach policies of the specified type to that root or to any
    organizational unit (OU) or account in that root" (its policies are detached: nothing of the type bounds anyone);
    a type not enabled is PolicyTypeNotEnabledException; EnablePolicyType again attaches FullAWSAccess everywhere
    (orgs_manage_policies_scps)."""
    own = mgmt.spare()
    orgs, root = own.orgs, own.root_id
    assert code(lambda: orgs.disable_policy_type(RootId=root, PolicyType=SCP)) == "PolicyTypeNotEnabledException"
    orgs.enable_policy_type(RootId=root, PolicyType=SCP)
    ou = orgs.create_organizational_unit(ParentId=root, Name="guarded")["OrganizationalUnit"]["Id"]
    member = own.create("guarded", parent=ou)
    admin = own.enter(member).client("iam")
    deny = new_policy(orgs, "Deny", "iam:CreateUser")
    orgs.attach_policy(PolicyId=deny, TargetId=ou)
    assert code(lambda: admin.create_user(UserName=unique("no"))) == "AccessDenied"
    assert code(lambda: orgs.disable_policy_type(RootId="r-zzzz", PolicyType=SCP)) == "RootNotFoundException"
    assert orgs.disable_policy_type(RootId=root, PolicyType=SCP)["Root"]["PolicyTypes"] == []
    admin.create_user(UserName=unique("free"))
    for target in (root, ou, member):
        assert orgs.list_policies_for_target(TargetId=target, Filter=SCP)["Policies"] == []
    assert orgs.list_targets_for_policy(PolicyId=deny)["Targets"] == []
    assert code(lambda: orgs.attach_policy(PolicyId=deny, TargetId=ou)) == "PolicyTypeNotEnabledException"
    assert code(lambda: orgs.disable_policy_type(RootId=root, PolicyType=SCP)) == "PolicyTypeNotEnabledException"
    orgs.delete_policy(PolicyId=deny)  # attached nowhere now
    orgs.enable_policy_type(RootId=root, PolicyType=SCP)
    for target in (root, ou, member):
        assert [p["Id"] for p in orgs.list_policies_for_target(TargetId=target, Filter=SCP)["Policies"]] == ["p-FullAWSAccess"]


# --- accounts --------------------------------------------------------------------------------------


def test_create_account_makes_a_member_reached_through_its_role(mgmt: Management, server: Server) -> None:
    """API_CreateAccount: the new account is a member of the organization (JoinedMethod CREATED, in the root) with
    "a role (named OrganizationAccountAccessRole by default) that grants users in the management account administrator
    permissions in the new member account" (orgs_manage_accounts_create-cross-account-role.html: it trusts the
    management account, with AdministratorAccess); its status (API_DescribeCreateAccountStatus,
    API_ListCreateAccountStatus) SUCCEEDED, or FAILED with EMAIL_ALREADY_EXISTS (API_CreateAccountStatus); a role
    name beginning AWSServiceRoleFor is INVALID_ROLE_NAME; only the management account may create accounts."""
    orgs = mgmt.orgs
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    status = orgs.create_account(Email=email, AccountName="Payments", RoleName="OrgAdmin",
                                 Tags=[{"Key": "cost-center", "Value": "42"}])["CreateAccountStatus"]
    assert status["State"] == "SUCCEEDED" and status["Id"].startswith("car-") and status["AccountName"] == "Payments"
    account_id = status["AccountId"]
    assert orgs.describe_create_account_status(CreateAccountRequestId=status["Id"])["CreateAccountStatus"] == status
    account = orgs.describe_account(AccountId=account_id)["Account"]
    assert (account["Name"], account["Email"], account["JoinedMethod"]) == ("Payments", email, "CREATED")
    assert account["Paths"] == [f"{mgmt.org['Id']}/{mgmt.root_id}/{account_id}/"]
    assert orgs.list_parents(ChildId=account_id)["Parents"][0]["Id"] == mgmt.root_id
    assert orgs.list_tags_for_resource(ResourceId=account_id)["Tags"] == [{"Key": "cost-center", "Value": "42"}]
    assert [p["Id"] for p in orgs.list_policies_for_target(TargetId=account_id, Filter=SCP)["Policies"]] == ["p-FullAWSAccess"]
    # the management account's administrator administers it through the role; it is bounded by the SCPs
    inside = mgmt.enter(account_id, "OrgAdmin")
    assert inside.client("sts").get_caller_identity()["Account"] == account_id
    role = inside.client("iam").get_role(RoleName="OrgAdmin")["Role"]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert trust["Statement"][0]["Principal"] == {"AWS": f"arn:aws:iam::{mgmt.account_id}:root"}
    attached = inside.client("iam").list_attached_role_policies(RoleName="OrgAdmin")["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["AdministratorAccess"]
    inside.client("iam").create_user(UserName=unique("made-inside"))
    # nobody else assumes it: another account's administrator, or a user of the management account without sts rights
    outsider = create_account(server)
    key, secret = admin_key(server, outsider)
    outsider_sts = server.client("sts", key=key, secret=secret)
    assert code(lambda: outsider_sts.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/OrgAdmin", RoleSessionName="x-x")) == "AccessDenied"
    nobody = user_with(mgmt.root, None).client("sts")
    assert code(lambda: nobody.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/OrgAdmin", RoleSessionName="x-x")) == "AccessDenied"
    # an e-mail address an account has: FAILED, no account made
    members = {a["Id"] for a in every(orgs, "list_accounts", "Accounts")}
    failed = orgs.create_account(Email=email, AccountName="again")["CreateAccountStatus"]
    assert (failed["State"], failed["FailureReason"], failed.get("AccountId")) == ("FAILED", "EMAIL_ALREADY_EXISTS", None)
    assert {a["Id"] for a in every(orgs, "list_accounts", "Accounts")} == members
    states = orgs.list_create_account_status(States=["FAILED"])["CreateAccountStatuses"]
    assert failed["Id"] in {s["Id"] for s in states} and all(s["State"] == "FAILED" for s in states)
    assert status["Id"] not in {s["Id"] for s in states}
    assert refused(lambda: orgs.create_account(Email=f"{uuid.uuid4().hex[:8]}@example.com", AccountName="x",
                                               RoleName="AWSServiceRoleForSupport"))[:2] == ("InvalidInputException", "INVALID_ROLE_NAME")
    assert code(lambda: orgs.create_account(Email="not-an-address", AccountName="x")) == "InvalidInputException"
    assert code(lambda: orgs.describe_create_account_status(CreateAccountRequestId="car-00000000000000000")) == \
        "CreateAccountStatusNotFoundException"
    # a member (even its administrator) cannot create accounts; nor read the statuses
    theirs = inside.client("organizations")
    assert code(lambda: theirs.create_account(Email=f"{uuid.uuid4().hex[:8]}@example.com", AccountName="x")) == "AccessDeniedException"
    assert code(lambda: theirs.list_create_account_status()) == "AccessDeniedException"
    # tags need organizations:TagResource too: a user allowed CreateAccount only creates nothing with tags
    creator = user_with(mgmt.root, allow("organizations:CreateAccount")).client("organizations")
    assert code(lambda: creator.create_account(Email=f"{uuid.uuid4().hex[:8]}@example.com", AccountName="tagged",
                                               Tags=[{"Key": "a", "Value": "b"}])) == "AccessDeniedException"
    assert "tagged" not in {a["Name"] for a in every(orgs, "list_accounts", "Accounts")}
    made = creator.create_account(Email=f"{uuid.uuid4().hex[:8]}@example.com", AccountName="untagged")["CreateAccountStatus"]
    for made_id in (made["AccountId"], account_id):
        orgs.remove_account_from_organization(AccountId=made_id)


def test_the_account_quota_counts_members_and_open_invitations(mgmt: Management) -> None:
    """orgs_reference_limits: 10 accounts in an organization by default, and "An invitation sent to an account counts
    against this quota. The count is returned if the invited account declines, the management account cancels the
    invitation, or the invitation expires": CreateAccount FAILED with ACCOUNT_LIMIT_EXCEEDED, an invitation
    HandshakeConstraintViolationException ACCOUNT_NUMBER_LIMIT_EXCEEDED."""
    own = mgmt.spare()
    orgs = own.orgs
    made = [own.create(f"n{i}") for i in range(9)]  # with the management account: ten
    full = orgs.create_account(Email=f"{uuid.uuid4().hex[:8]}@example.com", AccountName="eleventh")["CreateAccountStatus"]
    assert (full["State"], full["FailureReason"]) == ("FAILED", "ACCOUNT_LIMIT_EXCEEDED")
    out = made.pop()
    orgs.remove_account_from_organization(AccountId=out)
    shake = orgs.invite_account_to_organization(Target={"Type": "ACCOUNT", "Id": out})["Handshake"]
    again = mgmt.create("guest")
    mgmt.orgs.remove_account_from_organization(AccountId=again)
    assert refused(lambda: orgs.invite_account_to_organization(Target={"Type": "ACCOUNT", "Id": again}))[:2] == \
        ("HandshakeConstraintViolationException", "ACCOUNT_NUMBER_LIMIT_EXCEEDED")
    assert orgs.create_account(Email=f"{uuid.uuid4().hex[:8]}@example.com", AccountName="x")["CreateAccountStatus"]["State"] == "FAILED"
    orgs.cancel_handshake(HandshakeId=shake["Id"])  # the count is returned
    orgs.invite_account_to_organization(Target={"Type": "ACCOUNT", "Id": again})


def test_leaving_and_removing_accounts(mgmt: Management) -> None:
    """API_RemoveAccountFromOrganization and API_LeaveOrganization: the account becomes standalone ("It's no longer
    subject to any policies"; "all tags that were attached to the account object in the organization are deleted");
    the management account cannot leave (MasterCannotLeaveOrganizationException); a delegated administrator must be
    deregistered first (CANNOT_REMOVE_DELEGATED_ADMINISTRATOR_FROM_ORG); "A newly created account has a waiting period
    before it can be removed from its organization. You must wait until at least four days after the account was
    created. Invited accounts aren't subject to this waiting period" (WAIT_PERIOD_ACTIVE); "The management account ...
    can set service control policies (SCPs) that can restrict what administrators of member accounts can do. This
    includes preventing them from successfully calling LeaveOrganization"."""
    orgs = mgmt.orgs
    assert code(lambda: orgs.leave_organization()) == "MasterCannotLeaveOrganizationException"
    assert code(lambda: orgs.remove_account_from_organization(AccountId=mgmt.account_id)) == "MasterCannotLeaveOrganizationException"
    assert code(lambda: orgs.remove_account_from_organization(AccountId="000000000000")) == "AccountNotFoundException"
    ou = orgs.create_organizational_unit(ParentId=mgmt.root_id, Name=unique("leavers"))["OrganizationalUnit"]["Id"]
    member = mgmt.create("leaver", parent=ou)
    inside = mgmt.enter(member)
    theirs, their_iam = inside.client("organizations"), inside.client("iam")
    assert refused(theirs.leave_organization)[:2] == ("ConstraintViolationException", "WAIT_PERIOD_ACTIVE")
    orgs.register_delegated_administrator(AccountId=member, ServicePrincipal="securityhub.amazonaws.com")
    assert refused(lambda: orgs.remove_account_from_organization(AccountId=member))[:2] == \
        ("ConstraintViolationException", "CANNOT_REMOVE_DELEGATED_ADMINISTRATOR_FROM_ORG")
    orgs.deregister_delegated_administrator(AccountId=member, ServicePrincipal="securityhub.amazonaws.com")
    orgs.tag_resource(ResourceId=member, Tags=[{"Key": "stage", "Value": "prod"}])
    deny = new_policy(orgs, "Deny", "iam:CreateUser")
    orgs.attach_policy(PolicyId=deny, TargetId=ou)
    assert code(lambda: their_iam.create_user(UserName=unique("no"))) == "AccessDenied"
    orgs.remove_account_from_organization(AccountId=member)
    # standalone: no SCP bounds it, it sees no organization, the organization keeps nothing of it
    their_iam.create_user(UserName=unique("free"))
    assert code(theirs.describe_organization) == "AWSOrganizationsNotInUseException"
    assert code(lambda: orgs.describe_account(AccountId=member)) == "AccountNotFoundException"
    assert code(lambda: orgs.list_tags_for_resource(ResourceId=member)) == "TargetNotFoundException"
    assert code(lambda: orgs.remove_account_from_organization(AccountId=member)) == "AccountNotFoundException"
    # invited back, it may leave at once; an SCP denying LeaveOrganization keeps it in
    shake = orgs.invite_account_to_organization(Target={"Type": "ACCOUNT", "Id": member},
                                                Tags=[{"Key": "joined", "Value": "invite"}])["Handshake"]
    theirs.accept_handshake(HandshakeId=shake["Id"])
    assert orgs.describe_account(AccountId=member)["Account"]["JoinedMethod"] == "INVITED"
    assert orgs.list_tags_for_resource(ResourceId=member)["Tags"] == [{"Key": "joined", "Value": "invite"}]
    stay = new_policy(orgs, "Deny", "organizations:LeaveOrganization")
    orgs.attach_policy(PolicyId=stay, TargetId=member)
    code_, _, message = refused(theirs.leave_organization)
    assert code_ == "AccessDeniedException" and "service control policy" in message
    assert orgs.describe_account(AccountId=member)["Account"]["Id"] == member
    orgs.detach_policy(PolicyId=stay, TargetId=member)
    theirs.leave_organization()
    assert code(theirs.describe_organization) == "AWSOrganizationsNotInUseException"
    assert code(theirs.leave_organization) == "AWSOrganizationsNotInUseException"
    orgs.detach_policy(PolicyId=deny, TargetId=ou)
    for pid in (stay, deny):
        orgs.delete_policy(PolicyId=pid)


def test_an_organization_is_deleted_only_by_its_management_account_once_empty(mgmt: Management) -> None:
    """API_DeleteOrganization: "You can delete an organization only by using credentials from the management account.
    The organization must be empty of member accounts" (OrganizationNotEmptyException); then the account is in no
    organization and may create another."""
    own = mgmt.spare()
    member = own.create("last")
    theirs = own.enter(member).client("organizations")
    assert code(theirs.delete_organization) == "AccessDeniedException"
    assert code(own.orgs.delete_organization) == "OrganizationNotEmptyException"
    own.orgs.remove_account_from_organization(AccountId=member)
    own.orgs.create_policy(Name="kept?", Description="", Type=SCP, Content=doc("Allow", "*"))
    own.orgs.delete_organization()
    assert code(own.orgs.describe_organization) == "AWSOrganizationsNotInUseException"
    assert code(own.orgs.list_roots) == "AWSOrganizationsNotInUseException"
    again = own.orgs.create_organization(FeatureSet="ALL")["Organization"]
    assert again["Id"] != own.org["Id"]
    assert [p["Id"] for p in own.orgs.list_policies(Filter=SCP)["Policies"]] == ["p-FullAWSAccess"]


# --- handshakes ------------------------------------------------------------------------------------


def test_handshakes_are_seen_and_answered_by_their_parties_only(mgmt: Management) -> None:
    """API_DescribeHandshake, API_DeclineHandshake ("Only the account that receives a handshake can call this
    operation"), API_CancelHandshake ("Only the account that sent a handshake can call this operation"; "After a
    handshake is canceled, the recipient can no longer respond to the handshake"), HandshakeAlreadyInStateException
    and InvalidHandshakeTransitionException, API_ListHandshakesForAccount ("Lists the recent handshakes that you have
    received") and API_ListHandshakesForOrganization ("... that you have sent"); InviteAccountToOrganization twice to
    one account: DuplicateHandshakeException."""
    orgs = mgmt.orgs
    guest = mgmt.create("guest")
    mgmt.orgs.remove_account_from_organization(AccountId=guest)
    theirs = mgmt.enter(guest).client("organizations")
    stranger_id = mgmt.create("stranger")
    stranger = mgmt.enter(stranger_id).client("organizations")
    first = orgs.invite_account_to_organization(Target={"Type": "ACCOUNT", "Id": guest}, Notes="welcome")["Handshake"]
    assert first["State"] == "OPEN" and first["Arn"].endswith(f"/invite/{first['Id']}")
    assert code(lambda: orgs.invite_account_to_organization(Target={"Type": "ACCOUNT", "Id": guest})) == "DuplicateHandshakeException"
    assert theirs.describe_handshake(HandshakeId=first["Id"])["Handshake"]["Id"] == first["Id"]
    assert orgs.describe_handshake(HandshakeId=first["Id"])["Handshake"]["State"] == "OPEN"
    for call in (lambda: stranger.describe_handshake(HandshakeId=first["Id"]),
                 lambda: stranger.decline_handshake(HandshakeId=first["Id"]),
                 lambda: stranger.cancel_handshake(HandshakeId=first["Id"]),
                 lambda: orgs.decline_handshake(HandshakeId=first["Id"]),  # the sender does not decline
                 lambda: theirs.cancel_handshake(HandshakeId=first["Id"]),  # the recipient does not cancel
                 lambda: theirs.describe_handshake(HandshakeId="h-0000000000")):
        assert code(call) == "HandshakeNotFoundException"
    assert [h["Id"] for h in theirs.list_handshakes_for_account()["Handshakes"]] == [first["Id"]]
    assert first["Id"] not in {h["Id"] for h in stranger.list_handshakes_for_account()["Handshakes"]}
    assert theirs.decline_handshake(HandshakeId=first["Id"])["Handshake"]["State"] == "DECLINED"
    assert code(lambda: theirs.decline_handshake(HandshakeId=first["Id"])) == "HandshakeAlreadyInStateException"
    assert code(lambda: theirs.accept_handshake(HandshakeId=first["Id"])) == "InvalidHandshakeTransitionException"
    assert code(lambda: orgs.cancel_handshake(HandshakeId=first["Id"])) == "InvalidHandshakeTransitionException"
    second = orgs.invite_account_to_organization(Target={"Type": "ACCOUNT", "Id": guest})["Handshake"]
    assert orgs.cancel_handshake(HandshakeId=second["Id"])["Handshake"]["State"] == "CANCELED"
    assert code(lambda: orgs.cancel_handshake(HandshakeId=second["Id"])) == "HandshakeAlreadyInStateException"
    assert code(lambda: theirs.accept_handshake(HandshakeId=second["Id"])) == "InvalidHandshakeTransitionException"
    assert code(theirs.describe_organization) == "AWSOrganizationsNotInUseException"
    received = {h["Id"]: h["State"] for h in theirs.list_handshakes_for_account()["Handshakes"]}
    assert received == {first["Id"]: "DECLINED", second["Id"]: "CANCELED"}
    assert theirs.list_handshakes_for_account(Filter={"ActionType": "ENABLE_ALL_FEATURES"})["Handshakes"] == []
    sent = {h["Id"]: h["State"] for h in orgs.list_handshakes_for_organization()["Handshakes"]}
    assert sent[first["Id"]] == "DECLINED" and sent[second["Id"]] == "CANCELED"
    assert refused(lambda: orgs.list_handshakes_for_organization(Filter={"ActionType": "INVITE", "ParentHandshakeId": "h-0000000000"}))[0] == \
        "InvalidInputException"
    assert code(stranger.list_handshakes_for_organization) == "AccessDeniedException"
    third = orgs.invite_account_to_organization(Target={"Type": "ACCOUNT", "Id": guest})["Handshake"]
    assert theirs.accept_handshake(HandshakeId=third["Id"])["Handshake"]["State"] == "ACCEPTED"
    assert code(lambda: theirs.accept_handshake(HandshakeId=third["Id"])) == "HandshakeAlreadyInStateException"
    assert orgs.describe_account(AccountId=guest)["Account"]["JoinedMethod"] == "INVITED"
    for account_id in (guest, stranger_id):
        orgs.remove_account_from_organization(AccountId=account_id)


# --- tags ------------------------------------------------------------------------------------------


def test_tags_on_roots_ous_accounts_and_policies(mgmt: Management) -> None:
    """API_TagResource, API_UntagResource, API_ListTagsForResource on "Amazon Web Services account, Organization root,
    Organizational unit (OU), Policy (any type)"; InvalidInputException DUPLICATE_TAG_KEY and
    INVALID_SYSTEM_TAGS_PARAMETER ("You can't add, edit, or delete system tag keys"), ConstraintViolationException
    MAX_TAG_LIMIT_EXCEEDED past 50 (orgs_tagging.html), TargetNotFoundException; an AWS managed policy is
    IMMUTABLE_POLICY; tags at creation need organizations:TagResource (API_CreatePolicy.html,
    API_CreateOrganizationalUnit.html)."""
    orgs = mgmt.orgs
    ou = orgs.create_organizational_unit(ParentId=mgmt.root_id, Name=unique("tagged"),
                                         Tags=[{"Key": "team", "Value": "blue"}])["OrganizationalUnit"]["Id"]
    pid = new_policy(orgs, Tags=[{"Key": "team", "Value": "red"}])
    member = mgmt.create("tagged")
    assert orgs.list_tags_for_resource(ResourceId=ou)["Tags"] == [{"Key": "team", "Value": "blue"}]
    assert orgs.list_tags_for_resource(ResourceId=pid)["Tags"] == [{"Key": "team", "Value": "red"}]
    for rid in (mgmt.root_id, ou, member, pid):
        orgs.tag_resource(ResourceId=rid, Tags=[{"Key": "Env", "Value": "prod"}, {"Key": "env", "Value": "lower"}])
        orgs.tag_resource(ResourceId=rid, Tags=[{"Key": "Env", "Value": "staging"}])  # overwritten
        tags = {t["Key"]: t["Value"] for t in orgs.list_tags_for_resource(ResourceId=rid)["Tags"]}
        assert tags["Env"] == "staging" and tags["env"] == "lower"  # keys are case-sensitive
        orgs.untag_resource(ResourceId=rid, TagKeys=["env", "missing"])
        assert "env" not in {t["Key"] for t in orgs.list_tags_for_resource(ResourceId=rid)["Tags"]}
    bad = [
        ([{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}], ("InvalidInputException", "DUPLICATE_TAG_KEY")),
        ([{"Key": "aws:created-by", "Value": "me"}], ("InvalidInputException", "INVALID_SYSTEM_TAGS_PARAMETER")),
        ([{"Key": "AWS:x", "Value": "me"}], ("InvalidInputException", "INVALID_SYSTEM_TAGS_PARAMETER")),
        ([{"Key": "semi;colon", "Value": "x"}], ("InvalidInputException", "INVALID_PATTERN")),
        ([{"Key": f"k{i}", "Value": ""} for i in range(51)], ("ConstraintViolationException", "MAX_TAG_LIMIT_EXCEEDED")),
    ]
    before = orgs.list_tags_for_resource(ResourceId=ou)["Tags"]
    for tags, expected in bad:
        assert refused(lambda tags=tags: orgs.tag_resource(ResourceId=ou, Tags=tags))[:2] == expected
    # 50 at most in all: what is there counts
    orgs.tag_resource(ResourceId=ou, Tags=[{"Key": f"k{i}", "Value": ""} for i in range(50 - len(before))])
    assert refused(lambda: orgs.tag_resource(ResourceId=ou, Tags=[{"Key": "one-more", "Value": ""}]))[:2] == \
        ("ConstraintViolationException", "MAX_TAG_LIMIT_EXCEEDED")
    assert len(orgs.list_tags_for_resource(ResourceId=ou)["Tags"]) == 50
    assert refused(lambda: orgs.tag_resource(ResourceId="p-FullAWSAccess", Tags=[{"Key": "a", "Value": "b"}]))[:2] == \
        ("InvalidInputException", "IMMUTABLE_POLICY")
    for rid in ("000000000000", f"ou-{mgmt.root_id[2:]}-zzzzzzzz", "p-zzzzzzzz", "r-zzzz"):
        assert code(lambda rid=rid: orgs.list_tags_for_resource(ResourceId=rid)) == "TargetNotFoundException"
        assert code(lambda rid=rid: orgs.tag_resource(ResourceId=rid, Tags=[{"Key": "a", "Value": "b"}])) == "TargetNotFoundException"
    # a creation's tags need TagResource: without it, nothing is created
    creator = user_with(mgmt.root, allow(["organizations:CreatePolicy", "organizations:CreateOrganizationalUnit"]))
    theirs = creator.client("organizations")
    name = unique("notag")
    assert code(lambda: theirs.create_policy(Name=name, Description="", Type=SCP, Content=doc("Allow", "*"),
                                             Tags=[{"Key": "a", "Value": "b"}])) == "AccessDeniedException"
    assert name not in {p["Name"] for p in every(orgs, "list_policies", "Policies", Filter=SCP)}
    assert code(lambda: theirs.create_organizational_unit(ParentId=mgmt.root_id, Name=name,
                                                          Tags=[{"Key": "a", "Value": "b"}])) == "AccessDeniedException"
    assert name not in ou_names(orgs, mgmt.root_id)
    orgs.delete_policy(PolicyId=pid)
    orgs.remove_account_from_organization(AccountId=member)


# --- delegated administrators and the delegation policy ------------------------------------------


def test_delegated_administrators_read_the_organization_but_do_not_manage_it(mgmt: Management) -> None:
    """API_RegisterDelegatedAdministrator ("It grants read-only access to Organizations service data. The account still
    requires IAM permissions"), CANNOT_REGISTER_MASTER_AS_DELEGATED_ADMINISTRATOR,
    DELEGATED_ADMINISTRATOR_EXISTS_FOR_THIS_SERVICE, AccountAlreadyRegisteredException, UNRECOGNIZED_SERVICE_PRINCIPAL;
    API_DeregisterDelegatedAdministrator (AccountNotRegisteredException), API_ListDelegatedAdministrators,
    API_ListDelegatedServicesForAccount."""
    orgs = mgmt.orgs
    first, second = mgmt.create("auditor"), mgmt.create("other")
    service = "guardduty.amazonaws.com"
    assert refused(lambda: orgs.register_delegated_administrator(AccountId=mgmt.account_id, ServicePrincipal=service))[:2] == \
        ("ConstraintViolationException", "CANNOT_REGISTER_MASTER_AS_DELEGATED_ADMINISTRATOR")
    assert refused(lambda: orgs.register_delegated_administrator(AccountId=first, ServicePrincipal="nothing.example.com"))[:2] == \
        ("InvalidInputException", "UNRECOGNIZED_SERVICE_PRINCIPAL")
    assert code(lambda: orgs.register_delegated_administrator(AccountId="000000000000", ServicePrincipal=service)) == "AccountNotFoundException"
    theirs = mgmt.enter(first).client("organizations")
    assert code(lambda: theirs.list_accounts()) == "AccessDeniedException"
    orgs.register_delegated_administrator(AccountId=first, ServicePrincipal=service)
    assert code(lambda: orgs.register_delegated_administrator(AccountId=first, ServicePrincipal=service)) == \
        "AccountAlreadyRegisteredException"
    assert refused(lambda: orgs.register_delegated_administrator(AccountId=second, ServicePrincipal=service))[:2] == \
        ("ConstraintViolationException", "DELEGATED_ADMINISTRATOR_EXISTS_FOR_THIS_SERVICE")
    orgs.register_delegated_administrator(AccountId=first, ServicePrincipal="securityhub.amazonaws.com")
    admins = orgs.list_delegated_administrators(ServicePrincipal=service)["DelegatedAdministrators"]
    assert [a["Id"] for a in admins] == [first] and admins[0]["Name"] == "auditor" and "DelegationEnabledDate" in admins[0]
    services = orgs.list_delegated_services_for_account(AccountId=first)["DelegatedServices"]
    assert sorted(s["ServicePrincipal"] for s in services) == ["guardduty.amazonaws.com", "securityhub.amazonaws.com"]
    assert code(lambda: orgs.list_delegated_services_for_account(AccountId=second)) == "AccountNotRegisteredException"
    # the delegated administrator reads the organization ...
    assert mgmt.account_id in {a["Id"] for a in every(theirs, "list_accounts", "Accounts")}
    assert theirs.list_roots()["Roots"][0]["Id"] == mgmt.root_id
    assert theirs.describe_account(AccountId=second)["Account"]["Id"] == second
    assert [p["Id"] for p in theirs.list_policies(Filter=SCP, MaxResults=1)["Policies"]] == ["p-FullAWSAccess"]
    assert first in {a["Id"] for a in theirs.list_delegated_administrators()["DelegatedAdministrators"]}
    # ... and changes nothing
    pid = new_policy(orgs)
    for call in (lambda: theirs.create_policy(Name=unique("p"), Description="", Type=SCP, Content=doc("Allow", "*")),
                 lambda: theirs.attach_policy(PolicyId=pid, TargetId=second),
                 lambda: theirs.update_policy(PolicyId=pid, Name="mine"),
                 lambda: theirs.create_organizational_unit(ParentId=mgmt.root_id, Name="mine"),
                 lambda: theirs.tag_resource(ResourceId=second, Tags=[{"Key": "a", "Value": "b"}]),
                 lambda: theirs.register_delegated_administrator(AccountId=second, ServicePrincipal="macie.amazonaws.com"),
                 lambda: theirs.remove_account_from_organization(AccountId=second),
                 lambda: theirs.create_account(Email=f"{uuid.uuid4().hex[:8]}@example.com", AccountName="x")):
        assert code(call) == "AccessDeniedException"
    assert orgs.list_targets_for_policy(PolicyId=pid)["Targets"] == []
    # its principals still need IAM permissions of their own; another member has no such access
    nobody = user_with(mgmt.enter(first), None).client("organizations")
    code_, _, message = refused(nobody.list_accounts)
    assert code_ == "AccessDeniedException" and "organizations:ListAccounts" in message
    other = mgmt.enter(second).client("organizations")
    assert code(other.list_accounts) == "AccessDeniedException"
    # deregistered: no more access
    orgs.deregister_delegated_administrator(AccountId=first, ServicePrincipal=service)
    orgs.deregister_delegated_administrator(AccountId=first, ServicePrincipal="securityhub.amazonaws.com")
    assert code(lambda: orgs.deregister_delegated_administrator(AccountId=first, ServicePrincipal=service)) == "AccountNotRegisteredException"
    assert code(theirs.list_accounts) == "AccessDeniedException"
    assert orgs.list_delegated_administrators()["DelegatedAdministrators"] == []
    orgs.delete_policy(PolicyId=pid)
    for account_id in (first, second):
        orgs.remove_account_from_organization(AccountId=account_id)


def test_the_delegation_policy_delegates_what_it_says_to_whom_it_names(mgmt: Management) -> None:
    """orgs_delegate_policies.html and security_iam_resource-based-policy-examples.html ("Attach policies to a single
    OU or account"): a member named by the delegation policy may manage the policies it allows, on the resources and
    conditions it gives, when its own IAM permissions allow it too; a member it does not name, nothing.
    API_PutResourcePolicy (only the management account; InvalidInputException INVALID_RESOURCE_POLICY_JSON,
    INVALID_PRINCIPAL, UNSUPPORTED_ACTION_IN_RESOURCE_POLICY), API_DescribeResourcePolicy, API_DeleteResourcePolicy
    (ResourcePolicyNotFoundException)."""
    orgs, root = mgmt.orgs, mgmt.root_id
    ou = orgs.create_organizational_unit(ParentId=root, Name=unique("delegated"))["OrganizationalUnit"]
    elsewhere = orgs.create_organizational_unit(ParentId=root, Name=unique("kept"))["OrganizationalUnit"]
    admin_account, other_account = mgmt.create("policy-admin"), mgmt.create("not-named")
    admin, other = mgmt.enter(admin_account), mgmt.enter(other_account)
    oid, m = mgmt.org["Id"], mgmt.account_id
    policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": "Read", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{admin_account}:root"},
         "Action": ["organizations:Describe*", "organizations:List*"], "Resource": "*"},
        {"Sid": "ScpsOnly", "Effect": "Allow", "Principal": {"AWS": admin_account},
         "Action": ["organizations:CreatePolicy", "organizations:UpdatePolicy"], "Resource": "*",
         "Condition": {"StringEquals": {"organizations:PolicyType": SCP}}},
        {"Sid": "OneOu", "Effect": "Allow", "Principal": {"AWS": admin_account}, "Action": "organizations:AttachPolicy",
         "Resource": [ou["Arn"], f"arn:aws:organizations::{m}:policy/{oid}/service_control_policy/*"]},
    ]}
    bad = [
        ("{not json", "INVALID_RESOURCE_POLICY_JSON"),
        (json.dumps({**policy, "Statement": [{**policy["Statement"][0], "Principal": "*"}]}), "INVALID_PRINCIPAL"),
        (json.dumps({**policy, "Statement": [{**policy["Statement"][0], "Principal": {"Service": "ec2.amazonaws.com"}}]}), "INVALID_PRINCIPAL"),
        (json.dumps({**policy, "Statement": [{**policy["Statement"][0], "Action": "iam:CreateUser"}]}), "UNSUPPORTED_ACTION_IN_RESOURCE_POLICY"),
        (json.dumps({**policy, "Statement": [{**policy["Statement"][0], "Action": "organizations:CreateAccount"}]}), "UNSUPPORTED_ACTION_IN_RESOURCE_POLICY"),
        (json.dumps({**policy, "Statement": [{**policy["Statement"][0], "Action": "organizations:*"}]}), "UNSUPPORTED_ACTION_IN_RESOURCE_POLICY"),
    ]
    for content, reason in bad:
        assert refused(lambda content=content: orgs.put_resource_policy(Content=content))[:2] == ("InvalidInputException", reason)
    assert code(orgs.describe_resource_policy) == "ResourcePolicyNotFoundException"
    assert code(lambda: admin.client("organizations").put_resource_policy(Content=json.dumps(policy))) == "AccessDeniedException"
    put = orgs.put_resource_policy(Content=json.dumps(policy), Tags=[{"Key": "owner", "Value": "platform"}])["ResourcePolicy"]
    rp = put["ResourcePolicySummary"]
    assert rp["Id"].startswith("rp-") and rp["Arn"] == f"arn:aws:organizations::{m}:resourcepolicy/{oid}/{rp['Id']}"
    assert orgs.list_tags_for_resource(ResourceId=rp["Id"])["Tags"] == [{"Key": "owner", "Value": "platform"}]
    theirs = admin.client("organizations")
    assert theirs.describe_resource_policy()["ResourcePolicy"]["ResourcePolicySummary"]["Id"] == rp["Id"]
    pid = theirs.create_policy(Name=unique("delegated"), Description="", Type=SCP,
                               Content=doc("Deny", "iam:CreateUser"))["Policy"]["PolicySummary"]["Id"]
    theirs.attach_policy(PolicyId=pid, TargetId=ou["Id"])
    assert {t["TargetId"] for t in theirs.list_targets_for_policy(PolicyId=pid)["Targets"]} == {ou["Id"]}
    for call in (lambda: theirs.attach_policy(PolicyId=pid, TargetId=elsewhere["Id"]),
                 lambda: theirs.attach_policy(PolicyId=pid, TargetId=root),
                 lambda: theirs.detach_policy(PolicyId=pid, TargetId=ou["Id"]),
                 lambda: theirs.delete_policy(PolicyId=pid),
                 lambda: theirs.create_organizational_unit(ParentId=root, Name="x"),  # the management account's only
                 lambda: theirs.put_resource_policy(Content=json.dumps(policy))):
        assert code(call) == "AccessDeniedException"
    # its own IAM permissions must allow it too: a user of that account with none gets nothing
    nobody = user_with(admin, allow("organizations:List*")).client("organizations")
    code_, _, message = refused(lambda: nobody.create_policy(Name=unique("x"), Description="", Type=SCP, Content=doc("Allow", "*")))
    assert code_ == "AccessDeniedException" and "organizations:CreatePolicy" in message
    nobody.list_roots()
    # a member the policy does not name: nothing, not even reading
    assert code(lambda: other.client("organizations").list_accounts()) == "AccessDeniedException"
    assert code(lambda: other.client("organizations").create_policy(Name=unique("x"), Description="", Type=SCP,
                                                                   Content=doc("Allow", "*"))) == "AccessDeniedException"
    # deleted: the delegation ends
    assert code(lambda: theirs.delete_resource_policy()) == "AccessDeniedException"
    orgs.delete_resource_policy()
    assert code(orgs.delete_resource_policy) == "ResourcePolicyNotFoundException"
    assert code(lambda: theirs.create_policy(Name=unique("x"), Description="", Type=SCP, Content=doc("Allow", "*"))) == "AccessDeniedException"
    assert code(theirs.list_accounts) == "AccessDeniedException"
    orgs.detach_policy(PolicyId=pid, TargetId=ou["Id"])
    orgs.delete_policy(PolicyId=pid)
    for account_id in (admin_account, other_account):
        orgs.remove_account_from_organization(AccountId=account_id)


# --- paging and authorisation ----------------------------------------------------------------------


def test_every_list_pages_with_tokens_that_cannot_be_forged_or_moved(mgmt: Management, server: Server) -> None:
    """Every List* operation takes MaxResults (1 to 20, the model's limits) and NextToken ("Continue making requests
    until NextToken returns null", each operation's page); a NextToken that is not one the listing issued (tampered,
    another listing's, another caller's) is InvalidInputException INVALID_NEXT_TOKEN."""
    orgs = mgmt.orgs
    ou = orgs.create_organizational_unit(ParentId=mgmt.root_id, Name=unique("pages"))["OrganizationalUnit"]["Id"]
    pids = [new_policy(orgs, "Allow", "*") for _ in range(5)]
    for pid in pids:
        orgs.tag_resource(ResourceId=pid, Tags=[{"Key": "batch", "Value": "paging"}])
    for i in range(3):
        orgs.create_organizational_unit(ParentId=ou, Name=f"child-{i}")
    for pid in pids[:3]:
        orgs.attach_policy(PolicyId=pid, TargetId=ou)
    seen: list[str] = []
    token = None
    while True:
        page = orgs.list_policies(Filter=SCP, MaxResults=2, **({"NextToken": token} if token else {}))
        assert len(page["Policies"]) <= 2
        seen += [p["Id"] for p in page["Policies"]]
        token = page.get("NextToken")
        if not token:
            break
    assert len(seen) == len(set(seen)) and set(pids) <= set(seen)
    # boto3's paginators follow every listing's tokens
    paginated = [
        ("list_organizational_units_for_parent", {"ParentId": ou}, "OrganizationalUnits", 3),
        ("list_children", {"ParentId": ou, "ChildType": "ORGANIZATIONAL_UNIT"}, "Children", 3),
        ("list_policies_for_target", {"TargetId": ou, "Filter": SCP}, "Policies", 4),
        ("list_targets_for_policy", {"PolicyId": "p-FullAWSAccess"}, "Targets", None),
        ("list_accounts", {}, "Accounts", None),
        ("list_accounts_for_parent", {"ParentId": mgmt.root_id}, "Accounts", None),
        ("list_create_account_status", {}, "CreateAccountStatuses", None),
        ("list_handshakes_for_organization", {}, "Handshakes", None),
        ("list_roots", {}, "Roots", 1),
    ]
    for name, args, key, expected in paginated:
        items = [i for p in orgs.get_paginator(name).paginate(**args, PaginationConfig={"PageSize": 1}) for i in p[key]]
        whole = orgs.get_paginator(name).paginate(**args, PaginationConfig={"PageSize": 20})
        assert items == [i for p in whole for i in p[key]], name
        if expected is not None:
            assert len(items) == expected, (name, items)
    first = orgs.list_policies(Filter=SCP, MaxResults=1)
    token = first["NextToken"]
    raw = bytearray(token.encode())
    raw[len(raw) // 2] = ord("A") if raw[len(raw) // 2] != ord("A") else ord("B")
    forged = [raw.decode(), "not a token", token[:-6], "A" * 5000]
    for bad in forged:
        assert refused(lambda bad=bad: orgs.list_policies(Filter=SCP, MaxResults=1, NextToken=bad))[:2] == \
            ("InvalidInputException", "INVALID_NEXT_TOKEN")
    # another listing's token, or the same listing with other parameters, or another caller
    for call in (lambda: orgs.list_accounts(NextToken=token),
                 lambda: orgs.list_policies(Filter="RESOURCE_CONTROL_POLICY", NextToken=token),
                 lambda: orgs.list_policies_for_target(TargetId=ou, Filter=SCP, NextToken=token)):
        assert refused(call)[:2] == ("InvalidInputException", "INVALID_NEXT_TOKEN")
    outsider = create_account(server)
    theirs = server.client("organizations", key=outsider.key, secret=outsider.secret)
    theirs.create_organization(FeatureSet="ALL")
    assert refused(lambda: theirs.list_policies(Filter=SCP, NextToken=token))[:2] == ("InvalidInputException", "INVALID_NEXT_TOKEN")
    unchecked = server.client("organizations", key=mgmt.root.key, secret=mgmt.root.secret, validate=False)
    for size in (0, 21):
        assert refused(lambda size=size: unchecked.list_accounts(MaxResults=size))[:2] == \
            ("InvalidInputException", "MIN_VALUE_EXCEEDED" if size == 0 else "MAX_VALUE_EXCEEDED")
    for pid in pids[:3]:
        orgs.detach_policy(PolicyId=pid, TargetId=ou)
    for pid in pids:
        orgs.delete_policy(PolicyId=pid)


def test_calls_are_authorised_on_the_resource_arns_aws_gives(mgmt: Management) -> None:
    """The service authorization reference for Organizations (list_awsorganizations.html): AttachPolicy acts on the
    policy and the target (account, OU or root) and takes organizations:PolicyType; "arn:aws:organizations::ACCOUNT:
    ou/o-ID/ou-ID" and its siblings; aws:ResourceTag/* on accounts, OUs, roots and policies. An IAM user of the
    management account allowed AttachPolicy on one OU only attaches there (orgs_permissions_overview.html, "Granting
    limited permissions by restricting resources")."""
    orgs, root, m, oid = mgmt.orgs, mgmt.root_id, mgmt.account_id, mgmt.org["Id"]
    mine = orgs.create_organizational_unit(ParentId=root, Name=unique("mine"))["OrganizationalUnit"]
    theirs = orgs.create_organizational_unit(ParentId=root, Name=unique("theirs"))["OrganizationalUnit"]
    assert mine["Arn"] == f"arn:aws:organizations::{m}:ou/{oid}/{mine['Id']}"
    pid = new_policy(orgs)
    scps = f"arn:aws:organizations::{m}:policy/{oid}/service_control_policy/*"
    user = user_with(mgmt.root, allow(["organizations:AttachPolicy", "organizations:DetachPolicy"], [mine["Arn"], scps],
                                      {"StringEquals": {"organizations:PolicyType": SCP}})).client("organizations")
    user.attach_policy(PolicyId=pid, TargetId=mine["Id"])
    for target, arn in ((theirs["Id"], theirs["Arn"]), (root, f"arn:aws:organizations::{m}:root/{oid}/{root}"),
                        (m, f"arn:aws:organizations::{m}:account/{oid}/{m}")):
        code_, _, message = refused(lambda target=target: user.attach_policy(PolicyId=pid, TargetId=target))
        assert code_ == "AccessDeniedException" and f"on resource: {arn}" in message
    assert {t["TargetId"] for t in orgs.list_targets_for_policy(PolicyId=pid)["Targets"]} == {mine["Id"]}
    # AWS's own policy is not in the organization's policies: its ARN is arn:aws:organizations::aws:policy/...
    code_, _, message = refused(lambda: user.attach_policy(PolicyId="p-FullAWSAccess", TargetId=mine["Id"]))
    assert code_ == "AccessDeniedException" and "arn:aws:organizations::aws:policy/service_control_policy/p-FullAWSAccess" in message
    user.detach_policy(PolicyId=pid, TargetId=mine["Id"])
    # tags on the resource: allowed to describe only OUs tagged team=blue
    orgs.tag_resource(ResourceId=mine["Id"], Tags=[{"Key": "team", "Value": "blue"}])
    reader = user_with(mgmt.root, allow("organizations:DescribeOrganizationalUnit", "*",
                                        {"StringEquals": {"aws:ResourceTag/team": "blue"}})).client("organizations")
    reader.describe_organizational_unit(OrganizationalUnitId=mine["Id"])
    assert code(lambda: reader.describe_organizational_unit(OrganizationalUnitId=theirs["Id"])) == "AccessDeniedException"
    # the request's tags: creating only OUs tagged with an owner
    creator = user_with(mgmt.root, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "organizations:CreateOrganizationalUnit", "Resource": "*",
         "Condition": {"Null": {"aws:RequestTag/owner": "false"}}},
        {"Effect": "Allow", "Action": "organizations:TagResource", "Resource": "*"}]}).client("organizations")
    assert code(lambda: creator.create_organizational_unit(ParentId=root, Name=unique("untagged"))) == "AccessDeniedException"
    creator.create_organizational_unit(ParentId=root, Name=unique("owned"), Tags=[{"Key": "owner", "Value": "me"}])
    # the policy type condition on reading policies
    lister = user_with(mgmt.root, allow("organizations:ListPolicies", "*",
                                        {"StringEquals": {"organizations:PolicyType": "TAG_POLICY"}})).client("organizations")
    assert code(lambda: lister.list_policies(Filter=SCP)) == "AccessDeniedException"
    lister.list_policies(Filter="TAG_POLICY")
    orgs.delete_policy(PolicyId=pid)


# --- bad input -------------------------------------------------------------------------------------


def test_bad_input_to_the_new_operations_changes_nothing(mgmt: Management) -> None:
    """Off-model and malformed input to the new operations: InvalidInputException (the model's constraints), nothing
    changed, never a 5xx."""
    prefix = "AWSOrganizationsV20161128."
    account = Account(mgmt.account_id, "aws", mgmt.root.key, mgmt.root.secret)
    names = ou_names(mgmt.orgs, mgmt.root_id)
    cases = [
        ("UpdateOrganizationalUnit", {"OrganizationalUnitId": "ou-bad", "Name": "x"}),
        ("UpdateOrganizationalUnit", {"OrganizationalUnitId": f"ou-{mgmt.root_id[2:]}-zzzzzzzz", "Name": "x" * 129}),
        ("CreateAccount", {"Email": "a@b.c", "AccountName": "x" * 51}),
        ("CreateAccount", {"Email": "a@b.c", "AccountName": "ok", "IamUserAccessToBilling": "MAYBE"}),
        ("TagResource", {"ResourceId": "x; DROP TABLE", "Tags": []}),
        ("ListChildren", {"ParentId": mgmt.root_id, "ChildType": "POLICY"}),
        ("ListAccounts", {"MaxResults": "20"}),
        ("ListAccounts", {"NextToken": 5}),
        ("PutResourcePolicy", {"Content": "x" * 40_001}),
        ("RegisterDelegatedAdministrator", {"AccountId": "1", "ServicePrincipal": "a"}),
    ]
    for op, body in cases:
        status, answer = _raw(mgmt.server, account, prefix + op, json.dumps(body).encode())
        assert (status, answer["__type"]) == (400, "InvalidInputException"), (op, body, answer)
    assert ou_names(mgmt.orgs, mgmt.root_id) == names


# --- iamroles org ----------------------------------------------------------------------------------


def _cli(server: Server, *args: str) -> tuple[int, str]:
    """``iamroles org`` on the server's store (in this process: it only reads the store)."""
    from click.testing import CliRunner

    from iamroles.cli import main

    result = CliRunner().invoke(main, ["org", "--data-dir", str(server.data_dir), *args,
                                       *(["--db", server.db_url] if server.db_url else [])])
    return result.exit_code, result.output


def test_iamroles_org_draws_the_tree_with_the_policies_at_each_level(mgmt: Management, server: Server, tmp_path: Any) -> None:
    """``iamroles org`` reads the store: the root, OUs and accounts of an organization with the SCPs attached at each
    level, as text, as JSON, in Graphviz's DOT language and as SVG."""
    orgs = mgmt.orgs
    ou = orgs.create_organizational_unit(ParentId=mgmt.root_id, Name=unique("drawn"))["OrganizationalUnit"]["Id"]
    member = mgmt.create("drawn-member", parent=ou)
    pid = new_policy(orgs)
    name = orgs.describe_policy(PolicyId=pid)["Policy"]["PolicySummary"]["Name"]
    orgs.attach_policy(PolicyId=pid, TargetId=ou)
    status, out = _cli(server, "--org", mgmt.account_id, "--json")
    assert status == 0, out
    tree = json.loads(out)["organizations"]
    assert [t["id"] for t in tree] == [mgmt.org["Id"]]
    root = tree[0]["root"]
    assert root["id"] == mgmt.root_id and [p["id"] for p in root["policies"]] == ["p-FullAWSAccess"]
    drawn = next(c for c in root["children"] if c["id"] == ou)
    assert {p["id"] for p in drawn["policies"]} == {"p-FullAWSAccess", pid}
    assert [(c["id"], c["name"], c["type"]) for c in drawn["children"]] == [(member, "drawn-member", "ACCOUNT")]
    assert any(c["id"] == mgmt.account_id and c["management_account"] for c in root["children"])
    status, text = _cli(server, "--org", mgmt.org["Id"])
    assert status == 0, text
    line = next(line for line in text.splitlines() if ou in line)
    assert "SCP: " in line and name in line and "FullAWSAccess" in line
    assert f'account {member} "drawn-member"' in text
    dot = _cli(server, "--org", mgmt.org["Id"], "--format", "dot")[1]
    assert dot.startswith("digraph") and f'"{ou}" -> "{member}";' in dot
    svg_file = tmp_path / "org.svg"
    assert _cli(server, "--org", mgmt.org["Id"], "--format", "svg", "--output", str(svg_file))[0] == 0
    from lxml import etree

    svg = etree.parse(str(svg_file)).getroot()
    assert svg.tag.endswith("svg") and member in etree.tostring(svg).decode()
    status, out = _cli(server, "--org", "o-nonexistent0")
    assert status == 1 and "no organization o-nonexistent0" in out
    orgs.detach_policy(PolicyId=pid, TargetId=ou)
    orgs.delete_policy(PolicyId=pid)
    orgs.remove_account_from_organization(AccountId=member)


# --- audit and races -------------------------------------------------------------------------------


def test_organizations_calls_are_audited_without_what_the_model_calls_sensitive(mgmt: Management, server: Server) -> None:
    """Every call is recorded as a CloudTrail-shaped event, a change committed with it and a refusal with its error
    code (DESIGN: "Audit before answer"); the members botocore's model marks sensitive (an account's e-mail address
    and name, API_CreateAccount) are never written there."""
    from iamroles.runtime import database_url
    from iamroles.store import Store

    email = f"{uuid.uuid4().hex[:12]}@example.com"
    status = mgmt.orgs.create_account(Email=email, AccountName="Audited Name")["CreateAccountStatus"]
    assert code(lambda: mgmt.orgs.register_delegated_administrator(AccountId=status["AccountId"],
                                                                   ServicePrincipal="nothing.example.com")) == "InvalidInputException"
    store = Store(database_url(server.data_dir, server.db_url))
    try:
        with store.read() as tx:
            created = [json.loads(r) for r in tx.audit(account_id=mgmt.account_id, event_name="CreateAccount", limit=50)]
            refusals = [json.loads(r) for r in tx.audit(account_id=mgmt.account_id, event_name="RegisterDelegatedAdministrator",
                                                        errors_only=True, limit=50)]
    finally:
        store.close()
    mine = [e for e in created if status["Id"] in json.dumps(e)]
    assert len(mine) == 1 and mine[0]["eventSource"] == "organizations.amazonaws.com" and mine[0]["errorCode"] is None
    assert email not in json.dumps(created) and "Audited Name" not in json.dumps(created)
    assert any(e["errorCode"] == "InvalidInputException" and status["AccountId"] in json.dumps(e) for e in refusals)
    mgmt.orgs.remove_account_from_organization(AccountId=status["AccountId"])


def test_racing_creates_of_one_address_make_one_account(mgmt: Management) -> None:
    """An e-mail address is one account's (API_CreateAccountStatus, EMAIL_ALREADY_EXISTS) however the creates
    interleave: one SUCCEEDED, the others FAILED (or ConcurrentModificationException), never a 5xx."""
    email = f"{uuid.uuid4().hex[:12]}@example.com"

    def create(_: int) -> str:
        client = mgmt.root.client("organizations")
        try:
            found = client.create_account(Email=email, AccountName="racer")["CreateAccountStatus"]
        except ClientError as err:
            assert err.response["ResponseMetadata"]["HTTPStatusCode"] < 500, err.response
            return str(err.response["Error"]["Code"])
        return f"{found['State']}:{found.get('FailureReason') or found['AccountId']}"

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(create, range(4)))
    made = [r for r in results if r.startswith("SUCCEEDED:")]
    assert len(made) == 1, results
    assert set(results) - set(made) <= {"FAILED:EMAIL_ALREADY_EXISTS", "ConcurrentModificationException"}, results
    with_address = [a for a in every(mgmt.orgs, "list_accounts", "Accounts") if a["Email"] == email]
    assert [a["Id"] for a in with_address] == [made[0].split(":")[1]]
    mgmt.orgs.remove_account_from_organization(AccountId=with_address[0]["Id"])
