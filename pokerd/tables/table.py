"""One live table: commands in, decide, append to the log, evolve, publish.

The shell around the pure engine for a single table. Commands are handled
one at a time in arrival order; an event is committed to the log before
anyone hears of it; the action clock and the next-hand timer are tasks of
the table's own nursery, driven by the log's deadlines so they resume after
a restart exactly where they stood.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import trio

from pokerd.engine.commands import Command, TimeOut
from pokerd.engine.decide import handle
from pokerd.engine.errors import RuleError
from pokerd.engine.events import Event, HandEnded
from pokerd.engine.seating import next_deal
from pokerd.engine.state import TableState
from pokerd.hands.history import hand_row
from pokerd.ops.settings import DEFAULTS
from pokerd.store.log import AppliedRequest, ConflictError, EventStore, StoredEvent
from pokerd.store.reader import LoadedTable
from pokerd.tables.dealer import start_hand

log = logging.getLogger(__name__)

SNAPSHOT_EVERY = 500
"""Events between snapshots when no hand ends (a hand's end always snapshots)."""


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


Publisher = Callable[[str, Sequence[StoredEvent], TableState], None]
"""Told of committed events (table id, events with seqs, state after them)."""


class TableClosedError(Exception):
    """This Table object was closed (restarted or stopped): ask for the table again."""


class Table:
    """A table's state and log position, and the one way to change them."""

    def __init__(
        self,
        table_id: str,
        store: EventStore,
        loaded: LoadedTable | None = None,
        *,
        publish: Publisher | None = None,
        clock: Callable[[], int] = wall_clock_ms,
        next_hand_delay_ms: int = DEFAULTS.next_hand_delay_ms,
    ) -> None:
        self.table_id = table_id
        self.store = store
        self.state = TableState() if loaded is None else loaded.state
        self.seq = 0 if loaded is None else loaded.seq
        self.recalled: tuple[AppliedRequest, ...] = (
            () if loaded is None else loaded.requests
        )
        """The seat requests the log says were applied lately, for whoever
        answers requests to fill its memory from (then it may drop them)."""
        self._since_snapshot = 0
        self._publish = publish
        self._clock = clock
        self._next_hand_delay_ms = next_hand_delay_ms
        self._lock = trio.Lock()
        self._changed = trio.Event()
        self._closed = False
        self.conflict: ConflictError | None = None
        """The first append refused because the log had moved on under this
        table (another writer): from then on it can write nothing."""
        self._conflicted = trio.Event()

    async def execute(
        self, command: Command, request: AppliedRequest | None = None
    ) -> list[StoredEvent]:
        """Decide `command`, make its events durable, then apply and publish them.

        `request` names the seat request the command comes from: it is kept
        with the last of the events (its `seq` is not: the row has its own).

        Raises RuleError when the table refuses; nothing is written then.
        Raises ConflictError when another writer appended to the table's log
        (see `wait_conflict`), and TableClosedError once the table was closed.
        """
        async with self._lock:
            if self._closed:
                raise TableClosedError(
                    f"table {self.table_id}: this table object is closed"
                )
            events, after = handle(self.state, command)
            if not events:
                return []
            try:
                stored = await self._append(events, after, request)
            except ConflictError as error:
                if self.conflict is None:
                    self.conflict = error
                    self._conflicted.set()
                raise
            self.state, self.seq = after, self.seq + len(events)
            self._changed.set()
            self._changed = trio.Event()
        if self._publish is not None:
            self._publish(self.table_id, stored, after)
        return stored

    async def _append(
        self, events: list[Event], after: TableState, request: AppliedRequest | None
    ) -> list[StoredEvent]:
        self._since_snapshot += len(events)
        hand_ended = any(isinstance(event, HandEnded) for event in events)
        snapshot = hand_ended or self._since_snapshot >= SNAPSHOT_EVERY
        record = hand_row(after.hand) if hand_ended and after.hand else None
        now = self._clock()
        payloads = await self.store.append(
            self.table_id,
            self.seq + 1,
            events,
            snapshot=after if snapshot else None,
            hand=record,
            now_ms=now,
            request=request,
        )
        if snapshot:
            self._since_snapshot = 0
        return [
            StoredEvent(
                seq=self.seq + 1 + i, event=event, recorded_at=now, payload=payload
            )
            for i, (event, payload) in enumerate(zip(events, payloads, strict=True))
        ]

    def clock(self) -> int:
        """The table's wall clock, ms since the Unix epoch."""
        return self._clock()

    async def wait_changed(self) -> None:
        """Wait for the next committed change of the table (or its closing)."""
        await self._changed.wait()

    async def wait_conflict(self) -> ConflictError:
        """Wait until an append finds another writer's events in the log."""
        await self._conflicted.wait()
        assert self.conflict is not None
        return self.conflict

    def lose(self, error: ConflictError) -> None:
        """The table may no longer write (its node lost the lease): as if an
        append had been refused, so whoever runs it stops it now."""
        if self.conflict is None:
            self.conflict = error
            self._conflicted.set()

    @property
    def closed(self) -> bool:
        return self._closed

    async def close(self) -> None:
        """Let the command in flight commit, then refuse every later one.

        For whoever owns the table, once its `run` has stopped: a caller still
        holding this object can then no longer write behind a newer Table
        loaded from the same log. Waiters in `wait_changed` wake up.
        """
        async with self._lock:
            self._closed = True
            self._changed.set()
            self._changed = trio.Event()

    async def run(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Run the table's clock and dealer until cancelled."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._action_clock)
            nursery.start_soon(self._dealer)
            task_status.started()

    async def _wait_change_or(self, deadline_ms: int | None) -> None:
        changed = self._changed
        if deadline_ms is None:
            await changed.wait()
            return
        with trio.move_on_after(max(0, deadline_ms - self._clock()) / 1000):
            await changed.wait()

    async def _action_clock(self) -> None:
        """Fire TimeOut when the seat to act lets its clock run out."""
        while True:
            hand = self.state.hand
            turn = None if hand is None or not hand.in_progress else hand.turn
            if turn is None:
                await self._wait_change_or(None)
                continue
            if self._clock() < turn.deadline_ms:
                await self._wait_change_or(turn.deadline_ms)
                continue
            before = self.state
            try:
                await self.execute(
                    TimeOut(hand=turn.hand, seat=turn.seat, now_ms=self._clock())
                )
            except RuleError as error:
                # Refused when the turn moved on meanwhile: look again. Had
                # nothing changed, wait for a change rather than spin.
                log.info("table %s: clock not applied: %s", self.table_id, error)
                if self.state is before:
                    await self._wait_change_or(None)

    async def _dealer(self) -> None:
        """Deal the next hand a moment after the last one ends."""
        while True:
            state = self.state
            if (
                state.config is None
                or state.hand_in_progress
                or next_deal(state) is None
            ):
                await self._wait_change_or(None)
                continue
            ended = state.hand.ended if state.hand is not None else None
            ready_at = (ended.ended_at if ended else 0) + self._next_hand_delay_ms
            if self._clock() < ready_at:
                await self._wait_change_or(ready_at)
                continue
            before = self.state
            try:
                await self.execute(start_hand(self._clock()))
            except RuleError as error:
                log.info("table %s: no hand dealt: %s", self.table_id, error)
                if self.state is before:
                    await self._wait_change_or(None)
