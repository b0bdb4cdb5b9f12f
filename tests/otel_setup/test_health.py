"""The health counts are kept in the process: true even when the collector is unreachable."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest
import structlog
from fastapi import FastAPI
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult

from otel_setup import setup_telemetry
from otel_setup.health import ExportCounts, Tally, TallyingMeterProvider, export_counts
from tests.support import counts_by_error_type


class _Stuck:
    """An exporter that never returns until released: a black-holing collector."""

    def __init__(self) -> None:
        self.exporting = threading.Event()
        self.release = threading.Event()

    def export(self, batch: Sequence[object]) -> SpanExportResult:
        self.exporting.set()
        self.release.wait(10)
        return SpanExportResult.FAILURE

    def shutdown(self) -> None:
        self.release.set()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


@pytest.mark.parametrize("forward", [True, False])
def test_drops_and_queue_length_are_tallied_and_forwarded(
    forward: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED", "true")
    reader = InMemoryMetricReader()
    health = TallyingMeterProvider(Tally(), MeterProvider([reader]) if forward else None)
    stuck = _Stuck()
    processor = BatchSpanProcessor(
        stuck, max_queue_size=10, max_export_batch_size=4, meter_provider=health
    )
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("test")
    try:
        for _ in range(4):  # a full batch wakes the worker, which takes it into the stuck export
            tracer.start_span("first").end()
        assert stuck.exporting.wait(5)
        for _ in range(30):
            tracer.start_span("more").end()
        counts = export_counts(health.tally, "traces")
        # 34 spans: 4 in the stuck export, 10 queued, 20 dropped (the oldest first).
        assert health.tally.observe("otel.sdk.processor.span.queue.size") == 10
        assert (counts.dropped_queue_full, counts.exported, counts.failed) == (20, 0, 0)
        if forward:
            assert counts_by_error_type(reader, "otel.sdk.processor.span.processed") == {
                None: 4,
                "queue_full": 20,
            }
    finally:
        stuck.release.set()
        processor.shutdown()


def test_shutdown_logs_what_an_unreachable_collector_cost(
    black_hole: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Spans made = dropped (queue full) + unsent, in one log line at shutdown."""
    telemetry = setup_telemetry(
        FastAPI(),
        service_name="health-test",
        otlp_endpoint=black_hole,
        shutdown_timeout_s=0.5,
        span_queue_size=100,
        log_queue_size=100,
        system_metrics=False,
    )
    tracer = telemetry.providers.tracer_provider.get_tracer("test")
    for i in range(1_000):
        with tracer.start_as_current_span("work"):
            if i % 10 == 0:
                structlog.get_logger("test").info("working", i=i)
    assert telemetry.shutdown() is False
    counts = telemetry.export_counts()
    spans, logs = counts["spans"], counts["log_records"]
    assert spans.exported == logs.exported == 0
    assert spans.dropped_queue_full + spans.unsent + spans.failed == 1_000
    assert logs.dropped_queue_full + logs.unsent + logs.failed == 100
    # The queue, and at most one batch in export: unsent at the deadline, then dropped
    # (failed, error.type shutdown) as the stopped export threads drain their queues.
    assert 100 <= spans.unsent + spans.failed <= 100 + 100
    events = [r.msg for r in caplog.records if isinstance(r.msg, dict)]
    (lost,) = [event for event in events if event["event"] == "telemetry lost"]
    assert lost["spans_dropped_queue_full"] == spans.dropped_queue_full
    assert lost["log_records_unsent"] + lost["log_records_failed"] == logs.unsent + logs.failed


def test_lost_is_everything_not_exported() -> None:
    assert ExportCounts(exported=5, failed=0, dropped_queue_full=0, unsent=0).lost == 0
    assert ExportCounts(exported=5, failed=1, dropped_queue_full=2, unsent=3).lost == 6
