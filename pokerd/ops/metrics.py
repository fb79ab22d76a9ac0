"""The server's counters, gauges and histograms, kept by `prometheus_client`.

Each `Metrics` has its own registry (several servers in one test process do
not clash); `render` is the text `GET /metrics` serves. Why the library, and
its cost on the action path, are in docs/design.md and docs/performance.md.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable, Iterator, Sequence

import prometheus_client
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

LATENCY_BUCKETS_S = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)
"""Upper bounds in seconds; the last bucket (+Inf) is implied."""

Labels = tuple[tuple[str, str], ...]
"""A gauge sample's labels as (name, value) pairs."""

CREATED_SUFFIX = "_created"


class Counter:
    """A count that only goes up, by label values (e.g. errors by code).

    `inc("not_your_turn", "websocket", by=1)` is prometheus_client's
    `labels(...).inc(...)`, spelled as pokerd's call sites count.
    """

    def __init__(
        self,
        name: str,
        help_text: str,
        label_names: Sequence[str] = (),
        *,
        registry: CollectorRegistry,
    ) -> None:
        self.name = name
        self.label_names = tuple(label_names)
        self._counter = prometheus_client.Counter(
            name, help_text, self.label_names, registry=registry
        )
        self._registry = registry

    def inc(self, *label_values: str, by: float = 1) -> None:
        if label_values:
            self._counter.labels(*label_values).inc(by)
        else:
            self._counter.inc(by)

    def value(self, *label_values: str) -> float:
        """The count so far (0 for label values never counted)."""
        labels = dict(zip(self.label_names, label_values, strict=True))
        value = self._registry.get_sample_value(self.name, labels)
        return 0.0 if value is None else value


class Histogram:
    """Observations counted into fixed buckets, with their count and sum."""

    def __init__(
        self,
        name: str,
        help_text: str,
        buckets: Sequence[float] = LATENCY_BUCKETS_S,
        *,
        registry: CollectorRegistry,
    ) -> None:
        self.name = name
        histogram = prometheus_client.Histogram(
            name, help_text, buckets=buckets, registry=registry
        )
        # The library's own method: no call of ours in between on the hot path.
        self.observe: Callable[[float], None] = histogram.observe
        self._registry = registry

    @property
    def count(self) -> float:
        return self._sample("_count")

    @property
    def sum(self) -> float:
        return self._sample("_sum")

    def _sample(self, suffix: str) -> float:
        value = self._registry.get_sample_value(self.name + suffix)
        return 0.0 if value is None else value


class CallbackGauges:
    """Gauges whose values are read from functions when collected (e.g.
    sockets open now): a custom collector, as prometheus_client has them.
    `kind` "counter" exports a count another part keeps (the log writer's
    fenced appends), read the same way."""

    def __init__(self, kind: str = "gauge") -> None:
        self._kind = kind
        self._gauges: list[
            tuple[str, str, Callable[[], Iterable[tuple[Labels, float]]]]
        ] = []

    def add(
        self,
        name: str,
        help_text: str,
        read: Callable[[], Iterable[tuple[Labels, float]]],
    ) -> None:
        if any(name == known for known, _, _ in self._gauges):
            raise ValueError(f"a {self._kind} {name} is exported already")
        self._gauges.append((name, help_text, read))

    def collect(self) -> Iterator[Metric]:
        for name, help_text, read in self._gauges:
            # A counter family is named without `_total`; its samples with.
            family = name.removesuffix("_total") if self._kind == "counter" else name
            gauge = Metric(family, help_text, self._kind)
            for labels, value in read():
                gauge.add_sample(name, dict(labels), value)
            yield gauge


class CollectorPauses:
    """The garbage collector's pauses and collections by generation, tallied
    in plain numbers and exported when scraped (a custom collector).

    Fed from `gc.callbacks`, which run inside whatever allocation started a
    collection, also one made while prometheus_client holds a metric's
    (non-reentrant) lock: a callback that takes such a lock can deadlock the
    server, so the library's own GC collector does not take any either
    (prometheus/client_python issue 363). Collections do not overlap, so
    these tallies need none.
    """

    def __init__(self, buckets: Sequence[float] = LATENCY_BUCKETS_S) -> None:
        self.bounds = tuple(buckets)
        self._buckets = [0] * (len(self.bounds) + 1)
        self.sum = 0.0
        self.longest = 0.0
        """The longest pause so far: the buckets only bound it (2.5 s or more
        is all the last one says)."""
        self.longest_cpu = 0.0
        """The most CPU time one collection took: on a busy machine a pause
        also waits for a core, which is not the collector's work."""
        self._by_generation: dict[int, int] = {}

    def observe(
        self, seconds: float, generation: int, *, cpu_seconds: float = 0.0
    ) -> None:
        # A bucket is `le`: a pause equal to its bound is in it.
        self._buckets[bisect.bisect_left(self.bounds, seconds)] += 1
        self.sum += seconds
        self.longest = max(self.longest, seconds)
        self.longest_cpu = max(self.longest_cpu, cpu_seconds)
        self._by_generation[generation] = self._by_generation.get(generation, 0) + 1

    @property
    def count(self) -> int:
        return sum(self._buckets)

    def collections(self, generation: int) -> int:
        return self._by_generation.get(generation, 0)

    def collect(self) -> Iterator[Metric]:
        buckets = []
        cumulative = 0
        for bound, count in zip((*self.bounds, math.inf), self._buckets, strict=True):
            cumulative += count
            buckets.append(("+Inf" if bound == math.inf else repr(bound), cumulative))
        yield HistogramMetricFamily(
            "pokerd_gc_pause_seconds",
            "Pauses of Python's garbage collector (every table waits them out).",
            buckets=buckets,
            sum_value=self.sum,
        )
        yield GaugeMetricFamily(
            "pokerd_gc_pause_longest_seconds",
            "The longest pause of Python's garbage collector since the server started.",
            value=self.longest,
        )
        yield GaugeMetricFamily(
            "pokerd_gc_pause_longest_cpu_seconds",
            "The most CPU time one collection took since the server started"
            " (a longer pause waited for a core).",
            value=self.longest_cpu,
        )
        collections = CounterMetricFamily(
            "pokerd_gc_collections_total",
            "Garbage collections, by generation (2 is a full collection).",
            labels=["generation"],
        )
        for generation, count in sorted(self._by_generation.items()):
            collections.add_metric([str(generation)], count)
        yield collections


