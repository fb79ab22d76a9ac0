"""The HTTP API: tables, seats, requests by token, events and long polls, `serve`.

Most tests go through Quart's test client against a real SQLite file; the
last ones start `pokerd serve` as a process and speak HTTP/1.1 to it. Tables
run on the wall clock with a long pause between hands, so a test plays hand 1
alone (the first hand is dealt as soon as two players sit).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol, cast

import pytest
import trio
from quart.testing import QuartClient
from served import pokerd_serve, stop

from pokerd.cli import main
from pokerd.engine import ActionTaken, HandStarted, PlayerSeated, SitDown
from pokerd.ops.settings import Database, is_postgresql
from pokerd.server import PokerService, create_app
from pokerd.server import service as service_module
from pokerd.store import EventStore, load_table, read_events
from pokerd.tables.table import Table
from pokerd.tables.tokens import token_hash
from pokerd.wire import codec

NO_NEXT_HAND_MS = 600_000
BODY_LIMIT = 2_048
STEP_S = 20
"""Bound on each test's waiting: generous, never expected."""


class Caller(Protocol):
    async def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        raw: bytes | None = None,
        token: str | None = None,
        query: dict[str, Any] | None = None,
    ) -> tuple[int, Any]: ...


class TestApi:
    """Calls through Quart's test client: (status, decoded JSON or text)."""

    __test__ = False

    def __init__(self, client: QuartClient, service: PokerService) -> None:
        self.client = client
        self.service = service

    async def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        raw: bytes | None = None,
        token: str | None = None,
        query: dict[str, Any] | None = None,
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        data = raw if raw is not None or body is None else json.dumps(body).encode()
        response = await self.client.open(
            path, method=method, headers=headers, data=data, query_string=query
        )
        text = await response.get_data(as_text=True)
        if response.content_type.startswith("application/json"):
            return response.status_code, json.loads(text)
        return response.status_code, text


@asynccontextmanager
async def api(tmp_path: Path) -> AsyncIterator[TestApi]:
    with EventStore(tmp_path / "pokerd.db") as store:
        service = PokerService(store, next_hand_delay_ms=NO_NEXT_HAND_MS)
        async with trio.open_nursery() as nursery:
            await nursery.start(service.run)
            app = create_app(service, max_body_bytes=BODY_LIMIT)
            async with app.test_app() as test_app:
                yield TestApi(cast(QuartClient, test_app.test_client()), service)
            nursery.cancel_scope.cancel()


# Helpers, for the test client and the real server alike.


async def new_table(caller: Caller, **config: Any) -> str:
    status, created = await caller.call(
        "POST", "/tables", body={"max_seats": 6, **config}
    )
    assert status == 201, created
    return str(created["table"])


async def sit(caller: Caller, table: str, seat: int, name: str) -> str:
    status, seated = await caller.call(
        "POST",
        f"/tables/{table}/seats",
        body={"seat": seat, "name": name, "buy_in": 100},
    )
    assert status == 201, seated
    return str(seated["token"])


async def events_until(
    caller: Caller, table: str, kind: str, *, token: str | None = None
) -> list[dict[str, Any]]:
    """Every event message from the start up to the first of `kind` (long polls)."""
    received: list[dict[str, Any]] = []
    after = 0
    with trio.fail_after(STEP_S):
        while True:
            status, page = await caller.call(
                "GET",
                f"/tables/{table}/events",
                token=token,
                query={"after": after, "wait": 5},
            )
            assert status == 200, page
            for message in page["events"]:
                received.append(message)
                if message["event"]["type"] == kind:
                    return received
            after = page["seq"]


async def table_view(caller: Caller, table: str, token: str | None) -> dict[str, Any]:
    status, seen = await caller.call("GET", f"/tables/{table}", token=token)
    assert status == 200, seen
    return cast(dict[str, Any], seen)


async def act(
    caller: Caller,
    table: str,
    token: str,
    request_id: str,
    action: str,
    *,
    amount: int | None = None,
) -> tuple[int, Any]:
    body = {"type": "act", "id": request_id, "action": action, "amount": amount}
    return await caller.call(
        "POST", f"/tables/{table}/requests", body=body, token=token
    )


