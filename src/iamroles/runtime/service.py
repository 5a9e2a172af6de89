"""What one iamroles process holds between requests: the store, the keys, the caches and the clock.

The entry points run calls over it (the ASGI app's endpoints, the middleware's in-process authoriser); it
handles no request itself.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from iamroles.auth.authenticate import Authenticator
from iamroles.auth.caller import Caller
from iamroles.auth.regions import Regions, known_regions
from iamroles.iam import CallContext, PolicyCache
from iamroles.iam.mfa import MfaReplay
from iamroles.iam.outbound import Issuer
from iamroles.store import Store, Tx
from iamroles.sts.keys import KeyRing
from iamroles.sts.web_identity import JwksCache
from iamroles.tokens import MasterKey

from .trail import CallRecord, Trail

__all__ = ["Service", "UsageLog", "database_url", "default_data_dir"]


def default_data_dir() -> Path:
    """Where ``iamroles serve`` keeps its master key and SQLite database: ``$IAMROLES_DATA_DIR`` or ~/.iamroles."""
    return Path(os.environ.get("IAMROLES_DATA_DIR") or Path.home() / ".iamroles")


def database_url(data_dir: Path, db_url: str | None = None) -> str:
    """``db_url``, or the data directory's SQLite database."""
    return db_url or f"sqlite+pysqlite:///{data_dir / 'iamroles.db'}"


class UsageLog(Protocol):
    """Last-used tracking (``server.usage.Usage``): notes in memory, written in batches."""

    def key_used(self, access_key_id: str, when: datetime, service: str, region: str) -> None: ...

    def role_used(self, account_id: str, role_key: str, when: datetime, region: str) -> None: ...

    def close(self) -> None: ...


@dataclass
class Service:
    store: Store
    master_key: MasterKey
    test_mode: bool = False
    on_reset: Callable[[], None] | None = None
    audit: Trail | None = None
    usage: UsageLog | None = None
    pruner: Any = None  # server.retention.Pruner: deletes (exports first) events past the retention period
    rotator: Any = None  # server.rotation.Rotator: new web identity token keys for accounts whose keys are old
    keyring: Any = None  # sts.keys.KeyRing (made on the store when not given)
    regions: Regions = field(default_factory=known_regions)  # what requests may be signed for: botocore's, or more
    public_url: str | None = None  # where clients reach this server: the web identity token issuers live under it
    validate_policies: str = "off"  # serve --validate-policies: off, warn or deny (iam.review)

    def __post_init__(self) -> None:
        self.clock_offset = timedelta(0)  # only test mode moves it
        self.cache = PolicyCache()
        self.mfa_replay = MfaReplay(self.store)
        self.jwks_cache = JwksCache()
        self.issuer = Issuer(self.public_url, self.master_key)
        if self.keyring is None:
            self.keyring = KeyRing(self.store, self.master_key, self.clock)
        self.authenticator = Authenticator(self.master_key, self.keyring, self.regions)

    def clock(self) -> datetime:
        offset = self.clock_offset
        return datetime.now(UTC) + offset if offset else datetime.now(UTC)

    def context(self, caller: Caller, tx: Tx, now: datetime, region: str, source_ip: str, secure: bool,
                user_agent: str, request_id: str) -> CallContext:
        """What an operation of this process receives."""
        return CallContext(
            caller=caller, tx=tx, now=now, region=region, master_key=self.master_key,
            source_ip=source_ip, secure_transport=secure, user_agent=user_agent,
            request_id=request_id, cache=self.cache, keyring=self.keyring,
            mfa_replay=self.mfa_replay, jwks=self.jwks_cache, issuer=self.issuer,
            validate_policies=self.validate_policies,
        )

    @staticmethod
    def note_findings(ctx: CallContext, record: CallRecord) -> None:
        """The findings of the documents a call stored (serve --validate-policies), into its audit event."""
        if ctx.policy_findings:
            record.additional = {"policyValidationFindings": ctx.policy_findings}

    def note_role_used(self, ctx: CallContext, region: str) -> None:
        """The role whose credentials the call issued, for RoleLastUsed."""
        if self.usage is not None and ctx.role_used is not None:
            self.usage.role_used(*ctx.role_used, ctx.now, region)

    def reset(self) -> None:
        if self.on_reset is not None:
            self.on_reset()
        self.cache.clear()
