"""``iamroles analyze`` over a real server's store (iamroles.analysis.account): accounts built through the IAM API
of a running ``iamroles serve`` (SQLite and PostgreSQL), read back from its store.

Planted misconfigurations the analyses must find: a role open to everyone, a role trusting another account with no
sts:ExternalId (Access Analyzer's external access,
https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-resources.html#access-analyzer-iam-role), a user
that can write its own policy, one that can make access keys for an administrator, a role another user can rewrite
the trust of and assume (privilege escalation), a role never used (unused access). A clean account where the same
analyses must find nothing.
"""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from iamroles.analysis.account import Snapshot, escalations, external_access, to_dot, trust_graph, unused_access
from iamroles.cli import main
from iamroles.runtime import database_url
from iamroles.store import Store
from tests.server.conftest import Server, fresh_pg_database, start_server, stop_server

OTHER = "444455556666"


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def trust(principal: Any, **extra: Any) -> str:
    return doc({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole", **extra})


def _server(tmp: Path, backend: str) -> Iterator[Server]:
    if backend == "postgresql":
        with fresh_pg_database("iamroles_analyze_") as url:
            srv = start_server(tmp, url)
            try:
                yield srv
            finally:
                stop_server(srv)
    else:
        srv = start_server(tmp, None)
        try:
            yield srv
        finally:
            stop_server(srv)


def _plant(srv: Server) -> None:
    iam: Any = srv.client("iam")
    a = srv.account
    iam.create_role(RoleName="open", AssumeRolePolicyDocument=trust({"AWS": "*"}))
    iam.create_role(RoleName="partner", AssumeRolePolicyDocument=trust({"AWS": f"arn:aws:iam::{OTHER}:root"}))
    iam.create_role(RoleName="partner-safe", AssumeRolePolicyDocument=trust(
        {"AWS": f"arn:aws:iam::{OTHER}:root"}, Condition={"StringEquals": {"sts:ExternalId": "x-123"}}))
    iam.create_user(UserName="admin")
    iam.attach_user_policy(UserName="admin", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    iam.create_role(RoleName="admin-role", AssumeRolePolicyDocument=trust({"AWS": f"arn:aws:iam::{a}:root"}))
    iam.attach_role_policy(RoleName="admin-role", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    iam.create_user(UserName="self-writer")
    iam.put_user_policy(UserName="self-writer", PolicyName="p", PolicyDocument=doc(
        {"Effect": "Allow", "Action": "iam:PutUserPolicy", "Resource": f"arn:aws:iam::{a}:user/self-writer"}))
    iam.create_user(UserName="key-maker")
    iam.put_user_policy(UserName="key-maker", PolicyName="p", PolicyDocument=doc(
        {"Effect": "Allow", "Action": "iam:CreateAccessKey", "Resource": f"arn:aws:iam::{a}:user/*"}))
    iam.create_role(RoleName="admin-task", AssumeRolePolicyDocument=trust({"Service": "ecs-tasks.amazonaws.com"}))
    iam.attach_role_policy(RoleName="admin-task", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    iam.create_user(UserName="launcher")
    iam.put_user_policy(UserName="launcher", PolicyName="p", PolicyDocument=doc(
        {"Effect": "Allow", "Action": ["iam:PassRole", "iamroles:LaunchWorkload"], "Resource": f"arn:aws:iam::{a}:role/admin-task"}))
    boundary = iam.create_policy(PolicyName="s3-only", PolicyDocument=doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}))
    iam.create_role(RoleName="bounded", AssumeRolePolicyDocument=trust({"Service": "lambda.amazonaws.com"}),
                    PermissionsBoundary=boundary["Policy"]["Arn"])
    iam.put_role_policy(RoleName="bounded", PolicyName="p", PolicyDocument=doc(
        {"Effect": "Allow", "Action": ["iam:DeleteRolePermissionsBoundary", "s3:*"], "Resource": "*"}))
    unbind = iam.create_policy(PolicyName="s3-and-unbind", PolicyDocument=doc(
        {"Effect": "Allow", "Action": ["s3:*", "iam:DeleteRolePermissionsBoundary"], "Resource": "*"}))
    iam.create_role(RoleName="unbinder", AssumeRolePolicyDocument=trust({"Service": "lambda.amazonaws.com"}),
                    PermissionsBoundary=unbind["Policy"]["Arn"])
    iam.put_role_policy(RoleName="unbinder", PolicyName="p", PolicyDocument=doc(
        {"Effect": "Allow", "Action": ["iam:DeleteRolePermissionsBoundary", "s3:*"], "Resource": "*"}))
    versioned = iam.create_policy(PolicyName="versioned", PolicyDocument=doc(
        {"Effect": "Allow", "Action": "iam:CreatePolicyVersion", "Resource": f"arn:aws:iam::{a}:policy/versioned"}))
    iam.create_user(UserName="versioner")
    iam.attach_user_policy(UserName="versioner", PolicyArn=versioned["Policy"]["Arn"])
    iam.create_user(UserName="truster")
    iam.put_user_policy(UserName="truster", PolicyName="p", PolicyDocument=doc(
        {"Effect": "Allow", "Action": ["iam:UpdateAssumeRolePolicy", "sts:AssumeRole"], "Resource": f"arn:aws:iam::{a}:role/admin-role"}))


def _clean(srv: Server) -> None:
    iam: Any = srv.client("iam")
    a = srv.account
    iam.create_user(UserName="reader")
    iam.attach_user_policy(UserName="reader", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    iam.put_user_policy(UserName="reader", PolicyName="assume", PolicyDocument=doc(
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": f"arn:aws:iam::{a}:role/app"}))
    iam.create_role(RoleName="app", AssumeRolePolicyDocument=trust({"AWS": f"arn:aws:iam::{a}:user/reader"}))
    iam.put_role_policy(RoleName="app", PolicyName="p", PolicyDocument=doc(
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::app/*"}))
    provider = iam.create_open_id_connect_provider(Url="https://token.example.com", ClientIDList=["sts.amazonaws.com"],
                                                   ThumbprintList=["a" * 40])["OpenIDConnectProviderArn"]
    iam.create_role(RoleName="ci", AssumeRolePolicyDocument=doc({
        "Effect": "Allow", "Principal": {"Federated": provider}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {"token.example.com:aud": "sts.amazonaws.com"}}}))
    iam.create_role(RoleName="task", AssumeRolePolicyDocument=trust(
        {"Service": "ecs-tasks.amazonaws.com"}, Condition={"StringEquals": {"aws:SourceAccount": a}}))


def _snapshot(srv: Server) -> Snapshot:
    store = Store(database_url(srv.data_dir, srv.db_url))
    try:
        return Snapshot.load(store)
    finally:
        store.close()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def planted(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    gen = _server(tmp_path_factory.mktemp(f"analyze-{request.param}"), request.param)
    srv = next(gen)
    _plant(srv)
    yield srv
    next(gen, None)


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    gen = _server(tmp_path_factory.mktemp("analyze-clean"), "sqlite")
    srv = next(gen)
    _clean(srv)
    yield srv
    next(gen, None)


def test_trust_graph_edges_are_the_evaluators(planted: Server) -> None:
    snap = _snapshot(planted)
    a = planted.account
    edges = {(e.source, e.target): e for e in trust_graph(snap)}
    # the account root trusts: identity policies decide; the truster may assume admin-role, self-writer may not
    assert (f"arn:aws:iam::{a}:user/truster", f"arn:aws:iam::{a}:role/admin-role") in edges
    assert (f"arn:aws:iam::{a}:user/self-writer", f"arn:aws:iam::{a}:role/admin-role") not in edges
    assert (f"arn:aws:iam::{a}:user/admin", f"arn:aws:iam::{a}:role/admin-role") in edges
    dot = to_dot(list(edges.values()), snap)
    assert dot.startswith("digraph trust") and "admin-role" in dot


def test_external_access_finds_the_open_and_the_unguarded_trust(planted: Server) -> None:
    a = planted.account
    findings = external_access(_snapshot(planted), [a])
    by_role: dict[str, list[Any]] = {}
    for f in findings:
        by_role.setdefault(f.resource.rsplit("/", 1)[1], []).append(f)
    assert any(f.is_public for f in by_role["open"])
    assert any(f.principal.endswith(f"{OTHER}:root") and not f.conditions for f in by_role["partner"])
    # the ExternalId-guarded trust is still reachable from outside, and reported with its condition
    assert all(f.conditions for f in by_role["partner-safe"])
    assert "admin-role" not in by_role  # trusts its own account only
    # with the other account inside the zone, the partner roles are no longer external
    inside = {f.resource.rsplit("/", 1)[1] for f in external_access(_snapshot(planted), [a, OTHER]) if OTHER in f.principal}
    assert "partner" not in inside


def test_escalation_paths(planted: Server) -> None:
    a = planted.account
    paths = escalations(_snapshot(planted))
    found = {(p.principal.rsplit("/", 1)[1], p.steps[-1][1]) for p in paths}
    assert ("self-writer", "iam:PutUserPolicy") in found
    assert ("key-maker", "iam:CreateAccessKey") in found
    assert ("truster", "iam:UpdateAssumeRolePolicy") in found
    assert ("launcher", "iam:PassRole") in found
    assert ("versioner", "iam:CreatePolicyVersion") in found
    # the boundary holds s3 only, so its own removal is not allowed by it: no path (the evaluator's answer)
    assert ("bounded", "iam:DeleteRolePermissionsBoundary") not in found
    assert ("unbinder", "iam:DeleteRolePermissionsBoundary") in found
    # administrators are not escalating; the open role's sessions have no permissions to escalate with
    assert not any(p.principal in (f"arn:aws:iam::{a}:user/admin", f"arn:aws:iam::{a}:role/admin-role") for p in paths)
    key_paths = [p for p in paths if p.steps[-1][1] == "iam:CreateAccessKey"]
    assert any(p.steps[-1][2] == f"arn:aws:iam::{a}:user/admin" for p in key_paths)


def test_unused_roles(planted: Server) -> None:
    snap = _snapshot(planted)
    later = datetime.now(UTC) + timedelta(days=40)
    stale = {u.id.rsplit("/", 1)[1] for u in unused_access(snap, 30, now=later) if u.kind == "role"}
    assert {"open", "partner", "admin-role"} <= stale
    assert not unused_access(snap, 30)  # nothing is 30 days old yet


def test_unused_users_read_the_audit_trail(planted: Server) -> None:
    iam: Any = planted.client("iam")
    key = iam.create_access_key(UserName="self-writer")["AccessKey"]
    me: Any = planted.client("sts", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    me.get_caller_identity()
    arn = f"arn:aws:iam::{planted.account}:user/self-writer"
    deadline = datetime.now(UTC) + timedelta(seconds=10)  # read-only calls reach the trail within half a second
    while _snapshot(planted).users[arn]["last_event"] is None and datetime.now(UTC) < deadline:
        time.sleep(0.2)
    snap = _snapshot(planted)
    acted = snap.users[arn]["last_event"]
    assert acted is not None and abs((acted - datetime.now(UTC)).total_seconds()) < 120
    later = {u.id: u for u in unused_access(snap, 30, now=datetime.now(UTC) + timedelta(days=40)) if u.kind == "user"}
    assert later[arn].last_used is not None  # its last activity, from the trail
    assert later[f"arn:aws:iam::{planted.account}:user/key-maker"].last_used is None  # never acted


def test_clean_account_has_no_findings(clean: Server) -> None:
    snap = _snapshot(clean)
    a = clean.account
    assert external_access(snap, [a]) == []
    assert escalations(snap) == []
    assert unused_access(snap, 1) == []
    edges = {(e.source, e.target, e.conditions) for e in trust_graph(snap)}
    assert (f"arn:aws:iam::{a}:user/reader", f"arn:aws:iam::{a}:role/app", ()) in edges
    assert any(src == "ecs-tasks.amazonaws.com" and cond for src, _, cond in edges)
    # an OIDC provider's edge, with the audience it must carry
    web = [e for e in trust_graph(snap) if e.target == f"arn:aws:iam::{a}:role/ci"]
    assert len(web) == 1 and web[0].action == "sts:AssumeRoleWithWebIdentity" and web[0].source.endswith("oidc-provider/token.example.com")
    assert web[0].conditions == ("StringEquals token.example.com:aud sts.amazonaws.com",)


def test_cli(planted: Server, clean: Server, tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["--data-dir", str(planted.data_dir)] + (["--db", planted.db_url] if planted.db_url else [])
    out = runner.invoke(main, ["analyze", "external-access", *args, "--zone", planted.account, "--json"])
    assert out.exit_code == 5, out.output
    assert any(f["isPublic"] for f in json.loads(out.output)["findings"])
    out = runner.invoke(main, ["analyze", "escalation", *args])
    assert out.exit_code == 5 and "iam:PutUserPolicy" in out.output
    svg = tmp_path / "trust.svg"
    out = runner.invoke(main, ["analyze", "trust-graph", *args, "--svg", str(svg)])
    assert out.exit_code == 0, out.output
    import xml.etree.ElementTree as ET

    root = ET.fromstring(svg.read_text())  # well-formed, whichever drew it
    assert root.tag.endswith("svg") and "admin-role" in svg.read_text()
    clean_args = ["--data-dir", str(clean.data_dir)]
    assert runner.invoke(main, ["analyze", "escalation", *clean_args]).exit_code == 0
    assert runner.invoke(main, ["analyze", "unused", *clean_args, "--days", "30"]).exit_code == 0
    missing = runner.invoke(main, ["analyze", "unused", "--data-dir", str(tmp_path / "nowhere")])
    assert missing.exit_code == 1 and "no store" in missing.output
