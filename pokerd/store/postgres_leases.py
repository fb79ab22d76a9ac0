"""Table leases in PostgreSQL: which node may append to a table, and its fence.

A lease row per table (migrations/postgresql/0001_event_log.sql) carries the
node that took it, an epoch and an expiry. Every statement here judges expiry
by the database's clock (`now()`), never a node's: nodes' clocks may disagree,
the database's is one. Taking a lease adds one to its epoch, and the writer
checks that epoch in every append transaction (postgres_log.py), so a node
that lost a lease can never append again however late its write arrives.
Each method is one statement in its own transaction, on a connection of the
leases' own (the writer thread's is busy with appends). The `nodes` table
says where each node is reached and which nodes are up (seen lately,
started a while ago).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

import psycopg

from pokerd.store.errors import UnavailableError
from pokerd.store.postgres import PgConnection, connect
from pokerd.store.records import Taken, TakenFrom

log = logging.getLogger(__name__)

_TAKE = """
INSERT INTO leases AS lease (table_id, owner, epoch, lease_until)
VALUES (%(table)s, %(node)s, 1, now() + make_interval(secs => %(ttl)s))
ON CONFLICT (table_id) DO UPDATE
    SET owner = EXCLUDED.owner,
        epoch = lease.epoch + 1,
        lease_until = EXCLUDED.lease_until,
        handed_to = NULL
    WHERE lease.lease_until < now() OR lease.owner = EXCLUDED.owner
RETURNING epoch,
    (SELECT owner FROM leases WHERE table_id = %(table)s),
    (SELECT lease_until = '-infinity' FROM leases WHERE table_id = %(table)s),
    (SELECT handed_to FROM leases WHERE table_id = %(table)s)
"""
"""Take a table's lease in one statement: a new row at epoch 1, or the
existing row if it has expired (or was released, -infinity) or is this
node's own, its epoch one more. A lease another node holds is left alone and
nothing is returned. Taking one's own lease again also bumps the epoch, which
fences whatever an earlier incarnation of this node still has in flight.
While an append transaction of the old owner holds the row FOR SHARE, the
update waits for it to end, then sees the row as that commit left it. The
subqueries of RETURNING read the row as the statement's snapshot had it,
before this take: whose it was, whether released, and to whom."""

_RENEW = """
WITH mine AS (
    SELECT lease.table_id
    FROM leases AS lease
    JOIN unnest(%(tables)s::text[], %(epochs)s::bigint[]) AS held (table_id, epoch)
        ON lease.table_id = held.table_id AND lease.epoch = held.epoch
    WHERE lease.owner = %(node)s
    ORDER BY lease.table_id
    FOR NO KEY UPDATE OF lease
)
UPDATE leases AS lease SET lease_until = now() + make_interval(secs => %(ttl)s)
FROM mine WHERE lease.table_id = mine.table_id
RETURNING lease.table_id
"""
"""Extend the leases this node holds at the epochs it took them. A lease
past its expiry that nobody took is still this node's (its epoch never
moved, so nothing was fenced) and is extended too. The rows are locked in
table order, as the writer's FOR SHARE locks them, so the two never deadlock."""

_RELEASE = """
WITH mine AS (
    SELECT lease.table_id
    FROM leases AS lease
    JOIN unnest(%(tables)s::text[], %(epochs)s::bigint[]) AS held (table_id, epoch)
        ON lease.table_id = held.table_id AND lease.epoch = held.epoch
    WHERE lease.owner = %(node)s
    ORDER BY lease.table_id
    FOR NO KEY UPDATE OF lease
)
UPDATE leases AS lease SET lease_until = '-infinity', handed_to = %(handed_to)s
FROM mine WHERE lease.table_id = mine.table_id
"""
"""Give leases up: expired at once, the epoch kept (it must only grow), and
the node they are handed to if any. Locked in table order, as renewals are."""

