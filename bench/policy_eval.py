#!/usr/bin/env python3
"""Policy-evaluation benchmark: iamroles beside moto, same workload, same run.

Workload (fixed; ``build_workload`` seeded with ``random.Random(2026)``):

* eight sessions of one role, ``arn:aws:sts::111122223333:assumed-role/WebApp/bench-N``
  (role ``arn:aws:iam::111122223333:role/app/WebApp``, tags team=blue,
  env=prod), with 8 attached identity policies (59 statements) and a
  permissions boundary (2 statements); request i comes from session i % 8;
* 10,000 requests (action, resource, context, time), each drawn from a
  scenario whose AWS outcome is known by construction, so that Allow,
  ExplicitDeny and ImplicitDeny are each a sizeable share of the mix.

Measured (best of ``--repeat`` runs, one thread, one core):

1. iamroles: policies parsed and compiled once (a server keeps them per
   principal); the timed loop is what a caller does per request: build the
   ``Request`` (principal, action, resource, context, time) and
   ``evaluate(request, policies)``.
2. moto (``moto.iam.access_control.IAMPolicy``), run the way moto's server
   authorises a caller: for each request, each identity policy's
   ``is_action_permitted(action, resource)``; DENIED stops with a deny, any
   PERMITTED allows, else implicit deny. moto ignores conditions, policy
   variables and the permissions boundary, so it evaluates the subset it
   supports; its decisions that differ from iamroles' are counted.
3. The ratio of decisions per second, iamroles / moto, against the 15x target (TARGET_RATIO).

Usage: ``python bench/policy_eval.py [--requests N] [--repeat N] [--json]``
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SEED = 2026
TARGET_RATIO = 15.0
SESSIONS = 8
ACCOUNT = "111122223333"
PRINCIPAL = {
    "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/WebApp/bench",
    "role_arn": f"arn:aws:iam::{ACCOUNT}:role/app/WebApp",
    "tags": {"team": "blue", "env": "prod"},
}
ALLOW, EXPLICIT_DENY, IMPLICIT_DENY = "Allow", "ExplicitDeny", "ImplicitDeny"
OUTCOMES = (ALLOW, EXPLICIT_DENY, IMPLICIT_DENY)

# --------------------------------------------------------------------------
# Policies (fixed documents; identical input to both evaluators)
# --------------------------------------------------------------------------

_CORP = ["10.0.0.0/8", "192.168.0.0/16"]


def _stmt(sid: str, effect: str, action: Any = None, resource: Any = "*",
          condition: dict[str, Any] | None = None, not_action: Any = None) -> dict[str, Any]:
    s: dict[str, Any] = {"Sid": sid, "Effect": effect}
    if not_action is not None:
        s["NotAction"] = not_action
    else:
        s["Action"] = action
    s["Resource"] = resource
    if condition:
        s["Condition"] = condition
    return s


def _doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def build_policies() -> tuple[list[tuple[str, dict[str, Any]]], dict[str, Any]]:
    """The 8 identity policies (name, document) and the permissions boundary."""
    a = ACCOUNT
    ddb = f"arn:aws:dynamodb:us-east-1:{a}:table"
    s3_app_data = _doc(
        _stmt("ReadAppData", "Allow", ["s3:Get*", "s3:List*"],
              ["arn:aws:s3:::app-data", "arn:aws:s3:::app-data/*"]),
        _stmt("WriteUploads", "Allow", ["s3:PutObject", "s3:DeleteObject"],
              "arn:aws:s3:::app-data/uploads/*"),
        _stmt("DenyInsecureWrites", "Deny", ["s3:PutObject", "s3:DeleteObject"],
              "arn:aws:s3:::app-data/*",
              {"Bool": {"aws:SecureTransport": "false"}}),
        _stmt("DenyUnencryptedPut", "Deny", "s3:PutObject", "arn:aws:s3:::app-data/*",
              {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}),
        _stmt("DenyBucketAdmin", "Deny",
              ["s3:DeleteBucket", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"], "*"),
        _stmt("PublicAssets", "Allow", "s3:GetObject", "arn:aws:s3:::public-assets-*/*"),
        _stmt("DenySecrets", "Deny", "s3:GetObject", "arn:aws:s3:::app-data/secrets/*"),
    )
    s3_home = _doc(
        _stmt("ListOwnPrefix", "Allow", "s3:ListBucket", "arn:aws:s3:::home-bucket",
              {"StringLike": {"s3:prefix": ["${aws:PrincipalTag/team}/*", "shared/*"]}}),
        _stmt("OwnTeamObjects", "Allow", ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
              "arn:aws:s3:::home-bucket/${aws:PrincipalTag/team}/*"),
        _stmt("SharedObjects", "Allow", "s3:GetObject", "arn:aws:s3:::home-bucket/shared/*"),
        _stmt("PrivateOnlyFromCorp", "Deny", "s3:*",
              "arn:aws:s3:::home-bucket/${aws:PrincipalTag/team}/private/*",
              {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
        _stmt("Reports", "Allow", "s3:GetObject", "arn:aws:s3:::reports-bucket/*",
              {"DateGreaterThan": {"aws:CurrentTime": "2026-01-01T00:00:00Z"}}),
        _stmt("ConfidentialEmbargo", "Deny", "s3:GetObject",
              "arn:aws:s3:::reports-bucket/confidential/*",
              {"DateLessThan": {"aws:CurrentTime": "2026-06-01T00:00:00Z"}}),
        _stmt("DenyReservedTagKeys", "Deny",
              ["s3:PutObjectTagging", "s3:DeleteObjectTagging"], "*",
              {"ForAnyValue:StringLike": {"aws:TagKeys": ["aws:*", "sec-*"]}}),
        _stmt("TagAppData", "Allow", "s3:PutObjectTagging", "arn:aws:s3:::app-data/*",
              {"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "env", "owner"]}}),
    )
    dynamodb = _doc(
        _stmt("AppTables", "Allow", ["dynamodb:*Item", "dynamodb:Query", "dynamodb:Scan"],
              f"{ddb}/app-*"),
        _stmt("AppIndexes", "Allow", ["dynamodb:Query", "dynamodb:Scan"],
              f"{ddb}/app-*/index/*"),
        _stmt("Describe", "Allow", ["dynamodb:Describe*", "dynamodb:List*"], "*"),
        _stmt("AuditAppendOnly", "Deny", ["dynamodb:DeleteItem", "dynamodb:UpdateItem"],
              "arn:aws:dynamodb:*:*:table/app-audit"),
        _stmt("TeamTables", "Allow",
              ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem"],
              f"{ddb}/team-*",
              {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}),
        _stmt("OtherTeamsTables", "Deny", "dynamodb:*Item", "arn:aws:dynamodb:*:*:table/team-*",
              {"StringNotEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}),
        _stmt("NoTableAdmin", "Deny",
              ["dynamodb:DeleteTable", "dynamodb:UpdateTable", "dynamodb:CreateTable"], "*"),
    )
    inst = f"arn:aws:ec2:*:{a}:instance/*"
    ec2 = _doc(
        _stmt("Describe", "Allow", "ec2:Describe*", "*"),
        _stmt("OperateTeamInstances", "Allow",
              ["ec2:StartInstances", "ec2:StopInstances", "ec2:RebootInstances"], inst,
              {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}),
        _stmt("TagWithKnownKeys", "Allow", "ec2:CreateTags", inst,
              {"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "env", "Name"]}}),
        _stmt("DenyGuardTagKeys", "Deny", "ec2:CreateTags", "*",
              {"ForAnyValue:StringEquals": {"aws:TagKeys": ["security", "compliance"]}}),
        _stmt("TerminateDev", "Allow", "ec2:TerminateInstances", inst,
              {"StringEquals": {"aws:ResourceTag/env": "dev"}}),
        _stmt("NeverTerminateProd", "Deny", "ec2:TerminateInstances", "*",
              {"StringEquals": {"aws:ResourceTag/env": "prod"}}),
        _stmt("RunInstances", "Allow", "ec2:RunInstances", "*"),
        _stmt("StopOnlyFromCorp", "Deny", ["ec2:StopInstances", "ec2:TerminateInstances"], "*",
              {"NotIpAddress": {"aws:SourceIp": _CORP}}),
        _stmt("UntagTeamInstances", "Allow", "ec2:DeleteTags", inst,
              {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}),
        _stmt("KeepOwnershipTags", "Deny", "ec2:DeleteTags", "*",
              {"ForAnyValue:StringEquals": {"aws:TagKeys": ["team", "env"]}}),
    )
    kms = _doc(
        _stmt("CryptoFromCorp", "Allow",
              ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*"],
              f"arn:aws:kms:us-east-1:{a}:key/*",
              {"IpAddress": {"aws:SourceIp": _CORP}}),
        _stmt("DecryptOnlyFromKnownNets", "Deny", "kms:Decrypt", "*",
              {"NotIpAddress": {"aws:SourceIp": _CORP + ["203.0.113.0/24"]}}),
        _stmt("Describe", "Allow", ["kms:DescribeKey", "kms:List*"], "*"),
        _stmt("NoKeyDestruction", "Deny",
              ["kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:PutKeyPolicy"], "*"),
        _stmt("CreateKey", "Allow", "kms:CreateKey", "*"),
        _stmt("EncryptTeamKeys", "Allow", "kms:Encrypt", f"arn:aws:kms:*:{a}:key/*",
              {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}),
    )
    logs = _doc(
        _stmt("AppLogs", "Allow", ["logs:CreateLogStream", "logs:PutLogEvents"],
              f"arn:aws:logs:*:{a}:log-group:/app/*"),
        _stmt("Read", "Allow", ["logs:Describe*", "logs:Get*", "logs:FilterLogEvents"], "*"),
        _stmt("NoDeletes", "Deny", ["logs:DeleteLogGroup", "logs:DeleteLogStream"], "*"),
        _stmt("TeamLogs", "Allow", "logs:*",
              f"arn:aws:logs:*:{a}:log-group:/team/${{aws:PrincipalTag/team}}/*"),
        _stmt("ProdRetentionFixed", "Deny", "logs:PutRetentionPolicy", "*",
              {"StringEquals": {"aws:PrincipalTag/env": "prod"}}),
        _stmt("QueryWindow", "Allow", "logs:StartQuery", "*",
              {"DateGreaterThan": {"aws:CurrentTime": "2026-01-01T00:00:00Z"},
               "DateLessThan": {"aws:CurrentTime": "2026-07-01T00:00:00Z"}}),
    )
    messaging = _doc(
        _stmt("AppQueues", "Allow",
              ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueue*"],
              f"arn:aws:sqs:us-east-1:{a}:app-*"),
        _stmt("TeamQueues", "Allow", "sqs:*", f"arn:aws:sqs:*:{a}:${{aws:PrincipalTag/team}}-*"),
        _stmt("NoQueueDeletionInProd", "Deny", ["sqs:DeleteQueue", "sqs:PurgeQueue"], "*",
              {"StringEquals": {"aws:PrincipalTag/env": "prod"}}),
        _stmt("PublishAppTopics", "Allow", "sns:Publish",
              [f"arn:aws:sns:us-east-1:{a}:app-events", f"arn:aws:sns:us-east-1:{a}:alerts-*"]),
        _stmt("SubscribeCompanyEmail", "Allow", "sns:Subscribe",
              f"arn:aws:sns:us-east-1:{a}:app-*",
              {"StringLike": {"sns:Endpoint": "*@example.com"}}),
        _stmt("ReadTopics", "Allow", ["sns:List*", "sns:GetTopicAttributes"], "*"),
        _stmt("CreateTopic", "Allow", "sns:CreateTopic", "*"),
        _stmt("NoTopicDeletion", "Deny", "sns:DeleteTopic", "*"),
    )
    platform_guard = _doc(
        _stmt("BreakGlassPowerUser", "Allow",
              not_action=["iam:*", "organizations:*", "account:*"], resource="*",
              condition={"DateGreaterThan": {"aws:CurrentTime": "2026-03-01T00:00:00Z"},
                         "DateLessThan": {"aws:CurrentTime": "2026-03-02T00:00:00Z"},
                         "IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
        _stmt("IamRead", "Allow", ["iam:Get*", "iam:List*"], "*"),
        _stmt("PassAppRolesToEcs", "Allow", "iam:PassRole", f"arn:aws:iam::{a}:role/app/*",
              {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}),
        _stmt("OnlyApprovedServices", "Deny",
              not_action=["s3:*", "dynamodb:*", "ec2:*", "kms:*", "logs:*", "sqs:*",
                          "sns:*", "iam:*", "sts:*"], resource="*"),
        _stmt("HandsOffAdminRoles", "Deny", "iam:*", "arn:aws:iam::*:role/admin/*"),
        _stmt("WhoAmI", "Allow", "sts:GetCallerIdentity", "*"),
        _stmt("NoCredentialMinting", "Deny",
              ["iam:CreateAccessKey", "iam:CreateUser", "iam:AttachRolePolicy",
               "iam:PutRolePolicy"], "*"),
    )
    boundary = _doc(
        _stmt("Ceiling", "Allow", [
            "s3:*", "dynamodb:*", "ec2:Describe*", "ec2:StartInstances", "ec2:StopInstances",
            "ec2:RebootInstances", "ec2:CreateTags", "ec2:DeleteTags", "ec2:TerminateInstances",
            "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:DescribeKey", "kms:List*",
            "logs:*", "sqs:*", "sns:Publish", "sns:Subscribe", "sns:List*",
            "sns:GetTopicAttributes", "iam:Get*", "iam:List*", "iam:PassRole",
            "sts:GetCallerIdentity"], "*"),
        _stmt("BoundaryDeny", "Deny", ["dynamodb:DeleteTable", "s3:DeleteBucket"], "*"),
    )
    identity = [
        ("S3AppData", s3_app_data), ("S3Home", s3_home), ("DynamoDB", dynamodb),
        ("EC2", ec2), ("KMS", kms), ("Logs", logs), ("Messaging", messaging),
        ("PlatformGuard", platform_guard),
    ]
    return identity, boundary


# --------------------------------------------------------------------------
# Requests: scenarios with their AWS outcome known by construction
# --------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class WorkItem:
    action: str
    resource: str
    context: dict[str, str | list[str]]
    time: datetime
    expected: str          # the AWS outcome the scenario was built to produce
    scenario: str


Scenario = Callable[[random.Random], tuple[str, str, dict[str, Any], datetime | None]]


def _ip_corp(r: random.Random) -> str:
    if r.random() < 0.8:
        return f"10.{r.randrange(256)}.{r.randrange(256)}.{r.randrange(1, 255)}"
    return f"192.168.{r.randrange(256)}.{r.randrange(1, 255)}"


def _ip_partner(r: random.Random) -> str:           # 203.0.113.0/24: known, not corporate
    return f"203.0.113.{r.randrange(1, 255)}"


def _ip_external(r: random.Random) -> str:
    return r.choice([f"198.51.100.{r.randrange(1, 255)}",
                     f"54.{r.randrange(256)}.{r.randrange(256)}.{r.randrange(1, 255)}"])


def _t(r: random.Random, start: str, end: str) -> datetime:
    a = datetime.fromisoformat(start).replace(tzinfo=UTC)
    b = datetime.fromisoformat(end).replace(tzinfo=UTC)
    return a + timedelta(seconds=r.randrange(int((b - a).total_seconds())))


def _default_time(r: random.Random) -> datetime:
    # April-May 2026: outside the break-glass day, inside the log-query window,
    # before the confidential-reports embargo ends.
    return _t(r, "2026-04-01", "2026-06-01")


def _key(r: random.Random) -> str:
    return r.choice(["orders", "invoices", "img", "tmp", "2026/04"]) + f"/{r.randrange(10**6):06d}.json"


def _inst(r: random.Random, region: str | None = None) -> str:
    region = region or r.choice(["us-east-1", "eu-west-1"])
    return f"arn:aws:ec2:{region}:{ACCOUNT}:instance/i-{r.getrandbits(60):015x}"


def _kms_key(r: random.Random, region: str = "us-east-1") -> str:
    return f"arn:aws:kms:{region}:{ACCOUNT}:key/{r.getrandbits(128):032x}"


def _tbl(name: str, region: str = "us-east-1") -> str:
    return f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{name}"


def _subset(r: random.Random, keys: list[str]) -> list[str]:
    return r.sample(keys, r.randint(1, len(keys)))


A = ACCOUNT
# Each scenario returns (action, resource, context overrides, time or None).
ALLOW_SCENARIOS: dict[str, Scenario] = {
    "s3-read-app-data": lambda r: (r.choice(["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging"]),
                                   f"arn:aws:s3:::app-data/{_key(r)}", {}, None),
    "s3-list-app-data": lambda r: ("s3:ListBucket", "arn:aws:s3:::app-data",
                                   {"s3:prefix": r.choice(["", "orders/", "uploads/"])}, None),
    "s3-upload-kms": lambda r: (r.choice(["s3:PutObject"]), f"arn:aws:s3:::app-data/uploads/{_key(r)}",
                                {"s3:x-amz-server-side-encryption": "aws:kms"}, None),
    "s3-delete-upload": lambda r: ("s3:DeleteObject", f"arn:aws:s3:::app-data/uploads/{_key(r)}", {}, None),
    "s3-home-own-team": lambda r: (r.choice(["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]),
                                   f"arn:aws:s3:::home-bucket/blue/{_key(r)}", {}, None),
    "s3-home-private-from-corp": lambda r: ("s3:GetObject", f"arn:aws:s3:::home-bucket/blue/private/{_key(r)}",
                                            {"aws:SourceIp": f"10.{r.randrange(256)}.0.{r.randrange(1, 255)}"}, None),
    "s3-home-list-prefix": lambda r: ("s3:ListBucket", "arn:aws:s3:::home-bucket",
                                      {"s3:prefix": r.choice(["blue/", "blue/docs/", "shared/", "shared/x/"])}, None),
    "s3-home-shared": lambda r: ("s3:GetObject", f"arn:aws:s3:::home-bucket/shared/{_key(r)}", {}, None),
    "s3-public-assets": lambda r: ("s3:GetObject",
                                   f"arn:aws:s3:::public-assets-{r.choice(['eu', 'us', 'cdn'])}/{_key(r)}", {}, None),
    "s3-reports": lambda r: ("s3:GetObject", f"arn:aws:s3:::reports-bucket/{_key(r)}", {}, None),
    "s3-reports-confidential-after-embargo": lambda r: (
        "s3:GetObject", f"arn:aws:s3:::reports-bucket/confidential/{_key(r)}", {},
        _t(r, "2026-06-01T00:00:01", "2026-06-30")),
    "s3-tag-app-data": lambda r: ("s3:PutObjectTagging", f"arn:aws:s3:::app-data/{_key(r)}",
                                  {"aws:TagKeys": _subset(r, ["team", "env", "owner"])}, None),
    "ddb-app-items": lambda r: (r.choice(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
                                          "dynamodb:DeleteItem", "dynamodb:BatchGetItem", "dynamodb:Query",
                                          "dynamodb:Scan"]),
                                _tbl(r.choice(["app-orders", "app-users", "app-sessions"])), {}, None),
    "ddb-app-audit-append": lambda r: (r.choice(["dynamodb:PutItem", "dynamodb:GetItem"]),
                                       _tbl("app-audit"), {}, None),
    "ddb-app-index": lambda r: ("dynamodb:Query", _tbl("app-orders") + "/index/by-date", {}, None),
    "ddb-team-table": lambda r: (r.choice(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"]),
                                 _tbl(f"team-{r.choice(['cache', 'jobs'])}"), {"aws:ResourceTag/team": "blue"}, None),
    "ddb-describe": lambda r: (r.choice(["dynamodb:DescribeTable", "dynamodb:ListTables"]),
                               _tbl("app-orders"), {}, None),
    "ec2-describe": lambda r: (r.choice(["ec2:DescribeInstances", "ec2:DescribeVpcs", "ec2:DescribeImages"]),
                               "*", {}, None),
    "ec2-operate-team": lambda r: (r.choice(["ec2:StartInstances", "ec2:StopInstances", "ec2:RebootInstances"]),
                                   _inst(r), {"aws:ResourceTag/team": "blue"}, None),
    "ec2-tag-known-keys": lambda r: ("ec2:CreateTags", _inst(r),
                                     {"aws:TagKeys": _subset(r, ["team", "env", "Name"])}, None),
    "ec2-terminate-dev": lambda r: ("ec2:TerminateInstances", _inst(r), {"aws:ResourceTag/env": "dev"}, None),
    "ec2-untag-name": lambda r: ("ec2:DeleteTags", _inst(r),
                                 {"aws:ResourceTag/team": "blue", "aws:TagKeys": ["Name"]}, None),
    "kms-crypto-corp": lambda r: (r.choice(["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey",
                                            "kms:GenerateDataKeyWithoutPlaintext"]), _kms_key(r), {}, None),
    "kms-encrypt-team-key-partner": lambda r: ("kms:Encrypt", _kms_key(r, "eu-west-1"),
                                               {"aws:ResourceTag/team": "blue", "aws:SourceIp": _ip_partner(r)},
                                               None),
    "kms-describe": lambda r: (r.choice(["kms:DescribeKey", "kms:ListKeys", "kms:ListAliases"]),
                               _kms_key(r), {}, None),
    "logs-app-write": lambda r: (r.choice(["logs:CreateLogStream", "logs:PutLogEvents"]),
                                 f"arn:aws:logs:us-east-1:{A}:log-group:/app/{r.choice(['web', 'worker'])}",
                                 {}, None),
    "logs-team-any": lambda r: (r.choice(["logs:CreateLogGroup", "logs:PutSubscriptionFilter", "logs:TagLogGroup"]),
                                f"arn:aws:logs:eu-west-1:{A}:log-group:/team/blue/{r.choice(['etl', 'api'])}",
                                {}, None),
    "logs-read": lambda r: (r.choice(["logs:DescribeLogGroups", "logs:GetLogEvents", "logs:FilterLogEvents"]),
                            f"arn:aws:logs:us-east-1:{A}:log-group:/other/x", {}, None),
    "logs-query-in-window": lambda r: ("logs:StartQuery", f"arn:aws:logs:us-east-1:{A}:log-group:/app/web",
                                       {}, None),
    "sqs-app": lambda r: (r.choice(["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage",
                                    "sqs:GetQueueAttributes", "sqs:GetQueueUrl"]),
                          f"arn:aws:sqs:us-east-1:{A}:app-{r.choice(['jobs', 'mail'])}", {}, None),
    "sqs-team-any": lambda r: (r.choice(["sqs:CreateQueue", "sqs:SetQueueAttributes", "sqs:SendMessage"]),
                               f"arn:aws:sqs:eu-west-1:{A}:blue-{r.choice(['etl', 'dlq'])}", {}, None),
    "sns-publish": lambda r: ("sns:Publish", f"arn:aws:sns:us-east-1:{A}:" +
                              r.choice(["app-events", "alerts-low", "alerts-high"]), {}, None),
    "sns-subscribe-email": lambda r: ("sns:Subscribe", f"arn:aws:sns:us-east-1:{A}:app-events",
                                      {"sns:Endpoint": f"{r.choice(['ops', 'dev', 'oncall'])}@example.com",
                                       "sns:Protocol": "email"}, None),
    "sns-read": lambda r: (r.choice(["sns:ListTopics", "sns:GetTopicAttributes"]),
                           f"arn:aws:sns:us-east-1:{A}:app-events", {}, None),
    "iam-read": lambda r: (r.choice(["iam:GetRole", "iam:ListRoles", "iam:ListAttachedRolePolicies"]),
                           f"arn:aws:iam::{A}:role/app/{r.choice(['WebApp', 'Worker'])}", {}, None),
    "iam-pass-role-ecs": lambda r: ("iam:PassRole", f"arn:aws:iam::{A}:role/app/Worker",
                                    {"iam:PassedToService": "ecs-tasks.amazonaws.com"}, None),
    "sts-whoami": lambda r: ("sts:GetCallerIdentity", "*", {}, None),
    "break-glass-in-window": lambda r: (*r.choice([("sqs:SendMessage", f"arn:aws:sqs:eu-west-1:{A}:ops-queue"),
                                                   ("s3:GetObject", "arn:aws:s3:::ops-bucket/runbook.md"),
                                                   ("dynamodb:Scan", _tbl("ops-state", "eu-west-1"))]),
                                        {"aws:SourceIp": f"10.9.{r.randrange(256)}.{r.randrange(1, 255)}"},
                                        _t(r, "2026-03-01T00:00:01", "2026-03-01T23:59:59")),
}

EXPLICIT_DENY_SCENARIOS: dict[str, Scenario] = {
    "s3-secrets": lambda r: ("s3:GetObject", f"arn:aws:s3:::app-data/secrets/{_key(r)}", {}, None),
    "s3-upload-insecure": lambda r: ("s3:PutObject", f"arn:aws:s3:::app-data/uploads/{_key(r)}",
                                     {"aws:SecureTransport": "false",
                                      "s3:x-amz-server-side-encryption": "aws:kms"}, None),
    "s3-delete-insecure": lambda r: ("s3:DeleteObject", f"arn:aws:s3:::app-data/uploads/{_key(r)}",
                                     {"aws:SecureTransport": "false"}, None),
    "s3-upload-unencrypted": lambda r: ("s3:PutObject", f"arn:aws:s3:::app-data/uploads/{_key(r)}",
                                        r.choice([{}, {"s3:x-amz-server-side-encryption": "AES256"}]), None),
    "s3-bucket-admin": lambda r: (r.choice(["s3:DeleteBucket", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"]),
                                  f"arn:aws:s3:::{r.choice(['app-data', 'home-bucket', 'logs-archive'])}",
                                  {}, None),
    "s3-home-private-outside": lambda r: (r.choice(["s3:GetObject", "s3:PutObject"]),
                                          f"arn:aws:s3:::home-bucket/blue/private/{_key(r)}",
                                          {"aws:SourceIp": r.choice([_ip_partner(r), _ip_external(r),
                                                                     f"192.168.1.{r.randrange(1, 255)}"])},
                                          None),
    "s3-reports-embargoed": lambda r: ("s3:GetObject", f"arn:aws:s3:::reports-bucket/confidential/{_key(r)}",
                                       {}, None),
    "s3-tag-reserved-keys": lambda r: (r.choice(["s3:PutObjectTagging", "s3:DeleteObjectTagging"]),
                                       f"arn:aws:s3:::app-data/{_key(r)}",
                                       {"aws:TagKeys": ["team", r.choice(["sec-level", "aws:cloudformation:stack"])]},
                                       None),
    "ddb-audit-tamper": lambda r: (r.choice(["dynamodb:DeleteItem", "dynamodb:UpdateItem"]),
                                   _tbl("app-audit"), {}, None),
    "ddb-other-team-table": lambda r: (r.choice(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"]),
                                       _tbl(f"team-{r.choice(['cache', 'jobs'])}"),
                                       r.choice([{"aws:ResourceTag/team": "red"}, {}]), None),
    "ddb-table-admin": lambda r: (r.choice(["dynamodb:DeleteTable", "dynamodb:CreateTable", "dynamodb:UpdateTable"]),
                                  _tbl("app-orders"), {}, None),
    "ec2-tag-guard-keys": lambda r: ("ec2:CreateTags", _inst(r),
                                     {"aws:TagKeys": ["Name", r.choice(["security", "compliance"])]}, None),
    "ec2-terminate-prod": lambda r: ("ec2:TerminateInstances", _inst(r), {"aws:ResourceTag/env": "prod"}, None),
    "ec2-stop-outside": lambda r: ("ec2:StopInstances", _inst(r),
                                   {"aws:ResourceTag/team": "blue", "aws:SourceIp": _ip_external(r)}, None),
    "ec2-untag-ownership": lambda r: ("ec2:DeleteTags", _inst(r),
                                      {"aws:ResourceTag/team": "blue", "aws:TagKeys": [r.choice(["team", "env"])]},
                                      None),
    "kms-decrypt-external": lambda r: ("kms:Decrypt", _kms_key(r), {"aws:SourceIp": _ip_external(r)}, None),
    "kms-destroy": lambda r: (r.choice(["kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:PutKeyPolicy"]),
                              _kms_key(r), {}, None),
    "logs-delete": lambda r: (r.choice(["logs:DeleteLogGroup", "logs:DeleteLogStream"]),
                              f"arn:aws:logs:us-east-1:{A}:log-group:" + r.choice(["/app/web", "/team/blue/etl"]),
                              {}, None),
    "logs-retention-prod": lambda r: ("logs:PutRetentionPolicy",
                                      f"arn:aws:logs:us-east-1:{A}:log-group:/team/blue/etl", {}, None),
    "sqs-delete-prod": lambda r: (r.choice(["sqs:DeleteQueue", "sqs:PurgeQueue"]),
                                  f"arn:aws:sqs:eu-west-1:{A}:blue-etl", {}, None),
    "unapproved-service": lambda r: (r.choice(["lambda:InvokeFunction", "ssm:GetParameter",
                                               "secretsmanager:GetSecretValue", "cloudformation:CreateStack"]),
                                     "*", {}, None),
    "unapproved-service-break-glass": lambda r: ("lambda:InvokeFunction",
                                                 f"arn:aws:lambda:us-east-1:{A}:function:ops",
                                                 {"aws:SourceIp": "10.1.2.3"},
                                                 _t(r, "2026-03-01T00:00:01", "2026-03-01T23:59:59")),
    "iam-admin-roles": lambda r: (r.choice(["iam:GetRole", "iam:PassRole", "iam:UpdateAssumeRolePolicy"]),
                                  f"arn:aws:iam::{A}:role/admin/Root{r.randrange(9)}", {}, None),
    "iam-credential-minting": lambda r: (r.choice(["iam:CreateAccessKey", "iam:AttachRolePolicy"]),
                                         f"arn:aws:iam::{A}:user/ci", {}, None),
    "sns-delete-topic": lambda r: ("sns:DeleteTopic", f"arn:aws:sns:us-east-1:{A}:app-events", {}, None),
}

IMPLICIT_DENY_SCENARIOS: dict[str, Scenario] = {
    "s3-other-bucket": lambda r: (r.choice(["s3:GetObject", "s3:PutObject"]),
                                  f"arn:aws:s3:::{r.choice(['other-bucket', 'finance', 'app-data-backup'])}/{_key(r)}",
                                  {}, None),
    "s3-write-outside-uploads": lambda r: ("s3:PutObject", f"arn:aws:s3:::app-data/orders/{_key(r)}",
                                           {"s3:x-amz-server-side-encryption": "aws:kms"}, None),
    "s3-home-list-other-prefix": lambda r: ("s3:ListBucket", "arn:aws:s3:::home-bucket",
                                            r.choice([{"s3:prefix": "red/"}, {"s3:prefix": ""}, {}]), None),
    "s3-home-other-team": lambda r: (r.choice(["s3:GetObject", "s3:PutObject"]),
                                     f"arn:aws:s3:::home-bucket/red/{_key(r)}", {}, None),
    "s3-reports-before-publication": lambda r: ("s3:GetObject", f"arn:aws:s3:::reports-bucket/{_key(r)}", {},
                                                _t(r, "2025-12-01", "2025-12-31")),
    "s3-tag-unknown-keys": lambda r: ("s3:PutObjectTagging", f"arn:aws:s3:::app-data/{_key(r)}",
                                      {"aws:TagKeys": ["team", "cost-center"]}, None),
    "ddb-app-other-region": lambda r: ("dynamodb:GetItem", _tbl("app-orders", "eu-west-1"), {}, None),
    "ddb-other-table": lambda r: ("dynamodb:Query", _tbl("billing"), {}, None),
    "ec2-operate-other-team": lambda r: (r.choice(["ec2:StartInstances", "ec2:RebootInstances"]), _inst(r),
                                         {"aws:ResourceTag/team": "red"}, None),
    "ec2-run-instances-boundary": lambda r: ("ec2:RunInstances", _inst(r), {}, None),
    "ec2-tag-unlisted-keys": lambda r: ("ec2:CreateTags", _inst(r), {"aws:TagKeys": ["team", "owner"]}, None),
    "ec2-terminate-staging": lambda r: ("ec2:TerminateInstances", _inst(r), {"aws:ResourceTag/env": "staging"},
                                        None),
    "kms-decrypt-partner": lambda r: ("kms:Decrypt", _kms_key(r), {"aws:SourceIp": _ip_partner(r)}, None),
    "kms-create-key-boundary": lambda r: ("kms:CreateKey", "*", {}, None),
    "kms-encrypt-other-team": lambda r: ("kms:Encrypt", _kms_key(r, "eu-west-1"),
                                         {"aws:ResourceTag/team": "red", "aws:SourceIp": _ip_partner(r)}, None),
    "logs-create-app-group": lambda r: ("logs:CreateLogGroup", f"arn:aws:logs:us-east-1:{A}:log-group:/app/new",
                                        {}, None),
    "logs-write-other-group": lambda r: ("logs:PutLogEvents", f"arn:aws:logs:us-east-1:{A}:log-group:/other/x",
                                         {}, None),
    "logs-query-after-window": lambda r: ("logs:StartQuery", f"arn:aws:logs:us-east-1:{A}:log-group:/app/web",
                                          {}, _t(r, "2026-07-01T00:00:01", "2026-09-30")),
    "sqs-other-team": lambda r: ("sqs:SendMessage", f"arn:aws:sqs:us-east-1:{A}:red-jobs", {}, None),
    "sqs-create-app": lambda r: ("sqs:CreateQueue", f"arn:aws:sqs:us-east-1:{A}:app-new", {}, None),
    "sns-publish-other": lambda r: ("sns:Publish", f"arn:aws:sns:us-east-1:{A}:billing", {}, None),
    "sns-subscribe-external": lambda r: ("sns:Subscribe", f"arn:aws:sns:us-east-1:{A}:app-events",
                                         {"sns:Endpoint": "https://hooks.example.net/x", "sns:Protocol": "https"},
                                         None),
    "sns-create-topic-boundary": lambda r: ("sns:CreateTopic", f"arn:aws:sns:us-east-1:{A}:new-topic", {}, None),
    "iam-pass-role-lambda": lambda r: ("iam:PassRole", f"arn:aws:iam::{A}:role/app/Worker",
                                       {"iam:PassedToService": "lambda.amazonaws.com"}, None),
    "iam-write": lambda r: (r.choice(["iam:CreateRole", "iam:UpdateRole", "iam:TagRole"]),
                            f"arn:aws:iam::{A}:role/app/New", {}, None),
    "break-glass-outside-window": lambda r: ("sqs:SendMessage", f"arn:aws:sqs:eu-west-1:{A}:ops-queue", {}, None),
    "break-glass-wrong-network": lambda r: ("sqs:SendMessage", f"arn:aws:sqs:eu-west-1:{A}:ops-queue",
                                            {"aws:SourceIp": f"192.168.7.{r.randrange(1, 255)}"},
                                            _t(r, "2026-03-01T00:00:01", "2026-03-01T23:59:59")),
    "break-glass-boundary": lambda r: ("ec2:RunInstances", _inst(r), {"aws:SourceIp": "10.1.1.1"},
                                       _t(r, "2026-03-01T00:00:01", "2026-03-01T23:59:59")),
}

# Share of each outcome in the drawn mix (the scenario is then uniform within).
MIX = ((ALLOW, 0.45, ALLOW_SCENARIOS),
       (EXPLICIT_DENY, 0.25, EXPLICIT_DENY_SCENARIOS),
       (IMPLICIT_DENY, 0.30, IMPLICIT_DENY_SCENARIOS))


def build_workload(n: int = 10_000, seed: int = SEED) -> list[WorkItem]:
    """The fixed request list: same ``n`` and ``seed`` give the same requests."""
    r = random.Random(seed)
    outcomes = [m[0] for m in MIX]
    weights = [m[1] for m in MIX]
    by_outcome = {m[0]: sorted(m[2].items()) for m in MIX}
    items: list[WorkItem] = []
    for _ in range(n):
        outcome = r.choices(outcomes, weights)[0]
        name, scenario = r.choice(by_outcome[outcome])
        action, resource, extra, when = scenario(r)
        context: dict[str, Any] = {"aws:SourceIp": _ip_corp(r), "aws:SecureTransport": "true"}
        context.update(extra)
        items.append(WorkItem(action, resource, context, when or _default_time(r), outcome, name))
    return items


# --------------------------------------------------------------------------
# Evaluators
# --------------------------------------------------------------------------

def _import_iamroles() -> Any:
    try:
        import iamroles.policy as pol
    except ImportError:
        src = Path(__file__).resolve().parent.parent / "src"
        if str(src) not in sys.path:
            sys.path.insert(0, str(src))
        import iamroles.policy as pol
    return pol


class IamrolesSide:
    def __init__(self, identity: list[tuple[str, dict[str, Any]]], boundary: dict[str, Any],
                 items: list[WorkItem]) -> None:
        pol = self.pol = _import_iamroles()
        # Parsed and compiled once, outside the timed loop.
        self.policies = pol.PolicySet(
            identity=tuple(pol.parse_policy(json.dumps(doc), pol.PolicyKind.IDENTITY) for _, doc in identity),
            boundary=pol.parse_policy(json.dumps(boundary), pol.PolicyKind.BOUNDARY),
        )
        # the sessions are made once (a server resolves a caller once per token); the requests are not
        principals = [pol.Principal.from_dict({**PRINCIPAL, "arn": f"{PRINCIPAL['arn']}-{n}"}) for n in range(SESSIONS)]
        self.inputs = [(principals[n % SESSIONS], i.action, i.resource, i.context, i.time) for n, i in enumerate(items)]

    def with_org(self, rcps: bool = False) -> IamrolesSide:
        """The same caller bounded by a four-level organization (root, two OUs, the account): FullAWSAccess at
        each level and, at the first OU, a guardrail the workload never meets (issue 17), so every decision is
        the same and what is measured is the SCP levels' cost. ``rcps``: the resources bounded too, by four RCP
        levels (RCPFullAWSAccess at each and, at the first OU, the data perimeter's RCP on every RCP-supported
        service the workload calls, which its principal, of the perimeter's account, passes: its condition is
        tested on most requests)."""
        pol = self.pol
        full = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'
        guard = ('{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["organizations:LeaveOrganization",'
                 '"cloudtrail:StopLogging","cloudtrail:DeleteTrail"],"Resource":"*"}]}')
        levels = [[pol.parse_policy(full, pol.PolicyKind.SCP, name=f"FullAWSAccess@{n}")] for n in range(4)]
        levels[1].append(pol.parse_policy(guard, pol.PolicyKind.SCP, name="guardrail"))
        rcp_levels: list[list[Any]] = []
        if rcps:
            rcp_full = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}'
            perimeter = json.dumps({"Version": "2012-10-17", "Statement": [{
                "Effect": "Deny", "Principal": "*", "Resource": "*",
                "Action": ["s3:*", "sqs:*", "kms:*", "dynamodb:*", "logs:*", "secretsmanager:*", "sts:*"],
                "Condition": {"StringNotEqualsIfExists": {"aws:PrincipalAccount": [ACCOUNT, "444455556666"]},
                              "BoolIfExists": {"aws:PrincipalIsAWSService": "false"}}}]})
            rcp_levels = [[pol.parse_policy(rcp_full, pol.PolicyKind.RCP, name=f"RCPFullAWSAccess@{n}")] for n in range(4)]
            rcp_levels[1].append(pol.parse_policy(perimeter, pol.PolicyKind.RCP, name="perimeter"))
        other = object.__new__(IamrolesSide)
        other.pol, other.inputs = pol, self.inputs
        other.policies = pol.PolicySet(identity=self.policies.identity, boundary=self.policies.boundary, scp=levels,
                                       rcp=rcp_levels)
        return other

    def run(self) -> list[str]:
        evaluate, policies, request = self.pol.evaluate, self.policies, self.pol.Request
        return [evaluate(request(principal, action, resource, None, context, when), policies).effect.value
                for principal, action, resource, context, when in self.inputs]


class MotoSide:
    """moto's IAMRequestBase.check_action_permitted, minus signature and key lookup."""

    def __init__(self, identity: list[tuple[str, dict[str, Any]]], items: list[WorkItem]) -> None:
        from moto.iam.access_control import IAMPolicy, PermissionResult
        self.denied, self.permitted = PermissionResult.DENIED, PermissionResult.PERMITTED
        # Parsed once (moto's own server re-parses every policy on every request).
        self.policies = [IAMPolicy(json.dumps(doc)) for _, doc in identity]
        self.inputs = [(i.action, i.resource) for i in items]

    def run(self) -> list[str]:
        denied, permitted, policies = self.denied, self.permitted, self.policies
        out: list[str] = []
        append = out.append
        for action, resource in self.inputs:
            allowed = False
            for p in policies:
                result = p.is_action_permitted(action, resource)
                if result == denied:
                    append(EXPLICIT_DENY)
                    break
                if result == permitted:
                    allowed = True
            else:
                append(ALLOW if allowed else IMPLICIT_DENY)
        return out


