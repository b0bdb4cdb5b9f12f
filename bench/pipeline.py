"""Pipeline throughput: spans/s that service → collector → Jaeger carries with zero drops.

Rates step up; at each step a fresh :mod:`bench.emitter` process makes spans
at that rate through our export path, tagged with a run id of its own. Drops
are counted at both ends: by the SDK's health metrics in the emitter (batch
queue full, export failed) and by Jaeger's own metrics — the spans its storage
exporter wrote during the step (nothing else sends spans in this phase). Jaeger
may count more than were sent: a batch whose export timed out after it had
landed is sent and written again. Those extra spans are reported apart and are
no loss; a step is clean when the SDK dropped nothing, no export failed and
Jaeger has at least as many spans as were sent.
Jaeger's metrics rather than its query API: returning 100,000 spans through
the API takes longer than the step itself. The collector's CPU and memory are
read from ``/proc`` during the step. The first step that drops anything ends
the climb.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
import uuid
from typing import Any

import httpx

from bench.proc import cpu_seconds, rss_mb
from otelpipe.stack import StackSettings, status
from otelpipe.stack.progress import Progress

__all__ = ["measure", "tally"]

GOAL_SPANS_PER_S = 2000
SPANS_PER_TRACE = 20


_STORED = re.compile(
    r'^otelcol_exporter_sent_spans_total\{[^}]*exporter="jaeger_storage_exporter"[^}]*\} (\S+)$',
    re.MULTILINE,
)


def _jaeger_stored(settings: StackSettings) -> int:
    """Spans Jaeger has written to its storage since it started."""
    response = httpx.get(f"{settings.url('jaeger_metrics')}/metrics", timeout=10)
    response.raise_for_status()
    return sum(int(float(value)) for value in _STORED.findall(response.text))


#: Readings of Jaeger's count, 3 s apart, that must agree before it is taken as
#: settled: longer than the collector holds spans (tail sampling's 5 s decision
#: wait, then its 1 s batch).
_SETTLED_READINGS = 4


def _settled_stored(settings: StackSettings, deadline_s: float, at_least: int = 0) -> int:
    """Jaeger's stored-span count once it reaches ``at_least`` and stops moving, or at
    the deadline: spans of earlier load (the soak's backlog in the collector) must
    not count towards the next step, nor a step's late spans be left out of it."""
    deadline, readings = time.monotonic() + deadline_s, []
    while True:
        readings = [*readings[-(_SETTLED_READINGS - 1) :], _jaeger_stored(settings)]
        settled = len(readings) == _SETTLED_READINGS and len(set(readings)) == 1
        if (settled and readings[-1] >= at_least) or time.monotonic() > deadline:
            return readings[-1]
        time.sleep(3)


def tally(sent: int, stored: int) -> dict[str, int]:
    """Jaeger's side of a step: spans missing there, and spans written more than once."""
    return {
        "jaeger_spans": stored,
        "jaeger_missing": max(0, sent - stored),
        "jaeger_extra": max(0, stored - sent),
    }


def _clean(step: dict[str, Any]) -> bool:
    return not (step["sdk_dropped"] or step["sdk_export_failed"] or step["jaeger_missing"])


def _step(settings: StackSettings, collector: int, rate: int, seconds: float) -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:12]
    peak_rss = [rss_mb(collector)]
    done = threading.Event()

    def watch_rss() -> None:
        while not done.wait(0.5):
            peak_rss.append(rss_mb(collector))

    watcher = threading.Thread(target=watch_rss, daemon=True)
    stored_before = _settled_stored(settings, deadline_s=120)
    cpu_before, wall_before = cpu_seconds(collector), time.monotonic()
    watcher.start()
    emitted = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.emitter",
            f"--endpoint={settings.url('otlp_grpc')}",
            f"--rate={rate}",
            f"--seconds={seconds}",
            f"--run-id={run_id}",
            f"--spans-per-trace={SPANS_PER_TRACE}",
        ],
        capture_output=True,
        text=True,
        timeout=seconds * 5 + 60,
    )
    if emitted.returncode:
        raise RuntimeError(f"bench.emitter exited {emitted.returncode}:\n{emitted.stderr[-2000:]}")
    cpu = (cpu_seconds(collector) - cpu_before) / (time.monotonic() - wall_before)
    done.set()
    watcher.join()
    result = json.loads(emitted.stdout)
    stored = _settled_stored(settings, deadline_s=90, at_least=stored_before + result["spans"])
    return {
        "target_spans_per_s": rate,
        "run_id": run_id,
        **result,
        **tally(result["spans"], stored - stored_before),
        "collector_cpu_pct": round(100 * cpu, 1),
        "collector_peak_rss_mb": max(peak_rss),
        "collector_idle_rss_mb": peak_rss[0],
    }


def measure(
    settings: StackSettings, *, rates: list[int], seconds: float, progress: Progress
) -> dict[str, Any]:
    """Step through ``rates`` (spans/s) until one drops spans; the last clean one is sustained."""
    collector = next(s.pid for s in status(settings) if s.name == "collector")
    if collector is None:
        raise RuntimeError("the collector is not running")
    steps = []
    for rate in rates:
        progress(f"pipeline: {rate} spans/s for {seconds:.0f}s")
        step = _step(settings, collector, rate, seconds)
        steps.append(step)
        progress(
            f"pipeline: {step['spans_per_s']} spans/s reached, {step['sdk_dropped']} dropped "
            f"in the SDK, {step['jaeger_missing']} missing in Jaeger ({step['jaeger_extra']} "
            f"written twice), collector "
            f"{step['collector_cpu_pct']}% CPU, {step['collector_peak_rss_mb']} MB"
        )
        if not _clean(step):
            break
    best = max(filter(_clean, steps), key=lambda s: s["spans_per_s"], default=None)
    sustained = best["spans_per_s"] if best else 0.0
    return {
        "baseline": f"goal {GOAL_SPANS_PER_S} spans/s with zero drops",
        "baseline_spans_per_s": GOAL_SPANS_PER_S,
        "sustained_spans_per_s": sustained,
        "collector_cpu_pct_at_sustained": best["collector_cpu_pct"] if best else None,
        "collector_rss_mb_at_sustained": best["collector_peak_rss_mb"] if best else None,
        "collector_idle_rss_mb": steps[0]["collector_idle_rss_mb"],
        "spans_per_trace": SPANS_PER_TRACE,
        "steps": steps,
        "goals": {f"sustains_{GOAL_SPANS_PER_S}_spans_per_s": sustained >= GOAL_SPANS_PER_S},
    }
