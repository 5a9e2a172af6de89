"""The one place an error becomes bytes on the wire: AWS's XML error envelope (Query protocol), its JSON twin
for iamroles' own API (``/iamroles/v1/...``), and the S3-style documents the ASGI middleware answers with."""
from __future__ import annotations

import json
from xml.sax.saxutils import escape

from botocore.model import ServiceModel

from iamroles.errors import AwsError

from .xml import text

__all__ = ["api_error_document", "error_document", "render_error", "query_envelope", "s3_envelope", "short_json_envelope"]


def query_envelope(code: str, message: str, fault: str, request_id: str, model: ServiceModel | None) -> bytes:
    """``<ErrorResponse>`` as IAM and STS answer (the namespace of ``model``'s service, IAM's without one)."""
    ns = (model.metadata.get("xmlNamespace") if model is not None else None) or "https://iam.amazonaws.com/doc/2010-05-08/"
    return (
        # text(): a message quoting a parameter keeps its CR, and a character XML cannot carry
        # (a NUL that broke a pattern) does not make the whole error unreadable
        f'<ErrorResponse xmlns="{ns}"><Error><Type>{fault}</Type><Code>{text(code)}</Code>'
        f"<Message>{text(message)}</Message></Error><RequestId>{text(request_id)}</RequestId></ErrorResponse>"
    ).encode()


def render_error(err: AwsError, request_id: str, model: ServiceModel | None) -> tuple[int, bytes]:
    return err.status, query_envelope(err.code, err.message, err.fault, request_id, model)


def error_document(err: AwsError, request_id: str | None = None) -> dict[str, object]:
    """The error as iamroles' JSON API answers it: ``{"Error": {Code, Message, Type, HttpStatus}, "RequestId"}``."""
    return api_error_document(err.status, err.code, err.message, err.fault, request_id)


def api_error_document(status: int, code: str, message: str, fault: str, request_id: str | None = None) -> dict[str, object]:
    doc: dict[str, object] = {"Error": {"Code": code, "Message": message, "Type": fault, "HttpStatus": status}}
    if request_id is not None:
        doc["RequestId"] = request_id
    return doc


def s3_envelope(code: str, message: str, request_id: str) -> bytes:
    """S3's ``<Error>`` document (``<Code>``, ``<Message>``, ``<RequestId>``): what a service behind the middleware
    answers a refused request with, as an S3-like service would."""
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>'
            f"<RequestId>{escape(request_id)}</RequestId></Error>").encode()


def short_json_envelope(code: str, message: str, request_id: str) -> bytes:
    """``{"Error": {"Code", "Message"}, "RequestId"}``: the middleware's ``error_format="json"``."""
    return json.dumps({"Error": {"Code": code, "Message": message}, "RequestId": request_id}).encode()
