"""Commands that open a store refuse one that does not exist (issue 16): a typo in --data-dir or --db must not
quietly make a new store with a new account. Only `iamroles serve` and `iamroles init` make one. Each refusal is
one line, exit 1, and creates nothing; `init` makes the store the others then open, and says so as JSON."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.server.conftest import fresh_pg_database

COMMANDS = [
    ["accounts", "list"], ["accounts", "create"], ["accounts", "quota", "123456789012"], ["audit"], ["audit-prune"],
    ["keys", "list"], ["keys", "rotate"], ["roles", "revoke-sessions", "demo"],
    ["oidc", "jwks", "arn:aws:iam::123456789012:oidc-provider/example.com", "JWKS"],
]


def iamroles(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "IAMROLES_"))}
    return subprocess.run([sys.executable, "-m", "iamroles", *args], capture_output=True, text=True, timeout=120,
                          env={**env, "HOME": str(home)})


def _args(command: list[str], tmp: Path) -> list[str]:
    jwks = tmp / "jwks.json"
    jwks.write_text('{"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "k"}]}')
    return [str(jwks) if a == "JWKS" else a for a in command]


def assert_refused(out: subprocess.CompletedProcess[str], *words: str) -> None:
    assert out.returncode == 1, (out.returncode, out.stdout, out.stderr)
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_a_data_directory_that_does_not_exist_is_refused_and_nothing_is_made(command: list[str], tmp_path: Path) -> None:
    typo = tmp_path / "typo"
    out = iamroles(*_args(command, tmp_path), "--data-dir", str(typo), home=tmp_path)
    assert_refused(out, str(typo), "does not exist", "iamroles init")
    assert not typo.exists() and not (tmp_path / ".iamroles").exists()
    # the default one (~/.iamroles) likewise
    out = iamroles(*_args(command, tmp_path), home=tmp_path)
    assert_refused(out, str(tmp_path / ".iamroles"))
    assert not (tmp_path / ".iamroles").exists()


def test_a_directory_without_a_master_key_or_database_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_refused(iamroles("accounts", "list", "--data-dir", str(empty), home=tmp_path), "no master key")
    assert sorted(p.name for p in empty.iterdir()) == []
    made = tmp_path / "made"
    assert iamroles("init", "--data-dir", str(made), home=tmp_path).returncode == 0
    (made / "iamroles.db").unlink()
    assert_refused(iamroles("audit", "--data-dir", str(made), home=tmp_path), "no iamroles database", str(made / "iamroles.db"))
    assert not (made / "iamroles.db").exists()
    other = tmp_path / "other.db"
    assert_refused(iamroles("keys", "list", "--data-dir", str(made), "--db", f"sqlite+pysqlite:///{other}", home=tmp_path), str(other))
    assert not other.exists()


def test_an_empty_postgresql_database_is_refused_and_left_empty(tmp_path: Path) -> None:
    import psycopg

    with fresh_pg_database("iamroles_cli_") as url:
        made = tmp_path / "data"
        assert iamroles("init", "--data-dir", str(made), home=tmp_path).returncode == 0  # a master key; the database is apart
        assert_refused(iamroles("accounts", "list", "--data-dir", str(made), "--db", url, home=tmp_path), "no iamroles tables")
        with psycopg.connect(url.replace("+psycopg", "")) as conn:
            tables = conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'").fetchone()
        assert tables == (0,)
        assert iamroles("init", "--data-dir", str(made), "--db", url, home=tmp_path).returncode == 0
        listed = iamroles("accounts", "list", "--json", "--data-dir", str(made), "--db", url, home=tmp_path)
        assert listed.returncode == 0 and len(json.loads(listed.stdout)) == 1


def test_init_makes_the_store_once_and_the_commands_use_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = iamroles("init", "--json", "--data-dir", str(data), "--account-id", "123456789012", home=tmp_path)
    assert first.returncode == 0, first.stderr
    facts = json.loads(first.stdout)
    assert facts["account_id"] == "123456789012" and facts["account_created"] is True and facts["master_key_created"] is True
    secret = (data / "credentials").read_text().split("aws_secret_access_key = ")[1].split()[0]
    assert secret not in first.stdout + first.stderr
    again = json.loads(iamroles("init", "--json", "--data-dir", str(data), home=tmp_path).stdout)
    assert again["account_created"] is False and again["master_key_created"] is False and again["account_id"] == "123456789012"
    keys = json.loads(iamroles("keys", "list", "--json", "--data-dir", str(data), home=tmp_path).stdout)
    assert len(keys) == 1 and keys[0]["current"] is True and set(keys[0]) == {"key_id", "created", "retired", "current"}
    rotated = json.loads(iamroles("keys", "rotate", "--json", "--data-dir", str(data), home=tmp_path).stdout)
    assert rotated["older_keys"] == 1
    keys = json.loads(iamroles("keys", "list", "--json", "--data-dir", str(data), home=tmp_path).stdout)
    assert [k["current"] for k in keys].count(True) == 1 and len(keys) == 2
    accounts = json.loads(iamroles("accounts", "list", "--json", "--data-dir", str(data), home=tmp_path).stdout)
    assert [a["account_id"] for a in accounts] == ["123456789012"]
    missing = iamroles("roles", "revoke-sessions", "nobody", "--json", "--data-dir", str(data), home=tmp_path)
    assert missing.returncode == 1 and "cannot be found" in missing.stderr
