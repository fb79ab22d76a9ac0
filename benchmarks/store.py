"""The event log under 1000 tables: throughput, commit latency, recovery.

SQLite first, then PostgreSQL in the same run (when its server is installed:
a cluster of the benchmark's own, `pokerd.tools.pgcluster`, fsync on). Every
part runs on a fresh database (a file in a temporary directory, or a new
PostgreSQL database), at the store's default durability (synchronous=FULL)
unless it says otherwise; PostgreSQL runs parts 1 (group commit only), 2 and
3, its lines prefixed `postgresql_`:

1. Flat out: every table is a trio task appending one event per append as
   fast as its commits return, first with group commit, then with one
   transaction per event, then (one line) with group commit at
   synchronous=NORMAL. Events/s, commit latency (calling `append` to its
   return: encoding included) and the writer's statistics. Every append
   carries a seat request's identity, as a player's action does (the
   `events.request` column).
2. Paced: every table appends one event a second, start times spread over the
   first second, with group commit: commit latency.
3. Recovery: a database of N tables and about a million events, with a
   snapshot and a hand row at every hand's end as the shell writes them; the
   time to load every table with `load_table` (newest snapshot plus the tail),
   beside folding every table's whole log from its first event.

The traffic is real: a few 6-max games played through `pokerd.engine.handle`
with `pokerd.tables.dealer.start_hand`/`random_action` and seeded `random.Random`s
(the "templates"); table k replays template k mod G with its own seqs. For
recovery the templates are appended through `EventStore.append_blocking` one
command at a time (snapshot and hand record with each hand's end, as
`pokerd.tables.table` does), and the other tables are SQL copies of those rows.

    python benchmarks/store.py [--tables 1000] [--seconds 10]
        [--recovery-events 1000000] [--quick] [--dir DIR] [--no-postgresql]

It prints `name: value` lines: figures and ratios, no verdicts.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import attrs
import trio

from pokerd.engine import (
    ComeBack,
    Command,
    CreateTable,
    Event,
    HandEnded,
    SitDown,
    TableConfig,
    TableState,
    TopUp,
    fold,
    handle,
)
from pokerd.hands.history import hand_row
from pokerd.ops.settings import Database, is_postgresql
from pokerd.store import (
    EventStore,
    ReadConnection,
    Synchronous,
    WriterStatistics,
    connect,
    load_table,
    read_events,
    table_ids,
)
from pokerd.store.log import AppliedRequest, HandRow
from pokerd.store.postgres import PostgresConnection
from pokerd.store.postgres import connect as pg_connect
from pokerd.tables.dealer import random_action, start_hand
from pokerd.tools.pgcluster import Cluster, server_binaries

PLAYERS = 6
STACK = 400
CONFIG = TableConfig(
    max_seats=PLAYERS, small_blind=1, big_blind=2, min_buy_in=200, max_buy_in=STACK
)
TEMPLATES = 16
"""Distinct games; table k replays template k mod TEMPLATES (half with --quick)."""
TRAFFIC_EVENTS = 1_500
"""Events per template at least, for the traffic parts: more than a table gets
through in a phase (half with --quick, whose 50 tables each get further)."""
BUILD_BUDGET_S = 150.0
"""Stop copying tables into the recovery database after this long."""
CLONE_BATCH = 25
"""Tables copied per transaction when building the recovery database."""
START_MS = 1_767_225_600_000
"""2026-01-01, the templates' clock at their first command."""

SEAT_REQUEST = AppliedRequest("a" * 64, "request-12345", "b" * 24)
"""What an append made for a seat request carries (a token hash, an id, a
digest): the sizes of a real one."""


# The templates: real games, kept per command and per event.


@attrs.frozen
class Step:
    """One command's events, with what the shell stores beside them."""

    events: tuple[Event, ...]
    snapshot: TableState | None
    """The state after the events if they end a hand (the shell snapshots then)."""
    hand: HandRow | None


@attrs.frozen
class Append:
    """One event as a one-event append: a hand's end carries its snapshot."""

    event: Event
    snapshot: TableState | None
    hand: HandRow | None


@attrs.frozen
class Template:
    steps: tuple[Step, ...]
    appends: tuple[Append, ...]
    final: TableState
    """The state after every step."""

    @property
    def events(self) -> int:
        return len(self.appends)


