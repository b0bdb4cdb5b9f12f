"""The tracer provider's spans, made without the SDK span's per-call overhead.

The SDK's span (opentelemetry-sdk 1.45) runs every attribute through a
recursive type check as it is set, about 1.5 µs each, keeps its attributes,
events and links in bounded containers, and at its end copies its fields into
a new :class:`~opentelemetry.sdk.trace.ReadableSpan` for the processors: about
20 µs to start and end a span with eight attributes, on the thread doing the
work. Every span of a request pays it: the server span, and each Redis call,
SQL query, outbound HTTP call and ``track`` operation inside it.

:class:`LeanTracerProvider` is the SDK's tracer provider whose tracers make
:class:`LeanSpan`\\ s instead. A lean span keeps a plain dict: a string,
integer, float or boolean value under a non-empty string key is taken as it is
(a string cut to the length limit), anything else goes through the SDK's own
checks (:class:`~opentelemetry.attributes.BoundedAttributes`), so the
attributes come out as the SDK's span would have them. The limits on the
number of attributes, events and links are the SDK's, and so are the dropped
counts, the status rules and the ``exception`` events. At its end the span
itself is the ``ReadableSpan`` the processors get. A Hypothesis test compares
what they receive with what the SDK's span gives them.

Everything else is the provider's, as with the SDK's tracer: its sampler
decides (the default one, ``ParentBased(ALWAYS_ON)``, is decided as it
decides without calling it), its ID generator makes the IDs, its span
processors get the span at start, ``_on_ending`` and end, with its resource;
a scope the tracer configurator disables makes non-recording spans; the SDK's
own span metrics are counted when switched on.

>>> from opentelemetry.sdk.trace.export import SimpleSpanProcessor
>>> from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
>>> from opentelemetry.trace import SpanKind
>>> finished = InMemorySpanExporter()
>>> provider = LeanTracerProvider()
>>> provider.add_span_processor(SimpleSpanProcessor(finished))
>>> tracer = provider.get_tracer("demo")
>>> with tracer.start_as_current_span("GET", kind=SpanKind.SERVER) as span:
...     span.update_name("GET /health")
...     span.set_attributes({"http.route": "/health", "http.response.status_code": 200})
>>> [(s.name, dict(s.attributes)) for s in finished.get_finished_spans()]
[('GET /health', {'http.route': '/health', 'http.response.status_code': 200})]
"""

from __future__ import annotations

import functools
import inspect
import logging
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from time import time_ns
from types import TracebackType
from typing import Any, TypeVar

from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanLimits, Tracer, TracerProvider
from opentelemetry.sdk.trace.sampling import DEFAULT_ON, Decision
from opentelemetry.sdk.util import BoundedList
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

__all__ = ["CurrentSpan", "LeanSpan", "LeanTracer", "LeanTracerProvider", "decorate"]

F = TypeVar("F", bound=Callable[..., Any])

_log = logging.getLogger(__name__)

#: Value types taken as they are (a string cut to the length limit); ``bool`` is
#: listed apart from ``int`` because the check is by exact type, for speed.
_PLAIN = frozenset((str, int, float, bool))


