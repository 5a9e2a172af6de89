"""The README's CLI synopsis, generated from the click commands themselves (so it lists every option there is).

    python scripts/cli_synopsis.py          # print it
    python scripts/cli_synopsis.py --write  # replace the block between the README's cli-synopsis markers

tests/test_cli_synopsis.py fails when the README's block is not what this prints.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click

README = Path(__file__).resolve().parents[1] / "README.md"
BEGIN, END = "<!-- cli-synopsis:begin (python scripts/cli_synopsis.py --write) -->", "<!-- cli-synopsis:end -->"
WIDTH = 118


def _param(param: click.Parameter, ctx: click.Context) -> str | None:
    if isinstance(param, click.Argument):
        name = (param.metavar or param.name or "ARG").upper()
        if param.nargs == -1:
            name += "..."
        return name if param.required else f"[{name}]"
    assert isinstance(param, click.Option)
    if param.hidden or "--help" in param.opts or "--version" in param.opts:
        return None
    flag = max(param.opts, key=len)
    if param.is_flag:
        text = flag
    else:
        text = f"{flag} {_metavar(param, flag)}"
    if param.multiple:
        return f"[{text}]..."
    return text if param.required else f"[{text}]"


def _metavar(param: click.Option, flag: str) -> str:
    if param.metavar:
        return param.metavar
    kind = param.type
    if isinstance(kind, click.Choice):
        return "|".join(str(c) for c in kind.choices)
    if isinstance(kind, (click.types.IntParamType, click.types.FloatParamType)):
        return "N"
    if isinstance(kind, click.Path):
        return "DIR" if not kind.file_okay else "FILE" if not kind.dir_okay else "PATH"
    return flag.lstrip("-").upper().replace("-", "_")


def _wrap(parts: list[str], width: int) -> list[str]:
    """``parts`` on lines of at most ``width`` characters, never splitting one."""
    lines = [""]
    for part in parts:
        if lines[-1] and len(lines[-1]) + 1 + len(part) > width:
            lines.append(part)
        else:
            lines[-1] = f"{lines[-1]} {part}".strip()
    return lines


def _commands(group: click.Group, ctx: click.Context, path: list[str]) -> list[tuple[list[str], click.Command]]:
    found = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        if isinstance(command, click.Group):
            found += _commands(command, ctx, [*path, name])
        else:
            found.append(([*path, name], command))
    return found


def synopsis() -> str:
    from iamroles.cli import main

    ctx = click.Context(main, info_name="iamroles")
    lines = []
    for path, command in _commands(main, ctx, []):
        sub = click.Context(command, parent=ctx, info_name=path[-1])
        parts = [p for p in (_param(param, sub) for param in command.get_params(sub)) if p]
        head = "iamroles " + " ".join(path)
        wrapped = _wrap(parts, WIDTH - len(head) - 1)
        lines.append(f"{head} {wrapped[0]}".rstrip())
        lines += [" " * (len(head) + 1) + w for w in wrapped[1:]]
        lines.append("    " + (command.get_short_help_str(WIDTH - 4)))
    return "\n".join(lines) + "\n"


def block() -> str:
    return f"{BEGIN}\n```\n{synopsis()}```\n{END}"


def main() -> int:
    if "--write" not in sys.argv[1:]:
        sys.stdout.write(synopsis())
        return 0
    text = README.read_text()
    start, end = text.index(BEGIN), text.index(END) + len(END)
    README.write_text(text[:start] + block() + text[end:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
