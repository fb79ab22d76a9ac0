"""Bots that sit at tables over HTTP and play over the live stream (`pokerd bots`).

Each bot is a `pokerd.client.Client` for one seat and a simple, plausible
player: it folds weak hands facing a bet, bets and raises strong ones,
sometimes bluffs, and only ever sends what its view's `legal` allows. At the
end every bot checks that the events it received are exactly the table's log
as its seat may see it (`GET /tables/{id}/events` with its token, which
replays the last `MAX_BACKLOG` events of a longer log): no gap, no repeat, no
reordering, the same content. Then the bots leave their seats and the
tables they created are closed (unless told to keep them), so that no table
stays full of absent bots. On a terminal, one line updated in place shows
the progress while they play.
"""

from __future__ import annotations

import contextlib
import random
import signal
import sys
import time
from collections import Counter
from collections.abc import Sequence
from functools import partial
from itertools import dropwhile
from typing import Any, TextIO

import attrs
import trio

from pokerd.client import (
    Backoff,
    Client,
    ClientClosedError,
    CreatedTable,
    Http,
    HttpConnectionError,
    HttpError,
    Received,
    Seated,
)
from pokerd.engine.commands import ActionName
from pokerd.engine.config import MAX_ACTION_CLOCK_MS, TableConfig
from pokerd.engine.events import HandEnded
from pokerd.engine.views import TableView
from pokerd.wire import codec
from pokerd.wire.protocol import Ack, ActRequest, Error, LeaveRequest

RANKS = "23456789TJQKA"
BLUFF_RATE = 0.08
"""How often a bot bets or raises whatever it holds."""
STRONG = 0.72
"""Hand strength from which a bot bets or raises."""
FAIR = 0.45
"""Hand strength from which a bot calls a bet up to the pot."""
ACTION_CLOCK_MS = TableConfig().action_clock_ms
"""The tables' action clock: the server's default, longer for slow thinkers."""
SETUP_CONCURRENCY = 16
"""HTTP calls at once while seating bots and checking logs."""
SHOWN_PROBLEMS = 10
LEAVING_S = 15.0
"""The most time the bots take, at the end, to leave their seats and close
their tables: a leave is one request each (a seat in a hand leaves when it
ends, playing as away meanwhile), a close one a table."""
PROGRESS_EVERY_S = 0.5
"""How often the progress line is drawn again on a terminal."""
ALREADY_CLOSED = frozenset({"already_closing", "table_closed"})
"""A close refused with these was applied before (a resend, another closer)."""


# Strategy


def _rank(card: str) -> int:
    return RANKS.index(card[0])


def hand_strength(hole: Sequence[str], board: Sequence[str]) -> float:
    """How good `hole` is with `board`, 0 (nothing) to 1 (about the nuts).

    Rough on purpose: pairs, high cards, suitedness and connectedness before
    the flop; after it the best of what the hole cards make with the board
    (quads down to a pair), a flush or straight draw, or the high card.
    """
    if len(hole) != 2:
        return 0.0
    if not board:
        return _preflop(hole)
    return _postflop(hole, board)


def _preflop(hole: Sequence[str]) -> float:
    high, low = sorted((_rank(card) for card in hole), reverse=True)
    if high == low:
        return 0.55 + 0.45 * high / 12
    score = 0.7 * (2 * high + low) / 35
    if hole[0][1] == hole[1][1]:
        score += 0.06
    score += {1: 0.04, 2: 0.02}.get(high - low, 0.0)
    return min(score, 0.95)


