"""Service-linked roles: CreateServiceLinkedRole, DeleteServiceLinkedRole, GetServiceLinkedRoleDeletionStatus.

A service-linked role is a role that an AWS service owns in the account: it lives under
``/aws-service-role/<service principal>/``, its name is the one the service documents (``AWSServiceRoleFor...``,
with ``_<CustomSuffix>`` where the service allows one), it trusts the service principal only, it has the service's
managed policy attached, and nobody else may change or delete it: the role operations answer UnmodifiableEntity for
it (``common.refuse_service_linked``), and only DeleteServiceLinkedRole deletes it.

AWS references: https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateServiceLinkedRole.html,
API_DeleteServiceLinkedRole.html (a deletion task id ``task/aws-service-role/<service-principal-name>/<role-name>/
<task-uuid>``), API_GetServiceLinkedRoleDeletionStatus.html,
https://docs.aws.amazon.com/IAM/latest/UserGuide/using-service-linked-roles.html (the description of a
service-linked role may be edited, nothing else); IAM's answers "Service role name AWSServiceRoleForECS has been
taken in this account, please try a different suffix." and "Custom suffix is not allowed for es.amazonaws.com"
(both InvalidInput, as users report them: Rayraegah/terraform-aws-hasura#17,
terraform-community-modules/tf_aws_elasticsearch#23). The Service Authorization Reference for IAM: the three
actions act on ``role*``; CreateServiceLinkedRole has the condition key ``iam:AWSServiceName``.
"""
from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

from iamroles.errors import InvalidInput, NoSuchEntity
from iamroles.store import Duplicate, Role
from iamroles.store.aws_managed import AWS_POLICY_PREFIX, in_partition
from iamroles.tokens import new_unique_id

from .common import SERVICE_ROLE_PATH, account_quota, get_entity, is_service_linked, lock_account
from .context import CallContext
from .registry import Input, Output, operation
from .roles import role_out

__all__ = ["LINKED_SERVICES", "LinkedService", "linked_role_name"]

MAX_ROLE_NAME = 64  # roleNameType


@dataclass(frozen=True, slots=True)
class LinkedService:
    """What a service's documentation says of its service-linked role: its name, the AWS managed policy (under
    ``policy/aws-service-role/``) it has, and whether CreateServiceLinkedRole takes a CustomSuffix for it."""

    role_name: str
    policy: str
    suffix: bool = False


