#!/usr/bin/env python3
"""Analysis benchmark: proofs about the policy-evaluation bench's policies, and (when the store analyses exist)
analyze over a large account.

Proofs (``iamroles.analysis.proofs``) over the 8 identity policies of bench/policy_eval.py (59 statements, with
wildcards, conditions of every family and policy variables), as one policy set:

1. no new access from the set to itself with its statements shuffled and split differently: PASS, a proof;
2. no new access from the set to the set plus one broader statement: FAIL, with a counterexample the evaluator
   confirms;
3. access not granted: ``dynamodb:DeleteTable`` on ``*`` (PASS) and ``s3:PutObject`` on an uploads key (FAIL).

Target: each under a second. Usage: ``python bench/analyze.py [--json]``
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
    if args.json:
        print(json.dumps({"proofs": out, "target_seconds": TARGET_SECONDS, "ok": ok}, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
