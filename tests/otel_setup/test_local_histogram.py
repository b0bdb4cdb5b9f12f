"""A LocalHistogram reports what the SDK's explicit-bucket histogram reports."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import (
    AlwaysOffExemplarFilter,
    Histogram,
    MeterProvider,
    TraceBasedExemplarFilter,
)
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from otel_setup.local_histogram import LocalHistogram
from tests.support import AppMetricsReader, metric_points

BOUNDS = (0.005, 0.01, 0.1, 1.0, 5.0)
NAME = "http.server.request.duration"
ATTRIBUTE_SETS = [
    {"http.route": "/health", "http.response.status_code": 200},
    {"http.route": "/items/{id}", "http.response.status_code": 200},
    {"http.response.status_code": 500, "http.route": "/items/{id}", "error.type": "500"},
]
_step = st.one_of(
    st.tuples(
        st.one_of(st.sampled_from([0.0, *BOUNDS]), st.floats(0, 20, allow_nan=False)),
        st.integers(0, len(ATTRIBUTE_SETS) - 1),
    ),
    st.just("collect"),
)


def _readers(
    temporality: AggregationTemporality, exemplars: Any = None
) -> tuple[InMemoryMetricReader, Any, AppMetricsReader, LocalHistogram]:
    """The SDK's histogram and its reader; ours and its reader (the same temporality)."""
    preferred = {Histogram: temporality}
    exemplar_filter = exemplars or AlwaysOffExemplarFilter()
    sdk_reader = InMemoryMetricReader(preferred_temporality=preferred)
    view = View(instrument_name=NAME, aggregation=ExplicitBucketHistogramAggregation(BOUNDS))
    sdk_provider = MeterProvider(
        metric_readers=[sdk_reader], views=[view], exemplar_filter=exemplar_filter
    )
    sdk = sdk_provider.get_meter("test").create_histogram(NAME)
    reader = AppMetricsReader(preferred_temporality=preferred)
    provider = MeterProvider(metric_readers=[reader])

    # As the server metrics' active-requests count: a point in every collection.
    def active(_options: CallbackOptions) -> list[Observation]:
        return [Observation(0)]

    provider.get_meter("test").create_observable_up_down_counter("active", [active])
    ours = reader.create_histogram("test", NAME, "s", "", BOUNDS, exemplar_filter)
    return sdk_reader, sdk, reader, ours


def _points(reader: InMemoryMetricReader) -> list[tuple[Any, ...]]:
    return sorted(
        (
            tuple(sorted(p.attributes.items())),
            p.count,
            # The SDK adds up a cumulative sum collection by collection, so in another order.
            round(p.sum, 9),
            list(p.bucket_counts),
            tuple(p.explicit_bounds),
            p.min,
            p.max,
        )
        for p in metric_points(reader, NAME)
    )


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(_step, max_size=40),
    temporality=st.sampled_from(list(AggregationTemporality)[1:]),
)
def test_every_collection_has_the_points_of_the_sdks_histogram(
    steps: list[Any], temporality: AggregationTemporality
) -> None:
    sdk_reader, sdk, reader, ours = _readers(temporality)
    for step in [*steps, "collect"]:
        if step == "collect":
            assert _points(reader) == _points(sdk_reader)
        else:
            value, which = step
            sdk.record(value, ATTRIBUTE_SETS[which])
            ours.record(value, ATTRIBUTE_SETS[which])


def test_exemplars_are_the_latest_sampled_measurement_of_each_bucket_as_the_sdks() -> None:
    sdk_reader, sdk, reader, ours = _readers(
        AggregationTemporality.CUMULATIVE, TraceBasedExemplarFilter()
    )

    def in_span(trace_id: int, sampled: bool) -> Context:
        flags = TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
        span = NonRecordingSpan(SpanContext(trace_id, trace_id + 1, False, flags))
        return trace.set_span_in_context(span)

    def exemplars(r: InMemoryMetricReader) -> list[tuple[Any, ...]]:
        return sorted(
            (e.value, e.trace_id, e.span_id, e.filtered_attributes)
            for p in metric_points(r, NAME)
            for e in p.exemplars
        )

    attributes = ATTRIBUTE_SETS[0]
    # 0.05 then 0.07 share a bucket (0.07 is the latest), 3.0 has its own, 0.5 is not sampled.
    for value, trace_id, sampled in ((0.05, 11, True), (0.07, 12, True), (3.0, 13, True),
                                     (0.5, 14, False)):  # fmt: skip
        sdk.record(value, attributes, in_span(trace_id, sampled))
        ours.record(value, attributes, in_span(trace_id, sampled))
    found = exemplars(reader)
    assert found == exemplars(sdk_reader)
    assert [(value, trace_id) for value, trace_id, *_ in found] == [(0.07, 12), (3.0, 13)]
    # Each exemplar is reported once; the counts go on.
    assert exemplars(reader) == exemplars(sdk_reader) == []
    assert _points(reader) == _points(sdk_reader)


def test_a_delta_point_starts_where_the_previous_collection_ended() -> None:
    _, _, reader, ours = _readers(AggregationTemporality.DELTA)
    ours.record(0.2, ATTRIBUTE_SETS[0])
    (first,) = metric_points(reader, NAME)
    ours.record(0.3, ATTRIBUTE_SETS[0])
    (second,) = metric_points(reader, NAME)
    assert second.start_time_unix_nano == first.time_unix_nano
    assert (second.count, second.sum, second.min, second.max) == (1, 0.3, 0.3, 0.3)
    assert metric_points(reader, NAME) == []  # nothing recorded since
