"""How the gateway is instrumented: by ``otel_setup``, or — as the benchmark's baselines —
not at all, or by stock OpenTelemetry.

``OTELPIPE_BENCH_MODE`` chooses, so the three variants serve the very same routes:

* ``ours`` (default): :func:`otel_setup.setup_telemetry` — traces, metrics, logs, the
  grading and slow-query processors, 100% sampling, OTLP to the collector.
* ``stock``: what a user gets from the contrib packages alone, with their default
  options — ``FastAPIInstrumentor.instrument_app(app)``, the Redis and SQLAlchemy
  instrumentors, a ``TracerProvider`` with a ``BatchSpanProcessor`` and a
  ``MeterProvider`` (the pair ``opentelemetry-instrument`` sets up), OTLP from the
  standard ``OTEL_*`` variables. Nothing of ours: the ``track`` helpers stay no-ops.
* ``bare``: no instrumentation at all.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from fastapi import FastAPI

from otel_setup import setup_telemetry

__all__ = ["MODES", "instrument"]

MODES = ("bare", "stock", "ours")


def _bare(_app: FastAPI, _service: str) -> Callable[[], object]:
    return lambda: None


def _stock(app: FastAPI, _service: str) -> Callable[[], object]:
    # Imported here: the default mode must not pay for (or depend on) them.
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # Resource.create() reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES itself.
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    meter_provider = MeterProvider(
        metric_readers=[PeriodicExportingMetricReader(OTLPMetricExporter())]
    )
    providers = {"tracer_provider": tracer_provider, "meter_provider": meter_provider}
    FastAPIInstrumentor.instrument_app(app, **providers)
    RedisInstrumentor().instrument(tracer_provider=tracer_provider)
    SQLAlchemyInstrumentor().instrument(**providers)

    def shutdown() -> None:
        tracer_provider.shutdown()
        meter_provider.shutdown()

    return shutdown


def _ours(app: FastAPI, service: str) -> Callable[[], object]:
    return setup_telemetry(app, service_name=service).shutdown


_MODES: dict[str, Callable[[FastAPI, str], Callable[[], object]]] = {
    "bare": _bare,
    "stock": _stock,
    "ours": _ours,
}


def instrument(app: FastAPI, service: str, mode: str | None = None) -> Callable[[], object]:
    """Instrument ``app`` as ``mode`` (default ``$OTELPIPE_BENCH_MODE``, else ``ours``).

    Returns:
        The function that flushes and stops the telemetry, for the app's shutdown.

    Raises:
        ValueError: an unknown mode.
    """
    mode = mode or os.environ.get("OTELPIPE_BENCH_MODE") or "ours"
    if mode not in _MODES:
        raise ValueError(f"OTELPIPE_BENCH_MODE={mode!r}: expected one of {', '.join(MODES)}")
    return _MODES[mode](app, service)
