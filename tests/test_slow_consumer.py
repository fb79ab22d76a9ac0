"""A slow live client's stream, byte by byte: whole frames, then 4001 or the end.

A raw socket with a tiny receive buffer says hello, then reads nothing while
its table plays fast, until the server drops it as a slow consumer (its
queue overflowed, or one send stalled for `heartbeat_s`); it reads again at
once, a moment later or only once the server has closed, and then reads
everything to EOF and parses every byte per RFC 6455. The server may have to
give up on a send at any byte, but it must never write anything after part
of a frame except the rest of that frame: what arrives is whole, well-formed
frames, then a close frame with 4001, or the end of the stream (after part
of a frame, if the kernel had taken part of one that the client never came
to read).
"""

from __future__ import annotations

import codecs
import json
import os
import socket
import struct
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio
from served import STEP_S, HttpApi, served
from test_live_input import (
    connections_open,
    dealt_heads_up,
    live_address,
    scrape,
    table_view,
)

from pokerd.server.live import CLOSE_TIMEOUT_S

TINY_RECEIVE_BUFFER = 1
"""SO_RCVBUF asked of the client: the kernel makes it its minimum (a few KB)."""
MOST_ACTIONS = 3_000
"""Bound on the folds played while waiting for the drop (a few hundred do)."""
SCRAPE_EVERY = 5
"""Folds between two looks at the metrics."""
TEXT, CLOSE, PING = 0x1, 0x8, 0x9
"""The opcodes a pokerd server sends."""


@attrs.frozen
class Frame:
    opcode: int
    payload: bytes


class MalformedError(AssertionError):
    """Bytes a WebSocket server must not send."""


def parse_frames(data: bytes) -> tuple[list[Frame], bytes]:
    """The server frames (RFC 6455 section 5.2) from the start of `data`,
    each checked; and the bytes after the last whole one, the start of a
    frame the stream ended in (checked as far as it goes)."""
    frames: list[Frame] = []
    at = 0
    while at < len(data):
        frame, size = _one_frame(data, at)
        if frame is None:
            return frames, data[at:]
        frames.append(frame)
        at += size
    return frames, b""


def _one_frame(data: bytes, at: int) -> tuple[Frame | None, int]:
    """The frame at `at` and its size in bytes; None if `data` ends inside it."""
    head = data[at : at + 2]
    if head:
        first = head[0]
        if first & 0x80 == 0:
            raise MalformedError(f"byte {at}: a fragment (pokerd sends whole messages)")
        if first & 0x70:
            raise MalformedError(f"byte {at}: reserved bits {first:#04x} set")
        opcode = first & 0x0F
        if opcode not in (TEXT, CLOSE, PING):
            raise MalformedError(f"byte {at}: opcode {opcode:#x}")
    if len(head) < 2:
        return None, 0
    if head[1] & 0x80:
        raise MalformedError(f"byte {at}: a masked frame from the server")
    size, header = head[1] & 0x7F, 2
    if size == 126:
        extended = data[at + 2 : at + 4]
        if len(extended) < 2:
            return None, 0
        (size,), header = struct.unpack("!H", extended), 4
        if size < 126:
            raise MalformedError(f"byte {at}: length {size} not in its shortest form")
    elif size == 127:
        extended = data[at + 2 : at + 10]
        if len(extended) < 8:
            return None, 0
        (size,), header = struct.unpack("!Q", extended), 10
        if size < 65_536 or size >= 2**63:
            raise MalformedError(f"byte {at}: 64-bit length {size}")
    if opcode != TEXT and size > 125:
        raise MalformedError(f"byte {at}: a control frame of {size} bytes")
    payload = data[at + header : at + header + size]
    if len(payload) < size:
        if opcode == TEXT:
            _text_prefix(payload, at)
        return None, 0
    _check_payload(opcode, payload, at)
    return Frame(opcode, payload), header + size


def _text_prefix(payload: bytes, at: int) -> None:
    """The start of a text frame's payload must be the start of UTF-8."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(payload, final=False)
    except UnicodeDecodeError as error:
        raise MalformedError(
            f"byte {at}: the cut frame is not UTF-8: {error}"
        ) from None


def _check_payload(opcode: int, payload: bytes, at: int) -> None:
    if opcode == TEXT:
        try:
            message = json.loads(payload.decode("utf-8"))
        except ValueError as error:
            raise MalformedError(
                f"byte {at}: a text frame not UTF-8 JSON: {error}"
            ) from None
        if not isinstance(message, dict) or "type" not in message:
            raise MalformedError(
                f"byte {at}: a text frame not a message: {payload[:80]!r}"
            )
    elif opcode == CLOSE and payload:
        if len(payload) < 2:
            raise MalformedError(f"byte {at}: a close frame of one byte")
        payload[2:].decode("utf-8")


def close_code(frame: Frame) -> int:
    (code,) = struct.unpack("!H", frame.payload[:2])
    return int(code)


def messages(frames: list[Frame]) -> list[dict[str, Any]]:
    return [json.loads(frame.payload) for frame in frames if frame.opcode == TEXT]


# The client


def masked_text_frame(text: str) -> bytes:
    """A client's text frame (masked, as RFC 6455 requires of clients)."""
    payload = text.encode()
    assert len(payload) < 126
    mask = os.urandom(4)
    masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
    return bytes((0x80 | TEXT, 0x80 | len(payload))) + mask + masked


