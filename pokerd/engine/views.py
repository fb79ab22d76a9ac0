"""What each viewer may see: the table view and each event, redacted.

A viewer is a seat number or None for a spectator. Hole cards reach only the
seat dealt them until they are shown at showdown; the deck, the secret and
the salts of unseen cards reach nobody; mucked cards are never shown. A seat
is reused, so a seat's cards of a hand reach only the player who sat there
when it was dealt (`sat_before_hand`, the one place that says so).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable

import attrs

from pokerd.engine.config import TableConfig
from pokerd.engine.deck import CardProof, commitment_of
from pokerd.engine.events import (
    BoardDealt,
    Event,
    HandDealt,
    HandStarted,
    HoleCardsShown,
    PlayerSeated,
    PotResult,
    PublicEvent,
    TableCreated,
)
from pokerd.engine.hand_names import hand_name
from pokerd.engine.poker import EVALUATIONS_KEPT, best_hand, hole_position
from pokerd.engine.state import HandState, Seat, TableState

Viewer = int | None
"""A seat, or None for a spectator."""


@attrs.frozen(kw_only=True)
class ShownHand:
    """What a seat's shown cards make with the board, as PokerKit evaluates it."""

    name: str
    """In words: "Flush, king high", "Two pair, aces and tens"."""
    cards: tuple[str, ...]
    """The five cards that make it (hole and board)."""


@attrs.frozen(kw_only=True)
class SeatView:
    seat: int
    name: str
    stack: int
    bet: int
    """Chips put in on this street, not yet in a pot."""
    in_hand: bool
    """Dealt into the current hand and not folded."""
    all_in: bool
    sitting_out: bool
    waiting_for_big_blind: bool
    leaving: bool
    cards: tuple[str, ...]
    """The hole cards this viewer may see: their own, or shown at showdown."""
    hidden_cards: int
    """Face-down cards the seat holds that this viewer cannot see."""
    proofs: tuple[CardProof, ...]
    """Commitment proofs for `cards`."""
    folded: bool = False
    """Dealt into the current hand, and folded."""
    shown_hand: ShownHand | None = None
    """What the cards shown at showdown make with the board (three board
    cards at least); None for cards not shown."""


@attrs.frozen(kw_only=True)
class LegalActions:
    """What the seat to act may do now; amounts are totals to bet or raise to."""

    fold: bool
    check: bool
    call: int
    """Chips a call puts in (0: nothing to call)."""
    min_raise_to: int | None
    max_raise_to: int | None
    """None when the seat may not bet or raise."""


@attrs.frozen(kw_only=True)
class PotView:
    amount: int
    seats: tuple[int, ...]
    """The seats that can win it."""


@attrs.frozen(kw_only=True)
class TableView:
    viewer: Viewer
    config: TableConfig | None
    seats: tuple[SeatView | None, ...]
    hand: int
    """The current hand's number, or the last one's; 0 before the first."""
    hand_in_progress: bool
    button: int | None
    board: tuple[str, ...]
    board_proofs: tuple[CardProof, ...]
    pots: tuple[PotView, ...]
    to_act: int | None
    deadline_ms: int | None
    legal: LegalActions | None
    """Set only when the viewer is the seat to act."""
    commitment: str | None
    results: tuple[PotResult, ...]
    """Who won what, once the hand has ended."""
    closing: bool = False
    """The table closes when this hand ends: no seat may be taken."""
    closed: bool = False
    """The table is closed: nobody sits, no hand is dealt."""


def sat_before_hand(state: TableState, seat: Viewer, hand: int) -> bool:
    """Whether the player now in `seat` sat down before hand number `hand` was
    dealt: that seat's hole cards of that hand were theirs. An earlier
    occupant's cards are none of theirs (False too for a spectator or an
    empty seat)."""
    return _held_when_dealt(_occupant(state, seat), hand)


def _held_when_dealt(occupant: Seat | None, hand: int) -> bool:
    return occupant is not None and hand > occupant.seated_after_hand


def _occupant(state: TableState, seat: Viewer) -> Seat | None:
    return None if seat is None else state.seats[seat]


def dealt_position(state: TableState, seat: int) -> int | None:
    """The position of `seat`'s current player in the current or last hand
    (None if they were not dealt into it)."""
    hand = state.hand
    if hand is None or not sat_before_hand(state, seat, hand.number):
        return None
    return hand.position(seat)


