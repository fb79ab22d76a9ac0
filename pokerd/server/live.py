"""The live stream: trio-websocket connections, one endpoint per table.

`ws://HOST:PORT/tables/{id}/live`, on the HTTP API's port (pokerd's
listeners hand each connection that asks for it to `LiveServer.serve`) or on
a port of its own (`live_port`). The client's first message is a `hello`
(its seat token, or none for a spectator, and where to resume); the server
answers `welcome`, then the missed events or a snapshot, then every event as
the table commits it, each redacted for this viewer and carrying its seq.
Seat requests (`act`, `sit_out`, ...) go through the same
`PokerService.request` as over HTTP, so ids are idempotent across both.

Each connection runs two tasks: the reader (requests in, answers queued) and
the writer (the subscriber queue out: the table's batches and this client's
answers, in order, so an ack never overtakes the event it names), though
an item published while the writer waits with nothing queued is written by
the publishing task itself (`pokerd.server.ws_fastpath`); one task of the
server pings the sockets that have been quiet. The queue is the hub's
bounded one: a client that falls behind is closed with SLOW_CONSUMER, and a
send blocked for `heartbeat_s` (a client that stopped reading) closes it the
same way, so the table never waits. Every byte of the socket goes through
its `FrameStream`, which writes nothing after part of a frame but the rest
of that frame: a client cut off gets whole frames, then its close frame or
the end of the TCP stream.
Why trio-websocket and not Hypercorn here: docs/design.md.
"""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import time
from collections.abc import Awaitable, Callable
from functools import partial

import attrs
import trio
from trio_websocket import (
    ConnectionClosed,
    WebSocketConnection,
    WebSocketRequest,
)
from wsproto.utilities import LocalProtocolError

from pokerd.ops.metrics import Metrics
from pokerd.ops.settings import DEFAULTS
from pokerd.server.frame_stream import FrameStream
from pokerd.server.service import PokerService, ServiceError
from pokerd.server.ws_fastpath import encode_frames, send_frames, write_now
from pokerd.server.ws_server import wrap_live_stream
from pokerd.tables.feed import Feed
from pokerd.tables.hub import Batch, SlowConsumerError
from pokerd.tables.tokens import token_hash
from pokerd.wire.codec import (
    DecodeError,
    decode_client_message,
    encode_message,
    parse_json,
)
from pokerd.wire.protocol import (
    TABLE_CLOSED,
    TABLE_GONE_CODES,
    CloseCode,
    Error,
    ErrorCode,
    Hello,
    Ping,
    Pong,
    ServerMessage,
)

log = logging.getLogger(__name__)

PATH = re.compile(r"/tables/(?P<table>[A-Za-z0-9_-]{1,64})/live")
"""The one endpoint of each table (a query string is ignored)."""
CLOSE_TIMEOUT_S = 1.0
"""How long closing may take (the rest of a frame cut short, the close frame,
the client's answer) before the socket is just closed."""
HANDSHAKE_TIMEOUT_S = 10.0
"""How long the HTTP upgrade request may take to arrive."""
PING_CHECK_S = 1.0
"""How often the sockets are looked over for one quiet long enough to ping
(more often if `ping_interval_s` is under four times this)."""
PING_SLICES = 20
"""The sockets are looked over a slice at a time, this many slices a check:
at 6,000 sockets of bots that act every 10-20 s about 400 pings fall due
each second, and sent at once they and their pongs held every table for
40-60 ms once a second."""
SEND_BUFFER_BYTES = 64 * 1024
"""Kernel send buffer of each live socket (Linux doubles it)."""
KEEPALIVE_IDLE_S = 5
KEEPALIVE_INTERVAL_S = 2
KEEPALIVE_PROBES = 3
"""TCP keepalive of live sockets: a dead peer is found in about 11 s."""


@attrs.frozen(kw_only=True)
class LiveLimits:
    """The per-connection limits, from the settings (the fields' meanings and
    defaults are theirs)."""

    max_frame_bytes: int = DEFAULTS.max_frame_bytes
    heartbeat_s: float = DEFAULTS.heartbeat_s
    ping_interval_s: float = DEFAULTS.ping_interval_s
    rate_limit_per_s: float = DEFAULTS.rate_limit_per_s


