"""The ``iamroles`` command line: thin, reads arguments, calls the layers below."""
from __future__ import annotations

import click

from .policy import policy
from .serve import accounts, audit, keys, oidc, roles, serve
from .workload import credential_process, exec_command, metadata

__all__ = ["main"]


@click.group()
@click.version_option(package_name="iamroles")
def main() -> None:
    """iamroles: AWS IAM roles that anyone can run."""


main.add_command(policy)
main.add_command(serve)
main.add_command(accounts)
main.add_command(audit)
main.add_command(keys)
main.add_command(roles)
main.add_command(oidc)
main.add_command(exec_command)
main.add_command(credential_process)
main.add_command(metadata)
