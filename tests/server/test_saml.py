"""SAML 2.0 federation over the wire: provider CRUD, and AssumeRoleWithSAML with real signed assertions.

The IdP is built here: an RSA key and a self-signed certificate (cryptography), metadata naming it, and
responses signed with signxml's XMLSigner (the Response, or the Assertion inside it). Then the attacks
XML signatures are known for: signature wrapping, a comment inside NameID, an unsigned assertion, a
certificate not in the metadata, a value changed after signing, expired assertions, DTDs (XXE, billion
laughs), an oversized assertion.

AWS references:
https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithSAML.html (unsigned request; response
  fields Subject, SubjectType with the nameid-format prefix removed, Issuer, Audience = the Recipient,
  NameQualifier = BASE64(SHA1(issuer + account + "/" + provider name)), SourceIdentity; SAMLAssertion at most
  100,000 characters in botocore's model),
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_create_saml_assertions.html (Role attribute
  "role-arn,provider-arn" in either order, RoleSessionName, SessionDuration, PrincipalTag:*, TransitiveTagKeys,
  SourceIdentity; exactly one SubjectConfirmation with NotOnOrAfter and a Recipient that is the sign-in URL),
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#condition-keys-saml
  (saml:aud is the Recipient, saml:sub, saml:iss, saml:doc, saml:namequalifier, saml:edupersonaffiliation),
https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateSAMLProvider.html (name [\\w._-]+, 1-128;
  metadata 1,000 to 10,000,000 characters), https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
  (100 SAML providers per account), https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html
  (session tags need sts:TagSession in the trust policy).
Error texts STS is seen to give: "Response signature invalid" (cevoaustralia/aws-google-auth#270), "Issuer not
present in specified provider" (dbeaver/cloudbeaver#3112), "Request ARN is invalid" (oktadev/okta-aws-cli-assume-role#307);
IAM's NoSuchEntity "Manifest not found for arn ..." (altimeter's tests).
"""
from __future__ import annotations

import base64
import copy
import hashlib
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import XMLSigner

from .conftest import Server, unique
from .test_audit import read_trail
from .test_roles import error

SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
DS = "http://www.w3.org/2000/09/xmldsig#"
ATTR = "https://aws.amazon.com/SAML/Attributes/"
SIGNIN = "https://signin.aws.amazon.com/saml"
EDU_AFFILIATION = "urn:oid:1.3.6.1.4.1.5923.1.1.1.1"


class IdP:
    """A SAML identity provider: a key, its self-signed certificate, its metadata, and signed responses."""

    def __init__(self, entity_id: str = "https://idp.example.com/saml") -> None:
        self.entity_id = entity_id
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "idp.example.com")])
        now = datetime.now(UTC)
        self.cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(self.key.public_key())
                     .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
                     .not_valid_after(now + timedelta(days=365)).sign(self.key, hashes.SHA256()))
        self.key_pem = self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption())
        self.cert_pem = self.cert.public_bytes(serialization.Encoding.PEM)

    def cert_b64(self) -> str:
        return base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()

    def metadata(self, *certs: str, entity_id: str | None = None, valid_until: str | None = None) -> str:
        keys = "".join(
            f'<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{c}</ds:X509Certificate>'
            f"</ds:X509Data></ds:KeyInfo></md:KeyDescriptor>" for c in (certs or (self.cert_b64(),)))
        return (f'<?xml version="1.0"?>\n<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
                f'xmlns:ds="{DS}" entityID="{entity_id or self.entity_id}"'
                + (f' validUntil="{valid_until}"' if valid_until else "") + ">"
                f'<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{keys}'
                '<md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>'
                '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
                'Location="https://idp.example.com/saml/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>')

    def assertion(self, *, roles: list[str], session_name: str | None = "alice", subject: str = "alice@example.com",
                  fmt: str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent", recipient: str = SIGNIN,
                  audience: str = "urn:amazon:webservices", not_on_or_after: float = 300, not_before: float = -60,
                  issuer: str | None = None, attributes: dict[str, list[str]] | None = None,
                  session_end: float | None = None) -> etree._Element:
        now = datetime.now(UTC)

        def at(seconds: float) -> str:
            return (now + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")

        attrs: dict[str, list[str]] = {ATTR + "Role": roles}
        if session_name is not None:
            attrs[ATTR + "RoleSessionName"] = [session_name]
        attrs.update(attributes or {})
        a = etree.Element(f"{{{SAML}}}Assertion", nsmap={"saml": SAML},
                          ID="_" + uuid.uuid4().hex, Version="2.0", IssueInstant=at(0))
        etree.SubElement(a, f"{{{SAML}}}Issuer").text = issuer or self.entity_id
        subj = etree.SubElement(a, f"{{{SAML}}}Subject")
        etree.SubElement(subj, f"{{{SAML}}}NameID", Format=fmt).text = subject
        conf = etree.SubElement(subj, f"{{{SAML}}}SubjectConfirmation", Method="urn:oasis:names:tc:SAML:2.0:cm:bearer")
        etree.SubElement(conf, f"{{{SAML}}}SubjectConfirmationData", NotOnOrAfter=at(not_on_or_after), Recipient=recipient)
        cond = etree.SubElement(a, f"{{{SAML}}}Conditions", NotBefore=at(not_before), NotOnOrAfter=at(not_on_or_after))
        etree.SubElement(etree.SubElement(cond, f"{{{SAML}}}AudienceRestriction"), f"{{{SAML}}}Audience").text = audience
        authn = etree.SubElement(a, f"{{{SAML}}}AuthnStatement", AuthnInstant=at(0))
        if session_end is not None:
            authn.set("SessionNotOnOrAfter", at(session_end))
        statement = etree.SubElement(a, f"{{{SAML}}}AttributeStatement")
        for name, values in attrs.items():
            attr = etree.SubElement(statement, f"{{{SAML}}}Attribute", Name=name)
            for v in values:
                etree.SubElement(attr, f"{{{SAML}}}AttributeValue").text = v
        return a

    def sign(self, element: etree._Element, key: Any = None, cert: Any = None) -> etree._Element:
        signer = XMLSigner(signature_algorithm="rsa-sha256", digest_algorithm="sha256",
                           c14n_algorithm="http://www.w3.org/2001/10/xml-exc-c14n#")
        return signer.sign(element, key=key or self.key_pem, cert=cert or self.cert_pem, reference_uri=element.get("ID"))

    def response(self, *assertions: etree._Element, sign_response: bool = False) -> etree._Element:
        r = etree.Element(f"{{{SAMLP}}}Response", nsmap={"samlp": SAMLP, "saml": SAML}, ID="_" + uuid.uuid4().hex,
                          Version="2.0", IssueInstant=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                          Destination=SIGNIN)
        etree.SubElement(r, f"{{{SAML}}}Issuer").text = self.entity_id
        status = etree.SubElement(r, f"{{{SAMLP}}}Status")
        etree.SubElement(status, f"{{{SAMLP}}}StatusCode", Value="urn:oasis:names:tc:SAML:2.0:status:Success")
        for a in assertions:
            r.append(a)
        return self.sign(r) if sign_response else r

    def signed(self, **kw: Any) -> str:
        """The usual: a Response holding one signed Assertion, base64 as the browser posts it."""
        return encode(self.response(self.sign(self.assertion(**kw))))


XENC = "http://www.w3.org/2001/04/xmlenc#"
XENC11 = "http://www.w3.org/2009/xmlenc11#"


def encrypt(assertion: etree._Element, sp_key: rsa.RSAPublicKey, mode: str = "gcm",
            oaep_digest: Any = hashes.SHA1) -> etree._Element:
    """An EncryptedAssertion as IdPs write it (XML Encryption: AES-256-GCM or AES-128-CBC content, the key under
    the service provider's RSA key by RSA-OAEP); written here, as an IdP would, to test decryption."""
    import os

    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    plain = etree.tostring(assertion)
    if mode == "gcm":
        key, iv = os.urandom(32), os.urandom(12)
        blob, algorithm = iv + AESGCM(key).encrypt(iv, plain, None), XENC11 + "aes256-gcm"
    else:
        key, iv = os.urandom(16), os.urandom(16)
        pad = 16 - len(plain) % 16
        padded = plain + os.urandom(pad - 1) + bytes([pad])
        enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
        blob, algorithm = iv + enc.update(padded) + enc.finalize(), XENC + "aes128-cbc"
    wrapped = sp_key.encrypt(key, padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=oaep_digest(), label=None))
    ea = etree.Element(f"{{{SAML}}}EncryptedAssertion", nsmap={"saml": SAML, "xenc": XENC, "ds": DS})
    data = etree.SubElement(ea, f"{{{XENC}}}EncryptedData", Type=XENC + "Element")
    etree.SubElement(data, f"{{{XENC}}}EncryptionMethod", Algorithm=algorithm)
    ek = etree.SubElement(etree.SubElement(data, f"{{{DS}}}KeyInfo"), f"{{{XENC}}}EncryptedKey")
    method = etree.SubElement(ek, f"{{{XENC}}}EncryptionMethod", Algorithm=XENC + "rsa-oaep-mgf1p")
    if oaep_digest is hashes.SHA256:
        etree.SubElement(method, f"{{{DS}}}DigestMethod", Algorithm=XENC + "sha256")
    etree.SubElement(etree.SubElement(ek, f"{{{XENC}}}CipherData"), f"{{{XENC}}}CipherValue").text = base64.b64encode(wrapped).decode()
    etree.SubElement(etree.SubElement(data, f"{{{XENC}}}CipherData"), f"{{{XENC}}}CipherValue").text = base64.b64encode(blob).decode()
    return ea


