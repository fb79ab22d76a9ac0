"""The hub: fan-out to bounded queues, dropping slow subscribers, a seamless resume."""

from __future__ import annotations

import random
from collections.abc import Sequence
from contextlib import aclosing
from pathlib import Path

import pytest
import trio
from live_tables import new_table, play, seat_players

from pokerd.engine import (
    PlayerSatOut,
)
from pokerd.engine.state import TableState
from pokerd.store import EventStore, StoredEvent, read_events
from pokerd.tables.hub import Batch, SlowConsumerError, TableHub
from pokerd.tables.table import Table
from pokerd.wire.protocol import Pong, ServerMessage

STATE = TableState()


def batch_of(*seqs: int) -> list[StoredEvent]:
    event = PlayerSatOut(seat=0, reason="requested")
    return [StoredEvent(seq=seq, event=event, recorded_at=0) for seq in seqs]


def seqs(items: Sequence[Batch | ServerMessage | bytes]) -> list[int]:
    """The seqs of the batches among `items`."""
    return [s.seq for item in items if isinstance(item, Batch) for s in item.events]


async def test_a_subscriber_receives_each_published_batch_in_order() -> None:
    hub = TableHub(capacity=8)
    subscription = hub.subscribe(None, since=0)
    hub.publish(batch_of(1, 2), STATE)
    hub.publish(batch_of(3), STATE)
    subscription.close()

    seqs = [
        stored.seq async for batch in subscription.batches() for stored in batch.events
    ]

    assert seqs == [1, 2, 3]


async def test_what_is_queued_is_taken_at_once_in_order_without_waiting() -> None:
    hub = TableHub(capacity=8)
    subscription = hub.subscribe(0, since=0)
    assert subscription.take_queued() == []
    hub.publish(batch_of(1), STATE)
    assert subscription.tell(Pong())
    hub.publish(batch_of(2, 3), STATE)

    taken = subscription.take_queued()

    assert [type(item) for item in taken] == [Batch, Pong, Batch]
    assert [
        s.seq for item in taken if isinstance(item, Batch) for s in item.events
    ] == [
        1,
        2,
        3,
    ]
    assert subscription.take_queued() == []


async def test_a_dropped_subscriber_still_ends_in_slow_consumer_after_a_take() -> None:
    hub = TableHub(capacity=2)
    subscription = hub.subscribe(0, since=0)
    for seq in range(1, 4):
        hub.publish(batch_of(seq), STATE)  # the third overflows: dropped

    assert len(subscription.take_queued()) == 2
    with pytest.raises(SlowConsumerError):
        async with aclosing(subscription.items()) as items:
            async for _ in items:
                pass


async def test_a_subscriber_that_stops_reading_is_dropped_others_get_everything() -> (
    None
):
    hub = TableHub(capacity=4)
    slow = hub.subscribe(0, since=0)
    fast = hub.subscribe(1, since=0)
    received: list[int] = []
    for seq in range(1, 101):
        hub.publish(batch_of(seq), STATE)  # never waits, whoever is slow
        async with aclosing(fast.batches()) as batches:
            async for batch in batches:
                received += [stored.seq for stored in batch.events]
                break

    assert received == list(range(1, 101))
    assert slow.dropped
    assert hub.statistics().dropped_slow == 1
    assert hub.statistics().subscribers == 1
    delivered: list[int] = []
    with pytest.raises(SlowConsumerError):
        async for batch in slow.batches():
            delivered += [stored.seq for stored in batch.events]
    assert delivered == [1, 2, 3, 4], "what was queued before the drop still arrives"


async def test_a_subscribers_callbacks_take_items_at_once_and_hear_the_drop() -> None:
    hub = TableHub(capacity=1)
    taken: list[Batch | ServerMessage] = []
    drops: list[str] = []
    ready = False

    def deliver_now(item: Batch | ServerMessage) -> bool:
        if ready:
            taken.append(item)
        return ready

    subscription = hub.subscribe(
        0, since=0, deliver_now=deliver_now, on_drop=lambda: drops.append("dropped")
    )
    hub.publish(batch_of(1), STATE)  # the reader is not ready: queued
    ready = True
    hub.publish(batch_of(2), STATE)  # taken at once, nothing queued
    ready = False
    hub.publish(batch_of(3), STATE)  # the queue holds one: dropped

    assert seqs(taken) == [2]
    assert seqs(subscription.take_queued()) == [1]
    assert drops == ["dropped"]


async def test_subscribing_to_an_ended_hub_gets_the_end_at_once() -> None:
    hub = TableHub()
    hub.end("the table was stopped: a test")
    subscription = hub.subscribe(None, since=5)

    assert await subscription.next_item() is None
    assert subscription.ended == "the table was stopped: a test"
    assert hub.statistics().subscribers == 0


def test_a_hub_refuses_an_unbounded_queue() -> None:
    with pytest.raises(ValueError, match="boundedly"):
        TableHub(capacity=0)


async def test_a_subscriber_resuming_mid_game_gets_every_event_once_in_order(
    tmp_path: Path,
) -> None:
    rng = random.Random(7)
    hub = TableHub(capacity=100_000)

    with EventStore(tmp_path / "hub.db") as store:
        table = new_table(store, hub)
        await seat_players(table, 3)
        with trio.fail_after(60):  # a bound, not a timing: a hang is a failure
            await watch(table, store, hub, rng)


async def watch(
    table: Table,
    store: EventStore,
    hub: TableHub,
    rng: random.Random,
) -> None:
    """Subscribe at random moments from random offsets while the table plays."""
    async with trio.open_nursery() as nursery:
        await nursery.start(table.run)
        nursery.start_soon(play, table, rng)
        for _ in range(12):
            await trio.sleep(rng.uniform(0, 0.05))
            offset = rng.randint(0, table.seq)
            subscription = hub.subscribe(2, since=table.seq)
            backlog = await store.read(read_events, "t", offset, subscription.since)
            seen = [stored.seq for stored in backlog]
            wanted = len(seen) + 30
            async with aclosing(subscription.batches()) as batches:
                async for batch in batches:
                    seen += [stored.seq for stored in batch.events]
                    if len(seen) >= wanted:
                        break
            subscription.close()
            assert seen == list(range(offset + 1, offset + 1 + len(seen)))
        nursery.cancel_scope.cancel()
