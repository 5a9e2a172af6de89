"""``iamroles analyze``: questions asked of policies rather than requests answered.

Exit codes (for scripts): 0 PASS (or the analysis found nothing), 5 FAIL (or it found something), 6 UNKNOWN,
1 a policy file is invalid, 2 the command line itself is wrong (click's usage error).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from iamroles.policy import Policy, PolicyError, PolicyKind, parse_policy

if TYPE_CHECKING:
    from iamroles.analysis.proofs import ProofResult

EXIT_FOUND = 5
EXIT_UNKNOWN = 6


@click.group()
def analyze() -> None:
    """Prove properties of policies (no new access, access not granted) with an SMT solver."""


def _load(path: str, kind: str) -> Policy:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
    except OSError as exc:
        raise click.BadParameter(f"cannot read {path}: {exc.strerror}") from None
    try:
        return parse_policy(text, PolicyKind(kind), name=path)
    except PolicyError as exc:
        click.echo(f"iamroles: {path}: invalid policy: {exc}", err=True)
        raise SystemExit(1) from None


def _proofs() -> Any:
    try:
        from iamroles.analysis import proofs
    except ImportError:  # z3 is the analyze extra
        raise click.ClickException("proofs need the z3 solver: pip install 'iamroles[analyze]'") from None
    return proofs


def _report(result: ProofResult, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        click.echo(f"{result.result}: {result.message} ({result.seconds * 1000:.0f} ms)")
        if result.counterexample is not None:
            c = result.counterexample
            click.echo(f"  counterexample: {c.action} on {c.resource}")
            for key, value in sorted(c.context.items()):
                click.echo(f"    {key} = {json.dumps(list(value) if isinstance(value, tuple) else value)}")
            if not c.context:
                click.echo("    (no context keys)")
        for what in result.approximated:
            click.echo(f"  approximated: {what}")
    code = {"PASS": 0, "FAIL": EXIT_FOUND}.get(result.result, EXIT_UNKNOWN)
    if code:
        raise SystemExit(code)


_kind = click.option("--kind", type=click.Choice(["identity", "boundary", "session"]), default="identity", show_default=True,
                     help="What the documents are (identity-based policies are compared).")
_json = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
_timeout = click.option("--timeout", default=60.0, show_default=True, type=click.FloatRange(min=0.1), help="Seconds before UNKNOWN.")


@analyze.command("check-no-new-access")
@click.argument("old")
@click.argument("new")
@_kind
@_timeout
@_json
def check_no_new_access(old: str, new: str, kind: str, timeout: float, as_json: bool) -> None:
    """Does NEW allow any request OLD does not? PASS is a proof over every request (action, resource and
    context); FAIL comes with such a request, confirmed by the evaluator. Exit 0 PASS, 5 FAIL, 6 UNKNOWN."""
    _report(_proofs().check_no_new_access(_load(old, kind), _load(new, kind), timeout_ms=int(timeout * 1000)), as_json)


def _split(values: tuple[str, ...]) -> list[str]:
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


@analyze.command("check-access-not-granted")
@click.argument("policy_file", metavar="POLICY")
@click.option("--actions", "actions", multiple=True, metavar="A[,A...]", help="Actions (wildcards allowed), repeatable.")
@click.option("--resources", "resources", multiple=True, metavar="ARN[,ARN...]", help="Resource ARNs (wildcards allowed), repeatable.")
@_kind
@_timeout
@_json
def check_access_not_granted(policy_file: str, actions: tuple[str, ...], resources: tuple[str, ...], kind: str, timeout: float,
                             as_json: bool) -> None:
    """Is none of ACTIONS on RESOURCES granted by POLICY, in any context? PASS is a proof; FAIL comes with a
    request the evaluator allows. Exit 0 PASS, 5 FAIL, 6 UNKNOWN."""
    acts, res = _split(actions), _split(resources)
    if not acts and not res:
        raise click.UsageError("name at least one of --actions or --resources")
    _report(_proofs().check_access_not_granted(_load(policy_file, kind), acts, res, timeout_ms=int(timeout * 1000)), as_json)
