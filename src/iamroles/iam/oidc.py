"""OpenID Connect identity providers (for AssumeRoleWithWebIdentity).

AWS references: https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateOpenIDConnectProvider.html
and siblings; https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_create_oidc.html.
"""
from __future__ import annotations

import re
from typing import Any

from iamroles.errors import InvalidInput, LimitExceeded, NoSuchEntity
from iamroles.store import OidcProvider

from .common import account_quota, already_exists, lock_account, tag_keys, tags_in, tags_out
from .context import CallContext
from .registry import Input, Output, operation
from .shared import register_tagging

__all__ = ["provider_host", "provider_arn"]

MAX_CLIENT_IDS = 100
MAX_THUMBPRINTS = 5


def provider_host(url: str) -> str:
    """The provider's identity: its URL without the scheme (and without a trailing slash)."""
    if not url.startswith("https://"):
        raise InvalidInput("Invalid Url: the provider URL must begin with https://")
    host = url[len("https://") :].rstrip("/")
    if not host or "?" in host or "#" in host:
        raise InvalidInput(f"Invalid Url: {url}")
    return host


def provider_arn(ctx: CallContext, host: str) -> str:
    return ctx.arn(f"oidc-provider/{host}")


def _arn_of(ctx: CallContext, inp: Input) -> str:
    if "OpenIDConnectProviderArn" in inp:
        return str(inp["OpenIDConnectProviderArn"])
    return provider_arn(ctx, inp.get("Url", "").replace("https://", "").rstrip("/"))


def _get(ctx: CallContext, arn: str, for_update: bool = False) -> OidcProvider:
    """The provider; ``for_update``: locked (the owner of its client IDs and tags) until the transaction ends."""
    found = ctx.tx.oidc_provider(arn, for_update=for_update)
    if found is None or found.account_id != ctx.account_id:
        raise NoSuchEntity(f"OpenIDConnect Provider not found for arn {arn}")
    return found


@operation("CreateOpenIDConnectProvider", resource=_arn_of, keys=lambda ctx, inp: tag_keys(inp), write=True)
def create_open_id_connect_provider(ctx: CallContext, inp: Input) -> Output:
    for name in ("ContextProvider", "IdentityCenterInstanceArn"):  # as CreateSAMLProvider: refused, not ignored
        if inp.get(name):
            raise InvalidInput(f"{name} is not supported: iamroles has no IAM Identity Center.")
    host = provider_host(inp["Url"])
    arn = provider_arn(ctx, host)
    lock_account(ctx)
    if ctx.tx.oidc_provider(arn) is not None:
        raise already_exists("oidc", host)
    client_ids = list(dict.fromkeys(inp.get("ClientIDList") or []))
    thumbprints = list(inp.get("ThumbprintList") or [])
    if len(thumbprints) > MAX_THUMBPRINTS:
        raise LimitExceeded(f"Thumbprint list must contain fewer than {MAX_THUMBPRINTS + 1} entries.")
    tags = tags_in(inp, "TagsPerOpenIDConnectProvider")
    account_quota(ctx, "OpenIdConnectProvidersPerAccount")
    ctx.tx.insert_oidc_provider(OidcProvider(arn, ctx.account_id, host, tuple(client_ids), tuple(thumbprints), None, ctx.now))
    if tags:
        ctx.tx.set_tags(ctx.account_id, "oidc", arn, tags)
    return {"OpenIDConnectProviderArn": arn, "Tags": tags_out(tags) or None}


@operation("GetOpenIDConnectProvider", resource=_arn_of)
def get_open_id_connect_provider(ctx: CallContext, inp: Input) -> Output:
    p = _get(ctx, inp["OpenIDConnectProviderArn"])
    tags = ctx.tx.tags(ctx.account_id, "oidc", p.arn)
    return {"Url": p.url, "ClientIDList": list(p.client_ids), "ThumbprintList": list(p.thumbprints),
            "CreateDate": p.created_at, "Tags": tags_out(tags) or None}


@operation("ListOpenIDConnectProviders", resource=lambda ctx, inp: ctx.arn("oidc-provider/"))
def list_open_id_connect_providers(ctx: CallContext, inp: Input) -> Output:
    return {"OpenIDConnectProviderList": [{"Arn": p.arn} for p in ctx.tx.oidc_providers(ctx.account_id)]}


@operation("UpdateOpenIDConnectProviderThumbprint", resource=_arn_of, write=True)
def update_thumbprint(ctx: CallContext, inp: Input) -> Output:
    p = _get(ctx, inp["OpenIDConnectProviderArn"], for_update=True)
    if len(inp["ThumbprintList"]) > MAX_THUMBPRINTS:
        raise LimitExceeded(f"Thumbprint list must contain fewer than {MAX_THUMBPRINTS + 1} entries.")
    ctx.tx.update_oidc_provider(p.arn, thumbprints=list(inp["ThumbprintList"]))
    return None


