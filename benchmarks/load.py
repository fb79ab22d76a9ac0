"""Load benchmark: `pokerd serve` driven by bot processes, push against polling.

The orchestrator (this file run plainly) starts a fresh `pokerd serve` for
each scenario, on a fresh SQLite file at its default durability (FULL) and
its default settings bar the ports, then starts bot worker processes (this
file with `--worker`), each playing whole tables: the six seats of a table
live in one worker, so one monotonic clock times an action from the acting
bot's send to each seat's receipt of the resulting `action_taken`. Workers
report JSON lines; the orchestrator samples the server's CPU and memory and
the bots' CPU from /proc, and reads the server's `/metrics`.

Scenarios (`--scenarios`, all by default; `--quick` shrinks every one):

- `human100`: 100 tables of 6, bots think 1-3 s.
- `human1000`: 1000 tables of 6, bots think 1-3 s (`--large N` tables
  instead, to find the capacity at human pace).
- `saturation`: bots act at once; the number of tables steps up and the
  highest action rate held with p99 under 50 ms is reported, with the
  messages per second the server delivered (the server deals hands back to
  back and has no rate limit here: both are made for people).
- `chaos`: `human100` with 5% of actions followed by a dropped socket; each
  drop resumes from its offset and the seqs received must stay contiguous.
- `poll1s`, `longpoll`: `human100`'s traffic with clients that poll the view
  once a second (the design pokerd replaces) or long-poll the events, for the
  ratio of their latency to push.
- `ceiling`: a bare trio-websocket broadcast server (no game, no store, no
  redaction) with as many sockets as the saturation step that held, messages
  of the same size, saturated: what the stack itself can deliver.

A cluster (docs/cluster.md), through `benchmarks/cluster_load.py`:

- `--cluster N` (the scenario `cluster`): scenario 2 against N nodes on one
  PostgreSQL behind HAProxy (the bots reach only HAProxy's port), then
  against one node on SQLite, in the same run; the CPU of each part (each
  node, PostgreSQL's processes, HAProxy, the bots), how long each part
  waited runnable for a core (`parts_waited_for_a_core_pct`, from the
  kernel's schedstat), the servers' own stages (`server_stages`), and the
  ratios cluster to single node.
- `--failover` (the scenario `failover`): scenario 1 on two nodes behind
  HAProxy; half-way, kill -9 the second node. Per table it held, the time
  from its last event received before the kill to its first after (on the
  new owner), beside the same for the other node's tables (bots think 1-3 s,
  so a table is often quiet that long anyway); the bots' resumes, gaps and
  repeats; `pokerd replay --verify` of every table.

Both use `pokerd cluster`'s settings unless `--lease-ttl` (the nodes'
lease ttl) and `--router-checks` (HAProxy's health checks) say otherwise.
Behind the router a bot asks again through the same address when it is sent
away (a 307, a `table_moved`, HAProxy's 503 while a node is going down): the
router sends it to the table's node once the table is there.

The server serves the page, the API and the live stream on one port, as by
default; `--ports two` gives the stream a port of its own (`--live-port`),
and `--ports both` runs every scenario both ways, interleaved, `--repeat`
times each, and reports the medians of each way and their ratios
(`one_to_two`, each the median of the rounds' ratios, with their
quartiles): what sharing the port costs, measured in one run.
`--steps` picks the saturation steps.

Figures print as `name: value` lines and are written as JSON under
benchmarks/results/ with the machine and the git commit.

    python benchmarks/load.py [--quick] [--scenarios a,b] [--duration S]
        [--large N] [--ports one|two|both] [--repeat N] [--steps 5,10]
        [--cluster N] [--failover] [--lease-ttl S]
        [--router-checks INTER_MS,FALL,RISE]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import trio
import trio_websocket
from cluster_load import ClusterTarget, metric_totals, tree_cpu_seconds, tree_pids
from procstats import (
    cpu_seconds,
    emit,
    percentile,
    raise_nofile,
    run_queue_waits,
    waited_between,
)
from wsclient import ClosedError, HandshakeError, LeanSocket

from pokerd.ops.collector import FreezingCollector
from pokerd.ops.metrics import LATENCY_BUCKETS_S
from pokerd.tools.haproxy import Checks
from pokerd.wire.protocol import ErrorCode

HOST = "127.0.0.1"
SEATS = 6
ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
CONNECT_CONCURRENCY = 32
"""Tables being set up at once per worker (HTTP calls and handshakes)."""
SETUP_TRIES = 120
SETUP_TABLE_TRIES = 3
SATURATION_P99_MS = 50.0
CHAOS_DROP = 0.05
BUY_IN = 200

Json = dict[str, Any]


class AnswerLostError(Exception):
    """A set-up request was applied but its answer did not come back."""


# Shared helpers


def proc_status(pid: int, key: str) -> float:
    """A /proc/PID/status field in MB (VmRSS, VmHWM)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {key} for {pid}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


