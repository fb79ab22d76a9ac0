"""Tests of the schema migrations: applied once, in order, whole or not at all.

SQLite's first, then PostgreSQL's (a real server, conftest.py)."""

from __future__ import annotations

import re
import sqlite3
import threading
from contextlib import closing
from pathlib import Path

import psycopg
import pytest

from pokerd.store import (
    EventStore,
    SchemaTooNewError,
    available_migrations,
    connect,
    migrate,
    open_database,
    postgres,
)
from pokerd.store.migrate import (
    POSTGRESQL_MIGRATIONS,
    SQLITE_MIGRATIONS,
    Migration,
    schema_version,
)

FIRST = """\
-- A table, and a trigger whose body has semicolons of its own.
CREATE TABLE a (x INTEGER NOT NULL);

CREATE TRIGGER a_is_append_only BEFORE DELETE ON a
BEGIN
    SELECT RAISE(ABORT, 'a is append-only; never deleted');
END;
-- a comment after the last statement
"""

SECOND = """\
CREATE TABLE b (y INTEGER NOT NULL);
INSERT INTO a (x) VALUES (1);
"""

BROKEN_SECOND = """\
CREATE TABLE b (y INTEGER NOT NULL);
INSERT INTO a (x) VALUES (1);
CREATE TABLE b (y INTEGER NOT NULL);
"""
"""Fails at its third statement, after creating a table and inserting a row."""


def fake_migrations(directory: Path, files: dict[str, str]) -> tuple[Migration, ...]:
    directory.mkdir(exist_ok=True)
    for name, sql in files.items():
        (directory / name).write_text(sql)
    return available_migrations(directory)


def recorded(connection: sqlite3.Connection) -> list[tuple[int, str]]:
    rows = connection.execute("SELECT version, name FROM schema_version ORDER BY 1")
    return [(int(version), str(name)) for version, name in rows]


def schema(connection: sqlite3.Connection) -> list[tuple[str, str, str | None]]:
    """Everything sqlite_master holds: what a migration may have created."""
    rows = connection.execute("SELECT type, name, sql FROM sqlite_master ORDER BY 2")
    return [(str(kind), str(name), sql) for kind, name, sql in rows]


def schema_of(path: Path) -> list[tuple[str, str, str | None]]:
    with closing(sqlite3.connect(path)) as connection:
        return schema(connection)


def names(connection: sqlite3.Connection, kind: str) -> set[str]:
    rows = connection.execute("SELECT name FROM sqlite_master WHERE type = ?", (kind,))
    return {str(name) for (name,) in rows}


# The migrations shipped with pokerd.


def test_the_migration_files_are_numbered_from_one_without_gaps() -> None:
    migrations = available_migrations()
    assert migrations
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    for migration in migrations:
        assert re.fullmatch(rf"{migration.version:04d}_[a-z0-9_]+\.sql", migration.name)
        assert migration.sql == (SQLITE_MIGRATIONS / migration.name).read_text()
    # No file is left out of the sequence.
    on_disk = sorted(path.name for path in SQLITE_MIGRATIONS.glob("*.sql"))
    assert on_disk == [m.name for m in migrations]


def test_a_new_database_gets_every_migration_recorded_in_schema_version(
    tmp_path: Path,
) -> None:
    with closing(open_database(tmp_path / "new" / "pokerd.db")) as connection:
        expected = [(m.version, m.name) for m in available_migrations()]
        assert recorded(connection) == expected
        assert schema_version(connection) == len(expected)
        assert {"tables", "events", "snapshots", "hands", "schema_version"} <= names(
            connection, "table"
        )
        assert {
            "events_are_never_updated",
            "events_are_never_deleted",
            "events_are_gapless",
        } <= names(connection, "trigger")


def test_migrate_returns_what_it_applied_and_the_second_time_nothing(
    tmp_path: Path,
) -> None:
    with closing(connect(tmp_path / "pokerd.db")) as connection:
        assert migrate(connection) == [m.name for m in available_migrations()]
        rows = connection.execute("SELECT * FROM schema_version").fetchall()
        before = schema(connection)
        assert migrate(connection) == []
        assert connection.execute("SELECT * FROM schema_version").fetchall() == rows
        assert schema(connection) == before


def test_reopening_a_migrated_database_applies_nothing(tmp_path: Path) -> None:
    path = tmp_path / "pokerd.db"
    with closing(open_database(path)) as connection:
        rows = connection.execute("SELECT * FROM schema_version").fetchall()
    with EventStore(path):
        pass
    with closing(open_database(path)) as connection:
        assert connection.execute("SELECT * FROM schema_version").fetchall() == rows


# A database from a newer pokerd.


