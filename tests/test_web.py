"""The web table in a real browser: Playwright and Debian's Chromium, a real server."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    WebSocketRoute,
    sync_playwright,
)
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from served import STEP_S, Served, new_table, served, sit

from pokerd.client import Client
from pokerd.engine.views import TableView
from pokerd.wire.protocol import Ack

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / os.environ.get("POKERD_SCREENSHOTS", "build/screenshots")
"""Where the tests save their screenshots: build/ (not in git) unless
POKERD_SCREENSHOTS names another folder, e.g. docs/screenshots to refresh the
reviewed copies the README shows."""
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
STEP_MS = STEP_S * 1000
SCENARIO_S = 90
"""Bound on a whole browser scenario (its thread), never expected."""
CLOCK_MS = 120_000
"""Action clock of the tests' tables: nobody times out while a test looks."""
CLICK_MS = 1000
ANN_ACTED = '#log-lines li[data-type="action_taken"]:has-text("ann")'
LIVE_SOCKET = re.compile(r"/tables/[^/]+/live$")

if not CHROMIUM.exists():
    if os.environ.get("CI"):
        raise RuntimeError(
            f"{CHROMIUM} is missing: .ci/run installs the chromium package"
        )
    pytest.skip(f"{CHROMIUM} is not installed", allow_module_level=True)


CSP_REPORTER = """
document.addEventListener("securitypolicyviolation", (event) => console.error(
  `CSP violation: ${event.violatedDirective} ${event.blockedURI}`));
"""
"""Every page's first script: a Content-Security-Policy violation, reported to
the console (Chromium also logs its own "Refused to ..." line there)."""
violations: dict[int, list[str]] = {}
"""What each browser's pages reported breaking their policy, by id(browser)."""


@contextmanager
def chromium() -> Iterator[Browser]:
    """Chromium, whose pages must not break their Content-Security-Policy
    (the pages' own policy, docs/protocol.md): checked when it closes."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        violations[id(browser)] = []
        try:
            yield browser
        finally:
            browser.close()
            reported = violations.pop(id(browser))
        assert reported == [], "the pages broke their Content-Security-Policy"


def new_page(browser: Browser, size: dict[str, int], **options: Any) -> Page:
    context = browser.new_context(viewport=size, **options)  # type: ignore[arg-type]
    context.set_default_timeout(STEP_MS)
    context.add_init_script(CSP_REPORTER)
    page = context.new_page()
    reported = violations[id(browser)]
    page.on("console", partial(record_violation, reported))
    return page


def record_violation(reported: list[str], message: ConsoleMessage) -> None:
    text = message.text
    if "Content Security Policy" in text or text.startswith("CSP violation"):
        reported.append(text)


def base_url(server: Served) -> str:
    return f"http://127.0.0.1:{server.api.port}"


class SocketSwitch:
    """Routes a page's live sockets through Playwright, so that a test can cut
    them and refuse new ones (the page then sees the socket fail to open)."""

    def __init__(self, page: Page) -> None:
        self.blocked = False
        self.open: list[WebSocketRoute] = []
        self.sent: list[str] = []
        """What the page sent on its sockets, as delivered to the server."""
        page.route_web_socket(LIVE_SOCKET, self._route)

    def _route(self, socket: WebSocketRoute) -> None:
        if self.blocked:
            socket.close()
            return
        server = socket.connect_to_server()
        socket.on_message(partial(self._forward, server))
        self.open.append(socket)

    def _forward(self, server: WebSocketRoute, message: str | bytes) -> None:
        self.sent.append(message if isinstance(message, str) else message.decode())
        server.send(message)

    def block(self) -> None:
        self.blocked = True
        for socket in self.open:
            socket.close()
        self.open.clear()

    def allow(self) -> None:
        self.blocked = False


def seat_in_page(page: Page, server: Served, table: str, token: str, seat: int) -> None:
    """Open the table page as the holder of `token` (kept as the page keeps
    a seat it sat down at: in localStorage, per table)."""
    page.goto(base_url(server) + "/")
    page.evaluate(
        "([table, seated]) => localStorage.setItem(`pokerd.seat.${table}`,"
        " JSON.stringify(seated))",
        [table, {"token": token, "seat": seat}],
    )
    page.goto(f"{base_url(server)}/tables/{table}")
    page.wait_for_selector(f'.seat.mine[data-seat="{seat}"]')


def sit_with_dialog(page: Page, seat: int, name: str, buy_in: int) -> None:
    page.click(f'.seat[data-seat="{seat}"] button.sit')
    page.fill("#sit-name", name)
    page.fill("#sit-buy-in", str(buy_in))
    page.click("#sit-confirm")
    page.wait_for_selector(f'.seat.mine[data-seat="{seat}"]')


def logged(seq: int) -> str:
    """The hand log's line for the event at `seq`."""
    return f'#log-lines li[data-seq="{seq}"]'


