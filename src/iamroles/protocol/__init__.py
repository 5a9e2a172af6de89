"""iamroles.protocol: the AWS Query protocol, driven by botocore's service models."""
from .envelope import api_error_document, error_document, query_envelope, render_error, s3_envelope, short_json_envelope
from .json import check_input, json_envelope, render_json, target_operation
from .model import service_model
from .query import parse_request, read_form, repeated_query_name
from .redact import HIDDEN, holds_secret, is_sensitive, redact
from .xml import render_response

__all__ = ["HIDDEN", "check_input", "json_envelope", "render_json", "target_operation", "api_error_document", "error_document", "holds_secret", "is_sensitive", "parse_request", "query_envelope", "read_form", "redact", "repeated_query_name",
           "render_error", "render_response", "s3_envelope", "service_model", "short_json_envelope"]
