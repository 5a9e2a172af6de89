"""The object-store example behind IAM roles, end to end, on both backends (in process and the authorisation API).

AWS behaviour reproduced: S3's actions and resource ARNs
(https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html); a request signed with
another secret, or changed after signing, fails with SignatureDoesNotMatch
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-troubleshooting.html), and a body other than the one
whose SHA-256 the signed x-amz-content-sha256 declares is S3's XAmzContentSHA256Mismatch (400); S3 presigned URLs and
UNSIGNED-PAYLOAD (https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html); a principal of
another account needs the bucket policy too
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html).
"""
from __future__ import annotations

import hashlib
import http.client
import json
import subprocess
import sys
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from .conftest import BUCKET, EXAMPLE, World, clean_env, unique


def refused(call: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as exc:
        call()
    return exc.value.response  # type: ignore[no-any-return]


def test_read_only_role_reads_and_read_write_role_writes(world: World, backend: str) -> None:
    reader, writer = world.assume("reader", "alice"), world.assume("writer", "bob")
    rw, ro = world.s3(backend, writer), world.s3(backend, reader)
    key = f"reports/{unique('q')} 1+1 é~.csv"  # a space, a plus, UTF-8: S3's path encoding
    assert rw.put_object(Bucket=BUCKET, Key=key, Body=b"a,b\n1,2\n")["ResponseMetadata"]["HTTPStatusCode"] == 200

    obj = ro.get_object(Bucket=BUCKET, Key=key)
    assert obj["Body"].read() == b"a,b\n1,2\n"
    assert obj["Metadata"]["uploaded-by"] == writer["Arn"]  # the app saw the authenticated principal
    assert key in [o["Key"] for o in ro.list_objects_v2(Bucket=BUCKET, Prefix="reports/")["Contents"]]

    err = refused(lambda: ro.put_object(Bucket=BUCKET, Key=key, Body=b"overwrite"))
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 403 and err["Error"]["Code"] == "AccessDenied"
    assert err["Error"]["Message"].startswith(
        f"User: {reader['Arn']} is not authorized to perform: s3:PutObject on resource: arn:aws:s3:::{BUCKET}/{key} "
        "because no identity-based policy allows the s3:PutObject action")
    assert err["ResponseMetadata"]["RequestId"]
    assert refused(lambda: ro.delete_object(Bucket=BUCKET, Key=key))["Error"]["Code"] == "AccessDenied"
    assert refused(lambda: ro.get_object(Bucket="other-bucket", Key="x"))["Error"]["Code"] == "AccessDenied"
    assert ro.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"a,b\n1,2\n"  # unchanged

    rw.delete_object(Bucket=BUCKET, Key=key)
    assert refused(lambda: ro.get_object(Bucket=BUCKET, Key=key))["Error"]["Code"] == "NoSuchKey"  # allowed, and gone
    # requests the mapping does not know are refused, not let through
    assert refused(lambda: rw.put_object_tagging(Bucket=BUCKET, Key="k", Tagging={"TagSet": []}))["Error"]["Code"] == "AccessDenied"


def test_iamroles_exec_children_with_each_role(world: World) -> None:
    """The README's walk-through: an unmodified boto3 child gets the role's credentials from `iamroles exec`."""
    launcher = world.keys["launcher"]
    env = clean_env(AWS_ACCESS_KEY_ID=launcher["AccessKeyId"], AWS_SECRET_ACCESS_KEY=launcher["SecretAccessKey"],
                    AWS_ENDPOINT_URL=world.srv.url, OBJECTSTORE_URL=world.stores["local"].url)
    client = [sys.executable, str(EXAMPLE / "client.py")]

    def run(role: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "iamroles", "exec", "--role", world.roles[role], "--session-name", f"{role}-job",
                               "--", *client, *args], env=env, capture_output=True, text=True, timeout=30)

    key = f"{BUCKET}/{unique('exec')}.txt"
    r = run("writer", "put", key, "written by a task role")
    assert r.returncode == 0, r.stderr
    r = run("reader", "get", key)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "written by a task role\n"
    assert f"uploaded by arn:aws:sts::{world.srv.account}:assumed-role/{world.roles['writer']}/writer-job" in r.stderr
    r = run("reader", "put", key, "not allowed")
    assert r.returncode == 3
    assert f"AccessDenied: User: arn:aws:sts::{world.srv.account}:assumed-role/{world.roles['reader']}/reader-job " \
           f"is not authorized to perform: s3:PutObject" in r.stderr