def _postflop(hole: Sequence[str], board: Sequence[str]) -> float:
    cards = [*hole, *board]
    counts = Counter(_rank(card) for card in cards)
    mine = {_rank(card) for card in hole}
    top_of_board = max(_rank(card) for card in board)
    scores = [0.1 + 0.2 * max(mine) / 12]
    made = sorted((counts[rank] for rank in mine), reverse=True)
    trips = [rank for rank in mine if counts[rank] == 3]
    other_pair = any(n >= 2 for rank, n in counts.items() if trips and rank != trips[0])
    if made[0] >= 4:
        scores.append(0.97)
    elif trips and other_pair:
        scores.append(0.93)
    elif made[0] == 3:
        scores.append(0.8)
    elif len(made) == 2 and made[1] == 2:
        scores.append(0.72)
    elif made[0] == 2:
        pair = max(rank for rank in mine if counts[rank] >= 2)
        if len(mine) == 1:  # a pocket pair
            scores.append(0.66 if pair > top_of_board else 0.42)
        else:
            scores.append(0.6 if pair == top_of_board else 0.45)
    suits = Counter(card[1] for card in cards)
    for suit, n in suits.items():
        if any(card[1] == suit for card in hole):
            if n >= 5:
                scores.append(0.9)
            elif n == 4 and len(board) < 5:
                scores.append(0.4)
    run = _longest_run(set(counts), mine)
    if run >= 5:
        scores.append(0.85)
    elif run == 4 and len(board) < 5:
        scores.append(0.38)
    return max(scores)


def _longest_run(ranks: set[int], mine: set[int]) -> int:
    """The longest run of consecutive ranks that uses a hole card (ace low too)."""
    present = ranks | ({-1} if 12 in ranks else set())
    best = 0
    for start in present:
        if start - 1 in present:
            continue
        run = list(range(start, start + 14))
        length = next(i for i, rank in enumerate(run) if rank not in present)
        used = {12 if rank == -1 else rank for rank in run[:length]}
        if used & mine:
            best = max(best, length)
    return best


def choose(
    view: TableView, seat: int, rng: random.Random
) -> tuple[ActionName, int | None]:
    """What the seat to act plays, from its view alone; always legal."""
    legal = view.legal
    me = view.seats[seat]
    assert legal is not None and me is not None
    strength = hand_strength(me.cards, view.board)
    bets = [other.bet for other in view.seats if other is not None]
    pot = sum(pot.amount for pot in view.pots) + sum(bets)
    can_raise = legal.min_raise_to is not None and legal.max_raise_to is not None
    bluff = rng.random() < BLUFF_RATE
    if can_raise and (strength >= STRONG or bluff):
        assert legal.min_raise_to is not None and legal.max_raise_to is not None
        if strength >= 0.9 and rng.random() < 0.15:
            return "all_in", None
        # Half the pot to the whole pot on top of the bet to match.
        target = max(bets) + int(pot * rng.uniform(0.5, 1.0))
        amount = min(max(target, legal.min_raise_to), legal.max_raise_to)
        return ("raise" if max(bets) > 0 else "bet"), amount
    if legal.check:
        return "check", None
    if strength >= STRONG or (strength >= FAIR and legal.call <= pot):
        return "call", None
    if legal.call * 5 <= pot and rng.random() < 0.5:
        return "call", None  # cheap enough to see what comes
    return "fold", None


# Bots


def bot_rng(seed: int, *path: object) -> random.Random:
    """The random source of one thing (a table's chaos, a seat's decisions)
    in a run with `seed`: the same for the same seed, whatever else runs."""
    return random.Random("/".join(str(part) for part in (seed, *path)))


@attrs.frozen(kw_only=True)
class BotsOptions:
    url: str
    """The HTTP API's base URL (http://HOST:PORT)."""
    servers: tuple[str, ...] = ()
    """More nodes of the same cluster (base URLs): tables are created on each
    in turn, and a bot whose node cannot be reached moves to the next."""
    tables: int = 1
    seats: int = 6
    """Seats a table; a bot sits in each but the last `open_seats`."""
    open_seats: int = 0
    """Seats left free at each table, for people to join."""
    think: float = 0.0
    """Seconds a bot waits before acting: uniform in 0.5x to 1.5x of it."""
    hands: int = 0
    """Hands each table plays (its hand number); 0: until stopped."""
    seconds: float = 0.0
    """Seconds of play before the bots stop; 0: no limit."""
    keep_tables: bool = False
    """Leave the tables the bots created open when they end (else closed)."""
    chaos: float = 0.0
    """Probability, per action, of cutting the connection just after sending it."""
    seed: int | None = None
    heartbeat_s: float = 10.0
    config: dict[str, Any] = attrs.Factory(dict)
    """More of the tables' config (TableConfig's fields), e.g. small buy-ins."""


@attrs.define
class BotTally:
    actions: int = 0
    errors: Counter[str] = attrs.Factory(Counter)
    chaos_drops: int = 0
    top_ups: int = 0
    finished: bool = False


