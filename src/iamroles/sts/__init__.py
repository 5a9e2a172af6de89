"""iamroles.sts: the STS operations (GetCallerIdentity now; AssumeRole and friends next)."""
from . import decode, identity, saml, sessions, web_identity  # noqa: F401  (registers operations)

__all__: list[str] = []
