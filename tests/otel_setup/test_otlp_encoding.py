"""Our OTLP encoders write what the SDK's encoders build, for any span and any log record."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs as sdk_encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as sdk_encode
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2_grpc
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk._logs import LogRecordLimits, ReadableLogRecord, ReadWriteLogRecord
from opentelemetry.sdk._logs.export import LogRecordExportResult
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    set_span_in_context,
)
from opentelemetry.trace.span import TraceState

from otel_setup.otlp_encoding import (
    GrpcLogExporter,
    GrpcSpanExporter,
    HttpLogExporter,
    HttpSpanExporter,
    encode_logs,
    encode_spans,
)
from tests.support import http_posts


def _decodes_to(encoded: bytes, expected: Any) -> None:
    """``encoded`` parses into the SDK's message ``expected``, field for field."""
    ours = type(expected).FromString(encoded)
    # Bytes, not messages: a NaN attribute is equal to itself only as bytes.
    assert ours.SerializeToString(deterministic=True) == expected.SerializeToString(
        deterministic=True
    ), f"\nours: {ours}\nsdk:  {expected}"


def _same_as_sdk(spans: list[ReadableSpan]) -> None:
    _decodes_to(encode_spans(spans), sdk_encode(spans))


def _same_logs_as_sdk(records: list[ReadableLogRecord]) -> None:
    _decodes_to(encode_logs(records), sdk_encode_logs(records))


_ids = st.integers(1, 2**64 - 1)
_text = st.text(max_size=80)
_primitives = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(),
    _text,
    st.binary(max_size=20),
)
_values = st.recursive(
    _primitives,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=8,
)
_attributes = st.dictionaries(st.text(min_size=1, max_size=30), _values, max_size=6)
_contexts = st.builds(
    SpanContext,
    trace_id=st.integers(1, 2**128 - 1),
    span_id=_ids,
    is_remote=st.booleans(),
    trace_flags=st.just(TraceFlags(TraceFlags.SAMPLED)),
    trace_state=st.sampled_from(
        [None, TraceState(), TraceState([("vendor", "abc")]), TraceState([("a", "1"), ("b", "2")])]
    ),
)
_resources = st.builds(
    Resource,
    st.dictionaries(st.text(min_size=1, max_size=20), _primitives, max_size=4),
    st.sampled_from([None, "", "https://opentelemetry.io/schemas/1.26.0"]),
)
_scopes = st.one_of(
    st.none(),
    st.builds(
        InstrumentationScope,
        name=st.sampled_from(["otel_setup.http.server", "app", ""]),
        version=st.sampled_from([None, "", "1.2.3"]),
        schema_url=st.sampled_from([None, "", "https://opentelemetry.io/schemas/1.26.0"]),
        attributes=st.one_of(st.none(), _attributes),
    ),
)
_spans = st.builds(
    ReadableSpan,
    name=_text,
    context=_contexts,
    parent=st.one_of(st.none(), _contexts),
    resource=_resources,
    attributes=_attributes,
    events=st.lists(
        st.builds(Event, _text, _attributes, st.one_of(st.none(), st.integers(1, 2**63))),
        max_size=3,
    ),
    links=st.lists(st.builds(Link, _contexts, st.one_of(st.none(), _attributes)), max_size=3),
    kind=st.sampled_from(SpanKind),
    status=st.builds(Status, st.sampled_from(StatusCode), st.one_of(st.none(), _text)),
    start_time=st.integers(0, 2**64 - 1),
    end_time=st.integers(0, 2**64 - 1),
    instrumentation_scope=_scopes,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_spans, min_size=1, max_size=5))
def test_any_spans_encode_as_the_sdk_encodes_them(spans: list[ReadableSpan]) -> None:
    _same_as_sdk(spans)


def _log_record(
    *,
    span: SpanContext | None,
    resource: Resource,
    scope: InstrumentationScope | None,
    max_attributes: int,
    **fields: Any,
) -> ReadableLogRecord:
    """A record as the SDK's logger hands it to its processors, then to the exporter."""
    context = set_span_in_context(NonRecordingSpan(span)) if span else Context()
    with warnings.catch_warnings():  # the SDK's own, for attributes over the limit
        warnings.simplefilter("ignore")
        written = ReadWriteLogRecord(
            LogRecord(context=context, **fields),
            resource,
            scope,
            LogRecordLimits(max_attributes=max_attributes),
        )
    return ReadableLogRecord(
        written.log_record, written.resource, written.instrumentation_scope, written.limits
    )


