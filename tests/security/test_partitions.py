"""Attacks through the credential scope: signing for another partition's region, or for a region that does not exist.

An identity Deny written for ``arn:aws:...`` would not match ``arn:aws-cn:...``: if a key of the ``aws`` partition
were accepted when signed for ``cn-north-1``, the resources it named would be China ARNs and the Deny bypassed. AWS
has no such hole: a key exists in one partition only.

AWS rules:

* https://docs.aws.amazon.com/whitepapers/latest/aws-fault-isolation-boundaries/partitions.html "You cannot use IAM
  credentials from one partition to interact with resources in a different partition"; what AWS answers a key of
  another partition: HTTP 403 InvalidClientTokenId, "The security token included in the request is invalid"
  (https://github.com/rebuy-de/aws-nuke/issues/411, https://github.com/apex/up/pull/490).
* https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_outbound_cross_partition.html "a credential
  issued in one partition isn't valid in another".
* https://docs.aws.amazon.com/IAM/latest/UserGuide/signature-v4-troubleshooting.html (credential scope errors: a
  region that does not exist is SignatureDoesNotMatch "Credential should be scoped to a valid region, not 'REGION'.").
"""
from __future__ import annotations

import pytest

from .conftest import World, allow, denied, deny, policy, refused, trust, unique

INVALID_TOKEN = "The security token included in the request is invalid"
OTHER_PARTITIONS = ["cn-north-1", "cn-northwest-1", "us-gov-west-1", "us-iso-east-1"]


def test_deny_on_admin_users_is_not_bypassed_from_another_partition(world: World) -> None:
    iam = world.admin_iam()
    user = world.user(policy(allow("iam:CreateUser"), deny("iam:CreateUser", f"arn:aws:iam::{world.account}:user/admin-*")))
    name = unique("admin")
    denied(lambda: user.iam.create_user(UserName=name), user.arn, "iam:CreateUser", f"arn:aws:iam::{world.account}:user/{name}",
           "with an explicit deny in an identity-based policy")
    for region in OTHER_PARTITIONS:
        away = user.client("iam", region)
        assert refused(lambda: away.create_user(UserName=name), "InvalidClientTokenId", 403).startswith(INVALID_TOKEN), region
        refused(lambda: iam.get_user(UserName=name), "NoSuchEntity", 404)
        other = unique("plain")  # not a bypass of the Deny only: the key does not exist there at all
        refused(lambda: away.create_user(UserName=other), "InvalidClientTokenId", 403)
        refused(lambda: iam.get_user(UserName=other), "NoSuchEntity", 404)


@pytest.mark.parametrize("region", ["cn-north-1", "us-gov-west-1"])
def test_temporary_credentials_do_not_cross_partitions(world: World, region: str) -> None:
    user = world.user()
    _, role_arn = world.role(trust(user.arn), policy(allow("*")))
    session = user.assume(role_arn)
    assert refused(lambda: session.client("iam", region).list_users(), "InvalidClientTokenId", 403).startswith(INVALID_TOKEN)
    assert refused(lambda: session.client("sts", region).get_caller_identity(), "InvalidClientTokenId", 403).startswith(INVALID_TOKEN)
    # nor are credentials issued there
    assert refused(lambda: user.client("sts", region).assume_role(RoleArn=role_arn, RoleSessionName="s1"),
                   "InvalidClientTokenId", 403).startswith(INVALID_TOKEN)
    root = world.root()
    assert refused(lambda: root.client("iam", region).list_users(), "InvalidClientTokenId", 403).startswith(INVALID_TOKEN)


@pytest.mark.parametrize("region", ["mars-north-9", "us-east-99", "aws-global"])
def test_region_that_does_not_exist_is_refused(world: World, region: str) -> None:
    user = world.user(policy(allow("*")))
    name = unique("x")
    message = refused(lambda: user.client("iam", region).create_user(UserName=name), "SignatureDoesNotMatch", 403)
    assert message.startswith(f"Credential should be scoped to a valid region, not '{region}'."), message
    refused(lambda: world.admin_iam().get_user(UserName=name), "NoSuchEntity", 404)
    refused(lambda: world.root().client("sts", region).get_caller_identity(), "SignatureDoesNotMatch", 403)


@pytest.mark.parametrize("form", ["root-arn", "account-id", "user-arn", "own-account-in-aws-cn", "own-user-in-aws-us-gov"])
def test_trust_policy_cannot_name_a_principal_of_another_partition(world: World, form: str) -> None:
    """A role delegates within its partition only: "You can't create a role to delegate access between an AWS GovCloud
    (US) account and a standard AWS account" ("Invalid principal in policy",
    https://repost.aws/knowledge-center/iam-trust-policy-error). Were it saved, an account ARN of another partition
    would have named this account's own principals (the policy core kept only the account id of an account ARN):
    refused on save, in CreateRole and UpdateAssumeRolePolicy, and nothing changes."""
    china = world.account_in("aws-cn")
    user = world.user(policy(allow("sts:AssumeRole")))
    cn_user = world.user(account=china, name=unique("cn"))
    principal = {
        "root-arn": f"arn:aws-cn:iam::{china.account_id}:root",
        "account-id": china.account_id,
        "user-arn": cn_user.arn,
        "own-account-in-aws-cn": f"arn:aws-cn:iam::{world.account}:root",
        "own-user-in-aws-us-gov": user.arn.replace("arn:aws:", "arn:aws-us-gov:"),
    }[form]
    assert cn_user.arn.startswith("arn:aws-cn:")
    iam = world.admin_iam()
    name = unique("r")
    message = refused(lambda: iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(principal)), "MalformedPolicyDocument", 400)
    assert message == f'Invalid principal in policy: "AWS":"{principal}"'
    refused(lambda: iam.get_role(RoleName=name), "NoSuchEntity", 404)
    role, role_arn = world.role(trust(user.arn))
    before = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    refused(lambda: iam.update_assume_role_policy(RoleName=role, PolicyDocument=trust(user.arn, principal)), "MalformedPolicyDocument", 400)
    assert iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"] == before
    # nor does the other partition's account name principals of this one in its own roles
    cn_iam = world.admin_iam(china)
    refused(lambda: cn_iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(f"arn:aws:iam::{world.account}:root")),
            "MalformedPolicyDocument", 400)
    user.assume(role_arn)  # the control
