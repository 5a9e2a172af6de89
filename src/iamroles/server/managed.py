"""A few AWS managed policies, so that AttachRolePolicy with their ARNs works as on AWS."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from iamroles.store import ManagedPolicy, PolicyVersion, Store

__all__ = ["seed_aws_managed", "ADMINISTRATOR_ACCESS"]

ADMINISTRATOR_ACCESS = "arn:aws:iam::aws:policy/AdministratorAccess"

_POLICIES = {
    "AdministratorAccess": ("ANPAIWMBCKSKIEE64ZLYK", [{"Effect": "Allow", "Action": "*", "Resource": "*"}]),
    "IAMFullAccess": ("ANPAI7XKCFMBPM3QQRRVQ", [{"Effect": "Allow", "Action": ["iam:*", "organizations:DescribeAccount",
        "organizations:DescribeOrganization", "organizations:DescribeOrganizationalUnit", "organizations:DescribePolicy",
        "organizations:ListChildren", "organizations:ListParents", "organizations:ListPoliciesForTarget", "organizations:ListRoots",
        "organizations:ListPolicies", "organizations:ListTargetsForPolicy"], "Resource": "*"}]),
    "IAMReadOnlyAccess": ("ANPAJKSO7NDY4T57MWDSQ", [{"Effect": "Allow", "Action": ["iam:GenerateCredentialReport",
        "iam:GenerateServiceLastAccessedDetails", "iam:Get*", "iam:List*", "iam:SimulateCustomPolicy", "iam:SimulatePrincipalPolicy"],
        "Resource": "*"}]),
    "ReadOnlyAccess": ("ANPAILL3HVNFSB6DCOWYQ", [{"Effect": "Allow", "Action": ["*:Describe*", "*:Get*", "*:List*", "*:BatchGet*"],
        "Resource": "*"}]),
}


def seed_aws_managed(store: Store) -> None:
    now = datetime(2015, 2, 6, 18, 39, 46, tzinfo=timezone.utc)
    with store.write() as tx:
        for name, (pid, statements) in _POLICIES.items():
            arn = f"arn:aws:iam::aws:policy/{name}"
            if tx.policy(arn) is not None:
                continue
            doc = json.dumps({"Version": "2012-10-17", "Statement": statements}, indent=4)
            tx.insert_policy(ManagedPolicy(arn, "aws", name, pid, "/", None, "v1", 2, now, now))
            tx.insert_policy_version(PolicyVersion(arn, "v1", doc, now))
