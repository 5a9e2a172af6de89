"""iamroles.store: persistence behind a narrow interface (SQLAlchemy 2 Core + Alembic)."""
from .records import (
    AccessKey,
    Account,
    Entity,
    Group,
    InlinePolicy,
    InstanceProfile,
    LoginProfile,
    ManagedPolicy,
    MfaDevice,
    OidcProvider,
    PasswordPolicy,
    PolicyVersion,
    Role,
    ServerCertificate,
    ServiceCredential,
    SigningCertificate,
    SigningKeyRecord,
    SshPublicKey,
    Tag,
    User,
)
from .lru import LRU
from .sql import EVERYTHING, Conflict, Duplicate, Scope, Store, Tx, entity_scope, policy_scope, principals_scope

__all__ = [
    "AccessKey", "Account", "Conflict", "Duplicate", "Entity", "Group", "InlinePolicy", "InstanceProfile", "LoginProfile",
    "ManagedPolicy", "MfaDevice", "OidcProvider", "PasswordPolicy", "PolicyVersion", "Role", "ServerCertificate",
    "ServiceCredential", "SigningCertificate", "SigningKeyRecord", "SshPublicKey", "Store", "Tag", "Tx", "User",
    "EVERYTHING", "LRU", "Scope", "entity_scope", "policy_scope", "principals_scope",
]
