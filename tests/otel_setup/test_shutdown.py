"""shutdown() returns within its bound even when the collector never answers."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import structlog
from fastapi import FastAPI

from otel_setup import setup_telemetry


@pytest.fixture
def black_hole() -> Iterator[str]:
    """A TCP endpoint that accepts connections and never sends a byte."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                accepted.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()
    for conn in accepted:
        conn.close()


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
