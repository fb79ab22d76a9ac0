"""Who is dealt in, and where the button and blinds go, hand after hand.

The rule is a moving big blind: the big blind advances one eligible seat each
hand, the small blind is the dealt-in seat just before it and the button the
one before that (heads-up, the button is the other player and posts the small
blind). So the big blind is never skipped and never paid twice in a row, going
heads-up included. A player the big blind passes while sitting out waits for
it to come round before being dealt in again, as does a newcomer; if fewer
than two could then play, everyone waiting is dealt in (a table starting or
restarting). There is no dead button or dead small blind: PokerKit's positions
need a player in each blind, so when a seat empties the button may stay put
for a hand (docs/design.md).
"""

from __future__ import annotations

import attrs

from pokerd.engine.state import Seat, TableState


@attrs.frozen
class Deal:
    """The seats of the next hand in position order, and what it does to seats."""

    positions: tuple[int, ...]
    """Small blind first, button last; heads-up: big blind, then button."""
    button: int
    small_blind: int
    big_blind: int
    missed_big_blind: tuple[int, ...]


def eligible(seat: Seat | None) -> bool:
    """Could this seat play a hand now (waiting for the big blind or not)?"""
    return (
        seat is not None
        and seat.stack > 0
        and not seat.sitting_out
        and not seat.leaving
    )


def clockwise_after(start: int, seats: list[int], size: int) -> list[int]:
    """`seats` ordered clockwise starting just after seat `start`."""
    return sorted(seats, key=lambda seat: (seat - start - 1) % size)


def next_deal(state: TableState) -> Deal | None:
    """The next hand's seating, or None when fewer than two can play (or
    the table is closing or closed)."""
    if state.closing or state.closed:
        return None
    size = len(state.seats)
    candidates = [i for i, seat in enumerate(state.seats) if eligible(seat)]
    if len(candidates) < 2:
        return None
    previous = state.big_blind if state.big_blind is not None else candidates[0]
    big_blind = clockwise_after(previous, candidates, size)[0]
    ready = {
        i
        for i in candidates
        if not _seat(state, i).waiting_for_big_blind or i == big_blind
    }
    if len(ready) < 2:
        ready = set(candidates)
    # Positions run clockwise from the seat after the button, so build them
    # from the big blind backwards: the big blind, then the small blind.
    order = clockwise_after(big_blind, sorted(ready), size)  # ends with big blind
    positions: tuple[int, ...]
    if len(order) == 2:
        button = small_blind = order[0]
        positions = (big_blind, button)
    else:
        small_blind, button = order[-2], order[-3]
        positions = tuple(clockwise_after(button, order, size))
    missed = tuple(
        i
        for i in range(size)
        if state.seats[i] is not None
        and i not in ready
        and not _seat(state, i).waiting_for_big_blind
        and _between(previous, i, big_blind, size)
    )
    return Deal(positions, button, small_blind, big_blind, missed)


def _seat(state: TableState, index: int) -> Seat:
    seat = state.seats[index]
    assert seat is not None
    return seat


def _between(start: int, seat: int, end: int, size: int) -> bool:
    """Whether `seat` lies strictly after `start` and up to `end`, clockwise."""
    return 0 < (seat - start) % size <= (end - start) % size
