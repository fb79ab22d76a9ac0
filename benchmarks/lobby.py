"""What the live lobby costs the server: per table, and per lobby client.

Two parts (docs/performance.md, "The lobby"):

- `board`, in this process: the lobby's board (`pokerd.tables.lobby.Lobby`)
  with TABLES lines of RECENT_HANDS hands each. The time to record one
  published batch that changes no line (most of a table's batches: actions,
  deals) and one that ends a hand; the memory of a line; the time to answer
  a client with the lines changed since its version, and the whole board,
  encoded as JSON as the server sends it.
- `served`: a fresh `pokerd serve` with TABLES tables; CHANGES changes a
  second (a seat taken, then left) spread over them by HTTP; N lobby clients
  long-polling `GET /lobby` as the page does (an answer, a pause of PAUSE_S,
  the next poll). The server's CPU over the window for each N (the same
  changes each time), and so what one more lobby client costs.

    python benchmarks/lobby.py [--tables N] [--served-tables N] [--changes N]
        [--seconds S] [--rounds N] [--clients 0,10,50,100]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

import trio
from load import Http, Server, machine, out
from procstats import cpu_seconds

from pokerd.engine import (
    ActionTaken,
    HandEnded,
    PlayerSeated,
    PotResult,
    PotShare,
    TableConfig,
    TableCreated,
)
from pokerd.engine.evolve import fold
from pokerd.store.reader import HandResult
from pokerd.store.records import StoredEvent
from pokerd.tables.lobby import RECENT_HANDS, Lobby
from pokerd.wire import codec

PAUSE_S = 1.0
"""The lobby page's pause between an answer and its next poll (js/lobby.js)."""


# The board, in this process


def board_figures(tables: int) -> dict[str, float]:
    state = fold(
        [
            TableCreated(config=TableConfig(name="Table 1")),
            PlayerSeated(seat=0, name="ann", stack=100, token_hash=""),
            PlayerSeated(seat=1, name="bo", stack=100, token_hash=""),
        ]
    )
    lobby = Lobby()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for index in range(tables):
        lobby.merge(
            f"t{index}",
            state,
            [
                HandResult(hand=h, ended_at=h * 30_000, pot=40)
                for h in range(RECENT_HANDS)
            ],
            stopped=None,
        )
    line_bytes = (tracemalloc.get_traced_memory()[0] - before) / tables
    tracemalloc.stop()

    action = [
        StoredEvent(
            seq=1,
            event=ActionTaken(
                hand=1, seat=0, action="call", amount=2, all_in=False, cause="player"
            ),
            recorded_at=0,
        )
    ]
    ended = HandEnded(
        hand=0,
        pots=(PotResult(amount=40, shares=(PotShare(seat=0, amount=40),)),),
        stacks=(120, 80),
        ended_at=0,
    )
    rounds = 20_000
    started = time.perf_counter()
    for index in range(rounds):
        lobby.record(f"t{index % tables}", action, state)
    unchanged_us = (time.perf_counter() - started) / rounds * 1e6
    started = time.perf_counter()
    for index in range(rounds):
        hand = RECENT_HANDS + index
        event = StoredEvent(
            seq=2,
            event=HandEnded(
                hand=hand, pots=ended.pots, stacks=ended.stacks, ended_at=hand * 30_000
            ),
            recorded_at=0,
        )
        lobby.record(f"t{index % tables}", [event], state)
    hand_us = (time.perf_counter() - started) / rounds * 1e6

    version = lobby.version
    for index in range(10):
        lobby.record(f"t{index}", [_ended(10**6 + index)], state)
    answers = 2_000
    started = time.perf_counter()
    for _ in range(answers):
        text = codec.compact_json(lobby.since(version))
    ten_changed_us = (time.perf_counter() - started) / answers * 1e6
    ten_changed_bytes = len(text)
    started = time.perf_counter()
    wholes = 50
    for _ in range(wholes):
        text = codec.compact_json(lobby.whole())
    whole_ms = (time.perf_counter() - started) / wholes * 1e3
    return {
        "line_bytes": round(line_bytes),
        "record_unchanged_us": round(unchanged_us, 2),
        "record_hand_ended_us": round(hand_us, 2),
        "answer_10_changed_us": round(ten_changed_us, 1),
        "answer_10_changed_bytes": ten_changed_bytes,
        "answer_whole_ms": round(whole_ms, 2),
        "answer_whole_bytes": len(text),
    }


def _ended(hand: int) -> StoredEvent:
    pots = (PotResult(amount=40, shares=(PotShare(seat=0, amount=40),)),)
    event = HandEnded(hand=hand, pots=pots, stacks=(120, 80), ended_at=hand * 30_000)
    return StoredEvent(seq=3, event=event, recorded_at=0)


