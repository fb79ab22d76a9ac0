"""decide: turn a command into the events it causes, or refuse it with a rule error.

`handle` is decide and fold in one pass: deciding a poker action means
looking at the table after it (did the round close? is it a showdown?), so
decide folds as it goes, and the shell keeps the state it reached rather
than folding the same events twice. Tests check that folding the returned
events over the old state gives the same state.
"""

from __future__ import annotations

from pokerkit import ChipsPushing, State

from pokerd.engine.commands import (
    Act,
    CloseTable,
    ComeBack,
    Command,
    CreateTable,
    Leave,
    SitDown,
    SitOut,
    StartHand,
    TimeOut,
    TopUp,
)
from pokerd.engine.config import MAX_CHIPS, TableConfig, config_problem
from pokerd.engine.deck import commitment_of, deck_problem, secret_problem
from pokerd.engine.errors import RuleError
from pokerd.engine.events import (
    ActionTaken,
    BoardDealt,
    Cause,
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
    PotResult,
    PotShare,
    Street,
    TableClosed,
    TableClosing,
    TableCreated,
    TakenAction,
    TurnStarted,
)
from pokerd.engine.evolve import evolve
from pokerd.engine.poker import (
    ENGINE,
    board_positions,
    card_name,
    forced_bets,
    hole_position,
)
from pokerd.engine.seating import next_deal
from pokerd.engine.state import HandState, Seat, TableState

MAX_NAME_LENGTH = 32
STREETS: dict[int, tuple[Street, int]] = {
    0: ("flop", 3),
    3: ("turn", 1),
    4: ("river", 1),
}


AMOUNT_ACTIONS = frozenset({"bet", "raise"})
"""The actions that take an amount (the bet or raise to); the others are
refused with one rather than have it ignored."""


def decide(state: TableState, command: Command) -> list[Event]:
    """The events `command` causes on `state`; raises RuleError if refused."""
    return handle(state, command)[0]


def handle(state: TableState, command: Command) -> tuple[list[Event], TableState]:
    """The events `command` causes, and the state after them."""
    outcome = _Outcome(state)
    if state.closed and not isinstance(command, CreateTable):
        raise RuleError("table_closed", "the table is closed")
    match command:
        case CreateTable():
            _create(outcome, command)
        case CloseTable():
            _close(outcome)
        case SitDown():
            _sit_down(outcome, command)
        case Leave():
            _leave(outcome, command)
        case SitOut():
            _sit_out(outcome, command)
        case ComeBack():
            _come_back(outcome, command)
        case TopUp():
            _top_up(outcome, command)
        case StartHand():
            _start_hand(outcome, command)
        case Act():
            _act(outcome, command)
        case TimeOut():
            _time_out(outcome, command)
    return outcome.events, outcome.state


class _Outcome:
    """The events decided so far and the state they lead to."""

    __slots__ = ("events", "state")

    def __init__(self, state: TableState) -> None:
        self.state = state
        self.events: list[Event] = []

    def emit(self, event: Event) -> None:
        self.events.append(event)
        self.state = evolve(self.state, event)


def _config(state: TableState) -> TableConfig:
    if state.config is None:
        raise RuleError("no_table", "the table has not been created")
    return state.config


def _occupied(state: TableState, seat: int) -> Seat:
    _config(state)
    if not 0 <= seat < len(state.seats):
        raise RuleError("no_such_seat", f"there is no seat {seat} at this table")
    occupant = state.seats[seat]
    if occupant is None:
        raise RuleError("seat_empty", f"nobody sits in seat {seat}")
    return occupant


def _create(outcome: _Outcome, command: CreateTable) -> None:
    if outcome.state.config is not None:
        raise RuleError("table_exists", "the table has already been created")
    problem = config_problem(command.config)
    if problem is not None:
        raise RuleError("invalid_config", problem)
    outcome.emit(TableCreated(config=command.config, creator_hash=command.creator_hash))


