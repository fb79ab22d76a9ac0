"""Tables as supervised actors: each in a nursery of its own, restarted from its log.

The supervisor's nursery holds one supervising task per table, and that task
holds the table's nursery, where `Table.run` (the action clock and the
dealer) runs. When an exception escapes a table's `run`, only that table's
nursery unwinds: its supervisor logs the failure, loads the table again from
the log and runs a new `Table` in its place; the other tables go on as if
nothing happened. A table that fails again with its log where it stood at the
previous failure (no progress) would only fail forever, so it is stopped and
reported instead. So is a table whose append finds another writer's events in
its log: two writers for one table must not fight over it.

Exceptions that `Table.execute` raises to its caller (RuleError, and
ConflictError, which also stops the table) are the caller's to handle.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable

import attrs
import trio

from pokerd.engine.commands import CreateTable
from pokerd.engine.config import TableConfig
from pokerd.ops.settings import DEFAULTS
from pokerd.store.log import ConflictError, EventStore
from pokerd.store.reader import LoadedTable, load_table, tables_to_resume
from pokerd.tables.table import Publisher, Table, wall_clock_ms

log = logging.getLogger(__name__)


@attrs.frozen
class StoppedTable:
    """A table the supervisor gave up on, and why."""

    table_id: str
    seq: int
    """The last seq of the table's log as the stopped table knew it."""
    reason: str


@attrs.frozen
class SupervisorStatistics:
    live: int
    """Tables running now."""
    restarts: int
    """Tables restarted from their log after a failure, since the start."""
    stopped: tuple[StoppedTable, ...]


class TableStoppedError(Exception):
    """The table failed in a way a restart would not mend; it is not running."""

    def __init__(self, stopped: StoppedTable) -> None:
        super().__init__(
            f"table {stopped.table_id} was stopped at seq {stopped.seq}: "
            f"{stopped.reason}"
        )
        self.stopped = stopped


MAX_RESTARTS_IN_WINDOW = 5
RESTART_WINDOW_S = 60.0
"""A table restarted this many times within the window is stopped instead."""


@attrs.define(eq=False)
class _Slot:
    """A table id's place in the supervisor, across restarts of its Table."""

    table: Table | None = None
    """None while the table is being loaded or restarted."""
    ready: trio.Event = attrs.Factory(trio.Event)
    """Set once `table` is running again (or the slot is gone)."""
    failed_at: int | None = None
    """The log's last seq at the table's previous failure."""
    restarted_at: list[float] = attrs.Factory(list)
    """When (trio's clock) the table was last restarted, within the window."""


