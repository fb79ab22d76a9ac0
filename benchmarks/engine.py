"""6-max hands per second through pokerd's handle, beside PokerKit alone.

Both runs play the same hands: the same seeded `random.Random` shuffles each
deck (pokerd.tables.dealer.start_hand's way) and picks each action with the same
`choose` (fold a fifth of the time when facing a bet; bet or raise a fifth,
mostly the minimum to three times it, now and then all in; else check or
call), from the same 200-big-blind stacks topped up before every hand. At the
end each run's stacks per seat must agree, which shows the comparison is fair.

    python benchmarks/engine.py [--hands N] [--seed S] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import random
import sys
import time
from collections.abc import Sequence

import attrs
from pokerkit import Card, Mode, NoLimitTexasHoldem, State

from pokerd.engine import (
    Act,
    ComeBack,
    Command,
    CreateTable,
    Event,
    HandStarted,
    SitDown,
    TableConfig,
    TableState,
    TopUp,
    fold,
    handle,
    legal_actions,
)
from pokerd.engine.deck import SECRET_BYTES, STANDARD_DECK
from pokerd.engine.poker import AUTOMATIONS
from pokerd.tables.dealer import start_hand

PLAYERS = 6
SMALL_BLIND = 1
BIG_BLIND = 2
STACK = 200 * BIG_BLIND
DEFAULT_HANDS = 1500
STREET_CARDS = (3, 1, 1)
"""Cards dealt on the flop, the turn and the river (each after a burn)."""


@attrs.define
class Run:
    """What one side did, and how long its hands took."""

    hands: int = 0
    seconds: float = 0.0
    actions: int = 0

    @property
    def rate(self) -> float:
        return self.hands / self.seconds


# The player.


def choose(
    rng: random.Random, to_call: int, low: int | None, high: int | None
) -> tuple[str, int | None]:
    """An action for a seat facing `to_call`, allowed to raise to `low`..`high`
    (None: no raise): "fold", "check_or_call", or "raise" and its amount."""
    roll = rng.random()
    if to_call and roll < 0.2:
        return "fold", None
    if low is not None and high is not None and roll < 0.4:
        if rng.random() < 0.08:
            return "raise", high
        return "raise", rng.randint(low, min(high, 3 * low))
    return "check_or_call", None


# pokerd.


class Table:
    """A 6-max table played through pokerd's handle, with its whole log."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.now = 0
        self.state = TableState()
        self.log: list[Event] = []
        self.run(
            CreateTable(
                config=TableConfig(
                    max_seats=PLAYERS,
                    small_blind=SMALL_BLIND,
                    big_blind=BIG_BLIND,
                    min_buy_in=STACK // 2,
                    max_buy_in=STACK,
                )
            )
        )
        for seat in range(PLAYERS):
            self.run(SitDown(seat=seat, name=f"p{seat}", buy_in=STACK))

    def run(self, command: Command) -> None:
        events, self.state = handle(self.state, command)
        self.log += events

    def play_hand(self) -> int:
        """Top up, deal and play one hand; returns how many actions it took."""
        for index, seat in enumerate(self.state.seats):
            assert seat is not None
            if seat.stack < STACK:
                self.run(TopUp(seat=index, amount=STACK - seat.stack))
            if seat.sitting_out:
                self.run(ComeBack(seat=index))
        self.now += 1_000
        self.run(start_hand(self.now, self.rng))
        actions = 0
        while (act := self.choose()) is not None:
            self.run(act)
            actions += 1
        return actions

    def choose(self) -> Act | None:
        """The seat to act's action, chosen from its legal actions."""
        hand = self.state.hand
        if hand is None or hand.turn is None:
            return None
        legal = legal_actions(hand)
        if legal is None:
            return None
        seat, now = hand.turn.seat, self.now
        kind, amount = choose(
            self.rng, legal.call, legal.min_raise_to, legal.max_raise_to
        )
        if kind == "fold":
            return Act(seat=seat, action="fold", now_ms=now)
        if kind == "raise":
            return Act(seat=seat, action="raise", amount=amount, now_ms=now)
        return Act(seat=seat, action="check" if legal.check else "call", now_ms=now)

    def stacks(self) -> tuple[int, ...]:
        return tuple(seat.stack if seat else 0 for seat in self.state.seats)


# PokerKit alone.


