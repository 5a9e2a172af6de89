"""Service last accessed ("access advisor") and the policies that grant a service: GenerateServiceLastAccessedDetails,
GetServiceLastAccessedDetails, GetServiceLastAccessedDetailsWithEntities, ListPoliciesGrantingServiceAccess.

What an entity's permissions policies grant (iam/catalogue.py: the services whose actions an Allow statement
reaches, with no boundary, resource policy or condition weighed) is listed with the latest attempt to use each
service, found in the audit trail: every call iamroles answers, allowed or denied, is an event of the principal
that signed it. A user's attempts are its own; a role's are its sessions'; a group's its members'; a managed
policy's those of the users (directly or through a group) and roles it is attached to.

AWS references: https://docs.aws.amazon.com/IAM/latest/APIReference/API_GenerateServiceLastAccessedDetails.html
("includes all attempts to access an AWS API, not just the successful ones"; activity "for at least the last 400
days"; the JobId "must be used by the same role within a session, or by the same user"),
API_GetServiceLastAccessedDetails.html (for a user the user's ARN, for a group the member that last attempted, for a
role the role, for a policy the user or role; sorted by service namespace; TrackedActionsLastAccessed for
ACTION_LEVEL), API_GetServiceLastAccessedDetailsWithEntities.html, API_ListPoliciesGrantingServiceAccess.html (a
user's own and its groups' policies; a group's or role's own; permissions boundaries not returned),
https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_access-advisor-action-last-accessed.html (IAM is
among the services tracked at action level). The Service Authorization Reference: Generate... acts on group*,
policy*, role* or user*; ListPoliciesGrantingServiceAccess on group*, role* or user*; the two Get... on ``*``.
"""
from __future__ import annotations

import itertools
import json
import uuid
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from iamroles.errors import AccessDenied, InvalidInput, NoSuchEntity
from iamroles.policy import Arn, PolicyDocument, PolicyError, PolicyKind, parse_document
from iamroles.store import Entity

from .authorize import authorize
from .catalogue import SERVICES, granted_actions, grants_service
from .common import decode_marker, not_found, page
from .context import CallContext
from .registry import Input, Output, operation

__all__: list[str] = []

TRACKED_PERIOD = timedelta(days=400)
ORGANIZATIONS_JOB = "ORGANIZATIONS"  # the granularity of a GenerateOrganizationsAccessReport job's row
TRACKED_ACTION_SERVICES = frozenset({"iam"})  # the services of this trail AWS tracks at action level
_TYPES = {"user": "USER", "group": "GROUP", "role": "ROLE"}


@lru_cache(maxsize=4096)
def _document(text: str) -> PolicyDocument | None:
    try:
        return parse_document(text, PolicyKind.IDENTITY)
    except PolicyError:  # (nothing stored fails; an unreadable document grants nothing)
        return None


def _entity_of(ctx: CallContext, arn: str, kinds: tuple[str, ...]) -> tuple[str, Any]:
    """The user, group, role or managed policy (of ``kinds``) an ARN names: InvalidInput for an ARN of another kind,
    NoSuchEntity for one that is not there (or is another account's)."""
    named = Arn.maybe(arn)
    if named is None or named.service != "iam" or named.resource_type.replace("-", "_") not in kinds:
        raise InvalidInput(f"ARN {arn} is not valid: it names no {', '.join(kinds)}.")
    kind = named.resource_type
    if kind == "policy":
        policy = ctx.tx.policy(arn)
        if policy is None or policy.account_id not in (ctx.account_id, ctx.aws_owner):
            raise NoSuchEntity(f"Policy {arn} does not exist or is not attachable.")
        return kind, policy
    found = ctx.tx.entity(kind, ctx.account_id, named.name) if named.account == ctx.account_id else None
    if found is None or found.arn != arn:
        raise not_found(kind, named.name)
    return kind, found


def _arn_resource(ctx: CallContext, inp: Input) -> str:
    return str(inp.get("Arn") or "*")


def _policies(ctx: CallContext, kind: str, entity: Entity) -> list[tuple[dict[str, str], PolicyDocument]]:
    """The permissions policies of a user (with its groups'), group or role, each as
    ListPoliciesGrantingServiceAccess names it."""
    tx, account = ctx.tx, ctx.account_id
    owners: list[tuple[str, Entity]] = [(kind, entity)]
    if kind == "user":
        owners += [("group", g) for k in tx.groups_of(account, entity.key) if (g := tx.entity("group", account, k)) is not None]
    found: list[tuple[dict[str, str], PolicyDocument]] = []
    for owner_kind, owner in owners:
        arns = tx.attached(account, owner_kind, owner.key)
        docs = tx.default_documents(arns)
        for arn in arns:
            if arn in docs and (doc := _document(docs[arn][1])) is not None:
                found.append(({"PolicyName": docs[arn][0].name, "PolicyType": "MANAGED", "PolicyArn": arn}, doc))
        for inline in tx.inlines(account, owner_kind, owner.key):
            if (doc := _document(inline.document)) is not None:
                found.append(({"PolicyName": inline.name, "PolicyType": "INLINE", "EntityType": _TYPES[owner_kind],
                               "EntityName": owner.name}, doc))
    return found


