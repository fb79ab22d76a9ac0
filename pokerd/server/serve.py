"""`pokerd serve`: the web page, the HTTP API and the live stream, stopped gracefully.

Start-up binds the listeners first (a port in use is one error, before any
other work), then opens (creating and migrating) the database, lets the
supervisor resume every table the log says must run, starts serving, logs
one line with the addresses and the database, and keeps the garbage
collector's pauses short by freezing what lives long
(`pokerd.ops.collector`, see docs/design.md). The page, the HTTP API and the
live stream share one port by default: each connection goes to Hypercorn or
to the live stream's trio-websocket server by its first bytes
(`pokerd.server.listeners`); `live_port` puts the stream on a port of its
own. docs/design.md says why both servers, and how one port is shared.

SIGINT or SIGTERM: long polls answer at once, every live socket is closed with
code 1001 (going away), no connection is accepted any more, the HTTP
requests in flight get most of `shutdown_grace_s` to finish, then the tables
are cancelled (an append in flight is shielded: it commits first) and the
log is closed. A second signal stops at once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import socket
from collections.abc import AsyncIterator, Iterator
from functools import partial

import attrs
import trio
from hypercorn.config import Config

from pokerd.ops.collector import FreezingCollector, timing_collections
from pokerd.ops.metrics import Metrics
from pokerd.ops.settings import Settings, is_postgresql
from pokerd.server.app import create_app
from pokerd.server.http_worker import HttpServer
from pokerd.server.listeners import address, bind, serve_port
from pokerd.server.live import CLOSE_TIMEOUT_S, LiveLimits, LiveServer
from pokerd.server.service import PokerService
from pokerd.store.log import EventStore
from pokerd.store.records import AppendTimes

log = logging.getLogger(__name__)

HTTP_SHARE_OF_GRACE = 0.8
"""Of the shutdown grace, what Hypercorn gives the requests in flight; the
rest is for the tables and the log to stop."""


@attrs.frozen
class Listening:
    """Where a started server listens."""

    http: list[str]
    """The HTTP API's URLs (http://HOST:PORT)."""
    live: str
    """The live stream's URL (ws://HOST:PORT): the HTTP API's port unless
    `live_port` is set."""


@attrs.frozen
class _Ports:
    """The bound listeners: the HTTP API's, and the live stream's own if it
    has one (else it shares the HTTP API's)."""

    http: list[trio.SocketListener]
    live: list[trio.SocketListener]

    def close(self) -> None:
        for listener in [*self.http, *self.live]:
            listener.socket.close()


async def _bind(settings: Settings) -> _Ports:
    """The listeners, bound before anything else is done (ListenError if a
    port cannot be opened)."""
    http = await bind(settings.host, settings.port)
    try:
        live = (
            []
            if settings.live_port is None
            else await bind(settings.host, settings.live_port)
        )
    except BaseException:
        for listener in http:
            listener.socket.close()
        raise
    return _Ports(http, live)


def run(settings: Settings) -> int:
    """Serve until SIGINT or SIGTERM; the exit status."""
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    trio.run(serve, settings)
    return 0


