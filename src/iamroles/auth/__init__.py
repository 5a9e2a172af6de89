"""iamroles.auth: who is calling.

``sigv4`` verifies AWS Signature Version 4 (header and presigned), purely;
``principal`` resolves an access key or session token to the caller behind it.
"""
from . import sigv4

__all__ = ["sigv4"]
