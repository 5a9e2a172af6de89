"""iamroles.auth: SigV4 verification and resolving credentials to principals."""
from . import sigv4

__all__ = ["sigv4"]
