"""Nodes with cluster routing place each table where the router sends it.

Real `pokerd serve --cluster-routing` processes on one PostgreSQL database
(docs/design.md, "Where a table runs"): a table runs on the first node of its
slot's ranking among the nodes up (`pokerd.ops.ring.node_of`); a node joining
receives exactly the tables that rank it first, handed off by the others; a
node stopped or killed leaves its tables to the next of each ranking; a
client of a table handed off is closed with 4006, comes back (here through
its list of servers, behind HAProxy through the router) to the new node and
resumes there with every event once. No table ever runs on two nodes: the
nodes' own counts (/metrics) never add up to more than the tables.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, closing
from pathlib import Path

import attrs
import httpx
import pytest
import trio
import trio.testing
from databases import raw_connection
from served import STEP_S, HttpApi, free_port, live_client, new_table, sit, verify
from test_nodes import (
    TTL_S,
    Node,
    bots,
    kill,
    kill_all,
    owners,
    refused_hello,
    start,
    stream_checks_pass,
    terminate,
)
from trio_websocket import ConnectionClosed

from pokerd.engine import CreateTable, SitDown, TableConfig
from pokerd.ops.ring import node_of
from pokerd.store import EventStore
from pokerd.tables.supervisor import (
    GRACE_TTLS,
    JOIN_DELAY_S,
    Supervisor,
    TableElsewhereError,
)
from pokerd.tables.table import Table
from pokerd.tools.bots import Report, run_bots
from pokerd.tools.haproxy import Router

ROUTED = ("--cluster-routing",)
PLACEMENT_BOUND_S = 10 * (JOIN_DELAY_S + GRACE_TTLS * TTL_S)
"""Bound on waiting for the tables to settle: generous, never expected."""


def nodes_named(folder: Path, count: int) -> list[Node]:
    return [
        Node(f"node-{index}", free_port(), folder / f"node-{index}.log")
        for index in range(count)
    ]


@asynccontextmanager
async def routed(
    db: str, nodes: list[Node], started: int | None = None
) -> AsyncIterator[list[Node]]:
    """The first `started` of `nodes` (all by default) running with cluster
    routing; every node the test started is killed by its PID at the end."""
    try:
        for node in nodes[:started]:
            await start(node, db, *ROUTED)
        yield nodes
    finally:
        await kill_all(nodes)


async def metrics(node: Node) -> dict[str, float]:
    """The node's /metrics, each sample by its name and labels as written."""
    async with httpx.AsyncClient(trust_env=False) as client:
        answer = await client.get(f"{node.url}/metrics")
    assert answer.status_code == 200
    samples = {}
    for line in answer.text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


async def all_metrics(nodes: list[Node]) -> dict[str, dict[str, float]]:
    return {node.name: await metrics(node) for node in nodes}


async def settle(
    db: str, nodes: list[Node], expected: Callable[[], dict[str, str]]
) -> None:
    """Wait until the leases are `expected()`, checking all along that no
    table runs on two nodes (the running nodes' counts of tables never add
    up to more than the tables) and that each node runs what it leases."""
    with trio.fail_after(PLACEMENT_BOUND_S):
        while True:
            wanted = expected()
            running = [n for n in nodes if n.process and n.process.returncode is None]
            counts = await all_metrics(running)
            live = {name: int(m["pokerd_tables_live"]) for name, m in counts.items()}
            assert sum(live.values()) <= len(wanted), live
            held = owners(db)
            leased = {
                node.name: sum(1 for owner in held.values() if owner == node.name)
                for node in running
            }
            # Settled: each node runs exactly the tables it leases (a table
            # just taken is loaded a moment after its lease).
            if held == wanted and live == leased:
                return
            await trio.sleep(0.1)


def placement(tables: list[str], up: list[Node]) -> dict[str, str]:
    """Where the router sends each table with `up` up."""
    names = [node.name for node in up]
    return {table: str(node_of(table, names)) for table in tables}


