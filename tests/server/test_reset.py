"""Test mode's reset (``POST /moto-api/reset``, the endpoint moto's users already call between tests) resets
every piece of IAM state, so a suite that creates the same names in every test passes against iamroles.

What it keeps: the accounts, their bootstrap credentials (the root's keys, the test administrator), AWS's
managed policies, the keys that seal session tokens and the audit trail (store/schema.py RESET_KEEPS).
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import httpx
import pytest
from botocore import xform_name
from botocore.exceptions import ClientError

from iamroles.iam import OPERATIONS
from iamroles.store import schema

from .conftest import Server, start_server, stop_server
from .test_credentials import certificate, ec_key, pem, pem_private, rsa_key, ssh_line
from .test_roles import TRUST

ALLOW_ALL = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})
OIDC_URL = "https://reset.example.com"
_KEY = ec_key()
CERT, KEY, SSH_KEY = pem(certificate(_KEY, "reset.example.com")), pem_private(_KEY), ssh_line(rsa_key())
THUMBPRINT = "a" * 40


@pytest.fixture(params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    db = None if request.param == "sqlite" else request.getfixturevalue("pg_database_fresh")
    srv = start_server(tmp_path, db, "--test-mode", "--admin-access-key", "admin", "--admin-secret-key", "admin-secret")
    try:
        yield srv
    finally:
        stop_server(srv)


@pytest.fixture
def pg_database_fresh() -> Iterator[str]:
    from .conftest import fresh_pg_database

    with fresh_pg_database("iamroles_reset_") as url:
        yield url


def _populate(iam: Any) -> None:
    """One of everything, under fixed names (as a test suite that does not clean up would make them)."""
    iam.create_role(RoleName="app", AssumeRolePolicyDocument=json.dumps(TRUST), Tags=[{"Key": "team", "Value": "blue"}])
    iam.put_role_policy(RoleName="app", PolicyName="inline", PolicyDocument=ALLOW_ALL)
    arn = iam.create_policy(PolicyName="managed", PolicyDocument=ALLOW_ALL)["Policy"]["Arn"]
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=ALLOW_ALL, SetAsDefault=True)
    iam.attach_role_policy(RoleName="app", PolicyArn=arn)
    iam.attach_role_policy(RoleName="app", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    iam.create_user(UserName="alice", Tags=[{"Key": "team", "Value": "blue"}])
    iam.create_access_key(UserName="alice")
    iam.attach_user_policy(UserName="alice", PolicyArn=arn)
    iam.put_user_policy(UserName="alice", PolicyName="inline", PolicyDocument=ALLOW_ALL)
    iam.create_group(GroupName="devs")
    iam.add_user_to_group(GroupName="devs", UserName="alice")
    iam.attach_group_policy(GroupName="devs", PolicyArn=arn)
    iam.put_group_policy(GroupName="devs", PolicyName="inline", PolicyDocument=ALLOW_ALL)
    iam.create_instance_profile(InstanceProfileName="web")
    iam.add_role_to_instance_profile(InstanceProfileName="web", RoleName="app")
    iam.create_open_id_connect_provider(Url=OIDC_URL, ClientIDList=["sts.amazonaws.com"], ThumbprintList=[THUMBPRINT])
    iam.create_virtual_mfa_device(VirtualMFADeviceName="phone")
    # users' other credentials (the administrator's own are what the parameterless lists show) and the password policy
    iam.create_login_profile(UserName="alice", Password="Reset-pw1!")
    iam.update_account_password_policy(MinimumPasswordLength=8)
    iam.upload_ssh_public_key(UserName="iamroles-admin", SSHPublicKeyBody=SSH_KEY)
    iam.upload_signing_certificate(UserName="iamroles-admin", CertificateBody=CERT)
    iam.create_service_specific_credential(UserName="iamroles-admin", ServiceName="codecommit.amazonaws.com")
    iam.upload_server_certificate(ServerCertificateName="site", CertificateBody=CERT, PrivateKey=KEY)
    # account-level state: the alias (unique across accounts: a reset must free it)
    iam.create_account_alias(AccountAlias="reset-alias")
    iam.create_service_linked_role(AWSServiceName="ecs.amazonaws.com")
    iam.set_security_token_service_preferences(GlobalEndpointTokenVersion="v2Token")
    iam.generate_credential_report()


def _parameterless_lists() -> list[str]:
    """Every List* operation iamroles serves that needs no parameter (those listing under a named entity are
    covered by the entity being gone, and by creating it again)."""
    model = botocore.session.get_session().get_service_model("iam")
    names = []
    for name in model.operation_names:
        if not name.startswith("List") or ("iam", name) not in OPERATIONS:
            continue
        shape = model.operation_model(name).input_shape
        if shape is None or not shape.required_members:
            names.append(name)
    return names


def _listed(iam: Any, name: str) -> dict[str, list[Any]]:
    params = {"Scope": "Local"} if name == "ListPolicies" else {}
    if name == "ListOrganizationsFeatures":  # an organization's features: the test account is in none, before and after
        with pytest.raises(ClientError) as exc:
            iam.list_organizations_features()
        assert exc.value.response["Error"]["Code"] == "OrganizationNotFoundException"
        return {}
    out = getattr(iam, xform_name(name))(**params)
    return {k: v for k, v in out.items() if isinstance(v, list)}


def test_reset_wipes_every_table_but_those_it_keeps_by_name() -> None:
    """The reset is derived from the schema: a table is kept only by being named, so a new table cannot be
    forgotten. Those named are not IAM state (account_quotas and delegation_templates: the operator's settings of each
    account, as AWS's partner onboarding registers a partner's policy templates)."""
    assert {"accounts", "account_quotas", "delegation_templates", "change_seq", "change_log", "signing_keys",
            "audit_events"} == schema.RESET_KEEPS
    assert {table.name for table in schema.metadata.sorted_tables} >= schema.RESET_KEEPS


def test_after_a_reset_every_list_is_empty_and_every_name_is_free_again(server: Server) -> None:
    admin = server.client("iam", "admin", "admin-secret")
    _populate(admin)
    lists = _parameterless_lists()
    assert {"ListRoles", "ListUsers", "ListGroups", "ListPolicies", "ListInstanceProfiles", "ListOpenIDConnectProviders",
            "ListVirtualMFADevices"} <= set(lists)
    before = {name: _listed(admin, name) for name in lists}
    assert before["ListRoles"]["Roles"] and before["ListOpenIDConnectProviders"]["OpenIDConnectProviderList"]
    assert before["ListVirtualMFADevices"]["VirtualMFADevices"] and before["ListPolicies"]["Policies"]
    assert before["ListServerCertificates"]["ServerCertificateMetadataList"] and before["ListSSHPublicKeys"]["SSHPublicKeys"]
    assert before["ListSigningCertificates"]["Certificates"]
    assert before["ListAccountAliases"]["AccountAliases"] == ["reset-alias"]
    assert before["ListServiceSpecificCredentials"]["ServiceSpecificCredentials"]

    assert httpx.post(server.url + "/moto-api/reset").status_code == 200

    for name in lists:
        listed = _listed(admin, name)
        if name == "ListUsers":  # the test administrator the server was started with
            assert [u["UserName"] for u in listed["Users"]] == ["iamroles-admin"], name
        elif name == "ListAccessKeys":  # the caller's own: the administrator's key
            assert [k["AccessKeyId"] for k in listed["AccessKeyMetadata"]] == ["admin"], name
        else:
            assert all(not v for v in listed.values()), (name, listed)
    with pytest.raises(ClientError) as exc:
        admin.get_account_password_policy()
    assert exc.value.response["Error"]["Code"] == "NoSuchEntity"
    with pytest.raises(ClientError) as exc:
        admin.get_credential_report()
    assert exc.value.response["Error"]["Code"] == "ReportNotPresent"
    assert admin.get_account_summary()["SummaryMap"]["GlobalEndpointTokenVersion"] == 1
    # AWS's managed policies stay, unattached
    aws = admin.get_policy(PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")["Policy"]
    assert aws["AttachmentCount"] == 0
    # the same names again, every one of them
    _populate(admin)
    assert admin.get_role(RoleName="app")["Role"]["Tags"] == [{"Key": "team", "Value": "blue"}]
    assert [g["GroupName"] for g in admin.list_groups_for_user(UserName="alice")["Groups"]] == ["devs"]
    # the root's key survives as well
    assert server.client("sts").get_caller_identity()["Arn"].endswith(":root")
