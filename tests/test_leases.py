"""Table leases and the fence, against a real PostgreSQL (conftest.py).

A node takes a table's lease with an epoch; every append transaction checks,
under FOR SHARE, that the lease still carries that epoch. These tests take,
renew, expire, release and steal leases, and play the races the fence is
for: a takeover while an append is in flight, and a paused node's late append.
Expiry is forced with SQL (the database's clock is the only judge), never
waited out.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import psycopg
import pytest
from databases import raw_connection, writes_held

from pokerd.engine import (
    Event,
    PlayerSeated,
    TableConfig,
    TableCreated,
)
from pokerd.store import (
    ConflictError,
    EventStore,
    FencedError,
    last_seq,
    load_table,
    read_events,
)
from pokerd.store.postgres_leases import _TAKE
from pokerd.store.records import Taken

WAIT_S = 20.0
"""Bound on waiting for another connection to block (never expected)."""


def created() -> tuple[Event, ...]:
    return (TableCreated(config=TableConfig(max_seats=6)),)


def seated(seat: int, name: str) -> tuple[Event, ...]:
    return (PlayerSeated(seat=seat, name=name, stack=100),)


def expire(url: str, table_id: str) -> None:
    """The lease runs out, as the database's clock would have it."""
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(
            "UPDATE leases SET lease_until = now() - interval '1 second'"
            " WHERE table_id = %s",
            (table_id,),
        )


def lease_row(url: str, table_id: str) -> tuple[str, int] | None:
    with psycopg.connect(url) as connection:
        row = connection.execute(
            "SELECT owner, epoch FROM leases WHERE table_id = %s", (table_id,)
        ).fetchone()
    return None if row is None else (str(row[0]), int(row[1]))


def wait_until_blocked(url: str, statement: str) -> None:
    """Return once a backend runs `statement` (a prefix) waiting on a lock."""
    deadline = time.monotonic() + WAIT_S
    with psycopg.connect(url, autocommit=True) as connection:
        while True:
            row = connection.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE wait_event_type = 'Lock' AND ltrim(query, E' \\n') LIKE %s",
                (statement + "%",),
            ).fetchone()
            if row is not None and row[0] > 0:
                return
            assert time.monotonic() < deadline, f"nothing blocked on {statement}"
            time.sleep(0.01)


@pytest.fixture
def node_a(postgres_url: str) -> Iterator[EventStore]:
    with EventStore(postgres_url, node="a") as store:
        yield store


@pytest.fixture
def node_b(postgres_url: str) -> Iterator[EventStore]:
    with EventStore(postgres_url, node="b") as store:
        yield store


# Taking, renewing, expiring, releasing.


def test_a_free_lease_is_taken_at_epoch_one_and_a_held_one_is_refused(
    postgres_url: str, node_a: EventStore, node_b: EventStore
) -> None:
    assert node_a.leases.take("t") == 1
    assert node_b.leases.take("t") is None
    assert node_b.leases.held() == {}
    assert node_a.leases.held() == {"t": 1}
    assert lease_row(postgres_url, "t") == ("a", 1)
    # Another table is free for b.
    assert node_b.leases.take("u") == 1


def test_taking_ones_own_lease_again_moves_its_epoch(
    postgres_url: str, node_a: EventStore
) -> None:
    assert node_a.leases.take("t") == 1
    node_a.append_blocking("t", 1, created())
    # A restarted node (same id) takes its tables again at once: the new epoch
    # fences whatever its earlier incarnation still has in flight.
    assert node_a.leases.take("t") == 2
    node_a.append_blocking("t", 2, seated(0, "ann"))
    assert lease_row(postgres_url, "t") == ("a", 2)


def test_an_expired_lease_is_taken_by_another_node_and_lost_at_renewal(
    postgres_url: str, node_a: EventStore, node_b: EventStore
) -> None:
    assert node_a.leases.take("t") == 1
    assert node_a.leases.take("kept") == 1
    assert node_a.leases.renew() == set()
    expire(postgres_url, "t")
    assert node_b.leases.take("t") == 2
    assert node_b.leases.take("kept") is None

    assert node_a.leases.renew() == {"t"}
    assert node_a.leases.held() == {"kept": 1}
    assert node_b.leases.renew() == set()
    assert lease_row(postgres_url, "t") == ("b", 2)


