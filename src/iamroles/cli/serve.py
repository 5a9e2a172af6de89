"""``iamroles serve`` and ``iamroles accounts``."""
from __future__ import annotations

import ipaddress
import json
import os
import signal
import socket
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from iamroles.server import Service, Settings


__all__ = ["serve", "init", "accounts", "audit", "audit_prune", "existing", "keys", "oidc", "roles"]

_data_dir = click.option(
    "--data-dir", type=click.Path(path_type=Path), default=None, envvar="IAMROLES_DATA_DIR", metavar="DIR",
    help="Where the database, master key and credentials live [default: ~/.iamroles].",
)
def existing(data_dir: Path | None, db_url: str | None) -> Settings:
    """The settings of a store that ``iamroles serve`` or ``iamroles init`` made: a data directory, a database or
    a master key that does not exist is refused in one line (a typo in --data-dir must not quietly make a new
    store with a new account), and nothing is created."""
    from iamroles.server import Settings, default_data_dir
    from iamroles.tokens.secrets import ENV

    settings = Settings(data_dir or default_data_dir(), db_url)
    where = f"--data-dir {settings.data_dir}" if data_dir is not None else f"the data directory {settings.data_dir}"
    first = "run `iamroles init` (or `iamroles serve`) with it first"
    if not settings.data_dir.is_dir():
        raise click.ClickException(f"{where} does not exist: {first}, or name the right one (--data-dir, IAMROLES_DATA_DIR)")
    if not os.environ.get(ENV) and not (settings.data_dir / "master.key").is_file():
        raise click.ClickException(f"no master key in {settings.data_dir} (and no {ENV}): {first}, or name the right data directory")
    url = settings.url
    if url.startswith("sqlite"):
        from sqlalchemy.engine import make_url

        database = make_url(url).database
        if database and database != ":memory:" and not Path(database).is_file():
            raise click.ClickException(f"no iamroles database at {database}: {first}, or name the right --data-dir / --db")
    elif not _initialised(url):
        raise click.ClickException("the database of --db has no iamroles tables: run `iamroles init --db URL` (or "
                                   "`iamroles serve --db URL`) first, or name the right database")
    return settings


def _initialised(url: str) -> bool:
    """Whether iamroles' migrations ran on the database at ``url`` (read only)."""
    from sqlalchemy import create_engine, inspect

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return inspect(conn).has_table("alembic_version")
    finally:
        engine.dispose()


