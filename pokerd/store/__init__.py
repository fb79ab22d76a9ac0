"""The durable event log, in SQLite or PostgreSQL: migrations, appends, snapshots,
hand histories, and the leases that say which node may append to a table."""

from pokerd.ops.settings import Synchronous
from pokerd.store.backend import Leases, ReadConnection
from pokerd.store.connection import (
    connect,
    open_database,
    open_for_writing,
    open_read_only,
)
from pokerd.store.errors import DATABASE_ERRORS, InUseError, UnavailableError
from pokerd.store.log import EventStore
from pokerd.store.migrate import SchemaTooNewError, available_migrations, migrate
from pokerd.store.ownership import Ownership, take_ownership
from pokerd.store.reader import (
    LoadedTable,
    hand_rows,
    last_seq,
    load_table,
    load_table_to_run,
    read_events,
    recent_requests,
    snapshot_rows,
    table_epoch,
    table_ids,
    tables_to_resume,
)
from pokerd.store.records import (
    SNAPSHOT_FORMAT,
    ConflictError,
    FencedError,
    HandRow,
    StoredEvent,
    WriterStatistics,
)

__all__ = [
    "DATABASE_ERRORS",
    "SNAPSHOT_FORMAT",
    "ConflictError",
    "EventStore",
    "FencedError",
    "HandRow",
    "InUseError",
    "Leases",
    "LoadedTable",
    "Ownership",
    "ReadConnection",
    "SchemaTooNewError",
    "StoredEvent",
    "Synchronous",
    "UnavailableError",
    "WriterStatistics",
    "available_migrations",
    "connect",
    "hand_rows",
    "last_seq",
    "load_table",
    "load_table_to_run",
    "migrate",
    "open_database",
    "open_for_writing",
    "open_read_only",
    "read_events",
    "recent_requests",
    "snapshot_rows",
    "table_epoch",
    "table_ids",
    "tables_to_resume",
    "take_ownership",
]
