"""The `Client`: one viewer of one table, kept connected by the live stream,
else by long polls, with its requests sent until answered.

It drives the two transports (`live`, `poll`), feeds what they receive to its
`Transcript`, and keeps its `Outbox` of requests flowing: after any drop it
resumes from the transcript's offset, with exponential backoff and full
jitter between attempts, and sends every unanswered request again with its
id; while the socket cannot be opened it long-polls, trying the socket again
in the background and going back to it once it opens.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from contextlib import suppress
from functools import partial
from typing import Literal

import attrs
import trio

from pokerd.client.backoff import Backoff
from pokerd.client.endings import (
    Ending,
    SessionEnd,
    after_close,
    after_poll_error,
    after_refusal,
)
from pokerd.client.errors import (
    ClientClosedError,
    ClientError,
    HttpConnectionError,
    HttpError,
    StreamError,
)
from pokerd.client.http import Http
from pokerd.client.live import (
    LiveClosedError,
    LiveConnection,
    LiveUnreachableError,
    live_target,
    open_live,
)
from pokerd.client.outbox import Outbox, PendingRequest, Session
from pokerd.client.poll import LongPoll
from pokerd.client.transcript import EventsPage, Received, Transcript, Undecodable
from pokerd.engine.commands import ActionName
from pokerd.engine.views import TableView
from pokerd.wire.protocol import (
    MAX_POLL_WAIT_S,
    Ack,
    ActRequest,
    ComeBackRequest,
    Error,
    EventMessage,
    Hello,
    LeaveRequest,
    Pong,
    SeatRequest,
    ServerMessage,
    SitOutRequest,
    Snapshot,
    TopUpRequest,
    Welcome,
)

log = logging.getLogger(__name__)

Mode = Literal["connecting", "live", "polling", "closed"]
"""`connecting`: no stream yet (or between attempts); `live`: on the socket;
`polling`: on HTTP long polls while the socket cannot be opened; `closed`:
`run` has returned."""

CONNECT_TIMEOUT_S = 5.0
"""For opening the TCP connection, the WebSocket handshake and the welcome."""
CLOSE_TIMEOUT_S = 1.0
POLL_WAIT_S = 10.0
"""A long poll's `wait`: the server answers at once when there are events."""
HEARTBEAT_S = 10.0
"""How often the client pings the server, and how long the pong may take
before the connection is presumed dead and dropped."""
MAX_HOPS = 3
"""Moves from node to node without a welcome before the backoff paces them."""
RETRY_PAUSE_S = 0.1
"""Before sending again a request the server said to send again later."""


@attrs.frozen(kw_only=True)
class ClientStatistics:
    mode: Mode
    epoch: str | None
    offset: int
    events: int
    sockets_opened: int
    """TCP connections whose WebSocket handshake succeeded."""
    reconnects: int
    """Welcomes after the client first had the table's state (by socket or poll)."""
    resumed: int
    """Of those, recovered: the missed events followed."""
    not_resumed: int
    """Of those, not recovered: a snapshot followed (events were skipped)."""
    close_codes: dict[int, int]
    """How live sessions ended, by close code (1006: without a close frame)."""
    drops: int
    """Connections cut by `drop()`."""
    pongs_missed: int
    """Connections the client cut because a ping went unanswered."""
    fallbacks: int
    """Times the socket could not be opened and polling took over."""
    polls: int
    snapshots: int
    gaps: int
    duplicates: int
    requests: int
    resent: int
    """Requests sent again after a reconnect (same id)."""
    retried: int
    """Requests sent again after `rate_limited` or `table_restarting`."""
    errors: dict[str, int]
    """Error messages received, by code (retried ones included)."""
    stray_answers: int
    """Answers naming no request waiting for one."""
    bad_messages: int


