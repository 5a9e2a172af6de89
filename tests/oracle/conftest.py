"""The oracle process (one per test session) and the run's report."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from . import install

SCRIPT = Path(__file__).resolve().parent / "simulate.cjs"


class Oracle:
    """A long-lived ``node simulate.cjs``: one JSON line of simulations in, one of results out."""

    def __init__(self, prefix: Path) -> None:
        node = shutil.which("node")
        assert node is not None
        env = dict(os.environ, IAMROLES_ORACLE_PREFIX=str(prefix))
        self.proc = subprocess.Popen(
            [node, str(SCRIPT)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )

    def run(self, simulations: list[dict[str, Any]]) -> list[dict[str, Any]]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(simulations) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            err = self.proc.stderr.read() if self.proc.stderr else ""
            raise RuntimeError(f"the oracle process ended: {err.strip()[-2000:]}")
        answers: list[dict[str, Any]] = json.loads(line)
        return answers

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()


@pytest.fixture(scope="session")
def oracle() -> Iterator[Oracle]:
    prefix, why = install.ensure(quick=True)
    if prefix is None:
        pytest.skip(f"oracle unavailable: {why}")
    o = Oracle(prefix)
    try:
        yield o
    finally:
        o.close()


# what the run saw, for the terminal summary: decisions and disagreements by cause
STATS: dict[str, Counter[str]] = {"decisions": Counter(), "causes": Counter(), "dropped_keys": Counter()}


def pytest_terminal_summary(terminalreporter: Any) -> None:
    decisions = STATS["decisions"]
    total = sum(decisions.values())
    if not total:
        return
    spread = ", ".join(f"{k} {v} ({100 * v / total:.0f}%)" for k, v in sorted(decisions.items()))
    terminalreporter.write_line(f"oracle: {total} cases compared with iam-simulate: {spread}")
    causes = STATS["causes"]
    if causes:
        listed = ", ".join(f"{k} {v}" for k, v in sorted(causes.items()))
        terminalreporter.write_line(f"oracle: recorded differences: {listed}")
    dropped = STATS["dropped_keys"]
    if dropped:
        listed = ", ".join(f"{k} {v}" for k, v in sorted(dropped.items()))
        terminalreporter.write_line(f"oracle: context keys left out as not applying to the action (iam-simulate's data): {listed}")
