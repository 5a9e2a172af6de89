"""Centralized root access against a real server on both backends (issue 14): Organizations' trusted access, IAM's
Organizations features, STS AssumeRoot and what a privileged root session may do, driven by boto3.

AWS's pages: https://docs.aws.amazon.com/IAM/latest/UserGuide/id_root-user.html#id_root-user-access-management
(centralized root access for member accounts), id_root-enable-root-access.html (prerequisites: the accounts in
Organizations with all features, trusted access for IAM enabled, the management account enables the features),
id_root-user-privileged-task.html (AssumeRoot from the management account's IAM users and roles only, "You cannot use
root user credentials to call sts:AssumeRoot"; sessions "scoped to specific privileged actions"); the API pages
https://docs.aws.amazon.com/IAM/latest/APIReference/API_EnableOrganizationsRootSessions.html,
API_EnableOrganizationsRootCredentialsManagement.html, their Disable siblings and API_ListOrganizationsFeatures.html
(OrganizationNotFoundException, OrganizationNotInAllFeaturesModeException,
AccountNotManagementOrDelegatedAdministratorException, ServiceAccessNotEnabledException),
https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoot.html (TargetPrincipal an account id or root ARN,
the five root-task policies, DurationSeconds at most 900 and 900 by default),
https://docs.aws.amazon.com/organizations/latest/APIReference/API_EnableAWSServiceAccess.html,
API_DisableAWSServiceAccess.html and API_ListAWSServiceAccessForOrganization.html (management account only),
the Service Authorization Reference (sts:AssumeRoot on arn:${Partition}:iam::${Account}:root with sts:TaskPolicyArn)
and reference_policies_condition-keys.html (aws:AssumedRoot).
"""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import Server, unique
from .test_organizations import SCP, Org
from .test_partitions import Account, create_account
from .test_session_limits import audit_events

TASK = "arn:aws:iam::aws:policy/root-task/"
AUDIT, DELETE, S3_UNLOCK = TASK + "IAMAuditRootUserCredentials", TASK + "IAMDeleteRootUserCredentials", TASK + "S3UnlockBucketPolicy"
IAM = "iam.amazonaws.com"


def code(call: Any) -> str:
    with pytest.raises(ClientError) as exc:
        call()
    return str(exc.value.response["Error"]["Code"])


def message(call: Any) -> str:
    with pytest.raises(ClientError) as exc:
        call()
    return str(exc.value.response["Error"]["Message"])


def user_with(server: Server, account: Account, statements: list[dict[str, Any]]) -> tuple[str, str, str]:
    """An IAM user of ``account`` with these statements inline: (arn, key id, secret)."""
    iam = server.client("iam", key=account.key, secret=account.secret)
    name = unique("operator")
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return arn, key["AccessKeyId"], key["SecretAccessKey"]


ASSUME_ROOT = {"Effect": "Allow", "Action": "sts:AssumeRoot", "Resource": "*"}


class Centralized(Org):
    """An organization with trusted access for IAM and both features enabled, a member, and an operator of the
    management account allowed sts:AssumeRoot."""

    def __init__(self, server: Server) -> None:
        super().__init__(server)
        self.member = self.join()
        self.orgs.enable_aws_service_access(ServicePrincipal=IAM)
        self.iam = server.client("iam", key=self.management.key, secret=self.management.secret)
        self.iam.enable_organizations_root_credentials_management()
        self.iam.enable_organizations_root_sessions()
        self.operator_arn, key, secret = user_with(server, self.management, [ASSUME_ROOT])
        self.sts = server.client("sts", key=key, secret=secret)

    def session(self, task: str, member: Account | None = None, **extra: Any) -> dict[str, str]:
        target = (member or self.member).account_id
        return dict(self.sts.assume_root(TargetPrincipal=target, TaskPolicyArn={"arn": task}, **extra)["Credentials"])

    def client(self, service: str, creds: dict[str, str]) -> Any:
        return self.server.client(service, key=creds["AccessKeyId"], secret=creds["SecretAccessKey"], token=creds["SessionToken"])


@pytest.fixture
def central(server: Server) -> Centralized:
    return Centralized(server)


@pytest.fixture
def org(server: Server) -> Org:
    return Org(server)


