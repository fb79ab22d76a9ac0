"""The PokerKit adapter: one hand's rules state, derived from the hand's events.

PokerKit's `State` is mutable and costly to copy, while the engine's states are
values. `HandGame` bridges the two: a hand's PokerKit state is built from the
hand's events, and when `evolve` moves a hand forward by one event, the newer
hand takes over the older one's PokerKit state instead of copying it. An older
hand asked for its game afterwards rebuilds its own from its events, so every
hand value always answers for exactly its own events (docs/design.md).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import attrs
from pokerkit import (
    Automation,
    Card,
    CardsLike,
    Hand,
    Mode,
    NoLimitTexasHoldem,
    StandardHighHand,
    State,
)

from pokerd.engine.deck import DeckCommitment
from pokerd.engine.events import (
    ActionTaken,
    BoardDealt,
    HandStarted,
    HandStep,
    HoleCardsMucked,
    HoleCardsShown,
)

ENGINE = "pokerkit 0.7.7"
"""The rules engine every hand is played under; must match the pinned package."""

AUTOMATIONS = (
    Automation.ANTE_POSTING,
    Automation.BET_COLLECTION,
    Automation.BLIND_OR_STRADDLE_POSTING,
    Automation.HAND_KILLING,
    Automation.CHIPS_PUSHING,
    Automation.CHIPS_PULLING,
    Automation.RUNOUT_COUNT_SELECTION,
)
"""What PokerKit does on its own. Dealing, burning and showdowns are not here:
pokerd deals from its own committed deck and logs each showdown decision."""


def hole_position(player: int, round_: int, players: int) -> int:
    """The deck position of a player's hole card: one card each, twice around."""
    return round_ * players + player


def board_positions(started: HandStarted, board_size: int, count: int) -> range:
    """Deck positions of the next `count` board cards after `board_size` dealt.

    After the hole cards, each street burns one card and then deals: the flop
    from positions 2n+1..2n+3, the turn from 2n+5, the river from 2n+7.
    """
    first = 2 * len(started.seats)
    burns_before = {0: 1, 3: 2, 4: 3}[board_size]
    start = first + board_size + burns_before
    return range(start, start + count)


def burn_position(started: HandStarted, board_size: int) -> int:
    return board_positions(started, board_size, 1).start - 1


class HandGame:
    """A PokerKit state standing for a hand after its first `steps` steps."""

    __slots__ = ("cards", "state", "steps")

    def __init__(self, started: HandStarted) -> None:
        self.cards: tuple[Card, ...] = tuple(_card(text) for text in started.deck)
        self.state: State | None = _deal(started, self.cards)
        self.steps = 0


EVALUATIONS_KEPT = 4096
"""Recent 7-card evaluations remembered (a showdown asks for each a few times)."""


def _remember_hand_evaluations() -> None:
    """Make PokerKit remember the hands it evaluated.

    At showdown PokerKit decides who shows by asking, for each player in
    turn, whether they can still win (`State.can_win_now`), which evaluates
    every player's hand again each time: about 250 us an evaluation here, and
    about a tenth of the server's CPU at saturation (docs/performance.md).
    A hand's value depends on its cards alone, so remembering it changes no
    result (the PHH and property tests replay PokerKit's own outcomes).
    Applies to `StandardHighHand`, the hand of No-Limit Hold'em, only.
    """
    evaluate = StandardHighHand.from_game

    @functools.lru_cache(maxsize=EVALUATIONS_KEPT)
    def remembered(hole: tuple[Card, ...], board: tuple[Card, ...]) -> Hand:
        return evaluate(hole, board)

    def from_game(
        cls: type[StandardHighHand], hole_cards: CardsLike, board_cards: CardsLike = ()
    ) -> Hand:
        return remembered(Card.clean(hole_cards), Card.clean(board_cards))

    setattr(StandardHighHand, "from_game", classmethod(from_game))  # noqa: B010


_remember_hand_evaluations()


@functools.cache
def _card(text: str) -> Card:
    """PokerKit's card for "As" (parsed once: its cards are frozen values, and
    parsing a deck took about 160 us a hand)."""
    (card,) = Card.parse(text)
    return card


def forced_bets(
    antes: tuple[int, ...], blinds_or_straddles: tuple[int, ...]
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Convert forced bets between position order and PokerKit's (PHH's) form.

    PokerKit takes antes and blinds by blind role (index 0 the small blind's,
    1 the big blind's) and, heads-up, applies them to positions reversed,
    since position 0 is then the big blind. pokerd's events say who paid what
    in position order. The conversion is its own inverse.
    """
    if len(antes) == 2:
        return antes[::-1], blinds_or_straddles[::-1]
    return antes, blinds_or_straddles


def _deal(started: HandStarted, cards: Sequence[Card]) -> State:
    players = len(started.seats)
    antes, blinds = forced_bets(started.antes, started.blinds_or_straddles)
    state = NoLimitTexasHoldem.create_state(
        AUTOMATIONS,
        started.ante_trimming,
        antes,
        blinds,
        started.min_bet,
        started.stacks,
        players,
        mode=Mode.CASH_GAME,
    )
    # PokerKit deals to the player with the most cards owed, lowest index
    # first: one card each around the table, twice, as hole_position says.
    for position in range(2 * players):
        state.deal_hole((cards[position],))
    return state


@attrs.define(eq=False)
class GameCell:
    """The mutable slot a hand value keeps its PokerKit game in (and the
    hand's deck commitment, once built: a cell serves one hand)."""

    game: HandGame | None = None
    commitment: DeckCommitment | None = None


def game_for(
    started: HandStarted, steps: Sequence[HandStep], cell: GameCell
) -> HandGame:
    """The game standing for `started` plus `steps`, rebuilt if `cell` moved on.

    Returns a game; the caller must put a rebuilt one in a fresh cell, since the
    old cell may now belong to a newer hand value.
    """
    game = cell.game
    if game is not None and game.state is not None and game.steps == len(steps):
        return game
    game = HandGame(started)
    for step in steps:
        apply_step(game, started, step)
    return game


def apply_step(game: HandGame, started: HandStarted, step: HandStep) -> None:
    """Move the game by one logged step. A half-applied step leaves no game."""
    state = game.state
    assert state is not None
    game.state = None
    match step:
        case ActionTaken(action="fold"):
            state.fold()
        case ActionTaken(action="check" | "call"):
            state.check_or_call()
        case ActionTaken(action="bet" | "raise", amount=amount):
            state.complete_bet_or_raise_to(amount)
        case BoardDealt(cards=cards):
            size = len(state.board_cards)
            state.burn_card((game.cards[burn_position(started, size)],))
            positions = board_positions(started, size, len(cards))
            state.deal_board(tuple(game.cards[p] for p in positions))
        case HoleCardsShown(seat=seat):
            state.show_or_muck_hole_cards(True, started.seats.index(seat))
        case HoleCardsMucked(seat=seat):
            state.show_or_muck_hole_cards(False, started.seats.index(seat))
    game.state = state
    game.steps += 1


def card_name(card: Card) -> str:
    return f"{card.rank}{card.suit}"


def best_hand(
    hole: tuple[str, ...], board: tuple[str, ...]
) -> tuple[str, tuple[str, ...]]:
    """PokerKit's evaluation of a Hold'em hand: its label ("Flush") and the
    five cards that make it (in PokerKit's order)."""
    hand = StandardHighHand.from_game(
        tuple(_card(text) for text in hole), tuple(_card(text) for text in board)
    )
    return str(hand.entry.label), tuple(card_name(card) for card in hand.cards)
