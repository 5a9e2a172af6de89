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

import json
import uuid
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from iamroles.errors import InvalidInput, NoSuchEntity
from iamroles.policy import Arn, PolicyDocument, PolicyError, PolicyKind, parse_document
from iamroles.store import Entity

from .catalogue import SERVICES, granted_actions, grants_service
from .common import decode_marker, not_found, page
from .context import CallContext
from .registry import Input, Output, operation

__all__: list[str] = []

TRACKED_PERIOD = timedelta(days=400)
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


def _job(ctx: CallContext, job_id: str) -> dict[str, Any]:
    """The caller's job: another principal's, or another account's, is NoSuchEntity (the JobId "must be used by the
    same role within a session, or by the same user")."""
    job = ctx.tx.access_report(job_id)
    if job is None or job["account_id"] != ctx.account_id or job["owner_arn"] != ctx.caller.principal.arn:
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
