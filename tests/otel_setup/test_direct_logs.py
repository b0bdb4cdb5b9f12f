"""DirectLogger: the batch processor queues what the SDK's own emit() would make it queue."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry._logs import SeverityNumber
from opentelemetry.context import Context
from opentelemetry.sdk._logs import LoggerProvider, LogRecordLimits, ReadableLogRecord
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    InMemoryLogRecordExporter,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import set_span_in_context

from otel_setup.direct_logs import DirectLogger

# The SDK warns of each record whose attributes its limits cut.
pytestmark = pytest.mark.filterwarnings("ignore:Log record attributes were dropped")
_RESOURCE = Resource.create({"service.name": "orders"})


def _provider(limits: LogRecordLimits) -> tuple[LoggerProvider, InMemoryLogRecordExporter]:
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=_RESOURCE, log_record_limits=limits, shutdown_on_exit=False)
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
    return provider, exporter


def _seen(record: ReadableLogRecord) -> tuple[Any, ...]:
    """What an exporter reads of a record, but the time it was observed."""
    r = record.log_record
    return (
        r.timestamp,
        r.context,
        r.trace_id,
        r.span_id,
        r.trace_flags,
        r.severity_text,
        r.severity_number,
        r.body,
        dict(r.attributes or {}),
        r.event_name,
        record.dropped_attributes,
        record.resource,
        record.instrumentation_scope,
    )


_VALUES = st.one_of(
    st.text(max_size=12),
    st.integers(),
    st.booleans(),
    st.floats(allow_nan=False),
    st.none(),
    st.lists(st.integers(), max_size=2),
)


@settings(max_examples=150, deadline=None)
@given(
    attributes=st.dictionaries(st.sampled_from(["a", "b", "c", "d", ""]), _VALUES, max_size=5),
    most=st.sampled_from([None, 0, 2, 128]),
    length=st.sampled_from([None, 0, 4]),
    traced=st.booleans(),
)
def test_records_are_what_the_sdks_emit_makes_them(
    attributes: dict[str, Any], most: int | None, length: int | None, traced: bool
) -> None:
    limits = LogRecordLimits(max_log_record_attributes=most, max_attribute_length=length)
    (direct, direct_out), (sdk, sdk_out) = _provider(limits), _provider(limits)
    span = TracerProvider().get_tracer("t").start_span("request")
    context = set_span_in_context(span) if traced else Context()
    fields: dict[str, Any] = {
        "timestamp": 1_700_000_000_000_000_000,
        "context": context,
        "severity_number": SeverityNumber.WARN,
        "severity_text": "WARNING",
        "body": "stock low",
    }
    DirectLogger(direct.get_logger("app")).emit(**fields, attributes=dict(attributes))
    sdk.get_logger("app").emit(**fields, attributes=dict(attributes))
    for provider in (direct, sdk):
        provider.force_flush()
        provider.shutdown()
    assert [_seen(r) for r in direct_out.get_finished_logs()] == [
        _seen(r) for r in sdk_out.get_finished_logs()
    ]


class _CountingLogger:
    """The SDK logger, counting the records that took its emit()."""

    def __init__(self, logger: Any) -> None:
        self.logger, self.emitted = logger, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.logger, name)

    def emit(self, *record: Any, **fields: Any) -> None:
        self.emitted += 1
        self.logger.emit(*record, **fields)


def test_plain_records_skip_the_sdks_emit_and_others_take_it() -> None:
    provider, exporter = _provider(LogRecordLimits(max_attribute_length=4))
    counting = _CountingLogger(provider.get_logger("app"))
    direct = DirectLogger(counting)  # type: ignore[arg-type]
    direct.emit(body="one", attributes={"id": 7, "note": "truncated"})
    direct.emit(body="two", attributes={"tags": ["a"]})  # not plain: the SDK's way
    assert counting.emitted == 1
    provider.force_flush()
    assert [
        (r.log_record.body, dict(r.log_record.attributes)) for r in exporter.get_finished_logs()
    ] == [
        ("one", {"id": 7, "note": "trun"}),
        ("two", {"tags": ("a",)}),
    ]
    provider.shutdown()


def test_a_second_processor_gets_every_record_through_the_sdks_emit() -> None:
    provider, batched = _provider(LogRecordLimits())
    second = InMemoryLogRecordExporter()
    provider.add_log_record_processor(SimpleLogRecordProcessor(second))
    DirectLogger(provider.get_logger("app")).emit(body="order placed", attributes={"id": 7})
    provider.force_flush()
    assert [r.log_record.body for r in batched.get_finished_logs()] == ["order placed"]
    assert [r.log_record.body for r in second.get_finished_logs()] == ["order placed"]
    provider.shutdown()


def test_a_disabled_sdk_logs_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    provider, exporter = _provider(LogRecordLimits())
    DirectLogger(provider.get_logger("app")).emit(body="order placed", attributes={"id": 7})
    provider.force_flush()
    assert exporter.get_finished_logs() == ()
    provider.shutdown()
