"""shutdown() returns within its bound even when the collector never answers, and leaves
no export thread retrying behind it."""

from __future__ import annotations

import threading
import time

import pytest
import structlog
from fastapi import FastAPI

from otel_setup import setup_telemetry
from tests.otel_setup.conftest import DEAD_COLLECTOR

#: The threads that export spans and log records (the SDK's batch processors, our hand-off).
EXPORT_THREADS = {
    "OtelBatchSpanRecordProcessor",
    "OtelBatchLogRecordProcessor",
    "otelpipe-off-thread-spans",
}


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_shutdown_is_bounded_with_a_black_hole_collector(black_hole: str, protocol: str) -> None:
    telemetry = setup_telemetry(
        FastAPI(),
        service_name="shutdown-test",
        otlp_endpoint=black_hole,
        otlp_protocol=protocol,
        shutdown_timeout_s=1.0,
    )
    tracer = telemetry.providers.tracer_provider.get_tracer("test")
    for _ in range(100):
        with tracer.start_as_current_span("work"):
            structlog.get_logger("test").info("working")
    started = time.monotonic()
    flushed = telemetry.shutdown()
    elapsed = time.monotonic() - started
    assert flushed is False, "nothing can have been flushed to a black hole"
    assert elapsed < 3.0, f"shutdown took {elapsed:.1f}s with a 1s bound"
    assert telemetry.shutdown() is True, "a second shutdown is a no-op"


@pytest.mark.parametrize("collector", ["dead", "black hole"])
def test_export_threads_end_when_shutdown_gives_up(black_hole: str, collector: str) -> None:
    """Past its deadline shutdown stops span and log export: nothing retries for the
    10 minutes of ``export_retry_s`` in a process that lives on."""
    before = set(threading.enumerate())
    telemetry = setup_telemetry(
        service_name="shutdown-test",
        otlp_endpoint=DEAD_COLLECTOR if collector == "dead" else black_hole,
        export_retry_s=600,
        shutdown_timeout_s=0.5,
        system_metrics=False,
        gc_freeze=False,
    )
    started = {t for t in set(threading.enumerate()) - before if t.name in EXPORT_THREADS}
    assert {t.name for t in started} == EXPORT_THREADS
    tracer = telemetry.providers.tracer_provider.get_tracer("test")
    for _ in range(100):
        with tracer.start_as_current_span("work"):
            structlog.get_logger("test").info("working")
    assert telemetry.shutdown() is False, "a dead collector takes nothing"
    for thread in started:
        thread.join(timeout=5)  # a bound for a slow machine; they end at once
    assert [t.name for t in started if t.is_alive()] == []
    counts = telemetry.export_counts()
    assert counts["spans"].exported == counts["log_records"].exported == 0
    assert counts["spans"].unsent == counts["log_records"].unsent == 0, "all counted"