def encode(element: etree._Element | bytes) -> str:
    data = element if isinstance(element, bytes) else etree.tostring(element)
    return base64.b64encode(data).decode()


@pytest.fixture(scope="module")
def idp() -> IdP:
    return IdP()


def unsigned_sts(server: Server) -> Any:
    return boto3.client("sts", endpoint_url=server.url, region_name="us-east-1",
                        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))


def saml_trust(provider_arn: str, **condition: Any) -> str:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"Federated": provider_arn}, "Action": "sts:AssumeRoleWithSAML",
                                 "Condition": {"StringEquals": {"saml:aud": SIGNIN}}}
    for op, keys in condition.items():
        statement["Condition"].setdefault(op, {}).update(keys)
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def setup(server: Server, idp: IdP, trust: Any = None) -> tuple[str, str, str]:
    """A provider for ``idp`` and a role trusting it: (provider ARN, role ARN, role name)."""
    iam = server.client("iam")
    provider = iam.create_saml_provider(Name=unique("idp"), SAMLMetadataDocument=idp.metadata())["SAMLProviderArn"]
    role = unique("saml-role")
    policy = trust(provider) if callable(trust) else saml_trust(provider)
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=policy, MaxSessionDuration=7200)["Role"]["Arn"]
    return provider, role_arn, role


