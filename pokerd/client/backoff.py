"""The pause between reconnection attempts: exponential, with full jitter."""

from __future__ import annotations

import random

BACKOFF_BASE_S = 0.1
BACKOFF_CAP_S = 5.0


class Backoff:
    """Exponential backoff with full jitter: the n-th delay (from 0) is uniform
    in [0, min(cap, base * 2**n)]; `reset` after a success."""

    def __init__(
        self,
        base: float = BACKOFF_BASE_S,
        cap: float = BACKOFF_CAP_S,
        rng: random.Random | None = None,
    ) -> None:
        self.base = base
        self.cap = cap
        self.rng = random.Random() if rng is None else rng
        self.attempts = 0

    def bound(self) -> float:
        """The largest delay the next `next_delay` may return."""
        return min(self.cap, self.base * 2.0 ** min(self.attempts, 60))

    def next_delay(self) -> float:
        bound = self.bound()
        self.attempts += 1
        return self.rng.random() * bound

    def reset(self) -> None:
        self.attempts = 0

    def fresh(self) -> Backoff:
        """Another backoff with the same pace and rng, from its first attempt."""
        return Backoff(self.base, self.cap, self.rng)
