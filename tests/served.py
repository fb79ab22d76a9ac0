"""A real server for tests: in this process or as `pokerd serve`, with clients.

`served` runs `pokerd.server.serve.serve` (the page, the HTTP API and the
live stream on one ephemeral port of 127.0.0.1, or the stream on a port of
its own with `live_port=0`) inside the test's Trio run;
`pokerd_serve` starts the daemon as a process, stopped by its PID. `HttpApi`
is pokerd.client's `Http` (a connection a call) and `LiveClient` is a
trio-websocket client of one table's live stream that keeps every message it
receives.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import struct
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, closing, contextmanager
from functools import partial
from pathlib import Path
from typing import Any, cast

import attrs
import trio
from trio_websocket import (
    ConnectionClosed,
    WebSocketConnection,
    open_websocket_url,
)

from pokerd.client import Http
from pokerd.engine.views import redaction_for
from pokerd.ops.settings import Settings
from pokerd.server.serve import serve
from pokerd.store import load_table, read_events
from pokerd.wire import codec

STEP_S = 20
"""Bound on any one wait of a test: generous, never expected."""
GRACE_S = 3
RATE_LIMIT_PAUSE_S = 0.1


def reset_connection(stream: trio.SocketStream) -> None:
    """Close with SO_LINGER 0: the kernel sends a RST instead of a FIN (as
    when a server crashes with the connection accepted)."""
    stream.socket.setsockopt(
        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
    )
    stream.socket.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class HttpApi(Http):
    """pokerd.client's HTTP client, at 127.0.0.1:PORT."""

    def __init__(self, port: int) -> None:
        # Long polls in tests wait up to STEP_S: the bound is well above it.
        super().__init__(f"http://127.0.0.1:{port}", timeout_s=3 * STEP_S)


@attrs.frozen
class Served:
    """A running server: its HTTP API and the live stream's base URL."""

    api: HttpApi
    live: str
    """ws://127.0.0.1:PORT"""


@asynccontextmanager
async def served(db: Path, **settings: Any) -> AsyncIterator[Served]:
    """`serve` in this Trio run on a free port, cancelled when the block ends."""
    defaults: dict[str, Any] = {"port": 0, "next_hand_delay_ms": 0}
    chosen = Settings(db=db, **{**defaults, **settings})
    async with trio.open_nursery() as nursery:
        where = await nursery.start(partial(serve, chosen, handle_signals=False))
        port = int(where.http[0].rsplit(":", 1)[1])
        yield Served(HttpApi(port), where.live)
        nursery.cancel_scope.cancel()


@contextmanager
def log_file(path: Path) -> Iterator[int]:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        yield descriptor
    finally:
        os.close(descriptor)


@attrs.frozen
class Process:
    """`pokerd serve` running as a process."""

    api: HttpApi
    live: str
    process: trio.Process


def pokerd_env() -> dict[str, str]:
    """The environment of a pokerd process a test starts: this one without
    POKERD_SCREENSHOTS, the tests' own setting (tests/test_web.py), which
    pokerd would refuse as a setting it does not know."""
    return {k: v for k, v in os.environ.items() if k != "POKERD_SCREENSHOTS"}


