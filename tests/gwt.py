"""Given/when/then helpers for the table rules tests: build, act, check the result."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import attrs
import pytest

from pokerd.engine import (
    STANDARD_DECK,
    Act,
    ActionName,
    Command,
    CreateTable,
    Event,
    HandStarted,
    RuleError,
    SitDown,
    StartHand,
    TableConfig,
    TableState,
    fold,
    handle,
    initial_state,
)

E = TypeVar("E")

SECRET = "5e" * 32
"""A valid commitment secret: tests fix the deck, the secret does not matter."""


def given(*history: Command | Event) -> TableState:
    """The table after `history`: commands are handled, events folded in."""
    state = initial_state()
    for item in history:
        if isinstance(item, Command):
            state = handle(state, item)[1]
        else:
            state = fold([item], state)
    return state


@attrs.frozen
class Outcome:
    """What a command did: the events it caused and the table after them."""

    events: list[Event]
    state: TableState

    def of(self, kind: type[E]) -> list[E]:
        """The events of one kind, in order."""
        return [event for event in self.events if isinstance(event, kind)]

    def one(self, kind: type[E]) -> E:
        """The single event of `kind` (fails unless there is exactly one)."""
        found = self.of(kind)
        assert len(found) == 1, f"expected one {kind.__name__}, got {self.events}"
        return found[0]

    @property
    def hand(self) -> HandStarted:
        """The hand being (or last) played."""
        assert self.state.hand is not None, "no hand was dealt"
        return self.state.hand.started


def when(state: TableState, command: Command) -> Outcome:
    """Run `command`; its events must fold over `state` into the state it gave."""
    events, after = handle(state, command)
    assert fold(events, state) == after, "the events do not replay to the state"
    return Outcome(events, after)


def refusal(state: TableState, command: Command) -> str:
    """The code of the RuleError `command` is refused with (fails if accepted)."""
    with pytest.raises(RuleError) as caught:
        handle(state, command)
    return caught.value.code


def table(
    *buy_ins: int | None, config: TableConfig | None = None
) -> list[Command]:
    """Create a table and seat `p{i}` in seat i with buy_ins[i] (None: empty)."""
    config = config if config is not None else TableConfig(max_seats=max(6, len(buy_ins)))
    seated: list[Command] = [CreateTable(config=config)]
    seated += [
        SitDown(seat=seat, name=f"p{seat}", buy_in=buy_in)
        for seat, buy_in in enumerate(buy_ins)
        if buy_in is not None
    ]
    return seated


def stacked_deck(holes: Sequence[str] = (), board: str = "") -> tuple[str, ...]:
    """A 52-card deck dealing holes[i] (e.g. "AsKd") to position i and `board`.

    The hole cards are dealt one at a time from position 0, twice around; each
    street burns a card first. Every card not named fills the rest in order.
    """
    players = max(len(holes), 2)
    named = [*(_cards(hole) for hole in holes)]
    deck: list[str | None] = [None] * 52
    for position, cards in enumerate(named):
        assert len(cards) == 2, f"two hole cards per position, not {cards}"
        deck[position], deck[players + position] = cards
    first = 2 * players
    for card, slot in zip(_cards(board), (1, 2, 3, 5, 7), strict=False):
        deck[first + slot] = card
    used = {card for card in deck if card is not None}
    assert len(used) == sum(card is not None for card in deck), "a card is named twice"
    spare = iter(card for card in STANDARD_DECK if card not in used)
    return tuple(card if card is not None else next(spare) for card in deck)


def deal(
    holes: Sequence[str] = (), board: str = "", now_ms: int = 0
) -> StartHand:
    """A StartHand with a stacked deck (see `stacked_deck`)."""
    return StartHand(deck=stacked_deck(holes, board), secret=SECRET, now_ms=now_ms)


def act(seat: int, action: ActionName, amount: int | None = None) -> Act:
    return Act(seat=seat, action=action, amount=amount, now_ms=0)


def play(state: TableState, *commands: Command) -> Outcome:
    """Run several commands in turn; the outcome has all their events."""
    events: list[Event] = []
    for command in commands:
        outcome = when(state, command)
        events += outcome.events
        state = outcome.state
    return Outcome(events, state)


def _cards(text: str) -> list[str]:
    assert len(text) % 2 == 0, f"cards are two characters each: {text!r}"
    return [text[i : i + 2] for i in range(0, len(text), 2)]
