"""Listings page in the database (keyset pagination), on SQLite and PostgreSQL.

AWS's paging contract (https://docs.aws.amazon.com/IAM/latest/APIReference/API_ListRoles.html, Marker and
MaxItems; the same on every List* operation): a page of at most MaxItems, IsTruncated, and a Marker that continues
where the page stopped. A page must cost the same at any size (issue 13: the first page of ListRoles took 1.5 s at
100,000 roles, and following Markers read everything again), and following Markers must give every item once, in
order, even when items are created or deleted between pages.
"""
from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from iamroles.errors import LimitExceeded, ValidationError
from iamroles.iam.common import encode_marker
from iamroles.store import Group, Store

from .conftest import NOW, new_account
from .ops import call, insert_roles, list_all, role, user


@contextmanager
def statements(store: Store, table: str) -> Iterator[list[tuple[str, Any]]]:
    """The SQL statements (with their parameters) that read ``table`` while the block runs."""
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if f"FROM {table}" in statement:
            seen.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", record)


def rows_read(store: Store, statement: str, parameters: Any) -> int:
    """PostgreSQL: how many rows executing ``statement`` read (every plan node's output and what its filters dropped).
    SQLite: the statement's plan must read an index in order from the page's start (no scan, no sort); 0."""
    with store.engine.connect() as conn:
        if store.postgres:
            plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters).scalar()
            nodes = [(plan if isinstance(plan, list) else json.loads(plan))[0]["Plan"]]
            total = 0
            while nodes:
                node = nodes.pop()
                total += int(node["Actual Rows"]) * int(node["Actual Loops"]) + int(node.get("Rows Removed by Filter", 0))
                nodes += node.get("Plans", [])
            return total
        details = [r[-1] for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)]
        assert not any("TEMP B-TREE" in d or d.startswith("SCAN") for d in details), details
        # the primary key's index, searched from the account (and the Marker's name key) on
        assert any(d.startswith("SEARCH roles USING") and "account_id=?" in d for d in details), details
        assert ("name_key>?" in details[0]) == ("name_key >=" in statement), details
        return 0


def test_a_page_costs_the_same_at_any_depth(store: Store, account: str) -> None:
    names = sorted(f"role-{i:05d}" for i in range(3000))
    insert_roles(store, account, names)
    other = new_account(store)  # another account's roles are not read either
    insert_roles(store, other, [f"role-{i:05d}" for i in range(500)])
    costs = []
    for marker in (None, encode_marker("ListRoles", ["role-01500"]), encode_marker("ListRoles", ["role-02950"])):
        with statements(store, "roles") as seen:
            out = call(store, account, "ListRoles", MaxItems=40, **({"Marker": marker} if marker else {}))
        assert len(out["Roles"]) == 40 and out["IsTruncated"] is True
        (statement, parameters), = seen  # one query for the page
        assert "LIMIT" in statement.upper() and 41 in (parameters.values() if isinstance(parameters, dict) else parameters)
        costs.append(rows_read(store, statement, parameters))
    if store.postgres:
        assert max(costs) <= 2 * 41, costs  # the page (and the row after it), not the 1,500 or 2,950 before it


def test_every_role_once_in_order(store: Store, account: str) -> None:
    names = [f"{'R' if i % 3 else 'r'}ole-{uuid.uuid4().hex[:8]}" for i in range(230)]  # mixed case: listed by lower-cased name
    insert_roles(store, account, names)
    listed = list_all(store, account, "ListRoles", "Roles", "RoleName", MaxItems=17)
    assert listed == sorted(names, key=str.lower)
    assert list_all(store, account, "ListRoles", "Roles", "RoleName", MaxItems=1000) == listed


def test_creates_and_deletes_between_pages(store: Store, account: str) -> None:
    """No item listed twice, none that existed throughout is skipped, whatever changes between pages."""
    names = sorted(f"role-{i:04d}" for i in range(0, 400, 2))
    insert_roles(store, account, names)
    deleted: set[str] = set()

    def churn(seen: int) -> None:
        # insert before and after the position reached, and delete items both behind and ahead of it
        tail = uuid.uuid4().hex[:4]
        insert_roles(store, account, [f"role-{seen * 2 - 1:04d}x{tail}", f"role-{seen * 2 + 51:04d}x{tail}", f"role-{uuid.uuid4().hex[:6]}"])
        with store.write() as tx:
            for name in (names[min(max(seen - 3, 0), len(names) - 1)], names[min(seen + 5, len(names) - 1)]):
                if name not in deleted:
                    tx.delete_entity("role", account, name)
                    deleted.add(name)

    listed = list_all(store, account, "ListRoles", "Roles", "RoleName", between=churn, MaxItems=9)
    assert len(listed) == len(set(listed)), "an item listed twice"
    assert listed == sorted(listed), "out of order"
    assert set(names) - deleted <= set(listed), "an item that existed throughout was skipped"


