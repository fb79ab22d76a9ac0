"""A client for one seat or spectator at one table: live stream, else long polls.

`Client` keeps what its viewer received, in order: every event with its seq,
the latest view, the table's epoch and the offset (the last seq seen). Its
`run` connects to the live stream (`ws://HOST:LIVE_PORT/tables/{id}/live`,
docs/protocol.md), resumes from the offset after any drop, with exponential
backoff and full jitter between attempts, and falls back to HTTP long polling
(`GET /tables/{id}/events`) while the socket cannot be opened, trying the
socket again in the background and going back to it once it opens. Seat
requests (`act`, `sit_out`, ...) get a fresh id each; every request not yet
answered is sent again with its original id after a reconnect, so the server
(which answers a repeated id with its first answer) applies it once.

Only plain `http://` and `ws://` URLs (the server speaks no TLS itself; put a
proxy in front for that). `Http` is the small HTTP/1.1 client it polls with,
also usable alone to create tables and sit down.
"""

from __future__ import annotations

import json
import logging
import random
import secrets
from collections import Counter
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import suppress
from functools import partial
from typing import Any, Literal, NamedTuple
from urllib.parse import urlencode, urlsplit

import attrs
import trio
from trio_websocket import (
    ConnectionClosed,
    HandshakeError,
    WebSocketConnection,
    wrap_client_stream,
)

