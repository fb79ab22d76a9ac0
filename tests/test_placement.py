"""Nodes with cluster routing place each table where the router sends it.

Real `pokerd serve --cluster-routing` processes on one PostgreSQL database
(docs/design.md, "Where a table runs"): a table runs on the first node of its
slot's ranking among the nodes up (`pokerd.ops.ring.node_of`); a node joining
receives exactly the tables that rank it first, handed off by the others; a
node stopped or killed leaves its tables to the next of each ranking; a
client of a table handed off follows the close 4006 to the new node and
resumes there with every event once. No table ever runs on two nodes: the
nodes' own counts (/metrics) never add up to more than the tables.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import trio
from served import STEP_S, HttpApi, free_port, live_client, new_table, sit
from test_nodes import (
    TTL_S,
    Node,
    bots,
    kill,
    owners,
    start,
    stream_checks_pass,
    terminate,
    verify,
)
from trio_websocket import ConnectionClosed

from pokerd.ops.ring import node_of
from pokerd.tables.supervisor import GRACE_TTLS, JOIN_DELAY_S
from pokerd.tools.bots import Report, run_bots

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
        for node in nodes:
            if node.process is not None and node.process.returncode is None:
                node.process.kill()
                with trio.CancelScope(shield=True):
                    await node.process.wait()


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
            # Its stream is closed with 4006 naming the node it was handed to.
            with trio.fail_after(PLACEMENT_BOUND_S + STEP_S):
                with pytest.raises(ConnectionClosed) as closed:
                    while True:
                        await watcher.receive()
        assert closed.value.reason is not None
        assert (closed.value.reason.code, closed.value.reason.reason) == (
            4006,
            third.url,
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
    postgres_url: str, tmp_path: Path
) -> None:
    nodes = nodes_named(tmp_path, 2)
    first, second = nodes
    async with routed(postgres_url, nodes, started=1):
        await wait_nodes_up([first], 1)
        report: list[Report] = []
        options = bots([first], tables=12, hands=14)

        async def play() -> None:
            report.append(await run_bots(options, live=first.live))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(play)
            with trio.fail_after(PLACEMENT_BOUND_S):
                while len(owners(postgres_url)) < 12:
                    await trio.sleep(0.1)
            tables = sorted(owners(postgres_url))
            # The second node joins mid-game: the tables ranking it first move.
            await start(second, postgres_url, *ROUTED)
            joined = placement(tables, nodes)
            moved = [t for t, node in joined.items() if node == second.name]
            assert moved, joined
            await settle(postgres_url, nodes, lambda: joined)
        stream_checks_pass(report[0])
        assert report[0].hands == 12 * 14
        # The bots of the tables that moved followed the 4006 to the second
        # node (it names itself in the close) and resumed there.
        assert report[0].resumed >= len(moved)
        second_saw = await metrics(second)
        assert second_saw["pokerd_connections_opened_total"] >= len(moved)
        assert second_saw['pokerd_handoffs_total{direction="in"}'] == len(moved)
    verify(postgres_url)
