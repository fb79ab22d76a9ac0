"""A viewer's feed of a table: where it resumes, what it missed or a snapshot, live.

Transport-agnostic: the WebSocket connection and the long poll both open a
feed, and `resume_offset` alone decides where a viewer resumes, with the
protocol's one set of limits (`MAX_BACKLOG`). The subscriber registers at the
table's seq in the same step as it reads the state, so the backlog (from the
log) and the live batches (from the hub) meet without a gap or a repeat.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence

import attrs

from pokerd.engine.events import Event, PublicEvent
from pokerd.engine.state import TableState
from pokerd.engine.views import Viewer, redaction_for, redaction_key, view
from pokerd.store.log import EventStore, StoredEvent
from pokerd.store.reader import read_events, table_epoch
from pokerd.tables.hub import Batch, DeliverNow, Subscription, TableHub
from pokerd.tables.table import Table
from pokerd.wire.protocol import MAX_BACKLOG, EventMessage, Resume, Snapshot, Welcome


def resume_offset(epoch: str, seq: int, resume: Resume | None) -> int | None:
    """Where a viewer resumes, on either transport: the offset after which
    the table's log replays what it missed, or None to start over from its
    view of the table at `seq` (`recovered: false`).

    `epoch` and `seq` are the table's; `resume` is what the viewer claims to
    have seen. It resumes from the log when that is the same log (another
    epoch's offsets mean nothing here), the offset is within it (0 replays it
    from the start; ahead of `seq` is another log's or a bug), and it missed
    at most `MAX_BACKLOG` events.
    """
    if resume is None or resume.epoch != epoch:
        return None
    if not 0 <= resume.offset <= seq or seq - resume.offset > MAX_BACKLOG:
        return None
    return resume.offset


def event_messages(
    events: Sequence[StoredEvent],
    state: TableState | None,
    seat: Viewer,
    redact_for: Callable[[Event], PublicEvent],
) -> list[EventMessage]:
    """Events as messages; the last carries the viewer's view of `state`, the
    table after it (None when the caller does not have that state), without
    the card proofs: the events carry those."""
    messages = [
        EventMessage(seq=stored.seq, event=redact_for(stored.event))
        for stored in events
    ]
    if messages and state is not None:
        messages[-1] = attrs.evolve(messages[-1], view=view(state, seat, proofs=False))
    return messages


@attrs.define
class Feed:
    """What a viewer gets first, and its subscription for what follows."""

    welcome: Welcome
    first: list[EventMessage | Snapshot]
    """Recovered: the missed events (all of them, or a page's worth); else
    one snapshot at the welcome's seq."""
    subscription: Subscription
    redact_for: Callable[[Event], PublicEvent]
    redaction: Hashable
    """This viewer's `redaction_key`: viewers with the same one share encodings."""

    @property
    def viewer(self) -> Viewer:
        return self.subscription.viewer

    def messages(self, batch: Batch) -> list[EventMessage]:
        """A batch's events as this viewer's messages (the last with its view)."""
        return event_messages(batch.events, batch.state, self.viewer, self.redact_for)

    def encoded(self, batch: Batch) -> list[str]:
        """The batch's messages for this viewer as JSON texts (the last with
        the viewer's view), encoded once per redaction per batch."""
        texts = batch.encoded.get(self.redaction)
        if texts is None:
            texts = batch.batch_text().messages(self.viewer, self.redact_for)
            batch.encoded[self.redaction] = texts
        return texts


async def open_feed(
    table: Table,
    hub: TableHub,
    store: EventStore,
    seat: Viewer,
    resume: Resume | None,
    *,
    epoch: str | None = None,
    page: int | None = None,
    deliver_now: DeliverNow | None = None,
    on_drop: Callable[[], None] | None = None,
) -> Feed:
    """Register `seat` (None: a spectator) with the table, resuming if it can.

    Given the table's `epoch`, nothing is awaited before the table's state is
    read, so a caller that picked `seat` from that state sees it unchanged.
    `page` bounds the missed events read now (a long poll's answer; the
    viewer asks again from the last one); a socket sends them all.
    `deliver_now` and `on_drop` are the subscription's (`Subscription`).
    """
    if epoch is None:
        epoch = await store.read(table_epoch, table.table_id) or ""
    # No checkpoint from here to subscribe: `since` and `state` are one moment.
    state, since = table.state, table.seq
    subscription = hub.subscribe(seat, since, deliver_now=deliver_now, on_drop=on_drop)
    try:
        redact_for = redaction_for(state, seat)
        offset = resume_offset(epoch, since, resume)
        first: list[EventMessage | Snapshot]
        if offset is None:
            first = [Snapshot(seq=since, view=view(state, seat))]
        else:
            backlog = await store.read(read_events, table.table_id, offset, since, page)
            # The view of `state` goes with the event it follows, the last.
            reached = bool(backlog) and backlog[-1].seq == since
            first = list(
                event_messages(backlog, state if reached else None, seat, redact_for)
            )
    except BaseException:
        subscription.close()  # cancelled while reading, say: nobody reads it
        raise
    welcome = Welcome(
        table=table.table_id,
        epoch=epoch,
        seat=seat,
        seq=since,
        recovered=offset is not None,
    )
    return Feed(welcome, first, subscription, redact_for, redaction_key(state, seat))