def play_template(seed: int, events_wanted: int) -> Template:
    """A 6-max game from `seed`, played by whole commands until it holds at
    least `events_wanted` events (it usually stops inside a hand)."""
    rng = random.Random(seed)
    now = START_MS
    state = TableState()
    steps: list[Step] = []
    appends: list[Append] = []

    def run(command: Command) -> None:
        nonlocal state
        before = state
        events, state = handle(state, command)
        snapshot = record = None
        for index, event in enumerate(events):
            if not isinstance(event, HandEnded):
                appends.append(Append(event, None, None))
                continue
            # The one-event append of HandEnded carries the state right after it.
            after = (
                state if index == len(events) - 1 else fold(events[: index + 1], before)
            )
            assert after.hand is not None
            record = hand_row(after.hand)
            appends.append(Append(event, after, record))
            snapshot = state
        steps.append(Step(tuple(events), snapshot, record))

    run(CreateTable(config=CONFIG))
    for number in range(PLAYERS):
        run(SitDown(seat=number, name=f"player{seed}-{number}", buy_in=STACK))
    while len(appends) < events_wanted:
        for index, seat in enumerate(state.seats):
            assert seat is not None
            if seat.stack < STACK:
                run(TopUp(seat=index, amount=STACK - seat.stack))
            if seat.sitting_out:
                run(ComeBack(seat=index))
        now += 2_000
        run(start_hand(now, rng))
        while len(appends) < events_wanted:
            now += rng.randint(300, 6_000)
            act = random_action(state, rng, now)
            if act is None:
                break
            run(act)
    return Template(tuple(steps), tuple(appends), state)


def play_templates(count: int, events_wanted: int) -> list[Template]:
    return [play_template(seed, events_wanted) for seed in range(count)]


def table_id(index: int) -> str:
    return f"table-{index:04d}"


# Measuring.


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of already sorted values (0 if none)."""
    if not sorted_values:
        return 0.0
    rank = max(1, round(fraction * len(sorted_values) + 0.5))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@attrs.define
class Traffic:
    """What one run of appends did."""

    events: int = 0
    seconds: float = 0.0
    latencies: list[float] = attrs.field(factory=list)
    tables_out_of_events: int = 0
    statistics: WriterStatistics | None = None

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def ms(self, fraction: float) -> float:
        return 1_000 * percentile(sorted(self.latencies), fraction)


@contextmanager
def fresh_database(
    directory: str | None, cluster: Cluster | None = None
) -> Iterator[Database]:
    """A new SQLite file, or a new database in `cluster` (dropped after)."""
    if cluster is not None:
        url = cluster.create_database()
        try:
            yield url
        finally:
            cluster.drop_database(url.rsplit("/", 1)[1])
        return
    with tempfile.TemporaryDirectory(prefix="pokerd-bench-", dir=directory) as tmp:
        yield Path(tmp) / "pokerd.db"


def open_connection(database: Database) -> ReadConnection:
    """A connection of its own, in autocommit mode, taking `?` parameters."""
    if is_postgresql(database):
        return PostgresConnection(pg_connect(str(database)))
    return connect(Path(database), synchronous="NORMAL")


@contextmanager
def collected_first() -> Iterator[None]:
    """Collect garbage now rather than at the start of a measurement."""
    gc.collect()
    yield


def flat_out(
    path: Database,
    templates: Sequence[Template],
    tables: int,
    seconds: float,
    *,
    synchronous: Synchronous = "FULL",
    group_commit: bool = True,
) -> Traffic:
    """Every table appends one event at a time, as fast as its commits return,
    until `seconds` have passed (or its template runs out)."""
    result = Traffic()

    async def table(store: EventStore, index: int, deadline: float) -> None:
        appends = templates[index % len(templates)].appends
        name = table_id(index)
        clock = time.perf_counter
        for seq, step in enumerate(appends, start=1):
            if clock() >= deadline:
                return
            start = clock()
            await store.append(
                name,
                seq,
                (step.event,),
                snapshot=step.snapshot,
                hand=step.hand,
                request=SEAT_REQUEST,
            )
            result.latencies.append(clock() - start)
            result.events += 1
        result.tables_out_of_events += 1

    async def run(store: EventStore) -> None:
        start = time.perf_counter()
        async with trio.open_nursery() as nursery:
            for index in range(tables):
                nursery.start_soon(table, store, index, start + seconds)
        result.seconds = time.perf_counter() - start

    with (
        collected_first(),
        EventStore(path, synchronous=synchronous, group_commit=group_commit) as store,
    ):
        trio.run(run, store)
        result.statistics = store.statistics()
    return result


def paced(
    path: Database, templates: Sequence[Template], tables: int, seconds: float
) -> Traffic:
    """Every table appends one event a second, the tables' start times spread
    evenly over the first second, for `seconds` seconds."""
    result = Traffic()
    per_table = max(1, round(seconds))

    async def table(store: EventStore, index: int, start: float) -> None:
        appends = templates[index % len(templates)].appends
        name = table_id(index)
        clock = time.perf_counter
        first = start + index / tables
        for seq, step in enumerate(appends[:per_table], start=1):
            await trio.sleep_until(first + seq - 1)
            began = clock()
            await store.append(
                name,
                seq,
                (step.event,),
                snapshot=step.snapshot,
                hand=step.hand,
                request=SEAT_REQUEST,
            )
            result.latencies.append(clock() - began)
            result.events += 1

    async def run(store: EventStore) -> None:
        start, began = trio.current_time() + 0.1, time.perf_counter()
        async with trio.open_nursery() as nursery:
            for index in range(tables):
                nursery.start_soon(table, store, index, start)
        result.seconds = time.perf_counter() - began

    with collected_first(), EventStore(path) as store:
        trio.run(run, store)
        result.statistics = store.statistics()
    return result


# Recovery.


@attrs.define
class Recovery:
    tables: int = 0
    events: int = 0
    snapshots: int = 0
    build_seconds: float = 0.0
    build_stopped: bool = False
    megabytes: float = 0.0
    load_seconds: float = 0.0
    fold_seconds: float = 0.0
    tail_events: int = 0
    states_match: bool = True


def trim(template: Template, events: int) -> Template:
    """The template's first whole commands holding at least `events` events."""
    steps, count = [], 0
    for step in template.steps:
        if count >= events:
            break
        steps.append(step)
        count += len(step.events)
    final = fold([event for step in steps for event in step.events])
    return Template(tuple(steps), template.appends[:count], final)


