"""A deliberately naive IAM policy evaluator, the oracle for test_compiled_vs_naive.

It is written straight from the AWS IAM User Guide and shares nothing with
``iamroles.policy``: it reads raw JSON dicts, re-reads every operator name and
rebuilds every regular expression on every call.  Clarity over speed; nothing
is cached, nothing is compiled.

Scope: one account; identity-based policies, an optional permissions boundary
and optional session policies (no resource policies, SCPs or RCPs).

Pages (https://docs.aws.amazon.com/IAM/latest/UserGuide/...):

* reference_policies_evaluation-logic.html (and _policy-eval-denyallow,
  _policy-eval-basics): explicit deny wins; otherwise an identity-based allow is
  needed, intersected with the boundary and with the session policies.
* reference_policies_elements_action.html / _notaction: actions match case
  insensitively, with * and ? wildcards.
* reference_policies_elements_resource.html / _notresource: ARNs match case
  sensitively, wildcards within ARN segments.
* reference_policies_elements_condition_operators.html: the operators.
* reference_policies_condition-logic-multiple-context-keys-or-values.html:
  AND across operators and keys, OR across values, NOR for negated operators.
* reference_policies_condition-single-vs-multi-valued-context-keys.html:
  ForAllValues / ForAnyValue.
* reference_policies_variables.html: ${...} policy variables (2012-10-17 only).
"""
from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

ALLOW = "Allow"
EXPLICIT_DENY = "ExplicitDeny"
IMPLICIT_DENY = "ImplicitDeny"

# Context values are kept as str (single-valued key) or list[str] (multivalued).
Context = dict[str, Any]


# --------------------------------------------------------------------------- context


