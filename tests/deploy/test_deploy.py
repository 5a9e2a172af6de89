"""The deployment files in deploy/, tested as far as this machine allows (no container runtime daemon, no
systemd as PID 1): the systemd unit with `systemd-analyze verify` and its offline security score; the container
image definition read instruction by instruction (a non-root user, the data volume, a health check that is run
here against a real server); the compose file parsed, and its topology (PostgreSQL, `iamroles init`, two nodes on
one database and one master key) run here as processes with the commands and environment it gives its services.
"""
from __future__ import annotations

import base64
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
import yaml

from tests.server.conftest import free_port, fresh_pg_database

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent


# --- systemd ---------------------------------------------------------------------------------------------


def unit_directives(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_the_systemd_unit_is_hardened() -> None:
    d = unit_directives((DEPLOY / "iamroles.service").read_text())
    expected = {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
                "PrivateDevices": "yes", "CapabilityBoundingSet": "", "RestrictSUIDSGID": "yes", "UMask": "0077",
                "KillSignal": "SIGTERM", "StateDirectoryMode": "0700", "User": "iamroles", "Restart": "on-failure"}
    for key, value in expected.items():
        assert d.get(key) == [value], key
    assert "@system-service" in d["SystemCallFilter"] and "~@privileged" in d["SystemCallFilter"]
    # it stops within what the server needs to drain (its --shutdown-timeout is 30 s)
    assert int(d["TimeoutStopSec"][0]) > 30
    argv = shlex.split(d["ExecStart"][0])
    assert argv[1:3] == ["serve", "--host"] and argv[3] == "127.0.0.1"


def _verify(unit: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed (the unit's directives are still checked)")
def test_systemd_analyze_verifies_the_unit_and_scores_it_ok(tmp_path: Path) -> None:
    text = (DEPLOY / "iamroles.service").read_text().replace("/opt/iamroles/bin/iamroles", str(BIN / "iamroles"))
    unit = tmp_path / "iamroles.service"
    unit.write_text(text)
    done = _verify(unit)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
    # the check can fail: a misspelt directive is reported
    broken = tmp_path / "broken" / "iamroles.service"
    broken.parent.mkdir()
    broken.write_text(text.replace("ProtectSystem=strict", "ProtectSystem=strictest"))
    assert "strictest" in _verify(broken).stderr
    security = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(unit)], capture_output=True, text=True, timeout=60)
    score = re.search(r"Overall exposure level for iamroles.service: ([\d.]+)", security.stdout)
    assert score is not None, security.stdout + security.stderr
    assert float(score.group(1)) <= 2.0, security.stdout  # systemd's "OK" band


# --- the container image -----------------------------------------------------------------------------------


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Containerfile, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_the_image_runs_as_a_user_with_a_data_volume_and_a_health_check() -> None:
    steps = instructions((DEPLOY / "Containerfile").read_text())
    stages = [i for i, (word, _) in enumerate(steps) if word == "FROM"]
    final = steps[stages[-1]:]
    words = [w for w, _ in final]
    users = [arg for w, arg in final if w == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert words.index("USER") < words.index("ENTRYPOINT")  # no instruction after it runs as root
    assert all(w not in ("RUN", "COPY", "ADD") for w in words[words.index("USER"):])
    assert json.loads(dict(final)["VOLUME"]) == ["/var/lib/iamroles"]
    assert "IAMROLES_DATA_DIR=/var/lib/iamroles" in dict(final)["ENV"]
    assert "4566" in dict(final)["EXPOSE"].split()
    assert json.loads(dict(final)["ENTRYPOINT"]) == ["iamroles"]
    assert json.loads(dict(final)["CMD"])[:1] == ["serve"] and "0.0.0.0" in json.loads(dict(final)["CMD"])
    assert "/ready" in dict(final)["HEALTHCHECK"]
    assert "iamroles[server,postgresql]" in dict(final)["RUN"] or any("iamroles[server,postgresql]" in a for w, a in final if w == "RUN")
    # what it copies exists in the build context, and the context leaves the local virtualenv out
    for w, arg in steps:
        if w == "COPY" and not arg.startswith("--from"):
            for src in arg.split()[:-1]:
                assert (ROOT / src).exists(), src
    assert ".venv" in (ROOT / ".dockerignore").read_text().split()


def test_the_image_health_check_passes_against_a_ready_server_and_fails_without_one(tmp_path: Path) -> None:
    steps = dict(instructions((DEPLOY / "Containerfile").read_text()))
    check = json.loads(steps["HEALTHCHECK"].split("CMD", 1)[1].strip())
    assert check[0] == "python"
    port = free_port()
    cmd = [c.replace("4566", str(port)) for c in check]
    cmd[0] = sys.executable
    assert subprocess.run(cmd, capture_output=True, timeout=30).returncode != 0  # nothing listens yet
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "IAMROLES_"))}, "IAMROLES_DATA_DIR": str(tmp_path / "data")}
    image_cmd = json.loads(steps["CMD"])
    proc = subprocess.Popen([sys.executable, "-m", "iamroles", *[c.replace("4566", str(port)) for c in image_cmd], "--workers", "1"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while subprocess.run(cmd, capture_output=True, timeout=30).returncode != 0:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0


def test_a_container_runtime_builds_the_image_when_one_runs() -> None:
    docker = shutil.which("docker") or shutil.which("podman")
    if docker is None:
        pytest.skip("no docker or podman here: the Containerfile was checked instruction by instruction")
    info = subprocess.run([docker, "info"], capture_output=True, text=True, timeout=60)
    if info.returncode != 0:
        pytest.skip(f"{Path(docker).name} is installed but its daemon does not run here: the Containerfile was checked "
                    "instruction by instruction")
    built = subprocess.run([docker, "build", "-f", str(DEPLOY / "Containerfile"), "-t", "iamroles:test", str(ROOT)],
                           capture_output=True, text=True, timeout=1800)
    assert built.returncode == 0, built.stderr[-4000:]


# --- compose -----------------------------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def test_the_compose_file_runs_postgresql_init_and_two_nodes_with_no_secret_in_it() -> None:
    doc = compose()
    services = doc["services"]
    assert set(services) == {"postgres", "init", "iamroles-1", "iamroles-2"}
    nodes = [services["iamroles-1"], services["iamroles-2"]]
    for node in nodes:
        assert node["depends_on"] == {"init": {"condition": "service_completed_successfully"}}
        assert node["environment"] == services["init"]["environment"]  # one database, one master key
        assert node["command"][0] == "serve"
        for published in node["ports"]:
            assert published.startswith("127.0.0.1:"), published  # not on every interface of the host
        assert (ROOT / node["build"]["dockerfile"]).exists() or (DEPLOY / ".." / node["build"]["dockerfile"]).exists()
    assert services["init"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["init"]["command"] == ["init"]
    assert "ports" not in services["postgres"]  # reached by the nodes only
    assert "healthcheck" in services["postgres"]
    text = (DEPLOY / "compose.yaml").read_text()
    for name in ("POSTGRES_PASSWORD", "IAMROLES_MASTER_KEY"):
        for value in re.findall(rf"{name}: (.*)", text):
            assert value.strip().startswith("${" + name + ":?"), value  # from the operator, required, never a default
    assert services["init"]["environment"]["IAMROLES_DB"].startswith("postgresql+psycopg://")


def _compose_env(service: dict[str, Any], values: dict[str, str]) -> dict[str, str]:
    env = {}
    for key, value in service["environment"].items():
        env[key] = re.sub(r"\$\{(\w+):\?[^}]*\}", lambda m: values[m.group(1)], str(value))
    return env


def test_the_compose_topology_works_as_processes(tmp_path: Path) -> None:
    """What compose would run, as processes here: `iamroles init` then two `iamroles serve` nodes with the
    services' commands and environment, on one fresh PostgreSQL database (its host and credentials are this
    machine's); a role made through one node is assumed on the other, and the session works on the first."""
    doc = compose()
    with fresh_pg_database("iamroles_compose_") as url:
        values = {"POSTGRES_PASSWORD": "unused", "IAMROLES_MASTER_KEY": base64.b64encode(os.urandom(32)).decode()}
        base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "IAMROLES_"))}

        def env_of(name: str, data: Path) -> dict[str, str]:
            env = _compose_env(doc["services"][name], values)
            env["IAMROLES_DB"] = url  # compose's points at its own postgres service
            return {**base, **env, "IAMROLES_DATA_DIR": str(data)}

        init = subprocess.run([sys.executable, "-m", "iamroles", *doc["services"]["init"]["command"], "--json"],
                              env=env_of("init", tmp_path / "init"), capture_output=True, text=True, timeout=120)
        assert init.returncode == 0, init.stderr
        facts = json.loads(init.stdout)
        key_id = facts["root_access_key_id"]
        secret = (tmp_path / "init" / "credentials").read_text().split("aws_secret_access_key = ")[1].split()[0]
        procs, urls = [], []
        try:
            for name in ("iamroles-1", "iamroles-2"):
                port, metrics = free_port(), free_port()
                command = [c.replace("4566", str(port)).replace("9090", str(metrics)).replace("0.0.0.0", "127.0.0.1")
                           for c in doc["services"][name]["command"]]
                procs.append(subprocess.Popen([sys.executable, "-m", "iamroles", *command], env=env_of(name, tmp_path / name),
                                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
                urls.append((f"http://127.0.0.1:{port}", metrics))
            for (u, metrics), proc in zip(urls, procs):
                deadline = time.monotonic() + 60
                while True:
                    assert proc.poll() is None
                    try:
                        if httpx.get(u + "/ready", timeout=2).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    assert time.monotonic() < deadline
                    time.sleep(0.3)
                assert httpx.get(f"http://127.0.0.1:{metrics}/metrics", timeout=5).status_code == 200

            def client(service: str, node: int, **creds: str) -> Any:
                return boto3.client(service, endpoint_url=urls[node][0], region_name="us-east-1",
                                    aws_access_key_id=creds.get("key", key_id), aws_secret_access_key=creds.get("secret", secret),
                                    aws_session_token=creds.get("token"))

            account = client("sts", 0).get_caller_identity()["Account"]
            assert account == facts["account_id"]
            iam = client("iam", 0)
            iam.create_user(UserName="bob")
            iam.put_user_policy(UserName="bob", PolicyName="p", PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["sts:AssumeRole"], "Resource": "*"}]}))
            k = iam.create_access_key(UserName="bob")["AccessKey"]
            role = iam.create_role(RoleName="shared", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:user/bob"}, "Action": "sts:AssumeRole"}]}))["Role"]
            iam.attach_role_policy(RoleName="shared", PolicyArn="arn:aws:iam::aws:policy/IAMReadOnlyAccess")
            time.sleep(2.5)  # past the other node's --cache-ttl
            creds = client("sts", 1, key=k["AccessKeyId"], secret=k["SecretAccessKey"]).assume_role(
                RoleArn=role["Arn"], RoleSessionName="across")["Credentials"]
            session = {"key": creds["AccessKeyId"], "secret": creds["SecretAccessKey"], "token": creds["SessionToken"]}
            assert client("sts", 0, **session).get_caller_identity()["Arn"].endswith(":assumed-role/shared/across")
            assert "shared" in [r["RoleName"] for r in client("iam", 0, **session).list_roles()["Roles"]]
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                assert proc.wait(30) == 0
