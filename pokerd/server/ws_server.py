"""A live socket's server side: trio-websocket's, failing a connection as RFC 6455 asks.

When wsproto cannot parse what the client sent (a text frame that is not
UTF-8, an unmasked or malformed frame), it reports it as a close event with
the code the RFC gives (1007 invalid payload, 1002 protocol error), while its
connection is still open. trio-websocket 0.12.2 answers a close event with a
close frame only when the peer sent one, so it closed such a connection's TCP
stream without a close frame, and the client saw 1006 instead of the reason.
RFC 6455 (7.1.7, 8.1) asks for the close frame first. `wrap_live_stream` is
trio-websocket's `wrap_server_stream` with a wsproto connection that has it
send one: it reports that failure as the peer's own close, which
trio-websocket then answers with the same code before closing the stream.

It uses three private members of trio-websocket and wsproto, named in
`PRIVATE_MEMBERS`; tests/test_protocol_edges.py fails with a message naming
what changed if a new version moves any of them.
"""

from __future__ import annotations

from collections.abc import Generator

import trio
from trio_websocket import WebSocketConnection, WebSocketRequest
from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import CloseConnection, Event

PRIVATE_MEMBERS = {
    "WebSocketConnection._reader_task": "the task reading the socket, started "
    "here as wrap_server_stream starts it",
    "WebSocketConnection._get_request": "the handshake request, awaited here as "
    "wrap_server_stream awaits it",
    "wsproto.connection.Connection._state": "set to REMOTE_CLOSING so that "
    "trio-websocket answers a parse failure with a close frame",
}
"""What this module uses of the libraries' private members, and why."""


class _FailingServer(WSConnection):
    """wsproto's server connection, reporting a frame it could not parse as
    if the peer had sent a close frame with the failure's code."""

    def __init__(self) -> None:
        super().__init__(ConnectionType.SERVER)

    def events(self) -> Generator[Event, None, None]:
        for event in super().events():
            connection = self.connection
            if (
                isinstance(event, CloseConnection)
                and connection is not None
                and connection.state is ConnectionState.OPEN
            ):
                # A close frame from the peer would have moved the state on:
                # this close is wsproto's ParseFailed. In REMOTE_CLOSING,
                # trio-websocket sends `event.response()`, a close frame
                # with this code, then closes the stream.
                connection._state = ConnectionState.REMOTE_CLOSING
            yield event


async def wrap_live_stream(
    nursery: trio.Nursery, stream: trio.abc.Stream, *, max_message_size: int
) -> WebSocketRequest:
    """`trio_websocket.wrap_server_stream(nursery, stream, max_message_size=...)`,
    failing a connection with a close frame (the module's docstring)."""
    connection = WebSocketConnection(
        stream, _FailingServer(), max_message_size=max_message_size
    )
    nursery.start_soon(connection._reader_task)
    return await connection._get_request()
