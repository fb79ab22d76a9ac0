"""The lobby and the pages around it in a real browser (Playwright, Debian's
Chromium, a real server): live changes, filters, the create form's field
errors, the phone layout, a stopped table, the page for a missing table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trio
from playwright.sync_api import Page
from served import Served, new_table, served, sit
from test_web import (
    CLOCK_MS,
    DESKTOP,
    PHONE,
    SCREENSHOTS,
    base_url,
    chromium,
    from_trio,
    in_browser,
    new_page,
    start_bots,
)

from pokerd.engine import SitDown
from pokerd.store import EventStore, load_table
from pokerd.tables.table import Table

LONG_NAME = "The longest table name a lobby can show!"
"""40 characters: the most a name holds."""


def row(table: str) -> str:
    return f'#tables tr[data-table="{table}"]'


def cell(page: Page, table: str, name: str) -> str:
    """A cell's text as written (its CSS may show it in capitals)."""
    return page.text_content(f"{row(table)} .{name}") or ""


def shown_tables(page: Page) -> list[str]:
    tables: list[str] = page.eval_on_selector_all(
        "#tables tbody tr", "rows => rows.map(r => r.dataset.table)"
    )
    return tables


def wait_for_text(page: Page, selector: str, text: str) -> None:
    page.wait_for_function(
        "([selector, text]) => document.querySelector(selector)?.textContent === text",
        arg=[selector, text],
    )


async def stop_table(server: Served, db: Path, table: str) -> None:
    """Have the server's supervisor stop `table`: another writer appends to its
    log, so the server's next append there conflicts (docs/design.md,
    Supervision)."""
    with EventStore(db, claim=False) as intruder_store:
        loaded = await intruder_store.read(load_table, table)
        assert loaded is not None
        intruder = Table(table, intruder_store, loaded)
        seat = loaded.state.seats.index(None)
        await intruder.execute(SitDown(seat=seat, name="intruder", buy_in=100))
    status, refused = await server.api.call(
        "POST",
        f"/tables/{table}/seats",
        body={"seat": seat, "name": "late", "buy_in": 100},
    )
    assert (status, refused["code"]) == (503, "table_stopped"), refused


async def test_the_lobby_follows_the_tables_live_and_filters_them(
    tmp_path: Path,
) -> None:
    async with served(tmp_path / "web.db") as server:
        first = await new_table(server.api, action_clock_ms=CLOCK_MS)
        created: dict[str, str] = {}

        async def create_high_rollers() -> None:
            status, answer = await server.api.call(
                "POST",
                "/tables",
                body={
                    "name": "High rollers",
                    "max_seats": 2,
                    "small_blind": 5,
                    "big_blind": 10,
                    "min_buy_in": 100,
                    "max_buy_in": 1000,
                    "action_clock_ms": CLOCK_MS,
                },
            )
            assert status == 201, answer
            created["high"] = answer["table"]

        def scenario() -> None:
            with chromium() as browser:
                page = new_page(browser, DESKTOP)
                page.goto(base_url(server) + "/")
                page.wait_for_selector(row(first))
                assert cell(page, first, "title") == "Table 1"
                # Marks this document: a reload would lose it.
                page.evaluate("() => { window.notReloaded = true; }")

                from_trio(create_high_rollers)
                high = created["high"]
                page.wait_for_selector(row(high))
                assert cell(page, high, "title") == "High rollers"
                assert cell(page, high, "blinds") == "5/10"
                assert cell(page, high, "seats") == "0/2"
                assert shown_tables(page) == [high, first], "ordered by name"

                from_trio(sit, server.api, high, 0, "ann", buy_in=100)
                wait_for_text(page, f"{row(high)} .seats", "1/2")
                from_trio(sit, server.api, high, 1, "bob", buy_in=100)
                wait_for_text(page, f"{row(high)} .seats", "2/2")
                assert cell(page, high, "badge") == "full"
                assert page.inner_text(f"{row(high)} a") == "Watch"

                # A spectator's page on the first table is counted, then not.
                watcher = new_page(browser, DESKTOP)
                watcher.goto(f"{base_url(server)}/tables/{first}")
                watcher.wait_for_selector("#conn[data-mode=live]")
                wait_for_text(page, f"{row(first)} .watching", "1")
                watcher.close()
                wait_for_text(page, f"{row(first)} .watching", "0")

                page.select_option("#filter-blinds", "5/10")
                assert shown_tables(page) == [high]
                assert page.inner_text("#shown") == "1 of 2 tables shown"
                page.check("#filter-open")
                assert shown_tables(page) == []
                assert page.is_visible("#none-shown")
                page.select_option("#filter-blinds", "")
                assert shown_tables(page) == [first]

                assert page.evaluate("() => window.notReloaded") is True

        await in_browser(scenario)


