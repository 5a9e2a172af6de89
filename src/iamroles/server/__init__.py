"""iamroles.server: the ASGI app and how ``iamroles serve`` starts it."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from iamroles.auth.regions import Regions
from iamroles.runtime import Service
from iamroles.store import Store
from iamroles.tokens import MasterKey

from .app import create_app
from .bootstrap import Settings, bootstrap, check_partition, create_account, default_data_dir, ensure_user_key, write_credentials
from .managed import ADMINISTRATOR_ACCESS, seed_aws_managed

__all__ = ["Prepared", "Service", "Settings", "build", "prepare", "wire", "create_app", "bootstrap", "check_partition", "create_account", "default_data_dir",
           "write_credentials"]

TEST_ADMIN_USER = "iamroles-admin"


@dataclass
class Prepared:
    """A bootstrapped database and what every process serving it needs (made once, before workers fork)."""

    store: Store
    master_key: MasterKey
    regions: Regions
    default_account: str
    notes: list[str]
    facts: dict[str, Any] = field(default_factory=dict)  # the notes for programs (``serve --json``): never a secret


def prepare(settings: Settings) -> Prepared:
    """Bootstrap the store (migrations, the default account, AWS managed policies, test mode's administrator):
    once per server, before any worker starts. ``notes``: what to tell the operator."""
    from iamroles.auth.regions import known_regions

    try:
        regions = known_regions().declare(settings.regions)
        if settings.partition is not None:
            check_partition(settings.partition)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    if settings.audit_export is not None:  # made (0700) and shown writable now, not at the first export weeks later
        settings.audit_export.mkdir(parents=True, exist_ok=True)
        if not os.access(settings.audit_export, os.W_OK | os.X_OK):
            raise PermissionError(13, "Permission denied", str(settings.audit_export))
    facts: dict[str, Any] = {}
    store, master_key, notes = bootstrap(settings, facts)
    seed_aws_managed(store)
    from iamroles.sts.keys import KeyRing

    KeyRing(store, master_key)  # the first signing key made once, not raced by workers; the master key shown to open it
    with store.read() as tx:
        default_account = tx.accounts()[0].account_id
    if settings.admin_access_key:
        if not settings.test_mode:
            raise SystemExit("--admin-access-key needs --test-mode")
        _admin(settings, store, master_key, default_account)
        notes.append(f"test mode: administrator user {TEST_ADMIN_USER} has access key {settings.admin_access_key}")
    return Prepared(store, master_key, regions, default_account, notes, facts)


def _admin(settings: Settings, store: Store, master_key: MasterKey, default_account: str) -> None:
    if settings.admin_access_key and settings.admin_secret_key:
        ensure_user_key(store, master_key, default_account, TEST_ADMIN_USER, settings.admin_access_key,
                        settings.admin_secret_key, ADMINISTRATOR_ACCESS)


def wire(settings: Settings, prepared: Prepared) -> Service:
    """The service of one serving process on a prepared store, with its own background threads (the audit
    writer, the last-used writer, the audit pruner)."""
    store, master_key, default_account = prepared.store, prepared.master_key, prepared.default_account

    def reset() -> None:
        keep_users = [(default_account, TEST_ADMIN_USER)] if settings.admin_access_key else []
        with store.read() as tx:
            root_keys = [k.access_key_id for a in tx.accounts() for k in tx.access_keys(a.account_id, None)]
        keep = root_keys + ([settings.admin_access_key] if settings.admin_access_key else [])
        with store.write() as tx:
            tx.wipe(keep, keep_users)
        _admin(settings, store, master_key, default_account)

    from iamroles.runtime.audit import AuditLog

    from .retention import Pruner
    from .usage import Usage

    service = Service(store, master_key, test_mode=settings.test_mode, on_reset=reset, audit=AuditLog(store), usage=Usage(store),
                      regions=prepared.regions, public_url=settings.public_url,
                      validate_policies=settings.validate_policies)
    from .rotation import Rotator

    service.rotator = Rotator(store, master_key, service.clock)
    if settings.audit_retention is not None:
        service.pruner = Pruner(store, settings.audit_retention, settings.audit_export, service.clock,
                                settings.audit_prune_interval)
    return service


def build(settings: Settings) -> tuple[Service, list[str]]:
    """Bootstrap the store and wire the service (one serving process); returns it and what to tell the operator."""
    prepared = prepare(settings)
    return wire(settings, prepared), prepared.notes
