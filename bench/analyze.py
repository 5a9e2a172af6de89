#!/usr/bin/env python3
"""Analysis benchmark: proofs about the policy-evaluation bench's policies, and (when the store analyses exist)
analyze over a large account.

Proofs (``iamroles.analysis.proofs``) over the 8 identity policies of bench/policy_eval.py (59 statements, with
wildcards, conditions of every family and policy variables), as one policy set:

1. no new access from the set to itself with its statements shuffled and split differently: PASS, a proof;
2. no new access from the set to the set plus one broader statement: FAIL, with a counterexample the evaluator
   confirms;
3. access not granted: ``dynamodb:DeleteTable`` on ``*`` (PASS) and ``s3:PutObject`` on an uploads key (FAIL).

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
                print(f"{'':<50} counterexample: {c.action} on {c.resource} {json.dumps(c.context)}")
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
