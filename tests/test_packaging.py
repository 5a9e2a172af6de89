"""The package as PyPI would ship it: a wheel built from this tree installs into a fresh virtual environment with
nothing else and decides a policy (``iamroles policy eval``), pulling in no server dependency; the server's
commands say which extra they need; the license metadata is the SPDX form current setuptools takes (PEP 639),
with no deprecation warning in the build.
"""
from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_alone_evaluates_a_policy_in_a_fresh_venv(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH"))}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp_path / "dist"), str(ROOT)],
                           capture_output=True, text=True, env=env, timeout=600)
    assert built.returncode == 0, built.stdout + built.stderr
    log = built.stdout + built.stderr
    assert "license" not in log.lower() or "deprecat" not in log.lower(), log
    wheel = next((tmp_path / "dist").glob("iamroles-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        meta = z.read(next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: Apache-2.0" in meta
    requires = [line for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    assert [r for r in requires if "extra ==" not in r] == ["Requires-Dist: click>=8.1"], requires
    assert any("sqlalchemy" in r and 'extra == "server"' in r for r in requires)
    assert any("psycopg" in r and 'extra == "postgresql"' in r for r in requires)

    target = tmp_path / "venv"
    venv.create(target, with_pip=True, clear=True)
    py = target / "bin" / "python"
    installed = subprocess.run([str(py), "-m", "pip", "install", "-q", str(wheel)], capture_output=True, text=True, env=env, timeout=600)
    assert installed.returncode == 0, installed.stderr
    assert "deprecat" not in (installed.stdout + installed.stderr).lower()
    listed = subprocess.run([str(py), "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True, check=True, env=env).stdout
    names = {line.split("==")[0].lower() for line in listed.splitlines()}
    assert names - {"pip", "setuptools", "wheel"} == {"iamroles", "click"}, names
    policies = ROOT / "examples" / "policies"
    cli = target / "bin" / "iamroles"
    decided = subprocess.run([str(cli), "policy", "eval", "--principal", "arn:aws:iam::111122223333:user/alice",
                              "--principal-tag", "team=blue", "--action", "s3:GetObject", "--resource",
                              "arn:aws:s3:::reports/blue/q1.csv", "--identity", str(policies / "s3-team-read.json"),
                              "--boundary", str(policies / "boundary-s3-only.json"), "--context", "aws:SourceIp=10.1.2.3", "--json"],
                             capture_output=True, text=True, env=env, timeout=120)
    assert decided.returncode == 0, decided.stderr
    assert '"Allow"' in decided.stdout
    denied = subprocess.run([str(cli), "policy", "eval", "--principal", "arn:aws:iam::111122223333:user/alice", "--action",
                             "s3:GetObject", "--resource", "arn:aws:s3:::reports/red/x", "--identity", str(policies / "s3-team-read.json")],
                            capture_output=True, text=True, env=env, timeout=120)
    assert denied.returncode == 4, denied.stderr  # no aws:SourceIp: the corporate-network Deny decides
    validated = subprocess.run([str(cli), "policy", "validate", str(policies / "s3-team-read.json")], capture_output=True, text=True,
                               env=env, timeout=120)
    assert validated.returncode == 0, validated.stderr
    # the library too, with no server module reachable
    lib = subprocess.run([str(py), "-c", "import iamroles.policy as p; print(p.PolicyKind.IDENTITY.name)\n"
                                         "import importlib.util as u; assert u.find_spec('sqlalchemy') is None"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert lib.returncode == 0 and lib.stdout.strip() == "IDENTITY", lib.stderr
    # a command that needs the server says which extra to install, in one line
    for args in (["serve", "--port", "0"], ["accounts", "list"], ["audit"]):
        out = subprocess.run([str(cli), *args], capture_output=True, text=True, env={**env, "HOME": str(tmp_path)}, timeout=120)
        assert out.returncode == 1, (args, out.stderr)
        assert "Traceback" not in out.stderr and "pip install 'iamroles[server]'" in out.stderr, out.stderr
        assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert not (tmp_path / ".iamroles").exists()
    assert subprocess.run([str(cli), "--help"], capture_output=True, env=env, timeout=120).returncode == 0
