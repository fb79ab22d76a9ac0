"""WebSocket frames built by hand (RFC 6455 section 5.2): pure, no socket.

A server's frames are unmasked and pokerd negotiates no extension, so a text
frame is a header and the UTF-8 text: building it here cost far less than
wsproto's general frame writer (docs/performance.md). The server's fast path
(`pokerd.server.ws_fastpath`) and the benchmarks' lean client both use it.
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
