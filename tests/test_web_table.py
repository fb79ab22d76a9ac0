"""The web table as a player sees it: pots, labels, showdowns, keys and pre-actions.

A real server in this process, Debian's Chromium through Playwright (the
helpers of test_web.py); the hands are dealt from stacked decks, and the
seats the browsers do not play are played through the HTTP API, so each
situation is built exactly.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from gwt import SECRET, stacked_deck
from playwright.sync_api import Page
from served import Served, new_table, served, sit
from test_web import (
    ANN_ACTED,
    CLOCK_MS,
    DESKTOP,
    PHONE,
    SCREENSHOTS,
    base_url,
    chromium,
    from_trio,
    in_browser,
    json_view,
    new_page,
    result_lines,
    seat_in_page,
)

from pokerd.engine import RuleError, StartHand

request_ids = itertools.count()


class StackedDealer:
    """Stands in for `pokerd.tables.dealer.start_hand` in the table's shell:
    deals one hand from a stacked deck once `open`, and no other, so a test
    seats everyone before the first deal and its last hand stays on screen."""

    def __init__(self, holes: list[str], board: str) -> None:
        self.deck = stacked_deck(holes, board)
        self.open = False
        self.dealt = 0

    def __call__(self, now_ms: int) -> StartHand:
        if not self.open or self.dealt:
            raise RuleError("held", "the test deals no hand now")
        self.dealt += 1
        return StartHand(deck=self.deck, secret=SECRET, now_ms=now_ms)


def stacked(
    monkeypatch: pytest.MonkeyPatch, holes: list[str], board: str
) -> StackedDealer:
    dealer = StackedDealer(holes, board)
    monkeypatch.setattr("pokerd.tables.table.start_hand", dealer)
    return dealer


async def seat_three(
    server: Served, table: str, dealer: StackedDealer, buy_ins: list[int]
) -> list[str]:
    """Seats 0, 1 and 2 (named ann, bot1, bob) with their buy-ins; the one
    hand is dealt to all three, seat 2 on the button (first to act)."""
    names = ["ann", "bot1", "bob"]
    tokens = []
    for seat, (name, buy_in) in enumerate(zip(names, buy_ins, strict=True)):
        dealer.open = seat == 2
        tokens.append(await sit(server.api, table, seat, name, buy_in=buy_in))
    return tokens


def act(
    server: Served, table: str, token: str, action: str, amount: int | None = None
) -> None:
    """A seat's action through the API (a seat no browser plays)."""
    body = {"type": "act", "action": action, "amount": amount}
    status, answer = from_trio(
        server.api.call,
        "POST",
        f"/tables/{table}/requests",
        body={**body, "id": f"t-{next(request_ids)}"},
        token=token,
    )
    assert status == 200 and answer["type"] == "ack", answer


def box(page: Page, selector: str) -> dict[str, float]:
    found = page.locator(selector).bounding_box()
    assert found is not None, f"{selector} is not laid out"
    return {
        "x": found["x"],
        "y": found["y"],
        "width": found["width"],
        "height": found["height"],
    }


def marked(page: Page, selector: str) -> list[str]:
    cards: list[str] = page.eval_on_selector_all(
        f"{selector} .card.best", "cards => cards.map(c => c.dataset.card)"
    )
    return sorted(cards)


def logged_text(page: Page) -> str:
    return page.inner_text("#log-lines")