def _check_partition(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from iamroles.server import check_partition

    if value is not None:
        try:
            check_partition(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
    return value


def _check_regions(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    from iamroles.auth.regions import known_regions, parse_declaration

    try:
        declared = tuple(parse_declaration(entry) for entry in value)
        known_regions().declare(declared)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    return declared


def _check_retention(ctx: click.Context, param: click.Parameter, value: str) -> timedelta | None:
    from iamroles.server.retention import parse_retention

    try:
        return parse_retention(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


_partition = click.option(
    "--partition", callback=_check_partition, metavar="PARTITION",
    help="The account's partition: aws (the default), aws-cn, aws-us-gov... Its ARNs are that partition's, and its "
         "credentials work only for requests signed for that partition's regions.",
)
def _check_public_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """An http(s) URL with a host and nothing after its path (a query or fragment would not survive in an issuer
    URL: OpenID Connect Discovery 1.0, section 3)."""
    if value is None:
        return None
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment or "@" in parts.netloc:
        raise click.BadParameter("an http:// or https:// URL with a host and no query, fragment or user", param_hint="--public-url")
    return value.rstrip("/")


_db = click.option("--db", "db_url", envvar="IAMROLES_DB", metavar="URL", help="Database URL [default: SQLite in the data dir]; e.g. postgresql+psycopg://user@host/db")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=4566, show_default=True, type=int)
@_data_dir
@_db
@click.option("--account-id", envvar="IAMROLES_ACCOUNT_ID", help="The default account's 12-digit id (first start only).")
@click.option("--partition", envvar="IAMROLES_PARTITION", callback=_check_partition, metavar="PARTITION",
              help="The default account's partition (first start only) [default: aws]; e.g. aws-cn, aws-us-gov.")
@click.option("--region", "regions", multiple=True, envvar="IAMROLES_REGIONS", callback=_check_regions, metavar="NAME=PARTITION",
              help="A private region name that requests may be signed for, and its partition (repeatable). "
                   "Besides these, only the regions in botocore's endpoint data are served.")
@click.option("--root-access-key", envvar="IAMROLES_ROOT_ACCESS_KEY", help="The default account's root access key id (first start only).")
@click.option("--root-secret-key", envvar="IAMROLES_ROOT_SECRET_KEY",
              help="Its secret (visible in the process list: prefer IAMROLES_ROOT_SECRET_KEY or --root-secret-key-file).")
@click.option("--root-secret-key-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="A file holding that secret.")
@click.option("--test-mode", is_flag=True, envvar="IAMROLES_TEST_MODE", help="Enable POST /moto-api/reset and --admin-* keys (for CI suites).")
@click.option("--admin-access-key", envvar="IAMROLES_ADMIN_ACCESS_KEY", help="Test mode: an administrator user's key id (any format).")
@click.option("--admin-secret-key", envvar="IAMROLES_ADMIN_SECRET_KEY", help="Its secret (or IAMROLES_ADMIN_SECRET_KEY).")
@click.option("--admin-secret-key-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="A file holding that secret.")
@click.option("--cache-ttl", default=1.0, show_default=True, type=click.FloatRange(0), envvar="IAMROLES_CACHE_TTL",
              help="Seconds a running server trusts what it read; writes by other processes (the CLI, other nodes) apply within this. "
                   "Writes through this server apply at once.")
@click.option("--trusted-proxy", "trusted_proxies", multiple=True, envvar="IAMROLES_TRUSTED_PROXIES", metavar="IP|CIDR",
              help="A reverse proxy whose X-Forwarded-For / X-Forwarded-Proto are believed (repeatable). "
                   "Without one, aws:SourceIp is the connection's peer: a client cannot choose it with a header.")
@click.option("--read-timeout", default=10.0, show_default=True, type=click.FloatRange(0.1), envvar="IAMROLES_READ_TIMEOUT",
              help="Seconds a client has to send a whole request (headers and body); slower connections are closed.")
@click.option("--audit-retention", default="90d", show_default=True, envvar="IAMROLES_AUDIT_RETENTION", callback=_check_retention,
              metavar="PERIOD", help="How long audit events are kept (as CloudTrail's event history: 90 days): 90d, 12h, 30m; "
                                     "'forever' (or 0) keeps every event. Older events are deleted, after --audit-export.")
@click.option("--audit-export", type=click.Path(file_okay=False, path_type=Path), envvar="IAMROLES_AUDIT_EXPORT", metavar="DIR",
              help="Before deleting an event, append it to DIR/iamroles-audit-YYYY-MM-DD.jsonl (its day; one CloudTrail "
                   "record a line, as `iamroles audit --json` prints; files 0600).")
@click.option("--audit-prune-interval", default=600.0, type=click.FloatRange(0.1), envvar="IAMROLES_AUDIT_PRUNE_INTERVAL",
              hidden=True, help="Seconds between pruning rounds.")
@click.option("--workers", type=click.IntRange(1, 256), envvar="IAMROLES_WORKERS",
              help="Processes answering requests on the one port and database [default: the CPUs this process may use; "
                   "1 in test mode]. Writes through any of them apply at once in all.")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False, path_type=Path), envvar="IAMROLES_TLS_CERT", metavar="FILE",
              help="Serve HTTPS with this certificate chain (PEM); clients trust its CA (AWS_CA_BUNDLE, boto3's verify=).")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False, path_type=Path), envvar="IAMROLES_TLS_KEY", metavar="FILE",
              help="The certificate's private key (PEM).")
@click.option("--metrics-port", type=click.IntRange(1, 65535), envvar="IAMROLES_METRICS_PORT", metavar="PORT",
              help="Serve Prometheus metrics on GET /metrics on this port of its own (with /health and /ready); "
                   "the API port never serves them. Off by default.")
@click.option("--metrics-host", default="127.0.0.1", show_default=True, envvar="IAMROLES_METRICS_HOST",
              help="The address the metrics port listens on.")
@click.option("--metrics-token-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), envvar="IAMROLES_METRICS_TOKEN_FILE",
              metavar="FILE", help="GET /metrics requires 'Authorization: Bearer TOKEN', TOKEN being this file's content.")
@click.option("--access-log", is_flag=True, envvar="IAMROLES_ACCESS_LOG",
              help="Log each request: client, method, path (never the query string), operation, status, bytes, time.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True, envvar="IAMROLES_LOG_FORMAT",
              help="json: one JSON object a line (time, level, logger, message, fields).")
@click.option("--log-level", default="warning", show_default=True, envvar="IAMROLES_LOG_LEVEL",
              type=click.Choice(["critical", "error", "warning", "info", "debug"], case_sensitive=False))
@click.option("--shutdown-timeout", default=30.0, show_default=True, type=click.FloatRange(0), envvar="IAMROLES_SHUTDOWN_TIMEOUT",
              help="On SIGTERM or SIGINT: seconds the requests in flight have to finish (new connections are refused at once) "
                   "before the audit trail is written out and the server exits.")
@click.option("--public-url", envvar="IAMROLES_PUBLIC_URL", metavar="URL", callback=_check_public_url,
              help="The URL clients reach this server at (behind a proxy or load balancer: its address). The issuers of "
                   "web identity tokens (GetWebIdentityToken) are URL/oidc/ID, so every server of one database needs the same "
                   "[default: this server's endpoint].")
@click.option("--validate-policies", type=click.Choice(["off", "warn", "deny"]), default="off", show_default=True,
              envvar="IAMROLES_VALIDATE_POLICIES",
              help="Access Analyzer's policy checks (iamroles policy validate --findings) on every policy document stored "
                   "(CreatePolicy, CreatePolicyVersion, Put*Policy, CreateRole, UpdateAssumeRolePolicy, Organizations' "
                   "CreatePolicy and UpdatePolicy): warn logs and audits the findings; deny also refuses ERROR and SECURITY_WARNING "
                   "findings with MalformedPolicyDocument.")
@click.option("--json", "as_json", is_flag=True, help="Also print the start-up facts (endpoint, account, files; never a secret) "
                                                       "as one JSON object on stdout.")
def serve(host: str, port: int, data_dir: Path | None, db_url: str | None, account_id: str | None,
          partition: str | None, regions: tuple[tuple[str, str], ...], root_access_key: str | None, root_secret_key: str | None,
          root_secret_key_file: Path | None, test_mode: bool, admin_access_key: str | None, admin_secret_key: str | None,
          admin_secret_key_file: Path | None, cache_ttl: float, trusted_proxies: tuple[str, ...],
          read_timeout: float, audit_retention: timedelta | None, audit_export: Path | None, audit_prune_interval: float,
          workers: int | None, tls_cert: Path | None, tls_key: Path | None, metrics_port: int | None, metrics_host: str,
          metrics_token_file: Path | None, access_log: bool, log_format: str, log_level: str, shutdown_timeout: float,
          public_url: str | None, validate_policies: str, as_json: bool) -> None:
    """Run the IAM + STS endpoint (AWS Query protocol)."""
    from iamroles.server import Settings, default_data_dir

    root_secret_key = _secret(root_secret_key, root_secret_key_file, "--root-secret-key")
    admin_secret_key = _secret(admin_secret_key, admin_secret_key_file, "--admin-secret-key")
    if account_id is not None and not (account_id.isdigit() and len(account_id) == 12):
        raise click.BadParameter("must be 12 digits", param_hint="--account-id")
    if bool(root_access_key) != bool(root_secret_key):
        raise click.UsageError("give --root-access-key and --root-secret-key together")
    if bool(admin_access_key) != bool(admin_secret_key):
        raise click.UsageError("give --admin-access-key and --admin-secret-key together")
    if admin_access_key and not test_mode:
        raise click.UsageError("--admin-access-key is a test-mode option: add --test-mode")
    proxies = [p.strip() for entry in trusted_proxies for p in entry.split(",") if p.strip()]
    for proxy in proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise click.BadParameter(f"{proxy!r} is not an IP address or CIDR", param_hint="--trusted-proxy") from None
    if metrics_port is not None and metrics_port == port:
        raise click.BadParameter("the metrics get a port of their own: not the API's --port", param_hint="--metrics-port")
    if metrics_token_file is not None and metrics_port is None:
        raise click.UsageError("--metrics-token-file protects the metrics port: give --metrics-port too")
    options = Serving(proxies, read_timeout, log_level.lower(), log_format, _tls(tls_cert, tls_key), access_log, shutdown_timeout,
                      metrics_port, _secret(None, metrics_token_file, "--metrics-token"))
    count = _worker_count(workers, test_mode)
    private_files()
    sock = _listen(host, port)  # before anything is created: a port in use fails first, and alone
    if metrics_port is not None:
        options.metrics_sock = _listen(metrics_host, metrics_port, "--metrics-port")
    where = Where(host, port, "https" if options.tls else "http", metrics_host if metrics_port is not None else None, metrics_port)
    settings = Settings((data_dir or default_data_dir()).absolute(), db_url, account_id, root_access_key, root_secret_key,
                        test_mode, admin_access_key, admin_secret_key, cache_ttl, partition, regions,
                        audit_retention, audit_export, audit_prune_interval, public_url or where.endpoint, validate_policies)
    if count == 1:
        from iamroles.server import prepare, wire

        # a stop asked for is a clean stop (exit 0), as with workers: uvicorn drains, writes the trail out, then
        # hands the signal it caught back to these handlers
        for stop_signal in (signal.SIGTERM, signal.SIGINT):
            signal.signal(stop_signal, _stopped)
        prepared = prepare(settings)
        service = wire(settings, prepared)
        _started(where, prepared.notes, prepared.facts, service.store.postgres, count, _retention_note(settings), as_json)
        _run(service, sock, options)
        return
    sys.exit(_serve_workers(settings, sock, where, count, options, as_json))


def _stopped(signum: int, frame: object) -> None:
    raise SystemExit(0)


@dataclass
class Serving:
    """How each serving process runs (the options of ``serve`` past the store's)."""

    proxies: list[str]
    read_timeout: float
    log_level: str
    log_format: str
    tls: tuple[Path, Path] | None
    access_log: bool
    shutdown_timeout: float
    metrics_port: int | None
    metrics_token: str | None
    metrics_sock: socket.socket | None = None


@dataclass(frozen=True)
class Where:
    """Where the server answers, as the start-up lines and ``--json`` say it."""

    host: str
    port: int
    scheme: str
    metrics_host: str | None
    metrics_port: int | None

    @property
    def endpoint(self) -> str:
        """The URL a client on this machine uses (a wildcard address is reached on loopback)."""
        host = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(self.host, self.host)
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"{self.scheme}://{host}:{self.port}"


def _tls(cert: Path | None, key: Path | None) -> tuple[Path, Path] | None:
    """The certificate and key, shown to load now (a wrong pair fails here in one line, not in a worker)."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise click.UsageError("give --tls-cert and --tls-key together")
    import ssl

    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        raise click.BadParameter(f"cannot use {cert} with {key}: {exc.strerror or exc.args[-1] if exc.args else exc}",
                                 param_hint="--tls-cert/--tls-key") from None
    return cert, key


def _worker_count(workers: int | None, test_mode: bool) -> int:
    """Test mode runs one process: its reset and its clock are a process's state (the clock offset, the caches
    a reset clears), which other workers would not share."""
    from iamroles.server.workers import default_workers

    if test_mode:
        if workers is not None and workers > 1:
            raise click.UsageError("test mode runs one worker (its reset and clock are one process's): drop --workers")
        return 1
    return workers if workers is not None else default_workers()


def _retention_note(settings: Settings) -> list[str]:
    """Said at every start while events are deleted with no copy kept, so nobody loses them unawares."""
    if settings.audit_retention is None or settings.audit_export is not None:
        return []
    return [f"audit events older than {_period(settings.audit_retention)} are deleted (--audit-export DIR keeps a copy; "
            "--audit-retention forever keeps them all)"]


def _period(period: timedelta) -> str:
    seconds = int(period.total_seconds())
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} seconds"


def _started(where: Where, notes: list[str], facts: dict[str, Any], postgres: bool, count: int, after: list[str],
             as_json: bool) -> None:
    """What the operator is told once at start (stderr): ``notes``, the line saying where it serves, then ``after``;
    with ``as_json``, the same facts as one JSON object on stdout."""
    workers = f", {count} workers" if count > 1 else ""
    lines = [*notes, f"serving IAM and STS on {where.endpoint} ({'PostgreSQL' if postgres else 'SQLite'}{workers})"]
    if where.metrics_port is not None:
        lines.append(f"metrics on http://{where.metrics_host}:{where.metrics_port}/metrics")
    for line in [*lines, *after]:
        click.echo(f"iamroles: {line}".replace("ENDPOINT", where.endpoint), err=True)
    if as_json:
        doc = {"endpoint": where.endpoint, "backend": "postgresql" if postgres else "sqlite", "workers": count, **facts,
               "metrics": f"http://{where.metrics_host}:{where.metrics_port}/metrics" if where.metrics_port is not None else None}
        click.echo(json.dumps(doc))
    sys.stdout.flush()


def _run(service: Service, sock: socket.socket, options: Serving) -> None:
    """Serve on ``sock`` (and the metrics socket) until SIGTERM or SIGINT; then the requests in flight finish
    (within ``--shutdown-timeout``) and the app's shutdown writes out the audit trail."""
    import uvicorn

    from iamroles.server import create_app
    from iamroles.server.http import timed_protocol
    from iamroles.server.observe import configure_logging

    configure_logging(options.log_level, options.log_format, options.access_log)
    metrics = None
    if options.metrics_port is not None:
        from iamroles.server.metrics import Metrics

        metrics = Metrics(service)
        service.audit = metrics.counting(service.audit) if service.audit is not None else None
    app = create_app(service, metrics=metrics, metrics_port=options.metrics_port, metrics_token=options.metrics_token,
                     access_log=options.access_log)
    tls: dict[str, Any] = {"ssl_certfile": str(options.tls[0]), "ssl_keyfile": str(options.tls[1])} if options.tls else {}
    # uvicorn believes X-Forwarded-For from 127.0.0.1 by default; that would let any local client set
    # aws:SourceIp, so forwarded headers are ignored unless the operator names the proxies
    config = uvicorn.Config(app, log_level=options.log_level, log_config=None, access_log=False,
                            proxy_headers=bool(options.proxies), forwarded_allow_ips=options.proxies or None,
                            http=timed_protocol(options.read_timeout), timeout_graceful_shutdown=round(options.shutdown_timeout),
                            **tls)
    sockets = [sock] + ([options.metrics_sock] if options.metrics_sock is not None else [])
    uvicorn.Server(config).run(sockets=sockets)


