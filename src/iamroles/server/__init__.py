"""iamroles.server: the ASGI app and how ``iamroles serve`` starts it."""
from __future__ import annotations

from .app import Service, create_app
from .bootstrap import Settings, bootstrap, check_partition, create_account, default_data_dir, ensure_user_key, write_credentials
from .managed import ADMINISTRATOR_ACCESS, seed_aws_managed

__all__ = ["Service", "Settings", "build", "create_app", "bootstrap", "check_partition", "create_account", "default_data_dir",
           "write_credentials"]

TEST_ADMIN_USER = "iamroles-admin"


def build(settings: Settings) -> tuple[Service, list[str]]:
    """Bootstrap the store and wire the service; returns it and what to tell the operator."""
    from iamroles.auth.regions import known_regions

    try:
        regions = known_regions().declare(settings.regions)
        if settings.partition is not None:
            check_partition(settings.partition)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    store, master_key, notes = bootstrap(settings)
    seed_aws_managed(store)
    with store.read() as tx:
        default_account = tx.accounts()[0].account_id

    def admin() -> None:
        if settings.admin_access_key and settings.admin_secret_key:
            ensure_user_key(store, master_key, default_account, TEST_ADMIN_USER, settings.admin_access_key,
                            settings.admin_secret_key, ADMINISTRATOR_ACCESS)

    def reset() -> None:
        keep_users = [(default_account, TEST_ADMIN_USER)] if settings.admin_access_key else []
        with store.read() as tx:
            root_keys = [k.access_key_id for a in tx.accounts() for k in tx.access_keys(a.account_id, None)]
        keep = root_keys + ([settings.admin_access_key] if settings.admin_access_key else [])
        with store.write() as tx:
            tx.wipe(keep, keep_users)
        admin()

    if settings.admin_access_key:
        if not settings.test_mode:
            raise SystemExit("--admin-access-key needs --test-mode")
        admin()
        notes.append(f"test mode: administrator user {TEST_ADMIN_USER} has access key {settings.admin_access_key}")
    from .audit import AuditLog

    from .usage import Usage

    service = Service(store, master_key, test_mode=settings.test_mode, on_reset=reset, audit=AuditLog(store), usage=Usage(store),
                      regions=regions)
    return service, notes
