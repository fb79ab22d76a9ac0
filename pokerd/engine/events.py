"""Events: facts in the table's log, in the past tense. Never refused on replay."""

from __future__ import annotations

from typing import Literal

import attrs

from pokerd.engine.config import TableConfig
from pokerd.engine.deck import CardProof

SatOutReason = Literal["requested", "timeouts", "busted"]
Cause = Literal["player", "timeout", "away"]
"""Why an action was taken: by the player, by the action clock, or for a seat
that is leaving or was sat out by timeouts (played at once, check or fold)."""
TakenAction = Literal["fold", "check", "call", "bet", "raise"]
Street = Literal["flop", "turn", "river"]


@attrs.frozen(kw_only=True)
class TableCreated:
    config: TableConfig
    creator_hash: str = ""
    """The creator token's hash; server-private: redaction blanks it. Empty
    in logs written before tables had creators: nobody may close those."""


@attrs.frozen(kw_only=True)
class PlayerSeated:
    seat: int
    name: str
    stack: int
    token_hash: str = ""
    """The seat token's hash; server-private: redaction blanks it."""


@attrs.frozen(kw_only=True)
class PlayerLeft:
    seat: int
    name: str
    stack: int
    """Chips the player took away with them."""


@attrs.frozen(kw_only=True)
class LeaveScheduled:
    """The seat leaves when the hand it is in ends; until then it plays as away."""

    seat: int


@attrs.frozen(kw_only=True)
class PlayerSatOut:
    seat: int
    reason: SatOutReason


@attrs.frozen(kw_only=True)
class PlayerReturned:
    seat: int


@attrs.frozen(kw_only=True)
class ChipsAdded:
    seat: int
    amount: int


@attrs.frozen(kw_only=True)
class TableClosing:
    """The table closes when the hand being played ends; no hand starts after it."""


@attrs.frozen(kw_only=True)
class TableClosed:
    """The table is closed for good: every player was cashed out just before
    (`PlayerLeft`), and it takes no command again."""


@attrs.frozen(kw_only=True)
class HandStarted:
    """A hand is dealt. Holds the secret deck: only the log ever sees this form.

    Everything is in position order (PokerKit's): index 0 is the small blind,
    the last index is the button; heads-up, index 0 is the big blind and the
    button posts the small blind.
    """

    hand: int
    engine: str
    """The rules engine and its exact version, e.g. "pokerkit 0.7.7"."""
    seats: tuple[int, ...]
    names: tuple[str, ...]
    stacks: tuple[int, ...]
    button: int
    small_blind: int
    big_blind: int
    antes: tuple[int, ...]
    """Each position's ante (PokerKit takes them by blind role: see
    `poker.forced_bets`)."""
    ante_trimming: bool
    """PokerKit's ante trimming: True for uniform antes, False otherwise."""
    blinds_or_straddles: tuple[int, ...]
    """Each position's blind or straddle; missing entries are 0."""
    min_bet: int
    deck: tuple[str, ...]
    secret: str
    commitment: str
    """Merkle root over the deck order (docs/fairness.md)."""
    missed_big_blind: tuple[int, ...]
    """Seats the big blind passed while they were out: they now wait for it."""
    started_at: int


@attrs.frozen(kw_only=True)
class ActionTaken:
    hand: int
    seat: int
    action: TakenAction
    amount: int
    """Chips put in for a call; the total bet or raised to for bet and raise."""
    all_in: bool
    cause: Cause


@attrs.frozen(kw_only=True)
class TurnStarted:
    hand: int
    seat: int
    deadline_ms: int


@attrs.frozen(kw_only=True)
class BoardDealt:
    hand: int
    street: Street
    cards: tuple[str, ...]
    proofs: tuple[CardProof, ...]


@attrs.frozen(kw_only=True)
class HoleCardsShown:
    hand: int
    seat: int
    cards: tuple[str, ...]
    proofs: tuple[CardProof, ...]


@attrs.frozen(kw_only=True)
class HoleCardsMucked:
    hand: int
    seat: int


@attrs.frozen(kw_only=True)
class PotShare:
    seat: int
    amount: int


@attrs.frozen(kw_only=True)
class PotResult:
    amount: int
    shares: tuple[PotShare, ...]


@attrs.frozen(kw_only=True)
class HandEnded:
    hand: int
    pots: tuple[PotResult, ...]
    stacks: tuple[int, ...]
    """Final stacks in position order (HandStarted.seats)."""
    ended_at: int


@attrs.frozen(kw_only=True)
class HandDealt:
    """HandStarted as one viewer may see it: no deck, no secret.

    `hole_cards` and `hole_proofs` are the viewer's own, and empty for a
    spectator or a seat not dealt in.
    """

    hand: int
    engine: str
    seats: tuple[int, ...]
    names: tuple[str, ...]
    stacks: tuple[int, ...]
    button: int
    small_blind: int
    big_blind: int
    antes: tuple[int, ...]
    ante_trimming: bool
    blinds_or_straddles: tuple[int, ...]
    min_bet: int
    commitment: str
    missed_big_blind: tuple[int, ...]
    started_at: int
    hole_cards: tuple[str, ...]
    hole_proofs: tuple[CardProof, ...]


HandStep = ActionTaken | BoardDealt | HoleCardsShown | HoleCardsMucked
"""The events that move PokerKit's state during a hand."""

Event = (
    TableCreated
    | PlayerSeated
    | PlayerLeft
    | LeaveScheduled
    | PlayerSatOut
    | PlayerReturned
    | ChipsAdded
    | HandStarted
    | ActionTaken
    | TurnStarted
    | BoardDealt
    | HoleCardsShown
    | HoleCardsMucked
    | HandEnded
    | TableClosing
    | TableClosed
)

PublicEvent = (
    TableCreated
    | PlayerSeated
    | PlayerLeft
    | LeaveScheduled
    | PlayerSatOut
    | PlayerReturned
    | ChipsAdded
    | HandDealt
    | ActionTaken
    | TurnStarted
    | BoardDealt
    | HoleCardsShown
    | HoleCardsMucked
    | HandEnded
    | TableClosing
    | TableClosed
)
"""What a viewer receives: every event, with HandStarted redacted to HandDealt."""