# -- Organizations' trusted access ----------------------------------------------------------------------------------
def test_trusted_access_is_the_management_accounts_to_give(server: Server, org: Org) -> None:
    """API_EnableAWSServiceAccess / API_ListAWSServiceAccessForOrganization: the management account only; enabling
    twice changes nothing; the list pages by MaxResults; an unknown principal is InvalidInputException."""
    member = org.join()
    theirs = server.client("organizations", key=member.key, secret=member.secret)
    assert code(lambda: theirs.enable_aws_service_access(ServicePrincipal=IAM)) == "AccessDeniedException"
    assert code(lambda: theirs.list_aws_service_access_for_organization()) == "AccessDeniedException"
    outsider = create_account(server)
    alone = server.client("organizations", key=outsider.key, secret=outsider.secret)
    assert code(lambda: alone.enable_aws_service_access(ServicePrincipal=IAM)) == "AWSOrganizationsNotInUseException"
    assert org.orgs.list_aws_service_access_for_organization()["EnabledServicePrincipals"] == []
    for bad in ("iam", "iam.amazonaws.com.evil.example", "-x.amazonaws.com"):
        with pytest.raises(ClientError) as exc:
            org.orgs.enable_aws_service_access(ServicePrincipal=bad)
        assert exc.value.response["Error"]["Code"] == "InvalidInputException"
    org.orgs.enable_aws_service_access(ServicePrincipal=IAM)
    org.orgs.enable_aws_service_access(ServicePrincipal=IAM)
    org.orgs.enable_aws_service_access(ServicePrincipal="sso.amazonaws.com")
    first = org.orgs.list_aws_service_access_for_organization(MaxResults=1)
    assert [p["ServicePrincipal"] for p in first["EnabledServicePrincipals"]] == [IAM]
    second = org.orgs.list_aws_service_access_for_organization(MaxResults=1, NextToken=first["NextToken"])
    assert [p["ServicePrincipal"] for p in second["EnabledServicePrincipals"]] == ["sso.amazonaws.com"]
    assert "NextToken" not in second
    assert code(lambda: org.orgs.list_aws_service_access_for_organization(NextToken="garbage!")) == "InvalidInputException"
    # an IAM user of the management account needs organizations:EnableAWSServiceAccess for the principal it names
    _, key, secret = user_with(server, org.management, [{"Effect": "Allow", "Action": "organizations:*AWSServiceAccess*",
                                                          "Resource": "*", "Condition": {"StringEquals": {
                                                              "organizations:ServicePrincipal": "sso.amazonaws.com"}}}])
    limited = server.client("organizations", key=key, secret=secret)
    assert code(lambda: limited.disable_aws_service_access(ServicePrincipal=IAM)) == "AccessDeniedException"
    limited.disable_aws_service_access(ServicePrincipal="sso.amazonaws.com")
    listed = org.orgs.list_aws_service_access_for_organization()["EnabledServicePrincipals"]
    assert [p["ServicePrincipal"] for p in listed] == [IAM]


