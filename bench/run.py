"""``otelpipe bench``: every measurement in one run on one machine, then the report.

A throw-away stack (own state directory, free ports) serves the run and is
stopped afterwards. Order: per-request rounds (the three gateways up); then,
with no gateway running, pipeline throughput; the memory soak on fresh
gateways (warmed up under load first); and the in-process per-span and
processor-memory measurements last.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import memory, per_request, per_span, pipeline, report
from otelpipe.stack.ephemeral import ephemeral_stack
from otelpipe.stack.progress import Progress

__all__ = ["PROFILES", "Profile", "run"]

#: Collector settings for the run: spans reach Jaeger within seconds.
_STACK_ENV = {
    "OTELPIPE_SPANMETRICS_FLUSH_INTERVAL": "5s",
    "OTELPIPE_TAIL_SAMPLING_DECISION_WAIT": "1s",
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
    memory_routes: int = 10_000


PROFILES = {
    # About 2.5 minutes on a 2-core machine.
    "quick": Profile("quick", 3, 4, 16, 15, 5, 5, 10_000, (1000, 2000, 4000), 4, 100_000),
    "full": Profile(
        "full", 7, 10, 16, 600, 60, 7, 50_000, (1000, 2000, 3000, 4000, 6000, 8000), 15, 1_000_000
    ),
    # The test suite's: every code path, seconds instead of minutes.
    "tiny": Profile("tiny", 1, 1, 4, 2, 2, 1, 500, (200,), 1, 2_000, 100),
}


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
        with per_request.gateways(settings, run_id) as gateways:
            out["per_request"] = per_request.measure(
                gateways,
                rounds=profile.rounds,
                seconds=profile.seconds_per_round,
                connections=profile.connections,
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