def refused(call: Any, code: str, message: str | None = None, **params: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as exc:
        call(**params)
    got = error(exc)
    assert got[0] == code, got
    assert got[1] < 500
    if message is not None:
        assert got[2] == message, got
    return got


# -- provider CRUD -------------------------------------------------------------------------------------------------


def test_saml_provider_lifecycle(server: Server, idp: IdP) -> None:
    iam = server.client("iam")
    name = unique("corp")
    doc = idp.metadata()
    assert len(doc) >= 1000  # the model's minimum
    created = iam.create_saml_provider(Name=name, SAMLMetadataDocument=doc, Tags=[{"Key": "team", "Value": "id"}])
    arn = created["SAMLProviderArn"]
    assert arn == f"arn:aws:iam::{server.account}:saml-provider/{name}"
    assert created["Tags"] == [{"Key": "team", "Value": "id"}]
    got = iam.get_saml_provider(SAMLProviderArn=arn)
    assert got["SAMLMetadataDocument"] == doc
    assert got["Tags"] == [{"Key": "team", "Value": "id"}]
    assert len(got["SAMLProviderUUID"]) >= 22 and got["SAMLProviderUUID"].isalnum() and got["SAMLProviderUUID"].isupper()
    assert abs(got["CreateDate"].timestamp() - time.time()) < 120
    assert arn in [p["Arn"] for p in iam.list_saml_providers()["SAMLProviderList"]]
    refused(iam.create_saml_provider, "EntityAlreadyExists", Name=name, SAMLMetadataDocument=doc)

    iam.tag_saml_provider(SAMLProviderArn=arn, Tags=[{"Key": "env", "Value": "prod"}])
    assert iam.list_saml_provider_tags(SAMLProviderArn=arn)["Tags"] == [{"Key": "env", "Value": "prod"},
                                                                        {"Key": "team", "Value": "id"}]
    iam.untag_saml_provider(SAMLProviderArn=arn, TagKeys=["team"])
    assert iam.list_saml_provider_tags(SAMLProviderArn=arn)["Tags"] == [{"Key": "env", "Value": "prod"}]
    refused(iam.tag_saml_provider, "InvalidInput", SAMLProviderArn=arn, Tags=[{"Key": "aws:x", "Value": "1"}])

    # Update replaces the metadata: the new issuer and certificates are the ones read
    other = IdP("https://other-idp.example.com/saml")
    updated = iam.update_saml_provider(SAMLProviderArn=arn, SAMLMetadataDocument=other.metadata())
    assert updated["SAMLProviderArn"] == arn
    assert iam.get_saml_provider(SAMLProviderArn=arn)["SAMLMetadataDocument"] == other.metadata()
    refused(iam.update_saml_provider, "InvalidInput", "Could not parse metadata", SAMLProviderArn=arn,
            SAMLMetadataDocument="<x>" + "a" * 1000 + "</x>")
    assert iam.get_saml_provider(SAMLProviderArn=arn)["SAMLMetadataDocument"] == other.metadata()  # nothing changed

    iam.delete_saml_provider(SAMLProviderArn=arn)
    missing = f"Manifest not found for arn {arn}"
    refused(iam.get_saml_provider, "NoSuchEntity", missing, SAMLProviderArn=arn)
    refused(iam.delete_saml_provider, "NoSuchEntity", missing, SAMLProviderArn=arn)
    refused(iam.tag_saml_provider, "NoSuchEntity", SAMLProviderArn=arn, Tags=[{"Key": "a", "Value": "b"}])
    refused(iam.update_saml_provider, "NoSuchEntity", SAMLProviderArn=arn, SAMLMetadataDocument=doc)
    assert arn not in [p["Arn"] for p in iam.list_saml_providers()["SAMLProviderList"]]
    # another account's provider is not found from this one, even by its exact ARN
    foreign = arn.replace(server.account, "999988887777")
    refused(iam.get_saml_provider, "NoSuchEntity", SAMLProviderArn=foreign)


def test_saml_provider_validation(server: Server, idp: IdP) -> None:
    iam = server.client("iam", validate=False)
    bad = "Could not parse metadata"
    pad = "<!-- " + "p" * 1000 + " -->"

    def create(doc: str, name: str | None = None) -> Any:
        return lambda: iam.create_saml_provider(Name=name or unique("bad"), SAMLMetadataDocument=doc)

    cases = {
        "not XML": "x" * 1200,
        "no entityID": idp.metadata().replace(f'entityID="{idp.entity_id}"', "") + pad,
        "not metadata": f'<x xmlns="urn:other" entityID="a">{pad}</x>',
        "no certificate": idp.metadata().replace(idp.cert_b64(), "") + pad,
        "not a certificate": idp.metadata().replace(idp.cert_b64(), base64.b64encode(b"x" * 900).decode()),
        "external entity": ('<?xml version="1.0"?><!DOCTYPE md [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                            + idp.metadata().split("\n", 1)[1].replace('entityID="', 'entityID="&e;')),
    }
    before = len(iam.list_saml_providers()["SAMLProviderList"])
    for why, doc in cases.items():
        with pytest.raises(ClientError) as exc:
            create(doc)()
        assert error(exc)[:1] == ("InvalidInput",) and error(exc)[2] == bad, (why, error(exc))
    assert len(iam.list_saml_providers()["SAMLProviderList"]) == before  # nothing created
    # the model's limits: name pattern and length, metadata length
    refused(iam.create_saml_provider, "ValidationError", Name="bad name!", SAMLMetadataDocument=idp.metadata())
    refused(iam.create_saml_provider, "ValidationError", Name="n" * 129, SAMLMetadataDocument=idp.metadata())
    refused(iam.create_saml_provider, "ValidationError", Name=unique("short"), SAMLMetadataDocument="<x/>")
    refused(iam.create_saml_provider, "InvalidInput", Name=unique("ic"), SAMLMetadataDocument=idp.metadata(),
            IdentityCenterInstanceArn="arn:aws:sso:::instance/ssoins-1")


def test_saml_provider_private_keys(server: Server, idp: IdP) -> None:
    iam = server.client("iam")
    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    arn = iam.create_saml_provider(Name=unique("enc"), SAMLMetadataDocument=idp.metadata(), AddPrivateKey=pem,
                                   AssertionEncryptionMode="Allowed")["SAMLProviderArn"]
    got = iam.get_saml_provider(SAMLProviderArn=arn)
    assert got["AssertionEncryptionMode"] == "Allowed"
    [first] = got["PrivateKeyList"]
    assert len(first["KeyId"]) >= 22 and pem not in json.dumps(got, default=str)  # the key never comes back
    iam.update_saml_provider(SAMLProviderArn=arn, AddPrivateKey=pem)  # rotation: two keys at once
    refused(iam.update_saml_provider, "LimitExceeded", SAMLProviderArn=arn, AddPrivateKey=pem)  # not three
    iam.update_saml_provider(SAMLProviderArn=arn, RemovePrivateKey=first["KeyId"])
    keys = iam.get_saml_provider(SAMLProviderArn=arn)["PrivateKeyList"]
    assert len(keys) == 1 and keys[0]["KeyId"] != first["KeyId"]
    refused(iam.update_saml_provider, "InvalidInput", SAMLProviderArn=arn, RemovePrivateKey=first["KeyId"])
    refused(iam.update_saml_provider, "InvalidInput", SAMLProviderArn=arn, AddPrivateKey="-----BEGIN PRIVATE KEY-----\nnope\n")
    iam.update_saml_provider(SAMLProviderArn=arn, AssertionEncryptionMode="Required")
    assert iam.get_saml_provider(SAMLProviderArn=arn)["AssertionEncryptionMode"] == "Required"
    # an unencrypted assertion is refused by a provider that requires encryption
    role_arn = iam.create_role(RoleName=unique("enc-role"), AssumeRolePolicyDocument=saml_trust(arn))["Role"]["Arn"]
    refused(unsigned_sts(server).assume_role_with_saml, "InvalidIdentityToken", RoleArn=role_arn, PrincipalArn=arn,
            SAMLAssertion=idp.signed(roles=[f"{role_arn},{arn}"]))
    iam.delete_saml_provider(SAMLProviderArn=arn)
    # the sealed keys are not in the audit trail either
    events, raw = read_trail(server)
    assert pem.splitlines()[1] not in raw


def test_encrypted_assertions(server: Server, idp: IdP) -> None:
    """AssertionEncryptionMode and the provider's private keys: an EncryptedAssertion is decrypted with them
    (either key while two are held, for rotation), then must be signed (itself, or the Response around it)."""
    iam, sts = server.client("iam"), unsigned_sts(server)
    sp_keys = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(3)]
    pems = [k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode() for k in sp_keys]
    provider = iam.create_saml_provider(Name=unique("enc"), SAMLMetadataDocument=idp.metadata(), AddPrivateKey=pems[0],
                                        AssertionEncryptionMode="Required")["SAMLProviderArn"]
    role_arn = iam.create_role(RoleName=unique("enc-role"), AssumeRolePolicyDocument=saml_trust(provider))["Role"]["Arn"]
    pair = [f"{role_arn},{provider}"]

    def assume(saml: etree._Element) -> Any:
        return sts.assume_role_with_saml(RoleArn=role_arn, PrincipalArn=provider, SAMLAssertion=encode(saml))

    def bad(saml: etree._Element, message: str | None = None) -> None:
        refused(assume, "InvalidIdentityToken", message, saml=saml)

    for mode in ("gcm", "cbc"):
        out = assume(idp.response(encrypt(idp.sign(idp.assertion(roles=pair)), sp_keys[0].public_key(), mode)))
        assert out["Subject"] == "alice@example.com"
    assert assume(idp.response(encrypt(idp.sign(idp.assertion(roles=pair)), sp_keys[0].public_key(), oaep_digest=hashes.SHA256)))
    # a signed Response vouches for the encrypted (unsigned) assertion inside it
    assert assume(idp.response(encrypt(idp.assertion(roles=pair), sp_keys[0].public_key()), sign_response=True))
    # anyone can encrypt to the provider's public key: an encrypted assertion nobody signed is refused
    bad(idp.response(encrypt(idp.assertion(roles=pair), sp_keys[0].public_key())), "Response signature invalid")
    bad(idp.response(encrypt(IdP(idp.entity_id).sign(idp.assertion(roles=pair)), sp_keys[0].public_key())),
        "Response signature invalid")
    # encrypted for a key the provider does not hold; a ciphertext tampered with (CBC and GCM alike, one answer)
    undecryptable = "The SAML assertion could not be decrypted with the SAML provider's private keys."
    bad(idp.response(encrypt(idp.sign(idp.assertion(roles=pair)), sp_keys[1].public_key())), undecryptable)
    for mode in ("gcm", "cbc"):
        ea = encrypt(idp.sign(idp.assertion(roles=pair)), sp_keys[0].public_key(), mode)
        value = ea.find(f"{{{XENC}}}EncryptedData/{{{XENC}}}CipherData/{{{XENC}}}CipherValue")
        blob = bytearray(base64.b64decode(value.text))
        blob[-1] ^= 1
        value.text = base64.b64encode(bytes(blob)).decode()
        bad(idp.response(ea))  # CBC may decrypt to garbage that then fails to parse or verify: refused either way
    # two assertions, one encrypted: still one too many
    two = idp.response(encrypt(idp.sign(idp.assertion(roles=pair)), sp_keys[0].public_key()))
    two.append(idp.assertion(roles=pair))
    bad(two, "The SAML response must contain exactly one Assertion.")
    # Required: a plain signed assertion is refused
    bad(idp.response(idp.sign(idp.assertion(roles=pair))))
    # rotation: with the next key added, assertions for either key are accepted; the old one removed, only the new
    iam.update_saml_provider(SAMLProviderArn=provider, AddPrivateKey=pems[1])
    for k in sp_keys[:2]:
        assert assume(idp.response(encrypt(idp.sign(idp.assertion(roles=pair)), k.public_key())))
    old = iam.get_saml_provider(SAMLProviderArn=provider)["PrivateKeyList"][0]["KeyId"]
    iam.update_saml_provider(SAMLProviderArn=provider, RemovePrivateKey=old, AssertionEncryptionMode="Allowed")
    bad(idp.response(encrypt(idp.sign(idp.assertion(roles=pair)), sp_keys[0].public_key())), undecryptable)
    assert assume(idp.response(encrypt(idp.sign(idp.assertion(roles=pair)), sp_keys[1].public_key())))
    assert assume(idp.response(idp.sign(idp.assertion(roles=pair))))  # Allowed: plain ones too
    iam.delete_role(RoleName=role_arn.rsplit("/", 1)[1])
    iam.delete_saml_provider(SAMLProviderArn=provider)


def test_metadata_valid_until(server: Server, idp: IdP) -> None:
    """The metadata's validUntil is the provider's ValidUntil (GetSAMLProvider, ListSAMLProviders); past it the
    provider's keys are not used (saml-metadata-2.0-os 2.2.1), until new metadata is uploaded."""
    iam, sts = server.client("iam"), unsigned_sts(server)
    soon = datetime.now(UTC) + timedelta(seconds=4)
    provider = iam.create_saml_provider(Name=unique("expiring"), SAMLMetadataDocument=idp.metadata(
        valid_until=soon.strftime("%Y-%m-%dT%H:%M:%SZ")))["SAMLProviderArn"]
    assert abs(iam.get_saml_provider(SAMLProviderArn=provider)["ValidUntil"].timestamp() - int(soon.timestamp())) < 1
    listed = {p["Arn"]: p for p in iam.list_saml_providers()["SAMLProviderList"]}[provider]
    assert abs(listed["ValidUntil"].timestamp() - int(soon.timestamp())) < 1
    role_arn = iam.create_role(RoleName=unique("expiring"), AssumeRolePolicyDocument=saml_trust(provider))["Role"]["Arn"]
    pair = [f"{role_arn},{provider}"]
    assert sts.assume_role_with_saml(RoleArn=role_arn, PrincipalArn=provider, SAMLAssertion=idp.signed(roles=pair))
    time.sleep(max(0.0, soon.timestamp() - time.time()) + 1.5)
    refused(sts.assume_role_with_saml, "InvalidIdentityToken", RoleArn=role_arn, PrincipalArn=provider,
            SAMLAssertion=idp.signed(roles=pair))
    iam.update_saml_provider(SAMLProviderArn=provider, SAMLMetadataDocument=idp.metadata())
    assert iam.get_saml_provider(SAMLProviderArn=provider).get("ValidUntil") is None
    assert sts.assume_role_with_saml(RoleArn=role_arn, PrincipalArn=provider, SAMLAssertion=idp.signed(roles=pair))


def test_saml_providers_per_account_quota(server: Server, idp: IdP) -> None:
    iam = server.client("iam")
    have = len(iam.list_saml_providers()["SAMLProviderList"])
    made = []
    try:
        for _ in range(100 - have):
            made.append(iam.create_saml_provider(Name=unique("q"), SAMLMetadataDocument=idp.metadata())["SAMLProviderArn"])
        refused(iam.create_saml_provider, "LimitExceeded", "Cannot exceed quota for SAMLProvidersPerAccount: 100",
                Name=unique("q"), SAMLMetadataDocument=idp.metadata())
    finally:
        for arn in made:
            iam.delete_saml_provider(SAMLProviderArn=arn)


# -- AssumeRoleWithSAML --------------------------------------------------------------------------------------------


def test_assume_role_with_saml(server: Server, idp: IdP) -> None:
    def qualifier(p: str) -> str:
        raw = f"{idp.entity_id}{server.account}/{p.rsplit('/', 1)[1]}"
        return base64.b64encode(hashlib.sha1(raw.encode()).digest()).decode()

    # every saml:* key the trust policy can pin, with the values AWS documents for them
    provider, role_arn, role = setup(server, idp, lambda p: saml_trust(
        p, StringLike={"saml:sub": "*@example.com"},
        StringEquals={"saml:iss": idp.entity_id, "saml:sub_type": "persistent", "saml:namequalifier": qualifier(p),
                      "saml:doc": f"{server.account}/{p.rsplit('/', 1)[1]}", "aws:FederatedProvider": p},
        **{"ForAnyValue:StringEquals": {"saml:edupersonaffiliation": "staff"}}))
    sts = unsigned_sts(server)
    name = provider.rsplit("/", 1)[1]
    affiliation = {EDU_AFFILIATION: ["member", "staff"]}
    # the Role attribute pairs role and provider in either order, among other pairs
    other_pair = f"arn:aws:iam::{server.account}:role/other,{provider}"
    for pair in (f"{role_arn},{provider}", f"{provider},{role_arn}"):
        out = sts.assume_role_with_saml(RoleArn=role_arn, PrincipalArn=provider, DurationSeconds=900,
                                        SAMLAssertion=idp.signed(roles=[other_pair, pair], attributes=affiliation))
        assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{server.account}:assumed-role/{role}/alice"
        assert out["Subject"] == "alice@example.com" and out["SubjectType"] == "persistent"
        assert out["Issuer"] == idp.entity_id and out["Audience"] == SIGNIN
        expected = base64.b64encode(hashlib.sha1(f"{idp.entity_id}{server.account}/{name}".encode()).digest()).decode()
        assert out["NameQualifier"] == expected
        creds = out["Credentials"]
        assert 880 <= (creds["Expiration"] - datetime.now(UTC)).total_seconds() <= 905
        me = server.client("sts", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]).get_caller_identity()
        assert me["Arn"] == out["AssumedRoleUser"]["Arn"]

    def denied(**kw: Any) -> None:
        kw.setdefault("roles", [f"{role_arn},{provider}"])
        kw.setdefault("attributes", affiliation)
        refused(sts.assume_role_with_saml, "AccessDenied", RoleArn=role_arn, PrincipalArn=provider, SAMLAssertion=idp.signed(**kw))

    denied(subject="mallory@evil.example.net")  # saml:sub condition
    denied(fmt="urn:oasis:names:tc:SAML:2.0:nameid-format:transient")  # saml:sub_type condition
    denied(attributes={EDU_AFFILIATION: ["student"]})  # saml:edupersonaffiliation condition
    denied(recipient="https://eu-west-1.signin.aws.amazon.com/saml")  # valid endpoint, but saml:aud is pinned
    denied(roles=[f"arn:aws:iam::{server.account}:role/other,{provider}"])  # the role is not in the assertion
    denied(roles=[f"{role_arn},arn:aws:iam::{server.account}:saml-provider/other"])  # paired with another provider
    denied(roles=[role_arn, provider])  # not a pair

    # the session lasts DurationSeconds (an hour by default) or until SessionNotOnOrAfter, whichever is shorter;
    # the SessionDuration attribute is the console's and changes nothing here
    def lasts(**kw: Any) -> float:
        out = sts.assume_role_with_saml(RoleArn=role_arn, PrincipalArn=provider, SAMLAssertion=idp.signed(
            roles=[f"{role_arn},{provider}"], attributes={**affiliation, ATTR + "SessionDuration": ["900"]}, **kw),
            **({"DurationSeconds": 7200} if kw.get("session_end") is None else {}))
        return (out["Credentials"]["Expiration"] - datetime.now(UTC)).total_seconds()

    assert 7180 <= lasts() <= 7205
    assert 1180 <= lasts(session_end=1200) <= 1205
    refused(sts.assume_role_with_saml, "ValidationError", RoleArn=role_arn, PrincipalArn=provider, DurationSeconds=7201,
            SAMLAssertion=idp.signed(roles=[f"{role_arn},{provider}"], attributes=affiliation))
    for session_name in (None, "a", "x" * 65, "bad name"):
        refused(sts.assume_role_with_saml, "InvalidIdentityToken", RoleArn=role_arn, PrincipalArn=provider,
                SAMLAssertion=idp.signed(roles=[f"{role_arn},{provider}"], attributes=affiliation, session_name=session_name))


