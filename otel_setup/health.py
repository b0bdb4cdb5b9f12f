"""What became of the telemetry: the SDK's health counters, also kept in the process.

The batch processors count what they drop (``otel.sdk.processor.*.processed``
with ``error.type="queue_full"``) and report their queue length; the
exporters count what they sent and what failed (``otel.sdk.exporter.*.exported``).
Those series reach Prometheus only through the collector, which is exactly
what is missing during an outage. So the processors and exporters get a
:class:`TallyingMeterProvider`: every count also lands in a :class:`Tally` in
the process (forwarded to the real meter provider unless health metrics are
switched off), and :func:`export_counts` reads it back — what
:meth:`otel_setup.Telemetry.shutdown` logs in one line, whatever the collector did.

Export outcomes are counted once per batch, by how it finally ended
(:class:`ExportOutcomes`, used by :class:`~otel_setup.retry.RetryingExporter`):
a batch retried through an outage and then delivered is one success, not one
failure per attempt.
"""

from __future__ import annotations

import itertools
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from opentelemetry.metrics import CallbackOptions, MeterProvider, NoOpMeterProvider, Observation
from opentelemetry.semconv._incubating.metrics import otel_metrics

__all__ = [
    "EXPORT_FAILED",
    "SHUTDOWN",
    "ExportCounts",
    "ExportOutcomes",
    "Tally",
    "TallyingMeterProvider",
    "export_counts",
]

Signal = Literal["traces", "logs"]
_ITEM: Mapping[Signal, str] = {"traces": "span", "logs": "log"}
#: ``error.type`` of a batch given up after its retry budget.
EXPORT_FAILED = "export_failed"
#: ``error.type`` of a batch given up because the exporter was shut down mid-retry.
SHUTDOWN = "shutdown"
_ERROR_TYPE = "error.type"


class Tally:
    """Totals of counters by (name, ``error.type``), and the callbacks of observed ones."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals: defaultdict[tuple[str, str | None], float] = defaultdict(float)
        self._observers: defaultdict[str, list[Callable[[CallbackOptions], Iterable[Observation]]]]
        self._observers = defaultdict(list)

    def add(self, name: str, amount: float, attributes: Mapping[str, Any] | None) -> None:
        error_type = (attributes or {}).get(_ERROR_TYPE)
        with self._lock:
            self._totals[name, None if error_type is None else str(error_type)] += amount

    def watch(self, name: str, callbacks: Iterable[Callable[..., Iterable[Observation]]]) -> None:
        with self._lock:
            self._observers[name].extend(callbacks)

    def total(self, name: str, error_type: str | None = None) -> int:
        """The sum of ``name`` with that ``error.type`` (``None``: without one)."""
        with self._lock:
            return int(self._totals.get((name, error_type), 0))

    def errors(self, name: str) -> int:
        """The sum of ``name`` over every ``error.type``."""
        with self._lock:
            return int(sum(v for (n, e), v in self._totals.items() if n == name and e is not None))

    def observe(self, name: str) -> int:
        """What the callbacks of the observed instrument ``name`` report now, summed."""
        with self._lock:
            callbacks = list(self._observers.get(name, ()))
        return int(sum(o.value for callback in callbacks for o in callback(CallbackOptions())))


class _Counted:
    """A counter or up-down counter whose every add also lands in the tally."""

    __slots__ = ("_name", "_real", "_tally")

    def __init__(self, real: Any, name: str, tally: Tally) -> None:
        self._real, self._name, self._tally = real, name, tally

    def add(self, amount: float, attributes: Any = None, context: Any = None) -> None:
        self._real.add(amount, attributes, context)
        self._tally.add(self._name, amount, attributes)


class _TallyingMeter:
    """Counters, up-down counters and observed up-down counters are tallied; the rest
    (histograms, gauges) is the real meter's."""

    def __init__(self, real: Any, tally: Tally) -> None:
        self._real, self._tally = real, tally

    def create_counter(self, name: str, *args: Any, **kwargs: Any) -> _Counted:
        return _Counted(self._real.create_counter(name, *args, **kwargs), name, self._tally)

    def create_up_down_counter(self, name: str, *args: Any, **kwargs: Any) -> _Counted:
        real = self._real.create_up_down_counter(name, *args, **kwargs)
        return _Counted(real, name, self._tally)

    def create_observable_up_down_counter(
        self, name: str, callbacks: Any = None, *args: Any, **kwargs: Any
    ) -> Any:
        self._tally.watch(name, callbacks or ())
        return self._real.create_observable_up_down_counter(name, callbacks, *args, **kwargs)

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._real, attribute)