async def test_an_empty_or_broken_number_is_said_next_to_its_field(
    tmp_path: Path,
) -> None:
    async with served(tmp_path / "web.db") as server:

        def scenario() -> None:
            with chromium() as browser:
                page = new_page(browser, DESKTOP)
                page.goto(base_url(server) + "/")
                page.wait_for_selector("#no-tables:visible")
                page.fill("#min-buy-in", "")
                page.fill("#big-blind", "2.5")
                page.click("#create button[type=submit]")
                page.screenshot(path=SCREENSHOTS / "lobby-field-errors-desktop.png")
                assert page.inner_text("#min-buy-in-error") == (
                    "Enter the minimum buy-in, in chips."
                )
                assert page.inner_text("#big-blind-error") == "A whole number of chips."
                assert page.get_attribute("#min-buy-in", "aria-invalid") == "true"
                assert page.inner_text("#small-blind-error") == ""
                assert page.inner_text("#create-error") == ""
                body = page.inner_text("body")
                assert "expected int" not in body and "$." not in body
                status, tables = from_trio(server.api.call, "GET", "/tables")
                assert (status, tables) == (200, []), "nothing was sent"

                # Mended, the field's message goes as it is typed.
                page.fill("#min-buy-in", "40")
                assert page.inner_text("#min-buy-in-error") == ""
                page.fill("#big-blind", "2")
                page.fill("#table-name", "  Friday game ")
                page.click("#create button[type=submit]")
                wait_for_text(page, "#title", "Friday game")

        await in_browser(scenario)


async def test_an_unknown_table_gets_a_404_page_that_leads_to_the_lobby(
    tmp_path: Path,
) -> None:
    async with served(tmp_path / "web.db") as server:

        def scenario() -> None:
            with chromium() as browser:
                desktop = new_page(browser, DESKTOP)
                answer = desktop.goto(base_url(server) + "/tables/nope")
                assert answer is not None and answer.status == 404
                desktop.screenshot(path=SCREENSHOTS / "missing-desktop.png")
                page = new_page(browser, PHONE, is_mobile=True)
                answer = page.goto(base_url(server) + "/tables/nope")
                assert answer is not None and answer.status == 404
                assert page.inner_text("h2") == "No table here"
                page.screenshot(path=SCREENSHOTS / "missing-phone.png")
                page.click("#to-lobby")
                page.wait_for_url(base_url(server) + "/")
                page.wait_for_selector("#no-tables:visible")
                icon = page.request.get(base_url(server) + "/favicon.ico")
                assert icon.status == 200
                assert icon.headers["content-type"] == "image/vnd.microsoft.icon"

        await in_browser(scenario)


