"""``iamroles policy``: validate documents and decide requests, no server needed.

Exit codes (for scripts):

* ``validate``: 0 valid, 1 invalid (with ``--findings``: 1 also on a finding of type ERROR);
* ``eval``: 0 Allow, 3 ImplicitDeny, 4 ExplicitDeny, 1 a policy file is invalid;
* 2: the command line itself is wrong (click's usage error).
"""
from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from iamroles.policy import (
    Decision,
    Effect,
    Policy,
    PolicyError,
    PolicyKind,
    PolicySet,
    Principal,
    Request,
    evaluate,
    parse_policy,
    validate_policy,
)

EXIT_INVALID = 1
EXIT_IMPLICIT_DENY = 3
EXIT_EXPLICIT_DENY = 4

_KINDS = [k.value for k in PolicyKind]


@click.group()
def policy() -> None:
    """Validate policy documents and evaluate requests against them."""


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise click.BadParameter(f"cannot read {path}: {exc.strerror}") from None


@policy.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--kind", type=click.Choice(_KINDS), default="identity", show_default=True, help="What the document is for.")
@click.option("--findings", is_flag=True, help="Also check beyond syntax, as Access Analyzer's ValidatePolicy does "
              "(unknown actions and keys, ARNs no action takes, iam:PassRole on *, open trust, ...); exit 1 on an ERROR.")
