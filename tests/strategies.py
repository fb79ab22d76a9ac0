"""Hypothesis strategies: table configs and whole random games played through handle."""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping

import attrs
from hypothesis import strategies as st

from pokerd.engine import (
    Act,
    ActionName,
    CloseTable,
    ComeBack,
    Command,
    CreateTable,
    Event,
    Leave,
    RuleError,
    SitDown,
    SitOut,
    TableConfig,
    TableState,
    TableView,
    TimeOut,
    TopUp,
    Viewer,
    evolve,
    handle,
    legal_actions,
    view,
)
from pokerd.engine.config import MAX_CHIPS
from pokerd.tables.dealer import start_hand

MAX_HANDS = 15
PAUSE_MS = 250
"""How far the clock moves between two commands (below any action clock)."""
MAX_ASIDES = 3
"""Table commands (leave, sit out, ...) in a row before someone must act."""
ACTING = 13
"""During a hand, a draw of 0..ACTING means the seat to act acts; above, the
things that may happen instead, coming back and arriving twice as often."""
DURING_HAND = (
    "time_out",
    "leave",
    "sit_out",
    "come_back",
    "come_back",
    "sit_down",
    "sit_down",
    "refused",
)


@attrs.frozen(eq=False)
class Step:
    """One accepted command: the events it caused and the states around it."""

    command: Command
    events: tuple[Event, ...]
    before: TableState
    after: TableState
    views: Mapping[Viewer, TableView] | None
    """Every viewer's view of `after`, taken while `after` was the live state."""


@attrs.frozen(eq=False)
class Refusal:
    """A command the table refused, and the views before and after it."""

    command: Command
    code: str
    state: TableState
    views_before: Mapping[Viewer, TableView]
    views_after: Mapping[Viewer, TableView]


@attrs.frozen(eq=False, repr=False)
class Game:
    """A played game: every command, accepted or refused, in order."""

    config: TableConfig
    steps: tuple[Step, ...]
    refusals: tuple[Refusal, ...]
    script: tuple[str, ...]
    """The commands as Python, refused ones marked: a reproduction."""

    @property
    def events(self) -> list[Event]:
        return [event for step in self.steps for event in step.events]

    @property
    def final(self) -> TableState:
        return self.steps[-1].after

    @property
    def viewers(self) -> tuple[Viewer, ...]:
        return viewers(self.config)

    def __repr__(self) -> str:
        return "Game(\n    " + "\n    ".join(self.script) + "\n)"


def viewers(config: TableConfig) -> tuple[Viewer, ...]:
    """The spectator and every seat of the table."""
    return (None, *range(config.max_seats))


def walk(events: list[Event]) -> Iterator[tuple[Event, TableState]]:
    """Each event with the state right after it, folded from an empty table."""
    state = TableState()
    for event in events:
        state = evolve(state, event)
        yield event, state


@st.composite
def table_configs(draw: st.DrawFn) -> TableConfig:
    """Any playable table: 2 to 10 seats, blinds, antes (often none), buy-ins
    that may be below the big blind, a short or long action clock; now and
    then in chips so large that a full table at the maximum buy-in holds
    nearly MAX_CHIPS."""
    big_blind = draw(st.integers(1, 50))
    max_seats = draw(st.integers(2, 10))
    straddles: list[int] = []
    if max_seats > 3 and draw(st.integers(0, 9)) == 0:
        straddles = [2 * big_blind]
    min_buy_in = draw(st.integers(1, 20 * big_blind))
    max_buy_in = draw(st.integers(min_buy_in, min_buy_in + 150 * big_blind))
    # Forced bets go up to twice the big blind (a straddle, a big blind ante).
    largest = MAX_CHIPS // max(max_buy_in * max_seats, 2 * big_blind)
    chip = draw(st.sampled_from([1, 1, 1, largest, draw(st.integers(1, largest))]))
    return TableConfig(
        max_seats=max_seats,
        small_blind=chip * draw(st.integers(0, big_blind)),
        big_blind=chip * big_blind,
        ante=chip * draw(st.one_of(st.just(0), st.integers(1, big_blind))),
        big_blind_ante=chip
        * draw(st.one_of(st.just(0), st.integers(1, 2 * big_blind))),
        straddles=tuple(chip * straddle for straddle in straddles),
        min_buy_in=chip * min_buy_in,
        max_buy_in=chip * max_buy_in,
        action_clock_ms=draw(st.integers(1_000, 60_000)),
        timeouts_before_sit_out=draw(st.integers(1, 3)),
    )


