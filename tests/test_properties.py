"""Properties of whole random games: chips, replay, secrecy, the codec, purity."""

from __future__ import annotations

import importlib.metadata
import json
import os
import random
import re
from typing import Any

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import Game, games, walk

from pokerd.engine import (
    ENGINE,
    Act,
    BoardDealt,
    Command,
    CreateTable,
    Event,
    HandDealt,
    HandEnded,
    HandStarted,
    HoleCardsShown,
    Leave,
    SitDown,
    TableConfig,
    TableState,
    Viewer,
    fold,
    handle,
    redact,
    verify_card,
    view,
)
from pokerd.engine.config import MAX_SAFE_INTEGER
from pokerd.engine.deck import card_salt
from pokerd.engine.views import (
    dealt_position,
    personal_view,
    redaction_for,
    sat_before_hand,
)
from pokerd.store import StoredEvent
from pokerd.tables.dealer import start_hand
from pokerd.tables.feed import event_messages
from pokerd.wire import codec
from pokerd.wire.batch_text import BatchText

EXAMPLES = int(os.environ.get("PROPERTY_EXAMPLES", "30"))
"""Games per property; raise it for a longer hunt (the suite's budget is ~60 s)."""

GAMES = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

CARD = re.compile(r'"([2-9TJQKA][cdhs])"')
SALT = re.compile(r'"([0-9a-f]{32})"')


def through_json(data: Any) -> Any:
    return json.loads(json.dumps(data))


def hole_cards(started: HandStarted, seat: int) -> set[str]:
    """The cards dealt to `seat`: one each from position 0, twice around."""
    players = len(started.seats)
    position = started.seats.index(seat)
    return {started.deck[position], started.deck[players + position]}


# Chips.


def chips_at_the_table(state: TableState) -> int:
    """Every chip on the table: behind, and in PokerKit's stacks, bets and pots."""
    hand = state.hand
    playing = set(hand.started.seats) if hand is not None and hand.in_progress else ()
    total = sum(
        seat.stack
        for index, seat in enumerate(state.seats)
        if seat is not None and index not in playing
    )
    if hand is not None and hand.in_progress:
        poker = hand.poker()
        pots = sum(pot.amount for pot in poker.pots)
        assert pots + sum(poker.bets) == poker.total_pot_amount
        assert min(poker.stacks) >= 0
        total += sum(poker.stacks) + sum(poker.bets) + pots
    return total


def check_hand_result(started: HandStarted, ended: HandEnded) -> None:
    """The pots hold exactly what the players put in, and are paid out whole."""
    won = dict.fromkeys(started.seats, 0)
    for pot in ended.pots:
        assert pot.amount > 0
        assert sum(share.amount for share in pot.shares) == pot.amount
        for share in pot.shares:
            assert share.amount > 0
            won[share.seat] += share.amount
    assert sum(ended.stacks) == sum(started.stacks)
    put_in = [
        start - end + won[seat]
        for seat, start, end in zip(
            started.seats, started.stacks, ended.stacks, strict=True
        )
    ]
    assert all(
        0 <= chips <= start for chips, start in zip(put_in, started.stacks, strict=True)
    )
    assert sum(put_in) == sum(pot.amount for pot in ended.pots)


@GAMES
@given(games())
def test_no_chip_is_ever_created_or_lost(game: Game) -> None:
    started: HandStarted | None = None
    ended = 0
    for event, state in walk(game.events):
        assert chips_at_the_table(state) + state.cashed_out == state.bought_in
        assert all(seat is None or seat.stack >= 0 for seat in state.seats)
        if isinstance(event, HandStarted):
            started = event
        elif isinstance(event, HandEnded):
            assert started is not None and started.hand == event.hand
            check_hand_result(started, event)
            ended += 1
    assert ended == game.final.hands_played
    if game.final.closed:  # every chip bought in was cashed out again
        assert game.final.seats == (None,) * game.config.max_seats
        assert game.final.cashed_out == game.final.bought_in


# Replay.


@GAMES
@given(games(record_views=True))
def test_folding_the_log_gives_the_live_state_and_the_same_views(game: Game) -> None:
    state = TableState()
    for step in game.steps:
        state = fold(step.events, state)
        assert state == step.after
        assert step.views is not None
        for viewer, live in step.views.items():
            assert view(state, viewer) == live
    assert fold(game.events) == game.final


