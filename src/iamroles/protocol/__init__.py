"""iamroles.protocol: the AWS Query protocol, driven by botocore's service models."""
from .envelope import error_document, render_error
from .model import service_model
from .query import parse_request, read_form
from .xml import render_response

__all__ = ["error_document", "parse_request", "read_form", "render_error", "render_response", "service_model"]