@operation("AddClientIDToOpenIDConnectProvider", resource=_arn_of, write=True)
def add_client_id(ctx: CallContext, inp: Input) -> Output:
    p = _get(ctx, inp["OpenIDConnectProviderArn"], for_update=True)  # read, changed and written back: no lost update
    if inp["ClientID"] not in p.client_ids:
        if len(p.client_ids) >= MAX_CLIENT_IDS:
            raise LimitExceeded(f"Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: {MAX_CLIENT_IDS}")
        ctx.tx.update_oidc_provider(p.arn, client_ids=[*p.client_ids, inp["ClientID"]])
    return None


@operation("RemoveClientIDFromOpenIDConnectProvider", resource=_arn_of, write=True)
def remove_client_id(ctx: CallContext, inp: Input) -> Output:
    p = _get(ctx, inp["OpenIDConnectProviderArn"], for_update=True)
    ctx.tx.update_oidc_provider(p.arn, client_ids=[i for i in p.client_ids if i != inp["ClientID"]])
    return None


@operation("DeleteOpenIDConnectProvider", resource=_arn_of, write=True)
def delete_open_id_connect_provider(ctx: CallContext, inp: Input) -> Output:
    p = _get(ctx, inp["OpenIDConnectProviderArn"], for_update=True)
    ctx.tx.delete_oidc_provider(p.arn)
    ctx.tx.remove_tags(ctx.account_id, "oidc", p.arn, [t.key for t in ctx.tx.tags(ctx.account_id, "oidc", p.arn)])
    return None


register_tagging(
    "OpenIDConnectProvider", "oidc", _arn_of,
    target=lambda ctx, inp, lock: _get(ctx, inp["OpenIDConnectProviderArn"], for_update=lock).arn,
    resource_keys=lambda ctx, inp: {},
)


_CONTEXT_KEY = re.compile(r"^[A-Za-z0-9_.:/=+\-@#]+( [A-Za-z0-9_.:/=+\-@#]+)*$")


def _context_provider(cp: Input) -> None:
    """The key rules of the model's ContextProvider: ASCII letters, digits, single spaces and ``_ . : / = + - @ #``,
    no space at either end; SubjectTypeValue and SubjectTypeSourceKey exclusive."""
    keys = [cp.get("SubjectSourceKey"), cp.get("SubjectTypeSourceKey")]
    for d in cp.get("KeyDefinitionList") or []:
        keys += [d.get("SourceKey"), d.get("TargetKey")]
    for key in keys:
        if key is not None and not _CONTEXT_KEY.match(key):
            raise InvalidInput(f"Invalid context provider key {key[:128]!r}: only ASCII letters, numbers, single spaces "
                               "and _ . : / = + - @ # are allowed, and no space at either end.")
    if cp.get("SubjectTypeValue") is not None and cp.get("SubjectTypeSourceKey") is not None:
        raise InvalidInput("Specify either SubjectTypeValue or SubjectTypeSourceKey, not both.")


def _update_keys(ctx: CallContext, inp: Input) -> dict[str, Any]:
    keys: dict[str, Any] = {}
    if inp.get("IdentityCenterInstanceArn"):
        keys["iam:RequestIdentityCenterInstanceArn"] = inp["IdentityCenterInstanceArn"]
    if inp.get("ContextProvider") is not None:
        keys["iam:EnableIdentityPropagation"] = "true"
    if inp.get("IdentityCenterInstanceArn"):
        keys["iam:EnableIdentityCenterAssociation"] = "true"
    return keys


@operation("UpdateOpenIDConnectProvider", resource=_arn_of, keys=_update_keys, write=True)
def update_open_id_connect_provider(ctx: CallContext, inp: Input) -> Output:
    """https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateOpenIDConnectProvider.html: a new value and its
    Remove flag together, or the context provider and the Identity Center association in one request, are
    InvalidInput; so is removing the context provider while an instance is associated. iamroles has no IAM Identity
    Center and no trusted identity propagation (CreateOpenIDConnectProvider refuses both too): setting either is
    InvalidInput after the checks, and a provider never has either, so removing them changes nothing."""
    context, remove_context = inp.get("ContextProvider"), bool(inp.get("RemoveContextProvider"))
    instance, remove_instance = inp.get("IdentityCenterInstanceArn"), bool(inp.get("RemoveIdentityCenterInstance"))
    if context is not None and remove_context:
        raise InvalidInput("Specify either ContextProvider or RemoveContextProvider, not both.")
    if instance is not None and remove_instance:
        raise InvalidInput("Specify either IdentityCenterInstanceArn or RemoveIdentityCenterInstance, not both.")
    if (context is not None or remove_context) and (instance is not None or remove_instance):
        raise InvalidInput("A request can change either the context provider or the IAM Identity Center association, not both.")
    if context is not None:
        _context_provider(context)
    _get(ctx, inp["OpenIDConnectProviderArn"], for_update=True)
    if context is not None:
        raise InvalidInput("ContextProvider is not supported: iamroles has no trusted identity propagation.")
    if instance is not None:
        raise InvalidInput("IdentityCenterInstanceArn is not supported: iamroles has no IAM Identity Center.")
    return None
