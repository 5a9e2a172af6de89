"""AssumeRoleWithSAML: SAML 2.0 federation (an IdP's signed authentication response is the credential).

The request is unsigned, as on AWS. The response is parsed with entities, DTDs and the network off
(iam.saml.safe_xml); its XML signature is checked by signxml against the certificates of the provider's
metadata, and from then on only what signxml returns as signed is read, never the document it came in:
that is what defeats signature wrapping (an unsigned assertion placed beside, before or around a signed
one). Either the Response or its one Assertion may be signed; when the Response is, the Assertion read is
the one inside the signed Response. A document with more than one Assertion is refused outright. Every
value read is an element's whole text, refused if the element holds a comment or a child (so a comment
planted inside NameID changes nothing that the signature covered). An EncryptedAssertion (XML Encryption:
AES-CBC or AES-GCM content, RSA-OAEP key transport) is decrypted with the provider's private keys, then
treated as the Assertion it holds: covered by the Response's signature, or signed itself.

The assertion must be issued by the provider's entity id, for AWS's audience, to AWS's sign-in endpoint
(Recipient), within its validity; its Role attribute must pair the requested role with the requested
provider. The role's trust policy then decides, with the ``saml:*`` condition keys.

AWS references: https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithSAML.html,
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_create_saml_assertions.html,
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#condition-keys-saml
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from lxml import etree

from iamroles.errors import (
    AccessDenied,
    ExpiredTokenException,
    IDPRejectedClaim,
    InvalidIdentityToken,
    InvalidParameterValue,
    ValidationError,
)
from iamroles.iam.authorize import decide_trust
from iamroles.iam.context import CallContext
from iamroles.iam.registry import Input, Output, operation
from iamroles.iam.saml import XmlRefused, provider_private_keys, safe_xml
from iamroles.policy import Arn, PolicyKind, Principal, PrincipalType

from .sessions import MAX_SESSION_TAGS, _role_from_arn, role_session

__all__ = ["Assertion", "read_response"]

SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
DS = "http://www.w3.org/2000/09/xmldsig#"
XENC = "http://www.w3.org/2001/04/xmlenc#"
XENC11 = "http://www.w3.org/2009/xmlenc11#"
_NS = {"saml": SAML, "samlp": SAMLP, "ds": DS, "xenc": XENC, "xenc11": XENC11}
# XML Encryption as SAML IdPs use it: the assertion under AES (CBC or GCM), its key under the provider's RSA key
_CONTENT_CIPHERS = {XENC + "aes128-cbc": ("cbc", 16), XENC + "aes256-cbc": ("cbc", 32),
                    XENC11 + "aes128-gcm": ("gcm", 16), XENC11 + "aes256-gcm": ("gcm", 32)}
_KEY_TRANSPORTS = {XENC + "rsa-oaep-mgf1p", XENC11 + "rsa-oaep"}
_DIGESTS: dict[str, type[hashes.HashAlgorithm]] = {
    "http://www.w3.org/2000/09/xmldsig#sha1": hashes.SHA1, XENC + "sha256": hashes.SHA256, XENC + "sha512": hashes.SHA512}
_MGFS: dict[str, type[hashes.HashAlgorithm]] = {
    XENC11 + "mgf1sha1": hashes.SHA1, XENC11 + "mgf1sha256": hashes.SHA256, XENC11 + "mgf1sha512": hashes.SHA512}
_AWS_ATTR = "https://aws.amazon.com/SAML/Attributes/"
_SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
_BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
_NAMEID_PREFIX = "urn:oasis:names:tc:SAML:2.0:nameid-format:"
_SKEW = timedelta(minutes=5)  # an IdP's clock a little ahead of ours: NotBefore only, never expiry
# AWS's sign-in endpoint, global or regional, optionally with the provider's own ACS path (/saml/acs/<UUID>):
# the Recipient (and an Audience) an assertion for AWS names (id_roles_providers_create_saml_assertions.html)
_SIGNIN = re.compile(r"https://(?:[a-z0-9-]+\.)?signin\.(?:aws\.amazon\.com|amazonaws-us-gov\.com|amazonaws\.cn)/saml"
                     r"(?:/acs/(?P<uuid>[A-Z0-9]+))?")
_SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}")
_SOURCE_IDENTITY = re.compile(r"[\w+=,.@-]{2,64}")
# session tags as AssumeRole's model has them (tagKeyType, tagValueType)
_TAG_KEY = re.compile(r"[\w\s.:/=+\-@]{1,128}")
_TAG_VALUE = re.compile(r"[\w\s.:/=+\-@]{0,256}")
# saml:* condition keys filled from attributes named by these OIDs (reference_policies_iam-condition-keys.html)
_OID_KEYS = {
    "urn:oid:2.5.4.3": "saml:cn",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.1": "saml:edupersonaffiliation",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.11": "saml:edupersonassurance",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.7": "saml:edupersonentitlement",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.2": "saml:edupersonnickname",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.3": "saml:edupersonorgdn",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.4": "saml:edupersonorgunitdn",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.5": "saml:edupersonprimaryaffiliation",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.8": "saml:edupersonprimaryorgunitdn",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.6": "saml:edupersonprincipalname",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.9": "saml:edupersonscopedaffiliation",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.10": "saml:edupersontargetedid",
    "urn:oid:2.5.4.42": "saml:givenName",
    "urn:oid:0.9.2342.19200300.100.1.3": "saml:mail",
    "urn:oid:2.5.4.41": "saml:name",
    "urn:oid:2.5.4.4": "saml:surname",
    "urn:oid:0.9.2342.19200300.100.1.1": "saml:uid",
    "urn:oid:2.5.4.45": "saml:x500UniqueIdentifier",
}


def _bad(message: str) -> InvalidIdentityToken:
    return InvalidIdentityToken(message)


def _text(element: etree._Element | None, what: str) -> str:
    """An element's whole text; refused when it holds anything but text (a comment, a child element), since
    text split around a comment is where parsers disagree on what a value is."""
    if element is None:
        raise _bad(f"The SAML assertion has no {what}.")
    if len(element):  # lxml counts comments and processing instructions as children too
        raise _bad(f"The SAML assertion's {what} must hold text only.")
    return (element.text or "").strip()


def _instant(value: str | None, what: str) -> datetime | None:
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise _bad(f"The SAML assertion's {what} is not a valid time.") from None
    if when.tzinfo is None:
        raise _bad(f"The SAML assertion's {what} has no time zone.")
    return when


@dataclass(slots=True)
class Assertion:
    """What a verified assertion says, as AssumeRoleWithSAML uses it."""

    issuer: str
    subject: str
    subject_format: str
    recipient: str
    not_on_or_after: datetime
    not_before: datetime | None
    conditions_not_on_or_after: datetime | None
    audiences: list[str]
    session_not_on_or_after: datetime | None
    attributes: dict[str, list[str]] = field(default_factory=dict)


def _decode(raw: str) -> bytes:
    try:
        return base64.b64decode("".join(raw.split()), validate=True)
    except (binascii.Error, ValueError):
        raise _bad("The SAML assertion is not valid base64.") from None


def _cipher_value(element: etree._Element | None) -> bytes:
    value = element.find("xenc:CipherData/xenc:CipherValue", _NS) if element is not None else None
    if value is None or len(value):
        raise ValueError("no CipherValue")
    return base64.b64decode("".join((value.text or "").split()), validate=True)


def _content_key(encrypted_key: etree._Element, keys: list[rsa.RSAPrivateKey]) -> bytes:
    """The content-encryption key, unwrapped by RSA-OAEP with the first of the provider's keys that can."""
    method = encrypted_key.find("xenc:EncryptionMethod", _NS)
    if method is None or method.get("Algorithm") not in _KEY_TRANSPORTS:
        raise ValueError("unsupported key transport")
    digest_el = method.find("ds:DigestMethod", _NS)
    mgf_el = method.find("xenc11:MGF", _NS)
    digest = _DIGESTS[digest_el.get("Algorithm", "")] if digest_el is not None else hashes.SHA1
    mgf = _MGFS[mgf_el.get("Algorithm", "")] if mgf_el is not None else hashes.SHA1
    wrapped = _cipher_value(encrypted_key)
    for key in keys:
        try:
            return key.decrypt(wrapped, padding.OAEP(mgf=padding.MGF1(mgf()), algorithm=digest(), label=None))
        except ValueError:
            continue
    raise ValueError("no key of the provider unwraps the content key")


