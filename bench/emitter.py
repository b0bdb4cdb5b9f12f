"""A service that only makes spans, at a set rate, through our export path.

    python -m bench.emitter --endpoint http://127.0.0.1:4317 --rate 2000 --seconds 10 \
        --run-id 3f2a… [--spans-per-trace 20]

Runs as its own process (the pipeline benchmark starts it once per step) and
prints one JSON object: spans made, the rate reached, and what the SDK's own
health counts say — spans dropped because the batch queue was full, spans
sent, spans whose export failed (each batch counted once, by its final
outcome), spans still unsent at the end. The export path is the one
``setup_telemetry`` builds (:func:`otel_setup.providers.build_span_processors`):
the off-thread queue, batch processor of the same size, scrubbing exporter,
retries, OTLP gRPC.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from otel_setup.config import Settings
from otel_setup.health import Tally, TallyingMeterProvider, export_counts
from otel_setup.providers import build_exporter, build_span_processors

__all__ = ["SERVICE", "emit"]

SERVICE = "bench-pipeline"


def emit(
    endpoint: str, rate: float, seconds: float, run_id: str, spans_per_trace: int
) -> dict[str, Any]:
    """Make ``rate`` spans/s for ``seconds`` (fewer if the rate is out of reach), in traces
    of ``spans_per_trace``; flush; count."""
    provider = TracerProvider(
        resource=Resource.create({"service.name": SERVICE, "otelpipe.run_id": run_id})
    )
    # The counts stay in the process (nothing forwarded): read back below.
    health = TallyingMeterProvider(Tally(), None)
    settings = Settings(service_name=SERVICE, otlp_endpoint=endpoint)
    exporter = build_exporter(settings, "traces", health)
    provider.add_span_processor(build_span_processors(settings, exporter, health))
    tracer = provider.get_tracer("bench.emitter")
    total = int(rate * seconds)
    made = 0
    started = time.monotonic()
    end = started + seconds
    while made < total and time.monotonic() < end:
        due = min(total, int((time.monotonic() - started) * rate) + 1)
        # Behind schedule (the rate is out of reach), catch up only until the end.
        while made < due and time.monotonic() < end:
            with tracer.start_as_current_span("bench.request", attributes={"bench.seq": made}):
                for child in range(min(spans_per_trace, total - made) - 1):
                    tracer.start_span("bench.step", attributes={"bench.step": child}).end()
            made += min(spans_per_trace, total - made)
        time.sleep(max(0.0, min(end, started + made / rate) - time.monotonic()))
    elapsed = time.monotonic() - started
    provider.force_flush()
    provider.shutdown()
    counts = export_counts(health.tally, "traces")
    return {
        "spans": made,
        "traces": -(-made // spans_per_trace),
        "seconds": round(elapsed, 2),
        "spans_per_s": round(made / elapsed, 1),
        "sdk_dropped": counts.dropped_queue_full,
        "sdk_exported": counts.exported,
        "sdk_export_failed": counts.failed,
        "sdk_unsent": counts.unsent,
    }


def load_arguments(description: str) -> argparse.ArgumentParser:
    """The options every span-load tool here takes: where, how fast, how long, which run."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--rate", type=float, required=True, help="spans per second")
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--run-id", required=True)
    return parser


def main() -> None:
    parser = load_arguments(__doc__.splitlines()[0])
    parser.add_argument("--spans-per-trace", type=int, default=20)
    args = parser.parse_args()
    print(
        json.dumps(emit(args.endpoint, args.rate, args.seconds, args.run_id, args.spans_per_trace))
    )


if __name__ == "__main__":
    main()
