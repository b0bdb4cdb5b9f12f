"""Run span processors on a worker thread: the request thread only queues the span.

The SDK calls every span processor's ``on_start`` and ``on_end`` on the
thread that starts and ends the span — the request thread. Each processor
added to the provider costs that thread its dispatch and its work, however
little the processor does. :class:`OffThreadSpanProcessor` is then the only
processor the provider holds: ``on_end`` appends the span to one bounded
queue, as the SDK's ``BatchSpanProcessor`` does, and a worker thread hands
each span, in order, to the processors it holds — the batch export processor,
the slow-query log, grading. A span costs the request thread what the batch
processor alone would cost it, whatever the processors behind do
(``bench/per_span.py`` measures it).

Only ``on_end`` is deferred: the held processors' ``on_start`` is never
called, so only processors that do nothing at span start belong here (the
SDK's batch processor and ours). A full queue drops further spans and counts
them as ``otel.sdk.processor.span.processed{error.type="queue_full"}``, like
the SDK's batch processor counts its own drops; the spans waiting are
reported as ``otel.sdk.processor.span.queue.size``.

>>> from opentelemetry.sdk.trace import TracerProvider
>>> from opentelemetry.sdk.trace.export import SimpleSpanProcessor
>>> from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
>>> exporter = InMemorySpanExporter()
>>> off_thread = OffThreadSpanProcessor([SimpleSpanProcessor(exporter)])
>>> provider = TracerProvider()
>>> provider.add_span_processor(off_thread)
>>> provider.get_tracer("docs").start_span("work").end()
>>> off_thread.force_flush()
True
>>> [span.name for span in exporter.get_finished_spans()]
['work']
>>> provider.shutdown()
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import weakref
from collections import deque
from collections.abc import Iterable

from opentelemetry.context import Context
from opentelemetry.metrics import MeterProvider, NoOpMeterProvider, Observation
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.semconv._incubating.metrics import otel_metrics

__all__ = ["OffThreadSpanProcessor"]

_log = logging.getLogger(__name__)

#: ``otel.component.type`` of the health metrics.
COMPONENT_TYPE = "otelpipe_off_thread_span_processor"
_component_ids = itertools.count()


class OffThreadSpanProcessor(SpanProcessor):
    """Queues ended spans; a worker thread passes each to ``processors``' ``on_end``.

    Args:
        processors: the processors to run off the request thread, in order
            (more can be added with :meth:`add_span_processor`).
        max_queue_size: spans waiting for the worker; beyond it further spans
            are dropped and counted in :attr:`dropped`.
        batch_size: queued spans that wake the worker before ``interval_s`` is up.
        interval_s: the longest a span waits for the worker.
        meter_provider: where the health metrics go (dropped spans, queue size).

    Raises:
        ValueError: ``max_queue_size``, ``batch_size`` or ``interval_s`` is not positive.
    """

    def __init__(
        self,
        processors: Iterable[SpanProcessor] = (),
        *,
        max_queue_size: int = 8192,
        batch_size: int = 512,
        interval_s: float = 0.5,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        for name, value in (
            ("max_queue_size", max_queue_size),
            ("batch_size", batch_size),
            ("interval_s", interval_s),
        ):
            if not value > 0:
                raise ValueError(f"{name}={value!r}: expected a positive number")
        self._processors = tuple(processors)
        self._queue: deque[ReadableSpan] = deque()
        self._limit = max_queue_size
        self._batch = min(batch_size, max_queue_size)
        self._interval_s = interval_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        #: Serialises draining (worker, force_flush, shutdown) and adding processors.
        self._lock = threading.Lock()
        self.dropped = 0
        meter = (meter_provider or NoOpMeterProvider()).get_meter("otelpipe")
        component = {
            "otel.component.type": COMPONENT_TYPE,
            "otel.component.name": f"{COMPONENT_TYPE}/{next(_component_ids)}",
        }
        self._queue_full = {**component, "error.type": "queue_full"}
        self._processed = otel_metrics.create_otel_sdk_processor_span_processed(meter)
        meter.create_observable_up_down_counter(
            otel_metrics.OTEL_SDK_PROCESSOR_SPAN_QUEUE_SIZE,
            [lambda _options: [Observation(len(self._queue), component)]],
            unit="{span}",
            # The SDK processors' wording: one metric, one help text in Prometheus.
            description="The number of spans in the queue of a given instance of an SDK span "
            "processor.",
        )
        self._worker = self._start_worker()
        # A forked child inherits the queue but not the thread (gunicorn --preload).
        this = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: (p := this()) and p._after_fork())

    def add_span_processor(self, processor: SpanProcessor) -> None:
        """Run ``processor`` too, after the ones already held."""
        with self._lock:
            self._processors = (*self._processors, processor)

    # -- SpanProcessor ---------------------------------------------------------
    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        queue = self._queue
        if len(queue) >= self._limit:
            self.dropped += 1  # approximate under contention; the counter is exact
            self._processed.add(1, self._queue_full)
            return
        queue.append(span)
        if len(queue) == self._batch:
            self._wake.set()

    def shutdown(self) -> None:
        self._stop.set()
        self._wake.set()
        self._worker.join(timeout=5)
        self._drain()
        for processor in self._processors:
            processor.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Hand every queued span to the processors now, then flush each of them."""
        self._drain()
        return all([processor.force_flush(timeout_millis) for processor in self._processors])

    # -- worker ----------------------------------------------------------------
    def _start_worker(self) -> threading.Thread:
        worker = threading.Thread(target=self._run, name="otelpipe-off-thread-spans", daemon=True)
        worker.start()
        return worker

    def _after_fork(self) -> None:
        # Another thread may have held these at the fork; the child starts afresh.
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._worker = self._start_worker()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._interval_s)
            self._wake.clear()
            self._drain()

    def _drain(self) -> None:
        with self._lock:
            queue, processors = self._queue, self._processors
            failures: dict[str, tuple[int, Exception]] = {}
            # Only the spans queued now: spans ending meanwhile wait for the next round.
            for _ in range(len(queue)):
                span = queue.popleft()
                for processor in processors:
                    try:
                        processor.on_end(span)
                    except Exception as exc:  # one processor's fault must not starve the others
                        name = type(processor).__name__
                        count, _ = failures.get(name, (0, exc))
                        failures[name] = count + 1, exc
        for name, (count, exc) in failures.items():
            _log.warning("%s failed on %d spans, last with %r", name, count, exc)
