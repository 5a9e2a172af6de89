"""The account as a whole, against a real server on both backends: the account alias, GetAccountSummary and
SetSecurityTokenServicePreferences.

AWS references: https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateAccountAlias.html (the pattern
``^[a-z0-9]([a-z0-9]|-(?!-)){1,61}[a-z0-9]$``, 3 to 63 characters), API_DeleteAccountAlias.html,
API_ListAccountAliases.html; https://docs.aws.amazon.com/IAM/latest/UserGuide/console-account-alias.html ("Your AWS
account can have only one alias. If you create a new alias ..., the new alias overwrites the previous alias"; "must be
unique across all Amazon Web Services products within a given network partition"); EntityAlreadyExists is worded
"The account alias prod already exists." (as IAM answers it: awslabs/aws-deployment-framework#465,
trussworks/terraform-aws-bootstrap#118). https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetAccountSummary.html
(the SummaryMap's valid keys; the example's PolicyVersionsInUseQuota 10000), the quotas of
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html, API_SetSecurityTokenServicePreferences.html
(v1Token | v2Token, read back as GetAccountSummary's GlobalEndpointTokenVersion). The Service Authorization Reference
for IAM lists no resource type for these actions: they are authorised against ``*``.
"""
from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
import time
import uuid
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError

from iamroles.tokens.totp import code_at

from .conftest import Server, unique
from .test_audit import read_trail, request_id
from .test_partitions import Account, create_account
from .test_roles import TRUST
from .test_sts import make_user


