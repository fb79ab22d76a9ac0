"""Opening a PostgreSQL database: connections, the schema check and migrations."""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import psycopg

from pokerd.ops.settings import database_name
from pokerd.store.errors import UnavailableError
from pokerd.store.migrate import (
    POSTGRESQL_MIGRATIONS,
    Migration,
    SchemaTooNewError,
    available_migrations,
    too_new,
)

PgConnection = psycopg.Connection[tuple[Any, ...]]

APPLICATION_NAME = "pokerd"
MIGRATION_LOCK = 0x706F6B6572
"""The advisory lock nodes take to migrate one at a time ('poker' in hex):
several nodes starting together on a new database all try to migrate it."""


class PostgresConnection:
    """A psycopg connection that reads like sqlite3: `execute(sql, params)`
    with `?` parameters (pokerd.store.backend.ReadConnection)."""

    def __init__(self, connection: PgConnection) -> None:
        self.connection = connection

    def execute(
        self, sql: str, parameters: Sequence[Any] = (), /
    ) -> psycopg.Cursor[tuple[Any, ...]]:
        return self.connection.execute(format_style(sql), tuple(parameters))

    def close(self) -> None:
        self.connection.close()


@lru_cache(maxsize=256)
def format_style(sql: str) -> str:
    """`sql` with sqlite3's `?` parameters as psycopg's `%s` (a literal % doubled).

    pokerd's own queries have no `?` inside a string literal, which this would
    misread."""
    return sql.replace("%", "%%").replace("?", "%s")


def connect(url: str, *, autocommit: bool = True) -> PgConnection:
    """A connection to `url`; UnavailableError, in one line, if there is none."""
    try:
        return psycopg.connect(
            url, autocommit=autocommit, application_name=APPLICATION_NAME
        )
    except psycopg.Error as error:
        raise UnavailableError(
            f"cannot connect to {database_name(url)}: {first_line(error)}"
        ) from None


def first_line(error: BaseException) -> str:
    """The first line of a driver's message (PostgreSQL adds DETAIL and HINT lines)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def open_database(url: str) -> PgConnection:
    """Connect and migrate; SchemaTooNewError if a newer pokerd wrote it."""
    connection = connect(url)
    try:
        migrate(connection)
    except BaseException:
        connection.close()
        raise
    return connection


def open_read_only(url: str) -> PostgresConnection:
    """A connection that can only read, inside one repeatable-read transaction:
    one consistent moment of a log that live nodes are writing."""
    connection = connect(url)
    try:
        connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    except BaseException:
        connection.close()
        raise
    return PostgresConnection(connection)


def schema_version(connection: PgConnection | PostgresConnection) -> int:
    """The newest migration applied to this database (0 for a new one)."""
    row = connection.execute("SELECT to_regclass('schema_version') IS NOT NULL", ())
    exists = row.fetchone()
    if exists is None or not exists[0]:
        return 0
    row = connection.execute("SELECT MAX(version) FROM schema_version", ())
    found = row.fetchone()
    return int(found[0] or 0) if found is not None else 0


def check_schema(connection: PgConnection) -> None:
    """Refuse a database this pokerd has not migrated (or that is newer)."""
    current = schema_version(connection)
    newest = len(available_migrations(POSTGRESQL_MIGRATIONS))
    if current != newest:
        raise RuntimeError(
            f"the database is at schema version {current}, this pokerd needs {newest}: "
            "run `pokerd migrate --db URL`"
        )


def refuse_newer(
    connection: PgConnection, migrations: tuple[Migration, ...] | None = None
) -> int:
    """The database's schema version; SchemaTooNewError if newer than `migrations`."""
    known = (
        available_migrations(POSTGRESQL_MIGRATIONS)
        if migrations is None
        else migrations
    )
    current = schema_version(connection)
    if current > len(known):
        raise SchemaTooNewError(too_new(current, len(known)))
    return current


def migrate(
    connection: PgConnection, migrations: tuple[Migration, ...] | None = None
) -> list[str]:
    """Apply what this database lacks, each file in its own transaction.

    Nodes migrate one at a time (an advisory lock), each reading the version
    once it holds the lock: the second finds the work done. Returns the names
    applied; SchemaTooNewError, changing nothing, for a newer database.
    """
    known = (
        available_migrations(POSTGRESQL_MIGRATIONS)
        if migrations is None
        else migrations
    )
    if not connection.autocommit:
        raise ValueError("migrate needs a connection in autocommit mode")
    current = refuse_newer(connection, known)
    if current == len(known):
        return []  # the usual start: nothing to do, no lock to wait for
    applied = []
    connection.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
    try:
        current = refuse_newer(connection, known)
        for migration in known[current:]:
            with connection.transaction():
                connection.execute(
                    "CREATE TABLE IF NOT EXISTS schema_version ("
                    " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                    " applied_at BIGINT NOT NULL)"
                )
                # Without parameters psycopg sends the file as it is: many
                # statements, dollar-quoted bodies and all.
                connection.execute(migration.sql.encode())
                connection.execute(
                    "INSERT INTO schema_version (version, name, applied_at)"
                    " VALUES (%s, %s, %s)",
                    (migration.version, migration.name, time.time_ns() // 1_000_000),
                )
            applied.append(migration.name)
    finally:
        if not connection.broken:
            connection.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
    return applied
