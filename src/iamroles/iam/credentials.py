"""Users' SSH public keys and service-specific credentials, and what a user's deletion waits for.

AWS references: https://docs.aws.amazon.com/IAM/latest/APIReference/API_UploadSSHPublicKey.html (ssh-rsa or
PEM, at least 2048 bits), API_GetSSHPublicKey.html (Encoding SSH or PEM; the fingerprint),
https://docs.aws.amazon.com/codecommit/latest/userguide/setting-up-ssh-unixes.html,
API_CreateServiceSpecificCredential.html (the password or API key's secret is returned only here and by
API_ResetServiceSpecificCredential.html), https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_api_keys_for_aws_services.html, https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_ssh-keys.html,
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html (5 SSH public keys per user,
2 service-specific credentials per user per service), https://docs.aws.amazon.com/IAM/latest/UserGuide/id_users_remove.html
(a user's password, keys, certificates and service-specific credentials go before the user).
"""
from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from iamroles.errors import (
    DeleteConflict,
    DuplicateSSHPublicKey,
    InvalidInput,
    InvalidPublicKey,
    LimitExceeded,
    NoSuchEntity,
    NotSupportedService,
    UnrecognizedPublicKeyEncoding,
    ValidationError,
)
from iamroles.store import ServiceCredential, SshPublicKey, User
from iamroles.tokens import new_unique_id

from .common import entity_resource, get_entity, page
from .context import CallContext
from .registry import Input, Output, operation

__all__ = ["user_credential_checks", "named_or_caller", "user_resource", "credential_status"]

SSH_KEYS_PER_USER = 5
CREDENTIALS_PER_SERVICE = 2
MIN_RSA_BITS = 2048
# Services that take a user name and password, and those that take a long-term API key (an alias and a secret,
# https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_api_keys_for_aws_services.html); only an API key
# may expire (CredentialAgeDays: "only valid for services that support long-term API keys").
PASSWORD_SERVICES = frozenset({"codecommit.amazonaws.com", "cassandra.amazonaws.com"})
API_KEY_SERVICES = frozenset({"bedrock.amazonaws.com", "logs.amazonaws.com"})
SERVICES = PASSWORD_SERVICES | API_KEY_SERVICES

_named = entity_resource("user", "UserName")


def user_credential_checks(ctx: CallContext, user: User) -> None:
    """DeleteConflict while the user still has a password, an SSH key, a signing certificate, a
    service-specific credential or an MFA device (access keys, policies and groups are checked by DeleteUser itself)."""
    if ctx.tx.login_profile(ctx.account_id, user.id) is not None:
        raise DeleteConflict("Cannot delete entity, must delete login profile first.")
    for kind, what in (("signing", "signing certificates"), ("ssh", "SSH public keys"),
                       ("service", "service specific credentials")):
        if ctx.tx.user_credentials(kind, ctx.account_id, user.id):
            raise DeleteConflict(f"Cannot delete entity, must delete {what} first.")
    if ctx.tx.mfa_devices(ctx.account_id, user.key):  # else the device stays assigned to a user that is gone
        raise DeleteConflict("Cannot delete entity, must deactivate MFA devices first.")


def credential_status(inp: Input) -> str:
    """Update*'s Status: a credential is made Active or Inactive; Expired is a state, not a choice."""
    if inp["Status"] == "Expired":
        raise InvalidInput("Status must be Active or Inactive.")
    return str(inp["Status"])


# -- SSH public keys -----------------------------------------------------------------------------------
def _ssh_key(body: str) -> rsa.RSAPublicKey:
    """The RSA key of an ssh-rsa line or a PEM public key."""
    text = body.strip()
    try:
        if text.startswith("ssh-rsa "):
            key: Any = serialization.load_ssh_public_key(text.encode())
        elif text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode())
        else:
            raise UnrecognizedPublicKeyEncoding("The public key encoding format is unsupported or unrecognized: "
                                                "give an ssh-rsa key or a PEM-encoded public key.")
    except (ValueError, TypeError):
        raise InvalidPublicKey("The public key is malformed or otherwise invalid.") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise InvalidPublicKey("The public key must be an RSA key.")
    if key.key_size < MIN_RSA_BITS:
        raise InvalidPublicKey(f"The public key must be at least {MIN_RSA_BITS} bits long.")
    return key


