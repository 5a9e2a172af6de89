"""Shared helpers for the policy case files (tests/policy/cases/)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CASES = Path(__file__).parent / "cases"


def load_cases(area: str) -> list[tuple[str, dict[str, Any]]]:
    """Every case of every JSON file under cases/<area>/, as (id, case)."""
    out: list[tuple[str, dict[str, Any]]] = []
    for path in sorted((CASES / area).glob("*.json")):
        data = json.loads(path.read_text())
        for case in data["cases"]:
            out.append((f"{path.stem}:{case['name']}", case))
    return out
