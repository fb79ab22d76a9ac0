"""Python's garbage collector kept to short pauses, and its pauses timed."""

from __future__ import annotations

import contextlib
import gc
import logging
import math
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import trio

from pokerd.ops.metrics import Metrics

log = logging.getLogger(__name__)

FREEZE_INTERVAL_S = 0.05
"""How often the youngest generation is collected and everything that
survived moved out of the collector's way (`gc.freeze`): young collections
then walk at most this long's survivors."""

PROBE_EVERY = 20
"""Steps between two young collections while none finds garbage (and how
many steps collecting lasts after one did): at 1,000 tables each young
collection walks about a thousand objects an action, all alive, which was 7%
of the server's CPU for nothing found."""
CHECK_EVERY = 20
"""Steps between two looks at the process's memory for a sweep (a look
costs about 0.3 ms at two million blocks)."""

LEAK_GROWTH = 0.5
"""How far the process's allocated memory blocks may grow past their number
after the last sweep before the next: everything unfrozen and collected, to
free the cyclic garbage that was frozen while still in use."""

SWEEP_SPACING_S = 300.0
"""Least time between two sweeps: a sweep stops every table for about a
second at 6,000 sockets, and most growth is more sockets, not a leak."""


@contextlib.contextmanager
def timing_collections(metrics: Metrics) -> Iterator[None]:
    """Time every collection into `metrics.gc` while inside: the pause, and
    the CPU time the collector worked in it (a pause longer than that waited
    for a core, as any other work would have)."""
    started = [0.0, 0.0]

    def callback(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
            started[1] = time.thread_time()
        else:
            metrics.gc.observe(
                time.perf_counter() - started[0],
                info["generation"],
                cpu_seconds=time.thread_time() - started[1],
            )

    gc.callbacks.append(callback)
    try:
        yield
    finally:
        gc.callbacks.remove(callback)


class FreezingCollector:
    """Keeps the objects the collector walks few by freezing them young.

    Every `FREEZE_INTERVAL_S` a step collects the youngest generation (while
    collections find garbage, or each `probe_every`-th step to look for
    some) and moves every object left to the permanent generation, which
    the collector never walks; reference counting still frees frozen
    objects. What that leaks, cycles frozen while in use, a sweep frees
    (unfreeze, collect, freeze) once the process has grown by `leak_growth`.
    Why, and what it measured: docs/design.md, "The garbage collector".
    """

    def __init__(
        self,
        interval_s: float = FREEZE_INTERVAL_S,
        *,
        leak_growth: float = LEAK_GROWTH,
        check_every: int = CHECK_EVERY,
        sweep_spacing_s: float = SWEEP_SPACING_S,
        clock: Callable[[], float] = time.monotonic,
        probe_every: int = PROBE_EVERY,
    ) -> None:
        self.interval_s = interval_s
        self.probe_every = probe_every
        self.leak_growth = leak_growth
        self.check_every = check_every
        self.sweep_spacing_s = sweep_spacing_s
        self.sweeps = 0
        self._clock = clock
        self._steps = 0
        self._swept_at = sys.getallocatedblocks()
        self._last_sweep = -math.inf
        self._collect_until = probe_every
        """The last step that collects (and leaves automatic collections on);
        a fresh collector collects until it has seen a while of no garbage."""
        self._found = 0
        """Garbage found by collections since the last step."""

    def sweep(self) -> int:
        """Unfreeze, collect everything, freeze what is alive; the count freed."""
        gc.unfreeze()
        freed = gc.collect()
        gc.freeze()
        self._swept_at = sys.getallocatedblocks()
        self._last_sweep = self._clock()
        self.sweeps += 1
        return freed

    def step(self) -> None:
        """Collect the youngest generation if garbage was found lately, or to
        look for some each `probe_every` steps; then freeze what is left.
        Each `check_every` steps, sweep if the process has grown by
        `leak_growth` since the last sweep, at most once each `sweep_spacing_s`.

        While collections find garbage (HTTP requests, say), every step
        collects and automatic young collections stay on, for
        `probe_every` steps after the last find; once none is found, only
        the probing steps collect, and automatic collections are off. What
        a probe misses is frozen, and freed by the next sweep.
        """
        self._steps += 1
        steps = self._steps
        if steps <= self._collect_until or steps % self.probe_every == 0:
            # Under `run` its callback counts these finds too: only whether
            # any garbage was found matters.
            self._found += gc.collect(0)
        if self._found:
            self._found = 0
            self._collect_until = steps + self.probe_every
        if steps <= self._collect_until:
            gc.enable()
        else:
            gc.disable()
        gc.freeze()
        if steps % self.check_every:
            return
        if self._clock() - self._last_sweep < self.sweep_spacing_s:
            return
        if sys.getallocatedblocks() > self._swept_at * (1 + self.leak_growth):
            began = time.perf_counter()
            freed = self.sweep()
            log.info(
                "garbage collector: swept every object, freed %d, in %.0f ms",
                freed,
                1000 * (time.perf_counter() - began),
            )

    async def run(self, *, task_status: trio.TaskStatus[None]) -> None:
        """Freeze what start-up allocated, then step every `interval_s` until
        cancelled; on the way out everything is unfrozen again, and automatic
        collections are as they were."""
        enabled = gc.isenabled()
        gc.freeze()  # no collection first: start-up made little garbage
        self._swept_at = sys.getallocatedblocks()
        gc.callbacks.append(self._count_found)
        task_status.started()
        try:
            while True:
                await trio.sleep(self.interval_s)
                self.step()
        finally:
            gc.callbacks.remove(self._count_found)
            gc.unfreeze()
            if enabled:
                gc.enable()

    def _count_found(self, phase: str, info: dict[str, Any]) -> None:
        """Automatic collections' finds count as the steps' own do."""
        if phase == "stop":
            self._found += info["collected"]
