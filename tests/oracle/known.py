"""Recorded causes of disagreement with iam-simulate, each with a predicate.

``known_differences.json`` says, per cause, what each side does, the AWS
documentation page that decides it and the pairs of decisions (iamroles',
iam-simulate's) the cause can produce. The predicate here must hold for the
case: it looks for the one feature of the case that the two evaluators read
differently (a statement, a condition clause, the kind of caller), in a
statement whose Action can apply, so that a disagreement with another cause
is not explained away.
"""
from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .cases import PRINCIPALS, principal_keys

DATA = json.loads((Path(__file__).resolve().parent / "known_differences.json").read_text())

Predicate = Callable[[dict[str, Any]], bool]
PREDICATES: dict[str, Predicate] = {}

_VAR = re.compile(r"\$\{([^}]*)\}")
MULTIVALUED = frozenset({"aws:tagkeys", "aws:calledvia"})


def predicate(name: str) -> Callable[[Predicate], Predicate]:
    def register(fn: Predicate) -> Predicate:
        PREDICATES[name] = fn
        return fn

    return register


def explain(case: dict[str, Any], ours: str, theirs: str) -> str | None:
    """The id of the recorded cause that explains this disagreement, or None."""
    for cause in DATA["causes"]:
        if [ours, theirs] in cause["decisions"] and PREDICATES[cause["id"]](case):
            return str(cause["id"])
    return None


