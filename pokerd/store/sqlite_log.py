"""The SQLite backend: one file, owned by one process, savepoint per append."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path

from pokerd.engine.events import HandEnded
from pokerd.ops.settings import Synchronous
from pokerd.store.backend import ReadConnection
from pokerd.store.connection import check_schema, connect, open_database
from pokerd.store.ownership import Ownership, take_ownership
from pokerd.store.records import (
    SNAPSHOT_FORMAT,
    ConflictError,
    HandRow,
    PendingAppend,
    Taken,
)
from pokerd.wire import codec

LOCAL_EPOCH = 1
"""The epoch of every SQLite lease: one process owns the file, nobody fences."""


class SqliteBackend:
    """The log of every table in one SQLite file, owned by this process.

    Opening it claims the file (`pokerd.store.ownership`): InUseError if
    another process (or another store here) has it, UnavailableError saying
    why if it cannot be opened for writing. `claim=False` is for tests that
    play a second writer on purpose (the log's `(table, seq)` key refuses it).
    """

    fenced = False

    def __init__(
        self, path: Path, *, synchronous: Synchronous, claim: bool, lease_ttl_s: float
    ) -> None:
        self.database = self.path = path
        self.synchronous = synchronous
        self._ownership: Ownership | None = take_ownership(path) if claim else None
        try:
            self.writer = open_database(path, synchronous=synchronous)
        except BaseException:
            self._release()
            raise
        self.leases = LocalLeases(self, lease_ttl_s)

    def reader(self) -> ReadConnection:
        connection = connect(self.path, synchronous=self.synchronous)
        check_schema(connection)
        return connection

    def close(self) -> None:
        self.writer.close()
        self._release()

    def _release(self) -> None:
        if self._ownership is not None:
            self._ownership.release()

    def commit(self, batch: list[PendingAppend]) -> None:
        connection = self.writer
        try:
            connection.execute("BEGIN IMMEDIATE")
            for request in batch:
                connection.execute("SAVEPOINT append")
                try:
                    _write(connection, request)
                    connection.execute("RELEASE append")
                except Exception as error:
                    # Whatever went wrong fails this append alone: the writer
                    # thread must live on, or every caller would wait forever.
                    connection.execute("ROLLBACK TO append")
                    connection.execute("RELEASE append")
                    request.error = _refusal(request, error)
            connection.execute("COMMIT")
        except sqlite3.Error as error:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            for request in batch:
                request.error = request.error or error


def _write(connection: sqlite3.Connection, request: PendingAppend) -> None:
    if request.first_seq == 1 and request.rows:
        connection.execute(
            "INSERT INTO tables (table_id, epoch, created_at) VALUES (?, ?, ?)",
            (request.table_id, uuid.uuid4().hex, request.rows[0][4]),
        )
    connection.executemany(
        "INSERT INTO events (table_id, seq, type, payload, recorded_at, request)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        request.rows,
    )
    if request.snapshot is not None:
        connection.execute(
            "INSERT OR REPLACE INTO snapshots (table_id, seq, format, state)"
            " VALUES (?, ?, ?, ?)",
            (request.table_id, request.last_seq, SNAPSHOT_FORMAT, request.snapshot),
        )
    if request.hand is not None:
        first_seq = hand_first_seq(connection, request)
        connection.execute(
            "INSERT INTO hands (table_id, hand, first_seq, last_seq, started_at,"
            " ended_at, engine, summary, hole_cards, phh)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            hand_values(request, request.hand, first_seq),
        )


def hand_ended_seq(request: PendingAppend) -> int:
    """The seq of the append's hand_ended (the last seq of its hand)."""
    ended = codec.type_tag(HandEnded)
    return next(seq for _, seq, kind, _, _, _ in request.rows if kind == ended)


def hand_first_seq(connection: ReadConnection, request: PendingAppend) -> int:
    """The seq of the hand_started of the hand the append ends, as the log
    (with the append's own rows written) has it."""
    last_seq = hand_ended_seq(request)
    # Walks back from the end of the table's log: a hand is a few dozen events.
    row = connection.execute(
        "SELECT seq FROM events WHERE table_id = ? AND seq <= ? AND type = ?"
        " ORDER BY seq DESC LIMIT 1",
        (request.table_id, last_seq, "hand_started"),
    ).fetchone()
    if row is None:
        assert request.hand is not None
        raise ValueError(
            f"table {request.table_id}: hand {request.hand.hand} ends at seq "
            f"{last_seq}, but no hand_started comes before it"
        )
    return int(row[0])


def hand_values(
    request: PendingAppend, hand: HandRow, first_seq: int
) -> tuple[object, ...]:
    """The row of `hands` for the hand the append ends, in the insert's order."""
    return (
        request.table_id,
        hand.hand,
        first_seq,
        hand_ended_seq(request),
        hand.started_at,
        hand.ended_at,
        hand.engine,
        hand.summary,
        hand.hole_cards,
        hand.phh,
    )


def _refusal(request: PendingAppend, error: Exception) -> BaseException:
    if isinstance(error, sqlite3.IntegrityError):
        return ConflictError(
            f"table {request.table_id}: the log does not end at seq "
            f"{request.first_seq - 1} ({error})"
        )
    return error


class LocalLeases:
    """SQLite's leases: the process owns the whole file, so each is granted.

    The owner lock (ownership.py) already keeps any second process away, so
    there is nothing to fence: every lease has epoch 1 and is never lost.
    """

    node = "local"

    def __init__(self, backend: SqliteBackend, ttl_s: float) -> None:
        self._backend = backend
        self.ttl_s = ttl_s
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()

    def take(self, table_id: str) -> int | None:
        with self._lock:
            self._held[table_id] = LOCAL_EPOCH
        return LOCAL_EPOCH

    def take_over(self, table_id: str) -> Taken | None:
        with self._lock:
            before = self._held.get(table_id)
            self._held[table_id] = LOCAL_EPOCH
        return Taken(LOCAL_EPOCH, "new" if before is None else "own", None)

    def renew(self) -> set[str]:
        return set()

    def release(
        self, table_ids: Sequence[str] | None = None, *, handed_to: str | None = None
    ) -> None:
        with self._lock:
            for table_id in list(self._held) if table_ids is None else table_ids:
                self._held.pop(table_id, None)

    def held(self) -> dict[str, int]:
        with self._lock:
            return dict(self._held)

    def epoch_of(self, table_id: str) -> int | None:
        with self._lock:
            return self._held.get(table_id)

    def expired(self) -> list[str]:
        return []

    def owner(self, table_id: str) -> tuple[str, str | None] | None:
        return (self.node, None) if table_id in self.held() else None

    def announce(self, address: str) -> None:
        pass

    def nodes_up(self, join_delay_s: float) -> dict[str, str]:
        return {}  # one node, no router in front: nothing is placed

    def free_tables(self) -> list[str]:
        connection = self._backend.reader()
        try:
            rows = connection.execute("SELECT table_id FROM tables ORDER BY table_id")
            held = self.held()
            return [row[0] for row in rows if row[0] not in held]
        finally:
            connection.close()

    def close(self) -> None:
        self.release()
