"""Quotas and unique names hold under concurrent requests, on SQLite and PostgreSQL.

Sixteen boto3 clients, released together by a barrier, race one quota at a time.
Afterwards the state is read back: the quota holds, exactly the calls that
were answered 200 took effect, and every other call was refused with the
error AWS answers (LimitExceeded or EntityAlreadyExists, HTTP 409), never a 500.

AWS references:
- quotas: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
  (managed policies attached to a role / user / group: 10; versions of a managed
  policy: 5; access keys per user and per root user: 2; inline policy size, white
  space excluded, per user 2,048 / group 5,120 / role 10,240 characters; tags per
  role / user / customer managed policy / instance profile / OIDC provider: 50;
  OpenId Connect identity providers per account: 100; roles in an instance
  profile: 1; groups an IAM user can be a member of: 10)
- names of users, groups, roles and instance profiles are unique per account
  regardless of case (same page, "IAM name requirements"); a duplicate is
  EntityAlreadyExists: https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html#API_CreateRole_Errors
  (and API_CreateUser, API_CreatePolicy, API_CreateGroup, API_CreateInstanceProfile, API_UpdateUser)
"""
from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import Server, unique
from .test_roles import READ, TRUST

N = 16
OK = ("ok", 200)


@pytest.fixture(scope="module")
def clients(server: Server) -> list[Any]:
    """One client per racer (made once: building a boto3 client costs more than a request)."""
    return [server.client("iam") for _ in range(N)]


@pytest.fixture(scope="module")
def policies(server: Server) -> list[str]:
    """N customer managed policies to attach."""
    iam = server.client("iam")
    return [iam.create_policy(PolicyName=unique("race"), PolicyDocument=json.dumps(READ))["Policy"]["Arn"] for _ in range(N)]


def race(clients: list[Any], call: Callable[[Any, int], Any], n: int = N) -> list[tuple[str, int]]:
    """Run call(client, i) for i in range(n) at once; each outcome is ("ok", 200) or (error code, HTTP status)."""
    barrier = threading.Barrier(n)

    def one(i: int) -> tuple[str, int]:
        barrier.wait()
        try:
            call(clients[i], i)
            return OK
        except ClientError as exc:
            return exc.response["Error"]["Code"], exc.response["ResponseMetadata"]["HTTPStatusCode"]

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def winners(outcomes: list[tuple[str, int]]) -> list[int]:
    return [i for i, o in enumerate(outcomes) if o == OK]


def assert_split(outcomes: list[tuple[str, int]], ok: int, refused: tuple[str, int] = ("LimitExceeded", 409)) -> None:
    assert Counter(outcomes) == Counter({OK: ok, refused: len(outcomes) - ok}), outcomes


def sized(size: int, tag: str = "") -> str:
    """An identity policy of exactly ``size`` characters, white space excluded (as IAM counts them)."""
    def doc(pad: int) -> str:
        return json.dumps({"Version": "2012-10-17", "Statement": [
            {"Sid": "S" + tag, "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/" + "x" * pad}]},
            separators=(",", ":"))
    base = len(doc(0))
    out = doc(size - base)
    assert len(out) == size
    return out


def create_entity(iam: Any, kind: str, name: str) -> None:
    """A role (trusting the account), user or group named ``name``."""
    if kind == "Role":
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
    else:
        getattr(iam, f"create_{kind.lower()}")(**{f"{kind}Name": name})


# -- managed policies attached per role / user / group: 10 ---------------------------------------
@pytest.mark.parametrize("kind", ["Role", "User", "Group"])
def test_attached_policies_per_entity(server: Server, clients: list[Any], policies: list[str], kind: str) -> None:
    iam = clients[0]
    name = unique(kind.lower())
    create_entity(iam, kind, name)
    attach = f"attach_{kind.lower()}_policy"

    outcomes = race(clients, lambda c, i: getattr(c, attach)(**{f"{kind}Name": name, "PolicyArn": policies[i]}))

    assert_split(outcomes, 10)
    listed = getattr(iam, f"list_attached_{kind.lower()}_policies")(**{f"{kind}Name": name})["AttachedPolicies"]
    assert sorted(p["PolicyArn"] for p in listed) == sorted(policies[i] for i in winners(outcomes))


