"""pokerd.client's live transport alone (`open_live`) against listeners on
127.0.0.1 that end or refuse the WebSocket handshake.

A server that crashes between accepting a connection and answering the
upgrade resets it (or closes it); trio-websocket's reader then ends without a
word, and its handshake would wait for an answer that cannot come.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress

import pytest
import trio
from served import STEP_S, reset_connection

from pokerd.client.live import LiveUnreachableError, open_live

Behaviour = Callable[[trio.SocketStream], Awaitable[None]]


async def read_request(stream: trio.SocketStream) -> None:
    request = b""
    while b"\r\n\r\n" not in request:
        chunk = await stream.receive_some(65536)
        if not chunk:
            return
        request += chunk


async def reset_at_once(stream: trio.SocketStream) -> None:
    reset_connection(stream)


async def reset_after_the_request(stream: trio.SocketStream) -> None:
    await read_request(stream)
    reset_connection(stream)


async def close_after_the_request(stream: trio.SocketStream) -> None:
    await read_request(stream)
    await stream.aclose()


async def answer_404(stream: trio.SocketStream) -> None:
    await read_request(stream)
    await stream.send_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
    await stream.aclose()


@asynccontextmanager
async def listening(behaviour: Behaviour) -> AsyncIterator[str]:
    """A listener on 127.0.0.1 treating every connection with `behaviour`;
    its ws:// URL."""

    async def serve(stream: trio.SocketStream) -> None:
        with suppress(trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            await behaviour(stream)

    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.serve_listeners, serve, listeners)
        yield f"ws://127.0.0.1:{port}"
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize(
    "behaviour",
    [reset_at_once, reset_after_the_request, close_after_the_request],
    ids=lambda behaviour: behaviour.__name__,
)
async def test_a_connection_ended_during_the_handshake_fails_the_attempt_at_once(
    behaviour: Behaviour,
) -> None:
    # The handshake's own timeout is far away: the attempt must fail because
    # the connection ended, not because the timeout ran out.
    async with listening(behaviour) as url:
        with pytest.raises(LiveUnreachableError) as caught:
            async with open_live(url, "t", timeout_s=STEP_S):
                pytest.fail("the handshake cannot succeed")

    assert "ended during the handshake" in str(caught.value)
    assert "timed out" not in str(caught.value)


class CancelWhenTheReaderEnds(trio.abc.Instrument):
    """Cancels `scope` as soon as trio-websocket's reader task has ended
    (having raised the rejection), before the task waiting for the handshake
    runs again: the caller's cancellation and the refusal land together, as
    when `Client.close()` races a refused handshake."""

    def __init__(self, scope: trio.CancelScope) -> None:
        self.scope = scope
        self.fired = False

    def task_exited(self, task: trio.lowlevel.Task) -> None:
        if task.name.endswith("._reader_task") and not self.fired:
            self.fired = True
            self.scope.cancel()


async def test_a_refused_handshake_cancelled_by_the_caller_ends_as_a_cancellation() -> (
    None
):
    async with listening(answer_404) as url:
        with trio.CancelScope() as scope:
            cancel = CancelWhenTheReaderEnds(scope)
            trio.lowlevel.add_instrument(cancel)
            try:
                async with open_live(url, "t", timeout_s=STEP_S):
                    pytest.fail("the handshake cannot succeed")
            finally:
                trio.lowlevel.remove_instrument(cancel)

    # Only the cancellation leaves open_live (the caller's scope absorbs it),
    # not the rejection it no longer matters to.
    assert cancel.fired
    assert scope.cancelled_caught
