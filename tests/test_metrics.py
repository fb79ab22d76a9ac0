"""The metrics' Prometheus text, and the live stream's token bucket on a fake clock."""

from __future__ import annotations

import math
import re

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from pokerd.ops.metrics import (
    CallbackGauges,
    CollectorPauses,
    Counter,
    Histogram,
    Metrics,
    WithoutCreated,
)
from pokerd.server.live import TokenBucket

SAMPLE = re.compile(
    r'[a-z_]+(\{[a-z_]+="([^"\\\n]|\\["\\n])*"(,[a-z_]+="([^"\\\n]|\\["\\n])*")*\})?'
    r" (-?[0-9.e+-]+|\+Inf|-Inf|NaN)"
)
"""One sample line of the text exposition format 0.0.4 (no timestamp)."""


class FakeClock:
    """Seconds that pass only when a test says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def lines(registry: CollectorRegistry) -> list[str]:
    """The registry's text as `Metrics.render` makes it."""
    return generate_latest(WithoutCreated(registry)).decode().splitlines()


def registered(collector: CallbackGauges | CollectorPauses) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(collector)
    return registry


# Counters


def test_a_counter_without_labels_renders_zero_before_it_is_counted() -> None:
    registry = CollectorRegistry()
    Counter("pokerd_things_total", "Things.", registry=registry)

    assert lines(registry) == [
        "# HELP pokerd_things_total Things.",
        "# TYPE pokerd_things_total counter",
        "pokerd_things_total 0.0",
    ]


def test_a_labelled_counter_renders_one_sample_per_label_set() -> None:
    registry = CollectorRegistry()
    errors = Counter(
        "pokerd_errors_total", "Errors.", ["code", "transport"], registry=registry
    )
    errors.inc("not_your_turn", "websocket")
    errors.inc("bad_token", "http")
    errors.inc("not_your_turn", "websocket", by=2)

    assert sorted(lines(registry)[2:]) == [
        'pokerd_errors_total{code="bad_token",transport="http"} 1.0',
        'pokerd_errors_total{code="not_your_turn",transport="websocket"} 3.0',
    ]
    assert errors.value("not_your_turn", "websocket") == 3
    assert errors.value("never", "seen") == 0


def test_a_labelled_counter_renders_no_sample_before_it_is_counted() -> None:
    registry = CollectorRegistry()
    Counter("pokerd_dropped_total", "Dropped.", ["reason"], registry=registry)

    assert lines(registry) == [
        "# HELP pokerd_dropped_total Dropped.",
        "# TYPE pokerd_dropped_total counter",
    ]


def test_a_counter_refuses_label_values_that_do_not_match_its_labels() -> None:
    registry = CollectorRegistry()
    errors = Counter(
        "pokerd_errors_total", "Errors.", ["code", "transport"], registry=registry
    )
    plain = Counter("pokerd_plain_total", "Plain.", registry=registry)

    with pytest.raises(ValueError, match="label count"):
        errors.inc("not_your_turn")
    with pytest.raises(ValueError, match="missing label values"):
        errors.inc()
    with pytest.raises(ValueError, match="pokerd_plain"):
        plain.inc("extra")


def test_label_values_escape_backslashes_quotes_and_newlines() -> None:
    registry = CollectorRegistry()
    Counter("pokerd_odd_total", "Odd.", ["value"], registry=registry).inc('a\\b"c\nd')

    sample = lines(registry)[-1]
    assert sample == 'pokerd_odd_total{value="a\\\\b\\"c\\nd"} 1.0'
    assert SAMPLE.fullmatch(sample)


def test_fractions_render_as_text_that_reads_back_as_the_same_float() -> None:
    registry = CollectorRegistry()
    fraction = Counter("pokerd_fraction_total", "Fraction.", registry=registry)
    fraction.inc(by=0.1)
    fraction.inc(by=0.2)

    assert float(lines(registry)[-1].split()[-1]) == 0.1 + 0.2


# Gauges


def test_a_gauge_reads_its_value_each_time_it_is_rendered() -> None:
    open_now = [3]
    gauges = CallbackGauges()
    gauges.add(
        "pokerd_open", "Open now.", lambda: [((("kind", "socket"),), open_now[0])]
    )
    registry = registered(gauges)

    first = lines(registry)
    open_now[0] = 0
    second = lines(registry)

    assert first == [
        "# HELP pokerd_open Open now.",
        "# TYPE pokerd_open gauge",
        'pokerd_open{kind="socket"} 3.0',
    ]
    assert second[-1] == 'pokerd_open{kind="socket"} 0.0'