def _serve_workers(settings: Settings, sock: socket.socket, where: Where, count: int, options: Serving, as_json: bool) -> int:
    """Bootstrap once, then fork ``count`` workers on ``sock`` (see ``iamroles.server.workers``); the exit code."""
    import shutil
    import tempfile
    from dataclasses import replace

    from iamroles.server import prepare, wire
    from iamroles.server.workers import SiblingEpoch, supervise
    from iamroles.store import Store

    prepared = prepare(settings)
    prepared.store.close()  # no connection crosses the fork: each worker opens its own
    _started(where, prepared.notes, prepared.facts, prepared.store.postgres, count, _retention_note(settings), as_json)
    siblings = SiblingEpoch()
    shared_metrics = None
    if options.metrics_port is not None:
        # prometheus-client's multiprocess mode: each worker writes its metrics to files here, a scrape of any
        # worker sums them all (see server/metrics.py); set before any worker imports prometheus_client
        from iamroles.server.metrics import MULTIPROC_ENV

        shared_metrics = tempfile.mkdtemp(prefix="iamroles-metrics-")
        os.environ[MULTIPROC_ENV] = shared_metrics

    def run_worker(index: int) -> int:
        store = Store(settings.url, cache_ttl=settings.cache_ttl, siblings=siblings)
        _run(wire(settings, replace(prepared, store=store)), sock, options)
        return 0

    def report(message: str) -> None:
        click.echo(f"iamroles: {message}", err=True)

    try:
        return supervise(count, run_worker, report)
    finally:
        if shared_metrics is not None:
            shutil.rmtree(shared_metrics, ignore_errors=True)