@operation("ListPoliciesGrantingServiceAccess", resource=_arn_resource)
def list_policies_granting_service_access(ctx: CallContext, inp: Input) -> Output:
    decode_marker("ListPoliciesGrantingServiceAccess", inp.get("Marker"))  # (this listing is never truncated)
    kind, entity = _entity_of(ctx, inp["Arn"], ("user", "group", "role"))
    policies = _policies(ctx, kind, entity)
    listed = []
    for namespace in dict.fromkeys(inp["ServiceNamespaces"]):
        listed.append({"ServiceNamespace": namespace,
                       "Policies": [info for info, doc in policies if grants_service(doc, namespace)]})
    return {"PoliciesGrantingServiceAccess": listed, "IsTruncated": False}


# -- service last accessed -------------------------------------------------------------------------------
def _info(kind: str, entity: Entity) -> dict[str, str]:
    return {"Arn": entity.arn, "Name": entity.name, "Type": _TYPES[kind], "Id": entity.id, "Path": entity.path}


def _subjects(ctx: CallContext, kind: str, target: Any) -> tuple[list[tuple[str, Entity]], list[PolicyDocument]]:
    """Whose attempts count (users and roles), and the permissions policies that say what could be reached."""
    tx, account = ctx.tx, ctx.account_id
    if kind == "policy":
        stored = tx.default_documents([target.arn])
        doc = _document(stored[target.arn][1]) if target.arn in stored else None
        subjects: dict[str, tuple[str, Entity]] = {}
        for owner_account, owner_kind, key in tx.attachments_of(target.arn):
            if owner_account != account:
                continue
            owner = tx.entity(owner_kind, account, key)
            if owner is None:
                continue
            members = ([("user", u) for u in tx.member_users(account, owner.key)] if owner_kind == "group"
                       else [(owner_kind, owner)])
            for member_kind, member in members:
                subjects[member.arn] = (member_kind, member)
        return sorted(subjects.values(), key=lambda s: (s[0], s[1].key)), [doc] if doc is not None else []
    docs = [doc for _, doc in _policies(ctx, kind, target)]
    if kind == "group":
        return [("user", u) for u in tx.member_users(account, target.key)], docs
    return [(kind, target)], docs


def _report(ctx: CallContext, kind: str, target: Any, granularity: str) -> dict[str, Any]:
    """What the report holds: the services (and, for IAM, actions) granted, the subjects, and the trail's latest
    attempts by them to each granted service and operation."""
    subjects, docs = _subjects(ctx, kind, target)
    granted = granted_actions(docs)
    principals = [e.arn for k, e in subjects if k == "user"]
    sessions = {f"arn:{ctx.partition}:sts::{ctx.account_id}:assumed-role/{e.name}/": e.arn for k, e in subjects if k == "role"}
    access: list[list[Any]] = []
    for service, action, principal, when, region in ctx.tx.audit_access(ctx.account_id, principals, list(sessions),
                                                                          ctx.now - TRACKED_PERIOD):
        if service not in granted:
            continue
        subject = principal if principal in principals else next((arn for p, arn in sessions.items() if principal.startswith(p)), None)
        if subject is not None:
            access.append([service, action, subject, when.isoformat(), region])
    tracked = {ns: sorted(actions) for ns, actions in granted.items() if granularity == "ACTION_LEVEL" and ns in TRACKED_ACTION_SERVICES}
    return {"services": sorted(granted), "tracked": tracked, "entities": [_info(k, e) for k, e in subjects], "access": access}


@operation("GenerateServiceLastAccessedDetails", resource=_arn_resource, write=True)
def generate_service_last_accessed_details(ctx: CallContext, inp: Input) -> Output:
    kind, target = _entity_of(ctx, inp["Arn"], ("user", "group", "role", "policy"))
    granularity = inp.get("Granularity") or "SERVICE_LEVEL"
    job_id = str(uuid.uuid4())
    ctx.tx.insert_access_report(job_id=job_id, account_id=ctx.account_id, owner_arn=ctx.caller.principal.arn,
                                entity_arn=target.arn, granularity=granularity, created_at=ctx.now, completed_at=ctx.now,
                                report=json.dumps(_report(ctx, kind, target, granularity), separators=(",", ":")))
    return {"JobId": job_id}