_timestamps = st.one_of(st.none(), st.integers(0, 2**64 - 1))
_log_records = st.builds(
    _log_record,
    span=st.one_of(
        st.none(),
        st.builds(
            SpanContext,
            trace_id=st.integers(1, 2**128 - 1),
            span_id=_ids,
            is_remote=st.booleans(),
            trace_flags=st.sampled_from([TraceFlags(0), TraceFlags(TraceFlags.SAMPLED)]),
        ),
    ),
    resource=_resources,
    scope=_scopes,
    max_attributes=st.integers(0, 8),
    timestamp=_timestamps,
    observed_timestamp=_timestamps,
    severity_text=st.one_of(st.none(), st.sampled_from(["", "INFO", "ERROR"])),
    severity_number=st.one_of(st.none(), st.sampled_from(SeverityNumber)),
    body=_values,
    attributes=st.one_of(st.none(), _attributes),
    event_name=st.one_of(st.none(), st.sampled_from(["", "order.placed"])),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_log_records, min_size=1, max_size=5))
def test_any_log_records_encode_as_the_sdk_encodes_them(records: list[ReadableLogRecord]) -> None:
    _same_logs_as_sdk(records)


def test_spans_of_a_tracer_provider_with_their_dropped_counts_and_grouping() -> None:
    finished = InMemorySpanExporter()
    limits = SpanLimits(max_span_attributes=2, max_events=1, max_links=1)
    provider = TracerProvider(resource=Resource({"service.name": "orders"}), span_limits=limits)
    provider.add_span_processor(SimpleSpanProcessor(finished))
    server, client = provider.get_tracer("server", "1.0"), provider.get_tracer("client")
    remote = SpanContext(7, 8, is_remote=True)
    with server.start_as_current_span(
        "GET /items/{id}",
        kind=SpanKind.SERVER,
        attributes={"http.request.method": "GET", "url.path": "/items/1", "extra": 1},
        links=[Link(remote, {"k": "v"}), Link(remote)],
    ) as span:
        span.add_event("first", {"n": 1})
        span.add_event("second")
        try:
            raise ValueError("boom")
        except ValueError as exc:
            span.record_exception(exc)
        span.set_status(Status(StatusCode.ERROR, "boom"))
        client.start_span("SELECT items", kind=SpanKind.CLIENT).end()
    server.start_span("GET /health").end()
    spans = list(finished.get_finished_spans())
    assert spans[1].dropped_attributes and spans[1].dropped_events and spans[1].dropped_links
    _same_as_sdk(spans)
    request = ExportTraceServiceRequest.FromString(encode_spans(spans))
    (resource_spans,) = request.resource_spans
    assert [[s.name for s in scope.spans] for scope in resource_spans.scope_spans] == [
        ["SELECT items"],
        ["GET /items/{id}", "GET /health"],
    ]


def test_an_attribute_that_cannot_be_encoded_is_left_out_and_logged_like_the_sdk(
    caplog: Any,
) -> None:
    span = ReadableSpan(
        "job",
        context=SpanContext(1, 2, is_remote=False),
        attributes={"fine": "yes", "huge": 2**70, "odd": [1, object()], "after": 3},
    )
    with caplog.at_level(logging.ERROR, logger="otel_setup.otlp_encoding"):
        _same_as_sdk([span])
    (encoded,) = ExportTraceServiceRequest.FromString(encode_spans([span])).resource_spans
    assert [a.key for a in encoded.scope_spans[0].spans[0].attributes] == ["fine", "after"]
    assert "huge" in caplog.text and "odd" in caplog.text


def test_repeated_short_values_come_from_the_cache_and_stay_correct() -> None:
    # The pair cache is keyed by field, key and value: the same pair under an
    # event, a link or the span must still land in its own field.
    context = SpanContext(3, 4, is_remote=False)
    same = {"http.route": "/health"}
    span = ReadableSpan(
        "GET /health",
        context=context,
        attributes=same,
        events=[Event("e", same)],
        links=[Link(context, same)],
        resource=Resource(same),
        instrumentation_scope=InstrumentationScope("s", attributes=same),
    )
    for _ in range(3):
        _same_as_sdk([span, span])


def test_equal_resources_are_one_group_and_cached_integers_keep_their_type() -> None:
    # Two equal resources are one group, as in the SDK's encoder. 1, True and
    # 1.0 are equal keys in a dict; only the int's pair is cached.
    spans = [
        ReadableSpan(
            "GET /health",
            context=SpanContext(3, n, is_remote=False),
            attributes={"http.response.status_code": value},
            resource=Resource({"service.name": "gateway"}),
        )
        for n, value in enumerate([1, True, 1.0, 1, True, 200, 200], start=1)
    ]
    for _ in range(2):
        _same_as_sdk(spans)
    (resource_spans,) = ExportTraceServiceRequest.FromString(encode_spans(spans)).resource_spans
    values = [s.attributes[0].value for s in resource_spans.scope_spans[0].spans]
    assert [v.WhichOneof("value") for v in values] == [
        "int_value", "bool_value", "double_value", "int_value", "bool_value", "int_value",
        "int_value",
    ]  # fmt: skip