class TokenBucket:
    """`rate` messages a second, in bursts of up to `rate`."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic):
        self.rate = rate
        self._clock = clock
        self._tokens = max(rate, 1.0)
        self._last = clock()

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(
            max(self.rate, 1.0), self._tokens + (now - self._last) * self.rate
        )
        self._last = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False


class LiveServer:
    """Every live socket of the process, for the listener's lifetime."""

    def __init__(
        self,
        service: PokerService,
        limits: LiveLimits | None = None,
    ) -> None:
        self.service = service
        self.limits = LiveLimits() if limits is None else limits
        self.metrics: Metrics = service.metrics
        self._connections: set[LiveConnection] = set()
        self._closing = trio.Event()
        self._idle = trio.Event()
        self._idle.set()
        self.metrics.gauge(
            "pokerd_connections",
            "WebSocket connections open now.",
            lambda: [((), len(self._connections))],
        )

    @property
    def connections(self) -> int:
        return len(self._connections)

    async def run(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Ping the quiet sockets until `close` (started: connections can be
        served)."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._ping_quiet_sockets)
            task_status.started()
            await self._closing.wait()
            nursery.cancel_scope.cancel()

    async def serve(self, stream: trio.SocketStream) -> None:
        """Serve a connection accepted for the live stream to its end, in the
        caller's task: its WebSocket handshake within HANDSHAKE_TIMEOUT_S
        (else it is closed), then `_handle`, as trio-websocket's
        `WebSocketServer` serves one. Closed at once once the server is
        closing."""
        try:
            if self._closing.is_set():
                return
            try:
                _tune(stream.socket)
            except OSError:  # the peer has gone already
                return
            wire = FrameStream(stream)
            async with trio.open_nursery() as reader:  # trio-websocket's task
                request = None
                with trio.move_on_after(HANDSHAKE_TIMEOUT_S):
                    request = await wrap_live_stream(
                        reader, wire, max_message_size=self.limits.max_frame_bytes
                    )
                try:
                    if request is not None:
                        await self._handle(request, wire)
                finally:
                    # The reader answers a client's close frame by itself, and
                    # ends once the socket is closed: cancelled at once, it
                    # could be cut off before that answer went out.
                    reader.cancel_scope.deadline = trio.current_time() + CLOSE_TIMEOUT_S
        except* LocalProtocolError:
            # trio-websocket answers a ping with a pong even once its close
            # frame is out, which wsproto refuses: the socket was closing.
            pass
        except* ConnectionClosed:
            # The client left before the handshake's answer went out (a bot
            # or a browser giving up under load, a node's sockets cut by the
            # router): nothing failed here, and nothing is left to close.
            log.debug("a live client left during the handshake")
        except* Exception:
            # A failure in serving one socket (trio-websocket's reader task,
            # which runs here) must not take the listener, and every other
            # socket with it, down.
            log.exception("a live connection failed")
        finally:
            await trio.aclose_forcefully(stream)

    def close(self) -> None:
        """Shutting down: refuse new sockets, close every open one with
        GOING_AWAY (clients resume elsewhere or later)."""
        self._closing.set()
        for connection in list(self._connections):
            connection.close(CloseCode.GOING_AWAY, "the server is shutting down")

    async def wait_idle(self) -> None:
        """Until no connection is open."""
        await self._idle.wait()

    async def _ping_quiet_sockets(self) -> None:
        """Ping each socket that has been quiet for `ping_interval_s`.

        One task looks over every socket instead of a task per socket
        sleeping until its own deadline: a sleeping task (its coroutines, its
        cancel scopes) was about a tenth of a socket's memory, and a ping is
        rare (a socket the client just used needs none; the kernel's TCP
        keepalive finds a vanished peer of a quiet socket within seconds).
        Looking over 6,000 sockets takes about a millisecond.

        Each look covers one of `PING_SLICES` slices of the sockets, so the
        pings that fell due go out spread over the check's period, not all
        in one scheduler round (docs/design.md, "Pings spread out").
        """
        interval = self.limits.ping_interval_s
        every = min(PING_CHECK_S, interval / 4)
        while True:
            sockets = list(self._connections)
            for part in range(PING_SLICES):
                await trio.sleep(every / PING_SLICES)
                now = trio.current_time()
                for connection in sockets[part::PING_SLICES]:
                    connection.ping_if_quiet(now, interval)

    async def _handle(self, request: WebSocketRequest, wire: FrameStream) -> None:
        path = request.path.partition("?")[0]
        match = PATH.fullmatch(path)
        if match is None:
            await _reject(
                request, 404, ErrorCode.NO_SUCH_ENDPOINT, f"no stream at {path}"
            )
            return
        if self._closing.is_set():
            await _reject(
                request, 503, ErrorCode.SHUTTING_DOWN, "the server is stopping"
            )
            return
        ws = await request.accept()
        wire.begin_frames()
        connection = LiveConnection(self, ws, wire, match["table"])
        self._connections.add(connection)
        self._idle = trio.Event() if self._idle.is_set() else self._idle
        self.metrics.connections_opened.inc()
        try:
            await connection.run()
        finally:
            self._connections.discard(connection)
            if not self._connections:
                self._idle.set()


def _tune(sock: trio.socket.SocketType) -> None:
    """A live socket's options.

    A small send buffer: a client that stops reading fills it and blocks the
    writer within seconds, instead of quietly soaking up megabytes of
    autotuned kernel buffer. TCP keepalive: the kernel probes a quiet
    connection, so a peer that vanished is found within about
    KEEPALIVE_IDLE_S + 3 x KEEPALIVE_INTERVAL_S seconds at no cost to the
    server's own CPU.
    """
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for option, value in (
        ("TCP_KEEPIDLE", KEEPALIVE_IDLE_S),
        ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL_S),
        ("TCP_KEEPCNT", KEEPALIVE_PROBES),
    ):
        if hasattr(socket, option):  # Linux has all three
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)


