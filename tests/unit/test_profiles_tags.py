"""Instance profiles and tags, called directly on the runtime's service.

AWS behaviour: an instance profile holds one role, and a role in a profile cannot be deleted
(https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_switch-role-ec2_instance-profiles.html,
API_AddRoleToInstanceProfile.html, API_DeleteRole.html); at most 50 tags per resource, keys unique whatever their
case, aws: keys reserved (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_tags.html, reference_iam-quotas.html);
tagging needs iam:TagRole and may be conditioned on aws:RequestTag and aws:TagKeys
(access_tags.html#access_tags_control-tag-keys).
"""
from __future__ import annotations

from .conftest import Account
from .helpers import allow, doc, refused, trust

EC2 = trust({"Service": "ec2.amazonaws.com"})


def test_one_role_per_instance_profile(account: Account) -> None:
    root = account.root
    root("CreateRole", RoleName="a", AssumeRolePolicyDocument=EC2)
    root("CreateRole", RoleName="b", AssumeRolePolicyDocument=EC2)
    profile = root("CreateInstanceProfile", InstanceProfileName="web", Path="/p/")["InstanceProfile"]
    assert profile["Arn"] == account.arn("instance-profile/p/web") and profile["Roles"] == []
    refused("EntityAlreadyExists", lambda: root("CreateInstanceProfile", InstanceProfileName="WEB"))
    root("AddRoleToInstanceProfile", InstanceProfileName="web", RoleName="a")
    refused("LimitExceeded", lambda: root("AddRoleToInstanceProfile", InstanceProfileName="web", RoleName="b"), 409)
    assert [r["RoleName"] for r in root("GetInstanceProfile", InstanceProfileName="web")["InstanceProfile"]["Roles"]] == ["a"]
    assert [p["InstanceProfileName"] for p in root("ListInstanceProfilesForRole", RoleName="a")["InstanceProfiles"]] == ["web"]
    refused("DeleteConflict", lambda: root("DeleteRole", RoleName="a"))
    refused("DeleteConflict", lambda: root("DeleteInstanceProfile", InstanceProfileName="web"))
    root("RemoveRoleFromInstanceProfile", InstanceProfileName="web", RoleName="a")
    root("DeleteRole", RoleName="a")
    root("DeleteInstanceProfile", InstanceProfileName="web")
    refused("NoSuchEntity", lambda: root("GetInstanceProfile", InstanceProfileName="web"))
    refused("NoSuchEntity", lambda: root("AddRoleToInstanceProfile", InstanceProfileName="web", RoleName="b"))


def test_tags(account: Account) -> None:
    root = account.root
    root("CreateRole", RoleName="r", AssumeRolePolicyDocument=EC2, Tags=[{"Key": "Team", "Value": "blue"}])
    root("TagRole", RoleName="r", Tags=[{"Key": "team", "Value": "red"}])  # the same key, whatever its case: replaced
    assert root("ListRoleTags", RoleName="r")["Tags"] == [{"Key": "team", "Value": "red"}]
    root("TagRole", RoleName="r", Tags=[{"Key": f"k{i:02d}", "Value": str(i)} for i in range(49)])
    assert len(root("ListRoleTags", RoleName="r", MaxItems=100)["Tags"]) == 50
    refused("LimitExceeded", lambda: root("TagRole", RoleName="r", Tags=[{"Key": "one-more", "Value": "x"}]), 409)
    root("TagRole", RoleName="r", Tags=[{"Key": "K00", "Value": "replaced"}])  # replacing is not adding
    root("UntagRole", RoleName="r", TagKeys=["k01", "K02", "absent"])
    tags = {t["Key"]: t["Value"] for t in root("ListRoleTags", RoleName="r", MaxItems=100)["Tags"]}
    assert len(tags) == 48 and tags["K00"] == "replaced" and "k01" not in tags and "k02" not in tags
    refused("InvalidInput", lambda: root("TagRole", RoleName="r", Tags=[{"Key": "aws:reserved", "Value": "x"}]))
    refused("InvalidInput", lambda: root("TagRole", RoleName="r", Tags=[{"Key": "dup", "Value": "1"}, {"Key": "DUP", "Value": "2"}]))
    refused("NoSuchEntity", lambda: root("TagRole", RoleName="nobody", Tags=[{"Key": "a", "Value": "b"}]))
    root("CreateUser", UserName="u", Tags=[{"Key": "a", "Value": "b"}])
    assert root("ListUserTags", UserName="u")["Tags"] == [{"Key": "a", "Value": "b"}]


def test_tagging_is_authorised_by_tag_keys(account: Account) -> None:
    root = account.root
    root("CreateRole", RoleName="r", AssumeRolePolicyDocument=EC2)
    root("CreateUser", UserName="tagger")
    root("PutUserPolicy", UserName="tagger", PolicyName="p", PolicyDocument=doc(
        allow("iam:TagRole", account.arn("role/r"), Condition={"ForAllValues:StringEquals": {"aws:TagKeys": ["cost-center"]}})))
    tagger = root.key("tagger")
    tagger("TagRole", RoleName="r", Tags=[{"Key": "cost-center", "Value": "42"}])
    refused("AccessDenied", lambda: tagger("TagRole", RoleName="r", Tags=[{"Key": "owner", "Value": "me"}]))
    refused("AccessDenied", lambda: tagger("TagRole", RoleName="r", Tags=[{"Key": "cost-center", "Value": "1"},
                                                                         {"Key": "owner", "Value": "me"}]))
    refused("AccessDenied", lambda: tagger("UntagRole", RoleName="r", TagKeys=["cost-center"]))
    assert root("ListRoleTags", RoleName="r")["Tags"] == [{"Key": "cost-center", "Value": "42"}]