async def test_a_showdown_names_each_hand_marks_its_cards_and_says_who_won_each_pot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ann (seat 0) two pair, bot1 (seat 1, short) a flush, Bob (seat 2) a
    # pair: all in pre-flop, bot1 takes the main pot and Ann the side pot.
    dealer = stacked(monkeypatch, ["AcTc", "Ks9s", "Kh7d"], "AhTd7s4s2s")
    async with served(tmp_path / "web.db") as server:
        table = await new_table(server.api, max_seats=3, action_clock_ms=CLOCK_MS)
        ann_token, bot_token, bob_token = await seat_three(
            server, table, dealer, [100, 40, 100]
        )

        def scenario() -> None:
            with chromium() as browser:
                ann = new_page(browser, DESKTOP)
                bob = new_page(browser, PHONE, is_mobile=True, has_touch=True)
                # Both join mid-hand: the log shows the hand so far.
                seat_in_page(bob, server, table, bob_token, 2)
                seat_in_page(ann, server, table, ann_token, 0)
                for page in (ann, bob):
                    page.wait_for_selector('#log-lines li[data-type="hand_dealt"]')
                    assert "— Hand #1 — bob has the button" in logged_text(page)
                # The total pot pre-flop (the blinds), each bet beside its seat.
                bob.wait_for_selector("#actions:visible")
                assert ann.inner_text("#pot-total") == "Pot 3"
                assert ann.inner_text('.seat[data-seat="0"] .bet') == "1"
                assert ann.inner_text('.seat[data-seat="1"] .bet') == "2"
                assert ann.locator('.seat[data-seat="2"] .bet').count() == 0
                assert ann.is_visible("#pre-actions")
                bob.screenshot(path=SCREENSHOTS / "table-to-act-phone.png")

                bob.click("#call")
                ann.wait_for_selector("#actions:visible")
                ann.wait_for_selector('#pot-total:text-is("Pot 5")')
                assert ann.inner_text('.seat[data-seat="2"] .bet') == "2"
                ann.screenshot(path=SCREENSHOTS / "table-to-act-desktop.png")
                ann.click("#all-in-size")
                ann.click("#raise")
                ann.wait_for_selector(ANN_ACTED)
                act(server, table, bot_token, "call")
                bob.wait_for_selector("#actions:visible")
                bob.click("#call")

                over = '#hand-number[data-hand="1"][data-in-progress="false"]'
                for page in (ann, bob):
                    page.wait_for_selector(over)
                view = json_view(server, table)
                expected = [
                    "Main pot: bot1 wins 120 with Flush, king high",
                    "Side pot: ann wins 120 with Two pair, aces and tens",
                ]
                assert result_lines(view) == expected
                names = {
                    0: "Two pair, aces and tens",
                    1: "Flush, king high",
                    2: "Pair of sevens",
                }
                for page in (ann, bob):
                    assert (
                        page.locator("#results .winner").all_inner_texts() == expected
                    )
                    for seat, name in names.items():
                        named = f'.seat[data-seat="{seat}"] .hand-name'
                        assert page.inner_text(named) == name
                    # Each shown hand's own cards in its best five are marked.
                    assert marked(page, '.seat[data-seat="1"]') == ["9s", "Ks"]
                    assert marked(page, '.seat[data-seat="0"]') == ["Ac", "Tc"]
                    # The board marks the main pot's winning five first.
                    assert marked(page, "#board") == ["2s", "4s", "7s"]
                    assert "Main pot: bot1 wins 120" in page.inner_text("#log-lines")
                    # The log, scrolled to its end, shows whole lines only.
                    top, shown, lines = page.eval_on_selector(
                        "#log-lines",
                        "log => [log.scrollTop, log.clientHeight, log.children.length]",
                    )
                    assert lines > 8 and top > 0
                    assert shown == 160 and top % 20 == 0
                # Seats and cards are named for screen readers.
                said = ann.get_attribute('.seat[data-seat="0"]', "aria-label") or ""
                assert said.startswith("Seat 1: ann (you), 120 chips")
                assert said.endswith("Two pair, aces and tens")
                first_card = '.seat[data-seat="0"] .card >> nth=0'
                assert ann.get_attribute(first_card, "aria-label") == "Ace of clubs"
                assert ann.get_attribute("#fold", "aria-keyshortcuts") == "F"
                # The side pot's line, pointed at, marks Ann's five instead.
                ann.screenshot(path=SCREENSHOTS / "table-showdown-desktop.png")
                bob.screenshot(path=SCREENSHOTS / "table-showdown-phone.png")
                ann.screenshot(
                    path=SCREENSHOTS / "table-showdown-log-desktop.png", full_page=True
                )
                ann.hover("#results .winner >> nth=1")
                assert marked(ann, "#board") == ["7s", "Ah", "Td"]

        await in_browser(scenario)