@click.option("--account", help="With --findings: the account the policy lives in (a trust policy naming others is checked).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def validate(files: tuple[str, ...], kind: str, findings: bool, account: str | None, as_json: bool) -> None:
    """Check policy documents (FILE, or - for stdin) against AWS's rules for KIND."""
    results: list[dict[str, Any]] = []
    for path in files:
        text = _read(path)
        problems = validate_policy(text, PolicyKind(kind))
        results.append({"file": path, "kind": kind, "valid": not problems,
                        "problems": [{"message": p.message, "path": p.path} for p in problems]})
        if findings:
            from iamroles.analysis import validate_findings  # the catalogue of AWS actions is read only when asked

            found = validate_findings(text, PolicyKind(kind), account=account)
            results[-1]["findings"] = [f.to_json() for f in found]
            results[-1]["text"] = [str(f) for f in found]
    if findings:
        failed = any(not r["valid"] or any(f["findingType"] == "ERROR" for f in r["findings"]) for r in results)
        if as_json:
            click.echo(json.dumps([{k: v for k, v in r.items() if k != "text"} for r in results]
                                  if len(results) > 1 else {k: v for k, v in results[0].items() if k != "text"}, indent=2))
        else:
            for r in results:
                click.echo(f"{r['file']}: {len(r['findings'])} finding(s)" if r["findings"] else f"{r['file']}: no findings")
                for line in r["text"]:
                    click.echo(f"  - {line}")
        if failed:
            sys.exit(EXIT_INVALID)
        return
    if as_json:
        click.echo(json.dumps(results if len(results) > 1 else results[0], indent=2))
    else:
        for r in results:
            if r["valid"]:
                click.echo(f"{r['file']}: valid {kind} policy")
            else:
                click.echo(f"{r['file']}: MalformedPolicyDocument: {r['problems'][0]['message']}")
                for p in r["problems"]:
                    where = f" at {p['path']}" if p["path"] else ""
                    click.echo(f"  - {p['message']}{where}")
    if not all(r["valid"] for r in results):
        sys.exit(EXIT_INVALID)


def _load(path: str, kind: PolicyKind) -> Policy:
    text = _read(path)
    try:
        return parse_policy(text, kind, name=Path(path).name if path != "-" else "stdin")
    except PolicyError as err:
        click.echo(f"{path}: MalformedPolicyDocument: {err}", err=True)
        for p in err.problems[1:]:
            click.echo(f"  - {p}", err=True)
        if kind is PolicyKind.RESOURCE and not validate_policy(text, PolicyKind.TRUST):
            click.echo(f"{path} is a role trust policy: give it as --trust-policy (it must grant by itself)", err=True)
        sys.exit(EXIT_INVALID)


def _levels(values: tuple[str, ...], kind: PolicyKind) -> tuple[tuple[Policy, ...], ...]:
    return tuple(tuple(_load(p, kind) for p in v.split(",") if p) for v in values)


def _context(pairs: tuple[str, ...], context_json: str | None) -> dict[str, Any]:
    ctx: dict[str, Any] = {}
    if context_json:
        text = context_json if context_json.lstrip().startswith("{") else _read(context_json)
        try:
            loaded = json.loads(text)
        except ValueError as exc:
            raise click.BadParameter(f"not JSON: {exc}", param_hint="--context-json") from None
        if not isinstance(loaded, dict):
            raise click.BadParameter("must be a JSON object", param_hint="--context-json")
        ctx.update(loaded)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--context")
        if key in ctx:  # a repeated key is multivalued
            prior = ctx[key]
            ctx[key] = (prior if isinstance(prior, list) else [prior]) + [value]
        else:
            ctx[key] = value
    return ctx


def _tags(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--principal-tag")
        out[key] = value
    return out


@policy.command("eval")
@click.option("--principal", "principal_arn", help="Caller ARN: user, root, assumed-role session or federated user.")
@click.option("--role-arn", help="For a role session: the role's ARN (with its path).")
@click.option("--principal-tag", multiple=True, metavar="KEY=VALUE", help="A tag on the caller (repeatable).")
@click.option("--service-principal", help="The caller is this AWS service principal instead.")
@click.option("--action", required=True, help="e.g. s3:GetObject")
@click.option("--resource", default="*", show_default=True, help="The resource ARN.")
@click.option("--resource-account", help="Account owning the resource (default: the caller's).")
@click.option("--identity", multiple=True, metavar="FILE", help="Identity-based policy (repeatable).")
@click.option("--resource-policy", metavar="FILE", help="Resource-based policy.")
@click.option("--resource-policy-must-grant", is_flag=True,
              help="The resource policy must allow the principal itself, as a KMS key policy must.")
@click.option("--trust-policy", metavar="FILE", help="A role's trust policy (the resource is the role; it must grant by itself).")
@click.option("--boundary", metavar="FILE", help="Permissions boundary.")
@click.option("--session", multiple=True, metavar="FILE", help="Session policy (repeatable).")
@click.option("--scp", multiple=True, metavar="FILE[,FILE]", help="SCPs of one level, root first (repeatable).")
@click.option("--rcp", multiple=True, metavar="FILE[,FILE]", help="RCPs of one level, root first (repeatable).")
@click.option("--context", "context_pairs", multiple=True, metavar="KEY=VALUE", help="Context key (repeat a key for a multivalued key).")
@click.option("--context-json", metavar="JSON|FILE", help="Context keys as a JSON object (lists are multivalued).")
@click.option("--time", "when", help="Request time, ISO 8601 (default: now).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def eval_(
    principal_arn: str | None,
    role_arn: str | None,
    principal_tag: tuple[str, ...],
    service_principal: str | None,
    action: str,
    resource: str,
    resource_account: str | None,
    identity: tuple[str, ...],
    resource_policy: str | None,
    resource_policy_must_grant: bool,
    trust_policy: str | None,
    boundary: str | None,
    session: tuple[str, ...],
    scp: tuple[str, ...],
    rcp: tuple[str, ...],
    context_pairs: tuple[str, ...],
    context_json: str | None,
    when: str | None,
    as_json: bool,
) -> None:
    """Decide one request as AWS would, and say why."""
    if bool(principal_arn) == bool(service_principal):
        raise click.UsageError("give exactly one of --principal or --service-principal")
    if resource_policy and trust_policy:
        raise click.UsageError("give --resource-policy or --trust-policy, not both")
    try:
        if service_principal:
            principal = Principal.from_dict({"service": service_principal})
        else:
            assert principal_arn is not None
            principal = Principal.from_arn(principal_arn, role_arn=role_arn, tags=_tags(principal_tag))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--principal") from None
    try:
        time = datetime.fromisoformat(when.replace("Z", "+00:00")) if when else datetime.now(UTC)
    except ValueError:
        raise click.BadParameter(f"not an ISO 8601 time: {when}", param_hint="--time") from None
    policies = PolicySet(
        identity=tuple(_load(p, PolicyKind.IDENTITY) for p in identity),
        resource=(_load(trust_policy, PolicyKind.TRUST) if trust_policy
                  else _load(resource_policy, PolicyKind.RESOURCE) if resource_policy else None),
        resource_must_grant=resource_policy_must_grant,
        boundary=_load(boundary, PolicyKind.BOUNDARY) if boundary else None,
        session=tuple(_load(p, PolicyKind.SESSION) for p in session),
        scp=_levels(scp, PolicyKind.SCP),
        rcp=_levels(rcp, PolicyKind.RCP),
    )
    request = Request(principal, action, resource, resource_account, _context(context_pairs, context_json), time)
    decision = evaluate(request, policies)
    if as_json:
        click.echo(json.dumps(_decision_json(decision), indent=2))
    else:
        click.echo(decision.effect.value)
        click.echo(decision.message())
        for line in decision.explain().split("\n")[1:]:  # why: the statements that decided, what did not grant
            click.echo(line)
    sys.exit({Effect.ALLOW: 0, Effect.IMPLICIT_DENY: EXIT_IMPLICIT_DENY, Effect.EXPLICIT_DENY: EXIT_EXPLICIT_DENY}[decision.effect])


def _decision_json(d: Decision) -> dict[str, Any]:
    return {
        "decision": d.effect.value,
        "allowed": d.allowed,
        "denied_by": d.denied_by.value if d.denied_by else None,
        "message": d.message(),
        "not_granted_by": d.not_granted.value if d.not_granted else None,
        "principal": d.request.principal.arn or d.request.principal.service,
        "action": d.request.action,
        "resource": d.request.resource,
        "matched_statements": [
            {"policy_type": m.policy_type.value, "policy": m.policy, "index": m.index, "sid": m.sid, "effect": m.effect}
            for m in d.matches
        ],
    }
