"""Opening the SQLite file: WAL, the durability setting, and the schema check."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from pokerd.ops.settings import DEFAULTS, Synchronous
from pokerd.store.errors import (
    UnavailableError,
    cannot_read,
    cannot_write,
    creatable_in,
    read_only_file_system,
)
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

    UnavailableError, saying why, if the file cannot be opened for writing;
    SchemaTooNewError if a newer pokerd wrote it.
    """
    connection = open_for_writing(path, synchronous=synchronous)
    try:
        migrate(connection)
    except BaseException:
        connection.close()
        raise
    return connection


def open_for_writing(
    path: str | Path, *, synchronous: Synchronous = DEFAULTS.synchronous
) -> sqlite3.Connection:
    """Connect (creating the file) and check it can be written; no migration.

    A database from a newer pokerd is refused before anything is written:
    switching a file to WAL rewrites its header, so the version is read first.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        connection = _open(path)
    except (OSError, sqlite3.Error) as error:
        raise cannot_write(path, error) from None
    try:
        refuse_newer(connection)
        _configure(connection, synchronous)
        _check_writable(connection)
    except sqlite3.Error as error:
        connection.close()
        raise cannot_write(path, error) from None
    except BaseException:
        connection.close()
        raise
    return connection


def open_read_only(path: str | Path) -> sqlite3.Connection:
    """A connection that can only read `path`, also on a read-only file system.

    SQLite reads a WAL database through its -wal and -shm files, and creates
    them if they are missing; on a read-only file system it cannot. There, a
    database without a -wal file is whole in its own file, and nothing can be
    writing it (a writer would have a -wal file), so it is opened `immutable`
    (no -shm, no locks), which SQLite offers for read-only media.
    UnavailableError, saying why, if it cannot be read.
    """
    path = Path(path)
    uri = path.absolute().as_uri() + "?mode=ro"
    try:
        return _readable(uri)
    except sqlite3.Error as error:
        if not _cannot_open(error) or not path.is_file():
            raise cannot_read(path, error) from None
        wal = path.with_name(path.name + "-wal")
        shm = path.with_name(path.name + "-shm")
        if read_only_file_system(path) and not wal.exists():
            try:
                return _readable(uri + "&immutable=1")
            except sqlite3.Error as second:
                raise cannot_read(path, second) from None
        if wal.exists() and not shm.exists() and not creatable_in(path.parent):
            raise UnavailableError(
                f"cannot read {path}: SQLite reads the commits in {wal.name} only "
                f"through {shm.name}, which is missing and cannot be created in "
                f"{path.parent}; copy {path.name} with {wal.name} to a writable "
                "place and read the copy"
            ) from None
        raise cannot_read(path, error) from None


def _readable(uri: str) -> sqlite3.Connection:
    connection = sqlite3.connect(uri, uri=True, isolation_level=None)
    try:
        # Opening is lazy: the first read finds what keeps it from reading.
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except BaseException:
        connection.close()
        raise
    return connection


def _cannot_open(error: sqlite3.Error) -> bool:
    return getattr(error, "sqlite_errorname", None) == "SQLITE_CANTOPEN"


def _open(path: str | Path) -> sqlite3.Connection:
    return sqlite3.connect(
        str(path), isolation_level=None, check_same_thread=False, timeout=30.0
    )


def _configure(connection: sqlite3.Connection, synchronous: Synchronous) -> None:
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute(f"PRAGMA synchronous = {synchronous}")
    connection.execute("PRAGMA foreign_keys = ON")


def _check_writable(connection: sqlite3.Connection) -> None:
    """Raise SQLITE_READONLY now if SQLite could open the file only read-only.

    It then falls back to reading silently, and in WAL mode even BEGIN
    IMMEDIATE succeeds: only a write fails. This one is rolled back.
    """
    connection.execute("BEGIN IMMEDIATE")
    try:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        connection.execute(f"PRAGMA user_version = {int(version)}")
    finally:
        if connection.in_transaction:
            connection.execute("ROLLBACK")


def check_schema(connection: sqlite3.Connection) -> None:
    """Refuse a database this pokerd has not migrated (or that is newer)."""
    current, newest = schema_version(connection), len(available_migrations())
    if current != newest:
        raise RuntimeError(
            f"the database is at schema version {current}, this pokerd needs {newest}: "
            "run `pokerd migrate --db PATH`"
        )
