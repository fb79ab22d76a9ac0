"""Several `pokerd serve` nodes on one PostgreSQL database, as processes.

Each node runs the tables whose lease it holds (docs/design.md, Nodes). These
tests kill, stop and restart nodes under bots and clients, and check that a
dead or paused node's tables are taken over, that no log forks, and that the
clients resume where they were.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing
from pathlib import Path

import attrs
import httpx
import pytest
import trio
from databases import raw_connection
from served import (
    GRACE_S,
    STEP_S,
    HttpApi,
    free_port,
    live_client,
    log_file,
    new_table,
    pokerd_env,
    sit,
    verify,
    wait_healthy,
)
from trio_websocket import ConnectionClosed

from pokerd.client import Client, Received
from pokerd.tools.bots import BotsOptions, Report, run_bots

TTL_S = 1.5
"""The nodes' lease ttl: short, so that takeovers are quick."""
TAKEOVER_BOUND_S = 4 * STEP_S
"""Bound on waiting for a takeover: generous, never expected (no timing check)."""


@attrs.define
class Node:
    """A `pokerd serve` process of the cluster, at a fixed port."""

    name: str
    port: int
    log: Path
    process: trio.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def live(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


async def start(node: Node, db: str, *flags: str) -> None:
    """Start (or start again) the node, with `flags` besides the usual ones,
    and wait for its /healthz."""
    command = [
        sys.executable,
        "-m",
        "pokerd",
        "serve",
        "--db",
        db,
        "--port",
        str(node.port),
        "--node-id",
        node.name,
        "--lease-ttl-s",
        str(TTL_S),
        "--next-hand-delay-ms",
        "0",
        "--shutdown-grace-s",
        str(GRACE_S),
        *flags,
    ]
    with log_file(node.log) as output:
        node.process = await trio.lowlevel.open_process(
            command, stdout=output, stderr=output, env=pokerd_env()
        )
    await wait_healthy(HttpApi(node.port))


async def terminate(node: Node) -> None:
    """SIGTERM: a clean stop, which must exit 0."""
    assert node.process is not None
    node.process.terminate()
    with trio.fail_after(GRACE_S + STEP_S):
        code = await node.process.wait()
    assert code == 0, node.log.read_text()


async def kill(node: Node) -> None:
    assert node.process is not None
    node.process.kill()
    await node.process.wait()


@asynccontextmanager
async def cluster(db: str, folder: Path, count: int = 2) -> AsyncIterator[list[Node]]:
    """`count` nodes on `db`, killed by their PID when the block ends."""
    nodes = [
        Node(f"node-{index}", free_port(), folder / f"node-{index}.log")
        for index in range(count)
    ]
    try:
        for node in nodes:
            await start(node, db)
        yield nodes
    finally:
        await kill_all(nodes)


async def kill_all(nodes: list[Node]) -> None:
    """SIGKILL every node still running (a test's end, even a failed one)."""
    for node in nodes:
        if node.process is not None and node.process.returncode is None:
            node.process.kill()
            with trio.CancelScope(shield=True):
                await node.process.wait()


def owners(db: str) -> dict[str, str]:
    """Each table's lease holder now, by the database's clock."""
    with closing(raw_connection(db)) as connection:
        rows = connection.execute(
            "SELECT table_id, owner FROM leases WHERE lease_until >= now()"
        ).fetchall()
    return {str(table): str(owner) for table, owner in rows}


def table_ids(db: str) -> list[str]:
    with closing(raw_connection(db)) as connection:
        rows = connection.execute("SELECT table_id FROM tables").fetchall()
    return sorted(str(row[0]) for row in rows)


def finished_hands(db: str) -> int:
    with closing(raw_connection(db)) as connection:
        return int(connection.execute("SELECT COUNT(*) FROM hands").fetchone()[0])


async def until(check: object, bound_s: float = TAKEOVER_BOUND_S) -> None:
    """Poll `check()` until it is true (fails after the generous bound)."""
    assert callable(check)
    with trio.fail_after(bound_s):
        while not check():
            await trio.sleep(0.1)


def stream_checks_pass(report: Report) -> None:
    """What the bots received is exactly each table's log, every resume
    recovered. (Errors are allowed: a request whose ack died with its node
    is decided afresh by the next one, usually refused.)"""
    assert report.gaps == 0, report.lines()
    assert report.duplicates == 0, report.lines()
    assert report.mismatches == 0, report.problems[:3]
    assert report.not_resumed == 0, report.lines()
    assert report.unfinished == 0, report.lines()
    assert report.events_checked > 0


async def refused_hello(
    live_url: str, table: str
) -> tuple[dict[str, object], tuple[int, str | None]]:
    """A spectator's hello to a node that does not run `table`: its refusal,
    then the close that follows it, as (error, (code, reason))."""
    async with live_client(live_url, table, hello=False) as client:
        await client.send({"type": "hello", "token": None, "resume": None})
        refusal = await client.receive()
        with trio.fail_after(STEP_S):
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await client.receive()
    reason = closed.value.reason
    assert reason is not None
    return refusal, (reason.code, reason.reason)


def bots(nodes: list[Node], *, tables: int, hands: int) -> BotsOptions:
    return BotsOptions(
        url=nodes[0].url,
        servers=tuple(node.url for node in nodes[1:]),
        tables=tables,
        seats=2,
        hands=hands,
        seed=14,
        heartbeat_s=2.0,
    )


async def test_a_killed_nodes_tables_are_taken_over_and_play_on(
    postgres_url: str, tmp_path: Path
) -> None:
    async with cluster(postgres_url, tmp_path) as (first, second):
        report: list[Report] = []
        options = bots([first, second], tables=10, hands=12)

        async def play() -> None:
            report.append(await run_bots(options, live=first.live))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(play)
            await until(lambda: finished_hands(postgres_url) >= 20)
            held = owners(postgres_url)
            lost = sorted(t for t, owner in held.items() if owner == first.name)
            assert lost, held  # the first node ran some of the tables
            assert len(held) == 10
            await kill(first)
            await until(
                lambda: all(
                    owners(postgres_url).get(table) == second.name for table in lost
                )
            )
        stream_checks_pass(report[0])
        assert report[0].hands == 10 * 12
        assert report[0].resumed > 0
    verify(postgres_url)
    log = (tmp_path / "node-1.log").read_text()
    assert "taken at lease epoch 2" in log


async def test_a_paused_node_is_fenced_and_steps_down(
    postgres_url: str, tmp_path: Path
) -> None:
    async with cluster(postgres_url, tmp_path) as (first, second):
        report: list[Report] = []
        options = bots([first, second], tables=4, hands=80)

        async def play() -> None:
            report.append(await run_bots(options, live=first.live))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(play)
            await until(lambda: finished_hands(postgres_url) >= 8)
            held = owners(postgres_url)
            assert first.name in held.values(), held
            assert first.process is not None
            os.kill(first.process.pid, signal.SIGSTOP)
            try:
                await until(
                    lambda: (
                        set(owners(postgres_url).values()) == {second.name}
                        and len(owners(postgres_url)) == 4
                    )
                )
                hands_then = finished_hands(postgres_url)
                await until(lambda: finished_hands(postgres_url) > hands_then)
            finally:
                os.kill(first.process.pid, signal.SIGCONT)
            await until(lambda: "stepped down" in first.log.read_text(), bound_s=STEP_S)
        stream_checks_pass(report[0])
        # The paused node lives on, and runs none of the tables.
        status, health = await HttpApi(first.port).call("GET", "/healthz")
        assert status == 200
        assert health["tables"] == 0
    verify(postgres_url)


async def test_a_rolling_restart_loses_nothing_and_every_client_resumes(
    postgres_url: str, tmp_path: Path
) -> None:
    async with cluster(postgres_url, tmp_path) as nodes:
        report: list[Report] = []
        options = bots(nodes, tables=6, hands=40)

        async def play() -> None:
            report.append(await run_bots(options, live=nodes[0].live))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(play)
            hands = 6
            for node in nodes:
                await until(
                    lambda at_least=hands: finished_hands(postgres_url) >= at_least
                )
                await terminate(node)
                # A clean stop gives its leases up: the other node takes them.
                await until(lambda: len(owners(postgres_url)) == 6)
                await start(node, postgres_url)
                hands = finished_hands(postgres_url) + 6
        stream_checks_pass(report[0])
        assert report[0].hands == 6 * 40
        assert report[0].resumed > 0
    verify(postgres_url)


async def test_a_client_resumes_on_the_node_that_took_its_table_over(
    postgres_url: str, tmp_path: Path
) -> None:
    async with cluster(postgres_url, tmp_path) as (first, second):
        options = attrs.evolve(bots([first], tables=1, hands=3), seats=3)
        report = await run_bots(options, live=first.live)
        assert report.ok, report.lines()
        [table] = table_ids(postgres_url)
        # The bots left their seats taken: the table runs on the first node.
        assert owners(postgres_url) == {table: first.name}
        spectator = Client(first.url, first.live, table, epoch=None)
        async with trio.open_nursery() as nursery:
            await nursery.start(spectator.run)
            epoch = spectator.epoch
            spectator.close()
        assert epoch is not None
        offset = 5
        await kill(first)
        # From the second node (the first is dead), resuming from an offset.
        late = Client(second.url, second.live, table, epoch=epoch, offset=offset)
        async with trio.open_nursery() as nursery:
            with trio.fail_after(TAKEOVER_BOUND_S):
                await nursery.start(late.run)
            assert late.recovered
            received: list[Received] = late.events
            late.close()
        expected = await HttpApi(second.port).log(table, None, until=late.offset)
        assert [event.seq for event in received] == list(
            range(offset + 1, late.offset + 1)
        )
        assert received == [event for event in expected if event.seq > offset]


async def test_a_node_sends_requests_for_another_nodes_table_to_it(
    postgres_url: str, tmp_path: Path
) -> None:
    async with cluster(postgres_url, tmp_path) as (first, second):
        table = await new_table(HttpApi(first.port))
        await sit(HttpApi(first.port), table, 0, "ann")
        assert owners(postgres_url) == {table: first.name}
        # HTTP: 307 to the same path and query at the owner, an error body.
        async with httpx.AsyncClient(trust_env=False) as raw:
            answer = await raw.get(f"{second.url}/tables/{table}/events?after=0")
        assert answer.status_code == 307
        assert answer.headers["location"] == (
            f"{first.url}/tables/{table}/events?after=0"
        )
        assert answer.json()["code"] == "table_moved"
        # The live stream: the hello refused with table_moved, then 4006
        # naming the owner.
        refusal, closed = await refused_hello(second.live, table)
        assert refusal["code"] == "table_moved"
        assert refusal["message"] == first.url
        assert closed == (
            4006,
            first.url,
        )
        # pokerd's client follows both, to the table's node.
        follower = Client(second.url, second.live, table)
        async with trio.open_nursery() as nursery:
            with trio.fail_after(STEP_S):
                await nursery.start(follower.run)
            assert follower.live_url == first.live
            follower.close()
        # The owner's table is still its own: nothing moved.
        assert owners(postgres_url) == {table: first.name}
