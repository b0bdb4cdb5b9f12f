"""The SERVER span of each request, made without the SDK span's per-call overhead.

The SDK's span (opentelemetry-sdk 1.45) runs every attribute through a
recursive type check as it is set, about 1.5 µs each for a dozen attributes
per request, takes a lock on every call and keeps its attributes, events and
links in bounded containers that the export thread then copies again. Made
with it, the server span cost about 45 µs of the request thread per request.
:class:`ServerSpan` keeps a plain dict: a string, integer, float or boolean
value under a non-empty string key is taken as it is (a string cut to the
length limit), anything else goes through the SDK's own checks
(:class:`~opentelemetry.attributes.BoundedAttributes`), so the attributes come
out as the SDK's span would have them. The limits on the number of attributes,
events and links are the SDK's, and so are the dropped counts.

Everything else is the tracer provider's: the sampler decides, its ID
generator makes the IDs, its span processors get the span at start and a
:class:`~opentelemetry.sdk.trace.ReadableSpan` at end, with its resource.
Not supported: the SDK's experimental tracer configurator (a disabled scope)
and its own span metrics; ``otel_setup`` uses neither.

>>> from opentelemetry.context import Context
>>> from opentelemetry.sdk.trace import SpanLimits, TracerProvider
>>> from opentelemetry.sdk.trace.export import SimpleSpanProcessor
>>> from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
>>> finished = InMemorySpanExporter()
>>> provider = TracerProvider()
>>> provider.add_span_processor(SimpleSpanProcessor(finished))
>>> spans = ServerSpans(provider, "demo", SpanLimits())
>>> span = spans.start("GET", Context(), {"http.request.method": "GET"})
>>> span.update_name("GET /health")
>>> span.set_attributes({"http.route": "/health", "http.response.status_code": 200})
>>> span.end()
>>> [(s.name, dict(s.attributes)) for s in finished.get_finished_spans()]  # doctest: +NORMALIZE_WHITESPACE
[('GET /health', {'http.request.method': 'GET', 'http.route': '/health',
                  'http.response.status_code': 200})]
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping, Sequence
from time import time_ns
from typing import Any

from opentelemetry import trace
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.sampling import DEFAULT_ON
from opentelemetry.sdk.util import BoundedList
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)
from opentelemetry.util.types import Attributes, AttributeValue

__all__ = ["ServerSpan", "ServerSpans"]

_log = logging.getLogger(__name__)

#: Value types taken as they are (a string cut to the length limit); ``bool`` is
#: listed apart from ``int`` because the check is by exact type, for speed.
_PLAIN = frozenset((str, int, float, bool))


class ServerSpans:
    """Makes recording SERVER spans for one instrumentation scope of ``provider``.

    Args:
        provider: its sampler, ID generator, resource and span processors are used.
        scope: the instrumentation scope's name.
        limits: the provider's span limits (numbers of attributes, events and
            links, and the length of string values).
    """

    __slots__ = ("_ids", "_limits", "_processor", "_resource", "_sampler", "_scope")

    def __init__(self, provider: TracerProvider, scope: str, limits: SpanLimits) -> None:
        # The SDK tracer's public attributes: the provider's own, and the span
        # processor that later add_span_processor() calls extend.
        tracer: Any = provider.get_tracer(scope)
        self._sampler = tracer.sampler
        self._ids = tracer.id_generator
        self._resource: Resource = tracer.resource
        self._processor = tracer.span_processor
        self._scope = InstrumentationScope(scope)
        self._limits = limits

    def start(self, name: str, parent: Context, attributes: dict[str, Any]) -> trace.Span:
        """A started SERVER span, child of the span in ``parent`` if there is one;
        non-recording when the sampler says so."""
        parent_span = trace.get_current_span(parent).get_span_context()
        if parent_span.is_valid:
            trace_id = parent_span.trace_id
            random_id = parent_span.trace_flags.random_trace_id
            parent_context: SpanContext | None = parent_span
        else:
            trace_id = self._ids.generate_trace_id()
            random_id = self._ids.is_trace_id_random()
            parent_context = None
        if self._sampler is DEFAULT_ON:
            # The default sampler, ParentBased(ALWAYS_ON), decided as it decides
            # (the parent's choice, else sample; the parent's trace state), without
            # its four calls and result object per request.
            sampled = recording = parent_context is None or parent_context.trace_flags.sampled
            trace_state = None if parent_context is None else parent_context.trace_state
            span_attributes: Attributes = attributes
        else:
            result = self._sampler.should_sample(
                parent, trace_id, name, SpanKind.SERVER, attributes
            )
            sampled, recording = result.decision.is_sampled(), result.decision.is_recording()
            trace_state, span_attributes = result.trace_state, result.attributes
        flags = TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT
        if random_id:
            flags |= TraceFlags.RANDOM_TRACE_ID
        context = SpanContext(
            trace_id,
            self._ids.generate_span_id(),
            is_remote=False,
            trace_flags=TraceFlags(flags),
            trace_state=trace_state,
        )
        if not recording:
            return NonRecordingSpan(context)
        span = ServerSpan(self, name, context, parent_context)
        if span_attributes:
            span.set_attributes(span_attributes)
        self._processor.on_start(span, parent_context=parent)
        return span


class ServerSpan(trace.Span, ReadableSpan):
    """A recording SERVER span from :meth:`ServerSpans.start`.

    Used by one request at a time; a span that has ended ignores further
    changes, as the SDK's does. It is its own :class:`ReadableSpan`: the span
    processors' ``on_end`` gets the span itself, where the SDK's span copies
    its fields into a new one (nothing can change them once it has ended).
    """

    # No __slots__: ReadableSpan has none, so a span has a __dict__ anyway. The
    # fields most spans never change are class defaults until they do.
    _kind = SpanKind.SERVER
    _instrumentation_info = None
    _dropped_attributes = 0
    _events: Sequence[Event] = ()
    _links: Sequence[Link] = ()
    _status = Status(StatusCode.UNSET)
    _end_time: int | None = None

    def __init__(
        self,
        spans: ServerSpans,
        name: str,
        context: SpanContext,
        parent: SpanContext | None,
    ) -> None:
        self._spans = spans
        self._name = name
        self._context = context
        self._parent = parent
        self._attributes: dict[str, Any] = {}
        self._resource = spans._resource
        self._instrumentation_scope = spans._scope
        self._start_time = time_ns()

    # -- the span API ---------------------------------------------------------

    def get_span_context(self) -> SpanContext:
        return self._context

    def is_recording(self) -> bool:
        return self._end_time is None

    def set_attributes(self, attributes: Mapping[str, AttributeValue]) -> None:
        if self._ended("set_attributes"):
            return
        limits = self._spans._limits
        length, most = limits.max_span_attribute_length, limits.max_span_attributes
        own = self._attributes
        for key, value in attributes.items():
            kind = type(value)
            if kind in _PLAIN and type(key) is str and key:
                if kind is str and length is not None and len(value) > length:
                    value = value[:length]
            else:
                checked = BoundedAttributes(None, {key: value}, max_value_len=length)
                if not checked:
                    self._dropped_attributes += 1
                    continue
                ((key, value),) = checked.items()
            if key in own:
                del own[key]  # as the SDK: a key set again counts as the newest
            elif most is not None and len(own) >= most:
                self._dropped_attributes += 1
                if not most:
                    continue
                del own[next(iter(own))]  # the SDK drops the oldest
            own[key] = value

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        if isinstance(key, str) and key:
            self.set_attributes({key: value})
        elif not self._ended("set_attribute"):
            # As the SDK: one bad key is dropped, where set_attributes converts it.
            self._dropped_attributes += 1

    def add_event(
        self, name: str, attributes: Attributes = None, timestamp: int | None = None
    ) -> None:
        if self._ended("add_event"):
            return
        limits = self._spans._limits
        if type(self._events) is not BoundedList:  # the class's empty default
            self._events = BoundedList(limits.max_events)
        checked = self._checked(limits.max_event_attributes, attributes)
        self._events.append(Event(name, checked, timestamp))

    def add_link(self, context: SpanContext, attributes: Attributes = None) -> None:
        # The SDK keeps a link to an invalid context only when it has attributes.
        if self._ended("add_link") or not (context.is_valid or attributes):
            return
        limits = self._spans._limits
        if type(self._links) is not BoundedList:  # the class's empty default
            self._links = BoundedList(limits.max_links)
        self._links.append(Link(context, self._checked(limits.max_link_attributes, attributes)))

    def update_name(self, name: str) -> None:
        if not self._ended("update_name"):
            self._name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        # As the SDK: OK is final, UNSET changes nothing.
        if self._ended("set_status") or self._status.status_code is StatusCode.OK:
            return
        if isinstance(status, Status):
            if status.status_code is not StatusCode.UNSET:
                self._status = status
        elif status is not StatusCode.UNSET:
            self._status = Status(status, description)

    def record_exception(
        self,
        exception: BaseException,
        attributes: Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        """The exception as an ``exception`` event, with the attributes the SDK gives it."""
        cls = type(exception)
        module = cls.__module__
        recorded: dict[str, Any] = {
            "exception.type": f"{module}.{cls.__qualname__}"
            if module and module != "builtins"
            else cls.__qualname__,
            "exception.message": str(exception),
            "exception.stacktrace": "".join(traceback.format_exception(exception)),
            "exception.escaped": str(escaped),
        }
        if attributes:
            recorded.update(attributes)
        self.add_event("exception", recorded, timestamp)

    def end(self, end_time: int | None = None) -> None:
        if self._ended("end"):
            return
        self._end_time = end_time if end_time is not None else time_ns()
        self._spans._processor.on_end(self)

    def _checked(self, most: int | None, attributes: Attributes) -> BoundedAttributes:
        """An event's or a link's attributes through the SDK's checks and limits."""
        length = self._spans._limits.max_attribute_length
        return BoundedAttributes(most, attributes, max_value_len=length, immutable=True)

    def _ended(self, call: str) -> bool:
        if self._end_time is None:
            return False
        _log.warning("%s() on an ended span: ignored", call)
        return True

    # The counts the exporter reads of every span, without the SDK's isinstance
    # checks against abstract base classes.
    @property
    def dropped_attributes(self) -> int:
        return self._dropped_attributes

    @property
    def dropped_events(self) -> int:
        events = self._events
        return events.dropped if type(events) is BoundedList else 0

    @property
    def dropped_links(self) -> int:
        links = self._links
        return links.dropped if type(links) is BoundedList else 0
