"""Given/when/then tests of the button and blinds from hand to hand: a moving big blind.

Each hand here is dealt and folded round to the big blind, which is enough to
move the button and blinds on.
"""

from __future__ import annotations

from itertools import pairwise

import pytest
from gwt import act, deal, everyone_folds, given, refusal, table, when

from pokerd.engine import (
    ComeBack,
    HandEnded,
    HandStarted,
    Leave,
    PlayerSatOut,
    SitDown,
    SitOut,
    TableState,
    TopUp,
)


def next_hands(state: TableState, count: int) -> tuple[list[HandStarted], TableState]:
    """Deal `count` hands, each folded round to the big blind."""
    started: list[HandStarted] = []
    for _ in range(count):
        dealt = when(state, deal())
        started.append(dealt.one(HandStarted))
        state = everyone_folds(dealt.state).state
        assert state.hand is not None
        assert not state.hand.in_progress
    return started, state


def blinds(hand: HandStarted) -> tuple[int, int, int]:
    """(button, small blind, big blind) of a hand."""
    return hand.button, hand.small_blind, hand.big_blind


def test_the_button_and_blinds_move_one_seat_each_hand() -> None:
    hands, _ = next_hands(given(*table(100, 100, 100, 100)), 5)
    assert [blinds(hand) for hand in hands] == [
        (3, 0, 1),
        (0, 1, 2),
        (1, 2, 3),
        (2, 3, 0),
        (3, 0, 1),
    ]
    assert [hand.seats for hand in hands[:2]] == [(0, 1, 2, 3), (1, 2, 3, 0)]


def test_the_button_and_blinds_skip_empty_seats() -> None:
    hands, _ = next_hands(given(*table(100, None, 100, None, 100)), 4)
    assert [blinds(hand) for hand in hands] == [
        (4, 0, 2),
        (0, 2, 4),
        (2, 4, 0),
        (4, 0, 2),
    ]


def test_a_player_the_big_blind_passes_while_sitting_out_waits_for_it_again() -> None:
    # Hand 1: big blind seat 1. Seat 2 would be next: it sits out instead.
    _, state = next_hands(given(*table(100, 100, 100, 100)), 1)
    state = when(state, SitOut(seat=2)).state
    (second,), state = next_hands(state, 1)
    assert second.big_blind == 3, "the big blind does not wait for seat 2"
    assert second.missed_big_blind == (2,)
    assert state.seats[2] is not None
    assert state.seats[2].waiting_for_big_blind

    # Back at once, seat 2 is still not dealt in until the big blind is its.
    state = when(state, ComeBack(seat=2)).state
    hands, _ = next_hands(state, 3)
    assert [hand.big_blind for hand in hands] == [0, 1, 2]
    assert [2 in hand.seats for hand in hands] == [False, False, True]


def test_sitting_out_and_back_before_the_big_blind_passes_costs_nothing() -> None:
    _, state = next_hands(given(*table(100, 100, 100, 100)), 1)
    state = when(state, SitOut(seat=2), ComeBack(seat=2)).state
    (second,), _ = next_hands(state, 1)
    assert blinds(second) == (0, 1, 2)
    assert second.missed_big_blind == ()


def test_sitting_out_during_a_hand_and_missing_the_big_blind_means_waiting() -> None:
    state = given(*table(100, 100, 100, 100), deal(), SitOut(seat=2))
    state = everyone_folds(state).state
    (second,), state = next_hands(state, 1)
    assert 2 not in second.seats
    assert second.missed_big_blind == (2,)
    state = when(state, ComeBack(seat=2)).state
    (third,), _ = next_hands(state, 1)
    assert 2 not in third.seats


def test_a_newcomer_waits_for_the_big_blind() -> None:
    # Seats 1, 2 and 3 play hand 1 with the big blind on seat 2.
    (first,), state = next_hands(given(*table(None, 100, 100, 100)), 1)
    assert first.big_blind == 2
    state = when(state, SitDown(seat=0, name="new", buy_in=100)).state
    assert state.seats[0] is not None
    assert state.seats[0].waiting_for_big_blind

    hands, _ = next_hands(state, 2)
    assert [hand.big_blind for hand in hands] == [3, 0]
    assert [0 in hand.seats for hand in hands] == [False, True]


