"""What our span processors cost per span, on top of the SDK's own span cost.

The baseline is what every exporting service pays the SDK for a span: create
it, end it, queue it in a ``BatchSpanProcessor`` (its exporter a no-op, so no
encoding or I/O counts). The SDK with no processor at all is measured too.
Our variants are the path ``setup_telemetry`` builds: the one processor the
request thread meets is :class:`~processors.off_thread.OffThreadSpanProcessor`,
and its worker runs the same batch processor, then the slow-query log,
grading, or both. Those spans are the SDK's, to measure the processors alone;
the last variant is the whole path of a span as ``setup_telemetry``'s tracer
provider makes it (:class:`~otel_setup.spans.LeanTracerProvider`).

Variants run in alternating rounds in the same process, because this 2-core
machine is noisy: a variant's cost is its median round, and what it adds is
the median of its per-round differences from the baseline. Time is the
calling thread's CPU time: that is what a request pays, and other processes'
bursts on the shared cores do not count. The worker runs during the rounds,
so what its work does to the calling thread (the GIL, the caches) is in the
figures. The process's CPU time per span, the workers' share included, is
reported beside it, and the worker's own per processor.
"""

from __future__ import annotations

import gc
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind

from otel_setup.spans import LeanTracerProvider
from processors.grading import GradingProcessor
from processors.off_thread import OffThreadSpanProcessor
from processors.slow_queries import SlowQueryProcessor

__all__ = ["ATTRIBUTES", "measure", "worker_cost"]

BASELINE = "sdk+export"
#: Spans made by otel_setup's tracer provider rather than the SDK's.
LEAN_SPAN = "lean_span+off_thread+export+both"
NAME = "GET /items/{item_id}"
#: The attributes of a typical server span, as otel_setup's server middleware
#: sets them (given at start, the route and status at the end).
ATTRIBUTES = {
    "http.request.method": "GET",
    "url.scheme": "http",
    "url.path": "/items/42",
    "request.id": "7156ab124a3f7c54d1ed38c5955753fe",
    "client.address": "127.0.0.1",
    "user_agent.original": "wrk",
    "http.route": "/items/{item_id}",
    "http.response.status_code": 200,
}
#: Per-span goals: what all our processors may add, absolute and relative to the SDK.
GOAL_ADDED_US, GOAL_ADDED_PCT = 2.0, 10.0


class _Discard(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def _export() -> SpanProcessor:
    # Exports when the benchmark is over: queueing, not encoding, is the per-span part.
    return BatchSpanProcessor(_Discard(), max_queue_size=1 << 20, schedule_delay_millis=3.6e6)


def _off_thread(*processors: SpanProcessor, **options: Any) -> OffThreadSpanProcessor:
    # A queue no round fills: dropping spans would make a variant look cheap.
    return OffThreadSpanProcessor(processors, max_queue_size=1 << 20, **options)


def _analyses(log_dir: Path) -> dict[str, Callable[[], list[SpanProcessor]]]:
    """Our processors, by name; each call makes new ones."""

    def slow_queries() -> list[SpanProcessor]:
        return [SlowQueryProcessor(log_dir / "slow.jsonl")]

    def grading() -> list[SpanProcessor]:
        return [GradingProcessor()]

    return {
        "slow_queries": slow_queries,
        "grading": grading,
        "both": lambda: [*slow_queries(), *grading()],
    }


def _variants(log_dir: Path) -> dict[str, Callable[[], list[SpanProcessor]]]:
    variants: dict[str, Callable[[], list[SpanProcessor]]] = {
        "sdk, no processor": lambda: [],
        BASELINE: lambda: [_export()],
        "off_thread+export": lambda: [_off_thread(_export())],
    }
    analyses = _analyses(log_dir)
    for name, make in analyses.items():
        variants[f"off_thread+export+{name}"] = lambda make=make: [_off_thread(_export(), *make())]
    variants[LEAN_SPAN] = lambda: [_off_thread(_export(), *analyses["both"]())]
    return variants


def _start_end(provider: TracerProvider, spans: int) -> float:
    """CPU seconds of this thread to start and end ``spans`` server spans of ``provider``."""
    tracer = provider.get_tracer("bench")
    started = time.thread_time()
    for _ in range(spans):
        tracer.start_span(NAME, kind=SpanKind.SERVER, attributes=ATTRIBUTES).end()
    return time.thread_time() - started


def _round(processors: list[SpanProcessor], spans: int, lean: bool = False) -> tuple[float, float]:
    """µs per span through ``processors``: of the calling thread, and of the whole process
    (the workers' share too: the round ends once shutdown has handed everything over)."""
    provider = LeanTracerProvider() if lean else TracerProvider()
    for processor in processors:
        provider.add_span_processor(processor)
    gc.collect()
    started = time.process_time()
    calling_thread = _start_end(provider, spans)
    provider.shutdown()
    process = time.process_time() - started
    return calling_thread / spans * 1e6, process / spans * 1e6


def _figures(samples: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    """Median, spread and what each variant adds to the baseline, per variant."""
    baseline = statistics.median(samples[BASELINE])
    figures = {}
    for name, values in samples.items():
        # What a variant adds is the median of its per-round differences from
        # the baseline: the rounds alternate, so a slow spell of the machine
        # lifts both sides of a difference and cancels out.
        added = statistics.median(v - b for v, b in zip(values, samples[BASELINE], strict=True))
        figures[name] = {
            "us_per_span": round(statistics.median(values), 3),
            "baseline_us_per_span": round(baseline, 3),
            "spread_us": round(max(values) - min(values), 3),
            "added_us": round(added, 3),
            "added_pct_of_sdk": round(100 * added / baseline, 1),
        }
    return figures


def measure(spans: int, rounds: int) -> dict[str, Any]:
    """µs per span of every variant, with the SDK and its export queue as the baseline."""
    with tempfile.TemporaryDirectory() as tmp:
        variants = _variants(Path(tmp))
        calling: dict[str, list[float]] = {name: [] for name in variants}
        process: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(rounds):
            for name, make in variants.items():
                thread_us, process_us = _round(make(), spans, lean=name == LEAN_SPAN)
                calling[name].append(thread_us)
                process[name].append(process_us)
    result = _figures(calling)
    for name, figures in _figures(process).items():
        result[name]["process"] = figures
    both = result["off_thread+export+both"]
    return {
        "baseline": BASELINE,
        "spans_per_round": spans,
        "rounds": rounds,
        "variants": result,
        "worker_us_per_span": worker_cost(spans),
        "goals": {
            f"all_processors_add_at_most_{GOAL_ADDED_US:g}us": both["added_us"] <= GOAL_ADDED_US,
            f"all_processors_add_at_most_{GOAL_ADDED_PCT:g}pct_of_sdk": both["added_pct_of_sdk"]
            <= GOAL_ADDED_PCT,
        },
    }


def worker_cost(spans: int) -> dict[str, float]:
    """CPU µs per span the off-thread worker spends on each of our processors alone
    (``hand-off``: with none), not on the request thread."""
    costs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, make in {"hand-off": list, **_analyses(Path(tmp))}.items():
            # The worker never wakes on its own: this thread drains the queue in force_flush.
            processor = _off_thread(*make(), batch_size=1 << 20, interval_s=3600)
            provider = TracerProvider()
            provider.add_span_processor(processor)
            _start_end(provider, spans)
            started = time.thread_time()
            processor.force_flush()
            costs[name] = round((time.thread_time() - started) / spans * 1e6, 3)
            provider.shutdown()
    return costs