def _job(ctx: CallContext, job_id: str, organizations: bool = False) -> dict[str, Any]:
    """The caller's job: another principal's, or another account's, is NoSuchEntity (the JobId "must be used by the
    same role within a session, or by the same user"), and so is a job of the other kind (``organizations``: a
    GenerateOrganizationsAccessReport job, else a GenerateServiceLastAccessedDetails one)."""
    job = ctx.tx.access_report(job_id)
    if job is None or job["account_id"] != ctx.account_id or job["owner_arn"] != ctx.caller.principal.arn \
            or (job["granularity"] == ORGANIZATIONS_JOB) != organizations:
        raise NoSuchEntity(f"No such job {job_id} for this principal.")
    return job


def _latest(rows: list[list[Any]]) -> list[Any] | None:
    return max(rows, key=lambda r: r[3]) if rows else None


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text)


@operation("GetServiceLastAccessedDetails", resource=lambda ctx, inp: "*")
def get_service_last_accessed_details(ctx: CallContext, inp: Input) -> Output:
    job = _job(ctx, inp["JobId"])
    report = json.loads(job["report"])
    services = []
    for ns in report["services"]:
        rows = [r for r in report["access"] if r[0] == ns]
        item: dict[str, Any] = {"ServiceName": SERVICES.name(ns) or ns, "ServiceNamespace": ns,
                                "TotalAuthenticatedEntities": len({r[2] for r in rows})}
        latest = _latest(rows)
        if latest is not None:
            item.update(LastAuthenticated=_when(latest[3]), LastAuthenticatedEntity=latest[2], LastAuthenticatedRegion=latest[4])
        if ns in report["tracked"]:
            tracked = []
            for action in report["tracked"][ns]:
                entry: dict[str, Any] = {"ActionName": action}
                hit = _latest([r for r in rows if r[1].lower() == action.lower()])
                if hit is not None:
                    entry.update(LastAccessedEntity=hit[2], LastAccessedTime=_when(hit[3]), LastAccessedRegion=hit[4])
                tracked.append(entry)
            item["TrackedActionsLastAccessed"] = tracked
        services.append(item)
    chunk, meta = page("GetServiceLastAccessedDetails", services, inp, key=lambda s: s["ServiceNamespace"])
    return {"JobStatus": "COMPLETED", "JobType": job["granularity"], "JobCreationDate": job["created_at"],
            "JobCompletionDate": job["completed_at"], "ServicesLastAccessed": chunk, **meta}


@operation("GetServiceLastAccessedDetailsWithEntities", resource=lambda ctx, inp: "*")
def get_service_last_accessed_details_with_entities(ctx: CallContext, inp: Input) -> Output:
    job = _job(ctx, inp["JobId"])
    report = json.loads(job["report"])
    namespace = inp["ServiceNamespace"]
    rows = [r for r in report["access"] if r[0] == namespace]
    details = []
    for info in sorted(report["entities"], key=lambda i: (i["Type"], i["Name"].lower())):
        detail: dict[str, Any] = {"EntityInfo": info}
        latest = _latest([r for r in rows if r[2] == info["Arn"]])
        if latest is not None:
            detail["LastAuthenticated"] = _when(latest[3])
        details.append(detail)
    if namespace not in report["services"]:
        details = []  # (nothing of the entity's policies reaches it)
    # the latest attempts first, then the others by kind and name
    details.sort(key=lambda d: (0, -d["LastAuthenticated"].timestamp()) if "LastAuthenticated" in d else (1, 0.0))
    numbered = list(enumerate(details))
    chunk, meta = page("GetServiceLastAccessedDetailsWithEntities", numbered, inp, key=lambda n: f"{n[0]:08d}")
    return {"JobStatus": "COMPLETED", "JobCreationDate": job["created_at"], "JobCompletionDate": job["completed_at"],
            "EntityDetailsList": [d for _, d in chunk], **meta}


