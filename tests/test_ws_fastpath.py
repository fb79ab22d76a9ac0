"""The live writer's fast path against trio-websocket's private members.

`pokerd.server.ws_fastpath` reads and uses five private members of
trio-websocket's `WebSocketConnection`. If a new trio-websocket moves or
changes any of them, the first test here says which, and why the fast path
needs it, before anything subtler breaks.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
import trio_websocket
from trio_websocket import (
    ConnectionClosed,
    WebSocketConnection,
    wrap_client_stream,
    wrap_server_stream,
)
from wsproto.connection import ConnectionState

from pokerd.server.frame_stream import FrameStream
from pokerd.server.ws_fastpath import (
    PRIVATE_MEMBERS,
    encode_frames,
    send_frames,
    write_now,
)

STEP_S = 20


@asynccontextmanager
async def connected() -> AsyncIterator[
    tuple[WebSocketConnection, FrameStream, WebSocketConnection]
]:
    """A server WebSocket on a real TCP socket (a FrameStream, as the live
    server's), its stream, and its client."""
    (listener,) = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listener.socket.getsockname()[1]
    accepted, server_side = trio.open_memory_channel[WebSocketConnection](1)
    async with listener, trio.open_nursery() as nursery:
        client_stream = await trio.open_tcp_stream("127.0.0.1", port)
        server_stream = FrameStream(await listener.accept())

        async def accept() -> None:
            request = await wrap_server_stream(nursery, server_stream)
            accepting = await request.accept()
            server_stream.begin_frames()
            await accepted.send(accepting)

        async with client_stream, server_stream:
            nursery.start_soon(accept)
            with trio.fail_after(STEP_S):
                client = await wrap_client_stream(
                    nursery, client_stream, "127.0.0.1", "/"
                )
                server = await server_side.receive()
            yield server, server_stream, client
            nursery.cancel_scope.cancel()


def changed(name: str, found: str) -> str:
    return (
        f"trio-websocket {trio_websocket.__version__} changed the private member "
        f"WebSocketConnection.{name} ({PRIVATE_MEMBERS[name]}): {found}. Update "
        "pokerd/server/ws_fastpath.py to the new version, or go back to the "
        "version pinned in pyproject.toml."
    )


async def test_trio_websocket_still_has_the_private_members_the_fast_path_uses() -> (
    None
):
    async with connected() as (ws, stream, _client):
        problems = []
        for name in PRIVATE_MEMBERS:
            if not hasattr(ws, name):
                problems.append(changed(name, "it is gone"))
        if not problems:
            if ws._stream is not stream:
                problems.append(changed("_stream", "it is not the stream given"))
            lock = ws._stream_lock
            if not (callable(getattr(lock, "locked", None)) and lock.locked() is False):
                problems.append(changed("_stream_lock", f"{lock!r} has no locked()"))
            if ws._close_reason is not None:
                problems.append(changed("_close_reason", "not None while open"))
            if getattr(ws._wsproto, "state", None) is not ConnectionState.OPEN:
                problems.append(changed("_wsproto", "no OPEN state while open"))
            if not inspect.iscoroutinefunction(ws._abort_web_socket):
                problems.append(changed("_abort_web_socket", "not a coroutine"))
        assert not problems, "\n".join(problems)


async def test_frames_written_at_once_and_the_slow_way_arrive_in_order() -> None:
    async with connected() as (ws, _stream, client):
        first = encode_frames(ws, ["one", "two \u00e9"])
        assert write_now(ws, first) == len(first)
        await send_frames(ws, encode_frames(ws, ["three"]))
        with trio.fail_after(STEP_S):
            received = [await client.get_message() for _ in range(3)]

    assert received == ["one", "two \u00e9", "three"]


async def test_nothing_is_written_at_once_while_a_send_holds_the_lock() -> None:
    async with connected() as (ws, _stream, _client), ws._stream_lock:
        written = write_now(ws, encode_frames(ws, ["held"]))

    assert written == 0


async def test_a_closed_connection_is_reported_as_closed() -> None:
    async with connected() as (ws, _stream, client):
        await client.aclose()
        with trio.fail_after(STEP_S), pytest.raises(ConnectionClosed):
            while True:  # until the server side has seen the close
                encode_frames(ws, ["late"])
                await trio.sleep(0.01)
        assert write_now(ws, b"\x81\x00") == 0


async def test_a_broken_stream_is_reported_as_closed_by_the_slow_way() -> None:
    async with connected() as (ws, stream, _client):
        data = encode_frames(ws, ["after the stream broke"])
        await stream.aclose()
        with pytest.raises(ConnectionClosed):
            await send_frames(ws, data)
        assert ws._close_reason is not None
