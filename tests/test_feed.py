"""A viewer's feed: resume from an offset without gap or repeat, or a snapshot."""

from __future__ import annotations

import json
import random
from contextlib import aclosing
from pathlib import Path

import trio
from live_tables import new_table, play, seat_players

from pokerd.engine import (
    HandDealt,
    Leave,
    SitDown,
    redact,
)
from pokerd.store import EventStore, read_events
from pokerd.tables.dealer import random_action, start_hand
from pokerd.tables.feed import open_feed
from pokerd.tables.hub import TableHub
from pokerd.wire import codec
from pokerd.wire.protocol import EventMessage, Resume, Snapshot


async def test_resuming_from_any_offset_gives_every_missed_event_once_then_live(
    tmp_path: Path,
) -> None:
    rng = random.Random(5)
    hub = TableHub(capacity=100_000)
    with EventStore(tmp_path / "feed.db") as store, trio.fail_after(60):
        table = new_table(store, hub)
        await seat_players(table, 3)
        async with trio.open_nursery() as nursery:
            await nursery.start(table.run)
            nursery.start_soon(play, table, rng)
            while table.seq < 40:
                await table.wait_changed()
            fresh = await open_feed(table, hub, store, None, None)
            fresh.subscription.close()
            epoch = fresh.welcome.epoch
            for _ in range(10):
                await trio.sleep(rng.uniform(0, 0.03))
                seat = rng.choice([None, 0, 1, 2])
                offset = rng.randint(0, table.seq)
                resume = Resume(epoch=epoch, offset=offset)
                resumed = await open_feed(table, hub, store, seat, resume)
                assert resumed.welcome.recovered
                messages = [m for m in resumed.first if isinstance(m, EventMessage)]
                async with aclosing(resumed.subscription.batches()) as batches:
                    async for batch in batches:
                        messages += [
                            message
                            for text in resumed.encoded(batch)
                            if isinstance(
                                message := codec.structure_server_message(
                                    json.loads(text)
                                ),
                                EventMessage,
                            )
                        ]
                        if len(messages) >= 40:
                            break
                resumed.subscription.close()
                seqs = [message.seq for message in messages]
                assert seqs == list(range(offset + 1, offset + 1 + len(seqs)))
                log = await store.read(read_events, "t", offset, seqs[-1])
                assert [m.event for m in messages] == [
                    redact(stored.event, seat) for stored in log
                ]
                assert messages[-1].view is not None
            nursery.cancel_scope.cancel()


async def test_an_unknown_epoch_or_an_offset_ahead_of_the_log_gets_a_snapshot(
    tmp_path: Path,
) -> None:
    hub = TableHub()
    with EventStore(tmp_path / "feed.db") as store:
        table = new_table(store, hub)
        await seat_players(table, 2)
        fresh = await open_feed(table, hub, store, 1, None)
        epoch = fresh.welcome.epoch
        for resume in (
            Resume(epoch="another-log", offset=2),
            Resume(epoch=epoch, offset=table.seq + 1),
            Resume(epoch=epoch, offset=-1),
        ):
            feed = await open_feed(table, hub, store, 1, resume)
            assert not feed.welcome.recovered
            [snapshot] = feed.first
            assert isinstance(snapshot, Snapshot)
            assert snapshot.seq == table.seq
            assert snapshot.view.viewer == 1
        assert not fresh.welcome.recovered, "no resume asked: a snapshot"


async def test_a_newcomer_resuming_from_the_start_never_gets_an_earlier_players_cards(
    tmp_path: Path,
) -> None:
    rng = random.Random(3)
    hub = TableHub()
    with EventStore(tmp_path / "feed.db") as store:
        table = new_table(store, hub)
        await seat_players(table, 2)
        await table.execute(start_hand(table.clock(), rng))
        await table.execute(Leave(seat=0, now_ms=table.clock()))  # folds, leaves
        while table.state.hand_in_progress:
            action = random_action(table.state, rng, table.clock())
            assert action is not None
            await table.execute(action)
        await table.execute(SitDown(seat=0, name="carl", buy_in=200))
        await table.execute(start_hand(table.clock(), rng))
        epoch = (await open_feed(table, hub, store, None, None)).welcome.epoch

        feed = await open_feed(table, hub, store, 0, Resume(epoch=epoch, offset=0))

        deals = [
            m.event
            for m in feed.first
            if isinstance(m, EventMessage) and isinstance(m.event, HandDealt)
        ]
        assert [deal.hand for deal in deals] == [1, 2]
        assert deals[0].hole_cards == (), "hand 1 was ann's, not carl's"
        assert len(deals[1].hole_cards) == 2
