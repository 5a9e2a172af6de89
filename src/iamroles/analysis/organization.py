"""An organization's tree as the store holds it (``iamroles org``): the root, its OUs and accounts, and the policies
attached at each level, as text for people, a dict for JSON, Graphviz's DOT language, or a plain SVG.

Read only: one read transaction, no migration; it sees what the server committed.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from iamroles.store import Store, Tx

__all__ = ["OrgNode", "OrgPolicy", "OrgTree", "load_trees", "to_dot", "to_svg", "to_text"]

# how a policy type is named beside a node
_SHORT = {"SERVICE_CONTROL_POLICY": "SCP", "RESOURCE_CONTROL_POLICY": "RCP"}


@dataclass(frozen=True, slots=True)
class OrgPolicy:
    id: str
    name: str
    type: str
    aws_managed: bool

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "type": self.type, "aws_managed": self.aws_managed}


@dataclass(frozen=True, slots=True)
class OrgNode:
    """The root (ROOT), an OU (ORGANIZATIONAL_UNIT) or an account (ACCOUNT), with what is attached to it."""

    id: str
    kind: str
    name: str
    policies: tuple[OrgPolicy, ...] = ()
    children: tuple[OrgNode, ...] = ()
    management: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "type": self.kind, "name": self.name,
                               "policies": [p.to_dict() for p in self.policies]}
        if self.kind == "ACCOUNT":
            out["management_account"] = self.management
        else:
            out["children"] = [c.to_dict() for c in self.children]
        return out


@dataclass(frozen=True, slots=True)
class OrgTree:
    org_id: str
    management_account_id: str
    feature_set: str
    policy_types: tuple[str, ...]
    root: OrgNode
    policies: tuple[OrgPolicy, ...] = field(default=())  # every policy of the organization, attached or not

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.org_id, "management_account_id": self.management_account_id, "feature_set": self.feature_set,
                "policy_types": list(self.policy_types), "root": self.root.to_dict(),
                "policies": [p.to_dict() for p in self.policies]}


def load_trees(store: Store, only: str | None = None) -> list[OrgTree]:
    """Every organization in the store (``only``: the one with that id, or whose management account that is)."""
    with store.read() as tx:
        return [_tree(tx, org) for org in tx.organizations() if only is None or only in (org["org_id"], org["management_account_id"])]


def _tree(tx: Tx, org: dict[str, Any]) -> OrgTree:
    oid = org["org_id"]
    policies = {p["policy_id"]: OrgPolicy(p["policy_id"], p["name"], p["type"], bool(p["aws_managed"]))
                for p in tx.org_policies(oid)}
    attached: dict[str, list[OrgPolicy]] = {}
    for pid, target in tx.org_attachments(oid):
        if pid in policies:
            attached.setdefault(target, []).append(policies[pid])
    units: dict[str, list[dict[str, Any]]] = {}
    for u in tx.org_units(oid):
        units.setdefault(u["parent_id"], []).append(u)
    accounts: dict[str, list[dict[str, Any]]] = {}
    for a in tx.org_accounts(oid):
        accounts.setdefault(a["parent_id"], []).append(a)

    def node(node_id: str, kind: str, name: str, depth: int, management: bool = False) -> OrgNode:
        mine = tuple(sorted(attached.get(node_id, ()), key=lambda p: (p.type, p.name)))
        if kind == "ACCOUNT":
            return OrgNode(node_id, kind, name, mine, (), management)
        kids: list[OrgNode] = []
        if depth < 8:  # (OUs nest five deep at most; a damaged store cannot loop)
            kids += [node(u["ou_id"], "ORGANIZATIONAL_UNIT", u["name"], depth + 1)
                     for u in sorted(units.get(node_id, ()), key=lambda u: (u["name"], u["ou_id"]))]
        kids += [node(a["account_id"], "ACCOUNT", a.get("name") or a["account_id"], depth + 1,
                      a["account_id"] == org["management_account_id"])
                 for a in sorted(accounts.get(node_id, ()), key=lambda a: a["account_id"])]
        return OrgNode(node_id, kind, name, mine, tuple(kids))

    return OrgTree(oid, org["management_account_id"], org["feature_set"], tuple(sorted(tx.org_policy_types(oid))),
                   node(org["root_id"], "ROOT", "Root", 0),
                   tuple(sorted(policies.values(), key=lambda p: (p.type, p.name))))


def _policy_note(policies: Sequence[OrgPolicy]) -> str:
    by_type: dict[str, list[str]] = {}
    for p in policies:
        by_type.setdefault(_SHORT.get(p.type, p.type), []).append(p.name)
    return "; ".join(f"{t}: {', '.join(names)}" for t, names in by_type.items())


def _label(n: OrgNode) -> str:
    if n.kind == "ROOT":
        return f"Root {n.id}"
    if n.kind == "ORGANIZATIONAL_UNIT":
        return f"OU {n.name} ({n.id})"
    name = f' "{n.name}"' if n.name != n.id else ""
    return f"account {n.id}{name}" + (" (management)" if n.management else "")


def to_text(tree: OrgTree) -> list[str]:
    """The tree drawn with box characters, each node with its policies in brackets."""
    types = ", ".join(tree.policy_types) or "no policy type"
    lines = [f"organization {tree.org_id} (management account {tree.management_account_id}; enabled: {types})"]

    def walk(n: OrgNode, prefix: str, last: bool, top: bool) -> None:
        note = _policy_note(n.policies)
        text = _label(n) + (f"  [{note}]" if note else "")
        lines.append(text if top else f"{prefix}{'└── ' if last else '├── '}{text}")
        inner = "" if top else prefix + ("    " if last else "│   ")
        for i, c in enumerate(n.children):
            walk(c, inner, i == len(n.children) - 1, False)

    walk(tree.root, "", True, True)
    return lines


def _q(text: str) -> str:
    """A DOT string: quoted, its line breaks written as DOT's ``\\n``."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


