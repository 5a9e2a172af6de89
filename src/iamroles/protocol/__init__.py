"""iamroles.protocol: the AWS Query protocol, driven by botocore's service models."""
from .envelope import error_document, render_error
from .model import service_model
from .query import parse_request, read_form
from .redact import HIDDEN, holds_secret, is_sensitive, redact
from .xml import render_response

__all__ = ["HIDDEN", "error_document", "holds_secret", "is_sensitive", "parse_request", "read_form", "redact", "render_error",
           "render_response", "service_model"]
