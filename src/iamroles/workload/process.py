"""``credential_process`` output: a role's credentials from a plain sts:AssumeRole with the caller's credentials.

An AWS config profile with ``credential_process = iamroles credential-process
--role R ...`` gets the document below on stdout; the SDK runs the command
again when ``Expiration`` comes near (botocore: fifteen minutes before), so
refresh needs nothing else
(https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-sourcing-external.html).

``Expiration`` is given on the local clock: AssumeRole's credentials last
``DurationSeconds`` from when the server issued them, so they expire no later
than our time of asking plus the duration, whatever the skew between the clocks.
"""
from __future__ import annotations

import os
import time
from datetime import timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .client import Caller, WorkloadError, iso, utcnow

__all__ = ["DEPTH_VARIABLE", "MAX_DEPTH", "assume_role_document", "enter_credential_process"]

DEPTH_VARIABLE = "IAMROLES_CREDENTIAL_PROCESS_DEPTH"
MAX_DEPTH = 4


def enter_credential_process() -> None:
    """Count nested credential processes: a profile whose credential_process calls itself must not fork forever."""
    try:
        depth = int(os.environ.get(DEPTH_VARIABLE, "0"))
    except ValueError:
        depth = 0
    if depth >= MAX_DEPTH:
        raise WorkloadError(f"credential_process calls itself ({depth} deep): give the base credentials with --profile, "
                            "a profile that does not run this command")
    os.environ[DEPTH_VARIABLE] = str(depth + 1)


def _error(exc: Exception) -> WorkloadError:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return WorkloadError(str(err.get("Message") or exc), code=err.get("Code"),
                             status=exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode"))
    return WorkloadError(str(exc))


def assume_role_document(who: Caller, role: str, *, session_name: str | None = None, duration: int = 3600) -> dict[str, Any]:
    """sts:AssumeRole ``role`` (a name in the caller's account, or an ARN); credential_process's Version 1 document."""
    try:
        sts = who.session.create_client("sts", endpoint_url=who.endpoint, region_name=who.region)
        if role.startswith("arn:"):
            role_arn = role
        else:
            me = sts.get_caller_identity()["Arn"].split(":")
            role_arn = f"arn:{me[1]}:iam::{me[4]}:role/{role}"
        asked = utcnow()
        out = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name or f"iamroles-{int(time.time())}",
                              DurationSeconds=duration)
    except (ClientError, BotoCoreError) as exc:
        raise _error(exc) from None
    creds = out["Credentials"]
    expiration = min(creds["Expiration"], asked + timedelta(seconds=duration))
    return {
        "Version": 1,
        "AccessKeyId": creds["AccessKeyId"],
        "SecretAccessKey": creds["SecretAccessKey"],
        "SessionToken": creds["SessionToken"],
        "Expiration": iso(expiration),
    }
