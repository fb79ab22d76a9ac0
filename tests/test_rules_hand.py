"""Given/when/then tests of the rules of one hand: actions, pots, showdowns, blinds.

Three players in seats 0, 1 and 2 of a fresh table play their first hand with
seat 0 as the small blind, seat 1 as the big blind and seat 2 as the button:
seat 2 acts first pre-flop, seat 0 first after the flop.
"""

from __future__ import annotations

import pytest
from gwt import (
    act,
    deal,
    everyone_checks_or_calls,
    everyone_folds,
    given,
    refusal,
    table,
    when,
)

from pokerd.engine import (
    ActionName,
    ActionTaken,
    BoardDealt,
    HandEnded,
    HandStarted,
    HoleCardsMucked,
    HoleCardsShown,
    PlayerSeated,
    PotResult,
    PotShare,
    TableConfig,
    TableState,
    TurnStarted,
    legal_actions,
    redact,
    verify_card,
    view,
)
from pokerd.engine.events import TakenAction


def three_handed(*holes: str, board: str = "") -> TableState:
    """Seats 0, 1, 2 with 100 each, a hand dealt; seat 2 (the button) to act."""
    return given(*table(100, 100, 100), deal(holes, board))


def taken(
    seat: int, action: TakenAction, amount: int = 0, *, all_in: bool = False
) -> ActionTaken:
    """The ActionTaken a player's own action in hand 1 logs."""
    return ActionTaken(
        hand=1,
        seat=seat,
        action=action,
        amount=amount,
        all_in=all_in,
        cause="player",
    )


def seat_view(
    state: TableState, seat: int, viewer: int | None = None
) -> tuple[int, int, bool]:
    """(stack, bet, all in) of `seat` as the table shows it."""
    shown = view(state, viewer).seats[seat]
    assert shown is not None
    return shown.stack, shown.bet, shown.all_in


# The actions


def test_folding_gives_up_the_hand_and_passes_the_turn() -> None:
    outcome = when(three_handed(), act(2, "fold"))
    assert outcome.events == [
        taken(2, "fold"),
        TurnStarted(hand=1, seat=0, deadline_ms=30_000),
    ]
    folded = view(outcome.state, None).seats[2]
    assert folded is not None
    assert not folded.in_hand


def test_calling_puts_in_what_is_owed() -> None:
    outcome = when(three_handed(), act(2, "call"), act(0, "call"))
    assert outcome.of(ActionTaken) == [taken(2, "call", 2), taken(0, "call", 1)]
    assert seat_view(outcome.state, 0) == (98, 2, False)


def test_checking_when_it_is_free_closes_the_round_and_deals_the_flop() -> None:
    state = when(
        three_handed("2c3d", "2d3c", "2h3s", board="AsKs9d"),
        act(2, "call"),
        act(0, "call"),
    ).state
    outcome = when(state, act(1, "check"))
    assert outcome.events[0] == taken(1, "check")
    flop = outcome.one(BoardDealt)
    assert (flop.street, flop.cards) == ("flop", ("As", "Ks", "9d"))
    assert outcome.events[-1] == TurnStarted(hand=1, seat=0, deadline_ms=30_000)


def test_raising_pre_flop_is_logged_as_a_raise_to_the_total() -> None:
    outcome = when(three_handed(), act(2, "raise", 6))
    assert outcome.events[0] == taken(2, "raise", 6)
    assert seat_view(outcome.state, 2) == (94, 6, False)


def test_betting_after_the_flop_is_logged_as_a_bet() -> None:
    state = when(three_handed(), act(2, "call"), act(0, "call"), act(1, "check")).state
    outcome = when(state, act(0, "bet", 5))
    assert outcome.events[0] == taken(0, "bet", 5)


def test_a_bet_facing_a_bet_is_logged_as_a_raise() -> None:
    outcome = when(three_handed(), act(2, "bet", 6))
    assert outcome.events[0] == taken(2, "raise", 6)


def test_going_all_in_raises_to_the_whole_stack() -> None:
    outcome = when(three_handed(), act(2, "all_in"))
    assert outcome.events[0] == taken(2, "raise", 100, all_in=True)
    assert seat_view(outcome.state, 2) == (0, 100, True)


def test_going_all_in_short_of_the_bet_is_a_call_for_the_rest() -> None:
    state = given(*table(100, 100, 30), deal(), act(2, "call"), act(0, "raise", 50))
    state = when(state, act(1, "fold")).state
    # Seat 2 has 28 behind and faces 48 more: all in is a call.
    outcome = when(state, act(2, "all_in"))
    assert outcome.events[0] == taken(2, "call", 28, all_in=True)


