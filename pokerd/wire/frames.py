"""WebSocket frames built by hand (RFC 6455 section 5.2): pure, no socket.

A server's frames are unmasked and pokerd negotiates no extension, so a text
frame is a header and the UTF-8 text: building it here cost far less than
wsproto's general frame writer (docs/performance.md). The server's fast path
(`pokerd.server.ws_fastpath`) and the benchmarks' lean client both use it;
the server's live stream (`pokerd.server.frame_stream`) finds where a frame
that a write stopped in ends (`frame_end`).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

TEXT = 0x1
"""The opcode of a text frame."""


def frame_header(size: int, opcode: int = TEXT, *, masked: bool = False) -> bytes:
    """The header of a final frame of `size` payload bytes: a server's text
    frame by default (a client's frames are `masked`, the mask key after the
    header)."""
    first, mask_bit = 0x80 | opcode, 0x80 if masked else 0
    if size < 126:
        return bytes((first, mask_bit | size))
    if size < 65_536:
        return struct.pack("!BBH", first, mask_bit | 126, size)
    return struct.pack("!BBQ", first, mask_bit | 127, size)


def text_frames(texts: Iterable[str]) -> bytes:
    """Text messages as the bytes of a server's final, unmasked frames."""
    parts = []
    for text in texts:
        payload = text.encode()
        parts.append(frame_header(len(payload)))
        parts.append(payload)
    return b"".join(parts)


def frame_end(data: bytes, offset: int) -> int:
    """Where the frame that byte `offset` of `data` is part of ends, `data`
    being whole frames from its first byte (a server's or a client's, with
    any payload lengths: 7, 16 or 64 bits)."""
    at = 0
    while True:
        second = data[at + 1]
        size, header = second & 0x7F, 2
        if size == 126:
            (size,) = struct.unpack_from("!H", data, at + 2)
            header = 4
        elif size == 127:
            (size,) = struct.unpack_from("!Q", data, at + 2)
            header = 10
        if second & 0x80:
            header += 4  # the mask key
        end = at + header + size
        if end > offset:
            return end
        at = end
