"""The protocol's edges on a real server: frames that are not JSON text, the
headers every HTTP answer carries, and requests sent after a seat's leave.

The frames are written by hand (masked, as a client's must be) on a raw TCP
connection, so the test sees exactly what the server sends back: the close
frame and its code, or a TCP close without one.
"""

from __future__ import annotations

import base64
import hashlib
import inspect
import json
import os
import struct
from typing import Any

import httpx
import pytest
import trio
from served import STEP_S, live_client, new_table, served, sit
from test_live_input import closed_by_server, dealt_heads_up, live_address
from trio_websocket import WebSocketConnection
from wsproto import ConnectionType
from wsproto.connection import Connection, ConnectionState

from pokerd.server.ws_server import PRIVATE_MEMBERS
from pokerd.wire.frames import TEXT, frame_header
from pokerd.wire.protocol import CloseCode

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
BINARY = 0x2
CONTINUATION = 0x0
CLOSE = 0x8
PING = 0x9
HELLO = json.dumps({"type": "hello", "token": None}).encode()
PING_MESSAGE = json.dumps({"type": "ping"}).encode()


def client_frame(opcode: int, payload: bytes, *, final: bool = True) -> bytes:
    """A client's frame (RFC 6455 5.2): masked with a random key."""
    mask = os.urandom(4)
    masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
    header = bytearray(frame_header(len(payload), opcode, masked=True))
    if not final:
        header[0] &= 0x7F
    return bytes(header) + mask + masked


class RawSocket:
    """A WebSocket client that sends any bytes and reads the server's frames."""

    def __init__(self, stream: trio.SocketStream, buffered: bytes) -> None:
        self.stream = stream
        self.buffer = bytearray(buffered)

    async def frame(self) -> tuple[int, bytes] | None:
        """The server's next frame (opcode, payload); None at the TCP close."""
        while True:
            parsed = self._parse()
            if parsed is not None:
                return parsed
            try:
                data = await self.stream.receive_some()
            except trio.BrokenResourceError:  # a reset
                return None
            if not data:
                return None
            self.buffer += data

    def _parse(self) -> tuple[int, bytes] | None:
        if len(self.buffer) < 2:
            return None
        size, head = self.buffer[1] & 0x7F, 2
        if size == 126:
            (size,), head = struct.unpack_from("!H", self.buffer, 2), 4
        elif size == 127:
            (size,), head = struct.unpack_from("!Q", self.buffer, 2), 10
        if len(self.buffer) < head + size:
            return None
        opcode = self.buffer[0] & 0x0F
        payload = bytes(self.buffer[head : head + size])
        del self.buffer[: head + size]
        return opcode, payload

    async def messages_until_closed(self) -> tuple[list[dict[str, Any]], int | None]:
        """The text messages the server sends, then its close code: None if the
        TCP connection ended without a close frame."""
        messages = []
        with trio.fail_after(STEP_S):
            while (frame := await self.frame()) is not None:
                opcode, payload = frame
                if opcode == TEXT:
                    messages.append(json.loads(payload))
                elif opcode == CLOSE:
                    (code,) = struct.unpack_from("!H", payload)
                    return messages, code
        return messages, None

    async def message(self) -> dict[str, Any]:
        with trio.fail_after(STEP_S):
            frame = await self.frame()
        assert frame is not None and frame[0] == TEXT, frame
        message = json.loads(frame[1])
        assert isinstance(message, dict)
        return message


async def raw_socket(live: str, path: str) -> RawSocket:
    """A raw TCP connection to the live stream, upgraded to a WebSocket."""
    host, port = live_address(live)
    stream = await trio.open_tcp_stream(host, port)
    key = base64.b64encode(os.urandom(16))
    await stream.send_all(
        b"GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n" % (path.encode(), host.encode(), port, key)
    )
    received = b""
    with trio.fail_after(STEP_S):
        while b"\r\n\r\n" not in received:
            received += await stream.receive_some()
    head, _, rest = received.partition(b"\r\n\r\n")
    status, *fields = head.split(b"\r\n")
    headers = {
        name.strip().lower(): value.strip()
        for name, _, value in (field.partition(b":") for field in fields)
    }
    assert status.split()[1] == b"101", head
    accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
    assert headers[b"sec-websocket-accept"] == accept
    return RawSocket(stream, rest)