def newer_database(path: Path, journal_mode: str) -> None:
    """A database one migration ahead of this pokerd, in `journal_mode`."""
    newest = available_migrations()[-1].version
    if journal_mode == "wal":
        with closing(open_database(path)) as connection:
            connection.execute(
                "INSERT INTO schema_version (version, name, applied_at)"
                " VALUES (?, '9999_from_the_future.sql', 0)",
                (newest + 1,),
            )
        return
    with closing(sqlite3.connect(path, isolation_level=None)) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        connection.execute(
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY,"
            " name TEXT NOT NULL, applied_at INTEGER NOT NULL)"
        )
        connection.execute(
            "INSERT INTO schema_version VALUES (?, '9999_from_the_future.sql', 0)",
            (newest + 1,),
        )


@pytest.mark.parametrize("journal_mode", ["wal", "delete"])
def test_a_database_from_a_newer_pokerd_is_refused_and_left_byte_for_byte(
    tmp_path: Path, journal_mode: str
) -> None:
    path = tmp_path / "pokerd.db"
    newer_database(path, journal_mode)
    data, before = path.read_bytes(), schema_of(path)
    with pytest.raises(SchemaTooNewError, match="newer pokerd"):
        open_database(path).close()
    assert path.read_bytes() == data
    with pytest.raises(SchemaTooNewError):
        EventStore(path).close()
    assert path.read_bytes() == data
    assert schema_of(path) == before
    assert path.read_bytes() == data
    if journal_mode == "delete":
        # Not even switched to WAL (which rewrites the file's header).
        assert not path.with_name(path.name + "-wal").exists()


def test_migrate_refuses_a_newer_database_without_changing_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "pokerd.db"
    newer_database(path, "wal")
    data = path.read_bytes()
    with closing(connect(path)) as connection:
        before = schema(connection)
        with pytest.raises(SchemaTooNewError):
            migrate(connection)
        assert schema(connection) == before
    assert path.read_bytes() == data


def test_a_database_ahead_of_the_migrations_given_is_refused(tmp_path: Path) -> None:
    migrations = fake_migrations(
        tmp_path / "migrations", {"0001_a.sql": FIRST, "0002_b.sql": SECOND}
    )
    with closing(connect(tmp_path / "pokerd.db")) as connection:
        migrate(connection, migrations=migrations)
        before = schema(connection)
        with pytest.raises(SchemaTooNewError):
            migrate(connection, migrations=migrations[:1])
        assert schema(connection) == before
        assert recorded(connection) == [(1, "0001_a.sql"), (2, "0002_b.sql")]


# Applying them in order.


def test_an_older_database_gets_only_the_migrations_it_lacks(tmp_path: Path) -> None:
    migrations = fake_migrations(
        tmp_path / "migrations", {"0001_a.sql": FIRST, "0002_b.sql": SECOND}
    )
    with closing(connect(tmp_path / "pokerd.db")) as connection:
        assert migrate(connection, migrations=migrations[:1]) == ["0001_a.sql"]
        connection.execute("INSERT INTO a (x) VALUES (7)")
        assert migrate(connection, migrations=migrations) == ["0002_b.sql"]
        assert recorded(connection) == [(1, "0001_a.sql"), (2, "0002_b.sql")]
        # The first file was not run again (it would have failed: a exists).
        assert connection.execute("SELECT x FROM a ORDER BY x").fetchall() == [
            (1,),
            (7,),
        ]
        # The trigger with semicolons in its body was created whole.
        with pytest.raises(sqlite3.IntegrityError, match="append-only; never"):
            connection.execute("DELETE FROM a")


def test_a_migration_that_fails_midway_leaves_no_half_applied_schema(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "migrations"
    broken = fake_migrations(
        directory, {"0001_a.sql": FIRST, "0002_b.sql": BROKEN_SECOND}
    )
    with closing(connect(tmp_path / "pokerd.db")) as connection:
        with pytest.raises(sqlite3.OperationalError, match="already exists"):
            migrate(connection, migrations=broken)
        # The first file is applied and recorded; none of the second is.
        assert recorded(connection) == [(1, "0001_a.sql")]
        assert names(connection, "table") == {"a", "schema_version"}
        assert connection.execute("SELECT COUNT(*) FROM a").fetchone() == (0,)
        assert not connection.in_transaction
        # Once the file is fixed, it is applied from its start.
        fixed = fake_migrations(directory, {"0002_b.sql": SECOND})
        assert migrate(connection, migrations=fixed) == ["0002_b.sql"]
        assert connection.execute("SELECT x FROM a").fetchall() == [(1,)]


def test_a_failing_first_migration_leaves_a_new_database_empty(
    tmp_path: Path,
) -> None:
    broken = fake_migrations(tmp_path / "migrations", {"0001_b.sql": BROKEN_SECOND})
    with closing(connect(tmp_path / "pokerd.db")) as connection:
        with pytest.raises(sqlite3.OperationalError):
            migrate(connection, migrations=broken)
        assert schema(connection) == []
        assert schema_version(connection) == 0


def test_a_migration_that_ends_its_own_transaction_reports_its_own_error(
    tmp_path: Path,
) -> None:
    # ON CONFLICT ROLLBACK ends the transaction inside the failing statement.
    migrations = fake_migrations(
        tmp_path / "migrations",
        {
            "0001_c.sql": "CREATE TABLE c (x UNIQUE ON CONFLICT ROLLBACK);\n"
            "INSERT INTO c VALUES (1);\n"
            "INSERT INTO c VALUES (1);\n"
        },
    )
    with closing(connect(tmp_path / "pokerd.db")) as connection:
        with pytest.raises(sqlite3.IntegrityError, match="UNIQUE constraint failed"):
            migrate(connection, migrations=migrations)
        assert schema(connection) == []


# The numbering.


def test_a_gap_in_the_numbering_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="migration 2 is missing before 0003_c"):
        fake_migrations(tmp_path, {"0001_a.sql": FIRST, "0003_c.sql": SECOND})