async def wait_nodes_up(nodes: list[Node], count: int) -> None:
    """Until every node in `nodes` sees `count` nodes up."""
    with trio.fail_after(PLACEMENT_BOUND_S):
        while True:
            seen = await all_metrics(nodes)
            if all(m["pokerd_nodes_up"] == count for m in seen.values()):
                return
            await trio.sleep(0.1)


async def test_tables_run_where_the_router_sends_them_as_nodes_join_leave_and_die(
    postgres_url: str, tmp_path: Path
) -> None:
    nodes = nodes_named(tmp_path, 3)
    first, second, third = nodes
    async with routed(postgres_url, nodes, started=2):
        await wait_nodes_up([first, second], 2)
        # Tables created on either node, each with a player (so they must run).
        tables = []
        for index in range(12):
            api = HttpApi((first, second)[index % 2].port)
            table = await new_table(api)
            await sit(api, table, 0, "ann")
            tables.append(table)
        await settle(postgres_url, nodes, lambda: placement(tables, [first, second]))

        # A third node joins: it receives exactly the tables ranking it first.
        joined = placement(tables, nodes)
        moved = sorted(t for t, node in joined.items() if node == third.name)
        assert moved, joined  # 12 random ids: all ranking others first is 1 in 500
        was_at = next(n for n in nodes if n.name == owners(postgres_url)[moved[0]])
        async with live_client(was_at.live, moved[0]) as watcher:
            await start(third, postgres_url, *ROUTED)
            # Its stream is closed with 4006 naming no node: behind the
            # router, clients come back through it to the new node.
            with trio.fail_after(PLACEMENT_BOUND_S + STEP_S):
                with pytest.raises(ConnectionClosed) as closed:
                    while True:
                        await watcher.receive()
        assert closed.value.reason is not None
        assert (closed.value.reason.code, closed.value.reason.reason) == (
            4006,
            None,  # an empty reason
        )
        await settle(postgres_url, nodes, lambda: joined)
        counted = await all_metrics(nodes)
        handed_out = sum(
            m['pokerd_handoffs_total{direction="out"}'] for m in counted.values()
        )
        assert handed_out == len(moved)
        assert counted[third.name]['pokerd_handoffs_total{direction="in"}'] == len(
            moved
        )
        assert counted[third.name]["pokerd_leases_held"] == len(moved)
        assert all(m["pokerd_takeovers_total"] == 0 for m in counted.values())
        assert all(m["pokerd_appends_fenced_total"] == 0 for m in counted.values())
        assert all(
            m['pokerd_lease_renewals_total{result="ok"}'] > 0 for m in counted.values()
        )

        # Stopped cleanly: its tables go to the next node of each ranking.
        await terminate(third)
        await settle(postgres_url, nodes, lambda: placement(tables, [first, second]))

        # Killed: the leases run out and the survivor takes them over.
        second_had = [t for t, n in owners(postgres_url).items() if n == second.name]
        assert second_had
        await kill(second)
        await settle(postgres_url, nodes, lambda: placement(tables, [first]))
        takeovers = (await metrics(first))["pokerd_takeovers_total"]
        assert takeovers == len(second_had)
    verify(postgres_url)