def _openssh(key: rsa.RSAPublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)


def _fingerprint(key: rsa.RSAPublicKey) -> str:
    """MD5 of the key's SSH wire form, colon-separated hex (as ``ssh-keygen -E md5 -l`` prints it)."""
    blob = base64.b64decode(_openssh(key).split()[1])
    return ":".join(f"{b:02x}" for b in hashlib.md5(blob, usedforsecurity=False).digest())


def _ssh_of(ctx: CallContext, user: User, key_id: str) -> SshPublicKey:
    found: SshPublicKey | None = ctx.tx.user_credential("ssh", key_id)
    if found is None or found.account_id != ctx.account_id or found.user_id != user.id:
        raise NoSuchEntity(f"The Public Key with id {key_id} cannot be found.")
    return found


@operation("UploadSSHPublicKey", resource=_named, write=True)
def upload_ssh_public_key(ctx: CallContext, inp: Input) -> Output:
    user = get_entity(ctx, "user", inp["UserName"], for_update=True)  # the owner of the quota, locked before counting
    key = _ssh_key(inp["SSHPublicKeyBody"])
    fingerprint = _fingerprint(key)
    existing = ctx.tx.user_credentials("ssh", ctx.account_id, user.id)
    if any(k.fingerprint == fingerprint for k in existing):
        raise DuplicateSSHPublicKey("The SSH public key is already associated with the specified IAM user.")
    if len(existing) >= SSH_KEYS_PER_USER:
        raise LimitExceeded(f"Cannot exceed quota for SSHPublicKeysPerUser: {SSH_KEYS_PER_USER}")
    record = SshPublicKey(new_unique_id("APKA"), ctx.account_id, user.id, inp["SSHPublicKeyBody"].strip(), fingerprint,
                          "Active", ctx.now)
    ctx.tx.insert_user_credential("ssh", record)
    return {"SSHPublicKey": _ssh_out(user, record, key, "SSH")}


def _ssh_out(user: User, record: SshPublicKey, key: rsa.RSAPublicKey, encoding: str) -> dict[str, Any]:
    body = _openssh(key) if encoding == "SSH" else key.public_bytes(serialization.Encoding.PEM,
                                                                    serialization.PublicFormat.SubjectPublicKeyInfo)
    return {"UserName": user.name, "SSHPublicKeyId": record.key_id, "Fingerprint": record.fingerprint,
            "SSHPublicKeyBody": body.decode().strip(), "Status": record.status, "UploadDate": record.uploaded_at}


@operation("GetSSHPublicKey", resource=_named)
def get_ssh_public_key(ctx: CallContext, inp: Input) -> Output:
    user = get_entity(ctx, "user", inp["UserName"])
    record = _ssh_of(ctx, user, inp["SSHPublicKeyId"])
    return {"SSHPublicKey": _ssh_out(user, record, _ssh_key(record.body), inp["Encoding"])}


def named_or_caller(ctx: CallContext, inp: Input) -> str:
    """UserName, else the calling user ("If none is specified, the UserName field is determined implicitly
    based on the Amazon Web Services access key used to sign the request"); the account root's own passwords,
    keys and certificates are not managed here, so a caller that is not a user must name one."""
    if inp.get("UserName"):
        return str(inp["UserName"])
    if ctx.caller.user_key:
        return ctx.caller.user_key
    raise ValidationError("Must specify userName when calling with non-User credentials")


