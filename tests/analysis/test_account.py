"""``iamroles analyze`` over a real server's store (iamroles.analysis.account): the trust graph, external access and
unused access of the accounts in conftest.py, on SQLite and PostgreSQL.

AWS's pages: Access Analyzer's external access findings for IAM roles
(https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-resources.html#access-analyzer-iam-role, a
Federated principal's finding as in https://docs.aws.amazon.com/access-analyzer/latest/APIReference/API_GetFinding.html,
the fields of API_ExternalAccessDetails.html), its unused access findings
(https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-findings.html: unused roles, access keys, passwords
and permissions), and the trust policy rules of
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html.
"""
from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from iamroles.analysis.account import EXTERNAL_ACCOUNT as EXTERNAL
from iamroles.analysis.account import external_access, to_dot, trust_graph, unused_access
from iamroles.cli import main
from iamroles.runtime import database_url
from iamroles.store import Store
from tests.server.conftest import Server

from .conftest import OTHER, allow, doc, snapshot


def test_trust_graph_edges_are_the_evaluators(planted: Server) -> None:
    snap = snapshot(planted)
    a = planted.account
    edges = {(e.source, e.target): e for e in trust_graph(snap)}
    user, role = f"arn:aws:iam::{a}:user/", f"arn:aws:iam::{a}:role/"
    # a trust naming the account: the caller's own policies decide
    assert (user + "admin", role + "admin-role") in edges
    assert (user + "hopper", role + "hop-a") in edges
    assert (user + "self-writer", role + "admin-role") not in edges
    # an explicit deny in the caller's policies: no edge, whatever the trust says
    assert (user + "denied-hopper", role + "hop-a") not in edges
    # a condition on a key the analysis knows (the caller's tag) is evaluated; one it cannot know (MFA) is on the edge
    assert edges[(user + "red", role + "tagged-admin")].conditions == ()
    assert (user + "blue", role + "tagged-admin") not in edges
    assert edges[(user + "mfa-user", role + "mfa-admin")].conditions == ("Bool aws:MultiFactorAuthPresent true",)
    # a role naming another role: its sessions
    assert (role + "outer", role + "inner") in edges
    # an OIDC provider's edge, with the audience it must carry
    web = [e for e in edges.values() if e.target == role + "ci"]
    assert len(web) == 1 and web[0].action == "sts:AssumeRoleWithWebIdentity" and web[0].source.endswith("oidc-provider/token.example.com")
    assert web[0].conditions == ("StringEquals token.example.com:aud sts.amazonaws.com",)
    dot = to_dot(list(edges.values()), snap)
    assert dot.startswith("digraph trust") and "admin-role" in dot


def _findings(planted: Server, zone: list[str], **kw: Any) -> dict[str, list[Any]]:
    by_role: dict[str, list[Any]] = {}
    for f in external_access(snapshot(planted), zone, **kw):
        by_role.setdefault(f.resource.rsplit("/", 1)[1], []).append(f)
    return by_role


def test_external_access_finds_the_open_and_the_unguarded_trust(planted: Server) -> None:
    a = planted.account
    by_role = _findings(planted, [a])
    assert any(f.is_public for f in by_role["open"])
    assert any(f.principal.endswith(f"{OTHER}:root") and not f.conditions and not f.is_public for f in by_role["partner"])
    # the ExternalId-guarded trust is still reachable from outside, and reported with its condition
    guarded = by_role["partner-safe"]
    assert guarded and all(f.conditions for f in guarded)
    assert guarded[0].to_dict()["condition"] == {"sts:ExternalId": "x-123"}
    assert "admin-role" not in by_role and "hop-a" not in by_role  # trust their own account only
    # with the other account inside the zone, the partner roles are no longer external
    inside = _findings(planted, [a, OTHER])
    assert "partner" not in inside and "outer" not in inside and "inner" not in inside


def test_external_access_through_a_chain_of_roles(planted: Server) -> None:
    """An outsider who may assume ``outer`` reaches ``inner`` (which trusts ``outer`` only) by assuming it next."""
    a = planted.account
    chained = _findings(planted, [a])["inner"]
    assert [f.via for f in chained] == [(f"arn:aws:iam::{a}:role/outer",)] and chained[0].principal.endswith(f"{OTHER}:root")
    assert chained[0].to_dict()["via"] == [f"arn:aws:iam::{a}:role/outer"]
    assert "inner" not in _findings(planted, [a], chains=False)


def test_external_access_of_federated_users(planted: Server) -> None:
    """Whoever holds the provider's tokens is outside every zone (Access Analyzer's Federated findings)."""
    ci = _findings(planted, [planted.account])["ci"]
    assert len(ci) == 1
    d = ci[0].to_dict()
    assert d["principal"] == {"Federated": f"arn:aws:iam::{planted.account}:oidc-provider/token.example.com"}
    assert d["action"] == ["sts:AssumeRoleWithWebIdentity"] and d["condition"] == {"token.example.com:aud": "sts.amazonaws.com"}
    assert d["isPublic"] is False and d["resourceType"] == "AWS::IAM::Role" and d["resourceControlPolicyRestriction"] == "NOT_APPLICABLE"


