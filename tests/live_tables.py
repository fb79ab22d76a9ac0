"""A live table for tests: a Table on a real log, its hub, and bots playing it."""

from __future__ import annotations

import random
from collections.abc import Sequence
from contextlib import suppress

import trio

from pokerd.engine import (
    ComeBack,
    Command,
    CreateTable,
    RuleError,
    SitDown,
    TableConfig,
    TopUp,
)
from pokerd.engine.state import TableState
from pokerd.store import EventStore, StoredEvent
from pokerd.tables.dealer import random_action
from pokerd.tables.hub import TableHub
from pokerd.tables.table import Table


def new_table(store: EventStore, hub: TableHub) -> Table:
    def publish(_: str, events: Sequence[StoredEvent], state: TableState) -> None:
        hub.publish(events, state)

    return Table("t", store, publish=publish, next_hand_delay_ms=0)


async def seat_players(table: Table, players: int) -> None:
    await table.execute(CreateTable(config=TableConfig(max_seats=players)))
    for seat in range(players):
        await table.execute(SitDown(seat=seat, name=f"p{seat}", buy_in=200))


async def play(table: Table, rng: random.Random) -> None:
    """Bots act, rebuy and come back, for as long as the test lets them."""
    while True:
        commands: list[Command] = [
            command
            for index, seat in enumerate(table.state.seats)
            if seat is not None and seat.stack == 0
            for command in (TopUp(seat=index, amount=200), ComeBack(seat=index))
        ]
        action = random_action(table.state, rng, table.clock())
        if action is not None:
            commands.append(action)
        if not commands:
            await table.wait_changed()
            continue
        with suppress(RuleError):  # the clock or the dealer went first
            for command in commands:
                await table.execute(command)
        await trio.sleep(0)
