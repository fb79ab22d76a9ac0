"""Reading the log: events, the newest snapshot plus the tail, hand histories.

Written once for both backends, against `ReadConnection` (`?` parameters).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import attrs

from pokerd.engine.evolve import fold
from pokerd.engine.state import TableState
from pokerd.store.backend import ReadConnection
from pokerd.store.records import (
    SNAPSHOT_FORMAT,
    AppliedRequest,
    StoredEvent,
    decode_rows,
)
from pokerd.wire import codec

log = logging.getLogger(__name__)


@attrs.frozen
class LoadedTable:
    table_id: str
    epoch: str
    state: TableState
    seq: int
    """The last seq folded into `state`."""
    snapshot_seq: int
    """The snapshot it started from (0: folded from the first event)."""
    requests: tuple[AppliedRequest, ...] = ()
    """The seat requests applied in the log's last `RECALLED_EVENTS` events,
    oldest first (read only for a table loaded to run: `load_table_to_run`)."""


RECALLED_EVENTS = 1000
"""How far back in a table's log a node that loads it reads the requests
applied, to answer them again: a client resends only what was unanswered when
its connection dropped, within seconds, and a hand is a few dozen events, so
this is dozens of hands (docs/design.md, "Resuming across nodes")."""


LARGEST_INTEGER = 2**63 - 1
"""The largest integer SQLite (and PostgreSQL's BIGINT) holds: no hand number
is beyond it."""


def table_ids(connection: ReadConnection) -> list[str]:
    rows = connection.execute("SELECT table_id FROM tables ORDER BY table_id")
    return [row[0] for row in rows]


def tables_by_creation(connection: ReadConnection) -> list[str]:
    """Every table's id, oldest first (ties, within a millisecond, by id)."""
    rows = connection.execute(
        "SELECT table_id FROM tables ORDER BY created_at, table_id"
    )
    return [row[0] for row in rows]


def table_count(connection: ReadConnection) -> int:
    row = connection.execute("SELECT COUNT(*) FROM tables").fetchone()
    return int(row[0])


@attrs.frozen
class HandResult:
    """What the lobby keeps of a finished hand: when it ended, its pot."""

    hand: int
    ended_at: int
    pot: int


def recent_hand_results(
    connection: ReadConnection, table_id: str, limit: int
) -> list[HandResult]:
    """The table's latest `limit` finished hands' results, oldest first."""
    rows = connection.execute(
        "SELECT hand, ended_at, summary FROM hands WHERE table_id = ?"
        " ORDER BY hand DESC LIMIT ?",
        (table_id, limit),
    )
    results = [
        HandResult(
            hand=int(hand),
            ended_at=int(ended_at),
            pot=sum(int(pot["amount"]) for pot in json.loads(summary)["pots"]),
        )
        for hand, ended_at, summary in rows
    ]
    return results[::-1]


def table_epoch(connection: ReadConnection, table_id: str) -> str | None:
    row = connection.execute(
        "SELECT epoch FROM tables WHERE table_id = ?", (table_id,)
    ).fetchone()
    return None if row is None else str(row[0])


def last_seq(connection: ReadConnection, table_id: str) -> int:
    row = connection.execute(
        "SELECT MAX(seq) FROM events WHERE table_id = ?", (table_id,)
    ).fetchone()
    return int(row[0] or 0)


def read_events(
    connection: ReadConnection,
    table_id: str,
    after: int = 0,
    upto: int | None = None,
    limit: int | None = None,
) -> list[StoredEvent]:
    """Events with after < seq <= upto, in order."""
    query = (
        "SELECT seq, payload, recorded_at FROM events"
        " WHERE table_id = ? AND seq > ? AND seq <= ? ORDER BY seq"
    )
    parameters: tuple[object, ...] = (table_id, after, 2**62 if upto is None else upto)
    if limit is not None:
        query += " LIMIT ?"
        parameters += (limit,)
    rows = connection.execute(query, parameters).fetchall()
    return decode_rows(rows)


def load_table(connection: ReadConnection, table_id: str) -> LoadedTable | None:
    """The table now: the newest snapshot that decodes, plus a fold of the rest."""
    epoch = table_epoch(connection, table_id)
    if epoch is None:
        return None
    state, start = TableState(), 0
    query = (
        "SELECT seq, format, state FROM snapshots WHERE table_id = ? ORDER BY seq DESC"
    )
    # The newest alone first: PostgreSQL's driver fetches a whole result at
    # once, and a table has a snapshot per hand. Older ones only if it fails.
    newest = connection.execute(query + " LIMIT 1", (table_id,)).fetchall()
    decoded = _decode_snapshot(table_id, *newest[0], quiet=True) if newest else None
    if decoded is not None:
        state, start = decoded, int(newest[0][0])
    elif newest:
        for seq, form, text in connection.execute(query, (table_id,)):
            older = _decode_snapshot(table_id, seq, form, text)
            if older is not None:
                state, start = older, seq
                break
    tail = read_events(connection, table_id, after=start)
    state = fold([stored.event for stored in tail], state)
    seq = tail[-1].seq if tail else start
    return LoadedTable(table_id, epoch, state, seq, start)


def _decode_snapshot(
    table_id: str, seq: int, form: int, text: str, *, quiet: bool = False
) -> TableState | None:
    if form != SNAPSHOT_FORMAT:
        if quiet:
            return None
        log.info(
            "table %s: snapshot at %d has format %d; folding instead",
            table_id,
            seq,
            form,
        )
        return None
    try:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise codec.DecodeError(
                f"expected a JSON object, not {type(data).__name__}"
            )
        return codec.structure(data, TableState)
    except (ValueError, codec.DecodeError) as error:
        if quiet:
            return None
        log.warning(
            "table %s: snapshot at %d does not decode (%s)", table_id, seq, error
        )
        return None


def snapshot_rows(
    connection: ReadConnection, table_id: str
) -> list[tuple[int, int, str]]:
    rows = connection.execute(
        "SELECT seq, format, state FROM snapshots WHERE table_id = ? ORDER BY seq",
        (table_id,),
    )
    return [(int(seq), int(form), str(text)) for seq, form, text in rows]


HAND_COLUMNS = (
    "hand",
    "first_seq",
    "last_seq",
    "started_at",
    "ended_at",
    "engine",
    "summary",
    "hole_cards",
    "phh",
)
"""The columns of a hands row, in the order `hand_rows` and the replay tool read."""


def hand_rows(
    connection: ReadConnection, table_id: str, hand: int | None = None
) -> list[dict[str, Any]]:
    """Hand-history rows, oldest first (or the one hand asked for)."""
    if hand is not None and not 0 < hand <= LARGEST_INTEGER:
        return []  # a number SQLite cannot hold names no hand (and would raise)
    query = f"SELECT {', '.join(HAND_COLUMNS)} FROM hands WHERE table_id = ?"
    parameters: tuple[object, ...] = (table_id,)
    if hand is not None:
        query += " AND hand = ?"
        parameters += (hand,)
    rows = connection.execute(query + " ORDER BY hand", parameters)
    result = []
    for row in rows:
        record = dict(zip(HAND_COLUMNS, row, strict=True))
        record["summary"] = json.loads(record["summary"])
        record["hole_cards"] = json.loads(record["hole_cards"])
        result.append(record)
    return result


def tables_to_resume(connection: ReadConnection) -> list[LoadedTable]:
    """Every table a restarting server must run: a hand unfinished or players
    seated (each with its recent requests, as `load_table_to_run`)."""
    resumed = []
    for table_id in table_ids(connection):
        loaded = load_table(connection, table_id)
        if loaded is None:
            continue
        if must_run(loaded.state):
            resumed.append(_with_requests(connection, loaded))
    return resumed


def load_table_to_run(connection: ReadConnection, table_id: str) -> LoadedTable | None:
    """`load_table`, with the requests applied lately (`recent_requests`)."""
    loaded = load_table(connection, table_id)
    return None if loaded is None else _with_requests(connection, loaded)


def _with_requests(connection: ReadConnection, loaded: LoadedTable) -> LoadedTable:
    requests = recent_requests(connection, loaded.table_id, loaded.seq)
    return attrs.evolve(loaded, requests=tuple(requests))


def recent_requests(
    connection: ReadConnection,
    table_id: str,
    seq: int,
    events: int = RECALLED_EVENTS,
) -> list[AppliedRequest]:
    """The seat requests applied by the events in (seq - events, seq], oldest
    first: a range of the primary key (logs written before the `request`
    column have none)."""
    rows = connection.execute(
        "SELECT seq, request FROM events WHERE table_id = ? AND seq > ?"
        " AND seq <= ? AND request IS NOT NULL ORDER BY seq",
        (table_id, seq - events, seq),
    )
    found = (AppliedRequest.from_column(text, int(at)) for at, text in rows)
    return [request for request in found if request is not None]


def must_run(state: TableState) -> bool:
    """Whether a table must run without being asked: a hand unfinished or
    players seated (its clock and dealer have work)."""
    return state.hand_in_progress or any(seat is not None for seat in state.seats)
