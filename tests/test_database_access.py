"""Who may open a database: one writing process, and one-line refusals, real processes.

A second `pokerd serve` (or `pokerd migrate`) on a database a server holds is
refused and the server plays on; a database that cannot be opened is refused
in one line saying why; `pokerd replay` reads beside a running server and on
a read-only file system. Read-only places are made for real: a read-only
bind mount in a mount namespace of the command's own (`unshare`), and an
immutable directory (`chattr +i`), which stops root too.
"""

from __future__ import annotations

import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio
from served import (
    STEP_S,
    HttpApi,
    free_port,
    new_table,
    pokerd_env,
    pokerd_serve,
    sit,
    stop,
)

from pokerd.engine import CreateTable, SitDown, TableConfig, TableState, handle
from pokerd.store import EventStore, InUseError, read_events, table_ids

REFUSED = "one process at a time may write a database"


@attrs.frozen
class Finished:
    status: int
    out: str
    err: str


async def pokerd(*arguments: str, prefix: tuple[str, ...] = ()) -> Finished:
    """Run `pokerd ARGUMENTS...` to its end (under `prefix`, if any)."""
    with trio.fail_after(STEP_S):
        done = await trio.run_process(
            [*prefix, sys.executable, "-m", "pokerd", *arguments],
            capture_stdout=True,
            capture_stderr=True,
            check=False,
            env=pokerd_env(),
        )
    return Finished(done.returncode, done.stdout.decode(), done.stderr.decode())


async def serve_once(db: Path | str, prefix: tuple[str, ...] = ()) -> Finished:
    """`pokerd serve` on `db` and free ports, expected to stop by itself."""
    ports = ("--port", str(free_port()), "--live-port", str(free_port()))
    return await pokerd("serve", "--db", str(db), *ports, prefix=prefix)


def wal_of(db: Path) -> Path:
    return db.with_name(db.name + "-wal")


def shm_of(db: Path) -> Path:
    return db.with_name(db.name + "-shm")


def owner_of(db: Path) -> Path:
    return db.with_name(db.name + ".owner")


async def events_until(
    api: HttpApi, table: str, kind: str, *, after: int = 0
) -> list[dict[str, Any]]:
    """The table's events after `after` up to the first of `kind` (long polls)."""
    received: list[dict[str, Any]] = []
    with trio.fail_after(STEP_S):
        while True:
            status, page = await api.call(
                "GET", f"/tables/{table}/events", query={"after": after, "wait": 5}
            )
            assert status == 200, page
            for message in page["events"]:
                received.append(message)
                if message["event"]["type"] == kind:
                    return received
            after = page["seq"]


def logged_types(db: Path, table: str) -> list[str]:
    uri = db.absolute().as_uri() + "?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as connection:
        return [
            type(stored.event).__name__ for stored in read_events(connection, table)
        ]


# A database in use


async def test_a_second_server_on_a_database_in_use_is_refused_and_the_first_plays_on(
    tmp_path: Path,
) -> None:
    db, log = tmp_path / "pokerd.db", tmp_path / "first.log"
    async with pokerd_serve(db, log) as first:
        table = await new_table(first.api)
        tokens = {
            seat: await sit(first.api, table, seat, name)
            for seat, name in ((0, "ann"), (1, "bo"))
        }
        dealt = await events_until(first.api, table, "turn_started")

        second = await serve_once(db)

        # The first server's tables play on: the player to act folds, the
        # next hand is dealt, and a new table is created and sat at.
        to_act = dealt[-1]["event"]["seat"]
        status, acked = await first.api.call(
            "POST",
            f"/tables/{table}/requests",
            body={"type": "act", "id": "f1", "action": "fold"},
            token=tokens[to_act],
        )
        await events_until(first.api, table, "hand_dealt", after=dealt[-1]["seq"])
        other = await new_table(first.api)
        await sit(first.api, other, 0, "cy")
        await stop(first.process, log)

    assert (second.status, second.out) == (2, "")
    assert second.err.splitlines() == [
        f"pokerd serve: {db} is in use by process {first.process.pid}: {REFUSED}"
    ]
    assert status == 200, acked
    assert logged_types(db, table).count("HandStarted") == 2
    with closing(sqlite3.connect(db)) as connection:
        assert table_ids(connection) == sorted([table, other])
    served_log = log.read_text()
    assert "stopped" not in served_log.replace("pokerd stopped", "")
    assert " ERROR " not in served_log and " WARNING " not in served_log
    assert not owner_of(db).exists()  # removed at the clean stop


