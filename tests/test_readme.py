"""The README's "Get started", run as a newcomer would: its shell blocks, read from README.md itself (so the
README cannot drift from what works), in order, on a fresh copy of the repository, with an empty home directory
and nothing installed: a new virtual environment, ``pip install '.[server]'``, ``iamroles serve`` in one
"terminal", every other block in a second one. The only changes made to the text are the ports (4566 and 9911
become free ones, so that the test can run beside others) and, for the first block, nothing else: the server
is the last command of that line and runs in the background here.

The packages come from PyPI as the README's reader gets them (pip's cache is shared with the machine's, so a
second run downloads nothing).
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get_started_blocks(text: str) -> list[str]:
    """The ```sh blocks of the README's "Get started" section (up to the next level-2 heading), in order."""
    section = text.split("\n## Get started\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^```sh\n(.*?)^```$", section, flags=re.S | re.M)


def test_the_get_started_section_is_what_this_test_runs() -> None:
    blocks = get_started_blocks(README.read_text())
    assert blocks[0].strip().startswith("python3 -m venv .venv && . .venv/bin/activate && pip install")
    assert blocks[0].strip().endswith("iamroles serve --port 4566")
    joined = "\n".join(blocks)
    for needed in ("aws sts assume-role", "boto3", "iamroles exec", "iamroles credential-process", "iamroles metadata",
                   "mkdir -p ~/.aws", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL"):
        assert needed in joined, needed


def _fresh_copy(dest: Path) -> None:
    """What a clone holds (the tracked files), without this checkout's virtualenv or caches."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=False)
    if listed.returncode == 0 and listed.stdout:
        for name in listed.stdout.decode().split("\0"):
            if name and (ROOT / name).is_file():
                (dest / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / name, dest / name)
        # files not committed yet (a working tree being tested) count as the clone's too
        others = subprocess.run(["git", "ls-files", "-z", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, check=True)
        for name in others.stdout.decode().split("\0"):
            if name and (ROOT / name).is_file():
                (dest / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / name, dest / name)
        return
    shutil.copytree(ROOT, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".venv", ".git", "__pycache__", "*.egg-info", "build"))


def test_get_started_works_line_by_line_on_a_fresh_machine(tmp_path: Path) -> None:
    blocks = get_started_blocks(README.read_text())
    api, imds = free_port(), free_port()
    blocks = [b.replace("4566", str(api)).replace("9911", str(imds)) for b in blocks]
    repo, home = tmp_path / "repo", tmp_path / "home"
    repo.mkdir()
    home.mkdir()
    _fresh_copy(repo)
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if not p.startswith(sys.prefix))
    env = {"HOME": str(home), "PATH": path, "LANG": "C.UTF-8", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
           "PIP_CACHE_DIR": os.environ.get("PIP_CACHE_DIR") or str(Path.home() / ".cache" / "pip")}
    for name in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_CONFIG_FILE", "TMPDIR"):
        if name in os.environ:
            env[name] = os.environ[name]
    server_log = tmp_path / "terminal-1.log"
    with server_log.open("wb") as out:
        server = subprocess.Popen(["bash", "-e", "-c", blocks[0]], cwd=repo, env=env, stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    try:
        deadline = time.monotonic() + 600  # the install is the first start's cost
        while True:
            assert server.poll() is None, server_log.read_text()[-4000:]
            try:
                if httpx.get(f"http://127.0.0.1:{api}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, server_log.read_text()[-4000:]
            time.sleep(0.5)
        script = "set -e\n" + "\n".join(blocks[1:])
        client = subprocess.run(["bash", "-c", script], cwd=repo, env=env, capture_output=True, text=True, timeout=900)
        out = client.stdout + client.stderr
        assert client.returncode == 0, out[-6000:]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    first = server_log.read_text()
    assert "use it: " in first and "AWS_DEFAULT_REGION=us-east-1" in first
    account = re.search(r"created account (\d{12})", first)
    assert account is not None
    a = account.group(1)
    # the AWS CLI's assumed role, its refusal of what the role may not do, boto3's, exec's, credential_process's, IMDS's
    assert f"arn:aws:sts::{a}:assumed-role/demo/cli" in out
    assert "AccessDenied" in out and "refused" in out
    assert f"arn:aws:sts::{a}:assumed-role/demo/boto3" in out
    assert out.count(f"arn:aws:sts::{a}:assumed-role/app-role/") >= 2  # exec, then metadata
    assert f"arn:aws:iam::{a}:role/" in out  # the boto3 child of exec listed roles
    assert out.count(f"arn:aws:sts::{a}:assumed-role/demo/") >= 3  # cli, boto3, then credential_process's session
    assert (home / ".aws" / "config").read_text().count("credential_process") == 1
    assert not (repo / "alice.key").exists() and not (repo / "demo.creds").exists() and not (repo / "imds.env").exists()
    # the root's and alice's keys are in the one 0600 file, and no secret was printed
    creds = home / ".iamroles" / "credentials"
    assert oct(creds.stat().st_mode & 0o777) == "0o600"
    text = creds.read_text()
    assert "[alice]" in text
    for secret in re.findall(r"aws_secret_access_key = (\S+)", text):
        assert secret not in out and secret not in first


@pytest.mark.parametrize("name", ["README.md"])
def test_the_ci_script_runs_the_readme_test_command(name: str) -> None:
    """.ci/run's last line is the README's test command, character for character."""
    last = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert f"\n{last}\n" in (ROOT / name).read_text()