from pokerd.engine.commands import ActionName
from pokerd.engine.events import PublicEvent
from pokerd.engine.views import TableView
from pokerd.wire import codec
from pokerd.wire.protocol import (
    MAX_BACKLOG,
    RETRY_CODES,
    TABLE_GONE_CODES,
    Ack,
    ActRequest,
    CloseCode,
    ComeBackRequest,
    Error,
    ErrorCode,
    EventMessage,
    Hello,
    LeaveRequest,
    Pong,
    Resume,
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
Ending = Literal["closed", "seat_lost", "table_gone"]
"""Why `run` returned: `close()` (or cancellation), the token's seat is gone
(the player left), or the table does not exist or was stopped."""

BACKOFF_BASE_S = 0.1
BACKOFF_CAP_S = 5.0
CONNECT_TIMEOUT_S = 5.0
"""For opening the TCP connection, the WebSocket handshake and the welcome."""
CLOSE_TIMEOUT_S = 1.0
POLL_WAIT_S = 10.0
"""A long poll's `wait`: the server answers at once when there are events."""
MAX_POLL_WAIT_S = 30.0
"""The longest `wait` the server accepts."""
HEARTBEAT_S = 10.0
"""How often the client pings the server, and how long the pong may take
before the connection is presumed dead and dropped."""
RETRY_PAUSE_S = 0.1
"""Before sending again a request the server said to send again later."""
HTTP_TIMEOUT_S = 10.0


class ClientError(Exception):
    """The client cannot go on, or the server broke the protocol."""


class ClientClosedError(ClientError):
    """Waited on a client whose `run` has returned."""


class StreamError(ClientError):
    """An event out of order (a gap or a repeat): a server bug (strict mode)."""


class Received(NamedTuple):
    """One event as this viewer received it."""

    seq: int
    event: PublicEvent


class Backoff:
    """Exponential backoff with full jitter: the n-th delay (from 0) is uniform
    in [0, min(cap, base * 2**n)]; `reset` after a success."""

    def __init__(
        self,
        base: float = BACKOFF_BASE_S,
        cap: float = BACKOFF_CAP_S,
        rng: random.Random | None = None,
    ) -> None:
        self.base = base
        self.cap = cap
        self.rng = random.Random() if rng is None else rng
        self.attempts = 0

    def bound(self) -> float:
        """The largest delay the next `next_delay` may return."""
        return min(self.cap, self.base * 2.0 ** min(self.attempts, 60))

    def next_delay(self) -> float:
        bound = self.bound()
        self.attempts += 1
        return self.rng.random() * bound

    def reset(self) -> None:
        self.attempts = 0


@attrs.define(eq=False)
class PendingRequest:
    """A seat request from `submit`: sent (again after each reconnect) until
    answered."""

    message: SeatRequest
    sent: trio.Event = attrs.Factory(trio.Event)
    """Set once the request was first written to a socket or posted."""
    answer: Ack | Error | None = None
    sends: int = 0
    """Times written to a socket or posted (again after a reconnect, or after
    `rate_limited`)."""
    _session: object = None
    """The connection or polling run that last sent it."""

    @property
    def id(self) -> str:
        return self.message.id


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
    """Connections the client cut itself (`drop`, or a ping unanswered)."""
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


@attrs.frozen
class Seated:
    """The answer to sitting down: the seat's token and where the log stood."""

    token: str
    seat: int
    epoch: str
    seq: int


class HttpError(ClientError):
    """An HTTP answer with an error status; `error` is the server's message."""

    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body
        self.error: Error | None = None
        with suppress(codec.DecodeError):
            decoded = codec.structure_server_message(body)
            if isinstance(decoded, Error):
                self.error = decoded
        super().__init__(f"HTTP {status}: {body}")


class Http:
    """Plain HTTP/1.1 to pokerd's API: one connection per call, read by
    Content-Length (Quart-Trio does not close a connection after a reply)."""

    def __init__(self, base_url: str, *, timeout_s: float = HTTP_TIMEOUT_S) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"expected http://HOST[:PORT], not {base_url!r}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.timeout_s = timeout_s

    async def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        raw: bytes | None = None,
        token: str | None = None,
        query: dict[str, Any] | None = None,
        timeout_s: float | None = None,
    ) -> tuple[int, Any]:
        """The status and the JSON answer (text if it is not JSON); `raw` is a
        body sent as it is instead of `body` as JSON. Raises OSError when the
        server cannot be reached, trio.TooSlowError."""
        data = raw if raw is not None or body is None else json.dumps(body).encode()
        target = self.prefix + path + ("?" + urlencode(query) if query else "")
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        if token is not None:
            lines.append(f"Authorization: Bearer {token}")
        if data is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(data)}"]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode()
        with trio.fail_after(self.timeout_s if timeout_s is None else timeout_s):
            stream = await trio.open_tcp_stream(self.host, self.port)
            async with stream:
                await stream.send_all(head + (data or b""))
                received = b""
                while b"\r\n\r\n" not in received:
                    received += await _more(stream)
                header, _, content = received.partition(b"\r\n\r\n")
                status_line, *fields = header.decode("latin-1").split("\r\n")
                headers = {
                    name.strip().lower(): value.strip()
                    for name, _, value in (field.partition(":") for field in fields)
                }
                if "content-length" not in headers:
                    raise ConnectionError(f"no Content-Length in answer: {header!r}")
                length = int(headers["content-length"])
                while len(content) < length:
                    content += await _more(stream)
        text = content[:length].decode("utf-8")
        status = int(status_line.split()[1])
        if headers.get("content-type", "").startswith("application/json"):
            return status, json.loads(text)
        return status, text

    async def json(self, method: str, path: str, **options: Any) -> Any:
        """`call`'s answer; HttpError unless its status is 2xx."""
        status, answer = await self.call(method, path, **options)
        if not 200 <= status < 300:
            raise HttpError(status, answer)
        return answer

    async def health(self) -> dict[str, Any]:
        answer: dict[str, Any] = await self.json("GET", "/healthz")
        return answer

    async def create_table(self, **config: Any) -> tuple[str, str]:
        """A new table with `config` (TableConfig's fields); its id and epoch."""
        created = await self.json("POST", "/tables", body=config)
        return str(created["table"]), str(created["epoch"])

    async def sit(self, table: str, seat: int, name: str, buy_in: int) -> Seated:
        seated = await self.json(
            "POST",
            f"/tables/{table}/seats",
            body={"seat": seat, "name": name, "buy_in": buy_in},
        )
        return Seated(
            token=str(seated["token"]),
            seat=int(seated["seat"]),
            epoch=str(seated["epoch"]),
            seq=int(seated["seq"]),
        )

    async def events(
        self,
        table: str,
        token: str | None,
        *,
        after: int,
        wait: float = 0.0,
        epoch: str | None = None,
    ) -> dict[str, Any]:
        """One page of `GET /tables/{id}/events` (HttpError on an error)."""
        query: dict[str, Any] = {"after": after, "wait": wait}
        if epoch is not None:
            query["epoch"] = epoch
        page: dict[str, Any] = await self.json(
            "GET",
            f"/tables/{table}/events",
            token=token,
            query=query,
            timeout_s=self.timeout_s + wait,
        )
        return page

    async def log(
        self, table: str, token: str | None, *, after: int = 0, until: int
    ) -> list[Received]:
        """The table's events after `after` up to `until`, as the token's seat
        (or a spectator) may see them, page by page, without waiting; from
        `MAX_BACKLOG` behind the table's seq at most, as far back as the
        server replays (the first is then later than `after` + 1)."""
        found: list[Received] = []
        while after < until:
            page = await self.events(table, token, after=after)
            if not page["recovered"]:
                nearest = int(page["seq"]) - MAX_BACKLOG
                if found or nearest <= after:
                    break  # another log, or `after` ahead of it
                after = nearest
                continue
            if not page["events"]:
                break
            for data in page["events"]:
                message = codec.structure_server_message(data)
                if not isinstance(message, EventMessage):
                    raise ClientError(f"not an event in a page: {data}")
                if message.seq <= until:
                    found.append(Received(message.seq, message.event))
            after = int(page["seq"])
        return found


