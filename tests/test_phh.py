"""Tests for PHH import (played through pokerd) and export (pokerd.hands.phh)."""

from __future__ import annotations

import io
import json
import random
import tomllib
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pokerkit import Automation, Card, HandHistory, Mode, NoLimitTexasHoldem, State

from pokerd.engine import (
    STANDARD_DECK,
    Act,
    CreateTable,
    HandState,
    HoleCardsShown,
    RuleError,
    SitDown,
    TableConfig,
    handle,
    initial_state,
)
from pokerd.engine.views import hole_cards
from pokerd.hands.phh import (
    Outcome,
    hand_phh,
    parse_hand,
    play_command,
    play_fields,
    play_file,
    read_hands,
    seat_for,
)
from pokerd.tables.dealer import random_action, start_hand

FIXTURES = Path(__file__).resolve().parent / "phh"

OK = [
    "heads-up.phh",
    "three-way-all-in.phh",
    "odd-chip.phh",
    "folds-to-big-blind.phh",
    "incomplete-raise.phh",
    "straddle.phh",
    "big-blind-ante.phh",
    "pluribus-0.phh",
    "pluribus-9.phh",
    "pluribus-11.phh",
    "spec-dwan-ivey-2009-known.phh",
]
"""Fixtures that pokerd replays to the file's finishing stacks."""

HAND_WRITTEN = OK[:7]


def fixture(name: str) -> str:
    return str(FIXTURES / name)


def toml(name: str) -> dict[str, Any]:
    return tomllib.loads((FIXTURES / name).read_text(), parse_float=Decimal)


def pokerkit_final(text: str) -> State:
    """The last state of PokerKit's own replay of PHH `text`."""
    states = list(HandHistory.loads(text))
    return states[-1]


def heads_up(**changes: Any) -> dict[str, Any]:
    """A small valid heads-up hand (the big blind folds to a raise), changed."""
    fields: dict[str, Any] = {
        "variant": "NT",
        "antes": [0, 0],
        "blinds_or_straddles": [1, 2],
        "min_bet": 2,
        "starting_stacks": [100, 100],
        "actions": ["d dh p1 7c2d", "d dh p2 AsKs", "p2 cbr 6", "p1 f"],
        "finishing_stacks": [98, 102],
    }
    fields.update(changes)
    return fields


# --- Playing the fixtures -----------------------------------------------------


@pytest.mark.parametrize("name", OK)
def test_fixture_replays_to_the_finishing_stacks_the_file_gives(name: str) -> None:
    [record] = play_file(fixture(name))
    assert record == {
        "file": fixture(name),
        "hand": 0,
        "status": "ok",
        "finishing_stacks": toml(name)["finishing_stacks"],
    }


@pytest.mark.parametrize("name", HAND_WRITTEN)
def test_hand_written_fixture_results_agree_with_pokerkit_itself(name: str) -> None:
    # The finishing stacks were worked out by hand; PokerKit's own reading of
    # the file is an independent check that they are right.
    text = (FIXTURES / name).read_text()
    assert list(pokerkit_final(text).stacks) == toml(name)["finishing_stacks"]


def test_bundle_replays_each_hand_in_order() -> None:
    records = play_file(fixture("bundle.phhs"))
    assert [(r["hand"], r["status"]) for r in records] == [
        (0, "ok"),
        (1, "ok"),
        (2, "skipped"),
    ]
    assert records[0]["finishing_stacks"] == [9950, 9900, 10000, 10000, 10000, 10150]
    assert records[1]["finishing_stacks"] == [98, 102]
    assert "non-integer" in str(records[2]["reason"])


def test_spec_example_with_an_unknown_hand_is_skipped() -> None:
    [record] = play_file(fixture("spec-dwan-ivey-2009.phh"))
    assert record["status"] == "skipped"
    assert "unknown hole cards" in str(record["reason"])


