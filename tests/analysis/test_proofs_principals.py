"""Proofs about policies that name principals: resource-based policies and role trust policies
(iamroles.analysis.proofs with iamroles.analysis.principals), as IAM Access Analyzer's CheckNoNewAccess with
policyType RESOURCE_POLICY (https://docs.aws.amazon.com/access-analyzer/latest/APIReference/API_CheckNoNewAccess.html)
and CheckAccessNotGranted (https://docs.aws.amazon.com/access-analyzer/latest/APIReference/API_CheckAccessNotGranted.html).

Every answer is held to the evaluator (iamroles.policy.evaluate), the one that decides every request, with a
replay of this file's own (``SETTINGS`` below, not the module's): a request NEW allows and OLD does not *in some
setting* of the caller's other policies (identity policies, permissions boundary, session policy, whether the
resource policy must grant by itself) is new access. So:

* a FAIL's counterexample is allowed under NEW and not under OLD in some setting;
* after a PASS, no request drawn at random (callers of every type, from the policies' own vocabulary) is, in any
  setting.
"""
from __future__ import annotations

import json
import re
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from iamroles.analysis.proofs import Counterexample, check_access_not_granted, check_no_new_access
from iamroles.cli import main
from iamroles.policy import Policy, PolicyKind, PolicySet, Principal, PrincipalType, Request, evaluate, parse_policy

A, B = "111122223333", "444455556666"
_NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)  # a failure is reported as found, not replayed through solver calls
BUCKET = "arn:aws:s3:::b/*"


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def res(*statements: dict[str, Any]) -> Policy:
    return parse_policy(doc(*statements), PolicyKind.RESOURCE)


def trust(*statements: dict[str, Any]) -> Policy:
    return parse_policy(doc(*statements), PolicyKind.TRUST)


def grant(principal: Any, action: Any = "s3:GetObject", resource: Any = BUCKET, effect: str = "Allow", **extra: Any) -> dict[str, Any]:
    st: dict[str, Any] = {"Effect": effect, "Principal": principal, "Action": action, **extra}
    if resource is not None:
        st["Resource"] = resource
    return st


def assume(principal: Any, action: Any = "sts:AssumeRole", **extra: Any) -> dict[str, Any]:
    return grant(principal, action, None, **extra)


# -- the replay, this file's own --------------------------------------------------------------------------------------

def _fixed(kind: PolicyKind, everything: bool) -> Policy:
    statement = {"Effect": "Allow", "Action": "*", "Resource": "*"} if everything else {"Effect": "Allow", "NotAction": "*", "Resource": "*"}
    return parse_policy(doc(statement), kind)


EVERYTHING = {k: _fixed(k, True) for k in (PolicyKind.IDENTITY, PolicyKind.BOUNDARY, PolicyKind.SESSION)}
NOTHING = {k: _fixed(k, False) for k in (PolicyKind.BOUNDARY, PolicyKind.SESSION)}


def setting_sets(resource: Policy, principal: Principal, bounded: bool) -> list[PolicySet]:
    """Every combination of the caller's other policies: identity (none, everything), boundary (only for a bounded
    user or role session: everything, nothing), session policy (role and federated sessions: none, everything,
    nothing), and for a resource policy whether it must grant by itself (as a key policy) or not (as a bucket's)."""
    out = []
    musts = [True] if resource.kind is PolicyKind.TRUST else [False, True]
    boundaries = [EVERYTHING[PolicyKind.BOUNDARY], NOTHING[PolicyKind.BOUNDARY]] if bounded else [None]
    sessions: list[list[Policy]] = [[]]
    if principal.type in (PrincipalType.ASSUMED_ROLE, PrincipalType.FEDERATED_USER):
        sessions += [[EVERYTHING[PolicyKind.SESSION]], [NOTHING[PolicyKind.SESSION]]]
    for must in musts:
        for identity in ([], [EVERYTHING[PolicyKind.IDENTITY]]):
            for boundary in boundaries:
                for session in sessions:
                    out.append(PolicySet(identity=identity, resource=resource, boundary=boundary, session=session,
                                         resource_must_grant=must))
    return out


