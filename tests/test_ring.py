"""The router's placement of tables on nodes (`pokerd.ops.ring`), in-process."""

from __future__ import annotations

import random
import zlib
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from pokerd.ops.ring import SLOTS, node_of, ranking, slot_of

NODES = ["node1", "node2", "node3"]
_RANDOM = random.Random(15)
IDS = [_RANDOM.randbytes(9).hex() for _ in range(3000)]


def test_the_slot_is_the_crc32_of_the_id_modulo_the_slots() -> None:
    # HAProxy's `crc32,mod(256)`: the standard CRC-32 (as zlib's) of the id's bytes.
    assert slot_of("abc") == zlib.crc32(b"abc") % SLOTS
    assert slot_of("") == 0


def test_each_of_three_nodes_gets_about_a_third_of_the_tables() -> None:
    shares = Counter(node_of(table_id, NODES) for table_id in IDS)
    assert set(shares) == set(NODES)
    assert all(800 <= count <= 1200 for count in shares.values()), shares


def test_a_node_that_goes_moves_only_its_own_tables() -> None:
    before = {table_id: node_of(table_id, NODES) for table_id in IDS}
    after = {table_id: node_of(table_id, ["node1", "node3"]) for table_id in IDS}
    moved = {t for t in IDS if before[t] != after[t]}
    assert moved == {t for t in IDS if before[t] == "node2"}
    assert {after[t] for t in moved} == {"node1", "node3"}


def test_a_node_that_joins_takes_only_what_ranks_it_first() -> None:
    before = {table_id: node_of(table_id, NODES) for table_id in IDS}
    after = {table_id: node_of(table_id, [*NODES, "node4"]) for table_id in IDS}
    assert {after[t] for t in IDS if before[t] != after[t]} == {"node4"}


def test_no_node_up_places_nothing() -> None:
    assert node_of("abc", []) is None


@given(st.text(max_size=20), st.sets(st.sampled_from([*NODES, "node4"]), min_size=1))
def test_the_node_is_the_first_up_in_its_slots_ranking(
    table_id: str, up: set[str]
) -> None:
    first = next(
        node for node in ranking(slot_of(table_id), [*NODES, "node4"]) if node in up
    )
    assert node_of(table_id, up) == first
