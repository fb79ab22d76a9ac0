"""The store's tests on both backends: a database of each kind, and raw access.

`database` (conftest.py) is an SQLite file in the test's folder, or a fresh
database in the session's PostgreSQL cluster. The helpers here reach under
the store as a second program would, the same way on both.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import psycopg

from pokerd.ops.settings import Database, is_postgresql
from pokerd.store import ReadConnection
from pokerd.store.postgres import PostgresConnection


def raw_connection(database: Database) -> ReadConnection:
    """A connection of its own, in autocommit mode, taking `?` parameters."""
    if is_postgresql(database):
        return PostgresConnection(psycopg.connect(str(database), autocommit=True))
    return sqlite3.connect(Path(database), isolation_level=None)


def integrity_error(database: Database) -> type[Exception]:
    """What the database's driver raises when a constraint or trigger refuses."""
    return psycopg.IntegrityError if is_postgresql(database) else sqlite3.IntegrityError


def count_events(database: Database, table_id: str) -> int:
    """Events of a table as a connection of its own, opened now, sees them."""
    with closing(raw_connection(database)) as connection:
        row = connection.execute(
            "SELECT COUNT(*) FROM events WHERE table_id = ?", (table_id,)
        ).fetchone()
        return int(row[0])


@contextmanager
def writes_held(database: Database) -> Iterator[Callable[[], None]]:
    """Hold off every append until the function given is called (or the block
    ends): the store's writer waits for a lock this connection holds (SQLite's
    write lock; on PostgreSQL `tables` and `events` locked against writes,
    reads still allowed)."""
    with closing(raw_connection(database)) as connection:
        connection.execute("BEGIN" if is_postgresql(database) else "BEGIN IMMEDIATE")
        if is_postgresql(database):
            connection.execute("LOCK TABLE tables, events IN EXCLUSIVE MODE")
        held = [True]

        def release() -> None:
            if held.pop() if held else False:
                connection.execute("COMMIT")

        try:
            yield release
        finally:
            release()