def private_files() -> None:
    """Every file this process creates is 0600 and every directory 0700, wherever it lives (a --db sqlite file
    outside the data directory, its -wal and -shm)."""
    os.umask(0o077)


def _secret(value: str | None, path: Path | None, option: str) -> str | None:
    if path is None:
        return value
    if value:
        raise click.UsageError(f"give {option} or {option}-file, not both")
    text = path.read_text().strip()
    if not text:
        raise click.BadParameter(f"{path} is empty", param_hint=f"{option}-file")
    return text


def _listen(host: str, port: int, option: str = "--port") -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc} "
                                   f"(is another server running there? choose another {option})") from None
    sock.setblocking(False)
    return sock


@click.command()
@_data_dir
@_db
@click.option("--account-id", help="The default account's 12-digit id [default: random].")
@click.option("--partition", callback=_check_partition, metavar="PARTITION", help="The default account's partition [default: aws].")
@click.option("--json", "as_json", is_flag=True, help="What was made, as one JSON object (never a secret).")
def init(data_dir: Path | None, db_url: str | None, account_id: str | None, partition: str | None, as_json: bool) -> None:
    """Make a store, as the first `iamroles serve` would: the data directory, the master key, the database (its
    migrations), the default account with its root key in DATA_DIR/credentials, the signing key. Idempotent:
    an existing store is migrated and left as it is."""
    from iamroles.server import Settings, default_data_dir, prepare

    if account_id is not None and not (account_id.isdigit() and len(account_id) == 12):
        raise click.BadParameter("must be 12 digits", param_hint="--account-id")
    private_files()
    prepared = prepare(Settings((data_dir or default_data_dir()).absolute(), db_url, account_id, partition=partition))
    prepared.store.close()
    if as_json:
        click.echo(json.dumps(prepared.facts))
        return
    for line in prepared.notes or [f"{prepared.facts['data_dir']} is ready (account {prepared.facts['account_id']})"]:
        click.echo(f"iamroles: {line}".replace(" --endpoint-url ENDPOINT", ""), err=True)


