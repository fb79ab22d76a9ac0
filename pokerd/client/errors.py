"""The client's errors: one base class, so a caller can catch them all."""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from pokerd.wire import codec
from pokerd.wire.protocol import Error


class ClientError(Exception):
    """The client cannot go on, or the server broke the protocol."""


class ClientClosedError(ClientError):
    """Waited on a client whose `run` has returned."""


class StreamError(ClientError):
    """An event out of order (a gap or a repeat): a server bug (strict mode)."""


class HttpError(ClientError):
    """An HTTP answer with an error status; `error` is the server's message."""

    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body
        self.error: Error | None = None
        with suppress(codec.DecodeError):
            decoded = codec.structure_server_message(body)
            if isinstance(decoded, Error):
                self.error = decoded
        super().__init__(f"HTTP {status}: {body}")


class HttpConnectionError(ClientError, ConnectionError):
    """The exchange did not complete: the server could not be reached, or the
    connection broke before the whole answer (so a request sent may or may
    not have been applied). A ConnectionError, so an OSError too."""