class TallyingMeterProvider(MeterProvider):
    """Hands out meters whose counts also land in ``tally``; ``forward_to`` gets them as
    usual (``None``: kept in the process only)."""

    def __init__(self, tally: Tally, forward_to: MeterProvider | None) -> None:
        self.tally = tally
        self._forward_to = forward_to or NoOpMeterProvider()

    def get_meter(
        self,
        name: str,
        version: str | None = None,
        schema_url: str | None = None,
        attributes: Any = None,
    ) -> Any:
        real = self._forward_to.get_meter(name, version, schema_url, attributes)
        return _TallyingMeter(real, self.tally)


_component_ids: defaultdict[str, itertools.count[int]] = defaultdict(itertools.count)


class ExportOutcomes:
    """``otel.sdk.exporter.{span,log}.exported`` and ``.inflight``, one count per batch.

    Attributes as the SDK's own exporter metrics: ``otel.component.type`` (e.g.
    ``otlp_grpc_span_exporter``), ``otel.component.name``, and on failure
    ``error.type`` (:data:`EXPORT_FAILED` or :data:`SHUTDOWN`).
    """

    def __init__(self, meter_provider: MeterProvider, signal: Signal, component_type: str) -> None:
        item = _ITEM[signal]
        meter = meter_provider.get_meter("opentelemetry-sdk")
        exported = getattr(otel_metrics, f"create_otel_sdk_exporter_{item}_exported")
        inflight = getattr(otel_metrics, f"create_otel_sdk_exporter_{item}_inflight")
        self._exported = exported(meter)
        self._inflight = inflight(meter)
        self._attributes = {
            "otel.component.type": component_type,
            "otel.component.name": f"{component_type}/{next(_component_ids[component_type])}",
        }

    def started(self, items: int) -> None:
        self._inflight.add(items, self._attributes)

    def finished(self, items: int, error_type: str | None) -> None:
        self._inflight.add(-items, self._attributes)
        attributes = self._attributes
        if error_type is not None:
            attributes = {**attributes, _ERROR_TYPE: error_type}
        self._exported.add(items, attributes)


@dataclass(frozen=True)
class ExportCounts:
    """What became of one signal's items (spans or log records) since the start."""

    #: Delivered to the collector.
    exported: int
    #: Given up after the retry budget, or at shutdown while being retried.
    failed: int
    #: Dropped because the queue was full (the oldest go first).
    dropped_queue_full: int
    #: Still waiting: in the queue or in an export being retried. Lost if the process ends now.
    unsent: int

    @property
    def lost(self) -> int:
        """Failed, dropped, or unsent: everything that did not (yet) reach the collector."""
        return self.failed + self.dropped_queue_full + self.unsent


def export_counts(tally: Tally, signal: Signal) -> ExportCounts:
    """The counts of ``signal`` (``traces`` or ``logs``) in ``tally``."""
    item = _ITEM[signal]
    exported = f"otel.sdk.exporter.{item}.exported"
    return ExportCounts(
        exported=tally.total(exported),
        failed=tally.errors(exported),
        dropped_queue_full=tally.total(f"otel.sdk.processor.{item}.processed", "queue_full"),
        unsent=tally.observe(f"otel.sdk.processor.{item}.queue.size")
        + tally.total(f"otel.sdk.exporter.{item}.inflight"),
    )
