"""pokerd's TCP listeners: bound before anything else, each connection handed on.

`bind` opens the ports first, so a port in use is one clear error before any
table is loaded. `serve_port` accepts connections and hands each to the HTTP
server or to the live stream's. On the one port they share (the default)
it decides by the connection's first bytes, peeked at (MSG_PEEK, so the
stream is handed on untouched): a request line `GET /tables/{id}/live` is
the live stream's WebSocket upgrade, anything else is for the HTTP API. How
and why, and what it costs: docs/design.md ("One port").
"""

from __future__ import annotations

import enum
import errno
import logging
import re
import socket
from collections.abc import Awaitable, Callable, Sequence

import trio

from pokerd.server.live import PATH

log = logging.getLogger(__name__)

LIVE_TARGET = re.compile(PATH.pattern.encode())
"""A live stream's path in a request line."""
LIVE_METHOD = b"GET "
LIVE_PREFIX = LIVE_METHOD + b"/tables/"
LONGEST_LIVE_PATH = len("/tables/") + 64 + len("/live")
"""With the longest table id PATH takes."""
PEEK_BYTES = 128
"""Bytes peeked at: more than `GET` and the longest live path."""
ROUTE_TIMEOUT_S = 5.0
"""How long a new connection may take to send enough of its request line to
tell where it goes (Hypercorn's keep_alive_timeout: how long it keeps a
connection that sends nothing); then it is closed."""
FIRST_RETRY_S = 0.002
LAST_RETRY_S = 0.1
"""Waits between two peeks at a request line that came in part (doubling)."""
ACCEPT_CAPACITY_ERRNOS = frozenset(
    (errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS)
)
"""Accept errors that mean "out of file descriptors or memory for now"."""
ACCEPT_PAUSE_S = 0.1
"""How long accepting pauses after one of them (as trio's serve_listeners)."""


class Route(enum.Enum):
    """Where a connection goes."""

    HTTP = "http"
    LIVE = "live"


Serve = Callable[[trio.SocketStream], Awaitable[None]]
"""Serves an accepted connection to its end, in the caller's task, and
closes it (at once if its server is not running)."""


class ListenError(Exception):
    """A port pokerd must listen on cannot be opened; the message says which
    and why, in one line."""


async def bind(host: str, port: int) -> list[trio.SocketListener]:
    """Listeners on `host`:`port` (0: a free port); ListenError naming the
    port and the host if they cannot be opened."""
    try:
        return await trio.open_tcp_listeners(port, host=host)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise ListenError(f"port {port} on {host} is in use") from None
        reason = error.strerror or str(error)
        raise ListenError(f"cannot listen on {host} port {port}: {reason}") from None


def address(listener: trio.SocketListener) -> str:
    """HOST:PORT of a listener (the host in brackets for IPv6)."""
    host, port, *_ = listener.socket.getsockname()
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def route_of(head: bytes) -> Route | None:
    """Where a connection goes by its first bytes; None while they cannot tell.

    The live stream's only path is `/tables/{id}/live`, which the HTTP API
    does not use: a GET of it is the stream's WebSocket upgrade (or a request
    trio-websocket answers with an error). Anything else, as soon as its
    first bytes differ from that, is the HTTP API's.
    """
    seen = head[: len(LIVE_PREFIX)]
    if not LIVE_PREFIX.startswith(seen):
        return Route.HTTP
    target = head[len(LIVE_METHOD) :]
    end = re.search(rb"[ ?\r\n]", target[: LONGEST_LIVE_PATH + 1])
    if end is None:
        return None if len(target) <= LONGEST_LIVE_PATH else Route.HTTP
    path = target[: end.start()]
    return Route.LIVE if LIVE_TARGET.fullmatch(path) else Route.HTTP


async def serve_port(
    listeners: Sequence[trio.SocketListener],
    stop: trio.Event,
    *,
    http: Serve | None = None,
    live: Serve | None = None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Accept connections until `stop`, each served in a task of its own by
    `http` or `live` (by its first bytes if both are given); then wait for
    the connections to end, which their servers see to (started:
    accepting). The listeners are closed once `stop` is set."""
    if http is None and live is None:
        raise ValueError("nothing to serve")
    async with trio.open_nursery() as connections, trio.open_nursery() as accepting:
        for listener in listeners:
            accepting.start_soon(_accept, listener, connections, http, live)
        task_status.started()
        await stop.wait()
        accepting.cancel_scope.cancel()


async def _accept(
    listener: trio.SocketListener,
    connections: trio.Nursery,
    http: Serve | None,
    live: Serve | None,
) -> None:
    # One task a connection, as trio's serve_listeners: the route is decided
    # in the task that then serves the connection (handing it on to a task
    # of its server's costs a pass of the scheduler: docs/design.md).
    only = live if http is None else http if live is None else None
    async with listener:
        while True:
            try:
                stream = await listener.accept()
            except OSError as error:
                if error.errno not in ACCEPT_CAPACITY_ERRNOS:
                    raise
                log.error("accepting: %s; pausing %g s", error, ACCEPT_PAUSE_S)
                await trio.sleep(ACCEPT_PAUSE_S)
                continue
            if only is not None:
                connections.start_soon(only, stream)
            else:
                assert http is not None and live is not None
                connections.start_soon(_route, stream, http, live)


async def _route(stream: trio.SocketStream, http: Serve, live: Serve) -> None:
    try:
        route = await _peek_route(stream.socket)
    except BaseException:
        await trio.aclose_forcefully(stream)
        raise
    if route is None:  # silent or gone
        await trio.aclose_forcefully(stream)
    elif route is Route.LIVE:
        await live(stream)
    else:
        await http(stream)


async def _peek_route(sock: trio.socket.SocketType) -> Route | None:
    """Where the connection goes; None if it closed or did not tell within
    ROUTE_TIMEOUT_S."""
    wait = FIRST_RETRY_S
    with trio.move_on_after(ROUTE_TIMEOUT_S):
        while True:
            try:
                head = await sock.recv(PEEK_BYTES, socket.MSG_PEEK)
            except OSError:  # reset by the peer
                return None
            if not head:
                return None
            route = route_of(head)
            if route is not None:
                return route
            # Part of a request line: the socket stays readable while it is
            # unread, so wait for the rest by the clock, not by readiness.
            await trio.sleep(wait)
            wait = min(2 * wait, LAST_RETRY_S)
    return None