# --------------------------------------------------------------------------- reading a case


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(case: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(policy type, statement) for every statement of the case whose Action can apply."""
    p = case["policies"]
    docs: list[tuple[str, dict[str, Any]]] = [("identity", d) for d in p.get("identity", ())]
    docs += [("session", d) for d in p.get("session", ())]
    docs += [("scp", d) for level in p.get("scp", ()) for d in level]
    docs += [("rcp", d) for level in p.get("rcp", ()) for d in level]
    if "boundary" in p:
        docs.append(("boundary", p["boundary"]))
    if "resource" in p:
        docs.append(("resource", p["resource"]))
    action = case["action"].lower()
    for kind, doc in docs:
        for st in doc["Statement"]:
            if "Action" in st:
                hit = any(fnmatch.fnmatchcase(action, a.lower()) for a in _list(st["Action"]))
            else:
                hit = not any(fnmatch.fnmatchcase(action, a.lower()) for a in _list(st["NotAction"]))
            if hit:
                yield kind, st


def clauses(st: dict[str, Any]) -> Iterator[tuple[str, str, list[str]]]:
    for op, block in (st.get("Condition") or {}).items():
        for key, values in block.items():
            yield op, key, [str(v) for v in _list(values)]


def context(case: dict[str, Any]) -> dict[str, Any]:
    """Every request context key of the case, lower-cased."""
    ctx = {k.lower(): v for k, v in principal_keys(case).items()}
    ctx.update({k.lower(): v for k, v in case["context"].items()})
    ctx["aws:currenttime"] = case["time"]
    ctx["aws:epochtime"] = "<epoch>"
    ctx["aws:resourceaccount"] = case["resource_account"]
    return ctx


def unresolved(text: str, ctx: dict[str, Any]) -> bool:
    """Does ``text`` hold a policy variable with no default whose key has no single value?"""
    for body in _VAR.findall(text):
        if body.strip() in ("*", "?", "$") or "," in body:
            continue
        if not isinstance(ctx.get(body.strip().lower()), str):
            return True
    return False


# --------------------------------------------------------------------------- causes


@predicate("federated-user-without-session-policy")
def _federated(case: dict[str, Any]) -> bool:
    return PRINCIPALS[case["principal"]]["kind"] == "federated" and not case["policies"].get("session")


@predicate("root-user-identity-policies")
def _root(case: dict[str, Any]) -> bool:
    return PRINCIPALS[case["principal"]]["kind"] == "root"


@predicate("date-epoch-against-iso")
def _dates(case: dict[str, Any]) -> bool:
    for _, st in statements(case):
        for op, key, values in clauses(st):
            if "Date" not in op:
                continue
            epoch_key = key.lower() == "aws:epochtime"
            if any(v.isdigit() != epoch_key for v in values):
                return True
    return False


@predicate("notresource-variable-without-value")
def _notresource(case: dict[str, Any]) -> bool:
    ctx = context(case)
    return any("NotResource" in st and any(unresolved(r, ctx) for r in _list(st["NotResource"])) for _, st in statements(case))


@predicate("negated-operator-variable-without-value")
def _negated_variable(case: dict[str, Any]) -> bool:
    ctx = context(case)
    for _, st in statements(case):
        for op, key, values in clauses(st):
            base = op.split(":")[-1]
            if "Not" in base and key.lower() in ctx and any(unresolved(v, ctx) for v in values):
                return True
    return False


@predicate("multivalued-key-without-set-operator")
def _multivalued(case: dict[str, Any]) -> bool:
    ctx = context(case)
    for _, st in statements(case):
        for op, key, _values in clauses(st):
            if ":" not in op and op != "Null" and key.lower() in MULTIVALUED and isinstance(ctx.get(key.lower()), list):
                return True
    return False


@predicate("ip-cidr-prefix-zero")
def _cidr_zero(case: dict[str, Any]) -> bool:
    ip = case["context"].get("aws:SourceIp", "")
    if ":" in ip or not ip:
        return False
    return any(
        "IpAddress" in op and "0.0.0.0/0" in values for _, st in statements(case) for op, _key, values in clauses(st)
    )


def _names(element: Any) -> set[str]:
    if element == "*":
        return {"*"}
    return {str(v) for v in _list(element.get("AWS", []))}


@predicate("notprincipal-deny-names-part-of-the-caller")
def _notprincipal(case: dict[str, Any]) -> bool:
    me = PRINCIPALS[case["principal"]]
    account = me.get("account")
    caller = {me.get("arn"), me.get("role_arn"), account, f"arn:aws:iam::{account}:root"} - {None}
    for kind, st in statements(case):
        if kind == "resource" and st["Effect"] == "Deny" and "NotPrincipal" in st:
            named = _names(st["NotPrincipal"])
            if named & caller:  # iam-simulate spares the caller when any one of these is named
                return True
    return False


def _session_policy_passed_by(case: dict[str, Any], named_by: Callable[[set[str], dict[str, Any]], bool]) -> bool:
    """A session with a session policy, in the resource's account, granted by a resource policy Allow whose Principal
    ``named_by`` accepts."""
    me = PRINCIPALS[case["principal"]]
    if me["kind"] not in ("session", "federated") or not case["policies"].get("session"):
        return False
    if case["resource_account"] != me["account"]:
        return False
    return any(kind == "resource" and st["Effect"] == "Allow" and "Principal" in st and named_by(_names(st["Principal"]), me)
               for kind, st in statements(case))


@predicate("resource-grant-to-the-session-past-its-session-policy")
def _session_grant(case: dict[str, Any]) -> bool:
    return _session_policy_passed_by(case, lambda named, me: me["arn"] in named)


@predicate("resource-grant-to-everyone-past-a-session-policy")
def _everyone_grant(case: dict[str, Any]) -> bool:
    return _session_policy_passed_by(case, lambda named, me: "*" in named)


@predicate("notresource-on-wildcard-only-action")
def _wildcard_only(case: dict[str, Any]) -> bool:
    return case["resource"] == "*" and any("NotResource" in st and "*" not in _list(st["NotResource"]) for _, st in statements(case))


@predicate("short-arn-in-rcp")
def _short_rcp(case: dict[str, Any]) -> bool:
    return any(
        kind == "rcp" and any(r.startswith("arn:") and r.count(":") < 5 for r in _list(st.get("Resource", [])))
        for kind, st in statements(case)
    )


@predicate("not-ip-address-other-family")
def _not_ip_family(case: dict[str, Any]) -> bool:
    ip = case["context"].get("aws:SourceIp")
    if not ip:
        return False
    v6 = ":" in ip
    for _, st in statements(case):
        for op, key, values in clauses(st):
            if "NotIpAddress" in op and key.lower() == "aws:sourceip":
                if any("/" not in v and (":" in v) != v6 for v in values):
                    return True
    return False