def test_a_lease_runs_out_by_the_databases_clock_when_it_is_not_renewed(
    postgres_url: str, node_b: EventStore
) -> None:
    with EventStore(postgres_url, node="a", lease_ttl_s=0.2) as node_a:
        assert node_a.leases.take("t") == 1
        # b waits for it without any clock of its own: the database says when.
        deadline = time.monotonic() + WAIT_S
        while (epoch := node_b.leases.take("t")) is None:
            assert time.monotonic() < deadline, "the lease never ran out"
            time.sleep(0.05)
        assert epoch == 2
        assert node_a.leases.renew() == {"t"}


def test_an_expired_lease_nobody_took_is_renewed(
    postgres_url: str, node_a: EventStore
) -> None:
    # Its epoch never moved, so nothing was fenced: it is still this node's.
    assert node_a.leases.take("t") == 1
    expire(postgres_url, "t")
    assert node_a.leases.renew() == set()
    node_a.append_blocking("t", 1, created())
    assert node_a.leases.held() == {"t": 1}


def test_a_released_lease_is_free_at_once_and_its_epoch_only_grows(
    postgres_url: str, node_b: EventStore
) -> None:
    with EventStore(postgres_url, node="a") as node_a:
        assert node_a.leases.take("t") == 1
        assert node_a.leases.take("u") == 1
        node_a.leases.release(["t"])
        assert node_a.leases.held() == {"u": 1}
        assert node_b.leases.take("t") == 2
        assert node_b.leases.take("u") is None
    # A clean close gives up the rest.
    assert node_b.leases.take("u") == 2


def test_the_free_tables_are_those_of_the_log_without_a_live_lease(
    postgres_url: str, node_a: EventStore, node_b: EventStore
) -> None:
    for table_id in ("held", "expired", "released", "never"):
        assert node_a.leases.take(table_id) == 1
        node_a.append_blocking(table_id, 1, created())
    node_a.leases.release(["released", "never"])
    with closing(raw_connection(postgres_url)) as connection:
        connection.execute("DELETE FROM leases WHERE table_id = 'never'")
    expire(postgres_url, "expired")
    assert node_b.leases.free_tables() == ["expired", "never", "released"]


# The fence.


def test_an_append_needs_the_tables_lease(node_a: EventStore) -> None:
    with pytest.raises(FencedError, match="holds no lease"):
        node_a.append_blocking("t", 1, created())
    assert node_a.leases.take("t") == 1
    node_a.append_blocking("t", 1, created())


def test_a_paused_nodes_late_append_is_refused_and_the_log_does_not_fork(
    postgres_url: str, node_a: EventStore, node_b: EventStore
) -> None:
    assert node_a.leases.take("t") == 1
    node_a.append_blocking("t", 1, created())
    # a stops answering; its lease runs out and b takes the table over.
    expire(postgres_url, "t")
    assert node_b.leases.take("t") == 2
    loaded = load_table(node_b.reader(), "t")
    assert loaded is not None and loaded.seq == 1
    node_b.append_blocking("t", 2, seated(0, "bo"))
    # a wakes up still believing it holds epoch 1, and writes: refused,
    # whether its seq is taken or free.
    assert node_a.leases.epoch_of("t") == 1
    for seq in (2, 3):
        with pytest.raises(FencedError, match="taken over"):
            node_a.append_blocking("t", seq, seated(1, "late"))
    assert [s.event for s in read_events(node_b.reader(), "t")] == [
        *created(),
        *seated(0, "bo"),
    ]
    assert isinstance(FencedError("x"), ConflictError)  # tables stop on it
    statistics = node_a.statistics()
    assert (statistics.fenced, statistics.conflicts) == (2, 2)


