"""A cluster for tests: nodes on PostgreSQL behind HAProxy, bots, their checks.

Every part is a real process, from `pokerd.tools.cluster.LocalCluster`:
PostgreSQL and HAProxy shared by a module's tests (`shared_cluster`), and
for each test a database of its own and its `pokerd serve --cluster-routing`
nodes (`running_cluster`), all named in HAProxy's configuration from the
start, so a node started later is one HAProxy finds up. `pokerd bots` talks
to HAProxy's port only. The helpers read the database as a second program
would, to see who holds each table, and ask each node itself what it runs.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, closing, contextmanager
from functools import partial
from pathlib import Path

import attrs
import httpx
import trio
from databases import raw_connection
from served import GRACE_S, STEP_S, log_file

from pokerd.ops.ring import node_of
from pokerd.tools.cluster import LocalCluster
from pokerd.tools.haproxy import Checks
from pokerd.tools.replay import migrate_command
from pokerd.wire.protocol import ErrorCode

TTL_S = 1.5
"""The nodes' lease ttl: short, so that takeovers are quick."""
MOVE_BOUND_S = 4 * STEP_S
"""Bound on waiting for tables to move: generous, never expected."""
POLL_S = 0.1
THINK_S = 0.05
"""The bots' pause before acting: a hand in about a second, and CPU left on a
2-core machine for the nodes, PostgreSQL and HAProxy."""
CHECKS = Checks()
"""HAProxy's health checks, the cluster's defaults (a check every 500 ms,
given 2 s to answer, 3 failed in a row mark a node down). A node marked down
loses every session through HAProxy: with checks that waited `inter` (200 ms)
for their answer and 2 of them, a node busy serving the bots' final log
checks (16 logs of ~180 KB at once) was marked down and its sessions cut."""


def up(cluster: LocalCluster) -> set[str]:
    """The nodes running now."""
    return {name for name, node in cluster.nodes.items() if node.running()}


@contextmanager
def shared_cluster(nodes: int = 3) -> Iterator[LocalCluster]:
    """`pokerd cluster`'s library with no node started: PostgreSQL and
    HAProxy (on a free port) in front of `nodes` nodes (node1...), for the
    tests of a module to share (`running_cluster` gives each its database
    and its nodes). Stopped, every process by its PID, and removed after."""
    # Not under pytest's tmp_path: as root, PostgreSQL runs as the postgres
    # user, who may not enter pytest's folders (0700).
    made = Path(tempfile.mkdtemp(prefix="pokerd-cluster-test-"))
    made.chmod(0o755)
    cluster = LocalCluster(
        made / "cluster",
        nodes=nodes,
        start_nodes=0,
        port=0,
        lease_ttl_s=TTL_S,
        node_flags=[
            *("--next-hand-delay-ms", "0"),
            *("--shutdown-grace-s", str(GRACE_S)),
        ],
        checks=CHECKS,
        fsync=False,
    )
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        if os.environ.get("KEEP_CLUSTER_FOLDER") is None:
            shutil.rmtree(made, ignore_errors=True)


@asynccontextmanager
async def running_cluster(
    cluster: LocalCluster, *, start_nodes: int | None = None
) -> AsyncIterator[LocalCluster]:
    """The shared cluster on a new database of its own, with its first
    `start_nodes` nodes (default: all) started; when the block ends, every
    node is killed (by its PID) and the database dropped."""
    started = time.monotonic()
    url = await trio.to_thread.run_sync(cluster.postgres.create_database)
    out = io.StringIO()
    code = await trio.to_thread.run_sync(migrate_command, url, out, out)
    assert code == 0, out.getvalue()
    cluster.database_url = url  # what the nodes started from now on use
    names = list(cluster.nodes)[:start_nodes]
    try:
        async with trio.open_nursery() as nursery:
            for name in names:
                nursery.start_soon(
                    partial(
                        trio.to_thread.run_sync,
                        partial(cluster.start_node, name, routed=False),
                    )
                )
        await trio.to_thread.run_sync(cluster.wait_routed)
        await until(
            lambda: views_agree(cluster), explain=lambda: nodes_seen_up(cluster)
        )
        print(f"{len(names)} nodes started in {time.monotonic() - started:.1f} s")
        yield cluster
    finally:
        with trio.CancelScope(shield=True):
            for name, node in cluster.nodes.items():
                if node.running():
                    await trio.to_thread.run_sync(cluster.kill_node, name)
            database = url.rsplit("/", 1)[1]
            await trio.to_thread.run_sync(cluster.postgres.drop_database, database)