async def dealt_heads_up(caller: Caller) -> tuple[str, dict[int, str]]:
    """A table with seats 0 and 1 taken and hand 1 dealt; the tokens by seat."""
    table = await new_table(caller)
    tokens = {
        0: await sit(caller, table, 0, "ann"),
        1: await sit(caller, table, 1, "bo"),
    }
    await events_until(caller, table, "hand_dealt")
    return table, tokens


async def play_out_the_hand(caller: Caller, table: str, tokens: dict[int, str]) -> int:
    """Check or call for whoever is to act until hand 1 ends; the actions taken."""
    actions = 0
    with trio.fail_after(STEP_S):
        while True:
            seen = await table_view(caller, table, None)
            if seen["hand"] != 1 or not seen["hand_in_progress"]:
                return actions
            seat = seen["to_act"]
            legal = (await table_view(caller, table, tokens[seat]))["legal"]
            action = "check" if legal["check"] else "call"
            status, answer = await act(
                caller, table, tokens[seat], f"a{actions}", action
            )
            assert status == 200, answer
            actions += 1


def subscribers(service: PokerService, table: str) -> int:
    """The table's subscribers now (0 before the service opened the table)."""
    served = service.served(table)
    return 0 if served is None else served.hub.statistics().subscribers


def seat_to_act(seen: dict[str, Any]) -> int:
    seat = seen["to_act"]
    assert isinstance(seat, int)
    return seat


# Tables and seats


async def test_health_says_ok_and_counts_the_running_tables(tmp_path: Path) -> None:
    async with api(tmp_path) as client:
        await new_table(client)
        status, health = await client.call("GET", "/healthz")

    assert status == 200
    # The stream shares the API's port: it is where the caller reached the API.
    assert health == {"ok": True, "tables": 1, "live": "ws://localhost"}


async def test_a_created_table_is_listed_with_its_config_seats_taken_and_hands(
    tmp_path: Path,
) -> None:
    async with api(tmp_path) as client:
        table = await new_table(client, big_blind=4, small_blind=2)
        await sit(client, table, 3, "ann")
        status, tables = await client.call("GET", "/tables")

    assert status == 200
    (listed,) = tables
    assert listed["table"] == table
    assert listed["config"]["big_blind"] == 4
    assert listed["seats_taken"] == 1
    assert listed["hands_played"] == 0


async def test_a_table_config_with_an_unknown_key_is_a_bad_request(
    tmp_path: Path,
) -> None:
    async with api(tmp_path) as client:
        status, refused = await client.call("POST", "/tables", body={"blinds": 2})
        _, tables = await client.call("GET", "/tables")

    assert status == 400
    assert refused["type"] == "error"
    assert refused["code"] == "bad_request"
    assert "blinds" in refused["message"]
    assert tables == []


async def test_an_unplayable_table_config_is_refused_with_the_rule_code(
    tmp_path: Path,
) -> None:
    async with api(tmp_path) as client:
        status, refused = await client.call("POST", "/tables", body={"max_seats": 1})

    assert status == 409
    assert refused["code"] == "invalid_config"


async def test_sitting_down_hands_out_a_token_and_only_its_hash_is_logged(
    tmp_path: Path,
) -> None:
    async with api(tmp_path) as client:
        table = await new_table(client)
        status, seated = await client.call(
            "POST",
            f"/tables/{table}/seats",
            body={"seat": 2, "name": "ann", "buy_in": 100},
        )
        logged = read_events(client.service.store.reader(), table)
        published = await events_until(client, table, "player_seated")

    assert status == 201
    assert seated["seat"] == 2
    assert seated["seq"] == 2
    (seating,) = [s.event for s in logged if isinstance(s.event, PlayerSeated)]
    assert seating.token_hash == token_hash(seated["token"])
    assert seated["token"] not in json.dumps(codec.unstructure(seating))
    assert published[-1]["event"]["token_hash"] == ""


