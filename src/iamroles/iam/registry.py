"""Operations by wire name, each with how it is authorised.

An operation is a plain function ``(ctx, input) -> output`` over the
botocore model's member names. Its spec names the IAM action (``iam:`` +
the wire name unless told otherwise), the resource ARN the call is
authorised against, and any request-specific condition keys.

An operation with slow work that depends on stored state (argon2 password hashes) names a ``prepare``: it is
called first, in a read transaction, after the same authentication and authorisation, and returns that work,
which then runs outside any transaction; its result reaches the operation as ``ctx.prepared`` in the write
transaction, which checks that what the work was based on is unchanged (else it raises :class:`Stale` and the call
is prepared again). So no lock is held while it runs. Called without it (``ctx.prepared`` None), the operation
does the work itself.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from iamroles.policy import Policy

from .conflicts import answering_conflicts
from .context import CallContext

__all__ = ["On", "Operation", "OPERATIONS", "operation", "Input", "Output", "Prepare", "Stale"]

Input = Mapping[str, Any]
Output = dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class On:
    """One of the resources a call acts on, with the condition keys that resource brings (its aws:ResourceTag/*).
    A call on several (Organizations' AttachPolicy: the policy and its target) is authorised on each of them, as
    AWS authorises an action whose reference lists several resource types: every one must be allowed."""

    arn: str
    keys: Mapping[str, Any] = field(default_factory=dict)
    # the resource's account when it is not the caller's (the call is then cross-account: both the caller's
    # policies and the resource's ``policy`` must allow it), and the resource-based policy that governs it
    account: str | None = None
    policy: Policy | None = None
    # authorised for this action instead of the operation's (a create that tags what it creates needs the tagging
    # action on it too)
    action: str | None = None


Func = Callable[[CallContext, Input], Output]
# the ARN a call is authorised on, or the resources it acts on (each authorised)
ResourceOf = Callable[[CallContext, Input], str | tuple[On, ...]]
KeysOf = Callable[[CallContext, Input], dict[str, Any]]
# (ctx in a read transaction, input) -> the slow work, run outside any transaction; its result is ctx.prepared
Prepare = Callable[[CallContext, Input], Callable[[], Any]]


class Stale(Exception):
    """What an operation's prepared work was based on changed before its write transaction: prepare again."""


@dataclass(frozen=True, slots=True)
class Operation:
    service: str
    name: str
    func: Func
    resource: ResourceOf | None  # None: no authorisation (e.g. GetCallerIdentity)
    keys: KeysOf | None
    write: bool
    action: str
    prepare: Prepare | None = None


OPERATIONS: dict[tuple[str, str], Operation] = {}


def operation(
    name: str,
    *,
    resource: ResourceOf | None,
    keys: KeysOf | None = None,
    write: bool = False,
    service: str = "iam",
    action: str | None = None,
    prepare: Prepare | None = None,
) -> Callable[[Func], Func]:
    def register(func: Func) -> Func:
        # a write may collide with another request's: the store's Conflict becomes AWS's error here, for all of them
        run = answering_conflicts(name, func) if write else func
        OPERATIONS[(service, name)] = Operation(service, name, run, resource, keys, write, action or f"{service}:{name}",
                                                 prepare)
        return func

    return register
