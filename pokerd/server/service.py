"""The server's core: running tables, seat tokens, idempotent requests, long polls.

Everything here speaks values (protocol messages, plain JSON-ready dicts) and
raises `ServiceError` (an HTTP status and a `protocol.Error`) for what the
caller must be told; `pokerd.server.app` only maps it onto HTTP.

A request's seat comes only from its token: the table's state says which seat
the token's hash holds now. What the service keeps of each running table (its
hub, epoch, lock and request memory) is one `ServedTable`, dropped when the
supervisor stops the table. A seat token's requests are remembered by their
id (the last `REMEMBERED_IDS` of each token, per table) so that a request sent
again gets its first answer instead of being applied twice, and the same
id sent with other content is refused (`id_reused`). A request that changed
the table is kept with its events in the log (`AppliedRequest`), and a node
that loads the table fills the memory from the log's recent ones: a request
sent again after a restart or to the table's next node gets its first ack.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from contextlib import aclosing
from typing import Any

import attrs
import trio

from pokerd.engine.commands import CloseTable, Command, SitDown
from pokerd.engine.config import TableConfig
from pokerd.engine.errors import RuleError
from pokerd.engine.state import TableState
from pokerd.engine.views import Viewer, sat_before_hand, view
from pokerd.ops.metrics import Metrics
from pokerd.ops.settings import DEFAULTS
from pokerd.store.backend import ReadConnection
from pokerd.store.errors import DATABASE_ERRORS
from pokerd.store.log import (
    AppliedRequest,
    ConflictError,
    EventStore,
    FencedError,
    StoredEvent,
)
from pokerd.store.reader import (
    HandResult,
    hand_rows,
    load_table,
    recent_hand_results,
    table_count,
    table_epoch,
    tables_by_creation,
)
from pokerd.tables.feed import Feed, open_feed
from pokerd.tables.hub import (
    Batch,
    DeliverNow,
    SlowConsumerError,
    Subscription,
    TableHub,
)
from pokerd.tables.lobby import RECENT_HANDS, Lobby
from pokerd.tables.supervisor import (
    StoppedTable,
    Supervisor,
    TableElsewhereError,
    TableStoppedError,
)
from pokerd.tables.table import Table, TableClosedError, wall_clock_ms
from pokerd.tables.tokens import new_token, token_hash
from pokerd.wire import codec
from pokerd.wire.protocol import (
    MAX_POLL_WAIT_S,
    PAGE_EVENTS,
    Ack,
    Error,
    ErrorCode,
    EventMessage,
    Resume,
    SeatRequest,
    Snapshot,
    request_id_problem,
    to_command,
)

REMEMBERED_IDS = 64
"""Request ids remembered per seat token (oldest forgotten first). A client
resends only what was unanswered when its connection dropped, its latest
few requests; 64 a token keeps 6,000 players' memories near 100 MB."""
REMEMBERED_TOKENS = 32
"""Seat tokens per table whose request ids are remembered (least recently used
forgotten first): the seated players', and those who left lately, so that a
`leave` sent again still gets its first answer."""
MOVING_RETRY_AFTER_S = 1
"""`Retry-After` of a 503 `table_moving`: a hand-off or a takeover completes
within about a keeper tick (ttl/3), and the router moves a slot within its
health checks' `fall x inter` (docs/cluster.md)."""
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
        self,
        status: int,
        code: str,
        message: str,
        request_id: str | None = None,
        *,
        moved_to: str | None = None,
        retry_after_s: int | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.error = Error(code=code, message=message, id=request_id)
        self.moved_to = moved_to
        """The table runs on another node: the base URL of that node (a 307
        redirect), or "" behind the cluster's router (come back here later)."""
        self.retry_after_s = retry_after_s
        """Seconds for HTTP's `Retry-After`, if the answer has one."""


@attrs.frozen
class Answer:
    """What a seat request was answered, with its HTTP status."""

    status: int
    message: Ack | Error


