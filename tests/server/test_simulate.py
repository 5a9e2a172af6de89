"""IAM's policy simulator over the wire, on a real server (SQLite and PostgreSQL), driven by boto3.

Pages: API_SimulateCustomPolicy, API_SimulatePrincipalPolicy, API_GetContextKeysForCustomPolicy,
API_GetContextKeysForPrincipalPolicy (below by name), the CLI reference's examples of simulate-custom-policy and
get-context-keys-for-custom-policy (their outputs are asserted as given), and the model's shapes (botocore's
service-2.json: EvaluationResult, ResourceSpecificResult, ContextEntry).
"""
from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import Server, unique
from .test_audit import execute, read_trail, request_id

CUSTOM = "https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulateCustomPolicy.html"
PRINCIPAL = "https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulatePrincipalPolicy.html"
KEYS_PRINCIPAL = "https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetContextKeysForPrincipalPolicy.html"
KEYS_CUSTOM = "https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetContextKeysForCustomPolicy.html"
CLI_SIMULATE = "https://docs.aws.amazon.com/cli/latest/reference/iam/simulate-custom-policy.html"
CLI_KEYS = "https://docs.aws.amazon.com/cli/latest/reference/iam/get-context-keys-for-custom-policy.html"
CONDITION = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition.html"

OTHER = "444455556666"


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def code_of(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def results(out: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["EvalActionName"]: r for r in out["EvaluationResults"]}


# -- decisions, statements and their positions ---------------------------------------------------------------------------

def test_the_cli_references_example_allowed_then_implicitly_denied(server: Server) -> None:
    """CLI_SIMULATE, examples 1 and 2, asserted as AWS prints them: the statement's Line 1, Columns 38 to 167."""
    iam: Any = server.client("iam")
    policy = ('{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":"*",'
              '"Condition":{"DateGreaterThan":{"aws:CurrentTime":"2018-08-16T12:00:00Z"}}}}')

    def when(date: str) -> dict[str, Any]:
        out = iam.simulate_custom_policy(PolicyInputList=[policy], ActionNames=["dynamodb:CreateBackup"], ContextEntries=[
            {"ContextKeyName": "aws:CurrentTime", "ContextKeyValues": [date], "ContextKeyType": "date"}])
        assert out["IsTruncated"] is False
        return dict(out["EvaluationResults"][0])

    assert when("2019-04-25T11:00:00Z") == {
        "EvalActionName": "dynamodb:CreateBackup", "EvalResourceName": "*", "EvalDecision": "allowed",
        "MatchedStatements": [{"SourcePolicyId": "PolicyInputList.1", "SourcePolicyType": "IAM Policy",
                               "StartPosition": {"Line": 1, "Column": 38}, "EndPosition": {"Line": 1, "Column": 167}}],
        "MissingContextValues": []}
    assert when("2014-04-25T11:00:00Z") == {
        "EvalActionName": "dynamodb:CreateBackup", "EvalResourceName": "*", "EvalDecision": "implicitDeny",
        "MatchedStatements": [], "MissingContextValues": []}


def test_an_explicit_deny_names_its_deny_statement_only_with_positions_across_lines(server: Server) -> None:
    """EvaluationResult.MatchedStatements: "if only one statement denies that operation, then the explicit deny overrides
    any allow. In addition, the deny statement is the only entry included"; positions are per line (CUSTOM)."""
    iam: Any = server.client("iam")
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        allow("s3:*"), deny("s3:DeleteObject")]}, indent=2)
    out = results(iam.simulate_custom_policy(PolicyInputList=[policy],
                                             ActionNames=["s3:GetObject", "s3:DeleteObject", "ec2:RunInstances"]))
    assert out["s3:GetObject"]["EvalDecision"] == "allowed"
    assert out["s3:DeleteObject"]["EvalDecision"] == "explicitDeny"
    assert out["ec2:RunInstances"]["EvalDecision"] == "implicitDeny" and out["ec2:RunInstances"]["MatchedStatements"] == []
    lines = policy.splitlines()
    first, second = out["s3:GetObject"]["MatchedStatements"], out["s3:DeleteObject"]["MatchedStatements"]
    assert len(first) == 1 and len(second) == 1
    # the first statement runs from just after '[' to just after its '}'; the second from there to just after its own
    assert first[0]["StartPosition"] == {"Line": 3, "Column": lines[2].index("[") + 2}
    end_line = next(i for i, line in enumerate(lines) if line == "    },") + 1
    assert first[0]["EndPosition"] == {"Line": end_line, "Column": 6}
    assert second[0]["StartPosition"] == first[0]["EndPosition"]
    assert second[0]["EndPosition"]["Line"] == len(lines) - 2


def test_every_result_is_the_evaluators_for_each_resource_and_the_most_restrictive_on_top(server: Server) -> None:
    """EvaluationResult: one result per action; "The top-level EvalDecision reflects the most restrictive decision across
    all resources"; EvalResourceName is the ARN format of the action's resource type; ResourceSpecificResults per
    resource (CUSTOM)."""
    iam: Any = server.client("iam")
    policy = doc(allow("s3:GetObject", "arn:aws:s3:::b/public/*"), deny("s3:GetObject", "arn:aws:s3:::b/secret/*"))
    resources = ["arn:aws:s3:::b/public/a", "arn:aws:s3:::b/other/a", "arn:aws:s3:::b/secret/a"]
    (top,) = iam.simulate_custom_policy(PolicyInputList=[policy], ActionNames=["s3:GetObject"],
                                        ResourceArns=resources)["EvaluationResults"]
    assert top["EvalResourceName"] == "arn:${Partition}:s3:::${BucketName}/${ObjectName}"
    assert top["EvalDecision"] == "explicitDeny"
    assert [(r["EvalResourceName"], r["EvalResourceDecision"]) for r in top["ResourceSpecificResults"]] == [
        (resources[0], "allowed"), (resources[1], "implicitDeny"), (resources[2], "explicitDeny")]
    assert len(top["MatchedStatements"]) == 2  # the union: the allow of the first, the deny of the third
    # within the account, with resources named, EvalDecisionDetails is present and empty (EvaluationResult)
    assert top["EvalDecisionDetails"] == {}
    (two,) = iam.simulate_custom_policy(PolicyInputList=[policy], ActionNames=["s3:GetObject"],
                                        ResourceArns=resources[:2])["EvaluationResults"]
    assert two["EvalDecision"] == "implicitDeny"