def redaction_for(state: TableState, seat: Viewer) -> Callable[[Event], PublicEvent]:
    """How events reach `seat`'s current player (as `sat_before_hand` says):
    `redact`, but the deal of a hand dealt before they sat down reaches them
    as it reaches a spectator."""
    occupant = _occupant(state, seat)  # not the state: a feed keeps this

    def redact_for(event: Event) -> PublicEvent:
        if isinstance(event, HandStarted) and not _held_when_dealt(
            occupant, event.hand
        ):
            return redact(event, None)
        return redact(event, seat)

    return redact_for


def redaction_key(state: TableState, seat: Viewer) -> Hashable:
    """Equal for two viewers exactly when `redaction_for` treats them alike
    (the seat, and when its player sat down)."""
    occupant = _occupant(state, seat)
    return seat, None if occupant is None else occupant.seated_after_hand


def view(state: TableState, viewer: Viewer, *, proofs: bool = True) -> TableView:
    """The table as `viewer` may see it.

    Without `proofs`, `board_proofs` and each seat's `proofs` are left empty:
    the views sent with events leave them to the events that revealed the
    cards (they were most of a view's bytes, for nothing new).
    """
    hand = state.hand
    seats = tuple(
        None if seat is None else _seat_view(state, index, viewer, proofs)
        for index, seat in enumerate(state.seats)
    )
    if hand is None:
        return TableView(
            viewer=viewer,
            config=state.config,
            seats=seats,
            hand=0,
            hand_in_progress=False,
            button=state.button,
            board=(),
            board_proofs=(),
            pots=(),
            to_act=None,
            deadline_ms=None,
            legal=None,
            commitment=None,
            results=(),
            closing=state.closing,
            closed=state.closed,
        )
    board = [step for step in hand.steps if isinstance(step, BoardDealt)]
    to_act = hand.actor() if hand.turn is not None else None
    return TableView(
        viewer=viewer,
        config=state.config,
        seats=seats,
        hand=hand.number,
        hand_in_progress=hand.in_progress,
        button=hand.started.button,
        board=tuple(card for step in board for card in step.cards),
        board_proofs=tuple(proof for step in board for proof in step.proofs)
        if proofs
        else (),
        pots=_pots(hand),
        to_act=to_act,
        deadline_ms=None if hand.turn is None else hand.turn.deadline_ms,
        legal=legal_actions(hand) if to_act is not None and to_act == viewer else None,
        commitment=hand.started.commitment,
        results=() if hand.ended is None else hand.ended.pots,
        closing=state.closing,
        closed=state.closed,
    )


def personal_view(public: TableView, state: TableState, viewer: Viewer) -> TableView:
    """`view(state, viewer, proofs=False)`, from `public`, the spectator's
    `view(state, None, proofs=False)`: only the viewer's own seat and legal
    actions differ, so a batch's views cost one whole view plus a seat each."""
    if viewer is None:
        return public
    seats = list(public.seats)
    if seats[viewer] is not None:
        seats[viewer] = own_seat(state, viewer)
    legal = viewer_legal(public, state, viewer)
    return attrs.evolve(public, viewer=viewer, seats=tuple(seats), legal=legal)


def own_seat(state: TableState, viewer: int) -> SeatView:
    """The viewer's own seat as they see it (their cards, without proofs)."""
    return _seat_view(state, viewer, viewer, False)


def viewer_legal(
    public: TableView, state: TableState, viewer: Viewer
) -> LegalActions | None:
    """The viewer's legal actions: None unless they are the seat to act."""
    hand = state.hand
    if hand is None or viewer is None or public.to_act != viewer:
        return None
    return legal_actions(hand)


def legal_actions(hand: HandState) -> LegalActions | None:
    """What the seat to act may do, or None if nobody is to act."""
    if hand.actor() is None:
        return None
    poker = hand.poker()
    to_call = poker.checking_or_calling_amount or 0
    can_raise = poker.can_complete_bet_or_raise_to()
    return LegalActions(
        fold=to_call > 0,
        check=to_call == 0,
        call=to_call,
        min_raise_to=poker.min_completion_betting_or_raising_to_amount
        if can_raise
        else None,
        max_raise_to=poker.max_completion_betting_or_raising_to_amount
        if can_raise
        else None,
    )


