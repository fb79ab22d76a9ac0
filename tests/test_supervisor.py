"""The supervisor: tables resume from the log, fail alone, restart or stop.

Trio's clock is a MockClock standing still, and every table's millisecond
clock is read from it: no action clock or next-hand timer fires unless a test
jumps the clock. Waiting for the log writer's thread happens in real time.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import attrs
import pytest
import trio
import trio.testing

from pokerd.engine import (
    ActionTaken,
    Command,
    CreateTable,
    Event,
    HandStarted,
    RuleError,
    SitDown,
    StartHand,
    TableConfig,
    TableState,
    handle,
)
from pokerd.store import ConflictError, EventStore, StoredEvent, load_table, read_events
from pokerd.tables.dealer import start_hand
from pokerd.tables.supervisor import (
    MAX_RESTARTS_IN_WINDOW,
    StoppedTable,
    Supervisor,
    TableStoppedError,
)
from pokerd.tables.table import Table, TableClosedError

EPOCH_MS = 1_800_000_000_000
CLOCK_S = 5
CONFIG = TableConfig(max_seats=6, action_clock_ms=CLOCK_S * 1000)
POISONED = TableConfig(max_seats=9, action_clock_ms=CLOCK_S * 1000)
"""Tables with this config meet the engine bug of the stop test."""


def clock_ms() -> int:
    """The tables' wall clock, read from trio's (mock) clock."""
    return EPOCH_MS + int(trio.current_time() * 1000)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EventStore]:
    with EventStore(tmp_path / "log.db") as opened:
        yield opened


class Recorder:
    """A publisher that remembers what it was told, and can be made to fail."""

    def __init__(self) -> None:
        self.events: dict[str, list[StoredEvent]] = {}
        self.break_on_next_deal: set[str] = set()
        self.break_always: set[str] = set()

    def __call__(
        self, table_id: str, events: Sequence[StoredEvent], _: TableState
    ) -> None:
        self.events.setdefault(table_id, []).extend(events)
        if table_id in self.break_always:
            raise RuntimeError("publish always breaks")
        if table_id in self.break_on_next_deal and any(
            isinstance(stored.event, HandStarted) for stored in events
        ):
            self.break_on_next_deal.discard(table_id)
            raise RuntimeError("publish broke")

    def of(self, table_id: str, kind: type[object] = object) -> list[StoredEvent]:
        return [s for s in self.events.get(table_id, []) if isinstance(s.event, kind)]

    def last_seq(self, table_id: str) -> int:
        return max((s.seq for s in self.events.get(table_id, [])), default=0)


async def table_in_log(
    store: EventStore,
    table_id: str,
    *,
    players: int,
    deal: bool = False,
    config: TableConfig = CONFIG,
) -> Table:
    """Write a table to the log as an earlier server would have (not run)."""
    table = Table(table_id, store, clock=clock_ms)
    await table.execute(CreateTable(config=config))
    for seat in range(players):
        await table.execute(SitDown(seat=seat, name=f"p{seat}", buy_in=100))
    if deal:
        await table.execute(start_hand(clock_ms(), random.Random(table_id)))
    return table


@asynccontextmanager
async def running(supervisor: Supervisor) -> AsyncIterator[Supervisor]:
    async with trio.open_nursery() as nursery:
        await nursery.start(supervisor.run)
        yield supervisor
        nursery.cancel_scope.cancel()


def supervisor_for(store: EventStore, recorder: Recorder) -> Supervisor:
    return Supervisor(store, publish=recorder, clock=clock_ms, next_hand_delay_ms=1)


async def eventually(predicate: Callable[[], bool]) -> None:
    """Wait until `predicate` holds; the mock clock stands still meanwhile."""
    for _ in range(5_000):
        if predicate():
            return
        await trio.to_thread.run_sync(time.sleep, 0.002)
    raise AssertionError("the condition never held")


def live(supervisor: Supervisor, table_id: str) -> Table:
    table = supervisor.get(table_id)
    assert table is not None, f"table {table_id} is not running"
    return table


def messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "pokerd.tables.supervisor" and record.levelno == level
    ]


async def test_tables_with_players_resume_at_start_and_the_same_turn_continues(
    store: EventStore,
    mock_clock: trio.testing.MockClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="pokerd.tables.supervisor")
    mid_hand = await table_in_log(store, "mid-hand", players=3, deal=True)
    seated = await table_in_log(store, "seated", players=1)
    await table_in_log(store, "empty", players=0)
    assert mid_hand.state.hand is not None
    turn = mid_hand.state.hand.turn
    assert turn is not None
    recorder = Recorder()

    async with running(supervisor_for(store, recorder)) as supervisor:
        assert supervisor.table_ids() == ["mid-hand", "seated"]
        assert supervisor.get("empty") is None
        resumed = live(supervisor, "mid-hand")
        assert (resumed.seq, resumed.state) == (mid_hand.seq, mid_hand.state)
        assert messages(caplog, logging.INFO) == [
            f"table mid-hand: resumed at seq {mid_hand.seq} in the middle of a hand",
            f"table seated: resumed at seq {seated.seq}",
        ]

        mock_clock.jump(CLOCK_S)
        await eventually(lambda: bool(recorder.of("mid-hand", ActionTaken)))
        first = recorder.of("mid-hand", ActionTaken)[0]
        assert first.seq == mid_hand.seq + 1
        assert isinstance(first.event, ActionTaken)
        assert (first.event.hand, first.event.seat) == (turn.hand, turn.seat)
        assert first.event.cause == "timeout"


async def test_a_table_not_running_is_loaded_once_when_asked_for_twice_at_once(
    store: EventStore, mock_clock: trio.testing.MockClock
) -> None:
    empty = await table_in_log(store, "empty", players=0)
    async with running(supervisor_for(store, Recorder())) as supervisor:
        opened: list[Table | None] = []

        async def open_empty() -> None:
            opened.append(await supervisor.open_table("empty"))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(open_empty)
            nursery.start_soon(open_empty)

        table = opened[0]
        assert table is not None
        assert opened == [table, table]
        assert table.seq == empty.seq
        assert supervisor.get("empty") is table
        assert supervisor.table_ids() == ["empty"]
        assert await supervisor.open_table("no-such-table") is None
        assert supervisor.get("no-such-table") is None


async def test_a_created_table_deals_when_two_players_sit(
    store: EventStore, mock_clock: trio.testing.MockClock
) -> None:
    recorder = Recorder()
    async with running(supervisor_for(store, recorder)) as supervisor:
        table_id = await supervisor.create_table(CONFIG)
        other_id = await supervisor.create_table(CONFIG)
        assert table_id != other_id
        assert supervisor.table_ids() == sorted([table_id, other_id])
        with pytest.raises(RuleError):
            await supervisor.create_table(TableConfig(max_seats=1))
        assert supervisor.statistics().live == 2

        table = live(supervisor, table_id)
        assert table.state.config == CONFIG
        await table.execute(SitDown(seat=0, name="ann", buy_in=100))
        await table.execute(SitDown(seat=3, name="bob", buy_in=100))
        await eventually(lambda: bool(recorder.of(table_id, HandStarted)))

        published = [stored.seq for stored in recorder.of(table_id)]
        assert published == list(range(1, table.seq + 1))
        stored = await store.read(read_events, table_id)
        assert [s.event for s in stored] == [s.event for s in recorder.of(table_id)]
        assert not recorder.of(other_id, HandStarted)


async def test_a_failing_table_restarts_from_its_log_while_another_plays_on(
    store: EventStore,
    mock_clock: trio.testing.MockClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await table_in_log(store, "flaky", players=2)
    await table_in_log(store, "steady", players=2)
    recorder = Recorder()
    recorder.break_on_next_deal.add("flaky")

    async with running(supervisor_for(store, recorder)) as supervisor:
        steady = live(supervisor, "steady")
        original = live(supervisor, "flaky")  # its first deal is still being written
        await eventually(lambda: supervisor.statistics().restarts == 1)
        await eventually(lambda: supervisor.get("flaky") is not None)
        flaky = live(supervisor, "flaky")
        assert flaky is not original

        # Restarted from the log: the hand dealt as the publisher broke goes on.
        loaded = await store.read(load_table, "flaky")
        assert loaded is not None
        assert (flaky.seq, flaky.state) == (loaded.seq, loaded.state)
        assert flaky.state.hand_in_progress
        [failed] = [
            record
            for record in caplog.records
            if record.levelno == logging.ERROR
            and record.name == "pokerd.tables.supervisor"
        ]
        assert failed.getMessage() == (
            f"table flaky FAILED at seq {flaky.seq}: RuntimeError('publish broke')"
        )
        assert failed.exc_info is not None
        assert supervisor.statistics().stopped == ()

        # Both tables play on: the clock times out the turn at each.
        before = {"flaky": flaky.seq, "steady": steady.seq}
        mock_clock.jump(CLOCK_S)
        await eventually(
            lambda: all(recorder.last_seq(t) > seq for t, seq in before.items())
        )
        assert live(supervisor, "flaky") is flaky
        assert live(supervisor, "steady") is steady
        steady_seqs = [stored.seq for stored in recorder.of("steady")]
        assert steady_seqs == list(range(steady_seqs[0], steady.seq + 1))

        # A caller still holding the failed Table cannot write behind the new one.
        with pytest.raises(TableClosedError):
            await original.execute(SitDown(seat=4, name="late", buy_in=100))
        assert flaky.state.seats[4] is None
    assert messages(caplog, logging.WARNING) == [
        f"table flaky: restarted from its log at seq {loaded.seq} "
        "(restart 1 since the start)"
    ]


async def test_a_table_failing_twice_at_the_same_seq_is_stopped_and_reported(
    store: EventStore,
    mock_clock: trio.testing.MockClock,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    poisoned = await table_in_log(store, "poisoned", players=2, config=POISONED)
    await table_in_log(store, "steady", players=2)

    def buggy(state: TableState, command: Command) -> tuple[list[Event], TableState]:
        if isinstance(command, StartHand) and state.config == POISONED:
            raise RuntimeError("engine bug")
        return handle(state, command)

    monkeypatch.setattr("pokerd.tables.table.handle", buggy)
    recorder = Recorder()
    async with running(supervisor_for(store, recorder)) as supervisor:
        await eventually(lambda: bool(supervisor.statistics().stopped))
        statistics = supervisor.statistics()
        assert statistics.restarts == 1
        assert statistics.live == 1
        [stopped] = statistics.stopped
        assert stopped == StoppedTable(
            "poisoned",
            poisoned.seq,
            f"it failed again at seq {poisoned.seq}, with no progress since its "
            "previous failure (RuntimeError('engine bug'))",
        )
        with pytest.raises(TableStoppedError, match="poisoned was stopped"):
            supervisor.get("poisoned")
        with pytest.raises(TableStoppedError):
            await supervisor.open_table("poisoned")
        assert supervisor.table_ids() == ["steady"]
        assert [m.split(":")[0] for m in messages(caplog, logging.ERROR)] == [
            f"table poisoned FAILED at seq {poisoned.seq}",
            f"table poisoned FAILED at seq {poisoned.seq}",
            "table poisoned",
        ]
        assert "STOPPED" in messages(caplog, logging.ERROR)[-1]
        assert await store.read(read_events, "poisoned", poisoned.seq) == []

        # The other table deals and plays as if nothing happened.
        await eventually(lambda: bool(recorder.of("steady", HandStarted)))
        steady = live(supervisor, "steady")
        seq = steady.seq
        mock_clock.jump(CLOCK_S)
        await eventually(lambda: recorder.last_seq("steady") > seq)
        assert live(supervisor, "steady") is steady


async def test_a_second_writer_stops_the_table_whose_clock_finds_its_events(
    store: EventStore,
    mock_clock: trio.testing.MockClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await table_in_log(store, "contested", players=2, deal=True)
    await table_in_log(store, "steady", players=2, deal=True)
    recorder = Recorder()
    async with running(supervisor_for(store, recorder)) as supervisor:
        steady = live(supervisor, "steady")
        contested = live(supervisor, "contested")
        # Another process loads the same table and writes to its log.
        intruder = Table(
            "contested",
            store,
            await store.read(load_table, "contested"),
            clock=clock_ms,
        )
        await intruder.execute(SitDown(seat=5, name="intruder", buy_in=100))

        steady_seq = steady.seq
        mock_clock.jump(CLOCK_S)  # both clocks fire; one table's append conflicts
        await eventually(lambda: bool(supervisor.statistics().stopped))
        [stopped] = supervisor.statistics().stopped
        assert (stopped.table_id, stopped.seq) == ("contested", contested.seq)
        assert stopped.reason.startswith("another writer appended to its log")
        assert contested.conflict is not None
        assert supervisor.statistics().restarts == 0
        with pytest.raises(TableStoppedError):
            supervisor.get("contested")
        log_now = await store.read(read_events, "contested")
        assert log_now[-1].seq == intruder.seq  # the stopped table wrote nothing
        assert "STOPPED" in messages(caplog, logging.ERROR)[-1]

        await eventually(lambda: recorder.last_seq("steady") > steady_seq)
        assert live(supervisor, "steady") is steady
        assert supervisor.table_ids() == ["steady"]


async def test_a_conflict_met_by_a_caller_stops_the_table_and_reaches_the_caller(
    store: EventStore, mock_clock: trio.testing.MockClock
) -> None:
    await table_in_log(store, "quiet", players=1)
    async with running(supervisor_for(store, Recorder())) as supervisor:
        quiet = live(supervisor, "quiet")
        intruder = Table(
            "quiet", store, await store.read(load_table, "quiet"), clock=clock_ms
        )
        await intruder.execute(SitDown(seat=1, name="intruder", buy_in=100))

        with pytest.raises(ConflictError):
            await quiet.execute(SitDown(seat=2, name="carol", buy_in=100))
        await eventually(lambda: bool(supervisor.statistics().stopped))
        with pytest.raises(TableStoppedError, match="another writer"):
            supervisor.get("quiet")
        with pytest.raises(TableClosedError):
            await quiet.execute(SitDown(seat=3, name="dave", buy_in=100))
        assert supervisor.table_ids() == []


async def test_a_table_failing_after_every_commit_is_stopped_after_a_few_restarts(
    store: EventStore, mock_clock: trio.testing.MockClock
) -> None:
    # Nobody is sat out by the clock, so every jump makes the table commit.
    patient = attrs.evolve(CONFIG, timeouts_before_sit_out=1_000)
    await table_in_log(store, "doomed", players=2, deal=True, config=patient)
    recorder = Recorder()
    recorder.break_always.add("doomed")

    async with running(supervisor_for(store, recorder)) as supervisor:

        def moved_on(restarts: int) -> bool:
            statistics = supervisor.statistics()
            return statistics.restarts > restarts or bool(statistics.stopped)

        for _ in range(MAX_RESTARTS_IN_WINDOW + 1):
            if supervisor.statistics().stopped:
                break
            restarts = supervisor.statistics().restarts
            mock_clock.jump(CLOCK_S)  # the clock fires; its publish fails
            await eventually(functools.partial(moved_on, restarts))
        [stopped] = supervisor.statistics().stopped
        assert stopped.table_id == "doomed"
        assert supervisor.statistics().restarts == MAX_RESTARTS_IN_WINDOW
        assert f"failed {MAX_RESTARTS_IN_WINDOW + 1} times within" in stopped.reason
        with pytest.raises(TableStoppedError):
            supervisor.get("doomed")
