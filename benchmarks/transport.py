"""WebSocket transport benchmark for pokerd's live stream, three servers compared.

The variants, each a broadcast server in its own process on 127.0.0.1 (an
ephemeral port), all built on the pattern pokerd will use (every connection
has a bounded outbound queue of 256 messages drained by its own writer task;
a full queue drops the message and counts it):

- quart: a quart-trio app, `@app.websocket("/ws/<table>")`, on Hypercorn's
  trio worker (`hypercorn.trio.serve`);
- asgi: a raw ASGI app on the same Hypercorn worker;
- tw: a `trio_websocket.serve_websocket` server.

Sockets are grouped in tables of 6 by the path (`/ws/t17`). When a socket
sends a message, the server decodes it and sends a ~200-byte JSON event to
all 6 sockets of its table. The clients are two other processes using
trio-websocket (a table's 6 sockets live in one client process, so one
monotonic clock times all its copies); they offer permessage-deflate only in
scenario 3. The orchestrating process only starts, steers and measures the
others (JSON lines over their stdin/stdout) and stops each by its PID. It
runs scenario by scenario, the variants back to back within each, so that
load from other processes falls on them alike; every scenario starts a fresh
server.

It prints `name: value` lines (figures, no verdicts), `<variant>.<scenario>.*`:

1. `s600`: 600 sockets (100 tables): time to accept them all (64 handshakes
   in flight per client process), server RSS (/proc/PID/status VmRSS) idle,
   connected and after the traffic; `paced5`: every table 5 msg/s for 10 s,
   round trip from the send to the sender's own copy (`own_*`) and to the
   last of the table's 6 copies (`all6_*`); `saturate`: for 10 s every socket
   sends again as soon as its own copy is back, delivered messages per second.
   Then `stall`: a client completes the handshake and never reads; the server
   sends 1 MiB in ~200-byte messages under `trio.move_on_after(1)`; the client
   closes its socket after 4 s. Whether the timeout fired at about 1 s, when
   the send loop returned, and how much was sent before a send blocked.
2. `s6000.gc_default`, `s6000.gc_freeze`: 6000 sockets (1000 tables), every
   table 1 msg/s for 10 s; in the second the server calls `gc.freeze()` once
   all sockets are connected. (Clients call `gc.freeze()` after connecting in
   every scenario, to keep their own collector out of the figures.)
3. `deflate600`: 600 sockets offering permessage-deflate, as browsers do: how
   many got it, server RSS after connecting, after 5 s paced and after 5 s
   saturated. trio-websocket 0.12.2's client has no `extensions` option: the
   benchmark puts wsproto's `PerMessageDeflate` offer in the opening request
   the connection is about to send (a private attribute) and reads the outcome
   from that extension object.

With every load phase: `to_server_*` (send to the server decoding it; the
event carries the server's time.perf_counter(), one clock on one machine),
`incomplete` (sends whose copies had not all arrived 5 s after the phase:
late, since `server_dropped` counts what was dropped), the server's outbound
backlog (sum of queued messages, sampled each second), event-loop lag (how
late a 10 ms sleep wakes) in the server and the clients, CPU of the server
and the clients (percent of one CPU, and microseconds per delivered message),
and `other_processes_cpu_pct`: what the rest of the machine used meanwhile.

    python benchmarks/transport.py [--sockets N] [--quick] [--variants quart,asgi,tw]

`--sockets` is the large count (default 6000, rounded down to tables of 6;
capped by RLIMIT_NOFILE and the ephemeral port range, printed if so).
`--quick` uses 60 and 120 sockets, 2 s phases (1 s in scenario 3) and a 2 s
stall.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import os
import platform
import random
import resource
import subprocess
import sys
import time
import timeit
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import trio
import trio_websocket
from procstats import cpu_seconds, emit, percentile, raise_nofile
from wsproto import ConnectionType, WSConnection
from wsproto.events import Request
from wsproto.extensions import PerMessageDeflate

if TYPE_CHECKING:  # the servers import these; clients start faster without
    from hypercorn.typing import ASGIReceiveCallable, ASGISendCallable, Scope
    from quart_trio import QuartTrio

HOST = "127.0.0.1"
SEATS = 6
OUT_QUEUE = 256  # per-connection outbound queue (messages)
CONNECT_CONCURRENCY = 64  # handshakes in flight per client process
STALL_BYTES = 1 << 20
STALL_TIMEOUT = 1.0
STALL_HOLD = 4.0  # the stalled client closes its socket after this long
STALL_HOLD_QUICK = 2.0
VARIANTS = {
    "quart": "quart-trio on Hypercorn's trio worker",
    "asgi": "raw ASGI app on Hypercorn's trio worker",
    "tw": "trio_websocket.serve_websocket",
}

Json = dict[str, Any]


# --------------------------------------------------------------------------
# Shared helpers


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def busy_seconds() -> float:
    """CPU time all CPUs spent busy since boot (/proc/stat), in seconds."""
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


class LagMonitor:
    """How late this process's event loop wakes from a 10 ms sleep."""

    def __init__(self) -> None:
        self.samples: list[float] = []

    async def run(self) -> None:
        for _ in range(360_000):  # an hour at most; the process ends sooner
            start = time.perf_counter()
            await trio.sleep(0.01)
            self.samples.append((time.perf_counter() - start - 0.01) * 1000)

    def take(self) -> tuple[float, float]:
        """p99 and max lag (ms) since the last take."""
        samples, self.samples = self.samples, []
        return percentile(samples, 99), max(samples, default=math.nan)