def _best_of(run: Callable[[], list[str]], repeat: int) -> tuple[float, float, list[list[str]]]:
    """(best seconds, first-run seconds, decisions of every run)."""
    times, results = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        decisions = run()
        times.append(time.perf_counter() - t0)
        results.append(decisions)
    return min(times), times[0], results


def _digest(decisions: list[str]) -> str:
    return hashlib.sha256("\n".join(decisions).encode()).hexdigest()


def _counts(decisions: list[str]) -> dict[str, int]:
    c = Counter(decisions)
    return {o: c.get(o, 0) for o in OUTCOMES}


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------

MOTO_UNSUPPORTED = ("Condition blocks (ignored: conditional Allows always allow, conditional Denies always deny)",
                    "policy variables such as ${aws:PrincipalTag/team} (matched literally, never match)",
                    "the permissions boundary (not evaluated)",
                    "case-insensitive action matching")


def run_benchmark(n_requests: int, repeat: int) -> dict[str, Any]:
    identity, boundary = build_policies()
    items = build_workload(n_requests)
    expected = [i.expected for i in items]
    result: dict[str, Any] = {
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "cores_used": 1,
        "cpu_count": os.cpu_count(),
        "requests": n_requests,
        "repeat": repeat,
        "workload": {
            "seed": SEED,
            "principal": PRINCIPAL["arn"],
            "identity_policies": len(identity),
            "identity_statements": sum(len(d["Statement"]) for _, d in identity),
            "boundary_statements": len(boundary["Statement"]),
            "scenarios": sum(len(m[2]) for m in MIX),
            "intended_outcomes": _counts(expected),
        },
        "target_ratio": TARGET_RATIO,
    }

    ir: dict[str, Any] = {"available": False}
    ir_decisions: list[str] | None = None
    try:
        side = IamrolesSide(identity, boundary, items)
    except Exception as exc:  # noqa: BLE001 -- absent or broken library: report it, still run moto
        ir["error"] = f"{type(exc).__name__}: {exc}"
    else:
        seconds, first, runs = _best_of(side.run, repeat)
        ir_decisions = runs[0]
        mismatches = [(i, d) for i, d in zip(items, ir_decisions) if i.expected != d]
        ir.update({
            "available": True,
            "best_seconds": seconds,
            "decisions_per_second": n_requests / seconds,
            "first_run_decisions_per_second": n_requests / first,
            "outcomes": _counts(ir_decisions),
            "deterministic": all(r == ir_decisions for r in runs),
            "decisions_sha256": _digest(ir_decisions),
            "differs_from_intended": len(mismatches),
            "differing_scenarios": dict(Counter(f"{i.scenario}: intended {i.expected}, got {d}"
                                                for i, d in mismatches).most_common()),
        })
        for key, bounded in (("with_scps", side.with_org()), ("with_scps_rcps", side.with_org(rcps=True))):
            s_seconds, _, s_runs = _best_of(bounded.run, repeat)
            ir[key] = {
                "levels": 4,
                "decisions_per_second": n_requests / s_seconds,
                "same_decisions": s_runs[0] == ir_decisions,
            }
    result["iamroles"] = ir

    import moto
    ms = MotoSide(identity, items)
    seconds, first, runs = _best_of(ms.run, repeat)
    moto_decisions = runs[0]
    reference = ir_decisions if ir_decisions is not None else expected
    result["moto"] = {
        "version": moto.__version__,
        "best_seconds": seconds,
        "decisions_per_second": n_requests / seconds,
        "first_run_decisions_per_second": n_requests / first,
        "outcomes": _counts(moto_decisions),
        "compared_with": "iamroles" if ir_decisions is not None else "intended outcomes",
        "differs": sum(a != b for a, b in zip(moto_decisions, reference)),
        "unsupported": list(MOTO_UNSUPPORTED),
    }
    if ir["available"]:
        ratio = ir["decisions_per_second"] / result["moto"]["decisions_per_second"]
        result["ratio"] = ratio
        result["target_met"] = ratio >= TARGET_RATIO
    else:
        result["ratio"] = None
        result["target_met"] = False
    return result


