"""``manage.py bench`` measures in its own scratch database, never in the test database."""

from core.management.commands.bench import scratch_name


def test_scratch_database_is_neither_the_real_nor_the_test_database():
    name = scratch_name("iz_main", "allocate")
    assert name == "iz_main_bench_allocate"
    assert name not in ("iz_main", "test_iz_main")
    assert len(scratch_name("x" * 80, "allocate")) == 63  # PostgreSQL's limit on names