def test_calling_with_the_last_chips_is_all_in() -> None:
    state = given(*table(100, 100, 30), deal(), act(2, "call"), act(0, "raise", 50))
    outcome = when(state, act(1, "fold"), act(2, "call"))
    assert outcome.of(ActionTaken)[-1] == taken(2, "call", 28, all_in=True)


# Refused actions


def test_acting_out_of_turn_is_refused() -> None:
    assert refusal(three_handed(), act(0, "call")) == "not_your_turn"


def test_a_seat_not_dealt_in_cannot_act() -> None:
    state = given(
        *table(100, 100, 100), deal(), PlayerSeated(seat=4, name="new", stack=100)
    )
    assert refusal(state, act(4, "fold")) == "not_in_hand"


def test_acting_before_any_hand_is_refused() -> None:
    assert refusal(given(*table(100, 100)), act(0, "check")) == "no_hand_in_progress"


def test_acting_after_the_hand_ended_is_refused() -> None:
    state = everyone_folds(three_handed()).state
    assert refusal(state, act(1, "check")) == "no_hand_in_progress"


def test_checking_facing_a_bet_is_refused() -> None:
    assert refusal(three_handed(), act(2, "check")) == "cannot_check"


def test_calling_with_nothing_to_call_is_refused() -> None:
    state = when(three_handed(), act(2, "call"), act(0, "call"), act(1, "check")).state
    assert refusal(state, act(0, "call")) == "nothing_to_call"


def test_folding_when_checking_is_free_is_refused() -> None:
    state = when(three_handed(), act(2, "call"), act(0, "call")).state
    assert refusal(state, act(1, "fold")) == "cannot_fold"


@pytest.mark.parametrize("action", ["bet", "raise"])
def test_a_bet_or_raise_without_an_amount_is_refused(action: ActionName) -> None:
    assert refusal(three_handed(), act(2, action)) == "amount_required"


@pytest.mark.parametrize("action", ["fold", "check", "call", "all_in"])
@pytest.mark.parametrize("amount", [-5, 0, 40])
def test_an_amount_on_an_action_that_takes_none_is_refused(
    action: ActionName, amount: int
) -> None:
    assert refusal(three_handed(), act(2, action, amount)) == "amount_not_taken"


@pytest.mark.parametrize("action", ["bet", "raise"])
def test_a_negative_bet_or_raise_is_refused(action: ActionName) -> None:
    assert refusal(three_handed(), act(2, action, -5)) == "invalid_amount"


def test_a_raise_below_the_minimum_raise_is_refused() -> None:
    assert refusal(three_handed(), act(2, "raise", 3)) == "bet_below_minimum"
    assert when(three_handed(), act(2, "raise", 4)).events[0] == taken(2, "raise", 4)


def test_a_bet_below_the_big_blind_is_refused() -> None:
    state = when(three_handed(), act(2, "call"), act(0, "call"), act(1, "check")).state
    assert refusal(state, act(0, "bet", 1)) == "bet_below_minimum"


def test_a_bet_above_the_stack_is_refused() -> None:
    assert refusal(three_handed(), act(2, "raise", 101)) == "bet_above_stack"


def test_an_incomplete_all_in_raise_does_not_reopen_betting_for_who_already_acted() -> (
    None
):
    # Seat 2 raises to 10; seat 0 goes all in for 14, short of a full raise (18).
    state = given(*table(14, 100, 100), deal(), act(2, "raise", 10), act(0, "all_in"))
    assert state.hand is not None
    big_blind = legal_actions(state.hand)
    assert big_blind is not None
    assert big_blind.min_raise_to == 22, "seat 1 has not acted: it may raise"

    state = when(state, act(1, "call")).state
    assert state.hand is not None
    raiser = legal_actions(state.hand)
    assert raiser is not None
    assert (raiser.call, raiser.min_raise_to, raiser.max_raise_to) == (4, None, None)
    assert refusal(state, act(2, "raise", 30)) == "raise_not_allowed"
    assert when(state, act(2, "all_in")).events[0] == taken(2, "call", 4)


# Pots


