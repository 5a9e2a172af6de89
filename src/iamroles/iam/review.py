"""``iamroles serve --validate-policies``: Access Analyzer's policy checks on every policy document about to be
stored (:func:`iamroles.analysis.validate_findings`, the checks of ``iamroles policy validate --findings``).

``off`` (the default): nothing. ``warn``: the document is stored; its findings are logged (logger
``iamroles.policy_validation``: the operation, the caller, each finding's type, code, place and message, never the
document) and recorded in the call's audit event (CloudTrail's ``additionalEventData.policyValidationFindings``).
``deny``: as ``warn``, but a document with an ERROR or SECURITY_WARNING finding is refused, as a document with a
syntax error is (MalformedPolicyDocument, or Organizations' MalformedPolicyDocumentException on CreatePolicy and
UpdatePolicy), the message naming
the first such finding's code, place and message; nothing is stored.

AWS itself stores a document with findings (ValidatePolicy is a separate call,
https://docs.aws.amazon.com/access-analyzer/latest/APIReference/API_ValidatePolicy.html); ``deny`` is a guard rail
of iamroles' own, the check AWS recommends running before a policy is attached
(https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-policy-validation.html).

Cost: the checks read the catalogue of AWS actions (``iamroles.catalog``, cached per process) and the document
once; a few milliseconds a write, measured in bench/README.md. They run after the syntax check, so a document that
is not a policy is refused as before.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from iamroles.errors import AwsError, MalformedPolicyDocument
from iamroles.policy import PolicyKind

from .context import CallContext

__all__ = ["MODES", "review_policy"]

MODES = ("off", "warn", "deny")
REFUSED = ("ERROR", "SECURITY_WARNING")
_LOG = logging.getLogger("iamroles.policy_validation")
_MAX_RECORDED = 20  # findings kept in one audit event (a count says how many there were)


def review_policy(ctx: CallContext, document: str, kind: PolicyKind,
                  refuse: Callable[[str], AwsError] = MalformedPolicyDocument) -> None:
    """Check ``document`` (already valid syntax) as ``ctx.validate_policies`` says; raises ``refuse(message)`` in deny
    mode for an ERROR or SECURITY_WARNING finding."""
    if ctx.validate_policies == "off":
        return
    from iamroles.analysis.findings import validate_findings

    findings = validate_findings(document, kind, account=ctx.account_id)
    if not findings:
        return
    who = ctx.caller.principal.arn or ctx.account_id
    for f in findings:
        _LOG.warning("request %s by %s: %s policy: %s", ctx.request_id, who, kind.value, f)
    blocking = [f for f in findings if f.finding_type in REFUSED]
    if ctx.validate_policies == "deny" and blocking:
        first = blocking[0]
        more = f" ({len(blocking) - 1} more ERROR or SECURITY_WARNING findings.)" if len(blocking) > 1 else ""
        raise refuse(f"Policy validation failed: {first.issue_code} at {_where(first)}: {first.details}{more}")
    recorded = ctx.policy_findings if ctx.policy_findings is not None else []
    recorded.extend(_record(f) for f in findings[:_MAX_RECORDED])
    if len(findings) > _MAX_RECORDED:
        recorded.append({"omitted": len(findings) - _MAX_RECORDED})
    ctx.policy_findings = recorded


def _where(finding: Any) -> str:
    if not finding.locations:
        return "the document"
    path = finding.locations[0].path
    return ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in path).replace(".[", "[") or "the document"


def _record(finding: Any) -> dict[str, Any]:
    """A finding as the audit event keeps it: Access Analyzer's ValidatePolicyFinding shape, without spans."""
    return {"findingType": finding.finding_type, "issueCode": finding.issue_code, "findingDetails": finding.details,
            "location": _where(finding)}
