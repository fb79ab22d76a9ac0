"""Opening the SQLite file: WAL, the durability setting, and the schema check."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from pokerd.ops.settings import DEFAULTS, Synchronous
from pokerd.store.migrate import (
    available_migrations,
    migrate,
    refuse_newer,
    schema_version,
)


def connect(
    path: str | Path, *, synchronous: Synchronous = DEFAULTS.synchronous
) -> sqlite3.Connection:
    """A connection in autocommit mode: transactions are explicit, BEGIN..COMMIT."""
    connection = _open(path)
    _configure(connection, synchronous)
    return connection


def open_database(
    path: str | Path, *, synchronous: Synchronous = DEFAULTS.synchronous
) -> sqlite3.Connection:
    """Connect, creating and migrating the file when needed.

    A database from a newer pokerd is refused before anything is written:
    switching a file to WAL rewrites its header, so the version is read first.
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    connection = _open(path)
    try:
        refuse_newer(connection)
        _configure(connection, synchronous)
        migrate(connection)
    except BaseException:
        connection.close()
        raise
    return connection


def _open(path: str | Path) -> sqlite3.Connection:
    return sqlite3.connect(
        str(path), isolation_level=None, check_same_thread=False, timeout=30.0
    )


def _configure(connection: sqlite3.Connection, synchronous: Synchronous) -> None:
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute(f"PRAGMA synchronous = {synchronous}")
    connection.execute("PRAGMA foreign_keys = ON")


def check_schema(connection: sqlite3.Connection) -> None:
    """Refuse a database this pokerd has not migrated (or that is newer)."""
    current, newest = schema_version(connection), len(available_migrations())
    if current != newest:
        raise RuntimeError(
            f"the database is at schema version {current}, this pokerd needs {newest}: "
            "run `pokerd migrate --db PATH`"
        )
