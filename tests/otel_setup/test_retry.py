"""A failed export batch is offered again until the collector is back, within a budget."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from opentelemetry.sdk._logs.export import LogRecordExportResult
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export import SpanExportResult

from otel_setup.health import ExportOutcomes
from otel_setup.retry import RetryingExporter
from tests.support import counts_by_error_type

SUCCESS, FAILURE = SpanExportResult.SUCCESS, SpanExportResult.FAILURE


class _Collector:
    """Fails the first ``down_for`` exports, then accepts; remembers what it received."""

    def __init__(self, down_for: int) -> None:
        self.down_for = down_for
        self.attempts = 0
        self.received: list[object] = []
        self.shutdowns = 0

    def export(self, batch: Sequence[object]) -> SpanExportResult:
        self.attempts += 1
        if self.attempts <= self.down_for:
            return FAILURE
        self.received.extend(batch)
        return SUCCESS

    def shutdown(self) -> None:
        self.shutdowns += 1

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def test_a_batch_survives_an_outage_shorter_than_the_budget() -> None:
    collector = _Collector(down_for=4)
    exporter = RetryingExporter(collector, failure=FAILURE, budget_s=5, first_backoff_s=0.01)
    assert exporter.export(["a", "b"]) == SUCCESS
    assert collector.received == ["a", "b"] and collector.attempts == 5


def test_the_batch_is_given_up_once_the_budget_is_spent() -> None:
    collector = _Collector(down_for=1_000)
    exporter = RetryingExporter(
        collector, failure=FAILURE, budget_s=0.2, first_backoff_s=0.01, max_backoff_s=0.02
    )
    started = time.monotonic()
    assert exporter.export(["a"]) == FAILURE
    assert time.monotonic() - started < 2
    assert collector.received == [] and collector.attempts > 3


def test_shutdown_interrupts_a_retrying_export_at_once() -> None:
    collector = _Collector(down_for=1_000)
    exporter = RetryingExporter(collector, failure=FAILURE, budget_s=600, first_backoff_s=5)
    results: list[SpanExportResult] = []
    worker = threading.Thread(target=lambda: results.append(exporter.export(["a"])))
    worker.start()
    time.sleep(0.1)  # the worker is now waiting out its first backoff
    started = time.monotonic()
    exporter.shutdown()
    worker.join(2)
    assert results == [FAILURE] and time.monotonic() - started < 1
    assert collector.shutdowns == 1


def test_a_zero_budget_tries_exactly_once() -> None:
    collector = _Collector(down_for=1)
    assert RetryingExporter(collector, failure=FAILURE, budget_s=0).export(["a"]) == FAILURE
    assert collector.attempts == 1


def test_a_log_exporters_success_counts_as_success() -> None:
    """Log exporters answer with an enum of their own; one success is one export."""

    class _Logs(_Collector):
        def export(self, batch: Sequence[object]) -> LogRecordExportResult:  # type: ignore[override]
            self.attempts += 1
            return LogRecordExportResult.SUCCESS

    logs = _Logs(down_for=0)
    assert (
        RetryingExporter(logs, failure=LogRecordExportResult.FAILURE, budget_s=5).export(["a"])
        == LogRecordExportResult.SUCCESS
    )
    assert logs.attempts == 1


def _outcomes() -> tuple[ExportOutcomes, InMemoryMetricReader]:
    reader = InMemoryMetricReader()
    return ExportOutcomes(MeterProvider([reader]), "traces", "test_span_exporter"), reader


def test_a_batch_retried_through_an_outage_counts_once_as_exported() -> None:
    """Counted per attempt, a 4-attempt outage would report 8 spans failed and 2 sent."""
    outcomes, reader = _outcomes()
    exporter = RetryingExporter(
        _Collector(down_for=4), failure=FAILURE, budget_s=5, first_backoff_s=0.01, outcomes=outcomes
    )
    assert exporter.export(["a", "b"]) == SUCCESS
    assert counts_by_error_type(reader, "otel.sdk.exporter.span.exported") == {None: 2}


def test_a_batch_given_up_counts_once_as_failed() -> None:
    outcomes, reader = _outcomes()
    exporter = RetryingExporter(
        _Collector(down_for=1_000),
        failure=FAILURE,
        budget_s=0.1,
        first_backoff_s=0.01,
        outcomes=outcomes,
    )
    assert exporter.export(["a", "b", "c"]) == FAILURE
    assert counts_by_error_type(reader, "otel.sdk.exporter.span.exported") == {"export_failed": 3}


def test_a_batch_abandoned_at_shutdown_counts_as_shutdown() -> None:
    outcomes, reader = _outcomes()
    exporter = RetryingExporter(
        _Collector(down_for=1_000),
        failure=FAILURE,
        budget_s=600,
        first_backoff_s=5,
        outcomes=outcomes,
    )
    worker = threading.Thread(target=lambda: exporter.export(["a"]))
    worker.start()
    time.sleep(0.1)
    exporter.shutdown()
    worker.join(2)
    assert counts_by_error_type(reader, "otel.sdk.exporter.span.exported") == {"shutdown": 1}


def test_after_shutdown_nothing_is_tried_and_everything_counted() -> None:
    """A batch worker draining its queue after shutdown drops each batch at once."""
    outcomes, reader = _outcomes()
    collector = _Collector(down_for=1_000)
    exporter = RetryingExporter(collector, failure=FAILURE, budget_s=600, outcomes=outcomes)
    exporter.shutdown()
    exporter.shutdown()
    assert exporter.export(["a", "b"]) == FAILURE
    assert collector.attempts == 0
    assert collector.shutdowns == 1, "the wrapped exporter is shut down once"
    assert counts_by_error_type(reader, "otel.sdk.exporter.span.exported") == {"shutdown": 2}