def _as_text(value: Any) -> str:
    """JSON scalar -> the string IAM compares (true/false are lower-case words)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def build_context(
    principal: dict[str, Any], context: dict[str, Any], time: datetime | None
) -> Context:
    """The request context AWS builds for an IAM user principal.

    Keys are stored lower-cased: "Condition key names are not case-sensitive"
    (reference_policies_elements_condition.html).  Values keep their case.
    """
    out: Context = {}

    def put(key: str, value: Any) -> None:
        if isinstance(value, (list, tuple)):
            out[key.lower()] = [_as_text(v) for v in value]
        else:
            out[key.lower()] = _as_text(value)

    arn = principal["arn"]
    parts = arn.split(":", 5)
    account = parts[4]
    resource = parts[5]
    put("aws:PrincipalArn", arn)
    put("aws:PrincipalAccount", account)
    if parts[2] == "iam" and resource.startswith("user/"):
        # aws:username: "the friendly name of the IAM user" = last path element
        put("aws:username", resource.rsplit("/", 1)[1])
        put("aws:PrincipalType", "User")
        if "user_id" in principal:
            put("aws:userid", principal["user_id"])
    for tag_key, tag_value in principal.get("tags", {}).items():
        put("aws:PrincipalTag/" + tag_key, tag_value)
    if time is not None:
        utc = time.astimezone(UTC)
        put("aws:CurrentTime", utc.strftime("%Y-%m-%dT%H:%M:%SZ"))
        put("aws:EpochTime", str(int(utc.timestamp())))
    for key, value in context.items():
        put(key, value)
    return out


def _lookup(ctx: Context, key: str) -> Any:
    """The context value of key, or None when absent.

    An empty multivalued key counts as absent: the multivalued page says a Null
    check guards against "missing context keys or context keys with empty values".
    """
    value = ctx.get(key.lower())
    if isinstance(value, list) and not value:
        return None
    return value


# --------------------------------------------------------------------------- variables

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_WITH_DEFAULT = re.compile(r"^\s*([^,]*?)\s*,\s*'(.*)'\s*$", re.DOTALL)


class Unresolved(Exception):
    """A ${...} variable whose key is not in the request context (and no default)."""


def substitute(text: str, ctx: Context, version: str | None) -> list[tuple[str, str]]:
    """Split text into ("lit", s) pieces (substituted values, always literal) and
    ("pat", s) pieces (policy text, where * and ? keep their wildcard meaning).

    reference_policies_variables.html: variables are only recognised when Version
    is 2012-10-17; ${*}, ${?} and ${$} stand for the literal characters;
    ${key, 'default'} supplies a default when the key is absent.  A variable whose
    key has no value makes the value "effectively null" ("There is no equal or like
    value"): we raise Unresolved and the caller treats the value as matching nothing.
    """
    if version != "2012-10-17":
        return [("pat", text)]
    pieces: list[tuple[str, str]] = []
    pos = 0
    for m in _VARIABLE.finditer(text):
        pieces.append(("pat", text[pos : m.start()]))
        pos = m.end()
        inner = m.group(1)
        if inner in ("*", "?", "$"):
            pieces.append(("lit", inner))
            continue
        default = None
        dm = _WITH_DEFAULT.match(inner)
        if dm:
            key, default = dm.group(1), dm.group(2).replace("''", "'")
        else:
            key = inner.strip()
        value = _lookup(ctx, key)
        if isinstance(value, list):  # multivalued keys cannot be variables
            value = None
        if value is None:
            if default is None:
                raise Unresolved(key)
            value = default
        pieces.append(("lit", value))
    pieces.append(("pat", text[pos:]))
    return pieces


def _plain(pieces: list[tuple[str, str]]) -> str:
    return "".join(s for _, s in pieces)


# --------------------------------------------------------------------------- wildcards


def _glob_regex(pieces: list[tuple[str, str]], star: str = ".*", qmark: str = ".") -> str:
    out = []
    for kind, s in pieces:
        if kind == "lit":
            out.append(re.escape(s))
            continue
        for ch in s:
            if ch == "*":
                out.append(star)
            elif ch == "?":
                out.append(qmark)
            else:
                out.append(re.escape(ch))
    return "".join(out)


def action_matches(pattern: str, action: str) -> bool:
    """reference_policies_elements_action.html: "The prefix and the action name are
    case insensitive"; * matches any run of characters, ? any single character."""
    regex = _glob_regex([("pat", pattern)])
    return re.fullmatch(regex, action, re.IGNORECASE | re.DOTALL) is not None


def _split_pieces_on_colons(pieces: list[tuple[str, str]], maxsplit: int) -> list[list[tuple[str, str]]]:
    """Split piece-list text into ARN segments on ':' (only up to maxsplit)."""
    segments: list[list[tuple[str, str]]] = [[]]
    for kind, s in pieces:
        chunk = ""
        for ch in s:
            if ch == ":" and len(segments) <= maxsplit:
                segments[-1].append((kind, chunk))
                segments.append([])
                chunk = ""
            else:
                chunk += ch
        segments[-1].append((kind, chunk))
    return segments


def resource_matches(pieces: list[tuple[str, str]], resource: str) -> bool:
    """reference_policies_elements_resource.html: wildcards (* and ?) within the
    segments of an ARN (the parts separated by colons); "If the * wildcard is the
    last character of a resource ARN segment, it can expand to match beyond the
    colon boundaries."  Case sensitive.  The sixth segment (the resource part) may
    itself contain colons, so * there matches anything."""
    segments = _split_pieces_on_colons(pieces, 5)
    regexes = []
    for index, seg in enumerate(segments):
        if index == 5:
            regexes.append(_glob_regex(seg))
            continue
        text = _plain(seg)
        last_is_star = bool(seg) and seg[-1][0] == "pat" and text.endswith("*")
        if last_is_star:
            body = seg[:-1] + [(seg[-1][0], seg[-1][1][:-1])]
            regexes.append(_glob_regex(body, star="[^:]*", qmark="[^:]") + ".*")
        else:
            regexes.append(_glob_regex(seg, star="[^:]*", qmark="[^:]"))
    return re.fullmatch(":".join(regexes), resource, re.DOTALL) is not None


def arn_like(pieces: list[tuple[str, str]], value: str) -> bool:
    """ArnEquals/ArnLike: "Case-sensitive matching of the ARN. Each of the six
    colon-delimited components of the ARN is checked separately and each can
    include multi-character match wildcards (*) or single-character match
    wildcards (?)." (reference_policies_elements_condition_operators.html)"""
    pattern_segments = _split_pieces_on_colons(pieces, 5)
    value_segments = value.split(":", 5)
    if len(pattern_segments) != 6 or len(value_segments) != 6:
        return False
    for pat, val in zip(pattern_segments, value_segments):
        if re.fullmatch(_glob_regex(pat), val, re.DOTALL) is None:
            return False
    return True


# --------------------------------------------------------------------------- operators

_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "NumericNotEquals": "NumericEquals",
    "DateNotEquals": "DateEquals",
    "NotIpAddress": "IpAddress",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}

