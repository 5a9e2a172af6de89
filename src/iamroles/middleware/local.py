"""The in-process backend: decisions with an :class:`iamroles.runtime.Service`'s store, keys and caches, each one a
call of the runtime's one wrapper (:class:`iamroles.runtime.Call`), so that it is answered and audited as every
call of the server is."""
from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from iamroles.errors import AwsError, InternalError
from iamroles.runtime import Authorization, Authorizer, Call, CallRecord, Reply, Service
from iamroles.runtime.call import S3Xml

from .types import Check, IamIdentity, Verdict

if TYPE_CHECKING:
    from iamroles.store import Account as StoreAccount

__all__ = ["INTERNAL", "LocalAuthorizer"]

log = logging.getLogger("iamroles.middleware")
INTERNAL = "We encountered an internal error. Please try again."
_S3_XML = S3Xml()
_NO_REGION = "us-east-1"  # a request refused before its credential scope was read
_AUDIT = ("refusals", "all", "none")


class LocalAuthorizer:
    """Decides in process with an :class:`iamroles.runtime.Service`'s store, keys and caches.

    ``account``: the account owning the service's resources (default: the
    store's first account, the one ``iamroles serve`` bootstrapped).
    Principals of other accounts need the resource policy too; a target
    naming another account's resource (``resource_account``, or the account
    or partition in its ARN) is the service's mistake and is refused (500).
    Requests signed for a region of another partition than the account's are
    refused with InvalidClientTokenId, as AWS refuses a key of another partition.

    Decisions are recorded in the service's audit trail (``service.audit``; :meth:`open` starts one on the
    store) as CloudTrail records a data event: the signer (or the access key, for a request that was not
    authentic), the action (``s3:GetObject`` is event source ``s3.amazonaws.com``, event name ``GetObject``),
    the resource and the decision, the error code of a refusal; never the signature, a session token or a body.
    ``audit``: ``"refusals"`` (the default) records every request refused (denied, not authentic, or failed);
    ``"all"`` every decision, as CloudTrail's data events, which AWS logs only where asked
    (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/logging-data-events-with-cloudtrail.html):
    at the middleware's rates a record costs about as much as the decision (bench/authorizer.py measures
    both); ``"none"`` records nothing (errors are still mapped and answered by the same wrapper).
    """

    def __init__(self, service: Service, *, account: str | None = None, in_thread: bool = False, audit: str = "refusals") -> None:
        if audit not in _AUDIT:
            raise ValueError(f"audit is one of {', '.join(map(repr, _AUDIT))}, not {audit!r}")
        self.service = service
        with service.store.read() as tx:
            found: StoreAccount | None
            if account is None:
                accounts = tx.accounts()
                if not accounts:
                    raise ValueError("the iamroles store has no account yet: start `iamroles serve` on it first")
                found = accounts[0]
            else:
                found = tx.account(account)
                if found is None:
                    raise ValueError(f"the iamroles store has no account {account}")
        self.account = found.account_id
        self.partition = found.partition
        self.in_thread = in_thread
        self.audit = audit
        self._authorizers: dict[tuple[str, ...] | None, Authorizer] = {}
        self._owns_store = False

    @classmethod
    def open(cls, data_dir: str | os.PathLike[str] | None = None, db_url: str | None = None, *, account: str | None = None,
             cache_ttl: float = 1.0, in_thread: bool = False, regions: Mapping[str, str] | None = None,
             audit: str = "refusals") -> LocalAuthorizer:
        """On an ``iamroles serve`` data directory (its master key; its SQLite database unless ``db_url``).

        ``data_dir`` defaults to ``$IAMROLES_DATA_DIR`` or ``~/.iamroles``; the
        master key may come from ``$IAMROLES_MASTER_KEY`` instead. Changes made
        through the server (policies, deleted keys) apply here within
        ``cache_ttl`` seconds. Nothing is created: the server must have
        bootstrapped the store. ``regions``: private region names and their
        partitions, as the server's ``--region NAME=PARTITION`` declares them.
        Decisions go to the store's audit trail (``iamroles audit``) as ``audit``
        says, written by a thread of this process; :meth:`close` writes what is left.
        """
        from iamroles.auth.regions import known_regions
        from iamroles.runtime import database_url, default_data_dir
        from iamroles.runtime.audit import AuditLog
        from iamroles.store import Store
        from iamroles.tokens import MasterKey

        known = known_regions().declare((regions or {}).items())
        directory = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
        key_path = directory / "master.key"
        if not os.environ.get("IAMROLES_MASTER_KEY") and not key_path.exists():
            raise FileNotFoundError(f"no iamroles master key at {key_path} (start `iamroles serve --data-dir {directory}` first)")
        master_key, _ = MasterKey.load_or_create(key_path)
        store = Store(database_url(directory, db_url), cache_ttl=cache_ttl)
        try:
            opened = cls(Service(store, master_key, regions=known), account=account, in_thread=in_thread, audit=audit)
        except Exception:
            store.close()
            raise
        if audit != "none":
            opened.service.audit = AuditLog(store)
        opened._owns_store = True
        return opened

    def _authorizer(self, services: tuple[str, ...] | None) -> Authorizer:
        auth = self._authorizers.get(services)
        if auth is None:
            auth = self._authorizers[services] = Authorizer(self.service, services, self.account, self.partition)
        return auth

    def decide_now(self, check: Check) -> Verdict:
        """The decision, synchronously (what :meth:`decide` runs). A refusal, and any decision to be recorded, is
        answered and recorded by the runtime's one wrapper (:meth:`iamroles.runtime.Call.run`), in ``check.wire``
        (S3's XML by default); an allowed decision that is not to be recorded has nothing for the wrapper to write,
        and skips it (measured, the wrapper and its record would be a tenth of the time the middleware takes)."""
        result: Authorization | None = None
        failure: BaseException | None = None
        try:
            result = self._authorizer(check.services).authorize(
                check.http, check.action, check.resource, resource_policy=check.resource_policy,
                resource_policy_must_grant=check.resource_policy_must_grant, resource_account=check.resource_account,
                context=check.context, source_ip=check.source_ip, secure=check.secure, request_id=check.request_id,
            )
        except Exception as exc:  # noqa: BLE001  (the call below answers it, and records it)
            failure = exc
        if result is not None and self.audit != "all" and result.allowed:
            return _allowed(result, check)
        prefix, _, name = check.action.partition(":")
        record = CallRecord(prefix, name or check.action, _NO_REGION, check.source_ip, check.http.headers.get("user-agent", ""),
                            check.request_id, params={"Resource": check.resource})
        call = Call(self.service, record, check.wire or _S3_XML, records=self.audit)
        return _verdict(call.run(_Decided(check, result, failure).answer), record, check, result)

    async def decide(self, check: Check) -> Verdict:
        if self.in_thread:
            return await asyncio.to_thread(self.decide_now, check)
        return self.decide_now(check)

    async def aclose(self) -> None:
        self.close()

    def close(self) -> None:
        """Close the audit trail and the store if :meth:`open` opened them."""
        if self._owns_store:
            self._owns_store = False
            audit = self.service.audit
            if audit is not None:
                audit.close()
            self.service.store.close()


