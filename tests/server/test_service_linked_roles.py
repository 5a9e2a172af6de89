"""Service-linked roles against a real server on both backends.

AWS references: https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateServiceLinkedRole.html (the role is
linked to the service principal; "Some services do not support the CustomSuffix parameter"),
API_DeleteServiceLinkedRole.html (the deletion task id is
``task/aws-service-role/<service-principal-name>/<role-name>/<task-uuid>``), API_GetServiceLinkedRoleDeletionStatus.html,
https://docs.aws.amazon.com/IAM/latest/UserGuide/using-service-linked-roles.html ("you can edit the description",
nothing else), the model's UnmodifiableEntityException ("Only the service that depends on the service-linked role can
modify or delete the role"). IAM's own words, as users report them: "Service role name AWSServiceRoleForECS has been
taken in this account, please try a different suffix." (Rayraegah/terraform-aws-hasura#17), "Custom suffix is not
allowed for es.amazonaws.com" (terraform-community-modules/tf_aws_elasticsearch#23), "Cannot perform the operation
on the protected role 'AWSServiceRoleForEC2Spot' - this role is only modifiable by AWS" (rebuy-de/aws-nuke#49,
gruntwork-io/cloud-nuke#880), "Path prefix '/aws-service-role/' can only be used for AWS Service linked Roles"
(tilfin/aws-iam-policy-tool#9). The Service Authorization Reference for IAM: the three actions on ``role*``,
CreateServiceLinkedRole with ``iam:AWSServiceName``.
"""
from __future__ import annotations

import json
import re
from typing import Any

import pytest
from botocore.exceptions import ClientError

from iamroles.iam.service_linked import LINKED_SERVICES
from iamroles.store.aws_managed import AWS_POLICY_PREFIX, CATALOGUE

from .conftest import Server, unique
from .test_account_level import error
from .test_partitions import Account, create_account
from .test_roles import TRUST
from .test_sts import make_user

TASK = re.compile(r"task/aws-service-role/([^/]+)/([^/]+)/[0-9a-f-]{36}")
ALLOW_S3 = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})


@pytest.fixture(scope="module")
def other(server: Server) -> Account:
    return create_account(server)


def protected(name: str) -> tuple[str, int, str]:
    return ("UnmodifiableEntity", 400, f"Cannot perform the operation on the protected role '{name}' - this role is only modifiable by AWS")


def attached(iam: Any, name: str) -> list[str]:
    return [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]]


def test_every_linked_service_has_its_managed_policy_in_the_catalogue() -> None:
    for principal, service in LINKED_SERVICES.items():
        arn = f"{AWS_POLICY_PREFIX}aws-service-role/{service.policy}"
        assert CATALOGUE.holds(arn), (principal, arn)
        assert service.role_name.startswith("AWSServiceRoleFor") and len(service.role_name) <= 64


def test_a_service_linked_role_is_the_services(iam: Any, server: Server) -> None:
    out = iam.create_service_linked_role(AWSServiceName="ecs.amazonaws.com", Description="for ECS")["Role"]
    try:
        assert out["RoleName"] == "AWSServiceRoleForECS"
        assert out["Path"] == "/aws-service-role/ecs.amazonaws.com/"
        assert out["Arn"] == f"arn:aws:iam::{server.account}:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS"
        assert out["RoleId"].startswith("AROA") and out["Description"] == "for ECS" and out["MaxSessionDuration"] == 3600
        assert "RoleLastUsed" not in out
        trust = out["AssumeRolePolicyDocument"]  # (boto3 decodes it)
        assert trust["Statement"] == [{"Effect": "Allow", "Principal": {"Service": "ecs.amazonaws.com"}, "Action": "sts:AssumeRole"}]
        got = iam.get_role(RoleName="AWSServiceRoleForECS")["Role"]
        assert got["Arn"] == out["Arn"] and got["RoleId"] == out["RoleId"]
        assert attached(iam, "AWSServiceRoleForECS") == ["arn:aws:iam::aws:policy/aws-service-role/AmazonECSServiceRolePolicy"]
        listed = iam.list_roles(PathPrefix="/aws-service-role/ecs.amazonaws.com/")["Roles"]
        assert [r["RoleName"] for r in listed] == ["AWSServiceRoleForECS"]
        # a second one is the taken name
        assert error(lambda: iam.create_service_linked_role(AWSServiceName="ecs.amazonaws.com")) == (
            "InvalidInput", 400, "Service role name AWSServiceRoleForECS has been taken in this account, please try a different suffix.")
        # the role trusts the service only: a user of the account cannot assume it
        user, key = make_user(iam, server, {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]})
        sts = server.client("sts", key["AccessKeyId"], key["SecretAccessKey"])
        assert error(lambda: sts.assume_role(RoleArn=out["Arn"], RoleSessionName="intruder"))[:2] == ("AccessDenied", 403)
    finally:
        iam.delete_service_linked_role(RoleName="AWSServiceRoleForECS")


