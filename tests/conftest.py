"""Process-wide test providers.

The OTel API lets a process set its global providers once. Tests install
in-memory ones here, before anything else can, so helpers that use the global
tracer and meter (``otel_setup.track``) are observable; ``setup_telemetry``
then keeps them global and wires its instrumentations to its own providers.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otelpipe.stack.ephemeral import BlackHole

GLOBAL_SPANS = InMemorySpanExporter()
GLOBAL_METRICS = InMemoryMetricReader()

_tracer_provider = TracerProvider()
_tracer_provider.add_span_processor(SimpleSpanProcessor(GLOBAL_SPANS))
trace.set_tracer_provider(_tracer_provider)
metrics.set_meter_provider(MeterProvider(metric_readers=[GLOBAL_METRICS]))


@pytest.fixture
def global_spans() -> InMemorySpanExporter:
    """Spans of the global tracer provider, emptied before the test."""
    GLOBAL_SPANS.clear()
    return GLOBAL_SPANS


@pytest.fixture
def global_metrics() -> InMemoryMetricReader:
    return GLOBAL_METRICS


@pytest.fixture
def black_hole() -> Iterator[str]:
    """URL of an endpoint that accepts connections and never answers."""
    with BlackHole() as hole:
        yield hole.url