class _Collector(
    trace_service_pb2_grpc.TraceServiceServicer, logs_service_pb2_grpc.LogsServiceServicer
):
    """A gRPC trace and logs service that keeps the requests it receives."""

    def __init__(self) -> None:
        self.received: list[ExportTraceServiceRequest | ExportLogsServiceRequest] = []

    def Export(self, request: Any, context: Any) -> Any:
        self.received.append(request)
        if isinstance(request, ExportLogsServiceRequest):
            return ExportLogsServiceResponse()
        return ExportTraceServiceResponse()


@pytest.fixture
def collector() -> Iterator[tuple[_Collector, int]]:
    service = _Collector()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(service, server)
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(service, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield service, port
    server.stop(grace=None)


def _logs(n: int) -> list[ReadableLogRecord]:
    return [
        _log_record(
            span=SpanContext(5, 6, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED)),
            resource=Resource({"service.name": "gateway"}),
            scope=InstrumentationScope("otel_setup.logging"),
            max_attributes=128,
            timestamp=1_700_000_000_000_000_000 + i,
            severity_text="INFO",
            severity_number=SeverityNumber.INFO,
            body="item served",
            attributes={"item_id": i, "request_id": f"r{i}"},
        )
        for i in range(n)
    ]


def test_the_grpc_exporters_send_the_encoded_requests(collector: tuple[_Collector, int]) -> None:
    service, port = collector
    spans = [
        ReadableSpan(
            "GET /",
            context=SpanContext(5, 6, is_remote=False),
            attributes={"http.route": "/", "http.response.status_code": 200},
            resource=Resource({"service.name": "gateway"}),
        )
    ]
    records = _logs(2)
    span_exporter = GrpcSpanExporter(endpoint=f"http://127.0.0.1:{port}", insecure=True)
    log_exporter = GrpcLogExporter(endpoint=f"http://127.0.0.1:{port}", insecure=True)
    try:
        assert span_exporter.export(spans) is SpanExportResult.SUCCESS
        assert log_exporter.export(records) is LogRecordExportResult.SUCCESS
    finally:
        span_exporter.shutdown()
        log_exporter.shutdown()
    assert service.received == [sdk_encode(spans), sdk_encode_logs(records)]


@pytest.fixture
def http_collector() -> Iterator[tuple[list[tuple[str, bytes]], str]]:
    with http_posts() as (posts, base):
        yield posts, f"{base}/v1/traces"


def test_the_http_log_exporter_posts_the_encoded_request() -> None:
    with http_posts() as (posts, base):
        records = _logs(3)
        exporter = HttpLogExporter(endpoint=f"{base}/v1/logs")
        assert exporter.export(records) is LogRecordExportResult.SUCCESS
        ((path, body),) = posts
        assert path == "/v1/logs"
        assert ExportLogsServiceRequest.FromString(body) == sdk_encode_logs(records)
        # A body the encoder cannot write fails its batch, logged, and nothing is posted.
        bad = _logs(1)
        bad[0].log_record.body = object()
        assert exporter.export(bad) is LogRecordExportResult.FAILURE
        assert len(posts) == 1


def test_the_http_exporter_posts_the_encoded_request(
    http_collector: tuple[list[tuple[str, bytes]], str],
) -> None:
    posts, url = http_collector
    spans = [
        ReadableSpan(
            f"GET /items/{n}",
            context=SpanContext(5, n, is_remote=False),
            attributes={"http.route": "/items/{id}", "request.id": f"r{n}"},
            resource=Resource({"service.name": "gateway"}),
        )
        for n in (1, 2)
    ]
    exporter = HttpSpanExporter(endpoint=url)
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    ((path, body),) = posts
    assert path == "/v1/traces"
    assert ExportTraceServiceRequest.FromString(body) == sdk_encode(spans)
    # The SDK's request-size limit still holds: a batch over it is dropped, not sent.
    small = HttpSpanExporter(endpoint=url, max_request_size=len(body) - 1)
    assert small.export(spans) is SpanExportResult.FAILURE
    exporter.shutdown()
    assert exporter.export(spans) is SpanExportResult.FAILURE
    assert len(posts) == 1