def test_path_prefix(store: Store, account: str) -> None:
    insert_roles(store, account, [f"a-{i:03d}" for i in range(30)], path="/team/a/")
    insert_roles(store, account, [f"b-{i:03d}" for i in range(30)], path="/team/b/")
    insert_roles(store, account, [f"c-{i:03d}" for i in range(5)], path="/team_a/")  # '_' is no wildcard in a prefix
    listed = list_all(store, account, "ListRoles", "Roles", "RoleName", PathPrefix="/team/a/", MaxItems=7)
    assert listed == [f"a-{i:03d}" for i in range(30)]
    assert len(list_all(store, account, "ListRoles", "Roles", "RoleName", PathPrefix="/team/", MaxItems=7)) == 60
    assert list_all(store, account, "ListRoles", "Roles", "RoleName", PathPrefix="/nobody/") == []


@pytest.mark.parametrize("marker", [
    "garbage!", "AAAA", base64.urlsafe_b64encode(b"role-001").decode(),  # not ours (the old format was this)
    encode_marker("ListUsers", ["role-001"]),  # another listing's
    encode_marker("ListRoles", ["role-001", "extra"]),  # another shape
    base64.urlsafe_b64encode(b"\xff\xfe\xfd\xfc\xff").decode(),  # not text
])
def test_a_marker_not_issued_for_the_listing_is_refused(store: Store, account: str, marker: str) -> None:
    insert_roles(store, account, ["role-001", "role-002"])
    with pytest.raises(ValidationError) as exc:
        call(store, account, "ListRoles", Marker=marker)
    assert str(exc.value) == "Invalid Marker."


def test_a_marker_of_another_account_shows_only_this_one(store: Store, account: str) -> None:
    """A Marker names a position, nothing else: used in another account it lists that account's items from there."""
    insert_roles(store, account, [f"mine-{i:02d}" for i in range(10)])
    other = new_account(store)
    insert_roles(store, other, [f"mine-{i:02d}x" for i in range(10)])
    marker = call(store, account, "ListRoles", MaxItems=3)["Marker"]
    listed = [r["RoleName"] for r in call(store, other, "ListRoles", Marker=marker)["Roles"]]
    assert listed == [f"mine-{i:02d}x" for i in range(3, 10)]
    # a forged position shows the caller's own items only
    forged = [r["Arn"] for r in call(store, other, "ListRoles", Marker=encode_marker("ListRoles", [""]))["Roles"]]
    assert len(forged) == 10 and all(f":{other}:" in arn for arn in forged)


def test_users_groups_members_and_profiles_page(store: Store, account: str) -> None:
    with store.write() as tx:
        for i in range(25):
            tx.insert_entity("user", user(account, f"User-{i:02d}"))
    for i in range(12):
        call(store, account, "CreateGroup", GroupName=f"g-{i:02d}")
        call(store, account, "AddUserToGroup", GroupName=f"g-{i % 3:02d}", UserName=f"user-{i:02d}")
    assert list_all(store, account, "ListUsers", "Users", "UserName", MaxItems=4) == [f"User-{i:02d}" for i in range(25)]
    assert list_all(store, account, "ListGroups", "Groups", "GroupName", MaxItems=5) == [f"g-{i:02d}" for i in range(12)]
    members = list_all(store, account, "GetGroup", "Users", "UserName", GroupName="g-01", MaxItems=2)
    assert members == ["User-01", "User-04", "User-07", "User-10"]
    call(store, account, "AddUserToGroup", GroupName="g-05", UserName="user-01")
    assert list_all(store, account, "ListGroupsForUser", "Groups", "GroupName", UserName="User-01", MaxItems=1) == ["g-01", "g-05"]
    for i in range(6):
        call(store, account, "CreateInstanceProfile", InstanceProfileName=f"p-{i}")
    insert_roles(store, account, ["the-role"])
    for i in (4, 1, 3):
        with store.write() as tx:
            tx.add_profile_role(account, f"p-{i}", "the-role")
    assert list_all(store, account, "ListInstanceProfiles", "InstanceProfiles", "InstanceProfileName", MaxItems=4) == [f"p-{i}" for i in range(6)]
    assert list_all(store, account, "ListInstanceProfilesForRole", "InstanceProfiles", "InstanceProfileName",
                    RoleName="the-role", MaxItems=2) == ["p-1", "p-3", "p-4"]


def _policy_doc() -> str:
    return '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}'


