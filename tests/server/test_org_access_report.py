"""The Organizations access report (service last accessed per organization entity) against a real server on both
backends: GenerateOrganizationsAccessReport and GetOrganizationsAccessReport over the audit trail.

AWS's pages: https://docs.aws.amazon.com/IAM/latest/APIReference/API_GenerateOrganizationsAccessReport.html (an entity
path: the root covers every account but the management account, an OU the accounts below it, the management account
every service and its own attempts, another account its own; with OrganizationsPolicyId the services that SCP allows
and the accounts it applies to; only SCP logic; from the management account, with SCPs enabled at the root),
API_GetOrganizationsAccessReport.html (NumberOfServicesAccessible, NumberOfServicesNotAccessed, AccessDetails by
namespace or by time, TotalAuthenticatedEntities), and
https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_access-advisor-view-data-orgs.html (the IAM and
Organizations permissions it takes: iam:GenerateOrganizationsAccessReport, organizations:DescribePolicy, ListChildren,
ListParents, ListPoliciesForTarget, ListRoots, ListTargetsForPolicy).
"""
from __future__ import annotations

import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import Server, unique
from .test_organizations import SCP, Org
from .test_partitions import Account
from .test_root_access import code, user_with

ORG_READS = ["organizations:DescribePolicy", "organizations:ListChildren", "organizations:ListParents",
             "organizations:ListPoliciesForTarget", "organizations:ListRoots", "organizations:ListTargetsForPolicy"]


class Tree(Org):
    """root -> {management, ou -> member}, SCPs enabled; the member's SCP allows iam and sts only."""

    def __init__(self, server: Server) -> None:
        super().__init__(server)
        self.ou = self.orgs.create_organizational_unit(ParentId=self.root, Name=unique("ou"))["OrganizationalUnit"]["Id"]
        self.member = self.join()
        self.orgs.move_account(AccountId=self.member.account_id, SourceParentId=self.root, DestinationParentId=self.ou)
        self.orgs.enable_policy_type(RootId=self.root, PolicyType=SCP)
        self.scp = self.orgs.create_policy(Name=unique("iam-sts"), Description="d", Type=SCP, Content=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["iam:*", "sts:*"], "Resource": "*"}]}))
        self.scp_id = self.scp["Policy"]["PolicySummary"]["Id"]
        self.orgs.attach_policy(PolicyId=self.scp_id, TargetId=self.member.account_id)
        self.orgs.detach_policy(PolicyId="p-FullAWSAccess", TargetId=self.member.account_id)
        self.iam = server.client("iam", key=self.management.key, secret=self.management.secret)
        oid = self.org["Id"]
        self.paths = {"root": f"{oid}/{self.root}/", "ou": f"{oid}/{self.root}/{self.ou}/",
                      "member": f"{oid}/{self.root}/{self.ou}/{self.member.account_id}",
                      "management": f"{oid}/{self.root}/{self.management.account_id}"}


@pytest.fixture
def tree(server: Server) -> Tree:
    return Tree(server)


def report(iam: Any, path: str, **extra: Any) -> dict[str, Any]:
    job = iam.generate_organizations_access_report(EntityPath=path, **extra)["JobId"]
    out: dict[str, Any] = iam.get_organizations_access_report(JobId=job, MaxItems=1000)
    return out


def by_service(out: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["ServiceNamespace"]: d for d in out["AccessDetails"]}


def used(server: Server, account: Account, tree: Tree) -> None:
    """Activity in ``account``: an IAM call by its root, then wait until the Organizations report shows it (the
    trail writes read-only events in batches)."""
    server.client("iam", key=account.key, secret=account.secret).list_users()
    deadline = time.monotonic() + 15
    while "EntityPath" not in by_service(report(tree.iam, tree.paths["member"])).get("iam", {}):
        assert time.monotonic() < deadline, "the member's activity never reached the report"
        time.sleep(0.5)


def test_the_report_follows_the_tree_and_its_scps(server: Server, tree: Tree) -> None:
    used(server, tree.member, tree)
    member = report(tree.iam, tree.paths["member"])
    assert member["JobStatus"] == "COMPLETED" and member["IsTruncated"] is False
    services = by_service(member)
    assert sorted(services) == ["iam", "sts"]  # what every level of its path allows: FullAWSAccess, then iam/sts
    assert member["NumberOfServicesAccessible"] == 2 and member["NumberOfServicesNotAccessed"] == 1
    iam = services["iam"]
    assert iam["EntityPath"] == tree.paths["member"] and iam["TotalAuthenticatedEntities"] == 1
    assert iam["Region"] == "us-east-1" and iam["ServiceName"] == "AWS Identity and Access Management (IAM)"
    assert "EntityPath" not in services["sts"] and services["sts"]["TotalAuthenticatedEntities"] == 0
    # the OU and the root cover the member (the root: every service FullAWSAccess allows); not the management account
    tree.iam.list_users()  # the management account's own activity
    for path in (tree.paths["ou"], tree.paths["root"]):
        got = by_service(report(tree.iam, path))
        assert got["iam"]["EntityPath"] == tree.paths["member"] and got["iam"]["TotalAuthenticatedEntities"] == 1
        assert "s3" in got and "EntityPath" not in got["s3"]
    # the management account: every service, its own attempts only
    deadline = time.monotonic() + 15
    while "EntityPath" not in (mine := by_service(report(tree.iam, tree.paths["management"])))["iam"]:
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert mine["iam"]["EntityPath"] == tree.paths["management"] and len(mine) > 100
    # one SCP's report: the services it allows, for the accounts it applies to
    scp = by_service(report(tree.iam, tree.paths["root"], OrganizationsPolicyId=tree.scp_id))
    assert sorted(scp) == ["iam", "sts"] and scp["iam"]["EntityPath"] == tree.paths["member"]
    # sorted by time, newest first, services never used after
    newest = report(tree.iam, tree.paths["root"], OrganizationsPolicyId=tree.scp_id)
    job = tree.iam.generate_organizations_access_report(EntityPath=tree.paths["root"], OrganizationsPolicyId=tree.scp_id)["JobId"]
    ordered = tree.iam.get_organizations_access_report(JobId=job, SortKey="LAST_AUTHENTICATED_TIME_DESCENDING")
    assert [d["ServiceNamespace"] for d in ordered["AccessDetails"]] == ["iam", "sts"]
    backwards = tree.iam.get_organizations_access_report(JobId=job, SortKey="SERVICE_NAMESPACE_DESCENDING")
    assert [d["ServiceNamespace"] for d in backwards["AccessDetails"]] == ["sts", "iam"]
    first = tree.iam.get_organizations_access_report(JobId=job, MaxItems=1)
    assert first["IsTruncated"] is True and [d["ServiceNamespace"] for d in first["AccessDetails"]] == ["iam"]
    rest = tree.iam.get_organizations_access_report(JobId=job, MaxItems=1, Marker=first["Marker"])
    assert [d["ServiceNamespace"] for d in rest["AccessDetails"]] == ["sts"] and rest["IsTruncated"] is False
    assert newest["NumberOfServicesAccessible"] == 2