def face_cards(page: Page, seat: int) -> list[str]:
    cards: list[str] = page.eval_on_selector_all(
        f'.seat[data-seat="{seat}"] .card.face',
        "cards => cards.map(c => c.dataset.card)",
    )
    return cards


def act_if_my_turn(page: Page) -> bool:
    """Check, or call, if the page offers an action now; whether it did."""
    if not page.is_visible("#actions"):
        return False
    button = "#check" if page.is_visible("#check") else "#call"
    try:
        page.click(button, timeout=CLICK_MS)
    except PlaywrightTimeoutError:
        return False  # the table moved on meanwhile: look again
    return True


def until(check: Callable[[], bool], pages: list[Page], *, play: bool = True) -> None:
    """Check or call on every page whose turn it is, until `check()` holds."""
    deadline = time.monotonic() + SCENARIO_S
    while not check():
        assert time.monotonic() < deadline, "the browsers never got there"
        acted = play and any([act_if_my_turn(page) for page in pages])
        if not acted:
            pages[0].wait_for_timeout(50)


def json_view(server: Served, table: str, token: str | None = None) -> Any:
    """The server's JSON view of the table (as the holder of `token`), asked
    from the browser's thread."""
    status, view = from_trio(server.api.call, "GET", f"/tables/{table}", token=token)
    assert status == 200, view
    return view


def saved_seat(page: Page, table: str) -> Any:
    """The seat the page keeps for `table` in localStorage (None if none)."""
    return page.evaluate(
        "(table) => JSON.parse(localStorage.getItem(`pokerd.seat.${table}`))", table
    )


def page_state(page: Page) -> dict[str, Any]:
    state: dict[str, Any] = page.evaluate(
        "() => { const c = window.pokerdTable.connection;"
        " return {mode: c.mode, epoch: c.epoch, offset: c.offset,"
        " hand: c.view && c.view.hand, to_act: c.view && c.view.to_act,"
        " in_progress: c.view && c.view.hand_in_progress,"
        " in_hand: c.view ? c.view.seats.filter(s => s && s.in_hand).length : 0,"
        " pending: c.pending.size}; }"
    )
    return state


class CallBot:
    """A seat played by a pokerd.client.Client: checks or calls, while allowed."""

    def __init__(self, server: Served, table: str, seat: int, token: str) -> None:
        self.seat = seat
        self.client = Client(base_url(server), server.live, table, token)
        self.allowed = trio.Event()
        self.allowed.set()
        self.sit_out_in_full_hand = False
        """Sit out during the first hand all four seats play (so the table
        stops dealing after it, and its showdown stays on the screen)."""

    def hold(self) -> None:
        self.allowed = trio.Event()

    async def play(self) -> None:
        seen = -1
        client = self.client
        while True:
            await client.wait_for(partial(newer_view, seq=seen))
            seen = client.view_seq
            view = client.view
            if view is None or client.seat is None:
                continue
            me = view.seats[self.seat]
            assert me is not None
            if self.sit_out_in_full_hand and not me.sitting_out and full_hand(view):
                assert isinstance(await client.sit_out(), Ack)
            if view.to_act == self.seat and view.legal is not None:
                await self.allowed.wait()
                if client.view_seq != seen:
                    continue  # the table moved on while held: look again
                await client.act("check" if view.legal.check else "call")


def newer_view(client: Client, *, seq: int) -> bool:
    return client.view_seq > seq


def full_hand(view: TableView) -> bool:
    return view.hand_in_progress and all(
        seat is not None and seat.in_hand for seat in view.seats
    )


async def start_bots(
    nursery: trio.Nursery, server: Served, table: str, seats: list[int]
) -> list[CallBot]:
    bots = []
    for seat in seats:
        token = await sit(server.api, table, seat, f"bot{seat}", buy_in=100)
        bot = CallBot(server, table, seat, token)
        await nursery.start(bot.client.run)
        nursery.start_soon(bot.play)
        bots.append(bot)
    return bots


