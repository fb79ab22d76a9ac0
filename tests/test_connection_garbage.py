"""A closed HTTP connection leaves no cycle for the garbage collector.

The collector freezes whatever is alive every 50 ms (pokerd/ops/collector.py),
so a connection open at that moment is frozen; if its objects form a cycle,
only the next sweep frees them after it closes. Under clients that open a
connection a request (health checkers, simple pollers) that is about 1 MB a
second at 400 connections a second, and sweeps of seconds
(docs/performance.md). So nothing of a connection may be in a cycle when it
ends: reference counting alone frees it, frozen or not.

Each test serves short connections on real sockets while the collector keeps
what it finds (`gc.DEBUG_SAVEALL`), then unfreezes and collects everything,
and looks at the cyclic garbage: none of it may come from the HTTP stack.
(werkzeug's URL matcher leaves a cycle of plain functions on each request,
dead before the matching returns, so before any freeze; it is not counted.)
"""

from __future__ import annotations

import gc
import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import trio
import trio.testing
from served import STEP_S, new_table, served

CONNECTIONS = 20
SETTLE_S = 0.02
"""How long every task must have been blocked for the server to be done
with the connections just closed (trio's cushion for loopback sockets)."""


@contextmanager
def cyclic_garbage() -> Iterator[Counter[str]]:
    """Counts, by type, the objects inside the block's cycles from outside
    the builtins: every collection meanwhile keeps what it finds, and a full
    one, everything unfrozen, ends the block."""
    found: Counter[str] = Counter()
    gc.unfreeze()  # what was frozen before is not the block's
    gc.collect()
    gc.garbage.clear()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield found
        gc.unfreeze()
        gc.collect()
        for item in gc.garbage:
            kind = type(item)
            if kind.__module__ != "builtins":
                found[f"{kind.__module__}.{kind.__qualname__}"] += 1
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


async def exchange(port: int, request: bytes) -> bytes:
    """Send a request on a new connection, read the head and the body by its
    Content-Length, and close; the head."""
    sock = trio.socket.socket()
    with sock, trio.fail_after(STEP_S):
        await sock.connect(("127.0.0.1", port))
        await sock.send(request)
        data = b""
        while b"\r\n\r\n" not in data:
            data += await sock.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        fields = dict(line.split(b":", 1) for line in head.split(b"\r\n")[1:])
        while len(body) < int(fields.get(b"Content-Length", b"0")):
            body += await sock.recv(65536)
    return head


def request(method: str, path: str, *headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *headers, "", ""]
    return "\r\n".join(lines).encode()


UPGRADE = (
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version: 13",
)


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("GET", "/healthz", ("Connection: close",), b"200"),
        ("GET", "/healthz", (), b"200"),  # kept alive; the client closes
        ("GET", "/tables/{table}", ("Connection: close",), b"200"),
        ("GET", "/tables/{table}/events?after=0", ("Connection: close",), b"200"),
        ("GET", "/no/such/path", ("Connection: close",), b"404"),
        ("DELETE", "/healthz", ("Connection: close",), b"405"),
        ("GET", "/no/such/stream", UPGRADE, b"404"),
    ],
)
async def test_a_closed_http_connection_is_freed_without_the_collector(
    tmp_path: Path, method: str, path: str, headers: tuple[str, ...], status: bytes
) -> None:
    async with served(tmp_path / "pokerd.db") as server:
        port = int(server.api.base_url.rsplit(":", 1)[1])
        target = path.format(table=await new_table(server.api))
        with cyclic_garbage() as found:
            for _ in range(CONNECTIONS):
                head = await exchange(port, request(method, target, *headers))
                assert head.split(b" ")[1] == status, head
            await trio.testing.wait_all_tasks_blocked(SETTLE_S)

    assert found == {}, json.dumps(found, indent=1)
