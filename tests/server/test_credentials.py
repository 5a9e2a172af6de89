"""Users' other credentials over the wire, on SQLite and PostgreSQL (issue 14, item 3): login profiles,
ChangePassword and the account password policy; SSH public keys; signing and server certificates;
service-specific credentials; ResyncMFADevice, GetMFADevice and MFA device tags.

AWS references (each test names the pages it holds):
- https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateAccountPasswordPolicy.html (not a partial
  update: every setting left out reverts to its default; MinimumPasswordLength 6-128, MaxPasswordAge 1-1095,
  PasswordReusePrevention 1-24), API_GetAccountPasswordPolicy.html (NoSuchEntity without a custom policy)
- https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_passwords_account-policy.html (the default
  policy: at least 8 characters, at least three of uppercase, lowercase, numbers and symbols)
- https://docs.aws.amazon.com/IAM/latest/APIReference/API_ChangePassword.html ("Changes the password of the IAM
  user who is calling this operation"; the root gets InvalidUserType: the AWS CLI's change-password example),
  https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_passwords_enable-user-change.html
- https://docs.aws.amazon.com/IAM/latest/APIReference/API_UploadSSHPublicKey.html, API_GetSSHPublicKey.html,
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html (5 SSH keys and 2 signing
  certificates per user, 20 server certificates per account, 2 service-specific credentials per user and service)
- https://docs.aws.amazon.com/IAM/latest/APIReference/API_UploadServerCertificate.html,
  https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_server-certs.html (chain order)
- https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateServiceSpecificCredential.html (the password
  is returned only by this call and ResetServiceSpecificCredential)
- https://docs.aws.amazon.com/IAM/latest/APIReference/API_ResyncMFADevice.html, API_GetMFADevice.html
- https://docs.aws.amazon.com/IAM/latest/UserGuide/id_users_remove.html (a user's password, keys, certificates
  and service-specific credentials are deleted before the user)
"""
from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from iamroles.tokens import totp

from .conftest import Server, unique
from .test_audit import execute, read_trail
from .test_concurrency import N, assert_split, race
from .test_roles import error

GOOD = "Aa1!" + "x" * 8


