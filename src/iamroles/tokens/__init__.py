"""iamroles.tokens: secrets at rest (the master key), access key ids, and sealed session tokens."""
from .seal import SessionClaims, SigningKey, TokenError, key_id, seal, unseal
from .secrets import MasterKey, account_of_access_key_id, new_access_key_id, new_secret_access_key, new_unique_id

__all__ = ["SessionClaims", "SigningKey", "TokenError", "key_id", "seal", "unseal", "MasterKey", "account_of_access_key_id", "new_access_key_id", "new_secret_access_key", "new_unique_id"]
