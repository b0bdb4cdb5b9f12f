"""Tracer, meter and logger providers sharing one resource, exporting over OTLP.

Every exporter sits behind the SDK's bounded batch processors/readers, so the
request path only appends to an in-memory queue; export runs on SDK threads.
"""

from __future__ import annotations

import os
import platform
import socket
from dataclasses import dataclass

from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from otel_setup.config import Settings

__all__ = ["Providers", "build_providers", "build_resource"]

#: Bounded in-process buffers (spans / log records). When full, the SDK drops
#: new items and counts them instead of blocking the request.
SPAN_QUEUE_SIZE = 8192
LOG_QUEUE_SIZE = 8192
EXPORT_BATCH_SIZE = 512


def build_resource(settings: Settings) -> Resource:
    """``service.*``, ``deployment.environment.name``, host and process attributes."""
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
    return Resource.create(attributes)


def _exporters(settings: Settings) -> tuple[SpanExporter, MetricExporter, LogRecordExporter]:
    headers = dict(settings.otlp_headers)
    base = settings.otlp_endpoint
    if settings.otlp_protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        insecure = base.startswith("http://")
        return (
            OTLPSpanExporter(endpoint=base, insecure=insecure, headers=headers),
            OTLPMetricExporter(endpoint=base, insecure=insecure, headers=headers),
            OTLPLogExporter(endpoint=base, insecure=insecure, headers=headers),
        )
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return (
        OTLPSpanExporter(endpoint=f"{base}/v1/traces", headers=headers),
        OTLPMetricExporter(endpoint=f"{base}/v1/metrics", headers=headers),
        OTLPLogExporter(endpoint=f"{base}/v1/logs", headers=headers),
    )


@dataclass(frozen=True)
class Providers:
    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    logger_provider: LoggerProvider


def build_providers(settings: Settings) -> Providers:
    """Create the three providers with OTLP exporters behind bounded batch queues."""
    resource = build_resource(settings)
    span_exporter, metric_exporter, log_exporter = _exporters(settings)

    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        BatchSpanProcessor(
            span_exporter, max_queue_size=SPAN_QUEUE_SIZE, max_export_batch_size=EXPORT_BATCH_SIZE
        )
    )

    reader = PeriodicExportingMetricReader(
        metric_exporter, export_interval_millis=settings.metric_export_interval_ms
    )
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])

    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(
        BatchLogRecordProcessor(
            log_exporter, max_queue_size=LOG_QUEUE_SIZE, max_export_batch_size=EXPORT_BATCH_SIZE
        )
    )
    return Providers(tracer_provider, meter_provider, logger_provider)