# -- versions per managed policy: 5 ----------------------------------------------------------------------
def test_policy_versions(clients: list[Any]) -> None:
    iam = clients[0]
    arn = iam.create_policy(PolicyName=unique("versions"), PolicyDocument=json.dumps(READ))["Policy"]["Arn"]

    outcomes = race(clients, lambda c, i: c.create_policy_version(PolicyArn=arn, PolicyDocument=sized(200, str(i))))

    assert_split(outcomes, 4)
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert sorted(v["VersionId"] for v in versions) == ["v1", "v2", "v3", "v4", "v5"]
    sids = {iam.get_policy_version(PolicyArn=arn, VersionId=v["VersionId"])["PolicyVersion"]["Document"]
            ["Statement"][0].get("Sid") for v in versions if v["VersionId"] != "v1"}
    assert sids == {f"S{i}" for i in winners(outcomes)}


# -- access keys per user, and per root user: 2 ---------------------------------------------------------
def test_access_keys_per_user(clients: list[Any]) -> None:
    iam = clients[0]
    user = unique("keys")
    iam.create_user(UserName=user)

    outcomes = race(clients, lambda c, i: c.create_access_key(UserName=user))

    assert_split(outcomes, 2)
    assert len(iam.list_access_keys(UserName=user)["AccessKeyMetadata"]) == 2


def test_access_keys_per_root_user(clients: list[Any]) -> None:
    iam = clients[0]
    before = iam.list_access_keys()["AccessKeyMetadata"]  # the server's own root key
    assert len(before) == 1
    created: list[str] = []
    lock = threading.Lock()

    def create(c: Any, i: int) -> None:
        key = c.create_access_key()["AccessKey"]["AccessKeyId"]
        with lock:
            created.append(key)

    try:
        outcomes = race(clients, create)
        assert_split(outcomes, 1)
        assert len(iam.list_access_keys()["AccessKeyMetadata"]) == 2
    finally:
        for key in created:
            iam.delete_access_key(AccessKeyId=key)


# -- inline policy size per role / user / group ---------------------------------------------------------
@pytest.mark.parametrize("kind,limit", [("Role", 10240), ("User", 2048), ("Group", 5120)])
def test_inline_policy_size(clients: list[Any], kind: str, limit: int) -> None:
    iam = clients[0]
    name = unique(kind.lower())
    create_entity(iam, kind, name)
    each = limit // 5 - 8  # five fit, a sixth does not
    put = f"put_{kind.lower()}_policy"

    outcomes = race(clients, lambda c, i: getattr(c, put)(**{f"{kind}Name": name, "PolicyName": f"p{i}", "PolicyDocument": sized(each)}))

    assert_split(outcomes, 5)
    names = getattr(iam, f"list_{kind.lower()}_policies")(**{f"{kind}Name": name})["PolicyNames"]
    assert sorted(names) == sorted(f"p{i}" for i in winners(outcomes))


def test_inline_policy_size_rewriting_one_name(clients: list[Any]) -> None:
    """Replacing a policy counts only the new document, racing or not: one name, sixteen writers, never over."""
    iam = clients[0]
    name = unique("role")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName=name, PolicyName="base", PolicyDocument=sized(8000))

    outcomes = race(clients, lambda c, i: c.put_role_policy(RoleName=name, PolicyName=f"p{i % 2}", PolicyDocument=sized(1500)))

    # whichever of p0 and p1 lands first fits (8000 + 1500); the other name is then over the limit
    assert set(outcomes) == {OK, ("LimitExceeded", 409)}
    assert sorted(iam.list_role_policies(RoleName=name)["PolicyNames"]) in (["base", "p0"], ["base", "p1"])


