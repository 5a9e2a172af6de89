"""Smoke test of bench/analyze.py's account analyses on a small account: they run, find what the workload plants
(administrators reached by escalation paths, partner roles open to another account, unused roles and
permissions), and find the same twice.

Not a timing test: the figures are only printed by the benchmark itself.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytest.importorskip("z3")  # the benchmark's proofs ([analyze] extra) are imported beside its account analyses

BENCH = Path(__file__).resolve().parents[2] / "bench" / "analyze.py"


def _load_bench() -> ModuleType:
    sys.path.insert(0, str(BENCH.parent))  # it imports policy_eval beside it
    try:
        spec = importlib.util.spec_from_file_location("bench_analyze", BENCH)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH.parent))


def test_account_analyses_run_and_are_deterministic() -> None:
    bench = _load_bench()
    first = bench.account_bench(100, 200, quiet=True)
    second = bench.account_bench(100, 200, quiet=True)
    assert first["found"] == second["found"]
    found = first["found"]
    assert found["escalation"] > 0 and found["external access"] > 0 and found["unused (90 days)"] > 0
    assert set(first["seconds"]) == {"load", "trust graph", "external access", "escalation", "unused (90 days)"}
