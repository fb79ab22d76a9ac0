"""Closing a table over HTTP, against a real server on a real socket: the
creator's token closes it, the hand being played finishes, every player is
cashed out in the log, and the table leaves the lobby list but stays readable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trio
from served import STEP_S, HttpApi, live_client, served, sit

from pokerd.client import HttpError
from pokerd.wire.protocol import CloseCode

SLOW_CLOCK = {"max_seats": 6, "action_clock_ms": 600_000}
"""The hand waits for its players (the clock would end it in ten minutes)."""


async def create(api: HttpApi, **config: Any) -> tuple[str, str]:
    status, created = await api.call("POST", "/tables", body=config)
    assert status == 201, created
    assert set(created) == {"table", "epoch", "creator_token"}
    return str(created["table"]), str(created["creator_token"])


async def lobby(api: HttpApi) -> list[str]:
    status, tables = await api.call("GET", "/tables")
    assert status == 200
    return [table["table"] for table in tables]


async def event_types(api: HttpApi, table: str) -> list[str]:
    page = await api.events(table, None, after=0)
    return [message["event"]["type"] for message in page["events"]]


async def wait_closed(api: HttpApi, table: str) -> dict[str, Any]:
    """The table's view once it says it is closed (long polls in between)."""
    with trio.fail_after(STEP_S):
        while True:
            status, seen = await api.call("GET", f"/tables/{table}")
            assert status == 200, seen
            if seen["closed"]:
                return dict(seen)
            await api.events(table, None, after=int(seen["seq"]), wait=1)


async def test_closing_mid_hand_lets_it_finish_then_cashes_out_and_delists(
    tmp_path: Path,
) -> None:
    async with served(tmp_path / "close.db") as server:
        api = server.api
        table, creator = await create(api, **SLOW_CLOCK)
        tokens = [await sit(api, table, 0, "ann"), await sit(api, table, 1, "bo")]
        assert table in await lobby(api)
        with trio.fail_after(STEP_S):  # the first hand is dealt at once
            while not (await api.json("GET", f"/tables/{table}"))["hand_in_progress"]:
                await trio.sleep(0.01)

        board = await api.json("GET", "/lobby")
        status, closing = await api.call(
            "POST", f"/tables/{table}/close", token=creator
        )
        assert status == 200, closing
        assert closing["table"] == table and closing["closed"] is False
        assert table not in await lobby(api)
        # A lobby page following the board is told the table went.
        after = f"lobby={board['lobby']}&after={board['version']}&wait=0"
        changes = await api.json("GET", f"/lobby?{after}")
        assert table in changes["removed"], changes
        status, refused = await api.call(
            "POST",
            f"/tables/{table}/seats",
            body={"seat": 2, "name": "cy", "buy_in": 100},
        )
        assert (status, refused["code"]) == (409, "table_closing")
        status, again = await api.call("POST", f"/tables/{table}/close", token=creator)
        assert (status, again["code"]) == (409, "already_closing")
        assert not (await api.json("GET", f"/tables/{table}"))["closed"]

        # The hand plays on until its players end it: heads-up, one fold.
        to_act = (await api.json("GET", f"/tables/{table}"))["to_act"]
        fold = {"type": "act", "id": "f", "action": "fold", "amount": None}
        await api.json(
            "POST", f"/tables/{table}/requests", token=tokens[to_act], body=fold
        )
        closed = await wait_closed(api, table)
        assert closed["seats"] == [None] * 6
        types = await event_types(api, table)
        closing_at = types.index("table_closing")
        assert types[-3:] == ["player_left", "player_left", "table_closed"]
        assert "hand_ended" in types[closing_at:]
        assert "hand_started" not in types[closing_at:]  # and no hand after it

        # Its hand history stays readable; its seats' tokens hold nothing now.
        hands = await api.json("GET", f"/tables/{table}/hands")
        assert [hand["hand"] for hand in hands] == [1]
        status, gone = await api.call(
            "POST",
            f"/tables/{table}/requests",
            token=tokens[0],
            body={"type": "leave", "id": "x"},
        )
        assert (status, gone["code"]) == (401, "bad_token")
        status, again = await api.call("POST", f"/tables/{table}/close", token=creator)
        assert (status, again["code"]) == (409, "table_closed")


