"""Which node the router sends a table to: slots of the table id, ranked per slot.

A cluster's HAProxy sends a table's requests by its id: the id's CRC-32
modulo `SLOTS` names a slot, and each slot lists every node in an order of
its own (rendezvous hashing: the node with the highest score for the slot
first). A request goes to the first node of its slot's list that is up. So
a node's death moves only the tables whose slots had it first, each slot to
its own next node, and a node that joins takes back only the slots that rank
it first. The nodes compute the same choice here, from the nodes they know
to be up, to hand a table to the node the router sends it to and to take a
free table only where the router would send it (docs/design.md, "Where a
table runs"). `pokerd/tools/haproxy.py` writes the same ranking into
HAProxy's configuration; `tests/test_ring.py` checks that a real HAProxy
routes as computed here.
"""

from __future__ import annotations

import functools
import hashlib
import zlib
from collections.abc import Iterable

SLOTS = 256
"""Slots of the table ids: with three nodes each gets within about 10% of a third."""


def slot_of(table_id: str) -> int:
    """The table's slot: HAProxy's `crc32,mod(SLOTS)` of the id."""
    return zlib.crc32(table_id.encode()) % SLOTS


@functools.lru_cache(maxsize=SLOTS * 16)
def score(slot: int, node: str) -> int:
    """How much `slot` wants `node` (higher first); fixed for a slot and a node,
    so remembered: a node looks up the tables it holds each lease renewal."""
    digest = hashlib.blake2b(f"{slot}/{node}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def ranking(slot: int, nodes: Iterable[str]) -> list[str]:
    """`nodes` in the order the router tries them for `slot`."""
    return sorted(nodes, key=lambda node: (-score(slot, node), node))


def node_of(table_id: str, up: Iterable[str]) -> str | None:
    """The node among `up` the router sends `table_id` to; None if none is up."""
    ranked = ranking(slot_of(table_id), up)
    return ranked[0] if ranked else None
