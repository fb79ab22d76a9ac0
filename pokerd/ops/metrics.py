"""The server's counters, gauges and histograms, in Prometheus text format.

Hand-rolled rather than a dependency: a few counters and histograms updated
from one Trio thread (plus the log's writer waking it), rendered on demand by
`GET /metrics` in the text exposition format 0.0.4.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable, Sequence

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


def _labels(labels: Labels, extra: Labels = ()) -> str:
    pairs = labels + extra
    if not pairs:
        return ""
    inner = ",".join(f'{key}="{_escape(value)}"' for key, value in pairs)
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


class Counter:
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

    def value(self, *label_values: str) -> float:
        return self._values.get(label_values, 0)

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} counter"
        for values, count in sorted(self._values.items()):
            labels = tuple(zip(self.label_names, values, strict=True))
            yield f"{self.name}{_labels(labels)} {_number(count)}"


class Gauge:
    """A value read when rendered, from a function (e.g. sockets open now)."""

    def __init__(
        self,
        name: str,
        help_text: str,
        read: Callable[[], Iterable[tuple[Labels, float]]],
    ) -> None:
        self.name = name
        self.help = help_text
        self._read = read

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} gauge"
        for labels, value in self._read():
            yield f"{self.name}{_labels(labels)} {_number(value)}"


class Histogram:
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

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} histogram"
        cumulative = 0
        for bound, count in zip((*self.bounds, math.inf), self._counts, strict=True):
            cumulative += count
            le = (("le", _number(bound)),)
            yield f"{self.name}_bucket{_labels((), le)} {cumulative}"
        yield f"{self.name}_sum {_number(self.sum)}"
        yield f"{self.name}_count {self.count}"


Metric = Counter | Gauge | Histogram


class Metrics:
    """Every metric the server exports; the service and the listeners feed it."""

    def __init__(self) -> None:
        self.events_appended = Counter(
            "pokerd_events_appended_total", "Events committed to the log."
        )
        self.append_latency = Histogram(
            "pokerd_append_latency_seconds",
            "From a table handing events to the log to their commit.",
        )
        self.broadcast_latency = Histogram(
            "pokerd_broadcast_latency_seconds",
            "From an event's commit to its message written to a WebSocket.",
        )
        self.messages_sent = Counter(
            "pokerd_messages_sent_total",
            "Messages written to WebSockets.",
        )
        self.slow_consumers_dropped = Counter(
            "pokerd_slow_consumers_dropped_total",
            "Connections closed because they did not keep up.",
            ["reason"],
        )
        self.errors = Counter(
            "pokerd_errors_total",
            "Error messages sent to clients, by code and transport.",
            ["code", "transport"],
        )
        self.connections_opened = Counter(
            "pokerd_connections_opened_total", "WebSocket connections accepted."
        )
        self.gc_pause = Histogram(
            "pokerd_gc_pause_seconds",
            "Pauses of Python's garbage collector (every table waits them out).",
        )
        self.gc_collections = Counter(
            "pokerd_gc_collections_total",
            "Garbage collections, by generation (2 is a full collection).",
            ["generation"],
        )
        self._gauges: list[Gauge] = []

    def gauge(
        self,
        name: str,
        help_text: str,
        read: Callable[[], Iterable[tuple[Labels, float]]],
    ) -> None:
        """Export a value read at render time."""
        self._gauges.append(Gauge(name, help_text, read))

    def render(self) -> str:
        metrics: list[Metric] = [
            *self._gauges,
            self.events_appended,
            self.append_latency,
            self.broadcast_latency,
            self.messages_sent,
            self.slow_consumers_dropped,
            self.errors,
            self.connections_opened,
            self.gc_pause,
            self.gc_collections,
        ]
        lines = [line for metric in metrics for line in metric.render()]
        return "\n".join(lines) + "\n"