def _decrypt(encrypted: etree._Element, keys: Callable[[], list[rsa.RSAPrivateKey]]) -> etree._Element:
    """The Assertion inside an EncryptedAssertion (XML Encryption 1.1, as SAML 2.0 profiles it), parsed as safely
    as the Response was. Every failure is the same error, whichever step failed (no padding or key oracle)."""
    failed = _bad("The SAML assertion could not be decrypted with the SAML provider's private keys.")
    data = encrypted.find("xenc:EncryptedData", _NS)
    try:
        if data is None:
            raise ValueError("no EncryptedData")
        method = data.find("xenc:EncryptionMethod", _NS)
        mode, size = _CONTENT_CIPHERS[method.get("Algorithm", "") if method is not None else ""]
        encrypted_key = data.find("ds:KeyInfo/xenc:EncryptedKey", _NS)
        if encrypted_key is None:  # some IdPs place it beside EncryptedData (saml-core 2.2.4)
            encrypted_key = encrypted.find("xenc:EncryptedKey", _NS)
        if encrypted_key is None:
            raise ValueError("no EncryptedKey")
        key = _content_key(encrypted_key, keys())
        if len(key) != size:
            raise ValueError("content key of the wrong size")
        blob = _cipher_value(data)
        if mode == "gcm":
            plain = AESGCM(key).decrypt(blob[:12], blob[12:], None)
        else:
            decryptor = Cipher(algorithms.AES(key), modes.CBC(blob[:16])).decryptor()
            padded = decryptor.update(blob[16:]) + decryptor.finalize()
            pad = padded[-1] if padded else 0
            if not 1 <= pad <= 16:  # XML Encryption's padding: only its last byte (the length) is meaningful
                raise ValueError("bad padding")
            plain = padded[:-pad]
        return safe_xml(plain)
    except (KeyError, ValueError, InvalidTag, binascii.Error, XmlRefused):
        raise failed from None


