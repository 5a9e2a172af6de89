"""The store's contract, method group by method group, run alike on SQLite and PostgreSQL (the ``store`` fixture):
what a write stores is what the reads give back, as the records of iamroles.store.records, with UTC times."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from iamroles.store import (
    AccessKey,
    Account,
    Group,
    InstanceProfile,
    LoginProfile,
    ManagedPolicy,
    MfaDevice,
    OidcProvider,
    PasswordPolicy,
    PolicyVersion,
    Role,
    ServerCertificate,
    ServiceCredential,
    SigningCertificate,
    SigningKeyRecord,
    SshPublicKey,
    Store,
    Tag,
    User,
)

from .conftest import NOW, new_account
from .ops import role, user


def _group(account: str, name: str) -> Group:
    return Group(account, name, "AGPA" + uuid.uuid4().hex[:17].upper(), "/", f"arn:aws:iam::{account}:group/{name}", NOW)


def _profile(account: str, name: str) -> InstanceProfile:
    return InstanceProfile(account, name, "AIPA" + uuid.uuid4().hex[:17].upper(), "/", f"arn:aws:iam::{account}:instance-profile/{name}", NOW)


def _policy(account: str, name: str, path: str = "/") -> ManagedPolicy:
    return ManagedPolicy(f"arn:aws:iam::{account}:policy{path}{name}", account, name, "ANPA" + uuid.uuid4().hex[:17].upper(), path,
                         None, "v1", 2, NOW, NOW)


def test_accounts_generations_and_quotas(store: Store) -> None:
    """An account's generation is stable while its principals do not change and moves when they do (what
    the key/session cache is keyed on); a quota override is not a principal and does not move it."""
    account = new_account(store)
    with store.read() as tx:
        found = tx.account(account)
        assert found == Account(account, "aws", NOW) and found.created_at.tzinfo is not None
        assert account in [a.account_id for a in tx.accounts()]
        assert tx.account("000000000000") is None
        first = tx.generation(account)
        assert tx.quotas(account) == {}
    with store.read() as tx:
        assert tx.generation(account) == first
    with store.write() as tx:
        assert tx.account(account, for_update=True) == found
        tx.set_quota(account, "RolesPerAccount", 5000)
        tx.set_quota(account, "RolesPerAccount", 4000)  # set again: replaced
    with store.read() as tx:
        assert tx.generation(account) == first and tx.quotas(account) == {"RolesPerAccount": 4000}
    with store.write() as tx:
        tx.insert_entity("user", user(account, "carol"))
        assert tx.generation(account) != first  # this transaction's own state: nothing derived from it is reused
    with store.read() as tx:
        moved = tx.generation(account)
        assert moved != first
    with store.read() as tx:
        assert tx.generation(account) == moved


def test_access_keys(store: Store, account: str) -> None:
    root = AccessKey("AKIA" + uuid.uuid4().hex[:16].upper(), account, None, b"sealed-root", "Active", NOW)
    mine = AccessKey("AKIA" + uuid.uuid4().hex[:16].upper(), account, "alice", b"sealed", "Active", NOW + timedelta(seconds=1))
    with store.write() as tx:
        tx.insert_access_key(root)
        tx.insert_access_key(mine)
    with store.write() as tx:
        assert tx.access_key(mine.access_key_id) == mine
        assert tx.access_keys(account, None) == [root] and tx.access_keys(account, "alice") == [mine]
        tx.update_access_key(mine.access_key_id, status="Inactive", last_used_at=NOW, last_used_service="iam", last_used_region="us-east-1")
    with store.write() as tx:
        changed = tx.access_key(mine.access_key_id)
        assert changed is not None and (changed.status, changed.last_used_at, changed.last_used_service) == ("Inactive", NOW, "iam")
        tx.delete_access_key(mine.access_key_id)
        assert tx.access_key(mine.access_key_id) is None


def test_entities(store: Store, account: str) -> None:
    r = role(account, "Builder", "/ci/")
    with store.write() as tx:
        tx.insert_entity("role", r)
        tx.insert_entity("user", user(account, "alice"))
        tx.insert_entity("group", _group(account, "devs"))
        tx.insert_entity("instance_profile", _profile(account, "web"))
    with store.read() as tx:
        found = tx.entity("role", account, "BUILDER")  # names are case-insensitive
        assert found == r and isinstance(found, Role) and found.key == "builder"
        assert isinstance(tx.entity("user", account, "alice"), User)
        assert tx.entity_by_id("role", r.id) == r
        assert [tx.count(k, account) for k in ("role", "user", "group", "instance_profile", "policy", "oidc", "mfa")] == [1, 1, 1, 1, 0, 0, 0]
        assert tx.entities("role", account, "/ci/") == [r] and tx.entities("role", account, "/cd/") == []
    with store.write() as tx:
        tx.update_entity("role", account, "builder", description="builds", max_session_duration=7200)
        tx.rename_entity("user", account, "alice", "Alicia", "/people/", f"arn:aws:iam::{account}:user/people/Alicia")
    with store.write() as tx:
        updated = tx.entity("role", account, "builder")
        assert updated is not None and (updated.description, updated.max_session_duration) == ("builds", 7200)
        moved = tx.entity("user", account, "alicia")
        assert moved is not None and (moved.name, moved.path) == ("Alicia", "/people/") and tx.entity("user", account, "alice") is None
        tx.delete_entity("role", account, "builder")
        assert tx.entity("role", account, "builder") is None and tx.count("role", account) == 0


def test_managed_policies_and_versions(store: Store, account: str) -> None:
    p = _policy(account, "Reader", "/x/")
    v1 = PolicyVersion(p.arn, "v1", '{"Version":"2012-10-17","Statement":[]}', NOW)
    v2 = PolicyVersion(p.arn, "v2", '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}', NOW + timedelta(1))
    with store.write() as tx:
        tx.insert_policy(p)
        tx.insert_policy_version(v1)
        tx.insert_policy_version(v2)
    with store.write() as tx:
        assert tx.policy(p.arn) == p and tx.policy_by_name(account, "READER") == p
        assert tx.policies([account], "/x/") == [p] and tx.policies([account], "/y/") == []
        assert tx.policy_versions(p.arn) == [v2, v1] and tx.policy_version(p.arn, "v2") == v2
        assert tx.default_documents([p.arn]) == {p.arn: (p, v1.document)}
        tx.update_policy(p.arn, default_version="v2", next_version=3)
        tx.delete_policy_version(p.arn, "v1")
    with store.write() as tx:
        assert tx.default_documents([p.arn])[p.arn][1] == v2.document and tx.policy_versions(p.arn) == [v2]
        tx.delete_policy(p.arn)
        assert tx.policy(p.arn) is None and tx.policy_versions(p.arn) == []


def test_attachments_and_inline_policies(store: Store, account: str) -> None:
    p = _policy(account, "P")
    with store.write() as tx:
        tx.insert_policy(p)
        tx.insert_entity("role", role(account, "r"))
        tx.insert_entity("user", user(account, "u"))
        assert tx.attach(account, "role", "r", p.arn) is True and tx.attach(account, "role", "r", p.arn) is False
        tx.attach(account, "user", "u", p.arn)
        tx.update_entity("user", account, "u", permissions_boundary=p.arn)
        tx.put_inline(account, "role", "r", "Inline", '{"a":1}')
        tx.put_inline(account, "role", "r", "INLINE", '{"a":2}')  # the same name, any case: replaced
    with store.write() as tx:
        assert tx.attached(account, "role", "r") == [p.arn]
        assert tx.attachments_of(p.arn) == [(account, "role", "r"), (account, "user", "u")]
        assert tx.attachment_counts([p.arn], account) == {p.arn: 2} and tx.boundary_counts([p.arn], account) == {p.arn: 1}
        assert [(k, e.name) for k, e in tx.attached_entities(p.arn, account, ["group", "role", "user"])] == [("role", "r"), ("user", "u")]
        assert [(i.name, i.document) for i in tx.inlines(account, "role", "r")] == [("INLINE", '{"a":2}')]
        assert tx.inline(account, "role", "r", "inline") is not None and tx.inline_names(account, "role", "r") == ["INLINE"]
        assert tx.detach(account, "user", "u", p.arn) is True and tx.detach(account, "user", "u", p.arn) is False
        assert tx.delete_inline(account, "role", "r", "inline") is True and tx.inlines(account, "role", "r") == []
        tx.put_inline(account, "role", "r", "again", "{}")
        tx.delete_inlines(account, "role", "r")
        tx.delete_attachments(account, "role", "r")
        assert tx.inlines(account, "role", "r") == [] and tx.attached(account, "role", "r") == []


def test_tags(store: Store, account: str) -> None:
    with store.write() as tx:
        tx.set_tags(account, "role", "r", [Tag("Team", "a"), Tag("env", "prod")])
        tx.set_tags(account, "role", "r", [Tag("TEAM", "b"), Tag("cost", "1")])  # keys compare case-insensitively
    with store.write() as tx:
        assert tx.tags(account, "role", "r") == [Tag("TEAM", "b"), Tag("env", "prod"), Tag("cost", "1")]
        tx.remove_tags(account, "role", "r", ["team", "nothing"])
        assert tx.tags(account, "role", "r") == [Tag("env", "prod"), Tag("cost", "1")]
        assert tx.tags(account, "user", "r") == []


def test_groups_and_instance_profiles(store: Store, account: str) -> None:
    with store.write() as tx:
        for name in ("u1", "u2"):
            tx.insert_entity("user", user(account, name))
        tx.insert_entity("group", _group(account, "g"))
        tx.insert_entity("instance_profile", _profile(account, "ip"))
        tx.insert_entity("role", role(account, "r"))
        tx.add_member(account, "g", "u2")
        tx.add_member(account, "g", "u1")
        tx.add_member(account, "g", "u1")  # twice: once
        tx.add_profile_role(account, "ip", "r")
    with store.write() as tx:
        assert tx.members(account, "g") == ["u1", "u2"] and [u.name for u in tx.member_users(account, "g")] == ["u1", "u2"]
        assert tx.groups_of(account, "u1") == ["g"] and [g.name for g in tx.user_groups(account, "u1")] == ["g"]
        assert tx.profile_roles(account, "ip") == ["r"] and tx.profiles_of_role(account, "r") == ["ip"]
        assert [p.name for p in tx.role_profiles(account, "r")] == ["ip"]
        assert tx.remove_member(account, "g", "u2") is True and tx.remove_member(account, "g", "u2") is False
        tx.delete_memberships(account, group_key="g")
        assert tx.members(account, "g") == []
        assert tx.remove_profile_role(account, "ip", "r") is True and tx.profiles_of_role(account, "r") == []


def test_oidc_providers(store: Store, account: str) -> None:
    p = OidcProvider(f"arn:aws:iam::{account}:oidc-provider/idp.example.com", account, "idp.example.com", ("app",), ("a" * 40,), None, NOW)
    with store.write() as tx:
        tx.insert_oidc_provider(p)
    with store.write() as tx:
        assert tx.oidc_provider(p.arn) == p and tx.oidc_providers(account) == [p] and tx.count("oidc", account) == 1
        tx.update_oidc_provider(p.arn, client_ids=["app", "cli"], jwks='{"keys":[]}')
    with store.write() as tx:
        changed = tx.oidc_provider(p.arn, for_update=True)
        assert changed is not None and changed.client_ids == ("app", "cli") and changed.thumbprints == p.thumbprints
        assert changed.jwks == '{"keys":[]}'
        tx.delete_oidc_provider(p.arn)
        assert tx.oidc_provider(p.arn) is None


def test_mfa_devices(store: Store, account: str) -> None:
    d = MfaDevice(f"arn:aws:iam::{account}:mfa/phone", account, "phone", "/", b"sealed-seed", None, None, NOW)
    with store.write() as tx:
        tx.insert_mfa_device(d)
    with store.write() as tx:
        assert tx.mfa_device(d.serial) == d and tx.mfa_devices(account, assigned=False) == [d] and tx.mfa_devices(account, assigned=True) == []
        tx.assign_mfa_device(d.serial, "alice", NOW)
    with store.write() as tx:
        assigned = tx.mfa_device(d.serial, for_update=True)
        assert assigned is not None and (assigned.user_key, assigned.enabled_at) == ("alice", NOW)
        assert tx.mfa_devices(account, "alice") == [assigned]
        tx.delete_mfa_device(d.serial)
        assert tx.mfa_device(d.serial) is None


def test_login_profiles_and_the_password_policy(store: Store, account: str) -> None:
    profile = LoginProfile(account, "AIDAUSER", "$argon2id$hash", "[]", True, None, NOW, NOW)
    policy = PasswordPolicy(account, 14, True, True, False, False, True, 90, 5, None)
    with store.write() as tx:
        tx.insert_login_profile(profile)
        tx.set_password_policy(policy)
        tx.set_password_policy(policy)  # again: replaced, not duplicated
    with store.write() as tx:
        assert tx.login_profile(account, "AIDAUSER") == profile and tx.password_policy(account) == policy
        tx.update_login_profile(account, "AIDAUSER", reset_required=False, previous_hashes='["old"]')
        changed = tx.login_profile(account, "AIDAUSER")
        assert changed is not None and (changed.reset_required, changed.previous_hashes) == (False, '["old"]')
        assert tx.delete_login_profile(account, "AIDAUSER") is True and tx.delete_login_profile(account, "AIDAUSER") is False
        assert tx.delete_password_policy(account) is True and tx.password_policy(account) is None


def test_users_other_credentials(store: Store, account: str) -> None:
    ssh = SshPublicKey("APKA" + uuid.uuid4().hex[:16].upper(), account, "AIDAUSER", "ssh-rsa AAAA", "aa:bb", "Active", NOW)
    service = ServiceCredential("ACCA" + uuid.uuid4().hex[:16].upper(), account, "AIDAUSER", "codecommit.amazonaws.com", "u-at-1",
                                b"sealed", "Active", NOW, None)
    signing = SigningCertificate(uuid.uuid4().hex.upper(), account, "AIDAUSER", "-----BEGIN CERTIFICATE-----", "f" * 64, "Active", NOW)
    with store.write() as tx:
        for kind, record in (("ssh", ssh), ("service", service), ("signing", signing)):
            tx.insert_user_credential(kind, record)
    with store.write() as tx:
        assert tx.user_credential("ssh", ssh.key_id) == ssh and tx.user_credentials("ssh", account, "AIDAUSER") == [ssh]
        assert tx.user_credentials("service", account) == [service] and tx.user_credential("signing", signing.certificate_id) == signing
        assert tx.user_credentials("ssh", account, "AIDAOTHER") == []
        tx.update_user_credential("ssh", ssh.key_id, status="Inactive")
        updated = tx.user_credential("ssh", ssh.key_id)
        assert updated is not None and updated.status == "Inactive"
        tx.delete_user_credential("service", service.credential_id)
        assert tx.user_credential("service", service.credential_id) is None


def test_server_certificates(store: Store, account: str) -> None:
    cert = ServerCertificate(account, "Web", "ASCA" + uuid.uuid4().hex[:17].upper(), "/elb/", f"arn:aws:iam::{account}:server-certificate/elb/Web",
                             NOW, body="-----BEGIN CERTIFICATE-----", chain=None, key_sealed=b"sealed", expiration=NOW + timedelta(days=90))
    with store.write() as tx:
        tx.insert_server_certificate(cert)
        tx.set_tags(account, "server_certificate", "web", [Tag("a", "1")])
    with store.write() as tx:
        assert tx.server_certificate(account, "WEB") == cert and tx.server_certificates(account, "/elb/") == [cert]
        assert tx.server_certificates(account, "/other/") == [] and tx.count("server_certificate", account) == 1
        tx.move_server_certificate(account, "web", "Api", "/api/", f"arn:aws:iam::{account}:server-certificate/api/Api")
        moved = tx.server_certificate(account, "api", for_update=True)
        assert moved is not None and (moved.name, moved.path) == ("Api", "/api/") and tx.server_certificate(account, "web") is None
        assert tx.tags(account, "server_certificate", "api") == [Tag("a", "1")]  # the tags follow the name
        tx.delete_server_certificate(account, "api")
        assert tx.server_certificate(account, "api") is None and tx.tags(account, "server_certificate", "api") == []


def test_signing_keys(store: Store) -> None:
    first, second = uuid.uuid4().hex[:16], uuid.uuid4().hex[:16]
    with store.write() as tx:
        tx.insert_signing_key(first, b"one", NOW)
        tx.insert_signing_key(second, b"two", NOW + timedelta(seconds=1))
        tx.retire_signing_keys(second, NOW + timedelta(seconds=2))
    with store.write() as tx:
        mine = [k for k in tx.signing_keys() if k.key_id in (first, second)]
        assert mine == [SigningKeyRecord(first, b"one", NOW, NOW + timedelta(seconds=2)), SigningKeyRecord(second, b"two", NOW + timedelta(seconds=1), None)]
        tx.delete_signing_key(first)
        assert first not in [k.key_id for k in tx.signing_keys()]


def test_audit(store: Store, account: str) -> None:
    row = {"event_time": NOW, "account_id": account, "event_source": "iam.amazonaws.com", "event_name": "CreateRole",
           "principal_arn": f"arn:aws:iam::{account}:root", "error_code": None, "request_id": "r1", "record": '{"a":1}'}
    with store.write() as tx:
        tx.insert_audit([row, {**row, "request_id": "r2", "error_code": "AccessDenied", "record": '{"a":2}'}])
    with store.read() as tx:
        assert tx.audit(account_id=account) == ['{"a":2}', '{"a":1}']
        assert tx.audit(account_id=account, errors_only=True) == ['{"a":2}']
        assert tx.audit(account_id=account, event_name="DeleteRole") == []


def test_wipe_keeps_accounts_and_named_keys(store: Store, account: str) -> None:
    key = AccessKey("AKIA" + uuid.uuid4().hex[:16].upper(), account, "admin", b"s", "Active", NOW)
    with store.write() as tx:
        tx.insert_entity("user", user(account, "admin"))
        tx.insert_entity("user", user(account, "other"))
        tx.insert_entity("role", role(account, "r"))
        tx.insert_access_key(key)
        tx.wipe([key.access_key_id], [(account, "admin")])
    with store.read() as tx:
        assert tx.account(account) is not None and tx.access_key(key.access_key_id) == key
        assert [u.name for u in tx.entities("user", account)] == ["admin"] and tx.entities("role", account) == []


# -- what a transaction remembers is forgotten by its own writes --------------------------------------
@pytest.mark.parametrize("write", ["update", "rename", "delete", "tags", "boundary"])
def test_no_stale_read_after_a_write_in_the_same_transaction(store: Store, account: str, write: str) -> None:
    """Entity and tag reads are remembered for the transaction (and, for readers, until a write changes their scope); a write
    through the same transaction must make the next read see it."""
    with store.write() as tx:
        tx.insert_entity("user", user(account, "bob"))
        tx.set_tags(account, "user", "bob", [Tag("k", "1")])
    with store.write() as tx:
        before = tx.entity("user", account, "bob")  # remembered now
        assert before is not None and tx.tags(account, "user", "bob") == [Tag("k", "1")]
        if write == "update":
            tx.update_entity("user", account, "bob", path="/moved/")
            after = tx.entity("user", account, "bob")
            assert after is not None and after.path == "/moved/"
        elif write == "rename":
            tx.rename_entity("user", account, "bob", "Robert", "/", f"arn:aws:iam::{account}:user/Robert")
            assert tx.entity("user", account, "bob") is None
            assert tx.tags(account, "user", "robert") == [Tag("k", "1")]
        elif write == "delete":
            tx.delete_entity("user", account, "bob")
            assert tx.entity("user", account, "bob") is None
        elif write == "tags":
            tx.set_tags(account, "user", "bob", [Tag("k", "2")])
            assert tx.tags(account, "user", "bob") == [Tag("k", "2")]
        else:
            tx.update_entity("user", account, "bob", permissions_boundary="arn:aws:iam::aws:policy/X")
            after = tx.entity("user", account, "bob")
            assert after is not None and after.permissions_boundary == "arn:aws:iam::aws:policy/X"
    # and a reader after the commit sees it too (the shared cache forgets on every write)
    with store.read() as tx:
        seen = tx.entity("user", account, "bob")
        assert (seen is None) == (write in ("rename", "delete"))