async def _reject(request: WebSocketRequest, status: int, code: str, text: str) -> None:
    body = encode_message(Error(code=code, message=text)).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"x-content-type-options", b"nosniff"),
    ]
    await request.reject(status, extra_headers=headers, body=body)


class LiveConnection:
    """One client's socket at one table."""

    def __init__(
        self,
        server: LiveServer,
        ws: WebSocketConnection,
        wire: FrameStream,
        table: str,
    ) -> None:
        self._server = server
        self._service = server.service
        self._metrics = server.metrics
        self._limits = server.limits
        self._ws = ws
        self._wire = wire
        """The socket's stream, which finishes a frame cut short before
        writing anything else."""
        self._table = table
        self._bucket = TokenBucket(self._limits.rate_limit_per_s)
        self._scope = trio.CancelScope()
        self._token: str | None = None
        self._close: tuple[int, str] | None = None
        self._unanswered = 0
        """Messages read whose answer is not written yet: a lost seat's
        socket closes only once they are (its own leave's ack among them)."""
        self._last_heard = trio.current_time()
        """When the client last sent a message or answered a ping."""
        self._pinging = False
        self._nursery: trio.Nursery | None = None
        """Where a ping runs, once the connection serves its feed."""
        self._feed: Feed | None = None
        self._hashed: str | None = None
        """The token's hash, to see when a batch takes its seat away."""
        self._seat_lost = False
        """A batch took the seat away: later ones are not this viewer's."""
        self._writer_waiting = False
        """The writer waits with nothing queued: an item may go out at once
        (`_deliver_now`, given to the subscription from the start: until the
        writer has sent the first messages, and once it has ended, this is
        False and every item is queued)."""

    def close(self, code: int, reason: str) -> None:
        """End the connection with `code` (the first reason given wins)."""
        if self._close is None:
            self._close = (code, reason)
        self._scope.cancel()

    async def run(self) -> None:
        with self._scope:
            try:
                feed = await self._hello()
                if feed is not None:
                    await self._serve(feed)
            except ConnectionClosed:
                pass  # the client went: nothing to tell it
            except Exception:
                # A bug in serving one socket must not take the listener, and
                # every other socket with it, down.
                log.exception("table %s: a live connection failed", self._table)
                self.close(CloseCode.INTERNAL_ERROR, "server error: resume")
        code, reason = self._close or (1000, "")
        # The close frame goes after the rest of a frame a send was cut short
        # in, if the client takes that in time; else the TCP connection is
        # closed with nothing more written (FrameStream). Shielded, within
        # its deadline: a ping read meanwhile made trio-websocket's reader
        # fail (its pong after our close frame), which cancelled this task
        # mid-write of the close frame.
        with trio.CancelScope(
            deadline=trio.current_time() + CLOSE_TIMEOUT_S, shield=True
        ):
            await self._ws.aclose(code, reason)

    # Before the feed: nothing else writes, so answers go straight out.

    async def _hello(self) -> Feed | None:
        heartbeat = self._limits.heartbeat_s
        with trio.move_on_after(heartbeat):
            while True:
                text = await self._ws.get_message()
                if isinstance(text, bytes):
                    self._binary()
                    return None
                if not self._bucket.take():
                    await self._send_now(_rate_limited(text))
                    continue
                try:
                    message = decode_client_message(text)
                except DecodeError as error:
                    await self._send_now(_bad_message(text, error))
                    continue
                if not isinstance(message, Hello):
                    await self._send_now(
                        Error(
                            code=ErrorCode.HELLO_EXPECTED,
                            message="the first message is a hello",
                            id=getattr(message, "id", None),
                        )
                    )
                    continue
                try:
                    feed = await self._service.open_feed(
                        self._table,
                        message.token,
                        message.resume,
                        deliver_now=self._deliver_now,
                        on_drop=partial(self._slow, "queue"),
                    )
                except ServiceError as error:
                    await self._send_now(error.error)
                    if error.moved_to is not None:
                        self.close(CloseCode.TABLE_MOVED, error.moved_to)
                        return None
                    if error.error.code in TABLE_GONE_CODES:
                        self.close(CloseCode.TABLE_GONE, error.error.message)
                        return None
                    continue
                self._token = message.token
                return feed
        self.close(CloseCode.NO_HELLO, f"no hello within {heartbeat:g} s")
        return None

    async def _send_now(self, message: ServerMessage) -> None:
        self._count(message, "websocket")
        await self._send(encode_message(message))

    # The feed.

    async def _serve(self, feed: Feed) -> None:
        self._feed = feed
        # A spectator on the stream counts as watching, in the lobby, while
        # its feed lasts (a seated player's socket counts as its seat).
        spectator = feed.subscription.viewer is None
        if spectator:
            self._service.watching(self._table, +1)
        try:
            async with trio.open_nursery() as nursery:

                async def until_closed(task: Callable[[], Awaitable[None]]) -> None:
                    """Run `task`; whichever task ends, the connection ends."""
                    # ConnectionClosed: the client went, or the socket was closed.
                    with contextlib.suppress(ConnectionClosed):
                        await task()
                    nursery.cancel_scope.cancel()

                nursery.start_soon(until_closed, partial(self._write, feed))
                self._nursery = nursery
                await until_closed(partial(self._read, feed))
        finally:
            self._nursery = None  # closed: no ping is started in it
            feed.subscription.close()
            if spectator:
                self._service.watching(self._table, -1)

    async def _read(self, feed: Feed) -> None:
        while True:
            try:
                text = await self._ws.get_message()
            except ConnectionClosed:
                return
            if isinstance(text, bytes):
                self._binary()
                return
            self._last_heard = trio.current_time()
            self._unanswered += 1
            if not self._bucket.take():
                self._tell(feed, _rate_limited(text))
                continue
            try:
                message = decode_client_message(text)
            except DecodeError as error:
                self._tell(feed, _bad_message(text, error))
                continue
            match message:
                case Ping():
                    self._tell(feed, Pong())
                case Hello():
                    self._tell(
                        feed,
                        Error(
                            code=ErrorCode.UNEXPECTED_HELLO,
                            message="this connection already said hello",
                        ),
                    )
                case _:
                    try:
                        answer = await self._service.request(
                            self._table, self._token, message
                        )
                        reply: ServerMessage = answer.message
                    except ServiceError as error:
                        reply = attrs.evolve(error.error, id=message.id)
                    self._tell(feed, reply)

    def _tell(self, feed: Feed, message: ServerMessage) -> None:
        """Queue an answer behind the events already queued."""
        if not feed.subscription.tell(message):
            self._slow("queue")

    async def _write(self, feed: Feed) -> None:
        first, feed.first = feed.first, []  # held no longer than sent
        await self._send(
            *(encode_message(message) for message in [feed.welcome, *first])
        )
        del first
        self._hashed = None if self._token is None else token_hash(self._token)
        subscription = feed.subscription
        try:
            while True:
                if self._close is not None:
                    # Closing: the writer is cancelled at its next wait, but
                    # a write the kernel takes at once has none.
                    return
                # Whatever queued behind an item goes in the same write.
                queued = subscription.take_queued()
                if not queued:
                    self._writer_waiting = True
                    try:
                        item = await subscription.next_item()
                    finally:
                        self._writer_waiting = False
                    if item is None:
                        break
                    queued = [item, *subscription.take_queued()]
                await self._write_items(queued)
                # A closed table ends every stream (below), a player's too:
                # its seat went with the close, but so did the table.
                if (
                    self._seat_lost
                    and self._unanswered == 0
                    and not subscription.closed
                ):
                    self.close(CloseCode.SEAT_LOST, "this token holds no seat")
                    return
        except SlowConsumerError:
            self._slow("queue")
            return
        if subscription.moved:
            # No address: the client comes back where it reached the table
            # (the cluster's router, or its list of nodes), which finds the
            # node that runs it now.
            self.close(CloseCode.TABLE_MOVED, "")
            return
        if subscription.closed:
            message = subscription.ended or "the table is closed"
            await self._send_now(Error(code=TABLE_CLOSED, message=message))
            self.close(CloseCode.TABLE_GONE, "the table is closed")
            return
        ended = subscription.ended or "the table was stopped"
        await self._send_now(Error(code=ErrorCode.TABLE_STOPPED, message=ended))
        self.close(CloseCode.TABLE_GONE, "the table was stopped")

    async def _write_items(self, items: list[Batch | ServerMessage | bytes]) -> None:
        """Send queued items, in order, in one write."""
        parts: list[bytes] = []
        texts: list[str] = []  # since the last part
        batches: list[Batch] = []
        answers = messages = 0
        for item in items:
            if isinstance(item, bytes):  # frames after one written in part at once
                if texts:
                    parts.append(encode_frames(self._ws, texts))
                parts.append(item)
                messages += len(texts)
                texts = []
            elif isinstance(item, Batch):
                if self._seat_lost:
                    continue  # redacted for a seat not ours now
                texts += self._encoded(item)
                batches.append(item)
                self._seat_lost = self._loses_seat(item)
            else:
                self._count(item, "websocket")
                texts.append(encode_message(item))
                answers += 1
        if texts:
            parts.append(encode_frames(self._ws, texts))
        messages += len(texts)
        data = b"".join(parts)
        if data or self._wire.unfinished:
            await self._send_data(data, messages)
        sent = time.perf_counter()
        for batch in batches:
            self._metrics.broadcast_latency.observe(sent - batch.published_at)
        self._unanswered -= answers

    def _deliver_now(self, item: Batch | ServerMessage) -> bool:
        """`_write_at_once`, whose failure must not reach the publishing table:
        this socket closes instead, and its client resumes from its last seq."""
        try:
            return self._write_at_once(item)
        except Exception:
            log.exception("table %s: a live delivery failed", self._table)
            self.close(CloseCode.INTERNAL_ERROR, "server error: resume")
            return True

    def _write_at_once(self, item: Batch | ServerMessage) -> bool:
        """Write `item` from the publishing task, if the writer is waiting
        with nothing queued: True if it was (or its rest is queued first).

        This spares waking the writer task for each message, which at a
        thousand tables was a good part of a message's cost. Anything the
        writer must see goes to it instead (False: the item is queued, and
        from then on the writer is not taken to be waiting, so nothing
        overtakes it): a batch that takes this token's seat away, a socket
        that is closing or busy, a write the kernel does not take at all.
        """
        if not self._writer_waiting:
            return False
        self._writer_waiting = False
        if self._close is not None or self._seat_lost:
            return False
        if isinstance(item, Batch):
            if self._loses_seat(item):
                return False
            texts = self._encoded(item)
        else:
            texts = [encode_message(item)]
        try:
            data = encode_frames(self._ws, texts)
        except ConnectionClosed:
            return False
        taken = write_now(self._ws, data)
        if taken == 0:
            return False
        if taken < len(data) or self._wire.unfinished:
            # The kernel took part: the writer sends the rest of the frame it
            # stopped in (kept by the stream), then the frames after it.
            if not self._feeding().subscription.offer(data[taken:]):
                self._slow("queue")  # cannot happen: the queue was empty
        else:
            self._writer_waiting = True
        if isinstance(item, Batch):
            self._metrics.broadcast_latency.observe(
                time.perf_counter() - item.published_at
            )
        else:
            self._count(item, "websocket")
            self._unanswered -= 1
        self._metrics.messages_sent.inc(by=len(texts))
        return True

    def _feeding(self) -> Feed:
        assert self._feed is not None, "the connection serves its feed"
        return self._feed

    def _encoded(self, batch: Batch) -> list[str]:
        return self._feeding().encoded(batch)

    def _loses_seat(self, batch: Batch) -> bool:
        """Whether this batch leaves the token without the seat it follows."""
        viewer = self._feeding().viewer
        return (
            self._hashed is not None
            and batch.state.seat_of_token(self._hashed) != viewer
        )

    async def _send(self, *texts: str) -> None:
        """Send messages in one write (see `_send_data`)."""
        await self._send_data(encode_frames(self._ws, texts), len(texts))

    async def _send_data(self, data: bytes, messages: int) -> None:
        """Send frames' bytes (after the rest of a frame cut short) in one
        write, or give up on a client that has not read for `heartbeat_s`.

        Nearly every send is taken by the kernel at once (`write_now`); only
        the rest waits, and closing the connection cancels that wait. A send
        cut short may stop in a frame: the stream finishes that frame before
        anything else, and nothing else but the close frame is written.
        """
        taken = write_now(self._ws, data)
        if taken < len(data) or self._wire.unfinished:
            with trio.move_on_after(self._limits.heartbeat_s) as stalled:
                await send_frames(self._ws, data[taken:])
            if stalled.cancelled_caught:
                self._slow("stalled")
                return
        self._metrics.messages_sent.inc(by=messages)

    def _binary(self) -> None:
        """A binary frame: the protocol is JSON text, and a client that sends
        bytes has a bug no answer would fix."""
        self.close(CloseCode.UNSUPPORTED_DATA, "pokerd's messages are JSON text")

    def _slow(self, reason: str) -> None:
        """Close as SLOW_CONSUMER (once, whichever way it was noticed first)."""
        if self._close is not None:
            return
        self._metrics.slow_consumers_dropped.inc(reason)
        log.info("table %s: dropped a slow live client (%s)", self._table, reason)
        self.close(CloseCode.SLOW_CONSUMER, "fell behind: resume from your last seq")

    def ping_if_quiet(self, now: float, interval: float) -> None:
        """Start a ping if the client has been quiet for `interval` (and none
        is out): unanswered within `heartbeat_s`, the connection closes as
        NO_PONG."""
        nursery = self._nursery
        if self._pinging or nursery is None or now < self._last_heard + interval:
            return
        try:
            nursery.start_soon(self._ping)
        except RuntimeError:  # the connection is ending: its nursery takes
            return  # no new task while it waits for the others to finish
        self._pinging = True

    async def _ping(self) -> None:
        heartbeat = self._limits.heartbeat_s
        try:
            with trio.move_on_after(heartbeat) as scope:
                await self._ws.ping()
            if scope.cancelled_caught:
                self.close(CloseCode.NO_PONG, f"no pong within {heartbeat:g} s")
        except ConnectionClosed:
            pass  # the reader sees it too, and ends the connection
        finally:
            self._last_heard = trio.current_time()
            self._pinging = False

    def _count(self, message: ServerMessage, transport: str) -> None:
        if isinstance(message, Error):
            self._metrics.errors.inc(message.code, transport)


def _request_id(text: str | bytes) -> str | None:
    """The id of a message that did not decode, if it has a usable one."""
    try:
        data = parse_json(text, any_integer=True)
    except DecodeError:
        return None
    found = data.get("id") if isinstance(data, dict) else None
    return found if isinstance(found, str) and len(found) <= 64 else None


def _rate_limited(text: str | bytes) -> Error:
    return Error(
        code=ErrorCode.RATE_LIMITED,
        message="too many messages: this one was not applied, send it again later",
        id=_request_id(text),
    )


def _bad_message(text: str | bytes, error: DecodeError) -> Error:
    return Error(code=ErrorCode.BAD_MESSAGE, message=str(error), id=_request_id(text))
