"""The lobby's board: one line per table, kept current from the tables' events.

Each line says what a player choosing a table wants to know: the table's
config (its name, blinds, seats), the seats taken, the spectators watching on
the live stream, the hands played, the average pot and the pace (hands per
hour) of the latest hands, and whether the supervisor stopped the table. The
board has a version, raised by every change; each line keeps the version of
its last change, so a lobby client that saw version V gets only the lines
changed since (`GET /lobby`, docs/protocol.md), and waits while there are
none. Everything here is synchronous and never waits: the service feeds it
from the tables' publisher and the live stream, and answers the long polls.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import attrs
import trio

from pokerd.engine.config import TableConfig
from pokerd.engine.events import HandEnded
from pokerd.engine.state import TableState
from pokerd.store.reader import HandResult
from pokerd.store.records import StoredEvent
from pokerd.wire import codec

RECENT_HANDS = 20
"""Finished hands per table the average pot and the pace are taken over."""
IDLE_GAP_MS = 5 * 60 * 1000
"""A wait between two hands' ends longer than this is the table standing
idle, not its pace: the pace leaves it out."""


@attrs.define(eq=False)
class LobbyLine:
    """One table as the lobby shows it."""

    table: str
    config: TableConfig
    seats_taken: int = 0
    hands_played: int = 0
    stopped: str | None = None
    """Why the supervisor stopped the table, if it did."""
    recent: dict[int, HandResult] = attrs.Factory(dict)
    """The latest `RECENT_HANDS` finished hands, by hand number."""
    version: int = 0
    """The board's version at this line's last change."""
    _json: tuple[int, dict[str, Any]] | None = None
    """The line as JSON at a version: built once a change, however many
    lobby clients are sent it."""

    def add_hands(self, results: Sequence[HandResult]) -> bool:
        """Keep these hands' results (a hand known already is kept once);
        whether the line changed."""
        before = set(self.recent)
        for result in results:
            self.recent[result.hand] = result
        for hand in sorted(self.recent)[:-RECENT_HANDS]:
            del self.recent[hand]
        return set(self.recent) != before

    def average_pot(self) -> int | None:
        if not self.recent:
            return None
        return round(sum(r.pot for r in self.recent.values()) / len(self.recent))

    def hands_per_hour(self) -> int | None:
        """3,600 s over the mean time between the latest hands' ends, leaving
        out waits longer than IDLE_GAP_MS; None before two hands ended close
        together. Taken from the log's times, so the same log gives the same
        figure whenever it is asked."""
        ends = [self.recent[hand].ended_at for hand in sorted(self.recent)]
        gaps = [b - a for a, b in pairwise(ends) if 0 < b - a <= IDLE_GAP_MS]
        if not gaps:
            return None
        return round(3_600_000 * len(gaps) / sum(gaps))

    def as_json(self, spectators: int) -> dict[str, Any]:
        """The line for `GET /lobby` (the board touches a line whenever its
        spectators change, so its version covers them too)."""
        if self._json is not None and self._json[0] == self.version:
            return self._json[1]
        data = {
            "table": self.table,
            "config": codec.unstructure(self.config),
            "seats_taken": self.seats_taken,
            "spectators": spectators,
            "hands_played": self.hands_played,
            "average_pot": self.average_pot(),
            "hands_per_hour": self.hands_per_hour(),
            "status": "open" if self.stopped is None else "stopped",
        }
        self._json = (self.version, data)
        return data


class Lobby:
    """Every table's line, the board's version, and a wake-up for long polls."""

    def __init__(self) -> None:
        self.board = secrets.token_hex(8)
        """This board's id: versions count from 0 at each server start, so a
        client that names another board (a restart, another node) gets the
        whole board."""
        self.version = 0
        self.loaded = False
        """Whether every table of the log has its line (`load`)."""
        self._lines: dict[str, LobbyLine] = {}
        self._spectators: dict[str, int] = {}
        self._removed: dict[str, int] = {}
        self._changed = trio.Event()

    @property
    def changed(self) -> trio.Event:
        """Set at the board's next change (a new event after each)."""
        return self._changed

    def line(self, table_id: str) -> LobbyLine | None:
        return self._lines.get(table_id)

    # Changes

    def record(
        self, table_id: str, events: Sequence[StoredEvent], state: TableState
    ) -> None:
        """A table's committed events and its state after them."""
        config = state.config
        if config is None:
            return
        if state.closing or state.closed:
            self.remove(table_id)  # gone from the lobby once it closes
            return
        line = self._lines.get(table_id)
        changed = line is None
        if line is None:
            line = self._lines[table_id] = LobbyLine(table_id, config)
        ended = [
            HandResult(
                hand=stored.event.hand,
                ended_at=stored.event.ended_at,
                pot=sum(pot.amount for pot in stored.event.pots),
            )
            for stored in events
            if isinstance(stored.event, HandEnded)
        ]
        if ended and line.add_hands(ended):
            changed = True
        if self._take_counts(line, state):
            changed = True
        if changed:
            self._touch(line)

    def merge(
        self,
        table_id: str,
        state: TableState,
        results: Sequence[HandResult],
        *,
        stopped: str | None,
    ) -> None:
        """A table as read from the log (its state, its latest hands), over
        what its events have told the board meanwhile, if anything."""
        config = state.config
        if config is None:
            return
        if state.closing or state.closed:
            self.remove(table_id)
            return
        line = self._lines.get(table_id)
        changed = line is None
        if line is None:
            line = self._lines[table_id] = LobbyLine(table_id, config)
        if line.add_hands(results):
            changed = True
        if self._take_counts(line, state):
            changed = True
        if stopped is not None and line.stopped is None:
            line.stopped = stopped
            changed = True
        if changed:
            self._touch(line)

    def stop(self, table_id: str, reason: str) -> None:
        """The supervisor stopped the table: its line says so."""
        line = self._lines.get(table_id)
        if line is not None and line.stopped is None:
            line.stopped = reason
            self._touch(line)

    def watch(self, table_id: str, change: int) -> None:
        """A spectator began (+1) or stopped (-1) watching on the live stream."""
        count = self._spectators.get(table_id, 0) + change
        if count > 0:
            self._spectators[table_id] = count
        else:
            self._spectators.pop(table_id, None)
        line = self._lines.get(table_id)
        if line is not None:
            self._touch(line)

    def remove(self, table_id: str) -> None:
        """The table is gone from the lobby (closed for good)."""
        if self._lines.pop(table_id, None) is not None:
            self.version += 1
            self._removed[table_id] = self.version
            self._wake()

    # Reading

    def whole(self) -> dict[str, Any]:
        """Every line, for a client starting afresh."""
        return self._answer(list(self._lines.values()), [], whole=True)

    def since(self, version: int) -> dict[str, Any]:
        """The lines changed and the tables removed after `version`."""
        lines = [line for line in self._lines.values() if line.version > version]
        removed = [table for table, at in self._removed.items() if at > version]
        return self._answer(lines, removed, whole=False)

    def lines(self) -> list[dict[str, Any]]:
        """Every line as JSON (`GET /tables`)."""
        return self.whole()["tables"]  # type: ignore[no-any-return]

    def _answer(
        self, lines: list[LobbyLine], removed: list[str], *, whole: bool
    ) -> dict[str, Any]:
        spectators = self._spectators
        return {
            "lobby": self.board,
            "version": self.version,
            "whole": whole,
            "tables": [line.as_json(spectators.get(line.table, 0)) for line in lines],
            "removed": removed,
        }

    def _take_counts(self, line: LobbyLine, state: TableState) -> bool:
        seats_taken = sum(seat is not None for seat in state.seats)
        if (line.seats_taken, line.hands_played) == (seats_taken, state.hands_played):
            return False
        line.seats_taken, line.hands_played = seats_taken, state.hands_played
        return True

    def _touch(self, line: LobbyLine) -> None:
        self.version += 1
        line.version = self.version
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = trio.Event()