def build_recovery_database(
    path: Database, templates: Sequence[Template], tables: int, result: Recovery
) -> None:
    """The templates through the store, one append per command; the rest of
    the tables copied from them in SQL, batch by batch, within the budget."""
    start = time.perf_counter()
    with EventStore(path, synchronous="NORMAL") as store:
        for index, template in enumerate(templates[:tables]):
            seq = 1
            for step in template.steps:
                store.append_blocking(
                    table_id(index),
                    seq,
                    step.events,
                    snapshot=step.snapshot,
                    hand=step.hand,
                    now_ms=START_MS + seq,
                )
                seq += len(step.events)
    built = min(tables, len(templates))
    postgresql = is_postgresql(path)
    connection = open_connection(path)
    try:
        while built < tables:
            if time.perf_counter() - start > BUILD_BUDGET_S:
                result.build_stopped = True
                break
            batch = range(built, min(tables, built + CLONE_BATCH))
            connection.execute("BEGIN" if postgresql else "BEGIN IMMEDIATE")
            for index in batch:
                clone(connection, table_id(index % len(templates)), table_id(index))
            connection.execute("COMMIT")
            built = batch.stop
        if postgresql:
            connection.execute("VACUUM ANALYZE")
            size = connection.execute(
                "SELECT pg_database_size(current_database())"
            ).fetchone()[0]
        else:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            size = Path(path).stat().st_size
        result.tables = built
        result.events = connection.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        result.snapshots = connection.execute(
            "SELECT COUNT(*) FROM snapshots"
        ).fetchone()[0]
    finally:
        connection.close()
    result.build_seconds = time.perf_counter() - start
    result.megabytes = size / 1e6


def clone(connection: ReadConnection, source: str, target: str) -> None:
    """`target` as a new table holding `source`'s rows: events (already
    encoded, gapless from seq 1), snapshots and hand rows."""
    connection.execute(
        "INSERT INTO tables (table_id, epoch, created_at)"
        " SELECT ?, ?, created_at FROM tables WHERE table_id = ?",
        (target, uuid.uuid4().hex, source),
    )
    connection.execute(
        "INSERT INTO events (table_id, seq, type, payload, recorded_at)"
        " SELECT ?, seq, type, payload, recorded_at FROM events"
        " WHERE table_id = ? ORDER BY seq",
        (target, source),
    )
    connection.execute(
        "INSERT INTO snapshots (table_id, seq, format, state)"
        " SELECT ?, seq, format, state FROM snapshots WHERE table_id = ?",
        (target, source),
    )
    connection.execute(
        "INSERT INTO hands (table_id, hand, first_seq, last_seq, started_at,"
        " ended_at, engine, summary, hole_cards, phh)"
        " SELECT ?, hand, first_seq, last_seq, started_at, ended_at, engine,"
        " summary, hole_cards, phh FROM hands WHERE table_id = ?",
        (target, source),
    )


