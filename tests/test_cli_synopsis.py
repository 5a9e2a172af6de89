"""The README's CLI synopsis is what the click commands define (scripts/cli_synopsis.py generates it)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_readme_synopsis_lists_every_command_and_option() -> None:
    spec = importlib.util.spec_from_file_location("cli_synopsis", ROOT / "scripts" / "cli_synopsis.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = (ROOT / "README.md").read_text()
    assert module.block() in text, "README's CLI synopsis is stale: run python scripts/cli_synopsis.py --write"
    # and it is complete: every option of serve is in it
    for option in ("--tls-cert", "--metrics-port", "--metrics-token-file", "--access-log", "--log-format", "--shutdown-timeout",
                   "--workers", "--audit-export", "--json"):
        assert option in module.synopsis()
