"""Hypercorn's trio worker, serving connections that pokerd's listeners accepted.

Hypercorn's `serve` opens listeners of its own; on the one port pokerd
shares between the HTTP API and the live stream, pokerd accepts and routes
each connection itself (pokerd/server/listeners.py) and hands the HTTP ones
here. This runs what `hypercorn.trio.run.worker_serve` runs around its
listeners: the app's ASGI lifespan (startup before the first connection,
shutdown after the last), one Hypercorn `TCPServer` per connection, and the
graceful stop: kept-alive idle connections close at once and the requests
in flight get `config.graceful_timeout` to finish. It uses Hypercorn's trio
modules below its `serve` (`TCPServer`, `Lifespan`, `WorkerContext`), which
are not documented API: Hypercorn is pinned to one version (pyproject.toml)
and every HTTP test goes through this.
"""

from __future__ import annotations

import trio
from hypercorn.config import Config
from hypercorn.trio.lifespan import Lifespan
from hypercorn.trio.statsd import StatsdLogger
from hypercorn.trio.tcp_server import TCPServer
from hypercorn.trio.worker_context import WorkerContext
from hypercorn.typing import ConnectionState, Framework, LifespanState
from hypercorn.utils import wrap_app


class HttpServer:
    """An ASGI app on Hypercorn, for the connections handed to `take`."""

    def __init__(self, app: Framework, config: Config) -> None:
        self._app = wrap_app(app, config.wsgi_max_body_size, "asgi")
        self._config = config
        self._state: LifespanState = {}
        self._context = WorkerContext(None)
        self._connections: trio.Nursery | None = None
        self._stop = trio.Event()

    async def run(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Serve until `stop`, then stop gracefully (started: the app has
        started and connections can be taken)."""
        config = self._config
        config.set_statsd_logger_class(StatsdLogger)
        lifespan = Lifespan(self._app, config, self._state)
        async with trio.open_nursery() as lifespan_nursery:
            await lifespan_nursery.start(lifespan.handle_lifespan)
            await lifespan.wait_for_startup()
            async with trio.open_nursery() as connections:
                self._connections = connections
                task_status.started()
                try:
                    await self._stop.wait()
                finally:
                    self._connections = None
                    # Idle kept-alive connections close on this, and the
                    # others once their response is sent.
                    await self._context.terminated.set()
                    connections.cancel_scope.deadline = (
                        trio.current_time() + config.graceful_timeout
                    )
            await lifespan.wait_for_shutdown()
            lifespan_nursery.cancel_scope.cancel()

    def take(self, stream: trio.SocketStream) -> None:
        """Serve an accepted connection in a task of this server's (closed at
        once if the server is stopping)."""
        if self._connections is None:
            stream.socket.close()
            return
        server = TCPServer(
            self._app,
            self._config,
            self._context,
            ConnectionState(self._state.copy()),
            stream,  # type: ignore[arg-type]  # TCPServer takes a plain stream too
        )
        self._connections.start_soon(_serve_connection, server, stream)

    def stop(self) -> None:
        """Stop taking connections and let those open finish (see `run`)."""
        self._stop.set()


async def _serve_connection(server: TCPServer, stream: trio.SocketStream) -> None:
    try:
        await server.run()
    finally:
        # Cancelled (a hard stop), Hypercorn's own close may not be reached:
        # trio's serve_listeners, which Hypercorn's serve uses, does this too.
        await trio.aclose_forcefully(stream)