class Client:
    """One viewer of one table: a seat (with its token) or a spectator.

    What it knows of the table is its `transcript` (docs in `Transcript`):
    `events`, `view`, `view_seq`, `seat`, `epoch`, `offset` and `recovered`
    read through to it. Each seq must be `offset + 1`: anything else is
    counted (`gaps`, `duplicates`), logged as an error, and raises
    StreamError from `run` when `strict`. `run` is started with
    `nursery.start(client.run)`: it returns once the client has the table's
    state, and the client then keeps itself connected until `close()`,
    cancellation, or the seat or table is gone.
    """

    def __init__(
        self,
        http_url: str,
        live_url: str,
        table: str,
        token: str | None = None,
        *,
        epoch: str | None = None,
        offset: int = 0,
        backoff: Backoff | None = None,
        sleep: Callable[[float], Awaitable[None]] = trio.sleep,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        poll_wait_s: float = POLL_WAIT_S,
        heartbeat_s: float = HEARTBEAT_S,
        retry_pause_s: float = RETRY_PAUSE_S,
        strict: bool = True,
        servers: Sequence[str] = (),
    ) -> None:
        """`epoch` and `offset` say where to start: with an epoch, the events
        after `offset` (0: the whole log); without, a snapshot of now.
        `backoff` and `sleep` pace the reconnection attempts (injectable for
        tests); `strict` makes a gap or a repeat in the stream raise.
        `servers`: the base URLs (http://HOST:PORT) of more nodes of the same
        cluster, tried in turn when the one in use cannot be reached (their
        live stream on the same port)."""
        self.http = Http(http_url)
        self.live_url = live_url
        """ws://HOST:PORT of the live stream; read at each connection attempt."""
        self._servers = [(http_url, live_url)] + [
            (url, _live_url_at(url)) for url in servers
        ]
        self._server = 0
        self._moves = 0
        """Moves to another node in a row without a welcome (bounded hops)."""
        self.table = table
        self.token = token
        self.transcript = Transcript(epoch=epoch, offset=offset)
        self.mode: Mode = "connecting"
        self.ending: Ending | None = None
        self.problems: list[str] = []
        """Every protocol problem seen (gaps, repeats, undecodable messages)."""
        self.strict = strict
        if not 0 <= poll_wait_s <= MAX_POLL_WAIT_S:
            raise ValueError(f"poll_wait_s is 0 to {MAX_POLL_WAIT_S:g} seconds")
        live_target(live_url, table)  # a live URL that cannot work fails here
        self._backoff = Backoff() if backoff is None else backoff
        self._sleep = sleep
        self._connect_timeout_s = connect_timeout_s
        self._poll_wait_s = poll_wait_s
        self._heartbeat_s = heartbeat_s
        self._retry_pause_s = retry_pause_s
        self._changed = trio.Event()
        self._outbox = Outbox()
        self._task_status: trio.TaskStatus[None] | None = None
        self._ready = False
        self._running = False
        self._close_requested = trio.Event()
        self._live: LiveConnection | None = None
        self._catch_up_to = 0
        # Counters (see ClientStatistics).
        self._sockets_opened = 0
        self._reconnects = 0
        self._resumed = 0
        self._not_resumed = 0
        self._close_codes: Counter[int] = Counter()
        self._drops = 0
        self._pongs_missed = 0
        self._fallbacks = 0
        self._polls = 0
        self._retried = 0
        self._errors: Counter[str] = Counter()
        self._stray_answers = 0
        self._bad_messages = 0

    # Reading the state

    @property
    def events(self) -> list[Received]:
        return self.transcript.events

    @property
    def view(self) -> TableView | None:
        return self.transcript.view

    @property
    def view_seq(self) -> int:
        return self.transcript.view_seq

    @property
    def seat(self) -> int | None:
        return self.transcript.seat

    @property
    def epoch(self) -> str | None:
        return self.transcript.epoch

    @property
    def offset(self) -> int:
        return self.transcript.offset

    @property
    def recovered(self) -> bool:
        return self.transcript.recovered

    def statistics(self) -> ClientStatistics:
        transcript = self.transcript
        return ClientStatistics(
            mode=self.mode,
            epoch=transcript.epoch,
            offset=transcript.offset,
            events=len(transcript.events),
            sockets_opened=self._sockets_opened,
            reconnects=self._reconnects,
            resumed=self._resumed,
            not_resumed=self._not_resumed,
            close_codes=dict(self._close_codes),
            drops=self._drops,
            pongs_missed=self._pongs_missed,
            fallbacks=self._fallbacks,
            polls=self._polls,
            snapshots=transcript.snapshots,
            gaps=transcript.gaps,
            duplicates=transcript.duplicates,
            requests=self._outbox.requests,
            resent=self._outbox.resent,
            retried=self._retried,
            errors=dict(self._errors),
            stray_answers=self._stray_answers,
            bad_messages=self._bad_messages,
        )

    @property
    def unacked(self) -> list[PendingRequest]:
        """The requests not answered yet, in the order submitted."""
        return self._outbox.unacked

    async def wait_for(self, predicate: Callable[[Client], bool]) -> None:
        """Until `predicate(self)` holds, checked after every change (a message
        applied, a mode switch, an answer); ClientClosedError if `run` has returned
        and it does not hold."""
        while not predicate(self):
            if self.mode == "closed":
                raise ClientClosedError(f"the client has stopped: {self.ending}")
            await self._changed.wait()

    async def follow(self, start: int = 0) -> AsyncGenerator[Received, None]:
        """Every event received from index `start` of `events` on, then each
        new one as it arrives, until the client stops (use it in
        `contextlib.aclosing`, as any async generator under Trio)."""
        index = start
        while True:
            while index < len(self.events):
                yield self.events[index]
                index += 1
            try:
                await self.wait_for(partial(_has_more_than, count=index))
            except ClientClosedError:
                return

    # Requests

    def submit(self, make: Callable[[str], SeatRequest]) -> PendingRequest:
        """Queue the request `make(id)` for a fresh id and return at once; it
        is sent now if connected, else when the client (re)connects."""
        return self._outbox.submit(make)

    async def answer(self, pending: PendingRequest) -> Ack | Error:
        """The request's ack or error (ClientClosedError if the client stops
        first). After an ack the events it names have been received
        (`offset >= ack.seq`), as over the socket, where an ack comes behind
        its events."""
        await self.wait_for(lambda _: pending.answer is not None)
        answer = pending.answer
        assert answer is not None
        if isinstance(answer, Ack):
            seq = answer.seq
            with suppress(ClientClosedError):
                await self.wait_for(lambda client: client.offset >= seq)
        return answer

    async def request(self, make: Callable[[str], SeatRequest]) -> Ack | Error:
        return await self.answer(self.submit(make))

    async def act(self, action: ActionName, amount: int | None = None) -> Ack | Error:
        return await self.request(
            lambda request_id: ActRequest(id=request_id, action=action, amount=amount)
        )

    async def sit_out(self) -> Ack | Error:
        return await self.request(lambda request_id: SitOutRequest(id=request_id))

    async def come_back(self) -> Ack | Error:
        return await self.request(lambda request_id: ComeBackRequest(id=request_id))

    async def leave(self) -> Ack | Error:
        return await self.request(lambda request_id: LeaveRequest(id=request_id))

    async def top_up(self, amount: int) -> Ack | Error:
        return await self.request(
            lambda request_id: TopUpRequest(id=request_id, amount=amount)
        )

    # Connection control

    async def drop(self) -> bool:
        """Cut the live connection abruptly (no close frame, as a network
        failure would), to be resumed like any drop; False if not on a socket.

        Cancelled, it raises before cutting anything; once it has cut, it
        returns True whatever happens, so a caller's count stays exact."""
        await trio.lowlevel.checkpoint_if_cancelled()
        live = self._live
        if live is None:
            return False
        self._drops += 1
        live.cut()
        await trio.lowlevel.cancel_shielded_checkpoint()
        return True

    def close(self) -> None:
        """Stop: the socket is closed politely (or polling stops), then `run`
        returns. Requests not answered stay unanswered."""
        self._close_requested.set()

    async def run(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Stay connected until `close()`, cancellation, or the seat or table is
        gone (`ending` says which). Started once the client has the table's
        state (the welcome and what follows it caught up, or a first poll)."""
        if self._running or self.mode == "closed":
            raise RuntimeError("a client runs once")
        self._running = True
        self._task_status = task_status
        try:
            async with self.http, trio.open_nursery() as nursery:
                nursery.start_soon(self._closer, nursery.cancel_scope)
                await self._connect_loop()
                nursery.cancel_scope.cancel()
        finally:
            self._running = False
            self.mode = "closed"
            if self.ending is None:
                self.ending = "closed"
            self._notify()
        if not self._ready and self.ending != "closed":
            raise ClientError(f"could not follow table {self.table}: {self.ending}")

    async def _closer(self, scope: trio.CancelScope) -> None:
        await self._close_requested.wait()
        live = self._live
        if live is not None:
            await live.close(CLOSE_TIMEOUT_S)
        scope.cancel()

    async def _connect_loop(self) -> None:
        while True:
            ended = await self._live_once(None)
            if ended is None:
                ended = await self._poll_until_live()
            if ended.final or self._close_requested.is_set():
                if ended.final:
                    log.info("table %s: ends: %s", self.table, ended.reason)
                self.ending = ended.ending
                return
            if ended.welcomed:
                self._backoff.reset()
                self._moves = 0
            self._set_mode("connecting")
            log.debug("table %s: %s; reconnecting", self.table, ended.reason)
            if ended.moved_to is not None:
                self._move_to(ended.moved_to)
                if ended.moved_to:
                    self._moves += 1
                    if self._moves <= MAX_HOPS:
                        continue  # at once: the table runs now, elsewhere
                # A move that names no node (the table moving between nodes
                # behind the router) is a pause: back where the client came
                # from, after its backoff, for as long as it takes.
            await self._sleep(self._backoff.next_delay())

    def _use(self, http_url: str, live_url: str) -> None:
        self.http.base_url = http_url.rstrip("/")
        self.live_url = live_url

    def _move_to(self, address: str) -> None:
        """To the node at `address` (empty: any node, the next of the list)."""
        if address:
            self._use(address, _live_url_at(address))
        else:
            self._next_server()

    def _next_server(self) -> None:
        """After a server that could not be reached: back to the list if a
        move took the client off it, else the next server of the list."""
        if self.http.base_url == self._servers[self._server][0].rstrip("/"):
            self._server = (self._server + 1) % len(self._servers)
        self._use(*self._servers[self._server])

    # The live stream

    async def _live_once(
        self, before_hello: Callable[[], Awaitable[None]] | None
    ) -> SessionEnd | None:
        """One live connection, from opening to its end; None if it could not
        be opened. `before_hello` runs once it is open (to stop polling)."""
        try:
            async with open_live(
                self.live_url, self.table, timeout_s=self._connect_timeout_s
            ) as live:
                self._sockets_opened += 1
                if before_hello is not None:
                    await before_hello()
                return await self._converse(live)
        except LiveUnreachableError as error:
            log.debug("table %s: %s", self.table, error)
            self._next_server()
            return None

    async def _converse(self, live: LiveConnection) -> SessionEnd:
        resume = self.transcript.resume()
        try:
            await live.send(Hello(token=self.token, resume=resume))
            with trio.fail_after(self._connect_timeout_s):
                first = await self._receive(live)
                while first is None:
                    first = await self._receive(live)
        except LiveClosedError as closed:
            return self._closed(closed, welcomed=False)
        except trio.TooSlowError:
            return SessionEnd("no welcome in time")
        if isinstance(first, Error):
            self._errors[first.code] += 1
            return after_refusal(first)
        if not isinstance(first, Welcome):
            self._problem(f"expected a welcome, got {first}")
            return SessionEnd("no welcome")
        self._welcome(first, resumed=resume is not None)
        self._live = live
        try:
            async with trio.open_nursery() as tasks:
                session = Session(tasks)
                tasks.start_soon(self._send_live, live, session)
                tasks.start_soon(self._heartbeat, live)
                try:
                    while True:
                        message = await self._receive(live)
                        if message is not None:
                            self._on_live(message, session)
                except LiveClosedError as closed:
                    ended = self._closed(closed, welcomed=True)
                tasks.cancel_scope.cancel()
        finally:
            self._live = None
        return ended

    def _welcome(self, welcome: Welcome, *, resumed: bool) -> None:
        if self._ready:
            self._reconnects += 1
            if welcome.recovered:
                self._resumed += 1
            else:
                self._not_resumed += 1
        if not welcome.recovered and resumed:
            log.warning(
                "table %s: resume from %s not recovered (a snapshot follows)",
                self.table,
                self.offset,
            )
        self.transcript.welcome(welcome)
        self._catch_up_to = welcome.seq
        self._set_mode("live")
        self._check_ready()

    def _closed(self, closed: LiveClosedError, *, welcomed: bool) -> SessionEnd:
        self._close_codes[closed.code] += 1
        return after_close(closed.code, welcomed=welcomed, reason=closed.reason)

    async def _receive(self, live: LiveConnection) -> ServerMessage | None:
        message = await live.receive()
        if isinstance(message, Undecodable):
            self._undecodable(message)
            return None
        return message

    def _on_live(self, message: ServerMessage, session: Session) -> None:
        match message:
            case EventMessage():
                self._report(self.transcript.event(message))
            case Snapshot(seq=seq, view=view):
                self.transcript.snapshot(seq, view)
            case Ack() | Error(id=str()):
                self._answered(message, session)
            case Error():
                self._errors[message.code] += 1
                log.warning("table %s: error %s", self.table, message)
            case Pong():
                pass
            case Welcome():
                self._problem(f"a second welcome: {message}")
        self._check_ready()
        self._notify()

    async def _send_live(self, live: LiveConnection, session: Session) -> None:
        with suppress(LiveClosedError):  # the reader sees it too, and ends
            while True:
                changed = self._outbox.changed
                for pending in self._outbox.due(session):
                    await live.send(pending.message)
                    self._outbox.sent(pending, session)
                await changed.wait()

    async def _heartbeat(self, live: LiveConnection) -> None:
        """Ping; a pong not back within `heartbeat_s` means a dead peer."""
        with suppress(LiveClosedError):
            await live.wait_ping_unanswered(self._heartbeat_s)
            log.info("table %s: no pong: dropping the socket", self.table)
            self._pongs_missed += 1
            live.cut()

    # Polling

    async def _poll_until_live(self) -> SessionEnd:
        """Long-poll (and post requests) while retrying the socket with backoff;
        the live session's end once it opened, or polling's final end."""
        self._fallbacks += 1
        polling_done = trio.Event()
        final: list[SessionEnd] = []
        async with trio.open_nursery() as nursery:
            polling = trio.CancelScope()

            async def poll() -> None:
                try:
                    with polling:
                        ended = await self._poll_session()
                        final.append(ended)
                        nursery.cancel_scope.cancel()
                finally:
                    polling_done.set()

            async def stop_polling() -> None:
                # Before the hello names the offset: nothing may be applied
                # from a poll after it, so wait for the poller to be gone.
                polling.cancel()
                await polling_done.wait()

            nursery.start_soon(poll)
            while True:
                await self._sleep(self._backoff.next_delay())
                ended = await self._live_once(stop_polling)
                if ended is not None:
                    nursery.cancel_scope.cancel()
                    return ended
        return final[0]

    async def _poll_session(self) -> SessionEnd:
        poll = LongPoll(self.http, self.table, self.token)
        async with trio.open_nursery() as tasks:
            session = Session(tasks)
            tasks.start_soon(self._post_requests, poll, session)
            ended = await self._poll_events(poll)
            tasks.cancel_scope.cancel()
        return ended

    async def _poll_events(self, poll: LongPoll) -> SessionEnd:
        backoff = self._backoff.fresh()
        caught_up = False
        while True:
            try:
                page = await poll.page(
                    epoch=self.epoch,
                    after=self.offset,
                    wait=self._poll_wait_s if caught_up else 0.0,
                )
            except (HttpConnectionError, trio.TooSlowError, HttpError) as error:
                ended = after_poll_error(error)
                if ended is not None:
                    return ended
                if isinstance(error, HttpConnectionError):
                    self._next_server()
                if self.mode == "polling":
                    self._set_mode("connecting")
                await self._sleep(backoff.next_delay())
                continue
            backoff.reset()
            self._polls += 1
            caught_up = self._page(page)
            self._set_mode("polling")
            if caught_up:
                self._catch_up_to = self.offset
                self._check_ready()
            self._notify()

    def _page(self, page: EventsPage) -> bool:
        """Apply a page of events; whether the view is up to its last event."""
        self._bad_messages += len(page.undecodable)
        problems, caught_up = self.transcript.page(page)
        for problem in problems:
            self._problem(problem)
        return caught_up

    async def _post_requests(self, poll: LongPoll, session: Session) -> None:
        while True:
            changed = self._outbox.changed
            for pending in self._outbox.due(session):
                try:
                    answer = await poll.post(pending.message)
                except (HttpConnectionError, trio.TooSlowError):
                    # Unknown whether it was applied: the same id again is safe.
                    self._outbox.due_again(session, pending.id)
                    await self._sleep(self._retry_pause_s)
                    break
                self._outbox.sent(pending, session)
                if not isinstance(answer, Ack | Error):
                    self._problem(f"a request answered with {answer}")
                    continue
                self._answered(answer, session)
                self._notify()
            else:
                await changed.wait()

    # Reporting what was received

    def _report(self, problem: str | None) -> None:
        if problem is not None:
            self._problem(problem)

    def _undecodable(self, message: Undecodable) -> None:
        self._bad_messages += 1
        self._problem(message.problem())

    def _problem(self, text: str) -> None:
        self.problems.append(text)
        log.error("table %s: %s", self.table, text)
        if self.strict:
            raise StreamError(text)

    def _check_ready(self) -> None:
        if self._ready or self.offset < self._catch_up_to:
            return
        self._ready = True
        if self._task_status is not None:
            self._task_status.started()

    def _set_mode(self, mode: Mode) -> None:
        if self.mode != mode:
            self.mode = mode
            self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    # Answers

    def _answered(self, answer: Ack | Error, session: Session) -> None:
        if isinstance(answer, Error):
            self._errors[answer.code] += 1
        outcome = self._outbox.answered(answer)
        if outcome == "stray":
            self._stray_answers += 1
            log.warning("table %s: an answer to no request: %s", self.table, answer)
        elif outcome == "retry":
            assert answer.id is not None
            self._retried += 1
            session.nursery.start_soon(self._send_again_later, session, answer.id)

    async def _send_again_later(self, session: Session, request_id: str) -> None:
        await self._sleep(self._retry_pause_s)
        self._outbox.due_again(session, request_id)


def _live_url_at(http_url: str) -> str:
    """The live stream of the node at `http_url`: the same host and port."""
    return "ws://" + http_url.removeprefix("http://").rstrip("/")


def _has_more_than(client: Client, *, count: int) -> bool:
    return len(client.events) > count