# -- missing context values ------------------------------------------------------------------------------------------------

def test_missing_context_values_are_the_keys_the_matching_statements_read(server: Server) -> None:
    """MissingContextValues: "context keys that are required by the included input policies but that were not provided";
    the statements of other actions or resources do not count (the case of boto3 issue 3111); key names are
    case-insensitive (CONDITION); with ResourceArns they are listed per resource (CUSTOM)."""
    iam: Any = server.client("iam")
    policy = doc(
        allow("s3:ListBucket", "arn:aws:s3:::example-bucket",
              Condition={"StringLike": {"aws:PrincipalTag/allowed_service": "s3"}, "IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
        allow("s3:GetObject", "arn:aws:s3:::example-bucket/${aws:username}"),
        allow("s3:ListBucket", "arn:aws:s3:::another-bucket", Condition={"Bool": {"aws:SecureTransport": "true"}}),
    )
    (r,) = iam.simulate_custom_policy(PolicyInputList=[policy], ActionNames=["s3:ListBucket"],
                                      ResourceArns=["arn:aws:s3:::example-bucket"])["EvaluationResults"]
    assert r["EvalDecision"] == "implicitDeny"
    assert r["MissingContextValues"] == ["aws:PrincipalTag/allowed_service", "aws:SourceIp"]
    assert r["ResourceSpecificResults"][0]["MissingContextValues"] == ["aws:PrincipalTag/allowed_service", "aws:SourceIp"]
    given = iam.simulate_custom_policy(PolicyInputList=[policy], ActionNames=["s3:ListBucket"], ResourceArns=[
        "arn:aws:s3:::example-bucket"], ContextEntries=[
        {"ContextKeyName": "AWS:PRINCIPALTAG/Allowed_Service", "ContextKeyValues": ["s3"], "ContextKeyType": "string"},
        {"ContextKeyName": "aws:sourceip", "ContextKeyValues": ["10.1.2.3"], "ContextKeyType": "ip"}])["EvaluationResults"][0]
    assert given["EvalDecision"] == "allowed" and given["MissingContextValues"] == []
    (obj,) = iam.simulate_custom_policy(PolicyInputList=[policy], ActionNames=["s3:GetObject"])["EvaluationResults"]
    # no caller: no user name, so the variable's statement matches nothing and aws:username is missing
    assert obj["EvalDecision"] == "implicitDeny" and obj["MissingContextValues"] == ["aws:username"]
    named = iam.simulate_custom_policy(PolicyInputList=[policy], ActionNames=["s3:GetObject"], ResourceArns=[
        "arn:aws:s3:::example-bucket/alice"], CallerArn=f"arn:aws:iam::{server.account}:user/alice")["EvaluationResults"][0]
    assert named["EvalDecision"] == "allowed" and named["MissingContextValues"] == []


# -- context entries and their types ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("operator", "key", "kind", "values", "allowed"), [
    ("NumericLessThan", "s3:max-keys", "numeric", ["10"], True),
    ("NumericLessThan", "s3:max-keys", "numeric", ["100"], False),
    ("Bool", "aws:SecureTransport", "boolean", ["TRUE"], True),
    ("Bool", "aws:SecureTransport", "boolean", ["false"], False),
    ("IpAddress", "aws:SourceIp", "ip", ["192.0.2.7"], True),
    ("IpAddress", "aws:SourceIp", "ip", ["198.51.100.7"], False),
    ("DateLessThan", "aws:CurrentTime", "date", ["2020-01-01T00:00:00Z"], True),
    ("DateLessThan", "aws:CurrentTime", "date", ["1700000000"], True),
    ("DateLessThan", "aws:CurrentTime", "date", ["2031-01-01T00:00:00Z"], False),
    ("StringEquals", "aws:PrincipalTag/team", "string", ["blue"], True),
    ("ForAnyValue:StringEquals", "aws:TagKeys", "stringList", ["red", "blue"], True),
    ("ForAllValues:StringEquals", "aws:TagKeys", "stringList", ["red", "blue"], False),
    ("ForAnyValue:IpAddress", "aws:SourceIp", "ipList", ["203.0.113.1", "192.0.2.9"], True),
    ("NumericEquals", "s3:max-keys", "numericList", ["1", "10"], False),  # a list is no single number
    ("BinaryEquals", "s3:x-amz-content-sha256", "binary", [base64.b64encode(b"abc").decode()], True),
    ("Bool", "aws:MultiFactorAuthPresent", "booleanList", ["true"], True),
    ("DateGreaterThan", "aws:TokenIssueTime", "dateList", ["2024-01-01T00:00:00Z"], True),
])
def test_context_entries_of_every_type(server: Server, operator: str, key: str, kind: str, values: list[str],
                                       allowed: bool) -> None:
    """ContextEntry.ContextKeyType: string, stringList, numeric, numericList, boolean, booleanList, ip, ipList, binary,
    binaryList, date, dateList (the model's ContextKeyTypeEnum); each value is compared by the condition's operator."""
    iam: Any = server.client("iam")
    expected = {
        "s3:max-keys": "50", "aws:SecureTransport": "true", "aws:SourceIp": "192.0.2.0/24", "aws:CurrentTime": "2030-01-01T00:00:00Z",
        "aws:PrincipalTag/team": "blue", "aws:TagKeys": "blue", "s3:x-amz-content-sha256": base64.b64encode(b"abc").decode(),
        "aws:MultiFactorAuthPresent": "true", "aws:TokenIssueTime": "2023-01-01T00:00:00Z",
    }[key]
    policy = doc(allow("s3:ListBucket", Condition={operator: {key: expected}}))
    (r,) = iam.simulate_custom_policy(PolicyInputList=[policy], ActionNames=["s3:ListBucket"], ContextEntries=[
        {"ContextKeyName": key, "ContextKeyValues": values, "ContextKeyType": kind}])["EvaluationResults"]
    assert r["EvalDecision"] == ("allowed" if allowed else "implicitDeny")
    assert r["MissingContextValues"] == []


