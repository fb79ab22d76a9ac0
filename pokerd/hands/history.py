"""Hand histories: the record of a finished hand, a projection of the log.

The record keeps what everyone may see (names, stacks, the board, shown
cards, who won what, the hand as PHH for a spectator) apart from each seat's
own hole cards, which are kept per seat and handed only to that seat's owner.
"""

from __future__ import annotations

import json

import attrs

from pokerd.engine.events import BoardDealt, HoleCardsMucked, HoleCardsShown, PotResult
from pokerd.engine.state import HandState
from pokerd.engine.views import hole_cards
from pokerd.hands.phh import hand_phh
from pokerd.store.log import HandRow
from pokerd.wire import codec


@attrs.frozen(kw_only=True)
class HandSeat:
    seat: int
    name: str
    starting_stack: int
    final_stack: int
    net: int
    """Chips won (positive) or lost (negative) in the hand."""
    shown: tuple[str, ...]
    """Hole cards shown at showdown; empty if never shown."""
    mucked: bool


@attrs.frozen(kw_only=True)
class HandSummary:
    """What everyone may know about a finished hand."""

    hand: int
    engine: str
    button: int
    started_at: int
    ended_at: int
    seats: tuple[HandSeat, ...]
    board: tuple[str, ...]
    pots: tuple[PotResult, ...]


@attrs.frozen(kw_only=True)
class HandRecord:
    summary: HandSummary
    hole_cards: tuple[tuple[int, tuple[str, ...]], ...]
    """(seat, cards) for every seat dealt in: private to that seat."""
    phh: str
    """The hand as PHH as a spectator may see it (shown cards only)."""


def hand_record(hand: HandState) -> HandRecord:
    """The history record of a finished hand."""
    started, ended = hand.started, hand.ended
    if ended is None:
        raise ValueError(f"hand {started.hand} has not ended")
    shown = {s.seat: s.cards for s in hand.steps if isinstance(s, HoleCardsShown)}
    mucked = {s.seat for s in hand.steps if isinstance(s, HoleCardsMucked)}
    seats = tuple(
        HandSeat(
            seat=seat,
            name=name,
            starting_stack=start,
            final_stack=final,
            net=final - start,
            shown=shown.get(seat, ()),
            mucked=seat in mucked,
        )
        for seat, name, start, final in zip(
            started.seats, started.names, started.stacks, ended.stacks, strict=True
        )
    )
    board = tuple(
        card
        for step in hand.steps
        if isinstance(step, BoardDealt)
        for card in step.cards
    )
    summary = HandSummary(
        hand=started.hand,
        engine=started.engine,
        button=started.button,
        started_at=started.started_at,
        ended_at=ended.ended_at,
        seats=seats,
        board=board,
        pots=ended.pots,
    )
    return HandRecord(
        summary=summary,
        hole_cards=tuple((seat, hole_cards(started, seat)) for seat in started.seats),
        phh=hand_phh(hand, viewer=None),
    )


def hand_row(hand: HandState) -> HandRow:
    """The `hands` row the store keeps of a finished hand."""
    record = hand_record(hand)
    summary = record.summary
    return HandRow(
        hand=summary.hand,
        engine=summary.engine,
        started_at=summary.started_at,
        ended_at=summary.ended_at,
        summary=json.dumps(codec.unstructure(summary)),
        hole_cards=json.dumps(
            {str(seat): list(cards) for seat, cards in record.hole_cards}
        ),
        phh=record.phh,
    )