def test_a_takeover_waits_for_the_append_in_flight_which_the_new_owner_sees(
    postgres_url: str, node_a: EventStore, node_b: EventStore
) -> None:
    assert node_a.leases.take("t") == 1
    node_a.append_blocking("t", 1, created())
    expire(postgres_url, "t")  # a is slow: its lease has run out, none took it
    taken: list[int | None] = []
    appended: list[BaseException | None] = []

    def append() -> None:
        try:
            node_a.append_blocking("t", 2, seated(0, "ann"))
            appended.append(None)
        except ConflictError as error:
            appended.append(error)

    with writes_held(postgres_url) as release:
        # a's append is in its transaction: the lease row locked FOR SHARE,
        # its events waiting to be written.
        writer = threading.Thread(target=append)
        writer.start()
        wait_until_blocked(postgres_url, "INSERT INTO events")
        # b's takeover waits for that transaction to end.
        taker = threading.Thread(
            target=lambda: taken.append(node_b.leases.take("t")), daemon=True
        )
        taker.start()
        wait_until_blocked(postgres_url, "INSERT INTO leases")
        assert taken == []
        release()
        writer.join(WAIT_S)
        taker.join(WAIT_S)
    assert appended == [None]
    assert taken == [2]
    # The new owner, loading after its take, sees the append that beat it.
    loaded = load_table(node_b.reader(), "t")
    assert loaded is not None and loaded.seq == 2
    assert loaded.state.seats[0] is not None
    with pytest.raises(FencedError):
        node_a.append_blocking("t", 3, seated(1, "late"))
    node_b.append_blocking("t", 3, seated(1, "cy"))
    assert last_seq(node_b.reader(), "t") == 3


def test_an_append_that_comes_during_a_takeover_is_fenced_once_it_commits(
    postgres_url: str, node_a: EventStore
) -> None:
    assert node_a.leases.take("t") == 1
    node_a.append_blocking("t", 1, created())
    expire(postgres_url, "t")
    appended: list[BaseException | None] = []

    def append() -> None:
        try:
            node_a.append_blocking("t", 2, seated(0, "ann"))
            appended.append(None)
        except ConflictError as error:
            appended.append(error)

    # b's take, in a transaction not yet committed, holds the lease row.
    with psycopg.connect(postgres_url) as taker:
        row = taker.execute(_TAKE, {"table": "t", "node": "b", "ttl": 10.0})
        # The new epoch, and the lease as it was: a's, not released or handed.
        assert row.fetchone() == (2, "a", False, None)
        writer = threading.Thread(target=append)
        writer.start()
        wait_until_blocked(postgres_url, "SELECT l.table_id, l.epoch")
        assert appended == []
        taker.commit()
        writer.join(WAIT_S)
    assert len(appended) == 1 and isinstance(appended[0], FencedError)
    assert last_seq(node_a.reader(), "t") == 1


def test_a_fenced_append_costs_the_other_tables_of_its_batch_nothing(
    postgres_url: str, node_a: EventStore, node_b: EventStore
) -> None:
    for table_id in ("first", "lost", "kept"):
        assert node_a.leases.take(table_id) == 1
        node_a.append_blocking(table_id, 1, created())
    expire(postgres_url, "lost")
    assert node_b.leases.take("lost") == 2
    outcomes: dict[str, BaseException | None] = {}

    def append(table_id: str) -> None:
        try:
            node_a.append_blocking(table_id, 2, seated(0, table_id))
            outcomes[table_id] = None
        except ConflictError as error:
            outcomes[table_id] = error

    threads = [threading.Thread(target=append, args=(t,)) for t in ("lost", "kept")]
    with writes_held(postgres_url) as release:
        # The writer takes the first append alone and blocks in it; the
        # other two queue up behind it and go together, in one batch.
        first = threading.Thread(target=append, args=("first",))
        first.start()
        wait_until_blocked(postgres_url, "INSERT INTO events")
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + WAIT_S
        while node_a._queue.qsize() < 2:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        release()
        for thread in (first, *threads):
            thread.join(WAIT_S)
    assert outcomes["first"] is None and outcomes["kept"] is None
    assert isinstance(outcomes["lost"], FencedError)
    statistics = node_a.statistics()
    assert statistics.largest_batch == 2
    assert (statistics.fenced, statistics.conflicts) == (1, 1)
    reader = node_a.reader()
    assert (last_seq(reader, "first"), last_seq(reader, "kept")) == (2, 2)
    assert last_seq(reader, "lost") == 1


# Whose a lease was, and the nodes up (cluster routing).