def test_a_newcomer_is_dealt_in_at_once_when_otherwise_fewer_than_two_could_play() -> (
    None
):
    _, state = next_hands(given(*table(100, 100)), 1)
    state = when(
        state, Leave(seat=1, now_ms=0), SitDown(seat=3, name="new", buy_in=100)
    ).state
    (second,), _ = next_hands(state, 1)
    assert sorted(second.seats) == [0, 3]


@pytest.mark.parametrize("leaver", [0, 1, 2])
def test_going_from_three_players_to_two_nobody_posts_the_big_blind_twice(
    leaver: int,
) -> None:
    (first,), state = next_hands(given(*table(100, 100, 100)), 1)
    assert blinds(first) == (2, 0, 1)
    state = when(state, Leave(seat=leaver, now_ms=0)).state
    hands, _ = next_hands(state, 3)
    big_blinds = [first.big_blind, *(hand.big_blind for hand in hands)]
    assert all(a != b for a, b in pairwise(big_blinds))
    for hand in hands:
        assert len(hand.seats) == 2
        assert hand.button == hand.small_blind != hand.big_blind
        assert hand.seats == (hand.big_blind, hand.button)


def test_going_from_three_to_two_the_big_blind_moves_on_to_the_next_player() -> None:
    # Hand 1: small blind 0, big blind 1, button 2; the button leaves.
    _, state = next_hands(given(*table(100, 100, 100)), 1)
    state = when(state, Leave(seat=2, now_ms=0)).state
    (second,), _ = next_hands(state, 1)
    assert blinds(second) == (1, 1, 0)


def test_when_the_last_big_blind_leaves_the_button_and_small_blind_stay_put() -> None:
    """No dead button or dead small blind (docs/design.md): seat 0 posts the
    small blind twice in a row, and the button stays on seat 3 for a hand."""
    (first,), state = next_hands(given(*table(100, 100, 100, 100)), 1)
    assert blinds(first) == (3, 0, 1)
    state = when(state, Leave(seat=1, now_ms=0)).state
    hands, _ = next_hands(state, 2)
    assert [blinds(hand) for hand in hands] == [(3, 0, 2), (0, 2, 3)]


def test_heads_up_the_big_blind_alternates() -> None:
    hands, _ = next_hands(given(*table(100, 100)), 4)
    assert [blinds(hand) for hand in hands] == [
        (0, 0, 1),
        (1, 1, 0),
        (0, 0, 1),
        (1, 1, 0),
    ]


def busted_seat_2() -> TableState:
    """Seat 2 (the button, 40 chips) goes all in pre-flop and loses to seat 0."""
    state = given(
        *table(100, 100, 40),
        deal(["AcAd", "7h2s", "KcKd"], "3h8d9cJs4s"),
        act(2, "all_in"),
        act(0, "call"),
    )
    return state


def test_a_player_with_no_chips_at_the_end_of_a_hand_is_sat_out_as_busted() -> None:
    outcome = when(busted_seat_2(), act(1, "fold"))
    ended = outcome.one(HandEnded)
    assert ended.stacks == (142, 98, 0)
    assert outcome.events[-1] == PlayerSatOut(seat=2, reason="busted")
    assert outcome.state.seats[2] is not None
    assert outcome.state.seats[2].sitting_out
    assert refusal(outcome.state, ComeBack(seat=2)) == "no_chips"
    (second,), _ = next_hands(outcome.state, 1)
    assert 2 not in second.seats


def test_a_busted_player_is_dealt_in_again_after_topping_up_and_coming_back() -> None:
    state = when(busted_seat_2(), act(1, "fold")).state
    state = when(state, TopUp(seat=2, amount=100), ComeBack(seat=2)).state
    (second,), _ = next_hands(state, 1)
    assert 2 in second.seats
    assert second.stacks[second.seats.index(2)] == 100


def test_heads_up_a_bust_stops_the_game_until_the_player_tops_up_and_comes_back() -> (
    None
):
    state = given(
        *table(40, 100),
        deal(["AcAd", "KcKd"], "3h8d9cJs4s"),  # seat 1 is the big blind: AcAd
        act(0, "all_in"),
    )
    outcome = when(state, act(1, "call"))
    assert outcome.one(HandEnded).stacks == (140, 0)
    assert outcome.events[-1] == PlayerSatOut(seat=0, reason="busted")
    assert refusal(outcome.state, deal()) == "not_enough_players"
    state = when(outcome.state, TopUp(seat=0, amount=50), ComeBack(seat=0)).state
    (second,), _ = next_hands(state, 1)
    assert sorted(second.seats) == [0, 1]