async def serve(
    settings: Settings,
    *,
    handle_signals: bool = True,
    task_status: trio.TaskStatus[Listening] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve `settings`' database until SIGINT or SIGTERM (started: where).

    Without `handle_signals` (a server inside another program, or a test) the
    signals keep their usual meaning and only cancellation stops it. A port
    that cannot be opened raises `pokerd.server.listeners.ListenError` before
    anything else is done.
    """
    ports = await _bind(settings)
    metrics = Metrics()
    with (
        contextlib.closing(ports),
        _signals(handle_signals) as signals,
        EventStore(
            settings.db,
            synchronous=settings.synchronous,
            on_append=partial(_appended, metrics),
            node=node_id(settings) if is_postgresql(settings.db) else None,
            lease_ttl_s=settings.lease_ttl_s,
        ) as store,
    ):
        if store.fenced:
            advertised = settings.advertise or f"http://{address(ports.http[0])}"
            await trio.to_thread.run_sync(store.leases.announce, advertised)
            log.info(
                "node %s, reached at %s%s",
                store.leases.node,
                advertised,
                ", cluster routing" if settings.cluster_routing else "",
            )
        service = PokerService(
            store,
            metrics=metrics,
            next_hand_delay_ms=settings.next_hand_delay_ms,
            subscriber_queue=settings.subscriber_queue,
            cluster_routing=settings.cluster_routing,
        )
        live = LiveServer(
            service,
            LiveLimits(
                max_frame_bytes=settings.max_frame_bytes,
                heartbeat_s=settings.heartbeat_s,
                ping_interval_s=settings.ping_interval_s,
                rate_limit_per_s=settings.rate_limit_per_s,
            ),
        )
        with timing_collections(service.metrics):
            async with trio.open_nursery() as tables:
                await tables.start(service.run)
                await _serve_network(
                    service,
                    live,
                    ports=ports,
                    settings=settings,
                    signals=signals,
                    task_status=task_status,
                )
                tables.cancel_scope.cancel()
    log.info("pokerd stopped")


def node_id(settings: Settings) -> str:
    """This node's name in the leases: the setting, or HOSTNAME-PID-RANDOM
    (new at each start, so a restarted node never mistakes an earlier
    incarnation's leases for its own)."""
    if settings.node_id is not None:
        return settings.node_id
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


def _appended(metrics: Metrics, times: AppendTimes) -> None:
    """The log's report of an append: `pokerd_events_appended_total`,
    `pokerd_append_latency_seconds` and `pokerd_append_wait_seconds`."""
    metrics.events_appended.inc(by=times.events)
    metrics.append_latency.observe(times.total)
    metrics.append_queued(times.queued)
    metrics.append_commit(times.commit)
    metrics.append_wake(times.wake)


@contextlib.contextmanager
def _signals(handle: bool) -> Iterator[AsyncIterator[int]]:
    if handle:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            yield signals
    else:
        yield _never()


async def _never() -> AsyncIterator[int]:
    await trio.sleep_forever()
    yield 0  # pragma: no cover (makes this an async generator)


async def _serve_network(
    service: PokerService,
    live: LiveServer,
    *,
    ports: _Ports,
    settings: Settings,
    signals: AsyncIterator[int],
    task_status: trio.TaskStatus[Listening],
) -> None:
    config = Config()
    config.graceful_timeout = settings.shutdown_grace_s * HTTP_SHARE_OF_GRACE
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    urls = [f"http://{address(listener)}" for listener in ports.http]
    live_url = f"ws://{address((ports.live or ports.http)[0])}"
    app = create_app(
        service,
        max_body_bytes=settings.max_frame_bytes,
        live_url=live_url if ports.live else None,
    )
    http = HttpServer(app, config)
    stop = trio.Event()

    async with trio.open_nursery() as nursery:
        await nursery.start(live.run)

        async def serve_http(*, task_status: trio.TaskStatus[None]) -> None:
            await http.run(task_status=task_status)
            with trio.move_on_after(CLOSE_TIMEOUT_S):
                await live.wait_idle()
            nursery.cancel_scope.cancel()  # done: stop watching for signals

        await nursery.start(serve_http)
        if ports.live:
            await nursery.start(partial(serve_port, ports.http, stop, http=http.serve))
            await nursery.start(partial(serve_port, ports.live, stop, live=live.serve))
            log.info(
                "pokerd serving on %s, live stream on %s, db %s",
                ", ".join(urls),
                live_url,
                settings.db,
            )
        else:
            await nursery.start(
                partial(serve_port, ports.http, stop, http=http.serve, live=live.serve)
            )
            log.info(
                "pokerd serving on %s (page, API and live stream), db %s",
                ", ".join(urls),
                settings.db,
            )
        await nursery.start(FreezingCollector().run)
        task_status.started(Listening(urls, live_url))
        async for number in signals:
            name = signal.Signals(number).name
            if stop.is_set():
                log.warning("%s again: stopping now", name)
                nursery.cancel_scope.cancel()
                break
            log.info("%s: shutting down (grace %gs)", name, settings.shutdown_grace_s)
            service.close()
            live.close()
            stop.set()
            http.stop()
