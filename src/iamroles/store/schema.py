"""Tables (SQLAlchemy Core). The Alembic migrations create exactly these;
tests/store/test_migrations.py fails on any drift between the two.

Names of IAM entities are unique per account regardless of case, so every
entity table keys on ``name_key`` (the lower-cased name) and keeps the name
as given for display.
"""
from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

TS = DateTime(timezone=True)

accounts = Table(
    "accounts",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("partition", String(16), nullable=False),
    Column("created_at", TS, nullable=False),
)

# What each committed write transaction changed (its scopes), under one
# sequence number per transaction taken from the single-row counter
# ``change_seq``; other processes read it to invalidate their caches
# (``store.sql.Shared``). Pruned to the latest transactions.
change_seq = Table(
    "change_seq",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("value", BigInteger, nullable=False),
)

change_log = Table(
    "change_log",
    metadata,
    Column("seq", BigInteger, primary_key=True),
    Column("scope", Text, primary_key=True),
)

access_keys = Table(
    "access_keys",
    metadata,
    Column("access_key_id", String(128), primary_key=True),
    Column("account_id", String(12), nullable=False, index=True),
    Column("user_key", String(64), nullable=True),  # NULL: the account root
    Column("secret_sealed", LargeBinary, nullable=False),
    Column("status", String(8), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("last_used_at", TS, nullable=True),
    Column("last_used_service", String(64), nullable=True),
    Column("last_used_region", String(32), nullable=True),
)


def _entity(name: str, id_column: str, *extra: Column) -> Table:  # type: ignore[type-arg]
    """An entity table; its primary key (account, name key) orders its listings, and (account, path) serves PathPrefix."""
    return Table(
        name,
        metadata,
        Column("account_id", String(12), primary_key=True),
        Column("name_key", String(128), primary_key=True),
        Column("name", String(128), nullable=False),
        Column(id_column, String(32), nullable=False, unique=True),
        Column("path", String(512), nullable=False),
        Column("arn", String(2048), nullable=False, unique=True),
        Column("created_at", TS, nullable=False),
        *extra,
        Index(f"ix_{name}_account_path", "account_id", "path"),
    )


users = _entity(
    "users",
    "user_id",
    Column("permissions_boundary", String(2048), nullable=True),
)
Index("ix_users_boundary", users.c.account_id, users.c.permissions_boundary)  # ListPolicies' PermissionsBoundary filter

groups = _entity("groups", "group_id")

roles = _entity(
    "roles",
    "role_id",
    Column("trust_policy", Text, nullable=False),
    Column("description", String(1000), nullable=True),
    Column("max_session_duration", Integer, nullable=False),
    Column("permissions_boundary", String(2048), nullable=True),
    Column("last_used_at", TS, nullable=True),
    Column("last_used_region", String(32), nullable=True),
    # the unique ids of the users and roles the trust policy names, as they were when it was saved (JSON {arn: id})
    Column("trust_pins", Text, nullable=True),
)
Index("ix_roles_boundary", roles.c.account_id, roles.c.permissions_boundary)

instance_profiles = _entity("instance_profiles", "instance_profile_id")

instance_profile_roles = Table(
    "instance_profile_roles",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("profile_key", String(128), primary_key=True),
    Column("role_key", String(64), primary_key=True),
    Index("ix_instance_profile_roles_role", "account_id", "role_key", "profile_key"),  # a role's profiles, in order
)

group_members = Table(
    "group_members",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("group_key", String(128), primary_key=True),
    Column("user_key", String(64), primary_key=True),
    Index("ix_group_members_user", "account_id", "user_key", "group_key"),  # a user's groups, in order
)

# Managed policies; AWS managed ones live under account "aws".
policies = Table(
    "policies",
    metadata,
    Column("arn", String(2048), primary_key=True),
    Column("account_id", String(12), nullable=False, index=True),
    Column("name_key", String(128), nullable=False),
    Column("name", String(128), nullable=False),
    Column("policy_id", String(32), nullable=False, unique=True),
    Column("path", String(512), nullable=False),
    Column("description", String(1000), nullable=True),
    Column("default_version", String(16), nullable=False),
    Column("next_version", Integer, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    UniqueConstraint("account_id", "name_key", name="uq_policies_account_name"),  # also ListPolicies' order, per owner
)

policy_versions = Table(
    "policy_versions",
    metadata,
    Column("policy_arn", String(2048), primary_key=True),
    Column("version_id", String(16), primary_key=True),
    Column("document", Text, nullable=False),
    Column("created_at", TS, nullable=False),
    ForeignKeyConstraint(["policy_arn"], ["policies.arn"], ondelete="CASCADE"),
)

# entity_type: "user" | "group" | "role"
attachments = Table(
    "attachments",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("entity_type", String(8), primary_key=True),
    Column("entity_key", String(128), primary_key=True),
    Column("policy_arn", String(2048), primary_key=True),
    # a policy's attachments by account and kind, in name order: ListEntitiesForPolicy, OnlyAttached, DeletePolicy
    Index("ix_attachments_policy", "policy_arn", "account_id", "entity_type", "entity_key"),
)

inline_policies = Table(
    "inline_policies",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("entity_type", String(8), primary_key=True),
    Column("entity_key", String(128), primary_key=True),
    Column("name_key", String(128), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("document", Text, nullable=False),
)

# resource_type: "user" | "role" | "policy" | "instance_profile" | ...; resource_key: name key or ARN
tags = Table(
    "tags",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("resource_type", String(24), primary_key=True),
    Column("resource_key", String(2048), primary_key=True),
    Column("key_fold", String(128), primary_key=True),
    Column("key", String(128), nullable=False),
    Column("value", String(256), nullable=False),
    Column("position", Integer, nullable=False),
)

# CloudTrail-shaped records of every call (the record column holds the JSON event).
audit_events = Table(
    "audit_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_time", TS, nullable=False, index=True),
    Column("account_id", String(12), nullable=True, index=True),
    Column("event_source", String(32), nullable=False),
    Column("event_name", String(64), nullable=False),
    Column("principal_arn", String(2048), nullable=True),
    Column("error_code", String(64), nullable=True),
    Column("request_id", String(64), nullable=False),
    Column("record", Text, nullable=False),
)

# Session-token signing keys, sealed under the master key. The newest unretired
# key seals new tokens; retired keys keep opening tokens until they expire.
signing_keys = Table(
    "signing_keys",
    metadata,
    Column("key_id", String(16), primary_key=True),
    Column("sealed", LargeBinary, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("retired_at", TS, nullable=True),
)

# Outbound identity federation (GetWebIdentityToken), per account: whether it is enabled, since when (``changed_at``:
# the last enable or disable), and the random id its issuer URL ends with (made at the first enable and kept, so an
# account's issuer does not change when it is disabled and enabled again).
outbound_federation = Table(
    "outbound_federation",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("issuer_id", String(32), nullable=False, unique=True),
    Column("enabled", Boolean, nullable=False),
    Column("changed_at", TS, nullable=False),
)

# The keys that sign an account's web identity tokens (JWTs), one sequence per algorithm: the private key sealed
# under the master key, the public key as a JWK (published). A key signs from ``active_from`` until the next key of
# its account and algorithm is active, and is published from its creation until every token it signed has expired.
jwt_signing_keys = Table(
    "jwt_signing_keys",
    metadata,
    Column("key_id", String(64), primary_key=True),
    Column("account_id", String(12), nullable=False, index=True),
    Column("algorithm", String(8), nullable=False),
    Column("sealed", LargeBinary, nullable=False),
    Column("public_jwk", Text, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("active_from", TS, nullable=False),
)

# Virtual MFA devices; the TOTP seed is sealed under the master key.
mfa_devices = Table(
    "mfa_devices",
    metadata,
    Column("serial", String(2048), primary_key=True),
    Column("account_id", String(12), nullable=False, index=True),
    Column("name", String(256), nullable=False),
    Column("path", String(512), nullable=False),
    Column("seed_sealed", LargeBinary, nullable=False),
    Column("user_key", String(64), nullable=True),
    Column("enabled_at", TS, nullable=True),
    Column("created_at", TS, nullable=False),
    # 30-second steps the device's clock runs ahead of ours (negative: behind), as ResyncMFADevice found
    Column("drift", Integer, nullable=True),
    # the last TOTP step a code of the device was accepted for: a code is used once, whichever process sees it
    Column("last_step", BigInteger, nullable=True),
    Index("ix_mfa_devices_account_serial", "account_id", "serial"),  # ListVirtualMFADevices' order
    Index("ix_mfa_devices_user", "account_id", "user_key"),
)

# OpenID Connect identity providers; jwks: the keys tokens are checked against
# (set by `iamroles oidc jwks`, else fetched from the issuer's discovery document).
oidc_providers = Table(
    "oidc_providers",
    metadata,
    Column("arn", String(2048), primary_key=True),
    Column("account_id", String(12), nullable=False, index=True),
    Column("url", String(1024), nullable=False),
    Column("client_ids", Text, nullable=False),
    Column("thumbprints", Text, nullable=False),
    Column("jwks", Text, nullable=True),
    Column("created_at", TS, nullable=False),
)

# Users' other credentials. They belong to a user by its unique id (a user of the same name created later is
# another user), so a rename moves nothing; deleting a user is refused while it has any of them.

# A user's console password: only an argon2id hash; ``previous_hashes`` (JSON list, newest first) the hashes the
# account's PasswordReusePrevention refuses again.
login_profiles = Table(
    "login_profiles",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("user_id", String(32), primary_key=True),
    Column("password_hash", String(256), nullable=False),
    Column("previous_hashes", Text, nullable=False),
    Column("reset_required", Boolean, nullable=False),
    Column("max_signin_session", Integer, nullable=True),
    Column("created_at", TS, nullable=False),
    Column("password_set_at", TS, nullable=False),
)

# The account's custom password policy (no row: AWS's default policy applies).
password_policies = Table(
    "password_policies",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("minimum_length", Integer, nullable=False),
    Column("require_symbols", Boolean, nullable=False),
    Column("require_numbers", Boolean, nullable=False),
    Column("require_uppercase", Boolean, nullable=False),
    Column("require_lowercase", Boolean, nullable=False),
    Column("allow_users_to_change", Boolean, nullable=False),
    Column("max_age", Integer, nullable=True),
    Column("reuse_prevention", Integer, nullable=True),
    Column("hard_expiry", Boolean, nullable=True),
)

ssh_public_keys = Table(
    "ssh_public_keys",
    metadata,
    Column("key_id", String(128), primary_key=True),
    Column("account_id", String(12), nullable=False),
    Column("user_id", String(32), nullable=False, index=True),
    Column("body", Text, nullable=False),
    Column("fingerprint", String(48), nullable=False),
    Column("status", String(8), nullable=False),
    Column("uploaded_at", TS, nullable=False),
)

# The password is sealed under the master key (bound to the credential's id): returned on create and reset only.
service_credentials = Table(
    "service_credentials",
    metadata,
    Column("credential_id", String(128), primary_key=True),
    Column("account_id", String(12), nullable=False),
    Column("user_id", String(32), nullable=False, index=True),
    Column("service_name", String(64), nullable=False),
    Column("service_user_name", String(200), nullable=False),
    Column("password_sealed", LargeBinary, nullable=False),
    Column("status", String(8), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS, nullable=True),
)

# X.509 signing certificates of users; ``fingerprint``: SHA-256 of the DER (DuplicateCertificate).
signing_certificates = Table(
    "signing_certificates",
    metadata,
    Column("certificate_id", String(128), primary_key=True),
    Column("account_id", String(12), nullable=False),
    Column("user_id", String(32), nullable=False, index=True),
    Column("body", Text, nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("status", String(8), nullable=False),
    Column("uploaded_at", TS, nullable=False),
    # one certificate, one user of the account: two users' uploads of it race on this key, not on a user's row
    UniqueConstraint("account_id", "fingerprint", name="uq_signing_certificates_account_fingerprint"),
)

# Server certificates of an account; the private key is sealed under the master key (bound to the ARN's id).
server_certificates = _entity(
    "server_certificates",
    "server_certificate_id",
    Column("body", Text, nullable=False),
    Column("chain", Text, nullable=True),
    Column("key_sealed", LargeBinary, nullable=False),
    Column("expiration", TS, nullable=False),
)

# SAML 2.0 identity providers: the metadata document as given, with what AssumeRoleWithSAML needs read out of
# it once (the issuer, the signing certificates as base64 DER, a JSON list); private_keys: the keys that decrypt
# encrypted assertions, a JSON list of {id, created, sealed (base64, sealed under the master key)}.
saml_providers = Table(
    "saml_providers",
    metadata,
    Column("arn", String(2048), primary_key=True),
    Column("account_id", String(12), nullable=False, index=True),
    Column("name", String(128), nullable=False),
    Column("uuid", String(64), nullable=False),
    Column("metadata_document", Text, nullable=False),
    Column("issuer", String(1024), nullable=False),
    Column("certificates", Text, nullable=False),
    Column("valid_until", TS, nullable=True),
    Column("encryption_mode", String(16), nullable=True),
    Column("private_keys", Text, nullable=False),
    Column("created_at", TS, nullable=False),
)

# Per-account overrides of the IAM quotas (name: AWS's quota name, e.g. RolesPerAccount); a quota with no row
# here has AWS's default (iamroles.iam.common.ACCOUNT_QUOTAS).
account_quotas = Table(
    "account_quotas",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("value", Integer, nullable=False),
)

# The account's alias (AWS: one per account, unique within its partition,
# https://docs.aws.amazon.com/IAM/latest/UserGuide/console-account-alias.html).
account_aliases = Table(
    "account_aliases",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("partition", String(16), nullable=False),
    Column("alias", String(63), nullable=False),
    Column("created_at", TS, nullable=False),
    UniqueConstraint("partition", "alias", name="uq_account_aliases_partition_alias"),
)

# Account-wide IAM settings by name (SetSecurityTokenServicePreferences' GlobalEndpointTokenVersion); a setting
# with no row has AWS's default.
account_settings = Table(
    "account_settings",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("value", String(1024), nullable=False),
)

# DeleteServiceLinkedRole's deletion tasks, for GetServiceLinkedRoleDeletionStatus.
service_linked_role_deletions = Table(
    "service_linked_role_deletions",
    metadata,
    Column("task_id", String(1000), primary_key=True),
    Column("account_id", String(12), nullable=False, index=True),
    Column("role_arn", String(2048), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", TS, nullable=False),
)

# The account's latest credential report (GenerateCredentialReport): the CSV as GetCredentialReport returns it.
credential_reports = Table(
    "credential_reports",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("generated_at", TS, nullable=False),
    Column("content", Text, nullable=False),
)

# Service last accessed reports (GenerateServiceLastAccessedDetails): what an entity's policies grant and the
# trail's latest attempts, as found when generated (JSON), for the principal that asked (owner_arn) only.
service_access_reports = Table(
    "service_access_reports",
    metadata,
    Column("job_id", String(36), primary_key=True),
    Column("account_id", String(12), nullable=False, index=True),
    Column("owner_arn", String(2048), nullable=False),
    Column("entity_arn", String(2048), nullable=False),
    Column("granularity", String(16), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("completed_at", TS, nullable=False),
    Column("report", Text, nullable=False),
)

# AWS Organizations (issue 17): one organization per management account; its root, OUs (parent: the root's or an
# OU's id), member accounts (the management account too), policies (per organization: FullAWSAccess is AWS's,
# copied into each), their attachments to the root, OUs and accounts, the policy types enabled at the root, and
# invitations (handshakes).
org_organizations = Table(
    "org_organizations",
    metadata,
    Column("org_id", String(34), primary_key=True),
    Column("management_account_id", String(12), nullable=False, unique=True),
    Column("root_id", String(34), nullable=False),
    Column("feature_set", String(32), nullable=False),  # ALL or CONSOLIDATED_BILLING
    Column("created_at", TS, nullable=False),
)

org_units = Table(
    "org_units",
    metadata,
    Column("ou_id", String(68), primary_key=True),
    Column("org_id", String(34), nullable=False),
    Column("parent_id", String(100), nullable=False, index=True),
    Column("name", String(128), nullable=False),
    Column("created_at", TS, nullable=False),
)

org_accounts = Table(
    "org_accounts",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("org_id", String(34), nullable=False, index=True),
    Column("parent_id", String(100), nullable=False),
    Column("joined_method", String(16), nullable=False),
    Column("joined_at", TS, nullable=False),
    # what CreateAccount named the account and its owner's e-mail address (unique, as AWS's are); None for an
    # account that joined by invitation (described by its id)
    Column("name", String(128)),
    Column("email", String(64)),
    Index("ix_org_accounts_email", "email", unique=True),
)

org_policies = Table(
    "org_policies",
    metadata,
    Column("org_id", String(34), primary_key=True),
    Column("policy_id", String(130), primary_key=True),
    Column("type", String(32), nullable=False),
    Column("name", String(128), nullable=False),
    Column("description", String(512), nullable=False),
    Column("content", Text, nullable=False),
    Column("aws_managed", Boolean, nullable=False),
)

org_attachments = Table(
    "org_attachments",
    metadata,
    Column("org_id", String(34), primary_key=True),
    Column("policy_id", String(130), primary_key=True),
    Column("target_id", String(100), primary_key=True),
    Index("ix_org_attachments_target", "org_id", "target_id"),
)

org_policy_types = Table(
    "org_policy_types",
    metadata,
    Column("org_id", String(34), primary_key=True),
    Column("type", String(32), primary_key=True),
)

org_handshakes = Table(
    "org_handshakes",
    metadata,
    Column("handshake_id", String(34), primary_key=True),
    Column("org_id", String(34), nullable=False, index=True),
    Column("account_id", String(12), nullable=False),
    Column("state", String(16), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
    Column("updated_at", TS),  # when it was last answered (accepted, declined, canceled): shown for 30 days more
    Index("ix_org_handshakes_account_id", "account_id"),
)

# Organizations' tags (API_TagResource.html): on the root, OUs, accounts and policies, keys as given (case-sensitive,
# unlike IAM's), at most 50 per resource.
org_tags = Table(
    "org_tags",
    metadata,
    Column("org_id", String(34), primary_key=True),
    Column("resource_id", String(130), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("value", String(256), nullable=False),
)

# CreateAccount's requests (API_CreateAccountStatus.html): each with how it ended and the account it made.
org_create_account_requests = Table(
    "org_create_account_requests",
    metadata,
    Column("request_id", String(36), primary_key=True),
    Column("org_id", String(34), nullable=False, index=True),
    Column("account_name", String(50), nullable=False),
    Column("state", String(16), nullable=False),
    Column("account_id", String(12)),
    Column("failure_reason", String(64)),
    Column("requested_at", TS, nullable=False),
    Column("completed_at", TS),
)

# Delegated administrators (API_RegisterDelegatedAdministrator.html): a member account per service principal.
org_delegated_admins = Table(
    "org_delegated_admins",
    metadata,
    Column("org_id", String(34), primary_key=True),
    Column("account_id", String(12), primary_key=True),
    Column("service_principal", String(128), primary_key=True),
    Column("enabled_at", TS, nullable=False),
)

# The organization's resource-based delegation policy (API_PutResourcePolicy.html): one per organization.
org_resource_policies = Table(
    "org_resource_policies",
    metadata,
    Column("org_id", String(34), primary_key=True),
    Column("policy_id", String(131), nullable=False),
    Column("content", Text, nullable=False),
)

# IAM temporary delegation (https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies-temporary-delegation.html):
# a partner's request for temporary access to a customer's account, in one of the lifecycle's states
# (iam.delegation); the permission policy is rendered from a registered policy template when the request is made.
# ``approver``: who accepted it (JSON: the identity the delegated credentials act as); the trade-in token is kept
# only as its SHA-256 (``token_hash``), and sealed under the master key until the partner has picked it up
# (``token_sealed``, then NULL); ``exchanged_at``: when it was traded for credentials (once).
delegation_requests = Table(
    "delegation_requests",
    metadata,
    Column("request_id", String(128), primary_key=True),
    Column("partition", String(16), nullable=False),
    Column("requestor_account", String(12), nullable=False),
    Column("requestor_arn", String(2048), nullable=False),
    Column("workflow_id", String(400), nullable=False),
    Column("owner_account", String(12), nullable=True),
    Column("owner_id", String(2048), nullable=True),
    Column("state", String(20), nullable=False),
    Column("description", String(1000), nullable=False),
    Column("request_message", String(200), nullable=True),
    Column("template_arn", String(2048), nullable=False),
    Column("parameters", Text, nullable=False),
    Column("permission_policy", Text, nullable=False),
    Column("redirect_url", String(255), nullable=True),
    Column("notification_channel", String(400), nullable=False),
    Column("session_duration", Integer, nullable=False),
    Column("only_send_by_owner", Boolean, nullable=False),
    Column("notes", String(500), nullable=True),
    Column("rejection_reason", String(500), nullable=True),
    Column("approver_id", String(2048), nullable=True),
    Column("approver", Text, nullable=True),
    Column("token_hash", String(64), nullable=True, unique=True),
    Column("token_sealed", LargeBinary, nullable=True),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
    Column("finalized_at", TS, nullable=True),
    Column("exchanged_at", TS, nullable=True),
    # "IAM maintains a uniqueness check on this workflow id for each request" (API_CreateDelegationRequest)
    UniqueConstraint("requestor_account", "workflow_id", name="uq_delegation_requests_requestor_workflow"),
    Index("ix_delegation_requests_owner", "owner_account", "request_id"),  # ListDelegationRequests' order
    Index("ix_delegation_requests_requestor", "requestor_account", "request_id"),
)

# Policy templates a partner account may name in CreateDelegationRequest, registered by the operator (AWS registers
# them at partner onboarding: temporary-delegation-policy-templates.html); ``document``: the template's JSON with
# its @{parameter} placeholders.
delegation_templates = Table(
    "delegation_templates",
    metadata,
    Column("arn", String(2048), primary_key=True),
    Column("account_id", String(12), nullable=False, index=True),
    Column("name", String(128), nullable=False),
    Column("document", Text, nullable=False),
    Column("created_at", TS, nullable=False),
)

# Centralized root access (IAM's Organizations features, issue 14): the AWS services an organization gave trusted
# access (Organizations' EnableAWSServiceAccess; iam.amazonaws.com is what the features need), and the features
# enabled for it (RootCredentialsManagement, RootSessions). Organizations access reports are kept in
# service_access_reports (granularity ORGANIZATIONS, entity_arn the Organizations entity path).
org_service_access = Table(
    "org_service_access",
    metadata,
    Column("org_id", String(34), primary_key=True),
    Column("service_principal", String(128), primary_key=True),
    Column("enabled_at", TS, nullable=False),
)

org_root_features = Table(
    "org_root_features",
    metadata,
    Column("org_id", String(34), primary_key=True),
    Column("feature", String(32), primary_key=True),
    Column("enabled_at", TS, nullable=False),  # a root session issued before it does not live on through it
)

# What a test-mode reset leaves alone: the accounts (and the quotas and delegation policy templates an operator set
# for them), the change log (its counter goes on; the reset logs that everything changed, and another process must still read what came
# before it), the keys that seal session tokens, and the audit trail. Every other table is IAM state and is wiped,
# so a table added later is wiped without anyone remembering to list it (the users, access keys, attachments and
# policies that the reset keeps in part, the bootstrap credentials and AWS's managed policies, are named in Tx.wipe).
RESET_KEEPS = frozenset({"accounts", "account_quotas", "delegation_templates", "change_seq", "change_log", "signing_keys", "audit_events"})

__all__ = [
    "RESET_KEEPS",
    "delegation_requests",
    "delegation_templates",
    "org_organizations",
    "org_units",
    "org_accounts",
    "org_policies",
    "org_attachments",
    "org_policy_types",
    "org_handshakes",
    "org_tags",
    "org_create_account_requests",
    "org_delegated_admins",
    "org_resource_policies",
    "org_service_access",
    "org_root_features",
    "account_aliases",
    "account_settings",
    "service_linked_role_deletions",
    "credential_reports",
    "service_access_reports",
    "account_quotas",
    "login_profiles",
    "password_policies",
    "ssh_public_keys",
    "service_credentials",
    "signing_certificates",
    "server_certificates",
    "oidc_providers",
    "saml_providers",
    "mfa_devices",
    "signing_keys",
    "outbound_federation",
    "jwt_signing_keys",
    "audit_events",
    "metadata",
    "accounts",
    "change_seq",
    "change_log",
    "access_keys",
    "users",
    "groups",
    "roles",
    "instance_profiles",
    "instance_profile_roles",
    "group_members",
    "policies",
    "policy_versions",
    "attachments",
    "inline_policies",
    "tags",
]