async def test_migrate_is_refused_while_a_server_holds_the_database_and_replay_reads(
    tmp_path: Path,
) -> None:
    db, log = tmp_path / "pokerd.db", tmp_path / "serve.log"
    async with pokerd_serve(db, log) as server:
        table = await new_table(server.api)
        migrated = await pokerd("migrate", "--db", str(db))
        verified = await pokerd("replay", "--db", str(db), "--verify")
        told = await pokerd("replay", "--db", str(db), table)
        await stop(server.process, log)

    assert (migrated.status, migrated.out) == (2, "")
    assert migrated.err.splitlines() == [
        f"pokerd migrate: {db} is in use by process {server.process.pid}: {REFUSED}"
    ]
    assert (verified.status, verified.err) == (0, "")
    assert verified.out.splitlines() == [
        f"table {table}: 1 event, 0 snapshots, 0 hands: ok"
    ]
    assert (told.status, told.err) == (0, "")
    assert told.out.startswith("#1 ")


async def test_a_server_killed_with_sigkill_leaves_its_owner_file_but_no_claim(
    tmp_path: Path,
) -> None:
    db, log = tmp_path / "pokerd.db", tmp_path / "serve.log"
    async with pokerd_serve(db, log) as killed:
        table = await new_table(killed.api)
        killed.process.send_signal(signal.SIGKILL)
        with trio.fail_after(STEP_S):
            await killed.process.wait()
    assert owner_of(db).read_text() == f"{killed.process.pid}\n"

    async with pokerd_serve(db, log) as restarted:
        status, found = await restarted.api.call("GET", f"/tables/{table}")
        assert owner_of(db).read_text() == f"{restarted.process.pid}\n"
        await stop(restarted.process, log)

    assert status == 200, found


def test_a_second_store_in_the_same_process_is_refused_until_the_first_closes(
    tmp_path: Path,
) -> None:
    db = tmp_path / "pokerd.db"
    with EventStore(db):
        with pytest.raises(InUseError, match=r"in use by process \d+") as refused:
            EventStore(db)
        with EventStore(db, claim=False):
            pass  # a second writer on purpose, as the conflict tests play one
    with EventStore(db):
        pass

    assert refused.value.pid is not None
    assert sorted(path.name for path in tmp_path.iterdir()) == ["pokerd.db"]


# A database that cannot be opened


@pytest.mark.parametrize("kind", ["directory", "text file"])
async def test_serve_refuses_what_is_not_a_database_in_one_line(
    tmp_path: Path, kind: str
) -> None:
    db = tmp_path / "pokerd.db"
    if kind == "directory":
        db.mkdir()
        reason = "it is a directory"
    else:
        db.write_text("not a database, " * 100)
        reason = "it is not an SQLite database"

    refused = await serve_once(db)

    assert (refused.status, refused.out) == (2, "")
    assert refused.err.splitlines() == [f"pokerd serve: cannot open {db}: {reason}"]
    assert sorted(tmp_path.iterdir()) == [db]  # no owner file, no -wal or -shm


async def test_migrate_says_a_directory_is_a_directory(tmp_path: Path) -> None:
    refused = await pokerd("migrate", "--db", str(tmp_path))

    assert refused.status == 2
    assert refused.err.splitlines() == [
        f"pokerd migrate: cannot open {tmp_path}: it is a directory"
    ]


@pytest.fixture(scope="module")
def read_only_mount(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, ...] | None:
    """A prefix running a command with a directory (its first argument) bind
    mounted read-only, in a mount namespace of its own: nothing changes for
    other processes. None if this machine does not allow it."""
    if shutil.which("unshare") is None:
        return None
    prefix = (
        "unshare",
        "--mount",
        "--map-root-user",
        "sh",
        "-c",
        'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"',
    )
    probe = tmp_path_factory.mktemp("probe")
    tried = subprocess.run(
        [*prefix, str(probe), "sh", "-c", f"! touch {probe}/file 2>/dev/null"],
        capture_output=True,
        check=False,
    )
    return prefix if tried.returncode == 0 else None