def signed(url: str, creds: dict[str, str], method: str, path: str, body: bytes = b"", query: str = "") -> tuple[str, dict[str, str]]:
    """A request signed by botocore's S3 signer, as raw URL and headers (to replay, or change after signing)."""
    full = f"{url}{path}" + (f"?{query}" if query else "")
    req = AWSRequest(method, full, data=body, headers={"x-amz-content-sha256": hashlib.sha256(body).hexdigest()})
    S3SigV4Auth(Credentials(creds["AccessKeyId"], creds["SecretAccessKey"], creds.get("SessionToken")), "s3", "us-east-1").add_auth(req)
    return full, dict(req.headers.items())


def test_forged_and_tampered_signatures_are_refused(world: World, backend: str) -> None:
    url = world.stores[backend].url
    writer = world.assume("writer")
    key = unique("tamper")
    path = f"/{BUCKET}/{key}.txt"

    # the right key id with the wrong secret
    forged = {**writer, "SecretAccessKey": writer["SecretAccessKey"][:-2] + "xx"}
    full, headers = signed(url, forged, "PUT", path, b"forged")
    r = httpx.put(full, content=b"forged", headers=headers)
    assert r.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in r.text and "<RequestId>" in r.text
    assert r.headers["content-type"] == "application/xml" and r.headers["x-amz-request-id"]
    assert refused(lambda: world.s3(backend, forged).get_object(Bucket=BUCKET, Key=key))["Error"]["Code"] == "SignatureDoesNotMatch"
    # an access key nobody has
    ghost = {"AccessKeyId": "AKIAXXXXXXXXXXXXXXXX", "SecretAccessKey": "x" * 40}
    assert refused(lambda: world.s3(backend, ghost).list_objects_v2(Bucket=BUCKET))["Error"]["Code"] == "InvalidClientTokenId"
    # no signature at all
    r = httpx.get(f"{url}/{BUCKET}/{key}.txt")
    assert r.status_code == 403 and "<Code>MissingAuthenticationToken</Code>" in r.text

    # a good signed request, then the same signature with another body, path or query
    full, headers = signed(url, writer, "PUT", path, b"original")
    assert httpx.put(full, content=b"original", headers=headers).status_code == 200
    r = httpx.put(full, content=b"changed!", headers=headers)  # the signature holds; the body is not the declared one
    assert r.status_code == 400 and "<Code>XAmzContentSHA256Mismatch</Code>" in r.text
    assert "x-amz-content-sha256" in r.text
    changed_hash = {**headers, "X-Amz-Content-SHA256": hashlib.sha256(b"changed!").hexdigest()}
    r = httpx.put(full, content=b"changed!", headers=changed_hash)  # the payload hash swapped: the signature breaks
    assert r.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in r.text
    r = httpx.put(f"{url}/{BUCKET}/{key}-other.txt", content=b"original", headers=headers)
    assert r.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in r.text
    listing, list_headers = signed(url, writer, "GET", f"/{BUCKET}", query=f"list-type=2&prefix={key}")
    assert httpx.get(listing, headers=list_headers).status_code == 200
    r = httpx.get(listing.replace(f"prefix={key}", "prefix="), headers=list_headers)
    assert r.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in r.text
    reader = world.s3(backend, world.assume("reader"))
    assert reader.get_object(Bucket=BUCKET, Key=f"{key}.txt")["Body"].read() == b"original"
    assert refused(lambda: reader.get_object(Bucket=BUCKET, Key=f"{key}-other.txt"))["Error"]["Code"] == "NoSuchKey"
    # SigV4 has no nonce: the identical request may be sent again while it is timely (15 minutes), as on AWS
    assert httpx.put(full, content=b"original", headers=headers).status_code == 200


