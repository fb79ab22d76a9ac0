"""The PostgreSQL backend: a batch in one transaction, fenced by the leases.

A batch is first written the fast way: one query locks the batch's lease
rows (FOR SHARE), for each append's epoch, and reads where each table's log
ends; each append is checked against both in order, and the accepted events
go in, by one COPY for a large batch, or pipelined with the rest of a small
batch's statements. Should the database still refuse
something (a writer that does not hold leases raced this one), the
transaction is rolled back and the batch written again one append at a time,
each in a savepoint, so that the refusal falls on the append it belongs to.
"""

from __future__ import annotations

import logging
import uuid

import psycopg

from pokerd.engine.events import HandEnded, HandStarted
from pokerd.store.backend import ReadConnection
from pokerd.store.errors import UnavailableError
from pokerd.store.postgres import (
    PgConnection,
    PostgresConnection,
    check_schema,
    connect,
    first_line,
    open_database,
)
from pokerd.store.postgres_leases import PostgresLeases
from pokerd.store.records import (
    SNAPSHOT_FORMAT,
    ConflictError,
    EventRow,
    FencedError,
    PendingAppend,
)
from pokerd.store.sqlite_log import hand_ended_seq, hand_first_seq, hand_values
from pokerd.wire import codec

log = logging.getLogger(__name__)

_STARTED = codec.type_tag(HandStarted)
_ENDED = codec.type_tag(HandEnded)

