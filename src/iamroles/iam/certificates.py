"""X.509 certificates: users' signing certificates and the account's server certificates.

Certificates are parsed and checked with ``cryptography``: a PEM certificate that is in force (not expired,
not yet to come); for a server certificate, a private key that is the certificate's own and a chain in order
(each certificate issued, and signed, by the next). A server certificate's private key is sealed under the
master key (bound to the certificate's id) and is never returned: no operation reads it back.

AWS references: https://docs.aws.amazon.com/IAM/latest/APIReference/API_UploadSigningCertificate.html,
API_UploadServerCertificate.html, API_GetServerCertificate.html, API_UpdateServerCertificate.html,
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_server-certs.html (the chain: the immediate
issuer first, then each intermediate in order), https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
(2 signing certificates per user, 20 server certificates per account).
"""
from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from iamroles.errors import (
    DuplicateCertificate,
    InvalidCertificate,
    KeyPairMismatch,
    LimitExceeded,
    MalformedCertificate,
    NoSuchEntity,
)
from iamroles.store import ServerCertificate, SigningCertificate, User
from iamroles.tokens import new_unique_id

from .authorize import authorize
from .common import account_quota, already_exists, get_entity, lock_account, page, resource_tag_keys, tag_keys, tags_in, tags_out
from .conflicts import DUPLICATE_CERTIFICATE
from .context import CallContext
from .credentials import credential_status, named_or_caller, root_itself, user_resource
from .registry import Input, Output, operation
from .shared import register_tagging

__all__: list[str] = []

SIGNING_CERTIFICATES_PER_USER = 2
UNPARSABLE = "Unable to parse certificate. Please ensure the certificate is in PEM format."


def _certificate(body: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(body.strip().encode("latin-1"))
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise MalformedCertificate(UNPARSABLE) from None


def _in_force(cert: x509.Certificate, now: datetime, error: type[Exception]) -> None:
    if now >= cert.not_valid_after_utc:
        raise error(f"The certificate expired at {cert.not_valid_after_utc.isoformat()}.")
    if now < cert.not_valid_before_utc:
        raise error(f"The certificate is not valid before {cert.not_valid_before_utc.isoformat()}.")


def _public(key: Any) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)  # type: ignore[no-any-return]


def _fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


# -- signing certificates -----------------------------------------------------------------------------
def _signing_out(user: User, cert: SigningCertificate) -> dict[str, Any]:
    return {"UserName": user.name, "CertificateId": cert.certificate_id, "CertificateBody": cert.body,
            "Status": cert.status, "UploadDate": cert.uploaded_at}


def _signing_of(ctx: CallContext, user: User, certificate_id: str) -> SigningCertificate:
    found: SigningCertificate | None = ctx.tx.user_credential("signing", certificate_id)
    if found is None or found.account_id != ctx.account_id or found.user_id != user.id:
        raise NoSuchEntity(f"The Certificate with id {certificate_id} cannot be found.")
    return found


@operation("UploadSigningCertificate", resource=user_resource, write=True)
def upload_signing_certificate(ctx: CallContext, inp: Input) -> Output:
    user = get_entity(ctx, "user", named_or_caller(ctx, inp), for_update=True)  # the owner of the quota, locked before counting
    cert = _certificate(inp["CertificateBody"])
    _in_force(cert, ctx.now, InvalidCertificate)
    fingerprint = _fingerprint(cert)
    if any(c.fingerprint == fingerprint for c in ctx.tx.user_credentials("signing", ctx.account_id)):
        raise DuplicateCertificate(DUPLICATE_CERTIFICATE)
    if len(ctx.tx.user_credentials("signing", ctx.account_id, user.id)) >= SIGNING_CERTIFICATES_PER_USER:
        raise LimitExceeded(f"Cannot exceed quota for SigningCertificatesPerUser: {SIGNING_CERTIFICATES_PER_USER}")
    body = cert.public_bytes(serialization.Encoding.PEM).decode()
    record = SigningCertificate(base64.b32encode(secrets.token_bytes(20)).decode(), ctx.account_id, user.id, body,
                                fingerprint, "Active", ctx.now)
    ctx.tx.insert_user_credential("signing", record)
    return {"Certificate": _signing_out(user, record)}