class Bot:
    """One seat's player: acts on its client's view."""

    def __init__(
        self,
        client: Client,
        seated: Seated,
        *,
        table_index: int,
        max_buy_in: int,
        options: BotsOptions,
        rng: random.Random,
        chaos_rng: random.Random,
    ) -> None:
        self.client = client
        self.seated = seated
        self.table_index = table_index
        self.max_buy_in = max_buy_in
        self.options = options
        self.rng = rng
        self.chaos_rng = chaos_rng
        """Shared by the table's bots: they act one at a time, so a seed gives
        the same drops whatever the interleaving of tables."""
        self.tally = BotTally()

    async def play(self) -> None:
        """Act whenever a new view says so, until the table's last hand ends."""
        handled = -1
        client = self.client
        while True:
            try:
                await client.wait_for(partial(_view_after, seq=handled))
            except ClientClosedError:
                return
            handled = client.view_seq
            view, seat = client.view, client.seat
            if view is None or seat is None:
                continue
            if self._done(view):
                self.tally.finished = True
                return
            me = view.seats[seat]
            if me is None:
                return  # the seat is gone
            if not me.in_hand and me.stack == 0:
                await self._rebuy()
            elif me.sitting_out and not me.in_hand:
                self._count(await client.come_back())
            if view.to_act == seat and view.legal is not None:
                await self._act(view, seat)

    def _done(self, view: TableView) -> bool:
        hands = self.options.hands
        return hands > 0 and (
            view.hand > hands or (view.hand == hands and not view.hand_in_progress)
        )

    async def _rebuy(self) -> None:
        self.tally.top_ups += 1
        if self._count(await self.client.top_up(self.max_buy_in)):
            self._count(await self.client.come_back())

    async def _act(self, view: TableView, seat: int) -> None:
        think = self.options.think
        if think > 0:
            await trio.sleep(self.rng.uniform(0.5 * think, 1.5 * think))
        action, amount = choose(view, seat, self.rng)
        pending = self.client.submit(
            lambda request_id: ActRequest(id=request_id, action=action, amount=amount)
        )
        if self.options.chaos and self.chaos_rng.random() < self.options.chaos:
            # Cut just after sending, before the ack: the client must resume
            # and send the request again, and the server apply it once.
            await pending.sent.wait()
            if await self.client.drop():
                self.tally.chaos_drops += 1
        if self._count(await self.client.answer(pending)):
            self.tally.actions += 1

    def _count(self, answer: Ack | Error) -> bool:
        if isinstance(answer, Error):
            self.tally.errors[answer.code] += 1
            return False
        return True


def _view_after(client: Client, *, seq: int) -> bool:
    return client.view_seq > seq


# Checking what each bot received


def compare(received: Sequence[Received], expected: Sequence[Received]) -> list[str]:
    """What differs between the events a bot received (from seq 1) and the
    table's log as its seat may see it: gaps, repeats, order, content. A log
    that starts later (the server replays the last `MAX_BACKLOG` events) is
    compared with what the bot received from there on."""
    start = expected[0].seq - 1 if expected else 0
    received = list(dropwhile(lambda item: item.seq <= start, received))
    problems: list[str] = []
    by_seq = {item.seq: item.event for item in expected}
    previous = start
    for item in received:
        if item.seq != previous + 1:
            kind = "a repeat or reordering" if item.seq <= previous else "a gap"
            problems.append(f"seq {item.seq} after {previous}: {kind}")
        previous = item.seq
        logged = by_seq.get(item.seq)
        if logged is None:
            problems.append(f"seq {item.seq} is not in the log")
        elif logged != item.event:
            problems.append(f"seq {item.seq} differs: got {item.event}, log {logged}")
    if len(expected) != len(received):
        problems.append(
            f"received {len(received)} events, the log has {len(expected)} to "
            f"seq {previous}"
        )
    return problems