def _close(outcome: _Outcome) -> None:
    _config(outcome.state)
    if outcome.state.closing:
        raise RuleError("already_closing", "the table closes when this hand ends")
    if outcome.state.hand_in_progress:
        outcome.emit(TableClosing())
    else:
        _close_now(outcome)


def _close_now(outcome: _Outcome) -> None:
    """Cash every seated player out, then close: nothing is left at the table."""
    for index, seat in enumerate(outcome.state.seats):
        if seat is not None:
            outcome.emit(PlayerLeft(seat=index, name=seat.name, stack=seat.stack))
    outcome.emit(TableClosed())


def _sit_down(outcome: _Outcome, command: SitDown) -> None:
    state = outcome.state
    config = _config(state)
    _refuse_if_closing(state)
    if not 0 <= command.seat < len(state.seats):
        raise RuleError(
            "no_such_seat", f"there is no seat {command.seat} at this table"
        )
    if state.seats[command.seat] is not None:
        raise RuleError("seat_taken", f"seat {command.seat} is taken")
    name = command.name.strip()
    if not 0 < len(name) <= MAX_NAME_LENGTH or not name.isprintable():
        raise RuleError(
            "invalid_name", f"a name is 1 to {MAX_NAME_LENGTH} printable characters"
        )
    if any(seat is not None and seat.name == name for seat in state.seats):
        raise RuleError("name_taken", f"{name!r} already sits at this table")
    if not config.min_buy_in <= command.buy_in <= config.max_buy_in:
        raise RuleError(
            "buy_in_out_of_range",
            f"the buy-in is {config.min_buy_in} to {config.max_buy_in}, "
            f"not {command.buy_in}",
        )
    _check_room_for(state, command.buy_in)
    if command.token_hash and state.seat_of_token(command.token_hash) is not None:
        raise RuleError("token_in_use", "that token already acts for a seat here")
    outcome.emit(
        PlayerSeated(
            seat=command.seat,
            name=name,
            stack=command.buy_in,
            token_hash=command.token_hash,
        )
    )


def _leave(outcome: _Outcome, command: Leave) -> None:
    seat = _occupied(outcome.state, command.seat)
    if seat.leaving:
        raise RuleError("already_leaving", "you leave when this hand ends")
    if outcome.state.in_hand(command.seat):
        outcome.emit(LeaveScheduled(seat=command.seat))
        _advance(outcome, command.now_ms)
    else:
        outcome.emit(PlayerLeft(seat=command.seat, name=seat.name, stack=seat.stack))


def _sit_out(outcome: _Outcome, command: SitOut) -> None:
    seat = _occupied(outcome.state, command.seat)
    if seat.sitting_out:
        raise RuleError("already_sitting_out", "you are already sitting out")
    outcome.emit(PlayerSatOut(seat=command.seat, reason="requested"))


def _come_back(outcome: _Outcome, command: ComeBack) -> None:
    seat = _occupied(outcome.state, command.seat)
    if not seat.sitting_out:
        raise RuleError("not_sitting_out", "you are not sitting out")
    if seat.leaving:
        raise RuleError("already_leaving", "you leave when this hand ends")
    if seat.stack == 0 and not outcome.state.in_hand(command.seat):
        raise RuleError("no_chips", "you have no chips: top up first")
    outcome.emit(PlayerReturned(seat=command.seat))