async def test_a_client_of_a_table_handed_off_resumes_on_its_new_node(
    postgres_url: str, haproxy: Path, tmp_path: Path
) -> None:
    nodes = nodes_named(tmp_path, 2)
    first, second = nodes
    # The bots reach the nodes through HAProxy, as in a cluster: a table
    # handed off closes its streams with 4006 naming no node, and the bots
    # come back through the router, which sends them to the new node.
    front = Router(
        {node.name: f"127.0.0.1:{node.port}" for node in nodes},
        f"127.0.0.1:{free_port()}",
        folder=tmp_path / "haproxy",
    )
    async with routed(postgres_url, nodes, started=1):
        await wait_nodes_up([first], 1)
        await trio.to_thread.run_sync(front.start)
        report: list[Report] = []
        # Until stopped, not a number of hands: with 14 hands the games could
        # end before the second node had joined (its start, the join delay
        # and a keeper tick), and no stream was left to move ("resumed 0").
        options = attrs.evolve(bots([first], tables=12, hands=0), url=front.url)
        stop = trio.Event()

        async def play() -> None:
            live = front.url.replace("http://", "ws://")
            report.append(await run_bots(options, live=live, stop=stop))

        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(play)
                with trio.fail_after(PLACEMENT_BOUND_S):
                    while len(owners(postgres_url)) < 12:
                        await trio.sleep(0.1)
                tables = sorted(owners(postgres_url))
                # The second node joins mid-game: the tables ranking it first
                # move.
                await start(second, postgres_url, *ROUTED)
                joined = placement(tables, nodes)
                moved = [t for t, node in joined.items() if node == second.name]
                assert moved, joined
                await settle(postgres_url, nodes, lambda: joined)
                # Play on until the bots have acted at each moved table on
                # its new node: they came back and resumed there.
                async with httpx.AsyncClient(trust_env=False) as http:

                    async def seq(table: str) -> int:
                        answer = await http.get(f"{second.url}/tables/{table}")
                        assert answer.status_code == 200, answer.text
                        return int(answer.json()["seq"])

                    settled = {table: await seq(table) for table in moved}
                    with trio.fail_after(PLACEMENT_BOUND_S):
                        for table in moved:
                            while await seq(table) < settled[table] + 2:
                                await trio.sleep(0.1)
                stop.set()
        finally:
            await trio.to_thread.run_sync(front.stop)
        stream_checks_pass(report[0])
        # The bots of the tables that moved went on, after the 4006, to the
        # second node and resumed there.
        assert report[0].resumed >= len(moved)
        second_saw = await metrics(second)
        assert second_saw["pokerd_connections_opened_total"] >= len(moved)
        assert second_saw['pokerd_handoffs_total{direction="in"}'] == len(moved)
    verify(postgres_url)


async def test_a_routed_node_asked_for_another_nodes_table_says_come_back_later(
    postgres_url: str, tmp_path: Path
) -> None:
    # Behind the router a client must never be sent to a node's own address
    # (a page's CSP forbids it, and a dead node's address leads nowhere).
    nodes = nodes_named(tmp_path, 2)
    first, second = nodes
    async with routed(postgres_url, nodes):
        await wait_nodes_up(nodes, 2)
        table = await new_table(HttpApi(first.port))
        await sit(HttpApi(first.port), table, 0, "ann")
        assert owners(postgres_url) == {table: first.name}
        # HTTP: 503 to send again later, here; no Location.
        async with httpx.AsyncClient(trust_env=False) as raw:
            answer = await raw.get(f"{second.url}/tables/{table}/events?after=0")
        assert answer.status_code == 503
        assert "location" not in answer.headers
        assert answer.headers["retry-after"] == "1"
        assert answer.json()["code"] == "table_moving"
        # The live stream: the hello refused with table_moving, then 4006
        # naming no node.
        refusal, closed = await refused_hello(second.live, table)
        assert refusal["code"] == "table_moving"
        # An empty reason arrives as None.
        assert closed == (4006, None)
        assert owners(postgres_url) == {table: first.name}


async def test_a_routed_node_asked_for_a_table_held_by_no_known_node_says_later(
    postgres_url: str, tmp_path: Path
) -> None:
    # A lease whose owner has no address (a node gone from `nodes`, or the
    # lease changing hands in between): at a routed node the client goes back
    # to the router, as for any table held elsewhere. It got table_restarting
    # and the socket waited for a second hello, then closed 4002.
    nodes = nodes_named(tmp_path, 1)
    (node,) = nodes
    await with_a_player(postgres_url, "ghosted")
    sql(
        postgres_url,
        "INSERT INTO leases (table_id, owner, epoch, lease_until)"
        " VALUES ('ghosted', 'ghost', 1, now() + interval '1 hour')",
    )
    async with routed(postgres_url, nodes):
        await wait_nodes_up(nodes, 1)
        refusal, closed = await refused_hello(node.live, "ghosted")
        async with httpx.AsyncClient(trust_env=False) as raw:
            answer = await raw.get(f"{node.url}/tables/ghosted/events?after=0")
    assert refusal["code"] == "table_moving"
    assert closed == (4006, None)
    assert answer.status_code == 503
    assert answer.json()["code"] == "table_moving"


