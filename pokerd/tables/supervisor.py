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

On a fenced store (PostgreSQL, several nodes) a node runs only the tables
whose lease it holds (docs/design.md, Nodes): it takes the lease before it
loads a table, a keeper renews what it holds every ttl/3, and a scan takes
the free or expired leases of tables that must run. A table whose lease is
lost, or ran out by the node's own clock before a renewal came back, or
whose append the fence refused, steps down: it is unloaded at once (not
stopped for good) and its streams are told it moved, so their clients
reconnect to whichever node owns it now.

With cluster routing, a node also places tables where the cluster's router
sends them (docs/design.md, "Where a table runs"): after each renewal it
reads which nodes are up, hands each table it holds whose slot ranks another
node up first to that node (unloaded, lease released naming it, streams sent
there), and its scan takes only the free tables whose slot ranks it first,
or that stayed free longer than a grace.

Exceptions that `Table.execute` raises to its caller (RuleError, and
ConflictError, which also stops the table) are the caller's to handle.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from functools import partial

import attrs
import trio

from pokerd.engine.commands import CreateTable
from pokerd.engine.config import TableConfig
from pokerd.ops.metrics import Metrics
from pokerd.ops.ring import node_of
from pokerd.ops.settings import DEFAULTS
from pokerd.store.errors import DATABASE_ERRORS, UnavailableError
from pokerd.store.log import ConflictError, EventStore, FencedError
from pokerd.store.reader import (
    LoadedTable,
    load_table_to_run,
    must_run,
    table_epoch,
    tables_to_resume,
)
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


class TableElsewhereError(Exception):
    """Another node holds the table's lease: it runs the table, not this one."""

    def __init__(self, table_id: str, node: str | None, address: str | None) -> None:
        super().__init__(
            f"table {table_id} is run by node {node or '(unknown)'}"
            + (f" at {address}" if address else "")
        )
        self.table_id = table_id
        self.node = node
        self.address = address
        """The owner's advertised base URL, http://HOST:PORT (None: unknown)."""


LEASE_ERRORS: tuple[type[Exception], ...] = (*DATABASE_ERRORS, UnavailableError)
"""What a lease statement raises when the database cannot be reached."""

OPEN_ATTEMPTS = 3
"""Loads of a table that stepped down as soon as it was taken, before a
request for it is told to try again."""

WATCH_SHARE = 0.05
"""How often, as a share of the lease ttl, the node looks for leases that ran
out by its own clock."""

JOIN_DELAY_S = 2.0
"""How long after its start a node counts as up for placing tables: the
router sends a node nothing before its health checks pass (`rise 2` at
`inter 500ms` in the cluster's HAProxy, 1 s, plus up to one `inter` before
the first check; `pokerd.tools.haproxy.Checks`, tests/test_cluster.py checks
the two agree), so tables handed to it earlier would be asked for at the
nodes they just left."""

GRACE_TTLS = 2.0
"""How long, in lease ttls, a free table that must run waits for the node its
slot ranks first before any node takes it (docs/design.md, "Where a table
runs"): longer than it takes every node to see a dead node gone (a ttl) plus
a scan (ttl/3), so it only acts when the nodes' views disagree for longer."""

