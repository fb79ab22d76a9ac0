"""Resuming a table, over the live socket and over long polls: one rule, one answer.

One real server (in a thread of this process, so that the backlog limit can
be made small) runs a table per transport, whose seat 0 was just reused;
Hypothesis resumes from random offsets, epochs and viewers, and checks what
comes back against the table's log as that viewer may see it: every missed
event once, then the next live batch, or a fresh view when the resume is not
recovered (`pokerd.tables.feed.resume_offset`).
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from served import (
    STEP_S,
    HttpApi,
    LiveClient,
    Served,
    live_client,
    log_as_seen_by,
    new_table,
    served,
    sit,
)

import pokerd.client.http
import pokerd.tables.feed
from pokerd.wire import codec

BACKLOG = 100
"""The backlog limit (MAX_BACKLOG) while this module's server runs: a few
hands' worth, so that resumes from too far behind are drawn often, and the
first examples' backlogs hold the previous player's deals in seat 0."""
EXAMPLES = int(os.environ.get("PROPERTY_EXAMPLES", "30"))
TRANSPORTS = ["websocket", "long_poll"]


@attrs.frozen
class PlayedTable:
    """The table the examples resume at, and who may watch it."""

    port: int
    """The HTTP API's (an example makes its own client: each runs its own Trio)."""
    live: str
    db: Path
    table: str
    epoch: str
    tokens: dict[int, str]
    """The seated players' tokens by seat (seat 0's player is its second)."""


def viewer_token(played: PlayedTable, viewer: int | None) -> str | None:
    return None if viewer is None else played.tokens[viewer]


async def table_view(api: HttpApi, table: str, token: str | None) -> dict[str, Any]:
    status, seen = await api.call("GET", f"/tables/{table}", token=token)
    assert status == 200, seen
    assert isinstance(seen, dict)
    return seen


async def settled(api: HttpApi, played: PlayedTable) -> dict[str, Any]:
    """The table's view once a player is to act: then nothing moves until
    they do (the next hand may still be on its way after the last)."""
    with trio.fail_after(STEP_S):
        while (seen := await table_view(api, played.table, None))["to_act"] is None:
            await trio.sleep(0.01)
    return seen


async def act_for_whoever_is_to_act(api: HttpApi, played: PlayedTable) -> int:
    """The seat to act checks or calls; the ack's seq."""
    seat = (await settled(api, played))["to_act"]
    token = played.tokens[seat]
    legal = (await table_view(api, played.table, token))["legal"]
    action = "check" if legal["check"] else "call"
    body = {"type": "act", "id": f"r-{os.urandom(6).hex()}", "action": action}
    status, ack = await api.call(
        "POST", f"/tables/{played.table}/requests", body=body, token=token
    )
    assert status == 200, ack
    return int(ack["seq"])


async def hands_played(api: HttpApi, played: PlayedTable, hands: int) -> None:
    while (await table_view(api, played.table, None))["hand"] <= hands:
        await act_for_whoever_is_to_act(api, played)


async def set_up_table(server: Served, db: Path) -> PlayedTable:
    """ann and bo play two hands; ann leaves during the third and cy takes
    her seat, then dan sits. No clock runs out meanwhile."""
    api = server.api
    table = await new_table(api, max_seats=3, action_clock_ms=600_000)
    ann = await sit(api, table, 0, "ann")
    bo = await sit(api, table, 1, "bo")
    seen = await table_view(api, table, None)
    played = PlayedTable(
        api.port, server.live, db, table, seen["epoch"], {0: ann, 1: bo}
    )
    await hands_played(api, played, 2)
    status, answer = await api.call(
        "POST",
        f"/tables/{table}/requests",
        body={"type": "leave", "id": "ann-leaves"},
        token=ann,
    )
    assert status == 200, answer
    with trio.fail_after(STEP_S):
        # ann plays the hand out as away, then goes; bo is left alone.
        while (seen := await table_view(api, table, None))["seats"][0] is not None:
            if seen["to_act"] is None:
                await trio.sleep(0.01)
            else:
                await act_for_whoever_is_to_act(api, played)
    cy = await sit(api, table, 0, "cy")
    dan = await sit(api, table, 2, "dan")
    return attrs.evolve(played, tokens={0: cy, 1: bo, 2: dan})