@attrs.frozen(kw_only=True)
class Report:
    options: BotsOptions
    seed: int
    hands: int
    actions: int
    errors: dict[str, int]
    retried: int
    resent: int
    """Requests sent again after a drop, with their first id."""
    reconnects: int
    resumed: int
    not_resumed: int
    chaos_drops: int
    top_ups: int
    fallbacks: int
    gaps: int
    duplicates: int
    mismatches: int
    events_checked: int
    unfinished: int
    """Bots stopped before their table's last hand ended (Ctrl-C)."""
    left: int = 0
    """Bots whose leave the server took (at once, or at the hand's end)."""
    closed: int = 0
    """Tables the bots created and closed at the end."""
    leaving_s: float = 0.0
    """How long leaving and closing took."""
    problems: list[str]
    wall_s: float

    @property
    def ok(self) -> bool:
        return not (
            self.errors
            or self.not_resumed
            or self.gaps
            or self.duplicates
            or self.mismatches
            or self.unfinished
        )

    def lines(self) -> list[str]:
        o = self.options
        errors = ", ".join(f"{code} {n}" for code, n in sorted(self.errors.items()))
        rate = self.actions / self.wall_s if self.wall_s > 0 else 0.0
        open_seats = (
            f" ({o.open_seats} seat{'s' if o.open_seats > 1 else ''} open)"
            if o.open_seats
            else ""
        )
        lines = [
            f"pokerd bots: {o.tables} tables x {o.seats - o.open_seats} bots"
            f"{open_seats}, "
            f"{o.hands or 'unlimited'} hands a table, think {o.think:g} s, "
            f"chaos {o.chaos:g}, seed {self.seed}",
            f"tables: {o.tables}",
            f"hands: {self.hands}",
            f"actions: {self.actions}",
            f"errors: {errors or 'none'}",
            f"retried: {self.retried}",
            f"resent after a drop: {self.resent}",
            f"reconnects: {self.reconnects}",
            f"resumed ok: {self.resumed}",
            f"resumed not ok: {self.not_resumed}",
            f"chaos drops: {self.chaos_drops}",
            f"top-ups: {self.top_ups}",
            f"polling fallbacks: {self.fallbacks}",
            f"gaps: {self.gaps}",
            f"duplicates: {self.duplicates}",
            f"mismatches: {self.mismatches}",
            f"events checked: {self.events_checked}",
            f"unfinished bots: {self.unfinished}",
            f"bots left: {self.left}",
            f"tables closed: {self.closed}",
            f"leaving time: {self.leaving_s:.2f} s",
            f"wall time: {self.wall_s:.2f} s",
            f"actions/s: {rate:.1f}",
        ]
        lines += [f"problem: {text}" for text in self.problems[:SHOWN_PROBLEMS]]
        lines.append("result: " + ("ok" if self.ok else "FAILED"))
        return lines


async def live_url_of(http: Http) -> str:
    """Where the server's live stream listens, from its /healthz (by default
    on the HTTP API's own host and port)."""
    health = await http.health()
    return str(health.get("live") or f"ws://{http.host}:{http.port}")


async def run_bots(
    options: BotsOptions,
    *,
    live: str | None = None,
    stop: trio.Event | None = None,
    progress: TextIO | None = None,
) -> Report:
    """Create the tables, seat and run the bots until their hands are played
    (or `stop` is set, or `options.seconds` have passed), check each bot's
    events against the log, then have the bots leave and close their tables.
    `live`: the live stream's URL (default: from the server's /healthz);
    `progress`: a terminal to draw the progress line on."""
    async with Http(options.url) as http:  # setup and checks on kept-alive connections
        return await _run_bots(options, http, live=live, stop=stop, progress=progress)


