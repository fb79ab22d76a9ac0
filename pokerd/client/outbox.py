"""Seat requests in flight: fresh ids, which session still has to send which,
and their answers.

A request is sent once per session (a live connection or a polling run) until
answered, always with the id it got from `submit`: the server answers a
repeated id with its first answer, so sending again after a reconnect is safe.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Literal

import attrs
import trio

from pokerd.wire.protocol import RETRY_CODES, Ack, Error, SeatRequest


@attrs.define(eq=False)
class PendingRequest:
    """A seat request from `Client.submit`: sent (again after each reconnect)
    until answered."""

    message: SeatRequest
    sent: trio.Event = attrs.Factory(trio.Event)
    """Set once the request was first written to a socket or posted."""
    answer: Ack | Error | None = None
    sends: int = 0
    """Times written to a socket or posted (again after a reconnect, or after
    `rate_limited`)."""
    _session: object = None
    """The session that last sent it."""

    @property
    def id(self) -> str:
        return self.message.id


@attrs.define(eq=False)
class Session:
    """What one live connection or one polling run has sent, and the nursery
    of its tasks."""

    nursery: trio.Nursery
    sent: set[str] = attrs.Factory(set)


Outcome = Literal["answered", "retry", "stray"]
"""What an answer did: settled its request, asks for it to be sent again
later (`RETRY_CODES`), or named no request waiting for one."""


class Outbox:
    """The requests not answered yet, in the order submitted."""

    def __init__(self) -> None:
        self._unacked: dict[str, PendingRequest] = {}
        self._ids = 0
        self._id_prefix = secrets.token_hex(4)
        self._changed = trio.Event()
        self.requests = 0
        self.resent = 0
        """Requests sent again after a reconnect (same id)."""

    @property
    def unacked(self) -> list[PendingRequest]:
        return list(self._unacked.values())

    def submit(self, make: Callable[[str], SeatRequest]) -> PendingRequest:
        """Queue the request `make(id)` for a fresh id."""
        self._ids += 1
        pending = PendingRequest(make(f"{self._id_prefix}-{self._ids}"))
        self._unacked[pending.id] = pending
        self.requests += 1
        self._poke()
        return pending

    @property
    def changed(self) -> trio.Event:
        """Set at the next change (a request queued, or due again): take it
        before `due`, then wait on it."""
        return self._changed

    def due(self, session: Session) -> list[PendingRequest]:
        """The requests `session` has yet to send (marked sent already)."""
        due = [p for p in self._unacked.values() if p.id not in session.sent]
        session.sent.update(p.id for p in due)
        return due

    def sent(self, pending: PendingRequest, session: Session) -> None:
        pending.sends += 1
        if pending._session not in (None, session):
            self.resent += 1
        pending._session = session
        pending.sent.set()

    def due_again(self, session: Session, request_id: str) -> None:
        """`session` sends the request again (it is not known to have arrived,
        or the server asked for it later)."""
        session.sent.discard(request_id)
        self._poke()

    def answered(self, answer: Ack | Error) -> Outcome:
        assert answer.id is not None
        pending = self._unacked.get(answer.id)
        if pending is None:
            return "stray"
        if isinstance(answer, Error) and answer.code in RETRY_CODES:
            return "retry"
        del self._unacked[answer.id]
        pending.answer = answer
        return "answered"

    def _poke(self) -> None:
        self._changed.set()
        self._changed = trio.Event()
