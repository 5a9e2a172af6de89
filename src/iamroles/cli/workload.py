"""``iamroles exec``, ``iamroles credential-process`` and ``iamroles metadata``: role credentials for unmodified SDKs.

The launcher's own credentials come from botocore's default chain or
``--profile``; the iamroles endpoint from ``--endpoint-url``, else
``IAMROLES_ENDPOINT``, else ``AWS_ENDPOINT_URL`` (or the profile's
``endpoint_url``). Exit codes: ``exec`` passes the command's through and uses
125 for its own failures (126 the command cannot run, 127 not found, as
``env`` does); ``credential-process`` and ``metadata`` exit 1 on failure. 2 is
a command-line error.
"""
from __future__ import annotations

import ipaddress
import json
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, NoReturn

import click

if TYPE_CHECKING:
    from iamroles.workload import Caller, CredentialCache, RoleCredentials, ServiceCredentialsRequest, WorkloadError

__all__ = ["credential_process", "exec_command", "metadata"]

EXIT_EXEC_FAILED = 125

_endpoint = click.option("--endpoint-url", envvar="IAMROLES_ENDPOINT",
                         help="The iamroles endpoint [default: $IAMROLES_ENDPOINT, else $AWS_ENDPOINT_URL].")
_profile = click.option("--profile", help="Your AWS profile for calling iamroles [default: botocore's default chain].")
_duration = click.option("--duration", type=click.IntRange(900, 43200), default=3600, show_default=True,
                         help="Seconds each set of role credentials lasts.")
_session_name = click.option("--session-name", help="The role session's name [default: chosen by the server].")


def _fail(command: str, err: object, status: int) -> NoReturn:
    click.echo(f"iamroles {command}: {err}", err=True)
    sys.exit(status)


def _warner(command: str) -> Callable[[WorkloadError], None]:
    def warn(err: WorkloadError) -> None:
        click.echo(f"iamroles {command}: could not refresh the role's credentials: {err}",
                   err=True)
    return warn


def _cache(command: str, who: Caller, request: ServiceCredentialsRequest) -> CredentialCache:
    """A refreshing cache of ``request``'s credentials, fetched once now; refreshes keep the first session's name."""
    from iamroles.workload import CredentialCache, ServiceCredentialsClient

    client = ServiceCredentialsClient(who)
    current = request

    def fetch() -> RoleCredentials:
        nonlocal current
        creds = client.fetch(current)
        current = replace(current, session_name=creds.session_name)
        return creds

    cache = CredentialCache(fetch, on_error=_warner(command))
    cache.refresh()
    return cache


@click.command("exec", context_settings={"allow_interspersed_args": False, "ignore_unknown_options": True})
@click.option("--role", required=True, help="The role: a name in your account, or an ARN.")
@_duration
@_session_name
@click.option("--service", default="ecs-tasks.amazonaws.com", show_default=True,
              help="The service principal the role is passed to (its trust policy must trust it).")
@_endpoint
@_profile
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def exec_command(role: str, duration: int, session_name: str | None, service: str, endpoint_url: str | None,
                 profile: str | None, command: tuple[str, ...]) -> None:
    """Run COMMAND with ROLE's credentials, as an ECS task runs with its task role.

    You launch a workload with the role on SERVICE (you need
    iamroles:LaunchWorkload on it, with iamroles:ServicePrincipal, and
    iam:PassRole, with iam:PassedToService). COMMAND's SDK finds the credentials by itself on a
    loopback container-credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI),
    refreshed while it runs, and calls iamroles (AWS_ENDPOINT_URL).
    """
    from iamroles.workload import CommandNotRunnable, ServiceCredentialsRequest, WorkloadError, caller, run_with_role

    try:
        who = caller(profile, endpoint_url)
        cache = _cache("exec", who, ServiceCredentialsRequest(service, role=role, session_name=session_name, duration=duration))
    except WorkloadError as err:
        _fail("exec", err, EXIT_EXEC_FAILED)
    try:
        status = run_with_role(cache, command, endpoint_url=who.endpoint, region=who.region)
    except CommandNotRunnable as err:
        _fail("exec", err, err.status)
    sys.exit(status)


@click.command("credential-process")
@click.option("--role", required=True, help="The role: a name in your account, or an ARN.")
@_duration
@_session_name
@_endpoint
@_profile
def credential_process(role: str, duration: int, session_name: str | None, endpoint_url: str | None, profile: str | None) -> None:
    """Print ROLE's credentials as credential_process JSON (Version 1), assumed with sts:AssumeRole.

    In an AWS config profile: credential_process = iamroles credential-process --role ROLE --profile BASE
    """
    from iamroles.workload import WorkloadError, assume_role_document, caller
    from iamroles.workload.process import enter_credential_process

    try:
        enter_credential_process()
        doc = assume_role_document(caller(profile, endpoint_url), role, session_name=session_name, duration=duration)
    except WorkloadError as err:
        _fail("credential-process", err, 1)
    click.echo(json.dumps(doc))


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


@click.command()
@click.option("--instance-profile", required=True, help="The instance profile whose role's credentials are served.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=0, type=click.IntRange(0, 65535), help="[default: any free port]")
@_duration
@_session_name
@click.option("--service", default="ec2.amazonaws.com", show_default=True, help="The service principal the role is passed to.")
@_endpoint
@_profile
def metadata(instance_profile: str, host: str, port: int, duration: int, session_name: str | None, service: str,
             endpoint_url: str | None, profile: str | None) -> None:
    """Serve an instance profile's role credentials on an IMDSv2-compatible endpoint, until interrupted.

    Point SDKs at it with AWS_EC2_METADATA_SERVICE_ENDPOINT (printed on stdout).
    """
    from iamroles.workload import InstanceMetadataEndpoint, ServiceCredentialsRequest, WorkloadError, caller

    try:
        who = caller(profile, endpoint_url)
        cache = _cache("metadata", who, ServiceCredentialsRequest(
            service, instance_profile=instance_profile, session_name=session_name, duration=duration))
    except WorkloadError as err:
        _fail("metadata", err, 1)
    try:
        endpoint = InstanceMetadataEndpoint(cache, who.region, host, port)
    except OSError as exc:
        _fail("metadata", f"cannot listen on {host}:{port}: {exc.strerror or exc}", 1)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: stop.set())
    if not _loopback(host):
        click.echo(f"iamroles metadata: warning: listening on {host}: whoever reaches it gets the role's credentials", err=True)
    with endpoint:
        cache.start()
        try:
            role = cache.latest.role_name if cache.latest else "?"
            click.echo(f"iamroles metadata: serving instance profile {instance_profile} (role {role}) on {endpoint.url}",
                       err=True)
            click.echo(f"AWS_EC2_METADATA_SERVICE_ENDPOINT={endpoint.url}")
            sys.stdout.flush()
            while not stop.wait(1.0):
                pass
        finally:
            cache.close()
