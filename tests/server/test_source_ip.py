"""aws:SourceIp is the address the request came from: a client cannot choose it with X-Forwarded-For.

Only proxies the operator names (``iamroles serve --trusted-proxy``) may say where a request came from.
AWS sets aws:SourceIp to "the requester's IP address" (reference_policies_condition-keys.html#condition-keys-sourceip);
a policy that allows only a corporate range must not be satisfied by a header any caller can write.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from .conftest import Server, start_server, stop_server, unique

ONLY_FROM_10 = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "iam:ListRoles", "Resource": "*", "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}]}


def _client_sending(server: Server, key: dict[str, str], forwarded: str | None):  # type: ignore[no-untyped-def]
    client = server.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    if forwarded is not None:
        def add(request, **_):  # type: ignore[no-untyped-def]
            request.headers["X-Forwarded-For"] = forwarded
            request.headers["X-Real-IP"] = forwarded
            request.headers["Forwarded"] = f"for={forwarded}"
        client.meta.events.register("before-send.iam.*", add)
    return client


def _user(server: Server):  # type: ignore[no-untyped-def]
    iam = server.client("iam")
    name = unique("ip")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="only-from-10", PolicyDocument=json.dumps(ONLY_FROM_10))
    return iam.create_access_key(UserName=name)["AccessKey"]


def test_forwarded_headers_from_a_client_do_not_set_the_source_ip(server: Server) -> None:
    key = _user(server)
    for forwarded in (None, "10.1.2.3", "10.1.2.3, 127.0.0.1"):
        with pytest.raises(ClientError) as exc:
            _client_sending(server, key, forwarded).list_roles()
        assert exc.value.response["Error"]["Code"] == "AccessDenied", forwarded


def test_a_trusted_proxy_may_say_where_the_request_came_from(tmp_path: Path) -> None:
    srv = start_server(tmp_path, None, "--trusted-proxy", "127.0.0.1")
    try:
        key = _user(srv)
        _client_sending(srv, key, "10.1.2.3").list_roles()  # the proxy (here: loopback) forwarded a 10.x client
        with pytest.raises(ClientError) as exc:
            _client_sending(srv, key, "192.0.2.7").list_roles()
        assert exc.value.response["Error"]["Code"] == "AccessDenied"
    finally:
        stop_server(srv)