async def test_a_seat_that_is_taken_is_refused_with_the_rule_code(
    tmp_path: Path,
) -> None:
    async with api(tmp_path) as client:
        table = await new_table(client)
        await sit(client, table, 0, "ann")
        status, refused = await client.call(
            "POST",
            f"/tables/{table}/seats",
            body={"seat": 0, "name": "bo", "buy_in": 100},
        )

    assert status == 409
    assert refused["code"] == "seat_taken"


async def test_an_unknown_table_is_not_found_on_every_route(tmp_path: Path) -> None:
    async with api(tmp_path) as client:
        answers = [
            await client.call("GET", "/tables/nope"),
            await client.call("GET", "/tables/nope/events"),
            await client.call("GET", "/tables/nope/hands"),
            await client.call("GET", "/tables/nope/hands/1"),
            await client.call("GET", "/tables/nope/hands/1/phh"),
            await client.call(
                "POST",
                "/tables/nope/seats",
                body={"seat": 0, "name": "ann", "buy_in": 100},
            ),
            await act(client, "nope", "some-token", "c1", "check"),
        ]

    for status, refused in answers:
        assert status == 404
        assert refused["code"] == "no_such_table"


async def test_an_unknown_route_answers_a_json_error(tmp_path: Path) -> None:
    async with api(tmp_path) as client:
        status, refused = await client.call("GET", "/nowhere")

    assert status == 404
    assert refused["type"] == "error"
    assert refused["code"] == "not_found"


# Playing through requests


async def test_players_act_through_requests_until_the_hand_ends(
    tmp_path: Path,
) -> None:
    async with api(tmp_path) as client:
        table, tokens = await dealt_heads_up(client)
        actions = await play_out_the_hand(client, table, tokens)
        status, hands = await client.call("GET", f"/tables/{table}/hands")
        _, listed = await client.call("GET", "/tables")

    assert actions >= 4  # pre-flop call and check, then a check each street
    assert status == 200
    (summary,) = hands
    assert summary["hand"] == 1
    assert {seat["name"] for seat in summary["summary"]["seats"]} == {"ann", "bo"}
    assert "hole_cards" not in summary
    assert "phh" not in summary
    assert listed[0]["hands_played"] == 1


async def test_the_acknowledgement_names_the_last_event_the_request_caused(
    tmp_path: Path,
) -> None:
    async with api(tmp_path) as client:
        table, tokens = await dealt_heads_up(client)
        seat = seat_to_act(await table_view(client, table, None))
        status, ack = await act(client, table, tokens[seat], "c1", "call")
        seq = (await table_view(client, table, None))["seq"]

    assert status == 200
    assert ack == {"id": "c1", "seq": seq, "type": "ack"}


async def test_a_finished_hand_shows_each_holder_their_own_cards_only(
    tmp_path: Path,
) -> None:
    async with api(tmp_path) as client:
        table, tokens = await dealt_heads_up(client)
        deal = (await events_until(client, table, "hand_dealt", token=tokens[0]))[-1]
        await play_out_the_hand(client, table, tokens)
        _, as_ann = await client.call(
            "GET", f"/tables/{table}/hands/1", token=tokens[0]
        )
        _, as_bo = await client.call("GET", f"/tables/{table}/hands/1", token=tokens[1])
        _, as_anyone = await client.call("GET", f"/tables/{table}/hands/1")
        status, phh = await client.call("GET", f"/tables/{table}/hands/1/phh")
        missing, _ = await client.call("GET", f"/tables/{table}/hands/2")

    assert as_ann["hole_cards"] == deal["event"]["hole_cards"]
    assert len(as_bo["hole_cards"]) == 2
    assert as_bo["hole_cards"] != as_ann["hole_cards"]
    assert as_anyone["hole_cards"] == []
    assert as_anyone["summary"] == as_ann["summary"]
    assert status == 200
    assert isinstance(phh, str)
    assert 'variant = "NT"' in phh
    assert missing == 404


async def test_a_token_of_another_table_acts_for_no_seat_here(tmp_path: Path) -> None:
    async with api(tmp_path) as client:
        table, _ = await dealt_heads_up(client)
        other = await new_table(client)
        stranger = await sit(
            client, other, seat_to_act(await table_view(client, table, None)), "cy"
        )
        status, refused = await act(client, table, stranger, "c1", "call")

    assert status == 401
    assert refused["code"] == "bad_token"