async def _run_bots(
    options: BotsOptions,
    http: Http,
    *,
    live: str | None,
    stop: trio.Event | None,
    progress: TextIO | None,
) -> Report:
    started = time.monotonic()
    seed = random.randrange(2**32) if options.seed is None else options.seed
    if live is None:
        live = await live_url_of(http)
    clock_ms = max(ACTION_CLOCK_MS, int(3000 * options.think) + 10_000)
    clock_ms = min(clock_ms, MAX_ACTION_CLOCK_MS)  # the longest a table takes
    limiter = trio.CapacityLimiter(SETUP_CONCURRENCY)
    bots: list[Bot] = []
    created: list[CreatedTable] = []

    nodes = [options.url, *options.servers]
    lives = [live, *(_live_url_at(url) for url in options.servers)]

    async def set_table(index: int) -> None:
        node = index % len(nodes)
        async with limiter, Http(nodes[node]) as api:
            table = await api.new_table(
                **{"max_seats": options.seats, "action_clock_ms": clock_ms}
                | options.config
            )
            created.append(table)
            config = (await api.json("GET", f"/tables/{table.table}"))["config"]
            chaos_rng = bot_rng(seed, index, "chaos")
            for seat in range(options.seats - options.open_seats):
                buy_in = int(config["max_buy_in"])
                seated = await api.sit(table.table, seat, f"bot{seat}", buy_in)
                rng = bot_rng(seed, index, seat)
                client = Client(
                    nodes[node],
                    lives[node],
                    table.table,
                    seated.token,
                    epoch=seated.epoch,
                    offset=0,
                    backoff=Backoff(rng=bot_rng(seed, index, seat, "backoff")),
                    heartbeat_s=options.heartbeat_s,
                    strict=False,
                    servers=nodes[node + 1 :] + nodes[:node],
                )
                bots.append(
                    Bot(
                        client,
                        seated,
                        table_index=index,
                        max_buy_in=buy_in,
                        options=options,
                        rng=rng,
                        chaos_rng=chaos_rng,
                    )
                )

    async with trio.open_nursery() as setting:
        for index in range(options.tables):
            setting.start_soon(set_table, index)
    bots.sort(key=lambda bot: (bot.table_index, bot.seated.seat))

    async with trio.open_nursery() as running:
        async with trio.open_nursery() as starting:
            for bot in bots:
                starting.start_soon(running.start, bot.client.run)
        playing_since = time.monotonic()
        async with trio.open_nursery() as playing:
            if stop is not None:
                playing.start_soon(_cancel_on, stop, playing.cancel_scope)
            if options.seconds:
                playing.cancel_scope.deadline = trio.current_time() + options.seconds
            if progress is not None:
                playing.start_soon(_show_progress, progress, bots, playing_since)
            async with trio.open_nursery() as bots_playing:
                for bot in bots:
                    bots_playing.start_soon(bot.play)
            playing.cancel_scope.cancel()
        if progress is not None:
            _draw_progress(progress, bots, playing_since, final=True)
        for bot in bots:
            bot.client.close()

    checked: dict[int, list[str]] = {}

    async def check(position: int, bot: Bot) -> None:
        async with limiter:
            client = bot.client
            expected = await _log_from_any(
                [http, *others], client.table, bot.seated.token, until=client.offset
            )
            checked[position] = compare(client.events, expected)

    others = [Http(url) for url in options.servers]
    async with contextlib.AsyncExitStack() as stack:
        for other in others:
            await stack.enter_async_context(other)
        async with trio.open_nursery() as checking:
            for position, bot in enumerate(bots):
                checking.start_soon(check, position, bot)
        # After the checks: a seat's token reads its log only while it sits.
        departures = await _leave_and_close(
            [http, *others], bots, [] if options.keep_tables else created
        )
    wall_s = time.monotonic() - started
    return _report(options, seed, bots, checked, departures, wall_s=wall_s)


@attrs.define
class Departures:
    """How the bots left their seats and closed their tables at the end."""

    left: int = 0
    closed: int = 0
    seconds: float = 0.0
    problems: list[str] = attrs.Factory(list)