# A served lobby


async def set_up(port: int, tables: int) -> list[str]:
    http = Http(port)
    ids = []
    try:
        for _ in range(tables):
            status, created = await http.call("POST", "/tables", {"max_seats": 6})
            assert status == 201, created
            ids.append(created["table"])
    finally:
        await http.aclose()
    return ids


async def change(
    port: int, tables: list[str], per_second: float, seconds: float
) -> int:
    """Take a seat and leave it again, table after table: two changes each."""
    http = Http(port)
    done = 0
    deadline = trio.current_time() + seconds
    interval = 2 / per_second
    try:
        index = 0
        while trio.current_time() < deadline:
            table = tables[index % len(tables)]
            index += 1
            status, seated = await http.call(
                "POST",
                f"/tables/{table}/seats",
                {"seat": 0, "name": "visitor", "buy_in": 100},
            )
            assert status == 201, seated
            status, left = await http.call(
                "POST",
                f"/tables/{table}/requests",
                {"type": "leave", "id": f"l{index}"},
                token=seated["token"],
            )
            assert status == 200, left
            done += 2
            await trio.sleep(interval)
    finally:
        await http.aclose()
    return done


async def lobby_client(port: int, stop: trio.Event, counts: list[int]) -> None:
    http = Http(port)
    board, version = None, 0
    try:
        while not stop.is_set():
            query = "" if board is None else f"?lobby={board}&after={version}&wait=25"
            status, answer = await http.call("GET", f"/lobby{query}")
            assert status == 200, answer
            board, version = answer["lobby"], answer["version"]
            counts[0] += 1
            counts[1] += len(answer["tables"])
            await trio.sleep(PAUSE_S)
    finally:
        await http.aclose()


async def served_run(
    server: Server, tables: list[str], clients: int, changes: float, seconds: float
) -> dict[str, float]:
    port, pid = server.port, server.pid
    counts = [0, 0]
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        for _ in range(clients):
            nursery.start_soon(lobby_client, port, stop, counts)
        await trio.sleep(PAUSE_S * 2)  # every client has its whole board
        cpu0, answers0, lines0 = cpu_seconds(pid), counts[0], counts[1]
        started = trio.current_time()
        done = await change(port, tables, changes, seconds)
        elapsed = trio.current_time() - started
        cpu = cpu_seconds(pid) - cpu0
        answers, lines = counts[0] - answers0, counts[1] - lines0
        stop.set()
        nursery.cancel_scope.cancel()
    return {
        "clients": clients,
        "changes_per_s": round(done / elapsed, 1),
        "server_cpu_ms_per_s": round(cpu / elapsed * 1000, 1),
        "answers_per_s": round(answers / elapsed, 1),
        "lines_per_answer": round(lines / answers, 1) if answers else 0.0,
    }


def served_figures(
    tables: int, clients: list[int], changes: float, seconds: float, rounds: int
) -> list[dict[str, float]]:
    results = []
    with tempfile.TemporaryDirectory(prefix="pokerd-lobby-") as folder:
        server = Server(Path(folder))
        try:
            ids = trio.run(set_up, server.port, tables)
            for count in clients:
                runs = [
                    trio.run(served_run, server, ids, count, changes, seconds)
                    for _ in range(rounds)
                ]
                median = {
                    key: statistics.median(run[key] for run in runs) for key in runs[0]
                }
                results.append(median)
        finally:
            server.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tables", type=int, default=1000)
    parser.add_argument("--served-tables", type=int, default=100)
    parser.add_argument("--changes", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", default="0,10,50,100")
    args = parser.parse_args()
    out("machine", json.dumps(machine()))
    for key, value in board_figures(args.tables).items():
        out(f"board.{args.tables}_tables.{key}", value)
    clients = [int(n) for n in args.clients.split(",")]
    served = served_figures(
        args.served_tables, clients, args.changes, args.seconds, args.rounds
    )
    base = served[0]["server_cpu_ms_per_s"] if served[0]["clients"] == 0 else None
    for figures in served:
        prefix = f"served.{args.served_tables}_tables.{figures['clients']}_clients"
        for key, value in figures.items():
            if key != "clients":
                out(f"{prefix}.{key}", value)
        if base is not None and figures["clients"]:
            extra = (figures["server_cpu_ms_per_s"] - base) / figures["clients"]
            out(f"{prefix}.extra_cpu_ms_per_s_per_client", round(extra, 2))


if __name__ == "__main__":
    main()
