"""A lean WebSocket client for load generators: one task per socket, no reader task.

The bots of `load.py` share the machine with the server they measure, so
every microsecond they spend reading is taken from the server's core.
trio-websocket's client runs a reader task per socket that hands each
message over a channel to the task that reads it, and parses frames in
wsproto's general state machine: at 6,000 sockets the bots spent about
2.3 ms of CPU an action that way. This client reads and parses in the
caller's own task, takes every complete frame out of each `recv`, and
answers pings and close frames itself (RFC 6455: text, ping, pong and close
frames, unfragmented, no extensions, which is all the servers it talks to
send).
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct
from collections import deque

import trio

from pokerd.wire.frames import frame_header

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_HEAD = 16_384
"""Bytes of handshake response accepted before giving up on the server."""


class ClosedError(Exception):
    """The server closed the socket (or the TCP connection ended)."""


class HandshakeError(Exception):
    """The server did not switch to the WebSocket protocol."""


def frame(opcode: int, payload: bytes) -> bytes:
    """A client frame: final, masked (RFC 6455 section 5.3), unfragmented."""
    size = len(payload)
    mask = os.urandom(4)
    key = int.from_bytes(mask * (size // 4 + 1), "little") & ((1 << (8 * size)) - 1)
    masked = (int.from_bytes(payload, "little") ^ key).to_bytes(size, "little")
    return frame_header(size, opcode, masked=True) + mask + masked


class LeanSocket:
    """One client WebSocket: `send` text, `receive` the next text message."""

    def __init__(self, stream: trio.SocketStream, buffered: bytes) -> None:
        self.stream = stream
        self._buffer = bytearray(buffered)
        self._messages: deque[str] = deque()
        self._closed = False
        self.close_code: int | None = None
        """The code of the server's close frame, once one came."""

    @classmethod
    async def connect(cls, host: str, port: int, path: str) -> LeanSocket:
        """Open the TCP connection and do the opening handshake."""
        stream = await trio.open_tcp_stream(host, port)
        try:
            key = base64.b64encode(os.urandom(16))
            await stream.send_all(
                b"GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                b"Sec-WebSocket-Version: 13\r\n\r\n"
                % (path.encode(), host.encode(), port, key)
            )
            received = b""
            while b"\r\n\r\n" not in received:
                chunk = await stream.receive_some(4096)
                if not chunk or len(received) > MAX_HEAD:
                    raise HandshakeError("the server closed during the handshake")
                received += chunk
            head, _, rest = received.partition(b"\r\n\r\n")
            accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
            lines = head.split(b"\r\n")
            headers = {
                name.strip().lower(): value.strip()
                for name, _, value in (line.partition(b":") for line in lines[1:])
            }
            if lines[0].split()[1:2] != [b"101"] or (
                headers.get(b"sec-websocket-accept") != accept
            ):
                raise HandshakeError(lines[0].decode(errors="replace"))
        except BaseException:
            await trio.aclose_forcefully(stream)
            raise
        return cls(stream, rest)

    async def send(self, text: str) -> None:
        await self.stream.send_all(frame(0x1, text.encode()))

    async def receive(self) -> str:
        """The next text message; raises ClosedError once the server has closed."""
        while not self._messages:
            if self._closed:
                raise ClosedError()
            data = await self.stream.receive_some(65_536)
            if not data:
                self._closed = True
                raise ClosedError()
            self._buffer += data
            await self._parse()
        return self._messages.popleft()

    async def abort(self) -> None:
        """Cut the TCP connection without a closing handshake."""
        await trio.aclose_forcefully(self.stream)

    async def _parse(self) -> None:
        """Move every complete frame out of the buffer."""
        buffer = self._buffer
        start = 0
        while len(buffer) - start >= 2:
            first, second = buffer[start], buffer[start + 1]
            size = second & 0x7F
            head = 2
            if size == 126:
                if len(buffer) - start < 4:
                    break
                (size,) = struct.unpack_from("!H", buffer, start + 2)
                head = 4
            elif size == 127:
                if len(buffer) - start < 10:
                    break
                (size,) = struct.unpack_from("!Q", buffer, start + 2)
                head = 10
            end = start + head + size
            if len(buffer) < end:
                break
            payload = bytes(buffer[start + head : end])
            start = end
            opcode = first & 0x0F
            if not first & 0x80 or second & 0x80:
                raise ClosedError("a fragmented or masked frame from the server")
            if opcode == 0x1:
                self._messages.append(payload.decode())
            elif opcode == 0x9:
                await self.stream.send_all(frame(0xA, payload))
            elif opcode == 0x8:
                # Answer the close (echoing its code), then stop reading.
                self._closed = True
                if len(payload) >= 2:
                    (self.close_code,) = struct.unpack_from("!H", payload)
                await self.stream.send_all(frame(0x8, payload[:2]))
                break
        del buffer[:start]
