"""The server's core: running tables, seat tokens, idempotent requests, long polls.

Everything here speaks values (protocol messages, plain JSON-ready dicts) and
raises `ServiceError` (an HTTP status and a `protocol.Error`) for what the
caller must be told; `pokerd.server.app` only maps it onto HTTP.

A request's seat comes only from its token: the table's state says which seat
the token's hash holds now. A seat token's requests are remembered by their
id (the last `REMEMBERED_IDS` of each token, per table) so that a request sent
again gets its first answer instead of being applied twice. That memory lives
in this process only: after a restart, a request sent again is decided afresh
(it is then usually refused, the turn having moved on).
"""

from __future__ import annotations

import sqlite3
from collections import OrderedDict
from collections.abc import Callable, Sequence
from contextlib import aclosing
from typing import Any

import attrs
import trio

from pokerd.engine.commands import Command, SitDown
from pokerd.engine.config import TableConfig
from pokerd.engine.errors import RuleError
from pokerd.engine.state import TableState
from pokerd.engine.views import Viewer, redaction_for, sat_before_hand, view
from pokerd.ops.metrics import Metrics
from pokerd.store.log import ConflictError, EventStore, StoredEvent
from pokerd.store.reader import (
    LoadedTable,
    hand_rows,
    load_table,
    read_events,
    table_epoch,
    table_ids,
)
from pokerd.tables.feed import Stream, event_messages, open_stream
from pokerd.tables.hub import Batch, SlowConsumerError, Subscription, TableHub
from pokerd.tables.supervisor import StoppedTable, Supervisor, TableStoppedError
from pokerd.tables.table import Table, TableClosedError, wall_clock_ms
from pokerd.tables.tokens import new_token, token_hash
from pokerd.wire import codec
from pokerd.wire.protocol import (
    Ack,
    Error,
    Resume,
    SeatRequest,
    request_id_problem,
    to_command,
)

PAGE_EVENTS = 500
"""Most events in one answer of the events route: the client asks again."""
MAX_WAIT_S = 30.0
"""Longest long poll."""
REMEMBERED_IDS = 64
"""Request ids remembered per seat token (oldest forgotten first). A client
resends only what was unanswered when its connection dropped, its latest
few requests; 64 a token keeps 6,000 players' memories near 100 MB."""
REMEMBERED_TOKENS = 32
"""Seat tokens per table whose request ids are remembered (least recently used
forgotten first): the seated players', and those who left lately, so that a
`leave` sent again still gets its first answer."""
ATTEMPTS = 3
"""Tries of a command on a table that is being restarted under it."""
PUBLIC_HAND_COLUMNS = (
    "hand",
    "first_seq",
    "last_seq",
    "started_at",
    "ended_at",
    "engine",
    "summary",
)


