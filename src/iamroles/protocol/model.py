"""botocore's service models for IAM and STS, loaded from the installed botocore (no network)."""
from __future__ import annotations

from functools import lru_cache

import botocore.session
from botocore.model import ServiceModel

__all__ = ["service_model"]


@lru_cache(maxsize=None)
def service_model(name: str) -> ServiceModel:
    return botocore.session.get_session().get_service_model(name)
