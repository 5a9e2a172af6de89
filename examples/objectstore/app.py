"""A small S3-like object store whose every request is SigV4-verified and decided by IAM policy.

Buckets and objects live in memory. Paths are S3's path style (``/bucket/key``),
answers are S3's XML, so an unmodified ``boto3.client("s3", endpoint_url=...)``
talks to it. Actions and resources are S3's: s3:GetObject, s3:PutObject,
s3:DeleteObject on ``arn:aws:s3:::bucket/key``; s3:ListBucket, s3:CreateBucket,
s3:DeleteBucket and s3:Get/Put/DeleteBucketPolicy on ``arn:aws:s3:::bucket``;
s3:ListAllMyBuckets on ``*``. A bucket policy (``put_bucket_policy``) takes part
in every decision on its bucket, which is how principals of other accounts get
in, as on S3.

    python examples/objectstore/app.py --data-dir ~/.iamroles          # decide in process, on the server's store
    python examples/objectstore/app.py --endpoint-url http://127.0.0.1:4566   # or through iamroles' authorisation API

See README.md beside this file.
"""
from __future__ import annotations

import argparse
import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime
from typing import Any
from xml.sax.saxutils import escape

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from iamroles.middleware import (
    PUBLIC,
    Backend,
    IamAuthMiddleware,
    LocalAuthorizer,
    RemoteAuthorizer,
    RequestInfo,
    Target,
    identity_of,
)
from iamroles.policy import PolicyError, PolicyKind, parse_policy

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"


@dataclass
class Object:
    data: bytes
    etag: str
    modified: datetime
    content_type: str
    uploaded_by: str


@dataclass
class Bucket:
    created: datetime
    objects: dict[str, Object] = field(default_factory=dict)
    policy: str | None = None


# --- what each request means to IAM --------------------------------------------------------------------


def s3_target(request: RequestInfo) -> Any:
    """S3's actions and resources for a path-style request; None (refused) for anything else."""
    if request.path == "/_health":
        return PUBLIC
    bucket, _, key = request.path.lstrip("/").partition("/")
    method = "GET" if request.method == "HEAD" else request.method
    if not bucket:
        return Target("s3:ListAllMyBuckets", "*") if method == "GET" else None
    bucket_arn = f"arn:aws:s3:::{bucket}"
    query = request.query
    if not key:
        if "policy" in query:
            action = {"GET": "s3:GetBucketPolicy", "PUT": "s3:PutBucketPolicy", "DELETE": "s3:DeleteBucketPolicy"}.get(method)
            return Target(action, bucket_arn) if action else None
        if method == "GET":
            context = {f"s3:{name}": query[name][0] for name in ("prefix", "delimiter", "max-keys") if name in query}
            return Target("s3:ListBucket", bucket_arn, context)
        action = {"PUT": "s3:CreateBucket", "DELETE": "s3:DeleteBucket"}.get(method)
        return Target(action, bucket_arn) if action else None
    if "x-amz-copy-source" in request.headers or any(not _plain_parameter(name) for name in query):
        return None  # copies, ACLs, tagging, multipart uploads: not in this example
    action = {"GET": "s3:GetObject", "PUT": "s3:PutObject", "DELETE": "s3:DeleteObject"}.get(method)
    return Target(action, f"{bucket_arn}/{key}") if action else None


def _plain_parameter(name: str) -> bool:
    """Query parameters that do not make an object request another operation: a presigned URL's, response-*."""
    lower = name.lower()
    return lower.startswith(("x-amz-", "response-")) or lower == "x-id"


# --- the store ---------------------------------------------------------------------------------------


def _xml(body: str, status: int = 200) -> Response:
    return Response('<?xml version="1.0" encoding="UTF-8"?>\n' + body, status_code=status, media_type="application/xml")


