"""Attacks with restricted temporary credentials: what a kind of session can call, whatever its policies allow.

Every principal here is allowed "*" by its policies (and its session policy), so only the session's kind refuses.

AWS rules:

* https://docs.aws.amazon.com/STS/latest/APIReference/API_GetFederationToken.html "You cannot call any IAM
  operations using the AWS CLI or the AWS API ... You cannot call any STS operations except GetCallerIdentity".
* https://docs.aws.amazon.com/STS/latest/APIReference/API_GetSessionToken.html "You cannot call any IAM API
  operations unless MFA authentication information is included in the request. You cannot call any STS API except
  AssumeRole or GetCallerIdentity".
* https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_request.html#stsapi_comparison (role
  sessions cannot call GetFederationToken or GetSessionToken).
* How AWS refuses: IAM does not accept such a token, HTTP 403 InvalidClientTokenId "The security token included in
  the request is invalid" (GetSessionToken without MFA: https://github.com/99designs/aws-vault/issues/15, IAM's XML
  in https://github.com/aws/aws-cli/issues/8918); STS answers AccessDenied "Cannot call GetSessionToken with session
  credentials" (https://github.com/aws/aws-sdk-js/issues/3670) and "Cannot call GetFederationToken with session
  credentials" (https://github.com/hashicorp/vault/issues/4108).
* Launching a workload (iamroles' own API) passes a role, an IAM permission such sessions cannot use (README).
"""
from __future__ import annotations

import base64
import json
import time

import pytest

from iamroles.tokens.totp import code_at

from .conftest import ADMIN, ECS, Creds, World, allow, policy, refused, trust, unique

INVALID_TOKEN = "The security token included in the request is invalid"


