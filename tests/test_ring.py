"""The router's placement of tables on nodes (`pokerd.ops.ring`): in-process,
and through a real HAProxy with the configuration `pokerd.tools.haproxy` writes."""

from __future__ import annotations

import http.client
import random
import threading
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from served import STEP_S, free_port

from pokerd.ops.ring import SLOTS, node_of, ranking, slot_of
from pokerd.tools.haproxy import Router

NODES = ["node1", "node2", "node3"]
_RANDOM = random.Random(15)
IDS = [_RANDOM.randbytes(9).hex() for _ in range(3000)]


def test_the_slot_is_the_crc32_of_the_id_modulo_the_slots() -> None:
    # HAProxy's `crc32,mod(256)`: the standard CRC-32 (as zlib's) of the id's bytes.
    assert slot_of("abc") == zlib.crc32(b"abc") % SLOTS
    assert slot_of("") == 0


def test_each_of_three_nodes_gets_about_a_third_of_the_tables() -> None:
    shares = Counter(node_of(table_id, NODES) for table_id in IDS)
    assert set(shares) == set(NODES)
    assert all(800 <= count <= 1200 for count in shares.values()), shares


def test_a_node_that_goes_moves_only_its_own_tables() -> None:
    before = {table_id: node_of(table_id, NODES) for table_id in IDS}
    after = {table_id: node_of(table_id, ["node1", "node3"]) for table_id in IDS}
    moved = {t for t in IDS if before[t] != after[t]}
    assert moved == {t for t in IDS if before[t] == "node2"}
    assert {after[t] for t in moved} == {"node1", "node3"}


def test_a_node_that_joins_takes_only_what_ranks_it_first() -> None:
    before = {table_id: node_of(table_id, NODES) for table_id in IDS}
    after = {table_id: node_of(table_id, [*NODES, "node4"]) for table_id in IDS}
    assert {after[t] for t in IDS if before[t] != after[t]} == {"node4"}


def test_no_node_up_places_nothing() -> None:
    assert node_of("abc", []) is None


@given(st.text(max_size=20), st.sets(st.sampled_from([*NODES, "node4"]), min_size=1))
def test_the_node_is_the_first_up_in_its_slots_ranking(
    table_id: str, up: set[str]
) -> None:
    first = next(
        node for node in ranking(slot_of(table_id), [*NODES, "node4"]) if node in up
    )
    assert node_of(table_id, up) == first


class _Named(BaseHTTPRequestHandler):
    """Answers every GET (/healthz too) with its server's name."""

    def do_GET(self) -> None:
        name = self.server.name.encode()  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", str(len(name)))
        self.end_headers()
        self.wfile.write(name)

    def log_message(self, *_: object) -> None:
        pass


@contextmanager
def named_backend(name: str, port: int) -> Iterator[None]:
    """An HTTP server at 127.0.0.1:`port` that answers `name`, until the block ends."""
    server = ThreadingHTTPServer(("127.0.0.1", port), _Named)
    server.daemon_threads = True
    server.name = name  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def wait_states(router: Router, expected: dict[str, str]) -> None:
    """Until HAProxy's health checks see each node as `expected` (bounded)."""
    deadline = time.monotonic() + STEP_S
    while router.states() != expected:
        assert time.monotonic() < deadline, router.states()
        time.sleep(0.05)


def routed(router: Router, table_ids: list[str]) -> dict[str, str]:
    """Which node answered `GET /tables/{id}` through HAProxy, for each id."""
    host, port = router.bind.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=STEP_S)
    answers = {}
    try:
        for table_id in table_ids:
            connection.request("GET", f"/tables/{table_id}/events?after=0")
            response = connection.getresponse()
            assert response.status == 200
            answers[table_id] = response.read().decode()
    finally:
        connection.close()
    return answers


def test_a_real_haproxy_routes_each_table_as_node_of_says(haproxy: Path) -> None:
    ports = {name: free_port() for name in NODES}
    nodes = {name: f"127.0.0.1:{port}" for name, port in ports.items()}
    table_ids = IDS[:600]
    with (
        named_backend("node1", ports["node1"]),
        named_backend("node3", ports["node3"]),
        Router(nodes, f"127.0.0.1:{free_port()}") as router,
    ):
        with named_backend("node2", ports["node2"]):
            wait_states(router, dict.fromkeys(NODES, "UP"))
            all_up = routed(router, table_ids)
            assert all_up == {t: node_of(t, NODES) for t in table_ids}
        wait_states(router, {"node1": "UP", "node2": "DOWN", "node3": "UP"})
        one_down = routed(router, table_ids)
        assert one_down == {t: node_of(t, ["node1", "node3"]) for t in table_ids}
        with named_backend("node2", ports["node2"]):
            wait_states(router, dict.fromkeys(NODES, "UP"))
            assert routed(router, table_ids) == all_up
    assert set(all_up.values()) == set(NODES)  # every node had some, so
    assert {one_down[t] for t in table_ids if all_up[t] == "node2"} == {
        "node1",
        "node3",
    }
