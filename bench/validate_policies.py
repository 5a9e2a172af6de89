#!/usr/bin/env python3
"""What ``iamroles serve --validate-policies`` costs a write.

1. In process: Access Analyzer's checks (``iamroles.analysis.validate_findings``, what the server runs on a stored
   document) on the 8 identity policies of bench/policy_eval.py (59 statements), warm (the catalogue of AWS actions
   read), per document; and the first call in a fresh process (the catalogue's services read).
2. Over the wire: PutRolePolicy of those of them deny mode stores, one at a time (SQLite, one client), against three servers started
   here: --validate-policies off, warn and deny, written to in turn; p50 and mean latency each, and the difference from off.

Usage: ``python bench/validate_policies.py [--json] [--writes 200]``
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from policy_eval import build_policies

ACCOUNT = "111122223333"


def _documents() -> list[str]:
    identity, _ = build_policies()
    return [json.dumps(doc) for _name, doc in identity]


def _accepted(docs: list[str]) -> list[str]:
    """The documents deny mode stores (no ERROR or SECURITY_WARNING finding): the writes are timed on those."""
    from iamroles.analysis import validate_findings

    return [d for d in docs if not any(f.finding_type in ("ERROR", "SECURITY_WARNING") for f in validate_findings(d))]


def in_process(docs: list[str], repeat: int = 50) -> dict[str, float]:
    cold = subprocess.run([sys.executable, "-c", (
        "import json, sys, time; from iamroles.analysis import validate_findings; docs = json.load(sys.stdin); "
        "t = time.perf_counter(); validate_findings(docs[0]); print(time.perf_counter() - t)")],
        input=json.dumps(docs), capture_output=True, text=True, check=True)
    from iamroles.analysis import validate_findings

    for d in docs:
        validate_findings(d)
    started = time.perf_counter()
    for _ in range(repeat):
        for d in docs:
            validate_findings(d)
    warm = (time.perf_counter() - started) / (repeat * len(docs))
    return {"first_call_ms": float(cold.stdout) * 1000, "per_document_ms": warm * 1000}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(mode: str, tmp: Path) -> tuple[Any, subprocess.Popen[bytes]]:
    import boto3
    import httpx

    port = _port()
    key, secret = "AKIA" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    proc = subprocess.Popen([sys.executable, "-m", "iamroles", "serve", "--port", str(port), "--data-dir", str(tmp / mode),
                             "--account-id", ACCOUNT, "--root-access-key", key, "--root-secret-key", secret,
                             "--validate-policies", mode], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(url + "/iamroles/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1", aws_access_key_id=key, aws_secret_access_key=secret)
    return iam, proc


def over_the_wire(docs: list[str], writes: int, tmp: Path) -> dict[str, dict[str, float]]:
    """The three servers written to in turn, write by write, so that the machine's load falls on each alike."""
    modes = ("off", "warn", "deny")
    started = {mode: _start(mode, tmp) for mode in modes}
    try:
        trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                                                                    "Action": "sts:AssumeRole"}]})
        for iam, _ in started.values():
            iam.create_role(RoleName="bench", AssumeRolePolicyDocument=trust)
            for d in docs:  # warm up: the catalogue read, connections made
                iam.put_role_policy(RoleName="bench", PolicyName="p", PolicyDocument=d)
        times: dict[str, list[float]] = {mode: [] for mode in modes}
        for i in range(writes):
            for mode in modes:
                iam = started[mode][0]
                begun = time.perf_counter()
                iam.put_role_policy(RoleName="bench", PolicyName="p", PolicyDocument=docs[i % len(docs)])
                times[mode].append(time.perf_counter() - begun)
        return {mode: {"p50_ms": statistics.median(t) * 1000, "mean_ms": statistics.fmean(t) * 1000} for mode, t in times.items()}
    finally:
        for _, proc in started.values():
            proc.terminate()
            proc.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--writes", type=int, default=200)
    args = parser.parse_args()
    docs = _documents()
    local = in_process(docs)
    stored = _accepted(docs)
    with tempfile.TemporaryDirectory() as tmp:
        wire = over_the_wire(stored, args.writes, Path(tmp))
    if args.json:
        print(json.dumps({"in_process": local, "put_role_policy": wire, "writes": args.writes, "documents": len(stored)}, indent=2))
        return 0
    print(f"validate_findings, warm: {local['per_document_ms']:.2f} ms a document (8 documents, 59 statements); "
          f"first call in a process: {local['first_call_ms']:.0f} ms")
    print(f"PutRolePolicy, {args.writes} writes of the {len(stored)} documents deny mode stores, one at a time (SQLite):")
    base = wire["off"]
    for mode, m in wire.items():
        extra = "" if mode == "off" else f"  (+{m['p50_ms'] - base['p50_ms']:.2f} ms p50, +{m['mean_ms'] - base['mean_ms']:.2f} ms mean)"
        print(f"PutRolePolicy --validate-policies={mode:<4}  p50 {m['p50_ms']:6.2f} ms  mean {m['mean_ms']:6.2f} ms{extra}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