def new_access(old: Policy, new: Policy, request: Request, bounded: bool) -> bool:
    news, olds = setting_sets(new, request.principal, bounded), setting_sets(old, request.principal, bounded)
    return any(evaluate(request, n).allowed and not evaluate(request, o).allowed for n, o in zip(news, olds))


def granted(policy: Policy, request: Request, bounded: bool) -> bool:
    return any(evaluate(request, s).allowed for s in setting_sets(policy, request.principal, bounded) if s.resource_must_grant)


def assert_fail(old: Policy, new: Policy) -> Counterexample:
    r = check_no_new_access(old, new)
    assert r.result == "FAIL", r.to_dict()
    c = r.counterexample
    assert c is not None and c.principal is not None and c.setting is not None
    assert new_access(old, new, c.request(), c.bounded), c
    return c


def assert_pass(old: Policy, new: Policy) -> None:
    r = check_no_new_access(old, new)
    assert r.result == "PASS", r.to_dict()


# -- planted changes: resource-based policies -------------------------------------------------------------------------

def test_the_same_policy_and_a_narrower_one_pass() -> None:
    p = res(grant({"AWS": [A, B]}, ["s3:GetObject", "s3:ListBucket"], [BUCKET, "arn:aws:s3:::b"]))
    assert_pass(p, p)
    assert_pass(p, res(grant({"AWS": A}, "s3:GetObject", "arn:aws:s3:::b/reports/*")))


def test_another_account_is_new_access_and_its_caller_is_the_counterexample() -> None:
    old = res(grant({"AWS": A}))
    c = assert_fail(old, res(grant({"AWS": [A, B]})))
    assert c.principal is not None and f":{B}:" in c.principal["arn"]
    assert c.action == "s3:getobject" and c.resource.startswith("arn:aws:s3:::b/")


def test_naming_a_user_where_the_account_was_named_is_new_access() -> None:
    """In its own account a user named by a resource-based policy needs no identity-based policy; one whose account
    only is named does (reference_policies_evaluation-logic, "Evaluating identity-based and resource-based
    policies together")."""
    alice = f"arn:aws:iam::{A}:user/alice"
    c = assert_fail(res(grant({"AWS": A})), res(grant({"AWS": alice})))
    assert c.principal is not None and c.principal["arn"] == alice
    assert c.resource_account == A and c.setting is not None and not c.setting.identity


def test_principal_star_with_an_account_condition_covers_the_account() -> None:
    # the condition's aws:PrincipalAccount is the caller's own account: tied to the caller, not free
    star = res(grant("*", Condition={"StringEquals": {"aws:PrincipalAccount": A}}))
    assert_pass(star, res(grant({"AWS": A})))
    assert_pass(star, res(grant({"AWS": f"arn:aws:iam::{A}:user/alice"})))
    c = assert_fail(star, res(grant({"AWS": B})))
    assert c.principal is not None and f":{B}:" in c.principal["arn"]
    assert_fail(res(grant({"AWS": A})), star)  # "*" names a caller of A itself, the account only through it


def test_principal_arn_conditions() -> None:
    like = res(grant("*", Condition={"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{A}:role/app-*"}}))
    assert_pass(like, res(grant({"AWS": f"arn:aws:iam::{A}:role/app-web"})))
    c = assert_fail(like, res(grant({"AWS": f"arn:aws:iam::{A}:role/admin"})))
    assert c.principal is not None and c.principal.get("role_arn") == f"arn:aws:iam::{A}:role/admin"


def test_a_deny_taken_away_is_new_access_even_without_a_new_allow() -> None:
    """Within its account a bucket-like policy need not allow: the caller's identity policies do, unless a Deny
    stops them (reference_policies_evaluation-logic)."""
    tls = {"Bool": {"aws:SecureTransport": "false"}}
    old = res(grant({"AWS": B}), grant("*", "s3:*", BUCKET, "Deny", Condition=tls))
    c = assert_fail(old, res(grant({"AWS": B})))
    assert str(c.context.get("aws:securetransport", "")).lower() == "false"
    assert_pass(res(grant({"AWS": B})), old)