# One node's decisions, in this process: a supervisor on a fenced store, the
# other node played by rows of `nodes` and `leases`. Real time flows (the mock
# clock's rate is 1); its jumps stand for the grace going by.

IN_PROCESS_TTL_S = 60.0
"""Long: the keeper ticks only when the test jumps the clock."""
A, B = "http://127.0.0.1:1", "http://127.0.0.1:2"


def placed(node: str, up: list[str], avoid: str = "") -> str:
    """The first id of t0, t1, ... that `node_of` gives `node` among `up`."""
    return next(
        f"t{index}"
        for index in range(10_000)
        if node_of(f"t{index}", up) == node and f"t{index}" != avoid
    )


def sql(url: str, statement: str, *parameters: object) -> list[tuple[object, ...]]:
    with closing(raw_connection(url)) as connection:
        rows = connection.execute(statement, parameters)
        return list(rows.fetchall()) if statement.startswith("SELECT") else []


async def with_a_player(url: str, *table_ids: str) -> None:
    """Tables in the log with a player each (so they must run), no lease."""
    with EventStore(url) as writer:  # unfenced: a tool, as an earlier server
        for table_id in table_ids:
            table = Table(table_id, writer)
            await table.execute(CreateTable(config=TableConfig(max_seats=6)))
            await table.execute(SitDown(seat=0, name="ann", buy_in=100))
            await table.close()


def node_b_up(url: str) -> None:
    """Node b seen now and for the next hour, started an hour ago."""
    sql(
        url,
        "INSERT INTO nodes (node, address, seen_at, started_at) VALUES"
        " ('b', ?, now() + interval '1 hour', now() - interval '1 hour')"
        " ON CONFLICT (node) DO UPDATE SET seen_at = EXCLUDED.seen_at,"
        " started_at = EXCLUDED.started_at",
        B,
    )


@asynccontextmanager
async def node_a(url: str, **options: object) -> AsyncIterator[Supervisor]:
    """Node a, up from the start, running a routed supervisor."""
    with EventStore(url, node="a", lease_ttl_s=IN_PROCESS_TTL_S) as store:
        store.leases.announce(A)
        sql(url, "UPDATE nodes SET started_at = now() - interval '1 hour'")
        supervisor = Supervisor(store, cluster_routing=True, **options)  # type: ignore[arg-type]
        async with trio.open_nursery() as nursery:
            await nursery.start(supervisor.run)
            yield supervisor
            nursery.cancel_scope.cancel()


async def next_tick(supervisor: Supervisor, clock: trio.testing.MockClock) -> None:
    """Jump to the keeper's next tick and wait until its round is over (the
    keeper asleep again: a round's end and its sleep have no checkpoint in
    between, and a tick comes only with a jump, the ttl being long)."""
    await eventually(lambda: supervisor.keeper_rounds * supervisor.renewal_rounds > 0)
    scans, renewals = supervisor.keeper_rounds, supervisor.renewal_rounds
    clock.jump(IN_PROCESS_TTL_S / 3)
    await eventually(
        lambda: (
            supervisor.keeper_rounds > scans and supervisor.renewal_rounds > renewals
        )
    )


async def eventually(predicate: Callable[[], bool]) -> None:
    """Wait until `predicate` holds (the mock clock jumps only when told)."""
    with trio.fail_after(STEP_S):
        while not predicate():
            await trio.to_thread.run_sync(time.sleep, 0.01)