def test_custom_suffixes_only_where_the_service_allows_them(iam: Any, server: Server) -> None:
    raw = server.client("iam", validate=False)
    assert error(lambda: iam.create_service_linked_role(AWSServiceName="es.amazonaws.com", CustomSuffix="x")) == (
        "InvalidInput", 400, "Custom suffix is not allowed for es.amazonaws.com")
    assert "AWSServiceRoleForAmazonElasticsearchService" not in {r["RoleName"] for r in iam.list_roles(MaxItems=1000)["Roles"]}
    a = iam.create_service_linked_role(AWSServiceName="autoscaling.amazonaws.com", CustomSuffix="blue")["Role"]
    b = iam.create_service_linked_role(AWSServiceName="autoscaling.amazonaws.com", CustomSuffix="green")["Role"]
    try:
        assert (a["RoleName"], b["RoleName"]) == ("AWSServiceRoleForAutoScaling_blue", "AWSServiceRoleForAutoScaling_green")
        assert a["Path"] == b["Path"] == "/aws-service-role/autoscaling.amazonaws.com/"
        assert error(lambda: iam.create_service_linked_role(AWSServiceName="autoscaling.amazonaws.com", CustomSuffix="BLUE")) == (
            "InvalidInput", 400,
            "Service role name AWSServiceRoleForAutoScaling_BLUE has been taken in this account, please try a different suffix.")
        # a suffix making the name longer than a role name may be
        code, status, _ = error(lambda: raw.create_service_linked_role(AWSServiceName="autoscaling.amazonaws.com",
                                                                       CustomSuffix="s" * 64))
        assert (code, status) == ("InvalidInput", 400)
        # the model's own limits on the suffix
        assert error(lambda: raw.create_service_linked_role(AWSServiceName="autoscaling.amazonaws.com",
                                                            CustomSuffix="no/slash"))[:2] == ("ValidationError", 400)
    finally:
        for r in (a, b):
            iam.delete_service_linked_role(RoleName=r["RoleName"])


@pytest.mark.parametrize("name", ["unknown.amazonaws.com", "ECS.amazonaws.com", "ecs", "ecs.amazonaws.com.evil.example"])
def test_a_service_with_no_documented_service_linked_role_is_refused(iam: Any, name: str) -> None:
    before = {r["RoleName"] for r in iam.list_roles(PathPrefix="/aws-service-role/", MaxItems=1000)["Roles"]}
    code, status, message = error(lambda: iam.create_service_linked_role(AWSServiceName=name))
    assert (code, status) == ("InvalidInput", 400) and name in message
    assert {r["RoleName"] for r in iam.list_roles(PathPrefix="/aws-service-role/", MaxItems=1000)["Roles"]} == before


def test_nobody_changes_a_service_linked_role_but_its_description(iam: Any, server: Server) -> None:
    role = iam.create_service_linked_role(AWSServiceName="rds.amazonaws.com")["Role"]
    name = role["RoleName"]
    policy = iam.create_policy(PolicyName=unique("slr"), PolicyDocument=ALLOW_S3)["Policy"]["Arn"]
    service_policy = "arn:aws:iam::aws:policy/aws-service-role/AmazonRDSServiceRolePolicy"
    try:
        refused = [
            lambda: iam.put_role_policy(RoleName=name, PolicyName="more", PolicyDocument=ALLOW_S3),
            lambda: iam.delete_role_policy(RoleName=name, PolicyName="more"),
            lambda: iam.attach_role_policy(RoleName=name, PolicyArn=policy),
            lambda: iam.attach_role_policy(RoleName=name, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess"),
            lambda: iam.detach_role_policy(RoleName=name, PolicyArn=service_policy),
            lambda: iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(TRUST)),
            lambda: iam.put_role_permissions_boundary(RoleName=name, PermissionsBoundary=policy),
            lambda: iam.delete_role_permissions_boundary(RoleName=name),
            lambda: iam.update_role(RoleName=name, MaxSessionDuration=7200),
            lambda: iam.delete_role(RoleName=name),
        ]
        for call in refused:
            assert error(call) == protected(name)
        # (the name is case-insensitive: so is the protection)
        assert error(lambda: iam.delete_role(RoleName=name.lower())) == protected(name)
        got = iam.get_role(RoleName=name)["Role"]
        assert got["AssumeRolePolicyDocument"] == role["AssumeRolePolicyDocument"] and got["MaxSessionDuration"] == 3600
        assert "PermissionsBoundary" not in got
        assert attached(iam, name) == [service_policy]
        assert iam.list_role_policies(RoleName=name)["PolicyNames"] == []
        # the description may be edited
        iam.update_role_description(RoleName=name, Description="edited")
        iam.update_role(RoleName=name, Description="edited again")
        assert iam.get_role(RoleName=name)["Role"]["Description"] == "edited again"
    finally:
        iam.delete_policy(PolicyArn=policy)
        iam.delete_service_linked_role(RoleName=name)