def root_itself(ctx: CallContext, inp: Input) -> bool:
    """A call about the caller's own credentials (no UserName) by the account root, with its own credentials or in a
    privileged root session (AssumeRoot's IAMAuditRootUserCredentials and IAMDeleteRootUserCredentials tasks,
    id_root-user-privileged-task.html): the root user has access keys here and no password, signing certificate or
    MFA device, so such a call finds none, as AWS answers for a root user that has none."""
    return not inp.get("UserName") and ctx.caller.is_root


def user_resource(ctx: CallContext, inp: Input) -> str:
    """The ARN of the user :func:`named_or_caller` names (ListServiceSpecificCredentials' AllUsers: every user; the
    root's own: the root's ARN)."""
    if inp.get("AllUsers"):
        return ctx.arn("user/*")
    if root_itself(ctx, inp):
        return ctx.arn("root")
    return _named(ctx, {**inp, "UserName": named_or_caller(ctx, inp)})


@operation("ListSSHPublicKeys", resource=user_resource)
def list_ssh_public_keys(ctx: CallContext, inp: Input) -> Output:
    user = get_entity(ctx, "user", named_or_caller(ctx, inp))
    keys = ctx.tx.user_credentials("ssh", ctx.account_id, user.id)
    chunk, meta = page("ListSSHPublicKeys", keys, inp, key=lambda k: k.uploaded_at.isoformat() + k.key_id)  # at most 5 a user
    items = [{"UserName": user.name, "SSHPublicKeyId": k.key_id, "Status": k.status, "UploadDate": k.uploaded_at} for k in chunk]
    return {"SSHPublicKeys": items, **meta}


@operation("UpdateSSHPublicKey", resource=_named, write=True)
def update_ssh_public_key(ctx: CallContext, inp: Input) -> Output:
    user = get_entity(ctx, "user", inp["UserName"])
    record = _ssh_of(ctx, user, inp["SSHPublicKeyId"])
    ctx.tx.update_user_credential("ssh", record.key_id, status=credential_status(inp))
    return None


@operation("DeleteSSHPublicKey", resource=_named, write=True)
def delete_ssh_public_key(ctx: CallContext, inp: Input) -> Output:
    user = get_entity(ctx, "user", inp["UserName"])
    ctx.tx.delete_user_credential("ssh", _ssh_of(ctx, user, inp["SSHPublicKeyId"]).key_id)
    return None


# -- service-specific credentials ------------------------------------------------------------------------
def _service(name: str) -> str:
    if name not in SERVICES:
        raise NotSupportedService(f"The specified service {name} is not supported for service-specific credentials "
                                  f"(supported: {', '.join(sorted(SERVICES))}).")
    return name


def _new_password() -> str:
    return base64.b64encode(secrets.token_bytes(30)).decode()  # 40 characters, 240 random bits


def _seal(ctx: CallContext, credential_id: str, password: str) -> bytes:
    return ctx.master_key.seal(password.encode(), credential_id.encode())


def _credential_of(ctx: CallContext, user: User, credential_id: str) -> ServiceCredential:
    found: ServiceCredential | None = ctx.tx.user_credential("service", credential_id)
    if found is None or found.account_id != ctx.account_id or found.user_id != user.id:
        raise NoSuchEntity(f"No such credential {credential_id} exists for user {user.name}.")
    return found


def _credential_out(ctx: CallContext, user: User, cred: ServiceCredential, secret: str | None = None) -> dict[str, Any]:
    """``secret`` (the password or API key's secret) only on create and reset."""
    expired = cred.expires_at is not None and ctx.now >= cred.expires_at
    api_key = cred.service_name in API_KEY_SERVICES
    out: dict[str, Any] = {"UserName": user.name, "ServiceSpecificCredentialId": cred.credential_id,
                           "ServiceName": cred.service_name, "Status": "Expired" if expired else cred.status,
                           "CreateDate": cred.created_at}
    out["ServiceCredentialAlias" if api_key else "ServiceUserName"] = cred.service_user_name
    if cred.expires_at is not None:
        out["ExpirationDate"] = cred.expires_at
    if secret is not None:
        out["ServiceCredentialSecret" if api_key else "ServicePassword"] = secret
    return out


