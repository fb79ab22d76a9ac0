"""Numbers a browser cannot hold, end to end: refused with a code, never played.

JavaScript's JSON.parse reads an integer exactly only up to 2**53 - 1
(Number.MAX_SAFE_INTEGER). A client's JSON carrying a larger one, over HTTP
or the live stream, does not decode (`bad_request`, `bad_message`); a table
config whose numbers fit the JSON but not a sane table is `invalid_config`
(docs/protocol.md, Numbers). Each case runs against a real server
(`served`), and the table is as it was after it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from served import live_client, new_table, served, sit
from test_live_input import (
    SPECTATOR_HELLO,
    answer_to,
    dealt_heads_up,
    seat_to_act,
    still_answers_pings,
    table_view,
)

from pokerd.engine.config import (
    MAX_ACTION_CLOCK_MS,
    MAX_CHIPS,
    MAX_SAFE_INTEGER,
    MAX_TIMEOUTS_BEFORE_SIT_OUT,
    MIN_ACTION_CLOCK_MS,
)

HUGE = 2**70
"""The issue's number: far beyond what JSON.parse holds exactly."""
CONFIG_FIELDS = [
    "max_seats",
    "small_blind",
    "big_blind",
    "ante",
    "big_blind_ante",
    "min_buy_in",
    "max_buy_in",
    "action_clock_ms",
    "timeouts_before_sit_out",
]


async def tables(api: Any) -> list[dict[str, Any]]:
    status, listed = await api.call("GET", "/tables")
    assert status == 200, listed
    assert isinstance(listed, list)
    return listed


async def test_a_table_config_number_beyond_2_53_is_a_bad_request(
    tmp_path: Path,
) -> None:
    refusals = {}
    async with served(tmp_path / "big.db") as server:
        for field in [*CONFIG_FIELDS, "straddles"]:
            for number in (HUGE, -HUGE, MAX_SAFE_INTEGER + 1):
                value: Any = [number] if field == "straddles" else number
                status, refused = await server.api.call(
                    "POST", "/tables", body={"max_seats": 6, field: value}
                )
                says_why = "2**53 - 1" in refused["message"]
                refusals[field, number] = (status, refused["code"], says_why)
        listed = await tables(server.api)

    assert set(refusals.values()) == {(400, "bad_request", True)}, refusals
    assert listed == []