# The services whose service-linked role iamroles creates, by service principal, as each service's
# "Using service-linked roles" page names them (reference_aws-services-that-work-with-iam.html links them); every
# policy is in the AWS managed policy catalogue shipped with iamroles (tests/server/test_service_linked_roles.py
# holds that). Auto Scaling documents custom suffixes (AWSServiceRoleForAutoScaling_<suffix>); the others' pages
# document one role each.
LINKED_SERVICES: dict[str, LinkedService] = {
    "access-analyzer.amazonaws.com": LinkedService("AWSServiceRoleForAccessAnalyzer", "AccessAnalyzerServiceRolePolicy"),
    "autoscaling.amazonaws.com": LinkedService("AWSServiceRoleForAutoScaling", "AutoScalingServiceRolePolicy", suffix=True),
    "backup.amazonaws.com": LinkedService("AWSServiceRoleForBackup", "AWSBackupServiceLinkedRolePolicyForBackup"),
    "cloudtrail.amazonaws.com": LinkedService("AWSServiceRoleForCloudTrail", "CloudTrailServiceRolePolicy"),
    "config.amazonaws.com": LinkedService("AWSServiceRoleForConfig", "AWSConfigServiceRolePolicy"),
    "dynamodb.application-autoscaling.amazonaws.com": LinkedService(
        "AWSServiceRoleForApplicationAutoScaling_DynamoDBTable", "AWSApplicationAutoscalingDynamoDBTablePolicy"),
    "ec2fleet.amazonaws.com": LinkedService("AWSServiceRoleForEC2Fleet", "AWSEC2FleetServiceRolePolicy"),
    "ecs.amazonaws.com": LinkedService("AWSServiceRoleForECS", "AmazonECSServiceRolePolicy"),
    "ecs.application-autoscaling.amazonaws.com": LinkedService(
        "AWSServiceRoleForApplicationAutoScaling_ECSService", "AWSApplicationAutoscalingECSServicePolicy"),
    "eks.amazonaws.com": LinkedService("AWSServiceRoleForAmazonEKS", "AmazonEKSServiceRolePolicy"),
    "eks-nodegroup.amazonaws.com": LinkedService("AWSServiceRoleForAmazonEKSNodegroup", "AWSServiceRoleForAmazonEKSNodegroup"),
    "elasticache.amazonaws.com": LinkedService("AWSServiceRoleForElastiCache", "ElastiCacheServiceRolePolicy"),
    "elasticbeanstalk.amazonaws.com": LinkedService("AWSServiceRoleForElasticBeanstalk", "AWSElasticBeanstalkServiceRolePolicy"),
    "elasticloadbalancing.amazonaws.com": LinkedService("AWSServiceRoleForElasticLoadBalancing",
                                                        "AWSElasticLoadBalancingServiceRolePolicy"),
    "es.amazonaws.com": LinkedService("AWSServiceRoleForAmazonElasticsearchService", "AmazonElasticsearchServiceRolePolicy"),
    "guardduty.amazonaws.com": LinkedService("AWSServiceRoleForAmazonGuardDuty", "AmazonGuardDutyServiceRolePolicy"),
    "kafka.amazonaws.com": LinkedService("AWSServiceRoleForKafka", "KafkaServiceRolePolicy"),
    "opensearchservice.amazonaws.com": LinkedService("AWSServiceRoleForAmazonOpenSearchService",
                                                     "AmazonOpenSearchServiceRolePolicy"),
    "organizations.amazonaws.com": LinkedService("AWSServiceRoleForOrganizations", "AWSOrganizationsServiceTrustPolicy"),
    "rds.amazonaws.com": LinkedService("AWSServiceRoleForRDS", "AmazonRDSServiceRolePolicy"),
    "redshift.amazonaws.com": LinkedService("AWSServiceRoleForRedshift", "AmazonRedshiftServiceLinkedRolePolicy"),
    "securityhub.amazonaws.com": LinkedService("AWSServiceRoleForSecurityHub", "AWSSecurityHubServiceRolePolicy"),
    "spot.amazonaws.com": LinkedService("AWSServiceRoleForEC2Spot", "AWSEC2SpotServiceRolePolicy"),
    "spotfleet.amazonaws.com": LinkedService("AWSServiceRoleForEC2SpotFleet", "AWSEC2SpotFleetServiceRolePolicy"),
    "ssm.amazonaws.com": LinkedService("AWSServiceRoleForAmazonSSM", "AmazonSSMServiceRolePolicy"),
    "sso.amazonaws.com": LinkedService("AWSServiceRoleForSSO", "AWSSSOServiceRolePolicy"),
    "support.amazonaws.com": LinkedService("AWSServiceRoleForSupport", "AWSSupportServiceRolePolicy"),
    "transitgateway.amazonaws.com": LinkedService("AWSServiceRoleForVPCTransitGateway", "AWSVPCTransitGatewayServiceRolePolicy"),
    "trustedadvisor.amazonaws.com": LinkedService("AWSServiceRoleForTrustedAdvisor", "AWSTrustedAdvisorServiceRolePolicy"),
}

# DeleteServiceLinkedRole's task id: task/aws-service-role/<service principal>/<role name>/<task uuid>
_TASK = re.compile(r"task/aws-service-role/([\w.-]+)/([\w+=,.@-]+)/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")


def linked_role_name(service: LinkedService, suffix: str | None) -> str:
    return f"{service.role_name}_{suffix}" if suffix else service.role_name


def _service(name: str) -> LinkedService:
    found = LINKED_SERVICES.get(name)
    if found is None:
        raise InvalidInput(f"Invalid ServiceName: {name} is not a service iamroles creates service-linked roles for "
                           f"(those are: {', '.join(sorted(LINKED_SERVICES))}).")
    return found


def _trust(service: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}, separators=(",", ":"))


def _create_resource(ctx: CallContext, inp: Input) -> str:
    """The ARN the role would have (a service iamroles does not know still names its path and principal)."""
    service = str(inp.get("AWSServiceName", ""))
    known = LINKED_SERVICES.get(service)
    name = linked_role_name(known, inp.get("CustomSuffix")) if known else ""
    return ctx.arn(f"role{SERVICE_ROLE_PATH}{service}/{name}")


def _create_keys(ctx: CallContext, inp: Input) -> dict[str, Any]:
    return {"iam:AWSServiceName": inp.get("AWSServiceName", "")}