NEW_ID_TRIES = 64
"""Random ids drawn for a new table until one whose slot ranks this node first
(with N nodes up, N draws on average)."""

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
        on_moved: Callable[[str, str], None] | None = None,
        metrics: Metrics | None = None,
        cluster_routing: bool = DEFAULTS.cluster_routing,
    ) -> None:
        self.store = store
        self._publish = publish
        self._on_stopped = on_stopped
        """Told of each table it stops (must not raise), e.g. to end streams."""
        self._on_moved = on_moved
        """Told of each table that stepped down (id, why; must not raise):
        another node owns it now, its streams must reconnect. No node is
        named, not even on a hand-off: clients come back where they reached
        the table (the cluster's router), which sends them to its node."""
        self.metrics = Metrics() if metrics is None else metrics
        self.cluster_routing = cluster_routing and store.fenced
        self.up: dict[str, str] = {}
        """The nodes up at the last keeper tick, each with its address."""
        self._grace_s = GRACE_TTLS * store.leases.ttl_s
        self._free_since: dict[str, float] = {}
        """When (trio's clock) each free table was first seen free by a scan."""
        self._handing: dict[str, tuple[str, str]] = {}
        """Tables being handed off now: the node they go to, and its address."""
        self._handed_to: dict[str, tuple[str, str, float]] = {}
        """Tables handed off, with the node, its address and when: a request
        for one goes there (for a grace) rather than taking it back."""
        self._adopted: dict[str, frozenset[str]] = {}
        """Tables taken past the grace although another node ranks first,
        with the nodes up then: not handed back while those stay the same."""
        self.moves = 0
        self.keeper_rounds = 0
        """Scan rounds begun (each waits a tick, then scans), and renewal
        rounds (each waits a tick, renews, looks at the nodes up and hands
        off): a test can tell when one of each has run."""
        self.renewal_rounds = 0
        self._releasing: set[str] = set()
        """Tables that stepped down since the start (fenced stores)."""
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
                if self.store.fenced:
                    self._nursery = nursery
                    await self._read_nodes_up()
                    await self._take_free_tables()
                    nursery.start_soon(self._keep_leases)
                    task_status.started()
                    await trio.sleep_forever()
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

    async def create_table(self, config: TableConfig, creator_hash: str = "") -> str:
        """Create a table with a new random id and run it; return the id.
        `creator_hash`: the hash of the token that may close it.

        Raises RuleError when `config` is refused (nothing is written then).
        """
        nursery = self._running()
        table_id = self._new_table_id()
        if self.store.fenced:
            # Taken before the first event: the append needs it, and nobody
            # else can have a lease on an id nobody has seen.
            epoch = await trio.to_thread.run_sync(self.store.leases.take, table_id)
            if epoch is None:
                raise RuntimeError(f"the lease of the new table {table_id} is taken")
        table = Table(
            table_id,
            self.store,
            publish=self._publish,
            clock=self._clock,
            next_hand_delay_ms=self._next_hand_delay_ms,
        )
        try:
            await table.execute(CreateTable(config=config, creator_hash=creator_hash))
        except BaseException:
            if self.store.fenced:
                await self._release(table_id)
            raise
        slot = self._slots[table_id] = _Slot()
        await nursery.start(self._supervise, slot, table)
        return table_id

    def _new_table_id(self) -> str:
        """A new random id; with cluster routing, one whose slot ranks this
        node first among the nodes up, so the router sends its clients here
        and no hand-off follows its creation."""
        table_id = secrets.token_urlsafe(9)
        me = self.store.leases.node
        if not self.cluster_routing or me not in self.up:
            return table_id
        for _ in range(NEW_ID_TRIES):
            if node_of(table_id, self.up) == me:
                break
            table_id = secrets.token_urlsafe(9)
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
        if self.store.fenced:
            return await self._open_fenced(table_id)
        nursery = self._running()
        slot = self._slots[table_id] = _Slot()
        try:
            loaded = await self.store.read(load_table_to_run, table_id)
            if loaded is None:
                return None
            await nursery.start(self._supervise, slot, self._table(loaded))
        finally:
            if slot.table is None and self._slots.get(table_id) is slot:
                del self._slots[table_id]
            slot.ready.set()
        return self.get(table_id)

    # Leases (fenced stores)

    async def _open_fenced(self, table_id: str) -> Table | None:
        """`open_table` on a fenced store: run here once its lease is taken.

        TableElsewhereError while another node runs it (or it keeps moving).
        """
        # No lease row for an id the log does not have.
        if await self.store.read(table_epoch, table_id) is None:
            return None
        for _ in range(OPEN_ATTEMPTS):
            # After each await: the scan may have started loading it meanwhile.
            while (slot := self._slots.get(table_id)) is not None:
                if slot.table is not None:
                    return slot.table
                await slot.ready.wait()
            self._raise_if_stopped(table_id)
            self._raise_if_handed_off(table_id)
            await self._take_and_run(table_id, only_if_must_run=False)
            table = self.get(table_id)
            if table is not None:
                return table
        raise TableElsewhereError(table_id, None, None)  # it keeps moving

    def _raise_if_handed_off(self, table_id: str) -> None:
        """TableElsewhereError, naming the node, for a table this node handed
        off lately to a node still up: taking it back now would only hand it
        off again at the next tick (its new node takes it on its next scan,
        or on the first request sent there)."""
        handed = self._handed_to.get(table_id)
        if handed is None:
            return
        node, address, at = handed
        if node in self.up and trio.current_time() - at < self._grace_s:
            raise TableElsewhereError(table_id, node, address)
        del self._handed_to[table_id]

    async def _take_and_run(
        self, table_id: str, *, only_if_must_run: bool, adopted: bool = False
    ) -> None:
        """Take the table's lease, then load it from the log and run it.

        TableElsewhereError if another node holds the lease. Taking first
        matters: the take waits for the old owner's appends in flight and
        fences the rest, so the log read after it is the whole log.
        """
        nursery = self._running()
        leases = self.store.leases
        if table_id in self._slots:
            # Taking a lease this node holds again would fence its own table.
            log.error("table %s: already running or loading here", table_id)
            return
        slot = self._slots[table_id] = _Slot()
        try:
            taken = await trio.to_thread.run_sync(leases.take_over, table_id)
            if taken is None:
                owner = await trio.to_thread.run_sync(leases.owner, table_id)
                node, address = owner if owner is not None else (None, None)
                raise TableElsewhereError(table_id, node, address)
            loaded = await self.store.read(load_table_to_run, table_id)
            if loaded is None or (only_if_must_run and not must_run(loaded.state)):
                await trio.to_thread.run_sync(leases.release, [table_id])
                return
            log.info(
                "table %s: taken at lease epoch %d (%s%s), resumed at seq %d%s%s",
                table_id,
                taken.epoch,
                taken.taken_from,
                f" from node {taken.previous_owner}" if taken.previous_owner else "",
                loaded.seq,
                " in the middle of a hand" if loaded.state.hand_in_progress else "",
                f"; free for over {self._grace_s:g} s, so adopted" if adopted else "",
            )
            if taken.taken_from == "expired":
                self.metrics.takeovers.inc()
            elif taken.taken_from == "handed":
                self.metrics.handoffs.inc("in")
            self._handed_to.pop(table_id, None)
            if adopted:
                self._adopted[table_id] = frozenset(self.up)
            await nursery.start(self._supervise, slot, self._table(loaded))
        finally:
            if slot.table is None and self._slots.get(table_id) is slot:
                del self._slots[table_id]
            slot.ready.set()

    async def _take_free_tables(self) -> None:
        """Take and run every table that must run and whose lease is free
        (with cluster routing: whose slot ranks this node first among the
        nodes up, or that stayed free longer than the grace)."""
        try:
            free = await trio.to_thread.run_sync(self.store.leases.free_tables)
        except LEASE_ERRORS as error:
            log.warning("the free tables could not be read: %s", error)
            return
        now = trio.current_time()
        self._free_since = {
            table_id: self._free_since.get(table_id, now) for table_id in free
        }
        me = self.store.leases.node
        for table_id in free:
            if table_id in self._slots or table_id in self._stopped:
                continue
            adopted = False
            if self.cluster_routing and node_of(table_id, self.up) != me:
                if now - self._free_since[table_id] < self._grace_s:
                    continue  # the node its slot ranks first takes it
                adopted = True
            try:
                await self._take_and_run(
                    table_id, only_if_must_run=True, adopted=adopted
                )
            except TableElsewhereError:
                continue  # another node took it first
            except LEASE_ERRORS as error:
                log.warning("table %s could not be taken: %s", table_id, error)
                return

    async def _keep_leases(self) -> None:
        """Renew, watch and scan, for as long as the supervisor runs."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._renew_leases)
            nursery.start_soon(self._watch_expiry)
            while True:
                self.keeper_rounds += 1  # and asleep, with no checkpoint between
                await trio.sleep(self.store.leases.ttl_s / 3)
                await self._take_free_tables()

    async def _read_nodes_up(self) -> bool:
        """Say this node is alive and read which nodes are up (one statement,
        on the keeper's schedule: never per request); False if it failed."""
        try:
            up = await trio.to_thread.run_sync(self.store.leases.nodes_up, JOIN_DELAY_S)
        except LEASE_ERRORS as error:
            log.warning("the nodes up could not be read: %s", error)
            return False
        if self.cluster_routing and set(up) != set(self.up):
            log.info("nodes up: %s", ", ".join(sorted(up)) or "none")
        self.up = up
        return True

    def _hand_off_misplaced(self) -> None:
        """Hand each table held whose slot ranks another node up first to it.

        Only while this node is up itself: a node starting (or whose own row
        lags) would otherwise hand everything away on a view without itself.
        """
        me = self.store.leases.node
        if not self.cluster_routing or me not in self.up:
            return
        up = frozenset(self.up)
        self._adopted = {
            table_id: seen
            for table_id, seen in self._adopted.items()
            if table_id in self._slots
        }
        for table_id in self.table_ids():
            target = node_of(table_id, up)
            if target is None or target == me or table_id in self._handing:
                continue
            if self._adopted.get(table_id) == up:
                continue  # adopted under these very nodes: its node takes none
            self.hand_off(table_id, target, self.up[target])

    def hand_off(self, table_id: str, node: str, address: str) -> None:
        """Give the table to `node` (at `address`): unloaded here, its lease
        released naming that node, its streams sent there."""
        self._handing[table_id] = (node, address)
        self._handed_to[table_id] = (node, address, trio.current_time())
        self.step_down(table_id, f"handed off to node {node} at {address}")

    async def _renew_leases(self) -> None:
        """Renew the leases, then say this node is alive, read the nodes up
        and hand off what belongs elsewhere, every ttl/3: in a loop of their
        own, so a long scan never delays them (a node whose row is a ttl old
        counts as down to the others, who would give its tables away)."""
        leases = self.store.leases
        while True:
            self.renewal_rounds += 1  # and asleep, with no checkpoint between
            await trio.sleep(leases.ttl_s / 3)
            try:
                lost = await trio.to_thread.run_sync(leases.renew)
            except LEASE_ERRORS as error:
                # The watch steps the tables down if this lasts too long.
                self.metrics.lease_renewals.inc("failed")
                log.warning("the leases could not be renewed: %s", error)
                continue
            self.metrics.lease_renewals.inc("ok")
            for table_id in sorted(lost):
                self.step_down(table_id, "its lease was taken by another node")
            if await self._read_nodes_up():
                self._hand_off_misplaced()

    async def _watch_expiry(self) -> None:
        """Step down each table whose lease ran out by this node's clock,
        before the database lets another node take it."""
        leases = self.store.leases
        while True:
            for table_id in leases.expired():
                self.step_down(table_id, "its lease ran out before it was renewed")
            await trio.sleep(leases.ttl_s * WATCH_SHARE)

    def step_down(self, table_id: str, reason: str) -> None:
        """Stop running the table now (it is unloaded, not stopped for good)."""
        slot = self._slots.get(table_id)
        if slot is not None and slot.table is not None:
            slot.table.lose(FencedError(f"table {table_id}: {reason}"))
        elif slot is None and self._nursery is not None:
            # Nothing runs it (a table created but refused): the lease goes.
            self._nursery.start_soon(self._release, table_id)

    async def _release(self, table_id: str, handed_to: str | None = None) -> None:
        if table_id in self._releasing:
            return
        self._releasing.add(table_id)
        try:
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(
                    partial(self.store.leases.release, [table_id], handed_to=handed_to)
                )
        except LEASE_ERRORS as error:
            log.warning("table %s: lease not released: %s", table_id, error)
        finally:
            self._releasing.discard(table_id)

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
            if self.store.fenced:
                await self._move(table, conflict)
                return None
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
            loaded = await self.store.read(load_table_to_run, table_id)
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

    async def _move(self, table: Table, conflict: ConflictError) -> None:
        """Step down: give the lease up (if it is still this node's), tell
        the streams the table moved (and where, for a hand-off)."""
        self.moves += 1
        reason = str(conflict)
        handing = self._handing.pop(table.table_id, None)
        if handing is not None and table.conflict is conflict:
            node, address = handing
            log.info(
                "table %s: handed off at seq %d to node %s at %s",
                table.table_id,
                table.seq,
                node,
                address,
            )
            await self._release(table.table_id, handed_to=node)
            self.metrics.handoffs.inc("out")
            if self._on_moved is not None:
                # No address: hand-offs happen behind the cluster's router,
                # and its clients come back through it, which sends them to
                # the new node (up in HAProxy by then: JOIN_DELAY_S).
                self._on_moved(table.table_id, reason)
            return
        self._handed_to.pop(table.table_id, None)
        log.warning(
            "table %s: stepped down at seq %d, another node may own it now: %s",
            table.table_id,
            table.seq,
            reason,
        )
        await self._release(table.table_id)
        if self._on_moved is not None:
            self._on_moved(table.table_id, reason)

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