def test_side_pots_go_to_the_best_hand_among_those_who_paid_into_them() -> None:
    # Stacks 20, 50, 80, 100; the shorter the stack, the better the hand.
    state = given(
        *table(20, 50, 80, 100),
        deal(["AcAd", "KcKd", "QcQd", "JcJd"], "3h7d9c2s4s"),
    )
    outcome = when(
        state, act(2, "all_in"), act(3, "all_in"), act(0, "all_in"), act(1, "all_in")
    )
    ended = outcome.one(HandEnded)
    assert ended.pots == (
        PotResult(amount=80, shares=(PotShare(seat=0, amount=80),)),
        PotResult(amount=90, shares=(PotShare(seat=1, amount=90),)),
        PotResult(amount=60, shares=(PotShare(seat=2, amount=60),)),
    )
    assert ended.stacks == (80, 90, 60, 20), "seat 3 gets its uncalled 20 back"
    assert sum(ended.stacks) == 250


def test_when_everyone_is_all_in_the_hands_are_shown_before_the_board() -> None:
    state = given(
        *table(20, 50, 80, 100),
        deal(["AcAd", "KcKd", "QcQd", "JcJd"], "3h7d9c2s4s"),
    )
    outcome = when(
        state, act(2, "all_in"), act(3, "all_in"), act(0, "all_in"), act(1, "all_in")
    )
    last_action = outcome.events.index(outcome.of(ActionTaken)[-1])
    after = [type(event) for event in outcome.events[last_action + 1 :]]
    assert after == [HoleCardsShown] * 4 + [BoardDealt] * 3 + [HandEnded]


def test_a_split_pot_gives_the_odd_chip_to_the_first_winner_left_of_the_button() -> (
    None
):
    # The board is a royal flush: seats 1 and 2 split a pot of 5.
    state = three_handed("2c3d", "2d3c", "2h3s", board="AsKsQsJsTs")
    state = when(state, act(2, "call"), act(0, "fold"), act(1, "check")).state
    ended = everyone_checks_or_calls(state).one(HandEnded)
    assert ended.pots == (
        PotResult(
            amount=5, shares=(PotShare(seat=1, amount=3), PotShare(seat=2, amount=2))
        ),
    )
    assert ended.stacks == (99, 101, 100)


def test_all_odd_chips_of_a_three_way_split_go_to_the_first_winner() -> None:
    """PokerKit's rule: the whole remainder goes to the first winner left of the
    button, not one chip each around the table."""
    state = given(
        *table(100, 100, 100, 100),
        deal(["2c3d", "2d3c", "2h3s", "4c4d"], "AsKsQsJsTs"),
    )
    # Seat 0 puts in 2 and folds to a raise; seats 1, 2 and 3 put in 4 each.
    state = when(
        state,
        act(2, "call"),
        act(3, "call"),
        act(0, "call"),
        act(1, "raise", 4),
        act(2, "call"),
        act(3, "call"),
        act(0, "fold"),
    ).state
    ended = everyone_checks_or_calls(state).one(HandEnded)
    assert ended.pots == (
        PotResult(
            amount=14,
            shares=(
                PotShare(seat=1, amount=6),
                PotShare(seat=2, amount=4),
                PotShare(seat=3, amount=4),
            ),
        ),
    )


def test_a_pot_won_without_a_showdown_holds_only_the_called_chips() -> None:
    outcome = everyone_folds(three_handed())
    ended = outcome.one(HandEnded)
    # The big blind's own 2 were never called: they come back outside the pot.
    assert ended.pots == (PotResult(amount=1, shares=(PotShare(seat=1, amount=1),)),)
    assert ended.stacks == (99, 101, 100)
    assert not outcome.of(HoleCardsShown)
    assert not outcome.of(HoleCardsMucked)


# Heads-up


def test_heads_up_the_button_posts_the_small_blind_and_acts_first_pre_flop() -> None:
    outcome = when(given(*table(100, 100)), deal())
    started = outcome.one(HandStarted)
    assert started.seats == (1, 0), "positions: big blind, then the button"
    assert (started.button, started.small_blind, started.big_blind) == (0, 0, 1)
    assert seat_view(outcome.state, 0) == (99, 1, False)
    assert seat_view(outcome.state, 1) == (98, 2, False)
    assert outcome.events[-1] == TurnStarted(hand=1, seat=0, deadline_ms=30_000)


def test_heads_up_the_button_acts_last_after_the_flop() -> None:
    state = given(*table(100, 100), deal())
    outcome = when(state, act(0, "call"), act(1, "check"))
    turns = outcome.of(TurnStarted)
    assert [turn.seat for turn in turns] == [1, 1]  # pre-flop option, then flop
    flop = when(outcome.state, act(1, "check"))
    assert flop.events[-1] == TurnStarted(hand=1, seat=0, deadline_ms=30_000)