def test_not_principal_deny() -> None:
    """A Deny with NotPrincipal spares only what it names, and denies any user or session with a permissions
    boundary whatever it names (reference_policies_elements_notprincipal, access_policies_boundaries)."""
    role, session = f"arn:aws:iam::{A}:role/app", f"arn:aws:sts::{A}:assumed-role/app/job"
    spare = {"AWS": [f"arn:aws:iam::{A}:root", role, session]}
    old = res(grant("*"), {"Effect": "Deny", "NotPrincipal": spare, "Action": "s3:*", "Resource": BUCKET})
    c = assert_fail(old, res(grant("*")))
    assert (c.principal is not None and c.principal.get("arn") != session) or c.bounded
    assert_pass(res(grant("*")), old)
    # the spared session is granted access, but only with no permissions boundary
    r = check_access_not_granted(old, ["s3:GetObject"], principals=[role])
    assert r.result == "FAIL" and r.counterexample is not None, r.to_dict()
    assert r.counterexample.principal is not None and r.counterexample.principal["arn"] == session
    assert not r.counterexample.bounded
    other = f"arn:aws:sts::{A}:assumed-role/app/other"
    assert check_access_not_granted(old, ["s3:GetObject"], principals=[other]).result == "PASS"


def test_services_and_their_source_conditions() -> None:
    svc = res(grant({"Service": "cloudtrail.amazonaws.com"}, "s3:PutObject",
                    Condition={"StringEquals": {"aws:SourceAccount": A}}))
    c = assert_fail(svc, res(grant({"Service": "cloudtrail.amazonaws.com"}, "s3:PutObject")))
    assert c.principal == {"service": "cloudtrail.amazonaws.com"} and c.context.get("aws:sourceaccount") != A
    c = assert_fail(svc, res(grant({"Service": ["cloudtrail.amazonaws.com", "config.amazonaws.com"]}, "s3:PutObject",
                                   Condition={"StringEquals": {"aws:SourceAccount": A}})))
    assert c.principal == {"service": "config.amazonaws.com"}


def test_partitions_are_kept_apart() -> None:
    """An account ARN names the account in its partition only
    (https://docs.aws.amazon.com/whitepapers/latest/aws-fault-isolation-boundaries/partitions.html)."""
    aws, cn = res(grant({"AWS": f"arn:aws:iam::{A}:root"})), res(grant({"AWS": f"arn:aws-cn:iam::{A}:root"}))
    c = assert_fail(aws, cn)
    assert c.principal is not None and c.principal["arn"].startswith("arn:aws-cn:")
    r = check_access_not_granted(cn, ["s3:GetObject"], principals=[f"arn:aws:iam::{A}:root"])
    assert r.result == "PASS", r.to_dict()


# -- planted changes: trust policies ----------------------------------------------------------------------------------

def test_trust_external_id() -> None:
    with_id = trust(assume({"AWS": f"arn:aws:iam::{B}:root"}, Condition={"StringEquals": {"sts:ExternalId": "x-1"}}))
    without = trust(assume({"AWS": f"arn:aws:iam::{B}:root"}))
    assert_pass(without, with_id)
    c = assert_fail(with_id, without)
    assert c.context.get("sts:externalid") != "x-1"
    assert c.principal is not None and f":{B}:" in c.principal["arn"]
    assert c.resource.startswith("arn:aws:iam::") and ":role/" in c.resource


def test_trust_role_and_account() -> None:
    role = trust(assume({"AWS": f"arn:aws:iam::{A}:role/ci"}))
    root = trust(assume({"AWS": f"arn:aws:iam::{A}:root"}))
    c = assert_fail(role, root)  # every principal of A may now ask (with its identity policies' leave)
    assert c.principal is not None and c.principal.get("role_arn") != f"arn:aws:iam::{A}:role/ci"
    c = assert_fail(root, role)  # the role's sessions no longer need an identity policy in A
    assert c.principal is not None and c.principal.get("role_arn") == f"arn:aws:iam::{A}:role/ci"


