"""Managed policies and their versions, and authorisation by them, called directly on the runtime's service.

AWS behaviour: a managed policy has at most five versions, and the default version cannot be deleted
(https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_managed-versioning.html,
API_CreatePolicyVersion.html, API_DeletePolicyVersion.html); a policy attached to anything cannot be deleted
(API_DeletePolicy.html); a managed policy is at most 6,144 characters, white space not counted
(reference_iam-quotas.html); a document must be an identity policy (API_CreatePolicy.html); an explicit deny
wins, and nothing is allowed without an Allow (reference_policies_evaluation-logic.html).
"""
from __future__ import annotations

from urllib.parse import unquote

from iamroles.errors import AccessDenied

from .conftest import Account
from .helpers import allow, deny, doc, refused, trust


def test_versions(account: Account) -> None:
    root = account.root
    policy = root("CreatePolicy", PolicyName="p", Path="/team/", PolicyDocument=doc(allow("s3:GetObject")))["Policy"]
    arn = policy["Arn"]
    assert arn == account.arn("policy/team/p") and policy["DefaultVersionId"] == "v1" and policy["AttachmentCount"] == 0
    for n in range(2, 6):
        out = root("CreatePolicyVersion", PolicyArn=arn, PolicyDocument=doc(allow(f"s3:Get{n}")), SetAsDefault=n == 3)
        assert out["PolicyVersion"]["VersionId"] == f"v{n}"
    err = refused("LimitExceeded", lambda: root("CreatePolicyVersion", PolicyArn=arn, PolicyDocument=doc(allow("s3:Get6"))), 409)
    assert "up to 5 versions" in err.message
    assert root("GetPolicy", PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v3"
    refused("DeleteConflict", lambda: root("DeletePolicyVersion", PolicyArn=arn, VersionId="v3"))
    root("DeletePolicyVersion", PolicyArn=arn, VersionId="v1")
    refused("NoSuchEntity", lambda: root("GetPolicyVersion", PolicyArn=arn, VersionId="v1"))
    assert root("CreatePolicyVersion", PolicyArn=arn, PolicyDocument=doc(allow("s3:Get6")))["PolicyVersion"]["VersionId"] == "v6"
    root("SetDefaultPolicyVersion", PolicyArn=arn, VersionId="v6")
    version = root("GetPolicyVersion", PolicyArn=arn, VersionId="v6")["PolicyVersion"]
    assert version["IsDefaultVersion"] and "s3:Get6" in unquote(version["Document"])
    assert [v["VersionId"] for v in root("ListPolicyVersions", PolicyArn=arn)["Versions"]] == ["v6", "v5", "v4", "v3", "v2"]
    refused("NoSuchEntity", lambda: root("SetDefaultPolicyVersion", PolicyArn=arn, VersionId="v9"))


def test_documents_and_sizes(account: Account) -> None:
    root = account.root
    refused("MalformedPolicyDocument", lambda: root("CreatePolicy", PolicyName="p", PolicyDocument='{"Version": "2012-10-17"}'))
    # a principal belongs in resource and trust policies, not in an identity policy
    refused("MalformedPolicyDocument", lambda: root("CreatePolicy", PolicyName="p", PolicyDocument=trust({"AWS": account.arn("root")})))
    large = doc(allow([f"s3:Action{i:04d}" for i in range(400)]))
    assert len(large) > 6144
    refused("LimitExceeded", lambda: root("CreatePolicy", PolicyName="p", PolicyDocument=large))
    spaced = doc(allow("s3:GetObject")).replace(" ", " " * 50).replace(",", "," + " " * 4000)
    assert len(spaced) > 6144
    root("CreatePolicy", PolicyName="p", PolicyDocument=spaced)  # white space does not count
    refused("EntityAlreadyExists", lambda: root("CreatePolicy", PolicyName="P", PolicyDocument=doc(allow("s3:GetObject"))))


def test_a_policy_in_use_cannot_be_deleted(account: Account) -> None:
    root = account.root
    arn = root("CreatePolicy", PolicyName="p", PolicyDocument=doc(allow("s3:GetObject")))["Policy"]["Arn"]
    root("CreateGroup", GroupName="g")
    root("AttachGroupPolicy", GroupName="g", PolicyArn=arn)
    assert root("GetPolicy", PolicyArn=arn)["Policy"]["AttachmentCount"] == 1
    refused("DeleteConflict", lambda: root("DeletePolicy", PolicyArn=arn))
    root("DetachGroupPolicy", GroupName="g", PolicyArn=arn)
    root("DeletePolicy", PolicyArn=arn)
    refused("NoSuchEntity", lambda: root("GetPolicy", PolicyArn=arn))


def test_authorisation_by_identity_policies(account: Account) -> None:
    root = account.root
    root("CreateUser", UserName="alice")
    alice = root.key("alice")
    err = refused("AccessDenied", lambda: alice("ListRoles"), 403)
    assert err.message == (f"User: {account.arn('user/alice')} is not authorized to perform: iam:ListRoles on resource: "
                           f"{account.arn('role/')} because no identity-based policy allows the iam:ListRoles action")
    root("PutUserPolicy", UserName="alice", PolicyName="read", PolicyDocument=doc(allow(["iam:Get*", "iam:List*"])))
    assert alice("ListRoles")["Roles"] == []
    # an explicit deny in a managed policy wins over the inline Allow
    arn = root("CreatePolicy", PolicyName="no-roles", PolicyDocument=doc(deny("iam:ListRoles")))["Policy"]["Arn"]
    root("AttachUserPolicy", UserName="alice", PolicyArn=arn)
    err = refused("AccessDenied", lambda: alice("ListRoles"))
    assert "with an explicit deny in an identity-based policy" in err.message
    assert alice("ListUsers")["Users"][0]["UserName"] == "alice"
    # reading is not writing, and the user's own policies do not let it change them
    refused("AccessDenied", lambda: alice("DetachUserPolicy", UserName="alice", PolicyArn=arn))
    assert len(root("ListAttachedUserPolicies", UserName="alice")["AttachedPolicies"]) == 1
    assert isinstance(refused("AccessDenied", lambda: alice("CreateUser", UserName="mallory")), AccessDenied)
    refused("NoSuchEntity", lambda: root("GetUser", UserName="mallory"))


def test_a_permissions_boundary_limits_what_a_policy_allows(account: Account) -> None:
    root = account.root
    boundary = root("CreatePolicy", PolicyName="boundary", PolicyDocument=doc(allow("iam:List*")))["Policy"]["Arn"]
    root("CreateUser", UserName="bob", PermissionsBoundary=boundary)
    root("PutUserPolicy", UserName="bob", PolicyName="all", PolicyDocument=doc(allow("iam:*")))
    bob = root.key("bob")
    assert bob("ListUsers")["Users"]
    err = refused("AccessDenied", lambda: bob("GetUser", UserName="bob"))
    assert "because no permissions boundary allows the iam:GetUser action" in err.message
    root("DeleteUserPermissionsBoundary", UserName="bob")
    assert bob("GetUser", UserName="bob")["User"]["UserName"] == "bob"