def test_unsigned_payload_and_presigned_urls(world: World, backend: str) -> None:
    writer, reader = world.assume("writer"), world.assume("reader")
    key = unique("unsigned")
    unsigned = world.s3(backend, writer, payload_signing_enabled=False)
    sent: dict[str, str] = {}
    unsigned.meta.events.register("before-send.s3.PutObject", lambda request, **_: sent.update(request.headers))
    unsigned.put_object(Bucket=BUCKET, Key=key, Body=b"streamed")
    assert sent["X-Amz-Content-SHA256"] == b"UNSIGNED-PAYLOAD"

    ro = world.s3(backend, reader)
    url = ro.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=300)
    assert "X-Amz-Signature=" in url and "X-Amz-Security-Token=" in url
    r = httpx.get(url)
    assert r.status_code == 200 and r.content == b"streamed", r.text
    r = httpx.get(url.replace(key, key + "x"))
    assert r.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in r.text
    put_url = ro.generate_presigned_url("put_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=300)
    r = httpx.put(put_url, content=b"by a reader")
    assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text and "s3:PutObject" in r.text


def test_other_accounts_need_the_bucket_policy(world: World, backend: str) -> None:
    other_account, other_iam = world.other_account()
    outsider = world.user({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"}]}, iam=other_iam)
    writer = world.s3(backend, world.assume("writer"))
    key = unique("shared")
    writer.put_object(Bucket=BUCKET, Key=key, Body=b"for partners")
    theirs = world.s3(backend, outsider)

    # its own identity policy allows s3:GetObject on *, but the bucket is in another account
    err = refused(lambda: theirs.get_object(Bucket=BUCKET, Key=key))
    assert err["Error"]["Code"] == "AccessDenied" and outsider["Arn"] in err["Error"]["Message"]

    def grant(account: str) -> None:
        writer.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "s3:GetObject",
             "Resource": f"arn:aws:s3:::{BUCKET}/*"}]}))

    try:
        grant("444455556666")  # a policy for some other account does not let it in
        assert refused(lambda: theirs.get_object(Bucket=BUCKET, Key=key))["Error"]["Code"] == "AccessDenied"
        grant(other_account)
        assert theirs.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"for partners"
        # the bucket policy grants GetObject only; ListBucket still needs it too
        assert refused(lambda: theirs.list_objects_v2(Bucket=BUCKET))["Error"]["Code"] == "AccessDenied"
        assert json.loads(writer.get_bucket_policy(Bucket=BUCKET)["Policy"])["Statement"][0]["Principal"]["AWS"].endswith(f"{other_account}:root")
        # a malformed bucket policy is refused by the app, in S3's words
        assert refused(lambda: writer.put_bucket_policy(Bucket=BUCKET, Policy='{"Statement": 1}'))["Error"]["Code"] == "MalformedPolicy"
    finally:
        writer.delete_bucket_policy(Bucket=BUCKET)
    assert refused(lambda: theirs.get_object(Bucket=BUCKET, Key=key))["Error"]["Code"] == "AccessDenied"


def raw_get(url: str) -> tuple[int, bytes]:
    """GET ``url`` with its path sent exactly as written (http.client: no dot-segment removal, unlike httpx)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def test_keys_as_s3_has_them(world: World, backend: str) -> None:
    """S3's keys are any UTF-8: empty, "." and ".." segments are keys, signed and routed as sent
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html); boto3 signs them with S3's rules
    (the path encoded once, never normalised), and so does a presigned URL."""
    writer, reader = world.assume("writer"), world.assume("reader")
    rw, ro = world.s3(backend, writer), world.s3(backend, reader)
    prefix = unique("keys")
    keys = [f"{prefix}/a//b", f"{prefix}//lead", f"{prefix}/./x", f"{prefix}/../up", f"{prefix}/a/./b/../c", f"{prefix}/..",
            f"{prefix}/100%", f"{prefix}/%41%2F", f"{prefix}/a b+c", f"{prefix}/é/ü/ሴ/😀", f"{prefix}/q?x#y&z=1", f"{prefix}/trail/"]
    for key in keys:
        assert rw.put_object(Bucket=BUCKET, Key=key, Body=key.encode())["ResponseMetadata"]["HTTPStatusCode"] == 200, key
    for key in keys:
        obj = ro.get_object(Bucket=BUCKET, Key=key)
        assert obj["Body"].read() == key.encode(), key  # each key its own object: nothing collapsed onto another
        assert obj["Metadata"]["uploaded-by"] == writer["Arn"]
        err = refused(lambda key=key: ro.put_object(Bucket=BUCKET, Key=key, Body=b"no"))
        assert err["Error"]["Code"] == "AccessDenied" and f"arn:aws:s3:::{BUCKET}/{key} " in err["Error"]["Message"]
    listed = ro.list_objects_v2(Bucket=BUCKET, Prefix=prefix)["Contents"]
    assert sorted(o["Key"] for o in listed) == sorted(keys)

    # presigned URLs of the same keys, fetched with the path exactly as signed
    for key in keys:
        url = ro.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=300)
        assert raw_get(url) == (200, key.encode()), key
    # a presigned URL's path rewritten to what a normalising signer would have signed: another request
    url = ro.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": f"{prefix}/a//b"}, ExpiresIn=300)
    status, body = raw_get(url.replace(f"{prefix}/a//b", f"{prefix}/a/b"))
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body
    url = ro.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": f"{prefix}/../up"}, ExpiresIn=300)
    status, body = raw_get(url.replace(f"/{prefix}/../up", "/up"))
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body