# The showdown


def test_the_losers_muck_and_the_winner_shows_cards_with_proofs_that_verify() -> None:
    # Seat 0 holds aces, seat 1 kings, seat 2 nothing; all check it down.
    state = given(*table(100, 100, 100))
    outcome = when(state, deal(["AsAh", "KsKh", "2c7d"], "AdKd3c8h9s"))
    started = outcome.one(HandStarted)
    rest = everyone_checks_or_calls(outcome.state)

    shown = rest.one(HoleCardsShown)
    assert (shown.seat, shown.cards) == (0, ("As", "Ah"))
    assert [proof.position for proof in shown.proofs] == [0, 3]
    assert [proof.card for proof in shown.proofs] == ["As", "Ah"]
    assert all(verify_card(started.commitment, proof) for proof in shown.proofs)
    assert [event.seat for event in rest.of(HoleCardsMucked)] == [1, 2]
    assert rest.one(HandEnded).stacks == (104, 98, 98)

    for board in rest.of(BoardDealt):
        assert all(verify_card(started.commitment, proof) for proof in board.proofs)
    for viewer in (None, 0, 2):
        for event in [*outcome.events, *rest.events]:
            seen = repr(redact(event, viewer))
            assert "Ks" not in seen
            assert "Kh" not in seen
        table_view = view(rest.state, viewer)
        loser, winner = table_view.seats[1], table_view.seats[0]
        assert loser is not None
        assert (loser.cards, loser.hidden_cards) == ((), 0)
        assert winner is not None
        assert winner.cards == ("As", "Ah")
        assert "Ks" not in repr(table_view)
        assert "Kh" not in repr(table_view)


def test_a_shown_hand_is_named_with_its_five_cards_from_pokerkit() -> None:
    # Seat 0's aces make three of a kind with the board; the others muck.
    state = three_handed("AsAh", "KsKh", "2c7d", board="AdKd3c8h9s")
    rest = everyone_checks_or_calls(state)

    for viewer in (None, 0, 1):
        seats = view(rest.state, viewer).seats
        winner = seats[0]
        assert winner is not None and winner.shown_hand is not None
        assert winner.shown_hand.name == "Three of a kind, aces"
        assert sorted(winner.shown_hand.cards) == sorted(["As", "Ah", "Ad", "Kd", "9s"])
        for loser in (seats[1], seats[2]):
            assert loser is not None and loser.shown_hand is None


def test_a_hand_shown_before_the_board_is_named_once_the_flop_is_out() -> None:
    # Everyone all in pre-flop: the cards are shown, then the board runs out.
    state = three_handed("AsAh", "KsKh", "2c7d", board="AdKd3c8h9s")
    all_in = when(state, act(2, "all_in"), act(0, "call"), act(1, "call"))

    shown_early = [
        index
        for index, step in enumerate(all_in.events)
        if isinstance(step, HoleCardsShown)
    ]
    first_board = next(
        index
        for index, step in enumerate(all_in.events)
        if isinstance(step, BoardDealt)
    )
    assert shown_early and shown_early[0] < first_board
    seats = view(all_in.state, None).seats
    named = {
        seat.seat: seat.shown_hand.name
        for seat in seats
        if seat is not None and seat.shown_hand is not None
    }
    assert named == {
        0: "Three of a kind, aces",
        1: "Three of a kind, kings",
        2: "High card, ace",
    }


def test_a_folded_seat_is_marked_folded_until_the_hand_ends() -> None:
    state = three_handed()
    folded = when(state, act(2, "fold")).state

    for viewer in (None, 2):
        seats = view(folded, viewer).seats
        assert [seat.folded for seat in seats if seat is not None] == [
            False,
            False,
            True,
        ]
    ended = everyone_folds(folded).state
    assert not any(seat.folded for seat in view(ended, None).seats if seat)


def test_the_first_to_show_shows_even_a_losing_hand() -> None:
    # Seat 0 is first to show on the river and loses to seat 1's aces.
    state = given(*table(100, 100, 100), deal(["7c2d", "AcAd", "8h3s"], "AsKs9d5c4h"))
    rest = everyone_checks_or_calls(state)
    showdown = [
        (type(event).__name__, event.seat)
        for event in rest.events
        if isinstance(event, HoleCardsShown | HoleCardsMucked)
    ]
    assert showdown == [
        ("HoleCardsShown", 0),
        ("HoleCardsShown", 1),
        ("HoleCardsMucked", 2),
    ]
    assert rest.one(HandEnded).stacks == (98, 104, 98)