@GAMES
@given(games())
def test_a_batch_spliced_from_shared_parts_is_the_codecs_text(game: Game) -> None:
    seq = 0
    for step in game.steps:
        stored = [
            StoredEvent(seq=seq + 1 + index, event=event, recorded_at=0)
            for index, event in enumerate(step.events)
        ]
        seq += len(stored)
        if not stored:
            continue
        # As the table publishes them, with the log's JSON of each event.
        logged = [
            attrs.evolve(
                event,
                payload=codec.compact_json(codec.unstructure_event(event.event)),
            )
            for event in stored
        ]
        public = view(step.after, None, proofs=False)
        texts = [BatchText(events, step.after, public) for events in (stored, logged)]
        for viewer in game.viewers:
            redact_for = redaction_for(step.after, viewer)
            messages = event_messages(stored, None, viewer, redact_for)
            messages[-1] = attrs.evolve(
                messages[-1], view=view(step.after, viewer, proofs=False)
            )
            expected = [codec.encode_message(message) for message in messages]
            for text in texts:
                assert text.messages(viewer, redact_for) == expected


@GAMES
@given(games())
def test_a_seats_view_built_from_the_spectators_is_its_whole_view(game: Game) -> None:
    for step in game.steps:
        public = view(step.after, None, proofs=False)
        for viewer in game.viewers:
            assert personal_view(public, step.after, viewer) == view(
                step.after, viewer, proofs=False
            )


@GAMES
@given(games(record_views=True), st.data())
def test_folding_the_tail_onto_a_snapshot_gives_the_live_state(
    game: Game, data: st.DataObject
) -> None:
    events = game.events
    cut = data.draw(st.integers(0, len(events)), label="events in the snapshot")
    stored = through_json(codec.unstructure(fold(events[:cut])))
    state = fold(events[cut:], codec.structure(stored, TableState))

    assert state == game.final
    live = game.steps[-1].views
    assert live is not None
    for viewer in game.viewers:
        assert view(state, viewer) == live[viewer]


# Secrecy.


class Secrets:
    """What no viewer may learn about the hand being (or last) played."""

    def __init__(self) -> None:
        self.secrets: list[str] = []
        self.started: HandStarted | None = None
        self.salts: tuple[str, ...] = ()
        self.public: set[str] = set()

    def start(self, started: HandStarted) -> None:
        self.started = started
        self.secrets.append(started.secret)
        self.salts = tuple(card_salt(started.secret, p) for p in range(52))
        self.public = set()

    def allowed(self, viewer: Viewer, *, own: bool) -> set[str]:
        """The cards `viewer` may see now: the board, shown cards, their own.

        `own` says whether the seat's current player was dealt this hand (a
        newcomer in a reused seat was not).
        """
        started = self.started
        if viewer is None or started is None or viewer not in started.seats or not own:
            return self.public
        return self.public | hole_cards(started, viewer)

    def check(self, text: str, viewer: Viewer, *, own: bool = True) -> None:
        assert '"deck"' not in text
        assert '"secret"' not in text
        assert not any(secret in text for secret in self.secrets)
        allowed = self.allowed(viewer, own=own)
        leaked = set(CARD.findall(text)) - allowed
        assert not leaked, f"viewer {viewer} sees {leaked} in {text}"
        if self.started is not None:
            hidden = {
                salt
                for salt, card in zip(self.salts, self.started.deck, strict=True)
                if card not in allowed
            }
            assert not hidden & set(SALT.findall(text))


def check_dealt(event: HandDealt, started: HandStarted, viewer: Viewer) -> None:
    """A seat dealt in gets its own two cards, with proofs; nobody else any."""
    if viewer is None or viewer not in started.seats:
        assert event.hole_cards == () and event.hole_proofs == ()
        return
    assert set(event.hole_cards) == hole_cards(started, viewer)
    assert [proof.card for proof in event.hole_proofs] == list(event.hole_cards)
    assert all(verify_card(event.commitment, proof) for proof in event.hole_proofs)


@GAMES
@given(games())
def test_no_viewer_ever_sees_a_card_it_may_not(game: Game) -> None:
    secrets = Secrets()
    state = TableState()
    for step in game.steps:
        for event in step.events:
            before, state = state, fold([event], state)
            if isinstance(event, HandStarted):
                secrets.start(event)
            elif isinstance(event, BoardDealt | HoleCardsShown):
                if isinstance(event, HoleCardsShown):
                    # Only at showdown: nobody is left to act.
                    assert before.hand is not None and before.hand.actor() is None
                    assert secrets.started is not None
                    assert set(event.cards) == hole_cards(secrets.started, event.seat)
                secrets.public |= set(event.cards)
            for viewer in game.viewers:
                public = redact(event, viewer)
                if isinstance(public, HandDealt):
                    assert isinstance(event, HandStarted)
                    check_dealt(public, event, viewer)
                text = json.dumps(codec.unstructure_event(public))
                secrets.check(text, viewer)
        assert state == step.after
        for viewer in game.viewers:
            table = view(state, viewer)
            own = viewer is not None and dealt_position(state, viewer) is not None
            secrets.check(json.dumps(codec.unstructure(table)), viewer, own=own)
            hand = state.hand
            if hand is not None and hand.in_progress and viewer in hand.started.seats:
                seat = table.seats[viewer]
                assert seat is not None
                assert set(seat.cards) == hole_cards(hand.started, viewer)


