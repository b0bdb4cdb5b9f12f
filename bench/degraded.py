"""Degraded collector: the service's latency while its collector is dead or black-holing.

Four gateways with our full setup, started together and alike but for where
they export: the run's collector (healthy, the baseline), the run's collector
again (the control), a port nobody listens on (dead: the connection is
refused) and a black hole (the connection is accepted, never answered, so
every export waits for its timeout). Each gets the same fixed request rate on
the realistic route, in alternating rounds whose order changes, so the noise of
the machine falls on all of them alike; latency counts from each request's
scheduled start. The goal: p99 within 10 % of the healthy one's.

The control differs from the baseline in nothing but its process: its p99
ratio is what noise alone makes of the comparison in this run (an A/A test).
A degraded variant further from the baseline than 10 % while the control is
too says the run could not resolve the goal, not that the outage cost that much.
Likewise "every request answered" is asked of the degraded variants: a request
the baseline or the control left unanswered was lost to the machine (a stall
of seconds outlasts the load tool's timeout), and the report says so beside it.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from bench.load import OpenLoad, open_loop
from bench.per_request import start_gateways
from bench.rounds import round_order
from otelpipe.demo import ServiceProcess
from otelpipe.stack import StackSettings
from otelpipe.stack.ephemeral import BlackHole
from otelpipe.stack.progress import Progress

__all__ = ["BASELINE", "CONTROL", "gateways", "goals", "measure", "unanswered_by_healthy"]

BASELINE = "healthy"
#: A second healthy gateway, measured like the degraded ones: the run's noise floor.
CONTROL = "healthy_control"
#: The variants there to measure the run, not to be judged.
_HEALTHY = (BASELINE, CONTROL)
PATH = "/items/{id}"
#: A collector nobody runs: the port is refused at once.
DEAD_ENDPOINT = "http://127.0.0.1:9"
#: p99 degraded / healthy.
P99_GOAL = 1.10


@contextmanager
def gateways(settings: StackSettings, run_id: str) -> Iterator[dict[str, ServiceProcess]]:
    """Gateways with our setup: two exporting to the run's collector (:data:`BASELINE`
    and :data:`CONTROL`), one to a dead collector, one to a black hole."""
    with BlackHole() as hole:
        # Nothing can be flushed on exit from a broken collector: no need to wait the
        # default 5 s for it.
        broken = {"OTELPIPE_SHUTDOWN_TIMEOUT": "0.5"}
        environments: dict[str, Mapping[str, str]] = {
            BASELINE: {},
            CONTROL: {},
            "dead": {"OTEL_EXPORTER_OTLP_ENDPOINT": DEAD_ENDPOINT, **broken},
            "black_hole": {"OTEL_EXPORTER_OTLP_ENDPOINT": hole.url, **broken},
        }
        variants = {variant: ("ours", env) for variant, env in environments.items()}
        with start_gateways(settings, run_id, variants) as services:
            yield services


def _figures(loads: list[OpenLoad], baseline: dict[str, float] | None) -> dict[str, Any]:
    p50 = statistics.median(load.percentile_ms(50) for load in loads)
    p99 = statistics.median(load.percentile_ms(99) for load in loads)
    figures: dict[str, Any] = {
        "p50_ms": round(p50, 2),
        "p99_ms": round(p99, 2),
        "rounds_p99_ms": [round(load.percentile_ms(99), 2) for load in loads],
        "requests": sum(len(load.statuses) for load in loads),
        "answered": sum(load.answered for load in loads),
        "load_max_start_lag_ms": round(max(load.max_start_lag_s for load in loads) * 1000, 1),
    }
    if baseline is not None:
        figures |= {
            "baseline_p50_ms": baseline["p50_ms"],
            "baseline_p99_ms": baseline["p99_ms"],
            "p50_ratio": round(p50 / baseline["p50_ms"], 3),
            "p99_ratio": round(p99 / baseline["p99_ms"], 3),
        }
    return figures


def measure(
    services: Mapping[str, ServiceProcess],
    *,
    rate: float,
    rounds: int,
    seconds: float,
    progress: Progress,
) -> dict[str, Any]:
    """Latency of every variant in ``services`` (:data:`BASELINE` and :data:`CONTROL`
    among them) at ``rate`` req/s."""
    for service in services.values():  # warm-up: imports, connections, caches
        open_loop(service.url, rate, max(1.0, seconds / 2), PATH)
    variants = list(services)
    loads: dict[str, list[OpenLoad]] = {variant: [] for variant in variants}
    for round_no in range(rounds):
        for variant in round_order(variants, round_no):
            load = open_loop(services[variant].url, rate, seconds, PATH)
            loads[variant].append(load)
            progress(
                f"degraded collector round {round_no + 1}/{rounds} {variant:<10} "
                f"p99 {load.percentile_ms(99):6.1f} ms"
            )
    healthy = _figures(loads[BASELINE], None)
    report = {
        variant: healthy if variant == BASELINE else _figures(runs, healthy)
        for variant, runs in loads.items()
    }
    return {
        "baseline": BASELINE,
        "load": {
            "tool": "the project's load tool (open loop, latency from the scheduled start)",
            "path": PATH,
            "requests_per_s": rate,
            "seconds_per_round": seconds,
            "rounds": rounds,
        },
        "variants": report,
        "noise_floor_p99_ratio": report[CONTROL]["p99_ratio"],
        "goals": goals(report),
    }


def goals(variants: Mapping[str, Mapping[str, Any]]) -> dict[str, bool]:
    """The section's goals, asked of the degraded variants only (every variant but
    :data:`BASELINE` and :data:`CONTROL`, which are there to measure the run)."""
    degraded = [f for variant, f in variants.items() if variant not in _HEALTHY]
    return {
        "p99_within_10pct_of_healthy": all(f["p99_ratio"] <= P99_GOAL for f in degraded),
        "every_request_answered": all(f["answered"] == f["requests"] for f in degraded),
    }


def unanswered_by_healthy(variants: Mapping[str, Mapping[str, Any]]) -> dict[str, int]:
    """Requests :data:`BASELINE` and :data:`CONTROL` left unanswered, by variant (those
    that lost any): lost to the machine, since their collector was healthy."""
    return {
        variant: f["requests"] - f["answered"]
        for variant, f in variants.items()
        if variant in _HEALTHY and f["answered"] != f["requests"]
    }
