"""What every operation receives: who is calling, from where, when, and the open transaction."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from iamroles.auth.caller import Caller
from iamroles.store import Tx
from iamroles.tokens import MasterKey

__all__ = ["Caller", "CallContext"]


@dataclass(slots=True)
class CallContext:
    caller: Caller
    tx: Tx
    now: datetime
    region: str
    master_key: MasterKey
    source_ip: str = "127.0.0.1"
    secure_transport: bool = False
    user_agent: str = ""
    request_id: str = ""
    cache: Any = None  # iam.authorize.PolicyCache, shared by the server's requests
    keyring: Any = None  # sts.keys.KeyRing: seals session tokens
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def account_id(self) -> str:
        return self.caller.account_id

    @property
    def partition(self) -> str:
        return self.caller.partition

    def arn(self, resource: str) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:{resource}"