async def connect_tiny(live: str, table: str) -> tuple[trio.socket.SocketType, bytes]:
    """A raw socket with a tiny receive buffer, upgraded to the table's live
    stream, its hello sent as a spectator; what followed the 101's head."""
    host, port = live_address(live)
    sock = trio.socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, TINY_RECEIVE_BUFFER)
    await sock.connect((host, port))
    request = (
        f"GET /tables/{table}/live HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    )
    await sock.send(request.encode())
    received = b""
    with trio.fail_after(STEP_S):
        while b"\r\n\r\n" not in received:
            chunk = await sock.recv(4096)
            assert chunk, received
            received += chunk
    head, _, after = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 "), head
    hello = {"type": "hello", "token": None, "resume": None}
    await sock.send(masked_text_frame(json.dumps(hello)))
    return sock, after


async def read_to_eof(sock: trio.socket.SocketType) -> bytes:
    """Everything the server sends until it closes (or resets) the connection."""
    parts = []
    with trio.fail_after(STEP_S):
        while True:
            try:
                chunk = await sock.recv(65_536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            parts.append(chunk)
    return b"".join(parts)


async def dropped(api: HttpApi, reason: str) -> bool:
    _, samples = await scrape(api)
    return (
        samples.get(f'pokerd_slow_consumers_dropped_total{{reason="{reason}"}}', 0) > 0
    )


async def play_until_dropped(
    api: HttpApi, table: str, tokens: dict[int, str], reason: str
) -> int:
    """Whoever is to act folds, hand after hand, until the server has dropped
    a live client for `reason`; how many folds it took."""
    for folds in range(MOST_ACTIONS):
        if folds % SCRAPE_EVERY == 0 and await dropped(api, reason):
            return folds
        seen = await table_view(api, table)
        seat = seen["to_act"]
        if seat is None:
            await trio.sleep(0.001)
            continue
        await api.call(
            "POST",
            f"/tables/{table}/requests",
            body={"type": "act", "id": f"f{folds}", "action": "fold"},
            token=tokens[seat],
        )
    raise AssertionError(f"no live client dropped ({reason}) in {MOST_ACTIONS} folds")


async def until_closed_by_server(api: HttpApi) -> None:
    with trio.fail_after(STEP_S):
        while await connections_open(api) > 0:
            await trio.sleep(0.02)


SETTINGS_FOR: dict[str, dict[str, Any]] = {
    # The queue overflows long before a send could stall.
    "queue": {"subscriber_queue": 8, "heartbeat_s": 3 * STEP_S},
    # A send stalls long before the queue could overflow.
    "stalled": {"subscriber_queue": 100_000, "heartbeat_s": 1.0},
}


@pytest.mark.parametrize("reason", ["queue", "stalled"])
@pytest.mark.parametrize(
    "reads_again",
    [
        "at_once",
        # Past the close's deadline: a server that went on writing after
        # a frame it cut would be writing then.
        "a_moment_later",
        "once_closed",
    ],
)
async def test_a_slow_client_cut_off_gets_whole_frames_then_4001_or_the_end(
    tmp_path: Path, reason: str, reads_again: str
) -> None:
    async with served(
        tmp_path / "slow.db", ping_interval_s=3 * STEP_S, **SETTINGS_FOR[reason]
    ) as server:
        table, tokens = await dealt_heads_up(server.api)
        sock, start = await connect_tiny(server.live, table)
        with sock:
            await play_until_dropped(server.api, table, tokens, reason)
            if reads_again == "a_moment_later":
                await trio.sleep(1.5 * CLOSE_TIMEOUT_S)
            elif reads_again == "once_closed":
                await until_closed_by_server(server.api)
            data = start + await read_to_eof(sock)

    frames, cut = parse_frames(data)
    texts = messages(frames)
    assert [m["type"] for m in texts[:2]] == ["welcome", "snapshot"], texts[:2]
    seqs = [m["seq"] for m in texts[1:]]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "a gap or a repeat"
    closes = [frame for frame in frames if frame.opcode == CLOSE]
    if closes:
        assert frames[-1] is closes[0] and cut == b"", "something after the close"
        assert close_code(closes[0]) == 4001
