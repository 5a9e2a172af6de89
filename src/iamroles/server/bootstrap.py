"""First start: the data directory, the master key, the default account and its root key."""
from __future__ import annotations

import configparser
import os
import secrets
import shlex
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from iamroles.auth.regions import known_regions
from iamroles.iam.context import CallContext, Caller
from iamroles.iam.users import create_access_key_record
from iamroles.policy import Principal
from iamroles.runtime import database_url, default_data_dir
from iamroles.store import Account, Store, User
from iamroles.store.aws_managed import in_partition
from iamroles.tokens import MasterKey, new_secret_access_key, new_unique_id

from .managed import seed_partition

__all__ = ["Settings", "bootstrap", "check_partition", "create_account", "default_data_dir", "ensure_user_key", "home_region",
           "write_credentials"]


@dataclass
class Settings:
    data_dir: Path
    db_url: str | None = None
    account_id: str | None = None
    root_access_key: str | None = None
    root_secret_key: str | None = None
    test_mode: bool = False
    admin_access_key: str | None = None
    admin_secret_key: str | None = None
    cache_ttl: float = 1.0  # how soon another process's writes reach this one (seconds)
    partition: str | None = None  # the default account's partition (first start only; None: aws)
    regions: tuple[tuple[str, str], ...] = ()  # private regions: (name, partition)
    audit_retention: timedelta | None = timedelta(days=90)  # None: keep every event (see server.retention)
    audit_export: Path | None = None  # where events are exported before they are deleted
    audit_prune_interval: float = 600.0  # seconds between pruning rounds
    public_url: str | None = None  # where clients reach the server: web identity token issuers live under it
    validate_policies: str = "off"  # off, warn or deny: Access Analyzer's checks on every stored policy (iam.review)

    @property
    def url(self) -> str:
        return database_url(self.data_dir, self.db_url)


def check_partition(partition: str) -> None:
    """ValueError unless ``partition`` is one of botocore's partitions (aws, aws-cn, aws-us-gov, ...)."""
    partitions = known_regions().partitions
    if partition not in partitions:
        raise ValueError(f"{partition!r} is not a partition (one of {', '.join(sorted(partitions))})")


def _system_ctx(store_tx: object, master_key: MasterKey, account_id: str, partition: str) -> CallContext:
    principal = Principal.from_arn(f"arn:{partition}:iam::{account_id}:root")
    caller = Caller(principal, account_id, partition, "bootstrap")
    return CallContext(caller, store_tx, datetime.now(UTC), "us-east-1", master_key)  # type: ignore[arg-type]


def create_account(store: Store, master_key: MasterKey, account_id: str | None = None,
                   access_key_id: str | None = None, secret: str | None = None, partition: str = "aws") -> tuple[str, str, str]:
    """A new account in ``partition`` with a root access key: (account id, key id, secret).

    An account lives in one partition for good: its ARNs are that partition's, and its keys and temporary
    credentials work only for requests signed for that partition's regions.
    """
    check_partition(partition)
    with store.write() as tx:
        if account_id is None:
            account_id = "".join(secrets.choice("0123456789") for _ in range(12))
            while tx.account(account_id) is not None:
                account_id = "".join(secrets.choice("0123456789") for _ in range(12))
        elif tx.account(account_id) is not None:
            raise ValueError(f"account {account_id} already exists")
        tx.insert_account(Account(account_id, partition, datetime.now(UTC)))
        seed_partition(tx, partition)  # (the first account of a partition brings its AWS managed policies)
        ctx = _system_ctx(tx, master_key, account_id, partition)
        key, secret = create_access_key_record(ctx, None, access_key_id, secret or new_secret_access_key())
    return account_id, key.access_key_id, secret


