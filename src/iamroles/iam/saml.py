"""SAML 2.0 identity providers (for AssumeRoleWithSAML).

A provider is its IdP's metadata document: the ``EntityDescriptor``'s ``entityID`` is the issuer its
assertions must name, and the X.509 certificates of its ``IDPSSODescriptor``'s signing keys are the only
keys an assertion's signature is checked against. Both are read out once, when the document is given;
the document itself is kept as given (GetSAMLProvider returns it). The private keys that decrypt
encrypted assertions (AddPrivateKey, at most two, for rotation) are sealed under the master key.

AWS references: https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateSAMLProvider.html and
siblings; https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_create_saml.html;
quota of 100 SAML providers per account: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
"""
from __future__ import annotations

import base64
import binascii
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from lxml import etree

from iamroles.errors import InvalidInput, LimitExceeded, NoSuchEntity

from .common import account_quota, lock_account, tag_keys, tags_in, tags_out
from .conflicts import already_exists
from .context import CallContext
from .registry import Input, Output, operation
from .shared import register_tagging

__all__ = ["Metadata", "parse_metadata", "safe_xml", "XmlRefused", "provider_private_keys"]

MAX_PRIVATE_KEYS = 2  # privateKeyList has at most two members: the current key and the next (rotation)
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"
_NS = {"md": MD, "ds": DS}
_BAD_METADATA = "Could not parse metadata"


class XmlRefused(ValueError):
    """A document that is not well-formed XML, or carries a DTD (entities, external references)."""


def safe_xml(data: bytes) -> etree._Element:
    """``data`` parsed with no entity expansion, no network, no DTD loading and libxml2's size limits kept
    (defusedxml's rules): a document type declaration of any kind is refused, so neither entity expansion
    (billion laughs) nor an external entity (a local file, a URL) can be reached. Comments are kept: a
    signature check decides what they mean (see sts.saml)."""
    if b"<!DOCTYPE" in data:  # cheap before expensive: the usual spelling is refused before any parsing
        raise XmlRefused("a document type declaration is not allowed")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False,
                             dtd_validation=False, remove_pis=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as err:
        raise XmlRefused(str(err)) from None
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None or tree.docinfo.externalDTD is not None:
        raise XmlRefused("a document type declaration is not allowed")
    return root


@dataclass(frozen=True, slots=True)
class Metadata:
    issuer: str
    certificates: list[str]  # base64 DER, as the metadata gives them
    valid_until: datetime | None


def _instant(value: str) -> datetime:
    """An xs:dateTime as SAML writes it (UTC, ``Z``, optional fraction)."""
    when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def parse_metadata(document: str) -> Metadata:
    """The issuer, signing certificates and expiry of an IdP's metadata; InvalidInput "Could not parse
    metadata" for anything else: not XML, a DTD, not an EntityDescriptor with an entityID and an
    IDPSSODescriptor, no signing certificate, a certificate that is not X.509."""
    try:
        root = safe_xml(document.encode())
    except XmlRefused:
        raise InvalidInput(_BAD_METADATA) from None
    issuer = root.get("entityID", "").strip() if root.tag == f"{{{MD}}}EntityDescriptor" else ""
    idp = root.find("md:IDPSSODescriptor", _NS)
    if not issuer or idp is None:
        raise InvalidInput(_BAD_METADATA)
    certificates: list[str] = []
    for descriptor in idp.findall("md:KeyDescriptor", _NS):
        if descriptor.get("use", "signing") != "signing":  # no use: the key serves both (saml-metadata 2.4.1.1)
            continue
        for element in descriptor.findall("ds:KeyInfo/ds:X509Data/ds:X509Certificate", _NS):
            text = "".join((element.text or "").split())
            try:
                x509.load_der_x509_certificate(base64.b64decode(text, validate=True))
            except (ValueError, binascii.Error):
                raise InvalidInput(_BAD_METADATA) from None
            if text not in certificates:
                certificates.append(text)
    if not certificates:
        raise InvalidInput(_BAD_METADATA)
    valid_until = None
    if root.get("validUntil"):
        try:
            valid_until = _instant(root.get("validUntil", ""))
        except ValueError:
            raise InvalidInput(_BAD_METADATA) from None
    return Metadata(issuer, certificates, valid_until)