def _verified(root: etree._Element, certificates: list[str], location: str) -> etree._Element:
    """What the signature at ``location`` covers, checked against each of the provider's certificates: the
    root itself (``"./"``: the Response, or a decrypted Assertion), or the root's one Assertion. Only the tree
    signxml returns is used, and it must be the element the signature sits in."""
    from signxml.exceptions import SignXMLException
    from signxml.verifier import SignatureConfiguration, XMLVerifier

    config = SignatureConfiguration(location=location, expect_references=1)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False)
    holder = root if location == "./" else root.find("saml:Assertion", _NS)
    for cert in certificates:
        pem = "-----BEGIN CERTIFICATE-----\n" + cert + "\n-----END CERTIFICATE-----\n"
        try:
            result = XMLVerifier().verify(root, x509_cert=pem, expect_config=config, parser=parser)
        except (SignXMLException, ValueError):
            continue
        signed = result.signed_xml if not isinstance(result, list) else None
        if signed is None or holder is None or signed.tag != holder.tag or signed.get("ID") != holder.get("ID"):
            break  # a signature over some other element than the one holding it
        return signed
    raise _bad("Response signature invalid")  # as STS words it (cevoaustralia/aws-google-auth#270)


def _succeeded(response: etree._Element) -> None:
    status = response.find("samlp:Status/samlp:StatusCode", _NS)
    if status is None or status.get("Value") != _SUCCESS:
        raise IDPRejectedClaim("The identity provider reported that authentication failed.")


