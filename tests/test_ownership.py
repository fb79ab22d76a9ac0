"""A node's supervisor on PostgreSQL: it runs only the tables it holds the
lease of, and steps a table down (unloads it, does not stop it) when the
lease is lost, in this process against a real database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing

import pytest
import trio
from databases import raw_connection

from pokerd.engine import SitDown, TableConfig
from pokerd.store import EventStore, FencedError
from pokerd.tables.supervisor import Supervisor, TableElsewhereError

TTL_S = 30.0
"""Long: these tests move leases by hand, never by waiting."""


@pytest.fixture
def node_a(postgres_url: str) -> Iterator[EventStore]:
    with EventStore(postgres_url, node="a", lease_ttl_s=TTL_S) as store:
        yield store


def expire_leases(url: str) -> None:
    """As if the lease holder had been paused past its ttl."""
    with closing(raw_connection(url)) as connection:
        connection.execute("UPDATE leases SET lease_until = now() - interval '1 s'")


async def test_a_table_whose_lease_another_node_took_steps_down_and_is_not_stopped(
    postgres_url: str, node_a: EventStore
) -> None:
    moved: list[str] = []
    supervisor = Supervisor(node_a, on_moved=lambda table, _: moved.append(table))
    with EventStore(postgres_url, node="b", lease_ttl_s=TTL_S) as node_b:
        async with trio.open_nursery() as nursery:
            await nursery.start(supervisor.run)
            table_id = await supervisor.create_table(TableConfig(max_seats=2))
            assert node_a.leases.epoch_of(table_id) == 1
            expire_leases(postgres_url)
            assert node_b.leases.take(table_id) == 2  # the takeover
            table = supervisor.get(table_id)
            assert table is not None
            # Its next append is refused by the fence: the table steps down.
            with pytest.raises(FencedError):
                await table.execute(
                    SitDown(seat=0, name="ann", buy_in=100, token_hash="h")
                )
            with trio.fail_after(5):
                while supervisor.get(table_id) is not None:
                    await trio.sleep(0.01)
            assert moved == [table_id]
            assert supervisor.moves == 1
            assert supervisor.statistics().stopped == ()
            # Another node runs it: this one does not load it again.
            with pytest.raises(TableElsewhereError):
                await supervisor.open_table(table_id)
            nursery.cancel_scope.cancel()


async def test_a_free_lease_of_a_table_that_must_run_is_taken_by_the_scan(
    postgres_url: str, node_a: EventStore
) -> None:
    with EventStore(postgres_url, node="b", lease_ttl_s=TTL_S) as node_b:
        first = Supervisor(node_b)
        async with trio.open_nursery() as nursery:
            await nursery.start(first.run)
            table_id = await first.create_table(TableConfig(max_seats=2))
            table = first.get(table_id)
            assert table is not None
            await table.execute(SitDown(seat=0, name="ann", buy_in=100, token_hash="h"))
            nursery.cancel_scope.cancel()
        node_b.leases.release()
    # Node a starts: the table must run (a player is seated) and is free.
    second = Supervisor(node_a)
    async with trio.open_nursery() as nursery:
        await nursery.start(second.run)
        assert second.table_ids() == [table_id]
        assert node_a.leases.epoch_of(table_id) == 2
        nursery.cancel_scope.cancel()
