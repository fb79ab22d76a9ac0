"""One port for the page, the HTTP API and the live stream; ports bound first.

The routing rule (`route_of`) alone, then real servers on real sockets: a
request line that comes in pieces, a client that stalls or says nothing, a
kept-alive HTTP connection that asks for the stream later, the stream on a
port of its own (`live_port`), and `pokerd serve` processes refused a port
that is in use.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st
from served import STEP_S, free_port, live_client, new_table, served
from wsproto import ConnectionType, WSConnection
from wsproto.events import Request

from pokerd.server import listeners
from pokerd.server.listeners import Route, route_of

# The rule


@pytest.mark.parametrize(
    ("head", "route"),
    [
        (b"GET /tables/Xk2lq0PZr9Aa/live HTTP/1.1\r\n", Route.LIVE),
        (b"GET /tables/Xk2lq0PZr9Aa/live?resume=1 HTTP/1.1\r\n", Route.LIVE),
        (b"GET /tables/a_b-C/live ", Route.LIVE),
        (b"GET /tables/Xk2lq0PZr9Aa HTTP/1.1\r\n", Route.HTTP),
        (b"GET /tables/Xk2lq0PZr9Aa/events?after=3 HTTP/1.1\r\n", Route.HTTP),
        (b"GET /tables/Xk2lq0PZr9Aa/lives HTTP/1.1\r\n", Route.HTTP),
        (b"GET /tables//live HTTP/1.1\r\n", Route.HTTP),
        (b"POST /tables/Xk2lq0PZr9Aa/live HTTP/1.1\r\n", Route.HTTP),
        (b"GET / HTTP/1.1\r\n", Route.HTTP),
        (b"GET /healthz", Route.HTTP),
        (b"GET /h", Route.HTTP),
        (b"P", Route.HTTP),
        (b"PRI * HTTP/2.0\r\n", Route.HTTP),
        (b"\x16\x03\x01", Route.HTTP),  # a TLS hello: Hypercorn answers it
        (b"GET /tables/" + b"x" * 65 + b"/live HTTP/1.1\r\n", Route.HTTP),
        (b"GET /tables/" + b"x" * 80, Route.HTTP),
        (b"", None),
        (b"G", None),
        (b"GET /tab", None),
        (b"GET /tables/Xk2lq0PZr9Aa/li", None),
        (b"GET /tables/Xk2lq0PZr9Aa/live", None),
        (b"GET /tables/" + b"x" * 64 + b"/live", None),
    ],
)
def test_a_connection_goes_where_its_first_bytes_say(
    head: bytes, route: Route | None
) -> None:
    assert route_of(head) == route


request_lines = st.builds(
    lambda method, path, query: f"{method} {path}{query} HTTP/1.1\r\n".encode(),
    st.sampled_from(["GET", "POST", "HEAD", "GE"]),
    st.one_of(
        st.from_regex(r"/tables/[A-Za-z0-9_-]{0,70}/live", fullmatch=True),
        st.from_regex(r"/tables/[A-Za-z0-9_-]{1,70}(/[a-z]{0,6})?", fullmatch=True),
        st.from_regex(r"/[ -~]{0,90}", fullmatch=True).filter(lambda p: " " not in p),
    ),
    st.sampled_from(["", "?", "?after=1"]),
)


@given(request_lines)
def test_a_decision_on_the_first_bytes_is_the_one_on_the_whole_line(
    line: bytes,
) -> None:
    final = route_of(line)
    assert final is not None
    for end in range(len(line)):
        decided = route_of(line[:end])
        assert decided in (None, final), line[:end]


# Real sockets


def handshake(port: int, target: str) -> bytes:
    """A client's WebSocket upgrade request for `target`."""
    client = WSConnection(ConnectionType.CLIENT)
    return client.send(Request(host=f"127.0.0.1:{port}", target=target))


async def answer_head(stream: trio.SocketStream) -> bytes:
    """An HTTP answer's status line and headers, and what came with them."""
    received = b""
    with trio.fail_after(STEP_S):
        while b"\r\n\r\n" not in received:
            chunk = await stream.receive_some()
            assert chunk, received
            received += chunk
    return received


async def answer(stream: trio.SocketStream) -> tuple[bytes, dict[str, object]]:
    """An HTTP answer's status line and its JSON body (read by Content-Length)."""
    received = await answer_head(stream)
    head, _, body = received.partition(b"\r\n\r\n")
    status, *fields = head.split(b"\r\n")
    length = next(
        int(value)
        for name, _, value in (field.partition(b":") for field in fields)
        if name.strip().lower() == b"content-length"
    )
    with trio.fail_after(STEP_S):
        while len(body) < length:
            body += await stream.receive_some()
    return status, json.loads(body)


