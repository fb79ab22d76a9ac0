"""The wire protocol: what clients send and what the server answers, as values.

The same requests travel over WebSocket and HTTP; `pokerd.wire.codec` turns them
into tagged JSON (`{"type": "act", ...}`). A request never names a seat: the
server takes it from the token the connection or request carries.
"""

from __future__ import annotations

import attrs

from pokerd.engine.commands import (
    Act,
    ActionName,
    ComeBack,
    Command,
    Leave,
    SitOut,
    TopUp,
)
from pokerd.engine.events import PublicEvent
from pokerd.engine.views import TableView

MAX_REQUEST_ID = 64


# What a client sends.


@attrs.frozen(kw_only=True)
class Resume:
    """The last event a client saw: the table's log (epoch) and its seq."""

    epoch: str
    offset: int


@attrs.frozen(kw_only=True)
class Hello:
    """A WebSocket's first message: who is watching, and where they were."""

    token: str | None = None
    """A seat token, or none for a spectator."""
    resume: Resume | None = None


@attrs.frozen(kw_only=True)
class ActRequest:
    id: str
    """The client's own id for this request: sent again, it is not applied
    twice, and the first answer comes back."""
    action: ActionName
    amount: int | None = None


@attrs.frozen(kw_only=True)
class SitOutRequest:
    id: str


@attrs.frozen(kw_only=True)
class ComeBackRequest:
    id: str


@attrs.frozen(kw_only=True)
class LeaveRequest:
    id: str


@attrs.frozen(kw_only=True)
class TopUpRequest:
    id: str
    amount: int


@attrs.frozen(kw_only=True)
class Ping:
    pass


SeatRequest = ActRequest | SitOutRequest | ComeBackRequest | LeaveRequest | TopUpRequest
"""What a seated player asks; over HTTP as the body of a POST."""

ClientMessage = (
    Hello
    | ActRequest
    | SitOutRequest
    | ComeBackRequest
    | LeaveRequest
    | TopUpRequest
    | Ping
)


def to_command(request: SeatRequest, seat: int, now_ms: int) -> Command:
    """The engine command for `request`, for the seat its token holds."""
    match request:
        case ActRequest(action=action, amount=amount):
            return Act(seat=seat, action=action, amount=amount, now_ms=now_ms)
        case SitOutRequest():
            return SitOut(seat=seat)
        case ComeBackRequest():
            return ComeBack(seat=seat)
        case LeaveRequest():
            return Leave(seat=seat, now_ms=now_ms)
        case TopUpRequest(amount=amount):
            return TopUp(seat=seat, amount=amount)


# What the server sends.


@attrs.frozen(kw_only=True)
class Welcome:
    """The answer to Hello: the viewer's seat and where the stream starts."""

    table: str
    epoch: str
    seat: int | None
    seq: int
    """The table's last seq when the stream starts."""
    recovered: bool
    """True: the events after the client's offset follow, then the live
    stream. False: a Snapshot of the viewer's view follows instead."""


@attrs.frozen(kw_only=True)
class EventMessage:
    """One event, redacted for this viewer, and the viewer's view after it."""

    seq: int
    event: PublicEvent
    view: TableView | None = None
    """Set on the last event of each command's batch: the table as this viewer
    sees it then (whose turn, legal actions with amounts, the clock)."""


@attrs.frozen(kw_only=True)
class Snapshot:
    seq: int
    view: TableView


@attrs.frozen(kw_only=True)
class Ack:
    id: str
    seq: int
    """The seq of the last event the request caused."""


@attrs.frozen(kw_only=True)
class Error:
    code: str
    message: str
    id: str | None = None
    """The request it answers, when it answers one."""


@attrs.frozen(kw_only=True)
class Pong:
    pass


ServerMessage = Welcome | EventMessage | Snapshot | Ack | Error | Pong


def request_id_problem(request_id: str) -> str | None:
    if not 0 < len(request_id) <= MAX_REQUEST_ID or not request_id.isprintable():
        return f"a request id is 1 to {MAX_REQUEST_ID} printable characters"
    return None