class Http:
    """Plain HTTP/1.1 on one kept-alive connection, read by Content-Length."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._stream: trio.SocketStream | None = None
        self._buffer = b""

    async def call(
        self, method: str, path: str, body: Any = None, token: str | None = None
    ) -> tuple[int, Any]:
        data = b"" if body is None else json.dumps(body).encode()
        head = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{self.port}"]
        if token is not None:
            head.append(f"Authorization: Bearer {token}")
        head.append(f"Content-Length: {len(data)}")
        if data:
            head.append("Content-Type: application/json")
        request = ("\r\n".join(head) + "\r\n\r\n").encode() + data
        for attempt in range(2):
            if self._stream is None:
                self._stream = await trio.open_tcp_stream(HOST, self.port)
                self._buffer = b""
            try:
                await self._stream.send_all(request)
                return await self._answer()
            except (trio.BrokenResourceError, ConnectionError):
                await self.aclose()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def _answer(self) -> tuple[int, Any]:
        while b"\r\n\r\n" not in self._buffer:
            await self._more()
        header, _, rest = self._buffer.partition(b"\r\n\r\n")
        status_line, *fields = header.decode("latin-1").split("\r\n")
        length = 0
        for line in fields:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        self._buffer = rest
        while len(self._buffer) < length:
            await self._more()
        content, self._buffer = self._buffer[:length], self._buffer[length:]
        status = int(status_line.split()[1])
        try:
            return status, json.loads(content) if content else None
        except ValueError:  # a router's own error page
            return status, content.decode(errors="replace")

    async def _more(self) -> None:
        assert self._stream is not None
        chunk = await self._stream.receive_some(65536)
        if not chunk:
            raise ConnectionError("closed mid-answer")
        self._buffer += chunk

    async def aclose(self) -> None:
        if self._stream is not None:
            with contextlib.suppress(trio.BrokenResourceError, OSError):
                await self._stream.aclose()
        self._stream = None


def choose(legal: Json, rng: random.Random) -> tuple[str, int | None]:
    """A plausible bot: mostly check or call, sometimes fold or raise a little."""
    roll = rng.random()
    if legal["call"] > 0 and roll < 0.15:
        return "fold", None
    if legal["min_raise_to"] is not None and roll < 0.3:
        high = min(legal["max_raise_to"], 2 * legal["min_raise_to"])
        return "raise", rng.randint(legal["min_raise_to"], high)
    return ("check" if legal["check"] else "call"), None


# The worker: tables of six bots on sockets (or pollers)


@dataclass
class TableRun:
    table: str
    tokens: list[str]
    pending: tuple[int, float] | None = None
    """(seat, perf_counter at send) of the action in flight."""
    pending_seq: int | None = None
    """Polling modes: the seq the in-flight action was acked at."""
    seen_by: set[int] = field(default_factory=set)


@dataclass
class Stats:
    latencies_ms: list[float] = field(default_factory=list)
    actions: int = 0
    events: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    gaps: int = 0
    duplicates: int = 0
    drops: int = 0
    resumed: int = 0
    not_recovered: int = 0
    connect_failures: int = 0
    closes: dict[str, int] = field(default_factory=dict)
    """Sockets the server ended, by close code ("none": the TCP just ended)."""
    moved: int = 0
    """`table_moved` answers (HTTP 307, or the hello's error): asked again
    through the same address, as the router sends it to the owner once the
    table is there."""
    hello_refused: dict[str, int] = field(default_factory=dict)
    """Hellos answered with another error (`table_restarting`), by code."""
    setup_retries: int = 0
    setup_answers: dict[str, int] = field(default_factory=dict)
    """Set-up answers other than 201, by status and code."""
    tables_abandoned: int = 0
    """Tables left with some bots seated, a seat's answer lost (set up again)."""
    """Set-up requests asked again (307, or 502/503 from the router)."""
    arrivals: dict[str, list[tuple[float, int]]] = field(default_factory=dict)
    """`--failover`: per table, (time.monotonic(), seq) of each event's
    first receipt by any seat; the orchestrator's clock is the same."""
    resumes: dict[str, list[float]] = field(default_factory=dict)
    """`--failover`: per table, when each of its seats' sockets was resumed
    (a welcome with `recovered: true`)."""

    def closed(self, code: int | None) -> None:
        key = "none" if code is None else str(code)
        self.closes[key] = self.closes.get(key, 0) + 1

    def error(self, code: str) -> None:
        self.errors[code] = self.errors.get(code, 0) + 1


class Worker:
    def __init__(self, spec: Json) -> None:
        self.spec = spec
        self.http_port: int = spec["http_port"]
        live = urllib.parse.urlsplit(spec["live"])
        self.live_host: str = live.hostname or HOST
        self.live_port: int = live.port or 80
        low, high = spec["think"]
        self.think = (float(low), float(high))
        self.chaos: float = spec.get("chaos", 0.0)
        self.mode: str = spec.get("mode", "push")
        self.trace: bool = spec.get("trace", False)
        self.retry_s: float = spec.get("retry_s", 0.5)
        """The pause before a socket is opened again after a refusal or a
        move; short behind a router (the next try may already reach the new
        owner)."""
        self.rng = random.Random(spec["seed"])
        self.stats = Stats()
        self.running = True
        self.measuring = False

    async def main(self) -> None:
        tables: list[TableRun] = []
        limiter = trio.CapacityLimiter(CONNECT_CONCURRENCY)

        async def setup() -> None:
            async with limiter:
                for _ in range(SETUP_TABLE_TRIES):
                    try:
                        tables.append(await self.create_table())
                        return
                    except AnswerLostError:
                        # A seat's answer was lost after it was taken (its
                        # token with it): a table of bots needs all six.
                        self.stats.tables_abandoned += 1
                raise RuntimeError("could not seat a table's six bots")

        async with trio.open_nursery() as nursery:
            for _ in range(self.spec["tables"]):
                nursery.start_soon(setup)
        emit({"event": "created", "tables": len(tables)})
        connected = trio.Event()
        ready = 0
        total = len(tables) * SEATS

        def one_ready() -> None:
            nonlocal ready
            ready += 1
            if ready == total:
                connected.set()

        async with trio.open_nursery() as nursery:
            for run in tables:
                for seat in range(SEATS):
                    play = self.poll_seat if self.mode != "push" else self.push_seat
                    nursery.start_soon(play, run, seat, one_ready, limiter)
            with trio.move_on_after(120):
                await connected.wait()
            # The bots' own garbage collector pauses would count as latency.
            await nursery.start(FreezingCollector().run)
            emit({"event": "connected", "sockets": ready})
            await trio.sleep(self.spec["warmup"])
            self.measuring = True
            started = time.perf_counter()
            await trio.sleep(self.spec["duration"])
            self.measuring = False
            elapsed = time.perf_counter() - started
            self.running = False
            nursery.cancel_scope.cancel()
        stats = self.stats
        emit(
            {
                "event": "done",
                "elapsed": elapsed,
                "latencies_ms": stats.latencies_ms,
                "actions": stats.actions,
                "events": stats.events,
                "errors": stats.errors,
                "gaps": stats.gaps,
                "duplicates": stats.duplicates,
                "drops": stats.drops,
                "resumed": stats.resumed,
                "not_recovered": stats.not_recovered,
                "connect_failures": stats.connect_failures,
                "closes": stats.closes,
                "moved": stats.moved,
                "hello_refused": stats.hello_refused,
                "setup_retries": stats.setup_retries,
                "setup_answers": stats.setup_answers,
                "tables_abandoned": stats.tables_abandoned,
                "arrivals": stats.arrivals,
                "resumes": stats.resumes,
            }
        )

    async def create_table(self) -> TableRun:
        http = Http(self.http_port)
        try:
            created = await self.setup_call(
                http,
                "/tables",
                {"max_seats": SEATS, "max_buy_in": BUY_IN, "min_buy_in": 40},
            )
            table = created["table"]
            tokens = []
            for seat in range(SEATS):
                seated = await self.setup_call(
                    http,
                    f"/tables/{table}/seats",
                    {"seat": seat, "name": f"bot{seat}", "buy_in": BUY_IN},
                )
                tokens.append(seated["token"])
        finally:
            await http.aclose()
        return TableRun(table, tokens)

    async def setup_call(self, http: Http, path: str, body: Json) -> Json:
        """POST `body`, expecting 201. Behind a router a new table may still
        be on the node that created it while the router already sends its
        requests to the node its id names (307 until the creator hands it
        over), or no node may be up (502/503): ask the same address again.
        Every other answer is counted by status and code."""
        for attempt in range(SETUP_TRIES):
            status, answer = await http.call("POST", path, body)
            if status == 201:
                return dict(answer)
            code = answer.get("code") if isinstance(answer, dict) else None
            key = f"{status} {code}" if code else str(status)
            self.stats.setup_answers[key] = self.stats.setup_answers.get(key, 0) + 1
            if attempt and code == "seat_taken":
                raise AnswerLostError(path)
            if status not in (307, 502, 503):
                break
            self.stats.setup_retries += 1
            await http.aclose()  # the router may pick another node
            await trio.sleep(self.retry_s)
        raise AssertionError(f"POST {path}: {status} {answer}")

    def thinking(self) -> float:
        low, high = self.think
        return self.rng.uniform(low, high) if high > 0 else 0.0

    def record(self, run: TableRun, seat: int, now: float) -> None:
        """`seat` received the in-flight action's event at `now`."""
        if run.pending is None or seat in run.seen_by:
            return
        run.seen_by.add(seat)
        if self.measuring:
            self.stats.latencies_ms.append((now - run.pending[1]) * 1000)

    # Push: a WebSocket per seat.

    async def push_seat(
        self,
        run: TableRun,
        seat: int,
        ready: Callable[[], None],
        limiter: trio.CapacityLimiter,
    ) -> None:
        token = run.tokens[seat]
        epoch: str | None = None
        offset = 0
        first = True
        acted_at = -1
        requests = 0
        path = f"/tables/{run.table}/live"
        view: Json | None = None
        view_seq = 0
        """The last view, kept across sockets: after a resume with nothing
        new the bot still knows whether it is to act."""
        decided: tuple[int, str, int | None] | None = None
        """The seq of the view last acted on, and the action sent."""
        while self.running:
            try:
                async with limiter:
                    ws = await LeanSocket.connect(self.live_host, self.live_port, path)
            except (OSError, HandshakeError):
                self.stats.connect_failures += 1
                await self.pause()
                continue
            moved = False
            try:
                resume = None if epoch is None else {"epoch": epoch, "offset": offset}
                await ws.send(
                    json.dumps({"type": "hello", "token": token, "resume": resume})
                )
                if first:
                    ready()
                    first = False
                waiting: set[str] = set()
                """Requests sent and not answered: a bot acts on a view only
                once its previous request was answered."""
                while True:
                    text = await ws.receive()
                    now = time.perf_counter()
                    message = json.loads(text)
                    kind = message["type"]
                    if kind == "welcome":
                        if epoch is not None:
                            if message["recovered"]:
                                self.stats.resumed += 1
                                if self.trace and self.measuring:
                                    resumes = self.stats.resumes
                                    resumes.setdefault(run.table, []).append(
                                        time.monotonic()
                                    )
                            else:
                                self.stats.not_recovered += 1
                        epoch = message["epoch"]
                        if not message["recovered"]:
                            offset = message["seq"]
                            continue
                        if message["seq"] != offset or view_seq != acted_at:
                            continue
                        # Nothing happened since the view this bot acted on:
                        # its action died with the socket (a node's death);
                        # act again.
                        acted_at = -1
                    elif kind == "snapshot":
                        offset = message["seq"]
                        if message["seq"] == acted_at:
                            acted_at = -1  # as above
                        view, view_seq = message["view"], message["seq"]
                    elif kind == "event":
                        seq = message["seq"]
                        if seq <= offset:
                            self.stats.duplicates += 1
                            continue
                        if seq != offset + 1:
                            self.stats.gaps += 1
                        offset = seq
                        if self.measuring:
                            self.stats.events += 1
                            if self.trace:
                                self.arrived(run.table, seq)
                        event = message["event"]
                        if (
                            event["type"] == "action_taken"
                            and event["cause"] == "player"
                            and run.pending is not None
                            and event["seat"] == run.pending[0]
                        ):
                            self.record(run, seat, now)
                        if message["view"] is not None:
                            view, view_seq = message["view"], seq
                    elif kind in ("ack", "error"):
                        # Then look at the view again: the turn may have come
                        # back while this answer was on its way.
                        waiting.discard(message["id"])
                        if kind == "error" and message["code"] == ErrorCode.TABLE_MOVED:
                            moved = True  # the close (4006) follows
                            self.stats.moved += 1
                        elif kind == "error" and message["id"] is None:
                            # The hello refused: `table_restarting` while a
                            # node takes the table over; the close follows.
                            moved = True
                            self.stats.hello_refused[message["code"]] = (
                                self.stats.hello_refused.get(message["code"], 0) + 1
                            )
                        elif kind == "error":
                            self.stats.error(message["code"])
                            if message["code"] == ErrorCode.RATE_LIMITED:
                                # Not applied: look again after the limit's
                                # 50 ms (20 a second), as a client should.
                                await trio.sleep(0.05)
                                acted_at = -1
                    else:
                        continue
                    if view is None or view_seq <= acted_at or waiting:
                        continue
                    if view["to_act"] == seat and view["legal"]:
                        acted_at = view_seq
                        if decided is not None and decided[0] == view_seq:
                            # Sent before, lost with its socket: decided
                            # already, so sent again at once.
                            _, action, amount = decided
                        else:
                            await trio.sleep(self.thinking())
                            action, amount = choose(view["legal"], self.rng)
                        decided = (view_seq, action, amount)
                        requests += 1
                        waiting.add(f"{seat}-{requests}")
                        run.pending, run.seen_by = (seat, time.perf_counter()), set()
                        await ws.send(
                            json.dumps(
                                {
                                    "type": "act",
                                    "id": f"{seat}-{requests}",
                                    "action": action,
                                    "amount": amount,
                                }
                            )
                        )
                        if self.measuring:
                            self.stats.actions += 1
                        if self.chaos and self.rng.random() < self.chaos:
                            self.stats.drops += 1
                            break
                    elif view["hand_in_progress"] is False:
                        me = view["seats"][seat]
                        if me is not None and me["stack"] == 0:
                            acted_at = view_seq
                            requests += 1
                            waiting.add(f"{seat}-{requests}")
                            await ws.send(
                                json.dumps(
                                    {
                                        "type": "top_up",
                                        "id": f"{seat}-{requests}",
                                        "amount": BUY_IN,
                                    }
                                )
                            )
                            if me["sitting_out"]:
                                requests += 1
                                waiting.add(f"{seat}-{requests}")
                                await ws.send(
                                    json.dumps(
                                        {
                                            "type": "come_back",
                                            "id": f"{seat}-{requests}",
                                        }
                                    )
                                )
            except (ClosedError, trio.BrokenResourceError, OSError):
                # The server closed (a move, 4006), or its node died.
                self.stats.closed(ws.close_code)
            finally:
                # Abrupt: the chaos drop and the end of a run just cut the TCP.
                await ws.abort()
            if moved:
                # This node does not run the table yet: the router sends the
                # next socket to the same node until the table is there.
                await self.pause()

    async def pause(self) -> None:
        """Before opening a socket again: `retry_s`, jittered so that the
        seats of a dead node do not come back all at once."""
        await trio.sleep(self.retry_s * (0.5 + self.rng.random()))

    def arrived(self, table: str, seq: int) -> None:
        """`seq` reached a seat of `table`: kept if it is the first seat."""
        arrivals = self.stats.arrivals.setdefault(table, [])
        if not arrivals or arrivals[-1][1] < seq:
            arrivals.append((time.monotonic(), seq))

    # Polling: the view once a second, or the events by long poll.

    async def poll_seat(
        self,
        run: TableRun,
        seat: int,
        ready: Callable[[], None],
        limiter: trio.CapacityLimiter,
    ) -> None:
        token = run.tokens[seat]
        http = Http(self.http_port)
        acted_at = -1
        requests = 0
        after = 0
        ready()
        await trio.sleep(self.rng.random())  # polls spread over the second
        try:
            while self.running:
                if self.mode == "poll1s":
                    tick = time.perf_counter()
                    _, view = await http.call(
                        "GET", f"/tables/{run.table}", token=token
                    )
                    now = time.perf_counter()
                    seq = view["seq"]
                else:
                    _, page = await http.call(
                        "GET",
                        f"/tables/{run.table}/events?after={after}&wait=30",
                        token=token,
                    )
                    now = time.perf_counter()
                    seq = page["seq"]
                    view = None
                    for message in page["events"]:
                        if message["view"] is not None:
                            view = {**message["view"], "seq": message["seq"]}
                    if self.measuring:
                        self.stats.events += len(page["events"])
                    after = seq
                if run.pending_seq is not None and seq >= run.pending_seq:
                    self.record(run, seat, now)
                if view is not None and view["seq"] > acted_at:
                    if view["to_act"] == seat and view["legal"]:
                        acted_at = view["seq"]
                        await trio.sleep(self.thinking())
                        action, amount = choose(view["legal"], self.rng)
                        requests += 1
                        run.pending, run.seen_by = (seat, time.perf_counter()), set()
                        run.pending_seq = None
                        _, answer = await http.call(
                            "POST",
                            f"/tables/{run.table}/requests",
                            {
                                "type": "act",
                                "id": f"{seat}-{requests}",
                                "action": action,
                                "amount": amount,
                            },
                            token=token,
                        )
                        if answer["type"] == "ack":
                            run.pending_seq = answer["seq"]
                            # The actor's own copy is the ack itself.
                            run.seen_by.add(seat)
                        else:
                            self.stats.error(answer["code"])
                        if self.measuring:
                            self.stats.actions += 1
                    elif not view["hand_in_progress"]:
                        me = view["seats"][seat]
                        if me is not None and me["stack"] == 0:
                            for body in (
                                {"type": "top_up", "amount": BUY_IN},
                                {"type": "come_back"},
                            ):
                                requests += 1
                                await http.call(
                                    "POST",
                                    f"/tables/{run.table}/requests",
                                    {**body, "id": f"{seat}-{requests}"},
                                    token=token,
                                )
                if self.mode == "poll1s":
                    await trio.sleep(max(0.0, 1.0 - (time.perf_counter() - tick)))
        finally:
            await http.aclose()


async def worker_main(spec: Json) -> None:
    raise_nofile()
    worker = Worker(spec)
    await worker.main()


# The ceiling: a bare broadcast server and its saturating clients.


async def ceiling_server(port: int) -> None:
    """Tables of six sockets by path; each message is relayed to the six."""
    raise_nofile()
    tables: dict[str, set[trio.MemorySendChannel[str]]] = {}

    async def handler(request: trio_websocket.WebSocketRequest) -> None:
        ws = await request.accept()
        send, receive = trio.open_memory_channel[str](256)
        members = tables.setdefault(request.path, set())
        members.add(send)

        async def writer() -> None:
            with contextlib.suppress(trio_websocket.ConnectionClosed):
                async for text in receive:
                    await ws.send_message(text)

        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(writer)
                with contextlib.suppress(trio_websocket.ConnectionClosed):
                    while True:
                        text = str(await ws.get_message())
                        json.loads(text)  # a server reads what it is sent
                        for member in list(members):
                            with contextlib.suppress(trio.WouldBlock):
                                member.send_nowait(text)
                nursery.cancel_scope.cancel()  # the client went: so does the writer
        finally:
            members.discard(send)

    listeners = await trio.open_tcp_listeners(port, host=HOST)
    server = trio_websocket.WebSocketServer(handler, listeners)
    async with trio.open_nursery() as nursery:
        await nursery.start(server.run)
        await nursery.start(FreezingCollector().run)  # as pokerd does
        emit({"event": "listening"})


async def ceiling_client(spec: Json) -> None:
    """Per table, seats take turns sending a message of `size` bytes; the next
    goes once all six have it (one in flight per table, as at a poker table)."""
    raise_nofile()
    stats = Stats()
    padding = "x" * max(0, spec["size"] - 60)
    measuring = False
    limiter = trio.CapacityLimiter(CONNECT_CONCURRENCY)

    async def table(number: int, task_status: trio.TaskStatus[None]) -> None:
        sockets = []
        try:
            for _ in range(SEATS):
                async with limiter:
                    sockets.append(
                        await LeanSocket.connect(HOST, spec["port"], f"/t/{number}")
                    )
            task_status.started()
            turn = 0
            while True:
                sent = time.perf_counter()
                await sockets[turn % SEATS].send(
                    json.dumps({"seat": turn % SEATS, "pad": padding})
                )
                for ws in sockets:
                    json.loads(await ws.receive())
                    if measuring:
                        stats.latencies_ms.append((time.perf_counter() - sent) * 1000)
                        stats.events += 1
                if measuring:
                    stats.actions += 1
                turn += 1
        finally:
            for ws in sockets:
                await ws.abort()

    async with trio.open_nursery() as nursery:
        for number in range(spec["tables"]):
            await nursery.start(table, number)
        await nursery.start(FreezingCollector().run)
        emit({"event": "connected", "sockets": spec["tables"] * SEATS})
        await trio.sleep(spec["warmup"])
        measuring = True
        started = time.perf_counter()
        await trio.sleep(spec["duration"])
        measuring = False
        elapsed = time.perf_counter() - started
        nursery.cancel_scope.cancel()
    emit(
        {
            "event": "done",
            "elapsed": elapsed,
            "latencies_ms": stats.latencies_ms,
            "actions": stats.actions,
            "events": stats.events,
        }
    )


# The orchestrator.


def stop_process(process: subprocess.Popen[Any], grace_s: float) -> None:
    """SIGTERM a process this benchmark started, SIGKILL it after `grace_s`."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Child:
    """A process of this file answering in JSON lines; stopped by its PID."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, *args],
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            cwd=ROOT,
        )

    def expect(self, event: str) -> Json:
        assert self.process.stdout is not None
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError(f"a child ended before {event!r}")
            message: Json = json.loads(line)
            if message.get("event") == event:
                return message

    def stop(self) -> None:
        stop_process(self.process, 10)