def request_digest(request: SeatRequest) -> str:
    """What tells a resend (same content) from another request under the same
    id: a hash of the request's wire form, kept in the log with its events."""
    text = codec.compact_json(codec.unstructure_message(request))
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


@attrs.define(eq=False)
class _Pending:
    """A request id's answer, or the promise of it while the request runs."""

    digest: str
    done: trio.Event = attrs.Factory(trio.Event)
    answer: Answer | None = None


@attrs.frozen
class Settled:
    """A request id's request (its digest) and the answer it got, kept once
    it is done."""

    digest: str
    answer: Answer


class RequestMemory:
    """The answers to each seat token's latest request ids, at one table."""

    def __init__(
        self, ids_per_token: int = REMEMBERED_IDS, tokens: int = REMEMBERED_TOKENS
    ) -> None:
        self._ids_per_token = ids_per_token
        self._tokens_kept = tokens
        self._tokens: OrderedDict[str, OrderedDict[str, _Pending | Settled]] = (
            OrderedDict()
        )

    def get(self, hashed: str, request_id: str) -> _Pending | Settled | None:
        """The request and its answer, or its promise while it runs, or None."""
        ids = self._tokens.get(hashed)
        return None if ids is None else ids.get(request_id)

    def claim(self, hashed: str, request_id: str, digest: str) -> _Pending:
        """Register a request as running under its id (no await between `get`
        and this)."""
        pending = _Pending(digest)
        self._keep(hashed, request_id, pending)
        return pending

    def recall(self, applied: Iterable[AppliedRequest]) -> None:
        """Remember requests the log says were applied, oldest first, each
        answered with an ack at the seq of the last event it caused."""
        for request in applied:
            answer = Answer(200, Ack(id=request.request_id, seq=request.seq))
            self._keep(
                request.token_hash,
                request.request_id,
                Settled(request.digest, answer),
            )

    def _keep(self, hashed: str, request_id: str, kept: _Pending | Settled) -> None:
        ids = self._tokens.get(hashed)
        if ids is None:
            ids = self._tokens[hashed] = OrderedDict()
            while len(self._tokens) > self._tokens_kept:
                self._tokens.popitem(last=False)
        else:
            self._tokens.move_to_end(hashed)
        ids.pop(request_id, None)  # a recalled id: last, as if claimed now
        ids[request_id] = kept
        while len(ids) > self._ids_per_token:
            ids.popitem(last=False)

    def forget(self, hashed: str, request_id: str, pending: _Pending) -> None:
        """Drop a request that got no answer (so that it may be sent again)."""
        ids = self._tokens.get(hashed)
        if ids is not None and ids.get(request_id) is pending:
            del ids[request_id]

    def settle(self, hashed: str, request_id: str, pending: _Pending) -> None:
        """Keep only the request and answer of a request that is done (its
        promise, with an event, is three times the size, and thousands are
        kept)."""
        ids = self._tokens.get(hashed)
        answer = pending.answer
        if ids is not None and answer is not None and ids.get(request_id) is pending:
            ids[request_id] = Settled(pending.digest, answer)


TABLE_CLOSED_REASON = "the table is closed"
"""Why a closed table's streams end (docs/protocol.md, Closing a table)."""


@attrs.define(eq=False)
class ServedTable:
    """What the service keeps of one running table, beside the supervisor's
    record of it (created when the service first opens the table, dropped
    when the supervisor stops it)."""

    epoch: str
    hub: TableHub
    lock: trio.Lock = attrs.Factory(trio.Lock)
    """Held from reading a token's seat to its command reaching the table,
    and while sitting down, so a seat cannot change hands in between."""
    memory: RequestMemory = attrs.Factory(RequestMemory)


