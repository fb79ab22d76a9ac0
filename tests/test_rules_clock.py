"""Given/when/then tests of the action clock: deadlines, timeouts, sitting out.

Three players in seats 0, 1 and 2 play their first hand: seat 0 is the small
blind, seat 1 the big blind, seat 2 the button and first to act pre-flop.
"""

from __future__ import annotations

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
    ActionTaken,
    ComeBack,
    Event,
    HandStarted,
    PlayerSatOut,
    SitOut,
    TableConfig,
    TableState,
    TimeOut,
    TurnStarted,
    fold,
    view,
)

CLOCK = 15_000
CONFIG = TableConfig(action_clock_ms=CLOCK, timeouts_before_sit_out=2, min_buy_in=1)


def dealt(now_ms: int = 1_000) -> TableState:
    """A first hand dealt at `now_ms`; seat 2 is to act until now_ms + CLOCK."""
    return given(*table(100, 100, 100, config=CONFIG), deal(now_ms=now_ms))


def big_blind_to_act() -> TableState:
    """Seats 2 and 0 limp at 2_000: the big blind (seat 1) may check."""
    return given(
        *table(100, 100, 100, config=CONFIG),
        deal(now_ms=1_000),
        act(2, "call", now_ms=2_000),
        act(0, "call", now_ms=2_000),
    )


def timeout(seat: int, now_ms: int, hand: int = 1) -> TimeOut:
    return TimeOut(hand=hand, seat=seat, now_ms=now_ms)


def actions_of(events: list[Event], seat: int) -> list[tuple[str, str]]:
    return [
        (event.action, event.cause)
        for event in events
        if isinstance(event, ActionTaken) and event.seat == seat
    ]


def test_a_turn_starts_with_a_deadline_of_now_plus_the_action_clock() -> None:
    outcome = when(given(*table(100, 100, 100, config=CONFIG)), deal(now_ms=1_000))
    assert outcome.events[-1] == TurnStarted(hand=1, seat=2, deadline_ms=16_000)
    assert view(outcome.state, None).deadline_ms == 16_000
    acted = when(outcome.state, act(2, "call", now_ms=4_000))
    assert acted.events[-1] == TurnStarted(hand=1, seat=0, deadline_ms=19_000)


def test_a_timeout_before_the_deadline_is_refused() -> None:
    assert refusal(dealt(), timeout(2, 15_999)) == "clock_not_expired"


def test_a_timeout_at_the_deadline_is_accepted() -> None:
    outcome = when(dealt(), timeout(2, 16_000))
    assert actions_of(outcome.events, 2) == [("fold", "timeout")]


def test_a_timeout_for_a_seat_whose_turn_it_is_not_is_stale() -> None:
    assert refusal(dealt(), timeout(0, 99_000)) == "stale_timeout"


def test_a_timeout_for_another_hand_is_stale() -> None:
    assert refusal(dealt(), timeout(2, 99_000, hand=2)) == "stale_timeout"


def test_a_timeout_for_a_turn_already_played_is_stale() -> None:
    state = when(dealt(), act(2, "call", now_ms=2_000)).state
    assert refusal(state, timeout(2, 99_000)) == "stale_timeout"


def test_a_timeout_after_the_hand_ended_is_stale() -> None:
    state = everyone_folds(dealt()).state
    assert refusal(state, timeout(1, 99_000)) == "stale_timeout"


def test_a_timeout_facing_a_bet_folds_and_starts_the_next_turn() -> None:
    outcome = when(dealt(), timeout(2, 20_000))
    assert outcome.events == [
        ActionTaken(
            hand=1, seat=2, action="fold", amount=0, all_in=False, cause="timeout"
        ),
        TurnStarted(hand=1, seat=0, deadline_ms=20_000 + CLOCK),
    ]


def test_a_timeout_when_checking_is_free_checks() -> None:
    outcome = when(big_blind_to_act(), timeout(1, 17_000))
    assert actions_of(outcome.events, 1) == [("check", "timeout")]
    assert not outcome.of(PlayerSatOut)


