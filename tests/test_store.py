"""Tests of the durable event log: appends, conflicts, snapshots, hand histories.

Each runs on both backends (the `database` fixture) unless it is about one.
"""

from __future__ import annotations

import json
import random
import re
import sqlite3
import threading
import time
import tomllib
import uuid
from collections.abc import Iterator, Sequence
from contextlib import closing
from pathlib import Path
from typing import get_args

import attrs
import pokerkit
import pytest
import trio
import trio.testing
from databases import count_events, integrity_error, raw_connection, writes_held
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import Game, games

from pokerd.engine import (
    ENGINE,
    CloseTable,
    ComeBack,
    Command,
    CreateTable,
    Event,
    HandEnded,
    HandStarted,
    HoleCardsShown,
    Leave,
    PlayerLeft,
    PlayerSatOut,
    PlayerSeated,
    RuleError,
    SitDown,
    SitOut,
    TableConfig,
    TableCreated,
    TableState,
    TimeOut,
    TopUp,
    fold,
    handle,
    initial_state,
)
from pokerd.hands.history import hand_record, hand_row
from pokerd.ops.settings import Database
from pokerd.store import (
    SNAPSHOT_FORMAT,
    ConflictError,
    EventStore,
    ReadConnection,
    connect,
    hand_rows,
    last_seq,
    load_table,
    load_table_to_run,
    read_events,
    recent_requests,
    snapshot_rows,
    table_epoch,
    table_ids,
    tables_to_resume,
)
from pokerd.store.log import AppliedRequest, HandRow
from pokerd.store.postgres_log import PIPELINED_ROWS
from pokerd.store.records import AppendTimes
from pokerd.store.sqlite_log import SqliteBackend
from pokerd.tables.dealer import random_action, start_hand
from pokerd.wire import codec

# A game played through handle, as a shell plays it.


@attrs.frozen
class Step:
    """One accepted command: its events and the table after them."""

    events: tuple[Event, ...]
    after: TableState


def play(seed: int, hands: int = 6) -> list[Step]:
    """A seeded game of random actions, with a sit-out, a timeout, a leave in
    the middle of a hand, busted players topping up, newcomers, and the
    table closed during its last hand."""
    rng = random.Random(seed)
    state, steps, now = initial_state(), [], 0

    def run(command: Command | None) -> bool:
        nonlocal state
        assert command is not None
        try:
            events, state = handle(state, command)
        except RuleError:  # an aside the table does not allow just now
            return False
        steps.append(Step(tuple(events), state))
        return True

    config = TableConfig(max_seats=6, min_buy_in=20, timeouts_before_sit_out=1)
    run(CreateTable(config=config))
    for seat in range(4):
        run(SitDown(seat=seat, name=f"p{seat}", buy_in=rng.choice([20, 100])))
    for number in range(hands):
        now += 1_000
        for seat, occupant in enumerate(state.seats):
            if occupant is None:
                run(SitDown(seat=seat, name=f"n{number}.{seat}", buy_in=100))
            elif occupant.stack == 0:
                run(TopUp(seat=seat, amount=100))
                run(ComeBack(seat=seat))
            elif occupant.sitting_out:
                run(ComeBack(seat=seat))
        if number == 1:
            run(SitOut(seat=rng.randrange(4)))
        if not run(start_hand(now, rng)):
            continue
        turns = 0
        while state.hand is not None and state.hand.turn is not None:
            turn, turns, now = state.hand.turn, turns + 1, now + 1
            if (number, turns) == (2, 2):
                run(TimeOut(hand=turn.hand, seat=turn.seat, now_ms=turn.deadline_ms))
            elif (number, turns) == (3, 2):
                run(Leave(seat=turn.seat, now_ms=now))
            elif (number, turns) == (hands - 1, 1):
                run(CloseTable())
            else:
                run(random_action(state, rng, now))
    return steps


GAME = play(2)
EVENTS = [event for step in GAME for event in step.events]
FULL = fold(EVENTS)


def test_the_game_has_every_kind_of_event_and_several_hands() -> None:
    # Guards the tests below against a game that stopped varying.
    assert {type(event) for event in EVENTS} == set(get_args(Event))
    assert FULL.hands_played >= 5
    assert not FULL.hand_in_progress
    assert fold(EVENTS) == GAME[-1].after


def record(step: Step) -> HandRow | None:
    """The record a shell passes with the append that ends a hand."""
    if not any(isinstance(event, HandEnded) for event in step.events):
        return None
    assert step.after.hand is not None
    return hand_row(step.after.hand)