class LeanTracerProvider(TracerProvider):
    """The SDK's :class:`~opentelemetry.sdk.trace.TracerProvider` (same arguments, same
    processors, resource, sampler and limits) whose tracers make :class:`LeanSpan`\\ s."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lean_tracers: dict[Tracer, LeanTracer] = {}

    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: str | None = None,
        schema_url: str | None = None,
        attributes: Attributes = None,
    ) -> trace.Tracer:
        tracer = super().get_tracer(
            instrumenting_module_name, instrumenting_library_version, schema_url, attributes
        )
        if not isinstance(tracer, Tracer):  # OTEL_SDK_DISABLED: the SDK's no-op tracer
            return tracer
        # The SDK keeps one tracer per scope; so do we, one per SDK tracer.
        lean = self._lean_tracers.get(tracer)
        if lean is None:
            lean = self._lean_tracers.setdefault(tracer, LeanTracer(tracer))
        return lean


class LeanTracer(trace.Tracer):
    """Makes :class:`LeanSpan`\\ s with what an SDK tracer holds: its provider's sampler,
    ID generator, resource, limits and span processors, and its scope."""

    __slots__ = ("_ids", "_info", "_limits", "_metrics", "_processor", "_sampler", "_scope", "_sdk")

    def __init__(self, tracer: Tracer) -> None:
        self._sdk = tracer
        # What the SDK tracer holds for good, read once; its resource (updated in a
        # forked child) and its configuration (the configurator's) are read per span.
        self._sampler = tracer.sampler
        self._ids = tracer.id_generator
        self._processor = tracer.span_processor  # extended in place by add_span_processor
        self._limits: SpanLimits = tracer._span_limits
        self._scope = tracer._instrumentation_scope
        self._info = tracer.instrumentation_info
        self._metrics = tracer._tracer_metrics

    def start_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = (),
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> trace.Span:
        parent_span = trace.get_current_span(context).get_span_context()
        if not self._sdk._tracer_config.is_enabled:  # a scope the tracer configurator disabled
            return NonRecordingSpan(parent_span)
        ids = self._ids
        if parent_span.is_valid:
            trace_id = parent_span.trace_id
            random_id = parent_span.trace_flags.random_trace_id
            parent: SpanContext | None = parent_span
        else:
            trace_id = ids.generate_trace_id()
            random_id = ids.is_trace_id_random()
            parent = None
        sampler = self._sampler
        if sampler is DEFAULT_ON:
            # The default sampler, ParentBased(ALWAYS_ON), decided as it decides
            # (the parent's choice, else sample; the parent's trace state), without
            # its four calls and result object per span.
            sampled = recording = parent is None or parent.trace_flags.sampled
            decision = Decision.RECORD_AND_SAMPLE if sampled else Decision.DROP
            trace_state = None if parent is None else parent.trace_state
        else:
            result = sampler.should_sample(context, trace_id, name, kind, attributes, links)
            decision, trace_state = result.decision, result.trace_state
            sampled, recording = decision.is_sampled(), decision.is_recording()
            attributes = result.attributes
        flags = TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT
        if random_id:
            flags |= TraceFlags.RANDOM_TRACE_ID
        span_context = SpanContext(
            trace_id,
            ids.generate_span_id(),
            is_remote=False,
            trace_flags=TraceFlags(flags),
            trace_state=trace_state,
        )
        end_metrics = self._metrics.start_span(parent, decision)
        if not recording:
            return NonRecordingSpan(span_context)
        span = LeanSpan(self, name, span_context, parent, kind, start_time, end_metrics)
        if attributes:
            span.set_attributes(attributes)
        if links:
            for link in links:
                if link:
                    span.add_link(link.context, link.attributes)
        if not record_exception:
            span._record_exception = False
        if not set_status_on_exception:
            span._set_status_on_exception = False
        self._processor.on_start(span, parent_context=context)
        return span

    def start_as_current_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = (),
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Iterator[trace.Span]:
        """As the SDK's tracer: a context manager that starts the span on entry and
        makes it current, or a decorator doing so around each call of a function
        (async functions included)."""
        # The SDK's is two generator-based context managers (its own and
        # use_span's), about 2 µs more per span than this class.
        return _StartedAsCurrent(  # type: ignore[return-value]
            lambda: self.start_span(
                name, context, kind, attributes, links, start_time, record_exception,
                set_status_on_exception,
            ),
            end_on_exit,
            record_exception,
            set_status_on_exception,
        )  # fmt: skip


class CurrentSpan:
    """:func:`opentelemetry.trace.use_span` as a class: makes ``span`` current for a
    ``with`` block; an :class:`Exception` leaving the block is recorded on the span
    and sets its status to ERROR (as chosen), and the span ends at the block's end
    if ``end_on_exit``.

    >>> from opentelemetry import trace
    >>> span = LeanTracerProvider().get_tracer("demo").start_span("work")
    >>> with CurrentSpan(span, end_on_exit=True):
    ...     trace.get_current_span() is span
    True
    >>> span.is_recording()
    False
    """

    __slots__ = ("_end_on_exit", "_record_exception", "_set_status_on_exception", "_token", "span")

    def __init__(
        self,
        span: trace.Span,
        *,
        end_on_exit: bool = False,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> None:
        self.span = span
        self._end_on_exit = end_on_exit
        self._record_exception = record_exception
        self._set_status_on_exception = set_status_on_exception

    def __enter__(self) -> trace.Span:
        self._token = context_api.attach(trace.set_span_in_context(self.span))
        return self.span

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        span = self.span
        context_api.detach(self._token)
        try:
            # As use_span: an Exception, not any BaseException (a cancelled
            # task, a generator closed early are not errors).
            if isinstance(exc, Exception) and span.is_recording():
                if self._record_exception:
                    span.record_exception(exc)
                if self._set_status_on_exception:
                    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
        finally:
            if self._end_on_exit:
                span.end()


def decorate(fresh: Callable[[], AbstractContextManager[Any]], func: F) -> F:
    """``func`` run inside a new context manager from ``fresh()`` at each call; an
    async function's inside it until its coroutine finishes."""
    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            with fresh():
                return await func(*args, **kwargs)

        return run_async  # type: ignore[return-value]

    @functools.wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        with fresh():
            return func(*args, **kwargs)

    return run  # type: ignore[return-value]


