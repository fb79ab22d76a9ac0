"""A client for one seat or spectator at one table: live stream, else long polls.

`Client` keeps what its viewer received, in order (its `Transcript`: every
event with its seq, the latest view, the table's epoch and the offset), stays
connected through the live stream (`ws://HOST[:PORT]/tables/{id}/live`,
docs/protocol.md), resumes from the offset after any drop, falls back to HTTP
long polling (`GET /tables/{id}/events`) while the socket cannot be opened,
and sends every unanswered request again with its id after a reconnect, so
the server applies it once. `Http` is the HTTP API on its own, to create
tables and sit down.

The modules, from the pure core out: `errors`, `transcript` (the fold of
what was received), `backoff`, `endings` (how a session ended), `outbox`
(requests in flight), `http` (the HTTP API through httpx), the two transports
`live` (trio-websocket) and `poll` (long polls), and `client` (the `Client`
that drives them). docs/design.md says why.
"""

from pokerd.client.backoff import Backoff
from pokerd.client.client import (
    CONNECT_TIMEOUT_S,
    HEARTBEAT_S,
    POLL_WAIT_S,
    Client,
    ClientStatistics,
    Mode,
)
from pokerd.client.endings import Ending
from pokerd.client.errors import (
    ClientClosedError,
    ClientError,
    HttpConnectionError,
    HttpError,
    StreamError,
)
from pokerd.client.http import HTTP_TIMEOUT_S, CreatedTable, Http, Seated
from pokerd.client.outbox import PendingRequest
from pokerd.client.transcript import EventsPage, Received, Transcript
from pokerd.wire.protocol import MAX_POLL_WAIT_S

__all__ = [
    "CONNECT_TIMEOUT_S",
    "HEARTBEAT_S",
    "HTTP_TIMEOUT_S",
    "MAX_POLL_WAIT_S",
    "POLL_WAIT_S",
    "Backoff",
    "Client",
    "ClientClosedError",
    "ClientError",
    "ClientStatistics",
    "CreatedTable",
    "Ending",
    "EventsPage",
    "Http",
    "HttpConnectionError",
    "HttpError",
    "Mode",
    "PendingRequest",
    "Received",
    "Seated",
    "StreamError",
    "Transcript",
]
