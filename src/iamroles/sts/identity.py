"""GetCallerIdentity: who the credentials belong to; needs no permission (as on AWS)."""
from __future__ import annotations

from iamroles.iam.context import CallContext
from iamroles.iam.registry import Input, Output, operation

__all__: list[str] = []


@operation("GetCallerIdentity", resource=None, service="sts")
def get_caller_identity(ctx: CallContext, inp: Input) -> Output:
    p = ctx.caller.principal
    return {"UserId": p.user_id or ctx.account_id, "Account": ctx.account_id, "Arn": p.arn}
