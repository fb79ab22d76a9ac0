"""Closing tables in a real browser (Playwright, Debian's Chromium): a creator
closes a table from its page, and a person plays among `pokerd bots` at an
open seat until the bots end, leave and close their table.

The bots' test runs `pokerd serve` and `pokerd bots` as processes, as a
person would use them."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import trio
from playwright.sync_api import Page
from served import STEP_S, log_file, pokerd_env, pokerd_serve, served, sit, stop
from test_web import (
    ANN_ACTED,
    DESKTOP,
    PHONE,
    SCREENSHOTS,
    base_url,
    chromium,
    from_trio,
    in_browser,
    json_view,
    new_page,
    sit_with_dialog,
    until,
)

BOT_SECONDS = 120
"""The bots' own bound: the test ends them sooner, by SIGTERM, once the
person has played."""


def says_closed(page: Page) -> None:
    """The page says the table is closed, for good, with the way back, and
    offers nothing to play."""
    page.wait_for_selector("#notice[data-kind=gone]:has-text('This table is closed.')")
    assert page.inner_text("#conn") == "CLOSED"
    assert page.inner_text("#hand-number") == "Closed"
    assert page.is_visible("#action-area #notice")  # where the actions were
    assert not page.is_visible("#waiting-note")
    assert page.locator("#seats button").count() == 0  # no seat to take
    for hidden in ("#actions", "#pre-actions", "#controls", "#close-table"):
        assert not page.is_visible(hidden), hidden
    assert page.get_attribute("#notice a", "href") == "/"


async def test_the_creator_closes_the_table_from_its_page(tmp_path: Path) -> None:
    async with served(tmp_path / "web.db") as server:

        def scenario() -> None:
            with chromium() as browser:
                creator = new_page(browser, DESKTOP)
                creator.goto(base_url(server) + "/")
                creator.fill("#table-name", "Closing time")
                creator.select_option("#max-seats", "4")
                creator.click("#create button[type=submit]")
                creator.wait_for_url(re.compile(r"/tables/[^/]+$"))
                creator.wait_for_selector("#conn[data-mode=live]")
                table = creator.url.rsplit("/", 1)[1]
                kept = creator.evaluate(
                    "(table) => localStorage.getItem(`pokerd.creator.${table}`)", table
                )
                assert kept, "the creator token is kept per table"
                creator.wait_for_selector("#close-table:visible")
                sit_with_dialog(creator, 0, "ann", 100)
                bob = from_trio(sit, server.api, table, 1, "bob")

                watcher = new_page(browser, PHONE, is_mobile=True, has_touch=True)
                watcher.goto(f"{base_url(server)}/tables/{table}")
                watcher.wait_for_selector("#conn[data-mode=live]")
                assert not watcher.is_visible("#close-table")  # not its creator
                watcher.wait_for_selector("button.sit")
                for page in (creator, watcher):
                    page.wait_for_selector('#hand-number[data-in-progress="true"]')

                # Cancelled, nothing happens; confirmed, the hand plays on.
                creator.click("#close-table")
                assert creator.is_visible("#close-dialog")
                creator.click("#close-cancel")
                assert not creator.is_visible("#close-dialog")
                assert not json_view(server, table)["closing"]
                creator.click("#close-table")
                creator.screenshot(path=SCREENSHOTS / "table-close-dialog-desktop.png")
                creator.click("#close-confirm")
                for page in (creator, watcher):
                    page.wait_for_selector("#closing:visible")
                    assert page.inner_text("#closing") == "Closing after this hand"
                    page.wait_for_selector('#log-lines li[data-type="table_closing"]')
                assert json_view(server, table)["closing"]
                assert not creator.is_visible("#close-table")
                # Nobody may sit down while it closes.
                assert watcher.locator("button.sit").count() == 0
                assert "closes after this hand" in watcher.inner_text("#waiting-note")
                creator.screenshot(path=SCREENSHOTS / "table-closing-desktop.png")

                # The hand ends (one fold, heads-up): everyone is cashed out.
                view = json_view(server, table)
                if view["to_act"] == 0:
                    creator.wait_for_selector("#fold:visible")
                    creator.click("#fold")
                else:
                    body = {"type": "act", "id": "f", "action": "fold"}
                    status, _ = from_trio(
                        server.api.call,
                        "POST",
                        f"/tables/{table}/requests",
                        body=body,
                        token=bob,
                    )
                    assert status == 200
                for page in (creator, watcher):
                    says_closed(page)
                    assert not page.is_visible("#closing")
                    assert page.locator(".seat.empty").count() == 4
                    log = page.inner_text("#log-lines")
                    assert "ann leaves with" in log and "bob leaves with" in log
                    assert "The table is closed" in log
                watcher.screenshot(path=SCREENSHOTS / "table-closed-phone.png")
                for key in ("creator", "seat"):
                    kept = creator.evaluate(
                        "([key, id]) => localStorage.getItem(`pokerd.${key}.${id}`)",
                        [key, table],
                    )
                    assert kept is None, f"the {key} token of a closed table is gone"
                # A page opened on the closed table says so too.
                late = new_page(browser, DESKTOP)
                late.goto(f"{base_url(server)}/tables/{table}")
                says_closed(late)
                late.click("#notice a")
                late.wait_for_url(base_url(server) + "/")
                late.wait_for_selector("#no-tables:visible")

        await in_browser(scenario)


async def test_a_person_plays_at_an_open_seat_among_bots_until_they_leave(
    tmp_path: Path,
) -> None:
    db, log = tmp_path / "web.db", tmp_path / "serve.log"
    async with pokerd_serve(db, log) as server:
        url = f"http://127.0.0.1:{server.api.port}"
        command = [sys.executable, "-m", "pokerd", "bots", "--url", url]
        command += ["--tables", "2", "--seats", "3", "--open-seats", "1"]
        command += ["--think", "0.05", "--seconds", str(BOT_SECONDS)]
        with log_file(tmp_path / "bots.out") as output:
            bots = await trio.lowlevel.open_process(
                command, stdout=output, stderr=output, env=pokerd_env()
            )
        try:

            def scenario() -> None:
                with chromium() as browser:
                    page = new_page(browser, DESKTOP)
                    page.goto(url + "/")
                    # Both tables of the bots, each with one seat open.
                    page.wait_for_function(
                        "() => [...document.querySelectorAll('#tables td.seats')]"
                        ".filter(cell => cell.textContent === '2/3').length === 2"
                    )
                    page.check("#filter-open")
                    assert page.locator("#tables tbody tr:visible").count() == 2
                    page.click("#tables tbody tr >> nth=0 >> a")
                    page.wait_for_selector("#conn[data-mode=live]")
                    assert page.locator("button.sit").count() == 1
                    seat = int(
                        page.get_attribute(".seat:has(button.sit)", "data-seat") or ""
                    )
                    sit_with_dialog(page, seat, "ann", 100)
                    # Dealt in at a later hand; plays (checks or calls) once.
                    until(lambda: page.locator(ANN_ACTED).count() > 0, [page])
                    bot_names = [
                        name
                        for name in page.locator(".seat .plate .name").all_inner_texts()
                        if name != "ann"
                    ]
                    assert len(bot_names) == 2

                    # The bots end: they leave, and their table closes (a hand
                    # ann is in plays on to its end, ann checking or calling).
                    bots.terminate()
                    until(
                        lambda: page.is_visible("#notice[data-kind=gone]"),
                        [page],
                    )
                    says_closed(page)
                    text = page.inner_text("#log-lines")
                    for name in bot_names:
                        assert f"{name} leaves with" in text
                    assert "ann leaves with" in text
                    assert page.locator(".seat.empty").count() == 3

            await in_browser(scenario)
            with trio.fail_after(STEP_S):
                code = await bots.wait()
        finally:
            if bots.returncode is None:
                bots.kill()
        printed = (tmp_path / "bots.out").read_text()
        assert code == 0, printed
        assert await server.api.json("GET", "/tables") == []
        await stop(server.process, log)
    assert "tables closed: 2" in printed, printed