def test_saml_session_tags_and_source_identity(server: Server, idp: IdP) -> None:
    def trust(p: str, extra: list[str]) -> str:
        doc = json.loads(saml_trust(p))
        doc["Statement"][0]["Action"] = ["sts:AssumeRoleWithSAML", *extra]
        return json.dumps(doc)

    provider, role_arn, _ = setup(server, idp, lambda p: trust(p, []))
    iam, sts = server.client("iam"), unsigned_sts(server)
    tagged = {ATTR + "PrincipalTag:team": ["blue"], ATTR + "TransitiveTagKeys": ["team"]}
    sourced = {ATTR + "SourceIdentity": ["alice-admin"]}
    pair = [f"{role_arn},{provider}"]
    # tags and a source identity each need their own action in the trust policy
    refused(sts.assume_role_with_saml, "AccessDenied", "Not authorized to perform sts:TagSession",
            RoleArn=role_arn, PrincipalArn=provider, SAMLAssertion=idp.signed(roles=pair, attributes=tagged))
    refused(sts.assume_role_with_saml, "AccessDenied", "Not authorized to perform sts:SetSourceIdentity",
            RoleArn=role_arn, PrincipalArn=provider, SAMLAssertion=idp.signed(roles=pair, attributes=sourced))
    role = role_arn.rsplit("/", 1)[1]
    iam.update_assume_role_policy(RoleName=role, PolicyDocument=trust(provider, ["sts:TagSession", "sts:SetSourceIdentity"]))
    out = sts.assume_role_with_saml(RoleArn=role_arn, PrincipalArn=provider,
                                    SAMLAssertion=idp.signed(roles=pair, attributes={**tagged, **sourced}))
    assert out["SourceIdentity"] == "alice-admin" and out["PackedPolicySize"] >= 1
    creds = out["Credentials"]
    session = server.client("sts", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    # the tags are the session's: a role that trusts the account and requires team=blue can be chained to
    iam.put_role_policy(RoleName=role, PolicyName="chain", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:TagSession",
                                                                              "sts:SetSourceIdentity"], "Resource": "*"}]}))
    target = unique("tagged")
    target_arn = iam.create_role(RoleName=target, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{server.account}:root"},
                                                "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"],
                                                "Condition": {"StringEquals": {"aws:PrincipalTag/team": "blue"}}}]}))["Role"]["Arn"]
    deadline = time.monotonic() + 10
    while True:  # the inline policy reaches the authoriser's cache within its bound
        try:
            chained = session.assume_role(RoleArn=target_arn, RoleSessionName="chained")
            break
        except ClientError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
    assert chained["SourceIdentity"] == "alice-admin"  # kept through chaining
    refused(sts.assume_role_with_saml, "InvalidParameterValue", RoleArn=role_arn, PrincipalArn=provider,
            SAMLAssertion=idp.signed(roles=pair, attributes={ATTR + "TransitiveTagKeys": ["team"]}))
    for key, value in (("bad*key", "v"), ("aws:team", "v"), ("k" * 129, "v"), ("team", "v" * 257)):
        refused(sts.assume_role_with_saml, "InvalidParameterValue", RoleArn=role_arn, PrincipalArn=provider,
                SAMLAssertion=idp.signed(roles=pair, attributes={ATTR + "PrincipalTag:" + key: [value]}))
    refused(sts.assume_role_with_saml, "InvalidParameterValue", RoleArn=role_arn, PrincipalArn=provider,
            SAMLAssertion=idp.signed(roles=pair, attributes={ATTR + "PrincipalTag:Team": ["a"], ATTR + "PrincipalTag:team": ["b"]}))


