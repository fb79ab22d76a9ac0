"""The garbage collector policy: what a step freezes, what a sweep frees, the timing."""

from __future__ import annotations

import gc
import sys
import weakref
from collections.abc import Iterator

import pytest
import trio

from pokerd.ops.collector import FreezingCollector, timing_collections
from pokerd.ops.metrics import Metrics


class Node:
    """An object that can hold itself in a cycle."""

    def __init__(self) -> None:
        self.other: Node | None = None


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    """Every test leaves the process's collector as it found it."""
    gc.unfreeze()
    yield
    gc.unfreeze()
    gc.enable()


def frozen_cycle() -> weakref.ref[Node]:
    """A cycle made, frozen while in use, then dropped: only a sweep frees it."""
    node = Node()
    node.other = node
    alive = weakref.ref(node)
    FreezingCollector().step()
    del node
    return alive


def test_a_step_freezes_what_lives_so_young_collections_never_walk_it() -> None:
    kept = [[index] for index in range(2_000)]
    before = gc.get_freeze_count()

    FreezingCollector().step()

    assert gc.get_freeze_count() >= before + len(kept)
    walked = {
        id(item) for generation in range(3) for item in gc.get_objects(generation)
    }
    assert not any(id(item) in walked for item in kept)


def test_a_step_frees_cycles_that_died_young_before_freezing() -> None:
    node = Node()
    node.other = node
    alive = weakref.ref(node)
    del node

    FreezingCollector().step()
    gc.collect()  # a frozen cycle would survive this

    assert alive() is None


def test_a_frozen_object_is_still_freed_when_its_last_reference_goes() -> None:
    kept = Node()
    alive = weakref.ref(kept)
    FreezingCollector().step()

    del kept

    assert alive() is None


def test_a_cycle_frozen_in_use_outlives_collections_until_a_sweep() -> None:
    alive = frozen_cycle()
    gc.collect()
    assert alive() is not None

    freed = FreezingCollector().sweep()

    assert alive() is None
    assert freed >= 1


def test_a_step_sweeps_once_the_process_has_grown_by_the_allowance() -> None:
    clock = FakeClock()
    collector = FreezingCollector(
        leak_growth=0.01, check_every=1, sweep_spacing_s=0, clock=clock
    )
    collector.sweep()
    alive = frozen_cycle()
    grown = [[index] for index in range(sys.getallocatedblocks() // 50 + 10_000)]

    collector.step()

    assert collector.sweeps == 2
    assert alive() is None
    del grown


def test_a_step_does_not_sweep_without_growth_or_within_the_spacing() -> None:
    clock = FakeClock()
    collector = FreezingCollector(
        leak_growth=0.01, check_every=1, sweep_spacing_s=300, clock=clock
    )
    collector.sweep()
    collector.step()
    assert collector.sweeps == 1  # no growth

    grown = [[index] for index in range(sys.getallocatedblocks() // 50 + 10_000)]
    clock.now += 299
    collector.step()
    assert collector.sweeps == 1  # grown, but swept 299 s ago

    clock.now += 1
    collector.step()
    assert collector.sweeps == 2
    del grown


def test_a_step_looks_at_memory_only_every_check_every_steps() -> None:
    collector = FreezingCollector(
        leak_growth=0.0, check_every=3, sweep_spacing_s=0, clock=FakeClock()
    )
    collector.sweep()
    grown = [[index] for index in range(10_000)]

    collector.step()
    collector.step()
    assert collector.sweeps == 1
    collector.step()
    assert collector.sweeps == 2
    del grown


def dropped_cycle() -> weakref.ref[Node]:
    """A cycle nobody holds: garbage only the collector can free."""
    node = Node()
    node.other = node
    return weakref.ref(node)


def quiet(probe_every: int) -> FreezingCollector:
    """A collector past its first steps, that found no garbage in them."""
    collector = FreezingCollector(probe_every=probe_every, check_every=10**9)
    gc.collect()
    for _ in range(probe_every + 1):
        collector.step()
    return collector


def test_without_garbage_only_every_probe_every_th_step_collects() -> None:
    collector = quiet(probe_every=5)
    assert not gc.isenabled()  # automatic collections off while none is found

    missed = dropped_cycle()
    collector.step()  # step 7: no probe, so the cycle is frozen
    gc.collect()
    assert missed() is not None

    while collector._steps % 5 != 4:
        collector.step()
    found = dropped_cycle()
    collector.step()  # a probe
    gc.collect()
    assert found() is None
    collector.sweep()
    assert missed() is None  # the sweep frees what the probes missed


def test_garbage_found_makes_every_step_collect_for_a_while() -> None:
    collector = quiet(probe_every=5)
    while collector._steps % 5 != 4:
        collector.step()
    dropped_cycle()
    collector.step()  # the probe finds it
    assert gc.isenabled()

    for _ in range(5):
        alive = dropped_cycle()
        collector.step()
        gc.collect()
        assert alive() is None  # collected, not frozen

    for _ in range(5):
        collector.step()
        assert gc.isenabled()  # collecting for five steps after the last find
    collector.step()
    assert not gc.isenabled()


async def test_run_freezes_at_start_and_unfreezes_when_cancelled() -> None:
    collector = FreezingCollector(interval_s=0.01)
    async with trio.open_nursery() as nursery:
        await nursery.start(collector.run)
        assert gc.get_freeze_count() > 0
        kept = [[index] for index in range(1_000)]
        before = gc.get_freeze_count()
        with trio.fail_after(5):
            while gc.get_freeze_count() < before + len(kept):
                await trio.sleep(0.01)
        nursery.cancel_scope.cancel()
    assert gc.get_freeze_count() == 0
    assert gc.isenabled()


def test_collections_are_timed_into_the_metrics_while_watched() -> None:
    metrics = Metrics()
    with timing_collections(metrics):
        gc.collect()
        gc.collect(0)
    gc.collect()  # no longer watched

    assert metrics.gc.count == 2
    assert metrics.gc.sum > 0
    assert metrics.gc.longest_cpu > 0
    assert metrics.gc.collections(2) == 1
    assert metrics.gc.collections(0) == 1
