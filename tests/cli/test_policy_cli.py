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


def test_eval_trust_policy_must_grant() -> None:
    """--trust-policy decides as STS does: the trust policy must name the caller itself; an identity policy
    allowing sts:AssumeRole on * does not stand in for it ("Role trust policies and KMS key policies are
    exceptions": https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html)."""
    role = "arn:aws:iam::111122223333:role/deploy"
    common = ["--action", "sts:AssumeRole", "--resource", role, "--trust-policy", str(EXAMPLES / "trust-ci-deployer.json"),
              "--identity", str(EXAMPLES / "assume-any-role.json")]
    deployer = ["--principal", "arn:aws:iam::111122223333:user/ci-deployer"]
    ok = run("eval", *deployer, *common, "--context", "sts:ExternalId=build-7f3a")
    assert ok.returncode == 0 and "CiDeployerWithExternalId" in ok.stdout
    # the trust policy alone grants the user it names: no identity policy needed
    alone = run("eval", *deployer, "--action", "sts:AssumeRole", "--resource", role,
                "--trust-policy", str(EXAMPLES / "trust-ci-deployer.json"), "--context", "sts:ExternalId=build-7f3a")
    assert alone.returncode == 0, alone.stdout
    # another user of the account, allowed sts:AssumeRole on *: refused, in STS's words
    other = run("eval", *ALICE, *common, "--context", "sts:ExternalId=build-7f3a")
    assert other.returncode == 3
    assert other.stdout.splitlines()[1] == f"User: arn:aws:iam::111122223333:user/alice is not authorized to perform: sts:AssumeRole on resource: {role}"
    assert "the trust policy must allow this principal itself" in other.stdout
    # the named user with a wrong or missing ExternalId: no grant
    for extra in (["--context", "sts:ExternalId=build-0000"], []):
        denied = run("eval", *deployer, *common, *extra, "--json")
        assert denied.returncode == 3
        decision = json.loads(denied.stdout)
        assert (decision["denied_by"], decision["not_granted_by"]) == ("resource", "trust")
    # the same document as an ordinary resource-based policy must parse as one: a trust policy has no Resource
    as_resource = run("eval", *ALICE, *common[:4], "--resource-policy", str(EXAMPLES / "trust-ci-deployer.json"))
    assert as_resource.returncode == 1
    assert "is a role trust policy: give it as --trust-policy" in as_resource.stderr  # what to do instead
    assert run("eval", *ALICE, *common, "--resource-policy", str(EXAMPLES / "trust-ci-deployer.json")).returncode == 2


def test_eval_resource_policy_must_grant(tmp_path: Path) -> None:
    """A KMS-style key policy: IAM policies allow nothing unless the key policy names the principal or its account
    (https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html)."""
    key = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    policy = tmp_path / "key.json"
    policy.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:user/bob"}, "Action": "kms:*", "Resource": "*"}]}))
    identity = tmp_path / "kms.json"
    identity.write_text(json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}))
    common = [*ALICE, "--action", "kms:Decrypt", "--resource", key, "--identity", str(identity), "--resource-policy", str(policy)]
    assert run("eval", *common).returncode == 0  # an ordinary resource policy: the identity Allow suffices
    strict = run("eval", *common, "--resource-policy-must-grant")
    assert strict.returncode == 3 and "because no resource-based policy allows the kms:Decrypt action" in strict.stdout
