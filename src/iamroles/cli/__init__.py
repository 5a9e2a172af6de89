"""The ``iamroles`` command line: thin, reads arguments, calls the layers below."""
from __future__ import annotations

from typing import Any

import click

from .analyze import analyze
from .delegation import accounts_delegation_template
from .failures import explain
from .org import org
from .policy import policy
from .quota import accounts_quota
from .serve import accounts, audit, audit_prune, init, keys, oidc, roles, serve
from .workload import credential_process, exec_command, metadata

__all__ = ["main"]


class _Main(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:
            message = explain(exc)
            if message is None:
                raise
            click.echo(f"iamroles: error: {message}", err=True)
            ctx.exit(1)


@click.group(cls=_Main)
@click.version_option(package_name="iamroles")
def main() -> None:
    """iamroles: AWS IAM roles that anyone can run."""


main.add_command(policy)
main.add_command(analyze)
main.add_command(org)
main.add_command(serve)
main.add_command(init)
accounts.add_command(accounts_quota)
accounts.add_command(accounts_delegation_template)
main.add_command(accounts)
main.add_command(audit)
main.add_command(audit_prune)
main.add_command(keys)
main.add_command(roles)
main.add_command(oidc)
main.add_command(exec_command)
main.add_command(credential_process)
main.add_command(metadata)