def user_with_key(iam: Any, policy: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    name = unique("u")
    iam.create_user(UserName=name)
    if policy:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    return name, iam.create_access_key(UserName=name)["AccessKey"]


def as_user(server: Server, key: dict[str, Any], service: str = "iam", validate: bool = True) -> Any:
    return server.client(service, key["AccessKeyId"], key["SecretAccessKey"], validate=validate)


def allow(action: str, resource: str = "*", effect: str = "Allow") -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": effect, "Action": action, "Resource": resource}]}


def refused(call: Any, **params: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as exc:
        call(**params)
    return error(exc)


@pytest.fixture
def no_password_policy(iam: Any) -> Any:
    """The account without a custom password policy, before and after the test (it is account-wide)."""
    def clear() -> None:
        try:
            iam.delete_account_password_policy()
        except ClientError:
            pass
    clear()
    yield iam
    clear()


# -- keys and certificates made here --------------------------------------------------------------------
def rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def ssh_line(key: Any) -> str:
    return key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


def pem_private(key: Any) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


def certificate(key: Any, name: str, issuer: tuple[Any, x509.Certificate] | None = None, *, ca: bool = False,
                days: int = 30, start: int = -1) -> x509.Certificate:
    """A certificate for ``key`` named ``name``, signed by ``issuer`` (its key and certificate) or by itself."""
    now = datetime.now(UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    signer_key, signer_name = (issuer[0], issuer[1].subject) if issuer else (key, subject)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(signer_name).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now + timedelta(days=start))
               .not_valid_after(now + timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    return builder.sign(signer_key, hashes.SHA256())


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


# -- what the database holds, as text --------------------------------------------------------------------
TABLES = ("login_profiles", "password_policies", "ssh_public_keys", "service_credentials", "signing_certificates",
          "server_certificates", "audit_events")


def database_text(srv: Server) -> str:
    """Every row of the credential tables and the trail, as the database holds them (bytes as hex too)."""
    if srv.db_url:
        import psycopg

        with psycopg.connect(srv.db_url.replace("+psycopg", ""), autocommit=True) as conn:
            return "\n".join(str(r[0]) for t in TABLES for r in conn.execute(f"SELECT t::text FROM {t} t"))  # type: ignore[call-overload]
    raw = b"".join(p.read_bytes() for p in sorted(srv.data_dir.glob("iamroles.db*")))
    return raw.decode("latin-1") + raw.hex()


def assert_nowhere(srv: Server, *secrets: str) -> None:
    """Not in the trail, the server's log or the database (neither as text nor as the hex of its bytes)."""
    deadline = time.monotonic() + 10  # read-only calls' events are written within half a second
    _, trail = read_trail(srv)
    while time.monotonic() < deadline and "GetLoginProfile" not in trail:
        time.sleep(0.5)
        _, trail = read_trail(srv)
    log = srv.log.read_text(errors="replace")
    stored = database_text(srv)
    for secret in secrets:
        for where, text in (("trail", trail), ("log", log), ("database", stored)):
            assert secret not in text and secret.encode().hex() not in text, where


# -- the account password policy -------------------------------------------------------------------------
def test_password_policy_defaults_ranges_and_deletion(server: Server, no_password_policy: Any) -> None:
    iam = no_password_policy
    assert refused(iam.get_account_password_policy) == (
        "NoSuchEntity", 404, f"The Password Policy with domain name {server.account} cannot be found.")
    assert refused(iam.delete_account_password_policy)[:2] == ("NoSuchEntity", 404)
    iam.update_account_password_policy(MinimumPasswordLength=14, RequireSymbols=True, RequireNumbers=True,
                                       RequireUppercaseCharacters=True, RequireLowercaseCharacters=True,
                                       AllowUsersToChangePassword=True, MaxPasswordAge=90, PasswordReusePrevention=24,
                                       HardExpiry=True)
    assert iam.get_account_password_policy()["PasswordPolicy"] == {
        "MinimumPasswordLength": 14, "RequireSymbols": True, "RequireNumbers": True, "RequireUppercaseCharacters": True,
        "RequireLowercaseCharacters": True, "AllowUsersToChangePassword": True, "ExpirePasswords": True,
        "MaxPasswordAge": 90, "PasswordReusePrevention": 24, "HardExpiry": True}
    # not a partial update: what is left out reverts to its default
    iam.update_account_password_policy(RequireNumbers=True)
    assert iam.get_account_password_policy()["PasswordPolicy"] == {
        "MinimumPasswordLength": 6, "RequireSymbols": False, "RequireNumbers": True, "RequireUppercaseCharacters": False,
        "RequireLowercaseCharacters": False, "AllowUsersToChangePassword": False, "ExpirePasswords": False,
        "HardExpiry": False}
    raw = server.client("iam", validate=False)
    for param, value, member, bound in (("MinimumPasswordLength", 5, "minimumPasswordLength", "greater than or equal to 6"),
                                        ("MinimumPasswordLength", 129, "minimumPasswordLength", "less than or equal to 128"),
                                        ("MaxPasswordAge", 0, "maxPasswordAge", "greater than or equal to 1"),
                                        ("MaxPasswordAge", 1096, "maxPasswordAge", "less than or equal to 1095"),
                                        ("PasswordReusePrevention", 0, "passwordReusePrevention", "greater than or equal to 1"),
                                        ("PasswordReusePrevention", 25, "passwordReusePrevention", "less than or equal to 24")):
        assert refused(raw.update_account_password_policy, **{param: value}) == (
            "ValidationError", 400,
            f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must have value {bound}")
    # nothing changed by the refusals
    assert iam.get_account_password_policy()["PasswordPolicy"]["MinimumPasswordLength"] == 6
    iam.delete_account_password_policy()
    assert refused(iam.get_account_password_policy)[:2] == ("NoSuchEntity", 404)


# -- login profiles --------------------------------------------------------------------------------------
def test_login_profile_lifecycle_under_the_default_policy(server: Server, no_password_policy: Any) -> None:
    iam = no_password_policy
    name = unique("console")
    iam.create_user(UserName=name)
    # AWS's default policy: 8 characters, three kinds of the four
    assert refused(iam.create_login_profile, UserName=name, Password="Ab1!") == (
        "PasswordPolicyViolation", 400, "Password should have a minimum length of 8")
    assert refused(iam.create_login_profile, UserName=name, Password="abcdefgh12")[:2] == ("PasswordPolicyViolation", 400)
    assert refused(iam.get_login_profile, UserName=name) == ("NoSuchEntity", 404, f"Login Profile for User {name} cannot be found.")
    created = iam.create_login_profile(UserName=name, Password="abcdefgh1!", PasswordResetRequired=True)["LoginProfile"]
    assert created["UserName"] == name and created["PasswordResetRequired"] is True
    assert refused(iam.create_login_profile, UserName=name, Password=GOOD) == (
        "EntityAlreadyExists", 409, f"Login Profile for user {name} already exists.")
    got = iam.get_login_profile(UserName=name)["LoginProfile"]
    assert got["CreateDate"] == created["CreateDate"] and got["PasswordResetRequired"] is True
    iam.update_login_profile(UserName=name, PasswordResetRequired=False)
    assert iam.get_login_profile(UserName=name)["LoginProfile"]["PasswordResetRequired"] is False
    assert refused(iam.update_login_profile, UserName=name, Password="short")[:2] == ("PasswordPolicyViolation", 400)
    iam.update_login_profile(UserName=name, Password=GOOD + "2")
    # the profile belongs to the user, not to its name: renamed, the user keeps it; a new user of the old name has none
    renamed = unique("console")
    iam.update_user(UserName=name, NewUserName=renamed)
    assert iam.get_login_profile(UserName=renamed)["LoginProfile"]["CreateDate"] == created["CreateDate"]
    iam.create_user(UserName=name)
    assert refused(iam.get_login_profile, UserName=name)[:2] == ("NoSuchEntity", 404)
    iam.delete_user(UserName=name)
    iam.update_user(UserName=renamed, NewUserName=name)
    # the user goes only after its password
    assert refused(iam.delete_user, UserName=name) == ("DeleteConflict", 409, "Cannot delete entity, must delete login profile first.")
    iam.delete_login_profile(UserName=name)
    assert refused(iam.delete_login_profile, UserName=name)[:2] == ("NoSuchEntity", 404)
    iam.delete_user(UserName=name)
    assert refused(iam.create_login_profile, UserName=name, Password=GOOD) == (
        "NoSuchEntity", 404, f"The user with name {name} cannot be found.")
    # the root asks about its own password (no UserName, as an IAMAuditRootUserCredentials root session does,
    # id_root-user-privileged-task.html): the root user has none here; it cannot set one
    assert refused(iam.get_login_profile) == ("NoSuchEntity", 404, "Login Profile for User root cannot be found.")
    assert refused(iam.delete_login_profile)[:2] == ("NoSuchEntity", 404)
    assert refused(iam.create_login_profile, Password=GOOD)[:2] == ("ValidationError", 400)


def test_custom_policy_rules_apply_to_new_passwords(no_password_policy: Any) -> None:
    iam = no_password_policy
    name = unique("console")
    iam.create_user(UserName=name)
    iam.update_account_password_policy(MinimumPasswordLength=10, RequireSymbols=True, RequireNumbers=True,
                                       RequireUppercaseCharacters=True, RequireLowercaseCharacters=True)
    for password, message in (("Aa1!aaaa", "Password should have a minimum length of 10"),
                              ("aa1!aaaaaa", "Password should have at least one uppercase letter"),
                              ("AA1!AAAAAA", "Password should have at least one lowercase letter"),
                              ("Aa!aaaaaaa", "Password should have at least one number"),
                              ("Aa1aaaaaaa", "Password should have at least one symbol")):
        assert refused(iam.create_login_profile, UserName=name, Password=password) == ("PasswordPolicyViolation", 400, message)
        assert password not in message
    iam.create_login_profile(UserName=name, Password="Aa1'aaaaaa")  # ' is one of AWS's symbols
    iam.delete_login_profile(UserName=name)


# -- ChangePassword ---------------------------------------------------------------------------------------
def test_change_password_needs_permission_and_the_old_password(server: Server, no_password_policy: Any) -> None:
    iam = no_password_policy
    name, key = user_with_key(iam)
    arn = iam.get_user(UserName=name)["User"]["Arn"]
    iam.create_login_profile(UserName=name, Password=GOOD, PasswordResetRequired=True)
    me = as_user(server, key)
    # no AllowUsersToChangePassword, no policy: refused
    code, status, message = refused(me.change_password, OldPassword=GOOD, NewPassword=GOOD + "n")
    assert (code, status) == ("AccessDenied", 403) and f"iam:ChangePassword on resource: {arn}" in message
    # a policy naming another user's ARN lets nobody change their own
    other, _ = user_with_key(iam)
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(
        allow("iam:ChangePassword", iam.get_user(UserName=other)["User"]["Arn"])))
    assert refused(me.change_password, OldPassword=GOOD, NewPassword=GOOD + "n")[:2] == ("AccessDenied", 403)
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(allow("iam:ChangePassword", arn)))
    # a wrong old password changes nothing
    assert refused(me.change_password, OldPassword=GOOD + "x", NewPassword=GOOD + "n") == (
        "AccessDenied", 403, "The old password is incorrect.")
    assert refused(me.change_password, OldPassword=GOOD, NewPassword="short")[:2] == ("PasswordPolicyViolation", 400)
    me.change_password(OldPassword=GOOD, NewPassword=GOOD + "n")
    assert iam.get_login_profile(UserName=name)["LoginProfile"]["PasswordResetRequired"] is False
    # the old password is gone, the new one is the password
    assert refused(me.change_password, OldPassword=GOOD, NewPassword=GOOD + "m")[:2] == ("AccessDenied", 403)
    me.change_password(OldPassword=GOOD + "n", NewPassword=GOOD + "m")
    # the root and a role's session have no password to change
    assert refused(iam.change_password, OldPassword=GOOD, NewPassword=GOOD + "n") == (
        "InvalidUserType", 400, "Only IAM Users can change their own password.")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": arn},
                                                     "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName=unique("r"), AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    creds = as_user(server, key, "sts").assume_role(RoleArn=role, RoleSessionName="s1")["Credentials"]
    session = server.client("iam", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert refused(session.change_password, OldPassword=GOOD, NewPassword=GOOD + "n")[:2] == ("InvalidUserType", 400)
    iam.delete_login_profile(UserName=name)
    assert refused(me.change_password, OldPassword=GOOD + "m", NewPassword=GOOD + "k") == (
        "NoSuchEntity", 404, f"Login Profile for User {name} cannot be found.")


def test_allow_users_to_change_password_and_reuse_prevention(server: Server, no_password_policy: Any) -> None:
    iam = no_password_policy
    iam.update_account_password_policy(AllowUsersToChangePassword=True, PasswordReusePrevention=2, MinimumPasswordLength=8)
    name, key = user_with_key(iam)  # no policy of its own
    iam.create_login_profile(UserName=name, Password="first-pw1")
    me = as_user(server, key)
    me.change_password(OldPassword="first-pw1", NewPassword="second-pw2")
    assert refused(me.change_password, OldPassword="second-pw2", NewPassword="first-pw1") == (
        "PasswordPolicyViolation", 400, "Policy constraint violation with password reuse prevention during password change operation")
    assert refused(me.change_password, OldPassword="second-pw2", NewPassword="second-pw2")[:2] == ("PasswordPolicyViolation", 400)
    me.change_password(OldPassword="second-pw2", NewPassword="third-pw3")
    me.change_password(OldPassword="third-pw3", NewPassword="first-pw1")  # two back: outside the window of 2
    # an explicit Deny still refuses
    iam.put_user_policy(UserName=name, PolicyName="deny", PolicyDocument=json.dumps(allow("iam:ChangePassword", "*", "Deny")))
    code, status, message = refused(me.change_password, OldPassword="first-pw1", NewPassword="fourth-pw4")
    assert (code, status) == ("AccessDenied", 403) and "explicit deny" in message
    # a user changes only its own password: other users' profiles are out of its reach
    other, _ = user_with_key(iam)
    assert refused(me.update_login_profile, UserName=other, Password="hijacked-1")[:2] == ("AccessDenied", 403)
    assert refused(me.create_login_profile, UserName=other, Password="hijacked-1")[:2] == ("AccessDenied", 403)
    iam.delete_login_profile(UserName=name)


def _long_history(iam: Any) -> tuple[str, dict[str, Any], str]:
    """A user allowed to change its password, whose profile holds 24 hashes (PasswordReusePrevention=24, the
    model's maximum): a ChangePassword to a new password verifies 25 argon2 hashes and makes one."""
    iam.update_account_password_policy(AllowUsersToChangePassword=True, PasswordReusePrevention=24, MinimumPasswordLength=8)
    name, key = user_with_key(iam)
    iam.create_login_profile(UserName=name, Password=f"{GOOD}0")
    for i in range(1, 24):
        iam.update_login_profile(UserName=name, Password=f"{GOOD}{i}")
    return name, key, f"{GOOD}23"


def test_change_password_holds_no_lock_while_it_hashes(server: Server, no_password_policy: Any) -> None:
    """ChangePassword verifies the old password and up to 24 earlier ones and hashes the new one (argon2id, tens
    of milliseconds each): that is done outside the write transaction, which then only checks that the stored
    hashes are still the ones checked against. A write to the same user (its row lock on PostgreSQL, the
    database's write lock on SQLite) and to another entity meanwhile is not held up."""
    iam = no_password_policy
    name, key, current = _long_history(iam)
    me = as_user(server, key)
    took: dict[str, float] = {}

    def change() -> None:
        t0 = time.perf_counter()
        me.change_password(OldPassword=current, NewPassword=f"{GOOD}new")
        took["change"] = time.perf_counter() - t0

    writes: list[float] = []
    thread = threading.Thread(target=change)
    thread.start()
    time.sleep(0.03)
    while thread.is_alive():
        t0 = time.perf_counter()
        iam.tag_user(UserName=name, Tags=[{"Key": "seen", "Value": str(len(writes))}])
        iam.create_group(GroupName=unique("g"))
        writes.append(time.perf_counter() - t0)
    thread.join()
    print(f"\nChangePassword (25 argon2 verifications, 1 hash) {took['change'] * 1000:.0f} ms; concurrent TagUser+CreateGroup: "
          f"n={len(writes)} median {sorted(writes)[len(writes) // 2] * 1000:.0f} ms, max {max(writes) * 1000:.0f} ms")
    assert took["change"] > 0.3, took  # the hashing took its time (else this test measures nothing)
    # (before: one write waited for the whole ChangePassword, 0.52 of its 0.54 s; half of it leaves room for a busy machine)
    assert len(writes) >= 3 and max(writes) < took["change"] / 2, (took, [round(w, 3) for w in writes])
    # the change happened: the old password is no longer the old one, nor may it come back
    assert refused(me.change_password, OldPassword=current, NewPassword=f"{GOOD}other")[:2] == ("AccessDenied", 403)
    assert refused(me.change_password, OldPassword=f"{GOOD}new", NewPassword=current)[:2] == ("PasswordPolicyViolation", 400)
    iam.delete_login_profile(UserName=name)


def test_concurrent_password_changes_are_serialised(server: Server, no_password_policy: Any) -> None:
    """Four ChangePassword calls from one user with the same old password and different new ones, at once:
    exactly one succeeds; the others find the old password no longer correct (as they would one after the other),
    and the password is the winner's. An administrator's UpdateLoginProfile at the same time is never lost either."""
    iam = no_password_policy
    iam.update_account_password_policy(AllowUsersToChangePassword=True, PasswordReusePrevention=3, MinimumPasswordLength=8)
    name, key = user_with_key(iam)
    iam.create_login_profile(UserName=name, Password=f"{GOOD}start")
    mine = [as_user(server, key) for _ in range(4)]
    outcomes = race(mine, lambda c, i: c.change_password(OldPassword=f"{GOOD}start", NewPassword=f"{GOOD}n{i}"), n=4)
    won = [i for i, o in enumerate(outcomes) if o == ("ok", 200)]
    assert len(won) == 1 and sorted(o for o in outcomes if o != ("ok", 200)) == [("AccessDenied", 403)] * 3, outcomes
    me = mine[0]
    for i in range(4):
        if i != won[0]:
            assert refused(me.change_password, OldPassword=f"{GOOD}n{i}", NewPassword=f"{GOOD}x")[:2] == ("AccessDenied", 403)
    # a user's change racing an administrator's reset: the user's change is either committed before the reset
    # (which then replaces it) or finds its old password gone; never does a change checked against the old
    # password overwrite the reset
    admin = server.client("iam")
    racers = [as_user(server, key), admin]
    outcomes = race(racers, lambda c, i: c.change_password(OldPassword=f"{GOOD}n{won[0]}", NewPassword=f"{GOOD}user")
                    if i == 0 else c.update_login_profile(UserName=name, Password=f"{GOOD}admin"), n=2)
    assert outcomes[1] == ("ok", 200)
    assert outcomes[0] in (("ok", 200), ("AccessDenied", 403)), outcomes
    finals = [p for p in (f"{GOOD}user", f"{GOOD}admin")
              if refused(me.change_password, OldPassword=p, NewPassword="short")[:2] != ("AccessDenied", 403)]
    assert finals == [f"{GOOD}admin"], finals
    iam.delete_login_profile(UserName=name)


def test_expired_passwords_and_hard_expiry(server: Server, no_password_policy: Any) -> None:
    """MaxPasswordAge: a password older than it has expired; HardExpiry: then only an administrator may set a new
    one (API_UpdateAccountPasswordPolicy.html)."""
    iam = no_password_policy
    name, key = user_with_key(iam)
    iam.create_login_profile(UserName=name, Password=GOOD)
    user_id = iam.get_user(UserName=name)["User"]["UserId"]
    past = (datetime.now(UTC) - timedelta(days=2)).strftime("%Y-%m-%d %H:%M:%S.000000")
    execute(server, f"UPDATE login_profiles SET password_set_at = '{past}' WHERE user_id = '{user_id}'")
    me = as_user(server, key)
    iam.update_account_password_policy(AllowUsersToChangePassword=True, MaxPasswordAge=1, HardExpiry=True)
    code, status, message = refused(me.change_password, OldPassword=GOOD, NewPassword=GOOD + "n")
    assert (code, status) == ("AccessDenied", 403) and "HardExpiry" in message
    iam.update_login_profile(UserName=name, Password=GOOD + "a")  # the administrator's reset: in force again
    me.change_password(OldPassword=GOOD + "a", NewPassword=GOOD + "b")
    execute(server, f"UPDATE login_profiles SET password_set_at = '{past}' WHERE user_id = '{user_id}'")
    iam.update_account_password_policy(AllowUsersToChangePassword=True, MaxPasswordAge=1)  # expired, no HardExpiry
    me.change_password(OldPassword=GOOD + "b", NewPassword=GOOD + "c")
    iam.delete_login_profile(UserName=name)


def stored_hashes(srv: Server, user: str) -> tuple[str, list[str]]:
    """The user's password hash and the earlier ones kept, read from the server's database."""
    query = "SELECT password_hash, previous_hashes FROM login_profiles lp JOIN users u ON u.user_id = lp.user_id WHERE u.name = "
    if srv.db_url:
        import psycopg

        with psycopg.connect(srv.db_url.replace("+psycopg", ""), autocommit=True) as conn:
            row = conn.execute(query + "%s", (user,)).fetchone()  # type: ignore[operator]
    else:
        with sqlite3.connect(srv.data_dir / "iamroles.db", timeout=30) as conn:
            row = conn.execute(query + "?", (user,)).fetchone()
    assert row is not None
    return row[0], json.loads(row[1])


def test_passwords_are_stored_only_as_argon2id_and_never_shown(server: Server, no_password_policy: Any) -> None:
    iam = no_password_policy
    marks = ["Pw" + uuid.uuid4().hex[:10] + "!" for _ in range(4)]
    iam.update_account_password_policy(AllowUsersToChangePassword=True, PasswordReusePrevention=5)
    name, key = user_with_key(iam)
    iam.create_login_profile(UserName=name, Password=marks[0])
    iam.update_login_profile(UserName=name, Password=marks[1])
    as_user(server, key).change_password(OldPassword=marks[1], NewPassword=marks[2])
    # refusals quote no password: a wrong old one, a reused one, one over the model's 128 characters
    for old, new in ((marks[3], marks[3] + "x"), (marks[2], marks[1])):
        _, _, message = refused(as_user(server, key).change_password, OldPassword=old, NewPassword=new)
        assert not any(m in message for m in marks)
    code, _, message = refused(server.client("iam", validate=False).update_login_profile, UserName=name,
                               Password=marks[3] * 12)
    assert code == "ValidationError" and marks[3] not in message
    iam.get_login_profile(UserName=name)
    current, previous = stored_hashes(server, name)
    assert current.startswith("$argon2id$") and all(h.startswith("$argon2id$") for h in previous)
    assert len(previous) == 2  # the two replaced passwords (the reuse window of 5 would keep four)
    # without a reuse window no earlier hash is kept
    iam.delete_account_password_policy()
    iam.update_login_profile(UserName=name, Password=marks[3])
    assert stored_hashes(server, name)[1] == []
    assert_nowhere(server, *marks)
    iam.delete_login_profile(UserName=name)


def test_authorisation_of_the_credential_operations(server: Server) -> None:
    iam = server.client("iam")
    target = unique("target")
    iam.create_user(UserName=target)
    _, key = user_with_key(iam, allow("iam:GetUser"))
    me = as_user(server, key)
    body = ssh_line(rsa_key())
    key_pem = rsa_key()
    cert = certificate(key_pem, "example.com")
    for call, params in ((me.create_login_profile, {"UserName": target, "Password": GOOD}),
                         (me.get_account_password_policy, {}),
                         (me.update_account_password_policy, {"MinimumPasswordLength": 6}),
                         (me.delete_account_password_policy, {}),
                         (me.upload_ssh_public_key, {"UserName": target, "SSHPublicKeyBody": body}),
                         (me.upload_signing_certificate, {"UserName": target, "CertificateBody": pem(cert)}),
                         (me.upload_server_certificate, {"ServerCertificateName": unique("c"), "CertificateBody": pem(cert),
                                                         "PrivateKey": pem_private(key_pem)}),
                         (me.list_server_certificates, {}),
                         (me.create_service_specific_credential, {"UserName": target, "ServiceName": "codecommit.amazonaws.com"}),
                         (me.list_service_specific_credentials, {"UserName": target})):
        code, status, message = refused(call, **params)
        assert (code, status) == ("AccessDenied", 403), (call, message)
    # nothing was made
    assert iam.list_ssh_public_keys(UserName=target)["SSHPublicKeys"] == []
    assert iam.list_signing_certificates(UserName=target)["Certificates"] == []
    assert iam.list_service_specific_credentials(UserName=target)["ServiceSpecificCredentials"] == []
    assert refused(iam.get_login_profile, UserName=target)[:2] == ("NoSuchEntity", 404)


# -- SSH public keys ---------------------------------------------------------------------------------------
def md5_fingerprint(line: str) -> str:
    digest = hashlib.md5(base64.b64decode(line.split()[1])).digest()
    return ":".join(f"{b:02x}" for b in digest)


def test_ssh_public_keys(server: Server, iam: Any) -> None:
    name = unique("git")
    iam.create_user(UserName=name)
    key = rsa_key()
    line = ssh_line(key)
    up = iam.upload_ssh_public_key(UserName=name, SSHPublicKeyBody=line + " me@laptop")["SSHPublicKey"]
    assert up["SSHPublicKeyId"].startswith("APKA") and up["Status"] == "Active" and up["Fingerprint"] == md5_fingerprint(line)
    key_id = up["SSHPublicKeyId"]
    got = iam.get_ssh_public_key(UserName=name, SSHPublicKeyId=key_id, Encoding="SSH")["SSHPublicKey"]
    assert got["SSHPublicKeyBody"] == line and got["Fingerprint"] == up["Fingerprint"]
    as_pem = iam.get_ssh_public_key(UserName=name, SSHPublicKeyId=key_id, Encoding="PEM")["SSHPublicKey"]["SSHPublicKeyBody"]
    assert serialization.load_pem_public_key(as_pem.encode()).public_numbers() == key.public_key().public_numbers()
    # the same key again, in PEM: a duplicate
    pem_body = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    assert refused(iam.upload_ssh_public_key, UserName=name, SSHPublicKeyBody=pem_body)[:2] == ("DuplicateSSHPublicKey", 400)
    # weak, malformed, unknown encodings, too large
    assert refused(iam.upload_ssh_public_key, UserName=name, SSHPublicKeyBody=ssh_line(rsa_key(1024))) == (
        "InvalidPublicKey", 400, "The public key must be at least 2048 bits long.")
    assert refused(iam.upload_ssh_public_key, UserName=name, SSHPublicKeyBody="ssh-rsa AAAAnotakey")[:2] == ("InvalidPublicKey", 400)
    assert refused(iam.upload_ssh_public_key, UserName=name, SSHPublicKeyBody=ssh_line(ec_key()))[:2] == (
        "UnrecognizedPublicKeyEncoding", 400)
    assert refused(iam.upload_ssh_public_key, UserName=name, SSHPublicKeyBody="hello")[:2] == ("UnrecognizedPublicKeyEncoding", 400)
    code, status, _ = refused(server.client("iam", validate=False).upload_ssh_public_key, UserName=name,
                              SSHPublicKeyBody="A" * 16385)
    assert (code, status) == ("ValidationError", 400)
    iam.update_ssh_public_key(UserName=name, SSHPublicKeyId=key_id, Status="Inactive")
    listed = iam.list_ssh_public_keys(UserName=name)["SSHPublicKeys"]
    assert [(k["SSHPublicKeyId"], k["Status"]) for k in listed] == [(key_id, "Inactive")]
    # another user's key id is not found through this user
    other = unique("git")
    iam.create_user(UserName=other)
    assert refused(iam.get_ssh_public_key, UserName=other, SSHPublicKeyId=key_id, Encoding="SSH") == (
        "NoSuchEntity", 404, f"The Public Key with id {key_id} cannot be found.")
    assert refused(iam.delete_user, UserName=name) == ("DeleteConflict", 409, "Cannot delete entity, must delete SSH public keys first.")
    iam.delete_ssh_public_key(UserName=name, SSHPublicKeyId=key_id)
    iam.delete_user(UserName=name)


# -- signing certificates -----------------------------------------------------------------------------------
def test_signing_certificates(server: Server, iam: Any) -> None:
    name, other = unique("signer"), unique("signer")
    for n in (name, other):
        iam.create_user(UserName=n)
    key = ec_key()
    cert = certificate(key, "signer")
    up = iam.upload_signing_certificate(UserName=name, CertificateBody=pem(cert))["Certificate"]
    assert up["Status"] == "Active" and len(up["CertificateId"]) >= 24 and up["CertificateBody"].strip() == pem(cert).strip()
    # the same certificate for another user of the account
    assert refused(iam.upload_signing_certificate, UserName=other, CertificateBody=pem(cert))[:2] == ("DuplicateCertificate", 409)
    assert refused(iam.upload_signing_certificate, UserName=name, CertificateBody="-----BEGIN CERTIFICATE-----\nnope\n") == (
        "MalformedCertificate", 400, "Unable to parse certificate. Please ensure the certificate is in PEM format.")
    assert refused(iam.upload_signing_certificate, UserName=name,
                   CertificateBody=pem(certificate(key, "old", days=-1, start=-10)))[:2] == ("InvalidCertificate", 400)
    iam.upload_signing_certificate(UserName=name, CertificateBody=pem(certificate(ec_key(), "second")))
    assert refused(iam.upload_signing_certificate, UserName=name, CertificateBody=pem(certificate(ec_key(), "third"))) == (
        "LimitExceeded", 409, "Cannot exceed quota for SigningCertificatesPerUser: 2")
    iam.update_signing_certificate(UserName=name, CertificateId=up["CertificateId"], Status="Inactive")
    listed = {c["CertificateId"]: c["Status"] for c in iam.list_signing_certificates(UserName=name)["Certificates"]}
    assert listed[up["CertificateId"]] == "Inactive" and len(listed) == 2
    assert refused(iam.delete_user, UserName=name)[:2] == ("DeleteConflict", 409)
    for cid in listed:
        iam.delete_signing_certificate(UserName=name, CertificateId=cid)
    assert refused(iam.delete_signing_certificate, UserName=name, CertificateId=up["CertificateId"])[:2] == ("NoSuchEntity", 404)
    iam.delete_user(UserName=name)


# -- server certificates ------------------------------------------------------------------------------------
def chain_of_three() -> tuple[Any, x509.Certificate, list[x509.Certificate]]:
    """A leaf's key and certificate, with its chain: the intermediate that signed it, then the root."""
    root_key, inter_key, leaf_key = ec_key(), ec_key(), rsa_key()
    root = certificate(root_key, "root", ca=True, days=365)
    inter = certificate(inter_key, "intermediate", (root_key, root), ca=True, days=180)
    leaf = certificate(leaf_key, "www.example.com", (inter_key, inter), days=90)
    return leaf_key, leaf, [inter, root]


def test_server_certificates(server: Server, iam: Any) -> None:
    key, leaf, chain = chain_of_three()
    name = unique("web")
    private = pem_private(key)
    # what does not fit is refused, and nothing is made
    assert refused(iam.upload_server_certificate, ServerCertificateName=name, CertificateBody=pem(leaf),
                   PrivateKey=pem_private(rsa_key())) == (
        "KeyPairMismatch", 400, "The public key certificate and the private key do not match.")
    code, status, message = refused(iam.upload_server_certificate, ServerCertificateName=name, CertificateBody=pem(leaf),
                                    PrivateKey=private, CertificateChain=pem(chain[1]) + pem(chain[0]))
    assert (code, status) == ("MalformedCertificate", 400) and message.endswith("The index within the chain of the invalid certificate is: 0")
    assert refused(iam.upload_server_certificate, ServerCertificateName=name, CertificateBody="not a certificate",
                   PrivateKey=private)[:2] == ("MalformedCertificate", 400)
    code, _, message = refused(iam.upload_server_certificate, ServerCertificateName=name, CertificateBody=pem(leaf),
                               PrivateKey="-----BEGIN PRIVATE KEY-----\nAAAA" + private[40:80])
    assert code == "MalformedCertificate" and private[40:80] not in message
    encrypted = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.BestAvailableEncryption(b"pass")).decode()
    assert refused(iam.upload_server_certificate, ServerCertificateName=name, CertificateBody=pem(leaf),
                   PrivateKey=encrypted)[:2] == ("MalformedCertificate", 400)
    old = certificate(key, "old", days=-1, start=-30)
    assert refused(iam.upload_server_certificate, ServerCertificateName=name, CertificateBody=pem(old),
                   PrivateKey=private)[:2] == ("MalformedCertificate", 400)
    assert refused(iam.get_server_certificate, ServerCertificateName=name) == (
        "NoSuchEntity", 404, f"The Server Certificate with name {name} cannot be found.")
    # uploaded with its chain
    meta = iam.upload_server_certificate(Path="/cloudfront/", ServerCertificateName=name, CertificateBody=pem(leaf),
                                         PrivateKey=private, CertificateChain=pem(chain[0]) + pem(chain[1]),
                                         Tags=[{"Key": "team", "Value": "web"}])["ServerCertificateMetadata"]
    assert meta["Arn"] == f"arn:aws:iam::{server.account}:server-certificate/cloudfront/{name}"
    assert meta["ServerCertificateId"].startswith("ASCA") and meta["Expiration"] == leaf.not_valid_after_utc
    assert refused(iam.upload_server_certificate, ServerCertificateName=name.upper(), CertificateBody=pem(leaf),
                   PrivateKey=private) == ("EntityAlreadyExists", 409, f"The Server Certificate with name {name.upper()} already exists.")
    got = iam.get_server_certificate(ServerCertificateName=name)["ServerCertificate"]
    assert got["CertificateBody"].strip() == pem(leaf).strip() and got["CertificateChain"] == pem(chain[0]) + pem(chain[1])
    assert got["Tags"] == [{"Key": "team", "Value": "web"}]
    assert "PRIVATE" not in json.dumps(got, default=str)
    listed = iam.list_server_certificates(PathPrefix="/cloudfront/")["ServerCertificateMetadataList"]
    assert [m["ServerCertificateName"] for m in listed] == [name]
    assert iam.list_server_certificates(PathPrefix="/elb/")["ServerCertificateMetadataList"] == []
    # renamed and moved, its tags with it
    new = unique("web")
    iam.update_server_certificate(ServerCertificateName=name, NewServerCertificateName=new, NewPath="/elb/")
    assert iam.list_server_certificate_tags(ServerCertificateName=new)["Tags"] == [{"Key": "team", "Value": "web"}]
    iam.tag_server_certificate(ServerCertificateName=new, Tags=[{"Key": "env", "Value": "prod"}])
    iam.untag_server_certificate(ServerCertificateName=new, TagKeys=["team"])
    assert iam.list_server_certificate_tags(ServerCertificateName=new)["Tags"] == [{"Key": "env", "Value": "prod"}]
    assert iam.get_server_certificate(ServerCertificateName=new)["ServerCertificate"]["ServerCertificateMetadata"]["Path"] == "/elb/"
    # a rename needs the permission on the new ARN too (API_UpdateServerCertificate.html): allowed on /elb/ only,
    # a user cannot move it out of /elb/
    _, key = user_with_key(iam, allow("iam:UpdateServerCertificate", f"arn:aws:iam::{server.account}:server-certificate/elb/*"))
    mover = as_user(server, key)
    assert refused(mover.update_server_certificate, ServerCertificateName=new, NewPath="/cloudfront/")[:2] == ("AccessDenied", 403)
    mover.update_server_certificate(ServerCertificateName=new, NewServerCertificateName=new + "-2")
    iam.update_server_certificate(ServerCertificateName=new + "-2", NewServerCertificateName=new)
    assert iam.get_server_certificate(ServerCertificateName=new)["ServerCertificate"]["ServerCertificateMetadata"]["Path"] == "/elb/"
    iam.delete_server_certificate(ServerCertificateName=new)
    assert refused(iam.delete_server_certificate, ServerCertificateName=new)[:2] == ("NoSuchEntity", 404)
    # the private key was sealed: not in the database, the trail or the log
    assert_nowhere(server, private.splitlines()[1], private.splitlines()[5])


def test_oversized_and_repeated_certificate_inputs(server: Server, iam: Any) -> None:
    """A chain as long as the request may be is parsed and refused at its first wrong link; a body over the
    model's bounds is a ValidationError; a request over the server's 1 MiB is 413; none is made, none is a 5xx."""
    key, leaf, chain = chain_of_three()
    name = unique("big")
    long_chain = pem(chain[0]) * (900_000 // len(pem(chain[0])))
    started = time.monotonic()
    code, status, message = refused(iam.upload_server_certificate, ServerCertificateName=name, CertificateBody=pem(leaf),
                                    PrivateKey=pem_private(key), CertificateChain=long_chain)
    assert (code, status) == ("MalformedCertificate", 400) and message.endswith("is: 1")
    assert time.monotonic() - started < 20
    raw = server.client("iam", validate=False)
    code, status, _ = refused(raw.upload_server_certificate, ServerCertificateName=name, CertificateBody="A" * 16385,
                              PrivateKey=pem_private(key))
    assert (code, status) == ("ValidationError", 400)
    code, status, _ = refused(raw.upload_server_certificate, ServerCertificateName=name, CertificateBody=pem(leaf),
                              PrivateKey=pem_private(key), CertificateChain="A" * (1 << 20))
    assert (code, status) == ("RequestEntityTooLarge", 413)
    assert refused(iam.get_server_certificate, ServerCertificateName=name)[:2] == ("NoSuchEntity", 404)


# -- service-specific credentials ----------------------------------------------------------------------------
def test_service_specific_credentials(server: Server, iam: Any) -> None:
    name = unique("repo")
    iam.create_user(UserName=name)
    first = iam.create_service_specific_credential(UserName=name, ServiceName="codecommit.amazonaws.com")["ServiceSpecificCredential"]
    assert first["ServiceUserName"] == f"{name}-at-{server.account}" and first["Status"] == "Active"
    assert first["ServiceSpecificCredentialId"].startswith("ACCA") and len(first["ServicePassword"]) >= 20
    cid = first["ServiceSpecificCredentialId"]
    # only a long-term API key may expire (API_CreateServiceSpecificCredential.html, CredentialAgeDays)
    assert refused(iam.create_service_specific_credential, UserName=name, ServiceName="codecommit.amazonaws.com",
                   CredentialAgeDays=30)[:2] == ("InvalidInput", 400)
    second = iam.create_service_specific_credential(UserName=name, ServiceName="codecommit.amazonaws.com")["ServiceSpecificCredential"]
    api_key = iam.create_service_specific_credential(UserName=name, ServiceName="bedrock.amazonaws.com",
                                                     CredentialAgeDays=30)["ServiceSpecificCredential"]
    assert api_key["ExpirationDate"] - api_key["CreateDate"] == timedelta(days=30)
    assert api_key["ServiceCredentialAlias"].startswith(f"{name}-at-{server.account}") and len(api_key["ServiceCredentialSecret"]) >= 20
    assert "ServicePassword" not in api_key and "ServiceUserName" not in api_key
    assert refused(iam.create_service_specific_credential, UserName=name, ServiceName="codecommit.amazonaws.com") == (
        "LimitExceeded", 409, "Cannot exceed quota for ServiceSpecificCredentialsPerUserPerService: 2")
    iam.create_service_specific_credential(UserName=name, ServiceName="cassandra.amazonaws.com")  # another service's quota
    assert refused(iam.create_service_specific_credential, UserName=name, ServiceName="s3.amazonaws.com")[:2] == (
        "NotSupportedService", 404)
    listed = iam.list_service_specific_credentials(UserName=name, ServiceName="codecommit.amazonaws.com")["ServiceSpecificCredentials"]
    assert {c["ServiceSpecificCredentialId"] for c in listed} == {cid, second["ServiceSpecificCredentialId"]}
    assert all("ServicePassword" not in c for c in listed)  # returned on create and reset only
    keys = iam.list_service_specific_credentials(UserName=name, ServiceName="bedrock.amazonaws.com")["ServiceSpecificCredentials"]
    assert [(k["ServiceCredentialAlias"], "ServiceCredentialSecret" in k) for k in keys] == [(api_key["ServiceCredentialAlias"], False)]
    reset = iam.reset_service_specific_credential(UserName=name, ServiceSpecificCredentialId=cid)["ServiceSpecificCredential"]
    assert reset["ServicePassword"] != first["ServicePassword"]
    iam.update_service_specific_credential(UserName=name, ServiceSpecificCredentialId=cid, Status="Inactive")
    everyone = iam.list_service_specific_credentials(AllUsers=True)["ServiceSpecificCredentials"]
    assert {c["ServiceSpecificCredentialId"]: c["Status"] for c in everyone}[cid] == "Inactive"
    other = unique("repo")
    iam.create_user(UserName=other)
    assert refused(iam.delete_service_specific_credential, UserName=other, ServiceSpecificCredentialId=cid)[:2] == ("NoSuchEntity", 404)
    assert refused(iam.delete_user, UserName=name)[:2] == ("DeleteConflict", 409)
    for c in iam.list_service_specific_credentials(UserName=name)["ServiceSpecificCredentials"]:
        iam.delete_service_specific_credential(UserName=name, ServiceSpecificCredentialId=c["ServiceSpecificCredentialId"])
    iam.delete_user(UserName=name)
    assert_nowhere(server, first["ServicePassword"], reset["ServicePassword"], second["ServicePassword"],
                   api_key["ServiceCredentialSecret"])


# -- MFA devices: resync, get, tags --------------------------------------------------------------------------
def test_mfa_resync_get_and_tags(server: Server, iam: Any) -> None:
    name, key = user_with_key(iam)
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName=unique("phone"), Tags=[{"Key": "kind", "Value": "phone"}])
    serial, seed = device["VirtualMFADevice"]["SerialNumber"], base64.b32decode(device["VirtualMFADevice"]["Base32StringSeed"])
    step = int(time.time() // 30)
    iam.enable_mfa_device(UserName=name, SerialNumber=serial, AuthenticationCode1=totp.code_at(seed, step - 1),
                          AuthenticationCode2=totp.code_at(seed, step))
    got = iam.get_mfa_device(SerialNumber=serial, UserName=name)
    assert got["SerialNumber"] == serial and got["UserName"] == name and "EnableDate" in got
    assert refused(iam.get_mfa_device, SerialNumber=serial + "x", UserName=name)[:2] == ("NoSuchEntity", 404)
    iam.tag_mfa_device(SerialNumber=serial, Tags=[{"Key": "owner", "Value": name}])
    iam.untag_mfa_device(SerialNumber=serial, TagKeys=["kind"])
    assert iam.list_mfa_device_tags(SerialNumber=serial)["Tags"] == [{"Key": "owner", "Value": name}]
    # the device's clock runs five minutes ahead: its codes fail until resynchronised
    ahead = step + 10
    sts = as_user(server, key, "sts")
    assert refused(sts.get_session_token, SerialNumber=serial, TokenCode=totp.code_at(seed, ahead + 2))[:2] == ("AccessDenied", 403)
    assert refused(iam.resync_mfa_device, UserName=name, SerialNumber=serial, AuthenticationCode1=totp.code_at(seed, ahead),
                   AuthenticationCode2=totp.code_at(seed, ahead + 2)) == (
        "InvalidAuthenticationCode", 403, "Authentication code for device is not valid.")
    iam.resync_mfa_device(UserName=name, SerialNumber=serial, AuthenticationCode1=totp.code_at(seed, ahead),
                          AuthenticationCode2=totp.code_at(seed, ahead + 1))
    assert sts.get_session_token(SerialNumber=serial, TokenCode=totp.code_at(seed, ahead + 2))["Credentials"]["AccessKeyId"]
    # the user goes only after its device (id_users_remove.html: "Deactivate the MFA device")
    for k in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
        iam.delete_access_key(UserName=name, AccessKeyId=k["AccessKeyId"])
    assert refused(iam.delete_user, UserName=name) == ("DeleteConflict", 409, "Cannot delete entity, must deactivate MFA devices first.")
    iam.deactivate_mfa_device(UserName=name, SerialNumber=serial)
    iam.delete_virtual_mfa_device(SerialNumber=serial)
    iam.delete_user(UserName=name)


# -- quotas under concurrent requests ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def clients(server: Server) -> list[Any]:
    return [server.client("iam") for _ in range(N)]


def test_one_login_profile_per_user_under_concurrency(clients: list[Any]) -> None:
    name = unique("race")
    clients[0].create_user(UserName=name)
    outcomes = race(clients, lambda c, i: c.create_login_profile(UserName=name, Password=f"{GOOD}{i}"))
    assert_split(outcomes, 1, ("EntityAlreadyExists", 409))
    clients[0].delete_login_profile(UserName=name)


def test_ssh_keys_per_user_under_concurrency(clients: list[Any]) -> None:
    name = unique("race")
    clients[0].create_user(UserName=name)
    lines = [ssh_line(rsa_key()) for _ in range(N)]
    outcomes = race(clients, lambda c, i: c.upload_ssh_public_key(UserName=name, SSHPublicKeyBody=lines[i]))
    assert_split(outcomes, 5)
    assert len(clients[0].list_ssh_public_keys(UserName=name)["SSHPublicKeys"]) == 5


def test_service_credentials_per_service_under_concurrency(clients: list[Any]) -> None:
    name = unique("race")
    clients[0].create_user(UserName=name)
    outcomes = race(clients, lambda c, i: c.create_service_specific_credential(UserName=name, ServiceName="codecommit.amazonaws.com"))
    assert_split(outcomes, 2)
    assert len(clients[0].list_service_specific_credentials(UserName=name)["ServiceSpecificCredentials"]) == 2


def test_signing_certificates_per_user_under_concurrency(clients: list[Any]) -> None:
    name = unique("race")
    clients[0].create_user(UserName=name)
    bodies = [pem(certificate(ec_key(), f"racer{i}")) for i in range(N)]
    outcomes = race(clients, lambda c, i: c.upload_signing_certificate(UserName=name, CertificateBody=bodies[i]))
    assert_split(outcomes, 2)
    assert len(clients[0].list_signing_certificates(UserName=name)["Certificates"]) == 2


def test_one_signing_certificate_for_one_user_under_concurrency(clients: list[Any]) -> None:
    """Sixteen users upload the same certificate at once: one gets it (DuplicateCertificate for the others)."""
    names = [unique("race") for _ in range(N)]
    for name in names:
        clients[0].create_user(UserName=name)
    body = pem(certificate(ec_key(), "shared"))
    outcomes = race(clients, lambda c, i: c.upload_signing_certificate(UserName=names[i], CertificateBody=body))
    assert_split(outcomes, 1, ("DuplicateCertificate", 409))
    owners = [n for n in names if clients[0].list_signing_certificates(UserName=n)["Certificates"]]
    assert len(owners) == 1


def test_server_certificates_per_account_under_concurrency(clients: list[Any]) -> None:
    iam = clients[0]
    key = ec_key()
    body, private = pem(certificate(key, "quota.example.com")), pem_private(key)
    before = len(iam.list_server_certificates()["ServerCertificateMetadataList"])
    made = [unique("pre") for _ in range(12 - before)]
    for name in made:
        iam.upload_server_certificate(ServerCertificateName=name, CertificateBody=body, PrivateKey=private)
    names = [unique("race") for _ in range(N)]
    lock = threading.Lock()

    def upload(c: Any, i: int) -> None:
        c.upload_server_certificate(ServerCertificateName=names[i], CertificateBody=body, PrivateKey=private)
        with lock:
            made.append(names[i])

    try:
        outcomes = race(clients, upload)
        assert_split(outcomes, 8)
        assert len(iam.list_server_certificates()["ServerCertificateMetadataList"]) == 20
    finally:
        for name in made:
            iam.delete_server_certificate(ServerCertificateName=name)


# -- test-mode reset -----------------------------------------------------------------------------------------
def test_wipe_clears_the_new_tables(tmp_path: Path) -> None:
    from sqlalchemy import func, select

    from iamroles.store import LoginProfile, PasswordPolicy, SshPublicKey, Store
    from iamroles.store import schema as t

    store = Store.sqlite_file(tmp_path / "w.db")
    store.migrate()
    now = datetime.now(UTC)
    with store.write() as tx:
        tx.insert_login_profile(LoginProfile("111122223333", "AIDAX", "$argon2id$x", "[]", False, None, now, now))
        tx.set_password_policy(PasswordPolicy("111122223333", 8, False, False, False, False, True, None, None, None))
        tx.insert_user_credential("ssh", SshPublicKey("APKAXXXXXXXXXXXXXXXXX", "111122223333", "AIDAX", "ssh-rsa A", "aa", "Active", now))
    with store.write() as tx:
        tx.wipe([], [])
    with store.read() as tx:
        for table in (t.login_profiles, t.password_policies, t.ssh_public_keys):
            assert tx.c.execute(select(func.count()).select_from(table)).scalar() == 0, table.name
    store.close()
