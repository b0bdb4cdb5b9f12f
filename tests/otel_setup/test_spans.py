"""Lean spans: what the processors receive is what the SDK's span would have given them."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider, _TracerConfig
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, DEFAULT_ON, ParentBased, TraceIdRatioBased
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
)

from otel_setup.spans import LeanSpan, LeanTracerProvider

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
kinds = st.sampled_from(list(SpanKind))
start_links = st.lists(st.tuples(st.booleans(), attribute_sets), max_size=3)
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


def _provider(
    sampler: Any = None, lean: bool = True
) -> tuple[TracerProvider, InMemorySpanExporter]:
    finished = InMemorySpanExporter()
    options = {"sampler": sampler} if sampler is not None else {}
    provider = (LeanTracerProvider if lean else TracerProvider)(
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


def _start(
    provider: TracerProvider, parent: Context, kind: SpanKind = SpanKind.SERVER, **options: Any
) -> trace.Span:
    return provider.get_tracer("otel_setup.http.server").start_span(
        "GET", context=parent, kind=kind, **options
    )


def _link(valid: bool, attributes: dict[Any, Any]) -> Link:
    return Link(
        SpanContext(7, 9, is_remote=True) if valid else trace.INVALID_SPAN_CONTEXT, attributes
    )


@settings(max_examples=300, deadline=None)
@given(start=attribute_sets, kind=kinds, links=start_links, steps=operations)
def test_the_ended_span_matches_the_sdk_span_made_the_same_way(
    start: dict[Any, Any],
    kind: SpanKind,
    links: list[tuple[bool, dict[Any, Any]]],
    steps: list[tuple[Any, ...]],
) -> None:
    made = []
    for lean in (False, True):
        provider, finished = _provider(lean=lean)
        span = _start(
            provider,
            Context(),
            kind,
            attributes=dict(start),
            # Each its own: the SDK's tracer puts bounded attributes into the links given.
            links=[_link(valid, dict(attributes)) for valid, attributes in links],
        )
        _apply(span, steps)
        span.end()
        (ended,) = finished.get_finished_spans()
        made.append((span, ended))

    (sdk_span, expected), (span, got) = made
    assert isinstance(span, LeanSpan) and not isinstance(sdk_span, LeanSpan)
    assert _seen(got) == _seen(expected)
    assert got.start_time <= got.end_time


def test_a_span_continues_the_trace_of_its_parent_and_is_its_child() -> None:
    provider, finished = _provider()
    remote = SpanContext(0xABC, 0xDEF, is_remote=True, trace_flags=TraceFlags(1))
    parent = trace.set_span_in_context(NonRecordingSpan(remote))

    _start(provider, parent).end()

    (span,) = finished.get_finished_spans()
    assert span.context.trace_id == 0xABC
    assert span.context.span_id not in (0, 0xDEF)
    assert span.parent == remote
    assert span.context.trace_flags.sampled


def test_the_current_span_is_the_parent_when_no_context_is_given() -> None:
    provider, finished = _provider()
    tracer = provider.get_tracer("s")
    with tracer.start_as_current_span("outer") as outer, tracer.start_as_current_span("inner"):
        pass

    inner, _ = finished.get_finished_spans()
    assert inner.parent == outer.get_span_context()


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
    sdk_provider, sdk_finished = _provider(sampler, lean=False)
    sdk_span = _start(sdk_provider, parent, attributes={"k": "v"})
    provider, finished = _provider(sampler)
    span = _start(provider, parent, attributes={"k": "v"})

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
    made = [_start(provider, Context(), attributes={"k": "v"}) for _ in range(400)]
    for span in made:
        span.end()

    recorded = [span for span in made if isinstance(span, LeanSpan)]
    dropped = [span for span in made if not isinstance(span, LeanSpan)]
    assert 100 < len(recorded) < 300, "about half, as the ratio asks"
    assert all(not span.is_recording() for span in dropped)
    assert all(span.get_span_context().is_valid for span in dropped)
    assert all(not span.get_span_context().trace_flags.sampled for span in dropped)
    assert len(finished.get_finished_spans()) == len(recorded)


def test_processors_see_the_live_span_at_start_ending_and_end() -> None:
    provider = LeanTracerProvider()
    tracer = provider.get_tracer("s")  # got before the processor is added
    seen: list[tuple[str, str, dict[str, Any], Any]] = []

    class Watcher(SimpleSpanProcessor):
        def on_start(self, span: Any, parent_context: Context | None = None) -> None:
            seen.append(("start", span.name, dict(span.attributes), parent_context))

        def _on_ending(self, span: Any) -> None:
            seen.append(("ending", span.name, dict(span.attributes), span.is_recording()))

    finished = InMemorySpanExporter()
    provider.add_span_processor(Watcher(finished))
    parent = Context()
    tracer.start_span("GET", parent, attributes={"http.request.method": "GET"}).end()

    assert seen == [
        ("start", "GET", {"http.request.method": "GET"}, parent),
        ("ending", "GET", {"http.request.method": "GET"}, False),
    ]
    assert len(finished.get_finished_spans()) == 1


def test_an_ended_span_ignores_changes_and_is_exported_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    provider, finished = _provider()
    span = _start(provider, Context(), attributes={"a": "1"})
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


def test_threads_ending_one_span_together_export_it_once() -> None:
    provider, finished = _provider()
    spans = [_start(provider, Context()) for _ in range(200)]
    barrier = threading.Barrier(4)

    def end_all() -> None:
        barrier.wait()
        for span in spans:
            span.set_attributes({"a": 1, "b": 2})
            span.end()

    threads = [threading.Thread(target=end_all) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(finished.get_finished_spans()) == 200


def test_ok_is_final_as_in_the_sdk() -> None:
    provider, finished = _provider()
    span = _start(provider, Context())
    span.set_status(Status(StatusCode.OK))
    span.set_status(StatusCode.ERROR, "late")
    span.end()

    assert finished.get_finished_spans()[0].status.status_code is StatusCode.OK


@pytest.mark.parametrize("how", ["start_as_current_span", "start_span"])
@pytest.mark.parametrize("record_exception", [True, False])
@pytest.mark.parametrize("set_status_on_exception", [True, False])
@pytest.mark.parametrize("error", [ValueError, asyncio.CancelledError])
def test_an_exception_leaving_the_span_is_recorded_as_by_the_sdk(
    how: str, record_exception: bool, set_status_on_exception: bool, error: type[BaseException]
) -> None:
    flags = {
        "record_exception": record_exception,
        "set_status_on_exception": set_status_on_exception,
    }
    exported = []
    for lean in (False, True):
        provider, finished = _provider(lean=lean)
        tracer = provider.get_tracer("s")
        outside = trace.get_current_span()
        with pytest.raises(error), getattr(tracer, how)("work", **flags):
            raise error("no such item")
        assert trace.get_current_span() is outside
        (span,) = finished.get_finished_spans()
        exported.append(span)

    expected, got = (
        {**_seen(span), "events": [(e.name, dict(e.attributes)) for e in span.events]}
        for span in exported
    )
    assert got == expected
    # start_as_current_span records Exceptions only (a cancelled task is no
    # error); a span used as its own context manager records anything, as the SDK's.
    recorded = record_exception and (error is ValueError or how == "start_span")
    assert got["events"] if recorded else not got["events"]


def test_start_as_current_span_decorates_a_function_with_a_span_per_call() -> None:
    provider, finished = _provider()
    tracer = provider.get_tracer("s")

    @tracer.start_as_current_span("step", attributes={"n": 1})
    def step() -> int:
        return trace.get_current_span().get_span_context().span_id

    first, second = step(), step()

    spans = finished.get_finished_spans()
    assert [s.context.span_id for s in spans] == [first, second]
    assert first != second
    assert all(s.name == "step" and dict(s.attributes) == {"n": 1} for s in spans)


def test_start_as_current_span_can_leave_the_span_open() -> None:
    provider, finished = _provider()
    tracer = provider.get_tracer("s")

    with tracer.start_as_current_span("open", end_on_exit=False) as span:
        assert trace.get_current_span() is span

    assert trace.get_current_span() is not span
    assert span.is_recording() and not finished.get_finished_spans()
    span.end()
    assert [s.name for s in finished.get_finished_spans()] == ["open"]


def test_start_as_current_span_decorates_a_coroutine_function() -> None:
    provider, finished = _provider()
    tracer = provider.get_tracer("s")

    @tracer.start_as_current_span("job")
    async def job() -> int:
        await asyncio.sleep(0)
        return trace.get_current_span().get_span_context().span_id

    span_id = asyncio.run(job())

    (span,) = finished.get_finished_spans()
    assert (span.name, span.context.span_id) == ("job", span_id)
    assert span.end_time - span.start_time > 0


def test_one_tracer_per_scope_and_the_provider_switched_off_traces_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    provider = LeanTracerProvider()
    assert provider.get_tracer("a", "1") is provider.get_tracer("a", "1")
    assert provider.get_tracer("a", "1") is not provider.get_tracer("a", "2")

    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert isinstance(LeanTracerProvider().get_tracer("a"), trace.NoOpTracer)


def test_a_scope_the_tracer_configurator_disables_makes_non_recording_spans() -> None:
    provider, finished = _provider()
    provider._set_tracer_configurator(
        tracer_configurator=lambda scope: _TracerConfig(is_enabled=scope.name != "off")
    )

    provider.get_tracer("off").start_span("quiet").end()
    provider.get_tracer("on").start_span("heard").end()

    assert [span.name for span in finished.get_finished_spans()] == ["heard"]


def test_the_span_carries_its_scope_and_resource() -> None:
    provider, finished = _provider()
    provider.get_tracer("lib", "2.1", "https://schema", {"team": "a"}).start_span("x").end()

    (span,) = finished.get_finished_spans()
    scope = span.instrumentation_scope
    assert (scope.name, scope.version, scope.schema_url, dict(scope.attributes)) == (
        "lib",
        "2.1",
        "https://schema",
        {"team": "a"},
    )
    assert span.resource.attributes["service.name"] == "svc"
