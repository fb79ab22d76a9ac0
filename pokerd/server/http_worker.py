"""Hypercorn's trio worker, serving connections that pokerd's listeners accepted.

Hypercorn's `serve` opens listeners of its own; on the one port pokerd
shares between the HTTP API and the live stream, pokerd accepts and routes
each connection itself (pokerd/server/listeners.py) and hands the HTTP ones
here, each in the task that accepted it. This runs what
`hypercorn.trio.run.worker_serve` runs around its listeners: the app's ASGI
lifespan (startup before the first connection, shutdown after the last), one
Hypercorn `TCPServer` per connection, and the graceful stop: kept-alive idle
connections close at once and the requests in flight get
`config.graceful_timeout` to finish. It uses Hypercorn's trio modules below
its `serve` (`TCPServer`, `Lifespan`, `WorkerContext`), which are not
documented API: Hypercorn is pinned to one version (pyproject.toml) and
every HTTP test goes through this.
"""

from __future__ import annotations

import logging
import math

import trio
from hypercorn.config import Config
from hypercorn.events import Closed, Event
from hypercorn.trio.lifespan import Lifespan
from hypercorn.trio.statsd import StatsdLogger
from hypercorn.trio.tcp_server import TCPServer
from hypercorn.trio.worker_context import WorkerContext
from hypercorn.typing import ConnectionState, Framework, LifespanState
from hypercorn.utils import wrap_app

log = logging.getLogger(__name__)


class _Connection(TCPServer):
    """Hypercorn's TCPServer, whose writes take a connection closing under
    them for the end of the connection.

    Hypercorn 0.18 half-closes a connection (`send_eof`, in `_close`) without
    the lock its writes take: a write in flight then (the app's answer, or
    Hypercorn's own 100 Continue or 400 to a client that ended its side
    mid-body) raised trio.BusyResourceError. From the app's write that was
    a traceback in the log; from Hypercorn's reading task it escaped the
    connection and stopped the listener (found by tests/test_fuzz.py). The
    connection is ending: the write is dropped, as Hypercorn drops one to a
    connection already closed.
    """

    async def protocol_send(self, event: Event) -> None:
        try:
            await super().protocol_send(event)
        except trio.BusyResourceError:
            await self.protocol.handle(Closed())


class HttpServer:
    """An ASGI app on Hypercorn, for the connections handed to `serve`."""

    def __init__(self, app: Framework, config: Config) -> None:
        self._app = wrap_app(app, config.wsgi_max_body_size, "asgi")
        self._config = config
        self._state: LifespanState = {}
        self._context = WorkerContext(None)
        self._running = False
        self._stop = trio.Event()
        self._deadline = math.inf
        """When the connections open are cancelled: set by the graceful stop."""
        self._open: set[trio.CancelScope] = set()
        self._idle = trio.Event()
        self._idle.set()

    async def run(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Serve until `stop`, then stop gracefully (started: the app has
        started and connections can be served)."""
        config = self._config
        config.set_statsd_logger_class(StatsdLogger)
        lifespan = Lifespan(self._app, config, self._state)
        async with trio.open_nursery() as lifespan_nursery:
            await lifespan_nursery.start(lifespan.handle_lifespan)
            await lifespan.wait_for_startup()
            self._running = True
            task_status.started()
            try:
                await self._stop.wait()
            finally:
                self._running = False
                # Idle kept-alive connections close on this, and the others
                # once their response is sent; none is left past the deadline.
                await self._context.terminated.set()
                self._deadline = trio.current_time() + config.graceful_timeout
                for scope in self._open:
                    scope.deadline = self._deadline
            await self._idle.wait()
            await lifespan.wait_for_shutdown()
            lifespan_nursery.cancel_scope.cancel()

    async def serve(self, stream: trio.SocketStream) -> None:
        """Serve an accepted connection to its end, in the caller's task (it
        is closed at once if the server is not running)."""
        if not self._running:
            await trio.aclose_forcefully(stream)
            return
        server = _Connection(
            self._app,
            self._config,
            self._context,
            ConnectionState(self._state.copy()),
            stream,  # type: ignore[arg-type]  # TCPServer takes a plain stream too
        )
        scope = trio.CancelScope(deadline=self._deadline)
        self._open.add(scope)
        if self._idle.is_set():
            self._idle = trio.Event()
        try:
            with scope:
                await server.run()
        except Exception:
            # A bug in serving one connection must not take the listener,
            # and every other connection with it, down.
            log.exception("an HTTP connection failed")
        finally:
            # Hypercorn's connection is a cycle (the server holds its protocol,
            # which holds the server's `protocol_send`): broken here, reference
            # counting frees it at once, also if the collector froze it while
            # the connection was open; else it waits for a sweep
            # (docs/design.md, "The garbage collector").
            vars(server).pop("protocol", None)
            self._open.discard(scope)
            if not self._open:
                self._idle.set()
            # Cancelled, Hypercorn's own close may not be reached: trio's
            # serve_listeners, which Hypercorn's serve uses, does this too.
            await trio.aclose_forcefully(stream)

    def stop(self) -> None:
        """Stop serving new connections and let those open finish (see `run`)."""
        self._stop.set()
