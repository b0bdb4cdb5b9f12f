"""A dead or black-holing collector costs the service nothing but the telemetry.

Three gateways run side by side, alike but for where they export: the stack's
collector (healthy), a port nobody listens on (dead: connection refused), and
a black hole (accepts the connection, never answers). Each gets the same
open-loop load in alternating rounds. Asserted: every request answered, peak
RSS of each service process under a ceiling, the SDK's log lines at most once
per interval, graceful exit, and the health counts each service logs at
shutdown — checked against what the backends hold (healthy) or against what
the service made (dead, black hole).

Latency is printed, not asserted: on a shared 2-core machine one p99 moves by
more than the 10 % goal between identical runs. ``otelpipe bench`` measures
it (``degraded_collector``: p99 of each variant against the healthy one, in
the same run), and ``tests/otel_setup/test_stuck_collector.py`` proves without
a clock that no request waits for an export.
"""

from __future__ import annotations

import math
import statistics
import time
import uuid
from collections import Counter
from typing import Any

import pytest

from bench.load import OpenLoad, open_loop
from otelpipe import stack
from otelpipe.demo import GATEWAY_APP, ServiceProcess, start_service
from otelpipe.queries import iter_log_records, jaeger_traces, prometheus_query
from tests.support import RssPeaks, eventually, free_port, service_log

pytestmark = pytest.mark.e2e

#: Requests/s: about 350 spans/s and 100 log records/s per gateway, comfortably
#: inside what one uvicorn worker serves on this machine (~280 req/s closed loop).
RATE = 100.0
ROUNDS, ROUND_S, WARM_UP_S = 3, 10.0, 3.0
#: Resident memory ceiling of a gateway: ~110 MB running, + the full span queue
#: (8,192 spans, ~35 MB measured) and log queue (8,192 records), with room for
#: the allocator. A leak or an unbounded buffer crosses it within the run.
RSS_CEILING_MB = 300.0
#: The queue (8,192) and one batch being retried (512): all a dead collector can hold.
SPANS_HELD = 8192 + 512
#: Each GET /items/{id} makes at least the server span, authentication and L1 cache.
SPANS_PER_REQUEST_MIN = 3
#: The SDK's own warnings pass once per kind per interval (otel_setup.logging.OncePerInterval).
SDK_LOG_INTERVAL_S = 60.0


def _start(settings: stack.StackSettings, variant: str, endpoint: str | None) -> ServiceProcess:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint} if endpoint else {}
    try:
        return start_service(
            settings, app=GATEWAY_APP, port=free_port(), extra_env=env,
            service=f"resilience-{variant}-{uuid.uuid4().hex[:8]}",
        )  # fmt: skip
    except stack.StackError as exc:
        pytest.fail(f"the {variant} gateway could not start: {exc}", pytrace=False)


def _made_log_records(records: list[dict[str, Any]]) -> int:
    """Log records the service handed to the SDK: every line of its own (not the SDK's)
    up to the start of the shutdown, when the export step is closed."""
    made = 0
    for record in records:
        if not str(record.get("logger", "")).startswith("opentelemetry"):
            made += 1
        if record.get("event") == "Waiting for application shutdown.":
            return made
    raise AssertionError("the service log has no shutdown")


def _sdk_lines_per_kind(records: list[dict[str, Any]]) -> Counter[str]:
    """The SDK's own log lines by kind (logger and the first words of the message)."""
    return Counter(
        f"{r['logger']}: {' '.join(str(r['event']).split()[:3])}"
        for r in records
        if str(r.get("logger", "")).startswith("opentelemetry")
    )


def _counts(records: list[dict[str, Any]]) -> dict[str, Any]:
    (line,) = [r for r in records if r.get("event") in ("telemetry lost", "telemetry delivered")]
    return line


def _check_healthy_delivery(
    settings: stack.StackSettings, service: ServiceProcess, counts: dict[str, Any], made: int
) -> None:
    """What the service says it exported is what Jaeger and log storage hold."""
    assert counts["event"] == "telemetry delivered", counts
    assert counts["log_records_exported"] == made

    def stored() -> tuple[int, int] | None:
        traces = jaeger_traces(settings.url("jaeger_query"), service.name, limit=100_000)
        spans = sum(len(t["spans"]) for t in traces)
        logs = sum(1 for r in iter_log_records(settings.telemetry_logs_dir)
                   if r["service.name"] == service.name)  # fmt: skip
        complete = spans >= counts["spans_exported"] and logs >= made
        return (spans, logs) if complete else None

    spans, logs = eventually(stored, timeout_s=90, what="every exported span and log record")
    assert (spans, logs) == (counts["spans_exported"], made)
    dropped = prometheus_query(
        settings.url("prometheus"),
        f'otel_sdk_processor_span_processed_total{{service_name="{service.name}",'
        'error_type="queue_full"}',
    )
    assert not dropped or all(float(s["value"][1]) == 0 for s in dropped)


