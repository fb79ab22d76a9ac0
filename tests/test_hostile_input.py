"""Input meant to break the server, end to end: each is refused with a code.

A number beyond what SQLite holds, JSON nested deeper than the decoder
follows, a `type` that is a list or an object, an amount on an action that
takes none or a negative one, a request id used again for another request: over
HTTP and the live stream of a real server (`served`), each gets its error
code, the table is as it was, and the connection goes on working. Clients
that end their side of the connection mid-body leave a `pokerd serve`
process serving, its log clean.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any

import pytest
import trio
from served import STEP_S, HttpApi, live_client, pokerd_serve, served, stop
from test_live_input import (
    answer_to,
    dealt_heads_up,
    seat_to_act,
    still_answers_pings,
    table_view,
)
from test_one_port import answer, answer_head

from pokerd.server.app import WEB_DIR

NESTED_ARRAYS = "[" * 30_000 + "]" * 30_000
"""60 kB: under the frame and body limit, far deeper than JSON decoding follows."""
NESTED_OBJECTS = '{"a":' * 10_000 + "1" + "}" * 10_000
NESTED_AMOUNT = (
    '{"type": "act", "id": "n1", "action": "raise", "amount": '
    + "[" * 20_000
    + "]" * 20_000
    + "}"
)
TOO_DEEP = [
    pytest.param(NESTED_ARRAYS, id="nested_arrays"),
    pytest.param(NESTED_OBJECTS, id="nested_objects"),
    pytest.param(NESTED_AMOUNT, id="a_nested_amount"),
]
"""JSON nested deeper than the decoder follows, each under the size limits."""


async def post_text(api: HttpApi, path: str, text: str) -> tuple[int, Any]:
    return await api.call("POST", path, raw=text.encode())


@pytest.mark.parametrize("text", TOO_DEEP)
async def test_json_nested_too_deep_is_a_bad_request_over_http(
    tmp_path: Path, text: str
) -> None:
    async with served(tmp_path / "deep.db") as server:
        table, _ = await dealt_heads_up(server.api)
        before = await table_view(server.api, table)
        created = await post_text(server.api, "/tables", text)
        acted = await post_text(server.api, f"/tables/{table}/requests", text)
        after = await table_view(server.api, table)
        still = await server.api.call("POST", "/tables", body={"max_seats": 2})

    for status, refused in (created, acted):
        assert (status, refused["code"]) == (400, "bad_request")
        assert "nests too deeply" in refused["message"]
    assert after == before
    assert still[0] == 201


@pytest.mark.parametrize("text", TOO_DEEP)
async def test_json_nested_too_deep_is_a_bad_message_on_the_socket(
    tmp_path: Path, text: str
) -> None:
    async with served(tmp_path / "deep.db") as server:
        table, tokens = await dealt_heads_up(server.api)
        before = await table_view(server.api, table)
        token = tokens[seat_to_act(before)]
        async with live_client(server.live, table, token=token) as client:
            refused = await answer_to(client, text)
            await still_answers_pings(client)
        after = await table_view(server.api, table)

    assert refused["code"] == "bad_message"
    assert "nests too deeply" in refused["message"]
    assert after == before


TYPES_NO_DICT_HOLDS = [
    pytest.param('{"type": [], "id": "t1"}', id="a_list"),
    pytest.param('{"type": {"act": 1}, "id": "t1"}', id="an_object"),
]
"""A `type` that cannot even be looked up among the known ones (found by
tests/test_fuzz.py: it was a TypeError, HTTP 500, a closed socket)."""


@pytest.mark.parametrize("text", TYPES_NO_DICT_HOLDS)
async def test_a_type_that_is_a_list_or_object_is_refused_on_both_transports(
    tmp_path: Path, text: str
) -> None:
    async with served(tmp_path / "type.db") as server:
        table, tokens = await dealt_heads_up(server.api)
        before = await table_view(server.api, table)
        token = tokens[seat_to_act(before)]
        async with live_client(server.live, table, token=token) as client:
            over_socket = await answer_to(client, text)
            await still_answers_pings(client)
        over_http = await server.api.call(
            "POST", f"/tables/{table}/requests", raw=text.encode(), token=token
        )
        after = await table_view(server.api, table)

    assert (over_socket["code"], over_socket["id"]) == ("bad_message", "t1")
    assert (over_http[0], over_http[1]["code"]) == (400, "bad_request")
    assert "unknown type" in over_http[1]["message"]
    assert after == before


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/tables//events"),
        ("POST", "/tables//seats"),
        ("GET", "/tables//hands"),
    ],
)
async def test_a_path_with_an_empty_segment_is_not_found_not_redirected(
    tmp_path: Path, method: str, path: str
) -> None:
    """Merging the slashes would name another resource (`/tables//hands` is
    the view of a table "hands"): found by tests/test_fuzz.py, a 308 with an
    HTML body."""
    async with served(tmp_path / "slashes.db") as server:
        status, refused = await server.api.call(method, path, body={})

    assert (status, refused["code"]) == (404, "not_found")


ENDED_MID_BODY = [
    pytest.param(b"", id="plain"),
    pytest.param(b"Expect: 100-continue\r\n", id="expecting_100_continue"),
]
"""A request whose client ends its side of the connection two bytes into a
100-byte body (found by tests/test_fuzz.py): Hypercorn's 400 for it, or
its 100 Continue, raced the connection's close (trio.BusyResourceError),
which took the listener down within a few requests, else logged a traceback."""


@pytest.mark.parametrize("header", ENDED_MID_BODY)
async def test_clients_that_end_their_side_mid_body_leave_the_server_serving(
    tmp_path: Path, header: bytes
) -> None:
    log = tmp_path / "server.log"
    request = (
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + header
        + b"Content-Length: 100\r\n\r\nxx"
    )
    async with pokerd_serve(tmp_path / "mid-body.db", log) as server:
        for _ in range(50):
            stream = await trio.open_tcp_stream("127.0.0.1", server.api.port)
            async with stream:
                await stream.send_all(request)
                await stream.send_eof()
                with (
                    trio.fail_after(STEP_S),
                    contextlib.suppress(trio.BrokenResourceError),
                ):
                    while await stream.receive_some():  # to the end (or a reset)
                        pass
        status, health = await server.api.call("GET", "/healthz")
        await stop(server.process, log)

    assert (status, health["ok"]) == (200, True)
    assert "Traceback" not in log.read_text()


@pytest.mark.parametrize("host", [".", "a..b", "x" * 64 + ".com"])
async def test_a_host_header_that_names_no_host_is_a_bad_request(
    tmp_path: Path, host: str
) -> None:
    """werkzeug cannot put these in IDNA form (an empty label, one over 63
    characters): found by tests/test_fuzz.py, it was HTTP 500 with no body
    and a traceback, before any route ran."""
    async with served(tmp_path / "host.db") as server:
        stream = await trio.open_tcp_stream("127.0.0.1", server.api.port)
        async with stream:
            request = f"GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n"
            await stream.send_all(request.encode())
            status, refused = await answer(stream)
        still = await server.api.call("GET", "/healthz")

    assert status.startswith(b"HTTP/1.1 400 ")
    assert refused["code"] == "bad_request"
    assert still[0] == 200


@pytest.mark.parametrize(
    ("path", "file"),
    [("/", "lobby.html"), ("/static/style.css", "style.css")],
)
async def test_a_range_from_the_end_of_a_page_gets_the_whole_page(
    tmp_path: Path, path: str, file: str
) -> None:
    """`Range: bytes=-5`: Quart passed the suffix's negative start on to
    werkzeug, whose ContentRange failed an assertion (found by
    tests/test_fuzz.py: HTTP 500 and a traceback)."""
    async with served(tmp_path / "range.db") as server:
        stream = await trio.open_tcp_stream("127.0.0.1", server.api.port)
        async with stream:
            request = (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nRange: bytes=-5\r\n\r\n"
            )
            await stream.send_all(request.encode())
            head, _, body = (await answer_head(stream)).partition(b"\r\n\r\n")
            length = re.search(rb"content-length: (\d+)", head, re.IGNORECASE)
            assert length is not None, head
            with trio.fail_after(STEP_S):
                # quart-trio keeps the connection open: read by Content-Length.
                while len(body) < int(length[1]):
                    body += await stream.receive_some()

    assert head.startswith(b"HTTP/1.1 200 ")
    assert body == (WEB_DIR / file).read_bytes()


@pytest.mark.parametrize("number", [2**63, 2**64 + 1, 2**70])
async def test_a_hand_number_beyond_sqlite_is_no_such_hand(
    tmp_path: Path, number: int
) -> None:
    async with served(tmp_path / "hands.db") as server:
        table, _ = await dealt_heads_up(server.api)
        status, refused = await server.api.call(
            "GET", f"/tables/{table}/hands/{number}"
        )
        phh_status, _ = await server.api.call(
            "GET", f"/tables/{table}/hands/{number}/phh"
        )
        listed = await server.api.call("GET", f"/tables/{table}/hands")

    assert (status, refused["code"]) == (404, "no_such_hand")
    assert phh_status == 404
    assert listed[0] == 200


@pytest.mark.parametrize(
    ("action", "amount", "code"),
    [
        pytest.param("call", -5, "amount_not_taken", id="a_call_with_a_negative"),
        pytest.param("call", 5, "amount_not_taken", id="a_call_with_an_amount"),
        pytest.param("fold", 0, "amount_not_taken", id="a_fold_with_an_amount"),
        pytest.param("all_in", 10, "amount_not_taken", id="an_all_in_with_one"),
        pytest.param("raise", -5, "invalid_amount", id="a_negative_raise"),
    ],
)
async def test_an_amount_the_action_does_not_take_is_refused_on_both_transports(
    tmp_path: Path, action: str, amount: int, code: str
) -> None:
    async with served(tmp_path / "amount.db") as server:
        table, tokens = await dealt_heads_up(server.api)
        before = await table_view(server.api, table)
        token = tokens[seat_to_act(before)]
        request = {"type": "act", "action": action, "amount": amount}
        async with live_client(server.live, table, token=token) as client:
            over_socket = await answer_to(client, {**request, "id": "a1"})
            await still_answers_pings(client)
        over_http = await server.api.call(
            "POST",
            f"/tables/{table}/requests",
            body={**request, "id": "a2"},
            token=token,
        )
        after = await table_view(server.api, table)

    assert (over_socket["code"], over_socket["id"]) == (code, "a1")
    assert (over_http[0], over_http[1]["code"]) == (409, code)
    assert after == before


@pytest.mark.parametrize(
    "other",
    [
        pytest.param({"type": "act", "action": "raise", "amount": 8}, id="a_raise"),
        pytest.param({"type": "act", "action": "all_in", "amount": None}, id="all_in"),
        pytest.param({"type": "leave"}, id="a_leave"),
    ],
)
async def test_a_request_id_reused_for_another_request_is_refused_on_both_transports(
    tmp_path: Path, other: dict[str, Any]
) -> None:
    async with served(tmp_path / "reuse.db") as server:
        table, tokens = await dealt_heads_up(server.api)
        seat = seat_to_act(await table_view(server.api, table))
        token = tokens[seat]
        async with live_client(server.live, table, token=token) as client:
            first = await client.act("rp-1", "call")
            applied = await table_view(server.api, table)
            over_socket = await answer_to(client, {**other, "id": "rp-1"})
            resent = await client.act("rp-1", "call")
            await still_answers_pings(client)
        over_http = await server.api.call(
            "POST",
            f"/tables/{table}/requests",
            body={**other, "id": "rp-1"},
            token=token,
        )
        after = await table_view(server.api, table)

    assert first["type"] == "ack"
    assert (over_socket["code"], over_socket["id"]) == ("id_reused", "rp-1")
    assert (over_http[0], over_http[1]["code"]) == (422, "id_reused")
    assert resent == first, "a resend of the same request gets its first answer"
    assert after["seats"] == applied["seats"]
    assert after["seq"] == applied["seq"]