@pytest.mark.parametrize(
    "config",
    [
        pytest.param(
            {"max_seats": 6, "max_buy_in": MAX_CHIPS // 6 + 1},
            id="max_buy_in_times_seats_over_the_chip_limit",
        ),
        pytest.param(
            {"max_seats": 2, "min_buy_in": MAX_CHIPS, "max_buy_in": MAX_CHIPS},
            id="a_buy_in_at_the_limit_with_two_seats",
        ),
        pytest.param(
            {"big_blind": MAX_CHIPS + 1, "small_blind": 1},
            id="a_big_blind_over_the_chip_limit",
        ),
        pytest.param(
            {"action_clock_ms": MAX_ACTION_CLOCK_MS + 1}, id="a_clock_over_an_hour"
        ),
        pytest.param(
            {"action_clock_ms": MIN_ACTION_CLOCK_MS - 1}, id="a_clock_too_short"
        ),
        pytest.param(
            {"timeouts_before_sit_out": MAX_TIMEOUTS_BEFORE_SIT_OUT + 1},
            id="too_many_timeouts_before_sit_out",
        ),
    ],
)
async def test_a_config_that_fits_json_but_not_a_table_is_invalid_config(
    tmp_path: Path, config: dict[str, Any]
) -> None:
    async with served(tmp_path / "big.db") as server:
        status, refused = await server.api.call("POST", "/tables", body=config)
        listed = await tables(server.api)

    if max(v for v in config.values() if isinstance(v, int)) > MAX_SAFE_INTEGER:
        assert (status, refused["code"]) == (400, "bad_request")
    else:
        assert (status, refused["code"]) == (409, "invalid_config")
    assert listed == []


async def test_the_largest_table_config_is_created_and_seats_everyone(
    tmp_path: Path,
) -> None:
    most = MAX_CHIPS // 3
    config = {
        "max_seats": 3,
        "small_blind": most // 4,
        "big_blind": most // 2,
        "min_buy_in": most,
        "max_buy_in": most,
        "action_clock_ms": MAX_ACTION_CLOCK_MS,
        "timeouts_before_sit_out": MAX_TIMEOUTS_BEFORE_SIT_OUT,
    }
    async with served(tmp_path / "big.db") as server:
        table = await new_table(server.api, **config)
        for seat, name in enumerate(("ann", "bo", "cy")):
            await sit(server.api, table, seat, name, buy_in=most)
        seen = await table_view(server.api, table)

    assert [seat["name"] for seat in seen["seats"]] == ["ann", "bo", "cy"]
    assert seen["config"]["max_buy_in"] == most


@pytest.mark.parametrize("number", [HUGE, MAX_SAFE_INTEGER + 1])
async def test_a_buy_in_beyond_2_53_is_a_bad_request(
    tmp_path: Path, number: int
) -> None:
    async with served(tmp_path / "big.db") as server:
        table = await new_table(server.api)
        status, refused = await server.api.call(
            "POST",
            f"/tables/{table}/seats",
            body={"seat": 0, "name": "ann", "buy_in": number},
        )
        seen = await table_view(server.api, table)

    assert (status, refused["code"]) == (400, "bad_request")
    assert seen["seats"][0] is None


@pytest.mark.parametrize(
    "request_",
    [
        pytest.param({"type": "act", "action": "raise", "amount": HUGE}, id="a_raise"),
        pytest.param({"type": "top_up", "amount": HUGE}, id="a_top_up"),
    ],
)
async def test_an_amount_beyond_2_53_is_refused_on_both_transports(
    tmp_path: Path, request_: dict[str, Any]
) -> None:
    async with served(tmp_path / "big.db") as server:
        table, tokens = await dealt_heads_up(server.api)
        before = await table_view(server.api, table)
        token = tokens[seat_to_act(before)]
        async with live_client(server.live, table, token=token) as client:
            over_socket = await answer_to(client, {**request_, "id": "h1"})
            await still_answers_pings(client)
        over_http = await server.api.call(
            "POST",
            f"/tables/{table}/requests",
            body={**request_, "id": "h2"},
            token=token,
        )
        after = await table_view(server.api, table)

    assert (over_socket["code"], over_socket["id"]) == ("bad_message", "h1")
    assert (over_http[0], over_http[1]["code"]) == (400, "bad_request")
    assert after == before


async def test_a_resume_offset_beyond_2_53_is_a_bad_message_and_a_hello_still_works(
    tmp_path: Path,
) -> None:
    async with served(tmp_path / "big.db") as server:
        table = await new_table(server.api)
        epoch = (await table_view(server.api, table))["epoch"]
        async with live_client(server.live, table, hello=False) as client:
            resume = {"epoch": epoch, "offset": HUGE}
            refused = await answer_to(client, {**SPECTATOR_HELLO, "resume": resume})
            await client.send(SPECTATOR_HELLO)
            welcome = await client.receive()

    assert refused["code"] == "bad_message"
    assert welcome["type"] == "welcome"


@pytest.mark.parametrize("after", [str(HUGE), str(MAX_SAFE_INTEGER + 1), "-1"])
async def test_an_events_offset_outside_0_to_2_53_is_a_bad_request(
    tmp_path: Path, after: str
) -> None:
    async with served(tmp_path / "big.db") as server:
        table = await new_table(server.api)
        status, refused = await server.api.call(
            "GET", f"/tables/{table}/events", query={"after": after}
        )

    assert (status, refused["code"]) == (400, "bad_request")
    assert "after" in refused["message"]
