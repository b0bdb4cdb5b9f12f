"""Per-request overhead: the same gateway bare, with stock OTel, and with our full setup.

Each variant runs in its own uvicorn process (one worker) against the real
collector; wrk loads it from another process. Variants alternate within every
round (their order changing, :mod:`bench.rounds`), so slow phases of this noisy
machine hit all of them alike; the median round counts and the spread is
reported. At saturation
a single-worker service spends ``1/throughput`` per request, so the cost a
variant adds is ``1e6/rps - 1e6/rps_bare`` µs. Where it goes is read from
``/proc``: each round, the CPU time of the thread serving the requests and of
all the others (export, the processors' workers, the thread pool), per request,
and that of the collector and Jaeger, which share the machine's cores with the
service and wrk: what a variant's telemetry costs the backends, and so takes
from the service on this machine (a round also carries what the backends had
still to do of the round before, which the changing order spreads over all
variants).
The :data:`ABLATIONS` (our gateway with one part left out) run in the same
rounds on the trivial route: what that part costs of ours' overhead. One more,
:func:`to_sink`, exports everything to an endpoint that only receives
(:mod:`bench.sink`): what the backends' work on ours' telemetry costs it on
this machine, and so what its own export path costs.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from apps.gateway.instrumentation import MODES
from bench.load import LoadResult, Route, run_wrk
from bench.proc import cpu_seconds, preemptions, thread_cpu_seconds
from bench.rounds import round_order
from otelpipe.demo import GATEWAY_APP, ServiceProcess, start_service
from otelpipe.stack import StackSettings
from otelpipe.stack.ephemeral import free_ports
from otelpipe.stack.progress import Progress

__all__ = [
    "ABLATIONS",
    "ROUTES",
    "Ablation",
    "gateways",
    "measure",
    "start_gateways",
    "to_sink",
]

BASELINE = "bare"
ROUTES = {
    "trivial": Route("/health"),
    "realistic": Route("/items/{random id}", Path(__file__).with_name("random_items.lua")),
}


@dataclass(frozen=True)
class Ablation:
    """A variant of ``ours``, measured on the trivial route only."""

    #: What its gateway's environment sets.
    env: Mapping[str, str]
    #: What it leaves out of ours, in the report's words.
    leaves_out: str


#: Without span export: every span still made, graded and dropped at the end.
ABLATIONS: Mapping[str, Ablation] = {
    "ours_no_span_export": Ablation({"OTEL_TRACES_EXPORTER": "none"}, "its span export"),
}
_ABLATION_ROUTE = "trivial"


def to_sink(url: str) -> dict[str, Ablation]:
    """Ours exporting spans, metrics and logs to the OTLP sink at ``url`` (:mod:`bench.sink`)."""
    return {
        "ours_to_sink": Ablation(
            {"OTEL_EXPORTER_OTLP_ENDPOINT": url}, "the backends' work on its telemetry"
        )
    }


def _start_gateway(
    settings: StackSettings,
    run_id: str,
    mode: str,
    name: str,
    extra_env: Mapping[str, str],
    port: int,
) -> ServiceProcess:
    """The demo gateway in bench ``mode`` as service ``bench-<name>`` on ``port``."""
    return start_service(
        settings,
        app=GATEWAY_APP,
        service=f"bench-{name}",
        port=port,
        extra_env={
            "OTELPIPE_BENCH_MODE": mode,
            # /health is the trivial route: traced like any other here.
            "OTEL_PYTHON_FASTAPI_EXCLUDED_URLS": "/metrics",
            "OTELPIPE_SLOW_QUERY_LOG": str(settings.logs_dir / f"bench-{name}-slow.jsonl"),
            "OTEL_RESOURCE_ATTRIBUTES": f"otelpipe.run_id={run_id}",
            **extra_env,
        },
    )


@contextmanager
def start_gateways(
    settings: StackSettings, run_id: str, variants: Mapping[str, tuple[str, Mapping[str, str]]]
) -> Iterator[dict[str, ServiceProcess]]:
    """The gateway of each variant (its name: its mode and environment), started at once
    (each spends seconds importing) and stopped at once on exit, in the variants' order.

    Raises:
        StackError: a gateway did not start; those that did are stopped.
    """
    names = list(variants)
    ports = dict(zip(names, free_ports(len(names)), strict=True))

    def start(name: str) -> ServiceProcess:
        mode, env = variants[name]
        return _start_gateway(settings, run_id, mode, name.replace("_", "-"), env, ports[name])

    with ThreadPoolExecutor(len(names)) as pool:
        starting = {name: pool.submit(start, name) for name in names}
        wait(starting.values())
        services = {n: s.result() for n, s in starting.items() if s.exception() is None}
        errors = [s.exception() for s in starting.values() if s.exception() is not None]
        try:
            if errors:
                raise errors[0]  # type: ignore[misc]
            yield services
        finally:
            list(pool.map(ServiceProcess.stop, services.values()))


def gateways(
    settings: StackSettings,
    run_id: str,
    modes: Sequence[str] = MODES,
    ablations: Mapping[str, Ablation] | None = None,
) -> AbstractContextManager[dict[str, ServiceProcess]]:
    """The demo gateway once per mode (default: ``bare``, ``stock``, ``ours``) and
    once per ablation (``ours`` with its environment), stopped on exit."""
    variants: dict[str, tuple[str, Mapping[str, str]]] = {mode: (mode, {}) for mode in modes}
    variants.update({name: ("ours", a.env) for name, a in (ablations or {}).items()})
    return start_gateways(settings, run_id, variants)


@dataclass(frozen=True)
class _Round:
    """One load round on one variant, and the CPU its process spent serving it."""

    load: LoadResult
    #: CPU µs per request of the thread running the event loop (and the requests).
    request_thread_us: float
    #: CPU µs per request of every other thread: telemetry export, the processors'
    #: workers, and the thread pool running a route's blocking calls.
    other_threads_us: float
    #: CPU µs per request of the backends (collector and Jaeger) during the round.
    backends_us: float
    #: Times per 1,000 requests the kernel took the core from the request thread.
    request_thread_preempted: float


def _measured_on(variant: str, route: str) -> bool:
    """The gateway modes run on every route, an ablation on the trivial one."""
    return variant in MODES or route == _ABLATION_ROUTE


def _loaded_round(
    service: ServiceProcess,
    route: Route,
    seconds: float,
    connections: int,
    backends: Sequence[int],
) -> _Round:
    """Load ``service`` once, reading its threads' and the ``backends``' (pids) CPU
    time before and after.

    Throughput says what a variant costs in all; the split says where: on the
    thread that serves requests, on the threads working beside it (which
    compete with it for the interpreter lock, so they cost throughput too), or
    in the backends (which compete with it for the cores: how often they, or
    anything else, took the core from the request thread is counted too).
    """
    pid = service.process.pid
    before, backends_before = thread_cpu_seconds(pid), sum(map(cpu_seconds, backends))
    preempted_before = preemptions(pid)
    load = run_wrk(service.url, route, seconds, connections)
    spent = {tid: cpu - before.get(tid, 0.0) for tid, cpu in thread_cpu_seconds(pid).items()}
    backends_spent = sum(map(cpu_seconds, backends)) - backends_before
    preempted = preemptions(pid) - preempted_before
    per_request = 1e6 / max(load.requests, 1)
    request_thread = spent.pop(pid, 0.0)
    return _Round(
        load,
        round(request_thread * per_request, 1),
        round(sum(spent.values()) * per_request, 1),
        round(backends_spent * per_request, 1),
        round(preempted * 1000 / max(load.requests, 1), 1),
    )


def _figures(rounds: list[_Round]) -> dict[str, Any]:
    results = [r.load for r in rounds]
    rates = [r.requests_per_s for r in results]
    return {
        "requests_per_s": round(statistics.median(rates), 1),
        "spread_requests_per_s": [round(min(rates), 1), round(max(rates), 1)],
        "rounds_requests_per_s": [round(r, 1) for r in rates],
        "p50_ms": statistics.median(r.p50_ms for r in results),
        "p99_ms": statistics.median(r.p99_ms for r in results),
        "errors": sum(r.errors for r in results),
        "cpu_us_per_request": {
            "request_thread": statistics.median(r.request_thread_us for r in rounds),
            "other_threads": statistics.median(r.other_threads_us for r in rounds),
            "backends": statistics.median(r.backends_us for r in rounds),
        },
        "request_thread_preempted_per_1000_requests": statistics.median(
            r.request_thread_preempted for r in rounds
        ),
    }


def _against_baseline(mode: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    rps, bare = mode["requests_per_s"], baseline["requests_per_s"]
    return {
        **mode,
        "baseline_requests_per_s": bare,
        "ratio_to_bare": round(rps / bare, 3),
        "us_added_per_request": round(1e6 / rps - 1e6 / bare, 1),
    }


def _route_report(samples: Mapping[str, list[_Round]]) -> dict[str, Any]:
    figures = {mode: _figures(results) for mode, results in samples.items()}
    report = {mode: _against_baseline(f, figures[BASELINE]) for mode, f in figures.items()}
    stock, ours = report["stock"]["us_added_per_request"], report["ours"]["us_added_per_request"]
    report["ours"]["stock_us_added_per_request"] = stock
    report["ours"]["times_cheaper_than_stock"] = round(stock / ours, 2) if ours > 0 else None
    return report


def measure(
    services: Mapping[str, ServiceProcess],
    *,
    ablations: Mapping[str, Ablation],
    backends: Sequence[int],
    rounds: int,
    seconds: float,
    connections: int,
    progress: Progress,
) -> dict[str, Any]:
    """Throughput of every mode on every route in :data:`ROUTES` (of an ablation, on
    the trivial route), alternating rounds; ``ablations``: those the services include;
    ``backends``: the pids of the collector and Jaeger (and the sink), whose CPU time
    is read with each round."""
    samples: dict[str, dict[str, list[_Round]]] = {
        route: {mode: [] for mode in services if _measured_on(mode, route)} for route in ROUTES
    }
    for mode, service in services.items():  # warm-up: imports, connections, caches
        for name, route in ROUTES.items():
            if _measured_on(mode, name):
                run_wrk(service.url, route, 1, connections)
    modes = list(services)
    width = max(map(len, modes))
    for round_no in range(rounds):
        for name, route in ROUTES.items():
            for mode in (m for m in round_order(modes, round_no) if _measured_on(m, name)):
                measured = _loaded_round(services[mode], route, seconds, connections, backends)
                samples[name][mode].append(measured)
                progress(
                    f"per-request round {round_no + 1}/{rounds} {name:<9} {mode:<{width}} "
                    f"{measured.load.requests_per_s:8.1f} req/s"
                )
    reports = {name: _route_report(by_mode) for name, by_mode in samples.items()}
    ours = reports["trivial"]["ours"]
    for variant, ablation in reports[_ABLATION_ROUTE].items():
        if variant in MODES:
            continue
        # What the part left out costs: ours' µs added, less the ablation's.
        ablation["leaves_out"] = ablations[variant].leaves_out
        ablation["ours_us_added_per_request"] = ours["us_added_per_request"]
        ablation["us_saved_per_request"] = round(
            ours["us_added_per_request"] - ablation["us_added_per_request"], 1
        )
    return {
        "baseline": BASELINE,
        "load": {
            "tool": "wrk (1 thread, separate process)",
            "connections": connections,
            "seconds_per_round": seconds,
            "rounds": rounds,
            "server": "uvicorn, 1 worker",
            "sampling": "100%",
        },
        "routes": {
            name: {"path": ROUTES[name].path, "modes": report} for name, report in reports.items()
        },
        "goals": {
            "ours_keeps_80pct_of_bare_on_trivial": ours["ratio_to_bare"] >= 0.8,
            "ours_2x_cheaper_than_stock_on_trivial": (ours["times_cheaper_than_stock"] or 0) >= 2,
        },
    }
