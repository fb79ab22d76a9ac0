"""The live writer's fast path: frames written straight to trio-websocket's socket.

Why it reaches into trio-websocket's private members: a batch's messages go
out in one write instead of one `send_message` each, and nearly every write
goes straight to the kernel from the task that has it, with no lock, cancel
scope or checkpoint; trio-websocket 0.12.2 has no public call for either,
and the two together were a large part of the live stream's throughput
(docs/performance.md, docs/design.md). These functions are its
`send_message` and `_send` (`trio_websocket/_impl.py`) for several frames at
once, and they use five of its private members, named in `PRIVATE_MEMBERS`.
trio-websocket is pinned to one version (pyproject.toml);
tests/test_ws_fastpath.py fails with a message naming what changed if a new
version moves any of them. Everything else talks to trio-websocket through
its public API.
"""

from __future__ import annotations

from collections.abc import Sequence

import trio
from trio_websocket import ConnectionClosed, WebSocketConnection
from wsproto.connection import ConnectionState

from pokerd.server.frame_stream import FrameStream
from pokerd.wire.frames import text_frames

PRIVATE_MEMBERS = {
    "_stream": "the connection's stream (a FrameStream), written to directly",
    "_stream_lock": "held by trio-websocket while it sends: a send in progress",
    "_close_reason": "set once the connection is closed or closing",
    "_wsproto": "the wsproto state machine, whose state says whether it is open",
    "_abort_web_socket": "marks the connection closed after the stream broke",
}
"""What this module uses of WebSocketConnection's private members, and why."""


def encode_frames(ws: WebSocketConnection, texts: Sequence[str]) -> bytes:
    """Text messages as the bytes of their WebSocket frames, for one write;
    ConnectionClosed if `ws` is closed or closing (as `send_message` would)."""
    if ws._close_reason or ws._wsproto.state is not ConnectionState.OPEN:
        raise ConnectionClosed(ws._close_reason)
    return text_frames(texts)


def write_now(ws: WebSocketConnection, data: bytes) -> int:
    """Write what the kernel takes of `data` at once, without waiting: how many
    bytes are done with, a whole number of frames (`FrameStream.write_now`).

    Nothing is written while another task is in the middle of a send
    (trio-websocket's lock is held) or if the socket is closed or broken:
    the caller's `send_frames` then does it the slow way, which also reports
    the error.
    """
    stream = ws._stream
    if ws._stream_lock.locked() or ws._close_reason:
        return 0
    if not isinstance(stream, FrameStream):
        return 0  # only a FrameStream keeps track of a frame it wrote part of
    return stream.write_now(data)


async def send_frames(ws: WebSocketConnection, data: bytes) -> None:
    """Write the rest of a frame `write_now` wrote part of, then `data` (whole
    frames, or nothing), waiting for the socket as long as it takes
    (ConnectionClosed if the connection broke)."""
    async with ws._stream_lock:
        try:
            await ws._stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            await ws._abort_web_socket()
            raise ConnectionClosed(ws._close_reason) from None