# -- the Organizations access report -----------------------------------------------------------------------
# API_GenerateOrganizationsAccessReport.html: for an entity path (the root, an OU or an account) the services the SCPs
# of the entity and its parents allow (with an OrganizationsPolicyId: the services that SCP allows), each with the
# latest attempt to use it by the principals of the accounts it covers (the root and an OU: every account below them
# but the management account, "because the management account is not limited by SCPs"; the management account: every
# service, its own attempts, any policy ignored; another account: its own attempts). Only SCP logic is applied, on
# Allow statements as the access advisor weighs them (iam/catalogue.py). Called from the management account only,
# with SCPs enabled at the root; the caller also needs the Organizations reads the report is made of
# (access_policies_access-advisor-view-data-orgs.html: organizations:DescribePolicy, ListChildren, ListParents,
# ListPoliciesForTarget, ListRoots, ListTargetsForPolicy). API_GetOrganizationsAccessReport.html: sorted by namespace
# by default, NumberOfServicesAccessible / NumberOfServicesNotAccessed, TotalAuthenticatedEntities (accounts).

_ORG_READS = ("organizations:DescribePolicy", "organizations:ListChildren", "organizations:ListParents",
              "organizations:ListPoliciesForTarget", "organizations:ListRoots", "organizations:ListTargetsForPolicy")


def _report_resource(ctx: CallContext, inp: Input) -> str:
    return ctx.arn(f"access-report/{inp['EntityPath']}")


def _report_keys(ctx: CallContext, inp: Input) -> dict[str, Any]:
    return {"iam:OrganizationsPolicyId": inp["OrganizationsPolicyId"]} if inp.get("OrganizationsPolicyId") else {}


def _entity(ctx: CallContext, org: dict[str, Any], path: str) -> tuple[str, list[str]]:
    """The entity ``path`` names, by kind (ROOT, OU, MANAGEMENT or ACCOUNT), with its path's nodes root first (the
    entity last): every node must be the child of the one before it."""
    nodes = path.rstrip("/").split("/")
    bad = InvalidInput(f"EntityPath {path} does not name a root, OU or account of your organization.")
    if len(nodes) < 2 or nodes[0] != org["org_id"] or nodes[1] != org["root_id"]:
        raise bad
    tx, oid = ctx.tx, org["org_id"]
    for parent, node in itertools.pairwise(nodes[1:]):
        if node.startswith("ou-"):
            unit = tx.org_unit(oid, node)
            if unit is None or unit["parent_id"] != parent:
                raise bad
        else:
            member = tx.organization_of(node) if node.isdigit() and len(node) == 12 else None
            if member is None or member["org_id"] != oid or member["parent_id"] != parent or node != nodes[-1]:
                raise bad
    last = nodes[-1]
    kind = "ROOT" if len(nodes) == 2 else "OU" if last.startswith("ou-") else \
        "MANAGEMENT" if last == org["management_account_id"] else "ACCOUNT"
    return kind, nodes[1:]


def _scp_documents(ctx: CallContext, org: dict[str, Any], target: str) -> list[PolicyDocument]:
    found = []
    for pid in ctx.tx.org_attached(org["org_id"], target):
        p = ctx.tx.org_policy(org["org_id"], pid)
        if p is not None and p["type"] == "SERVICE_CONTROL_POLICY":
            try:
                found.append(parse_document(p["content"], PolicyKind.SCP))
            except PolicyError:  # (stored SCPs were validated; one that is not readable allows nothing)
                continue
    return found


def _under(ctx: CallContext, org: dict[str, Any], nodes: list[str]) -> list[tuple[str, list[str]]]:
    """The accounts below the root or OU that ``nodes`` ends with, each with its path's nodes from the root."""
    out: list[tuple[str, list[str]]] = []
    stack = [nodes]
    while stack:
        here = stack.pop()
        for unit in ctx.tx.org_units(org["org_id"], here[-1]):
            stack.append([*here, unit["ou_id"]])
        out += [(a["account_id"], here) for a in ctx.tx.org_accounts(org["org_id"], here[-1])]
    return out


