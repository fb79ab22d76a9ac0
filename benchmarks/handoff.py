"""The pause a hand-off costs a table's players, with cluster routing.

Two `pokerd serve --cluster-routing` nodes share a throwaway PostgreSQL
database (`pokerd.tools.pgcluster`); bots play at tables created on the
first, acting at once (no think time, no pause between hands). Each round
starts a third node, waits until the tables its slots rank first have been
handed to it (docs/design.md, "Where a table runs"), then stops it with
SIGTERM and waits until the two others hold every table again. For each
hand-off (a node's log says "handed off at seq N") the pause is the time
between the table's event N (the old owner's last, `recorded_at`) and event
N + 1 (the new owner's first): the old owner unloads the table and releases
its lease, the bots follow the close 4006 to the new node, which takes the
lease, loads the table and answers their resume, and a bot acts. For scale,
the same gap between any two events of the tables. At the end the bots
check their streams against the log and `pokerd replay --verify` checks
every log. Prints figures, never asserts.

    .venv/bin/python benchmarks/handoff.py [--handoffs 20] [--tables 12] [--logs DIR]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

import psycopg
import trio
from serve_nodes import Node, live_owners

from pokerd.ops.ring import node_of
from pokerd.tools.bots import BotsOptions, Report, run_bots
from pokerd.tools.pgcluster import Cluster

SETTLE_BOUND_S = 60.0
TTL_S = 2.0
"""As `pokerd cluster` runs its nodes."""
HANDED = re.compile(r"table (\S+): handed off at seq (\d+) to node (\S+)")


async def _settle(url: str, tables: list[str], up: list[str]) -> None:
    """Until every table's lease is held by its node among `up`."""
    wanted = {table: node_of(table, up) for table in tables}
    owners: dict[str, str] = {}
    try:
        with trio.fail_after(SETTLE_BOUND_S):
            while (owners := await trio.to_thread.run_sync(live_owners, url)) != wanted:
                await trio.sleep(0.05)
    except trio.TooSlowError:
        wrong = {t: (owners.get(t), n) for t, n in wanted.items() if owners.get(t) != n}
        raise RuntimeError(f"not settled on {up}: (held by, wanted) {wrong}") from None


def _handoffs(folder: Path) -> list[tuple[str, int]]:
    """(table, seq of the old owner's last event) of every hand-off logged."""
    found = []
    for log in sorted(folder.glob("node-*.log")):
        for match in HANDED.finditer(log.read_text()):
            found.append((match.group(1), int(match.group(2))))
    return found


def _pauses(url: str, handoffs: list[tuple[str, int]]) -> list[float]:
    """Seconds from each hand-off's last event to the next one."""
    pauses = []
    with closing(psycopg.connect(url, autocommit=True)) as connection:
        for table, seq in handoffs:
            rows = connection.execute(
                "SELECT seq, recorded_at FROM events"
                " WHERE table_id = %s AND seq IN (%s, %s) ORDER BY seq",
                (table, seq, seq + 1),
            ).fetchall()
            if len(rows) == 2:
                pauses.append((rows[1][1] - rows[0][1]) / 1000)
    return pauses


def _gaps(url: str) -> list[float]:
    """Seconds between consecutive events of every table, for scale."""
    with closing(psycopg.connect(url, autocommit=True)) as connection:
        rows = connection.execute(
            "SELECT (recorded_at - lag(recorded_at) OVER"
            " (PARTITION BY table_id ORDER BY seq)) FROM events"
        ).fetchall()
    return [row[0] / 1000 for row in rows if row[0] is not None]


async def _run(
    url: str, folder: Path, *, handoffs: int, tables: int
) -> tuple[Report, int]:
    nodes = [
        Node(f"node-{i}", url, folder, TTL_S, ("--cluster-routing",)) for i in range(3)
    ]
    first, second, third = nodes
    report: list[Report] = []
    rounds = 0
    try:
        await first.start()
        await second.start()
        options = BotsOptions(
            url=first.url,
            servers=(second.url,),
            tables=tables,
            seats=3,
            hands=0,
            seed=15,
            heartbeat_s=2.0,
        )
        stop = trio.Event()

        async def play() -> None:
            live = f"ws://127.0.0.1:{first.port}"
            report.append(await run_bots(options, live=live, stop=stop))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(play)
            with trio.fail_after(SETTLE_BOUND_S):
                while len(await trio.to_thread.run_sync(live_owners, url)) < tables:
                    await trio.sleep(0.1)
            ids = sorted(await trio.to_thread.run_sync(live_owners, url))
            two = [first.name, second.name]
            await _settle(url, ids, two)
            while len(_handoffs(folder)) < handoffs:
                rounds += 1
                await third.start()
                await _settle(url, ids, [*two, third.name])
                await trio.sleep(1.0)
                await third.stop()
                await _settle(url, ids, two)
                await trio.sleep(1.0)
            stop.set()
    finally:
        for node in nodes:
            await node.kill()
    return report[0], rounds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--handoffs", type=int, default=20)
    parser.add_argument("--tables", type=int, default=12)
    parser.add_argument(
        "--logs", metavar="DIR", help="keep the nodes' logs there (an empty folder)"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as temporary, Cluster(fsync=False) as cluster:
        folder = args.logs or temporary
        url = cluster.create_database()
        report, rounds = trio.run(
            lambda: _run(url, Path(folder), handoffs=args.handoffs, tables=args.tables)
        )
        pauses = sorted(_pauses(url, _handoffs(Path(folder))))
        gaps = sorted(_gaps(url))
        verified = subprocess.run(
            [sys.executable, "-m", "pokerd", "replay", "--verify", "--db", url],
            capture_output=True,
            text=True,
            check=False,
        )
    figures: dict[str, object] = {
        "tables": args.tables,
        "rounds": rounds,
        "handoffs": len(pauses),
        "lease_ttl_s": TTL_S,
        "seconds": round(time.perf_counter() - started, 1),
        "hands": report.hands,
        "resumed_ok": report.resumed,
        "resumed_not_ok": report.not_resumed,
        "received_but_lost_or_different": report.mismatches,
        "received_twice": report.duplicates,
        "gaps_in_streams": report.gaps,
        "replay_verify_ok": verified.returncode == 0,
        "pause_s_median": round(statistics.median(pauses), 3) if pauses else None,
        "pause_s_max": round(pauses[-1], 3) if pauses else None,
        "between_events_s_median": round(statistics.median(gaps), 3),
        "between_events_s_p99": round(gaps[int(len(gaps) * 0.99)], 3),
    }
    for name, value in figures.items():
        print(f"{name}: {value}")
    failed = (
        report.mismatches
        or report.duplicates
        or report.gaps
        or report.not_resumed
        or verified.returncode != 0
    )
    print(json.dumps({"ok": not failed}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
