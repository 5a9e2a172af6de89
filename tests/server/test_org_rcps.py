"""Resource control policies and the organization's guardrails against a real server on both backends (issue 17),
driven by boto3's ``organizations``, ``iam`` and ``sts`` clients, the authorisation API and the in-process
middleware backend.

AWS's pages, cited per test:

* RCPs: https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps.html ("RCPs don't
  affect resources in the management account"; they apply to "principals trying to access resources in a member
  account ... regardless of whether the principals belong to the same organizations or not. This includes root
  users. The exception is when principals are service-linked roles"; "the service-linked role's trust policy is
  also not impacted by RCPs"; the services RCPs support).
* RCP syntax: https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps_syntax.html
  (Version 2012-10-17; "For RCPs that you create, the value must be Deny"; "You can only specify * in the Principal
  element"; "You cannot use * in the Action element of a customer managed RCP"; NotPrincipal and NotAction "are
  not supported"; RCPFullAWSAccess "is automatically attached to the organization root, every OU, and every
  account ... You cannot detach this policy").
* Quotas: https://docs.aws.amazon.com/organizations/latest/userguide/orgs_reference_limits.html (five policies of a
  type on one root, OU or account; 5,120 characters for an SCP or an RCP).
* SCPs: https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html (the member's
  administrator and root user are bounded; service-linked roles are not).
* Denials: https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html ("... with an explicit
  deny in a service control policy", "... with an explicit deny in a resource control policy").
* Condition keys: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html
  (aws:ResourceOrgID, aws:ResourceOrgPaths, aws:ResourceAccount: the resource's owner's; aws:PrincipalOrgID).
* STS: https://docs.aws.amazon.com/STS/latest/APIReference/API_DecodeAuthorizationMessage.html.
"""
from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from .conftest import Server, start_server, stop_server, unique
from .test_organizations import SCP, Org, error
from .test_partitions import Account, create_account

RCP = "RESOURCE_CONTROL_POLICY"
RCP_FULL = "p-RCPFullAWSAccess"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
EXPLICIT_SCP = "with an explicit deny in a service control policy"
EXPLICIT_RCP = "with an explicit deny in a resource control policy"