@pytest.mark.parametrize(("kind", "values"), [
    ("numeric", ["ten"]), ("numericList", ["1", "x"]), ("boolean", ["yes"]), ("ip", ["300.1.2.3"]), ("ipList", ["nope"]),
    ("date", ["yesterday"]), ("binary", ["not base64!"]), ("string", ["a", "b"]), ("numeric", []),
])
def test_a_context_value_not_of_its_type_is_invalid_input(server: Server, kind: str, values: list[str]) -> None:
    iam: Any = server.client("iam")
    with pytest.raises(ClientError) as exc:
        iam.simulate_custom_policy(PolicyInputList=[doc(allow("s3:*"))], ActionNames=["s3:ListBucket"], ContextEntries=[
            {"ContextKeyName": "aws:SomeKey", "ContextKeyValues": values, "ContextKeyType": kind}])
    assert code_of(exc) == "InvalidInput"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_context_entries_must_name_their_key_once_with_its_service(server: Server) -> None:
    iam: Any = server.client("iam")
    for entries in (
        [{"ContextKeyName": "SourceIp", "ContextKeyValues": ["1.2.3.4"], "ContextKeyType": "ip"}],
        [{"ContextKeyName": "aws:SourceIp", "ContextKeyValues": ["1.2.3.4"], "ContextKeyType": "ip"},
         {"ContextKeyName": "AWS:sourceip", "ContextKeyValues": ["5.6.7.8"], "ContextKeyType": "ip"}],
    ):
        with pytest.raises(ClientError) as exc:
            iam.simulate_custom_policy(PolicyInputList=[doc(allow("s3:*"))], ActionNames=["s3:ListBucket"],
                                       ContextEntries=entries)
        assert code_of(exc) == "InvalidInput"


# -- permissions boundaries --------------------------------------------------------------------------------------------------

def test_the_boundary_decision_detail(server: Server) -> None:
    """PermissionsBoundaryDecisionDetail.AllowedByPermissionsBoundary: true when the boundary has an Allow that matches;
    the action is then allowed only if an identity policy allows it too; one boundary at most (CUSTOM)."""
    iam: Any = server.client("iam")
    boundary = doc(allow(["s3:*", "sqs:*"]), deny("sqs:DeleteQueue"))
    out = results(iam.simulate_custom_policy(
        PolicyInputList=[doc(allow(["s3:GetObject", "ec2:RunInstances", "sqs:DeleteQueue"]))],
        PermissionsBoundaryPolicyInputList=[boundary],
        ActionNames=["s3:GetObject", "s3:PutObject", "ec2:RunInstances", "sqs:DeleteQueue"]))
    assert (out["s3:GetObject"]["EvalDecision"], out["s3:GetObject"]["PermissionsBoundaryDecisionDetail"]) == (
        "allowed", {"AllowedByPermissionsBoundary": True})
    assert (out["s3:PutObject"]["EvalDecision"], out["s3:PutObject"]["PermissionsBoundaryDecisionDetail"]) == (
        "implicitDeny", {"AllowedByPermissionsBoundary": True})
    assert (out["ec2:RunInstances"]["EvalDecision"], out["ec2:RunInstances"]["PermissionsBoundaryDecisionDetail"]) == (
        "implicitDeny", {"AllowedByPermissionsBoundary": False})
    assert (out["sqs:DeleteQueue"]["EvalDecision"], out["sqs:DeleteQueue"]["PermissionsBoundaryDecisionDetail"]) == (
        "explicitDeny", {"AllowedByPermissionsBoundary": False})
    (m,) = out["s3:GetObject"]["MatchedStatements"][1:]
    assert m["SourcePolicyId"] == "PermissionsBoundaryPolicyInputList.1" and m["SourcePolicyType"] == "Permissions Boundary Policy"
    assert "PermissionsBoundaryDecisionDetail" not in results(iam.simulate_custom_policy(
        PolicyInputList=[doc(allow("s3:*"))], ActionNames=["s3:GetObject"]))["s3:GetObject"]
    with pytest.raises(ClientError) as exc:
        iam.simulate_custom_policy(PolicyInputList=[doc(allow("s3:*"))], PermissionsBoundaryPolicyInputList=[boundary, boundary],
                                   ActionNames=["s3:GetObject"])
    assert code_of(exc) == "InvalidInput"