@click.group()
def accounts() -> None:
    """Create and list accounts (each with its own root credentials)."""


@accounts.command("create")
@_data_dir
@_db
@click.option("--account-id", help="12 digits [default: random].")
@_partition
@click.option("--profile", help="Credentials-file profile for its root key [default: iamroles-ACCOUNT].")
@click.option("--json", "as_json", is_flag=True)
def accounts_create(data_dir: Path | None, db_url: str | None, account_id: str | None, partition: str | None,
                    profile: str | None, as_json: bool) -> None:
    """Create an account; its root key goes to the credentials file, never to the screen."""
    from iamroles.server import bootstrap, create_account, write_credentials

    settings = existing(data_dir, db_url)
    private_files()
    store, master_key, _ = bootstrap(settings)
    try:
        account, key_id, secret = create_account(store, master_key, account_id, partition=partition or "aws")
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    creds = settings.data_dir / "credentials"
    name = profile or f"iamroles-{account}"
    write_credentials(creds, name, key_id, secret)
    if as_json:
        click.echo(json.dumps({"account_id": account, "partition": partition or "aws", "access_key_id": key_id,
                               "credentials_file": str(creds), "profile": name}))
    else:
        click.echo(f"created account {account} in partition {partition or 'aws'}; root access key {key_id} is in {creds} (profile {name})")


