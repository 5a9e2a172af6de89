"""Privilege-escalation paths (iamroles.analysis.escalation) over the accounts of conftest.py, on SQLite and
PostgreSQL: the planted paths (one step to three hops) it must find, as the shortest path of each principal; the
paths a permissions boundary, an explicit deny or a trust condition breaks, which it must not report; a clean
account where it finds nothing.

The techniques are Rhino Security Labs' "AWS IAM Privilege Escalation Methods" (CreatePolicyVersion,
SetDefaultPolicyVersion, PassRole with a service, CreateAccessKey, Create/UpdateLoginProfile, Attach/Put
User/Role/Group Policy, AddUserToGroup, UpdateAssumeRolePolicy + AssumeRole) and the permissions boundary's removal;
each step is a request the evaluator must allow as IAM documents it:
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html (explicit deny, boundaries),
https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html (a boundary caps what a policy
written to the principal grants), https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html
(iam:PassRole with iam:PassedToService), https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
(two access keys per user, five versions per managed policy).
"""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from iamroles.analysis.escalation import Escalation, Target, escalations, paths_to_dot
from iamroles.cli import main
from tests.server.conftest import Server

from .conftest import snapshot


def _paths(srv: Server, target: Target | None = None) -> dict[str, Escalation]:
    return {p.principal.rsplit("/", 1)[1]: p for p in escalations(snapshot(srv), target=target)}


def _shape(p: Escalation) -> list[tuple[str, str, str]]:
    """(who, action, what) of each step, by name."""
    return [(s.who.rsplit("/", 1)[1], s.action, s.resource.rsplit("/", 1)[1]) for s in p.steps]


@pytest.fixture(scope="module")
def found(planted: Server) -> dict[str, Escalation]:
    return _paths(planted)


@pytest.mark.parametrize(("who", "shape"), [
    ("self-writer", [("self-writer", "iam:PutUserPolicy", "self-writer")]),
    ("key-maker", [("key-maker", "iam:CreateAccessKey", "admin")]),
    ("truster", [("truster", "iam:UpdateAssumeRolePolicy", "locked-admin")]),
    ("launcher", [("launcher", "iam:PassRole", "admin-task")]),
    ("ec2-launcher", [("ec2-launcher", "iam:PassRole", "ec2-admin")]),
    ("versioner", [("versioner", "iam:CreatePolicyVersion", "versioned")]),
    ("rollback", [("rollback", "iam:SetDefaultPolicyVersion", "rollback")]),
    ("joiner", [("joiner", "iam:AddUserToGroup", "admins")]),
    ("unbinder", [("unbinder", "iam:DeleteRolePermissionsBoundary", "unbinder")]),
    ("ops", [("ops", "iam:AttachUserPolicy", "ops")]),
    ("hop-a", [("hop-a", "iam:CreateAccessKey", "ops"), ("ops", "iam:AttachUserPolicy", "ops")]),
    ("hopper", [("hopper", "sts:AssumeRole", "hop-a"), ("hop-a", "iam:CreateAccessKey", "ops"), ("ops", "iam:AttachUserPolicy", "ops")]),
    ("red", [("red", "sts:AssumeRole", "tagged-admin")]),
    ("mfa-user", [("mfa-user", "sts:AssumeRole", "mfa-admin")]),
])
def test_planted_paths_are_found(found: dict[str, Escalation], who: str, shape: list[tuple[str, str, str]]) -> None:
    assert who in found, sorted(found)
    assert _shape(found[who]) == shape
    assert found[who].gains == "administrator"


def test_steps_say_what_else_they_need(found: dict[str, Escalation]) -> None:
    # EC2 runs the role through its instance profile: iam:PassRole (to ec2.amazonaws.com) and ec2:RunInstances
    assert found["ec2-launcher"].steps[0].also == ("ec2:RunInstances",)
    assert found["launcher"].steps[0].also == ("iamroles:LaunchWorkload",)
    assert found["truster"].steps[0].also == ("sts:AssumeRole",)
    # a trust condition the analysis cannot know is on the step, and the path says it is conditional
    assert found["mfa-user"].steps[0].conditions == ("Bool aws:MultiFactorAuthPresent true",) and found["mfa-user"].conditional
    assert not found["hopper"].conditional
    assert str(found["hopper"]).splitlines() == [
        f"{found['hopper'].principal}: administrator in 3 steps",
        "  1. sts:AssumeRole on role/hop-a",
        "  2. as role/hop-a: iam:CreateAccessKey on user/ops",
        "  3. as user/ops: iam:AttachUserPolicy on user/ops",
    ]
    assert str(found["mfa-user"]).splitlines()[0].endswith("administrator in 1 step (conditional)")
    assert found["hopper"].reaches.endswith("user/ops (with any permission)")
    d = found["hopper"].to_dict()
    assert [s["action"] for s in d["path"]] == ["sts:AssumeRole", "iam:CreateAccessKey", "iam:AttachUserPolicy"]


