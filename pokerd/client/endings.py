"""How a live or polling session ended, and whether the client goes on after it.

Pure: close codes, refused hellos and HTTP errors mapped to a `SessionEnd`.
"""

from __future__ import annotations

from typing import Literal

import attrs

from pokerd.client.errors import ClientError, HttpError
from pokerd.wire.protocol import TABLE_GONE_CODES, CloseCode, Error, ErrorCode

Ending = Literal["closed", "seat_lost", "table_gone"]
"""Why `Client.run` returned: `close()` (or cancellation), the token's seat is
gone (the player left), or the table does not exist or was stopped."""


@attrs.frozen
class SessionEnd:
    """How a live or polling session ended."""

    reason: str
    final: bool = False
    """Do not reconnect: the seat or the table is gone."""
    welcomed: bool = False
    """The session got as far as the stream (so the backoff starts over)."""
    ending: Ending = "closed"
    moved_to: str | None = None
    """The table runs on another node: reconnect at once, there if this is
    its base URL (http://HOST:PORT), else to any node."""


def after_close(code: int, *, welcomed: bool, reason: str = "") -> SessionEnd:
    """A live session closed with `code` (1006: without a close frame) and
    the close frame's `reason`."""
    if code == CloseCode.TABLE_MOVED:
        return SessionEnd(
            f"closed {code}: the table moved",
            welcomed=welcomed,
            moved_to=reason if reason.startswith("http://") else "",
        )
    reason = f"closed {code}"
    if code == CloseCode.SEAT_LOST:
        return SessionEnd(reason, final=True, welcomed=welcomed, ending="seat_lost")
    if code == CloseCode.TABLE_GONE:
        return SessionEnd(reason, final=True, welcomed=welcomed, ending="table_gone")
    return SessionEnd(reason, welcomed=welcomed)


def after_refusal(error: Error) -> SessionEnd:
    """The server answered the hello with `error` instead of a welcome."""
    if error.code == ErrorCode.TABLE_MOVED:
        moved_to = error.message if error.message.startswith("http://") else ""
        return SessionEnd("the table runs on another node", moved_to=moved_to)
    if error.code == ErrorCode.TABLE_MOVING:
        return SessionEnd("the table is moving between nodes", moved_to="")
    if error.code in TABLE_GONE_CODES:
        return SessionEnd(error.message, final=True, ending="table_gone")
    if error.code == ErrorCode.BAD_TOKEN:
        return SessionEnd(error.message, final=True, ending="seat_lost")
    return SessionEnd(f"hello refused: {error.code}")


def after_poll_error(error: Exception) -> SessionEnd | None:
    """A final end for an error of the events route, or None to poll again
    (the server unreachable, slow, or failing); ClientError for a refusal that
    polling again cannot cure."""
    if not isinstance(error, HttpError):
        return None
    code = None if error.error is None else error.error.code
    if error.status == 404 or code in TABLE_GONE_CODES:
        return SessionEnd(str(error), final=True, ending="table_gone")
    if error.status == 401:
        return SessionEnd(str(error), final=True, ending="seat_lost")
    if error.status >= 500:
        return None
    raise ClientError(f"the events route refused the poll: {error}")