def test_another_variant_is_skipped() -> None:
    [record] = play_file(fixture("spec-arieh-yockey-2019.phh"))
    assert record == {
        "file": fixture("spec-arieh-yockey-2019.phh"),
        "hand": 0,
        "status": "skipped",
        "reason": "variant 'F2L3D': pokerd plays no-limit Texas hold'em (NT) only",
    }


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("error-raise-below-minimum.phh", "bet_below_minimum"),
        ("error-raise-not-reopened.phh", "raise_not_allowed"),
    ],
)
def test_an_illegal_action_in_a_file_is_an_error_with_the_rules_code(
    name: str, code: str
) -> None:
    [record] = play_file(fixture(name))
    assert record["status"] == "error"
    assert record["code"] == code


def test_playing_a_fixture_deals_the_files_hole_cards_at_its_positions() -> None:
    fields = toml("three-way-all-in.phh")
    outcome = play_fields(fields)
    assert outcome.played is not None
    started = outcome.played.started
    dealt = [hole_cards(started, seat) for seat in started.seats]
    assert dealt == [("Ac", "Ad"), ("Kc", "Kd"), ("Qc", "Qd")]
    assert fields["actions"][:3] == ["d dh p1 AcAd", "d dh p2 KcKd", "d dh p3 QcQd"]


# --- The command --------------------------------------------------------------


def test_play_command_prints_a_json_line_per_hand_and_fails_on_an_error() -> None:
    out = io.StringIO()
    paths = [fixture("heads-up.phh"), fixture("bundle.phhs")]
    paths.append(fixture("error-raise-below-minimum.phh"))
    assert play_command(paths, out) == 1
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(line["file"], line["hand"], line["status"]) for line in lines] == [
        (paths[0], 0, "ok"),
        (paths[1], 0, "ok"),
        (paths[1], 1, "ok"),
        (paths[1], 2, "skipped"),
        (paths[2], 0, "error"),
    ]


def test_play_command_succeeds_when_hands_are_only_ok_or_skipped() -> None:
    out = io.StringIO()
    paths = [fixture(name) for name in [*OK, "bundle.phhs", "spec-dwan-ivey-2009.phh"]]
    assert play_command(paths, out) == 0
    assert len(out.getvalue().splitlines()) == len(paths) + 2


def test_a_file_that_is_not_toml_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "broken.phh"
    path.write_text('variant = "NT"\nactions = [\n')
    out = io.StringIO()
    assert play_command([str(path)], out) == 1
    record = json.loads(out.getvalue())
    assert record["hand"] is None
    assert record["code"] == "unreadable"


def test_a_missing_file_is_unreadable(tmp_path: Path) -> None:
    [record] = play_file(str(tmp_path / "nowhere.phh"))
    assert (record["status"], record["code"]) == ("error", "unreadable")


def test_a_bundle_entry_that_is_not_a_hand_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "hands.phhs"
    hand = (FIXTURES / "heads-up.phh").read_text()
    path.write_text(f'title = "not a hand"\n[1]\n{hand}')
    assert read_hands(str(path))[0] == "not a hand"
    records = play_file(str(path))
    assert [(r["hand"], r["status"]) for r in records] == [(0, "error"), (1, "ok")]
    assert records[0]["code"] == "unreadable"


# --- Seating ------------------------------------------------------------------


@pytest.mark.parametrize("players", range(2, 11))
def test_seat_for_puts_each_player_at_the_files_position(players: int) -> None:
    config = TableConfig(max_seats=max(players, 2))
    state = handle(initial_state(), CreateTable(config=config))[1]
    for player in range(players):
        seat = seat_for(player, players)
        state = handle(state, SitDown(seat=seat, name=f"p{player}", buy_in=100))[1]
    state = handle(state, start_hand(0, random.Random(players)))[1]
    assert state.hand is not None
    positions = tuple(seat_for(player, players) for player in range(players))
    assert state.hand.started.seats == positions


def test_heads_up_big_blind_sits_in_seat_1_and_the_button_in_seat_0() -> None:
    assert (seat_for(0, 2), seat_for(1, 2)) == (1, 0)


# --- What playing a file refuses, skips or reports ---------------------------