@asynccontextmanager
async def pokerd_serve(
    db: Path | str, log: Path, *flags: str
) -> AsyncIterator[Process]:
    """`pokerd serve` on a free port; killed by its PID if the test did not stop it."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "pokerd",
        "serve",
        "--db",
        str(db),
        "--port",
        str(port),
        "--next-hand-delay-ms",
        "0",
        "--shutdown-grace-s",
        str(GRACE_S),
        *flags,
    ]
    with log_file(log) as output:
        process = await trio.lowlevel.open_process(
            command, stdout=output, stderr=output, env=pokerd_env()
        )
    try:
        client = HttpApi(port)
        await wait_healthy(client)
        yield Process(client, f"ws://127.0.0.1:{port}", process)
    finally:
        if process.returncode is None:
            process.kill()
            with trio.CancelScope(shield=True):
                await process.wait()


async def stop(process: trio.Process, log: Path) -> int:
    """SIGTERM, and the exit status, which must be 0."""
    process.terminate()
    with trio.fail_after(GRACE_S + 2):
        code = await process.wait()
    assert code == 0, log.read_text()
    return code


class LiveClient:
    """One socket of a table's live stream; every message it got, in order."""

    def __init__(self, ws: WebSocketConnection) -> None:
        self.ws = ws
        self.received: list[dict[str, Any]] = []
        self._read = 0

    @property
    def events(self) -> list[dict[str, Any]]:
        """The event messages received so far."""
        return [m for m in self.received if m["type"] == "event"]

    @property
    def last_seq(self) -> int:
        """The seq of the latest event, snapshot or welcome received."""
        for message in reversed(self.received):
            if message["type"] in ("event", "snapshot", "welcome"):
                return int(message["seq"])
        raise AssertionError("nothing received yet")

    def view(self) -> dict[str, Any]:
        """The viewer's latest view (from the last event or snapshot with one)."""
        for message in reversed(self.received):
            if message.get("view") is not None:
                return cast(dict[str, Any], message["view"])
        raise AssertionError("no view received yet")

    async def send(self, message: dict[str, Any] | str) -> None:
        text = message if isinstance(message, str) else json.dumps(message)
        await self.ws.send_message(text)

    async def receive(self) -> dict[str, Any]:
        """The next message (kept in `received`)."""
        with trio.fail_after(STEP_S):
            message = json.loads(await self.ws.get_message())
        assert isinstance(message, dict)
        self.received.append(message)
        return message

    async def until(self, check: Any) -> dict[str, Any]:
        """Receive until a message for which `check(message)` is true."""
        while True:
            message = await self.receive()
            if check(message):
                return message

    async def until_event(self, kind: str) -> dict[str, Any]:
        return await self.until(
            lambda m: m["type"] == "event" and m["event"]["type"] == kind
        )

    async def until_seq(self, seq: int) -> None:
        """Receive until the event (or snapshot) at `seq` or later has arrived."""
        if any(
            m["type"] in ("event", "snapshot") and m["seq"] >= seq
            for m in self.received
        ):
            return
        await self.until(
            lambda m: m["type"] in ("event", "snapshot") and m["seq"] >= seq
        )

    async def request(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send a seat request; its answer (ack or error), events kept meanwhile.

        Refused as rate_limited, it is sent again (same id) a moment later, as
        the protocol asks: tests play far faster than people.
        """
        while True:
            await self.send(message)
            answer = await self.until(
                lambda m: m["type"] in ("ack", "error") and m.get("id") == message["id"]
            )
            if answer.get("code") != "rate_limited":
                return answer
            await trio.sleep(RATE_LIMIT_PAUSE_S)

    async def act(
        self, request_id: str, action: str, amount: int | None = None
    ) -> dict[str, Any]:
        return await self.request(
            {"type": "act", "id": request_id, "action": action, "amount": amount}
        )

    async def closed(self) -> int | None:
        """Read until the server closes the socket; its close code."""
        with trio.fail_after(STEP_S):
            while True:
                try:
                    await self.receive()
                except ConnectionClosed as closed:
                    return None if closed.reason is None else closed.reason.code


@asynccontextmanager
async def live_client(
    live: str,
    table: str,
    *,
    token: str | None = None,
    resume: dict[str, Any] | None = None,
    hello: bool = True,
) -> AsyncIterator[LiveClient]:
    """A socket at `table`'s live stream; said hello (and got the welcome) unless
    `hello` is False."""
    opened: list[WebSocketConnection] = []
    try:
        async with open_websocket_url(f"{live}/tables/{table}/live") as ws:
            opened.append(ws)
            client = LiveClient(ws)
            if hello:
                await client.send({"type": "hello", "token": token, "resume": resume})
                welcome = await client.receive()
                assert welcome["type"] == "welcome", welcome
            yield client
    finally:
        # trio-websocket 0.12.2 leaves the TCP stream open when the peer
        # vanished (close code 1006): its exit returns early then.
        for ws in opened:
            await ws._stream.aclose()


async def new_table(api: HttpApi, **config: Any) -> str:
    status, created = await api.call("POST", "/tables", body={"max_seats": 6, **config})
    assert status == 201, created
    return str(created["table"])


async def sit(api: HttpApi, table: str, seat: int, name: str, buy_in: int = 100) -> str:
    status, seated = await api.call(
        "POST",
        f"/tables/{table}/seats",
        body={"seat": seat, "name": name, "buy_in": buy_in},
    )
    assert status == 201, seated
    return str(seated["token"])


def log_as_seen_by(db: Path, table: str, seat: int | None) -> list[dict[str, Any]]:
    """The table's log as the seat's current player may see it, as sent."""
    with closing(sqlite3.connect(db)) as connection:
        loaded = load_table(connection, table)
        events = read_events(connection, table)
    assert loaded is not None
    redact_for = redaction_for(loaded.state, seat)
    return [
        {"seq": stored.seq, "event": codec.unstructure_event(redact_for(stored.event))}
        for stored in events
    ]


async def wait_healthy(api: HttpApi) -> None:
    """Until a server just started answers `GET /healthz` 200 (STEP_S at most)."""
    with trio.fail_after(STEP_S):
        while True:
            try:
                status, _ = await api.call("GET", "/healthz")
            except OSError:
                await trio.sleep(0.05)
                continue
            assert status == 200
            return


def verify(db: str) -> None:
    """`pokerd replay --verify`: every log gapless, its fold equal to every
    snapshot and hand row."""
    result = subprocess.run(
        [sys.executable, "-m", "pokerd", "replay", "--verify", "--db", db],
        capture_output=True,
        text=True,
        check=False,
        timeout=5 * STEP_S,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