@pytest.mark.parametrize("who", [
    "bounded",  # its boundary allows S3 only, so not the removal of the boundary itself
    "denied-hopper",  # an explicit deny of sts:AssumeRole in its own policy
    "blue",  # the trust of tagged-admin requires aws:PrincipalTag/team red
    "bounded-writer",  # a policy it writes to itself is capped by its boundary (s3:ListBucket, iam:PutUserPolicy)
    "admin", "admin-role", "admin-task",  # administrators already
    "seeker", "data-reader", "open", "partner", "inner",  # nothing to climb with
])
def test_broken_paths_are_not_reported(found: dict[str, Escalation], who: str) -> None:
    assert who not in found, str(found.get(who))


def test_paths_to_a_named_permission(planted: Server) -> None:
    """--to s3:GetObject:ARN: seeker gets it by assuming data-reader; bounded-writer's boundary keeps it out even
    after writing itself a policy; whoever reaches an administrator reaches it too."""
    target = Target.parse("s3:GetObject:arn:aws:s3:::data/report.csv")
    assert target == Target("s3:GetObject", "arn:aws:s3:::data/report.csv")
    paths = _paths(planted, target)
    assert _shape(paths["seeker"]) == [("seeker", "sts:AssumeRole", "data-reader")]
    assert paths["seeker"].gains == "s3:GetObject on arn:aws:s3:::data/report.csv"
    assert "bounded-writer" not in paths and "data-reader" not in paths  # data-reader holds it already
    assert _shape(paths["self-writer"]) == [("self-writer", "iam:PutUserPolicy", "self-writer")]
    assert "bounded" not in paths  # s3:* within its boundary: it holds it already
    with pytest.raises(ValueError):
        Target.parse("GetObject")


def test_clean_account_has_no_paths(clean: Server) -> None:
    assert escalations(snapshot(clean)) == []


def test_picture(planted: Server, found: dict[str, Escalation]) -> None:
    dot = paths_to_dot([found["hopper"]], snapshot(planted))
    assert dot.startswith("digraph escalation") and "hop-a" in dot and "iam:AttachUserPolicy" in dot and "target: administrator" in dot


def test_cli(planted: Server, clean: Server, tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["--data-dir", str(planted.data_dir)] + (["--db", planted.db_url] if planted.db_url else [])
    out = runner.invoke(main, ["analyze", "escalation", *args])
    assert out.exit_code == 5 and "iam:PutUserPolicy" in out.output and "paths to administrator" in out.output
    hopper = f"arn:aws:iam::{planted.account}:user/hopper"
    svg = tmp_path / "paths.svg"
    out = runner.invoke(main, ["analyze", "escalation", *args, "--from", hopper, "--json", "--svg", str(svg), "--dot", str(tmp_path / "p.dot")])
    assert out.exit_code == 5, out.output
    data: dict[str, Any] = json.loads(out.stdout)  # (the fallback drawing speaks on stderr)
    assert [p["principal"] for p in data["paths"]] == [hopper] and len(data["paths"][0]["path"]) == 3
    assert ET.fromstring(svg.read_text()).tag.endswith("svg") and "hop-a" in svg.read_text()
    assert (tmp_path / "p.dot").read_text().startswith("digraph escalation")
    out = runner.invoke(main, ["analyze", "escalation", *args, "--to", "s3:GetObject:arn:aws:s3:::data/k", "--json"])
    assert out.exit_code == 5 and json.loads(out.output)["target"] == "s3:GetObject on arn:aws:s3:::data/k"
    bad = runner.invoke(main, ["analyze", "escalation", *args, "--to", "nonsense"])
    assert bad.exit_code == 2 and "--to" in bad.output
    assert runner.invoke(main, ["analyze", "escalation", "--data-dir", str(clean.data_dir)]).exit_code == 0