def error(call: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as exc:
        call()
    err = exc.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Message"]


def alias(prefix: str = "acme") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def allow(*actions: str, resource: str = "*") -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": resource}]}


@pytest.fixture(scope="module")
def other(server: Server) -> Account:
    return create_account(server)


@pytest.fixture(scope="module")
def china(server: Server) -> Account:
    return create_account(server, "aws-cn")


def aliases(client: Any) -> list[str]:
    return list(client.list_account_aliases()["AccountAliases"])


def test_one_alias_per_account_a_new_one_replaces_it(iam: Any) -> None:
    first, second = alias(), alias()
    out = iam.create_account_alias(AccountAlias=first)
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert aliases(iam) == [first]
    listed = iam.list_account_aliases()
    assert listed["IsTruncated"] is False and "Marker" not in listed
    iam.create_account_alias(AccountAlias=second)  # "the new alias overwrites the previous alias"
    assert aliases(iam) == [second]
    # the alias the account holds, again: it is taken (by this account)
    assert error(lambda: iam.create_account_alias(AccountAlias=second)) == (
        "EntityAlreadyExists", 409, f"The account alias {second} already exists.")
    # the one it replaced is free: another create takes it back
    iam.create_account_alias(AccountAlias=first)
    assert aliases(iam) == [first]
    # delete names the alias; another one is NoSuchEntity and changes nothing
    assert error(lambda: iam.delete_account_alias(AccountAlias=second))[:2] == ("NoSuchEntity", 404)
    assert aliases(iam) == [first]
    iam.delete_account_alias(AccountAlias=first)
    assert aliases(iam) == []
    assert error(lambda: iam.delete_account_alias(AccountAlias=first))[:2] == ("NoSuchEntity", 404)


@pytest.mark.parametrize("bad", ["Acme", "acme_corp", "-acme", "acme-", "ac--me", "ab", "a" * 64, "acme corp", "acmé"])
def test_an_alias_breaking_the_pattern_is_refused_and_changes_nothing(iam: Any, server: Server, bad: str) -> None:
    kept = alias()
    iam.create_account_alias(AccountAlias=kept)
    raw = server.client("iam", validate=False)  # (botocore would refuse some of them before sending)
    for call in (raw.create_account_alias, raw.delete_account_alias):
        code, status, message = error(lambda call=call: call(AccountAlias=bad))  # type: ignore[misc]
        assert (code, status) == ("ValidationError", 400), message
        assert "accountAlias" in message or "AccountAlias" in message
    assert aliases(iam) == [kept]
    iam.delete_account_alias(AccountAlias=kept)


def test_the_longest_and_shortest_aliases_are_accepted(iam: Any) -> None:
    for name in ("a1b", "a" + "-b" * 30 + "c" + uuid.uuid4().hex[:1]):
        assert 3 <= len(name) <= 63
        iam.create_account_alias(AccountAlias=name)
        assert aliases(iam) == [name]
        iam.delete_account_alias(AccountAlias=name)


def test_an_alias_is_unique_across_the_accounts_of_a_partition(iam: Any, server: Server, other: Account) -> None:
    b = server.client("iam", other.key, other.secret)
    taken = alias()
    iam.create_account_alias(AccountAlias=taken)
    # account B cannot take it, cannot see it, cannot delete it
    assert error(lambda: b.create_account_alias(AccountAlias=taken)) == (
        "EntityAlreadyExists", 409, f"The account alias {taken} already exists.")
    assert aliases(b) == []
    assert error(lambda: b.delete_account_alias(AccountAlias=taken))[:2] == ("NoSuchEntity", 404)
    assert aliases(iam) == [taken]
    # B's own alias is B's only
    own = alias("other")
    b.create_account_alias(AccountAlias=own)
    assert aliases(b) == [own] and aliases(iam) == [taken]
    assert error(lambda: iam.delete_account_alias(AccountAlias=own))[:2] == ("NoSuchEntity", 404)
    # once A lets it go, B may take it
    iam.delete_account_alias(AccountAlias=taken)
    b.create_account_alias(AccountAlias=taken)
    assert aliases(b) == [taken]
    assert error(lambda: iam.create_account_alias(AccountAlias=taken))[0] == "EntityAlreadyExists"
    b.delete_account_alias(AccountAlias=taken)


def test_another_partition_has_aliases_of_its_own(iam: Any, server: Server, china: Account) -> None:
    """"unique ... within a given network partition": an account of aws-cn may hold the alias an aws account holds."""
    cn = server.client("iam", china.key, china.secret, region="cn-north-1")
    name = alias()
    iam.create_account_alias(AccountAlias=name)
    cn.create_account_alias(AccountAlias=name)
    assert aliases(cn) == [name] and aliases(iam) == [name]
    cn.delete_account_alias(AccountAlias=name)
    assert aliases(iam) == [name]
    iam.delete_account_alias(AccountAlias=name)


def test_accounts_racing_for_one_alias_one_gets_it(iam: Any, server: Server, other: Account) -> None:
    """Two accounts create the same alias at once, many times: exactly one succeeds each time, the other is
    EntityAlreadyExists (the check, or the unique key when both passed it), never a 5xx."""
    b = server.client("iam", other.key, other.secret)
    for _ in range(8):
        name = alias("race")
        outcomes: list[str] = []

        def create(client: Any) -> None:
            try:
                client.create_account_alias(AccountAlias=name)
                outcomes.append("ok")
            except ClientError as exc:
                outcomes.append(exc.response["Error"]["Code"])

        threads = [threading.Thread(target=create, args=(c,)) for c in (iam, b)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert sorted(outcomes) == ["EntityAlreadyExists", "ok"], outcomes
        holders = [c for c in (iam, b) if aliases(c) == [name]]
        assert len(holders) == 1
        holders[0].delete_account_alias(AccountAlias=name)


def test_alias_calls_need_their_permission(iam: Any, server: Server) -> None:
    name = alias()
    iam.create_account_alias(AccountAlias=name)
    # a user with every other IAM permission, and an explicit deny of the alias actions
    _, key = make_user(iam, server, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:*", "Resource": "*"},
        {"Effect": "Deny", "Action": ["iam:CreateAccountAlias", "iam:DeleteAccountAlias", "iam:ListAccountAliases"],
         "Resource": "*"}]})
    denied = server.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    for call in (lambda: denied.create_account_alias(AccountAlias=alias()),
                 lambda: denied.delete_account_alias(AccountAlias=name),
                 lambda: denied.list_account_aliases()):
        code, status, message = error(call)
        assert (code, status) == ("AccessDenied", 403)
        assert "explicit deny" in message
    assert aliases(iam) == [name]  # nothing changed
    # a user with no policy at all
    _, bare = make_user(iam, server)
    nobody = server.client("iam", bare["AccessKeyId"], bare["SecretAccessKey"])
    assert error(lambda: nobody.create_account_alias(AccountAlias=alias()))[:2] == ("AccessDenied", 403)
    assert error(lambda: nobody.delete_account_alias(AccountAlias=name))[:2] == ("AccessDenied", 403)
    assert aliases(iam) == [name]
    # allowed on the actions alone (resource "*", as the reference says)
    _, key = make_user(iam, server, allow("iam:CreateAccountAlias", "iam:DeleteAccountAlias", "iam:ListAccountAliases"))
    admin = server.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    replacement = alias()
    admin.create_account_alias(AccountAlias=replacement)
    assert aliases(admin) == [replacement]
    # a resource other than "*" names nothing these actions are authorised against
    _, key = make_user(iam, server, allow("iam:*AccountAlias*", resource=f"arn:aws:iam::{server.account}:*"))
    scoped = server.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    assert error(lambda: scoped.delete_account_alias(AccountAlias=replacement))[:2] == ("AccessDenied", 403)
    admin.delete_account_alias(AccountAlias=replacement)