async def in_browser(scenario: Callable[[], None]) -> None:
    """Run a synchronous Playwright scenario in a thread (Playwright's sync
    API runs its own event loop), while this Trio run serves and plays."""
    with trio.fail_after(SCENARIO_S + STEP_S):
        await trio.to_thread.run_sync(scenario)


def from_trio(function: Callable[..., Any], *args: Any, **options: Any) -> Any:
    """Await `function(*args, **options)` in the test's Trio run, from the
    browser's thread."""
    return trio.from_thread.run(partial(function, *args, **options))


def result_lines(view: Any) -> list[str]:
    """What the page says of who won which pot, from the server's view: the
    pot when there are several, the amount, and the hand's name if shown."""
    seats = view["seats"]
    pots = view["results"]
    lines = []
    for index, pot in enumerate(pots):
        where = ""
        if len(pots) > 1:
            side = f"Side pot {index}" if len(pots) > 2 else "Side pot"
            where = ("Main pot" if index == 0 else side) + ": "
        for share in pot["shares"]:
            seat = seats[share["seat"]]
            shown = seat["shown_hand"]
            how = f" with {shown['name']}" if shown else ""
            lines.append(f"{where}{seat['name']} wins {share['amount']}{how}")
    return lines


async def test_two_browsers_and_bots_play_to_showdown(tmp_path: Path) -> None:
    async with served(tmp_path / "web.db") as server, trio.open_nursery() as nursery:
        table = await new_table(server.api, max_seats=4, action_clock_ms=CLOCK_MS)
        bots: list[CallBot] = []

        async def seat_bots() -> None:
            bots.extend(await start_bots(nursery, server, table, [2, 3]))
            for bot in bots:
                bot.sit_out_in_full_hand = True

        def scenario() -> None:
            with chromium() as browser:
                ann = new_page(browser, DESKTOP)
                bob = new_page(browser, PHONE, is_mobile=True, has_touch=True)
                # (The lobby's screenshots: tests/test_web_lobby.py.)
                for page in (ann, bob):
                    page.goto(base_url(server) + "/")
                    page.wait_for_selector(f'tr[data-table="{table}"] td.seats')
                row = f'tr[data-table="{table}"]'
                assert ann.inner_text(f"{row} td.blinds") == "1/2"
                assert ann.inner_text(f"{row} td.seats") == "0/4"
                ann.click(f"{row} a")
                ann.wait_for_selector("#conn[data-mode=live]")
                sit_with_dialog(ann, 0, "ann", 100)
                bob.goto(f"{base_url(server)}/tables/{table}")
                sit_with_dialog(bob, 1, "bob", 100)
                from_trio(seat_bots)

                # Hands are played (check or call) until all four are dealt in.
                until(lambda: page_state(ann)["in_hand"] == 4, [ann, bob])
                hand = page_state(ann)["hand"]
                bob.wait_for_selector(f'#hand-number[data-hand="{hand}"]')
                # Before the showdown each browser sees its own cards only.
                assert len(face_cards(ann, 0)) == 2
                assert len(face_cards(bob, 1)) == 2
                for seat in (1, 2, 3):
                    assert face_cards(ann, seat) == []
                    assert (
                        ann.locator(f'.seat[data-seat="{seat}"] .card.back').count()
                        == 2
                    )
                for seat in (0, 2, 3):
                    assert face_cards(bob, seat) == []
                bob.click("#sit-out")  # after this hand: the table stops there
                bob.wait_for_selector(
                    '.seat[data-seat="1"] .status:text("sitting out")'
                )

                over = f'#hand-number[data-hand="{hand}"][data-in-progress="false"]'
                until(lambda: ann.is_visible(over), [ann, bob])
                bob.wait_for_selector(over)
                ann.wait_for_selector("#results .winner")
                ann_token = ann.evaluate(
                    f"() => localStorage.getItem('pokerd.seat.{table}')"
                )
                assert ann_token and '"seat":0' in ann_token
                status, spectator = from_trio(
                    server.api.call, "GET", f"/tables/{table}"
                )
                assert status == 200
                shown = [seat["seat"] for seat in spectator["seats"] if seat["cards"]]
                assert shown, "nobody showed at the showdown"
                for seat in spectator["seats"]:
                    if seat["cards"]:
                        assert face_cards(ann, seat["seat"]) == seat["cards"]
                        assert face_cards(bob, seat["seat"]) == seat["cards"]
                winners = result_lines(spectator)
                assert ann.locator("#results .winner").all_inner_texts() == winners
                # (The showdown's screenshots, two pots: tests/test_web_table.py.)

        await in_browser(scenario)
        nursery.cancel_scope.cancel()