# -- the attacks ---------------------------------------------------------------------------------------------------


@pytest.fixture
def target(server: Server, idp: IdP) -> tuple[str, str, Any]:
    """A provider, a role that trusts it only for alice@example.com, and the unsigned STS client."""
    provider, role_arn, _ = setup(server, idp, lambda p: saml_trust(p, StringEquals={"saml:sub": "alice@example.com"}))
    return provider, role_arn, unsigned_sts(server)


def test_signature_wrapping_is_refused(server: Server, idp: IdP, target: tuple[str, str, Any]) -> None:
    provider, role_arn, sts = target
    pair = [f"{role_arn},{provider}"]
    good = idp.sign(idp.assertion(roles=pair))
    assert sts.assume_role_with_saml(RoleArn=role_arn, PrincipalArn=provider, SAMLAssertion=encode(idp.response(good)))

    def evil_assertion(like: etree._Element) -> etree._Element:
        evil = idp.assertion(roles=pair, subject="mallory@evil.example.net")
        evil.set("ID", "_evil")
        return evil

    # an unsigned assertion before, or after, the signed one
    for order in ("before", "after"):
        signed_copy = copy.deepcopy(good)
        parts = [evil_assertion(good), signed_copy] if order == "before" else [signed_copy, evil_assertion(good)]
        refused(sts.assume_role_with_saml, "InvalidIdentityToken", RoleArn=role_arn, PrincipalArn=provider,
                SAMLAssertion=encode(idp.response(*parts)))
    # the signed assertion hidden inside the evil one (in its Subject's extensions), the evil one carrying its ID
    evil = evil_assertion(good)
    evil.set("ID", good.get("ID"))
    hidden = copy.deepcopy(good)
    evil.find(f"{{{SAML}}}Subject").append(hidden)
    evil.append(copy.deepcopy(good.find(f"{{{DS}}}Signature")))
    refused(sts.assume_role_with_saml, "InvalidIdentityToken", RoleArn=role_arn, PrincipalArn=provider,
            SAMLAssertion=encode(idp.response(evil)))
    # the evil assertion takes the signed one's place; the signed one is moved into the signature's Object
    evil = evil_assertion(good)
    signature = copy.deepcopy(good.find(f"{{{DS}}}Signature"))
    obj = etree.SubElement(signature, f"{{{DS}}}Object")
    obj.append(copy.deepcopy(good))
    evil.append(signature)
    refused(sts.assume_role_with_saml, "InvalidIdentityToken", RoleArn=role_arn, PrincipalArn=provider,
            SAMLAssertion=encode(idp.response(evil)))
    # a signed Response wrapped: the original Response (signed) moved inside a new one with an evil assertion
    signed_response = idp.response(idp.assertion(roles=pair), sign_response=True)
    outer = idp.response(evil_assertion(good))
    outer.set("ID", signed_response.get("ID"))
    sig = signed_response.find(f"{{{DS}}}Signature")
    outer.insert(1, sig)
    etree.SubElement(sig, f"{{{DS}}}Object").append(signed_response)
    refused(sts.assume_role_with_saml, "InvalidIdentityToken", RoleArn=role_arn, PrincipalArn=provider,
            SAMLAssertion=encode(outer))