def test_alias_changes_are_audited(iam: Any, server: Server) -> None:
    name = alias()
    created = request_id(iam.create_account_alias(AccountAlias=name))
    deleted = request_id(iam.delete_account_alias(AccountAlias=name))
    events = {e["requestID"]: e for e in read_trail(server)[0]}
    assert events[created]["eventName"] == "CreateAccountAlias"
    assert events[created]["requestParameters"] == {"accountAlias": name}
    assert events[created]["readOnly"] is False and events[created]["errorCode"] is None
    assert events[deleted]["eventName"] == "DeleteAccountAlias"
    assert json.dumps(events[created])  # a plain JSON event


# -- GetAccountSummary ------------------------------------------------------------------------------------
SUMMARY_KEYS = set(botocore.session.get_session().get_service_model("iam").shape_for("summaryMapType").key.enum)
ALLOW_S3 = json.dumps(allow("s3:GetObject"))


def summary(client: Any) -> dict[str, int]:
    return dict(client.get_account_summary()["SummaryMap"])


def test_the_summary_has_every_key_with_aws_quotas(iam: Any) -> None:
    got = summary(iam)
    assert set(got) == SUMMARY_KEYS and len(SUMMARY_KEYS) == 34
    assert all(isinstance(v, int) and v >= 0 for v in got.values())
    # the quotas page's defaults (no override for this account)
    assert {k: got[k] for k in ("UsersQuota", "GroupsQuota", "RolesQuota", "InstanceProfilesQuota", "PoliciesQuota",
                                "ServerCertificatesQuota")} == {
        "UsersQuota": 5000, "GroupsQuota": 300, "RolesQuota": 1000, "InstanceProfilesQuota": 1000, "PoliciesQuota": 1500,
        "ServerCertificatesQuota": 20}
    assert {k: got[k] for k in ("UserPolicySizeQuota", "GroupPolicySizeQuota", "RolePolicySizeQuota", "PolicySizeQuota",
                                "AssumeRolePolicySizeQuota", "GroupsPerUserQuota", "AccessKeysPerUserQuota",
                                "SigningCertificatesPerUserQuota", "AttachedPoliciesPerUserQuota",
                                "AttachedPoliciesPerGroupQuota", "AttachedPoliciesPerRoleQuota", "VersionsPerPolicyQuota",
                                "PolicyVersionsInUseQuota")} == {
        "UserPolicySizeQuota": 2048, "GroupPolicySizeQuota": 5120, "RolePolicySizeQuota": 10240, "PolicySizeQuota": 6144,
        "AssumeRolePolicySizeQuota": 2048, "GroupsPerUserQuota": 10, "AccessKeysPerUserQuota": 2,
        "SigningCertificatesPerUserQuota": 2, "AttachedPoliciesPerUserQuota": 10, "AttachedPoliciesPerGroupQuota": 10,
        "AttachedPoliciesPerRoleQuota": 10, "VersionsPerPolicyQuota": 5, "PolicyVersionsInUseQuota": 10000}
    # the root user: it signs with an access key (the server was started with one); no password, MFA or certificate
    assert (got["AccountAccessKeysPresent"], got["AccountMFAEnabled"], got["AccountPasswordPresent"],
            got["AccountSigningCertificatesPresent"]) == (1, 0, 0, 0)


