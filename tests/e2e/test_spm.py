"""Jaeger's Monitor tab (SPM) reads the spanmetrics series back from Prometheus."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from otelpipe import stack
from otelpipe.demo import GATEWAY_APP, ServiceProcess, start_service
from otelpipe.queries import prometheus_query
from tests.support import eventually, free_port

pytestmark = pytest.mark.e2e


def _spm(settings: stack.StackSettings, kind: str, service: str) -> list[float]:
    """The non-NaN points of Jaeger's ``/api/metrics/<kind>`` for server spans of ``service``."""
    now_ms = int(time.time() * 1000)
    params: dict[str, Any] = {
        "service": service,
        "endTs": now_ms,
        "lookback": 300_000,
        "step": 5_000,
        "ratePer": 60_000,
        "spanKind": "server",
    }
    if kind == "latencies":
        params["quantile"] = 0.95
    body = (
        httpx.get(f"{settings.url('jaeger_query')}/api/metrics/{kind}", params=params, timeout=10)
        .raise_for_status()
        .json()
    )
    return [float(p["gaugeValue"]["doubleValue"]) for m in body.get("metrics", [])
            for p in m["metricPoints"] if p["gaugeValue"]["doubleValue"] != "NaN"]  # fmt: skip


@pytest.fixture(scope="module")
def gateway(stack_settings: stack.StackSettings) -> Iterator[ServiceProcess]:
    """A gateway of its own, so this test's traffic changes no other test's counts."""
    service = start_service(
        stack_settings, app=GATEWAY_APP, port=free_port(), service=f"spm-e2e-{uuid.uuid4().hex[:8]}"
    )
    yield service
    service.stop()


def test_latency_call_rate_and_error_rate_are_not_empty(
    stack_settings: stack.StackSettings, gateway: ServiceProcess
) -> None:
    # Traffic over several spanmetrics flushes (2 s in tests): a counter needs two
    # samples before Prometheus sees a rate.
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            client.get("/items/3")
            client.get("/error")
            time.sleep(0.05)
    for kind in ("latencies", "calls", "errors"):
        points = eventually(
            lambda kind=kind: [v for v in _spm(stack_settings, kind, gateway.name) if v > 0],
            what=f"non-zero SPM {kind} for {gateway.name} from Jaeger",
        )
        assert points


def test_slo_rules_record_error_ratio_and_budget_for_the_service(
    stack_settings: stack.StackSettings, gateway: ServiceProcess
) -> None:
    """Runs after the traffic above; the rules are evaluated by the real Prometheus."""
    url = stack_settings.url("prometheus")
    selector = f'service_name="{gateway.name}", otelpipe_slo_class="http_public"'
    for series in (
        f'slo:sli_error:ratio_rate5m{{{selector}, sli="availability"}}',
        f'slo:sli_error:ratio_rate5m{{{selector}, sli="latency"}}',
        f'slo:error_budget_remaining:ratio{{{selector}, sli="availability"}}',
    ):
        eventually(lambda series=series: prometheus_query(url, series), what=series)
    (availability,) = prometheus_query(
        url, f'slo:sli_error:ratio_rate5m{{{selector}, sli="availability"}}'
    )
    assert 0.3 < float(availability["value"][1]) < 0.7  # /items and /error, one each, in turn