def test_comment_inside_name_id(server: Server, idp: IdP, target: tuple[str, str, Any]) -> None:
    """The IdP signs NameID "alice@example.com.evil.net" (an attacker's own account); a comment planted after
    "alice@example.com" leaves the signature valid (exclusive c14n drops comments) and fools a parser that reads
    only the text before the comment. The subject read here is the whole signed value."""
    provider, role_arn, sts = target
    signed = idp.sign(idp.assertion(roles=[f"{role_arn},{provider}"], subject="alice@example.com.evil.net"))
    xml = etree.tostring(idp.response(signed))
    planted = xml.replace(b"alice@example.com.evil.net", b"alice@example.com<!---->.evil.net")
    assert planted != xml
    # the trust policy allows only alice@example.com: the planted comment must not make the subject that
    refused(sts.assume_role_with_saml, "AccessDenied", RoleArn=role_arn, PrincipalArn=provider, SAMLAssertion=encode(planted))
    # and where the trust allows the attacker's own subject, it is that whole value the session is issued for
    server.client("iam").update_assume_role_policy(RoleName=role_arn.rsplit("/", 1)[1], PolicyDocument=saml_trust(provider))
    out = sts.assume_role_with_saml(RoleArn=role_arn, PrincipalArn=provider, SAMLAssertion=encode(planted))
    assert out["Subject"] == "alice@example.com.evil.net"
    # signed with comments (exclusive c14n WithComments): the comment is part of what was signed, and a NameID
    # split by one is refused rather than read as one half or the other
    split = idp.assertion(roles=[f"{role_arn},{provider}"], subject="alice@example.com")
    name_id = split.find(f"{{{SAML}}}Subject/{{{SAML}}}NameID")
    name_id.append(etree.Comment(" x "))
    name_id[0].tail = ".evil.net"
    signer = XMLSigner(signature_algorithm="rsa-sha256", digest_algorithm="sha256",
                       c14n_algorithm="http://www.w3.org/2001/10/xml-exc-c14n#WithComments")
    signed_with_comment = signer.sign(split, key=idp.key_pem, cert=idp.cert_pem, reference_uri=split.get("ID"))
    refused(sts.assume_role_with_saml, "InvalidIdentityToken", "The SAML assertion's NameID must hold text only.",
            RoleArn=role_arn, PrincipalArn=provider, SAMLAssertion=encode(idp.response(signed_with_comment)))