# Operators whose policy values may contain policy variables (the "Policy
# variables – Supported" lines of the condition operators page).
_VARIABLES_SUPPORTED = ("String", "Arn", "Bool")


def _number(text: str) -> Decimal | None:
    try:
        d = Decimal(text.strip())
    except InvalidOperation:
        return None
    return d if d.is_finite() else None


def _date(text: str) -> datetime | None:
    """W3C ISO 8601 date formats or epoch (UNIX) time (Date condition operators)."""
    text = text.strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", text) and not re.fullmatch(r"\d{4}", text):
        return datetime.fromtimestamp(float(text), tz=UTC)
    try:
        d = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=UTC)
    return d


def _ip_in(value: str, cidr: str) -> bool:
    try:
        address = ipaddress.ip_address(value.strip())
        network = ipaddress.ip_network(cidr.strip(), strict=False)
    except ValueError:
        return False
    return address.version == network.version and address in network


def _compare(base: str, context_value: str, policy_value: Any, ctx: Context, version: str | None) -> bool:
    """One positive (non-negated) operator applied to one context value and one policy value."""
    raw = _as_text(policy_value)
    if base.startswith(_VARIABLES_SUPPORTED):
        try:
            pieces = substitute(raw, ctx, version)
        except Unresolved:
            return False  # "the value is effectively null. There is no equal or like value."
    else:
        pieces = [("pat", raw)]
    text = _plain(pieces)

    if base == "StringEquals":
        return context_value == text
    if base == "StringEqualsIgnoreCase":
        return context_value.lower() == text.lower()
    if base == "StringLike":
        return re.fullmatch(_glob_regex(pieces), context_value, re.DOTALL) is not None
    if base.startswith("Numeric"):
        a, b = _number(context_value), _number(text)
        if a is None or b is None:
            return False
        return {
            "NumericEquals": a == b,
            "NumericLessThan": a < b,
            "NumericLessThanEquals": a <= b,
            "NumericGreaterThan": a > b,
            "NumericGreaterThanEquals": a >= b,
        }[base]
    if base.startswith("Date"):
        a, b = _date(context_value), _date(text)
        if a is None or b is None:
            return False
        return {
            "DateEquals": a == b,
            "DateLessThan": a < b,
            "DateLessThanEquals": a <= b,
            "DateGreaterThan": a > b,
            "DateGreaterThanEquals": a >= b,
        }[base]
    if base == "Bool":
        return context_value.lower() == text.lower()
    if base == "IpAddress":
        return _ip_in(context_value, text)
    if base in ("ArnEquals", "ArnLike"):
        return arn_like(pieces, context_value)
    raise ValueError(f"naive evaluator does not know operator {base}")


