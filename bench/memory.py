"""Memory: an instrumented service's RSS over a soak at steady load, and the grading
state after many spans over many routes."""

from __future__ import annotations

import threading
import time
import tracemalloc
from typing import Any

from bench.load import Route, run_wrk
from bench.per_span import ATTRIBUTES
from bench.proc import rss_mb
from otelpipe.demo import ServiceProcess
from otelpipe.stack.progress import Progress
from processors.grading import GradingState
from processors.targets import load_targets

__all__ = ["processors_memory", "soak"]

#: "Flat": the RSS at the end of the soak within this fraction of its start.
FLAT_WITHIN = 0.10
#: Load before the baseline, as a fraction of the soak: a fresh gateway grows
#: while its caches, pools and export queues fill (103 → 117 MB in its first
#: 20 s), which is start-up, not a leak.
WARM_UP = 0.1


def soak(
    service: ServiceProcess,
    bare: ServiceProcess,
    route: Route,
    *,
    seconds: float,
    samples: int,
    connections: int,
    progress: Progress,
) -> dict[str, Any]:
    """RSS of ``service`` every ``seconds/samples`` while wrk loads ``route`` for ``seconds``.

    The baseline is the service's own RSS when the soak starts, after
    ``WARM_UP * seconds`` of the same load; the bare gateway's RSS is beside it.
    """
    pid = service.process.pid
    warm_up = WARM_UP * seconds
    progress(f"soak: warming up for {warm_up:.0f}s")
    run_wrk(service.url, route, warm_up, connections)
    load = threading.Thread(
        target=run_wrk, args=(service.url, route, seconds, connections), daemon=True
    )
    started = time.monotonic()
    baseline = rss_mb(pid)
    load.start()
    series = []
    for i in range(1, samples + 1):
        time.sleep(max(0.0, started + i * seconds / samples - time.monotonic()))
        series.append([round(time.monotonic() - started, 1), rss_mb(pid)])
        progress(f"soak {series[-1][0]:.0f}/{seconds:.0f}s: RSS {series[-1][1]} MB")
    load.join()
    end, peak = series[-1][1], max(mb for _, mb in series)
    growth = (end - baseline) / baseline
    return {
        "service": "ours",
        "route": route.path,
        "seconds": seconds,
        "connections": connections,
        "baseline": "RSS of the same service when the soak starts, after a warm-up under load",
        "warm_up_s": round(warm_up, 1),
        "baseline_rss_mb": baseline,
        "bare_gateway_rss_mb": rss_mb(bare.process.pid),
        "end_rss_mb": end,
        "peak_rss_mb": peak,
        "growth_pct": round(100 * growth, 1),
        "samples_s_mb": series,
        "goals": {f"flat_within_{FLAT_WITHIN:.0%}": abs(growth) <= FLAT_WITHIN},
    }


def processors_memory(spans: int, routes: int) -> dict[str, Any]:
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
        "baseline": "empty grading state",
        "baseline_mb": 0.0,
        "added_mb": round((held - empty) / 1e6, 2),
        "peak_mb": round((peak - empty) / 1e6, 2),
        "routes_tracked": len(state.routes(end_ns / 1e9, limit=100_000)),
    }
