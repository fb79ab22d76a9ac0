"""Schema migrations: numbered SQL files applied in order; newer schemas untouched.

The files and their numbering are the same affair for both backends; applying
them to SQLite is here, to PostgreSQL in postgres.py."""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path

import attrs

from pokerd.store.backend import ReadConnection

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
"""`pokerd/migrations`, a link to the project's top-level `migrations/`: a
folder of numbered files per backend."""
SQLITE_MIGRATIONS = MIGRATIONS_DIR / "sqlite"
POSTGRESQL_MIGRATIONS = MIGRATIONS_DIR / "postgresql"

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class SchemaTooNewError(Exception):
    """The database was written by a newer pokerd; it is left as it is."""


@attrs.frozen
class Migration:
    version: int
    name: str
    sql: str


def available_migrations(directory: Path = SQLITE_MIGRATIONS) -> tuple[Migration, ...]:
    """The migration files, in order; their numbers must run 1, 2, 3, ..."""
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if match is None:
            raise ValueError(f"{path.name}: a migration is named NNNN_words.sql")
        found.append(Migration(int(match.group(1)), path.name, path.read_text()))
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise ValueError(f"migration {expected} is missing before {migration.name}")
    return tuple(found)


def schema_version(connection: ReadConnection) -> int:
    """The newest migration applied to this database (0 for a new one)."""
    exists = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone()
    if exists is None:
        return 0
    row = connection.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def refuse_newer(
    connection: sqlite3.Connection, migrations: tuple[Migration, ...] | None = None
) -> int:
    """The database's schema version; SchemaTooNewError if newer than `migrations`."""
    known = available_migrations() if migrations is None else migrations
    current, newest = schema_version(connection), len(known)
    if current > newest:
        raise SchemaTooNewError(too_new(current, newest))
    return current


def too_new(version: int, newest: int) -> str:
    """Why a database at `version` is refused by a pokerd that knows `newest`."""
    return (
        f"the database is at schema version {version}, but this pokerd knows only "
        f"up to {newest}: it was written by a newer pokerd; upgrade pokerd (the "
        "database was not modified)"
    )


def migrate(
    connection: sqlite3.Connection, migrations: tuple[Migration, ...] | None = None
) -> list[str]:
    """Apply what this database lacks, each file in its own transaction.

    Returns the names applied. Raises SchemaTooNewError, changing nothing,
    when the database has a version this pokerd does not know.
    """
    known = available_migrations() if migrations is None else migrations
    current = refuse_newer(connection, known)
    applied = []
    for migration in known[current:]:
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.execute(
                "CREATE TABLE IF NOT EXISTS schema_version ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                " applied_at INTEGER NOT NULL)"
            )
            for statement in _statements(migration.sql):
                connection.execute(statement)
            connection.execute(
                "INSERT INTO schema_version (version, name, applied_at)"
                " VALUES (?, ?, ?)",
                (migration.version, migration.name, time.time_ns() // 1_000_000),
            )
            connection.execute("COMMIT")
        except BaseException:
            # Some errors (ON CONFLICT ROLLBACK, a full disk) end the
            # transaction themselves: a second ROLLBACK would hide the cause.
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        applied.append(migration.name)
    return applied


def _statements(sql: str) -> list[str]:
    """Split a script into statements (executescript would commit on its own)."""
    statements, current = [], ""
    for line in sql.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                statements.append(current)
            current = ""
    if current.strip() and not current.strip().startswith("--"):
        statements.append(current)
    return statements
