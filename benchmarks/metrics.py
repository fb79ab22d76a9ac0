"""The metrics' cost on the action path: prometheus_client against hand-written.

Times, in one run and interleaved round by round, each metric call an action
makes, as pokerd makes it now (`pokerd.ops.metrics`, on prometheus_client)
and as the hand-written implementation that `/metrics` had before made it
(its `Counter.inc` and `Histogram.observe`, copied below as the baseline),
plus prometheus_client's own `Counter.inc` called directly (what pokerd's
`by=` spelling costs on top). Then the cost of one action's metric calls for
both, from the calls an action makes (`INCS_PER_ACTION`,
`OBSERVES_PER_ACTION`), and the time one scrape of `/metrics` takes to
render.

    python benchmarks/metrics.py [--calls 50000] [--rounds 21]

It prints `name: value` lines: figures and ratios, no verdicts.
"""

from __future__ import annotations

import argparse
import bisect
import platform
import sys
import time
import timeit
from collections.abc import Callable, Sequence
from importlib.metadata import version

import prometheus_client
from prometheus_client import CollectorRegistry

from pokerd.ops.metrics import LATENCY_BUCKETS_S, Counter, Histogram, Metrics
from pokerd.wire.protocol import ErrorCode

INCS_PER_ACTION = 8.7
OBSERVES_PER_ACTION = 7.7
"""Metric calls per player action at 6-seat tables with no spectator, counted
on 2026-12-07 at commit 6f235a9 (every `inc` and `observe` of a `pokerd
serve` counted while `pokerd bots --tables 4 --seats 6 --hands 30` played
1,784 actions): per action 1.11 appends to the log (one `inc` of
events_appended, one `observe` of append_latency each), 6.58 batches written
to a socket (one `observe` of broadcast_latency each) and 7.62 writes (one
`inc` of messages_sent each; an ack is a write too). Each spectator's socket
adds about one of each per action."""

BROADCAST_S = 0.003
"""An observed latency: scenario 1's p50 (docs/performance.md). The
library's histogram walks its buckets from the first, so where a value falls
changes its cost; `SATURATED_S` is a later bucket."""
SATURATED_S = 0.03


# The baseline: the hand-written metrics as they were (their hot path only).


class HandWrittenCounter:
    """A count that only goes up, by label values (e.g. errors by code)."""

    def __init__(self, name: str, help_text: str, label_names: Sequence[str] = ()):
        self.name = name
        self.help = help_text
        self.label_names = tuple(label_names)
        self._values: dict[tuple[str, ...], float] = {}
        if not self.label_names:
            self._values[()] = 0

    def inc(self, *label_values: str, by: float = 1) -> None:
        if len(label_values) != len(self.label_names):
            raise ValueError(f"{self.name} takes labels {self.label_names}")
        self._values[label_values] = self._values.get(label_values, 0) + by


class HandWrittenHistogram:
    """Observations counted into fixed buckets, with their count and sum."""

    def __init__(
        self,
        name: str,
        help_text: str,
        buckets: Sequence[float] = LATENCY_BUCKETS_S,
    ) -> None:
        self.name = name
        self.help = help_text
        self.bounds = tuple(buckets)
        self._counts = [0] * (len(self.bounds) + 1)
        self.count = 0
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self._counts[bisect.bisect_left(self.bounds, value)] += 1
        self.count += 1
        self.sum += value


# Timing


def calls(registry: CollectorRegistry) -> dict[str, tuple[str, dict[str, object]]]:
    """Each timed call: a statement and what it names (`at` and `later`
    are the latencies observed, see `time_rounds`)."""
    old_counter = HandWrittenCounter("old_sent_total", "Sent.")
    new_counter = Counter("new_sent_total", "Sent.", registry=registry)
    library_counter = prometheus_client.Counter(
        "library_sent_total", "Sent.", registry=registry
    )
    old_histogram = HandWrittenHistogram("old_latency_seconds", "Latency.")
    new_histogram = Histogram("new_latency_seconds", "Latency.", registry=registry)
    old_errors = HandWrittenCounter("old_errors_total", "Errors.", ["code", "via"])
    new_errors = Counter(
        "new_errors_total", "Errors.", ["code", "via"], registry=registry
    )
    return {
        "inc_hand_written": ("inc(by=3)", {"inc": old_counter.inc}),
        "inc_prometheus_client": ("inc(by=3)", {"inc": new_counter.inc}),
        "inc_library_direct": ("inc(3)", {"inc": library_counter.inc}),
        "observe_hand_written": ("observe(at)", {"observe": old_histogram.observe}),
        "observe_prometheus_client": (
            "observe(at)",
            {"observe": new_histogram.observe},
        ),
        "observe_later_bucket_hand_written": (
            "observe(later)",
            {"observe": old_histogram.observe},
        ),
        "observe_later_bucket_prometheus_client": (
            "observe(later)",
            {"observe": new_histogram.observe},
        ),
        "labelled_inc_hand_written": (
            'inc("not_your_turn", "websocket")',
            {"inc": old_errors.inc},
        ),
        "labelled_inc_prometheus_client": (
            'inc("not_your_turn", "websocket")',
            {"inc": new_errors.inc},
        ),
    }


