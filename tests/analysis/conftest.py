"""Accounts for ``iamroles analyze`` built through the IAM API of a running ``iamroles serve`` (SQLite and
PostgreSQL), read back from its store: one planted with misconfigurations the analyses must find (and near misses
they must not), one clean.

The planted account (``OTHER`` is an account the store does not hold):

trust and external access
    ``open`` trusts everyone; ``partner`` trusts ``OTHER`` with no ``sts:ExternalId``, ``partner-safe`` with one;
    ``outer`` trusts ``OTHER`` and may assume ``inner``, which trusts ``outer`` only (a chain); ``ci`` trusts an
    OIDC provider's tokens for one audience;
escalation to an administrator (``admin`` and ``admin-role`` are administrators)
    ``self-writer`` writes its own policy; ``key-maker`` makes access keys for any user; ``truster`` rewrites the
    trust of ``locked-admin`` (which trusts ``admin`` only) and assumes it; ``launcher`` passes ``admin-task`` to
    ECS; ``ec2-launcher`` passes ``ec2-admin`` (in an instance profile) to EC2 and runs an instance; ``versioner``
    writes a new version of a policy attached to it; ``rollback`` makes an older, broader version of its policy
    the default; ``joiner`` adds itself to the ``admins`` group; ``unbinder`` (a role) removes its permissions
    boundary; ``hopper`` assumes ``hop-a``, which makes an access key for ``ops``, which attaches
    AdministratorAccess to itself (three hops); ``red`` assumes ``tagged-admin``, whose trust requires
    ``aws:PrincipalTag/team`` red; ``mfa-user`` assumes ``mfa-admin``, whose trust requires MFA (a condition the
    analysis cannot know: the path is reported with it);
broken paths (nothing to report)
    ``bounded`` may do everything but its boundary allows S3 only, so not its own removal; ``denied-hopper`` may
    assume ``hop-a`` but an explicit deny says no; ``blue`` may assume ``tagged-admin`` but is tagged blue;
    ``bounded-writer`` writes its own policy, and its boundary holds it to listing buckets;
a named permission
    ``seeker`` assumes ``data-reader``, which may read ``arn:aws:s3:::data/*``.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from iamroles.analysis.account import Snapshot
from iamroles.runtime import database_url
from iamroles.store import Store
from tests.server.conftest import Server, fresh_pg_database, start_server, stop_server

OTHER = "444455556666"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str | list[str], resource: str = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def trust(principal: Any, **extra: Any) -> str:
    return doc({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole", **extra})


def serve(tmp: Path, backend: str) -> Iterator[Server]:
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


def snapshot(srv: Server) -> Snapshot:
    store = Store(database_url(srv.data_dir, srv.db_url))
    try:
        return Snapshot.load(store)
    finally:
        store.close()


def arn(srv: Server, what: str) -> str:
    return f"arn:aws:iam::{srv.account}:{what}"


def plant(srv: Server) -> None:
    iam: Any = srv.client("iam")
    a = srv.account

    def user(name: str, *statements: dict[str, Any], tags: dict[str, str] | None = None, boundary: str | None = None) -> None:
        extra: dict[str, Any] = {"Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()]}
        if boundary:
            extra["PermissionsBoundary"] = boundary
        iam.create_user(UserName=name, **extra)
        if statements:
            iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=doc(*statements))

    def role(name: str, trusted: str, *statements: dict[str, Any], admin: bool = False, boundary: str | None = None) -> None:
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=trusted, **({"PermissionsBoundary": boundary} if boundary else {}))
        if statements:
            iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=doc(*statements))
        if admin:
            iam.attach_role_policy(RoleName=name, PolicyArn=ADMIN)

    account_root = {"AWS": f"arn:aws:iam::{a}:root"}
    # trust and external access
    role("open", trust({"AWS": "*"}))
    role("partner", trust({"AWS": f"arn:aws:iam::{OTHER}:root"}))
    role("partner-safe", trust({"AWS": f"arn:aws:iam::{OTHER}:root"}, Condition={"StringEquals": {"sts:ExternalId": "x-123"}}))
    role("outer", trust({"AWS": f"arn:aws:iam::{OTHER}:root"}), allow("sts:AssumeRole", arn(srv, "role/inner")))
    role("inner", trust({"AWS": arn(srv, "role/outer")}), allow("s3:GetObject", "arn:aws:s3:::inner/*"))
    provider = iam.create_open_id_connect_provider(Url="https://token.example.com", ClientIDList=["sts.amazonaws.com"],
                                                   ThumbprintList=["a" * 40])["OpenIDConnectProviderArn"]
    role("ci", doc({"Effect": "Allow", "Principal": {"Federated": provider}, "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {"StringEquals": {"token.example.com:aud": "sts.amazonaws.com"}}}))
    # administrators
    iam.create_user(UserName="admin")
    iam.attach_user_policy(UserName="admin", PolicyArn=ADMIN)
    role("admin-role", trust(account_root), admin=True)
    # escalation, one step
    user("self-writer", allow("iam:PutUserPolicy", arn(srv, "user/self-writer")))
    user("key-maker", allow("iam:CreateAccessKey", arn(srv, "user/*")))
    role("locked-admin", trust({"AWS": arn(srv, "user/admin")}), admin=True)
    user("truster", allow(["iam:UpdateAssumeRolePolicy", "sts:AssumeRole"], arn(srv, "role/locked-admin")))
    role("admin-task", trust({"Service": "ecs-tasks.amazonaws.com"}), admin=True)
    user("launcher", allow(["iam:PassRole", "iamroles:LaunchWorkload"], arn(srv, "role/admin-task")))
    role("ec2-admin", trust({"Service": "ec2.amazonaws.com"}), admin=True)
    iam.create_instance_profile(InstanceProfileName="ec2-admin")
    iam.add_role_to_instance_profile(InstanceProfileName="ec2-admin", RoleName="ec2-admin")
    user("ec2-launcher", allow("iam:PassRole", arn(srv, "role/ec2-admin"),
                               Condition={"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}),
         allow("ec2:RunInstances"))
    versioned = iam.create_policy(PolicyName="versioned", PolicyDocument=doc(allow("iam:CreatePolicyVersion", arn(srv, "policy/versioned"))))
    iam.create_user(UserName="versioner")
    iam.attach_user_policy(UserName="versioner", PolicyArn=versioned["Policy"]["Arn"])
    rollback = iam.create_policy(PolicyName="rollback", PolicyDocument=doc(allow("iam:SetDefaultPolicyVersion", arn(srv, "policy/rollback"))))
    iam.create_policy_version(PolicyArn=rollback["Policy"]["Arn"], PolicyDocument=doc(allow("*")), SetAsDefault=False)
    iam.create_user(UserName="rollback")
    iam.attach_user_policy(UserName="rollback", PolicyArn=rollback["Policy"]["Arn"])
    iam.create_group(GroupName="admins")
    iam.attach_group_policy(GroupName="admins", PolicyArn=ADMIN)
    user("joiner", allow("iam:AddUserToGroup", arn(srv, "group/admins")))
    unbind = iam.create_policy(PolicyName="s3-and-unbind", PolicyDocument=doc(allow(["s3:*", "iam:DeleteRolePermissionsBoundary"])))
    role("unbinder", trust({"Service": "lambda.amazonaws.com"}), allow("*"), boundary=unbind["Policy"]["Arn"])
    # escalation, three hops
    user("hopper", allow("sts:AssumeRole", arn(srv, "role/hop-a")))
    role("hop-a", trust(account_root), allow("iam:CreateAccessKey", arn(srv, "user/ops")))
    user("ops", allow("iam:AttachUserPolicy", arn(srv, "user/ops")))
    # conditions on the trust: one known (a tag), one not (MFA)
    role("tagged-admin", trust(account_root, Condition={"StringEquals": {"aws:PrincipalTag/team": "red"}}), admin=True)
    user("red", allow("sts:AssumeRole", arn(srv, "role/tagged-admin")), tags={"team": "red"})
    user("blue", allow("sts:AssumeRole", arn(srv, "role/tagged-admin")), tags={"team": "blue"})
    role("mfa-admin", trust(account_root, Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}}), admin=True)
    user("mfa-user", allow("sts:AssumeRole", arn(srv, "role/mfa-admin")))
    # broken paths
    s3_only = iam.create_policy(PolicyName="s3-only", PolicyDocument=doc(allow("s3:*")))
    role("bounded", trust({"Service": "lambda.amazonaws.com"}), allow("*"), boundary=s3_only["Policy"]["Arn"])
    user("denied-hopper", allow("sts:AssumeRole", arn(srv, "role/hop-a")), {"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": "*"})
    list_only = iam.create_policy(PolicyName="list-only", PolicyDocument=doc(allow(["s3:ListBucket", "iam:PutUserPolicy"])))
    user("bounded-writer", allow("iam:PutUserPolicy", arn(srv, "user/bounded-writer")), boundary=list_only["Policy"]["Arn"])
    # a named permission
    role("data-reader", trust(account_root), allow("s3:GetObject", "arn:aws:s3:::data/*"))
    user("seeker", allow("sts:AssumeRole", arn(srv, "role/data-reader")))


def plant_clean(srv: Server) -> None:
    iam: Any = srv.client("iam")
    a = srv.account
    iam.create_user(UserName="reader")
    iam.attach_user_policy(UserName="reader", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    iam.put_user_policy(UserName="reader", PolicyName="assume", PolicyDocument=doc(allow("sts:AssumeRole", f"arn:aws:iam::{a}:role/app")))
    iam.create_group(GroupName="readers")
    iam.attach_group_policy(GroupName="readers", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    iam.add_user_to_group(GroupName="readers", UserName="reader")
    iam.create_role(RoleName="app", AssumeRolePolicyDocument=trust({"AWS": f"arn:aws:iam::{a}:user/reader"}))
    iam.put_role_policy(RoleName="app", PolicyName="p", PolicyDocument=doc(allow("s3:GetObject", "arn:aws:s3:::app/*")))
    iam.create_role(RoleName="task", AssumeRolePolicyDocument=trust(
        {"Service": "ecs-tasks.amazonaws.com"}, Condition={"StringEquals": {"aws:SourceAccount": a}}))
    # an administrator, and a role only it may assume: nobody escalates to what it already holds
    iam.create_user(UserName="root-admin")
    iam.attach_user_policy(UserName="root-admin", PolicyArn=ADMIN)
    iam.create_role(RoleName="break-glass", AssumeRolePolicyDocument=trust({"AWS": f"arn:aws:iam::{a}:user/root-admin"}))
    iam.attach_role_policy(RoleName="break-glass", PolicyArn=ADMIN)
    # a deployer that may pass the task role to ECS: the task role holds nothing it lacks
    iam.put_role_policy(RoleName="task", PolicyName="p", PolicyDocument=doc(allow("sqs:SendMessage", f"arn:aws:sqs:us-east-1:{a}:jobs")))
    iam.create_user(UserName="deployer")
    iam.put_user_policy(UserName="deployer", PolicyName="p", PolicyDocument=doc(
        allow(["iam:PassRole", "iamroles:LaunchWorkload"], f"arn:aws:iam::{a}:role/task"),
        allow("sqs:SendMessage", f"arn:aws:sqs:us-east-1:{a}:jobs")))


@pytest.fixture(scope="package", params=["sqlite", "postgresql"])
def planted(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    gen = serve(tmp_path_factory.mktemp(f"analyze-{request.param}"), request.param)
    srv = next(gen)
    plant(srv)
    yield srv
    next(gen, None)


@pytest.fixture(scope="package")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    gen = serve(tmp_path_factory.mktemp("analyze-clean"), "sqlite")
    srv = next(gen)
    plant_clean(srv)
    yield srv
    next(gen, None)
