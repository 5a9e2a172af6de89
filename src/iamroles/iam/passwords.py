"""Console passwords: login profiles, ChangePassword and the account password policy that governs them.

A password is stored only as an argon2id hash (argon2-cffi; OWASP's parameters: 19 MiB, two passes); of
earlier passwords only as many hashes are kept as the policy's PasswordReusePrevention asks. Hashing and
verifying take tens of milliseconds each (ChangePassword with PasswordReusePrevention=24 verifies 25 hashes): they
are done outside the write transaction (``prepare``, iam.registry), which then only checks that the stored hashes
and the policy are still those the work was based on, so no lock waits for them. Passwords are
members the model marks ``sensitive``: the protocol layer never quotes them and the audit trail records
``HIDDEN_DUE_TO_SECURITY_REASONS`` in their place; no message here ever contains one. The account root's
password is not managed here (there is no console): calls without a UserName need a user's credentials.

AWS references: https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateLoginProfile.html,
API_UpdateLoginProfile.html, API_ChangePassword.html, API_UpdateAccountPasswordPolicy.html (defaults and
ranges; not a partial update), API_GetAccountPasswordPolicy.html,
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_passwords_account-policy.html (the default
policy when none is set: at least 8 characters of at least three character types; the symbols),
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_passwords_enable-user-change.html
(AllowUsersToChangePassword lets every user change its own password with no policy; otherwise
iam:ChangePassword on the user's own ARN).
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from iamroles.errors import (
    AccessDenied,
    EntityAlreadyExists,
    InvalidUserType,
    NoSuchEntity,
    PasswordPolicyViolation,
    ValidationError,
)
from iamroles.policy import Effect
from iamroles.store import LoginProfile, PasswordPolicy, User

from .authorize import authorize, decide
from .common import get_entity, lock_account
from .context import CallContext
from .credentials import named_or_caller, root_itself, user_resource
from .registry import Input, Output, Stale, operation

__all__ = ["hash_password", "verify_password", "check_password"]

_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)

SYMBOLS = frozenset("!@#$%^&*()_+-=[]{}|'")
DEFAULT_MINIMUM = 8  # the default policy (no custom policy set)
CUSTOM_MINIMUM = 6  # UpdateAccountPasswordPolicy's default MinimumPasswordLength
REUSE_MESSAGE = "Policy constraint violation with password reuse prevention during password change operation"


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(hashed: str, password: str) -> bool:
    try:
        return _HASHER.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def _kinds(password: str) -> dict[str, bool]:
    return {
        "uppercase": any("A" <= ch <= "Z" for ch in password),
        "lowercase": any("a" <= ch <= "z" for ch in password),
        "number": any("0" <= ch <= "9" for ch in password),
        "symbol": any(ch in SYMBOLS for ch in password),
    }


def check_password(policy: PasswordPolicy | None, password: str) -> None:
    """PasswordPolicyViolation when ``password`` breaks the account's policy (AWS's default one when none is set).
    The message names the rule, never the password."""
    kinds = _kinds(password)
    if policy is None:
        if len(password) < DEFAULT_MINIMUM:
            raise PasswordPolicyViolation(f"Password should have a minimum length of {DEFAULT_MINIMUM}")
        if sum(kinds.values()) < 3:
            raise PasswordPolicyViolation(
                "Password should have at least three of the following character types: uppercase letters, "
                "lowercase letters, numbers and symbols")
        return
    if len(password) < policy.minimum_length:
        raise PasswordPolicyViolation(f"Password should have a minimum length of {policy.minimum_length}")
    for required, kind, word in ((policy.require_uppercase, "uppercase", "uppercase letter"),
                                 (policy.require_lowercase, "lowercase", "lowercase letter"),
                                 (policy.require_numbers, "number", "number"),
                                 (policy.require_symbols, "symbol", "symbol")):
        if required and not kinds[kind]:
            raise PasswordPolicyViolation(f"Password should have at least one {word}")


def _reused(profile: LoginProfile, policy: PasswordPolicy | None, password: str) -> bool:
    if policy is None or not policy.reuse_prevention:
        return False
    earlier = [profile.password_hash, *json.loads(profile.previous_hashes)][: policy.reuse_prevention]
    return any(verify_password(h, password) for h in earlier)


def _history(profile: LoginProfile, policy: PasswordPolicy | None) -> str:
    """The earlier hashes to keep once the current password is replaced: only as many as the policy's
    PasswordReusePrevention needs beside the new password (a hash kept is one more to crack if the database leaks)."""
    keep = policy.reuse_prevention - 1 if policy is not None and policy.reuse_prevention else 0
    return json.dumps([profile.password_hash, *json.loads(profile.previous_hashes)][:keep])


# -- login profiles ("If no user name is included, it defaults to the principal making the request",
# API_CreateLoginProfile.html) ------------------------------------------------------------------------
def _profile_missing(user: User) -> NoSuchEntity:
    return NoSuchEntity(f"Login Profile for User {user.name} cannot be found.")


def _profile_of(ctx: CallContext, user: User) -> LoginProfile:
    profile = ctx.tx.login_profile(ctx.account_id, user.id)
    if profile is None:
        raise _profile_missing(user)
    return profile


def _profile_out(user: User, profile: LoginProfile) -> dict[str, Any]:
    out: dict[str, Any] = {"UserName": user.name, "CreateDate": profile.created_at,
                           "PasswordResetRequired": profile.reset_required}
    if profile.max_signin_session is not None:
        out["MaxSigninSessionDuration"] = profile.max_signin_session
    return out


@dataclass(frozen=True, slots=True)
class _Hashed:
    """A new password's hash, made before the write transaction."""

    hash: str