# -- IAM's Organizations features -----------------------------------------------------------------------------------
def test_features_need_the_management_account_all_features_and_trusted_access(server: Server, org: Org) -> None:
    """API_EnableOrganizationsRootSessions and siblings: each precondition refused with its own error, in an order
    that tells a member account nothing of its organization; nothing changes on a refusal; enabling is idempotent."""
    member = org.join()
    mine = server.client("iam", key=org.management.key, secret=org.management.secret)
    theirs = server.client("iam", key=member.key, secret=member.secret)
    outsider = create_account(server)
    alone = server.client("iam", key=outsider.key, secret=outsider.secret)
    assert code(alone.list_organizations_features) == "OrganizationNotFoundException"
    assert code(alone.enable_organizations_root_sessions) == "OrganizationNotFoundException"
    # trusted access for IAM first
    for call in (mine.list_organizations_features, mine.enable_organizations_root_sessions,
                 mine.enable_organizations_root_credentials_management, mine.disable_organizations_root_sessions):
        assert code(call) == "ServiceAccessNotEnabledException"
    for call in (theirs.list_organizations_features, theirs.enable_organizations_root_sessions,
                 theirs.disable_organizations_root_credentials_management):
        assert code(call) == "AccountNotManagementOrDelegatedAdministratorException"
    org.orgs.enable_aws_service_access(ServicePrincipal=IAM)
    assert mine.list_organizations_features()["EnabledFeatures"] == []
    assert code(theirs.enable_organizations_root_sessions) == "AccountNotManagementOrDelegatedAdministratorException"
    out = mine.enable_organizations_root_sessions()
    assert out["OrganizationId"] == org.org["Id"] and out["EnabledFeatures"] == ["RootSessions"]
    assert mine.enable_organizations_root_sessions()["EnabledFeatures"] == ["RootSessions"]
    both = mine.enable_organizations_root_credentials_management()["EnabledFeatures"]
    assert both == ["RootCredentialsManagement", "RootSessions"]
    assert mine.disable_organizations_root_sessions()["EnabledFeatures"] == ["RootCredentialsManagement"]
    assert mine.list_organizations_features()["EnabledFeatures"] == ["RootCredentialsManagement"]
    # an IAM user of the management account needs the IAM permission
    _, key, secret = user_with(server, org.management, [{"Effect": "Allow", "Action": "iam:ListOrganizationsFeatures", "Resource": "*"}])
    operator = server.client("iam", key=key, secret=secret)
    assert operator.list_organizations_features()["EnabledFeatures"] == ["RootCredentialsManagement"]
    assert code(operator.enable_organizations_root_sessions) == "AccessDenied"
    assert mine.list_organizations_features()["EnabledFeatures"] == ["RootCredentialsManagement"]
    # disabling trusted access for IAM ends the features with it
    org.orgs.disable_aws_service_access(ServicePrincipal=IAM)
    assert code(mine.list_organizations_features) == "ServiceAccessNotEnabledException"
    org.orgs.enable_aws_service_access(ServicePrincipal=IAM)
    assert mine.list_organizations_features()["EnabledFeatures"] == []


def test_an_organization_without_all_features_cannot_centralize_root_access(server: Server) -> None:
    """OrganizationNotInAllFeaturesModeException; trusted access itself needs all features (orgs_integrate_services)."""
    management = create_account(server)
    orgs = server.client("organizations", key=management.key, secret=management.secret)
    orgs.create_organization(FeatureSet="CONSOLIDATED_BILLING")
    with pytest.raises(ClientError) as exc:
        orgs.enable_aws_service_access(ServicePrincipal=IAM)
    assert exc.value.response["Error"]["Code"] == "ConstraintViolationException"
    iam = server.client("iam", key=management.key, secret=management.secret)
    assert code(iam.enable_organizations_root_sessions) == "OrganizationNotInAllFeaturesModeException"


