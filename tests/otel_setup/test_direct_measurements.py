"""DirectHistogram and DirectCounter: what the readers collect is what the SDK's own
record() and add() make them collect."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.metrics import (
    AlwaysOffExemplarFilter,
    ExemplarFilter,
    Histogram,
    MeterProvider,
    TraceBasedExemplarFilter,
)
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import set_span_in_context

from otel_setup import direct_measurements
from otel_setup.direct_measurements import DirectCounter, DirectHistogram
from tests.support import metric_points

NAME = "http.server.request.duration"
BOUNDS = (0.005, 0.1, 1.0)
#: A view that keeps two of the three keys: the filtered sets must match the SDK's.
VIEW = View(
    instrument_name=NAME,
    attribute_keys={"http.route", "http.response.status_code"},
    aggregation=ExplicitBucketHistogramAggregation(BOUNDS),
)
ATTRIBUTE_SETS = [
    {"http.request.method": method, "http.route": route, "http.response.status_code": status}
    for method in ("GET", "POST")
    for route in ("/items", "/health")
    for status in (200, 500)
]


class Pair:
    """The same histogram on two providers: one recorded through DirectHistogram,
    one through the SDK; each read by a cumulative and a delta reader."""

    def __init__(self, exemplar_filter: ExemplarFilter | None = None) -> None:
        self.direct_readers = self._readers()
        self.sdk_readers = self._readers()
        self.direct_provider, direct = self._histogram(self.direct_readers, exemplar_filter)
        self.direct = DirectHistogram(direct)
        _, self.sdk = self._histogram(self.sdk_readers, exemplar_filter)

    @staticmethod
    def _readers() -> list[InMemoryMetricReader]:
        delta = {Histogram: AggregationTemporality.DELTA}
        return [InMemoryMetricReader(), InMemoryMetricReader(preferred_temporality=delta)]

    @staticmethod
    def _histogram(
        readers: list[InMemoryMetricReader], exemplar_filter: ExemplarFilter | None
    ) -> tuple[MeterProvider, Any]:
        provider = MeterProvider(
            metric_readers=readers,
            views=[VIEW],
            exemplar_filter=exemplar_filter or AlwaysOffExemplarFilter(),
        )
        return provider, provider.get_meter("test").create_histogram(NAME, unit="s")

    def record(self, value: float, attributes: dict[str, Any]) -> None:
        self.direct.record(value, attributes)
        self.sdk.record(value, attributes)

    def collected(self) -> tuple[list[Any], list[Any]]:
        return (
            [_points(reader) for reader in self.direct_readers],
            [_points(reader) for reader in self.sdk_readers],
        )


def _points(reader: InMemoryMetricReader) -> list[tuple[Any, ...]]:
    """What a point says, but its timestamps (the two providers started apart)."""
    return sorted(
        (
            tuple(sorted(p.attributes.items())),
            p.count,
            round(p.sum, 9),
            tuple(p.bucket_counts),
            p.min,
            p.max,
            len(p.exemplars),
        )
        for p in metric_points(reader, NAME)
    )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(
                st.floats(min_value=0, max_value=5, allow_nan=False),
                st.integers(min_value=0, max_value=len(ATTRIBUTE_SETS) - 1),
            ),
            st.just("collect"),
        ),
        max_size=60,
    )
)
def test_readers_collect_what_the_sdk_would_have_them_collect(steps: list[Any]) -> None:
    pair = Pair()
    for step in [*steps, "collect"]:
        if step == "collect":
            direct, sdk = pair.collected()
            assert direct == sdk
        else:
            value, index = step
            pair.record(value, ATTRIBUTE_SETS[index])


def test_a_reader_added_later_gets_every_later_measurement() -> None:
    pair = Pair()
    pair.record(0.01, ATTRIBUTE_SETS[0])  # the aggregations are found for two readers
    late = InMemoryMetricReader()
    pair.direct_provider.add_metric_reader(late)
    for value in (0.02, 0.3):
        pair.record(value, ATTRIBUTE_SETS[0])
    (point,) = metric_points(late, NAME)
    assert (point.count, point.sum) == (2, pytest.approx(0.32))
    direct, sdk = pair.collected()
    assert direct == sdk


def test_exemplars_go_through_the_sdk_with_their_context() -> None:
    pair = Pair(TraceBasedExemplarFilter())
    span = TracerProvider().get_tracer("test").start_span("request")
    context = set_span_in_context(span)
    for _ in range(3):
        pair.direct.record(0.2, ATTRIBUTE_SETS[0], context)
    (point, *_) = metric_points(pair.direct_readers[0], NAME)
    assert point.count == 3
    assert [e.trace_id for e in point.exemplars] == [span.get_span_context().trace_id]


def test_past_the_cap_attribute_sets_are_still_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(direct_measurements, "MAX_ATTRIBUTE_SETS", 2)
    pair = Pair()
    for _ in range(3):
        for attributes in ATTRIBUTE_SETS:
            pair.record(0.05, attributes)
    assert len(pair.direct._aggregations) == 2
    direct, sdk = pair.collected()
    assert direct == sdk


def test_values_it_cannot_key_go_through_the_sdk() -> None:
    pair = Pair()
    odd = {"http.route": "/items", "http.response.status_code": 200, "tags": ["a", "b"]}
    for _ in range(2):
        pair.record(0.05, odd)
    direct, sdk = pair.collected()
    assert direct == sdk
    assert direct[0][0][1] == 2  # both counted


def test_a_histogram_not_of_the_sdk_is_recorded_as_it_is() -> None:
    histogram = NoOpMeterProvider().get_meter("test").create_histogram(NAME)
    DirectHistogram(histogram).record(0.1, {"http.route": "/"})  # no error, nothing kept


def test_the_sdk_measurement_path_runs_once_per_attribute_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[dict[str, Any]] = []
    sdk_record = Histogram.record
    monkeypatch.setattr(
        Histogram,
        "record",
        lambda self, v, a=None, c=None: (calls.append(a), sdk_record(self, v, a, c)),
    )
    pair = Pair()
    for _ in range(5):
        for attributes in ATTRIBUTE_SETS[:3]:
            pair.direct.record(0.05, attributes)
    assert calls == ATTRIBUTE_SETS[:3]
    (point, *_) = metric_points(pair.direct_readers[0], NAME)
    assert point.count == 5


def _counter_pair(reader: InMemoryMetricReader, other: InMemoryMetricReader) -> tuple[Any, Any]:
    """The same counter on two providers: one added to through DirectCounter."""
    made = []
    for r in (reader, other):
        provider = MeterProvider(metric_readers=[r], exemplar_filter=AlwaysOffExemplarFilter())
        made.append(provider.get_meter("test").create_counter("otelpipe.cache.requests"))
    return DirectCounter(made[0]), made[1]


def _sums(reader: InMemoryMetricReader) -> list[tuple[Any, ...]]:
    return sorted(
        (tuple(sorted(p.attributes.items())), p.value)
        for p in metric_points(reader, "otelpipe.cache.requests")
    )


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([1, 2, 0, -1, 2.5, float("inf"), float("nan")]),
            st.sampled_from(["L1", "L2"]),
            st.sampled_from(["hit", "miss"]),
        ),
        max_size=40,
    )
)
def test_counters_collect_what_the_sdks_add_would_have_them_collect(
    steps: list[tuple[float, str, str]],
) -> None:
    direct_reader, sdk_reader = InMemoryMetricReader(), InMemoryMetricReader()
    direct, sdk = _counter_pair(direct_reader, sdk_reader)
    for amount, tier, result in steps:
        attributes = {"cache.tier": tier, "cache.result": result}
        direct.add(amount, attributes)
        sdk.add(amount, attributes)
    assert _sums(direct_reader) == _sums(sdk_reader)


def test_a_proxy_instrument_is_followed_once_a_provider_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As otel_setup's own instruments: made from the global meter before setup.
    from opentelemetry.metrics._internal import _ProxyMeter

    counter = DirectCounter(_ProxyMeter("test").create_counter("otelpipe.cache.requests"))
    counter.add(1, {"cache.result": "hit"})  # no provider yet: lost, as the SDK's proxy loses it
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], exemplar_filter=AlwaysOffExemplarFilter())
    counter._instrument.on_meter_set(provider.get_meter("test"))
    calls: list[Any] = []
    sdk_add = counter._instrument._real_instrument.add
    monkeypatch.setattr(counter, "_sdk_measure", lambda *a: (calls.append(a), sdk_add(*a)))
    for _ in range(3):
        counter.add(1, {"cache.result": "hit"})
    assert [p.value for p in metric_points(reader, "otelpipe.cache.requests")] == [3]
    assert len(calls) == 1  # the first value of the set; the others went direct


def test_a_meter_switched_off_later_measures_nothing_more() -> None:
    from opentelemetry.sdk.metrics._internal import _disable_meter_configurator, _MeterConfig

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], exemplar_filter=AlwaysOffExemplarFilter())
    counter = DirectCounter(provider.get_meter("test").create_counter("otelpipe.cache.requests"))
    for _ in range(2):
        counter.add(1, {"cache.result": "hit"})
    provider._set_meter_configurator(meter_configurator=_disable_meter_configurator)
    counter.add(1, {"cache.result": "hit"})
    provider._set_meter_configurator(meter_configurator=lambda _scope: _MeterConfig())
    assert [p.value for p in metric_points(reader, "otelpipe.cache.requests")] == [2]