def _new_hash(ctx: CallContext, password: str) -> str:
    """The new password's hash: the one made before the transaction, else (the operation called without its
    preparation) made here."""
    return ctx.prepared.hash if isinstance(ctx.prepared, _Hashed) else hash_password(password)


def _create_checks(ctx: CallContext, inp: Input, lock: bool) -> None:
    user = get_entity(ctx, "user", named_or_caller(ctx, inp), for_update=lock)  # one profile per user: its row decides
    if inp.get("Password") is None:
        raise ValidationError("1 validation error detected: Value null at 'password' failed to satisfy constraint: "
                              "Member must not be null")
    if ctx.tx.login_profile(ctx.account_id, user.id) is not None:
        raise EntityAlreadyExists(f"Login Profile for user {user.name} already exists.")
    check_password(ctx.tx.password_policy(ctx.account_id), inp["Password"])


def _prepare_create(ctx: CallContext, inp: Input) -> Callable[[], _Hashed]:
    _create_checks(ctx, inp, lock=False)  # (refused before hashing what would be refused)
    password = inp["Password"]
    return lambda: _Hashed(hash_password(password))


@operation("CreateLoginProfile", resource=user_resource, write=True, prepare=_prepare_create)
def create_login_profile(ctx: CallContext, inp: Input) -> Output:
    _create_checks(ctx, inp, lock=True)
    user = get_entity(ctx, "user", named_or_caller(ctx, inp))
    profile = LoginProfile(ctx.account_id, user.id, _new_hash(ctx, inp["Password"]), "[]",
                           bool(inp.get("PasswordResetRequired")), inp.get("MaxSigninSessionDuration"), ctx.now, ctx.now)
    ctx.tx.insert_login_profile(profile)
    return {"LoginProfile": _profile_out(user, profile)}


_ROOT_PROFILE = "Login Profile for User root cannot be found."  # (the root has no password here: credentials.root_itself)


@operation("GetLoginProfile", resource=user_resource)
def get_login_profile(ctx: CallContext, inp: Input) -> Output:
    if root_itself(ctx, inp):
        raise NoSuchEntity(_ROOT_PROFILE)
    user = get_entity(ctx, "user", named_or_caller(ctx, inp))
    return {"LoginProfile": _profile_out(user, _profile_of(ctx, user))}


