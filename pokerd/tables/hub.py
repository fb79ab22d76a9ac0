"""A table's subscribers: committed events fanned out to bounded queues.

The table publishes each command's events once they are durable; every
subscriber has a queue of its own, bounded, so a slow reader never slows the
table: when its queue is full the subscriber is dropped (the connection is
closed and the client resumes from its offset). A subscriber registers at
the table's current seq without a checkpoint in between, so that events up to
that seq come from the log (the backlog) and every later one from the queue:
the seam can neither lose nor repeat an event.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import aclosing
from typing import Any

import attrs
import trio

from pokerd.engine.state import TableState
from pokerd.engine.views import TableView, Viewer, view
from pokerd.ops.settings import DEFAULTS
from pokerd.store.log import StoredEvent
from pokerd.wire.batch_text import BatchText
from pokerd.wire.protocol import ServerMessage


@attrs.frozen
class Batch:
    """One command's events, with the table's state after the last of them."""

    events: tuple[StoredEvent, ...]
    state: TableState
    published_at: float = attrs.field(factory=time.perf_counter, eq=False)
    """time.perf_counter() when the table published it (for broadcast latency)."""
    public: list[TableView] = attrs.field(factory=list, eq=False, repr=False)
    """The spectator's view of `state` without proofs, once computed."""
    text: list[BatchText] = attrs.field(factory=list, eq=False, repr=False)
    """The parts of its messages all viewers share, once encoded."""
    encoded: dict[Any, list[str]] = attrs.field(factory=dict, eq=False, repr=False)
    """The batch's messages as sent, by redaction: every viewer who sees the
    batch alike (spectators, say) shares one encoding."""

    def public_view(self) -> TableView:
        """`view(state, None, proofs=False)`, computed once for all viewers."""
        if not self.public:
            self.public.append(view(self.state, None, proofs=False))
        return self.public[0]

    def batch_text(self) -> BatchText:
        """The encoder of this batch's messages (made once for all viewers)."""
        if not self.text:
            self.text.append(BatchText(self.events, self.state, self.public_view()))
        return self.text[0]


DeliverNow = Callable[[Batch | ServerMessage], bool]
"""A reader that may take an item at once, from the publisher's task, when
it is waiting with nothing queued (it must not raise): True if it took it;
False, and the item is queued as usual."""


class SlowConsumerError(Exception):
    """The subscriber's queue overflowed; it was dropped and must resume."""


@attrs.frozen
class HubStatistics:
    subscribers: int
    published_batches: int
    dropped_slow: int


class Subscription:
    """One subscriber's end: the batches after `since`, in seq order."""

    def __init__(
        self,
        hub: TableHub,
        viewer: Viewer,
        since: int,
        capacity: int,
        *,
        deliver_now: DeliverNow | None = None,
        on_drop: Callable[[], None] | None = None,
    ) -> None:
        self.viewer = viewer
        self.since = since
        """The seq the table stood at on registering: events up to it are the
        backlog (read from the log); the queue holds only later ones."""
        self._hub = hub
        self._send, self._receive = trio.open_memory_channel[
            Batch | ServerMessage | bytes
        ](capacity)
        self.dropped = False
        self.ended: str | None = None
        """Why the table ended this subscription, if it did."""
        self.moved = False
        """The table ended here because another node runs it now."""
        self.closed = False
        """The table ended because its creator closed it (for good)."""
        self._on_drop = on_drop
        """Called once when the hub drops this subscriber (it must not raise):
        a connection closes at once instead of when its reader drains."""
        self._deliver_now = deliver_now

    def offer(self, item: Batch | ServerMessage | bytes) -> bool:
        """Queue a batch (or a message for this subscriber alone, after the
        batches before it) without waiting; False if the queue is full.

        Bytes are the rest of a write the reader began from `deliver_now`,
        for it to finish first.
        """
        deliver_now = self._deliver_now
        if (
            deliver_now is not None
            and not isinstance(item, bytes)
            and deliver_now(item)
        ):
            return True
        try:
            self._send.send_nowait(item)
        except trio.WouldBlock:
            return False
        except trio.ClosedResourceError:
            return True  # already closed: nothing to deliver to
        return True

    def drop(self) -> None:
        if self.dropped:
            return
        self.dropped = True
        self._send.close()
        if self._on_drop is not None:
            self._on_drop()

    def tell(self, message: ServerMessage) -> bool:
        """Queue a message for this subscriber alone, after the batches already
        queued (an ack after the events it names); False, and the subscriber
        dropped, if the queue is full."""
        if self.offer(message):
            return True
        self._hub.drop(self)
        return False

    def finish(self) -> None:
        """Queue nothing more: the reader gets what was queued, then the end."""
        self._send.close()

    def close(self) -> None:
        """Unsubscribe: nothing more is queued; what was queued can still be read."""
        self._hub.unsubscribe(self)
        self._send.close()

    async def batches(self) -> AsyncGenerator[Batch]:
        """The queued batches as they come; raises SlowConsumerError if dropped."""
        async with aclosing(self.items()) as items:
            async for item in items:
                if isinstance(item, Batch):
                    yield item

    async def next_item(self) -> Batch | ServerMessage | bytes | None:
        """The next queued item, waiting for one; None once the subscription
        ended; raises SlowConsumerError once drained if it was dropped."""
        try:
            return await self._receive.receive()
        except trio.EndOfChannel:
            if self.dropped:
                raise SlowConsumerError(
                    f"more than {self._capacity()} batches waited for this subscriber"
                ) from None
            return None

    async def items(self) -> AsyncGenerator[Batch | ServerMessage | bytes]:
        """The queued items in order, as they come; raises SlowConsumerError
        once drained if the subscriber was dropped."""
        while (item := await self.next_item()) is not None:
            yield item

    def take_queued(self) -> list[Batch | ServerMessage | bytes]:
        """What is queued now, without waiting: a reader sends an item and
        those behind it in one write."""
        taken: list[Batch | ServerMessage | bytes] = []
        while True:
            try:
                taken.append(self._receive.receive_nowait())
            except (trio.WouldBlock, trio.EndOfChannel):
                return taken

    def _capacity(self) -> float:
        return self._send.statistics().max_buffer_size