async def _leave_and_close(
    nodes: Sequence[Http], bots: Sequence[Bot], tables: Sequence[CreatedTable]
) -> Departures:
    """Every bot leaves its seat, then each of `tables` is closed, within
    LEAVING_S: a seat in a hand leaves when it ends, playing as away (check
    or fold at once) until then; a table in a hand closes when it ends."""
    departures = Departures()
    limiter = trio.CapacityLimiter(SETUP_CONCURRENCY)
    started = time.monotonic()

    async def leave(bot: Bot) -> None:
        request = codec.unstructure_message(LeaveRequest(id="bots-leave"))
        async with limiter:
            status, answer = await _call_any(
                nodes,
                "POST",
                f"/tables/{bot.client.table}/requests",
                token=bot.seated.token,
                body=request,
            )
        if status == 200:
            departures.left += 1
        else:
            where = f"table {bot.table_index} seat {bot.seated.seat}"
            departures.problems.append(f"{where}: leave answered {status} {answer}")

    async def close(table: CreatedTable) -> None:
        async with limiter:
            status, answer = await _call_any(
                nodes, "POST", f"/tables/{table.table}/close", token=table.creator_token
            )
        code = answer.get("code") if isinstance(answer, dict) else None
        if status == 200 or code in ALREADY_CLOSED:
            departures.closed += 1
        else:
            departures.problems.append(
                f"table {table.table}: close answered {status} {answer}"
            )

    with trio.move_on_after(LEAVING_S) as scope:
        async with trio.open_nursery() as leaving:
            for bot in bots:
                leaving.start_soon(leave, bot)
        async with trio.open_nursery() as closing:
            for table in tables:
                closing.start_soon(close, table)
    if scope.cancelled_caught:
        departures.problems.append(
            f"leaving and closing took over {LEAVING_S:g} s: "
            f"{len(bots) - departures.left} bots may still sit"
        )
    departures.seconds = time.monotonic() - started
    return departures


async def _call_any(
    nodes: Sequence[Http], method: str, path: str, **options: Any
) -> tuple[int, Any]:
    """`Http.call` at the first node that can be reached (a node that does
    not run the table redirects); (0, why) if none can."""
    problem = "no node"
    for http in nodes:
        try:
            return await http.call(method, path, **options)
        except (HttpConnectionError, trio.TooSlowError) as error:
            problem = repr(error)
    return 0, problem


def hands_played(bots: Sequence[Bot], limit: int = 0) -> int:
    """Hands finished so far at the bots' tables, as their views say (each
    table counted up to `limit`, if one is set)."""
    done: dict[int, int] = {}
    for bot in bots:
        view = bot.client.view
        if view is None:
            continue
        finished = view.hand - (1 if view.hand_in_progress else 0)
        if limit:
            finished = min(finished, limit)
        done[bot.table_index] = max(done.get(bot.table_index, 0), finished)
    return sum(done.values())


def progress_line(bots: Sequence[Bot], elapsed_s: float) -> str:
    """The progress line: hands played, actions and their rate, reconnects."""
    actions = sum(bot.tally.actions for bot in bots)
    reconnects = sum(bot.client.statistics().reconnects for bot in bots)
    limit = bots[0].options.hands if bots else 0
    rate = actions / elapsed_s if elapsed_s > 0 else 0.0
    return (
        f"pokerd bots: {hands_played(bots, limit)} hands, {actions} actions, "
        f"{rate:.1f} actions/s, {reconnects} reconnects, {elapsed_s:.0f} s"
    )


def _draw_progress(
    terminal: TextIO, bots: Sequence[Bot], since: float, *, final: bool = False
) -> None:
    # Back to the line's start and erase it, so a shorter line leaves nothing.
    line = progress_line(bots, time.monotonic() - since)
    terminal.write(f"\r\x1b[K{line}" + ("\n" if final else ""))
    terminal.flush()


async def _show_progress(terminal: TextIO, bots: Sequence[Bot], since: float) -> None:
    while True:
        _draw_progress(terminal, bots, since)
        await trio.sleep(PROGRESS_EVERY_S)


def _live_url_at(http_url: str) -> str:
    return "ws://" + http_url.removeprefix("http://").rstrip("/")


async def _log_from_any(
    nodes: Sequence[Http], table: str, token: str, *, until: int
) -> list[Received]:
    """The table's log as the token's seat sees it, from the first node that
    can be reached (a node that does not run the table redirects)."""
    for http in nodes[:-1]:
        try:
            return await http.log(table, token, until=until)
        except HttpConnectionError:
            continue
    return await nodes[-1].log(table, token, until=until)


async def _cancel_on(stop: trio.Event, scope: trio.CancelScope) -> None:
    await stop.wait()
    scope.cancel()


