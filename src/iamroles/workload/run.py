"""Running a command whose SDK finds a role's credentials by itself (``iamroles exec``).

The child's environment names the loopback container-credentials endpoint
(``AWS_CONTAINER_CREDENTIALS_FULL_URI`` + ``AWS_CONTAINER_AUTHORIZATION_TOKEN``)
and the iamroles endpoint (``AWS_ENDPOINT_URL``), and loses every credential
source an SDK would consult before the container provider: the launcher's
keys and profile variables, the shared credentials file, web identity, and
credential settings in the config file's default profile (a copy without
them is given when there are any).

Exit status: the child's; 128+N if a signal N ended it; 126 if the command
could not be run, 127 if it was not found. SIGINT, SIGTERM and SIGHUP are
passed on to the child; a SIGINT that a terminal sent to its whole
foreground process group (which the child shares) is not sent twice.
"""
from __future__ import annotations

import configparser
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType

from .container import ContainerCredentialsEndpoint
from .refresh import CredentialCache

__all__ = ["CommandNotRunnable", "child_environment", "config_without_credentials", "run_child", "run_with_role"]

# What botocore's default chain reads before the container provider (credentials.py create_credential_resolver).
STRIPPED = (
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION", "AWS_ACCOUNT_ID", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME",
)
# Settings in a profile that make it a credential source.
CREDENTIAL_SETTINGS = frozenset({
    "aws_access_key_id", "aws_secret_access_key", "aws_session_token", "aws_security_token", "aws_account_id",
    "role_arn", "source_profile", "credential_source", "credential_process", "web_identity_token_file",
    "sso_session", "sso_start_url", "sso_region", "sso_account_id", "sso_role_name", "login_session",
})
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class CommandNotRunnable(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def config_without_credentials(path: Path) -> str | None:
    """The config file's text with credential settings taken out of its default profile, or None if it has none."""
    parser = configparser.RawConfigParser(strict=False, interpolation=None, default_section="\0none")
    try:
        if not parser.read(path):
            return None
    except configparser.Error:
        return None
    changed = False
    for section in ("default", "profile default"):
        if parser.has_section(section):
            for key in [k for k in parser.options(section) if k in CREDENTIAL_SETTINGS]:
                parser.remove_option(section, key)
                changed = True
    if not changed:
        return None
    from io import StringIO

    out = StringIO()
    parser.write(out)
    return out.getvalue()


def child_environment(environ: Mapping[str, str], *, credentials_url: str, token: str, endpoint_url: str,
                      region: str, config_file: str | None = None) -> dict[str, str]:
    """The child's environment: ``environ`` less the launcher's credential sources, plus the endpoints."""
    env = {k: v for k, v in environ.items() if k not in STRIPPED}
    env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = credentials_url
    env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = token
    env["AWS_ENDPOINT_URL"] = endpoint_url
    env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    if config_file is not None:
        env["AWS_CONFIG_FILE"] = config_file
    if not env.get("AWS_REGION") and not env.get("AWS_DEFAULT_REGION"):
        env["AWS_DEFAULT_REGION"] = region
    return env


def _terminal_sent_it() -> bool:
    """Whether we are in a terminal's foreground process group (so its ^C reached the child too)."""
    for stream in (sys.stdin, sys.stdout, sys.stderr):
        try:
            if os.isatty(stream.fileno()):
                return os.tcgetpgrp(stream.fileno()) == os.getpgrp()
        except (OSError, ValueError, AttributeError):
            continue
    return False


def run_child(command: Sequence[str], env: Mapping[str, str]) -> int:
    """Run ``command`` to its end, passing signals on; its exit status (see the module's notes)."""
    child: list[subprocess.Popen[bytes]] = []
    pending: list[int] = []

    def forward(signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGINT and _terminal_sent_it():
            return
        if child:
            try:
                child[0].send_signal(signum)
            except ProcessLookupError:
                pass
        else:
            pending.append(signum)

    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED}
    try:
        try:
            child.append(subprocess.Popen(list(command), env=dict(env)))
        except FileNotFoundError:
            raise CommandNotRunnable(f"{command[0]}: command not found", 127) from None
        except OSError as exc:
            raise CommandNotRunnable(f"{command[0]}: {exc.strerror or exc}", 126) from None
        for signum in pending:
            child[0].send_signal(signum)
        status = child[0].wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return status if status >= 0 else 128 - status


def run_with_role(cache: CredentialCache, command: Sequence[str], *, endpoint_url: str, region: str,
                  environ: Mapping[str, str] | None = None) -> int:
    """Serve ``cache`` on a loopback container-credentials endpoint, run ``command`` against it, refreshing meanwhile.

    The endpoint and the refresh stop when the command ends; its exit status is returned.
    """
    environ = os.environ if environ is None else environ
    config_path = Path(environ.get("AWS_CONFIG_FILE") or "~/.aws/config").expanduser()
    cleaned = config_without_credentials(config_path)
    with tempfile.TemporaryDirectory(prefix="iamroles-exec-") as tmp, ContainerCredentialsEndpoint(cache) as endpoint:
        config_file = None
        if cleaned is not None:
            config_file = os.path.join(tmp, "config")
            with open(os.open(config_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
                out.write(cleaned)
        env = child_environment(environ, credentials_url=endpoint.url, token=endpoint.token,
                                endpoint_url=endpoint_url, region=region, config_file=config_file)
        cache.start()
        try:
            return run_child(command, env)
        finally:
            cache.close()
