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


def scrub_span(span: ReadableSpan) -> ReadableSpan:
    """``span`` itself when it holds no secret, else a copy with secrets masked.

    Looks at span attributes, event attributes (exception messages and
    stack traces) and the status description.
    """
    attributes = scrub_attributes(span.attributes)
    events = [(event, scrub_attributes(event.attributes)) for event in span.events]
    description = span.status.description
    clean_description = scrub_text(description) if description else description
    if (
        attributes is None
        and description == clean_description
        and all(scrubbed is None for _, scrubbed in events)
    ):
        return span
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=span.attributes if attributes is None else attributes,
        events=[
            event if scrubbed is None else Event(event.name, scrubbed, event.timestamp)
            for event, scrubbed in events
        ],
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