@operation("ListSigningCertificates", resource=user_resource)
def list_signing_certificates(ctx: CallContext, inp: Input) -> Output:
    if root_itself(ctx, inp):  # (the root has no signing certificates here)
        return {"Certificates": [], "IsTruncated": False}
    user = get_entity(ctx, "user", named_or_caller(ctx, inp))
    certs = ctx.tx.user_credentials("signing", ctx.account_id, user.id)
    chunk, meta = page("ListSigningCertificates", certs, inp, key=lambda c: c.uploaded_at.isoformat() + c.certificate_id)  # at most 2
    return {"Certificates": [_signing_out(user, c) for c in chunk], **meta}


@operation("UpdateSigningCertificate", resource=user_resource, write=True)
def update_signing_certificate(ctx: CallContext, inp: Input) -> Output:
    if root_itself(ctx, inp):
        raise NoSuchEntity(f"The Certificate with id {inp['CertificateId']} cannot be found.")
    user = get_entity(ctx, "user", named_or_caller(ctx, inp))
    cert = _signing_of(ctx, user, inp["CertificateId"])
    ctx.tx.update_user_credential("signing", cert.certificate_id, status=credential_status(inp))
    return None


@operation("DeleteSigningCertificate", resource=user_resource, write=True)
def delete_signing_certificate(ctx: CallContext, inp: Input) -> Output:
    if root_itself(ctx, inp):
        raise NoSuchEntity(f"The Certificate with id {inp['CertificateId']} cannot be found.")
    user = get_entity(ctx, "user", named_or_caller(ctx, inp))
    ctx.tx.delete_user_credential("signing", _signing_of(ctx, user, inp["CertificateId"]).certificate_id)
    return None


# -- server certificates ------------------------------------------------------------------------------
def _server_arn(ctx: CallContext, name: str, path: str = "/") -> str:
    return ctx.arn(f"server-certificate{path}{name}")


def _server_resource(ctx: CallContext, inp: Input) -> str:
    name = inp.get("ServerCertificateName", "")
    found = ctx.tx.server_certificate(ctx.account_id, name) if name else None
    return found.arn if found is not None else _server_arn(ctx, name, inp.get("Path") or "/")


def _server_missing(name: str) -> NoSuchEntity:
    return NoSuchEntity(f"The Server Certificate with name {name} cannot be found.")


def _server_of(ctx: CallContext, name: str, for_update: bool = False) -> ServerCertificate:
    found = ctx.tx.server_certificate(ctx.account_id, name, for_update=for_update)
    if found is None:
        raise _server_missing(name)
    return found


def _private_key(pem: str) -> Any:
    """The unencrypted PEM private key; its text is never quoted."""
    try:
        return serialization.load_pem_private_key(pem.strip().encode("latin-1"), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise MalformedCertificate("Unable to parse the private key. Please ensure it is an unencrypted PEM private key.") from None


def _check_chain(cert: x509.Certificate, chain: list[x509.Certificate]) -> None:
    """Each certificate issued and signed by the next: the immediate issuer first, then each intermediate in order."""
    for index, (child, issuer) in enumerate(zip([cert, *chain], chain)):
        try:
            child.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
            raise MalformedCertificate(
                "Unable to validate certificate chain. The certificate chain must start with the immediate signing "
                "certificate, followed by any intermediaries in order. The index within the chain of the invalid "
                f"certificate is: {index}") from None


def _chain(text: str | None) -> list[x509.Certificate]:
    if not text:
        return []
    try:
        return x509.load_pem_x509_certificates(text.strip().encode("latin-1"))
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise MalformedCertificate("Unable to parse the certificate chain. Please ensure it is a series of PEM "
                                   "certificates.") from None


def _server_metadata(cert: ServerCertificate) -> dict[str, Any]:
    return {"Path": cert.path, "ServerCertificateName": cert.name, "ServerCertificateId": cert.id, "Arn": cert.arn,
            "UploadDate": cert.created_at, "Expiration": cert.expiration}


@operation("UploadServerCertificate", resource=_server_resource, keys=lambda ctx, inp: tag_keys(inp), write=True)
def upload_server_certificate(ctx: CallContext, inp: Input) -> Output:
    name, path = inp["ServerCertificateName"], inp.get("Path") or "/"
    tags = tags_in(inp, "TagsPerServerCertificate")
    cert = _certificate(inp["CertificateBody"])
    _in_force(cert, ctx.now, MalformedCertificate)
    key = _private_key(inp["PrivateKey"])
    if _public(key.public_key()) != _public(cert.public_key()):
        raise KeyPairMismatch("The public key certificate and the private key do not match.")
    chain = _chain(inp.get("CertificateChain"))
    _check_chain(cert, chain)
    lock_account(ctx)
    if ctx.tx.server_certificate(ctx.account_id, name) is not None:
        raise already_exists("server_certificate", name)
    account_quota(ctx, "ServerCertificatesPerAccount")
    cert_id = new_unique_id("ASCA")
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    record = ServerCertificate(
        ctx.account_id, name, cert_id, path, _server_arn(ctx, name, path), ctx.now,
        body=cert.public_bytes(serialization.Encoding.PEM).decode(),
        chain="".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in chain) or None,
        key_sealed=ctx.master_key.seal(key_pem, cert_id.encode()), expiration=cert.not_valid_after_utc)
    ctx.tx.insert_server_certificate(record)
    if tags:
        ctx.tx.set_tags(ctx.account_id, "server_certificate", record.key, tags)
    return {"ServerCertificateMetadata": _server_metadata(record), "Tags": tags_out(tags) if tags else None}


