"""``iamroles analyze``: questions asked of policies rather than requests answered.

Exit codes (for scripts): 0 PASS (or the analysis found nothing), 5 FAIL (or it found something), 6 UNKNOWN,
1 a policy file is invalid, 2 the command line itself is wrong (click's usage error).
"""
from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
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
    """Questions asked of policies: proofs (no new access, access not granted) with an SMT solver, and a server's
    accounts (trust graph, external access, escalation paths, unused access)."""


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
            if c.principal is not None:
                from iamroles.analysis.principals import describe

                bounded = ", with a permissions boundary" if c.bounded else ""
                click.echo(f"    caller: {describe(c.principal)}{bounded}; the resource's account {c.resource_account}")
                if c.setting is not None:
                    click.echo(f"    setting: {c.setting}")
            for key, value in sorted(c.context.items()):
                click.echo(f"    {key} = {json.dumps(list(value) if isinstance(value, tuple) else value)}")
            if not c.context:
                click.echo("    (no context keys)")
        for what in result.approximated:
            click.echo(f"  approximated: {what}")
    code = {"PASS": 0, "FAIL": EXIT_FOUND}.get(result.result, EXIT_UNKNOWN)
    if code:
        raise SystemExit(code)


_kind = click.option("--kind", type=click.Choice(["identity", "boundary", "session", "resource", "trust"]), default="identity",
                     show_default=True, help="What the documents are: identity-based policies (one or more compared as a "
                     "caller's), or one resource-based or role trust policy (compared for every caller and setting).")
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
    context, and for a resource-based or trust policy every caller and every setting of the caller's other
    policies); FAIL comes with such a request, confirmed by the evaluator. Exit 0 PASS, 5 FAIL, 6 UNKNOWN."""
    _report(_proofs().check_no_new_access(_load(old, kind), _load(new, kind), timeout_ms=int(timeout * 1000)), as_json)


def _split(values: tuple[str, ...]) -> list[str]:
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


@analyze.command("check-access-not-granted")
@click.argument("policy_file", metavar="POLICY")
@click.option("--actions", "actions", multiple=True, metavar="A[,A...]", help="Actions (wildcards allowed), repeatable.")
@click.option("--resources", "resources", multiple=True, metavar="ARN[,ARN...]", help="Resource ARNs (wildcards allowed), repeatable.")
@click.option("--principals", "principals", multiple=True, metavar="P[,P...]",
              help="Resource-based and trust policies: only these callers, repeatable: an account id or account ARN, a "
                   "role ARN (its sessions), a user/session/federated-user ARN, an OIDC/SAML provider ARN, "
                   "service:NAME (or a service's DNS name), federated:NAME, canonical:ID, anonymous, *.")
@_kind
@_timeout
@_json
def check_access_not_granted(policy_file: str, actions: tuple[str, ...], resources: tuple[str, ...], principals: tuple[str, ...],
                             kind: str, timeout: float, as_json: bool) -> None:
    """Is none of ACTIONS on RESOURCES (by PRINCIPALS) granted by POLICY, in any context? PASS is a proof; FAIL
    comes with a request the evaluator allows. Exit 0 PASS, 5 FAIL, 6 UNKNOWN."""
    acts, res, who = _split(actions), _split(resources), _split(principals)
    if not acts and not res and not who:
        raise click.UsageError("name at least one of --actions, --resources or --principals")
    if who and kind not in ("resource", "trust"):
        raise click.UsageError("--principals is for resource-based and trust policies (--kind resource or trust)")
    policy = _load(policy_file, kind)
    try:
        result = _proofs().check_access_not_granted(policy, acts, res, timeout_ms=int(timeout * 1000), principals=who)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    _report(result, as_json)


# -- analyses of a server's store -----------------------------------------------------------------------------------

_data_dir = click.option("--data-dir", type=click.Path(path_type=Path), default=None, envvar="IAMROLES_DATA_DIR",
                         help="The server's data directory [default: ~/.iamroles].")
_db = click.option("--db", "db_url", envvar="IAMROLES_DB", help="Database URL [default: SQLite in the data dir].")
_accounts = click.option("--account", "accounts", multiple=True, metavar="ID", help="Only these accounts (repeatable) [default: all].")


@contextmanager
def _store(data_dir: Path | None, db_url: str | None) -> Iterator[Any]:
    """The server's store, opened to be read (never written: no migration, no account made)."""
    from iamroles.runtime import database_url, default_data_dir
    from iamroles.store import Store

    url = database_url(data_dir or default_data_dir(), db_url)
    if url.startswith("sqlite") and "///" in url and not Path(url.split("///", 1)[1]).exists():
        raise click.ClickException(f"no store at {url.split('///', 1)[1]} (start `iamroles serve` first, or pass --data-dir/--db)")
    store = Store(url)
    try:
        yield store
    finally:
        store.close()


