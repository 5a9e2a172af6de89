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


def _presigned(iam: Any, name: str, description: str) -> str:
    return str(iam.generate_presigned_url("update_role_description", Params={"RoleName": name, "Description": description}))


# What is rewritten in transit -> whether the same value can still be read. A rewrite of one encoding to another of
# the same octets (an escape's hex case, an unreserved character escaped or not, a reserved character a query
# component may carry unescaped) changes nothing: SigV4 canonicalises both alike and the server reads both alike.
# Anything else (another octet, one decoding more or less, a delimiter where data stood) is another canonical
# request: refused. Never is another value stored.
REWRITES = [
    # (signed value, its escape in the URL, what the attacker puts in its place)
    ("a+b", "a%2Bb", "a%2bb"),            # hex case: the same octet
    ("a+b", "a%2Bb", "a%252Bb"),          # encoded once more: "%2B" literally
    ("a+b", "a%2Bb", "a%25252Bb"),        # and again
    ("a%2Bb", "a%252Bb", "a%2Bb"),        # decoded once more: "+" instead of "%2B"
    ("a b", "a%20b", "a%2520b"),          # a space encoded twice
    ("a/b", "a%2Fb", "a/b"),              # a reserved character unescaped: the same octet
    ("a:b", "a%3Ab", "a:b"),
    ("a,b", "a%2Cb", "a,b"),
    ("a@b", "a%40b", "a@b"),
    ("a=b", "a%3Db", "a=b"),              # '=' inside a value: still the value's
    ("a&b", "a%26b", "a&b"),              # '&' unescaped: a delimiter, the value cut short
    ("a#b", "a%23b", "a#b"),              # '#': the URL's fragment, the rest is never sent
    ("a;b", "a%3Bb", "a;b"),
    ("a~b", "a~b", "a%7Eb"),              # an unreserved character escaped: the same octet
    ("a-b", "a-b", "a%2db"),
    ("\u00e9", "%C3%A9", "%c3%a9"),       # hex case inside a UTF-8 sequence
    ("\u00e9", "%C3%A9", "%E9"),          # Latin-1 for UTF-8: another octet
    ("\u00e9", "%C3%A9", "%C3%A9%00"),    # an octet added
    ("\u00e9", "%C3%A9", "%C3"),          # half a character
    ("ab", "ab", "a%62"),
    ("ab", "ab", "a%6"),                  # a broken escape
    ("ab", "ab", "a%%62"),
]


@pytest.mark.parametrize("original,escaped,rewritten", REWRITES, ids=[f"{e}->{r}" for _, e, r in REWRITES])
def test_rewritten_escapes_are_refused_or_read_the_same(iam: Any, server: Server, original: str, escaped: str,
                                                         rewritten: str) -> None:
    name = unique("presigned")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST, Description="before")
    url = _presigned(iam, name, original)
    marker = f"Description={escaped}&"
    assert marker in url, url
    r = httpx.post(url.replace(marker, f"Description={rewritten}&"))
    stored = iam.get_role(RoleName=name)["Role"]["Description"]
    if r.status_code == 200:
        assert stored == original, (r.text, stored)
    else:  # (a '#' cuts the signature off the URL: then no signature at all)
        assert r.status_code == 403 and ("<Code>SignatureDoesNotMatch</Code>" in r.text
                                         or "<Code>MissingAuthenticationToken</Code>" in r.text), r.text
        assert stored == "before"


def test_a_parameter_added_to_a_presigned_url_is_refused(iam: Any, server: Server) -> None:
    """In the query string it is another canonical request; in a body, another payload hash (a presigned IAM or STS
    request signs its empty body); with UNSIGNED-PAYLOAD declared, a body is refused (IAM's parameters are in it)."""
    name = unique("presigned")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST, Description="before")
    url = _presigned(iam, name, "signed")
    evil = "Description=evil"
    for r in (httpx.post(url + "&" + evil), httpx.post(url.replace("?", "?" + evil + "&", 1)),
              httpx.post(url, content=evil, headers={"Content-Type": "application/x-www-form-urlencoded"}),
              httpx.post(url, content=evil, headers={"Content-Type": "application/x-www-form-urlencoded",
                                                     "X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})):
        assert r.status_code in (400, 403) and "<Code>" in r.text and "<Code>InternalFailure</Code>" not in r.text, r.text
        assert iam.get_role(RoleName=name)["Role"]["Description"] == "before"


def presign_pairs(server: Server, pairs: list[tuple[str, str]]) -> str:
    """A presigned URL for exactly these (already escaped) query pairs, duplicates kept (botocore's signer keeps one
    of each name), signed as SigV4's query signing says: the pairs sorted, the host the only signed header, the empty
    body's hash (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html)."""
    import hashlib
    import hmac
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    date, stamp = now.strftime("%Y%m%d"), now.strftime("%Y%m%dT%H%M%SZ")
    scope = f"{date}/us-east-1/iam/aws4_request"
    auth = [("X-Amz-Algorithm", "AWS4-HMAC-SHA256"), ("X-Amz-Credential", f"{server.access_key}%2F{scope.replace('/', '%2F')}"),
            ("X-Amz-Date", stamp), ("X-Amz-Expires", "300"), ("X-Amz-SignedHeaders", "host")]
    query = "&".join(f"{k}={v}" for k, v in sorted(pairs + auth))
    host = server.url.split("//", 1)[1]
    canonical = f"POST\n/\n{query}\nhost:{host}\n\nhost\n{hashlib.sha256(b'').hexdigest()}"
    to_sign = f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = ("AWS4" + server.secret_key).encode()
    for part in (date, "us-east-1", "iam", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return f"{server.url}/?{'&'.join(f'{k}={v}' for k, v in pairs + auth)}&X-Amz-Signature={signature}"


def test_a_parameter_named_twice_in_the_query_is_refused(iam: Any, server: Server) -> None:
    """SigV4 sorts the query's pairs: a URL signed with one name twice verifies in either order, so the order
    (which one a reader takes) is not signed. Such a query is refused (AWS's common error InvalidQueryParameter,
    "The AWS query string is malformed or does not adhere to AWS standards",
    https://docs.aws.amazon.com/IAM/latest/APIReference/CommonErrors.html), in either order, and nothing changes."""
    name = unique("presigned")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST, Description="before")
    base = [("Action", "UpdateRoleDescription"), ("Version", "2010-05-08"), ("RoleName", name)]
    single = presign_pairs(server, [*base, ("Description", "once")])
    assert httpx.post(single).status_code == 200  # the hand-made signature is right
    assert iam.get_role(RoleName=name)["Role"]["Description"] == "once"
    signed = presign_pairs(server, [*base, ("Description", "first"), ("Description", "second")])
    swapped = signed.replace("Description=first&Description=second", "Description=second&Description=first")
    assert swapped != signed
    for url in (signed, swapped):
        r = httpx.post(url)
        assert r.status_code == 400 and "<Code>InvalidQueryParameter</Code>" in r.text, r.text
        assert "first" not in r.text and "second" not in r.text
    assert iam.get_role(RoleName=name)["Role"]["Description"] == "once"