# Short stacks and antes


def test_a_big_blind_short_of_the_blind_posts_all_it_has() -> None:
    outcome = when(given(*table(100, 1, 100)), deal())
    assert seat_view(outcome.state, 1) == (0, 1, True)
    assert outcome.state.hand is not None
    assert outcome.state.hand.actor() == 2


def test_a_short_big_blind_sets_the_price_of_a_call_to_what_it_posted() -> None:
    """PokerKit's rule; many card rooms make later players call the full blind."""
    state = given(*table(100, 1, 100), deal())
    assert state.hand is not None
    legal = legal_actions(state.hand)
    assert legal is not None
    assert (legal.call, legal.min_raise_to) == (1, 3)


def test_a_short_big_blind_wins_only_what_it_could_cover() -> None:
    state = given(*table(100, 1, 100), deal(["7c2d", "AcAd", "8h3s"], "AsKs9d5c4h"))
    ended = everyone_checks_or_calls(state).one(HandEnded)
    assert ended.pots[0] == PotResult(amount=3, shares=(PotShare(seat=1, amount=3),))
    assert ended.stacks[1] == 3
    assert sum(ended.stacks) == 201


def test_a_small_blind_short_of_the_blind_is_all_in_and_plays_for_the_main_pot() -> (
    None
):
    config = TableConfig(small_blind=2, big_blind=4, min_buy_in=1)
    state = given(
        *table(1, 100, 100, config=config),
        deal(["AcAd", "KcKd", "7h2s"], "3h8d9cJs4s"),
    )
    assert seat_view(state, 0) == (0, 1, True)
    ended = everyone_checks_or_calls(state).one(HandEnded)
    assert ended.pots == (
        PotResult(amount=3, shares=(PotShare(seat=0, amount=3),)),
        PotResult(amount=6, shares=(PotShare(seat=1, amount=6),)),
    )
    assert ended.stacks == (3, 102, 96)


def test_every_player_dealt_in_posts_the_ante() -> None:
    config = TableConfig(ante=1, min_buy_in=1)
    outcome = when(given(*table(100, 100, 100, config=config)), deal())
    assert outcome.one(HandStarted).antes == (1, 1, 1)
    stacks = [seat_view(outcome.state, seat)[0] for seat in (0, 1, 2)]
    assert stacks == [98, 97, 99]
    ended = everyone_folds(outcome.state).one(HandEnded)
    assert ended.pots == (PotResult(amount=4, shares=(PotShare(seat=1, amount=4),)),)
    assert ended.stacks == (98, 103, 99)


def test_the_big_blind_ante_is_taken_from_the_big_blind_alone() -> None:
    config = TableConfig(big_blind_ante=2, min_buy_in=1)
    outcome = when(given(*table(100, 100, 100, config=config)), deal())
    assert outcome.one(HandStarted).antes == (0, 2, 0)
    stacks = [seat_view(outcome.state, seat)[0] for seat in (0, 1, 2)]
    assert stacks == [99, 96, 100]
    ended = everyone_folds(outcome.state).one(HandEnded)
    assert ended.stacks == (99, 101, 100)


def test_heads_up_the_big_blind_ante_is_taken_from_the_big_blind() -> None:
    config = TableConfig(big_blind_ante=2, min_buy_in=1)
    outcome = when(given(*table(100, 100, config=config)), deal())
    assert outcome.one(HandStarted).big_blind == 1
    assert seat_view(outcome.state, 1) == (96, 2, False)
    assert seat_view(outcome.state, 0) == (99, 1, False)


def test_heads_up_hand_started_shows_the_big_blind_ante_at_the_big_blind() -> None:
    config = TableConfig(big_blind_ante=2, min_buy_in=1)
    started = when(given(*table(100, 100, config=config)), deal()).one(HandStarted)
    assert started.antes[started.seats.index(started.big_blind)] == 2


def test_a_stack_shorter_than_the_ante_is_all_in_for_the_ante() -> None:
    config = TableConfig(ante=5, min_buy_in=1)
    outcome = when(given(*table(100, 100, 3, config=config)), deal())
    assert seat_view(outcome.state, 2)[0] == 0
    assert outcome.state.hand is not None
    assert outcome.state.hand.actor() == 0, "the all-in button has no turn"
