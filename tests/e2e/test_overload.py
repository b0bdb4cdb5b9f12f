"""Ten times the sustainable span rate for a minute: memory stays under its ceilings, and the
pipeline recovers without a restart.

The pipeline bench measured 4,000 spans/s service → collector → Jaeger with
zero drops on this machine (docs/benchmarks.md). The overload offers ten
times that to the collector for ``OTELPIPE_TEST_OVERLOAD_S`` seconds (default
60): a service making 2,000 spans/s through our export path
(:mod:`bench.emitter`, the one whose memory is measured), and
:mod:`bench.flood` sending the other 38,000 from pre-encoded OTLP requests (the
Python SDK cannot make that many in one process). Collector and service RSS
are sampled every 0.5 s. Afterwards, without restarting anything, a small
batch of spans must reach Jaeger.

It runs on a stack of its own: the overload leaves a backlog (and a Jaeger of two
gigabytes) that the session's stack should not inherit. Twice: with the
shipped memory_limiter (``limit_mib`` 512, soft limit 384) and with a limit
this machine's overload always crosses (64, spike 48: soft 16), so that refusing
data is exercised too. Since tail sampling is off by default the collector
streams what it takes in: at 192 (soft 64) it refused nothing; at 64 it refused
59 % and the small batch reached Jaeger 4.5 s after the overload.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from otelpipe import stack
from otelpipe.queries import jaeger_traces, prometheus_query
from otelpipe.stack.components import http_ok
from otelpipe.stack.ephemeral import ephemeral_stack
from tests.support import RssPeaks, eventually

pytestmark = pytest.mark.e2e

OVERLOAD_S = float(os.environ.get("OTELPIPE_TEST_OVERLOAD_S", "60"))
SUSTAINABLE = 4_000  # spans/s, the pipeline bench's highest clean step
SERVICE_RATE = 2_000  # spans/s through our export path: the bench's goal rate
FLOOD_RATE = 10 * SUSTAINABLE - SERVICE_RATE
#: The memory_limiter bounds the collector's Go heap at ``limit_mib``; the process holds
#: more than its heap: memory the Go runtime freed but has not returned yet, goroutine
#: stacks, the memory-mapped file_storage queue. Measured at most ~110 MiB beyond the
#: limit (256: 366 MiB peak); the ceiling allows 256 MiB.
COLLECTOR_OVERHEAD_MIB = 256
#: The emitting service: ~45 MB of Python and SDK, + a full span queue (8,192 spans)
#: and one batch being retried. Measured ~90 MB; a queue that did not bound would
#: pass this within seconds at 2,000 spans/s.
SERVICE_CEILING_MB = 200.0  # MiB, as bench.proc.rss_mb counts
#: The small batch after the overload: 20 traces of 20 spans.
RECOVERY_SPANS_PER_S, RECOVERY_S, RECOVERY_TRACES = 200, 2, 20
#: It waits behind the overload's backlog in the collector's queue to Jaeger.
RECOVERY_TIMEOUT_S = 180.0
_REPO = Path(__file__).resolve().parents[2]


def _progress(message: str) -> None:
    print(f"[overload stack] {message}", file=sys.__stderr__, flush=True)


def _tool(module: str, settings: stack.StackSettings, *options: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", module, f"--endpoint={settings.url('otlp_grpc')}", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # the SDK's "Queue full" warning, once per 20 s
        text=True,
        cwd=_REPO,
    )


def _result(process: subprocess.Popen[str], timeout_s: float) -> dict[str, Any]:
    out, _ = process.communicate(timeout=timeout_s)
    assert process.returncode == 0, f"{process.args} exited {process.returncode}"
    return json.loads(out)


def _collector_counts(settings: stack.StackSettings) -> dict[str, int]:
    """The collector's own span counters, as it last reported them (every 10 s)."""
    counts = {}
    for name in (
        "otelcol_receiver_accepted_spans_total",
        "otelcol_receiver_refused_spans_total",
        "otelcol_exporter_sent_spans_total",
        "otelcol_exporter_enqueue_failed_spans_total",
    ):
        series = prometheus_query(
            settings.url("prometheus"), f'sum(max_over_time({name}{{exporter!~"prom.*"}}[1h]))'
        )
        counts[name.removeprefix("otelcol_").removesuffix("_total")] = (
            int(float(series[0]["value"][1])) if series else 0
        )
    return counts


SHIPPED_LIMIT_MIB = 512
#: A limit (soft 16 MiB) the overload always crosses; an idle collector stays below it.
LOW_LIMIT_MIB, LOW_SPIKE_MIB = 64, 48


