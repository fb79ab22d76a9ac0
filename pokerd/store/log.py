"""The durable event log: group-committed appends on one writer thread.

One thread owns the write connection. Appends queue up while it commits, and
it commits everything waiting in one transaction, so many busy tables share
one fsync (group commit). An append returns only once its transaction has
committed. Each append sits in its own savepoint, so one table's conflict
never fails another table's events in the same transaction. Readers use
connections of their own (WAL lets them read while the writer writes).
"""

from __future__ import annotations

import json
import queue
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import attrs
import trio

from pokerd.engine.events import Event, HandEnded
from pokerd.engine.state import TableState
from pokerd.ops.settings import DEFAULTS, Synchronous
from pokerd.store.connection import check_schema, connect, open_database
from pokerd.store.ownership import Ownership, take_ownership
from pokerd.wire import codec

T = TypeVar("T")

SNAPSHOT_FORMAT = 1
"""The encoding of snapshots this pokerd writes; others are ignored on load."""


class ConflictError(Exception):
    """The log does not end where the append expected: another writer was first."""


@attrs.frozen
class StoredEvent:
    seq: int
    event: Event
    recorded_at: int
    payload: str | None = attrs.field(default=None, eq=False, repr=False)
    """The event's JSON as the log holds it (`codec.compact_json` of
    `codec.unstructure_event`), when at hand: the live stream sends it as is
    to every viewer the event is not redacted for."""


@attrs.frozen(kw_only=True)
class HandRow:
    """A finished hand's row of the `hands` table, written in the transaction
    of the hand's last event (built by `pokerd.hands.history.hand_row`)."""

    hand: int
    engine: str
    started_at: int
    ended_at: int
    summary: str
    """What everyone may know of the hand, as JSON."""
    hole_cards: str
    """Each seat's hole cards, as JSON `{"seat": [cards]}`: private to that seat."""
    phh: str
    """The hand as PHH as a spectator may see it."""


@attrs.frozen
class WriterStatistics:
    """What the writer thread has done since it started."""

    transactions: int
    appends: int
    events: int
    conflicts: int
    largest_batch: int


@attrs.define(eq=False)
class _Append:
    table_id: str
    first_seq: int
    rows: list[tuple[str, int, str, str, int]]
    snapshot: str | None
    hand: HandRow | None
    wake: Callable[[], None]
    error: BaseException | None = None


_STOP = object()