async def test_only_the_creator_token_closes_a_table(tmp_path: Path) -> None:
    async with served(tmp_path / "close.db") as server:
        api = server.api
        table, creator = await create(api, max_seats=2)
        seat_token = await sit(api, table, 0, "ann")
        _, other_creator = await create(api, max_seats=2)

        for token in (seat_token, other_creator, "not a token"):
            status, refused = await api.call(
                "POST", f"/tables/{table}/close", token=token
            )
            assert (status, refused["code"]) == (403, "not_creator"), token
        status, refused = await api.call("POST", f"/tables/{table}/close")
        assert (status, refused["code"]) == (401, "bad_token")
        status, refused = await api.call("POST", "/tables/nope/close", token=creator)
        assert (status, refused["code"]) == (404, "no_such_table")
        assert table in await lobby(api)  # none of that closed it


async def test_a_table_with_no_hand_closes_at_once_and_stays_closed_after_a_restart(
    tmp_path: Path,
) -> None:
    db = tmp_path / "close.db"
    async with served(db) as server:
        api = server.api
        created = await api.new_table(max_seats=3)
        await sit(api, created.table, 1, "ann", buy_in=150)
        closed = await api.close_table(created.table, created.creator_token)
        assert closed["closed"] is True
        types = await event_types(api, created.table)
        assert types == [
            "table_created",
            "player_seated",
            "player_left",
            "table_closed",
        ]
        page = await api.events(created.table, None, after=0)
        left = page["events"][2]["event"]
        assert (left["seat"], left["stack"]) == (1, 150)
        created_event = page["events"][0]["event"]
        assert created_event["creator_hash"] == ""  # a viewer never sees it
        try:
            await api.close_table(created.table, created.creator_token)
        except HttpError as error:
            assert error.status == 409
        else:
            raise AssertionError("a closed table was closed again")

    async with served(db) as server:
        api = server.api
        assert created.table not in await lobby(api)
        view = await api.json("GET", f"/tables/{created.table}")
        assert view["closed"] is True and view["seats"] == [None] * 3
        status, refused = await api.call(
            "POST",
            f"/tables/{created.table}/seats",
            body={"seat": 0, "name": "bo", "buy_in": 100},
        )
        assert (status, refused["code"]) == (409, "table_closed")


async def test_a_closed_tables_streams_end_as_for_a_table_that_is_gone(
    tmp_path: Path,
) -> None:
    db = tmp_path / "close.db"
    async with served(db) as server:
        api = server.api
        table, creator = await create(api, max_seats=3, action_clock_ms=600_000)
        ann = await sit(api, table, 0, "ann")
        async with (
            live_client(server.live, table) as watcher,
            live_client(server.live, table, token=ann) as player,
        ):
            for socket in (watcher, player):
                await socket.receive()  # the snapshot
            status, closing = await api.call(
                "POST", f"/tables/{table}/close", token=creator
            )
            assert (status, closing["closed"]) == (200, True)
            ends = []
            for socket in (watcher, player):
                await socket.until_event("table_closed")
                error = await socket.receive()
                ends.append((error["type"], error["code"], await socket.closed()))
            # The last view says the table is closed, before the close.
            assert watcher.view()["closed"] is True
        assert ends == [("error", "table_closed", CloseCode.TABLE_GONE)] * 2

        # Joining a closed table: its view, then the same end.
        async with live_client(server.live, table) as late:
            snapshot = await late.receive()
            assert snapshot["type"] == "snapshot" and snapshot["view"]["closed"]
            error = await late.receive()
            assert (error["code"], await late.closed()) == (
                "table_closed",
                CloseCode.TABLE_GONE,
            )
        # A long poll of a closed table answers at once: nothing will come.
        seq = closing["seq"]
        with trio.fail_after(STEP_S / 2):
            page = await api.events(table, None, after=seq, wait=STEP_S)
        assert page["events"] == [] and page["recovered"]

    # And so after a restart.
    async with served(db) as server, live_client(server.live, table) as late:
        snapshot = await late.receive()
        assert snapshot["view"]["closed"]
        error = await late.receive()
        assert (error["code"], await late.closed()) == (
            "table_closed",
            CloseCode.TABLE_GONE,
        )
