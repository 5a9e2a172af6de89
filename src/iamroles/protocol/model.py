"""botocore's service models for IAM and STS, loaded from the installed botocore (no network)."""
from __future__ import annotations

from functools import cache

import botocore.session
from botocore.model import ServiceModel

__all__ = ["service_model"]


@cache
def service_model(name: str) -> ServiceModel:
    return botocore.session.get_session().get_service_model(name)
