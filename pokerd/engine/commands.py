"""Commands: what someone asks the table to do. The table may refuse."""

from __future__ import annotations

from typing import Literal

import attrs

from pokerd.engine.config import TableConfig

ActionName = Literal["fold", "check", "call", "bet", "raise", "all_in"]
ACTION_NAMES: tuple[ActionName, ...] = (
    "fold",
    "check",
    "call",
    "bet",
    "raise",
    "all_in",
)


@attrs.frozen(kw_only=True)
class CreateTable:
    config: TableConfig
    creator_hash: str = ""
    """The hash of the creator token the shell hands whoever created the table
    (never the token): the log then says who may close it."""


@attrs.frozen(kw_only=True)
class SitDown:
    seat: int
    name: str
    buy_in: int
    token_hash: str = ""
    """The hash of the seat token the shell hands the player (never the token):
    the log then says who may act for the seat, and a restart keeps it."""


@attrs.frozen(kw_only=True)
class Leave:
    """Leave at once, or when the current hand ends if the seat is in it."""

    seat: int
    now_ms: int


@attrs.frozen(kw_only=True)
class SitOut:
    """Stop being dealt in from the next hand; the current hand plays on."""

    seat: int


@attrs.frozen(kw_only=True)
class ComeBack:
    seat: int


@attrs.frozen(kw_only=True)
class TopUp:
    seat: int
    amount: int


@attrs.frozen(kw_only=True)
class CloseTable:
    """Close the table for good: no hand starts after this; the current one
    plays to its end, then every seated player is cashed out. Who may ask
    is the shell's to check (the creator token, as seats have theirs)."""


@attrs.frozen(kw_only=True)
class StartHand:
    """Deal the next hand. The shell shuffles: the core has no randomness.

    `deck` is a permutation of the 52 cards (a CSPRNG shuffle) and `secret`
    32 random bytes in hex, from which each card's commitment salt derives.
    """

    deck: tuple[str, ...]
    secret: str
    now_ms: int


@attrs.frozen(kw_only=True)
class Act:
    """A player's action. `amount` is the total to bet or raise to."""

    seat: int
    action: ActionName
    amount: int | None = None
    now_ms: int


@attrs.frozen(kw_only=True)
class TimeOut:
    """The shell's action clock fired for `seat` in hand `hand`."""

    hand: int
    seat: int
    now_ms: int


Command = (
    CreateTable
    | SitDown
    | Leave
    | SitOut
    | ComeBack
    | TopUp
    | CloseTable
    | StartHand
    | Act
    | TimeOut
)