async def test_offline_browser_resumes_and_shows_the_missed_actions(
    tmp_path: Path,
) -> None:
    async with served(tmp_path / "web.db") as server, trio.open_nursery() as nursery:
        table = await new_table(server.api, max_seats=3, action_clock_ms=CLOCK_MS)
        token = await sit(server.api, table, 0, "ann", buy_in=100)
        bots = await start_bots(nursery, server, table, [1, 2])

        def hold_bots() -> None:
            for bot in bots:
                bot.hold()

        def release_bots() -> None:
            for bot in bots:
                bot.allowed.set()

        async def events_after(offset: int) -> list[dict[str, Any]]:
            status, page = await server.api.call(
                "GET", f"/tables/{table}/events", query={"after": offset}
            )
            assert status == 200 and page["recovered"]
            return list(page["events"])

        def scenario() -> None:
            with chromium() as browser:
                ann = new_page(browser, DESKTOP)
                switch = SocketSwitch(ann)
                seat_in_page(ann, server, table, token, 0)
                ann.wait_for_selector("#conn[data-mode=live]")
                ann.evaluate("() => { window.notReloaded = true; }")
                # Ann acts until a bot is to act next, then the bots wait.
                trio.from_thread.run_sync(hold_bots)

                def bot_to_act() -> bool:
                    to_act = page_state(ann)["to_act"]
                    return to_act is not None and to_act != 0

                until(bot_to_act, [ann])
                offset = page_state(ann)["offset"]
                ann.context.set_offline(True)
                switch.block()
                ann.wait_for_selector("#conn[data-mode=reconnecting]")
                trio.from_thread.run_sync(release_bots)
                # The bots play on until it is Ann's turn again (she is away).
                deadline = time.monotonic() + STEP_S
                while True:
                    _, view = from_trio(
                        server.api.call, "GET", f"/tables/{table}", token=token
                    )
                    if view["to_act"] == 0:
                        break
                    assert time.monotonic() < deadline
                    time.sleep(0.05)
                missed = from_trio(events_after, offset)
                missed_actions = [
                    m for m in missed if m["event"]["type"] == "action_taken"
                ]
                assert missed_actions, "the bots did not act while Ann was away"
                assert ann.get_attribute("#conn", "data-mode") == "reconnecting"
                for message in missed_actions:
                    assert (
                        ann.locator(
                            f'#log-lines li[data-seq="{message["seq"]}"]'
                        ).count()
                        == 0
                    )

                ann.context.set_offline(False)
                switch.allow()
                ann.wait_for_selector("#conn[data-mode=live]")
                ann.wait_for_selector("#actions:not([hidden])")
                for message in missed_actions:
                    line = ann.locator(logged(message["seq"]))
                    assert line.count() == 1
                    assert f"bot{message['event']['seat']}" in line.inner_text()
                assert ann.evaluate("() => window.notReloaded") is True
                assert page_state(ann)["offset"] == missed[-1]["seq"]
                # And the page plays on: Ann's action goes through.
                assert act_if_my_turn(ann)
                ann.wait_for_selector(ANN_ACTED)

        await in_browser(scenario)
        nursery.cancel_scope.cancel()


async def test_blocked_websocket_plays_through_long_polling(tmp_path: Path) -> None:
    async with served(tmp_path / "web.db") as server, trio.open_nursery() as nursery:
        table = await new_table(server.api, max_seats=2, action_clock_ms=CLOCK_MS)
        token = await sit(server.api, table, 0, "ann", buy_in=100)

        def scenario() -> None:
            with chromium() as browser:
                ann = new_page(browser, DESKTOP)
                switch = SocketSwitch(ann)
                switch.block()
                seat_in_page(ann, server, table, token, 0)
                ann.wait_for_selector("#conn[data-mode=polling]")
                from_trio(start_bots, nursery, server, table, [1])
                ann.wait_for_selector('#hand-number[data-hand="1"]')
                over = '#hand-number[data-hand="1"][data-in-progress="false"]'
                # The whole hand over polls and posted requests (hand 2 follows
                # at once, so hand 1 is over once hand 2 is on the page).
                until(
                    lambda: page_state(ann)["hand"] >= 2 or ann.is_visible(over), [ann]
                )
                assert ann.get_attribute("#conn", "data-mode") == "polling"
                assert ann.locator(ANN_ACTED).count() >= 1
                assert ann.locator('#log-lines li[data-type="hand_ended"]').count() >= 1
                # Once the socket can be opened again, the page goes back to it.
                switch.allow()
                ann.wait_for_selector("#conn[data-mode=live]")

        await in_browser(scenario)
        nursery.cancel_scope.cancel()


