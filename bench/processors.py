"""What each span processor costs per span, on top of the SDK's own span cost, and its memory.

    python -m bench.processors [--quick]

Writes ``bench/results/processors.json`` and ``.md``. Every figure is measured
in this run next to its baseline: the SDK creating and ending the same span
with no processor of ours. Variants run in alternating rounds and the median
round counts, because this 2-core machine is noisy.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.trace import SpanKind

from processors.grading import GradingProcessor, GradingState
from processors.slow_queries import SlowQueryProcessor
from processors.targets import load_targets

RESULTS = Path(__file__).with_name("results")
ATTRIBUTES = {
    "http.route": "/items/{item_id}",
    "http.request.method": "GET",
    "http.response.status_code": 200,
    "otelpipe.category": "http",
}


def _variants(log_dir: Path) -> dict[str, Callable[[], list[SpanProcessor]]]:
    return {
        "sdk": lambda: [],
        "sdk+slow_queries": lambda: [SlowQueryProcessor(log_dir / "slow.jsonl")],
        # The worker idle (drains hourly): what on_end alone costs the request thread.
        "sdk+grading (worker idle)": lambda: [GradingProcessor(interval_s=3600)],
        # The worker draining every second, as in a service: on this CPU-bound loop it
        # competes for the interpreter, so this also counts part of its work.
        "sdk+grading": lambda: [GradingProcessor()],
        "sdk+both": lambda: [SlowQueryProcessor(log_dir / "slow2.jsonl"), GradingProcessor()],
    }


def _round(processors: list[SpanProcessor], spans: int) -> float:
    """µs per span to start and end ``spans`` server spans through ``processors``."""
    provider = TracerProvider()
    for processor in processors:
        provider.add_span_processor(processor)
    tracer = provider.get_tracer("bench")
    gc.collect()
    started = time.perf_counter()
    for _ in range(spans):
        tracer.start_span("GET /items/{item_id}", kind=SpanKind.SERVER, attributes=ATTRIBUTES).end()
    elapsed = time.perf_counter() - started
    provider.shutdown()
    return elapsed / spans * 1e6


def per_span(spans: int, rounds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        variants = _variants(Path(tmp))
        samples: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(rounds):
            for name, make in variants.items():
                samples[name].append(_round(make(), spans))
    baseline = statistics.median(samples["sdk"])
    result: dict[str, Any] = {}
    for name, values in samples.items():
        median = statistics.median(values)
        result[name] = {
            "us_per_span": round(median, 3),
            "spread_us": round(max(values) - min(values), 3),
            "added_us": round(median - baseline, 3),
            "added_pct_of_sdk": round(100 * (median - baseline) / baseline, 1),
        }
    return {"baseline": "sdk", "spans_per_round": spans, "rounds": rounds, "variants": result}


def off_thread(spans: int) -> dict[str, Any]:
    """What the grading worker spends per span (not on the request thread)."""
    processor = GradingProcessor(interval_s=3600, queue_size=spans)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("bench")
    for _ in range(spans):
        tracer.start_span("GET /items/{item_id}", kind=SpanKind.SERVER, attributes=ATTRIBUTES).end()
    started = time.perf_counter()
    processor.drain()
    elapsed = time.perf_counter() - started
    provider.shutdown()
    return {"grading_worker_us_per_span": round(elapsed / spans * 1e6, 3)}


def memory(spans: int, routes: int) -> dict[str, Any]:
    """Memory the grading state holds after ``spans`` spans over ``routes`` distinct routes."""
    state = GradingState(load_targets())
    end_ns = time.time_ns()
    attributes = [{**ATTRIBUTES, "http.route": f"/r/{i}"} for i in range(routes)]
    tracemalloc.start()
    empty, _ = tracemalloc.get_traced_memory()
    for i in range(spans):
        duration_ns = (1 + i % 97) * 1_000_000
        state.record_finished(
            (attributes[i % routes], True, False, end_ns - duration_ns, end_ns, i)
        )
        if i % 100_000 == 0:
            state.fold()  # as the worker does every second
    state.fold()
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "spans": spans,
        "distinct_routes": routes,
        "baseline": "empty state",
        "added_mb": round((held - empty) / 1e6, 2),
        "peak_mb": round((peak - empty) / 1e6, 2),
        "routes_tracked": len(state.routes(end_ns / 1e9, limit=100_000)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer spans and rounds (~30 s)")
    args = parser.parse_args()
    spans, rounds, memory_spans = (20_000, 3, 100_000) if args.quick else (50_000, 7, 1_000_000)
    print(f"per-span cost: {rounds} rounds x {spans} spans per variant", flush=True)
    report = {
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
        },
        "per_span": per_span(spans, rounds),
        "off_thread": off_thread(spans),
    }
    print(f"memory: {memory_spans} spans over 10,000 routes", flush=True)
    report["memory"] = memory(memory_spans, 10_000)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "processors.json").write_text(json.dumps(report, indent=2) + "\n")
    variants = report["per_span"]["variants"]
    lines = [
        "# Processor cost per span (median of alternating rounds)",
        "",
        "| variant | µs/span | added µs | added % of SDK | spread µs |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {name} | {v['us_per_span']} | {v['added_us']} | {v['added_pct_of_sdk']} | "
        f"{v['spread_us']} |"
        for name, v in variants.items()
    ]
    m = report["memory"]
    lines += [
        "",
        f"Grading worker, off the request thread: "
        f"{report['off_thread']['grading_worker_us_per_span']} µs/span.",
        "",
        f"Memory after {m['spans']:,} spans over {m['distinct_routes']:,} routes: "
        f"{m['added_mb']} MB held by the grading state (peak {m['peak_mb']} MB; "
        f"{m['routes_tracked']} route tables, the rest in /{{other}}).",
        "",
        f"Machine: {report['machine']}",
    ]
    (RESULTS / "processors.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