async def commands() -> AsyncIterator[Json]:
    """The orchestrator's commands, one JSON line each, until EOF or quit."""
    for _ in range(100_000):
        line = await trio.to_thread.run_sync(sys.stdin.readline, abandon_on_cancel=True)
        if not line:
            return
        command: Json = json.loads(line)
        if command["op"] == "quit":
            return
        yield command


def table_of(path: str) -> str | None:
    prefix = "/ws/"
    if path.startswith(prefix) and len(path) > len(prefix):
        return path[len(prefix) :]
    return None


# --------------------------------------------------------------------------
# The server side: one hub, one session loop, three transports

_PAD = "x" * 29  # makes the event about 200 bytes


class Hub:
    """Tables of connections; a message from one seat goes to the whole table."""

    def __init__(self) -> None:
        self.tables: dict[str, list[trio.MemorySendChannel[str]]] = {}
        self.seq = 0
        self.received = 0
        self.queued = 0
        self.dropped = 0

    def join(self, table: str, out: trio.MemorySendChannel[str]) -> None:
        self.tables.setdefault(table, []).append(out)

    def leave(self, table: str, out: trio.MemorySendChannel[str]) -> None:
        members = self.tables.get(table)
        if members is not None and out in members:
            members.remove(out)
            if not members:
                del self.tables[table]

    def on_message(self, table: str, text: str) -> None:
        command = json.loads(text)
        self.received += 1
        self.seq += 1
        event = json.dumps(
            {
                "type": "action",
                "table": table,
                "seq": self.seq,
                "from": command["c"],
                "cs": command["s"],
                "seat": command["c"] % SEATS,
                "action": "raise",
                "amount": 1250,
                "pot": 4375,
                "board": ["Ah", "Kd", "7c", "2s"],
                "ts": round(time.perf_counter(), 6),
                "pad": _PAD,
            },
            separators=(",", ":"),
        )
        for out in self.tables.get(table, ()):
            try:
                out.send_nowait(event)
            except trio.WouldBlock:
                self.dropped += 1
            else:
                self.queued += 1


Receive = Callable[[], Awaitable[str | None]]
Send = Callable[[str], Awaitable[None]]


async def _writer(
    queue: trio.MemoryReceiveChannel[str],
    send: Send,
    closed: tuple[type[BaseException], ...],
) -> None:
    async with queue:
        async for text in queue:
            try:
                await send(text)
            except closed:
                return


async def session(
    hub: Hub,
    table: str,
    receive: Receive,
    send: Send,
    closed: tuple[type[BaseException], ...] = (),
) -> None:
    """The pattern under test: bounded queue + writer task, reads on this task."""
    out, queue = trio.open_memory_channel[str](OUT_QUEUE)
    hub.join(table, out)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_writer, queue, send, closed)
            while (text := await receive()) is not None:
                hub.on_message(table, text)
            nursery.cancel_scope.cancel()
    finally:
        hub.leave(table, out)


async def stall_experiment(variant: str, send: Send) -> None:
    """Send 1 MiB to a client that never reads, under a 1 s timeout."""
    message = json.dumps({"type": "filler", "pad": "y" * 170})
    count = STALL_BYTES // len(message) + 1
    sent = 0
    blocked_after: int | None = None
    error = ""
    start = time.perf_counter()
    with trio.move_on_after(STALL_TIMEOUT) as scope:
        try:
            for _ in range(count):
                before = time.perf_counter()
                await send(message)
                if blocked_after is None and time.perf_counter() - before > 0.05:
                    blocked_after = sent
                sent += len(message)
        except Exception as exc:  # a closed peer; recorded, not fatal
            error = type(exc).__name__
    if blocked_after is None and scope.cancelled_caught:
        blocked_after = sent  # the timeout interrupted the send that blocked
    emit(
        {
            "stall": {
                "variant": variant,
                "timeout_fired": scope.cancelled_caught,
                "returned_after_s": time.perf_counter() - start,
                "sent_bytes": sent,
                "total_bytes": count * len(message),
                "blocked_after_bytes": blocked_after,
                "error": error,
            }
        }
    )