def test_a_gauge_renders_infinities_as_prometheus_spells_them() -> None:
    gauges = CallbackGauges()
    gauges.add(
        "pokerd_edge",
        "Edge.",
        lambda: [((("end", "top"),), math.inf), ((("end", "bottom"),), -math.inf)],
    )

    assert lines(registered(gauges))[2:] == [
        'pokerd_edge{end="top"} +Inf',
        'pokerd_edge{end="bottom"} -Inf',
    ]


def test_a_gauge_name_is_exported_once() -> None:
    gauges = CallbackGauges()
    gauges.add("pokerd_open", "Open now.", lambda: [((), 1)])

    with pytest.raises(ValueError, match="pokerd_open"):
        gauges.add("pokerd_open", "Open again.", lambda: [((), 2)])


# Histograms


def test_a_histogram_counts_each_observation_in_every_bucket_from_its_own() -> None:
    registry = CollectorRegistry()
    histogram = Histogram(
        "pokerd_wait_seconds", "Waits.", buckets=(0.125, 1.0), registry=registry
    )
    for seconds in (0.0625, 0.125, 0.5, 3.0):
        histogram.observe(seconds)

    assert lines(registry) == [
        "# HELP pokerd_wait_seconds Waits.",
        "# TYPE pokerd_wait_seconds histogram",
        # A bucket is `le`: an observation equal to its bound is in it.
        'pokerd_wait_seconds_bucket{le="0.125"} 2.0',
        'pokerd_wait_seconds_bucket{le="1.0"} 3.0',
        'pokerd_wait_seconds_bucket{le="+Inf"} 4.0',
        "pokerd_wait_seconds_count 4.0",
        "pokerd_wait_seconds_sum 3.6875",
    ]
    assert (histogram.count, histogram.sum) == (4, 3.6875)


def test_an_empty_histogram_renders_zeros_in_every_bucket() -> None:
    registry = CollectorRegistry()
    Histogram("pokerd_idle_seconds", "Idle.", registry=registry)

    samples = lines(registry)[2:]
    assert len(samples) == 12 + 1 + 2
    assert all(sample.endswith(" 0.0") for sample in samples)


def test_collector_pauses_render_as_the_library_renders_a_histogram() -> None:
    registry = CollectorRegistry()
    histogram = Histogram(
        "pokerd_gc_pause_seconds", "Waits.", buckets=(0.125, 1.0), registry=registry
    )
    pauses = CollectorPauses(buckets=(0.125, 1.0))
    for seconds, generation in ((0.0625, 0), (0.125, 0), (0.5, 1), (3.0, 2)):
        histogram.observe(seconds)
        pauses.observe(seconds, generation)

    tallied = lines(registered(pauses))
    assert tallied[2:7] == lines(registry)[2:]
    assert tallied[-3:] == [
        'pokerd_gc_collections_total{generation="0"} 2.0',
        'pokerd_gc_collections_total{generation="1"} 1.0',
        'pokerd_gc_collections_total{generation="2"} 1.0',
    ]
    assert (pauses.count, pauses.sum, pauses.collections(0)) == (4, 3.6875, 2)
    assert "pokerd_gc_pause_longest_seconds 3.0" in tallied


# The registry