_FREE = """
SELECT table_id FROM tables
WHERE NOT EXISTS (
    SELECT 1 FROM leases
    WHERE leases.table_id = tables.table_id
        AND leases.lease_until >= now() AND leases.owner != %(node)s)
ORDER BY table_id
"""
"""Tables whose lease is free or expired, or names this node (an earlier
incarnation of it under the same node id: taking it again bumps the epoch)."""

_OWNER = """
SELECT lease.owner, node.address
FROM leases AS lease LEFT JOIN nodes AS node ON node.node = lease.owner
WHERE lease.table_id = %(table)s AND lease.lease_until >= now()
"""
"""Who holds a table's lease now, and where that node said it is reached."""

_ANNOUNCE = """
INSERT INTO nodes (node, address, seen_at, started_at)
VALUES (%(node)s, %(address)s, now(), now())
ON CONFLICT (node) DO UPDATE
    SET address = EXCLUDED.address, seen_at = now(), started_at = now()
"""
"""A node starting: a restart under the same id starts again too (the router
marked it down meanwhile, and must see it healthy again)."""

_UP = """
SELECT node, address FROM nodes
WHERE seen_at >= now() - make_interval(secs => %(ttl)s)
    AND started_at <= now() - make_interval(secs => %(join_delay)s)
ORDER BY node
"""
"""The nodes up: seen within the ttl, started at least the join delay ago."""

_BEAT_AND_UP = (
    """
WITH beat AS (
    INSERT INTO nodes (node, address, seen_at) VALUES (%(node)s, %(address)s, now())
    ON CONFLICT (node) DO UPDATE SET address = EXCLUDED.address, seen_at = now()
)"""
    + _UP
)
"""This node seen now, and the nodes up, in one statement. The SELECT sees
the rows as they were before the beat (one snapshot): this node's own row as
of its previous beat, a keeper tick ago. A row deleted meanwhile comes back."""

_LEAVE = "DELETE FROM nodes WHERE node = %(node)s"

SAFETY_SHARE = 0.2
"""Of the ttl, what the node's own reckoning of a lease's expiry keeps back:
it counts the ttl from before it sent the statement (the database counts from
after), less this share, so it stops serving a table before the database
lets another node take it, even if the two clocks run a little apart."""


