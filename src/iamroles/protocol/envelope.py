"""The one place an AwsError becomes bytes on the wire: AWS's XML error envelope (Query protocol),
and its JSON twin for iamroles' own API (``/iamroles/v1/...``)."""
from __future__ import annotations

from botocore.model import ServiceModel

from iamroles.errors import AwsError

from .xml import text

__all__ = ["error_document", "render_error"]


def render_error(err: AwsError, request_id: str, model: ServiceModel | None) -> tuple[int, bytes]:
    ns = (model.metadata.get("xmlNamespace") if model is not None else None) or "https://iam.amazonaws.com/doc/2010-05-08/"
    body = (
        # text(): a message quoting a parameter keeps its CR, and a character XML cannot carry
        # (a NUL that broke a pattern) does not make the whole error unreadable
        f'<ErrorResponse xmlns="{ns}"><Error><Type>{err.fault}</Type><Code>{text(err.code)}</Code>'
        f"<Message>{text(err.message)}</Message></Error><RequestId>{text(request_id)}</RequestId></ErrorResponse>"
    )
    return err.status, body.encode()


def error_document(err: AwsError, request_id: str | None = None) -> dict[str, object]:
    """The error as iamroles' JSON API answers it: ``{"Error": {Code, Message, Type, HttpStatus}, "RequestId"}``."""
    doc: dict[str, object] = {"Error": {"Code": err.code, "Message": err.message, "Type": err.fault, "HttpStatus": err.status}}
    if request_id is not None:
        doc["RequestId"] = request_id
    return doc
