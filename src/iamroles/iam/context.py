"""What every operation receives: who is calling, from where, when, and the open transaction."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from iamroles.auth.caller import Caller
from iamroles.store import Tx
from iamroles.store.aws_managed import aws_owner
from iamroles.tokens import MasterKey

__all__ = ["Caller", "CallContext", "KeySets", "Replays"]


class Replays(Protocol):
    """TOTP codes already used, per device (``iam.mfa.MfaReplay``)."""

    def claim(self, serial: str, step: int, tx: Tx | None = None) -> bool: ...


class KeySets(Protocol):
    """OIDC issuers' JSON Web Key Sets, fetched and kept (``sts.web_identity.JwksCache``)."""

    def get(self, issuer: str) -> Any: ...

    def refresh(self, issuer: str) -> Any: ...


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
    mfa_replay: Replays | None = None  # each TOTP code is accepted once
    jwks: KeySets | None = None  # for AssumeRoleWithWebIdentity
    issuer: Any = None  # iam.outbound.Issuer: the web identity token issuers' URL and signing keys (GetWebIdentityToken)
    # what the operation reports back: the role whose credentials it issued, (account id, role key), for the
    # role's last-used record
    role_used: tuple[str, str] | None = None
    # the result of the operation's prepared work, done outside the transaction (iam.registry.Operation.prepare)
    prepared: Any = None
    # iamroles serve --validate-policies (iam.review): "off", "warn" or "deny"; and the findings of the documents
    # the call stored, for its audit event
    validate_policies: str = "off"
    policy_findings: list[dict[str, Any]] | None = None

    @property
    def account_id(self) -> str:
        return self.caller.account_id

    @property
    def partition(self) -> str:
        return self.caller.partition

    @property
    def aws_owner(self) -> str:
        """Who owns the caller's partition's copies of AWS's managed policies (``policies.account_id``)."""
        return aws_owner(self.caller.partition)

    def arn(self, resource: str) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:{resource}"