@st.composite
def games(
    draw: st.DrawFn, *, max_hands: int = MAX_HANDS, record_views: bool = False
) -> Game:
    """A game of 1 to `max_hands` hands with random legal actions, players
    arriving, sitting out, coming back, leaving (mid-hand too), topping up,
    timing out, now and then a command the table must refuse, and in some
    games the table closed at the end (during its last hand or after it)."""
    config = draw(table_configs())
    driver = _Driver(draw, config, record_views)
    # PokerKit shuffles a deck of its own (pokerd never deals from it) with the
    # global `random` module; Hypothesis rightly forbids strategies to touch
    # that, so the game leaves it as it found it.
    outside = random.getstate()
    try:
        driver.play(draw(st.integers(1, max_hands)))
    finally:
        random.setstate(outside)
    return driver.game()


class _Driver:
    """Plays one game through `handle`, drawing every choice from Hypothesis."""

    def __init__(self, draw: st.DrawFn, config: TableConfig, record: bool) -> None:
        self.draw = draw
        self.config = config
        self.record = record
        self.rng = random.Random(draw(st.integers(0, 2**32 - 1)))
        self.state = TableState()
        self.now = 0
        self.names = 0
        self.steps: list[Step] = []
        self.refusals: list[Refusal] = []
        self.script: list[str] = []
        self.close: str | None = None
        """When the table is closed: "during" its last hand, "after" it, or never."""

    def game(self) -> Game:
        return Game(
            config=self.config,
            steps=tuple(self.steps),
            refusals=tuple(self.refusals),
            script=tuple(self.script),
        )

    # Running commands.

    def run(self, command: Command) -> None:
        """Handle a command the driver believes legal; a refusal is a failure."""
        self.now += PAUSE_MS
        before = self.state
        self.script.append(f"{command!r},")
        events, self.state = handle(before, command)
        views = self._views() if self.record else None
        self.steps.append(Step(command, tuple(events), before, self.state, views))

    def refuse(self, command: Command) -> None:
        """Handle a command the table must refuse, leaving the state as it was."""
        views_before = self._views()
        try:
            handle(self.state, command)
        except RuleError as error:
            self.script.append(f"{command!r},  # refused: {error.code}")
            views_after = self._views()
            self.refusals.append(
                Refusal(command, error.code, self.state, views_before, views_after)
            )
        else:
            raise AssertionError(f"the table accepted {command!r}")

    def _views(self) -> dict[Viewer, TableView]:
        return {viewer: view(self.state, viewer) for viewer in viewers(self.config)}

    # The game.

    def play(self, hands: int) -> None:
        config = self.config
        self.run(CreateTable(config=config))
        players = self.draw(st.integers(2, config.max_seats))
        order = self.draw(st.permutations(range(config.max_seats)))
        first = order[:players]
        for seat in first:
            self.sit_down(seat)
        self.close = self.draw(st.sampled_from([None, None, "during", "after"]))
        while self.state.hands_played < hands:
            for _ in range(self.draw(st.integers(0, MAX_ASIDES))):
                self.between_hands()
            if not self.make_room_to_play():
                return  # one player holds nearly every chip the table may
            self.run(start_hand(self.now, self.rng))
            asides = 0
            if self.close == "during" and self.state.hands_played == hands:
                self.run(CloseTable())
            while self.state.hand_in_progress:
                kind = self.draw(st.integers(0, ACTING + len(DURING_HAND)))
                kind = kind if asides < MAX_ASIDES else 0
                asides = asides + 1 if kind > ACTING else 0
                self.during_hand(kind)
        if self.close == "after":
            self.run(CloseTable())

    def between_hands(self) -> None:
        """Someone arrives, buys back in after busting, comes back, tops up,
        sits out or leaves (in the order of how often)."""
        choices = {
            "sit_down": self.empty_seats(),
            "rebuy": [i for i in self.occupied(sitting_out=True) if not self.chips(i)],
            "come_back": [i for i in self.occupied(sitting_out=True) if self.chips(i)],
            "top_up": self.room_to_top_up(),
            "sit_out": self.occupied(sitting_out=False),
            "leave": self.occupied(),
        }
        weights = {
            "sit_down": 3,
            "rebuy": 3,
            "come_back": 3,
            "top_up": 2,
            "sit_out": 1,
            "leave": 1,
        }
        kinds = [
            kind
            for kind, seats in choices.items()
            if seats
            for _ in range(weights[kind])
        ]
        if not kinds:
            return
        kind = self.draw(st.sampled_from(kinds))
        seat = self.draw(st.sampled_from(choices[kind]))
        self.table_command(kind, seat)

    def during_hand(self, kind: int) -> None:
        """Mostly the seat to act acts (`kind` up to ACTING); else the clock
        runs out, someone leaves, sits out, comes back, arrives or tops up,
        or the table is asked something it must refuse."""
        hand = self.state.hand
        assert hand is not None and hand.turn is not None
        aside = DURING_HAND[kind - ACTING - 1] if kind > ACTING else "act"
        if aside == "time_out":
            deadline = hand.turn.deadline_ms
            self.now = max(self.now, deadline + self.draw(st.integers(0, 5_000)))
            self.run(TimeOut(hand=hand.number, seat=hand.turn.seat, now_ms=self.now))
            return
        if aside == "refused":
            self.refused_command()
            return
        seats = {
            "leave": self.occupied(leaving=False),
            "sit_out": self.occupied(sitting_out=False),
            "come_back": [
                i
                for i in self.occupied(sitting_out=True, leaving=False)
                if self.chips(i) or self.state.in_hand(i)
            ],
            "sit_down": self.empty_seats(),
            "top_up": self.room_to_top_up(),
            "act": [],
        }[aside]
        if aside == "sit_down" and not seats:
            aside, seats = "top_up", self.room_to_top_up()
        if self.state.closing and aside in ("sit_down", "top_up"):
            seats = []  # no chips come to a closing table
        if seats:
            self.table_command(aside, self.draw(st.sampled_from(seats)))
        else:
            self.act()

    def act(self) -> None:
        hand = self.state.hand
        assert hand is not None and hand.turn is not None
        legal = legal_actions(hand)
        assert legal is not None, "a turn was started but nobody may act"
        seat = hand.turn.seat
        # Mostly check or call; fold, bet or raise (small more often than
        # large) and all in now and then.
        roll = self.draw(st.integers(0, 9))
        action: ActionName = "check" if legal.check else "call"
        amount = None
        if roll in (5, 6) and legal.fold:
            action = "fold"
        elif roll in (7, 8) and legal.max_raise_to is not None:
            low = legal.min_raise_to
            assert low is not None
            action = "bet" if roll == 7 else "raise"
            high = self.draw(st.sampled_from([low, 3 * low, legal.max_raise_to]))
            amount = self.draw(st.integers(low, min(high, legal.max_raise_to)))
        elif roll == 9 and (legal.max_raise_to is not None or legal.call):
            action = "all_in"
        self.run(Act(seat=seat, action=action, amount=amount, now_ms=self.now))

    def table_command(self, kind: str, seat: int) -> None:
        match kind:
            case "sit_down":
                self.sit_down(seat)
            case "leave":
                self.run(Leave(seat=seat, now_ms=self.now))
            case "sit_out":
                self.run(SitOut(seat=seat))
            case "come_back":
                self.run(ComeBack(seat=seat))
            case "top_up":
                # A top-up may bring the stack from the minimum to the maximum.
                stack, config = self.chips(seat), self.config
                least = max(1, config.min_buy_in - stack)
                amount = self.draw(st.integers(least, config.max_buy_in - stack))
                self.bring(TopUp(seat=seat, amount=amount), amount)
            case "rebuy":
                self.table_command("top_up", seat)
                if self.chips(seat):
                    self.run(ComeBack(seat=seat))
            case _:  # pragma: no cover - a typo in the driver
                raise AssertionError(kind)

    def refused_command(self) -> None:
        """A command the table must refuse, mid-hand."""
        hand = self.state.hand
        assert hand is not None and hand.turn is not None
        turn = hand.turn
        others = [seat for seat in hand.started.seats if seat != turn.seat]
        legal = legal_actions(hand)
        assert legal is not None
        kinds = ["early_timeout", "out_of_turn", "top_up_in_hand"]
        if legal.min_raise_to is not None:
            kinds.append("raise_too_small")
        kind = self.draw(st.sampled_from(kinds))
        command: Command
        if kind == "early_timeout":
            early = max(0, turn.deadline_ms - 1)
            command = TimeOut(hand=hand.number, seat=turn.seat, now_ms=early)
        elif kind == "out_of_turn":
            seat = self.draw(st.sampled_from(others))
            command = Act(seat=seat, action="call", now_ms=self.now)
        elif kind == "top_up_in_hand":
            command = TopUp(seat=turn.seat, amount=1)
        else:
            assert legal.min_raise_to is not None
            command = Act(
                seat=turn.seat,
                action="raise",
                amount=legal.min_raise_to - 1,
                now_ms=self.now,
            )
        self.refuse(command)

    def make_room_to_play(self) -> bool:
        """Top up, bring back and seat players until two or more can play;
        False if the chip limit leaves no room for a second player."""
        config = self.config
        for seat in self.occupied():
            if self.chips(seat) == 0:
                amount = min(config.max_buy_in, self.room())
                if amount >= config.min_buy_in:
                    self.run(TopUp(seat=seat, amount=amount))
            if (
                self.playable() < 2
                and self.chips(seat)
                and seat in self.occupied(sitting_out=True)
            ):
                self.run(ComeBack(seat=seat))
        for seat in self.empty_seats():
            if self.playable() >= 2 or self.room() < config.min_buy_in:
                break
            self.sit_down(seat, most=self.room())
        return self.playable() >= 2

    def sit_down(self, seat: int, most: int | None = None) -> None:
        """Someone sits with a buy-in in range, which the chip limit may
        refuse (unless `most` bounds it)."""
        config = self.config
        self.names += 1
        high = config.max_buy_in if most is None else min(most, config.max_buy_in)
        buy_in = self.draw(
            st.one_of(
                st.just(config.min_buy_in),
                st.integers(config.min_buy_in, high),
            )
        )
        self.bring(SitDown(seat=seat, name=f"p{self.names}", buy_in=buy_in), buy_in)

    def bring(self, command: SitDown | TopUp, chips: int) -> None:
        """Buy in or top up: refused when the table has no room for `chips`."""
        if chips > self.room():
            self.refuse(command)
        else:
            self.run(command)

    # Looking at the table.

    def chips(self, seat: int) -> int:
        occupant = self.state.seats[seat]
        assert occupant is not None
        return occupant.stack

    def playable(self) -> int:
        return sum(
            1
            for seat in self.state.seats
            if seat is not None and seat.stack > 0 and not seat.sitting_out
        )

    def empty_seats(self) -> list[int]:
        return [i for i, seat in enumerate(self.state.seats) if seat is None]

    def occupied(
        self, *, sitting_out: bool | None = None, leaving: bool | None = None
    ) -> list[int]:
        return [
            i
            for i, seat in enumerate(self.state.seats)
            if seat is not None
            and (sitting_out is None or seat.sitting_out == sitting_out)
            and (leaving is None or seat.leaving == leaving)
        ]

    def room(self) -> int:
        """How many more chips the table may hold (MAX_CHIPS in all)."""
        return MAX_CHIPS - (self.state.bought_in - self.state.cashed_out)

    def room_to_top_up(self) -> list[int]:
        return [
            i
            for i in self.occupied()
            if not self.state.in_hand(i) and self.chips(i) < self.config.max_buy_in
        ]
