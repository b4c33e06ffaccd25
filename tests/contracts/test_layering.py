"""Arrows point one way: feature apps import core, core imports no feature app (DESIGN.md §2).

The graph comes from ``scripts/import_graph.py``, which reads every import with ``ast``: lazy
imports inside functions and ``import_module("…")`` calls count as much as module-level ones.
"""

import ast
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _graph():
    spec = importlib.util.spec_from_file_location("import_graph", ROOT / "scripts/import_graph.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_core_imports_no_feature_app():
    graph = _graph()
    edges = graph.app_edges(ROOT)
    # Guards the guard: a scan that found nothing at all would pass vacuously.
    assert any(source == "providers" and target == "core" for source, target, _ in edges)
    assert graph.violations(edges) == []


def test_the_scan_sees_lazy_and_dynamic_imports():
    source = (
        "def f():\n"
        "    from providers.models import Connection\n"
        "    import_module('allocation.portal.urls')\n"
        "    import optimization.models\n"
    )
    modules = {name for name, _ in _graph().imported_modules(ast.parse(source))}
    assert modules == {"providers.models", "allocation.portal.urls", "optimization.models"}
