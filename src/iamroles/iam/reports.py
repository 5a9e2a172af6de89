"""The credential report: GenerateCredentialReport, GetCredentialReport.

The report is a CSV of every user of the account and the root user with the state of their credentials (password,
MFA, the first two access keys, the first two signing certificates), made from the account's data when generated
and kept (``credential_reports``) for GetCredentialReport. No secret is in it: dates, states, regions and service
names only.

AWS references: https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_getting-report.html (the columns and
their values; "You can generate a credential report as often as once every four hours ... If the most recent report
for the account is older than four hours, or if there are no previous reports for the account, IAM generates ... a
new report"), API_GenerateCredentialReport.html, API_GetCredentialReport.html (ReportNotPresent and ReportExpired,
410). IAM answers the first GenerateCredentialReport with State STARTED and "No report exists. Starting a new report
generation task", then COMPLETE; ReportNotPresent carries no message (botocore shows "Unknown"), as users report them
(prowler-cloud/prowler#272, turbot/steampipe-plugin-aws#509). The Service Authorization Reference lists no resource
type for either action: ``*``.
"""
from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

from iamroles.errors import ReportExpired, ReportNotPresent

from .common import lock_account
from .context import CallContext
from .registry import Input, Output, operation

__all__ = ["COLUMNS", "REPORT_LIFETIME", "credential_report"]

COLUMNS = (
    "user", "arn", "user_creation_time", "password_enabled", "password_last_used", "password_last_changed",
    "password_next_rotation", "mfa_active",
    "access_key_1_active", "access_key_1_last_rotated", "access_key_1_last_used_date", "access_key_1_last_used_region",
    "access_key_1_last_used_service",
    "access_key_2_active", "access_key_2_last_rotated", "access_key_2_last_used_date", "access_key_2_last_used_region",
    "access_key_2_last_used_service",
    "cert_1_active", "cert_1_last_rotated", "cert_2_active", "cert_2_last_rotated",
)
REPORT_LIFETIME = timedelta(hours=4)
ROOT = "<root_account>"
NA = "N/A"
STARTED = "No report exists. Starting a new report generation task"


def _when(value: datetime | None) -> str:
    """ISO 8601 as the report writes it (2024-01-02T03:04:05+00:00), N/A for none."""
    if value is None:
        return NA
    return value.astimezone(UTC).replace(microsecond=0).isoformat()


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _keys(keys: list[Any]) -> list[str]:
    """The first two access keys (oldest first): active, last rotated (created), last used date, region, service."""
    cells: list[str] = []
    for i in range(2):
        if i < len(keys):
            k = keys[i]
            used = k.last_used_at is not None
            cells += [_flag(k.status == "Active"), _when(k.created_at), _when(k.last_used_at),
                      (k.last_used_region or NA) if used else NA, (k.last_used_service or NA) if used else NA]
        else:
            cells += ["false", NA, NA, NA, NA]
    return cells


def _certs(certs: list[Any]) -> list[str]:
    cells: list[str] = []
    for i in range(2):
        cells += [_flag(certs[i].status == "Active"), _when(certs[i].uploaded_at)] if i < len(certs) else ["false", NA]
    return cells


def credential_report(ctx: CallContext) -> str:
    """The CSV of the account's credentials as they are now."""
    tx, account_id = ctx.tx, ctx.account_id
    account = tx.account(account_id)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    # the root user: it has access keys here, and no password, MFA device or signing certificate
    writer.writerow([ROOT, f"arn:{ctx.partition}:iam::{account_id}:root", _when(account.created_at if account else None),
                     "not_supported", NA, "not_supported", "not_supported", "false",
                     *_keys(tx.access_keys(account_id, None)), *_certs([])])
    policy = tx.password_policy(account_id)
    max_age = policy.max_age if policy is not None else None
    for user in tx.entities("user", account_id):
        profile = tx.login_profile(account_id, user.id)
        if profile is None:
            password = ["false", NA, NA, NA]
        else:
            # iamroles has no console to sign in to: a password is never used ("no_information")
            rotation = _when(profile.password_set_at + timedelta(days=max_age)) if max_age else NA
            password = ["true", "no_information", _when(profile.password_set_at), rotation]
        mfa = bool(tx.mfa_devices(account_id, user_key=user.key, limit=1))
        writer.writerow([user.name, user.arn, _when(user.created_at), *password, _flag(mfa),
                         *_keys(tx.access_keys(account_id, user.key)),
                         *_certs(tx.user_credentials("signing", account_id, user.id))])
    return out.getvalue()


def _any(ctx: CallContext, inp: Input) -> str:
    return "*"


@operation("GenerateCredentialReport", resource=_any, write=True)
def generate_credential_report(ctx: CallContext, inp: Input) -> Output:
    lock_account(ctx)  # one report generated at a time per account
    existing = ctx.tx.credential_report(ctx.account_id)
    if existing is not None and ctx.now - existing[0] < REPORT_LIFETIME:
        return {"State": "COMPLETE"}
    ctx.tx.put_credential_report(ctx.account_id, ctx.now, credential_report(ctx))
    return {"State": "STARTED", "Description": STARTED}


@operation("GetCredentialReport", resource=_any)
def get_credential_report(ctx: CallContext, inp: Input) -> Output:
    existing = ctx.tx.credential_report(ctx.account_id)
    if existing is None:
        raise ReportNotPresent("")
    generated, content = existing
    if ctx.now - generated >= REPORT_LIFETIME:
        raise ReportExpired("The request was rejected because the most recent credential report has expired. To generate a "
                            "new credential report, use GenerateCredentialReport.")
    return {"Content": content.encode(), "ReportFormat": "text/csv", "GeneratedTime": generated}