class PostgresLeases:
    """This node's leases: taken, renewed and released in the database."""

    def __init__(self, url: str, node: str, ttl_s: float) -> None:
        self.url = url
        self.node = node
        self.ttl_s = ttl_s
        self._held: dict[str, int] = {}
        self._valid_until: dict[str, float] = {}
        """Each held lease's expiry as this node reckons it (time.monotonic)."""
        self._lock = threading.Lock()
        self._connection: PgConnection | None = None
        self._address: str | None = None
        """Where this node is reached, once announced."""

    def _reckoned(self, sent_at: float) -> float:
        return sent_at + self.ttl_s * (1 - SAFETY_SHARE)

    def _connected(self) -> PgConnection:
        if (
            self._connection is None
            or self._connection.closed
            or self._connection.broken
        ):
            if self._connection is not None:
                self._connection.close()
            self._connection = connect(self.url)
        return self._connection

    def take(self, table_id: str) -> int | None:
        taken = self.take_over(table_id)
        return None if taken is None else taken.epoch

    def take_over(self, table_id: str) -> Taken | None:
        with self._lock:
            sent_at = time.monotonic()
            row = (
                self._connected()
                .execute(
                    _TAKE, {"table": table_id, "node": self.node, "ttl": self.ttl_s}
                )
                .fetchone()
            )
            if row is None:
                self._held.pop(table_id, None)
                self._valid_until.pop(table_id, None)
                return None
            epoch = int(row[0])
            self._held[table_id] = epoch
            self._valid_until[table_id] = self._reckoned(sent_at)
            owner, released, handed_to = row[1], row[2], row[3]
            if owner is None:
                return Taken(epoch, "new")
            taken_from: TakenFrom = (
                "own"
                if owner == self.node
                else ("handed" if handed_to == self.node else "released")
                if released
                else "expired"
            )
            return Taken(epoch, taken_from, str(owner))

    def renew(self) -> set[str]:
        with self._lock:
            if not self._held:
                return set()
            tables = sorted(self._held)
            sent_at = time.monotonic()
            rows = self._connected().execute(
                _RENEW,
                {
                    "tables": tables,
                    "epochs": [self._held[table] for table in tables],
                    "node": self.node,
                    "ttl": self.ttl_s,
                },
            )
            kept = {str(row[0]) for row in rows}
            lost = set(tables) - kept
            for table_id in lost:
                del self._held[table_id]
                self._valid_until.pop(table_id, None)
            for table_id in kept:
                self._valid_until[table_id] = self._reckoned(sent_at)
            return lost

    def release(
        self, table_ids: Sequence[str] | None = None, *, handed_to: str | None = None
    ) -> None:
        with self._lock:
            chosen = sorted(
                set(self._held)
                if table_ids is None
                else set(table_ids) & set(self._held)
            )
            if not chosen:
                return
            epochs = [self._held[table] for table in chosen]
            # Forgotten first: a lease this node gives up is not its own any
            # more even if the database cannot be told (it then expires).
            for table_id in chosen:
                del self._held[table_id]
                self._valid_until.pop(table_id, None)
            self._connected().execute(
                _RELEASE,
                {
                    "tables": chosen,
                    "epochs": epochs,
                    "node": self.node,
                    "handed_to": handed_to,
                },
            )

    def held(self) -> dict[str, int]:
        with self._lock:
            return dict(self._held)

    def epoch_of(self, table_id: str) -> int | None:
        """None too once the lease has run out by this node's reckoning: an
        append must not even be tried then (the fence would refuse it anyway)."""
        # Without the lock, which a statement may hold for long (a take waits
        # for appends in flight): the caller is trio's thread. Reading one
        # key of a dict is atomic.
        valid_until = self._valid_until.get(table_id)
        if valid_until is None or time.monotonic() >= valid_until:
            return None
        return self._held.get(table_id)

    def expired(self) -> list[str]:
        now = time.monotonic()
        reckoned = list(self._valid_until.items())  # one atomic copy, no lock
        return sorted(table for table, until in reckoned if now >= until)

    def free_tables(self) -> list[str]:
        with self._lock:
            rows = self._connected().execute(_FREE, {"node": self.node})
            return [str(row[0]) for row in rows if str(row[0]) not in self._held]

    def owner(self, table_id: str) -> tuple[str, str | None] | None:
        with self._lock:
            row = self._connected().execute(_OWNER, {"table": table_id}).fetchone()
            return None if row is None else (str(row[0]), row[1])

    def announce(self, address: str) -> None:
        with self._lock:
            self._connected().execute(
                _ANNOUNCE, {"node": self.node, "address": address}
            )
            self._address = address

    def nodes_up(self, join_delay_s: float) -> dict[str, str]:
        with self._lock:
            parameters = {"ttl": self.ttl_s, "join_delay": join_delay_s}
            if self._address is None:
                rows = self._connected().execute(_UP, parameters)
            else:
                rows = self._connected().execute(
                    _BEAT_AND_UP,
                    {**parameters, "node": self.node, "address": self._address},
                )
            return {str(row[0]): str(row[1]) for row in rows}

    def close(self) -> None:
        """Release every lease held and forget this node (a clean stop: others
        take its tables at once, and stop counting it as up)."""
        try:
            if self._address is not None:
                with self._lock:
                    self._connected().execute(_LEAVE, {"node": self.node})
                    self._address = None
            if self.held():
                self.release()
        except (psycopg.Error, UnavailableError) as error:
            # They expire by themselves: others wait out the expiry instead.
            log.warning("the leases of node %s were not released: %s", self.node, error)
        finally:
            with self._lock:
                self._held.clear()
                self._valid_until.clear()
                if self._connection is not None:
                    self._connection.close()
                    self._connection = None
