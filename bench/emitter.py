"""A service that only makes spans, at a set rate, through our export path.

    python -m bench.emitter --endpoint http://127.0.0.1:4317 --rate 2000 --seconds 10 \
        --run-id 3f2a… [--spans-per-trace 20]

Runs as its own process (the pipeline benchmark starts it once per step) and
prints one JSON object: spans made, the rate reached, and what the SDK's own
health metrics counted — spans dropped because the batch queue was full, and
spans the OTLP exporter sent or failed to send. The export path is the one
``setup_telemetry`` builds: batch processor of the same size, scrubbing
exporter, retries, OTLP gRPC.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

# Before the SDK is imported: the processor and exporter count into the meter below.
os.environ["OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED"] = "true"

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from otel_setup.config import Settings
from otel_setup.export import ScrubbingSpanExporter
from otel_setup.providers import EXPORT_BATCH_SIZE
from otel_setup.retry import RetryingExporter

__all__ = ["SERVICE", "emit"]

SERVICE = "bench-pipeline"
_SDK_COUNTERS = ("otel.sdk.processor.span.processed", "otel.sdk.exporter.span.exported")


def _sdk_counts(reader: InMemoryMetricReader) -> dict[str, int]:
    """Sums of the SDK's span processor and exporter counters, by error type."""
    counts: dict[str, int] = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name not in _SDK_COUNTERS:
                    continue
                for point in metric.data.data_points:
                    error = (point.attributes or {}).get("error.type")
                    key = f"{metric.name.split('.')[2]}:{error or 'ok'}"
                    counts[key] = counts.get(key, 0) + int(point.value)
    return counts


def emit(
    endpoint: str, rate: float, seconds: float, run_id: str, spans_per_trace: int
) -> dict[str, Any]:
    """Make ``rate`` spans/s for ``seconds``, in traces of ``spans_per_trace``; flush; count."""
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    provider = TracerProvider(
        resource=Resource.create({"service.name": SERVICE, "otelpipe.run_id": run_id})
    )
    defaults = Settings(service_name=SERVICE)
    exporter = RetryingExporter(
        OTLPSpanExporter(endpoint=endpoint, insecure=True, meter_provider=meter_provider),
        budget_s=defaults.export_retry_s,
    )
    provider.add_span_processor(
        BatchSpanProcessor(
            ScrubbingSpanExporter(exporter),
            max_queue_size=defaults.span_queue_size,
            max_export_batch_size=EXPORT_BATCH_SIZE,
            meter_provider=meter_provider,
        )
    )
    tracer = provider.get_tracer("bench.emitter")
    total = int(rate * seconds)
    made = 0
    started = time.monotonic()
    while made < total:
        due = min(total, int((time.monotonic() - started) * rate) + 1)
        while made < due:
            with tracer.start_as_current_span("bench.request", attributes={"bench.seq": made}):
                for child in range(min(spans_per_trace, total - made) - 1):
                    tracer.start_span("bench.step", attributes={"bench.step": child}).end()
            made += min(spans_per_trace, total - made)
        time.sleep(max(0.0, started + made / rate - time.monotonic()))
    elapsed = time.monotonic() - started
    provider.force_flush()
    provider.shutdown()
    counts = _sdk_counts(reader)

    def failed(stage: str) -> int:
        return sum(n for key, n in counts.items() if key.startswith(stage) and key != f"{stage}ok")

    return {
        "spans": made,
        "traces": -(-made // spans_per_trace),
        "seconds": round(elapsed, 2),
        "spans_per_s": round(made / elapsed, 1),
        "sdk_dropped": sum(
            n
            for key, n in counts.items()
            if key.startswith("processor:") and not key.endswith(":ok")
        ),
        "sdk_exported": counts.get("exporter:ok", 0),
        "sdk_export_failed": sum(
            n
            for key, n in counts.items()
            if key.startswith("exporter:") and not key.endswith(":ok")
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--rate", type=float, required=True, help="spans per second")
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--spans-per-trace", type=int, default=20)
    args = parser.parse_args()
    print(
        json.dumps(emit(args.endpoint, args.rate, args.seconds, args.run_id, args.spans_per_trace))
    )


if __name__ == "__main__":
    main()
