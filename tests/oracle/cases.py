"""Generated authorisation questions, and how each evaluator is asked them.

A *case* is plain JSON-able data: a principal (from a small pool of users,
role sessions, the root user, a federated user, a service and an anonymous
caller, with tags drawn from a small pool), a target (action, resource and
the resource's account, same- or cross-account), request context keys, and
the policies that apply, by type: identity, permissions boundary, session,
SCP levels, RCP levels, and a resource-based policy (a bucket or queue
policy, a role trust policy for ``sts:AssumeRole``, a KMS key policy).

Statements are drawn from small pools of actions, resources, principals and
condition clauses that mostly concern the case's own principal and target,
so that statements match often and decisions spread over Allow, ExplicitDeny
and ImplicitDeny.

:func:`to_iamroles` builds ``iamroles.policy`` objects from a case;
:func:`to_simulation` builds the ``Simulation`` object of
@cloud-copilot/iam-simulate, with the request context keys AWS derives from
the principal written out here from the IAM User Guide (they are not taken
from iamroles, so a mistake there shows up as a disagreement).
"""
from __future__ import annotations

import fnmatch
import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

from iamroles.policy import PolicyKind, PolicySet, Principal, Request, parse_policy

A = "111122223333"  # the home account
B = "444455556666"  # another account
V = "2012-10-17"

# --------------------------------------------------------------------------- principals

PRINCIPALS: dict[str, dict[str, Any]] = {
    "alice": {"kind": "user", "arn": f"arn:aws:iam::{A}:user/alice", "account": A, "name": "alice", "id": "AIDAALICEEXAMPLE00001"},
    "bob": {"kind": "user", "arn": f"arn:aws:iam::{A}:user/division/bob", "account": A, "name": "bob", "id": "AIDABOBEXAMPLE0000002"},
    "carol": {"kind": "user", "arn": f"arn:aws:iam::{B}:user/carol", "account": B, "name": "carol", "id": "AIDACAROLEXAMPLE00003"},
    "reader": {
        "kind": "session", "arn": f"arn:aws:sts::{A}:assumed-role/Reader/alice", "account": A, "name": "alice",
        "role_arn": f"arn:aws:iam::{A}:role/Reader", "id": "AROAREADEREXAMPLE0001:alice",
    },
    "admin": {
        "kind": "session", "arn": f"arn:aws:sts::{A}:assumed-role/Admin/ops-1", "account": A, "name": "ops-1",
        "role_arn": f"arn:aws:iam::{A}:role/ops/Admin", "id": "AROAADMINEXAMPLE00002:ops-1",
    },
    "partner": {
        "kind": "session", "arn": f"arn:aws:sts::{B}:assumed-role/Partner/p1", "account": B, "name": "p1",
        "role_arn": f"arn:aws:iam::{B}:role/Partner", "id": "AROAPARTNEREXAMPLE003:p1",
    },
    "root": {"kind": "root", "arn": f"arn:aws:iam::{A}:root", "account": A},
    "dave": {"kind": "federated", "arn": f"arn:aws:sts::{A}:federated-user/dave", "account": A, "name": "dave"},
    "ecs": {"kind": "service", "service": "ecs-tasks.amazonaws.com"},
    "anonymous": {"kind": "anonymous"},
}
_PRINCIPAL_WEIGHTS = {"alice": 6, "bob": 3, "carol": 4, "reader": 6, "admin": 3, "partner": 4, "root": 1, "dave": 2, "ecs": 2, "anonymous": 1}

# --------------------------------------------------------------------------- targets