class _StartedAsCurrent(CurrentSpan):
    """What :meth:`LeanTracer.start_as_current_span` returns: a :class:`CurrentSpan`
    whose span ``start()`` makes on entry."""

    __slots__ = ("_start",)

    def __init__(
        self,
        start: Callable[[], trace.Span],
        end_on_exit: bool,
        record_exception: bool,
        set_status_on_exception: bool,
    ) -> None:
        super().__init__(
            trace.INVALID_SPAN,
            end_on_exit=end_on_exit,
            record_exception=record_exception,
            set_status_on_exception=set_status_on_exception,
        )
        self._start = start

    def __enter__(self) -> trace.Span:
        self.span = self._start()
        return CurrentSpan.__enter__(self)  # not super(): a lookup less per span

    def __call__(self, func: F) -> F:
        return decorate(
            lambda: _StartedAsCurrent(
                self._start,
                self._end_on_exit,
                self._record_exception,
                self._set_status_on_exception,
            ),
            func,
        )


class LeanSpan(trace.Span, ReadableSpan):
    """A recording span from :meth:`LeanTracer.start_span`.

    Safe to use from several threads, as the SDK's span is. A span that has
    ended ignores further changes, as the SDK's does. It is its own
    :class:`ReadableSpan`: the span processors' ``on_end`` gets the span
    itself, where the SDK's span copies its fields into a new one (nothing
    can change them once it has ended).
    """

    # No __slots__: ReadableSpan has none, so a span has a __dict__ anyway. The
    # fields most spans never change are class defaults until they do.
    _dropped_attributes = 0
    _events: Sequence[Event] = ()
    _links: Sequence[Link] = ()
    _status = Status(StatusCode.UNSET)
    _end_time: int | None = None
    _record_exception = True
    _set_status_on_exception = True

    def __init__(
        self,
        tracer: LeanTracer,
        name: str,
        context: SpanContext,
        parent: SpanContext | None,
        kind: SpanKind,
        start_time: int | None,
        end_metrics: Any,
    ) -> None:
        self._tracer = tracer
        self._name = name
        self._context = context
        self._parent = parent
        self._kind = kind
        self._attributes: dict[str, Any] = {}
        self._resource = tracer._sdk.resource
        self._instrumentation_scope = tracer._scope
        self._instrumentation_info = tracer._info
        self._end_metrics = end_metrics
        self._lock = threading.Lock()
        self._start_time = start_time if start_time is not None else time_ns()

    # -- the span API ---------------------------------------------------------

    def get_span_context(self) -> SpanContext:
        return self._context

    def is_recording(self) -> bool:
        return self._end_time is None

    def set_attributes(self, attributes: Mapping[str, AttributeValue]) -> None:
        limits = self._tracer._limits
        length, most = limits.max_span_attribute_length, limits.max_span_attributes
        with self._lock:
            if self._ended("set_attributes"):
                return
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
            return
        with self._lock:
            if not self._ended("set_attribute"):
                # As the SDK: one bad key is dropped, where set_attributes converts it.
                self._dropped_attributes += 1

    def add_event(
        self, name: str, attributes: Attributes = None, timestamp: int | None = None
    ) -> None:
        limits = self._tracer._limits
        checked = self._checked(limits.max_event_attributes, attributes)
        with self._lock:
            if self._ended("add_event"):
                return
            if type(self._events) is not BoundedList:  # the class's empty default
                self._events = BoundedList(limits.max_events)
            self._events.append(Event(name, checked, timestamp))

    def add_link(self, context: SpanContext, attributes: Attributes = None) -> None:
        # The SDK keeps a link to an invalid context only when it says something.
        if not (context and (context.is_valid or attributes or context.trace_state)):
            return
        limits = self._tracer._limits
        link = Link(context, self._checked(limits.max_link_attributes, attributes))
        with self._lock:
            if self._ended("add_link"):
                return
            if type(self._links) is not BoundedList:  # the class's empty default
                self._links = BoundedList(limits.max_links)
            self._links.append(link)

    def update_name(self, name: str) -> None:
        with self._lock:
            if not self._ended("update_name"):
                self._name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        with self._lock:
            # As the SDK: OK is final, UNSET changes nothing.
            if self._ended("set_status") or self._status.status_code is StatusCode.OK:
                return
            if isinstance(status, Status):
                if status.status_code is not StatusCode.UNSET:
                    if description is not None:
                        _log.warning(
                            "Description %s ignored. Use either `Status` or "
                            "`(StatusCode, Description)`",
                            description,
                        )
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
        with self._lock:
            if self._ended("end"):
                return
            self._end_time = end_time if end_time is not None else time_ns()
        self._end_metrics()
        processor = self._tracer._processor
        processor._on_ending(self)
        processor.on_end(self)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        # As the SDK's span used as a context manager (``with tracer.start_span(...)``).
        if exc_val is not None and self.is_recording():
            if self._record_exception:
                self.record_exception(exc_val, escaped=True)
            if self._set_status_on_exception:
                self.set_status(Status(StatusCode.ERROR, f"{type(exc_val).__name__}: {exc_val}"))
        super().__exit__(exc_type, exc_val, exc_tb)

    def _checked(self, most: int | None, attributes: Attributes) -> BoundedAttributes:
        """An event's or a link's attributes through the SDK's checks and limits."""
        length = self._tracer._limits.max_attribute_length
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