async def test_a_request_without_a_token_is_refused(tmp_path: Path) -> None:
    async with api(tmp_path) as client:
        table, _ = await dealt_heads_up(client)
        status, refused = await client.call(
            "POST",
            f"/tables/{table}/requests",
            body={"type": "act", "id": "c1", "action": "call"},
        )
        bad_scheme = await client.client.open(
            f"/tables/{table}/requests",
            method="POST",
            headers={"Authorization": "Basic YW5uOmFubg=="},
            data=b'{"type": "act", "id": "c1", "action": "call"}',
        )

    assert status == 401
    assert refused["code"] == "bad_token"
    assert bad_scheme.status_code == 401


async def test_acting_out_of_turn_is_refused_with_not_your_turn(
    tmp_path: Path,
) -> None:
    async with api(tmp_path) as client:
        table, tokens = await dealt_heads_up(client)
        waiting = 1 - seat_to_act(await table_view(client, table, None))
        status, refused = await act(client, table, tokens[waiting], "c1", "check")

    assert status == 409
    assert refused["code"] == "not_your_turn"
    assert refused["id"] == "c1"


async def test_a_raise_below_the_minimum_is_refused_with_bet_below_minimum(
    tmp_path: Path,
) -> None:
    async with api(tmp_path) as client:
        table, tokens = await dealt_heads_up(client)
        seat = seat_to_act(await table_view(client, table, None))
        legal = (await table_view(client, table, tokens[seat]))["legal"]
        status, refused = await act(
            client, table, tokens[seat], "c1", "raise", amount=legal["min_raise_to"] - 1
        )

    assert status == 409
    assert refused["code"] == "bet_below_minimum"


async def test_malformed_json_is_a_bad_request(tmp_path: Path) -> None:
    async with api(tmp_path) as client:
        table, tokens = await dealt_heads_up(client)
        status, refused = await client.call(
            "POST", f"/tables/{table}/requests", raw=b'{"type": "act",', token=tokens[0]
        )

    assert status == 400
    assert refused["code"] == "bad_request"
    assert "not JSON" in refused["message"]


async def test_a_field_of_the_wrong_type_is_a_bad_request(tmp_path: Path) -> None:
    async with api(tmp_path) as client:
        table, tokens = await dealt_heads_up(client)
        seat = seat_to_act(await table_view(client, table, None))
        status, refused = await client.call(
            "POST",
            f"/tables/{table}/requests",
            body={"type": "act", "id": "c1", "action": "raise", "amount": "lots"},
            token=tokens[seat],
        )

    assert status == 400
    assert refused["code"] == "bad_request"
    assert "amount" in refused["message"]


async def test_an_unknown_request_type_is_a_bad_request(tmp_path: Path) -> None:
    async with api(tmp_path) as client:
        table, tokens = await dealt_heads_up(client)
        status, refused = await client.call(
            "POST",
            f"/tables/{table}/requests",
            body={"type": "sit_down", "id": "c1", "seat": 4},
            token=tokens[0],
        )

    assert status == 400
    assert "unknown type 'sit_down'" in refused["message"]


async def test_a_body_over_the_limit_is_refused_as_too_large(tmp_path: Path) -> None:
    async with api(tmp_path) as client:
        table, tokens = await dealt_heads_up(client)
        huge = {"type": "act", "id": "c1", "action": "call", "pad": "x" * BODY_LIMIT}
        status, refused = await client.call(
            "POST", f"/tables/{table}/requests", body=huge, token=tokens[0]
        )

    assert status == 413
    assert refused["code"] == "too_large"