# (action, resource, resource account, resource policy kind or None, family)
TARGETS: list[tuple[str, str, str, str | None, str]] = [
    ("s3:GetObject", "arn:aws:s3:::b1/alice/q1.csv", A, "resource", "s3"),
    ("s3:GetObject", "arn:aws:s3:::b1/blue/r.csv", A, "resource", "s3"),
    ("s3:PutObject", "arn:aws:s3:::b2/k1", B, "resource", "s3"),
    ("s3:ListBucket", "arn:aws:s3:::b1", A, "resource", "s3"),
    ("sqs:SendMessage", f"arn:aws:sqs:us-east-1:{B}:queue1", B, "resource", "sqs"),
    ("sqs:SendMessage", f"arn:aws:sqs:us-east-1:{A}:queue2", A, "resource", "sqs"),
    ("ec2:TerminateInstances", f"arn:aws:ec2:us-east-1:{A}:instance/i-0abc", A, None, "ec2"),
    ("ec2:DescribeInstances", "*", A, None, "ec2"),
    ("iam:GetUser", f"arn:aws:iam::{A}:user/alice", A, None, "iam"),
    ("iam:GetUser", f"arn:aws:iam::{A}:user/division/bob", A, None, "iam"),
    ("kms:Decrypt", f"arn:aws:kms:us-east-1:{A}:key/1234abcd-12ab-34cd-56ef-1234567890ab", A, "key", "kms"),
    ("sts:AssumeRole", f"arn:aws:iam::{A}:role/Target", A, "trust", "sts"),
    ("sts:AssumeRole", f"arn:aws:iam::{B}:role/Shared", B, "trust", "sts"),
]

ACTIONS: dict[str, list[str]] = {
    "s3": ["s3:GetObject", "s3:Get*", "S3:getobject", "s3:?etObject", "s3:*Object", "s3:PutObject", "s3:List*", "s3:ListBucket", "s3:*"],
    "sqs": ["sqs:SendMessage", "sqs:Send*", "sqs:*", "SQS:sendmessage"],
    "ec2": ["ec2:TerminateInstances", "ec2:Terminate*", "ec2:Describe*", "ec2:DescribeInstances", "ec2:*"],
    "iam": ["iam:GetUser", "iam:Get*", "iam:*User*", "iam:CreateUser"],
    "kms": ["kms:Decrypt", "kms:*", "kms:Encrypt", "kms:De*"],
    "sts": ["sts:AssumeRole", "sts:*", "sts:Assume*", "sts:TagSession"],
}
OTHER_ACTIONS = ["*", "s3:*", "ec2:*", "iam:Get*", "sts:AssumeRole", "kms:*", "sqs:*"]
TRUST_ACTIONS = [("sts:AssumeRole",), ("sts:AssumeRole", "sts:TagSession"), ("sts:*",), ("sts:TagSession",)]

RESOURCES: dict[str, list[str]] = {
    "s3": [
        "arn:aws:s3:::b1/*", "arn:aws:s3:::b1/${aws:username}/*", "arn:aws:s3:::b1/${aws:PrincipalTag/team}/*",
        "arn:aws:s3:::b1/${aws:PrincipalTag/team, 'alice'}/*", "arn:aws:s3:::b?/*", "arn:aws:s3:::b1",
        "arn:aws:s3:::b2/*", "arn:aws:s3:::*", "arn:aws:s3:::b1/*/q?.csv", "arn:aws:s3:::B1/*", "arn:aws:s3:::b1/${*}",
        "arn:aws:s3:::b1/alice/q${?}.csv", "arn:aws:s3:::b1/${aws:PrincipalTag/TEAM}/*",
    ],
    "sqs": [f"arn:aws:sqs:*:{B}:queue*", f"arn:aws:sqs:us-east-1:{A}:queue2", "arn:aws:sqs:*:*:*", f"arn:aws:sqs:us-*:{A}:*", "arn:aws:sqs:us-east-1:*", "arn:aws:sqs:*"],
    "ec2": [f"arn:aws:ec2:*:{A}:instance/*", "arn:aws:ec2:us-east-1:*:instance/i-0abc", f"arn:aws:ec2:us-west-2:{A}:instance/*", "arn:aws:ec2:*", "arn:aws:ec2:us-east-1:*:instance/i-0ab?"],
    "iam": [
        f"arn:aws:iam::{A}:user/${{aws:username}}", f"arn:aws:iam::{A}:user/*", "arn:aws:iam::*:user/division/*",
        f"arn:aws:iam::{A}:user/alice",
    ],
    "kms": [f"arn:aws:kms:us-east-1:{A}:key/*", "arn:aws:kms:*:*:key/1234abcd-*", f"arn:aws:kms:us-east-1:{B}:key/*"],
    "sts": [f"arn:aws:iam::{A}:role/Target", "arn:aws:iam::*:role/*", f"arn:aws:iam::{B}:role/Shared"],
}