def test_unsigned_and_foreign_signatures(server: Server, idp: IdP, target: tuple[str, str, Any]) -> None:
    provider, role_arn, sts = target
    pair = [f"{role_arn},{provider}"]

    def bad(saml: str, code: str = "InvalidIdentityToken", message: str | None = None) -> None:
        refused(sts.assume_role_with_saml, code, message, RoleArn=role_arn, PrincipalArn=provider, SAMLAssertion=saml)

    # a signed Response with an unsigned Assertion inside is accepted (the Response's signature covers it) ...
    assert sts.assume_role_with_saml(RoleArn=role_arn, PrincipalArn=provider,
                                     SAMLAssertion=encode(idp.response(idp.assertion(roles=pair), sign_response=True)))
    # ... but not once the assertion inside is changed
    signed_response = etree.tostring(idp.response(idp.assertion(roles=pair), sign_response=True))
    bad(encode(signed_response.replace(b"alice@example.com", b"mallory@example.com")), message="Response signature invalid")
    # nothing signed at all
    bad(encode(idp.response(idp.assertion(roles=pair))), message="Response signature invalid")
    # an unsigned assertion beside a signed Response's (the Response then holds two)
    resp = idp.response(idp.assertion(roles=pair), sign_response=True)
    resp.append(idp.assertion(roles=pair, subject="mallory@example.com"))
    bad(encode(resp))
    # signed by a key whose certificate is not in the metadata, with that certificate in KeyInfo
    stranger = IdP(idp.entity_id)
    bad(stranger.signed(roles=pair), message="Response signature invalid")
    # the provider's certificate in KeyInfo, but the stranger's key
    bad(encode(idp.response(idp.sign(idp.assertion(roles=pair), key=stranger.key_pem))), message="Response signature invalid")
    # an attribute changed after signing: the role pair
    xml = etree.tostring(idp.response(idp.sign(idp.assertion(roles=pair, session_name="alice"))))
    bad(encode(xml.replace(b">alice<", b">admin<")), message="Response signature invalid")
    # the right signature, but issued under another entity id than the provider's
    bad(idp.signed(roles=pair, issuer="https://idp.elsewhere.example.com"), message="Issuer not present in specified provider")
    # a Status other than Success
    failed = etree.tostring(idp.response(idp.sign(idp.assertion(roles=pair))))
    bad(encode(failed.replace(b"status:Success", b"status:Responder")), code="IDPRejectedClaim")


def test_assertion_validity_audience_recipient(server: Server, idp: IdP, target: tuple[str, str, Any]) -> None:
    provider, role_arn, sts = target
    pair = [f"{role_arn},{provider}"]
    uuid_ = server.client("iam").get_saml_provider(SAMLProviderArn=provider)["SAMLProviderUUID"]

    def call(**kw: Any) -> Any:
        return sts.assume_role_with_saml(RoleArn=role_arn, PrincipalArn=provider, SAMLAssertion=idp.signed(roles=pair, **kw))

    def bad(code: str = "InvalidIdentityToken", **kw: Any) -> None:
        refused(call, code, **kw)

    bad("ExpiredTokenException", not_on_or_after=-1, not_before=-600)
    bad("InvalidIdentityToken", not_before=900, not_on_or_after=1800)  # not valid yet, beyond any clock skew
    assert call(not_before=30)  # a little early: within the skew
    bad(audience="https://sp.example.com/")  # another service provider's assertion
    bad(recipient="https://sp.example.com/acs")
    bad(recipient="https://signin.aws.amazon.com/saml/acs/SOMEOTHERPROVIDERUUID12345")
    # the provider's own ACS URL is its sign-in endpoint too (saml:aud is pinned to the global one here)
    refused(call, "AccessDenied", recipient=f"{SIGNIN}/acs/{uuid_}", audience=f"{SIGNIN}/acs/{uuid_}")
    server.client("iam").update_assume_role_policy(RoleName=role_arn.rsplit("/", 1)[1], PolicyDocument=saml_trust(
        provider, StringEquals={"saml:aud": f"{SIGNIN}/acs/{uuid_}"}))
    assert call(recipient=f"{SIGNIN}/acs/{uuid_}", audience=SIGNIN)["Audience"] == f"{SIGNIN}/acs/{uuid_}"