_DOT_SHAPES = {"ROOT": "doubleoctagon", "ORGANIZATIONAL_UNIT": "folder", "ACCOUNT": "box"}


def to_dot(trees: Sequence[OrgTree]) -> str:
    """The trees in Graphviz's language: one cluster per organization, parent -> child, each node labelled with
    its policies."""
    lines = ["digraph organizations {", "  rankdir=TB;", '  node [fontname="Helvetica", fontsize=10];']
    for tree in trees:
        lines.append(f"  subgraph {_q('cluster_' + tree.org_id)} {{ label={_q('organization ' + tree.org_id)};")

        def walk(n: OrgNode) -> None:
            note = _policy_note(n.policies)
            label = _label(n) + (f"\n{note}" if note else "")
            style = ", style=bold" if n.management else ""
            lines.append(f"    {_q(n.id)} [label={_q(label)}, shape={_DOT_SHAPES[n.kind]}{style}];")
            for c in n.children:
                walk(c)
                lines.append(f"    {_q(n.id)} -> {_q(c.id)};")

        walk(tree.root)
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_svg(trees: Sequence[OrgTree]) -> str:
    """The trees as a plain SVG (no Graphviz needed): an indented tree, one row per node, an elbow from each parent
    to its children, the policies beside each node."""
    row, top, indent, left = 24, 34, 28, 20
    colours = {"ROOT": "#7f7f7f", "ORGANIZATIONAL_UNIT": "#1f77b4", "ACCOUNT": "#2ca02c"}
    rows: list[tuple[int, OrgNode]] = []
    heads: list[tuple[int, OrgTree]] = []
    links: list[tuple[int, int, int]] = []  # (depth of the parent, parent's row, child's row)

    def walk(n: OrgNode, depth: int) -> int:
        mine = len(rows)
        rows.append((depth, n))
        for c in n.children:
            links.append((depth, mine, walk(c, depth + 1)))
        return mine

    for tree in trees:
        heads.append((len(rows), tree))
        rows.append((-1, tree.root))  # the organization's heading takes a row
        walk(tree.root, 0)
    width = 980
    height = top + row * max(len(rows), 1) + 10
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="Helvetica, Arial, '
           'sans-serif" font-size="12">']
    for i, tree in heads:
        out.append(f'<text x="{left}" y="{top + row * i}" font-weight="bold">organization {escape(tree.org_id)} '
                   f'(management account {escape(tree.management_account_id)})</text>')
    for depth, parent, child in links:
        x = left + indent * depth + 6
        y1, y2 = top + row * parent + 4, top + row * child - 4
        out.append(f'<path d="M{x},{y1} V{y2} H{x + indent - 8}" fill="none" stroke="#999"/>')
    for i, (depth, n) in enumerate(rows):
        if depth < 0:
            continue
        x, y = left + indent * depth, top + row * i
        note = _policy_note(n.policies)
        weight = ' font-weight="bold"' if n.management else ""
        out.append(f'<text x="{x}" y="{y}" fill="{colours[n.kind]}"{weight}>{escape(_label(n))}'
                   + (f'<tspan fill="#a33" font-size="10" dx="12">{escape(note)}</tspan>' if note else "")
                   + "</text>")
    out.append("</svg>")
    return "\n".join(out) + "\n"