async def stop_node(cluster: LocalCluster, name: str) -> None:
    """SIGTERM: a clean stop, which must exit 0."""
    code = await trio.to_thread.run_sync(cluster.stop_node, name)
    assert code == 0, cluster.nodes[name].log.read_text()[-3000:]


async def in_thread(function: Callable[..., object], *args: object) -> None:
    await trio.to_thread.run_sync(function, *args)


# What the database says


@attrs.frozen
class Lease:
    owner: str
    epoch: int


def leases(db: str) -> dict[str, Lease]:
    """Each table's live lease now, by the database's clock."""
    with closing(raw_connection(db)) as connection:
        rows = connection.execute(
            "SELECT table_id, owner, epoch FROM leases WHERE lease_until >= now()"
        ).fetchall()
    return {str(table): Lease(str(owner), int(epoch)) for table, owner, epoch in rows}


def owners(db: str) -> dict[str, str]:
    return {table: lease.owner for table, lease in leases(db).items()}


def table_ids(db: str) -> list[str]:
    with closing(raw_connection(db)) as connection:
        rows = connection.execute("SELECT table_id FROM tables").fetchall()
    return sorted(str(row[0]) for row in rows)


def hands_by_table(db: str) -> dict[str, int]:
    """Each table's hands played to the end."""
    with closing(raw_connection(db)) as connection:
        rows = connection.execute(
            "SELECT table_id, COUNT(*) FROM hands GROUP BY table_id"
        ).fetchall()
    return {str(table): int(count) for table, count in rows}


def routed(tables: Iterable[str], up: Iterable[str]) -> dict[str, str]:
    """Where the router sends each table with `up` up."""
    nodes = sorted(up)
    placed = {table: node_of(table, nodes) for table in tables}
    return {table: node for table, node in placed.items() if node is not None}


def placed_as_routed(db: str, up: Iterable[str], count: int) -> bool:
    """All `count` tables held, each by the node the router sends it to."""
    held = owners(db)
    return len(held) == count and held == routed(held, up)


async def until(
    check: Callable[[], bool],
    bound_s: float = MOVE_BOUND_S,
    explain: Callable[[], object] = lambda: "",
) -> None:
    """Poll `check()` until it holds; after the generous bound, fail with
    what `explain()` says then."""
    with trio.move_on_after(bound_s):
        while not check():
            await trio.sleep(POLL_S)
        return
    raise AssertionError(f"not so after {bound_s} s: {explain()}")


async def until_placed(db: str, cluster: LocalCluster, count: int) -> None:
    """Until all `count` tables are held, each by the node the router sends
    it to with the nodes running now."""
    await until(
        lambda: placed_as_routed(db, up(cluster), count),
        explain=lambda: misplaced(db, up(cluster)),
    )


def misplaced(db: str, up: Iterable[str]) -> str:
    held = owners(db)
    wrong = {t: (o, routed([t], up).get(t)) for t, o in held.items()}
    shown = {t: pair for t, pair in wrong.items() if pair[0] != pair[1]}
    return f"{len(held)} tables held; (held by, routed to): {shown}"


def played_on(db: str, since: dict[str, int], tables: Iterable[str], more: int) -> bool:
    """Every one of `tables` finished `more` hands after `since`."""
    now = hands_by_table(db)
    return all(now.get(table, 0) >= since.get(table, 0) + more for table in tables)


def holders(cluster: LocalCluster, table: str) -> dict[str, int]:
    """What each running node answers for `table` itself (no redirect
    followed): 200 from the node that runs it, 503 `table_moving` from the
    others (routed nodes never send a client to another node)."""
    answers = {}
    with httpx.Client(trust_env=False, timeout=STEP_S) as http:
        for name in sorted(up(cluster)):
            answer = http.get(f"{cluster.node_url(name)}/tables/{table}")
            answers[name] = answer.status_code
    return answers


def nodes_seen_up(cluster: LocalCluster) -> dict[str, int]:
    """How many nodes each running node counts up (`pokerd_nodes_up`)."""
    seen = {}
    with httpx.Client(trust_env=False, timeout=STEP_S) as http:
        for name in sorted(up(cluster)):
            text = http.get(f"{cluster.node_url(name)}/metrics").text
            [line] = [x for x in text.splitlines() if x.startswith("pokerd_nodes_up ")]
            seen[name] = int(float(line.split()[1]))
    return seen


def views_agree(cluster: LocalCluster) -> bool:
    """Every running node counts every running node up, as HAProxy does: a
    table created now is created where the router sends it (before, a node
    that did not count the others yet kept its new tables, which the router
    sent elsewhere, and requests for them bounced between the two)."""
    return set(nodes_seen_up(cluster).values()) == {len(up(cluster))}


