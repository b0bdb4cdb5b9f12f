"""ServerSpan: what the processors receive is what the SDK's span would have given them."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, DEFAULT_ON, ParentBased, TraceIdRatioBased
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
)

from otel_setup.instrument.server_span import ServerSpan, ServerSpans

LIMITS = SpanLimits(
    max_span_attributes=6,
    max_events=2,
    max_links=2,
    max_event_attributes=3,
    max_link_attributes=3,
    max_attribute_length=8,
)

keys = st.one_of(st.sampled_from(["a", "b", "c", "d", "e", "f", "g", "h", ""]), st.integers(0, 3))
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.binary(max_size=4),
    st.lists(st.one_of(st.text(max_size=12), st.integers(0, 9)), max_size=3),
)
attribute_sets = st.dictionaries(keys, values, max_size=5)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("set_attributes"), attribute_sets),
        st.tuples(st.just("set_attribute"), keys, values),
        st.tuples(st.just("add_event"), st.text(max_size=5), attribute_sets),
        st.tuples(st.just("add_link"), st.booleans(), attribute_sets),
        st.tuples(st.just("update_name"), st.text(max_size=5)),
        st.tuples(st.just("set_status"), st.sampled_from(list(StatusCode)), st.text(max_size=5)),
        st.tuples(st.just("record_exception"), st.text(max_size=5)),
    ),
    max_size=12,
)


def _provider(sampler: Any = None) -> tuple[TracerProvider, InMemorySpanExporter]:
    finished = InMemorySpanExporter()
    options = {"sampler": sampler} if sampler is not None else {}
    provider = TracerProvider(
        resource=Resource({"service.name": "svc"}), span_limits=LIMITS, **options
    )
    provider.add_span_processor(SimpleSpanProcessor(finished))
    return provider, finished


def _apply(span: trace.Span, steps: list[tuple[Any, ...]]) -> None:
    for step, *args in steps:
        if step == "add_link":
            valid, attributes = args
            linked = SpanContext(7, 9, is_remote=True) if valid else trace.INVALID_SPAN_CONTEXT
            span.add_link(linked, attributes)
        elif step == "add_event":
            span.add_event(args[0], args[1], timestamp=1)
        elif step == "record_exception":
            span.record_exception(ValueError(args[0]), timestamp=2)
        else:
            getattr(span, step)(*args)


def _seen(span: ReadableSpan) -> dict[str, Any]:
    """Everything a processor or exporter reads, but the IDs and times of the span."""
    return {
        "name": span.name,
        "kind": span.kind,
        "attributes": dict(span.attributes),
        "dropped_attributes": span.dropped_attributes,
        "events": [(e.name, dict(e.attributes), e.timestamp) for e in span.events],
        "dropped_events": span.dropped_events,
        "links": [(link.context, dict(link.attributes)) for link in span.links],
        "dropped_links": span.dropped_links,
        "status": (span.status.status_code, span.status.description),
        "parent": span.parent,
        "resource": span.resource.attributes,
        "scope": span.instrumentation_scope.name,
        "flags": span.context.trace_flags,
    }


@settings(max_examples=300, deadline=None)
@given(start=attribute_sets, steps=operations)
def test_the_ended_span_matches_the_sdk_span_made_the_same_way(
    start: dict[Any, Any], steps: list[tuple[Any, ...]]
) -> None:
    sdk_provider, sdk_finished = _provider()
    sdk_span = sdk_provider.get_tracer("otel_setup.http.server").start_span(
        "GET", context=Context(), kind=SpanKind.SERVER, attributes=dict(start)
    )
    provider, finished = _provider()
    span = ServerSpans(provider, "otel_setup.http.server", LIMITS).start(
        "GET", Context(), dict(start)
    )
    for made in (sdk_span, span):
        _apply(made, steps)
        made.end()

    (expected,), (got,) = sdk_finished.get_finished_spans(), finished.get_finished_spans()
    assert _seen(got) == _seen(expected)
    assert got.start_time <= got.end_time


def test_a_span_continues_the_trace_of_its_parent_and_is_its_child() -> None:
    provider, finished = _provider()
    remote = SpanContext(0xABC, 0xDEF, is_remote=True, trace_flags=TraceFlags(1))
    parent = trace.set_span_in_context(NonRecordingSpan(remote))

    ServerSpans(provider, "s", LIMITS).start("GET", parent, {}).end()

    (span,) = finished.get_finished_spans()
    assert span.context.trace_id == 0xABC
    assert span.context.span_id not in (0, 0xDEF)
    assert span.parent == remote
    assert span.context.trace_flags.sampled


@pytest.mark.parametrize("sampler", [DEFAULT_ON, ParentBased(ALWAYS_ON)], ids=["own", "sdk"])
@pytest.mark.parametrize("remote", [True, False])
@pytest.mark.parametrize(
    "parent_sampled", [True, False, None], ids=["sampled", "unsampled", "root"]
)
def test_the_default_sampler_decides_as_the_sdk_does_whatever_the_parent(
    sampler: Any, remote: bool, parent_sampled: bool | None
) -> None:
    """``DEFAULT_ON`` is decided without calling it; any other sampler is called."""
    parent = Context()
    if parent_sampled is not None:
        state = TraceState([("vendor", "x")])
        flags = TraceFlags(TraceFlags.SAMPLED if parent_sampled else TraceFlags.DEFAULT)
        remote_parent = SpanContext(0xABC, 0xDEF, remote, trace_flags=flags, trace_state=state)
        parent = trace.set_span_in_context(NonRecordingSpan(remote_parent))
    sdk_provider, sdk_finished = _provider(sampler)
    sdk_span = sdk_provider.get_tracer("s").start_span(
        "GET", context=parent, kind=SpanKind.SERVER, attributes={"k": "v"}
    )
    provider, finished = _provider(sampler)
    span = ServerSpans(provider, "s", LIMITS).start("GET", parent, {"k": "v"})

    for made in (sdk_span, span):
        assert made.is_recording() is (parent_sampled is not False)
        made.end()
    got, expected = span.get_span_context(), sdk_span.get_span_context()
    assert (got.trace_flags, got.trace_state) == (expected.trace_flags, expected.trace_state)
    assert [_seen(s) for s in finished.get_finished_spans()] == [
        _seen(s) for s in sdk_finished.get_finished_spans()
    ]


def test_the_sampler_decides_and_a_dropped_span_keeps_the_ids_for_its_children() -> None:
    provider, finished = _provider(ParentBased(TraceIdRatioBased(0.5)))
    spans = ServerSpans(provider, "s", LIMITS)
    made = [spans.start("GET", Context(), {"k": "v"}) for _ in range(400)]
    for span in made:
        span.end()

    recorded = [span for span in made if isinstance(span, ServerSpan)]
    dropped = [span for span in made if not isinstance(span, ServerSpan)]
    assert 100 < len(recorded) < 300, "about half, as the ratio asks"
    assert all(not span.is_recording() for span in dropped)
    assert all(span.get_span_context().is_valid for span in dropped)
    assert all(not span.get_span_context().trace_flags.sampled for span in dropped)
    assert len(finished.get_finished_spans()) == len(recorded)


def test_processors_see_the_live_span_at_start_and_added_processors_count() -> None:
    provider = TracerProvider()
    spans = ServerSpans(provider, "s", LIMITS)  # made before the processor is added

    started: list[tuple[str, dict[str, Any], Context | None]] = []

    class Watcher(SimpleSpanProcessor):
        def on_start(self, span: Any, parent_context: Context | None = None) -> None:
            started.append((span.name, dict(span.attributes), parent_context))

    finished = InMemorySpanExporter()
    provider.add_span_processor(Watcher(finished))
    parent = Context()
    spans.start("GET", parent, {"http.request.method": "GET"}).end()

    assert started == [("GET", {"http.request.method": "GET"}, parent)]
    assert len(finished.get_finished_spans()) == 1


def test_an_ended_span_ignores_changes_and_is_exported_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    provider, finished = _provider()
    span = ServerSpans(provider, "s", LIMITS).start("GET", Context(), {"a": "1"})
    span.end()

    span.set_attribute("a", "2")
    span.update_name("changed")
    span.set_status(StatusCode.ERROR)
    span.end()

    (exported,) = finished.get_finished_spans()
    assert (exported.name, dict(exported.attributes), exported.status.status_code) == (
        "GET",
        {"a": "1"},
        StatusCode.UNSET,
    )
    assert not span.is_recording()
    assert "on an ended span" in caplog.text


def test_ok_is_final_as_in_the_sdk() -> None:
    provider, finished = _provider()
    span = ServerSpans(provider, "s", LIMITS).start("GET", Context(), {})
    span.set_status(Status(StatusCode.OK))
    span.set_status(StatusCode.ERROR, "late")
    span.end()

    assert finished.get_finished_spans()[0].status.status_code is StatusCode.OK