async def closed_by_server(stream: trio.SocketStream) -> bool:
    """Whether the server closed the connection: an end of file, or a reset
    (bytes it had not read were still in its socket)."""
    with trio.fail_after(STEP_S):
        try:
            return await stream.receive_some() == b""
        except trio.BrokenResourceError:
            return True


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


async def test_a_request_line_that_comes_in_pieces_is_routed_when_it_can_tell(
    tmp_path: Path,
) -> None:
    async with served(tmp_path / "port.db") as server:
        port = port_of(server.live)
        table = await new_table(server.api)
        upgrade = handshake(port, f"/tables/{table}/live")
        health = f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
        heads = []
        for request in (upgrade, health):
            async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
                for start in range(0, len(request), 9):
                    await stream.send_all(request[start : start + 9])
                    await trio.sleep(0.01)
                heads.append(await answer_head(stream))

    switched, healthy = heads
    assert switched.startswith(b"HTTP/1.1 101 ")
    assert healthy.startswith(b"HTTP/1.1 200 ")


async def test_a_client_that_stalls_or_says_nothing_is_closed_without_a_busy_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    peeks: list[bytes] = []

    def counted(head: bytes) -> Route | None:
        peeks.append(head)
        return route_of(head)

    monkeypatch.setattr(listeners, "ROUTE_TIMEOUT_S", 1.0)
    monkeypatch.setattr(listeners, "route_of", counted)
    ends = []
    async with served(tmp_path / "port.db") as server:
        port = port_of(server.live)
        for first in (b"GET /tab", b""):  # stalls in the request line; silent
            async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
                await stream.send_all(first)
                ends.append(await closed_by_server(stream))
        _, health = await server.api.call("GET", "/healthz")

    assert ends == [True, True]
    # Waits between peeks double from 2 ms to 100 ms: about 14 peeks in the
    # second; a busy loop would peek thousands of times. The silent client
    # costs none: the first peek waits for bytes.
    stalled = [head for head in peeks if head == b"GET /tab"]
    assert 1 <= len(stalled) <= 30
    assert b"" not in peeks
    assert health["ok"] is True


async def test_the_stream_asked_for_on_a_kept_alive_http_connection_says_open_a_new_one(
    tmp_path: Path,
) -> None:
    async with served(tmp_path / "port.db") as server:
        port = port_of(server.live)
        table = await new_table(server.api)
        async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
            await stream.send_all(
                f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
            )
            first = await answer(stream)
            await stream.send_all(handshake(port, f"/tables/{table}/live"))
            status, refused = await answer(stream)

    assert first[0].startswith(b"HTTP/1.1 200 ")
    assert status.startswith(b"HTTP/1.1 404 ")
    assert refused["code"] == "no_such_endpoint"
    assert "open a new connection" in str(refused["message"])


async def test_a_plain_get_of_a_stream_is_refused_by_the_stream_with_400(
    tmp_path: Path,
) -> None:
    async with served(tmp_path / "port.db") as server:
        port = port_of(server.live)
        table = await new_table(server.api)
        async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
            await stream.send_all(
                f"GET /tables/{table}/live HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{port}\r\n\r\n".encode()
            )
            head = await answer_head(stream)

    assert head.startswith(b"HTTP/1.1 400 ")


async def test_the_live_port_option_puts_the_stream_on_a_port_of_its_own(
    tmp_path: Path,
) -> None:
    async with served(tmp_path / "port.db", live_port=0) as server:
        _, health = await server.api.call("GET", "/healthz")
        table = await new_table(server.api)
        async with live_client(str(health["live"]), table) as watcher:
            snapshot = await watcher.receive()
        api_port = server.api.port
        async with await trio.open_tcp_stream("127.0.0.1", api_port) as stream:
            await stream.send_all(handshake(api_port, f"/tables/{table}/live"))
            status, refused = await answer(stream)

    assert health["live"] == server.live
    assert port_of(server.live) != api_port
    assert snapshot["type"] == "snapshot"
    assert status.startswith(b"HTTP/1.1 404 ")
    assert refused["code"] == "no_such_endpoint"
    assert server.live in str(refused["message"])


# Ports in use: real `pokerd serve` processes


@pytest.mark.parametrize("busy_flag", ["--port", "--live-port"])
def test_a_port_in_use_is_one_line_and_exit_status_2_before_anything_is_done(
    tmp_path: Path, busy_flag: str
) -> None:
    db = tmp_path / "port.db"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        flags = ["--port", str(port)]
        if busy_flag == "--live-port":
            flags = ["--port", str(free_port()), "--live-port", str(port)]
        command = [sys.executable, "-m", "pokerd", "serve", "--db", str(db), *flags]
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=STEP_S, check=False
        )

    assert done.stderr == f"pokerd serve: port {port} on 127.0.0.1 is in use\n"
    assert done.returncode == 2
    assert done.stdout == ""
    assert not db.exists()  # the ports are bound before the database is opened
