"""The shell's side of dealing: shuffled decks and secrets, and a simple player.

The engine has no randomness; this module is where it comes from. Production
shuffles with the operating system's CSPRNG; tests and benchmarks pass a
seeded `random.Random` so a run can be repeated.
"""

from __future__ import annotations

import random
import secrets

from pokerd.engine.commands import Act, StartHand
from pokerd.engine.deck import SECRET_BYTES, STANDARD_DECK
from pokerd.engine.state import TableState
from pokerd.engine.views import legal_actions

_SYSTEM_RANDOM = secrets.SystemRandom()


def start_hand(now_ms: int, rng: random.Random | None = None) -> StartHand:
    """A StartHand with a freshly shuffled deck and commitment secret.

    With no `rng`, the deck and secret come from the OS CSPRNG.
    """
    source = rng if rng is not None else _SYSTEM_RANDOM
    deck = list(STANDARD_DECK)
    source.shuffle(deck)
    secret = (
        secrets.token_hex(SECRET_BYTES)
        if rng is None
        else rng.getrandbits(8 * SECRET_BYTES).to_bytes(SECRET_BYTES, "big").hex()
    )
    return StartHand(deck=tuple(deck), secret=secret, now_ms=now_ms)


def random_action(state: TableState, rng: random.Random, now_ms: int) -> Act | None:
    """A random legal action for the seat to act, or None if nobody is to act.

    Folds sometimes when facing a bet, bets or raises sometimes (the minimum
    to three times it, now and then all in), otherwise checks or calls.
    """
    hand = state.hand
    if hand is None or hand.turn is None:
        return None
    legal = legal_actions(hand)
    if legal is None:
        return None
    seat = hand.turn.seat
    roll = rng.random()
    if legal.fold and roll < 0.2:
        return Act(seat=seat, action="fold", now_ms=now_ms)
    if legal.min_raise_to is not None and legal.max_raise_to is not None and roll < 0.4:
        if rng.random() < 0.08:
            return Act(seat=seat, action="all_in", now_ms=now_ms)
        # Mostly modest sizes, as people bet: the minimum to three times it.
        high = min(legal.max_raise_to, 3 * legal.min_raise_to)
        amount = rng.randint(legal.min_raise_to, high)
        return Act(seat=seat, action="raise", amount=amount, now_ms=now_ms)
    return Act(seat=seat, action="check" if legal.check else "call", now_ms=now_ms)
