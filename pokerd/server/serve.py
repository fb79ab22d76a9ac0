"""`pokerd serve`: the HTTP API and the live stream in one process, stopped gracefully.

The HTTP API runs on Hypercorn's trio worker; the live WebSocket stream on a
trio-websocket listener of its own (`live_port`, see docs/design.md for why
and for putting both behind one proxy port). Start-up opens (creating and
migrating) the database, lets the supervisor resume every table the log says
must run, starts both listeners, logs one line with the addresses and the
database, and keeps the garbage collector's pauses short by freezing what
lives long (`pokerd.ops.collector`, see docs/design.md).

SIGINT or SIGTERM: long polls answer at once, every live socket is closed with
code 1001 (going away), Hypercorn stops accepting and gives the requests in
flight most of `shutdown_grace_s` to finish, then the tables are cancelled (an
append in flight is shielded: it commits first) and the log is closed. A
second signal stops at once.
"""

from __future__ import annotations

import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Iterator
from functools import partial

import attrs
import trio
from hypercorn.config import Config
from hypercorn.trio import serve as hypercorn_serve

from pokerd.ops.collector import FreezingCollector, timing_collections
from pokerd.ops.metrics import Metrics
from pokerd.ops.settings import Settings
from pokerd.server.app import create_app
from pokerd.server.live import CLOSE_TIMEOUT_S, LiveLimits, LiveServer
from pokerd.server.service import PokerService
from pokerd.store.log import EventStore

log = logging.getLogger(__name__)

HTTP_SHARE_OF_GRACE = 0.8
"""Of the shutdown grace, what Hypercorn gives the requests in flight; the
rest is for the tables and the log to stop."""


@attrs.frozen
class Listening:
    """Where a started server listens."""

    http: list[str]
    """The HTTP API's URLs."""
    live: str
    """The live stream listener's URL (ws://HOST:PORT)."""


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
    signals keep their usual meaning and only cancellation stops it.
    """
    metrics = Metrics()
    with (
        _signals(handle_signals) as signals,
        EventStore(
            settings.db,
            synchronous=settings.synchronous,
            on_append=partial(_appended, metrics),
        ) as store,
    ):
        service = PokerService(
            store,
            metrics=metrics,
            next_hand_delay_ms=settings.next_hand_delay_ms,
            subscriber_queue=settings.subscriber_queue,
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
                await _serve_network(service, live, settings, signals, task_status)
                tables.cancel_scope.cancel()
    log.info("pokerd stopped")


def _appended(metrics: Metrics, events: int, seconds: float) -> None:
    """The log's report of an append: `pokerd_events_appended_total` and
    `pokerd_append_latency_seconds`."""
    metrics.events_appended.inc(by=events)
    metrics.append_latency.observe(seconds)


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
    settings: Settings,
    signals: AsyncIterator[int],
    task_status: trio.TaskStatus[Listening],
) -> None:
    config = Config()
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    config.bind = [f"{host}:{settings.port}"]
    config.graceful_timeout = settings.shutdown_grace_s * HTTP_SHARE_OF_GRACE
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    stop = trio.Event()

    async with trio.open_nursery() as nursery:
        live_url: str = await nursery.start(live.run, settings.host, settings.live_port)
        app = create_app(
            service, max_body_bytes=settings.max_frame_bytes, live_url=live_url
        )

        async def http(*, task_status: trio.TaskStatus[list[str]]) -> None:
            await hypercorn_serve(
                app, config, shutdown_trigger=stop.wait, task_status=task_status
            )
            with trio.move_on_after(CLOSE_TIMEOUT_S):
                await live.wait_idle()
            nursery.cancel_scope.cancel()  # done: stop watching for signals

        urls: list[str] = await nursery.start(http)
        log.info(
            "pokerd serving on %s, live stream on %s, db %s",
            ", ".join(urls),
            live_url,
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