@pytest.mark.parametrize(
    ("limit_mib", "spike_mib"), [(SHIPPED_LIMIT_MIB, 128), (LOW_LIMIT_MIB, LOW_SPIKE_MIB)]
)
def test_ten_times_the_sustainable_rate_holds_memory_and_recovers(
    tmp_path: Path, limit_mib: int, spike_mib: int
) -> None:
    env = {
        "OTELPIPE_COLLECTOR_MEMORY_LIMIT_MIB": str(limit_mib),
        "OTELPIPE_COLLECTOR_MEMORY_SPIKE_MIB": str(spike_mib),
    }
    with ephemeral_stack(tmp_path / "home", _progress, env) as settings:
        pids = {s.name: s.pid for s in stack.status(settings)}
        run_id = uuid.uuid4().hex[:12]
        service = _tool(
            "bench.emitter", settings,
            f"--rate={SERVICE_RATE}", f"--seconds={OVERLOAD_S}", f"--run-id={run_id}",
        )  # fmt: skip
        flood = _tool(
            "bench.flood", settings,
            f"--rate={FLOOD_RATE}", f"--seconds={OVERLOAD_S}", f"--run-id={run_id}", "--threads=8",
        )  # fmt: skip
        watched = {"collector": pids["collector"], "service": service.pid, "jaeger": pids["jaeger"]}
        with RssPeaks(watched) as rss:
            flooded = _result(flood, OVERLOAD_S + 60)
            # The service then flushes its queue, retrying what the collector refuses.
            emitted = _result(service, OVERLOAD_S + 180)
        offered = (flooded["spans"] + emitted["spans"]) / OVERLOAD_S

        # Recovery: the same collector process, healthy, carries a small batch to Jaeger.
        assert {s.name: s.pid for s in stack.status(settings)}["collector"] == pids["collector"]
        assert http_ok(settings.url("collector_health"), timeout=5)
        recovery_id = uuid.uuid4().hex[:12]
        recovering = time.monotonic()
        small = _result(
            _tool(
                "bench.emitter", settings, f"--rate={RECOVERY_SPANS_PER_S}",
                f"--seconds={RECOVERY_S}", f"--run-id={recovery_id}",
            ),
            60,
        )  # fmt: skip
        eventually(
            lambda: len(
                jaeger_traces(
                    settings.url("jaeger_query"), "bench-pipeline",
                    tags={"otelpipe.run_id": recovery_id}, limit=100,
                )
            ) >= RECOVERY_TRACES,
            timeout_s=RECOVERY_TIMEOUT_S, what="the small batch after the overload in Jaeger",
        )  # fmt: skip
        recovered_s = time.monotonic() - recovering

        # The collector's counts reach Prometheus every 10 s: wait until they add up.
        expected_accepted = flooded["accepted"] + emitted["sdk_exported"] + small["sdk_exported"]
        collector = eventually(
            lambda: (c := _collector_counts(settings))["receiver_accepted_spans"]
            >= expected_accepted and c,
            timeout_s=60, what="the collector's counts of the overload",
        )  # fmt: skip

    print(
        f"\nlimit_mib {limit_mib}: offered {offered:,.0f} spans/s for {OVERLOAD_S:.0f} s "
        f"(target {10 * SUSTAINABLE:,}), flood {flooded}\n  service {emitted}\n"
        f"  collector {collector}\n  peak RSS MiB {rss.peak_mb} (collector ceiling "
        f"{limit_mib + COLLECTOR_OVERHEAD_MIB}, service ceiling {SERVICE_CEILING_MB:.0f})\n"
        f"  recovery: the small batch in Jaeger {recovered_s:.1f} s after it was sent"
    )
    assert offered >= 3 * SUSTAINABLE, f"only {offered:.0f} spans/s offered: not an overload"
    assert rss.peak_mb["collector"] <= limit_mib + COLLECTOR_OVERHEAD_MIB
    assert rss.peak_mb["service"] <= SERVICE_CEILING_MB
    # The service's counts add up: every span it made was exported, dropped (queue
    # full, the oldest first), given up, or still unsent when it ended. The SDK's batch
    # processor counts a drop when it finds its queue full and then appends, dropping
    # the oldest; its worker may take a batch in between, so a drop can be counted
    # with nothing dropped (seen once: 120,001 for 120,000). Never the other way.
    accounted = sum(emitted[k] for k in ("sdk_exported", "sdk_dropped", "sdk_export_failed"))
    assert emitted["sdk_exported"] <= emitted["spans"]
    over_counted = accounted + emitted["sdk_unsent"] - emitted["spans"]
    assert 0 <= over_counted <= emitted["spans"] // 10_000, over_counted
    # Both ends agree on what the collector took in...
    assert collector["receiver_accepted_spans"] == expected_accepted
    # ...and refused (the service's refused attempts were retried: counted there as
    # delivered or dropped, here as refused, so the collector's count may be higher).
    assert collector["receiver_refused_spans"] >= sum(flooded["refused"].values())
    if limit_mib < SHIPPED_LIMIT_MIB:
        assert collector["receiver_refused_spans"] > 0, "the memory_limiter never refused data"
