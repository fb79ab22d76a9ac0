"""The metrics' Prometheus text, and the live stream's token bucket on a fake clock."""

from __future__ import annotations

import math
import re

import pytest

from pokerd.ops.metrics import Counter, Gauge, Histogram, Metrics
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


def lines(metric: Counter | Gauge | Histogram) -> list[str]:
    return list(metric.render())


# Counters


def test_a_counter_without_labels_renders_zero_before_it_is_counted() -> None:
    counter = Counter("pokerd_things_total", "Things.")

    assert lines(counter) == [
        "# HELP pokerd_things_total Things.",
        "# TYPE pokerd_things_total counter",
        "pokerd_things_total 0",
    ]


def test_a_labelled_counter_renders_one_sample_per_label_set_in_sorted_order() -> None:
    errors = Counter("pokerd_errors_total", "Errors.", ["code", "transport"])
    errors.inc("not_your_turn", "websocket")
    errors.inc("bad_token", "http")
    errors.inc("not_your_turn", "websocket")

    assert lines(errors)[2:] == [
        'pokerd_errors_total{code="bad_token",transport="http"} 1',
        'pokerd_errors_total{code="not_your_turn",transport="websocket"} 2',
    ]
    assert errors.value("not_your_turn", "websocket") == 2
    assert errors.value("never", "seen") == 0


def test_a_labelled_counter_renders_no_sample_before_it_is_counted() -> None:
    dropped = Counter("pokerd_dropped_total", "Dropped.", ["reason"])

    assert lines(dropped) == [
        "# HELP pokerd_dropped_total Dropped.",
        "# TYPE pokerd_dropped_total counter",
    ]


def test_a_counter_refuses_label_values_that_do_not_match_its_labels() -> None:
    errors = Counter("pokerd_errors_total", "Errors.", ["code", "transport"])

    with pytest.raises(ValueError, match="code"):
        errors.inc("not_your_turn")
    with pytest.raises(ValueError, match="pokerd_plain_total"):
        Counter("pokerd_plain_total", "Plain.").inc("extra")


def test_label_values_escape_backslashes_quotes_and_newlines() -> None:
    counter = Counter("pokerd_odd_total", "Odd.", ["value"])
    counter.inc('a\\b"c\nd')

    sample = lines(counter)[-1]
    assert sample == 'pokerd_odd_total{value="a\\\\b\\"c\\nd"} 1'
    assert SAMPLE.fullmatch(sample)


def test_whole_numbers_render_without_a_point_and_fractions_exactly() -> None:
    whole = Counter("pokerd_whole_total", "Whole.")
    whole.inc(by=2.0)
    fraction = Counter("pokerd_fraction_total", "Fraction.")
    fraction.inc(by=0.1)
    fraction.inc(by=0.2)

    assert lines(whole)[-1] == "pokerd_whole_total 2"
    # repr: the shortest text that reads back as the same float.
    assert lines(fraction)[-1] == f"pokerd_fraction_total {0.1 + 0.2!r}"
    assert float(lines(fraction)[-1].split()[-1]) == 0.1 + 0.2


# Gauges


def test_a_gauge_reads_its_value_each_time_it_is_rendered() -> None:
    open_now = [3]
    gauge = Gauge(
        "pokerd_open", "Open now.", lambda: [((("kind", "socket"),), open_now[0])]
    )

    first = lines(gauge)[-1]
    open_now[0] = 0
    second = lines(gauge)[-1]

    assert lines(gauge)[:2] == [
        "# HELP pokerd_open Open now.",
        "# TYPE pokerd_open gauge",
    ]
    assert first == 'pokerd_open{kind="socket"} 3'
    assert second == 'pokerd_open{kind="socket"} 0'


def test_a_gauge_renders_infinities_as_prometheus_spells_them() -> None:
    gauge = Gauge("pokerd_edge", "Edge.", lambda: [((), math.inf), ((), -math.inf)])

    assert lines(gauge)[2:] == ["pokerd_edge +Inf", "pokerd_edge -Inf"]


# Histograms


def test_a_histogram_counts_each_observation_in_every_bucket_from_its_own() -> None:
    histogram = Histogram("pokerd_wait_seconds", "Waits.", buckets=(0.125, 1.0))
    for seconds in (0.0625, 0.125, 0.5, 3.0):
        histogram.observe(seconds)

    assert lines(histogram) == [
        "# HELP pokerd_wait_seconds Waits.",
        "# TYPE pokerd_wait_seconds histogram",
        # A bucket is `le`: an observation equal to its bound is in it.
        'pokerd_wait_seconds_bucket{le="0.125"} 2',
        'pokerd_wait_seconds_bucket{le="1"} 3',
        'pokerd_wait_seconds_bucket{le="+Inf"} 4',
        "pokerd_wait_seconds_sum 3.6875",
        "pokerd_wait_seconds_count 4",
    ]
    assert histogram.count == 4


def test_an_empty_histogram_renders_zeros_in_every_bucket() -> None:
    histogram = Histogram("pokerd_idle_seconds", "Idle.")

    samples = lines(histogram)[2:]
    assert len(samples) == len(histogram.bounds) + 1 + 2
    assert all(sample.endswith(" 0") for sample in samples)


# The registry


def test_metrics_render_every_series_once_with_help_and_type_in_valid_text() -> None:
    metrics = Metrics()
    metrics.gauge("pokerd_connections", "Open sockets.", lambda: [((), 2)])
    metrics.events_appended.inc(by=5)
    metrics.append_latency.observe(0.002)
    metrics.errors.inc("not_your_turn", "websocket")
    metrics.slow_consumers_dropped.inc("stalled")

    text = metrics.render()

    assert text.endswith("\n")
    body = text.splitlines()
    names = [line.split()[2] for line in body if line.startswith("# TYPE ")]
    assert names == [
        "pokerd_connections",
        "pokerd_events_appended_total",
        "pokerd_append_latency_seconds",
        "pokerd_broadcast_latency_seconds",
        "pokerd_messages_sent_total",
        "pokerd_slow_consumers_dropped_total",
        "pokerd_errors_total",
        "pokerd_connections_opened_total",
        "pokerd_gc_pause_seconds",
        "pokerd_gc_collections_total",
    ]
    assert len([line for line in body if line.startswith("# HELP ")]) == len(names)
    samples = [line for line in body if not line.startswith("#")]
    assert all(SAMPLE.fullmatch(sample) for sample in samples), samples
    assert "pokerd_connections 2" in samples
    assert "pokerd_events_appended_total 5" in samples
    assert 'pokerd_append_latency_seconds_bucket{le="0.0025"} 1' in samples
    assert 'pokerd_append_latency_seconds_bucket{le="0.001"} 0' in samples
    assert (
        'pokerd_errors_total{code="not_your_turn",transport="websocket"} 1' in samples
    )
    assert 'pokerd_slow_consumers_dropped_total{reason="stalled"} 1' in samples


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
