"""Presigned URLs are read exactly as SigV4 canonicalises them, so what is read is what was signed.

SigV4 treats a ``+`` in the query string as a plus sign (AWS's SigV4 suite, post-vanilla-query-nonunreserved;
https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html: "Do not encode ... Percent-encode
all other characters with %XY ... the space character must be encoded as %20 (not using '+')"). An attacker who
rewrites an encoding in transit either changes nothing (``%2B`` -> ``+`` still reads a plus) or breaks the
signature (``%20`` -> ``+``); they can never change the value the server stores.
"""
from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from .conftest import Server, unique

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


@pytest.mark.parametrize("original", ["grant+admin", "grant admin"])
def test_rewritten_encodings_never_change_the_value(iam: Any, server: Server, original: str) -> None:
    name = unique("presigned")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST, Description="before")
    url = iam.generate_presigned_url("update_role_description", Params={"RoleName": name, "Description": original})
    encoded = "grant%2Badmin" if "+" in original else "grant%20admin"
    assert encoded in url
    tampered = url.replace(encoded, "grant+admin")
    r = httpx.post(tampered)  # botocore presigns Query operations as a POST with an empty body
    if "+" in original:  # %2B -> +: the same plus sign, signed and read alike
        assert r.status_code == 200, r.text
        assert iam.get_role(RoleName=name)["Role"]["Description"] == "grant+admin"
    else:  # %20 -> +: another value than the one signed
        assert r.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in r.text, r.text
        assert iam.get_role(RoleName=name)["Role"]["Description"] == "before"
    # untouched, the URL does exactly what was signed
    assert httpx.post(url).status_code == 200
    assert iam.get_role(RoleName=name)["Role"]["Description"] == original