def test_the_summary_counts_what_the_account_has(iam: Any) -> None:
    before = summary(iam)
    user = iam.create_user(UserName=unique("sum"))["User"]["UserName"]
    group = iam.create_group(GroupName=unique("sum"))["Group"]["GroupName"]
    role = iam.create_role(RoleName=unique("sum"), AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["RoleName"]
    profile = iam.create_instance_profile(InstanceProfileName=unique("sum"))["InstanceProfile"]["InstanceProfileName"]
    policy = iam.create_policy(PolicyName=unique("sum"), PolicyDocument=ALLOW_S3)["Policy"]["Arn"]
    iam.attach_user_policy(UserName=user, PolicyArn=policy)
    iam.attach_role_policy(RoleName=role, PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    provider = iam.create_open_id_connect_provider(Url=f"https://{unique('sum')}.example.com", ClientIDList=["x"],
                                                   ThumbprintList=["a" * 40])["OpenIDConnectProviderArn"]
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName=unique("sum"))["VirtualMFADevice"]
    spare = iam.create_virtual_mfa_device(VirtualMFADeviceName=unique("sum"))["VirtualMFADevice"]
    seed = base64.b32decode(device["Base32StringSeed"])
    step = int(time.time() // 30)
    iam.enable_mfa_device(UserName=user, SerialNumber=device["SerialNumber"], AuthenticationCode1=code_at(seed, step - 1),
                          AuthenticationCode2=code_at(seed, step))
    after = summary(iam)
    delta = {k: after[k] - before[k] for k in after if after[k] != before[k]}
    assert delta == {"Users": 1, "Groups": 1, "Roles": 1, "InstanceProfiles": 1, "Policies": 1, "PolicyVersionsInUse": 2,
                     "Providers": 1, "MFADevices": 2, "MFADevicesInUse": 1}
    # and back
    iam.deactivate_mfa_device(UserName=user, SerialNumber=device["SerialNumber"])
    for d in (device, spare):
        iam.delete_virtual_mfa_device(SerialNumber=d["SerialNumber"])
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=provider)
    iam.detach_user_policy(UserName=user, PolicyArn=policy)
    iam.detach_role_policy(RoleName=role, PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    iam.delete_policy(PolicyArn=policy)
    iam.delete_instance_profile(InstanceProfileName=profile)
    iam.delete_role(RoleName=role)
    iam.delete_group(GroupName=group)
    iam.delete_user(UserName=user)
    assert summary(iam) == before


def test_the_summary_is_the_callers_account_only(iam: Any, server: Server, other: Account) -> None:
    b = server.client("iam", other.key, other.secret)
    before = summary(b)
    names = [iam.create_user(UserName=unique("mine"))["User"]["UserName"] for _ in range(3)]
    assert summary(b) == before  # A's users are not B's
    mine = summary(iam)
    b.create_user(UserName=unique("theirs"))
    assert summary(b)["Users"] == before["Users"] + 1 and summary(iam)["Users"] == mine["Users"]
    for name in names:
        iam.delete_user(UserName=name)


def _quota(server: Server, account: str, name: str, value: str) -> None:
    cmd = [sys.executable, "-m", "iamroles", "accounts", "quota", account, name, value, "--data-dir", str(server.data_dir)]
    subprocess.run(cmd + (["--db", server.db_url] if server.db_url else []), check=True, capture_output=True)


def test_the_summary_reports_an_accounts_raised_quota(server: Server, other: Account) -> None:
    b = server.client("iam", other.key, other.secret)
    _quota(server, other.account_id, "RolesPerAccount", "4321")
    _quota(server, other.account_id, "UsersPerAccount", "7")
    try:
        got = summary(b)
        assert (got["RolesQuota"], got["UsersQuota"], got["GroupsQuota"]) == (4321, 7, 300)
        assert summary(server.client("iam"))["RolesQuota"] == 1000  # another account keeps AWS's default
    finally:
        _quota(server, other.account_id, "RolesPerAccount", "default")
        _quota(server, other.account_id, "UsersPerAccount", "default")
    assert summary(b)["RolesQuota"] == 1000


def test_the_global_endpoint_token_version_is_set_per_account(iam: Any, server: Server, other: Account) -> None:
    b = server.client("iam", other.key, other.secret)
    assert summary(b)["GlobalEndpointTokenVersion"] == 1  # AWS's default: v1Token
    b.set_security_token_service_preferences(GlobalEndpointTokenVersion="v2Token")
    assert summary(b)["GlobalEndpointTokenVersion"] == 2
    assert summary(iam)["GlobalEndpointTokenVersion"] in (1, 2)  # (the fuzz test may set this account's)
    iam.set_security_token_service_preferences(GlobalEndpointTokenVersion="v1Token")
    assert summary(iam)["GlobalEndpointTokenVersion"] == 1 and summary(b)["GlobalEndpointTokenVersion"] == 2
    raw = server.client("iam", other.key, other.secret, validate=False)
    code, status, message = error(lambda: raw.set_security_token_service_preferences(GlobalEndpointTokenVersion="v3Token"))
    assert (code, status) == ("ValidationError", 400) and "v1Token, v2Token" in message
    assert summary(b)["GlobalEndpointTokenVersion"] == 2
    b.set_security_token_service_preferences(GlobalEndpointTokenVersion="v1Token")
    assert summary(b)["GlobalEndpointTokenVersion"] == 1


def test_summary_and_token_preference_need_their_permission(iam: Any, server: Server, other: Account) -> None:
    b = server.client("iam", other.key, other.secret)
    b.set_security_token_service_preferences(GlobalEndpointTokenVersion="v2Token")
    _, key = make_user(b, server, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:*", "Resource": "*"},
        {"Effect": "Deny", "Action": ["iam:GetAccountSummary", "iam:SetSecurityTokenServicePreferences"], "Resource": "*"}]})
    denied = server.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    assert error(lambda: denied.get_account_summary())[:2] == ("AccessDenied", 403)
    assert error(lambda: denied.set_security_token_service_preferences(GlobalEndpointTokenVersion="v1Token"))[:2] == (
        "AccessDenied", 403)
    assert summary(b)["GlobalEndpointTokenVersion"] == 2  # unchanged
    _, key = make_user(b, server, allow("iam:GetAccountSummary", "iam:SetSecurityTokenServicePreferences"))
    allowed = server.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    allowed.set_security_token_service_preferences(GlobalEndpointTokenVersion="v1Token")
    assert summary(allowed)["GlobalEndpointTokenVersion"] == 1

