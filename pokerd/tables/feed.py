"""A viewer's stream of a table: welcome, the missed events or a snapshot, then live.

Transport-agnostic: the WebSocket handler and the long poll both use it. The
subscriber registers at the table's seq in the same step as it reads the
state, so the backlog (from the log) and the live batches (from the hub) meet
without a gap or a repeat.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence

import attrs

from pokerd.engine.events import Event, PublicEvent
from pokerd.engine.state import TableState
from pokerd.engine.views import Viewer, redaction_for, redaction_key, view
from pokerd.store.log import EventStore, StoredEvent
from pokerd.store.reader import read_events, table_epoch
from pokerd.tables.hub import Batch, Subscription, TableHub
from pokerd.tables.table import Table
from pokerd.wire.protocol import EventMessage, Resume, Snapshot, Welcome

MAX_BACKLOG = 5_000
"""Missed events sent one by one on resume; further behind, a snapshot."""


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
class Stream:
    """What a viewer gets first, and its subscription for what follows."""

    welcome: Welcome
    first: list[EventMessage | Snapshot]
    subscription: Subscription
    redact_for: Callable[[Event], PublicEvent]
    redaction: Hashable
    """This viewer's `redaction_key`: viewers with the same one share encodings."""

    def encoded(self, batch: Batch) -> list[str]:
        """The batch's messages for this viewer as JSON texts (the last with
        the viewer's view), encoded once per redaction per batch."""
        texts = batch.encoded.get(self.redaction)
        if texts is None:
            texts = batch.batch_text().messages(
                self.subscription.viewer, self.redact_for
            )
            batch.encoded[self.redaction] = texts
        return texts


async def open_stream(
    table: Table,
    hub: TableHub,
    store: EventStore,
    seat: Viewer,
    resume: Resume | None,
    *,
    epoch: str | None = None,
) -> Stream:
    """Register `seat` (None: a spectator) with the table, resuming if it can.

    Given the table's `epoch`, nothing is awaited before the table's state is
    read, so a caller that picked `seat` from that state sees it unchanged.
    """
    if epoch is None:
        epoch = await store.read(table_epoch, table.table_id) or ""
    # No checkpoint from here to subscribe: `since` and `state` are one moment.
    state, since = table.state, table.seq
    subscription = hub.subscribe(seat, since)
    redact_for = redaction_for(state, seat)
    recovered = (
        resume is not None
        and resume.epoch == epoch
        and 0 <= resume.offset <= since
        and since - resume.offset <= MAX_BACKLOG
    )
    first: list[EventMessage | Snapshot]
    if recovered and resume is not None:
        backlog = await store.read(read_events, table.table_id, resume.offset, since)
        first = list(event_messages(backlog, state, seat, redact_for))
    else:
        first = [Snapshot(seq=since, view=view(state, seat))]
    welcome = Welcome(
        table=table.table_id, epoch=epoch, seat=seat, seq=since, recovered=recovered
    )
    return Stream(welcome, first, subscription, redact_for, redaction_key(state, seat))
