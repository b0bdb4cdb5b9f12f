"""Slow-query log: one sanitised JSON line per database span over a threshold.

:class:`SlowQueryProcessor` costs one integer comparison per span in
``on_end`` when the span is fast, and a deque append when it is a slow
database span. A writer thread renders the JSON line (statement stripped of
literals and secrets), appends it to a rotating file (10 MB × 5 by default),
counts it in ``otelpipe.db.slow_queries{severity}``, keeps summary
statistics and calls the critical-query callbacks. Attribute names of both
the old and the new database semantic conventions are understood.

A line::

    {"timestamp": "2026-11-22T21:43:20.662Z", "service": "orders", "db_system": "postgresql",
     "collection": "orders", "operation": "SELECT", "duration_seconds": 1.234,
     "threshold_type": "slow", "threshold_seconds": 1.0,
     "statement": "SELECT * FROM orders WHERE email = ?", "result_count": 100,
     "trace_id": "4bf9…", "span_id": "00f0…"}
"""

from __future__ import annotations

import datetime as dt
import heapq
import json
import logging
import logging.handlers
import threading
from collections import Counter, deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from opentelemetry.context import Context
from opentelemetry.metrics import Meter
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from processors.scrub import sanitize_sql, scrub_text

__all__ = ["SlowQueryConfigError", "SlowQueryProcessor", "slow_query_record"]

_log = logging.getLogger(__name__)

#: The range thresholds may be set in (seconds).
THRESHOLD_RANGE = (0.001, 3600.0)
#: Distinct (collection, operation) pairs counted separately; the rest share one.
_PAIR_LIMIT = 1000
_WORST = 10

_SYSTEM = ("db.system.name", "db.system")
_STATEMENT = ("db.query.text", "db.statement")
_OPERATION = ("db.operation.name", "db.operation")
_COLLECTION = ("db.collection.name", "db.sql.table", "db.mongodb.collection", "db.cassandra.table")
_ROWS = ("db.response.returned_rows", "otelpipe.db.result_count")


class SlowQueryConfigError(ValueError):
    """A threshold or option of the slow-query log is invalid."""


