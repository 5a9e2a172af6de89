"""What AWS Organizations' documentation says about which requests its resource control policies bound: the
services whose actions RCPs apply to, the actions they do not, and the service-linked roles they leave alone. Shared
by the enforcement (``iam.authorize``) and the analyses (``analysis.orgs``), so both bound the same requests.
"""
from __future__ import annotations

__all__ = ["RCP_SERVICES", "rcp_applies", "service_linked"]

# "RCPs apply to actions for the following AWS services" (orgs_manage_policies_rcps.html#rcp-supported-services): the
# prefixes an RCP may name, and the only actions RCPs bound (IAM's own, iam:*, are not among them)
RCP_SERVICES = frozenset({
    "appstream", "dsql", "clouddirectory", "cloudfront", "cloudsearch", "logs", "networkmonitor", "cognito-identity",
    "cognito-idp", "comprehend", "comprehendmedical", "firehose", "dynamodb", "dax", "autoscaling", "ecr", "ecr-public",
    "gamelift", "inspector-scan", "kendra", "kinesisvideo", "memorydb", "aoss", "personalize", "polly", "s3", "swf",
    "sqs", "textract", "timestream-influxdb", "transcribe", "translate", "workspaces", "appconfig", "autoscaling-plans",
    "budgets", "servicediscovery", "cloudtrail-data", "codeartifact", "codebuild", "codecommit", "codepipeline",
    "compute-optimizer", "cost-optimization-hub", "events", "fms", "fis", "health", "rolesanywhere", "kms",
    "opensearch", "pricing", "pca-connector-ad", "resource-groups", "secretsmanager", "sts", "signin", "support",
    "transfer", "notifications", "wafv2", "xray",
})
# "RCPs do not impact the following permissions": kms:RetireGrant (orgs_manage_policies_rcps.html)
_RCP_EXEMPT_ACTIONS = frozenset({"kms:retiregrant"})
_SERVICE_LINKED = ":role/aws-service-role/"


def service_linked(role_arn: str | None) -> bool:
    """Is ``role_arn`` a service-linked role's (only they live under /aws-service-role/: CreateRole refuses it)?"""
    return role_arn is not None and _SERVICE_LINKED in role_arn


def rcp_applies(action: str, resource: str, caller_role_arn: str | None) -> bool:
    """Do the RCPs of ``resource``'s account bound this request (orgs_manage_policies_rcps.html)? Only actions of the
    services RCPs support, on a resource ("RCPs apply to the resources that are authorized as part of an operation
    request": an action on ``*`` authorises none), not kms:RetireGrant, not by a service-linked role ("RCPs do not
    apply to calls made by service-linked roles") and not on one ("the service-linked role's trust policy is also not
    impacted by RCPs")."""
    if resource == "*":
        return False
    vendor, _, _ = action.partition(":")
    if vendor.lower() not in RCP_SERVICES or action.lower() in _RCP_EXEMPT_ACTIONS:
        return False
    return not (service_linked(caller_role_arn) or (resource.startswith("arn:") and ":iam::" in resource and service_linked(resource)))
