"""The two "already imported?" questions give different answers when a file changes back."""

from providers.models import ImportRun
from providers.selectors import import_run_loaded_content, import_run_unchanged_file
from tests.factories import ImportRunFactory, focus_file


def _next_run(tenant, like: ImportRun) -> ImportRun:
    """A new run of the same source and file with ``like``'s bytes (what an importer records
    before asking whether to load)."""
    return ImportRun(
        tenant=tenant,
        source_key=like.source_key,
        file_name=like.file_name,
        file_sha256=like.file_sha256,
    )


def test_a_file_rewritten_x_y_x_was_loaded_before_but_changed_since(world):
    x = ImportRunFactory(
        tenant=world.a, file=focus_file(seed=1), file_name="day.csv", source_key="s"
    )
    y = ImportRunFactory(
        tenant=world.a, file=focus_file(seed=2), file_name="day.csv", source_key="s"
    )
    assert x.status == y.status == ImportRun.Status.SUCCEEDED
    again = _next_run(world.a, like=x)

    # FOCUS meaning: these bytes were loaded for the source once, loading them again is a no-op.
    assert import_run_loaded_content(again) == x
    # Day-file meaning: the latest load of this file had other bytes, so X must load again.
    assert import_run_unchanged_file(again) is None
    assert import_run_unchanged_file(_next_run(world.a, like=y)) == y


def test_neither_counts_other_sources_or_tenants(world):
    x = ImportRunFactory(
        tenant=world.a, file=focus_file(seed=3), file_name="day.csv", source_key="s"
    )
    elsewhere = ImportRun(
        tenant=world.b, source_key="s", file_name="day.csv", file_sha256=x.file_sha256
    )
    other_source = _next_run(world.a, like=x)
    other_source.source_key = "t"

    for run in (elsewhere, other_source):
        assert import_run_loaded_content(run) is None
        assert import_run_unchanged_file(run) is None