class Alone:
    """The same hands with PokerKit alone: explicit cards, the same automations."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.deck = list(Card.parse("".join(STANDARD_DECK)))
        self.stacks = [STACK] * PLAYERS
        self.hands = 0

    def play_hand(self) -> int:
        """Top up, deal and play one hand; returns how many actions it took."""
        rng, stacks = self.rng, [max(stack, STACK) for stack in self.stacks]
        cards = list(self.deck)
        rng.shuffle(cards)
        rng.getrandbits(8 * SECRET_BYTES)  # pokerd's secret: keep the streams aligned
        # The big blind moves one seat a hand: position 0 (the small blind) is
        # seat `hands`, the button the seat before it.
        seats = [(self.hands + position) % PLAYERS for position in range(PLAYERS)]
        state = NoLimitTexasHoldem.create_state(
            AUTOMATIONS,
            True,
            0,
            (SMALL_BLIND, BIG_BLIND),
            BIG_BLIND,
            [stacks[seat] for seat in seats],
            PLAYERS,
            mode=Mode.CASH_GAME,
        )
        actions = play_hand(state, cards, rng)
        for position, seat in enumerate(seats):
            stacks[seat] = state.stacks[position]
        self.stacks = stacks
        self.hands += 1
        return actions


def play_hand(state: State, cards: Sequence[Card], rng: random.Random) -> int:
    """Deal from `cards` as pokerd does and play random actions to the end."""
    for position in range(2 * PLAYERS):
        state.deal_hole((cards[position],))
    next_card = 2 * PLAYERS
    streets = iter(STREET_CARDS)
    actions = 0
    while state.status:
        if state.can_burn_card():
            count = next(streets)
            state.burn_card((cards[next_card],))
            state.deal_board(tuple(cards[next_card + 1 : next_card + 1 + count]))
            next_card += 1 + count
        elif state.can_show_or_muck_hole_cards():
            state.show_or_muck_hole_cards()
        elif state.actor_index is not None:
            act(state, rng)
            actions += 1
        else:  # pragma: no cover - nothing else is left to a person
            raise AssertionError(f"PokerKit waits for something: {state!r}")
    return actions


def act(state: State, rng: random.Random) -> None:
    """The actor's action, chosen as in pokerd's run, straight on PokerKit."""
    can_raise = state.can_complete_bet_or_raise_to()
    kind, amount = choose(
        rng,
        state.checking_or_calling_amount or 0,
        state.min_completion_betting_or_raising_to_amount if can_raise else None,
        state.max_completion_betting_or_raising_to_amount if can_raise else None,
    )
    if kind == "fold":
        state.fold()
    elif kind == "raise":
        state.complete_bet_or_raise_to(amount)
    else:
        state.check_or_call()


# Replay and the report.


def race(hands: int, seed: int) -> tuple[Run, Run, Table, Alone]:
    """Both sides play `hands` hands, taking turns hand by hand so that a
    machine busy with something else slows both alike."""
    table, alone = Table(seed), Alone(seed)
    pokerd, pokerkit = Run(hands), Run(hands)
    clock = time.perf_counter
    for _ in range(hands):
        start = clock()
        pokerd.actions += table.play_hand()
        middle = clock()
        pokerkit.actions += alone.play_hand()
        pokerd.seconds += middle - start
        pokerkit.seconds += clock() - middle
    return pokerd, pokerkit, table, alone


def replay(log: list[Event]) -> tuple[float, TableState]:
    start = time.perf_counter()
    state = fold(log)
    return time.perf_counter() - start, state


def profile(hands: int, seed: int) -> str:
    """pokerd's hands again under cProfile: the top 15 by cumulative time."""
    table = Table(seed)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(hands):
        table.play_hand()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(15)
    return out.getvalue()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="6-max hands per second: pokerd beside PokerKit alone"
    )
    parser.add_argument("--hands", type=int, default=DEFAULT_HANDS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also print a cProfile summary of pokerd's hands",
    )
    args = parser.parse_args(argv)
    hands: int = args.hands
    seed: int = args.seed

    pokerd, pokerkit, table, alone = race(hands, seed)
    first_hand = next(
        index for index, event in enumerate(table.log) if isinstance(event, HandStarted)
    )
    events = len(table.log) - first_hand
    replay_seconds, replayed = replay(table.log)
    same = table.stacks() == tuple(alone.stacks)
    replays = replayed == table.state

    print(f"hands: {hands}")
    print(f"seed: {seed}")
    print(f"pokerd_hands_per_s: {pokerd.rate:.1f}")
    print(f"pokerkit_hands_per_s: {pokerkit.rate:.1f}")
    print(f"ratio_pokerd_to_pokerkit: {pokerd.rate / pokerkit.rate:.2f}")
    print(f"replay_hands_per_s: {hands / replay_seconds:.1f}")
    print(f"actions_per_hand: {pokerd.actions / hands:.2f}")
    print(f"pokerkit_actions_per_hand: {pokerkit.actions / hands:.2f}")
    print(f"events_per_hand: {events / hands:.2f}")
    print(f"same_results: {'yes' if same else 'NO'}")
    print(f"replay_matches: {'yes' if replays else 'NO'}")
    if args.profile:
        print(profile(hands, seed))
    return 0 if same and replays else 1


if __name__ == "__main__":
    sys.exit(main())