@operation("CreateServiceSpecificCredential", resource=_named, write=True)
def create_service_specific_credential(ctx: CallContext, inp: Input) -> Output:
    user = get_entity(ctx, "user", inp["UserName"], for_update=True)  # the owner of the quota, locked before counting
    service = _service(inp["ServiceName"])
    existing = [c for c in ctx.tx.user_credentials("service", ctx.account_id, user.id) if c.service_name == service]
    if len(existing) >= CREDENTIALS_PER_SERVICE:
        raise LimitExceeded(f"Cannot exceed quota for ServiceSpecificCredentialsPerUserPerService: {CREDENTIALS_PER_SERVICE}")
    days = inp.get("CredentialAgeDays")
    if days is not None and service not in API_KEY_SERVICES:
        raise InvalidInput(f"CredentialAgeDays is only valid for services that support long-term API keys "
                           f"({', '.join(sorted(API_KEY_SERVICES))}).")
    credential_id, password = new_unique_id("ACCA"), _new_password()
    # the alias of an API key: the user's name and a suffix of version and creation time (the model's description)
    name = (f"{user.name}-at-{ctx.account_id}+v1-{ctx.now:%Y%m%d%H%M%S}" if service in API_KEY_SERVICES
            else f"{user.name}-at-{ctx.account_id}")
    cred = ServiceCredential(credential_id, ctx.account_id, user.id, service, name, _seal(ctx, credential_id, password),
                             "Active", ctx.now, ctx.now + timedelta(days=days) if days else None)
    ctx.tx.insert_user_credential("service", cred)
    return {"ServiceSpecificCredential": _credential_out(ctx, user, cred, password)}


@operation("ListServiceSpecificCredentials", resource=user_resource)
def list_service_specific_credentials(ctx: CallContext, inp: Input) -> Output:
    service = _service(inp["ServiceName"]) if inp.get("ServiceName") else None
    if inp.get("AllUsers"):
        users = {u.id: u for u in ctx.tx.entities("user", ctx.account_id)}
        creds = ctx.tx.user_credentials("service", ctx.account_id)
    else:
        user = get_entity(ctx, "user", named_or_caller(ctx, inp))
        users = {user.id: user}
        creds = ctx.tx.user_credentials("service", ctx.account_id, user.id)
    creds = [c for c in creds if c.user_id in users and (service is None or c.service_name == service)]
    chunk, meta = page("ListServiceSpecificCredentials", creds, inp, key=lambda c: c.created_at.isoformat() + c.credential_id)
    items = [_credential_out(ctx, users[c.user_id], c) for c in chunk]
    return {"ServiceSpecificCredentials": items, **meta}


def _target(ctx: CallContext, inp: Input) -> tuple[User, ServiceCredential]:
    user = get_entity(ctx, "user", named_or_caller(ctx, inp))
    return user, _credential_of(ctx, user, inp["ServiceSpecificCredentialId"])


@operation("UpdateServiceSpecificCredential", resource=user_resource, write=True)
def update_service_specific_credential(ctx: CallContext, inp: Input) -> Output:
    _user, cred = _target(ctx, inp)
    ctx.tx.update_user_credential("service", cred.credential_id, status=credential_status(inp))
    return None


@operation("ResetServiceSpecificCredential", resource=user_resource, write=True)
def reset_service_specific_credential(ctx: CallContext, inp: Input) -> Output:
    user, cred = _target(ctx, inp)
    password = _new_password()
    ctx.tx.update_user_credential("service", cred.credential_id, password_sealed=_seal(ctx, cred.credential_id, password))
    return {"ServiceSpecificCredential": _credential_out(ctx, user, cred, password)}


@operation("DeleteServiceSpecificCredential", resource=user_resource, write=True)
def delete_service_specific_credential(ctx: CallContext, inp: Input) -> Output:
    _user, cred = _target(ctx, inp)
    ctx.tx.delete_user_credential("service", cred.credential_id)
    return None
