"""The lobby: table names, each table's line, its changes by long poll, the pages
around it (the icon, the page for a table that is not there)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trio
import trio.testing
from test_server_http import (
    STEP_S,
    TestApi,
    api,
    dealt_heads_up,
    new_table,
    play_out_the_hand,
    sit,
)

from pokerd.engine import SitDown, TableConfig, TableCreated
from pokerd.engine.evolve import fold
from pokerd.store import EventStore, load_table
from pokerd.store.reader import HandResult
from pokerd.tables.lobby import IDLE_GAP_MS, Lobby, LobbyLine
from pokerd.tables.table import Table

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


async def lobby(caller: TestApi, **query: Any) -> dict[str, Any]:
    status, answer = await caller.call("GET", "/lobby", query=query)
    assert status == 200, answer
    return dict(answer)


def line_of(answer: dict[str, Any], table: str) -> dict[str, Any]:
    [line] = [line for line in answer["tables"] if line["table"] == table]
    return dict(line)


# Names


async def test_a_table_given_no_name_is_numbered_in_creation_order(
    tmp_path: Path,
) -> None:
    async with api(tmp_path) as client:
        first = await new_table(client)
        named = await new_table(client, name="  High rollers ")
        third = await new_table(client, name=" ")
        status, tables = await client.call("GET", "/tables")

    names = {line["table"]: line["config"]["name"] for line in tables}
    assert status == 200
    assert names == {first: "Table 1", named: "High rollers", third: "Table 3"}


async def test_a_name_too_long_is_refused_with_the_rule(tmp_path: Path) -> None:
    async with api(tmp_path) as client:
        status, refused = await client.call("POST", "/tables", body={"name": "x" * 41})

    assert (status, refused["code"]) == (409, "invalid_config")
    assert refused["message"] == "a table's name is at most 40 printable characters"


async def test_an_empty_number_field_is_named_in_words(tmp_path: Path) -> None:
    # What the lobby's form sent for an empty buy-in field before it checked.
    async with api(tmp_path) as client:
        status, refused = await client.call(
            "POST", "/tables", body={"max_seats": 6, "min_buy_in": None}
        )

    assert (status, refused["code"]) == (400, "bad_request")
    assert refused["message"] == "min_buy_in: expected a whole number, got null"


# The lobby's lines and their changes


async def test_the_lobby_starts_whole_then_says_only_what_changed(
    tmp_path: Path,
) -> None:
    async with api(tmp_path) as client:
        quiet = await new_table(client, small_blind=5, big_blind=10)
        busy = await new_table(client)
        whole = await lobby(client)
        got: list[dict[str, Any]] = []

        async def poll() -> None:
            query = {"lobby": whole["lobby"], "after": whole["version"], "wait": 30}
            got.append(await lobby(client, **query))

        with trio.fail_after(STEP_S):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(poll)
                await trio.testing.wait_all_tasks_blocked()
                assert got == [], "nothing changed: the poll waits"
                await sit(client, busy, 2, "ann")
        again = await lobby(client, lobby=whole["lobby"], after=got[0]["version"])

    assert whole["whole"] is True
    assert line_of(whole, quiet) == {
        "table": quiet,
        "config": line_of(whole, quiet)["config"],
        "seats_taken": 0,
        "spectators": 0,
        "hands_played": 0,
        "average_pot": None,
        "hands_per_hour": None,
        "status": "open",
    }
    assert line_of(whole, quiet)["config"]["big_blind"] == 10
    [changed] = got
    assert changed["whole"] is False
    assert changed["version"] > whole["version"]
    assert [line["table"] for line in changed["tables"]] == [busy]
    assert line_of(changed, busy)["seats_taken"] == 1
    assert (again["tables"], again["removed"]) == ([], [])


async def test_another_boards_version_gets_the_whole_board(tmp_path: Path) -> None:
    async with api(tmp_path) as client:
        table = await new_table(client)
        answer = await lobby(client, lobby="from-before-a-restart", after=7)

    assert answer["whole"] is True
    assert [line["table"] for line in answer["tables"]] == [table]


async def test_a_finished_hand_gives_the_average_pot_and_comes_back_after_a_restart(
    tmp_path: Path,
) -> None:
    async with api(tmp_path) as client:
        table, tokens = await dealt_heads_up(client)
        await play_out_the_hand(client, table, tokens)
        whole = await lobby(client)
        _, hands = await client.call("GET", f"/tables/{table}/hands")
    # Another server on the same log reads the line from it.
    async with api(tmp_path) as client:
        reloaded = await lobby(client)

    pot = sum(pot["amount"] for pot in hands[0]["summary"]["pots"])
    line = line_of(whole, table)
    assert pot > 0
    assert (line["hands_played"], line["average_pot"]) == (1, pot)
    assert line["hands_per_hour"] is None, "one hand has no pace"
    assert line_of(reloaded, table)["average_pot"] == pot
    assert line_of(reloaded, table)["hands_played"] == 1


async def test_a_table_its_supervisor_stopped_is_marked_stopped(
    tmp_path: Path,
) -> None:
    async with api(tmp_path) as client:
        live = await new_table(client)
        table = await new_table(client)
        await sit(client, table, 0, "ann")
        before = await lobby(client)
        # Another writer appends to the table's log behind the service's back:
        # its next append conflicts, and the supervisor stops the table.
        with EventStore(tmp_path / "pokerd.db", claim=False) as intruder_store:
            loaded = await intruder_store.read(load_table, table)
            intruder = Table(table, intruder_store, loaded)
            await intruder.execute(SitDown(seat=5, name="eve", buy_in=100))
        refused, _ = await client.call(
            "POST",
            f"/tables/{table}/seats",
            body={"seat": 1, "name": "bo", "buy_in": 100},
        )
        changed = await lobby(client, lobby=before["lobby"], after=before["version"])
        status, tables = await client.call("GET", "/tables")

    assert refused == 503
    assert line_of(before, table)["status"] == "open"
    assert [line["table"] for line in changed["tables"]] == [table]
    assert line_of(changed, table)["status"] == "stopped"
    assert status == 200
    statuses = {line["table"]: line["status"] for line in tables}
    assert statuses == {live: "open", table: "stopped"}


def test_the_pace_is_taken_from_the_times_between_hands_leaving_idle_waits_out() -> (
    None
):
    line = LobbyLine("t", config=None)  # type: ignore[arg-type]
    minute = 60_000
    line.add_hands(
        [
            HandResult(hand=1, ended_at=0, pot=10),
            HandResult(hand=2, ended_at=minute, pot=20),
            HandResult(hand=3, ended_at=2 * minute, pot=30),
            # The table stood idle, then played on at the same pace.
            HandResult(hand=4, ended_at=2 * minute + IDLE_GAP_MS + 1, pot=40),
            HandResult(hand=5, ended_at=3 * minute + IDLE_GAP_MS + 1, pot=50),
        ]
    )

    assert line.hands_per_hour() == 60
    assert line.average_pot() == 30


def test_a_line_keeps_the_latest_hands_once_each() -> None:
    line = LobbyLine("t", config=None)  # type: ignore[arg-type]
    hands = [HandResult(hand=n, ended_at=n * 1000, pot=n) for n in range(1, 31)]

    assert line.add_hands(hands) is True
    assert line.add_hands(hands[-5:]) is False, "hands known already change nothing"
    assert sorted(line.recent) == list(range(11, 31))
    assert line.average_pot() == round(sum(range(11, 31)) / 20)


# The pages around the lobby


async def test_an_unknown_table_asked_for_by_a_browser_gets_a_404_page(
    tmp_path: Path,
) -> None:
    async with api(tmp_path) as client:
        page = await client.client.get("/tables/nope", headers=HTML)
        text = await page.get_data(as_text=True)
        status, error = await client.call("GET", "/tables/nope")

    assert page.status_code == 404
    assert page.mimetype == "text/html"
    assert "Content-Security-Policy" in page.headers
    assert 'href="/"' in text and "No table here" in text
    assert (status, error["code"]) == (404, "no_such_table")


async def test_the_icon_is_served_with_its_type_and_kept_a_day(tmp_path: Path) -> None:
    async with api(tmp_path) as client:
        icon = await client.client.get("/favicon.ico")
        data = await icon.get_data()

    assert icon.status_code == 200
    assert icon.mimetype == "image/vnd.microsoft.icon"
    assert icon.headers["X-Content-Type-Options"] == "nosniff"
    assert icon.cache_control.max_age == 86_400
    assert icon.cache_control.public
    assert data[:4] == b"\x00\x00\x01\x00", "an ICO file"
    assert b"PNG" in data[:64]


def test_a_table_removed_from_the_board_is_named_in_the_next_changes() -> None:
    # For a table closed for good: its line goes, and clients are told.
    state = fold([TableCreated(config=TableConfig(name="Table 1"))])
    board = Lobby()
    board.merge("t1", state, [], stopped=None)
    board.merge("t2", state, [], stopped=None)
    seen = board.version

    board.remove("t1")

    changes = board.since(seen)
    assert (changes["tables"], changes["removed"]) == ([], ["t1"])
    assert [line["table"] for line in board.whole()["tables"]] == ["t2"]