# -- AssumeRoot -----------------------------------------------------------------------------------------------------
def test_assume_root_gives_a_short_session_as_the_member_accounts_root(server: Server, central: Centralized) -> None:
    """API_AssumeRoot: credentials of at most 900 s (900 by default) whose caller is the member account's root; an
    IAMAuditRootUserCredentials session reads the root's credentials and nothing else."""
    before = datetime.now(UTC)
    creds = central.session(AUDIT)
    assert creds["AccessKeyId"].startswith("ASIA")
    assert before + timedelta(seconds=890) <= creds["Expiration"] <= datetime.now(UTC) + timedelta(seconds=901)
    short = central.session(AUDIT, DurationSeconds=60)
    assert short["Expiration"] <= datetime.now(UTC) + timedelta(seconds=61)
    member = central.member.account_id
    who = central.client("sts", creds).get_caller_identity()
    assert (who["Account"], who["Arn"], who["UserId"]) == (member, f"arn:aws:iam::{member}:root", member)
    iam = central.client("iam", creds)
    keys = iam.list_access_keys()["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in keys] == [central.member.key]
    assert iam.get_user()["User"]["Arn"] == f"arn:aws:iam::{member}:root"
    assert code(iam.get_login_profile) == "NoSuchEntity"  # (the root has no password here)
    assert iam.list_mfa_devices()["MFADevices"] == [] and iam.list_signing_certificates()["Certificates"] == []
    # the target may be named by its root's ARN too
    arn_named = central.sts.assume_root(TargetPrincipal=f"arn:aws:iam::{member}:root", TaskPolicyArn={"arn": AUDIT})
    assert arn_named["Credentials"]["AccessKeyId"].startswith("ASIA")
    with pytest.raises(ClientError) as exc:
        central.sts.assume_root(TargetPrincipal=member, TaskPolicyArn={"arn": AUDIT}, DurationSeconds=901)
    assert exc.value.response["Error"]["Code"] == "ValidationError"
    for target in ("12345678901x", f"arn:aws:iam::{member}:user/root", f"arn:aws-cn:iam::{member}:root", f"{member}0"):
        with pytest.raises(ClientError) as exc:
            central.sts.assume_root(TargetPrincipal=target, TaskPolicyArn={"arn": AUDIT})
        assert exc.value.response["Error"]["Code"] == "ValidationError", target


def test_a_root_session_cannot_do_beyond_its_task(server: Server, central: Centralized) -> None:
    """The task policy scopes the session (id_root-user-privileged-task.html): AWS's root-task policies deny every
    action but the task's, and the task's on anything but the root user; the session issues no credentials."""
    member_iam = server.client("iam", key=central.member.key, secret=central.member.secret)
    user = unique("alice")
    member_iam.create_user(UserName=user)
    user_key = member_iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]
    for task in (AUDIT, DELETE, S3_UNLOCK):
        creds = central.session(task)
        iam = central.client("iam", creds)
        with pytest.raises(ClientError) as exc:
            iam.create_user(UserName=unique("backdoor"))
        assert exc.value.response["Error"]["Code"] == "AccessDenied"
        assert "explicit deny in a session policy" in exc.value.response["Error"]["Message"]
        assert code(lambda: iam.create_access_key()) == "AccessDenied"
        assert code(lambda: iam.attach_user_policy(UserName=user, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")) == "AccessDenied"
        # the task's actions on a user rather than the root: denied
        assert code(lambda: iam.delete_access_key(UserName=user, AccessKeyId=user_key)) == "AccessDenied"
        assert code(lambda: iam.list_access_keys(UserName=user)) == "AccessDenied"
        sts = central.client("sts", creds)
        assert code(lambda: sts.get_session_token()) == "AccessDenied"
        assert code(lambda: sts.assume_role(RoleArn=f"arn:aws:iam::{central.member.account_id}:role/x", RoleSessionName="s1")) == "AccessDenied"
        assert code(lambda: sts.assume_root(TargetPrincipal=central.member.account_id, TaskPolicyArn={"arn": task})) == "AccessDenied"
    # the audit task reads but does not delete
    audit = central.client("iam", central.session(AUDIT))
    assert code(lambda: audit.delete_access_key(AccessKeyId=central.member.key)) == "AccessDenied"
    assert [k["AccessKeyId"] for k in member_iam.list_access_keys(UserName=user)["AccessKeyMetadata"]] == [user_key]
    assert member_iam.get_user(UserName=user)["User"]["UserName"] == user


def test_the_management_account_deletes_a_members_root_credentials(server: Server, central: Centralized) -> None:
    """IAMDeleteRootUserCredentials: the member's root access keys deleted through a root session (the root key stops
    working); the root has no password, certificate or MFA device here, so those calls find none. The calls are
    audited in the member account as the root's, marked assumedRoot."""
    member = central.member
    creds = central.session(DELETE)
    iam = central.client("iam", creds)
    keys = [k["AccessKeyId"] for k in iam.list_access_keys()["AccessKeyMetadata"]]
    assert keys == [member.key]
    assert code(iam.delete_login_profile) == "NoSuchEntity"
    assert code(lambda: iam.deactivate_mfa_device(SerialNumber=f"arn:aws:iam::{member.account_id}:mfa/root")) == "NoSuchEntity"
    assert code(lambda: iam.delete_signing_certificate(CertificateId="A" * 24)) == "NoSuchEntity"
    iam.delete_access_key(AccessKeyId=member.key)
    assert iam.list_access_keys()["AccessKeyMetadata"] == []
    gone = server.client("sts", key=member.key, secret=member.secret)
    assert code(gone.get_caller_identity) == "InvalidClientTokenId"
    root = f"arn:aws:iam::{member.account_id}:root"
    events = audit_events(server, root, lambda es: any(e["eventName"] == "DeleteAccessKey" for e in es))
    deleted = next(e for e in events if e["eventName"] == "DeleteAccessKey")
    assert deleted["recipientAccountId"] == member.account_id and deleted["errorCode"] is None
    assert deleted["userIdentity"]["type"] == "Root" and deleted["userIdentity"]["sessionContext"]["assumedRoot"] == "true"
    assert deleted["userIdentity"]["accessKeyId"] == creds["AccessKeyId"]
    issued = audit_events(server, central.operator_arn, lambda es: any(e["eventName"] == "AssumeRoot" for e in es))
    event = next(e for e in issued if e["eventName"] == "AssumeRoot")
    assert event["recipientAccountId"] == central.management.account_id
    assert event["requestParameters"]["taskPolicyArn"]["arn"] == DELETE
    assert creds["SecretAccessKey"] not in json.dumps(issued) and creds["SessionToken"] not in json.dumps(issued)


def test_who_may_assume_root_where(server: Server, central: Centralized) -> None:
    """Attacks on AssumeRoot: a member account into another member, the management account into itself or into an
    account outside its organization, root user credentials, an operator without sts:AssumeRoot or whose
    sts:TaskPolicyArn condition names another task, a policy that is no root task."""
    other_member = central.join()
    # a member account's administrator cannot assume root in another member (nor in the management account)
    _, key, secret = user_with(server, central.member, [ASSUME_ROOT])
    member_sts = server.client("sts", key=key, secret=secret)
    for target in (other_member.account_id, central.management.account_id):
        assert code(lambda t=target: member_sts.assume_root(TargetPrincipal=t, TaskPolicyArn={"arn": AUDIT})) == "AccessDenied"
    # nor the management account into itself, or into an account outside its organization
    outsider = create_account(server)
    for target in (central.management.account_id, outsider.account_id, "000000000000"):
        assert code(lambda t=target: central.session(AUDIT, Account(t, "aws", "", ""))) == "AccessDenied"
    # root user credentials cannot call it (id_root-user-privileged-task.html)
    root_sts = server.client("sts", key=central.management.key, secret=central.management.secret)
    assert code(lambda: root_sts.assume_root(TargetPrincipal=central.member.account_id, TaskPolicyArn={"arn": AUDIT})) == "AccessDenied"
    # sts:AssumeRoot must be granted, on the member's root, for the task asked
    _, key, secret = user_with(server, central.management, [{"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}])
    bare = server.client("sts", key=key, secret=secret)
    assert code(lambda: bare.assume_root(TargetPrincipal=central.member.account_id, TaskPolicyArn={"arn": AUDIT})) == "AccessDenied"
    _, key, secret = user_with(server, central.management, [{
        "Effect": "Allow", "Action": "sts:AssumeRoot", "Resource": f"arn:aws:iam::{other_member.account_id}:root",
        "Condition": {"ArnEquals": {"sts:TaskPolicyArn": S3_UNLOCK}}}])
    scoped = server.client("sts", key=key, secret=secret)
    assert code(lambda: scoped.assume_root(TargetPrincipal=other_member.account_id, TaskPolicyArn={"arn": DELETE})) == "AccessDenied"
    assert code(lambda: scoped.assume_root(TargetPrincipal=central.member.account_id, TaskPolicyArn={"arn": S3_UNLOCK})) == "AccessDenied"
    assert scoped.assume_root(TargetPrincipal=other_member.account_id, TaskPolicyArn={"arn": S3_UNLOCK})["Credentials"]
    # only AWS's root-task policies
    for arn in ("arn:aws:iam::aws:policy/AdministratorAccess", TASK + "IAMRootEverything", TASK + "iamauditrootusercredentials",
                f"arn:aws:iam::{central.management.account_id}:policy/root-task/IAMAuditRootUserCredentials",
                "arn:aws-cn:iam::aws:policy/root-task/IAMAuditRootUserCredentials"):
        with pytest.raises(ClientError) as exc:
            central.session(arn)
        assert exc.value.response["Error"]["Code"] == "InvalidParameterValue", arn
    # credentials of another kind: a session token cannot call it (id_credentials_sts-comparison.html)
    session_token = server.client("sts", key=key, secret=secret).get_session_token()["Credentials"]
    assert code(lambda: central.client("sts", session_token).assume_root(
        TargetPrincipal=other_member.account_id, TaskPolicyArn={"arn": S3_UNLOCK})) == "AccessDenied"


def test_root_sessions_need_the_features_and_end_with_them(server: Server, central: Centralized) -> None:
    """Without RootSessions no root session; a credentials task also needs RootCredentialsManagement (the feature by
    which the management account "can manage root user credentials", API_EnableOrganizationsRootCredentialsManagement;
    disabled, it "can no longer"); disabling a feature, or trusted access for IAM, ends the sessions it allowed on
    their next request, for good: enabling it again serves new sessions only."""
    def keys(iam: Any) -> list[str]:
        return [k["AccessKeyId"] for k in iam.list_access_keys()["AccessKeyMetadata"]]

    iam = central.client("iam", central.session(DELETE))
    assert keys(iam) == [central.member.key]
    central.iam.disable_organizations_root_credentials_management()
    assert code(iam.list_access_keys) == "AccessDenied"
    assert "RootCredentialsManagement" in message(lambda: central.session(DELETE))
    assert code(lambda: central.session(AUDIT)) == "AccessDenied"
    assert central.session(S3_UNLOCK)["AccessKeyId"]  # an S3/SQS task needs RootSessions only
    central.iam.enable_organizations_root_credentials_management()
    assert code(iam.list_access_keys) == "AccessDenied"  # ended for good
    iam = central.client("iam", central.session(DELETE))
    assert keys(iam) == [central.member.key]
    central.iam.disable_organizations_root_sessions()
    assert code(iam.list_access_keys) == "AccessDenied"
    for task in (AUDIT, DELETE, S3_UNLOCK):
        assert code(lambda t=task: central.session(t)) == "AccessDenied"
    central.iam.enable_organizations_root_sessions()
    assert code(iam.list_access_keys) == "AccessDenied"
    iam = central.client("iam", central.session(DELETE))
    assert keys(iam) == [central.member.key]
    central.orgs.disable_aws_service_access(ServicePrincipal=IAM)
    assert code(iam.list_access_keys) == "AccessDenied"
    assert code(lambda: central.session(AUDIT)) == "AccessDenied"
    central.orgs.enable_aws_service_access(ServicePrincipal=IAM)
    assert central.iam.list_organizations_features()["EnabledFeatures"] == []  # (they went with trusted access)
    central.iam.enable_organizations_root_sessions()
    central.iam.enable_organizations_root_credentials_management()
    assert code(iam.list_access_keys) == "AccessDenied"
    # nothing was deleted meanwhile
    member_iam = server.client("iam", key=central.member.key, secret=central.member.secret)
    assert keys(member_iam) == [central.member.key]


def test_scps_bound_root_sessions(server: Server, central: Centralized) -> None:
    """SCPs apply to a member account's root, in a root session too (orgs_manage_policies_scps.html); aws:AssumedRoot
    is "true" in its requests, so an SCP can single root sessions out."""
    central.orgs.enable_policy_type(RootId=central.root, PolicyType=SCP)
    deny = central.orgs.create_policy(Name=unique("no-root-sessions"), Description="d", Type=SCP, Content=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "iam:ListAccessKeys", "Resource": "*",
                                                 "Condition": {"Bool": {"aws:AssumedRoot": "true"}}}]}))
    creds = central.session(AUDIT)
    iam = central.client("iam", creds)
    assert [k["AccessKeyId"] for k in iam.list_access_keys()["AccessKeyMetadata"]] == [central.member.key]
    central.orgs.attach_policy(PolicyId=deny["Policy"]["PolicySummary"]["Id"], TargetId=central.member.account_id)
    with pytest.raises(ClientError) as exc:
        iam.list_access_keys()
    assert exc.value.response["Error"]["Code"] == "AccessDenied"
    assert "service control policy" in exc.value.response["Error"]["Message"]
    # the member's root with its own key is no root session: the condition does not hold
    member_iam = server.client("iam", key=central.member.key, secret=central.member.secret)
    assert [k["AccessKeyId"] for k in member_iam.list_access_keys()["AccessKeyMetadata"]] == [central.member.key]
    assert iam.get_user()["User"]["Arn"].endswith(":root")


def test_concurrent_enables_and_disables_leave_one_answer(server: Server, org: Org) -> None:
    """Racing writers (PostgreSQL: the organization's row lock; SQLite: one writer): every call answers as AWS would
    (enabling twice is no error), never a 5xx, and the features end as the last writer left them."""
    from concurrent.futures import ThreadPoolExecutor

    def client() -> Any:
        return server.client("iam", key=org.management.key, secret=org.management.secret)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: server.client("organizations", key=org.management.key, secret=org.management.secret)
                      .enable_aws_service_access(ServicePrincipal=IAM), range(8)))
        enabled = list(pool.map(lambda _: client().enable_organizations_root_sessions()["EnabledFeatures"], range(8)))
    assert all(features == ["RootSessions"] for features in enabled)
    listed = org.orgs.list_aws_service_access_for_organization()["EnabledServicePrincipals"]
    assert [p["ServicePrincipal"] for p in listed] == [IAM]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: (client().disable_organizations_root_sessions() if i % 2 else
                                 client().enable_organizations_root_credentials_management()), range(8)))
    assert client().list_organizations_features()["EnabledFeatures"] == ["RootCredentialsManagement"]