def test_a_principals_own_policies_groups_and_boundary(server: Server) -> None:
    """PRINCIPAL: a user's policies with its groups' ("If you specify a user, the simulation also includes all policies
    that are attached to any groups the user belongs to"), named as IAM names them (an inline policy
    user_<user>_<policy>, a managed one by its name); its boundary applies, and a PermissionsBoundaryPolicyInputList
    replaces it ("the new permissions boundary policy is used for the simulation")."""
    iam: Any = server.client("iam")
    user, group = unique("sim-user"), unique("sim-group")
    arn = iam.create_user(UserName=user)["User"]["Arn"]
    iam.put_user_policy(UserName=user, PolicyName="own", PolicyDocument=doc(allow("sqs:SendMessage")))
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=user)
    iam.put_group_policy(GroupName=group, PolicyName="team", PolicyDocument=doc(allow("sns:Publish")))
    iam.attach_user_policy(UserName=user, PolicyArn="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
    managed = iam.create_policy(PolicyName=unique("bound"), PolicyDocument=doc(allow(["sqs:*", "s3:*"])))["Policy"]
    iam.put_user_permissions_boundary(UserName=user, PermissionsBoundary=managed["Arn"])
    actions = ["sqs:SendMessage", "sns:Publish", "s3:GetObject", "ec2:RunInstances"]
    out = results(iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=actions))
    assert out["sqs:SendMessage"]["EvalDecision"] == "allowed"
    assert [m["SourcePolicyId"] for m in out["sqs:SendMessage"]["MatchedStatements"]] == [f"user_{user}_own", managed["PolicyName"]]
    assert [m["SourcePolicyType"] for m in out["sqs:SendMessage"]["MatchedStatements"]] == ["IAM Policy", "Permissions Boundary Policy"]
    assert out["sns:Publish"]["EvalDecision"] == "implicitDeny"  # the group allows it, the boundary does not
    assert out["sns:Publish"]["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": False}
    assert out["s3:GetObject"]["MatchedStatements"][0]["SourcePolicyId"] == "AmazonS3ReadOnlyAccess"
    assert out["ec2:RunInstances"]["EvalDecision"] == "implicitDeny"
    wider = results(iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=actions,
                                                  PermissionsBoundaryPolicyInputList=[doc(allow("*"))]))
    assert wider["sns:Publish"]["EvalDecision"] == "allowed"
    assert wider["sns:Publish"]["MatchedStatements"][0]["SourcePolicyId"] == f"group_{group}_team"
    # PolicyExclusionList: what if a policy were removed (the model's PolicyExclusionsListType)
    without = results(iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=actions, PolicyExclusionList=[
        {"PolicyType": "inline"}, {"PolicyArn": "arn:aws:iam::aws:policy/AmazonS3*"}]))
    assert without["sqs:SendMessage"]["EvalDecision"] == "implicitDeny" and without["s3:GetObject"]["EvalDecision"] == "implicitDeny"
    no_boundary = results(iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=actions, PolicyExclusionList=[
        {"PolicyType": "permission-boundary"}, {"InlinePolicyIdentifier": {
            "PolicyName": "OWN", "AttachmentType": "user", "AttachmentName": user}}]))
    assert no_boundary["sns:Publish"]["EvalDecision"] == "allowed" and "PermissionsBoundaryDecisionDetail" not in no_boundary["sns:Publish"]
    assert no_boundary["sqs:SendMessage"]["EvalDecision"] == "implicitDeny"
    unchecked: Any = server.client("iam", validate=False)
    for bad in ({"PolicyArn": "arn:aws:iam::aws:*:AmazonS3"}, {"PolicyArn": "arn:aws:iam::aws:policy/*S3*"},
                {"PolicyType": "inline", "PolicyArn": "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"}):
        with pytest.raises(ClientError) as exc:  # boto3 would refuse two members of the union itself
            unchecked.simulate_principal_policy(PolicySourceArn=arn, ActionNames=actions, PolicyExclusionList=[bad])
        assert code_of(exc) == "InvalidInput"
    # a group's and a role's policies, and the caller a role simulates as
    garn = iam.get_group(GroupName=group)["Group"]["Arn"]
    assert results(iam.simulate_principal_policy(PolicySourceArn=garn, ActionNames=["sns:Publish"]))["sns:Publish"][
        "EvalDecision"] == "allowed"
    role = unique("sim-role")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": arn}, "Action": "sts:AssumeRole"}]})
    rarn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust, Path="/team/")["Role"]["Arn"]
    iam.put_role_policy(RoleName=role, PolicyName="r", PolicyDocument=doc(allow("s3:GetObject", Condition={
        "StringEquals": {"aws:PrincipalArn": rarn}})))
    (r,) = iam.simulate_principal_policy(PolicySourceArn=rarn, ActionNames=["s3:GetObject"])["EvaluationResults"]
    assert r["EvalDecision"] == "allowed" and r["MatchedStatements"][0]["SourcePolicyId"] == f"role_{role}_r"


@pytest.mark.parametrize("source", [
    "arn:aws:iam::{account}:user/nobody-{n}",
    "arn:aws:iam::{account}:role/nobody-{n}",
    "arn:aws:iam::{account}:group/nobody-{n}",
    "arn:aws:iam::{other}:user/{user}",  # another account's principal is not this account's to read
    "arn:aws:iam::{account}:user/elsewhere/{user}",  # the user exists, not on that path
])
def test_a_principal_that_is_not_there_is_no_such_entity(server: Server, source: str) -> None:
    iam: Any = server.client("iam")
    user = unique("here")
    iam.create_user(UserName=user)
    arn = source.format(account=server.account, other=OTHER, n=unique("x"), user=user)
    for call in (lambda: iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=["s3:GetObject"]),
                 lambda: iam.get_context_keys_for_principal_policy(PolicySourceArn=arn)):
        with pytest.raises(ClientError) as exc:
            call()
        assert code_of(exc) == "NoSuchEntity"
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


# -- resource policies across accounts ---------------------------------------------------------------------------------------

