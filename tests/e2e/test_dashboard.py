"""Every query of the Grafana dashboard parses and returns data from the real Prometheus."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from otelpipe import stack
from otelpipe.demo import GATEWAY_APP, ServiceProcess, start_service
from otelpipe.queries import prometheus_query
from tests.support import eventually, free_port

pytestmark = pytest.mark.e2e
DASHBOARD = (Path(__file__).resolve().parents[2] / "collector-config" / "grafana" / "dashboards"
             / "otel-perf-pipeline.json")  # fmt: skip


def _queries() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [(panel["title"], target["expr"]) for panel in dashboard["panels"]
            for target in panel["targets"]]  # fmt: skip


@pytest.fixture(scope="module")
def loaded(stack_settings: stack.StackSettings, payments: ServiceProcess) -> Iterator[str]:
    """Services that have served every kind of request the dashboard shows; yields the
    ``$service`` value selecting both (Grafana writes a multi-value selection as a|b)."""
    service = start_service(
        stack_settings, app=GATEWAY_APP, port=free_port(),
        service=f"dash-e2e-{uuid.uuid4().hex[:8]}",
        extra_env={"PAYMENTS_URL": payments.url, "GATEWAY_JOB_INTERVAL": "0.5",
                   "OTELPIPE_SLOW_QUERY_THRESHOLD": "0.2",
                   "OTELPIPE_SLOW_QUERY_LOG": str(stack_settings.logs_dir / "dash-slow.jsonl")},
    )  # fmt: skip
    with httpx.Client(base_url=service.url, timeout=10) as client:
        client.get("/reports/slow", params={"delay_ms": 300}).raise_for_status()
        deadline = time.monotonic() + 12
        i = 0
        while time.monotonic() < deadline:
            i += 1
            # Ids no other test looks up: Redis is shared, and cached items skip the database.
            client.get(f"/items/{i % 30 + 601}")
            if i % 5 == 0:
                # Payments stocks items 1-1000; a fast machine loops more often than that.
                client.post(f"/checkout/{i % 1000 + 1}").raise_for_status()
            if i % 20 == 0:
                client.get("/error")
    yield f"{service.name}|{payments.name}"
    service.stop()


@pytest.mark.parametrize(("title", "expr"), _queries(), ids=[t for t, _ in _queries()])
def test_panel_query_returns_data(
    stack_settings: stack.StackSettings, loaded: str, title: str, expr: str
) -> None:
    query = (expr.replace("$service", loaded).replace("$__rate_interval", "1m")
             .replace("$__range", "10m"))  # fmt: skip
    eventually(lambda: prometheus_query(stack_settings.url("prometheus"), query),
               timeout_s=90, what=f"data for the panel {title!r}: {query}")  # fmt: skip
