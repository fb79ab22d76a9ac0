"""A demo table in the terminal: bots play real hands through the engine.

This is the shell in miniature: it shuffles with the OS CSPRNG, reads the
clock, asks the engine to decide, keeps the log, and prints it as a story.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TextIO

from pokerd.engine.commands import ComeBack, Command, CreateTable, SitDown, TopUp
from pokerd.engine.config import TableConfig
from pokerd.engine.decide import handle
from pokerd.engine.events import Event
from pokerd.engine.evolve import fold
from pokerd.engine.state import TableState
from pokerd.hands.story import describe, summary
from pokerd.tables.dealer import random_action, start_hand

BOT_NAMES = ("alice", "bob", "carol", "dave", "erin", "frank")


def run_demo(out: TextIO, *, hands: int, players: int, pace: float) -> int:
    """Play `hands` hands (0: until interrupted); returns an exit status."""
    config = TableConfig(max_seats=max(players, 2), small_blind=1, big_blind=2)
    state = TableState()
    log: list[Event] = []
    bots = random.Random()

    def run(command: Command) -> None:
        nonlocal state
        before = state
        events, state = handle(state, command)
        log.extend(events)
        for event in events:
            print(describe(event, before), file=out)
            before = fold([event], before)
        if events:
            print(f"    {summary(state)}", file=out, flush=True)

    run(CreateTable(config=config))
    for seat, name in enumerate(BOT_NAMES[:players]):
        run(SitDown(seat=seat, name=name, buy_in=config.max_buy_in // 2))
    played = 0
    try:
        while hands == 0 or played < hands:
            _rebuy_busted(state, run, config)
            run(start_hand(_now_ms()))
            played += 1
            while state.hand_in_progress:
                time.sleep(pace)
                action = random_action(state, bots, _now_ms())
                assert action is not None
                run(action)
    except KeyboardInterrupt:
        print("\ninterrupted", file=out)
    replayed = fold(log)
    verdict = "equals" if replayed == state else "DIFFERS FROM"
    print(
        f"{played} hands, {len(log)} events; folding the log {verdict} the live table",
        file=out,
    )
    return 0 if replayed == state else 1


def _rebuy_busted(
    state: TableState, run: Callable[[Command], None], config: TableConfig
) -> None:
    for index, seat in enumerate(state.seats):
        if seat is not None and seat.stack == 0:
            run(TopUp(seat=index, amount=config.max_buy_in // 2))
            run(ComeBack(seat=index))


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