def metrics(cluster: LocalCluster) -> dict[str, dict[str, float]]:
    """Each running node's placement counters, from its /metrics: hand-offs
    out and in, takeovers, appends refused by the fence."""
    wanted = {
        'pokerd_handoffs_total{direction="out"}': "handoffs out",
        'pokerd_handoffs_total{direction="in"}': "handoffs in",
        "pokerd_takeovers_total": "takeovers",
        "pokerd_appends_fenced_total": "fenced",
    }
    found: dict[str, dict[str, float]] = {}
    with httpx.Client(trust_env=False, timeout=STEP_S) as http:
        for name in sorted(up(cluster)):
            text = http.get(f"{cluster.node_url(name)}/metrics").text
            values = dict(
                line.rsplit(" ", 1) for line in text.splitlines() if line[:1] != "#"
            )
            found[name] = {key: float(values[line]) for line, key in wanted.items()}
    return found


async def tables_running(
    http: httpx.AsyncClient, cluster: LocalCluster, order: Sequence[str]
) -> dict[str, int]:
    """How many tables each node says it runs (its /healthz), asked in `order`;
    0 from a node that cannot be reached."""
    running = {}
    for name in order:
        try:
            answer = await http.get(f"{cluster.node_url(name)}/healthz")
        except httpx.TransportError:
            running[name] = 0
            continue
        running[name] = int(answer.json()["tables"])
    return running


# The bots


@attrs.frozen
class BotsSummary:
    """`pokerd bots`' summary: its exit status and its "key: value" lines."""

    code: int
    lines: dict[str, str]
    output: str

    def count(self, key: str) -> int:
        return int(self.lines[key])

    @property
    def errors(self) -> str:
        """ "none", or "CODE N, ..." """
        return self.lines["errors"]

    @property
    def error_codes(self) -> dict[str, int]:
        if self.errors == "none":
            return {}
        pairs = [item.rsplit(" ", 1) for item in self.errors.split(", ")]
        return {code: int(count) for code, count in pairs}

    @property
    def protocol_errors(self) -> dict[str, int]:
        """The errors other than a rule's refusal of an action (the protocol's
        own codes: a bad token, an unavailable table, an internal error...)."""
        protocol = {code.value for code in ErrorCode}
        return {c: n for c, n in self.error_codes.items() if c in protocol}


class Bots:
    """`pokerd bots` at `url` playing until `finish`, seats at `tables` tables."""

    def __init__(self, url: str, folder: Path, *, tables: int, seed: int) -> None:
        self.output = folder / "bots.out"
        self.command = [
            sys.executable,
            "-m",
            "pokerd",
            "bots",
            "--url",
            url,
            *("--tables", str(tables), "--seats", "2", "--think", str(THINK_S)),
            *("--seed", str(seed)),
        ]
        self.process: trio.Process | None = None

    async def start(self) -> None:
        with log_file(self.output) as output:
            self.process = await trio.lowlevel.open_process(
                self.command, stdout=output, stderr=subprocess.STDOUT
            )

    async def finish(self) -> BotsSummary:
        """Ctrl-C: the bots stop, check what they received, print a summary."""
        process = self.process
        assert process is not None
        process.send_signal(signal.SIGINT)
        with trio.fail_after(5 * STEP_S):
            code = await process.wait()
        output = self.output.read_text()
        print(output)  # shown with the test's output if it fails
        lines = [line.partition(": ") for line in output.splitlines()]
        return BotsSummary(code, {key: value for key, _, value in lines}, output)

    def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()


@asynccontextmanager
async def bots_playing(
    url: str, folder: Path, *, tables: int, seed: int
) -> AsyncIterator[Bots]:
    """`pokerd bots` started; killed by its PID if the test did not finish it."""
    bots = Bots(url, folder, tables=tables, seed=seed)
    await bots.start()
    try:
        yield bots
    finally:
        if bots.process is not None and bots.process.returncode is None:
            bots.kill()
            with trio.CancelScope(shield=True):
                await bots.process.wait()


def stream_checks_pass(summary: BotsSummary) -> None:
    """What every bot received is exactly its table's log (no gap, no
    repeat, the same content), and every resume was recovered."""
    assert summary.lines.get("gaps") == "0", summary.output
    assert summary.lines.get("duplicates") == "0", summary.output
    assert summary.lines.get("mismatches") == "0", summary.output
    assert summary.lines.get("resumed not ok") == "0", summary.output
    assert summary.count("events checked") > 0, summary.output