def temporary(who: Creds, out: dict, arn: str | None = None) -> Creds:
    c = out["Credentials"]
    return Creds(who.srv, arn or who.arn, c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"], account=who.account)


def iam_refused(world: World, creds: Creds) -> None:
    """IAM refuses the token outright, for a write and a read, and the write changed nothing."""
    name = unique("x")
    assert refused(lambda: creds.iam.create_user(UserName=name), "InvalidClientTokenId", 403).startswith(INVALID_TOKEN)
    refused(lambda: world.admin_iam().get_user(UserName=name), "NoSuchEntity", 404)
    assert refused(lambda: creds.iam.list_users(), "InvalidClientTokenId", 403).startswith(INVALID_TOKEN)


def launch_refused(world: World, creds: Creds) -> None:
    role, _ = world.role(trust(service=ECS))
    r = creds.api("service-credentials", {"RoleName": role, "ServicePrincipal": ECS})
    assert (r.status_code, r.json()["Error"]["Code"]) == (403, "AccessDenied"), r.text
    assert "Credentials" not in r.json()


def test_federation_token_credentials(world: World) -> None:
    user = world.user(ADMIN)
    out = user.sts.get_federation_token(Name=unique("fed")[:32], Policy=json.dumps(ADMIN))
    fed = temporary(user, out, out["FederatedUser"]["Arn"])
    assert fed.sts.get_caller_identity()["Arn"] == fed.arn  # the one STS call allowed
    iam_refused(world, fed)
    _, role_arn = world.role(trust(f"arn:aws:iam::{world.account}:root", fed.arn))
    refused(lambda: fed.sts.assume_role(RoleArn=role_arn, RoleSessionName="s1"), "AccessDenied", 403)
    assert refused(lambda: fed.sts.get_session_token(), "AccessDenied", 403) == "Cannot call GetSessionToken with session credentials"
    assert refused(lambda: fed.sts.get_federation_token(Name="again"), "AccessDenied", 403) == \
        "Cannot call GetFederationToken with session credentials"
    launch_refused(world, fed)


def test_session_token_credentials_without_mfa(world: World) -> None:
    user = world.user(ADMIN)
    session = temporary(user, user.sts.get_session_token(DurationSeconds=900))
    assert session.sts.get_caller_identity()["Arn"] == user.arn
    iam_refused(world, session)
    assert refused(lambda: session.sts.get_session_token(), "AccessDenied", 403) == \
        "Cannot call GetSessionToken with session credentials"
    assert refused(lambda: session.sts.get_federation_token(Name="fed"), "AccessDenied", 403) == \
        "Cannot call GetFederationToken with session credentials"
    launch_refused(world, session)
    _, role_arn = world.role(trust(user.arn))
    session.assume(role_arn)  # AssumeRole is one of the two STS calls they may make


def test_session_token_credentials_with_mfa_may_use_iam(world: World) -> None:
    """The control: the same user's session-token credentials with MFA are not limited."""
    user = world.user(ADMIN)
    iam = world.admin_iam()
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName=unique("phone"))["VirtualMFADevice"]
    seed = base64.b32decode(device["Base32StringSeed"])
    step = int(time.time() // 30)
    iam.enable_mfa_device(UserName=user.name, SerialNumber=device["SerialNumber"],
                          AuthenticationCode1=code_at(seed, step - 1), AuthenticationCode2=code_at(seed, step))
    out = user.sts.get_session_token(DurationSeconds=900, SerialNumber=device["SerialNumber"],
                                     TokenCode=code_at(seed, int(time.time() // 30) + 1))
    session = temporary(user, out)
    session.iam.get_user(UserName=user.name)
    assert refused(lambda: session.sts.get_federation_token(Name="fed"), "AccessDenied", 403) == \
        "Cannot call GetFederationToken with session credentials"


@pytest.mark.parametrize("call", ["get_session_token", "get_federation_token"])
def test_role_session_cannot_mint_session_or_federation_tokens(world: World, call: str) -> None:
    user = world.user()
    _, role_arn = world.role(trust(user.arn), ADMIN)
    session = user.assume(role_arn)
    kw = {"Name": "fed"} if call == "get_federation_token" else {}
    operation = "GetSessionToken" if call == "get_session_token" else "GetFederationToken"
    assert refused(lambda: getattr(session.sts, call)(**kw), "AccessDenied", 403) == \
        f"Cannot call {operation} with session credentials"


def test_federation_token_without_session_policy_has_no_permissions(world: World) -> None:
    """A federated user session with no session policy has no permissions of its own
    (reference_policies_evaluation-logic_policy-eval-denyallow: only a role session is allowed without one)."""
    user = world.user(policy(allow(["sts:GetFederationToken", "sts:AssumeRole"])))
    out = user.sts.get_federation_token(Name="bare")
    fed = temporary(user, out, out["FederatedUser"]["Arn"])
    _, role_arn = world.role(trust(f"arn:aws:iam::{world.account}:root"))
    refused(lambda: fed.sts.assume_role(RoleArn=role_arn, RoleSessionName="s1"), "AccessDenied", 403)


@pytest.mark.parametrize("state", ["inactive", "deleted"])
def test_inactive_or_deleted_access_key_is_refused(world: World, state: str) -> None:
    """An access key that is inactive or deleted authenticates nothing: InvalidClientTokenId (403)
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html#Using_RotateAccessKey:
    "an inactive access key ... cannot be used to make API calls")."""
    user = world.user(ADMIN)
    iam = world.admin_iam()
    user.iam.list_users()
    if state == "inactive":
        iam.update_access_key(UserName=user.name, AccessKeyId=user.key, Status="Inactive")
    else:
        iam.delete_access_key(UserName=user.name, AccessKeyId=user.key)
    stale = Creds(world.srv, user.arn, user.key, user.secret)  # fresh clients: no connection reuse
    iam_refused(world, stale)
    assert refused(lambda: stale.sts.get_caller_identity(), "InvalidClientTokenId", 403).startswith(INVALID_TOKEN)
    refused(lambda: stale.sts.get_session_token(), "InvalidClientTokenId", 403)


def test_sessions_of_a_deleted_user_do_not_pass_to_a_new_user_of_its_name(world: World) -> None:
    """GetSessionToken and GetFederationToken sessions act for the user who asked, whose permissions "are evaluated
    each time a request is made" (id_credentials_temp_control-access.html); a user deleted and made again under its
    name is another user ("unique IDs are never reused", reference_identifiers.html#identifiers-unique-ids). The old
    user's sessions end with it (InvalidClientTokenId, as a deleted role's sessions do) instead of taking on the
    administrator's policies the new user of that name was given."""
    iam = world.admin_iam()
    name = unique("alice")
    user = world.user(policy(allow(["sts:GetFederationToken", "iam:GetUser"])), name=name)
    token = temporary(user, user.sts.get_session_token(DurationSeconds=900))
    out = user.sts.get_federation_token(Name="fed", Policy=json.dumps(ADMIN))
    fed = temporary(user, out, out["FederatedUser"]["Arn"])
    _, role_arn = world.role(trust(f"arn:aws:iam::{world.account}:root"))
    for creds in (token, fed):
        creds.sts.get_caller_identity()  # they work while the user exists
    iam.delete_user_policy(UserName=name, PolicyName="p")
    iam.delete_access_key(UserName=name, AccessKeyId=user.key)
    iam.delete_user(UserName=name)
    world.user(ADMIN, name=name)  # the administrator of the same name
    for creds in (token, fed):
        assert refused(lambda: creds.sts.get_caller_identity(), "InvalidClientTokenId", 403).startswith(INVALID_TOKEN)
    assert refused(lambda: token.sts.assume_role(RoleArn=role_arn, RoleSessionName="s1"), "InvalidClientTokenId",
                   403).startswith(INVALID_TOKEN)
    # as the signer of a request another service asks about: not authenticated, nothing decided
    service = world.user(policy(allow("iamroles:AuthorizeRequest")))
    for creds in (token, fed):
        r = service.api("authorize", {"Request": _signed_get(creds), "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/k"})
        assert r.status_code == 200 and r.json()["Authenticated"] is False, r.text
        assert r.json()["Error"]["Code"] == "InvalidClientTokenId"


def _signed_get(who: Creds) -> dict:
    """A GET an S3-like service received from ``who``, as it forwards it to the authorisation API."""
    import hashlib

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    req = AWSRequest("GET", "http://objects.internal:9000/b/k", data=b"",
                     headers={"x-amz-content-sha256": hashlib.sha256(b"").hexdigest()})
    SigV4Auth(Credentials(who.key, who.secret, who.token), "s3", "us-east-1").add_auth(req)
    headers = dict(req.prepare().headers.items())
    headers["host"] = "objects.internal:9000"
    return {"Method": "GET", "Path": "/b/k", "Query": "", "Headers": headers, "PayloadHash": hashlib.sha256(b"").hexdigest()}
