"""The simulator answers as the evaluator decides, on every decision-logic case of tests/policy/cases/eval.

Each case (a request under policies of several types, with AWS's decision, citing its page) is sent to a real
server's SimulateCustomPolicy (API_SimulateCustomPolicy.html) with boto3: identity policies as PolicyInputList, the
boundary as PermissionsBoundaryPolicyInputList, the resource-based policy as ResourcePolicy with the caller as
CallerArn and the resource's account as ResourceOwner, SCP levels as OrderedOrganizationPolicyInputList, the
context (with the request's time as aws:CurrentTime and aws:EpochTime, and the caller's facts its ARN does not
give, such as its tags and unique id) as typed ContextEntries. Its EvalDecision must be the case's expected
decision, which tests/policy/test_cases.py holds the evaluator to.

What the API cannot express, and so is not sent (``_inexpressible`` says which, and the test counts them):

* session policies: "The policies cannot be 'scope-down' policies, such as you could include in a call to
  GetFederationToken or one of the AssumeRole API operations" (PolicyInputList);
* resource control policies: the API takes SCP levels only;
* role trust policies and key policies that must grant by themselves (and a trust policy's pinned principals):
  "Simulation of resource-based policies isn't supported for IAM roles" (ResourcePolicy), and a ResourcePolicy is
  an ordinary resource-based policy;
* callers other than IAM users: "You cannot specify the ARN of an assumed role, federated user, or a service
  principal" (CallerArn), nor the account root, anonymous or web-identity callers;
* a resource whose ARN names an account other than the case's resource account: ResourceOwner applies only to
  resources "that [do] not identify [their] owner in the resource ARN".
"""
from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from typing import Any

from iamroles.policy import Principal, PrincipalType
from iamroles.policy.request import _time_keys

from ..policy.conftest import load_cases
from .conftest import Server

CASES = load_cases("eval")
_DECISION = {"Allow": "allowed", "ExplicitDeny": "explicitDeny", "ImplicitDeny": "implicitDeny"}


def _inexpressible(case: dict[str, Any]) -> str | None:
    policies, spec = case["policies"], case["principal"]
    if policies.get("session"):
        return "session policies"
    if policies.get("rcp"):
        return "resource control policies"
    if policies.get("trust") is not None or policies.get("resource_must_grant") or policies.get("resource_pins"):
        return "trust or key policies (must grant by themselves)"
    if len(policies.get("scp", ())) > 7:
        return "more SCP levels than the API's 7"
    principal = Principal.from_dict(spec)
    if principal.type is not PrincipalType.USER:
        return f"caller of type {principal.type.value}"
    resource = case["resource"]
    parts = resource.split(":", 5)
    owner = case.get("resource_account") or principal.account
    if len(parts) == 6 and parts[4] and parts[4] != owner:
        return "a resource ARN naming another owner than the resource account"
    return None


def _entry(name: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"ContextKeyName": name, "ContextKeyValues": ["true" if value else "false"], "ContextKeyType": "boolean"}
    if isinstance(value, (int, float)):
        return {"ContextKeyName": name, "ContextKeyValues": [str(value)], "ContextKeyType": "numeric"}
    if isinstance(value, (list, tuple)):
        return {"ContextKeyName": name, "ContextKeyValues": [str(v) for v in value], "ContextKeyType": "stringList"}
    return {"ContextKeyName": name, "ContextKeyValues": [str(value)], "ContextKeyType": "string"}


def _params(case: dict[str, Any]) -> dict[str, Any]:
    policies, spec = case["policies"], case["principal"]
    principal = Principal.from_dict(spec)
    params: dict[str, Any] = {
        "PolicyInputList": [json.dumps(d) for d in policies.get("identity", [])],
        "ActionNames": [case["action"]],
        "ResourceArns": [case["resource"]],
        "CallerArn": principal.arn,
        "ResourceOwner": f"arn:aws:iam::{case.get('resource_account') or principal.account}:root",
    }
    if policies.get("boundary"):
        params["PermissionsBoundaryPolicyInputList"] = [json.dumps(policies["boundary"])]
    if policies.get("resource"):
        params["ResourcePolicy"] = json.dumps(policies["resource"])
    if policies.get("scp"):
        params["OrderedOrganizationPolicyInputList"] = [
            {"ServiceControlPolicyInputList": [json.dumps(d) for d in level]} for level in policies["scp"]]
    context: dict[str, Any] = {}
    # the caller's facts its ARN alone does not give (tags, unique id): what the simulator would not know
    assert principal.arn is not None
    plain = Principal.from_arn(principal.arn).keys
    for key, value in principal.keys.items():
        if plain.get(key) != value:
            context[key] = value
    if "time" in case:
        current, epoch = _time_keys(datetime.fromisoformat(case["time"].replace("Z", "+00:00")))
        context["aws:currenttime"], context["aws:epochtime"] = current, epoch
    for key, value in case.get("context", {}).items():
        context[key.lower()] = value
    params["ContextEntries"] = [_entry(k, v) for k, v in context.items()]
    return params


def test_the_simulator_answers_every_expressible_case_as_the_evaluator(server: Server) -> None:
    iam: Any = server.client("iam")
    skipped: Counter[str] = Counter()
    wrong: list[str] = []
    for case_id, case in CASES:
        reason = _inexpressible(case)
        if reason is not None:
            skipped[reason] += 1
            continue
        params = _params(case)
        if not params["PolicyInputList"]:  # the API requires one: an identity policy allowing nothing stands for none
            params["PolicyInputList"] = [json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "none:none", "Resource": "*"}]})]
        out = iam.simulate_custom_policy(**params)
        (result,) = out["EvaluationResults"]
        (one,) = result["ResourceSpecificResults"]
        expected = _DECISION[case["expect"]]
        if result["EvalDecision"] != expected or one["EvalResourceDecision"] != expected:
            wrong.append(f"{case_id}: simulator {result['EvalDecision']}, expected {expected}")
        elif expected != "implicitDeny" and not result["MatchedStatements"] and not (
                expected == "explicitDeny" and case.get("denied_by") in ("scp", "rcp")):
            wrong.append(f"{case_id}: {expected} with no matched statement")
    assert not wrong, "\n".join(wrong)
    sent = len(CASES) - sum(skipped.values())
    print(f"{sent} of {len(CASES)} cases simulated; not expressible: {dict(skipped)}")
    assert sent >= 480, skipped
    assert set(skipped) <= {
        "session policies", "resource control policies", "trust or key policies (must grant by themselves)",
        *(f"caller of type {t.value}" for t in PrincipalType if t is not PrincipalType.USER), "a resource ARN naming another owner than the resource account",
        "more SCP levels than the API's 7",
    }
