"""Given/when/then tests of the table: create, sit, leave, sit out, top up, deal."""

from __future__ import annotations

import pytest
from gwt import SECRET, act, deal, everyone_folds, given, refusal, table, when

from pokerd.engine import (
    STANDARD_DECK,
    ActionTaken,
    ChipsAdded,
    ComeBack,
    Command,
    CreateTable,
    HandEnded,
    HandStarted,
    Leave,
    LeaveScheduled,
    PlayerLeft,
    PlayerReturned,
    PlayerSatOut,
    PlayerSeated,
    SitDown,
    SitOut,
    StartHand,
    TableConfig,
    TableCreated,
    TimeOut,
    TopUp,
    TurnStarted,
)
from pokerd.engine.config import (
    MAX_ACTION_CLOCK_MS,
    MAX_CHIPS,
    MAX_TABLE_NAME_LENGTH,
    MAX_TIMEOUTS_BEFORE_SIT_OUT,
    MIN_ACTION_CLOCK_MS,
)

CONFIG = TableConfig(max_seats=6, min_buy_in=40, max_buy_in=200)
BIG = TableConfig(max_seats=3, min_buy_in=1, max_buy_in=MAX_CHIPS // 3)
"""A table at the chip limit: three seats at its maximum buy-in fill it."""


# Creating the table


def test_creating_a_table_records_its_whole_config_and_empty_seats() -> None:
    config = TableConfig(
        name="Table 7",
        max_seats=9,
        small_blind=5,
        big_blind=10,
        ante=1,
        big_blind_ante=10,
        min_buy_in=200,
        max_buy_in=1000,
        action_clock_ms=15_000,
        timeouts_before_sit_out=3,
    )
    outcome = when(given(), CreateTable(config=config))
    assert outcome.events == [TableCreated(config=config)]
    assert outcome.state.config == config
    assert outcome.state.seats == (None,) * 9


@pytest.mark.parametrize("seats", [2, 10])
def test_a_table_has_two_to_ten_seats(seats: int) -> None:
    outcome = when(given(), CreateTable(config=TableConfig(max_seats=seats)))
    assert len(outcome.state.seats) == seats


@pytest.mark.parametrize(
    "config",
    [
        TableConfig(max_seats=1),
        TableConfig(max_seats=11),
        TableConfig(small_blind=3, big_blind=2),
        TableConfig(small_blind=0, big_blind=0),
        TableConfig(small_blind=-1),
        TableConfig(ante=-1),
        TableConfig(big_blind_ante=-1),
        TableConfig(min_buy_in=0),
        TableConfig(min_buy_in=300, max_buy_in=200),
        TableConfig(action_clock_ms=0),
        TableConfig(timeouts_before_sit_out=0),
        TableConfig(max_seats=6, max_buy_in=MAX_CHIPS // 6 + 1),
        TableConfig(big_blind=MAX_CHIPS + 1, max_buy_in=200),
        TableConfig(ante=MAX_CHIPS + 1),
        TableConfig(big_blind_ante=MAX_CHIPS + 1),
        TableConfig(max_seats=4, straddles=(MAX_CHIPS + 1,)),
        TableConfig(action_clock_ms=MIN_ACTION_CLOCK_MS - 1),
        TableConfig(action_clock_ms=MAX_ACTION_CLOCK_MS + 1),
        TableConfig(timeouts_before_sit_out=MAX_TIMEOUTS_BEFORE_SIT_OUT + 1),
        TableConfig(name="x" * (MAX_TABLE_NAME_LENGTH + 1)),
        TableConfig(name="tab\tle"),
        TableConfig(name=" Table 7"),
        TableConfig(name="Table 7 "),
    ],
    ids=[
        "1 seat",
        "11 seats",
        "small blind above big blind",
        "no big blind",
        "negative small blind",
        "negative ante",
        "negative big blind ante",
        "zero minimum buy-in",
        "minimum buy-in above maximum",
        "no action clock",
        "sat out before any timeout",
        "a full table at the maximum buy-in over the chip limit",
        "a big blind over the chip limit",
        "an ante over the chip limit",
        "a big blind ante over the chip limit",
        "a straddle over the chip limit",
        "an action clock under a tenth of a second",
        "an action clock over an hour",
        "too many timeouts before sit-out",
        "a name too long",
        "a name with a control character",
        "a name starting with a space",
        "a name ending with a space",
    ],
)
def test_an_unplayable_config_is_refused(config: TableConfig) -> None:
    assert refusal(given(), CreateTable(config=config)) == "invalid_config"


@pytest.mark.parametrize(
    "config",
    [
        TableConfig(max_seats=10, min_buy_in=1, max_buy_in=MAX_CHIPS // 10),
        TableConfig(
            max_seats=2,
            small_blind=MAX_CHIPS,
            big_blind=MAX_CHIPS,
            ante=MAX_CHIPS,
            big_blind_ante=MAX_CHIPS,
        ),
        TableConfig(action_clock_ms=MIN_ACTION_CLOCK_MS),
        TableConfig(action_clock_ms=MAX_ACTION_CLOCK_MS),
        TableConfig(timeouts_before_sit_out=MAX_TIMEOUTS_BEFORE_SIT_OUT),
        TableConfig(name="x" * MAX_TABLE_NAME_LENGTH),
        TableConfig(name="Les Jeux — Salle 3 ♠"),
        TableConfig(name=""),
    ],
    ids=[
        "a full table at the maximum buy-in fills the chip limit",
        "forced bets at the chip limit",
        "the shortest action clock",
        "the longest action clock",
        "the most timeouts before sit-out",
        "the longest name",
        "a name in any script",
        "no name",
    ],
)
def test_a_config_at_its_bounds_is_accepted(config: TableConfig) -> None:
    assert when(given(), CreateTable(config=config)).state.config == config


def test_a_table_can_be_played_with_antes_and_a_big_blind_ante() -> None:
    config = TableConfig(small_blind=0, big_blind=2, ante=1, big_blind_ante=2)
    outcome = when(given(), CreateTable(config=config))
    assert outcome.state.config == config


def test_creating_a_table_twice_is_refused() -> None:
    state = given(CreateTable(config=CONFIG))
    assert refusal(state, CreateTable(config=CONFIG)) == "table_exists"


@pytest.mark.parametrize(
    "command",
    [
        SitDown(seat=0, name="ann", buy_in=100),
        Leave(seat=0, now_ms=0),
        SitOut(seat=0),
        ComeBack(seat=0),
        TopUp(seat=0, amount=10),
        StartHand(deck=STANDARD_DECK, secret=SECRET, now_ms=0),
        act(0, "check"),
    ],
    ids=lambda command: type(command).__name__,
)
def test_commands_before_the_table_is_created_are_refused(command: Command) -> None:
    assert refusal(given(), command) == "no_table"


def test_a_timeout_before_the_table_is_created_is_refused_as_no_table() -> None:
    assert refusal(given(), TimeOut(hand=1, seat=0, now_ms=0)) == "no_table"


# Sitting down


def test_sitting_down_seats_the_player_with_the_buy_in_as_stack() -> None:
    outcome = when(
        given(CreateTable(config=CONFIG)), SitDown(seat=3, name="ann", buy_in=120)
    )
    assert outcome.events == [PlayerSeated(seat=3, name="ann", stack=120)]
    seat = outcome.state.seats[3]
    assert seat is not None
    assert (seat.name, seat.stack, seat.sitting_out) == ("ann", 120, False)
    assert outcome.state.bought_in == 120


@pytest.mark.parametrize("buy_in", [40, 200])
def test_the_buy_in_range_includes_its_bounds(buy_in: int) -> None:
    outcome = when(
        given(CreateTable(config=CONFIG)), SitDown(seat=0, name="ann", buy_in=buy_in)
    )
    assert outcome.events == [PlayerSeated(seat=0, name="ann", stack=buy_in)]


@pytest.mark.parametrize("buy_in", [39, 201, 0, -50])
def test_a_buy_in_outside_the_range_is_refused(buy_in: int) -> None:
    state = given(CreateTable(config=CONFIG))
    command = SitDown(seat=0, name="ann", buy_in=buy_in)
    assert refusal(state, command) == "buy_in_out_of_range"


@pytest.mark.parametrize("seat", [-1, 6, 10])
def test_sitting_in_a_seat_the_table_does_not_have_is_refused(seat: int) -> None:
    state = given(CreateTable(config=CONFIG))
    command = SitDown(seat=seat, name="ann", buy_in=100)
    assert refusal(state, command) == "no_such_seat"


def test_sitting_in_a_taken_seat_is_refused() -> None:
    state = given(CreateTable(config=CONFIG), SitDown(seat=2, name="ann", buy_in=100))
    assert refusal(state, SitDown(seat=2, name="bob", buy_in=100)) == "seat_taken"


@pytest.mark.parametrize("name", ["ann", "  ann "])
def test_a_name_already_at_the_table_is_refused(name: str) -> None:
    state = given(CreateTable(config=CONFIG), SitDown(seat=2, name="ann", buy_in=100))
    assert refusal(state, SitDown(seat=3, name=name, buy_in=100)) == "name_taken"


def test_a_name_is_stripped_of_surrounding_spaces() -> None:
    outcome = when(
        given(CreateTable(config=CONFIG)), SitDown(seat=0, name="  ann ", buy_in=100)
    )
    assert outcome.events == [PlayerSeated(seat=0, name="ann", stack=100)]


@pytest.mark.parametrize(
    "name",
    ["", "   ", "a" * 33, "ann\tlee", "ann\nlee", "\x00"],
    ids=["empty", "blank", "33 characters", "tab", "newline", "nul"],
)
def test_an_invalid_name_is_refused(name: str) -> None:
    state = given(CreateTable(config=CONFIG))
    assert refusal(state, SitDown(seat=0, name=name, buy_in=100)) == "invalid_name"


def test_a_name_of_32_characters_is_accepted() -> None:
    outcome = when(
        given(CreateTable(config=CONFIG)), SitDown(seat=0, name="a" * 32, buy_in=100)
    )
    assert outcome.events == [PlayerSeated(seat=0, name="a" * 32, stack=100)]


# Leaving


def test_leaving_between_hands_takes_the_stack_away_at_once() -> None:
    state = given(*table(100, 150))
    outcome = when(state, Leave(seat=1, now_ms=0))
    assert outcome.events == [PlayerLeft(seat=1, name="p1", stack=150)]
    assert outcome.state.seats[1] is None
    assert outcome.state.cashed_out == 150


def test_a_seat_not_dealt_in_leaves_at_once_during_a_hand() -> None:
    state = given(*table(100, 100), deal(), PlayerSeated(seat=4, name="new", stack=80))
    outcome = when(state, Leave(seat=4, now_ms=0))
    assert outcome.events == [PlayerLeft(seat=4, name="new", stack=80)]


def test_leaving_an_empty_seat_is_refused() -> None:
    assert refusal(given(*table(100, 100)), Leave(seat=3, now_ms=0)) == "seat_empty"


def test_leaving_on_your_turn_facing_a_bet_folds_at_once_as_away() -> None:
    state = given(*table(100, 100, 100), deal())  # seat 2, the button, is to act
    outcome = when(state, Leave(seat=2, now_ms=0))
    assert outcome.events[:2] == [
        LeaveScheduled(seat=2),
        ActionTaken(
            hand=1, seat=2, action="fold", amount=0, all_in=False, cause="away"
        ),
    ]
    assert outcome.state.hand is not None
    assert outcome.state.hand.actor() == 0
    assert outcome.state.seats[2] is not None, "the seat is kept until the hand ends"


def test_a_leaving_seat_checks_when_it_is_free_and_leaves_when_the_hand_ends() -> None:
    # Seat 1, the big blind, leaves before its turn; it holds the best hand.
    state = given(*table(100, 100, 100), deal(["7c2d", "AcAd", "8h3s"], "AsKs9d5c4h"))
    leaving = when(state, Leave(seat=1, now_ms=0))
    assert leaving.events == [LeaveScheduled(seat=1)]
    assert leaving.state.seats[1] is not None
    assert leaving.state.seats[1].leaving

    outcome = when(leaving.state, act(2, "call"), act(0, "call"))
    away = [event for event in outcome.of(ActionTaken) if event.seat == 1]
    assert [(event.action, event.cause) for event in away] == [("check", "away")]
    assert all(turn.seat != 1 for turn in outcome.of(TurnStarted))

    # Every later turn of the leaving seat is played at once, without a clock.
    rest = when(outcome.state, *(act(seat, "check") for seat in (0, 2) * 3))
    away = [event for event in rest.of(ActionTaken) if event.seat == 1]
    assert [(event.action, event.cause) for event in away] == [("check", "away")] * 3
    assert all(turn.seat != 1 for turn in rest.of(TurnStarted))
    ended = rest.one(HandEnded)
    assert ended.stacks == (98, 104, 98)
    assert rest.events[-1] == PlayerLeft(seat=1, name="p1", stack=104)
    assert rest.state.seats[1] is None
    assert rest.state.cashed_out == 104


def test_leaving_twice_in_the_same_hand_is_refused() -> None:
    state = given(*table(100, 100, 100), deal(), Leave(seat=1, now_ms=0))
    assert refusal(state, Leave(seat=1, now_ms=0)) == "already_leaving"


def test_a_leaving_seat_cannot_come_back_for_the_rest_of_the_hand() -> None:
    state = given(
        *table(100, 100, 100), deal(), SitOut(seat=1), Leave(seat=1, now_ms=0)
    )
    assert refusal(state, ComeBack(seat=1)) == "already_leaving"


# Sitting out and coming back


def test_sitting_out_during_a_hand_lets_the_hand_play_on() -> None:
    state = given(*table(100, 100, 100), deal())
    outcome = when(state, SitOut(seat=2))
    assert outcome.events == [PlayerSatOut(seat=2, reason="requested")]
    assert outcome.state.hand is not None
    assert outcome.state.hand.actor() == 2, "still the sitting-out seat's turn"
    played = when(outcome.state, act(2, "raise", 6))
    assert played.one(ActionTaken).cause == "player"


def test_sitting_out_takes_effect_at_the_next_deal() -> None:
    state = given(*table(100, 100, 100), deal(), SitOut(seat=2))
    ended = everyone_folds(state)
    next_hand = when(ended.state, deal())
    assert sorted(next_hand.hand.seats) == [0, 1]


def test_a_sat_out_seat_is_not_dealt_in() -> None:
    state = given(*table(100, 100, 100), SitOut(seat=1))
    outcome = when(state, deal())
    assert 1 not in outcome.hand.seats
    assert sorted(outcome.hand.seats) == [0, 2]


def test_sitting_out_twice_is_refused() -> None:
    state = given(*table(100, 100), SitOut(seat=0))
    assert refusal(state, SitOut(seat=0)) == "already_sitting_out"


def test_coming_back_puts_the_seat_back_in_the_game() -> None:
    state = given(*table(100, 100, 100), SitOut(seat=1))
    outcome = when(state, ComeBack(seat=1))
    assert outcome.events == [PlayerReturned(seat=1)]
    assert outcome.state.seats[1] is not None
    assert not outcome.state.seats[1].sitting_out
    assert 1 in when(outcome.state, deal()).hand.seats


def test_coming_back_without_sitting_out_is_refused() -> None:
    assert refusal(given(*table(100, 100)), ComeBack(seat=0)) == "not_sitting_out"


def test_coming_back_with_no_chips_is_refused() -> None:
    state = given(*table(100, 0), PlayerSatOut(seat=1, reason="busted"))
    assert refusal(state, ComeBack(seat=1)) == "no_chips"


# Topping up


def test_topping_up_between_hands_adds_to_the_stack() -> None:
    state = given(*table(100, 100, config=CONFIG))
    outcome = when(state, TopUp(seat=1, amount=60))
    assert outcome.events == [ChipsAdded(seat=1, amount=60)]
    assert outcome.state.seats[1] is not None
    assert outcome.state.seats[1].stack == 160
    assert outcome.state.bought_in == 260


def test_topping_up_to_exactly_the_maximum_buy_in_is_allowed() -> None:
    state = given(*table(100, 100, config=CONFIG))
    assert when(state, TopUp(seat=1, amount=100)).events == [
        ChipsAdded(seat=1, amount=100)
    ]


def test_topping_up_above_the_maximum_buy_in_is_refused() -> None:
    state = given(*table(100, 100, config=CONFIG))
    assert refusal(state, TopUp(seat=1, amount=101)) == "top_up_above_maximum"


def test_topping_up_a_seat_in_the_current_hand_is_refused() -> None:
    state = given(*table(100, 100, config=CONFIG), deal())
    assert refusal(state, TopUp(seat=1, amount=10)) == "hand_in_progress"


def test_a_seat_not_in_the_current_hand_may_top_up_during_it() -> None:
    state = given(*table(100, 100, 50, config=CONFIG), SitOut(seat=2), deal())
    assert when(state, TopUp(seat=2, amount=10)).events == [
        ChipsAdded(seat=2, amount=10)
    ]


@pytest.mark.parametrize("amount", [0, -10])
def test_topping_up_by_nothing_or_less_is_refused(amount: int) -> None:
    state = given(*table(100, 100, config=CONFIG))
    assert refusal(state, TopUp(seat=1, amount=amount)) == "invalid_amount"


# The chip limit: a winner's stack grows past the maximum buy-in


def test_chips_that_would_take_the_table_over_the_chip_limit_are_refused() -> None:
    # Seat 0 won nearly every chip the table can hold; seat 1 is bust.
    state = given(*table(MAX_CHIPS - 50, 0, config=BIG))
    assert refusal(state, TopUp(seat=1, amount=51)) == "too_many_chips"
    assert refusal(state, SitDown(seat=2, name="cy", buy_in=51)) == "too_many_chips"
    assert when(state, TopUp(seat=1, amount=50)).state.bought_in == MAX_CHIPS
    sat = when(state, SitDown(seat=2, name="cy", buy_in=50))
    assert sat.events == [PlayerSeated(seat=2, name="cy", stack=50)]


def test_chips_taken_away_make_room_under_the_chip_limit() -> None:
    state = given(*table(MAX_CHIPS - 50, 0, config=BIG), Leave(seat=0, now_ms=0))
    outcome = when(state, TopUp(seat=1, amount=BIG.max_buy_in))
    assert outcome.events == [ChipsAdded(seat=1, amount=BIG.max_buy_in)]


# Starting a hand


def test_a_hand_needs_two_players() -> None:
    assert refusal(given(*table(100)), deal()) == "not_enough_players"


def test_a_hand_needs_two_players_ready_to_play() -> None:
    state = given(*table(100, 100), SitOut(seat=0))
    assert refusal(state, deal()) == "not_enough_players"


def test_a_hand_cannot_start_while_one_is_played() -> None:
    assert refusal(given(*table(100, 100), deal()), deal()) == "hand_in_progress"


@pytest.mark.parametrize(
    ("deck", "secret"),
    [
        (STANDARD_DECK[:51], SECRET),
        ((*STANDARD_DECK[:51], "2c"), SECRET),
        ((*STANDARD_DECK[:51], "Zz"), SECRET),
        (STANDARD_DECK, "5e" * 31),
        (STANDARD_DECK, "5E" * 32),
    ],
    ids=["51 cards", "a duplicate", "an unknown card", "short secret", "uppercase"],
)
def test_a_bad_deck_or_secret_is_refused(deck: tuple[str, ...], secret: str) -> None:
    command = StartHand(deck=deck, secret=secret, now_ms=0)
    assert refusal(given(*table(100, 100)), command) == "invalid_deck"


def test_the_first_hand_deals_everyone_ready_in_seat_order() -> None:
    state = given(*table(100, 120, None, 140, 160))
    started = when(state, deal(now_ms=7)).one(HandStarted)
    assert started.hand == 1
    assert started.seats == (0, 1, 3, 4)
    assert started.names == ("p0", "p1", "p3", "p4")
    assert started.stacks == (100, 120, 140, 160)
    assert (started.small_blind, started.big_blind, started.button) == (0, 1, 4)
    assert started.blinds_or_straddles == (1, 2)
    assert started.started_at == 7


def test_a_hand_does_not_deal_in_sat_out_or_busted_seats() -> None:
    state = given(
        *table(100, 100, 0, 100),
        PlayerSatOut(seat=2, reason="busted"),
        SitOut(seat=3),
    )
    assert when(state, deal()).hand.seats == (1, 0)


def test_a_hand_numbers_on_from_the_last() -> None:
    state = everyone_folds(given(*table(100, 100), deal())).state
    assert when(state, deal()).hand.hand == 2