def rcp(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def deny(action: str | list[str], condition: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    st: dict[str, Any] = {"Effect": "Deny", "Principal": "*", "Action": action, "Resource": "*", **extra}
    if condition:
        st["Condition"] = condition
    return st


def only_org(org_id: str, action: str | list[str]) -> dict[str, Any]:
    """The data perimeter's RCP statement: nobody outside the organization, AWS services aside
    (orgs_manage_policies_rcps_examples.html)."""
    return deny(action, {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": org_id},
                         "BoolIfExists": {"aws:PrincipalIsAWSService": "false"}})


def scp(effect: str, action: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": effect, "Action": action, "Resource": "*"}]})


@dataclass
class Who:
    """An IAM user's keys and ARN."""

    server: Server
    arn: str
    key: str
    secret: str
    account: str

    def client(self, service: str) -> Any:
        return self.server.client(service, key=self.key, secret=self.secret)

    def api(self, name: str, body: dict[str, Any]) -> httpx.Response:
        """iamroles' own JSON API, SigV4-signed for the service ``iamroles``."""
        raw = json.dumps(body)
        req = AWSRequest("POST", f"{self.server.url}/iamroles/v1/{name}", data=raw, headers={"Content-Type": "application/json"})
        SigV4Auth(Credentials(self.key, self.secret), "iamroles", "us-east-1").add_auth(req)
        p = req.prepare()
        return httpx.post(p.url, content=raw, headers=dict(p.headers), timeout=10)


def user(server: Server, account: Account, *policies: str, managed: str | None = None) -> Who:
    iam = server.client("iam", key=account.key, secret=account.secret)
    name = unique("u")
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    for n, doc in enumerate(policies):
        iam.put_user_policy(UserName=name, PolicyName=f"p{n}", PolicyDocument=doc)
    if managed:
        iam.attach_user_policy(UserName=name, PolicyArn=managed)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return Who(server, arn, key["AccessKeyId"], key["SecretAccessKey"], account.account_id)


def role(server: Server, account: Account, trusted: str | list[str], managed: str | None = ADMIN) -> str:
    """A role in ``account`` trusting ``trusted`` (principal ARNs) for sts:AssumeRole; its ARN."""
    iam = server.client("iam", key=account.key, secret=account.secret)
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": trusted}, "Action": "sts:AssumeRole"}]})
    name = unique("r")
    arn = str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"])
    if managed:
        iam.attach_role_policy(RoleName=name, PolicyArn=managed)
    return arn


def create_rcp(org: Org, content: str) -> str:
    return str(org.orgs.create_policy(Name=unique("rcp"), Description="", Type=RCP, Content=content)["Policy"]["PolicySummary"]["Id"])


def attached(org: Org, target: str, kind: str = RCP) -> list[str]:
    return sorted(p["Id"] for p in org.orgs.list_policies_for_target(TargetId=target, Filter=kind)["Policies"])


def assumes(who: Who, arn: str) -> bool:
    """Does ``who`` get credentials for ``arn``? A refusal is AccessDenied in STS's words, which say nothing of why
    (API_AssumeRole: the message names the caller, the action and the role only)."""
    try:
        who.client("sts").assume_role(RoleArn=arn, RoleSessionName="rcp-test")
    except ClientError as err:
        r = err.response
        assert (r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]) == ("AccessDenied", 403), r
        assert r["Error"]["Message"] == f"User: {who.arn} is not authorized to perform: sts:AssumeRole on resource: {arn}"
        return False
    return True


@pytest.fixture
def org(server: Server) -> Org:
    return Org(server)


# --- which requests RCPs bound (no server) ----------------------------------------------------------


@pytest.mark.parametrize(("action", "resource", "caller_role", "applies"), [
    ("sts:AssumeRole", "arn:aws:iam::111122223333:role/app", None, True),
    ("STS:assumerole", "arn:aws:iam::111122223333:role/app", None, True),  # actions are case-insensitive
    ("s3:GetObject", "arn:aws:s3:::bucket/key", "arn:aws:iam::111122223333:role/app", True),
    ("sts:GetFederationToken", "arn:aws:sts::111122223333:federated-user/fed", None, True),
    # IAM is not among the services RCPs support; neither is a service of one's own
    ("iam:CreateUser", "arn:aws:iam::111122223333:user/x", None, False),
    ("myapp:Read", "arn:aws:myapp:::thing", None, False),
    # an action on no resource authorises none (sts:GetCallerIdentity, s3:ListAllMyBuckets)
    ("s3:ListAllMyBuckets", "*", None, False),
    ("kms:RetireGrant", "arn:aws:kms:us-east-1:111122223333:key/k", None, False),
    # service-linked roles: neither their calls nor their trust policies
    ("s3:GetObject", "arn:aws:s3:::bucket/key", "arn:aws:iam::111122223333:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS", False),
    ("sts:AssumeRole", "arn:aws:iam::111122223333:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS", None, False),
    # a path that merely contains the words is not the service-linked path
    ("sts:AssumeRole", "arn:aws:iam::111122223333:role/team/aws-service-role-like", None, True),
])
def test_which_requests_rcps_bound(action: str, resource: str, caller_role: str | None, applies: bool) -> None:
    """orgs_manage_policies_rcps.html: RCPs apply to actions of the supported services (IAM is not one), to "the
    resources that are authorized as part of an operation request", not to calls made by service-linked roles nor
    to their trust policies, not to kms:RetireGrant."""
    from iamroles.iam.organizations import rcp_applies

    assert rcp_applies(action, resource, caller_role) is applies


# --- the policy type -----------------------------------------------------------------------------


def test_enabling_rcps_attaches_rcpfullawsaccess_everywhere_for_good(server: Server, org: Org) -> None:
    """orgs_manage_policies_rcps_syntax.html: RCPFullAWSAccess is attached to the root, every OU and every account
    when RCPs are enabled (and to each OU made and account joining afterwards) and cannot be detached; at most five
    RCPs on a target (orgs_reference_limits.html); only the management account enables and attaches
    (API_EnablePolicyType.html, API_AttachPolicy.html)."""
    orgs = org.orgs
    member = org.join()
    ou = orgs.create_organizational_unit(ParentId=org.root, Name="before")["OrganizationalUnit"]["Id"]
    deny_id = create_rcp(org, rcp(deny("s3:DeleteBucket")))
    assert error(lambda: orgs.attach_policy(PolicyId=deny_id, TargetId=member.account_id))[0] == "PolicyTypeNotEnabledException"
    theirs = server.client("organizations", key=member.key, secret=member.secret)
    assert error(lambda: theirs.enable_policy_type(RootId=org.root, PolicyType=RCP))[0] == "AccessDeniedException"

    root = orgs.enable_policy_type(RootId=org.root, PolicyType=RCP)["Root"]
    assert root["PolicyTypes"] == [{"Type": RCP, "Status": "ENABLED"}]
    assert error(lambda: orgs.enable_policy_type(RootId=org.root, PolicyType=RCP))[0] == "PolicyTypeAlreadyEnabledException"
    orgs.enable_policy_type(RootId=org.root, PolicyType=SCP)
    assert orgs.list_roots()["Roots"][0]["PolicyTypes"] == [{"Type": RCP, "Status": "ENABLED"}, {"Type": SCP, "Status": "ENABLED"}]
    later_ou = orgs.create_organizational_unit(ParentId=ou, Name="after")["OrganizationalUnit"]["Id"]
    later = org.join()
    for target in (org.root, ou, later_ou, member.account_id, later.account_id, org.management.account_id):
        assert attached(org, target) == [RCP_FULL], target
        assert attached(org, target, SCP) == ["p-FullAWSAccess"], target
    full = orgs.describe_policy(PolicyId=RCP_FULL)["Policy"]
    assert full["PolicySummary"]["AwsManaged"] is True and full["PolicySummary"]["Type"] == RCP
    assert full["PolicySummary"]["Arn"] == "arn:aws:organizations::aws:policy/resource_control_policy/p-RCPFullAWSAccess"
    assert json.loads(full["Content"])["Statement"][0] == {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}

    # RCPFullAWSAccess stays, even beside other RCPs; the member cannot touch it either
    orgs.attach_policy(PolicyId=deny_id, TargetId=member.account_id)
    for target in (org.root, ou, member.account_id):
        assert error(lambda: orgs.detach_policy(PolicyId=RCP_FULL, TargetId=target))[0] == "ConstraintViolationException"
    assert error(lambda: theirs.detach_policy(PolicyId=RCP_FULL, TargetId=member.account_id))[0] == "AccessDeniedException"
    assert error(lambda: theirs.attach_policy(PolicyId=deny_id, TargetId=org.root))[0] == "AccessDeniedException"
    assert attached(org, member.account_id) == sorted([RCP_FULL, deny_id])

    # five RCPs on a target, RCPFullAWSAccess among them
    more = [create_rcp(org, rcp(deny("sqs:DeleteQueue"))) for _ in range(4)]
    for pid in more[:3]:
        orgs.attach_policy(PolicyId=pid, TargetId=member.account_id)
    code, message = error(lambda: orgs.attach_policy(PolicyId=more[3], TargetId=member.account_id))
    assert code == "ConstraintViolationException" and "exceed the limit" in message
    assert len(attached(org, member.account_id)) == 5
    assert error(lambda: orgs.attach_policy(PolicyId=deny_id, TargetId=member.account_id))[0] == "DuplicatePolicyAttachmentException"
    # an RCP is not an SCP: the SCP quota and the "last SCP" rule count SCPs only
    assert attached(org, member.account_id, SCP) == ["p-FullAWSAccess"]
    orgs.detach_policy(PolicyId=deny_id, TargetId=member.account_id)
    assert error(lambda: orgs.detach_policy(PolicyId=deny_id, TargetId=member.account_id))[0] == "PolicyNotAttachedException"
    assert {p["Id"] for p in orgs.list_policies(Filter=RCP)["Policies"]} == {RCP_FULL, deny_id, *more}


def test_rcps_follow_aws_grammar(server: Server, org: Org) -> None:
    """orgs_manage_policies_rcps_syntax.html, each rule refused with MalformedPolicyDocumentException and nothing
    created; the size quota (orgs_reference_limits.html) with ConstraintViolationException; AWS's own examples
    (orgs_manage_policies_rcps_examples.html) are accepted."""
    orgs = org.orgs
    oid = org.org["Id"]
    ok_st = deny("s3:GetObject")
    bad = {
        "allow": rcp({**ok_st, "Effect": "Allow"}),
        "a principal other than *": rcp({**ok_st, "Principal": {"AWS": "arn:aws:iam::111122223333:root"}}),
        "an account as principal": rcp({**ok_st, "Principal": {"AWS": "*"}}),
        "no principal": rcp({k: v for k, v in ok_st.items() if k != "Principal"}),
        "NotPrincipal": rcp({**{k: v for k, v in ok_st.items() if k != "Principal"}, "NotPrincipal": {"AWS": "*"}}),
        "NotAction": rcp({**{k: v for k, v in ok_st.items() if k != "Action"}, "NotAction": "s3:GetObject"}),
        "every action": rcp(deny("*")),
        "IAM's actions": rcp(deny("iam:CreateUser")),
        "an unsupported service": rcp(deny(["s3:GetObject", "ec2:RunInstances"])),
        "no resource": rcp({k: v for k, v in ok_st.items() if k != "Resource"}),
        "the 2008 grammar": json.dumps({"Version": "2008-10-17", "Statement": [ok_st]}),
        "no version": json.dumps({"Statement": [ok_st]}),
        "not JSON": "{not json",
        "an SCP": scp("Deny", "s3:GetObject"),
    }
    for why, content in bad.items():
        code, message = error(lambda c=content: orgs.create_policy(Name=unique("bad"), Description="", Type=RCP, Content=c))
        assert code == "MalformedPolicyDocumentException", (why, message)
        assert message.startswith("The provided policy document does not meet the requirements of the specified policy type."), message
    assert [p["Id"] for p in orgs.list_policies(Filter=RCP)["Policies"]] == [RCP_FULL]

    # 5,120 characters, every one of them counted (white space too)
    def sized(n: int) -> str:
        base = rcp(deny("s3:GetObject", {"StringNotEquals": {"aws:PrincipalOrgID": ""}}))
        return base.replace('"aws:PrincipalOrgID": ""', '"aws:PrincipalOrgID": "' + "x" * (n - len(base)) + '"')

    assert len(sized(5120)) == 5120 and len(sized(5121)) == 5121
    code, message = error(lambda: orgs.create_policy(Name=unique("big"), Description="", Type=RCP, Content=sized(5121)))
    assert code == "ConstraintViolationException" and "5120" in message
    create_rcp(org, sized(5120))

    # AWS's examples: secure transport for S3, the STS perimeter, wildcards within a service, conditions, NotResource
    good = [
        rcp(deny("s3:*", {"BoolIfExists": {"aws:SecureTransport": "false"}})),
        rcp(only_org(oid, ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"])),
        rcp({"Sid": "DenyBPAConfigurations", **deny("s3:PutBucketPublicAccessBlock")}),
        rcp(deny(["kms:Decrypt", "sqs:Send*", "secretsmanager:GetSecret?alue"])),
        rcp({k: v for k, v in deny("s3:GetObject").items() if k != "Resource"} | {"NotResource": "arn:aws:s3:::public/*"}),
    ]
    for content in good:
        create_rcp(org, content)
    assert len(orgs.list_policies(Filter=RCP)["Policies"]) == 2 + len(good)


# --- the guardrails --------------------------------------------------------------------------------


def test_guardrails_hold_whatever_iam_allows(server: Server, org: Org) -> None:
    """The issue's scenario. An SCP at an OU: the member account's administrator (AdministratorAccess) and its root
    user cannot do what it denies (orgs_manage_policies_scps.html). An RCP at the root: a principal of an account
    outside the organization, trusted by a member's role and holding every IAM permission, cannot assume it
    (orgs_manage_policies_rcps.html: RCPs bound "principals trying to access resources in a member account ...
    regardless of whether the principals belong to the same organizations or not"), while the organization's own
    principals still can, and the management account's roles are not bounded ("RCPs don't affect resources in the
    management account"). The denial says which policy type denied (troubleshoot_access-denied.html)."""
    orgs, oid = org.orgs, org.org["Id"]
    member = org.join()
    outsider = create_account(server)
    orgs.enable_policy_type(RootId=org.root, PolicyType=SCP)
    orgs.enable_policy_type(RootId=org.root, PolicyType=RCP)
    ou = orgs.create_organizational_unit(ParentId=org.root, Name="workloads")["OrganizationalUnit"]["Id"]
    orgs.move_account(AccountId=member.account_id, SourceParentId=org.root, DestinationParentId=ou)

    admin = user(server, member, managed=ADMIN)
    stranger = user(server, outsider, managed=ADMIN)  # every IAM and STS permission of its own account
    insider = user(server, org.management, managed=ADMIN)
    partner = role(server, member, [f"arn:aws:iam::{outsider.account_id}:root", f"arn:aws:iam::{org.management.account_id}:root"])
    home = role(server, org.management, f"arn:aws:iam::{outsider.account_id}:root")
    assert assumes(stranger, partner) and assumes(insider, partner) and assumes(stranger, home)

    # the SCP: no IAM users in the OU's accounts, for the administrator and the account's root alike
    no_users = orgs.create_policy(Name=unique("no-users"), Description="", Type=SCP,
                                  Content=scp("Deny", "iam:CreateUser"))["Policy"]["PolicySummary"]["Id"]
    orgs.attach_policy(PolicyId=no_users, TargetId=ou)
    name = unique("x")
    code, message = error(lambda: admin.client("iam").create_user(UserName=name))
    assert (code, message) == ("AccessDenied", f"User: {admin.arn} is not authorized to perform: iam:CreateUser on resource: "
                               f"arn:aws:iam::{member.account_id}:user/{name} {EXPLICIT_SCP}")
    root_iam = server.client("iam", key=member.key, secret=member.secret)
    assert error(lambda: root_iam.create_user(UserName=unique("x")))[0] == "AccessDenied"
    admin.client("iam").list_users()  # the rest of AdministratorAccess stands

    # the RCP: the organization's roles are assumed by the organization's principals only
    perimeter = create_rcp(org, rcp(only_org(oid, "sts:AssumeRole")))
    orgs.attach_policy(PolicyId=perimeter, TargetId=org.root)
    assert not assumes(stranger, partner)
    assert assumes(insider, partner)
    assert assumes(stranger, home)  # the management account's resources are not bounded
    # the member's own administrator is inside: RCPs cap outsiders, not the organization
    assert assumes(admin, role(server, member, f"arn:aws:iam::{member.account_id}:root"))
    orgs.detach_policy(PolicyId=perimeter, TargetId=org.root)
    assert assumes(stranger, partner)  # detached: the decision follows at once
    # an RCP at the member's OU bounds the organization's own principals too, the management account's included
    everyone = create_rcp(org, rcp(deny("sts:AssumeRole")))
    orgs.attach_policy(PolicyId=everyone, TargetId=ou)
    assert not assumes(insider, partner) and not assumes(stranger, partner)
    assert assumes(stranger, home)
    orgs.detach_policy(PolicyId=everyone, TargetId=ou)

    # an RCP's own words, on an STS call that says why: GetFederationToken's resource is the member's
    orgs.attach_policy(PolicyId=create_rcp(org, rcp(deny("sts:GetFederationToken"))), TargetId=member.account_id)
    code, message = error(lambda: admin.client("sts").get_federation_token(Name="fed"))
    assert (code, message) == ("AccessDenied", f"User: {admin.arn} is not authorized to perform: sts:GetFederationToken on "
                               f"resource: arn:aws:sts::{member.account_id}:federated-user/fed {EXPLICIT_RCP}")
    insider.client("sts").get_federation_token(Name="fed")  # the management account's resource: not bounded


def test_resource_org_keys_are_the_resources_accounts(server: Server, org: Org) -> None:
    """aws:ResourceOrgID and aws:ResourceOrgPaths are the organization and path of the resource's account, and
    aws:ResourceAccount its id (reference_policies_condition-keys.html): an identity policy of an account outside
    the organization that allows assuming only the organization's roles, or only one OU's, allows exactly those."""
    member = org.join()
    stray = create_account(server)
    outsider = create_account(server)
    oid = org.org["Id"]
    ou = org.orgs.create_organizational_unit(ParentId=org.root, Name="team")["OrganizationalUnit"]["Id"]
    trusted = f"arn:aws:iam::{outsider.account_id}:root"
    in_org, in_stray = role(server, member, trusted, None), role(server, stray, trusted, None)

    def allowing(condition: dict[str, Any]) -> Who:
        doc = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*", "Condition": condition}]})
        return user(server, outsider, doc)

    by_org = allowing({"StringEquals": {"aws:ResourceOrgID": oid}})
    by_ou = allowing({"ForAnyValue:StringLike": {"aws:ResourceOrgPaths": f"{oid}/{org.root}/{ou}/*"}})
    by_account = allowing({"StringEquals": {"aws:ResourceAccount": member.account_id}})
    assert assumes(by_org, in_org) and not assumes(by_org, in_stray)
    assert assumes(by_account, in_org) and not assumes(by_account, in_stray)
    assert not assumes(by_ou, in_org)
    org.orgs.move_account(AccountId=member.account_id, SourceParentId=org.root, DestinationParentId=ou)
    assert assumes(by_ou, in_org) and not assumes(by_ou, in_stray)


def test_service_linked_roles_and_service_principals(server: Server, org: Org) -> None:
    """orgs_manage_policies_rcps.html: RCPs do not apply "to calls made by service-linked roles", and "the
    service-linked role's trust policy is also not impacted by RCPs"; orgs_manage_policies_scps.html: SCPs do not
    affect service-linked roles. An AWS service principal assuming an ordinary role is bounded (the data perimeter's
    RCPs exempt services themselves, with aws:PrincipalIsAWSService: orgs_manage_policies_rcps_examples.html)."""
    orgs = org.orgs
    member = org.join()
    orgs.enable_policy_type(RootId=org.root, PolicyType=SCP)
    orgs.enable_policy_type(RootId=org.root, PolicyType=RCP)
    iam = server.client("iam", key=member.key, secret=member.secret)
    linked = iam.create_service_linked_role(AWSServiceName="ecs.amazonaws.com")["Role"]
    admin = user(server, member, managed=ADMIN)
    app = unique("app")
    iam.create_role(RoleName=app, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
    # a role the service-linked role may assume (its trust names it: no identity policy needed in the account)
    target = role(server, member, [linked["Arn"], admin.arn], None)

    def launch(name: str, service: str) -> httpx.Response:
        return admin.api("service-credentials", {"RoleName": name, "ServicePrincipal": service})

    nothing = create_rcp(org, rcp(deny("sts:AssumeRole")))
    orgs.attach_policy(PolicyId=nothing, TargetId=member.account_id)
    no_assume = orgs.create_policy(Name=unique("no-assume"), Description="", Type=SCP,
                                   Content=scp("Deny", "sts:AssumeRole"))["Policy"]["PolicySummary"]["Id"]
    orgs.attach_policy(PolicyId=no_assume, TargetId=member.account_id)
    # the service assumes its service-linked role whatever the RCP says; the ordinary role, not
    r = launch(linked["RoleName"], "ecs.amazonaws.com")
    assert r.status_code == 200, r.text
    refused = launch(app, "ecs-tasks.amazonaws.com")
    assert (refused.status_code, refused.json()["Error"]["Code"]) == (403, "AccessDenied"), refused.text
    assert refused.json()["Error"]["Message"].endswith(EXPLICIT_RCP), refused.text
    # the service-linked role's session passes both the SCP and the RCP that stop the administrator
    c = r.json()["Credentials"]
    slr = server.client("sts", key=c["AccessKeyId"], secret=c["SecretAccessKey"], token=c["SessionToken"])
    slr.assume_role(RoleArn=target, RoleSessionName="linked")
    assert not assumes(admin, target)
    # the perimeter that exempts services lets the service assume the ordinary role again
    orgs.detach_policy(PolicyId=nothing, TargetId=member.account_id)
    orgs.attach_policy(PolicyId=create_rcp(org, rcp(only_org(org.org["Id"], "sts:AssumeRole"))), TargetId=member.account_id)
    assert launch(app, "ecs-tasks.amazonaws.com").status_code == 200


# --- the authorisation API and the middleware --------------------------------------------------------


def forwarded(who: Who, path: str) -> dict[str, Any]:
    """A request an S3-like service received from ``who``, as the service forwards it to the authorisation API."""
    url = "http://objects.internal:9000"
    empty = hashlib.sha256(b"").hexdigest()
    req = AWSRequest("GET", url + path, data=b"", headers={"x-amz-content-sha256": empty})
    SigV4Auth(Credentials(who.key, who.secret), "s3", "us-east-1").add_auth(req)
    headers = dict(req.prepare().headers.items())
    headers["host"] = "objects.internal:9000"
    return {"Method": "GET", "Path": path, "Query": "", "Headers": headers, "PayloadHash": empty}


def test_authorisation_api_and_middleware_apply_scps_and_rcps(server: Server, org: Org) -> None:
    """A service of a member account asks about requests to its own resources: the RCPs of its account bound every
    principal, an outsider's included (orgs_manage_policies_rcps.html), the SCPs of the signer's account bound the
    organization's principals (orgs_manage_policies_scps.html), each denial in AWS's words
    (troubleshoot_access-denied.html) with an encoded message whose decoding names the policy type
    (API_DecodeAuthorizationMessage.html); the in-process middleware backend decides the same."""
    from iamroles.auth import sigv4
    from iamroles.middleware import Check, LocalAuthorizer

    orgs, oid = org.orgs, org.org["Id"]
    member = org.join()
    outsider = create_account(server)
    orgs.enable_policy_type(RootId=org.root, PolicyType=SCP)
    orgs.enable_policy_type(RootId=org.root, PolicyType=RCP)
    reads = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "sts:DecodeAuthorizationMessage"], "Resource": "*"}]})
    service = user(server, member, json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iamroles:AuthorizeRequest", "Resource": "*"}]}))
    stranger, colleague = user(server, outsider, reads), user(server, member, reads)
    obj = "arn:aws:s3:::data/report.csv"
    bucket_policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": stranger.arn}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data/*"}]})

    def ask(who: Who, **extra: Any) -> dict[str, Any]:
        r = service.api("authorize", {"Request": forwarded(who, "/data/report.csv"), "Action": "s3:GetObject",
                                      "Resource": obj, "ResourcePolicy": bucket_policy, **extra})
        assert r.status_code == 200, r.text
        return dict(r.json())

    assert ask(stranger)["Allowed"] and ask(colleague)["Allowed"]
    # the RCP: the member's objects are read by the organization only
    perimeter = create_rcp(org, rcp(only_org(oid, "s3:*")))
    orgs.attach_policy(PolicyId=perimeter, TargetId=member.account_id)
    answer = ask(stranger)
    assert (answer["Allowed"], answer["Decision"], answer["DeniedBy"]) == (False, "ExplicitDeny", "rcp")
    assert answer["Message"] == f"User: {stranger.arn} is not authorized to perform: s3:GetObject on resource: {obj} {EXPLICIT_RCP}"
    decoded = json.loads(stranger.client("sts").decode_authorization_message(
        EncodedMessage=answer["EncodedAuthorizationMessage"])["DecodedMessage"])
    assert decoded["deniedBy"] == "rcp" and decoded["explicitDeny"] is True
    assert [m["policyType"] for m in decoded["matchedStatements"]["items"]] == ["rcp"]
    assert perimeter in decoded["matchedStatements"]["items"][0]["policy"]
    keys = {c["key"]: [v["value"] for v in c["values"]["items"]] for c in decoded["context"]["conditions"]["items"]}
    assert keys["aws:resourceorgid"] == [oid] and keys["aws:resourceaccount"] == [member.account_id]
    assert "aws:principalorgid" not in keys  # the outsider is in no organization
    assert ask(colleague)["Allowed"]

    # the SCP: the member's own principals may not read, wherever the object is
    no_reads = orgs.create_policy(Name=unique("no-reads"), Description="", Type=SCP,
                                  Content=scp("Deny", "s3:GetObject"))["Policy"]["PolicySummary"]["Id"]
    orgs.attach_policy(PolicyId=no_reads, TargetId=member.account_id)
    answer = ask(colleague)
    assert (answer["Allowed"], answer["DeniedBy"]) == (False, "scp")
    assert answer["Message"].endswith(EXPLICIT_SCP)

    # the context cannot claim the resource's organization (IAM derives it), in any spelling
    for claim in ({"aws:ResourceOrgID": oid}, {"AWS:resourceorgpaths": f"{oid}/{org.root}/"}, {"aws:ResourceAccount": member.account_id}):
        r = service.api("authorize", {"Request": forwarded(stranger, "/data/report.csv"), "Action": "s3:GetObject",
                                      "Resource": obj, "ResourcePolicy": bucket_policy, "Context": claim})
        assert (r.status_code, r.json()["Error"]["Code"]) == (400, "ValidationError"), r.text
        assert "Allowed" not in r.json()

    # the in-process backend of the middleware, on the server's store, answers alike
    local = LocalAuthorizer.open(server.data_dir, server.db_url, account=member.account_id, cache_ttl=0, audit="none")
    try:
        def verdict(who: Who) -> Any:
            doc = forwarded(who, "/data/report.csv")
            http = sigv4.HttpRequest("GET", doc["Path"], "", sigv4.join_headers(list(doc["Headers"].items())), b"",
                                     doc["PayloadHash"], False)
            return local.decide_now(Check(http, "s3:GetObject", obj, resource_policy=bucket_policy, services=("s3",)))

        for who, kind, words in ((stranger, "rcp", EXPLICIT_RCP), (colleague, "scp", EXPLICIT_SCP)):
            v = verdict(who)
            assert (v.allowed, v.status, v.code, v.denied_by) == (False, 403, "AccessDenied", kind), v
            assert v.message is not None and words in v.message
        orgs.detach_policy(PolicyId=perimeter, TargetId=member.account_id)
        assert verdict(stranger).allowed
    finally:
        local.close()