def time_rounds(
    timed: dict[str, tuple[str, dict[str, object]]], count: int, rounds: int
) -> dict[str, float]:
    """The least ns a call each took in a round, the variants interleaved in
    every round. Timed in this thread's CPU time, and the fastest round
    kept: other processes on the 2 cores (tests, other benchmarks) only ever
    add time, by taking the core away or by evicting caches, so the least
    is the one they disturbed least (as timeit advises)."""
    timers = {
        name: timeit.Timer(
            statement,
            timer=time.thread_time,
            globals={**names, "at": BROADCAST_S, "later": SATURATED_S},
        )
        for name, (statement, names) in timed.items()
    }
    seen: dict[str, list[float]] = {name: [] for name in timers}
    for _ in range(rounds):
        for name, timer in timers.items():
            seen[name].append(timer.timeit(count) / count * 1e9)
    return {name: min(values) for name, values in seen.items()}


def render_us(rounds: int) -> float:
    """Least microseconds to render a server's metrics with some traffic."""
    metrics = Metrics()
    for name in ("pokerd_tables_live", "pokerd_long_polls", "pokerd_connections"):
        metrics.gauge(name, "A gauge.", lambda: [((), 12)])
    for latency in (0.0007, 0.002, 0.004, 0.03, 0.2):
        metrics.append_latency.observe(latency)
        metrics.broadcast_latency.observe(latency)
        metrics.gc.observe(latency, 0)
    metrics.events_appended.inc(by=5)
    metrics.messages_sent.inc(by=30)
    for code in ("not_your_turn", ErrorCode.BAD_TOKEN, ErrorCode.RATE_LIMITED):
        metrics.errors.inc(code, "websocket")
    render: Callable[[], str] = metrics.render
    timer = timeit.Timer(render, timer=time.thread_time)
    return min(timer.timeit(200) / 200 * 1e6 for _ in range(rounds))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="metric calls: prometheus_client beside the hand-written ones"
    )
    parser.add_argument("--calls", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=21)
    args = parser.parse_args(argv)
    count: int = args.calls
    rounds: int = args.rounds

    ns = time_rounds(calls(CollectorRegistry()), count, rounds)
    print(f"python: {platform.python_version()}")
    print(f"prometheus_client: {version('prometheus-client')}")
    print(f"calls_per_round: {count}")
    print(f"rounds: {rounds}")
    for name, value in ns.items():
        print(f"ns_per_call_{name}: {value:.0f}")
    for what in ("inc", "observe", "observe_later_bucket", "labelled_inc"):
        ratio = ns[f"{what}_prometheus_client"] / ns[f"{what}_hand_written"]
        print(f"ratio_{what}_prometheus_client_to_hand_written: {ratio:.2f}")

    def per_action(variant: str) -> float:
        return (
            INCS_PER_ACTION * ns[f"inc_{variant}"]
            + OBSERVES_PER_ACTION * ns[f"observe_{variant}"]
        ) / 1000

    old, new = per_action("hand_written"), per_action("prometheus_client")
    print(f"metric_calls_per_action: {INCS_PER_ACTION + OBSERVES_PER_ACTION:.1f}")
    print(f"us_per_action_hand_written: {old:.2f}")
    print(f"us_per_action_prometheus_client: {new:.2f}")
    print(f"us_per_action_added: {new - old:.2f}")
    print(f"us_per_scrape_render: {render_us(rounds):.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
