"""Smoke test of bench/authorizer.py: every path it measures decides (allows) the requests it sends.

Not a timing test: the figures are only printed by the benchmark itself.
"""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "authorizer.py"


def test_authorizer_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("bench_authorizer", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    assert module.main(["--duration", "0.1", "--warmup", "0.05", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    paths = {name.rsplit(" c=", 1)[0] for name in rows}
    assert len(paths) == 5 and {name.rsplit(" c=", 1)[1] for name in rows} == {"1", "16"}  # the middleware twice: audit="all" too
    for name, row in rows.items():
        assert row["decisions"] > 0 and row["errors"] == 0, (name, row)
        assert 0 < row["p50_us"] <= row["p99_us"], (name, row)
