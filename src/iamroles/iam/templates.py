"""Role templates: GetRoleTemplateVersion and AcquireRole.

AWS references: https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetRoleTemplateVersion.html,
https://docs.aws.amazon.com/IAM/latest/APIReference/API_AcquireRole.html; the ARN format is the Service
Authorization Reference's (``arn:${Partition}:iam::aws:role-template/${AWSServicePrincipal}/${RoleTemplateName}:
${RoleTemplateMajorVersion}``, iamroles.catalog).

Role templates are AWS's, each managed by an AWS service (``ManagedByType: Service``), and AWS publishes neither
their list nor their contents. iamroles ships none, so it serves both operations as AWS answers for a template that
does not exist: the ARN is checked (InvalidInput for one that is not a role template's, or of another partition),
the call is authorised against it (``iam:GetRoleTemplateVersion``, ``iam:AcquireRole``) and audited, and the answer
is NoSuchEntity. Nothing is created.
"""
from __future__ import annotations

import re

from iamroles.errors import InvalidInput, NoSuchEntity

from .context import CallContext
from .registry import Input, Output, operation

__all__ = ["TEMPLATE_ARN"]

TEMPLATE_ARN = re.compile(r"^arn:(?P<partition>[a-z-]+):iam::aws:role-template/(?P<service>[a-z0-9.-]+)/"
                          r"(?P<name>[\w+=,.\-]{1,128}):(?P<major>[0-9]{1,9})$")


def _template(ctx: CallContext, inp: Input) -> str:
    arn = str(inp.get("TemplateArn", ""))
    m = TEMPLATE_ARN.match(arn)
    if m is None:
        raise InvalidInput(f"TemplateArn {arn[:2048]} is not the ARN of a role template "
                           "(arn:PARTITION:iam::aws:role-template/SERVICE/NAME:MAJOR).")
    if m["partition"] != ctx.partition:
        raise InvalidInput(f"TemplateArn {arn} is not of partition {ctx.partition}.")
    return arn


def _minor(inp: Input, name: str) -> None:
    minor = inp.get(name)
    if minor is not None and minor < 0:
        raise InvalidInput(f"{name} must be 0 or more.")


@operation("GetRoleTemplateVersion", resource=_template)
def get_role_template_version(ctx: CallContext, inp: Input) -> Output:
    _minor(inp, "MinorVersion")
    raise NoSuchEntity(f"The role template {inp['TemplateArn']} cannot be found.")


@operation("AcquireRole", resource=_template, write=True)
def acquire_role(ctx: CallContext, inp: Input) -> Output:
    _minor(inp, "TemplateMinorVersion")
    for name, entry in (inp.get("ReplacementValues") or {}).items():
        if not name:
            raise InvalidInput("ReplacementValues' keys name template parameters: an empty one names none.")
        del entry
    raise NoSuchEntity(f"The role template {inp['TemplateArn']} cannot be found.")