# --- caches, nodes and races ---------------------------------------------------------------------


def test_an_rcp_change_reaches_every_node_within_the_cache_bound(server: Server, org: Org) -> None:
    """Two ``iamroles serve`` processes on one PostgreSQL: an RCP attached through one refuses an outsider's
    AssumeRole through the other within its --cache-ttl (1 s), and its detachment allows it again; the other node
    had the member's standing cached before. A change to one account's policies costs the others nothing: the
    cache is per account, invalidated by the organization's scope (docs/architecture.md)."""
    if server.db_url is None:
        pytest.skip("several nodes share a PostgreSQL database")
    member = org.join()
    outsider = create_account(server)
    orgs = org.orgs
    orgs.enable_policy_type(RootId=org.root, PolicyType=RCP)
    stranger = user(server, outsider, managed=ADMIN)
    partner = role(server, member, f"arn:aws:iam::{outsider.account_id}:root")
    other = start_server(server.data_dir.parent, server.db_url, account=server.account, access_key=server.access_key,
                         secret_key=server.secret_key)
    try:
        there = Who(other, stranger.arn, stranger.key, stranger.secret, stranger.account)
        assert assumes(there, partner)  # the member's standing is now cached there
        pid = create_rcp(org, rcp(only_org(org.org["Id"], "sts:AssumeRole")))
        orgs.attach_policy(PolicyId=pid, TargetId=member.account_id)
        attached_at = time.monotonic()
        while assumes(there, partner):
            assert time.monotonic() - attached_at < 5, "the other node still lets the outsider in"
            time.sleep(0.1)
        orgs.detach_policy(PolicyId=pid, TargetId=member.account_id)
        detached_at = time.monotonic()
        while not assumes(there, partner):
            assert time.monotonic() - detached_at < 5, "the other node still refuses after the RCP was detached"
            time.sleep(0.1)
    finally:
        stop_server(other)