@pytest.fixture(scope="module")
def played_tables(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, PlayedTable]]:
    """A real server, in a thread with a Trio run of its own, running a table
    for each transport."""
    db = tmp_path_factory.mktemp("resume") / "resume.db"
    started: queue.Queue[
        tuple[dict[str, PlayedTable], trio.lowlevel.TrioToken, trio.Event]
    ]
    started = queue.Queue()
    failed: list[BaseException] = []

    async def serve_tables() -> None:
        async with served(db) as server:
            tables = {
                transport: await set_up_table(server, db) for transport in TRANSPORTS
            }
            stop = trio.Event()
            started.put((tables, trio.lowlevel.current_trio_token(), stop))
            await stop.wait()

    def run() -> None:
        try:
            trio.run(serve_tables)
        except BaseException as error:
            failed.append(error)
            raise

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pokerd.tables.feed, "MAX_BACKLOG", BACKLOG)
        thread = threading.Thread(target=run, name="resume-server", daemon=True)
        thread.start()
        try:
            tables, token, stop = started.get(timeout=STEP_S * 3)
        except queue.Empty:
            raise AssertionError(f"the server did not start: {failed}") from None
        try:
            yield tables
        finally:
            token.run_sync_soon(stop.set)
            thread.join(STEP_S)
    assert not failed


@attrs.frozen
class Resumed:
    """What a transport answered a resume: recovered or not, the table's seq
    it answered at, the events up to it, and the view that came with them
    (None: recovered with nothing missed)."""

    recovered: bool
    seq: int
    events: list[dict[str, Any]]
    view: dict[str, Any] | None


async def resume_by_socket(
    client: LiveClient, epoch: str, offset: int, viewer: int | None
) -> Resumed:
    welcome = client.received[0]
    assert welcome["type"] == "welcome"
    assert (welcome["epoch"], welcome["seat"]) == (epoch, viewer)
    if not welcome["recovered"] or welcome["seq"] > offset:
        await client.until_seq(welcome["seq"])
    first = client.received[1:]
    if not welcome["recovered"]:
        [snapshot] = first
        assert (snapshot["type"], snapshot["seq"]) == ("snapshot", welcome["seq"])
        return Resumed(False, welcome["seq"], [], snapshot["view"])
    assert all(m["type"] == "event" for m in first)
    view = first[-1]["view"] if first else None
    return Resumed(True, welcome["seq"], strip(first), view)


async def resume_by_polls(
    api: HttpApi, played: PlayedTable, token: str | None, epoch: str, offset: int
) -> Resumed:
    """Page through `GET /tables/{id}/events` from `offset` until a page
    carries the view (the table's seq reached)."""
    events: list[dict[str, Any]] = []
    after = offset
    while True:
        status, page = await api.call(
            "GET",
            f"/tables/{played.table}/events",
            token=token,
            query={"after": after, "epoch": epoch},
        )
        assert status == 200, page
        assert page["epoch"] == played.epoch
        if not page["recovered"]:
            assert not events, "a resume recovered on its first page stays so"
            assert page["events"] == []
            return Resumed(False, page["seq"], [], page["view"])
        events += page["events"]
        if not page["events"]:
            return Resumed(True, page["seq"], strip(events), None)
        if page["events"][-1]["view"] is not None:
            return Resumed(True, page["seq"], strip(events), page["events"][-1]["view"])
        assert page["seq"] == page["events"][-1]["seq"]
        after = page["seq"]


def strip(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"seq": m["seq"], "event": m["event"]} for m in messages]


def cards(view: dict[str, Any]) -> list[list[str] | None]:
    """Each seat's cards as the view shows them."""
    return [None if seat is None else seat["cards"] for seat in view["seats"]]


