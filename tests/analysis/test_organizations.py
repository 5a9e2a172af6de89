"""The analyses bounded by an organization's policies, on SQLite and PostgreSQL: an organization made with boto3's
``organizations`` client, two member accounts planted alike (a user that may write its own policy, a role that
trusts an account outside the organization, one that trusts the management account), one of them under an SCP that
denies ``iam:*`` and an RCP that caps outsiders.

AWS's pages: https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html (an SCP
bounds every user and role of a member account, the root included; the management account is not bounded),
https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps.html (an RCP bounds what any
principal may do to a member account's resources, STS's roles among them, and is the "data perimeter" that keeps
outsiders out), https://docs.aws.amazon.com/access-analyzer/latest/APIReference/API_ExternalAccessDetails.html
(``resourceControlPolicyRestriction``: APPLIED when an RCP took part).

"""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from iamroles.analysis.account import external_access
from iamroles.analysis.escalation import escalations
from iamroles.analysis.orgs import RCP
from tests.server.conftest import Server
from tests.server.test_organizations import Org, admin_of
from tests.server.test_partitions import Account

from .conftest import OTHER, allow, doc, serve, snapshot, trust

SCP = "SERVICE_CONTROL_POLICY"


@dataclass
class World:
    server: Server
    org: Org
    guarded: Account  # under the SCP and the RCP
    open: Account  # under FullAWSAccess only


def _plant(srv: Server, account: Account, management: str) -> None:
    iam: Any = admin_of(srv, account)
    me = account.account_id
    iam.create_user(UserName="self-writer")
    iam.put_user_policy(UserName="self-writer", PolicyName="p", PolicyDocument=doc(
        allow("iam:PutUserPolicy", f"arn:aws:iam::{me}:user/self-writer")))
    iam.create_role(RoleName="partner", AssumeRolePolicyDocument=trust({"AWS": f"arn:aws:iam::{OTHER}:root"}))
    iam.create_role(RoleName="sibling", AssumeRolePolicyDocument=trust({"AWS": f"arn:aws:iam::{management}:root"}))


def _perimeter(org: Org) -> str:
    """AWS's example data perimeter RCP: no sts:AssumeRole by a principal outside the organization (AWS services
    exempt by the condition, as the example has it)."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole", "Resource": "*",
        "Condition": {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": org.org["Id"]},
                      "BoolIfExists": {"aws:PrincipalIsAWSService": "false"}}}]})


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    gen = serve(tmp_path_factory.mktemp(f"analyze-org-{request.param}"), request.param)
    srv = next(gen)
    org = Org(srv)
    guarded, unguarded = org.join(), org.join()
    for account in (guarded, unguarded):
        _plant(srv, account, org.management.account_id)
    orgs: Any = org.orgs
    orgs.enable_policy_type(RootId=org.root, PolicyType=SCP)
    no_iam = orgs.create_policy(Name="no-iam", Description="d", Type=SCP, Content=doc({"Effect": "Deny", "Action": "iam:*", "Resource": "*"}))
    orgs.attach_policy(PolicyId=no_iam["Policy"]["PolicySummary"]["Id"], TargetId=guarded.account_id)
    # RCPs enabled (RCPFullAWSAccess everywhere) and the perimeter on the guarded account
    orgs.enable_policy_type(RootId=org.root, PolicyType=RCP)
    perimeter = orgs.create_policy(Name="perimeter", Description="d", Type=RCP, Content=_perimeter(org))
    orgs.attach_policy(PolicyId=perimeter["Policy"]["PolicySummary"]["Id"], TargetId=guarded.account_id)
    yield World(srv, org, guarded, unguarded)
    next(gen, None)


def test_an_scp_denying_iam_leaves_no_escalation_path(world: World) -> None:
    paths = escalations(snapshot(world.server))
    by_account = {(p.principal.split(":")[4], p.principal.rsplit("/", 1)[1]) for p in paths}
    assert (world.open.account_id, "self-writer") in by_account
    # the same user under the SCP: its PutUserPolicy is denied, and nobody there is an administrator to reach
    assert not [p for p in paths if p.principal.split(":")[4] == world.guarded.account_id]


def test_an_rcp_capping_outsiders_removes_the_external_finding(world: World) -> None:
    snap = snapshot(world.server)
    guarded = {(f.resource.rsplit("/", 1)[1], f.principal): f for f in external_access(snap, [world.guarded.account_id])}
    unguarded = {(f.resource.rsplit("/", 1)[1], f.principal): f for f in external_access(snap, [world.open.account_id])}
    outsider = f"arn:aws:iam::{OTHER}:root"
    management = f"arn:aws:iam::{world.org.management.account_id}:root"
    assert ("partner", outsider) in unguarded and unguarded[("partner", outsider)].to_dict()["resourceControlPolicyRestriction"] == "APPLIED"
    assert ("partner", outsider) not in guarded  # the perimeter keeps the outsider out
    # the management account is outside the zone but inside the organization: the perimeter lets it in
    assert ("sibling", management) in guarded and ("sibling", management) in unguarded


def test_the_management_account_is_not_bounded(world: World) -> None:
    snap = snapshot(world.server)
    standing = snap.orgs[world.org.management.account_id]
    assert standing.management and standing.scp == () and standing.rcp == ()
    member = snap.orgs[world.guarded.account_id]
    assert len(member.scp) == 2 and len(member.rcp) == 2  # root, account
    assert member.org_path == f"{world.org.org['Id']}/{world.org.root}/"
