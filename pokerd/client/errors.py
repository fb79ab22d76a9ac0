"""The client's errors: one base class, so a caller can catch them all."""

from __future__ import annotations


class ClientError(Exception):
    """The client cannot go on, or the server broke the protocol."""


class ClientClosedError(ClientError):
    """Waited on a client whose `run` has returned."""


class StreamError(ClientError):
    """An event out of order (a gap or a repeat): a server bug (strict mode)."""
