"""The wire protocol: what clients send and what the server answers, as values.

The same requests travel over WebSocket and HTTP; `pokerd.wire.codec` turns them
into tagged JSON (`{"type": "act", ...}`). A request never names a seat: the
server takes it from the token the connection or request carries.
"""

from __future__ import annotations

import enum

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


# Codes shared by the server and its clients (the web page's copies in
# pokerd/web/js/connection.js are checked against these by a test).


class CloseCode(enum.IntEnum):
    """Why the server closed a live socket (the WebSocket close code)."""

    GOING_AWAY = 1001
    """The server is shutting down: reconnect later, or to another server."""
    MESSAGE_TOO_BIG = 1009
    """A message over `max_frame_bytes` (closed by trio-websocket)."""
    INTERNAL_ERROR = 1011
    """The server failed to deliver to this socket: reconnect and resume."""
    SLOW_CONSUMER = 4001
    """The client fell behind: reconnect and resume from the last seq seen."""
    NO_HELLO = 4002
    """No valid hello within `heartbeat_s` of connecting."""
    SEAT_LOST = 4003
    """The token's seat is no longer its own (the player left)."""
    TABLE_GONE = 4004
    """The table does not exist or was stopped."""
    NO_PONG = 4005
    """A ping went unanswered for `heartbeat_s`: the peer is presumed dead."""

    ABNORMAL_CLOSURE = 1006
    """Not sent by the server: what a client sees when the TCP connection
    ended without a close frame."""


RETRY_CODES = frozenset({"rate_limited", "table_restarting"})
"""Errors that mean "not applied: send it again" (with the same id)."""
TABLE_GONE_CODES = frozenset({"no_such_table", "table_stopped"})
"""Errors after which a table's stream cannot be of use: it does not exist
or was stopped."""


# What a client sends.


@attrs.frozen(kw_only=True)
class Resume:
    """The last event a client saw: the table's log (epoch) and its seq."""

    epoch: str
    offset: int


MAX_BACKLOG = 5_000
"""Most missed events a resume replays, over a socket or long polls alike;
further behind, the viewer starts over from its view of the table now
(`recovered: false`): drawing the table from one view beats replaying more."""
PAGE_EVENTS = 500
"""Most events in one answer of `GET /tables/{id}/events` (the client asks
again from the last seq it got)."""


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
