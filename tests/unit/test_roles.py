"""Roles, their trust policies, inline and attached policies, called directly on the runtime's service.

AWS behaviour: role names are unique in an account whatever their case, and the trust policy must be one
(https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html); MaxSessionDuration is 3600 to 43200
seconds (API_UpdateRole.html); a role with policies, or in an instance profile, cannot be deleted
(https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeleteRole.html); quotas: 10 managed policies attached,
10,240 characters of inline policies, a 2,048-character trust policy, RolesPerAccount
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html).
"""
from __future__ import annotations

from urllib.parse import unquote

from iamroles.runtime import Service

from .conftest import Account
from .helpers import allow, doc, refused, trust


def test_create_get_and_names_unique_whatever_their_case(account: Account) -> None:
    root = account.root
    document = trust({"Service": "ec2.amazonaws.com"})
    out = root("CreateRole", RoleName="App", Path="/teams/a/", AssumeRolePolicyDocument=document, Description="d")["Role"]
    assert out["Arn"] == account.arn("role/teams/a/App") and out["RoleId"].startswith("AROA") and out["MaxSessionDuration"] == 3600
    got = root("GetRole", RoleName="app")["Role"]  # found whatever the case
    assert got["RoleName"] == "App" and got["RoleId"] == out["RoleId"]
    assert unquote(got["AssumeRolePolicyDocument"]) == document  # URL-encoded in the output, as IAM's
    refused("EntityAlreadyExists", lambda: root("CreateRole", RoleName="APP", AssumeRolePolicyDocument=document), 409)
    refused("NoSuchEntity", lambda: root("GetRole", RoleName="nobody"), 404)
    # what the model refuses before the operation runs: a name longer than 64 characters, a bad path
    refused("ValidationError", lambda: root("CreateRole", RoleName="r" * 65, AssumeRolePolicyDocument=document))
    refused("ValidationError", lambda: root("CreateRole", RoleName="r", Path="no-slashes", AssumeRolePolicyDocument=document))


def test_trust_policies_must_be_trust_policies(account: Account) -> None:
    root = account.root
    refused("MalformedPolicyDocument", lambda: root("CreateRole", RoleName="r", AssumeRolePolicyDocument="{not json"))
    # a trust policy names who may assume it: a Principal is required, a Resource is not allowed
    refused("MalformedPolicyDocument", lambda: root("CreateRole", RoleName="r", AssumeRolePolicyDocument=doc(allow("sts:AssumeRole"))))
    too_long = trust({"AWS": [account.arn(f"user/u{i:04d}") for i in range(60)]})
    assert len(too_long) > 2048
    refused("LimitExceeded", lambda: root("CreateRole", RoleName="r", AssumeRolePolicyDocument=too_long))
    refused("NoSuchEntity", lambda: root("GetRole", RoleName="r"))  # nothing was created by the refusals
    root("CreateRole", RoleName="r", AssumeRolePolicyDocument=trust({"Service": "ec2.amazonaws.com"}))
    refused("MalformedPolicyDocument", lambda: root("UpdateAssumeRolePolicy", RoleName="r", PolicyDocument='{"Statement": 1}'))
    root("UpdateAssumeRolePolicy", RoleName="r", PolicyDocument=trust({"AWS": account.arn("root")}))
    assert account.arn("root") in unquote(root("GetRole", RoleName="r")["Role"]["AssumeRolePolicyDocument"])


def test_max_session_duration_bounds(account: Account) -> None:
    root = account.root
    document = trust({"Service": "ec2.amazonaws.com"})
    refused("ValidationError", lambda: root("CreateRole", RoleName="r", AssumeRolePolicyDocument=document, MaxSessionDuration=3599))
    refused("ValidationError", lambda: root("CreateRole", RoleName="r", AssumeRolePolicyDocument=document, MaxSessionDuration=43201))
    root("CreateRole", RoleName="r", AssumeRolePolicyDocument=document, MaxSessionDuration=43200)
    root("UpdateRole", RoleName="r", MaxSessionDuration=3600, Description="now short")
    got = root("GetRole", RoleName="r")["Role"]
    assert (got["MaxSessionDuration"], got["Description"]) == (3600, "now short")
    refused("ValidationError", lambda: root("UpdateRole", RoleName="r", MaxSessionDuration=100_000))


