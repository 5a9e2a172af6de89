"""IAM and STS operations called directly, with no HTTP server and no SigV4: the runtime's
:class:`~iamroles.runtime.Service` on a SQLite store of this session, and each call as the Query endpoint makes it
once the caller is known (the parameters as botocore's Query serializer flattens them, decoded by the protocol
layer against botocore's model; what the caller's kind of credentials may call; the authorisation; the operation,
in a write or read transaction). Callers are resolved from their access keys and session tokens by the
authenticator's own resolver, as a signed request's would be.

Every test gets accounts of its own (:func:`account`), so one migrated store serves the whole directory.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import botocore.serialize
import pytest

from iamroles import iam, sts  # noqa: F401  (register the operations)
from iamroles.auth.caller import Caller
from iamroles.iam import OPERATIONS, authorize
from iamroles.protocol import parse_request, service_model
from iamroles.runtime import Service, new_id
from iamroles.server.bootstrap import create_account
from iamroles.store import Store
from iamroles.sts.limits import check_session_limits
from iamroles.tokens import MasterKey

_MODELS = {name: service_model(name) for name in ("iam", "sts")}
_SERIALIZER = botocore.serialize.create_serializer("query", include_validation=False)  # the server validates
REGION = "us-east-1"


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    store = Store(f"sqlite+pysqlite:///{tmp_path_factory.mktemp('unit') / 'iamroles.db'}")
    store.migrate()
    yield Service(store, MasterKey(bytes(range(32))))
    store.close()


@dataclass
class Client:
    """One principal's calls: ``client("CreateRole", RoleName=...)`` -> the operation's output (a dict), or the
    operation's :class:`~iamroles.errors.AwsError` raised."""

    service: Service
    access_key_id: str
    secret: str = ""
    token: str | None = None

    @property
    def caller(self) -> Caller:
        svc = self.service
        resolver = svc.authenticator.resolver
        with svc.store.read() as tx:
            if self.token:
                return resolver.resolve_session(tx, self.access_key_id, self.token, svc.clock(), svc.keyring).caller
            return resolver.resolve(tx, self.access_key_id).caller

    def __call__(self, operation: str, **params: Any) -> dict[str, Any]:
        name = "sts" if operation in _MODELS["sts"].operation_names else "iam"
        model = _MODELS[name]
        form = _SERIALIZER.serialize_to_request(params, model.operation_model(operation))["body"]
        op_model, inp = parse_request({k: str(v) for k, v in form.items()}, model)
        op = OPERATIONS[(name, op_model.name)]
        caller = self.caller
        svc = self.service
        now = svc.clock()
        with svc.store.write() if op.write else svc.store.read() as tx:
            check_session_limits(caller.session, name, op_model.name)
            ctx = svc.context(caller, tx, now, REGION, "192.0.2.10", True, "tests/unit", new_id())
            if op.resource is not None:
                authorize(ctx, op.action, op.resource(ctx, inp), op.keys(ctx, inp) if op.keys else None)
            out = op.func(ctx, inp) or {}
        svc.note_role_used(ctx, REGION)
        return out

    def key(self, user: str) -> Client:
        """A new access key of ``user`` (created by this client) as a client of its own."""
        created = self("CreateAccessKey", UserName=user)["AccessKey"]
        return Client(self.service, created["AccessKeyId"], created["SecretAccessKey"])

    def assume(self, role_arn: str, session: str = "unit", **params: Any) -> Client:
        creds = self("AssumeRole", RoleArn=role_arn, RoleSessionName=session, **params)["Credentials"]
        return Client(self.service, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])


@dataclass
class Account:
    id: str
    root: Client

    def arn(self, resource: str) -> str:
        return f"arn:aws:iam::{self.id}:{resource}"


@pytest.fixture
def account(service: Service) -> Account:
    """A new account, and its root's client."""
    account_id, key, secret = create_account(service.store, service.master_key)
    return Account(account_id, Client(service, key, secret))


@pytest.fixture
def other_account(service: Service) -> Account:
    account_id, key, secret = create_account(service.store, service.master_key)
    return Account(account_id, Client(service, key, secret))