def _prepare_update(ctx: CallContext, inp: Input) -> Callable[[], _Hashed | None]:
    _profile_of(ctx, get_entity(ctx, "user", inp["UserName"]))
    password = inp.get("Password")
    if password is None:
        return lambda: None
    check_password(ctx.tx.password_policy(ctx.account_id), password)
    return lambda: _Hashed(hash_password(password))


@operation("UpdateLoginProfile", resource=user_resource, write=True, prepare=_prepare_update)
def update_login_profile(ctx: CallContext, inp: Input) -> Output:
    user = get_entity(ctx, "user", inp["UserName"], for_update=True)
    profile = _profile_of(ctx, user)
    values: dict[str, Any] = {}
    if inp.get("Password") is not None:
        policy = ctx.tx.password_policy(ctx.account_id)
        check_password(policy, inp["Password"])
        values.update(password_hash=_new_hash(ctx, inp["Password"]), previous_hashes=_history(profile, policy),
                      password_set_at=ctx.now)
    if inp.get("PasswordResetRequired") is not None:
        values["reset_required"] = bool(inp["PasswordResetRequired"])
    if inp.get("ResetMaxSigninSessionDuration"):
        values["max_signin_session"] = None
    elif inp.get("MaxSigninSessionDuration") is not None:
        values["max_signin_session"] = inp["MaxSigninSessionDuration"]
    if values:
        ctx.tx.update_login_profile(ctx.account_id, user.id, **values)
    return None


@operation("DeleteLoginProfile", resource=user_resource, write=True)
def delete_login_profile(ctx: CallContext, inp: Input) -> Output:
    if root_itself(ctx, inp):
        raise NoSuchEntity(_ROOT_PROFILE)
    user = get_entity(ctx, "user", named_or_caller(ctx, inp), for_update=True)
    if not ctx.tx.delete_login_profile(ctx.account_id, user.id):
        raise _profile_missing(user)
    return None


# -- ChangePassword ----------------------------------------------------------------------------------
def _expired(policy: PasswordPolicy | None, profile: LoginProfile, now: datetime) -> bool:
    return bool(policy and policy.max_age and now >= profile.password_set_at + timedelta(days=policy.max_age))


def _may_change(ctx: CallContext, policy: PasswordPolicy | None, arn: str) -> None:
    """AllowUsersToChangePassword gives every user the permission (an explicit Deny still refuses);
    otherwise the user's policies must allow iam:ChangePassword on its own ARN."""
    if policy is not None and policy.allow_users_to_change:
        decision = decide(ctx, "iam:ChangePassword", arn)
        if decision.effect is Effect.EXPLICIT_DENY:
            raise AccessDenied(decision.message())
        return
    authorize(ctx, "iam:ChangePassword", arn)


@dataclass(frozen=True, slots=True)
class _Changed:
    """A password change worked out before the write transaction: the new hash, and what it was checked against
    (the stored hashes and the account's policy), which the write must find unchanged."""

    basis: tuple[str, str, PasswordPolicy | None]
    hash: str


def _change_checks(ctx: CallContext, lock: bool) -> tuple[User, PasswordPolicy | None, LoginProfile]:
    if not ctx.caller.user_key:  # the root, a role's session
        raise InvalidUserType("Only IAM Users can change their own password.")
    user = get_entity(ctx, "user", ctx.caller.user_key, for_update=lock)
    policy = ctx.tx.password_policy(ctx.account_id)
    _may_change(ctx, policy, user.arn)
    profile = _profile_of(ctx, user)
    if policy is not None and policy.hard_expiry and _expired(policy, profile, ctx.now):
        raise AccessDenied("The password has expired and the account's password policy requires an administrator "
                           "to reset it (HardExpiry).")
    return user, policy, profile