async def test_a_table_another_node_ranks_first_is_left_free_for_the_grace_then_kept(
    postgres_url: str, mock_clock: trio.testing.MockClock
) -> None:
    mock_clock.rate = 1.0
    mine = placed("a", ["a", "b"])
    theirs = placed("b", ["a", "b"])
    await with_a_player(postgres_url, mine, theirs)
    node_b_up(postgres_url)
    async with node_a(postgres_url) as supervisor:
        assert supervisor.up == {"a": A, "b": B}
        # The start-up scan takes the table whose slot ranks a first only.
        assert supervisor.table_ids() == [mine]
        await next_tick(supervisor, mock_clock)
        assert supervisor.table_ids() == [mine]
        # b never takes it: once free longer than the grace, a adopts it...
        mock_clock.jump(GRACE_TTLS * IN_PROCESS_TTL_S)
        await eventually(lambda: supervisor.table_ids() == sorted([mine, theirs]))
        # ...and keeps it while the same nodes are up (no hand-off to b).
        await next_tick(supervisor, mock_clock)
        await next_tick(supervisor, mock_clock)
        assert supervisor.table_ids() == sorted([mine, theirs])
        assert supervisor.metrics.handoffs.value("out") == 0


async def test_a_table_handed_off_is_released_to_its_node_and_not_taken_back(
    postgres_url: str, mock_clock: trio.testing.MockClock
) -> None:
    mock_clock.rate = 1.0
    mine = placed("a", ["a", "b"])
    theirs = placed("b", ["a", "b"])
    await with_a_player(postgres_url, mine, theirs)
    moved: list[str] = []
    async with node_a(
        postgres_url, on_moved=lambda table, _: moved.append(table)
    ) as supervisor:
        # Alone, a runs both.
        assert supervisor.up == {"a": A}
        assert supervisor.table_ids() == sorted([mine, theirs])
        # b comes up: at the next tick a hands b the table b ranks first.
        node_b_up(postgres_url)
        await next_tick(supervisor, mock_clock)
        # Its streams are told it moved, once it is unloaded and its lease
        # released (naming no node: `on_moved` carries none, clients come
        # back through the router).
        await eventually(lambda: moved == [theirs])
        assert supervisor.table_ids() == [mine]
        assert sql(
            postgres_url,
            "SELECT owner, handed_to, lease_until = '-infinity' FROM leases"
            " WHERE table_id = ?",
            theirs,
        ) == [("a", "b", True)]
        assert supervisor.metrics.handoffs.value("out") == 1
        # A request at a for it is not taken back (the service answers 503
        # table_moving: tests above).
        with pytest.raises(TableElsewhereError) as elsewhere:
            await supervisor.open_table(theirs)
        assert (elsewhere.value.node, elsewhere.value.address) == ("b", B)
        assert supervisor.table_ids() == [mine]
        # b takes it as a hand-off.
        with EventStore(postgres_url, node="b") as store_b:
            taken = store_b.leases.take_over(theirs)
        assert taken is not None
        assert (taken.taken_from, taken.previous_owner) == ("handed", "a")


async def test_renewals_are_counted_as_they_succeed_or_fail(
    postgres_url: str, mock_clock: trio.testing.MockClock
) -> None:
    mock_clock.rate = 1.0
    mine = placed("a", ["a"])
    await with_a_player(postgres_url, mine)
    async with node_a(postgres_url) as supervisor:
        renewals = supervisor.metrics.lease_renewals
        assert supervisor.table_ids() == [mine]
        await next_tick(supervisor, mock_clock)
        assert (renewals.value("ok"), renewals.value("failed")) == (1, 0)
        # The renewal statement fails (its table is not there), then works again.
        sql(postgres_url, "ALTER TABLE leases RENAME TO leases_away")
        try:
            await next_tick(supervisor, mock_clock)
        finally:
            sql(postgres_url, "ALTER TABLE leases_away RENAME TO leases")
        assert (renewals.value("ok"), renewals.value("failed")) == (1, 1)
        await next_tick(supervisor, mock_clock)
        assert (renewals.value("ok"), renewals.value("failed")) == (2, 1)
        assert supervisor.table_ids() == [mine]
        assert supervisor.metrics.takeovers.value() == 0
