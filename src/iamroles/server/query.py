"""IAM and STS calls in the AWS Query protocol, over a :class:`~iamroles.runtime.Service`.

Per call, in one pass: parse the SigV4 signature -> in one transaction: authenticate the caller, check what its
kind of credentials may call, decode the parameters by the botocore model, authorise the call with the policy
core, run the operation, write its audit record with its change, commit -> render XML. (An operation with slow work
that depends on stored state first does it outside any transaction: ``iam.registry.Operation.prepare``.) The call runs in
:class:`~iamroles.runtime.Call`, where every error becomes AWS's error envelope and the audit record goes to the
trail.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.model import OperationModel, ServiceModel

from iamroles import iam, sts  # noqa: F401  (register operations)
from iamroles.auth import sigv4
from iamroles.errors import EntityTemporarilyUnmodifiable, IncompleteSignature, InvalidAction, InvalidQueryParameter
from iamroles.iam import OPERATIONS, CallContext, Operation, Stale, authorize_on
from iamroles.iam.context import Caller
from iamroles.policy import Arn, Principal, PrincipalType
from iamroles.protocol import holds_secret, parse_request, redact, render_response, repeated_query_name, service_model
from iamroles.runtime import Call, CallRecord, Reply, Service, new_id
from iamroles.runtime.call import QueryXml
from iamroles.store import Tx
from iamroles.sts.limits import check_session_limits
from iamroles.sts.web_identity import UNSIGNED_OPERATIONS

__all__ = ["SERVICES", "handle", "is_signed", "may_write", "respond"]

SERVICES = ("iam", "sts")
UNSIGNED_ACTIONS = frozenset(name for service, name in UNSIGNED_OPERATIONS)
_UNSIGNED_REGION = "us-east-1"
# how many times a call whose prepared work went stale is prepared again before EntityTemporarilyUnmodifiable
PREPARE_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class Route:
    """What an Action names in one service, looked up once per (service, Action): its model, its registered
    operation (None: the model has it, iamroles does not), whether it writes, and whether its answer waits for
    its audit record (it writes, or it answers with a secret: a member the model marks sensitive)."""

    model: OperationModel
    op: Operation | None
    write: bool
    durable: bool


_ROUTES: dict[tuple[str, str], Route | None] = {}
_MODELS = {name: service_model(name) for name in SERVICES}
_WIRES = {name: QueryXml(model) for name, model in _MODELS.items()}
_WRITES: dict[str, bool] = {}


def route(service: str, action: str | None) -> Route | None:
    """The route of ``action`` in ``service`` (None: not one of its operations); remembered for the model's own
    names only, so that requests naming anything cannot grow the table."""
    if action is None:
        return None
    key = (service, action)
    try:
        return _ROUTES[key]
    except KeyError:
        pass
    model: ServiceModel = _MODELS[service]
    if action not in model.operation_names:
        return None
    op_model = model.operation_model(action)
    op = OPERATIONS.get((service, op_model.name))
    write = op is not None and op.write
    out = op_model.output_shape
    found = Route(op_model, op, write, op is not None and (write or (out is not None and holds_secret(out))))
    _ROUTES[key] = found
    return found


def may_write(params: dict[str, str]) -> bool:
    """Whether the call may write (placed off the event loop): by its Action alone, before the signature says
    which service it is for (unknown Actions count as writes: they are refused in a thread)."""
    action = params.get("Action", "")
    hit = _WRITES.get(action)
    if hit is None:
        op = OPERATIONS.get(("iam", action)) or OPERATIONS.get(("sts", action))
        hit = op is None or op.write
        if op is not None:
            _WRITES[action] = hit
    return hit


def is_signed(http: sigv4.HttpRequest, params: dict[str, str]) -> bool:
    return "authorization" in http.headers or "X-Amz-Signature" in params


def handle(service: Service, http: sigv4.HttpRequest, params: dict[str, str], source_ip: str, secure: bool) -> tuple[int, bytes]:
    """In a worker thread: the answer, once the call's record is committed where that is required."""
    return respond(service, http, params, source_ip, secure).wait()


def respond(service: Service, http: sigv4.HttpRequest, params: dict[str, str], source_ip: str, secure: bool,
            loop: asyncio.AbstractEventLoop | None = None) -> Reply:
    """The answer, and the audit record it must wait for (``loop``: the caller waits in that event loop)."""
    record = CallRecord("iam", params.get("Action", ""), _UNSIGNED_REGION, source_ip, http.headers.get("user-agent", ""), new_id())
    call = Call(service, record, _WIRES["iam"])
    if params.get("Action") in UNSIGNED_ACTIONS and not is_signed(http, params):
        return call.run(lambda c: _unsigned(c, http, params, secure), loop)
    return call.run(lambda c: _signed(c, http, params, secure), loop)


