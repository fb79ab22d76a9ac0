"""Bots playing tables in one process against the real log, for crash tests.

Every committed event is printed on stdout as one JSON line, as a client
would receive it; a test kills the process at random moments, restarts it on
the same database, and checks the log against everything that was printed.
On start, tables already in the database resume where they stopped.

    python -m pokerd.tools.selfplay --db PATH [--tables N] [--seconds S] [--seed N]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any, TextIO

import trio

from pokerd.engine.commands import ComeBack, CreateTable, SitDown, TopUp
from pokerd.engine.config import TableConfig
from pokerd.engine.errors import RuleError
from pokerd.engine.state import TableState
from pokerd.ops.settings import Database
from pokerd.store.log import EventStore, StoredEvent
from pokerd.store.reader import load_table, tables_to_resume
from pokerd.tables.dealer import random_action
from pokerd.tables.table import Publisher, Table
from pokerd.wire import codec

CONFIG = TableConfig(max_seats=6, action_clock_ms=250, min_buy_in=40, max_buy_in=200)
PLAYERS = 4
IDLE_CHANCE = 0.05
"""How often a bot lets its clock run out instead of acting."""


def printer(out: TextIO) -> Publisher:
    def publish(table_id: str, events: Sequence[StoredEvent], _: TableState) -> None:
        for stored in events:
            line = {
                "table": table_id,
                "seq": stored.seq,
                "event": codec.unstructure_event(stored.event),
            }
            out.write(json.dumps(line) + "\n")
        out.flush()

    return publish


async def play(table: Table, rng: random.Random) -> None:
    """Act for whoever is to act, at a bot's pace; rebuy and come back."""
    while True:
        state = table.state
        try:
            for index, seat in enumerate(state.seats):
                if seat is None or state.in_hand(index):
                    continue
                if seat.stack == 0:
                    await table.execute(TopUp(seat=index, amount=CONFIG.max_buy_in))
                elif seat.sitting_out:
                    await table.execute(ComeBack(seat=index))
            hand = table.state.hand
            if hand is not None and hand.in_progress and hand.turn is not None:
                await trio.sleep(rng.uniform(0, 0.02))
                if rng.random() >= IDLE_CHANCE:
                    action = random_action(table.state, rng, table.clock())
                    if action is not None:
                        await table.execute(action)
                        continue
        except RuleError:
            continue  # the clock or the dealer moved first: look again
        await table.wait_changed()


async def selfplay(
    db: str, tables: int, seconds: float, seed: int, out: TextIO
) -> None:
    rng = random.Random(seed)
    publish = printer(out)
    with EventStore(db) as store:
        # As a server starts: every table with players or a hand unfinished
        # resumes from the log; missing tables are created and seated.
        resumable = {t.table_id: t for t in await store.read(tables_to_resume)}
        async with trio.open_nursery() as nursery:
            for number in range(tables):
                table_id = f"table-{number}"
                loaded = resumable.get(table_id)
                if loaded is None:  # new, or killed before its players sat
                    loaded = await store.read(load_table, table_id)
                table = Table(
                    table_id, store, loaded, publish=publish, next_hand_delay_ms=20
                )
                if table.state.config is None:
                    await table.execute(CreateTable(config=CONFIG))
                for seat in range(PLAYERS):
                    if table.state.seats[seat] is None:
                        await table.execute(
                            SitDown(seat=seat, name=f"bot{seat}", buy_in=100)
                        )
                if table_id in resumable:
                    resumed = {
                        "resumed": table_id,
                        "seq": resumable[table_id].seq,
                        "hand_in_progress": resumable[table_id].state.hand_in_progress,
                    }
                    out.write(json.dumps(resumed) + "\n")
                    out.flush()
                await nursery.start(table.run)
                nursery.start_soon(play, table, random.Random(rng.random()))
            if seconds > 0:
                await trio.sleep(seconds)
                nursery.cancel_scope.cancel()


def run_until_killed(
    db: Database, *, seed: int, tables: int, events_before_kill: int
) -> list[dict[str, Any]]:
    """Start selfplay in its own process, read what it publishes, SIGKILL it.

    Returns the lines read: events as published, and one line per table that
    resumed from the log. Used by the crash test and the crash benchmark.
    """
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "pokerd.tools.selfplay", "--db", str(db)),
            *("--tables", str(tables), "--seed", str(seed)),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    lines: list[dict[str, Any]] = []
    enough = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            try:
                lines.append(json.loads(raw))
            except json.JSONDecodeError:
                break  # a line cut by the kill was never received whole
            if sum("table" in line for line in lines) >= events_before_kill:
                enough.set()
        enough.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    enough.wait(timeout=60)
    time.sleep(random.Random(seed).uniform(0, 0.05))  # land anywhere, mid-commit too
    process.kill()
    process.wait(timeout=30)
    reader.join(timeout=30)
    process.stdout.close()
    return list(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pokerd.tools.selfplay", description=__doc__
    )
    parser.add_argument("--db", required=True)
    parser.add_argument("--tables", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=0, help="0: until killed")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    trio.run(selfplay, args.db, args.tables, args.seconds, args.seed, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