def ensure_user_key(store: Store, master_key: MasterKey, account_id: str, user_name: str,
                    access_key_id: str, secret: str, policy_arn: str | None = None) -> None:
    """A user with the given key (test mode's administrator), created if missing."""
    with store.write() as tx:
        account = tx.account(account_id)
        if account is None:
            raise ValueError(f"account {account_id} does not exist")
        ctx = _system_ctx(tx, master_key, account_id, account.partition)
        user = tx.entity("user", account_id, user_name)
        if user is None:
            user = User(account_id, user_name, new_unique_id("AIDA"), "/", ctx.arn(f"user/{user_name}"), ctx.now)
            tx.insert_entity("user", user)
        if policy_arn:
            tx.attach(account_id, "user", user.key, in_partition(policy_arn, account.partition))
        if tx.access_key(access_key_id) is None:
            create_access_key_record(ctx, user.key, access_key_id, secret)


def write_credentials(path: Path, profile: str, access_key_id: str, secret: str) -> None:
    """An AWS shared-credentials file, readable by the owner only."""
    config = configparser.ConfigParser()
    if path.exists():
        config.read(path)
    config[profile] = {"aws_access_key_id": access_key_id, "aws_secret_access_key": secret}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        config.write(f)
    os.chmod(path, 0o600)


_HOME_REGIONS = {"aws": "us-east-1", "aws-cn": "cn-north-1", "aws-us-gov": "us-gov-west-1"}


def home_region(partition: str) -> str:
    """A region requests to an account of ``partition`` may be signed for (what the start-up hint names)."""
    if partition in _HOME_REGIONS:
        return _HOME_REGIONS[partition]
    regions = sorted(r for r, p in known_regions().by_region.items() if p == partition)
    return regions[0] if regions else "us-east-1"


def bootstrap(settings: Settings, facts: dict[str, Any] | None = None) -> tuple[Store, MasterKey, list[str]]:
    """Open and migrate the store; on first start create the default account.

    Returns what to tell the operator (never a secret); ``facts`` gets the same for programs (``serve --json``).
    """
    url = make_url(settings.url)
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        # (each process, each worker, each connection would have a database of its own)
        raise ArgumentError("an in-memory SQLite database cannot be shared by the server's processes; give a file: "
                            "sqlite:///PATH")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.data_dir, 0o700)
    master_key, created = MasterKey.load_or_create(settings.data_dir / "master.key")
    notes = []
    facts = facts if facts is not None else {}
    facts.update(data_dir=str(settings.data_dir), master_key_created=created)
    if created:
        notes.append(f"created master key {settings.data_dir / 'master.key'} (0600)")
        facts["master_key_file"] = str(settings.data_dir / "master.key")
    store = Store(settings.url, cache_ttl=settings.cache_ttl)
    store.migrate()
    with store.read() as tx:
        accounts = tx.accounts()
    if not accounts:
        account_id, key_id, secret = create_account(
            store, master_key, settings.account_id, settings.root_access_key, settings.root_secret_key,
            settings.partition or "aws",
        )
        creds = settings.data_dir / "credentials"
        write_credentials(creds, "iamroles", key_id, secret)
        region = home_region(settings.partition or "aws")
        notes.append(f"created account {account_id}; its root access key {key_id} is in {creds} (profile iamroles, mode 0600)")
        # one line that works as printed, in any shell of the sh family: the region too (the AWS CLI has none by default)
        notes.append(f"use it: AWS_SHARED_CREDENTIALS_FILE={shlex.quote(str(creds))} AWS_PROFILE=iamroles "
                     f"AWS_DEFAULT_REGION={region} aws --endpoint-url ENDPOINT sts get-caller-identity")
        facts.update(account_created=True, account_id=account_id, partition=settings.partition or "aws", region=region,
                     root_access_key_id=key_id, credentials_file=str(creds), profile="iamroles")
    elif settings.partition and accounts[0].partition != settings.partition:
        raise SystemExit(f"--partition {settings.partition} does not match the default account's partition "
                         f"{accounts[0].partition} (an account's partition is chosen when it is created)")
    elif settings.root_access_key:
        with store.read() as tx:
            known = tx.access_key(settings.root_access_key)
        if known is None:
            raise SystemExit("--root-access-key does not match the existing account's root key (the database was bootstrapped before)")
    if "account_id" not in facts:
        facts.update(account_created=False, account_id=accounts[0].account_id, partition=accounts[0].partition,
                     region=home_region(accounts[0].partition))
    return store, master_key, notes