async def test_illegal_bet_is_refused_with_the_servers_message(tmp_path: Path) -> None:
    async with served(tmp_path / "web.db") as server, trio.open_nursery() as nursery:
        table = await new_table(server.api, max_seats=2, action_clock_ms=CLOCK_MS)
        token = await sit(server.api, table, 0, "ann", buy_in=100)
        await start_bots(nursery, server, table, [1])

        def scenario() -> None:
            with chromium() as browser:
                ann = new_page(browser, PHONE, is_mobile=True, has_touch=True)
                seat_in_page(ann, server, table, token, 0)
                ann.wait_for_selector("#raise-box:not([hidden])")
                low = int(ann.get_attribute("#amount", "min") or "0")
                high = int(ann.get_attribute("#amount", "max") or "0")
                assert 0 < low <= high
                ann.fill("#amount", str(low - 1))
                ann.click("#raise")
                notice = ann.locator("#notice")
                notice.wait_for(state="visible")
                assert notice.inner_text() == f"the minimum is {low}, not {low - 1}"
                # Still usable: the pot-size shortcut gives a legal amount, taken.
                ann.click("#pot-size")
                amount = int(ann.input_value("#amount"))
                assert low <= amount <= high
                ann.click("#raise")
                ann.wait_for_selector(ANN_ACTED)
                line = ann.locator(ANN_ACTED)
                assert f"{amount}" in line.last.inner_text()

        await in_browser(scenario)
        nursery.cancel_scope.cancel()


async def test_pages_and_the_json_view_share_the_table_url(tmp_path: Path) -> None:
    async with served(tmp_path / "web.db") as server:
        table = await new_table(server.api)
        status, page = await server.api.call("GET", "/")
        assert status == 200 and "/static/js/lobby.js" in page
        status, view = await server.api.call("GET", f"/tables/{table}")
        assert status == 200 and view["config"]["max_seats"] == 6
        status, script = await server.api.call("GET", "/static/js/connection.js")
        assert status == 200 and "export class TableConnection" in script