# --------------------------------------------------------------------------- resource-policy principals

AWS_PRINCIPALS = [
    A, f"arn:aws:iam::{A}:root", B, f"arn:aws:iam::{B}:root",
    PRINCIPALS["alice"]["arn"], PRINCIPALS["bob"]["arn"], PRINCIPALS["carol"]["arn"],
    PRINCIPALS["reader"]["role_arn"], PRINCIPALS["admin"]["role_arn"], PRINCIPALS["partner"]["role_arn"],
    PRINCIPALS["reader"]["arn"], PRINCIPALS["partner"]["arn"], PRINCIPALS["dave"]["arn"],
]
SERVICES = ["ecs-tasks.amazonaws.com", "ec2.amazonaws.com"]

# --------------------------------------------------------------------------- conditions

STRING_OPS = ["StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "StringLike", "StringNotLike"]
STRING_KEYS: dict[str, list[str]] = {
    "aws:PrincipalTag/team": ["blue", "red", "Blue", "b*", "${aws:username}", "*", "bl?e", "${aws:PrincipalTag/env}"],
    "AWS:principaltag/TEAM": ["blue", "red"],
    "aws:username": ["alice", "ALICE", "bob", "a*", "${aws:PrincipalTag/team}", "${aws:PrincipalTag/owner, 'alice'}"],
    "aws:PrincipalAccount": [A, B, "1111*"],
    "aws:PrincipalType": ["User", "AssumedRole", "Account", "FederatedUser"],
    "aws:userid": ["AIDAALICEEXAMPLE00001", "AROAREADEREXAMPLE0001:*", f"{A}:dave", A, "AROA*:${aws:username}"],
    "aws:RequestTag/env": ["prod", "dev", "${aws:PrincipalTag/env}", "p*"],
    "aws:PrincipalServiceName": ["ecs-tasks.amazonaws.com", "*.amazonaws.com"],
    "aws:ResourceAccount": [A, B],
}
ARN_OPS = ["ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"]
ARN_KEYS: dict[str, list[str]] = {
    "aws:PrincipalArn": [
        f"arn:aws:iam::{A}:role/*", f"arn:aws:iam::{A}:user/${{aws:username}}", "arn:aws:iam::*:user/*",
        PRINCIPALS["reader"]["role_arn"], f"arn:aws:iam::{A}:role/ops/*", f"arn:aws:iam::{A}:*", "arn:aws:iam::*", f"arn:aws:iam::{A}:role/${{aws:PrincipalTag/team}}",
    ],
    "aws:SourceArn": ["arn:aws:s3:::b1", "arn:aws:sns:*:*:topic*", f"arn:aws:sns:us-east-1:{A}:topic1"],
}
NUMERIC_OPS = ["NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals"]
NUMERIC_VALUES = ["300", "3600", "100", "0", "3600.5", "99.9"]
DATE_OPS = ["DateEquals", "DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan", "DateGreaterThanEquals"]
DATE_KEYS = ["aws:CurrentTime", "aws:EpochTime", "aws:TokenIssueTime"]
DATE_VALUES = ["2026-01-01T00:00:00Z", "2026-06-15T12:00:00Z", "2025-12-31T23:59:59Z", "1767225600", "1781524800", "2026-01-01T01:00:00+01:00", "2026-03-01"]
BOOL_KEYS = ["aws:SecureTransport", "aws:MultiFactorAuthPresent", "aws:ViaAWSService"]
IP_VALUES = ["10.0.0.0/8", "203.0.113.0/24", "10.1.2.3", "2001:db8::/32", "0.0.0.0/0", "10.1.2.3/32", "2001:db8::1"]
SET_KEYS: dict[str, list[str]] = {
    "aws:TagKeys": ["team", "env", "Owner", "t*", "owner"],
    "aws:CalledVia": ["athena.amazonaws.com", "cloudformation.amazonaws.com", "*.amazonaws.com"],
    "aws:PrincipalTag/team": ["blue", "red"],
}
# the keys STS puts in an AssumeRole request, which trust policies test (reference_policies_iam-condition-keys:
# sts:ExternalId, sts:RoleSessionName, sts:SourceIdentity; id_session-tags: aws:RequestTag, aws:TagKeys)
TRUST_KEYS: dict[str, list[str]] = {
    "sts:ExternalId": ["tenant-42", "Tenant-42", "tenant-*", "${aws:PrincipalAccount}"],
    "sts:RoleSessionName": ["alice", "${aws:username}", "ops-*", "ALICE"],
    "sts:SourceIdentity": ["alice", "a*"],
}
NULL_KEYS = ["aws:PrincipalTag/team", "aws:username", "aws:TokenIssueTime", "aws:SourceIp", "aws:TagKeys", "aws:RequestTag/env", "aws:MultiFactorAuthAge"]

# --------------------------------------------------------------------------- request context

TIMES = ["2026-01-01T00:00:00Z", "2026-03-01T08:30:00Z", "2026-07-01T00:00:00Z"]
TOKEN_TIMES = ["2025-12-31T23:00:00Z", "2026-02-28T08:00:00Z"]
SOURCE_IPS = ["10.1.2.3", "203.0.113.9", "8.8.8.8", "2001:db8::1"]


# Strategies are built once: building and validating a strategy per draw costs more than the draw.
_SAMPLED: dict[tuple[Any, ...], st.SearchStrategy[Any]] = {}
_INTS: dict[tuple[int, int], st.SearchStrategy[int]] = {}
_BOOLS = st.booleans()


def pick(draw: st.DrawFn, pool: Any) -> Any:
    """One element of ``pool``."""
    key = tuple(pool)
    strategy = _SAMPLED.get(key)
    if strategy is None:
        strategy = _SAMPLED[key] = st.sampled_from(key)
    return draw(strategy)


def num(draw: st.DrawFn, low: int, high: int) -> int:
    strategy = _INTS.get((low, high))
    if strategy is None:
        strategy = _INTS[(low, high)] = st.integers(low, high)
    return draw(strategy)


def chance(draw: st.DrawFn, n: int, of: int) -> bool:
    """True n times in ``of``."""
    return num(draw, 0, of - 1) < n


def some(draw: st.DrawFn, pool: Any, low: int = 1, high: int = 2) -> list[Any]:
    """Up to ``high`` distinct elements of ``pool``, in the pool's order."""
    pool = list(pool)
    count = min(num(draw, low, high), len(pool))
    chosen: list[Any] = []
    for _ in range(count):
        item = pick(draw, pool)
        if item not in chosen:
            chosen.append(item)
    return chosen


def _values(draw: st.DrawFn, pool: list[str], max_size: int = 2) -> str | list[str]:
    values = some(draw, pool, 1, max_size)
    return values[0] if len(values) == 1 and draw(_BOOLS) else values


def clause(draw: st.DrawFn, trust: bool = False) -> tuple[str, str, str | list[str]]:
    """One (operator, key, values) condition clause (``trust``: of a trust policy, which often tests the keys STS
    puts in an AssumeRole request)."""
    if trust and num(draw, 0, 2) == 0:
        key = pick(draw, sorted(TRUST_KEYS))
        op = pick(draw, STRING_OPS)
        pool = TRUST_KEYS[key] if "Like" in op else [v for v in TRUST_KEYS[key] if "*" not in v or "${" in v]
        if num(draw, 0, 3) == 0:
            op += "IfExists"
        return op, key, _values(draw, pool)
    family = pick(draw, ["string", "string", "string", "arn", "numeric", "date", "bool", "ip", "null", "set", "set"])
    if family == "string":
        key = pick(draw, sorted(STRING_KEYS))
        op = pick(draw, STRING_OPS)
        pool = STRING_KEYS[key]
        if "Like" not in op:
            pool = [v for v in pool if "*" not in v or "${" in v]
    elif family == "arn":
        key = pick(draw, sorted(ARN_KEYS))
        op = pick(draw, ARN_OPS)
        pool = ARN_KEYS[key]
    elif family == "numeric":
        key, op, pool = "aws:MultiFactorAuthAge", pick(draw, NUMERIC_OPS), NUMERIC_VALUES
    elif family == "date":
        key, op, pool = pick(draw, DATE_KEYS), pick(draw, DATE_OPS), DATE_VALUES
    elif family == "bool":
        key, op, pool = pick(draw, BOOL_KEYS), "Bool", ["true", "false"]
    elif family == "ip":
        key, op, pool = "aws:SourceIp", pick(draw, ["IpAddress", "NotIpAddress"]), IP_VALUES
    elif family == "null":
        return "Null", pick(draw, NULL_KEYS), pick(draw, ["true", "false"])
    else:
        key = pick(draw, sorted(SET_KEYS))
        base = pick(draw, ["StringEquals", "StringLike", "StringNotEquals", "StringNotLike", "StringEqualsIgnoreCase"])
        pool = SET_KEYS[key]
        if "Like" not in base:
            pool = [v for v in pool if "*" not in v]
        qualifier = pick(draw, ["ForAnyValue:", "ForAllValues:", "ForAnyValue:", "ForAllValues:", ""])
        op = qualifier + base
    if family != "set" and num(draw, 0, 3) == 0:
        op += "IfExists"
    return op, key, _values(draw, pool, 3 if family in ("ip", "set") else 2)


def conditions(draw: st.DrawFn, often: bool = False, trust: bool = False) -> dict[str, dict[str, Any]] | None:
    if num(draw, 0, 9) >= (6 if often else 3):
        return None
    out: dict[str, dict[str, Any]] = {}
    for op, key, values in [clause(draw, trust) for _ in range(num(draw, 1, 2))]:
        out.setdefault(op, {})[key] = values
    return out


def _glob(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value.lower(), pattern.lower())


# the services whose actions an RCP may name (orgs_manage_policies_rcps: S3, STS, KMS, SQS, Secrets Manager...)
RCP_FAMILIES = ("s3", "sts", "kms", "sqs")


def principal_element(draw: st.DrawFn, kind: str, me: dict[str, Any]) -> Any:
    """A Principal element; half the time it names the caller or its account."""
    if kind != "trust" and num(draw, 0, 9) == 0:
        return "*"
    pool = list(AWS_PRINCIPALS)
    mine = [p for p in (me.get("arn"), me.get("role_arn"), me.get("account")) if p]
    aws = some(draw, pool, 0, 2)
    if mine and draw(_BOOLS):
        aws.append(pick(draw, mine))
    if num(draw, 0, 19) == 0:
        aws = ["*"]
    element: dict[str, Any] = {}
    if aws:
        element["AWS"] = aws[0] if len(aws) == 1 else sorted(set(aws))
    if not aws or num(draw, 0, 5) == 0:
        services = some(draw, SERVICES)
        element["Service"] = services[0] if len(services) == 1 else services
    return element


def statement(draw: st.DrawFn, kind: str, family: str, me: dict[str, Any], action: str) -> dict[str, Any]:
    """A statement of a policy of ``kind``: mostly about the case's ``action`` and its service ``family``."""
    deny_weight = {"identity": 2, "boundary": 1, "session": 1, "scp": 2, "rcp": 10, "resource": 2, "key": 2, "trust": 1}[kind]
    deny = kind == "rcp" or num(draw, 0, 9) < deny_weight
    st_: dict[str, Any] = {"Effect": "Deny" if deny else "Allow"}
    if kind == "trust":
        st_["Action"] = list(pick(draw, TRUST_ACTIONS))
    else:
        if kind == "rcp":
            pool = [a for f in RCP_FAMILIES for a in ACTIONS[f]] if family not in RCP_FAMILIES else ACTIONS[family] + ACTIONS["s3"]
        else:
            pool = ACTIONS[family] + OTHER_ACTIONS
        hits = [a for a in pool if _glob(a, action)]
        if hits and num(draw, 0, 9) < 7:
            pool = hits
        actions = some(draw, pool)
        not_action = kind != "rcp" and num(draw, 0, 9) == 0
        st_["NotAction" if not_action else "Action"] = actions[0] if len(actions) == 1 else actions
    if kind in ("resource", "key", "trust", "rcp"):
        if kind == "rcp":
            st_["Principal"] = "*"
        elif deny and kind != "trust" and num(draw, 0, 5) == 0:
            st_["NotPrincipal"] = principal_element(draw, "resource", me)
            if st_["NotPrincipal"] == "*":
                st_["NotPrincipal"] = {"AWS": PRINCIPALS["carol"]["arn"]}
        else:
            st_["Principal"] = principal_element(draw, kind, me)
    if kind != "trust":
        if num(draw, 0, 9) < (4 if not deny else 2):
            resources: list[str] = ["*"]
        else:
            resources = some(draw, RESOURCES[family])
        not_resource = kind != "rcp" and num(draw, 0, 11) == 0
        if not_resource and resources == ["*"]:
            not_resource = False
        st_["NotResource" if not_resource else "Resource"] = resources[0] if len(resources) == 1 else resources
    cond = conditions(draw, often=deny, trust=kind == "trust")
    if cond:
        st_["Condition"] = cond
    return st_


def policy(draw: st.DrawFn, kind: str, family: str, me: dict[str, Any], action: str, min_size: int = 1, max_size: int = 3) -> dict[str, Any]:
    statements = [statement(draw, kind, family, me, action) for _ in range(num(draw, min_size, max_size))]
    if kind in ("scp", "boundary", "session") and num(draw, 0, 9) < 6:
        statements.insert(0, {"Effect": "Allow", "Action": "*", "Resource": "*"})  # FullAWSAccess and friends
    return {"Version": V, "Statement": statements}


# --------------------------------------------------------------------------- cases


@st.composite
def cases(draw: st.DrawFn, families: tuple[str, ...]) -> dict[str, Any]:
    targets = [t for t in TARGETS if t[4] in families]
    action, resource, resource_account, rp_kind, family = pick(draw, targets)
    names = [n for n in _PRINCIPAL_WEIGHTS for _ in range(_PRINCIPAL_WEIGHTS[n])]
    pname = pick(draw, names)
    me = dict(PRINCIPALS[pname])
    kind = me["kind"]
    if kind in ("service", "anonymous") and rp_kind is None:
        pname, me = "alice", dict(PRINCIPALS["alice"])
        kind = "user"
    iam_principal = kind in ("user", "session", "root", "federated")

    tags: dict[str, str] = {}
    if kind in ("user", "session"):
        for key, pool in (("team", ["blue", "red"]), ("env", ["prod", "dev"]), ("owner", ["alice"])):
            if num(draw, 0, 2) > 0:
                tags[key] = pick(draw, pool)
    case: dict[str, Any] = {"principal": pname, "tags": tags, "action": action, "resource": resource, "resource_account": resource_account}

    ctx: dict[str, Any] = {}
    if draw(_BOOLS):
        ctx["aws:SourceIp"] = pick(draw, SOURCE_IPS)
    if draw(_BOOLS):
        ctx["aws:SecureTransport"] = pick(draw, ["true", "false"])
    if iam_principal and draw(_BOOLS):
        ctx["aws:MultiFactorAuthPresent"] = pick(draw, ["true", "false"])
        if ctx["aws:MultiFactorAuthPresent"] == "true":
            ctx["aws:MultiFactorAuthAge"] = pick(draw, ["100", "4000"])
    if num(draw, 0, 2) == 0:
        ctx["aws:TagKeys"] = some(draw, ["team", "env", "Owner"])
    if num(draw, 0, 2) == 0:
        ctx["aws:RequestTag/env"] = pick(draw, ["prod", "dev"])
    if num(draw, 0, 3) == 0:
        ctx["aws:CalledVia"] = some(draw, ["athena.amazonaws.com", "cloudformation.amazonaws.com"])
    if num(draw, 0, 3) == 0:
        ctx["aws:SourceArn"] = pick(draw, ["arn:aws:s3:::b1", f"arn:aws:sns:us-east-1:{A}:topic1"])
    if num(draw, 0, 3) == 0:
        ctx["aws:ViaAWSService"] = pick(draw, ["true", "false"])
    if kind in ("session", "federated"):
        ctx["aws:TokenIssueTime"] = pick(draw, TOKEN_TIMES)
    if family == "sts":  # what STS adds to an AssumeRole request (the session name always; the rest when given)
        ctx["sts:RoleSessionName"] = pick(draw, ["alice", "ops-1", "ALICE"])
        if draw(_BOOLS):
            ctx["sts:ExternalId"] = pick(draw, ["tenant-42", "Tenant-42", A])
        if num(draw, 0, 3) == 0:
            ctx["sts:SourceIdentity"] = pick(draw, ["alice", "bob"])
    case["context"] = ctx
    case["time"] = pick(draw, TIMES)

    policies: dict[str, Any] = {}
    if iam_principal:
        policies["identity"] = [policy(draw, "identity", family, me, action) for _ in range(num(draw, 1, 2))]
        if kind in ("user", "session") and num(draw, 0, 3) == 0:
            policies["boundary"] = policy(draw, "boundary", family, me, action)
        if kind == "federated" or (kind == "session" and num(draw, 0, 3) == 0):
            if kind == "session" or num(draw, 0, 9) > 0:
                policies["session"] = [policy(draw, "session", family, me, action)]
        if num(draw, 0, 2) == 0:
            policies["scp"] = [[policy(draw, "scp", family, me, action, 1, 2) for _ in range(num(draw, 1, 2))] for _ in range(num(draw, 1, 2))]
    if num(draw, 0, 3) == 0:
        policies["rcp"] = [[policy(draw, "rcp", family, me, action, 1, 2)] for _ in range(num(draw, 1, 2))]
    if rp_kind in ("trust", "key") or (rp_kind and (draw(_BOOLS) or not iam_principal)):
        policies["resource"] = policy(draw, rp_kind or "resource", family, me, action, 1, 3)
        policies["resource_kind"] = rp_kind
    case["policies"] = policies
    return case


# --------------------------------------------------------------------------- iamroles

RCP_FULL_ACCESS = {"Version": V, "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}
_KINDS = {"resource": PolicyKind.RESOURCE, "key": PolicyKind.RESOURCE, "trust": PolicyKind.TRUST}


def _parse(doc: dict[str, Any], kind: PolicyKind, name: str) -> Any:
    return parse_policy(json.dumps(doc), kind, name=name)


def _time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def iamroles_principal(case: dict[str, Any]) -> Principal:
    me = PRINCIPALS[case["principal"]]
    if me["kind"] == "service":
        return Principal.from_dict({"service": me["service"]})
    if me["kind"] == "anonymous":
        return Principal.from_dict({"anonymous": True})
    return Principal.from_arn(me["arn"], role_arn=me.get("role_arn"), user_id=me.get("id"), tags=case["tags"])


def to_iamroles(case: dict[str, Any], drop: frozenset[str] = frozenset()) -> tuple[Request, PolicySet]:
    """The case as an iamroles ``Request`` and ``PolicySet`` (``drop``: context keys to leave out)."""
    p = case["policies"]
    context = {k: v for k, v in case["context"].items() if k.lower() not in drop}
    request = Request(iamroles_principal(case), case["action"], case["resource"], resource_account=case["resource_account"],
                      context=context, time=_time(case["time"]))
    resource = None
    if "resource" in p:
        resource = _parse(p["resource"], _KINDS[p["resource_kind"]], "resource")
    policies = PolicySet(
        identity=[_parse(d, PolicyKind.IDENTITY, f"identity{i}") for i, d in enumerate(p.get("identity", ()))],
        resource=resource,
        boundary=_parse(p["boundary"], PolicyKind.BOUNDARY, "boundary") if "boundary" in p else None,
        session=[_parse(d, PolicyKind.SESSION, f"session{i}") for i, d in enumerate(p.get("session", ()))],
        scp=[[_parse(d, PolicyKind.SCP, f"scp{n}.{i}") for i, d in enumerate(level)] for n, level in enumerate(p.get("scp", ()))],
        # every RCP level holds the AWS-managed RCPFullAWSAccess, which cannot be detached
        # (orgs_manage_policies_rcps); iam-simulate adds it by itself
        rcp=[
            [_parse(RCP_FULL_ACCESS, PolicyKind.RCP, "RCPFullAWSAccess")]
            + [_parse(d, PolicyKind.RCP, f"rcp{n}.{i}") for i, d in enumerate(level)]
            for n, level in enumerate(p.get("rcp", ()))
        ],
        # a KMS key policy must allow the caller itself, as a trust policy must
        # (reference_policies_evaluation-logic: "Role trust policies and KMS key policies are exceptions")
        resource_must_grant=p.get("resource_kind") == "key",
    )
    return request, policies


# --------------------------------------------------------------------------- iam-simulate


def _epoch(text: str) -> str:
    return str(int(_time(text).timestamp()))


def principal_keys(case: dict[str, Any]) -> dict[str, Any]:
    """The global condition keys AWS derives from the caller (reference_policies_condition-keys,
    reference_policies_variables#principaltable), written out independently of iamroles."""
    me = PRINCIPALS[case["principal"]]
    kind = me["kind"]
    if kind == "service":
        return {"aws:PrincipalIsAWSService": "true", "aws:PrincipalServiceName": me["service"]}
    if kind == "anonymous":
        return {"aws:PrincipalType": "Anonymous", "aws:userid": "anonymous", "aws:PrincipalAccount": "anonymous"}
    keys: dict[str, Any] = {"aws:PrincipalIsAWSService": "false", "aws:PrincipalAccount": me["account"]}
    if kind == "user":
        keys.update({"aws:PrincipalType": "User", "aws:PrincipalArn": me["arn"], "aws:userid": me["id"], "aws:username": me["name"]})
    elif kind == "session":
        keys.update({"aws:PrincipalType": "AssumedRole", "aws:PrincipalArn": me["role_arn"], "aws:userid": me["id"]})
    elif kind == "root":
        keys.update({"aws:PrincipalType": "Account", "aws:PrincipalArn": me["arn"], "aws:userid": me["account"]})
    elif kind == "federated":
        keys.update({"aws:PrincipalType": "FederatedUser", "aws:PrincipalArn": me["arn"], "aws:userid": f"{me['account']}:{me['name']}"})
    for k, v in case["tags"].items():
        keys[f"aws:PrincipalTag/{k}"] = v
    return keys


def to_simulation(case: dict[str, Any]) -> dict[str, Any]:
    """The case as an iam-simulate ``Simulation``."""
    me = PRINCIPALS[case["principal"]]
    p = case["policies"]
    if me["kind"] == "service":
        principal: Any = me["service"]
    elif me["kind"] == "anonymous":
        principal = {"type": "Anonymous"}
    else:
        principal = me["arn"]
    context = principal_keys(case)
    context["aws:CurrentTime"] = case["time"]
    context["aws:EpochTime"] = _epoch(case["time"])
    context["aws:ResourceAccount"] = case["resource_account"]
    context.update(case["context"])
    sim: dict[str, Any] = {
        "request": {
            "principal": principal,
            "action": case["action"],
            "resource": {"resource": case["resource"], "accountId": case["resource_account"]},
            "contextVariables": context,
        },
        "identityPolicies": [{"name": f"identity{i}", "policy": d} for i, d in enumerate(p.get("identity", ()))],
        "serviceControlPolicies": [
            {"orgIdentifier": f"level{n}", "policies": [{"name": f"scp{n}.{i}", "policy": d} for i, d in enumerate(level)]}
            for n, level in enumerate(p.get("scp", ()))
        ],
        "resourceControlPolicies": [
            {"orgIdentifier": f"level{n}", "policies": [{"name": f"rcp{n}.{i}", "policy": d} for i, d in enumerate(level)]}
            for n, level in enumerate(p.get("rcp", ()))
        ],
    }
    if "boundary" in p:
        sim["permissionBoundaryPolicies"] = [{"name": "boundary", "policy": p["boundary"]}]
    if p.get("session"):
        (sim["sessionPolicy"],) = p["session"]
    if "resource" in p:
        sim["resourcePolicy"] = p["resource"]
    return sim


ORACLE_EFFECTS = {"Allowed": "Allow", "ExplicitlyDenied": "ExplicitDeny", "ImplicitlyDenied": "ImplicitDeny"}