def _new_id() -> str:
    """An id of the model's privateKeyIdType: 22 to 64 of [A-Z0-9]."""
    return base64.b32encode(secrets.token_bytes(20)).decode()  # 32 characters of A-Z2-7


def _arn_of(ctx: CallContext, inp: Input) -> str:
    if "SAMLProviderArn" in inp:
        return str(inp["SAMLProviderArn"])
    return ctx.arn(f"saml-provider/{inp.get('Name', '')}")


def _get(ctx: CallContext, arn: str, for_update: bool = False) -> dict[str, Any]:
    found = ctx.tx.saml_provider(arn, for_update=for_update)
    if found is None or found["account_id"] != ctx.account_id:
        raise NoSuchEntity(f"Manifest not found for arn {arn}")  # as IAM words it (altimeter's tests quote it)
    return found


def _refuse_identity_center(inp: Input) -> None:
    """IAM Identity Center's trusted identity propagation has no counterpart here: refused, not ignored."""
    for name in ("ContextProvider", "IdentityCenterInstanceArn", "RemoveContextProvider", "RemoveIdentityCenterInstance"):
        if inp.get(name):
            raise InvalidInput(f"{name} is not supported: iamroles has no IAM Identity Center.")


def _add_key(ctx: CallContext, keys: list[dict[str, Any]], pem: str) -> None:
    """A private key (PEM, RSA: the key transport of XML encryption) sealed, with its new id."""
    if len(keys) >= MAX_PRIVATE_KEYS:
        raise LimitExceeded(f"Cannot exceed quota for PrivateKeysPerSAMLProvider: {MAX_PRIVATE_KEYS}")
    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise InvalidInput("The private key is not a valid unencrypted PEM private key.") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise InvalidInput("The private key must be an RSA key.")
    key_id = _new_id()
    sealed = ctx.master_key.seal(pem.encode(), f"saml-key:{key_id}".encode())
    keys.append({"id": key_id, "created": ctx.now.isoformat(), "sealed": base64.b64encode(sealed).decode()})


def provider_private_keys(ctx: CallContext, provider: dict[str, Any]) -> list[rsa.RSAPrivateKey]:
    """The provider's private keys, unsealed (newest first: the one an IdP rotating keys moves to)."""
    out = []
    for entry in reversed(json.loads(provider["private_keys"])):
        pem = ctx.master_key.open(base64.b64decode(entry["sealed"]), f"saml-key:{entry['id']}".encode())
        key = load_pem_private_key(pem, password=None)
        assert isinstance(key, rsa.RSAPrivateKey)  # only RSA keys are stored (_add_key)
        out.append(key)
    return out


@operation("CreateSAMLProvider", resource=_arn_of, keys=lambda ctx, inp: tag_keys(inp), write=True)
def create_saml_provider(ctx: CallContext, inp: Input) -> Output:
    _refuse_identity_center(inp)
    name = inp["Name"]
    arn = ctx.arn(f"saml-provider/{name}")
    meta = parse_metadata(inp["SAMLMetadataDocument"])
    tags = tags_in(inp, "TagsPerSAMLProvider")
    keys: list[dict[str, Any]] = []
    if inp.get("AddPrivateKey"):
        _add_key(ctx, keys, inp["AddPrivateKey"])
    lock_account(ctx)
    if ctx.tx.saml_provider(arn) is not None:
        raise already_exists("saml", name)
    account_quota(ctx, "SAMLProvidersPerAccount")
    ctx.tx.insert_saml_provider(
        arn=arn, account_id=ctx.account_id, name=name, uuid=_new_id(), metadata_document=inp["SAMLMetadataDocument"],
        issuer=meta.issuer, certificates=json.dumps(meta.certificates), valid_until=meta.valid_until,
        encryption_mode=inp.get("AssertionEncryptionMode"), private_keys=json.dumps(keys), created_at=ctx.now,
    )
    if tags:
        ctx.tx.set_tags(ctx.account_id, "saml", arn, tags)
    return {"SAMLProviderArn": arn, "Tags": tags_out(tags) or None}