def _top_up(outcome: _Outcome, command: TopUp) -> None:
    state = outcome.state
    seat = _occupied(state, command.seat)
    config = _config(state)
    if command.amount <= 0:
        raise RuleError("invalid_amount", "a top-up must be a positive amount")
    _refuse_if_closing(state)
    if state.in_hand(command.seat):
        raise RuleError("hand_in_progress", "you can top up when this hand ends")
    if seat.stack + command.amount < config.min_buy_in:
        raise RuleError(
            "top_up_below_minimum",
            f"a stack must reach the minimum buy-in of {config.min_buy_in}; "
            f"add at least {config.min_buy_in - seat.stack}",
        )
    if seat.stack + command.amount > config.max_buy_in:
        raise RuleError(
            "top_up_above_maximum",
            f"a stack may not exceed the maximum buy-in of {config.max_buy_in}; "
            f"you may add up to {max(0, config.max_buy_in - seat.stack)}",
        )
    _check_room_for(state, command.amount)
    outcome.emit(ChipsAdded(seat=command.seat, amount=command.amount))


def _refuse_if_closing(state: TableState) -> None:
    """No chips come to a table that is closing: it is about to cash out."""
    if state.closing:
        raise RuleError("table_closing", "the table closes when this hand ends")


def _check_room_for(state: TableState, chips: int) -> None:
    """Refuse chips that would take the table over MAX_CHIPS.

    The config keeps a full table at the maximum buy-in under it, but a
    winner's stack grows past the maximum buy-in, and others keep buying in
    against it: without this check, stacks and pots would in time outgrow
    what a browser's numbers hold.
    """
    held = state.bought_in - state.cashed_out
    if held + chips > MAX_CHIPS:
        raise RuleError(
            "too_many_chips",
            f"the table holds {held} chips, and at most {MAX_CHIPS}:"
            f" {chips} more do not fit",
        )


def _start_hand(outcome: _Outcome, command: StartHand) -> None:
    state = outcome.state
    config = _config(state)
    if state.hand_in_progress:
        raise RuleError("hand_in_progress", "a hand is already being played")
    problem = deck_problem(command.deck) or secret_problem(command.secret)
    if problem is not None:
        raise RuleError("invalid_deck", problem)
    deal = next_deal(state)
    if deal is None:
        raise RuleError("not_enough_players", "a hand needs two players ready to play")
    players = len(deal.positions)
    antes_by_role = [config.ante] * players
    antes_by_role[1] += config.big_blind_ante
    blinds_by_role = (config.small_blind, config.big_blind, *config.straddles)[
        : max(2, players - 1)
    ]
    antes, blinds = forced_bets(tuple(antes_by_role), blinds_by_role)
    seats = [state.seats[i] for i in deal.positions]
    outcome.emit(
        HandStarted(
            hand=state.hands_played + 1,
            engine=ENGINE,
            seats=deal.positions,
            names=tuple(seat.name for seat in seats if seat is not None),
            stacks=tuple(seat.stack for seat in seats if seat is not None),
            button=deal.button,
            small_blind=deal.small_blind,
            big_blind=deal.big_blind,
            antes=antes,
            ante_trimming=config.big_blind_ante == 0,
            blinds_or_straddles=blinds,
            min_bet=config.big_blind,
            deck=command.deck,
            secret=command.secret,
            commitment=commitment_of(command.deck, command.secret).root,
            missed_big_blind=deal.missed_big_blind,
            started_at=command.now_ms,
        )
    )
    _advance(outcome, command.now_ms)


def _playing_hand(state: TableState, seat: int) -> HandState:
    _occupied(state, seat)
    hand = state.hand
    if hand is None or not hand.in_progress:
        raise RuleError("no_hand_in_progress", "no hand is being played")
    if seat not in hand.started.seats:
        raise RuleError("not_in_hand", f"seat {seat} is not in this hand")
    return hand


