"""Span exporter wrapper that scrubs secrets on the export thread.

Scrubbing happens here, in the batch processor's worker thread, rather than
in a span processor: the request thread then pays nothing for it, and no span
leaves the process unscrubbed. In-process consumers (our span processors)
see raw spans and sanitise what they write themselves.
"""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Status

from processors.scrub import scrub_attributes, scrub_text

__all__ = ["ScrubbingSpanExporter", "scrub_span"]


def _scrub_event(event: Event) -> Event:
    attributes = scrub_attributes(event.attributes)
    name = scrub_text(event.name)
    if attributes is None and name == event.name:
        return event
    return Event(name, event.attributes if attributes is None else attributes, event.timestamp)


def scrub_span(span: ReadableSpan) -> ReadableSpan:
    """``span`` itself when it holds no secret, else a copy with secrets masked.

    Looks at the span's name (a name built from user data, such as the route
    of a 404 for ``/users/ann@example.com``, becomes Jaeger's operation name and
    the collector's ``span_name`` label), its attributes, its events' names and
    attributes (exception messages and stack traces) and the status description.
    """
    name = scrub_text(span.name)
    attributes = scrub_attributes(span.attributes)
    events = [_scrub_event(event) for event in span.events]
    description = span.status.description
    clean_description = scrub_text(description) if description else description
    if (
        name == span.name
        and attributes is None
        and description == clean_description
        and all(clean is event for clean, event in zip(events, span.events, strict=True))
    ):
        return span
    return ReadableSpan(
        name=name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=span.attributes if attributes is None else attributes,
        events=events,
        links=span.links,
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
