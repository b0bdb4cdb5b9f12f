"""What each of our span processors costs per span, on top of the SDK's own span cost.

The baseline is what every exporting service pays the SDK for a span: create
it, end it, queue it in a ``BatchSpanProcessor`` (its exporter a no-op, so no
encoding or I/O counts). The SDK with no processor at all is measured too.
Variants run in alternating rounds in the same process, because this 2-core
machine is noisy: a variant's cost is its median round, and what it adds is
the median of its per-round differences from the baseline. Time is the
calling thread's CPU time: that is what a request pays, and other processes'
bursts on the shared cores do not count; the grading worker's own cost is
reported separately.
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

from processors.grading import GradingProcessor
from processors.slow_queries import SlowQueryProcessor

__all__ = ["ATTRIBUTES", "measure", "off_thread"]

BASELINE = "sdk+export"
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


def _variants(log_dir: Path) -> dict[str, Callable[[], list[SpanProcessor]]]:
    return {
        "sdk, no processor": lambda: [],
        BASELINE: lambda: [_export()],
        "sdk+export+slow_queries": lambda: [_export(), SlowQueryProcessor(log_dir / "slow.jsonl")],
        "sdk+export+grading": lambda: [_export(), GradingProcessor()],
        "sdk+export+both": lambda: [
            _export(),
            SlowQueryProcessor(log_dir / "slow2.jsonl"),
            GradingProcessor(),
        ],
    }


def _start_end(provider: TracerProvider, spans: int) -> float:
    """CPU seconds of this thread to start and end ``spans`` server spans of ``provider``."""
    tracer = provider.get_tracer("bench")
    gc.collect()
    started = time.thread_time()
    for _ in range(spans):
        tracer.start_span("GET /items/{item_id}", kind=SpanKind.SERVER, attributes=ATTRIBUTES).end()
    return time.thread_time() - started


def _round(processors: list[SpanProcessor], spans: int) -> float:
    """µs per span through ``processors``."""
    provider = TracerProvider()
    for processor in processors:
        provider.add_span_processor(processor)
    elapsed = _start_end(provider, spans)
    provider.shutdown()
    return elapsed / spans * 1e6


def measure(spans: int, rounds: int) -> dict[str, Any]:
    """µs per span of every variant, with the SDK alone as the baseline."""
    with tempfile.TemporaryDirectory() as tmp:
        variants = _variants(Path(tmp))
        samples: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(rounds):
            for name, make in variants.items():
                samples[name].append(_round(make(), spans))
    baseline = statistics.median(samples[BASELINE])
    result: dict[str, Any] = {}
    for name, values in samples.items():
        # What a variant adds is the median of its per-round differences from
        # the baseline: the rounds alternate, so a slow spell of the machine
        # lifts both sides of a difference and cancels out.
        added = statistics.median(v - b for v, b in zip(values, samples[BASELINE], strict=True))
        result[name] = {
            "us_per_span": round(statistics.median(values), 3),
            "baseline_us_per_span": round(baseline, 3),
            "spread_us": round(max(values) - min(values), 3),
            "added_us": round(added, 3),
            "added_pct_of_sdk": round(100 * added / baseline, 1),
        }
    both = result["sdk+export+both"]
    return {
        "baseline": BASELINE,
        "spans_per_round": spans,
        "rounds": rounds,
        "variants": result,
        "off_thread": off_thread(spans),
        "goals": {
            f"all_processors_add_at_most_{GOAL_ADDED_US:g}us": both["added_us"] <= GOAL_ADDED_US,
            f"all_processors_add_at_most_{GOAL_ADDED_PCT:g}pct_of_sdk": both["added_pct_of_sdk"]
            <= GOAL_ADDED_PCT,
        },
    }


def off_thread(spans: int) -> dict[str, Any]:
    """What the grading worker spends per span (not on the request thread)."""
    processor = GradingProcessor(interval_s=3600, queue_size=spans)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    _start_end(provider, spans)
    started = time.thread_time()
    processor.drain()
    elapsed = time.thread_time() - started
    provider.shutdown()
    return {"grading_worker_us_per_span": round(elapsed / spans * 1e6, 3)}