def test_a_take_says_whose_the_lease_was_before(
    postgres_url: str, node_a: EventStore, node_b: EventStore
) -> None:
    assert node_a.leases.take_over("t") == Taken(1, "new")
    assert node_a.leases.take_over("t") == Taken(2, "own", "a")
    assert node_b.leases.take_over("t") is None  # a's, live
    node_a.leases.release(["t"])
    assert node_b.leases.take_over("t") == Taken(3, "released", "a")
    node_b.leases.release(["t"], handed_to="a")
    assert node_a.leases.take_over("t") == Taken(4, "handed", "b")
    expire(postgres_url, "t")
    assert node_b.leases.take_over("t") == Taken(5, "expired", "a")
    # A hand-off names one node: to any other it is a release like another.
    node_b.leases.release(["t"], handed_to="c")
    assert node_a.leases.take_over("t") == Taken(6, "released", "b")


def age_nodes(url: str, *, seen_s: float = 0.0, started_s: float = 0.0) -> None:
    """Every node's row as if it were seen and started that long ago."""
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(
            "UPDATE nodes SET seen_at = now() - make_interval(secs => %s),"
            " started_at = now() - make_interval(secs => %s)",
            (seen_s, started_s),
        )


def test_the_nodes_up_were_seen_within_the_ttl_and_started_the_join_delay_ago(
    postgres_url: str,
) -> None:
    with (
        EventStore(postgres_url, node="a", lease_ttl_s=10.0) as node_a,
        EventStore(postgres_url, node="b", lease_ttl_s=10.0) as node_b,
    ):
        node_a.leases.announce("http://127.0.0.1:8001")
        node_b.leases.announce("http://127.0.0.1:8002")
        # Just started: not up before the join delay.
        assert node_a.leases.nodes_up(5.0) == {}
        age_nodes(postgres_url, started_s=6.0)
        up = {"a": "http://127.0.0.1:8001", "b": "http://127.0.0.1:8002"}
        assert node_a.leases.nodes_up(5.0) == up
        # Not seen within the ttl: down. A look marks its node seen for the
        # looks after it (one statement reads the rows as they were before).
        age_nodes(postgres_url, seen_s=11.0, started_s=6.0)
        assert node_a.leases.nodes_up(5.0) == {}
        assert node_b.leases.nodes_up(5.0) == {"a": up["a"]}
        assert node_a.leases.nodes_up(5.0) == up
        # A restart under the same id starts the join delay again.
        node_b.leases.announce("http://127.0.0.1:9002")
        assert node_a.leases.nodes_up(5.0) == {"a": up["a"]}
        # A clean stop deletes the node's row.
        node_b.close()
        with psycopg.connect(postgres_url) as connection:
            rows = connection.execute("SELECT node FROM nodes").fetchall()
        assert rows == [("a",)]


def test_sqlite_grants_every_lease_and_fences_nothing(tmp_path: Path) -> None:
    # One process owns the file (its owner lock): there is nobody to fence.
    with EventStore(tmp_path / "pokerd.db") as store:
        assert store.leases.take("t") == 1
        store.append_blocking("t", 1, created())
        store.append_blocking("u", 1, created())  # no lease needed: one process
        assert store.leases.renew() == set()
        assert store.leases.free_tables() == ["u"]


def test_a_node_paused_inside_an_append_does_not_hold_its_table_for_ever(
    postgres_url: str, node_b: EventStore
) -> None:
    # A node stopped (SIGSTOP) between an append's statements keeps its
    # transaction open, and with it the FOR SHARE lock on the lease row that
    # another node's take must wait for. The database ends that transaction
    # once it has stood idle for the node's lease ttl.
    with EventStore(postgres_url, node="a", lease_ttl_s=0.5) as node_a:
        assert node_a.leases.take("t") == 1
        writer: psycopg.Connection[tuple[object, ...]]
        writer = node_a._backend.writer  # type: ignore[attr-defined]
        paused = writer.transaction()
        paused.__enter__()  # as the append does before its checks
        writer.execute("SELECT epoch FROM leases WHERE table_id = 't' FOR SHARE")
        expire(postgres_url, "t")

        taken: list[int | None] = []
        taker = threading.Thread(
            target=lambda: taken.append(node_b.leases.take("t")), daemon=True
        )
        taker.start()
        taker.join(WAIT_S)  # without the bound it would wait for ever

        assert taken == [2]
        assert lease_row(postgres_url, "t") == ("b", 2)
        with pytest.raises(psycopg.errors.IdleInTransactionSessionTimeout):
            writer.execute("SELECT 1")  # the paused node's session was ended