def _signed(call: Call, http: sigv4.HttpRequest, params: dict[str, str], secure: bool) -> bytes:
    service, record = call.service, call.record
    authenticator = service.authenticator
    signed = authenticator.parse(http, params)
    if signed.service not in SERVICES:
        raise IncompleteSignature(f"Credential should be scoped to correct service: '{SERVICES[0]}'. ")
    record.service, record.region, record.access_key_id = signed.service, signed.region, signed.access_key_id
    call.wire = _WIRES[signed.service]
    repeated = repeated_query_name(http.query) if http.query else None
    if repeated is not None:
        raise InvalidQueryParameter(f"The query string gives the parameter {repeated[:128]!r} more than once.")
    # the operation is known from its name alone: the parameters are decoded only once the caller is
    # authenticated (cheap before expensive; AWS, too, reports a bad parameter after authentication)
    action = params.get("Action")
    found = route(signed.service, action)
    write = found is not None and found.write
    record.read_only = not write
    record.durable = found is not None and found.durable
    prepare = found.op.prepare if found is not None and found.op is not None else None
    for _ in range(PREPARE_ATTEMPTS):
        prepared = None
        if prepare is not None:
            # the operation's slow work (password hashes), on what a read transaction shows, holding no lock
            with service.store.read() as tx:
                ctx, _, inp = _enter(call, tx, http, params, signed, found, service.clock(), secure)
                work = prepare(ctx, inp)
            prepared = work()
        now = service.clock()
        try:
            with service.store.write() if write else service.store.read() as tx:
                ctx, op_model, inp = _enter(call, tx, http, params, signed, found, now, secure)
                ctx.prepared = prepared
                assert found is not None and found.op is not None  # (_enter raised InvalidAction otherwise)
                output = found.op.func(ctx, inp)
                service.note_findings(ctx, record)
                if found.durable and op_model.output_shape is not None:  # a change or a credential issuance: CloudTrail's responseElements
                    record.response = redact(output, op_model.output_shape)
                if write:
                    call.audit_in(tx)
        except Stale:
            if prepare is None:
                raise
            continue  # what the work was based on changed meanwhile: again, on what is there now
        break
    else:
        raise EntityTemporarilyUnmodifiable(f"{record.operation} was interrupted by other changes {PREPARE_ATTEMPTS} "
                                            "times; try again.")
    call.audited = write
    usage = service.usage
    if usage is not None:
        if not signed.security_token:
            usage.key_used(signed.access_key_id, now, signed.service, signed.region)
        service.note_role_used(ctx, signed.region)
    return render_response(op_model, output, record.request_id)


def _enter(call: Call, tx: Tx, http: sigv4.HttpRequest, params: dict[str, str], signed: sigv4.SignedRequest,
           found: Route | None, now: datetime, secure: bool) -> tuple[CallContext, OperationModel, dict[str, Any]]:
    """In ``tx``: the caller authenticated, what its kind of credentials may call checked, the parameters decoded,
    the call authorised; the context the operation runs in, with its model and input."""
    service, record = call.service, call.record
    caller = service.authenticator.verify(tx, http, signed, now)
    record.caller = caller
    # what temporary credentials of the caller's kind may call at all, before anything runs
    check_session_limits(caller.session, signed.service, found.model.name if found is not None else record.operation)
    op_model, inp = parse_request(params, _MODELS[signed.service])
    record.params = redact(inp, op_model.input_shape) if op_model.input_shape is not None else inp
    if found is None or found.op is None:
        raise InvalidAction(f"Could not find operation {op_model.name} for version {op_model.service_model.api_version}")
    op = found.op
    ctx = service.context(caller, tx, now, signed.region, record.source_ip, secure, record.user_agent, record.request_id)
    if op.resource is not None:
        authorize_on(ctx, op.action, op.resource(ctx, inp), op.keys(ctx, inp) if op.keys else None)
    return ctx, op_model, inp


def _unsigned(call: Call, http: sigv4.HttpRequest, params: dict[str, str], secure: bool) -> bytes:
    """AssumeRoleWithWebIdentity: unsigned, the web identity token is the credential."""
    service, record = call.service, call.record
    record.service = "sts"
    call.wire = _WIRES["sts"]
    found = route("sts", params.get("Action"))
    assert found is not None and found.op is not None  # UNSIGNED_ACTIONS are registered STS operations
    record.durable = found.durable
    op_model, inp = parse_request(params, _MODELS["sts"])
    record.params = redact(inp, op_model.input_shape)
    # the caller is the web identity, in the role's account and partition (what the role ARN names, if it is one)
    named = Arn.maybe(str(inp.get("RoleArn", "")))
    account = named.account if named is not None else ""
    partition = named.partition if named is not None and named.partition else "aws"
    caller = Caller(Principal(PrincipalType.WEB_IDENTITY), account, partition, "")
    now = service.clock()
    with service.store.read() as tx:
        ctx: CallContext = service.context(caller, tx, now, _UNSIGNED_REGION, record.source_ip, secure, record.user_agent,
                                           record.request_id)
        output = found.op.func(ctx, inp)
    record.response = redact(output, op_model.output_shape)
    service.note_role_used(ctx, _UNSIGNED_REGION)
    return render_response(op_model, output, record.request_id)