@pytest.mark.parametrize("resent_over", ["socket", "polling"])
async def test_a_click_while_the_socket_is_down_is_resent_and_applied_once(
    tmp_path: Path, resent_over: str
) -> None:
    async with served(tmp_path / "web.db") as server, trio.open_nursery() as nursery:
        table = await new_table(server.api, max_seats=2, action_clock_ms=CLOCK_MS)
        token = await sit(server.api, table, 0, "ann", buy_in=100)
        await start_bots(nursery, server, table, [1])

        async def events_after(offset: int) -> list[dict[str, Any]]:
            status, page = await server.api.call(
                "GET", f"/tables/{table}/events", query={"after": offset}
            )
            assert status == 200 and page["recovered"]
            return list(page["events"])

        def ann_actions(offset: int) -> list[dict[str, Any]]:
            return [
                message["event"]
                for message in from_trio(events_after, offset)
                if message["event"]["type"] == "action_taken"
                and message["event"]["seat"] == 0
            ]

        def scenario() -> None:
            with chromium() as browser:
                ann = new_page(browser, DESKTOP)
                switch = SocketSwitch(ann)
                posted: list[str] = []

                def record_post(request: Any) -> None:
                    if request.url.endswith(f"/tables/{table}/requests"):
                        posted.append(request.post_data or "")

                # Only requests that reached the server and were answered.
                ann.on("requestfinished", record_post)
                seat_in_page(ann, server, table, token, 0)
                ann.wait_for_selector("#conn[data-mode=live]")
                ann.wait_for_selector("#actions:not([hidden])")
                offset = page_state(ann)["offset"]
                ann.context.set_offline(True)
                switch.block()
                if resent_over == "socket":
                    # Posted requests fail too, so only the socket can carry it.
                    ann.route(
                        f"**/tables/{table}/requests", lambda route: route.abort()
                    )
                ann.wait_for_selector("#conn[data-mode=reconnecting]")
                button = "#check" if ann.is_visible("#check") else "#call"
                action = button.removeprefix("#")
                ann.click(button)
                pending: list[str] = ann.evaluate(
                    "() => [...window.pokerdTable.connection.pending.keys()]"
                )
                assert len(pending) == 1
                assert ann.is_disabled(button)
                # Offline a while (the page retries meanwhile): nothing arrives.
                ann.wait_for_timeout(1000)
                assert ann.get_attribute("#conn", "data-mode") == "reconnecting"
                assert ann_actions(offset) == []
                assert json_view(server, table)["to_act"] == 0

                ann.context.set_offline(False)
                if resent_over == "socket":
                    switch.allow()
                    ann.wait_for_selector("#conn[data-mode=live]")
                else:
                    # The socket stays refused: the page polls and posts it.
                    ann.wait_for_selector("#conn[data-mode=polling]")
                ann.wait_for_selector(ANN_ACTED)
                ann.wait_for_function(
                    "() => window.pokerdTable.connection.pending.size === 0"
                )
                switch.allow()
                ann.wait_for_selector("#conn[data-mode=live]")

                def acts_in(texts: list[str]) -> list[dict[str, Any]]:
                    messages = [json.loads(text) for text in texts if text]
                    return [message for message in messages if message["type"] == "act"]

                socket_acts, posted_acts = acts_in(switch.sent), acts_in(posted)
                if resent_over == "socket":
                    assert socket_acts and posted_acts == []
                else:
                    assert posted_acts and socket_acts == []
                acts = socket_acts + posted_acts
                assert {message["id"] for message in acts} == set(pending)
                assert all(message["action"] == action for message in acts)
                # Applied once: one action in the server's log, one on the page.
                taken = ann_actions(offset)
                assert [event["action"] for event in taken] == [action]
                assert ann.locator(ANN_ACTED).count() == 1
                assert not ann.is_disabled(button)

        await in_browser(scenario)
        nursery.cancel_scope.cancel()


async def test_sit_out_come_back_top_up_and_leave_from_the_page(
    tmp_path: Path,
) -> None:
    async with served(tmp_path / "web.db") as server:
        table = await new_table(server.api, max_seats=2, action_clock_ms=CLOCK_MS)
        token = await sit(server.api, table, 0, "ann", buy_in=100)

        def my_seat() -> Any:
            return json_view(server, table, token)["seats"][0]

        def scenario() -> None:
            with chromium() as browser:
                ann = new_page(browser, DESKTOP)
                seat_in_page(ann, server, table, token, 0)
                ann.wait_for_selector("#conn[data-mode=live]")
                status = '.seat[data-seat="0"] .status'
                assert ann.is_visible("#controls")
                assert ann.is_hidden("#come-back")
                assert my_seat()["sitting_out"] is False

                ann.click("#sit-out")
                ann.wait_for_selector(f'{status}:text("sitting out")')
                ann.wait_for_selector("#come-back:visible")
                assert ann.is_hidden("#sit-out")
                assert my_seat()["sitting_out"] is True

                ann.click("#come-back")
                ann.wait_for_selector("#sit-out:visible")
                assert ann.inner_text(status) == ""
                assert ann.is_hidden("#come-back")
                assert my_seat()["sitting_out"] is False

                # The top-up field offers the room left under the maximum.
                assert ann.input_value("#top-up-amount") == "100"
                ann.fill("#top-up-amount", "30")
                ann.click("#top-up")
                ann.wait_for_selector('.seat[data-seat="0"] .stack:text-is("130")')
                ann.wait_for_selector('#log-lines li[data-type="chips_added"]')
                assert "ann tops up 30" in ann.inner_text("#log-lines")
                assert my_seat()["stack"] == 130

                ann.click("#leave")
                ann.wait_for_selector('.seat.empty[data-seat="0"] button.sit')
                assert ann.locator(".seat.mine").count() == 0
                assert ann.is_hidden("#controls")
                assert saved_seat(ann, table) is None
                assert "ann leaves with 130" in ann.inner_text("#log-lines")
                assert json_view(server, table)["seats"][0] is None

        await in_browser(scenario)


