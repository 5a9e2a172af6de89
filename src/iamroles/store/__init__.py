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
from .sql import Conflict, Duplicate, Store, Tx

__all__ = [
    "AccessKey", "Account", "Conflict", "Duplicate", "Entity", "Group", "InlinePolicy", "InstanceProfile", "LoginProfile",
    "ManagedPolicy", "MfaDevice", "OidcProvider", "PasswordPolicy", "PolicyVersion", "Role", "ServerCertificate",
    "ServiceCredential", "SigningCertificate", "SigningKeyRecord", "SshPublicKey", "Store", "Tag", "Tx", "User",
]