def read_only(prefix: tuple[str, ...] | None, directory: Path) -> tuple[str, ...]:
    if prefix is None:
        pytest.skip("no read-only bind mount here (unshare --mount not allowed)")
    return (*prefix, str(directory))


@contextmanager
def immutable(path: Path) -> Iterator[None]:
    """`path` made immutable: not written, no file created in it, even by root."""
    if shutil.which("chattr") is None:
        pytest.skip("no chattr here")
    made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"chattr +i is not possible here: {made.stderr.decode().strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def made_database(db: Path) -> str:
    """A database with one table where ann sat down, closed cleanly (no -wal)."""
    with EventStore(db) as store:
        state = TableState()
        for command in (
            CreateTable(config=TableConfig(max_seats=6)),
            SitDown(seat=0, name="ann", buy_in=100),
        ):
            first = len(read_events(store.reader(), "main")) + 1
            events, state = handle(state, command)
            store.append_blocking("main", first, events)
    assert not wal_of(db).exists() and not shm_of(db).exists()
    return "main"


async def test_serve_and_migrate_on_a_read_only_file_system_say_so_in_one_line(
    tmp_path: Path, read_only_mount: tuple[str, ...] | None
) -> None:
    place = tmp_path / "ro"
    place.mkdir()
    db = place / "pokerd.db"
    made_database(db)
    prefix = read_only(read_only_mount, place)

    served = await serve_once(db, prefix)
    new = await serve_once(place / "new" / "pokerd.db", prefix)
    migrated = await pokerd("migrate", "--db", str(db), prefix=prefix)

    assert (served.status, served.out) == (2, "")
    assert served.err.splitlines() == [
        f"pokerd serve: cannot open {db}: it is on a read-only file system"
    ]
    assert (new.status, new.err) == (
        2,
        f"pokerd serve: cannot open {place}/new/pokerd.db: {place} is on a "
        "read-only file system\n",
    )
    assert (migrated.status, migrated.err) == (
        2,
        f"pokerd migrate: cannot open {db}: it is on a read-only file system\n",
    )


async def test_serve_says_when_no_file_can_be_created_beside_the_database(
    tmp_path: Path,
) -> None:
    place = tmp_path / "locked"
    place.mkdir()
    db = place / "pokerd.db"
    made_database(db)

    with immutable(place):
        refused = await serve_once(db)

    assert (refused.status, refused.out) == (2, "")
    assert refused.err.splitlines() == [
        f"pokerd serve: cannot open {db}: no file can be created in {place} "
        "(pokerd keeps pokerd.db.owner, pokerd.db-wal and pokerd.db-shm beside "
        "the database)"
    ]


async def test_serve_says_when_the_database_file_is_not_writable(
    tmp_path: Path,
) -> None:
    db = tmp_path / "pokerd.db"
    made_database(db)

    with immutable(db):
        refused = await serve_once(db)

    assert (refused.status, refused.out) == (2, "")
    assert refused.err.splitlines() == [
        f"pokerd serve: cannot open {db}: it is not writable"
    ]


# Reading on a read-only file system


async def test_replay_reads_a_cleanly_closed_database_on_a_read_only_file_system(
    tmp_path: Path, read_only_mount: tuple[str, ...] | None
) -> None:
    place = tmp_path / "ro"
    place.mkdir()
    db = place / "pokerd.db"
    table = made_database(db)
    prefix = read_only(read_only_mount, place)

    verified = await pokerd("replay", "--db", str(db), "--verify", prefix=prefix)
    told = await pokerd("replay", "--db", str(db), table, prefix=prefix)

    assert (verified.status, verified.err) == (0, "")
    assert verified.out == f"table {table}: 2 events, 0 snapshots, 0 hands: ok\n"
    assert (told.status, told.err) == (0, "")
    assert "ann sits in seat 0 with 100" in told.out
    assert sorted(path.name for path in place.iterdir()) == ["pokerd.db"]