class Server:
    """`pokerd serve` on a fresh database in `folder`, default settings: one
    port, or the live stream on a port of its own (`own_live_port`)."""

    def __init__(
        self, folder: Path, flags: tuple[str, ...] = (), own_live_port: bool = False
    ) -> None:
        self.port = free_port()
        self.live_port = free_port() if own_live_port else self.port
        if own_live_port:
            flags = ("--live-port", str(self.live_port), *flags)
        self.log = (folder / "serve.log").open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pokerd",
                "serve",
                "--db",
                str(folder / "load.db"),
                "--port",
                str(self.port),
                "--log-level",
                "WARNING",
                *flags,
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                self.get("/healthz")
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise
                time.sleep(0.05)

    @property
    def pid(self) -> int:
        return self.process.pid

    def parts(self) -> dict[str, int]:
        return {"server": self.pid}

    def node_pids(self) -> list[int]:
        return [self.pid]

    def get(self, path: str) -> str:
        import http.client

        connection = http.client.HTTPConnection(HOST, self.port, timeout=30)
        try:
            connection.request("GET", path)
            return connection.getresponse().read().decode()
        finally:
            connection.close()

    def metrics(self, names: list[str]) -> dict[str, float]:
        """The total of each of `names` (its samples summed), one scrape."""
        return metric_totals(self.get("/metrics"), names)

    def stop(self) -> None:
        stop_process(self.process, 30)
        self.log.close()


