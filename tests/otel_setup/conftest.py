"""An app instrumented by ``setup_telemetry``, its spans captured in memory (after scrubbing)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_setup import Telemetry, setup_telemetry
from otel_setup.export import ScrubbingSpanExporter

#: Nothing listens there: exports fail fast, in the background, as with a dead collector.
DEAD_COLLECTOR = "http://127.0.0.1:9"


@pytest.fixture
def instrument(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., tuple[Telemetry, InMemorySpanExporter]]]:
    """``instrument(app, **options)`` → (telemetry, spans as exported)."""
    handles: list[Telemetry] = []

    def make(
        app: FastAPI | None = None, **options: object
    ) -> tuple[Telemetry, InMemorySpanExporter]:
        options = {
            "service_name": "unit",
            "otlp_endpoint": DEAD_COLLECTOR,
            "shutdown_timeout_s": 0.5,
            "system_metrics": False,
            # Freezing would keep this test process's objects for good; tested on its own.
            "gc_freeze": False,
            **options,
        }
        telemetry = setup_telemetry(app, **options)  # type: ignore[arg-type]
        spans = InMemorySpanExporter()
        telemetry.providers.tracer_provider.add_span_processor(
            SimpleSpanProcessor(ScrubbingSpanExporter(spans))
        )
        handles.append(telemetry)
        return telemetry, spans

    yield make
    for telemetry in handles:
        telemetry.shutdown()
