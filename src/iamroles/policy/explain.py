"""What a decision rests on, beyond its effect: the context keys policies read, the keys a request left out,
and how each policy type alone answers.

* :func:`context_keys`: every context key a document reads, in its
  conditions and through policy variables (``${aws:username}``), each once
  (key names are case-insensitive: "Context key names are not
  case-sensitive", reference_policies_elements_condition), spelt as first
  written, in document order: what IAM's GetContextKeysForCustomPolicy
  answers.
* :func:`missing_context_keys`: the keys read by the statements that could
  take part in deciding a request (their action and resource match it) and
  absent from the request: the simulator's MissingContextValues.
* :func:`type_effects`: each policy type's own answer to a request, with the
  same compiled statements :func:`evaluate` decides with (an applicable Deny
  of that type; else an applicable Allow; else no Allow): the simulator's
  EvalDecisionDetails, PermissionsBoundaryDecisionDetail and
  OrganizationsDecisionDetail.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from .compile import Grant, Policy
from .document import PolicyDocument, PolicyType, Statement
from .evaluate import _BOUNDED, Effect, PolicySet, _first
from .request import Request, context_time_value
from .variables import Var, split_template
from .wildcard import compile_patterns

__all__ = ["context_keys", "statement_keys", "missing_context_keys", "type_effects"]

_VAR = re.compile(r"\$\{([^}]*)\}")
_DEFAULT = re.compile(r"\s*([^,\s]+)\s*,\s*'(?:[^']|'')*'\s*\Z")
_SPECIAL = frozenset({"*", "?", "$"})


def _variables(text: str) -> Iterable[str]:
    if "${" not in text:
        return
    for m in _VAR.finditer(text):
        body = m.group(1)
        if body.strip() in _SPECIAL:
            continue
        d = _DEFAULT.match(body)
        name = d.group(1) if d else body.strip()
        if name:
            yield name


def statement_keys(statement: Statement, variables: bool) -> list[str]:
    """The context keys one statement reads, as written, in order: variables in its Resource, then each condition's
    key and the variables in its values (``variables``: the document is Version 2012-10-17)."""
    out: list[str] = []
    if variables:
        for resource in statement.resources or ():
            out.extend(_variables(resource))
    for clause in statement.conditions:
        out.append(clause.key)
        if variables:
            for value in clause.values:
                out.extend(_variables(value))
    return out


def _unique(keys: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for key in keys:
        seen.setdefault(key.lower(), key)
    return tuple(seen.values())


def context_keys(documents: Iterable[PolicyDocument]) -> tuple[str, ...]:
    """Every context key the documents read, each once (case-insensitively, first spelling), in document order."""
    return _unique(
        key for doc in documents for st in doc.statements for key in statement_keys(st, doc.has_variables)
    )


def _absent(ctx: Mapping[str, object], key: str) -> bool:
    low = key.lower()
    return low not in ctx and context_time_value(ctx, low) is None  # type: ignore[arg-type]


def _could_match(statement: Statement, resource: str, ctx: Mapping[str, object]) -> bool:
    """Whether a Resource holding variables whose keys are missing would match ``resource`` for some values of them
    (each missing variable read as ``*``); a NotResource with a missing variable always could."""
    for text in statement.resources or ():
        if not any(_absent(ctx, key) for key in _variables(text)):
            continue
        if statement.not_resource:
            return True
        template = split_template(text)
        if template is None:
            continue
        pieces: list[tuple[str, bool]] = []
        for part in template:
            if isinstance(part, Var):
                value = ctx.get(part.key)
                pieces.append((value, True) if isinstance(value, str) else ("*", False))
            else:
                pieces.append(part)
        if compile_patterns((tuple(pieces),), False, "resource").match(resource) is not None:
            return True
    return False


def missing_context_keys(request: Request, policies: Iterable[Policy]) -> tuple[str, ...]:
    """The keys read by the statements of ``policies`` that could take part in deciding ``request`` and that the
    request's context does not hold, each once, in policy order. A statement could take part when its action
    matches and its resource does, or would with the values of its Resource's missing variables, or the request's
    resource is ``*`` (every resource: the simulator's "when the resource in a simulation is '*'")."""
    ctx = request.ctx
    missing: list[str] = []
    for policy in policies:
        variables = policy.document.has_variables
        for st in policy.candidates(request.action):
            keys = statement_keys(st.statement, variables)
            if request.resource != "*" and not st.match_resource(request.resource, ctx) and not (
                    variables and _could_match(st.statement, request.resource, ctx)):
                continue
            missing.extend(key for key in keys if _absent(ctx, key))
    return _unique(missing)


def _allow_effect(found: object) -> Effect:
    return Effect.ALLOW if found is not None else Effect.IMPLICIT_DENY


def type_effects(request: Request, policies: PolicySet) -> dict[PolicyType, Effect]:
    """Each policy type present in ``policies`` and how it alone answers ``request``: ExplicitDeny when one of its
    Deny statements applies (as :func:`evaluate` reads them, NotPrincipal and boundaries included), else Allow when
    one of its Allow statements applies (a resource policy's must also name the caller, its role or its account;
    every organization level must allow), else ImplicitDeny."""
    plan = policies.plan(request.action)
    resource, ctx, principal = request.resource, request.ctx, request.principal
    pins = policies.resource_pins
    out: dict[PolicyType, Effect] = {}
    for t, st in plan.denies:
        if t in out:
            continue
        if st.applies(resource, ctx) and (
            st.principals is None
            or st.grant(principal, pins if t is PolicyType.RESOURCE else None) != Grant.NONE
            or (st.not_principal and policies.boundary is not None and principal.type in _BOUNDED)
        ):
            out[t] = Effect.EXPLICIT_DENY
    if policies.rcp and PolicyType.RCP not in out:
        out[PolicyType.RCP] = _allow_effect(
            True if all(_first(level, resource, ctx) is not None for level in plan.rcp) else None)
    if policies.scp and PolicyType.SCP not in out:
        out[PolicyType.SCP] = _allow_effect(
            True if all(_first(level, resource, ctx) is not None for level in plan.scp) else None)
    if policies.resource is not None and PolicyType.RESOURCE not in out:
        granted = any(st.applies(resource, ctx) and st.grant(principal, pins) > Grant.NONE for st in plan.resource)
        out[PolicyType.RESOURCE] = Effect.ALLOW if granted else Effect.IMPLICIT_DENY
    if policies.identity and PolicyType.IDENTITY not in out:
        out[PolicyType.IDENTITY] = _allow_effect(_first(plan.identity, resource, ctx))
    if policies.boundary is not None and PolicyType.BOUNDARY not in out:
        out[PolicyType.BOUNDARY] = _allow_effect(_first(plan.boundary, resource, ctx))
    if policies.session and PolicyType.SESSION not in out:
        out[PolicyType.SESSION] = _allow_effect(_first(plan.session, resource, ctx))
    return out