class EventStore:
    """The log of every table in one SQLite file, owned by this process.

    Opening it claims the file (`pokerd.store.ownership`): InUseError if
    another process (or another store here) has it, UnavailableError saying
    why if it cannot be opened for writing. `claim=False` is for tests that
    play a second writer on purpose (the log's `(table, seq)` key refuses it).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: Synchronous = DEFAULTS.synchronous,
        group_commit: bool = True,
        on_append: Callable[[int, float], None] | None = None,
        claim: bool = True,
    ) -> None:
        self.path = Path(path)
        self.synchronous = synchronous
        self.group_commit = group_commit
        self._ownership: Ownership | None = take_ownership(self.path) if claim else None
        try:
            self._writer = open_database(self.path, synchronous=synchronous)
        except BaseException:
            self._release()
            raise
        self._queue: queue.SimpleQueue[_Append | object] = queue.SimpleQueue()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._stats = {"transactions": 0, "appends": 0, "events": 0, "conflicts": 0}
        self._largest_batch = 0
        self._on_append = on_append
        """Told each `append`'s event count and seconds from queueing to
        commit (the server's metrics); it must not raise."""
        self._thread = threading.Thread(
            target=self._write_loop, name="pokerd-log-writer", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Finish what is queued, stop the writer, close the connections."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()
            self._writer.close()
        with self._readers_lock:
            for reader in self._readers:
                reader.close()
            self._readers.clear()
        self._release()

    def _release(self) -> None:
        if self._ownership is not None:
            self._ownership.release()

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def reader(self) -> sqlite3.Connection:
        """This thread's read connection (WAL: reads never wait for the writer)."""
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = connect(self.path, synchronous=self.synchronous)
            check_schema(connection)
            self._local.connection = connection
            with self._readers_lock:
                self._readers.append(connection)
        return connection

    async def read(self, function: Callable[..., T], *args: object) -> T:
        """Run `function(reader, *args)` on a worker thread's own connection."""
        return await trio.to_thread.run_sync(lambda: function(self.reader(), *args))

    def statistics(self) -> WriterStatistics:
        return WriterStatistics(largest_batch=self._largest_batch, **self._stats)

    # Appending

    async def append(
        self,
        table_id: str,
        first_seq: int,
        events: Sequence[Event],
        *,
        snapshot: TableState | None = None,
        hand: HandRow | None = None,
        now_ms: int | None = None,
    ) -> list[str]:
        """Append `events` as seqs first_seq, first_seq + 1, ...; durable on
        return, which is their JSON as stored.

        `snapshot` is the table's state after the last of them; `hand` the
        record of the hand they end. Raises ConflictError if the log does not
        end at first_seq - 1. Once queued, the append completes even if the
        caller is cancelled: an event is never half-written or lost in flight.
        """
        token = trio.lowlevel.current_trio_token()
        done = trio.Event()
        request = self._request(
            table_id,
            first_seq=first_seq,
            events=events,
            snapshot=snapshot,
            hand=hand,
            now_ms=now_ms,
        )
        request.wake = lambda: token.run_sync_soon(done.set)
        queued = time.perf_counter()
        self._queue.put(request)
        with trio.CancelScope(shield=True):
            await done.wait()
        if request.error is not None:
            raise request.error
        if self._on_append is not None:
            self._on_append(len(events), time.perf_counter() - queued)
        return [row[3] for row in request.rows]

    def append_blocking(
        self,
        table_id: str,
        first_seq: int,
        events: Sequence[Event],
        *,
        snapshot: TableState | None = None,
        hand: HandRow | None = None,
        now_ms: int | None = None,
    ) -> None:
        """`append` for code outside trio (tools, tests)."""
        done = threading.Event()
        request = self._request(
            table_id,
            first_seq=first_seq,
            events=events,
            snapshot=snapshot,
            hand=hand,
            now_ms=now_ms,
        )
        request.wake = done.set
        self._queue.put(request)
        done.wait()
        if request.error is not None:
            raise request.error

    def _request(
        self,
        table_id: str,
        *,
        first_seq: int,
        events: Sequence[Event],
        snapshot: TableState | None,
        hand: HandRow | None,
        now_ms: int | None,
    ) -> _Append:
        # Checking and encoding happen here, on the caller's side, so a value
        # the codec cannot encode fails the caller and never reaches the writer.
        if hand is not None and not any(
            isinstance(event, HandEnded) and event.hand == hand.hand for event in events
        ):
            raise ValueError(
                f"the record of hand {hand.hand} goes with the append "
                "that contains its hand_ended"
            )
        at = time.time_ns() // 1_000_000 if now_ms is None else now_ms
        rows = []
        for offset, event in enumerate(events):
            data = codec.unstructure_event(event)
            payload = codec.compact_json(data)
            rows.append((table_id, first_seq + offset, data[codec.TAG], payload, at))
        return _Append(
            table_id=table_id,
            first_seq=first_seq,
            rows=rows,
            snapshot=None
            if snapshot is None
            else codec.compact_json(codec.unstructure(snapshot)),
            hand=hand,
            wake=lambda: None,
        )

    def _write_loop(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                return
            assert isinstance(first, _Append)
            batch = [first]
            while self.group_commit:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    stopping = True
                    break
                assert isinstance(more, _Append)
                batch.append(more)
            self._commit(batch)
            for request in batch:
                request.wake()

    def _commit(self, batch: list[_Append]) -> None:
        connection = self._writer
        try:
            connection.execute("BEGIN IMMEDIATE")
            for request in batch:
                connection.execute("SAVEPOINT append")
                try:
                    self._write(connection, request)
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
        self._stats["transactions"] += 1
        self._largest_batch = max(self._largest_batch, len(batch))
        for request in batch:
            if request.error is None:
                self._stats["appends"] += 1
                self._stats["events"] += len(request.rows)
            elif isinstance(request.error, ConflictError):
                self._stats["conflicts"] += 1

    @staticmethod
    def _write(connection: sqlite3.Connection, request: _Append) -> None:
        if request.first_seq == 1 and request.rows:
            connection.execute(
                "INSERT INTO tables (table_id, epoch, created_at) VALUES (?, ?, ?)",
                (request.table_id, uuid.uuid4().hex, request.rows[0][4]),
            )
        connection.executemany(
            "INSERT INTO events (table_id, seq, type, payload, recorded_at)"
            " VALUES (?, ?, ?, ?, ?)",
            request.rows,
        )
        last_seq = request.first_seq + len(request.rows) - 1
        if request.snapshot is not None:
            connection.execute(
                "INSERT OR REPLACE INTO snapshots (table_id, seq, format, state)"
                " VALUES (?, ?, ?, ?)",
                (request.table_id, last_seq, SNAPSHOT_FORMAT, request.snapshot),
            )
        if request.hand is not None:
            _write_hand(connection, request, request.hand)


def _write_hand(
    connection: sqlite3.Connection, request: _Append, hand: HandRow
) -> None:
    ended = codec.type_tag(HandEnded)
    last_seq = next(seq for _, seq, kind, _, _ in request.rows if kind == ended)
    # Walks back from the end of the table's log: a hand is a few dozen events.
    row = connection.execute(
        "SELECT seq FROM events WHERE table_id = ? AND seq <= ? AND type = ?"
        " ORDER BY seq DESC LIMIT 1",
        (request.table_id, last_seq, "hand_started"),
    ).fetchone()
    if row is None:
        raise ValueError(
            f"table {request.table_id}: hand {hand.hand} ends at seq {last_seq}, "
            "but no hand_started comes before it"
        )
    connection.execute(
        "INSERT INTO hands (table_id, hand, first_seq, last_seq, started_at, ended_at,"
        " engine, summary, hole_cards, phh) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            request.table_id,
            hand.hand,
            row[0],
            last_seq,
            hand.started_at,
            hand.ended_at,
            hand.engine,
            hand.summary,
            hand.hole_cards,
            hand.phh,
        ),
    )


def _refusal(request: _Append, error: Exception) -> BaseException:
    if isinstance(error, sqlite3.IntegrityError):
        return ConflictError(
            f"table {request.table_id}: the log does not end at seq "
            f"{request.first_seq - 1} ({error})"
        )
    return error


def decode_rows(rows: Sequence[tuple[Any, ...]]) -> list[StoredEvent]:
    return [
        StoredEvent(
            seq=seq, event=codec.structure_event(json.loads(payload)), recorded_at=at
        )
        for seq, payload, at in rows
    ]
