"""The store's two backends behind one interface: SQLite and PostgreSQL.

`EventStore` (log.py) does what both share: it encodes appends on the
caller's side, queues them to one writer thread, group-commits and wakes the
callers. A `Backend` does what differs: it owns the write connection, commits
a batch (setting each append's error), opens read connections and holds the
leases of the tables this node may write. The readers (reader.py, the replay
tool) are written once, against `ReadConnection`: sqlite3's `execute` with
`?` parameters, which the PostgreSQL read connection also offers.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from pokerd.ops.settings import Database, Synchronous, is_postgresql
from pokerd.store.records import PendingAppend, Taken


class Rows(Protocol):
    """A query's result: one row, all rows, or the rows one by one."""

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class ReadConnection(Protocol):
    """What a reader needs of a connection: a query with `?` parameters.

    An `sqlite3.Connection` is one as it is; on PostgreSQL,
    `pokerd.store.postgres.PostgresConnection` rewrites the `?` to `%s`.
    """

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Rows: ...

    def close(self) -> None: ...


class Leases(Protocol):
    """The tables this node may append to, each by a lease with an epoch.

    On PostgreSQL these are rows of the `leases` table, checked by every
    append (the fence, docs/design.md); on SQLite one process owns the whole
    file (its owner lock), so every lease is granted at once, epoch 1. The
    methods block: call them from a thread (`trio.to_thread.run_sync`).
    """

    node: str
    ttl_s: float

    def take(self, table_id: str) -> int | None:
        """Take the table's lease if it is free, expired or already this
        node's: its new epoch, or None while another node holds it."""
        ...

    def take_over(self, table_id: str) -> Taken | None:
        """`take`, also saying whose the lease was before (for the metrics)."""
        ...

    def renew(self) -> set[str]:
        """Extend every lease held; the tables whose lease was lost (and is
        no longer held)."""
        ...

    def release(
        self, table_ids: Sequence[str] | None = None, *, handed_to: str | None = None
    ) -> None:
        """Give up these leases (all held when None) so that others take them
        at once; `handed_to` names the node they are handed to, if any."""
        ...

    def held(self) -> dict[str, int]:
        """Each table this node holds, with the epoch it took."""
        ...

    def epoch_of(self, table_id: str) -> int | None:
        """The epoch this node holds the table's lease at (None: not held)."""
        ...

    def free_tables(self) -> list[str]:
        """Tables of the log whose lease is free or expired (none held here)."""
        ...

    def expired(self) -> list[str]:
        """Tables held whose lease has run out by this node's own clock,
        reckoned short of the database's: stop serving them now."""
        ...

    def owner(self, table_id: str) -> tuple[str, str | None] | None:
        """The node holding the table's lease now and the address it
        announced (None if unknown); None if nobody holds it."""
        ...

    def announce(self, address: str) -> None:
        """Say where this node is reached (its advertised base URL), and that
        it starts now."""
        ...

    def nodes_up(self, join_delay_s: float) -> dict[str, str]:
        """Mark this node seen now (once announced), and read the nodes up,
        each with its address: seen within the lease ttl and started at least
        `join_delay_s` ago, by the database's clock. One statement."""
        ...

    def close(self) -> None:
        """Release every lease held and forget this node (a clean stop)."""
        ...


class Backend(Protocol):
    """What `EventStore` needs of a database."""

    @property
    def database(self) -> Database: ...

    @property
    def fenced(self) -> bool:
        """Whether every append must carry the epoch of a lease this node holds."""
        ...

    @property
    def leases(self) -> Leases: ...

    def commit(self, batch: list[PendingAppend]) -> None:
        """Write the batch in one transaction (on the writer thread), each
        append whole or not at all: a failed append gets its `error`
        (ConflictError, FencedError, ...) and costs no other its events."""
        ...

    def reader(self) -> ReadConnection:
        """A new connection that reads what has been committed (and only reads)."""
        ...

    def close(self) -> None:
        """Close the write connection and give up the claim on the database."""
        ...


def open_backend(
    database: Database,
    *,
    synchronous: Synchronous,
    claim: bool,
    node: str | None,
    lease_ttl_s: float,
) -> Backend:
    """The backend for `database`: an SQLite file or a `postgresql://` URL.

    It is opened, migrated and (SQLite) claimed; `node` names this node for
    the leases and turns the fence on (PostgreSQL only).
    """
    if is_postgresql(database):
        from pokerd.store.postgres_log import PostgresBackend

        return PostgresBackend(str(database), node=node, lease_ttl_s=lease_ttl_s)
    from pokerd.store.sqlite_log import SqliteBackend

    return SqliteBackend(
        Path(database), synchronous=synchronous, claim=claim, lease_ttl_s=lease_ttl_s
    )