class _Decided:
    """The body of a decision's call: what the authoriser found, as the call's record and its answer."""

    __slots__ = ("check", "failure", "result")

    def __init__(self, check: Check, result: Authorization | None, failure: BaseException | None) -> None:
        self.check, self.result, self.failure = check, result, failure

    def answer(self, call: Call) -> bytes:
        check, result, failure = self.check, self.result, self.failure
        if result is None:
            if isinstance(failure, AwsError):  # an invalid resource policy, another account's resource: the service's fault
                log.error("request %s: cannot decide %s on %s: %s: %s", check.request_id, check.action, check.resource,
                          failure.code, failure.message)
            else:
                log.error("request %s: the in-process authoriser failed", check.request_id, exc_info=failure)
            raise InternalError(INTERNAL)
        record = call.record
        record.access_key_id, record.caller = result.access_key_id, result.caller
        if result.region is not None:
            record.region = result.region
        if result.decision is not None:
            record.params = {"Resource": check.resource, "Decision": result.decision.effect.value}
        denial = result.denial()
        if denial is not None:
            raise denial
        return b""


def _allowed(result: Authorization, check: Check) -> Verdict:
    identity = _identity(result, check)
    return Verdict(True, 200, identity=identity, decision=identity.decision, request_id=check.request_id)


def _verdict(reply: Reply, record: CallRecord, check: Check, result: Authorization | None) -> Verdict:
    """The call's outcome: allowed, or its refusal as the wrapper wrote it (the authentication error, the denial, or
    an internal one)."""
    if reply.status == 200:
        assert result is not None
        return _allowed(result, check)
    if result is None or result.caller is None or result.decision is None:
        return Verdict(False, reply.status, record.error_code, record.error_message, request_id=check.request_id, body=reply.body)
    decision = result.decision
    return Verdict(False, reply.status, record.error_code, record.error_message, _identity(result, check), decision.effect.value,
                   decision.denied_by.value if decision.denied_by is not None else None, result.encoded_message,
                   check.request_id, reply.body)


def _identity(result: Authorization, check: Check) -> IamIdentity:
    caller, decision = result.caller, result.decision
    assert caller is not None and decision is not None
    p = caller.principal
    session = caller.session
    return IamIdentity(
        arn=p.arn or "", account=caller.account_id, user_id=p.user_id or caller.account_id, type=p.type.value,
        access_key_id=caller.access_key_id, role_arn=p.role_arn, name=p.name, tags=p.tags,
        session_tags=(session.tags or {}) if session is not None else {},
        source_identity=session.source_identity if session is not None else None,
        issued=session.issued if session is not None else None, expires=session.expires if session is not None else None,
        action=check.action, resource=check.resource, decision=decision.effect.value,
        matches=decision.matches, request_id=check.request_id,
    )