def append_game(
    store: EventStore,
    table_id: str,
    steps: Sequence[Step],
    *,
    snapshot_at: Sequence[int] = (),
    hands: bool = True,
) -> int:
    """Append each step as a shell does; snapshots after the steps at the
    indexes given. Returns the last seq."""
    seq = 0
    for index, step in enumerate(steps):
        store.append_blocking(
            table_id,
            seq + 1,
            step.events,
            snapshot=step.after if index in snapshot_at else None,
            hand=record(step) if hands else None,
            now_ms=1_000 * index,
        )
        seq += len(step.events)
    return seq


def last_seqs() -> list[int]:
    """The seq of the last event of each step of GAME."""
    ends, seq = [], 0
    for step in GAME:
        seq += len(step.events)
        ends.append(seq)
    return ends


def seated(name: str) -> tuple[Event, ...]:
    return (PlayerSeated(seat=5, name=name, stack=100),)


@pytest.fixture
def store(database: Database) -> Iterator[EventStore]:
    with EventStore(database) as store:
        yield store


# Appending.


def test_appends_get_seqs_one_two_three_without_gaps_per_table(
    store: EventStore,
) -> None:
    # Two tables' appends interleaved: each table counts from 1 on its own.
    seqs = {"a": 0, "b": 0}
    for index, step in enumerate(GAME):
        for table_id in ("a", "b") if index < 30 else ("a",):
            store.append_blocking(table_id, seqs[table_id] + 1, step.events)
            seqs[table_id] += len(step.events)
    reader = store.reader()
    assert table_ids(reader) == ["a", "b"]
    assert [s.seq for s in read_events(reader, "a")] == list(range(1, len(EVENTS) + 1))
    assert last_seq(reader, "a") == len(EVENTS)
    events_b = [event for step in GAME[:30] for event in step.events]
    assert [s.seq for s in read_events(reader, "b")] == list(
        range(1, len(events_b) + 1)
    )
    assert last_seq(reader, "nobody") == 0
    epochs = {table_epoch(reader, "a"), table_epoch(reader, "b")}
    assert len(epochs) == 2 and None not in epochs
    assert table_epoch(reader, "nobody") is None


def test_every_event_comes_back_equal_from_the_store(store: EventStore) -> None:
    end = append_game(store, "t", GAME)
    assert end == len(EVENTS)
    stored = read_events(store.reader(), "t")
    assert [s.event for s in stored] == EVENTS
    # recorded_at is the now_ms of the append that wrote the event.
    expected_at = [1_000 * i for i, step in enumerate(GAME) for _ in step.events]
    assert [s.recorded_at for s in stored] == expected_at
    # And so they do for another process, after the store is closed.
    store.close()
    with closing(raw_connection(store.database)) as connection:
        assert [s.event for s in read_events(connection, "t")] == EVENTS


def test_reading_a_window_of_the_log(store: EventStore) -> None:
    append_game(store, "t", GAME[:20])
    reader = store.reader()
    assert [s.seq for s in read_events(reader, "t", after=3, upto=7)] == [4, 5, 6, 7]
    assert [s.seq for s in read_events(reader, "t", after=3, limit=2)] == [4, 5]
    assert read_events(reader, "t", after=3, limit=0) == []
    assert [s.event for s in read_events(reader, "t", upto=2)] == EVENTS[:2]
    assert read_events(reader, "nobody") == []