async def test_a_request_sent_again_gets_its_first_answer_and_is_applied_once(
    tmp_path: Path,
) -> None:
    async with api(tmp_path) as client:
        table, tokens = await dealt_heads_up(client)
        seat = seat_to_act(await table_view(client, table, None))
        first = await act(client, table, tokens[seat], "c1", "call")
        again = await act(client, table, tokens[seat], "c1", "call")
        logged = read_events(client.service.store.reader(), table)

    assert first[0] == 200
    assert again == first
    calls = [s.event for s in logged if isinstance(s.event, ActionTaken)]
    assert [(c.seat, c.action, c.cause) for c in calls] == [(seat, "call", "player")]


async def test_a_refused_request_sent_again_gets_the_same_refusal(
    tmp_path: Path,
) -> None:
    async with api(tmp_path) as client:
        table, tokens = await dealt_heads_up(client)
        seat = seat_to_act(await table_view(client, table, None))
        first = await act(client, table, tokens[seat], "c1", "check")
        again = await act(client, table, tokens[seat], "c1", "check")
        reused = await act(client, table, tokens[seat], "c1", "call")  # same id
        other_id = await act(client, table, tokens[seat], "c2", "call")

    assert first[0] == 409
    assert first[1]["code"] == "cannot_check"
    assert again == first
    assert (reused[0], reused[1]["code"]) == (422, "id_reused")
    assert other_id[0] == 200


async def test_copies_of_a_request_sent_at_once_are_applied_once(
    tmp_path: Path,
) -> None:
    answers: list[tuple[int, Any]] = []
    async with api(tmp_path) as client:
        table, tokens = await dealt_heads_up(client)
        seat = seat_to_act(await table_view(client, table, None))

        async def send() -> None:
            answers.append(await act(client, table, tokens[seat], "c1", "call"))

        async with trio.open_nursery() as nursery:
            for _ in range(4):
                nursery.start_soon(send)
        logged = read_events(client.service.store.reader(), table)

    assert len(answers) == 4
    assert all(answer == answers[0] for answer in answers)
    assert answers[0][0] == 200
    assert sum(isinstance(s.event, ActionTaken) for s in logged) == 1


async def test_a_request_id_that_is_too_long_is_a_bad_request(tmp_path: Path) -> None:
    async with api(tmp_path) as client:
        table, tokens = await dealt_heads_up(client)
        status, refused = await act(client, table, tokens[0], "x" * 65, "call")

    assert status == 400
    assert refused["code"] == "bad_request"


async def test_a_player_who_left_gets_the_first_answer_to_their_leave_again(
    tmp_path: Path,
) -> None:
    async with api(tmp_path) as client:
        table = await new_table(client)
        token = await sit(client, table, 0, "ann")
        leave = {"type": "leave", "id": "bye"}
        path = f"/tables/{table}/requests"
        first = await client.call("POST", path, body=leave, token=token)
        again = await client.call("POST", path, body=leave, token=token)
        other = await client.call("POST", path, body={**leave, "id": "x"}, token=token)

    assert first[0] == 200
    assert again == first
    assert other[0] == 401


# Events and long polls


async def test_a_spectator_sees_the_deal_without_hole_cards_and_a_player_their_own(
    tmp_path: Path,
) -> None:
    async with api(tmp_path) as client:
        table, tokens = await dealt_heads_up(client)
        spectator = (await events_until(client, table, "hand_dealt"))[-1]
        ann = (await events_until(client, table, "hand_dealt", token=tokens[0]))[-1]
        bo = (await events_until(client, table, "hand_dealt", token=tokens[1]))[-1]
        logged = read_events(client.service.store.reader(), table)

    (started,) = [s.event for s in logged if isinstance(s.event, HandStarted)]
    assert spectator["event"]["hole_cards"] == []
    assert "deck" not in spectator["event"]
    assert "secret" not in spectator["event"]
    ann_cards = [started.deck[started.seats.index(0) + r * 2] for r in (0, 1)]
    assert ann["event"]["hole_cards"] == ann_cards
    assert len(bo["event"]["hole_cards"]) == 2
    assert not set(bo["event"]["hole_cards"]) & set(ann_cards)