def _check_degraded_counts(counts: dict[str, Any], made_logs: int, requests: int) -> None:
    """Nothing exported; everything made is counted as dropped, failed or unsent."""
    assert counts["event"] == "telemetry lost", counts
    assert counts["spans_exported"] == counts["log_records_exported"] == 0
    lost_logs = sum(counts[f"log_records_{k}"] for k in ("failed", "dropped_queue_full", "unsent"))
    assert lost_logs == made_logs, "log records unaccounted for"
    lost_spans = sum(counts[f"spans_{k}"] for k in ("failed", "dropped_queue_full", "unsent"))
    assert lost_spans >= SPANS_PER_REQUEST_MIN * requests
    # All a dead collector can hold is the queue and one batch; the rest was dropped.
    assert counts["spans_unsent"] <= SPANS_HELD
    assert counts["spans_dropped_queue_full"] >= lost_spans - SPANS_HELD


def test_a_dead_or_black_holing_collector_costs_the_service_nothing(
    stack_settings: stack.StackSettings, black_hole: str
) -> None:
    endpoints = {"healthy": None, "dead": "http://127.0.0.1:9", "black_hole": black_hole}
    services: dict[str, ServiceProcess] = {}
    try:
        for variant, endpoint in endpoints.items():
            services[variant] = _start(stack_settings, variant, endpoint)
        started = time.monotonic()
        loads: dict[str, list[OpenLoad]] = {variant: [] for variant in services}
        warm_ups: dict[str, OpenLoad] = {}
        with RssPeaks({v: s.process.pid for v, s in services.items()}) as rss:
            for variant, service in services.items():  # caches, connections: not measured
                warm_ups[variant] = open_loop(service.url, RATE, WARM_UP_S)
            order = list(services)
            for round_ in range(ROUNDS):
                for variant in order[round_ % 3 :] + order[: round_ % 3]:
                    loads[variant].append(open_loop(services[variant].url, RATE, ROUND_S))
        exit_s, exit_codes = {}, {}
        for variant, service in services.items():
            stopping = time.monotonic()
            exit_codes[variant] = service.stop(timeout_s=20)
            exit_s[variant] = time.monotonic() - stopping
        lifetime_s = time.monotonic() - started
    finally:
        for service in services.values():
            service.stop(timeout_s=5)

    p50 = {v: statistics.median(r.percentile_ms(50) for r in runs) for v, runs in loads.items()}
    p99 = {v: statistics.median(r.percentile_ms(99) for r in runs) for v, runs in loads.items()}
    records = {v: service_log(s.log) for v, s in services.items()}
    counts = {v: _counts(r) for v, r in records.items()}
    requests = {v: sum(len(r.statuses) for r in [warm_ups[v], *runs]) for v, runs in loads.items()}
    for variant in services:
        print(
            f"\n{variant}: p50 {p50[variant]:.1f} ms, p99 {p99[variant]:.1f} ms "
            f"(rounds {[round(r.percentile_ms(99), 1) for r in loads[variant]]}), "
            f"p99 ratio {p99[variant] / p99['healthy']:.2f}, peak RSS {rss.peak_mb[variant]} MB, "
            f"exit {exit_s[variant]:.1f} s, SDK lines {dict(_sdk_lines_per_kind(records[variant]))}"
            f"\n  {counts[variant]}"
        )

    for variant, runs in loads.items():
        answered = sum(r.answered for r in [warm_ups[variant], *runs])
        assert answered == requests[variant], f"{variant} failed requests"
        assert rss.peak_mb[variant] <= RSS_CEILING_MB, f"{variant} RSS {rss.peak_mb[variant]} MB"
        # uvicorn re-raises the SIGTERM it handled, so a graceful exit is -15; -9 would
        # mean it hung and was killed.
        assert exit_codes[variant] in (0, -15), f"{variant} did not shut down gracefully"
        allowed = 1 + math.ceil(lifetime_s / SDK_LOG_INTERVAL_S)
        spam = {k: n for k, n in _sdk_lines_per_kind(records[variant]).items() if n > allowed}
        assert not spam, f"{variant}: SDK lines more often than once per interval: {spam}"
    for variant in ("dead", "black_hole"):
        _check_degraded_counts(counts[variant], _made_log_records(records[variant]),
                               requests[variant])  # fmt: skip
    _check_healthy_delivery(
        stack_settings, services["healthy"], counts["healthy"],
        _made_log_records(records["healthy"]),
    )  # fmt: skip