async def test_reads_keep_their_connections_when_worker_threads_come_and_go(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # trio retires a worker thread idle for 10 s and starts another when
    # needed: a read connection per thread was a new connection each time,
    # never closed, until PostgreSQL refused clients ("too many clients
    # already", seen under load with two nodes). Here threads retire at once.
    append_game(store, "t", GAME[:3])
    monkeypatch.setattr(trio._core._thread_cache, "IDLE_TIMEOUT", 0.001)
    threads: list[threading.Thread] = []

    def read(reader: ReadConnection) -> int:
        if threading.current_thread() not in threads:
            threads.append(threading.current_thread())
        return len(read_events(reader, "t"))

    with trio.fail_after(30):
        while len(threads) < 4:
            assert await store.read(read) == 3
            await trio.sleep(0.02)  # the worker thread retires meanwhile
    assert store.read_connections == 1


def test_the_request_an_append_answers_is_kept_and_read_back(
    store: EventStore,
) -> None:
    end = append_game(store, "t", GAME[:10])
    first, second = GAME[10].events, GAME[11].events
    sent = AppliedRequest("hash1", "id with spaces", "digest1")
    store.append_blocking("t", end + 1, first, request=sent)
    end += len(first)
    store.append_blocking("t", end + 1, second)  # a timer's, say: no request
    reader = store.reader()

    # On the append's last event, with that event's seq (its ack's).
    at_end = attrs.evolve(sent, seq=end)
    assert recent_requests(reader, "t", end + len(second)) == [at_end]
    loaded = load_table_to_run(reader, "t")
    assert loaded is not None and loaded.requests == (at_end,)
    # Only the last `events` events are read back; the events are unchanged.
    assert recent_requests(reader, "t", end + len(second), events=len(second)) == []
    assert [s.event for s in read_events(reader, "t")] == EVENTS[: end + len(second)]
    with closing(raw_connection(store.database)) as connection:
        rows = connection.execute(
            "SELECT seq FROM events WHERE table_id = ? AND request IS NOT NULL",
            ("t",),
        ).fetchall()
    assert [row[0] for row in rows] == [end]


def test_an_append_beyond_the_end_of_the_log_is_a_conflict(store: EventStore) -> None:
    end = append_game(store, "t", GAME[:5])
    for first_seq in (end + 2, end + 100, end, 1, 0):
        with pytest.raises(ConflictError):
            store.append_blocking("t", first_seq, seated("x"))
    assert last_seq(store.reader(), "t") == end
    assert [s.event for s in read_events(store.reader(), "t")] == EVENTS[:end]
    # A table's first append must start at 1.
    with pytest.raises(ConflictError):
        store.append_blocking("new", 2, seated("x"))
    assert "new" not in table_ids(store.reader())
    # And the right seq is still taken.
    store.append_blocking("t", end + 1, seated("x"))
    assert last_seq(store.reader(), "t") == end + 1
    assert store.statistics().conflicts == 6


async def append_together(
    store: EventStore, requests: Sequence[tuple[str, int, tuple[Event, ...]]]
) -> list[ConflictError | None]:
    """Queue the appends in order while another connection holds the write
    lock, then let go: the writer finds them all waiting (but the first, which
    it may have taken alone). Returns each append's conflict, if any."""
    outcomes: list[ConflictError | None] = [None] * len(requests)

    async def append(index: int) -> None:
        table_id, first_seq, events = requests[index]
        try:
            await store.append(table_id, first_seq, events)
        except ConflictError as error:
            outcomes[index] = error

    tables = {table_id for table_id, _, _ in requests}
    before = {table_id: count_events(store.database, table_id) for table_id in tables}
    with writes_held(store.database) as release:
        async with trio.open_nursery() as nursery:
            try:
                for index in range(len(requests)):
                    # One at a time, so the queue keeps the order given.
                    nursery.start_soon(append, index)
                    await trio.testing.wait_all_tasks_blocked()
                # All queued, none committed.
                assert outcomes == [None] * len(requests)
                assert {t: count_events(store.database, t) for t in tables} == before
            finally:
                release()
    return outcomes


async def test_of_two_appends_at_the_same_seq_one_wins_and_the_log_has_no_fork(
    store: EventStore,
) -> None:
    end = append_game(store, "t", GAME[:5])
    outcomes = await append_together(
        store, [("t", end + 1, seated("alice")), ("t", end + 1, seated("bob"))]
    )
    assert outcomes[0] is None
    assert isinstance(outcomes[1], ConflictError)
    stored = read_events(store.reader(), "t")
    assert [s.seq for s in stored] == list(range(1, end + 2))
    assert stored[-1].event == seated("alice")[0]


async def test_two_stores_on_one_database_cannot_fork_a_tables_log(
    database: Database,
) -> None:
    outcomes: dict[str, ConflictError | None] = {}
    with EventStore(database) as first, EventStore(database, claim=False) as second:
        end = append_game(first, "t", GAME[:5])

        async def append(store: EventStore, name: str) -> None:
            try:
                await store.append("t", end + 1, seated(name))
                outcomes[name] = None
            except ConflictError as error:
                outcomes[name] = error

        async with trio.open_nursery() as nursery:
            nursery.start_soon(append, first, "alice")
            nursery.start_soon(append, second, "bob")
        winners = [name for name, outcome in outcomes.items() if outcome is None]
        assert len(winners) == 1
        (loser,) = set(outcomes) - set(winners)
        assert isinstance(outcomes[loser], ConflictError)
        for store in (first, second):
            stored = read_events(store.reader(), "t")
            assert [s.seq for s in stored] == list(range(1, end + 2))
            assert stored[-1].event == seated(winners[0])[0]


async def test_a_conflict_in_a_batch_loses_no_other_tables_events(
    store: EventStore,
) -> None:
    end = append_game(store, "busy", GAME[:5])
    before = store.statistics()
    requests = [(f"t{i}", 1, GAME[0].events) for i in range(12)]
    requests[6:6] = [
        ("busy", end, seated("late")),  # the seq is taken: a conflict
        ("busy", end + 1, seated("on time")),
    ]
    outcomes = await append_together(store, requests)
    assert [i for i, outcome in enumerate(outcomes) if outcome is not None] == [6]
    reader = store.reader()
    for i in range(12):
        assert [s.event for s in read_events(reader, f"t{i}")] == list(GAME[0].events)
    busy = read_events(reader, "busy")
    assert [s.seq for s in busy] == list(range(1, end + 2))
    assert busy[-1].event == seated("on time")[0]
    after = store.statistics()
    # The conflict shared a transaction with other appends: at most two here.
    assert after.transactions - before.transactions <= 2
    assert (after.appends - before.appends, after.conflicts) == (13, 1)


async def test_concurrent_appends_are_committed_together(store: EventStore) -> None:
    outcomes = await append_together(
        store, [(f"t{i}", 1, GAME[0].events) for i in range(20)]
    )
    assert outcomes == [None] * 20
    statistics = store.statistics()
    assert statistics.appends == 20
    assert statistics.transactions < statistics.appends
    # Queued behind the lock, they reach the writer in at most two batches.
    assert statistics.transactions <= 2
    assert statistics.largest_batch >= 10
    assert statistics.events == 20 * len(GAME[0].events)


async def test_each_append_reports_where_its_wait_went(database: Database) -> None:
    # The server's metrics split the append latency in three: the benchmark
    # finds there whether a slow append waited for the writer, for the
    # database or for the event loop.
    reports: list[AppendTimes] = []
    with EventStore(database, on_append=reports.append) as store:
        began = time.perf_counter()
        outcomes = await append_together(
            store, [(f"t{i}", 1, GAME[0].events) for i in range(5)]
        )
        took = time.perf_counter() - began
    assert outcomes == [None] * 5
    assert [report.events for report in reports] == [len(GAME[0].events)] * 5
    for report in reports:
        assert min(report.queued, report.commit, report.wake) >= 0
        assert report.commit > 0  # a commit takes some time, on either database
        assert report.total <= took


async def test_without_group_commit_each_append_is_its_own_transaction(
    database: Database,
) -> None:
    with EventStore(database, group_commit=False) as store:
        outcomes = await append_together(
            store, [(f"t{i}", 1, GAME[0].events) for i in range(20)]
        )
        assert outcomes == [None] * 20
        statistics = store.statistics()
        assert (statistics.transactions, statistics.appends) == (20, 20)
        assert statistics.largest_batch == 1
        assert table_ids(store.reader()) == sorted(f"t{i}" for i in range(20))


async def test_an_append_is_on_disk_when_it_returns(store: EventStore) -> None:
    seq = 0
    for step in GAME[:40]:
        await store.append("t", seq + 1, step.events)
        seq += len(step.events)
        assert count_events(store.database, "t") == seq
    store.append_blocking("t", seq + 1, GAME[40].events)
    assert count_events(store.database, "t") == seq + len(GAME[40].events)


async def test_an_append_whose_caller_is_cancelled_still_lands(
    store: EventStore,
) -> None:
    returned = []

    async def append() -> None:
        await store.append("t", 1, GAME[0].events)
        returned.append(True)
        await trio.lowlevel.checkpoint()  # where the cancellation arrives
        returned.append(False)

    # The writer cannot commit until the writes are let go.
    with writes_held(store.database) as release:
        async with trio.open_nursery() as nursery:
            try:
                nursery.start_soon(append)
                await trio.testing.wait_all_tasks_blocked()
                nursery.cancel_scope.cancel()
                assert count_events(store.database, "t") == 0
            finally:
                release()
    assert nursery.cancel_scope.cancelled_caught
    assert returned == [True]
    assert count_events(store.database, "t") == len(GAME[0].events)
    stored = read_events(store.reader(), "t")
    assert [s.event for s in stored] == list(GAME[0].events)


def test_a_failing_append_fails_alone_and_the_writer_carries_on(
    store: EventStore,
) -> None:
    index = next(i for i, step in enumerate(GAME) if record(step) is not None)
    step, hand = GAME[index], record(GAME[index])
    # A record without its hand_ended is refused before it reaches the writer.
    with pytest.raises(ValueError, match="hand_ended"):
        store.append_blocking("t", 1, GAME[0].events, hand=hand)
    # A log with a hand_ended but no hand_started: its hands row cannot be
    # written, so the append fails whole (the writer must not die of it).
    ending = tuple(e for e in step.events if isinstance(e, HandEnded))
    with pytest.raises(ValueError, match="hand_started"):
        store.append_blocking("u", 1, ending, hand=hand)
    assert table_ids(store.reader()) == []
    assert hand_rows(store.reader(), "u") == []
    append_game(store, "u", GAME[:3])
    assert [s.event for s in read_events(store.reader(), "u")] == [
        event for step in GAME[:3] for event in step.events
    ]


# What the database itself refuses.


def test_the_database_refuses_to_update_or_delete_an_event(
    store: EventStore,
) -> None:
    append_game(store, "t", GAME[:5])
    refused = integrity_error(store.database)
    with closing(raw_connection(store.database)) as connection:
        rows = connection.execute("SELECT * FROM events ORDER BY seq").fetchall()
        with pytest.raises(refused, match="never updated"):
            connection.execute("UPDATE events SET payload = '{}' WHERE seq = 2")
        with pytest.raises(refused, match="never updated"):
            connection.execute("UPDATE events SET seq = seq + 100")
        with pytest.raises(refused, match="never deleted"):
            connection.execute("DELETE FROM events WHERE seq = 5")
        with pytest.raises(refused, match="never deleted"):
            connection.execute("DELETE FROM events")
        assert (
            connection.execute("SELECT * FROM events ORDER BY seq").fetchall() == rows
        )


def test_the_database_refuses_an_inserted_gap_or_a_taken_seq(
    store: EventStore,
) -> None:
    end = append_game(store, "t", GAME[:5])
    insert = (
        "INSERT INTO events (table_id, seq, type, payload, recorded_at)"
        " VALUES ('t', ?, 'player_seated', ?, 0)"
    )
    payload = json.dumps(codec.unstructure_event(seated("x")[0]))
    refused = integrity_error(store.database)
    with closing(raw_connection(store.database)) as connection:
        for seq in (end + 2, end + 50):
            with pytest.raises(refused, match="seq conflict"):
                connection.execute(insert, (seq, payload))
        for seq in (end, 1):
            with pytest.raises(refused):
                connection.execute(insert, (seq, payload))
        # The next seq is accepted: the trigger refuses only what it should.
        connection.execute(insert, (end + 1, payload))
    assert [s.seq for s in read_events(store.reader(), "t")] == list(range(1, end + 2))


# Snapshots and loading a table.


def test_loading_a_table_without_snapshots_folds_every_event(
    store: EventStore,
) -> None:
    append_game(store, "t", GAME, hands=False)
    loaded = load_table(store.reader(), "t")
    assert loaded is not None
    assert loaded.state == FULL
    assert (loaded.table_id, loaded.seq, loaded.snapshot_seq) == ("t", len(EVENTS), 0)
    assert loaded.epoch == table_epoch(store.reader(), "t")
    assert load_table(store.reader(), "nobody") is None


@pytest.mark.parametrize("index", [0, len(GAME) // 3, len(GAME) // 2, len(GAME) - 1])
def test_loading_starts_from_the_newest_snapshot(store: EventStore, index: int) -> None:
    append_game(store, "t", GAME, snapshot_at=[1, index])
    loaded = load_table(store.reader(), "t")
    assert loaded is not None
    assert loaded.snapshot_seq == last_seqs()[max(1, index)]
    assert loaded.state == FULL
    assert loaded.seq == len(EVENTS)


def test_the_tail_is_folded_onto_the_snapshot_not_replayed_from_the_start(
    store: EventStore,
) -> None:
    # A snapshot marked so that a load which used it can be told apart.
    middle = len(GAME) // 2
    seq = append_game(store, "t", GAME[:middle])
    for step in GAME[middle:]:
        marked = attrs.evolve(step.after, cashed_out=1_000_000)
        snapshot = marked if step is GAME[middle] else None
        store.append_blocking("t", seq + 1, step.events, snapshot=snapshot)
        seq += len(step.events)
    loaded = load_table(store.reader(), "t")
    assert loaded is not None
    assert loaded.snapshot_seq == last_seqs()[middle]
    assert loaded.seq == seq == len(EVENTS)
    cashed_out_in_tail = FULL.cashed_out - GAME[middle].after.cashed_out
    assert cashed_out_in_tail > 0
    assert loaded.state.cashed_out == 1_000_000 + cashed_out_in_tail
    assert attrs.evolve(loaded.state, cashed_out=FULL.cashed_out) == FULL


def insert_snapshot(database: Database, seq: int, form: int, text: str) -> None:
    with closing(raw_connection(database)) as connection:
        connection.execute(
            "INSERT INTO snapshots (table_id, seq, format, state)"
            " VALUES ('t', ?, ?, ?)",
            (seq, form, text),
        )


def marked_snapshot(index: int) -> str:
    """The state after GAME[index], with chips no game would cash out."""
    marked = attrs.evolve(GAME[index].after, cashed_out=1_000_000)
    return json.dumps(codec.unstructure(marked))


def test_a_snapshot_in_another_format_is_ignored(store: EventStore) -> None:
    append_game(store, "t", GAME)
    index = len(GAME) // 2
    insert_snapshot(
        store.database, last_seqs()[index], SNAPSHOT_FORMAT + 1, marked_snapshot(index)
    )
    loaded = load_table(store.reader(), "t")
    assert loaded is not None
    assert (loaded.snapshot_seq, loaded.seq) == (0, len(EVENTS))
    assert loaded.state == FULL


UNDECODABLE = [
    "{not json",
    "",
    "null",
    "[]",
    '"a state"',
    '{"seats": "none"}',
    '{"config": {"max_seats": "six"}}',
    '{"hand": {"started": 1}}',
    '{"hands_played": 3, "surprise": true}',
]


@pytest.mark.parametrize("text", UNDECODABLE)
def test_a_snapshot_that_does_not_decode_is_ignored(
    store: EventStore, text: str
) -> None:
    append_game(store, "t", GAME)
    insert_snapshot(store.database, last_seqs()[len(GAME) // 2], SNAPSHOT_FORMAT, text)
    loaded = load_table(store.reader(), "t")
    assert loaded is not None
    assert (loaded.snapshot_seq, loaded.seq) == (0, len(EVENTS))
    assert loaded.state == FULL


def test_loading_falls_back_to_an_older_snapshot_that_decodes(
    store: EventStore,
) -> None:
    older, newer, newest = len(GAME) // 4, len(GAME) // 2, 3 * len(GAME) // 4
    append_game(store, "t", GAME, snapshot_at=[older])
    insert_snapshot(store.database, last_seqs()[newer], SNAPSHOT_FORMAT, "{not json")
    insert_snapshot(
        store.database,
        last_seqs()[newest],
        SNAPSHOT_FORMAT + 1,
        marked_snapshot(newest),
    )
    loaded = load_table(store.reader(), "t")
    assert loaded is not None
    assert loaded.snapshot_seq == last_seqs()[older]
    assert loaded.state == FULL
    assert [seq for seq, _, _ in snapshot_rows(store.reader(), "t")] == [
        last_seqs()[i] for i in (older, newer, newest)
    ]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        # One database for every example: each plays a table of its own.
        HealthCheck.function_scoped_fixture,
    ],
)
@given(game=games(max_hands=3), data=st.data())
def test_a_snapshot_plus_the_tail_is_the_full_replay(
    database: Database, game: Game, data: st.DataObject
) -> None:
    cut = data.draw(st.integers(0, len(game.steps) - 1), label="snapshot after step")
    steps = [Step(step.events, step.after) for step in game.steps]
    table_id = uuid.uuid4().hex
    with EventStore(database, synchronous="NORMAL") as store:
        end = append_game(store, table_id, steps, snapshot_at=[cut])
        loaded = load_table(store.reader(), table_id)
    assert loaded is not None
    assert loaded.snapshot_seq == sum(len(step.events) for step in steps[: cut + 1])
    assert loaded.seq == end == len(game.events)
    assert loaded.state == fold(game.events) == game.final


# Hand histories.

CARD = re.compile(r"[2-9TJQKA][cdhs]")


def phh_cards(phh: str) -> set[str]:
    """Every card the PHH's actions name: dealt, shown or on the board."""
    actions: list[str] = tomllib.loads(phh)["actions"]
    return {card for action in actions for card in CARD.findall(action.split()[-1])}


def dealt(started: HandStarted, seat: int) -> list[str]:
    """The hole cards of `seat`, straight from the deck's dealing order."""
    players, position = len(started.seats), started.seats.index(seat)
    return [started.deck[position], started.deck[players + position]]


def test_the_append_that_ends_a_hand_writes_its_history_row(
    store: EventStore,
) -> None:
    ending = [i for i, step in enumerate(GAME) if record(step) is not None]
    append_game(store, "t", GAME, snapshot_at=ending)
    rows = hand_rows(store.reader(), "t")
    seq_of = {
        (type(event), getattr(event, "hand", None)): seq
        for seq, event in enumerate(EVENTS, start=1)
        if isinstance(event, HandStarted | HandEnded)
    }
    assert [row["hand"] for row in rows] == list(range(1, FULL.hands_played + 1))
    assert len(rows) == len(ending)
    shown_somewhere = hidden_somewhere = False
    for row, index in zip(rows, ending, strict=True):
        hand = GAME[index].after.hand
        assert hand is not None and hand.ended is not None
        started, ended = hand.started, hand.ended
        assert row["first_seq"] == seq_of[HandStarted, started.hand]
        assert row["last_seq"] == seq_of[HandEnded, started.hand]
        assert EVENTS[row["last_seq"] - 1] == ended
        assert (row["started_at"], row["ended_at"]) == (
            started.started_at,
            ended.ended_at,
        )
        assert row["engine"] == ENGINE == started.engine
        summary = row["summary"]
        expected = codec.unstructure(hand_record(hand).summary)
        assert summary == json.loads(json.dumps(expected))
        assert [s["seat"] for s in summary["seats"]] == list(started.seats)
        assert sum(s["net"] for s in summary["seats"]) == 0
        assert row["hole_cards"] == {
            str(seat): dealt(started, seat) for seat in started.seats
        }
        # The PHH is what a spectator may see, and PokerKit plays it out.
        final = list(pokerkit.HandHistory.loads(row["phh"]))[-1]
        assert tuple(final.stacks) == ended.stacks
        shown = {s.seat for s in hand.steps if isinstance(s, HoleCardsShown)}
        cards = phh_cards(row["phh"])
        actions = tomllib.loads(row["phh"])["actions"]
        for position, seat in enumerate(started.seats):
            if seat in shown:
                shown_somewhere = True
                assert set(dealt(started, seat)) <= cards
            else:
                hidden_somewhere = True
                assert not set(dealt(started, seat)) & cards
                assert f"d dh p{position + 1} ????" in actions
        # The snapshot went with it, at the end of that append.
        snapshots = {seq for seq, _, _ in snapshot_rows(store.reader(), "t")}
        assert last_seqs()[index] in snapshots
    assert shown_somewhere and hidden_somewhere
    assert hand_rows(store.reader(), "t", hand=2) == [rows[1]]


def test_a_hand_ending_append_that_conflicts_writes_no_row_and_no_snapshot(
    store: EventStore,
) -> None:
    index = next(i for i, step in enumerate(GAME) if record(step) is not None)
    step, hand = GAME[index], record(GAME[index])
    end = append_game(store, "t", GAME[:index])
    # Another writer got there first.
    store.append_blocking("t", end + 1, (PlayerSatOut(seat=0, reason="requested"),))
    for first_seq in (end + 1, end + 3, 1):
        with pytest.raises(ConflictError):
            store.append_blocking(
                "t", first_seq, step.events, snapshot=step.after, hand=hand
            )
    reader = store.reader()
    assert hand_rows(reader, "t") == []
    assert snapshot_rows(reader, "t") == []
    assert last_seq(reader, "t") == end + 1


# SQLite's durability setting.


def pragma(connection: ReadConnection, name: str) -> object:
    return connection.execute(f"PRAGMA {name}").fetchone()[0]


def writer_of(store: EventStore) -> sqlite3.Connection:
    backend = store._backend
    assert isinstance(backend, SqliteBackend)
    return backend.writer


def test_synchronous_is_full_by_default_and_the_journal_is_wal(
    tmp_path: Path,
) -> None:
    with EventStore(tmp_path / "pokerd.db") as store:
        assert pragma(writer_of(store), "synchronous") == 2
        assert pragma(store.reader(), "synchronous") == 2
    with closing(sqlite3.connect(store.path)) as connection:
        assert pragma(connection, "journal_mode") == "wal"


def test_synchronous_normal_is_applied(tmp_path: Path) -> None:
    with EventStore(tmp_path / "pokerd.db", synchronous="NORMAL") as store:
        assert pragma(writer_of(store), "synchronous") == 1
        assert pragma(store.reader(), "synchronous") == 1
        assert pragma(store.reader(), "journal_mode") == "wal"
    with closing(connect(tmp_path / "pokerd.db", synchronous="NORMAL")) as connection:
        assert pragma(connection, "synchronous") == 1
    with closing(connect(tmp_path / "pokerd.db")) as connection:
        assert pragma(connection, "synchronous") == 2


def test_the_store_reopens_with_the_same_tables_and_epochs(database: Database) -> None:
    with EventStore(database) as store:
        append_game(store, "t", GAME[:10])
        epoch = table_epoch(store.reader(), "t")
    with EventStore(database) as store:
        loaded = load_table(store.reader(), "t")
        assert loaded is not None
        assert loaded.epoch == epoch
        assert loaded.state == GAME[9].after
        # The table goes on where it stopped.
        store.append_blocking("t", loaded.seq + 1, GAME[10].events)
        assert last_seq(store.reader(), "t") == loaded.seq + len(GAME[10].events)


# Recovery at start.


def test_tables_with_players_or_a_hand_unfinished_are_the_ones_to_resume(
    store: EventStore,
) -> None:
    config = TableConfig(max_seats=2)
    created = (TableCreated(config=config),)
    store.append_blocking("empty", 1, created)
    store.append_blocking("seated", 1, (*created, *seated_at(0, "ann")))
    store.append_blocking(
        "everyone-left",
        1,
        (*created, *seated_at(0, "bo"), PlayerLeft(seat=0, name="bo", stack=100)),
    )
    mid_hand = play(seed=3, hands=1)
    unfinished = next(i for i, s in enumerate(mid_hand) if s.after.hand_in_progress)
    append_game(store, "mid-hand", mid_hand[: unfinished + 1])

    resumed = {loaded.table_id: loaded for loaded in tables_to_resume(store.reader())}

    assert sorted(resumed) == ["mid-hand", "seated"]
    assert resumed["mid-hand"].state.hand_in_progress
    assert resumed["mid-hand"].state == mid_hand[unfinished].after


def seated_at(seat: int, name: str) -> tuple[Event, ...]:
    return (PlayerSeated(seat=seat, name=name, stack=100),)


# PostgreSQL's batch writer.


@pytest.mark.parametrize("events", [1, PIPELINED_ROWS + 1], ids=["pipelined", "copied"])
def test_a_race_past_the_checks_falls_on_the_append_that_lost_it(
    postgres_url: str, events: int
) -> None:
    # Two unfenced stores both read that the log ends at `end`, and both
    # write end + 1: the database refuses the second, whose batch is then
    # written again one append at a time, so the refusal is its own. A small
    # batch's events go in pipelined INSERTs, a large one's by COPY.
    outcomes: dict[str, BaseException | None] = {}
    with EventStore(postgres_url) as first, EventStore(postgres_url) as second:
        end = append_game(first, "t", GAME[:5])

        def append(store: EventStore, name: str) -> None:
            try:
                store.append_blocking("t", end + 1, seated(name) * events)
                outcomes[name] = None
            except ConflictError as error:
                outcomes[name] = error

        threads = [
            threading.Thread(target=append, args=(store, name))
            for store, name in ((first, "alice"), (second, "bob"))
        ]
        with writes_held(postgres_url) as release:
            for thread in threads:
                thread.start()
            wait_for_writes(postgres_url, 2)  # both past their checks
            release()
            for thread in threads:
                thread.join(30)
        losers = [name for name, outcome in outcomes.items() if outcome is not None]
        assert len(outcomes) == 2 and len(losers) == 1
        assert "the log does not end at seq" in str(outcomes[losers[0]])
        stored = read_events(first.reader(), "t")
        assert [s.seq for s in stored] == list(range(1, end + 1 + events))
        assert stored[-1].event != seated(losers[0])[0]


def wait_for_writes(url: str, count: int) -> None:
    """Return once `count` connections wait on a lock writing events (by
    INSERT or by COPY)."""
    with closing(raw_connection(url)) as connection:
        for _ in range(3000):
            row = connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND (query LIKE 'COPY events%' OR query LIKE 'INSERT INTO events%')"
            ).fetchone()
            if row[0] >= count:
                return
            time.sleep(0.01)
    raise AssertionError(f"not {count} appends waiting in their writes")
