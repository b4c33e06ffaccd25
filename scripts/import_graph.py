#!/usr/bin/env python3
"""Import graph between InfraZen's apps, read from the source with ``ast`` (nothing is imported).

    python3 scripts/import_graph.py            # app -> app edges with counts; violations last

Every import counts: module-level, inside functions (lazy imports), ``importlib.import_module``
and ``__import__`` calls with a literal name. The rule (DESIGN.md §2): ``core`` imports no
feature app (providers, allocation, optimization); the exit status is 1 when it does.
Migrations are left out: they name other apps' migrations by design.
"""

from __future__ import annotations

import ast
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("core", "providers", "allocation", "optimization", "infrazen")
FEATURE_APPS = frozenset({"providers", "allocation", "optimization"})


def imported_modules(tree: ast.AST) -> list[tuple[str, int]]:
    """(module name, line) for every import in ``tree``, wherever it stands."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, node.lineno))
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            literal = node.args[0] if node.args else None
            if (
                name in ("import_module", "__import__")
                and isinstance(literal, ast.Constant)
                and isinstance(literal.value, str)
            ):
                found.append((literal.value, node.lineno))
    return found


def app_edges(root: Path = ROOT) -> list[tuple[str, str, str]]:
    """(importing app, imported app, "path:line") for every import between two apps."""
    edges = []
    for app in APPS:
        for path in sorted((root / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for module, line in imported_modules(tree):
                target = module.split(".")[0]
                if target in APPS and target != app:
                    edges.append((app, target, f"{path.relative_to(root)}:{line}"))
    return edges


def violations(edges) -> list[tuple[str, str, str]]:
    return [edge for edge in edges if edge[0] == "core" and edge[1] in FEATURE_APPS]


def main() -> int:
    edges = app_edges()
    for (source, target), count in sorted(Counter((s, t) for s, t, _ in edges).items()):
        print(f"{source:>12} -> {target:<12} {count:4d} import(s)")
    bad = violations(edges)
    for source, target, where in bad:
        print(f"VIOLATION {source} -> {target} at {where}")
    print(f"core -> feature apps: {len(bad)} import(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