def test_timeouts_in_a_row_sit_the_player_out_and_their_turns_then_play_at_once() -> (
    None
):
    state = when(big_blind_to_act(), timeout(1, 17_000), act(0, "check")).state
    outcome = when(state, timeout(1, 40_000))
    assert outcome.events[:2] == [
        ActionTaken(
            hand=1, seat=1, action="check", amount=0, all_in=False, cause="timeout"
        ),
        PlayerSatOut(seat=1, reason="timeouts"),
    ]
    assert outcome.events[-1] == TurnStarted(hand=1, seat=2, deadline_ms=55_000)

    # The turn: seat 0 checks, and seat 1's turn is played at once, no clock.
    rest = when(outcome.state, act(2, "check"), act(0, "check"))
    assert actions_of(rest.events, 1) == [("check", "away")]
    assert [turn.seat for turn in rest.of(TurnStarted)] == [0, 2]

    # And the player is not dealt into the next hand.
    finished = everyone_checks_or_calls(rest.state).state
    assert finished.hand is not None
    assert not finished.hand.in_progress
    next_hand = when(finished, deal()).one(HandStarted)
    assert 1 not in next_hand.seats


def test_a_player_sat_out_by_timeouts_who_comes_back_gets_the_clock_again() -> None:
    state = when(
        big_blind_to_act(), timeout(1, 17_000), act(0, "check"), timeout(1, 40_000)
    ).state
    state = when(state, ComeBack(seat=1), act(2, "check")).state
    outcome = when(state, act(0, "check"))
    assert outcome.events[-1] == TurnStarted(hand=1, seat=1, deadline_ms=CLOCK)


def test_acting_yourself_resets_the_count_of_timeouts() -> None:
    state = when(
        big_blind_to_act(),
        timeout(1, 17_000),  # 1 timeout
        act(0, "check"),
        act(1, "check"),  # back to 0
        act(2, "check"),
        act(0, "check"),
    ).state
    outcome = when(state, timeout(1, 99_000))
    assert actions_of(outcome.events, 1) == [("check", "timeout")]
    assert not outcome.of(PlayerSatOut)
    assert outcome.events[-1] == TurnStarted(hand=1, seat=2, deadline_ms=99_000 + CLOCK)


def test_timeouts_in_a_row_count_across_hands() -> None:
    # Hand 1: the button, seat 2, times out and folds.
    state = when(dealt(), timeout(2, 16_000)).state
    state = everyone_folds(state).state
    # Hand 2: seat 2 is the big blind; the others limp and seat 2 times out.
    state = when(
        state, deal(now_ms=50_000), act(0, "call", now_ms=50_000), act(1, "call")
    ).state
    outcome = when(state, timeout(2, 65_000, hand=2))
    assert actions_of(outcome.events, 2) == [("check", "timeout")]
    assert outcome.events[1] == PlayerSatOut(seat=2, reason="timeouts")


def test_a_state_folded_from_the_log_has_the_same_turn_and_clock() -> None:
    log: list[Event] = [*table(100, 100, 100, config=CONFIG)]
    outcome = when(fold(log), deal(now_ms=1_000), act(2, "call", now_ms=3_000))
    log += outcome.events
    replayed = fold(log)
    assert replayed.hand is not None
    assert outcome.state.hand is not None
    assert replayed.hand.turn == outcome.state.hand.turn
    assert replayed.hand.turn == TurnStarted(hand=1, seat=0, deadline_ms=18_000)
    assert view(replayed, None).deadline_ms == 18_000
    assert refusal(replayed, timeout(0, 17_999)) == "clock_not_expired"
    expired = when(replayed, timeout(0, 18_000))
    assert actions_of(expired.events, 0) == [("fold", "timeout")]


def test_a_player_sitting_out_by_request_who_times_out_is_played_at_once() -> None:
    state = when(big_blind_to_act(), SitOut(seat=1), timeout(1, 17_000)).state
    state = when(state, act(0, "check")).state
    outcome = when(state, timeout(1, 40_000), act(2, "check"), act(0, "check"))
    assert actions_of(outcome.events, 1) == [("check", "timeout"), ("check", "away")]