async def said_hello(live: str, table: str) -> RawSocket:
    """A spectator's raw socket, past its welcome and snapshot."""
    raw = await raw_socket(live, f"/tables/{table}/live")
    await raw.stream.send_all(client_frame(TEXT, HELLO))
    assert (await raw.message())["type"] == "welcome"
    assert (await raw.message())["type"] == "snapshot"
    return raw


# Frames that are not JSON text


NOT_UTF8 = [
    pytest.param(b'{"type": "ping", "x": "\xff"}', id="an_invalid_byte"),
    pytest.param(b'{"type": "ping", "x": "\xed\xa0\x80"}', id="a_surrogate"),
    pytest.param(b'{"type": "ping", "x": "\xc3"}', id="a_truncated_sequence"),
]


@pytest.mark.parametrize("payload", NOT_UTF8)
async def test_a_text_frame_that_is_not_utf8_is_closed_with_1007(
    tmp_path: Any, payload: bytes
) -> None:
    async with served(tmp_path / "edges.db") as server:
        table, _ = await dealt_heads_up(server.api)
        raw = await said_hello(server.live, table)
        async with raw.stream:
            await raw.stream.send_all(client_frame(TEXT, payload))
            messages, code = await raw.messages_until_closed()

    assert code == CloseCode.INVALID_PAYLOAD
    assert not [m for m in messages if m["type"] == "pong"]


async def test_a_fragmented_text_message_split_inside_a_character_is_utf8(
    tmp_path: Any,
) -> None:
    ping = '{"type": "ping", "x": "\u00e9"}'.encode()
    cut = ping.index(b"\xc3") + 1  # between the two bytes of the e-acute
    async with served(tmp_path / "edges.db") as server:
        table, _ = await dealt_heads_up(server.api)
        raw = await said_hello(server.live, table)
        async with raw.stream:
            await raw.stream.send_all(
                client_frame(TEXT, ping[:cut], final=False)
                + client_frame(CONTINUATION, ping[cut:])
            )
            answer = await raw.message()

    assert answer["type"] == "error"
    assert answer["code"] == "bad_message"  # JSON, but "x" is not a field


async def test_an_unmasked_frame_is_closed_with_1002(tmp_path: Any) -> None:
    async with served(tmp_path / "edges.db") as server:
        table, _ = await dealt_heads_up(server.api)
        raw = await said_hello(server.live, table)
        async with raw.stream:
            await raw.stream.send_all(
                frame_header(len(PING_MESSAGE), TEXT) + PING_MESSAGE
            )
            messages, code = await raw.messages_until_closed()

    assert code == CloseCode.PROTOCOL_ERROR
    assert not [m for m in messages if m["type"] == "pong"]


def test_the_libraries_still_have_the_private_members_the_live_server_uses() -> None:
    changed = [
        f"WebSocketConnection.{name}"
        for name in ("_reader_task", "_get_request")
        if not inspect.iscoroutinefunction(getattr(WebSocketConnection, name, None))
    ]
    connection = Connection(ConnectionType.SERVER)
    if getattr(connection, "_state", None) is not ConnectionState.OPEN:
        changed.append("wsproto.connection.Connection._state")

    assert not changed, (
        "pokerd/server/ws_server.py uses private members that changed: "
        + "; ".join(f"{name} ({PRIVATE_MEMBERS[name]})" for name in changed)
        + ". Update it to the new versions, or go back to the versions pinned"
        " in pyproject.toml."
    )