async def _more(stream: trio.SocketStream) -> bytes:
    chunk = await stream.receive_some(65536)
    if not chunk:
        raise ConnectionError("the server closed the connection mid-answer")
    return chunk


@attrs.frozen
class _Ended:
    """How a live or polling session ended."""

    reason: str
    final: bool = False
    """Do not reconnect: the seat or the table is gone."""
    welcomed: bool = False
    """The session got as far as the stream (so the backoff starts over)."""
    ending: Ending = "closed"


class _UnreachableError(Exception):
    """The socket could not be opened (refused, timed out, handshake rejected)."""


def _unreachable(error: BaseException) -> bool:
    if isinstance(error, BaseExceptionGroup):
        return all(_unreachable(inner) for inner in error.exceptions)
    return isinstance(error, _UnreachableError | HandshakeError)


@attrs.define(eq=False)
class _Session:
    """What one live connection or one polling run has sent, and its tasks."""

    nursery: trio.Nursery
    sent: set[str] = attrs.Factory(set)


class Client:
    """One viewer of one table: a seat (with its token) or a spectator.

    The state is the fold of what the viewer received, in order:

    - `events`: every event received, as (seq, event), each seq once;
    - `view`: the server's view of the table for this viewer after the last
      batch received (each event message that carries a view replaces it; a
      snapshot replaces it too), with `view_seq` the seq it belongs to;
    - `epoch` and `offset`: the table's log and the last seq received, where
      the next connection resumes;
    - `recovered`: False once a snapshot arrived (a fresh start without an
      offset, or a resume the server could not serve): `events` then skips
      the events before the snapshot's seq.

    Each seq must be `offset + 1`: anything else is counted (`gaps`,
    `duplicates`), logged as an error, and raises StreamError from `run` when
    `strict`. `run` is started with `nursery.start(client.run)`: it returns
    once the client has the table's state, and the client then keeps itself
    connected until `close()`, cancellation, or the seat or table is gone.
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
    ) -> None:
        """`epoch` and `offset` say where to start: with an epoch, the events
        after `offset` (0: the whole log); without, a snapshot of now.
        `backoff` and `sleep` pace the reconnection attempts (injectable for
        tests); `strict` makes a gap or a repeat in the stream raise."""
        self.http = Http(http_url)
        self.live_url = live_url
        """ws://HOST:PORT of the live listener; read at each connection attempt."""
        self.table = table
        self.token = token
        self.epoch = epoch
        self.offset = offset
        self.seat: int | None = None
        self.events: list[Received] = []
        self.view: TableView | None = None
        self.view_seq = -1
        self.recovered = True
        self.mode: Mode = "connecting"
        self.ending: Ending | None = None
        self.problems: list[str] = []
        """Every protocol problem seen (gaps, repeats, undecodable messages)."""
        self.strict = strict
        if not 0 <= poll_wait_s <= MAX_POLL_WAIT_S:
            raise ValueError(f"poll_wait_s is 0 to {MAX_POLL_WAIT_S:g} seconds")
        self._live_target()  # a live URL that cannot work fails here, not later
        self._backoff = Backoff() if backoff is None else backoff
        self._sleep = sleep
        self._connect_timeout_s = connect_timeout_s
        self._poll_wait_s = poll_wait_s
        self._heartbeat_s = heartbeat_s
        self._retry_pause_s = retry_pause_s
        self._changed = trio.Event()
        self._outbox = trio.Event()
        self._unacked: dict[str, PendingRequest] = {}
        self._ids = 0
        self._id_prefix = secrets.token_hex(4)
        self._task_status: trio.TaskStatus[None] | None = None
        self._ready = False
        self._running = False
        self._close_requested = trio.Event()
        self._ws: WebSocketConnection | None = None
        self._stream: trio.SocketStream | None = None
        self._catch_up_to = 0
        # Counters (see ClientStatistics).
        self._sockets_opened = 0
        self._reconnects = 0
        self._resumed = 0
        self._not_resumed = 0
        self._close_codes: Counter[int] = Counter()
        self._drops = 0
        self._fallbacks = 0
        self._polls = 0
        self._snapshots = 0
        self._gaps = 0
        self._duplicates = 0
        self._requests = 0
        self._resent = 0
        self._retried = 0
        self._errors: Counter[str] = Counter()
        self._stray_answers = 0
        self._bad_messages = 0

    # Reading the state

    def statistics(self) -> ClientStatistics:
        return ClientStatistics(
            mode=self.mode,
            epoch=self.epoch,
            offset=self.offset,
            events=len(self.events),
            sockets_opened=self._sockets_opened,
            reconnects=self._reconnects,
            resumed=self._resumed,
            not_resumed=self._not_resumed,
            close_codes=dict(self._close_codes),
            drops=self._drops,
            fallbacks=self._fallbacks,
            polls=self._polls,
            snapshots=self._snapshots,
            gaps=self._gaps,
            duplicates=self._duplicates,
            requests=self._requests,
            resent=self._resent,
            retried=self._retried,
            errors=dict(self._errors),
            stray_answers=self._stray_answers,
            bad_messages=self._bad_messages,
        )

    @property
    def unacked(self) -> list[PendingRequest]:
        """The requests not answered yet, in the order submitted."""
        return list(self._unacked.values())

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
        self._ids += 1
        pending = PendingRequest(make(f"{self._id_prefix}-{self._ids}"))
        self._unacked[pending.id] = pending
        self._requests += 1
        self._poke()
        return pending

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
        failure would), to be resumed like any drop; False if not on a socket."""
        stream = self._stream
        if stream is None:
            return False
        self._drops += 1
        await stream.aclose()
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
            async with trio.open_nursery() as nursery:
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
        ws = self._ws
        if ws is not None:
            with trio.move_on_after(CLOSE_TIMEOUT_S):
                await ws.aclose()
        scope.cancel()

    async def _connect_loop(self) -> None:
        while True:
            ended = await self._live_once(None)
            if ended is None:
                ended = await self._poll_until_live()
            if ended.final or self._close_requested.is_set():
                self.ending = ended.ending
                return
            if ended.welcomed:
                self._backoff.reset()
            self._set_mode("connecting")
            log.debug("table %s: %s; reconnecting", self.table, ended.reason)
            await self._sleep(self._backoff.next_delay())

    # The live stream

    def _live_target(self) -> tuple[str, int, str]:
        parts = urlsplit(self.live_url)
        if parts.scheme != "ws" or parts.hostname is None:
            raise ClientError(f"expected ws://HOST[:PORT], not {self.live_url!r}")
        resource = parts.path.rstrip("/") + f"/tables/{self.table}/live"
        return parts.hostname, parts.port or 80, resource

    async def _live_once(
        self, before_hello: Callable[[], Awaitable[None]] | None
    ) -> _Ended | None:
        """One live connection, from opening to its end; None if it could not
        be opened. `before_hello` runs once it is open (to stop polling)."""
        try:
            return await self._live_session(before_hello)
        except BaseExceptionGroup as group:
            if _unreachable(group):
                return None
            raise

    async def _live_session(
        self, before_hello: Callable[[], Awaitable[None]] | None
    ) -> _Ended:
        host, port, resource = self._live_target()
        async with trio.open_nursery() as nursery:
            try:
                with trio.fail_after(self._connect_timeout_s):
                    stream = await trio.open_tcp_stream(host, port)
            except (OSError, trio.TooSlowError) as error:
                raise _UnreachableError(f"cannot connect to {self.live_url}") from error
            try:
                try:
                    with trio.fail_after(self._connect_timeout_s):
                        ws = await wrap_client_stream(
                            nursery, stream, f"{host}:{port}", resource
                        )
                except trio.TooSlowError as error:
                    raise _UnreachableError(
                        "the WebSocket handshake timed out"
                    ) from error
                self._sockets_opened += 1
                if before_hello is not None:
                    await before_hello()
                return await self._converse(ws, stream)
            finally:
                with trio.CancelScope(shield=True):
                    await stream.aclose()
                nursery.cancel_scope.cancel()

    async def _converse(
        self, ws: WebSocketConnection, stream: trio.SocketStream
    ) -> _Ended:
        resume = (
            None if self.epoch is None else Resume(epoch=self.epoch, offset=self.offset)
        )
        try:
            await ws.send_message(
                codec.encode_message(Hello(token=self.token, resume=resume))
            )
            with trio.fail_after(self._connect_timeout_s):
                first = await self._receive(ws)
                while first is None:
                    first = await self._receive(ws)
        except ConnectionClosed as closed:
            return self._closed(closed, welcomed=False)
        except trio.TooSlowError:
            return _Ended("no welcome in time")
        if isinstance(first, Error):
            self._errors[first.code] += 1
            if first.code in TABLE_GONE_CODES:
                return _Ended(first.message, final=True, ending="table_gone")
            if first.code == ErrorCode.BAD_TOKEN:
                return _Ended(first.message, final=True, ending="seat_lost")
            return _Ended(f"hello refused: {first.code}")
        if not isinstance(first, Welcome):
            self._problem(f"expected a welcome, got {first}")
            return _Ended("no welcome")
        self._welcome(first, resumed=resume is not None)
        self._ws, self._stream = ws, stream
        try:
            async with trio.open_nursery() as tasks:
                session = _Session(tasks)
                tasks.start_soon(self._send_live, ws, session)
                tasks.start_soon(self._heartbeat, ws, stream)
                try:
                    while True:
                        message = await self._receive(ws)
                        if message is not None:
                            self._on_live(message, session)
                except ConnectionClosed as closed:
                    ended = self._closed(closed, welcomed=True)
                tasks.cancel_scope.cancel()
        finally:
            self._ws = self._stream = None
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
        self.epoch = welcome.epoch
        self.seat = welcome.seat
        self._catch_up_to = welcome.seq
        self._set_mode("live")
        self._check_ready()

    def _closed(self, closed: ConnectionClosed, *, welcomed: bool) -> _Ended:
        code = (
            CloseCode.ABNORMAL_CLOSURE if closed.reason is None else closed.reason.code
        )
        self._close_codes[int(code)] += 1
        reason = f"closed {code}"
        if code == CloseCode.SEAT_LOST:
            return _Ended(reason, final=True, welcomed=welcomed, ending="seat_lost")
        if code == CloseCode.TABLE_GONE:
            return _Ended(reason, final=True, welcomed=welcomed, ending="table_gone")
        return _Ended(reason, welcomed=welcomed)

    async def _receive(self, ws: WebSocketConnection) -> ServerMessage | None:
        text = await ws.get_message()
        try:
            return codec.structure_server_message(json.loads(text))
        except (ValueError, codec.DecodeError) as error:
            self._bad_messages += 1
            self._problem(f"a message that does not decode ({error}): {text!r}")
            return None

    def _on_live(self, message: ServerMessage, session: _Session) -> None:
        match message:
            case EventMessage():
                self._event(message)
            case Snapshot(seq=seq, view=view):
                self._snapshot(seq, view)
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

    async def _send_live(self, ws: WebSocketConnection, session: _Session) -> None:
        with suppress(ConnectionClosed):  # the reader sees it too, and ends
            while True:
                wake = self._outbox
                for pending in self._due(session):
                    await ws.send_message(codec.encode_message(pending.message))
                    self._sent(pending, session)
                await wake.wait()

    async def _heartbeat(
        self, ws: WebSocketConnection, stream: trio.SocketStream
    ) -> None:
        """Ping; a pong not back within `heartbeat_s` means a dead peer."""
        with suppress(ConnectionClosed):
            while True:
                await trio.sleep(self._heartbeat_s)
                with trio.move_on_after(self._heartbeat_s) as waiting:
                    await ws.ping()
                if waiting.cancelled_caught:
                    log.info("table %s: no pong: dropping the socket", self.table)
                    self._drops += 1
                    await stream.aclose()
                    return

    # Polling

    async def _poll_until_live(self) -> _Ended:
        """Long-poll (and post requests) while retrying the socket with backoff;
        the live session's end once it opened, or polling's final end."""
        self._fallbacks += 1
        polling_done = trio.Event()
        final: list[_Ended] = []
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

    async def _poll_session(self) -> _Ended:
        async with trio.open_nursery() as tasks:
            session = _Session(tasks)
            tasks.start_soon(self._post_requests, session)
            ended = await self._poll_events()
            tasks.cancel_scope.cancel()
        return ended

    async def _poll_events(self) -> _Ended:
        backoff = Backoff(self._backoff.base, self._backoff.cap, self._backoff.rng)
        caught_up = False
        while True:
            wait = self._poll_wait_s if caught_up else 0.0
            try:
                if self.epoch is None:
                    # A fresh start: the view of now, as a socket's snapshot.
                    page = await self._view_page()
                else:
                    page = await self.http.events(
                        self.table,
                        self.token,
                        after=self.offset,
                        wait=wait,
                        epoch=self.epoch,
                    )
            except (OSError, trio.TooSlowError, HttpError) as error:
                ended = _poll_failure(error)
                if ended is not None:
                    return ended
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

    async def _view_page(self) -> dict[str, Any]:
        """`GET /tables/{id}` as an events page that was not recovered."""
        view = await self.http.json("GET", f"/tables/{self.table}", token=self.token)
        epoch, seq = view.pop("epoch"), view.pop("seq")
        return {"epoch": epoch, "seq": seq, "recovered": False, "view": view}

    def _page(self, page: dict[str, Any]) -> bool:
        """Apply a page of events; whether it reached the table's seq."""
        epoch = str(page["epoch"])
        if not page["recovered"]:
            self.epoch = epoch
            self._snapshot(int(page["seq"]), codec.structure(page["view"], TableView))
            return True
        self.epoch = epoch
        last: EventMessage | None = None
        for data in page["events"]:
            try:
                message = codec.structure_server_message(data)
            except codec.DecodeError as error:
                self._bad_messages += 1
                self._problem(f"an event that does not decode ({error}): {data}")
                continue
            if isinstance(message, EventMessage):
                self._event(message)
                last = message
        return last is None or last.view is not None

    async def _post_requests(self, session: _Session) -> None:
        path = f"/tables/{self.table}/requests"
        while True:
            wake = self._outbox
            for pending in self._due(session):
                try:
                    status, body = await self.http.call(
                        "POST",
                        path,
                        body=codec.unstructure_message(pending.message),
                        token=self.token,
                    )
                except (OSError, trio.TooSlowError):
                    # Unknown whether it was applied: the same id again is safe.
                    session.sent.discard(pending.id)
                    await self._sleep(self._retry_pause_s)
                    break
                self._sent(pending, session)
                try:
                    answer = codec.structure_server_message(body)
                except codec.DecodeError:
                    answer = Error(code=f"http_{status}", message=str(body))
                if not isinstance(answer, Ack | Error):
                    self._problem(f"a request answered with {answer}")
                    continue
                if isinstance(answer, Error) and answer.id is None:
                    answer = attrs.evolve(answer, id=pending.id)
                self._answered(answer, session)
                self._notify()
            else:
                await wake.wait()

    # Folding what was received

    def _event(self, message: EventMessage) -> None:
        if message.seq <= self.offset:
            self._duplicates += 1
            self._problem(f"seq {message.seq} again (the offset is {self.offset})")
            return
        if message.seq != self.offset + 1:
            self._gaps += 1
            self._problem(f"seq {message.seq} after {self.offset}: a gap")
        self.events.append(Received(message.seq, message.event))
        self.offset = message.seq
        if message.view is not None:
            self._set_view(message.seq, message.view)

    def _snapshot(self, seq: int, view: TableView) -> None:
        self._snapshots += 1
        self.recovered = False
        self.offset = seq
        self._set_view(seq, view)

    def _set_view(self, seq: int, view: TableView) -> None:
        self.view = view
        self.view_seq = seq
        self.seat = view.viewer

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

    # Requests in flight

    def _poke(self) -> None:
        self._outbox.set()
        self._outbox = trio.Event()

    def _due(self, session: _Session) -> list[PendingRequest]:
        """The requests this session has yet to send (marked sent already)."""
        due = [p for p in self._unacked.values() if p.id not in session.sent]
        session.sent.update(p.id for p in due)
        return due

    def _sent(self, pending: PendingRequest, session: _Session) -> None:
        pending.sends += 1
        if pending._session not in (None, session):
            self._resent += 1
        pending._session = session
        pending.sent.set()

    def _answered(self, answer: Ack | Error, session: _Session) -> None:
        if isinstance(answer, Error):
            self._errors[answer.code] += 1
        assert answer.id is not None
        pending = self._unacked.get(answer.id)
        if pending is None:
            self._stray_answers += 1
            log.warning("table %s: an answer to no request: %s", self.table, answer)
            return
        if isinstance(answer, Error) and answer.code in RETRY_CODES:
            self._retried += 1
            session.nursery.start_soon(self._send_again_later, session, pending.id)
            return
        del self._unacked[answer.id]
        pending.answer = answer

    async def _send_again_later(self, session: _Session, request_id: str) -> None:
        await self._sleep(self._retry_pause_s)
        session.sent.discard(request_id)
        self._poke()


def _has_more_than(client: Client, *, count: int) -> bool:
    return len(client.events) > count


def _poll_failure(error: Exception) -> _Ended | None:
    """A final end for an error of the events route, or None to retry."""
    if not isinstance(error, HttpError):
        return None
    code = None if error.error is None else error.error.code
    if error.status == 404 or code in TABLE_GONE_CODES:
        return _Ended(str(error), final=True, ending="table_gone")
    if error.status == 401:
        return _Ended(str(error), final=True, ending="seat_lost")
    if error.status >= 500:
        return None
    raise ClientError(f"the events route refused the poll: {error}")
