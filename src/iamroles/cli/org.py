"""``iamroles org``: the organizations in the store, drawn as trees with the policies attached at each level."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import click

from .analyze import _data_dir, _db

__all__ = ["org"]


@click.command("org")
@_data_dir
@_db
@click.option("--org", "only", metavar="ID", help="Only this organization (its o- id, or its management account's id).")
@click.option("--format", "fmt", type=click.Choice(["text", "dot", "svg"]), default="text", show_default=True,
              help="dot: Graphviz's language; svg: a picture (drawn by Graphviz's `dot` when installed, else by "
                   "iamroles' own simple layout).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE [default: standard output].")
@click.option("--json", "as_json", is_flag=True, help="The trees as one JSON object.")
def org(data_dir: Path | None, db_url: str | None, only: str | None, fmt: str, output: Path | None, as_json: bool) -> None:
    """Show the organization tree: its root, OUs and accounts, with the policies (SCPs, ...) attached at each level."""
    from iamroles.analysis.organization import load_trees, to_dot, to_svg, to_text
    from iamroles.runtime import database_url, default_data_dir
    from iamroles.store import Store

    url = database_url(data_dir or default_data_dir(), db_url)
    if url.startswith("sqlite") and "///" in url and not Path(url.split("///", 1)[1]).exists():
        raise click.ClickException(f"no store at {url.split('///', 1)[1]} (start `iamroles serve` first, or pass --data-dir/--db)")
    store = Store(url)
    try:
        trees = load_trees(store, only)
    finally:
        store.close()
    if only is not None and not trees:
        raise click.ClickException(f"no organization {only} (an o- id, or a management account's id)")
    if as_json:
        text = json.dumps({"organizations": [t.to_dict() for t in trees]}, indent=2) + "\n"
    elif fmt == "dot":
        text = to_dot(trees)
    elif fmt == "svg":
        exe = shutil.which("dot")
        if exe is None:
            text = to_svg(trees)
        else:
            text = subprocess.run([exe, "-Tsvg"], input=to_dot(trees).encode(), check=True, capture_output=True).stdout.decode()
    else:
        lines = [line for t in trees for line in (*to_text(t), "")] or ["no organization in this store"]
        text = "\n".join(lines).rstrip("\n") + "\n"
    if output is not None:
        output.write_text(text)
    else:
        click.echo(text, nl=False)