def test_finding_ids_are_stable(planted: Server) -> None:
    first = {f.id for f in external_access(snapshot(planted), [planted.account])}
    again = {f.id for f in external_access(snapshot(planted), [planted.account])}
    assert first == again and len(first) == len(external_access(snapshot(planted), [planted.account]))


def test_unused_roles(planted: Server) -> None:
    snap = snapshot(planted)
    later = datetime.now(UTC) + timedelta(days=40)
    stale = {u.id.rsplit("/", 1)[1] for u in unused_access(snap, 30, now=later) if u.kind == "role"}
    assert {"open", "partner", "admin-role"} <= stale
    assert not unused_access(snap, 30)  # nothing is 30 days old yet


def _wait_for_trail(srv: Server, arn: str) -> None:
    deadline = datetime.now(UTC) + timedelta(seconds=10)  # read-only calls reach the trail within half a second
    while snapshot(srv).users[arn]["last_event"] is None and datetime.now(UTC) < deadline:
        time.sleep(0.2)


def test_unused_users_read_the_audit_trail(planted: Server) -> None:
    iam: Any = planted.client("iam")
    key = iam.create_access_key(UserName="self-writer")["AccessKey"]
    me: Any = planted.client("sts", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    me.get_caller_identity()
    arn = f"arn:aws:iam::{planted.account}:user/self-writer"
    _wait_for_trail(planted, arn)
    snap = snapshot(planted)
    acted = snap.users[arn]["last_event"]
    assert acted is not None and abs((acted - datetime.now(UTC)).total_seconds()) < 120
    later = {u.id: u for u in unused_access(snap, 30, now=datetime.now(UTC) + timedelta(days=40)) if u.kind == "user"}
    assert later[arn].last_used is not None  # its last activity, from the trail
    assert later[f"arn:aws:iam::{planted.account}:user/key-maker"].last_used is None  # never acted


def test_unused_permissions_passwords_and_keys(planted: Server) -> None:
    """A user allowed iam:GetUser, iam:ListRoles and s3:GetObject that calls GetUser only: s3 is an unused service,
    iam:ListRoles an unused action; its password (never used: iamroles has no console) and its unused key too."""
    iam: Any = planted.client("iam")
    name = "auditee"
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=doc(allow(["iam:GetUser", "iam:ListRoles", "s3:GetObject"])))
    iam.create_login_profile(UserName=name, Password="Correct-Horse-Battery-9")
    key = iam.create_access_key(UserName=name)["AccessKey"]
    idle = iam.create_access_key(UserName=name)["AccessKey"]
    time.sleep(1.1)
    start = datetime.now(UTC)  # the period starts after the user was made and before it acts
    time.sleep(1.1)
    theirs: Any = planted.client("iam", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    theirs.get_user()
    arn = f"arn:aws:iam::{planted.account}:user/{name}"
    _wait_for_trail(planted, arn)
    store = Store(database_url(planted.data_dir, planted.db_url))
    try:
        snap = snapshot(planted)
        found = unused_access(snap, 1, now=start + timedelta(days=1), store=store)
        young = unused_access(snap, 1, store=store)  # over the last day: the user is younger than that
    finally:
        store.close()
    mine = {(u.kind, u.id): u for u in found if u.id in (arn, idle["AccessKeyId"])}
    assert ("password", arn) in mine and ("access-key", idle["AccessKeyId"]) in mine
    assert ("user", arn) not in mine  # it acted in the period
    assert not any(u.id in (arn, idle["AccessKeyId"]) for u in young)
    unused = mine[("permission", arn)]
    assert unused.services == {"s3": (), "iam": ("iam:ListRoles",)}
    d = unused.to_dict()
    assert d["findingType"] == "UnusedPermission" and d["unusedServices"] == ["s3"] and d["unusedActions"] == {"iam": ["iam:ListRoles"]}


def test_clean_account_has_no_findings(clean: Server) -> None:
    snap = snapshot(clean)
    a = clean.account
    assert external_access(snap, [a]) == []
    store = Store(database_url(clean.data_dir, clean.db_url))
    try:
        assert unused_access(snap, 1, store=store) == []
    finally:
        store.close()
    edges = {(e.source, e.target, e.conditions) for e in trust_graph(snap)}
    assert (f"arn:aws:iam::{a}:user/reader", f"arn:aws:iam::{a}:role/app", ()) in edges
    assert any(src == "ecs-tasks.amazonaws.com" and cond for src, _, cond in edges)


def test_cli(planted: Server, clean: Server, tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["--data-dir", str(planted.data_dir)] + (["--db", planted.db_url] if planted.db_url else [])
    out = runner.invoke(main, ["analyze", "external-access", *args, "--zone", planted.account, "--json"])
    assert out.exit_code == 5, out.output
    findings = json.loads(out.output)["findings"]
    assert any(f["isPublic"] for f in findings) and all(f["id"] and f["findingType"] == "ExternalAccess" for f in findings)
    direct = runner.invoke(main, ["analyze", "external-access", *args, "--zone", planted.account, "--direct", "--json"])
    assert len(json.loads(direct.output)["findings"]) < len(findings)
    svg = tmp_path / "trust.svg"
    out = runner.invoke(main, ["analyze", "trust-graph", *args, "--svg", str(svg)])
    assert out.exit_code == 0, out.output
    root = ET.fromstring(svg.read_text())  # well-formed, whichever drew it
    assert root.tag.endswith("svg") and "admin-role" in svg.read_text()
    out = runner.invoke(main, ["analyze", "unused", *args, "--days", "30", "--json"])
    assert out.exit_code == 0 and json.loads(out.output) == {"unused": []}
    clean_args = ["--data-dir", str(clean.data_dir)]
    assert runner.invoke(main, ["analyze", "unused", *clean_args, "--days", "30"]).exit_code == 0
    assert runner.invoke(main, ["analyze", "external-access", *clean_args, "--zone", clean.account]).exit_code == 0
    missing = runner.invoke(main, ["analyze", "unused", "--data-dir", str(tmp_path / "nowhere")])
    assert missing.exit_code == 1 and "no store" in missing.output


def test_external_access_through_a_resource_policy_iamroles_does_not_store(planted: Server, tmp_path: Path) -> None:
    """A bucket policy a service gives the authoriser: the partner account may read, a statement open to everyone
    but held to the owner's account lets no outsider in, one held by a source IP is reported with its condition;
    a key policy (it must allow the principal itself) naming the partner is a finding too."""
    from iamroles.analysis.account import resource_policy_access
    from iamroles.policy import parse_policy

    a = planted.account
    bucket = parse_policy(doc(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::shared/*"},
        {"Effect": "Allow", "Principal": "*", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::shared/*",
         "Condition": {"StringEquals": {"aws:PrincipalAccount": a}}},
        {"Effect": "Allow", "Principal": "*", "Action": "s3:List*", "Resource": "arn:aws:s3:::shared",
         "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}}), "resource")
    snap = snapshot(planted)
    found = resource_policy_access(snap, [a], "arn:aws:s3:::shared/report.csv", bucket, owner=a)
    by_action = {(f.action, f.principal): f for f in found}
    assert (("s3:GetObject", f"arn:aws:iam::{OTHER}:root")) in by_action
    assert not any(f.action == "s3:PutObject" for f in found)  # the owner's account only
    assert not any(f.action == "s3:List*" for f in found)  # on the bucket, not this object
    listing = resource_policy_access(snap, [a], "arn:aws:s3:::shared", bucket, owner=a)
    [anyone] = [f for f in listing if f.action == "s3:List*" and f.principal == f"arn:aws:iam::{EXTERNAL}:root"]
    assert anyone.conditions == ("IpAddress aws:SourceIp 203.0.113.0/24",) and not anyone.is_public
    d = by_action[("s3:GetObject", f"arn:aws:iam::{OTHER}:root")].to_dict()
    assert d["resourceType"] == "AWS::S3::Bucket" and d["resourceOwnerAccount"] == a and d["isPublic"] is False
    key = f"arn:aws:kms:us-east-1:{a}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    key_policy = parse_policy(doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"}, "Action": "kms:Decrypt",
                                   "Resource": "*"}), "resource")
    [decrypt] = resource_policy_access(snap, [a], key, key_policy, must_grant=True)
    assert decrypt.action == "kms:Decrypt" and decrypt.to_dict()["resourceType"] == "AWS::KMS::Key"
    assert resource_policy_access(snap, [a, OTHER], key, key_policy, must_grant=True) == []
    # the same from the command line
    (tmp_path / "bucket.json").write_text(json.dumps(json.loads(doc(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"}, "Action": "s3:GetObject", "Resource": "*"}))))
    args = ["--data-dir", str(planted.data_dir)] + (["--db", planted.db_url] if planted.db_url else [])
    out = CliRunner().invoke(main, ["analyze", "external-access", *args, "--zone", a, "--direct", "--json",
                                    "--resource-policy", f"arn:aws:s3:::shared={tmp_path / 'bucket.json'}"])
    assert out.exit_code == 5, out.output
    assert any(f["resourceType"] == "AWS::S3::Bucket" and f["resourceOwnerAccount"] == a for f in json.loads(out.stdout)["findings"])