def read_response(provider: dict[str, Any], keys: Callable[[], list[rsa.RSAPrivateKey]], raw: str) -> Assertion:
    """The provider's verified assertion in a base64 SAML Response, or InvalidIdentityToken / IDPRejectedClaim.

    A signed Response vouches for the one (plain or encrypted) Assertion inside it; an unsigned Response's
    Assertion must carry its own signature (an encrypted one, once decrypted with ``keys()``, the provider's
    private keys, unsealed only for an encrypted assertion)."""
    try:
        root = safe_xml(_decode(raw))
    except XmlRefused:
        raise _bad("The SAML response is not well-formed XML, or declares a DTD.") from None
    if root.tag != f"{{{SAMLP}}}Response":
        raise _bad("The SAML assertion must be a SAML 2.0 Response.")
    encrypted = sum(1 for _ in root.iter(f"{{{SAML}}}EncryptedAssertion"))
    if encrypted + sum(1 for _ in root.iter(f"{{{SAML}}}Assertion")) != 1:
        raise _bad("The SAML response must contain exactly one Assertion.")
    if provider["encryption_mode"] == "Required" and not encrypted:
        raise _bad("The SAML provider requires encrypted assertions.")
    certificates = json.loads(provider["certificates"])
    if root.find("ds:Signature", _NS) is not None:
        signed = _verified(root, certificates, "./")
        _succeeded(signed)
        inside = signed.findall("saml:Assertion", _NS) + signed.findall("saml:EncryptedAssertion", _NS)
        if len(inside) != 1:
            raise _bad("The SAML response must contain exactly one Assertion.")
        encrypted_inside = inside[0].tag == f"{{{SAML}}}EncryptedAssertion"
        assertion = _decrypt(inside[0], keys) if encrypted_inside else inside[0]
    else:
        _succeeded(root)
        if encrypted:
            found = root.find("saml:EncryptedAssertion", _NS)
            if found is None:
                raise _bad("The SAML response must contain exactly one Assertion.")
            assertion = _verified(_decrypt(found, keys), certificates, "./")
        else:
            assertion = _verified(root, certificates, f"./{{{SAML}}}Assertion/")
    if assertion.tag != f"{{{SAML}}}Assertion":
        raise _bad("The SAML response must contain exactly one Assertion.")
    return _read_assertion(assertion)


def _read_assertion(a: etree._Element) -> Assertion:
    issuer = _text(a.find("saml:Issuer", _NS), "Issuer")
    subject = a.find("saml:Subject", _NS)
    if subject is None:
        raise _bad("The SAML assertion has no Subject.")
    names = subject.findall("saml:NameID", _NS)
    if len(names) != 1:
        raise _bad("The SAML assertion's Subject must have exactly one NameID.")
    name_id = _text(names[0], "NameID")
    if not name_id:
        raise _bad("The SAML assertion's NameID is empty.")
    confirmations = subject.findall("saml:SubjectConfirmation", _NS)
    if len(confirmations) != 1 or confirmations[0].get("Method") != _BEARER:
        raise _bad("The SAML assertion must have exactly one bearer SubjectConfirmation.")
    data = confirmations[0].find("saml:SubjectConfirmationData", _NS)
    if data is None or data.get("Recipient") is None or data.get("NotOnOrAfter") is None:
        raise _bad("The SAML assertion's SubjectConfirmationData must have NotOnOrAfter and Recipient.")
    not_on_or_after = _instant(data.get("NotOnOrAfter"), "NotOnOrAfter")
    assert not_on_or_after is not None
    conditions = a.find("saml:Conditions", _NS)
    audiences: list[str] = []
    not_before = conditions_end = None
    if conditions is not None:
        not_before = _instant(conditions.get("NotBefore"), "NotBefore")
        conditions_end = _instant(conditions.get("NotOnOrAfter"), "NotOnOrAfter")
        audiences = [_text(e, "Audience") for e in conditions.findall("saml:AudienceRestriction/saml:Audience", _NS)]
    authn = a.find("saml:AuthnStatement", _NS)
    session_end = _instant(authn.get("SessionNotOnOrAfter"), "SessionNotOnOrAfter") if authn is not None else None
    attributes: dict[str, list[str]] = {}
    for attr in a.findall("saml:AttributeStatement/saml:Attribute", _NS):
        values = [_text(v, "AttributeValue") for v in attr.findall("saml:AttributeValue", _NS)]
        attributes.setdefault(attr.get("Name", ""), []).extend(values)
    return Assertion(issuer=issuer, subject=name_id, subject_format=names[0].get("Format", ""),
                     recipient=data.get("Recipient", ""), not_on_or_after=not_on_or_after, not_before=not_before,
                     conditions_not_on_or_after=conditions_end, audiences=audiences,
                     session_not_on_or_after=session_end, attributes=attributes)


def _check_validity(ctx: CallContext, a: Assertion, provider: dict[str, Any]) -> None:
    now = ctx.now
    if provider["valid_until"] is not None and now >= provider["valid_until"]:
        # metadata is not to be used past its validUntil (saml-metadata-2.0-os 2.2.1): nor are its keys
        raise _bad("The SAML provider's metadata has expired (ValidUntil): update the provider's metadata document.")
    for end in (a.not_on_or_after, a.conditions_not_on_or_after):
        if end is not None and now >= end:
            raise ExpiredTokenException("Token is expired")
    if a.not_before is not None and now + _SKEW < a.not_before:
        raise _bad("The SAML assertion is not yet valid (NotBefore).")
    if a.issuer != provider["issuer"]:
        raise _bad("Issuer not present in specified provider")  # as STS words it (dbeaver/cloudbeaver#3112)
    recipient = _SIGNIN.fullmatch(a.recipient)
    if recipient is None or recipient.group("uuid") not in (None, provider["uuid"]):
        raise _bad("The SAML assertion's Recipient is not this service's sign-in endpoint.")
    accepted = {"urn:amazon:webservices"}
    if not any(aud in accepted or _own_endpoint(aud, provider) for aud in a.audiences):
        raise _bad("The SAML assertion's audience does not include AWS.")


