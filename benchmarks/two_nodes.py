"""crash.py's two-node mode: kill PostgreSQL nodes at random under bots.

Two `pokerd serve` processes share a throwaway PostgreSQL database (started
here by `pokerd.tools.pgcluster`); bots play at tables created on both. Each
round waits a random moment, kills one node with SIGKILL, measures how long
until every table that must run has a live lease held by the other node (by
polling the `leases` table), then starts the killed node again. At the end
the bots check their streams against the log and `pokerd replay --verify`
checks every log. Prints figures, never asserts.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import trio
from serve_nodes import Node, live_owners

from pokerd.tools.bots import BotsOptions, Report, run_bots
from pokerd.tools.pgcluster import Cluster

TAKEOVER_BOUND_S = 60.0


async def _takeover_s(url: str, dead: str, tables: list[str], since: float) -> float:
    """Seconds from `since` until every one of `tables` is held by a node
    other than `dead`."""
    with trio.fail_after(TAKEOVER_BOUND_S):
        while True:
            owners = await trio.to_thread.run_sync(live_owners, url)
            if all(owners.get(table, dead) != dead for table in tables):
                return time.monotonic() - since
            await trio.sleep(0.05)


async def _run(
    url: str, folder: Path, *, kills: int, tables: int, seed: int, ttl_s: float
) -> tuple[list[float], Report]:
    rng = random.Random(seed)
    nodes = [
        Node(f"node-{i}", url, folder, ttl_s, ("--log-level", "WARNING"))
        for i in range(2)
    ]
    takeovers: list[float] = []
    report: list[Report] = []
    try:
        for node in nodes:
            await node.start()
        options = BotsOptions(
            url=nodes[0].url,
            servers=(nodes[1].url,),
            tables=tables,
            seats=3,
            hands=0,
            seed=seed,
            heartbeat_s=2.0,
        )
        stop = trio.Event()

        async def play() -> None:
            report.append(
                await run_bots(
                    options, live=f"ws://127.0.0.1:{nodes[0].port}", stop=stop
                )
            )

        async with trio.open_nursery() as nursery:
            nursery.start_soon(play)
            for _ in range(kills):
                await trio.sleep(rng.uniform(1.0, 3.0))
                victim = rng.choice(nodes)
                owned = [
                    table
                    for table, owner in (
                        await trio.to_thread.run_sync(live_owners, url)
                    ).items()
                    if owner == victim.name
                ]
                killed_at = time.monotonic()
                await victim.kill()
                takeovers.append(await _takeover_s(url, victim.name, owned, killed_at))
                await victim.start()
            await trio.sleep(2.0)
            stop.set()
    finally:
        for node in nodes:
            await node.kill()
    return takeovers, report[0]


def run_two_nodes(*, kills: int, tables: int, seed: int, ttl_s: float) -> int:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder, Cluster(fsync=False) as cluster:
        url = cluster.create_database()
        takeovers, report = trio.run(
            lambda: _run(
                url, Path(folder), kills=kills, tables=tables, seed=seed, ttl_s=ttl_s
            )
        )
        verified = subprocess.run(
            [sys.executable, "-m", "pokerd", "replay", "--verify", "--db", url],
            capture_output=True,
            text=True,
            check=False,
        )
        forked = [
            line for line in verified.stdout.splitlines() if not line.endswith(": ok")
        ]
    elapsed = time.perf_counter() - started
    ordered = sorted(takeovers)
    figures: list[tuple[str, object]] = [
        ("nodes", 2),
        ("kills", kills),
        ("tables", tables),
        ("lease_ttl_s", ttl_s),
        ("seconds", f"{elapsed:.1f}"),
        ("hands", report.hands),
        ("events_checked_by_bots", report.events_checked),
        ("resumed_ok", report.resumed),
        ("resumed_not_ok", report.not_resumed),
        ("received_but_lost_or_different", report.mismatches),
        ("received_twice", report.duplicates),
        ("gaps_in_streams", report.gaps),
        ("tables_failing_replay_verify", len(forked)),
        ("takeover_s_median", f"{ordered[len(ordered) // 2]:.2f}" if ordered else "-"),
        ("takeover_s_max", f"{ordered[-1]:.2f}" if ordered else "-"),
        ("takeover_goal_s", f"{ttl_s + 1:.2f}"),
    ]
    for name, value in figures:
        print(f"{name}: {value}")
    for line in forked[:5]:
        print(f"replay --verify: {line}")
    failed = (
        report.mismatches
        or report.duplicates
        or report.gaps
        or report.not_resumed
        or forked
        or verified.returncode != 0
    )
    print(json.dumps({"ok": not failed}))
    return 1 if failed else 0