def test_the_delegated_administrator_for_iam(server: Server, central: Centralized) -> None:
    """The delegated administrator for IAM (id_root-enable-root-access.html; Organizations'
    RegisterDelegatedAdministrator) lists and disables the features, and assumes root in the other member accounts;
    only the management account enables a feature (CallerIsNotManagementAccountException); no root session in the
    management account or in the administrator's own; deregistered, its sessions end for good."""
    admin = central.member
    other = central.join()
    central.orgs.register_delegated_administrator(AccountId=admin.account_id, ServicePrincipal=IAM)
    theirs = server.client("iam", key=admin.key, secret=admin.secret)
    assert theirs.list_organizations_features()["EnabledFeatures"] == ["RootCredentialsManagement", "RootSessions"]
    assert code(theirs.enable_organizations_root_sessions) == "CallerIsNotManagementAccountException"
    _, key, secret = user_with(server, admin, [ASSUME_ROOT])
    sts = server.client("sts", key=key, secret=secret)
    creds = sts.assume_root(TargetPrincipal=other.account_id, TaskPolicyArn={"arn": AUDIT})["Credentials"]
    iam = central.client("iam", creds)
    assert [k["AccessKeyId"] for k in iam.list_access_keys()["AccessKeyMetadata"]] == [other.key]
    for target in (central.management.account_id, admin.account_id):
        assert code(lambda t=target: sts.assume_root(TargetPrincipal=t, TaskPolicyArn={"arn": AUDIT})) == "AccessDenied"
    # another member, not the administrator, still may not
    _, key, secret = user_with(server, other, [ASSUME_ROOT])
    assert code(lambda: server.client("sts", key=key, secret=secret).assume_root(
        TargetPrincipal=admin.account_id, TaskPolicyArn={"arn": AUDIT})) == "AccessDenied"
    assert code(lambda: server.client("iam", key=other.key, secret=other.secret).list_organizations_features()) == \
        "AccountNotManagementOrDelegatedAdministratorException"
    central.orgs.deregister_delegated_administrator(AccountId=admin.account_id, ServicePrincipal=IAM)
    assert code(iam.list_access_keys) == "AccessDenied"
    assert code(lambda: sts.assume_root(TargetPrincipal=other.account_id, TaskPolicyArn={"arn": AUDIT})) == "AccessDenied"
    central.orgs.register_delegated_administrator(AccountId=admin.account_id, ServicePrincipal=IAM)
    assert code(iam.list_access_keys) == "AccessDenied"  # (registered again: that session stays ended)
    assert sts.assume_root(TargetPrincipal=other.account_id, TaskPolicyArn={"arn": AUDIT})["Credentials"]
    theirs.disable_organizations_root_sessions()
    assert central.iam.list_organizations_features()["EnabledFeatures"] == ["RootCredentialsManagement"]