def test_a_result_other_than_the_files_is_a_result_mismatch() -> None:
    outcome = play_fields(heads_up(finishing_stacks=[100, 100]))
    assert (outcome.status, outcome.code) == ("error", "result_mismatch")
    assert "[98, 102]" in outcome.message


def test_without_finishing_stacks_the_outcome_reports_pokerds() -> None:
    fields = heads_up()
    del fields["finishing_stacks"]
    assert play_fields(fields) == Outcome(status="ok", finishing_stacks=(98, 102))


def test_dealing_the_flop_before_the_betting_closes_is_a_board_mismatch() -> None:
    actions = ["d dh p1 7c2d", "d dh p2 AsKs", "p2 cc", "d db 2c3c4c", "p1 cc"]
    outcome = play_fields(heads_up(actions=actions))
    assert (outcome.status, outcome.code) == ("error", "board_mismatch")


def test_acting_before_the_file_deals_the_flop_is_a_board_mismatch() -> None:
    actions = ["d dh p1 7c2d", "d dh p2 AsKs", "p2 cc", "p1 cc", "p1 cc"]
    outcome = play_fields(heads_up(actions=actions))
    assert (outcome.status, outcome.code) == ("error", "board_mismatch")


def test_dealing_the_flop_and_turn_together_is_a_board_mismatch() -> None:
    actions = ["d dh p1 7c2d", "d dh p2 AsKs", "p2 cc", "p1 cc", "d db 2c3c4c5c"]
    outcome = play_fields(heads_up(actions=actions))
    assert (outcome.status, outcome.code) == ("error", "board_mismatch")


def test_an_action_out_of_turn_is_refused_by_pokerd() -> None:
    outcome = play_fields(heads_up(actions=["d dh p1 7c2d", "d dh p2 AsKs", "p1 f"]))
    assert (outcome.status, outcome.code) == ("error", "not_your_turn")


def test_folding_when_checking_is_free_is_refused_by_pokerd() -> None:
    actions = ["d dh p1 7c2d", "d dh p2 AsKs", "p2 cc", "p1 f"]
    outcome = play_fields(heads_up(actions=actions))
    assert (outcome.status, outcome.code) == ("error", "cannot_fold")


def test_an_action_after_the_hand_ended_is_refused_by_pokerd() -> None:
    actions = ["d dh p1 7c2d", "d dh p2 AsKs", "p2 cbr 6", "p1 f", "p2 cc"]
    outcome = play_fields(heads_up(actions=actions))
    assert (outcome.status, outcome.code) == ("error", "no_hand_in_progress")


BASE_ACTIONS = ["d dh p1 7c2d", "d dh p2 AsKs"]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"variant": "PO"}, "variant 'PO'"),
        ({"bring_in": 1}, "bring-ins"),
        ({"actions": ["d dh p1 ????", "d dh p2 AsKs", "p2 cbr 6", "p1 f"]}, "unknown"),
        ({"actions": ["d dh p1 7c2d", "p2 cbr 6", "p1 f"]}, "unknown hole cards"),
        ({"actions": [*BASE_ACTIONS, "p2 cbr 6", "p1 f", "d db ??"]}, "unknown"),
        ({"actions": [*BASE_ACTIONS, "p2 pb"]}, "bring-ins"),
        ({"min_bet": 4}, "min_bet 4 differs from the big blind 2"),
        ({"antes": [1, 0]}, "antes [1, 0]"),
        ({"starting_stacks": [100.5, 100]}, "non-integer amount 100.5"),
        ({"starting_stacks": [Decimal("inf"), 100]}, "unknown amount"),
        ({"starting_stacks": [0, 100]}, "not positive"),
        ({"starting_stacks": [100] * 11}, "11 players"),
        ({"actions": [*BASE_ACTIONS, "p2 cbr 6.5"]}, "non-integer amount 6.5"),
        ({"actions": [*BASE_ACTIONS, "p2 cbr 6"]}, "stops before the hand ends"),
        ({"blinds_or_straddles": [0, 0], "min_bet": 0}, "big blind must be positive"),
        ({"blinds_or_straddles": [3, 2]}, "small blind cannot be larger"),
    ],
)
def test_a_hand_out_of_scope_is_skipped_with_a_reason(
    changes: dict[str, Any], reason: str
) -> None:
    outcome = play_fields(heads_up(**changes))
    assert outcome.status == "skipped"
    assert reason in outcome.reason