def test_who_may_ask_and_about_what(server: Server, tree: Tree) -> None:
    """Only the management account, with SCPs enabled, about an entity of its own organization; the job is its
    asker's; the caller needs the IAM action and the Organizations reads."""
    member_iam = server.client("iam", key=tree.member.key, secret=tree.member.secret)
    assert code(lambda: member_iam.generate_organizations_access_report(EntityPath=tree.paths["member"])) == "AccessDenied"
    bad_paths = [f"{tree.org['Id']}/r-zzzz/", f"o-aaaaaaaaaa/{tree.root}/",
                 f"{tree.org['Id']}/{tree.root}/{tree.member.account_id}",  # the member is under the OU, not the root
                 f"{tree.org['Id']}/{tree.root}/ou-zzzz-zzzzzzzz/",
                 f"{tree.org['Id']}/{tree.root}/{tree.ou}/{tree.member.account_id}/{tree.ou}/",
                 f"{tree.org['Id']}/{tree.root}/999999999999"]
    for path in bad_paths:
        with pytest.raises(ClientError) as exc:
            tree.iam.generate_organizations_access_report(EntityPath=path)
        assert exc.value.response["Error"]["Code"] == "InvalidInput", path
    with pytest.raises(ClientError) as exc:
        tree.iam.generate_organizations_access_report(EntityPath=tree.paths["root"], OrganizationsPolicyId="p-nosuchpolicy")
    assert exc.value.response["Error"]["Code"] == "InvalidInput"
    # a job is its asker's, and a service-last-accessed job is another kind
    job = tree.iam.generate_organizations_access_report(EntityPath=tree.paths["ou"])["JobId"]
    assert code(lambda: tree.iam.get_service_last_accessed_details(JobId=job)) == "NoSuchEntity"
    _, key, secret = user_with(server, tree.management, [{"Effect": "Allow", "Action": [
        "iam:GenerateOrganizationsAccessReport", "iam:GetOrganizationsAccessReport"], "Resource": "*"}])
    operator = server.client("iam", key=key, secret=secret)
    assert code(lambda: operator.get_organizations_access_report(JobId=job)) == "NoSuchEntity"
    # without the Organizations reads, refused; with them, allowed, and the iam:OrganizationsPolicyId condition holds
    assert code(lambda: operator.generate_organizations_access_report(EntityPath=tree.paths["ou"])) == "AccessDenied"
    _, key, secret = user_with(server, tree.management, [{"Effect": "Allow", "Action": [
        "iam:GetOrganizationsAccessReport", *ORG_READS], "Resource": "*"}, {
        "Effect": "Allow", "Action": "iam:GenerateOrganizationsAccessReport",
        "Resource": f"arn:aws:iam::{tree.management.account_id}:access-report/{tree.paths['ou']}*",
        "Condition": {"StringEquals": {"iam:OrganizationsPolicyId": tree.scp_id}}}])
    reader = server.client("iam", key=key, secret=secret)
    assert code(lambda: reader.generate_organizations_access_report(EntityPath=tree.paths["ou"])) == "AccessDenied"
    assert code(lambda: reader.generate_organizations_access_report(EntityPath=tree.paths["root"],
                                                                  OrganizationsPolicyId=tree.scp_id)) == "AccessDenied"
    mine = reader.generate_organizations_access_report(EntityPath=tree.paths["ou"], OrganizationsPolicyId=tree.scp_id)["JobId"]
    assert reader.get_organizations_access_report(JobId=mine)["JobStatus"] == "COMPLETED"
    assert code(lambda: tree.iam.get_organizations_access_report(JobId=mine)) == "NoSuchEntity"


def test_scps_must_be_enabled(server: Server, org: Org) -> None:
    iam = server.client("iam", key=org.management.key, secret=org.management.secret)
    with pytest.raises(ClientError) as exc:
        iam.generate_organizations_access_report(EntityPath=f"{org.org['Id']}/{org.root}/")
    assert exc.value.response["Error"]["Code"] == "InvalidInput"


@pytest.fixture
def org(server: Server) -> Org:
    return Org(server)