def _change_work(policy: PasswordPolicy | None, profile: LoginProfile, inp: Input) -> Callable[[], _Changed]:
    """The old password verified, the new one checked against the policy and the earlier hashes, and hashed."""
    old, new = inp["OldPassword"], inp["NewPassword"]

    def work() -> _Changed:
        if not verify_password(profile.password_hash, old):
            raise AccessDenied("The old password is incorrect.")
        check_password(policy, new)
        if _reused(profile, policy, new):
            raise PasswordPolicyViolation(REUSE_MESSAGE)
        return _Changed((profile.password_hash, profile.previous_hashes, policy), hash_password(new))

    return work


def _prepare_change(ctx: CallContext, inp: Input) -> Callable[[], _Changed]:
    _, policy, profile = _change_checks(ctx, lock=False)
    return _change_work(policy, profile, inp)


@operation("ChangePassword", resource=None, write=True, prepare=_prepare_change)  # authorised inside: see _may_change
def change_password(ctx: CallContext, inp: Input) -> Output:
    user, policy, profile = _change_checks(ctx, lock=True)
    changed = ctx.prepared if isinstance(ctx.prepared, _Changed) else _change_work(policy, profile, inp)()
    if changed.basis != (profile.password_hash, profile.previous_hashes, policy):
        raise Stale("the password or the password policy changed since the new password was checked")
    ctx.tx.update_login_profile(ctx.account_id, user.id, password_hash=changed.hash,
                                previous_hashes=_history(profile, policy), password_set_at=ctx.now, reset_required=False)
    return None


# -- the account password policy -----------------------------------------------------------------------
def _account(ctx: CallContext, inp: Input) -> str:
    return "*"  # these actions have no resource type (the Service Authorization Reference's IAM table)


def _no_policy(ctx: CallContext) -> NoSuchEntity:
    return NoSuchEntity(f"The Password Policy with domain name {ctx.account_id} cannot be found.")


@operation("GetAccountPasswordPolicy", resource=_account)
def get_account_password_policy(ctx: CallContext, inp: Input) -> Output:
    policy = ctx.tx.password_policy(ctx.account_id)
    if policy is None:
        raise _no_policy(ctx)
    out: dict[str, Any] = {
        "MinimumPasswordLength": policy.minimum_length,
        "RequireSymbols": policy.require_symbols,
        "RequireNumbers": policy.require_numbers,
        "RequireUppercaseCharacters": policy.require_uppercase,
        "RequireLowercaseCharacters": policy.require_lowercase,
        "AllowUsersToChangePassword": policy.allow_users_to_change,
        "ExpirePasswords": policy.max_age is not None,
        "HardExpiry": bool(policy.hard_expiry),
    }
    if policy.max_age is not None:
        out["MaxPasswordAge"] = policy.max_age
    if policy.reuse_prevention is not None:
        out["PasswordReusePrevention"] = policy.reuse_prevention
    return {"PasswordPolicy": out}


@operation("UpdateAccountPasswordPolicy", resource=_account, write=True)
def update_account_password_policy(ctx: CallContext, inp: Input) -> Output:
    """Not a partial update: every setting not given reverts to its default (ranges are the model's)."""
    lock_account(ctx)
    ctx.tx.set_password_policy(PasswordPolicy(
        ctx.account_id,
        minimum_length=inp.get("MinimumPasswordLength") or CUSTOM_MINIMUM,
        require_symbols=bool(inp.get("RequireSymbols")),
        require_numbers=bool(inp.get("RequireNumbers")),
        require_uppercase=bool(inp.get("RequireUppercaseCharacters")),
        require_lowercase=bool(inp.get("RequireLowercaseCharacters")),
        allow_users_to_change=bool(inp.get("AllowUsersToChangePassword")),
        max_age=inp.get("MaxPasswordAge"),
        reuse_prevention=inp.get("PasswordReusePrevention"),
        hard_expiry=bool(inp.get("HardExpiry")),
    ))
    return None


@operation("DeleteAccountPasswordPolicy", resource=_account, write=True)
def delete_account_password_policy(ctx: CallContext, inp: Input) -> Output:
    lock_account(ctx)
    if not ctx.tx.delete_password_policy(ctx.account_id):
        raise _no_policy(ctx)
    return None
