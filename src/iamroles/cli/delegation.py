"""``iamroles accounts delegation-template``: the policy templates a partner account may name in
CreateDelegationRequest (AWS registers them when it onboards a partner:
https://docs.aws.amazon.com/IAM/latest/UserGuide/temporary-delegation-policy-templates.html)."""
from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

from .serve import _data_dir, _db, existing, private_files

__all__ = ["accounts_delegation_template"]


@click.command("delegation-template")
@_data_dir
@_db
@click.argument("account_id")
@click.argument("name", required=False)
@click.argument("document", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--delete", is_flag=True, help="Remove template NAME.")
@click.option("--json", "as_json", is_flag=True)
def accounts_delegation_template(data_dir: Path | None, db_url: str | None, account_id: str, name: str | None,
                                 document: Path | None, delete: bool, as_json: bool) -> None:
    """List ACCOUNT_ID's delegation policy templates, register template NAME from the JSON file DOCUMENT (its
    @{parameter} placeholders filled by each request), or --delete it. Prints the template's ARN."""
    from iamroles.iam.delegation import TEMPLATE_NAME, placeholders, template_arn
    from iamroles.policy import PolicyError, PolicyKind, parse_document
    from iamroles.server import bootstrap

    if name is not None and not TEMPLATE_NAME.match(name):
        raise click.BadParameter("1 to 128 of letters, digits and _+=,.@-", param_hint="NAME")
    if (document is not None) == delete and name is not None:
        raise click.UsageError("give the template's DOCUMENT, or --delete")
    text = None
    if document is not None:
        text = document.read_text(encoding="utf-8")
        # the template must be a policy once every placeholder is a plain value
        probe = text
        for p in placeholders(text):
            probe = probe.replace("@{" + p + "}", "PARAMETER")
        try:
            json.loads(text)
            parse_document(probe, PolicyKind.IDENTITY)
        except (ValueError, PolicyError) as err:
            raise click.ClickException(f"{document} is not a policy template: {err}") from None
    private_files()
    store, _, _ = bootstrap(existing(data_dir, db_url))
    with store.write() if name is not None else store.read() as tx:
        account = tx.account(account_id, for_update=name is not None)
        if account is None:
            raise click.ClickException(f"no account {account_id}")
        if name is not None:
            arn = template_arn(account.partition, account_id, name)
            if delete:
                if not tx.delete_delegation_template(arn):
                    raise click.ClickException(f"no template {arn}")
            else:
                assert text is not None
                tx.put_delegation_template(arn, account_id, name, text, datetime.now(UTC))
        rows = [{"arn": r["arn"], "name": r["name"], "parameters": sorted(placeholders(r["document"]))}
                for r in tx.delegation_templates(account_id)]
    if as_json:
        click.echo(json.dumps(rows))
        return
    for r in rows:
        click.echo(f"{r['arn']}  parameters: {', '.join(r['parameters']) or '(none)'}")
