"""A table's fixed settings and the check that they make a playable table."""

from __future__ import annotations

import attrs

MIN_SEATS = 2
MAX_SEATS = 10
MAX_SAFE_INTEGER = 2**53 - 1
"""The largest integer JavaScript's JSON.parse reads exactly
(Number.MAX_SAFE_INTEGER): no number pokerd takes from a client or sends
to one is larger (docs/protocol.md, Numbers)."""
MAX_CHIPS = MAX_SAFE_INTEGER
"""The most chips a table holds, all seats together: every stack, bet, pot
and amount a view or event carries is at most this."""
MIN_ACTION_CLOCK_MS = 100
MAX_ACTION_CLOCK_MS = 3_600_000
"""An action clock runs from a tenth of a second (bots) to an hour."""
MAX_TIMEOUTS_BEFORE_SIT_OUT = 1_000
MAX_TABLE_NAME_LENGTH = 40
"""A table's name fits a lobby row and a page title."""


@attrs.frozen(kw_only=True)
class TableConfig:
    """What a table is created with; it never changes for the table's life."""

    name: str = ""
    """What the lobby and the table's page call it. "" is a table with no
    name: one created before tables had names (its log has no `name`), or by
    a caller that names none (the HTTP API names those, docs/design.md,
    "The lobby")."""
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
    name = config.name
    if len(name) > MAX_TABLE_NAME_LENGTH or not name.isprintable():
        return f"a table's name is at most {MAX_TABLE_NAME_LENGTH} printable characters"
    if name != name.strip():
        return "a table's name does not start or end with a space"
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
    chips = (config.big_blind, config.ante, config.big_blind_ante, *config.straddles)
    if max(chips) > MAX_CHIPS:
        return f"a blind, ante or straddle is at most {MAX_CHIPS} chips"
    if config.max_buy_in * config.max_seats > MAX_CHIPS:
        # Then the chips of a full table at the maximum buy-in, and so every
        # stack, bet and pot of it, fit in a browser's numbers.
        return (
            f"the maximum buy-in times the seats is at most {MAX_CHIPS} chips:"
            f" at most {MAX_CHIPS // config.max_seats} for {config.max_seats} seats"
        )
    if not MIN_ACTION_CLOCK_MS <= config.action_clock_ms <= MAX_ACTION_CLOCK_MS:
        return (
            f"the action clock is {MIN_ACTION_CLOCK_MS} to {MAX_ACTION_CLOCK_MS} ms,"
            f" not {config.action_clock_ms}"
        )
    if not 0 < config.timeouts_before_sit_out <= MAX_TIMEOUTS_BEFORE_SIT_OUT:
        return (
            f"timeouts before sit-out are 1 to {MAX_TIMEOUTS_BEFORE_SIT_OUT},"
            f" not {config.timeouts_before_sit_out}"
        )
    return None