def _error(status: int, code: str, message: str, resource: str = "") -> Response:
    return _xml(f"<Error><Code>{code}</Code><Message>{escape(message)}</Message><Resource>{escape(resource)}</Resource></Error>", status)


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def create_app(authorizer: Backend) -> IamAuthMiddleware:
    buckets: dict[str, Bucket] = {}

    def bucket_policy(request: RequestInfo, target: Target) -> str | None:
        """The resource policy of the bucket a request is about (S3's bucket policy)."""
        if not target.resource.startswith("arn:aws:s3:::"):
            return None
        found = buckets.get(target.resource[13:].split("/", 1)[0])
        return found.policy if found is not None else None

    async def list_buckets(request: Request) -> Response:
        me = identity_of(request)
        assert me is not None
        items = "".join(f"<Bucket><Name>{escape(name)}</Name><CreationDate>{_iso(b.created)}</CreationDate></Bucket>"
                        for name, b in sorted(buckets.items()))
        return _xml(f'<ListAllMyBucketsResult xmlns="{S3_NS}"><Owner><ID>{me.account}</ID></Owner>'
                    f"<Buckets>{items}</Buckets></ListAllMyBucketsResult>")

    async def bucket_op(request: Request) -> Response:
        name = request.path_params["bucket"]
        bucket = buckets.get(name)
        method = request.method
        if "policy" in request.query_params:
            if bucket is None:
                return _error(404, "NoSuchBucket", "The specified bucket does not exist", name)
            if method == "PUT":
                text = (await request.body()).decode("utf-8", "replace")
                try:
                    parse_policy(text, PolicyKind.RESOURCE)
                except PolicyError as exc:
                    return _error(400, "MalformedPolicy", str(exc), name)
                bucket.policy = text
                return Response(status_code=204)
            if method == "DELETE":
                bucket.policy = None
                return Response(status_code=204)
            if bucket.policy is None:
                return _error(404, "NoSuchBucketPolicy", "The bucket policy does not exist", name)
            return Response(bucket.policy, media_type="application/json")
        if method == "PUT":
            if bucket is not None:
                return _error(409, "BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it.", name)
            buckets[name] = Bucket(datetime.now(timezone.utc))
            return Response(status_code=200, headers={"Location": f"/{name}"})
        if bucket is None:
            return _error(404, "NoSuchBucket", "The specified bucket does not exist", name)
        if method == "DELETE":
            if bucket.objects:
                return _error(409, "BucketNotEmpty", "The bucket you tried to delete is not empty", name)
            del buckets[name]
            return Response(status_code=204)
        if method == "HEAD":
            return Response(status_code=200)
        # ListObjectsV2 (and V1, same answer but for the continuation fields)
        prefix = request.query_params.get("prefix", "")
        delimiter = request.query_params.get("delimiter", "")
        max_keys = int(request.query_params.get("max-keys", "1000"))
        contents, prefixes = [], set()
        for key in sorted(bucket.objects):
            if not key.startswith(prefix):
                continue
            if delimiter and delimiter in key[len(prefix):]:
                prefixes.add(key[: len(prefix) + key[len(prefix):].index(delimiter) + len(delimiter)])
                continue
            contents.append(key)
        contents = contents[:max_keys]
        items = "".join(
            f"<Contents><Key>{escape(k)}</Key><LastModified>{_iso(bucket.objects[k].modified)}</LastModified>"
            f"<ETag>&quot;{bucket.objects[k].etag}&quot;</ETag><Size>{len(bucket.objects[k].data)}</Size>"
            f"<StorageClass>STANDARD</StorageClass></Contents>" for k in contents)
        common = "".join(f"<CommonPrefixes><Prefix>{escape(p)}</Prefix></CommonPrefixes>" for p in sorted(prefixes))
        return _xml(f'<ListBucketResult xmlns="{S3_NS}"><Name>{escape(name)}</Name><Prefix>{escape(prefix)}</Prefix>'
                    f"<KeyCount>{len(contents) + len(prefixes)}</KeyCount><MaxKeys>{max_keys}</MaxKeys>"
                    f"{f'<Delimiter>{escape(delimiter)}</Delimiter>' if delimiter else ''}"
                    f"<IsTruncated>false</IsTruncated>{items}{common}</ListBucketResult>")

    async def object_op(request: Request) -> Response:
        name, key = request.path_params["bucket"], request.path_params["key"]
        bucket = buckets.get(name)
        if bucket is None:
            return _error(404, "NoSuchBucket", "The specified bucket does not exist", name)
        method = request.method
        if method == "PUT":
            me = identity_of(request)
            assert me is not None
            data = await request.body()
            etag = hashlib.md5(data, usedforsecurity=False).hexdigest()
            bucket.objects[key] = Object(data, etag, datetime.now(timezone.utc),
                                         request.headers.get("content-type", "binary/octet-stream"), me.arn)
            return Response(status_code=200, headers={"ETag": f'"{etag}"'})
        obj = bucket.objects.get(key)
        if method == "DELETE":
            bucket.objects.pop(key, None)
            return Response(status_code=204)
        if obj is None:
            return _error(404, "NoSuchKey", "The specified key does not exist.", f"/{name}/{key}")
        headers = {"ETag": f'"{obj.etag}"', "Last-Modified": format_datetime(obj.modified, usegmt=True),
                   "x-amz-meta-uploaded-by": obj.uploaded_by}
        if method == "HEAD":
            return Response(status_code=200, headers={**headers, "Content-Length": str(len(obj.data))}, media_type=obj.content_type)
        return Response(obj.data, headers=headers, media_type=obj.content_type)

    async def health(request: Request) -> Response:
        return Response("ok", media_type="text/plain")

    app = Starlette(routes=[
        Route("/_health", health, methods=["GET"]),
        Route("/", list_buckets, methods=["GET"]),
        Route("/{bucket}", bucket_op, methods=["GET", "HEAD", "PUT", "DELETE"]),
        Route("/{bucket}/", bucket_op, methods=["GET", "HEAD", "PUT", "DELETE"]),
        Route("/{bucket}/{key:path}", object_op, methods=["GET", "HEAD", "PUT", "DELETE"]),
    ])
    # S3 accepts UNSIGNED-PAYLOAD (the SDKs send it over HTTPS); the signature still covers everything else
    return IamAuthMiddleware(app, authorizer=authorizer, mapping=s3_target, resource_policy=bucket_policy,
                             services=["s3"], allow_unsigned_payload=True)


def main() -> None:
    import uvicorn

    ap = argparse.ArgumentParser(description="An S3-like object store behind IAM roles.")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=9000)
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--data-dir", help="decide in process, on this `iamroles serve` data directory (its store and master key)")
    where.add_argument("--endpoint-url", help="decide through this iamroles endpoint's authorisation API (credentials: "
                                               "botocore's default chain, allowed iamroles:AuthorizeRequest)")
    ap.add_argument("--db", help="with --data-dir: the server's database URL, if not SQLite in the data directory")
    ap.add_argument("--account", help="the account owning the buckets [default: the server's first account, or the credentials']")
    args = ap.parse_args()
    authorizer: Backend
    if args.data_dir:
        authorizer = LocalAuthorizer.open(args.data_dir, args.db, account=args.account)
    else:
        authorizer = RemoteAuthorizer(args.endpoint_url, account=args.account)
    # proxy_headers=False: aws:SourceIp is the peer, not an X-Forwarded-For any local client could write
    uvicorn.run(create_app(authorizer), host=args.host, port=args.port, log_level="warning", proxy_headers=False)


if __name__ == "__main__":
    main()