def test_metrics_render_every_series_once_with_help_and_type_in_valid_text() -> None:
    metrics = Metrics()
    metrics.gauge("pokerd_connections", "Open sockets.", lambda: [((), 2)])
    metrics.events_appended.inc(by=5)
    metrics.append_latency.observe(0.002)
    metrics.append_commit(0.002)
    metrics.errors.inc("not_your_turn", "websocket")
    metrics.slow_consumers_dropped.inc("stalled")
    metrics.gc.observe(0.001, 2, cpu_seconds=0.0005)
    metrics.handoffs.inc("out")
    metrics.counter("pokerd_appends_fenced_total", "Fenced.", lambda: [((), 3)])

    text = metrics.render()

    assert text.endswith("\n")
    body = text.splitlines()
    names = [line.split()[2] for line in body if line.startswith("# TYPE ")]
    assert names == [
        "pokerd_connections",
        "pokerd_events_appended_total",
        "pokerd_append_latency_seconds",
        "pokerd_append_wait_seconds",
        "pokerd_broadcast_latency_seconds",
        "pokerd_messages_sent_total",
        "pokerd_slow_consumers_dropped_total",
        "pokerd_errors_total",
        "pokerd_connections_opened_total",
        "pokerd_gc_pause_seconds",
        "pokerd_gc_pause_longest_seconds",
        "pokerd_gc_pause_longest_cpu_seconds",
        "pokerd_gc_collections_total",
        "pokerd_lease_renewals_total",
        "pokerd_takeovers_total",
        "pokerd_handoffs_total",
        "pokerd_appends_fenced_total",
    ]
    assert len([line for line in body if line.startswith("# HELP ")]) == len(names)
    samples = [line for line in body if not line.startswith("#")]
    assert all(SAMPLE.fullmatch(sample) for sample in samples), samples
    assert not [sample for sample in samples if "_created" in sample]
    assert "pokerd_connections 2.0" in samples
    assert "pokerd_events_appended_total 5.0" in samples
    assert 'pokerd_append_latency_seconds_bucket{le="0.0025"} 1.0' in samples
    assert 'pokerd_append_latency_seconds_bucket{le="0.001"} 0.0' in samples
    assert (
        'pokerd_append_wait_seconds_bucket{le="0.0025",stage="commit"} 1.0' in samples
    )
    assert 'pokerd_append_wait_seconds_count{stage="wake"} 0.0' in samples
    assert (
        'pokerd_errors_total{code="not_your_turn",transport="websocket"} 1.0' in samples
    )
    assert 'pokerd_slow_consumers_dropped_total{reason="stalled"} 1.0' in samples
    assert 'pokerd_gc_pause_seconds_bucket{le="0.001"} 1.0' in samples
    assert "pokerd_gc_pause_longest_seconds 0.001" in samples
    assert "pokerd_gc_pause_longest_cpu_seconds 0.0005" in samples
    assert 'pokerd_gc_collections_total{generation="2"} 1.0' in samples
    assert 'pokerd_lease_renewals_total{result="failed"} 0.0' in samples
    assert 'pokerd_handoffs_total{direction="out"} 1.0' in samples
    assert 'pokerd_handoffs_total{direction="in"} 0.0' in samples
    assert "pokerd_takeovers_total 0.0" in samples
    assert "pokerd_appends_fenced_total 3.0" in samples


def test_two_servers_metrics_in_one_process_count_apart() -> None:
    first, second = Metrics(), Metrics()
    for metrics in (first, second):
        metrics.gauge("pokerd_connections", "Open sockets.", lambda: [((), 0)])
    first.events_appended.inc(by=3)
    first.errors.inc("bad_token", "http")

    assert "pokerd_events_appended_total 3.0" in first.render().splitlines()
    assert "pokerd_events_appended_total 0.0" in second.render().splitlines()
    assert second.errors.value("bad_token", "http") == 0


# The live stream's rate limit


def test_a_token_bucket_allows_a_burst_of_rate_messages_then_refuses() -> None:
    clock = FakeClock()
    bucket = TokenBucket(5, clock)

    taken = [bucket.take() for _ in range(7)]

    assert taken == [True] * 5 + [False] * 2


def test_a_token_bucket_refills_at_rate_messages_a_second() -> None:
    clock = FakeClock()
    bucket = TokenBucket(4, clock)
    while bucket.take():
        pass

    clock.now += 0.125  # half a message's worth
    refused = bucket.take()
    clock.now += 0.125
    allowed = bucket.take()
    then_refused = bucket.take()

    assert (refused, allowed, then_refused) == (False, True, False)


def test_a_token_bucket_holds_no_more_than_rate_however_long_it_waits() -> None:
    clock = FakeClock()
    bucket = TokenBucket(3, clock)
    bucket.take()

    clock.now += 3600
    taken = [bucket.take() for _ in range(5)]

    assert taken == [True] * 3 + [False] * 2


def test_a_refused_message_costs_nothing_so_the_refill_goes_on() -> None:
    clock = FakeClock()
    bucket = TokenBucket(2, clock)
    bucket.take()
    bucket.take()

    taken = []
    for _ in range(4):
        clock.now += 0.125
        taken.append(bucket.take())

    # 4 x 0.125 s at 2 a second: one message's worth by the last try.
    assert taken == [False, False, False, True]


def test_a_rate_below_one_a_second_still_lets_one_message_through() -> None:
    clock = FakeClock()
    bucket = TokenBucket(0.5, clock)

    first, second = bucket.take(), bucket.take()
    clock.now += 1.0
    after_one_second = bucket.take()
    clock.now += 1.0
    after_two_seconds = bucket.take()

    assert (first, second) == (True, False)
    assert after_one_second is False
    assert after_two_seconds is True