def test_a_numbering_that_does_not_start_at_one_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="migration 1 is missing"):
        fake_migrations(tmp_path, {"0002_b.sql": SECOND})


def test_a_migration_file_named_otherwise_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"NNNN_words\.sql"):
        fake_migrations(tmp_path, {"0001_a.sql": FIRST, "2_Second.sql": SECOND})


# PostgreSQL: the same rules, its own files.


def pg_recorded(url: str) -> list[tuple[int, str]]:
    with psycopg.connect(url) as connection:
        rows = connection.execute("SELECT version, name FROM schema_version ORDER BY 1")
        return [(int(version), str(name)) for version, name in rows]


def pg_tables(url: str) -> set[str]:
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = 'public'"
        )
        return {str(name) for (name,) in rows}


def test_the_postgresql_files_are_numbered_and_name_the_same_tables() -> None:
    sqlite = available_migrations(SQLITE_MIGRATIONS)
    postgresql = available_migrations(POSTGRESQL_MIGRATIONS)
    assert [m.version for m in postgresql] == list(range(1, len(postgresql) + 1))
    assert [m.name for m in postgresql][:1] == [m.name for m in sqlite][:1]


def test_a_new_postgresql_database_gets_every_migration_once(postgres_url: str) -> None:
    expected = [
        (m.version, m.name) for m in available_migrations(POSTGRESQL_MIGRATIONS)
    ]
    with EventStore(postgres_url):
        pass
    assert pg_recorded(postgres_url) == expected
    assert {"tables", "events", "snapshots", "hands", "leases"} <= pg_tables(
        postgres_url
    )
    with EventStore(postgres_url), postgres.connect(postgres_url) as connection:
        assert postgres.migrate(connection) == []
    assert pg_recorded(postgres_url) == expected


def test_nodes_migrating_a_postgresql_database_together_apply_each_file_once(
    postgres_url: str,
) -> None:
    results: list[list[str]] = []

    def migrate_one() -> None:
        with postgres.connect(postgres_url) as connection:
            results.append(postgres.migrate(connection))

    threads = [threading.Thread(target=migrate_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    names = [m.name for m in available_migrations(POSTGRESQL_MIGRATIONS)]
    assert sorted(results, key=len) == [[], [], [], names]
    assert [name for _, name in pg_recorded(postgres_url)] == names


def test_a_postgresql_database_from_a_newer_pokerd_is_refused(
    postgres_url: str,
) -> None:
    with EventStore(postgres_url):
        pass
    newest = len(available_migrations(POSTGRESQL_MIGRATIONS))
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(
            "INSERT INTO schema_version VALUES (%s, '9999_from_the_future.sql', 0)",
            (newest + 1,),
        )
    before = pg_tables(postgres_url)
    with pytest.raises(SchemaTooNewError, match="newer pokerd"):
        EventStore(postgres_url).close()
    with (
        postgres.connect(postgres_url) as connection,
        pytest.raises(SchemaTooNewError),
    ):
        postgres.migrate(connection)
    assert pg_tables(postgres_url) == before


def test_a_postgresql_migration_that_fails_midway_leaves_nothing_of_it(
    postgres_url: str, tmp_path: Path
) -> None:
    first = "CREATE TABLE a (x INTEGER NOT NULL);\n"
    broken = fake_migrations(
        tmp_path / "migrations", {"0001_a.sql": first, "0002_b.sql": BROKEN_SECOND}
    )
    with postgres.connect(postgres_url) as connection:
        with pytest.raises(psycopg.errors.DuplicateTable):
            postgres.migrate(connection, migrations=broken)
        assert postgres.schema_version(connection) == 1
    assert pg_tables(postgres_url) == {"a", "schema_version"}
    with psycopg.connect(postgres_url) as connection:
        assert connection.execute("SELECT COUNT(*) FROM a").fetchone() == (0,)