def _own_endpoint(url: str, provider: dict[str, Any]) -> bool:
    m = _SIGNIN.fullmatch(url)
    return m is not None and m.group("uuid") in (None, provider["uuid"])


def _subject_type(fmt: str) -> str:
    """SubjectType / saml:sub_type: the NameID Format with SAML 2.0's prefix removed (API_AssumeRoleWithSAML)."""
    return fmt[len(_NAMEID_PREFIX):] if fmt.startswith(_NAMEID_PREFIX) else fmt


def _single(a: Assertion, name: str) -> str | None:
    values = a.attributes.get(_AWS_ATTR + name)
    if values is None:
        return None
    if len(values) != 1:
        raise _bad(f"The SAML attribute {name} must have exactly one value.")
    return values[0]


def _role_pair(a: Assertion, role_arn: str, provider_arn: str) -> bool:
    """Whether a Role attribute value pairs this role with this provider ("role-arn,provider-arn", either order)."""
    for value in a.attributes.get(_AWS_ATTR + "Role", []):
        parts = [p.strip() for p in value.split(",")]
        if len(parts) == 2 and sorted(parts) == sorted([role_arn, provider_arn]):
            return True
    return False


def _session_tags(a: Assertion) -> tuple[dict[str, str], tuple[str, ...]]:
    tags: dict[str, str] = {}
    prefix = _AWS_ATTR + "PrincipalTag:"
    for name, values in a.attributes.items():
        if name.startswith(prefix):
            if len(values) != 1:
                raise _bad(f"The session tag {name[len(prefix):]} must have exactly one value.")
            key = name[len(prefix):]
            if not _TAG_KEY.fullmatch(key) or not _TAG_VALUE.fullmatch(values[0]) or key.lower().startswith("aws:"):
                raise InvalidParameterValue(f"The session tag {key[:128]} has an invalid key or value.")
            if key.lower() in {k.lower() for k in tags}:
                raise InvalidParameterValue("Duplicate tag keys found. Please note that Tag keys are case insensitive.")
            tags[key] = values[0]
    if len(tags) > MAX_SESSION_TAGS:
        raise ValidationError("1 validation error detected: Value at 'tags' failed to satisfy constraint: "
                              f"Member must have length less than or equal to {MAX_SESSION_TAGS}")
    transitive = tuple(a.attributes.get(_AWS_ATTR + "TransitiveTagKeys", []))
    for key in transitive:
        if key not in tags:
            raise InvalidParameterValue(f"The specified transitive tag key {key} must be included in the requested tags.")
    return tags, transitive


def _condition_keys(a: Assertion, provider: dict[str, Any], account: str, name: str) -> dict[str, Any]:
    qualifier = base64.b64encode(hashlib.sha1((a.issuer + account + "/" + name).encode()).digest()).decode()
    keys: dict[str, Any] = {
        "saml:aud": a.recipient,
        "saml:iss": a.issuer,
        "saml:sub": a.subject,
        "saml:sub_type": _subject_type(a.subject_format),
        "saml:namequalifier": qualifier,
        "saml:doc": f"{account}/{name}",
        "aws:FederatedProvider": provider["arn"],
    }
    for oid, key in _OID_KEYS.items():
        if oid in a.attributes:
            keys[key] = a.attributes[oid]
    return keys


# Reading an assertion (base64, XML, canonicalisation, digests, RSA) is CPU work, milliseconds for the model's
# 100,000 characters, done for callers nobody has authenticated yet (the call is unsigned). At most this many at
# once per process: a flood of them then queues here, and the event loop (every other caller) keeps its share of
# the interpreter (24 at a time held a concurrent GetCallerIdentity's p99 above 200 ms; tests/server/test_hostile.py).
SAML_CHECKS = int(os.environ.get("IAMROLES_SAML_CHECKS", "1"))  # (the environment: for measuring)
_CHECKING = threading.BoundedSemaphore(SAML_CHECKS)