def _act(outcome: _Outcome, command: Act) -> None:
    hand = _playing_hand(outcome.state, command.seat)
    actor = hand.actor()
    if actor != command.seat:
        whose = "nobody's" if actor is None else f"seat {actor}'s"
        raise RuleError(
            "not_your_turn", f"it is {whose} turn, not seat {command.seat}'s"
        )
    if command.amount is not None:
        if command.action not in AMOUNT_ACTIONS:
            raise RuleError(
                "amount_not_taken",
                f"{command.action} takes no amount: send it without one",
            )
        if command.amount < 0:
            raise RuleError(
                "invalid_amount", f"an amount cannot be negative: {command.amount}"
            )
    poker = hand.poker()
    index = hand.started.seats.index(command.seat)
    to_call = poker.checking_or_calling_amount or 0
    action: TakenAction
    amount = 0
    match command.action:
        case "fold":
            if not to_call:
                # PokerKit only warns about this in a cash game, and then can
                # fail an internal check when an all-in player is left alone.
                raise RuleError("cannot_fold", "checking is free: check instead")
            action = "fold"
        case "check":
            if to_call:
                raise RuleError("cannot_check", f"there is {to_call} to call")
            action = "check"
        case "call":
            if not to_call:
                raise RuleError("nothing_to_call", "there is no bet to call: check")
            action, amount = "call", to_call
        case "bet" | "raise":
            if command.amount is None:
                raise RuleError("amount_required", "say how much to bet or raise to")
            action, amount = _raise_to(poker, command.amount), command.amount
        case "all_in":
            if poker.can_complete_bet_or_raise_to():
                amount = poker.max_completion_betting_or_raising_to_amount or 0
                action = _raise_to(poker, amount)
            elif to_call:
                action, amount = "call", to_call
            else:
                raise RuleError("raise_not_allowed", "you cannot raise now: check")
    outcome.emit(
        ActionTaken(
            hand=hand.number,
            seat=command.seat,
            action=action,
            amount=amount,
            all_in=_puts_all_in(poker, index, action, amount),
            cause="player",
        )
    )
    _advance(outcome, command.now_ms)


def _raise_to(poker: State, amount: int) -> TakenAction:
    """Check a bet or raise to `amount`, and say which of the two it is."""
    try:
        poker.verify_completion_betting_or_raising_to(amount)
    except ValueError as error:
        # PokerKit checks once on the happy path; only a refusal pays for
        # working out which rule it broke.
        if not poker.can_complete_bet_or_raise_to():
            raise RuleError(
                "raise_not_allowed",
                "you cannot raise now: betting was not reopened or no chips are behind",
            ) from None
        low = poker.min_completion_betting_or_raising_to_amount or 0
        high = poker.max_completion_betting_or_raising_to_amount or 0
        if amount < low:
            raise RuleError(
                "bet_below_minimum", f"the minimum is {low}, not {amount}"
            ) from None
        if amount > high:
            raise RuleError(
                "bet_above_stack", f"the maximum (all in) is {high}, not {amount}"
            ) from None
        raise RuleError("illegal_bet", str(error)) from None
    return "raise" if max(poker.bets) > 0 else "bet"


def _puts_all_in(poker: State, index: int, action: TakenAction, amount: int) -> bool:
    stack = poker.stacks[index]
    if action == "call":
        return amount >= stack
    if action in ("bet", "raise"):
        return amount - poker.bets[index] >= stack
    return False


def _time_out(outcome: _Outcome, command: TimeOut) -> None:
    state = outcome.state
    config = _config(state)
    hand = state.hand
    turn = None if hand is None or not hand.in_progress else hand.turn
    if (
        hand is None
        or hand.number != command.hand
        or turn is None
        or turn.seat != command.seat
    ):
        raise RuleError("stale_timeout", "that turn is over")
    if command.now_ms < turn.deadline_ms:
        raise RuleError(
            "clock_not_expired",
            f"the clock runs {turn.deadline_ms - command.now_ms} ms more",
        )
    _auto_act(outcome, hand, command.seat, "timeout")
    seat = outcome.state.seats[command.seat]
    # Also for a seat already sitting out on request: it is gone now, so its
    # later turns in this hand are played at once.
    if (
        seat is not None
        and not seat.away
        and seat.timeouts >= config.timeouts_before_sit_out
    ):
        outcome.emit(PlayerSatOut(seat=command.seat, reason="timeouts"))
    _advance(outcome, command.now_ms)


