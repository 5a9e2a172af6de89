"""Call the object store with an unmodified boto3 S3 client, with whatever credentials boto3 finds.

    python examples/objectstore/client.py mb BUCKET
    python examples/objectstore/client.py put BUCKET/KEY TEXT
    python examples/objectstore/client.py get BUCKET/KEY
    python examples/objectstore/client.py ls BUCKET [PREFIX]
    python examples/objectstore/client.py rm BUCKET/KEY

The store's URL comes from $OBJECTSTORE_URL (default http://127.0.0.1:9000).
Run it under ``iamroles exec --role ROLE --`` and boto3 picks the role's
credentials up by itself. A refusal prints the S3 error code and message and
exits 3.
"""
from __future__ import annotations

import os
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError


def client() -> object:
    return boto3.client("s3", endpoint_url=os.environ.get("OBJECTSTORE_URL", "http://127.0.0.1:9000"),
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    s3 = client()
    command, where = argv[0], argv[1]
    bucket, _, key = where.partition("/")
    try:
        if command == "mb":
            s3.create_bucket(Bucket=bucket)  # type: ignore[attr-defined]
        elif command == "put":
            s3.put_object(Bucket=bucket, Key=key, Body=argv[2].encode())  # type: ignore[attr-defined]
        elif command == "get":
            obj = s3.get_object(Bucket=bucket, Key=key)  # type: ignore[attr-defined]
            print(obj["Body"].read().decode())
            print(f"(uploaded by {obj['Metadata'].get('uploaded-by')})", file=sys.stderr)
        elif command == "ls":
            out = s3.list_objects_v2(Bucket=bucket, Prefix=argv[2] if len(argv) > 2 else "")  # type: ignore[attr-defined]
            for item in out.get("Contents", []):
                print(item["Key"])
        elif command == "rm":
            s3.delete_object(Bucket=bucket, Key=key)  # type: ignore[attr-defined]
        else:
            print(f"unknown command {command}", file=sys.stderr)
            return 2
    except ClientError as err:
        print(f"{err.response['Error']['Code']}: {err.response['Error'].get('Message', '')}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
