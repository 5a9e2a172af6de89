"""What the store hands out: frozen records, no SQL."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = [
    "Account", "AccessKey", "Entity", "Role", "User", "Group", "InstanceProfile", "ManagedPolicy", "PolicyVersion", "Tag",
    "InlinePolicy", "LoginProfile", "PasswordPolicy", "SshPublicKey", "ServiceCredential", "SigningCertificate",
    "ServerCertificate", "OidcProvider", "MfaDevice", "SigningKeyRecord",
    "OutboundFederation", "JwtKeyRecord",
]


@dataclass(frozen=True, slots=True)
class Account:
    account_id: str
    partition: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AccessKey:
    access_key_id: str
    account_id: str
    user_key: str | None  # None: the account root
    secret_sealed: bytes
    status: str
    created_at: datetime
    last_used_at: datetime | None = None
    last_used_service: str | None = None
    last_used_region: str | None = None


@dataclass(frozen=True, slots=True)
class Entity:
    """A user, group, role or instance profile: what they share."""

    account_id: str
    name: str
    id: str
    path: str
    arn: str
    created_at: datetime

    @property
    def key(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class User(Entity):
    permissions_boundary: str | None = None


@dataclass(frozen=True, slots=True)
class Group(Entity):
    pass


@dataclass(frozen=True, slots=True)
class InstanceProfile(Entity):
    pass


@dataclass(frozen=True, slots=True)
class Role(Entity):
    trust_policy: str = ""
    description: str | None = None
    max_session_duration: int = 3600
    permissions_boundary: str | None = None
    last_used_at: datetime | None = None
    last_used_region: str | None = None
    trust_pins: str | None = None  # JSON {principal ARN: unique id} of the trust policy's users and roles when saved


@dataclass(frozen=True, slots=True)
class ManagedPolicy:
    arn: str
    account_id: str
    name: str
    policy_id: str
    path: str
    description: str | None
    default_version: str
    next_version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    policy_arn: str
    version_id: str
    document: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class InlinePolicy:
    name: str
    document: str


@dataclass(frozen=True, slots=True)
class Tag:
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class LoginProfile:
    """A user's console password: its argon2id hash, never the password."""

    account_id: str
    user_id: str
    password_hash: str
    previous_hashes: str  # JSON list of earlier hashes, newest first (for PasswordReusePrevention)
    reset_required: bool
    max_signin_session: int | None
    created_at: datetime
    password_set_at: datetime


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    account_id: str
    minimum_length: int
    require_symbols: bool
    require_numbers: bool
    require_uppercase: bool
    require_lowercase: bool
    allow_users_to_change: bool
    max_age: int | None
    reuse_prevention: int | None
    hard_expiry: bool | None


@dataclass(frozen=True, slots=True)
class SshPublicKey:
    key_id: str
    account_id: str
    user_id: str
    body: str
    fingerprint: str
    status: str
    uploaded_at: datetime


@dataclass(frozen=True, slots=True)
class ServiceCredential:
    credential_id: str
    account_id: str
    user_id: str
    service_name: str
    service_user_name: str
    password_sealed: bytes
    status: str
    created_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class SigningCertificate:
    certificate_id: str
    account_id: str
    user_id: str
    body: str
    fingerprint: str
    status: str
    uploaded_at: datetime


@dataclass(frozen=True, slots=True)
class ServerCertificate(Entity):
    """Its ``created_at`` is the upload date; the private key stays sealed."""

    body: str = ""
    chain: str | None = None
    key_sealed: bytes = b""
    expiration: datetime | None = None


@dataclass(frozen=True, slots=True)
class OidcProvider:
    """An OpenID Connect identity provider; ``url``: its issuer without https://."""

    arn: str
    account_id: str
    url: str
    client_ids: tuple[str, ...]
    thumbprints: tuple[str, ...]
    jwks: str | None  # the JWKS document set by `iamroles oidc jwks`; None: fetched from the issuer
    created_at: datetime


@dataclass(frozen=True, slots=True)
class MfaDevice:
    """A virtual MFA device; its TOTP seed sealed under the master key (with the serial as associated data)."""

    serial: str
    account_id: str
    name: str
    path: str
    seed_sealed: bytes
    user_key: str | None  # None: not assigned to a user
    enabled_at: datetime | None
    created_at: datetime
    drift: int | None = None  # 30-second steps its clock runs ahead of ours, as ResyncMFADevice found
    last_step: int | None = None  # the last TOTP step a code was accepted for


@dataclass(frozen=True, slots=True)
class SigningKeyRecord:
    """A session-token signing key as stored: sealed under the master key; retired keys only open tokens."""

    key_id: str
    sealed: bytes
    created_at: datetime
    retired_at: datetime | None


@dataclass(frozen=True, slots=True)
class OutboundFederation:
    """An account's outbound identity federation: enabled or not since ``changed_at``, its issuer's id."""

    account_id: str
    issuer_id: str
    enabled: bool
    changed_at: datetime


@dataclass(frozen=True, slots=True)
class JwtKeyRecord:
    """A key that signs an account's web identity tokens: ``sealed``, the private key under the master key;
    ``public_jwk``, its public half as a JSON Web Key (what the issuer's JWKS publishes)."""

    key_id: str
    account_id: str
    algorithm: str
    sealed: bytes
    public_jwk: str
    created_at: datetime
    active_from: datetime