def test_no_one_makes_a_role_look_service_linked(iam: Any) -> None:
    for path in ("/aws-service-role/", "/aws-service-role/ecs.amazonaws.com/"):
        assert error(lambda path=path: iam.create_role(RoleName=unique("fake"), Path=path,  # type: ignore[misc]
                                                       AssumeRolePolicyDocument=json.dumps(TRUST))) == (
            "InvalidInput", 400, "Path prefix '/aws-service-role/' can only be used for AWS Service linked Roles")
    assert error(lambda: iam.get_role(RoleName="AWSServiceRoleForECS"))[0] == "NoSuchEntity"
    # a user or group there is no role: nothing protects it
    user = iam.create_user(UserName=unique("u"), Path="/aws-service-role/")["User"]["UserName"]
    iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=ALLOW_S3)
    iam.delete_user_policy(UserName=user, PolicyName="p")
    iam.delete_user(UserName=user)
    # and DeleteServiceLinkedRole deletes service-linked roles only
    plain = iam.create_role(RoleName=unique("plain"), Path="/service-role/", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]
    assert error(lambda: iam.delete_service_linked_role(RoleName=plain["RoleName"]))[:2] == ("NoSuchEntity", 404)
    assert iam.get_role(RoleName=plain["RoleName"])["Role"]["Arn"] == plain["Arn"]
    iam.delete_role(RoleName=plain["RoleName"])
    assert error(lambda: iam.delete_service_linked_role(RoleName=unique("none")))[:2] == ("NoSuchEntity", 404)


def test_deletion_is_a_task_that_succeeds(iam: Any, server: Server, other: Account) -> None:
    role = iam.create_service_linked_role(AWSServiceName="elasticloadbalancing.amazonaws.com")["Role"]
    iam.tag_role(RoleName=role["RoleName"], Tags=[{"Key": "k", "Value": "v"}])
    profile = iam.create_instance_profile(InstanceProfileName=unique("slr"))["InstanceProfile"]["InstanceProfileName"]
    iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=role["RoleName"])
    task = iam.delete_service_linked_role(RoleName=role["RoleName"])["DeletionTaskId"]
    matched = TASK.fullmatch(task)
    assert matched is not None and matched.groups() == ("elasticloadbalancing.amazonaws.com", "AWSServiceRoleForElasticLoadBalancing")
    assert iam.get_service_linked_role_deletion_status(DeletionTaskId=task)["Status"] == "SUCCEEDED"
    assert error(lambda: iam.get_role(RoleName=role["RoleName"]))[:2] == ("NoSuchEntity", 404)
    assert iam.get_instance_profile(InstanceProfileName=profile)["InstanceProfile"]["Roles"] == []
    assert error(lambda: iam.delete_service_linked_role(RoleName=role["RoleName"]))[:2] == ("NoSuchEntity", 404)
    # created again, it is a new role with nothing of the old one's
    again = iam.create_service_linked_role(AWSServiceName="elasticloadbalancing.amazonaws.com")["Role"]
    assert again["RoleId"] != role["RoleId"] and "Tags" not in again
    assert iam.list_role_tags(RoleName=again["RoleName"])["Tags"] == []
    second = iam.delete_service_linked_role(RoleName=again["RoleName"])["DeletionTaskId"]
    assert second != task
    iam.delete_instance_profile(InstanceProfileName=profile)
    # task ids: malformed, unknown, another account's
    raw = server.client("iam", validate=False)
    assert error(lambda: raw.get_service_linked_role_deletion_status(DeletionTaskId="not-a-task"))[:2] == ("InvalidInput", 400)
    unknown = task[:-36] + "00000000-0000-4000-8000-000000000000"
    assert error(lambda: iam.get_service_linked_role_deletion_status(DeletionTaskId=unknown))[:2] == ("NoSuchEntity", 404)
    b = server.client("iam", other.key, other.secret)
    assert error(lambda: b.get_service_linked_role_deletion_status(DeletionTaskId=task))[:2] == ("NoSuchEntity", 404)


