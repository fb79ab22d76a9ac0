"""Connection set-up, the live stream on the API's port against a port of its own.

Sharing one port costs once a connection (its first bytes are peeked at and
routed, docs/design.md "One port"), never a message: this measures that
cost. Each round starts a fresh `pokerd serve` each way, back to back (the
order alternating), and times, 32 connections at a time:

- `http`: TABLES tables set up over HTTP (created, six seats taken), each on
  a kept-alive connection of its own, as the load benchmark's bots do;
- `live`: SOCKETS WebSocket connections to one table (handshake, a
  spectator's hello, its welcome), held open until all are in.

It prints each way's medians (wall time, and the server's CPU per
connection) and the medians of the rounds' ratios one port to two.

    python benchmarks/connect.py [--rounds N] [--tables N] [--sockets N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import trio
from load import BUY_IN, HOST, SEATS, Http, Server, machine, out
from procstats import cpu_seconds, raise_nofile
from wsclient import LeanSocket

AT_ONCE = 32


async def set_up_tables(port: int, tables: int) -> None:
    limiter = trio.CapacityLimiter(AT_ONCE)

    async def one() -> None:
        async with limiter:
            http = Http(port)
            try:
                status, created = await http.call(
                    "POST", "/tables", {"max_seats": SEATS, "max_buy_in": BUY_IN}
                )
                assert status == 201, created
                for seat in range(SEATS):
                    status, seated = await http.call(
                        "POST",
                        f"/tables/{created['table']}/seats",
                        {"seat": seat, "name": f"bot{seat}", "buy_in": BUY_IN},
                    )
                    assert status == 201, seated
            finally:
                await http.aclose()

    async with trio.open_nursery() as nursery:
        for _ in range(tables):
            nursery.start_soon(one)


async def open_sockets(port: int, table: str, sockets: int) -> None:
    limiter = trio.CapacityLimiter(AT_ONCE)
    opened: list[LeanSocket] = []

    async def one() -> None:
        async with limiter:
            ws = await LeanSocket.connect(HOST, port, f"/tables/{table}/live")
            opened.append(ws)
            await ws.send(json.dumps({"type": "hello", "token": None}))
            welcome = json.loads(await ws.receive())
            assert welcome["type"] == "welcome", welcome

    try:
        async with trio.open_nursery() as nursery:
            for _ in range(sockets):
                nursery.start_soon(one)
    finally:
        for ws in opened:
            await ws.stream.aclose()


def one_run(own_live_port: bool, tables: int, sockets: int) -> dict[str, float]:
    """A fresh server one way: each phase's wall time and CPU a connection."""
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="pokerd-connect-") as tmp:
        server = Server(Path(tmp), own_live_port=own_live_port)
        try:
            cpu0, wall0 = cpu_seconds(server.pid), time.perf_counter()
            trio.run(set_up_tables, server.port, tables)
            cpu1, wall1 = cpu_seconds(server.pid), time.perf_counter()
            figures["http_s"] = wall1 - wall0
            figures["http_cpu_ms_per_table"] = 1000 * (cpu1 - cpu0) / tables
            watched = json.loads(server.get("/tables"))[0]["table"]
            cpu0, wall0 = cpu_seconds(server.pid), time.perf_counter()
            trio.run(open_sockets, server.live_port, watched, sockets)
            cpu1, wall1 = cpu_seconds(server.pid), time.perf_counter()
            figures["live_s"] = wall1 - wall0
            figures["live_cpu_ms_per_socket"] = 1000 * (cpu1 - cpu0) / sockets
        finally:
            server.stop()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--tables", type=int, default=100)
    parser.add_argument("--sockets", type=int, default=1200)
    args = parser.parse_args()
    raise_nofile()
    out("machine", json.dumps(machine()))
    runs: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    for round_ in range(args.rounds):
        for own in (False, True) if round_ % 2 == 0 else (True, False):
            figures = one_run(own, args.tables, args.sockets)
            runs[own].append(figures)
            way = "two_ports" if own else "one_port"
            shown = {key: round(value, 3) for key, value in figures.items()}
            out(f"round{round_}.{way}", json.dumps(shown))
    for key in runs[False][0]:
        one = [run[key] for run in runs[False]]
        two = [run[key] for run in runs[True]]
        paired = [a / b for a, b in zip(one, two, strict=True)]
        out(f"one_port.{key}", round(statistics.median(one), 3))
        out(f"two_ports.{key}", round(statistics.median(two), 3))
        out(f"one_to_two.{key}", round(statistics.median(paired), 3))


if __name__ == "__main__":
    main()
