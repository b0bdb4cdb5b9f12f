"""Tracer, meter and logger providers sharing one resource, exporting over OTLP.

Every exporter sits behind the SDK's bounded batch processors/readers, so the
request path only appends to an in-memory queue; export runs on SDK threads.
The tracer provider makes lean spans (:mod:`otel_setup.spans`), and they meet
one processor on the request thread,
:class:`~processors.off_thread.OffThreadSpanProcessor`; the batch export
processor and our own span processors run on its worker.
The SDK's own health metrics (``otel.sdk.processor.*.processed`` with
``error.type="queue_full"``, ``otel.sdk.exporter.*.exported`` with the
export error) are switched on by handing the processors and exporters the
meter provider, through a :class:`~otel_setup.health.TallyingMeterProvider`
that keeps the counts in the process as well: dropped telemetry is counted,
not logged per item, and the counts can be read even when the collector is
unreachable (see :mod:`otel_setup.health`).
"""

from __future__ import annotations

import contextlib
import os
import platform
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk._logs import LoggerProvider, LogRecordLimits
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExportResult
from opentelemetry.sdk.metrics import (
    AlwaysOffExemplarFilter,
    AlwaysOnExemplarFilter,
    ExemplarFilter,
    MeterProvider,
    TraceBasedExemplarFilter,
)
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import (
    DropAggregation,
    ExplicitBucketHistogramAggregation,
    View,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult
from opentelemetry.util.types import Attributes

from otel_setup.config import Settings
from otel_setup.export import ScrubbingMetricExporter, ScrubbingSpanExporter
from otel_setup.health import ExportOutcomes, Tally, TallyingMeterProvider
from otel_setup.retry import RetryingExporter
from otel_setup.spans import LeanTracerProvider
from processors.off_thread import OffThreadSpanProcessor
from processors.scrub import scrub_attributes

__all__ = [
    "DURATION_BUCKETS_S",
    "Providers",
    "build_exporter",
    "build_providers",
    "build_resource",
    "build_span_processors",
]

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
#: HTTP duration histograms (no url.scheme; no server.address on the server side);
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
    return _HashedOnce(resource.attributes if scrubbed is None else scrubbed, resource.schema_url)


class _HashedOnce(Resource):
    """A resource that computes its hash once.

    The OTLP encoder groups a batch's spans by resource, hashing the resource
    of every span, and the SDK's hash is a JSON dump of all the attributes:
    about 6 µs per span on the export thread, which holds the GIL the request
    thread needs. A resource is immutable, so its hash never changes.
    """

    def __init__(self, attributes: Attributes, schema_url: str | None = None) -> None:
        super().__init__(attributes, schema_url)
        self._hash = super().__hash__()

    def __hash__(self) -> int:
        return self._hash


def _otlp_exporter_classes(protocol: str) -> dict[str, type]:
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

        from otel_setup.otlp_encoding import GrpcLogExporter as OTLPLogExporter
        from otel_setup.otlp_encoding import GrpcSpanExporter as OTLPSpanExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        from otel_setup.otlp_encoding import HttpLogExporter as OTLPLogExporter
        from otel_setup.otlp_encoding import HttpSpanExporter as OTLPSpanExporter
    return {"traces": OTLPSpanExporter, "metrics": OTLPMetricExporter, "logs": OTLPLogExporter}


def _otlp_exporter(settings: Settings, signal: str, **options: Any) -> Any:
    """The OTLP exporter of ``signal`` (traces, metrics, logs) for the configured protocol."""
    exporter_class = _otlp_exporter_classes(settings.otlp_protocol)[signal]
    base, headers = settings.otlp_endpoint, dict(settings.otlp_headers)
    if settings.otlp_protocol == "grpc":
        insecure = base.startswith("http://")
        return exporter_class(endpoint=base, insecure=insecure, headers=headers, **options)
    return exporter_class(endpoint=f"{base}/v1/{signal}", headers=headers, **options)


_HEALTH_VARIABLE = "OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED"


def _health_metrics_wanted() -> bool:
    """Whether the SDK's health metrics go to the collector: yes, unless the user set
    ``OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED`` to something other than true."""
    raw = os.environ.get(_HEALTH_VARIABLE)
    return raw is None or raw.strip().lower() == "true"


@contextlib.contextmanager
def _sdk_health_metrics() -> Iterator[None]:
    """Switch the SDK's own health metrics on for what is built inside the block.

    The SDK reads ``OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED`` when each
    component is constructed. We want it for the batch processors (dropped
    telemetry, queue length) but not for tracers, which would count every span
    on the request thread. The processors always count into the process's
    :class:`~otel_setup.health.Tally`; whether the counts also go to the
    collector is :func:`_health_metrics_wanted`.
    """
    saved = os.environ.get(_HEALTH_VARIABLE)
    os.environ[_HEALTH_VARIABLE] = "true"
    try:
        yield
    finally:
        if saved is None:
            del os.environ[_HEALTH_VARIABLE]
        else:
            os.environ[_HEALTH_VARIABLE] = saved


def build_exporter(
    settings: Settings, signal: str, health: TallyingMeterProvider
) -> RetryingExporter[Any]:
    """The OTLP exporter of ``signal`` behind retries, its outcomes counted once per batch.

    The exporter's own counters would count every retry of a batch as a failed
    export; they are switched off (a no-op meter provider) and
    :class:`~otel_setup.health.ExportOutcomes` counts instead, under the same names.
    """
    transport = "grpc" if settings.otlp_protocol == "grpc" else "http"
    item = "span" if signal == "traces" else "log"
    failure = SpanExportResult.FAILURE if signal == "traces" else LogRecordExportResult.FAILURE
    return RetryingExporter(
        _otlp_exporter(settings, signal, meter_provider=NoOpMeterProvider()),
        failure=failure,
        budget_s=settings.export_retry_s,
        outcomes=ExportOutcomes(health, signal, f"otlp_{transport}_{item}_exporter"),  # type: ignore[arg-type]
    )


_EXEMPLAR_FILTERS: dict[str, type[ExemplarFilter]] = {
    "always_off": AlwaysOffExemplarFilter,
    "always_on": AlwaysOnExemplarFilter,
    "trace_based": TraceBasedExemplarFilter,
}


def _exemplar_filter() -> ExemplarFilter:
    """Exemplars off unless ``OTEL_METRICS_EXEMPLAR_FILTER`` asks for them.

    The SDK's default, ``trace_based``, costs about 3 µs per measurement on the
    request path, and nothing downstream keeps them: Prometheus runs without
    exemplar storage. Settings resolution has checked the value.
    """
    chosen = os.environ.get("OTEL_METRICS_EXEMPLAR_FILTER", "").strip().lower() or "always_off"
    return _EXEMPLAR_FILTERS[chosen]()


def build_span_processors(
    settings: Settings, exporter: RetryingExporter[Any] | None, health: TallyingMeterProvider
) -> OffThreadSpanProcessor:
    """The span path: one bounded queue on the request thread, then on its worker the
    export path (batch queue → scrubbing → ``exporter``; none without an exporter)
    and whatever is added later."""
    batch_size = min(EXPORT_BATCH_SIZE, settings.span_queue_size)
    export: list[BatchSpanProcessor] = []
    if exporter is not None:
        with _sdk_health_metrics():
            export.append(
                BatchSpanProcessor(
                    ScrubbingSpanExporter(exporter),
                    max_queue_size=settings.span_queue_size,
                    max_export_batch_size=batch_size,
                    meter_provider=health,
                )
            )
    return OffThreadSpanProcessor(
        export,
        max_queue_size=settings.span_queue_size,
        batch_size=batch_size,
        meter_provider=health,
    )


@dataclass(frozen=True)
class Providers:
    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    logger_provider: LoggerProvider
    #: The tracer provider's one span processor: it queues each ended span and
    #: runs the export processor, and any added to it, on its worker thread.
    span_processors: OffThreadSpanProcessor
    #: The health counts of the span and log export paths, kept in the process
    #: (:func:`otel_setup.health.export_counts` reads them).
    tally: Tally | None = None
    #: The span and log exporters, for :meth:`abandon_export`.
    exporters: tuple[RetryingExporter[Any], ...] = ()

    def abandon_export(self) -> None:
        """Give up exporting spans and log records: no more retries or attempts, and a
        gRPC call in flight cancelled (an HTTP one ends by its own timeout). For a
        shutdown past its deadline: the batch workers then drop what is left in their
        queues (counted as ``shutdown``) and end, where they would otherwise go on
        retrying a dead collector for ``export_retry_s``."""
        for exporter in self.exporters:
            exporter.shutdown(timeout_millis=0)


def build_providers(settings: Settings) -> Providers:
    """Create the three providers with OTLP exporters behind bounded batch queues
    (none for a signal whose exporter is ``none``)."""
    resource = build_resource(settings)
    readers = []
    if settings.metrics_exporter == "otlp":
        readers.append(
            PeriodicExportingMetricReader(
                ScrubbingMetricExporter(_otlp_exporter(settings, "metrics")),
                export_interval_millis=settings.metric_export_interval_ms,
            )
        )
    # shutdown_on_exit=False: Telemetry.shutdown() does it, bounded in time, once.
    meter_provider = MeterProvider(
        resource=resource,
        metric_readers=readers,
        views=_VIEWS,
        exemplar_filter=_exemplar_filter(),
        shutdown_on_exit=False,
    )
    # The span and log export paths report their health through the meter
    # provider, and into a tally of their own.
    health = TallyingMeterProvider(Tally(), meter_provider if _health_metrics_wanted() else None)
    span_exporter = (
        build_exporter(settings, "traces", health) if settings.traces_exporter == "otlp" else None
    )
    log_exporter = (
        build_exporter(settings, "logs", health) if settings.logs_exporter == "otlp" else None
    )
    span_processors = build_span_processors(settings, span_exporter, health)

    # A client controls headers, query strings and paths: without a length
    # limit (the SDK has none by default) one request could put megabytes into
    # a span. The SDK cuts longer values when they are set, on the request thread.
    length = settings.attribute_value_length_limit
    span_limits = SpanLimits(max_attribute_length=length)
    tracer_provider = LeanTracerProvider(
        resource=resource,
        sampler=settings.sampler(),
        span_limits=span_limits,
        shutdown_on_exit=False,
    )
    tracer_provider.add_span_processor(span_processors)

    logger_provider = LoggerProvider(
        resource=resource,
        log_record_limits=LogRecordLimits(max_attribute_length=length),
        shutdown_on_exit=False,
    )
    if log_exporter is not None:
        with _sdk_health_metrics():
            logger_provider.add_log_record_processor(
                BatchLogRecordProcessor(
                    log_exporter,
                    max_queue_size=settings.log_queue_size,
                    max_export_batch_size=min(EXPORT_BATCH_SIZE, settings.log_queue_size),
                    meter_provider=health,
                )
            )
    return Providers(
        tracer_provider,
        meter_provider,
        logger_provider,
        span_processors,
        health.tally,
        exporters=tuple(e for e in (span_exporter, log_exporter) if e is not None),
    )
