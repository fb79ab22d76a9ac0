"""One writing process per SQLite database: a lock on a file beside it, held for life.

`take_ownership(db)` creates `db.owner`, takes an exclusive `flock` on it and
writes this process's PID into it; a second claim, from any process (or from
this one), is refused with `InUseError` naming the PID it finds there. The
kernel drops the lock when the process ends, however it ends, so a file left
by a killed process never blocks the next start. docs/design.md says why a
file of its own and `flock` (not the database file, not `fcntl` locks).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path

from pokerd.store.errors import InUseError, cannot_write

OWNER_SUFFIX = ".owner"

_PID_WAIT_S = 1.0
"""How long a refused claim waits for the holder to write its PID (it locks
the file first, then writes)."""


def owner_file(database: Path) -> Path:
    """The file whose lock says who owns `database`."""
    return database.with_name(database.name + OWNER_SUFFIX)


class Ownership:
    """This process's claim on a database, until `release` (or the process ends)."""

    def __init__(self, database: Path, descriptor: int) -> None:
        self.database = database
        self._descriptor: int | None = descriptor

    def release(self) -> None:
        """Remove the owner file and drop the lock (idempotent)."""
        if self._descriptor is None:
            return
        path = owner_file(self.database)
        # Removed before the lock drops: a claim that opened this file in the
        # meantime then finds it is no longer the one at the path, and retries.
        if _is_at(self._descriptor, path):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        os.close(self._descriptor)
        self._descriptor = None

    def __enter__(self) -> Ownership:
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


def take_ownership(database: str | Path) -> Ownership:
    """Own `database` (its directory is created if needed).

    InUseError if another claim holds it; UnavailableError if the owner file
    cannot be created there (a read-only place, a missing permission).
    """
    database = Path(database)
    path = owner_file(database)
    try:
        database.parent.mkdir(parents=True, exist_ok=True)
        while True:
            # Not inherited by child processes (Python opens with O_CLOEXEC).
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pid = _holder(descriptor)
                os.close(descriptor)
                raise InUseError(database, pid) from None
            except BaseException:
                os.close(descriptor)
                raise
            if _is_at(descriptor, path):
                break
            os.close(descriptor)  # its holder removed it as it stopped
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"{os.getpid()}\n".encode())
    except InUseError:
        raise
    except OSError as error:
        raise cannot_write(database, error) from None
    return Ownership(database, descriptor)


def _is_at(descriptor: int, path: Path) -> bool:
    """Whether the open file is still the one at `path` (not removed or replaced)."""
    try:
        at_path = path.stat()
    except FileNotFoundError:
        return False
    opened = os.fstat(descriptor)
    return (opened.st_dev, opened.st_ino) == (at_path.st_dev, at_path.st_ino)


def _holder(descriptor: int) -> int | None:
    """The PID the holder wrote in the file (None if it never shows)."""
    deadline = time.monotonic() + _PID_WAIT_S
    while True:
        text = os.pread(descriptor, 32, 0).decode("ascii", "replace")
        if text.endswith("\n") and text.strip().isdigit():
            return int(text)
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.01)
