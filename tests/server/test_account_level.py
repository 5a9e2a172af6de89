"""The account as a whole, against a real server on both backends: the account alias.

AWS references: https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateAccountAlias.html (the pattern
``^[a-z0-9]([a-z0-9]|-(?!-)){1,61}[a-z0-9]$``, 3 to 63 characters), API_DeleteAccountAlias.html,
API_ListAccountAliases.html; https://docs.aws.amazon.com/IAM/latest/UserGuide/console-account-alias.html ("Your AWS
account can have only one alias. If you create a new alias ..., the new alias overwrites the previous alias"; "must be
unique across all Amazon Web Services products within a given network partition"); EntityAlreadyExists is worded
"The account alias prod already exists." (as IAM answers it: awslabs/aws-deployment-framework#465,
trussworks/terraform-aws-bootstrap#118). The Service Authorization Reference for IAM lists no resource type for the
three actions: they are authorised against ``*``.
"""
from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import Server
from .test_audit import read_trail, request_id
from .test_partitions import Account, create_account
from .test_sts import make_user


def error(call: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as exc:
        call()
    err = exc.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Message"]


def alias(prefix: str = "acme") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def allow(*actions: str, resource: str = "*") -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": resource}]}


@pytest.fixture(scope="module")
def other(server: Server) -> Account:
    return create_account(server)


@pytest.fixture(scope="module")
def china(server: Server) -> Account:
    return create_account(server, "aws-cn")


def aliases(client: Any) -> list[str]:
    return list(client.list_account_aliases()["AccountAliases"])


def test_one_alias_per_account_a_new_one_replaces_it(iam: Any) -> None:
    first, second = alias(), alias()
    out = iam.create_account_alias(AccountAlias=first)
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert aliases(iam) == [first]
    listed = iam.list_account_aliases()
    assert listed["IsTruncated"] is False and "Marker" not in listed
    iam.create_account_alias(AccountAlias=second)  # "the new alias overwrites the previous alias"
    assert aliases(iam) == [second]
    # the alias the account holds, again: it is taken (by this account)
    assert error(lambda: iam.create_account_alias(AccountAlias=second)) == (
        "EntityAlreadyExists", 409, f"The account alias {second} already exists.")
    # the one it replaced is free: another create takes it back
    iam.create_account_alias(AccountAlias=first)
    assert aliases(iam) == [first]
    # delete names the alias; another one is NoSuchEntity and changes nothing
    assert error(lambda: iam.delete_account_alias(AccountAlias=second))[:2] == ("NoSuchEntity", 404)
    assert aliases(iam) == [first]
    iam.delete_account_alias(AccountAlias=first)
    assert aliases(iam) == []
    assert error(lambda: iam.delete_account_alias(AccountAlias=first))[:2] == ("NoSuchEntity", 404)


@pytest.mark.parametrize("bad", ["Acme", "acme_corp", "-acme", "acme-", "ac--me", "ab", "a" * 64, "acme corp", "acmé"])
def test_an_alias_breaking_the_pattern_is_refused_and_changes_nothing(iam: Any, server: Server, bad: str) -> None:
    kept = alias()
    iam.create_account_alias(AccountAlias=kept)
    raw = server.client("iam", validate=False)  # (botocore would refuse some of them before sending)
    for call in (raw.create_account_alias, raw.delete_account_alias):
        code, status, message = error(lambda call=call: call(AccountAlias=bad))  # type: ignore[misc]
        assert (code, status) == ("ValidationError", 400), message
        assert "accountAlias" in message or "AccountAlias" in message
    assert aliases(iam) == [kept]
    iam.delete_account_alias(AccountAlias=kept)


def test_the_longest_and_shortest_aliases_are_accepted(iam: Any) -> None:
    for name in ("a1b", "a" + "-b" * 30 + "c" + uuid.uuid4().hex[:1]):
        assert 3 <= len(name) <= 63
        iam.create_account_alias(AccountAlias=name)
        assert aliases(iam) == [name]
        iam.delete_account_alias(AccountAlias=name)


def test_an_alias_is_unique_across_the_accounts_of_a_partition(iam: Any, server: Server, other: Account) -> None:
    b = server.client("iam", other.key, other.secret)
    taken = alias()
    iam.create_account_alias(AccountAlias=taken)
    # account B cannot take it, cannot see it, cannot delete it
    assert error(lambda: b.create_account_alias(AccountAlias=taken)) == (
        "EntityAlreadyExists", 409, f"The account alias {taken} already exists.")
    assert aliases(b) == []
    assert error(lambda: b.delete_account_alias(AccountAlias=taken))[:2] == ("NoSuchEntity", 404)
    assert aliases(iam) == [taken]
    # B's own alias is B's only
    own = alias("other")
    b.create_account_alias(AccountAlias=own)
    assert aliases(b) == [own] and aliases(iam) == [taken]
    assert error(lambda: iam.delete_account_alias(AccountAlias=own))[:2] == ("NoSuchEntity", 404)
    # once A lets it go, B may take it
    iam.delete_account_alias(AccountAlias=taken)
    b.create_account_alias(AccountAlias=taken)
    assert aliases(b) == [taken]
    assert error(lambda: iam.create_account_alias(AccountAlias=taken))[0] == "EntityAlreadyExists"
    b.delete_account_alias(AccountAlias=taken)


def test_another_partition_has_aliases_of_its_own(iam: Any, server: Server, china: Account) -> None:
    """"unique ... within a given network partition": an account of aws-cn may hold the alias an aws account holds."""
    cn = server.client("iam", china.key, china.secret, region="cn-north-1")
    name = alias()
    iam.create_account_alias(AccountAlias=name)
    cn.create_account_alias(AccountAlias=name)
    assert aliases(cn) == [name] and aliases(iam) == [name]
    cn.delete_account_alias(AccountAlias=name)
    assert aliases(iam) == [name]
    iam.delete_account_alias(AccountAlias=name)


def test_accounts_racing_for_one_alias_one_gets_it(iam: Any, server: Server, other: Account) -> None:
    """Two accounts create the same alias at once, many times: exactly one succeeds each time, the other is
    EntityAlreadyExists (the check, or the unique key when both passed it), never a 5xx."""
    b = server.client("iam", other.key, other.secret)
    for _ in range(8):
        name = alias("race")
        outcomes: list[str] = []

        def create(client: Any) -> None:
            try:
                client.create_account_alias(AccountAlias=name)
                outcomes.append("ok")
            except ClientError as exc:
                outcomes.append(exc.response["Error"]["Code"])

        threads = [threading.Thread(target=create, args=(c,)) for c in (iam, b)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert sorted(outcomes) == ["EntityAlreadyExists", "ok"], outcomes
        holders = [c for c in (iam, b) if aliases(c) == [name]]
        assert len(holders) == 1
        holders[0].delete_account_alias(AccountAlias=name)


def test_alias_calls_need_their_permission(iam: Any, server: Server) -> None:
    name = alias()
    iam.create_account_alias(AccountAlias=name)
    # a user with every other IAM permission, and an explicit deny of the alias actions
    _, key = make_user(iam, server, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:*", "Resource": "*"},
        {"Effect": "Deny", "Action": ["iam:CreateAccountAlias", "iam:DeleteAccountAlias", "iam:ListAccountAliases"],
         "Resource": "*"}]})
    denied = server.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    for call in (lambda: denied.create_account_alias(AccountAlias=alias()),
                 lambda: denied.delete_account_alias(AccountAlias=name),
                 lambda: denied.list_account_aliases()):
        code, status, message = error(call)
        assert (code, status) == ("AccessDenied", 403)
        assert "explicit deny" in message
    assert aliases(iam) == [name]  # nothing changed
    # a user with no policy at all
    _, bare = make_user(iam, server)
    nobody = server.client("iam", bare["AccessKeyId"], bare["SecretAccessKey"])
    assert error(lambda: nobody.create_account_alias(AccountAlias=alias()))[:2] == ("AccessDenied", 403)
    assert error(lambda: nobody.delete_account_alias(AccountAlias=name))[:2] == ("AccessDenied", 403)
    assert aliases(iam) == [name]
    # allowed on the actions alone (resource "*", as the reference says)
    _, key = make_user(iam, server, allow("iam:CreateAccountAlias", "iam:DeleteAccountAlias", "iam:ListAccountAliases"))
    admin = server.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    replacement = alias()
    admin.create_account_alias(AccountAlias=replacement)
    assert aliases(admin) == [replacement]
    # a resource other than "*" names nothing these actions are authorised against
    _, key = make_user(iam, server, allow("iam:*AccountAlias*", resource=f"arn:aws:iam::{server.account}:*"))
    scoped = server.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    assert error(lambda: scoped.delete_account_alias(AccountAlias=replacement))[:2] == ("AccessDenied", 403)
    admin.delete_account_alias(AccountAlias=replacement)


def test_alias_changes_are_audited(iam: Any, server: Server) -> None:
    name = alias()
    created = request_id(iam.create_account_alias(AccountAlias=name))
    deleted = request_id(iam.delete_account_alias(AccountAlias=name))
    events = {e["requestID"]: e for e in read_trail(server)[0]}
    assert events[created]["eventName"] == "CreateAccountAlias"
    assert events[created]["requestParameters"] == {"accountAlias": name}
    assert events[created]["readOnly"] is False and events[created]["errorCode"] is None
    assert events[deleted]["eventName"] == "DeleteAccountAlias"
    assert json.dumps(events[created])  # a plain JSON event