def test_a_role_with_policies_cannot_be_deleted(account: Account) -> None:
    root = account.root
    root("CreateRole", RoleName="r", AssumeRolePolicyDocument=trust({"Service": "ec2.amazonaws.com"}))
    root("PutRolePolicy", RoleName="r", PolicyName="inline", PolicyDocument=doc(allow("s3:GetObject")))
    refused("DeleteConflict", lambda: root("DeleteRole", RoleName="r"), 409)
    root("DeleteRolePolicy", RoleName="r", PolicyName="inline")
    arn = root("CreatePolicy", PolicyName="managed", PolicyDocument=doc(allow("s3:ListBucket")))["Policy"]["Arn"]
    root("AttachRolePolicy", RoleName="r", PolicyArn=arn)
    refused("DeleteConflict", lambda: root("DeleteRole", RoleName="r"))
    root("DetachRolePolicy", RoleName="r", PolicyArn=arn)
    refused("NoSuchEntity", lambda: root("DetachRolePolicy", RoleName="r", PolicyArn=arn))
    root("DeleteRole", RoleName="r")
    refused("NoSuchEntity", lambda: root("DeleteRole", RoleName="r"))


def test_attached_and_inline_quotas(account: Account) -> None:
    root = account.root
    root("CreateRole", RoleName="r", AssumeRolePolicyDocument=trust({"Service": "ec2.amazonaws.com"}))
    arns = [root("CreatePolicy", PolicyName=f"p{i}", PolicyDocument=doc(allow(f"s3:Get{i}")))["Policy"]["Arn"] for i in range(11)]
    for arn in arns[:10]:
        root("AttachRolePolicy", RoleName="r", PolicyArn=arn)
    root("AttachRolePolicy", RoleName="r", PolicyArn=arns[0])  # attaching again changes nothing
    refused("LimitExceeded", lambda: root("AttachRolePolicy", RoleName="r", PolicyArn=arns[10]))
    assert len(root("ListAttachedRolePolicies", RoleName="r")["AttachedPolicies"]) == 10
    refused("NoSuchEntity", lambda: root("AttachRolePolicy", RoleName="r", PolicyArn=account.arn("policy/missing")))
    # inline: 10,240 characters in all, white space not counted
    big = doc(allow([f"s3:Action{i:04d}" for i in range(400)]))
    root("PutRolePolicy", RoleName="r", PolicyName="a", PolicyDocument=big)
    refused("LimitExceeded", lambda: root("PutRolePolicy", RoleName="r", PolicyName="b", PolicyDocument=big))
    root("PutRolePolicy", RoleName="r", PolicyName="a", PolicyDocument=big)  # replacing one is not adding to it
    assert root("ListRolePolicies", RoleName="r")["PolicyNames"] == ["a"]


def test_roles_per_account_quota(service: Service, account: Account) -> None:
    """An operator's quota for the account (``iamroles accounts quota``) is the limit CreateRole enforces."""
    with service.store.write() as tx:
        tx.set_quota(account.id, "RolesPerAccount", 2)
    root = account.root
    document = trust({"Service": "ec2.amazonaws.com"})
    root("CreateRole", RoleName="one", AssumeRolePolicyDocument=document)
    root("CreateRole", RoleName="two", AssumeRolePolicyDocument=document)
    err = refused("LimitExceeded", lambda: root("CreateRole", RoleName="three", AssumeRolePolicyDocument=document), 409)
    assert err.message == "Cannot exceed quota for RolesPerAccount: 2"
    root("DeleteRole", RoleName="one")
    root("CreateRole", RoleName="three", AssumeRolePolicyDocument=document)


def test_accounts_do_not_see_each_other(account: Account, other_account: Account) -> None:
    account.root("CreateRole", RoleName="mine", AssumeRolePolicyDocument=trust({"Service": "ec2.amazonaws.com"}))
    refused("NoSuchEntity", lambda: other_account.root("GetRole", RoleName="mine"))
    assert other_account.root("ListRoles")["Roles"] == []
    other_account.root("CreateRole", RoleName="mine", AssumeRolePolicyDocument=trust({"Service": "ec2.amazonaws.com"}))
    theirs = other_account.root("GetRole", RoleName="mine")["Role"]
    assert theirs["Arn"] == other_account.arn("role/mine")