# -- tags per role / user / customer managed policy / instance profile / OIDC provider: 50 ------------------
def _taggable(iam: Any, kind: str) -> dict[str, str]:
    if kind == "Role":
        name = unique("role")
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
        return {"RoleName": name}
    if kind == "User":
        name = unique("user")
        iam.create_user(UserName=name)
        return {"UserName": name}
    if kind == "Policy":
        return {"PolicyArn": iam.create_policy(PolicyName=unique("tagged"), PolicyDocument=json.dumps(READ))["Policy"]["Arn"]}
    if kind == "InstanceProfile":
        name = unique("profile")
        iam.create_instance_profile(InstanceProfileName=name)
        return {"InstanceProfileName": name}
    url = f"https://{unique('idp')}.example.com"
    return {"OpenIDConnectProviderArn": iam.create_open_id_connect_provider(Url=url, ClientIDList=["app"])["OpenIDConnectProviderArn"]}


@pytest.mark.parametrize("kind", ["Role", "User", "Policy", "InstanceProfile", "OpenIDConnectProvider"])
def test_tags_per_resource(clients: list[Any], kind: str) -> None:
    iam = clients[0]
    target = _taggable(iam, kind)
    snake = {"InstanceProfile": "instance_profile", "OpenIDConnectProvider": "open_id_connect_provider"}.get(kind, kind.lower())

    # each call adds five new keys: ten calls fill the fifty
    outcomes = race(clients, lambda c, i: getattr(c, f"tag_{snake}")(
        **target, Tags=[{"Key": f"k{i}-{j}", "Value": "v"} for j in range(5)]))

    assert_split(outcomes, 10)
    tags = getattr(iam, f"list_{snake}_tags")(**target, MaxItems=1000)["Tags"]
    assert sorted(t["Key"] for t in tags) == sorted(f"k{i}-{j}" for i in winners(outcomes) for j in range(5))
    if kind == "OpenIDConnectProvider":
        iam.delete_open_id_connect_provider(**target)


# -- OpenID Connect providers per account: 100 ----------------------------------------------------------------
def test_oidc_providers_per_account(clients: list[Any]) -> None:
    iam = clients[0]
    existing = len(iam.list_open_id_connect_providers()["OpenIDConnectProviderList"])
    made: list[str] = []
    stem = unique("idp")
    try:
        for i in range(99 - existing):
            made.append(iam.create_open_id_connect_provider(Url=f"https://{stem}-{i}.example.com", ClientIDList=["app"])
                        ["OpenIDConnectProviderArn"])
        lock = threading.Lock()

        def create(c: Any, i: int) -> None:
            arn = c.create_open_id_connect_provider(Url=f"https://{stem}-race-{i}.example.com", ClientIDList=["app"])
            with lock:
                made.append(arn["OpenIDConnectProviderArn"])

        outcomes = race(clients, create)

        assert_split(outcomes, 1)
        assert len(iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]) == 100
    finally:
        for arn in made:
            iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)


# -- roles per instance profile: 1 --------------------------------------------------------------------------
def test_roles_per_instance_profile(clients: list[Any]) -> None:
    iam = clients[0]
    profile = unique("profile")
    iam.create_instance_profile(InstanceProfileName=profile)
    roles = [unique("role") for _ in range(N)]
    race(clients, lambda c, i: c.create_role(RoleName=roles[i], AssumeRolePolicyDocument=json.dumps(TRUST)))

    outcomes = race(clients, lambda c, i: c.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=roles[i]))

    assert_split(outcomes, 1)
    listed = iam.get_instance_profile(InstanceProfileName=profile)["InstanceProfile"]["Roles"]
    assert [r["RoleName"] for r in listed] == [roles[i] for i in winners(outcomes)]


# -- groups a user can be a member of: 10 --------------------------------------------------------------------
def test_groups_per_user(clients: list[Any]) -> None:
    iam = clients[0]
    user = unique("member")
    iam.create_user(UserName=user)
    groups = [unique("group") for _ in range(N)]
    race(clients, lambda c, i: c.create_group(GroupName=groups[i]))

    outcomes = race(clients, lambda c, i: c.add_user_to_group(GroupName=groups[i], UserName=user))

    assert_split(outcomes, 10)
    listed = iam.list_groups_for_user(UserName=user)["Groups"]
    assert sorted(g["GroupName"] for g in listed) == sorted(groups[i] for i in winners(outcomes))


