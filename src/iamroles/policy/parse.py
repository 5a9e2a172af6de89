"""Policy text -> :class:`PolicyDocument`, with AWS's rules per kind.

``check`` collects every problem it finds (with where it is); ``parse``
raises :class:`PolicyError` when there is any. Messages use the wording AWS
gives in MalformedPolicyDocument errors.
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from .conditions import parse_operator
from .document import (
    VERSION_2008,
    VERSION_2012,
    ConditionClause,
    PolicyDocument,
    PolicyKind,
    PrincipalElement,
    Statement,
)
from .problems import PolicyError, Problem

__all__ = ["parse", "check", "Source"]

Source = str | bytes | Mapping[str, Any]

SYNTAX = "Syntax errors in policy."
INVALID_JSON = "This policy contains invalid Json"
LEGACY = "The policy failed legacy parsing"
OLD_VERSION = "Policy document must be version 2012-10-17 or greater."
NO_ACTIONS = "Policy statement must contain actions."
NO_RESOURCES = "Policy statement must contain resources."
NO_VENDOR = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
ONE_COLON = "Actions/Condition can contain only one colon."
NO_PRINCIPAL_ALLOWED = "Policy document should not specify a principal."
MISSING_PRINCIPAL = "Missing required field Principal"
SID_UNIQUE = "Statement IDs (SID) in a single policy must be unique."
SID_ALNUM = (
    "Statement IDs (SID) must be alpha-numeric. "
    "Check that your input satisfies the regular expression [0-9A-Za-z]*"
)
TRUST_ACTIONS = "AssumeRole policy may only specify STS AssumeRole actions."
ORG_TYPE = "The provided policy document does not meet the requirements of the specified policy type."
IAM_PREFIXES = (
    "user/", "federated-user/", "role/", "group/", "instance-profile/", "mfa/", "server-certificate/",
    "policy/", "sms-mfa/", "saml-provider/", "oidc-provider/", "report/", "access-report/",
)

# AWS reports the first failing stage, not the first position (the order seen
# in IAM's answers to CreatePolicy): the checker records every problem with
# its stage and ``check`` sorts by stage, keeping position order within one.
_ST_SYNTAX, _ST_VERSION, _ST_LEGACY, _ST_SID, _ST_ACTIONS, _ST_RESOURCES, _ST_RESOURCE, _ST_ACTION, _ST_KIND = range(9)

_TOP = frozenset({"Version", "Id", "Statement"})
_STATEMENT = frozenset(
    {"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"}
)
_PRINCIPAL_TYPES = {"AWS": "aws", "Service": "service", "Federated": "federated", "CanonicalUser": "canonical_user"}
_VENDOR = re.compile(r"[a-zA-Z0-9\-.]+\Z")
_ACCOUNT = re.compile(r"\d{12}\Z")
PARTITIONS = frozenset({"aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc"})
_AWS_PRINCIPAL = re.compile(
    r"arn:(?P<partition>[a-z\-]+):(?:"
    r"iam::\d{12}:(?:root|user/[\w+=,.@\-/]+|role/[\w+=,.@\-/]+|federated-user/[\w+=,.@\-]+)"
    r"|sts::\d{12}:(?:assumed-role/[\w+=,.@\-]+/[\w+=,.@\-]+|federated-user/[\w+=,.@\-]+)"
    r")\Z"
)
_SID = re.compile(r"[0-9A-Za-z]*\Z")
# IAM's own documents allow only alphanumeric Sids; resource policies of other services allow more.
_ALNUM_SID_KINDS = frozenset({PolicyKind.IDENTITY, PolicyKind.BOUNDARY, PolicyKind.TRUST, PolicyKind.SESSION})
_NO_PRINCIPAL_KINDS = frozenset({PolicyKind.IDENTITY, PolicyKind.BOUNDARY, PolicyKind.SESSION})
# What a trust policy may ask for (id_roles_create_for-user / the STS actions a role trust grants).
_TRUST_ACTIONS = (
    "sts:assumerole", "sts:assumerolewithsaml", "sts:assumerolewithwebidentity",
    "sts:tagsession", "sts:setsourceidentity", "sts:setcontext",
)
# Date condition values: ISO 8601 (parts may be left off, as IAM accepts) or epoch seconds in 64 bits.
_DATE = re.compile(
    r"(\d{1,4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?"
    r"(?:[Tt](?:(\d{1,2})(?::(\d{1,2})(?::(\d{1,2})(?:\.\d{1,9})?)?)?)?(?:[Zz]|[+-]\d{2}:\d{2})?)?\Z"
)
_EPOCH = re.compile(r"-?\d+\Z")
_DATE_OPERATORS = frozenset(
    {"DateEquals", "DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan", "DateGreaterThanEquals"}
)


def _valid_date(value: str) -> bool:
    if _EPOCH.match(value):
        return -(2**63) <= int(value) < 2**63
    m = _DATE.match(value)
    if m is None:
        return False
    month, day, hour, minute, second = (int(g) if g else None for g in m.groups()[1:])
    return (
        (month is None or 1 <= month <= 12)
        and (day is None or 1 <= day <= 31)
        and (hour is None or hour <= 24)
        and (minute is None or minute <= 59)
        and (second is None or second <= 60)
    )


def parse(source: Source, kind: PolicyKind = PolicyKind.IDENTITY, managed: bool = False) -> PolicyDocument:
    document, problems = check(source, kind, managed)
    if problems or document is None:
        raise PolicyError(problems or [Problem(SYNTAX)])
    return document


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON constant {name}")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key}")
        out[key] = value
    return out


def _load(source: Source, kind: PolicyKind) -> tuple[Any, Problem | None]:
    # IAM answers bad JSON in a trust policy with its own message (the roles API);
    # every other document gets the generic syntax error.
    bad = Problem(INVALID_JSON if kind is PolicyKind.TRUST else SYNTAX)
    if isinstance(source, Mapping):
        return source, None
    if isinstance(source, bytes):
        try:
            source = source.decode("utf-8")
        except UnicodeDecodeError:
            return None, bad
    if not isinstance(source, str):
        return None, bad
    try:
        return json.loads(source, parse_constant=_reject_constant, object_pairs_hook=_no_duplicates), None
    except (ValueError, RecursionError):
        return None, bad


class _Checker:
    def __init__(self, kind: PolicyKind, managed: bool) -> None:
        self.kind = kind
        self.managed = managed or kind is PolicyKind.BOUNDARY
        self.found: list[tuple[int, Problem]] = []

    @property
    def problems(self) -> list[Problem]:
        return [p for _, p in sorted(self.found, key=lambda sp: sp[0])]

    def add(self, stage: int, message: str, path: str) -> None:
        self.found.append((stage, Problem(message, path)))

    def org(self) -> bool:
        return self.kind in (PolicyKind.SCP, PolicyKind.RCP)

    # -- values -------------------------------------------------------------
    def strings(self, value: Any, path: str, allow_scalars: bool = False, allow_empty: bool = False) -> tuple[str, ...] | None:
        """A string or a list of strings, as a tuple (None after a syntax error)."""
        if isinstance(value, str):
            return (value,)
        if allow_scalars and isinstance(value, (bool, int, float)):
            return (_scalar(value),)
        if isinstance(value, list) and (value or allow_empty):
            out: list[str] = []
            for i, item in enumerate(value):
                if isinstance(item, str):
                    out.append(item)
                elif allow_scalars and isinstance(item, (bool, int, float)):
                    out.append(_scalar(item))
                else:
                    self.add(_ST_SYNTAX, SYNTAX, f"{path}[{i}]")
                    return None
            return tuple(out)
        self.add(_ST_SYNTAX, SYNTAX, path)
        return None

    # -- document -----------------------------------------------------------
    def document(self, data: Any) -> PolicyDocument | None:
        if not isinstance(data, dict):
            self.add(_ST_SYNTAX, SYNTAX, "")
            return None
        for key in data:
            if key not in _TOP:
                self.add(_ST_SYNTAX, SYNTAX, key)
        version = data.get("Version")
        if "Version" in data and version not in (VERSION_2012, VERSION_2008):
            self.add(_ST_SYNTAX, SYNTAX, "Version")
            version = None
        elif self.managed and version != VERSION_2012:
            # managed policies (and so boundaries) must use the current grammar
            self.add(_ST_VERSION, OLD_VERSION, "Version")
        if "Id" in data and not isinstance(data["Id"], str):
            self.add(_ST_SYNTAX, SYNTAX, "Id")
        raw = data.get("Statement")
        if isinstance(raw, dict):
            raw = [raw]
        if not isinstance(raw, list) or not raw:
            self.add(_ST_SYNTAX, SYNTAX, "Statement")
            return None
        statements: list[Statement] = []
        sids: set[str] = set()
        for i, item in enumerate(raw):
            if isinstance(item, dict) and isinstance(item.get("Sid"), str) and item["Sid"]:
                if item["Sid"] in sids:
                    self.add(_ST_SID, SID_UNIQUE, f"Statement[{i}].Sid")
                sids.add(item["Sid"])
            st = self.statement(item, f"Statement[{i}]")
            if st is not None:
                statements.append(st)
        if self.found:
            return None
        return PolicyDocument(version=version, statements=tuple(statements), id=data.get("Id"))

    def statement(self, data: Any, path: str) -> Statement | None:
        if not isinstance(data, dict):
            self.add(_ST_SYNTAX, SYNTAX, path)
            return None
        before = len(self.found)
        for key in data:
            if key not in _STATEMENT:
                self.add(_ST_SYNTAX, SYNTAX, f"{path}.{key}")
        for a, b in (("Action", "NotAction"), ("Resource", "NotResource"), ("Principal", "NotPrincipal")):
            if a in data and b in data:
                self.add(_ST_SYNTAX, SYNTAX, f"{path}.{b}")

        sid = data.get("Sid")
        if "Sid" in data:
            if not isinstance(sid, str):
                self.add(_ST_SYNTAX, SYNTAX, f"{path}.Sid")
                sid = None
            elif self.kind in _ALNUM_SID_KINDS and not _SID.match(sid):
                self.add(_ST_SID, SID_ALNUM, f"{path}.Sid")

        effect = data.get("Effect")
        if not isinstance(effect, str) or effect.lower() not in ("allow", "deny"):
            self.add(_ST_SYNTAX, SYNTAX, f"{path}.Effect")
        elif effect not in ("Allow", "Deny"):
            self.add(_ST_LEGACY, LEGACY, f"{path}.Effect")  # the grammar is case-insensitive, the legacy parser is not

        # Action / NotAction
        not_action = "NotAction" in data
        actions: tuple[str, ...] = ()
        if "Action" in data or not_action:
            name = "NotAction" if not_action else "Action"
            got = self.strings(data[name], f"{path}.{name}", allow_empty=True)
            if got is not None:
                actions = got
                if not actions:
                    self.add(_ST_ACTIONS, NO_ACTIONS, path)
                for j, action in enumerate(actions):
                    self.action(action, f"{path}.{name}[{j}]")
                if not_action and self.kind is PolicyKind.RCP:
                    self.add(_ST_KIND, ORG_TYPE, f"{path}.NotAction")
                if self.kind is PolicyKind.TRUST and not all(_trust_action(a) for a in actions):
                    self.add(_ST_KIND, TRUST_ACTIONS, f"{path}.{name}")
        else:
            self.add(_ST_ACTIONS, NO_ACTIONS, path)

        # Principal / NotPrincipal
        not_principal = "NotPrincipal" in data
        principal: PrincipalElement | None = None
        if "Principal" in data or not_principal:
            name = "NotPrincipal" if not_principal else "Principal"
            if self.kind is PolicyKind.SCP or (self.kind is PolicyKind.RCP and not_principal):
                self.add(_ST_KIND, ORG_TYPE, f"{path}.{name}")
            elif self.kind in _NO_PRINCIPAL_KINDS:
                # reported before missing actions/resources (a trust policy sent as permissions)
                self.add(_ST_SID, NO_PRINCIPAL_ALLOWED, f"{path}.{name}")
            elif self.kind is PolicyKind.TRUST and not_principal:
                self.add(_ST_KIND, "Has prohibited field NotPrincipal", f"{path}.NotPrincipal")
            elif self.kind is PolicyKind.TRUST and data[name] == "*":
                self.add(_ST_KIND, 'AssumeRolepolicy contained an invalid principal: "STAR":"*".', f"{path}.Principal")
            else:
                principal = self.principal(data[name], f"{path}.{name}")
        elif self.kind in (PolicyKind.RESOURCE, PolicyKind.TRUST, PolicyKind.RCP):
            self.add(_ST_KIND, MISSING_PRINCIPAL, path)

        # Resource / NotResource
        not_resource = "NotResource" in data
        resources: tuple[str, ...] | None = None
        if "Resource" in data or not_resource:
            name = "NotResource" if not_resource else "Resource"
            if self.kind is PolicyKind.TRUST:
                self.add(_ST_KIND, f"Has prohibited field {name}", f"{path}.{name}")
            else:
                resources = self.strings(data[name], f"{path}.{name}", allow_empty=True)
                if resources is not None and not resources:
                    self.add(_ST_RESOURCES, NO_RESOURCES, path)
                for j, res in enumerate(resources or ()):
                    self.resource(res, f"{path}.{name}[{j}]")
        elif self.kind is not PolicyKind.TRUST:
            self.add(_ST_RESOURCES, NO_RESOURCES, path)

        conditions: tuple[ConditionClause, ...] = ()
        if "Condition" in data:
            conditions = self.condition(data["Condition"], f"{path}.Condition")

        if len(self.found) > before:
            return None
        assert isinstance(effect, str)
        return Statement(
            effect=effect,
            sid=sid,
            actions=actions,
            not_action=not_action,
            resources=resources,
            not_resource=not_resource,
            principal=principal,
            not_principal=not_principal,
            conditions=conditions,
        )

    def action(self, action: str, path: str) -> None:
        if action == "*":
            return
        parts = action.split(":")
        if len(parts) == 1:
            self.add(_ST_ACTION, NO_VENDOR, path)
        elif len(parts) > 2:
            self.add(_ST_ACTION, ONE_COLON, path)
        elif not _VENDOR.match(parts[0]):
            self.add(_ST_ACTION, f"Vendor {parts[0]} is not valid", path)
        elif not parts[1]:
            self.add(_ST_SYNTAX, SYNTAX, path)

    def resource(self, resource: str, path: str) -> None:
        if resource == "*":
            return
        if ":" not in resource:
            self.add(_ST_RESOURCE, f'Resource {resource} must be in ARN format or "*".', path)
            return
        # IAM reads the text before the first colon as "arn" whatever it is
        fields = resource.split(":", 5)[1:]
        partition = fields[0]
        if partition not in PARTITIONS and not _pattern(partition):
            filled = fields + ["*"] * (5 - len(fields))
            self.add(_ST_RESOURCE, f'Partition "{partition}" is not valid for resource "arn:{":".join(filled)}".', path)
            return
        if len(fields) == 1:
            self.add(_ST_RESOURCE, "Resource vendor must be fully qualified and cannot contain regexes.", path)
            return
        # the legacy parser wants a service, and all six fields once "::" appears
        if not fields[1] or (resource.count(":") < 5 and "::" in resource):
            self.add(_ST_LEGACY, LEGACY, path)
            return
        if len(fields) < 5:
            if "*" in fields[1] or "?" in fields[1]:
                self.add(_ST_RESOURCE, "Resource vendor must be fully qualified and cannot contain regexes.", path)
            return
        service, region, _account, rest = fields[1:]
        if "*" in service or "?" in service:
            self.add(_ST_RESOURCE, "Resource vendor must be fully qualified and cannot contain regexes.", path)
        elif service == "iam":
            if region:
                self.add(_ST_RESOURCE, f"IAM resource {resource} cannot contain region information.", path)
            elif rest not in ("*", "root") and not rest.startswith(IAM_PREFIXES) and not _pattern(rest):
                self.add(
                    _ST_RESOURCE,
                    f'IAM resource path must either be "*", root, or start with {", ".join(IAM_PREFIXES)}.',
                    path,
                )
        elif service == "s3" and region and not _pattern(region) and not rest.startswith(("accesspoint/", "job/", "storage-lens/")):
            self.add(_ST_RESOURCE, f"Resource {resource} can not contain region information.", path)

    def principal(self, value: Any, path: str) -> PrincipalElement | None:
        if value == "*":
            return PrincipalElement(wildcard=True)
        if not isinstance(value, dict) or not value:
            self.add(_ST_KIND, _invalid_principal(value), path)
            return None
        found: dict[str, tuple[str, ...]] = {}
        before = len(self.found)
        for key, raw in value.items():
            field = _PRINCIPAL_TYPES.get(key)
            if field is None:
                self.add(_ST_KIND, _invalid_principal({key: raw}), f"{path}.{key}")
                continue
            if raw == []:
                self.add(_ST_KIND, "Invalid principal in policy: The passed in policy has a statement with no principals!", f"{path}.{key}")
                continue
            got = self.strings(raw, f"{path}.{key}")
            if got is None:
                continue
            for item in got:
                if not _principal_value_ok(key, item):
                    self.add(_ST_KIND, _invalid_principal({key: item}), f"{path}.{key}")
            found[field] = got
        if len(self.found) > before:
            return None
        return PrincipalElement(wildcard=False, **found)

    def condition(self, value: Any, path: str) -> tuple[ConditionClause, ...]:
        if not isinstance(value, dict):
            self.add(_ST_SYNTAX, SYNTAX, path)
            return ()
        clauses: list[ConditionClause] = []
        for operator, block in value.items():
            opath = f"{path}.{operator}"
            if not isinstance(block, dict):
                self.add(_ST_SYNTAX, SYNTAX, opath)
                continue
            if not block:
                continue  # an empty block tests nothing; IAM accepts it, whatever the operator
            parsed = parse_operator(operator)
            if parsed is None:
                self.add(_ST_SYNTAX, SYNTAX, opath)
                continue
            for key, raw in block.items():
                kpath = f"{opath}.{key}"
                got = self.strings(raw, kpath, allow_scalars=True, allow_empty=True)
                if got is None:
                    continue
                if parsed[0] in _DATE_OPERATORS and not all(_valid_date(v) or "${" in v for v in got):
                    self.add(_ST_LEGACY, LEGACY, kpath)
                    continue
                clauses.append(ConditionClause(operator, key, got))
        return tuple(clauses)


def _pattern(text: str) -> bool:
    return "*" in text or "?" in text or "${" in text


def _trust_action(action: str) -> bool:
    """Whether a trust policy action names only STS role-assumption actions."""
    low = action.lower()
    if low == "*":
        return True
    if "*" in low or "?" in low:
        rx = re.compile(re.escape(low).replace("\\*", ".*").replace("\\?", ".") + "\\Z")
        return any(rx.match(a) for a in _TRUST_ACTIONS)
    return low in _TRUST_ACTIONS


def _scalar(value: bool | int | float) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def _principal_value_ok(key: str, value: str) -> bool:
    if not value or value != value.strip():
        return False
    if key == "AWS":
        if value == "*" or _ACCOUNT.match(value):
            return True
        m = _AWS_PRINCIPAL.match(value)
        return m is not None and m.group("partition") in PARTITIONS
    if key == "CanonicalUser":
        return re.fullmatch(r"[0-9a-fA-F]{64}|\*", value) is not None
    return " " not in value


def _invalid_principal(value: Any) -> str:
    if isinstance(value, dict) and len(value) == 1:
        (k, v), = value.items()
        return f'Invalid principal in policy: "{k}":{json.dumps(v)}'
    return "Invalid principal in policy"


def check(
    source: Source, kind: PolicyKind = PolicyKind.IDENTITY, managed: bool = False
) -> tuple[PolicyDocument | None, list[Problem]]:
    """Parse and validate, collecting every problem, the one AWS would report first.

    ``managed``: the document is a managed policy (CreatePolicy and its
    versions), which must be Version 2012-10-17; boundaries always are.
    """
    kind = PolicyKind(kind)
    data, problem = _load(source, kind)
    if problem is not None:
        return None, [problem]
    checker = _Checker(kind, managed)
    try:
        document = checker.document(data)
    except RecursionError:  # absurdly nested values
        return None, [Problem(SYNTAX)]
    return document, checker.problems
