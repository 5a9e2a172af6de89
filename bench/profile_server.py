"""Where a request's time goes, in process (no HTTP): cProfile over the Query handler (server.query.handle).

    python bench/profile_server.py [getrole|gci|gci-temp|assume] [-n 3000] [--sort tottime]

Builds a service on a temporary SQLite store, a role and a user allowed to
read it, signs one request with botocore and replays it ``n`` times.
"""
from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from iamroles.auth import sigv4
from iamroles.server import Settings, build
from iamroles.server.query import handle

ROOT = ("AKIAEXAMPLEROOT00001", "root-secret-for-profiling-only-000000000")


def signed(params: dict[str, str], service: str, key: str, secret: str, token: str | None = None) -> tuple[sigv4.HttpRequest, dict[str, str]]:
    body = urlencode(params)
    req = AWSRequest("POST", "http://127.0.0.1:4566/", data=body, headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(Credentials(key, secret, token), service, "us-east-1").add_auth(req)
    headers = {k.lower(): v for k, v in req.headers.items()}
    headers["host"] = "127.0.0.1:4566"
    return sigv4.HttpRequest("POST", "/", "", headers, body.encode()), dict(parse_qsl(body))


def call(service, params, svc, key, secret, token=None):  # type: ignore[no-untyped-def]
    http, p = signed(params, svc, key, secret, token)
    status, body = handle(service, http, p, "127.0.0.1", False)
    assert status == 200, body
    return body.decode()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("op", nargs="?", default="getrole", choices=["getrole", "gci", "gci-temp", "assume"])
    ap.add_argument("-n", type=int, default=3000)
    ap.add_argument("--sort", default="tottime")
    ap.add_argument("--no-profile", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    service, _ = build(Settings(tmp, root_access_key=ROOT[0], root_secret_key=ROOT[1]))
    account = call(service, {"Action": "GetCallerIdentity", "Version": "2011-06-15"}, "sts", *ROOT).split("<Account>")[1][:12]
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}]}
    call(service, {"Action": "CreateRole", "Version": "2010-05-08", "RoleName": "bench", "AssumeRolePolicyDocument": json.dumps(trust)}, "iam", *ROOT)
    call(service, {"Action": "CreateUser", "Version": "2010-05-08", "UserName": "bench"}, "iam", *ROOT)
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["iam:GetRole", "sts:AssumeRole"], "Resource": "*"}]}
    call(service, {"Action": "PutUserPolicy", "Version": "2010-05-08", "UserName": "bench", "PolicyName": "p", "PolicyDocument": json.dumps(policy)}, "iam", *ROOT)
    out = call(service, {"Action": "CreateAccessKey", "Version": "2010-05-08", "UserName": "bench"}, "iam", *ROOT)
    key = out.split("<AccessKeyId>")[1].split("<")[0], out.split("<SecretAccessKey>")[1].split("<")[0]
    role_arn = f"arn:aws:iam::{account}:role/bench"
    assume = {"Action": "AssumeRole", "Version": "2011-06-15", "RoleArn": role_arn, "RoleSessionName": "bench"}
    out = call(service, assume, "sts", *key)
    temp = (out.split("<AccessKeyId>")[1].split("<")[0], out.split("<SecretAccessKey>")[1].split("<")[0], out.split("<SessionToken>")[1].split("<")[0])
    http, p = {
        "getrole": lambda: signed({"Action": "GetRole", "Version": "2010-05-08", "RoleName": "bench"}, "iam", *key),
        "gci": lambda: signed({"Action": "GetCallerIdentity", "Version": "2011-06-15"}, "sts", *key),
        "gci-temp": lambda: signed({"Action": "GetCallerIdentity", "Version": "2011-06-15"}, "sts", *temp),
        "assume": lambda: signed(assume, "sts", *key),
    }[args.op]()
    for _ in range(200):
        handle(service, http, p, "127.0.0.1", False)
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    if not args.no_profile:
        prof.enable()
    for _ in range(args.n):
        status, body = handle(service, http, p, "127.0.0.1", False)
    if not args.no_profile:
        prof.disable()
    dt = time.perf_counter() - t0
    assert status == 200, body
    print(f"{args.op}: {args.n / dt:.0f} requests/s in process ({1e6 * dt / args.n:.0f} us each){'' if args.no_profile else ' under the profiler'}")
    if not args.no_profile:
        pstats.Stats(prof).sort_stats(args.sort).print_stats(30)
    if service.audit is not None:
        service.audit.close()
    if service.usage is not None:
        service.usage.close()


if __name__ == "__main__":
    main()
