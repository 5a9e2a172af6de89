"""The adversarial suite's world: one real ``iamroles serve`` per backend (SQLite, PostgreSQL) for the whole run.

Every test is an attack: it builds what it needs with unique names on the
shared server, tries to get around one rule, and checks the refusal (AWS's
code and HTTP status, the message where AWS documents it) and that nothing
changed. ``World`` holds the helpers: users and roles with their policies,
their clients, a second account (``iamroles accounts create`` on the same
store, made once per backend), and the policy builders.
"""
from __future__ import annotations

import configparser
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from ..server.conftest import Server, pg_database, start_server, stop_server, unique  # noqa: F401 (pg_database: a fixture)

ECS = "ecs-tasks.amazonaws.com"
EC2 = "ec2.amazonaws.com"
LAUNCH = "iamroles:LaunchWorkload"


# --- policy documents ---------------------------------------------------------------------------


def statement(effect: str, actions: str | list[str], resource: str | list[str] | None = "*",
              condition: dict[str, Any] | None = None, principal: dict[str, Any] | str | None = None) -> dict[str, Any]:
    st: dict[str, Any] = {"Effect": effect, "Action": actions}
    if principal is not None:
        st["Principal"] = principal
    if resource is not None:
        st["Resource"] = resource
    if condition:
        st["Condition"] = condition
    return st


def allow(actions: str | list[str], resource: str | list[str] = "*", condition: dict[str, Any] | None = None) -> dict[str, Any]:
    return statement("Allow", actions, resource, condition)


def deny(actions: str | list[str], resource: str | list[str] = "*", condition: dict[str, Any] | None = None) -> dict[str, Any]:
    return statement("Deny", actions, resource, condition)


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


ASSUME_ANY = policy(allow("sts:AssumeRole"))  # the review's attacker: sts:AssumeRole on "*" and nothing else
ADMIN = policy(allow("*"))


def trust(*aws: str, service: str | None = None, actions: str | list[str] = "sts:AssumeRole",
          condition: dict[str, Any] | None = None, extra: list[dict[str, Any]] | None = None) -> str:
    """A role trust policy: one Allow statement for ``aws`` principals (or a ``service``), plus ``extra`` statements."""
    principal: dict[str, Any] = {}
    if aws:
        principal["AWS"] = list(aws) if len(aws) > 1 else aws[0]
    if service:
        principal["Service"] = service
    statements = [statement("Allow", actions, None, condition, principal)] if principal else []
    return json.dumps(policy(*statements, *(extra or [])))


# --- errors -------------------------------------------------------------------------------------


def refused(call: Callable[[], Any], code: str, status: int) -> str:
    """Run ``call``, which must fail with AWS's ``code`` and HTTP ``status``; its message.

    A refusal never carries credentials (nothing was issued)."""
    with pytest.raises(ClientError) as exc:
        call()
    r = exc.value.response
    got = (r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"])
    assert got == (code, status), f"expected {(code, status)}, got {got}: {r['Error'].get('Message')}"
    assert "Credentials" not in r
    return str(r["Error"].get("Message", ""))


def not_authorized(who: str, action: str, resource: str) -> str:
    """The head of AWS's AccessDenied message (IAM User Guide, troubleshoot_access-denied.html)."""
    return f"User: {who} is not authorized to perform: {action} on resource: {resource}"


def denied(call: Callable[[], Any], who: str, action: str, resource: str, reason: str | None = None) -> str:
    """``call`` must be refused AccessDenied (403) for ``who`` doing ``action`` on ``resource``.

    ``reason`` None: the message is exactly AWS's head (STS's wording for every AssumeRole refusal, which says nothing
    of the role, its trust policy or the caller's policies); ANY_REASON: the head and any reason after it; else the
    head, a space and ``reason``."""
    message = refused(call, "AccessDenied", 403)
    head = not_authorized(who, action, resource)
    if reason is None:
        assert message == head, message
    elif reason == ANY_REASON:
        assert message == head or message.startswith(head + " "), message
    else:
        assert message == f"{head} {reason}", message
    return message


ANY_REASON = "..."


def no_identity_allows(action: str) -> str:
    return f"because no identity-based policy allows the {action} action"


def no_boundary_allows(action: str) -> str:
    return f"because no permissions boundary allows the {action} action"


def no_session_policy_allows(action: str) -> str:
    return f"because no session policy allows the {action} action"


EXPLICIT_IDENTITY_DENY = "with an explicit deny in an identity-based policy"


# --- principals ---------------------------------------------------------------------------------


@dataclass
class Account:
    account_id: str
    key: str
    secret: str
    partition: str = "aws"


# a region of each partition, where an account of that partition is reached
HOME_REGION = {"aws": "us-east-1", "aws-cn": "cn-north-1", "aws-us-gov": "us-gov-west-1"}


@dataclass
class Creds:
    """Something that signs: an IAM user's keys or a session's temporary credentials."""

    srv: Server
    arn: str
    key: str
    secret: str
    token: str | None = None
    name: str = ""
    account: str = ""
    raw: dict[str, Any] = field(default_factory=dict)

    _clients: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)

    def client(self, service: str, region: str | None = None) -> Any:
        region = region or HOME_REGION[self.arn.split(":")[1]]
        hit = self._clients.get((service, region))
        if hit is None:
            hit = self._clients[(service, region)] = self.srv.client(service, self.key, self.secret, self.token, region=region)
        return hit

    @property
    def iam(self) -> Any:
        return self.client("iam")

    @property
    def sts(self) -> Any:
        return self.client("sts")

    def assume(self, role_arn: str, session: str = "s1", **kw: Any) -> Creds:
        out = self.sts.assume_role(RoleArn=role_arn, RoleSessionName=session, **kw)
        c = out["Credentials"]
        arn = out["AssumedRoleUser"]["Arn"]
        return Creds(self.srv, arn, c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"], session,
                     arn.split(":")[4], out)

    def api(self, name: str, body: dict[str, Any]) -> httpx.Response:
        """iamroles' own JSON API (``POST /iamroles/v1/NAME``), SigV4-signed for the service ``iamroles``."""
        raw = json.dumps(body)
        req = AWSRequest("POST", f"{self.srv.url}/iamroles/v1/{name}", data=raw, headers={"Content-Type": "application/json"})
        SigV4Auth(Credentials(self.key, self.secret, self.token), "iamroles", "us-east-1").add_auth(req)
        p = req.prepare()
        return httpx.post(p.url, content=raw, headers=dict(p.headers))