async def test_the_last_event_of_a_page_carries_the_viewers_view(
    tmp_path: Path,
) -> None:
    async with api(tmp_path) as client:
        table, tokens = await dealt_heads_up(client)
        seat = seat_to_act(await table_view(client, table, None))
        seen = await table_view(client, table, tokens[seat])
        status, page = await client.call(
            "GET", f"/tables/{table}/events", token=tokens[seat]
        )

    assert status == 200
    assert page["recovered"] is True
    assert page["epoch"] == seen["epoch"]
    assert page["seq"] == seen["seq"] == page["events"][-1]["seq"]
    assert [m["seq"] for m in page["events"]] == list(range(1, seen["seq"] + 1))
    assert all(m["view"] is None for m in page["events"][:-1])
    last_view = page["events"][-1]["view"]
    assert last_view["viewer"] == seat
    assert last_view["legal"] == seen["legal"]
    assert last_view["legal"] is not None


async def test_a_long_poll_receives_the_next_batch_with_the_viewers_view(
    tmp_path: Path,
) -> None:
    polled: list[dict[str, Any]] = []
    async with api(tmp_path) as client:
        table, tokens = await dealt_heads_up(client)
        seen = await table_view(client, table, None)
        seat = seat_to_act(seen)

        async def poll(task_status: trio.TaskStatus[None]) -> None:
            task_status.started()
            status, page = await client.call(
                "GET",
                f"/tables/{table}/events",
                token=tokens[1 - seat],
                query={"after": seen["seq"], "wait": STEP_S},
            )
            assert status == 200
            polled.append(page)

        with trio.fail_after(STEP_S):
            async with trio.open_nursery() as nursery:
                await nursery.start(poll)
                while not subscribers(client.service, table):
                    await trio.sleep(0.01)
                _, ack = await act(client, table, tokens[seat], "c1", "call")

    (page,) = polled
    assert page["recovered"] is True
    assert page["events"][0]["seq"] == seen["seq"] + 1
    assert page["events"][0]["event"]["type"] == "action_taken"
    assert page["events"][-1]["seq"] == ack["seq"] == page["seq"]
    assert page["events"][-1]["view"]["viewer"] == 1 - seat
    assert page["events"][-1]["view"]["to_act"] == 1 - seat


async def test_a_long_poll_with_nothing_new_answers_no_events_after_its_wait(
    tmp_path: Path,
) -> None:
    async with api(tmp_path) as client:
        table = await new_table(client)
        status, page = await client.call(
            "GET", f"/tables/{table}/events", query={"after": 1, "wait": 0.05}
        )
        after_wait = subscribers(client.service, table)

    assert status == 200
    assert page["events"] == []
    assert page["seq"] == 1
    assert page["recovered"] is True
    assert after_wait == 0


async def test_a_stopped_tables_record_goes_and_its_long_poll_ends(
    tmp_path: Path,
) -> None:
    polled: list[dict[str, Any]] = []
    async with api(tmp_path) as client:
        table = await new_table(client)
        await sit(client, table, 0, "ann")
        kept = client.service.served(table)

        async def poll() -> None:
            _, page = await client.call(
                "GET", f"/tables/{table}/events", query={"after": 2, "wait": 30}
            )
            polled.append(page)

        with trio.fail_after(STEP_S):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(poll)
                while not subscribers(client.service, table):
                    await trio.sleep(0.01)
                # Another writer appends to the table's log behind the
                # service's back: its next append conflicts, and the
                # supervisor stops the table.
                with EventStore(tmp_path / "pokerd.db", claim=False) as intruder_store:
                    loaded = await intruder_store.read(load_table, table)
                    intruder = Table(table, intruder_store, loaded)
                    await intruder.execute(SitDown(seat=5, name="eve", buy_in=100))
                sat = await client.call(
                    "POST",
                    f"/tables/{table}/seats",
                    body={"seat": 1, "name": "bo", "buy_in": 100},
                )
        gone = client.service.served(table)
        viewed = await client.call("GET", f"/tables/{table}")
        still_gone = client.service.served(table)

    assert kept is not None
    assert (sat[0], sat[1]["code"]) == (503, "table_stopped")
    assert polled == [
        {"epoch": kept.epoch, "seq": 2, "recovered": True, "events": []}
    ], "the poll ended with the table, not after its wait"
    assert gone is None
    assert (viewed[0], viewed[1]["code"]) == (503, "table_stopped")
    assert still_gone is None, "a stopped table gets no record again"