# -- a role deleted while others attach, embed and tag: nothing is left for the next role of its name ----------
@pytest.mark.parametrize("child", ["attach", "inline", "tag"])
def test_delete_races_leave_nothing_behind(clients: list[Any], policies: list[str], child: str) -> None:
    """An attachment, inline policy or tag written beside a DeleteRole must not outlive the role: it would
    otherwise be inherited by the next role created with that name (an attacker's way to plant permissions)."""
    iam = clients[0]
    name = unique("doomed")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))

    def call(c: Any, i: int) -> None:
        if i == 0:
            c.delete_role(RoleName=name)
        elif child == "attach":
            c.attach_role_policy(RoleName=name, PolicyArn=policies[i])
        elif child == "inline":
            c.put_role_policy(RoleName=name, PolicyName=f"p{i}", PolicyDocument=json.dumps(READ))
        else:
            c.tag_role(RoleName=name, Tags=[{"Key": f"k{i}", "Value": "v"}])

    outcomes = race(clients, call)

    deleted = outcomes[0] == OK
    others = Counter(outcomes[1:])
    if deleted:
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
    attached = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
    inline = iam.list_role_policies(RoleName=name)["PolicyNames"]
    tags = iam.list_role_tags(RoleName=name)["Tags"]
    if deleted:
        assert attached == inline == tags == []
        # what landed before the delete was tagging (a role's tags go with it); the rest found no role
        assert set(others) <= ({OK, ("NoSuchEntity", 404)} if child == "tag" else {("NoSuchEntity", 404)})
    else:
        assert outcomes[0] == ("DeleteConflict", 409) and child != "tag"
        assert others == (Counter({OK: 10, ("LimitExceeded", 409): N - 11}) if child == "attach" else Counter({OK: N - 1}))
        assert len(attached) + len(inline) == others[OK]


# -- one name, sixteen creators: one success, the rest EntityAlreadyExists -------------------------------
CREATES: dict[str, tuple[Callable[[Any, str, int], Any], Callable[[Any, str], list[str]], str]] = {
    "Role": (
        lambda c, name, i: c.create_role(RoleName=name if i % 2 else name.upper(), AssumeRolePolicyDocument=json.dumps(TRUST)),
        lambda iam, name: [r["RoleName"] for r in iam.list_roles(PathPrefix="/")["Roles"] if r["RoleName"].lower() == name],
        "Role with name {} already exists.",
    ),
    "User": (
        lambda c, name, i: c.create_user(UserName=name if i % 2 else name.upper()),
        lambda iam, name: [u["UserName"] for u in iam.list_users()["Users"] if u["UserName"].lower() == name],
        "User with name {} already exists.",
    ),
    "Group": (
        lambda c, name, i: c.create_group(GroupName=name if i % 2 else name.upper()),
        lambda iam, name: [g["GroupName"] for g in iam.list_groups()["Groups"] if g["GroupName"].lower() == name],
        "Group with name {} already exists.",
    ),
    "Policy": (
        lambda c, name, i: c.create_policy(PolicyName=name if i % 2 else name.upper(), PolicyDocument=json.dumps(READ)),
        lambda iam, name: [p["PolicyName"] for p in iam.list_policies(Scope="Local", MaxItems=1000)["Policies"]
                           if p["PolicyName"].lower() == name],
        "A policy called {} already exists. Duplicate names are not allowed.",
    ),
    "InstanceProfile": (
        lambda c, name, i: c.create_instance_profile(InstanceProfileName=name if i % 2 else name.upper()),
        lambda iam, name: [p["InstanceProfileName"] for p in iam.list_instance_profiles()["InstanceProfiles"]
                           if p["InstanceProfileName"].lower() == name],
        "Instance Profile {} already exists.",
    ),
}