class ServiceError(Exception):
    """A request answered with an error: the HTTP status and the Error message."""

    def __init__(
        self, status: int, code: str, message: str, request_id: str | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.error = Error(code=code, message=message, id=request_id)


@attrs.frozen
class Answer:
    """What a seat request was answered, with its HTTP status."""

    status: int
    message: Ack | Error


@attrs.define(eq=False)
class _Pending:
    """A request id's answer, or the promise of it while the request runs."""

    done: trio.Event = attrs.Factory(trio.Event)
    answer: Answer | None = None


class RequestMemory:
    """The answers to each seat token's latest request ids, at one table."""

    def __init__(
        self, ids_per_token: int = REMEMBERED_IDS, tokens: int = REMEMBERED_TOKENS
    ) -> None:
        self._ids_per_token = ids_per_token
        self._tokens_kept = tokens
        self._tokens: OrderedDict[str, OrderedDict[str, _Pending | Answer]] = (
            OrderedDict()
        )

    def get(self, hashed: str, request_id: str) -> _Pending | Answer | None:
        """The request's answer, or its promise while it runs, or None."""
        ids = self._tokens.get(hashed)
        return None if ids is None else ids.get(request_id)

    def claim(self, hashed: str, request_id: str) -> _Pending:
        """Register `request_id` as running (no await between `get` and this)."""
        ids = self._tokens.get(hashed)
        if ids is None:
            ids = self._tokens[hashed] = OrderedDict()
            while len(self._tokens) > self._tokens_kept:
                self._tokens.popitem(last=False)
        else:
            self._tokens.move_to_end(hashed)
        pending = ids[request_id] = _Pending()
        while len(ids) > self._ids_per_token:
            ids.popitem(last=False)
        return pending

    def forget(self, hashed: str, request_id: str, pending: _Pending) -> None:
        """Drop a request that got no answer (so that it may be sent again)."""
        ids = self._tokens.get(hashed)
        if ids is not None and ids.get(request_id) is pending:
            del ids[request_id]

    def settle(self, hashed: str, request_id: str, pending: _Pending) -> None:
        """Keep only the answer of a request that is done (its promise, with
        an event, is three times the size, and thousands are kept)."""
        ids = self._tokens.get(hashed)
        answer = pending.answer
        if ids is not None and answer is not None and ids.get(request_id) is pending:
            ids[request_id] = answer


class PokerService:
    """The supervised tables, each with its hub, and every request's handling."""

    def __init__(
        self,
        store: EventStore,
        *,
        next_hand_delay_ms: int = 3_000,
        subscriber_queue: int = 256,
        clock: Callable[[], int] = wall_clock_ms,
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.metrics = Metrics() if metrics is None else metrics
        store.on_append = self._appended
        self.metrics.gauge(
            "pokerd_tables_live",
            "Tables running (their clock and dealer in this process).",
            lambda: [((), self.running_tables())],
        )
        self.metrics.gauge(
            "pokerd_long_polls",
            "HTTP long polls waiting for events.",
            lambda: [((), len(self._polls))],
        )
        self.supervisor = Supervisor(
            store,
            publish=self._publish,
            clock=clock,
            next_hand_delay_ms=next_hand_delay_ms,
            on_stopped=self._stopped,
        )
        self._subscriber_queue = subscriber_queue
        self._hubs: dict[str, TableHub] = {}
        self._epochs: dict[str, str] = {}
        self._locks: dict[str, trio.Lock] = {}
        self._memories: dict[str, RequestMemory] = {}
        self._polls: set[trio.CancelScope] = set()
        self._closing = False

    # Running

    async def run(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Resume the tables the log says must run, then serve until cancelled."""
        await self.supervisor.run(task_status=task_status)

    def close(self) -> None:
        """Shutting down: long polls answer at once, and no new one waits."""
        self._closing = True
        for scope in self._polls:
            scope.cancel()

    def running_tables(self) -> int:
        return len(self.supervisor.table_ids())

    def _appended(self, events: int, seconds: float) -> None:
        self.metrics.events_appended.inc(by=events)
        self.metrics.append_latency.observe(seconds)

    def _stopped(self, stopped: StoppedTable) -> None:
        """A stopped table's streams end, told why."""
        hub = self._hubs.get(stopped.table_id)
        if hub is not None:
            hub.end(f"the table was stopped: {stopped.reason}")

    def hub(self, table_id: str) -> TableHub:
        hub = self._hubs.get(table_id)
        if hub is None:
            hub = self._hubs[table_id] = TableHub(self._subscriber_queue)
        return hub

    def _publish(
        self, table_id: str, events: Sequence[StoredEvent], state: TableState
    ) -> None:
        """The tables' Publisher: never raises, never waits."""
        hub = self._hubs.get(table_id)
        if hub is not None:
            hub.publish(events, state)

    # Tables

    async def create_table(self, config: TableConfig) -> dict[str, Any]:
        try:
            table_id = await self.supervisor.create_table(config)
        except RuleError as error:
            raise ServiceError(409, error.code, error.message) from None
        return {"table": table_id, "epoch": await self._epoch(table_id)}

    async def list_tables(self) -> list[dict[str, Any]]:
        """Every table in the log: its config, seats taken and hands played."""
        ids = await self.store.read(table_ids)
        states: dict[str, TableState] = {}
        idle = []
        for table_id in ids:
            try:
                table = self.supervisor.get(table_id)
            except TableStoppedError:
                table = None
            if table is None:
                idle.append(table_id)
            else:
                states[table_id] = table.state
        if idle:
            for loaded in await self.store.read(_load_tables, idle):
                states[loaded.table_id] = loaded.state
        return [
            {
                "table": table_id,
                "config": codec.unstructure(states[table_id].config),
                "seats_taken": sum(seat is not None for seat in states[table_id].seats),
                "hands_played": states[table_id].hands_played,
            }
            for table_id in ids
            if table_id in states
        ]

    async def table_view(self, table_id: str, token: str | None) -> dict[str, Any]:
        """The table as the token's seat (or a spectator) sees it, with its seq."""
        epoch = await self._epoch(table_id)
        table = await self._open(table_id)
        state, seq = table.state, table.seq
        seat = _viewer(state, token)
        data: dict[str, Any] = codec.unstructure(view(state, seat))
        data["epoch"] = epoch
        data["seq"] = seq
        return data

    # Seats and requests

    async def sit_down(
        self, table_id: str, *, seat: int, name: str, buy_in: int
    ) -> dict[str, Any]:
        """Seat a player; the answer holds their token (the table keeps its hash)."""
        epoch = await self._epoch(table_id)
        token, hashed = new_token()
        command = SitDown(seat=seat, name=name, buy_in=buy_in, token_hash=hashed)
        try:
            async with self._lock(table_id):
                stored = await self._execute(table_id, lambda _: command)
        except RuleError as error:
            raise ServiceError(409, error.code, error.message) from None
        return {"token": token, "seat": seat, "epoch": epoch, "seq": stored[-1].seq}

    async def request(
        self, table_id: str, token: str | None, request: SeatRequest
    ) -> Answer:
        """Apply a seat request for the seat `token` holds, once per request id."""
        await self._open(table_id)
        if not token:
            raise ServiceError(401, "bad_token", "a seat request needs a seat token")
        problem = request_id_problem(request.id)
        if problem is not None:
            raise ServiceError(400, "bad_request", problem)
        hashed = token_hash(token)
        memory = self._memories.setdefault(table_id, RequestMemory())
        while (known := memory.get(hashed, request.id)) is not None:
            if isinstance(known, Answer):
                return known
            if known.answer is not None:
                return known.answer
            await known.done.wait()  # the same request, still running
        pending = memory.claim(hashed, request.id)
        try:
            pending.answer = await self._apply(table_id, hashed, request)
            return pending.answer
        finally:
            # An error that is not the table's answer (a bad token, a table
            # restarting, a cancelled caller) is not remembered.
            if pending.answer is None:
                memory.forget(hashed, request.id, pending)
            else:
                memory.settle(hashed, request.id, pending)
            pending.done.set()

    async def _apply(self, table_id: str, hashed: str, request: SeatRequest) -> Answer:
        def command_for(table: Table) -> Command:
            seat = table.state.seat_of_token(hashed)
            if seat is None:
                raise ServiceError(
                    401,
                    "bad_token",
                    "this token holds no seat at this table",
                    request.id,
                )
            return to_command(request, seat, table.clock())

        try:
            # The service's lock: no SitDown between reading the token's seat
            # and the command reaching the table, so the seat cannot change
            # hands in between.
            async with self._lock(table_id):
                stored, table = await self._execute_on(table_id, command_for)
        except RuleError as error:
            return Answer(
                409, Error(code=error.code, message=error.message, id=request.id)
            )
        seq = stored[-1].seq if stored else table.seq
        return Answer(200, Ack(id=request.id, seq=seq))

    async def _execute(
        self, table_id: str, command_for: Callable[[Table], Command]
    ) -> list[StoredEvent]:
        stored, _ = await self._execute_on(table_id, command_for)
        return stored

    async def _execute_on(
        self, table_id: str, command_for: Callable[[Table], Command]
    ) -> tuple[list[StoredEvent], Table]:
        """Run the command on the live table, again if it was restarted meanwhile.

        No await between building the command from the table and `execute`
        taking it: the command is built from the state it is decided against
        (bar the table's own clock and dealer, which seat nobody).
        """
        for _ in range(ATTEMPTS):
            table = await self._open(table_id)
            try:
                return await table.execute(command_for(table)), table
            except TableClosedError:
                continue
            except ConflictError as error:
                raise ServiceError(
                    503, "table_stopped", f"the table was stopped: {error}"
                ) from None
        raise ServiceError(
            503, "table_restarting", "the table is restarting: try again"
        )

    # Events

    async def open_stream(
        self, table_id: str, token: str | None, resume: Resume | None
    ) -> Stream:
        """Subscribe the token's seat (no token: a spectator) to the table's
        events: the welcome, the missed events or a snapshot, then live."""
        epoch = await self._epoch(table_id)
        table = await self._open(table_id)
        # No await from reading the seat to `open_stream` reading the state.
        seat = _viewer(table.state, token)
        return await open_stream(
            table, self.hub(table_id), self.store, seat, resume, epoch=epoch
        )

    async def events(
        self,
        table_id: str,
        token: str | None,
        *,
        after: int,
        wait: float = 0.0,
        epoch: str | None = None,
    ) -> dict[str, Any]:
        """The events after `after` as the caller may see them, or their view.

        With nothing new yet and `wait` > 0, waits up to `wait` seconds for the
        table's next batch. `recovered` is False when `after` is ahead of the
        log or `epoch` names another log: `view` is the caller's whole view
        then, and the client goes on from `seq`.
        """
        if after < 0:
            raise ServiceError(400, "bad_request", "after is an offset, 0 or more")
        current_epoch = await self._epoch(table_id)
        table = await self._open(table_id)
        # No await from here to subscribing: the seq and the hub's queue meet
        # without a seam.
        state, seq = table.state, table.seq
        seat = _viewer(state, token)
        answer: dict[str, Any] = {"epoch": current_epoch, "seq": seq}
        if (epoch is not None and epoch != current_epoch) or after > seq:
            answer["recovered"] = False
            answer["events"] = []
            answer["view"] = codec.unstructure(view(state, seat))
            return answer
        answer["recovered"] = True
        events: list[StoredEvent] | tuple[StoredEvent, ...] = []
        last_state: TableState | None = None
        if after < seq:
            events = await self.store.read(
                read_events, table_id, after, seq, PAGE_EVENTS
            )
            if events and events[-1].seq == seq:
                last_state = state
        elif wait > 0 and not self._closing:
            subscription = self.hub(table_id).subscribe(seat, since=seq)
            batch = await self._next_batch(subscription, min(wait, MAX_WAIT_S))
            if batch is not None:
                events, last_state = batch.events, batch.state
        messages = event_messages(events, last_state, seat, redaction_for(state, seat))
        answer["events"] = [codec.unstructure_message(m) for m in messages]
        if events:
            answer["seq"] = events[-1].seq
        return answer

    async def _next_batch(
        self, subscription: Subscription, wait: float
    ) -> Batch | None:
        scope = trio.move_on_after(wait)
        self._polls.add(scope)
        try:
            with scope:
                async with aclosing(subscription.batches()) as batches:
                    async for batch in batches:
                        return batch
        except SlowConsumerError:
            return None
        finally:
            self._polls.discard(scope)
            subscription.close()
        return None

    # Hand histories

    async def hands(self, table_id: str) -> list[dict[str, Any]]:
        """Every finished hand's public summary row, oldest first."""
        await self._epoch(table_id)
        rows = await self.store.read(hand_rows, table_id)
        return [_public_row(row) for row in rows]

    async def hand(
        self, table_id: str, number: int, token: str | None
    ) -> dict[str, Any]:
        """A hand's public row, with the caller's own hole cards if they held them."""
        row = await self._hand_row(table_id, number)
        seat: Viewer = None
        own = False
        if token is not None:
            table = await self._open(table_id)
            seat = _viewer(table.state, token)
            own = sat_before_hand(table.state, seat, number)
        answer = _public_row(row)
        answer["viewer"] = seat
        answer["hole_cards"] = row["hole_cards"].get(str(seat), []) if own else []
        return answer

    async def hand_phh(self, table_id: str, number: int) -> str:
        """The hand as PHH, as a spectator may see it."""
        row = await self._hand_row(table_id, number)
        return str(row["phh"])

    async def _hand_row(self, table_id: str, number: int) -> dict[str, Any]:
        await self._epoch(table_id)
        rows = await self.store.read(hand_rows, table_id, number)
        if not rows:
            raise ServiceError(
                404, "no_such_hand", f"table {table_id} has no finished hand {number}"
            )
        return rows[0]

    # Helpers

    def _lock(self, table_id: str) -> trio.Lock:
        lock = self._locks.get(table_id)
        if lock is None:
            lock = self._locks[table_id] = trio.Lock()
        return lock

    async def _epoch(self, table_id: str) -> str:
        """The table's epoch (which log); 404 if the log has no such table."""
        epoch = self._epochs.get(table_id)
        if epoch is None:
            try:
                epoch = await self.store.read(table_epoch, table_id)
            except sqlite3.Error as error:
                raise ServiceError(
                    503, "unavailable", f"the log cannot be read: {error}"
                ) from None
            if epoch is None:
                raise _no_such_table(table_id)
            self._epochs[table_id] = epoch
        return epoch

    async def _open(self, table_id: str) -> Table:
        """The running table (loaded and started if it was idle)."""
        try:
            table = await self.supervisor.open_table(table_id)
        except TableStoppedError as error:
            raise ServiceError(503, "table_stopped", str(error)) from None
        if table is None:
            raise _no_such_table(table_id)
        return table


def _no_such_table(table_id: str) -> ServiceError:
    return ServiceError(404, "no_such_table", f"there is no table {table_id!r}")


def _viewer(state: TableState, token: str | None) -> Viewer:
    """The seat `token` holds (None for no token); a token that holds no seat
    is refused."""
    if token is None:
        return None
    seat = state.seat_of_token(token_hash(token)) if token else None
    if seat is None:
        raise ServiceError(401, "bad_token", "this token holds no seat at this table")
    return seat


def _public_row(row: dict[str, Any]) -> dict[str, Any]:
    return {column: row[column] for column in PUBLIC_HAND_COLUMNS}


def _load_tables(connection: sqlite3.Connection, ids: list[str]) -> list[LoadedTable]:
    loaded = (load_table(connection, table_id) for table_id in ids)
    return [table for table in loaded if table is not None]
