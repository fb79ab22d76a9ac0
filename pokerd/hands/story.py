"""Events told as a story: one readable line per event, for people debugging hands."""

from __future__ import annotations

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
from pokerd.engine.state import TableState
from pokerd.engine.views import hole_cards


def name(state: TableState, seat: int) -> str:
    occupant = state.seats[seat] if 0 <= seat < len(state.seats) else None
    return f"seat {seat}" if occupant is None else f"{occupant.name} (seat {seat})"


def describe(event: Event, before: TableState) -> str:
    """One line saying what `event` did, naming players as they sat `before` it."""
    match event:
        case TableCreated(config=c):
            extra = f", ante {c.ante}" if c.ante else ""
            extra += f", big blind ante {c.big_blind_ante}" if c.big_blind_ante else ""
            return (
                f"table created: {c.max_seats} seats, blinds {c.small_blind}/"
                f"{c.big_blind}{extra}, buy-in {c.min_buy_in}-{c.max_buy_in}"
            )
        case TableClosing():
            return "the table closes when this hand ends"
        case TableClosed():
            return "the table is closed"
        case PlayerSeated(seat=seat, name=who, stack=stack):
            return f"{who} sits in seat {seat} with {stack}"
        case PlayerLeft(seat=seat, stack=stack):
            return f"{name(before, seat)} leaves with {stack}"
        case LeaveScheduled(seat=seat):
            return f"{name(before, seat)} will leave when the hand ends"
        case PlayerSatOut(seat=seat, reason=reason):
            return f"{name(before, seat)} sits out ({reason})"
        case PlayerReturned(seat=seat):
            return f"{name(before, seat)} is back"
        case ChipsAdded(seat=seat, amount=amount):
            return f"{name(before, seat)} tops up {amount}"
        case HandStarted():
            players = ", ".join(
                f"{who} {stack} [{' '.join(hole_cards(event, seat))}]"
                for seat, who, stack in zip(
                    event.seats, event.names, event.stacks, strict=True
                )
            )
            return (
                f"hand #{event.hand}: button seat {event.button}, small blind seat "
                f"{event.small_blind}, big blind seat {event.big_blind}; {players}"
            )
        case ActionTaken(seat=seat, action=action, amount=amount, cause=cause):
            what = {"call": f"calls {amount}", "bet": f"bets {amount}"}.get(
                action, f"raises to {amount}" if action == "raise" else f"{action}s"
            )
            why = "" if cause == "player" else f" ({cause})"
            return (
                f"{name(before, seat)} {what}{' all in' if event.all_in else ''}{why}"
            )
        case TurnStarted(seat=seat, deadline_ms=deadline):
            return f"{name(before, seat)} to act (clock until {deadline})"
        case BoardDealt(street=street, cards=cards):
            return f"{street}: {' '.join(cards)}"
        case HoleCardsShown(seat=seat, cards=cards):
            return f"{name(before, seat)} shows {' '.join(cards)}"
        case HoleCardsMucked(seat=seat):
            return f"{name(before, seat)} mucks"
        case HandEnded(pots=pots):
            won = "; ".join(
                ", ".join(f"{name(before, s.seat)} wins {s.amount}" for s in pot.shares)
                for pot in pots
            )
            return f"hand #{event.hand} ends: {won}"


def summary(state: TableState) -> str:
    """The table after an event: stacks, pot, board and whose turn it is."""
    hand = state.hand
    parts = []
    for index, seat in enumerate(state.seats):
        if seat is None:
            continue
        stack = seat.stack
        position = None if hand is None else hand.position(index)
        if hand is not None and hand.in_progress and position is not None:
            stack = hand.poker().stacks[position]
        parts.append(f"{seat.name}={stack}")
    line = "stacks " + " ".join(parts)
    if hand is not None and hand.in_progress:
        poker = hand.poker()
        pot = poker.total_pot_amount
        board = " ".join(
            f"{card.rank}{card.suit}" for cards in poker.board_cards for card in cards
        )
        line += f" | pot {pot} | board {board or '-'}"
        actor = hand.actor()
        if actor is not None:
            line += f" | to act: {name(state, actor)}"
    return line