def test_trust_web_identity() -> None:
    gh = f"arn:aws:iam::{A}:oidc-provider/token.actions.githubusercontent.com"
    repo = trust(assume({"Federated": gh}, "sts:AssumeRoleWithWebIdentity",
                        Condition={"StringLike": {"token.actions.githubusercontent.com:sub": "repo:org/app:*"}}))
    branch = trust(assume({"Federated": gh}, "sts:AssumeRoleWithWebIdentity",
                          Condition={"StringEquals": {"token.actions.githubusercontent.com:sub": "repo:org/app:ref:refs/heads/main"}}))
    assert_pass(repo, branch)
    c = assert_fail(branch, repo)
    assert c.principal == {"federated": gh}
    c = assert_fail(repo, trust(assume({"Federated": gh}, "sts:AssumeRoleWithWebIdentity")))
    assert not str(c.context.get("token.actions.githubusercontent.com:sub", "")).startswith("repo:org/app:")


def test_trust_tag_session_is_new_access() -> None:
    base = trust(assume({"AWS": f"arn:aws:iam::{B}:root"}))
    c = assert_fail(base, trust(assume({"AWS": f"arn:aws:iam::{B}:root"}, ["sts:AssumeRole", "sts:TagSession"])))
    assert c.action == "sts:tagsession"


# -- access not granted -----------------------------------------------------------------------------------------------

def test_access_not_granted_by_principal() -> None:
    p = res(grant({"AWS": A}, "s3:GetObject"), grant({"Service": "logs.amazonaws.com"}, "s3:PutObject"))
    for principals, action, expected in [
        ([B], "s3:GetObject", "PASS"),
        ([A], "s3:GetObject", "FAIL"),
        ([f"arn:aws:iam::{A}:role/app"], "s3:GetObject", "FAIL"),
        ([f"arn:aws:iam::{A}:user/alice"], "s3:PutObject", "PASS"),
        (["logs.amazonaws.com"], "s3:PutObject", "FAIL"),
        (["service:logs.amazonaws.com"], "s3:GetObject", "PASS"),
        (["anonymous"], "s3:*", "PASS"),
        ([f"arn:aws:iam::{B}:role/*"], "s3:*", "PASS"),
    ]:
        r = check_access_not_granted(p, [action], principals=principals)
        assert r.result == expected, (principals, action, r.to_dict())
        if r.result == "FAIL":
            c = r.counterexample
            assert c is not None and granted(p, c.request(), c.bounded)
    public = res(grant("*"))
    r = check_access_not_granted(public, ["s3:GetObject"], principals=["anonymous"])
    assert r.result == "FAIL" and r.counterexample is not None and r.counterexample.principal == {"anonymous": True}
    # the counterexample is a caller asked about (an account named only in --principals, a user, a role pattern)
    for who, field, wanted in [(A, "arn", rf"arn:aws:(iam|sts)::{A}:"), (f"arn:aws:iam::{A}:user/bob1", "arn", rf"arn:aws:iam::{A}:user/bob1\Z"),
                               ("arn:aws:iam::1111*:role/x", "role_arn", r"arn:aws:iam::1111\d{8}:role/x\Z")]:
        r = check_access_not_granted(public, ["s3:GetObject"], principals=[who])
        assert r.result == "FAIL" and r.counterexample is not None and r.counterexample.principal is not None, (who, r.to_dict())
        assert re.match(wanted, str(r.counterexample.principal.get(field, ""))), (who, r.to_dict())
    with pytest.raises(ValueError):
        check_access_not_granted(p, ["s3:GetObject"], principals=["not a principal"])


def test_access_not_granted_for_a_trust_policy() -> None:
    t = trust(assume({"AWS": f"arn:aws:iam::{A}:role/ci"}), assume({"Service": "ec2.amazonaws.com"}))
    assert check_access_not_granted(t, ["sts:AssumeRole"], principals=[B]).result == "PASS"
    assert check_access_not_granted(t, ["sts:AssumeRole"], principals=[f"arn:aws:iam::{A}:user/alice"]).result == "PASS"
    assert check_access_not_granted(t, ["sts:AssumeRole"], principals=["lambda.amazonaws.com"]).result == "PASS"
    r = check_access_not_granted(t, ["sts:AssumeRole"], principals=[A])
    assert r.result == "FAIL" and r.counterexample is not None
    assert r.counterexample.principal is not None and r.counterexample.principal.get("role_arn") == f"arn:aws:iam::{A}:role/ci"


