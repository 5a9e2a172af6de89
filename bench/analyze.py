#!/usr/bin/env python3
"""Analysis benchmark: proofs about the policy-evaluation bench's policies, and (when the store analyses exist)
analyze over a large account.

Proofs (``iamroles.analysis.proofs``) over the 8 identity policies of bench/policy_eval.py (59 statements, with
wildcards, conditions of every family and policy variables), as one policy set:

1. no new access from the set to itself with its statements shuffled and split differently: PASS, a proof;
2. no new access from the set to the set plus one broader statement: FAIL, with a counterexample the evaluator
   confirms;
3. access not granted: ``dynamodb:DeleteTable`` on ``*`` (PASS) and ``s3:PutObject`` on an uploads key (FAIL).

And over policies that name principals (every caller, in every setting of its other policies): a bucket policy of
9 statements (two partner accounts, a role of the account, CloudTrail and AWS Config with aws:SourceAccount, the
organization by aws:PrincipalOrgID, a Deny without TLS, a Deny NotPrincipal guard on deletions) and a role trust
policy of 4 (a role of the account, a partner account with sts:ExternalId, GitHub's OIDC provider pinned to a
repository, EC2):

4. no new access from each to itself regrouped (PASS); to itself with a partner account added, the partner's
   sts:ExternalId dropped, and the GitHub subject widened (FAIL each);
5. access not granted: writes to an account the bucket policy does not name (PASS), reads to it (FAIL: it may be
   in the organization), deletions to a partner (PASS), writes to CloudTrail (FAIL); the role to an account its
   trust policy does not name (PASS), to the partner (FAIL).

Target: each under a second.

Account analyses (``iamroles.analysis.account``, ``iamroles.analysis.escalation``) over one account of 1,000 roles,
2,000 managed policies (two attached to each role: S3, DynamoDB, SQS, logs, EC2, KMS, IAM reads, sts:AssumeRole of
one role, iam:PassRole with iamroles:LaunchWorkload of one role, iam:CreateAccessKey for one user), 100 users, 40
administrator roles and users (one role in fifty trusting the account, one in fifty a service, one user in fifty),
and another account's principals named in trust policies, bulk-loaded into a SQLite store (as bench/scale.py loads
roles): the store read and compiled (``Snapshot.load``), then the trust graph, external access (with chains of
roles), escalation paths (the graph search from every user and role to an administrator) and unused access (with
unused permissions from the audit trail), each timed, wall and cpu. Target: all of it in seconds (under 10 s).

Usage: ``python bench/analyze.py [--json] [--roles 1000] [--policies 2000]``
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from policy_eval import build_policies

from iamroles.analysis.proofs import check_access_not_granted, check_no_new_access
from iamroles.policy import Policy, parse_policy

TARGET_SECONDS = 1.0


def _policies() -> list[Policy]:
    identity, _ = build_policies()
    return [parse_policy(json.dumps(doc), name=name) for name, doc in identity]


def _reshuffled(docs: list[Policy]) -> list[Policy]:
    """The same statements, shuffled and regrouped into three policies (same meaning)."""
    rng = random.Random(2026)
    statements: list[dict[str, Any]] = []
    for p in docs:
        raw = json.loads(json.dumps(_doc_json(p)))
        statements.extend(raw["Statement"])
    rng.shuffle(statements)
    for i, st in enumerate(statements):
        st["Sid"] = f"S{i}"
    thirds = [statements[i::3] for i in range(3)]
    return [parse_policy(json.dumps({"Version": "2012-10-17", "Statement": part}), name=f"regrouped-{i}") for i, part in enumerate(thirds)]


def _doc_json(p: Policy) -> dict[str, Any]:
    identity, _ = build_policies()
    return dict(identity)[p.name]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--roles", type=int, default=1000)
    parser.add_argument("--policies", type=int, default=2000)
    args = parser.parse_args()
    base = _policies()
    broader = base + [parse_policy(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "dynamodb:DeleteTable", "Resource": "arn:aws:dynamodb:*:111122223333:table/scratch-*"},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::app-data/secrets/*"},
        {"Effect": "Allow", "Action": "sns:Publish", "Resource": "arn:aws:sns:us-east-1:111122223333:*",
         "Condition": {"Bool": {"aws:SecureTransport": "true"}}}]}), name="broader")]
    runs = [
        ("no-new-access, regrouped (PASS)", lambda: check_no_new_access(base, _reshuffled(base)), "PASS"),
        ("no-new-access, one broader policy (FAIL)", lambda: check_no_new_access(base, broader), "FAIL"),
        ("access-not-granted dynamodb:DeleteTable (PASS)", lambda: check_access_not_granted(base, ["dynamodb:DeleteTable"], ["*"]), "PASS"),
        ("access-not-granted s3:PutObject uploads (FAIL)",
         lambda: check_access_not_granted(base, ["s3:PutObject"], ["arn:aws:s3:::app-data/uploads/*"]), "FAIL"),
    ]
    runs += named_runs()
    out: list[dict[str, Any]] = []
    ok = True
    for name, run, expected in runs:
        started = time.perf_counter()
        result = run()
        seconds = time.perf_counter() - started
        good = result.result == expected and seconds < TARGET_SECONDS
        ok = ok and good
        out.append({"check": name, "result": result.result, "expected": expected, "seconds": round(seconds, 3),
                    "counterexample": result.counterexample.to_dict() if result.counterexample else None,
                    "approximated": result.approximated})
        if not args.json:
            print(f"{name:<50} {result.result:<8} {seconds * 1000:8.0f} ms  {'ok' if good else 'MISSED (target < 1 s)'}")
            if result.counterexample:
                c = result.counterexample
                who = f" by {c.principal}" if c.principal is not None else ""
                print(f"{'':<50} counterexample: {c.action} on {c.resource}{who} {json.dumps(c.context)}")
            for a in result.approximated:
                print(f"{'':<50} approximated: {a}")
    account = account_bench(args.roles, args.policies, quiet=args.json)
    ok = ok and account["total_seconds"] < ACCOUNT_TARGET_SECONDS
    if args.json:
        print(json.dumps({"proofs": out, "target_seconds": TARGET_SECONDS, "account": account, "ok": ok}, indent=2))
    return 0 if ok else 1


ACCOUNT_TARGET_SECONDS = 10.0
ACCOUNT = "111122223333"
ADMIN_DOC = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
PARTNERS = ("444455556666", "777788889999")
BUCKET = "arn:aws:s3:::app-data"


def _bucket_policy(extra_partner: bool = False) -> dict[str, Any]:
    objects = f"{BUCKET}/*"
    readers = [f"arn:aws:iam::{p}:root" for p in PARTNERS] + (["arn:aws:iam::999988887777:root"] if extra_partner else [])
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "PartnersRead", "Effect": "Allow", "Principal": {"AWS": readers}, "Action": ["s3:GetObject", "s3:ListBucket"],
         "Resource": [BUCKET, objects]},
        {"Sid": "AppWrites", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/app/writer"},
         "Action": ["s3:PutObject", "s3:DeleteObject"], "Resource": f"{BUCKET}/uploads/*"},
        {"Sid": "TrailAcl", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:GetBucketAcl",
         "Resource": BUCKET, "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}},
        {"Sid": "TrailWrite", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:PutObject",
         "Resource": f"{BUCKET}/AWSLogs/{ACCOUNT}/*",
         "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT, "s3:x-amz-acl": "bucket-owner-full-control"}}},
        {"Sid": "ConfigWrite", "Effect": "Allow", "Principal": {"Service": "config.amazonaws.com"}, "Action": "s3:PutObject",
         "Resource": f"{BUCKET}/config/*", "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}},
        {"Sid": "OrgRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"{BUCKET}/shared/*",
         "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123def4"}}},
        {"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": [BUCKET, objects],
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {"Sid": "NoDeletes", "Effect": "Deny", "NotPrincipal": {"AWS": [f"arn:aws:iam::{ACCOUNT}:root",
                                                                         f"arn:aws:iam::{ACCOUNT}:role/app/writer"]},
         "Action": ["s3:DeleteObject", "s3:DeleteBucket"], "Resource": [BUCKET, objects]},
        {"Sid": "NoPublicAcl", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObjectAcl", "Resource": objects,
         "Condition": {"StringEquals": {"s3:x-amz-acl": ["public-read", "public-read-write"]}}},
    ]}


def _trust_policy(external_id: bool = True, subject: str = "repo:org/app:ref:refs/heads/main") -> dict[str, Any]:
    gh = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
    partner: dict[str, Any] = {"Sid": "Partner", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{PARTNERS[0]}:root"},
                               "Action": "sts:AssumeRole"}
    if external_id:
        partner["Condition"] = {"StringEquals": {"sts:ExternalId": "partner-7"}}
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "Deployer", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/deployer"},
         "Action": ["sts:AssumeRole", "sts:TagSession"]},
        partner,
        {"Sid": "GitHub", "Effect": "Allow", "Principal": {"Federated": gh}, "Action": "sts:AssumeRoleWithWebIdentity",
         "Condition": {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
                       "StringLike": {"token.actions.githubusercontent.com:sub": subject}}},
        {"Sid": "Ec2", "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"},
    ]}


def _regrouped(doc: dict[str, Any]) -> dict[str, Any]:
    """The same statements in another order, Sids renamed, each Action list reversed (same meaning)."""
    rng = random.Random(2026)
    statements = json.loads(json.dumps(doc["Statement"]))
    rng.shuffle(statements)
    for i, st in enumerate(statements):
        st["Sid"] = f"S{i}"
        if isinstance(st.get("Action"), list):
            st["Action"] = st["Action"][::-1]
    return {"Version": "2012-10-17", "Statement": statements}


def named_runs() -> list[tuple[str, Any, str]]:
    from iamroles.policy import PolicyKind

    def res(doc: dict[str, Any]) -> Policy:
        return parse_policy(json.dumps(doc), PolicyKind.RESOURCE, name="bucket")

    def trust(doc: dict[str, Any]) -> Policy:
        return parse_policy(json.dumps(doc), PolicyKind.TRUST, name="trust")

    bucket, role = res(_bucket_policy()), trust(_trust_policy())
    return [
        ("bucket: no-new-access, regrouped (PASS)", lambda: check_no_new_access(bucket, res(_regrouped(_bucket_policy()))), "PASS"),
        ("bucket: no-new-access, one more account (FAIL)", lambda: check_no_new_access(bucket, res(_bucket_policy(True))), "FAIL"),
        ("bucket: writes not granted to another account (PASS)",
         lambda: check_access_not_granted(bucket, ["s3:PutObject", "s3:DeleteObject"], principals=["123456789012"]), "PASS"),
        ("bucket: reads granted to the organization (FAIL)",
         lambda: check_access_not_granted(bucket, ["s3:GetObject"], [f"{BUCKET}/*"], principals=["123456789012"]), "FAIL"),
        ("bucket: deletions not granted to a partner (PASS)",
         lambda: check_access_not_granted(bucket, ["s3:Delete*"], principals=[PARTNERS[0]]), "PASS"),
        ("bucket: writes granted to CloudTrail (FAIL)",
         lambda: check_access_not_granted(bucket, ["s3:PutObject"], principals=["cloudtrail.amazonaws.com"]), "FAIL"),
        ("trust: no-new-access, regrouped (PASS)", lambda: check_no_new_access(role, trust(_regrouped(_trust_policy()))), "PASS"),
        ("trust: no-new-access, ExternalId dropped (FAIL)", lambda: check_no_new_access(role, trust(_trust_policy(False))), "FAIL"),
        ("trust: no-new-access, GitHub subject widened (FAIL)",
         lambda: check_no_new_access(role, trust(_trust_policy(subject="repo:org/*"))), "FAIL"),
        ("trust: not granted to another account (PASS)",
         lambda: check_access_not_granted(role, ["sts:AssumeRole"], principals=["123456789012"]), "PASS"),
        ("trust: granted to the partner (FAIL)",
         lambda: check_access_not_granted(role, ["sts:AssumeRole"], principals=[PARTNERS[0]]), "FAIL"),
    ]


def _load_account(store: Any, roles: int, policies: int) -> None:
    from datetime import UTC, datetime, timedelta

    from iamroles.store import Account, ManagedPolicy, PolicyVersion, Role, User
    from iamroles.tokens import new_unique_id

    rng = random.Random(2026)
    then = datetime.now(UTC) - timedelta(days=200)
    a = ACCOUNT
    with store.write() as tx:
        tx.insert_account(Account(a, "aws", then))
        users = [User(account_id=a, name=f"user-{i:04d}", id=new_unique_id("AIDA"), path="/", arn=f"arn:aws:iam::{a}:user/user-{i:04d}",
                      created_at=then) for i in range(100)]
        tx.insert_entities("user", users)
        services = ["ec2.amazonaws.com", "lambda.amazonaws.com", "ecs-tasks.amazonaws.com"]
        role_records = []
        for i in range(roles):
            shape = i % 10
            if shape < 5:
                principal: dict[str, Any] = {"Service": services[i % 3]}
            elif shape < 7:
                principal = {"AWS": f"arn:aws:iam::{a}:root"}
            elif shape < 9:
                principal = {"AWS": users[i % 100].arn}
            else:
                principal = {"AWS": "arn:aws:iam::444455556666:root"}
            statement: dict[str, Any] = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
            if shape == 9 and i % 20 == 9:
                statement["Condition"] = {"StringEquals": {"sts:ExternalId": f"ext-{i}"}}
            name = f"role-{i:05d}"
            role_records.append(Role(account_id=a, name=name, id=new_unique_id("AROA"), path="/", arn=f"arn:aws:iam::{a}:role/{name}",
                                     created_at=then, trust_policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
                                     last_used_at=then + timedelta(days=rng.randrange(200))))
        tx.insert_entities("role", role_records)
        actions = [["s3:GetObject", "s3:PutObject"], ["dynamodb:*Item", "dynamodb:Query"], ["sqs:SendMessage"], ["logs:*"],
                   ["ec2:Describe*"], ["kms:Decrypt"], ["iam:Get*", "iam:List*"], ["sts:AssumeRole"],
                   ["iam:PassRole", "iamroles:LaunchWorkload"], ["iam:CreateAccessKey"]]
        for j in range(policies):
            arn = f"arn:aws:iam::{a}:policy/p-{j:05d}"
            acts = actions[j % len(actions)]
            resource = f"arn:aws:iam::{a}:role/role-{j % roles:05d}" if acts[0].startswith(("sts:", "iam:PassRole")) else "*"
            if acts[0] == "iam:CreateAccessKey":
                resource = f"arn:aws:iam::{a}:user/user-{j % 100:04d}"
            document = json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": acts, "Resource": resource},
                {"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*", "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}}}]})
            tx.insert_policy(ManagedPolicy(arn=arn, account_id=a, name=f"p-{j:05d}", policy_id=new_unique_id("ANPA"), path="/",
                                           description=None, default_version="v1", next_version=2, created_at=then, updated_at=then))
            tx.insert_policy_version(PolicyVersion(policy_arn=arn, version_id="v1", document=document, created_at=then))
            owner = role_records[j % roles] if j < 2 * roles else None
            if owner is not None:
                tx.attach(a, "role", owner.key, arn)
        for k in range(100):
            tx.attach(a, "user", users[k].key, f"arn:aws:iam::{a}:policy/p-{k:05d}")
        # administrators: one role in fifty (half of them trusting the account, half a service) and one user in
        # fifty, for the escalation search to reach (by AssumeRole, PassRole and CreateAccessKey)
        for i in (i for start in range(0, roles, 50) for i in (start + 3, start + 4) if i < roles):
            tx.put_inline(a, "role", role_records[i].key, "admin", ADMIN_DOC)
        for k in range(0, 100, 50):
            tx.put_inline(a, "user", users[k + 9].key, "admin", ADMIN_DOC)


def account_bench(roles: int, policies: int, quiet: bool = False) -> dict[str, Any]:
    import tempfile

    from iamroles.analysis.account import Snapshot, external_access, trust_graph, unused_access
    from iamroles.analysis.escalation import escalations
    from iamroles.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/bench.db")
        store.migrate()
        _load_account(store, roles, policies)
        times: dict[str, float] = {}
        cpu: dict[str, float] = {}
        counts: dict[str, int] = {}
        started, cpu_started = time.perf_counter(), time.process_time()
        snap = Snapshot.load(store)
        times["load"], cpu["load"] = time.perf_counter() - started, time.process_time() - cpu_started
        for name, run in (("trust graph", lambda: trust_graph(snap)), ("external access", lambda: external_access(snap, [ACCOUNT])),
                          ("escalation", lambda: escalations(snap)),
                          ("unused (90 days)", lambda: unused_access(snap, 90, store=store))):
            t0, c0 = time.perf_counter(), time.process_time()
            counts[name] = len(run())
            times[name], cpu[name] = time.perf_counter() - t0, time.process_time() - c0
        store.close()
    total = sum(times.values())
    if not quiet:
        print(f"\naccount of {roles} roles, {policies} managed policies, 100 users (SQLite store):")
        print(f"  {'':<20} {'wall':>8}     {'cpu':>8}")
        for name, seconds in times.items():
            found = f"{counts[name]:6d} found" if name in counts else ""
            print(f"  {name:<20} {seconds * 1000:8.0f} ms  {cpu[name] * 1000:8.0f} ms  {found}")
        print(f"  {'total':<20} {total * 1000:8.0f} ms  {sum(cpu.values()) * 1000:8.0f} ms  "
              f"{'ok' if total < ACCOUNT_TARGET_SECONDS else 'MISSED'} (target < {ACCOUNT_TARGET_SECONDS:.0f} s of wall time; cpu time is this "
              "process's, less what other processes on the machine take)")
    return {"roles": roles, "policies": policies, "seconds": {k: round(v, 3) for k, v in times.items()},
            "cpu_seconds": {k: round(v, 3) for k, v in cpu.items()}, "found": counts, "total_seconds": round(total, 3)}


if __name__ == "__main__":
    sys.exit(main())