def make_quart_app(hub: Hub) -> QuartTrio:
    from quart import websocket
    from quart_trio import QuartTrio

    app = QuartTrio("pokerd_transport_bench")

    @app.websocket("/ws/<table>")
    async def table_socket(table: str) -> None:
        await websocket.accept()
        receive_message = websocket.receive

        async def receive() -> str | None:
            data = await receive_message()
            return data if isinstance(data, str) else data.decode()

        await session(hub, table, receive, websocket.send)

    @app.websocket("/stall")
    async def stall_socket() -> None:
        await websocket.accept()
        await stall_experiment("quart", websocket.send)

    return app


def make_asgi_app(
    hub: Hub,
) -> Callable[[Scope, ASGIReceiveCallable, ASGISendCallable], Awaitable[None]]:
    async def app(
        scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "websocket":
            return
        if (await receive())["type"] != "websocket.connect":
            return
        await send({"type": "websocket.accept", "subprotocol": None, "headers": []})

        async def send_text(text: str) -> None:
            await send({"type": "websocket.send", "text": text, "bytes": None})

        if scope["path"] == "/stall":
            await stall_experiment("asgi", send_text)
            return
        table = table_of(scope["path"])
        if table is None:
            await send({"type": "websocket.close", "code": 1008, "reason": None})
            return

        async def receive_text() -> str | None:
            while True:
                message = await receive()
                if message["type"] == "websocket.receive":
                    text = message.get("text")
                    if text is not None:
                        return text
                    data = message.get("bytes")
                    return (data or b"").decode()
                if message["type"] == "websocket.disconnect":
                    return None

        await session(hub, table, receive_text, send_text)

    return app


def make_tw_handler(
    hub: Hub,
) -> Callable[[trio_websocket.WebSocketRequest], Awaitable[None]]:
    closed = trio_websocket.ConnectionClosed

    async def handler(request: trio_websocket.WebSocketRequest) -> None:
        ws = await request.accept()
        path = ws.path or ""
        if path == "/stall":
            await stall_experiment("tw", ws.send_message)
            return
        table = table_of(path)
        if table is None:
            await ws.aclose(1008)
            return

        async def receive() -> str | None:
            try:
                data = await ws.get_message()
            except closed:
                return None
            return data if isinstance(data, str) else data.decode()

        await session(hub, table, receive, ws.send_message, (closed,))

    return handler


async def server_main(variant: str) -> None:
    limit = raise_nofile()
    hub = Hub()
    async with trio.open_nursery() as nursery:
        if variant == "tw":
            server = await nursery.start(
                partial(
                    trio_websocket.serve_websocket,
                    make_tw_handler(hub),
                    HOST,
                    0,
                    None,
                )
            )
            port = server.port
        else:
            from hypercorn.config import Config
            from hypercorn.trio import serve

            config = Config()
            config.bind = [f"{HOST}:0"]
            config.backlog = 4096
            config.loglevel = "WARNING"
            app = make_quart_app(hub) if variant == "quart" else make_asgi_app(hub)
            binds: list[str] = await nursery.start(partial(serve, app, config))
            port = int(binds[0].rsplit(":", 1)[1])
        lag = LagMonitor()
        nursery.start_soon(lag.run)
        emit({"port": port, "pid": os.getpid(), "nofile": limit})
        async for command in commands():
            op = command["op"]
            if op == "freeze":
                gc.freeze()
                emit({"frozen": gc.get_freeze_count()})
            elif op == "stats":
                lag_p99, lag_max = lag.take() if command.get("lag") else (0, 0)
                emit(
                    {
                        "received": hub.received,
                        "queued": hub.queued,
                        "dropped": hub.dropped,
                        "backlog": sum(
                            out.statistics().current_buffer_used
                            for members in hub.tables.values()
                            for out in members
                        ),
                        "gc": [s["collections"] for s in gc.get_stats()],
                        "lag_p99_ms": lag_p99,
                        "lag_max_ms": lag_max,
                    }
                )
        nursery.cancel_scope.cancel()


# --------------------------------------------------------------------------
# The client side


class _Sock:
    __slots__ = ("cid", "deflate", "own", "seq", "table", "ws")

    def __init__(self, cid: int, table: int) -> None:
        self.cid = cid
        self.table = table
        self.seq = 0
        self.ws: trio_websocket.WebSocketConnection | None = None
        self.deflate: PerMessageDeflate | None = None
        self.own: trio.Event | None = None


class _Pending:
    __slots__ = ("left", "t0")

    def __init__(self, t0: float, left: int) -> None:
        self.t0 = t0
        self.left = left


async def open_client_socket(
    nursery: trio.Nursery, port: int, path: str, deflate: PerMessageDeflate | None
) -> trio_websocket.WebSocketConnection:
    """A trio-websocket client connection, offering permessage-deflate if given."""
    if deflate is None:
        return await trio_websocket.connect_websocket(
            nursery,
            HOST,
            port,
            path,
            use_ssl=False,
            message_queue_size=16,
            receive_buffer_size=16384,
        )
    # trio-websocket 0.12.2 has no `extensions` option: build the connection
    # as connect_websocket does, then replace the opening request it is about
    # to send with one that offers the extension. wsproto negotiates it and
    # inflates the frames; `deflate.enabled()` tells whether the server agreed.
    stream = await trio.open_tcp_stream(HOST, port)
    host = f"{HOST}:{port}"
    conn = trio_websocket.WebSocketConnection(
        stream,
        WSConnection(ConnectionType.CLIENT),
        host=host,
        path=path,
        message_queue_size=16,
        receive_buffer_size=16384,
    )
    conn._initial_request = Request(host=host, target=path, extensions=[deflate])
    nursery.start_soon(conn._reader_task)
    await conn._open_handshake.wait()
    return conn


class Client:
    """Some tables' sockets in one process; it times every copy it receives."""

    def __init__(self, nursery: trio.Nursery, tables: list[int], deflate: bool) -> None:
        self.nursery = nursery
        self.port = 0
        self.deflate = deflate
        self.tables = {
            t: [_Sock(t * SEATS + s, t) for s in range(SEATS)] for t in tables
        }
        self.size: dict[int, int] = {}
        self.pending: dict[tuple[int, int], _Pending] = {}
        self.own_ms: list[float] = []
        self.all_ms: list[float] = []
        self.copies = 0
        self.copies_total = 0
        self.in_ms: list[float] = []
        self.lag = LagMonitor()
        self.window = (math.inf, math.inf)
        self.unknown = 0
        self.closed = 0
        self.sent = 0

    def _reset(self) -> None:
        self.pending.clear()
        self.own_ms = []
        self.all_ms = []
        self.copies = 0
        self.copies_total = 0
        self.in_ms = []
        self.lag.take()
        self.unknown = 0
        self.sent = 0

    async def _reader(self, sock: _Sock) -> None:
        ws = sock.ws
        assert ws is not None
        pending = self.pending
        while True:
            try:
                text = await ws.get_message()
            except trio_websocket.ConnectionClosed:
                self.closed += 1
                return
            now = time.perf_counter()
            self.copies_total += 1
            if self.window[0] <= now <= self.window[1]:
                self.copies += 1
            event = json.loads(text)
            key = (event["from"], event["cs"])
            entry = pending.get(key)
            if entry is None:
                self.unknown += 1
                continue
            if key[0] == sock.cid:
                self.own_ms.append((now - entry.t0) * 1000)
                self.in_ms.append((event["ts"] - entry.t0) * 1000)
                if sock.own is not None:
                    sock.own.set()
            entry.left -= 1
            if entry.left == 0:
                self.all_ms.append((now - entry.t0) * 1000)
                del pending[key]

    async def _send(self, sock: _Sock) -> None:
        assert sock.ws is not None
        sock.seq += 1
        self.pending[sock.cid, sock.seq] = _Pending(
            time.perf_counter(), self.size[sock.table]
        )
        self.sent += 1
        await sock.ws.send_message(f'{{"c":{sock.cid},"s":{sock.seq}}}')

    async def connect(self, port: int) -> Json:
        self.port = port
        limiter = trio.CapacityLimiter(CONNECT_CONCURRENCY)
        failed: list[str] = []

        async def one(sock: _Sock) -> None:
            async with limiter:
                ext = PerMessageDeflate() if self.deflate else None
                try:
                    sock.ws = await open_client_socket(
                        self.nursery, self.port, f"/ws/t{sock.table}", ext
                    )
                except (OSError, trio_websocket.HandshakeError) as exc:
                    failed.append(type(exc).__name__)
                    return
                sock.deflate = ext
                self.nursery.start_soon(self._reader, sock)

        start = time.perf_counter()
        with trio.fail_after(180):
            async with trio.open_nursery() as nursery:
                for socks in self.tables.values():
                    for sock in socks:
                        nursery.start_soon(one, sock)
        seconds = time.perf_counter() - start
        for table, socks in self.tables.items():
            self.tables[table] = [s for s in socks if s.ws is not None]
            self.size[table] = len(self.tables[table])
        self.tables = {t: s for t, s in self.tables.items() if s}
        gc.collect()
        gc.freeze()
        socks_all = [s for socks in self.tables.values() for s in socks]
        return {
            "connected": len(socks_all),
            "failed": len(failed),
            "errors": sorted(set(failed)),
            "seconds": seconds,
            "deflate": sum(1 for s in socks_all if s.deflate and s.deflate.enabled()),
        }

    async def _drain(self, limit: float) -> None:
        with trio.move_on_after(limit):
            while self.pending:
                await trio.sleep(0.05)

    def _result(self, seconds: float) -> Json:
        lag_p99, lag_max = self.lag.take()
        return {
            "lag_p99_ms": lag_p99,
            "lag_max_ms": lag_max,
            "in_ms": [round(x, 4) for x in self.in_ms],
            "sent": self.sent,
            "copies": self.copies,
            "copies_total": self.copies_total,
            "seconds": seconds,
            "own_ms": [round(x, 4) for x in self.own_ms],
            "all_ms": [round(x, 4) for x in self.all_ms],
            "incomplete": len(self.pending),
            "unknown": self.unknown,
            "closed": self.closed,
        }

    async def paced(self, rate: float, seconds: float, drain: float) -> Json:
        """Every table sends `rate` msg/s, seats in turn, open loop."""
        self._reset()
        interval = 1 / rate
        start = trio.current_time()
        deadline = start + seconds
        wall = time.perf_counter()
        self.window = (wall, wall + seconds)

        async def pace(socks: list[_Sock]) -> None:
            turn = random.randrange(len(socks))
            at = start + random.random() * interval
            while at < deadline:
                await trio.sleep_until(at)
                await self._send(socks[turn % len(socks)])
                turn += 1
                at += interval

        async with trio.open_nursery() as nursery:
            for socks in self.tables.values():
                nursery.start_soon(pace, socks)
        await self._drain(drain)
        return self._result(seconds)

    async def saturate(self, seconds: float, warmup: float, drain: float) -> Json:
        """Closed loop: each socket sends again as soon as its own copy is back."""
        self._reset()
        deadline = trio.current_time() + seconds
        wall = time.perf_counter()
        self.window = (wall + warmup, wall + seconds)

        async def loop(sock: _Sock) -> None:
            while trio.current_time() < deadline:
                sock.own = trio.Event()
                await self._send(sock)
                with trio.move_on_at(deadline):
                    await sock.own.wait()
            sock.own = None

        async with trio.open_nursery() as nursery:
            for socks in self.tables.values():
                for sock in socks:
                    nursery.start_soon(loop, sock)
        await self._drain(drain)
        result = self._result(seconds - warmup)
        result["own_ms"] = []
        result["all_ms"] = []
        result["in_ms"] = []
        result["own_p50_ms"] = percentile(self.own_ms, 50)
        return result


async def client_main(tables: list[int], deflate: bool) -> None:
    raise_nofile()
    async with trio.open_nursery() as nursery:
        client = Client(nursery, tables, deflate)
        nursery.start_soon(client.lag.run)
        emit({"pid": os.getpid()})
        async for command in commands():
            op = command["op"]
            if op == "connect":
                emit(await client.connect(command["port"]))
            elif op == "paced":
                emit(
                    await client.paced(
                        command["rate"], command["seconds"], command["drain"]
                    )
                )
            elif op == "saturate":
                emit(
                    await client.saturate(
                        command["seconds"], command["warmup"], command["drain"]
                    )
                )
        nursery.cancel_scope.cancel()


# --------------------------------------------------------------------------
# The orchestrator


class Child:
    """A child process speaking JSON lines; stopped by its PID, always."""

    def __init__(self, process: trio.Process) -> None:
        self.process = process
        self.pid = process.pid
        self.buffer = bytearray()

    @classmethod
    async def start(cls, registry: list[Child], *args: str) -> Child:
        process = await trio.lowlevel.open_process(
            [sys.executable, os.path.abspath(__file__), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        child = cls(process)
        registry.append(child)
        return child

    async def send(self, obj: Json) -> None:
        assert self.process.stdin is not None
        await self.process.stdin.send_all((json.dumps(obj) + "\n").encode())

    async def recv(self, timeout: float) -> Json:
        assert self.process.stdout is not None
        with trio.fail_after(timeout):
            while True:
                end = self.buffer.find(b"\n")
                if end >= 0:
                    line = bytes(self.buffer[:end])
                    del self.buffer[: end + 1]
                    if line.startswith(b"{"):
                        result: Json = json.loads(line)
                        return result
                    continue
                data = await self.process.stdout.receive_some(1 << 20)
                if not data:
                    raise RuntimeError(f"child {self.pid} exited")
                self.buffer += data

    async def request(self, obj: Json, timeout: float) -> Json:
        await self.send(obj)
        return await self.recv(timeout)

    async def stop(self) -> None:
        with trio.CancelScope(shield=True):
            if self.process.returncode is None:
                with contextlib.suppress(
                    trio.BrokenResourceError, trio.ClosedResourceError, OSError
                ):
                    await self.send({"op": "quit"})
                with trio.move_on_after(5):
                    await self.process.wait()
            if self.process.returncode is None:
                os.kill(self.pid, 9)
                await self.process.wait()
            for stream in (self.process.stdin, self.process.stdout):
                if stream is not None:
                    await stream.aclose()


def out(name: str, value: object) -> None:
    if isinstance(value, float):
        value = f"{value:.3f}" if abs(value) < 100 else f"{value:.0f}"
    print(f"{name}: {value}", flush=True)


class Bench:
    def __init__(self, quick: bool, small: int, large: int) -> None:
        self.quick = quick
        self.small_count = small
        self.large_count = large
        self.phase = 2.0 if quick else 10.0
        self.settle = 0.2 if quick else 1.0
        self.stall_hold = STALL_HOLD_QUICK if quick else STALL_HOLD
        self.children: list[Child] = []

    async def start(
        self, variant: str, sockets: int, deflate: bool
    ) -> tuple[Child, int, list[Child]]:
        """Spawn the server and the client processes together; wait for all."""
        server = await Child.start(
            self.children, "--role", "server", "--variant", variant
        )
        tables = list(range(sockets // SEATS))
        half = (len(tables) + 1) // 2
        clients = []
        for part in (tables[:half], tables[half:]):
            if not part:
                continue
            args = ["--role", "client", "--tables", f"{part[0]}-{part[-1]}"]
            if deflate:
                args.append("--deflate")
            clients.append(await Child.start(self.children, *args))
        hello = await server.recv(60)
        for client in clients:
            await client.recv(60)
        return server, int(hello["port"]), clients

    async def stop(self, *children: Child) -> None:
        for child in children:
            await child.stop()
            self.children.remove(child)

    async def everyone(
        self, clients: list[Child], obj: Json, timeout: float
    ) -> list[Json]:
        for client in clients:
            await client.send(obj)
        return [await client.recv(timeout) for client in clients]

    async def connect(
        self, name: str, server: Child, port: int, clients: list[Child]
    ) -> Json:
        idle = rss_mb(server.pid)
        start = time.perf_counter()
        replies = await self.everyone(clients, {"op": "connect", "port": port}, 240)
        seconds = time.perf_counter() - start
        connected = sum(r["connected"] for r in replies)
        await trio.sleep(self.settle)
        rss = rss_mb(server.pid)
        out(f"{name}.connected", connected)
        failed = sum(r["failed"] for r in replies)
        if failed:
            errors = sorted({e for r in replies for e in r["errors"]})
            out(f"{name}.connect_failed", f"{failed} ({', '.join(errors)})")
        out(f"{name}.accept_s", seconds)
        out(f"{name}.rss_idle_mb", idle)
        out(f"{name}.rss_mb", rss)
        out(f"{name}.rss_kb_per_socket", (rss - idle) * 1024 / max(connected, 1))
        return {"connected": connected, "deflate": sum(r["deflate"] for r in replies)}

    async def load(
        self, name: str, server: Child, clients: list[Child], obj: Json, timeout: float
    ) -> None:
        """Run one load command on every client; print what it measured."""
        pids = [server.pid, os.getpid()] + [c.pid for c in clients]
        before = await server.request({"op": "stats", "lag": True}, 10)
        cpu0 = [cpu_seconds(p) for p in pids]
        busy0 = busy_seconds()
        wall0 = time.perf_counter()
        backlog = [0]
        done = trio.Event()

        async def poll() -> None:  # the server's outbound backlog, once a second
            while not done.is_set():
                with trio.move_on_after(1):
                    await done.wait()
                backlog.append((await server.request({"op": "stats"}, 10))["backlog"])

        async with trio.open_nursery() as nursery:
            nursery.start_soon(poll)
            replies = await self.everyone(clients, obj, timeout)
            wall = time.perf_counter() - wall0
            cpu = [cpu_seconds(p) - c for p, c in zip(pids, cpu0, strict=True)]
            others = busy_seconds() - busy0 - sum(cpu)
            done.set()
        stats = await server.request({"op": "stats", "lag": True}, 10)
        seconds = replies[0]["seconds"]
        sent = sum(r["sent"] for r in replies)
        out(f"{name}.sent_per_s", sent / obj["seconds"])
        out(f"{name}.delivered_per_s", sum(r["copies"] for r in replies) / seconds)
        own = [x for r in replies for x in r["own_ms"]]
        every = [x for r in replies for x in r["all_ms"]]
        inbound = [x for r in replies for x in r["in_ms"]]
        if own:
            out(f"{name}.own_p50_ms", percentile(own, 50))
            out(f"{name}.own_p99_ms", percentile(own, 99))
            out(f"{name}.all6_p50_ms", percentile(every, 50))
            out(f"{name}.all6_p99_ms", percentile(every, 99))
            out(f"{name}.all6_max_ms", max(every, default=math.nan))
            # send -> the server decoded it (same monotonic clock, same machine)
            out(f"{name}.to_server_p50_ms", percentile(inbound, 50))
            out(f"{name}.to_server_p99_ms", percentile(inbound, 99))
        if "own_p50_ms" in replies[0]:
            p50s = [r["own_p50_ms"] for r in replies]
            out(f"{name}.own_p50_ms", sum(p50s) / len(p50s))
        incomplete = sum(r["incomplete"] for r in replies)
        out(f"{name}.incomplete", f"{incomplete} of {sent}")
        gen = [a - b for a, b in zip(stats["gc"], before["gc"], strict=True)]
        out(f"{name}.server_gc_collections", "/".join(map(str, gen)))
        out(f"{name}.server_dropped", stats["dropped"] - before["dropped"])
        out(f"{name}.server_backlog_max", max(backlog))
        out(f"{name}.server_loop_lag_p99_ms", stats["lag_p99_ms"])
        out(f"{name}.server_loop_lag_max_ms", stats["lag_max_ms"])
        out(f"{name}.clients_loop_lag_p99_ms", max(r["lag_p99_ms"] for r in replies))
        out(f"{name}.clients_loop_lag_max_ms", max(r["lag_max_ms"] for r in replies))
        out(f"{name}.server_cpu_pct", 100 * cpu[0] / wall)
        out(f"{name}.clients_cpu_pct", 100 * sum(cpu[2:]) / wall)
        copies = max(1, sum(r["copies_total"] for r in replies))
        out(f"{name}.server_cpu_us_per_delivered", 1e6 * cpu[0] / copies)
        out(f"{name}.clients_cpu_us_per_delivered", 1e6 * sum(cpu[2:]) / copies)
        # CPU that processes outside this benchmark used meanwhile (100 per CPU)
        out(f"{name}.other_processes_cpu_pct", max(0.0, 100 * others / wall))
        closed = sum(r["closed"] for r in replies)
        if closed:
            out(f"{name}.closed_sockets", closed)

    async def paced(
        self, name: str, server: Child, clients: list[Child], rate: float
    ) -> None:
        drain = 5.0
        obj = {"op": "paced", "rate": rate, "seconds": self.phase, "drain": drain}
        await self.load(name, server, clients, obj, self.phase + drain + 60)

    async def saturate(
        self, name: str, server: Child, clients: list[Child], seconds: float
    ) -> None:
        drain = 5.0
        warmup = 0.5
        obj = {"op": "saturate", "seconds": seconds, "warmup": warmup, "drain": drain}
        await self.load(name, server, clients, obj, seconds + drain + 60)

    async def stall(self, variant: str, server: Child, port: int) -> None:
        """A client that completes the handshake, never reads, closes after 4 s."""
        stream = await trio.open_tcp_stream(HOST, port)
        try:
            await stream.send_all(
                b"GET /stall HTTP/1.1\r\n"
                + f"Host: {HOST}:{port}\r\n".encode()
                + b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                b"Sec-WebSocket-Version: 13\r\n\r\n"
            )
            head = b""
            with trio.fail_after(10):
                while b"\r\n\r\n" not in head and len(head) < 65536:
                    head += await stream.receive_some(1024)
            await trio.sleep(self.stall_hold)
        finally:
            await stream.aclose()
        with trio.fail_after(30):
            while "stall" not in (reply := await server.recv(30)):
                pass
        result = reply["stall"]
        name = f"{variant}.stall"
        fired = result["timeout_fired"]
        at = result["returned_after_s"]
        on_time = fired and at < STALL_TIMEOUT + 0.5
        out(f"{name}.timeout_fired_at_1s", "yes" if on_time else "no")
        out(f"{name}.cancelled_caught", fired)
        out(f"{name}.returned_after_s", at)
        out(f"{name}.peer_closed_at_s", self.stall_hold)
        out(f"{name}.sent_bytes", f"{result['sent_bytes']} of {result['total_bytes']}")
        out(f"{name}.first_blocked_after_bytes", result["blocked_after_bytes"])
        if result["error"]:
            out(f"{name}.error", result["error"])

    async def small(self, variant: str) -> None:
        """600 sockets: accept, RSS, paced latency, saturation; then the stall."""
        name = f"{variant}.s{self.small_count}"
        server, port, clients = await self.start(variant, self.small_count, False)
        await self.connect(name, server, port, clients)
        await self.paced(f"{name}.paced5", server, clients, 5.0)
        await self.saturate(f"{name}.saturate", server, clients, self.phase)
        out(f"{name}.rss_after_traffic_mb", rss_mb(server.pid))
        await self.stop(*clients)
        await self.stall(variant, server, port)
        await self.stop(server)

    async def large(self, variant: str, mode: str) -> None:
        """6000 sockets at 1 msg/s a table; gc.freeze() once connected if asked."""
        name = f"{variant}.s{self.large_count}.{mode}"
        server, port, clients = await self.start(variant, self.large_count, False)
        await self.connect(name, server, port, clients)
        if mode == "gc_freeze":
            frozen = await server.request({"op": "freeze"}, 30)
            out(f"{name}.frozen_objects", frozen["frozen"])
        await self.paced(f"{name}.paced1", server, clients, 1.0)
        out(f"{name}.rss_after_traffic_mb", rss_mb(server.pid))
        await self.stop(*clients)
        await self.stop(server)

    async def deflate(self, variant: str) -> None:
        """600 sockets offering permessage-deflate: negotiated?, RSS, CPU."""
        name = f"{variant}.deflate{self.small_count}"
        server, port, clients = await self.start(variant, self.small_count, True)
        got = await self.connect(name, server, port, clients)
        out(f"{name}.deflate_negotiated", f"{got['deflate']} of {got['connected']}")
        seconds = 1.0 if self.quick else self.phase / 2
        obj = {"op": "paced", "rate": 5.0, "seconds": seconds, "drain": 5.0}
        await self.load(f"{name}.paced5", server, clients, obj, seconds + 65)
        out(f"{name}.rss_after_paced_mb", rss_mb(server.pid))
        await self.saturate(f"{name}.saturate", server, clients, seconds)
        out(f"{name}.rss_after_traffic_mb", rss_mb(server.pid))
        await self.stop(*clients)
        await self.stop(server)

    async def run(self, variants: list[str]) -> None:
        """Scenario by scenario, the variants back to back in each, so that
        load from other processes on the machine falls on them alike."""
        try:
            print(f"# scenario 1: {self.small_count} sockets", flush=True)
            for variant in variants:
                await self.small(variant)
            for mode in ("gc_default", "gc_freeze"):
                print(f"# scenario 2: {self.large_count} sockets, {mode}", flush=True)
                for variant in variants:
                    await self.large(variant, mode)
            print(f"# scenario 3: {self.small_count} sockets, deflate", flush=True)
            for variant in variants:
                await self.deflate(variant)
        finally:
            for child in list(self.children):
                await child.stop()
            self.children.clear()


def socket_cap(requested: int) -> tuple[int, str]:
    """The largest socket count this machine allows (limits printed)."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    fd_cap = (hard - 200) if hard != resource.RLIM_INFINITY else requested
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        low, high = map(int, f.read().split())
    port_cap = high - low + 1 - 500
    cap = min(requested, fd_cap, port_cap)
    cap -= cap % SEATS
    return cap, f"RLIMIT_NOFILE hard {hard}, ephemeral ports {low}-{high}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--role", default="main", help=argparse.SUPPRESS)
    parser.add_argument("--variant", default="", help=argparse.SUPPRESS)
    parser.add_argument("--tables", default="", help=argparse.SUPPRESS)
    parser.add_argument("--deflate", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.role == "server":
        trio.run(server_main, args.variant)
        return
    if args.role == "client":
        first, last = map(int, args.tables.split("-"))
        trio.run(client_main, list(range(first, last + 1)), args.deflate)
        return

    variants = [v for v in args.variants.split(",") if v]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants: {', '.join(unknown)}")
    small = 60 if args.quick else 600
    requested = args.sockets or (120 if args.quick else 6000)
    large, limits = socket_cap(requested)
    out("python", platform.python_version())
    out("cpus", os.cpu_count())
    out("loadavg_at_start", " ".join(f"{x:.2f}" for x in os.getloadavg()))
    out("nofile_soft_limit_after_raise", raise_nofile())
    out("limits", limits)
    out("mode", "quick" if args.quick else "full")
    # a yardstick for comparing machines: CPython's speed on this one right now
    best = min(timeit.repeat("sum(range(1000))", number=2000, repeat=5)) / 2000
    out("cpu_calibration_sum_range_1000_us", best * 1e6)
    for variant in variants:
        out(f"variant.{variant}", VARIANTS[variant])
    out("sockets_small", small)
    out("sockets_large", large)
    if large < requested - requested % SEATS:
        out("sockets_large_note", f"{requested} requested; this machine allows {large}")
    start = time.perf_counter()
    trio.run(Bench(args.quick, small, large).run, variants)
    out("total_s", time.perf_counter() - start)


if __name__ == "__main__":
    main()
