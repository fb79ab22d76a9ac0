"""A batch's messages as JSON text, the parts all viewers share encoded once.

Every viewer of a batch gets the same events but for a deal's hole cards, and
the same view but for its own seat, its legal actions and the `viewer` field.
`BatchText` encodes the shared parts once per batch and splices in each
viewer's own; the result is exactly `codec.encode_message` of the viewer's
`EventMessage`s (a test checks it over random games), for a fraction of the
work: encoding views for every seat was a fifth of the server's CPU.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from pokerd.engine.events import Event, PublicEvent
from pokerd.engine.state import TableState
from pokerd.engine.views import TableView, Viewer, own_seat, viewer_legal
from pokerd.wire import codec
from pokerd.wire.protocol import EventMessage

_TAG = codec.type_tag(EventMessage)


class LoggedEvent(Protocol):
    """What the wire needs of an event from the log (the store's `StoredEvent`
    is one): the wire sits below the store and does not import it."""

    @property
    def seq(self) -> int: ...

    @property
    def event(self) -> Event: ...

    @property
    def payload(self) -> str | None:
        """The event's JSON as logged (`codec.compact_json` of
        `codec.unstructure_event`), when at hand."""


_dumps = codec.compact_json
PERSONAL = frozenset({"viewer", "seats", "legal"})
"""The fields of a view that differ between viewers of the same state."""


class BatchText:
    """The shared parts of one batch's messages, encoded once."""

    def __init__(
        self, events: Sequence[LoggedEvent], state: TableState, public: TableView
    ) -> None:
        self._events = events
        self._state = state
        self._public = public
        view: dict[str, Any] = codec.unstructure(public)
        self._seat_parts = [_dumps(seat) for seat in view["seats"]]
        self._shared_events: dict[int, str] = {}
        # The view's text in field order, cut where a viewer's own fields go:
        # each viewer's text is then a join of a few strings.
        self._personal: list[str] = []
        self._segments: list[str] = []
        text = "{"
        for key, value in view.items():
            text += f'"{key}":' if text == "{" else f',"{key}":'
            if key in PERSONAL:
                self._personal.append(key)
                self._segments.append(text)
                text = ""
            else:
                text += _dumps(value)
        self._segments.append(text + "}")
        self._spectator: str | None = None

    def messages(
        self, viewer: Viewer, redact_for: Callable[[Event], PublicEvent]
    ) -> list[str]:
        """The batch's messages for `viewer`, as `codec.encode_message` makes
        them; the last carries the viewer's view."""
        texts = []
        last = len(self._events) - 1
        for index, stored in enumerate(self._events):
            view = self._view_text(viewer) if index == last else "null"
            event = self._event_text(stored, redact_for)
            texts.append(
                f'{{"seq":{stored.seq},"event":{event},"view":{view},"type":"{_TAG}"}}'
            )
        return texts

    def _event_text(
        self, stored: LoggedEvent, redact_for: Callable[[Event], PublicEvent]
    ) -> str:
        redacted = redact_for(stored.event)
        shared = redacted is stored.event  # nothing of it is anyone's own
        if not shared:
            return _dumps(codec.unstructure_event(redacted))
        if stored.payload is not None:
            return stored.payload  # the log's text: the same encoding
        text = self._shared_events.get(stored.seq)
        if text is None:
            text = _dumps(codec.unstructure_event(redacted))
            self._shared_events[stored.seq] = text
        return text

    def _view_text(self, viewer: Viewer) -> str:
        """`personal_view`'s text: the spectator's, with the viewer's own seat
        and legal actions (the same functions `personal_view` uses)."""
        if viewer is None:
            if self._spectator is None:
                self._spectator = self._joined(
                    {
                        "viewer": "null",
                        "seats": _list_text(self._seat_parts),
                        "legal": "null",
                    }
                )
            return self._spectator
        seats = self._seat_parts
        if self._public.seats[viewer] is not None:
            seats = list(seats)
            seats[viewer] = _dumps(codec.unstructure(own_seat(self._state, viewer)))
        legal = viewer_legal(self._public, self._state, viewer)
        return self._joined(
            {
                "viewer": str(viewer),
                "seats": _list_text(seats),
                "legal": "null" if legal is None else _dumps(codec.unstructure(legal)),
            }
        )

    def _joined(self, personal: dict[str, str]) -> str:
        parts = [self._segments[0]]
        for key, segment in zip(self._personal, self._segments[1:], strict=True):
            parts.append(personal[key])
            parts.append(segment)
        return "".join(parts)


def _list_text(items: list[str]) -> str:
    """A JSON array of already encoded items."""
    return "[" + ",".join(items) + "]"