def condition_holds(operator: str, key: str, policy_values: Any, ctx: Context, version: str | None) -> bool:
    """One (operator, key, values) entry of a Condition block."""
    values = policy_values if isinstance(policy_values, list) else [policy_values]

    qualifier = None
    name = operator
    for q in ("ForAllValues:", "ForAnyValue:"):
        if name.startswith(q):
            qualifier, name = q[:-1], name[len(q) :]
    if_exists = name.endswith("IfExists")
    if if_exists:
        name = name[: -len("IfExists")]

    present = _lookup(ctx, key)

    if name == "Null":
        # "true (the key doesn't exist — it is null) or false (the key exists and its
        # value is not null)"; several values are ORed.
        return any((present is None) == (_as_text(v).lower() == "true") for v in values)

    negated = name in _NEGATED
    base = _NEGATED.get(name, name)

    if present is None:
        # "...IfExists: If the key is not present, evaluate the condition element as true."
        if if_exists:
            return True
        # multivalued page: ForAllValues "also returns true if there are no context
        # keys in the request"; ForAnyValue "returns false" then.
        if qualifier == "ForAllValues":
            return True
        if qualifier == "ForAnyValue":
            return False
        # "If the key ... is not present in the request context, the values do not
        # match and the condition is false. If the policy condition requires that
        # the key is not matched, such as StringNotLike or ArnNotLike, ... the
        # condition is true."
        return negated

    context_values = present if isinstance(present, list) else [present]

    def one(context_value: str) -> bool:
        # OR across the policy values; NOR for a negated operator.
        hit = any(_compare(base, context_value, v, ctx, version) for v in values)
        return not hit if negated else hit

    if qualifier == "ForAllValues":
        return all(one(v) for v in context_values)
    return any(one(v) for v in context_values)


# --------------------------------------------------------------------------- statements


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statement_applies(stmt: dict[str, Any], action: str, resource: str, ctx: Context, version: str | None) -> bool:
    if "Action" in stmt:
        ok = any(action_matches(p, action) for p in _as_list(stmt["Action"]))
    else:  # NotAction: "matches everything except the specified list of actions"
        ok = not any(action_matches(p, action) for p in _as_list(stmt["NotAction"]))
    if not ok:
        return False

    def one_resource(pattern: str) -> bool:
        try:
            pieces = substitute(pattern, ctx, version)
        except Unresolved:
            return False
        return resource_matches(pieces, resource)

    if "Resource" in stmt:
        ok = any(one_resource(p) for p in _as_list(stmt["Resource"]))
    else:  # NotResource: "matches every resource except those specified"
        ok = not any(one_resource(p) for p in _as_list(stmt["NotResource"]))
    if not ok:
        return False

    for operator, block in stmt.get("Condition", {}).items():
        for key, values in block.items():
            if not condition_holds(operator, key, values, ctx, version):
                return False
    return True


def matching_effects(policy: dict[str, Any], action: str, resource: str, ctx: Context) -> set[str]:
    version = policy.get("Version")
    effects = set()
    for stmt in _as_list(policy["Statement"]):
        if statement_applies(stmt, action, resource, ctx, version):
            effects.add(stmt["Effect"])
    return effects


# --------------------------------------------------------------------------- decision


def evaluate(
    *,
    principal: dict[str, Any],
    action: str,
    resource: str,
    context: dict[str, Any],
    time: datetime | None,
    identity: list[dict[str, Any]],
    boundary: dict[str, Any] | None = None,
    session: list[dict[str, Any]] | None = None,
) -> str:
    """Allow / ExplicitDeny / ImplicitDeny for a same-account request.

    reference_policies_evaluation-logic_policy-eval-denyallow.html: "An explicit
    deny overrides an explicit allow."  reference_policies_evaluation-logic.html:
    with a boundary "the resulting permissions are the intersection of the two
    categories"; with session policies, "the intersection of the identity-based
    policies and the session policies" (several session policies are a union).
    """
    ctx = build_context(principal, context, time)
    session = session or []

    everything = list(identity) + ([boundary] if boundary is not None else []) + list(session)
    for policy in everything:
        if "Deny" in matching_effects(policy, action, resource, ctx):
            return EXPLICIT_DENY

    def allows(policies: list[dict[str, Any]]) -> bool:
        return any("Allow" in matching_effects(p, action, resource, ctx) for p in policies)

    if not allows(list(identity)):
        return IMPLICIT_DENY
    if boundary is not None and not allows([boundary]):
        return IMPLICIT_DENY
    if session and not allows(session):
        return IMPLICIT_DENY
    return ALLOW