def _fmt_counts(c: dict[str, int], n: int) -> str:
    return ", ".join(f"{o} {c[o]} ({100 * c[o] / n:.1f}%)" for o in OUTCOMES)


def render_text(res: dict[str, Any]) -> str:
    n, w = res["requests"], res["workload"]
    lines = [
        "iamroles policy-evaluation benchmark",
        (f"Python {res['python']} on {res['platform']}; 1 core used (single process, single thread; "
        f"{res['cpu_count']} CPUs present)"),
        (f"workload: seed {w['seed']}, {n} requests, {w['identity_policies']} identity policies "
        f"({w['identity_statements']} statements) + permissions boundary ({w['boundary_statements']} statements), "
        f"{w['scenarios']} scenarios; best of {res['repeat']} runs"),
        f"intended mix:  {_fmt_counts(w['intended_outcomes'], n)}",
        "",
    ]
    ir = res["iamroles"]
    if ir["available"]:
        lines += [
            (f"iamroles:  {ir['decisions_per_second']:>12,.0f} decisions/s  "
            f"(best {ir['best_seconds'] * 1000:.1f} ms for {n}; first run "
            f"{ir['first_run_decisions_per_second']:,.0f}/s)"),
            f"  outcomes: {_fmt_counts(ir['outcomes'], n)}",
            (f"  deterministic across runs: {'yes' if ir['deterministic'] else 'NO'}; "
            f"differs from intended outcome: {ir['differs_from_intended']}"),
        ]
        for k, v in ir["differing_scenarios"].items():
            lines.append(f"    {v:>5}  {k}")
        for key, what in (("with_scps", "SCPs"), ("with_scps_rcps", "SCPs + RCPs")):
            sc = ir[key]
            label = f"  with {what} ({sc['levels']} levels each: root, 2 OUs, account):"
            lines.append(f"{label:<58}{sc['decisions_per_second']:>12,.0f} decisions/s "
                         f"({sc['decisions_per_second'] / ir['decisions_per_second']:.2f}x the plain figure); "
                         f"same decisions: {'yes' if sc['same_decisions'] else 'NO'}")
    else:
        lines.append(f"iamroles:  NOT AVAILABLE ({ir['error']})")
    m = res["moto"]
    lines += [
        (f"moto {m['version']}: {m['decisions_per_second']:>10,.0f} decisions/s  "
        f"(best {m['best_seconds'] * 1000:.1f} ms for {n}; first run "
        f"{m['first_run_decisions_per_second']:,.0f}/s; identity policies only)"),
        f"  outcomes: {_fmt_counts(m['outcomes'], n)}",
        "  moto evaluates only a subset; it does not support: " + "; ".join(m["unsupported"]),
        (f"  moto decisions that differ from {m['compared_with']}: {m['differs']} of {n} "
        f"({100 * m['differs'] / n:.1f}%)"),
        "",
    ]
    if res["ratio"] is not None:
        lines.append(f"ratio iamroles/moto: {res['ratio']:.1f}x  (target {res['target_ratio']:.0f}x: "
                     f"{'MET' if res['target_met'] else 'NOT MET'})")
    else:
        lines.append(f"ratio iamroles/moto: n/a (target {res['target_ratio']:.0f}x: NOT MET)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=10_000, help="number of requests (default 10000)")
    ap.add_argument("--repeat", type=int, default=5, help="timed runs per evaluator; best is kept (default 5)")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = ap.parse_args(argv)
    if args.requests < 1 or args.repeat < 1:
        ap.error("--requests and --repeat must be at least 1")
    res = run_benchmark(args.requests, args.repeat)
    print(json.dumps(res, indent=2) if args.json else render_text(res))
    return 0 if res["iamroles"]["available"] else 1


if __name__ == "__main__":
    sys.exit(main())
