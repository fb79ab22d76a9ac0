"""The live socket's stream: after part of a frame, only the rest of that frame.

Each test writes frames through a `FrameStream` over a real TCP connection
whose other end reads nothing at first, with a small send buffer (as live
sockets have) and a tiny receive buffer, so that writes stop part way; the
other end then reads every byte and parses it (test_slow_consumer's strict
parser). Where a write stops depends on the kernel, so the assertions hold
wherever it does.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
import trio.testing
from served import STEP_S
from test_slow_consumer import TEXT, Frame, parse_frames
from wsproto.frame_protocol import FrameProtocol

from pokerd.server.frame_stream import FrameStream
from pokerd.server.live import SEND_BUFFER_BYTES
from pokerd.wire.frames import frame_end, text_frames

FRAMES = 12
FRAME_TEXT_BYTES = 20_000
"""12 frames of 20 KB: more than the socket buffers hold."""


def texts(prefix: str, count: int) -> list[str]:
    """Distinct texts of about FRAME_TEXT_BYTES, as JSON messages."""
    pad = "x" * FRAME_TEXT_BYTES
    return [f'{{"type": "{prefix}{i}", "pad": "{pad}"}}' for i in range(count)]


def as_frames(sent: list[str]) -> list[Frame]:
    return [Frame(TEXT, text.encode()) for text in sent]


@asynccontextmanager
async def connected() -> AsyncIterator[tuple[FrameStream, trio.socket.SocketType]]:
    """A FrameStream writing frames, and the other end of its TCP connection."""
    (listener,) = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listener.socket.getsockname()[1]
    peer = trio.socket.socket()
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
    async with listener:
        await peer.connect(("127.0.0.1", port))
        stream = await listener.accept()
    stream.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
    wire = FrameStream(stream)
    wire.begin_frames()
    with peer:
        async with wire:
            yield wire, peer


async def read_to_eof(peer: trio.socket.SocketType) -> bytes:
    parts = []
    with trio.fail_after(STEP_S):
        while chunk := await peer.recv(65_536):
            parts.append(chunk)
    return b"".join(parts)


async def cut_short(wire: FrameStream, data: bytes) -> None:
    """Send `data`, which the other end does not read, until the send waits
    for the socket; then cancel it."""
    with trio.CancelScope() as scope:

        async def cancel_once_blocked() -> None:
            await trio.testing.wait_all_tasks_blocked(cushion=0.05)
            scope.cancel()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(cancel_once_blocked)
            await wire.send_all(data)
            raise AssertionError("the socket took every frame: nothing was cut")


async def test_the_next_write_after_a_cut_finishes_its_frame_first() -> None:
    first, then = texts("first", FRAMES), texts("then", 2)
    async with connected() as (wire, peer):
        await cut_short(wire, text_frames(first))
        assert wire.write_now(text_frames(then)) == 0  # nothing is read yet
        async with trio.open_nursery() as nursery:
            received: list[bytes] = []

            async def read() -> None:
                received.append(await read_to_eof(peer))

            nursery.start_soon(read)
            with trio.fail_after(STEP_S):
                await wire.send_all(text_frames(then))
            await wire.aclose()

    frames, rest = parse_frames(received[0])
    assert rest == b""
    kept = len(frames) - len(then)
    # Every frame the cut send wrote any of arrives whole; those after it,
    # never; then the next write's.
    assert 0 < kept < FRAMES
    assert frames == as_frames(first[:kept] + then)


async def test_closed_after_a_cut_nothing_follows_the_part_of_a_frame() -> None:
    first = texts("first", FRAMES)
    data = text_frames(first)
    async with connected() as (wire, peer):
        await cut_short(wire, data)
        unfinished = wire.unfinished
        await wire.aclose()
        received = await read_to_eof(peer)

    frames, rest = parse_frames(received)
    assert frames == as_frames(first[: len(frames)])
    assert received == data[: len(received)]
    assert bool(rest) == unfinished


async def test_a_write_the_kernel_takes_part_of_ends_whole_when_sent_on() -> None:
    frames_sent = texts("now", FRAMES)
    data = text_frames(frames_sent)
    async with connected() as (wire, peer):
        taken = wire.write_now(data)
        async with trio.open_nursery() as nursery:
            received: list[bytes] = []

            async def read() -> None:
                received.append(await read_to_eof(peer))

            nursery.start_soon(read)
            with trio.fail_after(STEP_S):
                await wire.send_all(data[taken:])
            await wire.aclose()

    assert 0 < taken < len(data)
    assert taken == frame_end(data, taken - 1)  # a whole number of frames
    assert received[0] == data


@pytest.mark.parametrize("client", [False, True], ids=["server", "client"])
@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65_535, 65_536, 70_000])
def test_frame_end_finds_the_end_of_the_frame_an_offset_falls_in(
    size: int, client: bool
) -> None:
    protocol = FrameProtocol(client=client, extensions=[])
    frames = [protocol.send_data("y" * n, True) for n in (size, 3, size)]
    data = b"".join(frames)
    start = 0
    for frame in frames:
        end = start + len(frame)
        for offset in {start, start + 1, (start + end) // 2, end - 1}:
            assert frame_end(data, offset) == end
        start = end