async def test_a_reload_returns_to_the_seat(tmp_path: Path) -> None:
    async with served(tmp_path / "web.db") as server:
        table = await new_table(server.api, max_seats=3, action_clock_ms=CLOCK_MS)

        def scenario() -> None:
            with chromium() as browser:
                ann = new_page(browser, DESKTOP)
                ann.goto(f"{base_url(server)}/tables/{table}")
                ann.wait_for_selector("#conn[data-mode=live]")
                sit_with_dialog(ann, 1, "ann", 120)
                saved = saved_seat(ann, table)
                assert saved["seat"] == 1 and saved["token"]
                # A second player: hand 1 is dealt, Ann holds two cards.
                from_trio(sit, server.api, table, 2, "bob", buy_in=100)
                ann.wait_for_selector('#hand-number[data-hand="1"]')
                ann.wait_for_selector('.seat[data-seat="1"] .card.face >> nth=1')
                cards = face_cards(ann, 1)
                mine = json_view(server, table, saved["token"])
                assert mine["viewer"] == 1 and mine["seats"][1]["cards"] == cards
                assert len(cards) == 2

                ann.reload()
                ann.wait_for_selector('.seat.mine[data-seat="1"]')
                ann.wait_for_selector("#conn[data-mode=live]")
                ann.wait_for_selector('.seat[data-seat="1"] .card.face >> nth=1')
                assert face_cards(ann, 1) == cards
                assert face_cards(ann, 2) == []
                assert ann.inner_text('.seat[data-seat="1"] .name') == "ann"
                assert ann.is_visible("#controls")
                assert page_state(ann)["hand"] == 1
                assert ann.locator("button.sit").count() == 0
                assert saved_seat(ann, table) == saved
                # The page's turn, if it is, is offered to it again.
                to_act = json_view(server, table)["to_act"]
                assert ann.is_visible("#actions") == (to_act == 1)

        await in_browser(scenario)


async def test_a_table_created_in_the_lobby_is_opened_from_its_list(
    tmp_path: Path,
) -> None:
    async with served(tmp_path / "web.db") as server:

        def scenario() -> None:
            with chromium() as browser:
                page = new_page(browser, DESKTOP)
                page.goto(base_url(server) + "/")
                page.wait_for_selector("#no-tables:visible")
                page.select_option("#max-seats", "4")
                page.fill("#small-blind", "5")
                page.fill("#big-blind", "10")
                page.fill("#min-buy-in", "300")
                page.fill("#max-buy-in", "200")
                page.click("#create button[type=submit]")
                # Refused by the server, whose message the form shows.
                page.wait_for_selector("#create-error:not(:empty)")
                assert page.inner_text("#create-error") == (
                    "the buy-in range must be positive and ordered (min <= max)"
                )
                status, tables = from_trio(server.api.call, "GET", "/tables")
                assert status == 200 and tables == []

                page.fill("#min-buy-in", "100")
                page.fill("#max-buy-in", "1000")
                page.click("#create button[type=submit]")
                page.wait_for_url(re.compile(r"/tables/[^/]+$"))
                table = page.url.rsplit("/", 1)[1]
                page.wait_for_selector("#conn[data-mode=live]")
                assert page.inner_text("#blinds") == "Blinds 5/10"
                status, tables = from_trio(server.api.call, "GET", "/tables")
                assert status == 200 and [entry["table"] for entry in tables] == [table]
                config = tables[0]["config"]
                assert (
                    config["max_seats"],
                    config["small_blind"],
                    config["big_blind"],
                    config["min_buy_in"],
                    config["max_buy_in"],
                ) == (4, 5, 10, 100, 1000)

                page.goto(base_url(server) + "/")
                row = f'tr[data-table="{table}"]'
                page.wait_for_selector(f"{row} td.seats")
                assert page.inner_text(f"{row} td.blinds") == "5/10"
                assert page.inner_text(f"{row} td.seats") == "0/4"
                assert page.inner_text(f"{row} td.hands") == "0"
                page.click(f"{row} a")
                page.wait_for_url(f"{base_url(server)}/tables/{table}")
                page.wait_for_selector("#conn[data-mode=live]")
                assert page.inner_text("#title") == "Table 1"
                assert page.locator(".seat.empty button.sit").count() == 4
                page.click('.seat[data-seat="0"] button.sit')
                assert page.inner_text("#sit-range") == "100 to 1000"

        await in_browser(scenario)