@pytest.mark.parametrize("kind", sorted(CREATES))
def test_one_name_many_creators(clients: list[Any], kind: str) -> None:
    create, listing, message = CREATES[kind]
    name = unique(kind.lower())
    messages: dict[int, str] = {}

    def call(c: Any, i: int) -> None:
        try:
            create(c, name, i)
        except ClientError as exc:
            messages[i] = exc.response["Error"]["Message"]
            raise

    outcomes = race(clients, call)

    assert_split(outcomes, 1, ("EntityAlreadyExists", 409))
    assert len(listing(clients[0], name)) == 1
    # each refusal names the entity as that caller spelt it
    assert messages == {i: message.format(name if i % 2 else name.upper()) for i in range(N) if outcomes[i] != OK}


def test_renames_and_creates_of_one_name(clients: list[Any]) -> None:
    """UpdateUser onto a name and CreateUser of it, at once: one takes the name, every other call is EntityAlreadyExists."""
    iam = clients[0]
    target = unique("taken")
    olds = [unique("old") for _ in range(N // 2)]
    race(clients, lambda c, i: c.create_user(UserName=olds[i]), n=N // 2)

    def call(c: Any, i: int) -> None:
        if i < N // 2:
            c.update_user(UserName=olds[i], NewUserName=target)
        else:
            c.create_user(UserName=target)

    outcomes = race(clients, call)

    assert_split(outcomes, 1, ("EntityAlreadyExists", 409))
    names = {u["UserName"] for u in iam.list_users(MaxItems=1000)["Users"]}
    assert target in names
    [won] = winners(outcomes)
    assert set(olds) - names == ({olds[won]} if won < N // 2 else set())


# -- the mapping of the store's conflicts, held against AWS's error lists -----------------------------------
def test_concurrent_modification_where_aws_lists_it() -> None:
    """ConcurrentModification is answered by exactly the operations whose AWS error list has it (botocore's model)."""
    import botocore.session

    from iamroles.iam import registry
    from iamroles.iam.conflicts import CONCURRENT_MODIFICATION

    model = botocore.session.get_session().get_service_model("iam")
    ours = {name for (service, name), op in registry.OPERATIONS.items() if service == "iam" and op.write}
    listed = {name for name in ours
              if any(e.name == "ConcurrentModificationException" for e in model.operation_model(name).error_shapes)}
    assert CONCURRENT_MODIFICATION & ours == listed


@pytest.mark.parametrize("operation,conflict,expected", [
    ("CreateRole", "duplicate-role", ("EntityAlreadyExists", 409, "Role with name Admin already exists.")),
    ("UpdateUser", "duplicate-user", ("EntityAlreadyExists", 409, "User with name Bob already exists.")),
    ("CreateOpenIDConnectProvider", "duplicate-oidc",
     ("EntityAlreadyExists", 409, "Provider with url https://idp.example.com already exists.")),
    ("TagRole", "deadlock", ("ConcurrentModification", 409, None)),
    ("AttachRolePolicy", "deadlock", ("ServiceFailure", 500, None)),
    ("AttachRolePolicy", "duplicate-attachments", ("ServiceFailure", 500, None)),
])
def test_conflicts_become_aws_errors(operation: str, conflict: str, expected: tuple[str, int, str | None]) -> None:
    from iamroles.iam.conflicts import answering_conflicts
    from iamroles.store import Conflict, Duplicate

    raised = {"duplicate-role": Duplicate("role", "Admin"), "duplicate-user": Duplicate("user", "Bob"),
              "duplicate-oidc": Duplicate("oidc", "idp.example.com"), "duplicate-attachments": Duplicate("attachments", None),
              "deadlock": Conflict("deadlock detected")}[conflict]

    def op(ctx: Any, inp: Any) -> None:
        raise raised

    from iamroles.errors import AwsError

    with pytest.raises(AwsError) as exc:
        answering_conflicts(operation, op)(None, {})  # type: ignore[arg-type]
    assert (exc.value.code, exc.value.status) == expected[:2]
    if expected[2] is not None:
        assert exc.value.message == expected[2]
    assert "deadlock" not in exc.value.message  # the database's words stay inside


# -- the quotas and unique names of the newer kinds: SAML providers, MFA devices, server certificates ----------
# (login profiles, SSH keys, signing certificates, service-specific credentials and server certificates per
# account race in test_credentials.py). AWS references: reference_iam-quotas.html ("SAML providers in an AWS
# account: 100", "MFA devices in use by an IAM user: 8", "Tags that can be attached per ...: 50", "Private keys
# per SAML provider: 2" in troubleshoot_saml.html "Private key limit of 2 is reached"); unique names:
# API_CreateSAMLProvider.html, API_CreateOpenIDConnectProvider.html, API_CreateVirtualMFADevice.html and
# API_UploadServerCertificate.html list EntityAlreadyExists.

@pytest.fixture(scope="module")
def idp() -> Any:
    from .test_saml import IdP

    return IdP()


@pytest.fixture(scope="module")
def server_cert() -> tuple[str, str]:
    from .test_credentials import certificate, ec_key, pem, pem_private

    key = ec_key()
    return pem(certificate(key, "race.example.com")), pem_private(key)


NEWER_CREATES: dict[str, Callable[[Any, str, Any, Any], Any]] = {
    "OpenIDConnectProvider": lambda c, name, idp, cert: c.create_open_id_connect_provider(
        Url=f"https://{name}.example.com/oidc", ClientIDList=["app"]),
    "SAMLProvider": lambda c, name, idp, cert: c.create_saml_provider(Name=name, SAMLMetadataDocument=idp.metadata()),
    "VirtualMFADevice": lambda c, name, idp, cert: c.create_virtual_mfa_device(VirtualMFADeviceName=name),
    "ServerCertificate": lambda c, name, idp, cert: c.upload_server_certificate(
        ServerCertificateName=name, CertificateBody=cert[0], PrivateKey=cert[1]),
}


def _newer_cleanup(iam: Any, kind: str, name: str, account: str) -> int:
    """Delete what was created of ``name``; how many there were."""
    if kind == "OpenIDConnectProvider":
        arns = [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"] if name in p["Arn"]]
        for arn in arns:
            iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
        return len(arns)
    if kind == "SAMLProvider":
        arns = [p["Arn"] for p in iam.list_saml_providers()["SAMLProviderList"] if p["Arn"].endswith("/" + name)]
        for arn in arns:
            iam.delete_saml_provider(SAMLProviderArn=arn)
        return len(arns)
    if kind == "VirtualMFADevice":
        serials = [d["SerialNumber"] for d in iam.list_virtual_mfa_devices(MaxItems=1000)["VirtualMFADevices"]
                   if d["SerialNumber"].endswith("/" + name)]
        for serial in serials:
            iam.delete_virtual_mfa_device(SerialNumber=serial)
        return len(serials)
    certs = [c["ServerCertificateName"] for c in iam.list_server_certificates()["ServerCertificateMetadataList"]
             if c["ServerCertificateName"] == name]
    for cert in certs:
        iam.delete_server_certificate(ServerCertificateName=cert)
    return len(certs)


@pytest.mark.parametrize("kind", sorted(NEWER_CREATES))
def test_one_name_many_creators_newer_kinds(server: Server, clients: list[Any], idp: Any, server_cert: tuple[str, str],
                                            kind: str) -> None:
    """Sixteen creates of one provider URL, SAML provider name, MFA device name or server certificate name: one
    success, fifteen EntityAlreadyExists (409), never a 500, and one of it exists."""
    name = unique(kind.lower()[:8])
    outcomes = race(clients, lambda c, i: NEWER_CREATES[kind](c, name, idp, server_cert))
    try:
        assert_split(outcomes, 1, ("EntityAlreadyExists", 409))
    finally:
        assert _newer_cleanup(clients[0], kind, name, server.account) == 1


def test_saml_providers_per_account(clients: list[Any], idp: Any) -> None:
    iam = clients[0]
    existing = len(iam.list_saml_providers()["SAMLProviderList"])
    made: list[str] = []
    lock = threading.Lock()
    try:
        for _ in range(99 - existing):
            made.append(iam.create_saml_provider(Name=unique("pre"), SAMLMetadataDocument=idp.metadata())["SAMLProviderArn"])

        def create(c: Any, i: int) -> None:
            arn = c.create_saml_provider(Name=unique("race"), SAMLMetadataDocument=idp.metadata())["SAMLProviderArn"]
            with lock:
                made.append(arn)

        outcomes = race(clients, create)

        assert_split(outcomes, 1)
        assert len(iam.list_saml_providers()["SAMLProviderList"]) == 100
    finally:
        for arn in made:
            iam.delete_saml_provider(SAMLProviderArn=arn)


def test_private_keys_per_saml_provider(clients: list[Any], idp: Any) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    iam = clients[0]
    arn = iam.create_saml_provider(Name=unique("keys"), SAMLMetadataDocument=idp.metadata())["SAMLProviderArn"]
    pems = [rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode() for _ in range(N)]
    try:
        outcomes = race(clients, lambda c, i: c.update_saml_provider(SAMLProviderArn=arn, AddPrivateKey=pems[i]))
        assert_split(outcomes, 2)
        assert len(iam.get_saml_provider(SAMLProviderArn=arn)["PrivateKeyList"]) == 2
    finally:
        iam.delete_saml_provider(SAMLProviderArn=arn)


def test_mfa_devices_per_user(clients: list[Any]) -> None:
    """Sixteen virtual MFA devices enabled for one user at once: eight are (the quota), eight LimitExceeded."""
    import base64
    import time

    from iamroles.tokens import totp

    iam = clients[0]
    user = unique("mfa")
    iam.create_user(UserName=user)
    devices = [iam.create_virtual_mfa_device(VirtualMFADeviceName=unique("dev"))["VirtualMFADevice"] for _ in range(N)]
    step = int(time.time() // 30)
    codes = [(totp.code_at(base64.b32decode(d["Base32StringSeed"]), step), totp.code_at(base64.b32decode(d["Base32StringSeed"]), step + 1))
             for d in devices]

    outcomes = race(clients, lambda c, i: c.enable_mfa_device(UserName=user, SerialNumber=devices[i]["SerialNumber"],
                                                              AuthenticationCode1=codes[i][0], AuthenticationCode2=codes[i][1]))

    try:
        assert_split(outcomes, 8)
        listed = iam.list_mfa_devices(UserName=user)["MFADevices"]
        assert sorted(d["SerialNumber"] for d in listed) == sorted(devices[i]["SerialNumber"] for i in winners(outcomes))
    finally:
        for i in winners(outcomes):
            iam.deactivate_mfa_device(UserName=user, SerialNumber=devices[i]["SerialNumber"])
        for d in devices:
            iam.delete_virtual_mfa_device(SerialNumber=d["SerialNumber"])


@pytest.mark.parametrize("kind", ["SAMLProvider", "ServerCertificate", "MFADevice"])
def test_tags_per_newer_resource(clients: list[Any], idp: Any, server_cert: tuple[str, str], kind: str) -> None:
    iam = clients[0]
    if kind == "SAMLProvider":
        target = {"SAMLProviderArn": iam.create_saml_provider(Name=unique("tags"), SAMLMetadataDocument=idp.metadata())
                  ["SAMLProviderArn"]}
        snake = "saml_provider"
    elif kind == "ServerCertificate":
        target = {"ServerCertificateName": unique("tags")}
        iam.upload_server_certificate(**target, CertificateBody=server_cert[0], PrivateKey=server_cert[1])
        snake = "server_certificate"
    else:
        target = {"SerialNumber": iam.create_virtual_mfa_device(VirtualMFADeviceName=unique("tags"))["VirtualMFADevice"]
                  ["SerialNumber"]}
        snake = "mfa_device"
    try:
        outcomes = race(clients, lambda c, i: getattr(c, f"tag_{snake}")(
            **target, Tags=[{"Key": f"k{i}-{j}", "Value": "v"} for j in range(5)]))
        assert_split(outcomes, 10)
        tags = getattr(iam, f"list_{snake}_tags")(**target, MaxItems=1000)["Tags"]
        assert sorted(t["Key"] for t in tags) == sorted(f"k{i}-{j}" for i in winners(outcomes) for j in range(5))
    finally:
        getattr(iam, {"SAMLProvider": "delete_saml_provider", "ServerCertificate": "delete_server_certificate",
                      "MFADevice": "delete_virtual_mfa_device"}[kind])(**target)