def test_kinds_and_counts_are_refused_not_misjudged() -> None:
    p = res(grant({"AWS": A}))
    with pytest.raises(ValueError):
        check_no_new_access(p, trust(assume({"AWS": A})))
    with pytest.raises(ValueError):
        check_no_new_access([p, p], p)


def test_an_unmodelled_comparison_never_gives_a_wrong_answer() -> None:
    # aws:PrincipalAccount compared as a number: not tied to the caller (approximated), still sound
    num = res(grant("*", Condition={"NumericEquals": {"aws:PrincipalAccount": A}}))
    r = check_no_new_access(num, res(grant({"AWS": A})))
    assert r.result in ("PASS", "UNKNOWN") or (r.counterexample is not None and
                                               new_access(num, res(grant({"AWS": A})), r.counterexample.request(), r.counterexample.bounded))


# -- property tests: the solver against the evaluator -----------------------------------------------------------------

PRINCIPALS: list[Any] = [
    "*", {"AWS": A}, {"AWS": f"arn:aws:iam::{A}:root"}, {"AWS": f"arn:aws:iam::{B}:root"}, {"AWS": f"arn:aws-cn:iam::{A}:root"},
    {"AWS": f"arn:aws:iam::{A}:user/alice"}, {"AWS": f"arn:aws:iam::{A}:role/app"}, {"AWS": f"arn:aws:iam::{A}:role/svc/app"},
    {"AWS": f"arn:aws:sts::{A}:assumed-role/app/s1"}, {"AWS": f"arn:aws:sts::{A}:federated-user/fed"},
    {"Service": "ec2.amazonaws.com"}, {"Federated": "accounts.google.com"},
]
CONDITIONS: list[dict[str, Any]] = [
    {"StringEquals": {"aws:PrincipalAccount": A}},
    {"StringNotEquals": {"aws:PrincipalAccount": B}},
    {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{A}:role/*"}},
    {"StringEquals": {"aws:PrincipalType": "User"}},
    {"StringLike": {"aws:userid": "AROA*"}},
    {"StringEquals": {"aws:username": "alice"}},
    {"StringEquals": {"aws:PrincipalTag/team": "blue"}},
    {"Bool": {"aws:PrincipalIsAWSService": "true"}},
    {"StringEquals": {"aws:ResourceAccount": A}},
    {"StringEquals": {"aws:SourceAccount": A}},
    {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
    {"StringEquals": {"sts:ExternalId": "x"}},
    {"Null": {"aws:PrincipalServiceName": "false"}},
]
RES_ACTIONS = ["s3:GetObject", "s3:Get*", "s3:*", "s3:PutObject"]
RESOURCES = [BUCKET, "arn:aws:s3:::b/a*", "arn:aws:s3:::c/*", "*"]
TRUST_ACTIONS = ["sts:AssumeRole", "sts:TagSession", "sts:*"]


def _statement(kind: PolicyKind) -> Any:
    principals = [p for p in PRINCIPALS if not (kind is PolicyKind.TRUST and p == "*")]

    def build(effect: str, principal: Any, not_principal: bool, actions: list[str], resources: list[str], conds: list[dict[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {"Effect": effect, "NotPrincipal" if not_principal else "Principal": principal, "Action": actions}
        if kind is PolicyKind.RESOURCE:
            out["Resource"] = resources
        if conds:
            out["Condition"] = {k: v for c in conds for k, v in c.items()}
        return out

    return st.builds(
        build,
        st.sampled_from(["Allow", "Allow", "Deny"]),
        st.sampled_from(principals),
        st.booleans() if kind is PolicyKind.RESOURCE else st.just(False),
        st.lists(st.sampled_from(RES_ACTIONS if kind is PolicyKind.RESOURCE else TRUST_ACTIONS), min_size=1, max_size=2, unique=True),
        st.lists(st.sampled_from(RESOURCES), min_size=1, max_size=2, unique=True),
        st.lists(st.sampled_from(CONDITIONS), max_size=2, unique_by=lambda c: next(iter(next(iter(c.values()))))),
    ).filter(lambda s: not ("NotPrincipal" in s and s["NotPrincipal"] == "*"))


def _policies(kind: PolicyKind) -> Any:
    return st.lists(_statement(kind), min_size=1, max_size=3).map(lambda sts: parse_policy(doc(*sts), kind))


CALLERS = [
    Principal.from_arn(f"arn:aws:iam::{A}:root"), Principal.from_arn(f"arn:aws:iam::{B}:root"),
    Principal.from_arn(f"arn:aws-cn:iam::{A}:root"),
    Principal.from_arn(f"arn:aws:iam::{A}:user/alice", user_id="AIDAALICE", tags={"team": "blue"}),
    Principal.from_arn(f"arn:aws:iam::{A}:user/team/bob", user_id="AIDABOB"),
    Principal.from_arn(f"arn:aws:iam::{B}:user/alice", user_id="AIDAOTHER"),
    Principal.from_arn(f"arn:aws:sts::{A}:assumed-role/app/s1", user_id="AROAAPP:s1"),
    Principal.from_arn(f"arn:aws:sts::{A}:assumed-role/app/s2", role_arn=f"arn:aws:iam::{A}:role/svc/app", user_id="AROASVC:s2"),
    Principal.from_arn(f"arn:aws:sts::{B}:assumed-role/app/s1", user_id="AROAB:s1", tags={"team": "red"}),
    Principal.from_arn(f"arn:aws:sts::{A}:federated-user/fed", user_id=f"{A}:fed"),
    Principal(PrincipalType.SERVICE, service="ec2.amazonaws.com"), Principal(PrincipalType.SERVICE, service="EC2.amazonaws.com"),
    Principal(PrincipalType.SERVICE, service="lambda.amazonaws.com"),
    Principal(PrincipalType.WEB_IDENTITY, federated="accounts.google.com"), Principal(PrincipalType.ANONYMOUS),
]

probes = st.tuples(
    st.sampled_from(CALLERS),
    st.sampled_from(["s3:getobject", "s3:putobject", "s3:getbucketpolicy", "sts:assumerole", "sts:tagsession"]),
    st.sampled_from(["arn:aws:s3:::b/x", "arn:aws:s3:::b/a1", "arn:aws:s3:::c/x", f"arn:aws:iam::{A}:role/target"]),
    st.sampled_from([A, B]),
    st.dictionaries(st.sampled_from(["aws:SourceAccount", "aws:SourceIp", "sts:ExternalId"]),
                    st.sampled_from([A, B, "10.1.2.3", "8.8.8.8", "x", "y"]), max_size=3),
    st.booleans(),
)


def _request(probe: tuple[Any, ...]) -> tuple[Request, bool]:
    caller, action, resource, account, context, bounded = probe
    return Request(caller, action, resource, account, context), bounded and caller.type in (PrincipalType.USER, PrincipalType.ASSUMED_ROLE)


def _check_no_new_access(old: Policy, new: Policy, sampled: list[tuple[Any, ...]]) -> None:
    r = check_no_new_access(old, new, timeout_ms=20_000)
    if r.result == "FAIL":
        c = r.counterexample
        assert c is not None and new_access(old, new, c.request(), c.bounded), c
    elif r.result == "PASS":
        for probe in sampled:
            request, bounded = _request(probe)
            assert not new_access(old, new, request, bounded), (probe, r.to_dict())
    same = check_no_new_access(new, new, timeout_ms=20_000)  # PASS, unless the solver ran out of time
    assert same.result == "PASS" or (same.result == "UNKNOWN" and "gave up" in same.message), same


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], phases=_NO_SHRINK)
@given(old=_policies(PolicyKind.RESOURCE), new=_policies(PolicyKind.RESOURCE), sampled=st.lists(probes, max_size=30))
def test_resource_policy_no_new_access_agrees_with_the_evaluator(old: Policy, new: Policy, sampled: list[tuple[Any, ...]]) -> None:
    _check_no_new_access(old, new, sampled)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow], phases=_NO_SHRINK)
@given(old=_policies(PolicyKind.TRUST), new=_policies(PolicyKind.TRUST), sampled=st.lists(probes, max_size=30))
def test_trust_policy_no_new_access_agrees_with_the_evaluator(old: Policy, new: Policy, sampled: list[tuple[Any, ...]]) -> None:
    _check_no_new_access(old, new, sampled)


def _caller_is(spec: str, p: Principal) -> bool:
    if spec.isdigit():
        return p.account == spec and p.arn is not None
    if spec.endswith(":root"):
        return p.arn is not None and (p.partition, p.account) == tuple(spec.split(":")[1:5:3])
    if ":role/" in spec:
        return p.role_arn == spec
    if spec.startswith("arn:"):
        return p.arn == spec
    return p.service == spec


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], phases=_NO_SHRINK)
@given(p=_policies(PolicyKind.RESOURCE), action=st.sampled_from(RES_ACTIONS), who=st.sampled_from(
    [A, B, f"arn:aws:iam::{A}:root", f"arn:aws-cn:iam::{A}:root", f"arn:aws:iam::{A}:role/app", f"arn:aws:iam::{A}:user/alice",
     "ec2.amazonaws.com"]), sampled=st.lists(probes, max_size=30))
def test_access_not_granted_agrees_with_the_evaluator(p: Policy, action: str, who: str, sampled: list[tuple[Any, ...]]) -> None:
    from iamroles.policy.wildcard import compile_patterns, plain

    r = check_access_not_granted(p, [action], principals=[who], timeout_ms=20_000)
    if r.result == "FAIL":
        c = r.counterexample
        assert c is not None and granted(p, c.request(), c.bounded), c
    elif r.result == "PASS":
        act = compile_patterns((plain(action),), True, "glob")
        for probe in sampled:
            request, bounded = _request(probe)
            if act.match(request.action) and _caller_is(who, request.principal):
                assert not granted(p, request, bounded), (probe, r.to_dict())


# -- the command line -------------------------------------------------------------------------------------------------

def test_cli_resource_and_trust_kinds(tmp_path: Any) -> None:
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(doc(grant({"AWS": A})))
    new.write_text(doc(grant({"AWS": [A, B]})))
    runner = CliRunner()
    out = runner.invoke(main, ["analyze", "check-no-new-access", str(new), str(old), "--kind", "resource"])
    assert out.exit_code == 0 and out.output.startswith("PASS"), out.output
    out = runner.invoke(main, ["analyze", "check-no-new-access", str(old), str(new), "--kind", "resource"])
    assert out.exit_code == 5 and "caller:" in out.output and "setting:" in out.output, out.output
    out = runner.invoke(main, ["analyze", "check-no-new-access", str(old), str(new), "--kind", "resource", "--json"])
    body = json.loads(out.output)
    assert body["result"] == "FAIL" and f":{B}:" in body["counterexample"]["principal"]["arn"]
    out = runner.invoke(main, ["analyze", "check-access-not-granted", str(new), "--kind", "resource", "--principals", B,
                               "--actions", "s3:PutObject"])
    assert out.exit_code == 0, out.output
    out = runner.invoke(main, ["analyze", "check-access-not-granted", str(new), "--kind", "resource", "--principals", B])
    assert out.exit_code == 5, out.output
    out = runner.invoke(main, ["analyze", "check-access-not-granted", str(new), "--principals", B])
    assert out.exit_code == 2 and "resource" in out.output and "Traceback" not in out.output, out.output
    t = tmp_path / "trust.json"
    t.write_text(doc(assume({"AWS": f"arn:aws:iam::{B}:root"})))
    out = runner.invoke(main, ["analyze", "check-access-not-granted", str(t), "--kind", "trust", "--principals", A])
    assert out.exit_code == 0, out.output
