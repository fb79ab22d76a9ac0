"""`pokerd bots`: its players' strategy, its log check, and runs against a real server.

The strategy is played through the pure engine (every action it picks must
be legal); the command runs as a process against `pokerd serve` running as
another, as it would be used.
"""

from __future__ import annotations

import os
import pty
import random
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import trio
from served import (
    STEP_S,
    HttpApi,
    free_port,
    log_file,
    pokerd_env,
    pokerd_serve,
    served,
    sit,
    stop,
)

from pokerd.cli import main
from pokerd.client import Received
from pokerd.engine import (
    Act,
    ActionTaken,
    ComeBack,
    CreateTable,
    PlayerSeated,
    SitDown,
    TableConfig,
    TableState,
    TopUp,
    handle,
    view,
)
from pokerd.tables.dealer import start_hand
from pokerd.tools.bots import (
    BotsOptions,
    bot_rng,
    choose,
    compare,
    hand_strength,
    run_bots,
)

CHAOS = 0.2


# The strategy.


def test_hand_strength_orders_hands_as_a_player_would() -> None:
    assert hand_strength(["Ah", "As"], []) == pytest.approx(1.0)
    assert (
        hand_strength(["Ah", "As"], [])
        > hand_strength(["Kh", "Qh"], [])
        > hand_strength(["Kh", "Qd"], [])
        > hand_strength(["7h", "2d"], [])
    )
    board = ["Ks", "7d", "2c"]
    nothing = hand_strength(["9h", "8h"], board)
    top_pair = hand_strength(["Kh", "Qd"], board)
    bottom_pair = hand_strength(["2h", "Qd"], board)
    a_set = hand_strength(["7h", "7c"], board)
    assert nothing < bottom_pair < top_pair < a_set
    # Pairs and trips on the board alone are everybody's: they do not count.
    assert hand_strength(["9h", "8h"], ["Ks", "Kd", "Kc"]) == nothing
    flush = hand_strength(["9h", "3h"], ["Kh", "7h", "2h"])
    straight = hand_strength(["5d", "6c"], ["7h", "8s", "9d"])
    wheel = hand_strength(["Ad", "2c"], ["3h", "4s", "5d"])
    assert flush >= straight == wheel > a_set
    draw = hand_strength(["9h", "3h"], ["Kh", "7h", "2c"])
    assert nothing < draw < top_pair


def test_the_strategy_only_plays_legal_actions_and_plays_them_all() -> None:
    """Bots play 60 six-handed hands through the engine's own rules: each
    action they pick must be accepted, and a plausible player folds, checks,
    calls, bets or raises, and now and then goes all in."""
    rng = random.Random(5)
    config = TableConfig(max_seats=6)
    state = TableState()
    _, state = handle(state, CreateTable(config=config))
    for seat in range(6):
        buy_in = config.max_buy_in
        _, state = handle(state, SitDown(seat=seat, name=f"b{seat}", buy_in=buy_in))
    taken: list[str] = []
    for _ in range(60):
        for seat, occupant in enumerate(state.seats):
            if occupant is not None and occupant.stack == 0:
                _, state = handle(state, TopUp(seat=seat, amount=config.max_buy_in))
                _, state = handle(state, ComeBack(seat=seat))
        _, state = handle(state, start_hand(0, rng))
        while state.hand_in_progress:
            hand = state.hand
            assert hand is not None and hand.turn is not None
            seat = hand.turn.seat
            action, amount = choose(view(state, seat), seat, rng)
            events, state = handle(
                state, Act(seat=seat, action=action, amount=amount, now_ms=0)
            )
            taken += [e.action for e in events if isinstance(e, ActionTaken)]
            taken += ["all_in"] if action == "all_in" else []
    assert {"fold", "check", "call", "raise", "all_in"} <= set(taken)
    assert taken.count("fold") > 20


# The check of what a bot received.


def test_the_log_check_finds_gaps_repeats_reordering_and_other_content() -> None:
    seated = [
        Received(seq, PlayerSeated(seat=seq, name=f"p{seq}", stack=100))
        for seq in range(1, 6)
    ]
    assert compare(seated, seated) == []
    assert compare(seated[:3], seated) != []  # fewer than the log holds
    assert compare([seated[0], seated[2]], seated[:3]) != []
    assert compare([*seated[:3], seated[2]], seated[:3]) != []
    assert compare([seated[1], seated[0]], seated[:2]) != []
    other = Received(2, PlayerSeated(seat=2, name="p2", stack=99))
    assert compare([seated[0], other], seated[:2]) != []


def test_a_log_read_from_later_on_is_checked_from_there() -> None:
    """The server replays the last MAX_BACKLOG events only: a longer log is
    read from later on."""
    seated = [
        Received(seq, PlayerSeated(seat=seq, name=f"p{seq}", stack=100))
        for seq in range(1, 6)
    ]
    assert compare(seated, seated[2:]) == []
    assert compare([*seated[:3], seated[4]], seated[2:]) != []  # a gap in it
    assert compare([*seated, seated[1]], seated[2:]) != []  # a repeat after it


