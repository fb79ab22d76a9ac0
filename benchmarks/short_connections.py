"""Short HTTP connections beside bots playing: the server's memory and pauses.

Hypercorn's objects of an HTTP connection form a cycle, which
`HttpServer.serve` breaks when the connection ends. Left in place, the
garbage collector freezes it while the connection is open
(pokerd/ops/collector.py) and only a sweep frees it: about 3 KB a connection
for clients that open one for each request (health checkers, simple
pollers), and sweeps of seconds. This runs a fresh `pokerd serve` per way, with
`pokerd bots` playing TABLES tables of 6 at human pace, plus RATE requests a
second (`GET /healthz` and `GET /tables/{id}`, alternately), and samples
the server's RSS (/proc) and its garbage collector's figures (`/metrics`)
every second. Ways (`--ways`, the first two by default):

- `fixed`: `pokerd serve` as it is; a new connection for each request
  (`Connection: close`, read by Content-Length, closed).
- `unfixed`: the same, on a server with the cycle left in place (Hypercorn's
  connection server and its protocol still holding each other when the
  connection ends).
- `keepalive`: `pokerd serve` as it is; the same requests over kept-alive
  connections: what the requests themselves cost.
- `bots`: `pokerd serve` as it is, the bots only: what the tables cost.

Figures per way: connections made (and failed or shed: no worker free),
request latency, RSS at the start and the end of the measured window, its
growth (a second, and a request) until the first full collection, the longest
collector pause, the most CPU time a collection took (the rest of a pause
waited for a core) and the pauses over 50 ms (`pokerd_gc_pause_*`), the sweeps
the server logged, the longest time no table recorded an event (from the
log's `recorded_at`), the bots' hands and errors, and the RSS every
`--every` seconds. Printed as `name: value` lines and written as JSON under
benchmarks/results/ with the machine, the git commit and every sample.

    python benchmarks/short_connections.py [--seconds 60] [--rate 500]
        [--tables 20] [--think 1.0] [--ways fixed,unfixed,keepalive,bots]
        [--every 10]
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio
from load import (
    HOST,
    RESULTS,
    ROOT,
    free_port,
    machine,
    out,
    proc_status,
    stop_process,
)
from procstats import cpu_seconds, percentile, raise_nofile

WAYS = ("fixed", "unfixed", "keepalive", "bots")
SEATS = 6
WORKERS = 64
"""Client tasks making requests: a request due while all are busy is shed."""
REQUEST_TIMEOUT_S = 10.0
WARMUP_S = 5.0
START_TIMEOUT_S = 120.0
SAMPLE_EVERY_S = 1.0
CONNECTIONS = {
    "fixed": "one a request",
    "unfixed": "one a request",
    "keepalive": "kept alive",
    "bots": "none",
}
SWEPT = re.compile(r"swept every object, freed (\d+), in (\d+) ms")
Json = dict[str, Any]


def serve_unfixed(argv: list[str]) -> int:
    """`pokerd serve` with each HTTP connection's cycle left in place: when the
    connection ends its Hypercorn `TCPServer` keeps its protocol, which holds
    the server's `protocol_send`, so only a sweep frees what the collector
    froze while the connection was open."""
    from hypercorn.trio import tcp_server

    class CyclicTCPServer(tcp_server.TCPServer):
        async def run(self) -> None:
            try:
                await super().run()
            finally:
                self.kept_protocol = vars(self).get("protocol")

    # Before pokerd's HTTP server imports the class by name.
    tcp_server.TCPServer = CyclicTCPServer  # type: ignore[misc]
    from pokerd.cli import main as pokerd_main

    return pokerd_main(["serve", *argv])


@dataclass
class Tally:
    """What the clients saw."""

    made: int = 0
    failed: int = 0
    shed: int = 0
    latencies_ms: list[float] = field(default_factory=list)


async def exchange(
    stream: trio.SocketStream, request: bytes, buffer: bytes
) -> tuple[bytes, bytes]:
    """Send a request and read its answer by Content-Length: its body, and
    what was read past it."""
    await stream.send_all(request)
    while b"\r\n\r\n" not in buffer:
        chunk = await stream.receive_some(65536)
        if not chunk:
            raise ConnectionError("closed before an answer")
        buffer += chunk
    head, _, rest = buffer.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise ConnectionError(head.split(b"\r\n", 1)[0].decode())
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        chunk = await stream.receive_some(65536)
        if not chunk:
            raise ConnectionError("closed inside an answer")
        rest += chunk
    return rest[:length], rest[length:]


def request(path: str, *, close: bool) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {HOST}"]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join([*lines, "", ""])).encode()


async def client_load(
    port: int, paths: list[str], rate: float, seconds: float, keepalive: bool
) -> Tally:
    """RATE requests a second for SECONDS, each on a new connection or on
    one of WORKERS kept-alive ones."""
    tally = Tally()
    requests = [request(path, close=not keepalive) for path in paths]
    send, receive = trio.open_memory_channel[bytes](0)

    async def worker() -> None:
        stream: trio.SocketStream | None = None
        buffer = b""
        async for wanted in receive:
            began = time.perf_counter()
            try:
                with trio.fail_after(REQUEST_TIMEOUT_S):
                    if stream is None:
                        stream = await trio.open_tcp_stream(HOST, port)
                        buffer = b""
                    _, buffer = await exchange(stream, wanted, buffer)
            except (
                OSError,
                ConnectionError,
                trio.TooSlowError,
                trio.BrokenResourceError,
            ):
                tally.failed += 1
                if stream is not None:
                    await trio.aclose_forcefully(stream)
                stream = None
                continue
            tally.made += 1
            tally.latencies_ms.append(1000 * (time.perf_counter() - began))
            if not keepalive:
                await stream.aclose()
                stream = None
        if stream is not None:
            await stream.aclose()

    async with trio.open_nursery() as nursery:
        for _ in range(WORKERS):
            nursery.start_soon(worker)
        interval = 1 / rate
        due = trio.current_time()
        end = due + seconds
        index = 0
        async with send:
            while due < end:
                await trio.sleep_until(due)
                try:
                    send.send_nowait(requests[index % len(requests)])
                except trio.WouldBlock:
                    tally.shed += 1
                index += 1
                due += interval
    return tally


@dataclass
class Sample:
    at_s: float
    rss_mb: float
    full_collections: float
    longest_pause_s: float


def metrics_of(text: str) -> dict[str, float]:
    """`/metrics` samples by name and labels, as written."""
    found = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            found[name] = float(value)
    return found


async def fetch(port: int, path: str) -> bytes:
    """The body of a GET on a connection of its own."""
    async with await trio.open_tcp_stream(HOST, port) as stream:
        body, _ = await exchange(stream, request(path, close=True), b"")
    return body


async def sample(pid: int, port: int, seconds: float) -> list[Sample]:
    """The server's RSS and collector figures every SAMPLE_EVERY_S."""
    samples: list[Sample] = []
    began = trio.current_time()
    while True:
        now = trio.current_time() - began
        figures = metrics_of((await fetch(port, "/metrics")).decode())
        samples.append(
            Sample(
                round(now, 1),
                proc_status(pid, "VmRSS"),
                figures.get('pokerd_gc_collections_total{generation="2"}', 0.0),
                figures["pokerd_gc_pause_longest_seconds"],
            )
        )
        if now >= seconds:
            return samples
        await trio.sleep(SAMPLE_EVERY_S)