class WithoutCreated:
    """A registry's metrics less their `_created` samples.

    prometheus_client adds a `NAME_created` timestamp to each counter and
    histogram, which the text format shows as one more gauge each; pokerd's
    exposition never had them, and a scrape that sums `NAME*` would count
    the timestamp. The library's own switch for this is process-wide.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        for metric in self._registry.collect():
            created = metric.name + CREATED_SUFFIX
            metric.samples = [s for s in metric.samples if s.name != created]
            yield metric


class Metrics:
    """Every metric the server exports; the service and the listeners feed it."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._gauges = CallbackGauges()
        # Registered first: the gauges lead the text, as they always did.
        self.registry.register(self._gauges)
        registry = self.registry
        self.events_appended = Counter(
            "pokerd_events_appended_total",
            "Events committed to the log.",
            registry=registry,
        )
        self.append_latency = Histogram(
            "pokerd_append_latency_seconds",
            "From a table handing events to the log to their commit.",
            registry=registry,
        )
        append_wait = prometheus_client.Histogram(
            "pokerd_append_wait_seconds",
            "Where the append latency went: until the log writer took the"
            " append (queued), its batch's commit (commit), from the commit to"
            " the table's task running again (wake).",
            ["stage"],
            buckets=LATENCY_BUCKETS_S,
            registry=registry,
        )
        self.append_queued: Callable[[float], None] = append_wait.labels(
            "queued"
        ).observe
        self.append_commit: Callable[[float], None] = append_wait.labels(
            "commit"
        ).observe
        self.append_wake: Callable[[float], None] = append_wait.labels("wake").observe
        self.broadcast_latency = Histogram(
            "pokerd_broadcast_latency_seconds",
            "From an event's commit to its message written to a WebSocket.",
            registry=registry,
        )
        self.messages_sent = Counter(
            "pokerd_messages_sent_total",
            "Messages written to WebSockets.",
            registry=registry,
        )
        self.slow_consumers_dropped = Counter(
            "pokerd_slow_consumers_dropped_total",
            "Connections closed because they did not keep up.",
            ["reason"],
            registry=registry,
        )
        self.errors = Counter(
            "pokerd_errors_total",
            "Error messages sent to clients, by code and transport.",
            ["code", "transport"],
            registry=registry,
        )
        self.connections_opened = Counter(
            "pokerd_connections_opened_total",
            "WebSocket connections accepted.",
            registry=registry,
        )
        self.gc = CollectorPauses()
        registry.register(self.gc)
        # Where tables run (PostgreSQL nodes; docs/design.md, "Where a table
        # runs"): counted by the supervisor where each happens.
        self.lease_renewals = Counter(
            "pokerd_lease_renewals_total",
            "Renewals of this node's leases (one statement for all), by result"
            " (ok, or failed: the database could not be reached).",
            ["result"],
            registry=registry,
        )
        self.takeovers = Counter(
            "pokerd_takeovers_total",
            "Tables taken whose lease another node held and let run out.",
            registry=registry,
        )
        self.handoffs = Counter(
            "pokerd_handoffs_total",
            "Tables handed to the node the router sends them to (out), and"
            " tables taken that another node gave up (in).",
            ["direction"],
            registry=registry,
        )
        # Every label value shown from the start: a scrape sees 0, not nothing.
        for result in ("ok", "failed"):
            self.lease_renewals.inc(result, by=0)
        for direction in ("out", "in"):
            self.handoffs.inc(direction, by=0)
        self._counters = CallbackGauges("counter")
        registry.register(self._counters)

    def gauge(
        self,
        name: str,
        help_text: str,
        read: Callable[[], Iterable[tuple[Labels, float]]],
    ) -> None:
        """Export a value read at render time."""
        self._gauges.add(name, help_text, read)

    def counter(
        self,
        name: str,
        help_text: str,
        read: Callable[[], Iterable[tuple[Labels, float]]],
    ) -> None:
        """Export a count kept elsewhere (it only grows), read at render time."""
        self._counters.add(name, help_text, read)

    def render(self) -> str:
        """Every metric in the Prometheus text format 0.0.4."""
        return generate_latest(WithoutCreated(self.registry)).decode()