class Supervisor:
    """Owns every running table of a process and keeps each one going."""

    def __init__(
        self,
        store: EventStore,
        *,
        publish: Publisher | None = None,
        clock: Callable[[], int] = wall_clock_ms,
        next_hand_delay_ms: int = DEFAULTS.next_hand_delay_ms,
        on_stopped: Callable[[StoppedTable], None] | None = None,
    ) -> None:
        self.store = store
        self._publish = publish
        self._on_stopped = on_stopped
        """Told of each table it stops (must not raise), e.g. to end streams."""
        self._clock = clock
        self._next_hand_delay_ms = next_hand_delay_ms
        self._nursery: trio.Nursery | None = None
        self._ran = False
        self._slots: dict[str, _Slot] = {}
        self._stopped: dict[str, StoppedTable] = {}
        self._restarts = 0

    # Running

    async def run(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Resume every table the log says must run, then supervise until cancelled."""
        if self._ran:
            raise RuntimeError("a Supervisor runs once")
        self._ran = True
        try:
            async with trio.open_nursery() as nursery:
                for loaded in await self.store.read(tables_to_resume):
                    log.info(
                        "table %s: resumed at seq %d%s",
                        loaded.table_id,
                        loaded.seq,
                        " in the middle of a hand"
                        if loaded.state.hand_in_progress
                        else "",
                    )
                    slot = self._slots[loaded.table_id] = _Slot()
                    await nursery.start(self._supervise, slot, self._table(loaded))
                self._nursery = nursery
                task_status.started()
                await trio.sleep_forever()
        finally:
            self._nursery = None

    async def create_table(self, config: TableConfig) -> str:
        """Create a table with a new random id and run it; return the id.

        Raises RuleError when `config` is refused (nothing is written then).
        """
        nursery = self._running()
        table_id = secrets.token_urlsafe(9)
        table = Table(
            table_id,
            self.store,
            publish=self._publish,
            clock=self._clock,
            next_hand_delay_ms=self._next_hand_delay_ms,
        )
        await table.execute(CreateTable(config=config))
        slot = self._slots[table_id] = _Slot()
        await nursery.start(self._supervise, slot, table)
        return table_id

    def get(self, table_id: str) -> Table | None:
        """The running table, or None (not running, or restarting this moment).

        Raises TableStoppedError for a table the supervisor stopped. Take the table
        afresh for each command: after a restart the old object is closed.
        """
        self._raise_if_stopped(table_id)
        slot = self._slots.get(table_id)
        return None if slot is None else slot.table

    async def open_table(self, table_id: str) -> Table | None:
        """The table, loaded from the log and run if it is not running yet.

        Waits out a restart in progress. None if the log has no such table;
        raises TableStoppedError for a table the supervisor stopped.
        """
        while (slot := self._slots.get(table_id)) is not None:
            if slot.table is not None:
                return slot.table
            await slot.ready.wait()
        self._raise_if_stopped(table_id)
        nursery = self._running()
        slot = self._slots[table_id] = _Slot()
        try:
            loaded = await self.store.read(load_table, table_id)
            if loaded is None:
                return None
            await nursery.start(self._supervise, slot, self._table(loaded))
        finally:
            if slot.table is None and self._slots.get(table_id) is slot:
                del self._slots[table_id]
            slot.ready.set()
        return self.get(table_id)

    def table_ids(self) -> list[str]:
        """The ids of the tables running now."""
        return sorted(
            table_id for table_id, slot in self._slots.items() if slot.table is not None
        )

    def statistics(self) -> SupervisorStatistics:
        return SupervisorStatistics(
            live=len(self.table_ids()),
            restarts=self._restarts,
            stopped=tuple(self._stopped.values()),
        )

    # Supervision

    def _raise_if_stopped(self, table_id: str) -> None:
        stopped = self._stopped.get(table_id)
        if stopped is not None:
            raise TableStoppedError(stopped)

    def _running(self) -> trio.Nursery:
        if self._nursery is None:
            raise RuntimeError("the supervisor is not running")
        return self._nursery

    def _table(self, loaded: LoadedTable) -> Table:
        return Table(
            loaded.table_id,
            self.store,
            loaded,
            publish=self._publish,
            clock=self._clock,
            next_hand_delay_ms=self._next_hand_delay_ms,
        )

    async def _supervise(
        self,
        slot: _Slot,
        table: Table,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Run `table`, and a fresh one from the log each time it fails."""
        table_id = table.table_id
        reported = False

        def report_started() -> None:
            nonlocal reported
            if not reported:
                reported = True
                task_status.started()

        try:
            while True:
                slot.table = table
                slot.ready.set()
                failure = await self._incarnation(table, report_started)
                slot.table, slot.ready = None, trio.Event()
                # Commands in flight commit first: the log is then complete
                # when it is read again, and nobody writes behind the new Table.
                await table.close()
                reloaded = await self._after_failure(slot, table, failure)
                if reloaded is None:
                    break
                table = self._table(reloaded)
        finally:
            if self._slots.get(table_id) is slot:
                del self._slots[table_id]
            slot.table = None
            slot.ready.set()
            if not table.closed:  # cancelled: write nothing after the supervisor
                with trio.CancelScope(shield=True):
                    await table.close()
        report_started()  # stopped before it ever ran: `get` says so

    async def _incarnation(
        self, table: Table, report_started: Callable[[], None]
    ) -> Exception | None:
        """Run `table` until an exception escapes it (returned) or a conflict (None)."""
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(table.run)
                report_started()
                await table.wait_conflict()  # a caller's append found another writer
                nursery.cancel_scope.cancel()
        except Exception as failure:
            return failure
        return None

    async def _after_failure(
        self, slot: _Slot, table: Table, failure: Exception | None
    ) -> LoadedTable | None:
        """Log the failure; the table loaded again to restart, or None: stop it."""
        table_id = table.table_id
        conflicts = [e for e in _leaves(failure) if isinstance(e, ConflictError)]
        if table.conflict is not None or conflicts:
            conflict = table.conflict or conflicts[0]
            self._stop(
                table,
                f"another writer appended to its log ({conflict})",
                failure or conflict,
            )
            return None
        assert failure is not None
        log.error(
            "table %s FAILED at seq %d: %s",
            table_id,
            table.seq,
            _describe(failure),
            exc_info=failure,
        )
        try:
            loaded = await self.store.read(load_table, table_id)
        except Exception as error:
            self._stop(table, f"its log could not be loaded again ({error!r})", error)
            return None
        if loaded is None:
            self._stop(table, "its log is gone", failure)
            return None
        if loaded.seq == slot.failed_at:
            self._stop(
                table,
                f"it failed again at seq {loaded.seq}, with no progress since "
                f"its previous failure ({_describe(failure)})",
                failure,
            )
            return None
        # A failure right after each commit makes progress every time; without
        # a bound it would be restarted for ever.
        now = trio.current_time()
        recent = [t for t in slot.restarted_at if now - t < RESTART_WINDOW_S]
        if len(recent) >= MAX_RESTARTS_IN_WINDOW:
            self._stop(
                table,
                f"it failed {len(recent) + 1} times within {RESTART_WINDOW_S:g} s "
                f"({_describe(failure)})",
                failure,
            )
            return None
        slot.restarted_at = [*recent, now]
        slot.failed_at = loaded.seq
        self._restarts += 1
        log.warning(
            "table %s: restarted from its log at seq %d (restart %d since the start)",
            table_id,
            loaded.seq,
            self._restarts,
        )
        return loaded

    def _stop(self, table: Table, reason: str, error: BaseException) -> None:
        stopped = StoppedTable(table.table_id, table.seq, reason)
        self._stopped[table.table_id] = stopped
        log.error(
            "table %s: STOPPED at seq %d, not restarting it: %s",
            table.table_id,
            table.seq,
            reason,
            exc_info=error,
        )
        if self._on_stopped is not None:
            self._on_stopped(stopped)


def _leaves(error: BaseException | None) -> list[BaseException]:
    """The exceptions inside `error`'s groups (trio wraps what escapes a nursery)."""
    if error is None:
        return []
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]


def _describe(error: BaseException) -> str:
    return "; ".join(repr(leaf) for leaf in _leaves(error))