def recover(path: Database, templates: Sequence[Template], tables: int) -> Recovery:
    result = Recovery()
    build_recovery_database(path, templates, tables, result)
    connection = open_connection(path)
    try:
        names = table_ids(connection)
        loaded: dict[str, TableState] = {}
        with collected_first():
            start = time.perf_counter()
            for name in names:
                table = load_table(connection, name)
                assert table is not None
                loaded[name] = table.state
                result.tail_events += table.seq - table.snapshot_seq
            result.load_seconds = time.perf_counter() - start
        with collected_first():
            start = time.perf_counter()
            folded = {
                name: fold([stored.event for stored in read_events(connection, name)])
                for name in names
            }
            result.fold_seconds = time.perf_counter() - start
    finally:
        connection.close()
    final = {table_id(k): templates[k % len(templates)].final for k in range(tables)}
    result.states_match = all(
        loaded[name] == folded[name] == final[name] for name in names
    )
    return result


# The report.


def print_machine() -> None:
    print(f"machine_cores: {os.cpu_count()}")
    print(f"machine: {platform.platform()}")
    print(f"python: {platform.python_version()}")
    print(f"sqlite: {sqlite3.sqlite_version}")


def print_traffic(prefix: str, traffic: Traffic) -> None:
    stats = traffic.statistics
    assert stats is not None
    print(f"{prefix}_events: {traffic.events}")
    print(f"{prefix}_seconds: {traffic.seconds:.2f}")
    print(f"{prefix}_events_per_s: {traffic.rate:.0f}")
    print(f"{prefix}_p50_ms: {traffic.ms(0.50):.2f}")
    print(f"{prefix}_p99_ms: {traffic.ms(0.99):.2f}")
    print(f"{prefix}_transactions: {stats.transactions}")
    print(f"{prefix}_largest_batch: {stats.largest_batch}")
    print(f"{prefix}_mean_batch: {stats.appends / max(1, stats.transactions):.1f}")
    if traffic.tables_out_of_events:
        print(f"{prefix}_tables_out_of_events: {traffic.tables_out_of_events}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="The event log (SQLite, then PostgreSQL): appends from many "
        "tables, latency, recovery"
    )
    parser.add_argument("--tables", type=int, default=None, help="default 1000")
    parser.add_argument(
        "--seconds", type=float, default=None, help="each timed phase; default 10"
    )
    parser.add_argument(
        "--recovery-events", type=int, default=None, help="default 1000000"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small sizes for a smoke run: 50 tables, 2 s phases, 20k events",
    )
    parser.add_argument(
        "--dir", default=None, help="where the temporary databases go (default TMP)"
    )
    parser.add_argument("--no-postgresql", action="store_true", help="SQLite only")
    args = parser.parse_args(argv)
    quick: bool = args.quick
    tables: int = args.tables or (50 if quick else 1_000)
    seconds: float = args.seconds or (2.0 if quick else 10.0)
    wanted: int = args.recovery_events or (20_000 if quick else 1_000_000)
    directory: str | None = args.dir

    print_machine()
    print(f"tables: {tables}")
    print(f"seconds_per_phase: {seconds:g}")

    per_table = max(1, wanted // tables)
    start = time.perf_counter()
    halve = 2 if quick else 1
    templates = play_templates(
        min(TEMPLATES // halve, tables), max(per_table, TRAFFIC_EVENTS // halve)
    )
    events = sum(t.events for t in templates)
    print(f"templates: {len(templates)}")
    print(f"template_events: {events}")
    print(f"template_seconds: {time.perf_counter() - start:.1f}")

    # 1. Flat out, group commit against one transaction per event; 3. NORMAL.
    with fresh_database(directory) as path:
        grouped = flat_out(path, templates, tables, seconds)
    print_traffic("group_commit", grouped)
    with fresh_database(directory) as path:
        single = flat_out(path, templates, tables, seconds, group_commit=False)
    print_traffic("per_event_commit", single)
    print(f"ratio_group_to_per_event: {grouped.rate / max(single.rate, 1e-9):.2f}")
    with fresh_database(directory) as path:
        normal = flat_out(path, templates, tables, seconds, synchronous="NORMAL")
    print(f"group_commit_normal_events_per_s: {normal.rate:.0f}")

    # 2. Paced: one event a second per table.
    with fresh_database(directory) as path:
        steady = paced(path, templates, tables, seconds)
    print_paced("paced", steady)

    # 4. Recovery.
    trimmed = [trim(t, per_table) for t in templates]
    with fresh_database(directory) as path:
        recovered = recover(path, trimmed, tables)
    print_recovery("recovery", recovered, tables)
    if args.no_postgresql:
        return 0 if recovered.states_match else 1

    # PostgreSQL, the same parts on the same templates.
    if server_binaries() is None:
        print("postgresql: not installed (the postgresql package); skipped")
        return 0 if recovered.states_match else 1
    with Cluster(fsync=True) as cluster:
        print(f"postgresql: {cluster.binaries}")
        with fresh_database(directory, cluster) as url:
            pg_grouped = flat_out(url, templates, tables, seconds)
        print_traffic("postgresql_group_commit", pg_grouped)
        with fresh_database(directory, cluster) as url:
            pg_steady = paced(url, templates, tables, seconds)
        print_paced("postgresql_paced", pg_steady)
        with fresh_database(directory, cluster) as url:
            pg_recovered = recover(url, trimmed, tables)
        print_recovery("postgresql_recovery", pg_recovered, tables)
    print(
        "ratio_postgresql_to_sqlite_group_commit_events_per_s: "
        f"{pg_grouped.rate / max(grouped.rate, 1e-9):.2f}"
    )
    print(
        "ratio_postgresql_to_sqlite_paced_p99: "
        f"{pg_steady.ms(0.99) / max(steady.ms(0.99), 1e-9):.2f}"
    )
    print(
        "ratio_postgresql_to_sqlite_recovery_load: "
        f"{pg_recovered.load_seconds / max(recovered.load_seconds, 1e-9):.2f}"
    )
    matched = recovered.states_match and pg_recovered.states_match
    return 0 if matched else 1


def print_paced(prefix: str, steady: Traffic) -> None:
    print(f"{prefix}_events: {steady.events}")
    print(f"{prefix}_events_per_s: {steady.rate:.0f}")
    print(f"{prefix}_p50_ms: {steady.ms(0.50):.2f}")
    print(f"{prefix}_p99_ms: {steady.ms(0.99):.2f}")
    print(f"{prefix}_max_ms: {steady.ms(1.0):.2f}")
    assert steady.statistics is not None
    print(f"{prefix}_transactions: {steady.statistics.transactions}")
    print(f"{prefix}_largest_batch: {steady.statistics.largest_batch}")


def print_recovery(prefix: str, recovered: Recovery, tables: int) -> None:
    if recovered.build_stopped:
        print(
            f"{prefix}_note: building {tables} tables took over {BUILD_BUDGET_S:.0f}"
            f" s; stopped at {recovered.tables} tables"
        )
    print(f"{prefix}_tables: {recovered.tables}")
    print(f"{prefix}_events: {recovered.events}")
    print(f"{prefix}_snapshots: {recovered.snapshots}")
    print(f"{prefix}_database_mb: {recovered.megabytes:.0f}")
    print(f"{prefix}_build_seconds: {recovered.build_seconds:.1f}")
    print(f"{prefix}_load_seconds: {recovered.load_seconds:.2f}")
    print(f"{prefix}_tables_per_s: {recovered.tables / recovered.load_seconds:.0f}")
    print(f"{prefix}_tail_events: {recovered.tail_events}")
    print(f"{prefix}_fold_from_start_seconds: {recovered.fold_seconds:.2f}")
    ratio = recovered.fold_seconds / recovered.load_seconds
    name = "ratio_fold_from_start_to_load"
    print(f"{name if prefix == 'recovery' else prefix + '_' + name}: {ratio:.1f}")
    print(f"{prefix}_states_match: {'yes' if recovered.states_match else 'NO'}")


if __name__ == "__main__":
    sys.exit(main())
