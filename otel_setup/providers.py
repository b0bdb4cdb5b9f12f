"""Tracer, meter and logger providers sharing one resource, exporting over OTLP.

Every exporter sits behind the SDK's bounded batch processors/readers, so the
request path only appends to an in-memory queue; export runs on SDK threads.
The SDK's own health metrics (``otel.sdk.processor.*.processed`` with
``error.type="queue_full"``, ``otel.sdk.exporter.*.exported`` with the
export error) are switched on by handing it the meter provider: dropped
telemetry is counted, not logged per item.
"""

from __future__ import annotations

import contextlib
import os
import platform
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk._logs import LoggerProvider, LogRecordLimits
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import (
    DropAggregation,
    ExplicitBucketHistogramAggregation,
    View,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from otel_setup.config import Settings
from otel_setup.export import ScrubbingMetricExporter, ScrubbingSpanExporter
from otel_setup.retry import RetryingExporter
from processors.scrub import scrub_attributes

__all__ = ["DURATION_BUCKETS_S", "Providers", "build_providers", "build_resource"]

#: Items per export; the bounded queues themselves (``span_queue_size``,
#: ``log_queue_size``) drop and count new items when full instead of blocking.
EXPORT_BATCH_SIZE = 512

#: Latency buckets in seconds, dense where the SLO thresholds of the
#: reference documents sit (25/50/75/100/200/500 ms, 1/2/5 s).
DURATION_BUCKETS_S = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.2,
    0.3,
    0.5,
    0.75,
    1.0,
    2.0,
    5.0,
    10.0,
)

#: Metric views: fixed buckets, and only low-cardinality attributes kept on the
#: HTTP duration histograms (no server.address, url.scheme, protocol version);
#: body-size histograms dropped — nothing reads them, and each is one more
#: measurement per request.
_VIEWS = (
    View(
        instrument_name="http.server.request.duration",
        attribute_keys={
            "http.request.method",
            "http.route",
            "http.response.status_code",
            "error.type",
        },
        aggregation=ExplicitBucketHistogramAggregation(DURATION_BUCKETS_S),
    ),
    View(
        instrument_name="http.client.request.duration",
        attribute_keys={
            "http.request.method",
            "server.address",
            "peer.service",
            "http.response.status_code",
            "error.type",
        },
        aggregation=ExplicitBucketHistogramAggregation(DURATION_BUCKETS_S),
    ),
    View(instrument_name="http.server.active_requests", attribute_keys={"http.request.method"}),
    View(instrument_name="http.*.body.size", aggregation=DropAggregation()),
)


def build_resource(settings: Settings) -> Resource:
    """``service.*``, ``deployment.environment.name``, host and process attributes.

    Scrubbed like span attributes, once: the resource goes out with every span,
    metric and log record (Jaeger's process tags, a label on every Prometheus
    series), so ``service.owner=ann@example.com`` there would reach every backend.
    """
    attributes: dict[str, str | int] = {
        "service.name": settings.service_name,
        "deployment.environment.name": settings.environment,
        "host.name": socket.gethostname(),
        "process.pid": os.getpid(),
        "process.runtime.name": platform.python_implementation().lower(),
        "process.runtime.version": platform.python_version(),
    }
    if settings.service_version:
        attributes["service.version"] = settings.service_version
    attributes.update(settings.resource_attributes)
    # Resource.create also reads OTEL_RESOURCE_ATTRIBUTES itself: scrub what it made.
    resource = Resource.create(attributes)
    scrubbed = scrub_attributes(resource.attributes)
    return resource if scrubbed is None else Resource(scrubbed, resource.schema_url)


def _otlp_exporter_classes(protocol: str) -> dict[str, type]:
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    else:
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    return {"traces": OTLPSpanExporter, "metrics": OTLPMetricExporter, "logs": OTLPLogExporter}


def _otlp_exporter(settings: Settings, signal: str, **options: Any) -> Any:
    """The OTLP exporter of ``signal`` (traces, metrics, logs) for the configured protocol."""
    exporter_class = _otlp_exporter_classes(settings.otlp_protocol)[signal]
    base, headers = settings.otlp_endpoint, dict(settings.otlp_headers)
    if settings.otlp_protocol == "grpc":
        insecure = base.startswith("http://")
        return exporter_class(endpoint=base, insecure=insecure, headers=headers, **options)
    return exporter_class(endpoint=f"{base}/v1/{signal}", headers=headers, **options)


@contextlib.contextmanager
def _sdk_health_metrics() -> Iterator[None]:
    """Switch the SDK's own health metrics on for what is built inside the block.

    The SDK reads ``OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED`` when each
    component is constructed. We want it for the batch processors and
    exporters (dropped and failed telemetry, counted per batch) but not for
    tracers, which would count every span on the request thread. A value the
    user set is left alone.
    """
    variable = "OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED"
    if variable in os.environ:
        yield
        return
    os.environ[variable] = "true"
    try:
        yield
    finally:
        del os.environ[variable]


@dataclass(frozen=True)
class Providers:
    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    logger_provider: LoggerProvider


def build_providers(settings: Settings) -> Providers:
    """Create the three providers with OTLP exporters behind bounded batch queues."""
    resource = build_resource(settings)
    reader = PeriodicExportingMetricReader(
        ScrubbingMetricExporter(_otlp_exporter(settings, "metrics")),
        export_interval_millis=settings.metric_export_interval_ms,
    )
    # shutdown_on_exit=False: Telemetry.shutdown() does it, bounded in time, once.
    meter_provider = MeterProvider(
        resource=resource, metric_readers=[reader], views=_VIEWS, shutdown_on_exit=False
    )
    with _sdk_health_metrics():
        # The trace and log exporters report their own health through the meter provider.
        span_exporter = RetryingExporter(
            _otlp_exporter(settings, "traces", meter_provider=meter_provider),
            budget_s=settings.export_retry_s,
        )
        log_exporter = RetryingExporter(
            _otlp_exporter(settings, "logs", meter_provider=meter_provider),
            budget_s=settings.export_retry_s,
        )
        span_processor = BatchSpanProcessor(
            ScrubbingSpanExporter(span_exporter),
            max_queue_size=settings.span_queue_size,
            max_export_batch_size=min(EXPORT_BATCH_SIZE, settings.span_queue_size),
            meter_provider=meter_provider,
        )
        log_processor = BatchLogRecordProcessor(
            log_exporter,
            max_queue_size=settings.log_queue_size,
            max_export_batch_size=min(EXPORT_BATCH_SIZE, settings.log_queue_size),
            meter_provider=meter_provider,
        )

    # A client controls headers, query strings and paths: without a length
    # limit (the SDK has none by default) one request could put megabytes into
    # a span. The SDK cuts longer values when they are set, on the request thread.
    length = settings.attribute_value_length_limit
    tracer_provider = TracerProvider(
        resource=resource,
        sampler=settings.sampler(),
        span_limits=SpanLimits(max_attribute_length=length),
        shutdown_on_exit=False,
    )
    tracer_provider.add_span_processor(span_processor)

    logger_provider = LoggerProvider(
        resource=resource,
        log_record_limits=LogRecordLimits(max_attribute_length=length),
        shutdown_on_exit=False,
    )
    logger_provider.add_log_record_processor(log_processor)
    return Providers(tracer_provider, meter_provider, logger_provider)