async def test_keys_pre_actions_a_fixed_action_area_and_the_folded_label(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The browser plays Bob on the button (seat 2, first to act pre-flop);
    # seats 0 and 1 are played through the API.
    dealer = stacked(monkeypatch, ["2c3d", "4h5s", "AsKs"], "9h8d2h3cJc")
    async with served(tmp_path / "web.db") as server:
        table = await new_table(server.api, max_seats=3, action_clock_ms=CLOCK_MS)
        sb, bb, bob_token = await seat_three(server, table, dealer, [100, 100, 100])
        bob_acted = '#log-lines li[data-type="action_taken"]:has-text("bob")'

        def bob_actions(bob: Page) -> list[str]:
            lines: list[str] = bob.locator(bob_acted).all_inner_texts()
            return lines

        def scenario() -> None:
            with chromium() as browser:
                bob = new_page(browser, DESKTOP)
                seat_in_page(bob, server, table, bob_token, 2)
                bob.wait_for_selector("#actions:visible")
                # My turn: a chime (unmuted by default) and a flashing title.
                assert bob.evaluate("() => window.pokerdTable.alert.chimes") == 1
                assert bob.title().startswith("▶ Your turn")
                controls = box(bob, "#controls")

                # R goes to the amount, the arrows step it by a big blind,
                # Enter confirms it.
                assert bob.input_value("#amount") == "4"
                bob.keyboard.press("r")
                assert bob.evaluate("() => document.activeElement.id") == "amount"
                bob.keyboard.press("ArrowUp")
                bob.keyboard.press("ArrowUp")
                assert bob.input_value("#amount") == "8"
                bob.keyboard.press("ArrowDown")
                assert bob.input_value("#amount") == "6"
                bob.keyboard.press("Enter")
                bob.wait_for_selector(f'{bob_acted}:has-text("raises to 6")')
                bob.wait_for_selector("#pre-actions:visible")
                # The action area kept its room: nothing below it moved.
                assert not bob.is_visible("#actions")
                assert box(bob, "#controls") == controls
                assert not bob.title().startswith("▶")

                # A pre-action chosen is cleared when the price changes: when
                # the turn comes, it is Bob's to choose again.
                act(server, table, sb, "raise", 20)
                bob.wait_for_selector('#pre-call-label:text-is("Call 14")')
                bob.click("#pre-call")
                assert bob.is_checked("#pre-call")
                act(server, table, bb, "raise", 40)
                bob.wait_for_selector("#actions:visible")
                assert bob_actions(bob) == ["bob raises to 6"]
                assert not bob.is_checked("#pre-call")
                assert bob.evaluate("() => window.pokerdTable.alert.chimes") == 2
                # C calls.
                bob.keyboard.press("c")
                bob.wait_for_selector(f'{bob_acted}:has-text("calls 34")')
                assert box(bob, "#controls") == controls

                # The flop: "Call any" is played by itself when the turn comes.
                act(server, table, sb, "call")
                bob.wait_for_selector('#log-lines li[data-type="board_dealt"]')
                bob.wait_for_selector("#pre-actions:visible")
                bob.click("#pre-call-any")
                act(server, table, sb, "bet", 10)
                act(server, table, bb, "call")
                bob.wait_for_selector(f'{bob_acted}:has-text("calls 10")')
                assert bob_actions(bob)[-1] == "bob calls 10"
                assert not bob.is_checked("#pre-call-any")
                assert box(bob, "#controls") == controls

                # The turn: no fold when checking is free; C checks.
                bob.wait_for_selector(
                    '#log-lines li[data-type="board_dealt"]:has-text("Turn")'
                )
                act(server, table, sb, "check")
                act(server, table, bb, "check")
                bob.wait_for_selector("#actions:visible")
                assert bob.is_hidden("#fold")
                bob.screenshot(path=SCREENSHOTS / "table-to-act-turn-desktop.png")
                bob.keyboard.press("f")
                bob.keyboard.press("c")
                bob.wait_for_selector(f'{bob_acted}:has-text("checks")')
                assert bob_actions(bob)[-1] == "bob checks"

                # The river: facing a bet, F folds; the seat says so.
                bob.wait_for_selector(
                    '#log-lines li[data-type="board_dealt"]:has-text("River")'
                )
                act(server, table, sb, "check")
                act(server, table, bb, "bet", 10)
                bob.wait_for_selector("#actions:visible")
                bob.keyboard.press("f")
                bob.wait_for_selector(f'{bob_acted}:has-text("folds")')
                mine = '.seat[data-seat="2"]'
                bob.wait_for_selector(f'{mine} .status:text-is("folded")')
                assert bob.get_attribute(f"{mine} .status", "data-kind") == "folded"
                # My own cards stay in view, dimmed.
                assert bob.locator(f"{mine} .card.face").count() == 2
                opacity = bob.eval_on_selector(
                    f"{mine} .hole", "hole => getComputedStyle(hole).opacity"
                )
                assert float(opacity) < 1
                assert "folded" in (bob.get_attribute(mine, "aria-label") or "")
                assert box(bob, "#controls") == controls
                bob.screenshot(path=SCREENSHOTS / "table-folded-desktop.png")

                # The mute toggle is remembered by the browser.
                bob.click("#mute")
                assert bob.get_attribute("#mute", "aria-pressed") == "true"
                bob.reload()
                bob.wait_for_selector('#mute[aria-pressed="true"]')

        await in_browser(scenario)
        status, view = await server.api.call("GET", f"/tables/{table}")
        assert status == 200 and view["seats"][2]["folded"] is True


async def test_the_labels_of_seats_sitting_out_all_in_and_waiting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dealer = stacked(monkeypatch, ["2c3d", "4h5s", "AsKs"], "9h8d2h3cJc")
    async with served(tmp_path / "web.db") as server:
        table = await new_table(server.api, max_seats=5, action_clock_ms=CLOCK_MS)
        ann, _, bob = await seat_three(server, table, dealer, [100, 100, 40])

        async def request(token: str, body: dict[str, Any]) -> None:
            status, answer = await server.api.call(
                "POST",
                f"/tables/{table}/requests",
                body={**body, "id": f"t-{next(request_ids)}"},
                token=token,
            )
            assert status == 200 and answer["type"] == "ack", answer

        await request(bob, {"type": "act", "action": "raise", "amount": 40})
        await request(ann, {"type": "sit_out"})
        # Cid buys in for the maximum: there is no room to top up.
        cid = await sit(server.api, table, 3, "cid", buy_in=200)

        def scenario() -> None:
            with chromium() as browser:
                mine = new_page(browser, PHONE, is_mobile=True, has_touch=True)
                seat_in_page(mine, server, table, cid, 3)
                mine.wait_for_selector('#hand-number[data-hand="1"]')
                labels = {
                    seat: mine.text_content(f'.seat[data-seat="{seat}"] .status')
                    for seat in range(4)
                }
                assert labels == {
                    0: "sitting out",
                    1: "",
                    2: "all in",
                    3: "waiting for big blind",
                }
                # No "0" to top up by: the field is empty, and says why.
                assert mine.input_value("#top-up-amount") == ""
                assert mine.get_attribute("#top-up-amount", "placeholder") == "at max"
                assert mine.is_disabled("#top-up")
                gap = box(mine, "#top-up")["x"] - (
                    box(mine, "#top-up-amount")["x"]
                    + box(mine, "#top-up-amount")["width"]
                )
                assert gap >= 4
                mine.screenshot(path=SCREENSHOTS / "table-labels-phone.png")

                # The sit-down dialog's buy-in label stays on one line.
                page = new_page(browser, PHONE, is_mobile=True, has_touch=True)
                page.goto(f"{base_url(server)}/tables/{table}")
                page.click('.seat[data-seat="4"] button.sit')
                label = box(page, "#sit-form .label-text")
                font = float(
                    page.eval_on_selector(
                        "#sit-form .label-text",
                        "text => getComputedStyle(text).fontSize",
                    ).removesuffix("px")
                )
                assert label["height"] < 2 * font  # one line, not three
                assert page.inner_text("#sit-form .label-text") == "Buy-in (40 to 200)"
                page.screenshot(path=SCREENSHOTS / "table-sit-dialog-phone.png")

        await in_browser(scenario)