def test_policies_inline_and_entities_for_policy_page(store: Store, account: str) -> None:
    arns = [call(store, account, "CreatePolicy", PolicyName=f"pol-{i:02d}", PolicyDocument=_policy_doc(),
                 Path="/x/" if i % 2 else "/")["Policy"]["Arn"] for i in range(15)]
    local = list_all(store, account, "ListPolicies", "Policies", "PolicyName", Scope="Local", MaxItems=4)
    assert local == [f"pol-{i:02d}" for i in range(15)]
    assert list_all(store, account, "ListPolicies", "Policies", "PolicyName", Scope="Local", PathPrefix="/x/", MaxItems=2) == [
        f"pol-{i:02d}" for i in range(1, 15, 2)]
    insert_roles(store, account, [f"r-{i}" for i in range(5)])
    for i in (3, 7, 11):
        call(store, account, "AttachRolePolicy", RoleName="r-0", PolicyArn=arns[i])
    for i in (0, 2, 4):
        call(store, account, "AttachRolePolicy", RoleName=f"r-{i}", PolicyArn=arns[5])
        call(store, account, "PutRolePolicy", RoleName="r-1", PolicyName=f"Inline-{i}", PolicyDocument=_policy_doc())
    with store.write() as tx:
        tx.update_entity("role", account, "r-4", permissions_boundary=arns[9])
    attached = list_all(store, account, "ListPolicies", "Policies", "PolicyName", Scope="Local", OnlyAttached=True, MaxItems=1)
    assert attached == ["pol-03", "pol-05", "pol-07", "pol-11"]
    assert list_all(store, account, "ListPolicies", "Policies", "PolicyName", Scope="Local", PolicyUsageFilter="PermissionsBoundary",
                    MaxItems=1) == ["pol-09"]
    entities = list_all(store, account, "ListEntitiesForPolicy", "PolicyRoles", "RoleName", PolicyArn=arns[5], MaxItems=1)
    assert entities == ["r-0", "r-2", "r-4"]
    assert list_all(store, account, "ListEntitiesForPolicy", "PolicyRoles", "RoleName", PolicyArn=arns[5], EntityFilter="User") == []
    assert list_all(store, account, "ListRolePolicies", "PolicyNames", "", RoleName="r-1", MaxItems=2) == ["Inline-0", "Inline-2", "Inline-4"]


def test_virtual_mfa_devices_page_with_long_serials(store: Store, account: str) -> None:
    """The longest serial number a device can have still fits a Marker (markerType: at most 320 characters)."""
    path = "/" + "p" * 150 + "/"
    names = sorted(f"{'d' * 60}{i:02d}" for i in range(7))
    for name in names:
        call(store, account, "CreateVirtualMFADevice", VirtualMFADeviceName=name, Path=path)
    markers = []
    marker = None
    listed: list[str] = []
    while True:
        out = call(store, account, "ListVirtualMFADevices", MaxItems=2, AssignmentStatus="Unassigned", **({"Marker": marker} if marker else {}))
        listed += [d["SerialNumber"].rsplit("/", 1)[1] for d in out["VirtualMFADevices"]]
        if not out["IsTruncated"]:
            break
        marker = out["Marker"]
        markers.append(marker)
    assert listed == names
    assert markers and all(len(m) <= 320 for m in markers)
    assert call(store, account, "ListVirtualMFADevices", AssignmentStatus="Assigned")["VirtualMFADevices"] == []


# -- quotas ------------------------------------------------------------------------------------------
def test_quota_counts_in_sql_and_an_operator_can_raise_it(store: Store, account: str) -> None:
    """GroupsPerAccount defaults to 300 (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html);
    an operator's per-account setting replaces it, either way."""
    with store.write() as tx:
        for i in range(300):
            tx.insert_entity("group", Group(account, f"g{i:03d}", f"AGPA{i:017d}", "/", f"arn:aws:iam::{account}:group/g{i:03d}", NOW))
    with statements(store, "groups") as seen, pytest.raises(LimitExceeded) as exc:
        call(store, account, "CreateGroup", GroupName="one-more")
    assert str(exc.value) == "Cannot exceed quota for GroupsPerAccount: 300"
    # counted by the database: no statement reads the account's groups but the one name looked up
    assert any("count(*)" in s.lower() for s, _ in seen)
    assert all("count(*)" in s.lower() or "groups.name_key =" in s for s, _ in seen), seen
    with store.write() as tx:
        tx.set_quota(account, "GroupsPerAccount", 301)
    call(store, account, "CreateGroup", GroupName="one-more")
    with pytest.raises(LimitExceeded) as exc:
        call(store, account, "CreateGroup", GroupName="two-more")
    assert str(exc.value) == "Cannot exceed quota for GroupsPerAccount: 301"
    other = new_account(store)  # the setting is the account's alone
    with store.write() as tx:
        tx.set_quota(other, "RolesPerAccount", 1)
        assert tx.quotas(account) == {"GroupsPerAccount": 301} and tx.quotas(other) == {"RolesPerAccount": 1}
        tx.set_quota(account, "GroupsPerAccount", None)
        assert tx.quotas(account) == {}
    call(store, other, "CreateRole", RoleName="first", AssumeRolePolicyDocument=role(other, "x").trust_policy)
    with pytest.raises(LimitExceeded) as exc:
        call(store, other, "CreateRole", RoleName="second", AssumeRolePolicyDocument=role(other, "x").trust_policy)
    assert str(exc.value) == "Cannot exceed quota for RolesPerAccount: 1"
    with pytest.raises(LimitExceeded) as exc:  # back to the default, which 301 groups exceed
        call(store, account, "CreateGroup", GroupName="three-more")
    assert str(exc.value) == "Cannot exceed quota for GroupsPerAccount: 300"