@dataclass
class Scenario:
    name: str
    tables: int
    think: tuple[float, float]
    duration: float
    warmup: float
    mode: str = "push"
    chaos: float = 0.0
    workers: int = 1
    server_flags: tuple[str, ...] = ()
    own_live_port: bool = False
    nodes: int = 0
    """0: one node on SQLite; N: N nodes on PostgreSQL behind HAProxy."""
    failover: bool = False
    """Kill -9 the last node half-way through the measured time."""
    lease_ttl_s: float | None = None
    """The cluster's nodes' lease ttl (None: `pokerd cluster`'s)."""
    checks: Checks | None = None
    """HAProxy's health checks (None: `pokerd cluster`'s)."""


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def run_scenario(scenario: Scenario, seed: int) -> Json:
    """One scenario on a fresh server (or cluster); its figures."""
    with tempfile.TemporaryDirectory(prefix="pokerd-load-") as tmp:
        target: Server | ClusterTarget
        if scenario.nodes:
            target = ClusterTarget(
                Path(tmp),
                scenario.nodes,
                lease_ttl_s=scenario.lease_ttl_s,
                checks=scenario.checks,
            )
        else:
            target = Server(Path(tmp), scenario.server_flags, scenario.own_live_port)
        workers: list[Child] = []
        killed: Json | None = None
        verify: list[str] | None = None
        try:
            rss_idle = rss(target.node_pids(), "VmRSS")
            setup0 = time.perf_counter()
            for index, tables in enumerate(split(scenario.tables, scenario.workers)):
                spec = {
                    "http_port": target.port,
                    "live": f"ws://{HOST}:{target.live_port}",
                    "tables": tables,
                    "think": scenario.think,
                    "duration": scenario.duration,
                    "warmup": scenario.warmup,
                    "mode": scenario.mode,
                    "chaos": scenario.chaos,
                    "seed": seed * 1000 + index,
                    "trace": scenario.failover,
                    "retry_s": ROUTED_RETRY_S if scenario.nodes else 0.5,
                }
                workers.append(Child("--worker", json.dumps(spec)))
            for child in workers:
                child.expect("connected")
            setup = time.perf_counter() - setup0
            rss_connected = rss(target.node_pids(), "VmRSS")
            time.sleep(scenario.warmup)
            parts = target.parts()
            parts0 = sample_cpu(parts)
            parts1 = dict(parts0)
            # One scrape a node at each end of the measured time: a scrape
            # runs in the node's event loop, so each is a pause of every table.
            before = read_servers(target)
            bots0 = sum(cpu_seconds(child.process.pid) for child in workers)
            waits0 = run_queue_by_part(parts, workers)
            wall0 = time.perf_counter()
            peak = rss_connected
            while time.perf_counter() - wall0 < scenario.duration:
                time.sleep(min(1.0, scenario.duration))
                if (
                    isinstance(target, ClusterTarget)
                    and scenario.failover
                    and killed is None
                    and time.perf_counter() - wall0 >= scenario.duration / 2
                ):
                    parts1.update(sample_cpu(parts))
                    killed = kill_a_node(target)
                parts1.update(sample_cpu(parts))
                peak = max(peak, rss(target.node_pids(), "VmRSS"))
            wall = time.perf_counter() - wall0
            parts1.update(sample_cpu(parts))
            bots1 = sum(cpu_seconds(child.process.pid) for child in workers)
            waits1 = run_queue_by_part(parts, workers)
            after = read_servers(target)
            reports = [child.expect("done") for child in workers]
            hwm = rss(target.node_pids(), "VmHWM")
            if isinstance(target, ClusterTarget) and scenario.failover:
                verify = target.verify()
        finally:
            for child in workers:
                child.stop()
            target.stop()
    latencies = [x for report in reports for x in report["latencies_ms"]]
    actions = sum(report["actions"] for report in reports)
    elapsed = max(report["elapsed"] for report in reports)
    errors: dict[str, int] = {}
    closes: dict[str, int] = {}
    refused: dict[str, int] = {}
    for report in reports:
        for totals, counts in (
            (errors, report["errors"]),
            (closes, report["closes"]),
            (refused, report["hello_refused"]),
        ):
            for code, count in counts.items():
                totals[code] = totals.get(code, 0) + count
    players = scenario.tables * SEATS
    parts_cpu = {
        name: round(100 * (parts1[name] - parts0[name]) / wall, 1) for name in parts0
    }
    server_cpu = sum(
        parts1[name] - parts0[name] for name in parts0 if NODE_PARTS.fullmatch(name)
    )
    figures: Json = {
        "tables": scenario.tables,
        "players": players,
        "nodes": scenario.nodes or 1,
        "store": "postgresql" if scenario.nodes else "sqlite",
        "mode": scenario.mode,
        "think_s": list(scenario.think),
        "duration_s": round(elapsed, 2),
        "latency_ms": {
            "samples": len(latencies),
            "p50": round(percentile(latencies, 50), 3),
            "p99": round(percentile(latencies, 99), 3),
            "p999": round(percentile(latencies, 99.9), 3),
            "max": round(max(latencies, default=math.nan), 3),
        },
        "setup_s": round(setup, 2),
        "actions_per_s": round(actions / elapsed, 1),
        "events_appended_per_s": round(
            (after.counters["appended"] - before.counters["appended"]) / wall, 1
        ),
        "messages_sent_per_s": round(
            (after.counters["sent"] - before.counters["sent"]) / wall, 1
        ),
        "server_cpu_pct": round(100 * server_cpu / wall, 1),
        "server_cpu_ms_per_action": round(
            1000 * server_cpu / wall / max(actions / elapsed, 1e-9), 3
        ),
        "bots_cpu_pct": round(100 * (bots1 - bots0) / wall, 1),
        "parts_cpu_pct": {**parts_cpu, "bots": round(100 * (bots1 - bots0) / wall, 1)},
        "parts_waited_for_a_core_pct": {
            name: round(100 * waited_between(waits0[name], waits1[name]) / wall, 1)
            for name in waits0
        },
        "total_cpu_pct": round(
            sum(parts_cpu.values()) + 100 * (bots1 - bots0) / wall, 1
        ),
        "server_rss_idle_mb": round(rss_idle, 1),
        "server_rss_connected_mb": round(rss_connected, 1),
        "server_rss_peak_mb": round(max(peak, hwm), 1),
        "server_kb_per_player": round((max(peak, hwm) - rss_idle) * 1024 / players, 1),
        "errors": errors,
        "hello_refused": refused,
        "slow_consumers_dropped": after.counters["dropped"],
        "gaps": sum(report["gaps"] for report in reports),
        "duplicates": sum(report["duplicates"] for report in reports),
        "chaos_drops": sum(report["drops"] for report in reports),
        "chaos_resumed": sum(report["resumed"] for report in reports),
        "chaos_not_recovered": sum(report["not_recovered"] for report in reports),
        "connect_failures": sum(report["connect_failures"] for report in reports),
        "server_stages": stage_figures(before.stages, after.stages),
    }
    if scenario.nodes:
        figures["cluster_routing"] = isinstance(target, ClusterTarget) and target.routed
        figures["closed_by_server"] = closes
        figures["moved_answers"] = sum(report["moved"] for report in reports)
        figures["measured_moves"] = {
            name: after.moves[name] - before.moves[name] for name in before.moves
        }
        figures["setup_retries"] = sum(report["setup_retries"] for report in reports)
        answers: dict[str, int] = {}
        for report in reports:
            for key, count in report["setup_answers"].items():
                answers[key] = answers.get(key, 0) + count
        figures["setup_answers"] = answers
        figures["tables_abandoned"] = sum(
            report["tables_abandoned"] for report in reports
        )
    if killed is not None:
        arrivals: dict[str, list[list[float]]] = {}
        resumes: dict[str, list[float]] = {}
        for report in reports:
            arrivals.update(report["arrivals"])
            resumes.update(report["resumes"])
        figures["failover"] = failover_figures(
            killed, arrivals, resumes, reports, verify
        )
        # Rates that count a dead node's messages only until its death.
        del figures["messages_sent_per_s"], figures["events_appended_per_s"]
    return figures