_INSERT_TABLE = "INSERT INTO tables (table_id, epoch, created_at) VALUES (%s, %s, %s)"
_COPY_EVENTS = (
    "COPY events (table_id, seq, type, payload, recorded_at, request) FROM STDIN"
)
_INSERT_EVENT = (
    "INSERT INTO events (table_id, seq, type, payload, recorded_at, request)"
    " VALUES (%s, %s, %s, %s, %s, %s)"
)
_UPSERT_SNAPSHOT = (
    "INSERT INTO snapshots (table_id, seq, format, state) VALUES (%s, %s, %s, %s)"
    " ON CONFLICT (table_id, seq) DO UPDATE"
    " SET format = EXCLUDED.format, state = EXCLUDED.state"
)
_INSERT_HAND = (
    "INSERT INTO hands (table_id, hand, first_seq, last_seq, started_at, ended_at,"
    " engine, summary, hole_cards, phh) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
_LOCK_LEASES = (
    "SELECT table_id, epoch FROM leases WHERE table_id = ANY(%s)"
    " ORDER BY table_id FOR SHARE"
)
"""Held until the batch commits: a takeover (an UPDATE of the row) waits for
it, so the new owner, loading the table after its take, sees this batch; or
it came first, and this reads the new epoch and refuses. Locked in table
order, as renewals lock, so that the two never deadlock."""
_ENDS = (
    "SELECT table_id, MAX(seq) FROM events WHERE table_id = ANY(%s) GROUP BY table_id"
)
_LOCK_LEASES_WITH_ENDS = (
    "SELECT l.table_id, l.epoch,"
    " (SELECT MAX(e.seq) FROM events e WHERE e.table_id = l.table_id)"
    " FROM leases l WHERE l.table_id = ANY(%s) ORDER BY l.table_id FOR SHARE OF l"
)
"""`_LOCK_LEASES` and `_ENDS` in one round trip, for a fenced batch (a table
with no lease row is refused, so its end is not needed): a batch is a
handful of statements, each a round trip to the database."""


PIPELINED_ROWS = 64
"""A batch of at most this many events is written in pipeline mode, its
statements sent without waiting for each answer (two round trips a batch
instead of five); a larger one by COPY, which pipeline mode cannot carry and
which is faster for many rows (recovery, saturation)."""


class PostgresBackend:
    """The log of every table in one PostgreSQL database, shared by nodes.

    `node` names this node in the leases and turns the fence on: then every
    append must carry the epoch of a lease this node took, checked in the
    append's own transaction. Without it (one writer: tools, tests) nothing
    is fenced, and the `(table, seq)` key and gapless trigger alone keep a
    second writer from forking a log.
    """

    def __init__(self, url: str, *, node: str | None, lease_ttl_s: float) -> None:
        self.database = url
        self.fenced = node is not None
        self._lease_ttl_s = lease_ttl_s
        self.writer = self._bounded(open_database(url))
        self.leases = PostgresLeases(
            url, node or f"unfenced-{uuid.uuid4().hex[:12]}", lease_ttl_s
        )

    def _bounded(self, connection: PgConnection) -> PgConnection:
        """`connection`, whose transactions the database ends when they stand
        idle for a lease ttl (fenced stores).

        An append holds its tables' lease rows FOR SHARE until it commits, and
        another node's take waits for that lock: a node paused in the middle
        of an append (SIGSTOP, a swap storm) would hold its tables forever. By
        then the paused node has stepped down by its own clock (at 80% of the
        ttl), so ending its transaction loses nothing it may still write.
        """
        if self.fenced:
            connection.execute(
                "SELECT set_config('idle_in_transaction_session_timeout', %s, false)",
                (str(max(1, round(self._lease_ttl_s * 1000))),),
            )
        return connection

    def reader(self) -> ReadConnection:
        connection = connect(self.database)
        try:
            check_schema(connection)
        except BaseException:
            connection.close()
            raise
        return PostgresConnection(connection)

    def close(self) -> None:
        self.writer.close()

    def commit(self, batch: list[PendingAppend]) -> None:
        try:
            connection = self._connected()
        except UnavailableError as error:
            for request in batch:
                request.error = error
            return
        try:
            if sum(len(request.rows) for request in batch) <= PIPELINED_ROWS:
                # BEGIN and the leases' lock go out together, then the
                # inserts and COMMIT: two round trips, each a wait of the
                # writer thread and a wake-up for the GIL.
                with connection.pipeline(), connection.transaction():
                    self._write_batch(connection, batch, copy=False)
            else:
                with connection.transaction():
                    self._write_batch(connection, batch, copy=True)
            return
        except psycopg.Error as error:
            if connection.broken:
                for request in batch:
                    request.error = error
                return
            log.info(
                "a batch of %d appends is retried one by one: %s", len(batch), error
            )
        for request in batch:
            request.error = None
        try:
            with connection.transaction():
                for request in batch:
                    self._write_alone(connection, request)
        except psycopg.Error as error:
            for request in batch:
                request.error = request.error or error

    def _connected(self) -> PgConnection:
        """The write connection, opened again if the last one broke."""
        if self.writer.closed or self.writer.broken:
            self.writer.close()
            self.writer = self._bounded(connect(self.database))
        return self.writer

    # The fast way: checks first, then the inserts (pipelined, or one COPY).

    def _write_batch(
        self, connection: PgConnection, batch: list[PendingAppend], *, copy: bool
    ) -> None:
        tables = sorted({request.table_id for request in batch})
        epochs: dict[str, int] = {}
        ends: dict[str, int] = {}
        if self.fenced:
            for table, epoch, end in connection.execute(
                _LOCK_LEASES_WITH_ENDS, (tables,)
            ):
                epochs[str(table)] = int(epoch)
                if end is not None:
                    ends[str(table)] = int(end)
        else:
            ends = {str(t): int(e) for t, e in connection.execute(_ENDS, (tables,))}
        accepted: list[PendingAppend] = []
        written: dict[str, list[EventRow]] = {}
        hands: list[tuple[object, ...]] = []
        for request in batch:
            if self.fenced and not _holds(request, epochs):
                request.error = _fenced(request, epochs)
                continue
            end = ends.get(request.table_id, 0)
            if request.rows and request.first_seq != end + 1:
                request.error = _conflict(request, f"it ends at seq {end}")
                continue
            if request.hand is not None:
                first_seq = self._hand_start(
                    connection, request, written.get(request.table_id, [])
                )
                if first_seq is None:
                    request.error = _no_hand_start(request)
                    continue
                hands.append(hand_values(request, request.hand, first_seq))
            accepted.append(request)
            ends[request.table_id] = max(end, request.last_seq)
            written.setdefault(request.table_id, []).extend(request.rows)
        with connection.cursor() as cursor:
            new_tables = [
                (r.table_id, uuid.uuid4().hex, r.rows[0][4])
                for r in accepted
                if r.first_seq == 1 and r.rows
            ]
            if new_tables:
                cursor.executemany(_INSERT_TABLE, new_tables)
            if copy:
                with cursor.copy(_COPY_EVENTS) as copying:
                    for request in accepted:
                        for row in request.rows:
                            copying.write_row(row)
            else:
                rows = [row for request in accepted for row in request.rows]
                if rows:
                    cursor.executemany(_INSERT_EVENT, rows)
            snapshots = [
                (r.table_id, r.last_seq, SNAPSHOT_FORMAT, r.snapshot)
                for r in accepted
                if r.snapshot is not None
            ]
            if snapshots:
                cursor.executemany(_UPSERT_SNAPSHOT, snapshots)
            if hands:
                cursor.executemany(_INSERT_HAND, hands)

    @staticmethod
    def _hand_start(
        connection: PgConnection, request: PendingAppend, earlier: list[EventRow]
    ) -> int | None:
        """The seq of the hand_started of the hand the append ends: in the
        append, in the batch's earlier appends of the table, or in the log."""
        last = hand_ended_seq(request)
        for _, seq, kind, _, _, _ in reversed([*earlier, *request.rows]):
            if kind == _STARTED and seq <= last:
                return seq
        row = connection.execute(
            "SELECT MAX(seq) FROM events WHERE table_id = %s AND seq <= %s"
            " AND type = %s",
            (request.table_id, last, _STARTED),
        ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    # The careful way: each append in a savepoint of its own.

    def _write_alone(self, connection: PgConnection, request: PendingAppend) -> None:
        try:
            with connection.transaction():
                if self.fenced:
                    rows = connection.execute(
                        _LOCK_LEASES, ([request.table_id],)
                    ).fetchall()
                    epochs = {str(table): int(epoch) for table, epoch in rows}
                    if not _holds(request, epochs):
                        raise _fenced(request, epochs)
                with connection.cursor() as cursor:
                    if request.first_seq == 1 and request.rows:
                        cursor.execute(
                            _INSERT_TABLE,
                            (request.table_id, uuid.uuid4().hex, request.rows[0][4]),
                        )
                    cursor.executemany(_INSERT_EVENT, request.rows)
                    if request.snapshot is not None:
                        cursor.execute(
                            _UPSERT_SNAPSHOT,
                            (
                                request.table_id,
                                request.last_seq,
                                SNAPSHOT_FORMAT,
                                request.snapshot,
                            ),
                        )
                    if request.hand is not None:
                        first_seq = hand_first_seq(
                            PostgresConnection(connection), request
                        )
                        cursor.execute(
                            _INSERT_HAND, hand_values(request, request.hand, first_seq)
                        )
        except psycopg.IntegrityError as error:
            request.error = _conflict(request, first_line(error))
        except (FencedError, ValueError) as error:
            request.error = error
        except psycopg.Error as error:
            if connection.broken:
                raise
            request.error = error


def _holds(request: PendingAppend, epochs: dict[str, int]) -> bool:
    return request.epoch is not None and epochs.get(request.table_id) == request.epoch


def _fenced(request: PendingAppend, epochs: dict[str, int]) -> FencedError:
    now = epochs.get(request.table_id)
    where = "no lease" if now is None else f"epoch {now}"
    return FencedError(
        f"table {request.table_id}: this node's lease (epoch {request.epoch}) was "
        f"taken over: the lease is at {where}"
    )


def _conflict(request: PendingAppend, why: str) -> ConflictError:
    return ConflictError(
        f"table {request.table_id}: the log does not end at seq "
        f"{request.first_seq - 1} ({why})"
    )


def _no_hand_start(request: PendingAppend) -> ValueError:
    assert request.hand is not None
    return ValueError(
        f"table {request.table_id}: hand {request.hand.hand} ends at seq "
        f"{hand_ended_seq(request)}, but no hand_started comes before it"
    )
