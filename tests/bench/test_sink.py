"""The bench's OTLP sink: the real collector binary, receiving and dropping."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.trace import SpanContext

from bench.proc import cpu_seconds
from bench.sink import otlp_sink
from otel_setup.otlp_encoding import GrpcSpanExporter
from otelpipe.stack import StackSettings

pytestmark = pytest.mark.e2e


def test_the_sink_takes_what_the_exporter_sends_and_is_gone_after(tmp_path: Path) -> None:
    settings = StackSettings.from_env(
        {
            "OTELPIPE_HOME": str(tmp_path),
            "OTELPIPE_CACHE_DIR": str(StackSettings.from_env().cache_dir),
        }
    )
    spans = [ReadableSpan(f"GET /{n}", context=SpanContext(1, n + 1, False)) for n in range(500)]
    with otlp_sink(settings) as sink:
        exporter = GrpcSpanExporter(endpoint=sink.url, insecure=True, timeout=5)
        try:
            assert exporter.export(spans) is SpanExportResult.SUCCESS
        finally:
            exporter.shutdown()
        assert cpu_seconds(sink.pid) > 0
    assert not os.path.exists(f"/proc/{sink.pid}")  # stopped and reaped
    # Refused once the sink has stopped: the rounds' gateways export nowhere else.
    exporter = GrpcSpanExporter(endpoint=sink.url, insecure=True, timeout=1)
    try:
        assert exporter.export(spans[:1]) is SpanExportResult.FAILURE
    finally:
        exporter.shutdown()
