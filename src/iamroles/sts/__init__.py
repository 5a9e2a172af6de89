"""iamroles.sts: the STS operations (GetCallerIdentity now; AssumeRole and friends next)."""
from . import decode, delegation, identity, outbound, root, saml, scoped, sessions, web_identity  # noqa: F401  (registers operations)

__all__: list[str] = []
