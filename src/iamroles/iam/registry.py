"""Operations by wire name, each with how it is authorised.

An operation is a plain function ``(ctx, input) -> output`` over the
botocore model's member names. Its spec names the IAM action (``iam:`` +
the wire name unless told otherwise), the resource ARN the call is
authorised against, and any request-specific condition keys.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .conflicts import answering_conflicts
from .context import CallContext

__all__ = ["Operation", "OPERATIONS", "operation", "Input", "Output"]

Input = Mapping[str, Any]
Output = dict[str, Any] | None
Func = Callable[[CallContext, Input], Output]
ResourceOf = Callable[[CallContext, Input], str]
KeysOf = Callable[[CallContext, Input], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Operation:
    service: str
    name: str
    func: Func
    resource: ResourceOf | None  # None: no authorisation (e.g. GetCallerIdentity)
    keys: KeysOf | None
    write: bool
    action: str


OPERATIONS: dict[tuple[str, str], Operation] = {}


def operation(
    name: str,
    *,
    resource: ResourceOf | None,
    keys: KeysOf | None = None,
    write: bool = False,
    service: str = "iam",
    action: str | None = None,
) -> Callable[[Func], Func]:
    def register(func: Func) -> Func:
        # a write may collide with another request's: the store's Conflict becomes AWS's error here, for all of them
        run = answering_conflicts(name, func) if write else func
        OPERATIONS[(service, name)] = Operation(service, name, run, resource, keys, write, action or f"{service}:{name}")
        return func

    return register