@dataclass
class World:
    srv: Server
    _other: Account | None = None
    _creating: subprocess.Popen[str] | None = None

    @property
    def account(self) -> str:
        return self.srv.account

    _roots: dict[str, Creds] = field(default_factory=dict)

    def root(self, account: Account | None = None) -> Creds:
        account_id = account.account_id if account else self.account
        hit = self._roots.get(account_id)
        if hit is None:
            key, secret = (account.key, account.secret) if account else (self.srv.access_key, self.srv.secret_key)
            partition = account.partition if account else "aws"
            hit = self._roots[account_id] = Creds(self.srv, f"arn:{partition}:iam::{account_id}:root", key, secret, account=account_id)
        return hit

    def admin_iam(self, account: Account | None = None) -> Any:
        return self.root(account).iam

    def start_other_account(self) -> None:
        """Start ``iamroles accounts create`` on the server's store in the background (the server is up, so the
        store is bootstrapped); :meth:`other_account` waits for it when a test first needs it."""
        cmd = [sys.executable, "-m", "iamroles", "accounts", "create", "--data-dir", str(self.srv.data_dir), "--json"]
        cmd += ["--db", self.srv.db_url] if self.srv.db_url else []
        self._creating = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def other_account(self) -> Account:
        """A second account on the same store, made once per backend."""
        if self._other is None:
            if self._creating is None:
                self.start_other_account()
            assert self._creating is not None
            out, err = self._creating.communicate(timeout=60)
            assert self._creating.returncode == 0, err
            info = json.loads(out)
            cfg = configparser.ConfigParser()
            cfg.read(info["credentials_file"])
            section = cfg[info["profile"]]
            self._other = Account(info["account_id"], section["aws_access_key_id"], section["aws_secret_access_key"])
        return self._other

    _partitioned: dict[str, Account] = field(default_factory=dict)

    def account_in(self, partition: str) -> Account:
        """An account of another partition (``iamroles accounts create --partition``) on the same store, made once."""
        hit = self._partitioned.get(partition)
        if hit is None:
            cmd = [sys.executable, "-m", "iamroles", "accounts", "create", "--data-dir", str(self.srv.data_dir), "--json",
                   "--partition", partition, *(["--db", self.srv.db_url] if self.srv.db_url else [])]
            info = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60).stdout)
            assert info["partition"] == partition
            cfg = configparser.ConfigParser()
            cfg.read(info["credentials_file"])
            section = cfg[info["profile"]]
            hit = self._partitioned[partition] = Account(info["account_id"], section["aws_access_key_id"],
                                                         section["aws_secret_access_key"], partition)
        return hit

    def user(self, identity: dict[str, Any] | None = None, *, account: Account | None = None, name: str | None = None,
             tags: dict[str, str] | None = None, boundary: str | None = None, path: str = "/") -> Creds:
        iam = self.admin_iam(account)
        name = name or unique("u")
        kw: dict[str, Any] = {"UserName": name, "Path": path}
        if tags:
            kw["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        if boundary:
            kw["PermissionsBoundary"] = boundary
        arn = iam.create_user(**kw)["User"]["Arn"]
        if identity is not None:
            iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(identity))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return Creds(self.srv, arn, key["AccessKeyId"], key["SecretAccessKey"], name=name, account=arn.split(":")[4])

    def role(self, trust_policy: str, identity: dict[str, Any] | None = None, *, account: Account | None = None,
             name: str | None = None, boundary: str | None = None, max_session: int = 3600) -> tuple[str, str]:
        """A role: (name, ARN)."""
        iam = self.admin_iam(account)
        name = name or unique("r")
        kw: dict[str, Any] = {"RoleName": name, "AssumeRolePolicyDocument": trust_policy, "MaxSessionDuration": max_session}
        if boundary:
            kw["PermissionsBoundary"] = boundary
        arn = iam.create_role(**kw)["Role"]["Arn"]
        if identity is not None:
            iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(identity))
        return name, arn

    def managed(self, document: dict[str, Any], account: Account | None = None) -> str:
        """A customer managed policy's ARN."""
        return str(self.admin_iam(account).create_policy(PolicyName=unique("mp"), PolicyDocument=json.dumps(document))["Policy"]["Arn"])


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One server per backend for the whole suite (tests use unique names and never move its clock)."""
    db_url = request.getfixturevalue("pg_database") if request.param == "postgresql" else None
    srv = start_server(tmp_path_factory.mktemp(f"security-{request.param}"), db_url)
    world = World(srv)
    world.start_other_account()
    try:
        yield world
    finally:
        if world._creating is not None and world._other is None:
            # read (and close) its pipes even when it has ended: pipes left to the garbage collector raise a
            # ResourceWarning that pytest reports against whichever test is running then
            world._creating.communicate(timeout=60)
        stop_server(srv)