def _snapshot(data_dir: Path | None, db_url: str | None, accounts: tuple[str, ...]) -> Any:
    """The store's accounts, read."""
    from iamroles.analysis.account import Snapshot

    with _store(data_dir, db_url) as store:
        return Snapshot.load(store, list(accounts) or None)


@analyze.command("trust-graph")
@_data_dir
@_db
@_accounts
@click.option("--dot", "dot_file", type=click.Path(dir_okay=False, path_type=Path), help="Write the graph in Graphviz's DOT language.")
@click.option("--svg", "svg_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Draw the graph as SVG (with Graphviz's `dot` when installed, else a simple layout of iamroles' own).")
@_json
def trust_graph(data_dir: Path | None, db_url: str | None, accounts: tuple[str, ...], dot_file: Path | None, svg_file: Path | None,
                as_json: bool) -> None:
    """Who can assume what: every principal -> role edge (users, role sessions, account roots, services, OIDC/SAML
    providers) that the evaluator allows, with the trust statement's conditions on the edge."""
    from iamroles.analysis.account import to_dot, to_svg
    from iamroles.analysis.account import trust_graph as graph

    snap = _snapshot(data_dir, db_url, accounts)
    edges = graph(snap)
    if as_json:
        click.echo(json.dumps({"edges": [e.to_dict() for e in edges]}, indent=2))
    else:
        for e in edges:
            cond = f"  if {'; '.join(e.conditions)}" if e.conditions else ""
            click.echo(f"{e.source} -> {e.target} ({e.action}){cond}")
        click.echo(f"{len(edges)} edges, {len(snap.roles)} roles")
    dot = to_dot(edges, snap)
    if dot_file:
        dot_file.write_text(dot)
    _draw(dot, svg_file, lambda: to_svg(edges, snap))


@analyze.command("external-access")
@_data_dir
@_db
@click.option("--zone", required=True, metavar="ACCOUNT[,ACCOUNT]", help="The zone of trust: account ids.")
@click.option("--direct", is_flag=True, help="Only roles an outsider assumes itself, not those it reaches through roles of the zone.")
@click.option("--resource-policy", "resource_policies", multiple=True, metavar="ARN=FILE",
              help="Also a resource-based policy iamroles does not store (a bucket or key policy a service gives the "
                   "authoriser), for the resource ARN (repeatable).")
@click.option("--resource-owner", metavar="ACCOUNT", help="The account of --resource-policy resources whose ARN names none "
                                                           "(an S3 bucket's) [default: the zone's first].")
@click.option("--must-grant", is_flag=True, help="The --resource-policy documents must allow a principal themselves, as a KMS key "
                                                 "policy must.")
@_json
def external_access(data_dir: Path | None, db_url: str | None, zone: str, direct: bool, resource_policies: tuple[str, ...],
                    resource_owner: str | None, must_grant: bool, as_json: bool) -> None:
    """Roles in the zone that a principal outside it can assume (another account's, an identity provider's
    federated users, anyone), directly or by assuming roles of the zone one after another, and what it may do
    through the resource policies given, with the conditions it must meet, as Access Analyzer's findings; SCPs and
    RCPs applied. Exit 5 when there is one."""
    from iamroles.analysis.account import external_access as find
    from iamroles.analysis.account import resource_policy_access

    accounts = tuple(a.strip() for a in zone.split(",") if a.strip())
    given = []
    for item in resource_policies:
        arn, eq, path = item.rpartition("=")
        if not eq or not arn.startswith("arn:"):
            raise click.BadParameter(f"{item!r}: expected ARN=FILE", param_hint="--resource-policy")
        given.append((arn, _load(path, "resource")))
    snap = _snapshot(data_dir, db_url, ())
    findings = find(snap, accounts, chains=not direct)
    for arn, policy in given:
        parts = arn.split(":")
        named = parts[4] if len(parts) > 4 else ""
        owner = resource_owner or (None if named else accounts[0])
        findings += resource_policy_access(snap, accounts, arn, policy, owner=owner, must_grant=must_grant)
    if as_json:
        click.echo(json.dumps({"findings": [f.to_dict() for f in findings]}, indent=2))
    else:
        for f in findings:
            click.echo(str(f))
        click.echo(f"{len(findings)} findings")
    if findings:
        raise SystemExit(EXIT_FOUND)


