"""GetHumanReadableSummary: a policy said in plain words.

AWS reference: https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetHumanReadableSummary.html ("At this time,
the only supported entity type is delegation-request"; "This method uses a Large Language Model (LLM) to generate
the summary"; the same callers as GetDelegationRequest).

iamroles has no language model and does not want one between a customer and the permissions it approves: the summary
is built, deterministically, from what the Service Authorization Reference says each action is (``iamroles.catalog``:
the service's name, the action's name and access level, its description), statement by statement, so that it never
says more or less than the policy. It is written in English: a request for another of the console's languages is
answered NOT_SUPPORTED with no content, an unknown locale is InvalidInput. Beside delegation requests, iamroles
summarises managed policies (a policy ARN the caller's account can read), its own extension; any other entity is
NOT_SUPPORTED, as on AWS.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

from iamroles.catalog import CATALOG
from iamroles.errors import InvalidInput, NoSuchEntity
from iamroles.policy import Arn, PolicyDocument, PolicyKind, Statement, parse_document

from .authorize import authorize
from .context import CallContext
from .delegation import is_owner, request_arn, visible_request
from .registry import Input, Output, operation

__all__ = ["summarize", "LOCALES"]

# the languages of the AWS Management Console (https://docs.aws.amazon.com/awsconsolehelpdocs/latest/gsg/change-language.html)
LOCALES = frozenset({"en_us", "en_gb", "de_de", "es_es", "fr_fr", "id_id", "it_it", "ja_jp", "ko_kr", "pt_br", "tr_tr",
                     "zh_cn", "zh_tw"})
_ENGLISH = frozenset({"en", "en_us", "en_gb"})
_MAX_LISTED = 8  # actions or resources named one by one in a sentence; past that, counted
MAX_SUMMARY = 10000  # summaryContentType's maximum


def _locale(given: str | None) -> tuple[str, bool]:
    """(the locale answered, whether it is English); InvalidInput for one the console does not have."""
    if given is None:
        return "en_US", True
    key = given.replace("-", "_").lower()
    if key not in LOCALES and key != "en":
        raise InvalidInput(f"Locale {given} is not supported; use one of the console's languages, e.g. en_US.")
    return given, key in _ENGLISH


def _listing(items: list[str]) -> str:
    if len(items) > _MAX_LISTED:
        return ", ".join(items[:_MAX_LISTED]) + f" and {len(items) - _MAX_LISTED} more"
    if len(items) > 1:
        return ", ".join(items[:-1]) + " and " + items[-1]
    return items[0] if items else "nothing"


def _service(prefix: str) -> str:
    name = CATALOG.service_name(prefix)
    return f"{name} ({prefix})" if name else f"the unknown service {prefix!r}"


def _actions(st: Statement) -> list[str]:
    """One phrase per service: the actions named, with their access levels."""
    if any(a == "*" for a in st.actions):
        return ["every action of every AWS service"]
    by_service: dict[str, list[str]] = {}
    for action in st.actions:
        prefix, _, name = action.partition(":")
        by_service.setdefault(prefix.lower(), []).append(name)
    phrases = []
    for prefix, names in by_service.items():
        levels: Counter[str] = Counter()
        words: list[str] = []
        for name in names:
            found = CATALOG.matching_actions(f"{prefix}:{name}")
            if "*" in name or "?" in name:
                if name == "*":
                    words.append(f"all {len(found)} actions")
                else:
                    words.append(f"the {len(found)} actions matching {name}")
            elif found:
                words.append(found[0].name)
            else:
                words.append(f"{name} (not an action AWS documents)")
            for a in found:
                levels[a.access_level] += 1
        level = ", ".join(f"{lv}" for lv, _ in levels.most_common()) or "unknown"
        phrases.append(f"{_service(prefix)}: {_listing(words)} [access level: {level}]")
    return phrases


def _conditions(st: Statement) -> str:
    if not st.conditions:
        return ""
    parts = [f"{c.key} {c.operator} {_listing([repr(v) for v in c.values])}" for c in st.conditions]
    return " Only when " + "; and ".join(parts) + "."


def _statement(st: Statement, index: int) -> str:
    verb = "Allows" if st.effect == "Allow" else "Denies"
    what = _actions(st)
    if st.not_action:
        what = ["every action except " + "; ".join(what)]
    resources = list(st.resources or ())
    if resources == ["*"]:
        where = "on any resource"
    elif st.not_resource:
        where = "on any resource except " + _listing(resources)
    else:
        where = "on " + _listing(resources)
    head = f"{index}. {verb} " + "; ".join(what) + f", {where}."
    return head + _conditions(st)


def summarize(document: PolicyDocument) -> str:
    """The policy in plain English, a numbered sentence per statement (at most :data:`MAX_SUMMARY` characters)."""
    lines = ["This policy grants nothing."] if not document.statements else [
        f"This policy has {len(document.statements)} statement{'s' if len(document.statements) != 1 else ''}. "
        "An explicit deny always wins over an allow."]
    lines += [_statement(st, i) for i, st in enumerate(document.statements, 1)]
    text = "\n".join(lines)
    return text if len(text) <= MAX_SUMMARY else text[: MAX_SUMMARY - 1] + "…"


def _document_of(ctx: CallContext, arn: str) -> str | None:
    """The policy the entity ``arn`` holds, authorised; None for an entity no summary is made of."""
    named = Arn.maybe(arn)
    if named is None or named.service != "iam":
        raise InvalidInput(f"EntityArn {arn} is not the ARN of an IAM entity.")
    kind, _, rest = named.resource.partition("/")
    if named.partition != ctx.partition:
        raise NoSuchEntity(f"The entity {arn} cannot be found.")
    if kind == "delegation-request":
        if named.account != ctx.account_id:
            raise NoSuchEntity(f"The entity {arn} cannot be found.")
        req = visible_request(ctx, rest)
        if not is_owner(ctx, req):
            keys = {"iam:DelegationRequestOwner": req["owner_id"]} if req["owner_id"] else None
            authorize(ctx, "iam:GetHumanReadableSummary", request_arn(ctx, req["request_id"]), keys)
        return str(req["permission_policy"])
    if kind == "policy":
        policy = ctx.tx.policy(arn)
        authorize(ctx, "iam:GetHumanReadableSummary", arn)
        if policy is None or policy.account_id not in (ctx.account_id, ctx.aws_owner):
            raise NoSuchEntity(f"Policy {arn} was not found.")
        docs = ctx.tx.default_documents([arn])
        return docs[arn][1] if arn in docs else None
    authorize(ctx, "iam:GetHumanReadableSummary", arn)
    return None


@operation("GetHumanReadableSummary", resource=None)
def get_human_readable_summary(ctx: CallContext, inp: Input) -> Output:
    locale, english = _locale(inp.get("Locale"))
    document = _document_of(ctx, inp["EntityArn"])
    out: dict[str, Any] = {"Locale": locale}
    if document is None:
        out["SummaryState"] = "NOT_SUPPORTED"
    elif not english:
        out["SummaryState"] = "NOT_SUPPORTED"  # (iamroles writes summaries in English only)
    else:
        out.update(SummaryState="AVAILABLE",
                   SummaryContent=summarize(parse_document(document, PolicyKind.IDENTITY)))
    return out
