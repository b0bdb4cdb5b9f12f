"""shutdown() returns within its bound even when the collector never answers."""

from __future__ import annotations

import time

import pytest
import structlog
from fastapi import FastAPI

from otel_setup import setup_telemetry


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
