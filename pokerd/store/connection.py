"""Opening the SQLite file: WAL, the durability setting, and the schema check."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Literal

from pokerd.store.migrate import available_migrations, migrate, schema_version

Synchronous = Literal["FULL", "NORMAL"]
"""FULL (the default) fsyncs every commit: a committed event survives a power
cut. NORMAL fsyncs only at checkpoints: it survives a crash of pokerd but may
lose the last commits on a power cut, for much cheaper commits."""


def connect(
    path: str | Path, *, synchronous: Synchronous = "FULL"
) -> sqlite3.Connection:
    """A connection in autocommit mode: transactions are explicit, BEGIN..COMMIT."""
    connection = sqlite3.connect(
        str(path), isolation_level=None, check_same_thread=False, timeout=30.0
    )
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute(f"PRAGMA synchronous = {synchronous}")
    connection.execute("PRAGMA foreign_keys = ON")
    return connection


def open_database(
    path: str | Path, *, synchronous: Synchronous = "FULL"
) -> sqlite3.Connection:
    """Connect, creating and migrating the file when needed."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    connection = connect(path, synchronous=synchronous)
    migrate(connection)
    return connection


def check_schema(connection: sqlite3.Connection) -> None:
    """Refuse a database this pokerd has not migrated (or that is newer)."""
    current, newest = schema_version(connection), len(available_migrations())
    if current != newest:
        raise RuntimeError(
            f"the database is at schema version {current}, this pokerd needs {newest}: "
            "run `pokerd migrate --db PATH`"
        )
