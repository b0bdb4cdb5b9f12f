"""Backends go down under load and come back: nothing the service reported is lost.

Each test runs a gateway of its own under a steady load, stops one backend for
``OTELPIPE_TEST_OUTAGE_S`` seconds (default 20; the buffers are sized for 60,
see docs/reliability.md), starts it again, and then counts, by the test's own
service name: every request is a trace in Jaeger, a count in Prometheus and a
log record in log storage.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
import uuid

import httpx
import pytest

from otelpipe import stack
from otelpipe.demo import GATEWAY_APP, ServiceProcess, start_service
from otelpipe.queries import iter_log_records, jaeger_traces, prometheus_query
from otelpipe.stack.build import resolve_binaries
from otelpipe.stack.components import components
from otelpipe.stack.supervisor import start_component, stop_component
from tests.support import free_port

pytestmark = pytest.mark.e2e
OUTAGE_S = float(os.environ.get("OTELPIPE_TEST_OUTAGE_S", "20"))
RATE = 20.0  # requests/s: about 100 spans/s
#: Load after the backend is back: the SDK's retry backoff is at most 5 s, and the
#: service keeps running (stopping it right away would test shutdown, not recovery).
AFTER_S = 12.0


class SteadyLoad(threading.Thread):
    """``GET /items/{id}`` at :data:`RATE` until stopped; keeps every status and latency."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.statuses: list[int] = []
        self.latencies: list[float] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as client:
            i = 0
            while not self._stop_event.wait(1 / RATE):
                i += 1
                started = time.perf_counter()
                self.statuses.append(client.get(f"/items/{300 + i % 100}").status_code)
                self.latencies.append(time.perf_counter() - started)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(15)

    def p99_ms(self) -> float:
        return statistics.quantiles(self.latencies, n=100)[98] * 1000


def _outage(settings: stack.StackSettings, component: str) -> tuple[ServiceProcess, SteadyLoad]:
    gateway = start_service(
        settings, app=GATEWAY_APP, port=free_port(),
        service=f"outage-{component}-{uuid.uuid4().hex[:8]}",
    )  # fmt: skip
    (down,) = [c for c in components(settings, resolve_binaries(settings)) if c.name == component]
    load = SteadyLoad(gateway.url)
    load.start()
    try:
        time.sleep(3)
        stop_component(settings, down)
        time.sleep(OUTAGE_S)
        start_component(settings, down)
        time.sleep(AFTER_S)
    finally:
        load.stop()
        gateway.stop()  # graceful: flushes what the SDK still holds
    assert load.statuses and set(load.statuses) == {200}, "the service failed requests"
    return gateway, load


def _delivered(settings: stack.StackSettings, service: str) -> dict[str, int]:
    traces = jaeger_traces(
        settings.url("jaeger_query"), service, operation="GET /items/{item_id}", limit=100_000
    )
    counted = prometheus_query(
        settings.url("prometheus"),
        f'sum(max_over_time(http_server_request_duration_seconds_count{{service_name="{service}"}}[1h]))',
    )
    logs = sum(
        1
        for r in iter_log_records(settings.telemetry_logs_dir)
        if r["service.name"] == service and r.get("body", {}).get("stringValue") == "item served"
    )
    return {
        "traces in Jaeger": len(traces),
        "requests in Prometheus": int(float(counted[0]["value"][1])) if counted else 0,
        "log records": logs,
    }


def _wait_for_all(settings: stack.StackSettings, service: str, sent: int) -> dict[str, int]:
    """Poll until every signal has all ``sent`` requests (or 120 s passed); the last counts."""
    deadline = time.monotonic() + 120
    while True:
        counts = _delivered(settings, service)
        if all(n >= sent for n in counts.values()) or time.monotonic() > deadline:
            return counts
        time.sleep(2)


@pytest.mark.parametrize("component", ["collector", "jaeger", "prometheus"])
def test_an_outage_loses_no_trace_metric_or_log(
    stack_settings: stack.StackSettings, component: str
) -> None:
    gateway, load = _outage(stack_settings, component)
    sent = len(load.statuses)
    counts = _wait_for_all(stack_settings, gateway.name, sent)
    print(f"{component} down {OUTAGE_S:.0f}s: sent {sent}, {counts}, p99 {load.p99_ms():.1f} ms")
    assert counts == dict.fromkeys(counts, sent)
