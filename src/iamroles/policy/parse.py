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
_NO_PRINCIPAL_KINDS = frozenset({PolicyKind.IDENTITY, PolicyKind.BOUNDARY, PolicyKind.SESSION, PolicyKind.SCP})


def parse(source: Source, kind: PolicyKind = PolicyKind.IDENTITY) -> PolicyDocument:
    document, problems = check(source, kind)
    if problems or document is None:
        raise PolicyError(problems or [Problem(SYNTAX)])
    return document


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON constant {name}")


def _load(source: Source) -> tuple[Any, Problem | None]:
    if isinstance(source, Mapping):
        return source, None
    if isinstance(source, bytes):
        try:
            source = source.decode("utf-8")
        except UnicodeDecodeError:
            return None, Problem(INVALID_JSON)
    if not isinstance(source, str):
        return None, Problem(INVALID_JSON)
    try:
        return json.loads(source, parse_constant=_reject_constant), None
    except (ValueError, RecursionError):
        return None, Problem(INVALID_JSON)


class _Checker:
    def __init__(self, kind: PolicyKind) -> None:
        self.kind = kind
        self.problems: list[Problem] = []

    def add(self, message: str, path: str) -> None:
        self.problems.append(Problem(message, path))

    # -- values -------------------------------------------------------------
    def strings(self, value: Any, path: str, allow_scalars: bool = False) -> tuple[str, ...] | None:
        """A string or a non-empty list of strings, as a tuple."""
        if isinstance(value, str):
            return (value,)
        if allow_scalars and isinstance(value, (bool, int, float)):
            return (_scalar(value),)
        if isinstance(value, list) and value:
            out: list[str] = []
            for i, item in enumerate(value):
                if isinstance(item, str):
                    out.append(item)
                elif allow_scalars and isinstance(item, (bool, int, float)):
                    out.append(_scalar(item))
                else:
                    self.add(SYNTAX, f"{path}[{i}]")
                    return None
            return tuple(out)
        self.add(SYNTAX, path)
        return None

    # -- document -----------------------------------------------------------
    def document(self, data: Any) -> PolicyDocument | None:
        if not isinstance(data, dict):
            self.add(SYNTAX, "")
            return None
        for key in data:
            if key not in _TOP:
                self.add(SYNTAX, key)
        version = data.get("Version")
        if "Version" in data and version not in (VERSION_2012, VERSION_2008):
            self.add(LEGACY, "Version")
            version = None
        if "Id" in data and not isinstance(data["Id"], str):
            self.add(SYNTAX, "Id")
        raw = data.get("Statement")
        if isinstance(raw, dict):
            raw = [raw]
        if not isinstance(raw, list) or not raw:
            self.add(SYNTAX, "Statement")
            return None
        statements: list[Statement] = []
        sids: set[str] = set()
        for i, item in enumerate(raw):
            st = self.statement(item, f"Statement[{i}]", version)
            if st is None:
                continue
            if st.sid is not None and st.sid != "":
                if st.sid in sids:
                    self.add(SID_UNIQUE, f"Statement[{i}].Sid")
                sids.add(st.sid)
            statements.append(st)
        if self.problems:
            return None
        doc_id = data.get("Id")
        return PolicyDocument(version=version, statements=tuple(statements), id=doc_id)

    def statement(self, data: Any, path: str, version: str | None) -> Statement | None:
        if not isinstance(data, dict):
            self.add(SYNTAX, path)
            return None
        before = len(self.problems)
        for key in data:
            if key not in _STATEMENT:
                self.add(SYNTAX, f"{path}.{key}")
        for a, b in (("Action", "NotAction"), ("Resource", "NotResource"), ("Principal", "NotPrincipal")):
            if a in data and b in data:
                self.add(SYNTAX, f"{path}.{b}")

        sid = data.get("Sid")
        if "Sid" in data:
            if not isinstance(sid, str):
                self.add(SYNTAX, f"{path}.Sid")
                sid = None
            elif self.kind in _ALNUM_SID_KINDS and not _SID.match(sid):
                self.add(SID_ALNUM, f"{path}.Sid")

        effect = data.get("Effect")
        if effect is None:
            self.add(SYNTAX, f"{path}.Effect")
        elif not isinstance(effect, str) or effect not in ("Allow", "Deny"):
            self.add(SYNTAX, f"{path}.Effect")

        # Action / NotAction
        not_action = "NotAction" in data
        actions: tuple[str, ...] = ()
        if "Action" in data or not_action:
            name = "NotAction" if not_action else "Action"
            got = self.strings(data[name], f"{path}.{name}")
            if got is not None:
                actions = got
                for j, action in enumerate(actions):
                    self.action(action, f"{path}.{name}[{j}]")
        else:
            self.add(NO_ACTIONS, path)

        # Principal / NotPrincipal
        not_principal = "NotPrincipal" in data
        principal: PrincipalElement | None = None
        if "Principal" in data or not_principal:
            name = "NotPrincipal" if not_principal else "Principal"
            if self.kind in _NO_PRINCIPAL_KINDS:
                self.add(NO_PRINCIPAL_ALLOWED, f"{path}.{name}")
            else:
                principal = self.principal(data[name], f"{path}.{name}")
        elif self.kind in (PolicyKind.RESOURCE, PolicyKind.TRUST, PolicyKind.RCP):
            self.add(MISSING_PRINCIPAL, path)

        # Resource / NotResource
        not_resource = "NotResource" in data
        resources: tuple[str, ...] | None = None
        if "Resource" in data or not_resource:
            name = "NotResource" if not_resource else "Resource"
            if self.kind is PolicyKind.TRUST:
                self.add(f"Has prohibited field {name}", f"{path}.{name}")
            else:
                resources = self.strings(data[name], f"{path}.{name}")
                for j, res in enumerate(resources or ()):
                    self.resource(res, f"{path}.{name}[{j}]")
        elif self.kind is not PolicyKind.TRUST:
            self.add(NO_RESOURCES, path)

        conditions: tuple[ConditionClause, ...] = ()
        if "Condition" in data:
            conditions = self.condition(data["Condition"], f"{path}.Condition")

        if len(self.problems) > before:
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
            self.add(NO_VENDOR, path)
        elif len(parts) > 2:
            self.add(ONE_COLON, path)
        elif not _VENDOR.match(parts[0]):
            self.add(f"Vendor {parts[0]} is not valid", path)
        elif not parts[1]:
            self.add(SYNTAX, path)

    def resource(self, resource: str, path: str) -> None:
        if resource == "*":
            return
        parts = resource.split(":", 5)
        if len(parts) < 2 or parts[0] != "arn" or not parts[1]:
            self.add(f'Resource {resource} must be in ARN format or "*".', path)
            return
        if len(parts) < 3 or not parts[2] or "*" in parts[2] or "?" in parts[2]:
            self.add("Resource vendor must be fully qualified and cannot contain regexes.", path)
            return
        partition = parts[1]
        if partition not in PARTITIONS and "*" not in partition and "?" not in partition and "${" not in partition:
            filled = (parts + ["*"] * 6)[:6]
            self.add(f'Partition "{partition}" is not valid for resource "{":".join(filled)}".', path)

    def principal(self, value: Any, path: str) -> PrincipalElement | None:
        if value == "*":
            return PrincipalElement(wildcard=True)
        if not isinstance(value, dict) or not value:
            self.add(_invalid_principal(value), path)
            return None
        found: dict[str, tuple[str, ...]] = {}
        for key, raw in value.items():
            field = _PRINCIPAL_TYPES.get(key)
            if field is None:
                self.add(_invalid_principal({key: raw}), f"{path}.{key}")
                continue
            got = self.strings(raw, f"{path}.{key}")
            if got is None:
                continue
            for item in got:
                if not _principal_value_ok(key, item):
                    self.add(_invalid_principal({key: item}), f"{path}.{key}")
            found[field] = got
        if self.problems and any(p.path.startswith(path) for p in self.problems):
            return None
        return PrincipalElement(wildcard=False, **found)

    def condition(self, value: Any, path: str) -> tuple[ConditionClause, ...]:
        if not isinstance(value, dict):
            self.add(SYNTAX, path)
            return ()
        clauses: list[ConditionClause] = []
        for operator, block in value.items():
            if parse_operator(operator) is None:
                self.add(f"Invalid Condition type : {operator}", f"{path}.{operator}")
                continue
            if not isinstance(block, dict) or not block:
                self.add(SYNTAX, f"{path}.{operator}")
                continue
            for key, raw in block.items():
                kpath = f"{path}.{operator}.{key}"
                if ":" not in key:
                    self.add(NO_VENDOR, kpath)
                    continue
                if isinstance(raw, list) and not raw:
                    self.add(SYNTAX, kpath)
                    continue
                got = self.strings(raw, kpath, allow_scalars=True)
                if got is not None:
                    clauses.append(ConditionClause(operator, key, got))
        return tuple(clauses)


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


def check(source: Source, kind: PolicyKind = PolicyKind.IDENTITY) -> tuple[PolicyDocument | None, list[Problem]]:
    """Parse and validate, collecting every problem."""
    data, problem = _load(source)
    if problem is not None:
        return None, [problem]
    checker = _Checker(PolicyKind(kind))
    try:
        document = checker.document(data)
    except RecursionError:  # absurdly nested values
        return None, [Problem(SYNTAX)]
    return document, checker.problems
