"""Why a database cannot be used: errors whose message is one line for an operator.

SQLite says "unable to open database file" for a directory, a read-only place
and a missing permission alike; the reasons here are found by looking at the
file system, so the line says which it is.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import psycopg

DATABASE_ERRORS: tuple[type[Exception], ...] = (sqlite3.Error, psycopg.Error)
"""What either backend's driver raises when the database fails a query."""


class UnavailableError(Exception):
    """The database cannot be opened as asked; the message names it and says why."""


class InUseError(UnavailableError):
    """Another process owns the database (a pokerd serving or migrating it)."""

    def __init__(self, database: Path, pid: int | None) -> None:
        holder = "another process" if pid is None else f"process {pid}"
        super().__init__(
            f"{database} is in use by {holder}: one process at a time may write "
            "a database"
        )
        self.pid = pid


def cannot_write(database: Path, error: OSError | sqlite3.Error) -> UnavailableError:
    """The error for `database` failing to open for writing with `error`."""
    reason = _why_not(database, error, writing=True)
    return UnavailableError(f"cannot open {database}: {reason}")


def cannot_read(database: Path, error: sqlite3.Error) -> UnavailableError:
    """The error for `database` failing to open read-only with `error`."""
    reason = _why_not(database, error, writing=False)
    return UnavailableError(f"cannot read {database}: {reason}")


def _why_not(database: Path, error: OSError | sqlite3.Error, *, writing: bool) -> str:
    if database.is_dir():
        return "it is a directory"
    if getattr(error, "sqlite_errorname", None) == "SQLITE_NOTADB":
        return "it is not an SQLite database"
    if database.parent.exists() and not database.parent.is_dir():
        return f"{database.parent} is not a directory"
    existing = next(path for path in (database, *database.parents) if path.exists())
    if writing and read_only_file_system(existing):
        where = "it" if existing == database else str(existing)
        return f"{where} is on a read-only file system"
    if existing == database and not os.access(database, os.R_OK):
        return "it is not readable"
    if writing and existing == database and not os.access(database, os.W_OK):
        return "it is not writable"
    directory = existing if existing.is_dir() else existing.parent
    if not creatable_in(directory):
        name = database.name
        needed = (
            f"pokerd keeps {name}.owner, {name}-wal and {name}-shm beside the database"
            if writing
            else f"SQLite needs {name}-wal and {name}-shm beside it to read it"
        )
        return f"no file can be created in {directory} ({needed})"
    if isinstance(error, OSError):
        return f"{error.strerror or error} ({error.filename})"
    return str(error)


def creatable_in(directory: Path) -> bool:
    """Whether this process may create files in `directory` (which exists)."""
    return not read_only_file_system(directory) and os.access(
        directory, os.W_OK | os.X_OK
    )


def read_only_file_system(path: Path) -> bool:
    """Whether `path` (which exists) lies on a file system mounted read-only."""
    return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
