"""A table's fixed settings and the check that they make a playable table."""

from __future__ import annotations

import attrs

MIN_SEATS = 2
MAX_SEATS = 10


@attrs.frozen(kw_only=True)
class TableConfig:
    """What a table is created with; it never changes for the table's life."""

    max_seats: int = 6
    small_blind: int = 1
    big_blind: int = 2
    ante: int = 0
    """Posted by every player dealt in."""
    big_blind_ante: int = 0
    """Posted by the big blind alone, on top of any ante."""
    straddles: tuple[int, ...] = ()
    """Mandatory straddles after the big blind, used when enough players sit."""
    min_buy_in: int = 40
    max_buy_in: int = 200
    action_clock_ms: int = 30_000
    timeouts_before_sit_out: int = 2
    """Consecutive clock expiries after which a player is sat out."""


def config_problem(config: TableConfig) -> str | None:
    """Say what makes `config` unplayable, or None when it is fine."""
    if not MIN_SEATS <= config.max_seats <= MAX_SEATS:
        return f"a table has {MIN_SEATS} to {MAX_SEATS} seats, not {config.max_seats}"
    if config.small_blind < 0 or config.big_blind <= 0:
        return "the big blind must be positive and the small blind not negative"
    if config.small_blind > config.big_blind:
        return "the small blind cannot be larger than the big blind"
    if config.ante < 0 or config.big_blind_ante < 0:
        return "antes cannot be negative"
    if any(straddle <= 0 for straddle in config.straddles):
        return "straddles must be positive"
    if len(config.straddles) > config.max_seats - 2:
        return "there are more straddles than seats after the blinds"
    if not 0 < config.min_buy_in <= config.max_buy_in:
        return "the buy-in range must be positive and ordered (min <= max)"
    if config.action_clock_ms <= 0:
        return "the action clock must be positive"
    if config.timeouts_before_sit_out <= 0:
        return "timeouts before sit-out must be at least 1"
    return None