@operation("CreateServiceLinkedRole", resource=_create_resource, keys=_create_keys, write=True)
def create_service_linked_role(ctx: CallContext, inp: Input) -> Output:
    principal = inp["AWSServiceName"]
    service = _service(principal)
    suffix = inp.get("CustomSuffix")
    if suffix and not service.suffix:
        raise InvalidInput(f"Custom suffix is not allowed for {principal}")
    name = linked_role_name(service, suffix)
    if len(name) > MAX_ROLE_NAME:
        raise InvalidInput(f"The role name {name} would be longer than {MAX_ROLE_NAME} characters: use a shorter CustomSuffix.")
    path = f"{SERVICE_ROLE_PATH}{principal}/"
    taken = InvalidInput(f"Service role name {name} has been taken in this account, please try a different suffix.")
    lock_account(ctx)
    if ctx.tx.entity("role", ctx.account_id, name) is not None:
        raise taken
    account_quota(ctx, "RolesPerAccount")
    role = Role(
        account_id=ctx.account_id,
        name=name,
        id=new_unique_id("AROA"),
        path=path,
        arn=ctx.arn(f"role{path}{name}"),
        created_at=ctx.now,
        trust_policy=_trust(principal),
        description=inp.get("Description"),
        max_session_duration=3600,
    )
    try:
        ctx.tx.insert_entity("role", role)
    except Duplicate:  # (the name taken meanwhile: the account's lock makes it unlikely, the unique key decides)
        raise taken from None
    policy = in_partition(f"{AWS_POLICY_PREFIX}aws-service-role/{service.policy}", ctx.partition)
    if ctx.tx.policy(policy, for_share=True) is not None:
        ctx.tx.attach(ctx.account_id, "role", role.key, policy)
    out = role_out(ctx, role)
    out.pop("RoleLastUsed")
    return {"Role": out}


def _linked_role(ctx: CallContext, name: str, for_update: bool = False) -> Role:
    role: Role = get_entity(ctx, "role", name, for_update=for_update)
    if not is_service_linked(role):
        raise NoSuchEntity(f"The role with name {role.name} is not a service-linked role.")
    return role


@operation("DeleteServiceLinkedRole", resource=lambda ctx, inp: _role_arn(ctx, inp.get("RoleName", "")), write=True)
def delete_service_linked_role(ctx: CallContext, inp: Input) -> Output:
    """The role, with everything it has (its policies, tags, instance profiles), deleted at once: the deletion task
    succeeds as it is made (iamroles runs no service that could still be using the role)."""
    role = _linked_role(ctx, inp["RoleName"], for_update=True)
    tx, account = ctx.tx, ctx.account_id
    for profile in tx.profiles_of_role(account, role.key):
        tx.remove_profile_role(account, profile, role.key)
    tx.delete_attachments(account, "role", role.key)
    tx.delete_inlines(account, "role", role.key)
    tx.delete_entity("role", account, role.key)  # (and its tags)
    service = role.path[len(SERVICE_ROLE_PATH):].strip("/")
    task = f"task/aws-service-role/{service}/{role.name}/{uuid.uuid4()}"
    tx.insert_role_deletion(task, account, role.arn, "SUCCEEDED", ctx.now)
    return {"DeletionTaskId": task}


def _role_arn(ctx: CallContext, name: str) -> str:
    """A role's ARN as DeleteServiceLinkedRole is authorised against it: the role's, or (none of that name) a role
    of that name."""
    found = ctx.tx.entity("role", ctx.account_id, name) if name else None
    return str(found.arn) if found is not None else ctx.arn(f"role/{name}")


def _task_resource(ctx: CallContext, inp: Input) -> str:
    """The role a deletion task is of: the ARN its id names (a malformed id: any role under the service path)."""
    matched = _TASK.fullmatch(str(inp.get("DeletionTaskId", "")))
    if matched is None:
        return ctx.arn(f"role{SERVICE_ROLE_PATH}")
    return ctx.arn(f"role{SERVICE_ROLE_PATH}{matched.group(1)}/{matched.group(2)}")


@operation("GetServiceLinkedRoleDeletionStatus", resource=_task_resource)
def get_service_linked_role_deletion_status(ctx: CallContext, inp: Input) -> Output:
    task_id = inp["DeletionTaskId"]
    if _TASK.fullmatch(task_id) is None:
        raise InvalidInput(f"Invalid deletion task id: {task_id}. It has the form "
                           "task/aws-service-role/<service-principal-name>/<role-name>/<task-uuid>.")
    task = ctx.tx.role_deletion(task_id)
    if task is None or task["account_id"] != ctx.account_id:
        raise NoSuchEntity(f"Deletion task {task_id} cannot be found.")
    return {"Status": task["status"]}
