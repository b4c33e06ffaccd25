"""Provider benchmarks (``manage.py bench sync``)."""
