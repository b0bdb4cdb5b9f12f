"""A dead or black-holing collector costs the service nothing but the telemetry."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from otelpipe import stack
from otelpipe.demo import GATEWAY_APP, start_service
from tests.support import free_port

pytestmark = pytest.mark.e2e
REQUESTS = 300


@pytest.mark.parametrize("collector", ["dead", "black_hole"])
def test_service_serves_every_request_and_logs_no_spam(
    stack_settings: stack.StackSettings, black_hole: str, collector: str
) -> None:
    endpoint = black_hole if collector == "black_hole" else "http://127.0.0.1:9"
    service = start_service(
        stack_settings,
        app=GATEWAY_APP,
        port=free_port(),
        service=f"resilience-{uuid.uuid4().hex[:8]}",
        extra_env={
            "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
            "OTEL_METRIC_EXPORT_INTERVAL": "500",
            "OTELPIPE_SHUTDOWN_TIMEOUT": "2",
        },
    )
    try:
        with httpx.Client(base_url=service.url, timeout=5) as client:
            statuses = [client.get(f"/items/{i % 20}").status_code for i in range(REQUESTS)]
    finally:
        exit_code = service.stop(timeout_s=10)
    assert statuses == [200] * REQUESTS
    # uvicorn re-raises the SIGTERM it handled, so a graceful exit is -15; -9 would mean
    # it hung and was killed.
    assert exit_code in (0, -15), "shutdown with an unreachable collector hung"
    records = [
        json.loads(line) for line in service.log.read_text().splitlines() if line.startswith("{")
    ]
    sdk = [r for r in records if str(r.get("logger", "")).startswith("opentelemetry")]
    distinct = {r["event"].split(" to ")[0][:40] for r in sdk}
    assert len(sdk) <= 3 * max(1, len(distinct)), f"{len(sdk)} SDK log lines: spam"
    assert sum(1 for r in records if r.get("event") == "item served") == REQUESTS
    assert any(r.get("event") == "Application shutdown complete." for r in records)
