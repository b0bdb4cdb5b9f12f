"""Ride out a collector outage: offer a failed export batch again until the collector is back.

The OTLP exporters give a batch up once their own timeout (10 s) has passed,
so every batch that tries to leave during a longer outage would be lost.
:class:`RetryingExporter` offers the same batch again, with capped
exponential backoff, for up to ``budget_s``. Meanwhile the batch processor's
bounded queue keeps taking new telemetry without blocking the request; when
an outage outlasts the queue, the SDK drops the *oldest* items first and
counts them (``otel_sdk_processor_span_processed_total{error_type="queue_full"}``).

Shutdown interrupts the wait at once, and every export after it fails without
trying: a dead collector never holds up exit, and a batch worker still draining
its queue then drops the rest at once instead of retrying each batch.

With :class:`~otel_setup.health.ExportOutcomes` each batch is counted once, by
how it finally ended: retried through an outage and then delivered, it is one
success — not one failure per attempt, as the exporter's own counters would
have it (those are switched off behind this class).
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Generic, Protocol, TypeVar

from otel_setup.health import EXPORT_FAILED, SHUTDOWN, ExportOutcomes

__all__ = ["RetryingExporter"]

Result = TypeVar("Result")


class _Exporter(Protocol[Result]):
    def export(self, batch: Sequence[Any]) -> Result: ...

    def shutdown(self) -> Any: ...

    def force_flush(self, timeout_millis: int = 30000) -> bool: ...


def _succeeded(result: object) -> bool:
    # Span, log-record and metric exporters each return an enum of their own
    # (SpanExportResult, LogRecordExportResult, ...); all name success SUCCESS.
    return getattr(result, "name", None) == "SUCCESS"


class RetryingExporter(Generic[Result]):
    """Wraps a span or log exporter.

    ``failure`` is what :meth:`export` returns after :meth:`shutdown`, without
    trying: the wrapped exporter's own ``FAILURE`` (``SpanExportResult.FAILURE``, ...).
    """

    def __init__(
        self,
        exporter: _Exporter[Result],
        *,
        failure: Result,
        budget_s: float,
        first_backoff_s: float = 0.5,
        max_backoff_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        outcomes: ExportOutcomes | None = None,
    ) -> None:
        self._exporter = exporter
        self._failure = failure
        self._outcomes = outcomes
        self._budget_s = budget_s
        self._first_backoff_s = first_backoff_s
        self._max_backoff_s = max_backoff_s
        self._clock = clock
        self._stopping = threading.Event()

    def export(self, batch: Sequence[Any]) -> Result:
        if self._outcomes is None:
            return self._retry(batch)[0]
        self._outcomes.started(len(batch))
        error_type: str | None = EXPORT_FAILED
        try:
            result, error_type = self._retry(batch)
        finally:  # an exception counts as a failure too
            self._outcomes.finished(len(batch), error_type)
        return result

    def _retry(self, batch: Sequence[Any]) -> tuple[Result, str | None]:
        """The last result, and the ``error.type`` it counts under (None: success)."""
        deadline = self._clock() + self._budget_s
        backoff = self._first_backoff_s
        while True:
            if self._stopping.is_set():
                return self._failure, SHUTDOWN
            result = self._exporter.export(batch)
            if _succeeded(result):
                return result, None
            if self._clock() + backoff > deadline:
                return result, EXPORT_FAILED
            if self._stopping.wait(backoff):  # shutdown: give up now, never hang the exit
                return result, SHUTDOWN
            backoff = min(backoff * 2, self._max_backoff_s)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        """Stop retrying and shut the wrapped exporter down (once: later calls do nothing)."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        if "timeout_millis" in inspect.signature(self._exporter.shutdown).parameters:
            self._exporter.shutdown(timeout_millis=timeout_millis, **kwargs)  # type: ignore[call-arg]
        else:
            self._exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._exporter.force_flush(timeout_millis)