def test_each_account_has_its_own_service_linked_roles(iam: Any, server: Server, other: Account) -> None:
    b = server.client("iam", other.key, other.secret)
    mine = iam.create_service_linked_role(AWSServiceName="guardduty.amazonaws.com")["Role"]
    theirs = b.create_service_linked_role(AWSServiceName="guardduty.amazonaws.com")["Role"]
    assert mine["RoleName"] == theirs["RoleName"] and mine["Arn"] != theirs["Arn"]
    assert theirs["Arn"].startswith(f"arn:aws:iam::{other.account_id}:role/aws-service-role/")
    b.delete_service_linked_role(RoleName=theirs["RoleName"])
    assert iam.get_role(RoleName=mine["RoleName"])["Role"]["RoleId"] == mine["RoleId"]  # A's is untouched
    iam.delete_service_linked_role(RoleName=mine["RoleName"])


def test_service_linked_role_calls_need_their_permission(iam: Any, server: Server) -> None:
    arn = f"arn:aws:iam::{server.account}:role/aws-service-role/"
    # allowed for one service only, by condition key and by resource
    _, key = make_user(iam, server, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:CreateServiceLinkedRole", "Resource": "*",
         "Condition": {"StringEquals": {"iam:AWSServiceName": "config.amazonaws.com"}}},
        {"Effect": "Allow", "Action": ["iam:DeleteServiceLinkedRole", "iam:GetServiceLinkedRoleDeletionStatus"],
         "Resource": f"{arn}config.amazonaws.com/*"}]})
    user = server.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    assert error(lambda: user.create_service_linked_role(AWSServiceName="ssm.amazonaws.com"))[:2] == ("AccessDenied", 403)
    assert error(lambda: iam.get_role(RoleName="AWSServiceRoleForAmazonSSM"))[0] == "NoSuchEntity"  # nothing created
    role = user.create_service_linked_role(AWSServiceName="config.amazonaws.com")["Role"]
    assert role["RoleName"] == "AWSServiceRoleForConfig"
    other_role = iam.create_service_linked_role(AWSServiceName="ssm.amazonaws.com")["Role"]
    try:
        assert error(lambda: user.delete_service_linked_role(RoleName=other_role["RoleName"]))[:2] == ("AccessDenied", 403)
        assert iam.get_role(RoleName=other_role["RoleName"])["Role"]["RoleId"] == other_role["RoleId"]
        task = user.delete_service_linked_role(RoleName=role["RoleName"])["DeletionTaskId"]
        assert user.get_service_linked_role_deletion_status(DeletionTaskId=task)["Status"] == "SUCCEEDED"
        other_task = iam.delete_service_linked_role(RoleName=other_role["RoleName"])["DeletionTaskId"]
        # the status of a task of a role the user may not act on
        assert error(lambda: user.get_service_linked_role_deletion_status(DeletionTaskId=other_task))[:2] == ("AccessDenied", 403)
    finally:
        for name in (other_role["RoleName"],):
            try:
                iam.delete_service_linked_role(RoleName=name)
            except ClientError:
                pass
    # an explicit deny wins over iam:*
    _, key = make_user(iam, server, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "iam:CreateServiceLinkedRole", "Resource": f"{arn}*"}]})
    denied = server.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    assert "explicit deny" in error(lambda: denied.create_service_linked_role(AWSServiceName="config.amazonaws.com"))[2]
    assert error(lambda: iam.get_role(RoleName="AWSServiceRoleForConfig"))[0] == "NoSuchEntity"


def test_racing_creates_make_one_role(server: Server) -> None:
    """Eight clients create the same service-linked role at once: one role, seven InvalidInput (the account's row
    orders the creates), no 5xx."""
    import threading

    clients = [server.client("iam") for _ in range(8)]
    outcomes: list[str] = []
    barrier = threading.Barrier(len(clients))

    def create(client: Any) -> None:
        barrier.wait()
        try:
            client.create_service_linked_role(AWSServiceName="kafka.amazonaws.com")
            outcomes.append("ok")
        except ClientError as exc:
            outcomes.append(exc.response["Error"]["Code"])

    threads = [threading.Thread(target=create, args=(c,)) for c in clients]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(outcomes) == ["InvalidInput"] * 7 + ["ok"], outcomes
    iam = clients[0]
    assert attached(iam, "AWSServiceRoleForKafka") == ["arn:aws:iam::aws:policy/aws-service-role/KafkaServiceRolePolicy"]
    iam.delete_service_linked_role(RoleName="AWSServiceRoleForKafka")
