"""The durable event log in SQLite: migrations, appends, snapshots, hand histories."""

from pokerd.ops.settings import Synchronous
from pokerd.store.connection import (
    connect,
    open_database,
    open_for_writing,
    open_read_only,
)
from pokerd.store.errors import InUseError, UnavailableError
from pokerd.store.log import (
    SNAPSHOT_FORMAT,
    ConflictError,
    EventStore,
    HandRow,
    StoredEvent,
    WriterStatistics,
)
from pokerd.store.migrate import SchemaTooNewError, available_migrations, migrate
from pokerd.store.ownership import Ownership, take_ownership
from pokerd.store.reader import (
    LoadedTable,
    hand_rows,
    last_seq,
    load_table,
    read_events,
    snapshot_rows,
    table_epoch,
    table_ids,
    tables_to_resume,
)

__all__ = [
    "SNAPSHOT_FORMAT",
    "ConflictError",
    "EventStore",
    "HandRow",
    "InUseError",
    "LoadedTable",
    "Ownership",
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
    "migrate",
    "open_database",
    "open_for_writing",
    "open_read_only",
    "read_events",
    "snapshot_rows",
    "table_epoch",
    "table_ids",
    "tables_to_resume",
    "take_ownership",
]
