"""The live stream transport: one WebSocket to one table (trio-websocket).

`open_live` opens `ws://HOST[:PORT]/tables/{id}/live` (docs/protocol.md) and
hands out a `LiveConnection` that sends and receives protocol messages, pings,
and can be cut abruptly (as a network failure would) or closed politely. The
rest of the client never sees trio-websocket: a closed connection is a
`LiveClosedError` with its close code, one that could not be opened a
`LiveUnreachableError`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import cast
from urllib.parse import urlsplit

import trio
from trio_websocket import (
    ConnectionClosed,
    HandshakeError,
    WebSocketConnection,
    wrap_client_stream,
)

from pokerd.client.errors import ClientError
from pokerd.client.transcript import Undecodable
from pokerd.wire import codec
from pokerd.wire.protocol import ClientMessage, CloseCode, ServerMessage


class LiveUnreachableError(Exception):
    """The socket could not be opened (refused, timed out, handshake rejected)."""


class LiveClosedError(Exception):
    """The connection is closed; `code` says how (1006: without a close frame)."""

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(f"closed {code}")
        self.code = code
        self.reason = reason
        """The close frame's reason (for TABLE_MOVED: where the table runs)."""


def live_target(live_url: str, table: str) -> tuple[str, int, str]:
    """The host, port and resource of `table`'s stream at `live_url`
    (ws://HOST[:PORT][/PREFIX]); ClientError for any other URL."""
    parts = urlsplit(live_url)
    if parts.scheme != "ws" or parts.hostname is None:
        raise ClientError(f"expected ws://HOST[:PORT], not {live_url!r}")
    resource = parts.path.rstrip("/") + f"/tables/{table}/live"
    return parts.hostname, parts.port or 80, resource


def _reason(closed: ConnectionClosed) -> str:
    return "" if closed.reason is None else closed.reason.reason or ""


def _code(closed: ConnectionClosed) -> int:
    if closed.reason is None:
        return int(CloseCode.ABNORMAL_CLOSURE)
    return int(closed.reason.code)


class LiveConnection:
    """An open WebSocket to a table's stream."""

    def __init__(self, ws: WebSocketConnection, stream: trio.SocketStream) -> None:
        self._ws = ws
        self._stream = stream

    async def send(self, message: ClientMessage) -> None:
        try:
            await self._ws.send_message(codec.encode_message(message))
        except ConnectionClosed as closed:
            raise LiveClosedError(_code(closed), _reason(closed)) from None

    async def receive(self) -> ServerMessage | Undecodable:
        """The next message, decoded (or what arrived, if it does not decode)."""
        try:
            text = await self._ws.get_message()
        except ConnectionClosed as closed:
            raise LiveClosedError(_code(closed), _reason(closed)) from None
        try:
            return codec.structure_server_message(json.loads(text))
        except (ValueError, codec.DecodeError) as error:
            return Undecodable(repr(text), str(error))

    async def wait_ping_unanswered(self, every_s: float) -> None:
        """Ping every `every_s` seconds; return once a pong has not come back
        within `every_s` (a dead peer: the caller cuts the connection).
        LiveClosedError once the connection is closed."""
        try:
            while True:
                await trio.sleep(every_s)
                with trio.move_on_after(every_s) as waiting:
                    await self._ws.ping()
                if waiting.cancelled_caught:
                    return
        except ConnectionClosed as closed:
            raise LiveClosedError(_code(closed), _reason(closed)) from None

    def cut(self) -> None:
        """End the connection at once, without a close frame (as a network
        failure would): the reader sees 1006. Not a checkpoint, so it cannot
        be cancelled half-way."""
        self._stream.socket.close()

    async def close(self, timeout_s: float) -> None:
        """Close politely (a close frame, and the server's answer), giving up
        after `timeout_s`."""
        with trio.move_on_after(timeout_s):
            await self._ws.aclose()


class _ReaderWatch:
    """Stands in for the nursery given to trio-websocket: starts the tasks it
    is given (its reader) in `nursery`, and calls `on_end` when one returns.

    trio-websocket 0.12.2's reader returns quietly when the connection is
    reset or closed before the handshake's answer (a connect racing a server
    crash), and the handshake then waits for an event nobody will set; its
    end is how `open_live` sees that the handshake cannot complete. A reader
    that raises (a rejected handshake) fails the nursery instead."""

    def __init__(self, nursery: trio.Nursery, on_end: Callable[[], None]) -> None:
        self._nursery = nursery
        self._on_end = on_end

    def start_soon(
        self,
        async_fn: Callable[..., Awaitable[object]],
        *args: object,
        name: object = None,
    ) -> None:
        async def watched() -> None:
            await async_fn(*args)
            self._on_end()

        self._nursery.start_soon(watched, name=async_fn if name is None else name)


async def _handshake(
    nursery: trio.Nursery,
    stream: trio.SocketStream,
    host: str,
    resource: str,
    timeout_s: float,
) -> WebSocketConnection:
    """The WebSocket handshake on `stream`, its reader in `nursery`;
    LiveUnreachableError if the connection ends first or it takes over
    `timeout_s` (a rejection is raised by the reader, in the nursery)."""
    waiting = trio.CancelScope(relative_deadline=timeout_s)
    ended = trio.Event()

    def reader_ended() -> None:
        ended.set()
        waiting.cancel()  # a no-op once the handshake is done

    # The library only calls `start_soon` on the nursery it is given (the
    # tests of open_live would fail loudly if that changed).
    watch = cast(trio.Nursery, _ReaderWatch(nursery, reader_ended))
    with waiting:
        return await wrap_client_stream(watch, stream, host, resource)
    if ended.is_set():
        raise LiveUnreachableError("the connection ended during the handshake")
    raise LiveUnreachableError("the handshake timed out")


@asynccontextmanager
async def open_live(
    live_url: str, table: str, *, timeout_s: float
) -> AsyncIterator[LiveConnection]:
    """A connection to `table`'s stream, cut when the block ends;
    LiveUnreachableError if it could not be opened within `timeout_s` (for
    the TCP connection, and again for the WebSocket handshake), or if the
    connection ended before the handshake's answer."""
    host, port, resource = live_target(live_url, table)
    try:
        with trio.fail_after(timeout_s):
            stream = await trio.open_tcp_stream(host, port)
    except (OSError, trio.TooSlowError) as error:
        raise LiveUnreachableError(f"cannot connect to {live_url}") from error
    opened = False
    try:
        # trio-websocket reads in a task of this nursery, where a rejected
        # handshake is raised.
        async with trio.open_nursery() as nursery:
            ws = await _handshake(
                nursery, stream, f"{host}:{port}", resource, timeout_s
            )
            opened = True
            try:
                yield LiveConnection(ws, stream)
            finally:
                nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        if opened:
            raise
        failed, rest = group.split((LiveUnreachableError, HandshakeError))
        if rest is not None:
            # Cancelled (the caller is closing), or a bug: that goes on up,
            # without the failed handshake, which no longer matters.
            raise rest from None
        raise LiveUnreachableError(f"the handshake failed: {failed!r}") from group
    finally:
        with trio.CancelScope(shield=True):
            await stream.aclose()
