"""AWS managed policies over the wire: the whole catalogue (store/aws_managed.py), attached, enforced, listed and
read as IAM does, and out of reach of anyone who would change them.

https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_managed-vs-inline.html#aws-managed-policies
(AWS managed policies: created and administered by AWS, their permissions cannot be changed by users);
https://docs.aws.amazon.com/IAM/latest/APIReference/API_ListPolicies.html (Scope AWS, PathPrefix, paging).
"""
from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from iamroles.store.aws_managed import AWS_POLICY_PREFIX, CATALOGUE

from .conftest import World, unique

S3_READ = AWS_POLICY_PREFIX + "AmazonS3ReadOnlyAccess"
IAM_READ = AWS_POLICY_PREFIX + "IAMReadOnlyAccess"
VIEW_ONLY = AWS_POLICY_PREFIX + "job-function/ViewOnlyAccess"


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def _all_aws(iam: Any, **kw: Any) -> list[dict[str, Any]]:
    found, marker = [], None
    while True:
        page = iam.list_policies(Scope="AWS", MaxItems=1000, **kw, **({"Marker": marker} if marker else {}))
        found += page["Policies"]
        if not page["IsTruncated"]:
            return found
        marker = page["Marker"]


def test_a_newcomer_attaches_an_aws_managed_policy_and_it_is_enforced(world: World) -> None:
    """The issue's first try: attach-role-policy with AmazonS3ReadOnlyAccess. And a user given IAMReadOnlyAccess,
    AWS's own document, reads IAM and is refused a write."""
    iam = world.admin_iam()
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": world.account}, "Action": "sts:AssumeRole"}]}
    name, _ = world.role(json.dumps(trust))
    iam.attach_role_policy(RoleName=name, PolicyArn=S3_READ)
    assert [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]] == [S3_READ]
    reader = world.user()
    iam.attach_user_policy(UserName=reader.name, PolicyArn=IAM_READ)
    assert reader.iam.get_role(RoleName=name)["Role"]["RoleName"] == name
    with pytest.raises(ClientError) as err:
        reader.iam.create_role(RoleName=unique("no"), AssumeRolePolicyDocument="{}")
    assert _code(err) == "AccessDenied"


def test_get_policy_and_its_versions_as_iam_answers(world: World) -> None:
    iam = world.admin_iam()
    lam = iam.get_policy(PolicyArn=AWS_POLICY_PREFIX + "service-role/AWSLambdaBasicExecutionRole")["Policy"]
    assert (lam["PolicyName"], lam["Path"], lam["IsAttachable"]) == ("AWSLambdaBasicExecutionRole", "/service-role/", True)
    assert lam["PolicyId"].startswith("ANPA") and lam["DefaultVersionId"] == "v1"
    versions = iam.list_policy_versions(PolicyArn=AWS_POLICY_PREFIX + "ReadOnlyAccess", MaxItems=1000)["Versions"]
    catalogued = CATALOGUE.policies[AWS_POLICY_PREFIX + "ReadOnlyAccess"]
    assert [v["VersionId"] for v in versions] == list(catalogued.version_ids)
    assert [v["IsDefaultVersion"] for v in versions].count(True) == 1 and versions[0]["IsDefaultVersion"]
    first = iam.get_policy_version(PolicyArn=AWS_POLICY_PREFIX + "ReadOnlyAccess", VersionId="v1")["PolicyVersion"]
    assert not first["IsDefaultVersion"] and "Statement" in first["Document"]
    assert first["Document"] == json.loads(CATALOGUE.version(AWS_POLICY_PREFIX + "ReadOnlyAccess", "v1").document)
    with pytest.raises(ClientError) as err:
        iam.get_policy_version(PolicyArn=AWS_POLICY_PREFIX + "ReadOnlyAccess", VersionId="v9999")
    assert _code(err) == "NoSuchEntity"
    with pytest.raises(ClientError) as err:
        iam.get_policy(PolicyArn=AWS_POLICY_PREFIX + "NoSuchPolicyAnywhere")
    assert _code(err) == "NoSuchEntity"