def _organizations_report(ctx: CallContext, org: dict[str, Any], path: str, policy_id: str | None) -> dict[str, Any]:
    kind, nodes = _entity(ctx, org, path)
    oid, management = org["org_id"], org["management_account_id"]
    policy: PolicyDocument | None = None
    if policy_id is not None and kind != "MANAGEMENT":  # (the management account's report ignores the policy)
        p = ctx.tx.org_policy(oid, policy_id)
        if p is None or p["type"] != "SERVICE_CONTROL_POLICY":
            raise InvalidInput(f"OrganizationsPolicyId {policy_id} does not name a service control policy of your organization.")
        policy = parse_document(p["content"], PolicyKind.SCP)
    # whose attempts count, each account with its path's nodes from the root
    if kind in ("MANAGEMENT", "ACCOUNT"):
        accounts = [(nodes[-1], nodes[:-1])]
    else:
        accounts = [(a, n) for a, n in _under(ctx, org, nodes) if a != management]
    if policy_id is not None and policy is not None:  # only the accounts the SCP applies to (attached on their path)
        accounts = [(a, n) for a, n in accounts if any(policy_id in ctx.tx.org_attached(oid, node) for node in [*n, a])]
    # the services the SCPs allow: every service for the management account; else those of the one policy asked
    # about, or those every level from the root to the entity allows
    if kind == "MANAGEMENT":
        services = set(SERVICES.namespaces())
    elif policy is not None:
        services = set(granted_actions([policy]))
    else:
        services = set(SERVICES.namespaces())
        for node in nodes:
            services &= set(granted_actions(_scp_documents(ctx, org, node)))
    where = {a: "/".join([oid, *n, a]) for a, n in accounts}
    access: dict[str, list[Any]] = {}
    for service, account, _principal, when, region in ctx.tx.audit_access_by_account(list(where), ctx.now - TRACKED_PERIOD):
        if service not in services:
            continue
        entry = access.setdefault(service, [None, None, None, 0])
        entry[3] += 1  # accounts with an attempt
        if entry[1] is None or when.isoformat() > entry[1]:
            entry[:3] = [where[account], when.isoformat(), region]
    return {"services": sorted(services), "access": access}


@operation("GenerateOrganizationsAccessReport", resource=_report_resource, keys=_report_keys, write=True)
def generate_organizations_access_report(ctx: CallContext, inp: Input) -> Output:
    org = ctx.tx.organization_of(ctx.account_id)
    if org is None or org["management_account_id"] != ctx.account_id:
        raise AccessDenied("GenerateOrganizationsAccessReport can be called only from the management account of an "
                           "organization.")
    for action in _ORG_READS:  # what the report reads of the organization, as the Organizations API would
        authorize(ctx, action, "*")
    if "SERVICE_CONTROL_POLICY" not in ctx.tx.org_policy_types(org["org_id"]):
        raise InvalidInput("Service control policies must be enabled for your organization root to generate an "
                           "Organizations access report.")
    report = _organizations_report(ctx, org, inp["EntityPath"], inp.get("OrganizationsPolicyId"))
    job_id = str(uuid.uuid4())
    ctx.tx.insert_access_report(job_id=job_id, account_id=ctx.account_id, owner_arn=ctx.caller.principal.arn,
                                entity_arn=inp["EntityPath"], granularity=ORGANIZATIONS_JOB, created_at=ctx.now,
                                completed_at=ctx.now, report=json.dumps(report, separators=(",", ":")))
    return {"JobId": job_id}


_ORDER = {
    "SERVICE_NAMESPACE_ASCENDING": (False, False), "SERVICE_NAMESPACE_DESCENDING": (False, True),
    "LAST_AUTHENTICATED_TIME_ASCENDING": (True, False), "LAST_AUTHENTICATED_TIME_DESCENDING": (True, True),
}


@operation("GetOrganizationsAccessReport", resource=lambda ctx, inp: "*")
def get_organizations_access_report(ctx: CallContext, inp: Input) -> Output:
    job = _job(ctx, inp["JobId"], organizations=True)
    report = json.loads(job["report"])
    details = []
    for ns in report["services"]:
        item: dict[str, Any] = {"ServiceName": SERVICES.name(ns) or ns, "ServiceNamespace": ns}
        hit = report["access"].get(ns)
        if hit is not None:
            item.update(EntityPath=hit[0], LastAuthenticatedTime=_when(hit[1]), TotalAuthenticatedEntities=hit[3])
            if hit[2]:
                item["Region"] = hit[2]
        else:
            item["TotalAuthenticatedEntities"] = 0
        details.append(item)
    by_time, descending = _ORDER[inp.get("SortKey") or "SERVICE_NAMESPACE_ASCENDING"]
    if by_time:  # the services never attempted last, by namespace
        tried = sorted((d for d in details if "LastAuthenticatedTime" in d), key=lambda d: d["LastAuthenticatedTime"],
                       reverse=descending)
        details = tried + [d for d in details if "LastAuthenticatedTime" not in d]
    elif descending:
        details.reverse()
    numbered = list(enumerate(details))
    chunk, meta = page("GetOrganizationsAccessReport", numbered, inp, key=lambda n: f"{n[0]:08d}")
    return {"JobStatus": "COMPLETED", "JobCreationDate": job["created_at"], "JobCompletionDate": job["completed_at"],
            "NumberOfServicesAccessible": len(details),
            "NumberOfServicesNotAccessed": sum(1 for d in details if "LastAuthenticatedTime" not in d),
            "AccessDetails": [d for _, d in chunk], **meta}
