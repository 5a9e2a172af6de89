"""Smoke test of bench/scale.py at a tiny size: every request it measures is answered 200, the full listing
lists every role loaded, and the targets are computed for every row.

Not a timing test: the figures are only printed by the benchmark itself.
"""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "scale.py"


def _pg_reachable() -> bool:
    try:
        import psycopg

        from ..server.conftest import PG_ADMIN

        psycopg.connect(PG_ADMIN, connect_timeout=3).close()
    except Exception:  # noqa: BLE001
        return False
    return True


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_scale_benchmark_runs(backend: str, capsys: pytest.CaptureFixture[str]) -> None:
    if backend == "postgresql" and not _pg_reachable():
        pytest.skip("PostgreSQL not reachable")
    spec = importlib.util.spec_from_file_location("bench_scale", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    assert module.main(["--sizes", "30,120", "--accounts", "3", "--backends", backend, "--duration", "0.2",
                        "--concurrency", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    by_size = out["results"][backend]
    assert set(by_size) == {"30", "120"}
    for size, rows in by_size.items():
        measured = {name: row for name, row in rows.items() if " | " in name or name.startswith("GetRole c=1")}
        ops = {name.split(" | ")[0] for name in measured if " | " in name}
        assert ops == {"GetRole", "AssumeRole", "GetCallerIdentity", "ListRoles (first page)", "CreateRole"}
        assert {name.split(" | ")[1] for name in measured if " | " in name} == {"1 account", "3 accounts"}
        for name, row in measured.items():
            assert row["requests"] > 0 and row["errors"] == 0, (size, name, row)
        assert rows["full listing"]["finished"] == 1 and rows["full listing"]["roles"] == int(size)
    whats = [t[0] for t in out["targets"]]
    assert sum("within 1.2x" in w for w in whats) == 10
    assert sum("at least 0.8x" in w for w in whats) == 10 and sum("under 20 ms" in w for w in whats) == 2
    assert sum("full listing" in w for w in whats) == 1