def test_an_all_in_without_its_run_out_stops_before_the_hand_ends() -> None:
    actions = [*BASE_ACTIONS, "p2 cbr 100", "p1 cc", "d db 2c3c4c"]
    outcome = play_fields(heads_up(actions=actions))
    assert outcome.status == "skipped"
    assert outcome.reason == "the file stops before dealing the turn"


def test_more_than_five_board_cards_is_skipped_as_several_boards() -> None:
    boards = ["d db 2c3c4c", "d db 5c", "d db 6c", "d db 2d3d4d", "d db 5d"]
    actions = [*BASE_ACTIONS, "p2 cbr 100", "p1 cc", *boards]
    outcome = play_fields(heads_up(actions=actions))
    assert outcome.status == "skipped"
    assert "several boards" in outcome.reason


@pytest.mark.parametrize(
    ("blinds", "reason"),
    [([1, 2, 0, 4], "a gap before a straddle"), ([1, 2, 4, 8], "from the button")],
)
def test_straddles_pokerd_cannot_post_are_skipped(
    blinds: list[int], reason: str
) -> None:
    actions = ["d dh p1 7c2d", "d dh p2 AsKs", "d dh p3 9h9d", "d dh p4 Tc5s"]
    fields = heads_up(
        antes=0,
        blinds_or_straddles=blinds,
        starting_stacks=[100] * 4,
        actions=actions,
        finishing_stacks=None,
    )
    outcome = play_fields(fields)
    assert outcome.status == "skipped"
    assert reason in outcome.reason


@pytest.mark.parametrize(
    ("antes", "trimming", "stacks", "outcome"),
    [
        ([0, 3, 0], True, [100, 100, 100], "ante trimming with a big-blind ante"),
        ([2, 2, 2], False, [1, 100, 100], "shorter than the ante"),
        ([2, 2, 2], False, [100, 100, 100], "ok"),
        ([1, 4, 1], False, [100, 100, 100], "ok"),
        ([0, 0, 5], False, [100, 100, 100], "antes [0, 0, 5]"),
    ],
)
def test_antes_are_a_uniform_ante_and_a_big_blind_ante_with_pokerds_trimming(
    antes: list[int], trimming: bool, stacks: list[int], outcome: str
) -> None:
    actions = ["d dh p1 7c2d", "d dh p2 AsKs", "d dh p3 9h9d", "p3 f", "p1 f"]
    fields = heads_up(
        antes=antes,
        ante_trimming_status=trimming,
        blinds_or_straddles=[1, 2, 0],
        starting_stacks=stacks,
        actions=actions,
    )
    del fields["finishing_stacks"]
    played = play_fields(fields)
    if outcome == "ok":
        assert played.status == "ok"
        assert sum(played.finishing_stacks) == sum(stacks)
    else:
        assert played.status == "skipped"
        assert outcome in played.reason


def test_integral_floats_and_a_single_ante_number_are_read_as_integers() -> None:
    fields = heads_up(
        antes=Decimal("0.0"),
        blinds_or_straddles=[Decimal("1.0"), 2],
        starting_stacks=[Decimal("100.0"), Decimal("1E+2")],
        actions=[*BASE_ACTIONS, "p2 cbr 6.0", "p1 f"],
    )
    assert play_fields(fields).finishing_stacks == (98, 102)