NODE_PARTS = re.compile(r"server|node\d+")
ROUTED_RETRY_S = 0.25
"""Behind the router, a bot whose socket could not be opened, or was sent
away, tries again after about this long (0.5 s for a single node)."""


STAGES = {
    "append": ("pokerd_append_latency_seconds", ""),
    "append_queued": ("pokerd_append_wait_seconds", ',stage="queued"'),
    "append_commit": ("pokerd_append_wait_seconds", ',stage="commit"'),
    "append_wake": ("pokerd_append_wait_seconds", ',stage="wake"'),
    "broadcast": ("pokerd_broadcast_latency_seconds", ""),
}
"""The servers' own histograms of an action's way (name, labels): from a
table handing its events to the log to its task running again after their
commit (`append`, and its parts: until the log's writer took it, the
commit, from the commit to the task running), and from then to the message
written to a socket (`broadcast`)."""


COUNTERS = {
    "sent": "pokerd_messages_sent_total",
    "appended": "pokerd_events_appended_total",
    "dropped": "pokerd_slow_consumers_dropped_total",
}
MOVES = {
    "takeovers": "pokerd_takeovers_total",
    "handoffs_out": 'pokerd_handoffs_total{direction="out"}',
    "lease_renewals_failed": 'pokerd_lease_renewals_total{result="failed"}',
}
"""Counters of tables moving between nodes (a cluster only)."""