@accounts.command("list")
@_data_dir
@_db
@click.option("--json", "as_json", is_flag=True)
def accounts_list(data_dir: Path | None, db_url: str | None, as_json: bool) -> None:
    """List accounts."""
    from iamroles.server import bootstrap

    private_files()
    store, _, _ = bootstrap(existing(data_dir, db_url))
    with store.read() as tx:
        rows = [{"account_id": a.account_id, "partition": a.partition, "created": a.created_at.isoformat()} for a in tx.accounts()]
    if as_json:
        click.echo(json.dumps(rows))
    else:
        for r in rows:
            click.echo(f"{r['account_id']}  {r['partition']:<10}  {r['created']}")
    sys.exit(0)


@click.command()
@_data_dir
@_db
@click.option("--account-id", help="Only this account's events.")
@click.option("--event", "event_name", help="Only this operation, e.g. CreateRole.")
@click.option("--principal", help="Only calls by this principal ARN.")
@click.option("--errors", is_flag=True, help="Only failed calls.")
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One CloudTrail-shaped JSON event per line.")
def audit(data_dir: Path | None, db_url: str | None, account_id: str | None, event_name: str | None,
          principal: str | None, errors: bool, limit: int, as_json: bool) -> None:
    """Read the audit trail (newest first)."""
    from iamroles.server import bootstrap

    private_files()
    store, _, _ = bootstrap(existing(data_dir, db_url))
    with store.read() as tx:
        records = tx.audit(account_id=account_id, event_name=event_name, principal_arn=principal, errors_only=errors, limit=limit)
    if as_json:
        for raw in records:
            click.echo(raw)
        return
    _audit_table([json.loads(raw) for raw in records])


def _audit_table(events: list[dict[str, Any]]) -> None:
    """The events as a table with a header (rich): time, call, result, who, from where."""
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("TIME (UTC)", no_wrap=True)
    table.add_column("CALL", no_wrap=True)
    table.add_column("RESULT", no_wrap=True)
    table.add_column("PRINCIPAL", overflow="fold")
    table.add_column("SOURCE IP", no_wrap=True)
    for e in events:
        who = (e.get("userIdentity") or {}).get("arn") or (e.get("userIdentity") or {}).get("type") or "-"
        result = e.get("errorCode") or "ok"
        table.add_row(str(e["eventTime"]), f"{str(e['eventSource']).split('.')[0]}:{e['eventName']}",
                      f"[red]{result}[/red]" if e.get("errorCode") else result, str(who), str(e.get("sourceIPAddress") or "-"))
    console = Console(highlight=False, soft_wrap=False)
    if not events:
        console.print("no audit events match", style="dim")
        return
    console.print(table)


@click.command("audit-prune")
@_data_dir
@_db
@click.option("--retention", default="90d", show_default=True, callback=_check_retention, metavar="PERIOD",
              help="Events older than this are exported, then deleted: 90d, 12h, 30m.")
