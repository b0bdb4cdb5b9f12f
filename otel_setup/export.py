"""Span and metric exporter wrappers that scrub secrets on the export thread.

Scrubbing happens here, in the batch processor's worker thread, rather than
in a span processor: the request thread then pays nothing for it, and no span
leaves the process unscrubbed. In-process consumers (our span processors)
see raw spans and sanitise what they write themselves. Metrics are scrubbed
on the metric reader's thread, once per export and data point: a counter
incremented with ``{"user.email": email}`` costs nothing extra per increment.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Link, Status

from processors.scrub import scrub_attributes, scrub_text

__all__ = ["ScrubbingMetricExporter", "ScrubbingSpanExporter", "scrub_metrics", "scrub_span"]

T = TypeVar("T")


def _scrub_each(items: Sequence[T], scrub: Callable[[T], T]) -> tuple[Sequence[T], bool]:
    """Each of ``items`` scrubbed, and whether they all came back as they were."""
    if not items:  # most spans have no events and no links
        return items, True
    scrubbed = [scrub(item) for item in items]
    return scrubbed, all(map(operator.is_, scrubbed, items))


def _scrub_event(event: Event) -> Event:
    attributes = scrub_attributes(event.attributes)
    name = scrub_text(event.name)
    if attributes is None and name == event.name:
        return event
    return Event(name, event.attributes if attributes is None else attributes, event.timestamp)


def _scrub_link(link: Link) -> Link:
    attributes = scrub_attributes(link.attributes)
    return link if attributes is None else Link(link.context, attributes)


def scrub_span(span: ReadableSpan) -> ReadableSpan:
    """``span`` itself when it holds no secret, else a copy with secrets masked.

    Looks at the span's name (a name built from user data, such as the route
    of a 404 for ``/users/ann@example.com``, becomes Jaeger's operation name and
    the collector's ``span_name`` label), its attributes, its events' names and
    attributes (exception messages and stack traces), its links' attributes and
    the status description.
    """
    name = scrub_text(span.name)
    attributes = scrub_attributes(span.attributes)
    events, same_events = _scrub_each(span.events, _scrub_event)
    links, same_links = _scrub_each(span.links, _scrub_link)
    description = span.status.description
    clean_description = scrub_text(description) if description else description
    if (
        name == span.name
        and attributes is None
        and description == clean_description
        and same_events
        and same_links
    ):
        return span
    return ReadableSpan(
        name=name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=span.attributes if attributes is None else attributes,
        events=events,
        links=links,
        kind=span.kind,
        status=Status(span.status.status_code, clean_description),
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class ScrubbingSpanExporter(SpanExporter):
    """Pass spans to ``exporter`` after :func:`scrub_span`."""

    def __init__(self, exporter: SpanExporter) -> None:
        self._exporter = exporter

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self._exporter.export([scrub_span(span) for span in spans])

    def shutdown(self) -> None:
        self._exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._exporter.force_flush(timeout_millis)


def _scrub_exemplar(exemplar: Any) -> Any:
    attributes = scrub_attributes(exemplar.filtered_attributes)
    if attributes is None:
        return exemplar
    return dataclasses.replace(exemplar, filtered_attributes=attributes)


def _scrub_point(point: Any) -> Any:
    attributes = scrub_attributes(point.attributes)
    exemplars, same = _scrub_each(point.exemplars, _scrub_exemplar)
    if attributes is None and same:
        return point
    return dataclasses.replace(
        point,
        attributes=point.attributes if attributes is None else attributes,
        exemplars=exemplars,
    )


def _scrub_metric(metric: Any) -> Any:
    points, same = _scrub_each(metric.data.data_points, _scrub_point)
    if same:
        return metric
    return dataclasses.replace(metric, data=dataclasses.replace(metric.data, data_points=points))


def _scrub_scope(scope: Any) -> Any:
    metrics, same = _scrub_each(scope.metrics, _scrub_metric)
    return scope if same else dataclasses.replace(scope, metrics=metrics)


def _scrub_resource(resource: Any) -> Any:
    scopes, same = _scrub_each(resource.scope_metrics, _scrub_scope)
    return resource if same else dataclasses.replace(resource, scope_metrics=scopes)


def scrub_metrics(data: MetricsData) -> MetricsData:
    """``data`` itself when no data point holds a secret, else a copy with secrets masked.

    Looks at the attributes of every data point and exemplar: the same rules as
    for span attributes (``user.email`` → ``[email]``, ``api_key`` → ``[REDACTED]``).
    """
    resources, same = _scrub_each(data.resource_metrics, _scrub_resource)
    return data if same else dataclasses.replace(data, resource_metrics=resources)


class ScrubbingMetricExporter(MetricExporter):
    """Pass metrics to ``exporter`` after :func:`scrub_metrics`, with its preferences."""

    def __init__(self, exporter: MetricExporter) -> None:
        super().__init__(
            preferred_temporality=exporter._preferred_temporality,
            preferred_aggregation=exporter._preferred_aggregation,
        )
        self._exporter = exporter

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        return self._exporter.export(
            scrub_metrics(metrics_data), timeout_millis=timeout_millis, **kwargs
        )

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self._exporter.force_flush(timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self._exporter.shutdown(timeout_millis, **kwargs)