async def test_shutting_down_ends_a_long_poll_at_once(tmp_path: Path) -> None:
    polled: list[dict[str, Any]] = []
    async with api(tmp_path) as client:
        table = await new_table(client)

        async def poll() -> None:
            _, page = await client.call(
                "GET", f"/tables/{table}/events", query={"after": 1, "wait": 30}
            )
            polled.append(page)

        with trio.fail_after(STEP_S):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(poll)
                while not subscribers(client.service, table):
                    await trio.sleep(0.01)
                client.service.close()

    assert polled == [
        {"epoch": polled[0]["epoch"], "seq": 1, "recovered": True, "events": []}
    ]


async def test_an_offset_ahead_of_the_log_or_another_epoch_gets_the_view_instead(
    tmp_path: Path,
) -> None:
    async with api(tmp_path) as client:
        table, tokens = await dealt_heads_up(client)
        seen = await table_view(client, table, tokens[0])
        path = f"/tables/{table}/events"
        _, ahead = await client.call(
            "GET", path, token=tokens[0], query={"after": seen["seq"] + 5}
        )
        _, elsewhere = await client.call(
            "GET", path, token=tokens[0], query={"after": 1, "epoch": "another"}
        )
        _, same = await client.call(
            "GET", path, token=tokens[0], query={"after": 1, "epoch": seen["epoch"]}
        )

    for page in (ahead, elsewhere):
        assert page["recovered"] is False
        assert page["events"] == []
        assert page["seq"] == seen["seq"]
        assert page["view"]["viewer"] == 0
        assert page["view"]["seats"] == seen["seats"]
    assert same["recovered"] is True
    assert same["events"][0]["seq"] == 2


async def test_a_page_stops_at_the_page_limit_and_the_client_asks_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service_module, "PAGE_EVENTS", 2)
    async with api(tmp_path) as client:
        table, _ = await dealt_heads_up(client)
        seq = (await table_view(client, table, None))["seq"]
        path = f"/tables/{table}/events"
        _, first = await client.call("GET", path)
        _, second = await client.call("GET", path, query={"after": first["seq"]})

    assert [m["seq"] for m in first["events"]] == [1, 2]
    assert first["seq"] == 2
    assert first["events"][-1]["view"] is None  # not the table's latest state
    assert [m["seq"] for m in second["events"]] == [3, 4]
    assert seq > 4


async def test_bad_event_queries_are_bad_requests(tmp_path: Path) -> None:
    async with api(tmp_path) as client:
        table = await new_table(client)
        path = f"/tables/{table}/events"
        answers = [
            await client.call("GET", path, query={"after": "x"}),
            await client.call("GET", path, query={"after": -1}),
            await client.call("GET", path, query={"wait": "nan"}),
            await client.call("GET", path, query={"wait": 31}),
        ]

    for status, refused in answers:
        assert status == 400
        assert refused["code"] == "bad_request"


async def test_an_unknown_token_may_not_watch_as_a_seat(tmp_path: Path) -> None:
    async with api(tmp_path) as client:
        table = await new_table(client)
        status, refused = await client.call(
            "GET", f"/tables/{table}/events", token="not-a-token"
        )

    assert status == 401
    assert refused["code"] == "bad_token"


async def test_a_player_in_a_reused_seat_gets_the_spectator_form_of_earlier_deals(
    tmp_path: Path,
) -> None:
    async with api(tmp_path) as client:
        table, tokens = await dealt_heads_up(client)
        path = f"/tables/{table}/requests"
        status, _ = await client.call(
            "POST", path, body={"type": "leave", "id": "bye"}, token=tokens[1]
        )
        assert status == 200
        await play_out_the_hand(client, table, tokens)
        await events_until(client, table, "player_left")
        newcomer = await sit(client, table, 1, "cy")
        deal = (await events_until(client, table, "hand_dealt", token=newcomer))[-1]
        _, hand = await client.call("GET", f"/tables/{table}/hands/1", token=newcomer)
        _, seen = await client.call("GET", f"/tables/{table}", token=newcomer)

    assert 1 in deal["event"]["seats"]
    assert deal["event"]["hole_cards"] == []
    assert hand["hole_cards"] == []
    assert seen["seats"][1]["name"] == "cy"
    assert seen["seats"][1]["cards"] == []


