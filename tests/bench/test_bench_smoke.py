"""Smoke test of bench/policy_eval.py: it runs and its decisions are stable.

Not a timing test: the figures are only printed by the benchmark itself.
"""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytest.importorskip("moto")  # the peer the benchmark measures beside iamroles ([bench] extra)

BENCH = Path(__file__).resolve().parents[2] / "bench" / "policy_eval.py"


def _load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_policy_eval", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module through sys.modules
    spec.loader.exec_module(module)
    return module


def _run(bench: ModuleType, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    code = bench.main(["--requests", "200", "--repeat", "1", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0, out["iamroles"].get("error")
    return out


def test_benchmark_runs_and_is_deterministic(capsys: pytest.CaptureFixture[str]) -> None:
    bench = _load_bench()
    first = _run(bench, capsys)
    second = _run(bench, capsys)

    assert first["requests"] == 200
    ours = first["iamroles"]
    assert ours["available"]
    assert all(ours["outcomes"][kind] > 0 for kind in ("Allow", "ExplicitDeny", "ImplicitDeny"))
    assert sum(ours["outcomes"].values()) == 200
    assert sum(first["moto"]["outcomes"].values()) == 200

    # Same workload, same decisions, decision by decision.
    assert ours["decisions_sha256"] == second["iamroles"]["decisions_sha256"]
    assert ours["outcomes"] == second["iamroles"]["outcomes"]
    assert first["workload"] == second["workload"]
    # bounded by a four-level organization (SCPs; SCPs and RCPs) that the workload never meets: the same decisions
    for key in ("with_scps", "with_scps_rcps"):
        assert ours[key]["levels"] == 4 and ours[key]["same_decisions"] is True, key