# The command.


def summary(output: str) -> dict[str, str]:
    lines = [line.partition(": ") for line in output.splitlines()]
    return {key: value for key, _, value in lines}


def test_bad_options_and_an_unreachable_server_exit_with_2() -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    assert main(["bots", "--url", nobody, "--seats", "1"]) == 2
    assert main(["bots", "--url", nobody, "--chaos", "1.5"]) == 2
    assert main(["bots", "--url", nobody, "--hands", "1"]) == 2


async def bots(url: str, *flags: str) -> tuple[int, str]:
    """`pokerd bots` as a process: its exit status and what it printed."""
    with trio.fail_after(STEP_S):
        done = await trio.run_process(
            [sys.executable, "-m", "pokerd", "bots", "--url", url, *flags],
            capture_stdout=True,
            capture_stderr=True,
            check=False,
            env=pokerd_env(),
        )
    return done.returncode, done.stdout.decode() + done.stderr.decode()


async def test_bots_play_their_hands_and_get_exactly_their_logs(tmp_path: Path) -> None:
    db, log = tmp_path / "bots.db", tmp_path / "serve.log"
    async with pokerd_serve(db, log) as server:
        code, output = await bots(
            f"http://127.0.0.1:{server.api.port}",
            *("--tables", "2", "--seats", "3", "--hands", "3", "--think", "0"),
        )
        await stop(server.process, log)

    assert code == 0, output
    found = summary(output)
    assert found["result"] == "ok"
    assert found["tables"] == "2" and found["hands"] == "6"
    assert int(found["actions"]) > 0 and found["errors"] == "none"
    assert int(found["events checked"]) > 0
    assert found["gaps"] == found["duplicates"] == found["mismatches"] == "0"
    assert found["reconnects"] == "0"


async def test_bots_that_drop_their_connections_resume_and_still_get_their_logs(
    tmp_path: Path,
) -> None:
    # A seed whose first chaos draw at each table is a drop: the first action
    # played at each table is cut off before its answer, whatever the cards.
    seed = next(
        seed
        for seed in range(1000)
        if all(bot_rng(seed, table, "chaos").random() < CHAOS for table in (0, 1))
    )
    db, log = tmp_path / "bots.db", tmp_path / "serve.log"
    async with pokerd_serve(db, log) as server:
        code, output = await bots(
            f"http://127.0.0.1:{server.api.port}",
            *("--tables", "2", "--seats", "3", "--hands", "3", "--think", "0"),
            *("--chaos", str(CHAOS), "--seed", str(seed)),
        )
        await stop(server.process, log)

    assert code == 0, output
    found = summary(output)
    assert found["result"] == "ok"
    reconnects = int(found["reconnects"])
    assert reconnects >= 2
    assert int(found["chaos drops"]) == reconnects == int(found["resumed ok"])
    assert found["resumed not ok"] == "0"
    assert int(found["resent after a drop"]) >= 2
    assert found["gaps"] == found["duplicates"] == found["mismatches"] == "0"


async def test_bots_that_go_broke_top_up_and_play_on(tmp_path: Path) -> None:
    # Stacks of one big blind go broke within a few hands.
    tiny_stacks = {"min_buy_in": 2, "max_buy_in": 2}
    async with served(tmp_path / "bots.db") as server:
        options = BotsOptions(
            url=f"http://127.0.0.1:{server.api.port}",
            tables=1,
            seats=3,
            hands=12,
            seed=3,
            config=tiny_stacks,
        )
        with trio.fail_after(STEP_S):
            report = await run_bots(options)

    assert report.top_ups > 0
    assert report.ok, report.lines()
    assert report.hands == 12


# Open seats, leaving at the end, closing, progress on a terminal.

PERSON_SEAT = 2
"""The seat left open at a table of three, where a person sits."""


async def wait_for_table(api: HttpApi) -> dict[str, Any]:
    """The lobby's one table, once it has played a hand."""
    with trio.fail_after(STEP_S):
        while True:
            tables = await api.json("GET", "/tables")
            if tables and tables[0]["hands_played"] >= 1:
                return dict(tables[0])
            await trio.sleep(0.05)


def seated_at(events: list[dict[str, Any]]) -> list[int]:
    return [e["event"]["seat"] for e in events if e["event"]["type"] == "player_seated"]


async def test_open_seats_stay_free_and_the_bots_leave_when_they_are_done(
    tmp_path: Path,
) -> None:
    db, log = tmp_path / "bots.db", tmp_path / "serve.log"
    async with pokerd_serve(db, log) as server:
        code, output = await bots(
            f"http://127.0.0.1:{server.api.port}",
            *("--tables", "1", "--seats", "3", "--open-seats", "1", "--hands", "2"),
            "--keep-tables",
        )
        assert code == 0, output
        [table] = await server.api.json("GET", "/tables")  # kept: still listed
        seen = await server.api.json("GET", f"/tables/{table['table']}")
        page = await server.api.events(table["table"], None, after=0)
        await stop(server.process, log)

    found = summary(output)
    assert found["result"] == "ok"
    assert found["bots left"] == "2" and found["tables closed"] == "0"
    assert seated_at(page["events"]) == [0, 1]  # seat 2 was never taken
    assert table["seats_taken"] == 0 and seen["seats"] == [None] * 3
    assert not seen["closed"]
    assert "\x1b[K" not in output  # no progress line off a terminal