def hole_cards(started: HandStarted, seat: int) -> tuple[str, ...]:
    """The hole cards dealt to `seat` (from the secret deck: server side only)."""
    index = started.seats.index(seat)
    players = len(started.seats)
    return tuple(started.deck[hole_position(index, r, players)] for r in (0, 1))


def hole_proofs(started: HandStarted, seat: int) -> tuple[CardProof, ...]:
    index = started.seats.index(seat)
    players = len(started.seats)
    commitment = commitment_of(started.deck, started.secret)
    return commitment.proofs(hole_position(index, r, players) for r in (0, 1))


def redact(event: Event, viewer: Viewer) -> PublicEvent:
    """`event` as `viewer` may receive it."""
    if isinstance(event, PlayerSeated):
        return attrs.evolve(event, token_hash="") if event.token_hash else event
    if isinstance(event, TableCreated):
        return attrs.evolve(event, creator_hash="") if event.creator_hash else event
    if not isinstance(event, HandStarted):
        return event
    dealt = viewer is not None and viewer in event.seats
    return HandDealt(
        hand=event.hand,
        engine=event.engine,
        seats=event.seats,
        names=event.names,
        stacks=event.stacks,
        button=event.button,
        small_blind=event.small_blind,
        big_blind=event.big_blind,
        antes=event.antes,
        ante_trimming=event.ante_trimming,
        blinds_or_straddles=event.blinds_or_straddles,
        min_bet=event.min_bet,
        commitment=event.commitment,
        missed_big_blind=event.missed_big_blind,
        started_at=event.started_at,
        hole_cards=hole_cards(event, viewer) if dealt and viewer is not None else (),
        hole_proofs=hole_proofs(event, viewer) if dealt and viewer is not None else (),
    )


def _seat_view(
    state: TableState, index: int, viewer: Viewer, with_proofs: bool
) -> SeatView:
    seat = state.seats[index]
    assert seat is not None
    hand = state.hand
    position = dealt_position(state, index)
    stack, bet, in_hand, all_in, folded = seat.stack, 0, False, False, False
    shown_hand: ShownHand | None = None
    cards: tuple[str, ...] = ()
    proofs: tuple[CardProof, ...] = ()
    hidden = 0
    if hand is not None and position is not None:
        poker = hand.poker()
        if hand.in_progress:
            stack, bet = poker.stacks[position], poker.bets[position]
            in_hand = poker.statuses[position]
            all_in = in_hand and stack == 0
            folded = not in_hand
        shown = _shown(hand, index)
        if shown is not None:
            cards, proofs = shown.cards, shown.proofs
            shown_hand = _shown_hand(hand, shown)
        elif viewer == index:
            cards = hole_cards(hand.started, index)
            if with_proofs:
                proofs = hole_proofs(hand.started, index)
        elif poker.statuses[position]:
            hidden = 2
    return SeatView(
        seat=index,
        name=seat.name,
        stack=stack,
        bet=bet,
        in_hand=in_hand,
        all_in=all_in,
        sitting_out=seat.sitting_out,
        waiting_for_big_blind=seat.waiting_for_big_blind,
        leaving=seat.leaving,
        cards=cards,
        hidden_cards=hidden,
        proofs=proofs if with_proofs else (),
        folded=folded,
        shown_hand=shown_hand,
    )


def _shown(hand: HandState, seat: int) -> HoleCardsShown | None:
    for step in hand.steps:
        if isinstance(step, HoleCardsShown) and step.seat == seat:
            return step
    return None


def _shown_hand(hand: HandState, shown: HoleCardsShown) -> ShownHand | None:
    board = tuple(
        card
        for step in hand.steps
        if isinstance(step, BoardDealt)
        for card in step.cards
    )
    if len(board) < 3:
        return None  # shown before an all-in run-out: nothing to name yet
    return _named_hand(shown.cards, board)


@functools.lru_cache(maxsize=EVALUATIONS_KEPT)
def _named_hand(hole: tuple[str, ...], board: tuple[str, ...]) -> ShownHand:
    """Remembered (a value, shared safely): every view sent after a showdown
    names its hands again, about 15 us a hand."""
    label, best = best_hand(hole, board)
    return ShownHand(name=hand_name(label, best), cards=best)


def _pots(hand: HandState) -> tuple[PotView, ...]:
    if not hand.in_progress:
        return ()
    seats = hand.started.seats
    return tuple(
        PotView(amount=pot.amount, seats=tuple(seats[i] for i in pot.player_indices))
        for pot in hand.poker().pots
    )