@operation("GetServerCertificate", resource=_server_resource)
def get_server_certificate(ctx: CallContext, inp: Input) -> Output:
    cert = _server_of(ctx, inp["ServerCertificateName"])
    tags = ctx.tx.tags(ctx.account_id, "server_certificate", cert.key)
    out: dict[str, Any] = {"ServerCertificateMetadata": _server_metadata(cert), "CertificateBody": cert.body,
                           "Tags": tags_out(tags) if tags else None}
    if cert.chain:
        out["CertificateChain"] = cert.chain
    return {"ServerCertificate": out}


@operation("ListServerCertificates", resource=lambda ctx, inp: _server_arn(ctx, "", inp.get("PathPrefix") or "/"))
def list_server_certificates(ctx: CallContext, inp: Input) -> Output:
    certs = ctx.tx.server_certificates(ctx.account_id, inp.get("PathPrefix") or "/")
    chunk, meta = page("ListServerCertificates", certs, inp, key=lambda c: c.key)  # at most ServerCertificatesPerAccount
    return {"ServerCertificateMetadataList": [_server_metadata(c) for c in chunk], **meta}


@operation("UpdateServerCertificate", resource=_server_resource, write=True)
def update_server_certificate(ctx: CallContext, inp: Input) -> Output:
    """A new name or path; the caller must be allowed it on the certificate's new ARN as well as on its old one
    ("must have permission to change the server certificate with the old name and the new name")."""
    lock_account(ctx)  # names are unique per account: the account's row orders renames and uploads
    cert = _server_of(ctx, inp["ServerCertificateName"], for_update=True)
    new_name = inp.get("NewServerCertificateName") or cert.name
    new_path = inp.get("NewPath") or cert.path
    authorize(ctx, "iam:UpdateServerCertificate", _server_arn(ctx, new_name, new_path))
    if new_name.lower() != cert.key and ctx.tx.server_certificate(ctx.account_id, new_name) is not None:
        raise already_exists("server_certificate", new_name)
    ctx.tx.move_server_certificate(ctx.account_id, cert.key, new_name, new_path, _server_arn(ctx, new_name, new_path))
    return None


@operation("DeleteServerCertificate", resource=_server_resource, write=True)
def delete_server_certificate(ctx: CallContext, inp: Input) -> Output:
    cert = _server_of(ctx, inp["ServerCertificateName"], for_update=True)
    ctx.tx.delete_server_certificate(ctx.account_id, cert.key)
    return None


register_tagging(
    "ServerCertificate", "server_certificate", _server_resource,
    lambda ctx, inp, lock: _server_of(ctx, inp["ServerCertificateName"], for_update=lock).key,
    lambda ctx, inp: resource_tag_keys(ctx, "server_certificate", inp.get("ServerCertificateName")),
)