@dataclass
class Readings:
    """What the servers said at one moment, summed over the nodes."""

    counters: dict[str, float]
    stages: dict[str, dict[str, float]]
    """Each stage's histogram buckets, `le` -> count."""
    moves: dict[str, float]
    """`MOVES`, and how often the router has marked a node down (a cluster)."""


def read_servers(target: Server | ClusterTarget) -> Readings:
    """`COUNTERS`, `STAGES` and `MOVES`, in one scrape of each node."""
    # As prometheus_client writes a bound (1.0, not 1).
    bounds = [*(repr(float(bound)) for bound in LATENCY_BUCKETS_S), "+Inf"]
    buckets = {
        (stage, le): f'{name}_bucket{{le="{le}"{labels}}}'
        for stage, (name, labels) in STAGES.items()
        for le in bounds
    }
    cluster = isinstance(target, ClusterTarget)
    moves = MOVES if cluster else {}
    read = target.metrics([*COUNTERS.values(), *buckets.values(), *moves.values()])
    moved = {key: read[name] for key, name in moves.items()}
    if isinstance(target, ClusterTarget):
        moved["router_marked_node_down"] = target.marked_down()
    return Readings(
        counters={key: read[name] for key, name in COUNTERS.items()},
        stages={
            stage: {le: read[buckets[(stage, le)]] for le in bounds} for stage in STAGES
        },
        moves=moved,
    )


def stage_figures(
    before: dict[str, dict[str, float]], after: dict[str, dict[str, float]]
) -> Json:
    """Per stage over the measured time: how many, and the share of them
    over 10, 50 and 100 ms (the histograms' bounds). Where the latency the
    bots see was spent in the servers, against outside them (the bots,
    HAProxy, the kernel's queues and the wait for a core)."""
    figures: Json = {}
    for stage, buckets in after.items():
        counts = {le: buckets[le] - before[stage][le] for le in buckets}
        total = counts["+Inf"]
        figures[stage] = {
            "count": int(total),
            **{
                f"over_{label}_pct": round(
                    100 * (total - counts[le]) / total if total else 0.0, 3
                )
                for label, le in (("10ms", "0.01"), ("50ms", "0.05"), ("100ms", "0.1"))
            },
        }
    return figures


def rss(pids: list[int], key: str) -> float:
    return sum(proc_status(pid, key) for pid in pids)


def run_queue_by_part(
    parts: dict[str, int], workers: list[Child]
) -> dict[str, dict[tuple[int, int], float]]:
    """Each part's threads' waits for a core so far (`run_queue_waits`): a
    part's main process and its descendants, and the bots. Only threads
    alive at both readings count: a node killed in between adds nothing."""
    return {
        **{name: run_queue_waits(tree_pids(pid)) for name, pid in parts.items()},
        "bots": run_queue_waits([child.process.pid for child in workers]),
    }


def sample_cpu(parts: dict[str, int]) -> dict[str, float]:
    """The CPU seconds of each part still running (a part's main process
    and its descendants)."""
    found = {}
    for name, pid in parts.items():
        if os.path.exists(f"/proc/{pid}"):
            found[name] = tree_cpu_seconds(pid)
    return found


def kill_a_node(target: ClusterTarget) -> Json:
    """kill -9 the last node; which tables it held (and the others), when."""
    victim = target.names[-1]
    owners = target.owners()
    killed_at = time.monotonic()
    target.kill(victim)
    return {
        "node": victim,
        "at": killed_at,
        "moved": sorted(table for table, owner in owners.items() if owner == victim),
        "stayed": sorted(table for table, owner in owners.items() if owner != victim),
    }


def spans(
    tables: list[str],
    arrivals: dict[str, list[list[float]]],
    resumes: dict[str, list[float]],
    killed_at: float,
) -> Json:
    """Per table, the silence across the kill: from its last event received
    before the kill to its first after (`unavailable_s`), and from the kill
    to that first event (`kill_to_first_event_s`); from the kill to the
    first of its sockets resumed (`kill_to_first_resume_s`); tables that had
    no event after."""
    silences: list[float] = []
    waits: list[float] = []
    reconnects: list[float] = []
    silent = 0
    for table in tables:
        again = [time_ for time_ in resumes.get(table, []) if time_ >= killed_at]
        if again:
            reconnects.append(min(again) - killed_at)
        times = [time_ for time_, _ in arrivals.get(table, [])]
        before = [time_ for time_ in times if time_ < killed_at]
        after = [time_ for time_ in times if time_ >= killed_at]
        if not after:
            silent += 1
            continue
        waits.append(after[0] - killed_at)
        if before:
            silences.append(after[0] - before[-1])

    def summary(values: list[float]) -> Json | None:
        if not values:
            return None
        return {
            "p50": round(percentile(values, 50), 3),
            "p99": round(percentile(values, 99), 3),
            "max": round(max(values, default=math.nan), 3),
        }

    return {
        "tables": len(tables),
        "unavailable_s": summary(silences),
        "kill_to_first_event_s": summary(waits),
        "kill_to_first_resume_s": summary(reconnects),
        "no_event_after_kill": silent,
    }