@pytest.mark.parametrize("before_hello", [True, False], ids=["before", "after"])
async def test_a_binary_frame_is_closed_with_1003_the_hello(
    tmp_path: Any, before_hello: bool
) -> None:
    async with served(tmp_path / "edges.db") as server:
        table, _ = await dealt_heads_up(server.api)
        if before_hello:
            raw = await raw_socket(server.live, f"/tables/{table}/live")
            sent = HELLO
        else:
            raw = await said_hello(server.live, table)
            sent = PING_MESSAGE
        async with raw.stream:
            await raw.stream.send_all(client_frame(BINARY, sent))
            messages, code = await raw.messages_until_closed()

    assert code == CloseCode.UNSUPPORTED_DATA
    assert messages == [], "a binary frame is not read as a message"


# Headers of every HTTP answer


JSON = {"Accept": "application/json"}
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


async def answers(base: str, table: str) -> dict[str, httpx.Response]:
    """One answer of each kind the HTTP API gives, by what it is."""
    asked = {
        "a JSON answer": ("GET", "/healthz", JSON, None),
        "a table's JSON view": ("GET", f"/tables/{table}", JSON, None),
        "a JSON error (400)": ("POST", "/tables", JSON, b"[1"),
        "a JSON error (404)": ("GET", "/nowhere", JSON, None),
        "a JSON error (405)": ("DELETE", "/tables", JSON, None),
        "the metrics": ("GET", "/metrics", {}, None),
        "a hand's PHH": ("GET", f"/tables/{table}/hands/1/phh", {}, None),
        "the lobby page": ("GET", "/", HTML, None),
        "a table's page": ("GET", f"/tables/{table}", HTML, None),
        "a style sheet": ("GET", "/static/style.css", {}, None),
        "a script": ("GET", "/static/js/table.js", {}, None),
        "a missing static file": ("GET", "/static/nothing.js", {}, None),
    }
    async with httpx.AsyncClient(base_url=base, trust_env=False) as client:
        return {
            what: await client.request(method, path, headers=headers, content=body)
            for what, (method, path, headers, body) in asked.items()
        }


def directives(policy: str) -> dict[str, list[str]]:
    """A Content-Security-Policy's directives: their sources by name."""
    parsed = {}
    for directive in policy.split(";"):
        name, *sources = directive.split()
        parsed[name] = sources
    return parsed


async def test_every_http_answer_says_nosniff_and_the_pages_carry_a_policy(
    tmp_path: Any,
) -> None:
    async with served(tmp_path / "edges.db") as server:
        table, _ = await dealt_heads_up(server.api)
        base = f"http://127.0.0.1:{server.api.port}"
        got = await answers(base, table)

    failed = {"a JSON error (400)": 400, "a JSON error (405)": 405}
    for missing in ("a JSON error (404)", "a hand's PHH", "a missing static file"):
        failed[missing] = 404
    assert {what: answer.status_code for what, answer in got.items()} == {
        what: failed.get(what, 200) for what in got
    }
    sniffed = [
        what
        for what, answer in got.items()
        if answer.headers.get("x-content-type-options") != "nosniff"
    ]
    assert sniffed == []
    framable = [
        what
        for what, answer in got.items()
        if answer.headers.get("x-frame-options") != "DENY"
    ]
    assert framable == []
    for page in ("the lobby page", "a table's page"):
        assert got[page].headers["content-type"].startswith("text/html")
        policy = directives(got[page].headers["content-security-policy"])
        assert policy["default-src"] == ["'self'"]
        assert policy["connect-src"] == ["'self'", f"ws://127.0.0.1:{server.api.port}"]
        assert policy["frame-ancestors"] == ["'none'"]
        assert policy["object-src"] == policy["base-uri"] == ["'none'"]
        assert not any("unsafe" in source for s in policy.values() for source in s)