@pytest.mark.parametrize(
    "changes",
    [
        {"variant": 1},
        {"starting_stacks": "100"},
        {"starting_stacks": [True, 100]},
        {"antes": [0, 0, 1]},
        {"actions": "p1 f"},
        {"actions": [*BASE_ACTIONS, "p3 f"]},
        {"actions": [*BASE_ACTIONS, "p2 jumps"]},
        {"actions": [*BASE_ACTIONS, "d db Xx2c3c"]},
        {"actions": ["d dh p1 7c2d", "d dh p2 7c2d"]},
        {"actions": [*BASE_ACTIONS, "d dh p1 AhAd"]},
        {"actions": ["d dh p1 7c2d3d", "d dh p2 AsKs"]},
        {"actions": [*BASE_ACTIONS, "p2 cbr lots"]},
        {"ante_trimming_status": "yes"},
        {"min_bet": -2},
    ],
)
def test_a_hand_that_is_not_valid_phh_is_unreadable(changes: dict[str, Any]) -> None:
    outcome = play_fields(heads_up(**changes))
    assert (outcome.status, outcome.code) == ("error", "unreadable")


def test_a_missing_required_field_is_unreadable() -> None:
    fields = heads_up()
    del fields["min_bet"]
    outcome = play_fields(fields)
    assert outcome.code == "unreadable"
    assert "min_bet" in outcome.message


def test_commentary_showdowns_and_empty_actions_are_not_replayed() -> None:
    actions = [
        "",
        "# a no-op",
        "d dh p1 7c2d  # the big blind",
        "d dh p2 AsKs",
        "p2 cbr 6 # a raise",
        "p1 f",
        "p2 sm -",
    ]
    assert play_fields(heads_up(actions=actions)).finishing_stacks == (98, 102)


def test_player_names_pokerd_cannot_seat_fall_back_to_the_player_label() -> None:
    fields = heads_up(
        starting_stacks=[100, 100, 100],
        blinds_or_straddles=[1, 2, 0],
        finishing_stacks=None,
    )
    fields["players"] = ["", "Bob", "Bob"]
    fields["actions"] = ["d dh p1 7c2d", "d dh p2 AsKs", "d dh p3 9h9d"]
    assert parse_hand(fields).names == ("p1", "Bob", "p3")
    fields["players"] = ["p2", "x" * 33, 7]
    assert parse_hand(fields).names == ("p2", "p2'", "p3")


