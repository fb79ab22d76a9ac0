"""A live socket's stream: after part of a frame, only the rest of that frame.

Every byte a live socket sends goes through one `FrameStream`: the HTTP
upgrade's answer and trio-websocket's own frames (pings, pongs, the close
frame) through `send_all`, the live writer's frames through `write_now` or
`send_all` (`pokerd.server.ws_fastpath`). A write may stop part way through
a frame: the kernel took only part of it, or the send was cancelled (a client
that stopped reading is dropped). Anything written after that but the rest
of the frame would be read as the frame's payload and the stream would be
garbage, so the stream keeps the rest (`unfinished`) and writes it before
anything else; the frames after it are the caller's, to send again or to
drop. A client cut off that way gets its close frame after whole frames, if
it reads while the connection closes, or else just the end of the TCP
stream (docs/design.md, "A slow consumer").
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager

import trio

from pokerd.wire.frames import frame_end


class FrameStream(trio.abc.Stream):
    """A trio socket stream that never writes anything after part of a frame
    but the rest of that frame.

    Until `begin_frames`, what is written is the HTTP upgrade's answer, not
    frames: a write that stops part way through that leaves the stream good
    for nothing but closing (`send_all` raises BrokenResourceError).
    """

    def __init__(self, stream: trio.SocketStream) -> None:
        self._stream = stream
        self.socket = stream.socket
        self._unfinished = b""
        self._framed = False
        self._broken = False

    @property
    def unfinished(self) -> bool:
        """Part of a frame is written and the rest is not."""
        return bool(self._unfinished)

    def begin_frames(self) -> None:
        """What is written from now on is WebSocket frames, whole ones in each
        write."""
        self._framed = True

    def write_now(self, data: bytes) -> int:
        """Write what the kernel takes of `data` at once, without waiting, after
        the rest of an unfinished frame: how many bytes of `data` are done with,
        always a whole number of frames (those the kernel took part of finish
        later: `unfinished`). 0 if the unfinished frame is still not done,
        the kernel takes nothing, or the socket is broken or closed."""
        if self._broken or not self._write_unfinished_now():
            return 0
        try:
            # The socket is non-blocking (trio's): a full buffer raises.
            written = os.write(self.socket.fileno(), data)
        except OSError:  # BlockingIOError; the others are send_all's to report
            return 0
        if written == 0 or written == len(data):
            return written
        return self._cut(data, written)

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Write the rest of an unfinished frame, then `data`, waiting for the
        socket as long as it takes. Cancelled part way through a frame of
        `data`, the rest of that frame is kept to be written first by the next
        write, and the frames after it are dropped."""
        await trio.lowlevel.checkpoint_if_cancelled()
        if self._broken:
            raise trio.BrokenResourceError("the stream stopped in an HTTP answer")
        while self._unfinished:
            self._unfinished = self._unfinished[await self._send(self._unfinished) :]
        sent = 0
        try:
            while sent < len(data):
                sent += await self._send(memoryview(data)[sent:])
        finally:
            if 0 < sent < len(data):
                self._cut(bytes(data), sent)

    async def wait_send_all_might_not_block(self) -> None:
        await self._stream.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        return await self._stream.receive_some(max_bytes)

    async def aclose(self) -> None:
        """Close the socket: the kernel sends what it holds, then the end;
        an unfinished frame is never finished."""
        await self._stream.aclose()

    def _write_unfinished_now(self) -> bool:
        """Write what the kernel takes of the unfinished frame at once: whether
        none is left."""
        if self._unfinished:
            try:
                written = os.write(self.socket.fileno(), self._unfinished)
            except OSError:
                return False
            self._unfinished = self._unfinished[written:]
        return not self._unfinished

    async def _send(self, data: bytes | memoryview) -> int:
        """One write of trio's socket: how many bytes it took (none if it was
        cancelled: trio's socket calls do all or nothing)."""
        with _as_stream_errors():
            sent: int = await self.socket.send(data)
        return sent

    def _cut(self, data: bytes, written: int) -> int:
        """A write stopped after `written` bytes of `data`: keep the rest of the
        frame it stopped in; how many bytes of `data` are done with."""
        if not self._framed:
            self._broken = True
            return len(data)
        end = frame_end(data, written)
        self._unfinished = data[written:end]
        return end


@contextmanager
def _as_stream_errors() -> Iterator[None]:
    """A socket's errors as trio's stream errors (as trio.SocketStream does)."""
    try:
        yield
    except OSError as error:
        if error.errno == errno.EBADF:
            raise trio.ClosedResourceError("the socket was closed") from None
        raise trio.BrokenResourceError from error
