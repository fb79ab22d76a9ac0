"""Crash recovery, real process: kill -9 at random moments, restart, lose nothing.

On both backends: an SQLite file, or a PostgreSQL database (the server lives
on; the pokerd process writing to it is the one killed)."""

from __future__ import annotations

import random
from typing import Any

from databases import raw_connection

from pokerd.engine import ActionTaken, TurnStarted, fold
from pokerd.ops.settings import Database
from pokerd.store import ReadConnection, load_table, read_events, table_ids
from pokerd.tools.selfplay import run_until_killed
from pokerd.wire import codec

KILLS = 20
TABLES = 3


def test_killing_the_process_at_random_moments_loses_no_event_anyone_received(
    database: Database,
) -> None:
    db = database
    rng = random.Random(20261126)
    received: dict[tuple[str, int], dict[str, Any]] = {}
    resumed_mid_hand: list[tuple[str, int]] = []
    for round_ in range(KILLS):
        lines = run_until_killed(
            db, seed=round_, tables=TABLES, events_before_kill=rng.randint(1, 120)
        )
        for line in lines:
            if "resumed" in line:
                if line["hand_in_progress"]:
                    resumed_mid_hand.append((line["resumed"], line["seq"]))
                continue
            key = (line["table"], line["seq"])
            assert key not in received, f"{key} was published twice"
            received[key] = line["event"]

    connection = raw_connection(db)
    try:
        assert table_ids(connection) == [f"table-{n}" for n in range(TABLES)]
        for table_id in table_ids(connection):
            seqs = [
                row[0]
                for row in connection.execute(
                    "SELECT seq FROM events WHERE table_id = ? ORDER BY seq",
                    (table_id,),
                )
            ]
            assert seqs == list(range(1, len(seqs) + 1)), "a seq is missing or doubled"
            stored = read_events(connection, table_id)
            loaded = load_table(connection, table_id)
            assert loaded is not None
            assert loaded.state == fold([s.event for s in stored])
            for item in stored:
                if (table_id, item.seq) in received:
                    published = received.pop((table_id, item.seq))
                    assert codec.structure_event(published) == item.event
        assert not received, f"received but not in the log: {sorted(received)[:5]}"
        # Tables came back mid-hand, and the player whose turn it was acted
        # next (or their clock ran out): the same hand went on.
        assert resumed_mid_hand, "no restart landed in the middle of a hand"
        for table_id, seq in resumed_mid_hand:
            check_same_turn_continues(connection, table_id, seq)
    finally:
        connection.close()


def check_same_turn_continues(
    connection: ReadConnection, table_id: str, resumed_at: int
) -> None:
    before = read_events(connection, table_id, upto=resumed_at)
    after = read_events(connection, table_id, after=resumed_at)
    turns = [s.event for s in before if isinstance(s.event, TurnStarted)]
    actions = [s.event for s in after if isinstance(s.event, ActionTaken)]
    if not turns or not actions:
        return  # killed again before anyone acted
    assert (actions[0].hand, actions[0].seat) == (turns[-1].hand, turns[-1].seat)