@click.option("--export", "export_dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Append them first to DIR/iamroles-audit-YYYY-MM-DD.jsonl (one CloudTrail record a line; files 0600).")
def audit_prune(data_dir: Path | None, db_url: str | None, retention: timedelta | None, export_dir: Path | None) -> None:
    """Export, then delete, the audit events older than the retention period, now (what a running server does
    every 10 minutes with its --audit-retention and --audit-export)."""
    from datetime import datetime

    from iamroles.server import bootstrap
    from iamroles.server.retention import prune

    if retention is None:
        raise click.UsageError("--retention forever keeps every event: there is nothing to prune")
    private_files()
    store, _, _ = bootstrap(existing(data_dir, db_url))
    if export_dir is not None:
        export_dir.mkdir(parents=True, exist_ok=True)
    done = prune(store, datetime.now(UTC), retention, export_dir)
    if done.skipped:
        raise click.ClickException("another process is pruning the audit trail now; try again when it has finished")
    where = f" to {export_dir}" if export_dir is not None else ""
    click.echo(f"exported {done.exported} event(s){where} and deleted {done.deleted}")


@click.group()
def keys() -> None:
    """Manage the signing keys that seal session tokens."""


@keys.command("rotate")
@_data_dir
@_db
@click.option("--json", "as_json", is_flag=True, help="{key_id, older_keys, purged} as JSON.")
def keys_rotate(data_dir: Path | None, db_url: str | None, as_json: bool) -> None:
    """Make a new signing key; tokens sealed under older keys work until they expire."""
    from iamroles.server import bootstrap
    from iamroles.sts.keys import KeyRing

    private_files()
    store, master_key, _ = bootstrap(existing(data_dir, db_url))
    ring = KeyRing(store, master_key)
    new = ring.rotate()
    dropped = ring.purge()
    if as_json:
        click.echo(json.dumps({"key_id": new, "older_keys": len(ring.keys) - 1, "purged": len(dropped)}))
        return
    click.echo(f"new signing key {new}; {len(ring.keys) - 1} older key(s) still open their tokens" + (f"; purged {len(dropped)}" if dropped else ""))


@keys.command("list")
@_data_dir
@_db
@click.option("--json", "as_json", is_flag=True, help="A JSON array of {key_id, created, retired, current}.")
def keys_list(data_dir: Path | None, db_url: str | None, as_json: bool) -> None:
    """List signing keys (ids and dates, never the keys)."""
    from iamroles.server import bootstrap

    private_files()
    store, _, _ = bootstrap(existing(data_dir, db_url))
    with store.read() as tx:
        rows = tx.signing_keys()
    if as_json:
        click.echo(json.dumps([{"key_id": r.key_id, "created": r.created_at.isoformat(),
                                "retired": r.retired_at.isoformat() if r.retired_at else None, "current": r.retired_at is None}
                               for r in rows]))
        return
    for row in rows:
        state = f"retired {row.retired_at.isoformat()}" if row.retired_at else "current"
        click.echo(f"{row.key_id}  created {row.created_at.isoformat()}  {state}")


@keys.command("rotate-web-identity")
@click.option("--account-id", "account_ids", multiple=True, metavar="ID",
              help="Only this account's keys (repeatable) [default: every account that has enabled outbound identity federation].")
@click.option("--now", "immediately", is_flag=True,
              help="Sign with the new keys at once (a key thought compromised) instead of publishing them 10 minutes ahead.")
@_data_dir
@_db
@click.option("--json", "as_json", is_flag=True, help="{account: {new, dropped}} as JSON.")
def keys_rotate_web_identity(account_ids: tuple[str, ...], immediately: bool, data_dir: Path | None, db_url: str | None,
                             as_json: bool) -> None:
    """New keys for web identity tokens (GetWebIdentityToken), one per algorithm.

    The issuer's JWKS lists a new key at once; it signs from 10 minutes later (with --now, at once), so that
    verifiers caching the JWKS know it first. Older keys stay published until every token they signed has
    expired; keys past that are dropped.
    """
    from iamroles.iam.outbound import rotate
    from iamroles.server import bootstrap

    private_files()
    store, master_key, _ = bootstrap(existing(data_dir, db_url))
    if account_ids:
        with store.read() as tx:
            have = set(tx.accounts_with_jwt_keys())
        for account in account_ids:
            if account not in have:
                raise click.ClickException(f"account {account} has never enabled outbound identity federation: it has no keys to rotate")
    done = rotate(store, master_key, datetime.now(UTC), list(account_ids) or None, immediately)
    if as_json:
        click.echo(json.dumps({a: {"new": new, "dropped": dropped} for a, (new, dropped) in done.items()}))
        return
    if not done:
        click.echo("no account has enabled outbound identity federation: no keys to rotate")
    when = "now" if immediately else "in 10 minutes"
    for account, (new, dropped) in done.items():
        click.echo(f"{account}: new keys {', '.join(new)} (signing {when})" + (f"; dropped {len(dropped)} spent key(s)" if dropped else ""))


