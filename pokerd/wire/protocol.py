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


# Codes shared by the server, its clients and the benchmarks. No other module
# spells one out; tests/test_codes.py checks that, the web page's copies in
# pokerd/web/js/, and that docs/protocol.md lists them.


class CloseCode(enum.IntEnum):
    """Why the server closed a live socket (the WebSocket close code)."""

    GOING_AWAY = 1001
    """The server is shutting down: reconnect later, or to another server."""
    PROTOCOL_ERROR = 1002
    """A frame that breaks RFC 6455 (unmasked, say): sent by wsproto
    (pokerd.server.ws_server)."""
    UNSUPPORTED_DATA = 1003
    """A binary frame: the protocol is JSON text."""
    INVALID_PAYLOAD = 1007
    """A text frame that is not UTF-8: sent by wsproto
    (pokerd.server.ws_server)."""
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
    TABLE_MOVED = 4006
    """The table is run by another node (it moved, or never ran here): the
    reason is that node's base URL (http://HOST:PORT) when known, else empty.
    Reconnect (there, or to any node) and resume from the last seq seen."""

    ABNORMAL_CLOSURE = 1006
    """Not sent by the server: what a client sees when the TCP connection
    ended without a close frame."""


class ErrorCode(enum.StrEnum):
    """The `code` of an `error` the server's transports send (HTTP and the live
    stream), listed in docs/protocol.md (Error codes). A request the table's
    rules refuse gets the rule's code instead (`RuleError`, pokerd/engine), and
    an HTTP status with no code of its own gets `http_<status>`."""

    BAD_MESSAGE = "bad_message"
    """A live message that does not decode: not JSON, an unknown type, a
    field missing, unknown or of the wrong type."""
    BAD_REQUEST = "bad_request"
    """An HTTP body or query that does not decode, or a request id that is
    empty, too long or not printable."""
    BAD_TOKEN = "bad_token"
    """The token holds no seat at this table, or a seat request came with
    no token."""
    NOT_CREATOR = "not_creator"
    """Closing a table with a token that is not its creator's (or a table
    created before tables had creators: nobody may close it)."""
    ID_REUSED = "id_reused"
    """A request id the seat used lately for a request with other content:
    not applied (a resend of the same request gets its first answer)."""
    HELLO_EXPECTED = "hello_expected"
    """A live socket's first message was not a hello."""
    UNEXPECTED_HELLO = "unexpected_hello"
    """A second hello on a live socket."""
    RATE_LIMITED = "rate_limited"
    """Over `rate_limit_per_s` messages a second: not applied, send it again."""
    NO_SUCH_TABLE = "no_such_table"
    """No table by that id in the log."""
    NO_SUCH_HAND = "no_such_hand"
    """No finished hand by that number at the table."""
    TABLE_STOPPED = "table_stopped"
    """The supervisor stopped the table; it runs again after a restart."""
    TABLE_RESTARTING = "table_restarting"
    """The table is being restarted: send the request again."""
    TABLE_MOVED = "table_moved"
    """Another node runs the table: the message is its base URL
    (http://HOST:PORT) when known. HTTP answers it with 307 and a Location."""
    TABLE_MOVING = "table_moving"
    """A node behind the cluster's router (`--cluster-routing`) asked for a
    table another node holds: not applied; send it again to the same address
    after `Retry-After` (the router sends it to the table's node)."""
    UNAVAILABLE = "unavailable"
    """The log could not be read."""
    NO_SUCH_ENDPOINT = "no_such_endpoint"
    """A WebSocket handshake for a path other than a table's live stream."""
    SHUTTING_DOWN = "shutting_down"
    """A WebSocket handshake while the server shuts down."""
    NOT_FOUND = "not_found"
    """HTTP 404: no such route."""
    METHOD_NOT_ALLOWED = "method_not_allowed"
    """HTTP 405: the route does not take that method."""
    TOO_LARGE = "too_large"
    """HTTP 413: a body over `max_frame_bytes`."""
    INTERNAL = "internal"
    """HTTP 500: the server failed (a bug, logged)."""


RETRY_CODES = frozenset(
    {ErrorCode.RATE_LIMITED, ErrorCode.TABLE_RESTARTING, ErrorCode.TABLE_MOVING}
)
"""Errors that mean "not applied: send it again" (with the same id)."""
TABLE_GONE_CODES = frozenset({ErrorCode.NO_SUCH_TABLE, ErrorCode.TABLE_STOPPED})
"""Errors after which a table's stream cannot be of use: it does not exist
or was stopped."""
TABLE_CLOSED = "table_closed"
"""The engine's rule code for a closed table (`RuleError`): the error a
closed table's live stream ends with, before close 4004 (TABLE_GONE)."""


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
MAX_POLL_WAIT_S = 30.0
"""The longest `wait` of a long poll (`GET /tables/{id}/events?wait=`)."""


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
