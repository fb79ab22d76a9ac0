"""Operator tools on a database: `pokerd migrate` and `pokerd replay`.

`pokerd replay` reads the server-private log: its story shows every hole card
and its PHH reveals every hand. It opens the database (an SQLite file or a
PostgreSQL URL) read-only, inside one read transaction, so it never changes
it and sees one consistent moment of a database live servers are writing.
Every state it shows or checks is a fold of the log from its first event:
snapshots and hand-history rows are what it checks, never what it trusts.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from pokerd.engine.events import Event, HandEnded, HandStarted
from pokerd.engine.evolve import evolve
from pokerd.engine.state import HandState, TableState
from pokerd.hands.history import hand_row
from pokerd.hands.phh import hand_phh
from pokerd.hands.story import describe, summary
from pokerd.ops.settings import Database, database_name, is_postgresql
from pokerd.store import (
    DATABASE_ERRORS,
    SNAPSHOT_FORMAT,
    ReadConnection,
    SchemaTooNewError,
    UnavailableError,
    available_migrations,
    migrate,
    open_for_writing,
    open_read_only,
    postgres,
    table_epoch,
    table_ids,
    take_ownership,
)
from pokerd.store.backend import Rows
from pokerd.store.migrate import POSTGRESQL_MIGRATIONS, schema_version
from pokerd.store.reader import HAND_COLUMNS
from pokerd.wire import codec

__all__ = [
    "LogError",
    "ToolError",
    "first_difference",
    "migrate_command",
    "phh_command",
    "story_command",
    "verify_command",
]

_SHOWN_TABLES = 10
"""How many table ids an unknown-table message lists."""
_SHOWN_VALUE = 60
"""Values longer than this are cut short in difference messages."""


class ToolError(Exception):
    """What was asked cannot be done (no such file, table or hand): exit status 2."""


class LogError(Exception):
    """The log, or something stored beside it, is wrong at some seq: exit status 1."""


# pokerd migrate


def migrate_command(database: Database, out: TextIO, err: TextIO) -> int:
    """Create the database if needed and apply its missing migrations.

    An SQLite file is owned while it migrates: a server holding it refuses
    this. PostgreSQL nodes share their database and migrate one at a time.
    """
    path = database_name(database)
    try:
        applied, version = _migrate(database)
    except UnavailableError as error:
        print(f"pokerd migrate: {error}", file=err)
        return 2
    except SchemaTooNewError as error:
        print(f"pokerd migrate: {path}: {error}", file=err)
        return 2
    except OSError as error:
        print(f"pokerd migrate: cannot migrate {path}: {error}", file=err)
        return 2
    except DATABASE_ERRORS as error:
        print(f"pokerd migrate: cannot migrate {path}: {error}", file=err)
        return 2
    for name in applied:
        print(f"applied {name}", file=out)
    if applied:
        print(f"{path}: now at schema version {version}", file=out)
    else:
        print(f"{path}: up to date at schema version {version}", file=out)
    return 0


def _migrate(database: Database) -> tuple[list[str], int]:
    """Migrate `database`: the names applied and the version it is at now."""
    if is_postgresql(database):
        with postgres.connect(str(database)) as shared:
            applied = postgres.migrate(shared)
            return applied, postgres.schema_version(shared)
    path = Path(database)
    with take_ownership(path):
        connection = open_for_writing(path)
        try:
            return migrate(connection), schema_version(connection)
        finally:
            connection.close()


def _too_new(version: int, newest: int) -> str:
    return (
        f"the database is at schema version {version}, but this pokerd knows only "
        f"up to {newest}: it was written by a newer pokerd; upgrade pokerd (the "
        "database was not modified)"
    )


# pokerd replay: the story


def story_command(
    path: Database,
    table_id: str,
    out: TextIO,
    err: TextIO,
    *,
    hand: int | None = None,
    first: int | None = None,
    last: int | None = None,
) -> int:
    """Print the table's log as a story, one event a line with the table after it.

    `hand` keeps that hand's events (its hand_started to its hand_ended, or to
    the end of the log if it has not ended); `first`/`last` keep seqs in that
    inclusive range. The state shown is always the fold of the whole log up to
    the event, however much of it is printed.
    """

    def run(connection: ReadConnection) -> int:
        state, printed, found = TableState(), 0, False
        for seq, event in _events(connection, table_id):
            if last is not None and seq > last:
                break
            if hand is not None and isinstance(event, HandStarted):
                if event.hand > hand and not found:
                    break
                found = found or event.hand == hand
            after = _evolve(state, seq, event)
            inside = hand is None or found
            if inside and (first is None or seq >= first):
                print(f"#{seq}  {describe(event, state)}  | {summary(after)}", file=out)
                printed += 1
            state = after
            if hand is not None and isinstance(event, HandEnded) and event.hand == hand:
                break
        if hand is not None and not found:
            upto = "" if last is None else f" by seq {last}"
            raise ToolError(f"table {table_id} has no hand {hand}{upto}")
        if printed == 0:
            print(f"pokerd replay: table {table_id}: no events in range", file=err)
        return 0

    return _run("pokerd replay", path, table_id, err, run)


# pokerd replay --phh


def phh_command(
    path: str | Path, table_id: str, hand: int, out: TextIO, err: TextIO
) -> int:
    """Print one hand as PHH with every hole card (the operator's full view)."""

    def run(connection: ReadConnection) -> int:
        played = _fold_to_hand(connection, table_id, hand)
        out.write(hand_phh(played, reveal_all=True))
        return 0

    return _run("pokerd replay", path, table_id, err, run)


def _fold_to_hand(connection: ReadConnection, table_id: str, hand: int) -> HandState:
    """The hand as it stands at its last event (hand_ended, or the log's end)."""
    state, found = TableState(), False
    for seq, event in _events(connection, table_id):
        if isinstance(event, HandStarted) and (found or event.hand > hand):
            break
        found = found or (isinstance(event, HandStarted) and event.hand == hand)
        state = _evolve(state, seq, event)
        if found and isinstance(event, HandEnded):
            break
    if not found:
        raise ToolError(f"table {table_id} has no hand {hand}")
    assert state.hand is not None and state.hand.number == hand
    return state.hand


# pokerd replay --verify


def verify_command(
    path: str | Path, table_id: str | None, out: TextIO, err: TextIO
) -> int:
    """Check each table's log (or just `table_id`'s) against what is stored beside it.

    Prints one line per table, `ok` or the first divergence; 1 if any diverges.
    """

    def run(connection: ReadConnection) -> int:
        tables = [table_id] if table_id is not None else table_ids(connection)
        if not tables:
            print("no tables", file=out)
        status = 0
        for table in tables:
            try:
                counts = _verify_table(connection, table)
            except LogError as problem:
                print(f"table {table}: {problem}", file=out, flush=True)
                status = 1
            else:
                print(f"table {table}: {counts}: ok", file=out, flush=True)
        return status

    return _run("pokerd replay", path, table_id, err, run)


class _Rows:
    """A cursor read one row ahead, to walk it alongside the log."""

    def __init__(self, cursor: Rows) -> None:
        self._rows = iter(cursor)
        self.head: tuple[Any, ...] | None = next(self._rows, None)

    def pop(self) -> tuple[Any, ...]:
        row = self.head
        assert row is not None
        self.head = next(self._rows, None)
        return row


def _verify_table(connection: ReadConnection, table_id: str) -> str:
    """Fold the whole log, checking each snapshot and hands row at its seq."""
    snapshots = _Rows(
        connection.execute(
            "SELECT seq, format, state FROM snapshots WHERE table_id = ? ORDER BY seq",
            (table_id,),
        )
    )
    hands = _Rows(
        connection.execute(
            f"SELECT {', '.join(HAND_COLUMNS)} FROM hands WHERE table_id = ?"
            " ORDER BY last_seq, hand",
            (table_id,),
        )
    )
    state = TableState()
    seq = events = checked = skipped = hand_rows = 0
    hand_start: tuple[int, int] | None = None  # (hand, seq) of the last hand_started
    for seq, event in _events(connection, table_id):
        if seq != events + 1:
            if events == 0:
                raise LogError(f"the log starts at seq {seq}, not 1")
            raise LogError(f"the log jumps from seq {events} to seq {seq}")
        events += 1
        state = _evolve(state, seq, event)
        if isinstance(event, HandStarted):
            hand_start = (event.hand, seq)
        while snapshots.head is not None and snapshots.head[0] <= seq:
            at, form, text = snapshots.pop()
            if at != seq:
                raise LogError(f"snapshot at seq {at} is at no event of the log")
            if form != SNAPSHOT_FORMAT:
                skipped += 1
                continue
            _check_snapshot(seq, text, state)
            checked += 1
        recorded = False
        while hands.head is not None and hands.head[2] <= seq:
            row = dict(zip(HAND_COLUMNS, hands.pop(), strict=True))
            _check_hand(row, seq, event, state, hand_start)
            hand_rows += 1
            recorded = True
        if isinstance(event, HandEnded) and not recorded:
            raise LogError(f"hand {event.hand} ends at seq {seq} but has no hands row")
    if snapshots.head is not None:
        raise LogError(
            f"snapshot at seq {snapshots.head[0]} is beyond the end of the log "
            f"(seq {seq})"
        )
    if hands.head is not None:
        raise LogError(
            f"the hands row of hand {hands.head[0]} ends at seq {hands.head[2]}, "
            f"beyond the end of the log (seq {seq})"
        )
    counts = (
        f"{_count(events, 'event')}, {_count(checked + skipped, 'snapshot')}"
        f"{f' ({skipped} skipped: not format {SNAPSHOT_FORMAT})' if skipped else ''}"
        f", {_count(hand_rows, 'hand')}"
    )
    return counts


def _check_snapshot(seq: int, text: str, state: TableState) -> None:
    try:
        stored = json.loads(text)
        decoded = codec.structure(stored, TableState)
    except ValueError as error:  # json's and the codec's errors both are
        raise LogError(f"snapshot at seq {seq} does not decode: {error}") from None
    if decoded != state:
        where = first_difference(stored, _plain(state)) or "the states differ"
        raise LogError(
            f"snapshot at seq {seq} differs from the fold of the log: {where}"
        )


def _check_hand(
    row: dict[str, Any],
    seq: int,
    event: Event,
    state: TableState,
    hand_start: tuple[int, int] | None,
) -> None:
    number, last_seq = row["hand"], row["last_seq"]
    where = f"the hands row of hand {number} ends at seq {last_seq}"
    if last_seq != seq:
        raise LogError(f"{where}, at no event of the log")
    if not isinstance(event, HandEnded):
        raise LogError(f"{where}, where the log has {codec.type_tag(type(event))}")
    if event.hand != number:
        raise LogError(f"{where}, where the log ends hand {event.hand}")
    assert state.hand is not None and hand_start is not None
    written = hand_row(state.hand)
    expected = {
        "hand": written.hand,
        "first_seq": hand_start[1],
        "last_seq": seq,
        "started_at": written.started_at,
        "ended_at": written.ended_at,
        "engine": written.engine,
        "summary": json.loads(written.summary),
        "hole_cards": json.loads(written.hole_cards),
        "phh": written.phh,
    }
    try:
        stored = {
            **row,
            "summary": json.loads(row["summary"]),
            "hole_cards": json.loads(row["hole_cards"]),
        }
    except ValueError as error:
        message = f"the hands row of hand {number} does not decode: {error}"
        raise LogError(message) from None
    difference = first_difference(stored, expected)
    if difference is not None:
        raise LogError(
            f"hand {number} (hands row, seq {hand_start[1]}-{seq}) differs from the "
            f"fold of the log: {difference}"
        )


def _plain(value: object) -> Any:
    """`value` as it reads back from the JSON pokerd stores (lists, not tuples)."""
    return json.loads(json.dumps(codec.unstructure(value)))


def first_difference(stored: Any, expected: Any, path: str = "") -> str | None:
    """The first place two plain values differ, e.g. `seats[2].stack 80 != 95`.

    Paths name dict keys with dots and list items by index; multi-line strings
    (PHH text) are compared line by line. None if they are equal.
    """
    if isinstance(stored, dict) and isinstance(expected, dict):
        for key in [*stored, *(k for k in expected if k not in stored)]:
            inner = f"{path}.{key}" if path else str(key)
            if key not in expected:
                return f"{inner} {_shown(stored[key])} is not in the fold"
            if key not in stored:
                return f"{inner} is missing (the fold has {_shown(expected[key])})"
            found = first_difference(stored[key], expected[key], inner)
            if found is not None:
                return found
        return None
    if isinstance(stored, list) and isinstance(expected, list):
        for index, (mine, theirs) in enumerate(zip(stored, expected, strict=False)):
            found = first_difference(mine, theirs, f"{path}[{index}]")
            if found is not None:
                return found
        if len(stored) != len(expected):
            return f"{path} has {len(stored)} items != {len(expected)}"
        return None
    if (
        isinstance(stored, str)
        and isinstance(expected, str)
        and "\n" in stored + expected
        and stored != expected
    ):
        mine, theirs = stored.splitlines(), expected.splitlines()
        for number, (a, b) in enumerate(zip(mine, theirs, strict=False), start=1):
            if a != b:
                return f"{path} line {number} {_shown(a)} != {_shown(b)}"
        return f"{path} has {len(mine)} lines != {len(theirs)}"
    if type(stored) is not type(expected) or stored != expected:
        return f"{path} {_shown(stored)} != {_shown(expected)}".lstrip()
    return None


def _shown(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= _SHOWN_VALUE else text[: _SHOWN_VALUE - 3] + "..."


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


# Reading


def _run(
    program: str,
    path: Database,
    table_id: str | None,
    err: TextIO,
    body: Callable[[ReadConnection], int],
) -> int:
    """Open the database read-only and run `body(connection)`, reporting errors."""
    try:
        with _reading(path, table_id) as connection:
            return body(connection)
    except ToolError as error:
        print(f"{program}: {error}", file=err)
        return 2
    except LogError as problem:
        print(f"{program}: table {table_id}: {problem}", file=err)
        return 1
    except DATABASE_ERRORS as error:
        print(f"{program}: reading {database_name(path)} failed: {error}", file=err)
        return 1


@contextmanager
def _read_only(database: Database) -> Iterator[ReadConnection]:
    """A read-only connection inside one read transaction (one view of the log)."""
    if is_postgresql(database):
        try:
            shared = postgres.open_read_only(str(database))
        except UnavailableError as error:
            raise ToolError(str(error)) from None
        try:
            yield shared
        finally:
            shared.close()
        return
    path = Path(database)
    if not path.exists():
        raise ToolError(f"no database at {path}")
    try:
        connection = open_read_only(path)
    except UnavailableError as error:
        raise ToolError(str(error)) from None
    try:
        connection.execute("BEGIN")
        yield connection
    finally:
        connection.close()


@contextmanager
def _reading(database: Database, table_id: str | None) -> Iterator[ReadConnection]:
    """The database read-only, its schema checked, `table_id` (if any) known."""
    path = database_name(database)
    with _read_only(database) as connection:
        if isinstance(connection, postgres.PostgresConnection):
            version = postgres.schema_version(connection)
            newest = len(available_migrations(POSTGRESQL_MIGRATIONS))
        else:
            try:
                version = schema_version(connection)
            except sqlite3.DatabaseError as error:
                raise ToolError(f"{path} is not a pokerd database ({error})") from None
            newest = len(available_migrations())
        if version > newest:
            raise ToolError(f"{path}: {_too_new(version, newest)}")
        if version < newest:
            raise ToolError(
                f"{path} is at schema version {version}, this pokerd reads version "
                f"{newest}: run `pokerd migrate --db {path}` first"
            )
        if table_id is not None and table_epoch(connection, table_id) is None:
            known = table_ids(connection)
            listed = ", ".join(known[:_SHOWN_TABLES])
            if len(known) > _SHOWN_TABLES:
                listed += f", ... ({len(known)} in all)"
            raise ToolError(
                f"no table {table_id!r} in {path} "
                + (f"(its tables: {listed})" if known else "(it has no tables)")
            )
        yield connection


def _events(connection: ReadConnection, table_id: str) -> Iterator[tuple[int, Event]]:
    """The table's events in seq order, decoded one by one as they are read."""
    rows = connection.execute(
        "SELECT seq, payload FROM events WHERE table_id = ? ORDER BY seq", (table_id,)
    )
    for seq, payload in rows:
        try:
            event = codec.structure_event(json.loads(payload))
        except ValueError as error:  # json's and the codec's errors both are
            raise LogError(f"the event at seq {seq} does not decode: {error}") from None
        yield seq, event


def _evolve(state: TableState, seq: int, event: Event) -> TableState:
    try:
        return evolve(state, event)
    except Exception as error:
        # evolve never refuses a fact of a sound log; a damaged one may make
        # PokerKit (or the engine's own asserts) fail, which is the finding.
        raise LogError(
            f"the event at seq {seq} ({codec.type_tag(type(event))}) does not fold: "
            f"{type(error).__name__}: {error}"
        ) from None