async def test_a_stopped_table_is_marked_and_its_page_keeps_saying_it_is_gone(
    tmp_path: Path,
) -> None:
    db = tmp_path / "web.db"
    async with served(db) as server:
        live = await new_table(server.api, action_clock_ms=CLOCK_MS)
        table = await new_table(server.api, action_clock_ms=CLOCK_MS)
        await sit(server.api, table, 0, "ann")

        def scenario() -> None:
            with chromium() as browser:
                lobby = new_page(browser, DESKTOP)
                lobby.goto(base_url(server) + "/")
                lobby.wait_for_selector(row(table))
                watcher = new_page(browser, DESKTOP)
                watcher.clock.install()
                watcher.goto(f"{base_url(server)}/tables/{table}")
                watcher.wait_for_selector("#conn[data-mode=live]")

                from_trio(stop_table, server, db, table)

                lobby.wait_for_selector(f"{row(table)}.stopped")
                assert cell(lobby, table, "badge") == "stopped"
                assert lobby.inner_text(f"{row(table)} a") == "Look"
                assert lobby.get_attribute(f"{row(live)}", "class") in ("", None)
                watcher.wait_for_selector("#notice:has-text('This table is gone.')")
                # The notice that other errors show for 8 s stays here.
                watcher.clock.fast_forward(20_000)
                assert watcher.is_visible("#notice")
                assert watcher.inner_text("#notice").startswith("This table is gone.")
                assert watcher.inner_text("#conn") == "TABLE GONE"
                watcher.screenshot(path=SCREENSHOTS / "table-gone-desktop.png")
                watcher.click("#notice a")
                watcher.wait_for_url(base_url(server) + "/")
                watcher.wait_for_selector(f"{row(table)}.stopped")

        await in_browser(scenario)


async def test_the_lobby_fits_a_phone_and_is_photographed(tmp_path: Path) -> None:
    db = tmp_path / "web.db"
    async with served(db) as server, trio.open_nursery() as nursery:
        playing = await new_table(server.api, action_clock_ms=CLOCK_MS)
        await start_bots(nursery, server, playing, [0, 1, 2])
        configs: list[dict[str, Any]] = [
            {"name": "High rollers", "max_seats": 2, "small_blind": 50_000},
            {"name": LONG_NAME, "max_seats": 9, "small_blind": 5},
            {"name": "Night owls", "max_seats": 6, "small_blind": 2},
        ]
        tables = []
        for config in configs:
            big = config["small_blind"] * 2
            tables.append(
                await new_table(
                    server.api,
                    **config,
                    big_blind=big,
                    min_buy_in=big * 20,
                    max_buy_in=big * 100,
                    action_clock_ms=CLOCK_MS,
                )
            )
        high, long_named, stopped = tables
        await sit(server.api, high, 0, "ann", buy_in=2_000_000)
        await sit(server.api, high, 1, "bob", buy_in=2_000_000)
        await sit(server.api, stopped, 0, "cid", buy_in=100)
        await stop_table(server, db, stopped)

        def scenario() -> None:
            with chromium() as browser:
                desktop = new_page(browser, DESKTOP)
                desktop.goto(base_url(server) + "/")
                desktop.wait_for_selector(f"{row(stopped)}.stopped")
                # The bots' table has a pace once two hands have ended.
                desktop.wait_for_function(
                    "(row) => /^[\\d,]+$/.test(document.querySelector(row + ' .pace')"
                    "?.textContent ?? '')",
                    arg=row(playing),
                )
                watcher = new_page(browser, DESKTOP)
                watcher.goto(f"{base_url(server)}/tables/{long_named}")
                watcher.wait_for_selector("#conn[data-mode=live]")
                wait_for_text(desktop, f"{row(long_named)} .watching", "1")
                assert cell(desktop, high, "blinds") == "50K/100K"
                desktop.screenshot(path=SCREENSHOTS / "lobby-desktop.png")

                phone = new_page(browser, PHONE, is_mobile=True, has_touch=True)
                phone.goto(base_url(server) + "/")
                phone.wait_for_selector(f"{row(stopped)}.stopped")
                wait_for_text(phone, f"{row(long_named)} .watching", "1")
                phone.screenshot(path=SCREENSHOTS / "lobby-phone.png", full_page=True)
                overflow = phone.evaluate(
                    "() => [...document.querySelectorAll('.panel')].map("
                    "p => p.scrollWidth - p.clientWidth)"
                    ".concat([document.documentElement.scrollWidth - innerWidth])"
                )
                assert overflow == [0, 0, 0], "nothing is wider than its card"
                for table in (playing, *tables):
                    for name in ("hands", "pace", "seats", "blinds"):
                        assert phone.is_visible(f"{row(table)} .{name}")
                hands = phone.inner_text(f"{row(playing)} .hands")
                assert hands.replace(",", "").isdigit()

        await in_browser(scenario)
        nursery.cancel_scope.cancel()
