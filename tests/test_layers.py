"""The layering of DESIGN.md, held by a test: which iamroles packages each package may import.

The policy core is pure and imports nothing of the project; tokens imports
only cryptography; the store knows nothing of HTTP; the protocol layer
nothing of SQL; operations (iam, sts) consume what authentication (auth)
produces; workload credentials are a client of the server over HTTP and import
nothing of it; the middleware sits on the server's authoriser; only the
entry points (server, cli) see everything.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "iamroles"
ALLOWED = {
    "policy": {"policy"},
    "tokens": {"tokens"},
    "errors": set(),
    "store": {"store"},
    "protocol": {"protocol", "errors"},
    "auth": {"auth", "policy", "tokens", "store", "errors"},
    "iam": {"iam", "auth", "policy", "tokens", "store", "errors"},
    "sts": {"sts", "iam", "auth", "policy", "tokens", "store", "errors"},
    "workload": {"workload"},
    "middleware": {"server", "auth", "policy", "errors", "store", "tokens"},
}


def _imports(path: Path, package: str) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: stays inside the package unless it climbs out
                if node.level > (len(path.relative_to(SRC).parts) - 1):
                    found.add((node.module or "").split(".")[0])
                continue
            names = [node.module or ""]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            if name == "iamroles" or name.startswith("iamroles."):
                parts = name.split(".")
                found.add(parts[1] if len(parts) > 1 else "")
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_its_layers(package: str) -> None:
    single = SRC / f"{package}.py"
    files = [single] if single.exists() else sorted((SRC / package).rglob("*.py"))
    assert files
    for path in files:
        bad = _imports(path, package) - ALLOWED[package]
        assert not bad, f"{path.relative_to(SRC)} imports iamroles.{', iamroles.'.join(sorted(bad))}"
