"""The import graph of kernelmodel/ has no cycle across its sub-packages but the ones
docs/ARCHITECTURE.md lists ("Cycles the kernel itself has"), each with its reason.

Every import counts, function-local and TYPE_CHECKING ones too (grimp's graph, the one
lint-imports checks the contracts of pyproject.toml against). An edge from one sub-package to
another that lies on a cycle must match a row of the table; a row that matches no edge is
stale, so the page and the tree stay the same.
"""

from __future__ import annotations

import re
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "ARCHITECTURE.md"
BEGIN = "<!-- allowed cross-package cycle edges: begin -->"
END = "<!-- allowed cross-package cycle edges: end -->"


def _package(module: str) -> str:
    """The sub-package of a kernelmodel module ("" for kernelmodel's own top modules)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 else ""


def _graph() -> dict[str, list[str]]:
    g = grimp.build_graph("kernelmodel", cache_dir=None)
    return {m: sorted(g.find_modules_directly_imported_by(m)) for m in sorted(g.modules)}


def _components(succ: dict[str, list[str]]) -> list[set[str]]:
    """Strongly connected components (Kosaraju, iterative)."""
    order: list[str] = []
    seen: set[str] = set()
    for root in succ:
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(succ[root]))]
        while stack:
            node, it = stack[-1]
            nxt = next((w for w in it if w not in seen), None)
            if nxt is None:
                order.append(node)
                stack.pop()
            else:
                seen.add(nxt)
                stack.append((nxt, iter(succ[nxt])))
    pred: dict[str, list[str]] = {m: [] for m in succ}
    for m, targets in succ.items():
        for t in targets:
            pred[t].append(m)
    comps: list[set[str]] = []
    assigned: set[str] = set()
    for root in reversed(order):
        if root in assigned:
            continue
        comp = {root}
        assigned.add(root)
        todo = [root]
        while todo:
            for w in pred[todo.pop()]:
                if w not in assigned:
                    assigned.add(w)
                    comp.add(w)
                    todo.append(w)
        comps.append(comp)
    return comps


def cyclic_cross_edges() -> set[tuple[str, str]]:
    """(importer, imported) pairs in different sub-packages that lie on an import cycle."""
    succ = _graph()
    edges: set[tuple[str, str]] = set()
    for comp in _components(succ):
        for a in comp:
            for b in succ[a]:
                if b in comp and _package(a) != _package(b):
                    edges.add((a, b))
    return edges


def allowed_rules() -> list[tuple[list[str], list[str], str]]:
    """The table's rows: (importing sub-packages, imported modules or ``pkg.*``, reason)."""
    text = DOC.read_text()
    assert BEGIN in text and END in text, f"{DOC.name}: the allowed-edges table is missing"
    rows = []
    for line in text.split(BEGIN, 1)[1].split(END, 1)[0].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        names = [re.findall(r"`([^`]+)`", c) for c in cells[:2]]
        rows.append((names[0], names[1], cells[2]))
    return rows


def _matches(rule: tuple[list[str], list[str], str], edge: tuple[str, str]) -> bool:
    sources, targets, _why = rule
    a, b = edge
    target = b.split(".", 1)[1]
    return _package(a) in sources and any(
        target == t or (t.endswith(".*") and target.startswith(t[:-1])) for t in targets
    )


def test_every_cross_package_cycle_edge_is_listed_with_its_reason() -> None:
    rules = allowed_rules()
    assert rules, "no rows in the allowed-edges table"
    unlisted = sorted(f"{a} -> {b}" for a, b in cyclic_cross_edges()
                      if not any(_matches(r, (a, b)) for r in rules))
    assert unlisted == [], (
        "new import cycle across kernelmodel's sub-packages (break it, or list the edge with "
        f"its reason in docs/ARCHITECTURE.md): {unlisted}")


def test_every_listed_edge_exists() -> None:
    edges = cyclic_cross_edges()
    stale = [f"{r[0]} -> {r[1]}" for r in allowed_rules()
             if not any(_matches(r, e) for e in edges)]
    assert stale == [], f"docs/ARCHITECTURE.md lists cycle edges the tree no longer has: {stale}"


def test_the_checkers_oracles_and_state_are_on_no_cycle_with_kernel_code() -> None:
    kernel_tree = {"init", "kernel", "mm", "fs", "lib", "include"}
    crossing = sorted(f"{a} -> {b}" for a, b in cyclic_cross_edges()
                      if (_package(a) in kernel_tree) != (_package(b) in kernel_tree))
    assert crossing == []