def _auto_act(outcome: _Outcome, hand: HandState, seat: int, cause: Cause) -> None:
    """Check if checking is free, else fold: what an absent player does."""
    free = not hand.poker().checking_or_calling_amount
    outcome.emit(
        ActionTaken(
            hand=hand.number,
            seat=seat,
            action="check" if free else "fold",
            amount=0,
            all_in=False,
            cause=cause,
        )
    )


def _advance(outcome: _Outcome, now_ms: int) -> None:
    """Play what follows on its own: deals, showdowns, absent seats, hand end."""
    while True:
        state = outcome.state
        hand = state.hand
        if hand is None or not hand.in_progress:
            return
        poker = hand.poker()
        if poker.can_burn_card():
            outcome.emit(_board(hand, poker))
        elif poker.can_show_or_muck_hole_cards():
            outcome.emit(_showdown(hand, poker))
        elif poker.actor_index is not None:
            seat_index = hand.started.seats[poker.actor_index]
            seat = state.seats[seat_index]
            assert seat is not None
            if seat.leaving or seat.away:
                _auto_act(outcome, hand, seat_index, "away")
            elif hand.turn is None:
                config = _config(state)
                outcome.emit(
                    TurnStarted(
                        hand=hand.number,
                        seat=seat_index,
                        deadline_ms=now_ms + config.action_clock_ms,
                    )
                )
                return
            else:
                return
        elif not poker.status:
            _end_hand(outcome, hand, poker, now_ms)
            return
        else:  # pragma: no cover - PokerKit waits for an operation pokerd never uses
            raise AssertionError(f"PokerKit is stuck: {poker!r}")


def _board(hand: HandState, poker: State) -> BoardDealt:
    size = len(poker.board_cards)
    street, count = STREETS[size]
    positions = board_positions(hand.started, size, count)
    return BoardDealt(
        hand=hand.number,
        street=street,
        cards=tuple(hand.started.deck[p] for p in positions),
        proofs=hand.commitment().proofs(positions),
    )


def _showdown(hand: HandState, poker: State) -> HoleCardsShown | HoleCardsMucked:
    # PokerKit's own showdown rule decides: show when the hand can still win
    # (or everyone is all in), muck otherwise.
    status, *_, index = poker.verify_hole_cards_showing_or_mucking()
    seat = hand.started.seats[index]
    if not status:
        return HoleCardsMucked(hand=hand.number, seat=seat)
    players = len(hand.started.seats)
    positions = [hole_position(index, round_, players) for round_ in (0, 1)]
    return HoleCardsShown(
        hand=hand.number,
        seat=seat,
        cards=tuple(card_name(card) for card in poker.hole_cards[index]),
        proofs=hand.commitment().proofs(positions),
    )


def _end_hand(outcome: _Outcome, hand: HandState, poker: State, now_ms: int) -> None:
    seats = hand.started.seats
    pots = tuple(
        PotResult(
            amount=sum(operation.amounts),
            shares=tuple(
                PotShare(seat=seats[index], amount=amount)
                for index, amount in enumerate(operation.amounts)
                if amount
            ),
        )
        for operation in poker.operations
        if isinstance(operation, ChipsPushing)
    )
    outcome.emit(
        HandEnded(
            hand=hand.number, pots=pots, stacks=tuple(poker.stacks), ended_at=now_ms
        )
    )
    for index in seats:
        seat = outcome.state.seats[index]
        assert seat is not None
        if seat.leaving:
            outcome.emit(PlayerLeft(seat=index, name=seat.name, stack=seat.stack))
        elif seat.stack == 0 and not seat.sitting_out and not outcome.state.closing:
            outcome.emit(PlayerSatOut(seat=index, reason="busted"))
    if outcome.state.closing:
        _close_now(outcome)
