"""Workloads get role credentials through their SDK's own default chain, as on AWS.

* :mod:`.client`: the launcher asks iamroles for a role's credentials as a
  service (``POST /iamroles/v1/service-credentials``: iamroles:LaunchWorkload with
  iamroles:ServicePrincipal and iam:PassRole with iam:PassedToService, then the
  role's trust policy must trust the service);
* :mod:`.refresh`: the credentials an endpoint serves, fetched again before
  they expire, on the server's clock;
* :mod:`.container`: the ECS-style container-credentials endpoint
  (``AWS_CONTAINER_CREDENTIALS_FULL_URI``), and :mod:`.run`: ``iamroles exec``;
* :mod:`.imds`: an IMDSv2-compatible endpoint (``AWS_EC2_METADATA_SERVICE_ENDPOINT``);
* :mod:`.process`: ``credential_process`` output from a plain sts:AssumeRole.

This package is a client of the server: it imports nothing else of iamroles.
"""
from __future__ import annotations

from .client import (
    Caller,
    RoleCredentials,
    ServiceCredentialsClient,
    ServiceCredentialsRequest,
    WorkloadError,
    caller,
)
from .container import ContainerCredentialsEndpoint, container_document
from .imds import InstanceMetadataEndpoint, imds_document
from .process import assume_role_document
from .refresh import CredentialCache, refresh_margin
from .run import CommandNotRunnable, child_environment, run_child, run_with_role

__all__ = [
    "Caller",
    "CommandNotRunnable",
    "ContainerCredentialsEndpoint",
    "CredentialCache",
    "InstanceMetadataEndpoint",
    "RoleCredentials",
    "ServiceCredentialsClient",
    "ServiceCredentialsRequest",
    "WorkloadError",
    "assume_role_document",
    "caller",
    "child_environment",
    "container_document",
    "imds_document",
    "refresh_margin",
    "run_child",
    "run_with_role",
]
