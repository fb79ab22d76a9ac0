"""The pure table engine: commands, events, decide, evolve and views.

No trio, no I/O, no clock, no randomness: the shell passes the shuffled deck
and the time in commands, so folding a table's log always gives back the same
table.
"""

from pokerd.engine.commands import (
    ACTION_NAMES,
    Act,
    ActionName,
    ComeBack,
    Command,
    CreateTable,
    Leave,
    SitDown,
    SitOut,
    StartHand,
    TimeOut,
    TopUp,
)
from pokerd.engine.config import TableConfig, config_problem
from pokerd.engine.decide import decide, handle
from pokerd.engine.deck import STANDARD_DECK, CardProof, DeckCommitment, verify_card
from pokerd.engine.errors import RuleError
from pokerd.engine.events import (
    ActionTaken,
    BoardDealt,
    ChipsAdded,
    Event,
    HandDealt,
    HandEnded,
    HandStarted,
    HoleCardsMucked,
    HoleCardsShown,
    LeaveScheduled,
    PlayerLeft,
    PlayerReturned,
    PlayerSatOut,
    PlayerSeated,
    PotResult,
    PotShare,
    PublicEvent,
    TableCreated,
    TurnStarted,
)
from pokerd.engine.evolve import evolve, fold
from pokerd.engine.poker import ENGINE
from pokerd.engine.state import HandState, Seat, TableState, initial_state
from pokerd.engine.views import (
    LegalActions,
    PotView,
    SeatView,
    TableView,
    Viewer,
    legal_actions,
    redact,
    view,
)

__all__ = [
    "ACTION_NAMES",
    "ENGINE",
    "STANDARD_DECK",
    "Act",
    "ActionName",
    "ActionTaken",
    "BoardDealt",
    "CardProof",
    "ChipsAdded",
    "ComeBack",
    "Command",
    "CreateTable",
    "DeckCommitment",
    "Event",
    "HandDealt",
    "HandEnded",
    "HandStarted",
    "HandState",
    "HoleCardsMucked",
    "HoleCardsShown",
    "Leave",
    "LeaveScheduled",
    "LegalActions",
    "PlayerLeft",
    "PlayerReturned",
    "PlayerSatOut",
    "PlayerSeated",
    "PotResult",
    "PotShare",
    "PotView",
    "PublicEvent",
    "RuleError",
    "Seat",
    "SeatView",
    "SitDown",
    "SitOut",
    "StartHand",
    "TableConfig",
    "TableCreated",
    "TableState",
    "TableView",
    "TimeOut",
    "TopUp",
    "TurnStarted",
    "Viewer",
    "config_problem",
    "decide",
    "evolve",
    "fold",
    "handle",
    "initial_state",
    "legal_actions",
    "redact",
    "verify_card",
    "view",
]
