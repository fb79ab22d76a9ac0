"""Given/when/then tests of closing a table: no new hand, players cashed out, closed."""

from __future__ import annotations

from gwt import Outcome, act, deal, everyone_folds, given, refusal, table, when

from pokerd.engine import (
    ChipsAdded,
    CloseTable,
    ComeBack,
    CreateTable,
    HandEnded,
    Leave,
    LeaveScheduled,
    PlayerLeft,
    PlayerSeated,
    SitDown,
    SitOut,
    TableClosed,
    TableClosing,
    TableConfig,
    TableCreated,
    TableState,
    TimeOut,
    TopUp,
    redact,
    view,
)
from pokerd.engine.seating import next_deal
from pokerd.tables.dealer import start_hand

CONFIG = TableConfig(max_seats=6, min_buy_in=40, max_buy_in=200)


def chips_held(state: TableState) -> int:
    return sum(seat.stack for seat in state.seats if seat is not None)


def test_the_creators_token_hash_is_in_the_log_and_the_state_but_no_view() -> None:
    outcome = when(given(), CreateTable(config=CONFIG, creator_hash="ab" * 32))
    assert outcome.events == [TableCreated(config=CONFIG, creator_hash="ab" * 32)]
    assert outcome.state.creator_hash == "ab" * 32
    for viewer in (None, 0):
        assert redact(outcome.events[0], viewer) == TableCreated(config=CONFIG)


def test_a_table_with_no_hand_closes_at_once_cashing_everyone_out() -> None:
    state = given(*table(100, None, 70), SitOut(seat=2))
    outcome = when(state, CloseTable())
    assert outcome.events == [
        PlayerLeft(seat=0, name="p0", stack=100),
        PlayerLeft(seat=2, name="p2", stack=70),
        TableClosed(),
    ]
    after = outcome.state
    assert after.closed and not after.closing
    assert after.seats == (None,) * 6
    assert after.cashed_out == state.cashed_out + 170
    assert view(after, None).closed


def test_an_empty_table_closes_with_nobody_to_cash_out() -> None:
    outcome = when(given(*table()), CloseTable())
    assert outcome.events == [TableClosed()]


def test_closing_during_a_hand_lets_it_finish_then_cashes_everyone_out() -> None:
    state = given(*table(100, 100, 100), deal())
    closing = when(state, CloseTable())
    assert closing.events == [TableClosing()]
    assert closing.state.closing and closing.state.hand_in_progress
    assert view(closing.state, None).closing

    # The hand plays on as usual: players act, nobody is folded for them.
    played = everyone_folds(closing.state)
    ended = played.one(HandEnded)
    tail = played.events[played.events.index(ended) + 1 :]
    stacks = _by_seat(played)
    assert tail == [
        *(
            PlayerLeft(seat=seat, name=f"p{seat}", stack=stacks[seat])
            for seat in range(3)
        ),
        TableClosed(),
    ]
    assert played.state.closed
    assert played.state.seats == (None,) * 6
    assert played.state.cashed_out == 300  # every chip bought in went out again


def _by_seat(outcome: Outcome) -> list[int]:
    """Each seat's stack as the hand left it, from the HandEnded of `outcome`."""
    ended = outcome.one(HandEnded)
    started = outcome.state.hand
    assert started is not None
    stacks = dict(zip(started.started.seats, ended.stacks, strict=True))
    return [stacks[seat] for seat in sorted(stacks)]


def test_a_busted_player_is_cashed_out_with_nothing_not_sat_out() -> None:
    # p1, the big blind, is all in with its 2 chips; p0 calls and wins.
    state = given(*table(100, 2), deal(["7c2d", "AcAd"], "AsKs9d5c4h"))
    closing = when(state, CloseTable())
    played = when(closing.state, act(0, "call"))
    assert PlayerLeft(seat=1, name="p1", stack=0) in played.events
    assert played.events[-1] == TableClosed()


def test_no_hand_is_dealt_while_closing_or_after_closing() -> None:
    state = given(*table(100, 100, 100), deal())
    closing = when(state, CloseTable()).state
    assert next_deal(closing) is None
    assert refusal(closing, start_hand(0)) == "hand_in_progress"
    closed = when(given(*table(100, 100)), CloseTable()).state
    assert next_deal(closed) is None
    assert refusal(closed, start_hand(0)) == "table_closed"


def test_no_chips_come_to_a_closing_table() -> None:
    state = given(*table(100, 100, 100, 50), SitOut(seat=3), deal())
    closing = when(state, CloseTable()).state
    sitting = SitDown(seat=5, name="late", buy_in=100)
    assert refusal(closing, sitting) == "table_closing"
    assert refusal(closing, TopUp(seat=3, amount=50)) == "table_closing"


def test_a_closing_table_still_takes_a_leave_and_the_player_goes_at_hand_end() -> None:
    state = given(*table(100, 100, 100), deal())
    closing = when(state, CloseTable()).state
    left = when(closing, Leave(seat=0, now_ms=0))
    assert left.events[0] == LeaveScheduled(seat=0)
    played = everyone_folds(left.state)
    assert [e.seat for e in played.of(PlayerLeft)] == [0, 1, 2]
    assert played.events[-1] == TableClosed()


def test_closing_twice_is_refused() -> None:
    closing = when(given(*table(100, 100), deal()), CloseTable()).state
    assert refusal(closing, CloseTable()) == "already_closing"
    closed = when(given(*table(100, 100)), CloseTable()).state
    assert refusal(closed, CloseTable()) == "table_closed"


def test_a_closed_table_refuses_every_command() -> None:
    closed = when(given(*table(100, 100)), CloseTable()).state
    for command in (
        SitDown(seat=0, name="again", buy_in=100),
        Leave(seat=0, now_ms=0),
        SitOut(seat=0),
        ComeBack(seat=0),
        TopUp(seat=0, amount=10),
        act(0, "fold"),
        TimeOut(hand=1, seat=0, now_ms=10**9),
    ):
        assert refusal(closed, command) == "table_closed", command
    assert refusal(closed, CreateTable(config=CONFIG)) == "table_exists"


def test_a_table_not_created_cannot_be_closed() -> None:
    assert refusal(given(), CloseTable()) == "no_table"


def test_chips_are_conserved_through_a_close() -> None:
    state = given(
        *table(100, 100, 100),
        ChipsAdded(seat=0, amount=20),
        PlayerSeated(seat=4, name="p4", stack=60),
        deal(),
    )
    closing = when(state, CloseTable())
    played = everyone_folds(closing.state)
    final = played.state
    assert chips_held(final) == 0
    assert final.cashed_out == final.bought_in == 380