def _race(server: Server, org: Org, call: Callable[[Any, str], Any], pids: list[str]) -> list[str]:
    def one(pid: str) -> str:
        client = server.client("organizations", key=org.management.key, secret=org.management.secret)
        try:
            call(client, pid)
        except ClientError as err:
            assert err.response["ResponseMetadata"]["HTTPStatusCode"] < 500, err.response
            return str(err.response["Error"]["Code"])
        return "ok"

    with ThreadPoolExecutor(len(pids)) as pool:
        return list(pool.map(one, pids))


def test_racing_rcp_attachments_and_detachments(server: Server, org: Org) -> None:
    """Six AttachPolicy calls at once onto an account that holds RCPFullAWSAccess: at most five RCPs end attached
    (orgs_reference_limits.html); then every RCP it holds detached at once: the custom ones go, RCPFullAWSAccess
    stays (orgs_manage_policies_rcps_syntax.html), and a refused call is an AWS error, never a 5xx. Meanwhile the
    deny of whichever RCP is attached holds for the outsider."""
    member = org.join()
    outsider = create_account(server)
    orgs = org.orgs
    orgs.enable_policy_type(RootId=org.root, PolicyType=RCP)
    stranger = user(server, outsider, managed=ADMIN)
    partner = role(server, member, f"arn:aws:iam::{outsider.account_id}:root")
    pids = [create_rcp(org, rcp(deny("sts:AssumeRole"))) for _ in range(6)]
    results = _race(server, org, lambda c, pid: c.attach_policy(PolicyId=pid, TargetId=member.account_id), pids)
    now = attached(org, member.account_id)
    assert RCP_FULL in now and len(now) == 5, (now, results)
    assert results.count("ok") == 4 and set(results) - {"ok"} <= {"ConstraintViolationException", "ConcurrentModificationException"}, results
    assert not assumes(stranger, partner)

    results = _race(server, org, lambda c, pid: c.detach_policy(PolicyId=pid, TargetId=member.account_id), now)
    assert attached(org, member.account_id) == [RCP_FULL], results
    assert results[now.index(RCP_FULL)] == "ConstraintViolationException"
    assert results.count("ok") == 4, results
    assert assumes(stranger, partner)