# The CLI and the real server


def test_serve_refuses_a_bad_setting_and_names_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["serve", "--port", "ninety"]) == 2
    assert "--port" in capsys.readouterr().err


async def test_pokerd_serve_plays_a_hand_over_http_stops_on_sigterm_and_resumes(
    tmp_path: Path,
) -> None:
    db, log = tmp_path / "served.db", tmp_path / "serve.log"
    polled: list[dict[str, Any]] = []
    async with pokerd_serve(db, log) as running:
        client, process = running.api, running.process
        table, tokens = await dealt_heads_up(client)
        assert await play_out_the_hand(client, table, tokens) >= 4
        _, hands = await client.call("GET", f"/tables/{table}/hands")
        assert [row["hand"] for row in hands] == [1]
        with trio.fail_after(STEP_S):
            while (seen := await table_view(client, table, None))["hand"] != 2:
                await trio.sleep(0.05)

        async def poll() -> None:
            _, page = await client.call(
                "GET",
                f"/tables/{table}/events",
                query={"after": seen["seq"], "wait": STEP_S},
            )
            polled.append(page)

        with trio.fail_after(STEP_S):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(poll)
                await trio.sleep(0.2)  # a head start; the answer is right either way
                seat = seat_to_act(seen)
                status, ack = await act(client, table, tokens[seat], "z1", "call")
                assert status == 200
        await stop(process, log)

    (page,) = polled
    assert page["events"][0]["seq"] == seen["seq"] + 1
    assert page["events"][0]["event"]["action"] == "call"
    assert "serving on http://127.0.0.1" in log.read_text()

    async with pokerd_serve(db, log) as running:
        client, process = running.api, running.process
        _, health = await client.call("GET", "/healthz")
        resumed = await table_view(client, table, tokens[0])
        # A client stalled half-way through its request holds the shutdown
        # for the grace at most.
        stalled = await trio.open_tcp_stream("127.0.0.1", client.port)
        async with stalled:
            await stalled.send_all(
                b"POST /tables HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\n{"
            )
            await stop(process, log)

    assert health["tables"] == 1
    assert resumed["viewer"] == 0
    assert resumed["seq"] == ack["seq"]
    assert resumed["hand"] == 2
    assert resumed["hand_in_progress"] is True
    assert resumed["seats"][0]["cards"] != []


async def test_a_request_applied_before_a_kill_is_acked_again_after_the_restart(
    database: Database, tmp_path: Path
) -> None:
    # The answer to an applied request is in the log, not only in the killed
    # process: sent again (a client whose connection dropped before the ack),
    # it gets its first ack, not a refusal of a turn that moved on.
    db, log = database, tmp_path / "serve.log"
    # On PostgreSQL the node restarts under its own id: it takes its tables
    # back at once.
    node = ("--node-id", "n1") if is_postgresql(db) else ()
    async with pokerd_serve(db, log, *node) as running:
        table, tokens = await dealt_heads_up(running.api)
        seat = seat_to_act(await table_view(running.api, table, None))
        first = await act(running.api, table, tokens[seat], "c1", "call")
        running.process.kill()
        await running.process.wait()
    async with pokerd_serve(db, log, *node) as restarted:
        again = await act(restarted.api, table, tokens[seat], "c1", "call")
        reused = await act(restarted.api, table, tokens[seat], "c1", "fold")
        await stop(restarted.process, log)
    with EventStore(db) as store:
        logged = read_events(store.reader(), table)

    assert first[0] == 200
    assert again == first
    assert (reused[0], reused[1]["code"]) == (422, "id_reused")
    calls = [s.event for s in logged if isinstance(s.event, ActionTaken)]
    assert [(c.seat, c.action) for c in calls] == [(seat, "call")]
