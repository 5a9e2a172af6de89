"""Install the oracle (@cloud-copilot/iam-simulate, pinned by package-lock.json).

``npm ci`` runs into ``${XDG_CACHE_HOME:-~/.cache}/iamroles-oracle/<lock hash>``
(or ``$IAMROLES_ORACLE_PREFIX`` when set), so a new lockfile gets a new
directory and an unchanged one is installed once per machine. The install
goes to a temporary directory renamed into place, so a run that dies half
way leaves nothing that looks installed.

``python tests/oracle/install.py`` installs (``.ci/run`` calls it); the test
session calls :func:`ensure` and skips the oracle tests with its reason when
node, npm or the registry is not there.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
LOCK = HERE / "package-lock.json"
PACKAGE = "@cloud-copilot/iam-simulate"
_MARK = ".installed"


def prefix() -> Path:
    """Where the oracle is (or goes): the directory holding node_modules/."""
    given = os.environ.get("IAMROLES_ORACLE_PREFIX")
    if given:
        return Path(given)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    digest = hashlib.sha256(LOCK.read_bytes()).hexdigest()[:16]
    return cache / "iamroles-oracle" / digest


def installed(where: Path | None = None) -> bool:
    where = where or prefix()
    return (where / _MARK).exists() and (where / "node_modules" / PACKAGE / "package.json").exists()


def install(where: Path | None = None, timeout: float = 300, quick: bool = False) -> None:
    """``npm ci`` from package.json + package-lock.json into ``where``; raises on failure.

    ``quick``: give up after one retry (a test session on a machine offline should skip, not wait a minute).
    """
    where = where or prefix()
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not installed")
    where.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".install-", dir=where.parent))
    try:
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(HERE / name, work / name)
        done = subprocess.run(
            [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"]
            + (["--fetch-retries=1", "--fetch-retry-mintimeout=1000", "--fetch-retry-maxtimeout=3000"] if quick else []),
            cwd=work,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(f"npm ci failed ({done.returncode}): {(done.stderr or done.stdout).strip()[-2000:]}")
        (work / _MARK).write_text("ok\n")
        if installed(where):  # another process won the race
            return
        if where.exists():
            shutil.rmtree(where)
        work.rename(where)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)


def ensure(quick: bool = False) -> tuple[Path | None, str]:
    """(prefix, "") when the oracle can run, else (None, why not)."""
    if shutil.which("node") is None:
        return None, "node is not installed (the oracle tests need Node.js 18+ and npm)"
    where = prefix()
    if installed(where):
        return where, ""
    try:
        install(where, quick=quick)
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as exc:
        return None, f"could not install {PACKAGE} into {where}: {exc}"
    return where, ""


if __name__ == "__main__":
    where, why = ensure()
    if where is None:
        print(f"oracle: {why}", file=sys.stderr)
        sys.exit(1)
    print(f"oracle: {PACKAGE} installed in {where}")