async def test_replay_says_a_wal_needs_its_shm_where_none_can_be_created(
    tmp_path: Path, read_only_mount: tuple[str, ...] | None
) -> None:
    place = tmp_path / "ro"
    place.mkdir()
    db, log = place / "pokerd.db", tmp_path / "serve.log"
    async with pokerd_serve(db, log) as killed:
        table = await new_table(killed.api)
        killed.process.send_signal(signal.SIGKILL)
        with trio.fail_after(STEP_S):
            await killed.process.wait()
    shm_of(db).unlink()  # the -wal holds the commits; the -shm is only an index
    owner_of(db).unlink()
    prefix = read_only(read_only_mount, place)

    refused = await pokerd("replay", "--db", str(db), "--verify", prefix=prefix)
    with immutable(place):
        still = await pokerd("replay", "--db", str(db), "--verify")
    writable = await pokerd("replay", "--db", str(db), "--verify")

    assert (refused.status, refused.out) == (2, "")
    assert refused.err.splitlines() == [
        f"pokerd replay: cannot read {db}: SQLite reads the commits in pokerd.db-wal "
        f"only through pokerd.db-shm, which is missing and cannot be created in "
        f"{place}; copy pokerd.db with pokerd.db-wal to a writable place and read "
        "the copy"
    ]
    assert still.err == refused.err
    assert (writable.status, writable.err) == (0, "")
    assert writable.out == f"table {table}: 1 event, 0 snapshots, 0 hands: ok\n"


async def test_replay_says_when_sqlite_cannot_create_the_files_it_reads_through(
    tmp_path: Path,
) -> None:
    place = tmp_path / "locked"
    place.mkdir()
    db = place / "pokerd.db"
    made_database(db)

    with immutable(place):
        refused = await pokerd("replay", "--db", str(db), "--verify")

    assert (refused.status, refused.out) == (2, "")
    assert refused.err.splitlines() == [
        f"pokerd replay: cannot read {db}: no file can be created in {place} "
        "(SQLite needs pokerd.db-wal and pokerd.db-shm beside it to read it)"
    ]


# PostgreSQL


async def test_a_server_on_postgresql_plays_on_after_sigkill_and_its_log_verifies(
    postgres_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "serve.log"
    # One node id for both: the restarted node takes its own leases back at
    # once (a new id would wait out the killed node's lease, answering 307).
    node = ("--node-id", "the-node")
    async with pokerd_serve(postgres_url, log, *node) as killed:
        table = await new_table(killed.api)
        tokens = {
            seat: await sit(killed.api, table, seat, name)
            for seat, name in ((0, "ann"), (1, "bo"))
        }
        dealt = await events_until(killed.api, table, "turn_started")
        killed.process.send_signal(signal.SIGKILL)
        with trio.fail_after(STEP_S):
            await killed.process.wait()

    async with pokerd_serve(postgres_url, log, *node) as restarted:
        # The hand goes on from the log: the player to act folds, the next
        # hand is dealt.
        status, acked = await restarted.api.call(
            "POST",
            f"/tables/{table}/requests",
            body={"type": "act", "id": "f1", "action": "fold"},
            token=tokens[dealt[-1]["event"]["seat"]],
        )
        await events_until(restarted.api, table, "hand_dealt", after=dealt[-1]["seq"])
        await stop(restarted.process, log)
    verified = await pokerd("replay", "--db", postgres_url, "--verify")

    assert status == 200, acked
    assert (verified.status, verified.err) == (0, ""), verified.out
    assert verified.out.startswith(f"table {table}: ")
    assert verified.out.endswith(": ok\n")


async def test_serve_says_in_one_line_when_postgresql_is_not_there() -> None:
    port = free_port()  # nothing listens there
    url = f"postgresql://pokerd:secret@127.0.0.1:{port}/pokerd"

    refused = await serve_once(url)

    hidden = f"postgresql://pokerd:***@127.0.0.1:{port}/pokerd"
    assert (refused.status, refused.out) == (2, "")
    (line,) = refused.err.splitlines()
    assert line.startswith(f"pokerd serve: cannot connect to {hidden}: ")
    assert "secret" not in line
