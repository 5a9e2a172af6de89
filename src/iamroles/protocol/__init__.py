"""iamroles.protocol: the AWS Query protocol, driven by botocore's service models."""
from .envelope import render_error
from .model import service_model
from .query import parse_request
from .xml import render_response

__all__ = ["parse_request", "render_error", "render_response", "service_model"]
