"""What one viewer knows of a table: the fold of the messages it received.

Pure: no I/O and no Trio. The transports decode what arrives (`decode_page`,
`decode_view_page` for the long poll; `codec` for the live stream) and the
`Client` feeds it to a `Transcript`, which keeps the events in order, the
latest view, and where the next connection resumes (the epoch and the offset),
and says what looks wrong (a gap or a repeat) for the client to report.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import attrs

from pokerd.engine.events import PublicEvent
from pokerd.engine.views import TableView
from pokerd.wire import codec
from pokerd.wire.protocol import EventMessage, Resume, Welcome


class Received(NamedTuple):
    """One event as this viewer received it."""

    seq: int
    event: PublicEvent


@attrs.frozen
class Undecodable:
    """Something received that is not a protocol message, and why."""

    text: str
    reason: str

    def problem(self) -> str:
        return f"a message that does not decode ({self.reason}): {self.text}"


@attrs.frozen(kw_only=True)
class EventsPage:
    """One answer of the long poll, decoded: the events after the offset
    asked for (`recovered`), or the viewer's whole view at `seq` instead."""

    epoch: str
    seq: int
    recovered: bool
    events: tuple[EventMessage, ...] = ()
    view: TableView | None = None
    undecodable: tuple[Undecodable, ...] = ()
    """Entries of `events` that did not decode (left out of `events`)."""


class PageError(ValueError):
    """A long poll's answer without the fields every page has."""


def decode_page(data: Any) -> EventsPage:
    """`GET /tables/{id}/events`'s answer (docs/protocol.md); PageError if it
    is not a page. An event that does not decode is kept aside, not fatal."""
    try:
        epoch, seq, recovered = str(data["epoch"]), int(data["seq"]), data["recovered"]
        if not recovered:
            view = codec.structure(data["view"], TableView)
            return EventsPage(epoch=epoch, seq=seq, recovered=False, view=view)
        entries = list(data["events"])
    except (KeyError, TypeError, ValueError) as error:
        raise PageError(f"not an events page ({error!r}): {data!r}") from error
    events: list[EventMessage] = []
    undecodable: list[Undecodable] = []
    for entry in entries:
        try:
            message = codec.structure_server_message(entry)
        except codec.DecodeError as error:
            undecodable.append(Undecodable(repr(entry), str(error)))
            continue
        if isinstance(message, EventMessage):
            events.append(message)
        else:
            undecodable.append(Undecodable(repr(entry), "not an event"))
    return EventsPage(
        epoch=epoch,
        seq=seq,
        recovered=True,
        events=tuple(events),
        undecodable=tuple(undecodable),
    )


def decode_view_page(data: Any) -> EventsPage:
    """`GET /tables/{id}`'s answer (the view with its `epoch` and `seq`) as a
    page that was not recovered: a fresh start's snapshot of now."""
    try:
        view = dict(data)
        epoch, seq = str(view.pop("epoch")), int(view.pop("seq"))
        decoded = codec.structure(view, TableView)
    except (KeyError, TypeError, ValueError) as error:
        raise PageError(f"not a table's view ({error!r}): {data!r}") from error
    return EventsPage(epoch=epoch, seq=seq, recovered=False, view=decoded)


@attrs.define(kw_only=True)
class Transcript:
    """The fold of what one viewer received from one table, in order.

    - `events`: every event received, as (seq, event), each seq once;
    - `view`: the server's view of the table for this viewer after the last
      batch received (each event message that carries a view replaces it; a
      snapshot replaces it too), with `view_seq` the seq it belongs to;
    - `epoch` and `offset`: the table's log and the last seq received, where
      the next connection resumes;
    - `recovered`: False once a snapshot arrived (a fresh start without an
      offset, or a resume the server could not serve): `events` then skips
      the events before the snapshot's seq.

    Each event's seq must be `offset + 1`: a repeat is counted in
    `duplicates` and left out, a jump is counted in `gaps` and kept; both
    are returned as a problem for the caller to report.
    """

    epoch: str | None = None
    offset: int = 0
    events: list[Received] = attrs.Factory(list)
    view: TableView | None = None
    view_seq: int = -1
    seat: int | None = None
    """The viewer's seat: from the welcome, then from each view."""
    recovered: bool = True
    snapshots: int = 0
    gaps: int = 0
    duplicates: int = 0

    def resume(self) -> Resume | None:
        """Where a hello resumes from: None (a snapshot of now) without an epoch."""
        if self.epoch is None:
            return None
        return Resume(epoch=self.epoch, offset=self.offset)

    def welcome(self, welcome: Welcome) -> None:
        self.epoch = welcome.epoch
        self.seat = welcome.seat

    def event(self, message: EventMessage) -> str | None:
        """Apply one event message; the problem, if it is not the next seq."""
        if message.seq <= self.offset:
            self.duplicates += 1
            return f"seq {message.seq} again (the offset is {self.offset})"
        problem = None
        if message.seq != self.offset + 1:
            self.gaps += 1
            problem = f"seq {message.seq} after {self.offset}: a gap"
        self.events.append(Received(message.seq, message.event))
        self.offset = message.seq
        if message.view is not None:
            self._set_view(message.seq, message.view)
        return problem

    def snapshot(self, seq: int, view: TableView) -> None:
        """The viewer's whole view at `seq`, in place of the events before it."""
        self.snapshots += 1
        self.recovered = False
        self.offset = seq
        self._set_view(seq, view)

    def page(self, page: EventsPage) -> tuple[list[str], bool]:
        """Apply a long poll's page: the problems seen, and whether the view
        is up to the page's last event (a snapshot, no event, or a last event
        that carries the view)."""
        self.epoch = page.epoch
        if not page.recovered:
            assert page.view is not None
            self.snapshot(page.seq, page.view)
            return [], True
        problems = [item.problem() for item in page.undecodable]
        for message in page.events:
            problem = self.event(message)
            if problem is not None:
                problems.append(problem)
        caught_up = not page.events or page.events[-1].view is not None
        return problems, caught_up

    def _set_view(self, seq: int, view: TableView) -> None:
        self.view = view
        self.view_seq = seq
        self.seat = view.viewer