class PokerService:
    """The supervised tables, each with its hub, and every request's handling."""

    def __init__(
        self,
        store: EventStore,
        *,
        next_hand_delay_ms: int = DEFAULTS.next_hand_delay_ms,
        subscriber_queue: int = DEFAULTS.subscriber_queue,
        clock: Callable[[], int] = wall_clock_ms,
        metrics: Metrics | None = None,
        cluster_routing: bool = DEFAULTS.cluster_routing,
    ) -> None:
        self.store = store
        self.metrics = Metrics() if metrics is None else metrics
        self.metrics.gauge(
            "pokerd_tables_live",
            "Tables running (their clock and dealer in this process).",
            lambda: [((), self.running_tables())],
        )
        self.metrics.gauge(
            "pokerd_long_polls",
            "HTTP long polls waiting for events.",
            lambda: [((), len(self._polls) - self._lobby_polls)],
        )
        self.metrics.gauge(
            "pokerd_lobby_polls",
            "HTTP long polls waiting for the lobby's next change.",
            lambda: [((), self._lobby_polls)],
        )
        self.supervisor = Supervisor(
            store,
            publish=self._publish,
            clock=clock,
            next_hand_delay_ms=next_hand_delay_ms,
            on_stopped=self._stopped,
            on_moved=self._moved,
            metrics=self.metrics,
            cluster_routing=cluster_routing,
        )
        if store.fenced:
            self.metrics.gauge(
                "pokerd_leases_held",
                "Table leases this node holds (PostgreSQL).",
                lambda: [((), len(store.leases.held()))],
            )
            self.metrics.gauge(
                "pokerd_nodes_up",
                "Nodes up at this node's last look (seen within the lease ttl,"
                " started at least the join delay ago).",
                lambda: [((), len(self.supervisor.up))],
            )
            self.metrics.counter(
                "pokerd_appends_fenced_total",
                "Appends refused by the lease fence (this node no longer held"
                " the table's lease).",
                lambda: [((), store.statistics().fenced)],
            )
        self._subscriber_queue = subscriber_queue
        self._tables: dict[str, ServedTable] = {}
        self._polls: set[trio.CancelScope] = set()
        self._lobby_polls = 0
        self._closing = False
        self.lobby = Lobby()
        """The lobby's board: fed from every table this process runs."""
        self._lobby_loading = trio.Lock()
        self._creating = trio.Lock()

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

    def served(self, table_id: str) -> ServedTable | None:
        """The service's record of a running table it has opened, or None."""
        return self._tables.get(table_id)

    def _stopped(self, stopped: StoppedTable) -> None:
        """A stopped table's record goes, and its feeds end, told why."""
        served = self._tables.pop(stopped.table_id, None)
        if served is not None:
            served.hub.end(f"the table was stopped: {stopped.reason}")
        self.lobby.stop(stopped.table_id, stopped.reason)

    def _moved(self, table_id: str, reason: str) -> None:
        """A table that stepped down: its feeds end, told to reconnect."""
        served = self._tables.pop(table_id, None)
        if served is not None:
            served.hub.end(
                f"the table moved to another node: {reason}",
                moved=True,
            )

    def _publish(
        self, table_id: str, events: Sequence[StoredEvent], state: TableState
    ) -> None:
        """The tables' Publisher: never raises, never waits."""
        served = self._tables.get(table_id)
        if served is not None:
            served.hub.publish(events, state)
            if state.closed:
                # After the batch that closed it: nothing can follow, so the
                # streams end, as for a table that is gone.
                served.hub.end(TABLE_CLOSED_REASON, closed=True)
        self.lobby.record(table_id, events, state)

    # Tables

    async def create_table(self, config: TableConfig) -> dict[str, Any]:
        """Create a table; one given no name (or only spaces) is named
        `Table N`, N one more than the tables the log holds (docs/design.md,
        "The lobby"). The answer holds its creator token, which may close it
        (the table keeps only its hash, as it does seat tokens')."""
        creator_token, creator_hash = new_token()
        try:
            async with self._creating:
                # Held from counting to the table's first event: two tables
                # created at once in this process get two numbers.
                name = config.name.strip()
                if not name:
                    name = f"Table {await self.store.read(table_count) + 1}"
                config = attrs.evolve(config, name=name)
                table_id = await self.supervisor.create_table(config, creator_hash)
        except RuleError as error:
            raise ServiceError(409, error.code, error.message) from None
        _, served = await self._running(table_id)
        return {
            "table": table_id,
            "epoch": served.epoch,
            "creator_token": creator_token,
        }

    async def close_table(self, table_id: str, token: str | None) -> dict[str, Any]:
        """Close the table for its creator: at once, or when the hand being
        played ends (`closed` False then); players are cashed out."""
        await self._running(table_id)
        if not token:
            raise ServiceError(
                401, ErrorCode.BAD_TOKEN, "closing a table needs its creator token"
            )
        hashed = token_hash(token)

        def command_for(table: Table) -> Command:
            creator = table.state.creator_hash
            if not creator or creator != hashed:
                raise ServiceError(
                    403,
                    ErrorCode.NOT_CREATOR,
                    "only the table's creator token may close it"
                    if creator
                    else "this table has no creator token: nobody may close it",
                )
            return CloseTable()

        try:
            stored, table = await self._execute_on(table_id, command_for)
        except RuleError as error:
            raise ServiceError(409, error.code, error.message) from None
        return {
            "table": table_id,
            "closed": table.state.closed,
            "seq": stored[-1].seq if stored else table.seq,
        }

    async def list_tables(self) -> list[dict[str, Any]]:
        """Every open table in the log as the lobby shows it (`Lobby`): a
        closed or closing table is left out."""
        await self._load_lobby()
        return self.lobby.lines()

    async def lobby_changes(
        self, board: str | None, after: int, wait: float
    ) -> dict[str, Any]:
        """The lobby's lines changed after version `after` of `board`, waiting
        up to `wait` seconds while there are none; the whole board if `board`
        is not this one (a restart, another node) or `after` is ahead of it."""
        lobby = self.lobby
        if board != lobby.board or not 0 <= after <= lobby.version:
            await self._load_lobby()
            return lobby.whole()
        if after == lobby.version and wait > 0 and not self._closing:
            scope = trio.move_on_after(min(wait, MAX_POLL_WAIT_S))
            self._polls.add(scope)
            self._lobby_polls += 1
            try:
                with scope:
                    await lobby.changed.wait()
            finally:
                self._lobby_polls -= 1
                self._polls.discard(scope)
        return lobby.since(after)

    def watching(self, table_id: str, change: int) -> None:
        """A spectator's live stream opened (+1) or closed (-1)."""
        self.lobby.watch(table_id, change)

    async def _load_lobby(self) -> None:
        """Give the lobby a line for every table of the log, once (on a
        fenced store, where other nodes run tables this one hears nothing
        of, their lines are read again at each call)."""
        async with self._lobby_loading:
            if self.lobby.loaded and not self.store.fenced:
                return
            ids = await self.store.read(tables_by_creation)
            here = set(self.supervisor.table_ids())
            if self.lobby.loaded:
                ids = [table_id for table_id in ids if table_id not in here]
            stopped = {
                s.table_id: s.reason for s in self.supervisor.statistics().stopped
            }
            idle = [table_id for table_id in ids if table_id not in here]
            loaded = await self.store.read(_load_lobby_tables, ids, idle)
            # No await from here on: a running table's state is read now, and
            # what its events told the board during the read is merged in.
            for table_id, (read_state, results) in loaded.items():
                try:
                    table = self.supervisor.get(table_id)
                except TableStoppedError as error:
                    table = None
                    stopped.setdefault(table_id, error.stopped.reason)
                state = read_state if table is None else table.state
                if state is not None:
                    self.lobby.merge(
                        table_id, state, results, stopped=stopped.get(table_id)
                    )
            self.lobby.loaded = True

    async def table_exists(self, table_id: str) -> bool:
        """Whether the log has the table (it may be stopped or idle)."""
        if table_id in self._tables:
            return True
        try:
            await self._epoch(table_id)
        except ServiceError as error:
            if error.status == 404:
                return False
            raise
        return True

    async def table_view(self, table_id: str, token: str | None) -> dict[str, Any]:
        """The table as the token's seat (or a spectator) sees it, with its seq."""
        table, served = await self._running(table_id)
        state, seq = table.state, table.seq
        seat = _viewer(state, token)
        data: dict[str, Any] = codec.unstructure(view(state, seat))
        data["epoch"] = served.epoch
        data["seq"] = seq
        return data

    # Seats and requests

    async def sit_down(
        self, table_id: str, *, seat: int, name: str, buy_in: int
    ) -> dict[str, Any]:
        """Seat a player; the answer holds their token (the table keeps its hash)."""
        _, served = await self._running(table_id)
        token, hashed = new_token()
        command = SitDown(seat=seat, name=name, buy_in=buy_in, token_hash=hashed)
        try:
            async with served.lock:
                stored = await self._execute(table_id, lambda _: command)
        except RuleError as error:
            raise ServiceError(409, error.code, error.message) from None
        return {
            "token": token,
            "seat": seat,
            "epoch": served.epoch,
            "seq": stored[-1].seq,
        }

    async def request(
        self, table_id: str, token: str | None, request: SeatRequest
    ) -> Answer:
        """Apply a seat request for the seat `token` holds, once per request id."""
        _, served = await self._running(table_id)
        if not token:
            raise ServiceError(
                401, ErrorCode.BAD_TOKEN, "a seat request needs a seat token"
            )
        problem = request_id_problem(request.id)
        if problem is not None:
            raise ServiceError(400, ErrorCode.BAD_REQUEST, problem)
        hashed = token_hash(token)
        digest = request_digest(request)
        memory = served.memory
        while (known := memory.get(hashed, request.id)) is not None:
            if known.digest != digest:
                # A resend has the same content; this is another request, and
                # answering it with the first one's answer would tell the
                # client that it was applied.
                raise ServiceError(
                    422,
                    ErrorCode.ID_REUSED,
                    f"the id {request.id!r} was used for another request:"
                    " a new request needs a new id",
                    request.id,
                )
            if known.answer is not None:
                return known.answer
            assert isinstance(known, _Pending)
            await known.done.wait()  # the same request, still running
        pending = memory.claim(hashed, request.id, digest)
        try:
            applied = AppliedRequest(hashed, request.id, digest)
            pending.answer = await self._apply(served, table_id, applied, request)
            return pending.answer
        finally:
            # An error that is not the table's answer (a bad token, a table
            # restarting, a cancelled caller) is not remembered.
            if pending.answer is None:
                memory.forget(hashed, request.id, pending)
            else:
                memory.settle(hashed, request.id, pending)
            pending.done.set()

    async def _apply(
        self,
        served: ServedTable,
        table_id: str,
        applied: AppliedRequest,
        request: SeatRequest,
    ) -> Answer:
        def command_for(table: Table) -> Command:
            seat = table.state.seat_of_token(applied.token_hash)
            if seat is None:
                raise ServiceError(
                    401,
                    ErrorCode.BAD_TOKEN,
                    "this token holds no seat at this table",
                    request.id,
                )
            return to_command(request, seat, table.clock())

        try:
            # The service's lock: no SitDown between reading the token's seat
            # and the command reaching the table, so the seat cannot change
            # hands in between.
            async with served.lock:
                stored, table = await self._execute_on(table_id, command_for, applied)
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
        self,
        table_id: str,
        command_for: Callable[[Table], Command],
        request: AppliedRequest | None = None,
    ) -> tuple[list[StoredEvent], Table]:
        """Run the command on the live table, again if it was restarted meanwhile.

        No await between building the command from the table and `execute`
        taking it: the command is built from the state it is decided against
        (bar the table's own clock and dealer, which seat nobody).
        """
        for _ in range(ATTEMPTS):
            table = await self._open(table_id)
            try:
                return await table.execute(command_for(table), request), table
            except TableClosedError:
                continue
            except FencedError:
                if not self.store.fenced:
                    raise
                # The table is stepping down; sent again, the request goes
                # to the node that takes it (a redirect) or here again.
                raise ServiceError(
                    503,
                    ErrorCode.TABLE_RESTARTING,
                    "the table is moving to another node: try again",
                ) from None
            except ConflictError as error:
                raise ServiceError(
                    503, ErrorCode.TABLE_STOPPED, f"the table was stopped: {error}"
                ) from None
        raise ServiceError(
            503, ErrorCode.TABLE_RESTARTING, "the table is restarting: try again"
        )

    # Events

    async def open_feed(
        self,
        table_id: str,
        token: str | None,
        resume: Resume | None,
        *,
        page: int | None = None,
        deliver_now: DeliverNow | None = None,
        on_drop: Callable[[], None] | None = None,
    ) -> Feed:
        """Subscribe the token's seat (no token: a spectator) to the table's
        events: the welcome, the missed events or a snapshot, then live
        (`pokerd.tables.feed.open_feed`, whose arguments the rest are)."""
        table, served = await self._running(table_id)
        # No await from reading the seat to `open_feed` reading the state.
        seat = _viewer(table.state, token)
        return await open_feed(
            table,
            served.hub,
            self.store,
            seat,
            resume,
            epoch=served.epoch,
            page=page,
            deliver_now=deliver_now,
            on_drop=on_drop,
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

        A page of the feed a socket would get from the same offset (at most
        PAGE_EVENTS events; the caller asks again from the last). With
        nothing new yet and `wait` > 0, waits up to `wait` seconds for the
        table's next batch. `recovered` is False when the feed starts over
        (`pokerd.tables.feed.resume_offset`: another epoch, an offset ahead
        of the log or too far behind it): `view` is the caller's whole view
        then, and the client goes on from `seq`. No `epoch` means the table's.
        """
        if after < 0:
            raise ServiceError(
                400, ErrorCode.BAD_REQUEST, "after is an offset, 0 or more"
            )
        if epoch is None:
            _, served = await self._running(table_id)
            epoch = served.epoch
        feed = await self.open_feed(
            table_id, token, Resume(epoch=epoch, offset=after), page=PAGE_EVENTS
        )
        try:
            welcome = feed.welcome
            answer: dict[str, Any] = {
                "epoch": welcome.epoch,
                "seq": welcome.seq,
                "recovered": welcome.recovered,
            }
            if not welcome.recovered:
                [snapshot] = feed.first
                assert isinstance(snapshot, Snapshot)
                answer["events"] = []
                answer["view"] = codec.unstructure(snapshot.view)
                return answer
            messages = [m for m in feed.first if isinstance(m, EventMessage)]
            if not messages and wait > 0 and not self._closing:
                batch = await self._next_batch(
                    feed.subscription, min(wait, MAX_POLL_WAIT_S)
                )
                if batch is not None:
                    messages = feed.messages(batch)
            answer["events"] = [codec.unstructure_message(m) for m in messages]
            if messages:
                answer["seq"] = messages[-1].seq
            return answer
        finally:
            feed.subscription.close()

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
                404,
                ErrorCode.NO_SUCH_HAND,
                f"table {table_id} has no finished hand {number}",
            )
        return rows[0]

    # Helpers

    async def _running(self, table_id: str) -> tuple[Table, ServedTable]:
        """The running table (loaded and started if it was idle) and the
        service's record of it; 404 if the log has no such table."""
        served = self._tables.get(table_id)
        epoch = served.epoch if served is not None else await self._epoch(table_id)
        table = await self._open(table_id)
        # No await since `_open` saw the table running: the supervisor has not
        # stopped it, so the record made here is dropped when it does.
        served = self._tables.get(table_id)
        if served is None:
            hub = TableHub(self._subscriber_queue)
            if table.state.closed:  # closed before this process opened it
                hub.end(TABLE_CLOSED_REASON, closed=True)
            served = self._tables[table_id] = ServedTable(epoch=epoch, hub=hub)
            # What the log says this table's requests were answered (it was
            # loaded on this node: a start, a takeover, a hand-off).
            served.memory.recall(table.recalled)
            table.recalled = ()
        return table, served

    async def _epoch(self, table_id: str) -> str:
        """The table's epoch (which log), read from the log; 404 if the log has
        no such table."""
        try:
            epoch = await self.store.read(table_epoch, table_id)
        except DATABASE_ERRORS as error:
            raise ServiceError(
                503, ErrorCode.UNAVAILABLE, f"the log cannot be read: {error}"
            ) from None
        if epoch is None:
            raise _no_such_table(table_id)
        return epoch

    async def _open(self, table_id: str) -> Table:
        """The running table (loaded and started if it was idle)."""
        try:
            table = await self.supervisor.open_table(table_id)
        except TableStoppedError as error:
            raise ServiceError(503, ErrorCode.TABLE_STOPPED, str(error)) from None
        except TableElsewhereError as elsewhere:
            if self.supervisor.cluster_routing:
                # Behind the router a client never goes to a node directly
                # (a page's CSP forbids it, and the node may be dead): the
                # router sends it to the table's node once that node has it.
                # So too when no node holds it yet: the router's choice may
                # change meanwhile, and a hello refused here would otherwise
                # wait on this socket for a second hello, then close 4002.
                raise ServiceError(
                    503,
                    ErrorCode.TABLE_MOVING,
                    f"table {table_id} is moving between nodes: try again",
                    moved_to="",
                    retry_after_s=MOVING_RETRY_AFTER_S,
                ) from None
            if elsewhere.address is None:
                raise ServiceError(
                    503, ErrorCode.TABLE_RESTARTING, f"{elsewhere}: try again"
                ) from None
            raise ServiceError(
                307,
                ErrorCode.TABLE_MOVED,
                elsewhere.address,
                moved_to=elsewhere.address,
            ) from None
        if table is None:
            raise _no_such_table(table_id)
        return table


def _no_such_table(table_id: str) -> ServiceError:
    return ServiceError(404, ErrorCode.NO_SUCH_TABLE, f"there is no table {table_id!r}")


def _viewer(state: TableState, token: str | None) -> Viewer:
    """The seat `token` holds (None for no token); a token that holds no seat
    is refused."""
    if token is None:
        return None
    seat = state.seat_of_token(token_hash(token)) if token else None
    if seat is None:
        raise ServiceError(
            401, ErrorCode.BAD_TOKEN, "this token holds no seat at this table"
        )
    return seat


def _public_row(row: dict[str, Any]) -> dict[str, Any]:
    return {column: row[column] for column in PUBLIC_HAND_COLUMNS}


def _load_lobby_tables(
    connection: ReadConnection, ids: list[str], idle: list[str]
) -> dict[str, tuple[TableState | None, list[HandResult]]]:
    """Each table's latest hands, and the state of those in `idle` (the
    others run here: their state is the running table's)."""
    states: dict[str, TableState | None] = dict.fromkeys(ids)
    for table_id in idle:
        loaded = load_table(connection, table_id)
        if loaded is not None:
            states[table_id] = loaded.state
    return {
        table_id: (state, recent_hand_results(connection, table_id, RECENT_HANDS))
        for table_id, state in states.items()
    }
