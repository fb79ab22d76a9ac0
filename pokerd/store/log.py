"""The durable event log: group-committed appends on one writer thread.

One thread owns the write connection. Appends queue up while it commits, and
it commits everything waiting in one transaction, so many busy tables share
one commit (group commit). An append returns only once its transaction has
committed. Each append stands alone: one table's conflict never fails another
table's events in the same transaction. Readers use connections of their own.
The database is an SQLite file or a PostgreSQL URL; `backend.py` says what
each backend does (its writes, its readers, its leases).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import trio

from pokerd.engine.events import Event, HandEnded
from pokerd.engine.state import TableState
from pokerd.ops.settings import DEFAULTS, Database, Synchronous, database_name
from pokerd.store.backend import Backend, Leases, ReadConnection, open_backend
from pokerd.store.records import (
    SNAPSHOT_FORMAT,
    AppendTimes,
    AppliedRequest,
    ConflictError,
    EventRow,
    FencedError,
    HandRow,
    PendingAppend,
    StoredEvent,
    WriterStatistics,
    decode_rows,
)
from pokerd.wire import codec

__all__ = [
    "SNAPSHOT_FORMAT",
    "AppliedRequest",
    "ConflictError",
    "EventStore",
    "FencedError",
    "HandRow",
    "StoredEvent",
    "WriterStatistics",
    "decode_rows",
]

T = TypeVar("T")

LEASE_TTL_S = 10.0
"""How long a lease lasts after it is taken or renewed, by the database's
clock; a node renews well before (the node's own business)."""

_STOP = object()


class EventStore:
    """The log of every table in one database: an SQLite file or a PostgreSQL URL.

    Opening it opens (creating and migrating) the database. SQLite: the file
    is claimed (`pokerd.store.ownership`): InUseError if another process (or
    another store here) has it, UnavailableError saying why if it cannot be
    opened for writing; `claim=False` is for tests that play a second writer
    on purpose (the log's `(table, seq)` key refuses it). PostgreSQL: `node`
    names this node and turns on the fence: every append then needs the
    table's lease (`store.leases.take`), and is refused with FencedError once
    another node has taken it. Without `node`, nothing fences (one writer).
    """

    def __init__(
        self,
        database: Database,
        *,
        synchronous: Synchronous = DEFAULTS.synchronous,
        group_commit: bool = True,
        on_append: Callable[[AppendTimes], None] | None = None,
        claim: bool = True,
        node: str | None = None,
        lease_ttl_s: float = LEASE_TTL_S,
    ) -> None:
        self.group_commit = group_commit
        self._backend: Backend = open_backend(
            database,
            synchronous=synchronous,
            claim=claim,
            node=node,
            lease_ttl_s=lease_ttl_s,
        )
        self.database = self._backend.database
        self.leases: Leases = self._backend.leases
        self._queue: queue.SimpleQueue[PendingAppend | object] = queue.SimpleQueue()
        self._local = threading.local()
        self._readers: list[ReadConnection] = []
        self._idle_readers: list[ReadConnection] = []
        """Connections of `read` not in use: the store's, not a thread's."""
        self._readers_lock = threading.Lock()
        self._stats = {
            "transactions": 0,
            "appends": 0,
            "events": 0,
            "conflicts": 0,
            "fenced": 0,
        }
        self._largest_batch = 0
        self._on_append = on_append
        """Told each `append`'s event count and where its wait went (the
        server's metrics); it must not raise."""
        self._thread = threading.Thread(
            target=self._write_loop, name="pokerd-log-writer", daemon=True
        )
        self._thread.start()

    def __repr__(self) -> str:
        return f"EventStore({database_name(self.database)!r})"

    @property
    def fenced(self) -> bool:
        """Whether appends need the table's lease (PostgreSQL with a node id):
        tables are then owned by one node of several at a time."""
        return self._backend.fenced

    @property
    def path(self) -> Path:
        """The SQLite file (a PostgreSQL store has none)."""
        if not isinstance(self.database, Path):
            raise AttributeError(f"{self!r} is not an SQLite file")
        return self.database

    def close(self) -> None:
        """Finish what is queued, stop the writer, give up the leases held,
        close the connections."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()
            self.leases.close()
            self._backend.close()
        with self._readers_lock:
            for reader in self._readers:
                reader.close()
            self._readers.clear()
            self._idle_readers.clear()

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def reader(self) -> ReadConnection:
        """This thread's read connection (reads never wait for the writer)."""
        connection: ReadConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._backend.reader()
            self._local.connection = connection
            with self._readers_lock:
                self._readers.append(connection)
        return connection

    async def read(self, function: Callable[..., T], *args: object) -> T:
        """Run `function(reader, *args)` on a worker thread, with a read
        connection no other read uses meanwhile.

        The connections belong to the store, not to the threads: trio retires
        a worker thread idle for 10 s and starts another when reads come
        again, and a connection per thread was a new connection each time,
        open until the store closed, until PostgreSQL refused clients (too
        many). So there are as many as reads ever ran at once.
        """

        def run() -> T:
            with self._readers_lock:
                connection = self._idle_readers.pop() if self._idle_readers else None
            if connection is None:
                connection = self._backend.reader()
                with self._readers_lock:
                    self._readers.append(connection)
            try:
                return function(connection, *args)
            finally:
                with self._readers_lock:
                    self._idle_readers.append(connection)

        return await trio.to_thread.run_sync(run)

    @property
    def read_connections(self) -> int:
        """Connections open for reads (`read`'s and `reader`'s)."""
        with self._readers_lock:
            return len(self._readers)

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
        request: AppliedRequest | None = None,
    ) -> list[str]:
        """Append `events` as seqs first_seq, first_seq + 1, ...; durable on
        return, which is their JSON as stored.

        `snapshot` is the table's state after the last of them; `hand` the
        record of the hand they end. Raises ConflictError if the log does not
        end at first_seq - 1, FencedError (a ConflictError) if the store is
        fenced and this node does not hold the table's lease at the epoch it
        took. `request` is the seat request the events answer, kept with
        the last of them. Once queued, the append completes even if the caller is
        cancelled: an event is never half-written or lost in flight.
        """
        token = trio.lowlevel.current_trio_token()
        done = trio.Event()
        pending = self._request(
            table_id,
            first_seq=first_seq,
            events=events,
            snapshot=snapshot,
            hand=hand,
            now_ms=now_ms,
            request=request,
        )
        pending.wake = lambda: token.run_sync_soon(done.set)
        queued = time.perf_counter()
        self._queue.put(pending)
        with trio.CancelScope(shield=True):
            await done.wait()
        if pending.error is not None:
            raise pending.error
        if self._on_append is not None:
            self._on_append(
                AppendTimes(
                    events=len(events),
                    queued=pending.picked_at - queued,
                    commit=pending.committed_at - pending.picked_at,
                    wake=time.perf_counter() - pending.committed_at,
                )
            )
        return [row[3] for row in pending.rows]

    def append_blocking(
        self,
        table_id: str,
        first_seq: int,
        events: Sequence[Event],
        *,
        snapshot: TableState | None = None,
        hand: HandRow | None = None,
        now_ms: int | None = None,
        request: AppliedRequest | None = None,
    ) -> None:
        """`append` for code outside trio (tools, tests)."""
        done = threading.Event()
        pending = self._request(
            table_id,
            first_seq=first_seq,
            events=events,
            snapshot=snapshot,
            hand=hand,
            now_ms=now_ms,
            request=request,
        )
        pending.wake = done.set
        self._queue.put(pending)
        done.wait()
        if pending.error is not None:
            raise pending.error

    def _request(
        self,
        table_id: str,
        *,
        first_seq: int,
        events: Sequence[Event],
        snapshot: TableState | None,
        hand: HandRow | None,
        now_ms: int | None,
        request: AppliedRequest | None,
    ) -> PendingAppend:
        # Checking and encoding happen here, on the caller's side, so a value
        # the codec cannot encode fails the caller and never reaches the writer.
        if hand is not None and not any(
            isinstance(event, HandEnded) and event.hand == hand.hand for event in events
        ):
            raise ValueError(
                f"the record of hand {hand.hand} goes with the append "
                "that contains its hand_ended"
            )
        epoch = self.leases.epoch_of(table_id)
        if self._backend.fenced and epoch is None:
            raise FencedError(
                f"table {table_id}: node {self.leases.node} holds no lease on it"
            )
        at = time.time_ns() // 1_000_000 if now_ms is None else now_ms
        rows: list[EventRow] = []
        for offset, event in enumerate(events):
            data = codec.unstructure_event(event)
            payload = codec.compact_json(data)
            rows.append(
                (table_id, first_seq + offset, data[codec.TAG], payload, at, None)
            )
        if request is not None and rows:
            # On the last event: the seq a request's ack carries.
            rows[-1] = (*rows[-1][:5], request.column)
        return PendingAppend(
            table_id=table_id,
            first_seq=first_seq,
            rows=rows,
            snapshot=None
            if snapshot is None
            else codec.compact_json(codec.unstructure(snapshot)),
            hand=hand,
            wake=lambda: None,
            epoch=epoch,
        )

    def _write_loop(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                return
            assert isinstance(first, PendingAppend)
            picked = time.perf_counter()
            batch = [first]
            while self.group_commit:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    stopping = True
                    break
                assert isinstance(more, PendingAppend)
                batch.append(more)
            try:
                self._backend.commit(batch)
            except Exception as error:
                # The writer thread must live on, or every caller would wait
                # forever: whatever escaped the backend fails this batch.
                for request in batch:
                    request.error = request.error or error
            committed = time.perf_counter()
            self._count(batch)
            for request in batch:
                request.picked_at, request.committed_at = picked, committed
                request.wake()

    def _count(self, batch: list[PendingAppend]) -> None:
        self._stats["transactions"] += 1
        self._largest_batch = max(self._largest_batch, len(batch))
        for request in batch:
            if request.error is None:
                self._stats["appends"] += 1
                self._stats["events"] += len(request.rows)
            elif isinstance(request.error, ConflictError):
                self._stats["conflicts"] += 1
                if isinstance(request.error, FencedError):
                    self._stats["fenced"] += 1