def _report(
    options: BotsOptions,
    seed: int,
    bots: list[Bot],
    checked: dict[int, list[str]],
    departures: Departures,
    *,
    wall_s: float,
) -> Report:
    errors: Counter[str] = Counter()
    problems: list[str] = []
    hands: dict[int, int] = {}
    totals: Counter[str] = Counter()
    for position, bot in enumerate(bots):
        stats = bot.client.statistics()
        errors.update(bot.tally.errors)
        totals.update(
            actions=bot.tally.actions,
            chaos_drops=bot.tally.chaos_drops,
            top_ups=bot.tally.top_ups,
            retried=stats.retried,
            resent=stats.resent,
            reconnects=stats.reconnects,
            resumed=stats.resumed,
            not_resumed=stats.not_resumed,
            fallbacks=stats.fallbacks,
            gaps=stats.gaps,
            duplicates=stats.duplicates,
            events=len(bot.client.events),
            unfinished=0 if bot.tally.finished else 1,
        )
        where = f"table {bot.table_index} seat {bot.seated.seat}"
        mismatches = checked.get(position, [])
        totals["mismatches"] += len(mismatches)
        problems += [f"{where}: {text}" for text in bot.client.problems + mismatches]
        ended = [
            item.event.hand
            for item in bot.client.events
            if isinstance(item.event, HandEnded)
        ]
        last = max(ended, default=0)
        if options.hands:
            last = min(last, options.hands)
        hands[bot.table_index] = max(hands.get(bot.table_index, 0), last)
    return Report(
        options=options,
        seed=seed,
        hands=sum(hands.values()),
        actions=totals["actions"],
        errors=dict(errors),
        retried=totals["retried"],
        resent=totals["resent"],
        reconnects=totals["reconnects"],
        resumed=totals["resumed"],
        not_resumed=totals["not_resumed"],
        chaos_drops=totals["chaos_drops"],
        top_ups=totals["top_ups"],
        fallbacks=totals["fallbacks"],
        gaps=totals["gaps"],
        duplicates=totals["duplicates"],
        mismatches=totals["mismatches"],
        events_checked=totals["events"],
        unfinished=totals["unfinished"] if options.hands else 0,
        left=departures.left,
        closed=departures.closed,
        leaving_s=departures.seconds,
        problems=problems + departures.problems,
        wall_s=wall_s,
    )


def options_problem(options: BotsOptions) -> str | None:
    if options.tables < 1:
        return "--tables is 1 or more"
    if not 2 <= options.seats <= 10:
        return "--seats is 2 to 10"
    if not 0 <= options.open_seats <= options.seats - 2:
        return (
            f"--open-seats is 0 to {options.seats - 2} (--seats minus the two bots"
            " a hand needs)"
        )
    if options.seconds < 0:
        return "--seconds is 0 (no limit) or more"
    if options.think < 0:
        return "--think is 0 or more seconds"
    if options.hands < 0:
        return "--hands is 0 (no limit) or more"
    if not 0 <= options.chaos <= 1:
        return "--chaos is a probability, 0 to 1"
    return None


def bots_command(
    options: BotsOptions, out: TextIO = sys.stdout, terminal: TextIO = sys.stderr
) -> int:
    """`pokerd bots`: the summary on `out`, and the progress line on
    `terminal` if it is one; 0 if every check passed, 1 if one failed, 2 for
    bad options or a server that cannot be reached."""
    problem = options_problem(options)
    if problem is not None:
        print(f"pokerd bots: {problem}", file=sys.stderr)
        return 2
    try:
        live = trio.run(live_url_of, Http(options.url))
    except (OSError, ValueError, trio.TooSlowError, HttpError) as error:
        print(f"pokerd bots: cannot use {options.url}: {error!r}", file=sys.stderr)
        return 2
    progress = terminal if terminal.isatty() else None
    report = trio.run(_bots_until_interrupted, options, live, progress)
    if report is None:
        return 130
    for line in report.lines():
        print(line, file=out)
    return 0 if report.ok else 1


async def _bots_until_interrupted(
    options: BotsOptions, live: str, progress: TextIO | None
) -> Report | None:
    """The first Ctrl-C (or SIGTERM) stops the bots, checks what they got and
    has them leave; a second stops at once (None)."""
    stop = trio.Event()
    report: Report | None = None
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:

            async def watch() -> None:
                async for _ in signals:
                    if stop.is_set():
                        nursery.cancel_scope.cancel()
                    stop.set()

            nursery.start_soon(watch)
            report = await run_bots(options, live=live, stop=stop, progress=progress)
            nursery.cancel_scope.cancel()
    return report
