"""Crash recovery under repeated kill -9: more kills than the test suite runs.

Runs `python -m pokerd.tools.selfplay` on one database, kills it with SIGKILL at a
random moment, restarts it, again and again, then checks the log against
everything the processes had published. Prints figures, never asserts speed.

    python benchmarks/crash.py [--kills 100] [--tables 5] [--seed 1]
    python benchmarks/crash.py --nodes 2 [--kills 6] [--tables 10] [--ttl 2]

With `--nodes 2`: two `pokerd serve` nodes on one throwaway PostgreSQL
database, bots playing at the tables (`pokerd.tools.bots`, both nodes
given), and a node killed with SIGKILL at random moments (then started
again once its tables are taken over). Prints the takeover time of each
kill (goal: under the lease ttl plus one second), and what the bots' stream
checks and `pokerd replay --verify` found lost, forked or gapped (goal: 0).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pokerd.engine import fold
from pokerd.store import connect, load_table, read_events, table_ids
from pokerd.tools.selfplay import run_until_killed
from pokerd.wire import codec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--tables", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--nodes", type=int, default=1, help="2: the two-node mode (PostgreSQL)"
    )
    parser.add_argument("--ttl", type=float, default=2.0, help="lease ttl, seconds")
    args = parser.parse_args(argv)
    if args.nodes > 1:
        from two_nodes import run_two_nodes

        return run_two_nodes(
            kills=args.kills, tables=args.tables, seed=args.seed, ttl_s=args.ttl
        )
    rng = random.Random(args.seed)
    received: dict[tuple[str, int], dict[str, Any]] = {}
    duplicates = resumed = resumed_mid_hand = 0
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "crash.db"
        for round_ in range(args.kills):
            lines = run_until_killed(
                db,
                seed=args.seed * 100_000 + round_,
                tables=args.tables,
                events_before_kill=rng.randint(1, 200),
            )
            for line in lines:
                if "resumed" in line:
                    resumed += 1
                    resumed_mid_hand += bool(line["hand_in_progress"])
                    continue
                key = (line["table"], line["seq"])
                duplicates += key in received
                received[key] = line["event"]
        elapsed = time.perf_counter() - started
        connection = connect(db)
        events = gaps = mismatched = lost = differing = 0
        for table_id in table_ids(connection):
            stored = read_events(connection, table_id)
            events += len(stored)
            gaps += [s.seq for s in stored] != list(range(1, len(stored) + 1))
            loaded = load_table(connection, table_id)
            mismatched += loaded is None or loaded.state != fold(
                [s.event for s in stored]
            )
            by_seq = {s.seq: s.event for s in stored}
            for (table, seq), published in received.items():
                if table != table_id:
                    continue
                if seq not in by_seq:
                    lost += 1
                elif codec.structure_event(published) != by_seq[seq]:
                    differing += 1
        hands = connection.execute("SELECT COUNT(*) FROM hands").fetchone()[0]
        connection.close()
    for name, value in [
        ("kills", args.kills),
        ("tables", args.tables),
        ("seconds", f"{elapsed:.1f}"),
        ("events_in_log", events),
        ("hands_in_log", hands),
        ("events_received_by_clients", len(received)),
        ("tables_resumed", resumed),
        ("tables_resumed_mid_hand", resumed_mid_hand),
        ("received_but_lost", lost),
        ("received_but_different", differing),
        ("published_twice", duplicates),
        ("tables_with_seq_gaps", gaps),
        ("tables_whose_load_differs_from_fold", mismatched),
    ]:
        print(f"{name}: {value}")
    failed = lost or differing or duplicates or gaps or mismatched
    print(json.dumps({"ok": not failed}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
