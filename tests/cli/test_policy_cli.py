"""`iamroles policy validate` and `iamroles policy eval`, run as a user runs them.

Exit codes are the contract for scripts: validate 0/1; eval 0 Allow, 3 ImplicitDeny,
4 ExplicitDeny, 1 invalid policy file, 2 usage error.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "policies"
ALICE = ["--principal", "arn:aws:iam::111122223333:user/alice", "--principal-tag", "team=blue"]


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "iamroles", "policy", *args], capture_output=True, text=True, input=stdin, timeout=60)


def test_validate_valid_and_invalid(tmp_path: Path) -> None:
    ok = run("validate", str(EXAMPLES / "s3-team-read.json"))
    assert ok.returncode == 0 and "valid identity policy" in ok.stdout
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "GetObject", "Resource": "*"}}))
    out = run("validate", str(bad))
    assert out.returncode == 1
    assert "MalformedPolicyDocument: Actions/Conditions must be prefaced by a vendor" in out.stdout
    as_json = json.loads(run("validate", str(bad), "--json").stdout)
    assert as_json["valid"] is False and as_json["problems"][0]["path"] == "Statement[0].Action[0]"
    # the same document is judged by its kind: a trust policy must name a principal
    trust = run("validate", "--kind", "trust", "-", stdin=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}))
    assert trust.returncode == 1 and "Missing required field Principal" in trust.stdout
    assert run("validate", "--kind", "nonsense", str(bad)).returncode == 2


def test_eval_exit_codes_and_reasons() -> None:
    common = ["--identity", str(EXAMPLES / "s3-team-read.json"), "--boundary", str(EXAMPLES / "boundary-s3-only.json"),
              "--action", "s3:GetObject", "--time", "2026-01-01T00:00:00Z"]
    allowed = run("eval", *ALICE, *common, "--resource", "arn:aws:s3:::reports/blue/q1.csv", "--context", "aws:SourceIp=10.1.2.3")
    assert allowed.returncode == 0 and allowed.stdout.startswith("Allow")
    assert "ReadOwnTeamPrefix" in allowed.stdout
    implicit = run("eval", *ALICE, *common, "--resource", "arn:aws:s3:::reports/red/q1.csv", "--context", "aws:SourceIp=10.1.2.3")
    assert implicit.returncode == 3
    assert "because no identity-based policy allows the s3:GetObject action" in implicit.stdout
    explicit = run("eval", *ALICE, *common, "--resource", "arn:aws:s3:::reports/blue/q1.csv", "--context", "aws:SourceIp=8.8.8.8", "--json")
    assert explicit.returncode == 4
    decision = json.loads(explicit.stdout)
    assert decision["decision"] == "ExplicitDeny" and decision["denied_by"] == "identity"
    assert decision["matched_statements"][0]["sid"] == "DenyOutsideCorpNetwork"


def test_eval_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    out = run("eval", *ALICE, "--action", "s3:GetObject", "--identity", str(bad))
    assert out.returncode == 1 and "MalformedPolicyDocument" in out.stderr
    assert run("eval", "--action", "s3:GetObject").returncode == 2  # no principal
    assert run("eval", "--principal", "not-an-arn", "--action", "s3:GetObject").returncode == 2
    multi = run("eval", *ALICE, "--action", "s3:GetObject", "--identity", str(EXAMPLES / "boundary-s3-only.json"),
                "--context", "aws:TagKeys=a", "--context", "aws:TagKeys=b", "--json")
    assert multi.returncode == 0