def failover_figures(
    killed: Json,
    arrivals: dict[str, list[list[float]]],
    resumes: dict[str, list[float]],
    reports: list[Json],
    verify: list[str] | None,
) -> Json:
    """What the kill cost the dead node's tables, the others' as a baseline
    (bots think 1-3 s, so a table is often quiet that long anyway)."""
    return {
        "killed": killed["node"],
        "goal_s": FAILOVER_GOAL_S,
        "moved_tables": spans(killed["moved"], arrivals, resumes, killed["at"]),
        "other_tables": spans(killed["stayed"], arrivals, resumes, killed["at"]),
        "resumed_recovered": sum(report["resumed"] for report in reports),
        "resumed_not_recovered": sum(report["not_recovered"] for report in reports),
        "gaps": sum(report["gaps"] for report in reports),
        "duplicates": sum(report["duplicates"] for report in reports),
        "tables_failing_replay_verify": len(verify or []),
        "replay_verify_failures": (verify or [])[:5],
    }


FAILOVER_GOAL_S = 3.0


PORTS = {"one": (False,), "two": (True,), "both": (False, True)}
"""`--ports`: the ways to run, as `own_live_port`."""
COMPARED = (
    ("setup_s",),
    ("actions_per_s",),
    ("messages_sent_per_s",),
    ("server_cpu_pct",),
    ("server_cpu_ms_per_action",),
    ("latency_ms", "p50"),
    ("latency_ms", "p99"),
)
"""The figures whose one-port to two-ports ratio `--ports both` reports."""


def median_figures(runs: list[Json]) -> Json:
    """Each numeric figure's median over `runs`; others as in the first."""
    medians: Json = {}
    for key, first in runs[0].items():
        values = [run[key] for run in runs]
        if isinstance(first, dict):
            medians[key] = median_figures(values)
        elif all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in values
        ):
            medians[key] = round(statistics.median(values), 3)
        else:
            medians[key] = first
    return medians


CLUSTER_COMPARED = (
    ("latency_ms", "p50"),
    ("latency_ms", "p99"),
    ("latency_ms", "p999"),
    ("actions_per_s",),
    ("server_cpu_pct",),
    ("server_cpu_ms_per_action",),
    ("total_cpu_pct",),
)
"""The figures whose ratio cluster to single node `--cluster` reports."""


def ratios(clustered: Json, single: Json) -> Json:
    """Each compared figure's cluster-to-single-node ratio."""
    found: Json = {}
    for path in CLUSTER_COMPARED:
        below = figure(single, path)
        found["_".join(path)] = (
            round(figure(clustered, path) / below, 3) if below else math.nan
        )
    return found


def figure(figures: Json, path: tuple[str, ...]) -> float:
    value: Any = figures
    for key in path:
        value = value[key]
    return float(value)


def run_ports(scenario: Scenario, seed: int, ports: str, repeat: int) -> Json:
    """`scenario` one way or both (interleaved, the order alternating),
    `repeat` times each: the medians, and if both ways ran the two-port
    medians and the ratios one port to two ports, each the median of the
    rounds' ratios (a round runs both ways back to back, so the machine's
    other load weighs on both alike), with their quartiles."""
    ways = PORTS[ports]
    runs: dict[bool, list[Json]] = {way: [] for way in ways}
    for round_ in range(repeat):
        for way in ways if round_ % 2 == 0 else ways[::-1]:
            runs[way].append(run_scenario(replace(scenario, own_live_port=way), seed))
    if len(ways) == 1:
        figures = median_figures(runs[ways[0]])
        if repeat > 1:
            figures["runs"] = runs[ways[0]]
        return figures
    ratios: Json = {}
    quartiles: Json = {}
    for path in COMPARED:
        paired = [
            figure(one, path) / figure(two, path)
            for one, two in zip(runs[False], runs[True], strict=True)
            if figure(two, path)
        ]
        name = "_".join(path)
        ratios[name] = round(statistics.median(paired), 3) if paired else math.nan
        quartiles[name] = [
            round(percentile(paired, 25), 3),
            round(percentile(paired, 75), 3),
        ]
    return {
        **median_figures(runs[False]),
        "two_ports": median_figures(runs[True]),
        "one_to_two": ratios,
        "one_to_two_quartiles": quartiles,
        "runs": {"one_port": runs[False], "two_ports": runs[True]},
    }


def run_ceiling(tables: int, size: int, duration: float, warmup: float) -> Json:
    port = free_port()
    server = Child("--ceiling-server", str(port))
    try:
        server.expect("listening")
        cpu0 = cpu_seconds(server.process.pid)
        client = Child(
            "--ceiling-client",
            json.dumps(
                {
                    "port": port,
                    "tables": tables,
                    "size": size,
                    "duration": duration,
                    "warmup": warmup,
                }
            ),
        )
        try:
            client.expect("connected")
            report = client.expect("done")
        finally:
            client.stop()
        cpu1 = cpu_seconds(server.process.pid)
    finally:
        server.stop()
    latencies = report["latencies_ms"]
    return {
        "tables": tables,
        "sockets": tables * SEATS,
        "message_bytes": size,
        "latency_ms": {
            "p50": round(percentile(latencies, 50), 3),
            "p99": round(percentile(latencies, 99), 3),
        },
        "rounds_per_s": round(report["actions"] / report["elapsed"], 1),
        "messages_delivered_per_s": round(report["events"] / report["elapsed"], 1),
        "server_cpu_s": round(cpu1 - cpu0, 2),
    }