@operation("AssumeRoleWithSAML", resource=None, service="sts")
def assume_role_with_saml(ctx: CallContext, inp: Input) -> Output:
    role_arn, provider_arn = inp["RoleArn"], inp["PrincipalArn"]
    named, role_named = Arn.maybe(provider_arn), Arn.maybe(role_arn)
    if named is None or not named.is_iam("saml-provider") or role_named is None or not role_named.is_iam("role"):
        raise ValidationError("Request ARN is invalid")  # STS's words (oktadev/okta-aws-cli-assume-role#307)
    provider = ctx.tx.saml_provider(provider_arn) if named.partition == ctx.partition else None
    if provider is None or named.account != role_named.account:
        raise _bad("Specified provider doesn't exist")
    with _CHECKING:
        a = read_response(provider, lambda: provider_private_keys(ctx, provider), inp["SAMLAssertion"])
    _check_validity(ctx, a, provider)
    session_name = _single(a, "RoleSessionName")
    if session_name is None or not _SESSION_NAME.fullmatch(session_name):
        raise _bad("The SAML assertion's RoleSessionName attribute must be 2 to 64 characters of [\\w+=,.@-].")
    source_identity = _single(a, "SourceIdentity")
    if source_identity is not None and not _SOURCE_IDENTITY.fullmatch(source_identity):
        raise _bad("The SAML assertion's SourceIdentity attribute must be 2 to 64 characters of [\\w+=,.@-].")
    tags, transitive = _session_tags(a)
    denied = AccessDenied("Not authorized to perform sts:AssumeRoleWithSAML")
    if not _role_pair(a, role_arn, provider_arn):
        raise denied
    role = _role_from_arn(ctx, role_arn)
    if role is None:
        raise denied
    context = _condition_keys(a, provider, role.account_id, named.name)
    context.update({"sts:RoleSessionName": session_name, "aws:SourceIp": ctx.source_ip,
                    "aws:SecureTransport": "true" if ctx.secure_transport else "false"})
    actions = ["sts:AssumeRoleWithSAML"]
    if tags:
        actions.append("sts:TagSession")
        context.update({f"aws:RequestTag/{k}": v for k, v in tags.items()})
        context["aws:TagKeys"] = list(tags)
        if transitive:
            context["sts:TransitiveTagKeys"] = list(transitive)
    if source_identity:
        actions.append("sts:SetSourceIdentity")
        context["sts:SourceIdentity"] = source_identity
    principal = Principal(PrincipalType.WEB_IDENTITY, federated=provider_arn)
    trust = ctx.cache.compiled(role.trust_policy, PolicyKind.TRUST, f"trust:{role.arn}")
    for action in actions:
        decision = decide_trust(ctx, principal, action, role_arn, role.account_id, trust, context)
        if not decision.allowed:
            raise AccessDenied(f"Not authorized to perform {action}")
    duration = _duration(ctx, inp, a, role.max_session_duration)
    out = role_session(ctx, inp, role, session_name, duration, tags=tags, transitive=transitive, source_identity=source_identity)
    out.update({
        "Subject": a.subject,
        "SubjectType": _subject_type(a.subject_format),
        "Issuer": a.issuer,
        "Audience": a.recipient,
        "NameQualifier": context["saml:namequalifier"],
    })
    if source_identity:
        out["SourceIdentity"] = source_identity
    ctx.role_used = (role.account_id, role.key)
    return out


def _duration(ctx: CallContext, inp: Input, a: Assertion, role_max: int) -> int:
    """DurationSeconds (an hour by default), at most the role's MaxSessionDuration, and never past the
    AuthnStatement's SessionNotOnOrAfter, "whichever is shorter" (API_AssumeRoleWithSAML). The SessionDuration
    attribute is the console session's length and plays no part here: "The DurationSeconds parameter is
    separate from the duration of a console session" (the same page)."""
    duration = inp.get("DurationSeconds") or 3600
    if duration > role_max:
        raise ValidationError("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
    if a.session_not_on_or_after is not None:
        left = int((a.session_not_on_or_after - ctx.now).total_seconds())
        if left <= 0:
            raise ExpiredTokenException("Token is expired")
        duration = min(duration, left)
    return duration
