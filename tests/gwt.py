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
    Event,
    HandStarted,
    PlayerSeated,
    RuleError,
    StartHand,
    TableConfig,
    TableCreated,
    TableState,
    fold,
    handle,
    initial_state,
)

E = TypeVar("E")

SECRET = "5e" * 32
"""A valid commitment secret: the tests fix the deck, the secret is any."""


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
    """What commands did: the events they caused and the table after them."""

    events: list[Event]
    state: TableState

    def of(self, kind: type[E]) -> list[E]:
        """The events of one kind, in order."""
        return [event for event in self.events if isinstance(event, kind)]

    def one(self, kind: type[E]) -> E:
        """The single event of `kind` (fails unless there is exactly one)."""
        found = self.of(kind)
        assert len(found) == 1, f"expected one {kind.__name__} in {self.events}"
        return found[0]

    @property
    def hand(self) -> HandStarted:
        """How the current (or last) hand started."""
        assert self.state.hand is not None, "no hand was dealt"
        return self.state.hand.started


def when(state: TableState, *commands: Command) -> Outcome:
    """Run `commands` in turn; the events must replay to the state reached."""
    events: list[Event] = []
    for command in commands:
        caused, after = handle(state, command)
        assert fold(caused, state) == after, "the events do not replay"
        events += caused
        state = after
    return Outcome(events, state)


def refusal(state: TableState, command: Command) -> str:
    """The code of the RuleError refusing `command` (fails if it is accepted)."""
    with pytest.raises(RuleError) as refused:
        handle(state, command)
    return refused.value.code


def table(*stacks: int | None, config: TableConfig | None = None) -> list[Event]:
    """A created table with `p{i}` sitting in seat i with stacks[i] (None: empty).

    These are events, so any stack will do, short ones included.
    """
    if config is None:
        config = TableConfig(max_seats=max(6, len(stacks)), min_buy_in=1)
    return [
        TableCreated(config=config),
        *(
            PlayerSeated(seat=seat, name=f"p{seat}", stack=stack)
            for seat, stack in enumerate(stacks)
            if stack is not None
        ),
    ]


def stacked_deck(holes: Sequence[str] = (), board: str = "") -> tuple[str, ...]:
    """A deck dealing holes[i] (e.g. "AsKd") to position i, then `board`.

    Hole cards go one at a time from position 0, twice around, for
    max(2, len(holes)) players; each street burns a card before it is dealt.
    The cards not named fill the other places in the standard order.
    """
    assert holes or not board, "name every position's hole cards to place a board"
    players = max(2, len(holes))
    deck: list[str | None] = [None] * len(STANDARD_DECK)
    for position, hole in enumerate(holes):
        deck[position], deck[players + position] = _cards(hole, count=2)
    board_cards = _cards(board)
    assert len(board_cards) <= 5, "a board has five cards at most"
    for card, offset in zip(board_cards, (1, 2, 3, 5, 7), strict=False):
        deck[2 * players + offset] = card
    named = [card for card in deck if card is not None]
    assert len(set(named)) == len(named), f"a card is named twice: {named}"
    spare = iter(card for card in STANDARD_DECK if card not in named)
    return tuple(card if card is not None else next(spare) for card in deck)


def deal(holes: Sequence[str] = (), board: str = "", now_ms: int = 0) -> StartHand:
    """Start a hand with a stacked deck (see `stacked_deck`)."""
    return StartHand(deck=stacked_deck(holes, board), secret=SECRET, now_ms=now_ms)


def act(
    seat: int, action: ActionName, amount: int | None = None, now_ms: int = 0
) -> Act:
    return Act(seat=seat, action=action, amount=amount, now_ms=now_ms)


def everyone_checks_or_calls(state: TableState) -> Outcome:
    """Play the hand out: whoever is to act checks, or calls a bet."""
    events: list[Event] = []
    while state.hand is not None and (seat := state.hand.actor()) is not None:
        free = not state.hand.poker().checking_or_calling_amount
        outcome = when(state, act(seat, "check" if free else "call"))
        events += outcome.events
        state = outcome.state
    return Outcome(events, state)


def everyone_folds(state: TableState) -> Outcome:
    """Whoever is to act folds until one player is left (pre-flop, say)."""
    events: list[Event] = []
    while state.hand is not None and (seat := state.hand.actor()) is not None:
        outcome = when(state, act(seat, "fold"))
        events += outcome.events
        state = outcome.state
    return Outcome(events, state)


def _cards(text: str, count: int | None = None) -> list[str]:
    cards = [text[i : i + 2] for i in range(0, len(text), 2)]
    assert all(card in STANDARD_DECK for card in cards), f"bad cards: {text!r}"
    assert count is None or len(cards) == count, f"{count} cards, not {text!r}"
    return cards