def machine() -> Json:
    with open("/proc/meminfo") as f:
        total_kb = int(f.readline().split()[1])
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout.strip()
    return {
        "loadavg": loadavg(),
        "cores": os.cpu_count(),
        "memory_gb": round(total_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "commit": commit + ("+dirty" if dirty else ""),
    }


def loadavg() -> list[float]:
    """The machine's load averages (1, 5, 15 minutes): how busy the other
    work on it was."""
    return [round(load, 2) for load in os.getloadavg()]


def out(name: str, value: object) -> None:
    print(f"{name}: {value}", flush=True)


def print_figures(prefix: str, figures: Json) -> None:
    for key, value in figures.items():
        if isinstance(value, dict) and value:
            print_figures(f"{prefix}.{key}", value)
        else:
            out(f"{prefix}.{key}", value)


SCENARIOS = ("human100", "human1000", "saturation", "chaos", "poll1s", "longpoll")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small, short runs")
    parser.add_argument("--scenarios")
    parser.add_argument("--duration", type=float, help="seconds measured per run")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--large",
        type=int,
        help="tables of scenario 2 (default 1000): to find the human-pace capacity",
    )
    parser.add_argument(
        "--ports",
        choices=sorted(PORTS),
        default="one",
        help="the live stream on the API's port (one, the default), on a port of "
        "its own (two), or each scenario both ways, interleaved (both)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs of each scenario (each way), whose medians are reported",
    )
    parser.add_argument(
        "--cluster",
        type=int,
        metavar="N",
        help="run scenario 2 on N nodes (PostgreSQL, HAProxy) and on one node "
        "(SQLite), and their ratios (the scenario `cluster`, alone unless "
        "--scenarios names others)",
    )
    parser.add_argument(
        "--failover",
        action="store_true",
        help="scenario 1 on two nodes behind HAProxy, one killed half-way "
        "(the scenario `failover`)",
    )
    parser.add_argument(
        "--lease-ttl",
        type=float,
        help="the cluster's nodes' lease ttl in seconds (default: pokerd cluster's)",
    )
    parser.add_argument(
        "--router-checks",
        metavar="INTER_MS,FALL,RISE",
        help="HAProxy's health checks in the cluster runs (default: pokerd "
        "cluster's, 500,2,2)",
    )
    parser.add_argument(
        "--steps",
        help="saturation's numbers of tables, comma-separated "
        "(default 5,10,20,40,80,160; 2,5 with --quick)",
    )
    args = parser.parse_args()
    raise_nofile()
    if args.scenarios is not None:
        chosen = args.scenarios.split(",")
    elif args.cluster or args.failover:
        chosen = []
    else:
        chosen = [*SCENARIOS, "ceiling"]
    if args.cluster:
        chosen.append("cluster")
    if args.failover:
        chosen.append("failover")
    nodes = args.cluster or 2
    checks = None
    if args.router_checks:
        inter_ms, fall, rise = (int(part) for part in args.router_checks.split(","))
        checks = Checks(inter_ms=inter_ms, fall=fall, rise=rise)
    cluster = {"lease_ttl_s": args.lease_ttl, "checks": checks}
    quick = args.quick
    duration = args.duration or (5.0 if quick else 60.0)
    warmup = 2.0 if quick else 10.0
    human = (1.0, 3.0)
    small, large = (10, 30) if quick else (100, 1000)
    large = args.large or large
    results: Json = {
        "machine": machine(),
        "lease_ttl_s": args.lease_ttl,
        "router_checks": args.router_checks,
        "quick": quick,
        "ports": args.ports,
        "repeat": args.repeat,
        "scenarios": {},
    }
    figures: dict[str, Json] = results["scenarios"]
    out("machine", json.dumps(results["machine"]))

    def record(name: str, scenario_figures: Json) -> None:
        figures[name] = scenario_figures
        print_figures(name, {k: v for k, v in scenario_figures.items() if k != "runs"})

    def run(scenario: Scenario) -> Json:
        return run_ports(scenario, args.seed, args.ports, args.repeat)

    if "human100" in chosen:
        record(
            "human100",
            run(Scenario("human100", small, human, duration, warmup)),
        )
    if "human1000" in chosen:
        record(
            "human1000",
            run(Scenario("human1000", large, human, duration, warmup, workers=2)),
        )
    if "cluster" in chosen:
        scenario = Scenario("human1000", large, human, duration, warmup, workers=2)
        clustered = run(replace(scenario, nodes=nodes, **cluster))
        record(f"cluster{nodes}", clustered)
        single = run(scenario)
        record("single", single)
        record(f"cluster{nodes}_to_single", ratios(clustered, single))
    if "failover" in chosen:
        record(
            "failover",
            run(
                Scenario(
                    "failover",
                    small,
                    human,
                    # Long enough after the kill for the takeover (the lease
                    # ttl, 2 s) and the play that follows, even with --quick.
                    args.duration or 30.0 if quick else duration,
                    warmup,
                    nodes=2,
                    failover=True,
                    **cluster,
                )
            ),
        )
    if "chaos" in chosen:
        record(
            "chaos",
            run(Scenario("chaos", small, human, duration, warmup, chaos=CHAOS_DROP)),
        )
    for mode in ("poll1s", "longpoll"):
        if mode in chosen:
            record(
                mode,
                run(Scenario(mode, small, human, duration, warmup, mode=mode)),
            )
    best: Json | None = None
    peak: Json | None = None
    """The step with the most actions/s, p99 or not (for the ceiling)."""
    if "saturation" in chosen:
        steps: tuple[int, ...] = (2, 5) if quick else (5, 10, 20, 40, 80, 160)
        if args.steps:
            steps = tuple(int(tables) for tables in args.steps.split(","))
        step_duration = min(duration, 5.0 if quick else 20.0)
        for tables in steps:
            step = run(
                Scenario(
                    "saturation",
                    tables,
                    (0.0, 0.0),
                    step_duration,
                    warmup / 2,
                    # Hands back to back: the pause between hands is not load;
                    # and no rate limit, made for people: at a few tables a
                    # bot acting at once sends more than 20 messages a second.
                    server_flags=(
                        "--next-hand-delay-ms",
                        "0",
                        "--rate-limit-per-s",
                        "1000",
                    ),
                ),
            )
            record(f"saturation.t{tables}", step)
            if peak is None or step["actions_per_s"] > peak["actions_per_s"]:
                peak = step
            if step["latency_ms"]["p99"] < SATURATION_P99_MS and (
                best is None or step["actions_per_s"] > best["actions_per_s"]
            ):
                best = step
        if best is not None:
            out("saturation.best_tables", best["tables"])
            out("saturation.best_actions_per_s", best["actions_per_s"])
            out("saturation.best_messages_per_s", best["messages_sent_per_s"])
    if "ceiling" in chosen:
        compared = best if best is not None else peak
        tables = compared["tables"] if compared is not None else small
        # About the size of pokerd's messages: ~1.3 KB with a view, a few
        # hundred bytes without (docs/performance.md).
        size = 1200
        ceiling = run_ceiling(tables, size, min(duration, 20.0), warmup / 2)
        record("ceiling", ceiling)
        if compared is not None:
            sent = compared["messages_sent_per_s"]
            out("saturation.compared_tables", compared["tables"])
            ratio = sent / ceiling["messages_delivered_per_s"]
            out("saturation.ratio_to_ceiling", round(ratio, 3))
    push = figures.get("human100")
    for mode in ("poll1s", "longpoll"):
        if push is not None and mode in figures:
            out(
                f"{mode}.p50_ratio_to_push",
                round(
                    figures[mode]["latency_ms"]["p50"] / push["latency_ms"]["p50"], 1
                ),
            )
    results["loadavg_at_end"] = loadavg()
    out("loadavg_at_end", results["loadavg_at_end"])
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = RESULTS / f"load-{stamp}{'-quick' if quick else ''}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    out("results", path.relative_to(ROOT))


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--worker":
        trio.run(worker_main, json.loads(sys.argv[2]))
    elif len(sys.argv) > 2 and sys.argv[1] == "--ceiling-server":
        trio.run(ceiling_server, int(sys.argv[2]))
    elif len(sys.argv) > 2 and sys.argv[1] == "--ceiling-client":
        trio.run(ceiling_client, json.loads(sys.argv[2]))
    else:
        main()
