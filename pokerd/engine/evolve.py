"""evolve: apply one logged event to the table. It never refuses a fact."""

from __future__ import annotations

from typing import Any

import attrs

from pokerd.engine.events import (
    ActionTaken,
    BoardDealt,
    ChipsAdded,
    Event,
    HandEnded,
    HandStarted,
    HoleCardsMucked,
    HoleCardsShown,
    LeaveScheduled,
    PlayerLeft,
    PlayerReturned,
    PlayerSatOut,
    PlayerSeated,
    TableClosed,
    TableClosing,
    TableCreated,
    TurnStarted,
)
from pokerd.engine.state import HandState, Seat, TableState


def evolve(state: TableState, event: Event) -> TableState:
    match event:
        case TableCreated(config=config, creator_hash=creator_hash):
            return attrs.evolve(
                state,
                config=config,
                seats=(None,) * config.max_seats,
                creator_hash=creator_hash,
            )
        case PlayerSeated(seat=seat, name=name, stack=stack, token_hash=token_hash):
            return attrs.evolve(
                _with_seat(
                    state,
                    seat,
                    Seat(
                        name=name,
                        stack=stack,
                        token_hash=token_hash,
                        seated_after_hand=state.hands_played,
                    ),
                ),
                bought_in=state.bought_in + stack,
            )
        case PlayerLeft(seat=seat, stack=stack):
            seats = list(state.seats)
            seats[seat] = None
            return attrs.evolve(
                state, seats=tuple(seats), cashed_out=state.cashed_out + stack
            )
        case LeaveScheduled(seat=seat):
            return _update_seat(state, seat, leaving=True)
        case PlayerSatOut(seat=seat, reason=reason):
            return _update_seat(
                state, seat, sitting_out=True, away=reason == "timeouts"
            )
        case PlayerReturned(seat=seat):
            return _update_seat(state, seat, sitting_out=False, away=False, timeouts=0)
        case ChipsAdded(seat=seat, amount=amount):
            current = _seat(state, seat)
            return attrs.evolve(
                _update_seat(state, seat, stack=current.stack + amount),
                bought_in=state.bought_in + amount,
            )
        case HandStarted():
            return _start_hand(state, event)
        case ActionTaken(seat=seat, cause=cause):
            hand = _hand(state).with_step(event)
            timeouts = _seat(state, seat).timeouts
            timeouts = (
                timeouts + 1
                if cause == "timeout"
                else 0
                if cause == "player"
                else timeouts
            )
            return attrs.evolve(_update_seat(state, seat, timeouts=timeouts), hand=hand)
        case BoardDealt() | HoleCardsShown() | HoleCardsMucked():
            return attrs.evolve(state, hand=_hand(state).with_step(event))
        case TurnStarted():
            return attrs.evolve(state, hand=attrs.evolve(_hand(state), turn=event))
        case HandEnded():
            return _end_hand(state, event)
        case TableClosing():
            return attrs.evolve(state, closing=True)
        case TableClosed():
            return attrs.evolve(state, closing=False, closed=True)


def fold(
    events: list[Event] | tuple[Event, ...], state: TableState | None = None
) -> TableState:
    """The state after `events`, from `state` or from an empty table."""
    current = state if state is not None else TableState()
    for event in events:
        current = evolve(current, event)
    return current


def _start_hand(state: TableState, started: HandStarted) -> TableState:
    seats = list(state.seats)
    for index in started.seats:
        seat = seats[index]
        assert seat is not None
        seats[index] = attrs.evolve(seat, waiting_for_big_blind=False)
    for index in started.missed_big_blind:
        seat = seats[index]
        assert seat is not None
        seats[index] = attrs.evolve(seat, waiting_for_big_blind=True)
    return attrs.evolve(
        state,
        seats=tuple(seats),
        hand=HandState(started=started),
        hands_played=started.hand,
        button=started.button,
        big_blind=started.big_blind,
    )


def _end_hand(state: TableState, ended: HandEnded) -> TableState:
    hand = _hand(state)
    seats = list(state.seats)
    for index, stack in zip(hand.started.seats, ended.stacks, strict=True):
        seat = seats[index]
        assert seat is not None
        seats[index] = attrs.evolve(seat, stack=stack)
    return attrs.evolve(
        state, seats=tuple(seats), hand=attrs.evolve(hand, ended=ended, turn=None)
    )


def _hand(state: TableState) -> HandState:
    assert state.hand is not None, "a hand event with no hand dealt"
    return state.hand


def _seat(state: TableState, index: int) -> Seat:
    seat = state.seats[index]
    assert seat is not None, f"an event for empty seat {index}"
    return seat


def _with_seat(state: TableState, index: int, seat: Seat) -> TableState:
    seats = list(state.seats)
    seats[index] = seat
    return attrs.evolve(state, seats=tuple(seats))


def _update_seat(state: TableState, index: int, **changes: Any) -> TableState:
    return _with_seat(state, index, attrs.evolve(_seat(state, index), **changes))