async def measure(
    pid: int, port: int, paths: list[str], args: argparse.Namespace, way: str
) -> tuple[Tally, list[Sample]]:
    async with trio.open_nursery() as nursery:
        samples: list[Sample] = []

        async def sampler() -> None:
            samples.extend(await sample(pid, port, args.seconds))

        nursery.start_soon(sampler)
        if way == "bots":
            tally = Tally()
            await trio.sleep(args.seconds)
        else:
            keepalive = way == "keepalive"
            tally = await client_load(port, paths, args.rate, args.seconds, keepalive)
    return tally, samples


def get(port: int, path: str) -> bytes:
    return trio.run(fetch, port, path)


def wait_for(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.25)


def longest_quiet_ms(db: Path, since_ms: int, until_ms: int) -> int:
    """The longest time in the window no table recorded an event."""
    with closing(sqlite3.connect(db)) as connection:
        times: list[int] = [
            at
            for (at,) in connection.execute(
                "SELECT DISTINCT recorded_at FROM events"
                " WHERE recorded_at BETWEEN ? AND ? ORDER BY recorded_at",
                (since_ms, until_ms),
            )
        ]
    edges = [since_ms, *times, until_ms]
    return max(b - a for a, b in itertools.pairwise(edges))


def growth_until_full_gc(
    samples: list[Sample], made: int, seconds: float
) -> tuple[float, float]:
    """RSS gained, in KB a second and in bytes a request, until the first
    full collection (or the end): a sweep gives back part of what was kept."""
    before = [s for s in samples if s.full_collections == samples[0].full_collections]
    first, last = before[0], before[-1]
    span = last.at_s - first.at_s
    if span <= 0:
        return 0.0, 0.0
    gained = (last.rss_mb - first.rss_mb) * 1024 * 1024
    requests = made * span / seconds
    return gained / 1024 / span, gained / requests if requests else 0.0