async def test_with_a_live_port_the_pages_may_connect_to_it(tmp_path: Any) -> None:
    async with served(tmp_path / "edges.db", live_port=0) as server:
        table = await new_table(server.api)
        async with httpx.AsyncClient(trust_env=False) as client:
            page = await client.get(
                f"http://127.0.0.1:{server.api.port}/tables/{table}", headers=HTML
            )

    policy = directives(page.headers["content-security-policy"])
    assert server.live != f"ws://127.0.0.1:{server.api.port}"
    assert policy["connect-src"] == ["'self'", server.live]


@pytest.mark.parametrize(
    ("live_port", "to_the_stream", "path"),
    [
        pytest.param(None, True, "/nowhere", id="one_port"),
        pytest.param(0, False, "/tables/abc/live", id="the_api_port"),
        pytest.param(0, True, "/nowhere", id="the_live_port"),
    ],
)
async def test_a_refused_websocket_handshake_says_nosniff(
    tmp_path: Any, live_port: int | None, to_the_stream: bool, path: str
) -> None:
    settings = {} if live_port is None else {"live_port": live_port}
    async with served(tmp_path / "edges.db", **settings) as server:
        # Refused by the HTTP API (Quart), or by the live stream's own
        # server (trio-websocket) on a port of its own.
        if to_the_stream:
            host, port = live_address(server.live)
        else:
            host, port = "127.0.0.1", server.api.port
        stream = await trio.open_tcp_stream(host, port)
        async with stream:
            await stream.send_all(
                b"GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                b"Sec-WebSocket-Version: 13\r\n\r\n"
                % (path.encode(), host.encode(), port, base64.b64encode(b"k" * 16))
            )
            received = b""
            with trio.fail_after(STEP_S):
                while b"\r\n\r\n" not in received:
                    received += await stream.receive_some()
    head = received.partition(b"\r\n\r\n")[0].decode("latin-1").lower()

    assert head.split()[1] == "404", head
    assert "content-type: application/json" in head
    assert "x-content-type-options: nosniff" in head


# Requests sent after a seat's own leave


async def test_requests_sent_after_the_leave_are_never_applied_nor_wrongly_answered(
    tmp_path: Any,
) -> None:
    """docs/protocol.md, Close codes (4003): the requests sent before the
    leave are all answered, in order, before the close; each sent after it
    is refused `bad_token` if the server read it before closing, or dropped
    unanswered; none is applied."""
    before: list[dict[str, Any]] = [{"type": "sit_out", "id": "b1"}]
    leave = {"type": "leave", "id": "bye"}
    after: list[dict[str, Any]] = [
        {"type": "come_back", "id": "a1"},
        {"type": "top_up", "id": "a2", "amount": 10},
        {"type": "leave", "id": "a3"},
        {"type": "sit_out", "id": "a4"},
    ]
    async with served(tmp_path / "edges.db") as server:
        table = await new_table(server.api)
        token = await sit(server.api, table, 0, "ann")
        async with live_client(server.live, table, token=token) as client:
            for message in [*before, leave, *after]:
                await client.send(message)
            code = await closed_by_server(client)
        status, log = await server.api.call(
            "GET", f"/tables/{table}/events", query={"after": 0}
        )

    assert code == CloseCode.SEAT_LOST
    answers = [m for m in client.received if m["type"] in ("ack", "error")]
    assert [m["id"] for m in answers[:2]] == [before[0]["id"], "bye"]
    assert [m["type"] for m in answers[:2]] == ["ack", "ack"]
    late = answers[2:]
    assert [m["id"] for m in late] == [m["id"] for m in after][: len(late)]
    assert {m["code"] for m in late} <= {"bad_token"}
    assert status == 200
    kinds = [m["event"]["type"] for m in log["events"]]
    assert kinds[-2:] == ["player_sat_out", "player_left"], "nothing after the leave"
    assert answers[1]["seq"] == log["seq"]