def test_list_policies_pages_through_the_whole_catalogue(world: World) -> None:
    iam = world.admin_iam()
    listed = _all_aws(iam)
    arns = [p["Arn"] for p in listed]
    assert len(arns) == len(set(arns)) == len(CATALOGUE.policies)
    job = _all_aws(iam, PathPrefix="/job-function/")
    assert VIEW_ONLY in {p["Arn"] for p in job} and all(p["Path"] == "/job-function/" for p in job)
    assert len(job) == sum(1 for p in CATALOGUE.policies.values() if p.record.path == "/job-function/")


def test_attachment_counts_are_the_callers_account_only(world: World) -> None:
    """AWS managed policies are shared by every account; one account's attachments are not another's business."""
    mine, theirs = world.admin_iam(), world.admin_iam(world.other_account())
    before_mine = mine.get_policy(PolicyArn=VIEW_ONLY)["Policy"]["AttachmentCount"]
    before_theirs = theirs.get_policy(PolicyArn=VIEW_ONLY)["Policy"]["AttachmentCount"]
    user = world.user()
    mine.attach_user_policy(UserName=user.name, PolicyArn=VIEW_ONLY)
    assert mine.get_policy(PolicyArn=VIEW_ONLY)["Policy"]["AttachmentCount"] == before_mine + 1
    assert theirs.get_policy(PolicyArn=VIEW_ONLY)["Policy"]["AttachmentCount"] == before_theirs


@pytest.mark.parametrize("change", ["create_policy_version", "delete_policy", "set_default_policy_version", "delete_policy_version",
                                    "tag_policy"])
def test_no_one_changes_an_aws_managed_policy(world: World, change: str) -> None:
    """Not even the account's root: the document every account shares stays AWS's."""
    iam = world.admin_iam()
    arn = AWS_POLICY_PREFIX + "AdministratorAccess"
    calls = {
        "create_policy_version": lambda: iam.create_policy_version(PolicyArn=arn, SetAsDefault=True, PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]})),
        "delete_policy": lambda: iam.delete_policy(PolicyArn=arn),
        "set_default_policy_version": lambda: iam.set_default_policy_version(PolicyArn=arn, VersionId="v1"),
        "delete_policy_version": lambda: iam.delete_policy_version(PolicyArn=arn, VersionId="v1"),
        "tag_policy": lambda: iam.tag_policy(PolicyArn=arn, Tags=[{"Key": "owner", "Value": "me"}]),
    }
    with pytest.raises(ClientError) as err:
        calls[change]()
    # AWS does not document the error; iamroles answers one code and message for every change
    assert (_code(err), err.value.response["Error"]["Message"]) == (
        "InvalidInput", f"Policy {arn} is an AWS managed policy and cannot be modified.")
    policy = iam.get_policy(PolicyArn=arn)["Policy"]
    assert policy["DefaultVersionId"] == "v1" and not policy.get("Tags")
    document = iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]["Document"]
    assert document["Statement"] == [{"Effect": "Allow", "Action": "*", "Resource": "*"}]


def test_a_local_policy_of_the_same_name_is_not_aws_s(world: World) -> None:
    """A customer policy named AdministratorAccess is the customer's, at its own ARN: attaching it grants what its
    own document says, not what AWS's does."""
    iam = world.admin_iam()
    name = "AdministratorAccess"
    try:
        local = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*"}]}))["Policy"]["Arn"]
    except ClientError as exc:  # made by an earlier run on this server
        assert _code(exc) == "EntityAlreadyExists"
        local = f"arn:aws:iam::{world.account}:policy/{name}"
    assert local != AWS_POLICY_PREFIX + name
    user = world.user()
    iam.attach_user_policy(UserName=user.name, PolicyArn=local)
    assert user.iam.get_user()["User"]["UserName"] == user.name
    with pytest.raises(ClientError) as err:
        user.iam.list_roles()
    assert _code(err) == "AccessDenied"