def test_an_assertion_serves_until_it_expires_as_on_aws(server: Server, idp: IdP, target: tuple[str, str, Any]) -> None:
    """AWS's STS does not make a SAML assertion one-time-use: an assertion is accepted again, for the same or another
    role it names, until its NotOnOrAfter, and then refused as expired. Neither the AssumeRoleWithSAML reference nor the
    SAML troubleshooting page lists a replay error, and SAML clients rely on it: they cache one assertion to assume
    several roles ("During this window the SAML assertion can be sent to AWS repeatedly to create multiple sessions to
    different AWS accounts and AWS roles", Versent/saml2aws#526; their cache's only failure is "ExpiredTokenException:
    Response has expired", Versent/saml2aws#759; OneLogin's onelogin-aws-assume-role caches it the same way). So does
    iamroles; the exposure is bounded by the IdP's NotOnOrAfter (minutes), and the assertion is a bearer credential
    that only reaches STS over the caller's own TLS connection."""
    provider, role_arn, sts = target
    iam = server.client("iam")
    other = iam.create_role(RoleName=unique("saml2"), AssumeRolePolicyDocument=saml_trust(provider))["Role"]["Arn"]
    assertion = idp.signed(roles=[f"{role_arn},{provider}", f"{other},{provider}"], not_on_or_after=4)
    first = sts.assume_role_with_saml(RoleArn=role_arn, PrincipalArn=provider, SAMLAssertion=assertion)
    again = sts.assume_role_with_saml(RoleArn=role_arn, PrincipalArn=provider, SAMLAssertion=assertion)
    second_role = sts.assume_role_with_saml(RoleArn=other, PrincipalArn=provider, SAMLAssertion=assertion)
    assert first["Credentials"]["AccessKeyId"] != again["Credentials"]["AccessKeyId"]
    assert second_role["AssumedRoleUser"]["Arn"].split("/")[1] == other.rsplit("/", 1)[1]
    time.sleep(5.5)
    refused(sts.assume_role_with_saml, "ExpiredTokenException", RoleArn=role_arn, PrincipalArn=provider, SAMLAssertion=assertion)


def test_role_and_provider_arns(server: Server, idp: IdP, target: tuple[str, str, Any]) -> None:
    provider, role_arn, sts = target

    def bad(code: str, role: str, principal: str, roles: list[str] | None = None, message: str | None = None) -> None:
        refused(sts.assume_role_with_saml, code, message, RoleArn=role, PrincipalArn=principal,
                SAMLAssertion=idp.signed(roles=roles or [f"{role},{principal}"]))

    other_account_role = role_arn.replace(server.account, "999988887777")
    bad("InvalidIdentityToken", other_account_role, provider, message="Specified provider doesn't exist")
    bad("InvalidIdentityToken", other_account_role, provider.replace(server.account, "999988887777"))
    ghost = f"arn:aws:iam::{server.account}:saml-provider/ghost"
    bad("InvalidIdentityToken", role_arn, ghost, message="Specified provider doesn't exist")
    bad("ValidationError", role_arn, role_arn, message="Request ARN is invalid")
    bad("ValidationError", provider, provider, message="Request ARN is invalid")
    bad("AccessDenied", f"arn:aws:iam::{server.account}:role/no-such-role", provider)
    # a provider of this account that the role's trust policy does not name
    second = server.client("iam").create_saml_provider(Name=unique("second"), SAMLMetadataDocument=idp.metadata())["SAMLProviderArn"]
    bad("AccessDenied", role_arn, second)


def test_xml_attacks_and_size(server: Server, idp: IdP, target: tuple[str, str, Any]) -> None:
    provider, role_arn, sts = target
    pair = [f"{role_arn},{provider}"]
    body = etree.tostring(idp.response(idp.sign(idp.assertion(roles=pair)))).decode()
    xxe = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + body.replace(">alice<", ">&x;<")
    lol = "".join(f'<!ENTITY l{i} "{"&l%d;" % (i - 1) * 10 if i else "lol"}">' for i in range(10))
    laughs = f'<?xml version="1.0"?><!DOCTYPE r [{lol}]>' + body.replace(">alice<", ">&l9;<")
    # the same in UTF-16, where the DOCTYPE is not spelled in ASCII bytes: refused once parsed
    utf16 = xxe.replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>').encode("utf-16")
    for payload in (xxe.encode(), laughs.encode(), utf16, b"<not-xml", b"<x/>"):
        started = time.monotonic()
        got = refused(sts.assume_role_with_saml, "InvalidIdentityToken", RoleArn=role_arn, PrincipalArn=provider,
                      SAMLAssertion=encode(payload))
        assert time.monotonic() - started < 2
        assert "root:" not in got[2]
    refused(sts.assume_role_with_saml, "InvalidIdentityToken", RoleArn=role_arn, PrincipalArn=provider, SAMLAssertion="!!!not base64")
    # the model's maximum: 100,000 characters
    huge = encode(body.replace("</saml:Assertion>", f"<!-- {'x' * 80_000} --></saml:Assertion>").encode())
    assert len(huge) > 100_000
    refused(sts.assume_role_with_saml, "ValidationError", RoleArn=role_arn, PrincipalArn=provider, SAMLAssertion=huge)


def test_assertion_never_in_the_audit_trail(server: Server, idp: IdP, target: tuple[str, str, Any]) -> None:
    provider, role_arn, sts = target
    saml = idp.signed(roles=[f"{role_arn},{provider}"])
    out = sts.assume_role_with_saml(RoleArn=role_arn, PrincipalArn=provider, SAMLAssertion=saml)
    refused(sts.assume_role_with_saml, "InvalidIdentityToken", RoleArn=role_arn, PrincipalArn=provider,
            SAMLAssertion=saml[:-8] + "AAAAAAA=")
    events, raw = read_trail(server)
    mine = [e for e in events if e.get("eventName") == "AssumeRoleWithSAML"]
    assert len(mine) >= 2
    assert saml[:40] not in raw and saml[-60:-8] not in raw
    assert out["Credentials"]["SecretAccessKey"] not in raw and out["Credentials"]["SessionToken"] not in raw


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migration_and_schema_agree(backend: str, tmp_path: Any) -> None:
    """The saml_providers table the migrations make is the one store/schema.py describes (columns, types,
    nullability, index): alembic's autogenerate comparison finds nothing to change for it."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from iamroles.store import Store, schema

    from .conftest import fresh_pg_database

    def check(url: str) -> None:
        store = Store(url)
        store.migrate()
        with store.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), schema.metadata)
        mine = [d for d in diff if "saml_providers" in repr(d)]
        assert not mine, mine
        store.engine.dispose()

    if backend == "sqlite":
        check(f"sqlite:///{tmp_path / 'migrated.db'}")
    else:
        with fresh_pg_database() as url:
            check(url)
