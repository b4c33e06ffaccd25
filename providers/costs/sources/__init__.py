"""Cost sources: where billing files come from (an S3-compatible bucket) and how they map to FOCUS.

- ``sigv4``: AWS Signature Version 4 for S3-compatible storage (Yandex Object Storage, AWS, ...);
- ``s3``: list objects and stream them to disk, with our HTTP retries and timeouts;
- ``yandex_export``: Yandex Cloud detailed billing export CSV -> FOCUS text rows;
- ``endpoints``: which storage endpoints a customer may point a source at.

The services that use them: ``providers.services.cost_sources`` (settings),
``cost_source_pulls`` (pulls), ``yandex_imports`` (one Yandex day file) and ``import_runs``.
"""