@operation("GetSAMLProvider", resource=_arn_of)
def get_saml_provider(ctx: CallContext, inp: Input) -> Output:
    p = _get(ctx, inp["SAMLProviderArn"])
    tags = ctx.tx.tags(ctx.account_id, "saml", p["arn"])
    keys = [{"KeyId": k["id"], "Timestamp": datetime.fromisoformat(k["created"])} for k in json.loads(p["private_keys"])]
    return {"SAMLProviderUUID": p["uuid"], "SAMLMetadataDocument": p["metadata_document"], "CreateDate": p["created_at"],
            "ValidUntil": p["valid_until"], "Tags": tags_out(tags) or None,
            "AssertionEncryptionMode": p["encryption_mode"], "PrivateKeyList": keys or None}


@operation("ListSAMLProviders", resource=lambda ctx, inp: ctx.arn("saml-provider/"))
def list_saml_providers(ctx: CallContext, inp: Input) -> Output:
    return {"SAMLProviderList": [{"Arn": p["arn"], "ValidUntil": p["valid_until"], "CreateDate": p["created_at"]}
                                 for p in ctx.tx.saml_providers(ctx.account_id)]}


@operation("UpdateSAMLProvider", resource=_arn_of, write=True)
def update_saml_provider(ctx: CallContext, inp: Input) -> Output:
    """A new metadata document (its certificates replace the old ones), encryption mode, and private keys
    added or removed; the changes are checked in full before any is written."""
    _refuse_identity_center(inp)
    p = _get(ctx, inp["SAMLProviderArn"], for_update=True)
    changes: dict[str, Any] = {}
    if inp.get("SAMLMetadataDocument"):
        meta = parse_metadata(inp["SAMLMetadataDocument"])
        changes.update(metadata_document=inp["SAMLMetadataDocument"], issuer=meta.issuer,
                       certificates=json.dumps(meta.certificates), valid_until=meta.valid_until)
    if inp.get("AssertionEncryptionMode"):
        changes["encryption_mode"] = inp["AssertionEncryptionMode"]
    keys = json.loads(p["private_keys"])
    if inp.get("RemovePrivateKey"):
        kept = [k for k in keys if k["id"] != inp["RemovePrivateKey"]]
        if len(kept) == len(keys):
            raise InvalidInput(f"The private key {inp['RemovePrivateKey']} does not exist for this SAML provider.")
        keys = kept
    if inp.get("AddPrivateKey"):
        _add_key(ctx, keys, inp["AddPrivateKey"])
    if inp.get("RemovePrivateKey") or inp.get("AddPrivateKey"):
        changes["private_keys"] = json.dumps(keys)
    if not changes:
        raise InvalidInput("Nothing to update: give a SAMLMetadataDocument, an AssertionEncryptionMode or a private key.")
    ctx.tx.update_saml_provider(p["arn"], **changes)
    return {"SAMLProviderArn": p["arn"]}


@operation("DeleteSAMLProvider", resource=_arn_of, write=True)
def delete_saml_provider(ctx: CallContext, inp: Input) -> Output:
    p = _get(ctx, inp["SAMLProviderArn"], for_update=True)
    ctx.tx.delete_saml_provider(p["arn"])
    ctx.tx.remove_tags(ctx.account_id, "saml", p["arn"], [t.key for t in ctx.tx.tags(ctx.account_id, "saml", p["arn"])])
    return None


register_tagging(
    "SAMLProvider", "saml", _arn_of,
    target=lambda ctx, inp, lock: _get(ctx, inp["SAMLProviderArn"], for_update=lock)["arn"],
    resource_keys=lambda ctx, inp: {},
)