class TableHub:
    """Every subscriber of one table."""

    def __init__(self, capacity: int = DEFAULTS.subscriber_queue) -> None:
        if capacity < 1 or math.isinf(capacity):
            raise ValueError("a subscriber queue holds at least one batch, boundedly")
        self.capacity = capacity
        self._subscribers: set[Subscription] = set()
        self._published = 0
        self._dropped = 0
        self.ended: str | None = None
        """Why the table ended, once it did (`end`)."""
        self.moved = False
        self.closed = False

    def subscribe(
        self,
        viewer: Viewer,
        since: int,
        *,
        deliver_now: DeliverNow | None = None,
        on_drop: Callable[[], None] | None = None,
    ) -> Subscription:
        """Register now, at the table's current seq `since` (no await between
        reading the seq and calling this); the callbacks are `Subscription`'s.
        After `end`, the subscription is ended from the start."""
        subscription = Subscription(
            self,
            viewer,
            since,
            self.capacity,
            deliver_now=deliver_now,
            on_drop=on_drop,
        )
        if self.ended is not None:
            subscription.ended = self.ended
            subscription.moved = self.moved
            subscription.closed = self.closed
            subscription.finish()
        else:
            self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)

    def publish(self, events: Sequence[StoredEvent], state: TableState) -> None:
        """Queue one command's committed events for every subscriber, at once.

        Never waits: a subscriber whose queue is full is dropped instead.
        """
        batch = Batch(tuple(events), state)
        self._published += 1
        for subscription in list(self._subscribers):
            if not subscription.offer(batch):
                self.drop(subscription)

    def drop(self, subscription: Subscription) -> None:
        """Unsubscribe a subscriber that fell behind; its reader gets
        SlowConsumerError once it has read what was queued."""
        if subscription in self._subscribers:
            self._dropped += 1
            self._subscribers.discard(subscription)
        subscription.drop()

    def end(self, reason: str, *, moved: bool = False, closed: bool = False) -> None:
        """The table is gone: each subscriber reads what was queued, then the
        end (not a drop: there is nothing to resume), with `reason` in
        `Subscription.ended`. `moved`: gone from this node only (another node
        runs it now), so the subscriber should resume where it reaches the
        table now. `closed`: its creator closed it, after the batch that said
        so."""
        self.ended = reason
        self.moved = moved
        self.closed = closed
        for subscription in list(self._subscribers):
            subscription.ended = reason
            subscription.moved = moved
            subscription.closed = closed
            subscription.finish()
        self._subscribers.clear()

    def statistics(self) -> HubStatistics:
        return HubStatistics(len(self._subscribers), self._published, self._dropped)