async def test_a_person_joins_an_open_seat_and_sigterm_ends_the_bots_and_the_table(
    tmp_path: Path,
) -> None:
    db, log = tmp_path / "bots.db", tmp_path / "serve.log"
    async with pokerd_serve(db, log) as server:
        api = server.api
        command = [sys.executable, "-m", "pokerd", "bots"]
        command += ["--url", f"http://127.0.0.1:{api.port}", "--think", "0"]
        command += ["--tables", "1", "--seats", "3", "--open-seats", "1"]
        with log_file(tmp_path / "bots.out") as output:
            process = await trio.lowlevel.open_process(
                command, stdout=output, stderr=output, env=pokerd_env()
            )
        try:
            table = await wait_for_table(api)
            assert table["seats_taken"] == 2
            person = await sit(api, table["table"], PERSON_SEAT, "person")
            status, _ = await api.call(
                "POST",
                f"/tables/{table['table']}/requests",
                token=person,
                body={"type": "sit_out", "id": "1"},
            )
            assert status == 200
            process.terminate()  # SIGTERM: the bots stop, check, leave, close
            with trio.fail_after(STEP_S):
                code = await process.wait()
        finally:
            if process.returncode is None:
                process.kill()
        printed = (tmp_path / "bots.out").read_text()
        assert code == 0, printed
        seen = await play_until_closed(api, table["table"], person)
        lobby = await api.json("GET", "/tables")
        page = await api.events(table["table"], None, after=0)
        await stop(server.process, log)

    found = summary(printed)
    assert found["bots left"] == "2" and found["tables closed"] == "1"
    assert seen["closed"] and seen["seats"] == [None] * 3
    assert lobby == []
    left = [e["event"] for e in page["events"] if e["event"]["type"] == "player_left"]
    assert sorted(e["seat"] for e in left) == [0, 1, 2]  # the person cashed out too
    assert page["events"][-1]["event"]["type"] == "table_closed"


async def play_until_closed(api: HttpApi, table: str, token: str) -> dict[str, Any]:
    """The table's view once closed. A closing table's hand plays on: if the
    person was dealt in (as the big blind) before sitting out, they play it
    out, checking or folding (the bots, leaving, do so at once)."""
    with trio.fail_after(STEP_S):
        while True:
            seen = await api.json("GET", f"/tables/{table}")
            if seen["closed"]:
                return dict(seen)
            if seen["to_act"] == PERSON_SEAT:
                mine = await api.json("GET", f"/tables/{table}", token=token)
                action = "check" if mine["legal"]["check"] else "fold"
                request = {"type": "act", "id": f"a{mine['seq']}", "action": action}
                await api.call(
                    "POST", f"/tables/{table}/requests", token=token, body=request
                )
            else:
                await api.events(table, None, after=int(seen["seq"]), wait=1)


async def test_on_a_terminal_a_progress_line_is_drawn_in_place(
    tmp_path: Path,
) -> None:
    db, log = tmp_path / "bots.db", tmp_path / "serve.log"
    async with pokerd_serve(db, log) as server:
        terminal, attached = pty.openpty()
        try:
            command = [sys.executable, "-m", "pokerd", "bots", "--think", "0"]
            command += ["--url", f"http://127.0.0.1:{server.api.port}"]
            command += ["--tables", "1", "--seats", "2", "--hands", "2"]
            with trio.fail_after(STEP_S):
                done = trio.run_process(
                    command,
                    stderr=attached,
                    capture_stdout=True,
                    check=False,
                    env=pokerd_env(),
                )
                async with trio.open_nursery() as nursery:
                    finished: list[subprocess.CompletedProcess[bytes]] = []

                    async def run() -> None:
                        finished.append(await done)
                        os.close(attached)  # the terminal ends with its last writer

                    nursery.start_soon(run)
                    drawn = await trio.to_thread.run_sync(read_all, terminal)
        finally:
            os.close(terminal)
        await stop(server.process, log)

    [process] = finished
    assert process.returncode == 0, drawn
    lines = drawn.decode()
    assert "\r\x1b[Kpokerd bots: " in lines
    last = lines.rsplit("\r\x1b[K", 1)[1]
    assert re.fullmatch(
        r"pokerd bots: 2 hands, \d+ actions, [\d.]+ actions/s, 0 reconnects,"
        r" \d+ s\r?\n",
        last,
    ), last
    found = summary(process.stdout.decode())
    assert found["result"] == "ok" and found["hands"] == "2"  # the summary as ever


def read_all(descriptor: int) -> bytes:
    """What a pseudo-terminal shows until its other end is closed."""
    chunks = []
    while True:
        try:
            chunk = os.read(descriptor, 4096)
        except OSError:  # EIO: nobody holds the other end any more
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)
