"""pokerd: a real-time, event-sourced No-Limit Hold'em table server.

The public API: the pure engine (`pokerd.engine`: commands, events, `decide`,
`evolve`, `handle`, `view`, `redact`), the converter (`pokerd.wire.codec`), the
shell's dealer (`pokerd.tables.dealer`) and PHH in and out (`pokerd.hands.phh`).
"""

from pokerd.engine import (
    ENGINE,
    Command,
    Event,
    PublicEvent,
    RuleError,
    TableConfig,
    TableState,
    TableView,
    decide,
    evolve,
    fold,
    handle,
    initial_state,
    redact,
    view,
)

__version__ = "0.1.0"

__all__ = [
    "ENGINE",
    "Command",
    "Event",
    "PublicEvent",
    "RuleError",
    "TableConfig",
    "TableState",
    "TableView",
    "__version__",
    "decide",
    "evolve",
    "fold",
    "handle",
    "initial_state",
    "redact",
    "view",
]
