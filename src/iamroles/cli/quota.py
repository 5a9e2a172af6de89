"""``iamroles accounts quota``: an account's IAM quotas, and the operator's overrides of AWS's defaults."""
from __future__ import annotations

import json
from pathlib import Path

import click

from .serve import _data_dir, _db, existing, private_files

__all__ = ["accounts_quota"]


class _QuotaName(click.ParamType):  # type: ignore[type-arg]
    """One of IAM's account quotas, looked up when given (the quota table is the server's: not imported for
    ``iamroles --help`` or by an install without the server extra)."""

    name = "NAME"

    def convert(self, value: str, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from iamroles.iam.common import ACCOUNT_QUOTAS

        if value not in ACCOUNT_QUOTAS:
            self.fail(f"{value!r} is not one of {', '.join(sorted(ACCOUNT_QUOTAS))}", param, ctx)
        return value


@click.command("quota")
@_data_dir
@_db
@click.argument("account_id")
@click.argument("name", required=False, type=_QuotaName())
@click.argument("value", required=False)
@click.option("--json", "as_json", is_flag=True)
def accounts_quota(data_dir: Path | None, db_url: str | None, account_id: str, name: str | None, value: str | None,
                   as_json: bool) -> None:
    """Show ACCOUNT_ID's quotas, or set quota NAME to VALUE (a count, or 'default' for AWS's default).

    The quotas an AWS account can raise (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html)
    are raised here, per account; a create answers LimitExceeded at the account's value."""
    from iamroles.iam.common import ACCOUNT_QUOTAS
    from iamroles.server import bootstrap

    if name is not None and value is None:
        raise click.UsageError("give the quota's new VALUE (a count, or 'default')")
    new: int | None = None
    if value is not None and value != "default":
        try:
            new = int(value)
        except ValueError:
            raise click.BadParameter("a count (0 or more), or 'default'", param_hint="VALUE") from None
        if new < 0:
            raise click.BadParameter("a count (0 or more), or 'default'", param_hint="VALUE")
    private_files()
    store, _, _ = bootstrap(existing(data_dir, db_url))
    with store.write() if name is not None else store.read() as tx:
        if tx.account(account_id, for_update=name is not None) is None:
            raise click.ClickException(f"no account {account_id}")
        if name is not None:
            tx.set_quota(account_id, name, new)
        overrides = tx.quotas(account_id)
    rows = [{"name": q, "value": overrides.get(q, default), "default": default, "set": q in overrides}
            for q, (_kind, default) in sorted(ACCOUNT_QUOTAS.items())]
    if as_json:
        click.echo(json.dumps(rows))
        return
    for r in rows:
        click.echo(f"{r['name']:<36} {r['value']:>8}  {'(set; default ' + str(r['default']) + ')' if r['set'] else '(default)'}")
