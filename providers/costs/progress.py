"""Progress of a long import, written on a side connection.

The load runs in one transaction (that is what makes it atomic), so progress written through the
main connection would stay invisible until the end. A separate autocommit connection, used at
most once a second, lets the admin and API show rows loaded while the import runs.
"""

from __future__ import annotations

import json
import time

import psycopg
from django.db import connection


class ProgressWriter:
    def __init__(self, table: str, row_id: int, *, every_s: float = 1.0) -> None:
        self.table, self.row_id, self.every_s = table, row_id, every_s
        self._conn = None
        self._last = 0.0

    def __call__(self, payload: dict, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.every_s:
            return
        self._last = now
        try:
            if self._conn is None:
                params = connection.get_connection_params()
                self._conn = psycopg.connect(**params, autocommit=True)
            self._conn.execute(
                f"UPDATE {self.table} SET progress = %s WHERE id = %s",
                [json.dumps(payload), self.row_id],
            )
        except psycopg.Error:
            self._conn = None  # progress is best effort; the import itself is unaffected

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
