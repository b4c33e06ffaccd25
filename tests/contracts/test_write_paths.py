"""Writes happen in services (DESIGN.md §4), checked from the source with ``ast``.

Services are found wherever they are defined (``discovery.service_functions``) and must live in
``<app>/services/``; this module checks the other direction, so that no write escapes the audit
contract by not looking like a service:

1. An audit event is recorded only by services (an event recorded elsewhere means a write made
   elsewhere), apart from the listed modules whose events describe no data change.
2. The surfaces (admin, API, portal, commands, tasks, webhooks, forms, filtersets, template tags)
   make no ORM write at all: they call services.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ("core", "providers", "allocation", "optimization")

# Modules that record audit events outside services, and why that is not a data write.
EVENTS_OUTSIDE_SERVICES = {
    "core/audit.py": "defines record_event",
    "core/auth_events.py": "login, logout and failed-login signals: events about a session",
    "core/tasks.py": "the audit chain verifier's alarm when a chain is broken",
}
# Surface modules allowed an ORM write, and why.
SURFACE_WRITES = {
    "core/management/commands/seed_demo.py": "creates the demo user accounts before any tenant "
    "exists (memberships and tenant data go through services)",
}
SURFACE_DIRS = frozenset({"admin", "api", "portal", "commands", "templatetags"})
SURFACE_FILES = frozenset(
    {"admin.py", "tasks.py", "webhooks.py", "forms.py", "filtersets.py", "views.py"}
)
# Methods that always write, and those that write when called on a manager or queryset.
ALWAYS_WRITES = frozenset(
    {"save", "bulk_create", "bulk_update", "update_or_create", "get_or_create"}
)
QUERYSET_WRITES = frozenset({"create", "update", "delete"})
QUERYSET_MARKERS = frozenset({"objects", "filter", "exclude", "select_for_update", "all"})
# ModelAdmin/ModelForm methods whose Django defaults write the object themselves.
DEFAULT_WRITERS = frozenset({"save_model", "delete_model", "save_related", "save_formset"})
NOT_MODELS = frozenset({"cache", "session", "request"})


def _modules() -> list[Path]:
    return [
        path
        for app in APPS
        for path in sorted((ROOT / app).rglob("*.py"))
        if "migrations" not in path.parts
    ]


def _receiver_chain(node) -> list[str]:
    names = []
    while True:
        if isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Attribute):
            names.append(node.attr)
            node = node.value
        else:
            if isinstance(node, ast.Name):
                names.append(node.id)
            return names


def write_calls(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, what) for every ORM write or audit event in ``tree``."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id == "record_event":
            found.append((node.lineno, "record_event"))
            continue
        if not isinstance(func, ast.Attribute):
            continue
        receiver = _receiver_chain(func.value)
        if (func.attr in ALWAYS_WRITES and not NOT_MODELS & set(receiver[-1:])) or (
            func.attr in QUERYSET_WRITES and QUERYSET_MARKERS & set(receiver)
        ):
            found.append((node.lineno, func.attr))
        elif func.attr in DEFAULT_WRITERS and receiver[-1:] == ["super"]:
            found.append((node.lineno, f"super().{func.attr}"))
    return found


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _is_service(path: Path) -> bool:
    return "services" in path.relative_to(ROOT).parts


def _is_surface(path: Path) -> bool:
    parts = path.relative_to(ROOT).parts
    return bool(SURFACE_DIRS & set(parts[:-1])) or parts[-1] in SURFACE_FILES


MODULES = _modules()


def test_the_scan_reads_the_project_and_finds_writes():
    # Guards the guards: a scan that read nothing, or recognised no write, would pass vacuously.
    assert len(MODULES) > 100
    services = ROOT / "providers/services/connections.py"
    kinds = {what for _, what in write_calls(ast.parse(services.read_text()))}
    assert {"record_event", "save", "delete"} <= kinds
    sample = "class A(Admin):\n    def save_model(self, *a):\n        super().save_model(*a)\n"
    assert write_calls(ast.parse(sample)) == [(3, "super().save_model")]
    assert write_calls(ast.parse("cache.delete('k')\nobj.items.update(x)\n")) == []


def _events(path: Path) -> list[int]:
    return [
        line for line, what in write_calls(ast.parse(path.read_text())) if what == "record_event"
    ]


NOT_SERVICES = [
    path
    for path in MODULES
    if not _is_service(path) and _relative(path) not in EVENTS_OUTSIDE_SERVICES
]
SURFACES = [path for path in MODULES if _is_surface(path)]


def test_every_listed_exception_still_applies():
    for name in EVENTS_OUTSIDE_SERVICES:
        assert name == "core/audit.py" or _events(ROOT / name), name
    assert len(SURFACES) > 20


@pytest.mark.parametrize("path", NOT_SERVICES, ids=_relative)
def test_audit_events_are_recorded_by_services(path):
    events = _events(path)
    assert events == [], f"{_relative(path)} records audit events (lines {events}): use a service"


@pytest.mark.parametrize("path", SURFACES, ids=_relative)
def test_surfaces_write_only_through_services(path):
    writes = write_calls(ast.parse(path.read_text()))
    if _relative(path) in EVENTS_OUTSIDE_SERVICES:
        writes = [(line, what) for line, what in writes if what != "record_event"]
    if _relative(path) in SURFACE_WRITES:
        assert writes, f"{_relative(path)} no longer writes: drop it from SURFACE_WRITES"
        return
    assert writes == [], f"{_relative(path)} writes directly: {writes}; call a service"
