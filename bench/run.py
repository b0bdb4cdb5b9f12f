"""``otelpipe bench``: every measurement in one run on one machine, then the report.

A throw-away stack (own state directory, free ports) serves the run and is
stopped afterwards. Order: per-request rounds (the gateways of every variant
up, and the OTLP sink one of them exports to), then the degraded-collector
rounds (four fresh gateways of ours: two exporting to the collector, two
nowhere); then, with no gateway running, pipeline throughput; the memory soak
on fresh gateways (warmed up under load first); and the in-process per-span
and processor-memory measurements last.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import degraded, memory, per_request, per_span, pipeline, report
from bench.sink import otlp_sink
from otelpipe.stack import StackSettings, status
from otelpipe.stack.ephemeral import ephemeral_stack
from otelpipe.stack.progress import Progress

__all__ = ["PROFILES", "Profile", "run"]

#: Collector settings for the run: spans reach Jaeger within seconds.
_STACK_ENV = {
    "OTELPIPE_SPANMETRICS_FLUSH_INTERVAL": "5s",
}


@dataclass(frozen=True)
class Profile:
    """How long and how often each measurement runs."""

    name: str
    rounds: int
    seconds_per_round: float
    connections: int
    soak_seconds: float
    soak_samples: int
    span_rounds: int
    spans_per_round: int
    pipeline_rates: tuple[int, ...]
    pipeline_seconds: float
    memory_spans: int
    degraded_rate: float
    degraded_rounds: int
    degraded_seconds: float
    memory_routes: int = 10_000


PROFILES = {
    # Under 3 minutes on a 2-core machine: the goal rate alone in the pipeline step.
    "quick": Profile(
        "quick", rounds=3, seconds_per_round=2, connections=16,
        soak_seconds=10, soak_samples=5, span_rounds=3, spans_per_round=10_000,
        pipeline_rates=(2000,), pipeline_seconds=4, memory_spans=100_000,
        degraded_rate=100, degraded_rounds=2, degraded_seconds=2,
    ),
    "full": Profile(
        "full", rounds=7, seconds_per_round=10, connections=16,
        soak_seconds=600, soak_samples=60, span_rounds=7, spans_per_round=50_000,
        pipeline_rates=(1000, 2000, 3000, 4000, 6000, 8000), pipeline_seconds=15,
        memory_spans=1_000_000, degraded_rate=100, degraded_rounds=5, degraded_seconds=20,
    ),
    # The test suite's: every code path, seconds instead of minutes.
    "tiny": Profile(
        "tiny", rounds=1, seconds_per_round=1, connections=4,
        soak_seconds=2, soak_samples=2, span_rounds=1, spans_per_round=500,
        pipeline_rates=(200,), pipeline_seconds=1, memory_spans=2_000, memory_routes=100,
        degraded_rate=20, degraded_rounds=1, degraded_seconds=1,
    ),
}  # fmt: skip


def run(profile: Profile, progress: Progress, results: Path = report.RESULTS) -> dict[str, Any]:
    """Run every measurement of ``profile``, write the report to ``results``, return it."""
    started = time.monotonic()
    out: dict[str, Any] = {
        "profile": profile.name,
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": report.machine(),
        "settings": asdict(profile),
    }
    with (
        tempfile.TemporaryDirectory(prefix="otelpipe-bench-") as home,
        ephemeral_stack(Path(home), progress, _STACK_ENV) as settings,
    ):
        run_id = uuid.uuid4().hex[:12]
        with otlp_sink(settings) as sink:
            ablations = {**per_request.ABLATIONS, **per_request.to_sink(sink.url)}
            with per_request.gateways(settings, run_id, ablations=ablations) as gateways:
                out["per_request"] = per_request.measure(
                    gateways,
                    ablations=ablations,
                    backends=[*_backend_pids(settings), sink.pid],
                    rounds=profile.rounds,
                    seconds=profile.seconds_per_round,
                    connections=profile.connections,
                    progress=progress,
                )
        with degraded.gateways(settings, run_id) as gateways:
            out["degraded_collector"] = degraded.measure(
                gateways,
                rate=profile.degraded_rate,
                rounds=profile.degraded_rounds,
                seconds=profile.degraded_seconds,
                progress=progress,
            )
        # Before the soak, with no gateway running: the pipeline steps count what
        # Jaeger stores, and a soak's backlog still draining (or an idle gateway's
        # background job) would count too.
        out["pipeline"] = pipeline.measure(
            settings,
            rates=list(profile.pipeline_rates),
            seconds=profile.pipeline_seconds,
            progress=progress,
        )
        with per_request.gateways(settings, run_id, ("ours", "bare")) as gateways:
            soak = memory.soak(
                gateways["ours"],
                gateways["bare"],
                per_request.ROUTES["realistic"],
                seconds=profile.soak_seconds,
                samples=profile.soak_samples,
                connections=profile.connections,
                progress=progress,
            )
    progress(f"per-span cost: {profile.span_rounds} rounds x {profile.spans_per_round} spans")
    out["per_span"] = per_span.measure(profile.spans_per_round, profile.span_rounds)
    progress(f"processor memory: {profile.memory_spans} spans over {profile.memory_routes} routes")
    out["memory"] = {
        "soak": soak,
        "processors": memory.processors_memory(profile.memory_spans, profile.memory_routes),
    }
    out["seconds"] = round(time.monotonic() - started, 1)
    path = report.write(out, results)
    progress(f"wrote {path} and {path.with_suffix('.md')}")
    return out


#: The backends whose CPU the per-request rounds read beside the service's.
_BACKENDS = ("collector", "jaeger")


def _backend_pids(settings: StackSettings) -> list[int]:
    pids = {s.name: s.pid for s in status(settings)}
    missing = [name for name in _BACKENDS if pids.get(name) is None]
    if missing:
        raise RuntimeError(f"not running: {', '.join(missing)}")
    return [pids[name] for name in _BACKENDS]  # type: ignore[misc]