def expected_recovery(same_log: bool, offset: int, seq: int) -> bool:
    return same_log and 0 <= offset <= seq and seq - offset <= BACKLOG


WHERE = ["anywhere", "within the backlog", "the start", "the end", "ahead"]


def offset_at(where: str, draw: int, seq: int) -> int:
    """An offset `where` in a log whose last seq is `seq` (`draw` picks one:
    strategies must not depend on the table, which moves)."""
    if where == "anywhere":
        return draw % (seq + 1)
    if where == "within the backlog":
        return max(0, seq - draw % (BACKLOG + 1))
    return {"the start": 0, "the end": seq, "ahead": seq + 1_000}[where]


VIEWERS = [None, 0, 1, 2]


@pytest.mark.parametrize("transport", TRANSPORTS)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    viewer=st.sampled_from(VIEWERS),
    same_log=st.sampled_from([True, True, True, False]),
    where=st.sampled_from([*WHERE, "within the backlog"]),
    draw=st.integers(0, 10_000),
)
async def test_a_resume_gets_every_missed_event_once_then_live_or_starts_over(
    played_tables: dict[str, PlayedTable],
    transport: str,
    *,
    viewer: int | None,
    same_log: bool,
    where: str,
    draw: int,
) -> None:
    """`same_log`: the resume names the table's epoch, or another one."""
    played = played_tables[transport]
    api = HttpApi(played.port)
    token = viewer_token(played, viewer)
    seen = await settled(api, played)
    if token is not None:
        seen = await table_view(api, played.table, token)
    seq = seen["seq"]
    offset = offset_at(where, draw, seq)
    epoch = played.epoch if same_log else "another-log"

    with trio.fail_after(STEP_S):
        if transport == "websocket":
            async with live_client(
                played.live,
                played.table,
                token=token,
                resume={"epoch": epoch, "offset": offset},
            ) as client:
                resumed = await resume_by_socket(client, played.epoch, offset, viewer)
                acked = await act_for_whoever_is_to_act(api, played)
                await client.until_seq(acked)
                live = strip(client.events)[len(resumed.events) :]
        else:
            resumed = await resume_by_polls(api, played, token, epoch, offset)
            acked = await act_for_whoever_is_to_act(api, played)
            live = []
            while not live or live[-1]["seq"] < acked:
                after = live[-1]["seq"] if live else resumed.seq
                status, page = await api.call(
                    "GET",
                    f"/tables/{played.table}/events",
                    token=token,
                    query={"after": after, "wait": STEP_S, "epoch": played.epoch},
                )
                assert status == 200, page
                assert page["recovered"]
                live += strip(page["events"])

    log = log_as_seen_by(played.db, played.table, viewer)
    assert resumed.seq == seq, "the table did not move until the action"
    assert resumed.recovered == expected_recovery(same_log, offset, seq)
    if resumed.recovered:
        assert resumed.events == log[offset:seq]
    if resumed.view is None:
        assert resumed.recovered and offset == seq
    else:
        assert resumed.view["viewer"] == viewer
        assert cards(resumed.view) == cards(seen), "the cards this viewer may see"
    # Then the live events, from where the resume left off: none missed or
    # repeated at the seam.
    assert live[: acked - seq] == log[seq:acked]


async def test_reading_a_log_longer_than_the_backlog_gives_its_last_events(
    played_tables: dict[str, PlayedTable], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pokerd.client.http, "MAX_BACKLOG", BACKLOG)
    played = played_tables["long_poll"]
    api = HttpApi(played.port)
    with trio.fail_after(STEP_S):
        while (await settled(api, played))["seq"] <= BACKLOG + 10:
            await act_for_whoever_is_to_act(api, played)
    seq = (await settled(api, played))["seq"]

    found = await api.log(played.table, played.tokens[0], until=seq)

    log = log_as_seen_by(played.db, played.table, 0)
    assert [
        {"seq": item.seq, "event": codec.unstructure_event(item.event)}
        for item in found
    ] == log[seq - BACKLOG : seq]