def test_an_rcp_caps_a_web_identity_trust_policy(server: Server, org: Org, tmp_path: Any) -> None:
    """A member's role trusts every subject of an OIDC provider; an RCP at the root denies
    sts:AssumeRoleWithWebIdentity to tokens of other repositories than the organization's (RCPs apply to STS's
    role-assuming actions, the principal's kind notwithstanding: orgs_manage_policies_rcps.html, the data
    perimeter's "trusted OIDC identity providers" RCP): the other repository's token is refused in STS's words
    for AssumeRoleWithWebIdentity, the organization's is not; detached, both are allowed."""
    import subprocess
    import sys

    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config
    from cryptography.hazmat.primitives.asymmetric import rsa

    from .test_oidc import claims, jwks_of, jwt

    host = "token.ci.example.com"
    member = org.join()
    org.orgs.enable_policy_type(RootId=org.root, PolicyType=RCP)
    iam = server.client("iam", key=member.key, secret=member.secret)
    provider = iam.create_open_id_connect_provider(Url=f"https://{host}", ClientIDList=["sts.amazonaws.com"],
                                                   ThumbprintList=["a" * 40])["OpenIDConnectProviderArn"]
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(jwks_of(key)))
    subprocess.run([sys.executable, "-m", "iamroles", "oidc", "jwks", provider, str(jwks), "--data-dir", str(server.data_dir),
                    *(["--db", server.db_url] if server.db_url else [])], check=True, capture_output=True)
    arn = iam.create_role(RoleName=unique("ci"), AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Federated": provider}, "Action": "sts:AssumeRoleWithWebIdentity",
         "Condition": {"StringEquals": {f"{host}:aud": "sts.amazonaws.com"}}}]}))["Role"]["Arn"]
    sts = boto3.client("sts", endpoint_url=server.url, region_name="us-east-1", config=Config(signature_version=UNSIGNED))

    def assumes_as(sub: str) -> bool:
        try:
            sts.assume_role_with_web_identity(RoleArn=arn, RoleSessionName="ci-run", WebIdentityToken=jwt(key, claims(sub=sub)))
        except ClientError as err:
            r = err.response
            assert (r["Error"]["Code"], r["Error"]["Message"]) == ("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")
            return False
        return True

    ours, theirs = "repo:acme/app:ref:refs/heads/main", "repo:evil/app:ref:refs/heads/main"
    assert assumes_as(ours) and assumes_as(theirs)
    pid = create_rcp(org, rcp(deny("sts:AssumeRoleWithWebIdentity", {"StringNotLikeIfExists": {f"{host}:sub": "repo:acme/*"}})))
    org.orgs.attach_policy(PolicyId=pid, TargetId=org.root)
    assert assumes_as(ours) and not assumes_as(theirs)
    org.orgs.detach_policy(PolicyId=pid, TargetId=org.root)
    assert assumes_as(theirs)