def pokerkit_hand(seed: int) -> HandHistory:
    """A random hand played by PokerKit alone, at a table pokerd can express:
    2 to 10 players, blinds, antes, a big-blind ante, straddles, short stacks.
    Cards are dealt from a seeded deck; PokerKit's own rule shows or mucks."""
    rng = random.Random(seed)
    players = rng.randint(2, 10)
    big_blind = rng.choice([2, 4, 10, 20])
    ante = rng.choice([0, 0, rng.randint(1, big_blind)])
    big_blind_ante = rng.choice([0, 0, rng.randint(1, big_blind)])
    antes = [ante] * players
    antes[1] += big_blind_ante
    straddles = [big_blind * 2 ** (i + 1) for i in range(rng.randint(0, 2))]
    blinds = [rng.choice([0, big_blind // 2, big_blind]), big_blind, *straddles]
    stacks = [
        rng.randint(1, big_blind) if rng.random() < 0.25 else rng.randint(1, 2000)
        for _ in range(players)
    ]
    game = NoLimitTexasHoldem(
        (
            Automation.ANTE_POSTING,
            Automation.BET_COLLECTION,
            Automation.BLIND_OR_STRADDLE_POSTING,
            Automation.HOLE_CARDS_SHOWING_OR_MUCKING,
            Automation.HAND_KILLING,
            Automation.CHIPS_PUSHING,
            Automation.CHIPS_PULLING,
            Automation.RUNOUT_COUNT_SELECTION,
        ),
        big_blind_ante == 0,
        antes,
        blinds[: max(2, players - 1)],
        big_blind,
        mode=Mode.CASH_GAME,
    )
    state = game(stacks, players)
    deck = list(Card.parse("".join(STANDARD_DECK)))
    rng.shuffle(deck)
    while state.status:
        if state.can_deal_hole():
            state.deal_hole((deck.pop(),))
        elif state.can_burn_card():
            state.burn_card((deck.pop(),))
        elif state.can_deal_board():
            assert state.board_dealing_count is not None
            state.deal_board(
                tuple(deck.pop() for _ in range(state.board_dealing_count))
            )
        elif state.checking_or_calling_amount and rng.random() < 0.2:
            state.fold()
        elif state.can_complete_bet_or_raise_to() and rng.random() < 0.3:
            low = state.min_completion_betting_or_raising_to_amount
            high = state.max_completion_betting_or_raising_to_amount
            assert low is not None and high is not None
            state.complete_bet_or_raise_to(
                rng.choice([low, high, rng.randint(low, high)])
            )
        else:
            state.check_or_call()
    return HandHistory.from_game_state(
        game,
        state,
        ante_trimming_status=big_blind_ante == 0,
        finishing_stacks=list(state.stacks),
    )


@pytest.mark.parametrize("seed", range(60))
def test_a_hand_pokerkit_played_replays_through_pokerd_to_pokerkits_result(
    seed: int,
) -> None:
    # The other direction from the export tests: PokerKit decides every
    # action's legality and the result, pokerd must accept and agree.
    history = pokerkit_hand(seed)
    assert history.finishing_stacks is not None
    outcome = play_fields(tomllib.loads(history.dumps(), parse_float=Decimal))
    assert outcome.status == "ok", outcome
    assert list(outcome.finishing_stacks) == history.finishing_stacks


# --- Export -------------------------------------------------------------------


def played_hands(seed: int) -> Iterator[HandState]:
    """Up to three random hands at a random table (2 to 10 players, random
    blinds, antes, straddles and stacks, some shorter than the big blind)."""
    rng = random.Random(seed)
    players = rng.randint(2, 10)
    max_seats = rng.randint(players, 10)
    big_blind = rng.choice([2, 4, 10, 20])
    kind = rng.choice(["none", "ante", "big blind ante", "both"])
    config = TableConfig(
        max_seats=max_seats,
        small_blind=rng.choice([0, big_blind // 2, big_blind]),
        big_blind=big_blind,
        ante=rng.randint(1, big_blind) if kind in ("ante", "both") else 0,
        big_blind_ante=rng.randint(1, big_blind)
        if kind in ("big blind ante", "both")
        else 0,
        straddles=tuple(
            big_blind * 2 ** (i + 1)
            for i in range(rng.randint(0, min(2, max_seats - 2)))
        ),
        min_buy_in=1,
        max_buy_in=big_blind * 100,
    )
    state = handle(initial_state(), CreateTable(config=config))[1]
    for seat in rng.sample(range(max_seats), players):
        short = rng.random() < 0.25
        stack = rng.randint(1, big_blind) if short else rng.randint(1, big_blind * 100)
        state = handle(state, SitDown(seat=seat, name=f"seat {seat}", buy_in=stack))[1]
    now = 0
    for _ in range(3):
        try:
            state = handle(state, start_hand(now, rng))[1]
        except RuleError:  # fewer than two players left with chips
            return
        while state.hand is not None and state.hand.ended is None:
            now += 1
            action = random_action(state, rng, now)
            assert action is not None
            state = handle(state, action)[1]
        assert state.hand is not None
        yield state.hand


HANDS = [hand for seed in range(40) for hand in played_hands(seed)]


def test_random_hands_cover_showdowns_and_every_table_size() -> None:
    # Guards the export tests below against a generator that stopped varying.
    assert {len(hand.started.seats) for hand in HANDS} == set(range(2, 11))
    assert any(isinstance(s, HoleCardsShown) for h in HANDS for s in h.steps)


@pytest.mark.parametrize(
    "hand", HANDS, ids=lambda hand: f"{hand.started.commitment[:8]}"
)
def test_an_exported_hand_replays_in_pokerkit_to_pokerds_finishing_stacks(
    hand: HandState,
) -> None:
    assert hand.ended is not None
    text = hand_phh(hand, reveal_all=True)
    final = pokerkit_final(text)
    assert not final.status
    assert tuple(final.stacks) == hand.ended.stacks
    assert tomllib.loads(text)["finishing_stacks"] == list(hand.ended.stacks)


@pytest.mark.parametrize(
    "hand", HANDS, ids=lambda hand: f"{hand.started.commitment[:8]}"
)
def test_an_exported_hand_replays_through_pokerd_to_the_same_stacks(
    hand: HandState,
) -> None:
    assert hand.ended is not None
    text = hand_phh(hand, reveal_all=True)
    outcome = play_fields(tomllib.loads(text, parse_float=Decimal))
    assert (outcome.status, outcome.finishing_stacks) == ("ok", hand.ended.stacks)


@pytest.mark.parametrize(
    "hand", HANDS, ids=lambda hand: f"{hand.started.commitment[:8]}"
)
def test_a_viewers_export_shows_only_their_own_and_shown_cards(hand: HandState) -> None:
    started = hand.started
    shown = {s.seat for s in hand.steps if isinstance(s, HoleCardsShown)}
    for viewer in [None, *started.seats]:
        actions = tomllib.loads(hand_phh(hand, viewer=viewer))["actions"]
        cards = {
            action[i : i + 2]
            for action in actions
            if action.startswith("d dh") or " sm " in action
            for i in range(len(action) - 4, len(action), 2)
        }
        for index, seat in enumerate(started.seats):
            own = set(hole_cards(started, seat))
            dealt = next(a for a in actions if a.startswith(f"d dh p{index + 1} "))
            if seat == viewer or seat in shown:
                assert own <= cards
            else:
                assert dealt.endswith(" ????")
                assert not own & cards


@pytest.mark.parametrize(
    "hand", HANDS[::4], ids=lambda hand: hand.started.commitment[:8]
)
def test_a_spectators_export_still_replays_in_pokerkit_to_the_same_stacks(
    hand: HandState,
) -> None:
    # Only shown cards decide pots, so unknown cards elsewhere change nothing.
    assert hand.ended is not None
    final = pokerkit_final(hand_phh(hand))
    assert tuple(final.stacks) == hand.ended.stacks


def test_exporting_a_replayed_fixture_gives_back_the_files_actions() -> None:
    outcome = play_fields(toml("heads-up.phh"))
    assert outcome.played is not None
    exported = tomllib.loads(hand_phh(outcome.played, reveal_all=True))
    original = toml("heads-up.phh")
    for field in ["antes", "blinds_or_straddles", "min_bet", "starting_stacks"]:
        assert exported[field] == original[field]
    assert exported["actions"] == original["actions"]
    assert exported["players"] == original["players"]
    assert exported["finishing_stacks"] == original["finishing_stacks"]
    assert (exported["hand"], exported["seats"]) == (1, [2, 1])


def test_an_unfinished_hand_exports_without_finishing_stacks() -> None:
    state = handle(initial_state(), CreateTable(config=TableConfig(max_seats=3)))[1]
    for seat in range(3):
        state = handle(state, SitDown(seat=seat, name=f"p{seat}", buy_in=100))[1]
    state = handle(state, start_hand(0, random.Random(5)))[1]
    # The button (seat 2) and the small blind (seat 0) call: the big blind's turn.
    for seat in (2, 0):
        state = handle(state, Act(seat=seat, action="call", now_ms=1))[1]
    hand = state.hand
    assert hand is not None and hand.ended is None
    text = hand_phh(hand, viewer=0)
    assert "finishing_stacks" not in tomllib.loads(text)
    final = pokerkit_final(text)
    assert final.status
    assert final.stacks == hand.poker().stacks


def test_names_cannot_break_out_of_a_toml_comment_or_string() -> None:
    state = handle(initial_state(), CreateTable(config=TableConfig(max_seats=2)))[1]
    for seat, name in enumerate(['a "quoted" \\ name', "ünïcode 🂡"]):
        state = handle(state, SitDown(seat=seat, name=name, buy_in=100))[1]
    state = handle(state, start_hand(0, random.Random(1)))[1]
    assert state.hand is not None
    fields = tomllib.loads(hand_phh(state.hand))
    assert fields["players"] == ["ünïcode 🂡", 'a "quoted" \\ name']