async def test_a_refused_token_falls_back_to_watching(tmp_path: Path) -> None:
    async with served(tmp_path / "web.db") as server:
        table = await new_table(server.api, max_seats=3, action_clock_ms=CLOCK_MS)
        ann_token = await sit(server.api, table, 0, "ann", buy_in=100)

        async def leave(token: str) -> None:
            status, left = await server.api.call(
                "POST",
                f"/tables/{table}/requests",
                body={"type": "leave", "id": "bye"},
                token=token,
            )
            assert status == 200 and left["type"] == "ack", left
            status, refused = await server.api.call(
                "GET", f"/tables/{table}", token=token
            )
            assert status == 401, refused

        # Ann left (alone, so at once): her token holds no seat now.
        await leave(ann_token)
        bob_token = await sit(server.api, table, 1, "bob", buy_in=100)

        def watching(page: Page) -> None:
            notice = page.locator("#notice")
            notice.wait_for(state="visible")
            assert notice.inner_text() == "You are no longer seated: watching."
            page.wait_for_selector("#conn[data-mode=live]")
            assert saved_seat(page, table) is None
            assert page.evaluate(
                "() => [window.pokerdTable.connection.token,"
                " window.pokerdTable.connection.seat]"
            ) == [None, None]
            assert page.locator(".seat.mine").count() == 0
            assert page.is_hidden("#controls")
            assert page.is_hidden("#actions")

        def scenario() -> None:
            with chromium() as browser:
                # Bob's page is seated when his seat goes (left through the
                # API): the server closes its socket with 4003.
                bob = new_page(browser, DESKTOP)
                seat_in_page(bob, server, table, bob_token, 1)
                bob.wait_for_selector("#conn[data-mode=live]")
                assert bob.is_visible("#controls")
                from_trio(leave, bob_token)
                bob.wait_for_selector('.seat.empty[data-seat="1"] button.sit')
                watching(bob)

                from_trio(sit, server.api, table, 1, "cid", buy_in=100)
                from_trio(sit, server.api, table, 2, "dan", buy_in=100)
                # Ann's page still keeps the token from before she left: its
                # hello is refused (bad_token) and it says hello as a spectator.
                ann = new_page(browser, DESKTOP)
                ann.goto(base_url(server) + "/")
                ann.evaluate(
                    "([table, seated]) => localStorage.setItem("
                    "`pokerd.seat.${table}`, JSON.stringify(seated))",
                    [table, {"token": ann_token, "seat": 0}],
                )
                ann.goto(f"{base_url(server)}/tables/{table}")
                ann.wait_for_selector('#hand-number[data-hand="1"]')
                watching(ann)
                bob.wait_for_selector('#hand-number[data-hand="1"]')
                assert json_view(server, table)["hand_in_progress"] is True
                # Spectators: no hole cards, backs for the two in the hand.
                for page in (ann, bob):
                    assert page.locator(".card.face").count() == 0
                    for seat in (1, 2):
                        backs = page.locator(f'.seat[data-seat="{seat}"] .card.back')
                        assert backs.count() == 2
                    assert page.is_visible('.seat.empty[data-seat="0"] button.sit')

        await in_browser(scenario)


async def test_the_pages_play_under_their_policy_with_the_stream_on_its_own_port(
    tmp_path: Path,
) -> None:
    # The live stream on another port than the page's: the page's policy
    # must name it, or the browser refuses the socket and the page polls.
    async with served(tmp_path / "web.db", live_port=0) as server:
        table = await new_table(server.api, max_seats=2, action_clock_ms=CLOCK_MS)

        def scenario() -> None:
            with chromium() as browser:
                page = new_page(browser, DESKTOP)
                lobby = page.goto(base_url(server) + "/")
                assert lobby is not None
                page.wait_for_selector(f'tr[data-table="{table}"] td.seats')
                answer = page.goto(f"{base_url(server)}/tables/{table}")
                assert answer is not None
                page.wait_for_selector("#conn[data-mode=live]")
                sit_with_dialog(page, 0, "ann", 100)
                for loaded in (lobby, answer):
                    policy = loaded.header_value("content-security-policy")
                    assert policy is not None and server.live in policy
                    assert loaded.header_value("x-frame-options") == "DENY"

        await in_browser(scenario)