# The codec.


@GAMES
@given(games(record_views=True), st.data())
def test_events_and_states_come_back_whole_through_the_codec(
    game: Game, data: st.DataObject
) -> None:
    for event in game.events:
        stored = through_json(codec.unstructure_event(event))
        assert codec.structure_event(stored) == event
        for viewer in game.viewers if isinstance(event, HandStarted) else (None,):
            public = redact(event, viewer)
            sent = through_json(codec.unstructure_event(public))
            assert codec.structure_public_event(sent) == public
    restored = [
        codec.structure(through_json(codec.unstructure(step.after)), TableState)
        for step in game.steps
    ]
    assert restored == [step.after for step in game.steps]
    picks = data.draw(
        st.lists(st.integers(0, len(game.steps) - 1), max_size=4, unique=True),
        label="states whose views are compared",
    )
    for index in [*picks, len(game.steps) - 1]:
        live = game.steps[index].views
        assert live is not None
        for viewer in game.viewers:
            assert view(restored[index], viewer) == live[viewer]


# Numbers a browser holds.


def integers_in(data: Any) -> list[int]:
    """Every integer in plain JSON-ready data."""
    if isinstance(data, bool):
        return []
    if isinstance(data, int):
        return [data]
    if isinstance(data, dict):
        return [number for value in data.values() for number in integers_in(value)]
    if isinstance(data, list | tuple):
        return [number for value in data for number in integers_in(value)]
    return []


@GAMES
@given(games(record_views=True))
def test_every_number_a_client_gets_is_one_a_browser_holds_exactly(
    game: Game,
) -> None:
    # Tables near the chip limit included (strategies.table_configs), with
    # winners' stacks growing and others buying in against them.
    sent: list[int] = integers_in(codec.unstructure(game.config))
    for step in game.steps:
        assert step.views is not None
        for event in step.events:
            sent += integers_in(codec.unstructure_event(event))
        for seen in step.views.values():
            sent += integers_in(codec.unstructure(seen))
    for refused in game.refusals:
        for seen in refused.views_after.values():
            sent += integers_in(codec.unstructure(seen))
    assert max(map(abs, sent)) <= MAX_SAFE_INTEGER


# Purity.


@GAMES
@given(games(record_views=True), st.data())
def test_older_states_still_answer_for_their_own_events(
    game: Game, data: st.DataObject
) -> None:
    picks = data.draw(
        st.lists(st.integers(0, len(game.steps) - 1), min_size=1, max_size=6),
        label="older states revisited, in this order",
    )
    for index in picks:
        step = game.steps[index]
        assert step.views is not None
        once = fold(step.events, step.before)
        twice = fold(step.events, step.before)
        assert once == twice == step.after
        for viewer, live in step.views.items():
            assert view(step.after, viewer) == live
            assert view(once, viewer) == live
            assert view(twice, viewer) == live
    final = game.steps[-1].views
    assert final is not None
    for viewer in game.viewers:
        assert view(game.final, viewer) == final[viewer]
    for refusal in game.refusals:
        assert refusal.views_after == refusal.views_before
        for viewer in game.viewers:
            assert view(refusal.state, viewer) == refusal.views_before[viewer]


# The rules engine.


def test_the_installed_pokerkit_is_the_version_every_hand_records() -> None:
    assert "pokerkit " + importlib.metadata.version("pokerkit") == ENGINE


def test_a_newcomer_never_sees_the_last_occupants_unshown_cards() -> None:
    events: list[Event] = []
    state = TableState()
    commands: list[Command] = [
        CreateTable(config=TableConfig(max_seats=2)),
        SitDown(seat=0, name="ann", buy_in=100),
        SitDown(seat=1, name="bob", buy_in=100),
        start_hand(0, random.Random(1)),
        Leave(seat=0, now_ms=1),  # ann folds (away) when her turn comes
    ]
    for command in commands:
        new, state = handle(state, command)
        events += new
    if state.hand_in_progress:
        new, state = handle(state, Act(seat=1, action="call", now_ms=2))
        events += new
    assert state.hand is not None and not state.hand_in_progress
    started = state.hand.started
    assert not any(isinstance(event, HoleCardsShown) for event in events)

    _, state = handle(state, SitDown(seat=0, name="cy", buy_in=100))

    seat = view(state, 0).seats[0]
    assert seat is not None
    assert not set(seat.cards) & hole_cards(started, 0)
    assert not sat_before_hand(state, 0, started.hand), "ann's hand, not cy's"
    assert sat_before_hand(state, 0, started.hand + 1)
    assert sat_before_hand(state, 1, started.hand), "bob sat before it"
    assert not sat_before_hand(state, None, started.hand), "a spectator holds none"
