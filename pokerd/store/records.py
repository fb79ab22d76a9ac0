"""What the log holds and what an append carries, the same for every backend."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, Literal

import attrs

from pokerd.engine.events import Event
from pokerd.wire import codec

SNAPSHOT_FORMAT = 1
"""The encoding of snapshots this pokerd writes; others are ignored on load."""


class ConflictError(Exception):
    """The log does not end where the append expected: another writer was first."""


class FencedError(ConflictError):
    """This node no longer holds the table's lease (or never took it): the
    append was refused, and another node may own the table now.

    A kind of ConflictError: whoever stops a table on a conflict stops it on a
    fence too, which is what a node that lost a table must do."""


TakenFrom = Literal["new", "own", "handed", "released", "expired"]
"""Whose a lease was before a take: nobody's (no lease yet), this node's own,
another node's that it handed to this one (a hand-off), that it released
otherwise (a clean stop, a step-down), or that ran out (a takeover: that
node died, was paused or cut off)."""


@attrs.frozen
class Taken:
    """A lease taken: its new epoch, and whose it was before."""

    epoch: int
    taken_from: TakenFrom
    previous_owner: str | None = None
    """The node that held it before (None for a new lease)."""


@attrs.frozen
class StoredEvent:
    seq: int
    event: Event
    recorded_at: int
    payload: str | None = attrs.field(default=None, eq=False, repr=False)
    """The event's JSON as the log holds it (`codec.compact_json` of
    `codec.unstructure_event`), when at hand: the live stream sends it as is
    to every viewer the event is not redacted for."""


@attrs.frozen(kw_only=True)
class HandRow:
    """A finished hand's row of the `hands` table, written in the transaction
    of the hand's last event (built by `pokerd.hands.history.hand_row`)."""

    hand: int
    engine: str
    started_at: int
    ended_at: int
    summary: str
    """What everyone may know of the hand, as JSON."""
    hole_cards: str
    """Each seat's hole cards, as JSON `{"seat": [cards]}`: private to that seat."""
    phh: str
    """The hand as PHH as a spectator may see it."""


@attrs.frozen
class WriterStatistics:
    """What the writer thread has done since it started."""

    transactions: int
    appends: int
    events: int
    conflicts: int
    largest_batch: int
    fenced: int = 0
    """Appends refused by the lease fence (also counted in `conflicts`)."""


EventRow = tuple[str, int, str, str, int, str | None]
"""An event as a row of `events`: table_id, seq, type, payload, recorded_at,
request (`AppliedRequest.column` on the last event of a seat request's append,
else None)."""


@attrs.frozen
class AppliedRequest:
    """A seat request whose events the log holds: who sent it (the hash of
    their seat token), its id, a digest of its content, and the seq of the
    last event it caused (its ack's seq). Kept in the `request` column of that
    event's row, so that a node that loads the table answers a resend with
    the first answer (docs/design.md, "Resuming across nodes")."""

    token_hash: str
    request_id: str
    digest: str
    seq: int = 0

    @property
    def column(self) -> str:
        """The `request` column's text: the hash and digest (no spaces in
        either) before the id (which may hold spaces)."""
        return f"{self.token_hash} {self.digest} {self.request_id}"

    @classmethod
    def from_column(cls, text: str, seq: int) -> AppliedRequest | None:
        """The request a column's text names, or None if it does not parse."""
        parts = text.split(" ", 2)
        if len(parts) != 3 or not all(parts):
            return None
        token_hash, digest, request_id = parts
        return cls(token_hash, request_id, digest, seq)


@attrs.define(eq=False)
class PendingAppend:
    """An append on its way to the writer thread, encoded on the caller's side."""

    table_id: str
    first_seq: int
    rows: list[EventRow]
    snapshot: str | None
    hand: HandRow | None
    wake: Callable[[], None]
    epoch: int | None = None
    """The lease epoch this node held when the append was made (fenced stores)."""
    error: BaseException | None = None
    picked_at: float = 0.0
    """`time.perf_counter()` when the writer thread took it from the queue."""
    committed_at: float = 0.0
    """`time.perf_counter()` when its batch's commit returned."""

    @property
    def last_seq(self) -> int:
        return self.first_seq + len(self.rows) - 1


@attrs.frozen
class AppendTimes:
    """Where one append's wait went, in seconds: until the writer thread took
    it (`queued`), its batch's commit (`commit`), and from the commit to the
    appending task running again (`wake`). Their sum is the append's
    latency."""

    events: int
    queued: float
    commit: float
    wake: float

    @property
    def total(self) -> float:
        return self.queued + self.commit + self.wake


def decode_rows(rows: Sequence[tuple[Any, ...]]) -> list[StoredEvent]:
    return [
        StoredEvent(
            seq=seq, event=codec.structure_event(json.loads(payload)), recorded_at=at
        )
        for seq, payload, at in rows
    ]
