"""The table's state: a value folded from its events, and nothing else."""

from __future__ import annotations

import attrs
from pokerkit import State

from pokerd.engine.config import TableConfig
from pokerd.engine.deck import DeckCommitment, commitment_of
from pokerd.engine.events import HandEnded, HandStarted, HandStep, TurnStarted
from pokerd.engine.poker import GameCell, HandGame, apply_step, game_for


@attrs.frozen(kw_only=True)
class Seat:
    name: str
    stack: int
    """Chips behind outside the current hand; during a hand the seat's live
    stack is PokerKit's, and this is the stack it started the hand with."""
    sitting_out: bool = False
    waiting_for_big_blind: bool = True
    """Dealt in only once the big blind reaches the seat (or the game restarts)."""
    leaving: bool = False
    away: bool = False
    """Sat out by the clock: the seat's turns in the current hand play at once."""
    timeouts: int = 0
    """Consecutive action-clock expiries."""
    token_hash: str = ""
    """Hash of the token that acts for this seat; the seat's end revokes it."""
    seated_after_hand: int = 0
    """Hands played when this player sat down: a seat is reused, and what an
    earlier occupant was dealt is none of this player's business
    (`pokerd.engine.views.sat_before_hand` says whose it is)."""


@attrs.frozen(kw_only=True)
class HandState:
    """One hand: how it started, the steps since, the clock, and how it ended."""

    started: HandStarted
    steps: tuple[HandStep, ...] = ()
    turn: TurnStarted | None = None
    ended: HandEnded | None = None
    cell: GameCell = attrs.field(factory=GameCell, eq=False, repr=False)

    @property
    def number(self) -> int:
        return self.started.hand

    @property
    def in_progress(self) -> bool:
        return self.ended is None

    def game(self) -> HandGame:
        """This hand's PokerKit game. Read it; never change it."""
        game = game_for(self.started, self.steps, self.cell)
        if game is not self.cell.game:
            # The old cell belongs to a newer hand now: take a fresh one.
            object.__setattr__(self, "cell", GameCell(game))
        return game

    def poker(self) -> State:
        state = self.game().state
        assert state is not None
        return state

    def commitment(self) -> DeckCommitment:
        """The hand's deck commitment, built once for the hand: kept in its
        cell, since `commitment_of`'s cache holds only the latest few hands
        and at a thousand tables a hand's next street comes after hundreds
        of other hands' deals."""
        cell = self.cell
        if cell.commitment is None:
            cell.commitment = commitment_of(self.started.deck, self.started.secret)
        return cell.commitment

    def position(self, seat: int) -> int | None:
        try:
            return self.started.seats.index(seat)
        except ValueError:
            return None

    def with_step(self, step: HandStep) -> HandState:
        """The hand after `step`, taking over this hand's game (no copy)."""
        game = self.game()
        apply_step(game, self.started, step)
        return attrs.evolve(self, steps=(*self.steps, step), turn=None)

    def actor(self) -> int | None:
        """The seat whose turn it is, if anyone's."""
        if self.ended is not None:
            return None
        index = self.poker().actor_index
        return None if index is None else self.started.seats[index]


@attrs.frozen(kw_only=True)
class TableState:
    config: TableConfig | None = None
    """None until the table is created."""
    seats: tuple[Seat | None, ...] = ()
    hand: HandState | None = None
    """The current hand, or the last one (ended) until the next is dealt."""
    hands_played: int = 0
    button: int | None = None
    big_blind: int | None = None
    """Where the last hand's big blind was: the next one moves on from here."""
    cashed_out: int = 0
    """Chips players took away on leaving (for the chip-conservation check)."""
    bought_in: int = 0
    """Chips brought to the table by buy-ins and top-ups."""
    creator_hash: str = ""
    """Hash of the token that may close the table ("": nobody may)."""
    closing: bool = False
    """Closing when the hand being played ends (`TableClosing`)."""
    closed: bool = False
    """Closed for good (`TableClosed`): no seat, no hand, no command."""

    @property
    def hand_in_progress(self) -> bool:
        return self.hand is not None and self.hand.in_progress

    def seat_of_token(self, token_hash: str) -> int | None:
        """The seat a token (by its hash) acts for, if it still does."""
        if not token_hash:
            return None
        for index, seat in enumerate(self.seats):
            if seat is not None and seat.token_hash == token_hash:
                return index
        return None

    def in_hand(self, seat: int) -> bool:
        """Whether `seat` was dealt into the hand now being played."""
        return (
            self.hand is not None
            and self.hand.in_progress
            and seat in self.hand.started.seats
        )


def initial_state() -> TableState:
    return TableState()