def one_way(way: str, args: argparse.Namespace) -> Json:
    with tempfile.TemporaryDirectory(prefix="pokerd-short-") as tmp:
        folder = Path(tmp)
        port = free_port()
        db = folder / "short.db"
        serve_args = ["--db", str(db), "--port", str(port), "--log-level", "INFO"]
        command = (
            [sys.executable, __file__, "--serve-unfixed", *serve_args]
            if way == "unfixed"
            else [sys.executable, "-m", "pokerd", "serve", *serve_args]
        )
        server_log = (folder / "serve.log").open("w")
        server = subprocess.Popen(
            command, stdout=server_log, stderr=subprocess.STDOUT, cwd=ROOT
        )
        bots: subprocess.Popen[bytes] | None = None
        bots_log = (folder / "bots.log").open("w")
        try:
            wait_for(lambda: _answers(port), "the server")
            bots = subprocess.Popen(
                [
                    *(sys.executable, "-m", "pokerd", "bots"),
                    *("--url", f"http://{HOST}:{port}"),
                    *("--tables", str(args.tables), "--seats", str(SEATS)),
                    *("--think", str(args.think), "--seed", "1"),
                ],
                stdout=bots_log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
            wait_for(
                lambda: len(json.loads(get(port, "/tables"))) >= args.tables,
                "the bots' tables",
            )
            tables = [row["table"] for row in json.loads(get(port, "/tables"))]
            time.sleep(WARMUP_S)
            paths = [
                path for table in tables for path in ("/healthz", f"/tables/{table}")
            ]
            since_ms = time.time_ns() // 1_000_000
            cpu0 = cpu_seconds(server.pid)
            tally, samples = trio.run(measure, server.pid, port, paths, args, way)
            cpu = cpu_seconds(server.pid) - cpu0
            until_ms = time.time_ns() // 1_000_000
            final = metrics_of(get(port, "/metrics").decode())
            bots.send_signal(signal.SIGINT)
            bots.wait(timeout=120)
        finally:
            if bots is not None and bots.poll() is None:
                bots.kill()
                bots.wait()
            stop_process(server, 30)
            server_log.close()
            bots_log.close()
        log = (folder / "serve.log").read_text()
        summary = (folder / "bots.log").read_text()
        kb_per_s, per_request = growth_until_full_gc(samples, tally.made, args.seconds)
        pauses = final["pokerd_gc_pause_seconds_count"]
        quick = final['pokerd_gc_pause_seconds_bucket{le="0.05"}']
        bot_lines = dict(
            line.split(": ", 1) for line in summary.splitlines() if ": " in line
        )
        return {
            "connections": CONNECTIONS[way],
            "requests": tally.made,
            "failed": tally.failed,
            "shed": tally.shed,
            "requests_per_s": round(tally.made / args.seconds, 1),
            "latency_ms": {  # none without requests (JSON has no NaN)
                "p50": round(percentile(tally.latencies_ms, 50), 2),
                "p99": round(percentile(tally.latencies_ms, 99), 2),
                "max": round(max(tally.latencies_ms), 1),
            }
            if tally.latencies_ms
            else None,
            "server_cpu_share": round(cpu / args.seconds, 2),
            "rss_mb": {
                "start": round(samples[0].rss_mb, 1),
                "end": round(samples[-1].rss_mb, 1),
                "peak": round(max(s.rss_mb for s in samples), 1),
            },
            "growth_until_full_gc": {
                "kb_per_s": round(kb_per_s, 1),
                "bytes_per_request": round(per_request),
            },
            "gc_longest_pause_ms": round(
                1000 * final["pokerd_gc_pause_longest_seconds"], 1
            ),
            "gc_longest_collection_cpu_ms": round(
                1000 * final["pokerd_gc_pause_longest_cpu_seconds"], 1
            ),
            "gc_pauses_over_50ms": int(pauses - quick),
            "gc_full_collections": int(
                final.get('pokerd_gc_collections_total{generation="2"}', 0)
            ),
            "sweeps_logged": [
                {"freed": int(freed), "ms": int(ms)} for freed, ms in SWEPT.findall(log)
            ],
            "longest_no_event_ms": longest_quiet_ms(db, since_ms, until_ms),
            "bots": {
                "exit": bots.returncode,
                **{
                    key: bot_lines.get(key, "?")
                    for key in ("hands", "actions", "errors", "gaps", "mismatches")
                },
                "last_lines": summary.splitlines()[-3:],
            },
            "rss_mb_every": {
                "seconds": args.every,
                "values": [round(s.rss_mb, 1) for s in every(samples, args.every)],
            },
            "samples": [
                [s.at_s, round(s.rss_mb, 1), int(s.full_collections)] for s in samples
            ],
        }


def every(samples: list[Sample], seconds: int) -> list[Sample]:
    """The first sample at or after each multiple of `seconds`, and the last."""
    chosen: list[Sample] = []
    due = 0.0
    for sample in samples:
        if sample.at_s >= due:
            chosen.append(sample)
            due = (sample.at_s // seconds + 1) * seconds
    if chosen[-1] is not samples[-1]:
        chosen.append(samples[-1])
    return chosen


def _answers(port: int) -> bool:
    try:
        get(port, "/healthz")
    except OSError:
        return False
    return True


def print_figures(prefix: str, figures: Json) -> None:
    for key, value in figures.items():
        if key == "samples":
            continue  # in the JSON file only
        if isinstance(value, dict) and key != "rss_mb_every":
            print_figures(f"{prefix}.{key}", value)
        else:
            out(f"{prefix}.{key}", json.dumps(value))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="measured per way")
    parser.add_argument("--rate", type=float, default=500.0, help="requests a second")
    parser.add_argument("--tables", type=int, default=20, help="bot tables of 6")
    parser.add_argument("--think", type=float, default=1.0, help="bots' think time")
    parser.add_argument("--ways", default="fixed,unfixed", help=",".join(WAYS))
    parser.add_argument("--every", type=int, default=10, help="RSS shown every N s")
    args = parser.parse_args()
    ways = args.ways.split(",")
    if unknown := set(ways) - set(WAYS):
        parser.error(f"unknown ways: {', '.join(sorted(unknown))}")
    raise_nofile()
    results: Json = {
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "options": vars(args),
    }
    out("machine", json.dumps(results["machine"]))
    for way in ways:
        results[way] = one_way(way, args)
        print_figures(way, results[way])
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = RESULTS / f"short_connections-{stamp}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    out("results", path.relative_to(ROOT))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve-unfixed":
        sys.exit(serve_unfixed(sys.argv[2:]))
    main()