def test_a_resource_policy_with_its_owner_and_caller_across_accounts(server: Server) -> None:
    """CUSTOM: ResourceOwner names the account owning resources whose ARN names none (and the resource policy); the
    resource policy's Principal is matched against CallerArn; across accounts both sides must allow, and
    EvalDecisionDetails says how each answered."""
    iam: Any = server.client("iam")
    caller = f"arn:aws:iam::{server.account}:user/alice"
    bucket = "arn:aws:s3:::shared-bucket/data.csv"
    identity = doc(allow("s3:GetObject"))
    grants = doc({"Effect": "Allow", "Principal": {"AWS": caller}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::shared-bucket/*"})
    grants_bob = grants.replace("user/alice", "user/bob")

    def run(resource_policy: str, policies: list[str], owner: str | None = f"arn:aws:iam::{OTHER}:root") -> dict[str, Any]:
        params: dict[str, Any] = {"PolicyInputList": policies, "ActionNames": ["s3:GetObject"], "ResourceArns": [bucket],
                                  "ResourcePolicy": resource_policy, "CallerArn": caller}
        if owner:
            params["ResourceOwner"] = owner
        return dict(iam.simulate_custom_policy(**params)["EvaluationResults"][0])

    both = run(grants, [identity])
    assert both["EvalDecision"] == "allowed"
    assert both["EvalDecisionDetails"] == {"IAM Policy": "allowed", "Resource Policy": "allowed"}
    assert {m["SourcePolicyId"] for m in both["MatchedStatements"]} == {"ResourcePolicy", "PolicyInputList.1"}
    assert {m["SourcePolicyType"] for m in both["MatchedStatements"]} == {"Resource Policy", "IAM Policy"}
    assert run(grants_bob, [identity])["EvalDecisionDetails"] == {"IAM Policy": "allowed", "Resource Policy": "implicitDeny"}
    assert run(grants_bob, [identity])["EvalDecision"] == "implicitDeny"
    only_resource = run(grants, [doc(allow("sqs:*"))])
    assert only_resource["EvalDecision"] == "implicitDeny"
    assert only_resource["EvalDecisionDetails"] == {"IAM Policy": "implicitDeny", "Resource Policy": "allowed"}
    # within the caller's account (ResourceOwner left out: the caller's) the resource policy alone allows
    same = run(grants, [doc(allow("sqs:*"))], owner=None)
    assert same["EvalDecision"] == "allowed" and same["EvalDecisionDetails"] == {}
    assert run(grants, [identity], owner=server.account)["EvalDecision"] == "allowed"
    # a resource policy needs a caller to match its Principal against; an owner is an account
    for params in ({"ResourcePolicy": grants}, {"ResourceOwner": "arn:aws:iam::12345:root"},
                   {"ResourcePolicy": grants, "CallerArn": f"arn:aws:sts::{server.account}:assumed-role/r/s"},
                   {"ResourcePolicy": grants, "CallerArn": f"arn:aws:iam::{server.account}:group/g"},
                   {"ResourcePolicy": doc(allow("s3:GetObject")), "CallerArn": caller}):
        with pytest.raises(ClientError) as exc:
            iam.simulate_custom_policy(PolicyInputList=[identity], ActionNames=["s3:GetObject"], **params)
        assert code_of(exc) == "InvalidInput", params


def test_service_control_policies_by_level(server: Server) -> None:
    """OrderedOrganizationPolicyInputList (CUSTOM): every level, root first, must allow; OrganizationsDecisionDetail
    says whether they do; their statements are not among MatchedStatements (EvaluationResult)."""
    iam: Any = server.client("iam")
    full = doc(allow("*"))
    out = results(iam.simulate_custom_policy(
        PolicyInputList=[doc(allow("*"))], ActionNames=["s3:GetObject", "ec2:RunInstances", "iam:CreateUser"],
        OrderedOrganizationPolicyInputList=[{"ServiceControlPolicyInputList": [full]},
                                            {"ServiceControlPolicyInputList": [doc(allow(["s3:*", "iam:*"]))]},
                                            {"ServiceControlPolicyInputList": [full, doc(deny("iam:*"))]}]))
    assert out["s3:GetObject"]["EvalDecision"] == "allowed"
    assert out["s3:GetObject"]["OrganizationsDecisionDetail"] == {"AllowedByOrganizations": True}
    assert [m["SourcePolicyId"] for m in out["s3:GetObject"]["MatchedStatements"]] == ["PolicyInputList.1"]
    assert out["ec2:RunInstances"]["EvalDecision"] == "implicitDeny"
    assert out["ec2:RunInstances"]["OrganizationsDecisionDetail"] == {"AllowedByOrganizations": False}
    assert out["iam:CreateUser"]["EvalDecision"] == "explicitDeny" and out["iam:CreateUser"]["MatchedStatements"] == []


def test_resource_handling_options(server: Server) -> None:
    """ResourceHandlingOption (CUSTOM): each EC2 scenario needs an instance, an image, a security group and a network
    interface, and a subnet or a volume when it names one."""
    iam: Any = server.client("iam")
    base = [f"arn:aws:ec2:us-east-1:{server.account}:instance/i-1", "arn:aws:ec2:us-east-1::image/ami-1",
            f"arn:aws:ec2:us-east-1:{server.account}:security-group/sg-1",
            f"arn:aws:ec2:us-east-1:{server.account}:network-interface/eni-1"]
    subnet = f"arn:aws:ec2:us-east-1:{server.account}:subnet/subnet-1"
    policy = doc(allow("ec2:RunInstances"), deny("ec2:RunInstances", "arn:aws:ec2:*:*:subnet/*"))
    ok = iam.simulate_custom_policy(PolicyInputList=[policy], ActionNames=["ec2:RunInstances"], ResourceArns=base,
                                    ResourceHandlingOption="EC2-VPC-InstanceStore")["EvaluationResults"][0]
    assert ok["EvalDecision"] == "allowed" and len(ok["ResourceSpecificResults"]) == 4
    denied = iam.simulate_custom_policy(PolicyInputList=[policy], ActionNames=["ec2:RunInstances"], ResourceArns=base + [subnet],
                                        ResourceHandlingOption="EC2-VPC-InstanceStore-Subnet")["EvaluationResults"][0]
    assert denied["EvalDecision"] == "explicitDeny"  # the launch is denied when any of its resources is
    for option, resources in (("EC2-VPC-InstanceStore", base[:3]), ("EC2-VPC-EBS", base), ("EC2-VPC-EBS-Subnet", base + [subnet]),
                              ("EC2-Classic-InstanceStore", base), ("anything", base)):
        with pytest.raises(ClientError) as exc:
            iam.simulate_custom_policy(PolicyInputList=[policy], ActionNames=["ec2:RunInstances"], ResourceArns=resources,
                                       ResourceHandlingOption=option)
        assert code_of(exc) == "InvalidInput", option


# -- paging ----------------------------------------------------------------------------------------------------------------

def test_results_page_by_max_items_and_marker(server: Server) -> None:
    """MaxItems / Marker / IsTruncated (CUSTOM), and boto3's paginator over them."""
    iam: Any = server.client("iam")
    actions = [f"s3:{a}" for a in ("GetObject", "PutObject", "DeleteObject", "ListBucket", "CreateBucket")]
    params = {"PolicyInputList": [doc(allow("s3:*Object"))], "ActionNames": actions}
    seen, marker, pages = [], None, 0
    while True:
        out = iam.simulate_custom_policy(**params, MaxItems=2, **({"Marker": marker} if marker else {}))
        pages += 1
        seen += [(r["EvalActionName"], r["EvalDecision"]) for r in out["EvaluationResults"]]
        if not out["IsTruncated"]:
            assert "Marker" not in out
            break
        marker = out["Marker"]
    assert pages == 3 and [a for a, _ in seen] == actions
    assert dict(seen)["s3:DeleteObject"] == "allowed" and dict(seen)["s3:ListBucket"] == "implicitDeny"
    paged = [r["EvalActionName"] for p in iam.get_paginator("simulate_custom_policy").paginate(
        **params, PaginationConfig={"PageSize": 1}) for r in p["EvaluationResults"]]
    assert paged == actions
    longer = iam.simulate_custom_policy(PolicyInputList=params["PolicyInputList"], ActionNames=actions * 4, MaxItems=10)
    forged = base64.urlsafe_b64encode(b"\0\0\0\0" + b"2").decode()
    for bad in ("garbage", longer["Marker"], forged):  # not a marker; past these results; not this operation's
        with pytest.raises(ClientError) as exc:
            iam.simulate_custom_policy(**params, MaxItems=2, Marker=bad)
        assert code_of(exc) == "ValidationError"


def test_a_page_stays_within_its_cost(server: Server) -> None:
    """Actions times resources is bounded per page ("IAM might return fewer results, even when there are more results
    available", CUSTOM's MaxItems): 200 actions on 100 resources come in several pages, all there in the end."""
    iam: Any = server.client("iam")
    actions = [f"s3:Action{i}" for i in range(200)]
    resources = [f"arn:aws:s3:::b/{i}" for i in range(100)]
    pages = list(iam.get_paginator("simulate_custom_policy").paginate(
        PolicyInputList=[doc(allow("s3:*"))], ActionNames=actions, ResourceArns=resources,
        PaginationConfig={"PageSize": 1000}))
    assert len(pages) == 2
    assert [r["EvalActionName"] for p in pages for r in p["EvaluationResults"]] == actions


# -- bad input -----------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("params", [
    {"ActionNames": ["s3:*"]},
    {"ActionNames": ["s3:Get?bject"]},
    {"ActionNames": ["GetObject"]},
    {"ActionNames": ["s3:GetObject:x"]},
    {"ActionNames": ["s3:GetObject"], "PolicyInputList": ['{"Version":"2012-10-17"']},
    {"ActionNames": ["s3:GetObject"], "PolicyInputList": [doc({"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"})]},
    {"ActionNames": ["s3:GetObject"], "ResourceArns": ["bucket/key"]},
    {"ActionNames": ["s3:GetObject"], "OrderedOrganizationPolicyInputList": [{"ServiceControlPolicyInputList": []}]},
])
def test_bad_input_is_invalid_input_and_changes_nothing(server: Server, params: dict[str, Any]) -> None:
    """CUSTOM: "This operation does not support using wildcards (*) in an action name"; documents must be valid JSON
    policies of their kind (an identity policy names no Principal); InvalidInput, 400."""
    iam: Any = server.client("iam")
    with pytest.raises(ClientError) as exc:
        iam.simulate_custom_policy(**{"PolicyInputList": [doc(allow("s3:*"))], **params})
    assert code_of(exc) == "InvalidInput"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


# -- context keys ----------------------------------------------------------------------------------------------------------------

def test_context_keys_of_custom_policies_as_the_cli_reference_shows(server: Server) -> None:
    """CLI_KEYS: a policy reading ${aws:username} in its Resource and aws:CurrentTime in a condition gives
    ["aws:username", "aws:CurrentTime"]; key names are case-insensitive (CONDITION), so each is listed once, as first
    written; a resource-based policy's keys too (KEYS_CUSTOM)."""
    iam: Any = server.client("iam")
    policy = ('{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":'
              '"arn:aws:dynamodb:us-west-2:123456789012:table/${aws:username}","Condition":{"DateGreaterThan":'
              '{"aws:CurrentTime":"2015-08-16T12:00:00Z"}}}}')
    assert iam.get_context_keys_for_custom_policy(PolicyInputList=[policy])["ContextKeyNames"] == ["aws:username", "aws:CurrentTime"]
    more = doc(allow("s3:*", Condition={"StringEquals": {"AWS:USERNAME": "x", "s3:prefix": "${aws:PrincipalTag/team, 'none'}"},
                                         "Null": {"aws:CURRENTTIME": "false"}}))
    resource = doc({"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*",
                    "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1"}}})
    assert iam.get_context_keys_for_custom_policy(PolicyInputList=[policy, more, resource])["ContextKeyNames"] == [
        "aws:username", "aws:CurrentTime", "s3:prefix", "aws:PrincipalTag/team", "aws:SourceVpce"]
    assert iam.get_context_keys_for_custom_policy(PolicyInputList=[doc(allow("s3:*"))])["ContextKeyNames"] == []
    # variables are literal text before Version 2012-10-17
    old = json.dumps({"Version": "2008-10-17", "Statement": [allow("s3:*", "arn:aws:s3:::b/${aws:username}")]})
    assert iam.get_context_keys_for_custom_policy(PolicyInputList=[old])["ContextKeyNames"] == []
    with pytest.raises(ClientError) as exc:
        iam.get_context_keys_for_custom_policy(PolicyInputList=["{not json"])
    assert code_of(exc) == "InvalidInput"


def test_context_keys_of_a_principals_policies(server: Server) -> None:
    """KEYS_PRINCIPAL: the keys of every policy of the user, its groups', and the additional policies given."""
    iam: Any = server.client("iam")
    user, group = unique("keys-user"), unique("keys-group")
    arn = iam.create_user(UserName=user)["User"]["Arn"]
    iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=doc(allow("s3:*", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})))
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=user)
    iam.put_group_policy(GroupName=group, PolicyName="g", PolicyDocument=doc(allow("sqs:*", Condition={"Bool": {"aws:SecureTransport": "true"}})))
    extra = doc(allow("sns:*", Condition={"StringEquals": {"sns:Protocol": "https"}}))
    assert iam.get_context_keys_for_principal_policy(PolicySourceArn=arn, PolicyInputList=[extra])["ContextKeyNames"] == [
        "aws:SourceIp", "aws:SecureTransport", "sns:Protocol"]
    garn = iam.get_group(GroupName=group)["Group"]["Arn"]
    assert iam.get_context_keys_for_principal_policy(PolicySourceArn=garn)["ContextKeyNames"] == ["aws:SecureTransport"]


# -- authorisation ------------------------------------------------------------------------------------------------------------------

def _trail_event(server: Server, rid: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:  # read calls are audited asynchronously (README): wait for the event
        events, _ = read_trail(server)
        found = [e for e in events if e["requestID"] == rid]
        if found or time.monotonic() > deadline:
            assert len(found) == 1, f"request {rid} audited {len(found)} times"
            return found[0]
        time.sleep(0.2)


def test_authorisation_is_on_the_principal_and_refusals_are_audited_as_such(server: Server) -> None:
    """PRINCIPAL's action is iam:SimulatePrincipalPolicy on the simulated principal's ARN (GetContextKeysForPrincipalPolicy
    likewise); the custom operations' on "*". A caller allowed to simulate one user cannot simulate another, nor
    custom policies, and each refusal is AccessDenied, audited as AccessDenied."""
    iam: Any = server.client("iam")
    target, other, caller = unique("target"), unique("other"), unique("caller")
    tarn = iam.create_user(UserName=target)["User"]["Arn"]
    oarn = iam.create_user(UserName=other)["User"]["Arn"]
    iam.put_user_policy(UserName=other, PolicyName="secret", PolicyDocument=doc(allow("kms:Decrypt")))
    iam.create_user(UserName=caller)
    iam.put_user_policy(UserName=caller, PolicyName="sim", PolicyDocument=doc(
        allow(["iam:SimulatePrincipalPolicy", "iam:GetContextKeysForPrincipalPolicy"], tarn)))
    key = iam.create_access_key(UserName=caller)["AccessKey"]
    mine: Any = server.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    deadline = time.monotonic() + 10
    while True:  # a new key and policy reach every worker within the cache bound
        try:
            ok = mine.simulate_principal_policy(PolicySourceArn=tarn, ActionNames=["s3:GetObject"])
            break
        except ClientError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    assert ok["EvaluationResults"][0]["EvalDecision"] == "implicitDeny"
    assert mine.get_context_keys_for_principal_policy(PolicySourceArn=tarn)["ContextKeyNames"] == []
    refused = []
    for call in (lambda: mine.simulate_principal_policy(PolicySourceArn=oarn, ActionNames=["kms:Decrypt"]),
                 lambda: mine.get_context_keys_for_principal_policy(PolicySourceArn=oarn),
                 lambda: mine.simulate_custom_policy(PolicyInputList=[doc(allow("*"))], ActionNames=["kms:Decrypt"]),
                 lambda: mine.get_context_keys_for_custom_policy(PolicyInputList=[doc(allow("*"))])):
        with pytest.raises(ClientError) as exc:
            call()
        assert code_of(exc) == "AccessDenied"
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert "kms:Decrypt" not in exc.value.response["Error"]["Message"]  # the other user's policy is not disclosed
        refused.append(request_id(exc.value))
    for rid in refused:
        event = _trail_event(server, rid)
        assert event["errorCode"] == "AccessDenied"
        assert event["userIdentity"]["arn"].endswith(f":user/{caller}")
    # the root and an allowed caller may simulate anyone; the refused caller's answers never carried a decision
    assert iam.simulate_principal_policy(PolicySourceArn=oarn, ActionNames=["kms:Decrypt"])["EvaluationResults"][0][
        "EvalDecision"] == "allowed"


def test_a_principals_tags_and_id_are_its_context_and_input_wins(server: Server) -> None:
    """The simulated principal's facts: aws:PrincipalTag/* from its tags and aws:userid from its unique id (the
    keys AWS derives from a principal, reference_policies_condition-keys); ContextEntries override them."""
    iam: Any = server.client("iam")
    user = unique("tagged")
    created = iam.create_user(UserName=user, Tags=[{"Key": "Team", "Value": "blue"}])["User"]
    iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=doc(
        allow("s3:GetObject", "arn:aws:s3:::b/${aws:PrincipalTag/team}/*", Condition={"StringEquals": {"aws:userid": created["UserId"]}})))

    def decide(resource: str, **extra: Any) -> str:
        out = iam.simulate_principal_policy(PolicySourceArn=created["Arn"], ActionNames=["s3:GetObject"],
                                            ResourceArns=[resource], **extra)
        return str(out["EvaluationResults"][0]["EvalDecision"])

    assert decide("arn:aws:s3:::b/blue/k") == "allowed"
    assert decide("arn:aws:s3:::b/red/k") == "implicitDeny"
    assert decide("arn:aws:s3:::b/red/k", ContextEntries=[
        {"ContextKeyName": "aws:PrincipalTag/team", "ContextKeyValues": ["red"], "ContextKeyType": "string"}]) == "allowed"
    assert decide("arn:aws:s3:::b/blue/k", ContextEntries=[
        {"ContextKeyName": "aws:userid", "ContextKeyValues": ["AIDAOTHER"], "ContextKeyType": "string"}]) == "implicitDeny"
    # another CallerArn is that user, not this one: its facts are not this user's
    assert decide("arn:aws:s3:::b/blue/k", CallerArn=f"arn:aws:iam::{server.account}:user/someone") == "implicitDeny"


def test_too_many_resources_is_invalid_input(server: Server) -> None:
    iam: Any = server.client("iam")
    with pytest.raises(ClientError) as exc:
        iam.simulate_custom_policy(PolicyInputList=[doc(allow("s3:*"))], ActionNames=["s3:GetObject"],
                                   ResourceArns=[f"arn:aws:s3:::b/{i}" for i in range(1001)])
    assert code_of(exc) == "InvalidInput"


def test_a_stored_policy_that_no_longer_parses_is_a_policy_evaluation_error(server: Server) -> None:
    """PRINCIPAL's PolicyEvaluation (500): "a provided policy could not be successfully evaluated". A stored
    document the parser no longer reads (planted here straight into the database) is not the caller's bad input."""
    iam: Any = server.client("iam")
    user = unique("broken")
    arn = iam.create_user(UserName=user)["User"]["Arn"]
    iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=doc(allow("s3:*")))
    execute(server, f"UPDATE inline_policies SET document = '{{\"Version\": 1}}' WHERE entity_key = '{user.lower()}'")
    with pytest.raises(ClientError) as exc:
        iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=["s3:GetObject"])
    assert code_of(exc) == "PolicyEvaluation"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert "Traceback" not in server.log.read_text()


def test_the_simulation_of_a_user_is_what_its_own_requests_get(server: Server) -> None:
    """The simulator decides with the evaluator that authorises requests: for a user's own policies (inline, a
    group's, a managed one, a boundary), each IAM call it makes with its own key is allowed exactly when
    SimulatePrincipalPolicy says so."""
    iam: Any = server.client("iam")
    user, group = unique("same"), unique("same-group")
    created = iam.create_user(UserName=user)["User"]
    iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=doc(
        allow(["iam:ListUsers", "iam:ListGroups", "iam:GetUser"]), deny("iam:GetUser", created["Arn"])))
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=user)
    iam.put_group_policy(GroupName=group, PolicyName="g", PolicyDocument=doc(allow(["iam:ListRoles", "iam:ListPolicies"])))
    iam.attach_user_policy(UserName=user, PolicyArn="arn:aws:iam::aws:policy/IAMReadOnlyAccess")
    bound = iam.create_policy(PolicyName=unique("same-bound"), PolicyDocument=doc(allow("iam:List*"), allow("iam:GetUser")))["Policy"]
    iam.put_user_permissions_boundary(UserName=user, PermissionsBoundary=bound["Arn"])
    key = iam.create_access_key(UserName=user)["AccessKey"]
    mine: Any = server.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    calls: dict[str, tuple[str, Any]] = {
        "iam:ListUsers": ("*", lambda: mine.list_users()),
        "iam:ListRoles": ("*", lambda: mine.list_roles()),
        "iam:ListPolicies": ("*", lambda: mine.list_policies(Scope="Local")),
        "iam:GetUser": (created["Arn"], lambda: mine.get_user(UserName=user)),
        "iam:GetGroup": (iam.get_group(GroupName=group)["Group"]["Arn"], lambda: mine.get_group(GroupName=group)),
        "iam:CreateUser": (f"arn:aws:iam::{server.account}:user/{user}-new", lambda: mine.create_user(UserName=f"{user}-new")),
    }
    simulated = {}
    for action, (resource, _) in calls.items():
        out = iam.simulate_principal_policy(PolicySourceArn=created["Arn"], ActionNames=[action],
                                            **({"ResourceArns": [resource]} if resource != "*" else {}))
        simulated[action] = out["EvaluationResults"][0]["EvalDecision"]
    assert simulated == {"iam:ListUsers": "allowed", "iam:ListRoles": "allowed", "iam:ListPolicies": "allowed",
                         "iam:GetUser": "explicitDeny", "iam:GetGroup": "implicitDeny", "iam:CreateUser": "implicitDeny"}
    deadline = time.monotonic() + 10
    while True:  # the new key and policies reach every worker within the cache bound
        try:
            mine.list_users()
            break
        except ClientError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    for action, (_, call) in calls.items():
        try:
            call()
            got = "allowed"
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "AccessDenied", action
            got = "denied"
        assert got == ("allowed" if simulated[action] == "allowed" else "denied"), action