def _first(attributes: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    return next((attributes[k] for k in keys if k in attributes), None)


def slow_query_record(
    span: ReadableSpan, *, threshold_type: str, threshold_s: float
) -> dict[str, Any]:
    """The sanitised log record of a slow database span."""
    attributes = span.attributes or {}
    statement = _first(attributes, _STATEMENT)
    statement = sanitize_sql(scrub_text(str(statement))) if statement is not None else None
    operation = _first(attributes, _OPERATION) or (
        statement.split(None, 1)[0].upper() if statement else span.name
    )
    end_ns = span.end_time or 0
    return {
        "timestamp": dt.datetime.fromtimestamp(end_ns / 1e9, dt.UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z"),
        "service": span.resource.attributes.get("service.name"),
        "db_system": _first(attributes, _SYSTEM),
        "collection": _first(attributes, _COLLECTION),
        "operation": operation,
        "duration_seconds": round((end_ns - (span.start_time or 0)) / 1e9, 6),
        "threshold_type": threshold_type,
        "threshold_seconds": threshold_s,
        "statement": statement,
        "result_count": _first(attributes, _ROWS),
        "trace_id": format(span.context.trace_id, "032x"),
        "span_id": format(span.context.span_id, "016x"),
    }


def _is_database(attributes: Mapping[str, Any]) -> bool:
    return (
        "db.system" in attributes
        or "db.system.name" in attributes
        or attributes.get("otelpipe.category") == "database"
    )


class SlowQueryProcessor(SpanProcessor):
    """Logs database spans slower than ``slow_s`` (``critical`` from ``critical_s``).

    Args:
        log_file: the JSON-lines file; rotated at ``max_bytes`` keeping ``backups`` old files.
        slow_s, critical_s: thresholds in seconds, ``0.001 <= slow_s < critical_s <= 3600``.
        meter: where ``otelpipe.db.slow_queries`` is counted (optional).
        queue_size: slow spans waiting for the writer; beyond it the oldest are dropped
            and counted in :attr:`dropped`.

    Raises:
        SlowQueryConfigError: a threshold is out of range or ``critical_s <= slow_s``.
    """

    def __init__(
        self,
        log_file: str | Path,
        *,
        slow_s: float = 1.0,
        critical_s: float = 5.0,
        max_bytes: int = 10 * 1024 * 1024,
        backups: int = 5,
        meter: Meter | None = None,
        queue_size: int = 10_000,
    ) -> None:
        low, high = THRESHOLD_RANGE
        for name, value in (("slow_s", slow_s), ("critical_s", critical_s)):
            if not low <= value <= high:
                raise SlowQueryConfigError(f"{name}={value!r}: expected seconds in [{low}, {high}]")
        if critical_s <= slow_s:
            raise SlowQueryConfigError(
                f"critical_s={critical_s!r}: must be above slow_s={slow_s!r}"
            )
        self.slow_s, self.critical_s = slow_s, critical_s
        self._slow_ns, self._critical_ns = int(slow_s * 1e9), int(critical_s * 1e9)
        self.log_file = Path(log_file)
        self._writer = logging.handlers.RotatingFileHandler(
            self.log_file, maxBytes=max_bytes, backupCount=backups, delay=True, encoding="utf-8"
        )
        self._counter = (
            None
            if meter is None
            else meter.create_counter(
                "otelpipe.db.slow_queries",
                unit="{query}",
                description="Database operations over the slow-query threshold, by severity.",
            )
        )
        self._queue: deque[ReadableSpan] = deque(maxlen=queue_size)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[dict[str, Any]], None]] = []
        self._by_severity: Counter[str] = Counter()
        self._by_pair: Counter[tuple[Any, Any]] = Counter()
        self._worst: list[tuple[float, int, dict[str, Any]]] = []
        self._written = 0
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="otelpipe-slow-queries", daemon=True)
        self._thread.start()

    # -- SpanProcessor ---------------------------------------------------------
    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        # The one comparison every fast span costs; the properties' checks are not needed here.
        if (span._end_time or 0) - (span._start_time or 0) < self._slow_ns:
            return
        if not _is_database(span.attributes or {}):
            return
        if len(self._queue) == self._queue.maxlen:
            self.dropped += 1
        self._queue.append(span)
        self._wake.set()

    def shutdown(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5)
        self.flush()
        self._writer.close()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        self.flush()
        return True

    # -- writer ----------------------------------------------------------------
    def on_critical(self, callback: Callable[[dict[str, Any]], None]) -> None:
        """Call ``callback(record)`` (on the writer thread) for every critical query."""
        self._callbacks.append(callback)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # the log must not take the writer thread down with it
                _log.exception("slow-query writer failed")

    def flush(self) -> None:
        """Write every queued slow query now."""
        with self._lock:
            while self._queue:
                self._write(self._queue.popleft())

    def _write(self, span: ReadableSpan) -> None:
        critical = (span.end_time or 0) - (span.start_time or 0) >= self._critical_ns
        severity = "critical" if critical else "slow"
        record = slow_query_record(
            span, threshold_type=severity, threshold_s=self.critical_s if critical else self.slow_s
        )
        self._writer.emit(
            logging.makeLogRecord({"msg": json.dumps(record), "levelno": logging.INFO})
        )
        self._written += 1
        self._by_severity[severity] += 1
        pair = (record["collection"], record["operation"])
        if pair in self._by_pair or len(self._by_pair) < _PAIR_LIMIT:
            self._by_pair[pair] += 1
        else:
            self._by_pair[("(other)", "(other)")] += 1
        entry = (record["duration_seconds"], self._written, record)
        if len(self._worst) < _WORST:
            heapq.heappush(self._worst, entry)
        else:
            heapq.heappushpop(self._worst, entry)
        if self._counter is not None:
            self._counter.add(1, {"severity": severity, "db.system": str(record["db_system"])})
        if critical:
            for callback in self._callbacks:
                try:
                    callback(record)
                except Exception:
                    _log.exception("critical slow-query callback %r failed", callback)

    def summary(self, limit: int = _WORST) -> dict[str, Any]:
        """Counts by severity and by (collection, operation), and the slowest queries."""
        self.flush()
        with self._lock:
            pairs = [
                {"collection": c, "operation": o, "count": n}
                for (c, o), n in self._by_pair.most_common(limit)
            ]
            worst = [record for _, _, record in sorted(self._worst, reverse=True)[:limit]]
            return {
                "count": self._written,
                "by_severity": dict(self._by_severity),
                "by_collection_operation": pairs,
                "slowest": worst,
                "dropped": self.dropped,
                "log_file": str(self.log_file),
                "thresholds_seconds": {"slow": self.slow_s, "critical": self.critical_s},
            }