@keys.command("list-web-identity")
@click.option("--account-id", help="Only this account's keys.")
@_data_dir
@_db
@click.option("--json", "as_json", is_flag=True, help="A JSON array of {account_id, key_id, algorithm, created, active_from}.")
def keys_list_web_identity(account_id: str | None, data_dir: Path | None, db_url: str | None, as_json: bool) -> None:
    """List the keys that sign web identity tokens (ids and dates, never the keys)."""
    from iamroles.server import bootstrap

    private_files()
    store, _, _ = bootstrap(existing(data_dir, db_url))
    with store.read() as tx:
        accounts = [account_id] if account_id else tx.accounts_with_jwt_keys()
        rows = [k for a in accounts for k in tx.jwt_signing_keys(a)]
    if as_json:
        click.echo(json.dumps([{"account_id": r.account_id, "key_id": r.key_id, "algorithm": r.algorithm,
                                "created": r.created_at.isoformat(), "active_from": r.active_from.isoformat()} for r in rows]))
        return
    for r in rows:
        click.echo(f"{r.account_id}  {r.algorithm}  {r.key_id}  created {r.created_at.isoformat()}  signs from {r.active_from.isoformat()}")


REVOKE_POLICY = "AWSRevokeOlderSessions"


@click.group()
def roles() -> None:
    """Role administration that has no IAM API of its own."""


@roles.command("revoke-sessions")
@click.argument("role_name")
@click.option("--account-id", help="The role's account [default: the first account].")
@_data_dir
@_db
@click.option("--json", "as_json", is_flag=True, help="{role_arn, revoked_before, policy_name} as JSON.")
def roles_revoke_sessions(role_name: str, account_id: str | None, data_dir: Path | None, db_url: str | None, as_json: bool) -> None:
    """Revoke every session of ROLE_NAME issued before now, as the IAM console does.

    Puts the inline policy AWSRevokeOlderSessions: a Deny of everything when
    aws:TokenIssueTime is before this moment (id_roles_use_revoke-sessions.html).
    New sessions are unaffected.
    """
    import json as _json
    from datetime import datetime

    from iamroles.policy.request import format_time
    from iamroles.server import bootstrap

    private_files()
    store, _, _ = bootstrap(existing(data_dir, db_url))
    now = format_time(datetime.now(UTC))
    document = _json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": ["*"], "Resource": ["*"],
                            "Condition": {"DateLessThan": {"aws:TokenIssueTime": now}}}]})
    with store.write() as tx:
        account = account_id or tx.accounts()[0].account_id
        role = tx.entity("role", account, role_name)
        if role is None:
            raise click.ClickException(f"The role with name {role_name} cannot be found in account {account}.")
        tx.put_inline(account, "role", role.key, REVOKE_POLICY, document)
    if as_json:
        click.echo(json.dumps({"role_arn": role.arn, "revoked_before": now, "policy_name": REVOKE_POLICY}))
        return
    click.echo(f"revoked sessions of {role.arn} issued before {now} (running servers apply it within their --cache-ttl, 1 s by default)")


@click.group()
def oidc() -> None:
    """OpenID Connect providers: the keys their tokens are verified with."""


@oidc.command("jwks")
@click.argument("provider_arn")
@click.argument("jwks_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_data_dir
@_db
def oidc_jwks(provider_arn: str, jwks_file: Path, data_dir: Path | None, db_url: str | None) -> None:
    """Set the JWKS (public keys) that tokens of PROVIDER_ARN must be signed with.

    Without one, iamroles fetches the issuer's /.well-known/openid-configuration.
    """
    from iamroles.server import bootstrap

    try:
        jwks = json.loads(jwks_file.read_text())
    except ValueError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="JWKS_FILE") from None
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
        raise click.BadParameter('a JWKS is {"keys": [...]} with at least one key', param_hint="JWKS_FILE")
    if any("d" in k or "p" in k for k in jwks["keys"] if isinstance(k, dict)):
        raise click.BadParameter("this JWKS holds private key material; give the public keys only", param_hint="JWKS_FILE")
    private_files()
    store, _, _ = bootstrap(existing(data_dir, db_url))
    with store.write() as tx:
        provider = tx.oidc_provider(provider_arn)
        if provider is None:
            raise click.ClickException(f"OpenIDConnect Provider not found for arn {provider_arn}")
        tx.update_oidc_provider(provider_arn, jwks=json.dumps(jwks))
    click.echo(f"{provider_arn}: {len(jwks['keys'])} key(s) set")