def _draw(dot: str, svg_file: Path | None, fallback: Any) -> None:
    """Write ``dot`` as SVG with Graphviz's ``dot`` when installed, else ``fallback()`` (iamroles' own layout)."""
    import shutil
    import subprocess

    if svg_file is None:
        return
    exe = shutil.which("dot")
    if exe is None:
        svg_file.write_text(fallback())
        click.echo(f"Graphviz's dot is not installed: drew {svg_file} with iamroles' own simple layout", err=True)
    else:
        subprocess.run([exe, "-Tsvg", "-o", str(svg_file)], input=dot.encode(), check=True)


@analyze.command("escalation")
@_data_dir
@_db
@_accounts
@click.option("--to", "to", metavar="ACTION[:RESOURCE]",
              help="Paths to this permission (e.g. s3:GetObject:arn:aws:s3:::bucket/key; RESOURCE defaults to *) "
                   "[default: to an administrator].")
@click.option("--from", "sources", multiple=True, metavar="ARN", help="Only paths from these users or roles (repeatable).")
@click.option("--dot", "dot_file", type=click.Path(dir_okay=False, path_type=Path), help="Write the paths in Graphviz's DOT language.")
@click.option("--svg", "svg_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Draw the paths as SVG (with Graphviz's `dot` when installed, else a simple layout of iamroles' own).")
@_json
def escalation(data_dir: Path | None, db_url: str | None, accounts: tuple[str, ...], to: str | None, sources: tuple[str, ...],
               dot_file: Path | None, svg_file: Path | None, as_json: bool) -> None:
    """Privilege-escalation paths: for each user and role, the shortest path to an administrator (or to the
    permission --to names) through roles it assumes, roles it passes to services, other users' credentials, and
    the policies, groups, policy versions and boundaries it can change; each step allowed by the evaluator with
    boundaries, SCPs and RCPs applied. Exit 5 when there is one."""
    from iamroles.analysis.escalation import Target, escalations, paths_to_dot, paths_to_svg

    try:
        target = Target.parse(to)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--to") from None
    snap = _snapshot(data_dir, db_url, accounts)
    found = escalations(snap, target=target, sources=list(sources) or None)
    if as_json:
        click.echo(json.dumps({"target": str(target), "paths": [e.to_dict() for e in found]}, indent=2))
    else:
        for e in found:
            click.echo(str(e))
        click.echo(f"{len(found)} paths to {target}")
    dot = paths_to_dot(found, snap)
    if dot_file:
        dot_file.write_text(dot)
    _draw(dot, svg_file, lambda: paths_to_svg(found))
    if found:
        raise SystemExit(EXIT_FOUND)


@analyze.command("unused")
@_data_dir
@_db
@_accounts
@click.option("--days", default=90, show_default=True, type=click.IntRange(min=1), help="Unused for this many days.")
@click.option("--no-permissions", "no_permissions", is_flag=True, help="Leave out unused permissions (roles, keys, passwords, users only).")
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]), default=None, metavar="DATE",
              help="Judge as of this UTC date or time (YYYY-MM-DD[THH:MM:SS]) [default: now].")
@_json
def unused(data_dir: Path | None, db_url: str | None, accounts: tuple[str, ...], days: int, no_permissions: bool, as_of: datetime | None,
           as_json: bool) -> None:
    """Unused access, as Access Analyzer finds it: roles, access keys, passwords and users not used in DAYS days,
    and each role's and user's permissions (services, and actions within the services it used) its policies
    allow and the audit trail shows it has not used. Exit 5 when there is one."""
    from iamroles.analysis.account import Snapshot, unused_access

    with _store(data_dir, db_url) as store:
        now = as_of.replace(tzinfo=UTC) if as_of is not None else None
        found = unused_access(Snapshot.load(store, list(accounts) or None), days, now, store=store, permissions=not no_permissions)
    if as_json:
        click.echo(json.dumps({"unused": [u.to_dict() for u in found]}, indent=2))
    else:
        for u in found:
            click.echo(str(u))
        click.echo(f"{len(found)} unused")
    if found:
        raise SystemExit(EXIT_FOUND)
